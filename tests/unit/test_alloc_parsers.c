// SPDX-License-Identifier: Apache-2.0
/* Forced allocation failures (alloc_fail.h) over the parsers of the connectors' outside input:
 * the prometheus response parser (a recorded range query, whole and fed in small chunks, then
 * turned into readings), and the vegeta report parser (a recorded report, and the recorded
 * periodic output line by line). Every run whose Nth allocation fails must end in a clean
 * error; the last one must give the normal result. */
#include "support.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fail.h"
#include "util/util.h"

#include "../../connectors/prometheus/internal.h"
#include "../../connectors/prometheus/response.h"
#include "../../connectors/vegeta/report.h"

#define FIXTURE(name) SERVO_FIXTURES "/" name

struct text {
    char *data;
    size_t size;
};

/* What a run produced, summed up without allocating (the digest is compared, not kept). */
struct digest {
    uint64_t hash;
    size_t items;
};

struct parser_case {
    struct text input;
    struct digest expected;
    bool recording; /* the run without failure: its digest becomes the expected one */
};

static struct parser_case prometheus_case, vegeta_report_case, vegeta_lines_case;

static void digest_bytes(struct digest *d, const void *data, size_t size)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < size; i++)
        d->hash = (d->hash ^ p[i]) * 1099511628211u; /* FNV-1a */
}

static void digest_text(struct digest *d, const char *text)
{
    digest_bytes(d, text != NULL ? text : "(null)", strlen(text != NULL ? text : "(null)") + 1);
}

static void digest_double(struct digest *d, double value)
{
    digest_bytes(d, &value, sizeof value);
}

static int verdict(struct parser_case *c, const struct digest *actual, char *why, size_t size)
{
    if (c->recording)
        c->expected = *actual;
    if (actual->hash == c->expected.hash && actual->items == c->expected.items)
        return 0;
    snprintf(why, size, "a different result (%zu items instead of %zu)", actual->items,
             c->expected.items);
    return 1;
}

/* ---- prometheus --------------------------------------------------------------------------- */

static void digest_response(struct digest *d, const struct prom_response *r)
{
    digest_text(d, r->status);
    digest_bytes(d, &r->type, sizeof r->type);
    for (size_t i = 0; i < r->series_count; i++) {
        const struct prom_series *s = &r->series[i];
        for (size_t j = 0; j < s->label_count; j++) {
            digest_text(d, s->labels[j].name);
            digest_text(d, s->labels[j].value);
        }
        for (size_t j = 0; j < s->point_count; j++) {
            digest_double(d, s->points[j].time);
            digest_double(d, s->points[j].value);
        }
        d->items += s->point_count;
    }
}

static void digest_measurement(struct digest *d, const struct servo_measurement *m)
{
    for (size_t i = 0; i < m->reading_count; i++) {
        const struct servo_reading *r = &m->readings[i];
        digest_text(d, r->metric);
        digest_text(d, r->id);
        for (size_t j = 0; j < r->point_count; j++)
            digest_double(d, r->points[j].value);
        d->items += r->point_count;
    }
}

/* The body fed 7 bytes at a time, as the HTTP client hands it over. */
static int parse_in_chunks(const struct text *input, struct prom_response *r, char *why,
                           size_t size)
{
    struct prom_parser *p = prom_parser_new(r);
    int rc = 0;
    for (size_t at = 0; at < input->size && rc == 0; at += 7)
        rc = prom_parser_feed(p, input->data + at, input->size - at < 7 ? input->size - at : 7);
    if (rc == 0)
        rc = prom_parser_finish(p);
    if (rc != 0)
        snprintf(why, size, "chunked: %s", prom_parser_error(p));
    prom_parser_free(p);
    return rc;
}

static int prometheus_op(void *context, char *why, size_t size)
{
    struct parser_case *c = context;
    struct digest d = {0};
    struct prom_response whole, chunked;
    char *error = NULL;
    int rc = prom_response_parse(c->input.data, c->input.size, &whole, &error);
    if (rc != 0) {
        snprintf(why, size, "%s", error != NULL ? error : "");
        free(error);
        prom_response_free(&whole);
        return -1;
    }
    digest_response(&d, &whole);
    if (parse_in_chunks(&c->input, &chunked, why, size) != 0) {
        prom_response_free(&whole);
        prom_response_free(&chunked);
        return -1;
    }
    digest_response(&d, &chunked);
    prom_response_free(&chunked);
    struct prometheus_metric metric = {.name = "throughput", .unit = PROMETHEUS_UNIT_RPS};
    struct servo_measurement *m = servo_measurement_new();
    prom_add_readings(m, &metric, &whole);
    digest_measurement(&d, m);
    servo_measurement_free(m);
    prom_response_free(&whole);
    return verdict(c, &d, why, size);
}

