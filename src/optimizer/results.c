/* A study's results: the document and its text forms (results.h). */
#include "optimizer/results.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optimizer/study_config.h"
#include "optimizer/study_pareto.h"
#include "types/wire.h"
#include "util/util.h"

/* ---- the best trial -------------------------------------------------------------------- */

static bool better(int goal, double a, double b)
{
    return goal == GOAL_MAXIMIZE ? a > b : a < b;
}

long results_best_trial(const struct store_trial *trials, size_t count, int goal)
{
    long best = -1;
    for (size_t i = 0; i < count; i++) {
        const struct store_trial *t = &trials[i];
        if (!t->feasible || !t->has_objective || !isfinite(t->objective))
            continue;
        if (best < 0 || better(goal, t->objective, trials[best].objective))
            best = (long)i;
    }
    return best < 0 ? -1 : (long)trials[best].number;
}

/* ---- the document ---------------------------------------------------------------------- */

static json_t *parsed(const char *text)
{
    json_t *json = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return json ? json : json_null();
}

static json_t *text_or_null(const char *text)
{
    return text ? wire_string(text) : json_null();
}

static json_t *time_or_null(double t)
{
    return t > 0 ? json_real(t) : json_null();
}

static json_t *trial_json(const struct store_trial *t)
{
    json_t *json = json_object();
    json_object_set_new(json, "number", json_integer(t->number));
    json_object_set_new(json, "baseline", json_boolean(t->number == 0));
    json_object_set_new(json, "status", text_or_null(t->status));
    json_object_set_new(json, "reason", text_or_null(t->reason));
    json_object_set_new(json, "message", text_or_null(t->message));
    json_object_set_new(json, "feasible", json_boolean(t->feasible));
    json_object_set_new(json, "objective",
                        t->has_objective && isfinite(t->objective) ? json_real(t->objective)
                                                                   : json_null());
    json_object_set_new(json, "settings", parsed(t->settings));
    json_object_set_new(json, "metrics", parsed(t->metrics));
    json_t *constraints = parsed(t->constraints);
    json_object_set_new(json, "constraints",
                        json_is_array(constraints) ? constraints : json_array());
    if (!json_is_array(constraints))
        json_decref(constraints);
    json_object_set_new(json, "adjust_uid", text_or_null(t->adjust_uid));
    json_object_set_new(json, "measure_uid", text_or_null(t->measure_uid));
    json_object_set_new(json, "started", time_or_null(t->started));
    json_object_set_new(json, "finished", time_or_null(t->finished));
    return json;
}

/* The described settings, flattened: [{"name": "C.S", "type", "min", ...}]. */
static json_t *settings_list(const char *description)
{
    json_t *descriptor = parsed(description);
    json_t *components = json_object_get(json_object_get(descriptor, "application"), "components");
    json_t *list = json_array();
    const char *component;
    json_t *c;
    json_object_foreach(components, component, c)
    {
        const char *name;
        json_t *setting;
        json_object_foreach(json_object_get(c, "settings"), name, setting)
        {
            if (!json_is_object(setting))
                continue;
            json_t *item = json_deep_copy(setting);
            char *full = xasprintf("%s.%s", component, name);
            json_object_set_new(item, "name", wire_string(full));
            free(full);
            json_array_append_new(list, item);
        }
    }
    json_decref(descriptor);
    return list;
}

static int document_goal(const json_t *objective)
{
    return str_eq(json_string_value(json_object_get(objective, "goal")), "maximize")
               ? GOAL_MAXIMIZE
               : GOAL_MINIMIZE;
}

static size_t slo_violations(const struct store_trial *trials, size_t count)
{
    size_t violations = 0;
    for (size_t i = 0; i < count; i++)
        violations += str_eq(trials[i].reason, "slo-violation") ? 1 : 0;
    return violations;
}

