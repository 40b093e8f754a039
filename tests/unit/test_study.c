/* The study's protocol state machine: a full session against a fake servo, the replies to
 * every event in and out of order, failed and rejected commands, measurements without the
 * objective, constraints, bad descriptions. Independent of what the engine suggests: every
 * check holds for any suggestion inside the space. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/settings.h"
#include "config/yaml.h"
#include "optimizer/results.h"
#include "optimizer/study.h"
#include "util/log.h"
#include "util/util.h"

/* ---- configuration --------------------------------------------------------------------- */

struct config {
    struct yaml_documents docs;
    struct study_settings *settings;
};

static void config_load(struct config *c, const char *yaml)
{
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(yaml, strlen(yaml), "test.yaml", &c->docs, &diags), 0);
    c->settings = settings_load(&study_local_schema, c->docs.items[0], "local", NULL, &diags);
    if (c->settings == NULL)
        diags_print(&diags, stderr, "config: ");
    assert_non_null(c->settings);
    diags_free(&diags);
}

static void config_free(struct config *c)
{
    settings_free(&study_local_schema, c->settings);
    yaml_documents_free(&c->docs);
}

static struct study *open_study(struct config *c, const char *yaml)
{
    config_load(c, yaml);
    struct study *s = NULL;
    char *error = NULL;
    assert_int_equal(study_open("example.com/app", c->settings, NULL, NULL, &s, &error), 0);
    assert_null(error);
    return s;
}

/* ---- the fake servo -------------------------------------------------------------------- */

struct fake {
    double cpu, replicas;
    char mode[16];
    const char *description; /* NULL: the default one */
    int fail_adjust;         /* the ADJUST number (1-based) to reject; 0: none */
    int fail_measure;        /* the MEASURE number to fail; 0: none */
    int no_objective;        /* the MEASURE number that lacks throughput */
    int nan_objective;       /* the MEASURE number whose throughput is all NaN */
    int adjusts, measures, describes;
    char commands[512]; /* "D M A M A M ... A" */
};

static const char default_description[] =
    "{\"application\":{\"components\":{\"main\":{\"settings\":{"
    "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.25,\"max\":4.0,\"step\":0.25,"
    "\"pinned\":false,\"value\":1.0},"
    "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":4,\"step\":1,\"pinned\":false,"
    "\"value\":2},"
    "\"mode\":{\"type\":\"enum\",\"values\":[\"fast\",\"slow\"],\"pinned\":false,"
    "\"value\":\"slow\"}}}}},"
    "\"measurement\":{\"metrics\":{\"throughput\":{\"unit\":\"rps\"},"
    "\"latency\":{\"unit\":\"ms\"}}}}";

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
    f->cpu = 1.0;
    f->replicas = 2;
    strcpy(f->mode, "slow");
}

static double throughput(const struct fake *f)
{
    return 100 * f->cpu * sqrt(f->replicas) * (strcmp(f->mode, "fast") == 0 ? 1.2 : 1.0) -
           10 * f->cpu * f->cpu;
}

static double latency(const struct fake *f)
{
    return 200 / (f->cpu * f->replicas) + (strcmp(f->mode, "fast") == 0 ? 0 : 20);
}

static json_t *ok_param(const char *uid)
{
    return json_pack("{s:s, s:n, s:s, s:s}", "status", "ok", "message", "reason", "success",
                     "cmd_uid", uid);
}

static json_t *failed_param(const char *status, const char *reason, const char *uid)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "status", status, "message", "it broke", "reason",
                     reason, "cmd_uid", uid);
}

static json_t *series(double a, double b)
{
    return json_pack("{s:s, s:[{s:s, s:[[i,f],[i,f]]}]}", "unit", "", "values", "id", "1", "data",
                     1, a, 2, b);
}

static json_t *fake_measure(struct fake *f, const char *uid)
{
    f->measures++;
    if (f->measures == f->fail_measure)
        return failed_param("failed", "unknown-metric", uid);
    json_t *param = ok_param(uid);
    json_t *metrics = json_object();
    double t = throughput(f);
    if (f->measures == f->nan_objective)
        json_object_set_new(metrics, "throughput",
                            json_pack("{s:s, s:[{s:s, s:[[i,s]]}]}", "unit", "rps", "values", "id",
                                      "1", "data", 1, "NaN"));
    else if (f->measures != f->no_objective)
        json_object_set_new(metrics, "throughput", series(t - 1, t + 1));
    json_object_set_new(metrics, "latency", series(latency(f), latency(f)));
    json_object_set_new(param, "metrics", metrics);
    json_object_set_new(param, "annotations", json_object());
    return param;
}

static void apply_setting(struct fake *f, const char *name, const json_t *value)
{
    if (strcmp(name, "cpu") == 0)
        f->cpu = json_number_value(value);
    else if (strcmp(name, "replicas") == 0)
        f->replicas = json_number_value(value);
    else if (strcmp(name, "mode") == 0)
        snprintf(f->mode, sizeof f->mode, "%s", json_string_value(value));
}

