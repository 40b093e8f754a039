// SPDX-License-Identifier: Apache-2.0
/* `servo opsani-dev promote`: the tuning pod's settings (its container's resources and the
 * optimized environment variables) written into the main Deployment's container, so the
 * workload runs at what the optimizer found best (after `servo run` ends, the tuning pod is
 * at the best trial's settings). One strategic-merge patch; the rollout is the Deployment
 * controller's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsani_dev.h"
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
    char *pod_path =
        servo_strdup_printf("/api/v1/namespaces/%s/pods/%s-tuning", s->namespace, s->workload_name);
    char *path = opsani_dev_deployment_path(s->namespace, s->workload_name);
    struct kube_response r = {0};
    int rc = 1;
    json_t *patch = NULL;
    char *why = NULL;
    json_t *pod = opsani_dev_get(client, pod_path, NULL, "failed", &why);
    if (pod == NULL) {
        fprintf(stderr, "error: tuning pod %s-tuning in namespace %s: %s\n", s->workload_name,
                s->namespace, why);
    } else if ((patch = promote_patch(pod, s)) == NULL) {
        fprintf(stderr, "error: the tuning pod has no container \"%s\"\n",
                s->container ? s->container : s->workload_name);
    } else {
        if (kube_request(client, "PATCH", path, patch, "strategic", NULL, &r) != 0 ||
            r.status >= 300) {
            fprintf(stderr, "error: Deployment %s in namespace %s: %s\n", s->workload_name,
                    s->namespace, r.message ? r.message : "failed");
        } else {
            char *text = servo_json_text(
                json_object_get(
                    json_array_get(
                        json_object_get(
                            json_object_get(
                                json_object_get(json_object_get(patch, "spec"), "template"),
                                "spec"),
                            "containers"),
                        0),
                    "resources"),
                JSON_COMPACT);
            printf("Deployment %s in %s now runs the tuning pod's settings: %s\n", s->workload_name,
                   s->namespace, text);
            free(text);
            rc = 0;
        }
    }
    kube_response_clear(&r);
    json_decref(patch);
    json_decref(pod);
    free(why);
    free(pod_path);
    free(path);
    kube_client_free(client);
    return rc;
}
