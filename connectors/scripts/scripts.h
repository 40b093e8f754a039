/* The scripts connector: shell commands run before, on or after events. */
#ifndef SERVO_CONNECTOR_SCRIPTS_H
#define SERVO_CONNECTOR_SCRIPTS_H

#include "servo/connector.h"
#include "servo/settings.h"

struct scripts_settings {
    char *description;
    /* Event name ("measure", "adjust", ...) to a struct servo_list of char * command lines. */
    struct servo_map before;
    struct servo_map on;
    struct servo_map after;
};

extern const struct servo_connector_plugin servo_connector_scripts;

#endif