/* Checks the ADJUST values against the default space and applies them. */
static json_t *fake_adjust(struct fake *f, const json_t *param, const char *uid)
{
    f->adjusts++;
    const json_t *settings = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(param, "state"), "application"),
                            "components"),
            "main"),
        "settings");
    if (f->description == NULL) {
        const json_t *cpu = json_object_get(json_object_get(settings, "cpu"), "value");
        const json_t *replicas = json_object_get(json_object_get(settings, "replicas"), "value");
        const json_t *mode = json_object_get(json_object_get(settings, "mode"), "value");
        assert_true(json_is_real(cpu));
        double c = json_number_value(cpu);
        assert_true(c >= 0.25 && c <= 4.0 && fmod(c, 0.25) == 0);
        assert_true(json_is_integer(replicas)); /* whole numbers go out as JSON integers */
        assert_true(json_integer_value(replicas) >= 1 && json_integer_value(replicas) <= 4);
        assert_true(json_is_string(mode));
        assert_true(strcmp(json_string_value(mode), "fast") == 0 ||
                    strcmp(json_string_value(mode), "slow") == 0);
    }
    if (f->adjusts == f->fail_adjust)
        return failed_param("rejected", "scale-limit", uid);
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)settings, name, value)
    {
        apply_setting(f, name, json_object_get(value, "value"));
    }
    json_t *result = ok_param(uid);
    json_object_set_new(result, "state", json_object());
    return result;
}

static json_t *post(struct study *s, const char *event, json_t *param, int *http_status)
{
    json_t *request =
        json_pack("{s:s, s:o?, s:s}", "event", event, "param", param, "servo_uid", "servo-1");
    int status = 0;
    json_t *reply = study_exchange(s, request, &status);
    json_decref(request);
    if (http_status != NULL)
        *http_status = status;
    else
        assert_int_equal(status, 200);
    assert_non_null(reply);
    return reply;
}

static void assert_status(json_t *reply, const char *status)
{
    assert_string_equal(json_string_value(json_object_get(reply, "status")), status);
    json_decref(reply);
}

static void append(struct fake *f, const char *word)
{
    size_t n = strlen(f->commands);
    snprintf(f->commands + n, sizeof f->commands - n, "%s%s", n ? " " : "", word);
}

/* Carries out one command; returns false at SLEEP (its reply in *sleep). */
static bool step(struct study *s, struct fake *f, json_t **sleep)
{
    json_t *command = post(s, "WHATS_NEXT", NULL, NULL);
    const char *cmd = json_string_value(json_object_get(command, "cmd"));
    const char *uid = json_string_value(json_object_get(command, "cmd_uid"));
    const json_t *param = json_object_get(command, "param");
    assert_non_null(cmd);
    if (strcmp(cmd, "SLEEP") == 0) {
        *sleep = command;
        return false;
    }
    assert_non_null(uid);
    if (strcmp(cmd, "DESCRIBE") == 0) {
        f->describes++;
        append(f, "D");
        json_t *result = ok_param(uid);
        json_object_set_new(
            result, "descriptor",
            json_loads(f->description ? f->description : default_description, 0, NULL));
        assert_status(post(s, "DESCRIPTION", result, NULL), "ok");
    } else if (strcmp(cmd, "MEASURE") == 0) {
        append(f, "M");
        assert_status(
            post(s, "MEASUREMENT",
                 json_pack("{s:f, s:f, s:s}", "progress", 50.0, "runtime", 1.0, "cmd_uid", uid),
                 NULL),
            "ok");
        assert_status(post(s, "MEASUREMENT", fake_measure(f, uid), NULL), "ok");
    } else if (strcmp(cmd, "ADJUST") == 0) {
        append(f, "A");
        assert_status(post(s, "ADJUSTMENT", fake_adjust(f, param, uid), NULL), "ok");
    } else {
        fail_msg("unexpected command %s", cmd);
    }
    json_decref(command);
    return true;
}

/* Runs the session to its SLEEP; returns the SLEEP command. */
static json_t *run(struct study *s, struct fake *f)
{
    json_t *sleep = NULL;
    for (int i = 0; i < 1000 && step(s, f, &sleep); i++)
        ;
    assert_non_null(sleep);
    return sleep;
}

static const char *sleep_reason(const json_t *sleep)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(sleep, "param"), "data"), "reason"));
}

/* ---- a full session -------------------------------------------------------------------- */

