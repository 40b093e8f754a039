/* The prometheus connector's handlers: describe and metrics (the configured metrics), and
 * measure.
 *
 * Measure, as ServoX: the metrics asked for (all when none), start = now + warmup,
 * end = start + duration; wait warmup + duration with progress ("measuring Prometheus metrics
 * for 30s"), checking the SLO conditions of control.userdata.slo every fast_fail.period when
 * fast fail is on; then one range query per metric over [start, end] with the metric's step,
 * all at once. Each result series is a time series reading: its id is the sorted label set
 * without __name__, "{instance=a,job=api}" (with __name__ when two series of the response
 * would otherwise share an id), its annotation every label sorted, "k=v k=v". An empty result
 * is handled by the metric's absent policy: ignore (nothing), zero (the query was sent with
 * ` or on() vector(0)`), warn / fail (an instant query absent(<query>) tells whether the
 * metric exists at all; warn logs, fail fails the measurement). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "servo/log.h"

/* Progress about every tenth of the wait, at least every minute and at most every second. */
#define PROGRESS_STEPS 10
#define PROGRESS_MIN_INTERVAL SERVO_SECOND
#define PROGRESS_MAX_INTERVAL SERVO_MINUTE

static const struct prometheus_settings *settings_of(const struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static const struct prometheus_metric *metric_at(const struct prometheus_settings *s, size_t i)
{
    return &((const struct prometheus_metric *)s->metrics.items)[i];
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static servo_duration monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (servo_duration)ts.tv_sec * SERVO_SECOND + ts.tv_nsec;
}

static servo_duration positive(servo_duration d)
{
    return d > 0 ? d : 0;
}

/* ---- describe and metrics --------------------------------------------------------------- */

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    const struct prometheus_settings *s = settings_of(c);
    struct servo_description *d = servo_description_new();
    for (size_t i = 0; i < s->metrics.count; i++)
        servo_description_add_metric(d, metric_at(s, i)->name,
                                     prometheus_unit_name(metric_at(s, i)->unit));
    servo_event_set_description(event, d);
    return 0;
}

static int on_metrics(struct servo_connector *c, struct servo_event *event)
{
    const struct prometheus_settings *s = settings_of(c);
    for (size_t i = 0; i < s->metrics.count; i++)
        servo_event_add_metric(event, metric_at(s, i)->name,
                               prometheus_unit_name(metric_at(s, i)->unit));
    return 0;
}

/* ---- series into readings --------------------------------------------------------------- */

