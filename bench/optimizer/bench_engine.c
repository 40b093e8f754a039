/* Benchmark of the optimizer engine on standard test problems, and the single source of the
 * problem definitions for bench/optimizer/optuna_bench.py (which evaluates points through
 * `bench_engine eval`).
 *
 *   bench_engine spec                      problems as JSON (spaces, optimum, worst value,
 *                                          held_out)
 *   bench_engine eval PROBLEM              reads "key x1 .. xd" lines, writes
 *                                          "status observed true g1 .. gc" lines
 *   bench_engine run [-p P,..] [-s N] [-f FIRST] [-b 30,60] [-m P] [-c] [-H]
 *                                          runs the engine: one JSON line per run and budget
 *                                          (-m: safety.min_feasibility P, -c: constrained
 *                                          problems only; lines count the SLO violations;
 *                                          -H: the held-out problems, not the benchmark's)
 *   bench_engine time [-n 200] [-d 20] [-c 1] [-r 5]
 *                                          CPU time of one suggestion on a random history
 *
 * Scoring (score.py): the best value found is the true objective of the feasible trial with the
 * lowest observed objective (the noisy problem observes true + noise); with no feasible trial
 * it is the problem's worst value. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optimizer/engine.h"
#include "util/util.h"

#define MAX_PARAMS 20
#define MAX_CONSTRAINTS 3
#define MAX_BUDGETS 8

struct problem {
    const char *name;
    size_t count;
    struct opt_param params[MAX_PARAMS];
    size_t constraint_count;
    double noise; /* standard deviation of the observation noise */
    /* Returns 0, or -1 when the trial fails (no value); writes the true value and g <= 0. */
    int (*evaluate)(const double *x, double *value, double *constraints);
    double optimum, worst; /* known, or found by enumerating the grid */
    bool held_out;         /* run only with -H or by name (-p) */
};

static int branin(const double *x, double *value, double *g)
{
    (void)g;
    double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    double u = x[1] - b * x[0] * x[0] + c * x[0] - 6;
    *value = u * u + 10 * (1 - t) * cos(x[0]) + 10;
    return 0;
}

static int hartmann6(const double *x, double *value, double *g)
{
    (void)g;
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double sum = 0;
    for (int i = 0; i < 4; i++) {
        double inner = 0;
        for (int j = 0; j < 6; j++)
            inner += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
        sum -= alpha[i] * exp(-inner);
    }
    *value = sum;
    return 0;
}

static int rosenbrock4(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 0;
    for (int i = 0; i < 3; i++)
        sum += 100 * pow(x[i + 1] - x[i] * x[i], 2) + pow(1 - x[i], 2);
    *value = sum;
    return 0;
}

static int ackley5(const double *x, double *value, double *g)
{
    (void)g;
    double squares = 0, cosines = 0;
    for (int i = 0; i < 5; i++) {
        squares += x[i] * x[i];
        cosines += cos(2 * M_PI * x[i]);
    }
    *value = -20 * exp(-0.2 * sqrt(squares / 5)) - exp(cosines / 5) + 20 + M_E;
    return 0;
}

/* A service on `replicas` pods of `cpu` cores and `mem` GiB on one of four instance types:
 * minimize the hourly cost with the p95 latency under 60 ms at 2000 requests/s. A pod with
 * too little memory for its CPU is OOM-killed (a failed trial); one short of memory runs
 * slower (garbage collection). Latency follows an M/M/1-like 1 / (1 - utilization). */
static int cost_latency(const double *x, double *value, double *g)
{
    static const double speed[4] = {1.0, 1.5, 0.7, 1.2};      /* general, compute, burst, arm */
    static const double cpu_price[4] = {1.0, 1.35, 0.6, 0.8}; /* per core-hour */
    static const double base_ms[4] = {20, 15, 40, 30};
    double cpu = x[0], mem = x[1], replicas = x[2];
    int type = (int)x[3];
    *value = replicas * (cpu * cpu_price[type] + 0.12 * mem + 0.1);
    if (mem < 0.25 + 0.5 * cpu)
        return -1;
    double memory_factor = sqrt(fmin(1.0, mem / (0.5 + 0.75 * cpu)));
    double capacity = 250.0 * cpu * speed[type] * memory_factor;
    double rho = 2000.0 / (replicas * capacity);
    double service = 10.0 / (speed[type] * cpu * memory_factor);
    double latency = base_ms[type] + service / (1 - fmin(rho, 0.99)) + 2000 * fmax(0, rho - 0.99);
    g[0] = latency - 60.0;
    return 0;
}

/* Levy (Laguna and Marti 2005), shifted so that the optimum 0 lies at `levy_shift`, not at
 * (1, ..., 1): w = 1 + (x - shift) / 4. */
static const double levy_shift[6] = {3.1, -4.2, 6.3, -1.7, 2.4, -7.5};

static double levy(const double *x, size_t d)
{
    double w[MAX_PARAMS] = {0};
    for (size_t i = 0; i < d; i++)
        w[i] = 1 + (x[i] - levy_shift[i]) / 4;
    double s0 = sin(M_PI * w[0]), sum = s0 * s0;
    for (size_t i = 0; i + 1 < d; i++) {
        double s = sin(M_PI * w[i] + 1);
        sum += (w[i] - 1) * (w[i] - 1) * (1 + 10 * s * s);
    }
    double s = sin(2 * M_PI * w[d - 1]);
    return sum + (w[d - 1] - 1) * (w[d - 1] - 1) * (1 + s * s);
}

