/* The settings engine: every field type and flag of a table, exact diagnostics with their
 * places, defaults, JSON output and its round trip, table checks and JSON Schema. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "config/yaml_out.h"
#include "servo/settings.h"
#include "util/util.h"

/* ---- the test tables ------------------------------------------------------------------- */

/* A custom type with two shapes: a boolean, or a path. */
struct toggle {
    bool set;
    bool on;
    char *path;
};

static int toggle_parse(const struct servo_node *node, void *dst, struct servo_validation *v)
{
    struct toggle *t = dst;
    const char *text = servo_node_text(node);
    if (text == NULL)
        return servo_validation_error(v, NULL, "expected true, false or a path, got %s",
                                      servo_node_describe(node));
    t->set = true;
    if (!servo_node_quoted(node) && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)) {
        t->on = text[0] == 't';
        return 0;
    }
    if (text[0] != '/')
        return -1; /* no message: the engine says "invalid value" */
    t->on = true;
    t->path = xstrdup(text);
    return 0;
}

static void toggle_free(void *dst)
{
    struct toggle *t = dst;
    free(t->path);
    t->path = NULL;
}

static json_t *toggle_to_json(const void *src, bool show_secrets)
{
    (void)show_secrets;
    const struct toggle *t = src;
    if (!t->set)
        return json_null();
    return t->path ? json_string(t->path) : json_boolean(t->on);
}

static const struct servo_custom_type toggle_type = {
    .size = sizeof(struct toggle),
    .parse = toggle_parse,
    .free = toggle_free,
    .to_json = toggle_to_json,
    .json_schema = "{\"anyOf\": [{\"type\": \"boolean\"}, {\"type\": \"string\"}]}",
};

struct window {
    servo_duration period;
    int64_t count;
};

static const struct servo_field window_fields[] = {
    {.name = "period",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct window, period),
     .flags = SERVO_F_MIN,
     .min = 1e9,
     .def = "1m"},
    {.name = "count",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct window, count),
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 0,
     .max = 10,
     .def = "3"},
    SERVO_FIELDS_END,
};

static const struct servo_schema window_schema = {
    .title = "Window",
    .size = sizeof(struct window),
    .fields = window_fields,
};

struct step {
    char *name;
    servo_duration step;
};

static const struct servo_field step_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct step, name),
     .flags = SERVO_F_REQUIRED},
    {.name = "step",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct step, step),
     .def = "5s"},
    SERVO_FIELDS_END,
};

static const struct servo_schema step_schema = {
    .title = "Step",
    .size = sizeof(struct step),
    .fields = step_fields,
};

static const char *const mode_choices[] = {"fast", "slow", NULL};

static int ratio_not_half(const void *value, struct servo_validation *v)
{
    if (*(const double *)value == 0.5)
        return servo_validation_error(v, NULL, "0.5 is reserved");
    return 0;
}

static int tags_unique(const void *value, struct servo_validation *v)
{
    const struct servo_list *list = value;
    char *const *tags = list->items;
    for (size_t i = 0; i < list->count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i], tags[j]) == 0)
                return servo_validation_error(v, NULL, "duplicate tag \"%s\"", tags[i]);
    return 0;
}

struct demo {
    bool enabled;
    int64_t port;
    double ratio;
    char *name;
    char *token;
    char *password;
    servo_duration timeout;
    int64_t cpu;
    int64_t memory;
    struct servo_rate rate;
    char *url;
    int mode;
    struct servo_list tags;
    struct servo_list steps;
    struct window fast_fail;
    struct window *extra;
    struct servo_map labels;
    struct toggle toggle;
    int64_t count;
    double weight;
    int level;
    struct servo_rate throttle;
    servo_duration grace;
    char *internal;
};

static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};
static const struct servo_field step_item = {.type = SERVO_FIELD_OBJECT, .object = &step_schema};

static const struct servo_field demo_fields[] = {
    {.name = "enabled",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct demo, enabled),
     .def = "true",
     .description = "Whether it runs"},
    {.name = "port",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct demo, port),
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 1,
     .max = 65535,
     .def = "8080"},
    {.name = "ratio",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct demo, ratio),
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 0,
     .max = 1,
     .def = "0.25",
     .validate = ratio_not_half},
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct demo, name),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .pattern = "^[a-z][a-z0-9-]*$"},
    {.name = "token",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct demo, token),
     .env_alias = "DEMO_TOKEN"},
    {.name = "password",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct demo, password),
     .flags = SERVO_F_SECRET},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct demo, timeout),
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 1e9,
     .max = 3600e9,
     .def = "15s"},
    {.name = "cpu",
     .type = SERVO_FIELD_CPU,
     .offset = offsetof(struct demo, cpu),
     .flags = SERVO_F_MAX,
     .max = 4000,
     .def = "250m"},
    {.name = "memory",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct demo, memory),
     .flags = SERVO_F_MIN,
     .min = 1048576,
     .def = "1Gi"},
    {.name = "rate",
     .type = SERVO_FIELD_RATE,
     .offset = offsetof(struct demo, rate),
     .def = "50/1s"},
    {.name = "url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct demo, url),
     .flags = SERVO_F_REQUIRED},
    {.name = "mode",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct demo, mode),
     .choices = mode_choices,
     .def = "fast"},
    {.name = "tags",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct demo, tags),
     .flags = SERVO_F_NONEMPTY,
     .item = &string_item,
     .shorthand = "tag",
     .def = "[a, b]",
     .validate = tags_unique},
    {.name = "steps",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct demo, steps),
     .item = &step_item},
    {.name = "fast_fail",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct demo, fast_fail),
     .object = &window_schema},
    {.name = "extra",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct demo, extra),
     .flags = SERVO_F_OPTIONAL,
     .object = &window_schema,
     .shorthand = "*"},
    {.name = "labels",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct demo, labels),
     .item = &string_item,
     .shorthand = "app"},
    {.name = "toggle",
     .type = SERVO_FIELD_CUSTOM,
     .offset = offsetof(struct demo, toggle),
     .custom = &toggle_type},
    {.name = "count", .type = SERVO_FIELD_INT, .offset = offsetof(struct demo, count)},
    {.name = "weight", .type = SERVO_FIELD_FLOAT, .offset = offsetof(struct demo, weight)},
    {.name = "level",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct demo, level),
     .choices = mode_choices},
    {.name = "throttle", .type = SERVO_FIELD_RATE, .offset = offsetof(struct demo, throttle)},
    {.name = "grace", .type = SERVO_FIELD_DURATION, .offset = offsetof(struct demo, grace)},
    {.name = "internal",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct demo, internal),
     .flags = SERVO_F_NO_ENV},
    SERVO_FIELDS_END,
};

