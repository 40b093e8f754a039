/* The assembly: routing (implicit, list, alias map), reserved and foreign keys, the
 * environment overlay and its precedence, command-line overrides, multi-servo documents and
 * servo naming, `servo config` output, and the settings connectors receive. Every case loads
 * text through assembly_load_text with a fake environment and only the built-in connectors. */
#include "support.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assembly/assembly.h"
#include "assembly/registry.h"
#include "assembly/servo_settings.h"
#include "config/diag.h"
#include "config/env.h"
#include "servo/connector.h"
#include "servo/types.h"

#include "../../connectors/prometheus/prometheus.h"
#include "../../connectors/vegeta/vegeta.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define FOREIGN_HINT " (use --allow-unknown or `extra: ignore` to ignore foreign keys)"

/* A vegeta stanza body and a prometheus one that validate. */
#define VEGETA_OK "{rate: 50/1s, target: GET https://example.com/}"
#define PROM_OK "{metrics: [{name: up, query: up}]}"

/* ---- a fake environment ---------------------------------------------------------------- */

#define ENV_MAX 32

struct fake_env {
    const char *names[ENV_MAX];
    const char *values[ENV_MAX];
    size_t count;
};

static const char *fake_get(void *context, const char *name)
{
    const struct fake_env *e = context;
    for (size_t i = 0; i < e->count; i++)
        if (strcmp(e->names[i], name) == 0)
            return e->values[i];
    return NULL;
}

/* Sets `name` (NULL `value`: unsets it). */
static void env_put(struct fake_env *e, const char *name, const char *value)
{
    for (size_t i = 0; i < e->count; i++) {
        if (strcmp(e->names[i], name) != 0)
            continue;
        if (value != NULL) {
            e->values[i] = value;
        } else {
            e->count--;
            e->names[i] = e->names[e->count];
            e->values[i] = e->values[e->count];
        }
        return;
    }
    if (value == NULL)
        return;
    assert_true(e->count < ENV_MAX);
    e->names[e->count] = name;
    e->values[e->count] = value;
    e->count++;
}

/* ---- fixture --------------------------------------------------------------------------- */

static struct registry registry;
/* "exec, kubernetes, ...": every connector, as "no connector found" lists them */
static char available[1024];

/* printf into one of a few rotating buffers, for expected messages built at run time */
static const char *fmt(const char *format, ...) SERVO_PRINTF(1, 2);

static const char *fmt(const char *format, ...)
{
    static char buffers[4][2048];
    static size_t next;
    char *buf = buffers[next++ % 4];
    va_list ap;
    va_start(ap, format);
    vsnprintf(buf, sizeof buffers[0], format, ap);
    va_end(ap);
    return buf;
}

/* "description, rate, ...": a table's fields, as "unknown key" lists them */
static const char *field_names(const struct servo_schema *schema)
{
    static char buf[1024];
    buf[0] = '\0';
    for (const struct servo_field *f = schema->fields; f->name; f++) {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, "%s%s", f == schema->fields ? "" : ", ", f->name);
    }
    return buf;
}

struct world {
    struct fake_env env;
    struct env_lookup lookup;
    struct assembly_options options;
    struct assembly assembly;
    struct servo_diags diags;
    bool loaded;
};

static int setup_registry(void **state)
{
    (void)state;
    struct servo_diags diags;
    diags_init(&diags);
    int rc = registry_init(&registry, "", "", &diags);
    if (rc != 0 || diags.count != 0) {
        diags_print(&diags, stderr, "registry: ");
        diags_free(&diags);
        return -1;
    }
    diags_free(&diags);
    for (size_t i = 0; i < registry.count; i++) {
        size_t used = strlen(available);
        snprintf(available + used, sizeof available - used, "%s%s", i ? ", " : "",
                 registry.entries[i].plugin->name);
    }
    return 0;
}

static int teardown_registry(void **state)
{
    (void)state;
    registry_free(&registry);
    return 0;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -1;
    w->lookup = (struct env_lookup){.get = fake_get, .context = &w->env};
    w->options = (struct assembly_options){.config_file = "servo.yaml", .env = &w->lookup};
    diags_init(&w->diags);
    *state = w;
    return 0;
}

static void reset(struct world *w)
{
    if (w->loaded)
        assembly_free(&w->assembly);
    w->loaded = false;
    diags_free(&w->diags);
}

static int teardown(void **state)
{
    struct world *w = *state;
    reset(w);
    free(w);
    return 0;
}

static void print_diags(const struct servo_diags *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        char *line = diag_format(&diags->items[i]);
        print_message("  diagnostic %zu: %s\n", i, line);
        free(line);
    }
}

/* Loads `text` as servo.yaml; returns the rc. Earlier results are freed first. */
static int load(struct world *w, const char *text)
{
    reset(w);
    int rc = assembly_load_text(&w->assembly, &registry, text, strlen(text), "servo.yaml",
                                &w->options, &w->diags);
    w->loaded = rc == 0;
    if (rc == 0) {
        /* a success has no diagnostics and at least one servo */
        if (w->diags.count != 0)
            print_diags(&w->diags);
        assert_int_equal(w->diags.count, 0);
        assert_true(w->assembly.count >= 1);
    } else {
        assert_int_equal(w->assembly.count, 0);
        assert_null(w->assembly.servos);
    }
    return rc;
}

static void load_ok(struct world *w, const char *text)
{
    if (load(w, text) != 0) {
        print_message("unexpected failure loading:\n%s\n", text);
        print_diags(&w->diags);
        fail();
    }
}

/* Fails unless loading `text` fails with exactly `expected` (formatted diagnostics). */
static void load_fails(struct world *w, const char *text, const char *const *expected, size_t count)
{
    int rc = load(w, text);
    bool same = rc != 0 && w->diags.count == count;
    for (size_t i = 0; same && i < count; i++) {
        char *line = diag_format(&w->diags.items[i]);
        same = strcmp(line, expected[i]) == 0;
        free(line);
    }
    if (!same) {
        print_message("loading:\n%s\nrc %d; expected %zu diagnostics:\n", text, rc, count);
        for (size_t i = 0; i < count; i++)
            print_message("  expected %zu: %s\n", i, expected[i]);
        print_diags(&w->diags);
        fail();
    }
}

#define FAILS(w, text, ...)                                   \
    do {                                                      \
        const char *const expected_[] = {__VA_ARGS__};        \
        load_fails((w), (text), expected_, COUNT(expected_)); \
    } while (0)

static const struct servo_config *only_servo(struct world *w)
{
    assert_int_equal(w->assembly.count, 1);
    const struct servo_config *servo = assembly_find(&w->assembly, NULL);
    assert_non_null(servo);
    return servo;
}

/* The instance names of the only servo, comma-separated, as "name=connector". */
static char *instances(struct world *w)
{
    const struct servo_config *servo = only_servo(w);
    static char buf[512];
    buf[0] = '\0';
    for (size_t i = 0; i < servo->connector_count; i++) {
        const struct servo_connector *c = &servo->connectors[i];
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof buf - used, "%s%s=%s", i ? "," : "", c->name, c->plugin->name);
    }
    return buf;
}

static const struct servo_connector *instance(struct world *w, const char *name)
{
    const struct servo_config *servo = only_servo(w);
    for (size_t i = 0; i < servo->connector_count; i++)
        if (strcmp(servo->connectors[i].name, name) == 0)
            return &servo->connectors[i];
    print_message("no instance named %s\n", name);
    fail();
    return NULL;
}

static const struct vegeta_settings *vegeta(struct world *w, const char *name)
{
    const struct servo_connector *c = instance(w, name);
    assert_string_equal(c->plugin->name, "vegeta");
    return servo_connector_settings(c);
}

static const struct prometheus_settings *prometheus(struct world *w, const char *name)
{
    const struct servo_connector *c = instance(w, name);
    assert_string_equal(c->plugin->name, "prometheus");
    return servo_connector_settings(c);
}

static char *rate_text(const struct servo_rate *rate)
{
    static char buf[SERVO_VALUE_TEXT_MAX];
    servo_rate_format(rate, buf);
    return buf;
}

