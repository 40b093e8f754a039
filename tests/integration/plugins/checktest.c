/* A test connector plugin that declares checks, for `servo check` end to end
 * (test_cli_check.sh). Loaded with SERVO_PLUGIN_PATH; it links nothing: the servo_* symbols
 * come from the servo executable.
 *
 *   checktest:
 *     fail: [connect, query]  # names or ids of checks that fail
 *     queries: [p50, p90]     # the items of the "Run query {item}" multicheck
 *     marker: true            # "Marker exists" needs ./checktest.marker (its remedy makes it)
 *     counter: FILE           # "Eventually ready" counts its runs in FILE ...
 *     pass_after: 3           # ... and passes from this run on
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <servo/checks.h>
#include <servo/servo.h>

struct checktest_settings {
    struct servo_list fail;
    struct servo_list queries;
    bool marker;
    char *counter;
    int64_t pass_after;
};

static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};

static const struct servo_field checktest_fields[] = {
    {.name = "fail",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct checktest_settings, fail),
     .item = &string_item,
     .def = "[]",
     .description = "Names or ids of the checks that fail."},
    {.name = "queries",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct checktest_settings, queries),
     .item = &string_item,
     .def = "[p50, p90]",
     .description = "The items of the query multicheck."},
    {.name = "marker",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct checktest_settings, marker),
     .def = "false",
     .description = "Whether \"Marker exists\" needs ./checktest.marker."},
    {.name = "counter",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct checktest_settings, counter),
     .description = "Where \"Eventually ready\" counts its runs."},
    {.name = "pass_after",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct checktest_settings, pass_after),
     .def = "1",
     .description = "The run from which \"Eventually ready\" passes."},
    SERVO_FIELDS_END,
};

static const struct servo_schema checktest_schema = {
    .title = "Check Test Settings",
    .size = sizeof(struct checktest_settings),
    .fields = checktest_fields,
};

static const struct checktest_settings *settings_of(struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static bool told_to_fail(struct servo_connector *c, const char *name, const char *id)
{
    const struct checktest_settings *s = settings_of(c);
    char **items = s->fail.items;
    for (size_t i = 0; i < s->fail.count; i++)
        if (strcmp(items[i], name) == 0 || (id && strcmp(items[i], id) == 0))
            return true;
    return false;
}

static int check_connect(struct servo_connector *c, struct servo_event *ev, size_t item,
                         struct servo_check *check)
{
    (void)ev;
    (void)item;
    if (told_to_fail(c, "Connect to service", "connect"))
        return servo_check_fail(check, "connection refused");
    servo_check_message(check, "connected");
    return 0;
}

static int check_query(struct servo_connector *c, struct servo_event *ev, size_t item,
                       struct servo_check *check)
{
    (void)ev;
    (void)item;
    if (told_to_fail(c, "Query works", "query")) {
        servo_check_hint(check, "Fix the query syntax");
        return servo_check_fail(check, "syntax error at line 1");
    }
    return 0;
}

static int check_disk(struct servo_connector *c, struct servo_event *ev, size_t item,
                      struct servo_check *check)
{
    (void)ev;
    (void)item;
    if (told_to_fail(c, "Disk space", "disk"))
        return servo_check_fail(check, "only 1%% free");
    return 0;
}

static size_t query_count(struct servo_connector *c)
{
    return settings_of(c)->queries.count;
}

static const char *query_label(struct servo_connector *c, size_t index)
{
    return ((char **)settings_of(c)->queries.items)[index];
}

static int check_each_query(struct servo_connector *c, struct servo_event *ev, size_t item,
                            struct servo_check *check)
{
    (void)ev;
    const char *label = query_label(c, item);
    if (told_to_fail(c, label, NULL))
        return servo_check_fail(check, "query %s returned no data", label);
    servo_check_message(check, "query %s returned %zu series", label, item + 1);
    return 0;
}

static int check_marker(struct servo_connector *c, struct servo_event *ev, size_t item,
                        struct servo_check *check)
{
    (void)ev;
    (void)item;
    if (settings_of(c)->marker && access("checktest.marker", F_OK) != 0)
        return servo_check_fail(check, "no checktest.marker here");
    return 0;
}

static int check_eventually(struct servo_connector *c, struct servo_event *ev, size_t item,
                            struct servo_check *check)
{
    (void)ev;
    (void)item;
    const struct checktest_settings *s = settings_of(c);
    if (s->counter == NULL)
        return 0;
    long runs = 0;
    FILE *f = fopen(s->counter, "r");
    if (f) {
        if (fscanf(f, "%ld", &runs) != 1)
            runs = 0;
        fclose(f);
    }
    runs++;
    f = fopen(s->counter, "w");
    if (f == NULL)
        return servo_check_fail(check, "cannot write %s", s->counter);
    fprintf(f, "%ld\n", runs);
    fclose(f);
    if (runs < s->pass_after)
        return servo_check_fail(check, "not ready yet (run %ld of %lld)", runs,
                                (long long)s->pass_after);
    return 0;
}

static const struct servo_check_def checktest_checks[] = {
    {.name = "Connect to service",
     .id = "connect",
     .description = "The service answers",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "network",
     .hint = "Is the service running?",
     .run = check_connect},
    {.name = "Query works", .id = "query", .tags = "metrics,query", .run = check_query},
    {.name = "Disk space",
     .id = "disk",
     .severity = SERVO_SEVERITY_WARNING,
     .tags = "disk",
     .run = check_disk},
    {.name = "Run query {item}",
     .id = "queries",
     .tags = "metrics",
     .run = check_each_query,
     .item_count = query_count,
     .item_label = query_label},
    {.name = "Marker exists", .remedy = "touch checktest.marker", .run = check_marker},
    {.name = "Eventually ready", .id = "eventually", .run = check_eventually},
    {.name = NULL},
};

static const struct servo_connector_plugin checktest_connector = {
    SERVO_CONNECTOR_HEADER,
    .name = "checktest",
    .class_name = "CheckTestConnector",
    .version = "0.1.0",
    .description = "A connector with checks, for the tests",
    .license = "MIT",
    .maturity = "Experimental",
    .settings = &checktest_schema,
    .generate = "queries: [p50]\n",
    .checks = checktest_checks,
};

SERVO_DECLARE_PLUGIN(&checktest_connector);
