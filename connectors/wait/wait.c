/* The wait connector: describes nothing, and measures by waiting warmup + duration + delay
 * (when measure_enabled) while the measurement is taken elsewhere, reporting progress. */
#include "wait.h"

#include <stddef.h>

#include "servo/events.h"
#include "servo/model.h"

/* Progress is reported about every tenth of the wait, but at least every minute and at most
 * every second. */
#define PROGRESS_STEPS 10
#define PROGRESS_MIN_INTERVAL SERVO_SECOND
#define PROGRESS_MAX_INTERVAL SERVO_MINUTE

static const struct servo_field wait_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct wait_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "measure_enabled",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct wait_settings, measure_enabled),
     .flags = SERVO_F_REQUIRED,
     .description = "Whether measure waits for the control's warmup, duration and delay while "
                    "the measurement is taken elsewhere (e.g. by the optimizer)."},
    SERVO_FIELDS_END,
};

static const struct servo_schema wait_schema = {
    .title = "Wait Connector Configuration Schema",
    .description = "The wait connector measures nothing itself: it waits for an external "
                   "measurement to complete.",
    .size = sizeof(struct wait_settings),
    .fields = wait_fields,
};

/* ---- handlers --------------------------------------------------------------------------- */

static servo_duration positive(servo_duration d)
{
    return d > 0 ? d : 0;
}

static servo_duration progress_interval(servo_duration total)
{
    servo_duration step = total / PROGRESS_STEPS;
    if (step < PROGRESS_MIN_INTERVAL)
        step = PROGRESS_MIN_INTERVAL;
    return step > PROGRESS_MAX_INTERVAL ? PROGRESS_MAX_INTERVAL : step;
}

/* Sleeps `total` in steps, reporting progress. Returns -1 once the event is cancelled or
 * runs out of time (the event is then failed). */
static int wait_with_progress(struct servo_event *event, servo_duration total)
{
    char total_text[SERVO_VALUE_TEXT_MAX], waited_text[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(total, total_text);
    servo_event_progress(event, 0, "Waiting %s for external measurement to complete", total_text);
    servo_duration step = progress_interval(total), waited = 0;
    while (waited < total) {
        servo_duration chunk = total - waited < step ? total - waited : step;
        if (servo_event_sleep(event, chunk) != 0) {
            servo_duration_format(waited, waited_text);
            bool timeout = servo_event_remaining(event) <= 0;
            return servo_event_fail(
                event, SERVO_ERROR_MEASUREMENT_FAILED, timeout ? "timeout" : "cancelled",
                "%s after waiting %s of %s for external measurement",
                timeout ? "ran out of time" : "cancelled", waited_text, total_text);
        }
        waited += chunk;
        servo_duration_format(waited, waited_text);
        servo_event_progress(event, 100.0 * (double)waited / (double)total,
                             "Waited %s of %s for external measurement to complete", waited_text,
                             total_text);
    }
    return 0;
}

static int on_measure(struct servo_connector *c, struct servo_event *event)
{
    const struct wait_settings *s = servo_connector_settings(c);
    if (s->measure_enabled) {
        const struct servo_control *control = servo_event_control(event);
        servo_duration total =
            positive(control->warmup) + positive(control->duration) + positive(control->delay);
        if (wait_with_progress(event, total) != 0)
            return -1;
    }
    servo_event_set_measurement(event, servo_measurement_new());
    return 0;
}

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    (void)c;
    servo_event_set_description(event, servo_description_new());
    return 0;
}

static const struct servo_handler wait_handlers[] = {
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {NULL, 0, NULL},
};

const struct servo_connector_plugin servo_connector_wait = {
    SERVO_CONNECTOR_HEADER,
    .name = "wait",
    .class_name = "WaitConnector",
    .version = "0.0.1",
    .description = "Wait (no-op) Connector for Opsani",
    .homepage = "https://github.com/opsani/servox",
    .license = "Apache 2.0",
    .maturity = "Stable",
    .settings = &wait_schema,
    .generate = "measure_enabled: false\n",
    .handlers = wait_handlers,
};
