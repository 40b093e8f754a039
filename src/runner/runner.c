/* The run loop of one servo (runner.h): HELLO, the startup event, then WHATS_NEXT and the
 * command it answers, again and again, until shutdown; then the shutdown event and GOODBYE.
 * docs/runner.md explains the decisions (restarts, progress, delivery, malformed commands).
 *
 * Threads: the loop runs on the caller's thread. While a command's event is dispatched, a
 * progress worker posts the connectors' progress reports; it is the only other user of the
 * client, and the loop never posts while it runs, so the transport is used by one thread at
 * a time. */
#include "runner/runner.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "events/bus.h"
#include "runner/status.h"
#include "servo/events.h"
#include "types/wire.h"
#include "util/log.h"
#include "util/util.h"

#define SLEEP_DEFAULT_SECONDS 120.0   /* SLEEP without a duration */
#define GONE_SLEEP_SECONDS 3600.0     /* after 410 "unexpected servo_uid" */
#define IDLE_FLOOR_SECONDS 1.0        /* back-off after an unproductive WHATS_NEXT: floor, */
#define IDLE_CAP_SECONDS 60.0         /* doubling up to this */
#define REJECTED_PAUSE_SECONDS 5.0    /* after a 4xx to WHATS_NEXT (a token revoked?) */
#define RECONNECT_PAUSE_SECONDS 2.0   /* before HELLO again after giving up on a post */
#define PROGRESS_INTERVAL_SECONDS 1.0 /* at most one progress report per command per second */
#define PROGRESS_POST_SECONDS 5.0     /* retry budget of one progress report */
#define PROGRESS_DRAIN_SECONDS 2.0    /* a finished command waits this long for its reporter */
#define SHUTDOWN_EVENT_SECONDS 2.0    /* deadline of the shutdown event */
#define PROMOTE_EVENT_SECONDS 600.0   /* deadline of the promote event */
#define LAST_CHANCE_SECONDS 2.0       /* delivering a finished result once shutdown began */
#define GOODBYE_SECONDS 3.0           /* retry budget of GOODBYE */
#define TELEMETRY_SECONDS 5.0         /* deadline of the telemetry event before HELLO */
#define EVENT_CEILING_SECONDS 3600.0  /* deadline of a command the control gives no duration */
#define MEASURE_SLACK_SECONDS 10.0    /* a measurement's deadline: its control's time + 50 % */
#define INVALID_PARAM_REASON "invalid-param"
#define RESULT_REJECTED_REASON "result-rejected"

/* What the loop does after a step. */
enum step {
    STEP_CONTINUE,  /* poll WHATS_NEXT again */
    STEP_RESTART,   /* out of sync with the optimizer: GOODBYE "restarting", then HELLO */
    STEP_RECONNECT, /* the optimizer could not be reached: pause, then HELLO */
    STEP_GONE,      /* 410: this servo was deprovisioned; sleep an hour, then HELLO */
    STEP_STOP,      /* shutdown (or max_commands): leave */
    STEP_FAIL,      /* HELLO was never answered: the loop has to stop */
};

struct runner {
    struct servo_config *servo;
    struct client client;
    const struct runner_options *options;
    struct cancel_token *shutdown;
    struct backoff_policy connect_policy; /* HELLO */
    struct backoff_policy default_policy; /* WHATS_NEXT and results */
    unsigned long commands;               /* commands carried out (SLEEP included) */
    unsigned long measures;               /* MEASURE commands started: the trial number */
    unsigned idle_streak; /* unproductive replies in a row: SLEEP 0, invalid or unknown */
    bool connected;       /* the latest HELLO was answered */
    bool started;         /* the startup event was dispatched */
};

/* ---- replies ----------------------------------------------------------------------------- */

enum reply_kind {
    REPLY_OK,
    REPLY_OUT_OF_SYNC, /* unexpected-event, or invalid "unexpected cmd_uid" */
    REPLY_CANCEL,
    REPLY_OTHER, /* another status, or no status at all (logged) */
};

static const char *reply_reason(const json_t *reply)
{
    const char *reason = json_string_value(json_object_get(reply, "reason"));
    return reason ? reason : "";
}

/* Sorts an optimizer status reply to `event`, logging what is not "ok". */
static enum reply_kind classify_reply(const char *event, const json_t *reply)
{
    const char *status = json_string_value(json_object_get(reply, "status"));
    const char *reason = reply_reason(reply);
    if (str_eq(status, "ok"))
        return REPLY_OK;
    if (str_eq(status, "cancel"))
        return REPLY_CANCEL;
    if (str_eq(status, "unexpected-event") ||
        (str_eq(status, "invalid") && str_eq(reason, "unexpected cmd_uid"))) {
        servo_warning("The optimizer answered %s with \"%s\": %s", event, status,
                      reason[0] ? reason : "(no reason)");
        return REPLY_OUT_OF_SYNC;
    }
    if (status != NULL) {
        servo_warning("The optimizer answered %s with status \"%s\"%s%s", event, status,
                      reason[0] ? ": " : "", reason);
        return REPLY_OTHER;
    }
    char *text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
    servo_warning("The optimizer answered %s with an unrecognized reply: %s", event,
                  text ? text : "?");
    free(text);
    return REPLY_OTHER;
}

/* ---- commands ---------------------------------------------------------------------------- */

struct progress_report {
    double percent;
    char *message;
};

/* The progress of one command: the sink (on handler threads) queues reports, the worker posts
 * them. At most one report is posted per interval; a newer report replaces one still waiting;
 * what waits when the command ends is dropped. */
