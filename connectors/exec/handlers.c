/* The exec connector's handlers: describe, metrics, measure and adjust, each running its
 * command through the driver protocol (protocol.c). The last known description is kept on
 * the instance: adjust uses it to pick the components this connector owns and to refuse
 * adjustments the description does not allow. */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

struct exec_state {
    pthread_mutex_t lock;
    struct servo_description *description; /* the last known one, or NULL */
    char *stages;                          /* the servo-exec stages as a measure script, or NULL */
};

static const struct exec_settings *settings_of(const struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static struct exec_state *state_of(const struct servo_connector *c)
{
    return servo_connector_state(c);
}

static int fail_event(struct servo_event *event, const struct servo_error *error)
{
    return servo_event_fail(event, error->kind, error->reason, "%s", error->message);
}

/* ---- the static description ------------------------------------------------------------- */

static bool is_whole(double value)
{
    return isfinite(value) && value == trunc(value);
}

static void add_static_setting(struct servo_component *component, const char *name,
                               const struct exec_setting *from)
{
    struct servo_setting *s;
    if (from->type == EXEC_SETTING_ENUM) {
        size_t count = from->values.count;
        const char **values = servo_xcalloc(count + 1, sizeof *values);
        memcpy(values, from->values.items, count * sizeof *values);
        s = servo_component_enum(component, name, from->unit, values);
        free(values);
        if (from->value != NULL)
            servo_setting_set_text(s, from->value);
    } else {
        s = servo_component_range(component, name, from->unit, from->min, from->max, from->step);
        double value = from->value ? strtod(from->value, NULL) : 0;
        if (from->value != NULL)
            servo_setting_set_value(s, value);
        s->integer = is_whole(from->min) && is_whole(from->max) && is_whole(from->step) &&
                     (from->value == NULL || is_whole(value));
    }
    s->pinned = from->pinned;
}

/* Replaces the description's metrics with the `metrics` settings, when there are any. */
static void apply_static_metrics(const struct exec_settings *s, struct servo_description *d)
{
    if (s->metrics.count == 0)
        return;
    for (size_t i = 0; i < d->metric_count; i++) {
        free(d->metrics[i].name);
        free(d->metrics[i].unit);
    }
    d->metric_count = 0;
    const struct exec_metric *metrics = s->metrics.items;
    for (size_t i = 0; i < s->metrics.count; i++)
        servo_description_add_metric(d, metrics[i].name, exec_unit_choices[metrics[i].unit]);
}

static struct servo_description *static_description(const struct exec_settings *s)
{
    struct servo_description *d = servo_description_new();
    const struct exec_component *components = s->components.values;
    for (size_t i = 0; i < s->components.count; i++) {
        struct servo_component *c = servo_description_component(d, s->components.keys[i]);
        const struct exec_setting *settings = components[i].settings.values;
        for (size_t j = 0; j < components[i].settings.count; j++)
            add_static_setting(c, components[i].settings.keys[j], &settings[j]);
    }
    apply_static_metrics(s, d);
    return d;
}

/* ---- init and fini ---------------------------------------------------------------------- */

int exec_init(struct servo_connector *connector, struct servo_error *error)
{
    (void)error;
    const struct exec_settings *s = settings_of(connector);
    struct exec_state *state = servo_xcalloc(1, sizeof *state);
    pthread_mutex_init(&state->lock, NULL);
    if (s->describe == NULL && (s->components.count > 0 || s->metrics.count > 0))
        state->description = static_description(s);
    state->stages = exec_has_stages(&s->stages) ? exec_stages_script(&s->stages) : NULL;
    servo_connector_set_state(connector, state);
    return 0;
}

void exec_fini(struct servo_connector *connector)
{
    struct exec_state *state = state_of(connector);
    if (state == NULL)
        return;
    servo_description_free(state->description);
    free(state->stages);
    pthread_mutex_destroy(&state->lock);
    free(state);
    servo_connector_set_state(connector, NULL);
}

/* A copy of the last known description, or NULL. */
static struct servo_description *cached_description(struct servo_connector *c)
{
    struct exec_state *state = state_of(c);
    pthread_mutex_lock(&state->lock);
    struct servo_description *d =
        state->description ? servo_description_copy(state->description) : NULL;
    pthread_mutex_unlock(&state->lock);
    return d;
}

/* Keeps a copy of `d` as the last known description. */
static void cache_description(struct servo_connector *c, const struct servo_description *d)
{
    struct exec_state *state = state_of(c);
    struct servo_description *copy = servo_description_copy(d);
    pthread_mutex_lock(&state->lock);
    servo_description_free(state->description);
    state->description = copy;
    pthread_mutex_unlock(&state->lock);
}

/* ---- describe --------------------------------------------------------------------------- */

static json_t *control_input(struct servo_event *event)
{
    json_t *input = json_object();
    json_object_set_new(input, "control", servo_control_to_json(servo_event_control(event)));
    return input;
}

/* A legacy measure driver's --describe prints {"status":"ok","metrics":{...}}: turned, in
 * place, into a description of those metrics and no components. */
static void legacy_metrics_description(json_t *result)
{
    json_t *metrics = json_object_get(result, "metrics");
    if (json_object_get(result, "application") != NULL ||
        json_object_get(result, "components") != NULL || !json_is_object(metrics))
        return;
    json_t *application = json_object();
    json_object_set_new(application, "components", json_object());
    json_object_set_new(result, "application", application);
    json_t *measurement = json_object();
    json_object_set(measurement, "metrics", metrics);
    json_object_set_new(result, "measurement", measurement);
}

/* Runs the describe command; the description it prints (with the `metrics` settings). */
static struct servo_description *run_describe(struct servo_connector *c, struct servo_event *event,
                                              enum servo_error_kind failure,
                                              struct servo_error *error)
{
    const struct exec_settings *s = settings_of(c);
    json_t *input = control_input(event);
    struct exec_call call = {"describe", s->describe, input, NULL, failure};
    json_t *result = exec_call_run(c, event, &call, error);
    json_decref(input);
    if (result == NULL)
        return NULL;
    legacy_metrics_description(result);
    struct servo_description *d = NULL;
    char *why = NULL;
    if (servo_description_from_json(result, &d, &why) != 0) {
        servo_error_set(error, failure, "invalid-output",
                        "the describe command of %s printed an invalid description: %s",
                        servo_connector_name(c), why ? why : "");
        free(why);
    } else {
        apply_static_metrics(s, d);
        cache_description(c, d);
    }
    json_decref(result);
    return d;
}

struct servo_description *exec_describe(struct servo_connector *c, struct servo_event *event,
                                        struct servo_error *error)
{
    return run_describe(c, event, SERVO_ERROR_FAILED, error);
}

/* The current description: the describe command's, else the static one (with the values
 * adjust has set since); NULL with `error` filled when the command fails. */
static struct servo_description *fresh_description(struct servo_connector *c,
                                                   struct servo_event *event,
                                                   enum servo_error_kind failure,
                                                   struct servo_error *error)
{
    if (settings_of(c)->describe != NULL)
        return run_describe(c, event, failure, error);
    struct servo_description *d = cached_description(c);
    return d ? d : servo_description_new();
}

/* The last known description, else a fresh one. */
static struct servo_description *known_description(struct servo_connector *c,
                                                   struct servo_event *event,
                                                   enum servo_error_kind failure,
                                                   struct servo_error *error)
{
    struct servo_description *d = cached_description(c);
    return d ? d : fresh_description(c, event, failure, error);
}

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    struct servo_error error = {0};
    struct servo_description *d = fresh_description(c, event, SERVO_ERROR_FAILED, &error);
    if (d == NULL)
        return fail_event(event, &error);
    servo_event_set_description(event, d);
    return 0;
}

