/* The wait connector: a no-op measure that waits while the measurement happens elsewhere. */
#ifndef SERVO_CONNECTOR_WAIT_H
#define SERVO_CONNECTOR_WAIT_H

#include <stdbool.h>

#include "servo/connector.h"
#include "servo/settings.h"

struct wait_settings {
    char *description;
    bool measure_enabled;
};

extern const struct servo_connector_plugin servo_connector_wait;

#endif