/* The configured prefer weights when there is one per objective. */
static bool prefer_weights(const json_t *config, size_t k, double *weights)
{
    const json_t *prefer = json_object_get(config, "prefer");
    if (json_array_size(prefer) != k)
        return false;
    for (size_t j = 0; j < k; j++)
        weights[j] = json_number_value(json_array_get(prefer, j));
    return true;
}

/* Several objectives: "objectives" (their definitions), each trial's "objectives" (values in
 * that order), "pareto" (the front's trial numbers) and "best" (the front's trial the prefer
 * weights pick). Returns false for a single-objective study. */
static bool add_front(json_t *doc, const json_t *config, const json_t *objective,
                      const struct store_trial *trials, size_t count)
{
    struct study_objective objectives[STUDY_MAX_OBJECTIVES] = {0};
    size_t k = study_objectives_from_json(objectives, objective);
    if (k == 0)
        return false;
    double weights[STUDY_MAX_OBJECTIVES];
    bool weighted = prefer_weights(config, k, weights);
    struct study_front f;
    study_front_build(&f, objectives, k, NULL, trials, count, weighted ? weights : NULL);
    json_object_set(doc, "objectives", json_object_get(objective, "objectives"));
    json_t *list = json_object_get(doc, "trials");
    for (size_t i = 0; i < count; i++) {
        json_t *values = json_array();
        for (size_t j = 0; j < k; j++) {
            double v = f.values[i * k + j];
            json_array_append_new(values, isfinite(v) ? json_real(v) : json_null());
        }
        json_object_set_new(json_array_get(list, i), "objectives", values);
    }
    json_t *front = json_array();
    for (size_t i = 0; i < f.front_count; i++)
        json_array_append_new(front, json_integer(trials[f.front[i]].number));
    json_object_set_new(doc, "pareto", front);
    json_object_set_new(doc, "best",
                        f.pick >= 0 ? json_integer(trials[f.pick].number) : json_null());
    study_front_free(&f);
    for (size_t j = 0; j < k; j++)
        study_objective_clear(&objectives[j]);
    return true;
}

json_t *results_document(const struct store_app *app, const struct store_trial *trials,
                         size_t count)
{
    json_t *doc = json_object();
    json_t *config = parsed(app->config);
    json_t *objective = parsed(app->objective);
    json_object_set_new(doc, "application", text_or_null(app->id));
    json_object_set_new(doc, "phase", text_or_null(app->phase));
    json_object_set_new(doc, "reason", text_or_null(app->reason));
    json_t *budget = json_object_get(config, "budget"), *seed = json_object_get(config, "seed");
    json_object_set_new(doc, "budget", budget ? json_incref(budget) : json_null());
    json_object_set_new(doc, "seed", seed ? json_incref(seed) : json_null());
    json_object_set(doc, "objective", objective);
    json_t *constraints = json_object_get(config, "constraints");
    json_object_set_new(doc, "constraints",
                        json_is_array(constraints) ? json_deep_copy(constraints) : json_array());
    json_object_set_new(doc, "settings", settings_list(app->description));
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, trial_json(&trials[i]));
    json_object_set_new(doc, "trials", list);
    json_object_set_new(doc, "baseline",
                        count > 0 && trials[0].number == 0 ? json_integer(0) : json_null());
    json_object_set_new(doc, "slo_violations",
                        json_integer((json_int_t)slo_violations(trials, count)));
    if (!add_front(doc, config, objective, trials, count)) {
        long best = results_best_trial(trials, count, document_goal(objective));
        json_object_set_new(doc, "best", best >= 0 ? json_integer(best) : json_null());
        json_object_set_new(doc, "objectives", json_null());
        json_object_set_new(doc, "pareto", json_null());
    }
    json_decref(objective);
    json_decref(config);
    return doc;
}

