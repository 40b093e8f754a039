/* Gaussian-process regression (Rasmussen and Williams 2006, ch. 2 and 5).
 *
 * Kernel, Matern 5/2 with automatic relevance determination:
 *   k(a, b) = s M(r),  M(r) = (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r),  r^2 = sum_k r_k^2,
 * or on request (`rough`) Matern 3/2, M(r) = (1 + sqrt3 r) exp(-sqrt3 r), for functions with
 * kinks (a latency that saturates),
 * with r_k^2 = delta_k(a, b)^2 / l_k^2 and delta the difference for a range input. On request
 * it is mixed with the additive kernel of the same lengthscales (Duvenaud, Nickisch and
 * Rasmussen 2011, its first and last orders):
 *   k(a, b) = s ((1 - rho) M(r) + rho / D sum_k M(r_k)),   D inputs,
 * so that what is learnt of one input's effect carries to points that differ in the others,
 * as on a sum of one-input terms (Levy, Styblinski-Tang, Michalewicz); the share rho is fitted
 * with the other hyperparameters (as logit rho), and a product-like function keeps it small.
 * On request a quadratic trend is added, a Bayesian linear model on u_k and u_k^2 - 1/3 for
 * each range input (u = 2z - 1 on the unit cube):
 *   k(a, b) += s q / R sum_k (u_k(a) u_k(b) + 15/4 (u_k(a)^2 - 1/3) (u_k(b)^2 - 1/3)),
 * R range inputs, q fixed (not fitted). A stationary kernel reverts to the mean away from the
 * trials, so a model of a bowl with ripples (most response surfaces, and Levy, Rastrigin,
 * Michalewicz) sees no bowl beyond the ripples it has sampled; the trend carries the bowl, and
 * so whether a region is worth a trial, across the space (after the quadratic prior mean of
 * Snoek et al. 2015, but learnt with its uncertainty instead of fixed).
 * An enum input compares values by equality, with a weight per value: two different values u
 * and v add w_u + w_v to r^2 (the overlap kernel when every value has the same weight). A value
 * with a small weight shares what is learnt about the others, one with a large weight stands
 * apart, as when one instance type behaves like another and a third does not. Each weight is
 * fitted as a lengthscale is (w = 1 / l^2). Hyperparameters theta = (log l per feature: a range
 * input or an enum value, log s, log noise, logit rho) minimize the negative log posterior
 *   1/2 y^T a + sum log L_ii + n/2 log 2 pi - log prior(theta),  a = (K + noise I)^-1 y,
 * with the gradient  d/dtheta = -1/2 tr((a a^T - K^-1) dK/dtheta)  (eq. 5.9). */
#include "optimizer/gp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/linalg.h"
#include "optimizer/minimize.h"
#include "util/util.h"

#define SQRT5 2.23606797749978969641
#define SQRT3 1.73205080756887729353
#define SQRT_15_4 1.93649167310370844259
/* Priors on log hyperparameters, all normal. The lengthscale prior grows with the dimension
 * (Hvarfner, Hellsten and Nardi 2024, "Vanilla Bayesian optimization performs great in high
 * dimensions": mean sqrt2 + log(d)/2, sd sqrt3). Targets are standardized, so the signal
 * variance is about 1; the noise prior favours a small nugget but lets noisy data raise it. */
#define PRIOR_SIGNAL_MEAN 0.0
#define PRIOR_SIGNAL_SD 1.0
#define PRIOR_NOISE_MEAN (-6.0)
#define PRIOR_NOISE_SD 1.5
#define PRIOR_LS_SD 1.7320508075688772
/* Box on the log hyperparameters. */
#define LOG_LS_LOW (-4.6) /* 0.01 */
#define LOG_LS_HIGH 4.6   /* 100 */
#define LOG_SIGNAL_LOW (-4.6)
#define LOG_SIGNAL_HIGH 3.0
#define LOG_NOISE_LOW (-13.8) /* 1e-6 */
#define LOG_NOISE_HIGH 0.7
/* A value's weight w_v at the overlap kernel's prior: two values differ by 1 / l^2 = 2 w_v. */
#define VALUE_PRIOR_SHIFT 0.34657359027997264 /* log(2) / 2 on log l */
#define JITTER 1e-8 /* times the signal variance, always on the diagonal */
/* The additive share rho, as logit rho: a prior that leans to the product kernel. */
#define PRIOR_SHARE_MEAN (-1.0)
#define PRIOR_SHARE_SD 1.5
/* The first start's share: near the product kernel. A noisy problem's posterior has a second
 * mode where a large additive share with short lengthscales explains the noise; started there
 * alone, the fit often stays in it (hartmann6-noisy, docs/optimizer.md). */
#define FIRST_START_SHARE (-4.0)
#define LOGIT_SHARE_LIMIT 6.0
/* The Laplace draws cost 2p gradient evaluations and a p x p factor: beyond this many
 * hyperparameters (enums of many values), no draws. */
#define DRAWS_MAX_HYPERPARAMETERS 24

