/* wrk's run summary, as the connector's Lua done() hook prints it: one JSON line after wrk's
 * own text report,
 *
 *   {"wrk_summary":1,"duration_us":3019739,"requests":64866,"bytes":15567520,
 *    "errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},
 *    "requests_per_sec":21480.66,"bytes_per_sec":5155253.48,
 *    "latency_us":{"min":17,"max":163294,"mean":6897.43,"stdev":23333.63,"p50":102,
 *                  "p75":1318,"p90":11260,"p99":132799}}
 *
 * Finding and parsing that line, and the metrics computed from it. No processes here. */
#ifndef SERVO_CONNECTOR_WRK_SUMMARY_H
#define SERVO_CONNECTOR_WRK_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "servo/error.h"

/* The line's first bytes. */
#define WRK_SUMMARY_MARKER "{\"wrk_summary\":"

struct wrk_summary {
    double duration_us;
    int64_t requests; /* complete responses, whatever their status */
    int64_t bytes;
    int64_t errors_connect;
    int64_t errors_read;
    int64_t errors_write;
    int64_t errors_status;  /* responses with a status above 399 */
    int64_t errors_timeout; /* requests that outlived --timeout */
    double requests_per_sec;
    double bytes_per_sec;
    /* microseconds; all 0 when no request completed within the timeout */
    double latency_min;
    double latency_max;
    double latency_mean;
    double latency_stdev;
    double latency_p50;
    double latency_p75;
    double latency_p90;
    double latency_p99;
};

enum wrk_metric {
    WRK_METRIC_THROUGHPUT,
    WRK_METRIC_THROUGHPUT_RPM,
    WRK_METRIC_ERROR_RATE,
    WRK_METRIC_LATENCY_50TH,
    WRK_METRIC_LATENCY_90TH,
    WRK_METRIC_LATENCY_99TH,
    WRK_METRIC_LATENCY_MAX,
    WRK_METRIC_LATENCY_MEAN,
    WRK_METRIC_COUNT
};

struct wrk_metric_def {
    const char *name;
    const char *unit;
};

extern const struct wrk_metric_def wrk_metrics[WRK_METRIC_COUNT];

/* The last line of `output` that starts with WRK_SUMMARY_MARKER (leading blanks allowed), or
 * NULL; its length in *line_length. */
const char *wrk_find_summary(const char *output, size_t length, size_t *line_length);

/* Returns 0, or -1 with `error` saying what is wrong. */
int wrk_summary_parse(const char *line, size_t length, struct wrk_summary *summary,
                      struct servo_error *error);

/* Percent of attempts that failed: 100 x (status + connect + read + write + timeout errors) /
 * (requests + connect + read + write errors), at most 100; 0 when nothing was attempted.
 * (A response that came after --timeout counts among the requests and as a timeout; a
 * socket error leaves no response, so it adds to the attempts.) */
double wrk_error_rate(const struct wrk_summary *summary);

/* throughput in requests per second (wrk's Requests/sec), throughput_rpm x 60, error_rate in
 * percent, latencies in milliseconds (us / 1000); latencies are NaN when no request completed
 * within the timeout (wrk then has no latency sample). */
double wrk_metric_value(const struct wrk_summary *summary, enum wrk_metric metric);

#endif