struct progress {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool thread_started;
    bool stopping;
    struct progress_report *ready;   /* committed: posted as soon as the worker can */
    struct progress_report *pending; /* the newest report, waiting for the interval */
    double last_commit;              /* monotonic seconds; 0: none yet */
    const char *log_prefix;          /* the servo prefix of the loop's thread */
    struct cancel_token token;       /* child of the command's; aborts a post that hangs */
};

struct command {
    struct runner *runner;
    const char *name;          /* "MEASURE" */
    const char *operation;     /* "MEASUREMENT": the result event and the progress event */
    json_t *uid;               /* the cmd_uid to echo (json null when none) */
    const json_t *param;       /* borrowed from the reply; NULL when absent or null */
    struct cancel_token token; /* child of shutdown; the optimizer's cancel triggers it */
    double started;            /* monotonic */
    struct progress progress;
    /* What the optimizer said to a progress report (written by the worker, read after it
     * was joined). */
    bool cancelled;
    char cancel_message[SERVO_ERROR_MESSAGE_MAX];
    bool out_of_sync;
    bool gone;
    bool invalid; /* refused before any connector ran (invalid-param) */
};

static const char *uid_text(const json_t *uid)
{
    const char *text = json_string_value(uid);
    return text ? text : "null";
}

static void report_free(struct progress_report *report)
{
    if (report == NULL)
        return;
    free(report->message);
    free(report);
}

static json_t *progress_param(const struct command *c, const struct progress_report *report)
{
    json_t *param = json_object();
    json_object_set_new(param, "progress", json_real(report->percent));
    /* as ServoX: seconds since the command started, when the report is posted */
    json_object_set_new(param, "runtime", json_real(clock_monotonic() - c->started));
    json_object_set(param, "cmd_uid", c->uid);
    if (report->message && report->message[0])
        json_object_set_new(param, "message", wire_string(report->message));
    return param;
}

/* The optimizer's answer to a progress report. */
static void progress_reply(struct command *c, const json_t *reply)
{
    switch (classify_reply(c->operation, reply)) {
    case REPLY_OK:
    case REPLY_OTHER:
        return;
    case REPLY_CANCEL: {
        const char *reason = reply_reason(reply);
        snprintf(c->cancel_message, sizeof c->cancel_message, "%s",
                 reason[0] ? reason : "Command cancelled");
        servo_error("The optimizer cancelled %s (cmd_uid %s): %s", c->name, uid_text(c->uid),
                    c->cancel_message);
        c->cancelled = true;
        cancel_trigger(&c->token, c->cancel_message);
        return;
    }
    case REPLY_OUT_OF_SYNC:
        servo_error("The servo has lost synchronization with the optimizer: dropping %s "
                    "(cmd_uid %s)",
                    c->name, uid_text(c->uid));
        c->out_of_sync = true;
        cancel_trigger(&c->token, "the optimizer lost track of the command");
        return;
    }
}

static void post_progress(struct command *c, const struct progress_report *report)
{
    static const struct backoff_policy policy = {
        .max_time = PROGRESS_POST_SECONDS, .max_tries = 2, .base = 0.5, .cap = 2.0};
    json_t *param = progress_param(c, report);
    json_t *reply = NULL;
    enum post_result result =
        client_post(&c->runner->client, c->operation, param, &policy, &c->progress.token, &reply);
    switch (result) {
    case POST_OK:
        progress_reply(c, reply);
        break;
    case POST_GONE:
        c->gone = true;
        cancel_trigger(&c->token, "the servo was deprovisioned");
        break;
    case POST_GAVE_UP:
    case POST_REJECTED:
        servo_warning("A progress report of %s was not delivered", c->name);
        break;
    case POST_CANCELLED:
        break;
    }
    json_decref(reply);
    json_decref(param);
}

static void wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double wake = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)wake;
    ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(cond, lock, &ts);
}

/* Moves the pending report to ready once the interval since the last one has passed; else
 * waits for that, or for anything new. Called with the lock held. */
static void progress_wait(struct progress *p)
{
    if (p->pending == NULL) {
        pthread_cond_wait(&p->wake, &p->lock);
        return;
    }
    double now = clock_monotonic();
    double due = p->last_commit + PROGRESS_INTERVAL_SECONDS;
    if (now < due) {
        wait_until(&p->wake, &p->lock, due - now);
        return;
    }
    p->ready = p->pending;
    p->pending = NULL;
    p->last_commit = now;
}

static void *progress_worker(void *arg)
{
    struct command *c = arg;
    struct progress *p = &c->progress;
    log_set_servo_prefix(p->log_prefix);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->ready != NULL) {
            struct progress_report *report = p->ready;
            p->ready = NULL;
            pthread_mutex_unlock(&p->lock);
            post_progress(c, report);
            report_free(report);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (p->stopping)
            break;
        progress_wait(p);
    }
    report_free(p->pending);
    p->pending = NULL;
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The bus's progress sink: logs the report like the bus would, queues it for the worker. */
static void report_progress(void *context, const char *connector, const char *event, double percent,
                            const char *message)
{
    (void)connector;
    (void)event;
    struct command *c = context;
    struct progress *p = &c->progress;
    servo_info("%s (%.0f%% complete)", message, percent);
    if (percent >= 100.0)
        return; /* "done" is what the result says; ServoX never sent 100 % either */
    double now = clock_monotonic();
    struct progress_report *report = xmalloc(sizeof *report);
    *report = (struct progress_report){percent, xstrdup(message)};
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        report_free(report);
    } else if (p->ready == NULL &&
               (p->last_commit == 0 || now - p->last_commit >= PROGRESS_INTERVAL_SECONDS)) {
        p->ready = report;
        p->last_commit = now;
    } else {
        report_free(p->pending);
        p->pending = report;
    }
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

