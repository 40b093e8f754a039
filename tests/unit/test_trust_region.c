// SPDX-License-Identifier: Apache-2.0
/* The engine's trust-region bookkeeping (src/optimizer/trust.c), replayed from a history: the
 * constrained ranking, successes that grow the region, failures that shrink it, the restart
 * away from the exhausted neighbourhood;
 * and the Gaussian process's enum kernel, which compares enum values by equality (an overlap,
 * Hamming-distance kernel), not by their index; its additive share, fitted large on a sum of
 * one-input terms and small on a product; its quadratic trend, which carries a bowl beyond
 * the trials and costs nothing where there is none; the fit's gradient; the Matern-3/2
 * kernel of `rough` models; and the draws of the hyperparameters from their posterior. */
#include "support.h"

#include <math.h>
#include <string.h>

#include "optimizer/gp.h"
#include "optimizer/trust.h"

#define MAX_TRIALS 64

struct history {
    struct opt_data data;
    bool ok[MAX_TRIALS], feasible[MAX_TRIALS];
    double objective[MAX_TRIALS], constraints[MAX_TRIALS];
    double z[MAX_TRIALS * 2]; /* d <= 2 */
    bool categorical[2];
};

/* A history of measured trials in d dimensions with one constraint (g <= 0 feasible). */
static void history_init(struct history *h, size_t d)
{
    memset(h, 0, sizeof(*h));
    h->data.d = d;
    h->data.ok = h->ok;
    h->data.feasible = h->feasible;
    h->data.objective = h->objective;
    h->data.constraints = h->constraints;
    h->data.constraint_count = 1;
    h->data.z = h->z;
    h->data.categorical = h->categorical;
}

/* A trial at (z0, z1) on the unit square (d = 2), or at the origin with add(). */
static void add_at(struct history *h, double z0, double z1, bool ok, double objective, double g)
{
    size_t i = h->data.n++;
    h->z[2 * i] = z0;
    h->z[2 * i + 1] = z1;
    h->ok[i] = ok;
    h->feasible[i] = ok && g <= 0;
    h->objective[i] = objective;
    h->constraints[i] = g;
}

static void add(struct history *h, bool ok, double objective, double g)
{
    add_at(h, 0.0, 0.0, ok, objective, g);
}

static void test_ranking(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    add(&h, true, 5.0, -1.0); /* 0: feasible */
    add(&h, true, 1.0, 2.0);  /* 1: infeasible, lower objective */
    add(&h, true, 0.5, 0.5);  /* 2: infeasible, smaller violation */
    add(&h, false, 0.0, 0.0); /* 3: failed */
    add(&h, true, 4.0, -2.0); /* 4: feasible, lower objective */
    assert_true(opt_trust_better(&h.data, 0, 1));
    assert_false(opt_trust_better(&h.data, 1, 0));
    assert_true(opt_trust_better(&h.data, 2, 1));
    assert_false(opt_trust_better(&h.data, 1, 2));
    assert_true(opt_trust_better(&h.data, 4, 0));
    assert_false(opt_trust_better(&h.data, 3, 1));
    assert_true(opt_trust_better(&h.data, 1, 3));
}

static void test_failure_limit(void **state)
{
    (void)state;
    assert_int_equal(opt_trust_failure_limit(1), 4);
    assert_int_equal(opt_trust_failure_limit(6), 6);
    assert_int_equal(opt_trust_failure_limit(20), 8);
}

static void test_design_only_moves_the_center(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    for (int i = 0; i < 6; i++)
        add(&h, true, 10.0 - i, -1.0); /* each better than the last */
    struct opt_trust_region region;
    opt_trust_replay(&h.data, 6, &region);
    assert_int_equal(region.center, 5);
    assert_true(region.have_center);
    assert_true(region.length == OPT_TRUST_INITIAL);
    assert_int_equal(region.successes, 0);
    assert_int_equal(region.failures, 0);
}

