/* The settings tables of the built-in connectors: each table is sound, each `generate` stanza
 * validates, bad stanzas produce exactly the expected diagnostics, good ones load, print as
 * JSON and free cleanly. */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assembly/builtins.h"
#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "servo/connector.h"

#include "../../connectors/exec/exec.h"
#include "../../connectors/kubernetes/kubernetes.h"
#include "../../connectors/prometheus/prometheus.h"
#include "../../connectors/scripts/scripts.h"
#include "../../connectors/vegeta/vegeta.h"
#include "../../connectors/wait/wait.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- helpers ---------------------------------------------------------------------------- */

/* Loads the plugin's stanza (its default key) of the YAML document `text`, read as "<string>".
 * Returns the settings or NULL; the diagnostics are left in `diags`. */
static void *load_stanza(const struct servo_connector_plugin *plugin, const char *text,
                         struct servo_diags *diags)
{
    struct yaml_documents docs;
    diags_init(diags);
    assert_int_equal(yaml_load(text, strlen(text), "<string>", &docs, diags), 0);
    assert_int_equal(docs.count, 1);
    const struct servo_node *stanza = servo_node_get(docs.items[0], plugin->name);
    void *settings = settings_load(plugin->settings, stanza, plugin->name, docs.items[0], diags);
    yaml_documents_free(&docs);
    return settings;
}

static void print_diags(const struct servo_diags *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        char *line = diag_format(&diags->items[i]);
        print_message("  diagnostic: %s\n", line);
        free(line);
    }
}

/* A valid stanza: loads without diagnostics. The caller frees with settings_free. */
static void *load_valid(const struct servo_connector_plugin *plugin, const char *text)
{
    struct servo_diags diags;
    void *settings = load_stanza(plugin, text, &diags);
    if (settings == NULL || diags.count != 0)
        print_diags(&diags);
    assert_non_null(settings);
    assert_int_equal(diags.count, 0);
    diags_free(&diags);
    return settings;
}

/* An invalid stanza: fails with exactly the `count` diagnostics `expected`, in order. */
static void expect_errors(const struct servo_connector_plugin *plugin, const char *text,
                          const char *const *expected, size_t count)
{
    struct servo_diags diags;
    void *settings = load_stanza(plugin, text, &diags);
    bool same = settings == NULL && diags.count == count;
    for (size_t i = 0; same && i < count; i++) {
        char *line = diag_format(&diags.items[i]);
        same = strcmp(line, expected[i]) == 0;
        free(line);
    }
    if (!same) {
        print_message("for the stanza:\n%s", text);
        for (size_t i = 0; i < count; i++)
            print_message("  expected:   %s\n", expected[i]);
        print_diags(&diags);
    }
    settings_free(plugin->settings, settings);
    diags_free(&diags);
    assert_true(same);
}

#define EXPECT_ERRORS(plugin, text, ...)                          \
    do {                                                          \
        static const char *const expected_[] = {__VA_ARGS__};     \
        expect_errors(plugin, text, expected_, COUNT(expected_)); \
    } while (0)

/* The settings as JSON, as a compact string for substring checks. */
static char *settings_json_text(const struct servo_connector_plugin *plugin, const void *settings,
                                bool show_secrets)
{
    json_t *json = settings_to_json(plugin->settings, settings, show_secrets);
    assert_non_null(json);
    char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(json);
    assert_non_null(text);
    return text;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL) {
        print_message("expected %s\n      in %s\n", needle, haystack);
        fail();
    }
}

/* ---- every connector -------------------------------------------------------------------- */

static void test_builtins_are_listed_in_order(void **state)
{
    (void)state;
    static const char *const names[] = {"exec",       "kube_metrics", "kubernetes",
                                        "opsani_dev", "prometheus",   "scripts",
                                        "vegeta",     "wait",         "wrk"};
    assert_int_equal(servo_builtin_connector_count(), COUNT(names));
    for (size_t i = 0; i < COUNT(names); i++) {
        const struct servo_connector_plugin *plugin = servo_builtin_connectors[i];
        assert_non_null(plugin);
        assert_string_equal(plugin->name, names[i]);
        assert_int_equal(plugin->abi_version, SERVO_ABI_VERSION);
        assert_int_equal(plugin->struct_size, sizeof(struct servo_connector_plugin));
        assert_non_null(plugin->class_name);
        assert_non_null(plugin->version);
        assert_non_null(plugin->description);
        assert_non_null(plugin->homepage);
        assert_string_equal(plugin->license, "Apache 2.0");
        assert_non_null(plugin->maturity);
    }
    assert_null(servo_builtin_connectors[COUNT(names)]);
}

/* Every field of every table (nested ones included) has a description. */
static void check_descriptions(const struct servo_schema *schema)
{
    for (const struct servo_field *f = schema->fields; f->name; f++) {
        if (f->description == NULL)
            print_message("%s.%s has no description\n", schema->title, f->name);
        assert_non_null(f->description);
        const struct servo_field *inner = f;
        while (inner->type == SERVO_FIELD_LIST || inner->type == SERVO_FIELD_MAP)
            inner = inner->item;
        if (inner->type == SERVO_FIELD_OBJECT)
            check_descriptions(inner->object);
    }
}

