/* The settings tables of a study (optimizer.local, applications.ORG/APP) and of the optimizer
 * server's file. The settings engine (config/settings.c) does the parsing and the errors. */
#include "optimizer/study_config.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/objective.h"
#include "optimizer/store.h"
#include "util/util.h"

static const char *const goal_choices[] = {"minimize", "maximize", NULL};
static const char *const keep_choices[] = {"below", "above", NULL};
static const char *const aggregate_choices[] = {"mean", "median", "p90",  "p95", "p99",
                                                "min",  "max",    "last", NULL};

static const char *const metrics_label_choices[] = {"app", "org", "none", NULL};

const char *study_goal_name(int goal)
{
    return goal == GOAL_MAXIMIZE ? "maximize" : "minimize";
}

const char *study_keep_name(int keep)
{
    return keep == KEEP_ABOVE ? "above" : "below";
}

/* ---- objective ------------------------------------------------------------------------- */

static int validate_objective(const void *settings, struct servo_validation *v)
{
    const struct objective_settings *o = settings;
    if (o->metric == NULL && o->expression == NULL)
        return servo_validation_error(v, NULL, "give a metric or an expression");
    if (o->metric != NULL && o->expression != NULL)
        return servo_validation_error(v, "expression", "give a metric or an expression, not both");
    if (o->expression == NULL)
        return 0;
    char *error = NULL;
    struct expr *e = expr_parse(o->expression, &error);
    if (e == NULL) {
        servo_validation_error(v, "expression", "%s", error ? error : "invalid expression");
        free(error);
        return -1;
    }
    expr_free(e);
    return 0;
}

static const struct servo_field objective_fields[] = {
    {.name = "metric",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct objective_settings, metric),
     .flags = SERVO_F_NONEMPTY,
     .description = "The metric to optimize, reduced over every point of the measurement"},
    {.name = "expression",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct objective_settings, expression),
     .flags = SERVO_F_NONEMPTY,
     .description = "Instead of a metric: an expression over metrics and settings "
                    "(\"throughput / (main.cpu * main.replicas)\"); + - * / ^, min, max, abs, "
                    "sqrt, log, exp, pow"},
    {.name = "aggregate",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct objective_settings, aggregate),
     .choices = aggregate_choices,
     .def = "mean",
     .description = "How the points of a metric reduce to one value: mean, median, p90, p95, "
                    "p99, min, max or last"},
    {.name = "goal",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct objective_settings, goal),
     .flags = SERVO_F_REQUIRED,
     .choices = goal_choices,
     .description = "minimize or maximize"},
    SERVO_FIELDS_END,
};

static const struct servo_schema objective_schema = {
    .title = "Objective",
    .description = "What the optimizer optimizes: a metric or an expression, and the goal",
    .size = sizeof(struct objective_settings),
    .fields = objective_fields,
    .validate = validate_objective,
};

/* ---- constraints ----------------------------------------------------------------------- */

static int validate_constraint(const void *settings, struct servo_validation *v)
{
    const struct constraint_settings *c = settings;
    bool absolute = !isnan(c->threshold), relative = !isnan(c->baseline_multiplier);
    if (absolute == relative)
        return servo_validation_error(v, NULL, "give a threshold or a baseline_multiplier%s",
                                      absolute ? ", not both" : "");
    if (absolute && !isfinite(c->threshold))
        return servo_validation_error(v, "threshold", "must be a finite number");
    if (relative && !(isfinite(c->baseline_multiplier) && c->baseline_multiplier > 0))
        return servo_validation_error(v, "baseline_multiplier", "must be a finite number above 0");
    return 0;
}

static const struct servo_field constraint_fields[] = {
    {.name = "metric",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct constraint_settings, metric),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The metric the SLO is about"},
    {.name = "aggregate",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct constraint_settings, aggregate),
     .choices = aggregate_choices,
     .def = "mean",
     .description = "How the metric's points reduce to one value (mean, p95, ...)"},
    {.name = "keep",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct constraint_settings, keep),
     .flags = SERVO_F_REQUIRED,
     .choices = keep_choices,
     .description = "below or above the threshold"},
    {.name = "threshold",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct constraint_settings, threshold),
     .description = "The limit, in the metric's unit"},
    {.name = "baseline_multiplier",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct constraint_settings, baseline_multiplier),
     .description = "Instead of a threshold: the baseline's value times this (1.1: at most "
                    "10% worse than the baseline when kept below)"},
    SERVO_FIELDS_END,
};

static const struct servo_schema constraint_schema = {
    .title = "Constraint",
    .description = "A service-level objective a trial must keep to be feasible",
    .size = sizeof(struct constraint_settings),
    .fields = constraint_fields,
    .validate = validate_constraint,
};

