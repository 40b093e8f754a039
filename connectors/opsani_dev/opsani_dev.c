// SPDX-License-Identifier: Apache-2.0
/* opsani_dev: the settings, the child connectors it is made of, the plugin. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "opsani_dev.h"
#include "servo/events.h"
#include "servo/util.h"

static const char *const kind_choices[] = {"Deployment", "Rollout", NULL}; /* opsani_dev_kind */
/* as the kubernetes connector's (enum kubernetes_failure_mode) */
static const char *const failure_choices[] = {"exception", "shutdown", "ignore", "rollback", NULL};

static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};
static const struct servo_field env_item = {.type = SERVO_FIELD_OBJECT,
                                            .object = &kubernetes_env_schema};

static const struct servo_field opsani_dev_fields[] = {
    {.name = "namespace",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, namespace),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The namespace of the workload and its Service"},
    {.name = "workload_name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, workload_name),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The Deployment (or Argo Rollout, with workload_kind) to optimize"},
    {.name = "workload_kind",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct opsani_dev_settings, workload_kind),
     .def = "Deployment",
     .choices = kind_choices,
     .description = "The workload's kind: Deployment, or Rollout (argoproj.io/v1alpha1; its "
                    "spec.template, not a workloadRef)"},
    {.name = "container",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, container),
     .description = "The container to optimize (default: the workload's name)"},
    {.name = "service",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, service),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The Service that routes traffic to the workload"},
    {.name = "port",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, port),
     .description = "The Service port (number or name) the Envoy sidecar fronts; needed when "
                    "the Service has several"},
    {.name = "cpu",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct opsani_dev_settings, cpu),
     .flags = SERVO_F_REQUIRED | SERVO_F_OPTIONAL,
     .object = &kubernetes_cpu_schema,
     .description = "The CPU range of the container"},
    {.name = "memory",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct opsani_dev_settings, memory),
     .flags = SERVO_F_REQUIRED | SERVO_F_OPTIONAL,
     .object = &kubernetes_memory_schema,
     .description = "The memory range of the container"},
    {.name = "env",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct opsani_dev_settings, env),
     .item = &env_item,
     .description = "Environment variables to optimize"},
    {.name = "static_environment_variables",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct opsani_dev_settings, static_environment_variables),
     .item = &string_item,
     .description = "Environment variables set on the tuning pod"},
    {.name = "prometheus_base_url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct opsani_dev_settings, prometheus_base_url),
     .def = "http://localhost:9090",
     .description = "Prometheus, which scrapes the Envoy sidecars"},
    {.name = "prometheus_step",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct opsani_dev_settings, prometheus_step),
     .def = "1m",
     .description = "The resolution of the Envoy metrics' range queries (not in ServoX, which "
                    "used 1m: shorter measurements need a shorter step)"},
    {.name = "envoy_sidecar_image",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, envoy_sidecar_image),
     .def = ENVOY_DEFAULT_IMAGE,
     .description = "The image of the Envoy sidecar"},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct opsani_dev_settings, timeout),
     .def = "5m",
     .description = "How long an adjustment may take"},
    {.name = "settlement",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct opsani_dev_settings, settlement),
     .description = "How long the pods must stay ready after an adjustment"},
    {.name = "on_failure",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct opsani_dev_settings, on_failure),
     .def = "rollback",
     .choices = failure_choices,
     .description = "What a tuning pod that fails after an adjustment gets: rollback (its "
                    "previous settings), shutdown (the template's), exception or ignore"},
    {.name = "container_logs_in_error_status",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct opsani_dev_settings, container_logs_in_error_status),
     .def = "false",
     .description = "Quote the failing container's log in a rejection"},
    {.name = "create_tuning_pod",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct opsani_dev_settings, create_tuning_pod),
     .def = "true",
     .description = "Tune a canary pod (false: the main workload, without tuning metrics)"},
    {.name = "kubeconfig",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, kubeconfig),
     .description = "A kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)"},
    {.name = "context",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct opsani_dev_settings, context),
     .description = "The kubeconfig's context (default: its current-context)"},
    {.name = "promote",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct opsani_dev_settings, promote),
     .def = "false",
     .description = "When `servo run` with the embedded optimizer ends at the best settings, "
                    "give them to the main workload (the promote event; not in ServoX). Off "
                    "by default: production changes only when asked to (or by `servo "
                    "opsani-dev promote`)"},
    SERVO_FIELDS_END,
};

static const struct servo_schema opsani_dev_schema = {
    .title = "Opsani Dev Connector Configuration",
    .description = "One Deployment and its Service, measured through an Envoy sidecar",
    .size = sizeof(struct opsani_dev_settings),
    .fields = opsani_dev_fields,
};

/* Copies `key` of `from` into `to` when it is set. */
static void copy_member(json_t *to, const json_t *from, const char *key)
{
    json_t *value = json_object_get(from, key);
    if (value && !json_is_null(value))
        json_object_set(to, key, value);
}

