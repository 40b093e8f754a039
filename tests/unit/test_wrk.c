/* The wrk connector: the summary line parser against the recorded wrk runs (exact metric
 * values), the error rate, the Lua hook's text, the exact command line, the settings'
 * validation; then the connector through the event bus with fake wrk executables that print
 * the recorded output: measure (with a warmup pass and a delay), every failure wrk has
 * (unreachable, usage, missing, no summary, garbage), and the checks. The real wrk against
 * nginx is in tests/integration/test_load.sh. */
#include "support.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "events/bus.h"
#include "util/util.h"

#include "../../connectors/wrk/internal.h"

#define FIXTURE(name) SERVO_FIXTURES "/wrk/" name

/* ---- helpers ---------------------------------------------------------------------------- */

static char *read_text(const char *path, size_t *size)
{
    char *data = NULL, *error = NULL;
    size_t n = 0;
    if (read_file(path, 1 << 20, &data, &n, &error) != 0)
        fail_msg("%s", error);
    if (size)
        *size = n;
    return data;
}

static void assert_contains(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", text ? text : "(null)", part);
}

static void parse_fixture(const char *path, struct wrk_summary *s)
{
    size_t size = 0;
    char *text = read_text(path, &size);
    size_t length = 0;
    const char *line = wrk_find_summary(text, size, &length);
    if (line == NULL)
        fail_msg("%s: no summary line", path);
    struct servo_error error;
    if (wrk_summary_parse(line, length, s, &error) != 0)
        fail_msg("%s: %s", path, error.message);
    free(text);
}

static double value(const struct wrk_summary *s, enum wrk_metric m)
{
    return wrk_metric_value(s, m);
}

/* ---- the summary line ------------------------------------------------------------------- */

static void test_summary_latency(void **state)
{
    (void)state;
    struct wrk_summary s;
    parse_fixture(FIXTURE("wrk_latency_lua_json.txt"), &s);
    assert_true(s.duration_us == 3019739);
    assert_int_equal(s.requests, 64866);
    assert_int_equal(s.bytes, 15567520);
    assert_int_equal(
        s.errors_connect + s.errors_read + s.errors_write + s.errors_status + s.errors_timeout, 0);
    assert_true(s.bytes_per_sec == 5155253.48);
    assert_true(s.latency_min == 17);
    assert_true(s.latency_stdev == 23333.63);
    assert_true(s.latency_p75 == 1318);
    /* exact: Requests/sec, x 60, us / 1000 */
    assert_true(value(&s, WRK_METRIC_THROUGHPUT) == 21480.66);
    assert_true(value(&s, WRK_METRIC_THROUGHPUT_RPM) == 21480.66 * 60);
    assert_true(value(&s, WRK_METRIC_ERROR_RATE) == 0);
    assert_true(value(&s, WRK_METRIC_LATENCY_50TH) == 0.102);
    assert_true(value(&s, WRK_METRIC_LATENCY_90TH) == 11.26);
    assert_true(value(&s, WRK_METRIC_LATENCY_99TH) == 132.799);
    assert_true(value(&s, WRK_METRIC_LATENCY_MAX) == 163.294);
    assert_true(value(&s, WRK_METRIC_LATENCY_MEAN) == 6897.43 / 1000);
}

static void test_summary_status500(void **state)
{
    (void)state;
    struct wrk_summary s;
    parse_fixture(FIXTURE("wrk_status500_lua_json.txt"), &s);
    assert_int_equal(s.requests, 98440);
    assert_int_equal(s.errors_status, 98440);
    assert_true(value(&s, WRK_METRIC_THROUGHPUT) == 49179.40);
    assert_true(value(&s, WRK_METRIC_ERROR_RATE) == 100);
    assert_true(value(&s, WRK_METRIC_LATENCY_50TH) == 0.05);
    assert_true(value(&s, WRK_METRIC_LATENCY_99TH) == 3.271);
    assert_true(value(&s, WRK_METRIC_LATENCY_MAX) == 5.464);
    assert_true(value(&s, WRK_METRIC_LATENCY_MEAN) == 209.66 / 1000); /* not exactly 0.20966 */
}

