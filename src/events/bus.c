#include "events/bus.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/util.h"

/* A handler that ignores its deadline gets this much longer before it is abandoned. */
#define ABANDON_GRACE_SECONDS 5.0

struct dispatch {
    const char *event;
    const struct event_args *args;
    struct cancel_token token;
    progress_sink progress;
    void *progress_context;
    const struct servo_event_result *results; /* for after handlers */
    size_t result_count;
    const char *servo_prefix; /* the dispatching thread's servo name, for handler logs */
};

struct job {
    struct servo_event event;
    const struct servo_handler *handler;
    pthread_t thread;
    bool threaded; /* runs on `thread` (else it ran on the dispatching thread) */
    atomic_bool finished;
};

struct jobs {
    struct job **items;
    size_t count;
    size_t capacity;
};

void event_args_init(struct event_args *args)
{
    memset(args, 0, sizeof *args);
    servo_control_init(&args->control);
}

void event_args_free(struct event_args *args)
{
    servo_control_free(&args->control);
}

static bool listed(const char *const *names, const char *name)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static bool selected(const struct bus_options *o, const struct servo_connector *c)
{
    if (o->include && !listed(o->include, c->name))
        return false;
    return !listed(o->exclude, c->name);
}

bool bus_handles(const struct servo_connector *connector, const char *event, unsigned preposition)
{
    if ((preposition & SERVO_ON) && connector->plugin->checks &&
        strcmp(event, SERVO_EVENT_CHECK) == 0)
        return true;
    for (const struct servo_handler *h = connector->plugin->handlers; h && h->event; h++)
        if ((h->preposition & preposition) && strcmp(h->event, event) == 0)
            return true;
    return false;
}

static const char *preposition_name(enum servo_preposition p)
{
    return p == SERVO_BEFORE ? "before" : p == SERVO_AFTER ? "after" : "on";
}

static void add_job(struct jobs *jobs, const struct servo_handler *h, struct servo_connector *c,
                    enum servo_preposition preposition, struct dispatch *d)
{
    struct job *job = xcalloc(1, sizeof *job);
    job->handler = h;
    job->event.name = d->event;
    job->event.preposition = preposition;
    job->event.dispatch = d;
    job->event.connector = c;
    job->event.label = preposition == SERVO_ON
                           ? xstrdup(d->event)
                           : xasprintf("%s:%s", preposition_name(preposition), d->event);
    xgrow((void **)&jobs->items, sizeof *jobs->items, jobs->count, &jobs->capacity);
    jobs->items[jobs->count++] = job;
}

static void collect_jobs(struct servo_connector *connectors, size_t count, const char *event,
                         enum servo_preposition preposition, const struct bus_options *o,
                         struct dispatch *d, struct jobs *jobs)
{
    for (size_t i = 0; i < count; i++) {
        struct servo_connector *c = &connectors[i];
        if (!selected(o, c))
            continue;
        /* declared checks answer the check event without a handler of their own */
        if (preposition == SERVO_ON && c->plugin->checks && strcmp(event, SERVO_EVENT_CHECK) == 0)
            add_job(jobs, &checks_builtin_handler, c, preposition, d);
        for (const struct servo_handler *h = c->plugin->handlers; h && h->event; h++)
            if ((h->preposition & preposition) && strcmp(h->event, event) == 0)
                add_job(jobs, h, c, preposition, d);
    }
}

static void *run_job(void *arg)
{
    struct job *job = arg;
    struct servo_event *ev = &job->event;
    const char *component = NULL, *event = NULL;
    log_get_context(&component, &event);
    const char *prefix = log_get_servo_prefix();
    log_set_servo_prefix(ev->dispatch->servo_prefix);
    log_set_context(ev->connector->name, ev->label);
    int rc = job->handler->fn(ev->connector, ev);
    if (rc != 0 && !ev->failed && !ev->cancel_requested) {
        servo_error_set(&ev->error, SERVO_ERROR_FAILED, "", "%s handler of %s failed", ev->label,
                        ev->connector->name);
        ev->failed = true;
    }
    log_set_context(component, event);
    log_set_servo_prefix(prefix);
    atomic_store(&job->finished, true);
    return NULL;
}

static struct timespec realtime_after(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    return ts;
}

/* Joins a handler thread; one that outlives its deadline by the grace period is abandoned
 * (detached, its memory deliberately kept) and reported. Returns false when abandoned. */