static void test_builtins_available(void **state)
{
    (void)state;
    static const char *const builtins[][2] = {
        {"exec", "ExecConnector"},
        {"kubernetes", "KubernetesConnector"},
        {"prometheus", "PrometheusConnector"},
        {"scripts", "ScriptsConnector"},
        {"vegeta", "VegetaConnector"},
        {"wait", "WaitConnector"},
    };
    for (size_t i = 0; i < COUNT(builtins); i++) {
        const struct registry_entry *by_name = registry_find(&registry, builtins[i][0]);
        assert_non_null(by_name);
        assert_ptr_equal(registry_find(&registry, builtins[i][1]), by_name);
        assert_null(by_name->origin);
    }
    assert_null(registry_find(&registry, "Vegeta"));
}

/* ---- routing: implicit ----------------------------------------------------------------- */

static void test_implicit_routes_present_keys(void **state)
{
    struct world *w = *state;
    load_ok(w, "vegeta: " VEGETA_OK "\nprometheus: " PROM_OK "\n");
    const struct servo_config *servo = only_servo(w);
    assert_int_equal(servo->routing, ROUTING_IMPLICIT);
    /* registry order, not document order */
    assert_string_equal(instances(w), "prometheus=prometheus,vegeta=vegeta");
    assert_ptr_equal(servo->connectors[1].plugin, &servo_connector_vegeta);
    assert_null(servo->connectors[1].origin);
    assert_string_equal(servo->name, "servo");
    assert_int_equal(servo->line, 1);
}

static void test_implicit_nothing_present(void **state)
{
    struct world *w = *state;
    static const char *const texts[] = {"",      "{}\n", "# only a comment\n",
                                        "---\n", "~\n",  "description: nothing routed\n"};
    for (size_t i = 0; i < COUNT(texts); i++) {
        load_ok(w, texts[i]);
        const struct servo_config *servo = only_servo(w);
        assert_int_equal(servo->routing, ROUTING_IMPLICIT);
        assert_int_equal(servo->connector_count, 0);
        assert_string_equal(servo->name, "servo");
    }
}

static void test_implicit_stanza_is_validated(void **state)
{
    struct world *w = *state;
    FAILS(w, "vegeta: {target: GET https://example.com/}\n",
          "servo.yaml:1:9: vegeta.rate: field required");
    /* a key with no value activates the connector too: its required fields are missing */
    FAILS(w, "wait:\n", "servo.yaml:1:6: wait.measure_enabled: field required");
    FAILS(w, "wait: {measure_enabled: sometimes}\n",
          "servo.yaml:1:25: wait.measure_enabled: invalid boolean \"sometimes\": expected true "
          "or false");
    FAILS(w, "vegeta: 50/1s\n", "servo.yaml:1:9: vegeta: expected a mapping, got a scalar");
    FAILS(w, "vegeta: {rate: 50/1s}\n",
          "servo.yaml:1:9: vegeta: one of target or targets is required");
    FAILS(w, "vegeta: {rate: 50/1s, target: GET https://example.com/, targets: /nonexistent}\n",
          "servo.yaml:1:66: vegeta.targets: file \"/nonexistent\" does not exist");
    FAILS(w, "prometheus: {}\n", "servo.yaml:1:13: prometheus.metrics: field required");
}

static void test_implicit_wait(void **state)
{
    struct world *w = *state;
    load_ok(w, "wait: {measure_enabled: true}\n");
    assert_string_equal(instances(w), "wait=wait");
}

/* ---- routing: list --------------------------------------------------------------------- */

static void test_list_routes_only_those(void **state)
{
    struct world *w = *state;
    load_ok(w, "connectors: [prometheus, VegetaConnector]\n"
               "vegeta: " VEGETA_OK "\nprometheus: " PROM_OK "\n");
    assert_int_equal(only_servo(w)->routing, ROUTING_LIST);
    /* list order; a class name routes at the default key */
    assert_string_equal(instances(w), "prometheus=prometheus,vegeta=vegeta");
    load_ok(w, "connectors:\n- wait\nwait: {measure_enabled: false}\n");
    assert_string_equal(instances(w), "wait=wait");
}

static void test_list_requires_each_stanza(void **state)
{
    struct world *w = *state;
    FAILS(w, "connectors: [vegeta, prometheus]\nvegeta: " VEGETA_OK "\n",
          "servo.yaml:1:22: prometheus: connector \"prometheus\" is routed in `connectors` but "
          "the document has no \"prometheus\" stanza");
    FAILS(w, "connectors:\n  - vegeta\n  - WaitConnector\n",
          "servo.yaml:2:5: vegeta: connector \"vegeta\" is routed in `connectors` but the "
          "document has no \"vegeta\" stanza",
          "servo.yaml:3:5: wait: connector \"wait\" is routed in `connectors` but the document "
          "has no \"wait\" stanza");
    /* an empty stanza is present: its own errors are reported instead */
    FAILS(w, "connectors: [wait]\nwait:\n", "servo.yaml:2:6: wait.measure_enabled: field required");
}

static void test_list_refuses_others(void **state)
{
    struct world *w = *state;
    FAILS(w, "connectors: [vegeta]\nvegeta: " VEGETA_OK "\nprometheus: " PROM_OK "\n",
          "servo.yaml:3:1: prometheus: unknown top-level key \"prometheus\": not a servo setting "
          "nor an instance named in `connectors`" FOREIGN_HINT);
}

static void test_empty_list_disables_all(void **state)
{
    struct world *w = *state;
    load_ok(w, "connectors: []\n");
    assert_int_equal(only_servo(w)->routing, ROUTING_LIST);
    assert_int_equal(only_servo(w)->connector_count, 0);
    FAILS(w, "connectors: []\nwait: {measure_enabled: true}\n",
          "servo.yaml:2:1: wait: unknown top-level key \"wait\": not a servo setting nor an "
          "instance named in `connectors`" FOREIGN_HINT);
    w->options.allow_unknown = true;
    load_ok(w, "connectors: []\nwait: {measure_enabled: true}\n");
    assert_int_equal(only_servo(w)->connector_count, 0);
}

static void test_null_connectors_is_implicit(void **state)
{
    struct world *w = *state;
    load_ok(w, "connectors:\nwait: {measure_enabled: true}\n");
    assert_int_equal(only_servo(w)->routing, ROUTING_IMPLICIT);
    assert_string_equal(instances(w), "wait=wait");
}

static void test_list_errors(void **state)
{
    struct world *w = *state;
    FAILS(w, "connectors: [vegeta, nope]\nvegeta: " VEGETA_OK "\n",
          fmt("servo.yaml:1:22: connectors: no connector found for the identifier \"nope\" "
              "(available: %s)",
              available));
    FAILS(w, "connectors: [vegeta, VegetaConnector]\nvegeta: " VEGETA_OK "\n",
          "servo.yaml:1:22: connectors: connector \"vegeta\" is listed twice; use the mapping "
          "form (connectors: {alias: vegeta}) for several instances");
    FAILS(w, "connectors: [[vegeta]]\n",
          "servo.yaml:1:14: connectors: expected a connector name, got a sequence");
    FAILS(w, "connectors: vegeta\nvegeta: " VEGETA_OK "\n",
          "servo.yaml:1:13: connectors: expected a list of connector names or a mapping of "
          "instance name to connector, got a scalar");
    /* a refused entry's stanza is not also called a foreign key */
    FAILS(w, "connectors: [wait, nope]\nwait: {measure_enabled: true}\nnope: {a: 1}\n",
          fmt("servo.yaml:1:20: connectors: no connector found for the identifier \"nope\" "
              "(available: %s)",
              available));
    /* ... while a routed entry's identifier is no key: only the instance name is */
    FAILS(w, "connectors: [VegetaConnector]\nvegeta: " VEGETA_OK "\nVegetaConnector: {}\n",
          "servo.yaml:3:1: VegetaConnector: unknown top-level key \"VegetaConnector\": not a "
          "servo setting nor an instance named in `connectors`" FOREIGN_HINT);
    /* identifiers are exact */
    FAILS(w, "connectors: [Vegeta]\n",
          fmt("servo.yaml:1:14: connectors: no connector found for the identifier \"Vegeta\" "
              "(available: %s)",
              available));
}

/* ---- routing: alias map ---------------------------------------------------------------- */

static void test_map_several_instances(void **state)
{
    struct world *w = *state;
    load_ok(w, "connectors: {prom1: prometheus, prom2: PrometheusConnector}\n"
               "prom1: {metrics: [{name: a, query: up}]}\n"
               "prom2: {base_url: 'http://other:9090', metrics: [{name: b, query: up}]}\n");
    assert_int_equal(only_servo(w)->routing, ROUTING_MAP);
    assert_string_equal(instances(w), "prom1=prometheus,prom2=prometheus");
    const struct prometheus_settings *p1 = prometheus(w, "prom1");
    const struct prometheus_settings *p2 = prometheus(w, "prom2");
    assert_string_equal(p1->base_url, "https://prometheus:9090");
    assert_string_equal(p2->base_url, "http://other:9090");
    assert_int_equal(p1->metrics.count, 1);
    assert_string_equal(((const struct prometheus_metric *)p1->metrics.items)[0].name, "a");
    assert_string_equal(((const struct prometheus_metric *)p2->metrics.items)[0].name, "b");
}

