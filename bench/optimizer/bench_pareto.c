// SPDX-License-Identifier: Apache-2.0
/* Benchmark of the optimizer with several objectives (ParEGO: a random Chebyshev
 * scalarization per suggestion, as a study with `objectives:` does) against Optuna's NSGA-II
 * and multi-objective TPE (bench/optimizer/pareto_bench.py), by hypervolume.
 *
 *   bench_pareto spec                     problems as JSON
 *   bench_pareto eval PROBLEM             reads "x1 .. xd" lines, writes "f1 .. fk" lines
 *   bench_pareto run [-s N] [-b 40,80]    the engine: one JSON line per problem, seed, budget
 *   bench_pareto hv                       reads {"method","problem","seed","points":[[f..]..]}
 *                                         lines, writes the hypervolume at each budget of -b
 *
 * Hypervolumes are of the objectives scaled by each problem's reference box (the reference
 * point is its upper corner), so 1 is the whole box. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/engine.h"
#include "optimizer/pareto.h"
#include "util/util.h"

#define MAX_D 8
#define MAX_K 3
#define MAX_BUDGETS 4

struct problem {
    const char *name;
    size_t d, k;
    struct opt_param params[MAX_D];
    void (*evaluate)(const double *x, size_t d, double *f);
    double reference[MAX_K]; /* the upper corner of the box the hypervolume is measured in */
};

static double zdt_g(const double *x, size_t d)
{
    double sum = 0;
    for (size_t i = 1; i < d; i++)
        sum += x[i];
    return 1 + 9 * sum / (double)(d - 1);
}

static void zdt1(const double *x, size_t d, double *f)
{
    double g = zdt_g(x, d);
    f[0] = x[0];
    f[1] = g * (1 - sqrt(x[0] / g));
}

static void zdt2(const double *x, size_t d, double *f)
{
    double g = zdt_g(x, d);
    f[0] = x[0];
    f[1] = g * (1 - (x[0] / g) * (x[0] / g));
}

static void dtlz2(const double *x, size_t d, double *f)
{
    double g = 0;
    for (size_t i = 2; i < d; i++)
        g += (x[i] - 0.5) * (x[i] - 0.5);
    double a = x[0] * M_PI / 2, b = x[1] * M_PI / 2;
    f[0] = (1 + g) * cos(a) * cos(b);
    f[1] = (1 + g) * cos(a) * sin(b);
    f[2] = (1 + g) * sin(a);
}

static const char *const instances[] = {"general", "compute", "memory", "burst"};

/* Cost against p95 latency of a service: cpu (cores), memory (GiB), replicas, instance type. */
static void cost_latency(const double *x, size_t d, double *f)
{
    (void)d;
    static const double speed[] = {1.0, 1.35, 0.9, 0.8}, price[] = {1.0, 1.25, 1.15, 0.7};
    size_t type = (size_t)x[3];
    double capacity = x[0] * speed[type] * x[2] * 120, load = 600;
    double rho = fmin(load / capacity, 0.995);
    double memory_penalty = x[1] < 0.5 * x[0] ? 40 * (0.5 * x[0] - x[1]) : 0;
    f[0] = x[2] * (x[0] * 3.0 + x[1] * 0.5) * price[type];
    f[1] = 20 + 30 / (1 - rho) + memory_penalty;
}

static struct problem problems[4];
static size_t problem_count;

static struct opt_param unit(const char *name)
{
    return (struct opt_param){.name = name, .kind = OPT_RANGE, .min = 0, .max = 1, .fixed = 0.5};
}

