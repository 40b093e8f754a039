/* The study store: where applications (their protocol state: what is pending, the
 * description, counters, the servo driving them) and their trials (settings, metric summaries,
 * objective, constraint values, feasibility, status, reason, times, cmd_uids) are kept.
 * Everything a study needs to resume after a restart is here; the engine being a pure function
 * of the history and the seed, a resumed study suggests exactly what it would have.
 *
 * One interface, two implementations chosen by the location given to store_open:
 *   - a file path (or ":memory:"): SQLite (store_sqlite.c), with WAL, a busy timeout and
 *     prepared statements; one process writes it (store_claim);
 *   - "postgresql://..." or "postgres://..." (any libpq connection URI): PostgreSQL
 *     (store_pg.c), shared by any number of server replicas: a request is one transaction
 *     that locks its application's row (store_lock_app), so one request at a time per
 *     application, from any replica.
 * Errors are values: -1 with a message (caller frees) naming the store ("optimizer.db: file
 * is not a database", "postgresql://servo@db:5432/servo: connection refused"). A store
 * (one connection) is used by one thread at a time. */
#ifndef SERVO_OPTIMIZER_STORE_H
#define SERVO_OPTIMIZER_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define STORE_SCHEMA_VERSION 2
#define STORE_BUSY_TIMEOUT_MS 5000
/* Bounds of the stored texts: longer ones are refused before they reach the store. */
#define STORE_MAX_ID 256
#define STORE_MAX_SERVO_UID 256
#define STORE_MAX_DESCRIPTION (1024 * 1024)

struct store;

/* An application's row: every text is owned (NULL when absent); JSON columns hold text. */
struct store_app {
    char *id;
    char *config;      /* JSON: the study settings (secrets masked) */
    char *objective;   /* JSON: {"name","goal","metric"|"expression","aggregate"} or NULL */
    char *description; /* JSON: the DESCRIPTION descriptor, NULL before it */
    char *phase;       /* "describe", "measure", "adjust", "final", "done", "failed" */
    char *reason;      /* why "failed" (or how "done" went) */
    char *pending;     /* JSON: the pending command, NULL when none */
    char *last_done_uid;
    char *nonce;        /* makes cmd_uids unique across studies */
    char *servo_uid;    /* the servo driving the study; NULL: none (or it said GOODBYE) */
    double servo_seen;  /* when that servo was last heard from (Unix seconds) */
    long long next_seq; /* the next cmd_uid number */
    long long trial;    /* the current trial number */
    long long describe_failures;
    long long revision; /* one more at every write: a replica sees another's changes */
    double created, updated;
};

/* A trial's row. number 0 is the baseline. */
struct store_trial {
    long long number;
    char *settings;    /* JSON: {"component.setting": value, ...} */
    char *metrics;     /* JSON: {"metric": {"mean":..,"median":..,...,"count":n}} or NULL */
    char *constraints; /* JSON: [{"metric","keep","threshold","value","satisfied"}] or NULL */
    bool has_objective;
    double objective; /* in the metric's own direction (not negated) */
    bool feasible;
    char *status; /* "adjusting", "measuring", "ok", "failed", "rejected", ... */
    char *reason; /* "objective-missing", "slo-violation", the servo's reason, ... */
    char *message;
    char *adjust_uid;
    char *measure_uid;
    double started, finished; /* Unix seconds; 0 when not yet */
};

struct store_options {
    bool create;               /* SQLite: create a missing file (else an error) */
    const char *password_file; /* PostgreSQL: the password's file (else PGPASSWORD, ...) */
};

/* Opens the store at `location` and checks, creates or migrates its schema. A schema newer
 * than this servo's is refused, naming both versions. */
int store_open_with(const char *location, const struct store_options *options, struct store **out,
                    char **error);
/* store_open_with with only `create`. */
int store_open(const char *location, bool create, struct store **out, char **error);
void store_close(struct store *s);
/* The location for messages: a path, or the URI without its password. */
const char *store_path(const struct store *s);
/* True when other processes may change the rows (PostgreSQL): a study then reads its row
 * under a lock at each request instead of trusting its memory. */
bool store_shared(const struct store *s);
/* Whether the store answers (a trivial query); 0, or -1 with why. */
int store_ping(struct store *s, char **error);
/* Called with the seconds of each transaction (store_begin to its commit or rollback) and of
 * each ping: the server's store latency histogram. */
typedef void (*store_observer)(void *context, double seconds);
void store_observe(struct store *s, store_observer observer, void *context);
/* How long a locked store is waited for (STORE_BUSY_TIMEOUT_MS by default). */
void store_set_busy_timeout(struct store *s, int milliseconds);
/* A location's scheme is known: a path, ":memory:", postgresql:// or postgres://. */
bool store_location_valid(const char *location);

/* A write transaction. SQLite: BEGIN IMMEDIATE (a locked store fails here, before
 * anything). PostgreSQL: BEGIN, reconnecting first when the connection was lost. */
int store_begin(struct store *s, char **error);
int store_commit(struct store *s, char **error);
void store_rollback(struct store *s);
/* In a transaction: locks the application's row until the end of the transaction (SQLite:
 * the transaction already holds the whole store) and reads its revision; *found false when
 * there is no row. */
int store_lock_app(struct store *s, const char *id, bool *found, long long *revision, char **error);

int store_save_app(struct store *s, const struct store_app *app, char **error);
/* *found false (and 0) when the application has no row. */
int store_load_app(struct store *s, const char *id, struct store_app *out, bool *found,
                   char **error);
int store_list_apps(struct store *s, char ***ids, size_t *count, char **error);
int store_save_trial(struct store *s, const char *app, const struct store_trial *t, char **error);
/* Every trial of the application, by number. */
int store_load_trials(struct store *s, const char *app, struct store_trial **out, size_t *count,
                      char **error);
/* Removes the application and its trials (servo optimizer reset); *found false when absent. */
int store_delete_app(struct store *s, const char *id, bool *found, char **error);

void store_app_clear(struct store_app *app);
void store_trial_clear(struct store_trial *t);
void store_trials_free(struct store_trial *trials, size_t count);
void store_ids_free(char **ids, size_t count);

/* The single-writer guarantee of a SQLite store: one process claims it while it writes (the
 * server, an embedded servo). A store claimed by another live process is refused, naming it
 * and the holder ("optimizer.db is in use by pid 1234 on host db1 since ..."); the claim of a
 * process that died goes with it (the kernel drops its lock), so its store is taken over.
 * Claims in one process nest. PostgreSQL and ":memory:" need no claim (a no-op). */
struct store_claim;
int store_claim(const char *location, struct store_claim **out, char **error);
void store_release(struct store_claim *claim);

#endif
