/* Gaussian-process Bayesian optimization with constrained log expected improvement.
 *
 * Models: one GP on the objective of the measured trials (standardized, then a Yeo-Johnson
 * output warp; up to 10 inputs and without safety, its kernel has a fitted additive share,
 * gp.h), one GP per constraint (under the output warp that makes its values most likely,
 * feasibility.h), both with a quadratic trend in their kernel when safety is off (gp.h), and, when
 * some trials failed, one GP on a +1 (failed) / -1 (measured) label read as the probability of
 * success. A failed trial never gets an objective value. Up to 10 inputs and 80 trials, every
 * model comes with draws of its hyperparameters from their posterior (gp.h), and the
 * acquisition averages each model's EI or probability over the MAP model and its draws.
 *
 * Acquisition (Gardner et al. 2014, with the log EI of Ament et al. 2023):
 *   a(x) = log EI(x) + sum_c log P(g_c(x) <= 0),   EI = sigma h((best - mu) / sigma),
 *   h(z) = z Phi(z) + phi(z),
 * with `best` the lowest posterior mean over the feasible trials. With no feasible trial yet, a(x)
 * is the log probability of feasibility alone. It is maximized over scrambled Sobol candidates
 * and perturbations of the best trials and Sobol points in a trust region around the incumbent
 * (trust.h), then refined by a (1+1) evolution strategy from the best candidates; every point
 * is snapped to the grid before it is scored, and a point equal to a past trial is only chosen
 * when nothing else is left. Every other suggestion is confined to the trust region, so that
 * global search and local refinement alternate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/feasibility.h"
#include "optimizer/gp.h"
#include "optimizer/internal.h"
#include "optimizer/sobol.h"
#include "optimizer/trust.h"
#include "util/util.h"

#define LOG_SQRT_2PI 0.91893853320467274178
#define SOBOL_MIN 256
#define SOBOL_MAX 2048
#define CANDIDATE_FLOPS 2e7  /* work for the candidate screen, in multiply-adds */
#define INCUMBENTS 5         /* best trials whose neighbourhoods are sampled */
#define PERTURBATIONS 40     /* per incumbent */
#define STARTS 5             /* local searches */
#define LOCAL_STEPS 30       /* per local search */
#define TRUST_REGION 1       /* 0: the search of before the trust region (for comparison) */
#define TRUST_CANDIDATES 256 /* Sobol points in the trust region */
#define WARP_OUTPUT 1
#define ADDITIVE_MAX_INPUTS 10 /* beyond, the per-input terms cost too much (docs/optimizer.md) */
#define TREND_WEIGHT 0.5       /* q, the quadratic trend's weight in the kernel (gp.c) */
#define LABEL_MIN_LENGTHSCALE 0.15 /* failure model, on the unit cube */
#define LABEL_MIN_NOISE 0.01
#define LABEL_MAX_NOISE 0.05
/* Models of each output: the MAP one and draws of its hyperparameters (gp.h), up to 10 inputs
 * and 80 measured trials; beyond, the MAP model alone (docs/optimizer.md, fourteenth round). */
#define MODEL_DRAWS 8
#define DRAWS_MAX_INPUTS 10
#define DRAWS_MAX_TRIALS 80

struct acquisition {
    const struct opt_data *data;
    bool use_objective; /* false until a trial is feasible: maximize P(feasible) alone */
    struct opt_gp objective[MODEL_DRAWS]; /* the MAP model first, then the draws */
    double best[MODEL_DRAWS];
    size_t objective_count;
    struct opt_feasibility *models;
    size_t model_count;
    struct opt_gp *model_draws; /* per model, up to MODEL_DRAWS - 1 draws */
    size_t *model_draw_count;
    /* Every GP predicted, grouped: each feasibility model's, then the objective's; group g
     * ends at group_end[g]. */
    const struct opt_gp **gps;
    size_t *group_end;
    size_t gp_count;
    double *work; /* n doubles for the predictions */
};

struct evaluation {
    double value, log_ei, log_pf;
};

