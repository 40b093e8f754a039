/* The settings space of a study (study_space.h). */
#include "optimizer/study_space.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "types/wire.h"
#include "util/util.h"

/* ---- building -------------------------------------------------------------------------- */

static double enum_index(const struct servo_setting *s)
{
    if (s->has_value && s->text_value != NULL)
        for (size_t i = 0; i < s->value_count; i++)
            if (strcmp(s->values[i], s->text_value) == 0)
                return (double)i;
    return 0;
}

/* The problems the engine would report without naming the setting. */
static int check_setting(const struct servo_setting *s, const char *name, char **error)
{
    if (s->kind == SERVO_SETTING_ENUM) {
        if (s->value_count == 0) {
            *error = xasprintf("%s: an enum setting without values", name);
            return -1;
        }
        return 0;
    }
    if (!isfinite(s->min) || !isfinite(s->max) || !isfinite(s->step)) {
        *error = xasprintf("%s: min, max and step must be finite numbers", name);
        return -1;
    }
    if (s->min > s->max) {
        *error = xasprintf("%s: min %g is greater than max %g", name, s->min, s->max);
        return -1;
    }
    if (s->step < 0) {
        *error = xasprintf("%s: step %g is negative", name, s->step);
        return -1;
    }
    if (s->has_value && !isfinite(s->value)) {
        *error = xasprintf("%s: the value is not a finite number", name);
        return -1;
    }
    return 0;
}

static void fill_param(struct study_param *sp, struct opt_param *p, const struct servo_setting *s,
                       const char *component)
{
    sp->name = xasprintf("%s.%s", component, s->name);
    sp->component = xstrdup(component);
    sp->setting = xstrdup(s->name);
    sp->unit = s->unit ? xstrdup(s->unit) : NULL;
    sp->has_baseline = s->has_value;
    p->name = sp->name;
    p->pinned = s->pinned;
    if (s->kind == SERVO_SETTING_ENUM) {
        sp->numeric_enum = s->numeric_values;
        sp->values = xcalloc(s->value_count + 1, sizeof *sp->values);
        for (size_t i = 0; i < s->value_count; i++)
            sp->values[i] = xstrdup(s->values[i]);
        p->kind = OPT_ENUM;
        p->values = (const char *const *)sp->values;
        p->value_count = s->value_count;
        p->fixed = enum_index(s);
        return;
    }
    p->kind = OPT_RANGE;
    p->min = s->min;
    p->max = s->max;
    p->step = s->step;
    p->integer = s->integer;
    p->fixed = s->has_value ? s->value : s->min;
}

static size_t count_settings(const struct servo_description *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->component_count; i++)
        n += d->components[i].setting_count;
    return n;
}

int study_space_build(const struct servo_description *d, struct study_space *out, char **error)
{
    memset(out, 0, sizeof *out);
    size_t n = count_settings(d);
    if (n == 0) {
        *error = xstrdup("no tunable settings: the description has no settings");
        return -1;
    }
    out->params = xcalloc(n, sizeof *out->params);
    out->opt = xcalloc(n, sizeof *out->opt);
    for (size_t i = 0; i < d->component_count; i++) {
        const struct servo_component *c = &d->components[i];
        for (size_t k = 0; k < c->setting_count; k++) {
            char *name = xasprintf("%s.%s", c->name, c->settings[k].name);
            int rc = check_setting(&c->settings[k], name, error);
            free(name);
            if (rc != 0) {
                study_space_free(out);
                return -1;
            }
            fill_param(&out->params[out->count], &out->opt[out->count], &c->settings[k], c->name);
            out->count++;
        }
    }
    out->space = (struct opt_space){out->opt, out->count};
    const char *why = NULL;
    if (opt_space_validate(&out->space, &why) != 0) {
        *error = xstrdup(why ? why : "the settings space is unusable");
        study_space_free(out);
        return -1;
    }
    return 0;
}