static void test_successes_grow_failures_shrink(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    add(&h, true, 10.0, -1.0); /* the design: one trial */
    for (int i = 1; i <= 3; i++)
        add(&h, true, 10.0 - i, -1.0); /* three successes: 0.8 -> 1.6 */
    struct opt_trust_region region;
    opt_trust_replay(&h.data, 1, &region);
    assert_true(region.length == 2 * OPT_TRUST_INITIAL);
    assert_int_equal(region.center, 3);
    for (int i = 1; i <= 3; i++)
        add(&h, true, 7.0 - i, -1.0); /* three more: capped at OPT_TRUST_MAX */
    opt_trust_replay(&h.data, 1, &region);
    assert_true(region.length == OPT_TRUST_MAX);
    /* Four failures (d = 2): a worse value, an infeasible better one, a failed trial and a gain
     * smaller than 0.1 %. */
    add(&h, true, 9.0, -1.0);
    add(&h, true, 1.0, 3.0);
    add(&h, false, 0.0, 0.0);
    add(&h, true, 4.0 * (1 - 1e-5), -1.0);
    opt_trust_replay(&h.data, 1, &region);
    assert_true(region.length == OPT_TRUST_MAX / 2);
    assert_int_equal(region.failures, 0);
    assert_int_equal(region.center, 10); /* the small gain still moves the center */
}

static void test_restart_below_minimum(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    add(&h, true, 1.0, -1.0);
    /* From 0.8, seven halvings (4 failures each) reach 0.00625 < 2^-7: a restart. */
    for (int i = 0; i < 7 * 4; i++)
        add(&h, true, 2.0, -1.0);
    struct opt_trust_region region;
    opt_trust_replay(&h.data, 1, &region);
    assert_true(region.length == OPT_TRUST_INITIAL);
    assert_int_equal(region.restarts, 1);
    assert_int_equal(region.center, 0);
}

/* A restart leaves the exhausted centre's neighbourhood to the global search: the region
 * starts over around the best trial outside it, and a better trial inside it afterwards is
 * neither the centre nor a success. */
static void test_restart_moves_away_from_exhausted_region(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    add_at(&h, 0.9, 0.9, true, 3.0, -1.0); /* the runner-up, in another basin */
    add_at(&h, 0.1, 0.1, true, 1.0, -1.0); /* the incumbent */
    for (int i = 0; i < 7 * 4; i++)        /* no progress near it: seven halvings, a restart */
        add_at(&h, 0.1 + 0.005 * (i % 5), 0.1, true, 2.0, -1.0);
    struct opt_trust_region region;
    opt_trust_replay(&h.data, 2, &region);
    assert_int_equal(region.restarts, 1);
    assert_true(region.length == OPT_TRUST_INITIAL);
    assert_int_equal(region.center, 0);
    assert_int_equal(region.exhausted_count, 1);
    assert_int_equal(region.exhausted[0], 1);

    add_at(&h, 0.15, 0.12, true, 0.5, -1.0); /* better, but in the exhausted neighbourhood */
    opt_trust_replay(&h.data, 2, &region);
    assert_int_equal(region.center, 0);
    assert_int_equal(region.failures, 1);
    add_at(&h, 0.85, 0.9, true, 2.5, -1.0); /* better than the centre, outside: a success */
    opt_trust_replay(&h.data, 2, &region);
    assert_int_equal(region.center, h.data.n - 1);
    assert_int_equal(region.successes, 1);
}

/* When every trial lies in the exhausted neighbourhood, the restart keeps its centre. */
static void test_restart_with_nowhere_else_stays(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    add_at(&h, 0.5, 0.5, true, 1.0, -1.0);
    for (int i = 0; i < 7 * 4; i++)
        add_at(&h, 0.5, 0.45 + 0.01 * (i % 10), true, 2.0, -1.0);
    struct opt_trust_region region;
    opt_trust_replay(&h.data, 1, &region);
    assert_int_equal(region.restarts, 1);
    assert_int_equal(region.center, 0);
    assert_int_equal(region.exhausted_count, 0);
}