static int on_components(struct servo_connector *c, struct servo_event *event)
{
    return on_describe(c, event);
}

/* The `metrics` settings, else the metrics the describe command reports. */
static int on_metrics(struct servo_connector *c, struct servo_event *event)
{
    const struct exec_settings *s = settings_of(c);
    const struct exec_metric *metrics = s->metrics.items;
    for (size_t i = 0; i < s->metrics.count; i++)
        servo_event_add_metric(event, metrics[i].name, exec_unit_choices[metrics[i].unit]);
    if (s->metrics.count > 0 || s->describe == NULL)
        return 0;
    struct servo_error error = {0};
    struct servo_description *d = known_description(c, event, SERVO_ERROR_FAILED, &error);
    if (d == NULL)
        return fail_event(event, &error);
    for (size_t i = 0; i < d->metric_count; i++)
        servo_event_add_metric(event, d->metrics[i].name, d->metrics[i].unit);
    servo_description_free(d);
    return 0;
}

/* ---- measure ---------------------------------------------------------------------------- */

/* `measure`, or the servo-exec stages as a script (the two are exclusive), or NULL. */
static const char *measure_command(const struct servo_connector *c)
{
    const char *configured = settings_of(c)->measure;
    return configured ? configured : state_of(c)->stages;
}

/* The metric names to ask the measure command for: those asked for that this connector
 * knows (all it knows when none were named), or what was asked when it knows none. */
