/* Parses a large Prometheus range-query response (a matrix of many series x points, 50 MB by
 * default) with the prometheus connector's streaming parser, as measure does: the body goes
 * to the parser in chunks (as libcurl's write callback delivers it), then the series become
 * readings (their points moved, not copied) and are freed.
 *
 *   bench_parse [-s MB] [-p POINTS] [-i ITERATIONS] [-c CHUNK] [-m stream|memory|jansson]
 *               [-k mixed|short|long] [-o FILE] [-q]
 *
 * The response is generated into a file first (-o, or a temporary file), never held in
 * memory. Modes:
 *   stream   each iteration reads the file CHUNK bytes at a time and feeds the parser: the
 *            body is never held, as when parsing from curl's write callback (the default);
 *   memory   the file is read into one buffer first, then fed in CHUNK pieces: the body
 *            (1x) plus what the parser builds;
 *   jansson  for comparison, json_loadb of the whole body (a document tree).
 * Values (-k): mixed (a third integers "1200", a third short decimals "1180.5", a third
 * full-precision rates "37.481259370314845"), short (integers and short decimals only) or long
 * (full precision only, the slow path of the number parser).
 *
 * Prints the response size, series and points, the wall time per parse (mean and best) and
 * the throughput in MB/s (MB = 10^6 bytes) of the mean and best, the same for the process's
 * CPU time (steadier on a shared machine), and the peak RSS of the process (getrusage
 * ru_maxrss) against the response size. Run each mode in its own process: the
 * peak RSS is the process's. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../../connectors/prometheus/internal.h"
#include "../../connectors/prometheus/response.h"

#define MB 1e6

struct options {
    double megabytes;
    int points;
    int iterations;
    size_t chunk;
    const char *mode;
    const char *kind;
    const char *output;
    bool quiet;
};

struct shape {
    size_t bytes;
    size_t series;
    size_t points;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the process: less disturbed than wall time on a busy machine. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double peak_rss_mb(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_maxrss * 1024.0 / MB; /* ru_maxrss is in KiB on Linux */
}

/* ---- the response ----------------------------------------------------------------------- */

static int write_value(FILE *f, const char *kind, size_t series, size_t k)
{
    size_t style = strcmp(kind, "long") == 0    ? 2
                   : strcmp(kind, "short") == 0 ? series % 2
                                                : series % 3;
    double x = 40.0 + 10.0 * sin((double)k * 0.01 + (double)series);
    switch (style) {
    case 0:
        return fprintf(f, "\"%zu\"", 1000 + (k * 7 + series) % 500);
    case 1:
        return fprintf(f, "\"%.1f\"", floor(x * 10) / 10);
    default:
        return fprintf(f, "\"%.17g\"", x);
    }
}

static void write_series(FILE *f, const struct options *o, size_t series)
{
    fprintf(f,
            "%s{\"metric\":{\"__name__\":\"http_requests_total\",\"code\":\"200\","
            "\"instance\":\"10.0.%zu.%zu:8080\",\"job\":\"api\",\"pod\":\"api-7d9f8-%05zu\"},"
            "\"values\":[",
            series ? "," : "", series / 250, series % 250, series);
    for (int k = 0; k < o->points; k++) {
        /* a range query's grid: start + k * step, with the start's milliseconds */
        fprintf(f, "%s[%.3f,", k ? "," : "", 1795827284.314 + 15.0 * k);
        write_value(f, o->kind, series, (size_t)k);
        fputc(']', f);
    }
    fputs("]}", f);
}

