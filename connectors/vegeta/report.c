/* vegeta's JSON reports: escape codes, RFC 3339 times, the report object, the warmup and the
 * metrics. A sample report (vegeta v12.8.4, one line):
 *
 *   {"latencies":{"total":66316947,"mean":442112,"50th":358024,"90th":470910,"95th":535406,
 *    "99th":4210931,"max":5740155,"min":267077},"bytes_in":{"total":900,"mean":6},
 *    "bytes_out":{"total":0,"mean":0},"earliest":"2026-11-27T23:32:38.663725972Z",
 *    "latest":"...","end":"2026-11-27T23:32:41.642808626Z","duration":2978786944,
 *    "wait":295710,"requests":150,"rate":50.356,"throughput":50.351,"success":1,
 *    "status_codes":{"200":150},"errors":[]} */
#include "report.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/abi.h"
#include "servo/alloc.h"
#include "servo/util.h"

#define ESC '\033'
#define BEL '\007'
/* The errors kept in a report's `errors` text. */
#define ERRORS_TEXT_MAX 480
#define INVALID_REPORT "invalid-report"

const struct vegeta_metric_def vegeta_metrics[VEGETA_METRIC_COUNT] = {
    [VEGETA_METRIC_THROUGHPUT] = {"throughput", "rpm"},
    [VEGETA_METRIC_ERROR_RATE] = {"error_rate", "%"},
    [VEGETA_METRIC_LATENCY_TOTAL] = {"latency_total", "ms"},
    [VEGETA_METRIC_LATENCY_MEAN] = {"latency_mean", "ms"},
    [VEGETA_METRIC_LATENCY_50TH] = {"latency_50th", "ms"},
    [VEGETA_METRIC_LATENCY_90TH] = {"latency_90th", "ms"},
    [VEGETA_METRIC_LATENCY_95TH] = {"latency_95th", "ms"},
    [VEGETA_METRIC_LATENCY_99TH] = {"latency_99th", "ms"},
    [VEGETA_METRIC_LATENCY_MAX] = {"latency_max", "ms"},
    [VEGETA_METRIC_LATENCY_MIN] = {"latency_min", "ms"},
};

static double milliseconds(double nanoseconds)
{
    return nanoseconds / 1e6;
}

double vegeta_metric_value(const struct vegeta_report *r, enum vegeta_metric metric)
{
    switch (metric) {
    case VEGETA_METRIC_THROUGHPUT:
        return r->throughput * 60;
    case VEGETA_METRIC_ERROR_RATE:
        return 100 - r->success * 100;
    case VEGETA_METRIC_LATENCY_TOTAL:
        return milliseconds(r->latency_total);
    case VEGETA_METRIC_LATENCY_MEAN:
        return milliseconds(r->latency_mean);
    case VEGETA_METRIC_LATENCY_50TH:
        return milliseconds(r->latency_50th);
    case VEGETA_METRIC_LATENCY_90TH:
        return milliseconds(r->latency_90th);
    case VEGETA_METRIC_LATENCY_95TH:
        return milliseconds(r->latency_95th);
    case VEGETA_METRIC_LATENCY_99TH:
        return milliseconds(r->latency_99th);
    case VEGETA_METRIC_LATENCY_MAX:
        return milliseconds(r->latency_max);
    case VEGETA_METRIC_LATENCY_MIN:
        return milliseconds(r->latency_min);
    case VEGETA_METRIC_COUNT:
        break;
    }
    return NAN;
}

/* ---- escape codes ----------------------------------------------------------------------- */

/* The end of a string sequence (OSC, DCS, SOS, PM, APC) starting at `i`: after its BEL or
 * ESC \ terminator, or the end of the text. */
static size_t skip_string_sequence(const char *text, size_t length, size_t i)
{
    while (i < length) {
        if (text[i] == BEL)
            return i + 1;
        if (text[i] == ESC && i + 1 < length && text[i + 1] == '\\')
            return i + 2;
        i++;
    }
    return length;
}

