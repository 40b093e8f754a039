/* The data model and its wire shapes: round trips against the examples of the protocol
 * reference and against the traffic recorded from ServoX, builders, merges, copies, decoding
 * errors, adjustments and control. */
#include "support.h"

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/model.h"
#include "types/wire.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char *const fixture_scenarios[] = {"stub", "stub-cmduid", "stub-errors", "wait"};

/* ---- helpers ---------------------------------------------------------------------------- */

static char *dump(const json_t *json)
{
    return json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_json_equal(const json_t *expected, const json_t *actual)
{
    if (json_equal(expected, actual))
        return;
    char *e = dump(expected), *a = dump(actual);
    print_error("expected %s\n     got %s\n", e, a);
    free(e);
    free(a);
    fail();
}

/* The compact dump of `json` (which it releases) is `expected`: checks key order too. */
static void assert_dump(const char *expected, json_t *json)
{
    char *text = dump(json);
    assert_string_equal(text, expected);
    free(text);
    json_decref(json);
}

static void assert_description_round_trip(const json_t *json)
{
    struct servo_description *d = NULL;
    char *error = NULL;
    if (servo_description_from_json(json, &d, &error) != 0)
        fail_msg("description decoding failed: %s", error);
    json_t *encoded = servo_description_to_json(d);
    assert_json_equal(json, encoded);
    json_decref(encoded);
    servo_description_free(d);
}

static void assert_measurement_round_trip(const json_t *json)
{
    struct servo_measurement *m = NULL;
    char *error = NULL;
    if (servo_measurement_from_json(json, &m, &error) != 0)
        fail_msg("measurement decoding failed: %s", error);
    json_t *encoded = servo_measurement_to_json(m);
    assert_json_equal(json, encoded);
    json_decref(encoded);
    servo_measurement_free(m);
}

static void assert_state_round_trip(const json_t *state)
{
    struct servo_adjustments a = {0};
    char *error = NULL;
    if (servo_adjustments_from_state(state, &a, &error) != 0)
        fail_msg("state decoding failed: %s", error);
    json_t *encoded = servo_adjustments_to_state(&a);
    assert_json_equal(state, encoded);
    json_decref(encoded);
    servo_adjustments_clear(&a);
}

static void assert_description_error(const char *text, const char *message)
{
    json_t *json = test_json(text);
    struct servo_description *d = (struct servo_description *)1;
    char *error = NULL;
    assert_int_equal(servo_description_from_json(json, &d, &error), -1);
    assert_null(d);
    assert_non_null(error);
    assert_string_equal(error, message);
    free(error);
    json_decref(json);
}

static void assert_measurement_error(const char *text, const char *message)
{
    json_t *json = test_json(text);
    struct servo_measurement *m = NULL;
    char *error = NULL;
    assert_int_equal(servo_measurement_from_json(json, &m, &error), -1);
    assert_null(m);
    assert_non_null(error);
    assert_string_equal(error, message);
    free(error);
    json_decref(json);
}

static void assert_control_error(const char *text, const char *message)
{
    json_t *json = test_json(text);
    struct servo_control c;
    char *error = NULL;
    assert_int_equal(servo_control_from_json(json, &c, &error), -1);
    assert_non_null(error);
    assert_string_equal(error, message);
    assert_null(c.userdata);
    assert_null(c.slo);
    free(error);
    json_decref(json);
}

static void decode_control(const char *text, struct servo_control *c)
{
    json_t *json = test_json(text);
    char *error = NULL;
    if (servo_control_from_json(json, c, &error) != 0)
        fail_msg("control decoding failed: %s", error);
    json_decref(json);
}

/* Numbers compare by value (the optimizer writes 180 where the servo writes 180.0). */
static bool json_same_value(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal(a, b);
}

/* The encoding of a decoded control says what the original said: every non-null member
 * (past as delay) with the same value; the members it adds are zero durations. */
static void assert_control_matches(const json_t *original, const json_t *encoded)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)original, key, value)
    {
        if (json_is_null(value))
            continue;
        const json_t *mine = json_object_get(encoded, strcmp(key, "past") == 0 ? "delay" : key);
        if (mine == NULL || !json_same_value(value, mine))
            fail_msg("control member %s differs", key);
    }
    json_object_foreach((json_t *)encoded, key, value)
    {
        const json_t *theirs = json_object_get(original, key);
        if (theirs != NULL && !json_is_null(theirs))
            continue;
        if (strcmp(key, "delay") == 0 && json_object_get(original, "past") != NULL)
            continue;
        assert_true(strcmp(key, "duration") == 0 || strcmp(key, "delay") == 0 ||
                    strcmp(key, "warmup") == 0);
        assert_true(json_number_value(value) == 0);
    }
}

static void assert_control_round_trip(const json_t *json)
{
    struct servo_control c, again;
    char *error = NULL;
    if (servo_control_from_json(json, &c, &error) != 0)
        fail_msg("control decoding failed: %s", error);
    json_t *encoded = servo_control_to_json(&c);
    assert_control_matches(json, encoded);
    assert_int_equal(servo_control_from_json(encoded, &again, NULL), 0);
    json_t *twice = servo_control_to_json(&again);
    assert_json_equal(encoded, twice);
    json_decref(twice);
    json_decref(encoded);
    servo_control_free(&again);
    servo_control_free(&c);
}

/* Calls `check` with every recorded exchange of the given kind ("DESCRIPTION", ...): its
 * parsed request and response bodies. Returns how many there were. */
typedef void (*exchange_check)(const char *path, const json_t *request, const json_t *response);

static size_t for_each_exchange(const char *event, exchange_check check)
{
    size_t seen = 0;
    for (size_t s = 0; s < COUNT(fixture_scenarios); s++) {
        char pattern[512];
        snprintf(pattern, sizeof pattern, "%s/servox/%s/[0-9][0-9]-%s.json", SERVO_FIXTURES,
                 fixture_scenarios[s], event);
        glob_t found;
        if (glob(pattern, 0, NULL, &found) != 0)
            continue;
        for (size_t i = 0; i < found.gl_pathc; i++) {
            json_error_t error;
            json_t *exchange = json_load_file(found.gl_pathv[i], 0, &error);
            if (exchange == NULL)
                fail_msg("%s: %s", found.gl_pathv[i], error.text);
            json_t *request =
                test_json(json_string_value(json_object_get(exchange, "request_body_raw")));
            json_t *response =
                test_json(json_string_value(json_object_get(exchange, "response_body_raw")));
            check(found.gl_pathv[i], request, response);
            json_decref(request);
            json_decref(response);
            json_decref(exchange);
            seen++;
        }
        globfree(&found);
    }
    return seen;
}

/* ---- the examples of the protocol reference (servox-reference.md section 5) -------------- */

static const char reference_descriptor[] =
    "{\"application\":{\"components\":{\"web\":{\"settings\":{"
    "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.25,\"max\":4.0,\"step\":0.125,"
    "\"pinned\":false,\"value\":1.0},"
    "\"mem\":{\"type\":\"range\",\"unit\":\"GiB\",\"min\":0.25,\"max\":4.0,\"step\":0.125,"
    "\"pinned\":false,\"value\":1.0},"
    "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":2,\"step\":1,\"pinned\":false,"
    "\"value\":1},"
    "\"POLICY\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"pinned\":false,\"value\":\"a\"}"
    "}}}},"
    "\"measurement\":{\"metrics\":{\"throughput\":{\"unit\":\"rpm\"},"
    "\"error_rate\":{\"unit\":\"%\"}}}}";

static void test_reference_descriptor(void **state)
{
    (void)state;
    json_t *json = test_json(reference_descriptor);
    assert_description_round_trip(json);
    /* and byte for byte, in the reference's key order */
    struct servo_description *d = NULL;
    assert_int_equal(servo_description_from_json(json, &d, NULL), 0);
    assert_dump(reference_descriptor, servo_description_to_json(d));
    const struct servo_setting *replicas =
        servo_component_find(servo_description_find(d, "web"), "replicas");
    assert_true(replicas->integer);
    assert_false(servo_component_find(&d->components[0], "cpu")->integer);
    servo_description_free(d);
    json_decref(json);
}

