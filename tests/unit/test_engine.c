/* The optimizer engine: determinism, suggestions always inside the space (a property test over
 * random spaces and histories), the baseline first, snapping rules, space validation, failed
 * and NaN trials, constraints, the TPE fallback and the suggestion time. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optimizer/engine.h"
#include "util/util.h"

#define MAX_PARAMS 32
#define MAX_TRIALS 220

/* A fixed-seed linear congruential generator (Knuth's MMIX constants). */
static double next_uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (double)(*state >> 11) * 0x1.0p-53;
}

static const char *const colors[] = {"red", "green", "blue", "black"};

static struct opt_param range(double min, double max, double step, bool integer, double fixed)
{
    struct opt_param p = {.name = "r",
                          .kind = OPT_RANGE,
                          .min = min,
                          .max = max,
                          .step = step,
                          .integer = integer,
                          .fixed = fixed};
    return p;
}

static struct opt_param enumeration(size_t count, double fixed)
{
    struct opt_param p = {
        .name = "e", .kind = OPT_ENUM, .values = colors, .value_count = count, .fixed = fixed};
    return p;
}

/* A history the tests grow: trial t owns row t of xs and gs. */
struct history {
    struct opt_trial trials[MAX_TRIALS];
    double xs[MAX_TRIALS][MAX_PARAMS];
    double gs[MAX_TRIALS][2];
    size_t count;
};

static void history_add(struct history *h, const double *x, size_t n, enum opt_trial_status s,
                        double objective, const double *g, size_t constraints)
{
    size_t t = h->count++;
    memcpy(h->xs[t], x, n * sizeof(double));
    if (constraints > 0)
        memcpy(h->gs[t], g, constraints * sizeof(double));
    h->trials[t] = (struct opt_trial){.x = h->xs[t],
                                      .status = s,
                                      .objective = objective,
                                      .constraints = constraints ? h->gs[t] : NULL};
}

static bool on_grid(const struct opt_param *p, double v)
{
    if (p->pinned)
        return v == p->fixed;
    if (p->kind == OPT_ENUM)
        return v >= 0 && v < (double)p->value_count && v == floor(v);
    if (!(v >= p->min && v <= p->max))
        return false;
    if (p->integer && v != floor(v))
        return false;
    if (p->step > 0) {
        double k = (v - p->min) / p->step;
        return fabs(k - nearbyint(k)) < 1e-9;
    }
    return true;
}

static void assert_in_space(const struct opt_space *space, const double *x)
{
    for (size_t i = 0; i < space->count; i++) {
        if (!on_grid(&space->params[i], x[i]))
            fail_msg("setting %zu = %.17g is off the space (min %g max %g step %g)", i, x[i],
                     space->params[i].min, space->params[i].max, space->params[i].step);
    }
}

static void suggest_ok(const struct opt_space *space, size_t constraints, const struct history *h,
                       uint64_t seed, double *out, struct opt_suggestion_info *info)
{
    struct opt_options options = {.seed = seed};
    const char *error = NULL;
    int rc = opt_suggest(space, constraints, h->trials, h->count, &options, out, info, &error);
    if (rc != 0)
        fail_msg("opt_suggest failed: %s", error ? error : "(no message)");
    assert_in_space(space, out);
}

/* ---- the baseline and snapping ---------------------------------------------------------- */

static void test_empty_history_gives_baseline(void **state)
{
    (void)state;
    struct opt_param params[] = {range(0.25, 4, 0.125, false, 1.07), range(1, 10, 1, true, 3),
                                 enumeration(3, 2), range(0, 1, 0, false, 0.3)};
    struct opt_space space = {params, ARRAY_LEN(params)};
    struct history h = {.count = 0};
    double out[4];
    struct opt_suggestion_info info = {0};
    suggest_ok(&space, 0, &h, 7, out, &info);
    assert_string_equal(info.strategy, "baseline");
    assert_true(out[0] == 1.125); /* 1.07 snapped to the nearest step */
    assert_true(out[1] == 3);
    assert_true(out[2] == 2);
    assert_true(out[3] == 0.3);
}

