/* The exec connector through the event bus, with real shell scripts written to the scratch
 * directory: describe, metrics, measure and adjust with the exact JSON they produce, what the
 * scripts receive (stdin and environment, dumped to files), progress lines, the drivers'
 * failures, and every process fault (timeouts, cancellation, floods of output, invalid
 * output, signals, no output, children that outlive the command). */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
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
#include "events/cancel.h"
#include "util/util.h"

#include "../../connectors/exec/exec.h"

/* ---- fixture ---------------------------------------------------------------------------- */

#define MAX_PROGRESS 16

struct progress_report {
    double percent;
    char *message;
};

struct fixture {
    struct servo_connector connector;
    bool loaded;
    struct progress_report progress[MAX_PROGRESS];
    size_t progress_count;
    pthread_mutex_t lock;
    struct cancel_token *parent; /* for bus_options.parent */
    double timeout;              /* for bus_options.timeout */
};

/* Empties the scratch directory (scripts and the files they dump). */
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
    struct fixture *f = xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    clean_scratch();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->loaded) {
        servo_connector_exec.fini(&f->connector);
        settings_free(servo_connector_exec.settings, f->connector.settings);
    }
    for (size_t i = 0; i < f->progress_count; i++)
        free(f->progress[i].message);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* Loads the exec stanza (lines indented by two spaces; working_dir is the scratch dir) and
 * attaches the connector. */
static void load(struct fixture *f, const char *stanza)
{
    char *text = xasprintf("exec:\n  working_dir: %s\n%s", test_scratch_dir(), stanza);
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(text, strlen(text), "<test>", &docs, &diags), 0);
    const struct servo_node *node = servo_node_get(docs.items[0], "exec");
    void *settings =
        settings_load(servo_connector_exec.settings, node, "exec", docs.items[0], &diags);
    if (settings == NULL)
        diags_print(&diags, stderr, "exec: ");
    assert_non_null(settings);
    diags_free(&diags);
    yaml_documents_free(&docs);
    free(text);
    f->connector = (struct servo_connector){
        .name = "exec", .plugin = &servo_connector_exec, .settings = settings};
    struct servo_error error = {0};
    assert_int_equal(servo_connector_exec.init(&f->connector, &error), 0);
    f->loaded = true;
}

/* Writes an executable shell script into the scratch directory. */
static void script(const char *name, const char *body)
{
    char *text = xasprintf("#!/bin/sh\n%s", body);
    const char *path = test_write_file(name, text);
    assert_int_equal(chmod(path, 0755), 0);
    free(text);
}

static char *scratch_path(const char *name)
{
    return xasprintf("%s/%s", test_scratch_dir(), name);
}

static bool scratch_exists(const char *name)
{
    char *path = scratch_path(name);
    bool exists = access(path, F_OK) == 0;
    free(path);
    return exists;
}

/* A file the script dumped (caller frees). */
static char *scratch_read(const char *name)
{
    char *path = scratch_path(name);
    char *data = NULL, *error = NULL;
    size_t size = 0;
    if (read_file(path, 1 << 20, &data, &size, &error) != 0)
        fail_msg("%s", error);
    free(path);
    return data;
}

static void record_progress(void *context, const char *connector, const char *event, double percent,
                            const char *message)
{
    (void)connector;
    (void)event;
    struct fixture *f = context;
    pthread_mutex_lock(&f->lock);
    if (f->progress_count < MAX_PROGRESS)
        f->progress[f->progress_count++] = (struct progress_report){percent, xstrdup(message)};
    pthread_mutex_unlock(&f->lock);
}

static int dispatch(struct fixture *f, const char *event, const struct event_args *args,
                    struct bus_outcome *out)
{
    struct bus_options options = {.progress = record_progress,
                                  .progress_context = f,
                                  .parent = f->parent,
                                  .timeout = f->timeout};
    return bus_dispatch(&f->connector, 1, event, args, &options, out);
}

/* Fails unless `actual` (stolen) equals the JSON text `expected`, types included. */
static void assert_json(json_t *actual, const char *expected)
{
    json_t *want = test_json(expected);
    if (!json_equal(actual, want)) {
        char *text = json_dumps(actual, JSON_COMPACT | JSON_ENCODE_ANY);
        print_message("expected: %s\nactual:   %s\n", expected, text);
        free(text);
        fail();
    }
    json_decref(want);
    json_decref(actual);
}

static void assert_contains(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", text ? text : "(null)", part);
}

