/* The kubernetes connector's pure functions: quantities in every Kubernetes notation,
 * component names, settings read from containers and adjustments written into them, the
 * strategic-merge and JSON patch bodies, label selectors, the tuning pod's body, the JVM
 * encoder (round trips through the pod template), the rejection reasons and rollout states
 * of the objects in tests/data/kubernetes/, huge lists, the encoder settings' validation,
 * and the judgement of /version. Nothing here talks to an API server
 * (tests/integration/test_kubernetes.sh does). */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "servo/model.h"

#include "../../connectors/kubernetes/internal.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- helpers ---------------------------------------------------------------------------- */

static json_t *load_data(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/kubernetes/%s", SERVO_TEST_DATA, name);
    json_error_t error;
    json_t *json = json_load_file(path, 0, &error);
    if (json == NULL)
        print_message("%s: %s (line %d)\n", path, error.text, error.line);
    assert_non_null(json);
    return json;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (haystack == NULL || strstr(haystack, needle) == NULL) {
        print_message("expected \"%s\"\n      in \"%s\"\n", needle, haystack ? haystack : "(null)");
        fail();
    }
}

/* `actual` (may be NULL) equals the JSON text `expected` ("null" for NULL). */
static void assert_json(const json_t *actual, const char *expected)
{
    if (strcmp(expected, "null") == 0 && actual == NULL)
        return;
    json_t *want = test_json(expected);
    bool same = actual != NULL && json_equal(actual, want);
    if (!same) {
        char *text = actual ? json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        char *wanted = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        print_message("expected %s\n     got %s\n", wanted, text ? text : "NULL");
        free(text);
        free(wanted);
    }
    json_decref(want);
    assert_true(same);
}

/* Loads a kubernetes stanza (valid); free with unload. */
static struct kubernetes_settings *load_settings(const char *text)
{
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(text, strlen(text), "<string>", &docs, &diags), 0);
    const struct servo_node *stanza = servo_node_get(docs.items[0], "kubernetes");
    void *settings = settings_load(servo_connector_kubernetes.settings, stanza, "kubernetes",
                                   docs.items[0], &diags);
    if (settings == NULL)
        for (size_t i = 0; i < diags.count; i++) {
            char *line = diag_format(&diags.items[i]);
            print_message("  diagnostic: %s\n", line);
            free(line);
        }
    assert_non_null(settings);
    yaml_documents_free(&docs);
    diags_free(&diags);
    return settings;
}

static void unload(struct kubernetes_settings *s)
{
    settings_free(servo_connector_kubernetes.settings, s);
}

/* The diagnostics of an invalid stanza, joined by newlines (caller frees). */
static char *load_errors(const char *text)
{
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(text, strlen(text), "<string>", &docs, &diags), 0);
    const struct servo_node *stanza = servo_node_get(docs.items[0], "kubernetes");
    void *settings = settings_load(servo_connector_kubernetes.settings, stanza, "kubernetes",
                                   docs.items[0], &diags);
    assert_null(settings);
    char *out = kube_printf("%s", "");
    for (size_t i = 0; i < diags.count; i++) {
        char *line = diag_format(&diags.items[i]);
        char *next = kube_printf("%s%s\n", out, line);
        free(line);
        free(out);
        out = next;
    }
    yaml_documents_free(&docs);
    diags_free(&diags);
    return out;
}

/* Validation leaves the settings as written; the targets carry the top level's namespace,
 * timeout, settlement and on_failure where a workload sets none. */
static void test_targets_cascade(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_settings("kubernetes:\n"
                                                  "  namespace: apps\n"
                                                  "  timeout: 5m\n"
                                                  "  settlement: 1m\n"
                                                  "  on_failure: shutdown\n"
                                                  "  deployments:\n"
                                                  "  - name: web\n"
                                                  "    containers: [{name: main}]\n"
                                                  "  - name: api\n"
                                                  "    namespace: other\n"
                                                  "    timeout: 10m\n"
                                                  "    on_failure: rollback\n"
                                                  "    containers: [{name: app}]\n"
                                                  "  stateful_sets:\n"
                                                  "  - name: db\n"
                                                  "    containers: [{name: pg}]\n");
    const struct kubernetes_workload *web = s->deployments.items;
    assert_null(web->namespace);
    assert_int_equal(web->timeout, SERVO_UNSET);
    size_t count = 0;
    struct kube_target *t = kube_targets(s, &count);
    assert_int_equal(count, 3);
    assert_int_equal(t[0].kind, KUBE_DEPLOYMENT);
    assert_string_equal(t[0].w->name, "web");
    assert_string_equal(t[0].w->namespace, "apps");
    assert_int_equal(t[0].w->timeout, 5 * SERVO_MINUTE);
    assert_int_equal(t[0].w->settlement, SERVO_MINUTE);
    assert_int_equal(t[0].w->on_failure, KUBERNETES_FAILURE_SHUTDOWN);
    assert_string_equal(t[1].w->namespace, "other");
    assert_int_equal(t[1].w->timeout, 10 * SERVO_MINUTE);
    assert_int_equal(t[1].w->on_failure, KUBERNETES_FAILURE_ROLLBACK);
    assert_int_equal(t[2].kind, KUBE_STATEFUL_SET);
    assert_string_equal(t[2].w->namespace, "apps");
    assert_int_equal(t[2].w->containers.count, 1);
    free(t);
    assert_null(web->namespace); /* still as written */
    unload(s);
}

static const struct kubernetes_workload *first_deployment(const struct kubernetes_settings *s)
{
    return s->deployments.items;
}

static const struct kubernetes_container *first_container(const struct kubernetes_settings *s)
{
    return first_deployment(s)->containers.items;
}

static const struct servo_setting *setting_of(const struct servo_component *c, const char *name)
{
    const struct servo_setting *s = servo_component_find(c, name);
    if (s == NULL)
        print_message("no setting %s in %s\n", name, c->name);
    assert_non_null(s);
    return s;
}

/* ---- quantities ------------------------------------------------------------------------- */

static void test_cpu_quantities(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t millicores;
    } good[] = {
        {"250m", 250},      {"0.25", 250},   {"1", 1000},        {"1.5", 1500},    {"2", 2000},
        {"1500m", 1500},    {"0", 0},        {"-0", 0},          {"+1", 1000},     {".5", 500},
        {"5.", 5000},       {"0.001", 1},    {"1e3", 1000000},   {"1E3", 1000000}, {"2e-3", 2},
        {"25e-2", 250},     {"2k", 2000000}, {"1M", 1000000000}, {"100u", 1},      {"1n", 1},
        {"1000000n", 1},    {"1500000n", 2}, {"1.0001", 1001},   {"0.0001", 1},    {"1Ki", 1024000},
        {"0.5Ki", 512000},  {"4000m", 4000}, {"007", 7000},      {"1e-400", 1},    {"0e9", 0},
        {"3.999999", 4000},
    };
    for (size_t i = 0; i < COUNT(good); i++) {
        int64_t value = -1;
        const char *why = NULL;
        int rc = kube_cpu_quantity(good[i].text, &value, &why);
        if (rc != 0 || value != good[i].millicores)
            print_message("cpu \"%s\": rc %d, %lld (%s), expected %lld\n", good[i].text, rc,
                          (long long)value, why ? why : "", (long long)good[i].millicores);
        assert_int_equal(rc, 0);
        assert_int_equal(value, good[i].millicores);
    }
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "empty"},
        {"abc", "not a number"},
        {"m", "not a number"},
        {"1x", "unknown suffix"},
        {"1 m", "unknown suffix"},
        {"1.2.3", "unknown suffix"},
        {"-1", "negative"},
        {"-250m", "negative"},
        {"1E", "too large"},
        {"1Ei", "too large"},
        {"1e400", "too large"},
        {"10P", "too large"},
        {"1mi", "unknown suffix"},
        {"1KI", "unknown suffix"},
        {"e3", "not a number"},
        {"1e", "unknown suffix"},
        {"1e+", "unknown suffix"},
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        int64_t value = 0;
        const char *why = NULL;
        int rc = kube_cpu_quantity(bad[i].text, &value, &why);
        if (rc != -1 || why == NULL || strcmp(why, bad[i].why) != 0)
            print_message("cpu \"%s\": rc %d, why %s, expected %s\n", bad[i].text, rc,
                          why ? why : "(none)", bad[i].why);
        assert_int_equal(rc, -1);
        assert_string_equal(why, bad[i].why);
    }
    assert_int_equal(kube_cpu_quantity(NULL, &(int64_t){0}, NULL), -1);
}

