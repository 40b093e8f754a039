// SPDX-License-Identifier: Apache-2.0
/* inject-sidecar / eject-sidecar: the Envoy container in the Deployment's (or Argo
 * Rollout's: JSON patches work on a custom resource too) pod template and the Service's port
 * retargeted to it, and back. The Deployment is written first (the
 * Service then points at a port that exists), the Service second; if the Service cannot be
 * written, the Deployment's change is undone. Eject runs the other way round. Every write is
 * a JSON patch that first tests the generation (Services: the resourceVersion) it was
 * computed from. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsani_dev.h"
#include "servo/util.h"

json_t *sidecar_container(const char *image, long container_port)
{
    char proxied[32];
    snprintf(proxied, sizeof proxied, "%ld", container_port);
    return json_pack(
        "{s:s, s:s, s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}],"
        " s:[{s:s, s:i}, {s:s, s:i}]}",
        "name", ENVOY_CONTAINER, "image", image, "imagePullPolicy", "IfNotPresent", "resources",
        "requests", "cpu", "125m", "memory", "128Mi", "limits", "cpu", "250m", "memory", "256Mi",
        "env", "name", "OPSANI_ENVOY_PROXY_SERVICE_PORT", "value", "9980", "name",
        "OPSANI_ENVOY_PROXIED_CONTAINER_PORT", "value", proxied, "name",
        "OPSANI_ENVOY_PROXY_METRICS_PORT", "value", "9901", "ports", "name", ENVOY_PROXY_PORT_NAME,
        "containerPort", ENVOY_PROXY_PORT, "name", ENVOY_METRICS_PORT_NAME, "containerPort",
        ENVOY_METRICS_PORT);
}

char *sidecar_port_conflict(const json_t *pod_spec)
{
    size_t i, j;
    json_t *container, *port;
    json_array_foreach(json_object_get(pod_spec, "containers"), i, container)
    {
        json_array_foreach(json_object_get(container, "ports"), j, port)
        {
            json_int_t number = json_integer_value(json_object_get(port, "containerPort"));
            if (number == ENVOY_PROXY_PORT || number == ENVOY_METRICS_PORT)
                return servo_strdup_printf(
                    "container \"%s\" already uses port %lld, which the Envoy sidecar needs "
                    "(%d proxy, %d metrics): move the container to another port",
                    json_string_value(json_object_get(container, "name")), (long long)number,
                    ENVOY_PROXY_PORT, ENVOY_METRICS_PORT);
        }
    }
    return NULL;
}

static char *service_ports_text(const json_t *ports)
{
    char *text = servo_strdup_printf("%s", "");
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        char *next = servo_strdup_printf("%s%s%lld%s%s%s", text, i ? ", " : "",
                                         (long long)json_integer_value(json_object_get(p, "port")),
                                         name ? " (" : "", name ? name : "", name ? ")" : "");
        free(text);
        text = next;
    }
    return text;
}

static bool is_number(const char *text, long *value)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > 65535)
        return false;
    *value = v;
    return true;
}

int sidecar_service_port(const json_t *service, const char *port, char **error)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(service, "metadata"), "name"));
    const json_t *ports = json_object_get(json_object_get(service, "spec"), "ports");
    size_t count = json_array_size(ports);
    char *listed = service_ports_text(ports);
    int found = -1;
    if (port == NULL) {
        if (count == 1)
            found = 0;
        else
            *error = servo_strdup_printf(
                count == 0 ? "Service \"%s\" exposes no port%s"
                           : "Service \"%s\" exposes several ports (%s): name one with --port (or "
                             "the `port` setting)",
                name, listed);
    } else {
        long number = 0;
        bool numeric = is_number(port, &number);
        for (size_t i = 0; i < count && found < 0; i++) {
            const json_t *p = json_array_get(ports, i);
            if (numeric ? json_integer_value(json_object_get(p, "port")) == number
                        : strcmp(port, json_string_value(json_object_get(p, "name")) ?: "") == 0)
                found = (int)i;
        }
        if (found < 0)
            *error = servo_strdup_printf("Service \"%s\" has no port \"%s\" (its ports: %s)", name,
                                         port, listed);
    }
    free(listed);
    return found;
}

/* A port number of the Service or the pod template, 1-65535, or -1 with a message. */
static long port_number(const json_t *value, const char *what, char **error)
{
    json_int_t port = json_integer_value(value);
    if (json_is_integer(value) && port >= 1 && port <= 65535)
        return (long)port;
    *error = servo_strdup_printf("the Service's %s is not a port number from 1 to 65535", what);
    return -1;
}

