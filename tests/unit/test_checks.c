/* Declared checks: filters (exact, comma list, /regex/), tags, halt_on, multichecks, ids,
 * remedies, warnings, the result JSON, and checks_run (rounds, --wait, errors). */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events/bus.h"
#include "events/checks.h"
#include "util/util.h"

/* ---- a connector with checks -------------------------------------------------------------- */

struct fake {
    const char *fail[8]; /* names of checks that fail */
    int runs[16];        /* runs per declaration index */
    int pass_on_run;     /* "Eventually": passes from this run on (0: always) */
    const char *marker;  /* "Marker exists": passes when this file exists (NULL: always) */
    const char *queries[4];
};

static bool told_to_fail(const struct fake *f, const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(f->fail) && f->fail[i]; i++)
        if (strcmp(f->fail[i], name) == 0)
            return true;
    return false;
}

static int check_connect(struct servo_connector *c, struct servo_event *ev, size_t item,
                         struct servo_check *check)
{
    (void)ev;
    (void)item;
    struct fake *f = servo_connector_state(c);
    f->runs[0]++;
    if (told_to_fail(f, "connect"))
        return servo_check_fail(check, "connection refused");
    servo_check_message(check, "connected to %s", "localhost");
    return 0;
}

static int check_query(struct servo_connector *c, struct servo_event *ev, size_t item,
                       struct servo_check *check)
{
    (void)ev;
    (void)item;
    struct fake *f = servo_connector_state(c);
    f->runs[1]++;
    if (told_to_fail(f, "query")) {
        servo_check_hint(check, "check the %s", "query syntax");
        return servo_check_fail(check, "bad query");
    }
    return 0;
}

static int check_disk(struct servo_connector *c, struct servo_event *ev, size_t item,
                      struct servo_check *check)
{
    (void)ev;
    (void)item;
    struct fake *f = servo_connector_state(c);
    f->runs[2]++;
    if (told_to_fail(f, "disk"))
        return servo_check_fail(check, "only 1%% free");
    return 0;
}

static size_t query_count(struct servo_connector *c)
{
    struct fake *f = servo_connector_state(c);
    size_t n = 0;
    while (n < ARRAY_LEN(f->queries) && f->queries[n])
        n++;
    return n;
}

static const char *query_label(struct servo_connector *c, size_t index)
{
    struct fake *f = servo_connector_state(c);
    return f->queries[index];
}

static int check_each_query(struct servo_connector *c, struct servo_event *ev, size_t item,
                            struct servo_check *check)
{
    (void)ev;
    struct fake *f = servo_connector_state(c);
    f->runs[3]++;
    if (told_to_fail(f, f->queries[item]))
        return -1; /* no message: a default one is given */
    servo_check_message(check, "query %zu returned %zu results", item, item + 1);
    return 0;
}

static int check_marker(struct servo_connector *c, struct servo_event *ev, size_t item,
                        struct servo_check *check)
{
    (void)ev;
    (void)item;
    struct fake *f = servo_connector_state(c);
    f->runs[4]++;
    if (f->marker && access(f->marker, F_OK) != 0)
        return servo_check_fail(check, "no marker at %s", f->marker);
    return 0;
}

static int check_late(struct servo_connector *c, struct servo_event *ev, size_t item,
                      struct servo_check *check)
{
    (void)ev;
    (void)item;
    (void)check;
    struct fake *f = servo_connector_state(c);
    f->runs[5]++;
    return 0;
}

static int check_eventually(struct servo_connector *c, struct servo_event *ev, size_t item,
                            struct servo_check *check)
{
    (void)ev;
    (void)item;
    struct fake *f = servo_connector_state(c);
    int run = ++f->runs[6];
    if (f->pass_on_run > 0 && run < f->pass_on_run)
        return servo_check_fail(check, "not yet (run %d)", run);
    return 0;
}

/* remedy[] is filled in at run time (it names a scratch file) */
static char remedy_command[512];

static struct servo_check_def fake_checks[] = {
    {.name = "Connect to service",
     .id = "connect",
     .description = "Can we reach it",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "network",
     .hint = "Is the service running?",
     .run = check_connect},
    {.name = "Query works", .tags = "metrics, query", .run = check_query},
    {.name = "Disk space",
     .id = "disk",
     .severity = SERVO_SEVERITY_WARNING,
     .tags = "disk",
     .run = check_disk},
    {.name = "Run query {item}",
     .id = "queries",
     .description = "Query {item} works",
     .tags = "metrics",
     .run = check_each_query,
     .item_count = query_count,
     .item_label = query_label},
    {.name = "Marker exists", .id = "marker", .remedy = remedy_command, .run = check_marker},
    {.name = "Late critical", .id = "late", .severity = SERVO_SEVERITY_CRITICAL, .run = check_late},
    {.name = "Eventually", .id = "eventually", .run = check_eventually},
    {.name = NULL},
};