static bool join_job(struct job *job, struct cancel_token *token)
{
    for (;;) {
        double remaining = cancel_remaining(token);
        if (remaining >= 1e9) {
            pthread_join(job->thread, NULL);
            return true;
        }
        struct timespec until = realtime_after(fmax(remaining, 0) + ABANDON_GRACE_SECONDS);
        int rc = pthread_timedjoin_np(job->thread, NULL, &until);
        if (rc == 0)
            return true;
        if (rc != ETIMEDOUT)
            continue;
        if (cancel_remaining(token) > -ABANDON_GRACE_SECONDS)
            continue; /* the deadline moved (a parent's); wait again */
        pthread_detach(job->thread);
        return false;
    }
}

/* Runs the jobs, concurrently unless there is only one or `sequential_first` asks to stop
 * at the first result. Returns the number of jobs that ran (all, or up to the first). */
static size_t run_jobs(struct jobs *jobs, struct dispatch *d, bool sequential_first,
                       bool *abandoned)
{
    if (sequential_first || jobs->count == 1) {
        for (size_t i = 0; i < jobs->count; i++) {
            run_job(jobs->items[i]);
            struct servo_event *ev = &jobs->items[i]->event;
            if (sequential_first && !ev->failed &&
                (ev->description || ev->measurement || ev->value))
                return i + 1;
        }
        return jobs->count;
    }
    for (size_t i = 0; i < jobs->count; i++) {
        struct job *job = jobs->items[i];
        job->threaded = pthread_create(&job->thread, NULL, run_job, job) == 0;
        if (!job->threaded)
            run_job(job); /* no thread to be had: run it here */
    }
    for (size_t i = 0; i < jobs->count; i++) {
        struct job *job = jobs->items[i];
        if (!job->threaded)
            continue;
        if (!join_job(job, &d->token)) {
            *abandoned = true;
            jobs->items[i] = NULL; /* the thread still uses it: never freed */
            servo_error("%s handler of %s did not stop %.0f s after its deadline; abandoned",
                        job->event.label, job->event.connector->name, ABANDON_GRACE_SECONDS);
        }
    }
    return jobs->count;
}

static void free_job(struct job *job)
{
    if (job == NULL)
        return;
    servo_description_free(job->event.description);
    servo_measurement_free(job->event.measurement);
    json_decref(job->event.value);
    free(job->event.label);
    free(job);
}

static void free_jobs(struct jobs *jobs)
{
    for (size_t i = 0; i < jobs->count; i++)
        free_job(jobs->items[i]);
    free(jobs->items);
    memset(jobs, 0, sizeof *jobs);
}

static void record_error(struct bus_outcome *out, const struct servo_error *error)
{
    if (error->kind > out->error.kind) {
        if (out->error.kind != SERVO_ERROR_NONE) {
            out->additional =
                xrealloc(out->additional, (out->additional_count + 1) * sizeof *out->additional);
            out->additional[out->additional_count++] = out->error;
        }
        out->error = *error;
        return;
    }
    out->additional =
        xrealloc(out->additional, (out->additional_count + 1) * sizeof *out->additional);
    out->additional[out->additional_count++] = *error;
}

static void record_abandoned(struct bus_outcome *out, enum servo_preposition preposition,
                             const char *event)
{
    struct servo_error e;
    servo_error_set(&e, SERVO_ERROR_FAILED, "timeout",
                    "a %s%s%s handler did not stop after its deadline",
                    preposition == SERVO_ON ? "" : preposition_name(preposition),
                    preposition == SERVO_ON ? "" : ":", event);
    record_error(out, &e);
}

/* Moves the on-handlers' outcomes into `out`; the jobs keep nothing. */
static void gather_results(struct jobs *jobs, size_t ran, const char *event,
                           struct bus_outcome *out)
{
    out->results = xcalloc(ran ? ran : 1, sizeof *out->results);
    for (size_t i = 0; i < ran; i++) {
        struct job *job = jobs->items[i];
        if (job == NULL) {
            record_abandoned(out, SERVO_ON, event);
            continue;
        }
        struct servo_event *ev = &job->event;
        struct servo_event_result *r = &out->results[out->count++];
        r->connector = ev->connector->name;
        r->description = ev->description;
        r->measurement = ev->measurement;
        r->value = ev->value;
        ev->description = NULL;
        ev->measurement = NULL;
        ev->value = NULL;
        if (ev->failed) {
            struct servo_error *copy = xmalloc(sizeof *copy);
            *copy = ev->error;
            r->error = copy;
            record_error(out, &ev->error);
        }
    }
}

