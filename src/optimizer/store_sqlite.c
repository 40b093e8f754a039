// SPDX-License-Identifier: Apache-2.0
/* The study store over SQLite (store.h). */
#include "optimizer/store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "optimizer/store_impl.h"
#include "util/util.h"

enum statement {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVE_APP,
    ST_LOAD_APP,
    ST_LIST_APPS,
    ST_SAVE_TRIAL,
    ST_LOAD_TRIALS,
    ST_LOCK_APP,
    ST_DELETE_APP,
    ST_DELETE_TRIALS,
    ST_COUNT,
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVE_APP] = "INSERT OR REPLACE INTO applications (id, config, objective, description, "
                    "phase, reason, pending, last_done_uid, nonce, servo_uid, next_seq, trial, "
                    "describe_failures, created, updated, servo_seen, revision) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                    "?16, ?17)",
    [ST_LOAD_APP] = "SELECT id, config, objective, description, phase, reason, pending, "
                    "last_done_uid, nonce, servo_uid, next_seq, trial, describe_failures, "
                    "created, updated, servo_seen, revision FROM applications WHERE id = ?1",
    [ST_LIST_APPS] = "SELECT id FROM applications ORDER BY id",
    [ST_SAVE_TRIAL] = "INSERT OR REPLACE INTO trials (application, number, settings, metrics, "
                      "objective, constraints, feasible, status, reason, message, adjust_uid, "
                      "measure_uid, started, finished) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_LOAD_TRIALS] = "SELECT number, settings, metrics, objective, constraints, feasible, "
                       "status, reason, message, adjust_uid, measure_uid, started, finished "
                       "FROM trials WHERE application = ?1 ORDER BY number",
    [ST_LOCK_APP] = "SELECT revision FROM applications WHERE id = ?1",
    [ST_DELETE_APP] = "DELETE FROM applications WHERE id = ?1",
    [ST_DELETE_TRIALS] = "DELETE FROM trials WHERE application = ?1",
};

static const char schema_sql[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE applications ("
    " id TEXT PRIMARY KEY, config TEXT, objective TEXT, description TEXT,"
    " phase TEXT NOT NULL, reason TEXT, pending TEXT, last_done_uid TEXT, nonce TEXT NOT NULL,"
    " servo_uid TEXT, next_seq INTEGER NOT NULL, trial INTEGER NOT NULL,"
    " describe_failures INTEGER NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,"
    " servo_seen REAL NOT NULL DEFAULT 0, revision INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE trials ("
    " application TEXT NOT NULL, number INTEGER NOT NULL, settings TEXT NOT NULL,"
    " metrics TEXT, objective REAL, constraints TEXT, feasible INTEGER NOT NULL,"
    " status TEXT NOT NULL, reason TEXT, message TEXT, adjust_uid TEXT, measure_uid TEXT,"
    " started REAL, finished REAL, PRIMARY KEY (application, number));";

/* Version 1 -> 2: the servo driving the study, and the row's revision. */
static const char migrate_1_sql[] =
    "ALTER TABLE applications ADD COLUMN servo_seen REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE applications ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;"
    "UPDATE schema_version SET version = 2;";

struct sqlite_store {
    struct store base; /* first */
    sqlite3 *db;
    sqlite3_stmt *statements[ST_COUNT];
};

static struct sqlite_store *of(struct store *s)
{
    return (struct sqlite_store *)s;
}

static int fail(struct sqlite_store *s, char **error)
{
    if (error != NULL)
        *error = xasprintf("%s: %s", s->base.location, sqlite3_errmsg(s->db));
    return -1;
}

static void sqlite_set_busy_timeout(struct store *s, int milliseconds)
{
    sqlite3_busy_timeout(of(s)->db, milliseconds);
}

/* ---- opening --------------------------------------------------------------------------- */

/* The schema version, 0 when the file has no schema yet. */
static int read_version(struct sqlite_store *s, int *version, char **error)
{
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                      "name = 'schema_version'";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(s, error);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *version = 0;
        return 0;
    }
    if (rc != SQLITE_ROW)
        return fail(s, error);
    if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return fail(s, error);
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail(s, error);
    return 0;
}

static int exec_sql(struct sqlite_store *s, const char *sql, char **error)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, error);
    return 0;
}

