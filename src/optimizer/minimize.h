/* A small box-constrained quasi-Newton minimizer (L-BFGS with projection onto the box and a
 * backtracking Armijo line search), used to fit the Gaussian-process hyperparameters. */
#ifndef SERVO_OPTIMIZER_MINIMIZE_H
#define SERVO_OPTIMIZER_MINIMIZE_H

#include <stddef.h>

/* Returns f(x) and writes its gradient; may return INFINITY where f is undefined. */
typedef double (*opt_objective_fn)(const double *x, double *gradient, void *context);

/* Minimizes f from x (updated in place, kept inside [low, high]) for at most `iterations`
 * quasi-Newton steps. Returns the final value. */
double opt_minimize(opt_objective_fn f, void *context, double *x, const double *low,
                    const double *high, size_t n, size_t iterations);

#endif