static void test_snap_rules(void **state)
{
    (void)state;
    /* The grid is min + k*step; a max off the grid is not reachable: 0.9 is the last point. */
    struct opt_param params[] = {range(0, 1, 0.3, false, 0.5), range(0.5, 3.7, 0, true, 2),
                                 enumeration(4, 1), range(-1, 1, 0, false, 0)};
    params[3].pinned = true;
    params[3].fixed = 0.123;
    struct opt_space space = {params, ARRAY_LEN(params)};
    double x[4] = {1.0, 3.9, 7.2, 0.5};
    opt_snap(&space, x);
    assert_true(fabs(x[0] - 0.9) < 1e-12);
    assert_true(x[1] == 3); /* integer: whole numbers in [0.5, 3.7] */
    assert_true(x[2] == 3);
    assert_true(x[3] == 0.123); /* pinned: held */
    double y[4] = {0.44, 0.2, -3, NAN};
    opt_snap(&space, y);
    assert_true(fabs(y[0] - 0.3) < 1e-12);
    assert_true(y[1] == 1);
    assert_true(y[2] == 0);
    assert_true(y[3] == 0.123);
    double z[4] = {NAN, NAN, NAN, NAN}; /* NaN goes to the baseline */
    opt_snap(&space, z);
    assert_true(fabs(z[0] - 0.6) < 1e-12);
    assert_true(z[1] == 2 && z[2] == 1);
}

/* ---- validation ------------------------------------------------------------------------- */