static void test_reference_measurement(void **state)
{
    (void)state;
    json_t *json = test_json(
        "{\"metrics\":{\"throughput\":{\"unit\":\"rpm\",\"values\":[{\"id\":\"1690000000\","
        "\"data\":[[1690000000,1200.0],[1690000060,1190.5]]}]},"
        "\"some_scalar\":{\"unit\":\"\",\"value\":31337.0}},"
        "\"annotations\":{\"load_profile\":\"Loading 1 URL(s) for 5m\"}}");
    assert_measurement_round_trip(json);
    struct servo_measurement *m = NULL;
    assert_int_equal(servo_measurement_from_json(json, &m, NULL), 0);
    assert_int_equal(m->reading_count, 2);
    assert_false(m->readings[0].scalar);
    assert_string_equal(m->readings[0].id, "1690000000");
    assert_int_equal(m->readings[0].point_count, 2);
    assert_true(m->readings[0].points[1].time == 1690000060);
    assert_true(m->readings[0].points[1].value == 1190.5);
    assert_true(m->readings[1].scalar);
    assert_true(m->readings[1].points[0].value == 31337);
    servo_measurement_free(m);
    json_decref(json);
}

static void test_reference_adjust_state(void **state)
{
    (void)state;
    json_t *json = test_json("{\"application\":{\"components\":{\"main\":{\"settings\":{"
                             "\"cpu\":{\"value\":1.0},\"mem\":{\"value\":1.0},"
                             "\"replicas\":{\"value\":2.0}}}}}}");
    assert_state_round_trip(json);
    struct servo_adjustments a = {0};
    assert_int_equal(servo_adjustments_from_state(json, &a, NULL), 0);
    assert_int_equal(a.count, 3);
    assert_string_equal(a.items[2].component, "main");
    assert_string_equal(a.items[2].setting, "replicas");
    assert_false(a.items[2].is_text);
    assert_false(a.items[2].integer);
    assert_true(a.items[2].value == 2);
    servo_adjustments_clear(&a);
    json_decref(json);
}

static void test_reference_measure_control(void **state)
{
    (void)state;
    json_t *json = test_json("{\"duration\":180,\"warmup\":30,\"delay\":10,\"userdata\":{\"slo\":"
                             "{\"conditions\":[{\"metric\":\"p90\",\"threshold\":500}]}}}");
    assert_control_round_trip(json);
    struct servo_control c;
    assert_int_equal(servo_control_from_json(json, &c, NULL), 0);
    assert_int_equal(c.duration, 180 * SERVO_SECOND);
    assert_int_equal(c.warmup, 30 * SERVO_SECOND);
    assert_int_equal(c.delay, 10 * SERVO_SECOND);
    assert_int_equal(c.settlement, SERVO_UNSET);
    assert_int_equal(c.slo_count, 1);
    assert_string_equal(c.slo[0].metric, "p90");
    assert_true(c.slo[0].threshold == 500);
    servo_control_free(&c);
    json_decref(json);
}

/* ---- the recorded traffic of ServoX ----------------------------------------------------- */

static void check_description_exchange(const char *path, const json_t *request,
                                       const json_t *response)
{
    (void)path;
    (void)response;
    assert_description_round_trip(json_object_get(json_object_get(request, "param"), "descriptor"));
}

static void check_adjustment_exchange(const char *path, const json_t *request,
                                      const json_t *response)
{
    (void)path;
    (void)response;
    const json_t *state = json_object_get(json_object_get(request, "param"), "state");
    if (state != NULL) /* a failed adjustment reports no state */
        assert_description_round_trip(state);
}

static void check_measurement_exchange(const char *path, const json_t *request,
                                       const json_t *response)
{
    (void)path;
    (void)response;
    const json_t *param = json_object_get(request, "param");
    if (json_object_get(param, "metrics") == NULL) /* a failed measurement */
        return;
    json_t *expected = json_pack("{sOsO}", "metrics", json_object_get(param, "metrics"),
                                 "annotations", json_object_get(param, "annotations"));
    /* the param itself decodes too (status, message... are ignored) */
    assert_measurement_round_trip(expected);
    struct servo_measurement *m = NULL;
    assert_int_equal(servo_measurement_from_json(param, &m, NULL), 0);
    json_t *encoded = servo_measurement_to_json(m);
    assert_json_equal(expected, encoded);
    json_decref(encoded);
    servo_measurement_free(m);
    json_decref(expected);
}

static size_t commands_seen[2]; /* MEASURE, ADJUST */

static void check_command_exchange(const char *path, const json_t *request, const json_t *response)
{
    (void)path;
    (void)request;
    const char *cmd = json_string_value(json_object_get(response, "cmd"));
    const json_t *param = json_object_get(response, "param");
    if (cmd != NULL && strcmp(cmd, "MEASURE") == 0) {
        assert_control_round_trip(json_object_get(param, "control"));
        commands_seen[0]++;
    } else if (cmd != NULL && strcmp(cmd, "ADJUST") == 0) {
        assert_state_round_trip(json_object_get(param, "state"));
        assert_control_round_trip(json_object_get(param, "control"));
        commands_seen[1]++;
    }
}

static void test_fixture_descriptions(void **state)
{
    (void)state;
    assert_int_equal(for_each_exchange("DESCRIPTION", check_description_exchange), 4);
    assert_int_equal(for_each_exchange("ADJUSTMENT", check_adjustment_exchange), 4);
}

static void test_fixture_measurements(void **state)
{
    (void)state;
    assert_int_equal(for_each_exchange("MEASUREMENT", check_measurement_exchange), 5);
}

static void test_fixture_commands(void **state)
{
    (void)state;
    assert_true(for_each_exchange("WHATS_NEXT", check_command_exchange) >= 16);
    assert_int_equal(commands_seen[0], 5);
    assert_int_equal(commands_seen[1], 4);
}

/* The fixture's ADJUST state is applied as one adjustment per setting, with its JSON type. */
static void test_fixture_adjust_values(void **state)
{
    (void)state;
    json_error_t error;
    json_t *exchange = json_load_file(SERVO_FIXTURES "/servox/stub/07-WHATS_NEXT.json", 0, &error);
    assert_non_null(exchange);
    json_t *response = test_json(json_string_value(json_object_get(exchange, "response_body_raw")));
    struct servo_adjustments a = {0};
    const json_t *param = json_object_get(response, "param");
    assert_int_equal(servo_adjustments_from_state(json_object_get(param, "state"), &a, NULL), 0);
    assert_int_equal(a.count, 3);
    assert_string_equal(a.items[0].setting, "cpu");
    assert_true(a.items[0].value == 1.5);
    assert_false(a.items[1].integer);
    assert_true(a.items[2].integer);
    assert_true(a.items[2].value == 3);
    struct servo_control c;
    assert_int_equal(servo_control_from_json(json_object_get(param, "control"), &c, NULL), 0);
    assert_int_equal(c.settlement, SERVO_SECOND);
    assert_int_equal(c.duration, 0);
    servo_control_free(&c);
    servo_adjustments_clear(&a);
    json_decref(response);
    json_decref(exchange);
}

/* ---- settings and descriptions ---------------------------------------------------------- */