static int levy6(const double *x, double *value, double *g)
{
    (void)g;
    *value = levy(x, 6);
    return 0;
}

static int levy4(const double *x, double *value, double *g)
{
    (void)g;
    *value = levy(x, 4);
    return 0;
}

/* Rastrigin in 5-d, shifted to `rastrigin_shift` and rotated by a fixed orthogonal matrix, so
 * that its grid of local optima is not aligned with the axes. */
static const double rastrigin_shift[5] = {1.23, -2.71, 0.58, 3.09, -1.46};
static double rotation[5][5];

/* A fixed orthogonal matrix: Gram-Schmidt on normals from a hash (noise_for). */
static double noise_for(uint64_t key);
static void make_rotation(void)
{
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = 0; j < 5; j++)
            rotation[i][j] = noise_for(UINT64_C(777) + 5 * i + j);
        for (size_t k = 0; k < i; k++) {
            double dot = 0;
            for (size_t j = 0; j < 5; j++)
                dot += rotation[i][j] * rotation[k][j];
            for (size_t j = 0; j < 5; j++)
                rotation[i][j] -= dot * rotation[k][j];
        }
        double norm = 0;
        for (size_t j = 0; j < 5; j++)
            norm += rotation[i][j] * rotation[i][j];
        for (size_t j = 0; j < 5; j++)
            rotation[i][j] /= sqrt(norm);
    }
}

static int rastrigin5(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 50;
    for (size_t i = 0; i < 5; i++) {
        double z = 0;
        for (size_t j = 0; j < 5; j++)
            z += rotation[i][j] * (x[j] - rastrigin_shift[j]);
        sum += z * z - 10 * cos(2 * M_PI * z);
    }
    *value = sum;
    return 0;
}

/* Styblinski-Tang in 6-d on [-5, 5], shifted: each coordinate has its optimum at
 * shift - 2.903534 and a second, worse local optimum at shift + 2.746803. */
static const double tang_shift[6] = {1.5, -1.0, 0.8, 2.0, -0.5, 1.2};
#define LEVY_NOISE 0.5
#define TANG_OPTIMUM_1D (-39.16616570377142)

static int styblinski_tang6(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 0;
    for (size_t i = 0; i < 6; i++) {
        double t = x[i] - tang_shift[i];
        sum += 0.5 * (t * t * t * t - 16 * t * t + 5 * t);
    }
    *value = sum;
    return 0;
}

/* Michalewicz in 5-d on [0, pi], m = 10: steep, narrow valleys; optimum -4.687658. */
static int michalewicz5(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 0;
    for (size_t i = 0; i < 5; i++)
        sum -= sin(x[i]) * pow(sin((double)(i + 1) * x[i] * x[i] / M_PI), 20);
    *value = sum;
    return 0;
}

/* A JVM service at 1500 requests/s: `cpu` cores, `heap` GiB, `threads` workers, one of four
 * garbage collectors. Minimize the hourly cost subject to a p99 latency of at most 150 ms and
 * a longest GC pause of at most 50 ms. The live set grows with the threads; a heap under 1.1
 * times it runs out of memory (a failed trial); a heap close to it spends CPU collecting. */
static int jvm_slo(const double *x, double *value, double *g)
{
    static const double gc_cost[4] = {0.10, 0.06, 0.08, 0.12}; /* serial, parallel, g1, zgc */
    static const double gc_speed[4] = {1.0, 1.0, 0.95, 0.85};
    double cpu = x[0], heap = x[1], threads = x[2];
    int gc = (int)x[3];
    *value = 0.04 * cpu + 0.005 * heap;
    double live = 0.8 + 0.04 * threads;
    if (heap < 1.1 * live)
        return -1;
    double overhead = fmin(0.9, gc_cost[gc] * live / (heap - live));
    double effective = cpu * (1 - overhead) * gc_speed[gc];
    double capacity = fmin(300 * effective, 40 * threads);
    double rho = 1500 / capacity;
    double service = 10 / fmin(effective, threads / 4.0);
    double latency =
        service * (1 + 4.6 * fmin(rho, 0.99) / (1 - fmin(rho, 0.99))) + 2000 * fmax(0, rho - 0.99);
    static const double pause_scale[4] = {30, 12, 2, 0};
    static const double pause_base[4] = {0, 0, 8, 2};
    static const double pause_power[4] = {1.0, 0.8, 0.5, 0};
    double pause = pause_base[gc] + pause_scale[gc] * pow(heap, pause_power[gc]);
    g[0] = latency + pause - 150;
    g[1] = pause - 50;
    return 0;
}

/* The pressure vessel (Sandgren 1990): shell and head thicknesses in multiples of 0.0625 in,
 * inner radius and length continuous; minimize the cost of material, forming and welding.
 * Optimum 6059.714335 at (0.8125, 0.4375, 42.098446, 176.636596), on the boundary of g1 and
 * g3 (Coello 2000). */
