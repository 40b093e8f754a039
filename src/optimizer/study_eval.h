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
    const struct servo_list *constraints;    /* struct constraint_settings */
    const struct study_space *space;         /* bare setting names in expressions */
    const char *baseline_metrics;            /* the baseline's summaries (JSON), or NULL */
};

/* g <= 0: satisfied. */
double study_constraint_g(int keep, double value, double threshold);
/* Sets the objective, constraints, feasibility, reason and message of a measured trial from
 * t->metrics and t->settings. */
void study_evaluate(const struct study_eval *e, struct store_trial *t);

#endif