static void test_setting_wire_shapes(void **state)
{
    (void)state;
    struct servo_description *d = servo_description_new();
    struct servo_component *web = servo_description_component(d, "web");
    struct servo_setting *cpu = servo_component_range(web, "cpu", "cores", 0.25, 4, 0.125);
    servo_setting_set_value(cpu, 1);
    struct servo_setting *replicas = servo_component_range(web, "replicas", NULL, 1, 10, 1);
    replicas->integer = true;
    servo_setting_set_value(replicas, 3);
    struct servo_setting *pinned = servo_component_range(web, "limit", NULL, 0.5, 1.5, 0.5);
    pinned->pinned = true;
    const char *const policies[] = {"a", "b", NULL};
    struct servo_setting *policy = servo_component_enum(web, "POLICY", NULL, policies);
    servo_setting_set_text(policy, "b");
    const char *const types[] = {"m5.large", NULL};
    servo_component_enum(web, "inst_type", "ec2", types);
    const char *const sizes[] = {"1", "2.5", NULL};
    struct servo_setting *size = servo_component_enum(web, "size", NULL, sizes);
    size->numeric_values = true;
    servo_setting_set_value(size, 2.5);
    assert_dump("{\"components\":{\"web\":{\"settings\":{"
                "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.25,\"max\":4.0,"
                "\"step\":0.125,\"pinned\":false,\"value\":1.0},"
                "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":10,\"step\":1,"
                "\"pinned\":false,\"value\":3},"
                "\"limit\":{\"type\":\"range\",\"min\":0.5,\"max\":1.5,\"step\":0.5,"
                "\"pinned\":true},"
                "\"POLICY\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"pinned\":false,"
                "\"value\":\"b\"},"
                "\"inst_type\":{\"type\":\"enum\",\"unit\":\"ec2\",\"values\":[\"m5.large\"],"
                "\"pinned\":false},"
                "\"size\":{\"type\":\"enum\",\"values\":[1,2.5],\"pinned\":false,"
                "\"value\":2.5}}}}}",
                servo_components_to_json(d));
    servo_description_free(d);
    struct servo_description *empty = servo_description_new();
    assert_dump("{\"application\":{\"components\":{}},\"measurement\":{\"metrics\":{}}}",
                servo_description_to_json(empty));
    servo_description_free(empty);
}

static void test_setting_decoding(void **state)
{
    (void)state;
    json_t *json = test_json("{\"components\":{\"c\":{\"settings\":{"
                             "\"r\":{\"min\":1,\"max\":4,\"step\":1},"
                             "\"m\":{\"min\":1,\"max\":4.0,\"step\":1,\"value\":2},"
                             "\"e\":{\"values\":[\"x\",2],\"value\":2},"
                             "\"n\":{\"type\":\"enum\",\"values\":[1,2.0],\"value\":2.0,"
                             "\"unit\":null,\"pinned\":null},"
                             "\"p\":{\"type\":\"range\",\"min\":0,\"max\":1,\"step\":0.5,"
                             "\"pinned\":true,\"value\":null}}}}}");
    struct servo_description *d = NULL;
    assert_int_equal(servo_description_from_json(json, &d, NULL), 0);
    assert_int_equal(d->component_count, 1);
    assert_int_equal(d->metric_count, 0);
    const struct servo_component *c = servo_description_find(d, "c");
    const struct servo_setting *r = servo_component_find(c, "r");
    assert_int_equal(r->kind, SERVO_SETTING_RANGE);
    assert_true(r->integer);
    assert_false(r->has_value);
    const struct servo_setting *m = servo_component_find(c, "m");
    assert_false(m->integer);
    assert_true(m->has_value);
    assert_true(m->value == 2);
    const struct servo_setting *e = servo_component_find(c, "e");
    assert_int_equal(e->kind, SERVO_SETTING_ENUM);
    assert_false(e->numeric_values);
    assert_int_equal(e->value_count, 2);
    assert_string_equal(e->values[1], "2");
    assert_string_equal(e->text_value, "2");
    const struct servo_setting *n = servo_component_find(c, "n");
    assert_true(n->numeric_values);
    assert_null(n->unit);
    assert_string_equal(n->values[1], "2.0");
    const struct servo_setting *p = servo_component_find(c, "p");
    assert_true(p->pinned);
    assert_false(p->integer);
    assert_dump("{\"components\":{\"c\":{\"settings\":{"
                "\"r\":{\"type\":\"range\",\"min\":1,\"max\":4,\"step\":1,\"pinned\":false},"
                "\"m\":{\"type\":\"range\",\"min\":1.0,\"max\":4.0,\"step\":1.0,"
                "\"pinned\":false,\"value\":2.0},"
                "\"e\":{\"type\":\"enum\",\"values\":[\"x\",\"2\"],\"pinned\":false,"
                "\"value\":\"2\"},"
                "\"n\":{\"type\":\"enum\",\"values\":[1,2.0],\"pinned\":false,\"value\":2.0},"
                "\"p\":{\"type\":\"range\",\"min\":0.0,\"max\":1.0,\"step\":0.5,"
                "\"pinned\":true}}}}}",
                servo_components_to_json(d));
    servo_description_free(d);
    json_decref(json);
}

/* The descriptor form without "measurement", and the bare components form. */
static void test_description_forms(void **state)
{
    (void)state;
    const char *const forms[] = {
        "{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"type\":\"range\","
        "\"min\":1,\"max\":2,\"step\":1}}}}}}",
        "{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"type\":\"range\",\"min\":1,"
        "\"max\":2,\"step\":1}}}},\"measurement\":{\"metrics\":{\"rate\":{},"
        "\"latency\":{\"unit\":\"ms\",\"index\":2}}}}",
        "{\"application\":{\"components\":{\"web\":{}}},\"measurement\":null}",
        "{\"application\":{},\"optimization\":{\"perf\":\"throughput\"}}",
    };
    const size_t components[] = {1, 1, 1, 0};
    const size_t metrics[] = {0, 2, 0, 0};
    for (size_t i = 0; i < COUNT(forms); i++) {
        json_t *json = test_json(forms[i]);
        struct servo_description *d = NULL;
        char *error = NULL;
        if (servo_description_from_json(json, &d, &error) != 0)
            fail_msg("%s: %s", forms[i], error);
        assert_int_equal(d->component_count, components[i]);
        assert_int_equal(d->metric_count, metrics[i]);
        servo_description_free(d);
        json_decref(json);
    }
    json_t *json = test_json(forms[1]);
    struct servo_description *d = NULL;
    assert_int_equal(servo_description_from_json(json, &d, NULL), 0);
    assert_string_equal(servo_description_find_metric(d, "rate")->unit, "");
    assert_string_equal(servo_description_find_metric(d, "latency")->unit, "ms");
    servo_description_free(d);
    json_decref(json);
}

static void test_description_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *error;
    } cases[] = {
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"type\":\"range\","
         "\"min\":\"x\",\"max\":1,\"step\":1}}}}}}",
         "application.components.web.settings.cpu.min: expected a number"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"type\":\"range\","
         "\"min\":1,\"step\":1}}}}}}",
         "application.components.web.settings.cpu.max: expected a number"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"min\":1,"
         "\"max\":2}}}}}}",
         "application.components.web.settings.cpu.step: expected a number"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"min\":1,\"max\":2,"
         "\"step\":1,\"value\":\"1\"}}}}}}",
         "application.components.web.settings.cpu.value: expected a number"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"type\":\"ranged\","
         "\"min\":1,\"max\":2,\"step\":1}}}}}}",
         "application.components.web.settings.cpu.type: expected \"range\" or \"enum\""},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"value\":1}}}}}}",
         "application.components.web.settings.cpu: expected a \"type\" (\"range\" or \"enum\")"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":1}}}}}",
         "application.components.web.settings.cpu: expected an object"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":{\"type\":\"enum\","
         "\"values\":[]}}}}}}",
         "application.components.web.settings.x.values: expected a non-empty array of strings or "
         "numbers"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":{\"type\":\"enum\","
         "\"values\":[\"a\",true]}}}}}}",
         "application.components.web.settings.x.values[1]: expected a string or a number"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":{\"values\":[\"a\"],"
         "\"value\":[]}}}}}}",
         "application.components.web.settings.x.value: expected a string or a number"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":{\"values\":[\"a\"],"
         "\"unit\":5}}}}}}",
         "application.components.web.settings.x.unit: expected a string"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":{\"values\":[\"a\"],"
         "\"pinned\":\"yes\"}}}}}}",
         "application.components.web.settings.x.pinned: expected true or false"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":[]}}}}",
         "application.components.web.settings: expected an object"},
        {"{\"application\":{\"components\":{\"web\":1}}}",
         "application.components.web: expected an object"},
        {"{\"application\":{\"components\":[]}}", "application.components: expected an object"},
        {"{\"application\":[]}", "application: expected an object"},
        {"{\"components\":{\"web\":[]}}", "components.web: expected an object"},
        {"{}", "expected \"application\" or \"components\""},
        {"[]", "expected an object"},
        {"{\"components\":{},\"measurement\":[]}", "measurement: expected an object"},
        {"{\"components\":{},\"measurement\":{\"metrics\":{\"x\":1}}}",
         "measurement.metrics.x: expected an object"},
        {"{\"components\":{},\"measurement\":{\"metrics\":{\"x\":{\"unit\":1}}}}",
         "measurement.metrics.x.unit: expected a string"},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        assert_description_error(cases[i].json, cases[i].error);
    /* no message asked for */
    json_t *json = test_json(cases[0].json);
    struct servo_description *d = NULL;
    assert_int_equal(servo_description_from_json(json, &d, NULL), -1);
    assert_int_equal(servo_description_from_json(NULL, &d, NULL), -1);
    json_decref(json);
}