struct fit_context {
    size_t n, d, pairs; /* d: features (a range input, or one value of an enum input) */
    size_t inputs;      /* the inputs the features belong to */
    bool additive;      /* theta[d + 2] is the logit of the additive share */
    bool rough;         /* Matern-3/2 */
    const double *y;
    /* Per pair i < j: delta^2 of each range input, and for each enum input the features of
     * its two values (the same one when they are equal). Kept per input, not per feature, so
     * that an enum of many values costs no more than one of two. Inputs are numbered ranges
     * first, then enums, in r2_input and dk_dr_input. */
    size_t enums;          /* E = inputs - R */
    double *sq;            /* pairs x R */
    size_t *values;        /* pairs x E x 2 */
    size_t *range_feature; /* R: each range input's feature */
    double *w_range;       /* R: its weight, 1 / l^2 */
    double *g_range;       /* R: its gradient, summed over the pairs */
    double *k;             /* n x n covariance */
    double *chol;          /* n x n, its Cholesky factor */
    double *inverse;       /* n x n */
    double *work;          /* n x n */
    double *alpha;         /* n */
    double *dk_dr;         /* pairs: s 5/3 (1 + sqrt5 r) exp(-sqrt5 r), see gradient below */
    double *dk_dr_input;   /* pairs x inputs: the same for each input's own term (additive) */
    double *share_dk;      /* pairs: dK/d rho, the additive kernel less the product one */
    double *r2_input;      /* inputs: one pair's r^2 per input */
    double *w;             /* d: 1 / l^2 */
    double *ls_prior_mean; /* d */
    double trend_q;        /* q: the trend's weight (0: no trend) */
    size_t ranges;         /* R: the range inputs */
    double *trend;         /* pairs, then n: the trend kernel of each pair, then of each point */
};

/* The features of the inputs: one per range input, one per value of an enum input. */
struct features {
    size_t count;
    size_t *offset, *levels; /* per input */
};

static void features_init(struct features *f, const double *x, size_t n, size_t d,
                          const bool *categorical)
{
    f->offset = xmalloc(2 * (d + 1) * sizeof(size_t));
    f->levels = f->offset + d + 1;
    f->count = 0;
    for (size_t k = 0; k < d; k++) {
        size_t levels = 1;
        for (size_t i = 0; categorical[k] && i < n; i++)
            if (x[i * d + k] >= (double)levels)
                levels = (size_t)x[i * d + k] + 1;
        f->offset[k] = f->count;
        f->levels[k] = levels;
        f->count += levels;
    }
}

/* Fills the pair (a, b)'s range differences sq[0..R) and enum value features values[0..2E)
 * (see struct fit_context). */
static void pair_features(const struct features *f, const double *a, const double *b, size_t d,
                          const bool *categorical, double *sq, size_t *values)
{
    for (size_t k = 0; k < d; k++) {
        if (!categorical[k]) {
            *sq++ = (a[k] - b[k]) * (a[k] - b[k]);
        } else {
            *values++ = f->offset[k] + (size_t)a[k];
            *values++ = f->offset[k] + (size_t)b[k];
        }
    }
}

/* The Matern kernel s M(r) at distance r (r2 = r^2), 5/2 or (rough) 3/2. */
static double matern(double r, double r2, double signal, bool rough)
{
    if (rough)
        return signal * (1.0 + SQRT3 * r) * exp(-SQRT3 * r);
    return signal * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * exp(-SQRT5 * r);
}

/* -(dk/dr) / r: s 5/3 (1 + sqrt5 r) exp(-sqrt5 r), or (rough) 3 s exp(-sqrt3 r). */
static double matern_slope(double r, double signal, bool rough)
{
    if (rough)
        return signal * 3.0 * exp(-SQRT3 * r);
    return signal * (5.0 / 3.0) * (1.0 + SQRT5 * r) * exp(-SQRT5 * r);
}

/* The model's kernel at squared distance r2. */
static double matern_at(const struct opt_gp *gp, double r2, double signal)
{
    return matern(sqrt(r2), r2, signal, gp->rough);
}

/* The quadratic trend's features of z, 2 per input (0 for an enum): u and sqrt(15/4) (u^2 - 1/3),
 * u = 2z - 1, both of variance 1/3 under a uniform z, so that neither the slope nor the
 * curvature is favoured. The trend's kernel is s q / R times the dot product of two points'
 * features (see the file comment). */
static void trend_features(const double *z, size_t d, const bool *categorical, double *features)
{
    for (size_t k = 0; k < d; k++) {
        double u = 2.0 * z[k] - 1.0;
        features[2 * k] = categorical[k] ? 0.0 : u;
        features[2 * k + 1] = categorical[k] ? 0.0 : SQRT_15_4 * (u * u - 1.0 / 3.0);
    }
}

static size_t range_inputs(size_t d, const bool *categorical)
{
    size_t count = 0;
    for (size_t k = 0; k < d; k++)
        count += !categorical[k];
    return count;
}

static void compute_sq(struct fit_context *c, const struct features *f, const double *x, size_t d,
                       const bool *categorical)
{
    size_t p = 0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++, p++)
            pair_features(f, x + i * d, x + j * d, d, categorical, c->sq + p * c->ranges,
                          c->values + 2 * p * c->enums);
}