static void test_memory_quantities(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t bytes;
    } good[] = {
        {"128Mi", 134217728},
        {"1Gi", 1073741824},
        {"1.5Gi", 1610612736},
        {"64Ki", 65536},
        {"0.5Ki", 512},
        {"1Ti", 1099511627776},
        {"1Pi", 1125899906842624},
        {"1G", 1000000000},
        {"3G", 3000000000},
        {"512M", 512000000},
        {"1k", 1000},
        {"129e6", 129000000},
        {"129E6", 129000000},
        {"1e3", 1000},
        {"128974848", 128974848},
        {"100m", 1},
        {"1500m", 2},
        {"0", 0},
        {"1E", 1000000000000000000},
        {"7Ei", -1},
        {"1.5", 2},
        {"12345678901234", 12345678901234},
        {"0.000001Gi", 1074},
    };
    for (size_t i = 0; i < COUNT(good); i++) {
        int64_t value = -1;
        const char *why = NULL;
        int rc = kube_memory_quantity(good[i].text, &value, &why);
        if (good[i].bytes < 0) { /* 7Ei = 8070450532247928832 fits */
            assert_int_equal(rc, 0);
            assert_true(value == (int64_t)7 << 60);
            continue;
        }
        if (rc != 0 || value != good[i].bytes)
            print_message("memory \"%s\": rc %d, %lld (%s), expected %lld\n", good[i].text, rc,
                          (long long)value, why ? why : "", (long long)good[i].bytes);
        assert_int_equal(rc, 0);
        assert_int_equal(value, good[i].bytes);
    }
    static const char *const bad[] = {
        "8Ei", "10E", "1e19", "-1Mi", "1MB", "1 Gi", "Gi", "1234567890123456789012345678901234567"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        int64_t value = 0;
        const char *why = NULL;
        if (kube_memory_quantity(bad[i], &value, &why) != -1)
            print_message("memory \"%s\" should be refused, got %lld\n", bad[i], (long long)value);
        assert_non_null(why);
    }
    /* a megabyte of digits: refused, no crash */
    char *huge = malloc(1 << 20);
    memset(huge, '9', (1 << 20) - 1);
    huge[(1 << 20) - 1] = '\0';
    const char *why = NULL;
    assert_int_equal(kube_memory_quantity(huge, &(int64_t){0}, &why), -1);
    assert_string_equal(why, "too many digits");
    free(huge);
    /* what the formatters write reads back */
    static const int64_t values[] = {1, 100, 1024, 1000, 134217728, 1536LL << 20, 3000000000};
    for (size_t i = 0; i < COUNT(values); i++) {
        char buf[SERVO_VALUE_TEXT_MAX];
        servo_memory_format_quantity(values[i], buf);
        int64_t back = 0;
        assert_int_equal(kube_memory_quantity(buf, &back, NULL), 0);
        assert_int_equal(back, values[i]);
        servo_cpu_format(values[i], buf);
        assert_int_equal(kube_cpu_quantity(buf, &back, NULL), 0);
        assert_int_equal(back, values[i]);
    }
}

/* ---- names and selectors ---------------------------------------------------------------- */

static void test_component_names(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_settings("kubernetes:\n"
                                                  "  deployments:\n"
                                                  "  - name: web\n"
                                                  "    strategy: canary\n"
                                                  "    containers:\n"
                                                  "    - {name: main, alias: front}\n"
                                                  "    - {name: sidecar}\n"
                                                  "  - name: api\n"
                                                  "    strategy: {type: canary, alias: api-t}\n"
                                                  "    containers: [{name: app}]\n");
    size_t count = 0;
    struct kube_target *targets = kube_targets(s, &count);
    const struct kubernetes_workload w[] = {*targets[0].w, *targets[1].w};
    free(targets);
    const struct kubernetes_container *c = w[0].containers.items;
    char *names[] = {kube_component_name(&w[0], &c[0]),
                     kube_component_name(&w[0], &c[1]),
                     kube_tuning_component_name(&w[0], &c[0]),
                     kube_tuning_component_name(&w[0], &c[1]),
                     kube_tuning_pod_name(&w[0]),
                     kube_tuning_component_name(&w[1], w[1].containers.items),
                     kube_component_name(&w[1], w[1].containers.items)};
    const char *expected[] = {"front",      "web/sidecar", "web/main-tuning", "web/sidecar-tuning",
                              "web-tuning", "api-t",       "api/app"};
    for (size_t i = 0; i < COUNT(names); i++) {
        assert_string_equal(names[i], expected[i]);
        free(names[i]);
    }
    char *path = kube_workload_path(KUBE_STATEFUL_SET, &w[1]);
    assert_string_equal(path, "/apis/apps/v1/namespaces/default/statefulsets/api");
    free(path);
    unload(s);
}

static void test_label_selectors(void **state)
{
    (void)state;
    char *error = NULL;
    json_t *sel = test_json("{\"matchLabels\":{\"app\":\"web\",\"tier\":\"front\"},"
                            "\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\","
                            "\"values\":[\"prod\",\"stage\"]},{\"key\":\"canary\",\"operator\":"
                            "\"NotIn\",\"values\":[\"yes\"]},{\"key\":\"team\",\"operator\":"
                            "\"Exists\"},{\"key\":\"debug\",\"operator\":\"DoesNotExist\"}]}");
    char *text = kube_label_selector(sel, &error);
    assert_string_equal(text,
                        "app=web,tier=front,env in (prod,stage),canary notin (yes),team,!debug");
    char *escaped = kube_query_escape(text);
    assert_string_equal(escaped, "app%3Dweb%2Ctier%3Dfront%2Cenv%20in%20%28prod%2Cstage%29%2C"
                                 "canary%20notin%20%28yes%29%2Cteam%2C%21debug");
    free(escaped);
    free(text);
    json_decref(sel);
    sel = test_json("{}");
    assert_null(kube_label_selector(sel, &error));
    assert_string_equal(error, "the selector is empty");
    free(error);
    json_decref(sel);
    sel = test_json(
        "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}");
    assert_null(kube_label_selector(sel, &error));
    assert_string_equal(error, "unknown selector operator \"Gt\"");
    free(error);
    json_decref(sel);
}

/* ---- describing containers -------------------------------------------------------------- */

static const char *const describe_stanza =
    "kubernetes:\n"
    "  deployments:\n"
    "  - name: web\n"
    "    containers:\n"
    "    - name: main\n"
    "      alias: main\n"
    "      cpu: {min: 100m, max: 4, step: 100m}\n"
    "      memory: {min: 64Mi, max: 4Gi, step: 64Mi, get: [limit]}\n"
    "      env:\n"
    "      - {name: WORKERS, type: range, min: 1, max: 16, step: 1, value_type: int}\n"
    "      - {name: POLICY, type: enum, values: [lru, lfu], default: lru}\n"
    "      - {name: ratio, literal: CACHE_RATIO, type: range, min: 0, max: 1, step: 0.1}\n"
    "      - {name: SECRET, type: enum, values: [a, b]}\n";

static void test_describe_container(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_settings(describe_stanza);
    json_t *container = test_json(
        "{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"},"
        "\"limits\":{\"cpu\":\"1\",\"memory\":\"0.5Gi\"}},\"env\":[{\"name\":\"WORKERS\","
        "\"value\":\"4\"},{\"name\":\"CACHE_RATIO\",\"value\":\"0.3\"},{\"name\":\"SECRET\","
        "\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"k\"}}}]}");
    struct servo_description *d = servo_description_new();
    struct servo_component *c = servo_description_component(d, "main");
    struct kube_notes notes = {0};
    kube_describe_container(container, first_container(s), false, c, &notes);
    const struct servo_setting *cpu = setting_of(c, "cpu");
    assert_string_equal(cpu->unit, "cores");
    assert_true(cpu->has_value);
    assert_true(cpu->value == 0.25); /* the request: get is [request, limit] */
    assert_true(cpu->min == 0.1 && cpu->max == 4 && fabs(cpu->step - 0.1) < 1e-12);
    const struct servo_setting *mem = setting_of(c, "mem");
    assert_string_equal(mem->unit, "GiB");
    assert_true(mem->value == 0.5); /* the limit: get is [limit] */
    assert_true(setting_of(c, "WORKERS")->value == 4);
    assert_true(setting_of(c, "WORKERS")->integer);
    assert_string_equal(setting_of(c, "POLICY")->text_value, "lru"); /* the default */
    const struct servo_setting *ratio = setting_of(c, "ratio");
    assert_string_equal(ratio->literal, "CACHE_RATIO");
    assert_true(ratio->value == 0.3);
    assert_false(setting_of(c, "SECRET")->has_value);
    assert_string_equal(notes.text, "main: SECRET comes from valueFrom and cannot be read");
    kube_notes_free(&notes);
    json_t *components = servo_components_to_json(d);
    assert_json(json_object_get(json_object_get(json_object_get(components, "components"), "main"),
                                "settings"),
                "{\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"min\":0.1,\"max\":4.0,"
                "\"step\":0.1,\"pinned\":false,\"value\":0.25},"
                "\"mem\":{\"type\":\"range\",\"unit\":\"GiB\",\"min\":0.0625,\"max\":4.0,"
                "\"step\":0.0625,\"pinned\":false,\"value\":0.5},"
                "\"WORKERS\":{\"type\":\"range\",\"min\":1,\"max\":16,\"step\":1,"
                "\"pinned\":false,\"value\":4},"
                "\"POLICY\":{\"type\":\"enum\",\"values\":[\"lru\",\"lfu\"],\"pinned\":false,"
                "\"value\":\"lru\"},"
                "\"ratio\":{\"type\":\"range\",\"min\":0.0,\"max\":1.0,\"step\":0.1,"
                "\"pinned\":false,\"value\":0.3},"
                "\"SECRET\":{\"type\":\"enum\",\"values\":[\"a\",\"b\"],\"pinned\":false}}");
    json_decref(components);
    servo_description_free(d);
    json_decref(container);

    /* no requirements at all, and one that cannot be read: notes, no values; pinned */
    container = test_json("{\"name\":\"main\",\"resources\":{\"limits\":{\"memory\":\"lots\"}}}");
    d = servo_description_new();
    c = servo_description_component(d, "main");
    kube_describe_container(container, first_container(s), true, c, &notes);
    assert_false(setting_of(c, "cpu")->has_value);
    assert_true(setting_of(c, "cpu")->pinned);
    assert_false(setting_of(c, "mem")->has_value);
    assert_string_equal(notes.text, "main: the container has no cpu request or limit\n"
                                    "main: the memory limit \"lots\" cannot be read "
                                    "(not a number)");
    kube_notes_free(&notes);
    servo_description_free(d);
    json_decref(container);
    unload(s);
}

/* ---- writing adjustments and patch bodies ----------------------------------------------- */