static const struct servo_field constraint_item = {.type = SERVO_FIELD_OBJECT,
                                                   .object = &constraint_schema};

static const struct servo_field objective_item = {.type = SERVO_FIELD_OBJECT,
                                                  .object = &objective_schema};

static int validate_weights(const void *value, struct servo_validation *v)
{
    const struct servo_list *weights = value;
    const double *w = weights->items;
    for (size_t i = 0; i < weights->count; i++)
        if (!(isfinite(w[i]) && w[i] >= 0))
            return servo_validation_error(v, NULL, "weight %zu is %g: weights are numbers >= 0",
                                          i + 1, w[i]);
    return 0;
}

static const struct servo_field weight_item = {.type = SERVO_FIELD_FLOAT};

/* ---- safety ---------------------------------------------------------------------------- */

static int validate_min_feasibility(const void *value, struct servo_validation *v)
{
    double p = *(const double *)value;
    if (!(p > 0 && p < 1))
        return servo_validation_error(v, NULL, "%g is outside (0, 1): a probability such as 0.9",
                                      p);
    return 0;
}

static const struct servo_field safety_fields[] = {
    {.name = "min_feasibility",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct safety_settings, min_feasibility),
     .flags = SERVO_F_REQUIRED,
     .validate = validate_min_feasibility,
     .description = "Once a trial is feasible, suggest only settings whose modelled "
                    "probability of meeting every constraint is at least this (0.9), else the "
                    "best feasible settings again"},
    SERVO_FIELDS_END,
};

static const struct servo_schema safety_schema = {
    .title = "Safety",
    .description = "Safe exploration for production: no suggestion likely to break an SLO",
    .size = sizeof(struct safety_settings),
    .fields = safety_fields,
};

size_t study_settings_objectives(const struct study_settings *s,
                                 const struct objective_settings **out)
{
    if (s->objective != NULL) {
        *out = s->objective;
        return 1;
    }
    *out = s->objectives.items;
    return s->objectives.count;
}

double study_settings_min_feasibility(const struct study_settings *s)
{
    return s->safety != NULL ? s->safety->min_feasibility : 0.0;
}

/* objective XOR objectives (at most STUDY_MAX_OBJECTIVES), prefer as long as objectives. */
static int validate_study(const void *settings, struct servo_validation *v)
{
    const struct study_settings *s = settings;
    if (s->objective != NULL && s->objectives.count > 0)
        return servo_validation_error(v, "objectives", "give objective or objectives, not both");
    if (s->objectives.count > STUDY_MAX_OBJECTIVES)
        return servo_validation_error(v, "objectives", "%zu objectives: at most %d",
                                      s->objectives.count, STUDY_MAX_OBJECTIVES);
    if (s->prefer.count > 0 && s->prefer.count != s->objectives.count)
        return servo_validation_error(v, "prefer", "%zu weights for %zu objectives",
                                      s->prefer.count, s->objectives.count);
    return 0;
}

/* ---- measure --------------------------------------------------------------------------- */

static const struct servo_field measure_fields[] = {
    {.name = "duration",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct measure_settings, duration),
     .def = "1m",
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "How long each measurement lasts"},
    {.name = "warmup",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct measure_settings, warmup),
     .def = "0",
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "Time to wait before measuring"},
    {.name = "delay",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct measure_settings, delay),
     .def = "0",
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "How far in the past the measurement window ends"},
    SERVO_FIELDS_END,
};

static const struct servo_schema measure_schema = {
    .title = "Measure control",
    .description = "The control of every MEASURE command",
    .size = sizeof(struct measure_settings),
    .fields = measure_fields,
};

/* ---- the study ------------------------------------------------------------------------- */

