// SPDX-License-Identifier: Apache-2.0
/* kube_metrics: the API requests, describe, metrics and measure.
 *
 * Measure, as ServoX: the metrics asked for among metrics_to_collect; wait the warmup, then
 * sample every metric_collection_frequency until the duration has passed (at least once).
 * A sample reads the workload (its selector), its pods (requests, limits, restarts; the
 * tuning pod is the one labelled opsani_role=tuning) and, when a usage or saturation metric
 * is wanted, the metrics API for the main pods (`<selector>,opsani_role!=tuning`) and the
 * tuning pod (`<selector>,opsani_role=tuning`). Points are stamped with the time of the
 * sample. Every wait and request ends as soon as the event is cancelled. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube_metrics.h"
#include "servo/log.h"

static const struct kube_metrics_settings *settings_of(const struct servo_connector *c)
{
    return servo_connector_settings(c);
}

/* ---- the client and the API ------------------------------------------------------------- */

struct km_state {
    struct kube_client *client;
    char *error;
};

struct kube_client *km_client(struct servo_connector *c, struct servo_error *error)
{
    struct km_state *st = servo_connector_state(c);
    if (st == NULL) {
        const struct kube_metrics_settings *s = settings_of(c);
        st = servo_xcalloc(1, sizeof *st);
        struct kube_config_source source = {.kubeconfig = s->kubeconfig, .context = s->context};
        st->client = kube_client_create(&source, &st->error);
        servo_connector_set_state(c, st);
    }
    if (st->client == NULL)
        servo_error_set(error, SERVO_ERROR_FAILED, "configuration", "no Kubernetes API client: %s",
                        st->error ? st->error : "the configuration cannot be used");
    return st->client;
}

void km_fini(struct servo_connector *c)
{
    struct km_state *st = servo_connector_state(c);
    if (st == NULL)
        return;
    kube_client_free(st->client);
    free(st->error);
    free(st);
    servo_connector_set_state(c, NULL);
}

char *km_workload_path(const struct kube_metrics_settings *s)
{
    if (s->kind == KM_ROLLOUT)
        return kube_printf("/apis/argoproj.io/v1alpha1/namespaces/%s/rollouts/%s", s->namespace,
                           s->name);
    return kube_printf("/apis/apps/v1/namespaces/%s/%s/%s", s->namespace,
                       s->kind == KM_STATEFULSET ? "statefulsets" : "deployments", s->name);
}

static char *workload_what(const struct kube_metrics_settings *s)
{
    return kube_printf("%s \"%s\" in namespace \"%s\"", km_kind_name(s->kind), s->name,
                       s->namespace);
}

json_t *km_workload_get(struct kube_client *client, struct servo_event *event,
                        const struct kube_metrics_settings *s, enum servo_error_kind kind,
                        struct servo_error *error)
{
    char *path = km_workload_path(s);
    char *what = workload_what(s);
    struct kube_response r;
    int rc = kube_call(client, event, "GET", path, NULL, NULL, what, kind, &r, error);
    json_t *workload = rc == 0 ? json_incref(r.body) : NULL;
    kube_response_clear(&r);
    free(path);
    free(what);
    return workload;
}

char *km_workload_selector(const json_t *workload, const struct kube_metrics_settings *s,
                           enum servo_error_kind kind, struct servo_error *error)
{
    char *why = NULL;
    char *selector =
        kube_label_selector(json_object_get(json_object_get(workload, "spec"), "selector"), &why);
    if (selector == NULL) {
        char *what = workload_what(s);
        servo_error_set(error, kind, "invalid-selector", "%s: spec.selector: %s", what, why);
        free(what);
        free(why);
    }
    return selector;
}

json_t *km_pod_metrics_get(struct kube_client *client, struct servo_event *event,
                           const struct kube_metrics_settings *s, const char *selector,
                           enum servo_error_kind kind, struct servo_error *error)
{
    char *escaped = kube_query_escape(selector);
    char *path =
        kube_printf(KM_METRICS_API "/namespaces/%s/pods?labelSelector=%s", s->namespace, escaped);
    char *what = kube_printf("PodMetrics (%s) in namespace \"%s\"", selector, s->namespace);
    struct kube_response r;
    int rc = kube_call(client, event, "GET", path, NULL, NULL, what, kind, &r, error);
    json_t *list = NULL;
    if (rc == 0)
        list = json_incref(r.body);
    else if (r.status == 404 || r.status == 503)
        servo_error_set(error, kind, "metrics-api-unavailable",
                        "the metrics API (APIService %s) is not available: HTTP %ld %s; "
                        "install metrics-server (or check its APIService's status)",
                        KM_APISERVICE, r.status, r.message ? r.message : "");
    kube_response_clear(&r);
    free(path);
    free(what);
    free(escaped);
    return list;
}