static const struct servo_connector_plugin fake_plugin = {
    SERVO_CONNECTOR_HEADER, .name = "fake",        .class_name = "FakeConnector",
    .version = "0.0.1",     .checks = fake_checks,
};

static int check_nothing(struct servo_connector *c, struct servo_event *ev, size_t item,
                         struct servo_check *check)
{
    (void)c;
    (void)ev;
    (void)item;
    (void)check;
    return 0;
}

static const struct servo_check_def bad_checks[] = {
    {.name = "Shouty", .tags = "OK,fine", .run = check_nothing},
    {.name = "Long tag", .tags = "abcdefghijabcdefghijabcdefghijabc", .run = check_nothing},
    {.name = "No function"},
    {.name = "Fine", .tags = "a.b-c9,a.b-c9", .run = check_nothing},
    {.name = NULL},
};

static const struct servo_connector_plugin bad_plugin = {
    SERVO_CONNECTOR_HEADER, .name = "bad",        .class_name = "BadConnector",
    .version = "0.0.1",     .checks = bad_checks,
};

static int sleepy_check(struct servo_connector *c, struct servo_event *ev, size_t item,
                        struct servo_check *check)
{
    (void)c;
    (void)item;
    if (servo_event_sleep(ev, 2 * SERVO_SECOND) != 0)
        return servo_check_fail(check, "interrupted");
    return 0;
}

static const struct servo_check_def sleepy_checks[] = {
    {.name = "Slow one", .run = sleepy_check},
    {.name = "Slow two", .run = sleepy_check},
    {.name = NULL},
};

static const struct servo_connector_plugin sleepy_plugin = {
    SERVO_CONNECTOR_HEADER, .name = "sleepy",        .class_name = "SleepyConnector",
    .version = "0.0.1",     .checks = sleepy_checks,
};

static int describe_nothing(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    (void)ev;
    return 0;
}

static const struct servo_handler plain_handlers[] = {
    {"describe", SERVO_ON, describe_nothing},
    {NULL, 0, NULL},
};

static const struct servo_connector_plugin plain_plugin = {
    SERVO_CONNECTOR_HEADER,     .name = "plain", .class_name = "PlainConnector", .version = "0.0.1",
    .handlers = plain_handlers,
};

static struct servo_connector make(const char *name, const struct servo_connector_plugin *p,
                                   void *state)
{
    return (struct servo_connector){.name = (char *)name, .plugin = p, .state = state};
}

static struct fake new_fake(void)
{
    return (struct fake){.queries = {"p50", "p90", "p99"}};
}

/* Dispatches check with `argument` (JSON text or NULL) to one connector; returns its value
 * (a new reference) and the error, if any. */
static json_t *run_with(struct servo_connector *c, const char *argument, struct servo_error *error)
{
    struct event_args args;
    event_args_init(&args);
    json_t *arg = NULL;
    if (argument) {
        json_error_t je;
        arg = json_loads(argument, 0, &je);
        assert_non_null(arg);
    }
    args.argument = arg;
    struct bus_outcome out;
    bus_dispatch(c, 1, SERVO_EVENT_CHECK, &args, NULL, &out);
    assert_int_equal(out.count, 1);
    json_t *value = json_incref((json_t *)out.results[0].value);
    if (error)
        *error = out.error;
    bus_outcome_free(&out);
    event_args_free(&args);
    json_decref(arg);
    return value;
}

static json_t *run_fake(struct fake *f, const char *argument)
{
    struct servo_connector c = make("fake", &fake_plugin, f);
    struct servo_error e;
    json_t *v = run_with(&c, argument, &e);
    assert_int_equal(e.kind, SERVO_ERROR_NONE);
    assert_true(json_is_array(v));
    return v;
}

/* The ids of the checks that ran, comma-joined. */
static char *ids_of(const json_t *results)
{
    struct strbuf sb;
    strbuf_init(&sb);
    size_t i;
    const json_t *check;
    json_array_foreach(results, i, check)
        strbuf_printf(&sb, "%s%s", i ? "," : "", json_string_value(json_object_get(check, "id")));
    return strbuf_detach(&sb);
}

#define ASSERT_IDS(results, expected)        \
    do {                                     \
        char *ids_ = ids_of(results);        \
        assert_string_equal(ids_, expected); \
        free(ids_);                          \
    } while (0)

static char query_id[9];
static const char *all_ids;

static int setup_ids(void **state)
{
    (void)state;
    check_default_id("Query works", query_id);
    static char buf[256];
    snprintf(buf, sizeof buf,
             "connect,%s,disk,queries_item_0,queries_item_1,queries_item_2,marker,late,"
             "eventually",
             query_id);
    all_ids = buf;
    return 0;
}

/* ---- ids, tags, the JSON shape ---------------------------------------------------------- */