static void progress_start(struct command *c)
{
    struct progress *p = &c->progress;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &attr);
    pthread_condattr_destroy(&attr);
    p->log_prefix = log_get_servo_prefix();
    cancel_init(&p->token, &c->token, 0);
    p->thread_started = pthread_create(&p->thread, NULL, progress_worker, c) == 0;
    if (!p->thread_started)
        servo_warning("Cannot start the progress reporter of %s: progress is not reported",
                      c->name);
}

/* Stops the worker once it has posted what was committed (a post that takes more than a
 * moment is aborted: the result must not wait for it); drops what waits. */
static void progress_stop(struct command *c)
{
    struct progress *p = &c->progress;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->thread_started) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)PROGRESS_DRAIN_SECONDS;
        if (pthread_timedjoin_np(p->thread, NULL, &until) != 0) {
            cancel_trigger(&p->token, "the command is done");
            pthread_join(p->thread, NULL);
        }
    }
    cancel_destroy(&p->token);
    report_free(p->ready);
    report_free(p->pending);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
}

/* ---- results ----------------------------------------------------------------------------- */

/* {"status":"ok","message":null,"reason":"success"}; the payload and cmd_uid follow. */
static json_t *ok_param(void)
{
    json_t *param = json_object();
    json_object_set_new(param, "status", json_string("ok"));
    json_object_set_new(param, "message", json_null());
    json_object_set_new(param, "reason", json_string("success"));
    return param;
}

static json_t *failure_param(const char *status, const char *message, const char *reason)
{
    json_t *param = json_object();
    json_object_set_new(param, "status", json_string(status));
    /* connector text may hold anything (a truncated message, a command's stderr) */
    json_object_set_new(param, "message", wire_string(message));
    json_object_set_new(param, "reason", reason && reason[0] ? wire_string(reason) : json_null());
    return param;
}

static json_t *error_param(const char *what, const struct servo_error *e)
{
    const char *status =
        servo_error_status(e->kind == SERVO_ERROR_NONE ? SERVO_ERROR_FAILED : e->kind);
    servo_error("%s failed (%s%s%s): %s", what, status, e->reason[0] ? ", reason " : "", e->reason,
                e->message);
    return failure_param(status, e->message, e->reason);
}

static json_t *invalid_param(struct command *c, const char *problem)
{
    c->invalid = true;
    char *message = xasprintf("invalid %s command: %s", c->name, problem);
    servo_error("%s (cmd_uid %s)", message, uid_text(c->uid));
    json_t *param = failure_param("failed", message, INVALID_PARAM_REASON);
    free(message);
    return param;
}

/* ---- describe, measure, adjust ----------------------------------------------------------- */

/* Every command's event has a deadline: a measurement's comes from the optimizer's control
 * (warm-up, duration and delay, plus half of that or MEASURE_SLACK_SECONDS, whichever is
 * more); otherwise the ceiling (the connectors' own timeouts are shorter). */
static double event_deadline(const char *event, const struct servo_control *control)
{
    if (strcmp(event, SERVO_EVENT_MEASURE) != 0 || control->duration <= 0)
        return EVENT_CEILING_SECONDS;
    double planned = servo_duration_seconds(control->duration);
    if (control->warmup > 0)
        planned += servo_duration_seconds(control->warmup);
    if (control->delay > 0)
        planned += servo_duration_seconds(control->delay);
    return planned + fmax(MEASURE_SLACK_SECONDS, planned / 2);
}

static int dispatch(struct command *c, const char *event, const struct event_args *args,
                    struct bus_outcome *out)
{
    struct servo_config *servo = c->runner->servo;
    double deadline = event_deadline(event, &args->control);
    status_doing(servo->name, c->name, deadline + PROGRESS_DRAIN_SECONDS);
    struct bus_options options = {.parent = &c->token,
                                  .timeout = deadline,
                                  .progress = report_progress,
                                  .progress_context = c};
    return bus_dispatch(servo->connectors, servo->connector_count, event, args, &options, out);
}

/* The param's "control" into args->control; -1 with a message. */
static int parse_control(const struct command *c, struct event_args *args, char **problem)
{
    char *error = NULL;
    if (servo_control_from_json(json_object_get(c->param, "control"), &args->control, &error) == 0)
        return 0;
    *problem = xasprintf("control: %s", error ? error : "invalid");
    free(error);
    servo_control_init(&args->control); /* left freed by the decoder */
    return -1;
}

static int check_param_object(const struct command *c, char **problem)
{
    if (c->param == NULL || json_is_object(c->param))
        return 0;
    *problem = xstrdup("param: expected an object");
    return -1;
}

typedef json_t *(*command_fn)(struct command *c, struct event_args *args, bool *succeeded);

static json_t *describe(struct command *c, struct event_args *args, bool *succeeded)
{
    servo_info("Describing...");
    struct bus_outcome out;
    json_t *result;
    if (dispatch(c, SERVO_EVENT_DESCRIBE, args, &out) == 0) {
        struct servo_description *d = bus_outcome_description(&out);
        servo_success("Described: %zu components, %zu metrics", d->component_count,
                      d->metric_count);
        result = ok_param();
        json_object_set_new(result, "descriptor", servo_description_to_json(d));
        servo_description_free(d);
        *succeeded = true;
    } else {
        result = error_param("Describe", &out.error);
    }
    bus_outcome_free(&out);
    return result;
}