/* The event failed with this kind and reason. */
static void assert_failure(const struct bus_outcome *out, enum servo_error_kind kind,
                           const char *reason)
{
    if (out->error.kind != kind || strcmp(out->error.reason, reason) != 0)
        fail_msg("expected %s (%s), got %s (%s): %s", servo_error_status(kind), reason,
                 servo_error_status(out->error.kind), out->error.reason, out->error.message);
}

static const char *const describe_output =
    "{\"application\":{\"components\":{\"web\":{\"settings\":{"
    "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.5,\"max\":4,\"step\":0.5,"
    "\"value\":1},"
    "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":4,\"step\":1,\"value\":2},"
    "\"mode\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"value\":\"a\"},"
    "\"mem\":{\"type\":\"range\",\"unit\":\"GiB\",\"min\":1,\"max\":2,\"step\":1,\"value\":1,"
    "\"pinned\":true}}}}},"
    "\"measurement\":{\"metrics\":{\"throughput\":{\"unit\":\"rpm\"},"
    "\"latency\":{\"unit\":\"ms\"}}}}";

static const char *const describe_json =
    "{\"application\":{\"components\":{\"web\":{\"settings\":{"
    "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.5,\"max\":4.0,\"step\":0.5,"
    "\"pinned\":false,\"value\":1.0},"
    "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":4,\"step\":1,\"pinned\":false,"
    "\"value\":2},"
    "\"mode\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"pinned\":false,\"value\":\"a\"},"
    "\"mem\":{\"type\":\"range\",\"unit\":\"GiB\",\"min\":1,\"max\":2,\"step\":1,"
    "\"pinned\":true,\"value\":1}}}}},"
    "\"measurement\":{\"metrics\":{\"throughput\":{\"unit\":\"rpm\"},"
    "\"latency\":{\"unit\":\"ms\"}}}}";

/* The describe script: prints describe_output, after progress and noise. */
static void describe_script(void)
{
    char *body = xasprintf("cat > describe.stdin\n"
                           "echo '{\"progress\": 50, \"message\": \"half way\"}'\n"
                           "echo 'not a protocol line'\n"
                           "echo '{\"progress\": 75}'\n"
                           "echo '%s'\n",
                           describe_output);
    script("describe", body);
    free(body);
}

static json_t *result_description(const struct bus_outcome *out)
{
    assert_int_equal(out->count, 1);
    assert_non_null(out->results[0].description);
    return servo_description_to_json(out->results[0].description);
}

static json_t *result_measurement(const struct bus_outcome *out)
{
    assert_int_equal(out->count, 1);
    assert_non_null(out->results[0].measurement);
    return servo_measurement_to_json(out->results[0].measurement);
}

/* ---- describe and metrics --------------------------------------------------------------- */

