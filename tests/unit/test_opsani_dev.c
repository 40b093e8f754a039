// SPDX-License-Identifier: Apache-2.0
/* The opsani_dev connector's pure parts: the sidecar container, port conflicts, the Service
 * port and its target resolved, the promote patch; and its children through the assembly
 * (kubernetes with the main container and the tuning canary, prometheus with the 13 Envoy
 * metrics, 7 without a tuning pod, kube_metrics with the container, the kind and
 * when_unavailable: skip). tests/integration/test_opsani_dev*.sh run it against an API server. */
#include "support.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "assembly/assembly.h"
#include "assembly/registry.h"
#include "config/diag.h"

#include "opsani_dev/opsani_dev.h"

static void assert_json(const json_t *actual, const char *expected)
{
    json_t *want = test_json(expected);
    if (!json_equal(actual, want)) {
        char *text = actual ? json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        print_message("expected %s\n     got %s\n", expected, text ? text : "(null)");
        free(text);
        fail();
    }
    json_decref(want);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (haystack == NULL || strstr(haystack, needle) == NULL) {
        print_message("expected \"%s\"\n      in \"%s\"\n", needle, haystack ? haystack : "(null)");
        fail();
    }
}

static void test_sidecar_container(void **state)
{
    (void)state;
    json_t *c = sidecar_container("envoy:1", 8080);
    assert_json(c, "{\"name\":\"opsani-envoy\",\"image\":\"envoy:1\",\"imagePullPolicy\":"
                   "\"IfNotPresent\",\"resources\":{\"requests\":{\"cpu\":\"125m\",\"memory\":"
                   "\"128Mi\"},\"limits\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}},\"env\":["
                   "{\"name\":\"OPSANI_ENVOY_PROXY_SERVICE_PORT\",\"value\":\"9980\"},"
                   "{\"name\":\"OPSANI_ENVOY_PROXIED_CONTAINER_PORT\",\"value\":\"8080\"},"
                   "{\"name\":\"OPSANI_ENVOY_PROXY_METRICS_PORT\",\"value\":\"9901\"}],"
                   "\"ports\":[{\"name\":\"opsani-proxy\",\"containerPort\":9980},"
                   "{\"name\":\"opsani-metrics\",\"containerPort\":9901}]}");
    json_decref(c);
}

static void test_port_conflicts(void **state)
{
    (void)state;
    json_t *ok = test_json("{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80}]},"
                           "{\"name\":\"b\"}]}");
    assert_null(sidecar_port_conflict(ok));
    json_t *clash =
        test_json("{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80}]},"
                  "{\"name\":\"stats\",\"ports\":[{\"containerPort\":9980}]}]}");
    char *message = sidecar_port_conflict(clash);
    assert_contains(message, "container \"stats\" already uses port 9980");
    free(message);
    json_decref(ok);
    json_decref(clash);
}