#define STUDY_COMMON_FIELDS                                                                    \
    {.name = "objective",                                                                      \
     .type = SERVO_FIELD_OBJECT,                                                               \
     .offset = offsetof(struct study_settings, objective),                                     \
     .flags = SERVO_F_OPTIONAL,                                                                \
     .object = &objective_schema,                                                              \
     .description = "What to optimize; when absent, the first metric of the description "      \
                    "(maximized when its unit is rps or rpm, else minimized)"},                \
        {.name = "objectives",                                                                 \
         .type = SERVO_FIELD_LIST,                                                             \
         .offset = offsetof(struct study_settings, objectives),                                \
         .item = &objective_item,                                                              \
         .description = "Instead of objective: two or three objectives; the study searches "   \
                        "their Pareto front"},                                                 \
        {.name = "prefer",                                                                     \
         .type = SERVO_FIELD_LIST,                                                             \
         .offset = offsetof(struct study_settings, prefer),                                    \
         .item = &weight_item,                                                                 \
         .validate = validate_weights,                                                         \
         .description = "Weights of the objectives (in their order) that pick the front's "    \
                        "trial the study ends on (default: the one closest to the ideal "      \
                        "point, objectives normalized)"},                                      \
        {.name = "safety",                                                                     \
         .type = SERVO_FIELD_OBJECT,                                                           \
         .offset = offsetof(struct study_settings, safety),                                    \
         .flags = SERVO_F_OPTIONAL,                                                            \
         .object = &safety_schema,                                                             \
         .description = "{min_feasibility: 0.9}: suggest only settings likely to keep every "  \
                        "constraint once one trial did"},                                      \
        {.name = "constraints",                                                                \
         .type = SERVO_FIELD_LIST,                                                             \
         .offset = offsetof(struct study_settings, constraints),                               \
         .item = &constraint_item,                                                             \
         .description = "SLOs every feasible trial keeps"},                                    \
        {.name = "budget",                                                                     \
         .type = SERVO_FIELD_INT,                                                              \
         .offset = offsetof(struct study_settings, budget),                                    \
         .def = "20",                                                                          \
         .flags = SERVO_F_MIN | SERVO_F_MAX,                                                   \
         .min = 1,                                                                             \
         .max = 100000,                                                                        \
         .description = "Trials after the baseline"},                                          \
        {.name = "seed",                                                                       \
         .type = SERVO_FIELD_INT,                                                              \
         .offset = offsetof(struct study_settings, seed),                                      \
         .def = "0",                                                                           \
         .flags = SERVO_F_MIN,                                                                 \
         .min = 0,                                                                             \
         .description = "Seed of the optimizer's random choices: the same seed and results "   \
                        "give the same trials"},                                               \
        {.name = "measure",                                                                    \
         .type = SERVO_FIELD_OBJECT,                                                           \
         .offset = offsetof(struct study_settings, measure),                                   \
         .object = &measure_schema,                                                            \
         .description = "duration, warmup and delay of each measurement"},                     \
    {                                                                                          \
        .name = "settlement", .type = SERVO_FIELD_DURATION,                                    \
        .offset = offsetof(struct study_settings, settlement), .flags = SERVO_F_MIN, .min = 0, \
        .description = "Time the application settles after each adjustment"                    \
    }

static const struct servo_field local_fields[] = {
    STUDY_COMMON_FIELDS,
    {.name = "store",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct study_settings, store),
     .def = STUDY_DEFAULT_STORE,
     .flags = SERVO_F_NONEMPTY,
     .description = "The SQLite file that keeps the trials (\":memory:\" keeps nothing)"},
    SERVO_FIELDS_END,
};

const struct servo_schema study_local_schema = {
    .title = "Embedded optimizer",
    .description = "`servo run` optimizes by itself: describe, measure the baseline, then "
                   "adjust and measure `budget` times, then adjust to the best settings",
    .size = sizeof(struct study_settings),
    .fields = local_fields,
    .validate = validate_study,
};

static const struct servo_field application_fields[] = {
    STUDY_COMMON_FIELDS,
    {.name = "token",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct study_settings, token),
     .flags = SERVO_F_NONEMPTY,
     .description = "The bearer token the application's servos send (none: no "
                    "authentication)"},
    {.name = "token_file",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct study_settings, token_file),
     .flags = SERVO_F_NONEMPTY,
     .description = "A file holding the token (a mounted Secret), instead of token"},
    {.name = "servo_timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct study_settings, servo_timeout),
     .flags = SERVO_F_MIN,
     .min = 1e9, /* 1s */
     .description = "How long the servo driving the application may be silent before another "
                    "takes over (default: the server's servo_timeout)"},
    SERVO_FIELDS_END,
};

const struct servo_schema study_application_schema = {
    .title = "Application",
    .description = "One application the optimizer server optimizes",
    .size = sizeof(struct study_settings),
    .fields = application_fields,
    .validate = validate_study,
};

/* ---- the server ------------------------------------------------------------------------ */

