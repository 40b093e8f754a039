/* The wrk connector: HTTP load generation and latency measurement with wrk. */
#ifndef SERVO_CONNECTOR_WRK_H
#define SERVO_CONNECTOR_WRK_H

#include <stdint.h>

#include "servo/connector.h"
#include "servo/settings.h"
#include "servo/types.h"

struct wrk_settings {
    char *description;
    char *url;
    int64_t threads;
    int64_t connections;
    struct servo_map headers; /* header name -> value (char *) */
    servo_duration timeout;   /* whole seconds */
    char *script;             /* a user Lua script, or NULL */
    char *binary;             /* the wrk executable: a name looked up on PATH, or a path */
};

extern const struct servo_connector_plugin servo_connector_wrk;

#endif