static void test_infeasible_history_ranks_by_violation(void **state)
{
    (void)state;
    struct history h;
    history_init(&h, 2);
    add(&h, false, 0.0, 0.0);
    add(&h, true, 3.0, 4.0);
    add(&h, true, 9.0, 1.0); /* less violation: a success despite the objective */
    struct opt_trust_region region;
    opt_trust_replay(&h.data, 1, &region);
    assert_int_equal(region.center, 2);
    assert_int_equal(region.successes, 2);
}

/* One enum input with 4 values, y alternating in the index: an overlap kernel learns each value
 * on its own; a distance on the index would smooth 0, 1, 2, 3 into one trend. */
static void test_enum_kernel_compares_by_equality(void **state)
{
    (void)state;
    static const bool categorical[1] = {true};
    double x[16], y[16];
    for (int i = 0; i < 16; i++) {
        x[i] = (double)(i % 4);
        y[i] = (i % 4 == 1 || i % 4 == 3) ? -1.0 : 1.0;
    }
    struct opt_gp gp;
    struct opt_gp_fit_options options = {.restarts = 2, .iterations = 40};
    struct opt_rng rng;
    opt_rng_seed(&rng, 7);
    assert_int_equal(opt_gp_fit(&gp, x, y, 16, 1, categorical, &options, &rng), 0);
    double work[32];
    for (int level = 0; level < 4; level++) {
        double z = level, mean, variance;
        opt_gp_predict(&gp, &z, &mean, &variance, work);
        assert_true(fabs(mean - y[level]) < 0.1);
        assert_true(variance >= 0);
    }
    opt_gp_free(&gp);
}

/* A range input and an enum of 3 values: values 0 and 1 follow the same curve, value 2 another.
 * The enum's per-value weights learn that 0 and 1 are alike (small weights) and 2 stands apart,
 * so value 1, measured at a few points only, is predicted from value 0's curve where it was
 * never measured; with one weight for all values (the overlap kernel) it could not be. */
static void test_enum_values_that_behave_alike_share(void **state)
{
    (void)state;
    static const bool categorical[2] = {false, true};
    double x[2 * 24], y[24];
    size_t n = 0;
    for (int i = 0; i < 10; i++) { /* value 0 and value 2 on a grid of 10 points each */
        double u = i / 9.0;
        x[2 * n] = u;
        x[2 * n + 1] = 0;
        y[n++] = sin(2 * M_PI * u);
        x[2 * n] = u;
        x[2 * n + 1] = 2;
        y[n++] = 1.5 * cos(3 * M_PI * u);
    }
    for (int i = 0; i < 4; i++) { /* value 1: 4 points on the first half only */
        double u = 0.05 + 0.1 * i;
        x[2 * n] = u;
        x[2 * n + 1] = 1;
        y[n++] = sin(2 * M_PI * u);
    }
    struct opt_gp gp;
    struct opt_gp_fit_options options = {.restarts = 2, .iterations = 60};
    struct opt_rng rng;
    opt_rng_seed(&rng, 11);
    assert_int_equal(opt_gp_fit(&gp, x, y, n, 2, categorical, &options, &rng), 0);
    double w0 = gp.value_w[gp.offset[1]], w1 = gp.value_w[gp.offset[1] + 1];
    double w2 = gp.value_w[gp.offset[1] + 2];
    assert_true(w2 > 2.0 * fmax(w0, w1));
    double work[64];
    for (double u = 0.6; u < 0.95; u += 0.1) { /* where value 1 was never measured */
        double z[2] = {u, 1}, mean, variance;
        opt_gp_predict(&gp, z, &mean, &variance, work);
        assert_true(fabs(mean - sin(2 * M_PI * u)) < 0.25);
    }
    opt_gp_free(&gp);
}

#define FIT_D 4
#define FIT_TRAIN 40
#define FIT_TEST 200

static double sum_of_sines(const double *x)
{
    double s = 0.0;
    for (int k = 0; k < FIT_D; k++)
        s += sin(2 * M_PI * x[k]);
    return s;
}

