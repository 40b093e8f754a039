// SPDX-License-Identifier: Apache-2.0
/* The constraint models' output warps (src/optimizer/feasibility.c): each keeps the sign of g
 * (so g <= 0 stays the feasible side) and its order, its log-Jacobian is the one the choice
 * counts, and the choice by marginal likelihood keeps a linear constraint's values as they
 * are and compresses a latency that explodes under overload; the draws of a model's
 * hyperparameters fit the targets the model was fitted to. */
#include "support.h"

#include <math.h>
#include <string.h>

#include "optimizer/feasibility.h"

#define POINTS 24

static const double samples[] = {-60, -20, -3, -0.5, 0, 0.25, 2, 15, 80, 900, 12000};
#define SAMPLE_COUNT (sizeof(samples) / sizeof(samples[0]))

static void test_warps_keep_sign_and_order(void **state)
{
    (void)state;
    double w[SAMPLE_COUNT];
    for (int warp = 0; warp < OPT_WARP_COUNT; warp++) {
        opt_warp_apply((enum opt_warp)warp, 7.0, samples, w, SAMPLE_COUNT);
        for (size_t i = 0; i < SAMPLE_COUNT; i++) {
            assert_true((w[i] <= 0) == (samples[i] <= 0));
            assert_true((w[i] < 0) == (samples[i] < 0));
            if (i > 0)
                assert_true(w[i] > w[i - 1]);
        }
    }
}

static void test_warp_log_jacobian_is_the_slope(void **state)
{
    (void)state;
    for (int warp = 0; warp < OPT_WARP_COUNT; warp++) {
        for (size_t i = 0; i < SAMPLE_COUNT; i++) {
            double g = samples[i], h = 1e-6 * (1.0 + fabs(g)), w;
            double points[3] = {g - h, g, g + h}, warped[3];
            double log_slope = opt_warp_apply((enum opt_warp)warp, 7.0, &points[1], &w, 1);
            opt_warp_apply((enum opt_warp)warp, 7.0, points, warped, 3);
            assert_float_equal(log_slope, log((warped[2] - warped[0]) / (2 * h)), 1e-5);
        }
    }
}

static void test_warp_scale_is_the_median_magnitude(void **state)
{
    (void)state;
    const double g[] = {-4, 1, 9, -2, 30};
    assert_float_equal(opt_warp_scale(g, 5), 4.0, 0.0);
    const double zeros[] = {0, 0, 0};
    assert_float_equal(opt_warp_scale(zeros, 3), 1.0, 0.0);
}

/* POINTS inputs on the unit square (a fixed low-discrepancy set) and g at each. */
static void sample(double (*f)(double, double), double *x, double *g)
{
    for (size_t i = 0; i < POINTS; i++) {
        x[2 * i] = fmod(0.5 + 0.618033988749895 * (double)i, 1.0);
        x[2 * i + 1] = ((double)i + 0.5) / POINTS;
        g[i] = f(x[2 * i], x[2 * i + 1]);
    }
}

static double linear_constraint(double a, double b)
{
    return 3.0 * a - 2.0 * b + 0.4;
}

/* The p95 latency of a queue served by capacity 0.2 + 1.3 (a + b) at load 1, against an SLO
 * of 60 ms: tens of milliseconds with slack, seconds under overload. */
static double latency_constraint(double a, double b)
{
    double utilization = 1.0 / (0.2 + 1.3 * (a + b)), rho = fmin(utilization, 0.99);
    return 20.0 + 10.0 / (1.0 - rho) + 2000.0 * fmax(0.0, utilization - 0.99) - 60.0;
}

/* Fits a model to g at the sampled inputs x, with the engine's constraint-fit options. */
static int fit(const double *x, const double *g, bool boundary_prior, bool choose_warp,
               struct opt_feasibility *model)
{
    const bool categorical[2] = {false, false};
    struct opt_gp_fit_options options = {.restarts = 1, .iterations = 30, .max_fit_points = 64};
    struct opt_rng rng;
    opt_rng_seed(&rng, 7);
    return opt_feasibility_fit(model, x, g, POINTS, 2, categorical, &options, boundary_prior,
                               choose_warp, &rng);
}

static enum opt_warp chosen_warp(double (*f)(double, double), bool boundary_prior)
{
    double x[2 * POINTS], g[POINTS];
    sample(f, x, g);
    struct opt_feasibility model;
    assert_int_equal(fit(x, g, boundary_prior, true, &model), 1);
    if (boundary_prior)
        assert_float_equal(model.threshold, 0.0, 0.0);
    enum opt_warp warp = model.warp;
    opt_gp_free(&model.gp);
    return warp;
}