static void test_description_builders(void **state)
{
    (void)state;
    struct servo_description *d = servo_description_new();
    struct servo_component *web = servo_description_component(d, "web");
    assert_string_equal(web->name, "web");
    assert_ptr_equal(servo_description_component(d, "web"), web);
    assert_ptr_equal(servo_description_find(d, "web"), web);
    assert_null(servo_description_find(d, "db"));
    assert_null(servo_component_find(web, "cpu"));

    struct servo_setting *cpu = servo_component_range(web, "cpu", "cores", 0.25, 4, 0.125);
    assert_int_equal(cpu->kind, SERVO_SETTING_RANGE);
    assert_string_equal(cpu->unit, "cores");
    assert_true(cpu->min == 0.25 && cpu->max == 4 && cpu->step == 0.125);
    assert_false(cpu->has_value);
    servo_setting_set_text(cpu, "2.5");
    assert_true(cpu->has_value);
    assert_true(cpu->value == 2.5);
    servo_component_range(web, "mem", "GiB", 0.5, 8, 0.5);
    /* the same name again replaces the setting in place */
    cpu = servo_component_range(web, "cpu", NULL, 1, 2, 1);
    assert_int_equal(web->setting_count, 2);
    assert_ptr_equal(&web->settings[0], cpu);
    assert_null(cpu->unit);
    assert_false(cpu->has_value);
    servo_setting_set_text(cpu, "fast");
    assert_false(cpu->has_value);
    servo_setting_set_value(cpu, 1.5);
    assert_true(cpu->has_value && cpu->value == 1.5);

    const char *const values[] = {"1", "2", "3", NULL};
    struct servo_setting *workers = servo_component_enum(web, "workers", NULL, values);
    assert_int_equal(workers->kind, SERVO_SETTING_ENUM);
    assert_int_equal(workers->value_count, 3);
    assert_string_equal(workers->values[2], "3");
    assert_null(workers->values[3]);
    servo_setting_set_value(workers, 3);
    assert_string_equal(workers->text_value, "3");
    servo_setting_set_text(workers, "2");
    assert_string_equal(workers->text_value, "2");
    struct servo_setting *none = servo_component_enum(web, "none", NULL, NULL);
    assert_int_equal(none->value_count, 0);
    workers = servo_component_find(web, "workers");
    workers->literal = strdup("WORKERS");

    servo_description_add_metric(d, "throughput", "rpm");
    servo_description_add_metric(d, "errors", NULL);
    servo_description_add_metric(d, "throughput", "rps");
    assert_int_equal(d->metric_count, 2);
    assert_string_equal(servo_description_find_metric(d, "throughput")->unit, "rps");
    assert_string_equal(servo_description_find_metric(d, "errors")->unit, "");
    assert_null(servo_description_find_metric(d, "latency"));
    servo_description_free(d);
    servo_description_free(NULL);
}

static void test_description_merge_copy(void **state)
{
    (void)state;
    struct servo_description *a = servo_description_new();
    struct servo_component *web = servo_description_component(a, "web");
    servo_setting_set_value(servo_component_range(web, "cpu", "cores", 0.25, 4, 0.25), 1);
    servo_component_range(web, "mem", "GiB", 0.5, 8, 0.5);
    servo_description_add_metric(a, "throughput", "rpm");

    struct servo_description *b = servo_description_new();
    web = servo_description_component(b, "web");
    servo_setting_set_value(servo_component_range(web, "cpu", "cores", 0.5, 2, 0.5), 2);
    struct servo_setting *replicas = servo_component_range(web, "replicas", NULL, 1, 5, 1);
    replicas->integer = true;
    const char *const modes[] = {"on", "off", NULL};
    struct servo_setting *mode =
        servo_component_enum(servo_description_component(b, "db"), "MODE", NULL, modes);
    mode->literal = strdup("DB_MODE");
    servo_setting_set_text(mode, "on");
    servo_description_add_metric(b, "throughput", "rps");
    servo_description_add_metric(b, "latency", "ms");

    servo_description_merge(a, b);
    servo_description_merge(a, a);
    servo_description_merge(a, NULL);
    assert_int_equal(a->component_count, 2);
    web = servo_description_find(a, "web");
    assert_int_equal(web->setting_count, 3);
    assert_string_equal(web->settings[0].name, "cpu");
    assert_true(web->settings[0].min == 0.5 && web->settings[0].value == 2);
    assert_string_equal(web->settings[1].name, "mem");
    assert_true(servo_component_find(web, "replicas")->integer);
    const struct servo_setting *merged_mode =
        servo_component_find(servo_description_find(a, "db"), "MODE");
    assert_string_equal(merged_mode->literal, "DB_MODE");
    assert_string_equal(merged_mode->text_value, "on");
    assert_int_equal(merged_mode->value_count, 2);
    assert_int_equal(a->metric_count, 2);
    assert_string_equal(servo_description_find_metric(a, "throughput")->unit, "rps");

    struct servo_description *copy = servo_description_copy(a);
    json_t *original_json = servo_description_to_json(a);
    servo_description_free(a);
    servo_description_free(b);
    json_t *copy_json = servo_description_to_json(copy);
    assert_json_equal(original_json, copy_json);
    assert_string_equal(servo_component_find(servo_description_find(copy, "db"), "MODE")->literal,
                        "DB_MODE");
    json_decref(original_json);
    json_decref(copy_json);
    servo_description_free(copy);
}

/* ---- measurements ----------------------------------------------------------------------- */

static void test_measurement_series_of_one_metric(void **state)
{
    (void)state;
    struct servo_measurement *m = servo_measurement_new();
    const char *const ids[] = {NULL, NULL, "x", "x", "tp-1"};
    for (size_t i = 0; i < COUNT(ids); i++) {
        struct servo_reading *r = servo_measurement_series(m, "tp", "rps", ids[i]);
        servo_reading_add(r, 100, (double)i);
    }
    servo_reading_set_annotation(&m->readings[2], "pod web-1");
    json_t *json = servo_measurement_to_json(m);
    assert_dump("{\"metrics\":{\"tp\":{\"unit\":\"rps\",\"values\":["
                "{\"id\":\"tp-1\",\"data\":[[100,0.0]]},"
                "{\"id\":\"tp-2\",\"data\":[[100,1.0]]},"
                "{\"id\":\"x\",\"data\":[[100,2.0]],\"annotation\":\"pod web-1\"},"
                "{\"id\":\"x-2\",\"data\":[[100,3.0]]},"
                "{\"id\":\"tp-1-2\",\"data\":[[100,4.0]]}]}},\"annotations\":{}}",
                json_incref(json));
    /* every series survives decoding, with its id */
    struct servo_measurement *back = NULL;
    assert_int_equal(servo_measurement_from_json(json, &back, NULL), 0);
    assert_int_equal(back->reading_count, 5);
    assert_string_equal(back->readings[3].id, "x-2");
    assert_string_equal(back->readings[2].annotation, "pod web-1");
    assert_true(back->readings[4].points[0].value == 4);
    assert_measurement_round_trip(json);
    servo_measurement_free(back);
    servo_measurement_free(m);
    json_decref(json);
}