static void test_summary_timeouts(void **state)
{
    (void)state;
    struct wrk_summary s;
    parse_fixture(FIXTURE("wrk_timeouts_lua_json.txt"), &s);
    assert_int_equal(s.requests, 4);
    assert_int_equal(s.errors_timeout, 4);
    assert_true(value(&s, WRK_METRIC_THROUGHPUT) == 1.33);
    assert_true(value(&s, WRK_METRIC_ERROR_RATE) == 100);
    /* no request completed within the timeout: wrk has no latency, not a latency of 0 */
    for (int m = WRK_METRIC_LATENCY_50TH; m <= WRK_METRIC_LATENCY_MEAN; m++)
        assert_true(isnan(value(&s, (enum wrk_metric)m)));
}

static void test_summary_absent_or_invalid(void **state)
{
    (void)state;
    size_t size = 0;
    char *text = read_text(FIXTURE("wrk_latency.txt"), &size);
    size_t length = 0;
    assert_null(wrk_find_summary(text, size, &length));
    free(text);
    text = read_text(FIXTURE("wrk_usage_bad_option.txt"), &size);
    assert_null(wrk_find_summary(text, size, &length));
    free(text);
    assert_null(wrk_find_summary("", 0, &length));

    /* the last summary line wins; CR and leading blanks are tolerated */
    const char *two = "{\"wrk_summary\":1,\"x\":1}\nnoise\n  {\"wrk_summary\":2}\r\n\n";
    const char *line = wrk_find_summary(two, strlen(two), &length);
    assert_non_null(line);
    assert_int_equal(length, strlen("  {\"wrk_summary\":2}"));
    assert_memory_equal(line, "  {\"wrk_summary\":2}", length);

    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"{\"wrk_summary\":1,", "invalid JSON"},
        {"{\"wrk_summary\":1}", "\"duration_us\" is missing"},
        {"{\"wrk_summary\":1,\"duration_us\":1,\"requests\":1.5,\"bytes\":0,"
         "\"requests_per_sec\":1}",
         "\"requests\" is not a whole number"},
        {"{\"wrk_summary\":1,\"duration_us\":1,\"requests\":1,\"bytes\":0,\"requests_per_sec\":1}",
         "\"errors\" is missing or not an object"},
        {"{\"wrk_summary\":1,\"duration_us\":1,\"requests\":1,\"bytes\":0,\"requests_per_sec\":1,"
         "\"errors\":{\"connect\":0,\"read\":0,\"write\":0,\"status\":-1,\"timeout\":0}}",
         "\"status\" is negative"},
        {"{\"wrk_summary\":1,\"duration_us\":1,\"requests\":1,\"bytes\":0,\"requests_per_sec\":1,"
         "\"errors\":{\"connect\":0,\"read\":0,\"write\":0,\"status\":0,\"timeout\":0},"
         "\"latency_us\":{\"min\":0}}",
         "\"max\" is missing"},
        {"{\"wrk_summary\":1,\"duration_us\":1,\"requests\":1,\"bytes\":0,\"requests_per_sec\":1,"
         "\"errors\":{\"connect\":0,\"read\":0,\"write\":0,\"status\":0,\"timeout\":0},"
         "\"latency_us\":{\"min\":0,\"max\":1,\"mean\":1,\"stdev\":1,\"p50\":1,\"p75\":1,"
         "\"p90\":nan,\"p99\":1}}",
         "invalid JSON"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct wrk_summary s;
        struct servo_error error;
        assert_int_equal(wrk_summary_parse(cases[i].text, strlen(cases[i].text), &s, &error), -1);
        assert_contains(error.message, cases[i].why);
    }
}