static int pressure_vessel(const double *x, double *value, double *g)
{
    double ts = x[0], th = x[1], r = x[2], l = x[3];
    *value = 0.6224 * ts * r * l + 1.7781 * th * r * r + 3.1661 * ts * ts * l + 19.84 * ts * ts * r;
    g[0] = -ts + 0.0193 * r;
    g[1] = -th + 0.00954 * r;
    /* volume >= 1296000 in^3, in units of 10^5 so that the three are comparable */
    g[2] = (-M_PI * r * r * l - 4.0 / 3.0 * M_PI * r * r * r + 1296000) / 1e5;
    return 0;
}

/* 20 settings of five services: 12 continuous in [0, 10], 4 integers in 0..20 and 4 enums of
 * 4 values. A weighted, coupled quadratic bowl with ripples around an optimum 0 off the centre,
 * plus a cost per enum value that depends on the neighbouring enum. */
static const double mixed_optimum[16] = {7.3, 2.1, 5.6, 8.8, 1.4, 6.2, 3.7, 9.1,
                                         0.8, 4.4, 6.9, 2.6, 14,  3,   17,  8};
static const int mixed_best_enum[4] = {2, 0, 3, 1};

static int mixed20(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 0, t[16];
    for (size_t i = 0; i < 16; i++) {
        double scale = i < 12 ? 10.0 : 20.0;
        t[i] = (x[i] - mixed_optimum[i]) / scale;
        sum += (1 + (double)(i % 4)) * t[i] * t[i] + 0.05 * (1 - cos(4 * M_PI * t[i]));
    }
    for (size_t i = 0; i + 1 < 16; i += 2)
        sum += 2 * (t[i] - t[i + 1]) * (t[i] - t[i + 1]);
    for (size_t k = 0; k < 4; k++) {
        int level = (int)x[16 + k], next = (int)x[16 + (k + 1) % 4];
        if (level != mixed_best_enum[k])
            sum += 0.15 + (next != mixed_best_enum[(k + 1) % 4] ? 0.1 : 0.0);
    }
    *value = sum;
    return 0;
}

static struct opt_param range(const char *name, double min, double max, double step, bool integer,
                              double baseline)
{
    struct opt_param p = {.name = name,
                          .kind = OPT_RANGE,
                          .min = min,
                          .max = max,
                          .step = step,
                          .integer = integer,
                          .fixed = baseline};
    return p;
}

static const char *const instance_types[] = {"general", "compute", "burst", "arm"};

static struct problem problems[24];
static size_t problem_count;

static void add_problem(struct problem p)
{
    problems[problem_count++] = p;
}

/* Enumerates every grid point of a fully discrete problem: the optimum and the worst value. */
static void enumerate_grid(struct problem *p)
{
    size_t levels[MAX_PARAMS], total = 1;
    for (size_t i = 0; i < p->count; i++) {
        const struct opt_param *q = &p->params[i];
        levels[i] = q->kind == OPT_ENUM ? q->value_count
                                        : (size_t)floor((q->max - q->min) / q->step + 1e-9) + 1;
        total *= levels[i];
    }
    double x[MAX_PARAMS], g[MAX_CONSTRAINTS], value;
    p->optimum = INFINITY;
    p->worst = -INFINITY;
    for (size_t code = 0; code < total; code++) {
        size_t rest = code;
        for (size_t i = 0; i < p->count; i++) {
            size_t level = rest % levels[i];
            rest /= levels[i];
            const struct opt_param *q = &p->params[i];
            x[i] = q->kind == OPT_ENUM ? (double)level : q->min + (double)level * q->step;
        }
        int failed = p->evaluate(x, &value, g);
        p->worst = fmax(p->worst, value);
        bool feasible = failed == 0;
        for (size_t c = 0; c < p->constraint_count; c++)
            feasible = feasible && g[c] <= 0;
        if (feasible)
            p->optimum = fmin(p->optimum, value);
    }
}

static const char *const gc_names[] = {"serial", "parallel", "g1", "zgc"};
static const char *const tier_names[] = {"small", "medium", "large", "xlarge"};

static void add_levy(const char *name, size_t d, double noise)
{
    static const char *const names[6] = {"x1", "x2", "x3", "x4", "x5", "x6"};
    struct problem p = {.name = name,
                        .count = d,
                        .evaluate = d == 6 ? levy6 : levy4,
                        .noise = noise,
                        .optimum = 0,
                        .worst = 0};
    for (size_t i = 0; i < d; i++)
        p.params[i] = range(names[i], -10, 10, 0, false, 0);
    add_problem(p);
}

/* Hartmann-6 on the even settings of 12; the odd ones change nothing, as most settings of a
 * real service do not change what is measured. */
static int hartmann6_sparse12(const double *x, double *value, double *g)
{
    double relevant[6];
    for (int i = 0; i < 6; i++)
        relevant[i] = x[2 * i];
    return hartmann6(relevant, value, g);
}

/* The problems added for issue #13: multimodal ones in 4 to 6 dimensions with their optimum
 * off the centre and the corners, a noisy one, two more constrained ones with the optimum on
 * the constraint boundary, one with 20 settings, and one where half the settings do nothing. */
