/* The run loop (src/runner/runner.c) driven through whole sessions: a scripted in-process
 * transport answers every request from a list and records exactly what the servo sent; a
 * fake connector describes, measures and adjusts, counts its calls, reports progress and
 * notices cancellation. Every request is compared with the JSON it must be. */
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "events/bus.h"
#include "runner/client.h"
#include "runner/runner.h"
#include "servo/events.h"
#include "util/log.h"
#include "util/util.h"

/* ---- the scripted transport ------------------------------------------------------------- */

/* One scripted answer, to the next request that is not a progress report or GOODBYE. */
struct reply {
    const char *event;     /* the event it must answer */
    long http_status;      /* 0: 200 */
    const char *body;      /* NULL: a transport error (connection refused) */
    double shutdown_after; /* > 0: cancel the shutdown token ("SIGTERM") this long after */
};

struct script {
    pthread_mutex_t lock;
    const struct reply *replies;
    size_t count;
    size_t next;
    const char *const *progress_replies; /* answers to progress reports, in order; then ok */
    size_t progress_next;
    json_t *requests;   /* every request, in order (copies) */
    char mismatch[512]; /* the first request that did not match the script */
    struct cancel_token *shutdown;
    double shutdown_at; /* monotonic; 0: not scheduled */
    pthread_t timer;
    bool timer_stop;
};

/* A progress reply that never comes. */
#define HANG "<hang>"

static bool is_progress(const json_t *request)
{
    return json_object_get(json_object_get(request, "param"), "progress") != NULL;
}

static void fill(struct exchange *out, long status, const char *body)
{
    out->http_status = status;
    out->status = status >= 200 && status < 300 ? EXCHANGE_OK : EXCHANGE_HTTP_ERROR;
    out->body = xstrdup(body);
    json_t *parsed = json_loads(body, JSON_DECODE_ANY, NULL);
    if (json_is_object(parsed))
        out->reply = parsed;
    else
        json_decref(parsed);
}