static void test_measurement_nonfinite(void **state)
{
    (void)state;
    struct servo_measurement *m = servo_measurement_new();
    struct servo_reading *r = servo_measurement_series(m, "latency", "ms", "s1");
    servo_reading_add(r, 10, NAN);
    servo_reading_add(r, 1.5, INFINITY);
    servo_reading_add(r, 11, -INFINITY);
    servo_reading_add(r, 12, -0.5);
    servo_measurement_point(m, "ratio", "", 0, NAN);
    json_t *json = servo_measurement_to_json(m);
    assert_dump("{\"metrics\":{\"latency\":{\"unit\":\"ms\",\"values\":[{\"id\":\"s1\",\"data\":"
                "[[10,\"NaN\"],[1.5,\"+Inf\"],[11,\"-Inf\"],[12,-0.5]]}]},"
                "\"ratio\":{\"unit\":\"\",\"value\":\"NaN\"}},\"annotations\":{}}",
                json_incref(json));
    struct servo_measurement *back = NULL;
    assert_int_equal(servo_measurement_from_json(json, &back, NULL), 0);
    const struct servo_point *points = back->readings[0].points;
    assert_true(isnan(points[0].value));
    assert_true(isinf(points[1].value) && points[1].value > 0);
    assert_true(points[1].time == 1.5);
    assert_true(isinf(points[2].value) && points[2].value < 0);
    assert_true(isnan(back->readings[1].points[0].value));
    assert_true(back->readings[1].scalar);
    assert_measurement_round_trip(json);
    servo_measurement_free(back);
    servo_measurement_free(m);
    json_decref(json);
}

static void test_measurement_scalar_and_series(void **state)
{
    (void)state;
    struct servo_measurement *m = servo_measurement_new();
    struct servo_reading *alone = servo_measurement_point(m, "rate", "rpm", 1690000000, 5);
    servo_reading_set_annotation(alone, "from vegeta");
    servo_measurement_point(m, "mixed", "%", 1690000000, 1.5);
    servo_reading_add(servo_measurement_series(m, "mixed", "%", "s"), 1690000030, 2);
    struct servo_reading *empty = servo_measurement_series(m, "empty", "", NULL);
    (void)empty;
    servo_measurement_annotate(m, "load_profile", "Loading 1 URL(s) for 5m");
    json_t *json = servo_measurement_to_json(m);
    assert_dump("{\"metrics\":{\"rate\":{\"unit\":\"rpm\",\"value\":5.0,\"annotation\":"
                "\"from vegeta\"},\"mixed\":{\"unit\":\"%\",\"values\":[{\"id\":\"mixed-1\","
                "\"data\":[[1690000000,1.5]]},{\"id\":\"s\",\"data\":[[1690000030,2.0]]}]},"
                "\"empty\":{\"unit\":\"\",\"values\":[{\"id\":\"empty-1\",\"data\":[]}]}},"
                "\"annotations\":{\"load_profile\":\"Loading 1 URL(s) for 5m\"}}",
                json_incref(json));
    struct servo_measurement *back = NULL;
    assert_int_equal(servo_measurement_from_json(json, &back, NULL), 0);
    assert_int_equal(back->reading_count, 4);
    assert_true(back->readings[0].scalar);
    assert_string_equal(back->readings[0].annotation, "from vegeta");
    assert_true(back->readings[0].points[0].time == 0); /* a data point's time is not sent */
    assert_false(back->readings[1].scalar);
    assert_int_equal(back->readings[3].point_count, 0);
    assert_int_equal(back->annotation_count, 1);
    assert_measurement_round_trip(json);
    servo_measurement_free(back);
    servo_measurement_free(m);
    json_decref(json);
}

/* Legacy measure drivers: series without ids, numbers as text, a metric-level annotation,
 * integer ids, annotations that are not text. */
static void test_measurement_legacy_shapes(void **state)
{
    (void)state;
    json_t *json =
        test_json("{\"status\":\"ok\",\"metrics\":{"
                  "\"a\":{\"values\":[{\"data\":[[1,\"1.5\"],[\"2\",\"NaN\"],[3,\"+Inf\"]]},"
                  "{\"id\":\"own\",\"data\":[],\"annotation\":\"mine\"}],"
                  "\"annotation\":\"legacy\"},"
                  "\"b\":{\"value\":\"-2\",\"unit\":null},"
                  "\"c\":{\"unit\":\"ms\",\"values\":[{\"id\":7,\"data\":[[1.25,3]]}]}},"
                  "\"annotations\":{\"n\":1,\"s\":\"x\",\"z\":null,\"o\":{\"k\":[1]}}}");
    struct servo_measurement *m = NULL;
    char *error = NULL;
    if (servo_measurement_from_json(json, &m, &error) != 0)
        fail_msg("%s", error);
    assert_int_equal(m->reading_count, 4);
    const struct servo_reading *a = &m->readings[0];
    assert_null(a->id);
    assert_string_equal(a->annotation, "legacy");
    assert_string_equal(a->unit, "");
    assert_true(a->points[0].value == 1.5);
    assert_true(a->points[1].time == 2 && isnan(a->points[1].value));
    assert_true(isinf(a->points[2].value));
    assert_string_equal(m->readings[1].annotation, "mine");
    assert_true(m->readings[2].scalar && m->readings[2].points[0].value == -2);
    assert_string_equal(m->readings[3].id, "7");
    assert_string_equal(m->readings[3].unit, "ms");
    assert_int_equal(m->annotation_count, 3);
    assert_string_equal(m->annotation_values[0], "1");
    assert_string_equal(m->annotation_values[1], "x");
    assert_string_equal(m->annotation_keys[2], "o");
    assert_string_equal(m->annotation_values[2], "{\"k\":[1]}");
    assert_dump("{\"metrics\":{\"a\":{\"unit\":\"\",\"values\":["
                "{\"id\":\"a-1\",\"data\":[[1,1.5],[2,\"NaN\"],[3,\"+Inf\"]],"
                "\"annotation\":\"legacy\"},"
                "{\"id\":\"own\",\"data\":[],\"annotation\":\"mine\"}]},"
                "\"b\":{\"unit\":\"\",\"value\":-2.0},"
                "\"c\":{\"unit\":\"ms\",\"values\":[{\"id\":\"7\",\"data\":[[1.25,3.0]]}]}},"
                "\"annotations\":{\"n\":\"1\",\"s\":\"x\",\"o\":\"{\\\"k\\\":[1]}\"}}",
                servo_measurement_to_json(m));
    servo_measurement_free(m);
    json_decref(json);
    /* the empty measurement of a servo without metrics */
    json = test_json("{\"metrics\":{},\"annotations\":{}}");
    assert_measurement_round_trip(json);
    json_decref(json);
}