static struct shape generate(const struct options *o, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    struct shape shape = {0, 0, 0};
    fputs("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[", f);
    while ((double)ftell(f) < o->megabytes * MB) {
        write_series(f, o, shape.series++);
        shape.points += (size_t)o->points;
    }
    fputs("]}}", f);
    shape.bytes = (size_t)ftell(f);
    fclose(f);
    return shape;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* Turns the response into readings, as measure does, and frees everything. */
static void consume(struct prom_response *r, size_t *series, size_t *points)
{
    struct prometheus_metric metric = {.name = "throughput", .unit = PROMETHEUS_UNIT_RPS};
    struct servo_measurement *m = servo_measurement_new();
    prom_add_readings(m, &metric, r);
    *series = m->reading_count;
    *points = 0;
    for (size_t i = 0; i < m->reading_count; i++)
        *points += m->readings[i].point_count;
    servo_measurement_free(m);
    prom_response_free(r);
}

static void parse_failed(const char *what)
{
    fprintf(stderr, "bench_parse: the response does not parse: %s\n", what);
    exit(1);
}

static void parse_stream(const char *path, size_t chunk, size_t *series, size_t *points)
{
    FILE *f = fopen(path, "r");
    char *buffer = malloc(chunk);
    struct prom_response r;
    struct prom_parser *p = prom_parser_new(&r);
    size_t n;
    while ((n = fread(buffer, 1, chunk, f)) > 0)
        if (prom_parser_feed(p, buffer, n) != 0)
            parse_failed(prom_parser_error(p));
    if (prom_parser_finish(p) != 0)
        parse_failed(prom_parser_error(p));
    prom_parser_free(p);
    free(buffer);
    fclose(f);
    consume(&r, series, points);
}

static void parse_memory(const char *body, size_t length, size_t chunk, size_t *series,
                         size_t *points)
{
    struct prom_response r;
    struct prom_parser *p = prom_parser_new(&r);
    for (size_t at = 0; at < length; at += chunk) {
        size_t n = length - at < chunk ? length - at : chunk;
        if (prom_parser_feed(p, body + at, n) != 0)
            parse_failed(prom_parser_error(p));
    }
    if (prom_parser_finish(p) != 0)
        parse_failed(prom_parser_error(p));
    prom_parser_free(p);
    consume(&r, series, points);
}

static void parse_jansson(const char *body, size_t length, size_t *series, size_t *points)
{
    json_error_t je;
    json_t *root = json_loadb(body, length, 0, &je);
    if (root == NULL)
        parse_failed(je.text);
    const json_t *result = json_object_get(json_object_get(root, "data"), "result");
    *series = json_array_size(result);
    *points = 0;
    for (size_t i = 0; i < *series; i++)
        *points += json_array_size(json_object_get(json_array_get(result, i), "values"));
    json_decref(root);
}

static char *read_whole(const char *path, size_t length)
{
    FILE *f = fopen(path, "r");
    char *body = malloc(length);
    if (f == NULL || body == NULL || fread(body, 1, length, f) != length) {
        perror(path);
        exit(1);
    }
    fclose(f);
    return body;
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(void)
{
    fputs("usage: bench_parse [-s MB] [-p POINTS] [-i ITERATIONS] [-c CHUNK] "
          "[-m stream|memory|jansson] [-k mixed|short|long] [-o FILE] [-q]\n",
          stderr);
    exit(2);
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {50, 4000, 5, 16384, "stream", "mixed", NULL, false};
    int c;
    while ((c = getopt(argc, argv, "s:p:i:c:m:k:o:q")) != -1) {
        switch (c) {
        case 's':
            o.megabytes = atof(optarg);
            break;
        case 'p':
            o.points = atoi(optarg);
            break;
        case 'i':
            o.iterations = atoi(optarg);
            break;
        case 'c':
            o.chunk = (size_t)atol(optarg);
            break;
        case 'm':
            o.mode = optarg;
            break;
        case 'k':
            o.kind = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case 'q':
            o.quiet = true;
            break;
        default:
            usage();
        }
    }
    bool mode_ok = strcmp(o.mode, "stream") == 0 || strcmp(o.mode, "memory") == 0 ||
                   strcmp(o.mode, "jansson") == 0;
    bool kind_ok =
        strcmp(o.kind, "mixed") == 0 || strcmp(o.kind, "short") == 0 || strcmp(o.kind, "long") == 0;
    if (!mode_ok || !kind_ok || o.megabytes <= 0 || o.points <= 0 || o.iterations <= 0 ||
        o.chunk == 0)
        usage();
    return o;
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    char path[] = "/tmp/bench-prometheus-XXXXXX";
    const char *file = o.output;
    if (file == NULL) {
        int fd = mkstemp(path);
        if (fd < 0) {
            perror("mkstemp");
            return 1;
        }
        close(fd);
        file = path;
    }
    struct shape shape = generate(&o, file);
    char *body = strcmp(o.mode, "stream") == 0 ? NULL : read_whole(file, shape.bytes);
    double rss_before = peak_rss_mb();
    double total = 0, best = INFINITY, cpu_total = 0, cpu_best = INFINITY;
    size_t series = 0, points = 0;
    for (int i = 0; i < o.iterations; i++) {
        double started = now_seconds(), cpu_started = cpu_seconds();
        if (strcmp(o.mode, "stream") == 0)
            parse_stream(file, o.chunk, &series, &points);
        else if (strcmp(o.mode, "memory") == 0)
            parse_memory(body, shape.bytes, o.chunk, &series, &points);
        else
            parse_jansson(body, shape.bytes, &series, &points);
        double took = now_seconds() - started, cpu = cpu_seconds() - cpu_started;
        total += took;
        best = took < best ? took : best;
        cpu_total += cpu;
        cpu_best = cpu < cpu_best ? cpu : cpu_best;
    }
    double rss = peak_rss_mb();
    free(body);
    if (o.output == NULL)
        unlink(path);
    if (series != shape.series || points != shape.points) {
        fprintf(stderr, "bench_parse: parsed %zu series, %zu points; generated %zu, %zu\n", series,
                points, shape.series, shape.points);
        return 1;
    }
    if (o.quiet)
        return 0;
    double size = (double)shape.bytes / MB, mean = total / o.iterations;
    double cpu_mean = cpu_total / o.iterations;
    printf("prometheus %s parse (%s values, chunks of %zu B): %.1f MB, %zu series x %d points "
           "(%zu points)\n",
           o.mode, o.kind, o.chunk, size, shape.series, o.points, shape.points);
    printf("  time per parse: mean %.1f ms, best %.1f ms (%d iterations)\n", mean * 1e3, best * 1e3,
           o.iterations);
    printf("  throughput: mean %.0f MB/s, best %.0f MB/s\n", size / mean, size / best);
    printf("  CPU time per parse: mean %.1f ms, best %.1f ms: mean %.0f MB/s, best %.0f MB/s\n",
           cpu_mean * 1e3, cpu_best * 1e3, size / cpu_mean, size / cpu_best);
    printf("  peak RSS: %.1f MB = %.2fx the response (%.1f MB before parsing; the parsed points "
           "alone are %.1f MB)\n",
           rss, rss / size, rss_before, (double)shape.points * 16 / MB);
    return 0;
}