/* MEASURE's metrics: a list of names, or an object whose keys are the names; none: all. */
static int parse_metrics(const json_t *json, struct event_args *args, char **problem)
{
    if (json == NULL || json_is_null(json))
        return 0;
    size_t count = json_is_array(json) ? json_array_size(json) : json_object_size(json);
    if (!json_is_array(json) && !json_is_object(json)) {
        *problem = xstrdup("metrics: expected a list of metric names or an object");
        return -1;
    }
    const char **names = xcalloc(count + 1, sizeof *names);
    size_t n = 0;
    if (json_is_object(json)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)json, key, value)
        {
            names[n++] = key;
        }
    } else {
        for (; n < count; n++) {
            names[n] = json_string_value(json_array_get(json, n));
            if (names[n] == NULL) {
                *problem = xasprintf("metrics[%zu]: expected a metric name", n);
                free(names);
                return -1;
            }
        }
    }
    args->metrics = names;
    args->metric_count = n;
    return 0;
}

static char *metrics_summary(const struct event_args *args)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < args->metric_count; i++)
        strbuf_printf(&sb, "%s%s", i ? ", " : "", args->metrics[i]);
    return strbuf_detach(&sb);
}

static json_t *measure(struct command *c, struct event_args *args, bool *succeeded)
{
    char *problem = NULL;
    if (parse_metrics(json_object_get(c->param, "metrics"), args, &problem) != 0) {
        json_t *result = invalid_param(c, problem);
        free(problem);
        return result;
    }
    char *summary = metrics_summary(args);
    status_trial(c->runner->servo->name, (double)++c->runner->measures);
    servo_info("Measuring... [metrics=%s]", summary);
    free(summary);
    struct bus_outcome out;
    json_t *result;
    if (dispatch(c, SERVO_EVENT_MEASURE, args, &out) == 0) {
        struct servo_measurement *m = bus_outcome_measurement(&out);
        servo_success("Measured: %zu readings, %zu annotations", m->reading_count,
                      m->annotation_count);
        json_t *encoded = servo_measurement_to_json(m);
        result = ok_param();
        json_object_set(result, "metrics", json_object_get(encoded, "metrics"));
        json_object_set(result, "annotations", json_object_get(encoded, "annotations"));
        json_decref(encoded);
        servo_measurement_free(m);
        *succeeded = true;
    } else {
        result = error_param("Measurement", &out.error);
    }
    bus_outcome_free(&out);
    free((void *)args->metrics);
    args->metrics = NULL;
    return result;
}

/* "[main.cpu=1.5, main.replicas=3]", as ServoX printed adjustments. */
static char *adjustments_summary(const struct servo_adjustments *a)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_putc(&sb, '[');
    for (size_t i = 0; i < a->count; i++) {
        const struct servo_adjustment *x = &a->items[i];
        strbuf_printf(&sb, "%s%s.%s=", i ? ", " : "", x->component, x->setting);
        if (x->is_text)
            strbuf_puts(&sb, x->text ? x->text : "");
        else
            strbuf_printf(&sb, "%.15g", x->value);
    }
    strbuf_putc(&sb, ']');
    return strbuf_detach(&sb);
}

static size_t setting_count(const struct servo_description *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->component_count; i++)
        n += d->components[i].setting_count;
    return n;
}

static void record_settings(const char *servo, const struct servo_adjustments *a)
{
    for (size_t i = 0; i < a->count; i++)
        if (!a->items[i].is_text)
            status_setting(servo, a->items[i].component, a->items[i].setting, a->items[i].value);
}

static json_t *run_adjust(struct command *c, struct event_args *args, bool *succeeded,
                          const struct servo_adjustments *adjustments)
{
    char *summary = adjustments_summary(adjustments);
    servo_info("Adjusting... %s", summary);
    args->adjustments = adjustments;
    struct bus_outcome out;
    json_t *result;
    if (dispatch(c, SERVO_EVENT_ADJUST, args, &out) == 0) {
        struct servo_description *d = bus_outcome_description(&out);
        servo_success("Adjustment completed %s", summary);
        record_settings(c->runner->servo->name, adjustments);
        servo_success("Adjusted: %zu components, %zu settings", d->component_count,
                      setting_count(d));
        result = ok_param();
        json_object_set_new(result, "state", servo_description_to_json(d));
        servo_description_free(d);
        *succeeded = true;
    } else {
        result = error_param("Adjustment", &out.error);
    }
    bus_outcome_free(&out);
    args->adjustments = NULL;
    free(summary);
    return result;
}

static json_t *adjust(struct command *c, struct event_args *args, bool *succeeded)
{
    const json_t *state = json_object_get(c->param, "state");
    if (state == NULL || json_is_null(state))
        return invalid_param(c, "no state to adjust to");
    struct servo_adjustments adjustments = {0};
    char *error = NULL;
    json_t *result;
    if (servo_adjustments_from_state(state, &adjustments, &error) != 0) {
        char *problem = xasprintf("state: %s", error ? error : "invalid");
        result = invalid_param(c, problem);
        free(problem);
    } else {
        result = run_adjust(c, args, succeeded, &adjustments);
    }
    free(error);
    servo_adjustments_clear(&adjustments);
    return result;
}

/* ---- posting results --------------------------------------------------------------------- */

static enum step idle(struct runner *r);
static double idle_delay(struct runner *r);