static void test_error_rate(void **state)
{
    (void)state;
    static const struct {
        int64_t requests, connect, read, write, status, timeout;
        double rate;
    } cases[] = {
        {0, 0, 0, 0, 0, 0, 100},   /* nothing completed: a total failure */
        {100, 0, 0, 0, 0, 0, 0},   /* all fine */
        {100, 0, 0, 0, 10, 5, 15}, /* 10 statuses and 5 timeouts of 100 */
        {95, 0, 5, 0, 0, 0, 5},    /* 5 reads failed: 100 attempts */
        {0, 7, 0, 0, 0, 0, 100},   /* nothing connected */
        {0, 0, 0, 0, 0, 3, 100},   /* timeouts only */
        {4, 0, 0, 0, 0, 6, 100},   /* more timeouts than responses: capped */
        {90, 0, 0, 10, 45, 0, 55}, /* 45 statuses and 10 writes of 100 attempts */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct wrk_summary s = {.requests = cases[i].requests,
                                .errors_connect = cases[i].connect,
                                .errors_read = cases[i].read,
                                .errors_write = cases[i].write,
                                .errors_status = cases[i].status,
                                .errors_timeout = cases[i].timeout};
        if (wrk_error_rate(&s) != cases[i].rate)
            fail_msg("case %zu: expected %g, got %g", i, cases[i].rate, wrk_error_rate(&s));
    }
}

/* ---- settings, hook, command line ------------------------------------------------------- */

/* Settings from a stanza (the "wrk:" line is added); NULL with the errors in `errors`. */
static struct wrk_settings *load_settings(const char *stanza, char **errors)
{
    char *text = xasprintf("wrk:\n%s", stanza);
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(text, strlen(text), "<test>", &docs, &diags), 0);
    const struct servo_node *node = servo_node_get(docs.items[0], "wrk");
    void *settings =
        settings_load(servo_connector_wrk.settings, node, "wrk", docs.items[0], &diags);
    if (errors != NULL) {
        char *buf = NULL;
        size_t length = 0;
        FILE *f = open_memstream(&buf, &length);
        diags_print(&diags, f, "");
        fclose(f);
        *errors = buf;
    } else if (settings == NULL) {
        diags_print(&diags, stderr, "wrk: ");
    }
    diags_free(&diags);
    yaml_documents_free(&docs);
    free(text);
    return settings;
}

static void free_settings(struct wrk_settings *s)
{
    settings_free(servo_connector_wrk.settings, s);
}

