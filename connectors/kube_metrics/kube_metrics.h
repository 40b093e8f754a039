// SPDX-License-Identifier: Apache-2.0
/* The kube_metrics connector (ServoX's KubeMetricsConnector): CPU and memory usage, requests,
 * limits and saturation, and restart counts of a workload's main pods and its tuning pod, from
 * the resource metrics API (metrics.k8s.io/v1beta1, served by metrics-server) and the pods
 * themselves, sampled every metric_collection_frequency during a measurement; one series per
 * metric per pod. The API client is the kubernetes connector's (kubernetes/kube.h). Files:
 * kube_metrics.c (settings, plugin), sample.c (reading the API's answers into samples and
 * samples into series), measure.c (describe, metrics, measure), checks.c. */
#ifndef SERVO_CONNECTOR_KUBE_METRICS_H
#define SERVO_CONNECTOR_KUBE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "kubernetes/internal.h"
#include "kubernetes/kube.h"
#include "servo/checks.h"
#include "servo/connector.h"
#include "servo/model.h"
#include "servo/settings.h"

#define KM_METRICS_API "/apis/metrics.k8s.io/v1beta1"
#define KM_APISERVICE "v1beta1.metrics.k8s.io"

enum km_kind { KM_DEPLOYMENT, KM_STATEFULSET, KM_ROLLOUT };

/* What the connector does when the metrics API is absent (404, 503): fail the measurement, or
 * skip (log it and report no usage; opsani_dev's child does this). */
enum km_unavailable { KM_UNAVAILABLE_FAIL, KM_UNAVAILABLE_SKIP };

enum km_role { KM_TUNING, KM_MAIN, KM_ROLE_COUNT };
enum km_quantity {
    KM_CPU_USAGE,
    KM_CPU_REQUEST,
    KM_CPU_LIMIT,
    KM_CPU_SATURATION,
    KM_MEM_USAGE,
    KM_MEM_REQUEST,
    KM_MEM_LIMIT,
    KM_MEM_SATURATION,
    KM_POD_RESTART_COUNT,
    KM_QUANTITY_COUNT,
};
/* A metric is role * KM_QUANTITY_COUNT + quantity: tuning_cpu_usage (0) ... main_pod_restart_count
 * (17), ServoX's order. */
#define KM_METRIC_COUNT (KM_ROLE_COUNT * KM_QUANTITY_COUNT)

struct kube_metrics_settings {
    char *namespace;
    char *name;
    int kind; /* enum km_kind */
    char *container;
    struct servo_list metrics_to_collect; /* int: a metric index */
    servo_duration metric_collection_frequency;
    int when_unavailable; /* enum km_unavailable */
    char *kubeconfig;
    char *context;
};

extern const struct servo_connector_plugin servo_connector_kube_metrics;
/* "tuning_cpu_usage", ...; NULL-terminated. */
extern const char *const km_metric_names[];
/* "" , "%" (saturation) or "count" (restarts). */
const char *km_metric_unit(int metric);
const char *km_kind_name(int kind);

/* ---- samples (sample.c) ------------------------------------------------------------------ */

enum km_resource { KM_CPU, KM_MEMORY };

/* One pod at one sample: usage of the target container (cores, bytes) from the metrics API;
 * requests, limits (of the same container) and restarts from the pod. NaN: not known. */
struct km_pod {
    char *name;
    enum km_role role;
    double usage[2];
    double request[2];
    double limit[2];
    double restarts;
};

struct km_sample {
    struct km_pod *pods;
    size_t count;
    size_t capacity;
};

/* A PodMetricsList (the body of GET .../pods): each item's usage of the target container
 * (`container`, or the only one) joins `sample` (its pod is added when new, as `role`). 0, or
 * -1 with a message naming the item and the field (caller frees). */
int km_parse_pod_metrics(const json_t *list, const char *container, enum km_role role,
                         struct km_sample *sample, char **error);
/* The items of a pod list: requests, limits and restart counts; a pod labelled
 * opsani_role=tuning is the tuning one. 0, or -1 with a message (caller frees). */
int km_parse_pods(const json_t *items, const char *container, struct km_sample *sample,
                  char **error);
void km_sample_free(struct km_sample *sample);
/* The sample as points at `time` of the `wanted` metrics (indexed by metric), one series per
 * metric per pod (id: the pod's name); a value not known is left out. Saturation is
 * 100 * usage / request, the limit standing in for a missing request. */
void km_sample_add(struct servo_measurement *m, const struct km_sample *sample,
                   const bool wanted[KM_METRIC_COUNT], double time);
/* Metrics-server's CPU ("1015343n", "250m", "2") as cores: exact for n and u. */
int km_cpu_cores(const char *text, double *cores, const char **why);

/* ---- API (measure.c) --------------------------------------------------------------------- */

/* The client, made once per instance: NULL with `error` set. */
struct kube_client *km_client(struct servo_connector *c, struct servo_error *error);
void km_fini(struct servo_connector *c);
/* /apis/apps/v1/namespaces/NS/deployments/NAME (or statefulsets, or argoproj.io rollouts). */
char *km_workload_path(const struct kube_metrics_settings *s);
/* GET the workload: a new reference, or NULL with `error` (kind `kind`). */
json_t *km_workload_get(struct kube_client *client, struct servo_event *event,
                        const struct kube_metrics_settings *s, enum servo_error_kind kind,
                        struct servo_error *error);
/* The workload's label selector ("app=web"), or NULL with `error`. */
char *km_workload_selector(const json_t *workload, const struct kube_metrics_settings *s,
                           enum servo_error_kind kind, struct servo_error *error);
/* GET the PodMetricsList for `selector`: the body (new reference), or NULL with `error`; an
 * absent API (404, 503) has reason "metrics-api-unavailable" and names the APIService. */
json_t *km_pod_metrics_get(struct kube_client *client, struct servo_event *event,
                           const struct kube_metrics_settings *s, const char *selector,
                           enum servo_error_kind kind, struct servo_error *error);
extern const struct servo_handler kube_metrics_handlers[];

/* ---- checks (checks.c) ------------------------------------------------------------------- */

extern const struct servo_check_def kube_metrics_checks[];

#endif
