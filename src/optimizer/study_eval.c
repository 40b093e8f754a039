/* What a study makes of a measurement (study_eval.h). */
#include "optimizer/study_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "types/wire.h"
#include "util/util.h"

/* ---- the objective --------------------------------------------------------------------- */

void study_objective_clear(struct study_objective *o)
{
    free(o->name);
    free(o->metric);
    expr_free(o->expression);
    memset(o, 0, sizeof *o);
}

int study_objective_set(struct study_objective *o, const char *metric, const char *expression,
                        int aggregate, int goal, char **error)
{
    study_objective_clear(o);
    if (metric == NULL && expression == NULL) {
        *error = xstrdup("no objective metric or expression");
        return -1;
    }
    if (metric == NULL) {
        o->expression = expr_parse(expression, error);
        if (o->expression == NULL)
            return -1;
    }
    o->name = xstrdup(metric ? metric : expression);
    o->metric = metric ? xstrdup(metric) : NULL;
    o->aggregate = aggregate >= 0 ? aggregate : AGGREGATE_MEAN;
    o->goal = goal;
    return 0;
}

json_t *study_objective_json(const struct study_objective *o)
{
    json_t *json = json_object();
    json_object_set_new(json, "name", wire_string(o->name));
    json_object_set_new(json, "goal", json_string(study_goal_name(o->goal)));
    json_object_set_new(json, o->metric ? "metric" : "expression", wire_string(o->name));
    json_object_set_new(json, "aggregate",
                        json_string(aggregate_name((enum aggregate)o->aggregate)));
    return json;
}

bool study_objective_from_json(struct study_objective *o, const json_t *json)
{
    const char *metric = json_string_value(json_object_get(json, "metric"));
    const char *expression = json_string_value(json_object_get(json, "expression"));
    const char *aggregate = json_string_value(json_object_get(json, "aggregate"));
    const char *goal = json_string_value(json_object_get(json, "goal"));
    char *error = NULL;
    int rc = study_objective_set(o, metric, metric ? NULL : expression,
                                 aggregate ? aggregate_parse(aggregate) : AGGREGATE_MEAN,
                                 str_eq(goal, "maximize") ? GOAL_MAXIMIZE : GOAL_MINIMIZE, &error);
    free(error);
    return rc == 0;
}

static bool is_throughput(const struct servo_metric *m)
{
    return str_eq(m->unit, "rps") || str_eq(m->unit, "rpm") || strstr(m->name, "throughput");
}

int study_objective_choose(struct study_objective *o, const struct servo_description *d,
                           char **error)
{
    if (d == NULL || d->metric_count == 0) {
        *error = xstrdup("no objective: configure one (objective: {metric, goal}); the "
                         "description has no metrics to choose from");
        return -1;
    }
    const struct servo_metric *m = &d->metrics[0];
    return study_objective_set(o, m->name, NULL, AGGREGATE_MEAN,
                               is_throughput(m) ? GOAL_MAXIMIZE : GOAL_MINIMIZE, error);
}

/* ---- summaries ------------------------------------------------------------------------- */

/* One metric's finite points across its readings, in order, and its latest value. */
struct metric_points {
    const struct servo_reading *first; /* its unit is the summary's */
    double *values;
    size_t count, capacity;
    double last, last_time;
};

static void add_points(struct metric_points *g, const struct servo_reading *r)
{
    for (size_t j = 0; j < r->point_count; j++) {
        const struct servo_point *p = &r->points[j];
        if (!isfinite(p->value))
            continue;
        xgrow((void **)&g->values, sizeof *g->values, g->count, &g->capacity);
        g->values[g->count++] = p->value;
        if (p->time >= g->last_time) {
            g->last_time = p->time;
            g->last = p->value;
        }
    }
}

/* The readings grouped by metric, in the order of first appearance, in one pass (a name ->
 * group table): a measurement of many metrics costs time linear in its points. */
static struct metric_points *group_readings(const struct servo_measurement *m, size_t *count)
{
    struct metric_points *groups = xcalloc(m->reading_count + 1, sizeof *groups);
    json_t *index = json_object();
    *count = 0;
    for (size_t i = 0; i < m->reading_count; i++) {
        const struct servo_reading *r = &m->readings[i];
        if (r->metric == NULL)
            continue;
        const json_t *at = json_object_get(index, r->metric);
        struct metric_points *g = at ? &groups[json_integer_value(at)] : &groups[*count];
        if (at == NULL) {
            *g = (struct metric_points){.first = r, .last = NAN, .last_time = -INFINITY};
            json_object_set_new_nocheck(index, r->metric, json_integer((json_int_t)(*count)++));
        }
        add_points(g, r);
    }
    json_decref(index);
    return groups;
}