static void test_tables_are_sound(void **state)
{
    (void)state;
    for (size_t i = 0; servo_builtin_connectors[i]; i++) {
        const struct servo_connector_plugin *plugin = servo_builtin_connectors[i];
        struct servo_diags diags;
        diags_init(&diags);
        int rc = settings_check_schema(plugin->settings, &diags);
        if (rc != 0)
            print_diags(&diags);
        assert_int_equal(rc, 0);
        assert_int_equal(diags.count, 0);
        diags_free(&diags);
        check_descriptions(plugin->settings);

        json_t *schema = settings_json_schema(plugin->settings, "SERVO_TEST");
        assert_non_null(schema);
        assert_true(json_is_object(json_object_get(schema, "properties")));
        json_decref(schema);
    }
}

static void test_generated_stanzas_validate(void **state)
{
    (void)state;
    for (size_t i = 0; servo_builtin_connectors[i]; i++) {
        const struct servo_connector_plugin *plugin = servo_builtin_connectors[i];
        struct yaml_documents docs;
        struct servo_diags diags;
        diags_init(&diags);
        const char *text = plugin->generate;
        assert_non_null(text);
        assert_int_equal(yaml_load(text, strlen(text), "<generate>", &docs, &diags), 0);
        assert_int_equal(docs.count, 1);
        void *settings =
            settings_load(plugin->settings, docs.items[0], plugin->name, docs.items[0], &diags);
        if (settings == NULL)
            print_diags(&diags);
        assert_non_null(settings);
        assert_int_equal(diags.count, 0);
        settings_free(plugin->settings, settings);
        yaml_documents_free(&docs);
        diags_free(&diags);
    }
}

/* ---- vegeta ----------------------------------------------------------------------------- */

static const struct servo_connector_plugin *const vegeta = &servo_connector_vegeta;

static void test_vegeta_metadata(void **state)
{
    (void)state;
    assert_string_equal(vegeta->class_name, "VegetaConnector");
    assert_string_equal(vegeta->version, "0.5.0");
    assert_string_equal(vegeta->description, "Vegeta load testing connector");
    assert_string_equal(vegeta->homepage, "https://github.com/opsani/vegeta-connector");
    assert_string_equal(vegeta->maturity, "Stable");
}

static void test_vegeta_valid(void **state)
{
    (void)state;
    struct vegeta_settings *s = load_valid(vegeta, "vegeta:\n"
                                                   "  rate: 50/1s\n"
                                                   "  target: GET https://example.com/\n");
    assert_int_equal(s->rate.hits, 50);
    assert_int_equal(s->rate.period, SERVO_SECOND);
    assert_int_equal(s->format, VEGETA_FORMAT_HTTP);
    assert_string_equal(s->target, "GET https://example.com/");
    assert_null(s->targets);
    assert_int_equal(s->connections, 10000);
    assert_int_equal(s->workers, 10);
    assert_int_equal(s->max_workers, SERVO_UNSET);
    assert_int_equal(s->max_body, -1);
    assert_true(s->http2);
    assert_true(s->keepalive);
    assert_false(s->insecure);
    assert_int_equal(s->reporting_interval, 15 * SERVO_SECOND);

    char *json = settings_json_text(vegeta, s, false);
    assert_contains(json, "\"rate\":\"50/1s\"");
    assert_contains(json, "\"format\":\"http\"");
    assert_contains(json, "\"targets\":null");
    assert_contains(json, "\"max_workers\":null");
    assert_contains(json, "\"max_body\":-1");
    assert_contains(json, "\"reporting_interval\":\"15s\"");
    free(json);
    settings_free(vegeta->settings, s);

    /* a multi-line target with headers, comments and a body reference */
    s = load_valid(vegeta, "vegeta:\n"
                           "  rate: 3000/1m\n"
                           "  max_workers: 100\n"
                           "  reporting_interval: 500ms\n"
                           "  target: |\n"
                           "    # the API\n"
                           "    POST http://api.example.com:8080/v1/items?x=1\n"
                           "    Content-Type: application/json\n"
                           "    X-Trace:  on\n"
                           "    @/tmp/body.json\n"
                           "\n"
                           "    GET https://example.com/\n");
    assert_int_equal(s->max_workers, 100);
    json = settings_json_text(vegeta, s, false);
    assert_contains(json, "\"rate\":\"3000/1m\"");
    assert_contains(json, "\"reporting_interval\":\"500ms\"");
    free(json);
    settings_free(vegeta->settings, s);

    /* json targets */
    s = load_valid(vegeta, "vegeta:\n"
                           "  rate: 0\n"
                           "  max_workers: 8\n"
                           "  format: json\n"
                           "  target: '{\"method\": \"POST\", \"url\": \"https://example.com/a\", "
                           "\"header\": {\"Accept\": [\"text/plain\"]}, \"body\": \"aGk=\"}'\n");
    assert_int_equal(s->format, VEGETA_FORMAT_JSON);
    assert_int_equal(s->rate.hits, 0);
    settings_free(vegeta->settings, s);
}

