/* The optimizer engine: chooses the next settings from the history of trials.
 *
 *   1. An empty history: the baseline (the current settings).
 *   2. The initial design: scrambled Sobol points (the scramble depends on the seed only, so
 *      the design is one low-discrepancy set across calls), while fewer than 1 + design
 *      trials were run or fewer than MIN_MODEL_POINTS trials were measured.
 *   3. Gaussian-process Bayesian optimization with constrained log expected improvement
 *      (bo.c), or the tree-structured Parzen estimator (tpe.c) when the space has more than
 *      GP_MAX_DIMS tunable settings or the Gaussian process cannot be fitted.
 *
 * Everything random comes from one xoshiro256** stream seeded from (seed, history length): the
 * same inputs give the same suggestion, bit for bit. */
#include "optimizer/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/internal.h"
#include "optimizer/sobol.h"
#include "util/util.h"

#define MIN_MODEL_POINTS 3 /* measured trials before a model is fitted */
#define GP_MAX_DIMS 25     /* more tunable settings than this: TPE */
#define DESIGN_MIN 5
#define DESIGN_MAX 6
#define DESIGN_RETRIES 64 /* Sobol points skipped when they repeat a trial */
#define SEED_DESIGN UINT64_C(0x5eed0de5)
#define SEED_SEARCH UINT64_C(0x5ea4c4)

/* Automatic size of the initial design: one point per tunable setting, within [5, 6]. A small
 * design leaves more of a 30 to 60 trial budget to the model, even with 20 settings
 * (docs/optimizer.md compares sizes). */
static size_t design_size(const struct opt_options *options, size_t d)
{
    if (options != NULL && options->initial_design > 0)
        return options->initial_design;
    size_t size = d;
    return size < DESIGN_MIN ? DESIGN_MIN : size > DESIGN_MAX ? DESIGN_MAX : size;
}

