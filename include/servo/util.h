/* Small text and JSON helpers for connectors. Allocation aborts when memory runs out, as the
 * core's does (servo/alloc.h): a connector that cannot allocate a few bytes cannot report
 * anything useful. Failures are reported in a struct servo_error (servo/error.h). */
#ifndef SERVO_UTIL_PUBLIC_H
#define SERVO_UTIL_PUBLIC_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "servo/abi.h"
#include "servo/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* printf into a new string (caller frees); aborts when out of memory. */
SERVO_EXPORT char *servo_strdup_printf(const char *fmt, ...) SERVO_PRINTF(1, 2);
SERVO_EXPORT char *servo_strdup_vprintf(const char *fmt, va_list ap) SERVO_PRINTF(1, 0);

/* `word` as one /bin/sh word (caller frees): unchanged when it is not empty and made only of
 * [A-Za-z0-9_@%+=:,./-], otherwise single-quoted, each ' written as '\''. */
SERVO_EXPORT char *servo_shell_quote(const char *word);

/* The number member `key` of a JSON object into *out: 0, or -1 with `error` (reason
 * "invalid-json") saying that "KEY" is missing, not a number or negative. */
SERVO_EXPORT int servo_json_nonnegative(const json_t *object, const char *key, double *out,
                                        struct servo_error *error);

/* text[length] as one JSON object, duplicate keys rejected: a new reference, or NULL with
 * `error` (reason "invalid-json") saying "invalid JSON: ..." or "not a JSON object". */
SERVO_EXPORT json_t *servo_json_load_object(const char *text, size_t length,
                                            struct servo_error *error);

/* json_dumps(value, flags) with every real in the shortest form that reads back the same
 * ("33.33", as Python and so ServoX write it); the caller frees. NULL when json_dumps fails. */
SERVO_EXPORT char *servo_json_text(const json_t *value, size_t flags);

#ifdef __cplusplus
}
#endif

#endif