static int demo_validate(const void *settings, struct servo_validation *v)
{
    const struct demo *d = settings;
    if (d->mode == 1 && d->rate.hits == 0)
        return servo_validation_error(v, "rate", "the slow mode needs a limited rate");
    if (d->port == 1)
        return servo_validation_error(v, NULL, "port 1 is not for demos");
    return 0;
}

static const struct servo_schema demo_schema = {
    .title = "Demo",
    .description = "A demo connector",
    .size = sizeof(struct demo),
    .fields = demo_fields,
    .validate = demo_validate,
};

#define DEMO_ALLOWED                                                                             \
    "enabled, port, ratio, name, token, password, timeout, cpu, memory, rate, url, mode, tags, " \
    "steps, fast_fail, extra, labels, toggle, count, weight, level, throttle, grace, internal"

/* ---- helpers --------------------------------------------------------------------------- */

struct run {
    struct yaml_documents docs;
    struct servo_diags diags;
    void *settings;
};

/* Loads `text` (one document holding a "demo" stanza) with `schema`. */
static void *run_schema(struct run *r, const struct servo_schema *schema, const char *text)
{
    diags_init(&r->diags);
    if (yaml_load(text, strlen(text), "t.yaml", &r->docs, &r->diags) != 0)
        fail_msg("the test YAML does not load: %s", r->diags.items[0].message);
    assert_int_equal(r->docs.count, 1);
    const struct servo_node *root = r->docs.items[0];
    r->settings = settings_load(schema, servo_node_get(root, "demo"), "demo", root, &r->diags);
    return r->settings;
}

static struct demo *run(struct run *r, const char *text)
{
    return run_schema(r, &demo_schema, text);
}

static void run_free_schema(struct run *r, const struct servo_schema *schema)
{
    settings_free(schema, r->settings);
    yaml_documents_free(&r->docs);
    diags_free(&r->diags);
}

static void run_free(struct run *r)
{
    run_free_schema(r, &demo_schema);
}

static char *all_diags(const struct servo_diags *d)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < d->count; i++) {
        char *line = diag_format(&d->items[i]);
        strbuf_printf(&sb, "%s%s", i ? "\n" : "", line);
        free(line);
    }
    return strbuf_detach(&sb);
}

static void assert_diags(const struct servo_diags *d, const char *expected)
{
    char *text = all_diags(d);
    if (strcmp(text, expected) != 0) {
        print_error("diagnostics:\n%s\nexpected:\n%s\n", text, expected);
        fail();
    }
    free(text);
}

/* The stanza must fail with exactly these diagnostics. */
static void assert_rejected(const char *text, const char *expected)
{
    struct run r;
    assert_null(run(&r, text));
    assert_diags(&r.diags, expected);
    run_free(&r);
}

static void assert_json(json_t *json, const char *expected)
{
    char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
    if (strcmp(text, expected) != 0) {
        print_error("JSON:\n%s\nexpected:\n%s\n", text, expected);
        fail();
    }
    free(text);
}

static char *list_string(const struct servo_list *list, size_t i)
{
    return ((char **)list->items)[i];
}

/* ---- loading every type ---------------------------------------------------------------- */

static const char full_demo[] = "demo:\n"
                                "  enabled: no\n"
                                "  port: 9090\n"
                                "  ratio: 0.75\n"
                                "  name: web-1\n"
                                "  token: s3cr3t\n"
                                "  password: hunter2\n"
                                "  timeout: 1m30s\n"
                                "  cpu: 1.5\n"
                                "  memory: 256Mi\n"
                                "  rate: 3000/1m\n"
                                "  url: https://example.com:8443/api?x=1\n"
                                "  mode: slow\n"
                                "  tags: [x, y, z]\n"
                                "  steps:\n"
                                "    - name: warm\n"
                                "      step: 10s\n"
                                "    - {name: hot}\n"
                                "  fast_fail: {period: 2m, count: 5}\n"
                                "  extra: {count: 7}\n"
                                "  labels:\n"
                                "    app: web\n"
                                "    tier: \"1\"\n"
                                "  toggle: /etc/toggle\n"
                                "  count: -42\n"
                                "  weight: 1e3\n"
                                "  level: fast\n"
                                "  throttle: 10/s\n"
                                "  grace: 0\n"
                                "  internal: private\n";

static void test_every_type_loads(void **state)
{
    (void)state;
    struct run r;
    struct demo *d = run(&r, full_demo);
    if (d == NULL)
        fail_msg("rejected:\n%s", all_diags(&r.diags));
    assert_false(d->enabled);
    assert_int_equal(d->port, 9090);
    assert_true(d->ratio == 0.75);
    assert_string_equal(d->name, "web-1");
    assert_string_equal(d->token, "s3cr3t");
    assert_string_equal(d->password, "hunter2");
    assert_int_equal(d->timeout, 90 * SERVO_SECOND);
    assert_int_equal(d->cpu, 1500);
    assert_int_equal(d->memory, 256 * 1048576);
    assert_int_equal(d->rate.hits, 3000);
    assert_int_equal(d->rate.period, SERVO_MINUTE);
    assert_string_equal(d->url, "https://example.com:8443/api?x=1");
    assert_int_equal(d->mode, 1);
    assert_int_equal(d->tags.count, 3);
    assert_string_equal(list_string(&d->tags, 2), "z");
    assert_int_equal(d->steps.count, 2);
    const struct step *steps = d->steps.items;
    assert_string_equal(steps[0].name, "warm");
    assert_int_equal(steps[0].step, 10 * SERVO_SECOND);
    assert_string_equal(steps[1].name, "hot");
    assert_int_equal(steps[1].step, 5 * SERVO_SECOND); /* the item's default */
    assert_int_equal(d->fast_fail.period, 2 * SERVO_MINUTE);
    assert_int_equal(d->fast_fail.count, 5);
    assert_non_null(d->extra);
    assert_int_equal(d->extra->period, SERVO_MINUTE);
    assert_int_equal(d->extra->count, 7);
    assert_int_equal(d->labels.count, 2);
    assert_string_equal(d->labels.keys[0], "app");
    assert_string_equal(d->labels.keys[1], "tier");
    assert_string_equal(((char **)d->labels.values)[0], "web");
    assert_string_equal(((char **)d->labels.values)[1], "1");
    assert_true(d->toggle.set);
    assert_string_equal(d->toggle.path, "/etc/toggle");
    assert_int_equal(d->count, -42);
    assert_true(d->weight == 1000.0);
    assert_int_equal(d->level, 0);
    assert_int_equal(d->throttle.hits, 10);
    assert_int_equal(d->throttle.period, SERVO_SECOND);
    assert_int_equal(d->grace, 0);
    assert_string_equal(d->internal, "private");
    assert_int_equal(r.diags.count, 0);
    run_free(&r);
}

