#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "servo/error.h"
#include "util/error.h"

static void location_clear(struct servo_error_location *location)
{
    *location = (struct servo_error_location){0};
}

int servo_error_set(struct servo_error *error, enum servo_error_kind kind, const char *reason,
                    const char *fmt, ...)
{
    if (error == NULL)
        return -1;
    error->kind = kind;
    snprintf(error->reason, sizeof error->reason, "%s", reason ? reason : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, ap);
    va_end(ap);
    location_clear(&error->location);
    return -1;
}

int servo_error_locate(struct servo_error *error, const char *source, int line, int column,
                       const char *path)
{
    if (error == NULL)
        return -1;
    struct servo_error_location *at = &error->location;
    snprintf(at->source, sizeof at->source, "%s", source ? source : "");
    at->line = line > 0 ? line : 0;
    at->column = column > 0 ? column : 0;
    snprintf(at->path, sizeof at->path, "%s", path ? path : "");
    return -1;
}

void servo_error_clear(struct servo_error *error)
{
    if (error == NULL)
        return;
    error->kind = SERVO_ERROR_NONE;
    error->reason[0] = '\0';
    error->message[0] = '\0';
    location_clear(&error->location);
}

void error_location_prefix(struct strbuf *sb, const char *source, int line, int column,
                           const char *path)
{
    if (source != NULL && source[0] != '\0') {
        if (line > 0)
            strbuf_printf(sb, "%s:%d:%d: ", source, line, column);
        else
            strbuf_printf(sb, "%s: ", source);
    }
    if (path != NULL && path[0] != '\0')
        strbuf_printf(sb, "%s: ", path);
}

char *servo_error_format(const struct servo_error *error)
{
    struct strbuf sb;
    strbuf_init(&sb);
    const struct servo_error_location *at = &error->location;
    error_location_prefix(&sb, at->source, at->line, at->column, at->path);
    strbuf_puts(&sb, error->message);
    return strbuf_detach(&sb);
}

const char *servo_error_status(enum servo_error_kind kind)
{
    switch (kind) {
    case SERVO_ERROR_NONE:
        return "ok";
    case SERVO_ERROR_ADJUSTMENT_REJECTED:
        return "rejected";
    case SERVO_ERROR_ABORTED:
        return "aborted";
    case SERVO_ERROR_CANCELLED:
        return "cancelled";
    case SERVO_ERROR_FAILED:
    case SERVO_ERROR_MEASUREMENT_FAILED:
    case SERVO_ERROR_ADJUSTMENT_FAILED:
        break;
    }
    return "failed";
}
