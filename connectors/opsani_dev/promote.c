// SPDX-License-Identifier: Apache-2.0
/* Promote: the tuning pod's settings (its container's resources and the optimized
 * environment variables) written into the main workload's container, so that it runs at what
 * the optimizer found best (after `servo run` ends, the tuning pod is at the best trial's
 * settings). By hand with `servo opsani-dev promote`, or at the end of `servo run` with the
 * embedded optimizer (the promote event) when the `promote` setting is true. One patch (a
 * Deployment: strategic merge; a Rollout: a merge patch of its containers guarded by its
 * resourceVersion); the rollout is the controller's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsani_dev.h"
#include "servo/events.h"
#include "servo/log.h"
#include "servo/util.h"

static const json_t *named(const json_t *array, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "name")) ?: "", name) == 0)
            return item;
    }
    return NULL;
}

json_t *promote_patch(const json_t *tuning_pod, const struct opsani_dev_settings *s)
{
    const char *container = s->container ? s->container : s->workload_name;
    const json_t *tuned =
        named(json_object_get(json_object_get(tuning_pod, "spec"), "containers"), container);
    if (tuned == NULL)
        return NULL;
    const json_t *resources = json_object_get(tuned, "resources");
    json_t *entry = json_pack("{s:s, s:o}", "name", container, "resources",
                              resources ? json_deep_copy(resources) : json_object());
    json_t *env = json_array();
    const struct kubernetes_env *optimized = s->env.items;
    for (size_t i = 0; i < s->env.count; i++) {
        const char *variable = optimized[i].literal ? optimized[i].literal : optimized[i].name;
        const json_t *value = named(json_object_get(tuned, "env"), variable);
        if (value)
            json_array_append(env, (json_t *)value);
    }
    if (json_array_size(env))
        json_object_set(entry, "env", env);
    json_decref(env);
    return json_pack("{s:{s:{s:{s:[o]}}}}", "spec", "template", "spec", "containers", entry);
}

json_t *promote_rollout_patch(const json_t *rollout, const json_t *patch)
{
    const json_t *entry = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(patch, "spec"), "template"), "spec"),
            "containers"),
        0);
    const char *name = json_string_value(json_object_get(entry, "name"));
    json_t *containers = json_deep_copy(json_object_get(
        json_object_get(json_object_get(json_object_get(rollout, "spec"), "template"), "spec"),
        "containers"));
    json_t *container = name ? (json_t *)named(containers, name) : NULL;
    if (container == NULL) {
        json_decref(containers);
        return NULL;
    }
    json_object_set(container, "resources", json_object_get(entry, "resources"));
    json_t *env = json_object_get(container, "env");
    size_t i;
    json_t *value;
    json_array_foreach(json_object_get(entry, "env"), i, value)
    {
        const char *variable = json_string_value(json_object_get(value, "name"));
        if (variable == NULL)
            continue;
        json_t *current = (json_t *)named(env, variable);
        if (current != NULL) {
            json_object_clear(current);
            json_object_update(current, value);
        } else {
            if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(container, "env", env);
            }
            json_array_append(env, value);
        }
    }
    const char *version =
        json_string_value(json_object_get(json_object_get(rollout, "metadata"), "resourceVersion"));
    return json_pack("{s:{s:s?}, s:{s:{s:{s:o}}}}", "metadata", "resourceVersion", version, "spec",
                     "template", "spec", "containers", containers);
}

/* The patch's container resources as compact JSON (caller frees). */
static char *promoted_text(const json_t *patch)
{
    const json_t *entry = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(patch, "spec"), "template"), "spec"),
            "containers"),
        0);
    json_t *shown = json_pack("{s:O}", "resources", json_object_get(entry, "resources"));
    if (json_object_get(entry, "env") != NULL)
        json_object_set(shown, "env", json_object_get(entry, "env"));
    char *text = servo_json_text(shown, JSON_COMPACT);
    json_decref(shown);
    return text;
}

/* PATCH the workload with `patch` (a Rollout: rebuilt by promote_rollout_patch from the
 * Rollout read now). 0, or -1 with why not (caller frees). */
