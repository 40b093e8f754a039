/* The study store: one SQLite file holding applications (their protocol state: what is
 * pending, the description, counters) and their trials (settings, metric summaries,
 * objective, constraint values, feasibility, status, reason, times, cmd_uids). Everything a
 * study needs to resume after a restart is here; the engine being a pure function of the
 * history and the seed, a resumed study suggests exactly what it would have.
 *
 * Connections use WAL, a busy timeout and prepared statements. Errors are values: -1 with a
 * message (caller frees) naming the file ("optimizer.db: file is not a database",
 * "optimizer.db: database is locked"). A store is used by one thread at a time; several
 * connections (processes, studies) may share a file. */
#ifndef SERVO_OPTIMIZER_STORE_H
#define SERVO_OPTIMIZER_STORE_H

#include <stdbool.h>
#include <stddef.h>

#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_TIMEOUT_MS 5000

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
    char *nonce; /* makes cmd_uids unique across studies */
    char *servo_uid;
    long long next_seq; /* the next cmd_uid number */
    long long trial;    /* the current trial number */
    long long describe_failures;
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

/* Opens (creating when `create`, else a missing file is an error) and checks or creates the
 * schema. ":memory:" is a private in-memory store. */
int store_open(const char *path, bool create, struct store **out, char **error);
void store_close(struct store *s);
const char *store_path(const struct store *s);
/* How long a locked store is waited for (STORE_BUSY_TIMEOUT_MS by default). */
void store_set_busy_timeout(struct store *s, int milliseconds);

/* A write transaction (BEGIN IMMEDIATE: a locked store fails here, before anything). */
int store_begin(struct store *s, char **error);
int store_commit(struct store *s, char **error);
void store_rollback(struct store *s);

int store_save_app(struct store *s, const struct store_app *app, char **error);
/* *found false (and 0) when the application has no row. */
int store_load_app(struct store *s, const char *id, struct store_app *out, bool *found,
                   char **error);
int store_list_apps(struct store *s, char ***ids, size_t *count, char **error);
int store_save_trial(struct store *s, const char *app, const struct store_trial *t, char **error);
/* Every trial of the application, by number. */
int store_load_trials(struct store *s, const char *app, struct store_trial **out, size_t *count,
                      char **error);

void store_app_clear(struct store_app *app);
void store_trial_clear(struct store_trial *t);
void store_trials_free(struct store_trial *trials, size_t count);
void store_ids_free(char **ids, size_t count);

#endif
