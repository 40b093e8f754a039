/* The connector registry: every check registry_add makes on a connector struct (ABI, struct
 * size, metadata, settings table, duplicates), lookups, and loading shared objects -- real
 * ones, built from tests/data/plugins/ as MODULE libraries that link nothing and resolve the
 * servo_* symbols from this executable at dlopen. */
#include "support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assembly/builtins.h"
#include "assembly/registry.h"
#include "config/diag.h"
#include "config/settings.h"
#include "servo/servo.h"
#include "util/util.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Asserts that `d` holds exactly the formatted diagnostics `expected` (NULL-terminated). */
static void assert_diags(const struct servo_diags *d, const char *const *expected)
{
    size_t n = 0;
    while (expected[n] != NULL)
        n++;
    for (size_t i = 0; i < d->count; i++) {
        char *line = diag_format(&d->items[i]);
        if (i >= n || strcmp(line, expected[i]) != 0)
            fprintf(stderr, "diagnostic %zu:\n  got:      %s\n  expected: %s\n", i, line,
                    i < n ? expected[i] : "(none)");
        if (i < n)
            assert_string_equal(line, expected[i]);
        free(line);
    }
    assert_int_equal(d->count, n);
}

#define ASSERT_DIAGS(d, ...) assert_diags((d), (const char *const[]){__VA_ARGS__, NULL})

/* The one diagnostic of `d`, formatted; static storage. */
static const char *only_diag(const struct servo_diags *d)
{
    static char text[4096];
    assert_int_equal(d->count, 1);
    char *line = diag_format(&d->items[0]);
    snprintf(text, sizeof text, "%s", line);
    free(line);
    return text;
}

/* "<prefix><ABI>": expected messages track SERVO_ABI_VERSION. */
static const char *abi_message(const char *origin, const char *what, unsigned found)
{
    static char text[1024];
    snprintf(text, sizeof text,
             "%s: %s built for plugin ABI %u, but this servo has ABI %u: rebuild it against the "
             "installed headers",
             origin, what, found, SERVO_ABI_VERSION);
    return text;
}

#define NAME_RULE \
    "connector needs a lower-case name ([a-z][a-z0-9_]*), a class name and a settings table"

/* ---- fake connectors --------------------------------------------------------------------- */

struct fake_settings {
    int64_t count;
    int mode;
};

static const struct servo_field fake_fields[] = {
    {.name = "count",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct fake_settings, count),
     .def = "1"},
    SERVO_FIELDS_END,
};

static const struct servo_schema fake_schema = {
    .title = "Fake Settings",
    .size = sizeof(struct fake_settings),
    .fields = fake_fields,
};

#define FAKE(name_, class_)                                                                  \
    {                                                                                        \
        SERVO_CONNECTOR_HEADER, .name = (name_), .class_name = (class_), .version = "1.0.0", \
                                .description = "A fake connector", .settings = &fake_schema  \
    }

static int setup_registry(void **state)
{
    struct registry *r = calloc(1, sizeof *r);
    struct servo_diags *d = calloc(1, sizeof *d);
    assert_non_null(r);
    assert_non_null(d);
    diags_init(d);
    void **pair = calloc(2, sizeof *pair);
    assert_non_null(pair);
    pair[0] = r;
    pair[1] = d;
    *state = pair;
    return 0;
}

static int teardown_registry(void **state)
{
    void **pair = *state;
    registry_free(pair[0]);
    diags_free(pair[1]);
    free(pair[0]);
    free(pair[1]);
    free(pair);
    return 0;
}

#define REGISTRY(state) ((struct registry *)((void **)*(state))[0])
#define DIAGS(state) ((struct servo_diags *)((void **)*(state))[1])

/* ---- registry_add: accepted ---------------------------------------------------------------- */

