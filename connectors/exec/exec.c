/* The exec connector's settings: the commands of the servo-exec driver protocol, an optional
 * static description (components and metrics), and how the commands run. The handlers are in
 * handlers.c, the protocol in protocol.c, the checks in checks.c. */
#include "exec.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MS_NS 1e6

static const char *const setting_type_choices[] = {"range", "enum", NULL};
const char *const exec_unit_choices[] = {"",      "%",   "ms",  "bytes", "GiB",
                                         "cores", "rpm", "rps", NULL};

/* ---- validators ------------------------------------------------------------------------- */

static int validate_setting(const void *value, struct servo_validation *v)
{
    const struct exec_setting *s = value;
    char *const *values = s->values.items;
    if (s->type == EXEC_SETTING_ENUM) {
        if (!isnan(s->min) || !isnan(s->max) || !isnan(s->step))
            return servo_validation_error(v,
                                          !isnan(s->min)   ? "min"
                                          : !isnan(s->max) ? "max"
                                                           : "step",
                                          "min, max and step apply to range settings only");
        if (s->values.count == 0)
            return servo_validation_error(v, "values", "an enum setting needs values");
        if (s->value == NULL)
            return 0;
        for (size_t i = 0; i < s->values.count; i++)
            if (strcmp(values[i], s->value) == 0)
                return 0;
        return servo_validation_error(v, "value", "value \"%s\" is not one of the values",
                                      s->value);
    }
    if (s->values.count > 0)
        return servo_validation_error(v, "values", "values apply to enum settings only");
    if (isnan(s->min))
        return servo_validation_error(v, NULL, "a range setting needs min");
    if (isnan(s->max))
        return servo_validation_error(v, NULL, "a range setting needs max");
    if (isnan(s->step))
        return servo_validation_error(v, NULL, "a range setting needs step");
    if (s->min > s->max)
        return servo_validation_error(v, "min", "min (%g) must not be greater than max (%g)",
                                      s->min, s->max);
    if (s->step <= 0 && s->min != s->max)
        return servo_validation_error(v, "step",
                                      "step must be greater than zero when min and max differ");
    if (s->value != NULL) {
        char *end = NULL;
        double d = strtod(s->value, &end);
        if (end == s->value || *end != '\0' || isnan(d))
            return servo_validation_error(v, "value", "value \"%s\" is not a number", s->value);
    }
    return 0;
}

static int validate_metrics(const void *value, struct servo_validation *v)
{
    const struct servo_list *list = value;
    const struct exec_metric *metrics = list->items;
    for (size_t i = 1; i < list->count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(metrics[i].name, metrics[j].name) == 0)
                return servo_validation_error(v, NULL,
                                              "duplicate metric name \"%s\" (metrics[%zu] and "
                                              "metrics[%zu])",
                                              metrics[i].name, j, i);
    return 0;
}

static int validate_settings(const void *settings, struct servo_validation *v)
{
    const struct exec_settings *s = settings;
    bool stages = exec_has_stages(&s->stages);
    if (s->describe == NULL && s->adjust == NULL && s->measure == NULL &&
        s->components.count == 0 && s->metrics.count == 0 && !stages)
        return servo_validation_error(v, NULL,
                                      "at least one of describe, adjust, measure, components, "
                                      "metrics or the servo-exec stages (pre, start, stop, post) "
                                      "is required");
    if (s->measure != NULL && stages)
        return servo_validation_error(v, "measure",
                                      "measure and the servo-exec stages (pre, start, stop, "
                                      "post) both measure: give one of them");
    return 0;
}

/* ---- the tables ------------------------------------------------------------------------- */

static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};

static const struct servo_field setting_fields[] = {
    {.name = "type",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct exec_setting, type),
     .def = "range",
     .choices = setting_type_choices,
     .description = "range (numeric min, max and step) or enum (a list of values)."},
    {.name = "min",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct exec_setting, min),
     .description = "range: the smallest value."},
    {.name = "max",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct exec_setting, max),
     .description = "range: the largest value."},
    {.name = "step",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct exec_setting, step),
     .description = "range: the granularity of values."},
    {.name = "values",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_setting, values),
     .item = &string_item,
     .description = "enum: the allowed values."},
    {.name = "unit",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_setting, unit),
     .description = "The unit of the setting, e.g. cores or GiB."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct exec_setting, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    {.name = "value",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_setting, value),
     .description = "The current value, as text; the describe command reports it otherwise."},
    SERVO_FIELDS_END,
};

static const struct servo_schema setting_schema = {
    .title = "Setting",
    .description = "A setting of a component the optimizer may adjust.",
    .size = sizeof(struct exec_setting),
    .fields = setting_fields,
    .validate = validate_setting,
};

