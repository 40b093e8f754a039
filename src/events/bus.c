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

/* A handler that ignores its deadline (or a cancellation) gets this much longer before it is
 * abandoned. */
#define ABANDON_GRACE_SECONDS 5.0
/* How often the dispatching thread looks at the caller's token while it waits for handlers. */
#define JOIN_POLL_SECONDS 0.02

/* Everything a handler can reach through its event. The dispatch owns it: its own copy of the
 * arguments, its own token (the caller's cancellation is passed on to it), the results after
 * handlers see. It lives as long as its last user: the dispatching thread, or a handler that
 * was abandoned and still runs. */
struct dispatch {
    atomic_int refs;
    char *event;
    struct event_args args; /* copies: control, metrics, adjustments, argument */
    char **metrics;
    struct servo_adjustments adjustments;
    json_t *argument;
    struct cancel_token token;   /* no parent: the dispatching thread passes cancellation on */
    struct cancel_token *parent; /* the caller's; only the dispatching thread reads it */
    double grace;
    pthread_mutex_t lock; /* the progress sink, cleared when the dispatch returns */
    progress_sink progress;
    void *progress_context;
    const struct servo_event_result *results; /* for after handlers */
    size_t result_count;
    struct servo_event_result *kept_results; /* the outcome's, kept for an abandoned handler */
    size_t kept_count;
    char *servo_prefix; /* the dispatching thread's servo name, for handler logs */
};

struct job {
    struct servo_event event;
    const struct servo_handler *handler;
    pthread_t thread;
    bool threaded; /* runs on `thread` (else it ran on the dispatching thread) */
    bool busy;     /* not run: an abandoned handler of its connector still runs */
    bool finished; /* under abandoned_lock */
    bool abandoned;
};

struct jobs {
    struct job **items;
    size_t count;
    size_t capacity;
};

/* The handlers abandoned and still running, with their connectors: a connector is not
 * entered again until its abandoned handler returns. */
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t abandoned_done = PTHREAD_COND_INITIALIZER;
static struct job **abandoned_jobs;
static size_t abandoned_count, abandoned_capacity;

static void copy_args(struct dispatch *d, const struct event_args *from)
{
    event_args_init(&d->args);
    if (from == NULL)
        return;
    servo_control_copy(&d->args.control, &from->control);
    if (from->metric_count > 0) {
        d->metrics = xcalloc(from->metric_count, sizeof *d->metrics);
        for (size_t i = 0; i < from->metric_count; i++)
            d->metrics[i] = xstrdup(from->metrics[i]);
        d->args.metrics = (const char *const *)d->metrics;
        d->args.metric_count = from->metric_count;
    }
    if (from->adjustments != NULL) {
        for (size_t i = 0; i < from->adjustments->count; i++) {
            const struct servo_adjustment *a = &from->adjustments->items[i];
            if (a->is_text)
                servo_adjustments_add_text(&d->adjustments, a->component, a->setting, a->text);
            else
                servo_adjustments_add(&d->adjustments, a->component, a->setting, a->value);
            d->adjustments.items[d->adjustments.count - 1].integer = a->integer;
        }
        d->args.adjustments = &d->adjustments;
    }
    if (from->argument != NULL) {
        d->argument = json_deep_copy(from->argument);
        d->args.argument = d->argument;
    }
}

static void free_result_values(struct servo_event_result *results, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        servo_description_free((struct servo_description *)results[i].description);
        servo_measurement_free((struct servo_measurement *)results[i].measurement);
        json_decref((json_t *)results[i].value);
        free((void *)results[i].error);
    }
    free(results);
}

