// SPDX-License-Identifier: Apache-2.0
/* Pareto fronts, hypervolumes and scalarizations (pareto.h). */
#include "optimizer/pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/rng.h"
#include "util/util.h"

#define CHEBYSHEV_AUGMENT 0.05
#define SEED_WEIGHTS UINT64_C(0x9a4e70)

static bool counts(const bool *valid, size_t i)
{
    return valid == NULL || valid[i];
}

bool pareto_dominates(const double *a, const double *b, size_t k)
{
    bool better = false;
    for (size_t j = 0; j < k; j++) {
        if (a[j] > b[j])
            return false;
        better = better || a[j] < b[j];
    }
    return better;
}

size_t pareto_front(const double *points, const bool *valid, size_t n, size_t k, size_t *index)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!counts(valid, i))
            continue;
        bool dominated = false;
        for (size_t j = 0; j < n && !dominated; j++)
            dominated =
                j != i && counts(valid, j) && pareto_dominates(points + j * k, points + i * k, k);
        if (!dominated)
            index[count++] = i;
    }
    return count;
}

struct pair {
    double x, y;
};

static int by_x(const void *a, const void *b)
{
    const struct pair *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* The area dominated by 2-d points below the reference: sweep by x, keep the lowest y. */
static double area(struct pair *p, size_t n, double rx, double ry)
{
    qsort(p, n, sizeof *p, by_x);
    double total = 0, low = ry;
    for (size_t i = 0; i < n; i++) {
        if (p[i].y >= low)
            continue;
        total += (rx - p[i].x) * (low - p[i].y);
        low = p[i].y;
    }
    return total;
}

struct triple {
    double v[3];
};

static int by_z(const void *a, const void *b)
{
    const struct triple *p = a, *q = b;
    return (p->v[2] > q->v[2]) - (p->v[2] < q->v[2]);
}

/* 3-d: slices between successive z values, each the area of the points below it. */
static double volume(struct triple *t, size_t n, const double *r)
{
    qsort(t, n, sizeof *t, by_z);
    struct pair *p = xmalloc((n + 1) * sizeof *p);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = (struct pair){t[i].v[0], t[i].v[1]};
        double top = i + 1 < n ? t[i + 1].v[2] : r[2];
        struct pair *copy = xmalloc((i + 1) * sizeof *copy);
        memcpy(copy, p, (i + 1) * sizeof *copy);
        total += area(copy, i + 1, r[0], r[1]) * (top - t[i].v[2]);
        free(copy);
    }
    free(p);
    return total;
}

double pareto_hypervolume(const double *points, const bool *valid, size_t n, size_t k,
                          const double *reference)
{
    if (k < 1 || k > 3)
        return NAN;
    size_t m = 0;
    struct triple *t = xmalloc((n + 1) * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const double *p = points + i * k;
        bool inside = counts(valid, i);
        for (size_t j = 0; j < k && inside; j++)
            inside = isfinite(p[j]) && p[j] < reference[j];
        if (!inside)
            continue;
        for (size_t j = 0; j < 3; j++)
            t[m].v[j] = j < k ? p[j] : 0.0;
        m++;
    }
    double hv = 0;
    if (k == 1) {
        for (size_t i = 0; i < m; i++)
            hv = fmax(hv, reference[0] - t[i].v[0]);
    } else if (k == 2) {
        struct pair *p = xmalloc((m + 1) * sizeof *p);
        for (size_t i = 0; i < m; i++)
            p[i] = (struct pair){t[i].v[0], t[i].v[1]};
        hv = area(p, m, reference[0], reference[1]);
        free(p);
    } else {
        hv = volume(t, m, reference);
    }
    free(t);
    return hv;
}

void pareto_random_weights(uint64_t seed, uint64_t draw, size_t k, double *weights)
{
    uint64_t state = seed ^ SEED_WEIGHTS;
    state = opt_splitmix64(&state) ^ draw;
    struct opt_rng rng;
    opt_rng_seed(&rng, opt_splitmix64(&state));
    double sum = 0;
    for (size_t j = 0; j < k; j++) {
        weights[j] = -log(1.0 - opt_rng_uniform(&rng)); /* exponential: uniform on the simplex */
        sum += weights[j];
    }
    for (size_t j = 0; j < k; j++)
        weights[j] /= sum;
}

/* Lowest and highest value of objective j over the valid finite points. */
static void objective_range(const double *points, const bool *valid, size_t n, size_t k, size_t j,
                            double *low, double *high)
{
    *low = INFINITY;
    *high = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = points[i * k + j];
        if (!counts(valid, i) || !isfinite(v))
            continue;
        *low = fmin(*low, v);
        *high = fmax(*high, v);
    }
}

static double scaled(double v, double low, double high)
{
    return high > low ? (v - low) / (high - low) : 0.0;
}

void pareto_chebyshev(const double *points, const bool *valid, size_t n, size_t k,
                      const double *weights, double *out)
{
    double *low = xcalloc(2 * k, sizeof *low), *high = low + k;
    for (size_t j = 0; j < k; j++)
        objective_range(points, valid, n, k, j, &low[j], &high[j]);
    for (size_t i = 0; i < n; i++) {
        double worst = -INFINITY, sum = 0;
        for (size_t j = 0; j < k; j++) {
            double f = weights[j] * scaled(points[i * k + j], low[j], high[j]);
            worst = fmax(worst, f);
            sum += f;
        }
        out[i] = isfinite(worst) && isfinite(sum) ? worst + CHEBYSHEV_AUGMENT * sum : NAN;
    }
    free(low);
}

size_t pareto_pick(const double *points, const size_t *front, size_t count, size_t k,
                   const double *weights)
{
    size_t best = 0;
    double best_distance = INFINITY;
    for (size_t a = 0; a < count; a++) {
        double distance = 0;
        for (size_t j = 0; j < k; j++) {
            double low = INFINITY, high = -INFINITY;
            for (size_t b = 0; b < count; b++) {
                low = fmin(low, points[front[b] * k + j]);
                high = fmax(high, points[front[b] * k + j]);
            }
            double f = scaled(points[front[a] * k + j], low, high);
            distance += (weights ? weights[j] : 1.0) * f * f;
        }
        if (distance < best_distance) {
            best_distance = distance;
            best = a;
        }
    }
    return best;
}