long sidecar_target_port(const json_t *service_port, const json_t *pod_spec, char **error)
{
    const json_t *target = json_object_get(service_port, "targetPort");
    if (target == NULL || json_is_null(target))
        return port_number(json_object_get(service_port, "port"), "port", error);
    if (json_is_integer(target))
        return port_number(target, "targetPort", error);
    const char *name = json_string_value(target);
    size_t i, j;
    json_t *container, *port;
    json_array_foreach(json_object_get(pod_spec, "containers"), i,
                       container){json_array_foreach(json_object_get(container, "ports"), j, port){
        if (name && strcmp(name, json_string_value(json_object_get(port, "name")) ?: "") ==
                        0) return port_number(json_object_get(port, "containerPort"),
                                              "named targetPort's containerPort", error);
}
}
*error = servo_strdup_printf("the Service's targetPort \"%s\" is not a named port of any "
                             "container of the pod template",
                             name ? name : "?");
return -1;
}

/* ---- the API ------------------------------------------------------------------------------- */

char *opsani_dev_deployment_path(const char *namespace, const char *name)
{
    return servo_strdup_printf("/apis/apps/v1/namespaces/%s/deployments/%s", namespace, name);
}

char *opsani_dev_workload_path(const struct opsani_dev_settings *s)
{
    if (s->workload_kind == OPSANI_DEV_ROLLOUT)
        return servo_strdup_printf("/apis/argoproj.io/v1alpha1/namespaces/%s/rollouts/%s",
                                   s->namespace, s->workload_name);
    return opsani_dev_deployment_path(s->namespace, s->workload_name);
}

const char *opsani_dev_kind_name(const struct opsani_dev_settings *s)
{
    return s->workload_kind == OPSANI_DEV_ROLLOUT ? "Rollout" : "Deployment";
}

char *opsani_dev_service_path(const char *namespace, const char *name)
{
    return servo_strdup_printf("/api/v1/namespaces/%s/services/%s", namespace, name);
}

json_t *opsani_dev_get(struct kube_client *client, const char *path, struct servo_event *ev,
                       const char *failed, char **why)
{
    struct kube_response r = {0};
    json_t *object = NULL;
    if (kube_request(client, "GET", path, NULL, NULL, ev, &r) != 0 || r.status != 200)
        *why = servo_strdup_printf("%s", r.status == 404 ? "not found"
                                         : r.message     ? r.message
                                                         : failed);
    else
        object = json_incref(r.body);
    kube_response_clear(&r);
    return object;
}

static char *deployment_path(const struct sidecar_request *r)
{
    if (r->rollout)
        return servo_strdup_printf("/apis/argoproj.io/v1alpha1/namespaces/%s/rollouts/%s",
                                   r->namespace, r->deployment);
    return opsani_dev_deployment_path(r->namespace, r->deployment);
}

/* "Deployment" or "Rollout", and kubectl's "deployment" or "rollout". */
static const char *kind_of(const struct sidecar_request *r)
{
    return r->rollout ? "Rollout" : "Deployment";
}

static const char *resource_of(const struct sidecar_request *r)
{
    return r->rollout ? "rollout" : "deployment";
}

/* "Deployment \"web\" in namespace \"shop\"" (caller frees). */
static char *workload_what(const struct sidecar_request *r)
{
    return servo_strdup_printf("%s \"%s\" in namespace \"%s\"", kind_of(r), r->deployment,
                               r->namespace);
}