/* log Phi(z), stable in the lower tail (Abramowitz and Stegun 26.2.12 past -30). */
static double log_normal_cdf(double z)
{
    if (z < -30.0)
        return -0.5 * z * z - log(-z) - LOG_SQRT_2PI;
    return log(0.5 * erfc(-z * M_SQRT1_2));
}

/* log h(z), h(z) = z Phi(z) + phi(z). For z < -6 the difference cancels, so use the
 * asymptotic expansion h(z) = phi(z) / z^2 (1 - 3/z^2 + 15/z^4 - 105/z^6 + ...). */
static double log_h(double z)
{
    if (z > -6.0) {
        double phi = exp(-0.5 * z * z - LOG_SQRT_2PI);
        return log(z * 0.5 * erfc(-z * M_SQRT1_2) + phi);
    }
    double z2 = z * z, inv = 1.0 / z2;
    double series = 1.0 - 3.0 * inv + 15.0 * inv * inv - 105.0 * inv * inv * inv;
    return -0.5 * z2 - LOG_SQRT_2PI - log(z2) + log(series);
}

static double yeo_johnson(double y, double lambda)
{
    if (y >= 0)
        return fabs(lambda) < 1e-9 ? log1p(y) : (pow(y + 1.0, lambda) - 1.0) / lambda;
    double l2 = 2.0 - lambda;
    return fabs(l2) < 1e-9 ? -log1p(-y) : -(pow(1.0 - y, l2) - 1.0) / l2;
}

/* The Yeo-Johnson power transform (Yeo and Johnson 2000) of standardized values, lambda from
 * a grid by maximum likelihood: the profile log-likelihood of a normal fit is
 *   -n/2 log var(T_lambda(y)) + (lambda - 1) sum sign(y_i) log(|y_i| + 1). */
static void warp_output(double *v, size_t n)
{
    double *t = xmalloc(n * sizeof(double));
    double best_lambda = 1.0, best_ll = -INFINITY;
    for (int step = 0; step <= 30; step++) {
        double lambda = -1.0 + 0.1 * step, mean = 0.0, var = 0.0, jacobian = 0.0;
        for (size_t i = 0; i < n; i++) {
            t[i] = yeo_johnson(v[i], lambda);
            mean += t[i];
            jacobian += copysign(log1p(fabs(v[i])), v[i]);
        }
        mean /= (double)n;
        for (size_t i = 0; i < n; i++)
            var += (t[i] - mean) * (t[i] - mean);
        var /= (double)n;
        if (!(var > 0))
            continue;
        double ll = -0.5 * (double)n * log(var) + (lambda - 1.0) * jacobian;
        if (ll > best_ll) {
            best_ll = ll;
            best_lambda = lambda;
        }
    }
    for (size_t i = 0; i < n; i++)
        v[i] = yeo_johnson(v[i], best_lambda);
    opt_standardize(v, n, NULL, NULL);
    free(t);
}

static struct opt_gp_fit_options fit_options(size_t n)
{
    struct opt_gp_fit_options o = {
        .restarts = n <= 60 ? 2 : 1, .iterations = 40, .max_fit_points = 80};
    return o;
}

/* Gathers the encoded settings of the measured trials. */
static double *measured_inputs(const struct opt_data *data)
{
    double *x = xmalloc((data->ok_count * data->d + 1) * sizeof(double));
    size_t m = 0;
    for (size_t i = 0; i < data->n; i++)
        if (data->ok[i])
            memcpy(x + (m++) * data->d, data->z + i * data->d, data->d * sizeof(double));
    return x;
}

/* The quadratic trend of the objective and constraint models, off under safety: like the
 * additive share, it predicts far from the trials, where a safe search does not go, and there
 * it changes which of the safe candidates wins for the worse (docs/optimizer.md, the seventh
 * round). */
static double model_trend(const struct opt_data *data)
{
    return opt_safety_active(data) ? 0.0 : TREND_WEIGHT;
}

/* How many draws to add to a model of n points (the MAP model alone beyond the limits). */
static size_t draw_count(const struct opt_data *data, size_t n)
{
    return data->d <= DRAWS_MAX_INPUTS && n <= DRAWS_MAX_TRIALS ? MODEL_DRAWS - 1 : 0;
}