static int run_before(struct servo_connector *connectors, size_t count, const char *event,
                      const struct bus_options *o, struct dispatch *d, struct bus_outcome *out,
                      bool *abandoned)
{
    struct jobs jobs = {0};
    collect_jobs(connectors, count, event, SERVO_BEFORE, o, d, &jobs);
    run_jobs(&jobs, d, false, abandoned);
    int rc = 0;
    for (size_t i = 0; i < jobs.count; i++) {
        struct job *job = jobs.items[i];
        if (job == NULL) {
            record_abandoned(out, SERVO_BEFORE, event);
            rc = -1;
        } else if (job->event.cancel_requested && !out->cancelled) {
            out->cancelled = true;
            out->cancel_reason = xasprintf("%s cancelled %s: %s", job->event.connector->name, event,
                                           job->event.error.message);
            servo_warning("event %s cancelled by %s: %s", event, job->event.connector->name,
                          job->event.error.message);
            /* by priority, like any other error: an earlier before handler's failure is
             * kept (as additional) rather than overwritten */
            struct servo_error cancelled;
            servo_error_set(&cancelled, SERVO_ERROR_CANCELLED, "", "%s", out->cancel_reason);
            record_error(out, &cancelled);
            rc = -1;
        } else if (job->event.failed) {
            record_error(out, &job->event.error);
            rc = -1;
        }
    }
    free_jobs(&jobs);
    return rc;
}

static void run_after(struct servo_connector *connectors, size_t count, const char *event,
                      const struct bus_options *o, struct dispatch *d, struct bus_outcome *out,
                      bool *abandoned)
{
    struct jobs jobs = {0};
    d->results = out->results;
    d->result_count = out->count;
    collect_jobs(connectors, count, event, SERVO_AFTER, o, d, &jobs);
    run_jobs(&jobs, d, false, abandoned);
    for (size_t i = 0; i < jobs.count; i++) {
        if (jobs.items[i] == NULL)
            record_abandoned(out, SERVO_AFTER, event);
        else if (jobs.items[i]->event.failed)
            record_error(out, &jobs.items[i]->event.error);
    }
    free_jobs(&jobs);
}

int bus_dispatch(struct servo_connector *connectors, size_t count, const char *event,
                 const struct event_args *args, const struct bus_options *options,
                 struct bus_outcome *out)
{
    static const struct bus_options defaults = {0};
    const struct bus_options *o = options ? options : &defaults;
    unsigned prepositions =
        o->prepositions ? o->prepositions : (SERVO_BEFORE | SERVO_ON | SERVO_AFTER);
    memset(out, 0, sizeof *out);
    struct dispatch *d = xcalloc(1, sizeof *d);
    d->event = event;
    d->args = args;
    d->progress = o->progress;
    d->progress_context = o->progress_context;
    d->servo_prefix = log_get_servo_prefix();
    cancel_init(&d->token, o->parent, o->timeout);
    bool abandoned = false;
    int rc = 0;
    if ((prepositions & SERVO_BEFORE) &&
        run_before(connectors, count, event, o, d, out, &abandoned) != 0)
        rc = -1;
    if (rc == 0 && (prepositions & SERVO_ON)) {
        struct jobs jobs = {0};
        collect_jobs(connectors, count, event, SERVO_ON, o, d, &jobs);
        size_t ran = run_jobs(&jobs, d, o->first, &abandoned);
        gather_results(&jobs, ran, event, out);
        free_jobs(&jobs);
        if (prepositions & SERVO_AFTER)
            run_after(connectors, count, event, o, d, out, &abandoned);
        if (out->error.kind != SERVO_ERROR_NONE)
            rc = -1;
    }
    if (abandoned)
        return rc; /* a stuck handler may still read the dispatch: keep it */
    cancel_destroy(&d->token);
    free(d);
    return rc;
}

void bus_outcome_free(struct bus_outcome *out)
{
    for (size_t i = 0; i < out->count; i++) {
        servo_description_free((struct servo_description *)out->results[i].description);
        servo_measurement_free((struct servo_measurement *)out->results[i].measurement);
        json_decref((json_t *)out->results[i].value);
        free((void *)out->results[i].error);
    }
    free(out->results);
    free(out->additional);
    free(out->cancel_reason);
    memset(out, 0, sizeof *out);
}

struct servo_description *bus_outcome_description(const struct bus_outcome *out)
{
    struct servo_description *merged = servo_description_new();
    for (size_t i = 0; i < out->count; i++)
        if (out->results[i].description)
            servo_description_merge(merged, out->results[i].description);
    return merged;
}

