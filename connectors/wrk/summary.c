/* wrk's summary line: finding it in the output, parsing it, and the metrics. */
#include "summary.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "servo/abi.h"
#include "servo/util.h"

#define INVALID_SUMMARY "invalid-summary"

const struct wrk_metric_def wrk_metrics[WRK_METRIC_COUNT] = {
    [WRK_METRIC_THROUGHPUT] = {"throughput", "rps"},
    [WRK_METRIC_THROUGHPUT_RPM] = {"throughput_rpm", "rpm"},
    [WRK_METRIC_ERROR_RATE] = {"error_rate", "%"},
    [WRK_METRIC_LATENCY_50TH] = {"latency_50th", "ms"},
    [WRK_METRIC_LATENCY_90TH] = {"latency_90th", "ms"},
    [WRK_METRIC_LATENCY_99TH] = {"latency_99th", "ms"},
    [WRK_METRIC_LATENCY_MAX] = {"latency_max", "ms"},
    [WRK_METRIC_LATENCY_MEAN] = {"latency_mean", "ms"},
};

/* ---- finding the line ------------------------------------------------------------------- */

static bool starts_with_marker(const char *line, size_t length)
{
    while (length > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        length--;
    }
    size_t marker = strlen(WRK_SUMMARY_MARKER);
    return length >= marker && memcmp(line, WRK_SUMMARY_MARKER, marker) == 0;
}

const char *wrk_find_summary(const char *output, size_t length, size_t *line_length)
{
    size_t end = length;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && output[start - 1] != '\n')
            start--;
        size_t n = end - start;
        if (n > 0 && output[start + n - 1] == '\r')
            n--;
        if (starts_with_marker(output + start, n)) {
            *line_length = n;
            return output + start;
        }
        end = start > 0 ? start - 1 : 0;
    }
    return NULL;
}

/* ---- parsing ---------------------------------------------------------------------------- */

static int get_count(const json_t *object, const char *key, int64_t *out, struct servo_error *error)
{
    double value = 0;
    if (servo_json_nonnegative(object, key, &value, error) != 0)
        return -1;
    if (value != floor(value) || value > 9e18)
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_SUMMARY,
                               "\"%s\" is not a whole number", key);
    *out = (int64_t)value;
    return 0;
}

static const json_t *get_object(const json_t *json, const char *key, struct servo_error *error)
{
    const json_t *object = json_object_get(json, key);
    if (!json_is_object(object))
        servo_error_set(error, SERVO_ERROR_FAILED, INVALID_SUMMARY,
                        "\"%s\" is missing or not an object", key);
    return json_is_object(object) ? object : NULL;
}

static int parse_totals(const json_t *json, struct wrk_summary *s, struct servo_error *error)
{
    if (servo_json_nonnegative(json, "duration_us", &s->duration_us, error) != 0 ||
        get_count(json, "requests", &s->requests, error) != 0 ||
        get_count(json, "bytes", &s->bytes, error) != 0 ||
        servo_json_nonnegative(json, "requests_per_sec", &s->requests_per_sec, error) != 0)
        return -1;
    s->bytes_per_sec = json_number_value(json_object_get(json, "bytes_per_sec"));
    return 0;
}

static int parse_errors(const json_t *json, struct wrk_summary *s, struct servo_error *error)
{
    const json_t *errors = get_object(json, "errors", error);
    if (errors == NULL)
        return -1;
    if (get_count(errors, "connect", &s->errors_connect, error) != 0 ||
        get_count(errors, "read", &s->errors_read, error) != 0 ||
        get_count(errors, "write", &s->errors_write, error) != 0 ||
        get_count(errors, "status", &s->errors_status, error) != 0 ||
        get_count(errors, "timeout", &s->errors_timeout, error) != 0)
        return -1;
    return 0;
}

static int parse_latency(const json_t *json, struct wrk_summary *s, struct servo_error *error)
{
    const json_t *latency = get_object(json, "latency_us", error);
    if (latency == NULL)
        return -1;
    struct {
        const char *key;
        double *value;
    } fields[] = {
        {"min", &s->latency_min},     {"max", &s->latency_max}, {"mean", &s->latency_mean},
        {"stdev", &s->latency_stdev}, {"p50", &s->latency_p50}, {"p75", &s->latency_p75},
        {"p90", &s->latency_p90},     {"p99", &s->latency_p99},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (servo_json_nonnegative(latency, fields[i].key, fields[i].value, error) != 0)
            return -1;
    return 0;
}

int wrk_summary_parse(const char *line, size_t length, struct wrk_summary *summary,
                      struct servo_error *error)
{
    memset(summary, 0, sizeof *summary);
    json_t *json = servo_json_load_object(line, length, error);
    if (json == NULL)
        return -1;
    int rc = -1;
    if (parse_totals(json, summary, error) == 0 && parse_errors(json, summary, error) == 0 &&
        parse_latency(json, summary, error) == 0)
        rc = 0;
    json_decref(json);
    return rc;
}

/* ---- metrics ---------------------------------------------------------------------------- */

double wrk_error_rate(const struct wrk_summary *s)
{
    double socket_errors =
        (double)s->errors_connect + (double)s->errors_read + (double)s->errors_write;
    double errors = socket_errors + (double)s->errors_status + (double)s->errors_timeout;
    double attempts = (double)s->requests + socket_errors;
    /* no request completed in the whole run: the load got nothing back, a total failure
     * (an error rate of 0 would look like a clean run) */
    if (attempts <= 0)
        return 100;
    double rate = 100 * errors / attempts;
    return rate > 100 ? 100 : rate;
}

/* Microseconds as milliseconds; NaN when wrk has no latency sample. */
static double latency_ms(const struct wrk_summary *s, double microseconds)
{
    if (s->latency_max <= 0)
        return NAN;
    return microseconds / 1000;
}

double wrk_metric_value(const struct wrk_summary *s, enum wrk_metric metric)
{
    switch (metric) {
    case WRK_METRIC_THROUGHPUT:
        return s->requests_per_sec;
    case WRK_METRIC_THROUGHPUT_RPM:
        return s->requests_per_sec * 60;
    case WRK_METRIC_ERROR_RATE:
        return wrk_error_rate(s);
    case WRK_METRIC_LATENCY_50TH:
        return latency_ms(s, s->latency_p50);
    case WRK_METRIC_LATENCY_90TH:
        return latency_ms(s, s->latency_p90);
    case WRK_METRIC_LATENCY_99TH:
        return latency_ms(s, s->latency_p99);
    case WRK_METRIC_LATENCY_MAX:
        return latency_ms(s, s->latency_max);
    case WRK_METRIC_LATENCY_MEAN:
        return latency_ms(s, s->latency_mean);
    case WRK_METRIC_COUNT:
        break;
    }
    return NAN;
}
