/* The event bus (before/on/after, cancellation, concurrency, error priority, include and
 * exclude, first, deadlines, progress) and child processes (timeouts, process groups,
 * output limits, stdin, lines, exit statuses). Connectors are fakes built here. */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/bus.h"
#include "events/process.h"
#include "util/util.h"

/* ---- a log of what ran, in order -------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *entries[64];
static size_t entry_count;

/* Appends "a:b". */
static void record(const char *a, const char *b)
{
    pthread_mutex_lock(&log_lock);
    if (entry_count < ARRAY_LEN(entries))
        entries[entry_count++] = xasprintf("%s:%s", a, b);
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
    for (size_t i = 0; i < entry_count; i++)
        free(entries[i]);
    entry_count = 0;
}

static size_t log_find(const char *entry)
{
    for (size_t i = 0; i < entry_count; i++)
        if (strcmp(entries[i], entry) == 0)
            return i;
    return SIZE_MAX;
}

static size_t log_count_prefix(const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < entry_count; i++)
        n += str_starts_with(entries[i], prefix);
    return n;
}

static int teardown_log(void **state)
{
    (void)state;
    log_reset();
    return 0;
}

/* ---- fake handlers ---------------------------------------------------------------------- */

static const char *prep(const struct servo_event *ev)
{
    switch (servo_event_preposition(ev)) {
    case SERVO_BEFORE:
        return "before";
    case SERVO_AFTER:
        return "after";
    case SERVO_ON:
        break;
    }
    return "on";
}

static int record_handler(struct servo_connector *c, struct servo_event *ev)
{
    record(servo_connector_name(c), prep(ev));
    if (servo_event_preposition(ev) == SERVO_ON)
        servo_event_set_value(ev, json_string(servo_connector_name(c)));
    if (servo_event_preposition(ev) == SERVO_AFTER) {
        char count[16];
        snprintf(count, sizeof count, "%zu", servo_event_result_count(ev));
        char *what = xasprintf("results=%s", count);
        record(servo_connector_name(c), what);
        free(what);
    }
    return 0;
}

static int slow_on_handler(struct servo_connector *c, struct servo_event *ev)
{
    /* on handlers that overlap prove that they run concurrently */
    servo_event_sleep(ev, 200 * SERVO_MILLISECOND);
    return record_handler(c, ev);
}

static int cancelling_before(struct servo_connector *c, struct servo_event *ev)
{
    record(servo_connector_name(c), "before");
    return servo_event_cancel(ev, "not %s", "today");
}

static int failing_before(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    return servo_event_fail(ev, SERVO_ERROR_FAILED, "broken", "the before handler broke");
}

static int cancelling_on(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    return servo_event_cancel(ev, "too late");
}

static int sleep_measure(struct servo_connector *c, struct servo_event *ev)
{
    if (servo_event_sleep(ev, SERVO_SECOND) != 0)
        return servo_event_fail(ev, SERVO_ERROR_CANCELLED, "", "cancelled");
    record(servo_connector_name(c), "measured");
    struct servo_measurement *m = servo_measurement_new();
    servo_measurement_point(m, "throughput", "rps", 1.0, 42.0);
    servo_event_set_measurement(ev, m);
    return 0;
}

static int sleep_nothing(struct servo_connector *c, struct servo_event *ev)
{
    servo_event_sleep(ev, SERVO_SECOND);
    record(servo_connector_name(c), "empty");
    return 0;
}

/* Fails with the kind stored in its state. */
static int kind_failure(struct servo_connector *c, struct servo_event *ev)
{
    enum servo_error_kind kind = *(enum servo_error_kind *)servo_connector_state(c);
    return servo_event_fail(ev, kind, "", "%s failed", servo_connector_name(c));
}

static int plain_failure(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    (void)ev;
    return -1; /* no servo_event_fail: the bus makes up a message */
}

static int value_handler(struct servo_connector *c, struct servo_event *ev)
{
    record(servo_connector_name(c), "ran");
    servo_event_set_value(ev, json_string(servo_connector_name(c)));
    return 0;
}

static int empty_handler(struct servo_connector *c, struct servo_event *ev)
{
    (void)ev;
    record(servo_connector_name(c), "ran");
    return 0;
}

struct sleep_report {
    int rc;
    double elapsed;
    bool cancelled_after;
    double remaining_after;
};

static int long_sleeper(struct servo_connector *c, struct servo_event *ev)
{
    struct sleep_report *r = servo_connector_state(c);
    double start = clock_monotonic();
    r->rc = servo_event_sleep(ev, 30 * SERVO_SECOND);
    r->elapsed = clock_monotonic() - start;
    r->cancelled_after = servo_event_cancelled(ev);
    r->remaining_after = servo_event_remaining(ev);
    return 0;
}

static int progress_handler(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    servo_event_progress(ev, 50, "half %s", "way");
    servo_event_progress(ev, 150, "done");
    return 0;
}

/* ---- fake connectors -------------------------------------------------------------------- */

#define PLUGIN(var, handler_list)                                                             \
    static const struct servo_connector_plugin var = {SERVO_CONNECTOR_HEADER, .name = #var,   \
                                                      .class_name = #var, .version = "0.0.1", \
                                                      .handlers = handler_list}

static const struct servo_handler recording_handlers[] = {
    {"describe", SERVO_BEFORE, record_handler},
    {"describe", SERVO_ON, slow_on_handler},
    {"describe", SERVO_AFTER, record_handler},
    {NULL, 0, NULL},
};
PLUGIN(recording, recording_handlers);