bool study_valid_app_id(const char *id)
{
    const char *slash = id ? strchr(id, '/') : NULL;
    if (slash == NULL || slash == id || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        return false;
    if (strlen(id) > 200)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

static int validate_applications(const void *value, struct servo_validation *v)
{
    const struct servo_map *apps = value;
    for (size_t i = 0; i < apps->count; i++)
        if (!study_valid_app_id(apps->keys[i]))
            return servo_validation_error(v, apps->keys[i],
                                          "an application id is ORG/APP (letters, digits, "
                                          "'.', '_', '-')");
    return 0;
}

static int validate_store(const void *value, struct servo_validation *v)
{
    const char *const *location = value;
    if (*location != NULL && !store_location_valid(*location))
        return servo_validation_error(v, NULL,
                                      "unknown kind of store: a SQLite file path or a "
                                      "postgresql:// URI");
    return 0;
}

static const struct servo_field application_item = {.type = SERVO_FIELD_OBJECT,
                                                    .object = &study_application_schema};

static const struct servo_field tls_fields[] = {
    {.name = "cert",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct tls_settings, cert),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The server's certificate (chain), a PEM file"},
    {.name = "key",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct tls_settings, key),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "Its private key, a PEM file"},
    SERVO_FIELDS_END,
};

static const struct servo_schema tls_schema = {
    .title = "TLS",
    .description = "HTTPS with this certificate and key",
    .size = sizeof(struct tls_settings),
    .fields = tls_fields,
};

static const struct servo_field server_fields[] = {
    {.name = "listen",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct server_settings, listen),
     .def = SERVER_DEFAULT_LISTEN,
     .flags = SERVO_F_NONEMPTY,
     .description = "HOST:PORT to listen on (port 0: any free port)"},
    {.name = "store",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct server_settings, store),
     .def = SERVER_DEFAULT_STORE,
     .flags = SERVO_F_NONEMPTY,
     .validate = validate_store,
     .description = "Where every application's trials are kept: a SQLite file, or a "
                    "PostgreSQL connection URI (postgresql://USER@HOST:PORT/DB?sslmode=...) "
                    "that several servers may share"},
    {.name = "password_file",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct server_settings, password_file),
     .flags = SERVO_F_NONEMPTY,
     .description = "A file holding the PostgreSQL password (else PGPASSWORD or ~/.pgpass)"},
    {.name = "threads",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct server_settings, threads),
     .def = "0",
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 0,
     .max = 1024,
     .description = "Connection threads (0: the number of cores)"},
    {.name = "max_connections",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct server_settings, max_connections),
     .def = "1000",
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 1,
     .max = 100000,
     .description = "Connections served at once (more wait in the listen queue)"},
    {.name = "max_connections_per_address",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct server_settings, max_connections_per_address),
     .def = "100",
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 1,
     .max = 100000,
     .description = "Connections from one client address at once"},
    {.name = "connection_timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct server_settings, connection_timeout),
     .def = "30s",
     .flags = SERVO_F_MIN,
     .min = 1e9, /* 1s */
     .description = "An idle or slow connection is closed after this long without progress"},
    {.name = "tls",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct server_settings, tls),
     .flags = SERVO_F_OPTIONAL,
     .object = &tls_schema,
     .description = "Serve HTTPS: {cert: FILE, key: FILE} (PEM)"},
    {.name = "metrics_token",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct server_settings, metrics_token),
     .flags = SERVO_F_NONEMPTY,
     .description = "The bearer token /metrics wants (none: /metrics is open)"},
    {.name = "metrics_labels",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct server_settings, metrics_labels),
     .choices = metrics_label_choices,
     .def = "app",
     .description = "How /metrics tells applications apart: app (a series per application, "
                    "labelled app=\"ORG/APP\"), org (summed per organization, labelled "
                    "org=\"ORG\") or none (summed over every application: no id appears)"},
    {.name = "servo_timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct server_settings, servo_timeout),
     .def = "10m",
     .flags = SERVO_F_MIN,
     .min = 1e9, /* 1s */
     .description = "How long the servo driving an application may be silent before another "
                    "servo takes over (a servo that said GOODBYE is replaced at once)"},
    {.name = "max_request_size",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct server_settings, max_request_size),
     .def = "4194304",
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 1024,
     .max = 1073741824,
     .description = "Largest request body in bytes (larger: 413)"},
    {.name = "max_body_memory",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct server_settings, max_body_memory),
     .def = "268435456",
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 1024,
     .max = 68719476736,
     .description = "Bytes of request bodies held at once, across every connection (at least "
                    "max_request_size); a body that does not fit gets 503, which servos retry"},
    {.name = "sleep",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct server_settings, sleep),
     .def = "1m",
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "How long a servo sleeps when its study is over"},
    {.name = "applications",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct server_settings, applications),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .item = &application_item,
     .validate = validate_applications,
     .description = "The applications by id (ORG/APP): objective, constraints, budget, ..."},
    SERVO_FIELDS_END,
};

const struct servo_schema server_settings_schema = {
    .title = "Optimizer server",
    .description = "`servo optimizer serve`: the Opsani servo protocol for many applications",
    .size = sizeof(struct server_settings),
    .fields = server_fields,
};