static void test_default_ids(void **state)
{
    (void)state;
    char id[9];
    /* published FNV-1a 32 test vectors */
    check_default_id("", id);
    assert_string_equal(id, "811c9dc5");
    check_default_id("a", id);
    assert_string_equal(id, "e40c292c");
    check_default_id("foobar", id);
    assert_string_equal(id, "bf9cf968");
    /* stable and distinct */
    char again[9];
    check_default_id("Query works", again);
    assert_string_equal(again, query_id);
    assert_int_equal(strlen(query_id), 8);
    check_default_id("Query work", id);
    assert_string_not_equal(id, query_id);
}

static void test_tag_validity(void **state)
{
    (void)state;
    assert_true(check_tag_valid("a", 1));
    assert_true(check_tag_valid("a.b-c9", 6));
    assert_true(check_tag_valid("abcdefghijabcdefghijabcdefghijab", 32));
    assert_false(check_tag_valid("abcdefghijabcdefghijabcdefghijabc", 33));
    assert_false(check_tag_valid("", 0));
    assert_false(check_tag_valid("A", 1));
    assert_false(check_tag_valid("a_b", 3));
    assert_false(check_tag_valid("a b", 3));
}

static void test_result_shape(void **state)
{
    (void)state;
    struct fake f = new_fake();
    json_t *v = run_fake(&f, NULL);
    ASSERT_IDS(v, all_ids);
    static const char *const keys[] = {"name",   "id",        "description", "severity",
                                       "tags",   "success",   "message",     "hint",
                                       "remedy", "runtime_ms"};
    size_t i;
    json_t *check;
    json_array_foreach(v, i, check)
    {
        assert_int_equal(json_object_size(check), ARRAY_LEN(keys));
        const char *key;
        json_t *value;
        size_t k = 0;
        json_object_foreach(check, key, value) assert_string_equal(key, keys[k++]);
        assert_true(json_is_string(json_object_get(check, "name")));
        assert_true(json_is_string(json_object_get(check, "severity")));
        assert_true(json_is_array(json_object_get(check, "tags")));
        assert_true(json_is_boolean(json_object_get(check, "success")));
        assert_true(json_is_number(json_object_get(check, "runtime_ms")));
        assert_true(json_number_value(json_object_get(check, "runtime_ms")) >= 0);
    }
    json_t *connect = json_array_get(v, 0);
    assert_string_equal(json_string_value(json_object_get(connect, "name")), "Connect to service");
    assert_string_equal(json_string_value(json_object_get(connect, "description")),
                        "Can we reach it");
    assert_string_equal(json_string_value(json_object_get(connect, "severity")), "critical");
    assert_string_equal(json_string_value(json_array_get(json_object_get(connect, "tags"), 0)),
                        "network");
    assert_true(json_is_true(json_object_get(connect, "success")));
    assert_string_equal(json_string_value(json_object_get(connect, "message")),
                        "connected to localhost");
    assert_true(json_is_null(json_object_get(connect, "hint"))); /* passed: no hint */
    assert_true(json_is_null(json_object_get(connect, "remedy")));

    json_t *query = json_array_get(v, 1);
    assert_string_equal(json_string_value(json_object_get(query, "severity")), "common");
    assert_true(json_is_null(json_object_get(query, "description")));
    assert_true(json_is_null(json_object_get(query, "message")));
    json_t *tags = json_object_get(query, "tags");
    assert_int_equal(json_array_size(tags), 2); /* "metrics, query": trimmed */
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "metrics");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "query");

    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 2), "severity")),
                        "warning");
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 6), "remedy")),
                        remedy_command);
    json_decref(v);
}

static void test_multicheck_expansion(void **state)
{
    (void)state;
    struct fake f = new_fake();
    json_t *v = run_fake(&f, NULL);
    static const char *const labels[] = {"p50", "p90", "p99"};
    for (size_t i = 0; i < 3; i++) {
        json_t *check = json_array_get(v, 3 + i);
        char name[64], id[64], description[64], message[64];
        snprintf(name, sizeof name, "Run query %s", labels[i]);
        snprintf(id, sizeof id, "queries_item_%zu", i);
        snprintf(description, sizeof description, "Query %s works", labels[i]);
        snprintf(message, sizeof message, "query %zu returned %zu results", i, i + 1);
        assert_string_equal(json_string_value(json_object_get(check, "name")), name);
        assert_string_equal(json_string_value(json_object_get(check, "id")), id);
        assert_string_equal(json_string_value(json_object_get(check, "description")), description);
        assert_string_equal(json_string_value(json_object_get(check, "message")), message);
    }
    assert_int_equal(f.runs[3], 3);
    json_decref(v);

    /* no items: no checks (and so no prerequisites either) */
    f = new_fake();
    f.queries[0] = NULL;
    v = run_fake(&f, "{\"id\": [\"/^queries/\"]}");
    ASSERT_IDS(v, "");
    json_decref(v);
}