static const struct servo_handler canceller_handlers[] = {
    {"describe", SERVO_BEFORE, cancelling_before},
    {"describe", SERVO_ON, record_handler},
    {"describe", SERVO_AFTER, record_handler},
    {"adjust", SERVO_ON, cancelling_on},
    {NULL, 0, NULL},
};
PLUGIN(canceller, canceller_handlers);

static const struct servo_handler broken_before_handlers[] = {
    {"describe", SERVO_BEFORE, failing_before},
    {NULL, 0, NULL},
};
PLUGIN(broken_before, broken_before_handlers);

static const struct servo_handler measuring_handlers[] = {
    {"measure", SERVO_ON, sleep_measure},
    {NULL, 0, NULL},
};
PLUGIN(measuring, measuring_handlers);

static const struct servo_handler nothing_handlers[] = {
    {"measure", SERVO_ON, sleep_nothing},
    {NULL, 0, NULL},
};
PLUGIN(nothing, nothing_handlers);

static const struct servo_handler failing_handlers[] = {
    {"adjust", SERVO_ON, kind_failure},
    {NULL, 0, NULL},
};
PLUGIN(failing, failing_handlers);

static const struct servo_handler plain_failing_handlers[] = {
    {"adjust", SERVO_ON, plain_failure},
    {NULL, 0, NULL},
};
PLUGIN(plain_failing, plain_failing_handlers);

static const struct servo_handler value_handlers[] = {
    {"custom", SERVO_ON, value_handler},
    {NULL, 0, NULL},
};
PLUGIN(valued, value_handlers);

static const struct servo_handler empty_handlers[] = {
    {"custom", SERVO_ON, empty_handler},
    {NULL, 0, NULL},
};
PLUGIN(empty, empty_handlers);

static const struct servo_handler sleeper_handlers[] = {
    {"custom", SERVO_ON, long_sleeper},
    {NULL, 0, NULL},
};
PLUGIN(sleeper, sleeper_handlers);

static const struct servo_handler progress_handlers[] = {
    {"measure", SERVO_ON, progress_handler},
    {NULL, 0, NULL},
};
PLUGIN(progressing, progress_handlers);

static struct servo_connector make(const char *name, const struct servo_connector_plugin *p,
                                   void *state)
{
    return (struct servo_connector){.name = (char *)name, .plugin = p, .state = state};
}

static int dispatch(struct servo_connector *cs, size_t n, const char *event,
                    const struct bus_options *o, struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    int rc = bus_dispatch(cs, n, event, &args, o, out);
    event_args_free(&args);
    return rc;
}

/* ---- ordering, cancellation ------------------------------------------------------------- */

static void test_before_on_after_order(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("a", &recording, NULL), make("b", &recording, NULL)};
    struct bus_outcome out;
    assert_int_equal(dispatch(cs, 2, "describe", NULL, &out), 0);
    assert_int_equal(entry_count, 8);
    size_t last_before = 0, first_on = SIZE_MAX, last_on = 0, first_after = SIZE_MAX;
    for (size_t i = 0; i < entry_count; i++) {
        if (strstr(entries[i], ":before"))
            last_before = i;
        if (strstr(entries[i], ":on")) {
            first_on = i < first_on ? i : first_on;
            last_on = i;
        }
        if (strstr(entries[i], ":after"))
            first_after = i < first_after ? i : first_after;
    }
    assert_true(last_before < first_on);
    assert_true(last_on < first_after);
    assert_int_equal(log_count_prefix("a:"), 4);
    assert_int_equal(log_count_prefix("b:"), 4);
    /* after handlers see both results */
    assert_int_not_equal(log_find("a:results=2"), SIZE_MAX);
    assert_int_not_equal(log_find("b:results=2"), SIZE_MAX);
    assert_int_equal(out.count, 2);
    assert_string_equal(out.results[0].connector, "a");
    assert_string_equal(json_string_value(out.results[0].value), "a");
    assert_string_equal(out.results[1].connector, "b");
    assert_null(out.results[0].error);
    assert_int_equal(out.error.kind, SERVO_ERROR_NONE);
    bus_outcome_free(&out);
}

static void test_prepositions_option(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("a", &recording, NULL)};
    struct bus_outcome out;
    struct bus_options o = {.prepositions = SERVO_ON};
    assert_int_equal(dispatch(cs, 1, "describe", &o, &out), 0);
    assert_int_equal(entry_count, 1);
    assert_string_equal(entries[0], "a:on");
    bus_outcome_free(&out);
}

static void test_before_cancels(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("a", &recording, NULL), make("c", &canceller, NULL)};
    struct bus_outcome out;
    assert_int_equal(dispatch(cs, 2, "describe", NULL, &out), -1);
    assert_true(out.cancelled);
    assert_non_null(strstr(out.cancel_reason, "not today"));
    assert_non_null(strstr(out.cancel_reason, "c"));
    assert_int_equal(out.error.kind, SERVO_ERROR_CANCELLED);
    assert_non_null(strstr(out.error.message, "not today"));
    assert_int_equal(out.count, 0);
    /* both before handlers ran; no on or after handler did */
    assert_int_equal(log_count_prefix("a:before"), 1);
    assert_int_equal(log_count_prefix("c:before"), 1);
    assert_int_equal(entry_count, 2);
    bus_outcome_free(&out);
}

static void test_before_failure_and_cancel_keep_both(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("x", &broken_before, NULL), make("c", &canceller, NULL)};
    struct bus_outcome out;
    assert_int_equal(dispatch(cs, 2, "describe", NULL, &out), -1);
    assert_true(out.cancelled);
    assert_int_equal(out.error.kind, SERVO_ERROR_CANCELLED);
    /* the failure of the other before handler is not lost */
    assert_int_equal(out.additional_count, 1);
    assert_non_null(strstr(out.additional[0].message, "the before handler broke"));
    assert_int_equal(entry_count, 1);
    bus_outcome_free(&out);
}