/* The model of a constraint's values, or (`labels`) of the failure label, and its draws
 * (`drawn` of them). Returns 1 when the model was fitted, 0 when the values are constant
 * (nothing to learn), -1 on failure. */
static int fit_feasibility(struct opt_feasibility *model, const double *x, const double *values,
                           size_t n, const struct opt_data *data, bool labels, struct opt_gp *draws,
                           size_t *drawn, struct opt_rng *rng)
{
    struct opt_gp_fit_options o = fit_options(n);
    o.restarts = 1; /* a cheaper fit: feasibility needs less precision than the objective */
    o.iterations = 30;
    o.max_fit_points = 64;
    o.trend = labels ? 0.0 : model_trend(data); /* a label's model is a smooth boundary */
    /* Matern-3/2: a latency that saturates, or the edge of an out-of-memory region, is not a
     * smooth function. Not under safety, where the smoother model's safe set did better
     * (docs/optimizer.md, the thirteenth round). */
    o.rough = !opt_safety_active(data);
    if (labels) {
        /* A step from success to failure would otherwise be fitted with tiny lengthscales,
         * and the model would forget a failure a short way from it: fit a smooth boundary. */
        o.min_lengthscale = LABEL_MIN_LENGTHSCALE;
        o.min_noise = LABEL_MIN_NOISE;
        o.max_noise = LABEL_MAX_NOISE;
    }
    /* Under safety the prior mean is the boundary itself, so a point far from every trial has
     * a probability of feasibility of 1/2 and the safe set grows outward from the trials. A
     * label (+1 failed, -1 measured) needs no warp. */
    int status = opt_feasibility_fit(model, x, values, n, data->d, data->categorical, &o,
                                     opt_safety_active(data), !labels, rng);
    *drawn = status > 0 ? opt_feasibility_draws(model, values, &o, opt_safety_active(data),
                                                draw_count(data, n), draws, rng)
                        : 0;
    return status;
}

static int fit_constraint_models(struct acquisition *a, const double *x, struct opt_rng *rng)
{
    const struct opt_data *data = a->data;
    size_t m = data->ok_count, c = data->constraint_count;
    a->models = xcalloc(c + 1, sizeof(*a->models));
    a->model_draws = xcalloc((c + 1) * (MODEL_DRAWS - 1), sizeof(*a->model_draws));
    a->model_draw_count = xcalloc(c + 1, sizeof(size_t));
    double *values = xmalloc((data->n + 1) * sizeof(double));
    int status = 0;
    for (size_t k = 0; k < c && status == 0; k++) {
        size_t j = 0;
        for (size_t i = 0; i < data->n; i++)
            if (data->ok[i])
                values[j++] = data->constraints[i * c + k];
        size_t k_model = a->model_count;
        int fitted = fit_feasibility(&a->models[k_model], x, values, m, data, false,
                                     &a->model_draws[k_model * (MODEL_DRAWS - 1)],
                                     &a->model_draw_count[k_model], rng);
        if (fitted < 0)
            status = -1;
        a->model_count += fitted > 0;
    }
    if (status == 0 && data->failed_count > 0) {
        for (size_t i = 0; i < data->n; i++)
            values[i] = data->ok[i] ? -1.0 : 1.0;
        size_t k_model = a->model_count;
        int fitted = fit_feasibility(&a->models[k_model], data->z, values, data->n, data, true,
                                     &a->model_draws[k_model * (MODEL_DRAWS - 1)],
                                     &a->model_draw_count[k_model], rng);
        if (fitted < 0)
            status = -1;
        a->model_count += fitted > 0;
    }
    free(values);
    return status;
}

