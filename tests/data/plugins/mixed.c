/* A plugin with two connectors, one valid and one built for another plugin ABI: the valid one
 * is registered (so the object stays loaded) and the other refused. */
#include <stddef.h>
#include <stdint.h>

#include <servo/servo.h>

struct mixed_settings {
    char *word;
};

static const struct servo_field mixed_fields[] = {
    {.name = "word",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct mixed_settings, word),
     .def = "mixed"},
    SERVO_FIELDS_END,
};

static const struct servo_schema mixed_schema = {
    .size = sizeof(struct mixed_settings),
    .fields = mixed_fields,
};

static const struct servo_connector_plugin mixed_ok = {
    SERVO_CONNECTOR_HEADER, .name = "mixed_ok",        .class_name = "MixedOkConnector",
    .version = "1.0.0",     .settings = &mixed_schema,
};

static const struct servo_connector_plugin mixed_old = {
    .abi_version = 7,
    .struct_size = sizeof(struct servo_connector_plugin),
    .name = "mixed_old",
    .class_name = "MixedOldConnector",
    .version = "0.7.0",
    .settings = &mixed_schema,
};

SERVO_DECLARE_PLUGIN(&mixed_ok, &mixed_old);