static void test_linear_constraint_keeps_its_values(void **state)
{
    (void)state;
    assert_int_equal(chosen_warp(linear_constraint, false), OPT_WARP_NONE);
    assert_int_equal(chosen_warp(linear_constraint, true), OPT_WARP_NONE);
}

static void test_exploding_latency_is_compressed(void **state)
{
    (void)state;
    assert_int_not_equal(chosen_warp(latency_constraint, false), OPT_WARP_NONE);
    assert_int_not_equal(chosen_warp(latency_constraint, true), OPT_WARP_NONE);
}

/* The failure label's model is fitted as it is; constant values give no model. */
static void test_unwarped_and_constant(void **state)
{
    (void)state;
    double x[2 * POINTS], g[POINTS];
    sample(latency_constraint, x, g);
    struct opt_feasibility model;
    assert_int_equal(fit(x, g, false, false, &model), 1);
    assert_int_equal(model.warp, OPT_WARP_NONE);
    opt_gp_free(&model.gp);
    for (size_t i = 0; i < POINTS; i++)
        g[i] = -1.5;
    assert_int_equal(fit(x, g, false, true, &model), 0);
}

/* The draws of a constraint model fit the same targets as the model (its warp and its
 * normalization), so at the trials they predict what it predicts; their probabilities of
 * feasibility are compared against the model's threshold. */
static void test_draws_fit_the_same_targets(void **state)
{
    (void)state;
    enum { DRAWS = 6 };
    double x[2 * POINTS], g[POINTS], work[POINTS + 2];
    sample(latency_constraint, x, g);
    const bool categorical[2] = {false, false};
    struct opt_gp_fit_options options = {.restarts = 1, .iterations = 30, .max_fit_points = 64};
    for (int boundary_prior = 0; boundary_prior <= 1; boundary_prior++) {
        struct opt_feasibility model;
        struct opt_rng rng;
        opt_rng_seed(&rng, 7);
        assert_int_equal(opt_feasibility_fit(&model, x, g, POINTS, 2, categorical, &options,
                                             boundary_prior, true, &rng),
                         1);
        assert_int_not_equal(model.warp, OPT_WARP_NONE);
        struct opt_gp draws[DRAWS];
        double largest = 0.0, total = 0.0;
        assert_int_equal(
            opt_feasibility_draws(&model, g, &options, boundary_prior, DRAWS, draws, &rng), DRAWS);
        for (size_t i = 0; i < POINTS; i++) {
            double mean, variance;
            opt_gp_predict(&model.gp, x + 2 * i, &mean, &variance, work);
            for (size_t k = 0; k < DRAWS; k++) {
                double draw_mean, draw_variance;
                opt_gp_predict(&draws[k], x + 2 * i, &draw_mean, &draw_variance, work);
                largest = fmax(largest, fabs(draw_mean - mean));
                total += fabs(draw_mean - mean);
            }
        }
        assert_true(largest < 0.3 && total / (POINTS * DRAWS) < 0.05);
        for (size_t k = 0; k < DRAWS; k++)
            opt_gp_free(&draws[k]);
        opt_gp_free(&model.gp);
    }
}

/* Standardizing is scale-free: measurements of 1e200 or 1e-200 are not squared into infinity
 * or zero (which made every value 0, a constant objective), and ordinary ones are left exact. */
static void test_standardize_extreme_magnitudes(void **state)
{
    (void)state;
    const double expected[] = {-1.224744871391589, 1.224744871391589, 0.0};
    const double scales[] = {1e200, 1e-200, -1e300, 1.0};
    for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
        double v[] = {1 * scales[s], 3 * scales[s], 2 * scales[s]}, mean, sd;
        opt_standardize(v, 3, &mean, &sd);
        double sign = scales[s] < 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < 3; i++)
            assert_float_equal(v[i], (sign * expected[i]), 1e-6);
        assert_float_equal((mean / scales[s]), 2.0, 1e-6);
        assert_float_equal((sd / fabs(scales[s])), sqrt(2.0 / 3.0), 1e-6);
    }
    double tiny[] = {5e-320, 5e-320};
    opt_standardize(tiny, 2, NULL, NULL);
    assert_true(tiny[0] == 0.0 && tiny[1] == 0.0); /* constant, even below 1e-300 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warps_keep_sign_and_order),
        cmocka_unit_test(test_warp_log_jacobian_is_the_slope),
        cmocka_unit_test(test_warp_scale_is_the_median_magnitude),
        cmocka_unit_test(test_linear_constraint_keeps_its_values),
        cmocka_unit_test(test_exploding_latency_is_compressed),
        cmocka_unit_test(test_unwarped_and_constant),
        cmocka_unit_test(test_standardize_extreme_magnitudes),
        cmocka_unit_test(test_draws_fit_the_same_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