static void define_new_problems(void)
{
    static const char *const names[20] = {"x1", "x2", "x3",  "x4",  "x5",  "x6", "x7",
                                          "x8", "x9", "x10", "x11", "x12", "n1", "n2",
                                          "n3", "n4", "e1",  "e2",  "e3",  "e4"};
    struct problem p;
    add_levy("levy6", 6, 0);

    make_rotation();
    p = (struct problem){
        .name = "rastrigin5-rotated", .count = 5, .evaluate = rastrigin5, .optimum = 0};
    for (size_t i = 0; i < 5; i++)
        p.params[i] = range(names[i], -5.12, 5.12, 0, false, 0);
    add_problem(p);

    p = (struct problem){.name = "styblinski-tang6",
                         .count = 6,
                         .evaluate = styblinski_tang6,
                         .optimum = 6 * TANG_OPTIMUM_1D};
    for (size_t i = 0; i < 6; i++)
        p.params[i] = range(names[i], -5, 5, 0, false, 0);
    add_problem(p);

    p = (struct problem){
        .name = "michalewicz5", .count = 5, .evaluate = michalewicz5, .optimum = -4.687658179};
    for (size_t i = 0; i < 5; i++)
        p.params[i] = range(names[i], 0, M_PI, 0, false, M_PI / 2);
    add_problem(p);

    add_levy("levy4-noisy", 4, LEVY_NOISE);

    p = (struct problem){.name = "jvm-slo", .count = 4, .evaluate = jvm_slo, .constraint_count = 2};
    p.params[0] = range("cpu", 0.5, 8, 0.25, false, 8);
    p.params[1] = range("heap", 0.5, 16, 0.5, false, 8);
    p.params[2] = range("threads", 1, 64, 0, true, 48);
    p.params[3] = (struct opt_param){
        .name = "gc", .kind = OPT_ENUM, .values = gc_names, .value_count = 4, .fixed = 2};
    p.params[2].step = 1; /* for enumerate_grid; the same grid as no step */
    add_problem(p);
    enumerate_grid(&problems[problem_count - 1]);

    p = (struct problem){.name = "pressure-vessel",
                         .count = 4,
                         .evaluate = pressure_vessel,
                         .constraint_count = 3,
                         .optimum = 6059.714335};
    p.params[0] = range("shell", 0.0625, 6.1875, 0.0625, false, 2);
    p.params[1] = range("head", 0.0625, 6.1875, 0.0625, false, 1);
    p.params[2] = range("radius", 10, 200, 0, false, 60);
    p.params[3] = range("length", 10, 200, 0, false, 100);
    double corner[4] = {6.1875, 6.1875, 200, 200}, g[MAX_CONSTRAINTS];
    pressure_vessel(corner, &p.worst, g);
    add_problem(p);

    p = (struct problem){.name = "hartmann6-sparse12",
                         .count = 12,
                         .evaluate = hartmann6_sparse12,
                         .optimum = -3.32236801141551,
                         .worst = 0};
    for (size_t i = 0; i < 12; i++)
        p.params[i] = range(names[i], 0, 1, 0, false, 0.5);
    add_problem(p);

    p = (struct problem){.name = "mixed20", .count = 20, .evaluate = mixed20, .optimum = 0};
    for (size_t i = 0; i < 12; i++)
        p.params[i] = range(names[i], 0, 10, 0, false, 5);
    for (size_t i = 12; i < 16; i++)
        p.params[i] = range(names[i], 0, 20, 0, true, 10);
    for (size_t i = 16; i < 20; i++)
        p.params[i] = (struct opt_param){
            .name = names[i], .kind = OPT_ENUM, .values = tier_names, .value_count = 4};
    add_problem(p);
}

/* Held-out problems (`run -H`, bench/optimizer/heldout.sh): written in the twelfth round of issue
 * #13 and run once, with the engine frozen, to check that what the engine learnt from the
 * problems above carries over to problems of the same kinds that it was never tuned against:
 * two multimodal ones (Griewank, Schwefel), one in 8 dimensions, a noisy one, an integer valley
 * and a cost under a latency SLO with integer, continuous and enum settings. */
static int griewank6(const double *x, double *value, double *g)
{
    (void)g;
    static const double shift[6] = {13.7, -21.4, 8.9, 31.2, -5.6, -17.3};
    double sum = 0, prod = 1;
    for (int i = 0; i < 6; i++) {
        double t = x[i] - shift[i];
        sum += t * t / 4000;
        prod *= cos(t / sqrt(i + 1.0));
    }
    *value = sum - prod + 1;
    return 0;
}

static int schwefel4(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 4 * 418.9828872724338;
    for (int i = 0; i < 4; i++)
        sum -= x[i] * sin(sqrt(fabs(x[i])));
    *value = sum;
    return 0;
}

static int ackley8(const double *x, double *value, double *g)
{
    (void)g;
    static const double shift[8] = {2.3, -1.7, 4.1, 0.6, -3.2, 6.8, 1.1, -0.4};
    double squares = 0, cosines = 0;
    for (int i = 0; i < 8; i++) {
        double t = x[i] - shift[i];
        squares += t * t;
        cosines += cos(2 * M_PI * t);
    }
    *value = -20 * exp(-0.2 * sqrt(squares / 8)) - exp(cosines / 8) + 20 + M_E;
    return 0;
}

