#include "events/servo_runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "events/bus.h"
#include "util/log.h"
#include "util/util.h"

/* How long detaching waits for abandoned handlers to return. */
#define DETACH_WAIT_SECONDS 2.0

static void fini_connectors(struct servo_config *servo, size_t count)
{
    for (size_t i = count; i-- > 0;) {
        struct servo_connector *c = &servo->connectors[i];
        if (bus_connector_busy(c)) {
            servo_warning("%s: a handler that did not stop still runs: the connector is not "
                          "released",
                          c->name);
            continue;
        }
        if (c->plugin->fini) {
            log_set_context(c->name, "detach");
            c->plugin->fini(c);
            log_set_context(NULL, NULL);
        }
        c->state = NULL;
    }
}

int servo_attach(struct servo_config *servo, struct servo_error *error)
{
    for (size_t i = 0; i < servo->connector_count; i++) {
        struct servo_connector *c = &servo->connectors[i];
        if (c->plugin->init == NULL)
            continue;
        struct servo_error e = {0};
        log_set_context(c->name, "attach");
        int rc = c->plugin->init(c, &e);
        log_set_context(NULL, NULL);
        if (rc != 0) {
            servo_error_set(error, e.kind ? e.kind : SERVO_ERROR_FAILED, e.reason,
                            "connector %s failed to start: %s", c->name,
                            e.message[0] ? e.message : "init failed");
            fini_connectors(servo, i);
            return -1;
        }
    }
    struct event_args args;
    event_args_init(&args);
    struct bus_options options = {.prepositions = SERVO_ON};
    struct bus_outcome out;
    int rc = bus_dispatch(servo->connectors, servo->connector_count, SERVO_EVENT_ATTACH, &args,
                          &options, &out);
    if (rc != 0) {
        *error = out.error;
        fini_connectors(servo, servo->connector_count);
    }
    bus_outcome_free(&out);
    event_args_free(&args);
    return rc;
}

void servo_detach(struct servo_config *servo)
{
    struct event_args args;
    event_args_init(&args);
    struct bus_options options = {.prepositions = SERVO_ON};
    struct bus_outcome out;
    if (bus_dispatch(servo->connectors, servo->connector_count, SERVO_EVENT_DETACH, &args, &options,
                     &out) != 0)
        servo_warning("detach: %s", out.error.message);
    bus_outcome_free(&out);
    event_args_free(&args);
    /* abandoned handlers were told to stop long ago: a last chance before their connectors go */
    bus_wait_abandoned(DETACH_WAIT_SECONDS);
    fini_connectors(servo, servo->connector_count);
}

static bool on_step(double value, double min, double step)
{
    if (step <= 0)
        return true;
    double steps = (value - min) / step;
    return fabs(steps - round(steps)) <= 1e-9 * fmax(1.0, fabs(steps));
}

static void check_range(struct strbuf *sb, const struct servo_adjustment *a,
                        const struct servo_setting *s)
{
    if (a->is_text) {
        strbuf_printf(sb, "%s.%s: expected a number, got \"%s\"\n", a->component, a->setting,
                      a->text);
    } else if (a->value < s->min || a->value > s->max) {
        strbuf_printf(sb, "%s.%s: %g is outside the range [%g, %g]\n", a->component, a->setting,
                      a->value, s->min, s->max);
    } else if (!on_step(a->value, s->min, s->step)) {
        strbuf_printf(sb, "%s.%s: %g is not on a step of %g from %g\n", a->component, a->setting,
                      a->value, s->step, s->min);
    }
}

static void check_enum(struct strbuf *sb, const struct servo_adjustment *a,
                       const struct servo_setting *s)
{
    char number[64];
    const char *text = a->text;
    if (!a->is_text) {
        snprintf(number, sizeof number, "%g", a->value);
        text = number;
    }
    for (size_t i = 0; i < s->value_count; i++)
        if (strcmp(s->values[i], text) == 0)
            return;
    strbuf_printf(sb, "%s.%s: \"%s\" is not one of:", a->component, a->setting, text);
    for (size_t i = 0; i < s->value_count; i++)
        strbuf_printf(sb, " %s", s->values[i]);
    strbuf_putc(sb, '\n');
}

int adjustments_validate(const struct servo_description *description,
                         const struct servo_adjustments *adjustments, char **error)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < adjustments->count; i++) {
        const struct servo_adjustment *a = &adjustments->items[i];
        const struct servo_component *c = servo_description_find(description, a->component);
        const struct servo_setting *s = c ? servo_component_find(c, a->setting) : NULL;
        if (c == NULL)
            strbuf_printf(&sb, "%s.%s: no component named \"%s\"\n", a->component, a->setting,
                          a->component);
        else if (s == NULL)
            strbuf_printf(&sb, "%s.%s: component \"%s\" has no setting \"%s\"\n", a->component,
                          a->setting, a->component, a->setting);
        else if (s->pinned)
            strbuf_printf(&sb, "%s.%s: the setting is pinned\n", a->component, a->setting);
        else if (s->kind == SERVO_SETTING_RANGE)
            check_range(&sb, a, s);
        else
            check_enum(&sb, a, s);
    }
    if (sb.len == 0)
        return 0;
    strbuf_truncate(&sb, sb.len - 1);
    *error = strbuf_detach(&sb);
    return -1;
}
