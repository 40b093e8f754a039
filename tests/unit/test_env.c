/* Environment overrides: SERVO_<KEY>='{json}' stanzas, SERVO_<KEY>_<FIELD> variables (nested
 * objects joined with _), aliases, precedence, and `.env` files. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/diag.h"
#include "config/env.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "util/util.h"

/* ---- a fake environment ---------------------------------------------------------------- */

struct fake_env {
    const char *names[16];
    const char *values[16];
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

static void fake_set(struct fake_env *e, const char *name, const char *value)
{
    assert_true(e->count < 16);
    e->names[e->count] = name;
    e->values[e->count++] = value;
}

static struct env_lookup lookup(struct fake_env *e)
{
    return (struct env_lookup){.get = fake_get, .context = e};
}

/* ---- the table ------------------------------------------------------------------------- */

struct fast_fail {
    servo_duration period;
    struct servo_list skip;
};

static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};

static const struct servo_field fast_fail_fields[] = {
    {.name = "period",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct fast_fail, period),
     .def = "30s"},
    {.name = "skip",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct fast_fail, skip),
     .item = &string_item},
    SERVO_FIELDS_END,
};

static const struct servo_schema fast_fail_schema = {
    .title = "FastFail",
    .size = sizeof(struct fast_fail),
    .fields = fast_fail_fields,
};

struct load {
    struct servo_rate rate;
    servo_duration duration;
    char *target;
    char *token;
    int64_t workers;
    bool enabled;
    struct servo_list targets;
    struct servo_map headers;
    struct fast_fail fast_fail;
    struct fast_fail *extra;
    char *internal;
    struct fast_fail hidden;
};

static const struct servo_field load_fields[] = {
    {.name = "rate",
     .type = SERVO_FIELD_RATE,
     .offset = offsetof(struct load, rate),
     .def = "50/1s"},
    {.name = "duration",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct load, duration),
     .def = "5m"},
    {.name = "target", .type = SERVO_FIELD_STRING, .offset = offsetof(struct load, target)},
    {.name = "token",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct load, token),
     .env_alias = "OPSANI_TOKEN"},
    {.name = "workers",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct load, workers),
     .def = "10"},
    {.name = "enabled", .type = SERVO_FIELD_BOOL, .offset = offsetof(struct load, enabled)},
    {.name = "targets",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct load, targets),
     .item = &string_item,
     .shorthand = "one"},
    {.name = "headers",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct load, headers),
     .item = &string_item},
    {.name = "fast_fail",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct load, fast_fail),
     .object = &fast_fail_schema},
    {.name = "extra",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct load, extra),
     .flags = SERVO_F_OPTIONAL,
     .object = &fast_fail_schema},
    {.name = "internal",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct load, internal),
     .flags = SERVO_F_NO_ENV},
    {.name = "hidden",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct load, hidden),
     .flags = SERVO_F_NO_ENV,
     .object = &fast_fail_schema},
    SERVO_FIELDS_END,
};

static const struct servo_schema load_schema = {
    .title = "Load",
    .size = sizeof(struct load),
    .fields = load_fields,
};

/* ---- helpers --------------------------------------------------------------------------- */

struct run {
    struct yaml_documents docs;
    struct servo_node *stanza; /* the "x" stanza, taken from the document */
    struct servo_diags diags;
    int stanza_rc;
    int fields_rc;
    struct load *settings;
};

/* As the assembly does: the file's stanza, then SERVO_X, then SERVO_X_<FIELD>, then load. */
static struct load *run(struct run *r, const char *file, struct fake_env *env)
{
    diags_init(&r->diags);
    r->docs.count = 0;
    r->docs.items = NULL;
    r->stanza = NULL;
    if (file != NULL) {
        assert_int_equal(yaml_load(file, strlen(file), "t.yaml", &r->docs, &r->diags), 0);
        r->stanza = node_map_take(r->docs.items[0], "x");
    }
    struct env_lookup e = lookup(env);
    r->stanza_rc = env_apply_stanza(&e, "SERVO_X", &r->stanza, "x", &r->diags);
    r->fields_rc = env_apply_fields(&e, &load_schema, "SERVO_X", &r->stanza, "x", &r->diags);
    r->settings = NULL;
    if (r->stanza_rc >= 0 && r->fields_rc >= 0)
        r->settings = settings_load(&load_schema, r->stanza, "x", NULL, &r->diags);
    return r->settings;
}

