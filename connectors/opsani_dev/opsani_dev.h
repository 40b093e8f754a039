// SPDX-License-Identifier: Apache-2.0
/* The opsani_dev connector: one Deployment and its Service, measured by an Envoy sidecar
 * (`servo inject-sidecar`), tuned through a canary ("tuning") pod. It is made of other
 * connectors (plugin->children): kubernetes (the `main` container and the `tuning` canary),
 * prometheus (the 13 Envoy metrics) and kube_metrics (resource use; see opsani_dev.c); its
 * own part is the onboarding checks (checks.c) and the sidecar commands (sidecar.c). */
#ifndef SERVO_CONNECTOR_OPSANI_DEV_H
#define SERVO_CONNECTOR_OPSANI_DEV_H

#include <stdbool.h>

#include <jansson.h>

#include "kubernetes/kube.h"
#include "kubernetes/kubernetes.h"
#include "servo/checks.h"
#include "servo/connector.h"
#include "servo/settings.h"

#define ENVOY_CONTAINER "opsani-envoy"
#define ENVOY_PROXY_PORT 9980
#define ENVOY_METRICS_PORT 9901
#define ENVOY_PROXY_PORT_NAME "opsani-proxy"
#define ENVOY_METRICS_PORT_NAME "opsani-metrics"
/* On the Service: what inject-sidecar changed, so that eject-sidecar restores exactly that:
 * {"deployment": "web", "port": 0 (index), "targetPort": <the original, or null>}. */
#define ENVOY_SERVICE_ANNOTATION "servo.opsani.com/envoy-sidecar"
#define ENVOY_DEFAULT_IMAGE "opsani/envoy-proxy:v1.24.0"

/* Indexes into workload_kind's choices. */
enum opsani_dev_kind { OPSANI_DEV_DEPLOYMENT, OPSANI_DEV_ROLLOUT };

struct opsani_dev_settings {
    char *namespace;
    char *workload_name;
    int workload_kind; /* enum opsani_dev_kind */
    char *container;   /* NULL: the workload's name */
    char *service;
    char *port; /* a number or a name; NULL: the Service's only port */
    struct kubernetes_resource *cpu;
    struct kubernetes_resource *memory;
    struct servo_list env;                         /* struct kubernetes_env */
    struct servo_map static_environment_variables; /* char * */
    char *prometheus_base_url;
    servo_duration prometheus_step;
    char *envoy_sidecar_image;
    servo_duration timeout;
    servo_duration settlement; /* SERVO_UNSET when not given */
    int on_failure;            /* enum kubernetes_failure_mode */
    bool container_logs_in_error_status;
    bool create_tuning_pod;
    char *kubeconfig;
    char *context;
    bool promote; /* at the end of a run at the best settings: promote them (the event) */
};

extern const struct servo_connector_plugin servo_connector_opsani_dev;

/* ---- the API server (sidecar.c) ----------------------------------------------------------- */

char *opsani_dev_deployment_path(const char *namespace, const char *name);
/* The workload's path (a Deployment's or an Argo Rollout's) and kind ("Deployment"). */
char *opsani_dev_workload_path(const struct opsani_dev_settings *s);
const char *opsani_dev_kind_name(const struct opsani_dev_settings *s);
char *opsani_dev_service_path(const char *namespace, const char *name);
/* GET `path` (`ev` may be NULL): the object (new reference), or NULL with *why (the caller
 * frees): "not found", the API server's message, or `failed` when it gave neither. */
json_t *opsani_dev_get(struct kube_client *client, const char *path, struct servo_event *ev,
                       const char *failed, char **why);

/* ---- the sidecar (sidecar.c) --------------------------------------------------------------- */

struct sidecar_request {
    const char *namespace;
    const char *deployment; /* the workload's name */
    bool rollout;           /* it is an Argo Rollout (rollout/NAME), not a Deployment */
    const char *image;      /* inject only */
    const char *service;    /* NULL: none (then `port` is a container port) */
    const char *port;       /* a number or a name; NULL: the Service's only port */
    bool dry_run;
};