void study_space_free(struct study_space *s)
{
    for (size_t i = 0; i < s->count; i++) {
        struct study_param *p = &s->params[i];
        free(p->name);
        free(p->component);
        free(p->setting);
        free(p->unit);
        for (size_t k = 0; p->values && p->values[k]; k++)
            free(p->values[k]);
        free(p->values);
    }
    free(s->params);
    free(s->opt);
    memset(s, 0, sizeof *s);
}

void study_space_current(const struct study_space *s, double *x)
{
    for (size_t i = 0; i < s->count; i++)
        x[i] = s->opt[i].fixed;
}

/* ---- points and JSON ------------------------------------------------------------------- */

static const char *enum_text(const struct opt_param *p, double v)
{
    if (!isfinite(v) || v < 0 || v >= (double)p->value_count)
        return NULL;
    return p->values[(size_t)nearbyint(v)];
}

/* The value of one setting as the settings JSON keeps it. */
static json_t *stored_value(const struct opt_param *p, double v)
{
    if (p->kind == OPT_ENUM) {
        const char *text = enum_text(p, v);
        return text ? wire_string(text) : json_null();
    }
    return wire_number(v, p->integer);
}

/* The value as the ADJUST command sends it: numeric enums as numbers. */
static json_t *wire_value(const struct study_param *sp, const struct opt_param *p, double v)
{
    if (p->kind == OPT_RANGE)
        return wire_number(v, p->integer);
    const char *text = enum_text(p, v);
    double number = 0;
    bool integer = false;
    if (text != NULL && sp->numeric_enum && wire_parse_decimal(text, &number, &integer))
        return wire_number(number, integer);
    return text ? wire_string(text) : json_null();
}

json_t *study_space_settings_json(const struct study_space *s, const double *x)
{
    json_t *settings = json_object();
    for (size_t i = 0; i < s->count; i++)
        wire_set(settings, s->params[i].name, stored_value(&s->opt[i], x[i]));
    return settings;
}

static double parse_value(const struct opt_param *p, const json_t *value)
{
    if (p->kind == OPT_RANGE)
        return json_is_number(value) ? json_number_value(value) : NAN;
    const char *text = json_string_value(value);
    for (size_t i = 0; text != NULL && i < p->value_count; i++)
        if (strcmp(p->values[i], text) == 0)
            return (double)i;
    return NAN;
}

bool study_space_point(const struct study_space *s, const json_t *settings, bool snap, double *x)
{
    bool complete = true;
    for (size_t i = 0; i < s->count; i++) {
        x[i] = parse_value(&s->opt[i], json_object_get(settings, s->params[i].name));
        if (isnan(x[i]))
            complete = false;
    }
    if (snap && complete)
        opt_snap(&s->space, x);
    return complete;
}

json_t *study_space_adjust_state(const struct study_space *s, const double *x)
{
    json_t *components = json_object();
    for (size_t i = 0; i < s->count; i++) {
        const struct study_param *sp = &s->params[i];
        if (s->opt[i].pinned)
            continue;
        json_t *component = json_object_get(components, sp->component);
        if (component == NULL) {
            component = json_object();
            json_object_set_new(component, "settings", json_object());
            wire_set(components, sp->component, component);
        }
        json_t *value = json_object();
        json_object_set_new(value, "value", wire_value(sp, &s->opt[i], x[i]));
        wire_set(json_object_get(component, "settings"), sp->setting, value);
    }
    json_t *application = json_object();
    json_object_set_new(application, "components", components);
    json_t *state = json_object();
    json_object_set_new(state, "application", application);
    return state;
}

char *study_space_format(const struct study_space *s, const double *x)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < s->count; i++) {
        const struct opt_param *p = &s->opt[i];
        strbuf_printf(&sb, "%s%s=", i ? ", " : "", s->params[i].name);
        if (p->kind == OPT_ENUM) {
            const char *text = enum_text(p, x[i]);
            strbuf_puts(&sb, text ? text : "?");
        } else {
            strbuf_printf(&sb, "%.10g", x[i]);
        }
    }
    return strbuf_detach(&sb);
}