/* Runs `sql` in one write transaction. */
static int exec_transaction(struct sqlite_store *s, const char *sql, char **error)
{
    char *text = xasprintf("BEGIN IMMEDIATE;%sCOMMIT;", sql);
    int rc = exec_sql(s, text, error);
    free(text);
    if (rc != 0 && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int create_schema(struct sqlite_store *s, char **error)
{
    char *sql =
        xasprintf("%sINSERT INTO schema_version VALUES (%d);", schema_sql, STORE_SCHEMA_VERSION);
    int rc = exec_transaction(s, sql, error);
    free(sql);
    return rc;
}

static int check_schema(struct sqlite_store *s, char **error)
{
    int version = 0;
    if (read_version(s, &version, error) != 0)
        return -1;
    if (version == 0) {
        /* another process may have created it meanwhile: look again under the lock */
        if (create_schema(s, NULL) == 0)
            return 0;
        if (read_version(s, &version, error) != 0)
            return -1;
        if (version == 0)
            return create_schema(s, error);
    }
    if (version == 1 && exec_transaction(s, migrate_1_sql, NULL) != 0) {
        /* another process may have migrated it meanwhile */
        if (read_version(s, &version, error) != 0)
            return -1;
        if (version == 1 && exec_transaction(s, migrate_1_sql, error) != 0)
            return -1;
    }
    if (version == 1)
        version = 2;
    if (version == STORE_SCHEMA_VERSION)
        return 0;
    if (error != NULL)
        *error = xasprintf("%s: schema version %d, this servo knows version %d%s", s->base.location,
                           version, STORE_SCHEMA_VERSION,
                           version > STORE_SCHEMA_VERSION ? " (written by a newer servo)" : "");
    return -1;
}

static int prepare_statements(struct sqlite_store *s, char **error)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->statements[i], NULL) != SQLITE_OK)
            return fail(s, error);
    return 0;
}

static int configure(struct sqlite_store *s, char **error)
{
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 0);
    if (strcmp(s->base.location, ":memory:") != 0 &&
        exec_sql(s, "PRAGMA journal_mode=WAL", error) != 0)
        return -1;
    return exec_sql(s, "PRAGMA synchronous=NORMAL", error);
}

/* A store that opens but cannot be written (a read-only file or directory) is found at once,
 * not at the first write. */
static int check_writable(struct sqlite_store *s, char **error)
{
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        *error = xasprintf("%s: the store is read-only", s->base.location);
        return -1;
    }
    return exec_transaction(s, "UPDATE schema_version SET version = version;", error);
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *s = of(base);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->statements[i]);
    sqlite3_close(s->db);
    free(s->base.location);
    free(s);
}

static const struct store_ops sqlite_ops;

int store_sqlite_open(const char *path, const struct store_options *options, struct store **out,
                      char **error)
{
    *out = NULL;
    struct sqlite_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    s->base.location = xstrdup(path);
    int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options->create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (error != NULL)
            *error = s->db ? xasprintf("%s: %s", path, sqlite3_errmsg(s->db))
                           : xasprintf("%s: cannot open", path);
        sqlite_close(&s->base);
        return -1;
    }
    if (configure(s, error) != 0 || check_schema(s, error) != 0 ||
        (options->create && check_writable(s, error) != 0) || prepare_statements(s, error) != 0) {
        sqlite_close(&s->base);
        return -1;
    }
    *out = &s->base;
    return 0;
}