/* ---- describe and metrics --------------------------------------------------------------- */

static int metric_at(const struct kube_metrics_settings *s, size_t i)
{
    return ((const int *)s->metrics_to_collect.items)[i];
}

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    const struct kube_metrics_settings *s = settings_of(c);
    struct servo_description *d = servo_description_new();
    for (size_t i = 0; i < s->metrics_to_collect.count; i++)
        servo_description_add_metric(d, km_metric_names[metric_at(s, i)],
                                     km_metric_unit(metric_at(s, i)));
    servo_event_set_description(event, d);
    return 0;
}

static int on_metrics(struct servo_connector *c, struct servo_event *event)
{
    const struct kube_metrics_settings *s = settings_of(c);
    for (size_t i = 0; i < s->metrics_to_collect.count; i++)
        servo_event_add_metric(event, km_metric_names[metric_at(s, i)],
                               km_metric_unit(metric_at(s, i)));
    return 0;
}

/* ---- one sample ------------------------------------------------------------------------- */

static bool wants_usage(const bool wanted[KM_METRIC_COUNT], enum km_role role)
{
    static const enum km_quantity usage[] = {KM_CPU_USAGE, KM_CPU_SATURATION, KM_MEM_USAGE,
                                             KM_MEM_SATURATION};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++)
        if (wanted[role * KM_QUANTITY_COUNT + usage[i]])
            return true;
    return false;
}

struct sampler {
    struct kube_client *client;
    struct servo_event *event;
    const struct kube_metrics_settings *s;
    const bool *wanted;
    bool api_absent_logged;
};

