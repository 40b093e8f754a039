// SPDX-License-Identifier: Apache-2.0
/* What a store implementation provides (store.h is the interface; store.c dispatches). */
#ifndef SERVO_OPTIMIZER_STORE_IMPL_H
#define SERVO_OPTIMIZER_STORE_IMPL_H

#include "optimizer/store.h"

struct store_ops {
    void (*close)(struct store *s);
    int (*ping)(struct store *s, char **error);
    void (*set_busy_timeout)(struct store *s, int milliseconds);
    int (*begin)(struct store *s, char **error);
    int (*commit)(struct store *s, char **error);
    void (*rollback)(struct store *s);
    int (*lock_app)(struct store *s, const char *id, bool *found, long long *revision,
                    char **error);
    int (*save_app)(struct store *s, const struct store_app *app, char **error);
    int (*load_app)(struct store *s, const char *id, struct store_app *out, bool *found,
                    char **error);
    int (*list_apps)(struct store *s, char ***ids, size_t *count, char **error);
    int (*save_trial)(struct store *s, const char *app, const struct store_trial *t, char **error);
    int (*load_trials)(struct store *s, const char *app, struct store_trial **out, size_t *count,
                       char **error);
    int (*delete_app)(struct store *s, const char *id, bool *found, char **error);
};

/* The first member of every implementation's struct. */
struct store {
    const struct store_ops *ops;
    char *location; /* for messages */
    bool shared;
    store_observer observer; /* store_observe (zeroed by the implementations' calloc) */
    void *observer_context;
    double began; /* clock_monotonic() at store_begin, 0 outside a transaction */
};

int store_sqlite_open(const char *path, const struct store_options *options, struct store **out,
                      char **error);
/* The PostgreSQL store is a module (src/modules/store_pg.c): its entry. */
#define STORE_PG_ABI 1
#define STORE_PG_FILE "servo-store-pg.so"
#define STORE_PG_ENTRY "servo_store_pg_v1"
struct store_pg_module {
    int abi;
    int (*open)(const char *uri, const struct store_options *options, struct store **out,
                char **error);
};
bool store_is_pg_uri(const char *location);

#endif
