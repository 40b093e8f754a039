/* The data model: descriptions (components, settings, metrics), measurements (readings) and
 * adjustments, with their builders and their JSON wire shapes (see servo/model.h). */
#include "servo/model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "types/wire.h"
#include "util/util.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static void strings_free(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i]);
    free(items);
}

/* A NULL-terminated copy. */
static char **strings_copy(char *const *items, size_t count)
{
    char **copy = xcalloc(count + 1, sizeof *copy);
    for (size_t i = 0; i < count; i++)
        copy[i] = xstrdup(items[i]);
    return copy;
}

/* A JSON number as enum text: integers as written, reals always with a fraction or exponent,
 * so that the text encodes back to the same JSON number. */
static char *json_number_text(const json_t *number)
{
    if (json_is_integer(number))
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(number));
    return wire_format_real(json_real_value(number));
}

/* Decodes obj[key] with `decode`, the path extended by the key. */
typedef int (*member_decoder)(struct wire_path *p, const json_t *json, void *target);

static int decode_member(struct wire_path *p, const json_t *obj, const char *key,
                         member_decoder decode, void *target)
{
    size_t mark = wire_path_key(p, key);
    int rc = decode(p, json_object_get(obj, key), target);
    wire_path_pop(p, mark);
    return rc;
}

/* Absent or null leaves *target alone; a string replaces it. */
static int decode_optional_string(struct wire_path *p, const json_t *json, void *target)
{
    char **out = target;
    if (wire_is_absent(json))
        return 0;
    if (!json_is_string(json))
        return wire_fail(p, "expected a string");
    free(*out);
    *out = xstrdup(json_string_value(json));
    return 0;
}

static int decode_optional_bool(struct wire_path *p, const json_t *json, void *target)
{
    bool *out = target;
    if (wire_is_absent(json))
        return 0;
    if (!json_is_boolean(json))
        return wire_fail(p, "expected true or false");
    *out = json_is_true(json);
    return 0;
}

/* ---- settings and components ------------------------------------------------------------ */

static void setting_release(struct servo_setting *s)
{
    free(s->name);
    free(s->unit);
    strings_free(s->values, s->value_count);
    free(s->text_value);
    free(s->literal);
    memset(s, 0, sizeof *s);
}

static void setting_copy(struct servo_setting *to, const struct servo_setting *from)
{
    *to = *from;
    to->name = xstrdup(from->name);
    to->unit = dup_or_null(from->unit);
    to->values = from->values != NULL ? strings_copy(from->values, from->value_count) : NULL;
    to->text_value = dup_or_null(from->text_value);
    to->literal = dup_or_null(from->literal);
}

static void component_release(struct servo_component *c)
{
    for (size_t i = 0; i < c->setting_count; i++)
        setting_release(&c->settings[i]);
    free(c->settings);
    free(c->name);
    memset(c, 0, sizeof *c);
}

struct servo_setting *servo_component_find(const struct servo_component *c, const char *setting)
{
    for (size_t i = 0; i < c->setting_count; i++) {
        if (str_eq(c->settings[i].name, setting))
            return &c->settings[i];
    }
    return NULL;
}

/* The setting called `name`, emptied when it exists (it keeps its place), else a new one. */
static struct servo_setting *component_slot(struct servo_component *c, const char *name)
{
    char *own_name = xstrdup(name);
    struct servo_setting *s = servo_component_find(c, name);
    if (s != NULL) {
        setting_release(s);
    } else {
        xgrow((void **)&c->settings, sizeof *c->settings, c->setting_count, &c->setting_capacity);
        s = &c->settings[c->setting_count++];
        memset(s, 0, sizeof *s);
    }
    s->name = own_name;
    return s;
}

/* Adds (or replaces) a copy of `from` in `c`. */
static void component_put(struct servo_component *c, const struct servo_setting *from)
{
    struct servo_setting *s = component_slot(c, from->name);
    free(s->name);
    setting_copy(s, from);
}

struct servo_setting *servo_component_range(struct servo_component *c, const char *name,
                                            const char *unit, double min, double max, double step)
{
    struct servo_setting *s = component_slot(c, name);
    s->kind = SERVO_SETTING_RANGE;
    s->unit = dup_or_null(unit);
    s->min = min;
    s->max = max;
    s->step = step;
    return s;
}

struct servo_setting *servo_component_enum(struct servo_component *c, const char *name,
                                           const char *unit, const char *const *values)
{
    struct servo_setting *s = component_slot(c, name);
    s->kind = SERVO_SETTING_ENUM;
    s->unit = dup_or_null(unit);
    size_t count = 0;
    while (values != NULL && values[count] != NULL)
        count++;
    s->values = strings_copy((char *const *)values, count);
    s->value_count = count;
    return s;
}

void servo_setting_set_value(struct servo_setting *s, double value)
{
    s->has_value = true;
    s->value = value;
    if (s->kind == SERVO_SETTING_ENUM) {
        free(s->text_value);
        s->text_value = wire_format_number(value);
    }
}