static void test_add_accepts_and_copies_origin(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    static const struct servo_connector_plugin alpha = FAKE("alpha", "AlphaConnector");
    static const struct servo_connector_plugin beta = FAKE("beta_2", "BetaConnector");
    char origin[] = "/plugins/alpha.so";
    assert_int_equal(registry_add(r, &alpha, origin, d), 0);
    assert_int_equal(registry_add(r, &beta, NULL, d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, 2);
    assert_ptr_equal(r->entries[0].plugin, &alpha);
    assert_ptr_not_equal(r->entries[0].origin, origin); /* a copy, owned by the registry */
    origin[1] = 'X';
    assert_string_equal(r->entries[0].origin, "/plugins/alpha.so");
    assert_null(r->entries[1].origin); /* built-in */
}

static void test_add_accepts_minimum_struct_size_and_longest_name(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    /* An older struct of the same ABI, without the reserved tail, is still readable. */
    static const struct servo_connector_plugin small = {
        .abi_version = SERVO_ABI_VERSION,
        .struct_size = offsetof(struct servo_connector_plugin, reserved),
        .name = "small",
        .class_name = "SmallConnector",
        .settings = &fake_schema,
    };
    static const struct servo_connector_plugin longest =
        FAKE("a234567890123456789012345678901234567890123456789012345678901234", "Long");
    assert_int_equal(registry_add(r, &small, NULL, d), 0);
    assert_int_equal(registry_add(r, &longest, NULL, d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, 2);
}

/* ---- registry_add: refused --------------------------------------------------------------- */

static void test_add_refuses_null(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    assert_int_equal(registry_add(r, NULL, "/p/null.so", d), -1);
    assert_string_equal(only_diag(d), "/p/null.so: the plugin declares a NULL connector");
    assert_int_equal(r->count, 0);
}

static void test_add_refuses_wrong_abi(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    struct servo_connector_plugin old = FAKE("old", "OldConnector");
    old.abi_version = SERVO_ABI_VERSION + 1;
    assert_int_equal(registry_add(r, &old, "/p/old.so", d), -1);
    assert_string_equal(only_diag(d), abi_message("/p/old.so", "connector", SERVO_ABI_VERSION + 1));
    diags_free(d);
    old.abi_version = 0;
    assert_int_equal(registry_add(r, &old, NULL, d), -1);
    assert_string_equal(only_diag(d), abi_message("built-in", "connector", 0));
    assert_int_equal(r->count, 0);
}

static void test_add_refuses_small_struct(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    struct servo_connector_plugin tiny = FAKE("tiny", "TinyConnector");
    tiny.struct_size = (uint32_t)offsetof(struct servo_connector_plugin, reserved) - 1;
    assert_int_equal(registry_add(r, &tiny, "/p/tiny.so", d), -1);
    char expected[256];
    snprintf(expected, sizeof expected, "/p/tiny.so: connector struct is too small (%u bytes)",
             tiny.struct_size);
    assert_string_equal(only_diag(d), expected);
    diags_free(d);
    tiny.struct_size = 8;
    assert_int_equal(registry_add(r, &tiny, "/p/tiny.so", d), -1);
    assert_string_equal(only_diag(d), "/p/tiny.so: connector struct is too small (8 bytes)");
    assert_int_equal(r->count, 0);
}

static void test_add_refuses_bad_metadata(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    static const struct servo_schema no_fields = {.size = 8};
    const struct servo_connector_plugin bad[] = {
        FAKE("Bad-Name", "BadConnector"),
        FAKE("bad-name", "BadConnector"),
        FAKE("9lives", "NineConnector"),
        FAKE("_private", "PrivateConnector"),
        FAKE("", "EmptyConnector"),
        FAKE(NULL, "NullConnector"),
        FAKE("a2345678901234567890123456789012345678901234567890123456789012345", "TooLong"),
        FAKE("noclass", NULL),
        FAKE("emptyclass", ""),
        {SERVO_CONNECTOR_HEADER, .name = "nosettings", .class_name = "NoSettingsConnector"},
        {SERVO_CONNECTOR_HEADER, .name = "nofields", .class_name = "NoFieldsConnector",
         .settings = &no_fields},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(registry_add(r, &bad[i], "/p/bad.so", d), -1);
        assert_string_equal(only_diag(d), "/p/bad.so: " NAME_RULE);
        diags_free(d);
    }
    assert_int_equal(r->count, 0);
}

static const char *const no_choices[] = {NULL};

static const struct servo_field enum_without_choices_fields[] = {
    {.name = "count", .type = SERVO_FIELD_INT, .offset = offsetof(struct fake_settings, count)},
    {.name = "mode", .type = SERVO_FIELD_ENUM, .offset = offsetof(struct fake_settings, mode)},
    SERVO_FIELDS_END,
};

static const struct servo_field empty_choices_fields[] = {
    {.name = "mode",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct fake_settings, mode),
     .choices = no_choices},
    SERVO_FIELDS_END,
};

static const struct servo_field bad_default_fields[] = {
    {.name = "count",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct fake_settings, count),
     .def = "many"},
    SERVO_FIELDS_END,
};

