/* The optimizer engine: a pure function from (settings space, objective, constraints,
 * history of trials, seed) to the next settings to try. No I/O, no global state, no clock:
 * the same inputs give the same suggestion, bit for bit, which makes the optimizer
 * resumable from its store, testable, and benchmarkable without a network.
 *
 * Values are in the units of the settings (cores, GiB, replicas, ...). Enum settings are
 * represented by the index of their value. */
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
    double min, max, step; /* RANGE; step 0: continuous */
    bool integer;          /* RANGE: whole numbers only */
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
    OPT_TRIAL_OK,       /* measured: objective and constraint values are valid */
    OPT_TRIAL_FAILED,   /* adjust or measure failed or was rejected: no values */
};

struct opt_trial {
    const double *x;             /* space->count values */
    enum opt_trial_status status;
    double objective;            /* to MINIMIZE (the caller negates a maximized metric) */
    const double *constraints;   /* per constraint: g(x) <= 0 means satisfied */
};

struct opt_options {
    uint64_t seed;
    size_t initial_design; /* quasi-random points after the baseline; 0: automatic */
};

/* Diagnostics of one suggestion: which strategy produced it and what the model thought. */
struct opt_suggestion_info {
    const char *strategy;   /* "baseline", "sobol", "gp-cei", "tpe", "random" */
    double expected_improvement;
    double probability_feasible;
};

/* Writes the next point (space->count values, inside the bounds, on the steps, pinned
 * values held, enums as indices) into `out`. `history` may hold failed trials (they count
 * as infeasible, never as made-up numbers). With an empty history it returns the baseline
 * (each parameter's `fixed`). Returns 0, or -1 when the space is unusable (message in
 * `error`, a static string). */
int opt_suggest(const struct opt_space *space, size_t constraint_count,
                const struct opt_trial *history, size_t history_count,
                const struct opt_options *options, double *out,
                struct opt_suggestion_info *info, const char **error);

/* Checks a space: min <= max, step >= 0 and aligned, enums non-empty, fixed values inside.
 * Returns 0, or -1 with a static message naming the problem. */
int opt_space_validate(const struct opt_space *space, const char **error);

/* Snaps a point onto the space (bounds, steps, integers, enum indices, pinned values). */
void opt_snap(const struct opt_space *space, double *x);

#endif