static void test_vegeta_targets_file(void **state)
{
    (void)state;
    const char *path = test_write_file("targets.txt", "GET https://example.com/\n"
                                                      "Authorization: Bearer x\n"
                                                      "\n"
                                                      "HEAD https://example.com/health\n");
    char *text = NULL;
    assert_true(asprintf(&text, "vegeta:\n  rate: 10\n  targets: %s\n", path) > 0);
    struct vegeta_settings *s = load_valid(vegeta, text);
    assert_string_equal(s->targets, path);
    assert_null(s->target);
    settings_free(vegeta->settings, s);
    free(text);

    /* a bad line in the file is reported with the file's name and line */
    char *bad_path = strdup(test_write_file("bad-targets.txt", "GET https://example.com/\n"
                                                               "# fine\n"
                                                               "FETCH https://example.com/\n"));
    assert_true(asprintf(&text, "vegeta:\n  rate: 10\n  targets: %s\n", bad_path) > 0);
    char *expected = NULL;
    assert_true(asprintf(&expected,
                         "<string>:3:12: vegeta.targets: %s:3: unknown method \"FETCH\" "
                         "(expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, "
                         "TRACE, CONNECT)",
                         bad_path) > 0);
    const char *const one[] = {expected};
    expect_errors(vegeta, text, one, 1);
    free(expected);
    free(text);

    /* json targets in a file */
    const char *json_path =
        test_write_file("targets.json", "{\"method\": \"GET\", \"url\": \"http://a.example/\"}\n"
                                        "\n"
                                        "{\"method\": \"GET\", \"url\": \"http://b.example/\"}\n");
    assert_true(asprintf(&text, "vegeta:\n  rate: 10\n  format: json\n  targets: %s\n", json_path) >
                0);
    s = load_valid(vegeta, text);
    settings_free(vegeta->settings, s);
    free(text);

    /* target and targets exclude each other */
    assert_true(asprintf(&text, "vegeta:\n  rate: 10\n  target: GET http://a/\n  targets: %s\n",
                         json_path) > 0);
    EXPECT_ERRORS(vegeta, text, "<string>:2:3: vegeta: target and targets cannot both be given");
    free(text);

    /* a directory is not a targets file */
    assert_true(asprintf(&text, "vegeta:\n  rate: 10\n  targets: %s\n", test_scratch_dir()) > 0);
    assert_true(asprintf(&expected, "<string>:3:12: vegeta.targets: \"%s\" is not a regular file",
                         test_scratch_dir()) > 0);
    const char *const dir[] = {expected};
    expect_errors(vegeta, text, dir, 1);
    free(expected);
    free(text);
    free(bad_path);
}

static void test_vegeta_invalid(void **state)
{
    (void)state;
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: fifty\n"
                  "  target: GET https://example.com/\n",
                  "<string>:2:9: vegeta.rate: invalid rate \"fifty\": hits must be a "
                  "non-negative integer");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n",
                  "<string>:2:3: vegeta: one of target or targets is required");
    /* cross-field checks run only once every field is valid */
    EXPECT_ERRORS(vegeta, "other: {}\n", "<string>:1:1: vegeta.rate: field required");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n"
                  "  target: GRAB https://example.com/\n",
                  "<string>:3:11: vegeta.target: line 1: unknown method \"GRAB\" (expected one "
                  "of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, TRACE, CONNECT)");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n"
                  "  target: |\n"
                  "    Accept: text/plain\n"
                  "    GET ftp://example.com/\n"
                  "    GET\n"
                  "    POST https:///nohost\n"
                  "    what is this\n",
                  "<string>:3:11: vegeta.target: line 1: the header \"Accept: text/plain\" does "
                  "not follow a target line",
                  "<string>:3:11: vegeta.target: line 2: invalid URL \"ftp://example.com/\": the "
                  "scheme must be http or https",
                  "<string>:3:11: vegeta.target: line 3: expected a URL after GET",
                  "<string>:3:11: vegeta.target: line 4: invalid URL \"https:///nohost\": "
                  "missing host",
                  "<string>:3:11: vegeta.target: line 5: expected \"METHOD URL\" or \"Header: "
                  "value\", got \"what is this\"");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n"
                  "  target: '# nothing but a comment'\n",
                  "<string>:3:11: vegeta.target: at least one target is required");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n"
                  "  format: json\n"
                  "  target: |\n"
                  "    {\"method\": \"GET\", \"url\": \"https://example.com/\", \"headers\": {}}\n"
                  "    {\"method\": \"GET\", \"url\": \n"
                  "    {\"method\": \"FETCH\", \"url\": \"https://example.com/\"}\n"
                  "    {\"url\": \"https://example.com/\"}\n"
                  "    {\"method\": \"GET\", \"url\": \"example.com\"}\n"
                  "    {\"method\": \"GET\", \"url\": \"https://example.com/\", \"body\": \"a\"}\n"
                  "    {\"method\": \"GET\", \"url\": \"https://e.com/\", \"header\": {\"A\": "
                  "\"b\"}}\n"
                  "    [1]\n",
                  "<string>:4:11: vegeta.target: line 1: unknown key \"headers\" (allowed: "
                  "method, url, header, body)",
                  "<string>:4:11: vegeta.target: line 2: invalid JSON: unexpected token near "
                  "end of file",
                  "<string>:4:11: vegeta.target: line 3: \"method\" must be one of GET, POST, "
                  "PUT, PATCH, DELETE, HEAD, OPTIONS, TRACE, CONNECT",
                  "<string>:4:11: vegeta.target: line 4: \"method\" is required",
                  "<string>:4:11: vegeta.target: line 5: invalid URL \"example.com\": missing "
                  "scheme (expected http:// or https://)",
                  "<string>:4:11: vegeta.target: line 6: \"body\" must be a base64-encoded "
                  "string",
                  "<string>:4:11: vegeta.target: line 7: the header \"A\" must be a list of "
                  "strings",
                  "<string>:4:11: vegeta.target: line 8: expected a JSON object");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n"
                  "  targets: /nonexistent/targets.txt\n",
                  "<string>:3:12: vegeta.targets: file \"/nonexistent/targets.txt\" does not "
                  "exist");
    EXPECT_ERRORS(vegeta,
                  "vegeta:\n"
                  "  rate: 50/1s\n"
                  "  format: xml\n"
                  "  target: GET https://example.com/\n"
                  "  connections: 0\n"
                  "  reporting_interval: 0s\n"
                  "  http2: maybe\n",
                  "<string>:3:11: vegeta.format: \"xml\" is not one of: http, json",
                  "<string>:5:16: vegeta.connections: the value must be at least 1",
                  "<string>:7:10: vegeta.http2: invalid boolean \"maybe\": expected true or "
                  "false",
                  "<string>:6:23: vegeta.reporting_interval: the value must be at least 1ms");
}

