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

/* True when trial i lies in the neighbourhood of a centre whose region was exhausted: within
 * OPT_TRUST_EXHAUSTED_RADIUS of it on every range input. */
static bool exhausted(const struct opt_data *data, const struct opt_trust_region *region, size_t i)
{
    const double *z = data->z + i * data->d;
    for (size_t e = 0; e < region->exhausted_count; e++) {
        const double *center = data->z + region->exhausted[e] * data->d;
        bool near = true;
        for (size_t k = 0; k < data->d && near; k++)
            near = data->categorical[k] || fabs(z[k] - center[k]) <= OPT_TRUST_EXHAUSTED_RADIUS;
        if (near)
            return true;
    }
    return false;
}

/* A trial that may be the centre: measured, and outside every exhausted neighbourhood. */
static bool eligible(const struct opt_data *data, const struct opt_trust_region *region, size_t i)
{
    return data->ok[i] && !exhausted(data, region, i);
}

/* The restart after trial `last`: the exhausted centre's neighbourhood is left to the global
 * search, and the region starts over around the best trial outside it. When every trial so far
 * lies in an exhausted neighbourhood, the exclusions are forgotten and the centre stays. */
static void restart(const struct opt_data *data, size_t last, struct opt_trust_region *region)
{
    region->length = OPT_TRUST_INITIAL;
    region->restarts++;
    if (region->exhausted_count == OPT_TRUST_EXHAUSTED_MAX)
        return;
    region->exhausted[region->exhausted_count++] = region->center;
    bool found = false;
    for (size_t j = 0; j <= last; j++)
        if (eligible(data, region, j) && (!found || opt_trust_better(data, j, region->center))) {
            region->center = j;
            found = true;
        }
    if (!found)
        region->exhausted_count = 0;
}

void opt_trust_replay(const struct opt_data *data, size_t design, struct opt_trust_region *region)
{
    *region = (struct opt_trust_region){.length = OPT_TRUST_INITIAL};
    size_t failure_limit = opt_trust_failure_limit(data->d);
    for (size_t i = 0; i < data->n; i++) {
        bool candidate = eligible(data, region, i);
        bool success = candidate && (!region->have_center || improves(data, i, region->center));
        if (candidate && (!region->have_center || opt_trust_better(data, i, region->center))) {
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
        if (region->length < OPT_TRUST_MIN)
            restart(data, i, region);
    }
}