static void test_defaults_filled(void **state)
{
    (void)state;
    struct run r;
    struct demo *d = run(&r, "demo:\n  name: x\n  url: http://h\n");
    assert_non_null(d);
    assert_true(d->enabled);
    assert_int_equal(d->port, 8080);
    assert_true(d->ratio == 0.25);
    assert_null(d->token);
    assert_null(d->password);
    assert_int_equal(d->timeout, 15 * SERVO_SECOND);
    assert_int_equal(d->cpu, 250);
    assert_int_equal(d->memory, 1073741824);
    assert_int_equal(d->rate.hits, 50);
    assert_int_equal(d->rate.period, SERVO_SECOND);
    assert_int_equal(d->mode, 0);
    assert_int_equal(d->tags.count, 2);
    assert_string_equal(list_string(&d->tags, 0), "a");
    assert_string_equal(list_string(&d->tags, 1), "b");
    assert_int_equal(d->steps.count, 0);
    /* an absent embedded object still gets its fields' defaults */
    assert_int_equal(d->fast_fail.period, SERVO_MINUTE);
    assert_int_equal(d->fast_fail.count, 3);
    /* an absent optional object is NULL */
    assert_null(d->extra);
    assert_int_equal(d->labels.count, 0);
    assert_false(d->toggle.set);
    /* optional values without defaults are "unset" */
    assert_int_equal(d->count, SERVO_UNSET);
    assert_true(isnan(d->weight));
    assert_int_equal(d->level, -1);
    assert_int_equal(d->throttle.hits, -1);
    assert_int_equal(d->grace, SERVO_UNSET);
    assert_null(d->internal);
    run_free(&r);

    /* an explicit null is the same as absent: the default applies */
    d = run(&r, "demo:\n  name: x\n  url: http://h\n  port: ~\n  tags:\n  extra: null\n");
    assert_non_null(d);
    assert_int_equal(d->port, 8080);
    assert_int_equal(d->tags.count, 2);
    assert_null(d->extra);
    run_free(&r);
}

/* ---- diagnostics ----------------------------------------------------------------------- */

static void test_every_error_is_reported(void **state)
{
    (void)state;
    /* four problems, four diagnostics, in table order */
    assert_rejected("demo:\n"
                    "  port: 0\n"
                    "  name: Web\n"
                    "  url: http://h\n"
                    "  timeout: 5x\n"
                    "  mode: medium\n",
                    "t.yaml:2:9: demo.port: the value must be at least 1\n"
                    "t.yaml:3:9: demo.name: \"Web\" does not match the pattern "
                    "/^[a-z][a-z0-9-]*$/\n"
                    "t.yaml:5:12: demo.timeout: invalid duration \"5x\": unknown unit\n"
                    "t.yaml:6:9: demo.mode: \"medium\" is not one of: fast, slow");
    /* errors in several list items and nested objects */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  steps:\n"
                    "    - {name: a, step: 5x}\n"
                    "    - {step: 1s}\n"
                    "    - {name: c, step: [1]}\n"
                    "  fast_fail: {period: 1ms, count: 11}\n",
                    "t.yaml:5:23: demo.steps[0].step: invalid duration \"5x\": unknown unit\n"
                    "t.yaml:6:7: demo.steps[1].name: field required\n"
                    "t.yaml:7:23: demo.steps[2].step: expected a duration, got a sequence\n"
                    "t.yaml:8:23: demo.fast_fail.period: the value must be at least 1s\n"
                    "t.yaml:8:35: demo.fast_fail.count: the value must be at most 10");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  colour: red\n"
                    "  fast_fail:\n"
                    "    period: 1m\n"
                    "    periods: 2\n",
                    "t.yaml:4:3: demo.colour: unknown key \"colour\" (allowed: " DEMO_ALLOWED ")\n"
                    "t.yaml:7:5: demo.fast_fail.periods: unknown key \"periods\" (allowed: "
                    "period, count)");
}

static void test_field_required(void **state)
{
    (void)state;
    /* located at the mapping that lacks it */
    assert_rejected("other: 1\n"
                    "demo:\n"
                    "  port: 80\n",
                    "t.yaml:3:3: demo.name: field required\n"
                    "t.yaml:3:3: demo.url: field required");
    /* an explicit null counts as missing, located at the null */
    assert_rejected("demo:\n"
                    "  name: ~\n"
                    "  url: http://h\n",
                    "t.yaml:2:9: demo.name: field required");
    /* no stanza at all: located at `where` (the document here) */
    assert_rejected("other: 1\n", "t.yaml:1:1: demo.name: field required\n"
                                  "t.yaml:1:1: demo.url: field required");
    assert_rejected("demo:\n", "t.yaml:1:1: demo.name: field required\n"
                               "t.yaml:1:1: demo.url: field required");
}