static void define_problems(void)
{
    static const char *const names[MAX_D] = {"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"};
    struct problem *p = &problems[problem_count++];
    *p = (struct problem){"zdt1", 6, 2, {{0}}, zdt1, {1.1, 11}};
    for (size_t i = 0; i < p->d; i++)
        p->params[i] = unit(names[i]);
    p = &problems[problem_count++];
    *p = (struct problem){"zdt2", 6, 2, {{0}}, zdt2, {1.1, 11}};
    for (size_t i = 0; i < p->d; i++)
        p->params[i] = unit(names[i]);
    p = &problems[problem_count++];
    *p = (struct problem){"dtlz2", 6, 3, {{0}}, dtlz2, {2.2, 2.2, 2.2}};
    for (size_t i = 0; i < p->d; i++)
        p->params[i] = unit(names[i]);
    p = &problems[problem_count++];
    *p = (struct problem){"cost-latency", 4, 2, {{0}}, cost_latency, {150, 3000}};
    p->params[0] = (struct opt_param){
        .name = "cpu", .kind = OPT_RANGE, .min = 0.25, .max = 4, .step = 0.125, .fixed = 2};
    p->params[1] = (struct opt_param){
        .name = "mem", .kind = OPT_RANGE, .min = 0.25, .max = 8, .step = 0.25, .fixed = 3};
    p->params[2] = (struct opt_param){
        .name = "replicas", .kind = OPT_RANGE, .min = 1, .max = 12, .integer = true, .fixed = 6};
    p->params[3] = (struct opt_param){
        .name = "instance", .kind = OPT_ENUM, .values = instances, .value_count = 4};
}

static const struct problem *find_problem(const char *name)
{
    for (size_t i = 0; i < problem_count; i++)
        if (strcmp(problems[i].name, name) == 0)
            return &problems[i];
    return NULL;
}

/* Hypervolume of the first n points, scaled by the reference box. */
static double scaled_hypervolume(const struct problem *p, const double *f, size_t n)
{
    double *scaled = xcalloc(n * p->k + 1, sizeof *scaled), one[MAX_K] = {1, 1, 1};
    for (size_t i = 0; i < n * p->k; i++)
        scaled[i] = f[i] / p->reference[i % p->k];
    double hv = pareto_hypervolume(scaled, NULL, n, p->k, one);
    free(scaled);
    return hv;
}

static void print_spec(void)
{
    printf("[");
    for (size_t i = 0; i < problem_count; i++) {
        const struct problem *p = &problems[i];
        printf("%s\n {\"name\": \"%s\", \"objectives\": %zu, \"params\": [", i ? "," : "", p->name,
               p->k);
        for (size_t j = 0; j < p->d; j++) {
            const struct opt_param *q = &p->params[j];
            if (q->kind == OPT_ENUM)
                printf("%s{\"name\": \"%s\", \"type\": \"enum\", \"values\": [\"general\", "
                       "\"compute\", \"memory\", \"burst\"]}",
                       j ? ", " : "", q->name);
            else
                printf("%s{\"name\": \"%s\", \"type\": \"%s\", \"min\": %.17g, \"max\": %.17g, "
                       "\"step\": %.17g}",
                       j ? ", " : "", q->name, q->integer ? "int" : "float", q->min, q->max,
                       q->step);
        }
        printf("]}");
    }
    printf("\n]\n");
}

static int eval_loop(const struct problem *p)
{
    char line[4096];
    while (fgets(line, sizeof line, stdin) != NULL) {
        double x[MAX_D], f[MAX_K];
        char *cursor = line, *end;
        for (size_t j = 0; j < p->d; j++) {
            x[j] = strtod(cursor, &end);
            if (end == cursor) {
                fprintf(stderr, "bench_pareto: eval: expected %zu values\n", p->d);
                return 1;
            }
            cursor = end;
        }
        p->evaluate(x, p->d, f);
        for (size_t j = 0; j < p->k; j++)
            printf("%s%.17g", j ? " " : "", f[j]);
        printf("\n");
        fflush(stdout);
    }
    return 0;
}

/* ParEGO over the engine: at trial t, the objectives scaled over the trials so far and
 * combined with weights drawn from (seed, t), as study_pareto.c does for a study. */
