// SPDX-License-Identifier: Apache-2.0
/* A test connector plugin whose handlers ignore their deadline and cancellation, for the
 * abandoned-handler tests of `servo run` (test_run_faults.sh). After its stubborn wait a
 * handler reads everything its event reaches, so a servo that freed any of it is caught by
 * ASan. Loaded with SERVO_PLUGIN_PATH.
 *
 *   stubborn:
 *     telemetry_seconds: 20  # the telemetry handler (before HELLO) ignores its deadline so long
 *     measure_seconds: 30    # the measure handler likewise (0: it measures at once)
 */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <servo/events.h>
#include <servo/log.h>
#include <servo/model.h>
#include <servo/servo.h>

struct stubborn_settings {
    int64_t telemetry_seconds;
    int64_t measure_seconds;
};

static const struct servo_field stubborn_fields[] = {
    {.name = "telemetry_seconds",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct stubborn_settings, telemetry_seconds),
     .def = "0",
     .description = "How long the telemetry handler ignores its deadline."},
    {.name = "measure_seconds",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct stubborn_settings, measure_seconds),
     .def = "0",
     .description = "How long the measure handler ignores its deadline."},
    SERVO_FIELDS_END,
};

static const struct servo_schema stubborn_schema = {
    .title = "Stubborn Settings",
    .size = sizeof(struct stubborn_settings),
    .fields = stubborn_fields,
};

/* Sleeps without looking at the event's token. */
static void ignore_everything(int64_t seconds)
{
    struct timespec ts = {.tv_sec = (time_t)seconds, .tv_nsec = 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Reads what the event reaches, as a handler that went on after its deadline would. */
static void touch_event(struct servo_event *ev)
{
    const struct servo_control *control = servo_event_control(ev);
    size_t metrics = servo_event_metric_count(ev);
    servo_log(SERVO_LOG_INFO, "%s handler going on: duration %.0fs, %zu metric(s)%s%s",
              servo_event_name(ev), servo_duration_seconds(control->duration), metrics,
              metrics ? ", first " : "", metrics ? servo_event_metric(ev, 0) : "");
    servo_event_progress(ev, 50, "stubborn progress after the deadline (%s)",
                         servo_event_cancelled(ev) ? "cancelled" : "not cancelled");
}

static int on_telemetry(struct servo_connector *c, struct servo_event *ev)
{
    const struct stubborn_settings *s = servo_connector_settings(c);
    ignore_everything(s->telemetry_seconds);
    touch_event(ev);
    servo_event_set_value(ev, json_pack("{s:s}", "mood", "stubborn"));
    return 0;
}

static int on_describe(struct servo_connector *c, struct servo_event *ev)
{
    (void)c;
    servo_event_add_metric(ev, "stubbornness", "");
    return 0;
}

static int on_measure(struct servo_connector *c, struct servo_event *ev)
{
    const struct stubborn_settings *s = servo_connector_settings(c);
    ignore_everything(s->measure_seconds);
    touch_event(ev);
    struct servo_measurement *m = servo_measurement_new();
    servo_measurement_point(m, "stubbornness", "", 0, 1);
    servo_event_set_measurement(ev, m);
    return 0;
}

static const struct servo_handler stubborn_handlers[] = {
    {SERVO_EVENT_TELEMETRY, SERVO_ON, on_telemetry},
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {NULL, 0, NULL},
};

static const struct servo_connector_plugin stubborn_connector = {
    SERVO_CONNECTOR_HEADER,
    .name = "stubborn",
    .class_name = "StubbornConnector",
    .version = "0.1.0",
    .description = "A connector whose handlers ignore their deadlines, for the tests",
    .license = "Apache-2.0",
    .maturity = "Experimental",
    .settings = &stubborn_schema,
    .generate = "measure_seconds: 0\n",
    .handlers = stubborn_handlers,
};

SERVO_DECLARE_PLUGIN(&stubborn_connector);