json_t *study_summarize(const struct servo_measurement *m)
{
    size_t count = 0;
    struct metric_points *groups = group_readings(m, &count);
    json_t *summaries = json_object();
    for (size_t k = 0; k < count; k++) {
        struct metric_points *g = &groups[k];
        json_t *summary = json_object();
        /* the mean first: it sums the values in their order, before a quantile sorts them */
        for (int a = AGGREGATE_MEAN; a <= AGGREGATE_LAST && g->count > 0; a++)
            json_object_set_new(
                summary, aggregate_name((enum aggregate)a),
                json_real(aggregate_values(g->values, g->count, (enum aggregate)a, g->last)));
        json_object_set_new(summary, "count", json_integer((json_int_t)g->count));
        if (g->first->unit && g->first->unit[0])
            json_object_set_new(summary, "unit", wire_string(g->first->unit));
        wire_set(summaries, g->first->metric, summary);
        free(g->values);
    }
    free(groups);
    return summaries;
}

static bool summary_value(const json_t *summaries, const char *metric, int aggregate, double *value)
{
    const json_t *v = json_object_get(json_object_get(summaries, metric),
                                      aggregate_name((enum aggregate)aggregate));
    if (!json_is_number(v))
        return false;
    *value = json_number_value(v);
    return isfinite(*value);
}

/* ---- the objective's value ------------------------------------------------------------- */

struct lookup {
    const struct study_objective *objective;
    const struct study_space *space; /* NULL: a bare name is matched on the settings' keys */
    const json_t *metrics;
    const json_t *settings;
};

/* A bare setting name against "component.setting" keys: the only key with that suffix. */
static const json_t *setting_by_suffix(const json_t *settings, const char *name)
{
    const json_t *found = NULL;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)settings, key, value)
    {
        const char *dot = strrchr(key, '.');
        if (dot == NULL || !str_eq(dot + 1, name))
            continue;
        if (found != NULL)
            return NULL; /* ambiguous */
        found = value;
    }
    return found;
}

static bool lookup_setting(const struct lookup *l, const char *name, double *value)
{
    const json_t *v = json_object_get(l->settings, name);
    const struct study_space *space = l->space;
    if (v == NULL && space == NULL)
        v = setting_by_suffix(l->settings, name);
    for (size_t i = 0; v == NULL && space != NULL && i < space->count; i++) {
        /* a bare setting name, when a single component has it */
        if (!str_eq(space->params[i].setting, name))
            continue;
        for (size_t k = i + 1; k < space->count; k++)
            if (str_eq(space->params[k].setting, name))
                return false; /* ambiguous */
        v = json_object_get(l->settings, space->params[i].name);
    }
    if (json_is_number(v)) {
        *value = json_number_value(v);
        return true;
    }
    return json_is_string(v) && wire_parse_decimal(json_string_value(v), value, NULL);
}

static bool lookup_name(void *context, const char *name, double *value)
{
    const struct lookup *l = context;
    if (summary_value(l->metrics, name, l->objective->aggregate, value))
        return true;
    return lookup_setting(l, name, value);
}

bool study_objective_value(const struct study_objective *o, const struct study_space *space,
                           const json_t *metrics, const json_t *settings, double *value,
                           char **message)
{
    if (o == NULL) {
        *message = xstrdup("no objective chosen");
        return false;
    }
    if (o->metric != NULL) {
        if (summary_value(metrics, o->metric, o->aggregate, value))
            return true;
        *message =
            xasprintf("the measurement has no finite value of the objective metric %s", o->metric);
        return false;
    }
    struct lookup l = {o, space, metrics, settings};
    char *error = NULL;
    if (expr_eval(o->expression, lookup_name, &l, value, &error) != 0) {
        *message = xasprintf("the objective cannot be computed: %s", error ? error : "?");
        free(error);
        return false;
    }
    if (!isfinite(*value)) {
        *message = xstrdup("the objective expression is not a finite number");
        return false;
    }
    return true;
}

/* ---- constraints ----------------------------------------------------------------------- */

double study_constraint_g(int keep, double value, double threshold)
{
    return keep == KEEP_ABOVE ? threshold - value : value - threshold;
}

static double constraint_threshold(const struct constraint_settings *c, const json_t *baseline)
{
    if (!isnan(c->threshold))
        return c->threshold;
    double value = NAN;
    if (!summary_value(baseline, c->metric, c->aggregate, &value))
        return NAN;
    return value * c->baseline_multiplier;
}