static void run_engine(const struct problem *p, uint64_t seed, size_t budget, double *f)
{
    struct opt_trial *trials = xcalloc(budget, sizeof *trials);
    double *xs = xcalloc(budget * p->d, sizeof *xs), *scalar = xcalloc(budget + 1, sizeof *scalar);
    struct opt_space space = {.params = p->params, .count = p->d};
    struct opt_options options = {.seed = seed};
    for (size_t t = 0; t < budget; t++) {
        double weights[MAX_K];
        pareto_random_weights(seed, t, p->k, weights);
        pareto_chebyshev(f, NULL, t, p->k, weights, scalar);
        for (size_t i = 0; i < t; i++)
            trials[i].objective = scalar[i];
        const char *error = NULL;
        if (opt_suggest(&space, 0, trials, t, &options, xs + t * p->d, NULL, &error) != 0) {
            fprintf(stderr, "bench_pareto: %s\n", error);
            exit(1);
        }
        p->evaluate(xs + t * p->d, p->d, f + t * p->k);
        trials[t] = (struct opt_trial){.x = xs + t * p->d, .status = OPT_TRIAL_OK};
    }
    free(trials);
    free(xs);
    free(scalar);
}

static size_t parse_budgets(const char *text, size_t *budgets)
{
    size_t count = 0;
    char *end;
    while (count < MAX_BUDGETS) {
        budgets[count++] = strtoul(text, &end, 10);
        if (*end != ',')
            break;
        text = end + 1;
    }
    return count;
}

static int run_mode(int argc, char **argv, bool hv_only)
{
    size_t seeds = 10, budgets[MAX_BUDGETS] = {40, 80}, budget_count = 2;
    const char *names = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "s:b:p:")) != -1) {
        if (opt == 's')
            seeds = strtoul(optarg, NULL, 10);
        else if (opt == 'b')
            budget_count = parse_budgets(optarg, budgets);
        else if (opt == 'p')
            names = optarg;
        else
            return 2;
    }
    if (hv_only) {
        char line[1 << 20];
        while (fgets(line, sizeof line, stdin) != NULL) {
            json_t *r = json_loads(line, 0, NULL);
            const struct problem *p =
                find_problem(json_string_value(json_object_get(r, "problem")));
            const json_t *points = json_object_get(r, "points");
            size_t n = json_array_size(points);
            double *f = xcalloc(n * MAX_K + 1, sizeof *f);
            for (size_t i = 0; p != NULL && i < n; i++)
                for (size_t j = 0; j < p->k; j++)
                    f[i * p->k + j] =
                        json_number_value(json_array_get(json_array_get(points, i), j));
            for (size_t b = 0; p != NULL && b < budget_count; b++)
                printf("{\"method\": \"%s\", \"problem\": \"%s\", \"seed\": %lld, \"budget\": %zu, "
                       "\"hv\": %.6f}\n",
                       json_string_value(json_object_get(r, "method")), p->name,
                       json_integer_value(json_object_get(r, "seed")), budgets[b],
                       scaled_hypervolume(p, f, budgets[b] < n ? budgets[b] : n));
            free(f);
            json_decref(r);
        }
        return 0;
    }
    for (size_t i = 0; i < problem_count; i++) {
        const struct problem *p = &problems[i];
        if (names != NULL && strstr(names, p->name) == NULL)
            continue;
        size_t budget = budgets[budget_count - 1];
        double *f = xcalloc(budget * p->k, sizeof *f);
        for (size_t s = 0; s < seeds; s++) {
            run_engine(p, s, budget, f);
            for (size_t b = 0; b < budget_count; b++)
                printf("{\"method\": \"engine\", \"problem\": \"%s\", \"seed\": %zu, \"budget\": "
                       "%zu, \"hv\": %.6f}\n",
                       p->name, s, budgets[b], scaled_hypervolume(p, f, budgets[b]));
            fflush(stdout);
        }
        free(f);
    }
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
            fprintf(stderr, "bench_pareto: no problem \"%s\"\n", argv[2]);
            return 2;
        }
        return eval_loop(p);
    }
    if (argc >= 2 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "hv") == 0))
        return run_mode(argc - 1, argv + 1, strcmp(argv[1], "hv") == 0);
    fprintf(stderr, "usage: bench_pareto spec | eval PROBLEM | run [-s N] [-b 40,80] [-p P] | "
                    "hv [-b 40,80]\n");
    return 2;
}
