/* The optimizer engine: a pure function from (settings space, objective, constraints,
 * history of trials, seed) to the next settings to try. No I/O, no global state, no clock:
 * the same inputs give the same suggestion, bit for bit, which makes the optimizer
 * resumable from its store, testable, and benchmarkable without a network.
 *
 * Values are in the units of the settings (cores, GiB, replicas, ...). Enum settings are
 * represented by the index of their value.
 *
 * Snapping (opt_snap, and every suggestion): a range with step > 0 takes the values
 * min + k*step, k = 0 .. floor((max - min) / step); max is reachable only when it lies on that
 * grid, otherwise the highest value is the last grid point below max. An integer range with no
 * step takes the whole numbers in [min, max]; an integer range with a step needs a whole min
 * and step. Values round to the nearest grid point and are clamped; a pinned setting is held
 * at `fixed` exactly; a NaN snaps to the snapped baseline.
 *
 * The algorithm (docs/optimizer.md): the baseline first, then a scrambled Sobol design, then
 * Gaussian-process Bayesian optimization with constrained log expected improvement (a GP per
 * constraint and one on failures), with a tree-structured Parzen estimator as the fallback for
 * more than 25 tunable settings or a GP that cannot be fitted. */
#ifndef SERVO_OPTIMIZER_ENGINE_H
#define SERVO_OPTIMIZER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opt_param_kind {
    OPT_RANGE, /* [min, max], on the grid min + k*step when step > 0 */
    OPT_ENUM,  /* one of `values`: the value is its index */
};

struct opt_param {
    const char *name; /* "component.setting" */
    enum opt_param_kind kind;
    double min, max, step;     /* RANGE; step 0: continuous */
    bool integer;              /* RANGE: whole numbers only */
    const char *const *values; /* ENUM */
    size_t value_count;
    bool pinned;  /* held at `fixed` */
    double fixed; /* the pinned (and baseline) value; an index for ENUM */
};

struct opt_space {
    const struct opt_param *params;
    size_t count;
};

enum opt_trial_status {
    OPT_TRIAL_OK,     /* measured: objective and constraint values are valid */
    OPT_TRIAL_FAILED, /* adjust or measure failed or was rejected: no values */
};

struct opt_trial {
    const double *x; /* space->count values */
    enum opt_trial_status status;
    double objective;          /* to MINIMIZE (the caller negates a maximized metric) */
    const double *constraints; /* per constraint: g(x) <= 0 means satisfied */
};

struct opt_options {
    uint64_t seed;
    size_t initial_design; /* quasi-random points after the baseline; 0: automatic */
    /* Safe exploration (safety.c): once a trial is feasible, every suggestion has a modelled
     * probability of meeting every constraint (and of not failing) of at least this, or is the
     * best feasible trial again. 0: off; otherwise in (0, 1). */
    double min_feasibility;
};

/* Diagnostics of one suggestion: which strategy produced it and what the model thought. The
 * expected improvement is in the model's units (the standardized, warped objective); both are
 * 0 when no model was used. */
struct opt_suggestion_info {
    const char *strategy; /* "baseline", "sobol", "gp-cei", "tpe", "random" */
    double expected_improvement;
    double probability_feasible;
};

/* Writes the next point (space->count values, inside the bounds, on the steps, pinned
 * values held, enums as indices) into `out`. `history` may hold failed trials (they count
 * as infeasible, never as made-up numbers); an OK trial with a NaN or infinite objective or
 * constraint counts as failed, and a trial whose settings are NULL or NaN is ignored. With an
 * empty history it returns the baseline (each parameter's `fixed`, snapped). A point equal to
 * a past trial is suggested only when the space has nothing else left. `options` may be NULL
 * (seed 0, automatic design). The random stream is seeded from (options->seed, history_count):
 * the same inputs give the same suggestion, bit for bit. Returns 0, or -1 when the space is
 * unusable or `out` is NULL (message in `error`, a static string; `out` is then untouched). */
int opt_suggest(const struct opt_space *space, size_t constraint_count,
                const struct opt_trial *history, size_t history_count,
                const struct opt_options *options, double *out, struct opt_suggestion_info *info,
                const char **error);

/* Checks a space: finite numbers, min <= max, step >= 0, a whole min and step for an integer
 * range with a step, enums non-empty, pinned values inside their range or values, and at least
 * one tunable setting (unpinned, with two values or more: a space where everything is pinned is
 * an error, "no tunable settings", not a silent baseline). An unpinned `fixed` outside the
 * range is allowed (the baseline is snapped). Returns 0, or -1 with a static message naming the
 * problem. */
int opt_space_validate(const struct opt_space *space, const char **error);

/* Snaps a point onto the space (bounds, steps, integers, enum indices, pinned values). */
void opt_snap(const struct opt_space *space, double *x);

#endif