void servo_setting_set_text(struct servo_setting *s, const char *value)
{
    char *text = xstrdup(value);
    free(s->text_value);
    s->text_value = text;
    if (s->kind == SERVO_SETTING_ENUM) {
        s->has_value = true;
    } else if (wire_parse_decimal(text, &s->value, NULL)) {
        s->has_value = true;
    }
}

/* ---- descriptions ----------------------------------------------------------------------- */

struct servo_description *servo_description_new(void)
{
    return xcalloc(1, sizeof(struct servo_description));
}

void servo_description_free(struct servo_description *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->component_count; i++)
        component_release(&d->components[i]);
    free(d->components);
    for (size_t i = 0; i < d->metric_count; i++) {
        free(d->metrics[i].name);
        free(d->metrics[i].unit);
    }
    free(d->metrics);
    free(d);
}

struct servo_component *servo_description_find(const struct servo_description *d,
                                               const char *component)
{
    for (size_t i = 0; i < d->component_count; i++) {
        if (str_eq(d->components[i].name, component))
            return &d->components[i];
    }
    return NULL;
}

struct servo_component *servo_description_component(struct servo_description *d, const char *name)
{
    struct servo_component *c = servo_description_find(d, name);
    if (c != NULL)
        return c;
    xgrow((void **)&d->components, sizeof *d->components, d->component_count,
          &d->component_capacity);
    c = &d->components[d->component_count++];
    memset(c, 0, sizeof *c);
    c->name = xstrdup(name);
    return c;
}

const struct servo_metric *servo_description_find_metric(const struct servo_description *d,
                                                         const char *name)
{
    for (size_t i = 0; i < d->metric_count; i++) {
        if (str_eq(d->metrics[i].name, name))
            return &d->metrics[i];
    }
    return NULL;
}

void servo_description_add_metric(struct servo_description *d, const char *name, const char *unit)
{
    char *own_unit = xstrdup(unit != NULL ? unit : "");
    struct servo_metric *metric = (struct servo_metric *)servo_description_find_metric(d, name);
    if (metric == NULL) {
        xgrow((void **)&d->metrics, sizeof *d->metrics, d->metric_count, &d->metric_capacity);
        metric = &d->metrics[d->metric_count++];
        metric->name = xstrdup(name);
    } else {
        free(metric->unit);
    }
    metric->unit = own_unit;
}

/* Components of the same name are merged (a setting of the same name is replaced); a metric
 * of the same name takes the later unit: on the wire both are keyed by name. */
void servo_description_merge(struct servo_description *into, const struct servo_description *from)
{
    if (into == from || from == NULL)
        return;
    for (size_t i = 0; i < from->component_count; i++) {
        const struct servo_component *source = &from->components[i];
        struct servo_component *target = servo_description_component(into, source->name);
        for (size_t j = 0; j < source->setting_count; j++)
            component_put(target, &source->settings[j]);
    }
    for (size_t i = 0; i < from->metric_count; i++)
        servo_description_add_metric(into, from->metrics[i].name, from->metrics[i].unit);
}

struct servo_description *servo_description_copy(const struct servo_description *d)
{
    struct servo_description *copy = servo_description_new();
    servo_description_merge(copy, d);
    return copy;
}

/* ---- description: encoding -------------------------------------------------------------- */

/* An enum value: a JSON number when the values are numbers and the text is one, else text. */
static json_t *enum_value_json(const struct servo_setting *s, const char *text)
{
    double number = 0;
    bool integer = false;
    if (!s->numeric_values || !wire_parse_decimal(text, &number, &integer))
        return wire_string(text);
    if (integer) {
        errno = 0;
        long long whole = strtoll(text, NULL, 10);
        if (errno == 0)
            return json_integer((json_int_t)whole);
    }
    return json_real(number);
}

static json_t *enum_values_json(const struct servo_setting *s)
{
    json_t *values = json_array();
    for (size_t i = 0; i < s->value_count; i++)
        json_array_append_new(values, enum_value_json(s, s->values[i]));
    return values;
}

/* Only the non-null members, in the order type, unit, min, max, step, values, pinned, value. */
static json_t *setting_to_json(const struct servo_setting *s)
{
    bool is_enum = s->kind == SERVO_SETTING_ENUM;
    json_t *json = json_object();
    json_object_set_new(json, "type", json_string(is_enum ? "enum" : "range"));
    if (s->unit != NULL)
        json_object_set_new(json, "unit", wire_string(s->unit));
    if (is_enum) {
        json_object_set_new(json, "values", enum_values_json(s));
    } else {
        json_object_set_new(json, "min", wire_number(s->min, s->integer));
        json_object_set_new(json, "max", wire_number(s->max, s->integer));
        json_object_set_new(json, "step", wire_number(s->step, s->integer));
    }
    json_object_set_new(json, "pinned", json_boolean(s->pinned));
    if (s->has_value && is_enum && s->text_value != NULL)
        json_object_set_new(json, "value", enum_value_json(s, s->text_value));
    else if (s->has_value && !is_enum)
        json_object_set_new(json, "value", wire_number(s->value, s->integer));
    return json;
}

