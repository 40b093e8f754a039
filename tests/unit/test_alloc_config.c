// SPDX-License-Identifier: Apache-2.0
/* Forced allocation failures (alloc_fail.h) over the configuration path: the YAML loader
 * (text to node tree), the assembly with the settings engine behind it (routing, every
 * instance's settings validated into its struct with the defaults, an environment override,
 * `servo config`'s JSON), and a connector's JSON Schema. Every run whose
 * Nth allocation fails must end in a clean error; the last one must give the normal result. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc_fail.h"
#include "assembly/assembly.h"
#include "assembly/registry.h"
#include "config/diag.h"
#include "config/env.h"
#include "config/settings.h"
#include "config/yaml.h"

/* Aliases, a merge key, flow and block collections, quoted and plain scalars, and the
 * connectors whose settings have lists, maps, nested objects, durations, rates and enums. */
static const char config_text[] =
    "connectors:\n"
    "  load: vegeta\n"
    "  metrics: prometheus\n"
    "  pause: wait\n"
    "  app: exec\n"
    "defaults: &timeouts\n"
    "  timeout: 30s\n"
    "load:\n"
    "  rate: 50/1s\n"
    "  connections: 100\n"
    "  target: GET http://127.0.0.1:8080/\n"
    "  reporting_interval: 2s\n"
    "metrics:\n"
    "  base_url: http://127.0.0.1:9090\n"
    "  streaming_interval: 5s\n"
    "  metrics:\n"
    "    - {name: throughput, query: 'sum(rate(http_requests_total[1m]))', unit: rps}\n"
    "    - name: error_rate\n"
    "      query: \"sum(rate(http_errors_total[1m]))\"\n"
    "      unit: '%'\n"
    "pause:\n"
    "  measure_enabled: true\n"
    "app:\n"
    "  <<: *timeouts\n"
    "  describe: ./describe.sh\n"
    "  adjust: ./adjust.sh\n"
    "optimizer:\n"
    "  id: example.com/app\n"
    "  token: secret-token\n";

static struct registry registry;

struct expected {
    char *yaml_tree; /* the loaded tree as JSON */
    char *config;    /* servo_config_to_json of the assembly */
    char *schemas;   /* the prometheus connector's JSON Schema */
};

static struct expected expected;

/* ---- helpers ------------------------------------------------------------------------------ */

static int clean_error(char *why, size_t size, const char *what)
{
    snprintf(why, size, "%s", what);
    return -1;
}

/* A failure must say what went wrong: at least one diagnostic, each one formatted. */
static int diags_error(struct servo_diags *diags, char *why, size_t size)
{
    if (diags->count == 0) {
        diags_free(diags);
        snprintf(why, size, "an error without a diagnostic");
        return 1;
    }
    char *line = diag_format(&diags->items[0]);
    snprintf(why, size, "%s", line);
    free(line);
    diags_free(diags);
    return -1;
}

/* json_dumps, taking the value; NULL when either failed. */
static char *dump_and_free(json_t *json)
{
    if (json == NULL)
        return NULL;
    char *text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(json);
    return text;
}

static int compare(char *actual, const char *wanted, const char *what, char *why, size_t size)
{
    if (actual == NULL)
        return clean_error(why, size, what);
    int rc = strcmp(actual, wanted) == 0 ? 0 : 1;
    if (rc != 0)
        snprintf(why, size, "%s differs: %.200s", what, actual);
    free(actual);
    return rc;
}

/* ---- the operations ----------------------------------------------------------------------- */

static char *load_yaml_tree(struct servo_diags *diags)
{
    struct yaml_documents docs = {0};
    if (yaml_load(config_text, strlen(config_text), "servo.yaml", &docs, diags) != 0)
        return NULL;
    char *text = docs.count == 1 ? dump_and_free(node_to_json(docs.items[0])) : NULL;
    yaml_documents_free(&docs);
    return text;
}

static int yaml_op(void *context, char *why, size_t size)
{
    (void)context;
    struct servo_diags diags;
    diags_init(&diags);
    char *tree = load_yaml_tree(&diags);
    if (tree == NULL && diags.count > 0)
        return diags_error(&diags, why, size);
    diags_free(&diags);
    return compare(tree, expected.yaml_tree, "the tree as JSON", why, size);
}

