/* The study store: what a study writes, reading it back, resuming after a restart with the
 * same suggestions, corrupt, locked, missing and newer files, and the results read from it. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config/settings.h"
#include "config/yaml.h"
#include "optimizer/results.h"
#include "optimizer/store.h"
#include "optimizer/study.h"
#include "optimizer/study_match.h"
#include "util/util.h"

struct config {
    struct yaml_documents docs;
    struct study_settings *settings;
};

static void config_load(struct config *c, const char *yaml)
{
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(yaml, strlen(yaml), "test.yaml", &c->docs, &diags), 0);
    c->settings = settings_load(&study_local_schema, c->docs.items[0], "local", NULL, &diags);
    assert_non_null(c->settings);
    diags_free(&diags);
}

static void config_free(struct config *c)
{
    settings_free(&study_local_schema, c->settings);
    yaml_documents_free(&c->docs);
}

static char *scratch_path(const char *name)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", test_scratch_dir(), name) > 0);
    unlink(path);
    return path;
}

/* ---- a fake servo ---------------------------------------------------------------------- */

static const char description[] =
    "{\"application\":{\"components\":{\"web\":{\"settings\":{"
    "\"cpu\":{\"type\":\"range\",\"min\":0.5,\"max\":4,\"step\":0.5,\"value\":1},"
    "\"replicas\":{\"type\":\"range\",\"min\":1,\"max\":6,\"step\":1,\"value\":2},"
    "\"gc\":{\"type\":\"enum\",\"values\":[\"g1\",\"zgc\",\"parallel\"],\"value\":\"g1\"}}}}},"
    "\"measurement\":{\"metrics\":{\"cost\":{\"unit\":\"\"}}}}";

struct servo {
    double cpu, replicas;
    int gc;
};

static json_t *post(struct study *s, const char *event, json_t *param, int *status)
{
    json_t *request = json_pack("{s:s, s:o?, s:n}", "event", event, "param", param, "servo_uid");
    int http_status = 0;
    json_t *reply = study_exchange(s, request, &http_status);
    json_decref(request);
    if (status != NULL)
        *status = http_status;
    else
        assert_int_equal(http_status, 200);
    return reply;
}

static double cost(const struct servo *v)
{
    return (v->cpu - 2.5) * (v->cpu - 2.5) + 0.3 * v->replicas + (v->gc == 1 ? 0 : 0.7);
}

static void adjust(struct servo *v, const json_t *param)
{
    const json_t *settings = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(param, "state"), "application"),
                            "components"),
            "web"),
        "settings");
    v->cpu = json_number_value(json_object_get(json_object_get(settings, "cpu"), "value"));
    v->replicas =
        json_number_value(json_object_get(json_object_get(settings, "replicas"), "value"));
    const char *gc = json_string_value(json_object_get(json_object_get(settings, "gc"), "value"));
    v->gc = strcmp(gc, "zgc") == 0 ? 1 : strcmp(gc, "parallel") == 0 ? 2 : 0;
}

/* The result of a command, NULL for SLEEP. */
static json_t *carry_out(struct servo *v, const json_t *command, const char **event)
{
    const char *cmd = json_string_value(json_object_get(command, "cmd"));
    json_t *result =
        json_pack("{s:s, s:O}", "status", "ok", "cmd_uid", json_object_get(command, "cmd_uid"));
    if (strcmp(cmd, "DESCRIBE") == 0) {
        *event = "DESCRIPTION";
        json_object_set_new(result, "descriptor", json_loads(description, 0, NULL));
    } else if (strcmp(cmd, "MEASURE") == 0) {
        *event = "MEASUREMENT";
        json_object_set_new(result, "metrics",
                            json_pack("{s:{s:s, s:f}}", "cost", "unit", "", "value", cost(v)));
    } else if (strcmp(cmd, "ADJUST") == 0) {
        *event = "ADJUSTMENT";
        adjust(v, json_object_get(command, "param"));
    } else {
        json_decref(result);
        return NULL;
    }
    return result;
}

static const char yaml[] = "objective: {metric: cost, goal: minimize}\nbudget: 8\nseed: 11\n";