static json_t *metrics_to_measure(struct servo_event *event, const struct servo_description *known)
{
    json_t *names = json_array();
    if (known == NULL || known->metric_count == 0) {
        for (size_t i = 0; i < servo_event_metric_count(event); i++)
            json_array_append_new(names, json_string(servo_event_metric(event, i)));
        return names;
    }
    for (size_t i = 0; i < known->metric_count; i++)
        if (servo_event_wants_metric(event, known->metrics[i].name))
            json_array_append_new(names, json_string(known->metrics[i].name));
    return names;
}

static void add_seconds(struct exec_env *env, const char *name, servo_duration d)
{
    char text[32];
    exec_format_number(d > 0 ? servo_duration_seconds(d) : 0, text);
    exec_env_add(env, name, text);
}

static void copy_reading(struct servo_measurement *to, const struct servo_reading *r)
{
    struct servo_reading *copy;
    if (r->scalar && r->point_count == 1) {
        copy =
            servo_measurement_point(to, r->metric, r->unit, r->points[0].time, r->points[0].value);
    } else {
        copy = servo_measurement_series(to, r->metric, r->unit, r->id);
        for (size_t i = 0; i < r->point_count; i++)
            servo_reading_add(copy, r->points[i].time, r->points[i].value);
    }
    if (r->annotation)
        servo_reading_set_annotation(copy, r->annotation);
}

/* The readings of the metrics the event asked for (all when none were named). */
static struct servo_measurement *
wanted_readings(struct servo_event *event, const struct servo_measurement *m, const json_t *names)
{
    struct servo_measurement *kept = servo_measurement_new();
    for (size_t i = 0; i < m->reading_count; i++)
        if (servo_event_wants_metric(event, m->readings[i].metric))
            copy_reading(kept, &m->readings[i]);
    for (size_t i = 0; i < m->annotation_count; i++)
        servo_measurement_annotate(kept, m->annotation_keys[i], m->annotation_values[i]);
    size_t index;
    const json_t *name;
    json_array_foreach(names, index, name)
    {
        bool found = false;
        for (size_t i = 0; i < kept->reading_count && !found; i++)
            found = strcmp(kept->readings[i].metric, json_string_value(name)) == 0;
        if (!found)
            servo_warning("the measure command reported no readings for \"%s\"",
                          json_string_value(name));
    }
    return kept;
}

static struct servo_measurement *decode_measurement(struct servo_connector *c,
                                                    struct servo_event *event, const json_t *result,
                                                    const json_t *names, struct servo_error *error)
{
    struct servo_measurement *m = NULL;
    char *why = NULL;
    if (servo_measurement_from_json(result, &m, &why) != 0) {
        servo_error_set(error, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-output",
                        "the measure command of %s printed an invalid measurement: %s",
                        servo_connector_name(c), why ? why : "");
        free(why);
        return NULL;
    }
    struct servo_measurement *kept = wanted_readings(event, m, names);
    servo_measurement_free(m);
    return kept;
}