static int fit_objective(struct acquisition *a, const double *x, struct opt_rng *rng)
{
    const struct opt_data *data = a->data;
    size_t m = data->ok_count;
    double *y = xmalloc((data->n + 1) * sizeof(double));
    size_t j = 0;
    for (size_t i = 0; i < data->n; i++)
        if (data->ok[i])
            y[j++] = data->objective[i];
    opt_standardize(y, m, NULL, NULL);
    if (WARP_OUTPUT)
        warp_output(y, m);
    struct opt_gp_fit_options o = fit_options(m);
    /* Not under safety: what the additive share buys is prediction far from the trials (a
     * known effect of one input carried to new values of the others), where a safe search does
     * not go, and its long-range correlations change which of the safe candidates wins
     * (docs/optimizer.md, the sixth round). */
    o.additive = data->d <= ADDITIVE_MAX_INPUTS && !opt_safety_active(data);
    o.trend = model_trend(data);
    int status = opt_gp_fit(&a->objective[0], x, y, m, data->d, data->categorical, &o, rng);
    if (status == 0) {
        a->objective_count = 1 + opt_gp_draw_models(&a->objective[0], y, &o, draw_count(data, m),
                                                    &a->objective[1], rng);
    }
    free(y);
    if (status != 0)
        return -1;
    /* The incumbent: the lowest posterior mean over the feasible trials, per model. */
    for (size_t k = 0; k < a->objective_count; k++) {
        a->best[k] = INFINITY;
        for (size_t i = 0; i < data->n; i++) {
            if (!data->feasible[i])
                continue;
            double mean, var;
            opt_gp_predict(&a->objective[k], data->z + i * data->d, &mean, &var, a->work);
            a->best[k] = fmin(a->best[k], mean);
        }
    }
    return 0;
}

static void acquisition_free(struct acquisition *a)
{
    for (size_t k = 0; k < a->objective_count; k++)
        opt_gp_free(&a->objective[k]);
    for (size_t k = 0; k < a->model_count; k++) {
        opt_gp_free(&a->models[k].gp);
        for (size_t j = 0; j < a->model_draw_count[k]; j++)
            opt_gp_free(&a->model_draws[k * (MODEL_DRAWS - 1) + j]);
    }
    free(a->models);
    free(a->model_draws);
    free(a->model_draw_count);
    free(a->gps);
    free(a->group_end);
    free(a->work);
}

/* Lists every GP to predict, grouped by what it models (struct acquisition). */
static void group_models(struct acquisition *a)
{
    size_t total = a->objective_count;
    for (size_t k = 0; k < a->model_count; k++)
        total += 1 + a->model_draw_count[k];
    a->gps = xmalloc((total + 1) * sizeof(*a->gps));
    a->group_end = xmalloc((a->model_count + 1) * sizeof(size_t));
    size_t count = 0;
    for (size_t k = 0; k < a->model_count; k++) {
        a->gps[count++] = &a->models[k].gp;
        for (size_t j = 0; j < a->model_draw_count[k]; j++)
            a->gps[count++] = &a->model_draws[k * (MODEL_DRAWS - 1) + j];
        a->group_end[k] = count;
    }
    for (size_t j = 0; j < a->objective_count; j++)
        a->gps[count++] = &a->objective[j];
    a->group_end[a->model_count] = count;
    a->gp_count = count;
}

static int acquisition_init(struct acquisition *a, const struct opt_data *data, struct opt_rng *rng)
{
    memset(a, 0, sizeof(*a));
    a->data = data;
    a->work = xmalloc((data->n + data->d + 1) * sizeof(double));
    double *x = measured_inputs(data);
    int status = fit_constraint_models(a, x, rng);
    if (status == 0 && data->feasible_count > 0) {
        status = fit_objective(a, x, rng);
        a->use_objective = status == 0;
    }
    free(x);
    if (status != 0)
        acquisition_free(a);
    else
        group_models(a);
    return status;
}

/* log of the mean of exp(terms[0..count)), without overflow. */
static double log_mean_exp(const double *terms, size_t count)
{
    double top = -INFINITY, sum = 0.0;
    for (size_t j = 0; j < count; j++)
        top = fmax(top, terms[j]);
    if (!isfinite(top))
        return top;
    for (size_t j = 0; j < count; j++)
        sum += exp(terms[j] - top);
    return top + log(sum / (double)count);
}

/* The acquisition from each GP's mean and variance, gps[i] at mean[i * stride]: each model's
 * probability, and the objective's expected improvement, averaged over its group (the MAP model
 * and the draws of its hyperparameters). */
