// SPDX-License-Identifier: Apache-2.0
/* kube_metrics: the settings and the plugin. */
#include <stddef.h>

#include "kube_metrics.h"

static const char *const kind_choices[] = {"Deployment", "StatefulSet", "Rollout", NULL};
static const char *const unavailable_choices[] = {"fail", "skip", NULL};

const char *const km_metric_names[] = {
    "tuning_cpu_usage",
    "tuning_cpu_request",
    "tuning_cpu_limit",
    "tuning_cpu_saturation",
    "tuning_mem_usage",
    "tuning_mem_request",
    "tuning_mem_limit",
    "tuning_mem_saturation",
    "tuning_pod_restart_count",
    "main_cpu_usage",
    "main_cpu_request",
    "main_cpu_limit",
    "main_cpu_saturation",
    "main_mem_usage",
    "main_mem_request",
    "main_mem_limit",
    "main_mem_saturation",
    "main_pod_restart_count",
    NULL,
};

const char *km_metric_unit(int metric)
{
    int quantity = metric % KM_QUANTITY_COUNT;
    if (quantity == KM_CPU_SATURATION || quantity == KM_MEM_SATURATION)
        return "%";
    return quantity == KM_POD_RESTART_COUNT ? "count" : "";
}

const char *km_kind_name(int kind)
{
    return kind >= 0 && kind <= KM_ROLLOUT ? kind_choices[kind] : "Deployment";
}

static const struct servo_field metric_item = {.type = SERVO_FIELD_ENUM,
                                               .choices = km_metric_names};

static const struct servo_field kube_metrics_fields[] = {
    {.name = "namespace",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kube_metrics_settings, namespace),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
     .description = "Namespace of the target resource"},
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kube_metrics_settings, name),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "Name of the target resource"},
    {.name = "kind",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kube_metrics_settings, kind),
     .def = "Deployment",
     .choices = kind_choices,
     .description = "Kind of the target resource: Deployment, StatefulSet or (Argo) Rollout"},
    {.name = "container",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kube_metrics_settings, container),
     .flags = SERVO_F_NONEMPTY,
     .description = "Name of the target resource container; required when the pods have "
                    "several"},
    {.name = "metrics_to_collect",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kube_metrics_settings, metrics_to_collect),
     .def = "[tuning_cpu_usage, tuning_cpu_request, tuning_cpu_limit, tuning_cpu_saturation, "
            "tuning_mem_usage, tuning_mem_request, tuning_mem_limit, tuning_mem_saturation, "
            "tuning_pod_restart_count, main_cpu_usage, main_cpu_request, main_cpu_limit, "
            "main_cpu_saturation, main_mem_usage, main_mem_request, main_mem_limit, "
            "main_mem_saturation, main_pod_restart_count]",
     .item = &metric_item,
     .description = "The metrics this connector reports (default: all 18)"},
    {.name = "metric_collection_frequency",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct kube_metrics_settings, metric_collection_frequency),
     .flags = SERVO_F_MIN,
     .min = SERVO_SECOND / 10,
     .def = "1m",
     .description = "How often the metrics API is sampled during a measurement"},
    {.name = "when_unavailable",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kube_metrics_settings, when_unavailable),
     .def = "fail",
     .choices = unavailable_choices,
     .description = "When the metrics API is not served (no metrics-server): fail the "
                    "measurement, or skip the usage metrics with a warning (not in ServoX; "
                    "opsani_dev uses skip)"},
    {.name = "kubeconfig",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kube_metrics_settings, kubeconfig),
     .description = "Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, "
                    "in-cluster)"},
    {.name = "context",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kube_metrics_settings, context),
     .description = "Name of the kubeconfig context to use"},
    SERVO_FIELDS_END,
};

static const struct servo_schema kube_metrics_schema = {
    .title = "Kube Metrics Connector Configuration",
    .description = "The pods of a workload, measured through the Kubernetes metrics API",
    .size = sizeof(struct kube_metrics_settings),
    .fields = kube_metrics_fields,
};

const struct servo_connector_plugin servo_connector_kube_metrics = {
    SERVO_CONNECTOR_HEADER,
    .name = "kube_metrics",
    .class_name = "KubeMetricsConnector",
    .version = "0.0.1",
    .description = "Kubernetes metrics-server connector",
    .homepage = "https://github.com/opsani/servox",
    .license = "Apache 2.0",
    .maturity = "Experimental",
    .settings = &kube_metrics_schema,
    .fini = km_fini,
    .handlers = kube_metrics_handlers,
    .checks = kube_metrics_checks,
    .generate = "namespace: default\n"
                "name: app\n"
                "kind: Deployment\n"
                "container: app\n",
};
