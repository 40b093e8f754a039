/* The scripts connector (commands before, on and after events, in order, their failures) and
 * the wait connector (its wait, progress, cancellation and deadline) through the event bus. */
#include "support.h"

#include <pthread.h>
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
#include "../../connectors/scripts/scripts.h"
#include "../../connectors/wait/wait.h"

#define MAX_CONNECTORS 2
#define MAX_PROGRESS 16

struct fixture {
    struct servo_connector connectors[MAX_CONNECTORS];
    size_t count;
    double percents[MAX_PROGRESS];
    char *messages[MAX_PROGRESS];
    size_t progress_count;
    pthread_mutex_t lock;
    struct cancel_token *parent;
    double timeout;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = f->count; i-- > 0;) {
        struct servo_connector *c = &f->connectors[i];
        if (c->plugin->fini)
            c->plugin->fini(c);
        settings_free(c->plugin->settings, c->settings);
    }
    for (size_t i = 0; i < f->progress_count; i++)
        free(f->messages[i]);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* Adds an instance of `plugin` with the stanza `text` (a YAML mapping). */
static void add(struct fixture *f, const struct servo_connector_plugin *plugin, const char *text)
{
    assert_true(f->count < MAX_CONNECTORS);
    char *document = xasprintf("%s:\n%s", plugin->name, text);
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(document, strlen(document), "<test>", &docs, &diags), 0);
    const struct servo_node *node = servo_node_get(docs.items[0], plugin->name);
    void *settings = settings_load(plugin->settings, node, plugin->name, docs.items[0], &diags);
    if (settings == NULL)
        diags_print(&diags, stderr, "settings: ");
    assert_non_null(settings);
    diags_free(&diags);
    yaml_documents_free(&docs);
    free(document);
    struct servo_connector *c = &f->connectors[f->count++];
    *c = (struct servo_connector){
        .name = (char *)plugin->name, .plugin = plugin, .settings = settings};
    struct servo_error error = {0};
    if (plugin->init)
        assert_int_equal(plugin->init(c, &error), 0);
}

static void record_progress(void *context, const char *connector, const char *event, double percent,
                            const char *message)
{
    (void)connector;
    (void)event;
    struct fixture *f = context;
    pthread_mutex_lock(&f->lock);
    if (f->progress_count < MAX_PROGRESS) {
        f->percents[f->progress_count] = percent;
        f->messages[f->progress_count++] = xstrdup(message);
    }
    pthread_mutex_unlock(&f->lock);
}

static int dispatch(struct fixture *f, const char *event, const struct event_args *args,
                    struct bus_outcome *out)
{
    struct bus_options options = {.progress = record_progress,
                                  .progress_context = f,
                                  .parent = f->parent,
                                  .timeout = f->timeout};
    return bus_dispatch(f->connectors, f->count, event, args, &options, out);
}

static char *scratch_read(const char *name)
{
    char *path = xasprintf("%s/%s", test_scratch_dir(), name);
    char *data = NULL, *error = NULL;
    size_t size = 0;
    if (read_file(path, 1 << 20, &data, &size, &error) != 0)
        fail_msg("%s", error);
    free(path);
    return data;
}

static void scratch_remove(const char *name)
{
    char *path = xasprintf("%s/%s", test_scratch_dir(), name);
    unlink(path);
    free(path);
}

/* ---- scripts ---------------------------------------------------------------------------- */

