/* Small helpers used everywhere in the core. Allocation never returns NULL: on out-of-memory
 * it prints "servo: error: out of memory allocating N bytes" and ends the process with exit
 * status 1 (an agent that cannot allocate a few bytes cannot report anything useful). Code
 * that must fail softly instead calls malloc & co. and returns its error; the test_alloc_*
 * tests force both (docs/testing.md). */
#ifndef SERVO_UTIL_H
#define SERVO_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "servo/abi.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Test-only: defined by the test_alloc_* tests (tests/unit/alloc_fail.c) and nowhere else, so
 * NULL in the servo (a weak reference). Told that an allocation of the helpers below failed,
 * it returns true to have it tried again instead of the out-of-memory exit: the torture thus
 * learns which failures end the process without forking a process for each of them. Read
 * only after malloc has returned NULL: no cost otherwise. */
bool servo_alloc_failed_hook(size_t size) __attribute__((weak));

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
/* Grows *items (of `size` bytes each) so that index `count` is valid; doubles capacity. */
void xgrow(void **items, size_t size, size_t count, size_t *capacity);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) SERVO_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) SERVO_PRINTF(1, 0);

/* A growable NUL-terminated string. */
struct strbuf {
    char *data;
    size_t len;
    size_t cap;
};

void strbuf_init(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const char *s, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) SERVO_PRINTF(2, 3);
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap) SERVO_PRINTF(2, 0);
void strbuf_truncate(struct strbuf *sb, size_t len);
/* `text` (NULL: nothing) with & < > " ' escaped for HTML text and attribute values. */
void strbuf_put_html(struct strbuf *sb, const char *text);
/* Hands the string to the caller (never NULL) and resets the buffer. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);

bool str_eq(const char *a, const char *b);
/* `text` with the password of every URL in it ("scheme://user:PASS@host") replaced by ***;
 * NULL when there is none (nothing to change). The caller frees. */
char *str_redact_url_passwords(const char *text);
bool str_starts_with(const char *s, const char *prefix);
bool str_ends_with(const char *s, const char *suffix);
/* "prom-1.a" -> "PROM_1_A": upper case, anything else than [A-Z0-9] becomes '_'. */
char *str_env_case(const char *s);
/* Writes `s` as a double-quoted, escaped string (for messages about user input); long input
 * is cut with "..." after `max` bytes. */
void strbuf_quote(struct strbuf *sb, const char *s, size_t max);

/* Reads a whole regular file, refusing directories and files larger than `limit` bytes.
 * Returns 0, or -1 with a message (caller frees) in *error. */
int read_file(const char *path, size_t limit, char **data, size_t *size, char **error);

/* Monotonic and wall clocks in seconds. */
double clock_monotonic(void);
double clock_wall(void);

#endif