static void expect_invalid(struct opt_param *params, size_t count, const char *fragment)
{
    struct opt_space space = {params, count};
    const char *error = NULL;
    assert_int_equal(opt_space_validate(&space, &error), -1);
    assert_non_null(error);
    if (strstr(error, fragment) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", error, fragment);
    double out[4] = {0};
    struct opt_options options = {.seed = 1};
    error = NULL;
    assert_int_equal(opt_suggest(&space, 0, NULL, 0, &options, out, NULL, &error), -1);
    assert_non_null(error);
}

static void test_validation_errors(void **state)
{
    (void)state;
    struct opt_param p[2];
    p[0] = range(2, 1, 0, false, 1.5);
    expect_invalid(p, 1, "min > max");
    p[0] = range(0, 1, -0.1, false, 0.5);
    expect_invalid(p, 1, "negative step");
    p[0] = range(NAN, 1, 0, false, 0.5);
    expect_invalid(p, 1, "finite");
    p[0] = range(0, INFINITY, 0, false, 0.5);
    expect_invalid(p, 1, "finite");
    p[0] = range(0, 1, 0, false, NAN);
    expect_invalid(p, 1, "value that is not a finite number");
    p[0] = range(0, 10, 0.5, true, 1);
    expect_invalid(p, 1, "fractional");
    p[0] = range(0.2, 0.8, 0, true, 0.5);
    expect_invalid(p, 1, "no whole number");
    p[0] = range(-DBL_MAX, DBL_MAX, 0, false, 0);
    expect_invalid(p, 1, "too wide");
    p[0] = enumeration(0, 0);
    expect_invalid(p, 1, "no values");
    p[0] = range(0, 1, 0, false, 2);
    p[0].pinned = true;
    expect_invalid(p, 1, "outside its range");
    p[0] = enumeration(3, 5);
    p[0].pinned = true;
    expect_invalid(p, 1, "outside its values");
    expect_invalid(p, 0, "no tunable settings");
    /* Everything pinned or single-valued: an error, not a silent baseline. */
    p[0] = range(0, 1, 0, false, 0.5);
    p[0].pinned = true;
    p[1] = range(3, 3, 0, false, 3);
    expect_invalid(p, 2, "no tunable settings");
    p[1] = enumeration(1, 0);
    expect_invalid(p, 2, "no tunable settings");
    struct opt_space none = {NULL, 0};
    const char *error = NULL;
    assert_int_equal(opt_space_validate(NULL, &error), -1);
    assert_int_equal(opt_space_validate(&none, &error), -1);
}

/* A range with more grid points than a size_t can count (an integer range up to 1e300) is
 * searched as a continuous one and snapped; the model-based stages get there too. */
static void test_huge_ranges(void **state)
{
    (void)state;
    struct opt_param params[] = {range(0, 1e300, 0, true, 5), range(-1e200, 1e200, 1e197, false, 0),
                                 range(0, 1, 0, false, 0.5)};
    struct opt_space space = {params, 3};
    struct history *h = xcalloc(1, sizeof(*h));
    double x[3];
    struct opt_suggestion_info info;
    for (size_t t = 0; t < 14; t++) {
        suggest_ok(&space, 0, h, 7, x, &info);
        history_add(h, x, 3, OPT_TRIAL_OK, fabs(x[0] / 1e300 - 0.3) + fabs(x[2] - 0.7), NULL, 0);
    }
    assert_string_equal(info.strategy, "gp-cei");
    free(h);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct opt_param params[] = {range(0, 1, 0, false, 0.5)};
    struct opt_space space = {params, 1};
    double out[1];
    const char *error = NULL;
    assert_int_equal(opt_suggest(&space, 0, NULL, 3, NULL, out, NULL, &error), -1);
    assert_int_equal(opt_suggest(&space, 0, NULL, 0, NULL, NULL, NULL, &error), -1);
    /* No options: seed 0; trials without settings or with NaN settings are ignored. */
    struct history h = {.count = 0};
    double nan_x[1] = {NAN};
    for (int i = 0; i < 12; i++)
        history_add(&h, i % 2 ? nan_x : (double[]){0.1 * i}, 1, OPT_TRIAL_OK, i, NULL, 0);
    h.trials[3].x = NULL;
    assert_int_equal(opt_suggest(&space, 0, h.trials, h.count, NULL, out, NULL, &error), 0);
    assert_in_space(&space, out);
}

/* ---- determinism ------------------------------------------------------------------------ */

static double sphere(const double *x, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (x[i] - 0.3 * (double)(i + 1)) * (x[i] - 0.3 * (double)(i + 1));
    return sum;
}

/* Runs `trials` suggestions on a 3-setting sphere with an enum; the points go to xs. */
static void run_sphere(uint64_t seed, size_t trials, double (*xs)[4])
{
    struct opt_param params[] = {range(0, 2, 0, false, 1), range(0, 2, 0.25, false, 1),
                                 range(0, 5, 1, true, 2), enumeration(3, 0)};
    struct opt_space space = {params, 4};
    struct history *h = xcalloc(1, sizeof(*h));
    for (size_t t = 0; t < trials; t++) {
        suggest_ok(&space, 0, h, seed, xs[t], NULL);
        history_add(h, xs[t], 4, OPT_TRIAL_OK, sphere(xs[t], 3) + xs[t][3], NULL, 0);
    }
    free(h);
}

static void test_determinism(void **state)
{
    (void)state;
    double a[20][4], b[20][4], c[20][4];
    run_sphere(11, 20, a);
    run_sphere(11, 20, b);
    run_sphere(12, 20, c);
    assert_memory_equal(a, b, sizeof(a));          /* identical bits */
    assert_memory_equal(a[0], c[0], sizeof(a[0])); /* the baseline does not depend on the seed */
    assert_true(memcmp(a[1], c[1], sizeof(a[1])) != 0); /* the design does */
    assert_true(memcmp(a[15], c[15], sizeof(a[15])) != 0);
}

/* ---- the property test ------------------------------------------------------------------ */

static struct opt_param random_param(uint64_t *rng)
{
    double u = next_uniform(rng);
    double min = floor(next_uniform(rng) * 20) - 10;
    double width = next_uniform(rng) < 0.1 ? 0 : floor(next_uniform(rng) * 30) / 4;
    struct opt_param p;
    if (u < 0.2) {
        p = enumeration(1 + (size_t)(next_uniform(rng) * 4), 0);
        p.fixed = floor(next_uniform(rng) * (double)p.value_count);
    } else if (u < 0.4) {
        p = range(min, min + floor(width),
                  next_uniform(rng) < 0.5 ? 0 : 1 + floor(next_uniform(rng) * 3), true, min);
    } else if (u < 0.7) { /* steps that often do not divide max - min */
        p = range(min, min + width, 0.1 + floor(next_uniform(rng) * 8) * 0.35, false, min);
    } else {
        p = range(min, min + width, 0, false, min);
    }
    if (p.kind == OPT_RANGE)
        p.fixed = p.min + next_uniform(rng) * (p.max - p.min) * 1.2; /* sometimes above max */
    p.pinned = next_uniform(rng) < 0.15;
    if (p.pinned && p.kind == OPT_RANGE)
        p.fixed = p.min;
    return p;
}

static void test_suggestions_stay_in_space(void **state)
{
    (void)state;
    uint64_t rng = 2024;
    struct history *h = xcalloc(1, sizeof(*h));
    size_t checked = 0, models = 0;
    for (int round = 0; round < 120; round++) {
        struct opt_param params[8];
        size_t count = 1 + (size_t)(next_uniform(&rng) * 8);
        for (size_t i = 0; i < count; i++)
            params[i] = random_param(&rng);
        struct opt_space space = {params, count};
        const char *error = NULL;
        if (opt_space_validate(&space, &error) != 0)
            continue; /* e.g. everything pinned: covered by test_validation_errors */
        size_t constraints = next_uniform(&rng) < 0.5 ? 1 : 0;
        size_t trials = (size_t)(next_uniform(&rng) * 30);
        struct opt_options options = {.seed = (uint64_t)round,
                                      .initial_design = round % 3 == 0 ? 2 : 0};
        h->count = 0;
        double x[8];
        struct opt_suggestion_info info;
        for (size_t t = 0; t <= trials; t++) {
            error = NULL;
            assert_int_equal(
                opt_suggest(&space, constraints, h->trials, h->count, &options, x, &info, &error),
                0);
            assert_in_space(&space, x);
            double snapped[8];
            memcpy(snapped, x, sizeof(x));
            opt_snap(&space, snapped);
            assert_memory_equal(snapped, x, count * sizeof(double)); /* snapping is idempotent */
            checked++;
            models += strcmp(info.strategy, "gp-cei") == 0;
            double u = next_uniform(&rng), g[1] = {next_uniform(&rng) - 0.3};
            enum opt_trial_status status = u < 0.1 ? OPT_TRIAL_FAILED : OPT_TRIAL_OK;
            double objective = u < 0.15 ? NAN : u < 0.2 ? INFINITY : sphere(x, count);
            if (u > 0.95)
                g[0] = NAN;
            history_add(h, x, count, status, objective, g, constraints);
        }
    }
    free(h);
    print_message("checked %zu suggestions, %zu from the GP\n", checked, models);
    assert_true(checked > 1000);
    assert_true(models > 200);
}

/* ---- failed trials and NaN values ------------------------------------------------------- */

static void test_nan_trials_count_as_failed(void **state)
{
    (void)state;
    struct opt_param params[] = {range(0, 1, 0, false, 0.5), range(0, 1, 0, false, 0.5)};
    struct opt_space space = {params, 2};
    struct history *failed = xcalloc(1, sizeof(*failed));
    struct history *nan_objective = xcalloc(1, sizeof(*nan_objective));
    struct history *nan_constraint = xcalloc(1, sizeof(*nan_constraint));
    uint64_t rng = 5;
    for (int t = 0; t < 14; t++) {
        double x[2] = {next_uniform(&rng), next_uniform(&rng)}, g[1] = {x[0] - 0.8};
        bool bad = t % 4 == 1;
        history_add(failed, x, 2, bad ? OPT_TRIAL_FAILED : OPT_TRIAL_OK, sphere(x, 2), g, 1);
        history_add(nan_objective, x, 2, OPT_TRIAL_OK, bad ? NAN : sphere(x, 2), g, 1);
        double gn[1] = {bad ? NAN : g[0]};
        history_add(nan_constraint, x, 2, OPT_TRIAL_OK, sphere(x, 2), gn, 1);
    }
    double a[2], b[2], c[2];
    struct opt_suggestion_info info;
    suggest_ok(&space, 1, failed, 3, a, &info);
    assert_string_equal(info.strategy, "gp-cei");
    suggest_ok(&space, 1, nan_objective, 3, b, NULL);
    suggest_ok(&space, 1, nan_constraint, 3, c, NULL);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_equal(a, c, sizeof(a));
    free(failed);
    free(nan_objective);
    free(nan_constraint);
}

/* Every trial with x > 0.6 fails (an OOM-killed pod), 0.1 from the optimum (0.5, 0.4): the
 * engine must learn the failing region from failures alone and keep out of it. Over 8 seeds, at
 * most a quarter of the last 20 trials of a study may fail (random search: 40 %), and every
 * study must find the optimum. One seed alone says little: the engine's draws of its models'
 * hyperparameters explore the edge where the optimum lies (docs/optimizer.md, fourteenth
 * round), and over 30 seeds 4.3 of the 20 fail on average (3.4 with the MAP models alone),
 * from 1 to 9 per seed. */
static void test_failed_region_is_avoided(void **state)
{
    (void)state;
    enum { SEEDS = 8 };
    struct opt_param params[] = {range(0, 1, 0, false, 0.2), range(0, 1, 0, false, 0.5)};
    struct opt_space space = {params, 2};
    size_t failures_late = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        struct history *h = xcalloc(1, sizeof(*h));
        double best = INFINITY;
        for (int t = 0; t < 40; t++) {
            double x[2];
            suggest_ok(&space, 0, h, seed, x, NULL);
            bool fails = x[0] > 0.6;
            double f = (x[0] - 0.5) * (x[0] - 0.5) + (x[1] - 0.4) * (x[1] - 0.4);
            history_add(h, x, 2, fails ? OPT_TRIAL_FAILED : OPT_TRIAL_OK, fails ? NAN : f, NULL, 0);
            if (!fails)
                best = fmin(best, f);
            if (t >= 20)
                failures_late += fails;
        }
        free(h);
        if (!(best < 0.005))
            fail_msg("seed %d: best %.5f (optimum 0)", (int)seed, best);
    }
    print_message("failures in the last 20 trials: %.2f per study\n",
                  (double)failures_late / SEEDS);
    assert_true(failures_late <= 5 * SEEDS);
}