/* ---- prometheus ------------------------------------------------------------------------- */

static const struct servo_connector_plugin *const prometheus = &servo_connector_prometheus;

static void test_prometheus_valid(void **state)
{
    (void)state;
    assert_string_equal(prometheus->class_name, "PrometheusConnector");
    assert_string_equal(prometheus->version, "1.5.0");
    struct prometheus_settings *s =
        load_valid(prometheus, "prometheus:\n"
                               "  metrics:\n"
                               "  - name: throughput\n"
                               "    unit: rps\n"
                               "    query: rate(http_requests_total[5m])\n"
                               "  - name: error_rate\n"
                               "    unit: '%'\n"
                               "    query: rate(errors[5m])\n"
                               "    step: 30s\n"
                               "    absent: zero\n"
                               "  - name: p50:latency\n"
                               "    query: histogram_quantile(0.5, x)\n"
                               "  targets:\n"
                               "  - scrapePool: app\n"
                               "    health: up\n"
                               "    labels: {job: app, instance: '10.0.0.1:8080'}\n"
                               "  fast_fail:\n"
                               "    skip: 30s\n"
                               "  bearer_token: s3cr3t\n");
    assert_string_equal(s->base_url, "https://prometheus:9090");
    assert_int_equal(s->metrics.count, 3);
    const struct prometheus_metric *m = s->metrics.items;
    assert_string_equal(m[0].name, "throughput");
    assert_int_equal(m[0].unit, PROMETHEUS_UNIT_RPS);
    assert_int_equal(m[0].step, SERVO_MINUTE);
    assert_int_equal(m[0].absent, PROMETHEUS_ABSENT_IGNORE);
    assert_int_equal(m[1].unit, PROMETHEUS_UNIT_PERCENTAGE);
    assert_int_equal(m[1].absent, PROMETHEUS_ABSENT_ZERO);
    assert_int_equal(m[2].unit, PROMETHEUS_UNIT_NONE);
    assert_int_equal(s->targets.count, 1);
    const struct prometheus_target *t = s->targets.items;
    assert_int_equal(t->health, PROMETHEUS_HEALTH_UP);
    assert_int_equal(t->labels.count, 2);
    assert_int_equal(t->last_scrape_duration, SERVO_UNSET);
    assert_int_equal(s->fast_fail.disabled, 0);
    assert_int_equal(s->fast_fail.period, SERVO_MINUTE);
    assert_int_equal(s->fast_fail.span, SERVO_UNSET);
    assert_int_equal(s->fast_fail.skip, 30 * SERVO_SECOND);
    assert_int_equal(s->timeout, 30 * SERVO_SECOND);
    assert_int_equal(s->streaming_interval, SERVO_UNSET);

    char *json = settings_json_text(prometheus, s, false);
    assert_contains(json, "\"base_url\":\"https://prometheus:9090\"");
    assert_contains(json, "{\"name\":\"throughput\",\"unit\":\"rps\","
                          "\"query\":\"rate(http_requests_total[5m])\",\"step\":\"1m\","
                          "\"absent\":\"ignore\"}");
    assert_contains(json, "\"unit\":\"%\"");
    assert_contains(json, "\"step\":\"30s\"");
    assert_contains(json, "\"unit\":\"\"");
    assert_contains(json, "\"labels\":{\"job\":\"app\",\"instance\":\"10.0.0.1:8080\"}");
    assert_contains(json, "\"fast_fail\":{\"disabled\":0,\"period\":\"1m\",\"span\":null,"
                          "\"skip\":\"30s\",\"treat_zero_as_missing\":false}");
    assert_contains(json, "\"bearer_token\":\"**********\"");
    assert_contains(json, "\"timeout\":\"30s\"");
    free(json);
    json = settings_json_text(prometheus, s, true);
    assert_contains(json, "\"bearer_token\":\"s3cr3t\"");
    free(json);
    settings_free(prometheus->settings, s);

    s = load_valid(prometheus, "prometheus:\n"
                               "  base_url: http://localhost:9090/prom\n"
                               "  metrics: []\n"
                               "  username: admin\n"
                               "  password: hunter2\n"
                               "  insecure: true\n");
    assert_int_equal(s->metrics.count, 0);
    assert_string_equal(s->password, "hunter2");
    settings_free(prometheus->settings, s);
}

