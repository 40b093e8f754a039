#include "optimizer/minimize.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/linalg.h"
#include "util/util.h"

#define HISTORY 6          /* L-BFGS memory */
#define ARMIJO 1e-4        /* sufficient decrease */
#define MAX_BACKTRACKS 20  /* line search halvings */
#define MAX_FIRST_STEP 1.0 /* longest first step (the variables are logarithms) */

struct lbfgs {
    size_t n, used, next;
    double *s, *y, *rho; /* HISTORY pairs s = x' - x, y = g' - g, rho = 1 / y.s */
    double *alpha;
};

/* The gradient with the components that push against an active bound zeroed. */
static void project_gradient(const double *x, const double *g, const double *low,
                             const double *high, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) {
        bool at_low = x[i] <= low[i] && g[i] > 0;
        bool at_high = x[i] >= high[i] && g[i] < 0;
        out[i] = at_low || at_high ? 0.0 : g[i];
    }
}

/* Two-loop recursion (Nocedal and Wright, Algorithm 7.4): direction = -H g. */
static void lbfgs_direction(const struct lbfgs *m, const double *g, double *direction)
{
    size_t n = m->n;
    for (size_t i = 0; i < n; i++)
        direction[i] = -g[i];
    for (size_t k = 0; k < m->used; k++) {
        size_t j = (m->next + HISTORY - 1 - k) % HISTORY;
        m->alpha[j] = m->rho[j] * opt_dot(m->s + j * n, direction, n);
        for (size_t i = 0; i < n; i++)
            direction[i] -= m->alpha[j] * m->y[j * n + i];
    }
    if (m->used > 0) {
        size_t last = (m->next + HISTORY - 1) % HISTORY;
        double yy = opt_dot(m->y + last * n, m->y + last * n, n);
        double gamma = 1.0 / (m->rho[last] * yy);
        for (size_t i = 0; i < n; i++)
            direction[i] *= gamma;
    }
    for (size_t k = m->used; k-- > 0;) {
        size_t j = (m->next + HISTORY - 1 - k) % HISTORY;
        double beta = m->rho[j] * opt_dot(m->y + j * n, direction, n);
        for (size_t i = 0; i < n; i++)
            direction[i] += (m->alpha[j] - beta) * m->s[j * n + i];
    }
}

static void lbfgs_remember(struct lbfgs *m, const double *s, const double *y)
{
    double ys = opt_dot(y, s, m->n);
    if (!(ys > 1e-12))
        return; /* keeps H positive definite */
    memcpy(m->s + m->next * m->n, s, m->n * sizeof(double));
    memcpy(m->y + m->next * m->n, y, m->n * sizeof(double));
    m->rho[m->next] = 1.0 / ys;
    m->next = (m->next + 1) % HISTORY;
    if (m->used < HISTORY)
        m->used++;
}

static void clamp_to_box(double *x, const double *low, const double *high, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = fmin(fmax(x[i], low[i]), high[i]);
}

double opt_minimize(opt_objective_fn f, void *context, double *x, const double *low,
                    const double *high, size_t n, size_t iterations)
{
    struct lbfgs m = {.n = n};
    double *buffer = xcalloc(2 * HISTORY * n + 2 * HISTORY + 7 * n, sizeof(double));
    m.s = buffer;
    m.y = m.s + HISTORY * n;
    m.rho = m.y + HISTORY * n;
    m.alpha = m.rho + HISTORY;
    double *g = m.alpha + HISTORY, *pg = g + n, *direction = pg + n, *trial = direction + n;
    double *trial_g = trial + n, *s = trial_g + n, *y = s + n;

    clamp_to_box(x, low, high, n);
    double fx = f(x, g, context);
    for (size_t it = 0; it < iterations && isfinite(fx); it++) {
        project_gradient(x, g, low, high, n, pg);
        lbfgs_direction(&m, pg, direction);
        double slope = opt_dot(direction, pg, n);
        if (!(slope < 0)) { /* not a descent direction: restart from steepest descent */
            m.used = 0;
            for (size_t i = 0; i < n; i++)
                direction[i] = -pg[i];
            slope = -opt_dot(pg, pg, n);
            if (!(slope < 0))
                break;
        }
        double length = sqrt(opt_dot(direction, direction, n));
        double step = m.used == 0 && length > MAX_FIRST_STEP ? MAX_FIRST_STEP / length : 1.0;
        double ft = INFINITY;
        for (int b = 0; b < MAX_BACKTRACKS; b++, step *= 0.5) {
            for (size_t i = 0; i < n; i++)
                trial[i] = x[i] + step * direction[i];
            clamp_to_box(trial, low, high, n);
            ft = f(trial, trial_g, context);
            if (isfinite(ft) && ft <= fx + ARMIJO * step * slope)
                break;
        }
        if (!isfinite(ft) || ft > fx)
            break;
        for (size_t i = 0; i < n; i++) {
            s[i] = trial[i] - x[i];
            y[i] = trial_g[i] - g[i];
        }
        lbfgs_remember(&m, s, y);
        double improvement = fx - ft;
        memcpy(x, trial, n * sizeof(double));
        memcpy(g, trial_g, n * sizeof(double));
        fx = ft;
        if (improvement < 1e-7 * (1.0 + fabs(fx)))
            break;
    }
    free(buffer);
    return fx;
}