static void script_exchange(void *context, const json_t *request, struct cancel_token *token,
                            struct exchange *out)
{
    struct script *s = context;
    memset(out, 0, sizeof *out);
    const char *event = json_string_value(json_object_get(request, "event"));
    pthread_mutex_lock(&s->lock);
    json_array_append_new(s->requests, json_deep_copy(request));
    if (is_progress(request)) {
        const char *body = s->progress_replies && s->progress_replies[s->progress_next]
                               ? s->progress_replies[s->progress_next++]
                               : "{\"status\": \"ok\"}";
        if (strcmp(body, HANG) == 0) {
            /* an optimizer that never answers: only the token ends the wait */
            pthread_mutex_unlock(&s->lock);
            cancel_wait(token, 30);
            out->status = EXCHANGE_CANCELLED;
            return;
        }
        fill(out, 200, body);
    } else if (str_eq(event, "GOODBYE")) {
        fill(out, 200, "{\"status\":\"ok\",\"message\":null,\"reason\":\"success\"}");
    } else if (s->next >= s->count) {
        /* the end of the script: the session ends as with SIGTERM */
        cancel_trigger(s->shutdown, "SIGTERM");
        out->status = EXCHANGE_CANCELLED;
    } else {
        const struct reply *r = &s->replies[s->next++];
        if (!str_eq(r->event, event) && s->mismatch[0] == '\0')
            snprintf(s->mismatch, sizeof s->mismatch, "request %zu: expected %s, got %s",
                     json_array_size(s->requests) - 1, r->event, event ? event : "?");
        if (r->body == NULL) {
            out->status = EXCHANGE_TRANSPORT;
            snprintf(out->error, sizeof out->error, "connection refused");
        } else {
            fill(out, r->http_status ? r->http_status : 200, r->body);
        }
        if (r->shutdown_after > 0)
            s->shutdown_at = clock_monotonic() + r->shutdown_after;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Cancels the shutdown token when a reply asked for it. */
static void *script_timer(void *arg)
{
    struct script *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool stop = s->timer_stop;
        bool due = s->shutdown_at > 0 && clock_monotonic() >= s->shutdown_at;
        if (due)
            s->shutdown_at = 0;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            return NULL;
        if (due)
            cancel_trigger(s->shutdown, "SIGTERM");
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- the fake connector ----------------------------------------------------------------- */

enum fake_progress {
    FAKE_PROGRESS_NONE,
    FAKE_PROGRESS_BURSTS, /* 10, 20, 30 at once; 1.6 s later 100 and 60, then done */
    FAKE_PROGRESS_ONCE,   /* 10, then done */
};

static struct fake {
    int describes, measures, adjusts, startups, shutdowns, promotes;
    int shutdowns_at_promote; /* shutdown events seen when promote ran */
    enum fake_progress progress;
    double hold; /* measure and adjust wait this long (cancellable) after a 10 % report */
    bool saw_cancel;
    const char *fail_event; /* fail this event with the kind, reason and message below */
    enum servo_error_kind fail_kind;
    const char *fail_reason;
    const char *fail_message;
    double cpu, replicas;
} fake;

static struct servo_description *fake_description(void)
{
    struct servo_description *d = servo_description_new();
    struct servo_component *c = servo_description_component(d, "main");
    struct servo_setting *s = servo_component_range(c, "cpu", "cores", 0.25, 4.0, 0.125);
    servo_setting_set_value(s, fake.cpu);
    s = servo_component_range(c, "replicas", NULL, 1, 10, 1);
    s->integer = true;
    servo_setting_set_value(s, fake.replicas);
    servo_description_add_metric(d, "throughput", "rps");
    servo_description_add_metric(d, "error_rate", "%");
    return d;
}

static int maybe_fail(struct servo_event *ev)
{
    if (!str_eq(fake.fail_event, servo_event_name(ev)))
        return 0;
    return servo_event_fail(ev, fake.fail_kind, fake.fail_reason, "%s", fake.fail_message);
}

/* Reports 10 % and waits `hold` seconds; -1 when the event was cancelled meanwhile. */
static int hold(struct servo_event *ev)
{
    if (fake.hold <= 0)
        return 0;
    servo_event_progress(ev, 10, "holding");
    servo_duration d = 0;
    servo_duration_from_seconds(fake.hold, &d, NULL);
    if (servo_event_sleep(ev, d) == 0)
        return 0;
    fake.saw_cancel = true;
    return servo_event_fail(ev, SERVO_ERROR_CANCELLED, "", "cancelled while holding");
}

static void bursts(struct servo_event *ev)
{
    servo_event_progress(ev, 10, "measuring %d", 10);
    servo_event_progress(ev, 20, "measuring %d", 20);
    servo_event_progress(ev, 30, "measuring %d", 30);
    servo_event_sleep(ev, 1600 * SERVO_MILLISECOND);
    servo_event_progress(ev, 100, "measured");
    servo_event_progress(ev, 60, "measuring %d", 60);
}

static int fake_describe(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    fake.describes++;
    if (maybe_fail(ev) != 0)
        return -1;
    servo_event_set_description(ev, fake_description());
    return 0;
}

static int fake_measure(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    fake.measures++;
    if (maybe_fail(ev) != 0 || hold(ev) != 0)
        return -1;
    if (fake.progress == FAKE_PROGRESS_BURSTS)
        bursts(ev);
    if (fake.progress == FAKE_PROGRESS_ONCE)
        servo_event_progress(ev, 10, "once");
    struct servo_measurement *m = servo_measurement_new();
    if (servo_event_wants_metric(ev, "throughput")) {
        struct servo_reading *r = servo_measurement_series(m, "throughput", "rps", "1");
        servo_reading_add(r, 1704067200, 10.0);
        servo_reading_add(r, 1704067230, 11.0);
    }
    if (servo_event_wants_metric(ev, "error_rate"))
        servo_measurement_point(m, "error_rate", "%", 1704067200, 0.5);
    servo_measurement_annotate(m, "stub", "fake");
    servo_event_set_measurement(ev, m);
    return 0;
}

static int fake_adjust(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    fake.adjusts++;
    if (maybe_fail(ev) != 0 || hold(ev) != 0)
        return -1;
    const struct servo_adjustments *a = servo_event_adjustments(ev);
    for (size_t i = 0; i < a->count; i++) {
        if (str_eq(a->items[i].setting, "cpu"))
            fake.cpu = a->items[i].value;
        else if (str_eq(a->items[i].setting, "replicas"))
            fake.replicas = a->items[i].value;
    }
    servo_event_set_description(ev, fake_description());
    return 0;
}

static int fake_startup(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    (void)ev;
    fake.startups++;
    return 0;
}

static int fake_promote(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    fake.promotes++;
    fake.shutdowns_at_promote = fake.shutdowns;
    return maybe_fail(ev);
}

static int fake_shutdown(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    (void)ev;
    fake.shutdowns++;
    return 0;
}

static const struct servo_handler fake_handlers[] = {
    {"describe", SERVO_ON, fake_describe},
    {"measure", SERVO_ON, fake_measure},
    {"adjust", SERVO_ON, fake_adjust},
    {"startup", SERVO_ON, fake_startup},
    {"shutdown", SERVO_ON, fake_shutdown},
    {"promote", SERVO_ON, fake_promote},
    {NULL, 0, NULL},
};

static const struct servo_connector_plugin fake_plugin = {
    SERVO_CONNECTOR_HEADER, .name = "fake", .class_name = "FakeConnector", .version = "0.0.1",
    .handlers = fake_handlers};

/* ---- the harness ------------------------------------------------------------------------ */

static struct harness {
    struct script script;
    struct transport transport;
    struct cancel_token shutdown;
    char *backoff_keys[2];
    struct backoff_settings backoff_values[2];
    struct servo_settings settings;
    struct servo_connector connector;
    struct servo_config servo;
    struct runner_options options;
    int rc;
    double elapsed;
} h;

static int setup(void **state)
{
    (void)state;
    memset(&h, 0, sizeof h);
    memset(&fake, 0, sizeof fake);
    fake.cpu = 1.0;
    fake.replicas = 2;
    cancel_init(&h.shutdown, NULL, 0);
    pthread_mutex_init(&h.script.lock, NULL);
    h.script.requests = json_array();
    h.script.shutdown = &h.shutdown;
    pthread_create(&h.script.timer, NULL, script_timer, &h.script);
    h.transport = (struct transport){.exchange = script_exchange, .context = &h.script};
    h.settings.servo_uid = "servo-uid-1";
    h.connector = (struct servo_connector){.name = "fake", .plugin = &fake_plugin};
    h.servo = (struct servo_config){
        .name = "test", .settings = &h.settings, .connectors = &h.connector, .connector_count = 1};
    unsetenv("POD_NAMESPACE");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pthread_mutex_lock(&h.script.lock);
    h.script.timer_stop = true;
    pthread_mutex_unlock(&h.script.lock);
    pthread_join(h.script.timer, NULL);
    json_decref(h.script.requests);
    pthread_mutex_destroy(&h.script.lock);
    cancel_destroy(&h.shutdown);
    return 0;
}

/* Backoff settings for both contexts: give up after `tries` attempts. */
static void give_up_after(long tries)
{
    h.backoff_keys[0] = "__default__";
    h.backoff_keys[1] = "connect";
    for (size_t i = 0; i < 2; i++)
        h.backoff_values[i] =
            (struct backoff_settings){.max_time = SERVO_UNSET, .max_tries = tries};
    h.settings.settings.backoff =
        (struct servo_map){.count = 2, .keys = h.backoff_keys, .values = h.backoff_values};
}

static void run_script(const struct reply *replies, size_t count)
{
    h.script.replies = replies;
    h.script.count = count;
    double start = clock_monotonic();
    h.rc = runner_run(&h.servo, &h.transport, &h.options, &h.shutdown);
    h.elapsed = clock_monotonic() - start;
    if (h.script.mismatch[0])
        fail_msg("%s", h.script.mismatch);
}

#define RUN(replies) run_script(replies, ARRAY_LEN(replies))

/* ---- expectations ----------------------------------------------------------------------- */

/* JSON written with ' for " (the expected literals stay readable). */
static json_t *json_text(const char *text)
{
    char *copy = xstrdup(text);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t error;
    json_t *json = json_loads(copy, JSON_DECODE_ANY, &error);
    if (json == NULL)
        fail_msg("bad expected JSON (%s): %s", error.text, copy);
    free(copy);
    return json;
}

static char *dump(const json_t *json)
{
    return json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

/* A progress report's runtime varies: checked to be in [low, high], then set to 0. */
static void normalize_runtime(json_t *request, double low, double high)
{
    json_t *param = json_object_get(request, "param");
    json_t *runtime = json_object_get(param, "runtime");
    if (runtime == NULL || !is_progress(request))
        return;
    double value = json_number_value(runtime);
    if (value < low || value > high)
        fail_msg("progress runtime %.3f outside [%.3f, %.3f]", value, low, high);
    json_object_set_new(param, "runtime", json_real(0));
}

static void assert_request_json(size_t index, const json_t *expected)
{
    const json_t *actual = json_array_get(h.script.requests, index);
    if (actual != NULL && json_equal(expected, actual))
        return;
    char *want = dump(expected), *got = actual ? dump(actual) : xstrdup("(none)");
    print_error("request %zu\n  expected %s\n  actual   %s\n", index, want, got);
    free(want);
    free(got);
    fail();
}

static void assert_request(size_t index, const char *expected_text)
{
    json_t *expected = json_text(expected_text);
    assert_request_json(index, expected);
    json_decref(expected);
}

static void assert_request_count(size_t count)
{
    size_t n = json_array_size(h.script.requests);
    if (n == count)
        return;
    for (size_t i = 0; i < n; i++) {
        char *text = dump(json_array_get(h.script.requests, i));
        print_error("request %zu: %s\n", i, text);
        free(text);
    }
    fail_msg("%zu requests, expected %zu", n, count);
}

/* {"event":"HELLO","param":{"agent":..,"telemetry":{..}},"servo_uid":uid} */
static json_t *hello_request(const char *uid, const char *namespace)
{
    struct utsname u;
    assert_int_equal(uname(&u), 0);
    char *platform = xasprintf("%s-%s-%s", u.sysname, u.release, u.machine);
    json_t *telemetry =
        json_pack("{s:s, s:s}", "servox.version", SERVO_VERSION, "servox.platform", platform);
    if (namespace)
        json_object_set_new(telemetry, "servox.namespace", json_string(namespace));
    free(platform);
    return json_pack("{s:s, s:{s:s, s:o}, s:s?}", "event", "HELLO", "param", "agent",
                     servo_user_agent(), "telemetry", telemetry, "servo_uid", uid);
}

static void assert_hello(size_t index, const char *uid)
{
    json_t *expected = hello_request(uid, NULL);
    assert_request_json(index, expected);
    json_decref(expected);
}

#define UID "'servo_uid':'servo-uid-1'"
#define WHATS_NEXT "{'event':'WHATS_NEXT','param':null," UID "}"
#define OK_REPLY "{'status':'ok','message':null,'reason':'success'}"
#define OK_BODY "{\"status\":\"ok\",\"message\":null,\"reason\":\"success\",\"cmd_uid\":null}"

#define DESCRIPTOR(cpu, replicas)                                                            \
    "{'application':{'components':{'main':{'settings':{"                                     \
    "'cpu':{'type':'range','unit':'cores','min':0.25,'max':4.0,'step':0.125,'pinned':false," \
    "'value':" cpu "},"                                                                      \
    "'replicas':{'type':'range','min':1,'max':10,'step':1,'pinned':false,'value':" replicas  \
    "}}}}},'measurement':{'metrics':{'throughput':{'unit':'rps'},'error_rate':{'unit':'%'}}}}"

#define METRICS                                                                  \
    "{'throughput':{'unit':'rps','values':[{'id':'1','data':[[1704067200,10.0]," \
    "[1704067230,11.0]]}]},'error_rate':{'unit':'%','value':0.5}}"

#define MEASUREMENT_OK(uid)                                                            \
    "{'event':'MEASUREMENT','param':{'status':'ok','message':null,'reason':'success'," \
    "'metrics':" METRICS ",'annotations':{'stub':'fake'},'cmd_uid':" uid "}," UID "}"

#define GOODBYE(reason) "{'event':'GOODBYE','param':{'reason':'" reason "'}," UID "}"

static const char describe_cmd[] = "{\"cmd\":\"DESCRIBE\",\"cmd_uid\":\"cmd-1\",\"param\":{}}";
static const char measure_cmd[] =
    "{\"cmd\":\"MEASURE\",\"cmd_uid\":\"cmd-2\",\"param\":{\"metrics\":[\"throughput\","
    "\"error_rate\"],\"control\":{\"duration\":3.0,\"delay\":0.0,\"warmup\":0.0,"
    "\"settlement\":null,\"load\":null,\"userdata\":null,\"environment\":null}}}";
static const char adjust_cmd[] =
    "{\"cmd\":\"ADJUST\",\"cmd_uid\":\"cmd-3\",\"param\":{\"state\":{\"application\":"
    "{\"components\":{\"main\":{\"settings\":{\"cpu\":{\"value\":1.5},\"replicas\":"
    "{\"value\":3}}}}}},\"control\":{\"settlement\":1.0}}}";
static const char sleep_cmd[] =
    "{\"cmd\":\"SLEEP\",\"cmd_uid\":null,\"param\":{\"duration\":60,\"data\":{\"reason\":"
    "\"no active optimization pipeline\"}}}";

/* ---- whole sessions --------------------------------------------------------------------- */

static void test_full_session(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, measure_cmd, 0},
        {"MEASUREMENT", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, adjust_cmd, 0},
        {"ADJUSTMENT", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, sleep_cmd, 0.3}, /* SIGTERM 0.3 s into a 60 s sleep */
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(h.elapsed < 10);
    assert_request_count(9);
    assert_hello(0, "servo-uid-1");
    assert_request(1, WHATS_NEXT);
    assert_request(2, "{'event':'DESCRIPTION','param':{'status':'ok','message':null,"
                      "'reason':'success','descriptor':" DESCRIPTOR(
                          "1.0", "2") ",'cmd_uid':'cmd-1'}," UID "}");
    assert_request(3, WHATS_NEXT);
    assert_request(4, MEASUREMENT_OK("'cmd-2'"));
    assert_request(5, WHATS_NEXT);
    assert_request(
        6, "{'event':'ADJUSTMENT','param':{'status':'ok','message':null,"
           "'reason':'success','state':" DESCRIPTOR("1.5", "3") ",'cmd_uid':'cmd-3'}," UID "}");
    assert_request(7, WHATS_NEXT);
    assert_request(8, GOODBYE("SIGTERM"));
    assert_int_equal(fake.describes, 1);
    assert_int_equal(fake.measures, 1);
    assert_int_equal(fake.adjusts, 1);
    assert_int_equal(fake.startups, 1);
    assert_int_equal(fake.shutdowns, 1);
}

static void test_null_uids_metric_map_and_namespace(void **state)
{
    (void)state;
    h.settings.servo_uid = NULL;
    setenv("POD_NAMESPACE", "opsani", 1);
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0,
         "{\"cmd\":\"MEASURE\",\"param\":{\"metrics\":{\"throughput\":"
         "{\"unit\":\"rps\"}}}}",
         0},
        {"MEASUREMENT", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(5);
    json_t *hello = hello_request(NULL, "opsani");
    assert_request_json(0, hello);
    json_decref(hello);
    assert_request(1, "{'event':'WHATS_NEXT','param':null,'servo_uid':null}");
    assert_request(2, "{'event':'MEASUREMENT','param':{'status':'ok','message':null,"
                      "'reason':'success','metrics':{'throughput':{'unit':'rps','values':"
                      "[{'id':'1','data':[[1704067200,10.0],[1704067230,11.0]]}]}},"
                      "'annotations':{'stub':'fake'},'cmd_uid':null},'servo_uid':null}");
    assert_request(4, "{'event':'GOODBYE','param':{'reason':'SIGTERM'},'servo_uid':null}");
    unsetenv("POD_NAMESPACE");
}

static void test_max_commands_says_goodbye_shutdown(void **state)
{
    (void)state;
    h.options.max_commands = 1;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(4);
    assert_request(3, GOODBYE("shutdown"));
    assert_int_equal(fake.shutdowns, 1);
}

/* The embedded optimizer's hooks: stop once the study is over, promote when the servo is at
 * the best settings. */
static bool stop_after_describe(void *context)
{
    (void)context;
    return fake.describes >= 1;
}

static bool best_applied(void *context)
{
    return *(const bool *)context;
}

/* A session that the stop hook ends after one DESCRIBE, with the promote hook saying
 * `applied`. */
static void run_until_stop(bool applied)
{
    static bool context;
    context = applied;
    h.options.stop = stop_after_describe;
    h.options.stop_context = &context;
    h.options.promote = best_applied;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0, OK_BODY, 0},
    };
    RUN(replies);
}

static void test_stop_then_promote(void **state)
{
    (void)state;
    run_until_stop(true);
    assert_int_equal(h.rc, 0);
    assert_int_equal(fake.promotes, 1);
    assert_int_equal(fake.shutdowns_at_promote, 0); /* before the shutdown event */
    assert_int_equal(fake.shutdowns, 1);
    assert_request(3, GOODBYE("shutdown"));
}

static void test_stop_without_best_does_not_promote(void **state)
{
    (void)state;
    run_until_stop(false);
    assert_int_equal(h.rc, 0);
    assert_int_equal(fake.promotes, 0);
    assert_int_equal(fake.shutdowns, 1);
}

static void test_failed_promote_fails_the_run(void **state)
{
    (void)state;
    fake.fail_event = "promote";
    fake.fail_kind = SERVO_ERROR_FAILED;
    fake.fail_reason = "promote-failed";
    fake.fail_message = "the Deployment is gone";
    run_until_stop(true);
    assert_int_equal(h.rc, 1);
    assert_int_equal(fake.promotes, 1);
    assert_int_equal(fake.shutdowns, 1); /* still shut down, GOODBYE still said */
    assert_request(3, GOODBYE("shutdown"));
}

static void test_no_poll_says_hello_and_waits(void **state)
{
    (void)state;
    h.options.no_poll = true;
    static const struct reply replies[] = {{"HELLO", 0, OK_BODY, 0.3}};
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(h.elapsed < 5);
    assert_request_count(2);
    assert_hello(0, "servo-uid-1");
    assert_request(1, GOODBYE("SIGTERM"));
    assert_int_equal(fake.startups, 1);
}

/* ---- progress --------------------------------------------------------------------------- */

static void test_progress_rate_limited_never_100_dropped_after(void **state)
{
    (void)state;
    fake.progress = FAKE_PROGRESS_BURSTS;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, measure_cmd, 0},
        {"MEASUREMENT", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    /* 10 goes at once; 20 is replaced by 30, which goes a second later; 100 is never sent;
     * 60 waits for the interval when the command ends, and is dropped with it. */
    assert_request_count(7);
    normalize_runtime(json_array_get(h.script.requests, 2), 0, 0.5);
    normalize_runtime(json_array_get(h.script.requests, 3), 0.9, 1.6);
    assert_request(2, "{'event':'MEASUREMENT','param':{'progress':10.0,'runtime':0.0,"
                      "'cmd_uid':'cmd-2','message':'measuring 10'}," UID "}");
    assert_request(3, "{'event':'MEASUREMENT','param':{'progress':30.0,'runtime':0.0,"
                      "'cmd_uid':'cmd-2','message':'measuring 30'}," UID "}");
    assert_request(4, MEASUREMENT_OK("'cmd-2'"));
    assert_request(5, WHATS_NEXT);
    assert_request(6, GOODBYE("SIGTERM"));
}

static void test_hanging_progress_report_does_not_hold_the_result(void **state)
{
    (void)state;
    fake.progress = FAKE_PROGRESS_ONCE;
    static const char *const progress[] = {HANG, NULL};
    h.script.progress_replies = progress;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, measure_cmd, 0},
        {"MEASUREMENT", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    /* the measurement was done at once; its report hung; the result went 2 s later */
    assert_true(h.elapsed >= 1.9 && h.elapsed < 6);
    assert_request_count(6);
    normalize_runtime(json_array_get(h.script.requests, 2), 0, 1);
    assert_request(2, "{'event':'MEASUREMENT','param':{'progress':10.0,'runtime':0.0,"
                      "'cmd_uid':'cmd-2','message':'once'}," UID "}");
    assert_request(3, MEASUREMENT_OK("'cmd-2'"));
}

static void test_cancel_during_measure(void **state)
{
    (void)state;
    fake.hold = 30;
    static const char *const progress[] = {"{\"status\":\"cancel\",\"reason\":\"operator says "
                                           "stop\"}",
                                           NULL};
    h.script.progress_replies = progress;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, measure_cmd, 0},
        {"MEASUREMENT", 0, OK_BODY, 0}, /* the cancelled status */
        {"HELLO", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(h.elapsed < 10);
    assert_true(fake.saw_cancel);
    assert_int_equal(fake.measures, 1);
    assert_request_count(8);
    normalize_runtime(json_array_get(h.script.requests, 2), 0, 1);
    assert_request(2, "{'event':'MEASUREMENT','param':{'progress':10.0,'runtime':0.0,"
                      "'cmd_uid':'cmd-2','message':'holding'}," UID "}");
    assert_request(3, "{'event':'MEASUREMENT','param':{'status':'cancelled',"
                      "'message':'operator says stop','reason':null,'cmd_uid':'cmd-2'}," UID "}");
    assert_request(4, GOODBYE("restarting"));
    assert_hello(5, "servo-uid-1");
    assert_request(6, WHATS_NEXT);
    assert_request(7, GOODBYE("SIGTERM"));
    assert_int_equal(fake.startups, 1); /* a restart is no new startup */
}

static void test_progress_reply_unexpected_cmd_uid_drops_command(void **state)
{
    (void)state;
    fake.hold = 30;
    static const char *const progress[] = {
        "{\"status\":\"invalid\",\"reason\":\"unexpected cmd_uid\"}", NULL};
    h.script.progress_replies = progress;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, measure_cmd, 0},
        {"HELLO", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(fake.saw_cancel);
    /* no MEASUREMENT result: the optimizer no longer knows the command */
    assert_request_count(7);
    assert_request(3, GOODBYE("restarting"));
    assert_hello(4, "servo-uid-1");
    assert_request(5, WHATS_NEXT);
    assert_request(6, GOODBYE("SIGTERM"));
}

/* ---- status replies --------------------------------------------------------------------- */

static void test_unexpected_event_restarts(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0,
         "{\"status\":\"unexpected-event\",\"reason\":\"Out of order event \\\"DESCRIPTION\\\", "
         "expected \\\"MEASUREMENT\\\"; ignoring\"}",
         0},
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, "{\"status\":\"invalid\",\"reason\":\"unexpected cmd_uid\"}", 0},
        {"HELLO", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(10);
    assert_request(3, GOODBYE("restarting"));
    assert_hello(4, "servo-uid-1");
    assert_request(5, WHATS_NEXT);
    assert_request(6, GOODBYE("restarting"));
    assert_hello(7, "servo-uid-1");
    assert_request(8, WHATS_NEXT);
    assert_request(9, GOODBYE("SIGTERM"));
}

