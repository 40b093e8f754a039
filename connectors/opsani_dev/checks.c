// SPDX-License-Identifier: Apache-2.0
/* opsani_dev's onboarding checks, in ServoX's order: the cluster, the workload and its
 * container, the Service, Prometheus, the Envoy sidecar, traffic, the tuning pod. Each says
 * what to do when it fails (the hint, with the kubectl or servo command); `servo check
 * --remedy` runs the remedies that a command can apply (the sidecar, the Service's port). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsani_dev.h"
#include "servo/events.h"
#include "servo/http.h"
#include "servo/util.h"

/* sum by role: ServoX's queries, on the Envoy cluster metrics the sidecars export */
#define MAIN "opsani_role!=\"tuning\""
#define TUNING "opsani_role=\"tuning\""
const struct envoy_metric opsani_dev_metrics[] = {
    {"main_instance_count", "", "sum(envoy_cluster_membership_healthy{" MAIN "})", "zero"},
    {"tuning_instance_count", "", "envoy_cluster_membership_healthy{" TUNING "}", "zero"},
    {"total_request_rate", "rps", "sum(rate(envoy_cluster_upstream_rq_total[1m]))", "zero"},
    {"main_request_rate", "rps", "avg(rate(envoy_cluster_upstream_rq_total{" MAIN "}[1m]))",
     "zero"},
    {"tuning_request_rate", "rps", "avg(rate(envoy_cluster_upstream_rq_total{" TUNING "}[1m]))",
     "zero"},
    {"main_success_rate", "rps",
     "avg(sum by(kubernetes_pod_name)(rate(envoy_cluster_upstream_rq_xx{" MAIN
     ", envoy_response_code_class=~\"2|3\"}[1m])))",
     "zero"},
    {"tuning_success_rate", "rps",
     "avg(sum by(kubernetes_pod_name)(rate(envoy_cluster_upstream_rq_xx{" TUNING
     ", envoy_response_code_class=~\"2|3\"}[1m])))",
     "zero"},
    {"main_error_rate", "rps",
     "avg(sum by(kubernetes_pod_name)(rate(envoy_cluster_upstream_rq_xx{" MAIN
     ", envoy_response_code_class=~\"4|5\"}[1m])))",
     "zero"},
    {"tuning_error_rate", "rps",
     "avg(sum by(kubernetes_pod_name)(rate(envoy_cluster_upstream_rq_xx{" TUNING
     ", envoy_response_code_class=~\"4|5\"}[1m])))",
     "zero"},
    {"main_p90_latency", "ms",
     "avg(histogram_quantile(0.9,rate(envoy_cluster_upstream_rq_time_bucket{" MAIN "}[1m])))",
     "ignore"},
    {"tuning_p90_latency", "ms",
     "avg(histogram_quantile(0.9,rate(envoy_cluster_upstream_rq_time_bucket{" TUNING "}[1m])))",
     "ignore"},
    {"main_p50_latency", "ms",
     "avg(histogram_quantile(0.5,rate(envoy_cluster_upstream_rq_time_bucket{" MAIN "}[1m])))",
     "ignore"},
    {"tuning_p50_latency", "ms",
     "avg(histogram_quantile(0.5,rate(envoy_cluster_upstream_rq_time_bucket{" TUNING "}[1m])))",
     "ignore"},
    {NULL, NULL, NULL, NULL},
};

/* ---- helpers ------------------------------------------------------------------------------- */

static const struct opsani_dev_settings *settings_of(struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static const char *container_name(const struct opsani_dev_settings *s)
{
    return s->container ? s->container : s->workload_name;
}

/* The workload's resource for kubectl: "deployment" or "rollout". */
static const char *kind_resource(const struct opsani_dev_settings *s)
{
    return s->workload_kind == OPSANI_DEV_ROLLOUT ? "rollout" : "deployment";
}

/* The client of this check run (made once; its error kept in the state). */
struct checks_state {
    struct kube_client *client;
    char *error;
};

static struct kube_client *checks_client(struct servo_connector *c, struct servo_error *error)
{
    struct checks_state *state = servo_connector_state(c);
    if (state == NULL) {
        const struct opsani_dev_settings *s = settings_of(c);
        state = calloc(1, sizeof *state);
        if (state == NULL)
            abort();
        struct kube_config_source source = {.kubeconfig = s->kubeconfig, .context = s->context};
        state->client = kube_client_create(&source, &state->error);
        servo_connector_set_state(c, state);
    }
    if (state->client == NULL)
        servo_error_set(error, SERVO_ERROR_FAILED, "configuration", "%s", state->error);
    return state->client;
}

static struct kube_client *client_of(struct servo_connector *c, struct servo_check *check)
{
    return kube_check_client(c, checks_client, check);
}

/* GET `path`: the object (new reference), or NULL with the check failed naming `what`. */
static json_t *get(struct servo_connector *c, struct servo_event *ev, struct servo_check *check,
                   const char *path, const char *what)
{
    struct kube_client *client = client_of(c, check);
    if (client == NULL)
        return NULL;
    char *why = NULL;
    json_t *object = opsani_dev_get(client, path, ev, "failed", &why);
    if (object == NULL)
        servo_check_fail(check, "%s: %s", what, why);
    free(why);
    return object;
}

/* Whether the API server serves rollouts.argoproj.io (its CRD is installed). */
static bool rollouts_served(struct kube_client *client, struct servo_event *ev)
{
    char *why = NULL;
    json_t *list = opsani_dev_get(client, "/apis/argoproj.io/v1alpha1", ev, "failed", &why);
    bool served = false;
    size_t i;
    json_t *resource;
    json_array_foreach(json_object_get(list, "resources"), i, resource)
    {
        served = served || strcmp(json_string_value(json_object_get(resource, "name")) ?: "",
                                  "rollouts") == 0;
    }
    json_decref(list);
    free(why);
    return served;
}

/* The workload (a Deployment or an Argo Rollout); a missing Rollout CRD is said as such. */
static json_t *get_deployment(struct servo_connector *c, struct servo_event *ev,
                              struct servo_check *check)
{
    const struct opsani_dev_settings *s = settings_of(c);
    char *path = opsani_dev_workload_path(s);
    char *what = servo_strdup_printf("%s \"%s\" in namespace \"%s\"", opsani_dev_kind_name(s),
                                     s->workload_name, s->namespace);
    json_t *d = get(c, ev, check, path, what);
    if (d == NULL && s->workload_kind == OPSANI_DEV_ROLLOUT && client_of(c, check) != NULL &&
        !rollouts_served(client_of(c, check), ev)) {
        servo_check_fail(check,
                         "%s: the Rollout CRD (rollouts.argoproj.io) is not installed in the "
                         "cluster",
                         what);
        servo_check_hint(check, "Install Argo Rollouts (kubectl apply -n argo-rollouts -f "
                                "https://github.com/argoproj/argo-rollouts/releases/latest/"
                                "download/install.yaml), or set workload_kind: Deployment");
    }
    free(path);
    free(what);
    return d;
}

static json_t *get_service(struct servo_connector *c, struct servo_event *ev,
                           struct servo_check *check)
{
    const struct opsani_dev_settings *s = settings_of(c);
    char *path = opsani_dev_service_path(s->namespace, s->service);
    char *what =
        servo_strdup_printf("Service \"%s\" in namespace \"%s\"", s->service, s->namespace);
    json_t *d = get(c, ev, check, path, what);
    free(path);
    free(what);
    return d;
}

/* The pod template's labels or annotations (`key`), borrowed. */
static const json_t *template_metadata(const json_t *workload, const char *key)
{
    return json_object_get(
        json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "metadata"),
        key);
}

