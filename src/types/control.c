/* Control: the optimizer's parameters of an operation (durations, load, userdata with SLO
 * conditions, environment), decoded as ServoX's Control and SloCondition models decode them.
 *
 * servo_control_from_json and servo_control_copy initialize their target (they do not free
 * what it held); servo_control_free leaves it initialized. */
#include "servo/model.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "types/wire.h"
#include "util/util.h"

void servo_control_init(struct servo_control *c)
{
    memset(c, 0, sizeof *c);
    c->settlement = SERVO_UNSET;
}

static void slo_condition_release(struct servo_slo_condition *s)
{
    free(s->description);
    free(s->metric);
    free(s->threshold_metric);
}

void servo_control_free(struct servo_control *c)
{
    json_decref(c->load);
    json_decref(c->userdata);
    json_decref(c->environment);
    for (size_t i = 0; i < c->slo_count; i++)
        slo_condition_release(&c->slo[i]);
    free(c->slo);
    servo_control_init(c);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

void servo_control_copy(struct servo_control *to, const struct servo_control *from)
{
    *to = *from;
    to->load = json_deep_copy(from->load);
    to->userdata = json_deep_copy(from->userdata);
    to->environment = json_deep_copy(from->environment);
    to->slo = from->slo_count > 0 ? xcalloc(from->slo_count, sizeof *to->slo) : NULL;
    for (size_t i = 0; i < from->slo_count; i++) {
        to->slo[i] = from->slo[i];
        to->slo[i].description = dup_or_null(from->slo[i].description);
        to->slo[i].metric = xstrdup(from->slo[i].metric);
        to->slo[i].threshold_metric = dup_or_null(from->slo[i].threshold_metric);
    }
}

/* ---- decoding helpers ------------------------------------------------------------------- */

typedef int (*member_decoder)(struct wire_path *p, const json_t *json, void *target);

static int decode_member(struct wire_path *p, const json_t *obj, const char *key,
                         member_decoder decode, void *target)
{
    size_t mark = wire_path_key(p, key);
    int rc = decode(p, json_object_get(obj, key), target);
    wire_path_pop(p, mark);
    return rc;
}

/* Seconds (a number) or a duration string; absent, null, 0 and "" leave the default, as
 * ServoX's `value or Duration(0)`. */
static int decode_duration(struct wire_path *p, const json_t *json, void *target)
{
    servo_duration *out = target;
    const char *why = NULL;
    if (wire_is_absent(json))
        return 0;
    if (json_is_number(json)) {
        if (servo_duration_from_seconds(json_number_value(json), out, &why) != 0)
            return wire_fail(p, "invalid duration: %s", why);
        return 0;
    }
    if (!json_is_string(json))
        return wire_fail(p, "expected a number of seconds or a duration string");
    const char *text = json_string_value(json);
    if (text[0] == '\0') {
        *out = 0;
        return 0;
    }
    if (servo_duration_parse(text, out, &why) != 0) {
        struct strbuf quoted;
        strbuf_init(&quoted);
        strbuf_quote(&quoted, text, 64);
        wire_fail(p, "invalid duration %s: %s", quoted.data, why != NULL ? why : "unknown");
        strbuf_release(&quoted);
        return -1;
    }
    return 0;
}

/* An object (deep-copied) or null. */
static int decode_object(struct wire_path *p, const json_t *json, void *target)
{
    json_t **out = target;
    if (wire_is_absent(json))
        return 0;
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    *out = json_deep_copy(json);
    return 0;
}

static int decode_optional_string(struct wire_path *p, const json_t *json, void *target)
{
    char **out = target;
    if (wire_is_absent(json))
        return 0;
    if (!json_is_string(json))
        return wire_fail(p, "expected a string");
    *out = xstrdup(json_string_value(json));
    return 0;
}

/* A finite number, or its decimal text (pydantic's Decimal and float accept both). */
static int decode_real(struct wire_path *p, const json_t *json, void *target)
{
    double *out = target;
    if (wire_is_absent(json))
        return 0;
    if (json_is_number(json)) {
        *out = json_number_value(json);
        return 0;
    }
    if (json_is_string(json) && wire_parse_decimal(json_string_value(json), out, NULL))
        return 0;
    return wire_fail(p, "expected a number");
}

/* A whole number >= 1 (a JSON integer, or a whole real); absent or null leaves the default. */
static int decode_trigger(struct wire_path *p, const json_t *json, void *target)
{
    int *out = target;
    if (wire_is_absent(json))
        return 0;
    double value = json_number_value(json);
    if (!json_is_number(json) || value != floor(value))
        return wire_fail(p, "expected an integer");
    if (value < 1)
        return wire_fail(p, "must be greater than or equal to 1");
    if (value > INT_MAX)
        return wire_fail(p, "must be at most %d", INT_MAX);
    *out = (int)value;
    return 0;
}

static int decode_keep(struct wire_path *p, const json_t *json, void *target)
{
    bool *above = target;
    if (wire_is_absent(json))
        return 0;
    const char *text = json_string_value(json);
    if (str_eq(text, "above")) {
        *above = true;
    } else if (str_eq(text, "below")) {
        *above = false;
    } else {
        return wire_fail(p, "expected \"below\" or \"above\"");
    }
    return 0;
}

/* ---- SLO conditions --------------------------------------------------------------------- */

static const char *const slo_condition_fields[] = {
    "description",           "metric",    "slo_metric_minimum",
    "threshold_multiplier",  "keep",      "trigger_count",
    "trigger_window",        "threshold", "threshold_metric",
    "slo_threshold_minimum",
};

/* pydantic's extra="forbid". */
static int refuse_unknown_fields(struct wire_path *p, const json_t *json, const char *const *known,
                                 size_t known_count)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        bool found = false;
        for (size_t i = 0; i < known_count && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (!found) {
            size_t mark = wire_path_key(p, key);
            wire_fail(p, "unknown field");
            wire_path_pop(p, mark);
            return -1;
        }
    }
    return 0;
}