static void test_other_statuses_and_unknown_command_are_survived(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, "{\"cmd\":\"PROMOTE\",\"cmd_uid\":\"cmd-9\",\"param\":{}}", 0},
        {"WHATS_NEXT", 0, "{\"status\":\"invalid\",\"reason\":\"no such servo\"}", 0},
        {"WHATS_NEXT", 0, "{\"status\":\"ok\"}", 0},
        {"WHATS_NEXT", 0, "{\"status\":\"cancel\"}", 0},
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0, "{\"status\":\"cancel\"}", 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(9);
    for (size_t i = 1; i <= 5; i++)
        assert_request(i, WHATS_NEXT);
    assert_request(7, WHATS_NEXT);
    assert_request(8, GOODBYE("SIGTERM"));
    assert_int_equal(fake.describes, 1);
}

static void test_garbage_and_wrong_shapes_are_survived(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, "this is not JSON", 0},           /* retried by the client */
        {"WHATS_NEXT", 0, "{\"cmd\":\"DESCR", 0},           /* truncated: retried */
        {"WHATS_NEXT", 0, "[\"cmd\", \"DESCRIBE\"]", 0},    /* not an object: retried */
        {"WHATS_NEXT", 0, "{\"command\":\"DESCRIBE\"}", 0}, /* no cmd, no status */
        {"WHATS_NEXT", 0, "{\"cmd\":42,\"param\":{}}", 0},  /* cmd not a string */
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0, "", 0}, /* an empty body: retried; DESCRIBE is not run again */
        {"DESCRIPTION", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(11);
    for (size_t i = 1; i <= 6; i++)
        assert_request(i, WHATS_NEXT);
    assert_request(7, "{'event':'DESCRIPTION','param':{'status':'ok','message':null,"
                      "'reason':'success','descriptor':" DESCRIPTOR(
                          "1.0", "2") ",'cmd_uid':'cmd-1'}," UID "}");
    json_t *first = json_array_get(h.script.requests, 7);
    assert_true(json_equal(first, json_array_get(h.script.requests, 8)));
    assert_int_equal(fake.describes, 1);
}