json_t *results_load(struct store *store, const char *id, char **error)
{
    char **ids = NULL;
    size_t count = 0;
    if (id == NULL) {
        if (store_list_apps(store, &ids, &count, error) != 0)
            return NULL;
        if (count != 1) {
            struct strbuf sb;
            strbuf_init(&sb);
            for (size_t i = 0; i < count; i++)
                strbuf_printf(&sb, "%s%s", i ? ", " : "", ids[i]);
            *error = count == 0 ? xasprintf("%s holds no study yet", store_path(store))
                                : xasprintf("%s holds %zu studies; pick one with --app (%s)",
                                            store_path(store), count, sb.data);
            strbuf_release(&sb);
            store_ids_free(ids, count);
            return NULL;
        }
        id = ids[0];
    }
    struct store_app app;
    bool found = false;
    struct store_trial *trials = NULL;
    size_t trial_count = 0;
    json_t *doc = NULL;
    if (store_load_app(store, id, &app, &found, error) == 0 && !found)
        *error = xasprintf("%s holds no study of \"%s\"", store_path(store), id);
    else if (found && store_load_trials(store, id, &trials, &trial_count, error) == 0)
        doc = results_document(&app, trials, trial_count);
    store_trials_free(trials, trial_count);
    store_app_clear(&app);
    store_ids_free(ids, count);
    return doc;
}

/* ---- reading the document -------------------------------------------------------------- */

static const json_t *trial_at(const json_t *doc, const json_t *number)
{
    if (!json_is_integer(number))
        return NULL;
    json_int_t n = json_integer_value(number);
    const json_t *trials = json_object_get(doc, "trials");
    const json_t *t = json_array_get(trials, (size_t)n);
    return json_integer_value(json_object_get(t, "number")) == n ? t : NULL;
}

static const char *objective_name(const json_t *doc)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(doc, "objective"), "name"));
    return name ? name : "objective";
}

static const char *objective_label(const json_t *objectives, size_t i)
{
    const char *name = json_string_value(json_object_get(json_array_get(objectives, i), "name"));
    return name ? name : "objective";
}

/* A JSON value as table text: numbers with 6 significant digits. */
static void put_value(struct strbuf *sb, const json_t *v)
{
    if (json_is_number(v))
        strbuf_printf(sb, "%.6g", json_number_value(v));
    else if (json_is_string(v))
        strbuf_puts(sb, json_string_value(v));
    else if (json_is_true(v))
        strbuf_puts(sb, "yes");
    else if (json_is_false(v))
        strbuf_puts(sb, "no");
    else
        strbuf_puts(sb, "-");
}

static char *value_text(const json_t *v)
{
    struct strbuf sb;
    strbuf_init(&sb);
    put_value(&sb, v);
    return strbuf_detach(&sb);
}

char *results_time_text(double seconds)
{
    if (!isfinite(seconds) || seconds <= 0 || seconds > 253402300799.0) /* after 9999 */
        return xstrdup("");
    time_t whole = (time_t)floor(seconds);
    int millis = (int)llround((seconds - (double)whole) * 1000.0);
    if (millis == 1000) {
        whole++;
        millis = 0;
    }
    struct tm tm;
    char text[40] = "";
    if (gmtime_r(&whole, &tm) != NULL)
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%03dZ", text, millis);
}

static char *time_value_text(const json_t *v)
{
    return results_time_text(json_is_number(v) ? json_number_value(v) : 0);
}

/* ---- tables ---------------------------------------------------------------------------- */

struct grid {
    size_t columns, rows;
    char **cells; /* rows x columns, owned */
};

static void grid_add(struct grid *g, char **row)
{
    g->cells = xrealloc(g->cells, (g->rows + 1) * g->columns * sizeof *g->cells);
    memcpy(&g->cells[g->rows * g->columns], row, g->columns * sizeof *row);
    g->rows++;
}

static void grid_free(struct grid *g)
{
    for (size_t i = 0; i < g->rows * g->columns; i++)
        free(g->cells[i]);
    free(g->cells);
}

static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80; /* count UTF-8 characters */
    return n;
}