static void dispatch_release(struct dispatch *d)
{
    if (d == NULL || atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    for (size_t i = 0; i < d->args.metric_count; i++)
        free(d->metrics[i]);
    free(d->metrics);
    event_args_free(&d->args);
    servo_adjustments_clear(&d->adjustments);
    json_decref(d->argument);
    cancel_destroy(&d->token);
    pthread_mutex_destroy(&d->lock);
    free_result_values(d->kept_results, d->kept_count);
    free(d->servo_prefix);
    free(d->event);
    free(d);
}

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

static bool connector_busy(const struct servo_connector *c)
{
    pthread_mutex_lock(&abandoned_lock);
    bool busy = false;
    for (size_t i = 0; i < abandoned_count && !busy; i++)
        busy = abandoned_jobs[i]->event.connector == c;
    pthread_mutex_unlock(&abandoned_lock);
    return busy;
}

bool bus_connector_busy(const struct servo_connector *connector)
{
    return connector_busy(connector);
}

size_t bus_abandoned_count(void)
{
    pthread_mutex_lock(&abandoned_lock);
    size_t count = abandoned_count;
    pthread_mutex_unlock(&abandoned_lock);
    return count;
}

bool bus_wait_abandoned(double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double t = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + seconds;
    until.tv_sec = (time_t)t;
    until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&abandoned_lock);
    while (abandoned_count > 0)
        if (pthread_cond_timedwait(&abandoned_done, &abandoned_lock, &until) == ETIMEDOUT)
            break;
    bool none = abandoned_count == 0;
    pthread_mutex_unlock(&abandoned_lock);
    return none;
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
    if (connector_busy(c)) {
        job->busy = true;
        job->event.failed = true;
        servo_error_set(&job->event.error, SERVO_ERROR_FAILED, "busy",
                        "%s handler of %s not run: the connector is busy (a handler of it that "
                        "did not stop at its deadline still runs)",
                        job->event.label, c->name);
        servo_error("%s", job->event.error.message);
    }
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

/* An abandoned job's thread, done at last: the connector is free again; the job and its
 * share of the dispatch go. */
static void release_abandoned(struct job *job)
{
    for (size_t i = 0; i < abandoned_count; i++) {
        if (abandoned_jobs[i] == job) {
            abandoned_jobs[i] = abandoned_jobs[--abandoned_count];
            break;
        }
    }
    pthread_cond_broadcast(&abandoned_done);
}

static void run_handler(struct job *job)
{
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
}

static void *run_job(void *arg)
{
    struct job *job = arg;
    run_handler(job);
    pthread_mutex_lock(&abandoned_lock);
    job->finished = true;
    bool abandoned = job->abandoned;
    if (abandoned)
        release_abandoned(job);
    pthread_mutex_unlock(&abandoned_lock);
    if (abandoned) {
        servo_warning("the abandoned %s handler of %s returned at last", job->event.label,
                      job->event.connector->name);
        struct dispatch *d = job->event.dispatch;
        free_job(job);
        dispatch_release(d);
    }
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

/* The caller's cancellation, passed on to the dispatch's own token. */
static void pass_on_cancellation(struct dispatch *d)
{
    if (d->parent != NULL && cancel_requested(d->parent) && !cancel_requested(&d->token))
        cancel_trigger(&d->token, cancel_reason(d->parent));
}

/* How long the handlers have been told to stop: past the deadline, or since the cancellation
 * was seen (`*cancelled_at`, monotonic, set here). */
static double overdue(struct dispatch *d, double *cancelled_at)
{
    double late = -cancel_remaining(&d->token);
    if (cancel_requested(&d->token)) {
        if (*cancelled_at == 0)
            *cancelled_at = clock_monotonic();
        late = fmax(late, clock_monotonic() - *cancelled_at);
    }
    return late;
}

/* Marks a job abandoned, unless it finished meanwhile; true when abandoned. */
static bool abandon(struct job *job, struct dispatch *d)
{
    pthread_mutex_lock(&abandoned_lock);
    bool finished = job->finished;
    if (!finished) {
        job->abandoned = true;
        atomic_fetch_add(&d->refs, 1);
        xgrow((void **)&abandoned_jobs, sizeof *abandoned_jobs, abandoned_count,
              &abandoned_capacity);
        abandoned_jobs[abandoned_count++] = job;
    }
    pthread_mutex_unlock(&abandoned_lock);
    if (finished)
        return false;
    pthread_detach(job->thread);
    cancel_trigger(&d->token, "the handler was abandoned");
    return true;
}

/* Joins a handler thread; one that is still running `grace` seconds after its deadline (or
 * after a cancellation) is abandoned and reported. Returns false when abandoned. */
static bool join_job(struct job *job, struct dispatch *d)
{
    double cancelled_at = 0;
    for (;;) {
        pass_on_cancellation(d);
        struct timespec until = realtime_after(JOIN_POLL_SECONDS);
        if (pthread_timedjoin_np(job->thread, NULL, &until) == 0)
            return true;
        if (overdue(d, &cancelled_at) < d->grace)
            continue;
        if (abandon(job, d)) {
            servo_error("%s handler of %s did not stop %g s after its deadline; abandoned",
                        job->event.label, job->event.connector->name, d->grace);
            return false;
        }
        pthread_join(job->thread, NULL);
        return true;
    }
}

static void start_job(struct job *job)
{
    if (job->busy)
        return;
    job->threaded = pthread_create(&job->thread, NULL, run_job, job) == 0;
    if (!job->threaded)
        run_handler(job); /* no thread to be had: run it here */
}

/* Joins a started job; NULL in its slot when abandoned (the thread frees it). */
static bool finish_job(struct jobs *jobs, size_t i, struct dispatch *d)
{
    struct job *job = jobs->items[i];
    if (!job->threaded || join_job(job, d))
        return true;
    jobs->items[i] = NULL;
    return false;
}

/* Runs the jobs on their own threads, concurrently unless `sequential_first` asks to stop at
 * the first result. Returns the number of jobs that ran (all, or up to the first). */
static size_t run_jobs(struct jobs *jobs, struct dispatch *d, bool sequential_first,
                       bool *abandoned)
{
    if (sequential_first) {
        for (size_t i = 0; i < jobs->count; i++) {
            start_job(jobs->items[i]);
            if (!finish_job(jobs, i, d)) {
                *abandoned = true;
                return i + 1;
            }
            struct servo_event *ev = &jobs->items[i]->event;
            if (!ev->failed && (ev->description || ev->measurement || ev->value))
                return i + 1;
        }
        return jobs->count;
    }
    for (size_t i = 0; i < jobs->count; i++)
        start_job(jobs->items[i]);
    for (size_t i = 0; i < jobs->count; i++)
        if (!finish_job(jobs, i, d))
            *abandoned = true;
    return jobs->count;
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

/* An after handler still running keeps the results it may read: the dispatch takes them
 * over, and the outcome refers to them until both are done. */
static void keep_results(struct dispatch *d, struct bus_outcome *out)
{
    d->kept_results = out->results;
    d->kept_count = out->count;
    atomic_fetch_add(&d->refs, 1);
    out->keeper = d;
}

static void run_after(struct servo_connector *connectors, size_t count, const char *event,
                      const struct bus_options *o, struct dispatch *d, struct bus_outcome *out,
                      bool *abandoned)
{
    struct jobs jobs = {0};
    d->results = out->results;
    d->result_count = out->count;
    collect_jobs(connectors, count, event, SERVO_AFTER, o, d, &jobs);
    bool after_abandoned = false;
    run_jobs(&jobs, d, false, &after_abandoned);
    for (size_t i = 0; i < jobs.count; i++) {
        if (jobs.items[i] == NULL)
            record_abandoned(out, SERVO_AFTER, event);
        else if (jobs.items[i]->event.failed)
            record_error(out, &jobs.items[i]->event.error);
    }
    free_jobs(&jobs);
    if (after_abandoned) {
        keep_results(d, out);
        *abandoned = true;
    }
}

static struct dispatch *dispatch_new(const char *event, const struct event_args *args,
                                     const struct bus_options *o)
{
    struct dispatch *d = xcalloc(1, sizeof *d);
    atomic_init(&d->refs, 1);
    d->event = xstrdup(event);
    copy_args(d, args);
    d->parent = o->parent;
    /* the nearest deadline, the caller's included; the caller's cancellation is passed on */
    double remaining = o->parent ? cancel_remaining(o->parent) : 1e9;
    double timeout = o->timeout > 0 ? fmin(o->timeout, remaining) : remaining;
    cancel_init(&d->token, NULL, timeout < 1e9 ? fmax(timeout, 1e-6) : 0);
    pass_on_cancellation(d);
    d->grace = o->grace > 0 ? o->grace : ABANDON_GRACE_SECONDS;
    pthread_mutex_init(&d->lock, NULL);
    d->progress = o->progress;
    d->progress_context = o->progress_context;
    const char *prefix = log_get_servo_prefix();
    d->servo_prefix = prefix ? xstrdup(prefix) : NULL;
    return d;
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
    struct dispatch *d = dispatch_new(event, args, o);
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
    /* an abandoned handler may still report progress: not to the caller's sink any more */
    pthread_mutex_lock(&d->lock);
    d->progress = NULL;
    d->progress_context = NULL;
    pthread_mutex_unlock(&d->lock);
    dispatch_release(d);
    return rc;
}

void bus_outcome_free(struct bus_outcome *out)
{
    if (out->keeper != NULL)
        dispatch_release(out->keeper); /* the results are the dispatch's now */
    else
        free_result_values(out->results, out->count);
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
    return &event->dispatch->args.control;
}

size_t servo_event_metric_count(const struct servo_event *event)
{
    return event->dispatch->args.metric_count;
}

const char *servo_event_metric(const struct servo_event *event, size_t index)
{
    const struct event_args *a = &event->dispatch->args;
    return index < a->metric_count ? a->metrics[index] : NULL;
}

bool servo_event_wants_metric(const struct servo_event *event, const char *metric)
{
    const struct event_args *a = &event->dispatch->args;
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
    const struct servo_adjustments *a = event->dispatch->args.adjustments;
    return a ? a : &none;
}

const json_t *servo_event_argument(const struct servo_event *event)
{
    return event->dispatch->args.argument;
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
    pthread_mutex_lock(&d->lock);
    if (d->progress)
        d->progress(d->progress_context, event->connector->name, event->label, percent, message);
    else
        servo_info("%s (%.0f%% complete)", message, percent);
    pthread_mutex_unlock(&d->lock);
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