static void test_failing_before_stops_on(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("x", &broken_before, NULL), make("a", &recording, NULL)};
    struct bus_outcome out;
    assert_int_equal(dispatch(cs, 2, "describe", NULL, &out), -1);
    assert_false(out.cancelled);
    assert_int_equal(out.error.kind, SERVO_ERROR_FAILED);
    assert_string_equal(out.error.reason, "broken");
    assert_int_equal(log_count_prefix("a:on"), 0);
    bus_outcome_free(&out);
}

static void test_on_handler_cannot_cancel(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("c", &canceller, NULL)};
    struct bus_outcome out;
    assert_int_equal(dispatch(cs, 1, "adjust", NULL, &out), -1);
    assert_false(out.cancelled);
    assert_int_equal(out.error.kind, SERVO_ERROR_FAILED);
    assert_non_null(strstr(out.error.message, "only a before handler can cancel"));
    bus_outcome_free(&out);
}

/* ---- concurrency, first ----------------------------------------------------------------- */

static void test_on_handlers_run_concurrently(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("m1", &measuring, NULL), make("m2", &measuring, NULL)};
    struct bus_outcome out;
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 2, "measure", NULL, &out), 0);
    double elapsed = clock_monotonic() - start;
    assert_true(elapsed >= 0.95);
    assert_true(elapsed < 1.8); /* one second each, side by side; slack for a loaded host */
    assert_int_equal(out.count, 2);
    struct servo_measurement *m = bus_outcome_measurement(&out);
    assert_int_equal(m->reading_count, 2);
    servo_measurement_free(m);
    bus_outcome_free(&out);
}

static void test_first_stops_at_first_result(void **state)
{
    (void)state;
    /* m1 answers: m2 never runs, and it takes one second, not two */
    struct servo_connector cs[] = {make("m1", &measuring, NULL), make("m2", &measuring, NULL)};
    struct bus_outcome out;
    struct bus_options o = {.first = true};
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 2, "measure", &o, &out), 0);
    double elapsed = clock_monotonic() - start;
    assert_true(elapsed >= 0.95 && elapsed < 1.8);
    assert_int_equal(out.count, 1);
    assert_string_equal(out.results[0].connector, "m1");
    assert_non_null(out.results[0].measurement);
    assert_int_equal(log_count_prefix("m2:"), 0);
    bus_outcome_free(&out);
}

static void test_first_runs_sequentially(void **state)
{
    (void)state;
    /* the first connector has nothing: the second runs after it, one second later */
    struct servo_connector cs[] = {make("n", &nothing, NULL), make("m", &measuring, NULL)};
    struct bus_outcome out;
    struct bus_options o = {.first = true};
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 2, "measure", &o, &out), 0);
    double elapsed = clock_monotonic() - start;
    assert_true(elapsed >= 1.95);
    assert_true(log_find("n:empty") < log_find("m:measured"));
    assert_int_equal(out.count, 2);
    assert_null(out.results[0].measurement);
    assert_string_equal(out.results[1].connector, "m");
    assert_non_null(out.results[1].measurement);
    bus_outcome_free(&out);
}

static void test_first_non_empty_value(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("e", &empty, NULL), make("v1", &valued, NULL),
                                   make("v2", &valued, NULL)};
    struct bus_outcome out;
    struct bus_options o = {.first = true};
    assert_int_equal(dispatch(cs, 3, "custom", &o, &out), 0);
    const struct servo_event_result *first = NULL;
    for (size_t i = 0; i < out.count && first == NULL; i++)
        if (out.results[i].value)
            first = &out.results[i];
    assert_non_null(first);
    assert_string_equal(first->connector, "v1");
    assert_string_equal(json_string_value(first->value), "v1");
    assert_int_equal(log_count_prefix("v2:"), 0);
    bus_outcome_free(&out);
}

/* ---- error priority --------------------------------------------------------------------- */

static void test_error_priority(void **state)
{
    (void)state;
    /* every kind, in a scrambled order; each time the highest present wins */
    static enum servo_error_kind kinds[] = {SERVO_ERROR_MEASUREMENT_FAILED, SERVO_ERROR_ABORTED,
                                            SERVO_ERROR_FAILED, SERVO_ERROR_ADJUSTMENT_REJECTED,
                                            SERVO_ERROR_ADJUSTMENT_FAILED};
    static const char *names[] = {"k0", "k1", "k2", "k3", "k4"};
    static const enum servo_error_kind order[] = {
        SERVO_ERROR_ABORTED, SERVO_ERROR_ADJUSTMENT_REJECTED, SERVO_ERROR_ADJUSTMENT_FAILED,
        SERVO_ERROR_MEASUREMENT_FAILED, SERVO_ERROR_FAILED};
    for (size_t top = 0; top < ARRAY_LEN(order); top++) {
        struct servo_connector cs[5];
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
            if (kinds[i] <= order[top])
                cs[n++] = make(names[i], &failing, &kinds[i]);
        struct bus_outcome out;
        assert_int_equal(dispatch(cs, n, "adjust", NULL, &out), -1);
        assert_int_equal(out.error.kind, order[top]);
        assert_int_equal(out.additional_count, n - 1);
        for (size_t i = 0; i < out.additional_count; i++) {
            assert_true(out.additional[i].kind < order[top]);
            for (size_t k = i + 1; k < out.additional_count; k++)
                assert_int_not_equal(out.additional[i].kind, out.additional[k].kind);
        }
        /* every handler's own error stays on its result */
        assert_int_equal(out.count, n);
        for (size_t i = 0; i < out.count; i++)
            assert_non_null(out.results[i].error);
        bus_outcome_free(&out);
    }
}