static void test_measurement_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *error;
    } cases[] = {
        {"[]", "expected an object"},
        {"{\"metrics\":[]}", "metrics: expected an object"},
        {"{\"metrics\":{\"t\":1}}", "metrics.t: expected an object"},
        {"{\"metrics\":{\"t\":{\"unit\":\"rps\"}}}", "metrics.t: expected \"value\" or \"values\""},
        {"{\"metrics\":{\"t\":{\"values\":{}}}}", "metrics.t.values: expected an array"},
        {"{\"metrics\":{\"t\":{\"values\":[1]}}}", "metrics.t.values[0]: expected an object"},
        {"{\"metrics\":{\"t\":{\"values\":[{\"id\":\"x\"}]}}}",
         "metrics.t.values[0].data: expected an array of [time, value] pairs"},
        {"{\"metrics\":{\"t\":{\"values\":[{\"id\":\"x\",\"data\":[[1,2],[1]]}]}}}",
         "metrics.t.values[0].data[1]: expected a [time, value] pair"},
        {"{\"metrics\":{\"t\":{\"values\":[{\"id\":\"x\",\"data\":[[1,\"abc\"]]}]}}}",
         "metrics.t.values[0].data[0][1]: expected a number"},
        {"{\"metrics\":{\"t\":{\"values\":[{\"id\":\"x\",\"data\":[[null,1]]}]}}}",
         "metrics.t.values[0].data[0][0]: expected a number"},
        {"{\"metrics\":{\"t\":{\"values\":[{\"id\":true,\"data\":[]}]}}}",
         "metrics.t.values[0].id: expected a string"},
        {"{\"metrics\":{\"t\":{\"values\":[{\"data\":[],\"annotation\":1}]}}}",
         "metrics.t.values[0].annotation: expected a string"},
        {"{\"metrics\":{\"t\":{\"value\":true}}}", "metrics.t.value: expected a number"},
        {"{\"metrics\":{\"t\":{\"value\":\"1e999\"}}}", "metrics.t.value: expected a number"},
        {"{\"metrics\":{\"t\":{\"unit\":1,\"value\":1}}}", "metrics.t.unit: expected a string"},
        {"{\"metrics\":{},\"annotations\":[]}", "annotations: expected an object"},
    };
    for (size_t i = 0; i < COUNT(cases); i++)
        assert_measurement_error(cases[i].json, cases[i].error);
}

static void test_measurement_merge_annotate(void **state)
{
    (void)state;
    struct servo_measurement *into = servo_measurement_new();
    servo_measurement_point(into, "a", "rpm", 1, 1);
    servo_measurement_annotate(into, "k", "v1");
    servo_measurement_annotate(into, "k", "v2");
    assert_int_equal(into->annotation_count, 1);
    assert_string_equal(into->annotation_values[0], "v2");
    struct servo_measurement *from = servo_measurement_new();
    servo_reading_add(servo_measurement_series(from, "b", "ms", "id"), 2, 3);
    servo_measurement_point(from, "a", "rpm", 4, 5);
    servo_measurement_annotate(from, "k", "v3");
    servo_measurement_annotate(from, "j", "w");
    for (size_t i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "key%zu", i);
        servo_measurement_annotate(from, key, key);
    }
    servo_measurement_merge(into, from);
    servo_measurement_merge(into, into);
    servo_measurement_merge(into, NULL);
    assert_int_equal(from->reading_count, 0);
    assert_int_equal(from->annotation_count, 0);
    assert_int_equal(into->reading_count, 3);
    assert_string_equal(into->readings[1].metric, "b");
    assert_string_equal(into->readings[1].id, "id");
    assert_int_equal(into->annotation_count, 12);
    assert_string_equal(into->annotation_values[0], "v3");
    assert_string_equal(into->annotation_keys[11], "key9");
    /* two readings of "a" now: both sent as series */
    json_t *json = servo_measurement_to_json(into);
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(json_object_get(json, "metrics"), "a"), "values")),
                     2);
    json_decref(json);
    servo_reading_set_annotation(&into->readings[0], "note");
    servo_reading_set_annotation(&into->readings[0], NULL);
    assert_null(into->readings[0].annotation);
    servo_measurement_free(from);
    servo_measurement_free(into);
    servo_measurement_free(NULL);
}

/* ---- adjustments ------------------------------------------------------------------------ */

static void test_adjust_state_decoding(void **state)
{
    (void)state;
    json_t *json = test_json("{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"value\":0.5},"
                             "\"POLICY\":{\"value\":\"fast\"},\"skip\":{\"value\":null},"
                             "\"none\":{\"type\":\"range\"}}},\"db\":{}}}");
    struct servo_adjustments a = {0};
    char *error = NULL;
    if (servo_adjustments_from_state(json, &a, &error) != 0)
        fail_msg("%s", error);
    assert_int_equal(a.count, 2);
    assert_string_equal(a.items[0].component, "web");
    assert_string_equal(a.items[0].setting, "cpu");
    assert_true(a.items[0].value == 0.5);
    assert_true(a.items[1].is_text);
    assert_string_equal(a.items[1].text, "fast");
    json_decref(json);

    static const struct {
        const char *json;
        const char *error;
    } cases[] = {
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"cpu\":{\"value\":1},"
         "\"on\":{\"value\":true}}}}}}",
         "application.components.web.settings.on.value: expected a number or a string"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":{\"value\":[1]}}}}}}",
         "application.components.web.settings.x.value: expected a number or a string"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":{\"x\":1}}}}}",
         "application.components.web.settings.x: expected an object"},
        {"{\"application\":{\"components\":{\"web\":{\"settings\":[]}}}}",
         "application.components.web.settings: expected an object"},
        {"{\"application\":{\"components\":{\"web\":\"x\"}}}",
         "application.components.web: expected an object"},
        {"{\"application\":{\"components\":1}}", "application.components: expected an object"},
        {"{\"application\":1}", "application: expected an object"},
        {"{\"measurement\":{}}", "expected \"application\" or \"components\""},
        {"null", "expected an object"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json = test_json(cases[i].json);
        error = NULL;
        assert_int_equal(servo_adjustments_from_state(json, &a, &error), -1);
        assert_string_equal(error, cases[i].error);
        assert_int_equal(a.count, 2); /* nothing added by a failed decoding */
        free(error);
        json_decref(json);
    }
    servo_adjustments_clear(&a);
    assert_int_equal(a.count, 0);
    assert_null(a.items);
}

static void test_adjustments_to_state(void **state)
{
    (void)state;
    struct servo_adjustments a = {0};
    servo_adjustments_add(&a, "web", "cpu", 1.5);
    servo_adjustments_add(&a, "web", "mem", 3);
    servo_adjustments_add(&a, "web", "replicas", 3);
    a.items[2].integer = true;
    servo_adjustments_add_text(&a, "db", "MODE", "fast");
    servo_adjustments_add(&a, "db", "odd", NAN);
    assert_dump("{\"application\":{\"components\":{\"web\":{\"settings\":{"
                "\"cpu\":{\"value\":1.5},\"mem\":{\"value\":3.0},\"replicas\":{\"value\":3}}},"
                "\"db\":{\"settings\":{\"MODE\":{\"value\":\"fast\"},"
                "\"odd\":{\"value\":\"NaN\"}}}}}}",
                servo_adjustments_to_state(&a));
    servo_adjustments_clear(&a);
    struct servo_adjustments empty = {0};
    assert_dump("{\"application\":{\"components\":{}}}", servo_adjustments_to_state(&empty));
}

static void test_adjustment_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *component;
        const char *setting;
        const char *text_value; /* NULL: numeric */
        double value;
        bool integer;
    } accepted[] = {
        {"a.b=1", "a", "b", NULL, 1, true},
        {"a.b=x", "a", "b", "x", 0, false},
        {"web.mem=512", "web", "mem", NULL, 512, true},
        {"web.cpu=1.5", "web", "cpu", NULL, 1.5, false},
        {"web.cpu=-0.25", "web", "cpu", NULL, -0.25, false},
        {"web.cpu=1e3", "web", "cpu", NULL, 1000, false},
        {"my.app.cpu=1", "my.app", "cpu", NULL, 1, true},
        {"a.b=x=y", "a", "b", "x=y", 0, false},
        {"a.b=1.2.3", "a", "b", "1.2.3", 0, false},
        {"a.b=inf", "a", "b", "inf", 0, false},
        {"a.b= 1", "a", "b", " 1", 0, false},
        {"a.b=256Mi", "a", "b", "256Mi", 0, false},
    };
    struct servo_adjustments a = {0};
    for (size_t i = 0; i < COUNT(accepted); i++) {
        char *error = NULL;
        if (servo_adjustment_parse(accepted[i].text, &a, &error) != 0)
            fail_msg("%s: %s", accepted[i].text, error);
        const struct servo_adjustment *adj = &a.items[a.count - 1];
        assert_string_equal(adj->component, accepted[i].component);
        assert_string_equal(adj->setting, accepted[i].setting);
        if (accepted[i].text_value != NULL) {
            assert_true(adj->is_text);
            assert_string_equal(adj->text, accepted[i].text_value);
        } else {
            assert_false(adj->is_text);
            assert_true(adj->value == accepted[i].value);
            assert_int_equal(adj->integer, accepted[i].integer);
        }
    }
    assert_int_equal(a.count, COUNT(accepted));
    static const char *const rejected[] = {"ab=1", "=1",  "a.=1", ".b=1",
                                           "a.b=", "a.b", "",     "a=b.c"};
    for (size_t i = 0; i < COUNT(rejected); i++) {
        char *error = NULL;
        assert_int_equal(servo_adjustment_parse(rejected[i], &a, &error), -1);
        char expected[128];
        snprintf(expected, sizeof expected,
                 "unable to parse setting descriptor '%s': expected format is "
                 "`component.setting=value`",
                 rejected[i]);
        assert_string_equal(error, expected);
        free(error);
    }
    assert_int_equal(servo_adjustment_parse("ab=1", &a, NULL), -1);
    assert_int_equal(a.count, COUNT(accepted));
    servo_adjustments_clear(&a);
}