static struct servo_measurement *run_measure(struct servo_connector *c, struct servo_event *event,
                                             json_t *names, struct servo_error *error)
{
    const struct servo_control *control = servo_event_control(event);
    json_t *input = json_object();
    json_object_set(input, "metrics", names);
    json_object_set_new(input, "control", servo_control_to_json(control));
    struct exec_env env = {0};
    add_seconds(&env, "SERVO_DURATION", control->duration);
    add_seconds(&env, "SERVO_WARMUP", control->warmup);
    add_seconds(&env, "SERVO_DELAY", control->delay);
    struct exec_call call = {"measure", measure_command(c), input, &env,
                             SERVO_ERROR_MEASUREMENT_FAILED};
    json_t *result = exec_call_run(c, event, &call, error);
    json_decref(input);
    exec_env_free(&env);
    if (result == NULL)
        return NULL;
    struct servo_measurement *m = decode_measurement(c, event, result, names, error);
    json_decref(result);
    return m;
}

static int on_measure(struct servo_connector *c, struct servo_event *event)
{
    const struct exec_settings *s = settings_of(c);
    if (measure_command(c) == NULL)
        return 0;
    struct servo_error error = {0};
    struct servo_description *known = NULL;
    if (s->describe != NULL || s->metrics.count > 0) {
        known = known_description(c, event, SERVO_ERROR_MEASUREMENT_FAILED, &error);
        if (known == NULL)
            return fail_event(event, &error);
    }
    json_t *names = metrics_to_measure(event, known);
    bool mine = servo_event_metric_count(event) == 0 || json_array_size(names) > 0;
    servo_description_free(known);
    struct servo_measurement *m = mine ? run_measure(c, event, names, &error) : NULL;
    json_decref(names);
    if (!mine)
        return 0; /* none of the metrics asked for are this connector's */
    if (m == NULL)
        return fail_event(event, &error);
    servo_event_set_measurement(event, m);
    return 0;
}

/* ---- adjust ----------------------------------------------------------------------------- */

static bool on_step(double value, double min, double step)
{
    if (step <= 0)
        return true;
    double steps = (value - min) / step;
    return fabs(steps - round(steps)) <= 1e-9 * fmax(1.0, fabs(steps));
}

static const char *adjustment_text(const struct servo_adjustment *a, char buf[32])
{
    if (a->is_text)
        return a->text;
    exec_format_number(a->value, buf);
    return buf;
}

/* Why the description does not allow the adjustment, or NULL (caller frees). */
static char *adjustment_problem(const struct servo_description *d, const struct servo_adjustment *a)
{
    const struct servo_component *c = servo_description_find(d, a->component);
    const struct servo_setting *s = c ? servo_component_find(c, a->setting) : NULL;
    char buf[32];
    if (s == NULL)
        return servo_strdup_printf("%s.%s: component \"%s\" has no setting \"%s\"", a->component,
                                   a->setting, a->component, a->setting);
    if (s->pinned)
        return servo_strdup_printf("%s.%s: the setting is pinned", a->component, a->setting);
    if (s->kind == SERVO_SETTING_ENUM) {
        const char *text = adjustment_text(a, buf);
        for (size_t i = 0; i < s->value_count; i++)
            if (strcmp(s->values[i], text) == 0)
                return NULL;
        return servo_strdup_printf("%s.%s: \"%s\" is not one of the values", a->component,
                                   a->setting, text);
    }
    if (a->is_text)
        return servo_strdup_printf("%s.%s: expected a number, got \"%s\"", a->component, a->setting,
                                   a->text);
    if (a->value < s->min || a->value > s->max)
        return servo_strdup_printf("%s.%s: %g is outside the range [%g, %g]", a->component,
                                   a->setting, a->value, s->min, s->max);
    if (!on_step(a->value, s->min, s->step))
        return servo_strdup_printf("%s.%s: %g is not on a step of %g from %g", a->component,
                                   a->setting, a->value, s->step, s->min);
    return NULL;
}