static struct study *open_study(struct config *c, struct store **store, const char *path)
{
    char *error = NULL;
    assert_int_equal(store_open(path, true, store, &error), 0);
    struct study *s = NULL;
    if (study_open("example.com/web", c->settings, *store, NULL, &s, &error) != 0)
        fail_msg("study_open: %s", error);
    return s;
}

/* Runs a session, closing and reopening everything after every exchange when `restart`;
 * returns the commands (without their cmd_uids) as one JSON array. */
static json_t *session(const char *path, bool restart)
{
    struct config c;
    config_load(&c, yaml);
    struct store *store = NULL;
    struct study *s = open_study(&c, &store, path);
    struct servo v = {1, 2, 0};
    json_t *commands = json_array();
    for (int i = 0; i < 100; i++) {
        json_t *command = post(s, "WHATS_NEXT", NULL, NULL);
        const char *event = NULL;
        json_t *result = carry_out(&v, command, &event);
        json_object_del(command, "cmd_uid");
        json_array_append_new(commands, command);
        if (result == NULL)
            break;
        if (restart) {
            study_free(s);
            store_close(store);
            s = open_study(&c, &store, path);
        }
        json_t *reply = post(s, event, result, NULL);
        assert_string_equal(json_string_value(json_object_get(reply, "status")), "ok");
        json_decref(reply);
    }
    assert_true(study_over(s));
    study_free(s);
    store_close(store);
    config_free(&c);
    return commands;
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_resume_gives_identical_suggestions(void **state)
{
    (void)state;
    char *a = scratch_path("straight.db"), *b = scratch_path("restarted.db");
    json_t *straight = session(a, false);
    json_t *restarted = session(b, true);
    /* DESCRIBE, MEASURE, 8 x (ADJUST, MEASURE), ADJUST, SLEEP */
    assert_int_equal(json_array_size(straight), 1 + 1 + 16 + 1 + 1);
    if (!json_equal(straight, restarted)) {
        char *x = json_dumps(straight, JSON_COMPACT), *y = json_dumps(restarted, JSON_COMPACT);
        fail_msg("different sessions:\n%s\n%s", x, y);
    }
    json_decref(straight);
    json_decref(restarted);
    free(a);
    free(b);
}

static void test_rows(void **state)
{
    (void)state;
    char *path = scratch_path("rows.db");
    json_decref(session(path, false));
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, false, &store, &error), 0);
    struct store_app app;
    bool found = false;
    assert_int_equal(store_load_app(store, "example.com/web", &app, &found, &error), 0);
    assert_true(found);
    assert_string_equal(app.phase, "done");
    assert_string_equal(app.reason, "optimization complete");
    assert_null(app.pending);
    assert_non_null(app.description);
    assert_non_null(strstr(app.config, "\"budget\":8"));
    struct store_trial *trials = NULL;
    size_t count = 0;
    assert_int_equal(store_load_trials(store, "example.com/web", &trials, &count, &error), 0);
    assert_int_equal(count, 9);
    for (size_t i = 0; i < count; i++) {
        const struct store_trial *t = &trials[i];
        assert_int_equal(t->number, (long long)i);
        assert_string_equal(t->status, "ok");
        assert_true(t->feasible && t->has_objective && isfinite(t->objective));
        assert_non_null(strstr(t->settings, "web.cpu"));
        assert_non_null(strstr(t->metrics, "\"cost\""));
        assert_non_null(t->measure_uid);
        assert_true(i == 0 ? t->adjust_uid == NULL : t->adjust_uid != NULL);
        assert_true(t->started > 0 && t->finished >= t->started);
    }
    store_trials_free(trials, count);
    store_app_clear(&app);
    char **ids = NULL;
    assert_int_equal(store_list_apps(store, &ids, &count, &error), 0);
    assert_int_equal(count, 1);
    assert_string_equal(ids[0], "example.com/web");
    store_ids_free(ids, count);
    store_close(store);
    free(path);
}