static void test_wrong_kinds(void **state)
{
    (void)state;
    assert_rejected("demo: [1, 2]\n", "t.yaml:1:7: demo: expected a mapping, got a sequence");
    assert_rejected("demo: text\n", "t.yaml:1:7: demo: expected a mapping, got a scalar");
    assert_rejected("demo:\n"
                    "  name: {a: 1}\n"
                    "  url: [http://h]\n"
                    "  port: [1]\n"
                    "  enabled: {}\n"
                    "  ratio: []\n"
                    "  cpu: {}\n"
                    "  memory: []\n"
                    "  rate: {}\n"
                    "  mode: []\n"
                    "  tags: {a: 1}\n"
                    "  steps: 5\n"
                    "  fast_fail: [1]\n"
                    "  extra: [1]\n"
                    "  labels: [a]\n"
                    "  toggle: [1]\n"
                    "  steps2: 1\n",
                    "t.yaml:17:3: demo.steps2: unknown key \"steps2\" (allowed: " DEMO_ALLOWED ")\n"
                    "t.yaml:5:12: demo.enabled: expected a boolean, got a mapping\n"
                    "t.yaml:4:9: demo.port: expected an integer, got a sequence\n"
                    "t.yaml:6:10: demo.ratio: expected a number, got a sequence\n"
                    "t.yaml:2:9: demo.name: expected a string, got a mapping\n"
                    "t.yaml:7:8: demo.cpu: expected a CPU quantity, got a mapping\n"
                    "t.yaml:8:11: demo.memory: expected a memory quantity, got a sequence\n"
                    "t.yaml:9:9: demo.rate: expected a rate, got a mapping\n"
                    "t.yaml:3:8: demo.url: expected a string, got a sequence\n"
                    "t.yaml:10:9: demo.mode: expected one of the choices, got a sequence\n"
                    "t.yaml:11:9: demo.tags: expected a sequence, got a mapping\n"
                    "t.yaml:12:10: demo.steps: expected a sequence, got a scalar\n"
                    "t.yaml:13:14: demo.fast_fail: expected a mapping, got a sequence\n"
                    "t.yaml:14:10: demo.extra: expected a mapping, got a sequence\n"
                    "t.yaml:15:11: demo.labels: expected a mapping, got a sequence\n"
                    "t.yaml:16:11: demo.toggle: expected true, false or a path, got a sequence");
}

static void test_quoted_scalars_are_strings(void **state)
{
    (void)state;
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  port: \"80\"\n"
                    "  ratio: '0.5'\n"
                    "  enabled: 'true'\n"
                    "  count: !!str 5\n",
                    "t.yaml:6:12: demo.enabled: invalid boolean \"true\": expected true or "
                    "false\n"
                    "t.yaml:4:9: demo.port: invalid integer \"80\"\n"
                    "t.yaml:5:10: demo.ratio: invalid number \"0.5\"\n"
                    "t.yaml:7:10: demo.count: invalid integer \"5\"");
}

static void test_scalar_errors(void **state)
{
    (void)state;
    assert_rejected(
        "demo:\n"
        "  name: x\n"
        "  url: http://h\n"
        "  enabled: maybe\n"
        "  port: 12.5\n"
        "  ratio: 1.5\n"
        "  count: 99999999999999999999\n"
        "  weight: nan\n"
        "  timeout: 2h\n"
        "  cpu: 5\n"
        "  memory: 1Ki\n"
        "  rate: fast\n"
        "  grace: h\n",
        "t.yaml:4:12: demo.enabled: invalid boolean \"maybe\": expected true or "
        "false\n"
        "t.yaml:5:9: demo.port: invalid integer \"12.5\"\n"
        "t.yaml:6:10: demo.ratio: the value must be at most 1\n"
        "t.yaml:9:12: demo.timeout: the value must be at most 1h\n"
        "t.yaml:10:8: demo.cpu: the value must be at most 4\n"
        "t.yaml:11:11: demo.memory: the value must be at least 1Mi\n"
        "t.yaml:12:9: demo.rate: invalid rate \"fast\": hits must be a non-negative integer\n"
        "t.yaml:7:10: demo.count: invalid integer \"99999999999999999999\"\n"
        "t.yaml:8:11: demo.weight: invalid number \"nan\"\n"
        "t.yaml:13:10: demo.grace: invalid duration \"h\": missing number");
    /* the bounds are inclusive */
    struct run r;
    struct demo *d = run(&r, "demo: {name: x, url: 'http://h', port: 65535, ratio: 1, "
                             "timeout: 1h, cpu: 4, memory: 1Mi}\n");
    assert_non_null(d);
    assert_int_equal(d->port, 65535);
    assert_int_equal(d->cpu, 4000);
    run_free(&r);
}

static void test_strings(void **state)
{
    (void)state;
    assert_rejected("demo:\n"
                    "  name: ''\n"
                    "  url: ftp://h/x\n",
                    "t.yaml:2:9: demo.name: must not be empty\n"
                    "t.yaml:3:8: demo.url: invalid URL \"ftp://h/x\": the scheme must be http "
                    "or https");
    assert_rejected("demo:\n"
                    "  name: ok\n"
                    "  url: example.com\n",
                    "t.yaml:3:8: demo.url: invalid URL \"example.com\": missing scheme "
                    "(expected http:// or https://)");
    /* any scalar is a string, numbers included; the pattern is searched, anchored here */
    struct run r;
    struct demo *d = run(&r, "demo: {name: a1, url: 'HTTP://H:1', password: 12, "
                             "internal: true}\n");
    assert_non_null(d);
    assert_string_equal(d->password, "12");
    assert_string_equal(d->internal, "true");
    run_free(&r);
}

static void test_lists_maps_and_shorthands(void **state)
{
    (void)state;
    struct run r;
    /* a scalar for a list is a one-item list; for a map, {shorthand: scalar}; for an object
     * with "*", every field */
    struct demo *d = run(&r, "demo:\n"
                             "  name: x\n"
                             "  url: http://h\n"
                             "  tags: solo\n"
                             "  labels: web\n"
                             "  extra: 4\n");
    if (d == NULL)
        fail_msg("%s", all_diags(&r.diags));
    assert_int_equal(d->tags.count, 1);
    assert_string_equal(list_string(&d->tags, 0), "solo");
    assert_int_equal(d->labels.count, 1);
    assert_string_equal(d->labels.keys[0], "app");
    assert_string_equal(((char **)d->labels.values)[0], "web");
    assert_non_null(d->extra);
    assert_int_equal(d->extra->period, 4 * SERVO_SECOND);
    assert_int_equal(d->extra->count, 4);
    run_free(&r);
    /* a shorthand's errors point at the scalar, with the expanded path */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  extra: 20\n",
                    "t.yaml:4:10: demo.extra.count: the value must be at most 10");
    /* without a shorthand a scalar is a kind error */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  fast_fail: 5\n"
                    "  steps: x\n",
                    "t.yaml:5:10: demo.steps: expected a sequence, got a scalar\n"
                    "t.yaml:4:14: demo.fast_fail: expected a mapping, got a scalar");
    /* nonempty lists; map values are checked with their key in the path */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  tags: []\n"
                    "  labels: {a: b, c: [d], e: ~}\n",
                    "t.yaml:4:9: demo.tags: must not be empty\n"
                    "t.yaml:5:21: demo.labels.c: expected a string, got a sequence\n"
                    "t.yaml:5:29: demo.labels.e: expected a string, got null");
}