static void test_error_priority_ties_keep_first(void **state)
{
    (void)state;
    static enum servo_error_kind a = SERVO_ERROR_ADJUSTMENT_FAILED,
                                 b = SERVO_ERROR_ADJUSTMENT_FAILED;
    struct servo_connector cs[] = {make("first", &failing, &a), make("second", &failing, &b),
                                   make("plain", &plain_failing, NULL)};
    struct bus_outcome out;
    assert_int_equal(dispatch(cs, 3, "adjust", NULL, &out), -1);
    assert_int_equal(out.error.kind, SERVO_ERROR_ADJUSTMENT_FAILED);
    assert_string_equal(out.error.message, "first failed");
    assert_int_equal(out.additional_count, 2);
    assert_string_equal(out.additional[0].message, "second failed");
    assert_int_equal(out.additional[1].kind, SERVO_ERROR_FAILED);
    assert_non_null(strstr(out.additional[1].message, "adjust handler of plain failed"));
    assert_string_equal(servo_error_status(out.error.kind), "failed");
    bus_outcome_free(&out);
}

/* ---- include, exclude ------------------------------------------------------------------- */

static void test_include_exclude(void **state)
{
    (void)state;
    struct servo_connector cs[] = {make("a", &valued, NULL), make("b", &valued, NULL),
                                   make("c", &valued, NULL)};
    static const char *const only_b[] = {"b", NULL};
    static const char *const not_a[] = {"a", NULL};
    struct bus_outcome out;
    struct bus_options o = {.include = only_b};
    assert_int_equal(dispatch(cs, 3, "custom", &o, &out), 0);
    assert_int_equal(out.count, 1);
    assert_string_equal(out.results[0].connector, "b");
    assert_int_equal(entry_count, 1);
    bus_outcome_free(&out);
    log_reset();

    o = (struct bus_options){.exclude = not_a};
    assert_int_equal(dispatch(cs, 3, "custom", &o, &out), 0);
    assert_int_equal(out.count, 2);
    assert_string_equal(out.results[0].connector, "b");
    assert_string_equal(out.results[1].connector, "c");
    assert_int_equal(log_count_prefix("a:"), 0);
    bus_outcome_free(&out);
    log_reset();

    o = (struct bus_options){.include = only_b, .exclude = only_b};
    assert_int_equal(dispatch(cs, 3, "custom", &o, &out), 0);
    assert_int_equal(out.count, 0);
    assert_int_equal(entry_count, 0);
    bus_outcome_free(&out);

    assert_true(bus_handles(&cs[0], "custom", SERVO_ON));
    assert_false(bus_handles(&cs[0], "custom", SERVO_BEFORE));
    assert_false(bus_handles(&cs[0], "describe", SERVO_ON));
}

/* ---- deadlines and cancellation --------------------------------------------------------- */

static void test_deadline_cuts_sleep(void **state)
{
    (void)state;
    struct sleep_report r = {0};
    struct servo_connector cs[] = {make("s", &sleeper, &r)};
    struct bus_outcome out;
    struct bus_options o = {.timeout = 0.3};
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 1, "custom", &o, &out), 0);
    double elapsed = clock_monotonic() - start;
    assert_int_equal(r.rc, -1);
    assert_true(r.elapsed >= 0.25 && r.elapsed < 2.0);
    assert_true(elapsed < 2.0);
    assert_true(r.cancelled_after);
    assert_true(r.remaining_after <= 0);
    bus_outcome_free(&out);
}

struct canceller_thread {
    struct cancel_token *token;
    double after;
};

static void *cancel_later(void *arg)
{
    struct canceller_thread *t = arg;
    usleep((useconds_t)(t->after * 1e6));
    cancel_trigger(t->token, "stop now");
    return NULL;
}

static void test_parent_cancel_cuts_sleep(void **state)
{
    (void)state;
    struct sleep_report r[2] = {{0}, {0}};
    struct servo_connector cs[] = {make("s1", &sleeper, &r[0]), make("s2", &sleeper, &r[1])};
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0);
    struct canceller_thread ct = {&parent, 0.3};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, cancel_later, &ct), 0);
    struct bus_outcome out;
    struct bus_options o = {.parent = &parent};
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 2, "custom", &o, &out), 0);
    double elapsed = clock_monotonic() - start;
    pthread_join(thread, NULL);
    assert_true(elapsed < 2.0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].rc, -1);
        assert_true(r[i].cancelled_after);
        assert_true(r[i].remaining_after > 1e6); /* no deadline: cancelled explicitly */
    }
    assert_string_equal(cancel_reason(&parent), "stop now");
    bus_outcome_free(&out);
    cancel_destroy(&parent);
}

/* ---- abandoned handlers ----------------------------------------------------------------- */

/* A handler that ignores its deadline and cancellation until the test releases it, then
 * reads everything its event reaches (the caller's arguments are long gone by then). */
struct stubborn {
    atomic_bool release;
    atomic_int runs;
    atomic_bool done;
    double duration;
    char metric[32];
    char component[32];
    char argument[32];
    bool cancelled;
};