static void test_map_each_stanza_validated(void **state)
{
    struct world *w = *state;
    FAILS(w,
          "connectors: {prom1: prometheus, prom2: prometheus}\n"
          "prom1: " PROM_OK "\n"
          "prom2: {base_url: nowhere}\n",
          "servo.yaml:3:19: prom2.base_url: invalid URL \"nowhere\": missing scheme (expected "
          "http:// or https://)",
          "servo.yaml:3:8: prom2.metrics: field required");
    FAILS(w, "connectors: {prom1: prometheus, prom2: prometheus}\nprom1: " PROM_OK "\n",
          "servo.yaml:1:40: prom2: connector \"prometheus\" is routed in `connectors` but the "
          "document has no \"prom2\" stanza");
    /* the default key of the same connector is allowed as an alias */
    load_ok(w, "connectors: {vegeta: VegetaConnector, load2: vegeta}\n"
               "vegeta: " VEGETA_OK "\nload2: {rate: 5, target: GET http://b/}\n");
    assert_string_equal(instances(w), "vegeta=vegeta,load2=vegeta");
    assert_string_equal(rate_text(&vegeta(w, "load2")->rate), "5/1s");
}

static void test_map_reserved_names(void **state)
{
    struct world *w = *state;
    static const char *const reserved[] = {
        "connectors", "optimizer",      "settings", "checks",  "name",   "description", "servo_uid",
        "extra",      "no_diagnostics", "control",  "measure", "adjust", "optimization"};
    for (size_t i = 0; i < COUNT(reserved); i++) {
        char text[256], message[256];
        snprintf(text, sizeof text, "connectors: {%s: wait}\n", reserved[i]);
        snprintf(message, sizeof message, "servo.yaml:1:14: connectors.%s: name \"%s\" is reserved",
                 reserved[i], reserved[i]);
        const char *const expected[] = {message};
        load_fails(w, text, expected, 1);
    }
    FAILS(w, "connectors: {vegeta: prometheus}\nvegeta: " PROM_OK "\n",
          "servo.yaml:1:14: connectors.vegeta: name \"vegeta\" is reserved by VegetaConnector");
    FAILS(w,
          "connectors:\n  ok1: wait\n  kubernetes: WaitConnector\nok1: {measure_enabled: true}\n",
          "servo.yaml:3:3: connectors.kubernetes: name \"kubernetes\" is reserved by "
          "KubernetesConnector");
}

static void test_map_alias_names(void **state)
{
    struct world *w = *state;
    FAILS(w, "connectors: {ab: wait}\n",
          "servo.yaml:1:14: connectors.ab: invalid instance name \"ab\": use 3 to 128 letters, "
          "digits or -_/.");
    FAILS(w, "connectors: {'wait two': wait}\n",
          "servo.yaml:1:14: connectors.wait two: invalid instance name \"wait two\": use 3 to "
          "128 letters, digits or -_/.");
    FAILS(w, "connectors: {w1: nope}\n",
          fmt("servo.yaml:1:18: connectors: no connector found for the identifier \"nope\" "
              "(available: %s)",
              available));
    FAILS(w, "connectors: {w1x: [wait]}\n",
          "servo.yaml:1:19: connectors: expected a connector name, got a sequence");
    /* the longest valid name and the odd characters allowed */
    char name[129];
    memset(name, 'n', 128);
    name[128] = '\0';
    char text[512];
    snprintf(text, sizeof text,
             "connectors: {%s: wait, a-b/c.d_e: wait}\n%s: {measure_enabled: true}\n"
             "a-b/c.d_e: {measure_enabled: false}\n",
             name, name);
    load_ok(w, text);
    assert_int_equal(only_servo(w)->connector_count, 2);
    snprintf(text, sizeof text, "connectors: {%sn: wait}\n", name);
    assert_int_equal(load(w, text), -1);
    assert_non_null(strstr(w->diags.items[0].message, "use 3 to 128 letters"));
}

static void test_map_env_collisions(void **state)
{
    struct world *w = *state;
    /* two names, one environment prefix */
    FAILS(w, "connectors: {prom-1: prometheus, prom_1: prometheus}\nprom-1: " PROM_OK "\n",
          "servo.yaml:1:34: connectors.prom_1: instances \"prom-1\" and \"prom_1\" would share "
          "the environment variables SERVO_PROM_1_*");
    /* names whose SERVO_<KEY> the servo reads itself */
    static const char *const cases[][2] = {
        {"log_level", "SERVO_LOG_LEVEL"},
        {"config-file", "SERVO_CONFIG_FILE"},
        {"plugin_path", "SERVO_PLUGIN_PATH"},
        {"no.color", "SERVO_NO_COLOR"},
        {"Optimizer", "SERVO_OPTIMIZER"},
        {"optimizer_token", "SERVO_OPTIMIZER_TOKEN"},
        {"settings_timeouts_read", "SERVO_SETTINGS_TIMEOUTS_READ"},
        {"checks-quiet", "SERVO_CHECKS_QUIET"},
        {"uid", "SERVO_UID"},
        {"SERVO_UID", "SERVO_SERVO_UID"},
        {"Connectors", "SERVO_CONNECTORS"},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char text[256], message[256];
        snprintf(text, sizeof text, "connectors: {%s: wait}\n", cases[i][0]);
        snprintf(message, sizeof message,
                 "servo.yaml:1:14: connectors.%s: name \"%s\" is reserved: the servo reads %s "
                 "itself",
                 cases[i][0], cases[i][0], cases[i][1]);
        const char *const expected[] = {message};
        load_fails(w, text, expected, 1);
    }
    /* what is left is fine */
    load_ok(w, "connectors: {description_x: wait, name_x: wait, optimizers: wait}\n"
               "description_x: {measure_enabled: true}\nname_x: {measure_enabled: true}\n"
               "optimizers: {measure_enabled: true}\n");
    assert_int_equal(only_servo(w)->connector_count, 3);
}

/* ---- foreign keys ---------------------------------------------------------------------- */

static void test_foreign_keys(void **state)
{
    struct world *w = *state;
    FAILS(w, "description: x\nfoo: 1\nwait: {measure_enabled: true}\n  \nbar: {baz: 2}\n",
          "servo.yaml:2:1: foo: unknown top-level key \"foo\": not a servo setting nor the key "
          "of an available connector" FOREIGN_HINT,
          "servo.yaml:5:1: bar: unknown top-level key \"bar\": not a servo setting nor the key "
          "of an available connector" FOREIGN_HINT);
    /* a connector error and a foreign key are both reported */
    FAILS(w, "vegeta: {rate: x, target: GET http://a/}\nprom1: " PROM_OK "\n",
          "servo.yaml:2:1: prom1: unknown top-level key \"prom1\": not a servo setting nor the "
          "key of an available connector" FOREIGN_HINT,
          "servo.yaml:1:16: vegeta.rate: invalid rate \"x\": hits must be a non-negative integer");
}

static void test_foreign_keys_allowed(void **state)
{
    struct world *w = *state;
    const char *text = "foo: 1\nwait: {measure_enabled: true}\nbar: [x]\n";
    w->options.allow_unknown = true;
    load_ok(w, text);
    assert_string_equal(instances(w), "wait=wait");
    w->options.allow_unknown = false;
    load_ok(w, "extra: ignore\nfoo: 1\nwait: {measure_enabled: true}\nbar: [x]\n");
    assert_string_equal(instances(w), "wait=wait");
    assert_int_equal(only_servo(w)->settings->extra, EXTRA_IGNORE);
    FAILS(w, "extra: forbid\nfoo: 1\n",
          "servo.yaml:2:1: foo: unknown top-level key \"foo\": not a servo setting nor the key "
          "of an available connector" FOREIGN_HINT);
    FAILS(w, "extra: sometimes\n",
          "servo.yaml:1:8: extra: \"sometimes\" is not one of: forbid, ignore");
    /* the environment sets `extra` like any other field, and beats the file */
    env_put(&w->env, "SERVO_EXTRA", "ignore");
    load_ok(w, "foo: 1\n");
    assert_int_equal(only_servo(w)->settings->extra, EXTRA_IGNORE);
    env_put(&w->env, "SERVO_EXTRA", "forbid");
    FAILS(w, "extra: ignore\nfoo: 1\n",
          "servo.yaml:2:1: foo: unknown top-level key \"foo\": not a servo setting nor the key "
          "of an available connector" FOREIGN_HINT);
}