/* A finished result whose delivery shutdown interrupted gets one short, separate try. */
static enum post_result last_chance(struct runner *r, const struct command *c, const json_t *param,
                                    json_t **reply)
{
    static const struct backoff_policy policy = {
        .max_time = LAST_CHANCE_SECONDS, .max_tries = 2, .base = 0.25, .cap = 1.0};
    struct cancel_token deadline;
    cancel_init(&deadline, NULL, LAST_CHANCE_SECONDS);
    servo_info("Shutting down: delivering %s (cmd_uid %s) first", c->operation, uid_text(c->uid));
    enum post_result result =
        client_post(&r->client, c->operation, param, &policy, &deadline, reply);
    cancel_destroy(&deadline);
    return result;
}

static enum step after_result(const struct command *c, enum post_result result, const json_t *reply)
{
    switch (result) {
    case POST_OK:
        switch (classify_reply(c->operation, reply)) {
        case REPLY_OUT_OF_SYNC:
            return STEP_RESTART;
        case REPLY_CANCEL:
            servo_warning("The optimizer cancelled %s (cmd_uid %s) after it was done", c->name,
                          uid_text(c->uid));
            return STEP_CONTINUE;
        case REPLY_OK:
        case REPLY_OTHER:
            return STEP_CONTINUE;
        }
        return STEP_CONTINUE;
    case POST_GAVE_UP:
        servo_error("%s (cmd_uid %s) was not delivered: retries exhausted; the result is lost",
                    c->operation, uid_text(c->uid));
        return STEP_RECONNECT;
    case POST_REJECTED:
        servo_error("%s (cmd_uid %s) was not delivered: the optimizer rejected it", c->operation,
                    uid_text(c->uid));
        return STEP_CONTINUE; /* the caller reports the rejection */
    case POST_GONE:
        return STEP_GONE;
    case POST_CANCELLED:
        servo_warning("Shutting down: %s (cmd_uid %s) was not delivered", c->operation,
                      uid_text(c->uid));
        return STEP_STOP;
    }
    return STEP_CONTINUE;
}

static enum post_result post_result_of(struct runner *r, const struct command *c, json_t *param,
                                       bool succeeded, json_t **reply)
{
    json_object_set(param, "cmd_uid", c->uid);
    enum post_result result =
        client_post(&r->client, c->operation, param, &r->default_policy, r->shutdown, reply);
    if (result == POST_CANCELLED && succeeded) {
        json_decref(*reply);
        *reply = NULL;
        result = last_chance(r, c, param, reply);
    }
    return result;
}

/* A 4xx to a result is final: the command is not run again (the optimizer would only send
 * it again); the optimizer is told it failed, with the reason, so that the study records
 * the failure. */
static enum step report_rejection(struct runner *r, const struct command *c)
{
    char *message = xasprintf("the optimizer rejected the %s result (%s); the command is not "
                              "run again",
                              c->operation, r->client.rejection);
    json_t *failure = failure_param("failed", message, RESULT_REJECTED_REASON);
    free(message);
    json_t *reply = NULL;
    enum post_result result = post_result_of(r, c, failure, false, &reply);
    json_decref(failure);
    enum step step = after_result(c, result, reply);
    json_decref(reply);
    if (result == POST_REJECTED && step == STEP_CONTINUE)
        return idle(r);
    return step;
}

/* Posts a command's result (cmd_uid appended), retried within the __default__ policy. */
static enum step deliver(struct runner *r, const struct command *c, json_t *param, bool succeeded)
{
    json_t *reply = NULL;
    enum post_result result = post_result_of(r, c, param, succeeded, &reply);
    enum step step = after_result(c, result, reply);
    json_decref(reply);
    if (result == POST_REJECTED && step == STEP_CONTINUE)
        return succeeded ? report_rejection(r, c) : idle(r);
    return step;
}

/* After the dispatch: what the optimizer said while it ran decides first. */
static enum step conclude(struct runner *r, struct command *c, json_t *result, bool succeeded)
{
    if (c->gone)
        return STEP_GONE;
    if (c->out_of_sync)
        return STEP_RESTART;
    if (c->cancelled) {
        json_t *cancelled = failure_param("cancelled", c->cancel_message, NULL);
        enum step step = deliver(r, c, cancelled, false);
        json_decref(cancelled);
        return step == STEP_CONTINUE ? STEP_RESTART : step;
    }
    if (cancel_is_set(r->shutdown) && !succeeded) {
        servo_warning("%s (cmd_uid %s) was interrupted by shutdown: no %s is posted", c->name,
                      uid_text(c->uid), c->operation);
        return STEP_STOP;
    }
    r->commands++;
    return deliver(r, c, result, succeeded);
}

struct command_kind {
    const char *name;
    const char *operation;
    command_fn run;
};

static const struct command_kind command_kinds[] = {
    {"DESCRIBE", "DESCRIPTION", describe},
    {"MEASURE", "MEASUREMENT", measure},
    {"ADJUST", "ADJUSTMENT", adjust},
};

static const struct command_kind *find_kind(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(command_kinds); i++)
        if (strcmp(command_kinds[i].name, name) == 0)
            return &command_kinds[i];
    return NULL;
}

/* Parses the common parts of the param (object, control), then runs the command. */
static json_t *run_kind(const struct command_kind *kind, struct command *c, bool *succeeded)
{
    struct event_args args;
    event_args_init(&args);
    char *problem = NULL;
    json_t *result;
    if (check_param_object(c, &problem) != 0 || parse_control(c, &args, &problem) != 0)
        result = invalid_param(c, problem);
    else
        result = kind->run(c, &args, succeeded);
    free(problem);
    event_args_free(&args);
    return result;
}

