/* The exec connector: describe, adjust and measure by running commands that speak the Opsani
 * servo-exec driver protocol. */
#ifndef SERVO_CONNECTOR_EXEC_H
#define SERVO_CONNECTOR_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "servo/connector.h"
#include "servo/settings.h"
#include "servo/types.h"

/* Indexes into the setting type choices. */
enum exec_setting_type {
    EXEC_SETTING_RANGE,
    EXEC_SETTING_ENUM,
};

/* Indexes into the unit choices: the Unit wire values "", "%", "ms", ... */
enum exec_unit {
    EXEC_UNIT_NONE,
    EXEC_UNIT_PERCENTAGE,
    EXEC_UNIT_MILLISECONDS,
    EXEC_UNIT_BYTES,
    EXEC_UNIT_GIBIBYTES,
    EXEC_UNIT_CORES,
    EXEC_UNIT_RPM,
    EXEC_UNIT_RPS,
};

struct exec_setting {
    int type;   /* enum exec_setting_type */
    double min; /* range; NAN when not given */
    double max;
    double step;
    struct servo_list values; /* char *: enum choices */
    char *unit;
    bool pinned;
    char *value; /* the current value as text; NULL when not given */
};

struct exec_component {
    struct servo_map settings; /* struct exec_setting */
};

struct exec_metric {
    char *name;
    int unit; /* enum exec_unit */
};

struct exec_settings {
    char *description;
    char *describe; /* command lines run by the shell; NULL when not given */
    char *adjust;
    char *measure;
    struct servo_map components;  /* struct exec_component: a static description */
    struct servo_list metrics;    /* struct exec_metric */
    struct servo_map environment; /* char * values */
    char *working_dir;
    servo_duration timeout;
};

extern const struct servo_connector_plugin servo_connector_exec;

#endif