static void test_document_must_be_a_mapping(void **state)
{
    struct world *w = *state;
    FAILS(w, "- vegeta\n- prometheus\n",
          "servo.yaml:1:1: a servo configuration must be a mapping, got a sequence");
    FAILS(w, "just text\n",
          "servo.yaml:1:1: a servo configuration must be a mapping, got a scalar");
}

/* ---- environment: per field ------------------------------------------------------------ */

static void test_env_per_field(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_VEGETA_RATE", "7/1m");
    env_put(&w->env, "SERVO_VEGETA_WORKERS", "3");
    env_put(&w->env, "SERVO_VEGETA_HTTP2", "false");
    env_put(&w->env, "SERVO_VEGETA_REPORTING_INTERVAL", "2s");
    load_ok(w, "vegeta: {target: GET https://example.com/}\n");
    const struct vegeta_settings *v = vegeta(w, "vegeta");
    assert_string_equal(rate_text(&v->rate), "7/1m");
    assert_int_equal(v->workers, 3);
    assert_false(v->http2);
    assert_int_equal(v->reporting_interval, 2 * SERVO_SECOND);
    /* a per-field variable does not activate a connector by itself */
    load_ok(w, "wait: {measure_enabled: true}\n");
    assert_string_equal(instances(w), "wait=wait");
}

static void test_env_per_field_alias_and_nested(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_PROM1_BASE_URL", "http://prom1:9090");
    env_put(&w->env, "SERVO_PROM_2_X_BASE_URL", "http://prom2:9090");
    env_put(&w->env, "SERVO_PROM1_FAST_FAIL_PERIOD", "5m");
    env_put(&w->env, "SERVO_PROMETHEUS_BASE_URL", "http://unused:9090");
    load_ok(w, "connectors: {prom1: prometheus, prom-2.x: prometheus}\n"
               "prom1: " PROM_OK "\nprom-2.x: " PROM_OK "\n");
    assert_string_equal(prometheus(w, "prom1")->base_url, "http://prom1:9090");
    assert_string_equal(prometheus(w, "prom-2.x")->base_url, "http://prom2:9090");
    assert_int_equal(prometheus(w, "prom1")->fast_fail.period, 5 * SERVO_MINUTE);
    assert_int_equal(prometheus(w, "prom-2.x")->fast_fail.period, SERVO_MINUTE);
    /* a container field takes JSON */
    env_put(&w->env, "SERVO_PROM1_METRICS",
            "[{\"name\": \"x\", \"query\": \"sum(up)\"}, "
            "{\"name\": \"y\", \"query\": \"up\", \"unit\": \"rps\"}]");
    load_ok(w, "connectors: {prom1: prometheus}\nprom1: " PROM_OK "\n");
    const struct prometheus_settings *p = prometheus(w, "prom1");
    assert_int_equal(p->metrics.count, 2);
    const struct prometheus_metric *m = p->metrics.items;
    assert_string_equal(m[0].query, "sum(up)");
    assert_string_equal(m[1].name, "y");
}

static void test_env_prefix(void **state)
{
    (void)state;
    static const char *const cases[][2] = {{"vegeta", "SERVO_VEGETA"},
                                           {"prom-2.x", "SERVO_PROM_2_X"},
                                           {"a/b", "SERVO_A_B"},
                                           {"kube_metrics", "SERVO_KUBE_METRICS"},
                                           {"Mixed9", "SERVO_MIXED9"}};
    for (size_t i = 0; i < COUNT(cases); i++) {
        char *prefix = assembly_env_prefix(cases[i][0]);
        assert_string_equal(prefix, cases[i][1]);
        free(prefix);
    }
}

static void test_env_bad_values_name_the_variable(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_VEGETA_RATE", "fifty");
    FAILS(w, "vegeta: " VEGETA_OK "\n",
          "$SERVO_VEGETA_RATE: vegeta.rate: invalid rate \"fifty\": hits must be a non-negative "
          "integer");
    env_put(&w->env, "SERVO_VEGETA_RATE", NULL);
    env_put(&w->env, "SERVO_VEGETA_WORKERS", "0");
    FAILS(w, "vegeta: " VEGETA_OK "\n",
          "$SERVO_VEGETA_WORKERS: vegeta.workers: the value must be at least 1");
    env_put(&w->env, "SERVO_VEGETA_WORKERS", NULL);
    env_put(&w->env, "SERVO_VEGETA_KEEPALIVE", "maybe");
    FAILS(w, "vegeta: " VEGETA_OK "\n",
          "$SERVO_VEGETA_KEEPALIVE: vegeta.keepalive: invalid boolean \"maybe\": expected true or "
          "false");
    env_put(&w->env, "SERVO_VEGETA_KEEPALIVE", NULL);
    env_put(&w->env, "SERVO_PROMETHEUS_METRICS", "[{\"name\": ");
    FAILS(w, "prometheus: " PROM_OK "\n",
          "$SERVO_PROMETHEUS_METRICS:1:10: prometheus.metrics: invalid JSON: unexpected token "
          "near end of file");
    env_put(&w->env, "SERVO_PROMETHEUS_METRICS", "[{\"name\": \"a\"}]");
    FAILS(w, "prometheus: " PROM_OK "\n",
          "$SERVO_PROMETHEUS_METRICS: prometheus.metrics[0].query: field required");
    env_put(&w->env, "SERVO_PROMETHEUS_METRICS", NULL);
    env_put(&w->env, "SERVO_NO_DIAGNOSTICS", "perhaps");
    FAILS(w, "",
          "$SERVO_NO_DIAGNOSTICS: no_diagnostics: invalid boolean \"perhaps\": expected "
          "true or false");
}

/* ---- environment: whole stanza --------------------------------------------------------- */

static void test_env_whole_stanza(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_VEGETA", "{\"rate\": \"50/1s\", \"workers\": 4}");
    load_ok(w, "vegeta: {target: GET https://example.com/, workers: 2, connections: 9}\n");
    const struct vegeta_settings *v = vegeta(w, "vegeta");
    assert_string_equal(rate_text(&v->rate), "50/1s");
    assert_int_equal(v->workers, 4);     /* the variable beats the file */
    assert_int_equal(v->connections, 9); /* the file's other keys stay */
    /* the stanza in the environment alone activates the connector */
    env_put(&w->env, "SERVO_VEGETA", "{\"rate\": 9, \"target\": \"GET http://x/\"}");
    load_ok(w, "");
    assert_string_equal(instances(w), "vegeta=vegeta");
    assert_string_equal(rate_text(&vegeta(w, "vegeta")->rate), "9/1s");
    /* ... and satisfies the list form */
    load_ok(w, "connectors: [vegeta]\n");
    assert_string_equal(instances(w), "vegeta=vegeta");
    /* ... and the mapping form, under the instance's own name */
    env_put(&w->env, "SERVO_PROM_2_X", "{\"metrics\": [{\"name\": \"m\", \"query\": \"up\"}]}");
    load_ok(w, "connectors: {prom-2.x: prometheus}\n");
    assert_string_equal(instances(w), "prom-2.x=prometheus");
    assert_int_equal(prometheus(w, "prom-2.x")->metrics.count, 1);
    /* a null stanza in the file is replaced */
    load_ok(w, "vegeta:\n");
    assert_string_equal(rate_text(&vegeta(w, "vegeta")->rate), "9/1s");
}

static void test_env_whole_stanza_deep_merge(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_PROMETHEUS",
            "{\"fast_fail\": {\"period\": \"5m\"}, \"metrics\": [{\"name\": \"n\", \"query\": "
            "\"q\"}]}");
    load_ok(w, "prometheus:\n  fast_fail: {skip: 30s}\n  metrics: [{name: a, query: up}, "
               "{name: b, query: up}]\n");
    const struct prometheus_settings *p = prometheus(w, "prometheus");
    assert_int_equal(p->fast_fail.period, 5 * SERVO_MINUTE);
    assert_int_equal(p->fast_fail.skip, 30 * SERVO_SECOND);
    /* lists replace */
    assert_int_equal(p->metrics.count, 1);
    assert_string_equal(((const struct prometheus_metric *)p->metrics.items)[0].name, "n");
}