static void run_free(struct run *r)
{
    settings_free(&load_schema, r->settings);
    node_free(r->stanza);
    yaml_documents_free(&r->docs);
    diags_free(&r->diags);
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

static struct load *must_load(struct run *r, const char *file, struct fake_env *env)
{
    struct load *l = run(r, file, env);
    if (l == NULL) {
        print_error("%s\n", all_diags(&r->diags));
        fail();
    }
    assert_int_equal(r->diags.count, 0);
    return l;
}

static void assert_rejected(const char *file, struct fake_env *env, const char *expected)
{
    struct run r;
    assert_null(run(&r, file, env));
    assert_diags(&r.diags, expected);
    run_free(&r);
}

static const char *item(const struct servo_list *list, size_t i)
{
    return ((char **)list->items)[i];
}

/* ---- whole-stanza JSON ----------------------------------------------------------------- */

static void test_stanza_json_deep_merge(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X",
             "{\"rate\": \"20/1s\", \"fast_fail\": {\"skip\": [\"b\"]}, "
             "\"headers\": {\"B\": \"2\"}}");
    struct run r;
    struct load *l = must_load(&r,
                               "x:\n"
                               "  rate: 10/1s\n"
                               "  target: file\n"
                               "  fast_fail: {period: 1m, skip: [a, c]}\n"
                               "  headers: {A: '1'}\n",
                               &env);
    assert_int_equal(r.stanza_rc, 1);
    assert_int_equal(r.fields_rc, 0);
    /* the variable wins; mappings merge key by key; lists are replaced */
    assert_int_equal(l->rate.hits, 20);
    assert_string_equal(l->target, "file");
    assert_int_equal(l->fast_fail.period, SERVO_MINUTE);
    assert_int_equal(l->fast_fail.skip.count, 1);
    assert_string_equal(item(&l->fast_fail.skip, 0), "b");
    assert_int_equal(l->headers.count, 2);
    assert_string_equal(l->headers.keys[0], "A");
    assert_string_equal(l->headers.keys[1], "B");
    /* values keep their origin */
    const struct servo_node *rate = servo_node_get(r.stanza, "rate");
    assert_string_equal(servo_node_source(rate), "$SERVO_X");
    assert_int_equal(servo_node_line(rate), 0);
    assert_true(servo_node_quoted(rate));
    assert_string_equal(servo_node_source(servo_node_get(r.stanza, "target")), "t.yaml");
    run_free(&r);
}

static void test_stanza_json_without_file(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X", "{\"workers\": 3, \"enabled\": true, \"duration\": 90}");
    struct run r;
    struct load *l = must_load(&r, NULL, &env);
    assert_int_equal(r.stanza_rc, 1);
    /* JSON numbers and booleans are numbers and booleans */
    assert_int_equal(l->workers, 3);
    assert_true(l->enabled);
    assert_int_equal(l->duration, 90 * SERVO_SECOND);
    run_free(&r);

    /* a null stanza in the file is replaced */
    l = must_load(&r, "x:\n", &env);
    assert_int_equal(l->workers, 3);
    run_free(&r);

    /* unset: nothing happens */
    struct fake_env none = {0};
    struct servo_node *stanza = NULL;
    struct servo_diags diags;
    diags_init(&diags);
    struct env_lookup e = lookup(&none);
    assert_int_equal(env_apply_stanza(&e, "SERVO_X", &stanza, "x", &diags), 0);
    assert_null(stanza);
    assert_int_equal(diags.count, 0);
    diags_free(&diags);
}

