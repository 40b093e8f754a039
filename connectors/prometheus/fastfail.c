/* SLO fast fail: the evaluation of control.userdata.slo conditions against the metrics of one
 * check, as ServoX's FastFailObserver does it (servo/fast_fail.py), with no HTTP in sight so
 * that it can be tested with tables.
 *
 * Per condition: a metric that returned nothing, or whose scalar is NaN (or zero, with
 * treat_zero_as_missing), is missing_metric. The threshold is threshold * multiplier, or the
 * scalar of threshold_metric * multiplier; for a metric threshold, a missing/NaN one is
 * missing_threshold, and near-zero values are skipped: 0 <= metric <= slo_metric_minimum is
 * zero_metric, 0 <= threshold <= slo_threshold_minimum is zero_threshold. Otherwise the
 * condition passes when the metric is <= the threshold (keep below) or >= it (keep above).
 * Each outcome enters the condition's window of the last trigger_window outcomes; after a
 * comparison, trigger_count failures in the window is a violation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define STATUS_COUNT 6

const char *prom_slo_status_name(enum prom_slo_status status)
{
    switch (status) {
    case PROM_SLO_PASSED:
        return "passed";
    case PROM_SLO_FAILED:
        return "failed";
    case PROM_SLO_ZERO_METRIC:
        return "zero_metric";
    case PROM_SLO_ZERO_THRESHOLD:
        return "zero_threshold";
    case PROM_SLO_MISSING_METRIC:
        return "missing_metric";
    case PROM_SLO_MISSING_THRESHOLD:
        return "missing_threshold";
    }
    return "unknown";
}

/* Numbers as Python prints Decimals of reasonable size: "100", "0.5", "1180.25". */
static void format_number(double value, char buf[40])
{
    if (isnan(value))
        snprintf(buf, 40, "NaN");
    else if (isinf(value))
        snprintf(buf, 40, "%sInfinity", value < 0 ? "-" : "");
    else
        snprintf(buf, 40, "%.15g", value);
}

char *prom_slo_condition_text(const struct servo_slo_condition *c)
{
    struct servo_buf b = {0};
    servo_buf_printf(&b, "(%s %s", c->metric, c->keep_above ? "above" : "below");
    if (c->threshold_metric != NULL) {
        servo_buf_printf(&b, " %s", c->threshold_metric);
    } else {
        char number[40];
        format_number(c->threshold, number);
        servo_buf_printf(&b, " %s", number);
    }
    if (c->description != NULL)
        servo_buf_printf(&b, " -> %s", c->description);
    servo_buf_puts(&b, ")");
    return servo_buf_detach(&b);
}

double prom_series_scalar(const struct prom_series *series, size_t count, bool *present)
{
    double sum_of_means = 0;
    size_t instances = 0;
    for (size_t i = 0; i < count; i++) {
        double sum = 0;
        size_t n = 0;
        for (size_t j = 0; j < series[i].point_count; j++) {
            double v = series[i].points[j].value;
            if (!isnan(v)) {
                sum += v;
                n++;
            }
        }
        if (n > 0) {
            sum_of_means += sum / (double)n;
            instances++;
        }
    }
    *present = instances > 0;
    return instances > 0 ? sum_of_means / (double)instances : NAN;
}

void prom_fast_fail_init(struct prom_fast_fail *ff, const struct servo_slo_condition *conditions,
                         size_t count, bool treat_zero_as_missing)
{
    ff->conditions = conditions;
    ff->condition_count = count;
    ff->treat_zero_as_missing = treat_zero_as_missing;
    ff->windows = servo_xcalloc(count, sizeof *ff->windows);
    for (size_t i = 0; i < count; i++) {
        int window = conditions[i].trigger_window;
        if (window < conditions[i].trigger_count)
            window = conditions[i].trigger_count;
        ff->windows[i].capacity = window > 0 ? (size_t)window : 1;
        ff->windows[i].outcomes =
            servo_xcalloc(ff->windows[i].capacity, sizeof *ff->windows[i].outcomes);
    }
}