struct pools {
    struct servo_map windows;
    struct window single;
};

static void test_named_shorthand_and_map_of_objects(void **state)
{
    (void)state;
    const struct servo_field window_item = {
        .type = SERVO_FIELD_OBJECT, .object = &window_schema, .shorthand = "count"};
    const struct servo_field fields[] = {
        {.name = "windows",
         .type = SERVO_FIELD_MAP,
         .offset = offsetof(struct pools, windows),
         .flags = SERVO_F_NONEMPTY,
         .item = &window_item},
        {.name = "single",
         .type = SERVO_FIELD_OBJECT,
         .offset = offsetof(struct pools, single),
         .object = &window_schema,
         .shorthand = "period"},
        SERVO_FIELDS_END,
    };
    const struct servo_schema schema = {
        .title = "Pools", .size = sizeof(struct pools), .fields = fields};
    struct run r;
    struct pools *p = run_schema(&r, &schema,
                                 "demo:\n"
                                 "  windows: {a: 2, b: {period: 5s}}\n"
                                 "  single: 10m\n");
    if (p == NULL)
        fail_msg("%s", all_diags(&r.diags));
    assert_int_equal(p->windows.count, 2);
    const struct window *w = p->windows.values;
    assert_int_equal(w[0].count, 2);
    assert_int_equal(w[0].period, SERVO_MINUTE);
    assert_int_equal(w[1].count, 3);
    assert_int_equal(w[1].period, 5 * SERVO_SECOND);
    assert_int_equal(p->single.period, 10 * SERVO_MINUTE);
    assert_int_equal(p->single.count, 3);
    run_free_schema(&r, &schema);

    assert_null(run_schema(&r, &schema,
                           "demo:\n"
                           "  windows: {}\n"
                           "  single: 0s\n"));
    assert_diags(&r.diags, "t.yaml:2:12: demo.windows: must not be empty\n"
                           "t.yaml:3:11: demo.single.period: the value must be at least 1s");
    run_free_schema(&r, &schema);
    assert_null(run_schema(&r, &schema, "demo:\n  windows: {a: x, b: [1]}\n"));
    assert_diags(&r.diags, "t.yaml:2:16: demo.windows.a.count: invalid integer \"x\"\n"
                           "t.yaml:2:22: demo.windows.b: expected a mapping, got a sequence");
    run_free_schema(&r, &schema);
}

static void test_validate_callbacks(void **state)
{
    (void)state;
    /* per field: located at the value */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  ratio: 0.5\n"
                    "  tags: [a, b, a]\n",
                    "t.yaml:4:10: demo.ratio: 0.5 is reserved\n"
                    "t.yaml:5:9: demo.tags: duplicate tag \"a\"");
    /* a field's validator also checks its default */
    struct run r;
    assert_non_null(run(&r, "demo: {name: x, url: 'http://h'}\n"));
    run_free(&r);
    /* per schema: naming a field points at it; NULL points at the stanza */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  mode: slow\n"
                    "  rate: 0\n",
                    "t.yaml:5:9: demo.rate: the slow mode needs a limited rate");
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  port: 1\n",
                    "t.yaml:2:3: demo: port 1 is not for demos");
    /* a field given by its default is located at the stanza */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  mode: slow\n"
                    "  rate: 0\n"
                    "  port: 1\n",
                    "t.yaml:5:9: demo.rate: the slow mode needs a limited rate");
    /* the schema's validator does not run when a field is invalid */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  port: 1\n"
                    "  ratio: 2\n",
                    "t.yaml:5:10: demo.ratio: the value must be at most 1");
}

static void test_custom_fields(void **state)
{
    (void)state;
    struct run r;
    struct demo *d = run(&r, "demo: {name: x, url: 'http://h', toggle: true}\n");
    assert_non_null(d);
    assert_true(d->toggle.set);
    assert_true(d->toggle.on);
    assert_null(d->toggle.path);
    run_free(&r);
    /* a parser that fails silently gets a generic message */
    assert_rejected("demo: {name: x, url: 'http://h', toggle: relative}\n",
                    "t.yaml:1:42: demo.toggle: invalid value");
}

static void test_failed_load_frees_everything(void **state)
{
    (void)state;
    /* every allocated piece of a half-loaded struct is freed (ASan checks) */
    assert_rejected("demo:\n"
                    "  name: x\n"
                    "  url: http://h\n"
                    "  token: t\n"
                    "  tags: [a, b, c]\n"
                    "  steps: [{name: a}, {name: b, step: x}]\n"
                    "  extra: {count: 99}\n"
                    "  labels: {a: b, c: d}\n"
                    "  toggle: /x\n"
                    "  port: -1\n",
                    "t.yaml:10:9: demo.port: the value must be at least 1\n"
                    "t.yaml:6:38: demo.steps[1].step: invalid duration \"x\": missing number\n"
                    "t.yaml:7:18: demo.extra.count: the value must be at most 10");
}

/* ---- JSON output ----------------------------------------------------------------------- */

static const char full_json[] =
    "{\"enabled\":false,\"port\":9090,\"ratio\":0.75,\"name\":\"web-1\","
    "\"token\":\"**********\",\"password\":\"**********\",\"timeout\":\"1m30s\",\"cpu\":\"1500m\","
    "\"memory\":\"256Mi\",\"rate\":\"3000/1m\",\"url\":\"https://example.com:8443/api?x=1\","
    "\"mode\":\"slow\",\"tags\":[\"x\",\"y\",\"z\"],"
    "\"steps\":[{\"name\":\"warm\",\"step\":\"10s\"},{\"name\":\"hot\",\"step\":\"5s\"}],"
    "\"fast_fail\":{\"period\":\"2m\",\"count\":5},\"extra\":{\"period\":\"1m\",\"count\":7},"
    "\"labels\":{\"app\":\"web\",\"tier\":\"1\"},\"toggle\":\"/etc/toggle\",\"count\":-42,"
    "\"weight\":1000.0,\"level\":\"fast\",\"throttle\":\"10/1s\",\"grace\":\"0\","
    "\"internal\":\"private\"}";

