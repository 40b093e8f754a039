/* Times assembly_load_text on a generated configuration of many connector instances:
 * `connectors: {inst001: wait, inst002: vegeta, ...}` with a valid stanza for each. The
 * registry (built-ins only) is set up once; each iteration parses, routes, validates and frees.
 *
 *   bench_assembly [-n INSTANCES] [-i ITERATIONS] [-k wait|vegeta|prometheus|mixed] [-q]
 *
 * Prints one line: instances, kind, iterations, then mean/min/p50/p95/max per assembly in ms. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "assembly/assembly.h"
#include "assembly/registry.h"
#include "config/diag.h"
#include "util/util.h"

static const char *const kinds[] = {"wait", "vegeta", "prometheus"};

static void add_stanza(struct strbuf *sb, const char *name, const char *kind)
{
    strbuf_printf(sb, "%s:\n", name);
    if (strcmp(kind, "wait") == 0) {
        strbuf_puts(sb, "  measure_enabled: true\n");
    } else if (strcmp(kind, "vegeta") == 0) {
        strbuf_puts(sb, "  rate: 50/1s\n"
                        "  target: GET http://127.0.0.1:8080/\n");
    } else {
        strbuf_puts(sb, "  base_url: http://127.0.0.1:9090\n"
                        "  metrics:\n"
                        "  - name: throughput\n"
                        "    unit: rps\n"
                        "    query: sum(rate(http_requests_total[1m]))\n"
                        "  - name: error_rate\n"
                        "    unit: '%'\n"
                        "    query: sum(rate(http_errors_total[1m]))\n");
    }
}

static char *generate(int instances, const char *kind)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "name: bench\nconnectors:\n");
    for (int i = 1; i <= instances; i++) {
        const char *k = strcmp(kind, "mixed") == 0 ? kinds[(i - 1) % 3] : kind;
        strbuf_printf(&sb, "  inst%03d: %s\n", i, k);
    }
    for (int i = 1; i <= instances; i++) {
        char name[32];
        snprintf(name, sizeof name, "inst%03d", i);
        add_stanza(&sb, name, strcmp(kind, "mixed") == 0 ? kinds[(i - 1) % 3] : kind);
    }
    return strbuf_detach(&sb);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_assembly [-n INSTANCES] [-i ITERATIONS] "
                    "[-k wait|vegeta|prometheus|mixed] [-q]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int instances = 100, iterations = 200, c;
    const char *kind = "mixed";
    bool quiet = false;
    while ((c = getopt(argc, argv, "n:i:k:q")) != -1) {
        if (c == 'n')
            instances = atoi(optarg);
        else if (c == 'i')
            iterations = atoi(optarg);
        else if (c == 'k')
            kind = optarg;
        else if (c == 'q')
            quiet = true;
        else
            return usage();
    }
    bool known = strcmp(kind, "mixed") == 0;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
        known = known || strcmp(kind, kinds[i]) == 0;
    if (instances < 1 || instances > 999 || iterations < 1 || !known)
        return usage();

    struct servo_diags diags;
    diags_init(&diags);
    struct registry registry;
    if (registry_init(&registry, "", "", &diags) != 0) {
        diags_print(&diags, stderr, "bench_assembly: ");
        return 1;
    }
    char *text = generate(instances, kind);
    size_t length = strlen(text);
    const struct assembly_options options = {.config_file = "bench.yaml"};
    double *times = xcalloc((size_t)iterations, sizeof *times);
    int rc = 0;
    for (int i = 0; i < iterations && rc == 0; i++) {
        struct assembly a;
        double start = now_ms();
        rc = assembly_load_text(&a, &registry, text, length, "bench.yaml", &options, &diags);
        if (rc == 0 && a.count == 1 && a.servos[0].connector_count != (size_t)instances)
            rc = -1;
        if (rc == 0)
            assembly_free(&a);
        times[i] = now_ms() - start;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_assembly: the generated configuration does not load:\n");
        diags_print(&diags, stderr, "bench_assembly: ");
    } else {
        double sum = 0;
        for (int i = 0; i < iterations; i++)
            sum += times[i];
        qsort(times, (size_t)iterations, sizeof *times, compare_doubles);
        if (!quiet)
            printf("assembly of %d %s instances (%zu bytes of YAML), %d iterations: "
                   "mean %.3f ms, min %.3f ms, p50 %.3f ms, p95 %.3f ms, max %.3f ms\n",
                   instances, kind, length, iterations, sum / iterations, times[0],
                   times[iterations / 2], times[(iterations * 95) / 100], times[iterations - 1]);
    }
    free(times);
    free(text);
    diags_free(&diags);
    registry_free(&registry);
    return rc == 0 ? 0 : 1;
}