void prom_fast_fail_free(struct prom_fast_fail *ff)
{
    for (size_t i = 0; i < ff->condition_count; i++)
        free(ff->windows[i].outcomes);
    free(ff->windows);
    memset(ff, 0, sizeof *ff);
}

static void window_push(struct prom_slo_window *w, struct prom_slo_outcome outcome)
{
    if (w->count == w->capacity) {
        memmove(w->outcomes, w->outcomes + 1, (w->capacity - 1) * sizeof *w->outcomes);
        w->count--;
    }
    w->outcomes[w->count++] = outcome;
}

static size_t window_failures(const struct prom_slo_window *w)
{
    size_t failures = 0;
    for (size_t i = 0; i < w->count; i++)
        failures += w->outcomes[i].status == PROM_SLO_FAILED;
    return failures;
}

static const struct prom_slo_value *find_value(const struct prom_slo_value *values, size_t count,
                                               const char *metric)
{
    for (size_t i = 0; i < count; i++)
        if (values[i].present && strcmp(values[i].metric, metric) == 0)
            return &values[i];
    return NULL;
}

static bool missing(const struct prom_fast_fail *ff, double value)
{
    return isnan(value) || (ff->treat_zero_as_missing && value == 0);
}

static bool near_zero(double value, double minimum)
{
    return value >= 0 && value <= minimum;
}

/* The outcome of one condition (its window not yet updated). */
static struct prom_slo_outcome evaluate(const struct prom_fast_fail *ff,
                                        const struct servo_slo_condition *c,
                                        const struct prom_slo_value *values, size_t value_count,
                                        double checked_at)
{
    struct prom_slo_outcome o = {PROM_SLO_MISSING_METRIC, NAN, NAN, checked_at};
    const struct prom_slo_value *metric = find_value(values, value_count, c->metric);
    if (metric == NULL)
        return o;
    o.metric_value = metric->value;
    if (missing(ff, o.metric_value))
        return o;
    if (c->threshold_metric == NULL) {
        o.threshold_value = c->threshold * c->threshold_multiplier;
    } else {
        const struct prom_slo_value *threshold =
            find_value(values, value_count, c->threshold_metric);
        o.status = PROM_SLO_MISSING_THRESHOLD;
        if (threshold == NULL)
            return o;
        o.threshold_value = threshold->value * c->threshold_multiplier;
        if (missing(ff, o.threshold_value))
            return o;
        o.status = PROM_SLO_ZERO_METRIC;
        if (near_zero(o.metric_value, c->slo_metric_minimum))
            return o;
        o.status = PROM_SLO_ZERO_THRESHOLD;
        if (near_zero(o.threshold_value, c->slo_threshold_minimum))
            return o;
    }
    bool kept =
        c->keep_above ? o.metric_value >= o.threshold_value : o.metric_value <= o.threshold_value;
    o.status = kept ? PROM_SLO_PASSED : PROM_SLO_FAILED;
    return o;
}

static void format_time(double when, char buf[40])
{
    time_t seconds = (time_t)floor(when);
    struct tm tm;
    localtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, 40, "%s.%06ld", date, (long)((when - floor(when)) * 1e6));
}