static void test_stanza_json_errors(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X", "{\"rate\": }");
    struct run r;
    assert_null(run(&r, "x: {target: t}\n", &env));
    assert_int_equal(r.stanza_rc, -1);
    assert_diags(&r.diags, "$SERVO_X:1:10: x: invalid JSON: unexpected token near '}'");
    /* the file's stanza is untouched */
    assert_string_equal(servo_node_text(servo_node_get(r.stanza, "target")), "t");
    run_free(&r);

    env.values[0] = "{\"a\": 1,\n \"a\": 2}";
    assert_rejected(NULL, &env, "$SERVO_X:2:4: x: invalid JSON: duplicate object key near '\"a\"'");
    env.values[0] = "";
    assert_rejected(NULL, &env, "$SERVO_X:1:0: x: invalid JSON: unexpected token near end of file");

    const char *not_objects[][2] = {
        {"[1, 2]", "a sequence"},
        {"\"text\"", "a string"},
        {"42", "a scalar"},
        {"null", "null"},
    };
    for (size_t i = 0; i < 4; i++) {
        env.values[0] = not_objects[i][0];
        char *expected =
            xasprintf("$SERVO_X: x: expected a JSON object, got %s", not_objects[i][1]);
        assert_rejected("x: {target: t}\n", &env, expected);
        free(expected);
    }
}

/* ---- per-field variables --------------------------------------------------------------- */

static void test_field_scalars_verbatim(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X_TARGET", "{job=\"x\"}");
    fake_set(&env, "SERVO_X_RATE", "30/1m");
    fake_set(&env, "SERVO_X_WORKERS", "7");
    fake_set(&env, "SERVO_X_ENABLED", "yes");
    fake_set(&env, "SERVO_X_DURATION", "[1]");
    struct run r;
    assert_null(run(&r, NULL, &env));
    assert_int_equal(r.fields_rc, 5);
    /* "[1]" is text for a duration: an invalid one */
    assert_diags(&r.diags, "$SERVO_X_DURATION: x.duration: invalid duration \"[1]\": missing "
                           "number");
    run_free(&r);

    env.values[4] = "1h";
    struct load *l = must_load(&r, NULL, &env);
    assert_string_equal(l->target, "{job=\"x\"}");
    assert_int_equal(l->rate.hits, 30);
    assert_int_equal(l->rate.period, SERVO_MINUTE);
    assert_int_equal(l->workers, 7);
    assert_true(l->enabled);
    assert_int_equal(l->duration, SERVO_HOUR);
    /* the stanza was created for them, located at the first variable applied */
    assert_string_equal(servo_node_source(r.stanza), "$SERVO_X_RATE");
    const struct servo_node *target = servo_node_get(r.stanza, "target");
    assert_false(servo_node_quoted(target));
    assert_string_equal(servo_node_source(target), "$SERVO_X_TARGET");
    run_free(&r);

    /* a plain scalar from the environment is not an integer when it has blanks */
    struct fake_env blank = {0};
    fake_set(&blank, "SERVO_X_WORKERS", " 8");
    assert_rejected(NULL, &blank, "$SERVO_X_WORKERS: x.workers: invalid integer \" 8\"");
    /* an empty variable is an empty string */
    struct fake_env empty = {0};
    fake_set(&empty, "SERVO_X_TARGET", "");
    l = must_load(&r, NULL, &empty);
    assert_string_equal(l->target, "");
    run_free(&r);
}

static void test_field_containers_as_json(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X_TARGETS", " [\"a\", \"b\"]");
    fake_set(&env, "SERVO_X_HEADERS", "{\"X-One\": \"1\"}");
    fake_set(&env, "SERVO_X_FAST_FAIL", "{\"period\": \"2m\"}");
    struct run r;
    struct load *l = must_load(&r, "x:\n  headers: {X-Two: '2'}\n  fast_fail: {skip: [s]}\n", &env);
    assert_int_equal(r.fields_rc, 3);
    assert_int_equal(l->targets.count, 2);
    assert_string_equal(item(&l->targets, 1), "b");
    /* mappings merge onto the file's */
    assert_int_equal(l->headers.count, 2);
    assert_string_equal(l->headers.keys[0], "X-Two");
    assert_string_equal(l->headers.keys[1], "X-One");
    assert_int_equal(l->fast_fail.period, 2 * SERVO_MINUTE);
    assert_int_equal(l->fast_fail.skip.count, 1);
    run_free(&r);

    /* a container given text that is not JSON is a plain scalar (a shorthand, here) */
    struct fake_env one = {0};
    fake_set(&one, "SERVO_X_TARGETS", "solo");
    l = must_load(&r, NULL, &one);
    assert_int_equal(l->targets.count, 1);
    assert_string_equal(item(&l->targets, 0), "solo");
    run_free(&r);

    /* bad JSON names the variable, with the place in it */
    struct fake_env bad = {0};
    fake_set(&bad, "SERVO_X_HEADERS", "{\"a\": 1,}");
    struct servo_node *stanza = NULL;
    struct servo_diags diags;
    diags_init(&diags);
    struct env_lookup e = lookup(&bad);
    assert_int_equal(env_apply_fields(&e, &load_schema, "SERVO_X", &stanza, "x", &diags), -1);
    assert_null(stanza);
    assert_diags(&diags, "$SERVO_X_HEADERS:1:9: x.headers: invalid JSON: string or '}' "
                         "expected near '}'");
    diags_free(&diags);
    /* wrong JSON shapes are the engine's to report */
    fake_set(&bad, "SERVO_X_TARGETS", "{\"a\": 1}");
    bad.values[0] = "[\"a\"]";
    assert_rejected(NULL, &bad,
                    "$SERVO_X_TARGETS: x.targets: expected a sequence, got a mapping\n"
                    "$SERVO_X_HEADERS: x.headers: expected a mapping, got a sequence");
}