static const json_t *pod_spec_of(const json_t *deployment)
{
    return json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"),
                           "spec");
}

static const json_t *find_container(const json_t *pod_spec, const char *name)
{
    size_t i;
    json_t *container;
    json_array_foreach(json_object_get(pod_spec, "containers"), i, container)
    {
        if (strcmp(json_string_value(json_object_get(container, "name")) ?: "", name) == 0)
            return container;
    }
    return NULL;
}

static char *container_list(const json_t *pod_spec)
{
    char *text = servo_strdup_printf("%s", "");
    size_t i;
    json_t *container;
    json_array_foreach(json_object_get(pod_spec, "containers"), i, container)
    {
        char *next = servo_strdup_printf("%s%s%s", text, i ? ", " : "",
                                         json_string_value(json_object_get(container, "name")));
        free(text);
        text = next;
    }
    return text;
}

/* The pods of the Deployment (its template's labels as the selector): a list (new reference). */
static json_t *list_pods(struct servo_connector *c, struct servo_event *ev,
                         struct servo_check *check, const char *extra_selector)
{
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return NULL;
    const json_t *match =
        json_object_get(json_object_get(json_object_get(d, "spec"), "selector"), "matchLabels");
    char *selector = servo_strdup_printf("%s", extra_selector ? extra_selector : "");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)match, key, value)
    {
        char *next = servo_strdup_printf("%s%s%s=%s", selector, *selector ? "," : "", key,
                                         json_string_value(value));
        free(selector);
        selector = next;
    }
    char *escaped = servo_url_escape(selector);
    char *path =
        servo_strdup_printf("/api/v1/namespaces/%s/pods?labelSelector=%s", s->namespace, escaped);
    json_t *pods = get(c, ev, check, path, "the workload's pods");
    free(path);
    free(escaped);
    free(selector);
    json_decref(d);
    return pods;
}

static bool pod_ready(const json_t *pod)
{
    size_t i;
    json_t *condition;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, condition)
    {
        if (strcmp(json_string_value(json_object_get(condition, "type")) ?: "", "Ready") == 0)
            return strcmp(json_string_value(json_object_get(condition, "status")) ?: "", "True") ==
                   0;
    }
    return false;
}

/* GET Prometheus's `api` ("/api/v1/query?query=..."): its "data" (a new reference), or NULL
 * with the check failed. */
static json_t *prometheus_get(struct servo_connector *c, struct servo_event *ev,
                              struct servo_check *check, const char *api)
{
    const struct opsani_dev_settings *s = settings_of(c);
    const char *base = s->prometheus_base_url;
    size_t n = strlen(base);
    char *url =
        servo_strdup_printf("%.*s%s", (int)(n && base[n - 1] == '/' ? n - 1 : n), base, api);
    struct servo_http_error error = {0};
    struct servo_http_client *http = servo_http_client_new(NULL, &error);
    struct servo_http_request request = {.url = url,
                                         .event = ev,
                                         .total_timeout = 10 * SERVO_SECOND,
                                         .connect_timeout = 5 * SERVO_SECOND};
    struct servo_http_response response = {0};
    json_t *data = NULL;
    if (http == NULL || servo_http_perform(http, &request, &response, &error) != 0) {
        servo_check_fail(check, "Prometheus at %s: %s", base, error.message);
    } else if (response.status != 200) {
        servo_check_fail(check, "Prometheus at %s answered HTTP %ld", base, response.status);
    } else {
        json_t *body = json_loads(response.body ? response.body : "", 0, NULL);
        data = json_incref(json_object_get(body, "data"));
        if (!json_is_object(data)) {
            servo_check_fail(check, "Prometheus at %s: not an API answer", base);
            json_decref(data);
            data = NULL;
        }
        json_decref(body);
    }
    servo_http_response_clear(&response);
    servo_http_client_free(http);
    free(url);
    return data;
}