static void test_settings(void **state)
{
    (void)state;
    struct wrk_settings *s = load_settings("  url: http://127.0.0.1:18080/\n", NULL);
    assert_non_null(s);
    assert_string_equal(s->url, "http://127.0.0.1:18080/");
    assert_int_equal(s->threads, 2);
    assert_int_equal(s->connections, 10);
    assert_int_equal(s->headers.count, 0);
    assert_int_equal(s->timeout, 2 * SERVO_SECOND);
    assert_null(s->script);
    assert_string_equal(s->binary, "wrk");
    free_settings(s);

    static const struct {
        const char *stanza;
        const char *error;
    } bad[] = {
        {"  threads: 2\n", "wrk.url: field required"},
        {"  url: ftp://x/\n", "wrk.url"},
        {"  url: http://x/\n  timeout: 1500ms\n", "wrk takes whole seconds"},
        {"  url: http://x/\n  timeout: 500ms\n", "wrk.timeout"},
        {"  url: http://x/\n  threads: 0\n", "wrk.threads"},
        {"  url: http://x/\n  threads: 4\n  connections: 2\n",
         "connections (2) must be at least threads (4)"},
        {"  url: http://x/\n  headers: {\"Bad Name\": x}\n", "\"Bad Name\" is not a valid header"},
        {"  url: http://x/\n  headers: {X-A: \"a\\nb\"}\n", "contains a line break"},
        {"  url: http://x/\n  script: /no/such/script.lua\n",
         "cannot read \"/no/such/script.lua\""},
        {"  url: http://x/\n  binary: ''\n", "wrk.binary"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char *errors = NULL;
        s = load_settings(bad[i].stanza, &errors);
        if (s != NULL)
            fail_msg("accepted: %s", bad[i].stanza);
        assert_contains(errors, bad[i].error);
        free(errors);
    }
}

static void test_hook_text(void **state)
{
    (void)state;
    char *text = wrk_hook_text(NULL);
    assert_contains(text, "servo_user_done = nil\n");
    assert_null(strstr(text, "dofile"));
    assert_contains(text, "done = function(summary, latency, requests)\n");
    assert_contains(text, "{\"wrk_summary\":1,\"duration_us\":%.0f,");
    assert_contains(text, "if min > latency.max then min = 0 end");
    free(text);
    text = wrk_hook_text("/opt/my \"scripts\"\\x.lua");
    assert_contains(text, "dofile(\"/opt/my \\\"scripts\\\"\\\\x.lua\")\n"
                          "servo_user_done = done\n");
    free(text);
}

static void test_command_line(void **state)
{
    (void)state;
    struct wrk_settings *s = load_settings("  url: http://127.0.0.1:18080/\n", NULL);
    char *command = wrk_command(s, "/tmp/servo-wrk-abc.lua", 5 * SERVO_SECOND, 0, 0);
    assert_string_equal(command, "wrk -t 2 -c 10 -d 5s --timeout 2s --latency -s "
                                 "/tmp/servo-wrk-abc.lua http://127.0.0.1:18080/");
    free(command);
    /* whole seconds, rounded up; threads and connections overridden (the check's run) */
    command = wrk_command(s, "/tmp/h.lua", 1500 * SERVO_MILLISECOND, 1, 1);
    assert_string_equal(command, "wrk -t 1 -c 1 -d 2s --timeout 2s --latency -s /tmp/h.lua "
                                 "http://127.0.0.1:18080/");
    free(command);
    free_settings(s);

    s = load_settings("  url: http://example.com:8080/a?b=1&c=2\n"
                      "  threads: 4\n"
                      "  connections: 64\n"
                      "  timeout: 1m\n"
                      "  binary: /opt/wrk dir/wrk\n"
                      "  headers:\n"
                      "    X-Trace: 'on'\n"
                      "    Authorization: Bearer a'b\n",
                      NULL);
    assert_non_null(s);
    command = wrk_command(s, "/tmp/my hook.lua", 2 * SERVO_MINUTE, 0, 0);
    assert_string_equal(command, "'/opt/wrk dir/wrk' -t 4 -c 64 -d 120s --timeout 60s --latency "
                                 "-s '/tmp/my hook.lua' -H 'X-Trace: on' -H 'Authorization: "
                                 "Bearer a'\\''b' 'http://example.com:8080/a?b=1&c=2'");
    free(command);
    free_settings(s);
    assert_int_equal(wrk_seconds(0), 0);
    assert_int_equal(wrk_seconds(1), 1);
    assert_int_equal(wrk_seconds(SERVO_SECOND), 1);
    assert_int_equal(wrk_seconds(SERVO_SECOND + 1), 2);
}

/* ---- through the event bus, with fake wrk executables ----------------------------------- */

struct fixture {
    struct servo_connector connector;
    bool loaded;
    char *hook; /* the hook's path, kept to check that fini removes it */
};

static void clean_scratch(void)
{
    const char *dir = test_scratch_dir();
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
}

static int setup(void **state)
{
    clean_scratch();
    *state = xcalloc(1, sizeof(struct fixture));
    return 0;
}

static void unload(struct fixture *f)
{
    if (!f->loaded)
        return;
    servo_connector_wrk.fini(&f->connector);
    free_settings(f->connector.settings);
    f->loaded = false;
    /* fini removed the hook */
    assert_int_equal(access(f->hook, F_OK), -1);
    free(f->hook);
    f->hook = NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unload(f);
    free(f);
    return 0;
}

/* Writes an executable script into the scratch directory; its path (static). */
static const char *script(const char *name, const char *body)
{
    char *text = xasprintf("#!/bin/sh\n%s", body);
    const char *path = test_write_file(name, text);
    assert_int_equal(chmod(path, 0755), 0);
    free(text);
    return path;
}

/* Attaches a wrk instance whose binary runs `body` (NULL: a missing file). */
static void load(struct fixture *f, const char *body, const char *extra)
{
    unload(f);
    const char *binary = body ? script("fake-wrk", body) : SERVO_TEST_DATA "/no/such/wrk";
    char *stanza =
        xasprintf("  url: http://127.0.0.1:18080/\n  binary: %s\n%s", binary, extra ? extra : "");
    struct wrk_settings *s = load_settings(stanza, NULL);
    free(stanza);
    assert_non_null(s);
    f->connector =
        (struct servo_connector){.name = "wrk", .plugin = &servo_connector_wrk, .settings = s};
    struct servo_error error = {0};
    assert_int_equal(servo_connector_wrk.init(&f->connector, &error), 0);
    f->loaded = true;
    const struct wrk_state *state = servo_connector_state(&f->connector);
    f->hook = xstrdup(state->hook_path);
}

/* What the fake wrk recorded of its calls (caller frees). */
static char *read_calls(void)
{
    char *path = xasprintf("%s/calls.log", test_scratch_dir());
    char *text = read_text(path, NULL);
    free(path);
    return text;
}

/* A fake wrk that records its arguments in calls.log and prints a recorded output. */
static char *replay(const char *fixture_name)
{
    return xasprintf("echo \"$*\" >> '%s/calls.log'\ncat '%s'\n", test_scratch_dir(), fixture_name);
}

static int measure_with(struct fixture *f, const struct servo_control *control,
                        struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    args.control.duration = control->duration;
    args.control.warmup = control->warmup;
    args.control.delay = control->delay;
    struct bus_options options = {0};
    int rc = bus_dispatch(&f->connector, 1, SERVO_EVENT_MEASURE, &args, &options, out);
    event_args_free(&args);
    return rc;
}

static double point(const struct servo_measurement *m, const char *metric)
{
    for (size_t i = 0; i < m->reading_count; i++)
        if (strcmp(m->readings[i].metric, metric) == 0) {
            assert_int_equal(m->readings[i].point_count, 1);
            return m->readings[i].points[0].value;
        }
    fail_msg("no reading for %s", metric);
    return NAN;
}

static void test_measure(void **state)
{
    struct fixture *f = *state;
    char *body = replay(FIXTURE("wrk_latency_lua_json.txt"));
    load(f, body, "  headers: {X-Test: yes}\n");
    free(body);
    /* the hook is a Lua file whose done() prints the summary */
    char *hook = read_text(f->hook, NULL);
    assert_contains(hook, "done = function(summary, latency, requests)");
    free(hook);

    struct servo_control control = {.duration = 3 * SERVO_SECOND,
                                    .warmup = 1500 * SERVO_MILLISECOND,
                                    .delay = 300 * SERVO_MILLISECOND};
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(measure_with(f, &control, &out), 0);
    assert_true(clock_monotonic() - started >= 0.3);
    const struct servo_measurement *m = out.results[0].measurement;
    assert_int_equal(m->reading_count, WRK_METRIC_COUNT);
    assert_true(point(m, "throughput") == 21480.66);
    assert_true(point(m, "throughput_rpm") == 21480.66 * 60);
    assert_true(point(m, "error_rate") == 0);
    assert_true(point(m, "latency_50th") == 0.102);
    assert_true(point(m, "latency_90th") == 11.26);
    assert_true(point(m, "latency_99th") == 132.799);
    assert_true(point(m, "latency_max") == 163.294);
    assert_true(point(m, "latency_mean") == 6.89743);
    assert_string_equal(m->readings[0].unit, "rps");
    assert_true(m->readings[0].scalar);
    assert_string_equal(m->annotation_keys[0], "load_profile");
    assert_string_equal(m->annotation_values[0],
                        "Loading http://127.0.0.1:18080/ with 2 threads and 10 connections for "
                        "3s (delay of 300ms, warmup of 1.5s)");
    bus_outcome_free(&out);
    /* a warmup pass of 2s (1.5s rounded up), then the measured pass */
    char *calls = read_calls();
    char *expected = xasprintf("-t 2 -c 10 -d 2s --timeout 2s --latency -s %s -H X-Test: yes "
                               "http://127.0.0.1:18080/\n"
                               "-t 2 -c 10 -d 3s --timeout 2s --latency -s %s -H X-Test: yes "
                               "http://127.0.0.1:18080/\n",
                               f->hook, f->hook);
    assert_string_equal(calls, expected);
    free(expected);
    free(calls);
}

static void test_measure_results(void **state)
{
    struct fixture *f = *state;
    struct servo_control control = {.duration = SERVO_SECOND};
    struct bus_outcome out;
    char *body = replay(FIXTURE("wrk_status500_lua_json.txt"));
    load(f, body, NULL);
    free(body);
    assert_int_equal(measure_with(f, &control, &out), 0);
    assert_true(point(out.results[0].measurement, "error_rate") == 100);
    assert_true(point(out.results[0].measurement, "throughput") == 49179.40);
    bus_outcome_free(&out);

    body = replay(FIXTURE("wrk_timeouts_lua_json.txt"));
    load(f, body, NULL);
    free(body);
    assert_int_equal(measure_with(f, &control, &out), 0);
    assert_true(point(out.results[0].measurement, "error_rate") == 100);
    assert_true(isnan(point(out.results[0].measurement, "latency_99th")));
    /* NaN is written as the string "NaN" */
    json_t *json = servo_measurement_to_json(out.results[0].measurement);
    json_t *data =
        json_object_get(json_object_get(json_object_get(json, "metrics"), "latency_99th"), "value");
    assert_string_equal(json_string_value(data), "NaN");
    json_decref(json);
    bus_outcome_free(&out);

    control.duration = 0;
    assert_int_equal(measure_with(f, &control, &out), -1);
    assert_string_equal(out.error.reason, "no-duration");
    assert_contains(out.error.message, "wrk needs a measurement duration of at least 1s");
    bus_outcome_free(&out);
}

static void test_measure_failures(void **state)
{
    struct fixture *f = *state;
    char *refused = xasprintf("cat '%s' >&2\nexit 1\n", FIXTURE("wrk_refused.stderr.txt"));
    char *usage = xasprintf("cat '%s'\nexit 1\n", FIXTURE("wrk_usage_bad_option.txt"));
    char *no_hook = xasprintf("cat '%s'\n", FIXTURE("wrk_latency.txt"));
    static const char *const garbage = "echo '{\"wrk_summary\":1,\"requests\":\"many\"}'\n";
    const struct {
        const char *body;
        const char *reason;
        const char *message;
    } cases[] = {
        {refused, "unreachable",
         "wrk cannot reach http://127.0.0.1:18080/: unable to connect to 127.0.0.1:18081 "
         "Connection refused"},
        {usage, "usage", "wrk refused its arguments (exit status 1) and printed its usage"},
        {NULL, "not-found", "cannot run wrk: \"" SERVO_TEST_DATA "/no/such/wrk\" was not found"},
        {no_hook, "no-summary", "wrk printed no summary line"},
        {garbage, "invalid-output",
         "wrk printed an invalid summary line: \"duration_us\" is "
         "missing"},
        {"echo 'segfault?' >&2\nexit 3\n", "exit-status", "wrk exited with status 3: segfault?"},
        {"kill -9 $$\n", "signal", "wrk was killed by signal 9"},
    };
    struct servo_control control = {.duration = SERVO_SECOND};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        load(f, cases[i].body, NULL);
        struct bus_outcome out;
        assert_int_equal(measure_with(f, &control, &out), -1);
        if (out.error.kind != SERVO_ERROR_MEASUREMENT_FAILED ||
            strcmp(out.error.reason, cases[i].reason) != 0)
            fail_msg("case %zu: expected %s, got %s: %s", i, cases[i].reason, out.error.reason,
                     out.error.message);
        assert_contains(out.error.message, cases[i].message);
        bus_outcome_free(&out);
    }
    /* a failing warmup fails the measurement, and says it was the warmup */
    load(f, refused, NULL);
    control.warmup = SERVO_SECOND;
    struct bus_outcome out;
    assert_int_equal(measure_with(f, &control, &out), -1);
    assert_contains(out.error.message, "warmup: wrk cannot reach");
    bus_outcome_free(&out);
    free(no_hook);
    free(usage);
    free(refused);
}