static void test_prometheus_invalid(void **state)
{
    (void)state;
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  base_url: http://prometheus:9090\n",
                  "<string>:2:3: prometheus.metrics: field required");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics:\n"
                  "  - name: throughput\n"
                  "    query: a\n"
                  "  - name: latency\n"
                  "    query: b\n"
                  "  - name: throughput\n"
                  "    query: c\n",
                  "<string>:3:3: prometheus.metrics: duplicate metric name \"throughput\" "
                  "(metrics[0] and metrics[2])");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics:\n"
                  "  - name: throughput\n"
                  "    query: rate(http_requests_total[5m])\n"
                  "  - name: error_rate\n"
                  "    query: rate(errors[5m])\n"
                  "    step: 5x\n",
                  "<string>:7:11: prometheus.metrics[1].step: invalid duration \"5x\": unknown "
                  "unit");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics:\n"
                  "  - name: throughput\n"
                  "    query: q\n"
                  "    absent: sometimes\n",
                  "<string>:5:13: prometheus.metrics[0].absent: \"sometimes\" is not one of: "
                  "ignore, zero, warn, fail");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  base_url: not a url\n"
                  "  metrics: []\n",
                  "<string>:2:13: prometheus.base_url: invalid URL \"not a url\": missing scheme "
                  "(expected http:// or https://)");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics:\n"
                  "  - name: 9lives\n"
                  "    query: ''\n"
                  "    unit: rph\n",
                  "<string>:3:11: prometheus.metrics[0].name: \"9lives\" does not match the "
                  "pattern /^[A-Za-z_][A-Za-z0-9_.:-]*$/",
                  "<string>:5:11: prometheus.metrics[0].unit: \"rph\" is not one of: , %, ms, "
                  "bytes, GiB, cores, rpm, rps",
                  "<string>:4:12: prometheus.metrics[0].query: must not be empty");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics: []\n"
                  "  username: admin\n",
                  "<string>:3:13: prometheus.username: username requires a password");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics: []\n"
                  "  bearer_token: t\n"
                  "  username: admin\n"
                  "  password: p\n",
                  "<string>:3:17: prometheus.bearer_token: bearer_token and username/password "
                  "cannot both be given");
    EXPECT_ERRORS(prometheus,
                  "prometheus:\n"
                  "  metrics: []\n"
                  "  fast_fail: {disabled: 2, period: 0s}\n"
                  "  targets: [{health: sick}]\n",
                  "<string>:4:22: prometheus.targets[0].health: \"sick\" is not one of: up, "
                  "down, unknown",
                  "<string>:3:25: prometheus.fast_fail.disabled: the value must be at most 1",
                  "<string>:3:36: prometheus.fast_fail.period: the value must be at least 1ms");
}

/* ---- kubernetes ------------------------------------------------------------------------- */

static const struct servo_connector_plugin *const kubernetes = &servo_connector_kubernetes;