static const struct servo_field out_of_bounds_default_fields[] = {
    {.name = "count",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct fake_settings, count),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "0"},
    SERVO_FIELDS_END,
};

static void test_add_refuses_broken_settings_table(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    static const struct servo_schema tables[] = {
        {.size = sizeof(struct fake_settings), .fields = enum_without_choices_fields},
        {.size = sizeof(struct fake_settings), .fields = empty_choices_fields},
        {.size = sizeof(struct fake_settings), .fields = bad_default_fields},
        {.size = sizeof(struct fake_settings), .fields = out_of_bounds_default_fields},
    };
    static const char *const expected[] = {
        "/p/broken.so: mode: connector \"broken\" has a broken settings table: an enum field "
        "needs choices",
        "/p/broken.so: mode: connector \"broken\" has a broken settings table: an enum field "
        "needs choices",
        "/p/broken.so: count: connector \"broken\" has a broken settings table: the default "
        "many is invalid: invalid integer \"many\"",
        "/p/broken.so: count: connector \"broken\" has a broken settings table: the default 0 "
        "is invalid: the value must be at least 1",
    };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        struct servo_connector_plugin broken = FAKE("broken", "BrokenConnector");
        broken.settings = &tables[i];
        assert_int_equal(registry_add(r, &broken, "/p/broken.so", d), -1);
        assert_string_equal(only_diag(d), expected[i]);
        diags_free(d);
    }
    assert_int_equal(r->count, 0);
}

static void test_add_refuses_duplicates(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    static const struct servo_connector_plugin alpha = FAKE("alpha", "AlphaConnector");
    static const struct servo_connector_plugin same_name = FAKE("alpha", "OtherConnector");
    static const struct servo_connector_plugin same_class = FAKE("gamma", "AlphaConnector");
    /* A class name equal to an existing name would make `connectors: [alpha]` ambiguous. */
    static const struct servo_connector_plugin class_is_name = FAKE("delta", "alpha");
    assert_int_equal(registry_add(r, &alpha, "/first/alpha.so", d), 0);
    assert_int_equal(registry_add(r, &same_name, "/second/alpha.so", d), -1);
    assert_int_equal(registry_add(r, &same_class, "/second/gamma.so", d), -1);
    assert_int_equal(registry_add(r, &class_is_name, NULL, d), -1);
    ASSERT_DIAGS(d,
                 "/second/alpha.so: connector \"alpha\" (OtherConnector) is refused: the name is "
                 "already provided by /first/alpha.so",
                 "/second/gamma.so: connector \"gamma\" (AlphaConnector) is refused: the name is "
                 "already provided by /first/alpha.so",
                 "built-in: connector \"delta\" (alpha) is refused: the name is already provided "
                 "by /first/alpha.so");
    assert_int_equal(r->count, 1);
    assert_ptr_equal(registry_find(r, "alpha")->plugin, &alpha);
}

