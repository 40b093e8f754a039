// SPDX-License-Identifier: Apache-2.0
#include "optimizer/feasibility.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/linalg.h"
#include "util/util.h"

#define LOG_2PI 1.83787706640934548356

static double warp_one(enum opt_warp warp, double scale, double g, double *log_slope)
{
    double y = g / scale;
    switch (warp) {
    case OPT_WARP_ASINH:
        *log_slope = -0.5 * log1p(y * y) - log(scale);
        return asinh(y);
    case OPT_WARP_LOG:
        *log_slope = (y >= 0 ? -log1p(y) : log1p(-y)) - log(scale);
        return y >= 0 ? log1p(y) : y - 0.5 * y * y;
    case OPT_WARP_NONE:
    case OPT_WARP_COUNT:
        break;
    }
    *log_slope = 0.0;
    return g;
}

double opt_warp_apply(enum opt_warp warp, double scale, const double *g, double *w, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double log_slope;
        w[i] = warp_one(warp, scale, g[i], &log_slope);
        sum += log_slope;
    }
    return sum;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double opt_warp_scale(const double *g, size_t n)
{
    if (n == 0)
        return 1.0;
    double *a = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        a[i] = fabs(g[i]);
    qsort(a, n, sizeof(double), compare_doubles);
    double median = a[n / 2];
    free(a);
    return median > 0 ? median : 1.0;
}

/* What to divide values by before they are squared: 1, unless their squares would overflow
 * (measurements beyond 1e154 would make a variance infinite) or underflow, and then the largest
 * |v[i]|, which leaves the result the same but for rounding. Values of an ordinary size are not
 * divided, so that their models stay the same to the last bit. */
static double square_safe_scale(const double *v, size_t n)
{
    double largest = 0.0;
    for (size_t i = 0; i < n; i++)
        largest = fmax(largest, fabs(v[i]));
    bool extreme = largest > 1e100 || (largest > 0 && largest < 1e-100);
    return extreme && isfinite(largest) ? largest : 1.0;
}

void opt_standardize(double *v, size_t n, double *mean_out, double *sd_out)
{
    double scale = square_safe_scale(v, n), mean = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += v[i] / scale;
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        var += (v[i] / scale - mean) * (v[i] / scale - mean);
    double sd = sqrt(var / (double)n);
    if (!(sd > 1e-12 * (1.0 + fabs(mean))))
        sd = 0.0;
    for (size_t i = 0; i < n; i++)
        v[i] = sd > 0 ? (v[i] / scale - mean) / sd : 0.0;
    if (mean_out != NULL)
        *mean_out = mean * scale;
    if (sd_out != NULL)
        *sd_out = sd * scale;
}

/* Normalizes w in place; returns the divisor (0: constant values) and sets the threshold. */
static double normalize(double *w, size_t n, bool boundary_prior, double *threshold)
{
    if (boundary_prior) {
        double scale = square_safe_scale(w, n), sum = 0.0;
        for (size_t i = 0; i < n; i++)
            sum += (w[i] / scale) * (w[i] / scale);
        double rms = n > 0 ? sqrt(sum / (double)n) * scale : 0.0;
        for (size_t i = 0; i < n; i++)
            w[i] = rms > 0 ? w[i] / rms : 0.0;
        *threshold = 0.0;
        return rms;
    }
    double mean, sd;
    opt_standardize(w, n, &mean, &sd);
    *threshold = sd > 0 ? -mean / sd : 0.0;
    return sd;
}

/* The GP's log marginal likelihood of its (normalized) targets y. */
static double log_likelihood(const struct opt_gp *gp, const double *y)
{
    double value = -0.5 * opt_dot(y, gp->alpha, gp->n) - 0.5 * (double)gp->n * LOG_2PI;
    for (size_t i = 0; i < gp->n; i++)
        value -= log(gp->l[i * gp->n + i]);
    return value;
}

int opt_feasibility_fit(struct opt_feasibility *model, const double *x, const double *g, size_t n,
                        size_t d, const bool *categorical, const struct opt_gp_fit_options *options,
                        bool boundary_prior, bool choose_warp, struct opt_rng *rng)
{
    double scale = opt_warp_scale(g, n), best = -INFINITY;
    double *w = xmalloc((n + 1) * sizeof(double));
    int status = 0; /* 1 once `model` holds a fitted GP */
    for (int warp = 0; warp < (choose_warp ? OPT_WARP_COUNT : 1); warp++) {
        struct opt_feasibility candidate = {.warp = (enum opt_warp)warp};
        double log_jacobian = opt_warp_apply(candidate.warp, scale, g, w, n);
        double divisor = normalize(w, n, boundary_prior, &candidate.threshold);
        if (divisor == 0.0)
            continue;
        if (opt_gp_fit(&candidate.gp, x, w, n, d, categorical, options, rng) != 0) {
            if (status == 1)
                opt_gp_free(&model->gp);
            status = -1;
            break;
        }
        double value = log_likelihood(&candidate.gp, w) + log_jacobian - (double)n * log(divisor);
        if (status == 1 && !(value > best)) {
            opt_gp_free(&candidate.gp);
            continue;
        }
        if (status == 1)
            opt_gp_free(&model->gp);
        *model = candidate;
        best = value;
        status = 1;
    }
    free(w);
    return status;
}

size_t opt_feasibility_draws(const struct opt_feasibility *model, const double *g,
                             const struct opt_gp_fit_options *options, bool boundary_prior,
                             size_t count, struct opt_gp *draws, struct opt_rng *rng)
{
    if (count == 0)
        return 0;
    size_t n = model->gp.n;
    double *w = xmalloc((n + 1) * sizeof(double)), threshold;
    opt_warp_apply(model->warp, opt_warp_scale(g, n), g, w, n);
    normalize(w, n, boundary_prior, &threshold);
    size_t built = opt_gp_draw_models(&model->gp, w, options, count, draws, rng);
    free(w);
    return built;
}