/* One instant query: the sum of the result's values; -1 with the check failed. */
static int prometheus_query(struct servo_connector *c, struct servo_event *ev,
                            struct servo_check *check, const char *query, double *value,
                            size_t *series)
{
    char *escaped = servo_url_escape(query);
    char *api = servo_strdup_printf("/api/v1/query?query=%s", escaped);
    free(escaped);
    json_t *data = prometheus_get(c, ev, check, api);
    free(api);
    int rc = -1;
    if (data != NULL) {
        const json_t *result = json_object_get(data, "result");
        if (!json_is_array(result)) {
            servo_check_fail(check, "Prometheus at %s: not a query answer",
                             settings_of(c)->prometheus_base_url);
        } else {
            *value = 0;
            *series = json_array_size(result);
            size_t i;
            json_t *item;
            json_array_foreach(result, i, item)
            {
                double v = atof(json_string_value(json_array_get(json_object_get(item, "value"), 1))
                                    ?: "0");
                if (!isnan(v))
                    *value += v;
            }
            rc = 0;
        }
        json_decref(data);
    }
    return rc;
}

void opsani_dev_checks_fini(struct servo_connector *connector)
{
    struct checks_state *state = servo_connector_state(connector);
    if (state) {
        kube_client_free(state->client);
        free(state->error);
        free(state);
        servo_connector_set_state(connector, NULL);
    }
}

/* ---- the checks ---------------------------------------------------------------------------- */

static int check_connectivity(struct servo_connector *c, struct servo_event *ev, size_t item,
                              struct servo_check *check)
{
    (void)item;
    json_t *version = get(c, ev, check, "/version", "the Kubernetes API server");
    if (version == NULL)
        return -1;
    servo_check_message(check, "Kubernetes %s at %s",
                        json_string_value(json_object_get(version, "gitVersion")) ?: "?",
                        kube_client_server(client_of(c, check)));
    json_decref(version);
    return 0;
}

/* The message and verdict of the "Kubernetes version is supported" check: the releases the
 * servo supports (ServoX: 1.16 and later) and is tested against; a newer minor only warns,
 * as the APIs used are stable. */
static int version_message(const struct kube_version *v, char **message)
{
    const char *shown = v->git ? v->git : v->minor;
    /* minor may carry a "+" (managed clusters: "20+") */
    if (v->verdict == KUBE_VERSION_UNREADABLE || strcmp(v->major, "1") != 0 ||
        v->minor_number < 0) {
        *message = servo_strdup_printf("the API server's /version (%s) is not a Kubernetes 1.x "
                                       "version",
                                       v->git ? v->git : "no gitVersion");
        return -1;
    }
    if (v->verdict == KUBE_VERSION_OLDER) {
        *message = servo_strdup_printf("Kubernetes %s is older than 1.%d, the oldest supported",
                                       shown, KUBE_OLDEST_SUPPORTED_MINOR);
        return -1;
    }
    *message = v->verdict == KUBE_VERSION_NEWER
                   ? servo_strdup_printf("Kubernetes %s is newer than 1.%d, the newest tested",
                                         shown, KUBE_NEWEST_TESTED_MINOR)
                   : servo_strdup_printf("Kubernetes %s (supported: 1.%d-1.%d)", shown,
                                         KUBE_OLDEST_SUPPORTED_MINOR, KUBE_NEWEST_TESTED_MINOR);
    return v->verdict == KUBE_VERSION_NEWER ? 1 : 0;
}

int opsani_dev_version_supported(const json_t *version, char **message)
{
    struct kube_version v;
    kube_version_judge(version, KUBE_OLDEST_SUPPORTED_MINOR, KUBE_NEWEST_TESTED_MINOR, &v);
    int rc = version_message(&v, message);
    kube_version_clear(&v);
    return rc;
}

static int check_version(struct servo_connector *c, struct servo_event *ev, size_t item,
                         struct servo_check *check)
{
    (void)item;
    struct kube_client *client = client_of(c, check);
    if (client == NULL)
        return -1;
    struct servo_error error = {0};
    struct kube_version v;
    if (kube_version_get(client, ev, "the Kubernetes API server's version",
                         KUBE_OLDEST_SUPPORTED_MINOR, KUBE_NEWEST_TESTED_MINOR, &v, &error) != 0)
        return kube_check_fail(check, &error);
    char *message = NULL;
    int rc = version_message(&v, &message);
    if (rc < 0)
        servo_check_fail(check, "%s", message);
    else
        servo_check_message(check, "%s", message);
    free(message);
    kube_version_clear(&v);
    return rc < 0 ? -1 : 0;
}

