/* libFuzzer target for the prometheus connector's response parsers. The input is a response
 * body: parsed whole, and again fed in chunks whose size the first byte picks; both must
 * agree (same verdict, same series, labels, points). A parsed response becomes readings and
 * is encoded as the optimizer would receive it (ids and annotations must be valid text). The
 * targets parser gets the same bytes, and prom_parse_value the first line, which must agree
 * with strtod whenever it accepts a decimal. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../connectors/prometheus/internal.h"
#include "../../connectors/prometheus/response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void expect(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_prometheus: %s\n", what);
        abort();
    }
}

static void expect_same(const struct prom_response *a, const struct prom_response *b)
{
    expect(same_text(a->status, b->status) && same_text(a->error_type, b->error_type) &&
               same_text(a->error, b->error) && a->type == b->type &&
               a->has_value == b->has_value && same_double(a->value.time, b->value.time) &&
               same_double(a->value.value, b->value.value) &&
               same_text(a->string_value, b->string_value) &&
               a->warning_count == b->warning_count && a->series_count == b->series_count,
           "chunked parse differs (response)");
    for (size_t i = 0; i < a->series_count; i++) {
        const struct prom_series *x = &a->series[i], *y = &b->series[i];
        expect(x->label_count == y->label_count && x->point_count == y->point_count,
               "chunked parse differs (series)");
        for (size_t j = 0; j < x->label_count; j++)
            expect(strcmp(x->labels[j].name, y->labels[j].name) == 0 &&
                       strcmp(x->labels[j].value, y->labels[j].value) == 0,
                   "chunked parse differs (labels)");
        for (size_t j = 0; j < x->point_count; j++)
            expect(same_double(x->points[j].time, y->points[j].time) &&
                       same_double(x->points[j].value, y->points[j].value),
                   "chunked parse differs (points)");
    }
}

static int parse_chunked(const char *text, size_t length, size_t chunk, struct prom_response *r)
{
    struct prom_parser *p = prom_parser_new(r);
    int rc = 0;
    for (size_t at = 0; at < length && rc == 0; at += chunk) {
        size_t n = length - at < chunk ? length - at : chunk;
        /* each chunk in its own allocation: ASan catches a read past it or a kept pointer */
        char *copy = malloc(n);
        memcpy(copy, text + at, n);
        rc = prom_parser_feed(p, copy, n);
        free(copy);
    }
    if (rc == 0)
        rc = prom_parser_finish(p);
    expect(rc == 0 || prom_parser_error(p)[0] != '\0', "a failure without a message");
    prom_parser_free(p);
    return rc;
}

static void encode(struct prom_response *r)
{
    struct prometheus_metric metric = {.name = "m", .unit = PROMETHEUS_UNIT_RPS};
    bool present;
    double scalar = prom_series_scalar(r->series, r->series_count, &present);
    expect(present || isnan(scalar), "a scalar without data");
    struct servo_measurement *m = servo_measurement_new();
    prom_add_readings(m, &metric, r);
    for (size_t i = 0; i < m->reading_count; i++)
        expect(m->readings[i].id != NULL || m->readings[i].scalar, "a series without an id");
    json_t *json = servo_measurement_to_json(m);
    expect(json != NULL, "the measurement does not encode");
    char *text = json_dumps(json, JSON_COMPACT);
    expect(text != NULL, "the measurement does not serialize");
    free(text);
    json_decref(json);
    servo_measurement_free(m);
}

static void check_value(const char *text, size_t length)
{
    size_t line = 0;
    while (line < length && line < 400 && text[line] != '\n')
        line++;
    double v;
    if (prom_parse_value(text, line, &v) != 0)
        return;
    char *copy = malloc(line + 1);
    memcpy(copy, text, line);
    copy[line] = '\0';
    bool special = strcmp(copy, "NaN") == 0 || strcmp(copy, "+Inf") == 0 ||
                   strcmp(copy, "-Inf") == 0 || strcmp(copy, "Inf") == 0;
    char *end = NULL;
    double expected = strtod(copy, &end);
    expect(special || (end == copy + line && same_double(v, expected)),
           "prom_parse_value disagrees with strtod");
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = 1 + data[0] % 64;
    const char *text = (const char *)data + 1;
    size_t length = size - 1;

    struct prom_response whole, part;
    char *error = NULL;
    int rc = prom_response_parse(text, length, &whole, &error);
    expect((rc == 0) == (error == NULL), "an error message iff a failure");
    free(error);
    int chunked = parse_chunked(text, length, chunk, &part);
    expect(rc == chunked, "chunked parse verdict differs");
    if (rc == 0) {
        expect_same(&whole, &part);
        encode(&whole);
    }
    prom_response_free(&whole);
    prom_response_free(&part);

    struct prom_targets targets;
    error = NULL;
    if (prom_targets_parse(text, length, &targets, &error) == 0)
        prom_targets_free(&targets);
    free(error);

    check_value(text, length);
    return 0;
}