/* GET; the object (new reference) or NULL with the message printed, naming `what`. */
static json_t *get_object(struct kube_client *client, const char *path, const char *what)
{
    char *why = NULL;
    json_t *object = opsani_dev_get(client, path, NULL, "request failed", &why);
    if (object == NULL)
        fprintf(stderr, "error: %s: %s\n", what, why);
    free(why);
    return object;
}

/* A JSON patch that tests the resourceVersion, then does `operations` (stolen). 0, or -1
 * with the message printed. */
static int patch_object(struct kube_client *client, const char *path, const json_t *object,
                        json_t *operations, const char *what)
{
    /* A Deployment's generation changes only with its spec (its status, which the controller
     * keeps writing, changes the resourceVersion): the test guards what the patch assumed. */
    const json_t *metadata = json_object_get(object, "metadata");
    const char *guard = json_object_get(metadata, "generation") ? "generation" : "resourceVersion";
    char *guard_path = servo_strdup_printf("/metadata/%s", guard);
    json_t *patch = json_pack("[{s:s, s:s, s:O}]", "op", "test", "path", guard_path, "value",
                              json_object_get(metadata, guard));
    free(guard_path);
    json_array_extend(patch, operations);
    json_decref(operations);
    struct kube_response r = {0};
    int rc = 0;
    if (kube_request(client, "PATCH", path, patch, "json", NULL, &r) != 0 || r.status >= 300) {
        fprintf(stderr, "error: %s: %s\n", what, r.message ? r.message : "request failed");
        rc = -1;
    }
    kube_response_clear(&r);
    json_decref(patch);
    return rc;
}

static const json_t *pod_spec_of(const json_t *deployment)
{
    return json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"),
                           "spec");
}

/* The index of the sidecar in the pod spec, or -1. */
static int sidecar_index(const json_t *pod_spec)
{
    size_t i;
    json_t *container;
    json_array_foreach(json_object_get(pod_spec, "containers"), i, container)
    {
        if (strcmp(json_string_value(json_object_get(container, "name")) ?: "", ENVOY_CONTAINER) ==
            0)
            return (int)i;
    }
    return -1;
}

struct service_change {
    json_t *service;  /* the Service read (NULL: none) */
    int port_index;   /* which of its ports */
    json_t *ops;      /* the JSON patch operations (after the resourceVersion test) */
    json_t *undo_ops; /* what reverses them */
    char *what;       /* "Service web: port 80 (http) now targets 9980 (was 8080)" */
};

static void service_change_clear(struct service_change *s)
{
    json_decref(s->service);
    json_decref(s->ops);
    json_decref(s->undo_ops);
    free(s->what);
    memset(s, 0, sizeof *s);
}

static char *escape_pointer(const char *key)
{
    /* "/" in a JSON pointer is "~1" (annotation keys contain one) */
    size_t n = strlen(key);
    char *out = malloc(n * 2 + 1), *o = out;
    if (out == NULL)
        abort();
    for (const char *k = key; *k; k++) {
        if (*k == '~') {
            *o++ = '~';
            *o++ = '0';
        } else if (*k == '/') {
            *o++ = '~';
            *o++ = '1';
        } else {
            *o++ = *k;
        }
    }
    *o = '\0';
    return out;
}

static json_t *annotation_op(const char *op, const json_t *service, const char *value)
{
    const json_t *annotations =
        json_object_get(json_object_get(service, "metadata"), "annotations");
    if (annotations == NULL && value != NULL)
        return json_pack("{s:s, s:s, s:{s:s}}", "op", "add", "path", "/metadata/annotations",
                         "value", ENVOY_SERVICE_ANNOTATION, value);
    char *key = escape_pointer(ENVOY_SERVICE_ANNOTATION);
    char *path = servo_strdup_printf("/metadata/annotations/%s", key);
    json_t *o = value ? json_pack("{s:s, s:s, s:s}", "op", op, "path", path, "value", value)
                      : json_pack("{s:s, s:s}", "op", op, "path", path);
    free(key);
    free(path);
    return o;
}

