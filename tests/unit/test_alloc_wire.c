// SPDX-License-Identifier: Apache-2.0
/* Forced allocation failures (alloc_fail.h) over the wire model (src/types/model.c, control.c,
 * wire.c): recorded protocol messages (tests/fixtures/servox/stub) parsed from their text,
 * decoded into the model (a description, a measurement, a MEASURE control, an ADJUST state),
 * copied, and encoded back. Every run whose Nth allocation fails must end in a clean error; the
 * last one must give the normal result: the same encoding as a run without failure. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc_fail.h"
#include "servo/model.h"
#include "util/util.h"

#define STUB(name) SERVO_FIXTURES "/servox/stub/" name

struct wire_case {
    char *text;       /* the message's body as sent */
    const char *path; /* where the part to decode is in it: "param", "param.state" ... */
    json_t *(*round)(const json_t *json, char **error); /* decode, then encode */
    char *expected;                                     /* the encoding of a run without failure */
    bool recording;
};

static json_t *description_round(const json_t *json, char **error)
{
    struct servo_description *d = NULL;
    if (servo_description_from_json(json, &d, error) != 0)
        return NULL;
    struct servo_description *copy = servo_description_copy(d);
    servo_description_free(d);
    json_t *encoded = servo_description_to_json(copy);
    servo_description_free(copy);
    return encoded;
}

static json_t *measurement_round(const json_t *json, char **error)
{
    struct servo_measurement *m = NULL;
    if (servo_measurement_from_json(json, &m, error) != 0)
        return NULL;
    struct servo_measurement *into = servo_measurement_new();
    servo_measurement_merge(into, m);
    servo_measurement_free(m);
    json_t *encoded = servo_measurement_to_json(into);
    servo_measurement_free(into);
    return encoded;
}

static json_t *control_round(const json_t *json, char **error)
{
    struct servo_control c;
    if (servo_control_from_json(json, &c, error) != 0)
        return NULL;
    struct servo_control copy;
    servo_control_copy(&copy, &c);
    servo_control_free(&c);
    json_t *encoded = servo_control_to_json(&copy);
    servo_control_free(&copy);
    return encoded;
}

static json_t *state_round(const json_t *json, char **error)
{
    struct servo_adjustments a = {0};
    json_t *encoded = NULL;
    if (servo_adjustments_from_state(json, &a, error) == 0)
        encoded = servo_adjustments_to_state(&a);
    servo_adjustments_clear(&a);
    return encoded;
}

/* The member at a dotted path. */
static const json_t *dig(const json_t *json, const char *path)
{
    char key[64];
    while (json != NULL && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        json = json_object_get(json, key);
        path += n + (path[n] == '.');
    }
    return json;
}

static int wire_op(void *context, char *why, size_t size)
{
    struct wire_case *c = context;
    json_error_t json_error;
    json_t *message = json_loads(c->text, 0, &json_error);
    if (message == NULL) {
        snprintf(why, size, "%s", json_error.text);
        return -1;
    }
    char *error = NULL;
    json_t *encoded = c->round(dig(message, c->path), &error);
    json_decref(message);
    if (encoded == NULL) {
        snprintf(why, size, "%s", error != NULL ? error : "");
        free(error);
        return -1;
    }
    char *text = json_dumps(encoded, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(encoded);
    if (c->recording)
        c->expected = xstrdup(text);
    int rc = strcmp(text, c->expected) == 0 ? 0 : 1;
    if (rc != 0)
        snprintf(why, size, "encoded differently: %.300s", text);
    free(text);
    return rc;
}

/* The body of a recorded exchange: its request or its response. */
static char *recorded_body(const char *fixture, const char *which)
{
    char *data = NULL, *error = NULL;
    size_t size = 0;
    if (read_file(fixture, 1 << 20, &data, &size, &error) != 0)
        fail_msg("%s", error);
    json_t *exchange = json_loads(data, 0, NULL);
    free(data);
    const char *body = json_string_value(json_object_get(exchange, which));
    if (body == NULL)
        fail_msg("%s has no %s", fixture, which);
    char *copy = xstrdup(body);
    json_decref(exchange);
    return copy;
}

static void torture(const char *name, const char *fixture, const char *which, const char *path,
                    json_t *(*round)(const json_t *json, char **error), const char *must_hold)
{
    struct wire_case c = {.text = recorded_body(fixture, which), .path = path, .round = round};
    char why[512] = "";
    c.recording = true;
    if (wire_op(&c, why, sizeof why) != 0)
        fail_msg("%s: the reference run failed: %s", name, why);
    c.recording = false;
    if (strstr(c.expected, must_hold) == NULL)
        fail_msg("%s: the encoding lacks %s: %s", name, must_hold, c.expected);
    struct torture_stats stats;
    alloc_torture(name, wire_op, &c, &stats);
    free(c.expected);
    free(c.text);
}

static void test_description(void **state)
{
    (void)state;
    torture("description", STUB("02-DESCRIPTION.json"), "request_body_raw", "param.descriptor",
            description_round, "\"step\":0.125");
}

static void test_measurement(void **state)
{
    (void)state;
    torture("measurement", STUB("06-MEASUREMENT.json"), "request_body_raw", "param",
            measurement_round, "[1704067260,22.0]");
}

static void test_control(void **state)
{
    (void)state;
    torture("measure control", STUB("03-WHATS_NEXT.json"), "response_body_raw", "param.control",
            control_round, "\"duration\":3");
}

static void test_adjust_state(void **state)
{
    (void)state;
    torture("adjust state", STUB("07-WHATS_NEXT.json"), "response_body_raw", "param.state",
            state_round, "\"replicas\":{\"value\":3}");
}

int main(int argc, char **argv)
{
    alloc_fail_install();
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_description),
        cmocka_unit_test(test_measurement),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_adjust_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