static int check_permissions(struct servo_connector *c, struct servo_event *ev, size_t item,
                             struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    /* the workload's (read, tuned, promoted, the sidecar injected), the tuning pod's
     * (created, read, deleted, its log quoted in a rejection), the Service's (read,
     * retargeted by inject-sidecar) */
    static const char *const deployment[][3] = {
        {"apps", "deployments", "get"},
        {"apps", "deployments", "patch"},
        {"apps", "replicasets", "list"},
    };
    static const char *const rollout[][3] = {
        {"argoproj.io", "rollouts", "get"},
        {"argoproj.io", "rollouts", "patch"},
        {"apps", "replicasets", "list"},
    };
    static const char *const common[][3] = {
        {"", "pods", "list"},      {"", "pods", "get"},       {"", "pods", "create"},
        {"", "pods", "delete"},    {"", "pods/log", "get"},   {"", "services", "get"},
        {"", "services", "patch"}, {"", "namespaces", "get"},
    };
    const char *needed[sizeof common / sizeof common[0] + 3][3];
    size_t count = 0;
    for (size_t i = 0; i < 3; i++)
        memcpy(needed[count++], s->workload_kind == OPSANI_DEV_ROLLOUT ? rollout[i] : deployment[i],
               sizeof needed[0]);
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        memcpy(needed[count++], common[i], sizeof needed[0]);
    struct kube_client *client = client_of(c, check);
    if (client == NULL)
        return -1;
    char *missing = NULL;
    for (size_t i = 0; i < count; i++) {
        struct servo_error error = {0};
        int allowed = kube_access_review(client, ev, s->namespace, needed[i][0], needed[i][1],
                                         needed[i][2], &error);
        if (allowed < 0) {
            servo_check_fail(check, "cannot review permissions: %s", error.message);
            free(missing);
            return -1;
        }
        if (!allowed) {
            char *next = servo_strdup_printf("%s%s%s %s%s%s", missing ? missing : "",
                                             missing ? ", " : "", needed[i][2], needed[i][1],
                                             *needed[i][0] ? "." : "", needed[i][0]);
            free(missing);
            missing = next;
        }
    }
    if (missing) {
        servo_check_fail(check, "not allowed in namespace \"%s\": %s", s->namespace, missing);
        free(missing);
        return -1;
    }
    return 0;
}

/* The resource metrics API (metrics-server) that the kube_metrics child reads: a warning,
 * since without it the measurements go on without usage metrics. */
static int check_metrics_api(struct servo_connector *c, struct servo_event *ev, size_t item,
                             struct servo_check *check)
{
    (void)item;
    struct kube_client *client = client_of(c, check);
    if (client == NULL)
        return -1;
    char *path = servo_strdup_printf("/apis/metrics.k8s.io/v1beta1/namespaces/%s/pods?limit=1",
                                     settings_of(c)->namespace);
    struct kube_response r = {0};
    int rc = kube_request(client, "GET", path, NULL, NULL, ev, &r);
    free(path);
    if (rc == 0 && (r.status == 404 || r.status == 503))
        rc = servo_check_fail(check,
                              "the metrics API (APIService v1beta1.metrics.k8s.io) is not "
                              "available (HTTP %ld): install metrics-server; until then "
                              "kube_metrics reports no CPU and memory usage",
                              r.status);
    else if (rc != 0 || r.status >= 300)
        rc = servo_check_fail(check, "the metrics API: %s", r.message ? r.message : "failed");
    else
        servo_check_message(check, "pods.metrics.k8s.io answers in namespace \"%s\"",
                            settings_of(c)->namespace);
    kube_response_clear(&r);
    return rc;
}

static int check_namespace(struct servo_connector *c, struct servo_event *ev, size_t item,
                           struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    char *path = servo_strdup_printf("/api/v1/namespaces/%s", s->namespace);
    char *what = servo_strdup_printf("namespace \"%s\"", s->namespace);
    json_t *ns = get(c, ev, check, path, what);
    free(path);
    free(what);
    json_decref(ns);
    return ns ? 0 : -1;
}

static int check_workload(struct servo_connector *c, struct servo_event *ev, size_t item,
                          struct servo_check *check)
{
    (void)item;
    json_t *d = get_deployment(c, ev, check);
    json_decref(d);
    return d ? 0 : -1;
}

static int check_container(struct servo_connector *c, struct servo_event *ev, size_t item,
                           struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    const json_t *spec = pod_spec_of(d);
    int rc = 0;
    if (find_container(spec, container_name(s)) == NULL) {
        char *names = container_list(spec);
        size_t count = json_array_size(json_object_get(spec, "containers")) -
                       (find_container(spec, ENVOY_CONTAINER) ? 1 : 0);
        if (s->container == NULL && count > 1)
            rc = servo_check_fail(check,
                                  "%s \"%s\" has several containers (%s) and the "
                                  "`container` setting names none of them",
                                  opsani_dev_kind_name(s), s->workload_name, names);
        else
            rc = servo_check_fail(check,
                                  "%s \"%s\" has no container \"%s\" (its "
                                  "containers: %s)",
                                  opsani_dev_kind_name(s), s->workload_name, container_name(s),
                                  names);
        servo_check_hint(check, "Set `container` in the opsani_dev settings to one of: %s", names);
        free(names);
    }
    json_decref(d);
    return rc;
}

/* The kubectl command that gives the container requests and limits (a merge patch: a
 * Rollout takes no strategic one, and its merge patch replaces the containers list). */
static void hint_resources(struct servo_check *check, const struct opsani_dev_settings *s)
{
    servo_check_hint(check,
                     "Set them: kubectl -n %s patch %s %s --type merge -p "
                     "'{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":"
                     "\"%s\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":"
                     "\"256Mi\"},\"limits\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}}}]}}}}'%s",
                     s->namespace, kind_resource(s), s->workload_name, container_name(s),
                     s->workload_kind == OPSANI_DEV_ROLLOUT
                         ? " (a Rollout's merge patch replaces the containers list: give them "
                           "all)"
                         : "");
}

char *opsani_dev_requirements_missing(const json_t *container, const struct opsani_dev_settings *s)
{
    const struct kubernetes_resource *resources[] = {s->cpu, s->memory};
    const char *names[] = {"cpu", "memory"};
    const json_t *have = json_object_get(container, "resources");
    for (size_t r = 0; r < 2; r++) {
        const int *get = resources[r]->get.items;
        bool found = false;
        for (size_t i = 0; i < resources[r]->get.count && !found; i++)
            found = json_object_get(
                        json_object_get(have, get[i] == KUBERNETES_LIMIT ? "limits" : "requests"),
                        names[r]) != NULL;
        if (!found)
            return servo_strdup_printf(
                "container \"%s\" has no %s %s (the %s setting reads its value from %s)",
                container_name(s), names[r],
                resources[r]->get.count == 1 && get[0] == KUBERNETES_LIMIT ? "limit"
                : resources[r]->get.count == 1                             ? "request"
                                                                           : "request or limit",
                names[r],
                resources[r]->get.count == 1 && get[0] == KUBERNETES_LIMIT ? "the limit"
                : resources[r]->get.count == 1                             ? "the request"
                                               : "the request, else the limit");
    }
    return NULL;
}

