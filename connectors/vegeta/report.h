/* vegeta's JSON reports (`vegeta report -type=json [-every=I]`): terminal escape codes
 * stripped, each line parsed into a report, reports gathered with the warmup applied, and
 * the connector's ten metrics computed from a report. No processes: everything here works on
 * text, so the unit tests and the fuzz target drive it directly. */
#ifndef SERVO_CONNECTOR_VEGETA_REPORT_H
#define SERVO_CONNECTOR_VEGETA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "servo/error.h"
#include "servo/model.h"

/* One report, in vegeta's units: latencies, duration and wait in nanoseconds, times in Unix
 * seconds. Reports of `-every` are cumulative: each covers the attack from its start. */
struct vegeta_report {
    double latency_total;
    double latency_mean;
    double latency_50th;
    double latency_90th;
    double latency_95th;
    double latency_99th;
    double latency_max;
    double latency_min;
    double earliest; /* the first request */
    double latest;   /* the last request */
    double end;      /* the last response: the report's time */
    double duration; /* ns from earliest to latest */
    double wait;     /* ns from latest to end */
    int64_t requests;
    double rate;       /* requests sent per second */
    double throughput; /* successful requests per second */
    double success;    /* the fraction of successful requests, 0..1 */
    char *errors;      /* the distinct errors, "; "-separated and cut short; NULL when none */
};

/* The metrics, in the order describe lists them. */
enum vegeta_metric {
    VEGETA_METRIC_THROUGHPUT,
    VEGETA_METRIC_ERROR_RATE,
    VEGETA_METRIC_LATENCY_TOTAL,
    VEGETA_METRIC_LATENCY_MEAN,
    VEGETA_METRIC_LATENCY_50TH,
    VEGETA_METRIC_LATENCY_90TH,
    VEGETA_METRIC_LATENCY_95TH,
    VEGETA_METRIC_LATENCY_99TH,
    VEGETA_METRIC_LATENCY_MAX,
    VEGETA_METRIC_LATENCY_MIN,
    VEGETA_METRIC_COUNT
};

struct vegeta_metric_def {
    const char *name;
    const char *unit;
};

extern const struct vegeta_metric_def vegeta_metrics[VEGETA_METRIC_COUNT];

/* The metric's value from one report: throughput in requests per minute (vegeta's successful
 * requests per second x 60), error_rate in percent (100 - success x 100), latencies in
 * milliseconds (ns / 1e6). */
double vegeta_metric_value(const struct vegeta_report *report, enum vegeta_metric metric);

/* Removes terminal escape sequences in place: CSI (ESC [ parameters intermediates final, as
 * vegeta writes ESC[2J ESC[0;0H before each periodic report, even into a pipe), OSC (ESC ]
 * ... BEL or ESC \), any other two-byte ESC sequence, and carriage returns. Returns the new
 * length; the text stays NUL-terminated when it was. */
size_t vegeta_strip_escapes(char *text, size_t length);

/* An RFC 3339 time ("2026-11-27T23:32:41.642808626Z", "...+01:00") as Unix seconds. */
int vegeta_parse_time(const char *text, double *seconds);

/* Parses one report (escape codes already stripped; surrounding white space allowed).
 * Returns 0, or -1 with `error` saying what is wrong (servo_error_format adds the member
 * it is in, such as "latencies: "). Release with vegeta_report_free. */
int vegeta_report_parse(const char *text, size_t length, struct vegeta_report *report,
                        struct servo_error *error);
void vegeta_report_free(struct vegeta_report *report);

/* The reports of one attack, gathered line by line. */
struct vegeta_reports {
    struct vegeta_report *items;
    size_t count;
    size_t capacity;
    double warmup_until;     /* Unix seconds: reports that end before it are discarded */
    size_t discarded;        /* reports discarded by the warmup */
    size_t invalid;          /* non-blank lines that were not reports */
    char first_invalid[256]; /* the first of them, quoted and cut short, with the reason */
};

/* Outcome of vegeta_reports_add_line. */
enum vegeta_line {
    VEGETA_LINE_BLANK,     /* nothing but white space and escape codes */
    VEGETA_LINE_KEPT,      /* a report, kept */
    VEGETA_LINE_DISCARDED, /* a report that ended before the warmup did */
    VEGETA_LINE_INVALID,   /* not a report, or no memory to keep it (the reason says which) */
};

/* One line of report output (escape codes included). */
enum vegeta_line vegeta_reports_add_line(struct vegeta_reports *reports, const char *line);
void vegeta_reports_free(struct vegeta_reports *reports);

/* Adds one time series per wanted metric (every metric when `wanted` is NULL) to `m`, with a
 * point per report at the report's end. */
void vegeta_add_readings(struct servo_measurement *m, const struct vegeta_reports *reports,
                         const bool *wanted);

#endif