static int apply(json_t *container, const struct kubernetes_container *cfg, const char *setting,
                 double value, const char *text, char **error)
{
    struct servo_adjustments a = {0};
    if (text != NULL)
        servo_adjustments_add_text(&a, "main", setting, text);
    else
        servo_adjustments_add(&a, "main", setting, value);
    int rc = kube_apply_adjustment(container, cfg, &a.items[0], error);
    servo_adjustments_clear(&a);
    return rc;
}

static void test_apply_and_patch(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_settings(describe_stanza);
    const struct kubernetes_container *cfg = first_container(s);
    json_t *before = test_json(
        "{\"name\":\"main\",\"image\":\"nginx:1.25\",\"resources\":{\"requests\":{\"cpu\":"
        "\"250m\",\"memory\":\"128Mi\",\"ephemeral-storage\":\"1Gi\"},\"limits\":{\"cpu\":\"1\","
        "\"memory\":\"512Mi\"}},\"env\":[{\"name\":\"WORKERS\",\"value\":\"4\"},{\"name\":"
        "\"POLICY\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"p\"}}},"
        "{\"name\":\"KEEP\",\"value\":\"x\"}]}");
    json_t *after = json_deep_copy(before);
    char *error = NULL;
    assert_int_equal(apply(after, cfg, "cpu", 1.5, NULL, &error), 0);
    assert_int_equal(apply(after, cfg, "mem", 0.75, NULL, &error), 0);
    assert_int_equal(apply(after, cfg, "WORKERS", 8, NULL, &error), 0);
    assert_int_equal(apply(after, cfg, "POLICY", 0, "lfu", &error), 0);
    assert_int_equal(apply(after, cfg, "ratio", 0.7, NULL, &error), 0);
    assert_int_equal(apply(after, cfg, "replicas", 3, NULL, &error), 1);
    json_t *entry = kube_container_patch(before, after);
    assert_json(entry, "{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"1500m\","
                       "\"memory\":\"768Mi\",\"ephemeral-storage\":\"1Gi\"},\"limits\":{\"cpu\":"
                       "\"1500m\",\"memory\":\"768Mi\"}},\"env\":[{\"name\":\"WORKERS\",\"value\":"
                       "\"8\"},{\"name\":\"POLICY\",\"value\":\"lfu\",\"valueFrom\":null},"
                       "{\"name\":\"CACHE_RATIO\",\"value\":\"0.7\"}]}");
    json_t *patch = kube_workload_patch("4242", 3, json_pack("[O]", entry));
    assert_json(patch,
                "{\"metadata\":{\"resourceVersion\":\"4242\"},\"spec\":{\"replicas\":3,"
                "\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"resources\":"
                "{\"requests\":{\"cpu\":\"1500m\",\"memory\":\"768Mi\",\"ephemeral-storage\":"
                "\"1Gi\"},\"limits\":{\"cpu\":\"1500m\",\"memory\":\"768Mi\"}},\"env\":[{"
                "\"name\":\"WORKERS\",\"value\":\"8\"},{\"name\":\"POLICY\",\"value\":"
                "\"lfu\",\"valueFrom\":null},{\"name\":\"CACHE_RATIO\",\"value\":"
                "\"0.7\"}]}]}}}}");
    json_decref(patch);
    json_decref(entry);
    /* replicas only; nothing at all */
    patch = kube_workload_patch("1", 0, json_array());
    assert_json(patch, "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":0}}");
    json_decref(patch);
    assert_null(kube_container_patch(before, before));

    /* refused values: nothing written */
    json_t *copy = json_deep_copy(after);
    assert_int_equal(apply(after, cfg, "cpu", 0.0005, NULL, &error), -1);
    assert_contains(error, "main.cpu: 0.0005 cores is not a valid CPU value");
    free(error);
    assert_int_equal(apply(after, cfg, "cpu", 0, "lots", &error), -1);
    assert_string_equal(error, "main.cpu: expected a number, got \"lots\"");
    free(error);
    assert_int_equal(apply(after, cfg, "mem", -1, NULL, &error), -1);
    assert_contains(error, "main.mem: -1 GiB is not a valid memory value");
    free(error);
    assert_int_equal(apply(after, cfg, "WORKERS", 2.5, NULL, &error), -1);
    assert_string_equal(error, "main.WORKERS: 2.5 is not an integer");
    free(error);
    assert_int_equal(apply(after, cfg, "POLICY", 0, "arc", &error), -1);
    assert_string_equal(error, "main.POLICY: \"arc\" is not one of the values");
    free(error);
    assert_int_equal(apply(after, cfg, "nothing", 1, NULL, &error), -1);
    assert_string_equal(error, "main: no setting \"nothing\"");
    free(error);
    assert_true(json_equal(copy, after));
    json_decref(copy);
    json_decref(after);
    json_decref(before);
    unload(s);

    /* set: [limit] with an explicit request; a container without resources or env */
    s = load_settings("kubernetes:\n"
                      "  deployments:\n"
                      "  - name: web\n"
                      "    containers:\n"
                      "    - name: main\n"
                      "      cpu: {min: 100m, max: 4, set: [limit], request: 50m}\n"
                      "      memory: {min: 64Mi, max: 4Gi, set: [request]}\n"
                      "      static_environment_variables: {TUNING: 'yes', EMPTY: ''}\n");
    before = test_json("{\"name\":\"main\"}");
    after = json_deep_copy(before);
    assert_int_equal(apply(after, first_container(s), "cpu", 2, NULL, &error), 0);
    assert_int_equal(apply(after, first_container(s), "mem", 1, NULL, &error), 0);
    kube_apply_static_env(after, first_container(s));
    assert_json(after, "{\"name\":\"main\",\"resources\":{\"requests\":{\"cpu\":\"50m\",\"memory\":"
                       "\"1Gi\"},\"limits\":{\"cpu\":\"2\"}},\"env\":[{\"name\":\"TUNING\","
                       "\"value\":\"yes\"},{\"name\":\"EMPTY\",\"value\":\"\"}]}");
    json_decref(after);
    json_decref(before);
    unload(s);
}

static void test_rollback_patch(void **state)
{
    (void)state;
    json_t *before = load_data("deployment-complete.json");
    struct kube_snapshot snapshot = {0};
    kube_snapshot_take(&snapshot, before);
    /* unchanged: nothing to do */
    assert_null(kube_rollback_patch(before, &snapshot));
    /* the adjusted object, as the API server returns it later */
    json_t *current = json_deep_copy(before);
    json_t *spec = json_object_get(current, "spec");
    json_object_set_new(spec, "replicas", json_integer(5));
    json_t *container =
        kube_find_container(json_object_get(json_object_get(spec, "template"), "spec"), "main");
    json_object_set_new(container, "resources", json_pack("{s:{s:s}}", "limits", "cpu", "2"));
    json_object_set_new(json_object_get(current, "metadata"), "resourceVersion",
                        json_string("5000"));
    json_t *patch = kube_rollback_patch(current, &snapshot);
    assert_json(
        patch,
        "[{\"op\":\"replace\",\"path\":\"/metadata/resourceVersion\",\"value\":\"5000\"},"
        "{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"metadata\":{\"labels\":"
        "{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":"
        "\"nginx:1.25\"}]}}},"
        "{\"op\":\"add\",\"path\":\"/spec/replicas\",\"value\":3}]");
    json_decref(patch);
    /* the snapshot is a copy: changing the object later does not change it */
    json_object_set_new(json_object_get(before, "spec"), "replicas", json_integer(9));
    assert_int_equal(json_integer_value(snapshot.replicas), 3);
    kube_snapshot_clear(&snapshot);
    kube_snapshot_clear(&snapshot); /* twice is fine */
    json_decref(current);
    json_decref(before);
}

/* ---- the tuning pod --------------------------------------------------------------------- */