static struct evaluation combine(const struct acquisition *a, const double *mean, const double *var,
                                 size_t stride)
{
    struct evaluation e = {0};
    double terms[MODEL_DRAWS];
    size_t start = 0;
    for (size_t k = 0; k < a->model_count; k++) {
        for (size_t i = start; i < a->group_end[k]; i++)
            terms[i - start] =
                log_normal_cdf((a->models[k].threshold - mean[i * stride]) / sqrt(var[i * stride]));
        e.log_pf += log_mean_exp(terms, a->group_end[k] - start);
        start = a->group_end[k];
    }
    if (a->use_objective) {
        for (size_t i = start; i < a->gp_count; i++) {
            double sd = sqrt(var[i * stride]);
            terms[i - start] = log(sd) + log_h((a->best[i - start] - mean[i * stride]) / sd);
        }
        e.log_ei = log_mean_exp(terms, a->gp_count - start);
    }
    e.value = opt_safety_score(a->data, e.log_ei + e.log_pf, e.log_pf);
    return e;
}

#define BATCH 64

/* Scores `count` points (count x d) in batches of BATCH through every model. */
static void evaluate_batch(const struct acquisition *a, const double *z, size_t count,
                           struct evaluation *out)
{
    size_t d = a->data->d, models = a->gp_count;
    double *mean = xmalloc((2 * models * BATCH + 1) * sizeof(double)), *var = mean + models * BATCH;
    double *work = xmalloc(((a->data->n + d) * BATCH + 1) * sizeof(double));
    for (size_t start = 0; start < count; start += BATCH) {
        size_t m = count - start < BATCH ? count - start : BATCH;
        for (size_t k = 0; k < models; k++)
            opt_gp_predict_batch(a->gps[k], z + start * d, m, mean + k * BATCH, var + k * BATCH,
                                 work);
        for (size_t c = 0; c < m; c++)
            out[start + c] = combine(a, mean + c, var + c, BATCH);
    }
    free(mean);
    free(work);
}

static struct evaluation evaluate(const struct acquisition *a, const double *z)
{
    size_t models = a->gp_count;
    double *mean = xmalloc((2 * models + 1) * sizeof(double)), *var = mean + models;
    for (size_t k = 0; k < models; k++)
        opt_gp_predict(a->gps[k], z, &mean[k], &var[k], a->work);
    struct evaluation e = combine(a, mean, var, 1);
    free(mean);
    return e;
}
/* The search state: the best point overall and the best one that repeats no trial. */
struct search {
    const struct acquisition *acq;
    size_t d;
    const double *low, *high; /* the trust region's box when the choice is restricted to it */
    double *best_new, *best_any, *best_inside; /* best_inside: new and in the box */
    struct evaluation eval_new, eval_any, eval_inside;
    bool have_new, have_inside;
};

/* Inside the box, give or take half a grid step (a snapped point may leave a narrow box). */
static bool inside(const struct opt_data *data, const double *low, const double *high,
                   const double *z)
{
    for (size_t k = 0; k < data->d; k++) {
        const struct opt_dim *dim = &data->enc.dims[k];
        if (dim->categorical)
            continue;
        double slack = dim->levels > 1 ? 0.5 / (double)(dim->levels - 1) + 1e-12 : 1e-12;
        if (z[k] < low[k] - slack || z[k] > high[k] + slack)
            return false;
    }
    return true;
}

/* Keeps the best point overall, the best new one, and the best new one inside the trust
 * region's box when the choice is confined to it. */
static void consider(struct search *s, const double *z, struct evaluation e)
{
    if (e.value > s->eval_any.value) {
        s->eval_any = e;
        memcpy(s->best_any, z, s->d * sizeof(double));
    }
    bool better_new = !s->have_new || e.value > s->eval_new.value;
    bool better_inside = s->low != NULL && (!s->have_inside || e.value > s->eval_inside.value) &&
                         inside(s->acq->data, s->low, s->high, z);
    if ((!better_new && !better_inside) || opt_data_contains(s->acq->data, z))
        return;
    if (better_new) {
        s->have_new = true;
        s->eval_new = e;
        memcpy(s->best_new, z, s->d * sizeof(double));
    }
    if (better_inside) {
        s->have_inside = true;
        s->eval_inside = e;
        memcpy(s->best_inside, z, s->d * sizeof(double));
    }
}