static int compare_labels(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

/* Sorting in place is fine: the order Prometheus sent them in means nothing. */
static void sort_labels(struct prom_series *series)
{
    if (series->label_count > 1)
        qsort(series->labels, series->label_count, sizeof *series->labels, compare_labels);
}

char *prom_series_id(struct prom_series *series, bool with_name)
{
    sort_labels(series);
    struct servo_buf b = {0};
    servo_buf_puts(&b, "{");
    size_t written = 0;
    for (size_t i = 0; i < series->label_count; i++) {
        const struct prom_label *l = &series->labels[i];
        if (!with_name && strcmp(l->name, "__name__") == 0)
            continue;
        servo_buf_printf(&b, "%s%s=%s", written++ ? "," : "", l->name, l->value);
    }
    servo_buf_puts(&b, "}");
    return servo_buf_detach(&b);
}

char *prom_series_annotation(struct prom_series *series)
{
    if (series->label_count == 0)
        return NULL;
    sort_labels(series);
    struct servo_buf b = {0};
    for (size_t i = 0; i < series->label_count; i++)
        servo_buf_printf(&b, "%s%s=%s", i ? " " : "", series->labels[i].name,
                         series->labels[i].value);
    return servo_buf_detach(&b);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether two of the ids are equal. */
static bool ids_collide(char **ids, size_t count)
{
    if (count < 2)
        return false;
    char **sorted = servo_xmalloc(count * sizeof *sorted);
    memcpy(sorted, ids, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, compare_strings);
    bool collide = false;
    for (size_t i = 1; i < count && !collide; i++)
        collide = strcmp(sorted[i - 1], sorted[i]) == 0;
    free(sorted);
    return collide;
}

static void add_series_readings(struct servo_measurement *m, const struct prometheus_metric *metric,
                                struct prom_response *response)
{
    const char *unit = prometheus_unit_name(metric->unit);
    size_t n = response->series_count;
    char **ids = servo_xcalloc(n, sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = prom_series_id(&response->series[i], false);
    if (ids_collide(ids, n)) {
        for (size_t i = 0; i < n; i++) {
            free(ids[i]);
            ids[i] = prom_series_id(&response->series[i], true);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct prom_series *series = &response->series[i];
        struct servo_reading *r = servo_measurement_series(m, metric->name, unit, ids[i]);
        r->annotation = prom_series_annotation(series);
        /* the points move into the reading: no copy of what may be a large response */
        r->points = series->points;
        r->point_count = series->point_count;
        r->point_capacity = series->point_capacity;
        series->points = NULL;
        series->point_count = series->point_capacity = 0;
        free(ids[i]);
    }
    free(ids);
}

void prom_add_readings(struct servo_measurement *m, const struct prometheus_metric *metric,
                       struct prom_response *response)
{
    if (response->type == PROM_RESULT_SCALAR && response->has_value) {
        servo_measurement_point(m, metric->name, prometheus_unit_name(metric->unit),
                                response->value.time, response->value.value);
        return;
    }
    add_series_readings(m, metric, response);
}

static bool response_empty(const struct prom_response *r)
{
    return r->series_count == 0 && !(r->type == PROM_RESULT_SCALAR && r->has_value);
}

/* ---- which metrics ---------------------------------------------------------------------- */

struct selection {
    const struct prometheus_metric **metrics;
    size_t count;
};

static void select_metrics(const struct prometheus_settings *s, const struct servo_event *event,
                           struct selection *out)
{
    out->metrics = servo_xcalloc(s->metrics.count, sizeof *out->metrics);
    out->count = 0;
    for (size_t i = 0; i < s->metrics.count; i++)
        if (servo_event_wants_metric(event, metric_at(s, i)->name))
            out->metrics[out->count++] = metric_at(s, i);
}

/* "a, b and c". */
static char *series_of_names(const struct selection *selection)
{
    struct servo_buf b = {0};
    for (size_t i = 0; i < selection->count; i++) {
        const char *separator = i == 0 ? "" : i + 1 == selection->count ? " and " : ", ";
        servo_buf_printf(&b, "%s%s", separator, selection->metrics[i]->name);
    }
    return servo_buf_detach(&b);
}

/* ---- querying --------------------------------------------------------------------------- */

struct queries {
    struct prom_request *requests;
    char **texts; /* the PromQL of each request */
    size_t count;
};

static void queries_range(struct queries *q, const struct selection *selection, double start,
                          double end)
{
    q->count = selection->count;
    q->requests = servo_xcalloc(q->count, sizeof *q->requests);
    q->texts = servo_xcalloc(q->count, sizeof *q->texts);
    for (size_t i = 0; i < q->count; i++) {
        const struct prometheus_metric *metric = selection->metrics[i];
        q->texts[i] = prometheus_metric_query(metric);
        q->requests[i] = (struct prom_request){.kind = PROM_REQUEST_RANGE,
                                               .query = q->texts[i],
                                               .start = start,
                                               .end = end,
                                               .step = servo_duration_seconds(metric->step)};
    }
}

static void queries_free(struct queries *q)
{
    for (size_t i = 0; i < q->count; i++) {
        prom_request_release(&q->requests[i]);
        free(q->texts[i]);
    }
    free(q->requests);
    free(q->texts);
    memset(q, 0, sizeof *q);
}

/* The first failed request as the error ("metric "x": ..."); the others are logged. */
static int first_failure(const struct queries *q, const struct selection *selection,
                         struct servo_error *error)
{
    int rc = 0;
    for (size_t i = 0; i < q->count; i++) {
        const struct prom_request *r = &q->requests[i];
        if (r->status == 0)
            continue;
        if (rc == 0)
            servo_error_set(error, SERVO_ERROR_MEASUREMENT_FAILED, r->reason, "metric \"%s\": %s",
                            selection->metrics[i]->name, r->error);
        else
            servo_error("metric \"%s\": %s", selection->metrics[i]->name, r->error);
        rc = -1;
    }
    return rc;
}

/* absent(<query>) for every empty metric whose policy is warn or fail. */
static int check_absent(const struct prometheus_settings *s, const struct servo_event *event,
                        const struct selection *selection, const struct queries *range,
                        struct servo_error *error)
{
    struct selection asked = {servo_xcalloc(selection->count + 1, sizeof *asked.metrics), 0};
    for (size_t i = 0; i < selection->count; i++) {
        int policy = selection->metrics[i]->absent;
        bool checked = policy == PROMETHEUS_ABSENT_WARN || policy == PROMETHEUS_ABSENT_FAIL;
        if (checked && response_empty(&range->requests[i].response))
            asked.metrics[asked.count++] = selection->metrics[i];
        else if (response_empty(&range->requests[i].response))
            servo_debug("metric \"%s\" returned no data", selection->metrics[i]->name);
    }
    struct queries q = {servo_xcalloc(asked.count + 1, sizeof *q.requests),
                        servo_xcalloc(asked.count + 1, sizeof *q.texts), asked.count};
    for (size_t i = 0; i < asked.count; i++) {
        q.texts[i] = servo_strdup_printf("absent(%s)", asked.metrics[i]->query);
        q.requests[i] = (struct prom_request){.kind = PROM_REQUEST_INSTANT, .query = q.texts[i]};
    }
    int rc = 0;
    if (asked.count > 0) {
        prom_perform(s, q.requests, q.count, event);
        rc = first_failure(&q, &asked, error);
    }
    for (size_t i = 0; i < asked.count && rc == 0; i++) {
        const struct prometheus_metric *metric = asked.metrics[i];
        const struct prom_response *r = &q.requests[i].response;
        bool absent = r->series_count > 0 && r->series[0].point_count > 0 &&
                      r->series[0].points[0].value == 1;
        if (!absent) {
            servo_info("Metric '%s' is present in Prometheus but returned an empty result set",
                       q.texts[i]);
        } else if (metric->absent == PROMETHEUS_ABSENT_WARN) {
            servo_warning("Found absent metric for query (`%s`)", metric->query);
        } else {
            servo_error("Required metric '%s' is absent from Prometheus (query='%s')", metric->name,
                        metric->query);
            rc = servo_error_set(error, SERVO_ERROR_MEASUREMENT_FAILED, "metric-absent",
                                 "Required metric '%s' is absent from Prometheus", metric->name);
        }
    }
    queries_free(&q);
    free(asked.metrics);
    return rc;
}

/* The range queries of the measurement, then the readings. */
static struct servo_measurement *measure_range(const struct prometheus_settings *s,
                                               const struct servo_event *event,
                                               const struct selection *selection, double start,
                                               double end, struct servo_error *error)
{
    struct queries q;
    queries_range(&q, selection, start, end);
    prom_perform(s, q.requests, q.count, event);
    struct servo_measurement *m = NULL;
    if (first_failure(&q, selection, error) == 0 &&
        check_absent(s, event, selection, &q, error) == 0) {
        m = servo_measurement_new();
        for (size_t i = 0; i < q.count; i++)
            prom_add_readings(m, selection->metrics[i], &q.requests[i].response);
    }
    queries_free(&q);
    return m;
}

/* ---- fast fail -------------------------------------------------------------------------- */

static bool referenced(const struct servo_control *control, const char *metric)
{
    for (size_t i = 0; i < control->slo_count; i++) {
        const struct servo_slo_condition *c = &control->slo[i];
        if (strcmp(c->metric, metric) == 0 ||
            (c->threshold_metric != NULL && strcmp(c->threshold_metric, metric) == 0))
            return true;
    }
    return false;
}

/* One check: queries the metrics the conditions name over [now - span, now]. Returns 0, or -1
 * with `error` set (a failed query, or the SLO violation). */
static int fast_fail_check(const struct prometheus_settings *s, const struct servo_event *event,
                           const struct selection *selection, struct prom_fast_fail *ff,
                           struct servo_error *error)
{
    const struct servo_control *control = servo_event_control(event);
    struct selection used = {servo_xcalloc(selection->count + 1, sizeof *used.metrics), 0};
    for (size_t i = 0; i < selection->count; i++)
        if (referenced(control, selection->metrics[i]->name))
            used.metrics[used.count++] = selection->metrics[i];
    servo_duration span =
        s->fast_fail.span != SERVO_UNSET ? s->fast_fail.span : s->fast_fail.period;
    double now = wall_clock();
    struct queries q;
    queries_range(&q, &used, now - servo_duration_seconds(span), now);
    if (q.count > 0)
        prom_perform(s, q.requests, q.count, event);
    int rc = first_failure(&q, &used, error);
    if (rc == 0) {
        struct prom_slo_value *values = servo_xcalloc(used.count + 1, sizeof *values);
        for (size_t i = 0; i < used.count; i++) {
            const struct prom_response *r = &q.requests[i].response;
            values[i].metric = used.metrics[i]->name;
            values[i].value = prom_series_scalar(r->series, r->series_count, &values[i].present);
        }
        char *statuses = NULL, *violation = NULL;
        if (prom_fast_fail_check(ff, values, used.count, now, &statuses, &violation))
            rc = servo_error_set(error, SERVO_ERROR_ABORTED, "slo-violation", "%s", violation);
        servo_info("SLO statuses from last check: %s", statuses);
        free(statuses);
        free(violation);
        free(values);
    }
    queries_free(&q);
    free(used.metrics);
    return rc;
}

/* ---- waiting ---------------------------------------------------------------------------- */

static servo_duration progress_interval(servo_duration total)
{
    servo_duration step = total / PROGRESS_STEPS;
    if (step < PROGRESS_MIN_INTERVAL)
        step = PROGRESS_MIN_INTERVAL;
    return step > PROGRESS_MAX_INTERVAL ? PROGRESS_MAX_INTERVAL : step;
}

struct wait {
    servo_duration total;
    servo_duration started; /* monotonic */
    servo_duration next_progress;
    servo_duration next_check; /* SERVO_UNSET: no fast fail */
    servo_duration period;
    char total_text[SERVO_VALUE_TEXT_MAX];
};

static servo_duration elapsed_of(const struct wait *w)
{
    return monotonic() - w->started;
}

static int interrupted(struct servo_event *event, const struct wait *w, struct servo_error *error)
{
    char waited[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(elapsed_of(w), waited);
    bool timeout = servo_event_remaining(event) <= 0;
    return servo_error_set(error, SERVO_ERROR_MEASUREMENT_FAILED, timeout ? "timeout" : "cancelled",
                           "%s after measuring %s of %s", timeout ? "ran out of time" : "cancelled",
                           waited, w->total_text);
}

static void report_progress(struct servo_event *event, struct wait *w, servo_duration elapsed)
{
    double percent = w->total > 0 ? 100.0 * (double)elapsed / (double)w->total : 100.0;
    servo_event_progress(event, percent, "measuring Prometheus metrics for %s", w->total_text);
    servo_duration interval = progress_interval(w->total);
    while (w->next_progress <= elapsed)
        w->next_progress += interval;
}

/* Waits warmup + duration, with progress and fast-fail checks. */
static int wait_for_measurement(const struct prometheus_settings *s, struct servo_event *event,
                                const struct selection *selection, struct prom_fast_fail *ff,
                                servo_duration total, struct servo_error *error)
{
    if (total <= 0)
        return 0;
    struct wait w = {.total = total, .started = monotonic(), .next_check = SERVO_UNSET};
    servo_duration_format(total, w.total_text);
    w.next_progress = progress_interval(total);
    if (ff != NULL) {
        w.period = s->fast_fail.period > 0 ? s->fast_fail.period : SERVO_SECOND;
        w.next_check = w.period;
        while (w.next_check < s->fast_fail.skip)
            w.next_check += w.period;
    }
    servo_event_progress(event, 0, "measuring Prometheus metrics for %s", w.total_text);
    servo_duration elapsed = 0;
    while (elapsed < total) {
        servo_duration until = w.next_progress < total ? w.next_progress : total;
        if (w.next_check != SERVO_UNSET && w.next_check < until)
            until = w.next_check;
        if (until > elapsed && servo_event_sleep(event, until - elapsed) != 0)
            return interrupted(event, &w, error);
        elapsed = elapsed_of(&w);
        if (w.next_check != SERVO_UNSET && elapsed >= w.next_check && elapsed < total) {
            if (fast_fail_check(s, event, selection, ff, error) != 0)
                return -1;
            elapsed = elapsed_of(&w);
            while (w.next_check <= elapsed)
                w.next_check += w.period;
        }
        if (elapsed >= w.next_progress && elapsed < total)
            report_progress(event, &w, elapsed);
    }
    return 0;
}

static bool fast_fail_enabled(const struct prometheus_settings *s,
                              const struct servo_control *control)
{
    return s->fast_fail.disabled == 0 && control->slo_count > 0;
}

static void log_fast_fail(const struct servo_control *control)
{
    struct servo_buf b = {0};
    for (size_t i = 0; i < control->slo_count; i++) {
        char *text = prom_slo_condition_text(&control->slo[i]);
        servo_buf_printf(&b, "%s%s", i ? ", " : "", text);
        free(text);
    }
    servo_info("Fast Fail enabled, the following SLO Conditions will be monitored during "
               "measurement: %s",
               b.data);
    servo_buf_free(&b);
}

/* ---- measure ---------------------------------------------------------------------------- */

static int measure(struct servo_connector *c, struct servo_event *event,
                   const struct selection *selection, struct servo_error *error)
{
    const struct prometheus_settings *s = settings_of(c);
    const struct servo_control *control = servo_event_control(event);
    servo_duration warmup = positive(control->warmup), duration = positive(control->duration);
    double start = wall_clock() + servo_duration_seconds(warmup);
    double end = start + servo_duration_seconds(duration);
    char total[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(warmup + duration, total);
    char *names = series_of_names(selection);
    servo_info("Measuring %zu metrics for %s: %s", selection->count, total, names);
    free(names);
    struct prom_fast_fail ff;
    bool fast_fail = fast_fail_enabled(s, control);
    if (fast_fail) {
        log_fast_fail(control);
        prom_fast_fail_init(&ff, control->slo, control->slo_count,
                            s->fast_fail.treat_zero_as_missing);
    }
    int rc =
        wait_for_measurement(s, event, selection, fast_fail ? &ff : NULL, warmup + duration, error);
    if (fast_fail)
        prom_fast_fail_free(&ff);
    if (rc != 0)
        return -1;
    servo_info("Querying Prometheus for %zu metrics...", selection->count);
    struct servo_measurement *m = measure_range(s, event, selection, start, end, error);
    if (m == NULL)
        return -1;
    servo_event_set_measurement(event, m);
    return 0;
}

static int on_measure(struct servo_connector *c, struct servo_event *event)
{
    struct selection selection;
    select_metrics(settings_of(c), event, &selection);
    struct servo_error error = {0};
    int rc = 0;
    if (selection.count == 0)
        servo_event_set_measurement(event, servo_measurement_new());
    else
        rc = measure(c, event, &selection, &error);
    free(selection.metrics);
    if (rc != 0)
        return servo_event_fail(event, error.kind, error.reason, "%s", error.message);
    return 0;
}

const struct servo_handler prometheus_handlers[] = {
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_METRICS, SERVO_ON, on_metrics},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {NULL, 0, NULL},
};
