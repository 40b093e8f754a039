/* The wrk connector's handlers. init writes the Lua hook to a temporary file (removed by
 * fini); describe and metrics list the eight metrics; measure waits out the delay, runs a
 * warmup pass for the control's warmup (its results are dropped), then the measured pass for
 * the control's duration, and returns one data point per metric. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "servo/log.h"

/* ---- init and fini ---------------------------------------------------------------------- */

/* Writes `text` to a new private file in $TMPDIR (or /tmp); its path, or NULL with errno. */
static char *write_temporary(const char *text)
{
    const char *dir = getenv("TMPDIR");
    char *path = servo_strdup_printf("%s/servo-wrk-XXXXXX.lua", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemps(path, 4);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    size_t length = strlen(text);
    bool ok = write(fd, text, length) == (ssize_t)length;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(path);
        free(path);
        errno = saved;
        return NULL;
    }
    return path;
}

int wrk_init(struct servo_connector *connector, struct servo_error *error)
{
    const struct wrk_settings *s = servo_connector_settings(connector);
    char *script = NULL;
    if (s->script != NULL) {
        char resolved[PATH_MAX];
        script = servo_strdup_printf("%s", realpath(s->script, resolved) ? resolved : s->script);
    }
    char *text = wrk_hook_text(script);
    free(script);
    char *path = write_temporary(text);
    free(text);
    if (path == NULL)
        return servo_error_set(error, SERVO_ERROR_FAILED, "hook",
                               "wrk: cannot write the Lua hook to a temporary file: %s",
                               strerror(errno));
    struct wrk_state *state = servo_xcalloc(1, sizeof *state);
    state->hook_path = path;
    servo_connector_set_state(connector, state);
    return 0;
}

void wrk_fini(struct servo_connector *connector)
{
    struct wrk_state *state = servo_connector_state(connector);
    if (state == NULL)
        return;
    unlink(state->hook_path);
    free(state->hook_path);
    free(state);
    servo_connector_set_state(connector, NULL);
}

static int fail_event(struct servo_event *event, const struct servo_error *error)
{
    return servo_event_fail(event, error->kind, error->reason, "%s", error->message);
}

/* ---- describe and metrics --------------------------------------------------------------- */

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    (void)c;
    struct servo_description *d = servo_description_new();
    for (int i = 0; i < WRK_METRIC_COUNT; i++)
        servo_description_add_metric(d, wrk_metrics[i].name, wrk_metrics[i].unit);
    servo_event_set_description(event, d);
    return 0;
}

static int on_metrics(struct servo_connector *c, struct servo_event *event)
{
    (void)c;
    for (int i = 0; i < WRK_METRIC_COUNT; i++)
        servo_event_add_metric(event, wrk_metrics[i].name, wrk_metrics[i].unit);
    return 0;
}

/* ---- measure ---------------------------------------------------------------------------- */

static bool wanted_metrics(struct servo_event *event, bool wanted[WRK_METRIC_COUNT])
{
    bool any = false;
    for (int i = 0; i < WRK_METRIC_COUNT; i++) {
        wanted[i] = servo_event_wants_metric(event, wrk_metrics[i].name);
        any = any || wanted[i];
    }
    return any;
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *load_profile(const struct wrk_settings *s, const struct servo_control *control)
{
    char delay[SERVO_VALUE_TEXT_MAX], warmup[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(control->delay > 0 ? control->delay : 0, delay);
    servo_duration_format(control->warmup > 0 ? control->warmup : 0, warmup);
    return servo_strdup_printf(
        "Loading %s with %lld threads and %lld connections for %llds (delay of %s, "
        "warmup of %s)",
        s->url, (long long)s->threads, (long long)s->connections, wrk_seconds(control->duration),
        delay, warmup);
}

static int wait_delay(struct servo_event *event, servo_duration delay)
{
    if (delay <= 0)
        return 0;
    char text[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(delay, text);
    servo_event_progress(event, 0, "wrk: waiting %s (the delay) before the load", text);
    if (servo_event_sleep(event, delay) != 0)
        return servo_event_fail(event, SERVO_ERROR_MEASUREMENT_FAILED, "cancelled",
                                "the measurement was cancelled during its delay of %s", text);
    return 0;
}

/* The warmup pass: the same load for the warmup's length, results dropped. */
static int run_warmup(struct servo_connector *c, struct servo_event *event, servo_duration warmup,
                      struct servo_error *error)
{
    if (warmup <= 0)
        return 0;
    servo_event_progress(event, 0, "wrk: warming up for %llds", wrk_seconds(warmup));
    struct wrk_run run = {
        .duration = warmup, .what = "warmup", .failure = SERVO_ERROR_MEASUREMENT_FAILED};
    struct wrk_summary ignored;
    if (wrk_execute(c, event, &run, &ignored, error) != 0) {
        char message[SERVO_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "%s", error->message);
        servo_error_set(error, error->kind, error->reason, "warmup: %s", message);
        return -1;
    }
    return 0;
}

static struct servo_measurement *measurement(const struct wrk_summary *summary,
                                             const bool wanted[WRK_METRIC_COUNT], double time)
{
    struct servo_measurement *m = servo_measurement_new();
    for (int i = 0; i < WRK_METRIC_COUNT; i++)
        if (wanted[i])
            servo_measurement_point(m, wrk_metrics[i].name, wrk_metrics[i].unit, time,
                                    wrk_metric_value(summary, (enum wrk_metric)i));
    return m;
}

static int on_measure(struct servo_connector *c, struct servo_event *event)
{
    const struct wrk_settings *s = servo_connector_settings(c);
    const struct servo_control *control = servo_event_control(event);
    bool wanted[WRK_METRIC_COUNT];
    if (!wanted_metrics(event, wanted))
        return 0; /* none of the metrics asked for are this connector's */
    if (control->duration <= 0)
        return servo_event_fail(event, SERVO_ERROR_MEASUREMENT_FAILED, "no-duration",
                                "wrk needs a measurement duration of at least 1s (the control's "
                                "duration, `servo measure -d`)");
    if (wait_delay(event, control->delay) != 0)
        return -1;
    struct servo_error error = {0};
    if (run_warmup(c, event, control->warmup, &error) != 0)
        return fail_event(event, &error);
    char *profile = load_profile(s, control);
    servo_info("%s", profile);
    servo_event_progress(event, 0, "wrk: loading for %llds", wrk_seconds(control->duration));
    struct wrk_run run = {.duration = control->duration,
                          .what = "measurement",
                          .failure = SERVO_ERROR_MEASUREMENT_FAILED};
    struct wrk_summary summary;
    int rc = wrk_execute(c, event, &run, &summary, &error);
    if (rc == 0) {
        struct servo_measurement *m = measurement(&summary, wanted, wall_clock());
        servo_measurement_annotate(m, "load_profile", profile);
        servo_event_set_measurement(event, m);
    }
    free(profile);
    return rc == 0 ? 0 : fail_event(event, &error);
}

const struct servo_handler wrk_handlers[] = {
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_METRICS, SERVO_ON, on_metrics},
    {SERVO_EVENT_MEASURE, SERVO_ON, on_measure},
    {NULL, 0, NULL},
};