/* Moves one input of z: a range by a normal step reflected into [0, 1] (at least one grid
 * level), an enum to another value. */
static void perturb_input(const struct opt_dim *dim, double *v, double step, struct opt_rng *rng)
{
    if (dim->categorical) {
        size_t level = (size_t)*v, other = opt_rng_below(rng, dim->levels - 1);
        *v = (double)(other >= level ? other + 1 : other);
        return;
    }
    double delta = step * opt_rng_normal(rng);
    if (dim->levels > 1 && fabs(delta) < 1.0 / (double)(dim->levels - 1))
        delta = copysign(1.0 / (double)(dim->levels - 1), delta);
    double moved = *v + delta;
    if (moved < 0)
        moved = -moved;
    if (moved > 1)
        moved = 2.0 - moved;
    *v = fmin(fmax(moved, 0.0), 1.0);
}

/* A neighbour of `from`: each input moves with probability 2/d, at least one. */
static void mutate(const struct opt_data *data, const double *from, double *to, double step,
                   struct opt_rng *rng)
{
    size_t d = data->d, forced = opt_rng_below(rng, d);
    double p = d <= 2 ? 1.0 : 2.0 / (double)d;
    memcpy(to, from, d * sizeof(double));
    for (size_t k = 0; k < d; k++)
        if (k == forced || opt_rng_uniform(rng) < p)
            perturb_input(&data->enc.dims[k], &to[k], step, rng);
    opt_data_snap(data, to);
}

/* The trials whose neighbourhoods are sampled: the best feasible ones by objective, or the
 * best measured ones when none is feasible. */
static size_t pick_incumbents(const struct opt_data *data, size_t *index)
{
    size_t count = 0;
    for (size_t i = 0; i < data->n; i++) {
        bool eligible = data->feasible_count > 0 ? data->feasible[i] : data->ok[i];
        if (!eligible)
            continue;
        size_t j = count++;
        for (; j > 0 && data->objective[index[j - 1]] > data->objective[i]; j--)
            index[j] = index[j - 1];
        index[j] = i;
    }
    return count < INCUMBENTS ? count : INCUMBENTS;
}

static size_t sobol_candidate_count(const struct opt_data *data, size_t models)
{
    double n = (double)data->n, d = (double)data->d;
    double cost = (double)models * (n * d + 0.5 * n * n) + 1.0;
    double count = CANDIDATE_FLOPS / cost;
    return count < SOBOL_MIN ? SOBOL_MIN : count > SOBOL_MAX ? SOBOL_MAX : (size_t)count;
}

/* The trust region's box around its center: the side `length` stretched per range input by
 * its lengthscale over their geometric mean (as TuRBO), clipped to the unit cube. */
static void trust_box(const struct acquisition *a, const struct opt_trust_region *region,
                      double *low, double *high)
{
    const struct opt_data *data = a->data;
    size_t d = data->d, ranges = 0;
    const double *center = data->z + region->center * d;
    double log_mean = 0.0;
    for (size_t k = 0; k < d; k++)
        if (!data->categorical[k] && a->use_objective) {
            log_mean -= 0.5 * log(a->objective[0].inverse_ls2[k]);
            ranges++;
        }
    log_mean = ranges > 0 ? log_mean / (double)ranges : 0.0;
    for (size_t k = 0; k < d; k++) {
        if (data->categorical[k]) {
            low[k] = 0.0;
            high[k] = (double)(data->enc.dims[k].levels - 1);
            continue;
        }
        double weight =
            a->use_objective ? exp(-0.5 * log(a->objective[0].inverse_ls2[k]) - log_mean) : 1.0;
        double half = 0.5 * region->length * weight;
        low[k] = fmax(0.0, center[k] - half);
        high[k] = fmin(1.0, center[k] + half);
    }
}