static void test_env_whole_stanza_errors(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_VEGETA", "[1, 2]");
    FAILS(w, "", "$SERVO_VEGETA: vegeta: expected a JSON object, got a sequence");
    env_put(&w->env, "SERVO_VEGETA", "50");
    FAILS(w, "", "$SERVO_VEGETA: vegeta: expected a JSON object, got a scalar");
    env_put(&w->env, "SERVO_VEGETA", "\"rate\"");
    FAILS(w, "", "$SERVO_VEGETA: vegeta: expected a JSON object, got a string");
    env_put(&w->env, "SERVO_VEGETA", "rate=50");
    FAILS(w, "", "$SERVO_VEGETA:1:4: vegeta: invalid JSON: invalid token near 'rate'");
    env_put(&w->env, "SERVO_VEGETA", "{\"rate\": 1, \"rate\": 2}");
    FAILS(w, "", "$SERVO_VEGETA:1:18: vegeta: invalid JSON: duplicate object key near '\"rate\"'");
    env_put(&w->env, "SERVO_VEGETA",
            "{\"rate\": \"50/1s\", \"target\": \"GET http://a/\", "
            "\"speed\": 3}");
    FAILS(w, "",
          fmt("$SERVO_VEGETA: vegeta.speed: unknown key \"speed\" (allowed: %s)",
              field_names(servo_connector_vegeta.settings)));
    env_put(&w->env, "SERVO_VEGETA", "{\"rate\": \"fast\", \"target\": \"GET http://a/\"}");
    FAILS(w, "vegeta: " VEGETA_OK "\n",
          "$SERVO_VEGETA: vegeta.rate: invalid rate \"fast\": hits must be a non-negative "
          "integer");
}

/* ---- environment: precedence ----------------------------------------------------------- */

static void test_precedence_connector_field(void **state)
{
    struct world *w = *state;
    static const struct config_override flag = {"vegeta.workers", "14"};
    const char *with_file = "vegeta: {rate: 1, target: GET http://a/, workers: 11}\n";
    const char *without = "vegeta: {rate: 1, target: GET http://a/}\n";
    env_put(&w->env, "SERVO_VEGETA", "{\"workers\": 12}");
    env_put(&w->env, "SERVO_VEGETA_WORKERS", "13");
    w->options.overrides = &flag;
    w->options.override_count = 1;
    load_ok(w, with_file);
    assert_int_equal(vegeta(w, "vegeta")->workers, 14); /* command line */
    w->options.override_count = 0;
    load_ok(w, with_file);
    assert_int_equal(vegeta(w, "vegeta")->workers, 13); /* per-field variable */
    env_put(&w->env, "SERVO_VEGETA_WORKERS", NULL);
    load_ok(w, with_file);
    assert_int_equal(vegeta(w, "vegeta")->workers, 12); /* whole-stanza variable */
    env_put(&w->env, "SERVO_VEGETA", NULL);
    load_ok(w, with_file);
    assert_int_equal(vegeta(w, "vegeta")->workers, 11); /* file */
    load_ok(w, without);
    assert_int_equal(vegeta(w, "vegeta")->workers, 10); /* default */
    /* each level beats the file even when the ones above it are absent */
    w->options.override_count = 1;
    load_ok(w, with_file);
    assert_int_equal(vegeta(w, "vegeta")->workers, 14);
    w->options.override_count = 0;
    env_put(&w->env, "SERVO_VEGETA_WORKERS", "13");
    load_ok(w, with_file);
    assert_int_equal(vegeta(w, "vegeta")->workers, 13);
}

static void test_precedence_optimizer(void **state)
{
    struct world *w = *state;
    static const struct config_override flag = {"optimizer.base_url", "https://flag.test"};
    const char *with_file = "optimizer: {id: example.com/app, base_url: 'https://file.test'}\n";
    env_put(&w->env, "SERVO_OPTIMIZER", "{\"base_url\": \"https://stanza.test\"}");
    env_put(&w->env, "OPSANI_BASE_URL", "https://opsani.test");
    env_put(&w->env, "SERVO_OPTIMIZER_BASE_URL", "https://servo.test");
    w->options.overrides = &flag;
    w->options.override_count = 1;
    static const char *const ladder[] = {"https://flag.test",   "https://servo.test",
                                         "https://opsani.test", "https://stanza.test",
                                         "https://file.test",   "https://api.opsani.com"};
    for (size_t level = 0; level < COUNT(ladder); level++) {
        load_ok(w, level < 5 ? with_file : "optimizer: {id: example.com/app}\n");
        const struct servo_settings *s = only_servo(w)->settings;
        assert_non_null(s->optimizer);
        assert_string_equal(s->optimizer->base_url, ladder[level]);
        assert_string_equal(s->optimizer->id, "example.com/app");
        if (level == 0)
            w->options.override_count = 0;
        else if (level == 1)
            env_put(&w->env, "SERVO_OPTIMIZER_BASE_URL", NULL);
        else if (level == 2)
            env_put(&w->env, "OPSANI_BASE_URL", NULL);
        else if (level == 3)
            env_put(&w->env, "SERVO_OPTIMIZER", NULL);
    }
}

/* ---- environment: routing -------------------------------------------------------------- */

static void test_servo_connectors_env(void **state)
{
    struct world *w = *state;
    const char *text = "connectors: [prometheus]\nvegeta: " VEGETA_OK "\nwait: {measure_enabled: "
                       "true}\n";
    env_put(&w->env, "SERVO_CONNECTORS", "[\"vegeta\", \"WaitConnector\"]");
    load_ok(w, text);
    assert_int_equal(only_servo(w)->routing, ROUTING_LIST);
    assert_string_equal(instances(w), "vegeta=vegeta,wait=wait");
    env_put(&w->env, "SERVO_CONNECTORS", "{\"load\": \"vegeta\", \"w2\": \"wait\"}");
    FAILS(w, text,
          "$SERVO_CONNECTORS: connectors.w2: invalid instance name \"w2\": use 3 to 128 letters, "
          "digits or -_/.",
          "servo.yaml:2:1: vegeta: unknown top-level key \"vegeta\": not a servo setting nor an "
          "instance named in `connectors`" FOREIGN_HINT,
          "servo.yaml:3:1: wait: unknown top-level key \"wait\": not a servo setting nor an "
          "instance named in `connectors`" FOREIGN_HINT,
          "$SERVO_CONNECTORS: load: connector \"vegeta\" is routed in `connectors` but the "
          "document has no \"load\" stanza");
    env_put(&w->env, "SERVO_CONNECTORS", "{\"load\": \"vegeta\"}");
    load_ok(w, "load: " VEGETA_OK "\n");
    assert_int_equal(only_servo(w)->routing, ROUTING_MAP);
    assert_string_equal(instances(w), "load=vegeta");
    env_put(&w->env, "SERVO_CONNECTORS", "[]");
    load_ok(w, "connectors: [vegeta]\n");
    assert_int_equal(only_servo(w)->connector_count, 0);
    env_put(&w->env, "SERVO_CONNECTORS", "null");
    load_ok(w, "connectors: [vegeta]\nwait: {measure_enabled: true}\n");
    assert_int_equal(only_servo(w)->routing, ROUTING_IMPLICIT);
    assert_string_equal(instances(w), "wait=wait");
}

static void test_servo_connectors_env_errors(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_CONNECTORS", "vegeta,prometheus");
    FAILS(w, "",
          "$SERVO_CONNECTORS:1:6: connectors: invalid JSON: invalid token near "
          "'vegeta'");
    env_put(&w->env, "SERVO_CONNECTORS", "[\"vegeta\"");
    FAILS(w, "", "$SERVO_CONNECTORS:1:9: connectors: invalid JSON: ']' expected near end of file");
    env_put(&w->env, "SERVO_CONNECTORS", "\"vegeta\"");
    FAILS(w, "",
          "$SERVO_CONNECTORS: connectors: expected a list of connector names or a mapping "
          "of instance name to connector, got a string");
    env_put(&w->env, "SERVO_CONNECTORS", "[\"nope\"]");
    FAILS(w, "",
          fmt("$SERVO_CONNECTORS: connectors: no connector found for the identifier \"nope\" "
              "(available: %s)",
              available));
    /* a routing error does not also turn every stanza into a foreign key */
    env_put(&w->env, "SERVO_CONNECTORS", "[vegeta]");
    FAILS(w, "vegeta: " VEGETA_OK "\n",
          "$SERVO_CONNECTORS:1:7: connectors: invalid JSON: invalid token near 'vegeta'");
}

