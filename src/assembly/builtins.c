#include "assembly/builtins.h"

/* Defined in connectors/<name>/<name>.c (each declared in that folder's header). */
extern const struct servo_connector_plugin servo_connector_exec;
extern const struct servo_connector_plugin servo_connector_kubernetes;
extern const struct servo_connector_plugin servo_connector_prometheus;
extern const struct servo_connector_plugin servo_connector_scripts;
extern const struct servo_connector_plugin servo_connector_vegeta;
extern const struct servo_connector_plugin servo_connector_wait;
extern const struct servo_connector_plugin servo_connector_wrk;

const struct servo_connector_plugin *const servo_builtin_connectors[] = {
    &servo_connector_exec,       &servo_connector_kubernetes,
    &servo_connector_prometheus, &servo_connector_scripts,
    &servo_connector_vegeta,     &servo_connector_wait,
    &servo_connector_wrk,        NULL,
};

size_t servo_builtin_connector_count(void)
{
    return sizeof servo_builtin_connectors / sizeof servo_builtin_connectors[0] - 1;
}