static void test_kubernetes_valid(void **state)
{
    (void)state;
    assert_string_equal(kubernetes->class_name, "KubernetesConnector");
    struct kubernetes_settings *s =
        load_valid(kubernetes, "kubernetes:\n"
                               "  namespace: apps\n"
                               "  settlement: 1m\n"
                               "  deployments:\n"
                               "  - name: web\n"
                               "    strategy: canary\n"
                               "    replicas: {min: 1, max: 4}\n"
                               "    containers:\n"
                               "    - name: main\n"
                               "      alias: web-main\n"
                               "      cpu: {min: 250m, max: 4, step: 125m}\n"
                               "      memory: {min: 256Mi, max: 4GiB, set: [limit]}\n"
                               "      env:\n"
                               "      - {name: WORKERS, type: range, min: 1, max: 8, step: 1, "
                               "value_type: int}\n"
                               "      - {name: POLICY, type: enum, values: [a, b], default: b}\n"
                               "      static_environment_variables: {MODE: tuning}\n"
                               "  - name: api.v2\n"
                               "    namespace: other\n"
                               "    timeout: 10m\n"
                               "    on_failure: shutdown\n"
                               "    strategy: {type: canary, alias: api-tuning}\n"
                               "    containers:\n"
                               "    - name: api\n"
                               "  stateful_sets:\n"
                               "  - name: db\n"
                               "    containers:\n"
                               "    - name: postgres\n"
                               "      memory: {min: 0.5, max: 2}\n");
    assert_string_equal(s->namespace, "apps");
    assert_int_equal(s->timeout, 5 * SERVO_MINUTE);
    assert_int_equal(s->on_failure, KUBERNETES_FAILURE_EXCEPTION);
    assert_true(s->create_tuning_pod);
    assert_int_equal(s->permissions.count, 5);
    assert_int_equal(s->deployments.count, 2);
    const struct kubernetes_workload *w = s->deployments.items;
    /* what a workload does not set stays unset: the settings are immutable once validated
     * (the effective values are the connector state's, test_kubernetes.c) */
    assert_null(w[0].namespace);
    assert_int_equal(w[0].timeout, SERVO_UNSET);
    assert_int_equal(w[0].settlement, SERVO_UNSET);
    assert_true(w[0].on_failure < 0);
    assert_int_equal(w[0].strategy.type, KUBERNETES_STRATEGY_CANARY);
    assert_null(w[0].strategy.alias);
    assert_non_null(w[0].replicas);
    assert_int_equal(w[0].replicas->step, 1);
    const struct kubernetes_container *c = w[0].containers.items;
    assert_int_equal(c->cpu->min, 250);
    assert_int_equal(c->cpu->max, 4000);
    assert_int_equal(c->cpu->request, SERVO_UNSET);
    assert_int_equal(c->cpu->get.count, 2);
    assert_int_equal(c->memory->min, 256 << 20);
    assert_int_equal(c->memory->step, 128 << 20);
    assert_int_equal(c->memory->set.count, 1);
    assert_int_equal(((const int *)c->memory->set.items)[0], KUBERNETES_LIMIT);
    const struct kubernetes_env *env = c->env.items;
    assert_int_equal(env[0].type, KUBERNETES_ENV_RANGE);
    assert_int_equal(env[0].value_type, KUBERNETES_VALUE_INT);
    assert_true(isnan(env[1].min));
    assert_string_equal(env[1].default_value, "b");
    assert_string_equal(w[1].namespace, "other");
    assert_int_equal(w[1].timeout, 10 * SERVO_MINUTE);
    assert_int_equal(w[1].on_failure, KUBERNETES_FAILURE_SHUTDOWN);
    assert_string_equal(w[1].strategy.alias, "api-tuning");
    assert_null(w[1].replicas);
    const struct kubernetes_container *api = w[1].containers.items;
    assert_null(api->cpu);
    assert_null(api->memory);
    const struct kubernetes_workload *db = s->stateful_sets.items;
    assert_null(db->namespace);
    assert_int_equal(db->strategy.type, KUBERNETES_STRATEGY_DEFAULT);

    char *json = settings_json_text(kubernetes, s, false);
    assert_contains(json, "\"timeout\":\"5m\"");
    assert_contains(json, "\"settlement\":\"1m\"");
    assert_contains(json, "\"cpu\":{\"min\":\"250m\",\"max\":\"4\",\"step\":\"125m\","
                          "\"request\":null,\"limit\":null,\"get\":[\"request\",\"limit\"],"
                          "\"set\":[\"request\",\"limit\"],\"pinned\":false}");
    assert_contains(json, "\"memory\":{\"min\":\"256Mi\",\"max\":\"4Gi\",\"step\":\"128Mi\"");
    assert_contains(json, "\"set\":[\"limit\"]");
    assert_contains(json, "\"min\":\"512Mi\",\"max\":\"2Gi\"");
    assert_contains(json, "\"strategy\":{\"type\":\"canary\",\"alias\":null}");
    assert_contains(json, "\"replicas\":{\"min\":1,\"max\":4,\"step\":1,\"pinned\":false}");
    assert_contains(json, "{\"name\":\"WORKERS\",\"type\":\"range\",\"literal\":null,"
                          "\"min\":1.0,\"max\":8.0,\"step\":1.0,\"value_type\":\"int\"");
    assert_contains(json, "\"values\":[\"a\",\"b\"],\"default\":\"b\"");
    assert_contains(json, "\"static_environment_variables\":{\"MODE\":\"tuning\"}");
    assert_contains(json, "{\"group\":\"\",\"resources\":[\"namespaces\"],\"verbs\":[\"get\"]}");
    free(json);
    settings_free(kubernetes->settings, s);
}