/* The end of the escape sequence whose ESC is at `i`. */
static size_t skip_escape(const char *text, size_t length, size_t i)
{
    i++; /* the ESC */
    if (i >= length)
        return length;
    unsigned char kind = (unsigned char)text[i++];
    if (kind == '[') {
        while (i < length && (unsigned char)text[i] >= 0x30 && (unsigned char)text[i] <= 0x3f)
            i++; /* parameters */
        while (i < length && (unsigned char)text[i] >= 0x20 && (unsigned char)text[i] <= 0x2f)
            i++; /* intermediates */
        if (i < length && (unsigned char)text[i] >= 0x40 && (unsigned char)text[i] <= 0x7e)
            i++; /* the final byte */
        return i;
    }
    if (kind == ']' || kind == 'P' || kind == 'X' || kind == '^' || kind == '_')
        return skip_string_sequence(text, length, i);
    /* ESC, intermediates, final: "ESC ( B", "ESC c", "ESC 7" */
    while (kind >= 0x20 && kind <= 0x2f && i < length)
        kind = (unsigned char)text[i++];
    return i;
}

size_t vegeta_strip_escapes(char *text, size_t length)
{
    size_t out = 0;
    size_t i = 0;
    while (i < length) {
        if (text[i] == ESC) {
            i = skip_escape(text, length, i);
        } else if (text[i] == '\r') {
            i++;
        } else {
            text[out++] = text[i++];
        }
    }
    if (out < length)
        text[out] = '\0';
    return out;
}

/* ---- RFC 3339 times --------------------------------------------------------------------- */

/* Reads exactly `n` digits. */
static bool read_digits(const char **p, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *value = v;
    return true;
}

static bool expect_char(const char **p, const char *choices)
{
    if (**p == '\0' || strchr(choices, **p) == NULL)
        return false;
    (*p)++;
    return true;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* ".642808626": the fraction of a second (digits beyond nanoseconds are ignored). */
static bool read_fraction(const char **p, double *fraction)
{
    if (**p != '.')
        return true;
    (*p)++;
    if (!isdigit((unsigned char)**p))
        return false;
    int64_t nanoseconds = 0;
    int digits = 0;
    for (; isdigit((unsigned char)**p); (*p)++, digits++)
        if (digits < 9)
            nanoseconds = nanoseconds * 10 + (**p - '0');
    for (; digits < 9; digits++)
        nanoseconds *= 10;
    *fraction = (double)nanoseconds / 1e9;
    return true;
}

/* "Z" or "+hh:mm" / "-hh:mm": seconds east of UTC. */
static bool read_offset(const char **p, int *offset)
{
    if (expect_char(p, "Zz")) {
        *offset = 0;
        return true;
    }
    int sign = **p == '-' ? -1 : 1;
    int hours, minutes;
    if (!expect_char(p, "+-") || !read_digits(p, 2, &hours) || !expect_char(p, ":") ||
        !read_digits(p, 2, &minutes) || hours > 23 || minutes > 59)
        return false;
    *offset = sign * (hours * 3600 + minutes * 60);
    return true;
}

int vegeta_parse_time(const char *text, double *seconds)
{
    const char *p = text;
    int year, month, day, hour, minute, second, offset;
    double fraction = 0;
    if (!read_digits(&p, 4, &year) || !expect_char(&p, "-") || !read_digits(&p, 2, &month) ||
        !expect_char(&p, "-") || !read_digits(&p, 2, &day) || !expect_char(&p, "Tt ") ||
        !read_digits(&p, 2, &hour) || !expect_char(&p, ":") || !read_digits(&p, 2, &minute) ||
        !expect_char(&p, ":") || !read_digits(&p, 2, &second) || !read_fraction(&p, &fraction) ||
        !read_offset(&p, &offset) || *p != '\0')
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 59)
        return -1;
    int64_t whole =
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
    *seconds = (double)whole + fraction;
    return 0;
}

/* ---- the report object ------------------------------------------------------------------ */

static int get_time(const json_t *object, const char *key, double *out, struct servo_error *error)
{
    const json_t *value = json_object_get(object, key);
    if (value == NULL)
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_REPORT, "\"%s\" is missing", key);
    if (!json_is_string(value) || vegeta_parse_time(json_string_value(value), out) != 0)
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_REPORT,
                               "\"%s\" is not an RFC 3339 time", key);
    return 0;
}