static void test_nested_object_fields(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X_FAST_FAIL_PERIOD", "2m");
    fake_set(&env, "SERVO_X_EXTRA_SKIP", "[\"e\"]");
    struct run r;
    struct load *l = must_load(&r, "x:\n  fast_fail:\n    skip: [a]\n", &env);
    assert_int_equal(r.fields_rc, 2);
    assert_int_equal(l->fast_fail.period, 2 * SERVO_MINUTE);
    assert_int_equal(l->fast_fail.skip.count, 1);
    /* an optional object comes into being */
    assert_non_null(l->extra);
    assert_int_equal(l->extra->period, 30 * SERVO_SECOND);
    assert_string_equal(item(&l->extra->skip, 0), "e");
    run_free(&r);

    /* without a file, and with a null object in the file */
    l = must_load(&r, NULL, &env);
    assert_int_equal(l->fast_fail.period, 2 * SERVO_MINUTE);
    run_free(&r);
    l = must_load(&r, "x:\n  fast_fail:\n", &env);
    assert_int_equal(l->fast_fail.period, 2 * SERVO_MINUTE);
    run_free(&r);

    /* the per-field variable of the object, then its fields' */
    fake_set(&env, "SERVO_X_FAST_FAIL", "{\"period\": \"9m\", \"skip\": [\"z\"]}");
    l = must_load(&r, NULL, &env);
    assert_int_equal(l->fast_fail.period, 2 * SERVO_MINUTE);
    assert_string_equal(item(&l->fast_fail.skip, 0), "z");
    run_free(&r);

    /* one good and one bad nested variable: an error, and nothing leaks */
    struct fake_env bad = {0};
    fake_set(&bad, "SERVO_X_FAST_FAIL_PERIOD", "1m");
    fake_set(&bad, "SERVO_X_FAST_FAIL_SKIP", "[oops");
    struct run r2;
    assert_null(run(&r2, NULL, &bad));
    assert_int_equal(r2.fields_rc, -1);
    assert_diags(&r2.diags, "$SERVO_X_FAST_FAIL_SKIP:1:5: x.fast_fail.skip: invalid JSON: "
                            "invalid token near 'oops'");
    run_free(&r2);

    /* a nested value that is wrong names its variable */
    struct fake_env wrong = {0};
    fake_set(&wrong, "SERVO_X_FAST_FAIL_PERIOD", "soon");
    assert_rejected("x: {fast_fail: {skip: [a]}}\n", &wrong,
                    "$SERVO_X_FAST_FAIL_PERIOD: x.fast_fail.period: invalid duration \"soon\": "
                    "missing number");
}

static void test_env_alias(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "OPSANI_TOKEN", "from-alias");
    struct run r;
    struct load *l = must_load(&r, "x: {token: from-file}\n", &env);
    assert_int_equal(r.fields_rc, 1);
    assert_string_equal(l->token, "from-alias");
    assert_string_equal(servo_node_source(servo_node_get(r.stanza, "token")), "$OPSANI_TOKEN");
    run_free(&r);
    /* the canonical name wins over the alias, whatever the order */
    fake_set(&env, "SERVO_X_TOKEN", "canonical");
    l = must_load(&r, NULL, &env);
    assert_int_equal(r.fields_rc, 2);
    assert_string_equal(l->token, "canonical");
    run_free(&r);
}