/* ---- environment: the servo's own settings --------------------------------------------- */

static void test_env_servo_settings(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "SERVO_DESCRIPTION", "from the environment");
    env_put(&w->env, "SERVO_UID", "uid-1");
    env_put(&w->env, "SERVO_NO_DIAGNOSTICS", "false");
    env_put(&w->env, "SERVO_SETTINGS_TIMEOUTS", "5s");
    env_put(&w->env, "SERVO_SETTINGS_PROXIES", "http://proxy:3128");
    env_put(&w->env, "SERVO_CHECKS_HALT_ON", "warning");
    env_put(&w->env, "SERVO_NAME", "not-the-name"); /* selects a servo; never sets the name */
    load_ok(w, "description: from the file\n");
    const struct servo_config *servo = only_servo(w);
    const struct servo_settings *s = servo->settings;
    assert_string_equal(servo->name, "servo");
    assert_null(s->name);
    assert_string_equal(s->description, "from the environment");
    assert_string_equal(s->servo_uid, "uid-1");
    assert_false(s->no_diagnostics);
    assert_int_equal(s->settings.timeouts.connect, 5 * SERVO_SECOND);
    assert_int_equal(s->settings.timeouts.pool, 5 * SERVO_SECOND);
    assert_int_equal(s->settings.proxies.count, 1);
    assert_string_equal(s->settings.proxies.keys[0], "all://");
    assert_string_equal(((char **)s->settings.proxies.values)[0], "http://proxy:3128");
    assert_int_equal(s->checks.halt_on, CHECK_HALT_WARNING);
    assert_null(s->optimizer);
    /* SERVO_SERVO_UID is the canonical name and beats the SERVO_UID alias */
    env_put(&w->env, "SERVO_SERVO_UID", "uid-2");
    load_ok(w, "servo_uid: uid-0\n");
    assert_string_equal(only_servo(w)->settings->servo_uid, "uid-2");
}

static void test_servo_settings_table(void **state)
{
    struct world *w = *state;
    load_ok(w, "settings:\n  ssl_verify: /etc/ca.pem\n  timeouts: {read: 1m}\n"
               "  proxies: {'https://': 'http://p:1'}\n  backoff: {connect: {max_tries: 3}}\n"
               "checks: {delay: 5s, tag: one, halt_on: common}\n");
    const struct servo_settings *s = only_servo(w)->settings;
    assert_true(s->settings.ssl_verify.verify);
    assert_string_equal(s->settings.ssl_verify.ca_bundle, "/etc/ca.pem");
    assert_int_equal(s->settings.timeouts.read, SERVO_MINUTE);
    assert_int_equal(s->settings.timeouts.connect, 10 * SERVO_SECOND);
    assert_string_equal(s->settings.proxies.keys[0], "https://");
    /* a backoff map replaces the default one */
    assert_int_equal(s->settings.backoff.count, 1);
    const struct backoff_settings *b = s->settings.backoff.values;
    assert_int_equal(b[0].max_tries, 3);
    assert_int_equal(b[0].max_time, 10 * SERVO_MINUTE);
    assert_false(s->checks.delay.exponential);
    assert_int_equal(s->checks.delay.fixed, 5 * SERVO_SECOND);
    assert_int_equal(s->checks.tag.count, 1);
    assert_string_equal(((char **)s->checks.tag.items)[0], "one");
    assert_int_equal(s->checks.halt_on, CHECK_HALT_COMMON);
    /* defaults */
    load_ok(w, "");
    s = only_servo(w)->settings;
    assert_true(s->settings.ssl_verify.verify);
    assert_null(s->settings.ssl_verify.ca_bundle);
    assert_int_equal(s->settings.backoff.count, 2);
    assert_string_equal(s->settings.backoff.keys[0], "__default__");
    assert_string_equal(s->settings.backoff.keys[1], "connect");
    b = s->settings.backoff.values;
    assert_int_equal(b[1].max_time, 60 * SERVO_MINUTE);
    assert_int_equal(b[1].max_tries, SERVO_UNSET);
    assert_true(s->checks.delay.exponential);
    assert_true(s->no_diagnostics);
    assert_int_equal(s->extra, EXTRA_FORBID);
    FAILS(w,
          "settings:\n  proxies: {'ftp://': 'http://p:1'}\n  backoff: {connect: {max_tries: "
          "0}}\nchecks: {delay: soon}\n",
          "servo.yaml:2:23: settings.proxies.ftp://: proxy keys must start with http://, https:// "
          "or all://",
          "servo.yaml:3:34: settings.backoff.connect.max_tries: the value must be at least 1",
          "servo.yaml:4:17: checks.delay: invalid delay \"soon\": expected \"expo\" or a duration "
          "(missing number)");
    /* the environment: a bool-or-path and a map merged onto the file's */
    env_put(&w->env, "SERVO_SETTINGS_SSL_VERIFY", "false");
    env_put(&w->env, "SERVO_SETTINGS_BACKOFF", "{\"x\": {\"max_time\": \"1s\"}}");
    load_ok(w, "settings: {ssl_verify: /etc/ca.pem, backoff: {connect: {max_tries: 3}}}\n");
    s = only_servo(w)->settings;
    assert_false(s->settings.ssl_verify.verify);
    assert_null(s->settings.ssl_verify.ca_bundle);
    assert_int_equal(s->settings.backoff.count, 2);
    assert_string_equal(s->settings.backoff.keys[1], "x");
}

static void test_env_optimizer(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "OPSANI_OPTIMIZER", "example.com/app");
    env_put(&w->env, "OPSANI_TOKEN", "t0k3n");
    env_put(&w->env, "OPSANI_URL", "http://localhost:1234/");
    load_ok(w, "");
    const struct servo_config *servo = only_servo(w);
    assert_string_equal(servo->name, "example.com/app");
    assert_string_equal(servo->settings->optimizer->id, "example.com/app");
    assert_string_equal(servo->settings->optimizer->token, "t0k3n");
    assert_null(servo->settings->optimizer->token_file);
    assert_string_equal(servo->settings->optimizer->url, "http://localhost:1234/");
    assert_string_equal(servo->settings->optimizer->base_url, "https://api.opsani.com");
    /* the environment beats the file; SERVO_OPTIMIZER_ID beats OPSANI_OPTIMIZER */
    env_put(&w->env, "SERVO_OPTIMIZER_ID", "example.com/other");
    load_ok(w, "optimizer: {id: example.com/file, token: file-token}\n");
    assert_string_equal(only_servo(w)->settings->optimizer->id, "example.com/other");
    assert_string_equal(only_servo(w)->settings->optimizer->token, "t0k3n");
    /* the command line beats both */
    static const struct config_override flags[] = {{"optimizer.id", "flag.example.com/app"},
                                                   {"optimizer.token", "flag-token"},
                                                   {"optimizer.url", "http://flag:1/"}};
    w->options.overrides = flags;
    w->options.override_count = COUNT(flags);
    load_ok(w, "optimizer: {id: example.com/file, token: file-token}\n");
    assert_string_equal(only_servo(w)->name, "flag.example.com/app");
    assert_string_equal(only_servo(w)->settings->optimizer->token, "flag-token");
    assert_string_equal(only_servo(w)->settings->optimizer->url, "http://flag:1/");
}

static void test_env_optimizer_errors(void **state)
{
    struct world *w = *state;
    env_put(&w->env, "OPSANI_TOKEN", "t0k3n");
    env_put(&w->env, "OPSANI_TOKEN_FILE", "/run/secrets/token");
    FAILS(w, "optimizer: {id: example.com/app}\n",
          "$OPSANI_TOKEN_FILE: optimizer.token_file: token and token_file cannot both be given");
    env_put(&w->env, "OPSANI_TOKEN_FILE", NULL);
    env_put(&w->env, "OPSANI_TOKEN", "");
    FAILS(w, "optimizer: {id: example.com/app}\n",
          "$OPSANI_TOKEN: optimizer.token: token cannot be blank");
    env_put(&w->env, "OPSANI_TOKEN", NULL);
    env_put(&w->env, "OPSANI_OPTIMIZER", "-bad/app");
    FAILS(w, "",
          "$OPSANI_OPTIMIZER: optimizer.id: \"-bad/app\" does not match the pattern "
          "/^(?!-)([A-Za-z0-9-.]{5,50})/[a-zA-Z_\\-.0-9]{1,64}$/");
    env_put(&w->env, "OPSANI_OPTIMIZER", NULL);
    env_put(&w->env, "OPSANI_BASE_URL", "ftp://api");
    FAILS(w, "",
          "$OPSANI_BASE_URL: optimizer.base_url: invalid URL \"ftp://api\": the scheme "
          "must be http or https");
    env_put(&w->env, "OPSANI_BASE_URL", NULL);
    env_put(&w->env, "SERVO_OPTIMIZER", "[\"example.com/app\"]");
    FAILS(w, "", "$SERVO_OPTIMIZER: optimizer: expected a mapping, got a sequence");
}