static void test_full_session(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n"
                                     "budget: 5\nseed: 3\nsettlement: 2s\n"
                                     "measure: {duration: 30s, warmup: 5s}\n");
    struct fake f;
    fake_init(&f);
    assert_status(post(s, "HELLO", json_pack("{s:s}", "agent", "test"), NULL), "ok");
    json_t *sleep = run(s, &f);
    assert_string_equal(f.commands, "D M A M A M A M A M A M A");
    assert_string_equal(sleep_reason(sleep), "optimization complete");
    assert_true(json_is_null(json_object_get(sleep, "cmd_uid")));
    assert_true(study_over(s));
    assert_int_equal(study_phase(s), STUDY_DONE);
    assert_int_equal(study_trial_count(s), 6);
    json_decref(sleep);
    /* the final ADJUST went to the best feasible trial */
    json_t *doc = study_document(s);
    json_int_t best = json_integer_value(json_object_get(doc, "best"));
    const json_t *trials = json_object_get(doc, "trials");
    assert_int_equal(json_array_size(trials), 6);
    const json_t *b = json_array_get(trials, (size_t)best);
    size_t i;
    const json_t *t;
    json_array_foreach(trials, i, t)
    {
        assert_string_equal(json_string_value(json_object_get(t, "status")), "ok");
        assert_true(json_is_true(json_object_get(t, "feasible")));
        assert_true(json_number_value(json_object_get(t, "objective")) <=
                    json_number_value(json_object_get(b, "objective")));
        assert_true(json_is_object(json_object_get(json_object_get(t, "metrics"), "latency")));
    }
    const json_t *settings = json_object_get(b, "settings");
    assert_float_equal(f.cpu, json_number_value(json_object_get(settings, "main.cpu")), 0);
    assert_float_equal(f.replicas, json_number_value(json_object_get(settings, "main.replicas")),
                       0);
    assert_string_equal(f.mode, json_string_value(json_object_get(settings, "main.mode")));
    /* the baseline is the described state */
    const json_t *baseline = json_object_get(json_array_get(trials, 0), "settings");
    assert_float_equal(json_number_value(json_object_get(baseline, "main.cpu")), 1.0, 0);
    assert_string_equal(json_string_value(json_object_get(baseline, "main.mode")), "slow");
    json_decref(doc);
    /* over: SLEEP from now on; results out of order are refused */
    json_t *again = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(again, "cmd")), "SLEEP");
    json_decref(again);
    json_t *late = post(s, "MEASUREMENT", json_pack("{s:s}", "status", "ok"), NULL);
    assert_string_equal(json_string_value(json_object_get(late, "reason")),
                        "Out of order event \"MEASUREMENT\", expected \"WHATS_NEXT\"; ignoring");
    assert_status(late, "unexpected-event");
    assert_status(post(s, "GOODBYE", json_pack("{s:s}", "reason", "shutdown"), NULL), "ok");
    study_free(s);
    config_free(&c);
}

/* The MEASURE and ADJUST params in the wire shapes. */
static void test_command_shapes(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: latency, goal: minimize}\n"
                                     "budget: 2\nsettlement: 2s\n"
                                     "measure: {duration: 30s, warmup: 5s, delay: 1s}\n");
    struct fake f;
    fake_init(&f);
    json_t *describe = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(describe, "cmd")), "DESCRIBE");
    assert_true(json_is_object(json_object_get(describe, "param")));
    json_decref(describe);
    json_t *sleep = NULL;
    assert_true(step(s, &f, &sleep)); /* DESCRIBE */
    json_t *measure = post(s, "WHATS_NEXT", NULL, NULL);
    json_t *expected = json_loads("{\"metrics\":[\"throughput\",\"latency\"],\"control\":"
                                  "{\"duration\":30.0,\"warmup\":5.0,\"delay\":1.0}}",
                                  0, NULL);
    assert_true(json_equal(json_object_get(measure, "param"), expected));
    json_decref(expected);
    json_decref(measure);
    assert_true(step(s, &f, &sleep)); /* MEASURE */
    json_t *adjust = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(adjust, "cmd")), "ADJUST");
    const json_t *param = json_object_get(adjust, "param");
    assert_float_equal(
        json_number_value(json_object_get(json_object_get(param, "control"), "settlement")), 2.0,
        0);
    const json_t *components = json_object_get(
        json_object_get(json_object_get(param, "state"), "application"), "components");
    assert_int_equal(
        json_object_size(json_object_get(json_object_get(components, "main"), "settings")), 3);
    json_decref(adjust);
    study_free(s);
    config_free(&c);
}

/* ---- protocol replies ------------------------------------------------------------------ */

static void test_pending_command_repeats(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n");
    json_t *first = post(s, "WHATS_NEXT", NULL, NULL);
    assert_status(post(s, "HELLO", NULL, NULL), "ok"); /* the servo restarted */
    json_t *second = post(s, "WHATS_NEXT", NULL, NULL);
    assert_true(json_equal(first, second)); /* same command, same cmd_uid */
    const char *uid = json_string_value(json_object_get(first, "cmd_uid"));
    /* the wrong result, the wrong uid */
    json_t *reply = post(s, "MEASUREMENT", ok_param(uid), NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "reason")),
                        "Out of order event \"MEASUREMENT\", expected \"DESCRIPTION\"; ignoring");
    assert_status(reply, "unexpected-event");
    reply = post(s, "DESCRIPTION", ok_param("not-the-uid"), NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "reason")), "unexpected cmd_uid");
    assert_status(reply, "invalid");
    /* progress is always fine */
    assert_status(post(s, "DESCRIPTION", json_pack("{s:f}", "progress", 10.0), NULL), "ok");
    /* the right one, twice: the second is acknowledged and ignored */
    json_t *result = ok_param(uid);
    json_object_set_new(result, "descriptor", json_loads(default_description, 0, NULL));
    assert_status(post(s, "DESCRIPTION", json_deep_copy(result), NULL), "ok");
    json_t *measure = post(s, "WHATS_NEXT", NULL, NULL);
    assert_status(post(s, "DESCRIPTION", result, NULL), "ok");
    json_t *still = post(s, "WHATS_NEXT", NULL, NULL);
    assert_true(json_equal(measure, still));
    assert_string_equal(json_string_value(json_object_get(still, "cmd")), "MEASURE");
    json_decref(measure);
    json_decref(still);
    json_decref(first);
    json_decref(second);
    study_free(s);
    config_free(&c);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "budget: 1\n");
    int http_status = 0;
    json_t *request = json_pack("[s]", "HELLO");
    json_t *reply = study_exchange(s, request, &http_status);
    assert_int_equal(http_status, 400);
    assert_non_null(json_object_get(reply, "detail"));
    json_decref(reply);
    json_decref(request);
    reply = post(s, "REBOOT", NULL, &http_status);
    assert_int_equal(http_status, 400);
    assert_string_equal(json_string_value(json_object_get(reply, "detail")),
                        "unknown event \"REBOOT\"");
    json_decref(reply);
    request = json_pack("{s:i}", "event", 3);
    reply = study_exchange(s, request, &http_status);
    assert_int_equal(http_status, 400);
    json_decref(reply);
    json_decref(request);
    /* a result whose param is not an object: a failure, not a crash */
    json_t *describe = post(s, "WHATS_NEXT", NULL, NULL);
    assert_status(post(s, "DESCRIPTION", json_string("garbage"), NULL), "ok");
    json_t *again = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(again, "cmd")), "DESCRIBE");
    assert_false(
        json_equal(json_object_get(describe, "cmd_uid"), json_object_get(again, "cmd_uid")));
    json_decref(describe);
    json_decref(again);
    study_free(s);
    config_free(&c);
}