static void test_precedence(void **state)
{
    (void)state;
    const char *file = "x:\n  rate: 10/1s\n  duration: 1m\n  workers: 1\n";
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X", "{\"rate\": \"20/1s\", \"duration\": \"2m\"}");
    fake_set(&env, "SERVO_X_RATE", "30/1s");
    struct run r;
    struct load *l = must_load(&r, file, &env);
    /* per-field > whole-stanza JSON > file > default */
    assert_int_equal(l->rate.hits, 30);
    assert_int_equal(l->duration, 2 * SERVO_MINUTE);
    assert_int_equal(l->workers, 1);
    assert_int_equal(l->fast_fail.period, 30 * SERVO_SECOND);
    run_free(&r);
}

static void test_bad_value_names_the_variable(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X_RATE", "fast");
    fake_set(&env, "SERVO_X_WORKERS", "many");
    assert_rejected("x: {rate: 1/1s}\n", &env,
                    "$SERVO_X_RATE: x.rate: invalid rate \"fast\": hits must be a non-negative "
                    "integer\n"
                    "$SERVO_X_WORKERS: x.workers: invalid integer \"many\"");
    /* an unknown key from the stanza variable, merged into the file's mapping, still names
     * the variable */
    struct fake_env stanza = {0};
    fake_set(&stanza, "SERVO_X", "{\"colour\": \"red\"}");
    assert_rejected("x: {rate: 1/1s}\n", &stanza,
                    "$SERVO_X: x.colour: unknown key \"colour\" (allowed: rate, duration, target, "
                    "token, workers, enabled, targets, headers, fast_fail, extra, internal, "
                    "hidden)");
}

static void test_no_env_fields_and_no_stanza(void **state)
{
    (void)state;
    struct fake_env env = {0};
    fake_set(&env, "SERVO_X_INTERNAL", "x");
    fake_set(&env, "SERVO_X_HIDDEN", "{\"period\": \"1s\"}");
    fake_set(&env, "SERVO_X_HIDDEN_PERIOD", "1s");
    fake_set(&env, "SERVO_Y_RATE", "1/1s");
    fake_set(&env, "SERVO_XRATE", "1/1s");
    fake_set(&env, "servo_x_rate", "1/1s");
    struct servo_node *stanza = NULL;
    struct servo_diags diags;
    diags_init(&diags);
    struct env_lookup e = lookup(&env);
    assert_int_equal(env_apply_fields(&e, &load_schema, "SERVO_X", &stanza, "x", &diags), 0);
    assert_null(stanza);
    /* a stanza in the file is left as it was */
    struct servo_node *file = node_new_scalar("text", false, "t.yaml", 1, 4);
    assert_int_equal(env_apply_fields(&e, &load_schema, "SERVO_X", &file, "x", &diags), 0);
    assert_string_equal(file->text, "text");
    node_free(file);
    assert_int_equal(diags.count, 0);

    /* a stanza that is not a mapping takes no variables: the engine reports the file */
    struct fake_env rate = {0};
    fake_set(&rate, "SERVO_X_RATE", "1/1s");
    assert_rejected("x: text\n", &rate, "t.yaml:1:4: x: expected a mapping, got a scalar");
}

static void test_value_node(void **state)
{
    (void)state;
    struct servo_diags diags;
    diags_init(&diags);
    struct servo_node *n = env_value_node("V", "5", false, "p", &diags);
    assert_int_equal(n->kind, SERVO_NODE_SCALAR);
    assert_false(n->quoted);
    assert_string_equal(n->source, "$V");
    node_free(n);
    n = env_value_node("V", "5", true, "p", &diags);
    assert_int_equal(n->kind, SERVO_NODE_SCALAR);
    assert_false(n->quoted);
    node_free(n);
    n = env_value_node("V", "\"5\"", true, "p", &diags);
    assert_true(n->quoted);
    node_free(n);
    n = env_value_node("V", "\t{\"a\": [1, null, 2.5]}", false, "p", &diags);
    assert_int_equal(n->kind, SERVO_NODE_MAP);
    const struct servo_node *a = servo_node_get(n, "a");
    assert_int_equal(a->count, 3);
    assert_int_equal(a->items[1]->kind, SERVO_NODE_NULL);
    assert_string_equal(a->items[2]->text, "2.5");
    node_free(n);
    assert_null(env_value_node("V", "{", false, "p", &diags));
    assert_diags(&diags, "$V:1:1: p: invalid JSON: string or '}' expected near end of file");
    diags_free(&diags);
}

