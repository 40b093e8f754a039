/* Shared helpers for the cmocka unit tests. cmocka needs these headers in this order. */
#ifndef SERVO_TEST_SUPPORT_H
#define SERVO_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Writes `text` to a fresh file under a per-process scratch directory; returns its path
 * (static storage, valid until the next call). */
const char *test_write_file(const char *name, const char *text);
/* The per-process scratch directory, created on first use and removed at exit. */
const char *test_scratch_dir(void);
/* Reads one line (up to and including '\n') from `fd` into line[size], waiting at most
 * `seconds` for it: a child process announcing where it listens. "" when nothing came. */
void test_read_line(int fd, char *line, size_t size, double seconds);

#endif
