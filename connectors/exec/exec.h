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

/* working_dir: as written, and the directory the commands run in (relative to the directory of
 * the file it was written in; to the servo's when it came from the environment). */
struct exec_dir {
    char *given;
    char *path;
};

/* One task of a servo-exec stage (pre, start, stop, post): a program (`exec`, argv) or a
 * shell command line (`shell_exec`: the line, then the shell's arguments). */
struct exec_task {
    char *name;
    bool async;
    bool ignore_exitcode;
    bool notify;
    int64_t retries;
    double timeout;               /* seconds; NAN when not given */
    struct servo_list exec;       /* char * */
    struct servo_list shell_exec; /* char * */
    char request;                 /* servo-exec's HTTP task: always refused, never stored */
};

/* servo-exec's measure: pre, start, (the measurement's duration), stop, then post. */
struct exec_stages {
    struct servo_list pre; /* struct exec_task */
    struct servo_list start;
    struct servo_list stop;
    struct servo_list post;
};

struct exec_settings {
    char *description;
    char *describe; /* command lines run by the shell; NULL when not given */
    char *adjust;
    char *measure;
    struct servo_map components;  /* struct exec_component: a static description */
    struct servo_list metrics;    /* struct exec_metric */
    struct servo_map environment; /* char * values */
    struct exec_dir working_dir;
    servo_duration timeout;
    struct exec_stages stages;
};

/* Whether any servo-exec stage is configured. */
bool exec_has_stages(const struct exec_stages *stages);
/* The shell script that runs the stages as a measure command (caller frees). */
char *exec_stages_script(const struct exec_stages *stages);

extern const struct servo_connector_plugin servo_connector_exec;

#endif
