/* Memory and text helpers of the prometheus connector: allocation through the core's helpers
 * (the out-of-memory exit of src/util/util.h), and a growable string. */
#ifndef SERVO_CONNECTOR_PROMETHEUS_ALLOC_H
#define SERVO_CONNECTOR_PROMETHEUS_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

#include "servo/abi.h"

void *prom_xmalloc(size_t size);
void *prom_xcalloc(size_t count, size_t size);
void *prom_xrealloc(void *pointer, size_t size);
/* Grows `*items` (of `size` bytes each) so that one more fits after `count`. */
void prom_xgrow(void **items, size_t size, size_t count, size_t *capacity);
char *prom_xstrdup(const char *text);
char *prom_xstrndup(const char *text, size_t length);
char *prom_xasprintf(const char *fmt, ...) SERVO_PRINTF(1, 2);

/* A growable NUL-terminated string; {0} is an empty one. */
struct prom_buf {
    char *data;
    size_t length;
    size_t capacity;
};

void prom_buf_append(struct prom_buf *b, const char *text, size_t length);
void prom_buf_puts(struct prom_buf *b, const char *text);
void prom_buf_printf(struct prom_buf *b, const char *fmt, ...) SERVO_PRINTF(2, 3);
/* The text (never NULL; "" when empty), which the caller then owns. */
char *prom_buf_detach(struct prom_buf *b);
void prom_buf_free(struct prom_buf *b);

#endif