/* ---- failures -------------------------------------------------------------------------- */

static void test_failed_adjust_skips_the_measure(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n"
                                     "budget: 3\n");
    struct fake f;
    fake_init(&f);
    f.fail_adjust = 2;  /* trial 2 */
    f.fail_measure = 2; /* the MEASURE of trial 1 */
    json_t *sleep = run(s, &f);
    assert_string_equal(f.commands, "D M A M A A M A");
    json_decref(sleep);
    json_t *doc = study_document(s);
    const json_t *trials = json_object_get(doc, "trials");
    const json_t *t1 = json_array_get(trials, 1), *t2 = json_array_get(trials, 2);
    assert_string_equal(json_string_value(json_object_get(t1, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(t1, "reason")), "unknown-metric");
    assert_true(json_is_null(json_object_get(t1, "objective")));
    assert_false(json_is_true(json_object_get(t1, "feasible")));
    assert_string_equal(json_string_value(json_object_get(t2, "status")), "rejected");
    assert_string_equal(json_string_value(json_object_get(t2, "reason")), "scale-limit");
    assert_string_equal(json_string_value(json_object_get(t2, "message")),
                        "ADJUST rejected: it broke");
    assert_true(json_is_null(json_object_get(t2, "measure_uid")));
    assert_true(json_is_null(json_object_get(t2, "objective")));
    json_decref(doc);
    study_free(s);
    config_free(&c);
}

static void test_objective_missing_or_nan(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n"
                                     "budget: 2\n");
    struct fake f;
    fake_init(&f);
    f.no_objective = 2;
    f.nan_objective = 3;
    json_decref(run(s, &f));
    json_t *doc = study_document(s);
    const json_t *trials = json_object_get(doc, "trials");
    for (size_t i = 1; i <= 2; i++) {
        const json_t *t = json_array_get(trials, i);
        assert_string_equal(json_string_value(json_object_get(t, "status")), "ok");
        assert_string_equal(json_string_value(json_object_get(t, "reason")), "objective-missing");
        assert_false(json_is_true(json_object_get(t, "feasible")));
        assert_true(json_is_null(json_object_get(t, "objective")));
    }
    /* only the baseline is feasible: the final ADJUST returns to it */
    assert_int_equal(json_integer_value(json_object_get(doc, "best")), 0);
    assert_float_equal(f.cpu, 1.0, 0);
    assert_float_equal(f.replicas, 2, 0);
    json_decref(doc);
    study_free(s);
    config_free(&c);
}

static void test_constraints(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n"
                                     "constraints:\n"
                                     "  - {metric: latency, keep: below, threshold: 60}\n"
                                     "  - {metric: throughput, keep: above, "
                                     "baseline_multiplier: 0.5, aggregate: min}\n"
                                     "budget: 4\nseed: 7\n");
    struct fake f;
    fake_init(&f);
    json_decref(run(s, &f));
    json_t *doc = study_document(s);
    size_t i;
    const json_t *t;
    /* baseline: cpu 1, replicas 2, slow -> latency 120 > 60: infeasible */
    const json_t *base = json_array_get(json_object_get(doc, "trials"), 0);
    assert_string_equal(json_string_value(json_object_get(base, "reason")), "slo-violation");
    double base_min = json_number_value(
        json_object_get(json_object_get(json_object_get(base, "metrics"), "throughput"), "min"));
    json_array_foreach(json_object_get(doc, "trials"), i, t)
    {
        const json_t *list = json_object_get(t, "constraints");
        assert_int_equal(json_array_size(list), 2);
        const json_t *lat = json_array_get(list, 0), *thr = json_array_get(list, 1);
        double latency_value = json_number_value(json_object_get(lat, "value"));
        assert_float_equal(json_number_value(json_object_get(lat, "threshold")), 60, 0);
        assert_float_equal(json_number_value(json_object_get(thr, "threshold")), base_min * 0.5,
                           1e-9);
        bool satisfied = latency_value <= 60 &&
                         json_number_value(json_object_get(thr, "value")) >= base_min * 0.5;
        assert_int_equal(json_is_true(json_object_get(t, "feasible")), satisfied);
        assert_int_equal(json_is_true(json_object_get(lat, "satisfied")), latency_value <= 60);
    }
    json_decref(doc);
    study_free(s);
    config_free(&c);
}