static void test_describe_command(void **state)
{
    struct fixture *f = *state;
    describe_script();
    load(f, "  describe: ./describe\n");
    struct event_args args;
    event_args_init(&args);
    args.control.duration = 30 * SERVO_SECOND;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    assert_json(result_description(&out), describe_json);
    /* the progress lines, in order; the line that is not JSON is ignored */
    assert_int_equal(f->progress_count, 2);
    assert_true(f->progress[0].percent == 50);
    assert_string_equal(f->progress[0].message, "half way");
    assert_true(f->progress[1].percent == 75);
    assert_string_equal(f->progress[1].message, "describe in progress");
    /* the describe command gets the control on stdin */
    char *stdin_text = scratch_read("describe.stdin");
    assert_string_equal(stdin_text, "{\"control\":{\"duration\":30.0,\"delay\":0.0,"
                                    "\"warmup\":0.0}}\n");
    free(stdin_text);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_describe_pretty_printed(void **state)
{
    struct fixture *f = *state;
    script("describe", "cat <<'EOF'\n"
                       "{\n"
                       "  \"application\": {\"components\": {\"db\": {\"settings\": {\n"
                       "    \"size\": {\"type\": \"enum\", \"values\": [\"s\", \"m\"]}}}}}\n"
                       "}\n"
                       "EOF\n");
    load(f, "  describe: ./describe\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    assert_json(result_description(&out),
                "{\"application\":{\"components\":{\"db\":{\"settings\":{\"size\":{\"type\":"
                "\"enum\",\"values\":[\"s\",\"m\"],\"pinned\":false}}}}},"
                "\"measurement\":{\"metrics\":{}}}");
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_describe_legacy_measure_driver(void **state)
{
    struct fixture *f = *state;
    /* opsani/servo measure drivers' --describe: metrics only */
    script("describe", "echo '{\"status\":\"ok\",\"metrics\":{\"requests\":{\"unit\":"
                       "\"rpm\",\"index\":0},\"errors\":{}}}'\n");
    load(f, "  describe: ./describe\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    assert_json(result_description(&out),
                "{\"application\":{\"components\":{}},\"measurement\":{\"metrics\":{"
                "\"requests\":{\"unit\":\"rpm\"},\"errors\":{\"unit\":\"\"}}}}");
    bus_outcome_free(&out);
    event_args_free(&args);
}

static const char *const static_stanza = "  adjust: ./adjust\n"
                                         "  components:\n"
                                         "    web:\n"
                                         "      settings:\n"
                                         "        cpu: {min: 0.5, max: 4, step: 0.5, unit: "
                                         "cores, value: '1'}\n"
                                         "        replicas: {min: 1, max: 4, step: 1, value: 2}\n"
                                         "        mode: {type: enum, values: [a, b], value: a}\n"
                                         "        mem: {min: 1, max: 2, step: 1, pinned: true}\n"
                                         "  metrics:\n"
                                         "    - {name: throughput, unit: rpm}\n"
                                         "    - {name: errors}\n";

static void test_describe_static(void **state)
{
    struct fixture *f = *state;
    load(f, static_stanza);
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    assert_json(result_description(&out),
                "{\"application\":{\"components\":{\"web\":{\"settings\":{"
                "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.5,\"max\":4.0,"
                "\"step\":0.5,\"pinned\":false,\"value\":1.0},"
                "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":4,\"step\":1,"
                "\"pinned\":false,\"value\":2},"
                "\"mode\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"pinned\":false,"
                "\"value\":\"a\"},"
                "\"mem\":{\"type\":\"range\",\"min\":1,\"max\":2,\"step\":1,\"pinned\":true}}}}},"
                "\"measurement\":{\"metrics\":{\"throughput\":{\"unit\":\"rpm\"},"
                "\"errors\":{\"unit\":\"\"}}}}");
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_metrics_static_and_described(void **state)
{
    struct fixture *f = *state;
    describe_script();
    /* the metrics settings win over what the describe command reports */
    load(f, "  describe: ./describe\n  metrics: [{name: p99, unit: ms}]\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_METRICS, &args, &out), 0);
    assert_false(scratch_exists("describe.stdin")); /* static: nothing ran */
    assert_json(result_description(&out), "{\"application\":{\"components\":{}},"
                                          "\"measurement\":{\"metrics\":{\"p99\":"
                                          "{\"unit\":\"ms\"}}}}");
    bus_outcome_free(&out);
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    json_t *json = result_description(&out);
    assert_json(json_incref(json_object_get(json, "measurement")),
                "{\"metrics\":{\"p99\":{\"unit\":\"ms\"}}}");
    json_decref(json);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_metrics_from_describe(void **state)
{
    struct fixture *f = *state;
    describe_script();
    load(f, "  describe: ./describe\n  measure: ./measure\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_METRICS, &args, &out), 0);
    assert_true(scratch_exists("describe.stdin"));
    json_t *json = result_description(&out);
    assert_json(json_incref(json_object_get(json, "measurement")),
                "{\"metrics\":{\"throughput\":{\"unit\":\"rpm\"},\"latency\":{\"unit\":\"ms\"}}}");
    json_decref(json);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_describe_failures(void **state)
{
    struct fixture *f = *state;
    script("describe", "echo 'no describing today' >&2\nexit 4\n");
    script("invalid", "echo '{\"application\": {\"components\": {\"web\": 3}}}'\n");
    script("failed", "echo '{\"status\":\"failed\",\"reason\":\"app-unavailable\","
                     "\"message\":\"the app is down\"}'\n");
    load(f, "  describe: ./describe\n");
    struct exec_settings *s = f->connector.settings;
    char *configured = s->describe; /* restored before the settings are freed */
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_FAILED, "exit-status");
    assert_string_equal(out.error.message, "the describe command of exec exited with status 4: "
                                           "no describing today");
    bus_outcome_free(&out);
    s->describe = "./invalid";
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_FAILED, "invalid-output");
    assert_contains(out.error.message, "printed an invalid description: "
                                       "application.components.web: expected an object");
    bus_outcome_free(&out);
    s->describe = "./failed";
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_FAILED, "app-unavailable");
    assert_string_equal(out.error.message, "the app is down");
    bus_outcome_free(&out);
    s->describe = configured;
    event_args_free(&args);
}

/* ---- measure ---------------------------------------------------------------------------- */

static const char *const measure_output =
    "{\"status\":\"ok\",\"metrics\":{"
    "\"throughput\":{\"unit\":\"rpm\",\"value\":120.5},"
    "\"latency\":{\"unit\":\"ms\",\"values\":[{\"id\":\"web-1\",\"data\":[[1700000000,12],"
    "[1700000060,13.5]]}]},"
    "\"errors\":{\"unit\":\"\",\"value\":0}},"
    "\"annotations\":{\"load\":\"steady\"}}";

/* The measure script: dumps stdin and environment, reports progress, prints
 * measure_output. */
static void measure_script(void)
{
    char *body = xasprintf("cat > measure.stdin\n"
                           "{ echo; env; } > measure.env\n"
                           "echo '{\"progress\": 40, \"message\": \"measuring\"}'\n"
                           "echo '%s'\n",
                           measure_output);
    script("measure", body);
    free(body);
}

static void test_measure_command(void **state)
{
    struct fixture *f = *state;
    measure_script();
    load(f, "  measure: ./measure\n"
            "  environment: {TARGET: 'http://web:8080', SERVO_DURATION: '999'}\n");
    struct event_args args;
    event_args_init(&args);
    args.control.duration = 30 * SERVO_SECOND;
    args.control.warmup = 5 * SERVO_SECOND;
    args.control.delay = 1500 * SERVO_MILLISECOND;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    assert_json(result_measurement(&out),
                "{\"metrics\":{\"throughput\":{\"unit\":\"rpm\",\"value\":120.5},"
                "\"latency\":{\"unit\":\"ms\",\"values\":[{\"id\":\"web-1\",\"data\":"
                "[[1700000000,12.0],[1700000060,13.5]]}]},"
                "\"errors\":{\"unit\":\"\",\"value\":0.0}},"
                "\"annotations\":{\"load\":\"steady\"}}");
    assert_int_equal(f->progress_count, 1);
    assert_string_equal(f->progress[0].message, "measuring");
    /* no metrics known: none named on stdin, which means all */
    char *text = scratch_read("measure.stdin");
    assert_string_equal(text, "{\"metrics\":[],\"control\":{\"duration\":30.0,\"delay\":1.5,"
                              "\"warmup\":5.0}}\n");
    free(text);
    text = scratch_read("measure.env");
    assert_contains(text, "\nSERVO_DURATION=30\n"); /* the protocol's variables win */
    assert_contains(text, "\nSERVO_WARMUP=5\n");
    assert_contains(text, "\nSERVO_DELAY=1.5\n");
    assert_contains(text, "\nTARGET=http://web:8080\n");
    free(text);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_measure_subset(void **state)
{
    struct fixture *f = *state;
    measure_script();
    load(f, "  measure: ./measure\n"
            "  metrics: [{name: throughput, unit: rpm}, {name: latency, unit: ms}, "
            "{name: errors}]\n");
    struct event_args args;
    event_args_init(&args);
    const char *const wanted[] = {"latency", "saturation"}; /* saturation is not ours */
    args.metrics = wanted;
    args.metric_count = 2;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    /* only what was asked for, though the script printed more */
    assert_json(result_measurement(&out),
                "{\"metrics\":{\"latency\":{\"unit\":\"ms\",\"values\":[{\"id\":\"web-1\","
                "\"data\":[[1700000000,12.0],[1700000060,13.5]]}]}},"
                "\"annotations\":{\"load\":\"steady\"}}");
    char *text = scratch_read("measure.stdin");
    assert_string_equal(text, "{\"metrics\":[\"latency\"],\"control\":{\"duration\":0.0,"
                              "\"delay\":0.0,\"warmup\":0.0}}\n");
    free(text);
    bus_outcome_free(&out);
    /* all known metrics when none are named */
    args.metric_count = 0;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    text = scratch_read("measure.stdin");
    assert_contains(text, "{\"metrics\":[\"throughput\",\"latency\",\"errors\"],");
    free(text);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_measure_other_metrics_only(void **state)
{
    struct fixture *f = *state;
    measure_script();
    load(f, "  measure: ./measure\n  metrics: [{name: throughput, unit: rpm}]\n");
    struct event_args args;
    event_args_init(&args);
    const char *const wanted[] = {"saturation"};
    args.metrics = wanted;
    args.metric_count = 1;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    assert_int_equal(out.count, 1);
    assert_null(out.results[0].measurement);
    assert_false(scratch_exists("measure.stdin")); /* the script never ran */
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_measure_driver_failures(void **state)
{
    struct fixture *f = *state;
    script("failed", "echo '{\"progress\": 10}'\n"
                     "echo '{\"status\":\"failed\",\"reason\":\"slo-violation\","
                     "\"message\":\"p99 above 500ms\"}'\nexit 1\n");
    script("nodata", "echo '{\"status\":\"nodata\",\"message\":\"no samples yet\"}'\n");
    script("bare", "echo '{\"status\":\"transient-failure\",\"reason\":\"busy\"}'\n"
                   "echo 'try later' >&2\n");
    script("bad-metrics", "echo '{\"status\":\"ok\",\"metrics\":{\"x\":{\"unit\":\"\","
                          "\"valu\":1}}}'\n");
    load(f, "  measure: ./failed\n");
    struct exec_settings *s = f->connector.settings;
    char *configured = s->measure; /* restored before the settings are freed */
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "slo-violation");
    assert_string_equal(out.error.message, "p99 above 500ms");
    bus_outcome_free(&out);
    s->measure = "./nodata";
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "nodata");
    assert_string_equal(out.error.message, "no samples yet");
    bus_outcome_free(&out);
    s->measure = "./bare";
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "transient-failure");
    assert_string_equal(out.error.message, "the measure command of exec reported status "
                                           "\"transient-failure\" with reason busy: try later");
    bus_outcome_free(&out);
    s->measure = "./bad-metrics";
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-output");
    assert_string_equal(out.error.message, "the measure command of exec printed an invalid "
                                           "measurement: metrics.x: expected \"value\" or "
                                           "\"values\"");
    bus_outcome_free(&out);
    s->measure = configured;
    event_args_free(&args);
}

/* ---- adjust ----------------------------------------------------------------------------- */

static void adjust_script(const char *result)
{
    char *body = xasprintf("cat > adjust.stdin\n"
                           "{ echo; env; } > adjust.env\n"
                           "echo '{\"progress\": 50, \"message\": \"rolling out\"}'\n"
                           "echo '%s'\n",
                           result);
    script("adjust", body);
    free(body);
}

static void test_adjust_command(void **state)
{
    struct fixture *f = *state;
    describe_script();
    adjust_script("{\"status\":\"ok\"}");
    load(f, "  describe: ./describe\n  adjust: ./adjust\n");
    struct servo_adjustments adjustments = {0};
    servo_adjustments_add(&adjustments, "web", "cpu", 1.5);
    servo_adjustments_add_text(&adjustments, "web", "mode", "b");
    servo_adjustments_add(&adjustments, "db", "cpu", 2); /* another connector's */
    struct event_args args;
    event_args_init(&args);
    args.adjustments = &adjustments;
    args.control.settlement = 10 * SERVO_SECOND;
    struct bus_outcome out;
    /* nothing described yet: adjust describes first */
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), 0);
    assert_true(scratch_exists("describe.stdin"));
    json_t *json = result_description(&out);
    json_t *settings = json_object_get(
        json_object_get(json_object_get(json_object_get(json, "application"), "components"), "web"),
        "settings");
    assert_json(json_incref(json_object_get(settings, "cpu")),
                "{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.5,\"max\":4.0,\"step\":0.5,"
                "\"pinned\":false,\"value\":1.5}");
    assert_json(json_incref(json_object_get(settings, "mode")),
                "{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"pinned\":false,\"value\":\"b\"}");
    json_decref(json);
    char *text = scratch_read("adjust.stdin");
    assert_string_equal(text, "{\"application\":{\"components\":{\"web\":{\"settings\":{"
                              "\"cpu\":{\"value\":1.5},\"mode\":{\"value\":\"b\"}}}}},"
                              "\"control\":{\"duration\":0.0,\"delay\":0.0,\"warmup\":0.0,"
                              "\"settlement\":10.0}}\n");
    free(text);
    text = scratch_read("adjust.env");
    assert_contains(text, "\nSERVO_WEB_CPU=1.5\n");
    assert_contains(text, "\nSERVO_WEB_MODE=b\n");
    assert_null(strstr(text, "SERVO_DB_CPU"));
    free(text);
    assert_int_equal(f->progress_count, 3); /* two from describe, one from adjust */
    assert_string_equal(f->progress[2].message, "rolling out");
    bus_outcome_free(&out);
    event_args_free(&args);
    servo_adjustments_clear(&adjustments);
}

static void test_adjust_static_remembers_values(void **state)
{
    struct fixture *f = *state;
    adjust_script("{\"status\":\"ok\"}");
    load(f, static_stanza);
    struct servo_adjustments adjustments = {0};
    servo_adjustments_add(&adjustments, "web", "replicas", 3);
    adjustments.items[0].integer = true;
    struct event_args args;
    event_args_init(&args);
    args.adjustments = &adjustments;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), 0);
    char *text = scratch_read("adjust.env");
    assert_contains(text, "\nSERVO_WEB_REPLICAS=3\n");
    free(text);
    bus_outcome_free(&out);
    /* a later describe reports the value adjust set */
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    json_t *json = result_description(&out);
    json_t *replicas = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(json, "application"), "components"),
                            "web"),
            "settings"),
        "replicas");
    assert_json(json_incref(json_object_get(replicas, "value")), "3");
    json_decref(json);
    bus_outcome_free(&out);
    event_args_free(&args);
    servo_adjustments_clear(&adjustments);
}