/* Refuses, before anything runs, adjustments the description does not allow. */
static int check_adjustments(const struct servo_description *d,
                             const struct servo_adjustments *owned, struct servo_error *error)
{
    for (size_t i = 0; i < owned->count; i++) {
        char *problem = adjustment_problem(d, &owned->items[i]);
        if (problem != NULL) {
            servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, "invalid-adjustment", "%s",
                            problem);
            free(problem);
            return -1;
        }
    }
    return 0;
}

/* The adjustments of the components `d` describes; when it describes none (or there is no
 * description), every adjustment if there is an adjust command, else none. */
static void select_owned(const struct servo_description *d, bool can_adjust,
                         const struct servo_adjustments *all, struct servo_adjustments *owned)
{
    bool described = d != NULL && d->component_count > 0;
    for (size_t i = 0; i < all->count; i++) {
        const struct servo_adjustment *a = &all->items[i];
        if (described ? servo_description_find(d, a->component) == NULL : !can_adjust)
            continue;
        if (a->is_text) {
            servo_adjustments_add_text(owned, a->component, a->setting, a->text);
        } else {
            servo_adjustments_add(owned, a->component, a->setting, a->value);
            owned->items[owned->count - 1].integer = a->integer;
        }
    }
}

static void apply_adjustments(struct servo_description *d, const struct servo_adjustments *a)
{
    for (size_t i = 0; i < a->count; i++) {
        struct servo_component *c = servo_description_find(d, a->items[i].component);
        struct servo_setting *s = c ? servo_component_find(c, a->items[i].setting) : NULL;
        char buf[32];
        if (s == NULL)
            continue;
        if (s->kind == SERVO_SETTING_ENUM)
            servo_setting_set_text(s, adjustment_text(&a->items[i], buf));
        else if (!a->items[i].is_text)
            servo_setting_set_value(s, a->items[i].value);
    }
}

/* The values adjust has set, kept in the last known description. */
static void cache_adjustments(struct servo_connector *c, const struct servo_adjustments *a)
{
    struct exec_state *state = state_of(c);
    pthread_mutex_lock(&state->lock);
    if (state->description != NULL)
        apply_adjustments(state->description, a);
    pthread_mutex_unlock(&state->lock);
}

/* A setting's current value as a command sees it, or NULL when it has none. */
static const char *current_value_text(const struct servo_setting *s, char buf[32])
{
    if (!s->has_value)
        return NULL;
    if (s->kind == SERVO_SETTING_ENUM)
        return s->text_value;
    exec_format_number(s->value, buf);
    return buf;
}

static char *setting_variable(const char *component, const char *setting)
{
    char *c = exec_env_name(component);
    char *s = exec_env_name(setting);
    char *name = servo_strdup_printf("SERVO_%s_%s", c, s);
    free(s);
    free(c);
    return name;
}

/* SERVO_<COMPONENT>_<SETTING> for each adjustment, then for every other setting of the known
 * description that has a value: the command sees the whole state, not only what changes. */
static void add_adjustment_variables(const struct servo_adjustments *a,
                                     const struct servo_description *known, struct exec_env *env)
{
    char buf[32];
    for (size_t i = 0; i < a->count; i++) {
        char *name = setting_variable(a->items[i].component, a->items[i].setting);
        exec_env_add(env, name, adjustment_text(&a->items[i], buf));
        free(name);
    }
    for (size_t i = 0; known != NULL && i < known->component_count; i++) {
        const struct servo_component *c = &known->components[i];
        for (size_t j = 0; j < c->setting_count; j++) {
            const struct servo_setting *s = &c->settings[j];
            char *name = setting_variable(c->name, s->name);
            const char *value = current_value_text(s, buf);
            if (value != NULL && !exec_env_has(env, name))
                exec_env_add(env, name, value);
            free(name);
        }
    }
}

