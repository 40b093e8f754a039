// SPDX-License-Identifier: Apache-2.0
/* Trust-region bookkeeping (trust.h). */
#include "optimizer/trust.h"

#include <math.h>

#define IMPROVEMENT 1e-3 /* a success improves on the incumbent by this share of its scale */

size_t opt_trust_failure_limit(size_t d)
{
    size_t limit = d < 8 ? d : 8;
    return limit < 4 ? 4 : limit;
}

static double violation(const struct opt_data *data, size_t i)
{
    double sum = 0.0;
    for (size_t k = 0; k < data->constraint_count; k++)
        sum += fmax(0.0, data->constraints[i * data->constraint_count + k]);
    return sum;
}

bool opt_trust_better(const struct opt_data *data, size_t a, size_t b)
{
    if (!data->ok[a])
        return false;
    if (!data->ok[b])
        return true;
    if (data->feasible[a] != data->feasible[b])
        return data->feasible[a];
    if (data->feasible[a])
        return data->objective[a] < data->objective[b];
    return violation(data, a) < violation(data, b);
}

/* A clear improvement: better, and by more than IMPROVEMENT of the incumbent's magnitude when
 * both are feasible (a noise-sized gain is no success). */
static bool improves(const struct opt_data *data, size_t candidate, size_t incumbent)
{
    if (!opt_trust_better(data, candidate, incumbent))
        return false;
    if (!data->feasible[candidate] || !data->feasible[incumbent])
        return true;
    double gap = data->objective[incumbent] - data->objective[candidate];
    return gap > IMPROVEMENT * fmax(fabs(data->objective[incumbent]), 1e-12);
}

void opt_trust_replay(const struct opt_data *data, size_t design, struct opt_trust_region *region)
{
    *region = (struct opt_trust_region){.length = OPT_TRUST_INITIAL};
    size_t failure_limit = opt_trust_failure_limit(data->d);
    for (size_t i = 0; i < data->n; i++) {
        bool success = data->ok[i] && (!region->have_center || improves(data, i, region->center));
        if (data->ok[i] && (!region->have_center || opt_trust_better(data, i, region->center))) {
            region->center = i;
            region->have_center = true;
        }
        if (i < design)
            continue;
        if (success) {
            region->successes++;
            region->failures = 0;
        } else {
            region->failures++;
            region->successes = 0;
        }
        if (region->successes >= OPT_TRUST_SUCCESSES) {
            region->length = fmin(2.0 * region->length, OPT_TRUST_MAX);
            region->successes = 0;
        } else if (region->failures >= failure_limit) {
            region->length /= 2.0;
            region->failures = 0;
        }
        if (region->length < OPT_TRUST_MIN) {
            region->length = OPT_TRUST_INITIAL;
            region->restarts++;
        }
    }
}