static int check_requirements(struct servo_connector *c, struct servo_event *ev, size_t item,
                              struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    const json_t *container = find_container(pod_spec_of(d), container_name(s));
    char *missing = container ? opsani_dev_requirements_missing(container, s)
                              : servo_strdup_printf("no container \"%s\"", container_name(s));
    int rc = 0;
    if (missing != NULL) {
        rc = servo_check_fail(check, "%s", missing);
        if (container != NULL)
            hint_resources(check, s);
    }
    free(missing);
    json_decref(d);
    return rc;
}

static int check_requests_in_range(struct servo_connector *c, struct servo_event *ev, size_t item,
                                   struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    const json_t *container = find_container(pod_spec_of(d), container_name(s));
    const json_t *requests = json_object_get(json_object_get(container, "resources"), "requests");
    int rc = 0;
    const char *cpu = json_string_value(json_object_get(requests, "cpu"));
    const char *memory = json_string_value(json_object_get(requests, "memory"));
    int64_t millicores = 0, bytes = 0;
    const char *why = NULL;
    if (container == NULL) {
        rc = servo_check_fail(check, "no container \"%s\"", container_name(s));
    } else if (cpu == NULL || memory == NULL) {
        rc = servo_check_fail(check, "container \"%s\" has no %s request", container_name(s),
                              cpu == NULL ? "cpu" : "memory");
        hint_resources(check, s);
    } else if (servo_cpu_parse(cpu, &millicores, &why) != 0 ||
               servo_memory_parse_quantity(memory, &bytes, &why) != 0) {
        rc = servo_check_fail(check, "container \"%s\": requests %s / %s cannot be read",
                              container_name(s), cpu, memory);
    } else if (millicores < s->cpu->min || millicores > s->cpu->max) {
        rc = servo_check_fail(check,
                              "container \"%s\": the cpu request %s is outside the range "
                              "%lldm-%lldm",
                              container_name(s), cpu, (long long)s->cpu->min,
                              (long long)s->cpu->max);
    } else if (bytes < s->memory->min || bytes > s->memory->max) {
        rc = servo_check_fail(check,
                              "container \"%s\": the memory request %s is outside the "
                              "range %lld-%lld bytes",
                              container_name(s), memory, (long long)s->memory->min,
                              (long long)s->memory->max);
    }
    json_decref(d);
    return rc;
}

static int check_readiness(struct servo_connector *c, struct servo_event *ev, size_t item,
                           struct servo_check *check)
{
    (void)item;
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    const json_t *status = json_object_get(d, "status");
    json_int_t wanted = json_integer_value(json_object_get(json_object_get(d, "spec"), "replicas"));
    json_int_t ready = json_integer_value(json_object_get(status, "readyReplicas"));
    int rc = ready >= wanted && wanted > 0 ? 0
                                           : servo_check_fail(check, "%lld of %lld replicas ready",
                                                              (long long)ready, (long long)wanted);
    json_decref(d);
    return rc;
}

static int check_service_readable(struct servo_connector *c, struct servo_event *ev, size_t item,
                                  struct servo_check *check)
{
    (void)item;
    json_t *service = get_service(c, ev, check);
    if (service == NULL)
        return -1;
    servo_check_message(
        check, "type %s, %zu port(s)",
        json_string_value(json_object_get(json_object_get(service, "spec"), "type")) ?: "ClusterIP",
        json_array_size(json_object_get(json_object_get(service, "spec"), "ports")));
    json_decref(service);
    return 0;
}

static int check_service_type(struct servo_connector *c, struct servo_event *ev, size_t item,
                              struct servo_check *check)
{
    (void)item;
    json_t *service = get_service(c, ev, check);
    if (service == NULL)
        return -1;
    const char *type =
        json_string_value(json_object_get(json_object_get(service, "spec"), "type")) ?: "ClusterIP";
    int rc = strcmp(type, "ClusterIP") == 0 || strcmp(type, "LoadBalancer") == 0 ||
                     strcmp(type, "NodePort") == 0
                 ? 0
                 : servo_check_fail(check,
                                    "Service \"%s\" has type %s, not ClusterIP, "
                                    "LoadBalancer or NodePort",
                                    settings_of(c)->service, type);
    json_decref(service);
    return rc;
}

static int check_service_port(struct servo_connector *c, struct servo_event *ev, size_t item,
                              struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *service = get_service(c, ev, check);
    if (service == NULL)
        return -1;
    char *error = NULL;
    int rc = 0;
    int index = sidecar_service_port(service, s->port, &error);
    if (index < 0) {
        rc = servo_check_fail(check, "%s", error);
        servo_check_hint(check, "Set `port` in the opsani_dev settings to the Service port to "
                                "optimize");
        free(error);
    } else {
        const json_t *port = json_array_get(
            json_object_get(json_object_get(service, "spec"), "ports"), (size_t)index);
        json_int_t number = json_integer_value(json_object_get(port, "port"));
        if (number == ENVOY_METRICS_PORT ||
            (number == ENVOY_PROXY_PORT &&
             json_integer_value(json_object_get(port, "targetPort")) != ENVOY_PROXY_PORT))
            rc = servo_check_fail(check,
                                  "Service \"%s\" port %lld collides with the Envoy sidecar's "
                                  "ports (%d proxy, %d metrics)",
                                  s->service, (long long)number, ENVOY_PROXY_PORT,
                                  ENVOY_METRICS_PORT);
    }
    json_decref(service);
    return rc;
}