static void test_results(void **state)
{
    (void)state;
    char *path = scratch_path("results.db");
    json_decref(session(path, false));
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, false, &store, &error), 0);
    json_t *doc = results_load(store, NULL, &error);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "application")), "example.com/web");
    assert_int_equal(json_array_size(json_object_get(doc, "trials")), 9);
    assert_int_equal(json_array_size(json_object_get(doc, "settings")), 3);
    assert_true(json_is_integer(json_object_get(doc, "best")));
    char *text = results_history_text(doc);
    assert_non_null(strstr(text, "TRIAL"));
    assert_non_null(strstr(text, "web.cpu"));
    assert_non_null(strstr(text, "baseline"));
    free(text);
    char *csv = results_history_csv(doc);
    assert_non_null(strstr(csv, "number,status,feasible,cost,web.cpu,web.replicas,web.gc"));
    size_t lines = 0;
    for (const char *p = csv; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 10);
    free(csv);
    char *best = results_best_text(doc);
    assert_non_null(strstr(best, "Objective: cost (minimize mean) = "));
    free(best);
    char *summary = results_summary_text(doc);
    assert_non_null(strstr(summary, "Optimization complete"));
    assert_non_null(strstr(summary, "Trials: 9 (the baseline and 8 more)"));
    free(summary);
    json_decref(doc);
    assert_null(results_load(store, "nobody/else", &error));
    assert_non_null(strstr(error, "no study of \"nobody/else\""));
    free(error);
    store_close(store);
    free(path);
}

static void test_corrupt_file(void **state)
{
    (void)state;
    char text[8192];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    const char *path = test_write_file("corrupt.db", text);
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, true, &store, &error), -1);
    assert_null(store);
    assert_non_null(strstr(error, "file is not a database"));
    assert_non_null(strstr(error, "corrupt.db"));
    free(error);
}

static void test_missing_and_newer_files(void **state)
{
    (void)state;
    char *path = scratch_path("missing.db");
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, false, &store, &error), -1);
    assert_non_null(strstr(error, "missing.db: no such store file"));
    free(error);
    error = NULL;
    /* a missing directory is named, for opening, creating and claiming */
    char *nowhere = xasprintf("%s/no-such-dir/study.db", test_scratch_dir());
    char *expected = xasprintf("%s: cannot create the store: its directory %s/no-such-dir does "
                               "not exist (create it, or choose another store)",
                               nowhere, test_scratch_dir());
    assert_int_equal(store_open(nowhere, true, &store, &error), -1);
    assert_string_equal(error, expected);
    free(error);
    error = NULL;
    struct store_claim *claim = NULL;
    assert_int_equal(store_claim(nowhere, &claim, &error), -1);
    assert_non_null(strstr(error, "no-such-dir does not exist"));
    free(error);
    error = NULL;
    free(expected);
    free(nowhere);
    assert_int_equal(store_open(path, true, &store, &error), 0);
    store_close(store);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(path, false, &store, &error), -1);
    assert_non_null(strstr(error, "written by a newer servo"));
    free(error);
    free(path);
}

static void test_locked_file(void **state)
{
    (void)state;
    char *path = scratch_path("locked.db");
    struct config c;
    config_load(&c, yaml);
    struct store *store = NULL;
    struct study *s = open_study(&c, &store, path);
    store_set_busy_timeout(store, 50);
    json_t *describe = post(s, "WHATS_NEXT", NULL, NULL);
    struct servo v = {1, 2, 0};
    const char *event = NULL;
    json_t *result = carry_out(&v, describe, &event);
    /* another process holds the write lock */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    int status = 0;
    json_t *reply = post(s, event, json_deep_copy(result), &status);
    assert_int_equal(status, 503);
    assert_non_null(
        strstr(json_string_value(json_object_get(reply, "detail")), "database is locked"));
    json_decref(reply);
    /* nothing changed: the same command is pending */
    json_t *again = post(s, "WHATS_NEXT", NULL, NULL);
    assert_true(json_equal(describe, again));
    json_decref(again);
    /* once the lock is gone the same result goes through */
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    reply = post(s, event, result, NULL);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "ok");
    json_decref(reply);
    json_t *measure = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(measure, "cmd")), "MEASURE");
    json_decref(measure);
    json_decref(describe);
    study_free(s);
    store_close(store);
    config_free(&c);
    free(path);
}