static void test_scripts_run_in_order(void **state)
{
    struct fixture *f = *state;
    scratch_remove("order.log");
    char *text = xasprintf("  before:\n"
                           "    measure: ['cd %1$s && echo \"$SERVO_PREPOSITION:$SERVO_EVENT\" "
                           ">> order.log']\n"
                           "  on:\n"
                           "    measure: ['cd %1$s && echo on-1 >> order.log',\n"
                           "              'cd %1$s && echo on-2 >> order.log']\n"
                           "  after:\n"
                           "    measure: 'cd %1$s && echo after >> order.log'\n",
                           test_scratch_dir());
    add(f, &servo_connector_scripts, text);
    free(text);
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    char *log = scratch_read("order.log");
    assert_string_equal(log, "before:measure\non-1\non-2\nafter\n");
    free(log);
    bus_outcome_free(&out);
    /* an event with no commands does nothing */
    assert_int_equal(dispatch(f, SERVO_EVENT_ADJUST, &args, &out), 0);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_scripts_failing_before_stops_the_event(void **state)
{
    struct fixture *f = *state;
    scratch_remove("measured");
    add(f, &servo_connector_scripts,
        "  before:\n"
        "    measure: ['true', 'echo \"no load generator\" >&2; exit 3', 'touch never']\n");
    char *text = xasprintf("  working_dir: %s\n"
                           "  measure: touch measured; echo '{\"status\":\"ok\"}'\n",
                           test_scratch_dir());
    add(f, &servo_connector_exec, text);
    free(text);
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_int_equal(out.error.kind, SERVO_ERROR_MEASUREMENT_FAILED);
    assert_string_equal(out.error.reason, "exit-status");
    assert_string_equal(out.error.message,
                        "before:measure script \"echo \"no load generator\" >&2; exit 3\" exited "
                        "with status 3: no load generator");
    assert_int_equal(out.count, 0); /* no on handler ran */
    char *path = xasprintf("%s/measured", test_scratch_dir());
    assert_int_not_equal(access(path, F_OK), 0);
    free(path);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_scripts_on_check_and_signals(void **state)
{
    struct fixture *f = *state;
    add(f, &servo_connector_scripts,
        "  on:\n"
        "    check: ['true']\n"
        "    describe: ['kill -9 $$']\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    /* on check answers with no checks */
    assert_int_equal(dispatch(f, SERVO_EVENT_CHECK, &args, &out), 0);
    assert_int_equal(out.count, 1);
    assert_true(json_is_array(out.results[0].value));
    assert_int_equal(json_array_size(out.results[0].value), 0);
    bus_outcome_free(&out);
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), -1);
    assert_int_equal(out.error.kind, SERVO_ERROR_FAILED);
    assert_string_equal(out.error.reason, "signal");
    assert_string_equal(out.error.message,
                        "describe script \"kill -9 $$\" was killed by signal 9 (SIGKILL)");
    bus_outcome_free(&out);
    event_args_free(&args);
}

/* ---- wait ------------------------------------------------------------------------------- */

static void test_wait_disabled_returns_at_once(void **state)
{
    struct fixture *f = *state;
    add(f, &servo_connector_wait, "  measure_enabled: false\n");
    struct event_args args;
    event_args_init(&args);
    args.control.duration = 60 * SERVO_SECOND;
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    assert_true(clock_monotonic() - started < 1.0);
    assert_non_null(out.results[0].measurement);
    assert_int_equal(out.results[0].measurement->reading_count, 0);
    bus_outcome_free(&out);
    /* describe: nothing */
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    assert_int_equal(out.results[0].description->component_count, 0);
    assert_int_equal(out.results[0].description->metric_count, 0);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_wait_waits_with_progress(void **state)
{
    struct fixture *f = *state;
    add(f, &servo_connector_wait, "  measure_enabled: true\n");
    struct event_args args;
    event_args_init(&args);
    args.control.warmup = 500 * SERVO_MILLISECOND;
    args.control.duration = 1 * SERVO_SECOND;
    args.control.delay = 500 * SERVO_MILLISECOND;
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    double elapsed = clock_monotonic() - started;
    assert_true(elapsed >= 1.95 && elapsed < 3.0);
    assert_int_equal(out.results[0].measurement->reading_count, 0);
    assert_int_equal(f->progress_count, 3);
    assert_true(f->percents[0] == 0 && f->percents[1] == 50 && f->percents[2] == 100);
    assert_string_equal(f->messages[0], "Waiting 2s for external measurement to complete");
    assert_string_equal(f->messages[1], "Waited 1s of 2s for external measurement to complete");
    assert_string_equal(f->messages[2], "Waited 2s of 2s for external measurement to complete");
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void *cancel_soon(void *arg)
{
    usleep(200000);
    cancel_trigger(arg, "stop");
    return NULL;
}

static void test_wait_cancelled_and_out_of_time(void **state)
{
    struct fixture *f = *state;
    add(f, &servo_connector_wait, "  measure_enabled: true\n");
    struct event_args args;
    event_args_init(&args);
    args.control.duration = 60 * SERVO_SECOND;
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0);
    f->parent = &parent;
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, cancel_soon, &parent), 0);
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_true(clock_monotonic() - started < 2.0);
    pthread_join(thread, NULL);
    assert_int_equal(out.error.kind, SERVO_ERROR_MEASUREMENT_FAILED);
    assert_string_equal(out.error.reason, "cancelled");
    assert_string_equal(out.error.message,
                        "cancelled after waiting 0 of 1m for external measurement");
    bus_outcome_free(&out);
    f->parent = NULL;
    cancel_destroy(&parent);
    /* the event's deadline */
    f->timeout = 0.3;
    started = clock_monotonic();
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_true(clock_monotonic() - started < 2.0);
    assert_string_equal(out.error.reason, "timeout");
    assert_string_equal(out.error.message,
                        "ran out of time after waiting 0 of 1m for external measurement");
    bus_outcome_free(&out);
    event_args_free(&args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scripts_run_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripts_failing_before_stops_the_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scripts_on_check_and_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_disabled_returns_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_waits_with_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_cancelled_and_out_of_time, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