static void test_invalid_declarations(void **state)
{
    (void)state;
    struct servo_connector c = make("bad", &bad_plugin, NULL);
    struct servo_error e;
    json_t *v = run_with(&c, NULL, &e);
    assert_int_equal(e.kind, SERVO_ERROR_NONE);
    assert_int_equal(json_array_size(v), 4);
    for (size_t i = 0; i < 3; i++) {
        json_t *check = json_array_get(v, i);
        assert_true(json_is_false(json_object_get(check, "success")));
        assert_non_null(strstr(json_string_value(json_object_get(check, "message")),
                               "invalid check declaration"));
    }
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(v, 0), "message")), "\"OK\""));
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(v, 2), "message")),
                           "no run function"));
    json_t *fine = json_array_get(v, 3);
    assert_true(json_is_true(json_object_get(fine, "success")));
    assert_int_equal(json_array_size(json_object_get(fine, "tags")), 1); /* deduplicated */
    json_decref(v);
}

/* ---- filters ---------------------------------------------------------------------------- */

static void test_filter_exact_name(void **state)
{
    (void)state;
    struct fake f = new_fake();
    /* the critical check before the selected one runs too; the one after does not */
    json_t *v = run_fake(&f, "{\"name\": [\"Query works\"]}");
    char expected[64];
    snprintf(expected, sizeof expected, "connect,%s", query_id);
    ASSERT_IDS(v, expected);
    assert_int_equal(f.runs[5], 0);
    json_decref(v);

    /* a plain string works as a one-entry list */
    v = run_fake(&f, "{\"name\": \"Disk space\"}");
    ASSERT_IDS(v, "connect,disk");
    json_decref(v);

    /* exclusive: no prerequisites */
    v = run_fake(&f, "{\"name\": [\"Query works\"], \"exclusive\": true}");
    ASSERT_IDS(v, query_id);
    json_decref(v);

    /* selecting the critical check itself runs it once */
    v = run_fake(&f, "{\"name\": [\"Connect to service\"]}");
    ASSERT_IDS(v, "connect");
    json_decref(v);

    /* a late critical check runs when a selected check comes after it */
    v = run_fake(&f, "{\"id\": [\"eventually\"]}");
    ASSERT_IDS(v, "connect,late,eventually");
    json_decref(v);

    /* matching nothing runs nothing */
    v = run_fake(&f, "{\"name\": [\"No such check\"]}");
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);

    /* exact means exact */
    v = run_fake(&f, "{\"name\": [\"query works\"]}");
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
}

static void test_filter_lists(void **state)
{
    (void)state;
    struct fake f = new_fake();
    /* a comma list, as the command line gives it, split by checks_argument */
    const char *const names[] = {"Disk space, Run query p90", NULL};
    char *error = NULL;
    json_t *arg = checks_argument(names, NULL, NULL, CHECK_HALT_CRITICAL, false, &error);
    assert_non_null(arg);
    json_t *list = json_object_get(arg, "name");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_array_get(list, 0)), "Disk space");
    assert_string_equal(json_string_value(json_array_get(list, 1)), "Run query p90");
    assert_string_equal(json_string_value(json_object_get(arg, "halt_on")), "critical");
    assert_true(json_is_false(json_object_get(arg, "remedy")));
    assert_null(json_object_get(arg, "id"));
    char *text = json_dumps(arg, 0);
    json_t *v = run_fake(&f, text);
    ASSERT_IDS(v, "connect,disk,queries_item_1");
    json_decref(v);
    free(text);
    json_decref(arg);

    /* repeated options and ids */
    const char *const ids[] = {"queries_item_0", "queries_item_2,disk", " , ", NULL};
    arg = checks_argument(NULL, ids, NULL, CHECK_HALT_WARNING, true, &error);
    assert_int_equal(json_array_size(json_object_get(arg, "id")), 3);
    assert_string_equal(json_string_value(json_object_get(arg, "halt_on")), "warning");
    assert_true(json_is_true(json_object_get(arg, "remedy")));
    json_decref(arg);

    v = run_fake(&f, "{\"id\": [\"queries_item_0\", \"queries_item_2\", \"disk\"]}");
    ASSERT_IDS(v, "connect,disk,queries_item_0,queries_item_2");
    json_decref(v);
}