static void test_kubernetes_invalid(void **state)
{
    (void)state;
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  namespace: default\n",
                  "<string>:2:3: kubernetes: No optimization target(s) were specified");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  stateful_sets:\n"
                  "  - name: db\n"
                  "    strategy: canary\n"
                  "    containers: [{name: postgres}]\n",
                  "<string>:4:15: kubernetes.stateful_sets[0].strategy: the canary strategy is "
                  "not supported for stateful sets");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  deployments:\n"
                  "  - name: app\n"
                  "    containers:\n"
                  "    - name: app\n"
                  "      cpu: {min: 1.5m, max: 2}\n",
                  "<string>:6:18: kubernetes.deployments[0].containers[0].cpu.min: invalid CPU "
                  "quantity \"1.5m\": finer than 1m");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  deployments:\n"
                  "  - name: app\n"
                  "    replicas: {min: 3, max: 2}\n"
                  "    containers:\n"
                  "    - name: app\n"
                  "      cpu: {min: 2, max: 500m}\n"
                  "      memory: {min: 1Gi, max: 2Gi, step: 0}\n",
                  "<string>:4:21: kubernetes.deployments[0].replicas.min: min (3) must not be "
                  "greater than max (2)",
                  "<string>:7:18: kubernetes.deployments[0].containers[0].cpu.min: min (2) must "
                  "not be greater than max (500m)",
                  "<string>:8:42: kubernetes.deployments[0].containers[0].memory.step: step must "
                  "be greater than zero when min and max differ");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  deployments:\n"
                  "  - name: app\n"
                  "    containers:\n"
                  "    - name: app\n"
                  "      env:\n"
                  "      - name: POLICY\n"
                  "        type: enum\n"
                  "      - {name: N, type: range, min: 1, max: 2}\n"
                  "      - {name: M, type: range, min: 1.5, max: 2, step: 0.5, value_type: int}\n",
                  "<string>:7:9: kubernetes.deployments[0].containers[0].env[0].values: an enum "
                  "setting needs values",
                  "<string>:9:9: kubernetes.deployments[0].containers[0].env[1]: a range setting "
                  "needs step",
                  "<string>:10:9: kubernetes.deployments[0].containers[0].env[2]: min, max and "
                  "step must be integers when value_type is int");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  namespace: Not_A_Namespace\n"
                  "  on_failure: destroy\n"
                  "  deployments:\n"
                  "  - name: app\n"
                  "    containers: []\n",
                  "<string>:2:14: kubernetes.namespace: \"Not_A_Namespace\" does not match the "
                  "pattern /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/",
                  "<string>:3:15: kubernetes.on_failure: \"destroy\" is not one of: exception, "
                  "shutdown, ignore, rollback",
                  "<string>:6:17: kubernetes.deployments[0].containers: must not be empty");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  deployments:\n"
                  "  - name: a\n"
                  "    containers: [{name: app, alias: main}]\n"
                  "  - name: b\n"
                  "    containers: [{name: app, alias: main}]\n",
                  "<string>:2:3: kubernetes: duplicate container alias \"main\" "
                  "(deployments[0].containers[0] and deployments[1].containers[0])");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  deployments:\n"
                  "  - name: a\n"
                  "    containers: [{name: b/c}]\n"
                  "  - name: a/b\n"
                  "    containers: [{name: c}]\n",
                  "<string>:5:11: kubernetes.deployments[1].name: \"a/b\" does not match the "
                  "pattern /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
                  "[a-z0-9])?)*$/");
    EXPECT_ERRORS(kubernetes,
                  "kubernetes:\n"
                  "  deployments:\n"
                  "  - name: web\n"
                  "    strategy: {type: canary, alias: web/main}\n"
                  "    containers: [{name: main}]\n",
                  "<string>:2:3: kubernetes: duplicate component name \"web/main\" "
                  "(deployments[0].containers[0] and deployments[0].containers[0])");
}

/* ---- exec, wait, scripts ---------------------------------------------------------------- */

static const struct servo_connector_plugin *const exec_connector = &servo_connector_exec;
static const struct servo_connector_plugin *const wait_connector = &servo_connector_wait;
static const struct servo_connector_plugin *const scripts = &servo_connector_scripts;

