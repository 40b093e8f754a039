// SPDX-License-Identifier: Apache-2.0
/* A study with several objectives: each trial's objective values, the feasible trials' Pareto
 * front, the front's trial the `prefer` weights pick (the study ends there), and the random
 * Chebyshev scalarization the engine minimizes at each suggestion (ParEGO). Used by the study
 * and by the results document alike. */
#ifndef SERVO_OPTIMIZER_STUDY_PARETO_H
#define SERVO_OPTIMIZER_STUDY_PARETO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "optimizer/store.h"
#include "optimizer/study_eval.h"

struct study_front {
    size_t n, k;
    double *values;    /* n x k, in each metric's own direction */
    double *minimized; /* n x k, maximized objectives negated */
    bool *known;       /* n: measured, every objective computed */
    bool *valid;       /* n: known and feasible */
    size_t *front;     /* the non-dominated valid trials (indices into the trials), ascending */
    size_t front_count;
    long pick; /* index of the trial the weights pick, -1 when the front is empty */
};

/* `space` may be NULL (bare setting names matched on the settings' keys); `prefer` holds k
 * weights or is NULL (closest to the ideal point, every objective counting alike). */
void study_front_build(struct study_front *f, const struct study_objective *objectives, size_t k,
                       const struct study_space *space, const struct store_trial *trials, size_t n,
                       const double *prefer);
void study_front_free(struct study_front *f);
/* The values the engine minimizes: an augmented Chebyshev scalarization with weights drawn
 * from (seed, draw), over the known trials (NAN for the others). `out` holds n values. */
void study_front_scalarize(const struct study_front *f, uint64_t seed, uint64_t draw, double *out);

#endif