static void test_adjust_state_from_driver(void **state)
{
    struct fixture *f = *state;
    adjust_script("{\"status\":\"ok\",\"state\":{\"application\":{\"components\":{\"web\":"
                  "{\"settings\":{\"cpu\":{\"value\":2.0}}}}}}}");
    load(f, static_stanza);
    struct servo_adjustments adjustments = {0};
    servo_adjustments_add(&adjustments, "web", "cpu", 1.5);
    struct event_args args;
    event_args_init(&args);
    args.adjustments = &adjustments;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), 0);
    /* the driver's state wins over what was asked */
    const struct servo_setting *cpu =
        servo_component_find(servo_description_find(out.results[0].description, "web"), "cpu");
    assert_non_null(cpu);
    assert_true(cpu->has_value && cpu->value == 2.0);
    bus_outcome_free(&out);
    event_args_free(&args);
    servo_adjustments_clear(&adjustments);
}

static void test_adjust_refused_before_running(void **state)
{
    struct fixture *f = *state;
    script("adjust", "touch adjust.ran\necho '{\"status\":\"ok\"}'\n");
    load(f, static_stanza);
    static const struct {
        const char *setting;
        double value;
        const char *text;
        const char *message;
    } cases[] = {
        {"cpu", 8, NULL, "web.cpu: 8 is outside the range [0.5, 4]"},
        {"cpu", 1.2, NULL, "web.cpu: 1.2 is not on a step of 0.5 from 0.5"},
        {"mem", 2, NULL, "web.mem: the setting is pinned"},
        {"gpu", 1, NULL, "web.gpu: component \"web\" has no setting \"gpu\""},
        {"mode", 0, "c", "web.mode: \"c\" is not one of the values"},
        {"cpu", 0, "lots", "web.cpu: expected a number, got \"lots\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct servo_adjustments adjustments = {0};
        if (cases[i].text)
            servo_adjustments_add_text(&adjustments, "web", cases[i].setting, cases[i].text);
        else
            servo_adjustments_add(&adjustments, "web", cases[i].setting, cases[i].value);
        struct event_args args;
        event_args_init(&args);
        args.adjustments = &adjustments;
        struct bus_outcome out;
        assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), -1);
        assert_failure(&out, SERVO_ERROR_ADJUSTMENT_REJECTED, "invalid-adjustment");
        assert_string_equal(out.error.message, cases[i].message);
        bus_outcome_free(&out);
        event_args_free(&args);
        servo_adjustments_clear(&adjustments);
    }
    assert_false(scratch_exists("adjust.ran"));
}

