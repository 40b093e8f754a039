/* The fallback strategy: a multivariate tree-structured Parzen estimator (Bergstra et al.
 * 2011; Falkner et al. 2018 for the joint kernel), as Optuna's TPESampler(multivariate=True).
 *
 * The trials are ranked (feasible ones by objective, then measured infeasible ones by total
 * violation, then failed ones) and split: the best gamma(n) = min(ceil(n / 10), 25) form the
 * "good" density l(x), the rest the "bad" density g(x). Each density is a mixture with one
 * product kernel per trial plus a broad prior component: a normal of width sigma on a range
 * input (Scott's rule sigma = 0.2 m^(-1/(d+4)) on [0, 1]), and on an enum input the trial's value
 * with probability OWN_VALUE (the rest shared by the others). Candidates are drawn from l and
 * the one with the highest log l(x) - log g(x) wins. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/internal.h"
#include "util/util.h"

#define CANDIDATES 64
#define GAMMA_MAX 25
#define OWN_VALUE 0.7
#define PRIOR_SIGMA 1.0
#define LOG_SQRT_2PI 0.91893853320467274178

struct parzen {
    const struct opt_data *data;
    const size_t *members; /* trial indexes */
    size_t count;
    double *sigma; /* per input */
};

static void parzen_init(struct parzen *p, const struct opt_data *data, const size_t *members,
                        size_t count)
{
    p->data = data;
    p->members = members;
    p->count = count;
    p->sigma = xmalloc((data->d + 1) * sizeof(double));
    double scott = 0.2 * pow((double)count + 1.0, -1.0 / ((double)data->d + 4.0));
    for (size_t k = 0; k < data->d; k++) {
        const struct opt_dim *dim = &data->enc.dims[k];
        double floor_sigma = dim->levels > 1 ? 0.5 / (double)(dim->levels - 1) : 1e-3;
        p->sigma[k] = fmax(scott, floor_sigma);
    }
}

/* log of one input's kernel centred on `center` (NULL: the prior component). */
static double log_kernel(const struct parzen *p, size_t k, const double *center, double v)
{
    const struct opt_dim *dim = &p->data->enc.dims[k];
    if (dim->categorical) {
        double levels = (double)dim->levels;
        if (center == NULL)
            return -log(levels);
        return log(center[k] == v ? OWN_VALUE : (1.0 - OWN_VALUE) / (levels - 1.0));
    }
    double mu = center ? center[k] : 0.5, sigma = center ? p->sigma[k] : PRIOR_SIGMA;
    double t = (v - mu) / sigma;
    return -0.5 * t * t - log(sigma) - LOG_SQRT_2PI;
}

/* log density of the mixture at z: log-sum-exp over the components, weights 1/(count + 1). */
static double parzen_log_density(const struct parzen *p, const double *z)
{
    size_t d = p->data->d;
    double *terms = xmalloc((p->count + 1) * sizeof(double)), top = -INFINITY;
    for (size_t c = 0; c <= p->count; c++) {
        const double *center = c < p->count ? p->data->z + p->members[c] * d : NULL;
        double sum = 0.0;
        for (size_t k = 0; k < d; k++)
            sum += log_kernel(p, k, center, z[k]);
        terms[c] = sum;
        top = fmax(top, sum);
    }
    double total = 0.0;
    for (size_t c = 0; c <= p->count; c++)
        total += exp(terms[c] - top);
    free(terms);
    return top + log(total) - log((double)p->count + 1.0);
}

static double sample_truncated(double mu, double sigma, struct opt_rng *rng)
{
    for (int tries = 0; tries < 16; tries++) {
        double v = mu + sigma * opt_rng_normal(rng);
        if (v >= 0.0 && v <= 1.0)
            return v;
    }
    return fmin(fmax(mu, 0.0), 1.0);
}

static void parzen_sample(const struct parzen *p, struct opt_rng *rng, double *z)
{
    size_t d = p->data->d, c = opt_rng_below(rng, p->count + 1);
    const double *center = c < p->count ? p->data->z + p->members[c] * d : NULL;
    for (size_t k = 0; k < d; k++) {
        const struct opt_dim *dim = &p->data->enc.dims[k];
        if (!dim->categorical) {
            z[k] = center ? sample_truncated(center[k], p->sigma[k], rng) : opt_rng_uniform(rng);
            continue;
        }
        size_t own = center ? (size_t)center[k] : 0;
        if (center != NULL && opt_rng_uniform(rng) < OWN_VALUE) {
            z[k] = (double)own;
        } else {
            size_t v = opt_rng_below(rng, dim->levels);
            z[k] = (double)v;
        }
    }
    opt_data_snap(p->data, z);
}

/* Sort key: class (0 feasible, 1 measured infeasible, 2 failed), then value. */
struct ranked {
    int rank_class;
    double value;
    size_t index;
};

static int compare_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->rank_class != y->rank_class)
        return x->rank_class < y->rank_class ? -1 : 1;
    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void rank_trials(const struct opt_data *data, size_t *order)
{
    struct ranked *r = xmalloc(data->n * sizeof(*r));
    size_t c = data->constraint_count;
    for (size_t i = 0; i < data->n; i++) {
        r[i].index = i;
        r[i].value = 0.0;
        if (data->feasible[i]) {
            r[i].rank_class = 0;
            r[i].value = data->objective[i];
        } else if (data->ok[i]) {
            r[i].rank_class = 1;
            for (size_t k = 0; k < c; k++)
                r[i].value += fmax(0.0, data->constraints[i * c + k]);
        } else {
            r[i].rank_class = 2;
        }
    }
    qsort(r, data->n, sizeof(*r), compare_ranked);
    for (size_t i = 0; i < data->n; i++)
        order[i] = r[i].index;
    free(r);
}

int opt_tpe_suggest(const struct opt_data *data, struct opt_rng *rng, struct opt_choice *choice)
{
    if (data->n == 0)
        return -1;
    size_t d = data->d, *order = xmalloc(data->n * sizeof(size_t));
    rank_trials(data, order);
    size_t good = (data->n + 9) / 10;
    good = good > GAMMA_MAX ? GAMMA_MAX : good < 1 ? 1 : good;
    struct parzen l, g;
    parzen_init(&l, data, order, good);
    parzen_init(&g, data, order + good, data->n - good);
    double *z = xmalloc(2 * (d + 1) * sizeof(double)), *any = z + d + 1;
    double best_new = -INFINITY, best_any = -INFINITY;
    for (int i = 0; i < CANDIDATES; i++) {
        parzen_sample(&l, rng, z);
        double score = parzen_log_density(&l, z) - parzen_log_density(&g, z);
        if (i == 0 || score > best_any) {
            best_any = score;
            memcpy(any, z, d * sizeof(double));
        }
        if (score > best_new && !opt_data_contains(data, z)) {
            best_new = score;
            memcpy(choice->z, z, d * sizeof(double));
        }
    }
    if (best_new == -INFINITY)
        memcpy(choice->z, any, d * sizeof(double));
    choice->expected_improvement = 0.0;
    choice->probability_feasible = 0.0;
    free(z);
    free(order);
    free(l.sigma);
    free(g.sigma);
    return 0;
}
