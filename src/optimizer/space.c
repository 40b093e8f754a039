/* Validation, snapping and encoding of the settings space.
 *
 * Snapping a range: with step > 0 the grid is min + k*step for k = 0 .. floor((max-min)/step);
 * max itself is allowed only when it lies on the grid, otherwise the last grid point below it
 * is the highest value (servox only warns about a step that does not divide max - min). With
 * `integer` and no step the grid is the whole numbers in [min, max]. An integer range needs a
 * whole min and step. Values are rounded to the nearest grid point and clamped. A pinned
 * setting is held at `fixed` exactly; a NaN snaps to the (snapped) baseline. */
#include "optimizer/space.h"

#include <math.h>
#include <stdlib.h>

#include "util/util.h"

/* Tolerance for "max lies on the grid" and "min is whole", relative to the step. */
#define GRID_EPSILON 1e-9

static bool is_whole(double v)
{
    return fabs(v - nearbyint(v)) <= GRID_EPSILON * fmax(1.0, fabs(v));
}

/* Index of the last grid point of a stepped range. */
static double last_step_index(const struct opt_param *p)
{
    return floor((p->max - p->min) / p->step + GRID_EPSILON);
}

/* The lowest and highest values a range can take once snapped. */
static void range_bounds(const struct opt_param *p, double *low, double *high)
{
    if (p->step > 0) {
        *low = p->min;
        *high = fmin(p->max, p->min + last_step_index(p) * p->step);
    } else if (p->integer) {
        *low = ceil(p->min - GRID_EPSILON);
        *high = floor(p->max + GRID_EPSILON);
    } else {
        *low = p->min;
        *high = p->max;
    }
}

/* A range with more grid points than this is searched as a continuous one (and snapped): its
 * grid is no coarser than the search's own resolution, and the count fits a size_t. */
#define MAX_RANGE_LEVELS 1e12

static size_t range_levels(const struct opt_param *p)
{
    double levels = 0;
    if (p->step > 0) {
        levels = last_step_index(p) + 1;
    } else if (p->integer) {
        double low, high;
        range_bounds(p, &low, &high);
        levels = high - low + 1;
    }
    return levels <= MAX_RANGE_LEVELS ? (size_t)levels : 0;
}

static bool param_is_tunable(const struct opt_param *p)
{
    if (p->pinned)
        return false;
    if (p->kind == OPT_ENUM)
        return p->value_count >= 2;
    double low, high;
    range_bounds(p, &low, &high);
    return high > low;
}

static double snap_range(const struct opt_param *p, double v)
{
    double low, high;
    range_bounds(p, &low, &high);
    if (v <= low)
        return low;
    if (v >= high)
        return high;
    if (p->step > 0) {
        double k = nearbyint((v - p->min) / p->step);
        double snapped = p->min + k * p->step;
        return fmin(fmax(snapped, low), high);
    }
    if (p->integer)
        return nearbyint(v);
    return v;
}

static double snap_enum(const struct opt_param *p, double v)
{
    double last = (double)(p->value_count - 1);
    return fmin(fmax(nearbyint(v), 0.0), last);
}

/* The snapped value of an unpinned setting; NaN (or an unpinned setting's NaN baseline) goes to
 * the baseline, and a NaN baseline to the lowest value. */
static double snap_value(const struct opt_param *p, double v)
{
    if (isnan(v))
        v = isnan(p->fixed) ? -INFINITY : p->fixed;
    return p->kind == OPT_ENUM ? snap_enum(p, v) : snap_range(p, v);
}

void opt_snap(const struct opt_space *space, double *x)
{
    for (size_t i = 0; i < space->count; i++) {
        const struct opt_param *p = &space->params[i];
        x[i] = p->pinned ? p->fixed : snap_value(p, x[i]);
    }
}

void opt_baseline(const struct opt_space *space, double *x)
{
    for (size_t i = 0; i < space->count; i++)
        x[i] = space->params[i].fixed;
    opt_snap(space, x);
}

