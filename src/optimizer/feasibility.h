/* The model of one constraint (or of the failure label): a GP on its values g (g <= 0 is
 * feasible) after an output warp and a normalization that both keep 0 where it is, so the
 * probability of feasibility is the model's probability of a value at or below the threshold.
 *
 * A constraint's warp is the one of OPT_WARP_COUNT under which the fitted GP gives the measured
 * values the highest marginal likelihood, counted in the units of g (the warp's and the
 * normalization's Jacobians included), as a power transform is chosen (Box and Cox 1964). A
 * linear constraint (pressure-vessel's thicknesses) mostly keeps its values; a latency that
 * explodes under overload gets its violations compressed (docs/optimizer.md, eleventh round). */
#ifndef SERVO_OPTIMIZER_FEASIBILITY_H
#define SERVO_OPTIMIZER_FEASIBILITY_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/gp.h"
#include "optimizer/rng.h"

enum opt_warp {
    OPT_WARP_NONE,  /* g itself */
    OPT_WARP_ASINH, /* asinh(g / s): linear near 0, logarithmic both ways */
    OPT_WARP_LOG,   /* Yeo-Johnson with lambda 0 on y = g / s: log(1 + y) for a violation, a
                     * quadratic stretch y - y^2/2 of the slack */
    OPT_WARP_COUNT,
};

struct opt_feasibility {
    struct opt_gp gp;
    double threshold;   /* "g = 0" in the model's units */
    enum opt_warp warp; /* the warp chosen */
};

/* w[i] = warp(g[i]) with s = `scale`; returns the sum of log |dw/dg| at the g[i]. */
double opt_warp_apply(enum opt_warp warp, double scale, const double *g, double *w, size_t n);
/* The warps' scale s: the median |g| (1 when it is 0). */
double opt_warp_scale(const double *g, size_t n);

/* Centres v on its mean and divides it by its standard deviation (left at 0 when the values
 * are constant); mean and sd may be NULL. */
void opt_standardize(double *v, size_t n, double *mean, double *sd);

/* Fits `model` to g (n values at the inputs x, n x d). `boundary_prior`: the values are divided
 * by their root mean square and not centred, so the model's prior mean is the boundary itself
 * (safe exploration); otherwise they are standardized. `choose_warp`: try every warp and keep
 * the most likely; otherwise OPT_WARP_NONE. Returns 1 when fitted, 0 when the values are
 * constant (nothing to learn, nothing to free), -1 on failure. */
int opt_feasibility_fit(struct opt_feasibility *model, const double *x, const double *g, size_t n,
                        size_t d, const bool *categorical, const struct opt_gp_fit_options *options,
                        bool boundary_prior, bool choose_warp, struct opt_rng *rng);
/* Up to `count` models of the same values under the same warp, with hyperparameters drawn
 * around the model's (opt_gp_draw_models); the arguments are those of its fit. */
size_t opt_feasibility_draws(const struct opt_feasibility *model, const double *g,
                             const struct opt_gp_fit_options *options, bool boundary_prior,
                             size_t count, struct opt_gp *draws, struct opt_rng *rng);

#endif