static char *target_text(const json_t *target)
{
    if (target == NULL || json_is_null(target))
        return servo_strdup_printf("%s", "the port itself");
    if (json_is_integer(target))
        return servo_strdup_printf("%lld", (long long)json_integer_value(target));
    return servo_strdup_printf("\"%s\"", json_string_value(target));
}

/* The Service retargeted to the proxy. 0, or -1 with the message printed. */
static int plan_service_inject(struct kube_client *client, const struct sidecar_request *r,
                               const json_t *pod_spec, struct service_change *s, long *proxied)
{
    char *path = opsani_dev_service_path(r->namespace, r->service);
    char *what =
        servo_strdup_printf("Service \"%s\" in namespace \"%s\"", r->service, r->namespace);
    s->service = get_object(client, path, what);
    free(path);
    free(what);
    if (s->service == NULL)
        return -1;
    char *error = NULL;
    s->port_index = sidecar_service_port(s->service, r->port, &error);
    const json_t *port = json_array_get(
        json_object_get(json_object_get(s->service, "spec"), "ports"), (size_t)s->port_index);
    if (s->port_index >= 0)
        *proxied = sidecar_target_port(port, pod_spec, &error);
    if (s->port_index < 0 || *proxied < 0) {
        fprintf(stderr, "error: %s\n", error);
        free(error);
        return -1;
    }
    if (json_object_get(json_object_get(json_object_get(s->service, "metadata"), "annotations"),
                        ENVOY_SERVICE_ANNOTATION)) {
        fprintf(stderr,
                "error: Service \"%s\" already sends its traffic to an Envoy sidecar "
                "(annotation %s); eject it first\n",
                r->service, ENVOY_SERVICE_ANNOTATION);
        return -1;
    }
    const json_t *original = json_object_get(port, "targetPort");
    json_t *record = json_pack("{s:s, s:i, s:O}", "deployment", r->deployment, "port",
                               s->port_index, "targetPort", original ? original : json_null());
    char *record_text = servo_json_text(record, JSON_COMPACT);
    json_decref(record);
    char *target_path = servo_strdup_printf("/spec/ports/%d/targetPort", s->port_index);
    s->ops = json_pack("[{s:s, s:s, s:i}]", "op", original ? "replace" : "add", "path", target_path,
                       "value", ENVOY_PROXY_PORT);
    json_array_append_new(s->ops, annotation_op("add", s->service, record_text));
    s->undo_ops = original ? json_pack("[{s:s, s:s, s:O}]", "op", "replace", "path", target_path,
                                       "value", original)
                           : json_pack("[{s:s, s:s}]", "op", "remove", "path", target_path);
    char *was = target_text(original);
    s->what = servo_strdup_printf("Service \"%s\": port %lld now targets %d (was %s)", r->service,
                                  (long long)json_integer_value(json_object_get(port, "port")),
                                  ENVOY_PROXY_PORT, was);
    free(was);
    free(target_path);
    free(record_text);
    return 0;
}

static void print_patch(const char *kind, const char *name, const json_t *ops)
{
    char *text = servo_json_text(ops, JSON_INDENT(2));
    printf("%s %s (JSON patch):\n%s\n", kind, name, text);
    free(text);
}

/* The port the sidecar proxies to when no Service is given: a container port. */
static long container_port(const json_t *pod_spec, const char *port)
{
    long number = 0;
    size_t i, j;
    json_t *container, *p;
    bool numeric = port && is_number(port, &number);
    json_array_foreach(json_object_get(pod_spec, "containers"), i, container)
    {
        json_array_foreach(json_object_get(container, "ports"), j, p)
        {
            json_int_t value = json_integer_value(json_object_get(p, "containerPort"));
            const char *name = json_string_value(json_object_get(p, "name"));
            if (numeric ? value == number : (port && name && strcmp(port, name) == 0))
                return (long)value;
        }
    }
    return -1;
}

