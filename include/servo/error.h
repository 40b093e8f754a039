/* Errors as values: a kind (which maps onto the optimizer protocol's status), a reason
 * (a short machine-readable word such as "start-failed" or "slo-violation"), a message, and
 * where the problem is when it is about input (a file, line and column, and a dotted path).
 *
 * The convention, for the core and for connectors: a function that can fail returns 0 (or a
 * pointer) on success and -1 (or NULL) on failure, and says why in a caller's
 * `struct servo_error *error`, which may be NULL when the caller does not want to know:
 *
 *     if (parse(text, &value, error) != 0)
 *         return -1; // `error` already says what and where
 *     ...
 *     return servo_error_set(error, SERVO_ERROR_FAILED, "bad-input", "\"%s\" is ...", text);
 *
 * Handlers record theirs on the event (servo_event_fail in servo/events.h, which fills one of
 * these). Two other shapes remain on purpose, each for a job this one does not do:
 *   - the configuration loader reports every problem, not the first: a list of located
 *     diagnostics (struct servo_diags in src/config/diag.h), printed in the same
 *     "FILE:LINE:COL: path: message" form as servo_error_format;
 *   - value parsers (servo_duration_parse, servo_cpu_parse, ...) name a static reason
 *     (`const char **why`, e.g. "missing unit"), which their caller puts into a located
 *     message about the value.
 * Older internal code still passes an allocated message (`char **error`, the caller frees);
 * new code uses struct servo_error, and the rest is converted as it is touched. */
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
#define SERVO_ERROR_SOURCE_MAX 256
#define SERVO_ERROR_PATH_MAX 256

/* Where a problem with input is; every part is optional ("" or 0 when unknown). */
struct servo_error_location {
    char source[SERVO_ERROR_SOURCE_MAX]; /* a file name, "$VARIABLE", a URL */
    int line;                            /* 1-based; 0 when unknown */
    int column;                          /* 1-based; 0 when unknown */
    char path[SERVO_ERROR_PATH_MAX];     /* dotted path: "prometheus.metrics[0].query" */
};

struct servo_error {
    enum servo_error_kind kind;
    char reason[SERVO_ERROR_REASON_MAX];   /* "" when none */
    char message[SERVO_ERROR_MESSAGE_MAX]; /* truncated to fit */
    struct servo_error_location location;  /* since plugin ABI 2 */
};

/* Fills `error` (if not NULL; its location is cleared) and returns -1, so functions can
 * `return servo_error_set(...)`. */
SERVO_EXPORT int servo_error_set(struct servo_error *error, enum servo_error_kind kind,
                                 const char *reason, const char *fmt, ...) SERVO_PRINTF(4, 5);
/* Records where the problem is, after servo_error_set (source and path may be NULL; each is
 * cut to fit). Does nothing when `error` is NULL. Returns -1, like servo_error_set. */
SERVO_EXPORT int servo_error_locate(struct servo_error *error, const char *source, int line,
                                    int column, const char *path);
SERVO_EXPORT void servo_error_clear(struct servo_error *error);
/* "FILE:LINE:COL: path: message" (the parts that are known), as a new string the caller
 * frees. */
SERVO_EXPORT char *servo_error_format(const struct servo_error *error);
/* "failed", "rejected", "aborted", "cancelled": the protocol status of a kind. */
SERVO_EXPORT const char *servo_error_status(enum servo_error_kind kind);

#ifdef __cplusplus
}
#endif

#endif
