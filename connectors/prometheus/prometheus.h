/* The prometheus connector: measurements from PromQL range queries. */
#ifndef SERVO_CONNECTOR_PROMETHEUS_H
#define SERVO_CONNECTOR_PROMETHEUS_H

#include <stdbool.h>
#include <stdint.h>

#include "servo/connector.h"
#include "servo/settings.h"
#include "servo/types.h"

/* Indexes into the unit choices: the Unit wire values "", "%", "ms", ... */
enum prometheus_unit {
    PROMETHEUS_UNIT_NONE,
    PROMETHEUS_UNIT_PERCENTAGE,
    PROMETHEUS_UNIT_MILLISECONDS,
    PROMETHEUS_UNIT_BYTES,
    PROMETHEUS_UNIT_GIBIBYTES,
    PROMETHEUS_UNIT_CORES,
    PROMETHEUS_UNIT_RPM,
    PROMETHEUS_UNIT_RPS,
};

/* Indexes into the absent policy choices. */
enum prometheus_absent {
    PROMETHEUS_ABSENT_IGNORE,
    PROMETHEUS_ABSENT_ZERO,
    PROMETHEUS_ABSENT_WARN,
    PROMETHEUS_ABSENT_FAIL,
};

/* Indexes into the target health choices (-1 when not given). */
enum prometheus_health {
    PROMETHEUS_HEALTH_UP,
    PROMETHEUS_HEALTH_DOWN,
    PROMETHEUS_HEALTH_UNKNOWN,
};

struct prometheus_metric {
    char *name;
    int unit; /* enum prometheus_unit */
    char *query;
    servo_duration step;
    int absent; /* enum prometheus_absent */
};

/* An expected active target, in the shape of Prometheus' /api/v1/targets (every key optional). */
struct prometheus_target {
    char *scrape_pool;
    char *scrape_url;
    char *global_url;
    int health;                         /* enum prometheus_health, -1 when not given */
    struct servo_map labels;            /* char * values */
    struct servo_map discovered_labels; /* char * values */
    char *last_scrape;
    servo_duration last_scrape_duration; /* SERVO_UNSET when not given */
    char *last_error;
};

struct prometheus_fast_fail {
    int64_t disabled; /* 0: enabled (when the control has SLO conditions), 1: disabled */
    servo_duration period;
    servo_duration span; /* SERVO_UNSET: the period */
    servo_duration skip;
    bool treat_zero_as_missing;
};

struct prometheus_settings {
    char *description;
    char *base_url;
    servo_duration streaming_interval; /* SERVO_UNSET; accepted for compatibility, unused */
    struct servo_list metrics;         /* struct prometheus_metric */
    struct servo_list targets;         /* struct prometheus_target */
    struct prometheus_fast_fail fast_fail;
    char *bearer_token;
    char *username;
    char *password;
    char *ca_file;
    bool insecure;
    servo_duration timeout;
};

extern const struct servo_connector_plugin servo_connector_prometheus;

#endif