static void grid_text(const struct grid *g, struct strbuf *out)
{
    size_t *width = xcalloc(g->columns, sizeof *width);
    for (size_t r = 0; r < g->rows; r++)
        for (size_t c = 0; c < g->columns; c++) {
            size_t w = text_width(g->cells[r * g->columns + c]);
            width[c] = w > width[c] ? w : width[c];
        }
    for (size_t r = 0; r < g->rows; r++) {
        for (size_t c = 0; c < g->columns; c++) {
            const char *cell = g->cells[r * g->columns + c];
            bool last = c + 1 == g->columns;
            strbuf_puts(out, cell);
            for (size_t k = text_width(cell); !last && k < width[c] + 2; k++)
                strbuf_putc(out, ' ');
        }
        strbuf_putc(out, '\n');
    }
    free(width);
}

static void csv_cell(struct strbuf *out, const char *cell)
{
    if (strpbrk(cell, ",\"\n\r") == NULL) {
        strbuf_puts(out, cell);
        return;
    }
    strbuf_putc(out, '"');
    for (const char *p = cell; *p; p++) {
        if (*p == '"')
            strbuf_putc(out, '"');
        strbuf_putc(out, *p);
    }
    strbuf_putc(out, '"');
}

static void grid_csv(const struct grid *g, struct strbuf *out)
{
    for (size_t r = 0; r < g->rows; r++) {
        for (size_t c = 0; c < g->columns; c++) {
            if (c > 0)
                strbuf_putc(out, ',');
            csv_cell(out, g->cells[r * g->columns + c]);
        }
        strbuf_puts(out, "\r\n");
    }
}

/* The trials as rows: #, STATUS, FEASIBLE, objective, each constraint, each setting, REASON;
 * CSV rows also carry the times. */
static void history_grid(const json_t *doc, bool csv, struct grid *g)
{
    const json_t *constraints = json_object_get(doc, "constraints");
    const json_t *settings = json_object_get(doc, "settings");
    const json_t *objectives = json_object_get(doc, "objectives");
    size_t nc = json_array_size(constraints), ns = json_array_size(settings);
    size_t no = json_array_size(objectives) ? json_array_size(objectives) : 1;
    g->columns = 3 + no + nc + ns + 1 + (csv ? 3 : 0);
    g->rows = 0;
    g->cells = NULL;
    char **row = xcalloc(g->columns, sizeof *row);
    size_t k = 0;
    row[k++] = xstrdup(csv ? "number" : "TRIAL");
    row[k++] = xstrdup(csv ? "status" : "STATUS");
    row[k++] = xstrdup(csv ? "feasible" : "FEASIBLE");
    for (size_t i = 0; i < no; i++)
        row[k++] = xstrdup(json_array_size(objectives) ? objective_label(objectives, i)
                                                       : objective_name(doc));
    for (size_t i = 0; i < nc; i++)
        row[k++] =
            xstrdup(json_string_value(json_object_get(json_array_get(constraints, i), "metric")));
    for (size_t i = 0; i < ns; i++)
        row[k++] = xstrdup(json_string_value(json_object_get(json_array_get(settings, i), "name")));
    row[k++] = xstrdup(csv ? "reason" : "REASON");
    if (csv) {
        row[k++] = xstrdup("message");
        row[k++] = xstrdup("started");
        row[k++] = xstrdup("finished");
    }
    grid_add(g, row);
    size_t index;
    const json_t *t;
    json_array_foreach(json_object_get(doc, "trials"), index, t)
    {
        k = 0;
        json_int_t number = json_integer_value(json_object_get(t, "number"));
        row[k++] = number == 0 && !csv ? xstrdup("baseline") : xasprintf("%lld", (long long)number);
        row[k++] = value_text(json_object_get(t, "status"));
        row[k++] = value_text(json_object_get(t, "feasible"));
        for (size_t i = 0; i < no; i++)
            row[k++] = value_text(json_array_size(objectives)
                                      ? json_array_get(json_object_get(t, "objectives"), i)
                                      : json_object_get(t, "objective"));
        for (size_t i = 0; i < nc; i++)
            row[k++] = value_text(
                json_object_get(json_array_get(json_object_get(t, "constraints"), i), "value"));
        for (size_t i = 0; i < ns; i++) {
            const char *name =
                json_string_value(json_object_get(json_array_get(settings, i), "name"));
            row[k++] = value_text(json_object_get(json_object_get(t, "settings"), name));
        }
        row[k++] = value_text(json_object_get(t, "reason"));
        if (csv) {
            row[k++] = value_text(json_object_get(t, "message"));
            row[k++] = time_value_text(json_object_get(t, "started"));
            row[k++] = time_value_text(json_object_get(t, "finished"));
        }
        grid_add(g, row);
    }
    free(row);
}

