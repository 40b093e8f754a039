/* libFuzzer target for the vegeta connector's report parser (connectors/vegeta/report.c):
 * the input is `vegeta report -type=json -every=I` output, escape codes and all. Each line
 * goes through vegeta_reports_add_line (with and without a warmup); the whole input through
 * vegeta_strip_escapes (which must only shrink it, leave no ESC or CR behind, and change
 * nothing the second time), vegeta_report_parse and, as a string, vegeta_parse_time. Every
 * kept report must have a finite end, a success in [0, 1] and no NaN metric. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/vegeta/report.h"

static void check_report(const struct vegeta_report *r)
{
    if (!isfinite(r->end) || r->requests < 0 || !(r->success >= 0 && r->success <= 1))
        abort();
    for (int m = 0; m < VEGETA_METRIC_COUNT; m++)
        if (isnan(vegeta_metric_value(r, (enum vegeta_metric)m)))
            abort();
}

static void gather(const char *text, size_t size, double warmup_until)
{
    struct vegeta_reports reports = {.warmup_until = warmup_until};
    const char *p = text;
    const char *end = text + size;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        size_t length = (size_t)((newline ? newline : end) - p);
        char *line = strndup(p, length);
        if (line == NULL)
            abort();
        vegeta_reports_add_line(&reports, line);
        free(line);
        p = newline ? newline + 1 : end;
    }
    for (size_t i = 0; i < reports.count; i++) {
        check_report(&reports.items[i]);
        if (!(reports.items[i].end >= warmup_until))
            abort();
    }
    struct servo_measurement *m = servo_measurement_new();
    vegeta_add_readings(m, &reports, NULL);
    if (reports.count > 0 && m->reading_count != VEGETA_METRIC_COUNT)
        abort();
    servo_measurement_free(m);
    vegeta_reports_free(&reports);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    gather(text, size, -INFINITY);
    gather(text, size, 1795822372.0); /* the second recorded periodic report's end */

    struct vegeta_report report;
    struct servo_error error;
    if (vegeta_report_parse(text, size, &report, &error) == 0)
        check_report(&report);
    else if (error.message[0] == '\0')
        abort(); /* a failure always says why */
    vegeta_report_free(&report);

    double seconds = 0;
    if (vegeta_parse_time(text, &seconds) == 0 && !isfinite(seconds))
        abort();

    char *copy = malloc(size + 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t stripped = vegeta_strip_escapes(copy, size);
    if (stripped > size || memchr(copy, '\r', stripped) != NULL ||
        memchr(copy, '\033', stripped) != NULL)
        abort();
    /* stripping is idempotent */
    size_t again = vegeta_strip_escapes(copy, stripped);
    if (again != stripped)
        abort();
    free(copy);
    free(text);
    return 0;
}
