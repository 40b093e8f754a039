/* Small helpers used everywhere in the core. Allocation aborts on out-of-memory (as Redis
 * does): an agent that cannot allocate a few bytes cannot report anything useful. */
#ifndef SERVO_UTIL_H
#define SERVO_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "servo/abi.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

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
void strbuf_truncate(struct strbuf *sb, size_t len);
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
