/* The vegeta connector: HTTP load generation with the vegeta CLI. */
#ifndef SERVO_CONNECTOR_VEGETA_H
#define SERVO_CONNECTOR_VEGETA_H

#include <stdbool.h>
#include <stdint.h>

#include "servo/connector.h"
#include "servo/settings.h"
#include "servo/types.h"

/* Indexes into the `format` choices. */
enum vegeta_format {
    VEGETA_FORMAT_HTTP,
    VEGETA_FORMAT_JSON,
};

struct vegeta_settings {
    char *description;
    struct servo_rate rate;
    int format;    /* enum vegeta_format */
    char *target;  /* one target, fed on stdin; NULL when `targets` is given */
    char *targets; /* path of a targets file; NULL when `target` is given */
    int64_t connections;
    int64_t workers;
    int64_t max_workers; /* SERVO_UNSET: unlimited */
    int64_t max_body;    /* -1: unlimited */
    bool http2;
    bool keepalive;
    bool insecure;
    servo_duration reporting_interval;
    servo_duration duration; /* the attack's when the control gives none; 0: none */
    char *binary;            /* the vegeta executable: a name looked up on PATH, or a path */
};

extern const struct servo_connector_plugin servo_connector_vegeta;

#endif