static int sample_usage(struct sampler *sp, const char *selector, enum km_role role,
                        struct km_sample *sample, struct servo_error *error)
{
    char *role_selector =
        kube_printf("%s,opsani_role%s=tuning", selector, role == KM_TUNING ? "" : "!");
    json_t *list = km_pod_metrics_get(sp->client, sp->event, sp->s, role_selector,
                                      SERVO_ERROR_MEASUREMENT_FAILED, error);
    free(role_selector);
    if (list == NULL) {
        if (strcmp(error->reason, "metrics-api-unavailable") != 0 ||
            sp->s->when_unavailable != KM_UNAVAILABLE_SKIP)
            return -1;
        if (!sp->api_absent_logged)
            servo_warning("%s: the usage metrics are left out", error->message);
        sp->api_absent_logged = true;
        memset(error, 0, sizeof *error);
        return 0;
    }
    char *why = NULL;
    int rc = km_parse_pod_metrics(list, sp->s->container, role, sample, &why);
    if (rc != 0) {
        servo_error_set(error, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-response", "%s", why);
        free(why);
    }
    json_decref(list);
    return rc;
}

static int sample_pods(struct sampler *sp, const char *selector, struct km_sample *sample,
                       struct servo_error *error)
{
    char *path = kube_printf("/api/v1/namespaces/%s/pods", sp->s->namespace);
    char *what = kube_printf("the pods (%s) in namespace \"%s\"", selector, sp->s->namespace);
    json_t *items = NULL;
    int rc = kube_list(sp->client, sp->event, path, selector, what, &items, error);
    free(path);
    free(what);
    if (rc != 0) {
        error->kind = SERVO_ERROR_MEASUREMENT_FAILED;
        return -1;
    }
    char *why = NULL;
    rc = km_parse_pods(items, sp->s->container, sample, &why);
    if (rc != 0) {
        servo_error_set(error, SERVO_ERROR_MEASUREMENT_FAILED, "invalid-response", "%s", why);
        free(why);
    }
    json_decref(items);
    return rc;
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sample_once(struct sampler *sp, struct servo_measurement *m, struct servo_error *error)
{
    double now = wall_clock();
    json_t *workload =
        km_workload_get(sp->client, sp->event, sp->s, SERVO_ERROR_MEASUREMENT_FAILED, error);
    if (workload == NULL)
        return -1;
    char *selector = km_workload_selector(workload, sp->s, SERVO_ERROR_MEASUREMENT_FAILED, error);
    json_decref(workload);
    if (selector == NULL)
        return -1;
    struct km_sample sample = {0};
    int rc = sample_pods(sp, selector, &sample, error);
    for (int role = 0; role < KM_ROLE_COUNT && rc == 0; role++)
        if (wants_usage(sp->wanted, role))
            rc = sample_usage(sp, selector, role, &sample, error);
    if (rc == 0)
        km_sample_add(m, &sample, sp->wanted, now);
    km_sample_free(&sample);
    free(selector);
    return rc;
}

/* ---- measure ---------------------------------------------------------------------------- */

static servo_duration monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (servo_duration)ts.tv_sec * SERVO_SECOND + ts.tv_nsec;
}

static int cancelled(struct servo_event *event, const char *during)
{
    bool timeout = servo_event_remaining(event) <= 0;
    return servo_event_fail(event, SERVO_ERROR_MEASUREMENT_FAILED,
                            timeout ? "timeout" : "cancelled", "%s %s",
                            timeout ? "ran out of time" : "cancelled", during);
}

/* Samples at 0, f, 2f, ... while before `duration` (at least once). */
static int sample_for(struct sampler *sp, servo_duration duration, servo_duration frequency,
                      struct servo_measurement *m)
{
    servo_duration started = monotonic();
    char total[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(duration, total);
    for (long n = 0;; n++) {
        struct servo_error error = {0};
        if (sample_once(sp, m, &error) != 0) {
            if (servo_event_cancelled(sp->event))
                return cancelled(sp->event, "while sampling the metrics API");
            return servo_event_fail(sp->event, error.kind, error.reason, "%s", error.message);
        }
        servo_duration next = (servo_duration)(n + 1) * frequency;
        if (next >= duration)
            return 0;
        servo_event_progress(sp->event, 100.0 * (double)next / (double)duration,
                             "measuring kubernetes metrics for %s", total);
        servo_duration wait = next - (monotonic() - started);
        if (wait > 0 && servo_event_sleep(sp->event, wait) != 0)
            return cancelled(sp->event, "while measuring kubernetes metrics");
    }
}

static int on_measure(struct servo_connector *c, struct servo_event *event)
{
    const struct kube_metrics_settings *s = settings_of(c);
    bool wanted[KM_METRIC_COUNT] = {false};
    size_t count = 0;
    for (size_t i = 0; i < s->metrics_to_collect.count; i++) {
        int metric = metric_at(s, i);
        if (servo_event_wants_metric(event, km_metric_names[metric]) && !wanted[metric]) {
            wanted[metric] = true;
            count++;
        }
    }
    struct servo_measurement *m = servo_measurement_new();
    if (count == 0) {
        servo_event_set_measurement(event, m);
        return 0;
    }
    struct servo_error error = {0};
    struct sampler sp = {.event = event, .s = s, .wanted = wanted};
    sp.client = km_client(c, &error);
    if (sp.client == NULL) {
        servo_measurement_free(m);
        return servo_event_fail(event, SERVO_ERROR_MEASUREMENT_FAILED, error.reason, "%s",
                                error.message);
    }
    const struct servo_control *control = servo_event_control(event);
    servo_duration warmup = control->warmup > 0 ? control->warmup : 0;
    servo_duration duration = control->duration > 0 ? control->duration : 0;
    char total[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(warmup + duration, total);
    servo_info("Measuring %zu kubernetes metrics of %s \"%s\" for %s", count, km_kind_name(s->kind),
               s->name, total);
    int rc = 0;
    if (warmup > 0 && servo_event_sleep(event, warmup) != 0)
        rc = cancelled(event, "during the warmup");
    if (rc == 0)
        rc = sample_for(&sp, duration, s->metric_collection_frequency, m);
    if (rc != 0) {
        servo_measurement_free(m);
        return rc;
    }
    servo_event_set_measurement(event, m);
    return 0;
}

const struct servo_handler kube_metrics_handlers[] = {
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_METRICS, SERVO_ON, on_metrics},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {NULL, 0, NULL},
};