static int sqlite_ping(struct store *base, char **error)
{
    struct sqlite_store *s = of(base);
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        *error = xasprintf("%s: the store is read-only", base->location);
        return -1;
    }
    int version = 0;
    return read_version(s, &version, error);
}

/* ---- transactions ---------------------------------------------------------------------- */

static int step_done(struct sqlite_store *s, sqlite3_stmt *st, char **error)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return fail(s, error);
    return 0;
}

static int sqlite_begin(struct store *s, char **error)
{
    return step_done(of(s), of(s)->statements[ST_BEGIN], error);
}

static void sqlite_rollback(struct store *base)
{
    struct sqlite_store *s = of(base);
    if (!sqlite3_get_autocommit(s->db))
        step_done(s, s->statements[ST_ROLLBACK], NULL);
}

static int sqlite_commit(struct store *s, char **error)
{
    if (step_done(of(s), of(s)->statements[ST_COMMIT], error) != 0) {
        sqlite_rollback(s);
        return -1;
    }
    return 0;
}

/* ---- binding and reading --------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *st, int index, const char *text)
{
    if (text == NULL)
        sqlite3_bind_null(st, index);
    else
        sqlite3_bind_text(st, index, text, -1, SQLITE_TRANSIENT);
}

static void bind_real(sqlite3_stmt *st, int index, bool present, double value)
{
    if (!present || !isfinite(value))
        sqlite3_bind_null(st, index);
    else
        sqlite3_bind_double(st, index, value);
}

static char *column_text(sqlite3_stmt *st, int index)
{
    const unsigned char *text = sqlite3_column_text(st, index);
    return text ? xstrdup((const char *)text) : NULL;
}

static bool column_present(sqlite3_stmt *st, int index)
{
    return sqlite3_column_type(st, index) != SQLITE_NULL;
}

/* ---- applications ---------------------------------------------------------------------- */

static int sqlite_lock_app(struct store *base, const char *id, bool *found, long long *revision,
                           char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_LOCK_APP];
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    *revision = *found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, error);
    return 0;
}

static int sqlite_save_app(struct store *base, const struct store_app *app, char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_SAVE_APP];
    bind_text(st, 1, app->id);
    bind_text(st, 2, app->config);
    bind_text(st, 3, app->objective);
    bind_text(st, 4, app->description);
    bind_text(st, 5, app->phase);
    bind_text(st, 6, app->reason);
    bind_text(st, 7, app->pending);
    bind_text(st, 8, app->last_done_uid);
    bind_text(st, 9, app->nonce ? app->nonce : "");
    bind_text(st, 10, app->servo_uid);
    sqlite3_bind_int64(st, 11, app->next_seq);
    sqlite3_bind_int64(st, 12, app->trial);
    sqlite3_bind_int64(st, 13, app->describe_failures);
    sqlite3_bind_double(st, 14, app->created);
    sqlite3_bind_double(st, 15, app->updated);
    sqlite3_bind_double(st, 16, app->servo_seen);
    sqlite3_bind_int64(st, 17, app->revision);
    return step_done(s, st, error);
}

static void read_app(sqlite3_stmt *st, struct store_app *app)
{
    app->id = column_text(st, 0);
    app->config = column_text(st, 1);
    app->objective = column_text(st, 2);
    app->description = column_text(st, 3);
    app->phase = column_text(st, 4);
    app->reason = column_text(st, 5);
    app->pending = column_text(st, 6);
    app->last_done_uid = column_text(st, 7);
    app->nonce = column_text(st, 8);
    app->servo_uid = column_text(st, 9);
    app->next_seq = sqlite3_column_int64(st, 10);
    app->trial = sqlite3_column_int64(st, 11);
    app->describe_failures = sqlite3_column_int64(st, 12);
    app->created = sqlite3_column_double(st, 13);
    app->updated = sqlite3_column_double(st, 14);
    app->servo_seen = sqlite3_column_double(st, 15);
    app->revision = sqlite3_column_int64(st, 16);
}