static int parse_latencies(const json_t *json, struct vegeta_report *r, struct servo_error *error)
{
    const json_t *latencies = json_object_get(json, "latencies");
    if (!json_is_object(latencies))
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_REPORT,
                               "\"%s\" is missing or not an object", "latencies");
    struct {
        const char *key;
        double *value;
    } fields[] = {
        {"total", &r->latency_total}, {"mean", &r->latency_mean}, {"50th", &r->latency_50th},
        {"90th", &r->latency_90th},   {"95th", &r->latency_95th}, {"99th", &r->latency_99th},
        {"max", &r->latency_max},     {"min", &r->latency_min},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (servo_json_nonnegative(latencies, fields[i].key, fields[i].value, error) != 0)
            return servo_error_locate(error, NULL, 0, 0, "latencies");
    }
    return 0;
}

static int parse_counts(const json_t *json, struct vegeta_report *r, struct servo_error *error)
{
    double requests = 0;
    if (servo_json_nonnegative(json, "requests", &requests, error) != 0 ||
        servo_json_nonnegative(json, "throughput", &r->throughput, error) != 0 ||
        servo_json_nonnegative(json, "success", &r->success, error) != 0)
        return -1;
    if (requests != floor(requests) || requests > 9e18)
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_REPORT,
                               "\"%s\" is not a whole number", "requests");
    r->requests = (int64_t)requests;
    if (r->success > 1)
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_REPORT,
                               "\"%s\" is greater than 1", "success");
    /* informative only: absent or odd values are left at 0 */
    r->rate = json_number_value(json_object_get(json, "rate"));
    r->duration = json_number_value(json_object_get(json, "duration"));
    r->wait = json_number_value(json_object_get(json, "wait"));
    return 0;
}

static int parse_times(const json_t *json, struct vegeta_report *r, struct servo_error *error)
{
    if (get_time(json, "end", &r->end, error) != 0)
        return -1;
    const char *earliest = json_string_value(json_object_get(json, "earliest"));
    const char *latest = json_string_value(json_object_get(json, "latest"));
    if (earliest == NULL || vegeta_parse_time(earliest, &r->earliest) != 0)
        r->earliest = r->end;
    if (latest == NULL || vegeta_parse_time(latest, &r->latest) != 0)
        r->latest = r->end;
    return 0;
}

/* The distinct errors vegeta saw, joined, cut to ERRORS_TEXT_MAX bytes, in *out; NULL when
 * none. Returns -1 when out of memory. */