static int stubborn_measure(struct servo_connector *c, struct servo_event *ev)
{
    struct stubborn *s = c->state;
    atomic_fetch_add(&s->runs, 1);
    for (int i = 0; i < 1000 && !atomic_load(&s->release); i++)
        usleep(10000);
    s->duration = servo_duration_seconds(servo_event_control(ev)->duration);
    snprintf(s->metric, sizeof s->metric, "%s",
             servo_event_metric_count(ev) ? servo_event_metric(ev, 0) : "");
    const struct servo_adjustments *a = servo_event_adjustments(ev);
    snprintf(s->component, sizeof s->component, "%s", a->count ? a->items[0].component : "");
    const char *arg = json_string_value(json_object_get(servo_event_argument(ev), "k"));
    snprintf(s->argument, sizeof s->argument, "%s", arg ? arg : "");
    s->cancelled = servo_event_cancelled(ev);
    servo_event_progress(ev, 50, "late progress");
    atomic_store(&s->done, true);
    return 0;
}

static const struct servo_handler stubborn_handlers[] = {
    {"measure", SERVO_ON, stubborn_measure},
    {NULL, 0, NULL},
};
PLUGIN(stubborn_plugin, stubborn_handlers);

static void count_progress(void *context, const char *connector, const char *event, double percent,
                           const char *message)
{
    (void)connector;
    (void)event;
    (void)percent;
    (void)message;
    (*(int *)context)++;
}

/* Dispatches measure with arguments that live only during the call (freed and overwritten
 * right after). */
static int dispatch_transient(struct servo_connector *c, int *progress, struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    args.control.duration = 7 * SERVO_SECOND;
    char *metric = xstrdup("throughput");
    const char *metrics[] = {metric};
    args.metrics = metrics;
    args.metric_count = 1;
    struct servo_adjustments adjustments = {0};
    servo_adjustments_add(&adjustments, "web", "cpu", 1.5);
    args.adjustments = &adjustments;
    json_t *argument = json_pack("{s:s}", "k", "value");
    args.argument = argument;
    struct bus_options o = {
        .timeout = 0.2, .grace = 0.3, .progress = count_progress, .progress_context = progress};
    int rc = bus_dispatch(c, 1, "measure", &args, &o, out);
    memset(metric, 'X', strlen(metric));
    free(metric);
    servo_adjustments_clear(&adjustments);
    json_decref(argument);
    event_args_free(&args);
    return rc;
}

/* A handler that overruns its deadline by the grace period is abandoned and reported; what
 * it reads afterwards is the bus's own copy; its connector is busy (not entered again) until
 * it returns; then it runs again. */
static void test_abandoned_handler(void **state)
{
    (void)state;
    static struct stubborn s;
    static struct servo_connector c;
    c = make("stubborn", &stubborn_plugin, &s);
    int progress = 0;
    struct bus_outcome out;
    double start = clock_monotonic();
    assert_int_equal(dispatch_transient(&c, &progress, &out), -1);
    double elapsed = clock_monotonic() - start;
    if (elapsed > 4.0)
        fail_msg("the stubborn handler held the dispatch for %.1f s", elapsed);
    assert_string_equal(out.error.reason, "timeout");
    assert_int_equal(out.count, 0);
    bus_outcome_free(&out);
    assert_true(bus_connector_busy(&c));
    assert_int_equal(bus_abandoned_count(), 1);

    /* the same connector again while its handler still runs: not entered */
    assert_int_equal(dispatch_transient(&c, &progress, &out), -1);
    assert_string_equal(out.error.reason, "busy");
    assert_int_equal(atomic_load(&s.runs), 1);
    bus_outcome_free(&out);

    atomic_store(&s.release, true);
    assert_true(bus_wait_abandoned(10));
    assert_true(atomic_load(&s.done));
    assert_false(bus_connector_busy(&c));
    assert_true(s.duration == 7.0);
    assert_string_equal(s.metric, "throughput");
    assert_string_equal(s.component, "web");
    assert_string_equal(s.argument, "value");
    assert_true(s.cancelled);
    assert_int_equal(progress, 0); /* the caller's sink was not called after it returned */

    /* free again: it runs, and in time */
    assert_int_equal(dispatch_transient(&c, &progress, &out), 0);
    assert_int_equal(atomic_load(&s.runs), 2);
    assert_int_equal(progress, 1);
    bus_outcome_free(&out);
}

static void test_cancel_token_basics(void **state)
{
    (void)state;
    struct cancel_token parent, child;
    cancel_init(&parent, NULL, 0);
    cancel_init(&child, &parent, 10);
    assert_false(cancel_is_set(&child));
    assert_true(cancel_remaining(&child) > 9 && cancel_remaining(&child) <= 10);
    assert_string_equal(cancel_reason(&child), "");
    double start = clock_monotonic();
    assert_false(cancel_wait(&child, 0.1));
    assert_true(clock_monotonic() - start >= 0.09);
    cancel_trigger(&parent, NULL);
    assert_true(cancel_requested(&child));
    assert_false(cancel_requested(NULL));
    assert_true(cancel_wait(&child, 5));
    assert_string_equal(cancel_reason(&child), "cancelled");
    cancel_destroy(&child);
    cancel_destroy(&parent);

    struct cancel_token short_lived;
    cancel_init(&short_lived, NULL, 0.1);
    start = clock_monotonic();
    assert_true(cancel_wait(&short_lived, 5));
    assert_true(clock_monotonic() - start < 1.0);
    assert_true(cancel_expired(&short_lived));
    assert_false(cancel_requested(&short_lived));
    cancel_destroy(&short_lived);
}

/* ---- progress --------------------------------------------------------------------------- */

struct progress_log {
    pthread_mutex_t lock;
    size_t count;
    char connector[32];
    char event[32];
    double percents[4];
    char messages[4][32];
};