/* ---- .env files ------------------------------------------------------------------------ */

static void test_dotenv(void **state)
{
    (void)state;
    unsetenv("CFGTEST_A");
    unsetenv("CFGTEST_B");
    unsetenv("CFGTEST_C");
    unsetenv("CFGTEST_D");
    unsetenv("CFGTEST_E");
    unsetenv("CFGTEST_F");
    unsetenv("CFGTEST_G");
    unsetenv("CFGTEST_H");
    unsetenv("CFGTEST_EMPTY");
    unsetenv("CFGTEST_EXPORTED");
    setenv("CFGTEST_EXISTING", "original", 1);
    setenv("CFGTEST_EXISTING_EMPTY", "", 1);
    const char *path =
        test_write_file("test.env", "# a comment\n"
                                    "\n"
                                    "CFGTEST_A=1\n"
                                    "export CFGTEST_EXPORTED=yes\n"
                                    "CFGTEST_B='single # kept \\n'\n"
                                    "CFGTEST_C=\"double \\\"q\\\"\\nnext\\t\\\\ end\"\n"
                                    "CFGTEST_D=plain value  # inline comment\n"
                                    "CFGTEST_E=hash#inside\n"
                                    "   CFGTEST_F =  spaced  \r\n"
                                    "CFGTEST_G=\"quoted\"   # comment after quotes\n"
                                    "  # indented comment\n"
                                    "CFGTEST_EXISTING=replaced\n"
                                    "CFGTEST_EXISTING_EMPTY=replaced\n"
                                    "CFGTEST_EMPTY=\n"
                                    "CFGTEST_H='it''s'\n"
                                    "no equals sign\n"
                                    "1BAD=x\n"
                                    "BAD-NAME=x\n"
                                    "=x\n"
                                    "CFGTEST_OPEN=\"never closed\n"
                                    "CFGTEST_LAST=no newline");
    char *copy = xstrdup(path);
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(dotenv_load(copy, &diags), -1);
    char *expected = xasprintf("%1$s:15:11: CFGTEST_H: unexpected text after the quoted value\n"
                               "%1$s:16:1: expected NAME=VALUE\n"
                               "%1$s:17:1: expected NAME=VALUE\n"
                               "%1$s:18:1: expected NAME=VALUE\n"
                               "%1$s:19:1: expected NAME=VALUE\n"
                               "%1$s:20:14: CFGTEST_OPEN: the quoted value is not closed",
                               copy);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);
    assert_string_equal(getenv("CFGTEST_A"), "1");
    assert_string_equal(getenv("CFGTEST_EXPORTED"), "yes");
    assert_string_equal(getenv("CFGTEST_B"), "single # kept \\n");
    assert_string_equal(getenv("CFGTEST_C"), "double \"q\"\nnext\t\\ end");
    assert_string_equal(getenv("CFGTEST_D"), "plain value");
    assert_string_equal(getenv("CFGTEST_E"), "hash#inside");
    assert_string_equal(getenv("CFGTEST_F"), "spaced");
    assert_string_equal(getenv("CFGTEST_G"), "quoted");
    assert_string_equal(getenv("CFGTEST_EXISTING"), "original");
    assert_string_equal(getenv("CFGTEST_EXISTING_EMPTY"), "");
    assert_string_equal(getenv("CFGTEST_EMPTY"), "");
    assert_null(getenv("CFGTEST_H"));
    assert_null(getenv("CFGTEST_OPEN"));
    assert_string_equal(getenv("CFGTEST_LAST"), "no newline");
    free(copy);

    /* a good file returns 0 */
    path = test_write_file("good.env", "CFGTEST_GOOD=1\n");
    assert_int_equal(dotenv_load(path, &diags), 0);
    assert_int_equal(diags.count, 0);
    assert_string_equal(getenv("CFGTEST_GOOD"), "1");

    /* a NUL byte spoils its line only */
    char *nul = xasprintf("%s/nul.env", test_scratch_dir());
    FILE *f = fopen(nul, "w");
    fwrite("CFGTEST_N1=a\0b\nCFGTEST_N2=c\n", 1, 28, f);
    fclose(f);
    unsetenv("CFGTEST_N1");
    assert_int_equal(dotenv_load(nul, &diags), -1);
    expected = xasprintf("%s:1:1: the line contains a NUL byte", nul);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);
    assert_null(getenv("CFGTEST_N1"));
    assert_string_equal(getenv("CFGTEST_N2"), "c");
    free(nul);
}