static void record_event(struct command *c, bool succeeded)
{
    const char *outcome = "failure";
    if (c->invalid)
        outcome = "invalid";
    else if (succeeded)
        outcome = "success";
    else if (c->cancelled || cancel_is_set(&c->token))
        outcome = "cancelled";
    status_event(c->runner->servo->name, c->name, outcome, clock_monotonic() - c->started);
}

static enum step execute(struct runner *r, const struct command_kind *kind, const json_t *reply)
{
    struct command c = {.runner = r, .name = kind->name, .operation = kind->operation};
    json_t *uid = json_object_get(reply, "cmd_uid");
    c.uid = uid ? json_incref(uid) : json_null();
    c.param = json_object_get(reply, "param");
    if (c.param != NULL && json_is_null(c.param))
        c.param = NULL;
    c.started = clock_monotonic();
    cancel_init(&c.token, r->shutdown, 0);
    progress_start(&c);
    bool succeeded = false;
    json_t *result = run_kind(kind, &c, &succeeded);
    progress_stop(&c);
    record_event(&c, succeeded);
    enum step step = conclude(r, &c, result, succeeded);
    if (!c.invalid)
        r->idle_streak = 0;
    else if (step == STEP_CONTINUE)
        step = idle(r); /* the optimizer may send the same invalid command again */
    json_decref(result);
    cancel_destroy(&c.token);
    json_decref(c.uid);
    return step;
}

/* ---- SLEEP ------------------------------------------------------------------------------- */

static double sleep_seconds(const json_t *param)
{
    const json_t *duration = json_object_get(param, "duration");
    double seconds = SLEEP_DEFAULT_SECONDS;
    servo_duration parsed = 0;
    if (json_is_number(duration))
        seconds = json_number_value(duration);
    else if (json_is_string(duration) &&
             servo_duration_parse(json_string_value(duration), &parsed, NULL) == 0)
        seconds = servo_duration_seconds(parsed);
    else if (duration != NULL && !json_is_null(duration))
        servo_warning("SLEEP with an invalid duration: sleeping for the default %.0fs",
                      SLEEP_DEFAULT_SECONDS);
    if (!isfinite(seconds) || seconds < 0)
        return 0;
    return seconds;
}

static enum step run_sleep(struct runner *r, const json_t *reply)
{
    const json_t *param = json_object_get(reply, "param");
    double seconds = sleep_seconds(param);
    const json_t *data = json_object_get(param, "data");
    const char *status = json_string_value(json_object_get(data, "status"));
    const char *reason = json_string_value(json_object_get(data, "reason"));
    char text[SERVO_VALUE_TEXT_MAX];
    servo_duration d = 0;
    if (servo_duration_from_seconds(seconds, &d, NULL) == 0)
        servo_duration_format(d, text);
    else
        snprintf(text, sizeof text, "%gs", seconds);
    servo_info("Sleeping for %s (%s%s%s).", text, status ? status : "", status ? ": " : "",
               reason ? reason : "unknown reason");
    r->commands++;
    if (seconds < IDLE_FLOOR_SECONDS) {
        double delay = idle_delay(r);
        servo_warning("SLEEP of %s: backing off %gs instead", text, delay);
        seconds = delay;
    } else {
        r->idle_streak = 0;
    }
    double started = clock_monotonic();
    status_doing(r->servo->name, "SLEEP", seconds);
    bool stop = cancel_wait(r->shutdown, seconds);
    status_event(r->servo->name, "SLEEP", stop ? "cancelled" : "success",
                 clock_monotonic() - started);
    return stop ? STEP_STOP : STEP_CONTINUE;
}

/* ---- WHATS_NEXT -------------------------------------------------------------------------- */

static enum step pause_then_continue(struct runner *r, double seconds)
{
    status_doing(r->servo->name, "pause", seconds);
    return cancel_wait(r->shutdown, seconds) ? STEP_STOP : STEP_CONTINUE;
}

/* The pause after an unproductive reply (a SLEEP of nothing, a command refused or unknown):
 * from IDLE_FLOOR_SECONDS, doubling while they come in a row, up to IDLE_CAP_SECONDS, so
 * that an optimizer that repeats itself is not hammered. */
static double idle_delay(struct runner *r)
{
    double delay =
        IDLE_FLOOR_SECONDS * ldexp(1.0, (int)(r->idle_streak < 16 ? r->idle_streak : 16));
    r->idle_streak++;
    return fmin(delay, IDLE_CAP_SECONDS);
}

static enum step idle(struct runner *r)
{
    return pause_then_continue(r, idle_delay(r));
}

static enum step run_command(struct runner *r, const json_t *reply)
{
    const char *name = json_string_value(json_object_get(reply, "cmd"));
    if (name == NULL) {
        servo_warning("The optimizer answered WHATS_NEXT with a command that is not a string: "
                      "ignoring it");
        return idle(r);
    }
    servo_info("What's Next? => %s", name);
    if (strcmp(name, "SLEEP") == 0)
        return run_sleep(r, reply);
    const struct command_kind *kind = find_kind(name);
    if (kind == NULL) {
        servo_warning("Unknown command \"%s\" (cmd_uid %s): ignoring it", name,
                      uid_text(json_object_get(reply, "cmd_uid")));
        return idle(r);
    }
    return execute(r, kind, reply);
}

/* A reply to WHATS_NEXT that is not a command. */
static enum step status_instead_of_command(struct runner *r, const json_t *reply)
{
    switch (classify_reply("WHATS_NEXT", reply)) {
    case REPLY_OUT_OF_SYNC:
        return STEP_RESTART;
    case REPLY_CANCEL:
        servo_warning("The optimizer answered WHATS_NEXT with \"cancel\" while nothing runs");
        break;
    case REPLY_OK:
        servo_warning("The optimizer answered WHATS_NEXT with a status, not a command");
        break;
    case REPLY_OTHER:
        break;
    }
    return idle(r);
}