char *results_history_text(const json_t *doc)
{
    struct grid g;
    history_grid(doc, false, &g);
    struct strbuf sb;
    strbuf_init(&sb);
    grid_text(&g, &sb);
    grid_free(&g);
    strbuf_printf(&sb, "SLO violations: %lld of %zu trials\n",
                  (long long)json_integer_value(json_object_get(doc, "slo_violations")),
                  json_array_size(json_object_get(doc, "trials")));
    return strbuf_detach(&sb);
}

char *results_history_csv(const json_t *doc)
{
    struct grid g;
    history_grid(doc, true, &g);
    struct strbuf sb;
    strbuf_init(&sb);
    grid_csv(&g, &sb);
    grid_free(&g);
    return strbuf_detach(&sb);
}

/* ---- the studies of a store ------------------------------------------------------------ */

static json_t *study_entry(struct store *store, const char *id, char **error)
{
    struct store_app app;
    memset(&app, 0, sizeof app);
    bool found = false;
    struct store_trial *trials = NULL;
    size_t count = 0;
    json_t *entry = NULL;
    if (store_load_app(store, id, &app, &found, error) == 0 && found &&
        store_load_trials(store, id, &trials, &count, error) == 0)
        entry = json_pack("{s:s, s:s?, s:s?, s:I, s:f, s:f}", "application", id, "phase", app.phase,
                          "reason", app.reason, "trials", (json_int_t)count, "created", app.created,
                          "updated", app.updated);
    store_trials_free(trials, count);
    store_app_clear(&app);
    return entry;
}

json_t *results_studies(struct store *store, char **error)
{
    char **ids = NULL;
    size_t count = 0;
    if (store_list_apps(store, &ids, &count, error) != 0)
        return NULL;
    json_t *list = json_array();
    for (size_t i = 0; i < count && list != NULL; i++) {
        json_t *entry = study_entry(store, ids[i], error);
        if (entry == NULL && *error != NULL) {
            json_decref(list);
            list = NULL;
        } else if (entry != NULL) {
            json_array_append_new(list, entry);
        }
    }
    store_ids_free(ids, count);
    return list;
}

char *results_studies_text(const json_t *studies, bool csv)
{
    static const char *const header[] = {"STUDY",   "PHASE",   "TRIALS",
                                         "CREATED", "UPDATED", "REASON"};
    static const char *const csv_header[] = {"study",   "phase",   "trials",
                                             "created", "updated", "reason"};
    struct grid g = {.columns = ARRAY_LEN(header)};
    char *row[ARRAY_LEN(header)];
    for (size_t c = 0; c < ARRAY_LEN(header); c++)
        row[c] = xstrdup(csv ? csv_header[c] : header[c]);
    grid_add(&g, row);
    size_t i;
    const json_t *study;
    json_array_foreach(studies, i, study)
    {
        row[0] = value_text(json_object_get(study, "application"));
        row[1] = value_text(json_object_get(study, "phase"));
        row[2] = value_text(json_object_get(study, "trials"));
        row[3] = time_value_text(json_object_get(study, "created"));
        row[4] = time_value_text(json_object_get(study, "updated"));
        row[5] = value_text(json_object_get(study, "reason"));
        grid_add(&g, row);
    }
    struct strbuf sb;
    strbuf_init(&sb);
    if (csv)
        grid_csv(&g, &sb);
    else
        grid_text(&g, &sb);
    grid_free(&g);
    return strbuf_detach(&sb);
}