/* No main effect at all: every input matters only through the others. */
static double product_of_cosines(const double *x)
{
    double s = 1.0;
    for (int k = 0; k < FIT_D; k++)
        s *= cos(2 * M_PI * (x[k] - 0.5));
    return s;
}

/* A bowl off the centre, with ripples; its mean over the cube is about 0 (the models are
 * fitted to values as they are, with a prior mean of 0). */
static double rippled_bowl(const double *x)
{
    double s = 0.0;
    for (int k = 0; k < FIT_D; k++)
        s += 4 * ((x[k] - 0.35) * (x[k] - 0.35) - 0.1058) + 0.1 * sin(12 * x[k]);
    return s;
}

struct fit_result {
    double share, rmse;
};

/* A random point of the unit 4-cube whose first input is in [low, high). */
static void random_point(struct opt_rng *rng, double low, double high, double *z)
{
    for (int k = 0; k < FIT_D; k++)
        z[k] = opt_rng_uniform(rng);
    z[0] = low + (high - low) * z[0];
}

/* Fits f on 40 random points of the unit 4-cube whose first input is below `split` and
 * measures the prediction error on 200 others, at or above the split when it is below 1 (far
 * from the trials), anywhere otherwise; checks on the way that a batch prediction equals the
 * single one. */
static struct fit_result fit_and_test(double (*f)(const double *), bool additive, double trend,
                                      double split)
{
    static const bool categorical[FIT_D] = {false};
    double x[FIT_D * FIT_TRAIN], y[FIT_TRAIN];
    struct opt_rng rng;
    opt_rng_seed(&rng, 1);
    for (size_t i = 0; i < FIT_TRAIN; i++) {
        random_point(&rng, 0.0, split, x + i * FIT_D);
        y[i] = f(x + i * FIT_D);
    }
    struct opt_gp gp;
    struct opt_gp_fit_options options = {
        .restarts = 2, .iterations = 40, .additive = additive, .trend = trend};
    assert_int_equal(opt_gp_fit(&gp, x, y, FIT_TRAIN, FIT_D, categorical, &options, &rng), 0);
    double z[FIT_D * FIT_TEST], mean[FIT_TEST], variance[FIT_TEST];
    for (size_t i = 0; i < FIT_TEST; i++)
        random_point(&rng, split < 1.0 ? split : 0.0, 1.0, z + i * FIT_D);
    double *work = test_malloc((FIT_TRAIN + FIT_D) * FIT_TEST * sizeof(double));
    opt_gp_predict_batch(&gp, z, FIT_TEST, mean, variance, work);
    double squares = 0.0;
    for (size_t i = 0; i < FIT_TEST; i++) {
        double one_mean, one_variance;
        opt_gp_predict(&gp, z + i * FIT_D, &one_mean, &one_variance, work);
        assert_true(fabs(one_mean - mean[i]) < 1e-9 && fabs(one_variance - variance[i]) < 1e-9);
        squares += pow(mean[i] - f(z + i * FIT_D), 2);
    }
    test_free(work);
    struct fit_result result = {gp.additive_share, sqrt(squares / FIT_TEST)};
    opt_gp_free(&gp);
    return result;
}

/* A sum of one-input terms: 40 points are too few for the product kernel in 4 inputs, but what
 * the additive kernel learns of each term holds wherever the other inputs are. */
static void test_additive_share_learns_a_sum(void **state)
{
    (void)state;
    struct fit_result product = fit_and_test(sum_of_sines, false, 0.0, 1.0);
    struct fit_result mixed = fit_and_test(sum_of_sines, true, 0.0, 1.0);
    assert_true(product.share == 0.0);
    assert_true(mixed.share > 0.9);
    assert_true(mixed.rmse < 0.2 * product.rmse);
}

static void test_additive_share_stays_small_on_a_product(void **state)
{
    (void)state;
    struct fit_result product = fit_and_test(product_of_cosines, false, 0.0, 1.0);
    struct fit_result mixed = fit_and_test(product_of_cosines, true, 0.0, 1.0);
    assert_true(mixed.share < 0.3);
    assert_true(mixed.rmse < 1.1 * product.rmse);
}

