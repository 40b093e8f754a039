/* The optimizer's own pseudo-random numbers: xoshiro256** seeded through splitmix64, so a
 * suggestion depends on nothing but its inputs (no libc rand(), no global state). */
#ifndef SERVO_OPTIMIZER_RNG_H
#define SERVO_OPTIMIZER_RNG_H

#include <stddef.h>
#include <stdint.h>

struct opt_rng {
    uint64_t s[4];
};

/* One step of splitmix64 (Steele, Lea and Flood 2014): also a good 64-bit mixer. */
uint64_t opt_splitmix64(uint64_t *state);
void opt_rng_seed(struct opt_rng *rng, uint64_t seed);
uint64_t opt_rng_next(struct opt_rng *rng);
/* Uniform in [0, 1), 53 random bits. */
double opt_rng_uniform(struct opt_rng *rng);
/* Standard normal (Box-Muller, one value per call so the stream has no hidden state). */
double opt_rng_normal(struct opt_rng *rng);
/* Uniform integer in [0, n), n > 0. */
size_t opt_rng_below(struct opt_rng *rng, size_t n);

#endif