/* The trend's kernel without s q, for every pair i < j and then every point with itself. */
static void compute_trend(struct fit_context *c, const double *x, size_t d, const bool *categorical)
{
    double *features = xmalloc(2 * c->n * d * sizeof(double)), r = 1.0 / (double)c->ranges;
    for (size_t i = 0; i < c->n; i++)
        trend_features(x + i * d, d, categorical, features + 2 * i * d);
    size_t p = 0;
    for (size_t i = 0; i < c->n; i++) {
        const double *fi = features + 2 * i * d;
        for (size_t j = i + 1; j < c->n; j++, p++)
            c->trend[p] = r * opt_dot(fi, features + 2 * j * d, 2 * d);
        c->trend[c->pairs + i] = r * opt_dot(fi, fi, 2 * d);
    }
    free(features);
}

static double logistic(double t)
{
    return 1.0 / (1.0 + exp(-t));
}

/* An enum input's share of r^2 for two values' features: w_u + w_v, or 0 for one value. */
static double values_r2(const struct fit_context *c, const size_t *values)
{
    return values[0] != values[1] ? c->w[values[0]] + c->w[values[1]] : 0.0;
}

/* Pair p's r^2, the product kernel's; with an additive share, also each input's into
 * c->r2_input. The ranges' part is one dot product, so that a space without enums sums in the
 * same order, bit for bit, as when every feature had a column. */
static double pair_r2(struct fit_context *c, size_t p)
{
    const double *sq = c->sq + p * c->ranges;
    const size_t *values = c->values + 2 * p * c->enums;
    double r2 = opt_dot(sq, c->w_range, c->ranges);
    for (size_t e = 0; e < c->enums; e++) {
        double r2_enum = values_r2(c, values + 2 * e);
        r2 += r2_enum;
        if (c->additive)
            c->r2_input[c->ranges + e] = r2_enum;
    }
    for (size_t k = 0; c->additive && k < c->ranges; k++)
        c->r2_input[k] = sq[k] * c->w_range[k];
    return r2;
}

/* The additive kernel of pair p, s/D sum_k M(r_k) over the D inputs, each r_k from the
 * input's own features (c->r2_input, from pair_r2); writes each term's dk/dr share (as dk_dr)
 * into `dk_dr_input`. */
static double additive_terms(struct fit_context *c, double signal, double *dk_dr_input)
{
    double sum = 0.0, scale = signal / (double)c->inputs;
    for (size_t k = 0; k < c->inputs; k++) {
        double r2 = c->r2_input[k], r = sqrt(r2);
        sum += matern(r, r2, 1.0, c->rough);
        dk_dr_input[k] = matern_slope(r, scale, c->rough);
    }
    return scale * sum;
}

static double normal_penalty(double v, double mean, double sd, double *gradient)
{
    double z = (v - mean) / sd;
    *gradient += z / sd;
    return 0.5 * z * z;
}

/* Negative log posterior and its gradient (see the file comment). With a = alpha and
 * W = a a^T - K^-1:  d(-log ML)/d log s = -1/2 sum_ij W_ij Kf_ij  (Kf: K without noise),
 * d/d log noise = -1/2 noise tr W, and for a lengthscale, since dr/d log l_k = -delta_k^2 / (l_k^2
 * r) and dk/dr = -s 5/3 r (1 + sqrt5 r) exp(-sqrt5 r): dK_ij/d log l_k = s 5/3 (1 + sqrt5 r)
 * exp(-sqrt5 r) delta_k^2 / l_k^2 (Matern 3/2: dk/dr = -3 s r exp(-sqrt3 r), matern_slope). */