/* Sobol points of the box, each moving a random subset of the center's inputs (each with
 * probability min(1, 20/d), at least one, as TuRBO); an enum input moves with probability
 * min(1/2, length/2) to a random value. */
static void trust_candidates(const struct opt_data *data, const struct opt_trust_region *region,
                             const double *low, const double *high, double *pool, size_t count,
                             struct opt_rng *rng)
{
    size_t d = data->d;
    const double *center = data->z + region->center * d;
    double p = d <= 20 ? 1.0 : 20.0 / (double)d, p_enum = fmin(0.5, 0.5 * region->length);
    double *u = xmalloc((d + 1) * sizeof(double));
    struct opt_sobol *sobol = xmalloc(sizeof(*sobol));
    opt_sobol_init(sobol, d, rng);
    for (size_t i = 0; i < count; i++) {
        double *z = pool + i * d;
        opt_sobol_point(sobol, i, u);
        for (size_t k = OPT_SOBOL_MAX_DIM; k < d; k++)
            u[k] = opt_rng_uniform(rng);
        size_t forced = opt_rng_below(rng, d);
        for (size_t k = 0; k < d; k++) {
            const struct opt_dim *dim = &data->enc.dims[k];
            z[k] = center[k];
            if (dim->categorical) {
                if (opt_rng_uniform(rng) < p_enum)
                    z[k] = fmin(floor(u[k] * (double)dim->levels), (double)(dim->levels - 1));
            } else if (k == forced || opt_rng_uniform(rng) < p) {
                z[k] = low[k] + u[k] * (high[k] - low[k]);
            }
        }
        opt_data_snap(data, z);
    }
    free(sobol);
    free(u);
}

/* Scores the screening candidates into `pool` (count x d) and `values`; returns the count. */
static size_t screen_candidates(struct search *s, const struct opt_trust_region *region,
                                const double *low, const double *high, struct opt_rng *rng,
                                double **pool_out, double **values_out)
{
    const struct opt_data *data = s->acq->data;
    size_t d = data->d, models = s->acq->model_count + (s->acq->use_objective ? 1 : 0);
    size_t sobol_count = sobol_candidate_count(data, models);
    size_t *incumbents = xmalloc((data->n + 1) * sizeof(size_t));
    size_t incumbent_count = pick_incumbents(data, incumbents);
    size_t trust_count = region != NULL ? TRUST_CANDIDATES : 0;
    size_t total = sobol_count + incumbent_count * PERTURBATIONS + trust_count;
    double *pool = xmalloc((total * d + 1) * sizeof(double));
    double *values = xmalloc(total * sizeof(double));
    double *u = xmalloc((d + 1) * sizeof(double));
    struct opt_sobol *sobol = xmalloc(sizeof(*sobol));
    opt_sobol_init(sobol, d, rng);
    for (size_t i = 0; i < sobol_count; i++) {
        double *z = pool + i * d;
        opt_sobol_point(sobol, i, u);
        for (size_t k = OPT_SOBOL_MAX_DIM; k < d; k++)
            u[k] = opt_rng_uniform(rng);
        opt_unit_to_encoded(&data->enc, u, z);
        opt_data_snap(data, z);
    }
    static const double steps[] = {0.02, 0.05, 0.1, 0.2};
    for (size_t i = 0; i < incumbent_count * PERTURBATIONS; i++) {
        const double *from = data->z + incumbents[i / PERTURBATIONS] * d;
        mutate(data, from, pool + (sobol_count + i) * d, steps[i % ARRAY_LEN(steps)], rng);
    }
    if (trust_count > 0)
        trust_candidates(data, region, low, high, pool + (total - trust_count) * d, trust_count,
                         rng);
    struct evaluation *evals = xmalloc((total + 1) * sizeof(*evals));
    evaluate_batch(s->acq, pool, total, evals);
    for (size_t i = 0; i < total; i++) {
        values[i] = evals[i].value;
        consider(s, pool + i * d, evals[i]);
    }
    free(evals);
    free(sobol);
    free(u);
    free(incumbents);
    *pool_out = pool;
    *values_out = values;
    return total;
}