static const struct servo_field setting_item = {.type = SERVO_FIELD_OBJECT,
                                                .object = &setting_schema};

static const struct servo_field component_fields[] = {
    {.name = "settings",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct exec_component, settings),
     .item = &setting_item,
     .description = "The component's settings by name."},
    SERVO_FIELDS_END,
};

static const struct servo_schema component_schema = {
    .title = "Component",
    .description = "A component of the application and its settings.",
    .size = sizeof(struct exec_component),
    .fields = component_fields,
};

static const struct servo_field metric_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_metric, name),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The name of the metric, unique within the connector."},
    {.name = "unit",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct exec_metric, unit),
     .def = "''",
     .choices = exec_unit_choices,
     .description = "The unit of the metric: \"\" (a plain number), % (percentage), ms, bytes, "
                    "GiB, cores, rpm (requests per minute) or rps (requests per second)."},
    SERVO_FIELDS_END,
};

static const struct servo_schema metric_schema = {
    .title = "Metric",
    .description = "A metric the measure command reports.",
    .size = sizeof(struct exec_metric),
    .fields = metric_fields,
};

static const struct servo_field component_item = {.type = SERVO_FIELD_OBJECT,
                                                  .object = &component_schema};
static const struct servo_field metric_item = {.type = SERVO_FIELD_OBJECT,
                                               .object = &metric_schema};

static const struct servo_field exec_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "describe",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_settings, describe),
     .flags = SERVO_F_NONEMPTY,
     .description = "A command line that prints the current settings as JSON (the driver's "
                    "--describe)."},
    {.name = "adjust",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_settings, adjust),
     .flags = SERVO_F_NONEMPTY,
     .description = "A command line that reads the adjustments as JSON on its standard input "
                    "and applies them."},
    {.name = "measure",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_settings, measure),
     .flags = SERVO_F_NONEMPTY,
     .description = "A command line that reads the control as JSON on its standard input and "
                    "prints the measurement as JSON."},
    {.name = "components",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct exec_settings, components),
     .item = &component_item,
     .description = "A static description of the components, by name: used when there is no "
                    "describe command."},
    {.name = "metrics",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_settings, metrics),
     .item = &metric_item,
     .validate = validate_metrics,
     .description = "The metrics the measure command reports; names must be unique."},
    {.name = "environment",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct exec_settings, environment),
     .item = &string_item,
     .description = "Environment variables added to the commands' environment."},
    {.name = "working_dir",
     .type = SERVO_FIELD_CUSTOM,
     .offset = offsetof(struct exec_settings, working_dir),
     .custom = &exec_dir_type,
     .description = "The directory the commands run in, relative to the configuration file's "
                    "directory (to the servo's working directory when set by an environment "
                    "variable); the servo's working directory when not given."},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct exec_settings, timeout),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .def = "5m",
     .description = "How long a command may run before it is stopped."},
    {.name = "pre",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_settings, stages.pre),
     .item = &exec_task_item,
     .flags = SERVO_F_NO_ENV,
     .description =
         "servo-exec: tasks run before the measurement; a failure fails it (post still runs)."},
    {.name = "start",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_settings, stages.start),
     .item = &exec_task_item,
     .flags = SERVO_F_NO_ENV,
     .description = "servo-exec: tasks that start the measurement (e.g. a load generator)."},
    {.name = "stop",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_settings, stages.stop),
     .item = &exec_task_item,
     .flags = SERVO_F_NO_ENV,
     .description = "servo-exec: tasks run after the measurement's duration."},
    {.name = "post",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_settings, stages.post),
     .item = &exec_task_item,
     .flags = SERVO_F_NO_ENV,
     .description = "servo-exec: clean-up tasks, always run; their failures are ignored."},
    SERVO_FIELDS_END,
};

static const struct servo_schema exec_schema = {
    .title = "Exec Connector Configuration Schema",
    .description = "Commands that describe, adjust and measure the application through the "
                   "servo-exec driver protocol (JSON on standard input and output).",
    .size = sizeof(struct exec_settings),
    .fields = exec_fields,
    .validate = validate_settings,
};

const struct servo_connector_plugin servo_connector_exec = {
    SERVO_CONNECTOR_HEADER,
    .name = "exec",
    .class_name = "ExecConnector",
    .version = "1.0.0",
    .description =
        "Run commands to describe, adjust and measure (the Opsani servo-exec driver protocol)",
    .homepage = "https://github.com/opsani/servo-exec",
    .license = "Apache 2.0",
    .maturity = "Stable",
    .settings = &exec_schema,
    .generate = "describe: ./describe\n"
                "adjust: ./adjust\n"
                "measure: ./measure\n",
    .init = exec_init,
    .fini = exec_fini,
    .handlers = exec_handlers,
    .checks = exec_checks,
};
