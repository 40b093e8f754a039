/* A plugin whose manifest declares plugin ABI 999: the servo must refuse it before reading
 * anything else, naming the file and both versions. */
#include <stddef.h>
#include <stdint.h>

#include <servo/servo.h>

struct abi_settings {
    bool unused;
};

static const struct servo_field abi_fields[] = {
    {.name = "unused", .type = SERVO_FIELD_BOOL, .offset = offsetof(struct abi_settings, unused)},
    SERVO_FIELDS_END,
};

static const struct servo_schema abi_schema = {
    .size = sizeof(struct abi_settings),
    .fields = abi_fields,
};

static const struct servo_connector_plugin abi_connector = {
    SERVO_CONNECTOR_HEADER, .name = "abi_mismatch",  .class_name = "AbiMismatchConnector",
    .version = "9.9.9",     .settings = &abi_schema,
};

static const struct servo_connector_plugin *const abi_connectors[] = {&abi_connector};

/* Written out by hand instead of SERVO_DECLARE_PLUGIN, to claim another ABI. */
SERVO_EXPORT const struct servo_plugin_manifest servo_plugin_manifest = {999, 1, abi_connectors};