int sidecar_inject(struct kube_client *client, const struct sidecar_request *r)
{
    char *path = deployment_path(r);
    char *what = workload_what(r);
    struct service_change service = {0};
    json_t *deployment = get_object(client, path, what);
    int rc = -1;
    if (deployment == NULL)
        goto out;
    const json_t *pod_spec = pod_spec_of(deployment);
    if (sidecar_index(pod_spec) >= 0) {
        fprintf(stderr,
                "error: %s already has the Envoy sidecar (container %s); nothing changed "
                "(eject it first: servo eject-sidecar -n %s %s/%s)\n",
                what, ENVOY_CONTAINER, r->namespace, resource_of(r), r->deployment);
        goto out;
    }
    char *conflict = sidecar_port_conflict(pod_spec);
    if (conflict) {
        fprintf(stderr, "error: %s: %s\n", what, conflict);
        free(conflict);
        goto out;
    }
    long proxied = -1;
    if (r->service) {
        if (plan_service_inject(client, r, pod_spec, &service, &proxied) != 0)
            goto out;
    } else if ((proxied = container_port(pod_spec, r->port)) < 0) {
        fprintf(stderr, "error: %s: no container has the port \"%s\"\n", what, r->port);
        goto out;
    }
    json_t *ops =
        json_pack("[{s:s, s:s, s:o}]", "op", "add", "path", "/spec/template/spec/containers/-",
                  "value", sidecar_container(r->image, proxied));
    if (r->dry_run) {
        print_patch(kind_of(r), r->deployment, ops);
        if (service.ops)
            print_patch("Service", r->service, service.ops);
        json_decref(ops);
        printf("dry run: nothing changed\n");
        rc = 0;
        goto out;
    }
    if (patch_object(client, path, deployment, ops, what) != 0)
        goto out;
    if (service.ops) {
        char *spath = opsani_dev_service_path(r->namespace, r->service);
        char *swhat =
            servo_strdup_printf("Service \"%s\" in namespace \"%s\"", r->service, r->namespace);
        int written = patch_object(client, spath, service.service, json_incref(service.ops), swhat);
        free(spath);
        free(swhat);
        if (written != 0) {
            json_t *current = get_object(client, path, what);
            int index = current ? sidecar_index(pod_spec_of(current)) : -1;
            char *remove = servo_strdup_printf("/spec/template/spec/containers/%d", index);
            if (index < 0 ||
                patch_object(client, path, current,
                             json_pack("[{s:s, s:s}]", "op", "remove", "path", remove), what) != 0)
                fprintf(stderr,
                        "error: %s keeps the sidecar: remove it with servo eject-sidecar "
                        "-n %s %s/%s\n",
                        what, r->namespace, resource_of(r), r->deployment);
            else
                fprintf(stderr, "%s restored: nothing changed\n", what);
            free(remove);
            json_decref(current);
            goto out;
        }
    }
    printf("Envoy sidecar injected to %s %s in %s\n", kind_of(r), r->deployment, r->namespace);
    printf("%s \"%s\": container %s added (image %s, proxy %d -> %ld, metrics %d)\n", kind_of(r),
           r->deployment, ENVOY_CONTAINER, r->image, ENVOY_PROXY_PORT, proxied, ENVOY_METRICS_PORT);
    if (service.what)
        printf("%s\n", service.what);
    rc = 0;
out:
    service_change_clear(&service);
    json_decref(deployment);
    free(path);
    free(what);
    return rc;
}

/* The Service inject-sidecar retargeted for this Deployment: its undo operations. 1 when
 * there is one, 0 when none, -1 on an error (printed). */