/* ---- control ---------------------------------------------------------------------------- */

static void test_control_durations(void **state)
{
    (void)state;
    struct servo_control c;
    decode_control("{\"duration\":\"5m\",\"delay\":1.5,\"warmup\":\"30s\",\"settlement\":"
                   "\"1m30s\",\"load\":{\"rate\":5},\"environment\":{\"mode\":\"x\"},"
                   "\"userdata\":{\"note\":\"hi\"},\"extra\":1}",
                   &c);
    assert_int_equal(c.duration, 5 * SERVO_MINUTE);
    assert_int_equal(c.delay, 1500 * SERVO_MILLISECOND);
    assert_int_equal(c.warmup, 30 * SERVO_SECOND);
    assert_int_equal(c.settlement, 90 * SERVO_SECOND);
    assert_int_equal(json_integer_value(json_object_get(c.load, "rate")), 5);
    assert_string_equal(json_string_value(json_object_get(c.environment, "mode")), "x");
    assert_int_equal(c.slo_count, 0);
    assert_dump("{\"duration\":300.0,\"delay\":1.5,\"warmup\":30.0,\"settlement\":90.0,"
                "\"load\":{\"rate\":5},\"userdata\":{\"note\":\"hi\"},"
                "\"environment\":{\"mode\":\"x\"}}",
                servo_control_to_json(&c));
    servo_control_free(&c);
    servo_control_free(&c); /* leaves it initialized */

    decode_control("{\"duration\":0.25,\"delay\":null,\"warmup\":\"\",\"settlement\":0,"
                   "\"load\":null,\"userdata\":null,\"environment\":null}",
                   &c);
    assert_int_equal(c.duration, 250 * SERVO_MILLISECOND);
    assert_int_equal(c.delay, 0);
    assert_int_equal(c.warmup, 0);
    assert_int_equal(c.settlement, 0);
    assert_null(c.load);
    assert_dump("{\"duration\":0.25,\"delay\":0.0,\"warmup\":0.0,\"settlement\":0.0}",
                servo_control_to_json(&c));
    servo_control_free(&c);

    assert_int_equal(servo_control_from_json(NULL, &c, NULL), 0);
    assert_int_equal(c.settlement, SERVO_UNSET);
    assert_dump("{\"duration\":0.0,\"delay\":0.0,\"warmup\":0.0}", servo_control_to_json(&c));
    decode_control("null", &c);
    assert_int_equal(c.duration, 0);
    decode_control("{}", &c);
    assert_int_equal(c.settlement, SERVO_UNSET);
    servo_control_init(&c);
    assert_int_equal(c.settlement, SERVO_UNSET);
}

static void test_control_past_alias(void **state)
{
    (void)state;
    struct servo_control c;
    decode_control("{\"past\":123}", &c);
    assert_int_equal(c.delay, 123 * SERVO_SECOND);
    decode_control("{\"past\":\"2m3s\",\"delay\":123}", &c);
    assert_int_equal(c.delay, 123 * SERVO_SECOND);
    decode_control("{\"past\":null}", &c);
    assert_int_equal(c.delay, 0);
    assert_control_error("{\"past\":1,\"delay\":2}", "past and delay attributes must be equal");
    assert_control_error("{\"delay\":5,\"past\":null}", "past and delay attributes must be equal");
}

static void test_control_errors(void **state)
{
    (void)state;
    assert_control_error("[]", "expected an object");
    assert_control_error("{\"duration\":true}",
                         "duration: expected a number of seconds or a duration string");
    assert_control_error("{\"warmup\":[1]}",
                         "warmup: expected a number of seconds or a duration string");
    assert_control_error("{\"settlement\":1e300}", "settlement: invalid duration: out of range");
    assert_control_error("{\"past\":{}}",
                         "past: expected a number of seconds or a duration string");
    assert_control_error("{\"load\":[]}", "load: expected an object");
    assert_control_error("{\"userdata\":1}", "userdata: expected an object");
    assert_control_error("{\"environment\":\"prod\"}", "environment: expected an object");
    json_t *json = test_json("{\"duration\":\"5 minutes\"}");
    struct servo_control c;
    char *error = NULL;
    assert_int_equal(servo_control_from_json(json, &c, &error), -1);
    assert_true(strncmp(error, "duration: invalid duration \"5 minutes\": ", 40) == 0);
    free(error);
    json_decref(json);
}

static void test_slo_conditions(void **state)
{
    (void)state;
    struct servo_control c;
    decode_control(
        "{\"userdata\":{\"other\":1,\"slo\":{\"conditions\":["
        "{\"metric\":\"p90\",\"threshold\":500},"
        "{\"description\":\"errors\",\"metric\":\"error_rate\",\"threshold\":\"0.5\","
        "\"keep\":\"above\",\"trigger_count\":2,\"trigger_window\":3.0,"
        "\"threshold_multiplier\":2,\"slo_metric_minimum\":1,\"slo_threshold_minimum\":\"0.5\"},"
        "{\"metric\":\"p50\",\"threshold_metric\":\"p50_baseline\",\"trigger_count\":4,"
        "\"threshold\":null},"
        "{\"metric\":\"p90\",\"threshold\":500,\"description\":\"other\"}]}}}",
        &c);
    assert_int_equal(c.slo_count, 4);
    const struct servo_slo_condition *s = &c.slo[0];
    assert_null(s->description);
    assert_string_equal(s->metric, "p90");
    assert_true(s->threshold == 500);
    assert_null(s->threshold_metric);
    assert_true(s->threshold_multiplier == 1);
    assert_false(s->keep_above);
    assert_int_equal(s->trigger_count, 1);
    assert_int_equal(s->trigger_window, 1);
    assert_true(s->slo_metric_minimum == 0.25);
    assert_true(s->slo_threshold_minimum == 0.25);
    s = &c.slo[1];
    assert_string_equal(s->description, "errors");
    assert_true(s->threshold == 0.5);
    assert_true(s->keep_above);
    assert_int_equal(s->trigger_count, 2);
    assert_int_equal(s->trigger_window, 3);
    assert_true(s->threshold_multiplier == 2);
    assert_true(s->slo_metric_minimum == 1);
    assert_true(s->slo_threshold_minimum == 0.5);
    s = &c.slo[2];
    assert_true(isnan(s->threshold));
    assert_string_equal(s->threshold_metric, "p50_baseline");
    assert_int_equal(s->trigger_window, 4);

    struct servo_control copy;
    servo_control_copy(&copy, &c);
    json_t *original = servo_control_to_json(&c);
    servo_control_free(&c);
    assert_int_equal(copy.slo_count, 4);
    assert_string_equal(copy.slo[2].threshold_metric, "p50_baseline");
    assert_string_equal(copy.slo[1].description, "errors");
    json_t *copied = servo_control_to_json(&copy);
    assert_json_equal(original, copied);
    json_decref(original);
    json_decref(copied);
    servo_control_free(&copy);

    decode_control("{\"userdata\":{\"slo\":null}}", &c);
    assert_int_equal(c.slo_count, 0);
    servo_control_copy(&copy, &c);
    assert_null(copy.slo);
    servo_control_free(&copy);
    servo_control_free(&c);
}