static double negative_log_posterior(const double *theta, double *gradient, void *context)
{
    struct fit_context *c = context;
    size_t n = c->n, d = c->d;
    double signal = exp(theta[d]), noise = exp(theta[d + 1]);
    double share = c->additive ? logistic(theta[d + 2]) : 0.0;
    for (size_t k = 0; k < d; k++)
        c->w[k] = exp(-2.0 * theta[k]);
    for (size_t k = 0; k < c->ranges; k++)
        c->w_range[k] = c->w[c->range_feature[k]];
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        c->k[i * n + i] = signal * (1.0 + JITTER) + noise;
        if (c->trend_q > 0.0)
            c->k[i * n + i] += signal * c->trend_q * c->trend[c->pairs + i];
        for (size_t j = i + 1; j < n; j++, p++) {
            double r2 = pair_r2(c, p), r = sqrt(r2);
            double product = matern(r, r2, signal, c->rough);
            c->dk_dr[p] = matern_slope(r, signal, c->rough);
            if (c->additive) {
                double sum = additive_terms(c, signal, c->dk_dr_input + p * c->inputs);
                c->share_dk[p] = sum - product;
                for (size_t k = 0; k < c->inputs; k++)
                    c->dk_dr_input[p * c->inputs + k] *= share;
                product = (1.0 - share) * product + share * sum;
                c->dk_dr[p] *= 1.0 - share;
            }
            if (c->trend_q > 0.0)
                product += signal * c->trend_q * c->trend[p];
            c->k[i * n + j] = c->k[j * n + i] = product;
        }
    }
    memcpy(c->chol, c->k, n * n * sizeof(double));
    if (opt_cholesky(c->chol, n) != 0)
        return INFINITY;
    memcpy(c->alpha, c->y, n * sizeof(double));
    opt_solve_lower(c->chol, n, c->alpha);
    double value = 0.5 * opt_dot(c->alpha, c->alpha, n) + 0.5 * (double)n * log(2.0 * M_PI);
    opt_solve_lower_transposed(c->chol, n, c->alpha);
    for (size_t i = 0; i < n; i++)
        value += log(c->chol[i * n + i]);
    opt_cholesky_inverse(c->chol, n, c->inverse, c->work);

    double signal_gradient = 0.0, trace_w = 0.0, share_gradient = 0.0;
    memset(gradient, 0, (d + 2 + c->additive) * sizeof(double));
    memset(c->g_range, 0, c->ranges * sizeof(double));
    p = 0;
    for (size_t i = 0; i < n; i++) {
        const double *inv = c->inverse + i * n, *kr = c->k + i * n;
        double wii = c->alpha[i] * c->alpha[i] - inv[i];
        trace_w += wii;
        signal_gradient += 0.5 * wii * signal;
        if (c->trend_q > 0.0) /* the trend's variance scales with s too */
            signal_gradient += 0.5 * wii * signal * c->trend_q * c->trend[c->pairs + i];
        for (size_t j = i + 1; j < n; j++, p++) {
            double wij = c->alpha[i] * c->alpha[j] - inv[j];
            signal_gradient += wij * kr[j];
            double scale = wij * c->dk_dr[p];
            const double *sq = c->sq + p * c->ranges;
            const size_t *values = c->values + 2 * p * c->enums;
            if (!c->additive) {
                for (size_t k = 0; k < c->ranges; k++)
                    c->g_range[k] += scale * sq[k];
                for (size_t e = 0; e < c->enums; e++, values += 2)
                    if (values[0] != values[1]) {
                        gradient[values[0]] -= scale;
                        gradient[values[1]] -= scale;
                    }
                continue;
            }
            const double *input_dk = c->dk_dr_input + p * c->inputs;
            for (size_t k = 0; k < c->ranges; k++)
                c->g_range[k] += (scale + wij * input_dk[k]) * sq[k];
            for (size_t e = 0; e < c->enums; e++, values += 2)
                if (values[0] != values[1]) {
                    double g = scale + wij * input_dk[c->ranges + e];
                    gradient[values[0]] -= g;
                    gradient[values[1]] -= g;
                }
            share_gradient += wij * c->share_dk[p];
        }
    }
    for (size_t k = 0; k < c->ranges; k++)
        gradient[c->range_feature[k]] -= c->g_range[k];
    for (size_t k = 0; k < d; k++)
        gradient[k] *= c->w[k];
    gradient[d] = -signal_gradient;
    gradient[d + 1] = -0.5 * noise * trace_w;
    for (size_t k = 0; k < d; k++)
        value += normal_penalty(theta[k], c->ls_prior_mean[k], PRIOR_LS_SD, &gradient[k]);
    value += normal_penalty(theta[d], PRIOR_SIGNAL_MEAN, PRIOR_SIGNAL_SD, &gradient[d]);
    value += normal_penalty(theta[d + 1], PRIOR_NOISE_MEAN, PRIOR_NOISE_SD, &gradient[d + 1]);
    if (c->additive) {
        gradient[d + 2] = -share_gradient * share * (1.0 - share);
        value += normal_penalty(theta[d + 2], PRIOR_SHARE_MEAN, PRIOR_SHARE_SD, &gradient[d + 2]);
    }
    return value;
}

/* Chooses which points the hyperparameters are fitted on: all of them, or a random subset
 * when there are more than `limit` (the fit costs O(n^3) per evaluation). */
static size_t choose_fit_points(size_t n, size_t limit, struct opt_rng *rng, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        index[i] = i;
    if (limit == 0 || n <= limit)
        return n;
    for (size_t i = 0; i < limit; i++) { /* partial Fisher-Yates shuffle */
        size_t j = i + opt_rng_below(rng, n - i), t = index[i];
        index[i] = index[j];
        index[j] = t;
    }
    return limit;
}

static double ls_prior_mean(size_t d, bool categorical)
{
    return M_SQRT2 + 0.5 * log((double)d) + (categorical ? VALUE_PRIOR_SHIFT : 0.0);
}

static void fit_context_init(struct fit_context *c, const struct features *f, const double *x,
                             const double *y, const size_t *index, size_t n, size_t d,
                             const bool *categorical, const struct opt_gp_fit_options *o)
{
    c->n = n;
    c->d = f->count;
    c->pairs = n * (n - 1) / 2;
    c->inputs = d;
    c->additive = o->additive;
    c->rough = o->rough;
    double *xs = xmalloc(n * d * sizeof(double)), *ys = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        memcpy(xs + i * d, x + index[i] * d, d * sizeof(double));
        ys[i] = y[index[i]];
    }
    c->y = ys;
    c->ranges = range_inputs(d, categorical);
    c->enums = d - c->ranges;
    c->range_feature = xmalloc((c->ranges + 1) * sizeof(size_t));
    for (size_t k = 0, r = 0; k < d; k++)
        if (!categorical[k])
            c->range_feature[r++] = f->offset[k];
    c->w_range = xmalloc((2 * c->ranges + 1) * sizeof(double));
    c->g_range = c->w_range + c->ranges;
    c->trend_q = c->ranges > 0 ? o->trend : 0.0;
    c->trend = c->trend_q > 0.0 ? xmalloc((c->pairs + n) * sizeof(double)) : NULL;
    c->sq = xmalloc((c->pairs * c->ranges + 1) * sizeof(double));
    c->values = xmalloc((2 * c->pairs * c->enums + 1) * sizeof(size_t));
    compute_sq(c, f, xs, d, categorical);
    if (c->trend_q > 0.0)
        compute_trend(c, xs, d, categorical);
    free(xs);
    c->k = xmalloc(4 * n * n * sizeof(double));
    c->chol = c->k + n * n;
    c->inverse = c->chol + n * n;
    c->work = c->inverse + n * n;
    c->alpha = xmalloc(n * sizeof(double));
    c->dk_dr = xmalloc((c->pairs + 1) * sizeof(double));
    c->dk_dr_input = c->share_dk = c->r2_input = NULL;
    if (c->additive) {
        c->r2_input = xmalloc((d + 1) * sizeof(double));
        c->dk_dr_input = xmalloc((c->pairs * (d + 1) + 1) * sizeof(double));
        c->share_dk = c->dk_dr_input + c->pairs * d;
    }
    c->w = xmalloc(2 * c->d * sizeof(double));
    c->ls_prior_mean = c->w + c->d;
    for (size_t k = 0; k < d; k++)
        for (size_t v = 0; v < (categorical[k] ? f->levels[k] : 1); v++)
            c->ls_prior_mean[f->offset[k] + v] = ls_prior_mean(d, categorical[k]);
}

