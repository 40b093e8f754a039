#include "config/diag.h"

#include <stdarg.h>
#include <stdlib.h>

#include "config/node.h"
#include "util/error.h"
#include "util/util.h"

void diags_init(struct servo_diags *d)
{
    d->items = NULL;
    d->count = 0;
    d->capacity = 0;
}

void diags_free(struct servo_diags *d)
{
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].source);
        free(d->items[i].path);
        free(d->items[i].message);
    }
    free(d->items);
    diags_init(d);
}

static void diag_vadd(struct servo_diags *d, const char *source, int line, int column,
                      const char *path, const char *fmt, va_list ap) SERVO_PRINTF(6, 0);

static void diag_vadd(struct servo_diags *d, const char *source, int line, int column,
                      const char *path, const char *fmt, va_list ap)
{
    xgrow((void **)&d->items, sizeof *d->items, d->count, &d->capacity);
    struct servo_diag *diag = &d->items[d->count++];
    diag->source = source ? xstrdup(source) : NULL;
    diag->line = line;
    diag->column = column;
    diag->path = xstrdup(path ? path : "");
    diag->message = xvasprintf(fmt, ap);
}

void diag_add(struct servo_diags *d, const char *source, int line, int column, const char *path,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, source, line, column, path, fmt, ap);
    va_end(ap);
}

void diag_at(struct servo_diags *d, const struct servo_node *node, const char *fallback,
             const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (node != NULL)
        diag_vadd(d, node->source, node->line, node->column, path, fmt, ap);
    else
        diag_vadd(d, fallback, 0, 0, path, fmt, ap);
    va_end(ap);
}

char *diag_format(const struct servo_diag *diag)
{
    struct strbuf sb;
    strbuf_init(&sb);
    error_location_prefix(&sb, diag->source, diag->line, diag->column, diag->path);
    strbuf_puts(&sb, diag->message);
    return strbuf_detach(&sb);
}

void diags_print(const struct servo_diags *d, FILE *out, const char *prefix)
{
    for (size_t i = 0; i < d->count; i++) {
        char *line = diag_format(&d->items[i]);
        fprintf(out, "%s%s\n", prefix ? prefix : "", line);
        free(line);
    }
}

void diags_take(struct servo_diags *to, struct servo_diags *from)
{
    for (size_t i = 0; i < from->count; i++) {
        xgrow((void **)&to->items, sizeof *to->items, to->count, &to->capacity);
        to->items[to->count++] = from->items[i];
    }
    free(from->items);
    diags_init(from);
}