static void progress_sink_fn(void *context, const char *connector, const char *event,
                             double percent, const char *message)
{
    struct progress_log *p = context;
    pthread_mutex_lock(&p->lock);
    if (p->count < 4) {
        snprintf(p->connector, sizeof p->connector, "%s", connector);
        snprintf(p->event, sizeof p->event, "%s", event);
        p->percents[p->count] = percent;
        snprintf(p->messages[p->count], sizeof p->messages[0], "%s", message);
    }
    p->count++;
    pthread_mutex_unlock(&p->lock);
}

static void test_progress_reaches_sink(void **state)
{
    (void)state;
    struct progress_log p = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct servo_connector cs[] = {make("prog", &progressing, NULL)};
    struct bus_outcome out;
    struct bus_options o = {.progress = progress_sink_fn, .progress_context = &p};
    assert_int_equal(dispatch(cs, 1, "measure", &o, &out), 0);
    assert_int_equal(p.count, 2);
    assert_string_equal(p.connector, "prog");
    assert_string_equal(p.event, "measure");
    assert_true(p.percents[0] == 50.0);
    assert_string_equal(p.messages[0], "half way");
    assert_true(p.percents[1] == 100.0); /* clamped */
    assert_string_equal(p.messages[1], "done");
    bus_outcome_free(&out);
}

/* ---- child processes -------------------------------------------------------------------- */

/* Alive and not a zombie. */
static bool pid_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Live (non-zombie) members of a process group, from /proc. */
static size_t group_members(pid_t pgid)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *paren = strrchr(buf, ')');
        char st;
        int ppid, pgrp;
        if (paren && sscanf(paren + 2, "%c %d %d", &st, &ppid, &pgrp) == 3 && pgrp == pgid &&
            st != 'Z' && st != 'X')
            n++;
    }
    closedir(d);
    return n;
}

static bool group_gone(pid_t pgid)
{
    /* killed processes disappear once reaped (by init); give that a moment */
    for (int i = 0; i < 100; i++) {
        if (group_members(pgid) == 0)
            return true;
        usleep(20000);
    }
    return false;
}

static int run(const char *command, servo_duration timeout, struct servo_process_result *r)
{
    struct servo_process p = {.command = command, .timeout = timeout};
    struct servo_error e = {0};
    return process_run(NULL, &p, r, &e);
}

static void test_process_output_and_exit(void **state)
{
    (void)state;
    struct servo_process_result r;
    assert_int_equal(run("echo out; echo err >&2; exit 3", 0, &r), 0);
    assert_string_equal(r.output, "out\n");
    assert_int_equal(r.output_length, 4);
    assert_string_equal(r.errors, "err\n");
    assert_int_equal(r.exit_code, 3);
    assert_int_equal(r.signal, 0);
    assert_false(r.timed_out || r.cancelled || r.output_overflow);
    servo_process_result_free(&r);

    assert_int_equal(run("kill -9 $$", 0, &r), 0);
    assert_int_equal(r.exit_code, -1);
    assert_int_equal(r.signal, SIGKILL);
    servo_process_result_free(&r);

    assert_int_equal(run("true", 0, &r), 0);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.output, "");
    servo_process_result_free(&r);
}

static void test_process_environment_and_dir(void **state)
{
    (void)state;
    static const char *const env[] = {"SERVO_TEST_FOO=bar", "HOME=/nowhere", NULL};
    struct servo_process p = {.command = "echo \"$SERVO_TEST_FOO $HOME\"; pwd",
                              .environment = env,
                              .working_dir = "/tmp"};
    struct servo_process_result r;
    struct servo_error e = {0};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_string_equal(r.output, "bar /nowhere\n/tmp\n");
    servo_process_result_free(&r);

    p.working_dir = "/nonexistent/directory";
    int rc = process_run(NULL, &p, &r, &e);
    if (rc == 0) { /* some libcs report a failed chdir as exit 127 instead */
        assert_int_not_equal(r.exit_code, 0);
        servo_process_result_free(&r);
    } else {
        assert_non_null(strstr(e.message, "cannot start"));
    }
}

static void test_process_timeout_kills(void **state)
{
    (void)state;
    struct servo_process_result r;
    double start = clock_monotonic();
    assert_int_equal(run("sleep 30", 300 * SERVO_MILLISECOND, &r), 0);
    double elapsed = clock_monotonic() - start;
    assert_true(elapsed < 5.0);
    assert_true(r.timed_out);
    assert_false(r.cancelled);
    assert_int_equal(r.exit_code, -1);
    assert_true(r.signal == SIGTERM || r.signal == SIGKILL);
    servo_process_result_free(&r);
}

static void test_process_timeout_kills_children(void **state)
{
    (void)state;
    char *pidfile = xasprintf("%s/children.pids", test_scratch_dir());
    char *command = xasprintf("echo $$; sleep 30 & echo $! > %s; sleep 30 & echo $! >> %s; wait",
                              pidfile, pidfile);
    struct servo_process_result r;
    double start = clock_monotonic();
    assert_int_equal(run(command, 500 * SERVO_MILLISECOND, &r), 0);
    assert_true(clock_monotonic() - start < 5.0);
    assert_true(r.timed_out);
    pid_t pgid = (pid_t)atoi(r.output);
    assert_true(pgid > 1);
    assert_true(group_gone(pgid));
    assert_true(kill(-pgid, 0) == -1 || group_members(pgid) == 0);
    FILE *f = fopen(pidfile, "r");
    assert_non_null(f);
    int pid, n = 0;
    while (fscanf(f, "%d", &pid) == 1) {
        assert_false(pid_alive(pid));
        n++;
    }
    fclose(f);
    assert_int_equal(n, 2);
    servo_process_result_free(&r);
    free(command);
    free(pidfile);
}