static json_t *kubernetes_child(const json_t *s, const char *name)
{
    bool tuning = json_is_true(json_object_get(s, "create_tuning_pod"));
    const char *container = json_string_value(json_object_get(s, "container"));
    json_t *c =
        json_pack("{s:s?, s:s}", "name",
                  container ? container : json_string_value(json_object_get(s, "workload_name")),
                  "alias", "main");
    copy_member(c, s, "cpu");
    copy_member(c, s, "memory");
    copy_member(c, s, "env");
    copy_member(c, s, "static_environment_variables");
    bool rollout =
        strcmp(json_string_value(json_object_get(s, "workload_kind")) ?: "", "Rollout") == 0;
    json_t *deployment = json_pack("{s:O, s:{s:s, s:s?}, s:{s:i, s:i, s:b}, s:[o]}", "name",
                                   json_object_get(s, "workload_name"), "strategy", "type",
                                   tuning ? "canary" : "default", "alias", tuning ? "tuning" : NULL,
                                   "replicas", "min", 0, "max", 1, "pinned", 1, "containers", c);
    json_t *settings = json_pack(
        "{s:O, s:O, s:O, s:O, s:[o]}", "namespace", json_object_get(s, "namespace"), "timeout",
        json_object_get(s, "timeout"), "container_logs_in_error_status",
        json_object_get(s, "container_logs_in_error_status"), "create_tuning_pod",
        json_object_get(s, "create_tuning_pod"), rollout ? "rollouts" : "deployments", deployment);
    copy_member(settings, s, "settlement");
    copy_member(settings, s, "on_failure");
    copy_member(settings, s, "kubeconfig");
    copy_member(settings, s, "context");
    char *instance = servo_strdup_printf("%s.kubernetes", name);
    json_t *child = json_pack("{s:s, s:s, s:o}", "connector", "kubernetes", "name", instance,
                              "settings", settings);
    free(instance);
    return child;
}

static json_t *prometheus_child(const json_t *s, const char *name)
{
    bool tuning = json_is_true(json_object_get(s, "create_tuning_pod"));
    json_t *metrics = json_array();
    for (const struct envoy_metric *m = opsani_dev_metrics; m->name; m++) {
        if (!tuning && strncmp(m->name, "tuning_", 7) == 0)
            continue;
        json_array_append_new(metrics,
                              json_pack("{s:s, s:s, s:s, s:s, s:O}", "name", m->name, "unit",
                                        m->unit, "query", m->query, "absent", m->absent, "step",
                                        json_object_get(s, "prometheus_step")));
    }
    char *instance = servo_strdup_printf("%s.prometheus", name);
    json_t *child = json_pack("{s:s, s:s, s:{s:O, s:o}}", "connector", "prometheus", "name",
                              instance, "settings", "base_url",
                              json_object_get(s, "prometheus_base_url"), "metrics", metrics);
    free(instance);
    return child;
}

/* kube_metrics: the resource use of the main and tuning pods. ServoX added it only when the
 * metrics API answered at startup; here it is always there (so `servo describe` lists the
 * same metrics whether or not metrics-server runs), with when_unavailable: skip: without the
 * metrics API a measurement reports requests, limits and restarts, warns, and does not fail.
 * opsani_dev's "Metrics API" check (a warning) tells the user. Optional: left out of a build
 * without the connector. */
static json_t *kube_metrics_child(const json_t *s, const char *name)
{
    char *instance = servo_strdup_printf("%s.kube_metrics", name);
    const json_t *container = json_object_get(s, "container");
    if (container == NULL || json_is_null(container))
        container = json_object_get(s, "workload_name");
    json_t *settings =
        json_pack("{s:O, s:O, s:O, s:O, s:s}", "namespace", json_object_get(s, "namespace"), "name",
                  json_object_get(s, "workload_name"), "kind", json_object_get(s, "workload_kind"),
                  "container", container, "when_unavailable", "skip");
    copy_member(settings, s, "kubeconfig");
    copy_member(settings, s, "context");
    json_t *child = json_pack("{s:s, s:s, s:o, s:b}", "connector", "kube_metrics", "name", instance,
                              "settings", settings, "optional", 1);
    free(instance);
    return child;
}

static json_t *opsani_dev_children(const char *name, const json_t *settings)
{
    return json_pack("[o, o, o]", kubernetes_child(settings, name),
                     prometheus_child(settings, name), kube_metrics_child(settings, name));
}

static const struct servo_handler opsani_dev_handlers[] = {
    {SERVO_EVENT_PROMOTE, SERVO_ON, promote_on_event},
    {NULL, 0, NULL},
};

static const struct servo_command opsani_dev_commands[] = {
    {"inject-sidecar", "Inject the Envoy sidecar into the Deployment, retarget the Service",
     "[deployment/NAME|rollout/NAME] [--image IMAGE] [-n NAMESPACE] [-s SERVICE | -p PORT] "
     "[--dry-run]",
     sidecar_inject_command},
    {"eject-sidecar", "Remove the Envoy sidecar, restore the Service's target port",
     "[deployment/NAME|rollout/NAME] [-n NAMESPACE] [-s SERVICE] [--dry-run]",
     sidecar_eject_command},
    {"promote", "Give the main workload the tuning pod's settings (the best, after a run)", "",
     promote_command},
    {NULL, NULL, NULL, NULL},
};

const struct servo_connector_plugin servo_connector_opsani_dev = {
    SERVO_CONNECTOR_HEADER,
    .name = "opsani_dev",
    .class_name = "OpsaniDevConnector",
    .version = "0.8.0",
    .description = "Optimize a Deployment and its Service through an Envoy sidecar",
    .homepage = "https://github.com/opsani/servox",
    .license = "Apache 2.0",
    .maturity = "Experimental",
    .settings = &opsani_dev_schema,
    .fini = opsani_dev_checks_fini,
    .checks = opsani_dev_checks,
    .handlers = opsani_dev_handlers,
    .commands = opsani_dev_commands,
    .children = opsani_dev_children,
    .generate = "namespace: default\n"
                "workload_name: app\n"
                "container: app\n"
                "service: app\n"
                "cpu:\n"
                "  min: 250m\n"
                "  max: '2'\n"
                "memory:\n"
                "  min: 256Mi\n"
                "  max: 2Gi\n"
                "prometheus_base_url: http://prometheus:9090\n",
};
