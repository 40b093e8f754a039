// SPDX-License-Identifier: Apache-2.0
/* Several objectives and safe exploration: Pareto dominance, fronts, hypervolumes, the
 * Chebyshev scalarization and the pick of the front's trial (pareto.c); the configuration's
 * objectives, prefer and safety with their errors (file, line and key); the engine's
 * min_feasibility. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "config/yaml.h"
#include "optimizer/engine.h"
#include "optimizer/pareto.h"
#include "optimizer/study_config.h"
#include "util/util.h"

/* ---- dominance and fronts -------------------------------------------------------------- */

static void test_dominance(void **state)
{
    (void)state;
    const double a[] = {1, 2}, b[] = {2, 2}, c[] = {1, 2}, d[] = {0, 3};
    assert_true(pareto_dominates(a, b, 2));
    assert_false(pareto_dominates(b, a, 2));
    assert_false(pareto_dominates(a, c, 2)); /* equal: neither dominates */
    assert_false(pareto_dominates(a, d, 2)); /* a trade-off */
    assert_false(pareto_dominates(d, a, 2));
}

static void test_front(void **state)
{
    (void)state;
    /* (1,5) (2,3) (3,4)x (4,1) (5,5)x (2,3) duplicate kept; (0,0) is not valid */
    const double points[] = {1, 5, 2, 3, 3, 4, 4, 1, 5, 5, 2, 3, 0, 0};
    const bool valid[] = {true, true, true, true, true, true, false};
    size_t index[7];
    size_t n = pareto_front(points, valid, 7, 2, index);
    assert_int_equal(n, 4);
    assert_int_equal(index[0], 0);
    assert_int_equal(index[1], 1);
    assert_int_equal(index[2], 3);
    assert_int_equal(index[3], 5);
    /* with every point valid, (0,0) dominates all */
    n = pareto_front(points, NULL, 7, 2, index);
    assert_int_equal(n, 1);
    assert_int_equal(index[0], 6);
}

/* ---- hypervolume ----------------------------------------------------------------------- */

static void test_hypervolume_2d(void **state)
{
    (void)state;
    const double reference[] = {4, 4};
    const double one[] = {1, 1};
    assert_float_equal(pareto_hypervolume(one, NULL, 1, 2, reference), 9, 1e-12);
    /* (1,3) and (3,1): 3 + 3 - 1 overlap = 5 */
    const double two[] = {1, 3, 3, 1};
    assert_float_equal(pareto_hypervolume(two, NULL, 2, 2, reference), 5, 1e-12);
    /* a dominated point and one beyond the reference add nothing */
    const double more[] = {1, 3, 3, 1, 3, 3, 5, 0};
    assert_float_equal(pareto_hypervolume(more, NULL, 4, 2, reference), 5, 1e-12);
    const bool valid[] = {true, false, true, true};
    assert_float_equal(pareto_hypervolume(more, valid, 4, 2, reference), 3, 1e-12);
    assert_float_equal(pareto_hypervolume(more, NULL, 0, 2, reference), 0, 0);
}

static void test_hypervolume_3d(void **state)
{
    (void)state;
    const double reference[] = {2, 2, 2};
    const double corner[] = {0, 0, 0};
    assert_float_equal(pareto_hypervolume(corner, NULL, 1, 3, reference), 8, 1e-12);
    /* (0,1,1), (1,0,1), (1,1,0): each a 2x1x1 slab, pairwise overlaps 1, triple 1: 6 - 3 + 1 */
    const double three[] = {0, 1, 1, 1, 0, 1, 1, 1, 0};
    assert_float_equal(pareto_hypervolume(three, NULL, 3, 3, reference), 4, 1e-12);
    /* a Monte Carlo check of a random set */
    double points[3 * 12];
    uint64_t s = 12345;
    for (size_t i = 0; i < 36; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        points[i] = 2.0 * (double)(s >> 11) * 0x1.0p-53;
    }
    double hv = pareto_hypervolume(points, NULL, 12, 3, reference);
    size_t inside = 0, samples = 200000;
    for (size_t m = 0; m < samples; m++) {
        double u[3];
        for (int j = 0; j < 3; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            u[j] = 2.0 * (double)(s >> 11) * 0x1.0p-53;
        }
        for (size_t i = 0; i < 12; i++)
            if (points[3 * i] <= u[0] && points[3 * i + 1] <= u[1] && points[3 * i + 2] <= u[2]) {
                inside++;
                break;
            }
    }
    assert_float_equal(hv, 8.0 * (double)inside / (double)samples, 0.05);
    assert_true(isnan(pareto_hypervolume(points, NULL, 3, 4, reference)));
}