/* The event's deadline, not the process's timeout, ends it. */
static int run_hung_command(struct servo_connector *c, struct servo_event *ev)
{
    struct servo_process_result *r = servo_connector_state(c);
    struct servo_process p = {.command = "echo $$; sh -c 'sleep 30 & sleep 30 & wait'"};
    struct servo_error e = {0};
    if (servo_event_run(ev, &p, r, &e) != 0)
        return servo_event_fail(ev, SERVO_ERROR_FAILED, "", "%s", e.message);
    return 0;
}

static const struct servo_handler runner_handlers[] = {
    {"custom", SERVO_ON, run_hung_command},
    {NULL, 0, NULL},
};
PLUGIN(runner, runner_handlers);

static void test_event_deadline_kills_group(void **state)
{
    (void)state;
    struct servo_process_result r;
    struct servo_connector cs[] = {make("run", &runner, &r)};
    struct bus_outcome out;
    struct bus_options o = {.timeout = 0.5};
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 1, "custom", &o, &out), 0);
    assert_true(clock_monotonic() - start < 5.0);
    assert_true(r.timed_out);
    assert_false(r.cancelled);
    pid_t pgid = (pid_t)atoi(r.output);
    assert_true(pgid > 1);
    assert_true(group_gone(pgid));
    servo_process_result_free(&r);
    bus_outcome_free(&out);
}

static void test_event_cancel_kills_process(void **state)
{
    (void)state;
    struct servo_process_result r;
    struct servo_connector cs[] = {make("run", &runner, &r)};
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0);
    struct canceller_thread ct = {&parent, 0.3};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, cancel_later, &ct), 0);
    struct bus_outcome out;
    struct bus_options o = {.parent = &parent};
    double start = clock_monotonic();
    assert_int_equal(dispatch(cs, 1, "custom", &o, &out), 0);
    assert_true(clock_monotonic() - start < 5.0);
    pthread_join(thread, NULL);
    assert_true(r.cancelled);
    assert_false(r.timed_out);
    assert_true(group_gone((pid_t)atoi(r.output)));
    servo_process_result_free(&r);
    bus_outcome_free(&out);
    cancel_destroy(&parent);
}

static void test_process_exit_with_background_child(void **state)
{
    (void)state;
    /* the leader exits; its child still holds stdout: the group is killed, no hang */
    struct servo_process_result r;
    double start = clock_monotonic();
    assert_int_equal(run("echo $$; sleep 30 & echo done", 0, &r), 0);
    assert_true(clock_monotonic() - start < 5.0);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.timed_out);
    assert_non_null(strstr(r.output, "done\n"));
    assert_true(group_gone((pid_t)atoi(r.output)));
    servo_process_result_free(&r);
}

/* A process that exists and is not a zombie. */
static bool process_alive(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *end = strrchr(text, ')');
    return end != NULL && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

/* A grandchild in a session of its own (setsid) escapes the group kill; the servo, a child
 * subreaper, adopts it when the command's shell exits and kills it. */
static void test_process_setsid_grandchild_killed(void **state)
{
    (void)state;
    struct servo_process_result r;
    assert_int_equal(run("setsid sh -c 'echo $$; exec sleep 30' & sleep 0.5", 0, &r), 0);
    pid_t grandchild = (pid_t)atoi(r.output);
    assert_true(grandchild > 1);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = !process_alive(grandchild);
        if (!gone)
            usleep(20000);
    }
    if (!gone)
        kill(grandchild, SIGKILL);
    assert_true(gone);
    servo_process_result_free(&r);
}

/* The servo's own variables (secrets among them) are not passed on; extras are. */
static void test_process_environment_without_secrets(void **state)
{
    (void)state;
    setenv("OPSANI_TOKEN", "opsani-secret", 1);
    setenv("SERVO_OPTIMIZER_TOKEN", "servo-secret", 1);
    setenv("SERVO_PROM_BASIC_AUTH_PASSWORD", "prom-secret", 1);
    setenv("HARMLESS_FOR_THE_TEST", "kept", 1);
    const char *extra[] = {"SERVO_WARMUP=5", NULL};
    struct servo_process p = {.command = "env", .environment = extra};
    struct servo_process_result r;
    struct servo_error e = {0};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_null(strstr(r.output, "secret"));
    assert_non_null(strstr(r.output, "\nSERVO_WARMUP=5\n"));
    assert_non_null(strstr(r.output, "HARMLESS_FOR_THE_TEST=kept"));
    servo_process_result_free(&r);
    unsetenv("OPSANI_TOKEN");
    unsetenv("SERVO_OPTIMIZER_TOKEN");
    unsetenv("SERVO_PROM_BASIC_AUTH_PASSWORD");
    unsetenv("HARMLESS_FOR_THE_TEST");
}

static void test_process_output_overflow(void **state)
{
    (void)state;
    struct servo_process p = {.command = "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxx; done",
                              .max_output = 4096};
    struct servo_process_result r;
    struct servo_error e = {0};
    double start = clock_monotonic();
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_true(clock_monotonic() - start < 5.0);
    assert_true(r.output_overflow);
    assert_false(r.timed_out);
    assert_true(r.output_length <= 4096);
    assert_int_equal(strlen(r.output), r.output_length);
    servo_process_result_free(&r);

    /* a small overflow from a command that exits at once is an overflow too */
    p = (struct servo_process){.command = "printf 0123456789abcdefghij", .max_output = 10};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_true(r.output_overflow);
    assert_int_equal(r.output_length, 10);
    assert_string_equal(r.output, "0123456789");
    servo_process_result_free(&r);

    p = (struct servo_process){.command = "printf 0123456789", .max_output = 10};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_false(r.output_overflow);
    assert_string_equal(r.output, "0123456789");
    servo_process_result_free(&r);
}