static void test_expression_and_minimize(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {expression: \"latency * main.cpu * "
                                     "replicas\", goal: minimize}\n"
                                     "budget: 3\n");
    struct fake f;
    fake_init(&f);
    json_decref(run(s, &f));
    json_t *doc = study_document(s);
    size_t i;
    const json_t *t;
    double best = INFINITY;
    json_array_foreach(json_object_get(doc, "trials"), i, t)
    {
        const json_t *settings = json_object_get(t, "settings");
        double cpu = json_number_value(json_object_get(settings, "main.cpu"));
        double replicas = json_number_value(json_object_get(settings, "main.replicas"));
        double lat = json_number_value(
            json_object_get(json_object_get(json_object_get(t, "metrics"), "latency"), "mean"));
        double objective = json_number_value(json_object_get(t, "objective"));
        assert_float_equal(objective, lat * cpu * replicas, 1e-9);
        best = fmin(best, objective);
    }
    const json_t *b = json_array_get(json_object_get(doc, "trials"),
                                     (size_t)json_integer_value(json_object_get(doc, "best")));
    assert_float_equal(json_number_value(json_object_get(b, "objective")), best, 0);
    json_decref(doc);
    study_free(s);
    config_free(&c);
}

static void test_default_objective(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "budget: 1\n");
    struct fake f;
    fake_init(&f);
    json_decref(run(s, &f));
    json_t *doc = study_document(s);
    const json_t *objective = json_object_get(doc, "objective");
    assert_string_equal(json_string_value(json_object_get(objective, "metric")), "throughput");
    assert_string_equal(json_string_value(json_object_get(objective, "goal")), "maximize");
    json_decref(doc);
    study_free(s);
    config_free(&c);
}

/* The warning about the chosen objective names where to set one: optimizer.local embedded,
 * the application's entry of the server's file when served. */
static void expect_objective_hint(bool served, const char *hint)
{
    struct config c;
    config_load(&c, "budget: 1\n");
    char path[] = "/tmp/test_study_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(log_set_file(path), 0);
    struct study *s = NULL;
    char *error = NULL;
    struct study_options options = {.served = served};
    assert_int_equal(study_open("example.com/app", c.settings, NULL, &options, &s, &error), 0);
    struct fake f;
    fake_init(&f);
    json_decref(run(s, &f));
    log_set_file(NULL);
    char *text = NULL, *why = NULL;
    size_t size = 0;
    assert_int_equal(read_file(path, 1 << 20, &text, &size, &why), 0);
    unlink(path);
    if (strstr(text, hint) == NULL)
        fail_msg("the log lacks \"%s\":\n%s", hint, text);
    free(text);
    study_free(s);
    config_free(&c);
}

static void test_objective_hint(void **state)
{
    (void)state;
    expect_objective_hint(false, "No objective configured: optimizing the mean of throughput "
                                 "(maximize); set optimizer.local.objective to choose");
    expect_objective_hint(true, "No objective configured: optimizing the mean of throughput "
                                "(maximize); set applications.example.com/app.objective to choose");
}

/* ---- bad descriptions ------------------------------------------------------------------ */

static void expect_failed_description(const char *description, const char *reason)
{
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n");
    struct fake f;
    fake_init(&f);
    f.description = description;
    json_t *sleep = run(s, &f);
    assert_string_equal(f.commands, "D");
    assert_int_equal(study_phase(s), STUDY_FAILED);
    const json_t *data = json_object_get(json_object_get(sleep, "param"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "status")), "failed");
    if (strstr(sleep_reason(sleep), reason) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", sleep_reason(sleep), reason);
    assert_string_equal(study_reason(s), sleep_reason(sleep));
    json_decref(sleep);
    study_free(s);
    config_free(&c);
}

static void test_bad_descriptions(void **state)
{
    (void)state;
    expect_failed_description("{\"application\":{\"components\":{}}}", "no tunable settings");
    expect_failed_description(
        "{\"application\":{\"components\":{\"main\":{\"settings\":{\"cpu\":{\"type\":\"range\","
        "\"min\":1,\"max\":4,\"step\":1,\"pinned\":true,\"value\":2}}}}}}",
        "no tunable settings");
    expect_failed_description(
        "{\"application\":{\"components\":{\"main\":{\"settings\":{\"cpu\":{\"type\":\"range\","
        "\"min\":4,\"max\":1,\"step\":1,\"value\":2}}}}}}",
        "main.cpu: min 4 is greater than max 1");
    expect_failed_description(
        "{\"application\":{\"components\":{\"main\":{\"settings\":{\"cpu\":{\"type\":\"range\","
        "\"min\":1,\"max\":1,\"step\":0,\"value\":1}}}}}}",
        "no tunable settings");
    expect_failed_description(
        "{\"application\":{\"components\":{\"main\":{\"settings\":{\"cpu\":{\"type\":\"range\","
        "\"min\":\"NaN\",\"max\":1,\"step\":0.1,\"value\":1}}}}}}",
        "invalid description");
    expect_failed_description("[1, 2]", "invalid description");
}