/* ---- constraints ------------------------------------------------------------------------ */

/* Minimize (x - 0.9)^2 + (y - 0.9)^2 subject to x + y <= 1: the unconstrained optimum
 * (0.9, 0.9) is infeasible; the constrained one is (0.5, 0.5), value 0.32. */
static void test_constrained_optimum(void **state)
{
    (void)state;
    struct opt_param params[] = {range(0, 1, 0, false, 0.1), range(0, 1, 0, false, 0.1)};
    struct opt_space space = {params, 2};
    struct history *h = xcalloc(1, sizeof(*h));
    double best = INFINITY, best_x[2] = {0};
    size_t infeasible_late = 0;
    for (int t = 0; t < 40; t++) {
        double x[2], g[1];
        suggest_ok(&space, 1, h, 4, x, NULL);
        double f = (x[0] - 0.9) * (x[0] - 0.9) + (x[1] - 0.9) * (x[1] - 0.9);
        g[0] = x[0] + x[1] - 1.0;
        history_add(h, x, 2, OPT_TRIAL_OK, f, g, 1);
        if (g[0] <= 0 && f < best) {
            best = f;
            memcpy(best_x, x, sizeof(x));
        }
        if (t >= 20)
            infeasible_late += g[0] > 0.05;
    }
    print_message("best feasible %.4f at (%.3f, %.3f), optimum 0.32 at (0.5, 0.5)\n", best,
                  best_x[0], best_x[1]);
    assert_true(best < 0.32 + 0.01);
    assert_true(fabs(best_x[0] - 0.5) < 0.08 && fabs(best_x[1] - 0.5) < 0.08);
    assert_true(infeasible_late <= 10);
    free(h);
}