static void test_adjust_only_owned_components(void **state)
{
    struct fixture *f = *state;
    script("adjust", "touch adjust.ran\necho '{\"status\":\"ok\"}'\n");
    load(f, static_stanza);
    struct servo_adjustments adjustments = {0};
    servo_adjustments_add(&adjustments, "db", "cpu", 1);
    struct event_args args;
    event_args_init(&args);
    args.adjustments = &adjustments;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), 0);
    assert_int_equal(out.count, 1);
    assert_null(out.results[0].description);
    assert_false(scratch_exists("adjust.ran"));
    bus_outcome_free(&out);
    event_args_free(&args);
    servo_adjustments_clear(&adjustments);
}

static void test_adjust_driver_failures(void **state)
{
    struct fixture *f = *state;
    adjust_script("{\"status\":\"rejected\",\"reason\":\"unschedulable\","
                  "\"message\":\"no node has 4 cores\"}");
    load(f, static_stanza);
    struct servo_adjustments adjustments = {0};
    servo_adjustments_add(&adjustments, "web", "cpu", 4);
    struct event_args args;
    event_args_init(&args);
    args.adjustments = &adjustments;
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_ADJUSTMENT_REJECTED, "unschedulable");
    assert_string_equal(out.error.message, "no node has 4 cores");
    bus_outcome_free(&out);
    adjust_script("{\"status\":\"failed\",\"message\":\"rollout stuck\"}");
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_ADJUSTMENT_FAILED, "failed");
    assert_string_equal(out.error.message, "rollout stuck");
    bus_outcome_free(&out);
    adjust_script("{\"status\":\"ok\",\"state\":[1]}");
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), -1);
    assert_failure(&out, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-output");
    assert_contains(out.error.message, "printed an invalid state");
    bus_outcome_free(&out);
    event_args_free(&args);
    servo_adjustments_clear(&adjustments);
}