static int plan_service_eject(struct kube_client *client, const struct sidecar_request *r,
                              struct service_change *s, char **service_name)
{
    char *path = servo_strdup_printf("/api/v1/namespaces/%s/services", r->namespace);
    json_t *list = get_object(client, path, "Services");
    free(path);
    if (list == NULL)
        return -1;
    size_t i;
    json_t *item;
    int found = 0;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        const json_t *metadata = json_object_get(item, "metadata");
        const char *name = json_string_value(json_object_get(metadata, "name"));
        const char *text = json_string_value(
            json_object_get(json_object_get(metadata, "annotations"), ENVOY_SERVICE_ANNOTATION));
        if (text == NULL || (r->service && strcmp(r->service, name) != 0))
            continue;
        json_t *record = json_loads(text, 0, NULL);
        const char *owner = json_string_value(json_object_get(record, "deployment"));
        if (owner == NULL || strcmp(owner, r->deployment) != 0) {
            json_decref(record);
            continue;
        }
        json_int_t index = json_integer_value(json_object_get(record, "port"));
        const json_t *original = json_object_get(record, "targetPort");
        char *target_path = servo_strdup_printf("/spec/ports/%lld/targetPort", (long long)index);
        s->service = json_incref(item);
        s->ops = original && !json_is_null(original)
                     ? json_pack("[{s:s, s:s, s:O}]", "op", "replace", "path", target_path, "value",
                                 original)
                     : json_pack("[{s:s, s:s}]", "op", "remove", "path", target_path);
        json_array_append_new(s->ops, annotation_op("remove", item, NULL));
        char *now = target_text(original);
        s->what = servo_strdup_printf(
            "Service \"%s\": port %lld targets %s again", name,
            (long long)json_integer_value(json_object_get(
                json_array_get(json_object_get(json_object_get(item, "spec"), "ports"),
                               (size_t)index),
                "port")),
            now);
        s->undo_ops = json_pack("[{s:s, s:s, s:i}, {s:s, s:s, s:s}]", "op", "replace", "path",
                                target_path, "value", ENVOY_PROXY_PORT, "op", "add", "path",
                                "/metadata/annotations", "value", "");
        /* the undo re-adds the annotation object as it was */
        json_object_set(json_array_get(s->undo_ops, 1), "value",
                        json_object_get(metadata, "annotations"));
        free(now);
        free(target_path);
        json_decref(record);
        *service_name = servo_strdup_printf("%s", name);
        found = 1;
        break;
    }
    json_decref(list);
    return found;
}

int sidecar_eject(struct kube_client *client, const struct sidecar_request *r)
{
    char *path = deployment_path(r);
    char *what = workload_what(r);
    struct service_change service = {0};
    char *service_name = NULL;
    json_t *deployment = get_object(client, path, what);
    int rc = -1;
    if (deployment == NULL)
        goto out;
    int index = sidecar_index(pod_spec_of(deployment));
    if (index < 0) {
        fprintf(stderr, "error: %s has no Envoy sidecar (container %s): nothing to eject\n", what,
                ENVOY_CONTAINER);
        goto out;
    }
    if (plan_service_eject(client, r, &service, &service_name) < 0)
        goto out;
    char *remove = servo_strdup_printf("/spec/template/spec/containers/%d", index);
    json_t *ops = json_pack("[{s:s, s:s}]", "op", "remove", "path", remove);
    free(remove);
    if (r->dry_run) {
        if (service.ops)
            print_patch("Service", service_name, service.ops);
        print_patch(kind_of(r), r->deployment, ops);
        json_decref(ops);
        printf("dry run: nothing changed\n");
        rc = 0;
        goto out;
    }
    char *spath = service_name ? opsani_dev_service_path(r->namespace, service_name) : NULL;
    if (service.ops &&
        patch_object(client, spath, service.service, json_incref(service.ops), "Service") != 0) {
        json_decref(ops);
        free(spath);
        goto out;
    }
    if (patch_object(client, path, deployment, ops, what) != 0) {
        if (service.ops) {
            json_t *current = get_object(client, spath, "Service");
            if (current == NULL ||
                patch_object(client, spath, current, json_incref(service.undo_ops), "Service") != 0)
                fprintf(stderr,
                        "error: Service \"%s\" was restored but the sidecar stays: "
                        "traffic bypasses Envoy\n",
                        service_name);
            else
                fprintf(stderr, "Service \"%s\" retargeted to the sidecar again: nothing changed\n",
                        service_name);
            json_decref(current);
        }
        free(spath);
        goto out;
    }
    free(spath);
    printf("Envoy sidecar ejected from %s %s in %s\n", kind_of(r), r->deployment, r->namespace);
    printf("%s \"%s\": container %s removed\n", kind_of(r), r->deployment, ENVOY_CONTAINER);
    if (service.what)
        printf("%s\n", service.what);
    rc = 0;
out:
    service_change_clear(&service);
    free(service_name);
    json_decref(deployment);
    free(path);
    free(what);
    return rc;
}

