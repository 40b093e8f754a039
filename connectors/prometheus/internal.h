/* The prometheus connector's parts, shared between its files: HTTP requests to the API
 * (query.c), the measure handler and series conversion (measure.c), SLO fast fail
 * (fastfail.c), the targets API and `servo prometheus targets` (targets.c), and the checks
 * (checks.c). The response parser is response.h. */
#ifndef SERVO_CONNECTOR_PROMETHEUS_INTERNAL_H
#define SERVO_CONNECTOR_PROMETHEUS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "prometheus.h"
#include "response.h"
#include "servo/alloc.h"
#include "servo/buf.h"
#include "servo/checks.h"
#include "servo/events.h"
#include "servo/model.h"
#include "servo/util.h"

/* ---- settings helpers (prometheus.c) ----------------------------------------------------- */

/* "", "%", "ms", ... for an enum prometheus_unit. */
const char *prometheus_unit_name(int unit);
/* The PromQL actually sent: the query, with ` or on() vector(0)` when absent is zero. */
char *prometheus_metric_query(const struct prometheus_metric *metric);

/* ---- requests (query.c) ------------------------------------------------------------------ */

enum prom_request_kind {
    PROM_REQUEST_RANGE,   /* /api/v1/query_range: query, start, end, step */
    PROM_REQUEST_INSTANT, /* /api/v1/query: query (evaluated at the server's now) */
    PROM_REQUEST_TARGETS, /* /api/v1/targets: the body is kept whole */
};

struct prom_request {
    /* what to ask */
    enum prom_request_kind kind;
    const char *query;
    double start, end; /* Unix seconds */
    double step;       /* seconds */
    /* what came back */
    int status;                    /* 0, or -1 with reason and error */
    const char *reason;            /* "query-failed", "unreachable", "timeout", ... */
    char *error;                   /* the message (NULL on success) */
    long http_status;              /* 0 when no answer */
    struct prom_response response; /* queries */
    char *body;                    /* targets */
    size_t body_length;
};

/* Sends the requests at once (servo_http_perform_all) and waits for all of them, or for
 * the event (may be NULL) to be cancelled. Fills each request's outcome; returns how many
 * failed. Free each with prom_request_release. */
size_t prom_perform(const struct prometheus_settings *settings, struct prom_request *requests,
                    size_t count, const struct servo_event *event);
void prom_request_release(struct prom_request *request);
/* Seconds as Prometheus reads them in a URL: "1795822295.123", "60", "0.5". */
void prom_format_seconds(double seconds, char buf[40]);
/* "http://host:9090" + "/api/v1/..." (the base URL without a trailing slash; caller frees). */
char *prom_api_url(const struct prometheus_settings *settings, const char *path);

/* ---- series (measure.c) ------------------------------------------------------------------ */

/* "{instance=a,job=api}": the labels sorted by name, __name__ left out unless `with_name`
 * (caller frees). Sorts the series' labels in place. */
char *prom_series_id(struct prom_series *series, bool with_name);
/* "__name__=up instance=a job=api": every label sorted by name; NULL when there are none. */
char *prom_series_annotation(struct prom_series *series);
/* Appends the response's series (their points are moved, not copied) or its scalar to `m`
 * as readings of `metric`; ids are unique within the response. */
void prom_add_readings(struct servo_measurement *m, const struct prometheus_metric *metric,
                       struct prom_response *response);
extern const struct servo_handler prometheus_handlers[];

/* ---- fast fail (fastfail.c) -------------------------------------------------------------- */

enum prom_slo_status {
    PROM_SLO_PASSED,
    PROM_SLO_FAILED,
    PROM_SLO_ZERO_METRIC,
    PROM_SLO_ZERO_THRESHOLD,
    PROM_SLO_MISSING_METRIC,
    PROM_SLO_MISSING_THRESHOLD,
};

struct prom_slo_outcome {
    enum prom_slo_status status;
    double metric_value;    /* NaN when not known */
    double threshold_value; /* NaN when not known */
    double checked_at;      /* Unix seconds */
};

/* The last trigger_window outcomes of one condition, oldest first. */
struct prom_slo_window {
    struct prom_slo_outcome *outcomes;
    size_t count;
    size_t capacity; /* the condition's trigger_window */
};

struct prom_fast_fail {
    const struct servo_slo_condition *conditions; /* borrowed */
    size_t condition_count;
    bool treat_zero_as_missing;
    struct prom_slo_window *windows; /* one per condition */
};

/* A metric's scalar for one check: present == false when it returned nothing. */
struct prom_slo_value {
    const char *metric;
    bool present;
    double value;
};

void prom_fast_fail_init(struct prom_fast_fail *ff, const struct servo_slo_condition *conditions,
                         size_t count, bool treat_zero_as_missing);
void prom_fast_fail_free(struct prom_fast_fail *ff);
/* Records one check of every condition. Returns true when some condition has at least
 * trigger_count failures among its last trigger_window outcomes; then *violation (caller
 * frees) says which and why. *statuses (caller frees) is the summary ServoX logs:
 * "x1 passed [(latency below 100)], x1 missing_metric [(errors below 0.1)]". */
bool prom_fast_fail_check(struct prom_fast_fail *ff, const struct prom_slo_value *values,
                          size_t value_count, double checked_at, char **statuses, char **violation);
/* One number for a metric: the mean over series of each series' mean; NaN samples are left
 * out, and a series with none but NaN counts for nothing. *present is false when nothing
 * remains. */
double prom_series_scalar(const struct prom_series *series, size_t count, bool *present);
const char *prom_slo_status_name(enum prom_slo_status status);
/* "(latency below 100)", "(latency above throughput -> p99 stays low)" (caller frees). */
char *prom_slo_condition_text(const struct servo_slo_condition *condition);

/* ---- targets (targets.c) ----------------------------------------------------------------- */

struct prom_active_target {
    char *pool;
    char *url;
    char *global_url;
    char *health;
    char *last_error;
    char *last_scrape;           /* RFC 3339 or NULL */
    double last_scrape_duration; /* seconds; NaN when not given */
    struct prom_label *labels;   /* sorted by name */
    size_t label_count;
};

struct prom_targets {
    struct prom_active_target *items;
    size_t count;
};

/* The body of /api/v1/targets: 0, or -1 with a message in *error (caller frees). */
int prom_targets_parse(const char *body, size_t length, struct prom_targets *out, char **error);
void prom_targets_free(struct prom_targets *targets);
/* GET /api/v1/targets: 0, or -1 with *reason and a message in *error (caller frees). */
int prom_targets_fetch(const struct prometheus_settings *settings, const struct servo_event *event,
                       struct prom_targets *out, const char **reason, char **error);
/* Whether an active target matches an expected one (every field the expected one gives). */
bool prom_target_matches(const struct prometheus_target *expected,
                         const struct prom_active_target *active);
extern const struct servo_command prometheus_commands[];

/* ---- checks (checks.c) ------------------------------------------------------------------- */

extern const struct servo_check_def prometheus_checks[];

#endif
