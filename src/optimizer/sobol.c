#include "optimizer/sobol.h"

/* Primitive polynomials and initial direction numbers for dimensions 2..32, from Joe and Kuo,
 * "Constructing Sobol sequences with better two-dimensional projections" (2008), file
 * new-joe-kuo-6.21201: degree s, coefficients a, and m_1..m_s. Dimension 1 is the van der
 * Corput sequence (every m_k = 1). */
struct sobol_polynomial {
    unsigned degree, coefficients;
    unsigned m[7];
};

static const struct sobol_polynomial polynomials[OPT_SOBOL_MAX_DIM - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},
};

/* v_k = m_k 2^(32-k) for k <= s, then the recurrence (Bratley and Fox 1988):
 *   v_k = v_{k-s} ^ (v_{k-s} >> s) ^ XOR_{j=1}^{s-1} a_j v_{k-j}, a_j bit s-1-j of a. */
static void direction_numbers(const struct sobol_polynomial *p, uint32_t *v)
{
    unsigned s = p->degree;
    for (unsigned k = 0; k < OPT_SOBOL_BITS; k++) {
        if (k < s) {
            v[k] = (uint32_t)p->m[k] << (31 - k);
            continue;
        }
        uint32_t value = v[k - s] ^ (v[k - s] >> s);
        for (unsigned j = 1; j < s; j++)
            if ((p->coefficients >> (s - 1 - j)) & 1u)
                value ^= v[k - j];
        v[k] = value;
    }
}

/* Multiplies the direction number by a random lower-triangular bit matrix with a unit
 * diagonal, bit 31 being the first row: output bit r depends on input bits r..31. */
static uint32_t scramble(const uint32_t *rows, uint32_t v)
{
    uint32_t out = 0;
    for (unsigned r = 0; r < OPT_SOBOL_BITS; r++)
        out |= (uint32_t)__builtin_parity(rows[r] & v) << r;
    return out;
}

void opt_sobol_init(struct opt_sobol *sobol, size_t dim, struct opt_rng *rng)
{
    if (dim > OPT_SOBOL_MAX_DIM)
        dim = OPT_SOBOL_MAX_DIM;
    sobol->dim = dim;
    for (size_t d = 0; d < dim; d++) {
        uint32_t *v = sobol->direction[d];
        if (d == 0) {
            for (unsigned k = 0; k < OPT_SOBOL_BITS; k++)
                v[k] = UINT32_C(1) << (31 - k);
        } else {
            direction_numbers(&polynomials[d - 1], v);
        }
        sobol->shift[d] = 0;
        if (rng == NULL)
            continue;
        uint32_t rows[OPT_SOBOL_BITS];
        for (unsigned r = 0; r < OPT_SOBOL_BITS; r++) {
            /* Row for output bit r: bit r itself plus random more significant bits. */
            uint32_t above = r == 31 ? 0 : (uint32_t)(UINT32_MAX << (r + 1));
            rows[r] = (UINT32_C(1) << r) | ((uint32_t)opt_rng_next(rng) & above);
        }
        for (unsigned k = 0; k < OPT_SOBOL_BITS; k++)
            v[k] = scramble(rows, v[k]);
        sobol->shift[d] = (uint32_t)opt_rng_next(rng);
    }
}

void opt_sobol_point(const struct opt_sobol *sobol, uint64_t index, double *out)
{
    uint64_t gray = index ^ (index >> 1);
    for (size_t d = 0; d < sobol->dim; d++) {
        uint32_t x = sobol->shift[d];
        for (unsigned k = 0; k < OPT_SOBOL_BITS && (gray >> k) != 0; k++)
            if ((gray >> k) & 1u)
                x ^= sobol->direction[d][k];
        out[d] = ((double)x + 0.5) * 0x1.0p-32;
    }
}