static void test_to_json(void **state)
{
    (void)state;
    struct run r;
    struct demo *d = run(&r, full_demo);
    assert_non_null(d);
    json_t *json = settings_to_json(&demo_schema, d, false);
    assert_json(json, full_json);
    json_decref(json);
    /* secrets shown on request */
    json = settings_to_json(&demo_schema, d, true);
    assert_string_equal(json_string_value(json_object_get(json, "token")), "s3cr3t");
    assert_string_equal(json_string_value(json_object_get(json, "password")), "hunter2");
    json_decref(json);
    run_free(&r);

    /* defaults and unset values */
    d = run(&r, "demo: {name: x, url: 'http://h'}\n");
    json = settings_to_json(&demo_schema, d, false);
    assert_json(json,
                "{\"enabled\":true,\"port\":8080,\"ratio\":0.25,\"name\":\"x\",\"token\":null,"
                "\"password\":null,\"timeout\":\"15s\",\"cpu\":\"250m\",\"memory\":\"1Gi\","
                "\"rate\":\"50/1s\",\"url\":\"http://h\",\"mode\":\"fast\",\"tags\":[\"a\","
                "\"b\"],\"steps\":[],\"fast_fail\":{\"period\":\"1m\",\"count\":3},"
                "\"extra\":null,\"labels\":{},\"toggle\":null,\"count\":null,\"weight\":null,"
                "\"level\":null,\"throttle\":null,\"grace\":null,\"internal\":null}");
    json_decref(json);
    run_free(&r);
}

struct vault {
    struct servo_map headers;
    struct servo_list keys;
    int64_t pin;
    char *visible;
};

static void test_secret_flag_masks_any_type(void **state)
{
    (void)state;
    const struct servo_field fields[] = {
        {.name = "headers",
         .type = SERVO_FIELD_MAP,
         .offset = offsetof(struct vault, headers),
         .flags = SERVO_F_SECRET,
         .item = &string_item},
        {.name = "keys",
         .type = SERVO_FIELD_LIST,
         .offset = offsetof(struct vault, keys),
         .item = &(const struct servo_field){.type = SERVO_FIELD_SECRET}},
        {.name = "pin",
         .type = SERVO_FIELD_INT,
         .offset = offsetof(struct vault, pin),
         .flags = SERVO_F_SECRET},
        {.name = "visible", .type = SERVO_FIELD_STRING, .offset = offsetof(struct vault, visible)},
        SERVO_FIELDS_END,
    };
    const struct servo_schema schema = {
        .title = "Vault", .size = sizeof(struct vault), .fields = fields};
    struct run r;
    struct vault *v = run_schema(&r, &schema,
                                 "demo:\n"
                                 "  headers: {Authorization: Bearer xyz, X-Key: '1'}\n"
                                 "  keys: [k1, k2]\n"
                                 "  pin: 1234\n"
                                 "  visible: shown\n");
    assert_non_null(v);
    json_t *json = settings_to_json(&schema, v, false);
    assert_json(json, "{\"headers\":{\"Authorization\":\"**********\",\"X-Key\":\"**********\"},"
                      "\"keys\":[\"**********\",\"**********\"],\"pin\":\"**********\","
                      "\"visible\":\"shown\"}");
    json_decref(json);
    json = settings_to_json(&schema, v, true);
    assert_json(json, "{\"headers\":{\"Authorization\":\"Bearer xyz\",\"X-Key\":\"1\"},"
                      "\"keys\":[\"k1\",\"k2\"],\"pin\":1234,\"visible\":\"shown\"}");
    json_decref(json);
    run_free_schema(&r, &schema);

    /* unset secrets stay null */
    v = run_schema(&r, &schema, "demo: {}\n");
    json = settings_to_json(&schema, v, false);
    assert_json(json, "{\"headers\":{},\"keys\":[],\"pin\":null,\"visible\":null}");
    json_decref(json);
    run_free_schema(&r, &schema);
}

/* load -> JSON -> YAML -> load -> JSON gives the same JSON */
static void check_round_trip(const char *text)
{
    struct run r;
    struct demo *d = run(&r, text);
    if (d == NULL)
        fail_msg("%s", all_diags(&r.diags));
    json_t *first = settings_to_json(&demo_schema, d, true);
    json_t *wrapped = json_pack("{s:O}", "demo", first);
    char *yaml = yaml_dump(&wrapped, 1, false);
    assert_non_null(yaml);
    struct run again;
    struct demo *d2 = run(&again, yaml);
    if (d2 == NULL)
        fail_msg("%s\ndoes not load back:\n%s", yaml, all_diags(&again.diags));
    json_t *second = settings_to_json(&demo_schema, d2, true);
    if (!json_equal(first, second)) {
        char *a = json_dumps(first, JSON_COMPACT), *b = json_dumps(second, JSON_COMPACT);
        fail_msg("round trip through\n%s\nchanged\n%s\ninto\n%s", yaml, a, b);
    }
    json_decref(first);
    json_decref(second);
    json_decref(wrapped);
    free(yaml);
    run_free(&r);
    run_free(&again);
}

static void test_to_json_round_trip(void **state)
{
    (void)state;
    check_round_trip(full_demo);
    check_round_trip("demo: {name: x, url: 'http://h'}\n");
    check_round_trip("demo:\n"
                     "  name: n\n"
                     "  url: http://h\n"
                     "  token: '12'\n"
                     "  password: 'true'\n"
                     "  ratio: 1\n"
                     "  weight: 0.1\n"
                     "  timeout: 59m3.5s\n"
                     "  cpu: 0.001\n"
                     "  memory: 1000000\n"
                     "  rate: 0\n"
                     "  labels: {'null': '', 'yes': '~', x: \"a\\nb\"}\n"
                     "  tags: ['1', 'on', '-']\n"
                     "  toggle: false\n"
                     "  count: 0\n"
                     "  grace: -5m\n"
                     "  internal: 'multi\n\n    line'\n");
}