/* The description after the adjustment: the result's "state" when it is a description, else
 * `before` with the state's values (or else the requested ones) applied. NULL when there is
 * nothing to describe; *failed when the state is not understood. */
static struct servo_description *adjusted_description(struct servo_connector *c,
                                                      const json_t *result,
                                                      const struct servo_description *before,
                                                      const struct servo_adjustments *owned,
                                                      struct servo_error *error, bool *failed)
{
    const json_t *state = json_object_get(result, "state");
    *failed = false;
    struct servo_description *d = NULL;
    if (state != NULL && !json_is_null(state) && servo_description_from_json(state, &d, NULL) == 0)
        return d;
    d = before ? servo_description_copy(before) : NULL;
    if (state == NULL || json_is_null(state)) {
        if (d)
            apply_adjustments(d, owned);
        return d;
    }
    struct servo_adjustments reported = {0};
    char *why = NULL;
    if (servo_adjustments_from_state(state, &reported, &why) != 0) {
        servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-output",
                        "the adjust command of %s printed an invalid state: %s",
                        servo_connector_name(c), why ? why : "");
        free(why);
        servo_description_free(d);
        *failed = true;
        return NULL;
    }
    if (d)
        apply_adjustments(d, &reported);
    servo_adjustments_clear(&reported);
    return d;
}

/* Runs the adjust command for `owned`; sets the resulting description on the event. */
static int run_adjust(struct servo_connector *c, struct servo_event *event,
                      const struct servo_description *before, const struct servo_adjustments *owned,
                      struct servo_error *error)
{
    json_t *input = servo_adjustments_to_state(owned);
    json_object_set_new(input, "control", servo_control_to_json(servo_event_control(event)));
    struct exec_env env = {0};
    add_adjustment_variables(owned, before, &env);
    struct exec_call call = {"adjust", settings_of(c)->adjust, input, &env,
                             SERVO_ERROR_ADJUSTMENT_FAILED};
    json_t *result = exec_call_run(c, event, &call, error);
    json_decref(input);
    exec_env_free(&env);
    if (result == NULL)
        return -1;
    bool failed = false;
    struct servo_description *after =
        adjusted_description(c, result, before, owned, error, &failed);
    json_decref(result);
    if (failed)
        return -1;
    cache_adjustments(c, owned);
    if (after != NULL)
        servo_event_set_description(event, after);
    return 0;
}

static int adjust_owned(struct servo_connector *c, struct servo_event *event,
                        const struct servo_description *d, const struct servo_adjustments *owned,
                        struct servo_error *error)
{
    if (settings_of(c)->adjust == NULL)
        return servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "no-adjust-command",
                               "%s describes %s but has no adjust command", servo_connector_name(c),
                               owned->items[0].component);
    if (d != NULL && check_adjustments(d, owned, error) != 0)
        return -1;
    return run_adjust(c, event, d, owned, error);
}

static int on_adjust(struct servo_connector *c, struct servo_event *event)
{
    const struct exec_settings *s = settings_of(c);
    const struct servo_adjustments *all = servo_event_adjustments(event);
    if (all->count == 0)
        return 0;
    struct servo_error error = {0};
    struct servo_description *d = NULL;
    if (s->describe != NULL || s->components.count > 0) {
        d = known_description(c, event, SERVO_ERROR_ADJUSTMENT_FAILED, &error);
        if (d == NULL)
            return fail_event(event, &error);
    }
    struct servo_adjustments owned = {0};
    select_owned(d, s->adjust != NULL, all, &owned);
    int rc = owned.count == 0 ? 0 : adjust_owned(c, event, d, &owned, &error);
    servo_adjustments_clear(&owned);
    servo_description_free(d);
    return rc == 0 ? 0 : fail_event(event, &error);
}

const struct servo_handler exec_handlers[] = {
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_COMPONENTS, SERVO_ON, on_components},
    {SERVO_EVENT_METRICS, SERVO_ON, on_metrics},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {SERVO_EVENT_ADJUST, SERVO_ON, on_adjust},
    {NULL, 0, NULL},
};