static void slo_condition_defaults(struct servo_slo_condition *s)
{
    memset(s, 0, sizeof *s);
    s->threshold = NAN;
    s->threshold_multiplier = 1;
    s->trigger_count = 1;
    s->slo_metric_minimum = 0.25;
    s->slo_threshold_minimum = 0.25;
}

static int decode_slo_fields(struct wire_path *p, const json_t *json, struct servo_slo_condition *s)
{
    if (decode_member(p, json, "description", decode_optional_string, &s->description) != 0 ||
        decode_member(p, json, "metric", decode_optional_string, &s->metric) != 0 ||
        decode_member(p, json, "threshold", decode_real, &s->threshold) != 0 ||
        decode_member(p, json, "threshold_metric", decode_optional_string, &s->threshold_metric) !=
            0 ||
        decode_member(p, json, "threshold_multiplier", decode_real, &s->threshold_multiplier) !=
            0 ||
        decode_member(p, json, "keep", decode_keep, &s->keep_above) != 0 ||
        decode_member(p, json, "trigger_count", decode_trigger, &s->trigger_count) != 0 ||
        decode_member(p, json, "trigger_window", decode_trigger, &s->trigger_window) != 0 ||
        decode_member(p, json, "slo_metric_minimum", decode_real, &s->slo_metric_minimum) != 0 ||
        decode_member(p, json, "slo_threshold_minimum", decode_real, &s->slo_threshold_minimum) !=
            0)
        return -1;
    return 0;
}

static int validate_slo_condition(struct wire_path *p, struct servo_slo_condition *s)
{
    if (s->metric == NULL) {
        size_t mark = wire_path_key(p, "metric");
        wire_fail(p, "field required");
        wire_path_pop(p, mark);
        return -1;
    }
    bool has_threshold = !isnan(s->threshold);
    if (has_threshold && s->threshold_metric != NULL)
        return wire_fail(p, "SLO Condition cannot specify both threshold and threshold_metric");
    if (!has_threshold && s->threshold_metric == NULL)
        return wire_fail(p, "SLO Condition must specify either threshold or threshold_metric");
    if (s->trigger_window == 0)
        s->trigger_window = s->trigger_count;
    if (s->trigger_count > s->trigger_window)
        return wire_fail(p, "trigger_count cannot be greater than trigger_window (%d > %d)",
                         s->trigger_count, s->trigger_window);
    return 0;
}

static int decode_slo_condition(struct wire_path *p, const json_t *json,
                                struct servo_slo_condition *s)
{
    slo_condition_defaults(s);
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    if (refuse_unknown_fields(p, json, slo_condition_fields, ARRAY_LEN(slo_condition_fields)) !=
            0 ||
        decode_slo_fields(p, json, s) != 0)
        return -1;
    return validate_slo_condition(p, s);
}

/* ServoX's str(condition), by which conditions must be unique: "(metric keep threshold)". */
static char *slo_condition_text(const struct servo_slo_condition *s)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "(%s %s", s->metric, s->keep_above ? "above" : "below");
    if (!isnan(s->threshold) && s->threshold != 0) {
        char *number = wire_format_number(s->threshold);
        strbuf_printf(&sb, " %s", number);
        free(number);
    } else if (s->threshold_metric != NULL) {
        strbuf_printf(&sb, " %s", s->threshold_metric);
    }
    if (s->description != NULL)
        strbuf_printf(&sb, " -> %s", s->description);
    strbuf_putc(&sb, ')');
    return strbuf_detach(&sb);
}

static int refuse_duplicate_conditions(struct wire_path *p, const struct servo_control *c)
{
    char **texts = xcalloc(c->slo_count, sizeof *texts);
    struct strbuf redundant;
    strbuf_init(&redundant);
    for (size_t i = 0; i < c->slo_count; i++) {
        texts[i] = slo_condition_text(&c->slo[i]);
        size_t seen = 0;
        for (size_t j = 0; j < i; j++)
            seen += strcmp(texts[i], texts[j]) == 0;
        if (seen == 1) /* report each redundant condition once */
            strbuf_printf(&redundant, "%s%s", redundant.len > 0 ? ", " : "", texts[i]);
    }
    int rc = 0;
    if (redundant.len > 0)
        rc = wire_fail(p, "Slo conditions must be unique. Redundant conditions found: %s",
                       redundant.data);
    for (size_t i = 0; i < c->slo_count; i++)
        free(texts[i]);
    free(texts);
    strbuf_release(&redundant);
    return rc;
}