/* [{metric, keep, threshold, value, satisfied}]; counts the broken and the unknown ones. */
static json_t *evaluate_constraints(const struct study_eval *e, const json_t *metrics,
                                    size_t *broken, size_t *unknown)
{
    json_t *list = json_array();
    json_t *baseline = e->baseline_metrics ? json_loads(e->baseline_metrics, 0, NULL) : NULL;
    const struct constraint_settings *items = e->constraints ? e->constraints->items : NULL;
    for (size_t i = 0; e->constraints != NULL && i < e->constraints->count; i++) {
        const struct constraint_settings *c = &items[i];
        double threshold = constraint_threshold(c, baseline), value = NAN;
        if (!summary_value(metrics, c->metric, c->aggregate, &value))
            value = NAN;
        double g = study_constraint_g(c->keep, value, threshold);
        bool known = isfinite(g);
        json_t *item = json_object();
        json_object_set_new(item, "metric", wire_string(c->metric));
        json_object_set_new(item, "keep", json_string(study_keep_name(c->keep)));
        json_object_set_new(item, "threshold",
                            isfinite(threshold) ? json_real(threshold) : json_null());
        json_object_set_new(item, "value", isfinite(value) ? json_real(value) : json_null());
        json_object_set_new(item, "satisfied", known ? json_boolean(g <= 0) : json_null());
        json_array_append_new(list, item);
        *broken += known && g > 0 ? 1 : 0;
        *unknown += known ? 0 : 1;
    }
    json_decref(baseline);
    return list;
}

/* ---- a trial --------------------------------------------------------------------------- */

static void set_text(char **field, const char *text)
{
    char *copy = text ? xstrdup(text) : NULL;
    free(*field);
    *field = copy;
}

static void set_outcome(struct store_trial *t, const char *reason, const char *message)
{
    set_text(&t->reason, reason);
    set_text(&t->message, message);
}

void study_evaluate(const struct study_eval *e, struct store_trial *t)
{
    json_t *metrics = t->metrics ? json_loads(t->metrics, 0, NULL) : NULL;
    json_t *settings = t->settings ? json_loads(t->settings, 0, NULL) : NULL;
    char *message = NULL;
    double value = NAN;
    t->has_objective =
        study_objective_value(e->objective, e->space, metrics, settings, &value, &message);
    for (size_t i = 1; t->has_objective && i < e->objective_count; i++) {
        double other;
        t->has_objective =
            study_objective_value(&e->objectives[i], e->space, metrics, settings, &other, &message);
    }
    t->objective = t->has_objective ? value : NAN;
    size_t broken = 0, unknown = 0;
    json_t *constraints = evaluate_constraints(e, metrics, &broken, &unknown);
    free(t->constraints);
    t->constraints = json_dumps(constraints, JSON_COMPACT);
    json_decref(constraints);
    t->feasible = t->has_objective && broken == 0 && unknown == 0;
    if (!t->has_objective)
        set_outcome(t, "objective-missing", message ? message : "no objective");
    else if (unknown > 0)
        set_outcome(t, "constraint-missing",
                    "a constraint's metric (or its baseline value) is missing");
    else if (broken > 0)
        set_outcome(t, "slo-violation", NULL);
    else
        set_outcome(t, NULL, NULL);
    free(message);
    json_decref(metrics);
    json_decref(settings);
}

bool study_trial_objectives(const struct study_objective *objectives, size_t count,
                            const struct study_space *space, const struct store_trial *t,
                            double *values)
{
    json_t *metrics = t->metrics ? json_loads(t->metrics, 0, NULL) : NULL;
    json_t *settings = t->settings ? json_loads(t->settings, 0, NULL) : NULL;
    bool all = true;
    for (size_t i = 0; i < count; i++) {
        char *message = NULL;
        if (!study_objective_value(&objectives[i], space, metrics, settings, &values[i],
                                   &message)) {
            values[i] = NAN;
            all = false;
        }
        free(message);
    }
    json_decref(metrics);
    json_decref(settings);
    return all;
}

json_t *study_objectives_json(const struct study_objective *objectives, size_t count)
{
    json_t *first = study_objective_json(&objectives[0]);
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, study_objective_json(&objectives[i]));
    json_object_set_new(first, "objectives", list);
    return first;
}

size_t study_objectives_from_json(struct study_objective *objectives, const json_t *json)
{
    const json_t *list = json_object_get(json, "objectives");
    size_t count = json_array_size(list);
    if (count < 2 || count > STUDY_MAX_OBJECTIVES)
        return 0;
    for (size_t i = 0; i < count; i++)
        if (!study_objective_from_json(&objectives[i], json_array_get(list, i))) {
            for (size_t j = 0; j <= i; j++)
                study_objective_clear(&objectives[j]);
            return 0;
        }
    return count;
}