/* ---- the best trial against the baseline ----------------------------------------------- */

static void put_change(struct strbuf *sb, const json_t *value, const json_t *baseline)
{
    if (!json_is_number(value) || !json_is_number(baseline))
        return;
    double v = json_number_value(value), b = json_number_value(baseline);
    if (b != 0 && isfinite(v / b))
        strbuf_printf(sb, ", %+.1f%%", 100.0 * (v - b) / fabs(b));
}

static void put_versus(struct strbuf *sb, const json_t *value, const json_t *baseline)
{
    put_value(sb, value);
    strbuf_puts(sb, " (baseline ");
    put_value(sb, baseline);
    put_change(sb, value, baseline);
    strbuf_putc(sb, ')');
}

json_t *results_best_json(const json_t *doc)
{
    const json_t *best = trial_at(doc, json_object_get(doc, "best"));
    const json_t *baseline = trial_at(doc, json_object_get(doc, "baseline"));
    json_t *json = json_object();
    json_object_set(json, "application", json_object_get(doc, "application"));
    json_object_set(json, "objective", json_object_get(doc, "objective"));
    json_object_set_new(json, "best", best ? json_deep_copy(best) : json_null());
    json_object_set_new(json, "baseline", baseline ? json_deep_copy(baseline) : json_null());
    return json;
}

static void best_constraints(struct strbuf *sb, const json_t *best, const json_t *baseline)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(best, "constraints"), i, c)
    {
        const json_t *base = json_array_get(json_object_get(baseline, "constraints"), i);
        strbuf_printf(sb, "  %s %s ", json_string_value(json_object_get(c, "metric")),
                      json_string_value(json_object_get(c, "keep")));
        put_value(sb, json_object_get(c, "threshold"));
        strbuf_puts(sb, ": ");
        put_versus(sb, json_object_get(c, "value"), json_object_get(base, "value"));
        strbuf_puts(sb, json_is_true(json_object_get(c, "satisfied")) ? " ok\n" : " broken\n");
    }
}

static void best_settings(struct strbuf *sb, const json_t *best, const json_t *baseline)
{
    const char *name;
    const json_t *value;
    json_object_foreach(json_object_get(best, "settings"), name, value)
    {
        strbuf_printf(sb, "  %s = ", name);
        put_value(sb, value);
        const json_t *base = json_object_get(json_object_get(baseline, "settings"), name);
        if (base != NULL && !json_equal(value, base)) {
            strbuf_puts(sb, " (baseline ");
            put_value(sb, base);
            strbuf_putc(sb, ')');
        }
        strbuf_putc(sb, '\n');
    }
}

/* Several objectives: each one's value against the baseline's. */
static void best_objectives(struct strbuf *sb, const json_t *objectives, const json_t *best,
                            const json_t *baseline)
{
    strbuf_puts(sb, "Objectives (the Pareto front's trial the prefer weights pick):\n");
    size_t i;
    const json_t *o;
    json_array_foreach(objectives, i, o)
    {
        strbuf_printf(sb, "  %s (%s %s) = ", objective_label(objectives, i),
                      json_string_value(json_object_get(o, "goal")),
                      json_string_value(json_object_get(o, "aggregate")));
        put_versus(sb, json_array_get(json_object_get(best, "objectives"), i),
                   json_array_get(json_object_get(baseline, "objectives"), i));
        strbuf_putc(sb, '\n');
    }
}