static int decode_slo_conditions(struct wire_path *p, const json_t *json, void *target)
{
    struct servo_control *c = target;
    if (!json_is_array(json))
        return wire_fail(p, "expected an array");
    size_t count = json_array_size(json);
    c->slo = count > 0 ? xcalloc(count, sizeof *c->slo) : NULL;
    for (size_t i = 0; i < count; i++) {
        size_t mark = wire_path_index(p, i);
        int rc = decode_slo_condition(p, json_array_get(json, i), &c->slo[i]);
        c->slo_count++;
        wire_path_pop(p, mark);
        if (rc != 0)
            return -1;
    }
    return refuse_duplicate_conditions(p, c);
}

static int decode_slo(struct wire_path *p, const json_t *json, void *target)
{
    static const char *const fields[] = {"conditions"};
    if (wire_is_absent(json))
        return 0;
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    if (refuse_unknown_fields(p, json, fields, ARRAY_LEN(fields)) != 0)
        return -1;
    return decode_member(p, json, "conditions", decode_slo_conditions, target);
}

/* ---- control ---------------------------------------------------------------------------- */

/* "past" is an alias of "delay"; given both, they must be equal. */
static int decode_delay(struct wire_path *p, const json_t *json, struct servo_control *c)
{
    const json_t *past = json_object_get(json, "past");
    if (past == NULL)
        return decode_member(p, json, "delay", decode_duration, &c->delay);
    servo_duration past_value = 0;
    if (decode_member(p, json, "past", decode_duration, &past_value) != 0)
        return -1;
    if (json_object_get(json, "delay") != NULL) {
        if (decode_member(p, json, "delay", decode_duration, &c->delay) != 0)
            return -1;
        if (c->delay != past_value)
            return wire_fail(p, "past and delay attributes must be equal");
    }
    c->delay = past_value;
    return 0;
}

static int decode_control(struct wire_path *p, const json_t *json, struct servo_control *c)
{
    if (wire_is_absent(json))
        return 0;
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    if (decode_member(p, json, "duration", decode_duration, &c->duration) != 0 ||
        decode_delay(p, json, c) != 0 ||
        decode_member(p, json, "warmup", decode_duration, &c->warmup) != 0 ||
        decode_member(p, json, "settlement", decode_duration, &c->settlement) != 0 ||
        decode_member(p, json, "load", decode_object, &c->load) != 0 ||
        decode_member(p, json, "userdata", decode_object, &c->userdata) != 0 ||
        decode_member(p, json, "environment", decode_object, &c->environment) != 0)
        return -1;
    if (c->userdata == NULL)
        return 0;
    size_t mark = wire_path_key(p, "userdata");
    int rc = decode_member(p, c->userdata, "slo", decode_slo, c);
    wire_path_pop(p, mark);
    return rc;
}

int servo_control_from_json(const json_t *json, struct servo_control *out, char **error)
{
    servo_control_init(out);
    struct wire_path p;
    wire_path_init(&p, error);
    int rc = decode_control(&p, json, out);
    wire_path_release(&p);
    if (rc != 0)
        servo_control_free(out);
    return rc;
}

/* ---- encoding --------------------------------------------------------------------------- */

static void set_object(json_t *json, const char *key, const json_t *value)
{
    if (value != NULL)
        json_object_set_new(json, key, json_deep_copy(value));
}

/* The duration in seconds, as a number that decodes to a duration with the same number of
 * seconds: exactly `d` up to 2^53 ns (104 days); beyond, a double cannot hold every nanosecond
 * and the number is the nearest one that reads back stably (encoding is then a fixpoint). */
static json_t *duration_json(servo_duration d)
{
    double seconds = servo_duration_seconds(d);
    for (int i = 0; i < 16; i++) {
        servo_duration back = 0;
        if (servo_duration_from_seconds(seconds, &back, NULL) != 0) {
            seconds = nextafter(seconds, 0); /* rounded out of range at +-2^63 ns */
            continue;
        }
        double again = servo_duration_seconds(back);
        if (again == seconds)
            break;
        seconds = again;
    }
    return json_real(seconds);
}

json_t *servo_control_to_json(const struct servo_control *c)
{
    json_t *json = json_object();
    json_object_set_new(json, "duration", duration_json(c->duration));
    json_object_set_new(json, "delay", duration_json(c->delay));
    json_object_set_new(json, "warmup", duration_json(c->warmup));
    if (c->settlement != SERVO_UNSET)
        json_object_set_new(json, "settlement", duration_json(c->settlement));
    set_object(json, "load", c->load);
    set_object(json, "userdata", c->userdata);
    set_object(json, "environment", c->environment);
    return json;
}