static void test_tuning_pod_body(void **state)
{
    (void)state;
    struct kubernetes_settings *s =
        load_settings("kubernetes:\n"
                      "  namespace: apps\n"
                      "  deployments:\n"
                      "  - name: web\n"
                      "    strategy: canary\n"
                      "    containers:\n"
                      "    - name: main\n"
                      "      cpu: {min: 100m, max: 4}\n"
                      "      memory: {min: 64Mi, max: 4Gi}\n"
                      "      env: [{name: MODE, type: enum, values: [a, b]}]\n"
                      "      static_environment_variables: {ROLE: tuning}\n");
    size_t count = 0;
    struct kube_target *targets = kube_targets(s, &count);
    const struct kubernetes_workload *w = targets[0].w; /* namespace "apps", cascaded */
    json_t *deployment = test_json(
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"apps\"},\"spec\":{\"replicas\":2,"
        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"},\"annotations\":{\"a\":\"b\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"nginx\",\"resources\":{"
        "\"requests\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"},\"limits\":{\"cpu\":\"250m\","
        "\"memory\":\"256Mi\"}},\"env\":[{\"name\":\"MODE\",\"value\":\"a\"}]},{\"name\":"
        "\"sidecar\",\"image\":\"envoy\"}]}}}}");
    struct servo_adjustments values = {0};
    servo_adjustments_add(&values, "web/main-tuning", "cpu", 0.5);
    servo_adjustments_add(&values, "other", "cpu", 3); /* not this pod's */
    json_t *owner =
        test_json("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"servo\","
                  "\"uid\":\"u1\"}");
    json_t *body = NULL;
    char *error = NULL;
    assert_int_equal(kube_tuning_pod_body(deployment, w, NULL, &values, owner, &body, &error), 0);
    assert_json(body,
                "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-tuning\","
                "\"namespace\":\"apps\",\"labels\":{\"app\":\"web\",\"opsani_role\":\"tuning\"},"
                "\"annotations\":{\"a\":\"b\",\"opsani.com/opsani_tuning_for\":\"web\"},"
                "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":"
                "\"servo\",\"uid\":\"u1\"}]},\"spec\":{\"containers\":[{\"name\":\"main\","
                "\"image\":\"nginx\",\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":"
                "\"128Mi\"},\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"}},\"env\":[{\"name\":"
                "\"MODE\",\"value\":\"a\"},{\"name\":\"ROLE\",\"value\":\"tuning\"}]},{\"name\":"
                "\"sidecar\",\"image\":\"envoy\"}]}}");
    /* from that pod, another change: what it had is kept (its cpu, the memory limit), the
     * rest of the spec comes from the template again */
    json_object_set_new(json_object_get(body, "spec"), "nodeName", json_string("node-1"));
    servo_adjustments_clear(&values);
    servo_adjustments_add(&values, "web/main-tuning", "mem", 0.25);
    servo_adjustments_add_text(&values, "web/main-tuning", "MODE", "b");
    json_t *next = NULL;
    assert_int_equal(kube_tuning_pod_body(deployment, w, body, &values, NULL, &next, &error), 0);
    assert_json(json_object_get(next, "spec"),
                "{\"containers\":[{\"name\":\"main\",\"image\":\"nginx\",\"resources\":{"
                "\"requests\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"},\"limits\":{\"cpu\":"
                "\"500m\",\"memory\":\"256Mi\"}},\"env\":[{\"name\":\"MODE\",\"value\":\"b\"},"
                "{\"name\":\"ROLE\",\"value\":\"tuning\"}]},{\"name\":\"sidecar\",\"image\":"
                "\"envoy\"}]}");
    assert_null(json_object_get(json_object_get(next, "metadata"), "ownerReferences"));
    json_decref(next);
    /* without a base or adjustments: the template's values exactly (shutdown) */
    assert_int_equal(kube_tuning_pod_body(deployment, w, NULL, NULL, NULL, &next, &error), 0);
    json_t *template_container = kube_find_container(
        json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"), "spec"),
        "main");
    json_t *tuned = kube_find_container(json_object_get(next, "spec"), "main");
    assert_true(json_equal(json_object_get(tuned, "resources"),
                           json_object_get(template_container, "resources")));
    json_decref(next);
    json_decref(body);
    /* a value that cannot be written, a container that is not there */
    servo_adjustments_add_text(&values, "web/main-tuning", "MODE", "c");
    assert_int_equal(kube_tuning_pod_body(deployment, w, NULL, &values, NULL, &body, &error), -1);
    assert_string_equal(error, "web/main-tuning.MODE: \"c\" is not one of the values");
    free(error);
    json_object_set_new(
        json_array_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(deployment, "spec"), "template"),
                                "spec"),
                "containers"),
            0),
        "name", json_string("renamed"));
    assert_int_equal(kube_tuning_pod_body(deployment, w, NULL, NULL, NULL, &body, &error), -1);
    assert_string_equal(error, "container \"main\" is not in the pod template of Deployment web "
                               "(containers: renamed, sidecar)");
    free(error);
    /* a Rollout is named as one; one whose template is a workloadRef has none to copy */
    json_object_set_new(deployment, "kind", json_string("Rollout"));
    assert_int_equal(kube_tuning_pod_body(deployment, w, NULL, NULL, NULL, &body, &error), -1);
    assert_string_equal(error, "container \"main\" is not in the pod template of Rollout web "
                               "(containers: renamed, sidecar)");
    free(error);
    json_t *spec = json_object_get(deployment, "spec");
    json_object_del(spec, "template");
    json_object_set_new(spec, "workloadRef",
                        json_pack("{s:s, s:s}", "kind", "Deployment", "name", "web"));
    assert_int_equal(kube_tuning_pod_body(deployment, w, NULL, NULL, NULL, &body, &error), -1);
    assert_string_equal(error, "Rollout web has no pod template: it references one through "
                               "spec.workloadRef, which the canary strategy does not support "
                               "(give the Rollout a spec.template)");
    free(error);
    servo_adjustments_clear(&values);
    json_decref(owner);
    json_decref(deployment);
    free(targets);
    unload(s);
}

/* ---- rejection reasons and rollouts ----------------------------------------------------- */

static void test_pod_failures(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *reason; /* NULL: none */
        const char *message;
        const char *container;
    } cases[] = {
        {"pod-ready.json", NULL, NULL, NULL},
        {"pod-pending.json", NULL, NULL, NULL},
        {"pod-container-creating.json", NULL, NULL, NULL},
        {"pod-crashloop.json", "start-failed",
         "pod web-7d9f8c6b5-crash: container main is waiting: CrashLoopBackOff: back-off 40s "
         "restarting failed container=main pod=web-7d9f8c6b5-crash_apps(1b2c) (last exit: "
         "Error, code 1; 3 restarts)",
         "main"},
        {"pod-imagepull.json", "image-pull-failed",
         "pod web-7d9f8c6b5-pull: container main is waiting: ImagePullBackOff: Back-off pulling "
         "image \"nginx:9.99\"",
         "main"},
        {"pod-errimagepull.json", "image-pull-failed",
         "pod web-7d9f8c6b5-err: container main is waiting: ErrImagePull: rpc error:", "main"},
        {"pod-unschedulable.json", "unschedulable",
         "pod web-7d9f8c6b5-unsched is unschedulable: 0/3 nodes are available: 3 Insufficient "
         "cpu.",
         NULL},
        {"pod-oomkilled.json", "start-failed",
         "pod web-7d9f8c6b5-oom: container main terminated: OOMKilled (exit code 137)", "main"},
        {"pod-config-error.json", "start-failed",
         "pod web-7d9f8c6b5-config: container main is waiting: CreateContainerConfigError: secret "
         "\"db-password\" not found",
         "main"},
        {"pod-init-crashloop.json", "start-failed",
         "pod web-7d9f8c6b5-init: init container migrate is waiting: CrashLoopBackOff", "migrate"},
        {"pod-evicted.json", "start-failed",
         "pod web-7d9f8c6b5-evicted failed: Evicted: The node was low on resource: memory.", NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_t *pod = load_data(cases[i].file);
        char *message = NULL;
        const char *container = "unset";
        const char *reason = kube_pod_failure(pod, &message, &container);
        if (cases[i].reason == NULL) {
            if (reason != NULL)
                print_message("%s: unexpected %s: %s\n", cases[i].file, reason, message);
            assert_null(reason);
        } else {
            if (reason == NULL || strcmp(reason, cases[i].reason) != 0)
                print_message("%s: expected %s, got %s\n", cases[i].file, cases[i].reason,
                              reason ? reason : "nothing");
            assert_non_null(reason);
            assert_string_equal(reason, cases[i].reason);
            assert_contains(message, cases[i].message);
            if (cases[i].container)
                assert_string_equal(container, cases[i].container);
            else
                assert_null(container);
        }
        free(message);
        json_decref(pod);
    }
    json_t *ready = load_data("pod-ready.json");
    json_t *crash = load_data("pod-crashloop.json");
    json_t *unsched = load_data("pod-unschedulable.json");
    assert_true(kube_pod_ready(ready));
    assert_false(kube_pod_ready(crash));
    assert_int_equal(kube_pod_restarts(crash), 3);
    assert_int_equal(kube_pod_restarts(unsched), 0);
    char *summary = kube_pod_summary(ready);
    assert_string_equal(summary, "Running, ready");
    free(summary);
    summary = kube_pod_summary(crash);
    assert_string_equal(summary, "Running, not ready: ContainersNotReady");
    free(summary);
    summary = kube_pod_summary(unsched);
    assert_string_equal(summary, "Pending, not ready: Unschedulable");
    free(summary);
    /* an empty object or garbage: nothing known, no crash */
    json_t *empty = test_json("{\"status\":{\"containerStatuses\":\"x\",\"conditions\":[1,null]}}");
    char *message = NULL;
    assert_null(kube_pod_failure(empty, &message, NULL));
    assert_false(kube_pod_ready(empty));
    json_decref(empty);
    json_decref(unsched);
    json_decref(crash);
    json_decref(ready);
}

static void test_replica_sets(void **state)
{
    (void)state;
    json_t *list = load_data("replicasets.json");
    json_t *items = json_object_get(list, "items");
    const json_t *newest = kube_newest_replica_set(items, "dep-uid", NULL);
    assert_non_null(newest);
    /* revision 10 (not 9: numbers, not strings), and not the other owner's 12 */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(newest, "metadata"), "name")),
        "web-7d9f8c6b5");
    assert_null(kube_newest_replica_set(items, "nobody", NULL));
    char *message = NULL;
    assert_null(kube_replica_set_failure(newest, &message));
    json_t *quota = load_data("replicaset-quota.json");
    assert_string_equal(kube_replica_set_failure(quota, &message), "start-failed");
    assert_string_equal(message, "ReplicaSet web-7d9f8c6b5 cannot create pods: FailedCreate: pods "
                                 "\"web-7d9f8c6b5-x2k4p\" is forbidden: exceeded quota: compute, "
                                 "requested: limits.cpu=4, used: limits.cpu=2, limited: "
                                 "limits.cpu=4");
    free(message);
    json_decref(quota);
    json_decref(list);
}

/* A pod template as the Deployment controller copies it into a ReplicaSet: the Deployment's,
 * plus the pod-template-hash label when `hash` is given. */
