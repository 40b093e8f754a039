/* A study: the Opsani protocol state machine of one application over the engine and the
 * store (study.h). Its state is its store rows (struct store_app and the trials), kept in
 * memory and written back in one transaction per change, before the reply. */
#include "optimizer/study.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "config/settings.h"
#include "optimizer/engine.h"
#include "optimizer/objective.h"
#include "optimizer/results.h"
#include "optimizer/study_eval.h"
#include "optimizer/study_pareto.h"
#include "optimizer/study_space.h"
#include "servo/log.h"
#include "servo/model.h"
#include "types/wire.h"
#include "util/util.h"

static const char *const phase_names[] = {"describe", "measure", "adjust",
                                          "final",    "done",    "failed"};

struct study {
    char *id;
    const struct study_settings *settings;
    struct store *store;
    double sleep_seconds;
    char *label;
    bool served;
    /* the state: what the store holds */
    struct store_app app;
    enum study_phase phase;
    json_t *pending; /* the pending command, NULL when none */
    struct store_trial *trials;
    bool *dirty; /* per trial: to be written */
    size_t trial_count, trial_capacity;
    /* derived from the description and the configuration */
    struct servo_description *description;
    struct study_space space;
    bool has_space;
    struct study_objective objective;
    bool has_objective;
    /* several objectives (objective_count >= 2; objectives[0] is `objective`): a Pareto front */
    struct study_objective objectives[STUDY_MAX_OBJECTIVES];
    size_t objective_count;
    double servo_timeout; /* seconds a servo may be silent before another takes over */
    /* the store failed and the state could not be read back: answer 503 until it can */
    bool broken;
    char *broken_reason;
    /* a shared store: a transaction holding the application's row is open */
    bool in_transaction;
    /* a shared store: memory may differ from the row (a failed write): read it again */
    bool stale;
    /* this process saw the servo adjust to the best settings (the final ADJUST succeeded) */
    bool best_applied;
};

const char *study_phase_name(enum study_phase phase)
{
    return (size_t)phase < ARRAY_LEN(phase_names) ? phase_names[phase] : "failed";
}

static enum study_phase parse_phase(const char *name)
{
    for (size_t i = 0; name != NULL && i < ARRAY_LEN(phase_names); i++)
        if (strcmp(phase_names[i], name) == 0)
            return (enum study_phase)i;
    return STUDY_FAILED;
}

/* ---- small helpers --------------------------------------------------------------------- */

static void set_text(char **field, const char *text)
{
    char *copy = text ? xstrdup(text) : NULL;
    free(*field);
    *field = copy;
}

static void set_json_text(char **field, const json_t *json)
{
    free(*field);
    *field = json ? json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
}

