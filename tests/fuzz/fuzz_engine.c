/* libFuzzer target for the optimizer engine (opt_suggest). Its inputs come from outside: the
 * settings space from a servo's DESCRIPTION, the objective and constraint values from its
 * measurements, which can be anything a metric can be (huge, tiny, equal, NaN, infinite).
 *
 * The input is read as a little program of bytes: a space of 1 to 8 settings with bounds and
 * steps from a table of awkward numbers (or enums of up to 1,021 values), 0 to 2 constraints,
 * `min_feasibility` on or off, and a history of up to 40 trials whose settings and values come from
 * the same table or from the bytes. Whenever opt_space_validate accepts the space, opt_suggest must
 * succeed, and its suggestion must lie in the space: finite, snapped (opt_snap leaves it as it is),
 * pinned settings held. Trials can also be the engine's own suggestions, so that the model-based
 * stages (the Gaussian process, safety, the trust region) see the values where they search. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SETTINGS 8
#define MAX_TRIALS 40
/* Each suggestion fits the models, and an input must run well within libFuzzer's timeout (10 s
 * in scripts/test.sh) under the sanitizers: past this many, a trial takes the input's numbers. */
#define MAX_SUGGESTIONS 10
#define MAX_CONSTRAINTS 2

struct reader {
    const uint8_t *data;
    size_t size, at;
};

static unsigned next_byte(struct reader *r)
{
    return r->at < r->size ? r->data[r->at++] : 0;
}

static const double awkward[] = {
    0,       1,        -1,      0.5,          2,    3,        10,        0.1,
    1e-300,  -1e-300,  1e300,   -1e300,       1e6,  -1e6,     1e15,      0.25,
    DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324,     1e-9, 1.0 / 3,  4096,      9007199254740993.0,
    100,     0.001,    -0.5,    1.0000000001, NAN,  INFINITY, -INFINITY, 7,
};
#define AWKWARD_COUNT (sizeof(awkward) / sizeof(awkward[0]))

static double awkward_number(struct reader *r)
{
    return awkward[next_byte(r) % AWKWARD_COUNT];
}

/* A value: one of the awkward numbers, or a plain one spread over [-8, 8). */
static double value(struct reader *r)
{
    unsigned b = next_byte(r);
    if (b < 64)
        return awkward[b % AWKWARD_COUNT];
    return ((double)next_byte(r) - 128.0) / 16.0 + (double)b / 4096.0;
}

#define MAX_ENUM_VALUES 1021
static const char *names[MAX_ENUM_VALUES];

static struct opt_param read_param(struct reader *r)
{
    unsigned flags = next_byte(r);
    struct opt_param p = {.name = "x"};
    if (flags & 1) {
        p.kind = OPT_ENUM;
        p.values = names;
        /* 0 to 6 values (0 is invalid: validation must say so), or up to 1,021 */
        unsigned count = next_byte(r);
        p.value_count = (flags & 8) ? 1 + 4 * (size_t)count : count % 7;
        p.fixed = (double)(next_byte(r) % 8);
    } else {
        p.kind = OPT_RANGE;
        p.min = awkward_number(r);
        p.max = (flags & 8) ? p.min + awkward_number(r) : awkward_number(r);
        p.step = (flags & 16) ? awkward_number(r) : 0;
        p.integer = (flags & 4) != 0;
        p.fixed = (flags & 32) ? awkward_number(r) : p.min;
    }
    p.pinned = (flags & 2) != 0;
    return p;
}

static void crash(const char *what, const struct opt_space *space, const double *x)
{
    fprintf(stderr, "fuzz_engine: %s\n", what);
    for (size_t i = 0; x != NULL && i < space->count; i++) {
        const struct opt_param *p = &space->params[i];
        fprintf(stderr, "  %s: %.17g (min %.17g max %.17g step %.17g%s%s fixed %.17g)\n",
                p->kind == OPT_ENUM ? "enum" : "range", x[i], p->min, p->max, p->step,
                p->integer ? " integer" : "", p->pinned ? " pinned" : "", p->fixed);
    }
    abort();
}

/* An integer range's whole numbers may lie this far outside [min, max] (space.c's GRID_EPSILON):
 * [1e-9, 1e-9] holds 0. */
static double tolerance(double bound)
{
    return 1e-9 * fmax(1.0, fabs(bound));
}

