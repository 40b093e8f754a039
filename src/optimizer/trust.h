// SPDX-License-Identifier: Apache-2.0
/* A trust region around the incumbent (TuRBO, Eriksson et al. 2019; with the constrained ranking
 * of SCBO, Eriksson and Poloczek 2021), replayed from the history at every suggestion: the engine
 * keeps no state between calls, so the region's size is a function of the trials alone.
 *
 * Ranking: a feasible trial beats an infeasible one; two feasible trials compare by objective;
 * two infeasible ones by their total violation (the sum of the positive constraint values); a
 * failed trial beats nothing. After the initial design, a trial that beats the incumbent is a
 * success, any other a failure: OPT_TRUST_SUCCESSES successes in a row double the side (up to
 * OPT_TRUST_MAX), opt_trust_failure_limit(d) failures in a row halve it, and a side below
 * OPT_TRUST_MIN starts over at OPT_TRUST_INITIAL somewhere else: the centre's neighbourhood
 * (OPT_TRUST_EXHAUSTED_RADIUS on every range input) is exhausted, and the best trial outside
 * every exhausted neighbourhood becomes the centre. A trial inside one is never the centre nor a
 * success; the global half of the search may still go there. As TuRBO's restarts, this keeps the
 * local search from refining one basin for good, and noise-lucky observations in it from
 * passing for progress. */
#ifndef SERVO_OPTIMIZER_TRUST_H
#define SERVO_OPTIMIZER_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/internal.h"

#define OPT_TRUST_INITIAL 0.8
#define OPT_TRUST_MIN 0.0078125 /* 2^-7 */
#define OPT_TRUST_MAX 1.6
#define OPT_TRUST_SUCCESSES 3
#define OPT_TRUST_EXHAUSTED_RADIUS 0.2 /* on the unit cube */
#define OPT_TRUST_EXHAUSTED_MAX 16     /* exhausted centres remembered; later restarts stay put */

struct opt_trust_region {
    double length;    /* side of the box on the unit cube, before the per-input weights */
    size_t center;    /* the incumbent: index of the best trial in the data */
    bool have_center; /* false when no trial was measured */
    size_t successes; /* in a row */
    size_t failures;  /* in a row */
    size_t restarts;  /* times the side fell below OPT_TRUST_MIN */
    size_t exhausted[OPT_TRUST_EXHAUSTED_MAX]; /* centres of exhausted regions (trial indices) */
    size_t exhausted_count;
};

/* Failures in a row that halve the side in d dimensions: max(4, min(d, 8)). */
size_t opt_trust_failure_limit(size_t d);
/* True when trial a ranks before trial b (see the ranking above). */
bool opt_trust_better(const struct opt_data *data, size_t a, size_t b);
/* Replays the history: trials 0 .. design - 1 only set the incumbent, later ones also count as
 * successes or failures. */
void opt_trust_replay(const struct opt_data *data, size_t design, struct opt_trust_region *region);

#endif
