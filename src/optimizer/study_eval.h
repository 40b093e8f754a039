/* What a study makes of a measurement: the summaries it keeps per metric, the objective's
 * value (a metric's aggregate, or an expression over metrics and settings), the constraints'
 * values against their thresholds (absolute, or relative to the baseline), feasibility and
 * the reason a trial is not feasible ("objective-missing", "constraint-missing",
 * "slo-violation"). Everything works from the stored summaries, so a study reopened with
 * another configuration evaluates its past trials again the same way. */
#ifndef SERVO_OPTIMIZER_STUDY_EVAL_H
#define SERVO_OPTIMIZER_STUDY_EVAL_H

#include <stdbool.h>

#include <jansson.h>

#include "optimizer/objective.h"
#include "optimizer/store.h"
#include "optimizer/study_config.h"
#include "optimizer/study_space.h"
#include "servo/model.h"

struct study_objective {
    char *name;   /* the metric, or the expression's text */
    char *metric; /* NULL for an expression */
    struct expr *expression;
    int aggregate; /* enum aggregate */
    int goal;      /* enum study_goal */
};

void study_objective_clear(struct study_objective *o);
/* A metric or an expression (parsed: -1 with the message on a syntax error). */
int study_objective_set(struct study_objective *o, const char *metric, const char *expression,
                        int aggregate, int goal, char **error);
/* {"name", "goal", "metric"|"expression", "aggregate"}, and back (false when `json` names
 * no objective). */
json_t *study_objective_json(const struct study_objective *o);
bool study_objective_from_json(struct study_objective *o, const json_t *json);
/* No objective configured: the description's first metric, maximized when its unit is rps or
 * rpm or its name says throughput, else minimized. -1 when there is no metric. */
int study_objective_choose(struct study_objective *o, const struct servo_description *d,
                           char **error);

/* {"metric": {"mean", "median", "p90", "p95", "p99", "min", "max", "last", "count", "unit"}}
 * over every finite point of every reading; a metric with no finite point has only "count". */
json_t *study_summarize(const struct servo_measurement *m);

struct study_eval {
    const struct study_objective *objective; /* NULL: none yet */
    /* Several objectives (objective_count >= 2, objectives[0] is `objective`): a trial has an
     * objective only when every one of them can be computed. */
    const struct study_objective *objectives;
    size_t objective_count;
    const struct servo_list *constraints; /* struct constraint_settings */
    const struct study_space *space;      /* bare setting names in expressions */
    const char *baseline_metrics;         /* the baseline's summaries (JSON), or NULL */
};

/* The value of objective `o` from a trial's summaries and settings; false with the reason in
 * `message` (caller frees). `space` may be NULL: a bare setting name is then the only
 * "component.name" key of `settings`. */
bool study_objective_value(const struct study_objective *o, const struct study_space *space,
                           const json_t *metrics, const json_t *settings, double *value,
                           char **message);
/* Every objective's value for a trial (NAN where it cannot be computed); true when all are
 * known. */
bool study_trial_objectives(const struct study_objective *objectives, size_t count,
                            const struct study_space *space, const struct store_trial *t,
                            double *values);
/* Several objectives in the application's objective row: the first one's fields plus
 * "objectives": [each], and back (0 when `json` has no such list; the objectives are then
 * untouched). */
json_t *study_objectives_json(const struct study_objective *objectives, size_t count);
size_t study_objectives_from_json(struct study_objective *objectives, const json_t *json);

/* g <= 0: satisfied. */
double study_constraint_g(int keep, double value, double threshold);
/* Sets the objective, constraints, feasibility, reason and message of a measured trial from
 * t->metrics and t->settings. */
void study_evaluate(const struct study_eval *e, struct store_trial *t);

#endif