static bool values_finite(const double *v, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static void data_add_trial(struct opt_data *data, const struct opt_space *space,
                           const struct opt_trial *trial, double *x)
{
    if (trial->x == NULL)
        return;
    memcpy(x, trial->x, space->count * sizeof(double));
    double *z = data->z + data->n * data->d;
    if (!opt_encode(&data->enc, x, z))
        return;
    size_t i = data->n++, c = data->constraint_count;
    bool ok = trial->status == OPT_TRIAL_OK && isfinite(trial->objective) &&
              (c == 0 || (trial->constraints != NULL && values_finite(trial->constraints, c)));
    data->ok[i] = ok;
    data->feasible[i] = ok;
    if (!ok) {
        data->failed_count++;
        return;
    }
    data->ok_count++;
    data->objective[i] = trial->objective;
    for (size_t k = 0; k < c; k++) {
        data->constraints[i * c + k] = trial->constraints[k];
        if (trial->constraints[k] > 0)
            data->feasible[i] = false;
    }
    if (data->feasible[i])
        data->feasible_count++;
}

/* Encodes and classifies the history. A trial whose settings are not numbers is ignored: it
 * cannot be placed in the space. */
static void data_init(struct opt_data *data, const struct opt_space *space, size_t constraint_count,
                      const struct opt_trial *history, size_t count)
{
    memset(data, 0, sizeof(*data));
    opt_encoding_init(&data->enc, space);
    data->d = data->enc.count;
    data->constraint_count = constraint_count;
    data->categorical = xcalloc(data->d, sizeof(bool));
    for (size_t k = 0; k < data->d; k++)
        data->categorical[k] = data->enc.dims[k].categorical;
    data->z = xcalloc(count * data->d + 1, sizeof(double));
    data->ok = xcalloc(count + 1, sizeof(bool));
    data->feasible = xcalloc(count + 1, sizeof(bool));
    data->objective = xcalloc(count + 1, sizeof(double));
    data->constraints = xcalloc(count * constraint_count + 1, sizeof(double));
    double *x = xcalloc(space->count + 1, sizeof(double));
    for (size_t i = 0; i < count; i++)
        data_add_trial(data, space, &history[i], x);
    free(x);
}

static void data_free(struct opt_data *data)
{
    opt_encoding_free(&data->enc);
    free(data->categorical);
    free(data->z);
    free(data->ok);
    free(data->feasible);
    free(data->objective);
    free(data->constraints);
}

void opt_data_snap(const struct opt_data *data, double *z)
{
    double *x = xmalloc((data->enc.space->count + 1) * sizeof(double));
    opt_snap_encoded(&data->enc, z, x);
    free(x);
}

bool opt_data_contains(const struct opt_data *data, const double *z)
{
    for (size_t i = 0; i < data->n; i++) {
        const double *other = data->z + i * data->d;
        size_t k = 0;
        while (k < data->d && fabs(other[k] - z[k]) <= 1e-12)
            k++;
        if (k == data->d)
            return true;
    }
    return false;
}

/* Design point number `index` (0-based, after the baseline), snapped. Inputs beyond the Sobol
 * table's dimensions are uniform random. */
static void design_point(const struct opt_data *data, uint64_t seed, uint64_t index, double *z)
{
    size_t d = data->d;
    double *u = xcalloc(d + 1, sizeof(double));
    struct opt_rng rng;
    opt_rng_seed(&rng, seed ^ SEED_DESIGN);
    struct opt_sobol *sobol = xmalloc(sizeof(*sobol));
    opt_sobol_init(sobol, d, &rng);
    opt_sobol_point(sobol, index, u);
    free(sobol);
    opt_rng_seed(&rng, seed ^ SEED_DESIGN ^ (index * UINT64_C(0x9e3779b97f4a7c15)));
    for (size_t k = OPT_SOBOL_MAX_DIM; k < d; k++)
        u[k] = opt_rng_uniform(&rng);
    opt_unit_to_encoded(&data->enc, u, z);
    opt_data_snap(data, z);
    free(u);
}

/* The next design point that repeats no trial (or the first one tried, in a space so small
 * that every point repeats one). */
static void design_suggestion(const struct opt_data *data, uint64_t seed, uint64_t index, double *z)
{
    double *first = xcalloc(data->d + 1, sizeof(double));
    design_point(data, seed, index, first);
    memcpy(z, first, data->d * sizeof(double));
    for (int retry = 1; retry < DESIGN_RETRIES && opt_data_contains(data, z); retry++)
        design_point(data, seed, index + (uint64_t)retry, z);
    if (opt_data_contains(data, z))
        memcpy(z, first, data->d * sizeof(double));
    free(first);
}

static uint64_t search_seed(const struct opt_options *options, size_t history_count)
{
    uint64_t state = (options ? options->seed : 0) ^ SEED_SEARCH;
    uint64_t mixed = opt_splitmix64(&state);
    state = mixed ^ (uint64_t)history_count;
    return opt_splitmix64(&state);
}

static void set_info(struct opt_suggestion_info *info, const char *strategy, double ei, double pf)
{
    if (info == NULL)
        return;
    info->strategy = strategy;
    info->expected_improvement = ei;
    info->probability_feasible = pf;
}

/* Runs the model-based strategies; returns the strategy's name. */
static const char *model_suggestion(const struct opt_data *data, uint64_t seed,
                                    struct opt_choice *choice)
{
    struct opt_rng rng;
    opt_rng_seed(&rng, seed);
    if (data->d <= GP_MAX_DIMS && opt_bo_suggest(data, &rng, choice) == 0)
        return "gp-cei";
    opt_rng_seed(&rng, seed ^ UINT64_C(0x7be));
    if (opt_tpe_suggest(data, &rng, choice) == 0)
        return "tpe";
    /* Unreachable with at least one usable trial; keep a valid answer anyway. */
    for (size_t k = 0; k < data->d; k++) {
        double u = opt_rng_uniform(&rng);
        const struct opt_dim *dim = &data->enc.dims[k];
        choice->z[k] = dim->categorical ? floor(u * (double)dim->levels) : u;
    }
    opt_data_snap(data, choice->z);
    return "random";
}

/* Safe exploration: no blind design points once something is known to be safe; the model's
 * safe candidates, or the best feasible trial again (safety.c). */
static void safe_suggestion(const struct opt_data *data, uint64_t seed, struct opt_choice *choice,
                            struct opt_suggestion_info *info)
{
    struct opt_rng rng;
    opt_rng_seed(&rng, seed);
    if (opt_bo_suggest(data, &rng, choice) == 0) {
        set_info(info, "gp-cei-safe", choice->expected_improvement, choice->probability_feasible);
        return;
    }
    opt_safety_fallback(data, choice);
    set_info(info, "safe-fallback", 0.0, 1.0);
}

int opt_suggest(const struct opt_space *space, size_t constraint_count,
                const struct opt_trial *history, size_t history_count,
                const struct opt_options *options, double *out, struct opt_suggestion_info *info,
                const char **error)
{
    set_info(info, "baseline", 0.0, 0.0);
    if (opt_space_validate(space, error) != 0)
        return -1;
    if (options != NULL && !(options->min_feasibility >= 0 && options->min_feasibility < 1)) {
        if (error != NULL)
            *error = "min_feasibility must be 0 (off) or in (0, 1)";
        return -1;
    }
    if (out == NULL || (history == NULL && history_count > 0)) {
        if (error != NULL)
            *error = "no output buffer or no history array";
        return -1;
    }
    if (history_count == 0) {
        opt_baseline(space, out);
        return 0;
    }
    struct opt_data data;
    data_init(&data, space, constraint_count, history, history_count);
    uint64_t seed = options ? options->seed : 0;
    struct opt_choice choice = {.z = xcalloc(data.d + 1, sizeof(double))};
    size_t design = design_size(options, data.d);
    data.design = design + 1;
    data.min_feasibility = options ? options->min_feasibility : 0.0;
    if (opt_safety_active(&data)) {
        safe_suggestion(&data, search_seed(options, history_count), &choice, info);
    } else if (history_count <= design || data.ok_count < MIN_MODEL_POINTS) {
        design_suggestion(&data, seed, history_count - 1, choice.z);
        set_info(info, "sobol", 0.0, 0.0);
    } else {
        const char *strategy =
            model_suggestion(&data, search_seed(options, history_count), &choice);
        set_info(info, strategy, choice.expected_improvement, choice.probability_feasible);
    }
    opt_decode(&data.enc, choice.z, out);
    free(choice.z);
    data_free(&data);
    return 0;
}