static void test_no_feasible_trial_seeks_feasibility(void **state)
{
    (void)state;
    /* Feasible only for x < 0.15; the design may miss it, the model must head there. */
    struct opt_param params[] = {range(0, 1, 0, false, 0.9), range(0, 1, 0, false, 0.5)};
    struct opt_space space = {params, 2};
    struct history *h = xcalloc(1, sizeof(*h));
    int first_feasible = -1;
    for (int t = 0; t < 30 && first_feasible < 0; t++) {
        double x[2], g[1];
        suggest_ok(&space, 1, h, 21, x, NULL);
        g[0] = x[0] - 0.15;
        history_add(h, x, 2, OPT_TRIAL_OK, x[1], g, 1);
        if (g[0] <= 0)
            first_feasible = t;
    }
    print_message("first feasible trial: %d\n", first_feasible);
    assert_true(first_feasible >= 0);
    free(h);
}

/* ---- small spaces, the fallback, strategies ------------------------------------------------ */

static void test_no_repeats_in_small_space(void **state)
{
    (void)state;
    struct opt_param params[] = {enumeration(2, 0), enumeration(3, 0), range(0, 1, 1, true, 0)};
    struct opt_space space = {params, 3}; /* 12 points */
    struct history *h = xcalloc(1, sizeof(*h));
    for (int t = 0; t < 12; t++) {
        double x[3];
        suggest_ok(&space, 0, h, 8, x, NULL);
        for (size_t i = 0; i < h->count; i++)
            if (memcmp(h->xs[i], x, sizeof(x)) == 0)
                fail_msg("trial %d repeats trial %zu", t, i);
        history_add(h, x, 3, OPT_TRIAL_OK, x[0] + 2 * x[1] - x[2], NULL, 0);
    }
    double x[3]; /* every point tried: a repeat is the only answer, and not an error */
    suggest_ok(&space, 0, h, 8, x, NULL);
    free(h);
}

