/* The event bus: dispatches one event to the connectors of a servo. Every handler runs on a
 * thread of its own. Before handlers run concurrently and may cancel the event; on handlers
 * of all connectors run concurrently, and their results are gathered with the connector's name;
 * after handlers then see those results. When several handlers fail, the reported error is the one
 * of highest priority (aborted > rejected > adjustment failed > measurement failed > other); the
 * others are kept as additional errors. */
#ifndef SERVO_BUS_H
#define SERVO_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "assembly/assembly.h"
#include "events/cancel.h"
#include "servo/events.h"

struct event_args {
    struct servo_control control;
    const char *const *metrics; /* measure */
    size_t metric_count;
    const struct servo_adjustments *adjustments; /* adjust */
    const json_t *argument;                      /* custom events */
};

typedef void (*progress_sink)(void *context, const char *connector, const char *event,
                              double percent, const char *message);

struct bus_options {
    const char *const *include; /* instance names to dispatch to; NULL: every one */
    const char *const *exclude; /* instance names to skip */
    bool first;                 /* run connectors one by one; stop at the first result */
    unsigned prepositions;      /* 0: before, on and after */
    double timeout;             /* seconds; 0: no deadline of its own */
    double grace;               /* seconds a handler may overrun before it is abandoned; 0: 5 */
    struct cancel_token *parent;
    progress_sink progress; /* NULL: log lines */
    void *progress_context;
};

struct bus_outcome {
    struct servo_event_result *results; /* one per on handler that ran, in connector order */
    size_t count;
    bool cancelled; /* a before handler cancelled the event */
    char *cancel_reason;
    struct servo_error error; /* highest priority failure; kind NONE when none failed */
    struct servo_error *additional;
    size_t additional_count;
    struct dispatch *keeper; /* owns `results` when an after handler was abandoned */
};

/* Returns 0, or -1 when a handler failed or the event was cancelled (see `out`). */
int bus_dispatch(struct servo_connector *connectors, size_t count, const char *event,
                 const struct event_args *args, const struct bus_options *options,
                 struct bus_outcome *out);
void bus_outcome_free(struct bus_outcome *out);

/* Every result's description merged in order (describe, adjust, components). */
struct servo_description *bus_outcome_description(const struct bus_outcome *out);
/* Every result's readings and annotations merged (measure). */
struct servo_measurement *bus_outcome_measurement(const struct bus_outcome *out);

/* Abandoned handlers. A handler still running `grace` seconds after its deadline or a
 * cancellation is abandoned: reported as failed ("timeout"), left to run on its thread with
 * everything it can reach kept alive, and its connector is busy (its handlers are not run,
 * reason "busy") until it returns. */
bool bus_connector_busy(const struct servo_connector *connector);
size_t bus_abandoned_count(void);
/* Waits up to `seconds` for abandoned handlers to return; true when none runs. */
bool bus_wait_abandoned(double seconds);

/* Does any connector handle `event` with this preposition? */
bool bus_handles(const struct servo_connector *connector, const char *event, unsigned preposition);
void event_args_init(struct event_args *args);
void event_args_free(struct event_args *args);

/* The `on check` handler of every connector that declares checks (events/checks.c): runs
 * them with the filter in the event's argument and sets the results as its value. */
extern const struct servo_handler checks_builtin_handler;

/* The cancellation token of the dispatch an event belongs to. */
struct cancel_token *bus_event_token(const struct servo_event *event);

/* The event struct a handler sees (internal layout). */
struct dispatch;
struct servo_event {
    const char *name;
    enum servo_preposition preposition;
    struct dispatch *dispatch;
    struct servo_connector *connector;
    struct servo_description *description;
    struct servo_measurement *measurement;
    json_t *value;
    struct servo_error error;
    bool failed;
    bool cancel_requested;
    char *label; /* "measure" or "before:measure", for logs */
};

#endif