struct servo_measurement *bus_outcome_measurement(const struct bus_outcome *out)
{
    struct servo_measurement *merged = servo_measurement_new();
    for (size_t i = 0; i < out->count; i++) {
        struct servo_measurement *m = (struct servo_measurement *)out->results[i].measurement;
        if (m)
            servo_measurement_merge(merged, m);
    }
    return merged;
}

/* ---- the handler's view (include/servo/events.h) ---------------------------------------- */

const char *servo_event_name(const struct servo_event *event)
{
    return event->name;
}

enum servo_preposition servo_event_preposition(const struct servo_event *event)
{
    return event->preposition;
}

const struct servo_control *servo_event_control(const struct servo_event *event)
{
    return &event->dispatch->args->control;
}

size_t servo_event_metric_count(const struct servo_event *event)
{
    return event->dispatch->args->metric_count;
}

const char *servo_event_metric(const struct servo_event *event, size_t index)
{
    const struct event_args *a = event->dispatch->args;
    return index < a->metric_count ? a->metrics[index] : NULL;
}

bool servo_event_wants_metric(const struct servo_event *event, const char *metric)
{
    const struct event_args *a = event->dispatch->args;
    if (a->metric_count == 0)
        return true;
    for (size_t i = 0; i < a->metric_count; i++)
        if (strcmp(a->metrics[i], metric) == 0)
            return true;
    return false;
}

const struct servo_adjustments *servo_event_adjustments(const struct servo_event *event)
{
    static const struct servo_adjustments none = {0};
    const struct servo_adjustments *a = event->dispatch->args->adjustments;
    return a ? a : &none;
}

const json_t *servo_event_argument(const struct servo_event *event)
{
    return event->dispatch->args->argument;
}

struct cancel_token *bus_event_token(const struct servo_event *event)
{
    return &event->dispatch->token;
}

bool servo_event_cancelled(const struct servo_event *event)
{
    return cancel_is_set(&event->dispatch->token);
}

double servo_event_remaining(const struct servo_event *event)
{
    return cancel_remaining(&event->dispatch->token);
}

int servo_event_sleep(const struct servo_event *event, servo_duration duration)
{
    double seconds = servo_duration_seconds(duration);
    return cancel_wait(&event->dispatch->token, seconds > 0 ? seconds : 0) ? -1 : 0;
}

void servo_event_set_description(struct servo_event *event, struct servo_description *description)
{
    if (event->description != NULL && description != event->description) {
        servo_description_merge(event->description, description);
        servo_description_free(description);
        return;
    }
    event->description = description;
}

void servo_event_set_measurement(struct servo_event *event, struct servo_measurement *measurement)
{
    if (event->measurement != NULL && measurement != event->measurement) {
        servo_measurement_merge(event->measurement, measurement);
        servo_measurement_free(measurement);
        return;
    }
    event->measurement = measurement;
}

void servo_event_add_metric(struct servo_event *event, const char *name, const char *unit)
{
    if (event->description == NULL)
        event->description = servo_description_new();
    servo_description_add_metric(event->description, name, unit);
}

void servo_event_set_value(struct servo_event *event, json_t *value)
{
    json_decref(event->value);
    event->value = value;
}

int servo_event_fail(struct servo_event *event, enum servo_error_kind kind, const char *reason,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    servo_error_set(&event->error, kind == SERVO_ERROR_NONE ? SERVO_ERROR_FAILED : kind, reason,
                    "%s", message);
    free(message);
    event->failed = true;
    return -1;
}

int servo_event_cancel(struct servo_event *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    if (event->preposition != SERVO_BEFORE) {
        servo_error_set(&event->error, SERVO_ERROR_FAILED, "",
                        "only a before handler can cancel an event (%s)", message);
        event->failed = true;
    } else {
        servo_error_set(&event->error, SERVO_ERROR_CANCELLED, "", "%s", message);
        event->cancel_requested = true;
    }
    free(message);
    return -1;
}

void servo_event_progress(struct servo_event *event, double percent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    if (!isfinite(percent))
        percent = 0;
    percent = fmin(fmax(percent, 0), 100);
    struct dispatch *d = event->dispatch;
    if (d->progress)
        d->progress(d->progress_context, event->connector->name, event->label, percent, message);
    else
        servo_info("%s (%.0f%% complete)", message, percent);
    free(message);
}

size_t servo_event_result_count(const struct servo_event *event)
{
    return event->dispatch->result_count;
}

const struct servo_event_result *servo_event_result(const struct servo_event *event, size_t index)
{
    const struct dispatch *d = event->dispatch;
    return index < d->result_count ? &d->results[index] : NULL;
}