static void test_budget_raised(void **state)
{
    (void)state;
    char *path = scratch_path("raised.db");
    json_decref(session(path, false));
    struct config c;
    config_load(&c, "objective: {metric: cost, goal: minimize}\nbudget: 10\nseed: 11\n");
    struct store *store = NULL;
    struct study *s = open_study(&c, &store, path);
    assert_false(study_over(s));
    json_t *command = post(s, "WHATS_NEXT", NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(command, "cmd")), "ADJUST");
    json_decref(command);
    assert_int_equal(study_trial_count(s), 10);
    study_free(s);
    store_close(store);
    config_free(&c);
    free(path);
}

static void test_two_applications(void **state)
{
    (void)state;
    char *path = scratch_path("two.db");
    struct config c;
    config_load(&c, yaml);
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, true, &store, &error), 0);
    struct study *a = NULL, *b = NULL;
    assert_int_equal(study_open("org/a", c.settings, store, NULL, &a, &error), 0);
    assert_int_equal(study_open("org/b", c.settings, store, NULL, &b, &error), 0);
    json_t *ca = post(a, "WHATS_NEXT", NULL, NULL), *cb = post(b, "WHATS_NEXT", NULL, NULL);
    assert_false(json_equal(json_object_get(ca, "cmd_uid"), json_object_get(cb, "cmd_uid")));
    json_decref(ca);
    json_decref(cb);
    assert_null(results_load(store, NULL, &error));
    assert_non_null(strstr(error, "holds 2 studies; pick one with --app (org/a, org/b)"));
    free(error);
    study_free(a);
    study_free(b);
    store_close(store);
    config_free(&c);
    free(path);
}

/* One process writes a SQLite store: another is refused, naming the store and the holder;
 * the claim of a process that died goes with it. */