static void test_describe_failures(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "budget: 1\n");
    for (int i = 0; i < STUDY_DESCRIBE_ATTEMPTS; i++) {
        json_t *command = post(s, "WHATS_NEXT", NULL, NULL);
        assert_string_equal(json_string_value(json_object_get(command, "cmd")), "DESCRIBE");
        const char *uid = json_string_value(json_object_get(command, "cmd_uid"));
        assert_status(post(s, "DESCRIPTION", failed_param("failed", "unknown", uid), NULL), "ok");
        json_decref(command);
    }
    assert_int_equal(study_phase(s), STUDY_FAILED);
    study_free(s);
    config_free(&c);
}

/* ---- one servo per application --------------------------------------------------------- */

static json_t *post_as(struct study *s, const char *servo_uid, const char *event, json_t *param,
                       int *http_status)
{
    json_t *request =
        json_pack("{s:s, s:o?, s:s}", "event", event, "param", param, "servo_uid", servo_uid);
    json_t *reply = study_exchange(s, request, http_status);
    json_decref(request);
    return reply;
}

static const char *detail(const json_t *reply)
{
    return json_string_value(json_object_get(reply, "detail"));
}

static void test_one_servo(void **state)
{
    (void)state;
    struct config c;
    config_load(&c, "budget: 3\nseed: 5\n");
    struct study_options options = {.servo_timeout_seconds = 1};
    struct study *s = NULL;
    char *error = NULL;
    assert_int_equal(study_open("example.com/app", c.settings, NULL, &options, &s, &error), 0);
    struct fake f;
    fake_init(&f);
    json_t *sleep = NULL;
    /* servo-1: DESCRIBE, the baseline, then trial 1's ADJUST: its MEASURE is pending */
    for (int i = 0; i < 3; i++)
        assert_true(step(s, &f, &sleep));
    json_t *measure = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(measure, "cmd")), "MEASURE");
    struct fake trial1 = f; /* the settings servo-1 applied */
    /* another servo while servo-1 is heard from: 409 naming the application and servo-1 */
    int status = 0;
    json_t *reply = post_as(s, "servo-2", "HELLO", json_object(), &status);
    assert_int_equal(status, 409);
    assert_non_null(strstr(detail(reply), "example.com/app"));
    assert_non_null(strstr(detail(reply), "servo-1"));
    json_decref(reply);
    reply = post_as(s, "servo-2", "WHATS_NEXT", NULL, &status);
    assert_int_equal(status, 409);
    json_decref(reply);
    /* servo-1 says GOODBYE: servo-2 takes over and gets trial 1's ADJUST again first */
    assert_status(post(s, "GOODBYE", json_object(), NULL), "ok");
    json_decref(post_as(s, "servo-2", "HELLO", json_object(), &status));
    assert_int_equal(status, 200);
    json_t *adjust = post_as(s, "servo-2", "WHATS_NEXT", NULL, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(adjust, "cmd")), "ADJUST");
    struct fake fresh;
    fake_init(&fresh);
    const char *uid = json_string_value(json_object_get(adjust, "cmd_uid"));
    json_t *result = fake_adjust(&fresh, json_object_get(adjust, "param"), uid);
    assert_true(fresh.cpu == trial1.cpu && fresh.replicas == trial1.replicas);
    assert_string_equal(fresh.mode, trial1.mode);
    reply = post_as(s, "servo-2", "ADJUSTMENT", result, &status);
    assert_int_equal(status, 200);
    assert_status(reply, "ok");
    json_t *again = post_as(s, "servo-2", "WHATS_NEXT", NULL, &status);
    assert_string_equal(json_string_value(json_object_get(again, "cmd")), "MEASURE");
    assert_false(
        json_equal(json_object_get(again, "cmd_uid"), json_object_get(measure, "cmd_uid")));
    /* servo-1 is refused now; once servo-2 is silent for servo_timeout, it takes over */
    reply = post(s, "HELLO", json_object(), &status);
    assert_int_equal(status, 409);
    assert_non_null(strstr(detail(reply), "servo-2"));
    json_decref(reply);
    struct timespec pause = {1, 100000000};
    nanosleep(&pause, NULL);
    assert_status(post(s, "HELLO", json_object(), NULL), "ok");
    /* an overlong servo_uid is refused, not stored */
    char long_uid[300];
    memset(long_uid, 'u', sizeof long_uid - 1);
    long_uid[sizeof long_uid - 1] = '\0';
    reply = post_as(s, long_uid, "HELLO", json_object(), &status);
    assert_int_equal(status, 400);
    json_decref(reply);
    /* servo-1 finishes the study: exactly the budget of trials */
    json_decref(run(s, &f));
    assert_int_equal(study_trial_count(s), 4);
    json_decref(again);
    json_decref(adjust);
    json_decref(measure);
    study_free(s);
    config_free(&c);
}