static void test_filter_regex(void **state)
{
    (void)state;
    struct fake f = new_fake();
    /* searched anywhere, not anchored unless the pattern says so */
    json_t *v = run_fake(&f, "{\"name\": [\"/query p9/\"]}");
    ASSERT_IDS(v, "connect,queries_item_1,queries_item_2");
    json_decref(v);

    v = run_fake(&f, "{\"id\": [\"/^(disk|late)$/\"]}");
    ASSERT_IDS(v, "connect,disk,late");
    json_decref(v);

    /* a regex and an exact value in the same field */
    v = run_fake(&f, "{\"name\": [\"/^Marker/\", \"Eventually\"]}");
    ASSERT_IDS(v, "connect,marker,late,eventually");
    json_decref(v);

    /* a regex keeps its commas: it is not a list */
    const char *const names[] = {"/^(Disk space|Marker exists)$/", NULL};
    char *error = NULL;
    json_t *arg = checks_argument(names, NULL, NULL, CHECK_HALT_CRITICAL, false, &error);
    assert_int_equal(json_array_size(json_object_get(arg, "name")), 1);
    json_decref(arg);

    /* a regex that does not compile is refused up front, and by the handler */
    const char *const broken[] = {"/(unclosed/", NULL};
    arg = checks_argument(broken, NULL, NULL, CHECK_HALT_CRITICAL, false, &error);
    assert_null(arg);
    assert_non_null(strstr(error, "invalid regular expression /(unclosed/"));
    free(error);

    struct servo_connector c = make("fake", &fake_plugin, &f);
    struct servo_error e;
    v = run_with(&c, "{\"tag\": [\"/[/\"]}", &e);
    assert_int_equal(e.kind, SERVO_ERROR_FAILED);
    assert_string_equal(e.reason, "invalid-filter");
    assert_non_null(strstr(e.message, "invalid regular expression"));
    assert_null(v);
    v = run_with(&c, "{\"halt_on\": \"sometimes\"}", &e);
    assert_int_equal(e.kind, SERVO_ERROR_FAILED);
    assert_non_null(strstr(e.message, "halt_on"));
    v = run_with(&c, "[1, 2]", &e);
    assert_int_equal(e.kind, SERVO_ERROR_FAILED);
    v = run_with(&c, "{\"id\": [1]}", &e);
    assert_int_equal(e.kind, SERVO_ERROR_FAILED);
}

static void test_filter_tags(void **state)
{
    (void)state;
    struct fake f = new_fake();
    json_t *v = run_fake(&f, "{\"tag\": [\"disk\"]}");
    ASSERT_IDS(v, "connect,disk");
    json_decref(v);

    /* intersection: any tag in common */
    char expected[128];
    snprintf(expected, sizeof expected, "connect,%s,queries_item_0,queries_item_1,queries_item_2",
             query_id);
    v = run_fake(&f, "{\"tag\": [\"metrics\"]}");
    ASSERT_IDS(v, expected);
    json_decref(v);

    snprintf(expected, sizeof expected, "connect,%s,disk", query_id);
    v = run_fake(&f, "{\"tag\": [\"query\", \"disk\"]}");
    ASSERT_IDS(v, expected);
    json_decref(v);

    /* a regex matches any of a check's tags */
    v = run_fake(&f, "{\"tag\": [\"/^qu/\"]}");
    snprintf(expected, sizeof expected, "connect,%s", query_id);
    ASSERT_IDS(v, expected);
    json_decref(v);

    /* untagged checks never match a tag filter */
    v = run_fake(&f, "{\"tag\": [\"/./\"], \"exclusive\": true}");
    snprintf(expected, sizeof expected,
             "connect,%s,disk,queries_item_0,queries_item_1,queries_item_2", query_id);
    ASSERT_IDS(v, expected);
    json_decref(v);

    /* fields are AND-ed */
    v = run_fake(&f, "{\"tag\": [\"metrics\"], \"name\": [\"/p99/\"]}");
    ASSERT_IDS(v, "connect,queries_item_2");
    json_decref(v);
    v = run_fake(&f, "{\"tag\": [\"disk\"], \"name\": [\"/p99/\"]}");
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    v = run_fake(&f, "{\"tag\": [\"metrics\"], \"id\": [\"queries_item_1\"], "
                     "\"name\": [\"/query/\"]}");
    ASSERT_IDS(v, "connect,queries_item_1");
    json_decref(v);
}

/* ---- halting, warnings ------------------------------------------------------------------ */

static void test_halt_on_critical(void **state)
{
    (void)state;
    struct fake f = new_fake();
    f.fail[0] = "connect";
    json_t *v = run_fake(&f, NULL); /* default halt_on critical */
    ASSERT_IDS(v, "connect");
    json_t *connect = json_array_get(v, 0);
    assert_true(json_is_false(json_object_get(connect, "success")));
    assert_string_equal(json_string_value(json_object_get(connect, "message")),
                        "connection refused");
    assert_string_equal(json_string_value(json_object_get(connect, "hint")),
                        "Is the service running?");
    json_decref(v);

    /* common and warning failures do not halt on critical */
    f = new_fake();
    f.fail[0] = "query";
    f.fail[1] = "disk";
    f.fail[2] = "p90";
    v = run_fake(&f, "{\"halt_on\": \"critical\"}");
    ASSERT_IDS(v, all_ids);
    json_t *query = json_array_get(v, 1);
    assert_string_equal(json_string_value(json_object_get(query, "hint")),
                        "check the query syntax");
    json_t *p90 = json_array_get(v, 4);
    assert_true(json_is_false(json_object_get(p90, "success")));
    assert_string_equal(json_string_value(json_object_get(p90, "message")), "check failed");
    assert_true(json_is_null(json_object_get(p90, "hint")));
    json_decref(v);
}