static void test_process_stdin(void **state)
{
    (void)state;
    static const char text[] = "hello\nworld\n";
    struct servo_process p = {.command = "cat", .input = text, .input_length = strlen(text)};
    struct servo_process_result r;
    struct servo_error e = {0};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_string_equal(r.output, text);
    servo_process_result_free(&r);

    /* more than a pipe holds, in both directions at once */
    size_t big = 1u << 20;
    char *data = xmalloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    p = (struct servo_process){.command = "cat", .input = data, .input_length = big};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_int_equal(r.output_length, big);
    assert_memory_equal(r.output, data, big);
    servo_process_result_free(&r);

    /* a command that never reads its input must not take the servo down with SIGPIPE */
    p = (struct servo_process){
        .command = "exec 0<&-; sleep 0.2", .input = data, .input_length = big};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_int_equal(r.exit_code, 0);
    servo_process_result_free(&r);
    p = (struct servo_process){.command = "true", .input = data, .input_length = big};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_int_equal(r.exit_code, 0);
    servo_process_result_free(&r);
    free(data);

    /* empty input: stdin is at EOF at once */
    p = (struct servo_process){.command = "wc -c", .input = "", .input_length = 0};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_int_equal(atoi(r.output), 0);
    servo_process_result_free(&r);
}

struct lines {
    size_t count;
    char *items[8];
};

static void on_line(void *context, const char *line)
{
    struct lines *l = context;
    if (l->count < ARRAY_LEN(l->items))
        l->items[l->count] = xstrdup(line);
    l->count++;
}

static void test_process_on_line(void **state)
{
    (void)state;
    struct lines l = {0};
    struct servo_process p = {.command = "printf 'one\\ntwo\\n'; sleep 0.1; printf 'thr'; "
                                         "sleep 0.1; printf 'ee\\n\\nlast'",
                              .on_line = on_line,
                              .context = &l};
    struct servo_process_result r;
    struct servo_error e = {0};
    assert_int_equal(process_run(NULL, &p, &r, &e), 0);
    assert_int_equal(l.count, 4); /* complete lines only */
    assert_string_equal(l.items[0], "one");
    assert_string_equal(l.items[1], "two");
    assert_string_equal(l.items[2], "three");
    assert_string_equal(l.items[3], "");
    assert_string_equal(r.output, "one\ntwo\nthree\n\nlast");
    for (size_t i = 0; i < l.count && i < ARRAY_LEN(l.items); i++)
        free(l.items[i]);
    servo_process_result_free(&r);
}

static void test_process_stderr_tail(void **state)
{
    (void)state;
    /* 200 KiB of stderr: the last 64 KiB are kept */
    struct servo_process_result r;
    assert_int_equal(run("i=0; while [ $i -lt 2048 ]; do printf '%0100d' $i >&2; "
                         "i=$((i+1)); done; echo end >&2",
                         0, &r),
                     0);
    assert_true(r.errors_length <= 64u * 1024u);
    assert_true(r.errors_length > 60u * 1024u);
    assert_true(str_ends_with(r.errors, "02047end\n"));
    servo_process_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_before_on_after_order, teardown_log),
        cmocka_unit_test_teardown(test_prepositions_option, teardown_log),
        cmocka_unit_test_teardown(test_before_cancels, teardown_log),
        cmocka_unit_test_teardown(test_before_failure_and_cancel_keep_both, teardown_log),
        cmocka_unit_test_teardown(test_failing_before_stops_on, teardown_log),
        cmocka_unit_test_teardown(test_on_handler_cannot_cancel, teardown_log),
        cmocka_unit_test_teardown(test_on_handlers_run_concurrently, teardown_log),
        cmocka_unit_test_teardown(test_first_stops_at_first_result, teardown_log),
        cmocka_unit_test_teardown(test_first_runs_sequentially, teardown_log),
        cmocka_unit_test_teardown(test_first_non_empty_value, teardown_log),
        cmocka_unit_test_teardown(test_error_priority, teardown_log),
        cmocka_unit_test_teardown(test_error_priority_ties_keep_first, teardown_log),
        cmocka_unit_test_teardown(test_include_exclude, teardown_log),
        cmocka_unit_test_teardown(test_deadline_cuts_sleep, teardown_log),
        cmocka_unit_test_teardown(test_parent_cancel_cuts_sleep, teardown_log),
        cmocka_unit_test(test_abandoned_handler),
        cmocka_unit_test(test_cancel_token_basics),
        cmocka_unit_test(test_progress_reaches_sink),
        cmocka_unit_test(test_process_output_and_exit),
        cmocka_unit_test(test_process_environment_and_dir),
        cmocka_unit_test(test_process_timeout_kills),
        cmocka_unit_test(test_process_timeout_kills_children),
        cmocka_unit_test(test_event_deadline_kills_group),
        cmocka_unit_test(test_event_cancel_kills_process),
        cmocka_unit_test(test_process_exit_with_background_child),
        cmocka_unit_test(test_process_setsid_grandchild_killed),
        cmocka_unit_test(test_process_environment_without_secrets),
        cmocka_unit_test(test_process_output_overflow),
        cmocka_unit_test(test_process_stdin),
        cmocka_unit_test(test_process_on_line),
        cmocka_unit_test(test_process_stderr_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