static json_t *components_object(const struct servo_description *d)
{
    json_t *components = json_object();
    for (size_t i = 0; i < d->component_count; i++) {
        const struct servo_component *c = &d->components[i];
        json_t *settings = json_object();
        for (size_t j = 0; j < c->setting_count; j++)
            wire_set(settings, c->settings[j].name, setting_to_json(&c->settings[j]));
        json_t *component = json_object();
        json_object_set_new(component, "settings", settings);
        wire_set(components, c->name, component);
    }
    return components;
}

static json_t *metrics_object(const struct servo_description *d)
{
    json_t *metrics = json_object();
    for (size_t i = 0; i < d->metric_count; i++) {
        const struct servo_metric *metric = &d->metrics[i];
        json_t *entry = json_object();
        json_object_set_new(entry, "unit", wire_string(metric->unit != NULL ? metric->unit : ""));
        wire_set(metrics, metric->name, entry);
    }
    return metrics;
}

json_t *servo_components_to_json(const struct servo_description *d)
{
    json_t *json = json_object();
    json_object_set_new(json, "components", components_object(d));
    return json;
}

json_t *servo_description_to_json(const struct servo_description *d)
{
    json_t *measurement = json_object();
    json_object_set_new(measurement, "metrics", metrics_object(d));
    json_t *json = json_object();
    json_object_set_new(json, "application", servo_components_to_json(d));
    json_object_set_new(json, "measurement", measurement);
    return json;
}

/* ---- description: decoding -------------------------------------------------------------- */

struct number_target {
    double *value;
    bool *integer;
};

static int decode_number(struct wire_path *p, const json_t *json, void *target)
{
    struct number_target *out = target;
    if (!json_is_number(json))
        return wire_fail(p, "expected a number");
    *out->value = json_number_value(json);
    *out->integer = wire_is_exact_integer(json);
    return 0;
}

static int decode_number_member(struct wire_path *p, const json_t *obj, const char *key,
                                double *value, bool *integer)
{
    struct number_target target = {value, integer};
    return decode_member(p, obj, key, decode_number, &target);
}

static int decode_range(struct wire_path *p, const json_t *json, struct servo_setting *s)
{
    bool min_integer = false, max_integer = false, step_integer = false, value_integer = true;
    if (decode_number_member(p, json, "min", &s->min, &min_integer) != 0 ||
        decode_number_member(p, json, "max", &s->max, &max_integer) != 0 ||
        decode_number_member(p, json, "step", &s->step, &step_integer) != 0)
        return -1;
    if (!wire_is_absent(json_object_get(json, "value"))) {
        if (decode_number_member(p, json, "value", &s->value, &value_integer) != 0)
            return -1;
        s->has_value = true;
    }
    s->integer = min_integer && max_integer && step_integer && value_integer;
    return 0;
}

/* A string, or a number kept as its text. */
static int decode_enum_text(struct wire_path *p, const json_t *json, char **out)
{
    if (json_is_string(json)) {
        *out = xstrdup(json_string_value(json));
    } else if (json_is_number(json)) {
        *out = json_number_text(json);
    } else {
        return wire_fail(p, "expected a string or a number");
    }
    return 0;
}

static int decode_enum_values(struct wire_path *p, const json_t *json, void *target)
{
    struct servo_setting *s = target;
    if (!json_is_array(json) || json_array_size(json) == 0)
        return wire_fail(p, "expected a non-empty array of strings or numbers");
    size_t count = json_array_size(json);
    s->values = xcalloc(count + 1, sizeof *s->values);
    s->numeric_values = true;
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_array_get(json, i);
        size_t mark = wire_path_index(p, i);
        int rc = decode_enum_text(p, item, &s->values[i]);
        wire_path_pop(p, mark);
        if (rc != 0)
            return -1;
        s->value_count++;
        s->numeric_values = s->numeric_values && json_is_number(item);
    }
    return 0;
}

static int decode_enum_value(struct wire_path *p, const json_t *json, void *target)
{
    struct servo_setting *s = target;
    if (wire_is_absent(json))
        return 0;
    if (decode_enum_text(p, json, &s->text_value) != 0)
        return -1;
    s->has_value = true;
    return 0;
}

static int decode_enum(struct wire_path *p, const json_t *json, struct servo_setting *s)
{
    if (decode_member(p, json, "values", decode_enum_values, s) != 0)
        return -1;
    return decode_member(p, json, "value", decode_enum_value, s);
}

