// SPDX-License-Identifier: Apache-2.0
/* Times the encoding of a measurement with many series (what `servo run` posts as
 * MEASUREMENT): servo_measurement_to_json then json_dumps, as the runner does.
 *
 *   bench_measurement [-n SERIES] [-p POINTS] [-k one|many] [-q]
 *
 * -k one: every series of one metric (ids made distinct); many: one metric per series.
 * Prints one line: series, points per series, kind, then the encode and dump times in ms. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "servo/model.h"
#include "util/util.h"

static struct servo_measurement *generate(size_t series, size_t points, bool one_metric)
{
    struct servo_measurement *m = servo_measurement_new();
    char metric[64], id[64];
    for (size_t i = 0; i < series; i++) {
        snprintf(metric, sizeof metric, one_metric ? "latency" : "metric_%zu", i);
        snprintf(id, sizeof id, "pod-%zu", i % 1000); /* repeated ids: suffixes needed */
        struct servo_reading *r = servo_measurement_series(m, metric, "ms", id);
        for (size_t k = 0; k < points; k++)
            servo_reading_add(r, 1700000000.0 + (double)k, (double)(i + k));
    }
    return m;
}

int main(int argc, char **argv)
{
    size_t series = 50000, points = 1;
    bool one_metric = true, quiet = false;
    for (int c; (c = getopt(argc, argv, "n:p:k:q")) != -1;) {
        if (c == 'n')
            series = strtoul(optarg, NULL, 10);
        else if (c == 'p')
            points = strtoul(optarg, NULL, 10);
        else if (c == 'k')
            one_metric = strcmp(optarg, "many") != 0;
        else if (c == 'q')
            quiet = true;
        else
            return 2;
    }
    struct servo_measurement *m = generate(series, points, one_metric);
    double start = clock_monotonic();
    json_t *json = servo_measurement_to_json(m);
    double encoded = clock_monotonic();
    char *text = json_dumps(json, JSON_COMPACT);
    double dumped = clock_monotonic();
    if (!quiet)
        printf("series %zu, points %zu, %s: encode %.1f ms, dump %.1f ms, %zu bytes\n", series,
               points, one_metric ? "one metric" : "a metric each", (encoded - start) * 1e3,
               (dumped - encoded) * 1e3, text ? strlen(text) : 0);
    free(text);
    json_decref(json);
    servo_measurement_free(m);
    return 0;
}