static void test_measure_hang_is_stopped(void **state)
{
    struct fixture *f = *state;
    /* a wrk that never ends (and leaves a child): stopped at the event's deadline */
    char *body = xasprintf("sleep 60 &\necho $! > '%s/child.pid'\nwait\n", test_scratch_dir());
    load(f, body, NULL);
    free(body);
    struct event_args args;
    event_args_init(&args);
    args.control.duration = SERVO_SECOND;
    struct bus_options options = {.timeout = 1.0};
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(bus_dispatch(&f->connector, 1, SERVO_EVENT_MEASURE, &args, &options, &out),
                     -1);
    assert_true(clock_monotonic() - started < 5.0);
    assert_string_equal(out.error.reason, "timeout");
    assert_contains(out.error.message, "the wrk run was stopped at its deadline");
    bus_outcome_free(&out);
    event_args_free(&args);
    char *path = xasprintf("%s/child.pid", test_scratch_dir());
    char *text = read_text(path, NULL);
    free(path);
    int pid = atoi(text);
    free(text);
    assert_true(pid > 1);
    /* gone, or a zombie waiting for init to reap it */
    char *proc = xasprintf("/proc/%d/stat", pid);
    bool gone = false;
    for (int i = 0; i < 300 && !gone; i++) {
        FILE *fp = fopen(proc, "r");
        char run_state = 'Z';
        if (fp != NULL) {
            if (fscanf(fp, "%*d (%*[^)]) %c", &run_state) != 1)
                run_state = 'Z';
            fclose(fp);
        }
        gone = fp == NULL || run_state == 'Z' || run_state == 'X';
        if (!gone)
            usleep(10000);
    }
    free(proc);
    if (!gone)
        kill(pid, SIGKILL);
    assert_true(gone);
}