/* ---- scalarization and the pick -------------------------------------------------------- */

static void test_random_weights(void **state)
{
    (void)state;
    double w[3], again[3], other[3];
    pareto_random_weights(7, 3, 3, w);
    pareto_random_weights(7, 3, 3, again);
    pareto_random_weights(7, 4, 3, other);
    assert_float_equal(w[0] + w[1] + w[2], 1, 1e-12);
    assert_memory_equal(w, again, sizeof w);
    assert_true(memcmp(w, other, sizeof w) != 0);
    for (int j = 0; j < 3; j++)
        assert_true(w[j] >= 0 && w[j] <= 1);
}

static void test_chebyshev(void **state)
{
    (void)state;
    /* objectives scaled to [0, 1]: (0,1), (1,0), (0.5,0.5); the third is invalid */
    const double points[] = {0, 10, 2, 0, 1, 5, NAN, 1};
    const bool valid[] = {true, true, true, false};
    const double w[] = {0.5, 0.5};
    double out[4];
    pareto_chebyshev(points, valid, 4, 2, w, out);
    assert_float_equal(out[0], 0.5 + 0.05 * 0.5, 1e-12);
    assert_float_equal(out[1], 0.5 + 0.05 * 0.5, 1e-12);
    assert_float_equal(out[2], 0.25 + 0.05 * 0.5, 1e-12); /* the balanced point is best */
    assert_true(isnan(out[3]));
    const double skewed[] = {1, 0};
    pareto_chebyshev(points, valid, 4, 2, skewed, out);
    assert_true(out[0] < out[2] && out[2] < out[1]); /* only the first objective counts */
}

static void test_pick(void **state)
{
    (void)state;
    const double points[] = {0, 10, 10, 0, 4, 4, 1, 8};
    const size_t front[] = {0, 1, 2, 3};
    assert_int_equal(pareto_pick(points, front, 4, 2, NULL), 2); /* closest to the ideal (0,0) */
    /* weights: the first objective counts ten times more (among the first three) */
    const double first[] = {10, 1};
    assert_int_equal(pareto_pick(points, front, 3, 2, first), 0);
    const double second[] = {1, 10};
    assert_int_equal(pareto_pick(points, front, 3, 2, second), 1);
    assert_int_equal(pareto_pick(points, front, 4, 2, first), 3);
}

/* ---- the configuration ----------------------------------------------------------------- */

static struct study_settings *load(const char *yaml, struct yaml_documents *docs,
                                   struct servo_diags *diags)
{
    diags_init(diags);
    assert_int_equal(yaml_load(yaml, strlen(yaml), "servo.yaml", docs, diags), 0);
    return settings_load(&study_local_schema, docs->items[0], "optimizer.local", NULL, diags);
}

static void test_objectives_config(void **state)
{
    (void)state;
    struct yaml_documents docs;
    struct servo_diags diags;
    struct study_settings *s =
        load("objectives:\n"
             "  - {metric: latency, aggregate: p95, goal: minimize}\n"
             "  - {expression: \"main.cpu * main.replicas\", goal: minimize}\n"
             "prefer: [2, 1]\n"
             "safety: {min_feasibility: 0.9}\n",
             &docs, &diags);
    assert_non_null(s);
    const struct objective_settings *o = NULL;
    assert_int_equal(study_settings_objectives(s, &o), 2);
    assert_string_equal(o[0].metric, "latency");
    assert_string_equal(o[1].expression, "main.cpu * main.replicas");
    assert_int_equal(s->prefer.count, 2);
    assert_float_equal(study_settings_min_feasibility(s), 0.9, 0);
    settings_free(&study_local_schema, s);
    yaml_documents_free(&docs);
    diags_free(&diags);
    /* one entry is the same as objective:; no safety is 0 */
    s = load("objectives: [{metric: latency, goal: minimize}]\n", &docs, &diags);
    assert_non_null(s);
    assert_int_equal(study_settings_objectives(s, &o), 1);
    assert_string_equal(o->metric, "latency");
    assert_float_equal(study_settings_min_feasibility(s), 0, 0);
    settings_free(&study_local_schema, s);
    yaml_documents_free(&docs);
    diags_free(&diags);
}

/* The configuration is refused with a diagnostic at `line` whose path ends in `key` and whose
 * message says `message`. */
