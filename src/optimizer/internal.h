/* What the strategies of the engine share: the history, encoded and classified once. */
#ifndef SERVO_OPTIMIZER_INTERNAL_H
#define SERVO_OPTIMIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/engine.h"
#include "optimizer/rng.h"
#include "optimizer/space.h"

/* The trials whose settings could be encoded (others are ignored), d = enc.count. */
struct opt_data {
    struct opt_encoding enc;
    size_t d;
    bool *categorical; /* d */
    size_t n;          /* usable trials */
    double *z;         /* n x d encoded settings */
    bool *ok;          /* n: measured with finite objective and constraint values */
    bool *feasible;    /* n: ok and every constraint <= 0 */
    double *objective; /* n: valid when ok */
    size_t constraint_count;
    double *constraints; /* n x constraint_count: valid when ok */
    size_t ok_count, feasible_count, failed_count;
    size_t design;          /* trials of the baseline and the initial design (the first ones) */
    double min_feasibility; /* > 0: safe exploration is on (and a trial is feasible) */
};

/* A candidate found by a strategy, in encoded coordinates. */
struct opt_choice {
    double *z;                   /* d values, caller-allocated */
    double expected_improvement; /* in the model's standardized units; 0 when unknown */
    double probability_feasible;
};

/* True when the snapped encoded point z equals a trial already in the history. */
bool opt_data_contains(const struct opt_data *data, const double *z);
/* Snaps an encoded point onto the grid in place. */
void opt_data_snap(const struct opt_data *data, double *z);

/* Gaussian-process Bayesian optimization: log expected improvement times the probability of
 * feasibility (constraints and failures). Returns 0, or -1 when a model cannot be fitted. */
int opt_bo_suggest(const struct opt_data *data, struct opt_rng *rng, struct opt_choice *choice);
/* Multivariate tree-structured Parzen estimator, the fallback. Returns 0 (never fails once
 * there is at least one usable trial), or -1 when there is none. */
int opt_tpe_suggest(const struct opt_data *data, struct opt_rng *rng, struct opt_choice *choice);

/* Safe exploration (safety.c). Active once a trial is feasible with min_feasibility > 0. */
bool opt_safety_active(const struct opt_data *data);
/* True when a log probability of feasibility meets min_feasibility (always when inactive). */
bool opt_safety_ok(const struct opt_data *data, double log_pf);
/* The acquisition value of a candidate: unchanged when safe, else far below every safe one
 * and ordered by its probability of feasibility (the safest unsafe one first). */
double opt_safety_score(const struct opt_data *data, double value, double log_pf);
/* The safe answer when no candidate is safe: the best feasible trial again. */
void opt_safety_fallback(const struct opt_data *data, struct opt_choice *choice);

#endif