/* Trained on the half of the cube where the first input is below 0.5, the stationary kernel
 * predicts the other half near the mean; the trend carries the bowl's rise there. */
static void test_trend_extrapolates_a_bowl(void **state)
{
    (void)state;
    struct fit_result plain = fit_and_test(rippled_bowl, false, 0.0, 0.5);
    struct fit_result trend = fit_and_test(rippled_bowl, false, 0.5, 0.5);
    assert_true(trend.rmse < 0.6 * plain.rmse);
}

/* Nothing for the trend to learn: it must not cost accuracy, inside the sampled region or
 * beyond it. */
static void test_trend_costs_little_without_a_bowl(void **state)
{
    (void)state;
    for (double split = 0.5; split <= 1.0; split += 0.5) {
        struct fit_result plain = fit_and_test(product_of_cosines, false, 0.0, split);
        struct fit_result trend = fit_and_test(product_of_cosines, false, 0.5, split);
        assert_true(trend.rmse < 1.1 * plain.rmse);
    }
}

/* The fit's gradient against central differences of its objective, for both kernels, with and
 * without the additive share, with the trend, on ranges and an enum of 4 values. */
static void test_fit_gradient_matches_differences(void **state)
{
    (void)state;
    enum { N = 20, D = 3 };
    static const bool categorical[D] = {false, false, true};
    double x[N * D], y[N];
    struct opt_rng rng;
    opt_rng_seed(&rng, 3);
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < D; k++)
            x[i * D + k] =
                categorical[k] ? floor(4.0 * opt_rng_uniform(&rng)) : opt_rng_uniform(&rng);
        y[i] = fabs(x[i * D] - 0.5) + sin(4.0 * x[i * D + 1]) + (x[i * D + 2] == 1.0) +
               0.1 * opt_rng_normal(&rng);
    }
    for (int variant = 0; variant < 4; variant++) {
        struct opt_gp_fit_options options = {
            .rough = variant & 1, .additive = (variant & 2) != 0, .trend = 0.5};
        size_t count = opt_gp_hyperparameter_count(x, N, D, categorical, &options);
        assert_int_equal(count, 2 + 4 + 2 + options.additive);
        double theta[16], up[16], gradient[16], ignored[16];
        for (size_t k = 0; k < count; k++)
            theta[k] = -0.5 + 0.13 * (double)k;
        opt_gp_negative_log_posterior(x, y, N, D, categorical, &options, theta, gradient);
        for (size_t k = 0; k < count; k++) {
            memcpy(up, theta, sizeof(theta));
            up[k] += 1e-6;
            double above =
                opt_gp_negative_log_posterior(x, y, N, D, categorical, &options, up, ignored);
            up[k] -= 2e-6;
            double below =
                opt_gp_negative_log_posterior(x, y, N, D, categorical, &options, up, ignored);
            double difference = (above - below) / 2e-6;
            if (fabs(difference - gradient[k]) > 1e-5 * fmax(1.0, fabs(difference)))
                fail_msg("variant %d, hyperparameter %zu: gradient %.10g, differences %.10g",
                         variant, k, gradient[k], difference);
        }
    }
}

/* `rough`: the model predicts with the Matern-3/2 kernel of its fitted hyperparameters, and
 * without it does not (so that the check can fail). */