static void expect_error(const char *yaml, int line, const char *key, const char *message)
{
    struct yaml_documents docs;
    struct servo_diags diags;
    assert_null(load(yaml, &docs, &diags));
    bool found = false;
    for (size_t i = 0; i < diags.count && !found; i++) {
        const struct servo_diag *d = &diags.items[i];
        size_t n = strlen(d->path), k = strlen(key);
        found = d->line == line && str_eq(d->source, "servo.yaml") && n >= k &&
                strcmp(d->path + n - k, key) == 0 && strstr(d->message, message) != NULL;
    }
    if (!found)
        diags_print(&diags, stderr, "got: ");
    assert_true(found);
    char *text = diag_format(&diags.items[0]);
    assert_non_null(strstr(text, "servo.yaml"));
    free(text);
    diags_free(&diags);
    yaml_documents_free(&docs);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("objective: {metric: a, goal: minimize}\n"
                 "objectives:\n"
                 "  - {metric: b, goal: minimize}\n"
                 "  - {metric: c, goal: minimize}\n",
                 3, "objectives", "not both");
    expect_error("budget: 3\n"
                 "objectives:\n"
                 "  - {metric: a, goal: minimize}\n"
                 "  - {metric: b, goal: minimize}\n"
                 "  - {metric: c, goal: minimize}\n"
                 "  - {metric: d, goal: minimize}\n",
                 3, "objectives", "at most 3");
    expect_error("safety: {min_feasibility: 1}\n", 1, "min_feasibility", "outside (0, 1)");
    expect_error("safety:\n  min_feasibility: 0\n", 2, "min_feasibility", "outside (0, 1)");
    expect_error("safety:\n  min_feasibility: -0.5\n", 2, "min_feasibility", "outside (0, 1)");
    expect_error("objectives:\n"
                 "  - {metric: a, goal: minimize}\n"
                 "  - {metric: b, goal: minimize}\n"
                 "prefer: [1]\n",
                 4, "prefer", "1 weights for 2 objectives");
    expect_error("objectives:\n"
                 "  - {metric: a, goal: minimize}\n"
                 "  - {metric: b}\n",
                 3, "goal", "field required");
}

/* ---- the engine ------------------------------------------------------------------------ */

static void test_engine_min_feasibility(void **state)
{
    (void)state;
    struct opt_param params[] = {
        {.name = "x", .kind = OPT_RANGE, .min = 0, .max = 1, .fixed = 0.1},
        {.name = "y", .kind = OPT_RANGE, .min = 0, .max = 1, .fixed = 0.1}};
    struct opt_space space = {params, 2};
    double out[2];
    const char *error = NULL;
    struct opt_options bad = {.min_feasibility = 1.0};
    assert_int_equal(opt_suggest(&space, 0, NULL, 0, &bad, out, NULL, &error), -1);
    assert_non_null(strstr(error, "min_feasibility"));
    /* feasible near the baseline: g = x + y - 0.5. With safety, every suggestion once the
     * baseline is feasible stays where the model is confident: no Sobol point far out. */
    struct opt_options safe = {.seed = 1, .min_feasibility = 0.9};
    double xs[12][2], gs[12];
    struct opt_trial trials[12];
    size_t violations = 0;
    for (size_t t = 0; t < 12; t++) {
        struct opt_suggestion_info info;
        assert_int_equal(opt_suggest(&space, 1, trials, t, &safe, xs[t], &info, &error), 0);
        if (t > 0) {
            assert_true(strcmp(info.strategy, "gp-cei-safe") == 0 ||
                        strcmp(info.strategy, "safe-fallback") == 0);
            assert_true(info.probability_feasible >= 0.9);
        }
        gs[t] = xs[t][0] + xs[t][1] - 0.5;
        violations += gs[t] > 0;
        trials[t] = (struct opt_trial){.x = xs[t],
                                       .status = OPT_TRIAL_OK,
                                       .objective = -(xs[t][0] + 2 * xs[t][1]),
                                       .constraints = &gs[t]};
    }
    assert_true(violations <= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dominance),      cmocka_unit_test(test_front),
        cmocka_unit_test(test_hypervolume_2d), cmocka_unit_test(test_hypervolume_3d),
        cmocka_unit_test(test_random_weights), cmocka_unit_test(test_chebyshev),
        cmocka_unit_test(test_pick),           cmocka_unit_test(test_objectives_config),
        cmocka_unit_test(test_config_errors),  cmocka_unit_test(test_engine_min_feasibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