/* ---- table checks ---------------------------------------------------------------------- */

static int check(const struct servo_field *fields, const char *expected)
{
    const struct servo_schema schema = {.title = "Broken", .size = 64, .fields = fields};
    struct servo_diags diags;
    diags_init(&diags);
    int rc = settings_check_schema(&schema, &diags);
    assert_diags(&diags, expected);
    diags_free(&diags);
    return rc;
}

static void test_check_schema(void **state)
{
    (void)state;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(settings_check_schema(&demo_schema, &diags), 0);
    assert_int_equal(settings_check_schema(&window_schema, &diags), 0);
    assert_int_equal(diags.count, 0);

    const struct servo_field no_choices[] = {
        {.name = "mode", .type = SERVO_FIELD_ENUM},
        {.name = "other", .type = SERVO_FIELD_ENUM, .choices = (const char *const[]){NULL}},
        SERVO_FIELDS_END,
    };
    assert_int_equal(check(no_choices, "Broken: mode: an enum field needs choices\n"
                                       "Broken: other: an enum field needs choices"),
                     -1);

    const struct servo_field bad_defaults[] = {
        {.name = "port", .type = SERVO_FIELD_INT, .def = "eighty"},
        {.name = "mode", .type = SERVO_FIELD_ENUM, .choices = mode_choices, .def = "medium"},
        {.name = "yaml", .type = SERVO_FIELD_STRING, .def = "[unclosed"},
        {.name = "low", .type = SERVO_FIELD_INT, .flags = SERVO_F_MIN, .min = 5, .def = "1"},
        {.name = "ok", .type = SERVO_FIELD_DURATION, .def = "5s"},
        SERVO_FIELDS_END,
    };
    assert_int_equal(check(bad_defaults,
                           "Broken: port: the default eighty is invalid: invalid integer "
                           "\"eighty\"\n"
                           "Broken: mode: the default medium is invalid: \"medium\" is not one "
                           "of: fast, slow\n"
                           "Broken: yaml: the default [unclosed is not valid YAML\n"
                           "Broken: low: the default 1 is invalid: the value must be at least 5"),
                     -1);

    const struct servo_field missing[] = {
        {.name = "list", .type = SERVO_FIELD_LIST},
        {.name = "object", .type = SERVO_FIELD_OBJECT},
        {.name = "custom", .type = SERVO_FIELD_CUSTOM},
        {.name = "custom_json",
         .type = SERVO_FIELD_CUSTOM,
         .custom = &(const struct servo_custom_type){.size = 1, .parse = toggle_parse}},
        {.name = "nested_list",
         .type = SERVO_FIELD_LIST,
         .item = &(const struct servo_field){.type = SERVO_FIELD_ENUM}},
        SERVO_FIELDS_END,
    };
    assert_int_equal(check(missing, "Broken: list: a list or map field needs an item type\n"
                                    "Broken: object: an object field needs a schema\n"
                                    "Broken: custom: a custom field needs a parser\n"
                                    "Broken: custom_json: a custom field needs to_json\n"
                                    "Broken: nested_list: an enum field needs choices"),
                     -1);

    /* nested schemas are checked, named by their title */
    const struct servo_field inner_fields[] = {
        {.name = "count", .type = SERVO_FIELD_INT, .def = "x"},
        SERVO_FIELDS_END,
    };
    const struct servo_schema inner = {.title = "Inner", .size = 8, .fields = inner_fields};
    const struct servo_field outer[] = {
        {.name = "inner", .type = SERVO_FIELD_OBJECT, .object = &inner},
        SERVO_FIELDS_END,
    };
    assert_int_equal(check(outer, "Inner: count: the default x is invalid: invalid integer \"x\""),
                     -1);

    /* a pattern that does not compile; a shorthand naming no field */
    const struct servo_field bad_pattern[] = {
        {.name = "s", .type = SERVO_FIELD_STRING, .pattern = "([a-z"},
        {.name = "o", .type = SERVO_FIELD_OBJECT, .object = &window_schema, .shorthand = "nope"},
        SERVO_FIELDS_END,
    };
    assert_int_equal(check(bad_pattern,
                           "Broken: s: the pattern /([a-z/ does not compile: missing terminating ] "
                           "for character class\n"
                           "Broken: o: the shorthand \"nope\" names no field of Window"),
                     -1);
    diags_free(&diags);
}

/* ---- JSON Schema ----------------------------------------------------------------------- */

static json_t *property(json_t *schema, const char *name)
{
    json_t *p = json_object_get(json_object_get(schema, "properties"), name);
    if (p == NULL)
        fail_msg("no property %s", name);
    return p;
}

static void assert_property(json_t *schema, const char *name, const char *expected)
{
    assert_json(property(schema, name), expected);
}