static int errors_text(const json_t *json, char **out)
{
    *out = NULL;
    const json_t *errors = json_object_get(json, "errors");
    if (!json_is_array(errors) || json_array_size(errors) == 0)
        return 0;
    char *text = malloc(ERRORS_TEXT_MAX + 4);
    if (text == NULL)
        return -1;
    size_t used = 0;
    size_t index;
    const json_t *item;
    text[0] = '\0';
    json_array_foreach(errors, index, item)
    {
        const char *error = json_string_value(item);
        if (error == NULL)
            continue;
        int n = snprintf(text + used, ERRORS_TEXT_MAX + 1 - used, "%s%s", used ? "; " : "", error);
        if (n < 0 || used + (size_t)n > ERRORS_TEXT_MAX) {
            memcpy(text + ERRORS_TEXT_MAX, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    if (text[0] == '\0')
        free(text);
    else
        *out = text;
    return 0;
}

int vegeta_report_parse(const char *text, size_t length, struct vegeta_report *report,
                        struct servo_error *error)
{
    memset(report, 0, sizeof *report);
    json_t *json = servo_json_load_object(text, length, error);
    if (json == NULL)
        return -1;
    int rc = -1;
    if (parse_latencies(json, report, error) == 0 && parse_counts(json, report, error) == 0 &&
        parse_times(json, report, error) == 0)
        rc = 0;
    if (rc == 0 && errors_text(json, &report->errors) != 0)
        rc = servo_error_set(error, SERVO_ERROR_FAILED, INVALID_REPORT, "out of memory");
    json_decref(json);
    return rc;
}

void vegeta_report_free(struct vegeta_report *report)
{
    free(report->errors);
    report->errors = NULL;
}

/* ---- gathering reports ------------------------------------------------------------------ */

static bool is_blank(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (!isspace((unsigned char)text[i]))
            return false;
    return true;
}

/* Keeps the first bad line: up to 80 bytes of it, printable, and why it was refused. */
static void note_invalid(struct vegeta_reports *reports, const char *line, size_t length,
                         const struct servo_error *error)
{
    if (reports->invalid++ > 0)
        return;
    char excerpt[90];
    size_t n = 0;
    for (size_t i = 0; i < length && i < 80; i++)
        excerpt[n++] = isprint((unsigned char)line[i]) ? line[i] : '?';
    excerpt[n] = '\0';
    char *why = servo_error_format(error);
    snprintf(reports->first_invalid, sizeof reports->first_invalid, "\"%s%s\" (%.150s)", excerpt,
             length > 80 ? "..." : "", why);
    free(why);
}

/* Returns -1 when out of memory (`reports` unchanged). */
static int append(struct vegeta_reports *reports, const struct vegeta_report *report)
{
    if (reports->count == reports->capacity) {
        size_t capacity = reports->capacity ? 2 * reports->capacity : 8;
        struct vegeta_report *items = realloc(reports->items, capacity * sizeof *items);
        if (items == NULL)
            return -1;
        reports->items = items;
        reports->capacity = capacity;
    }
    reports->items[reports->count++] = *report;
    return 0;
}

enum vegeta_line vegeta_reports_add_line(struct vegeta_reports *reports, const char *line)
{
    char *text = strdup(line);
    if (text == NULL) {
        struct servo_error oom;
        servo_error_set(&oom, SERVO_ERROR_FAILED, INVALID_REPORT, "out of memory");
        note_invalid(reports, line, strlen(line), &oom);
        return VEGETA_LINE_INVALID;
    }
    size_t length = vegeta_strip_escapes(text, strlen(text));
    enum vegeta_line outcome = VEGETA_LINE_BLANK;
    struct vegeta_report report;
    struct servo_error error;
    if (is_blank(text, length)) {
        outcome = VEGETA_LINE_BLANK;
    } else if (vegeta_report_parse(text, length, &report, &error) != 0) {
        note_invalid(reports, text, length, &error);
        outcome = VEGETA_LINE_INVALID;
    } else if (report.end < reports->warmup_until) {
        vegeta_report_free(&report);
        reports->discarded++;
        outcome = VEGETA_LINE_DISCARDED;
    } else if (append(reports, &report) != 0) {
        vegeta_report_free(&report);
        servo_error_set(&error, SERVO_ERROR_FAILED, INVALID_REPORT, "out of memory");
        note_invalid(reports, text, length, &error);
        outcome = VEGETA_LINE_INVALID;
    } else {
        outcome = VEGETA_LINE_KEPT;
    }
    free(text);
    return outcome;
}

void vegeta_reports_free(struct vegeta_reports *reports)
{
    for (size_t i = 0; i < reports->count; i++)
        vegeta_report_free(&reports->items[i]);
    free(reports->items);
    reports->items = NULL;
    reports->count = reports->capacity = 0;
}

void vegeta_add_readings(struct servo_measurement *m, const struct vegeta_reports *reports,
                         const bool *wanted)
{
    if (reports->count == 0)
        return;
    for (int metric = 0; metric < VEGETA_METRIC_COUNT; metric++) {
        if (wanted != NULL && !wanted[metric])
            continue;
        struct servo_reading *series = servo_measurement_series(m, vegeta_metrics[metric].name,
                                                                vegeta_metrics[metric].unit, NULL);
        for (size_t i = 0; i < reports->count; i++)
            servo_reading_add(series, reports->items[i].end,
                              vegeta_metric_value(&reports->items[i], (enum vegeta_metric)metric));
    }
}