/* ---- command-line overrides ------------------------------------------------------------ */

static void test_overrides(void **state)
{
    struct world *w = *state;
    static const struct config_override flags[] = {{"optimizer.id", "example.com/flag"},
                                                   {"optimizer.token_file", "/tmp/token"},
                                                   {"description", "flagged"},
                                                   {"vegeta.rate", "3/1s"},
                                                   {"prom1.fast_fail.span", "2m"}};
    w->options.overrides = flags;
    w->options.override_count = COUNT(flags);
    load_ok(w, "optimizer: null\nvegeta: " VEGETA_OK "\n");
    const struct servo_config *servo = only_servo(w);
    assert_string_equal(servo->name, "example.com/flag");
    assert_string_equal(servo->settings->optimizer->token_file, "/tmp/token");
    assert_string_equal(servo->settings->description, "flagged");
    assert_string_equal(rate_text(&vegeta(w, "vegeta")->rate), "3/1s");
    load_ok(w, "connectors: {prom1: prometheus}\nprom1: " PROM_OK "\n");
    assert_int_equal(prometheus(w, "prom1")->fast_fail.span, 2 * SERVO_MINUTE);
    /* an override of a connector that is not routed does nothing */
    load_ok(w, "connectors: []\n");
    assert_int_equal(only_servo(w)->connector_count, 0);
    /* a bad override is an error like any other */
    static const struct config_override bad[] = {{"optimizer.id", "nope"}};
    w->options.overrides = bad;
    w->options.override_count = 1;
    FAILS(w, "",
          "command line: optimizer.id: \"nope\" does not match the pattern "
          "/^(?!-)([A-Za-z0-9-.]{5,50})/[a-zA-Z_\\-.0-9]{1,64}$/");
}

/* ---- multi-servo ----------------------------------------------------------------------- */

static void test_multi_servo(void **state)
{
    struct world *w = *state;
    load_ok(w, "name: one\nwait: {measure_enabled: true}\n"
               "---\n"
               "optimizer: {id: example.com/two}\nconnectors: {w2x: wait}\nw2x: {measure_enabled: "
               "false}\n"
               "---\n"
               "name: three\ndescription: third\n");
    assert_int_equal(w->assembly.count, 3);
    assert_null(assembly_find(&w->assembly, NULL));
    const struct servo_config *one = assembly_find(&w->assembly, "one");
    const struct servo_config *two = assembly_find(&w->assembly, "example.com/two");
    const struct servo_config *three = assembly_find(&w->assembly, "three");
    assert_ptr_equal(one, &w->assembly.servos[0]);
    assert_ptr_equal(two, &w->assembly.servos[1]);
    assert_ptr_equal(three, &w->assembly.servos[2]);
    assert_null(assembly_find(&w->assembly, "servo"));
    assert_int_equal(one->line, 1);
    assert_int_equal(two->line, 4);
    assert_string_equal(one->connectors[0].name, "wait");
    assert_string_equal(two->connectors[0].name, "w2x");
    assert_int_equal(three->connector_count, 0);
    assert_string_equal(w->assembly.config_file, "servo.yaml");
}

static void test_multi_servo_naming(void **state)
{
    struct world *w = *state;
    FAILS(w, "name: one\n---\ndescription: unnamed\n",
          "servo.yaml:3:1: document 2: in a multi-servo file every servo needs a `name` or an "
          "`optimizer.id` to tell it apart");
    FAILS(w, "---\n---\n",
          "servo.yaml:2:1: document 1: in a multi-servo file every servo needs a `name` or an "
          "`optimizer.id` to tell it apart",
          "servo.yaml:3:1: document 2: in a multi-servo file every servo needs a `name` or an "
          "`optimizer.id` to tell it apart");
    FAILS(w, "name: same\n---\nname: other\n---\nname: same\n",
          "servo.yaml:5:1: document 3: servo name \"same\" is already used by document 1");
    FAILS(w, "name: example.com/app\n---\noptimizer: {id: example.com/app}\n",
          "servo.yaml:3:1: document 2: servo name \"example.com/app\" is already used by document "
          "1");
    /* one optimizer id from the environment names every document alike */
    env_put(&w->env, "OPSANI_OPTIMIZER", "example.com/app");
    FAILS(w, "description: a\n---\ndescription: b\n",
          "servo.yaml:3:1: document 2: servo name \"example.com/app\" is already used by document "
          "1");
    load_ok(w, "name: a\n---\nname: b\n");
    assert_string_equal(w->assembly.servos[1].settings->optimizer->id, "example.com/app");
    /* a single servo needs no name */
    env_put(&w->env, "OPSANI_OPTIMIZER", NULL);
    load_ok(w, "description: alone\n");
    assert_string_equal(only_servo(w)->name, "servo");
    FAILS(w, "name: ''\n", "servo.yaml:1:7: name: must not be empty");
    FAILS(w, "name: 'a b'\n",
          "servo.yaml:1:7: name: \"a b\" does not match the pattern /^[0-9a-zA-Z_./-]{1,128}$/");
}

static void test_multi_servo_errors_in_each_document(void **state)
{
    struct world *w = *state;
    FAILS(w, "name: one\nwait: {}\n---\nname: two\nvegeta: {rate: x, target: GET http://a/}\n",
          "servo.yaml:2:7: wait.measure_enabled: field required",
          "servo.yaml:5:16: vegeta.rate: invalid rate \"x\": hits must be a non-negative integer");
}

/* ---- YAML problems through the assembly ------------------------------------------------ */

static void test_yaml_problems(void **state)
{
    struct world *w = *state;
    FAILS(w, "vegeta: {rate: 1\n",
          "servo.yaml:2:1: did not find expected ',' or '}' while "
          "parsing a flow mapping");
    FAILS(w, "wait: {measure_enabled: true}\nwait: {measure_enabled: false}\n",
          "servo.yaml:2:1: duplicate key \"wait\" (first defined at line 1)");
    FAILS(w, "vegeta:\n  rate: 1\n  rate: 2\n",
          "servo.yaml:3:3: duplicate key \"rate\" (first defined at line 2)");
    FAILS(w, "vegeta: {rate: [1], target: GET http://a/}\n",
          "servo.yaml:1:16: vegeta.rate: expected a rate, got a sequence");
    FAILS(w, "vegeta: {rate: 1, target: GET http://a/, workers: many}\n",
          "servo.yaml:1:51: vegeta.workers: invalid integer \"many\"");
    FAILS(w, "vegeta: {rate: 1, target: GET http://a/, workers: '5'}\n",
          "servo.yaml:1:51: vegeta.workers: invalid integer \"5\"");
}

static void test_load_file(void **state)
{
    struct world *w = *state;
    const char *path = test_write_file("servo.yaml", "wait: {measure_enabled: true}\n");
    w->options.config_file = path;
    assert_int_equal(assembly_load(&w->assembly, &registry, &w->options, &w->diags), 0);
    w->loaded = true;
    assert_string_equal(w->assembly.config_file, path);
    assert_string_equal(instances(w), "wait=wait");
    reset(w);
    w->options.config_file = test_scratch_dir();
    assert_int_equal(assembly_load(&w->assembly, &registry, &w->options, &w->diags), -1);
    assert_int_equal(w->diags.count, 1);
    char *line = diag_format(&w->diags.items[0]);
    char expected[4200];
    snprintf(expected, sizeof expected, "%s: is a directory, not a file", test_scratch_dir());
    assert_string_equal(line, expected);
    free(line);
    reset(w);
    w->options.config_file = "/nonexistent/servo.yaml";
    assert_int_equal(assembly_load(&w->assembly, &registry, &w->options, &w->diags), -1);
    line = diag_format(&w->diags.items[0]);
    assert_string_equal(line, "/nonexistent/servo.yaml: file does not exist");
    free(line);
}