static const char *validate_range(const struct opt_param *p)
{
    if (!isfinite(p->min) || !isfinite(p->max) || !isfinite(p->step))
        return "a range setting has a min, max or step that is not a finite number";
    if (p->min > p->max)
        return "a range setting has min > max";
    if (!isfinite(p->max - p->min))
        return "a range setting is too wide: max - min is not a finite number";
    if (p->step < 0)
        return "a range setting has a negative step";
    if (p->step > 0 && p->step < (p->max - p->min) * 1e-12)
        return "a range setting has a step too small for its range";
    if (p->integer && p->step > 0 && (!is_whole(p->min) || !is_whole(p->step)))
        return "an integer range setting has a fractional min or step";
    if (p->integer && p->step == 0 && ceil(p->min - GRID_EPSILON) > floor(p->max + GRID_EPSILON))
        return "an integer range setting holds no whole number";
    if (!isfinite(p->fixed))
        return "a range setting has a value that is not a finite number";
    if (p->pinned && (p->fixed < p->min || p->fixed > p->max))
        return "a pinned range setting has a value outside its range";
    return NULL;
}

static const char *validate_enum(const struct opt_param *p)
{
    if (p->value_count == 0)
        return "an enum setting has no values";
    if (!isfinite(p->fixed))
        return "an enum setting has a value index that is not a finite number";
    if (p->pinned && (p->fixed < 0 || p->fixed > (double)(p->value_count - 1) ||
                      p->fixed != nearbyint(p->fixed)))
        return "a pinned enum setting has a value index outside its values";
    return NULL;
}

int opt_space_validate(const struct opt_space *space, const char **error)
{
    const char *why = NULL;
    if (space == NULL || (space->params == NULL && space->count > 0))
        why = "no settings space";
    size_t tunable = 0;
    for (size_t i = 0; why == NULL && space != NULL && i < space->count; i++) {
        const struct opt_param *p = &space->params[i];
        switch (p->kind) {
        case OPT_RANGE:
            why = validate_range(p);
            break;
        case OPT_ENUM:
            why = validate_enum(p);
            break;
        }
        if (p->kind != OPT_RANGE && p->kind != OPT_ENUM)
            why = "a setting has an unknown kind";
        if (why == NULL && param_is_tunable(p))
            tunable++;
    }
    if (why == NULL && tunable == 0)
        why = "no tunable settings: every setting is pinned or can take a single value";
    if (why != NULL && error != NULL)
        *error = why;
    return why == NULL ? 0 : -1;
}

void opt_encoding_init(struct opt_encoding *enc, const struct opt_space *space)
{
    enc->space = space;
    enc->count = 0;
    enc->dims = xcalloc(space->count, sizeof(*enc->dims));
    for (size_t i = 0; i < space->count; i++) {
        const struct opt_param *p = &space->params[i];
        if (!param_is_tunable(p))
            continue;
        struct opt_dim *dim = &enc->dims[enc->count++];
        dim->param = i;
        dim->categorical = p->kind == OPT_ENUM;
        if (dim->categorical) {
            dim->levels = p->value_count;
            dim->low = 0;
            dim->high = (double)(p->value_count - 1);
        } else {
            dim->levels = range_levels(p);
            range_bounds(p, &dim->low, &dim->high);
        }
    }
}

void opt_encoding_free(struct opt_encoding *enc)
{
    free(enc->dims);
    enc->dims = NULL;
}

bool opt_encode(const struct opt_encoding *enc, const double *x, double *z)
{
    for (size_t k = 0; k < enc->count; k++) {
        const struct opt_dim *dim = &enc->dims[k];
        double v = x[dim->param];
        if (isnan(v))
            return false;
        if (dim->categorical)
            z[k] = fmin(fmax(nearbyint(v), 0.0), dim->high);
        else
            z[k] = fmin(fmax((v - dim->low) / (dim->high - dim->low), 0.0), 1.0);
    }
    return true;
}

void opt_decode(const struct opt_encoding *enc, const double *z, double *x)
{
    const struct opt_space *space = enc->space;
    opt_baseline(space, x); /* pinned and single-valued settings */
    for (size_t k = 0; k < enc->count; k++) {
        const struct opt_dim *dim = &enc->dims[k];
        double v = z[k];
        if (!dim->categorical)
            v = dim->low + v * (dim->high - dim->low);
        x[dim->param] = snap_value(&space->params[dim->param], v);
    }
}

void opt_unit_to_encoded(const struct opt_encoding *enc, const double *u, double *z)
{
    for (size_t k = 0; k < enc->count; k++) {
        const struct opt_dim *dim = &enc->dims[k];
        if (dim->levels == 0) {
            z[k] = u[k];
            continue;
        }
        double level = fmin(floor(u[k] * (double)dim->levels), (double)(dim->levels - 1));
        z[k] = dim->categorical ? level : level / (double)(dim->levels - 1);
    }
}

void opt_snap_encoded(const struct opt_encoding *enc, double *z, double *x)
{
    opt_decode(enc, z, x);
    opt_encode(enc, x, z);
}