static void test_halt_on_common(void **state)
{
    (void)state;
    struct fake f = new_fake();
    f.fail[0] = "disk"; /* a warning: goes on */
    f.fail[1] = "p90";  /* common: stops */
    json_t *v = run_fake(&f, "{\"halt_on\": \"common\"}");
    char expected[128];
    snprintf(expected, sizeof expected, "connect,%s,disk,queries_item_0,queries_item_1", query_id);
    ASSERT_IDS(v, expected);
    json_decref(v);

    f = new_fake();
    f.fail[0] = "connect"; /* critical is above common: stops */
    v = run_fake(&f, "{\"halt_on\": \"common\"}");
    ASSERT_IDS(v, "connect");
    json_decref(v);
}

static void test_halt_on_warning(void **state)
{
    (void)state;
    struct fake f = new_fake();
    f.fail[0] = "disk";
    json_t *v = run_fake(&f, "{\"halt_on\": \"warning\"}");
    char expected[64];
    snprintf(expected, sizeof expected, "connect,%s,disk", query_id);
    ASSERT_IDS(v, expected);
    json_t *disk = json_array_get(v, 2);
    assert_true(json_is_false(json_object_get(disk, "success")));
    assert_string_equal(json_string_value(json_object_get(disk, "message")), "only 1% free");
    json_decref(v);

    /* nothing failing: everything runs whatever halt_on says */
    f = new_fake();
    v = run_fake(&f, "{\"halt_on\": \"warning\"}");
    ASSERT_IDS(v, all_ids);
    json_decref(v);
}

/* ---- remedies --------------------------------------------------------------------------- */

static void test_remedy(void **state)
{
    (void)state;
    char *marker = xasprintf("%s/remedy.marker", test_scratch_dir());
    unlink(marker);
    snprintf(remedy_command, sizeof remedy_command,
             "test \"$SERVO_CHECK_ID\" = marker && test \"$SERVO_CONNECTOR\" = fake && "
             "touch '%s'",
             marker);
    struct fake f = new_fake();
    f.marker = marker;

    /* not asked for: the check fails, the remedy does not run */
    json_t *v = run_fake(&f, "{\"id\": [\"marker\"], \"exclusive\": true}");
    ASSERT_IDS(v, "marker");
    assert_true(json_is_false(json_object_get(json_array_get(v, 0), "success")));
    assert_int_equal(f.runs[4], 1);
    assert_int_not_equal(access(marker, F_OK), 0);
    json_decref(v);

    /* asked for: the remedy runs, the check runs again and passes */
    v = run_fake(&f, "{\"id\": [\"marker\"], \"exclusive\": true, \"remedy\": true}");
    ASSERT_IDS(v, "marker");
    json_t *check = json_array_get(v, 0);
    assert_true(json_is_true(json_object_get(check, "success")));
    assert_string_equal(json_string_value(json_object_get(check, "remedy")), remedy_command);
    assert_int_equal(f.runs[4], 3);
    assert_int_equal(access(marker, F_OK), 0);
    json_decref(v);

    /* a passing check's remedy never runs */
    v = run_fake(&f, "{\"id\": [\"marker\"], \"exclusive\": true, \"remedy\": true}");
    assert_int_equal(f.runs[4], 4);
    json_decref(v);

    /* a remedy that does not help: the check runs once more and still fails */
    unlink(marker);
    snprintf(remedy_command, sizeof remedy_command, "exit 3");
    v = run_fake(&f, "{\"id\": [\"marker\"], \"exclusive\": true, \"remedy\": true}");
    assert_true(json_is_false(json_object_get(json_array_get(v, 0), "success")));
    assert_int_equal(f.runs[4], 6);
    json_decref(v);
    snprintf(remedy_command, sizeof remedy_command, "true");
    free(marker);
}

/* ---- deadlines -------------------------------------------------------------------------- */

static void test_checks_stop_at_deadline(void **state)
{
    (void)state;
    struct servo_connector c = make("sleepy", &sleepy_plugin, NULL);
    struct event_args args;
    event_args_init(&args);
    struct bus_options o = {.timeout = 0.3};
    struct bus_outcome out;
    double start = clock_monotonic();
    assert_int_equal(bus_dispatch(&c, 1, SERVO_EVENT_CHECK, &args, &o, &out), -1);
    assert_true(clock_monotonic() - start < 1.5);
    assert_int_equal(out.error.kind, SERVO_ERROR_CANCELLED);
    assert_non_null(strstr(out.error.message, "Slow two"));
    /* what ran is still reported */
    assert_int_equal(json_array_size(out.results[0].value), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(out.results[0].value, 0), "message")),
        "interrupted");
    bus_outcome_free(&out);
    event_args_free(&args);
}

/* ---- checks_run ------------------------------------------------------------------------- */