static json_t *pod_template(const char *cpu, const char *hash)
{
    json_t *t = json_pack("{s:{s:{s:s}},s:{s:[{s:s,s:s,s:{s:{s:s}}}]}}", "metadata", "labels",
                          "app", "web", "spec", "containers", "name", "main", "image", "nginx:1.25",
                          "resources", "requests", "cpu", cpu);
    if (hash != NULL)
        json_object_set_new(json_object_get(json_object_get(t, "metadata"), "labels"),
                            "pod-template-hash", json_string(hash));
    return t;
}

static const char *name_of(const json_t *object)
{
    return json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
}

/* The current ReplicaSet is the one of the Deployment's template, whatever its revision: after
 * a change of replicas and template together the controller marks the generation observed
 * before it creates the new ReplicaSet, and the newest one is still the old template's. */
static void test_replica_set_of_the_template(void **state)
{
    (void)state;
    json_t *list = load_data("replicasets.json");
    json_t *items = json_object_get(list, "items");
    size_t i;
    json_t *rs;
    json_array_foreach(items, i, rs)
    {
        const char *hash = json_string_value(json_object_get(
            json_object_get(json_object_get(rs, "metadata"), "labels"), "pod-template-hash"));
        char cpu[32];
        snprintf(cpu, sizeof cpu, "%d00m", (int)i + 1);
        json_object_set_new(json_object_get(rs, "spec"), "template", pod_template(cpu, hash));
    }
    /* revision 1's template (100m) is the Deployment's again, as after a rollback */
    json_t *first = pod_template("100m", NULL);
    assert_string_equal(name_of(kube_newest_replica_set(items, "dep-uid", first)), "web-5c8f7d9b4");
    json_t *second = pod_template("200m", NULL);
    assert_true(kube_replica_set_has_template(json_array_get(items, 1), second));
    assert_string_equal(name_of(kube_newest_replica_set(items, "dep-uid", second)),
                        name_of(json_array_get(items, 1)));
    /* a template no ReplicaSet has yet: none, not the newest */
    json_t *pending = pod_template("900m", NULL);
    assert_null(kube_newest_replica_set(items, "dep-uid", pending));
    /* anything but the hash label counts: another label, an annotation, a missing label set */
    json_t *labelled = pod_template("100m", NULL);
    json_object_set_new(json_object_get(json_object_get(labelled, "metadata"), "labels"), "tier",
                        json_string("front"));
    assert_false(kube_replica_set_has_template(json_array_get(items, 0), labelled));
    json_t *annotated = pod_template("100m", NULL);
    json_object_set_new(json_object_get(annotated, "metadata"), "annotations",
                        json_pack("{s:s}", "a", "b"));
    assert_false(kube_replica_set_has_template(json_array_get(items, 0), annotated));
    json_t *unlabelled = pod_template("100m", NULL);
    json_object_del(json_object_get(unlabelled, "metadata"), "labels");
    assert_false(kube_replica_set_has_template(json_array_get(items, 0), unlabelled));
    /* a ReplicaSet's template whose only label is the hash matches one without labels */
    json_t *template_hash_only = pod_template("100m", "5c8f7d9b4");
    json_object_del(json_object_get(json_object_get(template_hash_only, "metadata"), "labels"),
                    "app");
    json_t *rs_hash_only = json_pack("{s:{s:o}}", "spec", "template", template_hash_only);
    assert_true(kube_replica_set_has_template(rs_hash_only, unlabelled));
    assert_false(kube_replica_set_has_template(rs_hash_only, first));
    /* garbage: no match, no crash */
    json_t *garbage = json_pack("{s:{s:[]}}", "spec", "template");
    json_t *not_an_object = json_pack("[s]", "metadata");
    assert_false(kube_replica_set_has_template(garbage, first));
    assert_false(kube_replica_set_has_template(json_array_get(items, 0), not_an_object));
    assert_false(kube_replica_set_has_template(json_array_get(items, 0), NULL));
    json_decref(not_an_object);
    json_decref(garbage);
    json_decref(rs_hash_only);
    json_decref(unlabelled);
    json_decref(annotated);
    json_decref(labelled);
    json_decref(pending);
    json_decref(second);
    json_decref(first);
    json_decref(list);
}

static void test_rollouts(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        enum kube_rollout expected;
        const char *message;
    } cases[] = {
        {"deployment-not-observed.json", KUBE_ROLLOUT_PENDING,
         "waiting for the deployment controller to observe generation 4"},
        {"deployment-updating.json", KUBE_ROLLOUT_PENDING, "1 of 3 replicas updated"},
        {"deployment-old-replicas.json", KUBE_ROLLOUT_PENDING,
         "1 old replicas pending termination"},
        {"deployment-unavailable.json", KUBE_ROLLOUT_PENDING, "2 of 3 updated replicas available"},
        {"deployment-complete.json", KUBE_ROLLOUT_DONE, "3 of 3 replicas available"},
        {"deployment-zero.json", KUBE_ROLLOUT_DONE, "0 of 0 replicas available"},
        {"deployment-paused.json", KUBE_ROLLOUT_PENDING,
         "Deployment web is paused (spec.paused), and the controller rolls it out only once it "
         "is resumed: 0 of 3 replicas updated"},
        {"deployment-deadline.json", KUBE_ROLLOUT_FAILED,
         "Deployment web exceeded its progress deadline: ReplicaSet \"web-7d9f8c6b5\" has timed "
         "out progressing."},
        {"deployment-replica-failure.json", KUBE_ROLLOUT_FAILED,
         "Deployment web cannot create pods: FailedCreate: pods \"web-7d9f8c6b5-x2k4p\" is "
         "forbidden: exceeded quota: compute"},
        {"statefulset-rolling.json", KUBE_ROLLOUT_PENDING, "1 of 3 replicas updated"},
        {"statefulset-revision.json", KUBE_ROLLOUT_PENDING,
         "waiting for revision db-7f8e to become current"},
        {"statefulset-not-ready.json", KUBE_ROLLOUT_PENDING, "2 of 3 replicas ready"},
        {"statefulset-complete.json", KUBE_ROLLOUT_DONE, "3 of 3 replicas ready"},
        {"rollout-paused-spec.json", KUBE_ROLLOUT_PENDING,
         "Rollout web is paused (spec.paused), and the rollouts controller rolls it out only "
         "once it is resumed: 0 of 3 replicas updated, 3 available"},
        /* every replica updated and available, but Argo's phase is Paused: not done */
        {"rollout-paused-step.json", KUBE_ROLLOUT_PENDING,
         "Rollout web is paused by its strategy (CanaryPauseStep), and is rolled out only once "
         "the pause ends or it is promoted (kubectl argo rollouts promote web): 3 of 3 replicas "
         "updated, 3 available"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_t *object = load_data(cases[i].file);
        char *message = NULL;
        enum kube_rollout got = strncmp(cases[i].file, "statefulset", 11) == 0
                                    ? kube_stateful_set_rollout(object, &message)
                                : strncmp(cases[i].file, "rollout", 7) == 0
                                    ? kube_argo_rollout(object, &message)
                                    : kube_deployment_rollout(object, &message);
        if (got != cases[i].expected || strcmp(message, cases[i].message) != 0)
            print_message("%s: %d \"%s\"\n", cases[i].file, (int)got, message);
        assert_int_equal(got, cases[i].expected);
        assert_string_equal(message, cases[i].message);
        free(message);
        json_decref(object);
    }
}

/* Argo Rollouts: observedGeneration as Argo writes it (a string) or as a number; Degraded
 * fails with the controller's message; paused (every reason listed, a pause being ended, a
 * phase Paused alone) is pending whatever the replica counts say. The recorded paused Rollouts
 * are in test_rollouts. */
