/* The data model the servo and the optimizer exchange: settings, components, descriptions,
 * metrics, readings (data points and time series), measurements, adjustments and control.
 * Each has a JSON encoding in exactly the wire shapes of the Opsani servo protocol.
 *
 * Ownership: every struct here owns its strings and arrays; builders copy their arguments;
 * `*_free` releases everything. Encoders return new jansson references. Decoders take
 * borrowed JSON and return 0, or -1 with a message in `error` naming the offending path
 * ("application.components.web.settings.cpu.min: expected a number"). */
#ifndef SERVO_MODEL_H
#define SERVO_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "servo/abi.h"
#include "servo/error.h"
#include "servo/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- settings and components ----------------------------------------------------------- */

enum servo_setting_kind {
    SERVO_SETTING_RANGE, /* min, max, step; numeric value */
    SERVO_SETTING_ENUM,  /* values; text value */
};

struct servo_setting {
    char *name; /* "cpu", "mem", "replicas", or any other (env settings) */
    enum servo_setting_kind kind;
    char *unit; /* "cores", "GiB", ... or NULL */
    bool pinned;
    /* RANGE */
    double min, max, step;
    bool integer; /* values are whole numbers: encoded as JSON integers (replicas) */
    /* ENUM: the allowed values as text; numeric_values when all were JSON numbers */
    char **values;
    size_t value_count;
    bool numeric_values;
    /* the current value, when known */
    bool has_value;
    double value;     /* RANGE */
    char *text_value; /* ENUM */
    /* environment-variable settings (Kubernetes env): the variable's real name, or NULL */
    char *literal;
};

struct servo_component {
    char *name;
    struct servo_setting *settings;
    size_t setting_count;
    size_t setting_capacity;
};

struct servo_metric {
    char *name;
    char *unit; /* "" for none; "rpm", "rps", "%", "ms", "bytes", "GiB", "cores" */
};

struct servo_description {
    struct servo_component *components;
    size_t component_count;
    size_t component_capacity;
    struct servo_metric *metrics;
    size_t metric_count;
    size_t metric_capacity;
};

/* The builders return pointers into their parent's array: valid until the next component
 * (setting, reading) is added to the same parent. A setting added under an existing name
 * replaces that setting in place. */
SERVO_EXPORT struct servo_description *servo_description_new(void);
SERVO_EXPORT void servo_description_free(struct servo_description *d);
/* Adds (or returns the existing) component of that name. */
SERVO_EXPORT struct servo_component *servo_description_component(struct servo_description *d,
                                                                 const char *name);
SERVO_EXPORT struct servo_setting *servo_component_range(struct servo_component *c,
                                                         const char *name, const char *unit,
                                                         double min, double max, double step);
/* `values` is NULL-terminated. */
SERVO_EXPORT struct servo_setting *servo_component_enum(struct servo_component *c, const char *name,
                                                        const char *unit,
                                                        const char *const *values);
SERVO_EXPORT void servo_setting_set_value(struct servo_setting *s, double value);
SERVO_EXPORT void servo_setting_set_text(struct servo_setting *s, const char *value);
SERVO_EXPORT void servo_description_add_metric(struct servo_description *d, const char *name,
                                               const char *unit);
SERVO_EXPORT struct servo_component *servo_description_find(const struct servo_description *d,
                                                            const char *component);
SERVO_EXPORT struct servo_setting *servo_component_find(const struct servo_component *c,
                                                        const char *setting);
SERVO_EXPORT const struct servo_metric *
servo_description_find_metric(const struct servo_description *d, const char *name);
/* Appends copies of every component and metric of `from` (describe/adjust aggregation). */
SERVO_EXPORT void servo_description_merge(struct servo_description *into,
                                          const struct servo_description *from);
SERVO_EXPORT struct servo_description *servo_description_copy(const struct servo_description *d);

/* {"application":{"components":{C:{"settings":{S:{type,unit?,min,max,step,values?,pinned,
 * value?}}}}},"measurement":{"metrics":{M:{"unit":U}}}} -- the DESCRIPTION "descriptor" and
 * the ADJUSTMENT "state". */
SERVO_EXPORT json_t *servo_description_to_json(const struct servo_description *d);
SERVO_EXPORT int servo_description_from_json(const json_t *json, struct servo_description **out,
                                             char **error);
/* Only the components part: {"components":{...}}. */
SERVO_EXPORT json_t *servo_components_to_json(const struct servo_description *d);

/* ---- readings and measurements --------------------------------------------------------- */

struct servo_point {
    double time;  /* Unix seconds */
    double value; /* NaN and infinities allowed */
};

/* A data point (scalar, one point) or a time series. */
struct servo_reading {
    char *metric;
    char *unit;
    bool scalar; /* a DataPoint: encoded as {"unit","value"} when alone for its metric */
    char *id;    /* series id; NULL: assigned at encoding ("<metric>-<n>") */
    char *annotation;
    struct servo_point *points;
    size_t point_count;
    size_t point_capacity;
};