/* ---- a servo that says HELLO again ---------------------------------------------------- */

/* A request without a servo_uid (servos that are not told apart). */
static json_t *post_anonymous(struct study *s, const char *event, json_t *param)
{
    json_t *request = json_pack("{s:s, s:o?, s:n}", "event", event, "param", param, "servo_uid");
    int status = 0;
    json_t *reply = study_exchange(s, request, &status);
    json_decref(request);
    assert_int_equal(status, 200);
    return reply;
}

static const char *cmd_of(const json_t *command)
{
    return json_string_value(json_object_get(command, "cmd"));
}

static const char *uid_of(const json_t *command)
{
    return json_string_value(json_object_get(command, "cmd_uid"));
}

/* A restarted servo (with or without a servo_uid) says HELLO while a trial's MEASURE is
 * pending: the trial's ADJUST comes again (same settings, a new cmd_uid), then a new MEASURE;
 * the old command's measurement is refused. The baseline's MEASURE is sent as it is. */
static void test_hello_adjusts_again(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n"
                                     "budget: 2\nseed: 7\n");
    struct fake f;
    fake_init(&f);
    json_t *sleep = NULL;
    assert_true(step(s, &f, &sleep)); /* DESCRIBE */
    json_t *baseline = post(s, "WHATS_NEXT", NULL, NULL);
    json_decref(post_anonymous(s, "HELLO", json_object()));
    json_t *same = post(s, "WHATS_NEXT", NULL, NULL);
    assert_true(json_equal(baseline, same));
    assert_true(step(s, &f, &sleep)); /* the baseline's MEASURE */
    assert_true(step(s, &f, &sleep)); /* trial 1's ADJUST */
    json_t *measure = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(cmd_of(measure), "MEASURE");
    /* the servo restarts without a servo_uid; its application was reset meanwhile */
    json_decref(post_anonymous(s, "HELLO", json_object()));
    json_t *adjust = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(cmd_of(adjust), "ADJUST");
    json_t *late = post(s, "MEASUREMENT", fake_measure(&f, uid_of(measure)), NULL);
    json_t *reason_of_late = json_incref(json_object_get(late, "reason"));
    assert_status(late, "invalid");
    char *expected = xasprintf("stale cmd_uid %s: the MEASUREMENT is refused, its command was "
                               "superseded by ADJUST %s",
                               uid_of(measure), uid_of(adjust));
    assert_non_null(strstr(json_string_value(reason_of_late), expected));
    free(expected);
    json_decref(reason_of_late);
    struct fake reset;
    fake_init(&reset);
    json_t *result = fake_adjust(&reset, json_object_get(adjust, "param"), uid_of(adjust));
    assert_true(reset.cpu == f.cpu && reset.replicas == f.replicas);
    assert_string_equal(reset.mode, f.mode);
    assert_status(post(s, "ADJUSTMENT", result, NULL), "ok");
    json_t *again = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(cmd_of(again), "MEASURE");
    assert_string_not_equal(uid_of(again), uid_of(measure));
    /* the same servo_uid restarting does the same; a second HELLO changes nothing more */
    assert_status(post(s, "HELLO", json_object(), NULL), "ok");
    json_t *second = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(cmd_of(second), "ADJUST");
    assert_status(post(s, "HELLO", json_object(), NULL), "ok");
    json_t *third = post(s, "WHATS_NEXT", NULL, NULL);
    assert_true(json_equal(second, third));
    /* the study goes on: the budget, and one trial 1 */
    json_t *end = run(s, &reset);
    assert_string_equal(sleep_reason(end), "optimization complete");
    assert_int_equal(study_trial_count(s), 3);
    json_t *doc = study_document(s);
    const json_t *trial1 = json_array_get(json_object_get(doc, "trials"), 1);
    assert_string_equal(json_string_value(json_object_get(trial1, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(trial1, "adjust_uid")), uid_of(second));
    json_decref(doc);
    json_decref(end);
    json_decref(third);
    json_decref(second);
    json_decref(again);
    json_decref(adjust);
    json_decref(measure);
    json_decref(same);
    json_decref(baseline);
    study_free(s);
    config_free(&c);
}

/* An oversized descriptor is a failed DESCRIBE (not stored): three of them fail the study. */
static void test_description_too_large(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "budget: 1\n");
    char *big = malloc(STORE_MAX_DESCRIPTION + 2);
    memset(big, 'x', STORE_MAX_DESCRIPTION + 1);
    big[STORE_MAX_DESCRIPTION + 1] = '\0';
    for (int i = 0; i < STUDY_DESCRIBE_ATTEMPTS; i++) {
        json_t *command = post(s, "WHATS_NEXT", NULL, NULL);
        assert_string_equal(json_string_value(json_object_get(command, "cmd")), "DESCRIBE");
        json_t *result = ok_param(json_string_value(json_object_get(command, "cmd_uid")));
        json_object_set_new(result, "descriptor", json_pack("{s:s}", "padding", big));
        assert_status(post(s, "DESCRIPTION", result, NULL), "ok");
        json_decref(command);
    }
    assert_int_equal(study_phase(s), STUDY_FAILED);
    assert_non_null(strstr(study_reason(s), "the description is over 1 MiB"));
    free(big);
    study_free(s);
    config_free(&c);
}