static json_t *parse_json_text(const char *text)
{
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

static json_t *status_reply(const char *status, const char *reason)
{
    json_t *reply = json_object();
    json_object_set_new(reply, "status", json_string(status));
    if (reason != NULL)
        json_object_set_new(reply, "reason", wire_string(reason));
    return reply;
}

static json_t *detail_reply(int *http_status, int status, const char *detail)
{
    *http_status = status;
    json_t *reply = json_object();
    json_object_set_new(reply, "detail", wire_string(detail));
    return reply;
}

static void study_log(const struct study *s, enum servo_log_level level, const char *fmt, ...)
    SERVO_PRINTF(3, 4);

static void study_log(const struct study *s, enum servo_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = xvasprintf(fmt, ap);
    va_end(ap);
    servo_log(level, "%s%s", s->label, text);
    free(text);
}

static void make_nonce(char out[13])
{
    unsigned char bytes[6] = {0};
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        double t = clock_wall() * 1e6;
        for (size_t i = 0; i < sizeof bytes; i++)
            bytes[i] = (unsigned char)((long long)t >> (8 * i));
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

static size_t budget(const struct study *s)
{
    return (size_t)s->settings->budget;
}

/* ---- the objective --------------------------------------------------------------------- */

static void set_objective_row(struct study *s)
{
    json_t *json = s->objective_count >= 2
                       ? study_objectives_json(s->objectives, s->objective_count)
                       : study_objective_json(&s->objective);
    set_json_text(&s->app.objective, json);
    json_decref(json);
}

/* The configured objective, or the one chosen from the description before. */
static int resolve_configured_objective(struct study *s, char **error)
{
    const struct objective_settings *o = NULL;
    size_t count = study_settings_objectives(s->settings, &o);
    for (size_t i = 0; count >= 2 && i < count; i++)
        if (study_objective_set(&s->objectives[i], o[i].metric, o[i].expression, o[i].aggregate,
                                o[i].goal, error) != 0)
            return -1;
    s->objective_count = count >= 2 ? count : 0;
    if (count > 0) {
        if (study_objective_set(&s->objective, o->metric, o->expression, o->aggregate, o->goal,
                                error) != 0)
            return -1;
        s->has_objective = true;
        set_objective_row(s);
        return 0;
    }
    json_t *stored = parse_json_text(s->app.objective);
    s->has_objective = study_objective_from_json(&s->objective, stored);
    json_decref(stored);
    return 0;
}

/* No objective configured: one from the description. */
static int choose_objective(struct study *s, char **error)
{
    if (s->has_objective)
        return 0;
    if (study_objective_choose(&s->objective, s->description, error) != 0)
        return -1;
    s->has_objective = true;
    set_objective_row(s);
    study_log(s, SERVO_LOG_WARNING,
              "No objective configured: optimizing the mean of %s (%s); set %s%s.objective to "
              "choose",
              s->objective.name, study_goal_name(s->objective.goal),
              s->served ? "applications." : "optimizer.local", s->served ? s->id : "");
    return 0;
}

static void evaluate_trial(const struct study *s, struct store_trial *t)
{
    struct study_eval e = {
        .objective = s->has_objective ? &s->objective : NULL,
        .objectives = s->objectives,
        .objective_count = s->objective_count,
        .constraints = &s->settings->constraints,
        .space = &s->space,
        .baseline_metrics = s->trial_count > 0 ? s->trials[0].metrics : NULL,
    };
    study_evaluate(&e, t);
}

/* ---- trials ---------------------------------------------------------------------------- */

static bool trial_terminal(const struct store_trial *t)
{
    return !str_eq(t->status, "adjusting") && !str_eq(t->status, "measuring");
}

static bool trial_measured(const struct store_trial *t)
{
    return str_eq(t->status, "ok");
}

static struct store_trial *trial_add(struct study *s, const double *x, const char *status)
{
    size_t capacity = s->trial_capacity;
    xgrow((void **)&s->trials, sizeof *s->trials, s->trial_count, &s->trial_capacity);
    xgrow((void **)&s->dirty, sizeof *s->dirty, s->trial_count, &capacity);
    struct store_trial *t = &s->trials[s->trial_count];
    memset(t, 0, sizeof *t);
    t->number = (long long)s->trial_count;
    json_t *settings = study_space_settings_json(&s->space, x);
    set_json_text(&t->settings, settings);
    json_decref(settings);
    t->status = xstrdup(status);
    t->started = clock_wall();
    t->objective = NAN;
    s->dirty[s->trial_count++] = true;
    return t;
}

static struct store_trial *current_trial(struct study *s)
{
    size_t k = (size_t)s->app.trial;
    return k < s->trial_count ? &s->trials[k] : NULL;
}

static void trial_touch(struct study *s, const struct store_trial *t)
{
    s->dirty[t - s->trials] = true;
}

/* "Trial 3/20" or "Baseline". */
static char *trial_title(const struct study *s, const struct store_trial *t)
{
    if (t->number == 0)
        return xstrdup("Baseline");
    return xasprintf("Trial %lld/%zu", t->number, budget(s));
}

/* ---- commands -------------------------------------------------------------------------- */

static char *next_uid(struct study *s)
{
    return xasprintf("%s-%lld", s->app.nonce, s->app.next_seq++);
}

static void set_pending(struct study *s, const char *cmd, json_t *param)
{
    json_t *command = json_object();
    json_object_set_new(command, "cmd", json_string(cmd));
    char *uid = next_uid(s);
    json_object_set_new(command, "cmd_uid", json_string(uid));
    free(uid);
    json_object_set_new(command, "param", param);
    json_decref(s->pending);
    s->pending = command;
    set_json_text(&s->app.pending, command);
}

static void clear_pending(struct study *s)
{
    json_decref(s->pending);
    s->pending = NULL;
    set_json_text(&s->app.pending, NULL);
}

static void set_phase(struct study *s, enum study_phase phase)
{
    s->phase = phase;
    set_text(&s->app.phase, study_phase_name(phase));
}

static json_t *seconds_json(servo_duration d)
{
    return json_real(d == SERVO_UNSET ? 0 : servo_duration_seconds(d));
}

static void add_metric_name(json_t *names, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(names, i, item)
    {
        if (str_eq(json_string_value(item), name))
            return;
    }
    json_array_append_new(names, wire_string(name));
}

struct name_collector {
    const struct study *study;
    json_t *names;
};

static void collect_expression_name(void *context, const char *name)
{
    struct name_collector *c = context;
    const struct study_space *space = &c->study->space;
    for (size_t i = 0; i < space->count; i++)
        if (str_eq(space->params[i].name, name) || str_eq(space->params[i].setting, name))
            return; /* a setting, not a metric */
    add_metric_name(c->names, name);
}

/* The metrics MEASURE asks for: the described ones, then any other the objective and the
 * constraints need. */
static json_t *measure_metrics(const struct study *s)
{
    json_t *names = json_array();
    for (size_t i = 0; s->description && i < s->description->metric_count; i++)
        add_metric_name(names, s->description->metrics[i].name);
    if (s->objective.metric != NULL)
        add_metric_name(names, s->objective.metric);
    if (s->objective.expression != NULL) {
        struct name_collector c = {s, names};
        expr_names(s->objective.expression, collect_expression_name, &c);
    }
    const struct constraint_settings *items = s->settings->constraints.items;
    for (size_t i = 0; i < s->settings->constraints.count; i++)
        add_metric_name(names, items[i].metric);
    return names;
}

static void command_describe(struct study *s)
{
    set_phase(s, STUDY_DESCRIBE);
    set_pending(s, "DESCRIBE", json_object());
}

static void command_measure(struct study *s)
{
    const struct measure_settings *m = &s->settings->measure;
    json_t *control = json_object();
    json_object_set_new(control, "duration", seconds_json(m->duration));
    json_object_set_new(control, "warmup", seconds_json(m->warmup));
    json_object_set_new(control, "delay", seconds_json(m->delay));
    json_t *param = json_object();
    json_object_set_new(param, "metrics", measure_metrics(s));
    json_object_set_new(param, "control", control);
    set_phase(s, STUDY_MEASURE);
    set_pending(s, "MEASURE", param);
    struct store_trial *t = current_trial(s);
    set_text(&t->measure_uid, json_string_value(json_object_get(s->pending, "cmd_uid")));
    trial_touch(s, t);
}

static void command_adjust(struct study *s, enum study_phase phase, const double *x)
{
    json_t *control = json_object();
    if (s->settings->settlement != SERVO_UNSET)
        json_object_set_new(control, "settlement", seconds_json(s->settings->settlement));
    json_t *param = json_object();
    json_object_set_new(param, "state", study_space_adjust_state(&s->space, x));
    json_object_set_new(param, "control", control);
    set_phase(s, phase);
    set_pending(s, "ADJUST", param);
}

static json_t *sleep_command(const struct study *s)
{
    json_t *data = json_object();
    if (s->phase == STUDY_FAILED) {
        json_object_set_new(data, "status", json_string("failed"));
        json_object_set_new(data, "reason", wire_string(s->app.reason ? s->app.reason : "failed"));
    } else {
        json_object_set_new(data, "reason", json_string("optimization complete"));
    }
    json_t *param = json_object();
    json_object_set_new(param, "duration", json_real(s->sleep_seconds));
    json_object_set_new(param, "data", data);
    json_t *command = json_object();
    json_object_set_new(command, "cmd", json_string("SLEEP"));
    json_object_set_new(command, "cmd_uid", json_null());
    json_object_set_new(command, "param", param);
    return command;
}

static void fail_study(struct study *s, const char *reason)
{
    set_phase(s, STUDY_FAILED);
    set_text(&s->app.reason, reason);
    clear_pending(s);
    study_log(s, SERVO_LOG_ERROR, "The optimization cannot go on: %s", reason);
}

/* ---- the engine ------------------------------------------------------------------------ */

struct history {
    struct opt_trial *trials;
    double *x;
    double *g;
    size_t count;
};

static void history_free(struct history *h)
{
    free(h->trials);
    free(h->x);
    free(h->g);
}

/* One finished trial as the engine sees it: values to minimize, g <= 0 satisfied. */
static void history_add(const struct study *s, struct history *h, const struct store_trial *t,
                        double scalarized)
{
    size_t d = s->space.count, m = s->settings->constraints.count;
    double *x = &h->x[h->count * d];
    double *g = &h->g[h->count * (m ? m : 1)];
    json_t *settings = parse_json_text(t->settings);
    if (!study_space_point(&s->space, settings, true, x))
        x[0] = NAN; /* unusable: the engine ignores it */
    json_decref(settings);
    json_t *constraints = parse_json_text(t->constraints);
    for (size_t k = 0; k < m; k++) {
        const json_t *c = json_array_get(constraints, k);
        const json_t *value = json_object_get(c, "value");
        const json_t *threshold = json_object_get(c, "threshold");
        const struct constraint_settings *cs =
            &((const struct constraint_settings *)s->settings->constraints.items)[k];
        g[k] = json_is_number(value) && json_is_number(threshold)
                   ? study_constraint_g(cs->keep, json_number_value(value),
                                        json_number_value(threshold))
                   : NAN;
    }
    json_decref(constraints);
    bool ok = trial_measured(t) && t->has_objective;
    double objective = s->objective.goal == GOAL_MAXIMIZE ? -t->objective : t->objective;
    if (s->objective_count >= 2)
        objective = scalarized;
    h->trials[h->count++] = (struct opt_trial){
        .x = x,
        .status = ok ? OPT_TRIAL_OK : OPT_TRIAL_FAILED,
        .objective = ok ? objective : NAN,
        .constraints = m ? g : NULL,
    };
}

static void history_build(const struct study *s, struct history *h)
{
    size_t n = s->trial_count, d = s->space.count, m = s->settings->constraints.count;
    h->trials = xcalloc(n ? n : 1, sizeof *h->trials);
    h->x = xcalloc((n ? n : 1) * d, sizeof *h->x);
    h->g = xcalloc((n ? n : 1) * (m ? m : 1), sizeof *h->g);
    h->count = 0;
    double *scalarized = xcalloc(n + 1, sizeof *scalarized);
    if (s->objective_count >= 2) { /* ParEGO: a new random scalarization at each suggestion */
        struct study_front f;
        study_front_build(&f, s->objectives, s->objective_count, &s->space, s->trials, n, NULL);
        study_front_scalarize(&f, (uint64_t)s->settings->seed, n, scalarized);
        study_front_free(&f);
    }
    for (size_t i = 0; i < n; i++)
        if (trial_terminal(&s->trials[i]))
            history_add(s, h, &s->trials[i], scalarized[i]);
    free(scalarized);
}

static int suggest(const struct study *s, double *x, struct opt_suggestion_info *info, char **error)
{
    struct history h;
    history_build(s, &h);
    struct opt_options options = {
        .seed = (uint64_t)s->settings->seed,
        .min_feasibility = study_settings_min_feasibility(s->settings),
    };
    const char *why = NULL;
    *info = (struct opt_suggestion_info){0};
    int rc = opt_suggest(&s->space.space, s->settings->constraints.count, h.trials, h.count,
                         &options, x, info, &why);
    history_free(&h);
    if (rc != 0) {
        *error = xasprintf("the engine cannot suggest settings: %s", why ? why : "unknown error");
        return -1;
    }
    opt_snap(&s->space.space, x); /* never a suggestion outside the space */
    return 0;
}

/* ---- advancing ------------------------------------------------------------------------- */

/* Several objectives: the front's trial the prefer weights pick. */
static long pareto_pick(const struct study *s)
{
    struct study_front f;
    const double *prefer = s->settings->prefer.count == s->objective_count
                               ? (const double *)s->settings->prefer.items
                               : NULL;
    study_front_build(&f, s->objectives, s->objective_count, &s->space, s->trials, s->trial_count,
                      prefer);
    long pick = f.pick >= 0 ? (long)s->trials[f.pick].number : -1;
    study_front_free(&f);
    return pick;
}

static long best_trial(const struct study *s)
{
    if (s->objective_count >= 2)
        return pareto_pick(s);
    return results_best_trial(s->trials, s->trial_count, s->objective.goal);
}

static void start_final(struct study *s)
{
    long best = best_trial(s);
    if (best < 0) {
        study_log(s, SERVO_LOG_WARNING,
                  "No feasible trial in %zu: adjusting back to the baseline settings",
                  s->trial_count);
        best = 0;
    }
    double *x = xcalloc(s->space.count, sizeof *x);
    json_t *settings = parse_json_text(s->trials[best].settings);
    study_space_point(&s->space, settings, false, x);
    json_decref(settings);
    char *text = study_space_format(&s->space, x);
    if (s->objective_count >= 2 && s->trials[best].feasible)
        study_log(s, SERVO_LOG_INFO, "Adjusting to the Pareto front's trial %ld, picked %s: %s",
                  best,
                  s->settings->prefer.count > 0 ? "by the prefer weights"
                                                : "as the closest to the ideal point",
                  text);
    else if (best == 0)
        study_log(s, SERVO_LOG_INFO, "Adjusting to the best settings (the baseline's): %s", text);
    else
        study_log(s, SERVO_LOG_INFO, "Adjusting to the best settings (trial %ld's): %s", best,
                  text);
    free(text);
    command_adjust(s, STUDY_FINAL, x);
    free(x);
}

static void start_trial(struct study *s)
{
    double *x = xcalloc(s->space.count, sizeof *x);
    struct opt_suggestion_info info;
    char *error = NULL;
    if (suggest(s, x, &info, &error) != 0) {
        fail_study(s, error);
        free(error);
        free(x);
        return;
    }
    struct store_trial *t = trial_add(s, x, "adjusting");
    s->app.trial = t->number;
    char *text = study_space_format(&s->space, x);
    char *title = trial_title(s, t);
    study_log(s, SERVO_LOG_INFO, "%s: adjusting to %s (%s)", title, text,
              info.strategy ? info.strategy : "engine");
    free(title);
    free(text);
    command_adjust(s, STUDY_ADJUST, x);
    set_text(&t->adjust_uid, json_string_value(json_object_get(s->pending, "cmd_uid")));
    free(x);
}

/* After a trial ended: the next trial, or the adjustment to the best once the budget is
 * spent. */
static void advance(struct study *s)
{
    if ((size_t)s->app.trial >= budget(s))
        start_final(s);
    else
        start_trial(s);
}

/* ---- logging outcomes ------------------------------------------------------------------ */

static void log_outcome(const struct study *s, const struct store_trial *t)
{
    char *title = trial_title(s, t);
    if (!trial_measured(t) || !t->has_objective) {
        study_log(s, SERVO_LOG_WARNING, "%s is infeasible (%s%s%s)", title,
                  t->reason ? t->reason : t->status, t->message ? ": " : "",
                  t->message ? t->message : "");
        free(title);
        return;
    }
    long best = best_trial(s);
    char best_text[96] = "no feasible trial yet";
    if (best == 0)
        snprintf(best_text, sizeof best_text, "best %.6g (the baseline)",
                 s->trials[best].objective);
    else if (best > 0)
        snprintf(best_text, sizeof best_text, "best %.6g (trial %ld)", s->trials[best].objective,
                 best);
    study_log(s, t->feasible ? SERVO_LOG_SUCCESS : SERVO_LOG_WARNING, "%s: %s = %.6g%s%s; %s",
              title, s->objective.name, t->objective,
              t->feasible ? "" : ", infeasible: ", t->feasible ? "" : (t->reason ? t->reason : "?"),
              best_text);
    free(title);
}

/* ---- results --------------------------------------------------------------------------- */

static const char *param_status(const json_t *param)
{
    const char *status = json_string_value(json_object_get(param, "status"));
    return status ? status : (json_is_object(param) ? "ok" : "failed");
}

/* A failed (rejected, cancelled, ...) command's reason and message onto the trial. */
static void record_failure(struct store_trial *t, const char *stage, const json_t *param)
{
    const char *status = param_status(param);
    const char *reason = json_string_value(json_object_get(param, "reason"));
    const char *message = json_string_value(json_object_get(param, "message"));
    set_text(&t->status, status);
    set_text(&t->reason, reason && reason[0] ? reason : status);
    char *text = xasprintf("%s %s%s%s", stage, status, message ? ": " : "", message ? message : "");
    set_text(&t->message, text);
    free(text);
    t->feasible = false;
    t->has_objective = false;
    t->objective = NAN;
    t->finished = clock_wall();
}

/* The pending command got its result: a second delivery of it is acknowledged, not applied. */
static void mark_done(struct study *s)
{
    set_text(&s->app.last_done_uid, json_string_value(json_object_get(s->pending, "cmd_uid")));
}

static int load_description(struct study *s, const json_t *descriptor, char **error)
{
    struct servo_description *d = NULL;
    char *why = NULL;
    if (servo_description_from_json(descriptor, &d, &why) != 0) {
        *error = xasprintf("invalid description: %s", why ? why : "?");
        free(why);
        return -1;
    }
    struct study_space space;
    if (study_space_build(d, &space, &why) != 0) {
        *error = xasprintf("invalid description: %s", why);
        free(why);
        servo_description_free(d);
        return -1;
    }
    servo_description_free(s->description);
    if (s->has_space)
        study_space_free(&s->space);
    s->description = d;
    s->space = space;
    s->has_space = true;
    return 0;
}

/* A descriptor is stored and rewritten with the study: a bounded one. */
static bool descriptor_too_large(const json_t *param)
{
    char *text = json_dumps(json_object_get(param, "descriptor"), JSON_COMPACT);
    bool large = text != NULL && strlen(text) > STORE_MAX_DESCRIPTION;
    free(text);
    return large;
}

static void on_description(struct study *s, const json_t *param)
{
    mark_done(s);
    bool too_large = str_eq(param_status(param), "ok") && descriptor_too_large(param);
    if (!str_eq(param_status(param), "ok") || too_large) {
        const char *message = too_large ? "the description is over 1 MiB"
                                        : json_string_value(json_object_get(param, "message"));
        s->app.describe_failures++;
        study_log(s, SERVO_LOG_WARNING, "DESCRIBE failed (%lld of %d): %s",
                  s->app.describe_failures, STUDY_DESCRIBE_ATTEMPTS, message ? message : "?");
        if (s->app.describe_failures < STUDY_DESCRIBE_ATTEMPTS) {
            command_describe(s);
            return;
        }
        char *reason = xasprintf("DESCRIBE failed %d times: %s", STUDY_DESCRIBE_ATTEMPTS,
                                 message ? message : "?");
        fail_study(s, reason);
        free(reason);
        return;
    }
    const json_t *descriptor = json_object_get(param, "descriptor");
    char *error = NULL;
    if (load_description(s, descriptor, &error) != 0 || choose_objective(s, &error) != 0) {
        fail_study(s, error);
        free(error);
        return;
    }
    set_json_text(&s->app.description, descriptor);
    double *x = xcalloc(s->space.count, sizeof *x);
    study_space_current(&s->space, x);
    struct store_trial *t = trial_add(s, x, "measuring");
    s->app.trial = t->number;
    char *text = study_space_format(&s->space, x);
    study_log(s, SERVO_LOG_INFO, "Described %zu settings; measuring the baseline: %s",
              s->space.count, text);
    free(text);
    free(x);
    command_measure(s);
}

static void on_measurement(struct study *s, const json_t *param)
{
    mark_done(s);
    struct store_trial *t = current_trial(s);
    trial_touch(s, t);
    if (!str_eq(param_status(param), "ok")) {
        record_failure(t, "MEASURE", param);
    } else {
        struct servo_measurement *m = NULL;
        char *error = NULL;
        if (servo_measurement_from_json(param, &m, &error) != 0) {
            json_t *failure = json_pack("{s:s, s:s, s:s}", "status", "failed", "reason",
                                        "invalid-measurement", "message", error ? error : "?");
            record_failure(t, "MEASURE", failure);
            json_decref(failure);
        } else {
            json_t *summaries = study_summarize(m);
            set_json_text(&t->metrics, summaries);
            json_decref(summaries);
            set_text(&t->status, "ok");
            t->finished = clock_wall();
            evaluate_trial(s, t);
        }
        free(error);
        servo_measurement_free(m);
    }
    log_outcome(s, t);
    advance(s);
}

static void on_adjustment(struct study *s, const json_t *param)
{
    mark_done(s);
    bool ok = str_eq(param_status(param), "ok");
    if (s->phase == STUDY_FINAL) {
        clear_pending(s);
        set_phase(s, STUDY_DONE);
        s->best_applied = ok;
        if (ok) {
            set_text(&s->app.reason, "optimization complete");
        } else {
            const char *message = json_string_value(json_object_get(param, "message"));
            char *reason = xasprintf("optimization complete; the adjustment to the best "
                                     "settings failed: %s",
                                     message ? message : param_status(param));
            set_text(&s->app.reason, reason);
            free(reason);
        }
        study_log(s, ok ? SERVO_LOG_SUCCESS : SERVO_LOG_ERROR, "Done after %zu trials: %s",
                  s->trial_count, s->app.reason);
        return;
    }
    struct store_trial *t = current_trial(s);
    trial_touch(s, t);
    if (ok) {
        set_text(&t->status, "measuring");
        command_measure(s);
        return;
    }
    record_failure(t, "ADJUST", param);
    log_outcome(s, t);
    advance(s);
}

/* ---- persistence ----------------------------------------------------------------------- */

static int persist(struct study *s, char **error)
{
    if (s->store == NULL) {
        for (size_t i = 0; i < s->trial_count; i++)
            s->dirty[i] = false;
        return 0;
    }
    s->app.updated = clock_wall();
    s->app.revision++;
    if (store_save_app(s->store, &s->app, error) != 0)
        return -1;
    for (size_t i = 0; i < s->trial_count; i++) {
        if (!s->dirty[i])
            continue;
        if (store_save_trial(s->store, s->id, &s->trials[i], error) != 0)
            return -1;
        s->dirty[i] = false;
    }
    return 0;
}

static void state_clear(struct study *s)
{
    store_app_clear(&s->app);
    store_trials_free(s->trials, s->trial_count);
    free(s->dirty);
    s->trials = NULL;
    s->dirty = NULL;
    s->trial_count = s->trial_capacity = 0;
    json_decref(s->pending);
    s->pending = NULL;
    servo_description_free(s->description);
    s->description = NULL;
    if (s->has_space)
        study_space_free(&s->space);
    s->has_space = false;
    study_objective_clear(&s->objective);
    s->has_objective = false;
    for (size_t i = 0; i < s->objective_count; i++)
        study_objective_clear(&s->objectives[i]);
    s->objective_count = 0;
}

/* What the phase needs: a pending command, a space, a current trial. */
static bool state_consistent(struct study *s)
{
    switch (s->phase) {
    case STUDY_DESCRIBE:
        return s->pending != NULL;
    case STUDY_MEASURE:
    case STUDY_ADJUST:
        return s->pending != NULL && s->has_space && current_trial(s) != NULL;
    case STUDY_FINAL:
        return s->pending != NULL && s->has_space && s->trial_count > 0;
    case STUDY_DONE:
    case STUDY_FAILED:
        return true;
    }
    return false;
}

/* The configuration as JSON (secrets masked), kept with the study for its readers. */
static void set_config_row(struct study *s)
{
    const struct servo_schema *schema =
        s->settings->token ? &study_application_schema : &study_local_schema;
    json_t *config = settings_to_json(schema, s->settings, false);
    set_json_text(&s->app.config, config);
    json_decref(config);
}

static void state_new(struct study *s)
{
    char nonce[13];
    make_nonce(nonce);
    s->app.id = xstrdup(s->id);
    s->app.nonce = xstrdup(nonce);
    s->app.next_seq = 1;
    s->app.created = clock_wall();
    set_config_row(s);
    command_describe(s);
}

/* Rebuilds what the rows imply: description, space, objective, pending command, trial
 * evaluations (with the current configuration). */
static int state_restore(struct study *s, char **error)
{
    s->phase = parse_phase(s->app.phase);
    s->pending = parse_json_text(s->app.pending);
    for (size_t i = 0; i < s->trial_count; i++) {
        if (s->trials[i].number != (long long)i) {
            *error = xasprintf("%s: the trials of %s are not numbered 0, 1, 2, ...",
                               store_path(s->store), s->id);
            return -1;
        }
    }
    if (s->app.description != NULL) {
        json_t *descriptor = parse_json_text(s->app.description);
        int rc = load_description(s, descriptor, error);
        json_decref(descriptor);
        if (rc != 0)
            return -1;
    }
    if (s->description != NULL && choose_objective(s, error) != 0)
        return -1;
    if (!state_consistent(s)) {
        *error = xasprintf("%s: the state of %s is inconsistent (phase %s, trial %lld of %zu)",
                           store_path(s->store), s->id, study_phase_name(s->phase), s->app.trial,
                           s->trial_count);
        return -1;
    }
    for (size_t i = 0; i < s->trial_count; i++)
        if (trial_measured(&s->trials[i]) && s->trials[i].metrics != NULL)
            evaluate_trial(s, &s->trials[i]);
    return 0;
}

static int state_load(struct study *s, char **error)
{
    bool found = false;
    if (s->store != NULL && store_load_app(s->store, s->id, &s->app, &found, error) != 0)
        return -1;
    if (!found) {
        state_new(s);
        return resolve_configured_objective(s, error);
    }
    if (store_load_trials(s->store, s->id, &s->trials, &s->trial_count, error) != 0)
        return -1;
    s->trial_capacity = s->trial_count;
    s->dirty = xcalloc(s->trial_count ? s->trial_count : 1, sizeof *s->dirty);
    set_config_row(s); /* the current configuration (a raised budget, ...) */
    if (resolve_configured_objective(s, error) != 0 || state_restore(s, error) != 0)
        return -1;
    return 0;
}

/* Discards the state in memory and reads it back from the store. */
static void state_reload(struct study *s)
{
    state_clear(s);
    char *error = NULL;
    s->broken = state_load(s, &error) != 0;
    if (s->broken) {
        study_log(s, SERVO_LOG_ERROR, "Cannot read the study back from the store: %s",
                  error ? error : "?");
        set_text(&s->broken_reason, error ? error : "the study's store cannot be read");
    }
    free(error);
}

typedef void (*study_change)(struct study *s, const json_t *param);

static void end_transaction(struct study *s)
{
    if (s->in_transaction)
        store_rollback(s->store);
    s->in_transaction = false;
}

/* Applies one change (none: writes the state as it is) and writes it in one transaction. The
 * change is computed first -- a suggestion may take a while -- so a SQLite store's write lock
 * is held only for the writes; with a shared store the transaction opened by sync_state holds
 * the application's row (and nothing else) meanwhile. On a store error nothing changed: the
 * state is read back, and -1 with the message. */
static int commit_change(struct study *s, study_change apply, const json_t *param, char **error)
{
    if (apply != NULL)
        apply(s, param);
    if (s->store == NULL)
        return persist(s, error);
    bool begun = s->in_transaction || store_begin(s->store, error) == 0;
    if (begun && persist(s, error) == 0 && store_commit(s->store, error) == 0) {
        s->in_transaction = false;
        return 0;
    }
    study_log(s, SERVO_LOG_ERROR, "Cannot write to the store: %s", *error);
    store_rollback(s->store);
    s->in_transaction = false;
    if (store_shared(s->store))
        s->stale = true; /* read again under the lock at the next request */
    else
        state_reload(s);
    return -1;
}

/* A shared store: opens the request's transaction, locks the application's row and, when
 * another replica changed it (or memory is stale), reads the study again. */
static int sync_state(struct study *s, char **error)
{
    if (store_begin(s->store, error) != 0)
        return -1;
    s->in_transaction = true;
    bool found = false;
    long long revision = 0;
    if (store_lock_app(s->store, s->id, &found, &revision, error) != 0) {
        end_transaction(s);
        return -1;
    }
    if (found && !s->stale && !s->broken && revision == s->app.revision)
        return 0;
    state_clear(s);
    s->stale = false;
    s->broken = state_load(s, error) != 0;
    if (s->broken) {
        set_text(&s->broken_reason, *error);
        end_transaction(s);
        return -1;
    }
    if (!found && persist(s, error) != 0) { /* new (or reset): its first row */
        end_transaction(s);
        s->stale = true;
        return -1;
    }
    return 0;
}

/* commit_change as a reply: ok, or 503 (retry later). */
static json_t *change(struct study *s, study_change apply, const json_t *param, int *http_status)
{
    char *error = NULL;
    if (commit_change(s, apply, param, &error) == 0)
        return status_reply("ok", NULL);
    json_t *reply = detail_reply(http_status, 503, error ? error : "the store failed");
    free(error);
    return reply;
}

/* A study over with budget to spare (the budget was raised) runs more trials. */
static void extend(struct study *s, const json_t *param)
{
    (void)param;
    study_log(s, SERVO_LOG_INFO, "The budget is now %zu trials: resuming after trial %lld",
              budget(s), s->app.trial);
    start_trial(s);
}

/* ---- the protocol ---------------------------------------------------------------------- */

static const char *expected_event(const struct study *s)
{
    const char *cmd = json_string_value(json_object_get(s->pending, "cmd"));
    if (str_eq(cmd, "DESCRIBE"))
        return "DESCRIPTION";
    if (str_eq(cmd, "MEASURE"))
        return "MEASUREMENT";
    if (str_eq(cmd, "ADJUST"))
        return "ADJUSTMENT";
    return "WHATS_NEXT";
}

static bool is_progress(const json_t *param)
{
    return json_is_object(param) && json_object_get(param, "progress") != NULL &&
           json_object_get(param, "status") == NULL;
}

/* The number of one of this study's cmd_uids ("<nonce>-<number>"), -1 for any other text. */
static long long uid_number(const struct study *s, const char *uid)
{
    size_t n = s->app.nonce ? strlen(s->app.nonce) : 0;
    if (uid == NULL || n == 0 || strncmp(uid, s->app.nonce, n) != 0 || uid[n] != '-')
        return -1;
    char *end = NULL;
    long long number = strtoll(uid + n + 1, &end, 10);
    return end != uid + n + 1 && *end == '\0' && number > 0 ? number : -1;
}

/* A result for a command of this study that was superseded (the trial was adjusted again for
 * a servo that said HELLO, or the command was sent again after a failure): refused, saying
 * why, so that a measurement taken at other settings never counts. */
static json_t *stale_result(const struct study *s, const char *event, const char *uid)
{
    const char *pending_uid = json_string_value(json_object_get(s->pending, "cmd_uid"));
    long long number = uid_number(s, uid);
    if (number < 0 || str_eq(uid, pending_uid) || number >= s->app.next_seq)
        return NULL;
    const char *cmd = json_string_value(json_object_get(s->pending, "cmd"));
    char *reason =
        pending_uid ? xasprintf("stale cmd_uid %s: the %s is refused, its command was superseded "
                                "by %s %s%s",
                                uid, event, cmd, pending_uid,
                                str_eq(cmd, "ADJUST") ? " (the trial's settings are applied again "
                                                        "before it is measured)"
                                                      : "")
                    : xasprintf("stale cmd_uid %s: the %s is refused, its command was superseded",
                                uid, event);
    json_t *reply = status_reply("invalid", reason);
    free(reason);
    return reply;
}

static json_t *result(struct study *s, const char *event, const json_t *param, int *http_status)
{
    if (is_progress(param))
        return status_reply("ok", NULL);
    const char *uid = json_string_value(json_object_get(param, "cmd_uid"));
    if (uid != NULL && str_eq(uid, s->app.last_done_uid))
        return status_reply("ok", NULL); /* delivered twice: the first reply was lost */
    json_t *stale = stale_result(s, event, uid);
    if (stale != NULL)
        return stale;
    const char *expected = expected_event(s);
    if (!str_eq(event, expected)) {
        char *reason =
            xasprintf("Out of order event \"%s\", expected \"%s\"; ignoring", event, expected);
        json_t *reply = status_reply("unexpected-event", reason);
        free(reason);
        return reply;
    }
    const char *pending_uid = json_string_value(json_object_get(s->pending, "cmd_uid"));
    if (uid != NULL && !str_eq(uid, pending_uid))
        return status_reply("invalid", "unexpected cmd_uid");
    study_change apply = str_eq(event, "DESCRIPTION")   ? on_description
                         : str_eq(event, "MEASUREMENT") ? on_measurement
                                                        : on_adjustment;
    return change(s, apply, param, http_status);
}

static json_t *whats_next(struct study *s)
{
    if (s->pending != NULL)
        return json_deep_copy(s->pending);
    return sleep_command(s);
}

/* ---- the servo driving the study ------------------------------------------------------ */

/* How often a servo's "last seen" is written while nothing else changes. */
#define SERVO_SEEN_WRITE_SECONDS 5.0

/* A servo that says HELLO (a restarted one, or another one taking over) in the middle of a
 * trial: the environment it drives may not have the trial's settings -- an application reset
 * in between would be measured at other settings -- so the trial's ADJUST is sent again (the
 * same settings, a new cmd_uid) before its MEASURE. The baseline is measured as it is. */
static bool needs_adjust_again(const struct study *s)
{
    const struct store_trial *t =
        (size_t)s->app.trial < s->trial_count ? &s->trials[s->app.trial] : NULL;
    return s->has_space && s->phase == STUDY_MEASURE && t != NULL && t->number > 0;
}

static void adjust_again(struct study *s, const char *why)
{
    if (!needs_adjust_again(s))
        return;
    struct store_trial *t = current_trial(s);
    double *x = xcalloc(s->space.count, sizeof *x);
    json_t *settings = parse_json_text(t->settings);
    study_space_point(&s->space, settings, false, x);
    json_decref(settings);
    set_text(&t->status, "adjusting");
    trial_touch(s, t);
    command_adjust(s, STUDY_ADJUST, x);
    set_text(&t->adjust_uid, json_string_value(json_object_get(s->pending, "cmd_uid")));
    free(x);
    study_log(s, SERVO_LOG_INFO,
              "Trial %lld: %s: adjusting to its settings again (cmd_uid %s) before measuring",
              t->number, why, t->adjust_uid);
}

static void hello_again(struct study *s, const json_t *request)
{
    (void)request;
    s->app.servo_seen = clock_wall();
    adjust_again(s, "the servo said HELLO with the MEASURE pending");
}

static void take_over(struct study *s, const json_t *request)
{
    const char *uid = json_string_value(json_object_get(request, "servo_uid"));
    if (s->app.servo_uid != NULL)
        study_log(s, SERVO_LOG_WARNING,
                  "The servo %s was silent for %.0fs (or said GOODBYE): servo %s takes over",
                  s->app.servo_uid, clock_wall() - s->app.servo_seen, uid);
    set_text(&s->app.servo_uid, uid);
    s->app.servo_seen = clock_wall();
    adjust_again(s, "a servo took over the study (another one, or the same after GOODBYE)");
}

static void seen(struct study *s, const json_t *request)
{
    (void)request;
    s->app.servo_seen = clock_wall();
}

static void goodbye(struct study *s, const json_t *request)
{
    (void)request;
    set_text(&s->app.servo_uid, NULL);
    s->app.servo_seen = clock_wall();
}

/* The change a request makes: `apply`, or -- a HELLO from the servo driving the study (or
 * from one without a servo_uid) with a trial's MEASURE pending -- the trial's ADJUST again. */
static study_change greeting(const struct study *s, const char *event, study_change apply)
{
    if (apply == NULL || apply == seen)
        if (str_eq(event, "HELLO") && needs_adjust_again(s))
            return hello_again;
    return apply;
}

/* Applies a change before the request is answered: NULL, or the reply to send (503). */
static json_t *change_or_reply(struct study *s, study_change apply, const json_t *request,
                               int *http_status)
{
    if (apply == NULL)
        return NULL;
    json_t *reply = change(s, apply, request, http_status);
    if (*http_status != 200)
        return reply;
    json_decref(reply);
    return NULL;
}

/* One servo drives a study: a request from another servo_uid while the current one is heard
 * from gets 409; a servo silent for servo_timeout, or gone with GOODBYE, is replaced. Servos
 * without a servo_uid are not told apart. NULL: go on; else the reply. */
static json_t *check_servo(struct study *s, const char *event, const json_t *request,
                           int *http_status)
{
    const char *uid = json_string_value(json_object_get(request, "servo_uid"));
    if (uid == NULL) /* servos without a servo_uid are not told apart */
        return change_or_reply(s, greeting(s, event, NULL), request, http_status);
    if (strlen(uid) > STORE_MAX_SERVO_UID)
        return detail_reply(http_status, 400, "servo_uid is longer than 256 bytes");
    double now = clock_wall();
    const char *current = s->app.servo_uid;
    study_change apply = NULL;
    if (current != NULL && !str_eq(current, uid)) {
        double silent = now - s->app.servo_seen;
        if (silent < s->servo_timeout) {
            char *detail = xasprintf("another servo is active on %s (servo_uid %s, last seen %.0fs "
                                     "ago); retry later, or after it says GOODBYE or is silent "
                                     "for %.0fs",
                                     s->id, current, silent > 0 ? silent : 0, s->servo_timeout);
            json_t *reply = detail_reply(http_status, 409, detail);
            free(detail);
            return reply;
        }
        apply = take_over;
    } else if (current == NULL) {
        apply = str_eq(event, "GOODBYE") ? NULL : take_over;
    } else if (str_eq(event, "GOODBYE")) {
        apply = goodbye;
    } else if (now - s->app.servo_seen >= SERVO_SEEN_WRITE_SECONDS) {
        apply = seen;
    }
    return change_or_reply(s, greeting(s, event, apply), request, http_status);
}

/* ---- the exchange ---------------------------------------------------------------------- */

static json_t *unavailable(struct study *s, int *http_status)
{
    char *detail = xasprintf("the study of %s is unavailable: %s", s->id,
                             s->broken_reason ? s->broken_reason : "its store cannot be read");
    json_t *reply = detail_reply(http_status, 503, detail);
    free(detail);
    return reply;
}

static json_t *dispatch(struct study *s, const char *event, const json_t *request, int *http_status)
{
    json_t *reply = check_servo(s, event, request, http_status);
    if (reply != NULL)
        return reply;
    const json_t *param = json_object_get(request, "param");
    if (str_eq(event, "HELLO") || str_eq(event, "GOODBYE"))
        return status_reply("ok", NULL);
    if (str_eq(event, "WHATS_NEXT"))
        return whats_next(s);
    return result(s, event, param, http_status);
}

static bool known_event(const char *event)
{
    static const char *const events[] = {"HELLO",       "GOODBYE",     "WHATS_NEXT",
                                         "DESCRIPTION", "MEASUREMENT", "ADJUSTMENT"};
    for (size_t i = 0; i < ARRAY_LEN(events); i++)
        if (str_eq(event, events[i]))
            return true;
    return false;
}

json_t *study_exchange(struct study *s, const json_t *request, int *http_status)
{
    *http_status = 200;
    const char *event = json_string_value(json_object_get(request, "event"));
    if (!json_is_object(request) || event == NULL)
        return detail_reply(http_status, 400,
                            "expected {\"event\": EVENT, \"param\": ..., "
                            "\"servo_uid\": ...}");
    if (!known_event(event)) {
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_puts(&sb, "unknown event ");
        strbuf_quote(&sb, event, 64);
        json_t *reply = detail_reply(http_status, 400, sb.data);
        strbuf_release(&sb);
        return reply;
    }
    if (store_shared(s->store)) {
        char *error = NULL;
        int rc = sync_state(s, &error);
        if (rc != 0 && !s->broken) {
            json_t *reply = detail_reply(http_status, 503, error ? error : "the store failed");
            free(error);
            return reply;
        }
        free(error);
    } else if (s->broken) {
        state_reload(s);
    }
    if (s->broken)
        return unavailable(s, http_status);
    json_t *reply = dispatch(s, event, request, http_status);
    if (s->in_transaction) { /* nothing was written: end the read */
        char *error = NULL;
        if (store_commit(s->store, &error) != 0)
            store_rollback(s->store);
        free(error);
        s->in_transaction = false;
    }
    return reply;
}

/* ---- opening --------------------------------------------------------------------------- */

int study_open(const char *id, const struct study_settings *settings, struct store *store,
               const struct study_options *options, struct study **out, char **error)
{
    *out = NULL;
    struct study *s = xcalloc(1, sizeof *s);
    s->id = xstrdup(id);
    s->settings = settings;
    s->store = store;
    s->served = options && options->served;
    s->sleep_seconds = options && options->sleep_seconds > 0 ? options->sleep_seconds
                                                             : STUDY_DEFAULT_SLEEP_SECONDS;
    s->label = xstrdup(options && options->log_label ? options->log_label : "");
    s->servo_timeout = options && options->servo_timeout_seconds > 0
                           ? options->servo_timeout_seconds
                           : STUDY_DEFAULT_SERVO_TIMEOUT_SECONDS;
    int rc = 0;
    if (store_shared(store)) {
        s->stale = true;
        rc = sync_state(s, error);
    } else {
        rc = state_load(s, error);
    }
    if (rc == 0 && s->app.updated == 0) /* new: written at once */
        rc = commit_change(s, NULL, NULL, error);
    else if (rc == 0 && s->phase == STUDY_DONE && s->has_space && (size_t)s->app.trial < budget(s))
        rc = commit_change(s, extend, NULL, error);
    end_transaction(s);
    if (rc != 0 || s->broken) {
        if (rc == 0)
            *error = xasprintf("cannot read the study %s back from the store", id);
        study_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void study_free(struct study *s)
{
    if (s == NULL)
        return;
    end_transaction(s);
    state_clear(s);
    free(s->id);
    free(s->label);
    free(s->broken_reason);
    free(s);
}

/* ---- queries --------------------------------------------------------------------------- */

int study_refresh(struct study *s, char **error)
{
    if (!store_shared(s->store))
        return 0;
    int rc = sync_state(s, error);
    if (s->in_transaction) {
        char *ignored = NULL;
        if (store_commit(s->store, &ignored) != 0)
            store_rollback(s->store);
        free(ignored);
        s->in_transaction = false;
    }
    return rc;
}

void study_use_store(struct study *s, struct store *store)
{
    s->store = store;
}

enum study_phase study_phase(const struct study *s)
{
    return s->phase;
}

bool study_over(const struct study *s)
{
    return s->phase == STUDY_DONE || s->phase == STUDY_FAILED;
}

const char *study_reason(const struct study *s)
{
    return study_over(s) ? s->app.reason : NULL;
}

bool study_best_applied(const struct study *s)
{
    return s->phase == STUDY_DONE && s->best_applied;
}

const char *study_id(const struct study *s)
{
    return s->id;
}

size_t study_trial_count(const struct study *s)
{
    return s->trial_count;
}

json_t *study_document(const struct study *s)
{
    return results_document(&s->app, s->trials, s->trial_count);
}