static int decode_kind(struct wire_path *p, const json_t *json, enum servo_setting_kind *kind)
{
    const json_t *type = json_object_get(json, "type");
    if (wire_is_absent(type)) {
        if (!wire_is_absent(json_object_get(json, "min")) ||
            !wire_is_absent(json_object_get(json, "max"))) {
            *kind = SERVO_SETTING_RANGE;
        } else if (!wire_is_absent(json_object_get(json, "values"))) {
            *kind = SERVO_SETTING_ENUM;
        } else {
            return wire_fail(p, "expected a \"type\" (\"range\" or \"enum\")");
        }
        return 0;
    }
    const char *text = json_string_value(type);
    if (str_eq(text, "range")) {
        *kind = SERVO_SETTING_RANGE;
    } else if (str_eq(text, "enum")) {
        *kind = SERVO_SETTING_ENUM;
    } else {
        size_t mark = wire_path_key(p, "type");
        wire_fail(p, "expected \"range\" or \"enum\"");
        wire_path_pop(p, mark);
        return -1;
    }
    return 0;
}

static int decode_setting_body(struct wire_path *p, const json_t *json, struct servo_setting *s)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    if (decode_kind(p, json, &s->kind) != 0 ||
        decode_member(p, json, "unit", decode_optional_string, &s->unit) != 0 ||
        decode_member(p, json, "pinned", decode_optional_bool, &s->pinned) != 0)
        return -1;
    if (s->kind == SERVO_SETTING_ENUM)
        return decode_enum(p, json, s);
    return decode_range(p, json, s);
}

static int decode_setting_named(struct wire_path *p, const char *name, const json_t *value,
                                void *target)
{
    return decode_setting_body(p, value, component_slot(target, name));
}

static int decode_settings(struct wire_path *p, const json_t *json, void *target)
{
    return wire_each_member(p, json, decode_setting_named, target);
}

static int decode_component_named(struct wire_path *p, const char *name, const json_t *value,
                                  void *target)
{
    if (!json_is_object(value))
        return wire_fail(p, "expected an object");
    return decode_member(p, value, "settings", decode_settings,
                         servo_description_component(target, name));
}

static int decode_components(struct wire_path *p, const json_t *json, void *target)
{
    return wire_each_member(p, json, decode_component_named, target);
}

static int decode_metric_named(struct wire_path *p, const char *name, const json_t *value,
                               void *target)
{
    if (!json_is_object(value))
        return wire_fail(p, "expected an object");
    char *unit = NULL;
    int rc = decode_member(p, value, "unit", decode_optional_string, &unit);
    if (rc == 0)
        servo_description_add_metric(target, name, unit);
    free(unit);
    return rc;
}

static int decode_metric_units(struct wire_path *p, const json_t *json, void *target)
{
    return wire_each_member(p, json, decode_metric_named, target);
}

static int decode_application(struct wire_path *p, const json_t *json, void *target)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    return decode_member(p, json, "components", decode_components, target);
}

static int decode_description_measurement(struct wire_path *p, const json_t *json, void *target)
{
    if (wire_is_absent(json))
        return 0;
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    return decode_member(p, json, "metrics", decode_metric_units, target);
}

static int decode_description(struct wire_path *p, const json_t *json, struct servo_description *d)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    int rc;
    if (!wire_is_absent(json_object_get(json, "application")))
        rc = decode_member(p, json, "application", decode_application, d);
    else if (json_object_get(json, "components") != NULL)
        rc = decode_member(p, json, "components", decode_components, d);
    else
        rc = wire_fail(p, "expected \"application\" or \"components\"");
    if (rc != 0)
        return -1;
    return decode_member(p, json, "measurement", decode_description_measurement, d);
}

int servo_description_from_json(const json_t *json, struct servo_description **out, char **error)
{
    struct servo_description *d = servo_description_new();
    struct wire_path p;
    wire_path_init(&p, error);
    int rc = decode_description(&p, json, d);
    wire_path_release(&p);
    if (rc != 0) {
        servo_description_free(d);
        d = NULL;
    }
    *out = d;
    return rc;
}

/* ---- readings and measurements ---------------------------------------------------------- */

static void reading_release(struct servo_reading *r)
{
    free(r->metric);
    free(r->unit);
    free(r->id);
    free(r->annotation);
    free(r->points);
    memset(r, 0, sizeof *r);
}

struct servo_measurement *servo_measurement_new(void)
{
    return xcalloc(1, sizeof(struct servo_measurement));
}

void servo_measurement_free(struct servo_measurement *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->reading_count; i++)
        reading_release(&m->readings[i]);
    free(m->readings);
    strings_free(m->annotation_keys, m->annotation_count);
    strings_free(m->annotation_values, m->annotation_count);
    free(m);
}

static struct servo_reading *measurement_append(struct servo_measurement *m, const char *metric,
                                                const char *unit, const char *id, bool scalar)
{
    xgrow((void **)&m->readings, sizeof *m->readings, m->reading_count, &m->reading_capacity);
    struct servo_reading *r = &m->readings[m->reading_count++];
    memset(r, 0, sizeof *r);
    r->metric = xstrdup(metric != NULL ? metric : "");
    r->unit = xstrdup(unit != NULL ? unit : "");
    r->id = dup_or_null(id);
    r->scalar = scalar;
    return r;
}