static void test_malformed_params_fail_their_command(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, "{\"cmd\":\"MEASURE\",\"cmd_uid\":\"m1\",\"param\":{\"metrics\":3}}", 0},
        {"MEASUREMENT", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, "{\"cmd\":\"ADJUST\",\"cmd_uid\":\"a1\",\"param\":{\"control\":{}}}", 0},
        {"ADJUSTMENT", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0,
         "{\"cmd\":\"ADJUST\",\"cmd_uid\":\"a2\",\"param\":{\"state\":{\"application\":"
         "{\"components\":{\"main\":{\"settings\":{\"cpu\":7}}}}}}}",
         0},
        {"ADJUSTMENT", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, "{\"cmd\":\"DESCRIBE\",\"cmd_uid\":\"d1\",\"param\":5}", 0},
        {"DESCRIPTION", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(11);
    assert_request(2, "{'event':'MEASUREMENT','param':{'status':'failed','message':"
                      "'invalid MEASURE command: metrics: expected a list of metric names or an "
                      "object','reason':'invalid-param','cmd_uid':'m1'}," UID "}");
    assert_request(4, "{'event':'ADJUSTMENT','param':{'status':'failed','message':"
                      "'invalid ADJUST command: no state to adjust to','reason':'invalid-param',"
                      "'cmd_uid':'a1'}," UID "}");
    const json_t *param = json_object_get(json_array_get(h.script.requests, 6), "param");
    assert_string_equal(json_string_value(json_object_get(param, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(param, "reason")), "invalid-param");
    assert_string_equal(json_string_value(json_object_get(param, "cmd_uid")), "a2");
    assert_non_null(strstr(json_string_value(json_object_get(param, "message")),
                           "invalid ADJUST command: state: "));
    assert_request(8, "{'event':'DESCRIPTION','param':{'status':'failed','message':"
                      "'invalid DESCRIBE command: param: expected an object','reason':"
                      "'invalid-param','cmd_uid':'d1'}," UID "}");
    assert_int_equal(fake.measures + fake.adjusts + fake.describes, 0);
}

/* ---- errors ----------------------------------------------------------------------------- */

struct error_case {
    const char *event;
    enum servo_error_kind kind;
    const char *reason;
    const char *expected;
    const char *message; /* NULL: "it broke" */
};

static void run_error_case(const struct error_case *e)
{
    fake.fail_event = e->event;
    fake.fail_kind = e->kind;
    fake.fail_reason = e->reason;
    fake.fail_message = e->message ? e->message : "it broke";
    const char *command = str_eq(e->event, "measure")  ? measure_cmd
                          : str_eq(e->event, "adjust") ? adjust_cmd
                                                       : describe_cmd;
    const char *result = str_eq(e->event, "measure")  ? "MEASUREMENT"
                         : str_eq(e->event, "adjust") ? "ADJUSTMENT"
                                                      : "DESCRIPTION";
    const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, command, 0},
        {result, 0, OK_BODY, 0},
    };
    json_array_clear(h.script.requests);
    h.script.next = 0;
    cancel_destroy(&h.shutdown);
    cancel_init(&h.shutdown, NULL, 0);
    run_script(replies, ARRAY_LEN(replies));
    assert_int_equal(h.rc, 0);
    assert_request_count(5);
    assert_request(2, e->expected);
}