/* A (1+1) evolution strategy with the 1/5th success rule (Rechenberg): the step grows after a
 * success and shrinks after a failure. */
static void local_search(struct search *s, const double *start, double value, struct opt_rng *rng)
{
    const struct opt_data *data = s->acq->data;
    size_t d = data->d;
    double *current = xmalloc(2 * (d + 1) * sizeof(double)), *trial = current + d + 1;
    memcpy(current, start, d * sizeof(double));
    double step = 0.05;
    for (int it = 0; it < LOCAL_STEPS; it++) {
        mutate(data, current, trial, step, rng);
        struct evaluation e = evaluate(s->acq, trial);
        consider(s, trial, e);
        if (e.value >= value) {
            step = fmin(step * (e.value > value ? 1.5 : 1.0), 0.3);
            value = e.value;
            memcpy(current, trial, d * sizeof(double));
        } else {
            step = fmax(step * 0.8, 1e-4);
        }
    }
    free(current);
}

/* Index of the best value not yet used as a start (marked -inf once used). */
static size_t take_best(double *values, size_t count)
{
    size_t best = 0;
    for (size_t i = 1; i < count; i++)
        if (values[i] > values[best])
            best = i;
    return best;
}

int opt_bo_suggest(const struct opt_data *data, struct opt_rng *rng, struct opt_choice *choice)
{
    if (data->ok_count == 0)
        return -1;
    struct acquisition acq;
    if (acquisition_init(&acq, data, rng) != 0)
        return -1;
    size_t d = data->d;
    struct search s = {.acq = &acq, .d = d, .eval_any = {.value = -INFINITY}};
    s.best_new = xmalloc(3 * (d + 1) * sizeof(double));
    s.best_any = s.best_new + d + 1;
    s.best_inside = s.best_any + d + 1;
    struct opt_trust_region region;
    opt_trust_replay(data, data->design, &region);
    double *box = xmalloc((2 * d + 1) * sizeof(double));
    bool use_region = TRUST_REGION && region.have_center;
    if (use_region)
        trust_box(&acq, &region, box, box + d);
    /* Every other suggestion exploits the trust region; the others search everywhere. */
    bool restrict_choice = use_region && data->n % 2 == 1;
    if (restrict_choice) {
        s.low = box;
        s.high = box + d;
    }
    double *pool, *values;
    size_t count =
        screen_candidates(&s, use_region ? &region : NULL, box, box + d, rng, &pool, &values);
    if (restrict_choice)
        for (size_t i = 0; i < count; i++)
            if (!inside(data, s.low, s.high, pool + i * d))
                values[i] = -INFINITY;
    if (!(s.eval_any.value > -INFINITY)) /* every score was -inf: any candidate will do */
        memcpy(s.best_any, pool, d * sizeof(double));
    for (size_t k = 0; k < STARTS && k < count; k++) {
        size_t i = take_best(values, count);
        if (!isfinite(values[i]))
            break;
        double value = values[i];
        values[i] = -INFINITY;
        local_search(&s, pool + i * d, value, rng);
    }
    /* In the box when it has a new point; else anywhere new; a repeat only when nothing is.
     * With safety on, a safe candidate is preferred to an unsafe one wherever it lies. */
    const double *z = s.best_any;
    const struct evaluation *e = &s.eval_any;
    if (s.have_new && (opt_safety_ok(data, s.eval_new.log_pf) || !opt_safety_ok(data, e->log_pf))) {
        z = s.best_new;
        e = &s.eval_new;
    }
    if (s.have_inside &&
        (opt_safety_ok(data, s.eval_inside.log_pf) || !opt_safety_ok(data, e->log_pf))) {
        z = s.best_inside;
        e = &s.eval_inside;
    }
    memcpy(choice->z, z, d * sizeof(double));
    choice->expected_improvement = acq.use_objective ? exp(e->log_ei) : 0.0;
    choice->probability_feasible = exp(e->log_pf);
    if (!opt_safety_ok(data, e->log_pf))
        opt_safety_fallback(data, choice);
    free(pool);
    free(values);
    free(box);
    free(s.best_new);
    acquisition_free(&acq);
    return 0;
}
