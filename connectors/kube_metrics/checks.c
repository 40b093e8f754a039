// SPDX-License-Identifier: Apache-2.0
/* kube_metrics' checks, as ServoX's KubeMetricsChecks: the workload is readable, the metrics
 * API may be listed (a SelfSubjectAccessReview), the metrics API answers, and the container
 * to measure is named or the only one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_metrics.h"

#define INSTALL_METRICS_SERVER \
    "kubectl apply -f "        \
    "https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml"

static const struct kube_metrics_settings *settings_of(const struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static struct kube_client *client_or_fail(struct servo_connector *c, struct servo_check *check)
{
    return kube_check_client(c, km_client, check);
}

static json_t *workload_or_fail(struct servo_connector *c, struct servo_event *event,
                                struct servo_check *check)
{
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return NULL;
    struct servo_error error = {0};
    json_t *workload = km_workload_get(client, event, settings_of(c), SERVO_ERROR_FAILED, &error);
    if (workload == NULL)
        kube_check_fail(check, &error);
    return workload;
}

/* ---- <Kind> "<name>" is readable ------------------------------------------------------- */

static size_t one_item(struct servo_connector *c)
{
    (void)c;
    return 1;
}

static const char *target_label(struct servo_connector *c, size_t index)
{
    (void)index;
    const struct kube_metrics_settings *s = settings_of(c);
    /* the caller copies the label at once */
    static __thread char label[256];
    snprintf(label, sizeof label, "%s \"%s\"", km_kind_name(s->kind), s->name);
    return label;
}

static int check_target(struct servo_connector *c, struct servo_event *event, size_t item,
                        struct servo_check *check)
{
    (void)item;
    json_t *workload = workload_or_fail(c, event, check);
    if (workload == NULL)
        return -1;
    servo_check_message(check, "found in namespace \"%s\"", settings_of(c)->namespace);
    json_decref(workload);
    return 0;
}

/* ---- Metrics API Permissions ------------------------------------------------------------ */

static int check_permissions(struct servo_connector *c, struct servo_event *event, size_t item,
                             struct servo_check *check)
{
    (void)item;
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return -1;
    const struct kube_metrics_settings *s = settings_of(c);
    struct servo_error error = {0};
    int allowed =
        kube_access_review(client, event, s->namespace, "metrics.k8s.io", "pods", "list", &error);
    if (allowed < 0)
        return kube_check_fail(check, &error);
    if (!allowed)
        return servo_check_fail(check,
                                "not allowed to \"list\" resource \"pods\" in group "
                                "\"metrics.k8s.io\" in namespace \"%s\"",
                                s->namespace);
    servo_check_message(check, "may list pods.metrics.k8s.io in namespace \"%s\"", s->namespace);
    return 0;
}

/* ---- Metrics API connectivity ----------------------------------------------------------- */

static int check_metrics_api(struct servo_connector *c, struct servo_event *event, size_t item,
                             struct servo_check *check)
{
    (void)item;
    const struct kube_metrics_settings *s = settings_of(c);
    json_t *workload = workload_or_fail(c, event, check);
    if (workload == NULL)
        return -1;
    struct servo_error error = {0};
    char *selector = km_workload_selector(workload, s, SERVO_ERROR_FAILED, &error);
    json_decref(workload);
    if (selector == NULL)
        return kube_check_fail(check, &error);
    json_t *list = km_pod_metrics_get(client_or_fail(c, check), event, s, selector,
                                      SERVO_ERROR_FAILED, &error);
    int rc = 0;
    struct km_sample sample = {0};
    char *why = NULL;
    if (list == NULL && strcmp(error.reason, "metrics-api-unavailable") == 0 &&
        s->when_unavailable == KM_UNAVAILABLE_SKIP)
        servo_check_message(check, "%s (when_unavailable: skip: usage is left out)", error.message);
    else if (list == NULL)
        rc = kube_check_fail(check, &error);
    else if (km_parse_pod_metrics(list, s->container, KM_MAIN, &sample, &why) != 0)
        rc = servo_check_fail(check, "%s", why);
    else
        servo_check_message(check, "%zu pods with metrics (%s)", sample.count, selector);
    free(why);
    km_sample_free(&sample);
    json_decref(list);
    free(selector);
    return rc;
}

/* ---- Container configured or target is single container application ------------------- */

static int check_container(struct servo_connector *c, struct servo_event *event, size_t item,
                           struct servo_check *check)
{
    (void)item;
    const struct kube_metrics_settings *s = settings_of(c);
    json_t *workload = workload_or_fail(c, event, check);
    if (workload == NULL)
        return -1;
    const json_t *spec =
        json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "spec");
    json_t *found = s->container ? kube_find_container(spec, s->container) : NULL;
    size_t count = json_array_size(json_object_get(spec, "containers"));
    char *names = kube_container_names(spec);
    int rc = 0;
    if (s->container != NULL && found == NULL)
        rc = servo_check_fail(check,
                              "Configured container %s was not found in target app containers "
                              "(%s)",
                              s->container, names);
    else if (s->container == NULL && count != 1)
        rc = servo_check_fail(check,
                              "Container name must be configured for target application with "
                              "multiple containers (%s)",
                              names);
    else
        servo_check_message(
            check, "container \"%s\"",
            s->container ? s->container
                         : json_string_value(json_object_get(
                               json_array_get(json_object_get(spec, "containers"), 0), "name")));
    free(names);
    json_decref(workload);
    return rc;
}

const struct servo_check_def kube_metrics_checks[] = {
    {.name = "{item} is readable",
     .id = "check_target_resource",
     .description = "The workload can be read from the API server.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes,kube-metrics",
     .hint = "Check namespace, name and kind, and the credentials' permissions (get).",
     .run = check_target,
     .item_count = one_item,
     .item_label = target_label},
    {.name = "Metrics API Permissions",
     .id = "check_metrics_api_permissions",
     .description = "The credentials may list pods.metrics.k8s.io in the namespace.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes,kube-metrics,permissions",
     .hint = "Grant list on pods in the API group metrics.k8s.io (a Role or ClusterRole).",
     .run = check_permissions},
    {.name = "Metrics API connectivity",
     .id = "check_metrics_api",
     .description = "The metrics API (APIService " KM_APISERVICE ") answers for the workload.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes,kube-metrics,connectivity",
     .hint = "Install metrics-server, then see `kubectl get apiservice " KM_APISERVICE "`.",
     .remedy = INSTALL_METRICS_SERVER,
     .run = check_metrics_api},
    {.name = "Container configured or target is single container application",
     .id = "check_target_containers",
     .description = "The container to measure is named, or the pods have only one.",
     .tags = "kubernetes,kube-metrics",
     .hint = "Set `container` to one of the pod template's containers.",
     .run = check_container},
    {.name = NULL},
};