char *results_best_text(const json_t *doc)
{
    const json_t *best = trial_at(doc, json_object_get(doc, "best"));
    const json_t *baseline = trial_at(doc, json_object_get(doc, "baseline"));
    const json_t *objective = json_object_get(doc, "objective");
    struct strbuf sb;
    strbuf_init(&sb);
    if (best == NULL) {
        strbuf_printf(&sb, "No feasible trial among %zu.\n",
                      json_array_size(json_object_get(doc, "trials")));
        return strbuf_detach(&sb);
    }
    json_int_t number = json_integer_value(json_object_get(best, "number"));
    if (number == 0)
        strbuf_puts(&sb, "Best: the baseline (no trial did better)\n");
    else
        strbuf_printf(&sb, "Best: trial %lld\n", (long long)number);
    const json_t *objectives = json_object_get(doc, "objectives");
    if (json_array_size(objectives) > 0) {
        best_objectives(&sb, objectives, best, baseline);
    } else {
        strbuf_printf(&sb, "Objective: %s (%s %s) = ", objective_name(doc),
                      json_string_value(json_object_get(objective, "goal")),
                      json_string_value(json_object_get(objective, "aggregate")));
        put_versus(&sb, json_object_get(best, "objective"), json_object_get(baseline, "objective"));
        strbuf_putc(&sb, '\n');
    }
    if (json_array_size(json_object_get(best, "constraints")) > 0) {
        strbuf_puts(&sb, "Constraints:\n");
        best_constraints(&sb, best, baseline);
    }
    strbuf_puts(&sb, "Settings:\n");
    best_settings(&sb, best, baseline);
    return strbuf_detach(&sb);
}

/* ---- the summary ----------------------------------------------------------------------- */

static void count_trials(const json_t *doc, size_t *feasible, size_t *failed)
{
    size_t i;
    const json_t *t;
    *feasible = *failed = 0;
    json_array_foreach(json_object_get(doc, "trials"), i, t)
    {
        *feasible += json_is_true(json_object_get(t, "feasible")) ? 1 : 0;
        *failed += str_eq(json_string_value(json_object_get(t, "status")), "ok") ? 0 : 1;
    }
}

char *results_summary_text(const json_t *doc)
{
    struct strbuf sb;
    strbuf_init(&sb);
    const char *phase = json_string_value(json_object_get(doc, "phase"));
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    size_t trials = json_array_size(json_object_get(doc, "trials")), feasible, failed;
    count_trials(doc, &feasible, &failed);
    if (str_eq(phase, "failed"))
        strbuf_printf(&sb, "Optimization failed: %s\n", reason ? reason : "unknown reason");
    else if (str_eq(phase, "done") && reason && !str_eq(reason, "optimization complete"))
        strbuf_printf(&sb, "Optimization complete, with a problem: %s\n", reason);
    else if (str_eq(phase, "done"))
        strbuf_puts(&sb, "Optimization complete\n");
    else
        strbuf_printf(&sb, "Optimization stopped before the end (%s)\n", phase ? phase : "?");
    long long violations = (long long)json_integer_value(json_object_get(doc, "slo_violations"));
    if (trials == 0)
        strbuf_puts(&sb, "Trials: no trials yet\n");
    else if (trials == 1)
        strbuf_printf(&sb,
                      "Trials: 1 (the baseline), %zu feasible, %zu not measured, %lld SLO "
                      "violations\n",
                      feasible, failed, violations);
    else
        strbuf_printf(&sb,
                      "Trials: %zu (the baseline and %zu more), %zu feasible, %zu not measured, "
                      "%lld SLO violations\n",
                      trials, trials - 1, feasible, failed, violations);
    if (trials > 0) {
        strbuf_putc(&sb, '\n');
        char *best = results_best_text(doc);
        strbuf_puts(&sb, best);
        free(best);
        if (json_is_array(json_object_get(doc, "pareto"))) {
            strbuf_putc(&sb, '\n');
            char *front = results_pareto_text(doc);
            strbuf_puts(&sb, front);
            free(front);
        }
        strbuf_putc(&sb, '\n');
        char *history = results_history_text(doc);
        strbuf_puts(&sb, history);
        free(history);
    }
    return strbuf_detach(&sb);
}