static int check_service_routes(struct servo_connector *c, struct servo_event *ev, size_t item,
                                struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *service = get_service(c, ev, check);
    json_t *d = service ? get_deployment(c, ev, check) : NULL;
    if (d == NULL) {
        json_decref(service);
        return -1;
    }
    const json_t *selector = json_object_get(json_object_get(service, "spec"), "selector");
    const json_t *labels = template_metadata(d, "labels");
    const char *key;
    json_t *value;
    int rc = json_object_size(selector) ? 0
                                        : servo_check_fail(check,
                                                           "Service \"%s\" has no "
                                                           "selector",
                                                           s->service);
    json_object_foreach((json_t *)selector, key, value)
    {
        if (rc == 0 && !json_equal(value, json_object_get(labels, key)))
            rc = servo_check_fail(check,
                                  "Service \"%s\" selects %s=%s, which the pods of %s \"%s\" do "
                                  "not carry",
                                  s->service, key, json_string_value(value),
                                  opsani_dev_kind_name(s), s->workload_name);
    }
    json_decref(service);
    json_decref(d);
    return rc;
}

static int check_prometheus(struct servo_connector *c, struct servo_event *ev, size_t item,
                            struct servo_check *check)
{
    (void)item;
    double value;
    size_t series;
    if (prometheus_query(c, ev, check, "up", &value, &series) != 0)
        return -1;
    servo_check_message(check, "%zu targets", series);
    return 0;
}

static int check_annotations(struct servo_connector *c, struct servo_event *ev, size_t item,
                             struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    static const char *const expected[][2] = {{"prometheus.opsani.com/scrape", "true"},
                                              {"prometheus.opsani.com/scheme", "http"},
                                              {"prometheus.opsani.com/path", "/stats/prometheus"},
                                              {"prometheus.opsani.com/port", "9901"}};
    const json_t *annotations = template_metadata(d, "annotations");
    int rc = 0;
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        const char *v = json_string_value(json_object_get(annotations, expected[i][0]));
        if (v == NULL || strcmp(v, expected[i][1]) != 0)
            rc = servo_check_fail(check,
                                  "the pod template of %s \"%s\" lacks the "
                                  "annotation %s: %s",
                                  opsani_dev_kind_name(s), s->workload_name, expected[i][0],
                                  expected[i][1]);
    }
    if (rc != 0)
        servo_check_hint(check,
                         "Patch them: kubectl -n %s patch %s %s --type merge -p "
                         "'{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
                         "\"prometheus.opsani.com/scrape\":\"true\",\"prometheus.opsani.com/"
                         "scheme\":\"http\",\"prometheus.opsani.com/path\":\"/stats/"
                         "prometheus\",\"prometheus.opsani.com/port\":\"9901\"}}}}}'",
                         s->namespace, kind_resource(s), s->workload_name);
    json_decref(d);
    return rc;
}

/* The Envoy queries tell the tuning pod from the main ones by the label opsani_role: the main
 * pod template must not carry it, or the main pods would count as tuning ones (or, with
 * "tuning", be left out of the main metrics). */
static int check_labels(struct servo_connector *c, struct servo_event *ev, size_t item,
                        struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    const json_t *labels = template_metadata(d, "labels");
    const char *role = json_string_value(json_object_get(labels, "opsani_role"));
    int rc = 0;
    if (json_object_size(labels) == 0) {
        rc = servo_check_fail(check, "the pod template of %s \"%s\" has no labels",
                              opsani_dev_kind_name(s), s->workload_name);
    } else if (role != NULL) {
        rc = servo_check_fail(check,
                              "the pod template of %s \"%s\" carries the label opsani_role=%s, "
                              "which the Envoy queries keep for the tuning pod",
                              opsani_dev_kind_name(s), s->workload_name, role);
        servo_check_hint(check,
                         "Remove it: kubectl -n %s patch %s %s --type json -p "
                         "'[{\"op\":\"remove\",\"path\":\"/spec/template/metadata/labels/"
                         "opsani_role\"}]'",
                         s->namespace, kind_resource(s), s->workload_name);
    }
    json_decref(d);
    return rc;
}

static int check_controller_sidecar(struct servo_connector *c, struct servo_event *ev, size_t item,
                                    struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *d = get_deployment(c, ev, check);
    if (d == NULL)
        return -1;
    int rc = 0;
    if (find_container(pod_spec_of(d), ENVOY_CONTAINER) == NULL) {
        rc = servo_check_fail(check,
                              "the pod template of %s \"%s\" has no Envoy "
                              "sidecar (container %s)",
                              opsani_dev_kind_name(s), s->workload_name, ENVOY_CONTAINER);
        servo_check_hint(check,
                         "Inject it: servo inject-sidecar -n %s --image %s --service %s%s%s "
                         "%s/%s",
                         s->namespace, s->envoy_sidecar_image, s->service,
                         s->port ? " --port " : "", s->port ? s->port : "", kind_resource(s),
                         s->workload_name);
    }
    json_decref(d);
    return rc;
}

static int check_pod_sidecars(struct servo_connector *c, struct servo_event *ev, size_t item,
                              struct servo_check *check)
{
    (void)item;
    json_t *pods = list_pods(c, ev, check, "opsani_role!=tuning");
    if (pods == NULL)
        return -1;
    size_t i, without = 0, count = json_array_size(json_object_get(pods, "items"));
    json_t *pod;
    json_array_foreach(json_object_get(pods, "items"), i, pod)
    {
        if (find_container(json_object_get(pod, "spec"), ENVOY_CONTAINER) == NULL)
            without++;
    }
    int rc = count == 0    ? servo_check_fail(check, "no pods")
             : without > 0 ? servo_check_fail(check,
                                              "%zu of %zu pods have no Envoy sidecar "
                                              "(container %s): the rollout is not done",
                                              without, count, ENVOY_CONTAINER)
                           : 0;
    json_decref(pods);
    return rc;
}

