/* The settings space as the model sees it: every tunable setting becomes one coordinate of an
 * encoded point. A range maps linearly onto [0, 1] (its lowest and highest grid points at 0
 * and 1); an enum keeps its index, and the kernel compares enum coordinates by equality. */
#ifndef SERVO_OPTIMIZER_SPACE_H
#define SERVO_OPTIMIZER_SPACE_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/engine.h"

struct opt_dim {
    size_t param;     /* index in the space */
    bool categorical; /* an enum */
    double low, high; /* range: the lowest and highest allowed values */
    size_t levels;    /* grid points of a stepped/integer range or enum values; 0: continuous */
};

struct opt_encoding {
    const struct opt_space *space;
    size_t count; /* tunable settings */
    struct opt_dim *dims;
};

/* The space must be valid (opt_space_validate). */
void opt_encoding_init(struct opt_encoding *enc, const struct opt_space *space);
void opt_encoding_free(struct opt_encoding *enc);
/* Settings values (space->count) to an encoded point (enc->count). Returns false when a tunable
 * value is not a number; values outside the space are clamped. */
bool opt_encode(const struct opt_encoding *enc, const double *x, double *z);
/* Encoded point to snapped settings values: pinned and untunable settings take their value. */
void opt_decode(const struct opt_encoding *enc, const double *z, double *x);
/* Maps a point of the unit cube (enc->count) to an encoded point, giving each grid point or
 * enum value the same share of the cube. */
void opt_unit_to_encoded(const struct opt_encoding *enc, const double *u, double *z);
/* The baseline: every setting's `fixed` value, snapped. */
void opt_baseline(const struct opt_space *space, double *x);
/* Snaps an encoded point onto the grid (decode, then encode); `x` holds space->count values. */
void opt_snap_encoded(const struct opt_encoding *enc, double *z, double *x);

#endif