static void fit_context_free(struct fit_context *c)
{
    free((double *)c->y);
    free(c->sq);
    free(c->values);
    free(c->range_feature);
    free(c->w_range);
    free(c->r2_input);
    free(c->trend);
    free(c->k);
    free(c->alpha);
    free(c->dk_dr);
    free(c->dk_dr_input);
    free(c->w);
}

/* Starting point number `start`: a lengthscale of l0 * sqrt(d) on every feature (d inputs),
 * l0 from a short list, then random draws around it; an enum value's weight is shifted as its
 * prior is. */
static void starting_point(size_t start, size_t d, const struct fit_context *c, struct opt_rng *rng,
                           double *theta)
{
    static const double scales[] = {0.25, 1.0};
    double base = log(sqrt((double)d)) +
                  log(start < ARRAY_LEN(scales) ? scales[start] : 0.5 * exp(opt_rng_normal(rng)));
    for (size_t k = 0; k < c->d; k++)
        theta[k] = base + c->ls_prior_mean[k] - ls_prior_mean(d, false);
    theta[c->d] = 0.0;
    theta[c->d + 1] = log(1e-3);
    if (c->additive)
        theta[c->d + 2] = start == 0 ? FIRST_START_SHARE : PRIOR_SHARE_MEAN;
}

/* The negative log posterior's Hessian at theta (p x p, into h), by central differences of its
 * gradient. Returns false where the posterior is not finite around theta. */
static bool posterior_hessian(struct fit_context *c, const double *theta, size_t p, double *h)
{
    const double step = 1e-4;
    double *point = xmalloc(3 * p * sizeof(double)), *plus = point + p, *minus = plus + p;
    bool finite = true;
    for (size_t j = 0; j < p && finite; j++) {
        memcpy(point, theta, p * sizeof(double));
        point[j] = theta[j] + step;
        memset(plus, 0, p * sizeof(double));
        finite = isfinite(negative_log_posterior(point, plus, c));
        point[j] = theta[j] - step;
        memset(minus, 0, p * sizeof(double));
        finite = finite && isfinite(negative_log_posterior(point, minus, c));
        for (size_t i = 0; i < p; i++) {
            h[i * p + j] = (plus[i] - minus[i]) / (2.0 * step);
            finite = finite && isfinite(h[i * p + j]);
        }
    }
    free(point);
    for (size_t i = 0; i < p && finite; i++)
        for (size_t j = 0; j < i; j++)
            h[i * p + j] = h[j * p + i] = 0.5 * (h[i * p + j] + h[j * p + i]);
    return finite;
}

/* Up to `count` hyperparameter vectors (p values each, into draws) from the Laplace
 * approximation of the posterior around its mode theta: a normal whose precision is the
 * Hessian there, with jitter on its diagonal if it is not positive definite (theta on the box's
 * edge), clamped to the box. Returns how many were drawn: 0 when the Hessian is unusable. */
static size_t laplace_draws(struct fit_context *c, const double *theta, size_t p, const double *low,
                            const double *high, size_t count, double *draws, struct opt_rng *rng)
{
    double *h = xmalloc((2 * p * p + p) * sizeof(double)), *l = h + p * p, *e = l + p * p;
    bool factored = false;
    if (posterior_hessian(c, theta, p, h))
        for (double jitter = 0.0; !factored && jitter <= 1e3; jitter = fmax(1e-6, 10 * jitter)) {
            memcpy(l, h, p * p * sizeof(double));
            for (size_t i = 0; i < p; i++)
                l[i * p + i] += jitter;
            factored = opt_cholesky(l, p) == 0;
        }
    for (size_t k = 0; factored && k < count; k++) {
        for (size_t i = 0; i < p; i++)
            e[i] = opt_rng_normal(rng);
        opt_solve_lower_transposed(l, p, e); /* covariance (L L^T)^-1 */
        for (size_t i = 0; i < p; i++)
            draws[k * p + i] = fmin(fmax(theta[i] + e[i], low[i]), high[i]);
    }
    free(h);
    return factored ? count : 0;
}

