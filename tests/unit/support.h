/* Shared helpers for the cmocka unit tests. cmocka needs these headers in this order. */
#ifndef SERVO_TEST_SUPPORT_H
#define SERVO_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

/* Writes `text` to a fresh file under a per-process scratch directory; returns its path
 * (static storage, valid until the next call). */
const char *test_write_file(const char *name, const char *text);
/* The per-process scratch directory, created on first use and removed at exit. */
const char *test_scratch_dir(void);
/* Reads one line (up to and including '\n') from `fd` into line[size], waiting at most
 * `seconds` for it: a child process announcing where it listens. "" when nothing came. */
void test_read_line(int fd, char *line, size_t size, double seconds);
/* The JSON value of a test's own literal `text` (any value, not only an object or array); a
 * text that does not parse fails the test, naming the parser's error. The caller owns it. */
json_t *test_json(const char *text);

#endif