/* Whatever the built-ins are, their names and class names are taken. */
static void test_add_refuses_builtin_names(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    assert_int_equal(registry_init(r, "", "", d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, servo_builtin_connector_count());
    /* the servo always has built-ins: without them this test could not test anything */
    if (servo_builtin_connector_count() == 0)
        fail_msg("no built-in connector to impersonate");
    const struct servo_connector_plugin *first = servo_builtin_connectors[0];
    struct servo_connector_plugin by_name = FAKE(first->name, "ImpostorConnector");
    struct servo_connector_plugin by_class = FAKE("impostor", first->class_name);
    assert_int_equal(registry_add(r, &by_name, "/p/impostor.so", d), -1);
    assert_int_equal(registry_add(r, &by_class, "/p/impostor.so", d), -1);
    char expected[2][512];
    snprintf(expected[0], sizeof expected[0],
             "/p/impostor.so: connector \"%s\" (ImpostorConnector) is refused: the name is "
             "already provided by built-in",
             first->name);
    snprintf(expected[1], sizeof expected[1],
             "/p/impostor.so: connector \"impostor\" (%s) is refused: the name is already "
             "provided by built-in",
             first->class_name);
    ASSERT_DIAGS(d, expected[0], expected[1]);
    assert_int_equal(r->count, servo_builtin_connector_count());
}

/* ---- registry_find ----------------------------------------------------------------------- */

static void test_find_by_name_and_class_name(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    static const struct servo_connector_plugin alpha = FAKE("alpha", "AlphaConnector");
    static const struct servo_connector_plugin beta = FAKE("beta", "BetaConnector");
    assert_null(registry_find(r, "alpha")); /* empty registry */
    assert_int_equal(registry_add(r, &alpha, NULL, d), 0);
    assert_int_equal(registry_add(r, &beta, "/p/beta.so", d), 0);
    assert_ptr_equal(registry_find(r, "alpha"), &r->entries[0]);
    assert_ptr_equal(registry_find(r, "AlphaConnector"), &r->entries[0]);
    assert_ptr_equal(registry_find(r, "beta"), &r->entries[1]);
    assert_ptr_equal(registry_find(r, "BetaConnector"), &r->entries[1]);
    assert_string_equal(registry_find(r, "BetaConnector")->origin, "/p/beta.so");
    assert_null(registry_find(r, "gamma"));
    assert_null(registry_find(r, "Alpha")); /* exact, case-sensitive */
    assert_null(registry_find(r, "alphaconnector"));
    assert_null(registry_find(r, ""));
}

static void test_find_builtins(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    assert_int_equal(registry_init(r, "", "", d), 0);
    for (size_t i = 0; servo_builtin_connectors[i] != NULL; i++) {
        const struct servo_connector_plugin *p = servo_builtin_connectors[i];
        assert_ptr_equal(registry_find(r, p->name)->plugin, p);
        assert_ptr_equal(registry_find(r, p->class_name)->plugin, p);
        assert_null(registry_find(r, p->name)->origin);
    }
}

/* ---- registry_load_plugin: files that are not plugins ----------------------------------- */

static char *resolved(const char *path)
{
    char *real = realpath(path, NULL);
    assert_non_null(real);
    return real;
}

static void test_load_refuses_non_elf_file(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    char text[256];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    char *path = resolved(test_write_file("not-a-plugin.so", text));
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    assert_int_equal(d->count, 1);
    assert_string_equal(d->items[0].source, path);
    /* dlerror()'s wording is the C library's; the prefix is ours. */
    const char *message = d->items[0].message;
    assert_true(strncmp(message, "cannot load plugin: ", 20) == 0);
    assert_non_null(strstr(message, "not-a-plugin.so"));
    assert_int_equal(r->count, 0);
    assert_int_equal(r->handle_count, 0);
    free(path);
}

static void test_load_refuses_missing_file(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    assert_int_equal(registry_load_plugin(r, "/nonexistent/servo/missing.so", d), -1);
    assert_string_equal(only_diag(d), "/nonexistent/servo/missing.so: cannot load plugin: No "
                                      "such file or directory");
    diags_free(d);
    /* A bare name is a path relative to the working directory, never a library looked up on
     * the search path: libc.so.6 surely loads from there, yet it is not in this directory. */
    assert_int_equal(access("libc.so.6", F_OK), -1);
    assert_int_equal(registry_load_plugin(r, "libc.so.6", d), -1);
    assert_string_equal(only_diag(d), "libc.so.6: cannot load plugin: No such file or directory");
    assert_int_equal(r->count, 0);
    assert_int_equal(r->handle_count, 0);
}

static void test_init_refuses_missing_path_entry(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    /* Empty entries are skipped; the missing one is an error; the registry stays usable. */
    assert_int_equal(registry_init(r, "::/nonexistent/servo/plugins:", "", d), -1);
    assert_string_equal(only_diag(d), "/nonexistent/servo/plugins: SERVO_PLUGIN_PATH names a "
                                      "path that does not exist");
    assert_int_equal(r->count, servo_builtin_connector_count());
    diags_free(d);
    registry_free(r);
    /* A missing installed directory is not an error: nothing is installed there yet. */
    assert_int_equal(registry_init(r, "", "/nonexistent/servo/plugins", d), 0);
    assert_int_equal(d->count, 0);
}

/* An empty directory, or one with nothing but other files and hidden ones, loads nothing. */
static void test_init_empty_directory(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/empty-plugins", test_scratch_dir());
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(registry_init(r, dir, dir, d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, servo_builtin_connector_count());
    registry_free(r);
    test_write_file("empty-plugins/README", "not a plugin\n");
    test_write_file("empty-plugins/.hidden.so", "not a plugin either\n");
    test_write_file("empty-plugins/plugin.so.txt", "nor this\n");
    assert_int_equal(registry_init(r, dir, dir, d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, servo_builtin_connector_count());
    assert_int_equal(r->handle_count, 0);
}

static void test_init_reads_environment(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    assert_int_equal(setenv("SERVO_PLUGIN_PATH", "/nonexistent/servo/from-env", 1), 0);
    int rc = registry_init(r, NULL, "", d);
    unsetenv("SERVO_PLUGIN_PATH");
    assert_int_equal(rc, -1);
    assert_string_equal(only_diag(d), "/nonexistent/servo/from-env: SERVO_PLUGIN_PATH names a "
                                      "path that does not exist");
}

/* ---- real shared objects ------------------------------------------------------------------ */

#ifdef SERVO_TEST_PLUGIN_DIR

/* The resolved path of plugins/<name>.so; static storage, one per slot. */
static const char *plugin_path(const char *name)
{
    static char paths[4][PATH_MAX];
    static size_t next;
    char *slot = paths[next++ % 4];
    char raw[PATH_MAX];
    snprintf(raw, sizeof raw, "%s/%s.so", SERVO_TEST_PLUGIN_DIR, name);
    char *real = resolved(raw);
    snprintf(slot, PATH_MAX, "%s", real);
    free(real);
    return slot;
}

static const char *plugin_dir(void)
{
    static char dir[PATH_MAX];
    char *real = resolved(SERVO_TEST_PLUGIN_DIR);
    snprintf(dir, sizeof dir, "%s", real);
    free(real);
    return dir;
}

static void test_load_plugin(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const char *path = plugin_path("plugtest");
    assert_int_equal(registry_load_plugin(r, path, d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, 1);
    assert_int_equal(r->handle_count, 1);
    const struct registry_entry *e = registry_find(r, "plugtest");
    assert_non_null(e);
    assert_ptr_equal(registry_find(r, "PlugTestConnector"), e);
    assert_string_equal(e->origin, path);
    assert_string_equal(e->plugin->version, "1.2.3");
    assert_string_equal(e->plugin->description, "A connector plugin for the tests");
    assert_string_equal(e->plugin->homepage, "https://example.com/plugtest");
    assert_string_equal(e->plugin->license, "MIT");
    assert_string_equal(e->plugin->maturity, "Experimental");
    /* The same file again, directly or through a symbolic link, is loaded once. */
    assert_int_equal(registry_load_plugin(r, path, d), 0);
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/link-to-plugtest.so", test_scratch_dir());
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(registry_load_plugin(r, link, d), 0);
    assert_int_equal(d->count, 0);
    assert_int_equal(r->count, 1);
    assert_int_equal(r->handle_count, 1);
}

/* The plugin's code runs in this process and calls back into it: its validator reports
 * through servo_validation_error, which it resolved from this executable at dlopen. */
static void test_plugin_settings_call_back_into_the_host(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    assert_int_equal(registry_load_plugin(r, plugin_path("plugtest"), d), 0);
    const struct servo_schema *schema = registry_find(r, "plugtest")->plugin->settings;

    void *settings = settings_load(schema, NULL, "plugtest", NULL, d);
    assert_non_null(settings);
    assert_int_equal(*(const int64_t *)settings, 3); /* the default */
    settings_free(schema, settings);

    struct servo_node *node = settings_parse_default("{count: 13}");
    assert_non_null(node);
    settings = settings_load(schema, node, "plugtest", NULL, d);
    assert_null(settings);
    assert_int_equal(d->count, 1);
    assert_string_equal(d->items[0].path, "plugtest.count");
    assert_string_equal(d->items[0].message, "13 is an unlucky count");
    node_free(node);
}

static void test_load_refuses_duplicate_plugin(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const char *first = plugin_path("plugtest");
    const char *copy = plugin_path("plugtest_copy");
    assert_int_equal(registry_load_plugin(r, first, d), 0);
    assert_int_equal(registry_load_plugin(r, copy, d), -1);
    char expected[2 * PATH_MAX];
    snprintf(expected, sizeof expected,
             "%s: connector \"plugtest\" (PlugTestConnector) is refused: the name is already "
             "provided by %s",
             copy, first);
    assert_string_equal(only_diag(d), expected);
    assert_int_equal(r->count, 1);
    assert_string_equal(r->entries[0].origin, first);
    assert_int_equal(r->handle_count, 1); /* the copy was closed again */
}

static void test_load_refuses_abi_mismatch(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const char *path = plugin_path("abi_mismatch");
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    assert_string_equal(only_diag(d), abi_message(path, "plugin", 999));
    assert_int_equal(r->count, 0);
    assert_int_equal(r->handle_count, 0);
}

static void test_load_refuses_object_without_manifest(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const char *path = plugin_path("no_manifest");
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    char expected[PATH_MAX + 128];
    snprintf(expected, sizeof expected,
             "%s: not a servo plugin: no \"servo_plugin_manifest\" symbol (declare it with "
             "SERVO_DECLARE_PLUGIN)",
             path);
    assert_string_equal(only_diag(d), expected);
    assert_int_equal(r->handle_count, 0);
}

static void test_load_refuses_manifest_without_list(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const char *path = plugin_path("bad_manifest");
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    char expected[PATH_MAX + 128];
    snprintf(expected, sizeof expected,
             "%s: plugin manifest declares 2 connector(s) but no connector list", path);
    assert_string_equal(only_diag(d), expected);
    assert_int_equal(r->handle_count, 0);
}

/* One connector refused, the other registered: the object stays loaded for the good one. */
static void test_load_keeps_valid_connectors_of_mixed_plugin(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const char *path = plugin_path("mixed");
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    assert_string_equal(only_diag(d), abi_message(path, "connector", 7));
    assert_int_equal(r->count, 1);
    assert_non_null(registry_find(r, "mixed_ok"));
    assert_null(registry_find(r, "mixed_old"));
    assert_int_equal(r->handle_count, 1);
}

/* Every *.so of a directory, in name order; the same through the installed-directory route;
 * a file named both on the path and in the directory is loaded once. */
static void test_init_loads_directory(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    const size_t builtins = servo_builtin_connector_count();
    char expected[5][2 * PATH_MAX];
    snprintf(expected[0], sizeof expected[0], "%s",
             abi_message(plugin_path("abi_mismatch"), "plugin", 999));
    snprintf(expected[1], sizeof expected[1],
             "%s: plugin manifest declares 2 connector(s) but no connector list",
             plugin_path("bad_manifest"));
    snprintf(expected[2], sizeof expected[2], "%s",
             abi_message(plugin_path("mixed"), "connector", 7));
    snprintf(expected[3], sizeof expected[3],
             "%s: not a servo plugin: no \"servo_plugin_manifest\" symbol (declare it with "
             "SERVO_DECLARE_PLUGIN)",
             plugin_path("no_manifest"));
    snprintf(expected[4], sizeof expected[4],
             "%s: connector \"plugtest\" (PlugTestConnector) is refused: the name is already "
             "provided by %s",
             plugin_path("plugtest_copy"), plugin_path("plugtest"));

    const char *routes[][2] = {
        {plugin_dir(), ""},                                   /* SERVO_PLUGIN_PATH */
        {"", plugin_dir()},                                   /* the installed directory */
        {SERVO_TEST_PLUGIN_DIR "/plugtest.so", plugin_dir()}, /* both, overlapping */
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        assert_int_equal(registry_init(r, routes[i][0], routes[i][1], d), -1);
        /* In the third route plugtest.so comes first, from the path, and the directory
         * skips it: the diagnostics are the same. */
        ASSERT_DIAGS(d, expected[0], expected[1], expected[2], expected[3], expected[4]);
        assert_int_equal(r->count, builtins + 2);
        assert_string_equal(registry_find(r, "mixed_ok")->origin, plugin_path("mixed"));
        assert_string_equal(registry_find(r, "plugtest")->origin, plugin_path("plugtest"));
        assert_int_equal(r->handle_count, 2);
        registry_free(r);
        diags_free(d);
    }
}

/* A copy of plugtest.so in a fresh directory of the scratch area (resolved). */
static char *copy_plugtest(const char *dir_name)
{
    char *dir = xasprintf("%s/%s", test_scratch_dir(), dir_name);
    assert_int_equal(mkdir(dir, 0755), 0);
    char *path = xasprintf("%s/plugtest.so", dir);
    free(dir);
    FILE *in = fopen(plugin_path("plugtest"), "rb"), *out = fopen(path, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buffer[65536];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, in)) > 0;)
        assert_int_equal(fwrite(buffer, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(path, 0644), 0);
    char *real = resolved(path);
    free(path);
    return real;
}

/* As sshd's StrictModes: a plugin, or a directory above it, that group or others can write is
 * refused with the path and the reason; a sticky directory (/tmp) is not held against it. */
static void test_load_refuses_writable_plugin(void **state)
{
    struct registry *r = REGISTRY(state);
    struct servo_diags *d = DIAGS(state);
    char *path = copy_plugtest("strict");
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(chmod(path, 0664), 0);
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    char *expected = xasprintf("%s: refusing the plugin: it is writable by group or others", path);
    ASSERT_DIAGS(d, expected);
    free(expected);
    diags_free(d);
    assert_int_equal(r->count, 0);
    assert_int_equal(r->handle_count, 0);

    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(registry_load_plugin(r, path, d), -1);
    expected = xasprintf("%s: refusing the plugin: a directory above it is writable by group or "
                         "others (%s)",
                         path, dir);
    ASSERT_DIAGS(d, expected);
    free(expected);
    diags_free(d);
    /* the directory on the plugin path is refused as a whole */
    assert_int_equal(registry_init(r, dir, "", d), -1);
    expected =
        xasprintf("%s: refusing the plugin directory: it is writable by group or others", dir);
    ASSERT_DIAGS(d, expected);
    free(expected);
    registry_free(r);
    diags_free(d);

    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(registry_load_plugin(r, path, d), 0);
    assert_int_equal(d->count, 0);
    assert_non_null(registry_find(r, "plugtest"));
    free(dir);
    free(path);
}

#endif /* SERVO_TEST_PLUGIN_DIR */

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_registry, teardown_registry)
        T(test_add_accepts_and_copies_origin),
        T(test_add_accepts_minimum_struct_size_and_longest_name),
        T(test_add_refuses_null),
        T(test_add_refuses_wrong_abi),
        T(test_add_refuses_small_struct),
        T(test_add_refuses_bad_metadata),
        T(test_add_refuses_broken_settings_table),
        T(test_add_refuses_duplicates),
        T(test_add_refuses_builtin_names),
        T(test_find_by_name_and_class_name),
        T(test_find_builtins),
        T(test_load_refuses_non_elf_file),
        T(test_load_refuses_missing_file),
        T(test_init_refuses_missing_path_entry),
        T(test_init_empty_directory),
        T(test_init_reads_environment),
#ifdef SERVO_TEST_PLUGIN_DIR
        T(test_load_plugin),
        T(test_load_refuses_writable_plugin),
        T(test_plugin_settings_call_back_into_the_host),
        T(test_load_refuses_duplicate_plugin),
        T(test_load_refuses_abi_mismatch),
        T(test_load_refuses_object_without_manifest),
        T(test_load_refuses_manifest_without_list),
        T(test_load_keeps_valid_connectors_of_mixed_plugin),
        T(test_init_loads_directory),
#endif
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