static void test_argo_rollouts(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        enum kube_rollout expected;
        const char *message;
    } cases[] = {
        {"{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},\"status\":{"
         "\"observedGeneration\":\"2\"}}",
         KUBE_ROLLOUT_PENDING, "waiting for the rollouts controller to observe generation 3"},
        {"{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},\"status\":{"
         "\"observedGeneration\":\"3\",\"replicas\":2,\"updatedReplicas\":1,"
         "\"availableReplicas\":1,\"phase\":\"Progressing\"}}",
         KUBE_ROLLOUT_PENDING, "1 of 2 replicas updated, 1 available"},
        {"{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},\"status\":{"
         "\"observedGeneration\":3,\"replicas\":2,\"updatedReplicas\":2,"
         "\"availableReplicas\":2,\"phase\":\"Healthy\"}}",
         KUBE_ROLLOUT_DONE, "2 of 2 replicas available"},
        {"{\"metadata\":{\"generation\":3},\"spec\":{\"replicas\":2},\"status\":{"
         "\"observedGeneration\":\"3\",\"phase\":\"Degraded\",\"message\":"
         "\"ProgressDeadlineExceeded: too slow\"}}",
         KUBE_ROLLOUT_FAILED, "the rollout is degraded: ProgressDeadlineExceeded: too slow"},
        {"{\"metadata\":{\"name\":\"bg\",\"generation\":3},\"spec\":{\"replicas\":2},"
         "\"status\":{\"observedGeneration\":\"3\",\"replicas\":4,\"updatedReplicas\":2,"
         "\"availableReplicas\":2,\"phase\":\"Paused\",\"message\":\"BlueGreenPause\","
         "\"controllerPause\":true,\"pauseConditions\":[{\"reason\":\"BlueGreenPause\","
         "\"startTime\":\"2026-11-28T01:52:20Z\"},{\"reason\":\"InconclusiveAnalysisRun\","
         "\"startTime\":\"2026-11-28T01:53:00Z\"}]}}",
         KUBE_ROLLOUT_PENDING,
         "Rollout bg is paused by its strategy (BlueGreenPause, InconclusiveAnalysisRun), and is "
         "rolled out only once the pause ends or it is promoted (kubectl argo rollouts promote "
         "bg): 2 of 2 replicas updated, 2 available"},
        /* promoted (pauseConditions cleared), the controller not there yet: its phase is stale */
        {"{\"metadata\":{\"name\":\"web\",\"generation\":3},\"spec\":{\"replicas\":2},"
         "\"status\":{\"observedGeneration\":\"3\",\"replicas\":2,\"updatedReplicas\":2,"
         "\"availableReplicas\":2,\"phase\":\"Paused\",\"message\":\"CanaryPauseStep\","
         "\"controllerPause\":true}}",
         KUBE_ROLLOUT_PENDING,
         "Rollout web is being resumed (its pauseConditions were cleared), waiting for the "
         "rollouts controller to go on: 2 of 2 replicas updated, 2 available"},
        {"{\"metadata\":{\"name\":\"web\",\"generation\":3},\"spec\":{\"replicas\":2},"
         "\"status\":{\"observedGeneration\":\"3\",\"replicas\":2,\"updatedReplicas\":2,"
         "\"availableReplicas\":2,\"phase\":\"Paused\",\"message\":\"CanaryPauseStep\"}}",
         KUBE_ROLLOUT_PENDING,
         "Rollout web is paused (phase Paused: CanaryPauseStep), and is rolled out only once the "
         "pause ends or it is promoted (kubectl argo rollouts promote web): 2 of 2 replicas "
         "updated, 2 available"},
        /* a pause that ended: the controller dropped controllerPause and wrote Healthy */
        {"{\"metadata\":{\"name\":\"web\",\"generation\":3},\"spec\":{\"replicas\":2,"
         "\"paused\":false},\"status\":{\"observedGeneration\":\"3\",\"replicas\":2,"
         "\"updatedReplicas\":2,\"availableReplicas\":2,\"phase\":\"Healthy\","
         "\"pauseConditions\":[],\"controllerPause\":false}}",
         KUBE_ROLLOUT_DONE, "2 of 2 replicas available"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_t *object = test_json(cases[i].json);
        char *message = NULL;
        assert_int_equal(kube_argo_rollout(object, &message), cases[i].expected);
        assert_string_equal(message, cases[i].message);
        free(message);
        json_decref(object);
    }
}

/* Lists far larger than any page: classification and the newest ReplicaSet stay linear and
 * correct. */
static void test_huge_lists(void **state)
{
    (void)state;
    json_t *template = load_data("pod-ready.json");
    json_t *crash = load_data("pod-crashloop.json");
    json_t *pods = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(pods, json_deep_copy(template));
    json_array_append(pods, crash);
    struct servo_error error = {0};
    assert_int_equal(kube_pods_verdict(NULL, NULL, NULL, pods, "Deployment \"web\"", &error), -1);
    assert_int_equal(error.kind, SERVO_ERROR_ADJUSTMENT_REJECTED);
    assert_string_equal(error.reason, "start-failed");
    assert_contains(error.message, "Deployment \"web\": pod web-7d9f8c6b5-crash: container main");
    json_array_remove(pods, json_array_size(pods) - 1);
    servo_error_clear(&error);
    assert_int_equal(kube_pods_verdict(NULL, NULL, NULL, pods, "x", &error), 0);
    json_decref(pods);

    json_t *list = load_data("replicasets.json");
    const json_t *one = json_array_get(json_object_get(list, "items"), 0);
    json_t *sets = json_array();
    for (int i = 0; i < 20000; i++) {
        json_t *rs = json_deep_copy(one);
        char revision[16];
        snprintf(revision, sizeof revision, "%d", (i * 7919) % 20000);
        json_object_set_new(json_object_get(json_object_get(rs, "metadata"), "annotations"),
                            KUBE_REVISION_ANNOTATION, json_string(revision));
        json_array_append_new(sets, rs);
    }
    const json_t *newest = kube_newest_replica_set(sets, "dep-uid", NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(newest, "metadata"), "annotations"),
                            KUBE_REVISION_ANNOTATION)),
                        "19999");
    json_decref(sets);
    json_decref(list);
    json_decref(crash);
    json_decref(template);
}

/* ---- the JVM encoder -------------------------------------------------------------------- */

static const char *const jvm_stanza =
    "kubernetes:\n"
    "  deployments:\n"
    "  - name: web\n"
    "    containers:\n"
    "    - name: main\n"
    "      alias: main\n"
    "      encoders:\n"
    "        jvm:\n"
    "          target: TARGET\n"
    "          settings:\n"
    "            heap_size: {min: 256Mi, max: 4Gi, step: 128Mi}\n"
    "            gc: {values: [G1, Parallel, Serial, Z], default: G1}\n"
    "            options:\n"
    "            - {name: MaxGCPauseMillis, type: range, min: 50, max: 500, step: 50}\n"
    "            - {name: GCTimeRatio, type: range, min: 0.5, max: 9.5, step: 0.5, "
    "value_type: float}\n"
    "            - {name: UseStringDeduplication, type: bool, default: 'false'}\n"
    "            - {name: TieredStopAtLevel, type: enum, values: ['1', '4']}\n";

static struct kubernetes_settings *load_jvm(const char *target)
{
    /* the stanza with TARGET replaced */
    const char *at = strstr(jvm_stanza, "TARGET");
    char *text =
        kube_printf("%.*s%s%s", (int)(at - jvm_stanza), jvm_stanza, target, at + strlen("TARGET"));
    struct kubernetes_settings *s = load_settings(text);
    free(text);
    return s;
}

static const struct kubernetes_jvm *jvm_of(const struct kubernetes_settings *s)
{
    return first_container(s)->encoders.jvm;
}

static void words_are(const struct kube_words *w, const char *expected)
{
    char *joined = kube_words_join(w);
    if (strcmp(joined, expected) != 0)
        print_message("words \"%s\"\n expected \"%s\"\n", joined, expected);
    assert_string_equal(joined, expected);
    free(joined);
}

static void test_jvm_sizes(void **state)
{
    (void)state;
    static const struct {
        int64_t bytes;
        const char *text;
    } sizes[] = {{1LL << 30, "1g"},     {3LL << 30, "3g"}, {1536LL << 20, "1536m"},
                 {512LL << 20, "512m"}, {1000, "1000"},    {4096, "4k"},
                 {1LL << 40, "1t"},     {1, "1"},          {(1LL << 30) + 1, "1073741825"}};
    for (size_t i = 0; i < COUNT(sizes); i++) {
        char buf[32];
        kube_jvm_format_size(sizes[i].bytes, buf);
        assert_string_equal(buf, sizes[i].text);
        int64_t back = 0;
        assert_int_equal(kube_jvm_parse_size(buf, &back), 0);
        assert_int_equal(back, sizes[i].bytes);
    }
    int64_t bytes = 0;
    assert_int_equal(kube_jvm_parse_size("2G", &bytes), 0);
    assert_int_equal(bytes, 2LL << 30);
    assert_int_equal(kube_jvm_parse_size("768M", &bytes), 0);
    assert_int_equal(bytes, 768LL << 20);
    assert_int_equal(kube_jvm_parse_size("4K", &bytes), 0);
    static const char *const bad[] = {
        "", "g", "1gb", "1.5g", "-1g", "99999999999999999999", "9999999999t"};
    for (size_t i = 0; i < COUNT(bad); i++)
        assert_int_equal(kube_jvm_parse_size(bad[i], &bytes), -1);
}

