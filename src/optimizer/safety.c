// SPDX-License-Identifier: Apache-2.0
/* Safe exploration for production (`safety: {min_feasibility: P}`), SafeOpt-style (Sui et al.
 * 2015): once a trial is feasible, a suggestion must have a modelled probability of meeting
 * every constraint (and of not failing) of at least P. The feasibility models then have their
 * prior mean on the constraint's boundary (feasibility.h), so the probability is high only
 * near trials that were feasible, and the safe set grows outward from them as trials come in.
 * The acquisition ranks every safe candidate above every unsafe one; when none is safe, the
 * study measures its best feasible trial again rather than risk an SLO violation. */
#include <math.h>
#include <string.h>

#include "optimizer/internal.h"

#define UNSAFE_PENALTY 1e6 /* below any log EI + log P(feasible) of a safe candidate */

bool opt_safety_active(const struct opt_data *data)
{
    return data->min_feasibility > 0 && data->feasible_count > 0;
}

bool opt_safety_ok(const struct opt_data *data, double log_pf)
{
    return !opt_safety_active(data) || log_pf >= log(data->min_feasibility);
}

double opt_safety_score(const struct opt_data *data, double value, double log_pf)
{
    if (opt_safety_ok(data, log_pf))
        return value;
    return -UNSAFE_PENALTY + log_pf;
}

/* The feasible trial with the lowest objective (the earliest on a tie). */
static size_t best_feasible(const struct opt_data *data)
{
    size_t best = data->n;
    for (size_t i = 0; i < data->n; i++)
        if (data->feasible[i] && (best == data->n || data->objective[i] < data->objective[best]))
            best = i;
    return best;
}

void opt_safety_fallback(const struct opt_data *data, struct opt_choice *choice)
{
    size_t best = best_feasible(data);
    if (best == data->n)
        return;
    memcpy(choice->z, data->z + best * data->d, data->d * sizeof(double));
    choice->expected_improvement = 0.0;
    choice->probability_feasible = 1.0;
}