static int hartmann3(const double *x, double *value, double *g)
{
    (void)g;
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double a[4][3] = {{3, 10, 30}, {0.1, 10, 35}, {3, 10, 30}, {0.1, 10, 35}};
    static const double p[4][3] = {{0.3689, 0.1170, 0.2673},
                                   {0.4699, 0.4387, 0.7470},
                                   {0.1091, 0.8732, 0.5547},
                                   {0.0381, 0.5743, 0.8828}};
    double sum = 0;
    for (int i = 0; i < 4; i++) {
        double inner = 0;
        for (int j = 0; j < 3; j++)
            inner += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
        sum -= alpha[i] * exp(-inner);
    }
    *value = sum;
    return 0;
}

static int trid4(const double *x, double *value, double *g)
{
    (void)g;
    double sum = 0;
    for (int i = 0; i < 4; i++)
        sum += (x[i] - 1) * (x[i] - 1);
    for (int i = 1; i < 4; i++)
        sum -= x[i] * x[i - 1];
    *value = sum;
    return 0;
}

/* A web service: `workers` processes of `cpu` cores each, a cache of `cache` MiB, and a
 * response compression. Cost per hour; p99 latency at most 200 ms at 800 requests/s; too small
 * a cache for the workers fails (OOM). */
static int queue_slo(const double *x, double *value, double *g)
{
    static const double comp_cpu[3] = {1.0, 1.35, 1.15}; /* none, gzip, zstd: CPU per request */
    static const double comp_net[3] = {40, 12, 14};      /* ms of transfer */
    double cpu = x[0], workers = x[1], cache = x[2];
    int comp = (int)x[3];
    *value = workers * (0.9 * cpu + 0.05) + 0.0004 * cache;
    if (cache < 32 * workers)
        return -1;
    double hit = 1 - exp(-cache / 900.0);
    double work = comp_cpu[comp] * (4 + 16 * (1 - hit)); /* ms of one core per request */
    double capacity = workers * cpu * 1000 / work;
    double rho = 800 / capacity;
    double latency =
        comp_net[comp] + work / fmin(cpu, 1.0) / (1 - fmin(rho, 0.98)) + 3000 * fmax(0, rho - 0.98);
    g[0] = latency - 200;
    return 0;
}

static void define_heldout_problems(void)
{
    static const char *const names[8] = {"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"};
    struct problem p;
    p = (struct problem){.name = "ho-griewank6", .count = 6, .evaluate = griewank6, .optimum = 0};
    for (size_t i = 0; i < 6; i++)
        p.params[i] = range(names[i], -50, 50, 0, false, 0);
    add_problem(p);
    p = (struct problem){.name = "ho-schwefel4", .count = 4, .evaluate = schwefel4, .optimum = 0};
    for (size_t i = 0; i < 4; i++)
        p.params[i] = range(names[i], -500, 500, 0, false, 0);
    add_problem(p);
    p = (struct problem){
        .name = "ho-ackley8", .count = 8, .evaluate = ackley8, .optimum = 0, .worst = 22.3};
    for (size_t i = 0; i < 8; i++)
        p.params[i] = range(names[i], -5, 10, 0, false, 2.5);
    add_problem(p);
    p = (struct problem){.name = "ho-hartmann3-noisy",
                         .count = 3,
                         .evaluate = hartmann3,
                         .noise = 0.1,
                         .optimum = -3.86278214782076,
                         .worst = 0};
    for (size_t i = 0; i < 3; i++)
        p.params[i] = range(names[i], 0, 1, 0, false, 0.5);
    add_problem(p);
    /* Trid: optimum -d(d + 4)(d - 1) / 6 at x_i = i(d + 1 - i) */
    p = (struct problem){.name = "ho-trid4-int", .count = 4, .evaluate = trid4, .optimum = -16};
    for (size_t i = 0; i < 4; i++)
        p.params[i] = range(names[i], -16, 16, 1, true, 0);
    add_problem(p);
    static const char *const comp_names[] = {"none", "gzip", "zstd"};
    p = (struct problem){
        .name = "ho-queue-slo", .count = 4, .evaluate = queue_slo, .constraint_count = 1};
    p.params[0] = range("cpu", 0.1, 2, 0.1, false, 1);
    p.params[1] = range("workers", 1, 32, 1, true, 16);
    p.params[2] = range("cache", 64, 4096, 64, false, 1024);
    p.params[3] = (struct opt_param){.name = "compression",
                                     .kind = OPT_ENUM,
                                     .values = comp_names,
                                     .value_count = 3,
                                     .fixed = 0};
    add_problem(p);
    enumerate_grid(&problems[problem_count - 1]);
}