static int sqlite_load_app(struct store *base, const char *id, struct store_app *out, bool *found,
                           char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_LOAD_APP];
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_app(st, out);
        *found = true;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(s, error);
    return 0;
}

static int sqlite_list_apps(struct store *base, char ***ids, size_t *count, char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_LIST_APPS];
    size_t n = 0, capacity = 0;
    char **list = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow((void **)&list, sizeof *list, n, &capacity);
        list[n++] = column_text(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        store_ids_free(list, n);
        return fail(s, error);
    }
    *ids = list;
    *count = n;
    return 0;
}

static int sqlite_delete_app(struct store *base, const char *id, bool *found, char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_DELETE_APP];
    bind_text(st, 1, id);
    if (step_done(s, st, error) != 0)
        return -1;
    *found = sqlite3_changes(s->db) > 0;
    st = s->statements[ST_DELETE_TRIALS];
    bind_text(st, 1, id);
    return step_done(s, st, error);
}

/* ---- trials ---------------------------------------------------------------------------- */

static int sqlite_save_trial(struct store *base, const char *app, const struct store_trial *t,
                             char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_SAVE_TRIAL];
    bind_text(st, 1, app);
    sqlite3_bind_int64(st, 2, t->number);
    bind_text(st, 3, t->settings ? t->settings : "{}");
    bind_text(st, 4, t->metrics);
    bind_real(st, 5, t->has_objective, t->objective);
    bind_text(st, 6, t->constraints);
    sqlite3_bind_int(st, 7, t->feasible ? 1 : 0);
    bind_text(st, 8, t->status ? t->status : "");
    bind_text(st, 9, t->reason);
    bind_text(st, 10, t->message);
    bind_text(st, 11, t->adjust_uid);
    bind_text(st, 12, t->measure_uid);
    bind_real(st, 13, t->started > 0, t->started);
    bind_real(st, 14, t->finished > 0, t->finished);
    return step_done(s, st, error);
}

static void read_trial(sqlite3_stmt *st, struct store_trial *t)
{
    memset(t, 0, sizeof *t);
    t->number = sqlite3_column_int64(st, 0);
    t->settings = column_text(st, 1);
    t->metrics = column_text(st, 2);
    t->has_objective = column_present(st, 3);
    t->objective = t->has_objective ? sqlite3_column_double(st, 3) : NAN;
    t->constraints = column_text(st, 4);
    t->feasible = sqlite3_column_int(st, 5) != 0;
    t->status = column_text(st, 6);
    t->reason = column_text(st, 7);
    t->message = column_text(st, 8);
    t->adjust_uid = column_text(st, 9);
    t->measure_uid = column_text(st, 10);
    t->started = column_present(st, 11) ? sqlite3_column_double(st, 11) : 0;
    t->finished = column_present(st, 12) ? sqlite3_column_double(st, 12) : 0;
}

static int sqlite_load_trials(struct store *base, const char *app, struct store_trial **out,
                              size_t *count, char **error)
{
    struct sqlite_store *s = of(base);
    sqlite3_stmt *st = s->statements[ST_LOAD_TRIALS];
    bind_text(st, 1, app);
    size_t n = 0, capacity = 0;
    struct store_trial *trials = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow((void **)&trials, sizeof *trials, n, &capacity);
        read_trial(st, &trials[n++]);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        store_trials_free(trials, n);
        return fail(s, error);
    }
    *out = trials;
    *count = n;
    return 0;
}

static const struct store_ops sqlite_ops = {
    .close = sqlite_close,
    .ping = sqlite_ping,
    .set_busy_timeout = sqlite_set_busy_timeout,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .lock_app = sqlite_lock_app,
    .save_app = sqlite_save_app,
    .load_app = sqlite_load_app,
    .list_apps = sqlite_list_apps,
    .save_trial = sqlite_save_trial,
    .load_trials = sqlite_load_trials,
    .delete_app = sqlite_delete_app,
};
