// SPDX-License-Identifier: Apache-2.0
/* String building for connectors and plugins: a growable NUL-terminated string. Memory comes
 * from servo/alloc.h (never fails; aborts when memory runs out). printf into a new string is
 * servo_strdup_printf in servo/util.h.
 *
 *     struct servo_buf b = {0};
 *     servo_buf_printf(&b, "%d readings", count);
 *     char *text = servo_buf_detach(&b); // the caller frees it
 */
#ifndef SERVO_BUF_H
#define SERVO_BUF_H

#include <stddef.h>

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* {0} is an empty buffer; `data` is NULL until something is added, then always
 * NUL-terminated, with `length` bytes before the NUL. */
struct servo_buf {
    char *data;
    size_t length;
    size_t capacity;
};

SERVO_EXPORT void servo_buf_append(struct servo_buf *buf, const char *bytes, size_t length);
SERVO_EXPORT void servo_buf_puts(struct servo_buf *buf, const char *text);
SERVO_EXPORT void servo_buf_putc(struct servo_buf *buf, char ch);
SERVO_EXPORT void servo_buf_printf(struct servo_buf *buf, const char *fmt, ...) SERVO_PRINTF(2, 3);
/* The text, which the caller then owns and frees (never NULL: "" when nothing was added);
 * the buffer is empty again. */
SERVO_EXPORT char *servo_buf_detach(struct servo_buf *buf);
/* Frees the text; the buffer is empty again. */
SERVO_EXPORT void servo_buf_free(struct servo_buf *buf);

#ifdef __cplusplus
}
#endif

#endif
