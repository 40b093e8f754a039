#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "servo/error.h"

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
    return -1;
}

void servo_error_clear(struct servo_error *error)
{
    if (error == NULL)
        return;
    error->kind = SERVO_ERROR_NONE;
    error->reason[0] = '\0';
    error->message[0] = '\0';
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