/* ---- process faults --------------------------------------------------------------------- */

/* Dispatches measure with `./fault` as the measure command; the outcome is in `out`. */
static void measure_fault(struct fixture *f, const char *body, const char *extra,
                          struct bus_outcome *out)
{
    script("fault", body);
    char *stanza = xasprintf("  measure: ./fault\n%s", extra ? extra : "");
    load(f, stanza);
    free(stanza);
    struct event_args args;
    event_args_init(&args);
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, out), -1);
    event_args_free(&args);
}

/* The process whose pid the script wrote to `name` is gone (or a zombie) within 3 s. */
static void assert_dead(const char *name)
{
    char *text = scratch_read(name);
    int pid = atoi(text);
    free(text);
    assert_true(pid > 1);
    char *proc = xasprintf("/proc/%d/stat", pid);
    bool dead = false;
    for (int i = 0; i < 300 && !dead; i++) {
        FILE *fp = fopen(proc, "r");
        char state = 'Z';
        if (fp != NULL) {
            if (fscanf(fp, "%*d (%*[^)]) %c", &state) != 1)
                state = 'Z';
            fclose(fp);
        }
        dead = fp == NULL || state == 'Z' || state == 'X';
        if (!dead)
            usleep(10000);
    }
    free(proc);
    if (!dead)
        kill(pid, SIGKILL);
    assert_true(dead);
}