static void test_jvm_env_round_trip(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_jvm("env");
    const struct kubernetes_jvm *jvm = jvm_of(s);
    struct kube_words w;
    kube_words_split(
        "  -Dfoo=bar   -Xmx512m -XX:+UseParallelGC\t-verbose:gc -XX:MaxGCPauseMillis=200 "
        "-Xmx768m -XX:-UseStringDeduplication ",
        &w);
    assert_int_equal(w.count, 7);
    double number = 0;
    char *text = NULL, *error = NULL;
    /* reading: the last word wins */
    assert_int_equal(kube_jvm_decode(jvm, &w, "heap_size", &number, &text, &error), 1);
    assert_true(number == 768.0 * (1 << 20));
    assert_int_equal(kube_jvm_decode(jvm, &w, "gc", &number, &text, &error), 1);
    assert_string_equal(text, "Parallel");
    free(text);
    assert_int_equal(kube_jvm_decode(jvm, &w, "MaxGCPauseMillis", &number, &text, &error), 1);
    assert_true(number == 200);
    free(text);
    assert_int_equal(kube_jvm_decode(jvm, &w, "UseStringDeduplication", &number, &text, &error), 1);
    assert_string_equal(text, "false");
    free(text);
    assert_int_equal(kube_jvm_decode(jvm, &w, "TieredStopAtLevel", &number, &text, &error), 0);
    assert_int_equal(kube_jvm_decode(jvm, &w, "GCTimeRatio", &number, &text, &error), 0);

    /* writing: replaced in place, duplicates removed, new ones at the end, the rest kept */
    assert_int_equal(kube_jvm_encode(jvm, &w, "heap_size", 2.0 * (1 << 30), NULL, &error), 0);
    words_are(&w, "-Dfoo=bar -Xmx2g -XX:+UseParallelGC -verbose:gc -XX:MaxGCPauseMillis=200 "
                  "-XX:-UseStringDeduplication");
    assert_int_equal(kube_jvm_encode(jvm, &w, "gc", 0, "G1", &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "MaxGCPauseMillis", 150, NULL, &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "UseStringDeduplication", 0, "true", &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "TieredStopAtLevel", 0, "1", &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "GCTimeRatio", 4.5, NULL, &error), 0);
    words_are(&w, "-Dfoo=bar -Xmx2g -XX:+UseG1GC -verbose:gc -XX:MaxGCPauseMillis=150 "
                  "-XX:+UseStringDeduplication -XX:TieredStopAtLevel=1 -XX:GCTimeRatio=4.5");
    /* and read back */
    assert_int_equal(kube_jvm_decode(jvm, &w, "heap_size", &number, &text, &error), 1);
    assert_true(number == 2.0 * (1 << 30));
    assert_int_equal(kube_jvm_decode(jvm, &w, "GCTimeRatio", &number, &text, &error), 1);
    assert_true(number == 4.5);
    free(text);
    assert_int_equal(kube_jvm_decode(jvm, &w, "gc", &number, &text, &error), 1);
    assert_string_equal(text, "G1");
    free(text);

    /* refused values: the words are left alone */
    static const struct {
        const char *setting;
        double number;
        const char *text;
        const char *error;
    } bad[] = {
        {"gc", 0, "Epsilon", "gc: \"Epsilon\" is not one of the collectors configured"},
        {"gc", 0, "Shenandoah", "gc: \"Shenandoah\" is not one of the collectors configured"},
        {"MaxGCPauseMillis", 12.5, NULL, "MaxGCPauseMillis: 12.5 is not an integer"},
        {"MaxGCPauseMillis", 0, "fast", "MaxGCPauseMillis: \"fast\" is not a number"},
        {"UseStringDeduplication", 0, "yes",
         "UseStringDeduplication: \"yes\" is not true or false"},
        {"TieredStopAtLevel", 0, "2", "TieredStopAtLevel: \"2\" is not one of the values"},
        {"heap_size", 0.5, NULL, "heap_size: 0.5 bytes is not a heap size"},
        {"Unknown", 1, NULL, "no JVM setting \"Unknown\""},
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        assert_int_equal(
            kube_jvm_encode(jvm, &w, bad[i].setting, bad[i].number, bad[i].text, &error), -1);
        assert_string_equal(error, bad[i].error);
        free(error);
    }
    words_are(&w, "-Dfoo=bar -Xmx2g -XX:+UseG1GC -verbose:gc -XX:MaxGCPauseMillis=150 "
                  "-XX:+UseStringDeduplication -XX:TieredStopAtLevel=1 -XX:GCTimeRatio=4.5");
    kube_words_free(&w);

    /* other spellings: -XX:MaxHeapSize, ParallelOld, a collector turned off again */
    kube_words_split("-XX:MaxHeapSize=1073741824 -XX:+UseParallelOldGC", &w);
    assert_int_equal(kube_jvm_decode(jvm, &w, "heap_size", &number, &text, &error), 1);
    assert_true(number == 1073741824.0);
    assert_int_equal(kube_jvm_decode(jvm, &w, "gc", &number, &text, &error), 1);
    assert_string_equal(text, "Parallel");
    free(text);
    assert_int_equal(kube_jvm_encode(jvm, &w, "heap_size", 512.0 * (1 << 20), NULL, &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "gc", 0, "Serial", &error), 0);
    words_are(&w, "-Xmx512m -XX:+UseSerialGC");
    kube_words_free(&w);
    kube_words_split("-XX:+UseZGC -XX:-UseZGC -Xmxlots -XX:MaxGCPauseMillis=soon "
                     "-XX:UseStringDeduplication=1",
                     &w);
    assert_int_equal(kube_jvm_decode(jvm, &w, "gc", &number, &text, &error), 0);
    assert_int_equal(kube_jvm_decode(jvm, &w, "heap_size", &number, &text, &error), -1);
    assert_string_equal(error, "-Xmxlots: not a heap size");
    free(error);
    assert_int_equal(kube_jvm_decode(jvm, &w, "MaxGCPauseMillis", &number, &text, &error), -1);
    assert_string_equal(error, "-XX:MaxGCPauseMillis=soon: not a number");
    free(error);
    assert_int_equal(kube_jvm_decode(jvm, &w, "UseStringDeduplication", &number, &text, &error),
                     -1);
    assert_string_equal(error, "-XX:UseStringDeduplication=1: a bool option is written "
                               "-XX:+UseStringDeduplication or -XX:-UseStringDeduplication");
    free(error);
    kube_words_free(&w);
    unload(s);
}

static void test_jvm_args(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_jvm("args");
    const struct kubernetes_jvm *jvm = jvm_of(s);
    struct kube_words w;
    /* the application's own arguments (after -jar app.jar) are not the JVM's */
    kube_words_split("-cp /app/lib -Xms256m -jar app.jar -Xmx9g --server.port=8080", &w);
    double number = 0;
    char *text = NULL, *error = NULL;
    assert_int_equal(kube_jvm_decode(jvm, &w, "heap_size", &number, &text, &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "heap_size", 1.0 * (1 << 30), NULL, &error), 0);
    assert_int_equal(kube_jvm_encode(jvm, &w, "gc", 0, "Z", &error), 0);
    words_are(&w, "-cp /app/lib -Xms256m -Xmx1g -XX:+UseZGC -jar app.jar -Xmx9g "
                  "--server.port=8080");
    assert_int_equal(kube_jvm_decode(jvm, &w, "heap_size", &number, &text, &error), 1);
    assert_true(number == 1.0 * (1 << 30));
    kube_words_free(&w);
    /* a main class ends the options too */
    kube_words_split("-XX:+UseG1GC com.example.Main -XX:+UseSerialGC", &w);
    assert_int_equal(kube_jvm_decode(jvm, &w, "gc", &number, &text, &error), 1);
    assert_string_equal(text, "G1");
    free(text);
    assert_int_equal(kube_jvm_encode(jvm, &w, "MaxGCPauseMillis", 100, NULL, &error), 0);
    words_are(&w, "-XX:+UseG1GC -XX:MaxGCPauseMillis=100 com.example.Main -XX:+UseSerialGC");
    kube_words_free(&w);
    unload(s);
}

/* Through the pod template: adjustments written by kube_apply_adjustment, described back. */
static void test_jvm_through_the_container(void **state)
{
    (void)state;
    static const char *const targets[] = {"env", "args"};
    for (size_t t = 0; t < COUNT(targets); t++) {
        struct kubernetes_settings *s = load_jvm(targets[t]);
        const struct kubernetes_container *cfg = first_container(s);
        json_t *container =
            t == 0 ? test_json(
                         "{\"name\":\"main\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":"
                         "\"JAVA_OPTS\",\"value\":\"-Dspring.profiles.active=prod "
                         "-Xmx512m\"}]}")
                   : test_json("{\"name\":\"main\",\"command\":[\"java\"],\"args\":[\"-Xmx512m\","
                               "\"-jar\",\"/app.jar\"]}");
        /* described: what is there, else the defaults */
        struct servo_description *d = servo_description_new();
        struct servo_component *c = servo_description_component(d, "main");
        struct kube_notes notes = {0};
        kube_describe_container(container, cfg, false, c, &notes);
        assert_null(notes.text);
        assert_true(setting_of(c, "heap_size")->value == 0.5);
        assert_string_equal(setting_of(c, "heap_size")->unit, "GiB");
        assert_string_equal(setting_of(c, "gc")->text_value, "G1"); /* the default */
        assert_string_equal(setting_of(c, "UseStringDeduplication")->text_value, "false");
        assert_false(setting_of(c, "MaxGCPauseMillis")->has_value);
        assert_true(setting_of(c, "MaxGCPauseMillis")->integer);
        servo_description_free(d);
        json_t *before = json_deep_copy(container);
        char *error = NULL;
        assert_int_equal(apply(container, cfg, "heap_size", 1.5, NULL, &error), 0);
        assert_int_equal(apply(container, cfg, "gc", 0, "Parallel", &error), 0);
        assert_int_equal(apply(container, cfg, "MaxGCPauseMillis", 250, NULL, &error), 0);
        assert_int_equal(apply(container, cfg, "UseStringDeduplication", 0, "true", &error), 0);
        assert_int_equal(apply(container, cfg, "heap_size", 0, "x", &error), -1);
        free(error);
        json_t *entry = kube_container_patch(before, container);
        if (t == 0)
            assert_json(entry, "{\"name\":\"main\",\"env\":[{\"name\":\"JAVA_OPTS\",\"value\":"
                               "\"-Dspring.profiles.active=prod -Xmx1536m -XX:+UseParallelGC "
                               "-XX:MaxGCPauseMillis=250 -XX:+UseStringDeduplication\"}]}");
        else
            assert_json(entry, "{\"name\":\"main\",\"args\":[\"-Xmx1536m\",\"-XX:+UseParallelGC\","
                               "\"-XX:MaxGCPauseMillis=250\",\"-XX:+UseStringDeduplication\","
                               "\"-jar\",\"/app.jar\"]}");
        json_decref(entry);
        d = servo_description_new();
        c = servo_description_component(d, "main");
        kube_describe_container(container, cfg, false, c, &notes);
        assert_true(setting_of(c, "heap_size")->value == 1.5);
        assert_string_equal(setting_of(c, "gc")->text_value, "Parallel");
        assert_true(setting_of(c, "MaxGCPauseMillis")->value == 250);
        assert_string_equal(setting_of(c, "UseStringDeduplication")->text_value, "true");
        servo_description_free(d);
        json_decref(before);
        json_decref(container);
        unload(s);
    }
    /* what cannot be used: a variable from valueFrom, a container without args */
    struct kubernetes_settings *s = load_jvm("env");
    json_t *container =
        test_json("{\"name\":\"main\",\"env\":[{\"name\":\"JAVA_OPTS\",\"valueFrom\":"
                  "{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}}}]}");
    char *error = NULL;
    assert_int_equal(apply(container, first_container(s), "heap_size", 1, NULL, &error), -1);
    assert_string_equal(error, "container main: JAVA_OPTS comes from valueFrom; the jvm encoder "
                               "can only use a value");
    free(error);
    json_decref(container);
    /* no JAVA_OPTS yet: created */
    container = test_json("{\"name\":\"main\"}");
    assert_int_equal(apply(container, first_container(s), "heap_size", 1, NULL, &error), 0);
    assert_json(container, "{\"name\":\"main\",\"env\":[{\"name\":\"JAVA_OPTS\",\"value\":"
                           "\"-Xmx1g\"}]}");
    json_decref(container);
    unload(s);
    s = load_jvm("args");
    container = test_json("{\"name\":\"main\",\"image\":\"app\"}");
    assert_int_equal(apply(container, first_container(s), "heap_size", 1, NULL, &error), -1);
    assert_string_equal(error, "container main has no args: the jvm encoder with target args "
                               "needs the JVM's arguments there (the command being java)");
    free(error);
    struct servo_description *d = servo_description_new();
    struct kube_notes notes = {0};
    kube_describe_container(container, first_container(s), false,
                            servo_description_component(d, "main"), &notes);
    assert_contains(notes.text, "main: container main has no args");
    kube_notes_free(&notes);
    servo_description_free(d);
    json_decref(container);
    unload(s);
}