static int patch_workload(struct kube_client *client, struct servo_event *ev,
                          const struct opsani_dev_settings *s, const json_t *patch, char **error)
{
    char *path = opsani_dev_workload_path(s);
    const char *kind = opsani_dev_kind_name(s);
    json_t *body = json_incref((json_t *)patch);
    const char *type = "strategic";
    int rc = -1;
    if (s->workload_kind == OPSANI_DEV_ROLLOUT) {
        char *why = NULL;
        json_t *rollout = opsani_dev_get(client, path, ev, "failed", &why);
        json_decref(body);
        body = rollout ? promote_rollout_patch(rollout, patch) : NULL;
        type = "merge";
        if (rollout == NULL)
            *error = servo_strdup_printf("Rollout %s in namespace %s: %s", s->workload_name,
                                         s->namespace, why);
        else if (body == NULL)
            *error = servo_strdup_printf("Rollout %s in namespace %s has no container \"%s\"",
                                         s->workload_name, s->namespace,
                                         s->container ? s->container : s->workload_name);
        free(why);
        json_decref(rollout);
    }
    struct kube_response r = {0};
    if (body != NULL) {
        if (kube_request(client, "PATCH", path, body, type, ev, &r) != 0 || r.status >= 300)
            *error = servo_strdup_printf("%s %s in namespace %s: %s", kind, s->workload_name,
                                         s->namespace, r.message ? r.message : "failed");
        else
            rc = 0;
    }
    kube_response_clear(&r);
    json_decref(body);
    free(path);
    return rc;
}

int promote_apply(struct kube_client *client, struct servo_event *ev,
                  const struct opsani_dev_settings *s, char **changed, char **error)
{
    char *pod_path =
        servo_strdup_printf("/api/v1/namespaces/%s/pods/%s-tuning", s->namespace, s->workload_name);
    char *why = NULL;
    json_t *patch = NULL;
    int rc = -1;
    json_t *pod = opsani_dev_get(client, pod_path, ev, "failed", &why);
    if (pod == NULL) {
        *error = servo_strdup_printf("tuning pod %s-tuning in namespace %s: %s", s->workload_name,
                                     s->namespace, why);
    } else if ((patch = promote_patch(pod, s)) == NULL) {
        *error = servo_strdup_printf("the tuning pod has no container \"%s\"",
                                     s->container ? s->container : s->workload_name);
    } else if (patch_workload(client, ev, s, patch, error) == 0) {
        *changed = promoted_text(patch);
        rc = 0;
    }
    json_decref(patch);
    json_decref(pod);
    free(why);
    free(pod_path);
    return rc;
}

int promote_command(struct servo_connector *connector, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (connector == NULL) {
        fprintf(stderr, "error: promote needs an opsani_dev configuration\n");
        return 2;
    }
    const struct opsani_dev_settings *s = servo_connector_settings(connector);
    char *error = NULL;
    struct kube_config_source source = {.kubeconfig = s->kubeconfig, .context = s->context};
    struct kube_client *client = kube_client_create(&source, &error);
    if (client == NULL) {
        fprintf(stderr, "error: %s\n", error);
        free(error);
        return 1;
    }
    char *changed = NULL;
    int rc = promote_apply(client, NULL, s, &changed, &error);
    if (rc == 0)
        printf("%s %s in %s now runs the tuning pod's settings: %s\n", opsani_dev_kind_name(s),
               s->workload_name, s->namespace, changed);
    else
        fprintf(stderr, "error: %s\n", error);
    free(changed);
    free(error);
    kube_client_free(client);
    return rc == 0 ? 0 : 1;
}

int promote_on_event(struct servo_connector *connector, struct servo_event *event)
{
    const struct opsani_dev_settings *s = servo_connector_settings(connector);
    if (!s->create_tuning_pod) {
        servo_info("Nothing to promote: create_tuning_pod is false, %s %s itself is at the best "
                   "settings",
                   opsani_dev_kind_name(s), s->workload_name);
        return 0;
    }
    if (!s->promote) {
        servo_info("The best settings stay on the tuning pod (promote is false): servo "
                   "opsani-dev promote gives them to %s %s",
                   opsani_dev_kind_name(s), s->workload_name);
        return 0;
    }
    char *error = NULL;
    struct kube_config_source source = {.kubeconfig = s->kubeconfig, .context = s->context};
    struct kube_client *client = kube_client_create(&source, &error);
    char *changed = NULL;
    int rc = client ? promote_apply(client, event, s, &changed, &error) : -1;
    if (rc == 0)
        servo_info("Promoted the best settings to %s %s in %s: %s", opsani_dev_kind_name(s),
                   s->workload_name, s->namespace, changed);
    else
        servo_event_fail(event, SERVO_ERROR_FAILED, "promote-failed", "promote: %s", error);
    free(changed);
    free(error);
    kube_client_free(client);
    return rc;
}