/* A .env file cannot set what loads or locates code; the rest of the file still applies. */
static void test_dotenv_refuses_code_variables(void **state)
{
    (void)state;
    const char *refused[] = {
        "SERVO_PLUGIN_PATH",  "LD_PRELOAD",       "LD_LIBRARY_PATH",     "PATH",
        "KUBECONFIG",         "SERVO_WRK_BINARY", "SERVO_VEGETA_BINARY", "SERVO_WRK_SCRIPT",
        "SERVO_EXEC_MEASURE", "SERVO_NGINX"};
    char *saved_path = xstrdup(getenv("PATH") ? getenv("PATH") : "");
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        unsetenv(refused[i]);
    unsetenv("CFGTEST_KEPT");
    unsetenv("SERVO_VEGETA_WORKERS");
    unsetenv("SERVO_PROM");
    const char *path = test_write_file(
        "code.env", "SERVO_PLUGIN_PATH=/tmp/evil\n"
                    "export LD_PRELOAD=/tmp/evil.so\n"
                    "LD_LIBRARY_PATH=/tmp\n"
                    "PATH=/tmp/evil-bin\n"
                    "KUBECONFIG=/tmp/kubeconfig-with-exec\n"
                    "SERVO_WRK_BINARY=/tmp/evil\n"
                    "SERVO_VEGETA_BINARY=/tmp/evil\n"
                    "SERVO_WRK_SCRIPT=/tmp/evil.lua\n"
                    "SERVO_EXEC_MEASURE=touch /tmp/pwned\n"
                    "SERVO_NGINX='{\"measure\": {\"command\": \"touch /tmp/pwned\"}}'\n"
                    "CFGTEST_KEPT=1\n"
                    "SERVO_VEGETA_WORKERS=7\n"
                    "SERVO_PROM='{\"base_url\": \"http://localhost:9090\"}'\n");
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(dotenv_load(path, &diags), 0);
    assert_int_equal(diags.count, 0);
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (getenv(refused[i]) != NULL)
            fail_msg("%s was set from .env", refused[i]);
    setenv("PATH", saved_path, 1);
    assert_string_equal(getenv("CFGTEST_KEPT"), "1");
    assert_string_equal(getenv("SERVO_VEGETA_WORKERS"), "7");
    assert_string_equal(getenv("SERVO_PROM"), "{\"base_url\": \"http://localhost:9090\"}");
    unsetenv("SERVO_VEGETA_WORKERS");
    unsetenv("SERVO_PROM");
    free(saved_path);
}

static void test_dotenv_missing_and_unreadable(void **state)
{
    (void)state;
    struct servo_diags diags;
    diags_init(&diags);
    char *missing = xasprintf("%s/no-such.env", test_scratch_dir());
    assert_int_equal(dotenv_load(missing, &diags), 0);
    assert_int_equal(diags.count, 0);
    char *dir = xasprintf("%s/env-dir", test_scratch_dir());
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(dotenv_load(dir, &diags), -1);
    char *expected = xasprintf("%s: is a directory, not a file", dir);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);
    free(missing);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stanza_json_deep_merge),
        cmocka_unit_test(test_stanza_json_without_file),
        cmocka_unit_test(test_stanza_json_errors),
        cmocka_unit_test(test_field_scalars_verbatim),
        cmocka_unit_test(test_field_containers_as_json),
        cmocka_unit_test(test_nested_object_fields),
        cmocka_unit_test(test_env_alias),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_bad_value_names_the_variable),
        cmocka_unit_test(test_no_env_fields_and_no_stanza),
        cmocka_unit_test(test_value_node),
        cmocka_unit_test(test_dotenv),
        cmocka_unit_test(test_dotenv_refuses_code_variables),
        cmocka_unit_test(test_dotenv_missing_and_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