/* The hyperparameters' box (count = features + 2, + 1 with the additive share). */
static void hyperparameter_box(size_t features, const struct opt_gp_fit_options *o, double *low,
                               double *high)
{
    for (size_t k = 0; k < features; k++) {
        low[k] = o->min_lengthscale > 0 ? log(o->min_lengthscale) : LOG_LS_LOW;
        high[k] = LOG_LS_HIGH;
    }
    low[features] = LOG_SIGNAL_LOW;
    high[features] = LOG_SIGNAL_HIGH;
    low[features + 1] = o->min_noise > 0 ? log(o->min_noise) : LOG_NOISE_LOW;
    high[features + 1] = o->max_noise > 0 ? log(o->max_noise) : LOG_NOISE_HIGH;
    if (o->additive) {
        low[features + 2] = -LOGIT_SHARE_LIMIT;
        high[features + 2] = LOGIT_SHARE_LIMIT;
    }
}

/* The fit context on all n points, or on a random subset of o->max_fit_points. */
static void fit_context_on_subset(struct fit_context *c, const struct features *f, const double *x,
                                  const double *y, size_t n, size_t d, const bool *categorical,
                                  const struct opt_gp_fit_options *o, struct opt_rng *rng)
{
    size_t *index = xmalloc(n * sizeof(size_t));
    size_t m = choose_fit_points(n, o->max_fit_points, rng, index);
    fit_context_init(c, f, x, y, index, m, d, categorical, o);
    free(index);
}

/* The MAP hyperparameters (theta: f->count + 2 values, and the additive share's logit). */
static void fit_hyperparameters(const struct features *f, const double *x, const double *y,
                                size_t n, size_t d, const bool *categorical,
                                const struct opt_gp_fit_options *o, struct opt_rng *rng,
                                double *theta)
{
    struct fit_context c;
    fit_context_on_subset(&c, f, x, y, n, d, categorical, o, rng);
    size_t count = f->count + 2 + o->additive;
    double *low = xmalloc(4 * count * sizeof(double)), *high = low + count;
    double *candidate = high + count, *best = candidate + count;
    hyperparameter_box(f->count, o, low, high);
    double best_value = INFINITY;
    starting_point(0, d, &c, rng, best);
    for (size_t start = 0; start < (o->restarts ? o->restarts : 1); start++) {
        starting_point(start, d, &c, rng, candidate);
        for (size_t k = 0; k < count; k++)
            candidate[k] = fmin(fmax(candidate[k], low[k]), high[k]);
        double value =
            opt_minimize(negative_log_posterior, &c, candidate, low, high, count, o->iterations);
        if (value < best_value) {
            best_value = value;
            memcpy(best, candidate, count * sizeof(double));
        }
    }
    memcpy(theta, best, count * sizeof(double));
    free(low);
    fit_context_free(&c);
}

static double value_weight(const struct opt_gp *gp, size_t k, double value)
{
    size_t v = (size_t)value;
    return v < gp->levels[k] ? gp->value_w[gp->offset[k] + v] : gp->unseen_w;
}

static double enum_r2(const struct opt_gp *gp, size_t k, double a, double b)
{
    return a == b ? 0.0 : value_weight(gp, k, a) + value_weight(gp, k, b);
}

/* The kernel from each input's share of r^2: the product kernel, mixed with the additive one
 * when the model has an additive share. */
static double mixed_kernel(const struct opt_gp *gp, double r2, double additive_sum)
{
    if (gp->additive_share == 0.0)
        return matern_at(gp, r2, gp->signal);
    double product = matern_at(gp, r2, 1.0), additive = additive_sum / (double)gp->d;
    return gp->signal * ((1.0 - gp->additive_share) * product + gp->additive_share * additive);
}

static double kernel(const struct opt_gp *gp, const double *a, const double *b)
{
    double r2 = 0.0, additive_sum = 0.0;
    for (size_t k = 0; k < gp->d; k++) {
        double r2_input = gp->categorical[k] ? enum_r2(gp, k, a[k], b[k])
                                             : (a[k] - b[k]) * (a[k] - b[k]) * gp->inverse_ls2[k];
        r2 += r2_input;
        if (gp->additive_share > 0.0)
            additive_sum += matern_at(gp, r2_input, 1.0);
    }
    return mixed_kernel(gp, r2, additive_sum);
}

/* The trend's kernel between two points' features (trend_features). */
static double trend_kernel(const struct opt_gp *gp, const double *a, const double *b)
{
    return gp->trend_weight > 0.0 ? gp->trend_weight * opt_dot(a, b, 2 * gp->d) : 0.0;
}

/* The kernel against training point i, with `scaled` the query's inputs divided by the
 * lengthscales (enum inputs as they are) and `weights` its enum values' weights: the inner
 * loop of every prediction. */
static double kernel_scaled(const struct opt_gp *gp, const double *scaled, const double *weights,
                            const double *trend, size_t i)
{
    const double *xs = gp->scaled + i * gp->d, *xw = gp->scaled_w + i * gp->d;
    double r2 = 0.0, additive_sum = 0.0;
    for (size_t k = 0; k < gp->d; k++) {
        double t = scaled[k] - xs[k];
        double r2_input = gp->categorical[k] ? (t != 0.0 ? weights[k] + xw[k] : 0.0) : t * t;
        r2 += r2_input;
        if (gp->additive_share > 0.0)
            additive_sum += matern_at(gp, r2_input, 1.0);
    }
    return mixed_kernel(gp, r2, additive_sum) +
           trend_kernel(gp, trend, gp->trend_features + 2 * i * gp->d);
}