/* ---- the Pareto front ------------------------------------------------------------------ */

static json_t *pareto_entry(const json_t *trial, const json_t *values)
{
    json_t *entry = json_object();
    json_object_set(entry, "number", json_object_get(trial, "number"));
    json_object_set(entry, "settings", json_object_get(trial, "settings"));
    json_object_set_new(entry, "objectives", json_deep_copy(values));
    return entry;
}

json_t *results_pareto_json(const json_t *doc)
{
    json_t *list = json_array();
    const json_t *front = json_object_get(doc, "pareto");
    if (!json_is_array(front)) { /* single-objective: the best trial */
        const json_t *best = trial_at(doc, json_object_get(doc, "best"));
        if (best != NULL) {
            json_t *values = json_pack("[O]", json_object_get(best, "objective"));
            json_array_append_new(list, pareto_entry(best, values));
            json_decref(values);
        }
        return list;
    }
    size_t i;
    const json_t *number;
    json_array_foreach(front, i, number)
    {
        const json_t *t = trial_at(doc, number);
        if (t != NULL)
            json_array_append_new(list, pareto_entry(t, json_object_get(t, "objectives")));
    }
    return list;
}

static void front_header(struct strbuf *sb, const json_t *doc)
{
    const json_t *objectives = json_object_get(doc, "objectives");
    size_t count = json_array_size(json_object_get(doc, "pareto"));
    strbuf_printf(sb, "Pareto front: %zu feasible trial%s no other beats on every objective (",
                  count, count == 1 ? "" : "s");
    size_t i;
    const json_t *o;
    json_array_foreach(objectives, i, o)
        strbuf_printf(sb, "%s%s: %s", i ? ", " : "", objective_label(objectives, i),
                      json_string_value(json_object_get(o, "goal")));
    strbuf_puts(sb, "); * the one the study ends on\n");
}

char *results_pareto_text(const json_t *doc)
{
    struct strbuf sb;
    strbuf_init(&sb);
    const json_t *front = json_object_get(doc, "pareto");
    if (!json_is_array(front)) {
        strbuf_puts(&sb, "A single-objective study: no Pareto front; its best trial:\n");
        char *best = results_best_text(doc);
        strbuf_puts(&sb, best);
        free(best);
        return strbuf_detach(&sb);
    }
    front_header(&sb, doc);
    const json_t *objectives = json_object_get(doc, "objectives");
    const json_t *settings = json_object_get(doc, "settings");
    size_t no = json_array_size(objectives), ns = json_array_size(settings);
    struct grid g = {.columns = 1 + no + ns};
    char **row = xcalloc(g.columns, sizeof *row);
    size_t k = 0;
    row[k++] = xstrdup("TRIAL");
    for (size_t i = 0; i < no; i++)
        row[k++] = xstrdup(objective_label(objectives, i));
    for (size_t i = 0; i < ns; i++)
        row[k++] = xstrdup(json_string_value(json_object_get(json_array_get(settings, i), "name")));
    grid_add(&g, row);
    json_int_t pick = json_integer_value(json_object_get(doc, "best"));
    size_t index;
    const json_t *number;
    json_array_foreach(front, index, number)
    {
        const json_t *t = trial_at(doc, number);
        if (t == NULL)
            continue;
        k = 0;
        json_int_t n = json_integer_value(number);
        row[k++] = xasprintf("%lld%s", (long long)n, n == pick ? " *" : "");
        for (size_t i = 0; i < no; i++)
            row[k++] = value_text(json_array_get(json_object_get(t, "objectives"), i));
        for (size_t i = 0; i < ns; i++) {
            const char *name =
                json_string_value(json_object_get(json_array_get(settings, i), "name"));
            row[k++] = value_text(json_object_get(json_object_get(t, "settings"), name));
        }
        grid_add(&g, row);
    }
    free(row);
    grid_text(&g, &sb);
    grid_free(&g);
    return strbuf_detach(&sb);
}