char *opsani_dev_targets_problem(const json_t *pods, const json_t *targets, const char *ns)
{
    char *problem = NULL;
    size_t i;
    json_t *pod;
    json_array_foreach(json_object_get(pods, "items"), i, pod)
    {
        const json_t *metadata = json_object_get(pod, "metadata");
        const char *name = json_string_value(json_object_get(metadata, "name")) ?: "?";
        if (problem != NULL || json_object_get(metadata, "deletionTimestamp") != NULL)
            continue;
        const json_t *found = NULL;
        size_t k;
        json_t *target;
        json_array_foreach(json_object_get(targets, "activeTargets"), k, target)
        {
            const json_t *labels = json_object_get(target, "labels");
            if (strcmp(json_string_value(json_object_get(labels, "kubernetes_namespace")) ?: "",
                       ns) == 0 &&
                strcmp(json_string_value(json_object_get(labels, "kubernetes_pod_name")) ?: "",
                       name) == 0)
                found = target;
        }
        const char *health = json_string_value(json_object_get(found, "health"));
        if (found == NULL)
            problem = servo_strdup_printf("pod %s is not a Prometheus target (no active target "
                                          "labelled kubernetes_namespace=\"%s\", "
                                          "kubernetes_pod_name=\"%s\")",
                                          name, ns, name);
        else if (health == NULL || strcmp(health, "up") != 0)
            problem = servo_strdup_printf(
                "the Prometheus target of pod %s (%s) is %s%s%s", name,
                json_string_value(json_object_get(found, "scrapeUrl")) ?: "?",
                health ? health : "of unknown health",
                json_string_value(json_object_get(found, "lastError")) ? ": " : "",
                json_string_value(json_object_get(found, "lastError")) ?: "");
    }
    return problem;
}

static int check_targets(struct servo_connector *c, struct servo_event *ev, size_t item,
                         struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *pods = list_pods(c, ev, check, "opsani_role!=tuning");
    if (pods == NULL)
        return -1;
    json_t *targets = prometheus_get(c, ev, check, "/api/v1/targets?state=active");
    int rc = -1;
    if (targets != NULL) {
        char *problem = opsani_dev_targets_problem(pods, targets, s->namespace);
        size_t count = json_array_size(json_object_get(pods, "items"));
        rc = count == 0 ? servo_check_fail(check, "no pods")
             : problem  ? servo_check_fail(check, "%s", problem)
                        : 0;
        if (rc == 0)
            servo_check_message(check, "%zu pod(s) scraped, up", count);
        free(problem);
    }
    json_decref(targets);
    json_decref(pods);
    return rc;
}

static int check_envoy_scraped(struct servo_connector *c, struct servo_event *ev, size_t item,
                               struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    char *query = servo_strdup_printf("sum(envoy_cluster_upstream_rq_total{opsani_role!=\"tuning\","
                                      " kubernetes_namespace=\"%s\"})",
                                      s->namespace);
    double value = 0;
    size_t series = 0;
    int rc = prometheus_query(c, ev, check, query, &value, &series);
    free(query);
    if (rc == 0 && series == 0)
        rc = servo_check_fail(check,
                              "Prometheus has no envoy_cluster_upstream_rq_total of "
                              "namespace \"%s\": the Envoy sidecars are not scraped",
                              s->namespace);
    return rc;
}

static int check_service_proxied(struct servo_connector *c, struct servo_event *ev, size_t item,
                                 struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    json_t *service = get_service(c, ev, check);
    if (service == NULL)
        return -1;
    char *error = NULL;
    int index = sidecar_service_port(service, s->port, &error);
    const json_t *port = json_array_get(json_object_get(json_object_get(service, "spec"), "ports"),
                                        (size_t)(index < 0 ? 0 : index));
    const json_t *target = json_object_get(port, "targetPort");
    int rc = 0;
    if (index < 0) {
        rc = servo_check_fail(check, "%s", error);
    } else if (!(json_integer_value(target) == ENVOY_PROXY_PORT ||
                 (json_is_string(target) &&
                  strcmp(json_string_value(target), ENVOY_PROXY_PORT_NAME) == 0))) {
        rc = servo_check_fail(check,
                              "Service \"%s\" sends port %lld to the application, not to "
                              "the Envoy proxy on %d",
                              s->service,
                              (long long)json_integer_value(json_object_get(port, "port")),
                              ENVOY_PROXY_PORT);
        servo_check_hint(
            check,
            "Retarget it: kubectl -n %s patch service %s --type json -p "
            "'[{\"op\":\"replace\",\"path\":\"/spec/ports/%d/targetPort\",\"value\":%d}]'",
            s->namespace, s->service, index, ENVOY_PROXY_PORT);
    }
    free(error);
    json_decref(service);
    return rc;
}

static int check_tuning_running(struct servo_connector *c, struct servo_event *ev, size_t item,
                                struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    if (!s->create_tuning_pod) {
        servo_check_message(check, "create_tuning_pod is false: no tuning pod");
        return 0;
    }
    char *path =
        servo_strdup_printf("/api/v1/namespaces/%s/pods/%s-tuning", s->namespace, s->workload_name);
    char *what = servo_strdup_printf("tuning pod \"%s-tuning\"", s->workload_name);
    json_t *pod = get(c, ev, check, path, what);
    int rc = pod == NULL      ? -1
             : pod_ready(pod) ? 0
                              : servo_check_fail(check, "%s is not ready", what);
    if (pod == NULL)
        servo_check_hint(check, "The servo creates it at its first measure: run `servo run` (or "
                                "`servo describe` then `servo measure`)");
    free(path);
    free(what);
    json_decref(pod);
    return rc;
}

