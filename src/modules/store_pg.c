// SPDX-License-Identifier: Apache-2.0
/* The study store over PostgreSQL (store.h), with libpq, in a module of its own
 * (servo-store-pg.so, loaded by store.c for a postgresql:// store only: no other command maps
 * libpq and what it brings). Several server replicas share one
 * database: a request is one transaction that locks its application's row (SELECT ... FOR
 * UPDATE), so requests of one application are served one at a time whichever replica gets
 * them, and a replica that dies mid-request leaves the last committed state. A lost connection
 * is an error for the request that met it; the next transaction reconnects. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "optimizer/store_impl.h"
#include "util/util.h"

#define PG_PASSWORD_MAX 4096
/* Serializes schema creation and migration between replicas starting together. */
#define PG_SCHEMA_LOCK 7217430112LL

struct pg_store {
    struct store base; /* first */
    PGconn *conn;
    char *uri;
    char *password;
};

static struct pg_store *of(struct store *s)
{
    return (struct pg_store *)s;
}

/* ---- messages -------------------------------------------------------------------------- */

/* The URI without its password: "postgresql://user:secret@host/db" -> "...user@host/db". */
static char *redact_uri(const char *uri)
{
    const char *start = strstr(uri, "://");
    start = start ? start + 3 : uri;
    const char *end = start + strcspn(start, "/?#");
    const char *at = NULL;
    for (const char *p = start; p < end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    char *text = colon ? xasprintf("%.*s%s", (int)(colon - uri), uri, at) : xstrdup(uri);
    /* a password given as a query parameter */
    char *query = strstr(text, "password=");
    if (query != NULL && (query[-1] == '?' || query[-1] == '&')) {
        const char *value_end = query + 9 + strcspn(query + 9, "&#");
        char *redacted = xasprintf("%.*s***%s", (int)(query + 9 - text), text, value_end);
        free(text);
        text = redacted;
    }
    return text;
}

static char *one_line(const char *message)
{
    char *text = xstrdup(message ? message : "unknown error");
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    for (char *p = text; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return text;
}

static int fail_conn(struct pg_store *s, char **error)
{
    if (error != NULL) {
        char *why = one_line(PQerrorMessage(s->conn));
        *error = xasprintf("%s: %s", s->base.location, why);
        free(why);
    }
    return -1;
}

static int fail_result(struct pg_store *s, PGresult *r, char **error)
{
    if (error != NULL) {
        const char *message = r ? PQresultErrorMessage(r) : NULL;
        char *why = one_line(message && message[0] ? message : PQerrorMessage(s->conn));
        *error = xasprintf("%s: %s", s->base.location, why);
        free(why);
    }
    PQclear(r);
    return -1;
}

/* ---- queries --------------------------------------------------------------------------- */

/* Runs `sql` with text parameters (NULL: SQL NULL); the result when it has the expected
 * status, else NULL with the error. */
static PGresult *query(struct pg_store *s, const char *sql, int count, const char *const *values,
                       ExecStatusType expected, char **error)
{
    PGresult *r = PQexecParams(s->conn, sql, count, NULL, values, NULL, NULL, 0);
    if (r == NULL || PQresultStatus(r) != expected) {
        fail_result(s, r, error);
        return NULL;
    }
    return r;
}

static int command(struct pg_store *s, const char *sql, int count, const char *const *values,
                   char **error)
{
    PGresult *r = query(s, sql, count, values, PGRES_COMMAND_OK, error);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

static char *column_text(const PGresult *r, int row, int column)
{
    return PQgetisnull(r, row, column) ? NULL : xstrdup(PQgetvalue(r, row, column));
}

static long long column_int(const PGresult *r, int row, int column)
{
    return PQgetisnull(r, row, column) ? 0 : strtoll(PQgetvalue(r, row, column), NULL, 10);
}

static double column_real(const PGresult *r, int row, int column, double absent)
{
    return PQgetisnull(r, row, column) ? absent : strtod(PQgetvalue(r, row, column), NULL);
}

/* Numbers as parameters: each in its own slot of `buffers`. */
struct numbers {
    char buffers[8][32];
    int used;
};

static const char *integer_text(struct numbers *n, long long value)
{
    char *b = n->buffers[n->used++];
    snprintf(b, sizeof n->buffers[0], "%lld", value);
    return b;
}

static const char *real_text(struct numbers *n, bool present, double value)
{
    if (!present || !isfinite(value))
        return NULL;
    char *b = n->buffers[n->used++];
    snprintf(b, sizeof n->buffers[0], "%.17g", value);
    return b;
}

/* ---- the schema ------------------------------------------------------------------------ */

static const char schema_sql[] =
    "CREATE TABLE schema_version (version integer NOT NULL);"
    "CREATE TABLE applications ("
    " id text PRIMARY KEY, config text, objective text, description text,"
    " phase text NOT NULL, reason text, pending text, last_done_uid text, nonce text NOT NULL,"
    " servo_uid text, servo_seen double precision NOT NULL DEFAULT 0,"
    " next_seq bigint NOT NULL, trial bigint NOT NULL, describe_failures bigint NOT NULL,"
    " created double precision NOT NULL, updated double precision NOT NULL,"
    " revision bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE trials ("
    " application text NOT NULL, number bigint NOT NULL, settings text NOT NULL,"
    " metrics text, objective double precision, constraints text, feasible boolean NOT NULL,"
    " status text NOT NULL, reason text, message text, adjust_uid text, measure_uid text,"
    " started double precision, finished double precision,"
    " PRIMARY KEY (application, number));";

static int schema_version(struct pg_store *s, int *version, char **error)
{
    PGresult *r = query(s, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL,
                        PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    *version = 0;
    if (!exists)
        return 0;
    r = query(s, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, PGRES_TUPLES_OK,
              error);
    if (r == NULL)
        return -1;
    *version = (int)column_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int create_schema(struct pg_store *s, char **error)
{
    char *sql =
        xasprintf("%sINSERT INTO schema_version VALUES (%d);", schema_sql, STORE_SCHEMA_VERSION);
    PGresult *r = PQexec(s->conn, sql);
    free(sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
        return fail_result(s, r, error);
    PQclear(r);
    return 0;
}

/* Creates the schema, or checks its version, under a lock every replica takes. */
static int setup_schema(struct pg_store *s, char **error)
{
    if (command(s, "BEGIN", 0, NULL, error) != 0)
        return -1;
    char lock[64];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", PG_SCHEMA_LOCK);
    PGresult *r = query(s, lock, 0, NULL, PGRES_TUPLES_OK, error);
    int version = 0, rc = r != NULL ? schema_version(s, &version, error) : -1;
    PQclear(r);
    if (rc == 0 && version == 0)
        rc = create_schema(s, error);
    else if (rc == 0 && version != STORE_SCHEMA_VERSION) {
        *error = xasprintf("%s: schema version %d, this servo knows version %d%s", s->base.location,
                           version, STORE_SCHEMA_VERSION,
                           version > STORE_SCHEMA_VERSION ? " (written by a newer servo)" : "");
        rc = -1;
    }
    if (rc == 0)
        return command(s, "COMMIT", 0, NULL, error);
    PQclear(PQexec(s->conn, "ROLLBACK"));
    return -1;
}

/* ---- opening --------------------------------------------------------------------------- */

static int read_password(const char *path, char **out, char **error)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        *error = xasprintf("password_file %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = xcalloc(1, PG_PASSWORD_MAX + 1);
    size_t n = fread(text, 1, PG_PASSWORD_MAX, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    if (more || n == 0 || strlen(text) != n) {
        *error = xasprintf("password_file %s: %s", path,
                           more ? "longer than 4096 bytes" : "no password in it");
        free(text);
        return -1;
    }
    *out = text;
    return 0;
}

static int connect_db(struct pg_store *s, char **error)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "password", NULL};
    const char *values[] = {s->uri, "10", "servo-optimizer", s->password, NULL};
    s->conn = PQconnectdbParams(keys, values, 1);
    if (s->conn == NULL) {
        *error = xasprintf("%s: cannot allocate a connection", s->base.location);
        return -1;
    }
    if (PQstatus(s->conn) != CONNECTION_OK)
        return fail_conn(s, error);
    return command(s, "SET lock_timeout = '5s'", 0, NULL, error);
}

static void pg_close(struct store *base)
{
    struct pg_store *s = of(base);
    PQfinish(s->conn);
    free(s->uri);
    if (s->password != NULL)
        explicit_bzero(s->password, strlen(s->password));
    free(s->password);
    free(s->base.location);
    free(s);
}

static const struct store_ops pg_ops;

static int pg_open(const char *uri, const struct store_options *options, struct store **out,
                   char **error)
{
    *out = NULL;
    struct pg_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &pg_ops;
    s->base.location = redact_uri(uri);
    s->base.shared = true;
    s->uri = xstrdup(uri);
    if ((options->password_file != NULL &&
         read_password(options->password_file, &s->password, error) != 0) ||
        connect_db(s, error) != 0 || setup_schema(s, error) != 0) {
        pg_close(&s->base);
        return -1;
    }
    *out = &s->base;
    return 0;
}

/* A connection that was lost is made again (then the session settings). */
static int ensure_connected(struct pg_store *s, char **error)
{
    if (PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK)
        return fail_conn(s, error);
    return command(s, "SET lock_timeout = '5s'", 0, NULL, error);
}

static int pg_ping(struct store *base, char **error)
{
    struct pg_store *s = of(base);
    if (ensure_connected(s, error) != 0)
        return -1;
    PGresult *r = query(s, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

static void pg_set_busy_timeout(struct store *base, int milliseconds)
{
    struct pg_store *s = of(base);
    char sql[64];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", milliseconds > 0 ? milliseconds : 1);
    command(s, sql, 0, NULL, NULL);
}

/* ---- transactions ---------------------------------------------------------------------- */

static int pg_begin(struct store *base, char **error)
{
    struct pg_store *s = of(base);
    if (ensure_connected(s, error) != 0)
        return -1;
    return command(s, "BEGIN", 0, NULL, error);
}

static void pg_rollback(struct store *base)
{
    struct pg_store *s = of(base);
    if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

static int pg_commit(struct store *base, char **error)
{
    struct pg_store *s = of(base);
    if (command(s, "COMMIT", 0, NULL, error) != 0) {
        pg_rollback(base);
        return -1;
    }
    return 0;
}

/* ---- applications ---------------------------------------------------------------------- */

static int select_revision(struct pg_store *s, const char *id, bool *found, long long *revision,
                           char **error)
{
    const char *values[] = {id};
    PGresult *r = query(s, "SELECT revision FROM applications WHERE id = $1 FOR UPDATE", 1, values,
                        PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    *found = PQntuples(r) > 0;
    *revision = *found ? column_int(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int pg_lock_app(struct store *base, const char *id, bool *found, long long *revision,
                       char **error)
{
    struct pg_store *s = of(base);
    if (select_revision(s, id, found, revision, error) != 0)
        return -1;
    if (*found)
        return 0;
    /* no row to lock yet: two replicas creating the study take turns on its name */
    const char *values[] = {id};
    PGresult *r =
        query(s, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, values, PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    PQclear(r);
    return select_revision(s, id, found, revision, error);
}

static int pg_save_app(struct store *base, const struct store_app *app, char **error)
{
    struct numbers n = {0};
    const char *values[] = {
        app->id,
        app->config,
        app->objective,
        app->description,
        app->phase,
        app->reason,
        app->pending,
        app->last_done_uid,
        app->nonce ? app->nonce : "",
        app->servo_uid,
        integer_text(&n, app->next_seq),
        integer_text(&n, app->trial),
        integer_text(&n, app->describe_failures),
        real_text(&n, true, app->created),
        real_text(&n, true, app->updated),
        real_text(&n, true, app->servo_seen),
        integer_text(&n, app->revision),
    };
    static const char sql[] =
        "INSERT INTO applications (id, config, objective, description, phase, reason, pending, "
        "last_done_uid, nonce, servo_uid, next_seq, trial, describe_failures, created, updated, "
        "servo_seen, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
        "$14, $15, $16, $17) ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, "
        "objective = EXCLUDED.objective, description = EXCLUDED.description, "
        "phase = EXCLUDED.phase, reason = EXCLUDED.reason, pending = EXCLUDED.pending, "
        "last_done_uid = EXCLUDED.last_done_uid, nonce = EXCLUDED.nonce, "
        "servo_uid = EXCLUDED.servo_uid, next_seq = EXCLUDED.next_seq, trial = EXCLUDED.trial, "
        "describe_failures = EXCLUDED.describe_failures, created = EXCLUDED.created, "
        "updated = EXCLUDED.updated, servo_seen = EXCLUDED.servo_seen, "
        "revision = EXCLUDED.revision";
    return command(of(base), sql, (int)ARRAY_LEN(values), values, error);
}

static int pg_load_app(struct store *base, const char *id, struct store_app *app, bool *found,
                       char **error)
{
    const char *values[] = {id};
    PGresult *r = query(of(base),
                        "SELECT id, config, objective, description, phase, reason, pending, "
                        "last_done_uid, nonce, servo_uid, next_seq, trial, describe_failures, "
                        "created, updated, servo_seen, revision FROM applications WHERE id = $1",
                        1, values, PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    if (PQntuples(r) > 0) {
        *found = true;
        app->id = column_text(r, 0, 0);
        app->config = column_text(r, 0, 1);
        app->objective = column_text(r, 0, 2);
        app->description = column_text(r, 0, 3);
        app->phase = column_text(r, 0, 4);
        app->reason = column_text(r, 0, 5);
        app->pending = column_text(r, 0, 6);
        app->last_done_uid = column_text(r, 0, 7);
        app->nonce = column_text(r, 0, 8);
        app->servo_uid = column_text(r, 0, 9);
        app->next_seq = column_int(r, 0, 10);
        app->trial = column_int(r, 0, 11);
        app->describe_failures = column_int(r, 0, 12);
        app->created = column_real(r, 0, 13, 0);
        app->updated = column_real(r, 0, 14, 0);
        app->servo_seen = column_real(r, 0, 15, 0);
        app->revision = column_int(r, 0, 16);
    }
    PQclear(r);
    return 0;
}

static int pg_list_apps(struct store *base, char ***ids, size_t *count, char **error)
{
    PGresult *r =
        query(of(base), "SELECT id FROM applications ORDER BY id", 0, NULL, PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    size_t n = (size_t)PQntuples(r);
    char **list = xcalloc(n ? n : 1, sizeof *list);
    for (size_t i = 0; i < n; i++)
        list[i] = column_text(r, (int)i, 0);
    PQclear(r);
    *ids = list;
    *count = n;
    return 0;
}

static int pg_delete_app(struct store *base, const char *id, bool *found, char **error)
{
    struct pg_store *s = of(base);
    const char *values[] = {id};
    PGresult *r =
        query(s, "DELETE FROM applications WHERE id = $1", 1, values, PGRES_COMMAND_OK, error);
    if (r == NULL)
        return -1;
    *found = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return command(s, "DELETE FROM trials WHERE application = $1", 1, values, error);
}

/* ---- trials ---------------------------------------------------------------------------- */

static int pg_save_trial(struct store *base, const char *app, const struct store_trial *t,
                         char **error)
{
    struct numbers n = {0};
    const char *values[] = {
        app,
        integer_text(&n, t->number),
        t->settings ? t->settings : "{}",
        t->metrics,
        real_text(&n, t->has_objective, t->objective),
        t->constraints,
        t->feasible ? "true" : "false",
        t->status ? t->status : "",
        t->reason,
        t->message,
        t->adjust_uid,
        t->measure_uid,
        real_text(&n, t->started > 0, t->started),
        real_text(&n, t->finished > 0, t->finished),
    };
    static const char sql[] =
        "INSERT INTO trials (application, number, settings, metrics, objective, constraints, "
        "feasible, status, reason, message, adjust_uid, measure_uid, started, finished) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
        "ON CONFLICT (application, number) DO UPDATE SET settings = EXCLUDED.settings, "
        "metrics = EXCLUDED.metrics, objective = EXCLUDED.objective, "
        "constraints = EXCLUDED.constraints, feasible = EXCLUDED.feasible, "
        "status = EXCLUDED.status, reason = EXCLUDED.reason, message = EXCLUDED.message, "
        "adjust_uid = EXCLUDED.adjust_uid, measure_uid = EXCLUDED.measure_uid, "
        "started = EXCLUDED.started, finished = EXCLUDED.finished";
    return command(of(base), sql, (int)ARRAY_LEN(values), values, error);
}

static void read_trial(const PGresult *r, int row, struct store_trial *t)
{
    memset(t, 0, sizeof *t);
    t->number = column_int(r, row, 0);
    t->settings = column_text(r, row, 1);
    t->metrics = column_text(r, row, 2);
    t->has_objective = !PQgetisnull(r, row, 3);
    t->objective = column_real(r, row, 3, NAN);
    t->constraints = column_text(r, row, 4);
    t->feasible = strcmp(PQgetvalue(r, row, 5), "t") == 0;
    t->status = column_text(r, row, 6);
    t->reason = column_text(r, row, 7);
    t->message = column_text(r, row, 8);
    t->adjust_uid = column_text(r, row, 9);
    t->measure_uid = column_text(r, row, 10);
    t->started = column_real(r, row, 11, 0);
    t->finished = column_real(r, row, 12, 0);
}

static int pg_load_trials(struct store *base, const char *app, struct store_trial **out,
                          size_t *count, char **error)
{
    const char *values[] = {app};
    PGresult *r = query(of(base),
                        "SELECT number, settings, metrics, objective, constraints, feasible, "
                        "status, reason, message, adjust_uid, measure_uid, started, finished "
                        "FROM trials WHERE application = $1 ORDER BY number",
                        1, values, PGRES_TUPLES_OK, error);
    if (r == NULL)
        return -1;
    size_t n = (size_t)PQntuples(r);
    struct store_trial *trials = xcalloc(n ? n : 1, sizeof *trials);
    for (size_t i = 0; i < n; i++)
        read_trial(r, (int)i, &trials[i]);
    PQclear(r);
    *out = trials;
    *count = n;
    return 0;
}

static const struct store_ops pg_ops = {
    .close = pg_close,
    .ping = pg_ping,
    .set_busy_timeout = pg_set_busy_timeout,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_app = pg_lock_app,
    .save_app = pg_save_app,
    .load_app = pg_load_app,
    .list_apps = pg_list_apps,
    .save_trial = pg_save_trial,
    .load_trials = pg_load_trials,
    .delete_app = pg_delete_app,
};

__attribute__((visibility("default"))) const struct store_pg_module servo_store_pg_v1 = {
    .abi = STORE_PG_ABI,
    .open = pg_open,
};