static const char *fake_get(void *context, const char *name)
{
    (void)context;
    return strcmp(name, "SERVO_LOAD_WORKERS") == 0 ? "8" : NULL;
}

static char *load_assembly(struct servo_diags *diags)
{
    const struct env_lookup lookup = {.get = fake_get};
    const struct config_override override = {.path = "optimizer.token", .value = "override"};
    const struct assembly_options options = {.config_file = "servo.yaml",
                                             .allow_unknown = true,
                                             .overrides = &override,
                                             .override_count = 1,
                                             .env = &lookup};
    struct assembly a;
    if (assembly_load_text(&a, &registry, config_text, strlen(config_text), "servo.yaml", &options,
                           diags) != 0)
        return NULL;
    char *text = a.count == 1 ? dump_and_free(servo_config_to_json(&a.servos[0], true)) : NULL;
    assembly_free(&a);
    return text;
}

static int assembly_op(void *context, char *why, size_t size)
{
    (void)context;
    struct servo_diags diags;
    diags_init(&diags);
    char *config = load_assembly(&diags);
    if (config == NULL && diags.count > 0)
        return diags_error(&diags, why, size);
    diags_free(&diags);
    return compare(config, expected.config, "servo_config_to_json", why, size);
}

/* One connector's: the prometheus connector has nested objects, lists and enums. */
static char *prometheus_schema(void)
{
    for (size_t i = 0; i < registry.count; i++) {
        const struct servo_connector_plugin *plugin = registry.entries[i].plugin;
        if (strcmp(plugin->name, "prometheus") == 0)
            return dump_and_free(settings_json_schema(plugin->settings, "SERVO_PROMETHEUS"));
    }
    return NULL;
}

static int schema_op(void *context, char *why, size_t size)
{
    (void)context;
    return compare(prometheus_schema(), expected.schemas, "the JSON Schema", why, size);
}

/* ---- the tests ---------------------------------------------------------------------------- */

static void test_yaml_loader(void **state)
{
    (void)state;
    struct torture_stats stats;
    alloc_torture("yaml_load", yaml_op, NULL, &stats);
    assert_true(stats.allocations > 50);
}

static void test_assembly_and_settings(void **state)
{
    (void)state;
    struct torture_stats stats;
    alloc_torture("assembly_load_text", assembly_op, NULL, &stats);
    assert_true(stats.allocations > 500);
}

static void test_json_schema(void **state)
{
    (void)state;
    struct torture_stats stats;
    alloc_torture("settings_json_schema", schema_op, NULL, &stats);
    assert_true(stats.allocations > 500);
}

static int setup(void **state)
{
    (void)state;
    struct servo_diags diags;
    diags_init(&diags);
    int rc = registry_init(&registry, "", "", &diags);
    expected.yaml_tree = load_yaml_tree(&diags);
    expected.config = load_assembly(&diags);
    expected.schemas = prometheus_schema();
    if (rc != 0 || diags.count != 0 || expected.yaml_tree == NULL || expected.config == NULL ||
        expected.schemas == NULL) {
        diags_print(&diags, stderr, "setup: ");
        rc = -1;
    }
    /* the values the test means to cover are there */
    if (rc == 0 && (strstr(expected.config, "\"workers\":8") == NULL ||
                    strstr(expected.config, "override") == NULL ||
                    strstr(expected.yaml_tree, "\"timeout\":\"30s\"") == NULL)) {
        fprintf(stderr, "setup: unexpected result\n%s\n%s\n", expected.yaml_tree, expected.config);
        rc = -1;
    }
    diags_free(&diags);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    free(expected.yaml_tree);
    free(expected.config);
    free(expected.schemas);
    registry_free(&registry);
    return 0;
}

int main(int argc, char **argv)
{
    alloc_fail_install();
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_loader),
        cmocka_unit_test(test_assembly_and_settings),
        cmocka_unit_test(test_json_schema),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
