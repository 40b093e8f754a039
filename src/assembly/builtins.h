/* The connectors compiled into the servo. */
#ifndef SERVO_BUILTINS_H
#define SERVO_BUILTINS_H

#include <stddef.h>

#include "servo/connector.h"

/* NULL-terminated. */
extern const struct servo_connector_plugin *const servo_builtin_connectors[];
size_t servo_builtin_connector_count(void);

#endif