static enum step poll_once(struct runner *r)
{
    json_t *reply = NULL;
    enum post_result result =
        client_post(&r->client, "WHATS_NEXT", NULL, &r->default_policy, r->shutdown, &reply);
    enum step step = STEP_CONTINUE;
    switch (result) {
    case POST_OK:
        step = json_object_get(reply, "cmd") != NULL ? run_command(r, reply)
                                                     : status_instead_of_command(r, reply);
        break;
    case POST_GAVE_UP:
        servo_warning("No command from the optimizer: retries exhausted; connecting again");
        step = STEP_RECONNECT;
        break;
    case POST_REJECTED:
        step = pause_then_continue(r, fmax(REJECTED_PAUSE_SECONDS, idle_delay(r)));
        break;
    case POST_GONE:
        step = STEP_GONE;
        break;
    case POST_CANCELLED:
        step = STEP_STOP;
        break;
    }
    json_decref(reply);
    return step;
}

static bool enough_commands(const struct runner *r)
{
    if (r->options->stop != NULL && r->options->stop(r->options->stop_context))
        return true;
    return r->options->max_commands > 0 && r->commands >= r->options->max_commands;
}

static enum step poll_loop(struct runner *r)
{
    for (;;) {
        if (cancel_is_set(r->shutdown) || enough_commands(r))
            return STEP_STOP;
        enum step step = poll_once(r);
        if (step != STEP_CONTINUE)
            return step;
    }
}

/* ---- HELLO, startup, shutdown, GOODBYE --------------------------------------------------- */

/* The connectors' telemetry (servo/events.h, SERVO_EVENT_TELEMETRY): each on handler's value,
 * an object of strings, becomes "<instance>.<key>" entries of `telemetry`. */
static void add_connector_telemetry(struct runner *r, json_t *telemetry)
{
    struct event_args args;
    event_args_init(&args);
    struct bus_options options = {
        .prepositions = SERVO_ON, .parent = r->shutdown, .timeout = TELEMETRY_SECONDS};
    struct bus_outcome out;
    if (bus_dispatch(r->servo->connectors, r->servo->connector_count, SERVO_EVENT_TELEMETRY, &args,
                     &options, &out) != 0)
        servo_debug("The telemetry event failed: %s", out.error.message);
    for (size_t i = 0; i < out.count; i++) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)out.results[i].value, key, value)
        {
            if (!json_is_string(value))
                continue;
            char *name = xasprintf("%s.%s", out.results[i].connector, key);
            json_object_set_new(telemetry, name, wire_string(json_string_value(value)));
            free(name);
        }
    }
    bus_outcome_free(&out);
    event_args_free(&args);
}

static json_t *hello_param(struct runner *r)
{
    json_t *telemetry = json_object();
    json_object_set_new(telemetry, "servox.version", json_string(SERVO_VERSION));
    struct utsname u;
    if (uname(&u) == 0) {
        char *platform = xasprintf("%s-%s-%s", u.sysname, u.release, u.machine);
        json_object_set_new(telemetry, "servox.platform", json_string(platform));
        free(platform);
    }
    const char *namespace = getenv("POD_NAMESPACE");
    if (namespace != NULL && namespace[0] != '\0')
        json_object_set_new(telemetry, "servox.namespace", wire_string(namespace));
    add_connector_telemetry(r, telemetry);
    json_t *param = json_object();
    json_object_set_new(param, "agent", json_string(servo_user_agent()));
    json_object_set_new(param, "telemetry", telemetry);
    return param;
}

/* HELLO until answered; STEP_CONTINUE once connected. */
static enum step say_hello(struct runner *r)
{
    r->connected = false;
    servo_info("Saying HELLO.");
    json_t *param = hello_param(r);
    json_t *reply = NULL;
    enum post_result result =
        client_post(&r->client, "HELLO", param, &r->connect_policy, r->shutdown, &reply);
    json_decref(param);
    json_decref(reply);
    switch (result) {
    case POST_OK:
        r->connected = true;
        return STEP_CONTINUE;
    case POST_GONE:
        return STEP_GONE;
    case POST_CANCELLED:
        return STEP_STOP;
    case POST_GAVE_UP:
    case POST_REJECTED:
        break;
    }
    servo_critical("Cannot connect to the optimizer: giving up");
    return STEP_FAIL;
}

