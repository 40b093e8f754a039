/* Events: what a handler sees of one dispatch, and what it gives back.
 *
 * The bus runs, for one event, every connector's `before` handlers (any may cancel the
 * event), then every connector's `on` handlers concurrently (one thread each), then the
 * `after` handlers, which see the gathered results. Each dispatch carries a cancellation
 * token and a deadline: long handlers poll servo_event_cancelled() or sleep with
 * servo_event_sleep(), and child processes started with servo_event_run() are killed with
 * their whole process group when the event is cancelled or runs out of time. */
#ifndef SERVO_EVENTS_H
#define SERVO_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "servo/abi.h"
#include "servo/connector.h"
#include "servo/error.h"
#include "servo/model.h"
#include "servo/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SERVO_EVENT_ATTACH "attach"
#define SERVO_EVENT_DETACH "detach"
#define SERVO_EVENT_STARTUP "startup"
#define SERVO_EVENT_SHUTDOWN "shutdown"
#define SERVO_EVENT_METRICS "metrics"
#define SERVO_EVENT_COMPONENTS "components"
#define SERVO_EVENT_CHECK "check"
#define SERVO_EVENT_DESCRIBE "describe"
#define SERVO_EVENT_MEASURE "measure"
#define SERVO_EVENT_ADJUST "adjust"
#define SERVO_EVENT_PROMOTE "promote"
/* Telemetry for the optimizer (since servo 0.1.0, plugin ABI 1): `servo run` dispatches it
 * (on handlers, 5 s deadline) before each HELLO. A handler sets an object of strings as its
 * value (servo_event_set_value), e.g. {"version": "1.20", "platform": "linux/amd64"}; each
 * member is sent in HELLO's telemetry as "<instance name>.<key>". Failures only cost the
 * connector's entries. */
#define SERVO_EVENT_TELEMETRY "telemetry"

/* ---- what the handler is asked ---------------------------------------------------------- */

SERVO_EXPORT const char *servo_event_name(const struct servo_event *event);
SERVO_EXPORT enum servo_preposition servo_event_preposition(const struct servo_event *event);
/* describe, measure, adjust: the optimizer's control (never NULL). */
SERVO_EXPORT const struct servo_control *servo_event_control(const struct servo_event *event);
/* measure: the metrics asked for; none means every metric the connector has. */
SERVO_EXPORT size_t servo_event_metric_count(const struct servo_event *event);
SERVO_EXPORT const char *servo_event_metric(const struct servo_event *event, size_t index);
/* True when `metric` was asked for (or nothing specific was). */
SERVO_EXPORT bool servo_event_wants_metric(const struct servo_event *event, const char *metric);
/* adjust: the adjustments to apply (all of them; a connector picks its own components). */
SERVO_EXPORT const struct servo_adjustments *
servo_event_adjustments(const struct servo_event *event);
/* custom events: the argument (borrowed; may be NULL). */
SERVO_EXPORT const json_t *servo_event_argument(const struct servo_event *event);

/* ---- cancellation, deadlines, child processes ------------------------------------------ */

/* True once the event is cancelled (optimizer, signal) or past its deadline. */
SERVO_EXPORT bool servo_event_cancelled(const struct servo_event *event);
/* Seconds until the deadline (a large number when there is none). */
SERVO_EXPORT double servo_event_remaining(const struct servo_event *event);
/* Sleeps up to `duration`; returns 0, or -1 as soon as the event is cancelled. */
SERVO_EXPORT int servo_event_sleep(const struct servo_event *event, servo_duration duration);

struct servo_process {
    const char *command;            /* run with /bin/sh -c */
    const char *const *environment; /* extra NAME=VALUE entries, NULL-terminated, or NULL */
    const char *working_dir;        /* or NULL */
    const char *input;              /* written to stdin, then closed; NULL: /dev/null */
    size_t input_length;
    servo_duration timeout; /* 0: only the event's deadline */
    size_t max_output;      /* stdout beyond this fails the run; 0: 16 MiB */
    /* Called for each complete stdout line as it arrives (progress lines); may be NULL. */
    void (*on_line)(void *context, const char *line);
    void *context;
};

struct servo_process_result {
    int exit_code;        /* -1 when killed by a signal */
    int signal;           /* the signal that ended it, or 0 */
    bool timed_out;       /* killed at the timeout or the event's deadline */
    bool cancelled;       /* killed because the event was cancelled */
    bool output_overflow; /* stdout exceeded max_output (the process was killed) */
    char *output;         /* all of stdout (NUL-terminated) */
    size_t output_length;
    char *errors; /* the last 64 KiB of stderr (NUL-terminated) */
    size_t errors_length;
};

/* Runs a command in its own process group; the group is killed (TERM, then KILL after 2 s)
 * on timeout, cancellation, overflow, and when the command exits while children it started
 * are still alive. Returns 0 when the command ran (whatever its exit code), -1 if it could
 * not start (message in `error`). Free the result with servo_process_result_free. */
SERVO_EXPORT int servo_event_run(const struct servo_event *event,
                                 const struct servo_process *process,
                                 struct servo_process_result *result, struct servo_error *error);
SERVO_EXPORT void servo_process_result_free(struct servo_process_result *result);

/* ---- results --------------------------------------------------------------------------- */

/* describe, adjust, components: the connector's description (ownership passes to the bus). */
SERVO_EXPORT void servo_event_set_description(struct servo_event *event,
                                              struct servo_description *description);
/* measure: the connector's readings (ownership passes to the bus). */
SERVO_EXPORT void servo_event_set_measurement(struct servo_event *event,
                                              struct servo_measurement *measurement);
/* metrics: the metrics the connector can measure. */
SERVO_EXPORT void servo_event_add_metric(struct servo_event *event, const char *name,
                                         const char *unit);
/* custom events: any JSON (the reference is stolen). */
SERVO_EXPORT void servo_event_set_value(struct servo_event *event, json_t *value);
/* Fails the handler; returns -1 so a handler can `return servo_event_fail(...)`. */
SERVO_EXPORT int servo_event_fail(struct servo_event *event, enum servo_error_kind kind,
                                  const char *reason, const char *fmt, ...) SERVO_PRINTF(4, 5);
/* In a `before` handler: cancel the whole event (it returns no results). Returns -1. */
SERVO_EXPORT int servo_event_cancel(struct servo_event *event, const char *fmt, ...)
    SERVO_PRINTF(2, 3);

/* Progress of a long handler: 0..100 and a message. */
SERVO_EXPORT void servo_event_progress(struct servo_event *event, double percent, const char *fmt,
                                       ...) SERVO_PRINTF(3, 4);

/* ---- after handlers -------------------------------------------------------------------- */

struct servo_event_result {
    const char *connector; /* instance name */
    const struct servo_description *description;
    const struct servo_measurement *measurement;
    const json_t *value;
    const struct servo_error *error; /* NULL when the handler succeeded */
};

SERVO_EXPORT size_t servo_event_result_count(const struct servo_event *event);
SERVO_EXPORT const struct servo_event_result *servo_event_result(const struct servo_event *event,
                                                                 size_t index);

#ifdef __cplusplus
}
#endif

#endif
