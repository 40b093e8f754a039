/* The vegeta connector's handlers: describe and metrics list the ten metrics; measure waits
 * out the delay, runs one attack for the control's duration, discards the reports that end
 * within the warmup, and returns one time series per metric with a point per report. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

int vegeta_init(struct servo_connector *connector, struct servo_error *error)
{
    (void)error;
    struct vegeta_state *state = servo_xcalloc(1, sizeof *state);
    pthread_mutex_init(&state->lock, NULL);
    servo_connector_set_state(connector, state);
    return 0;
}

void vegeta_fini(struct servo_connector *connector)
{
    struct vegeta_state *state = servo_connector_state(connector);
    if (state == NULL)
        return;
    vegeta_reports_free(&state->check_reports);
    pthread_mutex_destroy(&state->lock);
    free(state);
    servo_connector_set_state(connector, NULL);
}

static int fail_event(struct servo_event *event, const struct servo_error *error)
{
    return servo_event_fail(event, error->kind, error->reason, "%s", error->message);
}

/* ---- describe and metrics --------------------------------------------------------------- */

static struct servo_description *metrics_description(void)
{
    struct servo_description *d = servo_description_new();
    for (int i = 0; i < VEGETA_METRIC_COUNT; i++)
        servo_description_add_metric(d, vegeta_metrics[i].name, vegeta_metrics[i].unit);
    return d;
}

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    (void)c;
    servo_event_set_description(event, metrics_description());
    return 0;
}

static int on_metrics(struct servo_connector *c, struct servo_event *event)
{
    (void)c;
    for (int i = 0; i < VEGETA_METRIC_COUNT; i++)
        servo_event_add_metric(event, vegeta_metrics[i].name, vegeta_metrics[i].unit);
    return 0;
}

/* ---- measure ---------------------------------------------------------------------------- */

/* Which metrics the event asks for; false when none of them is this connector's. */
static bool wanted_metrics(struct servo_event *event, bool wanted[VEGETA_METRIC_COUNT])
{
    bool any = false;
    for (int i = 0; i < VEGETA_METRIC_COUNT; i++) {
        wanted[i] = servo_event_wants_metric(event, vegeta_metrics[i].name);
        any = any || wanted[i];
    }
    return any;
}

static int wait_delay(struct servo_event *event, servo_duration delay)
{
    if (delay <= 0)
        return 0;
    char text[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(delay, text);
    servo_event_progress(event, 0, "vegeta: waiting %s (the delay) before the attack", text);
    if (servo_event_sleep(event, delay) != 0)
        return servo_event_fail(event, SERVO_ERROR_MEASUREMENT_FAILED, "cancelled",
                                "the measurement was cancelled during its delay of %s", text);
    return 0;
}

static int on_measure(struct servo_connector *c, struct servo_event *event)
{
    const struct vegeta_settings *s = servo_connector_settings(c);
    const struct servo_control *control = servo_event_control(event);
    bool wanted[VEGETA_METRIC_COUNT];
    if (!wanted_metrics(event, wanted))
        return 0; /* none of the metrics asked for are this connector's */
    servo_duration duration = control->duration > 0 ? control->duration : s->duration;
    if (duration <= 0)
        return servo_event_fail(event, SERVO_ERROR_MEASUREMENT_FAILED, "no-duration",
                                "vegeta needs a measurement duration (the control's duration, "
                                "`servo measure -d`, or the `duration` setting): with none it "
                                "would attack forever");
    if (wait_delay(event, control->delay) != 0)
        return -1;
    char *profile =
        vegeta_load_profile(s, vegeta_target_count(s), duration, control->delay, control->warmup);
    servo_info("%s", profile);
    struct vegeta_run run = {.duration = duration,
                             .every = s->reporting_interval,
                             .warmup = control->warmup,
                             .failure = SERVO_ERROR_MEASUREMENT_FAILED};
    struct vegeta_reports reports = {0};
    struct servo_error error = {0};
    int rc = vegeta_attack(c, event, &run, &reports, &error);
    if (rc == 0) {
        struct servo_measurement *m = servo_measurement_new();
        vegeta_add_readings(m, &reports, wanted);
        servo_measurement_annotate(m, "load_profile", profile);
        servo_event_set_measurement(event, m);
        servo_debug("vegeta: %zu reports kept, %zu discarded by the warmup", reports.count,
                    reports.discarded);
    }
    vegeta_reports_free(&reports);
    free(profile);
    return rc == 0 ? 0 : fail_event(event, &error);
}

const struct servo_handler vegeta_handlers[] = {
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_METRICS, SERVO_ON, on_metrics},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {NULL, 0, NULL},
};