static bool in_space(const struct opt_space *space, const double *x)
{
    double snapped[MAX_SETTINGS];
    memcpy(snapped, x, space->count * sizeof(double));
    opt_snap(space, snapped);
    for (size_t i = 0; i < space->count; i++) {
        const struct opt_param *p = &space->params[i];
        if (!isfinite(x[i]) || snapped[i] != x[i])
            return false;
        if (p->pinned && x[i] != p->fixed)
            return false;
        if (p->kind == OPT_ENUM && !(x[i] >= 0 && x[i] < (double)p->value_count))
            return false;
        if (p->kind == OPT_RANGE &&
            !(x[i] >= p->min - tolerance(p->min) && x[i] <= p->max + tolerance(p->max)))
            return false;
    }
    return true;
}

struct history {
    struct opt_trial trials[MAX_TRIALS];
    double x[MAX_TRIALS][MAX_SETTINGS];
    double g[MAX_TRIALS][MAX_CONSTRAINTS];
    size_t count;
};

/* The settings of a trial: the engine's own suggestion, or (suggested NULL) a point made of the
 * input's numbers, off the grid, out of bounds or NaN, which the engine must place or ignore. */
static void read_settings(struct reader *r, size_t count, const double *suggested, double *x)
{
    for (size_t i = 0; i < count; i++)
        x[i] = suggested != NULL ? suggested[i] : value(r);
}

static void read_trial(struct reader *r, struct history *h, size_t settings, size_t constraints,
                       const double *suggested)
{
    size_t t = h->count++;
    read_settings(r, settings, suggested, h->x[t]);
    unsigned kind = next_byte(r);
    for (size_t c = 0; c < constraints; c++)
        h->g[t][c] = value(r);
    h->trials[t] = (struct opt_trial){
        .x = h->x[t],
        .status = kind % 8 == 0 ? OPT_TRIAL_FAILED : OPT_TRIAL_OK,
        .objective = kind % 8 == 1 ? awkward[0] : value(r), /* 0 often: ties */
        .constraints = constraints ? h->g[t] : NULL,
    };
}

/* Asks for the next trial; it must come, and lie in the space. */
static void suggest_checked(const struct opt_space *space, size_t constraints,
                            const struct history *h, const struct opt_options *options,
                            double *suggested)
{
    struct opt_suggestion_info info = {0};
    const char *error = NULL;
    if (opt_suggest(space, constraints, h->trials, h->count, options, suggested, &info, &error) !=
        0)
        crash(error, space, NULL); /* the space is valid: there is always a suggestion */
    if (!in_space(space, suggested))
        crash("the suggestion is off the space", space, suggested);
    if (info.strategy == NULL)
        crash("the suggestion names no strategy", space, NULL);
}

static const double feasibility[] = {0, 0, 0.9, 0.5, 0.99, 1e-9, 0.999999, 0.1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t v = 0; v < MAX_ENUM_VALUES; v++)
        names[v] = "v";
    struct reader r = {data, size, 0};
    size_t settings = 1 + next_byte(&r) % MAX_SETTINGS;
    size_t constraints = next_byte(&r) % (MAX_CONSTRAINTS + 1);
    size_t trials = next_byte(&r) % (MAX_TRIALS + 1);
    struct opt_options options = {
        .seed = next_byte(&r),
        .initial_design = next_byte(&r) % 4,
        .min_feasibility = feasibility[next_byte(&r) % 8],
    };
    struct opt_param params[MAX_SETTINGS];
    for (size_t i = 0; i < settings; i++)
        params[i] = read_param(&r);
    struct opt_space space = {params, settings};
    const char *error = NULL;
    if (opt_space_validate(&space, &error) != 0) {
        if (error == NULL)
            crash("opt_space_validate failed without a message", &space, NULL);
        return 0;
    }
    struct history *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return 0;
    /* A suggestion is asked for where the input takes it as the next trial, and at the end. */
    double suggested[MAX_SETTINGS];
    size_t suggestions = 0;
    for (size_t t = 0; t < trials; t++) {
        bool own = (next_byte(&r) & 1) && suggestions++ < MAX_SUGGESTIONS;
        if (own)
            suggest_checked(&space, constraints, h, &options, suggested);
        read_trial(&r, h, settings, constraints, own ? suggested : NULL);
    }
    suggest_checked(&space, constraints, h, &options, suggested);
    free(h);
    return 0;
}
