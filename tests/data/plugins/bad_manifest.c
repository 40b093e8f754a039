/* A manifest that declares connectors but gives no list: refused, not dereferenced. */
#include <stddef.h>

#include <servo/servo.h>

SERVO_EXPORT const struct servo_plugin_manifest servo_plugin_manifest = {SERVO_ABI_VERSION, 2,
                                                                         NULL};
