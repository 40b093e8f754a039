/* A valid test connector plugin. Its name and class name can be set at compile time
 * (-DPLUGIN_NAME='"vegeta"' -DPLUGIN_CLASS='"VegetaConnector"') to collide with another
 * connector. Its validator calls back into the host (servo_log, servo_validation_error), so
 * loading it proves the host's exported symbols resolve at dlopen. */
#include <stddef.h>
#include <stdint.h>

#include <servo/log.h>
#include <servo/servo.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "plugtest"
#endif
#ifndef PLUGIN_CLASS
#define PLUGIN_CLASS "PlugTestConnector"
#endif

struct plugtest_settings {
    int64_t count;
    char *label;
};

static int plugtest_validate(const void *value, struct servo_validation *v)
{
    const struct plugtest_settings *s = value;
    servo_debug("plugtest: count %lld", (long long)s->count);
    if (s->count == 13)
        return servo_validation_error(v, "count", "13 is an unlucky count");
    return 0;
}

static const struct servo_field plugtest_fields[] = {
    {.name = "count",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct plugtest_settings, count),
     .flags = SERVO_F_MIN,
     .min = 0,
     .def = "3",
     .description = "A count."},
    {.name = "label",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct plugtest_settings, label),
     .description = "A label."},
    SERVO_FIELDS_END,
};

static const struct servo_schema plugtest_schema = {
    .title = "Plugin Test Settings",
    .size = sizeof(struct plugtest_settings),
    .fields = plugtest_fields,
    .validate = plugtest_validate,
};

static const struct servo_connector_plugin plugtest_connector = {
    SERVO_CONNECTOR_HEADER,
    .name = PLUGIN_NAME,
    .class_name = PLUGIN_CLASS,
    .version = "1.2.3",
    .description = "A connector plugin for the tests",
    .homepage = "https://example.com/plugtest",
    .license = "MIT",
    .maturity = "Experimental",
    .settings = &plugtest_schema,
    .generate = "count: 5\n",
};

SERVO_DECLARE_PLUGIN(&plugtest_connector);