/* ---- output ---------------------------------------------------------------------------- */

static char *dumps(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static void assert_json(const json_t *value, const char *expected)
{
    char *text = dumps(value);
    if (strcmp(text, expected) != 0) {
        print_message("got      %s\nexpected %s\n", text, expected);
        free(text);
        fail();
    }
    free(text);
}

/* `value` holds every field of `schema`, in table order, and what `expected` (JSON) says:
 * complete settings, without tying the test to fields added later. */
static void assert_settings_json(const json_t *value, const struct servo_schema *schema,
                                 const char *expected)
{
    json_t *want = test_json(expected);
    assert_true(json_is_object(value));
    const struct servo_field *f = schema->fields;
    const char *key;
    json_t *item;
    json_object_foreach((json_t *)value, key, item)
    {
        if (f->name == NULL || strcmp(key, f->name) != 0) {
            print_message("key %s where the table has %s\n", key, f->name ? f->name : "nothing");
            fail();
        }
        f++;
    }
    assert_null(f->name);
    json_object_foreach(want, key, item)
    {
        if (!json_equal(json_object_get(value, key), item)) {
            char *got = dumps(json_object_get(value, key));
            print_message("%s is %s\n", key, got ? got : "missing");
            free(got);
            fail();
        }
    }
    json_decref(want);
}

static void test_config_to_json(void **state)
{
    struct world *w = *state;
    load_ok(w, "name: shown\n"
               "optimizer: {id: example.com/app, token: s3cret}\n"
               "connectors: {prom1: prometheus, prom2: PrometheusConnector}\n"
               "prom1: {metrics: [{name: a, query: up}], username: u, password: pw}\n"
               "prom2: {bearer_token: tok, metrics: [{name: b, query: up, unit: rps}]}\n");
    json_t *j = servo_config_to_json(only_servo(w), false);
    const char *key;
    json_t *value;
    char keys[512] = "";
    json_object_foreach(j, key, value)
    {
        (void)value;
        strcat(keys, key);
        strcat(keys, " ");
    }
    assert_string_equal(keys, "name description servo_uid optimizer settings checks extra "
                              "no_diagnostics connectors prom1 prom2 ");
    assert_json(json_object_get(j, "connectors"),
                "{\"prom1\":\"prometheus\",\"prom2\":\"prometheus\"}");
    assert_json(json_object_get(j, "optimizer"),
                "{\"id\":\"example.com/app\",\"token\":\"**********\",\"token_file\":null,"
                "\"base_url\":\"https://api.opsani.com\",\"url\":null,\"local\":null}");
    assert_settings_json(
        json_object_get(j, "prom1"), servo_connector_prometheus.settings,
        "{\"description\":null,\"base_url\":\"https://prometheus:9090\","
        "\"streaming_interval\":null,\"metrics\":[{\"name\":\"a\",\"unit\":\"\","
        "\"query\":\"up\",\"step\":\"1m\",\"absent\":\"ignore\"}],\"targets\":[],"
        "\"fast_fail\":{\"disabled\":0,\"period\":\"1m\",\"span\":null,\"skip\":\"0\","
        "\"treat_zero_as_missing\":false},\"bearer_token\":null,\"username\":\"u\","
        "\"password\":\"**********\",\"ca_file\":null,\"insecure\":false,"
        "\"timeout\":\"30s\"}");
    assert_json(json_object_get(json_object_get(j, "prom2"), "bearer_token"), "\"**********\"");
    assert_json(json_object_get(j, "settings"),
                "{\"proxies\":{},\"timeouts\":{\"connect\":\"10s\",\"read\":\"30s\",\"write\":"
                "\"30s\",\"pool\":\"10s\"},\"ssl_verify\":true,\"backoff\":{\"__default__\":{"
                "\"max_time\":\"10m\",\"max_tries\":null},\"connect\":{\"max_time\":\"1h\","
                "\"max_tries\":null}}}");
    char *masked = dumps(j);
    assert_null(strstr(masked, "s3cret"));
    assert_null(strstr(masked, "\"pw\""));
    assert_null(strstr(masked, "\"tok\""));
    free(masked);
    json_decref(j);
    j = servo_config_to_json(only_servo(w), true);
    assert_json(json_object_get(json_object_get(j, "optimizer"), "token"), "\"s3cret\"");
    assert_json(json_object_get(json_object_get(j, "prom1"), "password"), "\"pw\"");
    assert_json(json_object_get(json_object_get(j, "prom2"), "bearer_token"), "\"tok\"");
    json_decref(j);
}

static void test_config_to_json_names(void **state)
{
    struct world *w = *state;
    load_ok(w, "optimizer: {id: example.com/app}\nvegeta: " VEGETA_OK "\n");
    json_t *j = servo_config_to_json(only_servo(w), false);
    assert_json(json_object_get(j, "name"), "\"example.com/app\"");
    assert_json(json_object_get(j, "connectors"), "{\"vegeta\":\"vegeta\"}");
    assert_settings_json(
        json_object_get(j, "vegeta"), servo_connector_vegeta.settings,
        "{\"description\":null,\"rate\":\"50/1s\",\"format\":\"http\",\"target\":\"GET "
        "https://example.com/\",\"targets\":null,\"connections\":10000,\"workers\":10,"
        "\"max_workers\":null,\"max_body\":-1,\"http2\":true,\"keepalive\":true,"
        "\"insecure\":false,\"reporting_interval\":\"15s\"}");
    json_decref(j);
    load_ok(w, "connectors: []\n");
    j = servo_config_to_json(only_servo(w), false);
    assert_json(json_object_get(j, "connectors"), "{}");
    assert_json(json_object_get(j, "name"), "\"servo\"");
    assert_json(json_object_get(j, "optimizer"), "null");
    json_decref(j);
}

/* ---- what connectors receive ----------------------------------------------------------- */

static void test_connector_settings(void **state)
{
    struct world *w = *state;
    load_ok(w, "connectors: {load: vegeta}\n"
               "load: {rate: 3000/1m, target: GET https://example.com/, max_workers: 7}\n");
    const struct servo_connector *c = instance(w, "load");
    assert_string_equal(servo_connector_name(c), "load");
    assert_ptr_equal(servo_connector_plugin(c), &servo_connector_vegeta);
    const struct vegeta_settings *v = servo_connector_settings(c);
    assert_ptr_equal(v, c->settings);
    assert_int_equal(v->rate.hits, 3000);
    assert_int_equal(v->rate.period, SERVO_MINUTE);
    assert_string_equal(v->target, "GET https://example.com/");
    assert_null(v->targets);
    assert_null(v->description);
    assert_int_equal(v->format, VEGETA_FORMAT_HTTP);
    assert_int_equal(v->connections, 10000);
    assert_int_equal(v->workers, 10);
    assert_int_equal(v->max_workers, 7);
    assert_int_equal(v->max_body, -1);
    assert_true(v->http2);
    assert_true(v->keepalive);
    assert_false(v->insecure);
    assert_int_equal(v->reporting_interval, 15 * SERVO_SECOND);
    assert_null(servo_connector_state(c));
    /* the settings belong to the instance: another instance gets its own */
    load_ok(w, "connectors: {l1x: vegeta, l2x: vegeta}\nl1x: " VEGETA_OK
               "\nl2x: {rate: 2, target: GET http://b/}\n");
    const struct vegeta_settings *a = servo_connector_settings(instance(w, "l1x"));
    const struct vegeta_settings *b = servo_connector_settings(instance(w, "l2x"));
    assert_ptr_not_equal(a, b);
    assert_string_equal(a->target, "GET https://example.com/");
    assert_string_equal(b->target, "GET http://b/");
    assert_int_equal(b->max_workers, SERVO_UNSET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_builtins_available, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implicit_routes_present_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implicit_nothing_present, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implicit_stanza_is_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_implicit_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_routes_only_those, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_requires_each_stanza, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_refuses_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_list_disables_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_connectors_is_implicit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_several_instances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_each_stanza_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_reserved_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_alias_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_env_collisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_keys_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_document_must_be_a_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_per_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_per_field_alias_and_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_bad_values_name_the_variable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_whole_stanza, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_whole_stanza_deep_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_whole_stanza_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence_connector_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precedence_optimizer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servo_connectors_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servo_connectors_env_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_servo_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servo_settings_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_optimizer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_optimizer_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_servo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_servo_naming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_servo_errors_in_each_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_problems, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_to_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_to_json_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connector_settings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, setup_registry, teardown_registry);
}