/* ---- vegeta ------------------------------------------------------------------------------- */

static void digest_report(struct digest *d, const struct vegeta_report *r)
{
    for (int m = 0; m < VEGETA_METRIC_COUNT; m++)
        digest_double(d, vegeta_metric_value(r, (enum vegeta_metric)m));
    digest_double(d, r->end);
    digest_text(d, r->errors);
    d->items++;
}

static int vegeta_report_op(void *context, char *why, size_t size)
{
    struct parser_case *c = context;
    struct vegeta_report report;
    struct servo_error error;
    if (vegeta_report_parse(c->input.data, c->input.size, &report, &error) != 0) {
        char *message = servo_error_format(&error);
        snprintf(why, size, "%s", message);
        free(message);
        vegeta_report_free(&report);
        return -1;
    }
    struct digest d = {0};
    digest_report(&d, &report);
    vegeta_report_free(&report);
    return verdict(c, &d, why, size);
}

/* Each line of the periodic output as the attack hands it over (a NUL-terminated copy). */
static int vegeta_lines_op(void *context, char *why, size_t size)
{
    struct parser_case *c = context;
    struct vegeta_reports reports = {.warmup_until = -INFINITY};
    char line[8192];
    for (const char *p = c->input.data, *end = p + c->input.size; p < end;) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        size_t length = (size_t)((newline != NULL ? newline : end) - p);
        snprintf(line, sizeof line, "%.*s", (int)length, p);
        vegeta_reports_add_line(&reports, line);
        p = newline != NULL ? newline + 1 : end;
    }
    if (reports.invalid > 0) {
        snprintf(why, size, "%zu lines refused, the first %s", reports.invalid,
                 reports.first_invalid);
        vegeta_reports_free(&reports);
        return -1;
    }
    struct digest d = {0};
    for (size_t i = 0; i < reports.count; i++)
        digest_report(&d, &reports.items[i]);
    struct servo_measurement *m = servo_measurement_new();
    vegeta_add_readings(m, &reports, NULL);
    digest_measurement(&d, m);
    servo_measurement_free(m);
    vegeta_reports_free(&reports);
    return verdict(c, &d, why, size);
}

/* ---- the tests ---------------------------------------------------------------------------- */

static void torture(const char *name, struct parser_case *c, const char *path, torture_op op,
                    size_t at_least_items)
{
    char *error = NULL;
    if (read_file(path, 1 << 20, &c->input.data, &c->input.size, &error) != 0)
        fail_msg("%s", error);
    char why[512] = "";
    c->recording = true;
    if (op(c, why, sizeof why) != 0)
        fail_msg("%s: the reference run failed: %s", path, why);
    c->recording = false;
    /* the fixture gives the result the test means to cover */
    assert_true(c->expected.items >= at_least_items);
    struct torture_stats stats;
    alloc_torture(name, op, c, &stats);
    free(c->input.data);
}

static void test_prometheus_response(void **state)
{
    (void)state;
    torture("prometheus response", &prometheus_case, FIXTURE("prometheus/query_range_matrix.json"),
            prometheus_op, 20);
}

static void test_vegeta_report(void **state)
{
    (void)state;
    torture("vegeta report", &vegeta_report_case, FIXTURE("vegeta/report_json_mixed.json"),
            vegeta_report_op, 1);
}

static void test_vegeta_periodic_lines(void **state)
{
    (void)state;
    torture("vegeta periodic reports", &vegeta_lines_case,
            FIXTURE("vegeta/report_json_every1s_stdout.raw"), vegeta_lines_op, 20);
}

int main(int argc, char **argv)
{
    alloc_fail_install();
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_response),
        cmocka_unit_test(test_vegeta_report),
        cmocka_unit_test(test_vegeta_periodic_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