static void test_run_once(void **state)
{
    (void)state;
    struct fake f1 = new_fake(), f2 = new_fake();
    f2.fail[0] = "disk"; /* a failed warning still passes */
    struct servo_connector cs[] = {make("one", &fake_plugin, &f1),
                                   make("plain", &plain_plugin, NULL),
                                   make("two", &fake_plugin, &f2)};
    struct checks_options o = {.halt_on = CHECK_HALT_CRITICAL, .progressive = true};
    struct checks_report r;
    char *error = NULL;
    assert_int_equal(checks_run(cs, 3, &o, &r, &error), 0);
    assert_int_equal(r.count, 2); /* "plain" has no checks */
    assert_string_equal(r.connectors[0].name, "one");
    assert_string_equal(r.connectors[1].name, "two");
    assert_true(r.ready);
    assert_true(r.connectors[1].ready);
    assert_int_equal(r.check_count, 18);
    assert_int_equal(r.rounds, 1);
    assert_false(r.timed_out);

    json_t *flat = checks_report_json(&r);
    assert_int_equal(json_array_size(flat), 18);
    json_t *first = json_array_get(flat, 0);
    assert_string_equal(json_object_iter_key(json_object_iter(first)), "connector");
    assert_string_equal(json_string_value(json_object_get(first, "connector")), "one");
    assert_string_equal(json_string_value(json_object_get(json_array_get(flat, 9), "connector")),
                        "two");
    assert_int_equal(json_object_size(first), 11);
    json_decref(flat);
    checks_report_free(&r);

    /* a failed common check: not ready */
    f2.fail[1] = "p99";
    assert_int_equal(checks_run(cs, 3, &o, &r, &error), 0);
    assert_false(r.ready);
    assert_true(r.connectors[0].ready);
    assert_false(r.connectors[1].ready);
    assert_false(r.timed_out);
    checks_report_free(&r);

    /* only the connectors asked for */
    const char *const only[] = {"one", NULL};
    o.connectors = only;
    assert_int_equal(checks_run(cs, 3, &o, &r, &error), 0);
    assert_int_equal(r.count, 1);
    assert_true(r.ready);
    checks_report_free(&r);
}

static void test_run_errors(void **state)
{
    (void)state;
    struct fake f = new_fake();
    struct servo_connector cs[] = {make("one", &fake_plugin, &f),
                                   make("plain", &plain_plugin, NULL)};
    struct checks_report r;
    char *error = NULL;
    const char *const unknown[] = {"nope", NULL};
    struct checks_options o = {.connectors = unknown};
    assert_int_equal(checks_run(cs, 2, &o, &r, &error), CHECKS_EUSAGE);
    assert_non_null(strstr(error, "no connector named \"nope\" (available: one, plain)"));
    free(error);
    checks_report_free(&r);

    const char *const plain[] = {"plain", NULL};
    o.connectors = plain;
    assert_int_equal(checks_run(cs, 2, &o, &r, &error), CHECKS_EUSAGE);
    assert_non_null(strstr(error, "has no checks"));
    free(error);
    checks_report_free(&r);

    o.connectors = NULL;
    assert_int_equal(checks_run(&cs[1], 1, &o, &r, &error), -1);
    assert_non_null(strstr(error, "no connector"));
    free(error);
    checks_report_free(&r);

    const char *const bad[] = {"/+/", NULL};
    o.tags = bad;
    assert_int_equal(checks_run(cs, 2, &o, &r, &error), CHECKS_EUSAGE);
    assert_non_null(strstr(error, "invalid regular expression"));
    free(error);
    checks_report_free(&r);

    /* a handler error makes its connector fail, with an entry in the JSON */
    struct servo_connector sleepy = make("sleepy", &sleepy_plugin, NULL);
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0.2);
    struct checks_options timed = {.parent = &parent, .halt_on = CHECK_HALT_CRITICAL};
    assert_int_equal(checks_run(&sleepy, 1, &timed, &r, &error), 0);
    assert_false(r.ready);
    assert_int_equal(r.connectors[0].error.kind, SERVO_ERROR_CANCELLED);
    json_t *flat = checks_report_json(&r);
    assert_int_equal(json_array_size(flat), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(flat, 0), "id")),
                        "handler");
    json_decref(flat);
    checks_report_free(&r);
    cancel_destroy(&parent);
}

static void test_run_wait_retries(void **state)
{
    (void)state;
    struct fake ok = new_fake(), eventually = new_fake();
    eventually.pass_on_run = 3;
    struct servo_connector cs[] = {make("ok", &fake_plugin, &ok),
                                   make("eventually", &fake_plugin, &eventually)};
    const char *const ids[] = {"eventually", NULL};
    struct checks_options o = {.ids = ids,
                               .progressive = true,
                               .wait = 20 * SERVO_SECOND,
                               .delay = 200 * SERVO_MILLISECOND};
    struct checks_report r;
    char *error = NULL;
    double start = clock_monotonic();
    assert_int_equal(checks_run(cs, 2, &o, &r, &error), 0);
    double elapsed = clock_monotonic() - start;
    assert_true(r.ready);
    assert_false(r.timed_out);
    assert_int_equal(r.rounds, 3);
    assert_true(elapsed >= 0.35 && elapsed < 3.0);
    /* only the connector that was not ready ran again */
    assert_int_equal(ok.runs[6], 1);
    assert_int_equal(eventually.runs[6], 3);
    checks_report_free(&r);

    /* without a wait: one round */
    eventually = (struct fake){.queries = {NULL}, .pass_on_run = 3};
    o.wait = 0;
    assert_int_equal(checks_run(cs, 2, &o, &r, &error), 0);
    assert_false(r.ready);
    assert_int_equal(r.rounds, 1);
    assert_false(r.timed_out);
    checks_report_free(&r);
}