/* "<checked at> SLO failed metric value 500 was not below threshold value 100". */
static void outcome_message(struct servo_buf *b, const struct servo_slo_condition *c,
                            const struct prom_slo_outcome *o)
{
    char when[40], metric[40], threshold[40];
    format_time(o->checked_at, when);
    format_number(o->metric_value, metric);
    format_number(o->threshold_value, threshold);
    servo_buf_printf(b, "%s ", when);
    switch (o->status) {
    case PROM_SLO_MISSING_METRIC:
        servo_buf_printf(b, "Metric %s was not found in readings", c->metric);
        break;
    case PROM_SLO_MISSING_THRESHOLD:
        servo_buf_printf(b, "Threshold metric %s was not found in readings", c->threshold_metric);
        break;
    case PROM_SLO_PASSED:
        servo_buf_puts(b, "SLO passed");
        break;
    case PROM_SLO_FAILED:
        servo_buf_printf(b, "SLO failed metric value %s was not %s threshold value %s", metric,
                         c->keep_above ? "above" : "below", threshold);
        break;
    case PROM_SLO_ZERO_METRIC:
        servo_buf_printf(b, "Skipping SLO %s due to near-zero metric value of %s", c->metric,
                         metric);
        break;
    case PROM_SLO_ZERO_THRESHOLD:
        servo_buf_printf(b, "Skipping SLO %s due to near-zero threshold value of %s", c->metric,
                         threshold);
        break;
    }
}

static void add_violation(struct servo_buf *b, const struct servo_slo_condition *c,
                          const struct prom_slo_window *w)
{
    char *text = prom_slo_condition_text(c);
    servo_buf_printf(b, "%s%s[", b->length > 0 ? ", " : "", text);
    free(text);
    for (size_t i = 0; i < w->count; i++) {
        if (i > 0)
            servo_buf_puts(b, ", ");
        outcome_message(b, c, &w->outcomes[i]);
    }
    servo_buf_puts(b, "]");
}

/* "x2 passed [(a below 1), (b below 2)], x1 failed [(c above 3)]": statuses in the order
 * they first occur. */
static char *statuses_summary(const struct prom_fast_fail *ff)
{
    enum prom_slo_status order[STATUS_COUNT];
    size_t kinds = 0;
    for (size_t i = 0; i < ff->condition_count; i++) {
        enum prom_slo_status s = ff->windows[i].outcomes[ff->windows[i].count - 1].status;
        bool seen = false;
        for (size_t k = 0; k < kinds; k++)
            seen = seen || order[k] == s;
        if (!seen)
            order[kinds++] = s;
    }
    struct servo_buf b = {0};
    for (size_t k = 0; k < kinds; k++) {
        size_t n = 0;
        struct servo_buf names = {0};
        for (size_t i = 0; i < ff->condition_count; i++) {
            if (ff->windows[i].outcomes[ff->windows[i].count - 1].status != order[k])
                continue;
            char *text = prom_slo_condition_text(&ff->conditions[i]);
            servo_buf_printf(&names, "%s%s", n++ ? ", " : "", text);
            free(text);
        }
        servo_buf_printf(&b, "%sx%zu %s [%s]", k ? ", " : "", n, prom_slo_status_name(order[k]),
                         names.data);
        servo_buf_free(&names);
    }
    return servo_buf_detach(&b);
}

bool prom_fast_fail_check(struct prom_fast_fail *ff, const struct prom_slo_value *values,
                          size_t value_count, double checked_at, char **statuses, char **violation)
{
    struct servo_buf failures = {0};
    for (size_t i = 0; i < ff->condition_count; i++) {
        const struct servo_slo_condition *c = &ff->conditions[i];
        struct prom_slo_outcome o = evaluate(ff, c, values, value_count, checked_at);
        window_push(&ff->windows[i], o);
        bool compared = o.status == PROM_SLO_PASSED || o.status == PROM_SLO_FAILED;
        size_t needed = c->trigger_count > 0 ? (size_t)c->trigger_count : 1;
        if (compared && window_failures(&ff->windows[i]) >= needed)
            add_violation(&failures, c, &ff->windows[i]);
    }
    if (statuses != NULL)
        *statuses = ff->condition_count > 0 ? statuses_summary(ff) : servo_xstrdup("");
    bool violated = failures.length > 0;
    if (violated && violation != NULL)
        *violation = servo_strdup_printf("SLO violation(s) observed: %s", failures.data);
    else if (violation != NULL)
        *violation = NULL;
    servo_buf_free(&failures);
    return violated;
}