static void test_json_schema(void **state)
{
    (void)state;
    json_t *s = settings_json_schema(&demo_schema, "SERVO_DEMO");
    assert_string_equal(json_string_value(json_object_get(s, "$schema")),
                        "https://json-schema.org/draft/2020-12/schema");
    assert_string_equal(json_string_value(json_object_get(s, "title")), "Demo");
    assert_string_equal(json_string_value(json_object_get(s, "description")), "A demo connector");
    assert_string_equal(json_string_value(json_object_get(s, "type")), "object");
    assert_true(json_is_false(json_object_get(s, "additionalProperties")));
    assert_json(json_object_get(s, "required"), "[\"name\",\"url\"]");
    assert_int_equal(json_object_size(json_object_get(s, "properties")), 24);

    assert_property(s, "enabled",
                    "{\"type\":[\"boolean\",\"null\"],\"description\":\"Whether it runs\","
                    "\"default\":true,\"env_names\":[\"SERVO_DEMO_ENABLED\"]}");
    assert_property(s, "port",
                    "{\"type\":[\"integer\",\"null\"],\"minimum\":1.0,\"maximum\":65535.0,"
                    "\"default\":8080,\"env_names\":[\"SERVO_DEMO_PORT\"]}");
    assert_property(s, "name",
                    "{\"type\":\"string\",\"pattern\":\"^[a-z][a-z0-9-]*$\",\"minLength\":1,"
                    "\"env_names\":[\"SERVO_DEMO_NAME\"]}");
    assert_property(s, "token",
                    "{\"type\":[\"string\",\"null\"],\"writeOnly\":true,"
                    "\"env_names\":[\"SERVO_DEMO_TOKEN\",\"DEMO_TOKEN\"]}");
    assert_property(s, "password",
                    "{\"type\":[\"string\",\"null\"],\"writeOnly\":true,"
                    "\"env_names\":[\"SERVO_DEMO_PASSWORD\"]}");
    assert_property(s, "url",
                    "{\"type\":\"string\",\"format\":\"uri\",\"env_names\":[\"SERVO_DEMO_URL\"]}");
    assert_property(s, "mode",
                    "{\"enum\":[\"fast\",\"slow\",null],\"default\":\"fast\","
                    "\"env_names\":[\"SERVO_DEMO_MODE\"]}");
    assert_property(s, "tags",
                    "{\"anyOf\":[{\"type\":[\"array\",\"null\"],\"items\":{\"type\":\"string\"},"
                    "\"minItems\":1},{\"type\":\"string\"}],\"default\":[\"a\",\"b\"],"
                    "\"env_names\":[\"SERVO_DEMO_TAGS\"]}");
    assert_property(s, "internal", "{\"type\":[\"string\",\"null\"],\"env_names\":[]}");
    json_t *timeout = property(s, "timeout");
    assert_json(json_object_get(timeout, "type"), "[\"string\",\"number\",\"null\"]");
    assert_string_equal(json_string_value(json_object_get(timeout, "format")), "go-duration");
    assert_string_equal(json_string_value(json_object_get(timeout, "default")), "15s");
    assert_json(json_object_get(property(s, "cpu"), "default"), "\"250m\"");
    assert_json(json_object_get(property(s, "rate"), "type"), "[\"string\",\"integer\",\"null\"]");

    /* list items: no env names, not nullable; objects: properties of their own */
    json_t *items = json_object_get(property(s, "steps"), "items");
    assert_string_equal(json_string_value(json_object_get(items, "title")), "Step");
    assert_json(json_object_get(items, "required"), "[\"name\"]");
    json_t *step = property(items, "step");
    assert_json(json_object_get(items, "additionalProperties"), "false");
    assert_property(items, "name", "{\"type\":\"string\"}");
    assert_json(json_object_get(step, "type"), "[\"string\",\"number\",\"null\"]");
    assert_json(json_object_get(step, "default"), "\"5s\"");
    assert_null(json_object_get(step, "env_names"));
    assert_null(json_object_get(property(s, "steps"), "default"));
    assert_json(json_object_get(property(s, "steps"), "env_names"), "[\"SERVO_DEMO_STEPS\"]");
    json_decref(s);
}

static void test_json_schema_nesting(void **state)
{
    (void)state;
    json_t *s = settings_json_schema(&demo_schema, "SERVO_DEMO");
    /* nested objects: env names joined with _ */
    json_t *ff = property(s, "fast_fail");
    assert_json(json_object_get(ff, "type"), "[\"object\",\"null\"]");
    assert_true(json_is_false(json_object_get(ff, "additionalProperties")));
    assert_json(json_object_get(ff, "env_names"), "[\"SERVO_DEMO_FAST_FAIL\"]");
    assert_json(json_object_get(property(ff, "period"), "env_names"),
                "[\"SERVO_DEMO_FAST_FAIL_PERIOD\"]");
    assert_json(json_object_get(property(ff, "count"), "env_names"),
                "[\"SERVO_DEMO_FAST_FAIL_COUNT\"]");
    assert_json(json_object_get(property(ff, "count"), "default"), "3");
    /* a shorthand is an alternative shape */
    json_t *extra = property(s, "extra");
    json_t *any = json_object_get(extra, "anyOf");
    assert_int_equal(json_array_size(any), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(any, 0), "title")),
                        "Window");
    assert_string_equal(json_string_value(json_object_get(json_array_get(any, 1), "format")),
                        "go-duration");
    assert_json(json_object_get(extra, "env_names"), "[\"SERVO_DEMO_EXTRA\"]");
    assert_property(s, "labels",
                    "{\"anyOf\":[{\"type\":[\"object\",\"null\"],\"additionalProperties\":"
                    "{\"type\":\"string\"}},{\"type\":\"string\"}],"
                    "\"env_names\":[\"SERVO_DEMO_LABELS\"]}");
    assert_property(s, "toggle",
                    "{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"string\"}],"
                    "\"env_names\":[\"SERVO_DEMO_TOGGLE\"]}");
    json_decref(s);

    /* without a prefix, no env names (but aliases still) */
    s = settings_object_schema(&demo_schema, NULL);
    assert_null(json_object_get(s, "$schema"));
    assert_null(json_object_get(property(s, "port"), "env_names"));
    assert_json(json_object_get(property(s, "token"), "env_names"), "[\"DEMO_TOKEN\"]");
    assert_null(json_object_get(property(property(s, "fast_fail"), "count"), "env_names"));
    json_decref(s);

    /* a NO_ENV object has no variables for its fields either */
    const struct servo_field fields[] = {
        {.name = "hidden",
         .type = SERVO_FIELD_OBJECT,
         .flags = SERVO_F_NO_ENV,
         .object = &window_schema},
        SERVO_FIELDS_END,
    };
    const struct servo_schema schema = {.title = "T", .size = 16, .fields = fields};
    s = settings_object_schema(&schema, "SERVO_T");
    assert_json(json_object_get(property(s, "hidden"), "env_names"), "[]");
    assert_null(json_object_get(property(property(s, "hidden"), "count"), "env_names"));
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_loads),
        cmocka_unit_test(test_defaults_filled),
        cmocka_unit_test(test_every_error_is_reported),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_field_required),
        cmocka_unit_test(test_wrong_kinds),
        cmocka_unit_test(test_quoted_scalars_are_strings),
        cmocka_unit_test(test_scalar_errors),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_lists_maps_and_shorthands),
        cmocka_unit_test(test_named_shorthand_and_map_of_objects),
        cmocka_unit_test(test_validate_callbacks),
        cmocka_unit_test(test_custom_fields),
        cmocka_unit_test(test_failed_load_frees_everything),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_secret_flag_masks_any_type),
        cmocka_unit_test(test_to_json_round_trip),
        cmocka_unit_test(test_check_schema),
        cmocka_unit_test(test_json_schema),
        cmocka_unit_test(test_json_schema_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