static void test_slo_condition_errors(void **state)
{
    (void)state;
    static const struct {
        const char *conditions;
        const char *error;
    } cases[] = {
        {"[{\"metric\":\"p90\",\"threshold\":1,\"threshold_metric\":\"x\"}]",
         "userdata.slo.conditions[0]: SLO Condition cannot specify both threshold and "
         "threshold_metric"},
        {"[{\"metric\":\"p90\"}]",
         "userdata.slo.conditions[0]: SLO Condition must specify either threshold or "
         "threshold_metric"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"trigger_count\":0}]",
         "userdata.slo.conditions[0].trigger_count: must be greater than or equal to 1"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"trigger_count\":1.5}]",
         "userdata.slo.conditions[0].trigger_count: expected an integer"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"trigger_window\":\"2\"}]",
         "userdata.slo.conditions[0].trigger_window: expected an integer"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"trigger_window\":0}]",
         "userdata.slo.conditions[0].trigger_window: must be greater than or equal to 1"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"trigger_count\":3,\"trigger_window\":2}]",
         "userdata.slo.conditions[0]: trigger_count cannot be greater than trigger_window "
         "(3 > 2)"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"keep\":\"sideways\"}]",
         "userdata.slo.conditions[0].keep: expected \"below\" or \"above\""},
        {"[{\"metric\":\"p90\",\"threshold\":\"lots\"}]",
         "userdata.slo.conditions[0].threshold: expected a number"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"threshold_multiplier\":[]}]",
         "userdata.slo.conditions[0].threshold_multiplier: expected a number"},
        {"[{\"metric\":5,\"threshold\":1}]",
         "userdata.slo.conditions[0].metric: expected a string"},
        {"[{\"metric\":\"p90\",\"threshold\":1},{\"threshold\":1}]",
         "userdata.slo.conditions[1].metric: field required"},
        {"[{\"metric\":\"p90\",\"threshold\":1,\"bogus\":1}]",
         "userdata.slo.conditions[0].bogus: unknown field"},
        {"[1]", "userdata.slo.conditions[0]: expected an object"},
        {"{}", "userdata.slo.conditions: expected an array"},
        {"[{\"metric\":\"p90\",\"threshold\":500},{\"metric\":\"p90\",\"threshold\":500.0},"
         "{\"metric\":\"p90\",\"threshold\":500},{\"metric\":\"p50\",\"threshold_metric\":\"b\"},"
         "{\"metric\":\"p50\",\"threshold_metric\":\"b\"}]",
         "userdata.slo.conditions: Slo conditions must be unique. Redundant conditions found: "
         "(p90 below 500), (p50 below b)"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"userdata\":{\"slo\":{\"conditions\":%s}}}",
                 cases[i].conditions);
        assert_control_error(text, cases[i].error);
    }
    assert_control_error("{\"userdata\":{\"slo\":[]}}", "userdata.slo: expected an object");
    assert_control_error("{\"userdata\":{\"slo\":{\"conditions\":[],\"extra\":1}}}",
                         "userdata.slo.extra: unknown field");
}

/* ---- wire helpers (src/types/wire.c) ---------------------------------------------------- */

static void test_wire_numbers(void **state)
{
    (void)state;
    static const struct {
        double value;
        const char *real;
        const char *number;
    } formats[] = {
        {2, "2.0", "2"},
        {0.1, "0.1", "0.1"},
        {-0.5, "-0.5", "-0.5"},
        {1e300, "1e+300", "1e+300"},
        {1.0 / 3, "0.3333333333333333", "0.3333333333333333"},
        {NAN, "NaN", "NaN"},
        {-INFINITY, "-Inf", "-Inf"},
    };
    for (size_t i = 0; i < COUNT(formats); i++) {
        char *real = wire_format_real(formats[i].value);
        char *number = wire_format_number(formats[i].value);
        assert_string_equal(real, formats[i].real);
        assert_string_equal(number, formats[i].number);
        free(real);
        free(number);
    }
    static const char *const decimals[] = {"1", "-2.5", "+3", ".5", "5.", "1e3", "1E-3"};
    for (size_t i = 0; i < COUNT(decimals); i++) {
        double v = 0;
        assert_true(wire_parse_decimal(decimals[i], &v, NULL));
    }
    static const char *const not_decimals[] = {"",    " 1",  "1 ", "0x10", "1e",  "1e999",
                                               "inf", "nan", ".",  "-",    "1,5", "e3"};
    for (size_t i = 0; i < COUNT(not_decimals); i++) {
        double v = 0;
        if (wire_parse_decimal(not_decimals[i], &v, NULL))
            fail_msg("accepted \"%s\"", not_decimals[i]);
    }
    double v = 0;
    bool integer = false;
    assert_true(wire_parse_decimal("-12", &v, &integer) && integer && v == -12);
    assert_true(wire_parse_decimal("12.0", &v, &integer) && !integer);
    assert_true(wire_parse_number_text("+Inf", &v) && isinf(v) && v > 0);
    assert_true(wire_parse_number_text("-inf", &v) && isinf(v) && v < 0);
    assert_true(wire_parse_number_text("NaN", &v) && isnan(v));
    assert_true(wire_parse_number_text("Infinity", &v) && isinf(v));
    assert_false(wire_parse_number_text("lots", &v));
    assert_dump("[1,1.5,1.0,9007199254740992,18014398509481984.0,\"+Inf\",2.0]",
                json_pack("[ooooooo]", wire_number(1, true), wire_number(1.5, true),
                          wire_number(1, false), wire_number(9007199254740992.0, true),
                          wire_number(18014398509481984.0, true), wire_number(INFINITY, true),
                          wire_number(2, false)));
    /* invalid UTF-8 from a builder still encodes */
    struct servo_measurement *m = servo_measurement_new();
    servo_measurement_point(m, "bad\xff", "\xc3", 0, 1);
    servo_measurement_annotate(m, "k\xfe", "v\x80");
    assert_dump("{\"metrics\":{\"bad?\":{\"unit\":\"?\",\"value\":1.0}},"
                "\"annotations\":{\"k?\":\"v?\"}}",
                servo_measurement_to_json(m));
    servo_measurement_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_descriptor),
        cmocka_unit_test(test_reference_measurement),
        cmocka_unit_test(test_reference_adjust_state),
        cmocka_unit_test(test_reference_measure_control),
        cmocka_unit_test(test_fixture_descriptions),
        cmocka_unit_test(test_fixture_measurements),
        cmocka_unit_test(test_fixture_commands),
        cmocka_unit_test(test_fixture_adjust_values),
        cmocka_unit_test(test_setting_wire_shapes),
        cmocka_unit_test(test_setting_decoding),
        cmocka_unit_test(test_description_forms),
        cmocka_unit_test(test_description_errors),
        cmocka_unit_test(test_description_builders),
        cmocka_unit_test(test_description_merge_copy),
        cmocka_unit_test(test_measurement_series_of_one_metric),
        cmocka_unit_test(test_measurement_nonfinite),
        cmocka_unit_test(test_measurement_scalar_and_series),
        cmocka_unit_test(test_measurement_legacy_shapes),
        cmocka_unit_test(test_measurement_errors),
        cmocka_unit_test(test_measurement_merge_annotate),
        cmocka_unit_test(test_adjust_state_decoding),
        cmocka_unit_test(test_adjustments_to_state),
        cmocka_unit_test(test_adjustment_parse),
        cmocka_unit_test(test_control_durations),
        cmocka_unit_test(test_control_past_alias),
        cmocka_unit_test(test_control_errors),
        cmocka_unit_test(test_slo_conditions),
        cmocka_unit_test(test_slo_condition_errors),
        cmocka_unit_test(test_wire_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