struct servo_reading *servo_measurement_series(struct servo_measurement *m, const char *metric,
                                               const char *unit, const char *id)
{
    return measurement_append(m, metric, unit, id, false);
}

struct servo_reading *servo_measurement_point(struct servo_measurement *m, const char *metric,
                                              const char *unit, double time, double value)
{
    struct servo_reading *r = measurement_append(m, metric, unit, NULL, true);
    servo_reading_add(r, time, value);
    return r;
}

void servo_reading_add(struct servo_reading *r, double time, double value)
{
    xgrow((void **)&r->points, sizeof *r->points, r->point_count, &r->point_capacity);
    r->points[r->point_count].time = time;
    r->points[r->point_count].value = value;
    r->point_count++;
}

void servo_reading_set_annotation(struct servo_reading *r, const char *annotation)
{
    char *copy = dup_or_null(annotation);
    free(r->annotation);
    r->annotation = copy;
}

void servo_measurement_annotate(struct servo_measurement *m, const char *key, const char *value)
{
    char *own_value = xstrdup(value != NULL ? value : "");
    for (size_t i = 0; i < m->annotation_count; i++) {
        if (str_eq(m->annotation_keys[i], key)) {
            free(m->annotation_values[i]);
            m->annotation_values[i] = own_value;
            return;
        }
    }
    size_t capacity = m->annotation_capacity;
    xgrow((void **)&m->annotation_keys, sizeof *m->annotation_keys, m->annotation_count, &capacity);
    xgrow((void **)&m->annotation_values, sizeof *m->annotation_values, m->annotation_count,
          &m->annotation_capacity);
    m->annotation_keys[m->annotation_count] = xstrdup(key);
    m->annotation_values[m->annotation_count] = own_value;
    m->annotation_count++;
}

void servo_measurement_merge(struct servo_measurement *into, struct servo_measurement *from)
{
    if (into == from || from == NULL)
        return;
    for (size_t i = 0; i < from->reading_count; i++) {
        xgrow((void **)&into->readings, sizeof *into->readings, into->reading_count,
              &into->reading_capacity);
        into->readings[into->reading_count++] = from->readings[i];
    }
    from->reading_count = 0;
    for (size_t i = 0; i < from->annotation_count; i++) {
        servo_measurement_annotate(into, from->annotation_keys[i], from->annotation_values[i]);
        free(from->annotation_keys[i]);
        free(from->annotation_values[i]);
    }
    from->annotation_count = 0;
}

/* ---- measurement: encoding -------------------------------------------------------------- */

/* Ids already given to the series of one metric (hash sets, as JSON objects): `taken` holds
 * every id; `next` the next suffix to try for a base id, so that many series of the same id
 * cost no more than a few. */
struct id_set {
    json_t *taken;
    json_t *next;
};

/* The reading's id (or "<metric>-<n>" for none), made distinct with "-2", "-3"... The caller
 * frees the id. */
static char *claim_id(struct id_set *set, const struct servo_reading *r, size_t n)
{
    char *base = r->id != NULL ? wire_utf8_clean(r->id) : xasprintf("%s-%zu", r->metric, n);
    char *id = xstrdup(base);
    json_int_t suffix = json_integer_value(json_object_get(set->next, base));
    for (suffix = suffix ? suffix : 2; json_object_get(set->taken, id) != NULL; suffix++) {
        free(id);
        id = xasprintf("%s-%" JSON_INTEGER_FORMAT, base, suffix);
    }
    json_object_set_new_nocheck(set->next, base, json_integer(suffix));
    free(base);
    json_object_set_new_nocheck(set->taken, id, json_true());
    return id;
}

static json_t *points_json(const struct servo_reading *r)
{
    json_t *data = json_array();
    for (size_t i = 0; i < r->point_count; i++) {
        json_t *point = json_array();
        json_array_append_new(point, wire_number(r->points[i].time, true));
        json_array_append_new(point, wire_number(r->points[i].value, false));
        json_array_append_new(data, point);
    }
    return data;
}

static json_t *series_json(const struct servo_reading *r, const char *id)
{
    json_t *entry = json_object();
    json_object_set_new(entry, "id", wire_string(id));
    json_object_set_new(entry, "data", points_json(r));
    if (r->annotation != NULL)
        json_object_set_new(entry, "annotation", wire_string(r->annotation));
    return entry;
}

static json_t *scalar_json(const struct servo_reading *r)
{
    json_t *entry = json_object();
    json_object_set_new(entry, "unit", wire_string(r->unit));
    json_object_set_new(entry, "value", wire_number(r->points[0].value, false));
    if (r->annotation != NULL)
        json_object_set_new(entry, "annotation", wire_string(r->annotation));
    return entry;
}

/* A reading by its metric, for grouping. */
struct metric_index {
    const char *metric;
    size_t index;
};