/* The container inject-sidecar adds, proxying to `container_port` (new reference). */
json_t *sidecar_container(const char *image, long container_port);
/* Where the sidecar's ports collide with the pod spec's containers: NULL when they do not,
 * else a message naming the container and the port (caller frees). */
char *sidecar_port_conflict(const json_t *pod_spec);
/* The Service port the sidecar fronts: `port` (a number or a name) or the only one. Its index,
 * or -1 with a message naming the Service and its ports (caller frees). */
int sidecar_service_port(const json_t *service, const char *port, char **error);
/* The container port a Service port's targetPort leads to (a name is resolved against the
 * pod spec's container ports; none: the port itself); -1 with a message (caller frees). */
long sidecar_target_port(const json_t *service_port, const json_t *pod_spec, char **error);

/* inject-sidecar and eject-sidecar: 0, or -1 with the message printed on stderr. What changed
 * (or, with dry_run, the patches) goes to stdout. A failure after the first write undoes it. */
int sidecar_inject(struct kube_client *client, const struct sidecar_request *request);
int sidecar_eject(struct kube_client *client, const struct sidecar_request *request);
/* The commands: `servo inject-sidecar` (connector NULL) and `servo opsani_dev
 * inject-sidecar` (the defaults from the instance's settings). */
int sidecar_inject_command(struct servo_connector *connector, int argc, char **argv);
int sidecar_eject_command(struct servo_connector *connector, int argc, char **argv);

/* ---- promote (promote.c) ---------------------------------------------------------------- */

/* The strategic-merge patch that gives the main Deployment's container the tuning pod's
 * resources and optimized env (new reference), or NULL when the pod lacks the container. */
json_t *promote_patch(const json_t *tuning_pod, const struct opsani_dev_settings *s);
/* A Rollout takes merge patches only, which replace the containers list: the Rollout's
 * whole list with the container's resources and optimized env replaced from `patch`
 * (promote_patch's), as a merge patch guarded by the Rollout's resourceVersion (new
 * reference; NULL when the Rollout lacks the container). */
json_t *promote_rollout_patch(const json_t *rollout, const json_t *patch);
/* Promotes the tuning pod's settings to the main workload: 0 with what changed (caller
 * frees), or -1 with why not (caller frees). `ev` may be NULL. */
int promote_apply(struct kube_client *client, struct servo_event *ev,
                  const struct opsani_dev_settings *s, char **changed, char **error);
int promote_command(struct servo_connector *connector, int argc, char **argv);
/* The `promote` event's handler (`servo run`, at the end of an embedded optimization). */
int promote_on_event(struct servo_connector *connector, struct servo_event *event);

/* ---- checks (checks.c) --------------------------------------------------------------------- */

extern const struct servo_check_def opsani_dev_checks[];
/* The API server's /version against the supported range: 0 (supported), 1 (newer than the
 * newest tested: a warning) or -1 (not supported); the message says which (caller frees). */
int opsani_dev_version_supported(const json_t *version, char **message);
/* What the container lacks for the cpu and memory settings to read their values (their `get`
 * requirements), or NULL (caller frees). */
/* What is wrong with the main pods (a pod list) as Prometheus targets (the "data" of
 * /api/v1/targets): a pod without an active target labelled kubernetes_namespace=`ns` and
 * kubernetes_pod_name=<pod>, or whose target is not up; NULL when none (caller frees). */
char *opsani_dev_targets_problem(const json_t *pods, const json_t *targets, const char *ns);
char *opsani_dev_requirements_missing(const json_t *container, const struct opsani_dev_settings *s);
/* Frees what the checks kept (the API client). */
void opsani_dev_checks_fini(struct servo_connector *connector);
/* The 13 Envoy metrics: name, unit, query, absent handling. */
struct envoy_metric {
    const char *name;
    const char *unit;
    const char *query;
    const char *absent;
};
extern const struct envoy_metric opsani_dev_metrics[];

#endif
