/* Small text helpers for connectors. Allocation aborts when memory runs out, as the core's
 * does: a connector that cannot allocate a few bytes cannot report anything useful. */
#ifndef SERVO_UTIL_PUBLIC_H
#define SERVO_UTIL_PUBLIC_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* printf into a new string (caller frees); aborts when out of memory. */
SERVO_EXPORT char *servo_strdup_printf(const char *fmt, ...) SERVO_PRINTF(1, 2);
SERVO_EXPORT char *servo_strdup_vprintf(const char *fmt, va_list ap) SERVO_PRINTF(1, 0);

/* `word` as one /bin/sh word (caller frees): unchanged when it is not empty and made only of
 * [A-Za-z0-9_@%+=:,./-], otherwise single-quoted, each ' written as '\''. */
SERVO_EXPORT char *servo_shell_quote(const char *word);

/* Formats a problem into why[size] (cut to fit) and returns -1, for parsers that explain
 * their failures in a caller's buffer. */
SERVO_EXPORT int servo_why(char *why, size_t size, const char *fmt, ...) SERVO_PRINTF(3, 4);

/* The number member `key` of a JSON object into *out: 0, or -1 with why[size] saying that
 * "KEY" is missing, not a number or negative. */
SERVO_EXPORT int servo_json_nonnegative(const json_t *object, const char *key, double *out,
                                        char *why, size_t size);

/* text[length] as one JSON object, duplicate keys rejected: a new reference, or NULL with
 * why[size] saying "invalid JSON: ..." or "not a JSON object". */
SERVO_EXPORT json_t *servo_json_load_object(const char *text, size_t length, char *why,
                                            size_t size);

#ifdef __cplusplus
}
#endif

#endif