/* ---- settings --------------------------------------------------------------------------- */

static void test_encoder_settings(void **state)
{
    (void)state;
    struct kubernetes_settings *s = load_jvm("env");
    const struct kubernetes_jvm *jvm = jvm_of(s);
    assert_int_equal(jvm->target, KUBERNETES_TARGET_ENV);
    assert_null(jvm->env);
    assert_int_equal(jvm->settings.heap_size->min, 256 << 20);
    assert_int_equal(jvm->settings.heap_size->default_value, SERVO_UNSET);
    assert_int_equal(jvm->settings.gc->values.count, 4);
    assert_string_equal(kubernetes_gc_choices[jvm->settings.gc->default_value], "G1");
    assert_int_equal(jvm->settings.options.count, 4);
    json_t *json = settings_to_json(servo_connector_kubernetes.settings, s, false);
    char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_contains(text, "\"encoders\":{\"jvm\":{\"target\":\"env\",\"env\":null,\"settings\":"
                          "{\"heap_size\":{\"min\":\"256Mi\",\"max\":\"4Gi\",\"step\":\"128Mi\","
                          "\"default\":null,\"pinned\":false},\"gc\":{\"values\":[\"G1\","
                          "\"Parallel\",\"Serial\",\"Z\"],\"default\":\"G1\",\"pinned\":false}");
    free(text);
    json_decref(json);
    unload(s);
    /* a container without encoders */
    s = load_settings(describe_stanza);
    assert_null(first_container(s)->encoders.jvm);
    unload(s);

    static const struct {
        const char *container;
        const char *error;
    } bad[] = {
        {"encoders: {jvm: {target: args, env: JAVA_OPTS, settings: {gc: {values: [G1]}}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.env: env applies to target env "
         "only"},
        {"encoders: {jvm: {settings: {}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings: the jvm encoder needs at "
         "least one setting"},
        {"encoders: {jvm: {settings: {gc: {values: [G1, Epsilon]}}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.gc.values[1]: \"Epsilon\" "
         "is not one of: G1, Parallel, Serial, Z, Shenandoah, ConcMarkSweep"},
        {"encoders: {jvm: {settings: {gc: {values: [G1], default: Serial}}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.gc.default: default "
         "\"Serial\" is not one of the values"},
        {"encoders: {jvm: {settings: {heap_size: {min: 2Gi, max: 1Gi}}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.heap_size.min: min (2Gi) "
         "must not be greater than max (1Gi)"},
        {"encoders: {jvm: {settings: {options: [{name: X, type: range, min: 1, max: 2}]}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.options[0]: a range "
         "option needs min, max and step"},
        {"encoders: {jvm: {settings: {options: [{name: X, type: bool, values: [a]}]}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.options[0].values: values "
         "apply to enum options only"},
        {"encoders: {jvm: {settings: {options: [{name: X, type: bool, default: yes}]}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.options[0].default: a "
         "bool option's default is true or false"},
        {"encoders: {jvm: {settings: {options: [{name: -X, type: bool}]}}}",
         "kubernetes.deployments[0].containers[0].encoders.jvm.settings.options[0].name: \"-X\" "
         "does not match the pattern /^[A-Za-z][A-Za-z0-9_]{0,127}$/"},
        {"env: [{name: gc, type: enum, values: [a]}]\n"
         "      encoders: {jvm: {settings: {gc: {values: [G1]}}}}",
         "kubernetes.deployments[0].containers[0]: the setting name \"gc\" is used twice in "
         "container \"main\""},
        {"encoders: {jvm: {settings: {options: [{name: cpu, type: bool}]}}}",
         "kubernetes.deployments[0].containers[0]: the setting name \"cpu\" is used twice in "
         "container \"main\" (it is a built-in setting)"},
        {"env: [{name: OPTS, literal: JAVA_OPTS, type: enum, values: [a]}]\n"
         "      encoders: {jvm: {settings: {gc: {values: [G1]}}}}",
         "kubernetes.deployments[0].containers[0].env: the variable JAVA_OPTS is the jvm "
         "encoder's; it cannot also be an env setting"},
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        char *stanza = kube_printf("kubernetes:\n"
                                   "  deployments:\n"
                                   "  - name: web\n"
                                   "    containers:\n"
                                   "    - name: main\n"
                                   "      %s\n",
                                   bad[i].container);
        char *errors = load_errors(stanza);
        assert_contains(errors, bad[i].error);
        free(errors);
        free(stanza);
    }
}

/* kube_version_judge: (major, minor) pairs against 1.16 and, when given, 1.30. */
static void test_version_judgement(void **state)
{
    (void)state;
    static const struct {
        const char *version;
        int max_minor;
        enum kube_version_verdict verdict;
        long major, minor;
    } cases[] = {
        {"{\"major\":\"1\",\"minor\":\"20\",\"gitVersion\":\"v1.20.2\"}", 30,
         KUBE_VERSION_SUPPORTED, 1, 20},
        {"{\"major\":\"1\",\"minor\":\"16\"}", 30, KUBE_VERSION_SUPPORTED, 1, 16},
        {"{\"major\":\"1\",\"minor\":\"30\"}", 30, KUBE_VERSION_SUPPORTED, 1, 30},
        {"{\"major\":\"1\",\"minor\":\"22+\"}", 30, KUBE_VERSION_SUPPORTED, 1, 22},
        {"{\"major\":\"1\",\"minor\":\"15\"}", 30, KUBE_VERSION_OLDER, 1, 15},
        {"{\"major\":\"0\",\"minor\":\"40\"}", 0, KUBE_VERSION_OLDER, 0, 40},
        {"{\"major\":\"1\",\"minor\":\"31\"}", 30, KUBE_VERSION_NEWER, 1, 31},
        {"{\"major\":\"2\",\"minor\":\"0\"}", 30, KUBE_VERSION_NEWER, 2, 0},
        /* without a maximum, anything from 1.16 on is supported */
        {"{\"major\":\"1\",\"minor\":\"99\"}", 0, KUBE_VERSION_SUPPORTED, 1, 99},
        {"{\"major\":\"2\",\"minor\":\"0\"}", 0, KUBE_VERSION_SUPPORTED, 2, 0},
        {"{\"major\":\"1\",\"minor\":\"x\"}", 0, KUBE_VERSION_UNREADABLE, 0, 0},
        {"{\"minor\":\"20\"}", 30, KUBE_VERSION_UNREADABLE, 0, 0},
        {"{\"major\":1,\"minor\":20}", 30, KUBE_VERSION_UNREADABLE, 0, 0},
        {"[]", 30, KUBE_VERSION_UNREADABLE, 0, 0},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_t *body = test_json(cases[i].version);
        struct kube_version v;
        kube_version_judge(body, 16, cases[i].max_minor, &v);
        json_decref(body); /* v holds its own reference */
        if (v.verdict != cases[i].verdict)
            print_message("%s (max 1.%d)\n", cases[i].version, cases[i].max_minor);
        assert_int_equal(v.verdict, cases[i].verdict);
        assert_int_equal(v.major_number, cases[i].major);
        assert_int_equal(v.minor_number, cases[i].minor);
        assert_true(v.git == NULL || strcmp(v.git, "v1.20.2") == 0);
        kube_version_clear(&v);
        kube_version_clear(&v); /* safe twice */
        assert_null(v.body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_cascade),
        cmocka_unit_test(test_cpu_quantities),
        cmocka_unit_test(test_memory_quantities),
        cmocka_unit_test(test_component_names),
        cmocka_unit_test(test_label_selectors),
        cmocka_unit_test(test_describe_container),
        cmocka_unit_test(test_apply_and_patch),
        cmocka_unit_test(test_rollback_patch),
        cmocka_unit_test(test_tuning_pod_body),
        cmocka_unit_test(test_pod_failures),
        cmocka_unit_test(test_replica_sets),
        cmocka_unit_test(test_replica_set_of_the_template),
        cmocka_unit_test(test_rollouts),
        cmocka_unit_test(test_argo_rollouts),
        cmocka_unit_test(test_huge_lists),
        cmocka_unit_test(test_jvm_sizes),
        cmocka_unit_test(test_jvm_env_round_trip),
        cmocka_unit_test(test_jvm_args),
        cmocka_unit_test(test_jvm_through_the_container),
        cmocka_unit_test(test_encoder_settings),
        cmocka_unit_test(test_version_judgement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
