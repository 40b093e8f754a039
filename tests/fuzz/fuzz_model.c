/* libFuzzer target for the data model's JSON codecs. The input is parsed as JSON and given to
 * every decoder (description, measurement, adjust state, control), as a whole and member by
 * member. Whatever decodes is encoded, decoded and encoded again: the second encoding must
 * equal the first (encode∘decode is a fixpoint after one round), and the copies and merges
 * must encode the same. The input as text also goes through servo_adjustment_parse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "servo/model.h"

/* Decodes `json` and returns its encoding, or NULL when it does not decode. */
typedef json_t *(*codec_round)(const json_t *json);

static void crash(const char *what, const json_t *first, const json_t *second)
{
    char *a = json_dumps(first, JSON_COMPACT | JSON_ENCODE_ANY);
    char *b = second != NULL ? json_dumps(second, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fprintf(stderr, "%s\n first: %s\nsecond: %s\n", what, a, b != NULL ? b : "(did not decode)");
    free(a);
    free(b);
    abort();
}

static void expect_equal(const char *what, const json_t *first, const json_t *second)
{
    if (second == NULL || !json_equal(first, second))
        crash(what, first, second);
}

static json_t *description_round(const json_t *json)
{
    struct servo_description *d = NULL;
    char *error = NULL;
    if (servo_description_from_json(json, &d, &error) != 0) {
        if (error == NULL)
            abort();
        free(error);
        return NULL;
    }
    json_t *encoded = servo_description_to_json(d);
    /* a copy, and the components alone, say the same */
    struct servo_description *copy = servo_description_copy(d);
    json_t *copied = servo_description_to_json(copy);
    expect_equal("description copy", encoded, copied);
    json_t *components = servo_components_to_json(d);
    struct servo_description *again = NULL;
    if (servo_description_from_json(components, &again, NULL) != 0)
        crash("components do not decode", components, NULL);
    json_t *components_again = servo_components_to_json(again);
    expect_equal("components", components, components_again);
    json_decref(components_again);
    servo_description_free(again);
    json_decref(components);
    json_decref(copied);
    servo_description_free(copy);
    servo_description_free(d);
    return encoded;
}

static json_t *measurement_round(const json_t *json)
{
    struct servo_measurement *m = NULL;
    char *error = NULL;
    if (servo_measurement_from_json(json, &m, &error) != 0) {
        if (error == NULL)
            abort();
        free(error);
        return NULL;
    }
    json_t *encoded = servo_measurement_to_json(m);
    /* moved into an empty measurement, it encodes the same */
    struct servo_measurement *into = servo_measurement_new();
    servo_measurement_merge(into, m);
    json_t *merged = servo_measurement_to_json(into);
    expect_equal("measurement merge", encoded, merged);
    json_decref(merged);
    servo_measurement_free(into);
    servo_measurement_free(m);
    return encoded;
}

static json_t *state_round(const json_t *json)
{
    struct servo_adjustments a = {0};
    char *error = NULL;
    if (servo_adjustments_from_state(json, &a, &error) != 0) {
        if (error == NULL || a.count != 0)
            abort();
        free(error);
        servo_adjustments_clear(&a);
        return NULL;
    }
    json_t *encoded = servo_adjustments_to_state(&a);
    servo_adjustments_clear(&a);
    return encoded;
}

static json_t *control_round(const json_t *json)
{
    struct servo_control c;
    char *error = NULL;
    if (servo_control_from_json(json, &c, &error) != 0) {
        if (error == NULL || c.userdata != NULL || c.slo != NULL)
            abort();
        free(error);
        return NULL;
    }
    json_t *encoded = servo_control_to_json(&c);
    struct servo_control copy;
    servo_control_copy(&copy, &c);
    servo_control_free(&c);
    json_t *copied = servo_control_to_json(&copy);
    expect_equal("control copy", encoded, copied);
    json_decref(copied);
    servo_control_free(&copy);
    return encoded;
}

static void check_fixpoint(const char *what, codec_round round, const json_t *json)
{
    json_t *first = round(json);
    if (first == NULL)
        return;
    json_t *second = round(first);
    expect_equal(what, first, second);
    json_decref(second);
    json_decref(first);
}

static void check_all(const json_t *json)
{
    check_fixpoint("description", description_round, json);
    check_fixpoint("measurement", measurement_round, json);
    check_fixpoint("adjust state", state_round, json);
    check_fixpoint("control", control_round, json);
}

/* "component.setting=value" from the command line: what parses round-trips as a state. */
static void check_adjustment_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    struct servo_adjustments a = {0};
    char *error = NULL;
    if (servo_adjustment_parse(text, &a, &error) == 0) {
        if (a.count != 1)
            abort();
        json_t *state = servo_adjustments_to_state(&a);
        check_fixpoint("parsed adjustment", state_round, state);
        json_decref(state);
    } else if (error == NULL || a.count != 0) {
        abort();
    }
    free(error);
    servo_adjustments_clear(&a);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_adjustment_text(data, size);
    json_error_t error;
    json_t *json = json_loadb((const char *)data, size, JSON_DECODE_ANY, &error);
    if (json == NULL)
        return 0;
    check_all(json);
    /* members too: whole protocol bodies ({"event","param"}, {"cmd","param"}) reach the parts */
    const char *key;
    json_t *value;
    json_object_foreach(json, key, value)
    {
        check_all(value);
        json_t *inner;
        const char *inner_key;
        json_object_foreach(value, inner_key, inner) check_all(inner);
    }
    json_decref(json);
    return 0;
}
