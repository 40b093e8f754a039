// SPDX-License-Identifier: Apache-2.0
/* Several objectives: Pareto dominance, the non-dominated front, its hypervolume, the random
 * Chebyshev scalarizations of ParEGO (Knowles 2006) that let the single-objective engine search
 * the front, and the front's trial a user's weights pick. Pure functions on n x k arrays of
 * values to MINIMIZE (a maximized objective is negated by the caller); `valid` (NULL: all)
 * marks the points that count (feasible, every objective known). */
#ifndef SERVO_OPTIMIZER_PARETO_H
#define SERVO_OPTIMIZER_PARETO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a is no worse than b in every objective and better in one. */
bool pareto_dominates(const double *a, const double *b, size_t k);
/* The indices of the valid points no valid point dominates, ascending; returns how many.
 * `index` holds n entries. Equal points are all kept. */
size_t pareto_front(const double *points, const bool *valid, size_t n, size_t k, size_t *index);
/* The volume dominated by the valid points and bounded by `reference` (points not below the
 * reference in every objective add nothing). k = 1, 2 or 3; NAN for more. */
double pareto_hypervolume(const double *points, const bool *valid, size_t n, size_t k,
                          const double *reference);
/* Weights drawn uniformly from the simplex (they sum to 1), from (seed, draw). */
void pareto_random_weights(uint64_t seed, uint64_t draw, size_t k, double *weights);
/* ParEGO's augmented Chebyshev scalarization of every point, objectives first scaled to [0, 1]
 * over the valid points: out[i] = max_j w_j f_ij + 0.05 sum_j w_j f_ij. Points that are not
 * valid but have finite values (an SLO violation) are scaled the same way; NAN where a value
 * is not finite. */
void pareto_chebyshev(const double *points, const bool *valid, size_t n, size_t k,
                      const double *weights, double *out);
/* The front's point (an entry of `front`, count > 0) closest to the ideal point after each
 * objective is scaled to [0, 1] over the front, the distance weighted by `weights` (NULL:
 * equal). Returns its position in `front`. */
size_t pareto_pick(const double *points, const size_t *front, size_t count, size_t k,
                   const double *weights);

#endif