static void test_rough_kernel_is_matern_3_2(void **state)
{
    (void)state;
    static const bool categorical[1] = {false};
    double x[12], y[12];
    for (int i = 0; i < 12; i++) {
        x[i] = i / 11.0;
        y[i] = fabs(x[i] - 0.5) < 0.2 ? 0.0 : 1.0; /* a step: a rough function */
    }
    for (int rough = 1; rough >= 0; rough--) {
        struct opt_gp gp;
        struct opt_gp_fit_options options = {.restarts = 2, .iterations = 40, .rough = rough};
        struct opt_rng rng;
        opt_rng_seed(&rng, 5);
        assert_int_equal(opt_gp_fit(&gp, x, y, 12, 1, categorical, &options, &rng), 0);
        double work[16], largest = 0.0;
        for (int q = 0; q < 5; q++) {
            double z = 0.05 + 0.21 * q, mean, variance, manual = 0.0;
            opt_gp_predict(&gp, &z, &mean, &variance, work);
            for (int i = 0; i < 12; i++) {
                double r = fabs(z - x[i]) * sqrt(gp.inverse_ls2[0]);
                manual += gp.signal * (1.0 + sqrt(3.0) * r) * exp(-sqrt(3.0) * r) * gp.alpha[i];
            }
            largest = fmax(largest, fabs(mean - manual));
        }
        if (rough)
            assert_true(largest < 1e-9);
        else
            assert_true(largest > 1e-6);
        opt_gp_free(&gp);
    }
}

/* Draws of the hyperparameters from the Laplace approximation: they centre on the MAP fit's, and a
 * lengthscale that the data pin down varies less across them than that of an input that does
 * nothing (fitted long, held by the prior). */
static void test_draws_spread_where_the_data_say_little(void **state)
{
    (void)state;
    enum { N = 30, DRAWS = 64 };
    static const bool categorical[2] = {false, false};
    double x[2 * N], y[N];
    struct opt_rng rng;
    opt_rng_seed(&rng, 7);
    for (size_t i = 0; i < N; i++) {
        x[2 * i] = opt_rng_uniform(&rng);
        x[2 * i + 1] = opt_rng_uniform(&rng);
        y[i] = sin(2 * M_PI * x[2 * i]); /* the second input does nothing */
    }
    struct opt_gp_fit_options options = {.restarts = 2, .iterations = 40};
    struct opt_gp map, *draws = test_malloc(DRAWS * sizeof(*draws));
    assert_int_equal(opt_gp_fit(&map, x, y, N, 2, categorical, &options, &rng), 0);
    assert_int_equal(opt_gp_draw_models(&map, y, &options, DRAWS, draws, &rng), DRAWS);
    double sum[2] = {0}, squares[2] = {0};
    for (size_t k = 0; k < DRAWS; k++)
        for (size_t j = 0; j < 2; j++) {
            double log_l = -0.5 * log(draws[k].inverse_ls2[j]);
            sum[j] += log_l;
            squares[j] += log_l * log_l;
        }
    double sd[2];
    for (size_t j = 0; j < 2; j++) {
        double mean = sum[j] / DRAWS;
        sd[j] = sqrt(squares[j] / DRAWS - mean * mean);
    }
    assert_true(fabs(sum[0] / DRAWS + 0.5 * log(map.inverse_ls2[0])) < 0.1);
    assert_true(sd[0] > 0.02 && sd[0] < 0.6 * sd[1]);
    for (size_t k = 0; k < DRAWS; k++)
        opt_gp_free(&draws[k]);
    test_free(draws);
    opt_gp_free(&map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranking),
        cmocka_unit_test(test_enum_values_that_behave_alike_share),
        cmocka_unit_test(test_failure_limit),
        cmocka_unit_test(test_design_only_moves_the_center),
        cmocka_unit_test(test_successes_grow_failures_shrink),
        cmocka_unit_test(test_restart_below_minimum),
        cmocka_unit_test(test_restart_moves_away_from_exhausted_region),
        cmocka_unit_test(test_restart_with_nowhere_else_stays),
        cmocka_unit_test(test_infeasible_history_ranks_by_violation),
        cmocka_unit_test(test_enum_kernel_compares_by_equality),
        cmocka_unit_test(test_additive_share_learns_a_sum),
        cmocka_unit_test(test_additive_share_stays_small_on_a_product),
        cmocka_unit_test(test_trend_extrapolates_a_bowl),
        cmocka_unit_test(test_trend_costs_little_without_a_bowl),
        cmocka_unit_test(test_fit_gradient_matches_differences),
        cmocka_unit_test(test_rough_kernel_is_matern_3_2),
        cmocka_unit_test(test_draws_spread_where_the_data_say_little),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