static void test_strategies_in_order(void **state)
{
    (void)state;
    struct opt_param params[] = {range(0, 1, 0, false, 0.5), range(0, 1, 0, false, 0.5)};
    struct opt_space space = {params, 2};
    struct history *h = xcalloc(1, sizeof(*h));
    struct opt_options options = {.seed = 3, .initial_design = 4};
    for (int t = 0; t < 8; t++) {
        double x[2];
        struct opt_suggestion_info info;
        const char *error = NULL;
        assert_int_equal(opt_suggest(&space, 0, h->trials, h->count, &options, x, &info, &error),
                         0);
        const char *expected = t == 0 ? "baseline" : t <= 4 ? "sobol" : "gp-cei";
        assert_string_equal(info.strategy, expected);
        if (t > 4)
            assert_true(info.expected_improvement >= 0 && info.probability_feasible > 0.99);
        history_add(h, x, 2, OPT_TRIAL_OK, sphere(x, 2), NULL, 0);
    }
    free(h);
}

static void test_many_settings_use_tpe(void **state)
{
    (void)state;
    struct opt_param params[30];
    for (size_t i = 0; i < 30; i++)
        params[i] = i % 5 == 4 ? enumeration(4, 1) : range(0, 3, i % 2 ? 0.5 : 0, false, 1);
    struct opt_space space = {params, 30};
    struct history *h = xcalloc(1, sizeof(*h));
    double first = 0, last = 0;
    for (int t = 0; t < 40; t++) {
        double x[30];
        struct opt_suggestion_info info;
        suggest_ok(&space, 0, h, 5, x, &info);
        if (t > 10)
            assert_string_equal(info.strategy, "tpe");
        double f = sphere(x, 30);
        history_add(h, x, 30, t % 9 == 3 ? OPT_TRIAL_FAILED : OPT_TRIAL_OK, f, NULL, 0);
        if (t < 11)
            first = t == 0 ? f : fmin(first, f);
        else
            last = t == 11 ? f : fmin(last, f);
    }
    print_message("30 settings: best of the design %.2f, of TPE %.2f\n", first, last);
    free(h);
}

/* ---- speed ------------------------------------------------------------------------------ */

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_suggestion_time(void **state)
{
    (void)state;
    struct opt_param params[20];
    for (size_t i = 0; i < 20; i++)
        params[i] = i % 4 == 3 ? enumeration(4, 0) : range(0, 10, i % 3 == 2 ? 0.5 : 0, false, 5);
    struct opt_space space = {params, 20};
    struct history *h = xcalloc(1, sizeof(*h));
    uint64_t rng = 77;
    for (int t = 0; t < 200; t++) {
        double x[20], g[1];
        for (size_t i = 0; i < 20; i++)
            x[i] = params[i].kind == OPT_ENUM ? floor(4 * next_uniform(&rng))
                                              : 10 * next_uniform(&rng);
        opt_snap(&space, x);
        g[0] = x[0] - 7;
        history_add(h, x, 20, t % 17 == 5 ? OPT_TRIAL_FAILED : OPT_TRIAL_OK, sphere(x, 20), g, 1);
    }
    double x[20], start = cpu_seconds();
    struct opt_suggestion_info info;
    suggest_ok(&space, 1, h, 1, x, &info);
    double elapsed = cpu_seconds() - start;
    print_message("200 trials x 20 settings, 1 constraint, failures: %.1f ms CPU (%s)\n",
                  1e3 * elapsed, info.strategy);
    assert_string_equal(info.strategy, "gp-cei");
    assert_true(elapsed < 1.0); /* loose: sanitizers; docs/optimizer.md has the real number */
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_history_gives_baseline),
        cmocka_unit_test(test_snap_rules),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_suggestions_stay_in_space),
        cmocka_unit_test(test_huge_ranges),
        cmocka_unit_test(test_nan_trials_count_as_failed),
        cmocka_unit_test(test_failed_region_is_avoided),
        cmocka_unit_test(test_constrained_optimum),
        cmocka_unit_test(test_no_feasible_trial_seeks_feasibility),
        cmocka_unit_test(test_no_repeats_in_small_space),
        cmocka_unit_test(test_strategies_in_order),
        cmocka_unit_test(test_many_settings_use_tpe),
        cmocka_unit_test(test_suggestion_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