static void test_errors_map_to_statuses(void **state)
{
    (void)state;
    static const struct error_case cases[] = {
        {"measure", SERVO_ERROR_MEASUREMENT_FAILED, "unknown-metric",
         "{'event':'MEASUREMENT','param':{'status':'failed','message':'it broke',"
         "'reason':'unknown-metric','cmd_uid':'cmd-2'}," UID "}",
         NULL},
        {"adjust", SERVO_ERROR_ADJUSTMENT_REJECTED, "scale-limit",
         "{'event':'ADJUSTMENT','param':{'status':'rejected','message':'it broke',"
         "'reason':'scale-limit','cmd_uid':'cmd-3'}," UID "}",
         NULL},
        {"adjust", SERVO_ERROR_ABORTED, "slo-violation",
         "{'event':'ADJUSTMENT','param':{'status':'aborted','message':'it broke',"
         "'reason':'slo-violation','cmd_uid':'cmd-3'}," UID "}",
         NULL},
        {"adjust", SERVO_ERROR_ADJUSTMENT_FAILED, "start-failed",
         "{'event':'ADJUSTMENT','param':{'status':'failed','message':'it broke',"
         "'reason':'start-failed','cmd_uid':'cmd-3'}," UID "}",
         NULL},
        {"describe", SERVO_ERROR_FAILED, "",
         "{'event':'DESCRIPTION','param':{'status':'failed','message':'it broke',"
         "'reason':null,'cmd_uid':'cmd-1'}," UID "}",
         NULL},
        {"measure", SERVO_ERROR_CANCELLED, "",
         "{'event':'MEASUREMENT','param':{'status':'cancelled','message':'it broke',"
         "'reason':null,'cmd_uid':'cmd-2'}," UID "}",
         NULL},
        /* a message that is not UTF-8 (a command's stderr, a truncated message) is cleaned */
        {"measure", SERVO_ERROR_MEASUREMENT_FAILED, "",
         "{'event':'MEASUREMENT','param':{'status':'failed','message':'bad ? byte',"
         "'reason':null,'cmd_uid':'cmd-2'}," UID "}",
         "bad \xff byte"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        run_error_case(&cases[i]);
}

/* ---- delivery, 410, giving up ----------------------------------------------------------- */

static void test_result_retried_without_measuring_again(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, NULL, 0}, /* connection refused: HELLO is retried */
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, measure_cmd, 0},
        {"MEASUREMENT", 503, "{\"detail\":\"busy\"}", 0},
        {"MEASUREMENT", 502, "<html>bad gateway</html>", 0},
        {"MEASUREMENT", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(8);
    assert_hello(0, "servo-uid-1");
    assert_hello(1, "servo-uid-1");
    for (size_t i = 3; i <= 5; i++)
        assert_request(i, MEASUREMENT_OK("'cmd-2'"));
    assert_int_equal(fake.measures, 1);
}

static void test_gone_sleeps_until_shutdown(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 410, "{\"detail\":\"unexpected servo_uid\"}", 0.3},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(h.elapsed < 5); /* the hour of sleep ended with the shutdown */
    assert_request_count(3);
    assert_request(1, WHATS_NEXT);
    assert_request(2, GOODBYE("SIGTERM"));
}

