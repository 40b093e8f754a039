#include "assembly/builtins.h"

/* The table comes from SERVO_BUILTIN_CONNECTORS in connectors/CMakeLists.txt (one
 * SERVO_BUILTIN(name) line each); connectors/<name>/ defines servo_connector_<name>. */
#define SERVO_BUILTIN(name) extern const struct servo_connector_plugin servo_connector_##name;
#include "servo_builtins.inc"
#undef SERVO_BUILTIN

const struct servo_connector_plugin *const servo_builtin_connectors[] = {
#define SERVO_BUILTIN(name) &servo_connector_##name,
#include "servo_builtins.inc"
#undef SERVO_BUILTIN
    NULL,
};

size_t servo_builtin_connector_count(void)
{
    return sizeof servo_builtin_connectors / sizeof servo_builtin_connectors[0] - 1;
}
