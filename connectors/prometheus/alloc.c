#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "servo/util.h"
#include "util/util.h"

/* The core's helpers: one out-of-memory behaviour (src/util/util.h). */
void *prom_xmalloc(size_t size)
{
    return xmalloc(size);
}

void *prom_xcalloc(size_t count, size_t size)
{
    return xcalloc(count, size);
}

void *prom_xrealloc(void *pointer, size_t size)
{
    return xrealloc(pointer, size);
}

void prom_xgrow(void **items, size_t size, size_t count, size_t *capacity)
{
    if (count < *capacity)
        return;
    size_t wanted = *capacity ? *capacity * 2 : 8;
    if (wanted < count + 1 || wanted > ((size_t)-1) / size) {
        fprintf(stderr, "servo: error: out of memory growing an array of %zu items\n", count);
        _exit(EXIT_FAILURE);
    }
    *items = prom_xrealloc(*items, wanted * size);
    *capacity = wanted;
}

char *prom_xstrdup(const char *text)
{
    return prom_xstrndup(text, strlen(text));
}

char *prom_xstrndup(const char *text, size_t length)
{
    char *copy = prom_xmalloc(length + 1);
    if (length > 0) /* an empty token may have no buffer at all: memcpy(NULL) is undefined */
        memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

char *prom_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = servo_strdup_vprintf(fmt, ap);
    va_end(ap);
    return text;
}

void prom_buf_append(struct prom_buf *b, const char *text, size_t length)
{
    if (b->length + length + 1 > b->capacity) {
        size_t wanted = b->capacity ? b->capacity * 2 : 64;
        while (wanted < b->length + length + 1)
            wanted *= 2;
        b->data = prom_xrealloc(b->data, wanted);
        b->capacity = wanted;
    }
    memcpy(b->data + b->length, text, length);
    b->length += length;
    b->data[b->length] = '\0';
}

void prom_buf_puts(struct prom_buf *b, const char *text)
{
    prom_buf_append(b, text, strlen(text));
}

void prom_buf_printf(struct prom_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = servo_strdup_vprintf(fmt, ap);
    va_end(ap);
    prom_buf_puts(b, text);
    free(text);
}

char *prom_buf_detach(struct prom_buf *b)
{
    char *text = b->data != NULL ? b->data : prom_xstrdup("");
    *b = (struct prom_buf){0};
    return text;
}

void prom_buf_free(struct prom_buf *b)
{
    free(b->data);
    *b = (struct prom_buf){0};
}