static void define_problems(void)
{
    struct problem p;
    memset(&p, 0, sizeof(p));
    p = (struct problem){.name = "branin",
                         .count = 2,
                         .evaluate = branin,
                         .optimum = 0.397887357729738,
                         .worst = 308.13};
    p.params[0] = range("x1", -5, 10, 0, false, 2.5);
    p.params[1] = range("x2", 0, 15, 0, false, 7.5);
    add_problem(p);

    p = (struct problem){.name = "hartmann6",
                         .count = 6,
                         .evaluate = hartmann6,
                         .optimum = -3.32236801141551,
                         .worst = 0};
    static const char *const hnames[6] = {"x1", "x2", "x3", "x4", "x5", "x6"};
    for (int i = 0; i < 6; i++)
        p.params[i] = range(hnames[i], 0, 1, 0, false, 0.5);
    add_problem(p);

    p = (struct problem){
        .name = "rosenbrock4-int", .count = 4, .evaluate = rosenbrock4, .optimum = 0, .worst = 0};
    for (int i = 0; i < 4; i++)
        p.params[i] = range(hnames[i], -5, 10, 1, true, 3);
    add_problem(p);

    p = (struct problem){
        .name = "ackley5", .count = 5, .evaluate = ackley5, .optimum = 0, .worst = 22.3};
    for (int i = 0; i < 5; i++)
        p.params[i] = range(hnames[i], -5, 10, 0, false, 2.5);
    add_problem(p);

    p = (struct problem){.name = "hartmann6-noisy",
                         .count = 6,
                         .evaluate = hartmann6,
                         .noise = 0.15,
                         .optimum = -3.32236801141551,
                         .worst = 0};
    for (int i = 0; i < 6; i++)
        p.params[i] = range(hnames[i], 0, 1, 0, false, 0.5);
    add_problem(p);

    p = (struct problem){
        .name = "cost-latency", .count = 4, .evaluate = cost_latency, .constraint_count = 1};
    p.params[0] = range("cpu", 0.25, 4, 0.125, false, 2);
    p.params[1] = range("mem", 0.25, 8, 0.25, false, 3);
    p.params[2] = range("replicas", 1, 12, 1, true, 6);
    p.params[3] = (struct opt_param){.name = "instance",
                                     .kind = OPT_ENUM,
                                     .values = instance_types,
                                     .value_count = 4,
                                     .fixed = 0};
    add_problem(p);
    enumerate_grid(&problems[problem_count - 1]);
    enumerate_grid(&problems[2]); /* the worst value of the Rosenbrock grid */
    define_new_problems();
    size_t first_held_out = problem_count;
    define_heldout_problems();
    for (size_t i = first_held_out; i < problem_count; i++)
        problems[i].held_out = true;
}

static struct problem *find_problem(const char *name)
{
    for (size_t i = 0; i < problem_count; i++)
        if (strcmp(problems[i].name, name) == 0)
            return &problems[i];
    return NULL;
}