/* ---- the commands -------------------------------------------------------------------------- */

static int usage(bool inject, const char *message)
{
    fprintf(stderr,
            "error: %s\nUsage: servo %s deployment/NAME|rollout/NAME%s [-n NAMESPACE] [-s SERVICE "
            "| -p PORT] "
            "[--dry-run]\n",
            message, inject ? "inject-sidecar" : "eject-sidecar", inject ? " --image IMAGE" : "");
    return 2;
}

static int sidecar_command(struct servo_connector *connector, int argc, char **argv, bool inject)
{
    const struct opsani_dev_settings *s = connector ? servo_connector_settings(connector) : NULL;
    struct sidecar_request r = {
        .namespace = s ? s->namespace : "default",
        .image = s ? s->envoy_sidecar_image : NULL,
        .service = s ? s->service : NULL,
        .port = s ? s->port : NULL,
        .deployment = s ? s->workload_name : NULL,
        .rollout = s && s->workload_kind == OPSANI_DEV_ROLLOUT,
    };
    static const struct option options[] = {
        {"image", required_argument, NULL, 'i'},   {"namespace", required_argument, NULL, 'n'},
        {"service", required_argument, NULL, 's'}, {"port", required_argument, NULL, 'p'},
        {"dry-run", no_argument, NULL, 'd'},       {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "i:n:s:p:", options, NULL)) != -1) {
        switch (c) {
        case 'i':
            r.image = optarg;
            break;
        case 'n':
            r.namespace = optarg;
            break;
        case 's':
            r.service = optarg;
            break;
        case 'p':
            r.port = optarg;
            break;
        case 'd':
            r.dry_run = true;
            break;
        default:
            return usage(inject, "unknown option or missing value");
        }
    }
    if (optind < argc) {
        const char *target = argv[optind++];
        const char *slash = strchr(target, '/');
        size_t kind = slash ? (size_t)(slash - target) : 0;
        bool deployment = (kind == 10 && strncmp(target, "deployment", 10) == 0) ||
                          (kind == 6 && strncmp(target, "deploy", 6) == 0);
        bool rollout = (kind == 7 && strncmp(target, "rollout", 7) == 0) ||
                       (kind == 2 && strncmp(target, "ro", 2) == 0);
        if (!deployment && !rollout)
            return usage(inject, "the target must be deployment/NAME (deploy/NAME) or "
                                 "rollout/NAME (ro/NAME); pods are not supported");
        r.deployment = slash + 1;
        r.rollout = rollout;
    }
    if (optind < argc)
        return usage(inject, "one target only");
    if (r.deployment == NULL || *r.deployment == '\0')
        return usage(inject, "no target: give deployment/NAME or rollout/NAME");
    if (inject && r.image == NULL)
        r.image = ENVOY_DEFAULT_IMAGE;
    if (inject && r.service == NULL && r.port == NULL)
        return usage(inject, "give the Service (--service) or the container port (--port)");
    char *error = NULL;
    struct kube_config_source source = {.kubeconfig = s ? s->kubeconfig : NULL,
                                        .context = s ? s->context : NULL};
    struct kube_client *client = kube_client_create(&source, &error);
    if (client == NULL) {
        fprintf(stderr, "error: %s\n", error);
        free(error);
        return 1;
    }
    int rc = inject ? sidecar_inject(client, &r) : sidecar_eject(client, &r);
    kube_client_free(client);
    return rc == 0 ? 0 : 1;
}

int sidecar_inject_command(struct servo_connector *connector, int argc, char **argv)
{
    return sidecar_command(connector, argc, argv, true);
}

int sidecar_eject_command(struct servo_connector *connector, int argc, char **argv)
{
    return sidecar_command(connector, argc, argv, false);
}
