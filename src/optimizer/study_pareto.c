// SPDX-License-Identifier: Apache-2.0
/* A study's Pareto front (study_pareto.h). */
#include "optimizer/study_pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/pareto.h"
#include "util/util.h"

void study_front_build(struct study_front *f, const struct study_objective *objectives, size_t k,
                       const struct study_space *space, const struct store_trial *trials, size_t n,
                       const double *prefer)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->k = k;
    f->values = xcalloc(n * k + 1, sizeof *f->values);
    f->minimized = xcalloc(n * k + 1, sizeof *f->minimized);
    f->known = xcalloc(n + 1, sizeof *f->known);
    f->valid = xcalloc(n + 1, sizeof *f->valid);
    f->front = xcalloc(n + 1, sizeof *f->front);
    for (size_t i = 0; i < n; i++) {
        const struct store_trial *t = &trials[i];
        double *v = f->values + i * k;
        bool all = study_trial_objectives(objectives, k, space, t, v);
        f->known[i] = all && t->has_objective;
        f->valid[i] = f->known[i] && t->feasible;
        for (size_t j = 0; j < k; j++)
            f->minimized[i * k + j] = objectives[j].goal == GOAL_MAXIMIZE ? -v[j] : v[j];
    }
    f->front_count = pareto_front(f->minimized, f->valid, n, k, f->front);
    f->pick = f->front_count > 0
                  ? (long)f->front[pareto_pick(f->minimized, f->front, f->front_count, k, prefer)]
                  : -1;
}

void study_front_free(struct study_front *f)
{
    free(f->values);
    free(f->minimized);
    free(f->known);
    free(f->valid);
    free(f->front);
    memset(f, 0, sizeof *f);
}

void study_front_scalarize(const struct study_front *f, uint64_t seed, uint64_t draw, double *out)
{
    double weights[STUDY_MAX_OBJECTIVES];
    pareto_random_weights(seed, draw, f->k, weights);
    pareto_chebyshev(f->minimized, f->known, f->n, f->k, weights, out);
    for (size_t i = 0; i < f->n; i++)
        if (!f->known[i])
            out[i] = NAN;
}