/* Observation noise for (run, trial): a standard normal from a hash of the key. */
static double noise_for(uint64_t key)
{
    uint64_t s = key * UINT64_C(0x9e3779b97f4a7c15) + UINT64_C(0x632be59bd9b4e019);
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (s += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        z ^= z >> 31;
        u[i] = ((double)(z >> 11) + 0.5) * 0x1.0p-53;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
}

static uint64_t noise_key(uint64_t seed, size_t trial)
{
    return seed * 1000003u + trial;
}

/* Evaluates x: returns 0 or -1 (failed); `observed` includes the noise. */
static int observe(const struct problem *p, const double *x, uint64_t key, double *observed,
                   double *truth, double *g)
{
    int status = p->evaluate(x, truth, g);
    *observed = *truth + (p->noise > 0 ? p->noise * noise_for(key) : 0.0);
    return status;
}

static void print_spec(void)
{
    printf("[");
    for (size_t i = 0; i < problem_count; i++) {
        const struct problem *p = &problems[i];
        printf("%s\n {\"name\": \"%s\", \"optimum\": %.17g, \"worst\": %.17g, \"noise\": %g, "
               "\"constraints\": %zu, \"held_out\": %s, \"params\": [",
               i ? "," : "", p->name, p->optimum, p->worst, p->noise, p->constraint_count,
               p->held_out ? "true" : "false");
        for (size_t k = 0; k < p->count; k++) {
            const struct opt_param *q = &p->params[k];
            if (q->kind == OPT_ENUM) {
                printf("%s{\"name\": \"%s\", \"type\": \"enum\", \"values\": [", k ? ", " : "",
                       q->name);
                for (size_t v = 0; v < q->value_count; v++)
                    printf("%s\"%s\"", v ? ", " : "", q->values[v]);
                printf("], \"baseline\": %g}", q->fixed);
            } else {
                printf("%s{\"name\": \"%s\", \"type\": \"%s\", \"min\": %.17g, \"max\": %.17g, "
                       "\"step\": %.17g, \"baseline\": %.17g}",
                       k ? ", " : "", q->name, q->integer ? "int" : "float", q->min, q->max,
                       q->step, q->fixed);
            }
        }
        printf("]}");
    }
    printf("\n]\n");
}

static int eval_loop(const struct problem *p)
{
    char line[4096];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *cursor = line, *end;
        uint64_t key = strtoull(cursor, &end, 10);
        double x[MAX_PARAMS], g[MAX_CONSTRAINTS] = {0}, observed, truth;
        cursor = end;
        for (size_t k = 0; k < p->count; k++) {
            x[k] = strtod(cursor, &end);
            if (end == cursor) {
                fprintf(stderr, "bench_engine: eval: expected %zu values\n", p->count);
                return 1;
            }
            cursor = end;
        }
        int status = observe(p, x, key, &observed, &truth, g);
        printf("%s %.17g %.17g", status == 0 ? "ok" : "failed", observed, truth);
        for (size_t c = 0; c < p->constraint_count; c++)
            printf(" %.17g", g[c]);
        printf("\n");
        fflush(stdout);
    }
    return 0;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct run_result {
    double best[MAX_BUDGETS];
    size_t violations[MAX_BUDGETS]; /* measured trials that broke a constraint, so far */
    double seconds, max_seconds;
    size_t suggestions;
};

/* One optimization run of `budget` trials; best[i] is the score at budgets[i]. */
static void run_engine(const struct problem *p, uint64_t seed, double min_feasibility,
                       const size_t *budgets, size_t budget_count, struct run_result *result)
{
    size_t budget = budgets[budget_count - 1], c = p->constraint_count;
    struct opt_trial *trials = xcalloc(budget, sizeof(*trials));
    double *xs = xcalloc(budget * p->count, sizeof(double));
    double *gs = xcalloc(budget * (c + 1), sizeof(double));
    struct opt_space space = {.params = p->params, .count = p->count};
    struct opt_options options = {.seed = seed, .min_feasibility = min_feasibility};
    size_t violations = 0;
    double best_observed = INFINITY, best_true = p->worst;
    size_t next_budget = 0;
    memset(result, 0, sizeof(*result));
    for (size_t t = 0; t < budget; t++) {
        double *x = xs + t * p->count, *g = gs + t * (c + 1), truth, observed;
        const char *error = NULL;
        double start = cpu_seconds();
        if (opt_suggest(&space, c, trials, t, &options, x, NULL, &error) != 0) {
            fprintf(stderr, "bench_engine: %s\n", error);
            exit(1);
        }
        double elapsed = cpu_seconds() - start;
        result->seconds += elapsed;
        result->max_seconds = fmax(result->max_seconds, elapsed);
        result->suggestions++;
        int status = observe(p, x, noise_key(seed, t), &observed, &truth, g);
        trials[t] = (struct opt_trial){.x = x,
                                       .status = status == 0 ? OPT_TRIAL_OK : OPT_TRIAL_FAILED,
                                       .objective = observed,
                                       .constraints = g};
        bool feasible = status == 0;
        for (size_t k = 0; k < c; k++)
            feasible = feasible && g[k] <= 0;
        violations += status == 0 && !feasible ? 1 : 0;
        if (feasible && observed < best_observed) {
            best_observed = observed;
            best_true = truth;
        }
        while (next_budget < budget_count && budgets[next_budget] == t + 1) {
            result->violations[next_budget] = violations;
            result->best[next_budget++] = best_true;
        }
    }
    free(trials);
    free(xs);
    free(gs);
}

/* "30,60" -> {30, 60}, ascending (a run goes to the last one); 0 on bad input. */
static size_t parse_budgets(const char *text, size_t *budgets)
{
    size_t count = 0;
    while (count < MAX_BUDGETS) {
        char *end;
        unsigned long value = strtoul(text, &end, 10);
        if (end == text || value == 0 || (count > 0 && value <= budgets[count - 1]))
            return 0;
        budgets[count++] = value;
        if (*end == '\0')
            return count;
        if (*end != ',')
            return 0;
        text = end + 1;
    }
    return 0;
}

/* Marks in selected[] the problems named in the comma-separated `names` (names match exactly;
 * when NULL, every problem that is held out or every one that is not, as `held_out` says).
 * Returns the first name that is no problem's, or NULL (a copy, freed by the caller). */
static char *select_problems(const char *names, bool held_out, bool *selected)
{
    for (size_t i = 0; i < problem_count; i++)
        selected[i] = names == NULL && problems[i].held_out == held_out;
    if (names == NULL)
        return NULL;
    char *copy = xstrdup(names), *save = NULL, *unknown = NULL;
    for (char *name = strtok_r(copy, ",", &save); name != NULL && unknown == NULL;
         name = strtok_r(NULL, ",", &save)) {
        const struct problem *p = find_problem(name);
        if (p == NULL)
            unknown = xstrdup(name);
        else
            selected[p - problems] = true;
    }
    free(copy);
    return unknown;
}

static int run_mode(int argc, char **argv)
{
    const char *names = NULL;
    size_t seeds = 10, first = 0, budgets[MAX_BUDGETS] = {30, 60}, budget_count = 2;
    double min_feasibility = 0;    /* -m P: safe exploration (method "engine-safe") */
    bool constrained_only = false; /* -c: the problems with constraints only */
    bool held_out = false;         /* -H: the held-out problems instead of the benchmark's */
    int opt;
    while ((opt = getopt(argc, argv, "p:s:f:b:m:cH")) != -1) {
        switch (opt) {
        case 'H':
            held_out = true;
            break;
        case 'm':
            min_feasibility = strtod(optarg, NULL);
            break;
        case 'c':
            constrained_only = true;
            break;
        case 'p':
            names = optarg;
            break;
        case 's':
            seeds = strtoul(optarg, NULL, 10);
            break;
        case 'f':
            first = strtoul(optarg, NULL, 10);
            break;
        case 'b':
            budget_count = parse_budgets(optarg, budgets);
            if (budget_count == 0) {
                fprintf(stderr, "bench_engine: -b wants ascending budgets: 30,60\n");
                return 2;
            }
            break;
        default:
            return 2;
        }
    }
    bool selected[ARRAY_LEN(problems)];
    char *unknown = select_problems(names, held_out, selected);
    if (unknown != NULL) {
        fprintf(stderr, "bench_engine: -p: no problem is named \"%s\" (see bench_engine spec)\n",
                unknown);
        free(unknown);
        return 2;
    }
    for (size_t i = 0; i < problem_count; i++) {
        const struct problem *p = &problems[i];
        if (!selected[i] || (constrained_only && p->constraint_count == 0))
            continue;
        double seconds = 0, max_seconds = 0;
        size_t suggestions = 0;
        for (size_t s = first; s < first + seeds; s++) {
            struct run_result r;
            run_engine(p, s, min_feasibility, budgets, budget_count, &r);
            seconds += r.seconds;
            suggestions += r.suggestions;
            max_seconds = fmax(max_seconds, r.max_seconds);
            for (size_t b = 0; b < budget_count; b++)
                printf("{\"method\": \"%s\", \"problem\": \"%s\", \"seed\": %zu, "
                       "\"budget\": %zu, \"best\": %.17g, \"violations\": %zu}\n",
                       min_feasibility > 0 ? "engine-safe" : "engine", p->name, s, budgets[b],
                       r.best[b], r.violations[b]);
            fflush(stdout);
        }
        fprintf(stderr, "%s: %.2f ms mean, %.2f ms max CPU per suggestion\n", p->name,
                1e3 * seconds / (double)suggestions, 1e3 * max_seconds);
    }
    return 0;
}

/* CPU time of suggestions after n random trials in a space of d settings (every fourth an enum
 * of v values, 4 unless -v says otherwise; every third range stepped), with c constraints. */
static int time_mode(int argc, char **argv)
{
    size_t n = 200, d = 20, c = 1, reps = 5, values = 4;
    int opt;
    while ((opt = getopt(argc, argv, "n:d:c:r:v:")) != -1) {
        switch (opt) {
        case 'n':
            n = strtoul(optarg, NULL, 10);
            break;
        case 'd':
            d = strtoul(optarg, NULL, 10);
            break;
        case 'c':
            c = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            reps = strtoul(optarg, NULL, 10);
            break;
        case 'v':
            values = strtoul(optarg, NULL, 10);
            break;
        default:
            return 2;
        }
    }
    if (values < 2) {
        fprintf(stderr, "bench_engine: -v wants at least 2 values\n");
        return 2;
    }
    const char **names = xcalloc(values, sizeof(*names));
    for (size_t v = 0; v < values; v++)
        names[v] = v < 4 ? instance_types[v] : "other";
    struct opt_param *params = xcalloc(d, sizeof(*params));
    for (size_t k = 0; k < d; k++) {
        if (k % 4 == 3)
            params[k] = (struct opt_param){
                .name = "e", .kind = OPT_ENUM, .values = names, .value_count = values};
        else
            params[k] = range("r", 0, 10, k % 3 == 2 ? 0.5 : 0, false, 5);
    }
    struct opt_space space = {.params = params, .count = d};
    struct opt_trial *trials = xcalloc(n, sizeof(*trials));
    double *xs = xcalloc(n * d, sizeof(double)), *gs = xcalloc(n * (c + 1), sizeof(double));
    uint64_t state = 42;
    for (size_t t = 0; t < n; t++) {
        double *x = xs + t * d, sum = 0;
        for (size_t k = 0; k < d; k++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            double u = (double)(state >> 11) * 0x1.0p-53;
            x[k] = params[k].kind == OPT_ENUM ? floor(u * (double)values) : 10 * u;
            sum += (x[k] - 3) * (x[k] - 3) * (1 + (double)(k % 3));
        }
        opt_snap(&space, x);
        for (size_t k = 0; k < c; k++)
            gs[t * (c + 1) + k] = x[k] - 7;
        trials[t] = (struct opt_trial){.x = x,
                                       .status = t % 17 == 5 ? OPT_TRIAL_FAILED : OPT_TRIAL_OK,
                                       .objective = sum,
                                       .constraints = gs + t * (c + 1)};
    }
    double *out = xcalloc(d, sizeof(double)), total = 0, worst = 0;
    struct opt_suggestion_info info = {0};
    for (size_t r = 0; r < reps; r++) {
        struct opt_options options = {.seed = r};
        const char *error = NULL;
        double start = cpu_seconds();
        if (opt_suggest(&space, c, trials, n, &options, out, &info, &error) != 0) {
            fprintf(stderr, "bench_engine: %s\n", error);
            return 1;
        }
        double elapsed = cpu_seconds() - start;
        total += elapsed;
        worst = fmax(worst, elapsed);
    }
    printf("{\"trials\": %zu, \"settings\": %zu, \"constraints\": %zu, \"enum_values\": %zu, "
           "\"strategy\": \"%s\", \"mean_ms\": %.2f, \"max_ms\": %.2f}\n",
           n, d, c, values, info.strategy, 1e3 * total / (double)reps, 1e3 * worst);
    free(names);
    free(params);
    free(trials);
    free(xs);
    free(gs);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    define_problems();
    if (argc >= 2 && strcmp(argv[1], "spec") == 0) {
        print_spec();
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "eval") == 0) {
        const struct problem *p = find_problem(argv[2]);
        if (p == NULL) {
            fprintf(stderr, "bench_engine: unknown problem %s\n", argv[2]);
            return 2;
        }
        return eval_loop(p);
    }
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return run_mode(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "time") == 0)
        return time_mode(argc - 1, argv + 1);
    fprintf(stderr, "usage: bench_engine spec | eval PROBLEM | run [-p P] [-s N] [-f FIRST] "
                    "[-b 30,60] [-m P] [-c] [-H] | time [-n 200] [-d 20] [-c 1] [-r 5] [-v 4]\n");
    return 2;
}