static void test_fault_timeout_kills_the_group(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    double started = clock_monotonic();
    measure_fault(f, "sleep 60 &\necho $! > child.pid\necho 'stuck' >&2\nsleep 60\n",
                  "  timeout: 300ms\n", &out);
    double elapsed = clock_monotonic() - started;
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "timeout");
    assert_string_equal(out.error.message,
                        "the measure command of exec timed out after 300ms: stuck");
    assert_true(elapsed < 3.0);
    assert_dead("child.pid");
    bus_outcome_free(&out);
}

static void test_fault_event_deadline(void **state)
{
    struct fixture *f = *state;
    f->timeout = 0.3;
    struct bus_outcome out;
    double started = clock_monotonic();
    measure_fault(f, "sleep 60\n", NULL, &out);
    assert_true(clock_monotonic() - started < 3.0);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "timeout");
    assert_string_equal(out.error.message,
                        "the measure command of exec was stopped at the event's deadline");
    bus_outcome_free(&out);
}

/* Cancels once the command has started its child (child.pid is written): on a loaded machine
 * a fixed delay could cancel before the shell got that far. */
static void *cancel_soon(void *arg)
{
    for (int i = 0; i < 3000 && !scratch_exists("child.pid"); i++)
        usleep(10000);
    cancel_trigger(arg, "the optimizer said so");
    return NULL;
}

static void test_fault_cancelled(void **state)
{
    struct fixture *f = *state;
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0);
    f->parent = &parent;
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, cancel_soon, &parent), 0);
    struct bus_outcome out;
    double started = clock_monotonic();
    measure_fault(f, "sleep 60 &\necho $! > child.pid\nwait\n", NULL, &out);
    assert_true(clock_monotonic() - started < 40.0); /* not the command's 60 s */
    pthread_join(thread, NULL);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "cancelled");
    assert_string_equal(out.error.message, "the measure command of exec was cancelled");
    assert_dead("child.pid");
    bus_outcome_free(&out);
    cancel_destroy(&parent);
}

static void test_fault_output_flood(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    double started = clock_monotonic();
    measure_fault(f, "yes\n", NULL, &out);
    assert_true(clock_monotonic() - started < 20.0);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "output-too-large");
    assert_string_equal(out.error.message,
                        "the measure command of exec printed more than 16777216 bytes");
    bus_outcome_free(&out);
}