/* The readings of one metric (`count` of them, in order) as one metric entry. */
static json_t *metric_json(const struct servo_measurement *m, const struct metric_index *group,
                           size_t count)
{
    const struct servo_reading *head = &m->readings[group[0].index];
    if (count == 1 && head->scalar && head->point_count == 1)
        return scalar_json(head);
    json_t *values = json_array();
    struct id_set ids = {json_object(), json_object()};
    for (size_t i = 0; i < count; i++) {
        const struct servo_reading *r = &m->readings[group[i].index];
        char *id = claim_id(&ids, r, i + 1);
        json_array_append_new(values, series_json(r, id));
        free(id);
    }
    json_decref(ids.taken);
    json_decref(ids.next);
    json_t *entry = json_object();
    json_object_set_new(entry, "unit", wire_string(head->unit));
    json_object_set_new(entry, "values", values);
    return entry;
}

/* By metric, then by position: each metric's readings together, in their order. */
static int by_metric(const void *a, const void *b)
{
    const struct metric_index *x = a, *y = b;
    int c = strcmp(x->metric, y->metric);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* A metric's readings in the sorted array; `first` is its first reading's position. */
struct metric_group {
    size_t start, count, first;
};

static int by_first_reading(const void *a, const void *b)
{
    const struct metric_group *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* The metrics in the order of their first reading, each with its readings: O(n log n) in
 * the number of readings, however many series and metrics there are. */
static struct metric_group *group_by_metric(const struct servo_measurement *m,
                                            struct metric_index *sorted, size_t *group_count)
{
    size_t n = m->reading_count;
    for (size_t i = 0; i < n; i++)
        sorted[i] = (struct metric_index){m->readings[i].metric, i};
    if (n > 1)
        qsort(sorted, n, sizeof *sorted, by_metric);
    struct metric_group *groups = xcalloc(n ? n : 1, sizeof *groups);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(sorted[i].metric, sorted[i - 1].metric) != 0)
            groups[count++] = (struct metric_group){i, 0, sorted[i].index};
        groups[count - 1].count++;
    }
    if (count > 1)
        qsort(groups, count, sizeof *groups, by_first_reading);
    *group_count = count;
    return groups;
}

json_t *servo_measurement_to_json(const struct servo_measurement *m)
{
    struct metric_index *sorted = xcalloc(m->reading_count ? m->reading_count : 1, sizeof *sorted);
    size_t group_count = 0;
    struct metric_group *groups = group_by_metric(m, sorted, &group_count);
    json_t *metrics = json_object();
    for (size_t k = 0; k < group_count; k++)
        wire_set(metrics, sorted[groups[k].start].metric,
                 metric_json(m, &sorted[groups[k].start], groups[k].count));
    free(groups);
    free(sorted);
    json_t *annotations = json_object();
    for (size_t i = 0; i < m->annotation_count; i++)
        wire_set(annotations, m->annotation_keys[i], wire_string(m->annotation_values[i]));
    json_t *json = json_object();
    json_object_set_new(json, "metrics", metrics);
    json_object_set_new(json, "annotations", annotations);
    return json;
}

/* ---- measurement: decoding -------------------------------------------------------------- */

/* A number, or its text ("1.5", "NaN", "+Inf", "-Inf": Prometheus values are strings). */
static int decode_point_number(struct wire_path *p, const json_t *json, double *out)
{
    if (json_is_number(json)) {
        *out = json_number_value(json);
        return 0;
    }
    if (json_is_string(json) && wire_parse_number_text(json_string_value(json), out))
        return 0;
    return wire_fail(p, "expected a number");
}

static int decode_point(struct wire_path *p, const json_t *json, struct servo_reading *r)
{
    if (!json_is_array(json) || json_array_size(json) != 2)
        return wire_fail(p, "expected a [time, value] pair");
    double time = 0, value = 0;
    for (size_t i = 0; i < 2; i++) {
        size_t mark = wire_path_index(p, i);
        int rc = decode_point_number(p, json_array_get(json, i), i == 0 ? &time : &value);
        wire_path_pop(p, mark);
        if (rc != 0)
            return -1;
    }
    servo_reading_add(r, time, value);
    return 0;
}

static int decode_point_item(struct wire_path *p, size_t index, const json_t *json, void *target)
{
    (void)index;
    return decode_point(p, json, target);
}

static int decode_points(struct wire_path *p, const json_t *json, void *target)
{
    if (!json_is_array(json))
        return wire_fail(p, "expected an array of [time, value] pairs");
    return wire_each_item(p, json, decode_point_item, target);
}

/* A series id: a string, or an integer (legacy drivers); absent means "assign one". */
static int decode_series_id(struct wire_path *p, const json_t *json, void *target)
{
    char **id = target;
    if (json_is_integer(json)) {
        *id = xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(json));
        return 0;
    }
    return decode_optional_string(p, json, id);
}

/* What every series of one metric entry shares. */
struct metric_entry {
    struct servo_measurement *m;
    const char *metric;
    char *unit;
    char *annotation;
};