static void dispatch_lifecycle(struct runner *r, const char *event, struct cancel_token *parent,
                               double timeout)
{
    struct event_args args;
    event_args_init(&args);
    struct bus_options options = {.prepositions = SERVO_ON, .parent = parent, .timeout = timeout};
    struct bus_outcome out;
    if (bus_dispatch(r->servo->connectors, r->servo->connector_count, event, &args, &options,
                     &out) != 0)
        servo_warning("The %s event failed: %s", event, out.error.message);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void say_goodbye(struct runner *r, const char *reason)
{
    static const struct backoff_policy policy = {
        .max_time = GOODBYE_SECONDS, .max_tries = 3, .base = 0.25, .cap = 1.0};
    struct cancel_token deadline;
    cancel_init(&deadline, NULL, GOODBYE_SECONDS);
    json_t *param = json_object();
    json_object_set_new(param, "reason", json_string(reason));
    json_t *reply = NULL;
    servo_info("Saying GOODBYE (%s).", reason);
    if (client_post(&r->client, "GOODBYE", param, &policy, &deadline, &reply) != POST_OK)
        servo_warning("GOODBYE was not delivered");
    json_decref(reply);
    json_decref(param);
    cancel_destroy(&deadline);
    r->connected = false;
}

static bool pause_or_stop(struct runner *r, double seconds)
{
    status_doing(r->servo->name, "pause", seconds);
    return cancel_wait(r->shutdown, seconds);
}

static bool sleep_gone(struct runner *r)
{
    servo_warning("Servo UID %s is no longer valid: waiting for deprovisioning (sleeping for "
                  "1h)",
                  r->client.servo_uid ? r->client.servo_uid : "(none)");
    return pause_or_stop(r, GONE_SLEEP_SECONDS);
}

static void start_once(struct runner *r)
{
    if (r->started)
        return;
    dispatch_lifecycle(r, SERVO_EVENT_STARTUP, r->shutdown, 0);
    r->started = true;
    servo_info("Servo started with %zu active connectors", r->servo->connector_count);
}

/* One session: HELLO, then commands; returns what ended it. */
static enum step session(struct runner *r)
{
    enum step step = say_hello(r);
    if (step != STEP_CONTINUE)
        return step;
    start_once(r);
    if (cancel_is_set(r->shutdown))
        return STEP_STOP;
    if (r->options->no_poll) {
        servo_warning("Polling is disabled: waiting for shutdown");
        status_doing(r->servo->name, "waiting for shutdown (--no-poll)", 0);
        while (!cancel_wait(r->shutdown, 3600))
            ;
        return STEP_STOP;
    }
    return poll_loop(r);
}

static int run_sessions(struct runner *r)
{
    for (;;) {
        if (cancel_is_set(r->shutdown))
            return 0;
        switch (session(r)) {
        case STEP_STOP:
            return 0;
        case STEP_FAIL:
            return 1;
        case STEP_RESTART:
            if (cancel_is_set(r->shutdown))
                return 0; /* GOODBYE with the shutdown's reason instead */
            servo_warning("Restarting the session with the optimizer");
            say_goodbye(r, "restarting");
            break;
        case STEP_RECONNECT:
            if (pause_or_stop(r, RECONNECT_PAUSE_SECONDS))
                return 0;
            break;
        case STEP_GONE:
            if (sleep_gone(r))
                return 0;
            break;
        case STEP_CONTINUE:
            break;
        }
    }
}

/* Once the optimization is over and the servo is at its best settings: the promote event,
 * for the connectors that give the result to the real workload (opsani_dev's `promote`).
 * 0, or 1 when it failed. */
static int promote(struct runner *r)
{
    const struct runner_options *o = r->options;
    if (o->promote == NULL || !r->started || cancel_is_set(r->shutdown) ||
        !o->promote(o->stop_context))
        return 0;
    servo_info("The servo is at the best settings: dispatching the promote event");
    struct event_args args;
    event_args_init(&args);
    struct bus_options options = {
        .prepositions = SERVO_ON, .parent = r->shutdown, .timeout = PROMOTE_EVENT_SECONDS};
    struct bus_outcome out;
    int rc = 0;
    if (bus_dispatch(r->servo->connectors, r->servo->connector_count, SERVO_EVENT_PROMOTE, &args,
                     &options, &out) != 0) {
        servo_error("The promote event failed: %s",
                    out.cancelled ? out.cancel_reason : out.error.message);
        rc = 1;
    }
    bus_outcome_free(&out);
    event_args_free(&args);
    return rc;
}

/* The way out: the shutdown event, then GOODBYE with the reason of the shutdown. */
static void leave(struct runner *r)
{
    if (r->started)
        dispatch_lifecycle(r, SERVO_EVENT_SHUTDOWN, NULL, SHUTDOWN_EVENT_SECONDS);
    if (r->connected) {
        const char *reason = cancel_reason(r->shutdown);
        say_goodbye(r, reason[0] ? reason : "shutdown");
    }
}

/* Where the token comes from, for the log of a refused HELLO (caller frees); NULL: none. */
static char *token_source(const struct servo_config *servo)
{
    const struct optimizer_settings *o = servo->settings ? servo->settings->optimizer : NULL;
    if (o != NULL && o->token_file != NULL)
        return xasprintf("the token of optimizer.token_file %s (OPSANI_TOKEN_FILE, "
                         "--token-file), read when the servo starts",
                         o->token_file);
    if (o != NULL && o->token != NULL)
        return xstrdup("the token of optimizer.token (OPSANI_TOKEN, --token)");
    return NULL;
}

int runner_run(struct servo_config *servo, struct transport *transport,
               const struct runner_options *options, struct cancel_token *shutdown)
{
    static const struct runner_options defaults = {0};
    const struct common_settings *settings = servo->settings ? &servo->settings->settings : NULL;
    const char *servo_uid = servo->settings ? servo->settings->servo_uid : NULL;
    char *credentials = token_source(servo);
    struct runner r = {
        .servo = servo,
        .client = {.transport = transport,
                   .servo_uid = servo_uid ? xstrdup(servo_uid) : NULL,
                   .credentials = credentials,
                   .servo_name = servo->name},
        .options = options ? options : &defaults,
        .shutdown = shutdown,
        .connect_policy = backoff_policy_for(settings, "connect"),
        .default_policy = backoff_policy_for(settings, "__default__"),
    };
    int rc = run_sessions(&r);
    if (rc == 0)
        rc = promote(&r);
    leave(&r);
    status_stopped(servo->name, rc != 0);
    free(r.client.servo_uid);
    free(credentials);
    return rc;
}
