// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target for what opsani_dev reads from the API server: the input, as JSON, is
 * taken as a Service (the port inject-sidecar fronts: none named, "80", "http"), as a Service
 * port with a pod spec (its targetPort resolved), as a pod spec (port conflicts with the
 * sidecar), as a tuning pod (the promote patch) and as a Rollout (its merge patch), as the API
 * server's /version (the supported range), as a container (its resource requirements) and
 * as a pod list with Prometheus's /api/v1/targets data (the targets check). A port found is
 * an index of the Service's ports, a failure comes with a message, a conflict names a
 * container. No request is sent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/opsani_dev/opsani_dev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_service(const json_t *service)
{
    static const char *const ports[] = {NULL, "80", "http", "0", "99999999999"};
    size_t count = json_array_size(json_object_get(json_object_get(service, "spec"), "ports"));
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
        char *error = NULL;
        int index = sidecar_service_port(service, ports[i], &error);
        if (index >= 0 ? (size_t)index >= count || error != NULL : error == NULL)
            abort();
        free(error);
    }
}

static void check_ports(const json_t *object)
{
    const json_t *spec = json_object_get(object, "spec");
    size_t i;
    json_t *port;
    json_array_foreach(json_object_get(spec, "ports"), i, port)
    {
        char *error = NULL;
        long target = sidecar_target_port(port, spec, &error);
        if ((target < 0) != (error != NULL))
            abort();
        free(error);
    }
    char *conflict = sidecar_port_conflict(spec);
    if (conflict && strstr(conflict, "container") == NULL)
        abort();
    free(conflict);
}

/* The version, the container's requirements, the object as pods and as targets at once. */
static void check_read(const json_t *object)
{
    char *message = NULL;
    int rc = opsani_dev_version_supported(object, &message);
    if (message == NULL || rc < -1 || rc > 1)
        abort();
    free(message);
    int both[] = {KUBERNETES_REQUEST, KUBERNETES_LIMIT};
    struct kubernetes_resource resource = {.get = {.count = 2, .items = both}};
    struct opsani_dev_settings s = {.workload_name = "web", .cpu = &resource, .memory = &resource};
    free(opsani_dev_requirements_missing(object, &s));
    char *problem = opsani_dev_targets_problem(object, json_object_get(object, "data"), "ns");
    if (problem != NULL && strstr(problem, "pod ") == NULL)
        abort();
    free(problem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *object = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (object == NULL)
        return 0;
    check_service(object);
    check_ports(object);
    struct opsani_dev_settings settings = {.workload_name = "web"};
    json_t *patch = promote_patch(object, &settings);
    if (patch && !json_is_object(patch))
        abort();
    json_t *merge = patch ? promote_rollout_patch(object, patch) : NULL;
    if (merge && !json_is_object(merge))
        abort();
    json_decref(merge);
    json_decref(patch);
    check_read(object);
    json_decref(object);
    return 0;
}
