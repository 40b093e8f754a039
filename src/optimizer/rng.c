#include "optimizer/rng.h"

#include <math.h>

uint64_t opt_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void opt_rng_seed(struct opt_rng *rng, uint64_t seed)
{
    uint64_t state = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = opt_splitmix64(&state);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman and Vigna 2018). */
uint64_t opt_rng_next(struct opt_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double opt_rng_uniform(struct opt_rng *rng)
{
    return (double)(opt_rng_next(rng) >> 11) * 0x1.0p-53;
}

double opt_rng_normal(struct opt_rng *rng)
{
    double u = 1.0 - opt_rng_uniform(rng); /* (0, 1]: log(u) is finite */
    double v = opt_rng_uniform(rng);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

size_t opt_rng_below(struct opt_rng *rng, size_t n)
{
    /* The modulo bias is below 2^-40 for the small n used here. */
    return (size_t)(opt_rng_next(rng) % (uint64_t)n);
}