static void test_run_wait_runs_out(void **state)
{
    (void)state;
    struct fake never = new_fake();
    never.fail[0] = "p50";
    struct servo_connector cs[] = {make("never", &fake_plugin, &never)};
    struct checks_options o = {
        .progressive = true, .wait = 700 * SERVO_MILLISECOND, .delay = 200 * SERVO_MILLISECOND};
    struct checks_report r;
    char *error = NULL;
    double start = clock_monotonic();
    assert_int_equal(checks_run(cs, 1, &o, &r, &error), 0);
    double elapsed = clock_monotonic() - start;
    assert_false(r.ready);
    assert_true(r.timed_out);
    assert_true(r.rounds >= 3);
    assert_true(elapsed >= 0.65 && elapsed < 3.0);
    checks_report_free(&r);

    /* expo: the first delay (8 s) is cut to what is left of the wait */
    o.delay_exponential = true;
    o.wait = 500 * SERVO_MILLISECOND;
    start = clock_monotonic();
    assert_int_equal(checks_run(cs, 1, &o, &r, &error), 0);
    elapsed = clock_monotonic() - start;
    assert_true(r.timed_out);
    assert_int_equal(r.rounds, 2);
    assert_true(elapsed >= 0.45 && elapsed < 3.0);
    checks_report_free(&r);
}

static void test_run_remedy_option(void **state)
{
    (void)state;
    char *marker = xasprintf("%s/run.marker", test_scratch_dir());
    unlink(marker);
    snprintf(remedy_command, sizeof remedy_command, "touch '%s'", marker);
    struct fake f = new_fake();
    f.marker = marker;
    struct servo_connector cs[] = {make("f", &fake_plugin, &f)};
    const char *const ids[] = {"marker", NULL};
    struct checks_options o = {.ids = ids};
    struct checks_report r;
    char *error = NULL;
    assert_int_equal(checks_run(cs, 1, &o, &r, &error), 0);
    assert_false(r.ready);
    checks_report_free(&r);
    o.remedy = true;
    assert_int_equal(checks_run(cs, 1, &o, &r, &error), 0);
    assert_true(r.ready);
    checks_report_free(&r);
    snprintf(remedy_command, sizeof remedy_command, "true");
    free(marker);
}

static void test_options_from_settings(void **state)
{
    (void)state;
    char *names[] = {"Disk space,Query works"};
    char *tags[] = {"metrics", "/^d/"};
    struct checks_settings s = {.name = {1, names},
                                .tag = {2, tags},
                                .halt_on = CHECK_HALT_COMMON,
                                .remedy = true,
                                .progressive = true,
                                .quiet = true,
                                .wait = 30 * SERVO_MINUTE,
                                .delay = {.exponential = true}};
    struct checks_options o;
    checks_options_from_settings(&o, &s);
    assert_null(o.connectors);
    assert_null(o.ids);
    assert_string_equal(o.names[0], "Disk space,Query works");
    assert_null(o.names[1]);
    assert_string_equal(o.tags[1], "/^d/");
    assert_null(o.tags[2]);
    assert_int_equal(o.halt_on, CHECK_HALT_COMMON);
    assert_true(o.remedy);
    assert_false(o.progressive); /* quiet wins */
    assert_true(o.wait == 30 * SERVO_MINUTE);
    assert_true(o.delay_exponential);
    checks_options_free(&o);
    assert_null(o.names);
}

int main(void)
{
    snprintf(remedy_command, sizeof remedy_command, "true");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ids),
        cmocka_unit_test(test_tag_validity),
        cmocka_unit_test(test_result_shape),
        cmocka_unit_test(test_multicheck_expansion),
        cmocka_unit_test(test_invalid_declarations),
        cmocka_unit_test(test_filter_exact_name),
        cmocka_unit_test(test_filter_lists),
        cmocka_unit_test(test_filter_regex),
        cmocka_unit_test(test_filter_tags),
        cmocka_unit_test(test_halt_on_critical),
        cmocka_unit_test(test_halt_on_common),
        cmocka_unit_test(test_halt_on_warning),
        cmocka_unit_test(test_remedy),
        cmocka_unit_test(test_checks_stop_at_deadline),
        cmocka_unit_test(test_run_once),
        cmocka_unit_test(test_run_errors),
        cmocka_unit_test(test_run_wait_retries),
        cmocka_unit_test(test_run_wait_runs_out),
        cmocka_unit_test(test_run_remedy_option),
        cmocka_unit_test(test_options_from_settings),
    };
    return cmocka_run_group_tests(tests, setup_ids, NULL);
}