static int check_traffic(struct servo_connector *c, struct servo_event *ev, size_t item,
                         struct servo_check *check)
{
    (void)item;
    const struct opsani_dev_settings *s = settings_of(c);
    const char *roles[] = {MAIN, TUNING};
    for (size_t i = 0; i < (s->create_tuning_pod ? 2u : 1u); i++) {
        char *query = servo_strdup_printf(
            "sum(envoy_cluster_upstream_rq_total{%s, kubernetes_namespace=\"%s\"})", roles[i],
            s->namespace);
        double value = 0;
        size_t series = 0;
        int rc = prometheus_query(c, ev, check, query, &value, &series);
        free(query);
        if (rc != 0)
            return -1;
        if (value <= 0)
            return servo_check_fail(check, "the %s pods have served no request through Envoy",
                                    i == 0 ? "main" : "tuning");
    }
    return 0;
}

#define REMEDY_SIDECAR "servo opsani-dev -c \"$SERVO_CONNECTOR\" inject-sidecar"

const struct servo_check_def opsani_dev_checks[] = {
    {.name = "Connectivity to Kubernetes",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Check the kubeconfig (or the in-cluster service account)",
     .run = check_connectivity},
    {.name = "Kubernetes version is supported",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Run the servo against Kubernetes 1.16 or later",
     .run = check_version},
    {.name = "Kubernetes permissions",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Grant the servo's account the verbs listed (a Role bound to it): see "
             "deploy/role.yaml",
     .run = check_permissions},
    {.name = "Metrics API is available",
     .severity = SERVO_SEVERITY_WARNING,
     .tags = "kubernetes,kube-metrics",
     .hint = "Install metrics-server (kube_metrics measures CPU and memory use through it), "
             "and grant list on pods.metrics.k8s.io",
     .remedy = "kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/"
               "latest/download/components.yaml",
     .run = check_metrics_api},
    {.name = "Namespace is readable",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Check `namespace` in the opsani_dev settings",
     .run = check_namespace},
    {.name = "Deployment is readable",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Check `workload_name` in the opsani_dev settings",
     .run = check_workload},
    {.name = "Container is readable",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Check `container` in the opsani_dev settings",
     .run = check_container},
    {.name = "Container has resource requirements",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Give the container the cpu and memory requests or limits the settings' `get` "
             "reads",
     .run = check_requirements},
    {.name = "Container resource requests fall within the optimization range",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Widen the cpu and memory ranges, or change the requests",
     .run = check_requests_in_range},
    {.name = "Deployment is ready",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Wait for the rollout: kubectl rollout status deployment",
     .run = check_readiness},
    {.name = "Service is readable",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Check `service` in the opsani_dev settings",
     .run = check_service_readable},
    {.name = "Service has a compatible type",
     .severity = SERVO_SEVERITY_WARNING,
     .tags = "kubernetes",
     .hint = "Use a ClusterIP, LoadBalancer or NodePort Service",
     .run = check_service_type},
    {.name = "Service has an unambiguous target port",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes",
     .hint = "Set `port` in the opsani_dev settings",
     .run = check_service_port},
    {.name = "Service routes traffic to the Deployment's pods",
     .tags = "kubernetes",
     .hint = "Make the Service's selector match the pod template's labels",
     .run = check_service_routes},
    {.name = "Prometheus is accessible",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "prometheus",
     .hint = "Check prometheus_base_url and that Prometheus answers /api/v1/query",
     .run = check_prometheus},
    {.name = "Pod template has the Prometheus annotations",
     .tags = "prometheus",
     .hint = "Add prometheus.opsani.com/{scrape,scheme,path,port} to the pod template",
     .run = check_annotations},
    {.name = "Pod template has the labels the queries need",
     .tags = "prometheus",
     .hint = "The main pods must not carry opsani_role (the tuning pod's label)",
     .run = check_labels},
    {.name = "Deployment has the Envoy sidecar",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "envoy",
     .hint = "Inject it with servo inject-sidecar",
     .remedy = REMEDY_SIDECAR,
     .run = check_controller_sidecar},
    {.name = "Pods have the Envoy sidecar",
     .tags = "envoy",
     .hint = "Wait for the rollout of the injected pod template",
     .run = check_pod_sidecars},
    {.name = "Pods are Prometheus targets",
     .tags = "envoy,prometheus",
     .hint = "Prometheus must scrape the pods annotated prometheus.opsani.com/*, labelling each "
             "target kubernetes_namespace and kubernetes_pod_name as the Envoy queries expect "
             "(docs/kubernetes.md, \"Prometheus for opsani_dev\")",
     .run = check_targets},
    {.name = "Envoy proxies are being scraped",
     .tags = "envoy,prometheus",
     .hint = "Send traffic through port 9980 and check that Prometheus scrapes the annotated "
             "pods",
     .run = check_envoy_scraped},
    {.name = "Traffic is proxied through Envoy",
     .tags = "envoy",
     .hint = "Retarget the Service's port to 9980",
     .run = check_service_proxied},
    {.name = "Tuning pod is running",
     .tags = "kubernetes",
     .hint = "The servo creates it at its first measure",
     .run = check_tuning_running},
    {.name = "Pods are processing traffic",
     .tags = "envoy,prometheus",
     .hint = "Send traffic to the Service",
     .run = check_traffic},
    {.name = NULL},
};