static const json_t *run_checks(struct fixture *f, struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    struct bus_options options = {0};
    assert_int_equal(bus_dispatch(&f->connector, 1, SERVO_EVENT_CHECK, &args, &options, out), 0);
    event_args_free(&args);
    return out->results[0].value;
}

static void assert_check(const json_t *checks, size_t index, const char *name, bool success,
                         const char *message)
{
    const json_t *check = json_array_get(checks, index);
    assert_non_null(check);
    assert_string_equal(json_string_value(json_object_get(check, "name")), name);
    assert_int_equal(json_is_true(json_object_get(check, "success")), success);
    assert_contains(json_string_value(json_object_get(check, "message")), message);
}

static void test_checks(void **state)
{
    struct fixture *f = *state;
    /* `wrk -v` prints the version and its usage, and exits 1 */
    char *body = xasprintf("if [ \"$1\" = -v ]; then\n"
                           "  echo 'wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer'\n"
                           "  cat '%s'\n  exit 1\nfi\n"
                           "echo \"$*\" >> '%s/calls.log'\ncat '%s'\n",
                           FIXTURE("wrk_usage_bad_option.txt"), test_scratch_dir(),
                           FIXTURE("wrk_status500_lua_json.txt"));
    load(f, body, NULL);
    free(body);
    struct bus_outcome out;
    const json_t *checks = run_checks(f, &out);
    assert_int_equal(json_array_size(checks), 2);
    assert_check(checks, 0, "wrk present", true, "wrk debian/4.1.0-3+b2 [epoll]");
    assert_check(checks, 1, "target reachable", true,
                 "http://127.0.0.1:18080/ answered 98440 requests in 1s (100.00% errors)");
    bus_outcome_free(&out);
    char *calls = read_calls();
    assert_contains(calls, "-t 1 -c 1 -d 1s --timeout 2s --latency -s ");
    free(calls);

    char *refused = xasprintf("[ \"$1\" = -v ] && echo 'wrk 4.1.0' && exit 1\ncat '%s' >&2\n"
                              "exit 1\n",
                              FIXTURE("wrk_refused.stderr.txt"));
    load(f, refused, NULL);
    free(refused);
    checks = run_checks(f, &out);
    assert_check(checks, 0, "wrk present", true, "wrk 4.1.0");
    assert_check(checks, 1, "target reachable", false,
                 "unable to connect to 127.0.0.1:18081 Connection refused");
    bus_outcome_free(&out);

    load(f, "echo 'not wrk'\n", NULL);
    checks = run_checks(f, &out);
    assert_check(checks, 0, "wrk present", false,
                 "-v\" did not print a wrk version (exit "
                 "status 0)");
    bus_outcome_free(&out);

    load(f, NULL, NULL);
    checks = run_checks(f, &out);
    assert_int_equal(json_array_size(checks), 1); /* critical: the run stops there */
    assert_check(checks, 0, "wrk present", false, "/no/such/wrk\" was not found");
    bus_outcome_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_latency),
        cmocka_unit_test(test_summary_status500),
        cmocka_unit_test(test_summary_timeouts),
        cmocka_unit_test(test_summary_absent_or_invalid),
        cmocka_unit_test(test_error_rate),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_hook_text),
        cmocka_unit_test(test_command_line),
        cmocka_unit_test_setup_teardown(test_measure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_hang_is_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