static void test_fault_invalid_json(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    measure_fault(f, "echo '{\"status\": \"ok\", \"metrics\": {'\n", NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-output");
    assert_string_equal(out.error.message,
                        "the measure command of exec printed an invalid result: the last line "
                        "is not a protocol result: {\"status\": \"ok\", \"metrics\": {");
    bus_outcome_free(&out);
}

static void test_fault_long_invalid_line_is_cut(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    measure_fault(f, "head -c 5000 /dev/zero | tr '\\0' x\necho\n", NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-output");
    char xs[201];
    memset(xs, 'x', 200);
    xs[200] = '\0';
    char *expected = xasprintf("the measure command of exec printed an invalid result: the "
                               "last line is not a protocol result: %s...",
                               xs);
    assert_string_equal(out.error.message, expected);
    free(expected);
    bus_outcome_free(&out);
}

static void test_fault_only_progress(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    measure_fault(f, "echo '{\"progress\": 100, \"message\": \"done\"}'\n", NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-output");
    bus_outcome_free(&out);
}

static void test_fault_signal(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    /* the script dies; the shell that ran it exits with 128 + 9 */
    measure_fault(f, "echo 'about to die' >&2\nkill -9 $$\n", NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "signal");
    /* (the shell may add its own "Killed" line) */
    assert_true(str_starts_with(out.error.message, "the measure command of exec was killed by "
                                                   "signal 9 (SIGKILL): about to die"));
    bus_outcome_free(&out);
    teardown(state);
    setup(state);
    f = *state;
    /* the shell itself dies */
    measure_fault(f, "kill -TERM $PPID\nsleep 60\n", NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "signal");
    assert_string_equal(out.error.message,
                        "the measure command of exec was killed by signal 15 (SIGTERM)");
    bus_outcome_free(&out);
}

static void test_fault_no_output(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    measure_fault(f, "exit 0\n", NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "no-output");
    assert_string_equal(out.error.message, "the measure command of exec printed nothing");
    bus_outcome_free(&out);
}

static void test_fault_exit_status(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    /* a good result does not excuse a non-zero exit */
    measure_fault(f, "echo '{\"status\":\"ok\",\"metrics\":{}}'\necho 'boom' >&2\nexit 3\n", NULL,
                  &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "exit-status");
    assert_string_equal(out.error.message,
                        "the measure command of exec exited with status 3: boom");
    bus_outcome_free(&out);
}

static void test_fault_stderr_is_bounded(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    measure_fault(f, "head -c 200000 /dev/zero | tr '\\0' e >&2\necho ' the end' >&2\nexit 1\n",
                  NULL, &out);
    assert_failure(&out, SERVO_ERROR_MEASUREMENT_FAILED, "exit-status");
    size_t length = strlen(out.error.message);
    assert_true(length < SERVO_ERROR_MESSAGE_MAX);
    assert_true(length > 1000);
    assert_contains(out.error.message, "exited with status 1: ...eee");
    assert_true(str_ends_with(out.error.message, "eee the end"));
    bus_outcome_free(&out);
}

static void test_child_outliving_the_command_is_killed(void **state)
{
    struct fixture *f = *state;
    script("measure", "sleep 60 &\necho $! > child.pid\n"
                      "echo '{\"status\":\"ok\",\"metrics\":{\"up\":{\"unit\":\"\","
                      "\"value\":1}}}'\n");
    load(f, "  measure: ./measure\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    assert_true(clock_monotonic() - started < 3.0);
    assert_json(result_measurement(&out), "{\"metrics\":{\"up\":{\"unit\":\"\",\"value\":1.0}},"
                                          "\"annotations\":{}}");
    assert_dead("child.pid");
    bus_outcome_free(&out);
    event_args_free(&args);
}

/* ---- checks ----------------------------------------------------------------------------- */

static void test_checks(void **state)
{
    struct fixture *f = *state;
    describe_script();
    test_write_file("adjust", "not executable\n");
    load(f, "  describe: ./describe\n  adjust: ./adjust\n"
            "  measure: FOO=1 no-such-program-here --now\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_CHECK, &args, &out), 0);
    assert_int_equal(out.count, 1);
    const json_t *checks = out.results[0].value;
    assert_int_equal(json_array_size(checks), 4);
    static const struct {
        const char *name;
        bool success;
        const char *message;
    } expected[] = {
        {"The describe command is executable", true, "is executable"},
        {"The adjust command is executable", false, "/adjust: not executable"},
        {"The measure command is executable", false, "no-such-program-here: command not found"},
        {"The describe command succeeds", true,
         "described 1 components (4 settings) and 2 metrics"},
    };
    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        const json_t *check = json_array_get(checks, i);
        assert_string_equal(json_string_value(json_object_get(check, "name")), expected[i].name);
        assert_int_equal(json_is_true(json_object_get(check, "success")), expected[i].success);
        assert_contains(json_string_value(json_object_get(check, "message")), expected[i].message);
    }
    bus_outcome_free(&out);
    event_args_free(&args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_describe_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_pretty_printed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_legacy_measure_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_static_and_described, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_from_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_subset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_other_metrics_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_driver_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_static_remembers_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_state_from_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_refused_before_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_only_owned_components, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adjust_driver_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_timeout_kills_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_event_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_output_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_invalid_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_long_invalid_line_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_only_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_no_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_exit_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_stderr_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_outliving_the_command_is_killed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