static int decode_series(struct wire_path *p, const json_t *json, struct metric_entry *e)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    char *id = NULL;
    char *annotation = NULL;
    if (decode_member(p, json, "id", decode_series_id, &id) != 0 ||
        decode_member(p, json, "annotation", decode_optional_string, &annotation) != 0) {
        free(id);
        free(annotation);
        return -1;
    }
    struct servo_reading *r = servo_measurement_series(e->m, e->metric, e->unit, id);
    r->annotation = annotation != NULL ? annotation : dup_or_null(e->annotation);
    free(id);
    return decode_member(p, json, "data", decode_points, r);
}

static int decode_series_item(struct wire_path *p, size_t index, const json_t *json, void *target)
{
    (void)index;
    return decode_series(p, json, target);
}

static int decode_series_list(struct wire_path *p, const json_t *json, void *target)
{
    if (!json_is_array(json))
        return wire_fail(p, "expected an array");
    return wire_each_item(p, json, decode_series_item, target);
}

/* {"value": v}: a data point (its time is not on the wire: 0). */
static int decode_scalar(struct wire_path *p, const json_t *json, void *target)
{
    struct metric_entry *e = target;
    double value = 0;
    if (decode_point_number(p, json, &value) != 0)
        return -1;
    struct servo_reading *r = servo_measurement_point(e->m, e->metric, e->unit, 0, value);
    r->annotation = dup_or_null(e->annotation);
    return 0;
}

static int decode_metric_entry(struct wire_path *p, const json_t *json, struct metric_entry *e)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    if (decode_member(p, json, "unit", decode_optional_string, &e->unit) != 0 ||
        decode_member(p, json, "annotation", decode_optional_string, &e->annotation) != 0)
        return -1;
    if (!wire_is_absent(json_object_get(json, "values")))
        return decode_member(p, json, "values", decode_series_list, e);
    if (json_object_get(json, "value") != NULL)
        return decode_member(p, json, "value", decode_scalar, e);
    return wire_fail(p, "expected \"value\" or \"values\"");
}

static int decode_metric_named_entry(struct wire_path *p, const char *name, const json_t *value,
                                     void *target)
{
    struct metric_entry e = {target, name, NULL, NULL};
    int rc = decode_metric_entry(p, value, &e);
    free(e.unit);
    free(e.annotation);
    return rc;
}

static int decode_measurement_metrics(struct wire_path *p, const json_t *json, void *target)
{
    return wire_each_member(p, json, decode_metric_named_entry, target);
}

/* Annotations are text; null is skipped and any other value kept as its compact JSON. */
static int decode_annotations(struct wire_path *p, const json_t *json, void *target)
{
    struct servo_measurement *m = target;
    if (wire_is_absent(json))
        return 0;
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json, key, value)
    {
        if (json_is_string(value)) {
            servo_measurement_annotate(m, key, json_string_value(value));
        } else if (!json_is_null(value)) {
            char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
            servo_measurement_annotate(m, key, text != NULL ? text : "");
            free(text);
        }
    }
    return 0;
}