/* z scaled for kernel_scaled, the weights of its enum values (0 for a range input) and its
 * trend features (2 d values, when the model has a trend). */
static void scale_inputs(const struct opt_gp *gp, const double *z, double *out, double *weights,
                         double *trend)
{
    for (size_t k = 0; k < gp->d; k++) {
        out[k] = gp->categorical[k] ? z[k] : z[k] * sqrt(gp->inverse_ls2[k]);
        weights[k] = gp->categorical[k] ? value_weight(gp, k, z[k]) : 0.0;
    }
    if (gp->trend_weight > 0.0)
        trend_features(z, gp->d, gp->categorical, trend);
}

/* Factors K + (noise + jitter) I, raising the jitter until it succeeds (at most 1e-2 s). */
static int factor_covariance(struct opt_gp *gp)
{
    size_t n = gp->n;
    for (double jitter = JITTER; jitter <= 1.1e-2; jitter *= 100.0) {
        for (size_t i = 0; i < n; i++) {
            const double *ti = gp->trend_features + 2 * i * gp->d;
            for (size_t j = 0; j < i; j++)
                gp->l[i * n + j] = kernel(gp, gp->x + i * gp->d, gp->x + j * gp->d) +
                                   trend_kernel(gp, ti, gp->trend_features + 2 * j * gp->d);
            gp->l[i * n + i] = gp->signal * (1.0 + jitter) + gp->noise + trend_kernel(gp, ti, ti);
        }
        if (opt_cholesky(gp->l, n) == 0)
            return 0;
    }
    return -1;
}

size_t opt_gp_hyperparameter_count(const double *x, size_t n, size_t d, const bool *categorical,
                                   const struct opt_gp_fit_options *options)
{
    struct features f;
    features_init(&f, x, n, d, categorical);
    free(f.offset);
    return f.count + 2 + (options->additive ? 1 : 0);
}