static void test_exec(void **state)
{
    (void)state;
    struct exec_settings *s =
        load_valid(exec_connector, "exec:\n"
                                   "  measure: ./measure --json\n"
                                   "  components:\n"
                                   "    web:\n"
                                   "      settings:\n"
                                   "        cpu: {min: 0.25, max: 4, step: 0.125, unit: cores, "
                                   "value: '1'}\n"
                                   "        mode: {type: enum, values: [fast, slow], value: "
                                   "fast}\n"
                                   "  metrics:\n"
                                   "  - {name: throughput, unit: rpm}\n"
                                   "  - {name: errors}\n"
                                   "  environment: {TOKEN: x}\n");
    assert_null(s->describe);
    assert_string_equal(s->measure, "./measure --json");
    assert_int_equal(s->components.count, 1);
    const struct exec_component *web = s->components.values;
    assert_int_equal(web->settings.count, 2);
    const struct exec_setting *settings = web->settings.values;
    assert_int_equal(settings[0].type, EXEC_SETTING_RANGE);
    assert_int_equal(settings[1].type, EXEC_SETTING_ENUM);
    assert_int_equal(s->timeout, 5 * SERVO_MINUTE);

    char *json = settings_json_text(exec_connector, s, false);
    assert_contains(json, "\"describe\":null");
    assert_contains(json, "\"cpu\":{\"type\":\"range\",\"min\":0.25,\"max\":4.0,\"step\":0.125,"
                          "\"values\":[],\"unit\":\"cores\",\"pinned\":false,\"value\":\"1\"}");
    assert_contains(json, "{\"name\":\"errors\",\"unit\":\"\"}");
    assert_contains(json, "\"timeout\":\"5m\"");
    free(json);
    settings_free(exec_connector->settings, s);

    EXPECT_ERRORS(exec_connector,
                  "exec:\n"
                  "  working_dir: /srv\n",
                  "<string>:2:3: exec: at least one of describe, adjust, measure, components, "
                  "metrics or the servo-exec stages (pre, start, stop, post) is required");
    EXPECT_ERRORS(exec_connector,
                  "exec:\n"
                  "  components:\n"
                  "    web:\n"
                  "      settings:\n"
                  "        mode: {type: enum, values: [fast, slow], value: medium}\n"
                  "        cpu: {min: 4, max: 1, step: 1}\n"
                  "        mem: {type: enum, min: 1, values: [a]}\n",
                  "<string>:5:57: exec.components.web.settings.mode.value: value \"medium\" is "
                  "not one of the values",
                  "<string>:6:20: exec.components.web.settings.cpu.min: min (4) must not be "
                  "greater than max (1)",
                  "<string>:7:32: exec.components.web.settings.mem.min: min, max and step apply "
                  "to range settings only");
}

static void test_wait(void **state)
{
    (void)state;
    struct wait_settings *s = load_valid(wait_connector, "wait:\n  measure_enabled: true\n");
    assert_true(s->measure_enabled);
    char *json = settings_json_text(wait_connector, s, false);
    assert_string_equal(json, "{\"description\":null,\"measure_enabled\":true}");
    free(json);
    settings_free(wait_connector->settings, s);
    EXPECT_ERRORS(wait_connector, "wait:\n  description: x\n",
                  "<string>:2:3: wait.measure_enabled: field required");
}

static void test_scripts(void **state)
{
    (void)state;
    struct scripts_settings *s = load_valid(scripts, "scripts:\n"
                                                     "  before:\n"
                                                     "    measure: ./warm-up.sh\n"
                                                     "  after:\n"
                                                     "    measure: [echo one, echo two]\n"
                                                     "    adjust: []\n");
    assert_int_equal(s->before.count, 1);
    assert_string_equal(s->before.keys[0], "measure");
    const struct servo_list *before = s->before.values;
    assert_int_equal(before->count, 1);
    assert_string_equal(((char *const *)before->items)[0], "./warm-up.sh");
    assert_int_equal(s->on.count, 0);
    char *json = settings_json_text(scripts, s, false);
    assert_string_equal(json, "{\"description\":null,\"before\":{\"measure\":[\"./warm-up.sh\"]},"
                              "\"on\":{},\"after\":{\"measure\":[\"echo one\",\"echo two\"],"
                              "\"adjust\":[]}}");
    free(json);
    settings_free(scripts->settings, s);

    EXPECT_ERRORS(scripts,
                  "scripts:\n"
                  "  on:\n"
                  "    measure: ./m\n"
                  "    mesure: ./m\n"
                  "    before:adjust: ./a\n",
                  "<string>:4:13: scripts.on.mesure: unknown event \"mesure\" (expected one of: "
                  "attach, detach, startup, shutdown, metrics, components, check, describe, "
                  "measure, adjust, promote)",
                  "<string>:5:20: scripts.on.before:adjust: unknown event \"before:adjust\" "
                  "(expected one of: attach, detach, startup, shutdown, metrics, components, "
                  "check, describe, measure, adjust, promote)");
    EXPECT_ERRORS(scripts,
                  "scripts:\n"
                  "  after:\n"
                  "    measure: ['']\n",
                  "<string>:3:15: scripts.after.measure[0]: must not be empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_are_listed_in_order),
        cmocka_unit_test(test_tables_are_sound),
        cmocka_unit_test(test_generated_stanzas_validate),
        cmocka_unit_test(test_vegeta_metadata),
        cmocka_unit_test(test_vegeta_valid),
        cmocka_unit_test(test_vegeta_targets_file),
        cmocka_unit_test(test_vegeta_invalid),
        cmocka_unit_test(test_prometheus_valid),
        cmocka_unit_test(test_prometheus_invalid),
        cmocka_unit_test(test_kubernetes_valid),
        cmocka_unit_test(test_kubernetes_invalid),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_scripts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
