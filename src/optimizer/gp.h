/* Gaussian-process regression with a Matern-5/2 (or 3/2) ARD kernel (optionally mixed with its
 * additive form), a constant (zero) mean for standardized targets and a learned noise nugget.
 * Hyperparameters are the MAP estimate under weak priors, found by L-BFGS from a few starting
 * points. */
#ifndef SERVO_OPTIMIZER_GP_H
#define SERVO_OPTIMIZER_GP_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/rng.h"

struct opt_gp {
    size_t n, d;
    double *x;               /* n x d training inputs (a copy) */
    double *scaled;          /* the same divided by the lengthscales (enum inputs unscaled) */
    double *scaled_w;        /* the weights of their enum values (0 for a range input) */
    const bool *categorical; /* d flags (borrowed): compared by equality, not distance */
    double *inverse_ls2;     /* 1 / lengthscale^2 per range input */
    size_t *offset;          /* d: the input's first weight in value_w (enum inputs) */
    size_t *levels;          /* d: an enum input's values seen in training (max + 1) */
    double *value_w;         /* per enum value: its share of r^2 when two values differ */
    double unseen_w;         /* the same for a value never seen in training */
    double signal, noise;    /* kernel variance and noise variance */
    double additive_share;   /* rho: the additive kernel's share (0: the product kernel alone) */
    bool rough;              /* Matern-3/2 instead of 5/2 */
    double trend_weight;     /* s q / R: the trend's kernel per unit of features (0: no trend) */
    double *trend_features;  /* n x 2d: the training points' trend features (scaled's block) */
    double *l;               /* Cholesky factor of K + noise I */
    double *alpha;           /* (K + noise I)^-1 y */
};

struct opt_gp_fit_options {
    size_t restarts;        /* starting points for the hyperparameter search (>= 1) */
    size_t iterations;      /* L-BFGS steps per start */
    size_t max_fit_points;  /* hyperparameters are fitted on a random subset this large */
    double min_lengthscale; /* 0: the default floor (0.01 on the unit cube) */
    double min_noise;       /* 0: the default floor (1e-6 of the standardized variance) */
    double max_noise;       /* 0: the default ceiling (2) */
    bool additive;          /* mix in the additive kernel, with a fitted share */
    bool rough;             /* Matern-3/2 instead of 5/2 */
    double trend;           /* > 0: add a quadratic trend per range input, q = this (gp.c) */
};

/* Fits the model to n points (x: n x d, y: n standardized values). Returns 0, or -1 when
 * the covariance matrix cannot be factored even with added jitter (nothing to free then). */
int opt_gp_fit(struct opt_gp *gp, const double *x, const double *y, size_t n, size_t d,
               const bool *categorical, const struct opt_gp_fit_options *options,
               struct opt_rng *rng);
/* Builds up to `count` models (returns how many) from hyperparameters drawn from the Laplace
 * approximation of their posterior around those of `map`, fitted by opt_gp_fit to y with the
 * same options: a normal whose precision is the negative log posterior's Hessian there. Where
 * the data say little about a hyperparameter (an input whose effect no trial has shown yet),
 * the draws spread, so an acquisition averaged over the models accounts for what the MAP
 * model alone would take as known (Snoek, Larochelle and Adams 2012, integrated acquisition).
 * None beyond 24 hyperparameters (a lengthscale per range input and per enum value, the signal,
 * the noise and the additive share), where the Hessian would cost too much. */
size_t opt_gp_draw_models(const struct opt_gp *map, const double *y,
                          const struct opt_gp_fit_options *options, size_t count,
                          struct opt_gp *models, struct opt_rng *rng);
/* Posterior mean and variance of the latent function at z (d values); `work` holds n + d
 * doubles. */
void opt_gp_predict(const struct opt_gp *gp, const double *z, double *mean, double *variance,
                    double *work);
/* The same at m points at once (z: m x d), faster per point; `work` holds
 * (n + d) * m doubles. */
void opt_gp_predict_batch(const struct opt_gp *gp, const double *z, size_t m, double *mean,
                          double *variance, double *work);
void opt_gp_free(struct opt_gp *gp);

/* What the fit minimizes, for tests: the negative log posterior of the hyperparameters theta
 * (opt_gp_hyperparameter_count values: a log lengthscale per range input and enum value seen,
 * log s, log noise, and with `additive` the share's logit) on all n points, and its gradient. */
size_t opt_gp_hyperparameter_count(const double *x, size_t n, size_t d, const bool *categorical,
                                   const struct opt_gp_fit_options *options);
double opt_gp_negative_log_posterior(const double *x, const double *y, size_t n, size_t d,
                                     const bool *categorical,
                                     const struct opt_gp_fit_options *options, const double *theta,
                                     double *gradient);

#endif