double opt_gp_negative_log_posterior(const double *x, const double *y, size_t n, size_t d,
                                     const bool *categorical,
                                     const struct opt_gp_fit_options *options, const double *theta,
                                     double *gradient)
{
    struct features f;
    features_init(&f, x, n, d, categorical);
    size_t *index = xmalloc((n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        index[i] = i;
    struct fit_context c;
    fit_context_init(&c, &f, x, y, index, n, d, categorical, options);
    free(index);
    double value = negative_log_posterior(theta, gradient, &c);
    fit_context_free(&c);
    free(f.offset);
    return value;
}

/* Builds the model from hyperparameters theta; takes f's arrays. */
static int model_from_theta(struct opt_gp *gp, const double *x, const double *y, size_t n, size_t d,
                            const bool *categorical, const struct opt_gp_fit_options *options,
                            struct features *f, const double *theta)
{
    memset(gp, 0, sizeof(*gp));
    gp->n = n;
    gp->d = d;
    gp->categorical = categorical;
    gp->x = xmalloc((n * d + 1) * sizeof(double));
    memcpy(gp->x, x, n * d * sizeof(double));
    gp->inverse_ls2 = xmalloc((d + 1) * sizeof(double));
    gp->l = xmalloc((n * n + 1) * sizeof(double));
    gp->alpha = xmalloc((n + 1) * sizeof(double));
    gp->offset = f->offset;
    gp->levels = f->levels;
    gp->value_w = xmalloc((f->count + 1) * sizeof(double));
    for (size_t k = 0; k < f->count; k++)
        gp->value_w[k] = exp(-2.0 * theta[k]);
    for (size_t k = 0; k < d; k++) /* an enum: the overlap kernel's weight, for reference */
        gp->inverse_ls2[k] = gp->value_w[f->offset[k]] * (categorical[k] ? 2.0 : 1.0);
    gp->unseen_w = exp(-2.0 * ls_prior_mean(d, true));
    gp->signal = exp(theta[f->count]);
    gp->noise = exp(theta[f->count + 1]);
    gp->additive_share = options->additive ? logistic(theta[f->count + 2]) : 0.0;
    gp->rough = options->rough;
    size_t ranges = range_inputs(d, categorical);
    if (options->trend > 0.0 && ranges > 0)
        gp->trend_weight = gp->signal * options->trend / (double)ranges;
    gp->scaled = xmalloc((4 * n * d + 1) * sizeof(double));
    gp->scaled_w = gp->scaled + n * d;
    gp->trend_features = gp->scaled_w + n * d;
    for (size_t i = 0; i < n; i++)
        scale_inputs(gp, x + i * d, gp->scaled + i * d, gp->scaled_w + i * d,
                     gp->trend_features + 2 * i * d);
    if (factor_covariance(gp) != 0) {
        opt_gp_free(gp);
        return -1;
    }
    memcpy(gp->alpha, y, n * sizeof(double));
    opt_solve_lower(gp->l, n, gp->alpha);
    opt_solve_lower_transposed(gp->l, n, gp->alpha);
    return 0;
}

int opt_gp_fit(struct opt_gp *gp, const double *x, const double *y, size_t n, size_t d,
               const bool *categorical, const struct opt_gp_fit_options *options,
               struct opt_rng *rng)
{
    struct features f;
    features_init(&f, x, n, d, categorical);
    double *theta = xmalloc((f.count + 3) * sizeof(double));
    fit_hyperparameters(&f, x, y, n, d, categorical, options, rng, theta);
    int status = model_from_theta(gp, x, y, n, d, categorical, options, &f, theta);
    free(theta);
    return status;
}

/* The hyperparameters of a fitted model, as theta. */
static void model_theta(const struct opt_gp *gp, size_t features, bool additive, double *theta)
{
    for (size_t k = 0; k < features; k++)
        theta[k] = -0.5 * log(gp->value_w[k]);
    theta[features] = log(gp->signal);
    theta[features + 1] = log(gp->noise);
    if (additive)
        theta[features + 2] = log(gp->additive_share / (1.0 - gp->additive_share));
}

size_t opt_gp_draw_models(const struct opt_gp *map, const double *y,
                          const struct opt_gp_fit_options *options, size_t count,
                          struct opt_gp *models, struct opt_rng *rng)
{
    if (count == 0)
        return 0;
    size_t n = map->n, d = map->d;
    struct features f;
    features_init(&f, map->x, n, d, map->categorical);
    size_t p = f.count + 2 + (options->additive ? 1 : 0);
    if (p > DRAWS_MAX_HYPERPARAMETERS) {
        free(f.offset);
        return 0;
    }
    double *theta = xmalloc((count + 3) * p * sizeof(double)), *low = theta + count * p;
    double *high = low + p, *center = high + p;
    hyperparameter_box(f.count, options, low, high);
    model_theta(map, f.count, options->additive, center);
    struct fit_context c;
    fit_context_on_subset(&c, &f, map->x, y, n, d, map->categorical, options, rng);
    size_t drawn = laplace_draws(&c, center, p, low, high, count, theta, rng);
    fit_context_free(&c);
    size_t built = 0;
    for (size_t k = 0; k < drawn; k++) {
        struct features own;
        features_init(&own, map->x, n, d, map->categorical);
        built += model_from_theta(&models[built], map->x, y, n, d, map->categorical, options, &own,
                                  theta + k * p) == 0;
    }
    free(f.offset);
    free(theta);
    return built;
}

void opt_gp_predict(const struct opt_gp *gp, const double *z, double *mean, double *variance,
                    double *work)
{
    size_t n = gp->n;
    double *scaled = work + n, *weights = xmalloc((3 * gp->d + 1) * sizeof(double));
    double *trend = weights + gp->d;
    scale_inputs(gp, z, scaled, weights, trend);
    for (size_t i = 0; i < n; i++)
        work[i] = kernel_scaled(gp, scaled, weights, trend, i);
    double prior = gp->signal + trend_kernel(gp, trend, trend);
    free(weights);
    *mean = opt_dot(work, gp->alpha, n);
    opt_solve_lower(gp->l, n, work);
    double v = prior - opt_dot(work, work, n);
    *variance = v > 1e-12 * gp->signal ? v : 1e-12 * gp->signal;
}

void opt_gp_predict_batch(const struct opt_gp *gp, const double *z, size_t m, double *mean,
                          double *variance, double *work)
{
    size_t n = gp->n, d = gp->d;
    double *scaled = work + n * m, *weights = xmalloc((3 * m * d + 1) * sizeof(double));
    double *trend = weights + m * d;
    for (size_t c = 0; c < m; c++)
        scale_inputs(gp, z + c * d, scaled + c * d, weights + c * d, trend + 2 * c * d);
    /* work[i][c] = k(x_i, z_c): candidates along the rows so that the triangular solve below
     * runs over contiguous memory, m points at a time. */
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < m; c++)
            work[i * m + c] =
                kernel_scaled(gp, scaled + c * d, weights + c * d, trend + 2 * c * d, i);
    for (size_t c = 0; c < m; c++)
        mean[c] = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double *row = work + i * m;
        for (size_t c = 0; c < m; c++)
            mean[c] += gp->alpha[i] * row[c];
    }
    /* Forward substitution L V = K*, column by column of V at once. */
    for (size_t i = 0; i < n; i++) {
        double *row = work + i * m;
        const double *lrow = gp->l + i * n;
        for (size_t k = 0; k < i; k++) {
            const double lik = lrow[k], *other = work + k * m;
            for (size_t c = 0; c < m; c++)
                row[c] -= lik * other[c];
        }
        double inverse = 1.0 / lrow[i];
        for (size_t c = 0; c < m; c++)
            row[c] *= inverse;
    }
    for (size_t c = 0; c < m; c++)
        variance[c] = gp->signal + trend_kernel(gp, trend + 2 * c * d, trend + 2 * c * d);
    for (size_t i = 0; i < n; i++) {
        const double *row = work + i * m;
        for (size_t c = 0; c < m; c++)
            variance[c] -= row[c] * row[c];
    }
    for (size_t c = 0; c < m; c++)
        if (!(variance[c] > 1e-12 * gp->signal))
            variance[c] = 1e-12 * gp->signal;
    free(weights);
}

void opt_gp_free(struct opt_gp *gp)
{
    free(gp->x);
    free(gp->inverse_ls2);
    free(gp->offset); /* levels shares its block */
    free(gp->value_w);
    free(gp->l);
    free(gp->alpha);
    free(gp->scaled);
    memset(gp, 0, sizeof(*gp));
}