static void test_single_writer(void **state)
{
    (void)state;
    char *path = scratch_path("claimed.db");
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct store_claim *claim = NULL;
        char *error = NULL;
        char byte = store_claim(path, &claim, &error) == 0 ? 'y' : 'n';
        if (write(ready[1], &byte, 1) != 1 || read(release[0], &byte, 1) < 0)
            _exit(2);
        _exit(0); /* dies holding the claim */
    }
    char byte = 0;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    assert_int_equal(byte, 'y');
    struct store_claim *claim = NULL;
    char *error = NULL;
    assert_int_equal(store_claim(path, &claim, &error), -1);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %ld on host ", (long)child);
    assert_non_null(strstr(error, "claimed.db is in use by "));
    assert_non_null(strstr(error, pid_text));
    free(error);
    error = NULL;
    assert_int_equal(write(release[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(status, 0);
    /* the holder is dead: taken over; claims nest within one process */
    assert_int_equal(store_claim(path, &claim, &error), 0);
    struct store_claim *again = NULL;
    assert_int_equal(store_claim(path, &again, &error), 0);
    assert_ptr_equal(claim, again);
    store_release(again);
    store_release(claim);
    /* no claim for ":memory:" */
    assert_int_equal(store_claim(":memory:", &claim, &error), 0);
    assert_null(claim);
    for (int i = 0; i < 2; i++) {
        close(ready[i]);
        close(release[i]);
    }
    free(path);
}

/* A store of schema version 1 (before the servo's revision and last-seen columns) is migrated
 * in place, its study going on. */
static void test_migration(void **state)
{
    (void)state;
    char *path = scratch_path("v1.db");
    json_decref(session(path, false));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE applications DROP COLUMN servo_seen;"
                                  "ALTER TABLE applications DROP COLUMN revision;"
                                  "UPDATE schema_version SET version = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, false, &store, &error), 0);
    struct store_app app;
    bool found = false;
    assert_int_equal(store_load_app(store, "example.com/web", &app, &found, &error), 0);
    assert_true(found);
    assert_string_equal(app.phase, "done");
    assert_int_equal(app.revision, 0);
    store_app_clear(&app);
    store_close(store);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
}

/* A store that cannot be written is found when it is opened, not at the first write; an
 * unknown scheme is named. */
static void test_read_only_and_unknown(void **state)
{
    (void)state;
    char *path = scratch_path("readonly.db");
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, true, &store, &error), 0);
    store_close(store);
    char *uri = NULL;
    assert_true(asprintf(&uri, "file:%s?mode=ro", path) > 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    free(uri);
    if (geteuid() != 0) { /* root writes a 0444 file anyway */
        assert_int_equal(chmod(path, 0444), 0);
        assert_int_equal(store_open(path, true, &store, &error), -1);
        assert_non_null(strstr(error, "readonly.db"));
        free(error);
        error = NULL;
    }
    assert_int_equal(store_open("mysql://db/servo", true, &store, &error), -1);
    assert_non_null(strstr(error, "mysql://db/servo: unknown kind of store"));
    free(error);
    free(path);
}

/* A study kept aside: renamed with its trials to the first free NAME.N, in one transaction;
 * the configuration it ran with is compared with another. */
static void test_set_aside_and_mismatch(void **state)
{
    (void)state;
    char *path = scratch_path("aside.db");
    json_t *full = NULL;
    {
        json_t *commands = session(path, false);
        json_decref(commands);
    }
    struct store *store = NULL;
    char *error = NULL;
    assert_int_equal(store_open(path, true, &store, &error), 0);
    full = results_load(store, "example.com/web", &error);
    assert_non_null(full);
    /* the same configuration and description match; another objective or settings do not */
    struct store_app app;
    memset(&app, 0, sizeof app);
    bool found = false;
    assert_int_equal(store_load_app(store, "example.com/web", &app, &found, &error), 0);
    assert_true(found);
    struct config same, other;
    config_load(&same, yaml);
    config_load(&other, "objective: {metric: cost, goal: maximize}\nbudget: 20\nseed: 11\n");
    json_t *descriptor = json_loads(description, 0, NULL);
    struct servo_description *d = NULL;
    assert_int_equal(servo_description_from_json(descriptor, &d, &error), 0);
    assert_null(study_mismatch(&app, same.settings, d));
    assert_null(study_mismatch(&app, same.settings, NULL));
    char *why = study_mismatch(&app, other.settings, d);
    assert_string_equal(why, "objective");
    free(why);
    d->components[0].settings[0].max = 8; /* cpu up to 8 now */
    why = study_mismatch(&app, same.settings, d);
    assert_string_equal(why, "described settings");
    free(why);
    d->components[0].settings[0].max = 4;
    d->components[0].settings[0].value = 3; /* another current value: the same study */
    assert_null(study_mismatch(&app, same.settings, d));
    servo_description_free(d);
    json_decref(descriptor);
    config_free(&same);
    config_free(&other);
    store_app_clear(&app);
    /* aside twice: .1, then .2 */
    char *kept = NULL;
    assert_int_equal(study_set_aside(store, "example.com/web", &kept, &error), 0);
    assert_string_equal(kept, "example.com/web.1");
    free(kept);
    json_t *moved = results_load(store, "example.com/web.1", &error);
    assert_non_null(moved);
    assert_true(json_equal(json_object_get(moved, "trials"), json_object_get(full, "trials")));
    assert_null(results_load(store, "example.com/web", &error));
    assert_non_null(strstr(error, "holds no study of \"example.com/web\""));
    free(error);
    error = NULL;
    json_decref(session(path, false));
    assert_int_equal(study_set_aside(store, "example.com/web", &kept, &error), 0);
    assert_string_equal(kept, "example.com/web.2");
    free(kept);
    assert_int_equal(study_set_aside(store, "example.com/none", &kept, &error), -1);
    assert_non_null(strstr(error, "holds no study of \"example.com/none\""));
    free(error);
    error = NULL;
    json_t *list = results_studies(store, &error);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "application")),
                        "example.com/web.1");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "trials")), 9);
    char *csv = results_studies_text(list, true);
    assert_non_null(strstr(csv, "study,phase,trials,created,updated,reason\r\n"
                                "example.com/web.1,done,9,"));
    free(csv);
    json_decref(list);
    json_decref(moved);
    json_decref(full);
    store_close(store);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_gives_identical_suggestions),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_results),
        cmocka_unit_test(test_corrupt_file),
        cmocka_unit_test(test_missing_and_newer_files),
        cmocka_unit_test(test_locked_file),
        cmocka_unit_test(test_budget_raised),
        cmocka_unit_test(test_two_applications),
        cmocka_unit_test(test_single_writer),
        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_read_only_and_unknown),
        cmocka_unit_test(test_set_aside_and_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