static void test_service_port(void **state)
{
    (void)state;
    char *error = NULL;
    json_t *one =
        test_json("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
    assert_int_equal(sidecar_service_port(one, NULL, &error), 0);
    assert_int_equal(sidecar_service_port(one, "80", &error), 0);
    assert_int_equal(sidecar_service_port(one, "81", &error), -1);
    assert_contains(error, "Service \"web\" has no port \"81\" (its ports: 80)");
    free(error);
    error = NULL;
    json_t *two =
        test_json("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"ports\":[{\"name\":\"http\","
                  "\"port\":80},{\"name\":\"admin\",\"port\":81}]}}");
    assert_int_equal(sidecar_service_port(two, NULL, &error), -1);
    assert_contains(error, "exposes several ports (80 (http), 81 (admin))");
    free(error);
    error = NULL;
    assert_int_equal(sidecar_service_port(two, "admin", &error), 1);
    assert_int_equal(sidecar_service_port(two, "81", &error), 1);
    json_t *none = test_json("{\"metadata\":{\"name\":\"web\"},\"spec\":{}}");
    assert_int_equal(sidecar_service_port(none, NULL, &error), -1);
    assert_contains(error, "exposes no port");
    free(error);
    json_decref(one);
    json_decref(two);
    json_decref(none);
}

static void test_target_port(void **state)
{
    (void)state;
    char *error = NULL;
    json_t *spec = test_json("{\"containers\":[{\"name\":\"a\",\"ports\":[{\"name\":\"http\","
                             "\"containerPort\":8080}]}]}");
    json_t *numeric = test_json("{\"port\":80,\"targetPort\":8081}");
    json_t *named = test_json("{\"port\":80,\"targetPort\":\"http\"}");
    json_t *absent = test_json("{\"port\":80}");
    json_t *unknown = test_json("{\"port\":80,\"targetPort\":\"grpc\"}");
    assert_int_equal(sidecar_target_port(numeric, spec, &error), 8081);
    assert_int_equal(sidecar_target_port(named, spec, &error), 8080);
    assert_int_equal(sidecar_target_port(absent, spec, &error), 80);
    assert_int_equal(sidecar_target_port(unknown, spec, &error), -1);
    assert_contains(error, "targetPort \"grpc\" is not a named port");
    free(error);
    json_decref(spec);
    json_decref(numeric);
    json_decref(named);
    json_decref(absent);
    json_decref(unknown);
}

static void test_promote_patch(void **state)
{
    (void)state;
    struct kubernetes_env env = {.name = "MODE"};
    struct opsani_dev_settings s = {
        .workload_name = "web", .container = "app", .env = {.count = 1, .items = &env}};
    json_t *pod =
        test_json("{\"spec\":{\"containers\":[{\"name\":\"app\",\"resources\":{\"requests\":"
                  "{\"cpu\":\"500m\"}},\"env\":[{\"name\":\"OTHER\",\"value\":\"x\"},"
                  "{\"name\":\"MODE\",\"value\":\"b\"}]},{\"name\":\"opsani-envoy\"}]}}");
    json_t *patch = promote_patch(pod, &s);
    assert_json(patch, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
                       "\"resources\":{\"requests\":{\"cpu\":\"500m\"}},\"env\":[{\"name\":"
                       "\"MODE\",\"value\":\"b\"}]}]}}}}");
    json_decref(patch);
    s.container = "missing";
    assert_null(promote_patch(pod, &s));
    json_decref(pod);
}

static void test_promote_rollout_patch(void **state)
{
    (void)state;
    json_t *rollout = test_json("{\"metadata\":{\"resourceVersion\":\"42\"},\"spec\":{\"template\":"
                                "{\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"a\","
                                "\"resources\":{\"requests\":{\"cpu\":\"1\"}},\"env\":[{\"name\":"
                                "\"KEEP\",\"value\":\"1\"},{\"name\":\"MODE\",\"value\":\"a\"}]},"
                                "{\"name\":\"opsani-envoy\",\"image\":\"e\"}]}}}}");
    json_t *patch =
        test_json("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
                  "\"resources\":{\"requests\":{\"cpu\":\"500m\"}},\"env\":[{\"name\":"
                  "\"MODE\",\"value\":\"b\"},{\"name\":\"NEW\",\"value\":\"n\"}]}]}}}}");
    json_t *merge = promote_rollout_patch(rollout, patch);
    /* the whole list (a merge patch replaces it): the sidecar and KEEP kept */
    assert_json(merge, "{\"metadata\":{\"resourceVersion\":\"42\"},\"spec\":{\"template\":{"
                       "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"a\","
                       "\"resources\":{\"requests\":{\"cpu\":\"500m\"}},\"env\":[{\"name\":"
                       "\"KEEP\",\"value\":\"1\"},{\"name\":\"MODE\",\"value\":\"b\"},"
                       "{\"name\":\"NEW\",\"value\":\"n\"}]},{\"name\":\"opsani-envoy\","
                       "\"image\":\"e\"}]}}}}");
    json_decref(merge);
    json_object_set_new(
        json_array_get(json_object_get(
                           json_object_get(
                               json_object_get(json_object_get(patch, "spec"), "template"), "spec"),
                           "containers"),
                       0),
        "name", json_string("missing"));
    assert_null(promote_rollout_patch(rollout, patch));
    json_decref(patch);
    json_decref(rollout);
}

static void test_version(void **state)
{
    (void)state;
    static const struct {
        const char *version;
        int rc;
        const char *message;
    } cases[] = {
        {"{\"major\":\"1\",\"minor\":\"20\",\"gitVersion\":\"v1.20.2\"}", 0,
         "Kubernetes v1.20.2 (supported: 1.16-1.30)"},
        {"{\"major\":\"1\",\"minor\":\"22+\",\"gitVersion\":\"v1.22.3-eks\"}", 0, "v1.22.3-eks"},
        {"{\"major\":\"1\",\"minor\":\"15\",\"gitVersion\":\"v1.15.0\"}", -1,
         "Kubernetes v1.15.0 is older than 1.16, the oldest supported"},
        {"{\"major\":\"1\",\"minor\":\"33\",\"gitVersion\":\"v1.33.1\"}", 1,
         "newer than 1.30, the newest tested"},
        {"{\"major\":\"2\",\"minor\":\"0\"}", -1, "not a Kubernetes 1.x version"},
        {"{\"minor\":\"x\"}", -1, "not a Kubernetes 1.x version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *version = test_json(cases[i].version);
        char *message = NULL;
        assert_int_equal(opsani_dev_version_supported(version, &message), cases[i].rc);
        assert_contains(message, cases[i].message);
        free(message);
        json_decref(version);
    }
}

static void test_requirements(void **state)
{
    (void)state;
    int both[] = {KUBERNETES_REQUEST, KUBERNETES_LIMIT};
    int limit[] = {KUBERNETES_LIMIT};
    struct kubernetes_resource cpu = {.get = {.count = 2, .items = both}};
    struct kubernetes_resource memory = {.get = {.count = 2, .items = both}};
    struct opsani_dev_settings s = {.workload_name = "web", .cpu = &cpu, .memory = &memory};
    json_t *container = test_json("{\"name\":\"web\",\"resources\":{\"requests\":{\"cpu\":"
                                  "\"1\"},\"limits\":{\"memory\":\"1Gi\"}}}");
    assert_null(opsani_dev_requirements_missing(container, &s));
    memory.get = (struct servo_list){.count = 1, .items = both};
    char *missing = opsani_dev_requirements_missing(container, &s);
    assert_contains(missing, "container \"web\" has no memory request (the memory setting reads "
                             "its value from the request)");
    free(missing);
    cpu.get = (struct servo_list){.count = 1, .items = limit};
    missing = opsani_dev_requirements_missing(container, &s);
    assert_contains(missing, "has no cpu limit");
    free(missing);
    json_decref(container);
    container = test_json("{\"name\":\"web\"}");
    memory.get = (struct servo_list){.count = 2, .items = both};
    cpu.get = memory.get;
    missing = opsani_dev_requirements_missing(container, &s);
    assert_contains(missing, "has no cpu request or limit");
    free(missing);
    json_decref(container);
}

/* ---- the children, through the assembly ----------------------------------------------------- */

static struct registry registry;

static const char *env_none(void *context, const char *name)
{
    (void)context;
    (void)name;
    return NULL;
}

static const struct servo_config *load(struct assembly *a, const char *text)
{
    struct env_lookup lookup = {.get = env_none};
    struct assembly_options options = {.config_file = "servo.yaml", .env = &lookup};
    struct servo_diags diags;
    diags_init(&diags);
    int rc = assembly_load_text(a, &registry, text, strlen(text), "servo.yaml", &options, &diags);
    if (rc != 0)
        diags_print(&diags, stderr, "load: ");
    diags_free(&diags);
    assert_int_equal(rc, 0);
    return assembly_find(a, NULL);
}

static const struct servo_connector *instance(const struct servo_config *servo, const char *name)
{
    for (size_t i = 0; i < servo->connector_count; i++)
        if (strcmp(servo->connectors[i].name, name) == 0)
            return &servo->connectors[i];
    return NULL;
}

#define CONFIG                           \
    "opsani_dev:\n"                      \
    "  namespace: shop\n"                \
    "  workload_name: web\n"             \
    "  container: app\n"                 \
    "  service: web\n"                   \
    "  cpu: {min: 250m, max: '2'}\n"     \
    "  memory: {min: 256Mi, max: 2Gi}\n" \
    "  static_environment_variables: {TUNING: '1'}\n"

static void test_children(void **state)
{
    (void)state;
    struct assembly a = {0};
    const struct servo_config *servo = load(&a, CONFIG);
    assert_int_equal(servo->connector_count, 4);
    const struct servo_connector *k = instance(servo, "opsani_dev.kubernetes");
    const struct servo_connector *p = instance(servo, "opsani_dev.prometheus");
    assert_non_null(k);
    assert_non_null(p);
    const struct kubernetes_settings *ks = k->settings;
    assert_string_equal(ks->namespace, "shop");
    assert_int_equal(ks->on_failure, KUBERNETES_FAILURE_ROLLBACK);
    assert_int_equal(ks->deployments.count, 1);
    const struct kubernetes_workload *w = ks->deployments.items;
    assert_string_equal(w->name, "web");
    assert_int_equal(w->strategy.type, KUBERNETES_STRATEGY_CANARY);
    assert_string_equal(w->strategy.alias, "tuning");
    assert_true(w->replicas->pinned);
    const struct kubernetes_container *c = w->containers.items;
    assert_string_equal(c->name, "app");
    assert_string_equal(c->alias, "main");
    assert_int_equal(c->cpu->min, 250);
    assert_int_equal(c->memory->max, (int64_t)2 << 30);
    assert_int_equal(c->static_environment_variables.count, 1);
    json_t *prometheus = servo_config_to_json(servo, false);
    json_t *metrics =
        json_object_get(json_object_get(prometheus, "opsani_dev.prometheus"), "metrics");
    assert_int_equal(json_array_size(metrics), 13);
    assert_string_equal(json_string_value(json_object_get(json_array_get(metrics, 1), "query")),
                        "envoy_cluster_membership_healthy{opsani_role=\"tuning\"}");
    assert_json(json_object_get(prometheus, "opsani_dev.kube_metrics"),
                "{\"namespace\": \"shop\", \"name\": \"web\", \"kind\": \"Deployment\", "
                "\"container\": \"app\", \"when_unavailable\": \"skip\", \"kubeconfig\": null, "
                "\"context\": null, "
                "\"metric_collection_frequency\": \"1m\", \"metrics_to_collect\": "
                "[\"tuning_cpu_usage\", \"tuning_cpu_request\", \"tuning_cpu_limit\", "
                "\"tuning_cpu_saturation\", \"tuning_mem_usage\", \"tuning_mem_request\", "
                "\"tuning_mem_limit\", \"tuning_mem_saturation\", \"tuning_pod_restart_count\", "
                "\"main_cpu_usage\", \"main_cpu_request\", \"main_cpu_limit\", "
                "\"main_cpu_saturation\", \"main_mem_usage\", \"main_mem_request\", "
                "\"main_mem_limit\", \"main_mem_saturation\", \"main_pod_restart_count\"]}");
    json_decref(prometheus);
    assembly_free(&a);

    servo = load(&a, CONFIG "  create_tuning_pod: false\n");
    ks = instance(servo, "opsani_dev.kubernetes")->settings;
    w = ks->deployments.items;
    assert_int_equal(w->strategy.type, KUBERNETES_STRATEGY_DEFAULT);
    json_t *config = servo_config_to_json(servo, false);
    metrics = json_object_get(json_object_get(config, "opsani_dev.prometheus"), "metrics");
    assert_int_equal(json_array_size(metrics), 7); /* the 6 tuning metrics dropped */
    json_decref(config);
    assembly_free(&a);
}

static void test_rollout_child(void **state)
{
    (void)state;
    struct assembly a = {0};
    const struct servo_config *servo = load(&a, CONFIG "  workload_kind: Rollout\n");
    const struct kubernetes_settings *ks = instance(servo, "opsani_dev.kubernetes")->settings;
    assert_int_equal(ks->deployments.count, 0);
    assert_int_equal(ks->rollouts.count, 1);
    const struct kubernetes_workload *w = ks->rollouts.items;
    assert_string_equal(w->name, "web");
    assert_int_equal(w->strategy.type, KUBERNETES_STRATEGY_CANARY);
    assert_int_equal(((const struct opsani_dev_settings *)instance(servo, "opsani_dev")->settings)
                         ->workload_kind,
                     OPSANI_DEV_ROLLOUT);
    assembly_free(&a);
}

static void test_children_alias(void **state)
{
    (void)state;
    struct assembly a = {0};
    const char *text = "connectors: {dev: opsani_dev}\n"
                       "dev:\n"
                       "  namespace: shop\n"
                       "  workload_name: web\n"
                       "  service: web\n"
                       "  cpu: {min: 250m, max: '2'}\n"
                       "  memory: {min: 256Mi, max: 2Gi}\n";
    const struct servo_config *servo = load(&a, text);
    assert_non_null(instance(servo, "dev.kubernetes"));
    assert_non_null(instance(servo, "dev.prometheus"));
    /* no container: the workload's name */
    const struct kubernetes_settings *ks = instance(servo, "dev.kubernetes")->settings;
    const struct kubernetes_workload *w = ks->deployments.items;
    assert_string_equal(((const struct kubernetes_container *)w->containers.items)->name, "web");
    assembly_free(&a);
}

static int setup(void **state)
{
    (void)state;
    struct servo_diags diags;
    diags_init(&diags);
    int rc = registry_init(&registry, "", "", &diags);
    diags_free(&diags);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    registry_free(&registry);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sidecar_container), cmocka_unit_test(test_port_conflicts),
        cmocka_unit_test(test_service_port),      cmocka_unit_test(test_target_port),
        cmocka_unit_test(test_promote_patch),     cmocka_unit_test(test_children),
        cmocka_unit_test(test_children_alias),    cmocka_unit_test(test_promote_rollout_patch),
        cmocka_unit_test(test_version),           cmocka_unit_test(test_requirements),
        cmocka_unit_test(test_rollout_child),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
