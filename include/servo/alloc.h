// SPDX-License-Identifier: Apache-2.0
/* Allocation for connectors and plugins: the core's own allocator, which never returns NULL.
 * When memory runs out it prints "servo: error: out of memory allocating N bytes" and aborts,
 * as the core does: a servo that cannot allocate a few bytes cannot report anything useful.
 * Free what these return with free(). A size or count of 0 allocates one byte, so the result
 * is always a pointer that free() accepts. */
#ifndef SERVO_ALLOC_H
#define SERVO_ALLOC_H

#include <stddef.h>

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

SERVO_EXPORT void *servo_xmalloc(size_t size);
/* Zeroed. */
SERVO_EXPORT void *servo_xcalloc(size_t count, size_t size);
SERVO_EXPORT void *servo_xrealloc(void *pointer, size_t size);
/* Grows the array *items (of `size` bytes each, *capacity of them) so that index `count` is
 * valid, doubling the capacity; does nothing while count < *capacity. */
SERVO_EXPORT void servo_xgrow(void **items, size_t size, size_t count, size_t *capacity);
SERVO_EXPORT char *servo_xstrdup(const char *text);
/* The first `length` bytes of `text` and a NUL; `text` may be NULL when `length` is 0. */
SERVO_EXPORT char *servo_xstrndup(const char *text, size_t length);

#ifdef __cplusplus
}
#endif

#endif
