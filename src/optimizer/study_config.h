/* What a study optimizes and how: the settings tables of `optimizer.local` in servo.yaml (the
 * embedded optimizer) and of each `applications` entry of the optimizer server's file. One
 * struct serves both; the tables differ only in `store` (local) and `token` (server). */
#ifndef SERVO_OPTIMIZER_STUDY_CONFIG_H
#define SERVO_OPTIMIZER_STUDY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "servo/settings.h"

enum study_goal { GOAL_MINIMIZE, GOAL_MAXIMIZE };
enum study_keep { KEEP_BELOW, KEEP_ABOVE };

/* objective: {metric, aggregate, goal} or {expression, goal}. */
struct objective_settings {
    char *metric;
    char *expression;
    int aggregate; /* enum aggregate; also how the expression reduces its metrics */
    int goal;      /* enum study_goal */
};

/* An SLO: {metric, keep: below|above, threshold} or {..., baseline_multiplier}. */
struct constraint_settings {
    char *metric;
    int aggregate;              /* enum aggregate */
    int keep;                   /* enum study_keep */
    double threshold;           /* NAN when relative to the baseline */
    double baseline_multiplier; /* NAN when absolute */
};

struct measure_settings {
    servo_duration duration;
    servo_duration warmup;
    servo_duration delay;
};

/* safety: {min_feasibility}: safe exploration (engine.h, opt_options). */
struct safety_settings {
    double min_feasibility; /* in (0, 1) */
};

#define STUDY_MAX_OBJECTIVES 3

struct study_settings {
    struct objective_settings *objective; /* NULL: chosen from the description */
    struct servo_list objectives;         /* struct objective_settings: a Pareto front (2-3) */
    struct servo_list prefer;             /* doubles: weights picking the front's final trial */
    struct safety_settings *safety;       /* NULL: off */
    struct servo_list constraints;        /* struct constraint_settings */
    int64_t budget;                       /* trials after the baseline */
    int64_t seed;
    char *store; /* local only: the SQLite file */
    struct measure_settings measure;
    servo_duration settlement;    /* SERVO_UNSET when not given */
    char *token;                  /* server only: the application's bearer token */
    servo_duration servo_timeout; /* server only: SERVO_UNSET: the server's */
    char *token_file;             /* server only: the token's file (a mounted Secret) */
};

/* What /metrics labels the per-application series with. */
enum metrics_labels {
    METRICS_BY_APP,  /* app="ORG/APP" */
    METRICS_BY_ORG,  /* org="ORG", summed over its applications */
    METRICS_BY_NONE, /* summed over every application */
};

/* tls: {cert, key}: PEM files. */
struct tls_settings {
    char *cert;
    char *key;
};

/* The server's file: where it listens, its store, and its applications by ORG/APP. */
struct server_settings {
    char *listen;
    char *store;                  /* a SQLite file, or a postgresql:// URI */
    char *password_file;          /* the PostgreSQL password (else PGPASSWORD, ~/.pgpass, ...) */
    servo_duration servo_timeout; /* a silent servo is replaced by another after this */
    int64_t threads;              /* connection threads; 0: the number of cores */
    int64_t max_connections;
    int64_t max_connections_per_address;
    servo_duration connection_timeout; /* an idle or slow connection is closed after this */
    char *metrics_token;               /* NULL: /metrics is open */
    int metrics_labels;                /* enum metrics_labels */
    struct tls_settings *tls;          /* NULL: plain HTTP */
    int64_t max_request_size;          /* bytes */
    int64_t max_body_memory;           /* bytes of bodies in flight, every connection's */
    servo_duration sleep;              /* SLEEP duration once a study is over */
    struct servo_map applications;     /* struct study_settings */
};

#define STUDY_DEFAULT_STORE "servo-optimizer.db"
#define SERVER_DEFAULT_STORE "optimizer.db"
#define SERVER_DEFAULT_LISTEN "127.0.0.1:8080"

extern const struct servo_schema study_local_schema;       /* optimizer.local */
extern const struct servo_schema study_application_schema; /* applications.ORG/APP */
extern const struct servo_schema server_settings_schema;   /* optimizer.yaml */

/* The configured objectives in order: `objective`, or the `objectives` list (one entry is
 * the same as `objective`). Returns how many (0: none configured, chosen from the
 * description). */
size_t study_settings_objectives(const struct study_settings *s,
                                 const struct objective_settings **out);
/* safety.min_feasibility, 0 when off. */
double study_settings_min_feasibility(const struct study_settings *s);

/* "minimize"/"maximize", "below"/"above". */
const char *study_goal_name(int goal);
const char *study_keep_name(int keep);

/* An ORG/APP application id: one '/', both sides non-empty of [A-Za-z0-9._-]. */
bool study_valid_app_id(const char *id);

#endif