static void test_whats_next_gave_up_connects_again(void **state)
{
    (void)state;
    give_up_after(2);
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 500, "{}", 0},
        {"WHATS_NEXT", 500, "{}", 0},
        {"HELLO", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(6);
    assert_hello(3, "servo-uid-1");
    assert_request(4, WHATS_NEXT);
    assert_request(5, GOODBYE("SIGTERM"));
}

static void test_result_given_up_is_reported_not_remeasured(void **state)
{
    (void)state;
    give_up_after(2);
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},      {"WHATS_NEXT", 0, measure_cmd, 0},
        {"MEASUREMENT", 503, "{}", 0}, {"MEASUREMENT", 503, "{}", 0},
        {"HELLO", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(7);
    assert_hello(4, "servo-uid-1");
    assert_int_equal(fake.measures, 1);
}

static void test_whats_next_rejected_pauses_and_sleep_durations(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 403, "{\"detail\":\"forbidden\"}", 0}, /* not retried: a pause */
        {"WHATS_NEXT", 0, "{\"cmd\":\"SLEEP\",\"param\":{\"duration\":\"100ms\"}}", 0},
        {"WHATS_NEXT", 0, "{\"cmd\":\"SLEEP\",\"param\":{\"duration\":0.2}}", 0},
        {"WHATS_NEXT", 0, "{\"cmd\":\"SLEEP\",\"param\":null}", 0.3}, /* 120 s, interrupted */
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(h.elapsed >= 5 && h.elapsed < 12);
    assert_request_count(6);
    for (size_t i = 1; i <= 4; i++)
        assert_request(i, WHATS_NEXT);
    assert_request(5, GOODBYE("SIGTERM"));
}