struct servo_measurement {
    struct servo_reading *readings;
    size_t reading_count;
    size_t reading_capacity;
    char **annotation_keys;
    char **annotation_values;
    size_t annotation_count;
    size_t annotation_capacity;
};

SERVO_EXPORT struct servo_measurement *servo_measurement_new(void);
SERVO_EXPORT void servo_measurement_free(struct servo_measurement *m);
SERVO_EXPORT struct servo_reading *servo_measurement_series(struct servo_measurement *m,
                                                            const char *metric, const char *unit,
                                                            const char *id);
SERVO_EXPORT struct servo_reading *servo_measurement_point(struct servo_measurement *m,
                                                           const char *metric, const char *unit,
                                                           double time, double value);
SERVO_EXPORT void servo_reading_add(struct servo_reading *r, double time, double value);
SERVO_EXPORT void servo_reading_set_annotation(struct servo_reading *r, const char *annotation);
/* Sets (or replaces) an annotation of the measurement. */
SERVO_EXPORT void servo_measurement_annotate(struct servo_measurement *m, const char *key,
                                             const char *value);
/* Moves every reading and annotation of `from` into `into` (measure aggregation). */
SERVO_EXPORT void servo_measurement_merge(struct servo_measurement *into,
                                          struct servo_measurement *from);

/* {"metrics":{M:{"unit":U,"values":[{"id":I,"data":[[t,v],...],"annotation"?:A},...]} |
 * {"unit":U,"value":V}},"annotations":{...}}. Every series of a metric is its own entry under
 * "values" with a distinct id (ServoX kept only the last). Non-finite values are the strings
 * "NaN", "+Inf", "-Inf" (JSON has no such numbers). Times are integers when whole. */
SERVO_EXPORT json_t *servo_measurement_to_json(const struct servo_measurement *m);
SERVO_EXPORT int servo_measurement_from_json(const json_t *json, struct servo_measurement **out,
                                             char **error);

/* ---- adjustments ----------------------------------------------------------------------- */

struct servo_adjustment {
    char *component;
    char *setting;
    bool is_text; /* an enum value; else numeric */
    double value;
    char *text;
    bool integer; /* numeric and written as a JSON integer ("replicas":{"value":3}) */
};

struct servo_adjustments {
    struct servo_adjustment *items;
    size_t count;
    size_t capacity;
};

SERVO_EXPORT void servo_adjustments_add(struct servo_adjustments *a, const char *component,
                                        const char *setting, double value);
SERVO_EXPORT void servo_adjustments_add_text(struct servo_adjustments *a, const char *component,
                                             const char *setting, const char *text);
SERVO_EXPORT void servo_adjustments_clear(struct servo_adjustments *a);
/* "web.cpu=1.5" -> an adjustment; numbers become numeric values, anything else text.
 * Returns -1 with a message for text that is not COMPONENT.SETTING=VALUE. */
SERVO_EXPORT int servo_adjustment_parse(const char *text, struct servo_adjustments *a,
                                        char **error);
/* The ADJUST command's state: {"application":{"components":{C:{"settings":{S:{"value":V}}}}}}
 * -> adjustments (every component, setting and value). */
SERVO_EXPORT int servo_adjustments_from_state(const json_t *state, struct servo_adjustments *a,
                                              char **error);
SERVO_EXPORT json_t *servo_adjustments_to_state(const struct servo_adjustments *a);

/* ---- control --------------------------------------------------------------------------- */

struct servo_slo_condition {
    char *description;
    char *metric;
    double threshold;             /* NaN when threshold_metric is used */
    char *threshold_metric;       /* NULL when threshold is used */
    double threshold_multiplier;  /* default 1 */
    bool keep_above;              /* keep: above; default below */
    int trigger_count;            /* default 1, >= 1 */
    int trigger_window;           /* default trigger_count, >= trigger_count */
    double slo_metric_minimum;    /* default 0.25 */
    double slo_threshold_minimum; /* default 0.25 */
};

struct servo_control {
    servo_duration duration; /* 0 when absent */
    servo_duration delay;    /* alias "past" */
    servo_duration warmup;
    servo_duration settlement; /* SERVO_UNSET when absent */
    json_t *load;              /* NULL or an object */
    json_t *userdata;          /* NULL or an object (slo conditions parsed below) */
    json_t *environment;       /* NULL or an object */
    struct servo_slo_condition *slo;
    size_t slo_count;
};

SERVO_EXPORT void servo_control_init(struct servo_control *c);
SERVO_EXPORT void servo_control_free(struct servo_control *c);
/* Durations accept numbers (seconds) or duration strings; null/absent -> defaults. */
SERVO_EXPORT int servo_control_from_json(const json_t *json, struct servo_control *out,
                                         char **error);
SERVO_EXPORT json_t *servo_control_to_json(const struct servo_control *c);
SERVO_EXPORT void servo_control_copy(struct servo_control *to, const struct servo_control *from);

#ifdef __cplusplus
}
#endif

#endif