int servo_measurement_from_json(const json_t *json, struct servo_measurement **out, char **error)
{
    struct servo_measurement *m = servo_measurement_new();
    struct wire_path p;
    wire_path_init(&p, error);
    int rc = 0;
    if (!json_is_object(json))
        rc = wire_fail(&p, "expected an object");
    if (rc == 0)
        rc = decode_member(&p, json, "metrics", decode_measurement_metrics, m);
    if (rc == 0)
        rc = decode_member(&p, json, "annotations", decode_annotations, m);
    wire_path_release(&p);
    if (rc != 0) {
        servo_measurement_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

/* ---- adjustments ------------------------------------------------------------------------ */

static struct servo_adjustment *adjustments_append(struct servo_adjustments *a,
                                                   const char *component, const char *setting)
{
    xgrow((void **)&a->items, sizeof *a->items, a->count, &a->capacity);
    struct servo_adjustment *adjustment = &a->items[a->count++];
    memset(adjustment, 0, sizeof *adjustment);
    adjustment->component = xstrdup(component);
    adjustment->setting = xstrdup(setting);
    return adjustment;
}

void servo_adjustments_add(struct servo_adjustments *a, const char *component, const char *setting,
                           double value)
{
    adjustments_append(a, component, setting)->value = value;
}

void servo_adjustments_add_text(struct servo_adjustments *a, const char *component,
                                const char *setting, const char *text)
{
    struct servo_adjustment *adjustment = adjustments_append(a, component, setting);
    adjustment->is_text = true;
    adjustment->text = xstrdup(text);
}

/* Drops the adjustments from index `count` on. */
static void adjustments_truncate(struct servo_adjustments *a, size_t count)
{
    for (size_t i = count; i < a->count; i++) {
        free(a->items[i].component);
        free(a->items[i].setting);
        free(a->items[i].text);
    }
    if (count < a->count)
        a->count = count;
}

void servo_adjustments_clear(struct servo_adjustments *a)
{
    adjustments_truncate(a, 0);
    free(a->items);
    a->items = NULL;
    a->capacity = 0;
}

/* A value from the command line or the state: numbers are numeric, anything else text. */
static void adjustments_add_parsed(struct servo_adjustments *a, const char *component,
                                   const char *setting, const char *value)
{
    double number = 0;
    bool integer = false;
    if (wire_parse_decimal(value, &number, &integer)) {
        servo_adjustments_add(a, component, setting, number);
        a->items[a->count - 1].integer = integer;
    } else {
        servo_adjustments_add_text(a, component, setting, value);
    }
}

int servo_adjustment_parse(const char *text, struct servo_adjustments *a, char **error)
{
    const char *equals = strchr(text, '=');
    const char *dot = NULL;
    for (const char *c = text; equals != NULL && c < equals; c++) {
        if (*c == '.')
            dot = c;
    }
    if (dot == NULL || dot == text || dot + 1 == equals || equals[1] == '\0') {
        if (error != NULL)
            *error = xasprintf("unable to parse setting descriptor '%s': expected format is "
                               "`component.setting=value`",
                               text);
        return -1;
    }
    char *component = xstrndup(text, (size_t)(dot - text));
    char *setting = xstrndup(dot + 1, (size_t)(equals - dot - 1));
    adjustments_add_parsed(a, component, setting, equals + 1);
    free(component);
    free(setting);
    return 0;
}

struct state_target {
    struct servo_adjustments *adjustments;
    const char *component;
};

static int decode_state_value(struct wire_path *p, const json_t *json, struct servo_adjustments *a,
                              const char *component, const char *setting)
{
    if (wire_is_absent(json))
        return 0;
    if (json_is_string(json)) {
        servo_adjustments_add_text(a, component, setting, json_string_value(json));
    } else if (json_is_number(json)) {
        servo_adjustments_add(a, component, setting, json_number_value(json));
        a->items[a->count - 1].integer = json_is_integer(json);
    } else {
        return wire_fail(p, "expected a number or a string");
    }
    return 0;
}

static int decode_state_setting(struct wire_path *p, const char *name, const json_t *value,
                                void *target)
{
    struct state_target *t = target;
    if (!json_is_object(value))
        return wire_fail(p, "expected an object");
    size_t inner = wire_path_key(p, "value");
    int rc =
        decode_state_value(p, json_object_get(value, "value"), t->adjustments, t->component, name);
    wire_path_pop(p, inner);
    return rc;
}

static int decode_state_settings(struct wire_path *p, const json_t *json, void *target)
{
    return wire_each_member(p, json, decode_state_setting, target);
}

static int decode_state_component(struct wire_path *p, const char *name, const json_t *value,
                                  void *target)
{
    struct state_target t = {target, name};
    if (!json_is_object(value))
        return wire_fail(p, "expected an object");
    return decode_member(p, value, "settings", decode_state_settings, &t);
}

static int decode_state_components(struct wire_path *p, const json_t *json, void *target)
{
    return wire_each_member(p, json, decode_state_component, target);
}

static int decode_state_application(struct wire_path *p, const json_t *json, void *target)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    return decode_member(p, json, "components", decode_state_components, target);
}

static int decode_state(struct wire_path *p, const json_t *json, struct servo_adjustments *a)
{
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    if (!wire_is_absent(json_object_get(json, "application")))
        return decode_member(p, json, "application", decode_state_application, a);
    if (json_object_get(json, "components") != NULL)
        return decode_member(p, json, "components", decode_state_components, a);
    return wire_fail(p, "expected \"application\" or \"components\"");
}

int servo_adjustments_from_state(const json_t *state, struct servo_adjustments *a, char **error)
{
    size_t before = a->count;
    struct wire_path p;
    wire_path_init(&p, error);
    int rc = decode_state(&p, state, a);
    wire_path_release(&p);
    if (rc != 0)
        adjustments_truncate(a, before);
    return rc;
}

static json_t *object_member(json_t *object, const char *key)
{
    char *clean = wire_utf8_clean(key);
    json_t *member = json_object_get(object, clean);
    if (member == NULL) {
        member = json_object();
        json_object_set_new(object, clean, member);
    }
    free(clean);
    return member;
}

json_t *servo_adjustments_to_state(const struct servo_adjustments *a)
{
    json_t *components = json_object();
    for (size_t i = 0; i < a->count; i++) {
        const struct servo_adjustment *adjustment = &a->items[i];
        json_t *settings =
            object_member(object_member(components, adjustment->component), "settings");
        json_t *value = adjustment->is_text
                            ? wire_string(adjustment->text != NULL ? adjustment->text : "")
                            : wire_number(adjustment->value, adjustment->integer);
        json_t *setting = json_object();
        json_object_set_new(setting, "value", value);
        wire_set(settings, adjustment->setting, setting);
    }
    json_t *application = json_object();
    json_object_set_new(application, "components", components);
    json_t *state = json_object();
    json_object_set_new(state, "application", application);
    return state;
}