static void test_hello_rejected_stops_the_loop(void **state)
{
    (void)state;
    static const struct reply replies[] = {
        {"HELLO", 400, "{\"detail\":\"bad request\"}", 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 1);
    assert_request_count(1); /* no GOODBYE: never connected */
    assert_int_equal(fake.startups, 0);
    assert_int_equal(fake.shutdowns, 0);
}

/* 401 and 403 to HELLO are retried (a rotated token), as ServoX does. */
static void test_hello_refused_token_is_retried(void **state)
{
    (void)state;
    h.options.max_commands = 1;
    static const struct reply replies[] = {
        {"HELLO", 401, "{\"detail\":\"bad token\"}", 0},
        {"HELLO", 403, "{\"detail\":\"forbidden\"}", 0},
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, describe_cmd, 0},
        {"DESCRIPTION", 0, OK_BODY, 0},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_request_count(6);
    assert_request(5, GOODBYE("shutdown"));
    assert_int_equal(fake.startups, 1);
}

static void test_shutdown_during_adjust(void **state)
{
    (void)state;
    fake.hold = 30;
    static const struct reply replies[] = {
        {"HELLO", 0, OK_BODY, 0},
        {"WHATS_NEXT", 0, adjust_cmd, 0.3},
    };
    RUN(replies);
    assert_int_equal(h.rc, 0);
    assert_true(h.elapsed < 5);
    assert_true(fake.saw_cancel);
    /* no ADJUSTMENT for an adjust that the shutdown interrupted; GOODBYE says why */
    assert_request_count(4);
    assert_request(3, GOODBYE("SIGTERM"));
    assert_int_equal(fake.shutdowns, 1);
}

int main(void)
{
    /* TEST_RUNNER_LOG=TRACE shows what the loop logs */
    const char *level = getenv("TEST_RUNNER_LOG");
    log_set_level(level && log_level_parse(level) >= 0
                      ? (enum servo_log_level)log_level_parse(level)
                      : SERVO_LOG_CRITICAL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_uids_metric_map_and_namespace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_commands_says_goodbye_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_then_promote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_without_best_does_not_promote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_promote_fails_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_poll_says_hello_and_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_rate_limited_never_100_dropped_after, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hanging_progress_report_does_not_hold_the_result,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_measure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_reply_unexpected_cmd_uid_drops_command, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unexpected_event_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_statuses_and_unknown_command_are_survived, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_garbage_and_wrong_shapes_are_survived, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_params_fail_their_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_map_to_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_retried_without_measuring_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gone_sleeps_until_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whats_next_gave_up_connects_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_given_up_is_reported_not_remeasured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_whats_next_rejected_pauses_and_sleep_durations, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hello_rejected_stops_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_refused_token_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_during_adjust, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
