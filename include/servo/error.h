/* Errors as values: a kind (which maps onto the optimizer protocol's status), a reason
 * (a short machine-readable word such as "start-failed" or "slo-violation") and a message. */
#ifndef SERVO_ERROR_H
#define SERVO_ERROR_H

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In increasing priority: when several handlers fail, the highest kind is reported. */
enum servo_error_kind {
    SERVO_ERROR_NONE = 0,
    SERVO_ERROR_FAILED,              /* anything else -> status "failed" */
    SERVO_ERROR_CANCELLED,           /* -> "cancelled" */
    SERVO_ERROR_MEASUREMENT_FAILED,  /* -> "failed" */
    SERVO_ERROR_ADJUSTMENT_FAILED,   /* -> "failed" */
    SERVO_ERROR_ADJUSTMENT_REJECTED, /* -> "rejected" */
    SERVO_ERROR_ABORTED,             /* -> "aborted" */
};

#define SERVO_ERROR_REASON_MAX 64
#define SERVO_ERROR_MESSAGE_MAX 2048

struct servo_error {
    enum servo_error_kind kind;
    char reason[SERVO_ERROR_REASON_MAX];   /* "" when none */
    char message[SERVO_ERROR_MESSAGE_MAX]; /* truncated to fit */
};

/* Fills `error` (if not NULL) and returns -1, so handlers can `return servo_error_set(...)`. */
SERVO_EXPORT int servo_error_set(struct servo_error *error, enum servo_error_kind kind,
                                 const char *reason, const char *fmt, ...) SERVO_PRINTF(4, 5);
SERVO_EXPORT void servo_error_clear(struct servo_error *error);
/* "failed", "rejected", "aborted", "cancelled": the protocol status of a kind. */
SERVO_EXPORT const char *servo_error_status(enum servo_error_kind kind);

#ifdef __cplusplus
}
#endif

#endif