/* ---- what a real ServoX sends ------------------------------------------------------------ */

/* Posts the request body of a recorded exchange (shared/fixtures/servox) with the cmd_uid of
 * the pending command; returns the reply's status. */
static void post_recorded(struct study *s, const char *file, const char *expected_cmd)
{
    char path[512];
    snprintf(path, sizeof path, "%s/servox/%s", SERVO_FIXTURES, file);
    json_error_t error;
    json_t *exchange = json_load_file(path, 0, &error);
    if (exchange == NULL)
        fail_msg("%s: %s", path, error.text);
    json_t *command = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(command, "cmd")), expected_cmd);
    json_t *body = json_deep_copy(json_object_get(exchange, "request"));
    json_object_set(json_object_get(body, "param"), "cmd_uid", json_object_get(command, "cmd_uid"));
    /* the recordings come from different servos: one servo here (see test_one_servo) */
    json_object_set_new(body, "servo_uid", json_null());
    int status = 0;
    json_t *reply = study_exchange(s, body, &status);
    assert_int_equal(status, 200);
    assert_status(reply, "ok");
    json_decref(body);
    json_decref(command);
    json_decref(exchange);
}

static void test_recorded_servox_session(void **state)
{
    (void)state;
    struct config c;
    struct study *s = open_study(&c, "objective: {metric: throughput, goal: maximize}\n"
                                     "budget: 2\n");
    post_recorded(s, "stub-errors/02-DESCRIPTION.json", "DESCRIBE");
    post_recorded(s, "stub-errors/04-MEASUREMENT.json", "MEASURE"); /* failed: unknown-metric */
    post_recorded(s, "stub-errors/06-ADJUSTMENT.json", "ADJUST");   /* rejected: scale-limit */
    post_recorded(s, "stub-cmduid/08-ADJUSTMENT.json", "ADJUST");   /* ok */
    post_recorded(s, "stub-errors/08-MEASUREMENT-progress.json", "MEASURE");
    post_recorded(s, "stub-errors/10-MEASUREMENT.json", "MEASURE"); /* throughput 10, 11, 12 */
    json_t *doc = study_document(s);
    const json_t *trials = json_object_get(doc, "trials");
    assert_string_equal(json_string_value(json_object_get(json_array_get(trials, 0), "reason")),
                        "unknown-metric");
    assert_string_equal(json_string_value(json_object_get(json_array_get(trials, 1), "reason")),
                        "scale-limit");
    assert_float_equal(json_number_value(json_object_get(json_array_get(trials, 2), "objective")),
                       11.0, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(doc, "best")), 2);
    assert_int_equal(json_array_size(json_object_get(doc, "settings")), 3);
    json_decref(doc);
    json_t *final = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(final, "cmd")), "ADJUST");
    json_decref(final);
    study_free(s);
    config_free(&c);
}

/* ---- configuration --------------------------------------------------------------------- */

static void expect_bad_config(const char *yaml, const char *message)
{
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(yaml, strlen(yaml), "bad.yaml", &docs, &diags), 0);
    void *settings = settings_load(&study_local_schema, docs.items[0], "local", NULL, &diags);
    assert_null(settings);
    bool found = false;
    for (size_t i = 0; i < diags.count; i++)
        found = found || strstr(diags.items[i].message, message) != NULL;
    if (!found)
        diags_print(&diags, stderr, "got: ");
    assert_true(found);
    diags_free(&diags);
    yaml_documents_free(&docs);
}

static void test_configuration_errors(void **state)
{
    (void)state;
    expect_bad_config("objective: {metric: x}\n", "field required");
    expect_bad_config("objective: {goal: maximize}\n", "give a metric or an expression");
    expect_bad_config("objective: {metric: x, expression: y, goal: maximize}\n", "not both");
    expect_bad_config("objective: {expression: \"a +\", goal: maximize}\n", "column");
    expect_bad_config("objective: {metric: x, goal: maximize, aggregate: p42}\n", "p42");
    expect_bad_config("constraints: [{metric: x, keep: below}]\n",
                      "give a threshold or a baseline_multiplier");
    expect_bad_config("constraints: [{metric: x, keep: below, threshold: 1, "
                      "baseline_multiplier: 2}]\n",
                      "not both");
    expect_bad_config("constraints: [{metric: x, keep: sideways, threshold: 1}]\n", "sideways");
    expect_bad_config("budget: 0\n", "at least 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_session),
        cmocka_unit_test(test_command_shapes),
        cmocka_unit_test(test_pending_command_repeats),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_failed_adjust_skips_the_measure),
        cmocka_unit_test(test_objective_missing_or_nan),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_expression_and_minimize),
        cmocka_unit_test(test_default_objective),
        cmocka_unit_test(test_objective_hint),
        cmocka_unit_test(test_bad_descriptions),
        cmocka_unit_test(test_describe_failures),
        cmocka_unit_test(test_recorded_servox_session),
        cmocka_unit_test(test_configuration_errors),
        cmocka_unit_test(test_one_servo),
        cmocka_unit_test(test_hello_adjusts_again),
        cmocka_unit_test(test_description_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
