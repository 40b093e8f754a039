/* Sobol' low-discrepancy points in [0,1)^d, d <= OPT_SOBOL_MAX_DIM, with the Joe-Kuo
 * direction numbers and optional scrambling (a random linear matrix scramble plus a random
 * digital shift, Matousek 1998), so points stay well spread yet differ between seeds. */
#ifndef SERVO_OPTIMIZER_SOBOL_H
#define SERVO_OPTIMIZER_SOBOL_H

#include <stddef.h>
#include <stdint.h>

#include "optimizer/rng.h"

#define OPT_SOBOL_MAX_DIM 32
#define OPT_SOBOL_BITS 32

struct opt_sobol {
    size_t dim;
    uint32_t direction[OPT_SOBOL_MAX_DIM][OPT_SOBOL_BITS];
    uint32_t shift[OPT_SOBOL_MAX_DIM];
};

/* dim <= OPT_SOBOL_MAX_DIM. rng NULL: the plain (unscrambled) sequence. */
void opt_sobol_init(struct opt_sobol *sobol, size_t dim, struct opt_rng *rng);
/* Point number `index` (Gray-code order, as Antonov-Saleev) into out[0 .. dim-1]. */
void opt_sobol_point(const struct opt_sobol *sobol, uint64_t index, double *out);

#endif
