/* Pure functions on the Kubernetes API's JSON: quantities in every Kubernetes notation,
 * component names, the settings of a container read from it and adjustments written into
 * it, strategic-merge patch bodies and label selectors. Nothing here talks to the API
 * server; tests/unit/test_kubernetes.c covers it with hand-written objects. */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

/* ---- helpers ---------------------------------------------------------------------------- */

const char *kube_kind_name(enum kube_kind kind)
{
    static const char *const names[] = {"Deployment", "StatefulSet", "Rollout"};
    return names[kind];
}

const char *kube_kind_resource(enum kube_kind kind)
{
    static const char *const resources[] = {"deployments", "statefulsets", "rollouts"};
    return resources[kind];
}

char *kube_workload_path(enum kube_kind kind, const struct kubernetes_workload *w)
{
    const char *group = kind == KUBE_ROLLOUT_KIND ? KUBE_ROLLOUT_GROUP_VERSION : "apps/v1";
    return kube_printf("/apis/%s/namespaces/%s/%s/%s", group, w->namespace,
                       kube_kind_resource(kind), w->name);
}

char *kube_query_escape(const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t length = strlen(text);
    char *out = servo_xmalloc(length * 3 + 1);
    char *p = out;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        if (isalnum(*s) || *s == '-' || *s == '_' || *s == '.' || *s == '~') {
            *p++ = (char)*s;
        } else {
            *p++ = '%';
            *p++ = hex[*s >> 4];
            *p++ = hex[*s & 15];
        }
    }
    *p = '\0';
    return out;
}

char *kube_quote(const char *text, size_t max)
{
    if (text == NULL)
        return kube_printf("%s", "");
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        length--;
    if (length <= max)
        return kube_printf("%.*s", (int)length, text);
    /* cut on a UTF-8 character boundary */
    size_t cut = max;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    return kube_printf("%.*s...", (int)cut, text);
}

/* ---- quantities ------------------------------------------------------------------------- */

typedef unsigned __int128 u128;

#define MAX_DIGITS 36

/* value = mantissa * 10^exp10 * 2^exp2 in units of 10^-scale, rounded up. */
static int quantity_parse(const char *text, int scale, int64_t *out, const char **why)
{
    const char *p = text;
    if (p == NULL || *p == '\0') {
        *why = "empty";
        return -1;
    }
    bool negative = false;
    if (*p == '+' || *p == '-')
        negative = *p++ == '-';
    u128 mantissa = 0;
    int digits = 0;   /* significant digits kept in mantissa */
    int fraction = 0; /* digits after the point */
    bool any = false; /* a digit was seen */
    bool point = false;
    for (;; p++) {
        if (*p == '.' && !point) {
            point = true;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            break;
        any = true;
        if (point)
            fraction++;
        if (digits == 0 && *p == '0')
            continue;
        if (++digits > MAX_DIGITS) {
            *why = "too many digits";
            return -1;
        }
        mantissa = mantissa * 10 + (u128)(*p - '0');
    }
    if (!any) {
        *why = "not a number";
        return -1;
    }
    int exp10 = 0, exp2 = 0;
    if ((*p == 'e' || *p == 'E') &&
        (isdigit((unsigned char)p[1]) ||
         ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
        p++;
        bool minus = false;
        if (*p == '+' || *p == '-')
            minus = *p++ == '-';
        int e = 0;
        while (isdigit((unsigned char)*p)) {
            if (e < 1000)
                e = e * 10 + (*p - '0');
            p++;
        }
        exp10 = minus ? -e : e;
    } else {
        static const struct {
            const char *suffix;
            int exp10, exp2;
        } suffixes[] = {{"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
                        {"Ei", 0, 60}, {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},
                        {"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0}};
        if (*p != '\0') {
            bool known = false;
            for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
                if (strcmp(p, suffixes[i].suffix) == 0) {
                    exp10 = suffixes[i].exp10;
                    exp2 = suffixes[i].exp2;
                    p += strlen(p);
                    known = true;
                    break;
                }
            }
            if (!known) {
                *why = "unknown suffix";
                return -1;
            }
        }
    }
    if (*p != '\0') {
        *why = "unknown suffix";
        return -1;
    }
    if (mantissa == 0) {
        *out = 0;
        return 0;
    }
    if (negative) {
        *why = "negative";
        return -1;
    }
    const u128 limit = (u128)INT64_MAX;
    for (int i = 0; i < exp2; i++) {
        if (mantissa >> 126 != 0) {
            *why = "too large";
            return -1;
        }
        mantissa <<= 1;
    }
    int e = exp10 + scale - fraction;
    for (; e > 0; e--) {
        if (mantissa > limit) {
            *why = "too large";
            return -1;
        }
        mantissa *= 10;
    }
    if (e < 0) {
        u128 divisor = 1;
        for (; e < 0 && divisor <= (((u128)1) << 120) / 10; e++)
            divisor *= 10;
        if (e < 0) {
            mantissa = 1; /* far below one unit: rounds up to one */
        } else {
            mantissa = mantissa / divisor + (mantissa % divisor != 0);
        }
    }
    if (mantissa > limit) {
        *why = "too large";
        return -1;
    }
    *out = (int64_t)mantissa;
    return 0;
}

int kube_cpu_quantity(const char *text, int64_t *millicores, const char **why)
{
    const char *ignored;
    return quantity_parse(text, 3, millicores, why ? why : &ignored);
}

int kube_memory_quantity(const char *text, int64_t *bytes, const char **why)
{
    const char *ignored;
    return quantity_parse(text, 0, bytes, why ? why : &ignored);
}

/* ---- component names -------------------------------------------------------------------- */

char *kube_component_name(const struct kubernetes_workload *w, const struct kubernetes_container *c)
{
    return c->alias ? kube_printf("%s", c->alias) : kube_printf("%s/%s", w->name, c->name);
}

char *kube_tuning_component_name(const struct kubernetes_workload *w,
                                 const struct kubernetes_container *c)
{
    return w->strategy.alias ? kube_printf("%s", w->strategy.alias)
                             : kube_printf("%s/%s-tuning", w->name, c->name);
}

char *kube_tuning_pod_name(const struct kubernetes_workload *w)
{
    return kube_printf("%s-tuning", w->name);
}

/* ---- notes ------------------------------------------------------------------------------ */

void kube_note(struct kube_notes *notes, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = servo_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (notes == NULL) {
        free(line);
        return;
    }
    char *joined = notes->text ? kube_printf("%s\n%s", notes->text, line) : line;
    if (joined != line)
        free(line);
    free(notes->text);
    notes->text = joined;
}

void kube_notes_free(struct kube_notes *notes)
{
    free(notes->text);
    notes->text = NULL;
}

/* ---- the pod spec ----------------------------------------------------------------------- */

json_t *kube_find_container(const json_t *pod_spec, const char *name)
{
    const json_t *containers = json_object_get(pod_spec, "containers");
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return c;
    }
    return NULL;
}

char *kube_join_field(const json_t *array, const char *key)
{
    char *out = kube_printf("%s", "");
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
    {
        const char *value = json_string_value(json_object_get(item, key));
        char *next = kube_printf("%s%s%s", out, i ? ", " : "", value ? value : "?");
        free(out);
        out = next;
    }
    return out;
}

char *kube_container_names(const json_t *pod_spec)
{
    return kube_join_field(json_object_get(pod_spec, "containers"), "name");
}

static const char *requirement_key(int requirement)
{
    return requirement == KUBERNETES_LIMIT ? "limits" : "requests";
}

/* The text of resources.<requests|limits>.<resource>, or NULL. */
static const char *requirement_text(const json_t *container, int requirement, const char *resource)
{
    const json_t *resources = json_object_get(container, "resources");
    return json_string_value(
        json_object_get(json_object_get(resources, requirement_key(requirement)), resource));
}

/* cpu or memory: the value of the first requirement of `get` that is present. */
static bool read_resource(const json_t *container, const struct kubernetes_resource *r,
                          const char *resource, const char *component, struct kube_notes *notes,
                          int64_t *value)
{
    const int *get = r->get.items;
    for (size_t i = 0; i < r->get.count; i++) {
        const char *text = requirement_text(container, get[i], resource);
        if (text == NULL)
            continue;
        const char *why = NULL;
        int rc = strcmp(resource, "cpu") == 0 ? kube_cpu_quantity(text, value, &why)
                                              : kube_memory_quantity(text, value, &why);
        if (rc == 0)
            return true;
        kube_note(notes, "%s: the %s %s \"%s\" cannot be read (%s)", component, resource,
                  get[i] == KUBERNETES_LIMIT ? "limit" : "request", text, why);
        return false;
    }
    if (container != NULL)
        kube_note(notes, "%s: the container has no %s %s", component, resource,
                  r->get.count == 1 && get[0] == KUBERNETES_LIMIT     ? "limit"
                  : r->get.count == 1 && get[0] == KUBERNETES_REQUEST ? "request"
                                                                      : "request or limit");
    return false;
}

/* The env entry of `variable` in a container (borrowed), or NULL. */
static json_t *find_env(const json_t *container, const char *variable)
{
    const json_t *env = json_object_get(container, "env");
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, variable) == 0)
            return e;
    }
    return NULL;
}

static const char *env_variable(const struct kubernetes_env *e)
{
    return e->literal ? e->literal : e->name;
}

static void describe_env(const json_t *container, const struct kubernetes_env *e, bool pinned,
                         const char *component, struct servo_component *out,
                         struct kube_notes *notes)
{
    struct servo_setting *s;
    if (e->type == KUBERNETES_ENV_ENUM) {
        const char **values = servo_xcalloc(e->values.count + 1, sizeof *values);
        memcpy(values, e->values.items, e->values.count * sizeof *values);
        s = servo_component_enum(out, e->name, NULL, values);
        free(values);
    } else {
        s = servo_component_range(out, e->name, NULL, e->min, e->max, e->step);
        s->integer = e->value_type == KUBERNETES_VALUE_INT;
    }
    s->pinned = pinned || e->pinned;
    if (e->literal != NULL) {
        free(s->literal);
        s->literal = servo_xstrdup(e->literal);
    }
    const char *text = e->default_value;
    const json_t *entry = container ? find_env(container, env_variable(e)) : NULL;
    if (entry != NULL) {
        const json_t *value = json_object_get(entry, "value");
        if (json_is_string(value)) {
            text = json_string_value(value);
        } else if (json_object_get(entry, "valueFrom") != NULL) {
            kube_note(notes, "%s: %s comes from valueFrom and cannot be read", component,
                      env_variable(e));
            text = NULL;
        } else {
            text = ""; /* set without a value: the empty string */
        }
    }
    if (text == NULL)
        return;
    if (e->type == KUBERNETES_ENV_ENUM) {
        servo_setting_set_text(s, text);
        return;
    }
    char *end = NULL;
    double d = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(d)) {
        kube_note(notes, "%s: %s=\"%s\" is not a number", component, env_variable(e), text);
        return;
    }
    servo_setting_set_value(s, d);
}

void kube_describe_container(const json_t *container, const struct kubernetes_container *cfg,
                             bool pinned, struct servo_component *component,
                             struct kube_notes *notes)
{
    int64_t value;
    if (cfg->cpu != NULL) {
        const struct kubernetes_resource *r = cfg->cpu;
        struct servo_setting *s =
            servo_component_range(component, "cpu", "cores", servo_cpu_cores(r->min),
                                  servo_cpu_cores(r->max), servo_cpu_cores(r->step));
        s->pinned = pinned || r->pinned;
        if (read_resource(container, r, "cpu", component->name, notes, &value))
            servo_setting_set_value(s, servo_cpu_cores(value));
    }
    if (cfg->memory != NULL) {
        const struct kubernetes_resource *r = cfg->memory;
        struct servo_setting *s =
            servo_component_range(component, "mem", "GiB", servo_memory_gib(r->min),
                                  servo_memory_gib(r->max), servo_memory_gib(r->step));
        s->pinned = pinned || r->pinned;
        if (read_resource(container, r, "memory", component->name, notes, &value))
            servo_setting_set_value(s, servo_memory_gib(value));
    }
    const struct kubernetes_env *env = cfg->env.items;
    for (size_t i = 0; i < cfg->env.count; i++)
        describe_env(container, &env[i], pinned, component->name, component, notes);
    if (cfg->encoders.jvm != NULL)
        kube_jvm_describe(cfg->encoders.jvm, container, pinned, component, notes);
}

/* ---- writing adjustments ---------------------------------------------------------------- */

static json_t *object_member(json_t *parent, const char *key)
{
    json_t *child = json_object_get(parent, key);
    if (!json_is_object(child)) {
        child = json_object();
        json_object_set_new(parent, key, child);
    }
    return child;
}

static void write_requirement(json_t *container, int requirement, const char *resource,
                              const char *text)
{
    json_t *resources = object_member(container, "resources");
    json_t *map = object_member(resources, requirement_key(requirement));
    json_object_set_new(map, resource, json_string(text));
}

static bool in_list(const struct servo_list *list, int requirement)
{
    const int *items = list->items;
    for (size_t i = 0; i < list->count; i++)
        if (items[i] == requirement)
            return true;
    return false;
}

/* Writes `text` into the requirements of `set`, and an explicit request or limit into the
 * requirement `set` leaves out. */
static void write_resource(json_t *container, const struct kubernetes_resource *r,
                           const char *resource, const char *text,
                           size_t (*format)(int64_t, char *))
{
    for (int req = KUBERNETES_REQUEST; req <= KUBERNETES_LIMIT; req++) {
        if (in_list(&r->set, req)) {
            write_requirement(container, req, resource, text);
            continue;
        }
        int64_t fixed = req == KUBERNETES_REQUEST ? r->request : r->limit;
        if (fixed != SERVO_UNSET) {
            char buf[SERVO_VALUE_TEXT_MAX];
            format(fixed, buf);
            write_requirement(container, req, resource, buf);
        }
    }
}

static size_t format_cpu(int64_t value, char *buf)
{
    return servo_cpu_format(value, buf);
}

static size_t format_memory(int64_t value, char *buf)
{
    return servo_memory_format_quantity(value, buf);
}

/* The adjustment's number (text that is a number counts). */
static int adjustment_number(const struct servo_adjustment *a, double *out, char **error)
{
    if (!a->is_text) {
        *out = a->value;
        return 0;
    }
    char *end = NULL;
    double d = strtod(a->text, &end);
    if (end == a->text || *end != '\0' || !isfinite(d)) {
        *error =
            kube_printf("%s.%s: expected a number, got \"%s\"", a->component, a->setting, a->text);
        return -1;
    }
    *out = d;
    return 0;
}

void kube_set_env(json_t *container, const char *variable, const char *value)
{
    json_t *entry = find_env(container, variable);
    if (entry == NULL) {
        json_t *env = json_object_get(container, "env");
        if (!json_is_array(env)) {
            env = json_array();
            json_object_set_new(container, "env", env);
        }
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", variable, "value", value));
        return;
    }
    json_object_del(entry, "valueFrom");
    json_object_set_new(entry, "value", json_string(value));
}

static int apply_env(json_t *container, const struct kubernetes_env *e,
                     const struct servo_adjustment *a, char **error)
{
    char buf[64];
    const char *text;
    if (e->type == KUBERNETES_ENV_ENUM) {
        if (a->is_text) {
            text = a->text;
        } else {
            snprintf(buf, sizeof buf, "%.15g", a->value);
            text = buf;
        }
        char *const *values = e->values.items;
        bool known = false;
        for (size_t i = 0; i < e->values.count && !known; i++)
            known = strcmp(values[i], text) == 0;
        if (!known) {
            *error = kube_printf("%s.%s: \"%s\" is not one of the values", a->component, a->setting,
                                 text);
            return -1;
        }
    } else {
        double d;
        if (adjustment_number(a, &d, error) != 0)
            return -1;
        if (e->value_type == KUBERNETES_VALUE_INT) {
            if (d != floor(d) || fabs(d) > 9e15) {
                *error = kube_printf("%s.%s: %g is not an integer", a->component, a->setting, d);
                return -1;
            }
            snprintf(buf, sizeof buf, "%lld", (long long)d);
        } else {
            snprintf(buf, sizeof buf, "%.15g", d);
        }
        text = buf;
    }
    kube_set_env(container, env_variable(e), text);
    return 0;
}

int kube_apply_adjustment(json_t *container, const struct kubernetes_container *cfg,
                          const struct servo_adjustment *a, char **error)
{
    const char *why = NULL;
    char buf[SERVO_VALUE_TEXT_MAX];
    if (strcmp(a->setting, "replicas") == 0)
        return 1;
    if (strcmp(a->setting, "cpu") == 0 && cfg->cpu != NULL) {
        double cores;
        int64_t millicores;
        if (adjustment_number(a, &cores, error) != 0)
            return -1;
        if (servo_cpu_from_cores(cores, &millicores, &why) != 0 || millicores <= 0) {
            *error = kube_printf("%s.cpu: %g cores is not a valid CPU value (%s)", a->component,
                                 cores, why ? why : "must be greater than zero");
            return -1;
        }
        format_cpu(millicores, buf);
        write_resource(container, cfg->cpu, "cpu", buf, format_cpu);
        return 0;
    }
    if (strcmp(a->setting, "mem") == 0 && cfg->memory != NULL) {
        double gib;
        int64_t bytes;
        if (adjustment_number(a, &gib, error) != 0)
            return -1;
        if (servo_memory_from_gib(gib, &bytes, &why) != 0 || bytes <= 0) {
            *error = kube_printf("%s.mem: %g GiB is not a valid memory value (%s)", a->component,
                                 gib, why ? why : "must be greater than zero");
            return -1;
        }
        format_memory(bytes, buf);
        write_resource(container, cfg->memory, "memory", buf, format_memory);
        return 0;
    }
    const struct kubernetes_env *env = cfg->env.items;
    for (size_t i = 0; i < cfg->env.count; i++)
        if (strcmp(env[i].name, a->setting) == 0)
            return apply_env(container, &env[i], a, error);
    const struct kubernetes_jvm *jvm = cfg->encoders.jvm;
    if (jvm != NULL && kube_jvm_owns(jvm, a->setting)) {
        struct kube_words words;
        if (kube_jvm_read_words(jvm, container, &words, error) != 0)
            return -1;
        double number = 0;
        const char *text = a->is_text ? a->text : NULL;
        if (!a->is_text)
            number = a->value;
        if (strcmp(a->setting, "heap_size") == 0) {
            double gib;
            int64_t bytes;
            if (adjustment_number(a, &gib, error) != 0) {
                kube_words_free(&words);
                return -1;
            }
            if (servo_memory_from_gib(gib, &bytes, &why) != 0 || bytes <= 0) {
                *error = kube_printf("%s.heap_size: %g GiB is not a valid heap size (%s)",
                                     a->component, gib, why ? why : "must be greater than zero");
                kube_words_free(&words);
                return -1;
            }
            number = (double)bytes;
            text = NULL;
        }
        int rc = kube_jvm_encode(jvm, &words, a->setting, number, text, error);
        if (rc == 0)
            kube_jvm_write_words(jvm, container, &words);
        kube_words_free(&words);
        return rc;
    }
    *error = kube_printf("%s: no setting \"%s\"", a->component, a->setting);
    return -1;
}

void kube_apply_static_env(json_t *container, const struct kubernetes_container *cfg)
{
    const struct servo_map *m = &cfg->static_environment_variables;
    char *const *values = m->values;
    for (size_t i = 0; i < m->count; i++)
        kube_set_env(container, m->keys[i], values[i] ? values[i] : "");
}

/* ---- patch bodies ----------------------------------------------------------------------- */

json_t *kube_container_patch(const json_t *before, const json_t *after)
{
    json_t *entry = json_object();
    json_object_set(entry, "name", json_object_get(after, "name"));
    const json_t *resources = json_object_get(after, "resources");
    if (resources != NULL && !json_equal(resources, json_object_get(before, "resources")))
        json_object_set_new(entry, "resources", json_deep_copy(resources));
    const json_t *env = json_object_get(after, "env");
    json_t *changed = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const json_t *old = name ? find_env(before, name) : NULL;
        if (old != NULL && json_equal(old, e))
            continue;
        json_t *copy = json_deep_copy(e);
        if (old != NULL && json_object_get(old, "valueFrom") != NULL &&
            json_object_get(e, "valueFrom") == NULL)
            json_object_set_new(copy, "valueFrom", json_null());
        if (old != NULL && json_object_get(old, "value") != NULL &&
            json_object_get(e, "value") == NULL)
            json_object_set_new(copy, "value", json_null());
        json_array_append_new(changed, copy);
    }
    if (json_array_size(changed) > 0)
        json_object_set_new(entry, "env", changed);
    else
        json_decref(changed);
    const json_t *args = json_object_get(after, "args");
    if (args != NULL && !json_equal(args, json_object_get(before, "args")))
        json_object_set_new(entry, "args", json_deep_copy(args));
    if (json_object_size(entry) == 1) {
        json_decref(entry);
        return NULL;
    }
    return entry;
}

json_t *kube_workload_patch(const char *resource_version, int64_t replicas, json_t *containers)
{
    json_t *spec = json_object();
    if (replicas >= 0)
        json_object_set_new(spec, "replicas", json_integer(replicas));
    if (containers != NULL && json_array_size(containers) > 0)
        json_object_set_new(spec, "template",
                            json_pack("{s:{s:o}}", "spec", "containers", containers));
    else
        json_decref(containers);
    json_t *patch = json_object();
    if (resource_version != NULL)
        json_object_set_new(patch, "metadata",
                            json_pack("{s:s}", "resourceVersion", resource_version));
    json_object_set_new(patch, "spec", spec);
    return patch;
}

/* ---- label selectors -------------------------------------------------------------------- */

char *kube_label_selector(const json_t *selector, char **error)
{
    char *out = kube_printf("%s", "");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)json_object_get(selector, "matchLabels"), key, value)
    {
        char *next = kube_printf("%s%s%s=%s", out, out[0] ? "," : "", key,
                                 json_string_value(value) ? json_string_value(value) : "");
        free(out);
        out = next;
    }
    size_t i;
    json_t *expression;
    json_array_foreach(json_object_get(selector, "matchExpressions"), i, expression)
    {
        const char *k = json_string_value(json_object_get(expression, "key"));
        const char *op = json_string_value(json_object_get(expression, "operator"));
        if (k == NULL || op == NULL) {
            free(out);
            *error = kube_printf("a selector expression without key or operator");
            return NULL;
        }
        char *values = kube_printf("%s", "");
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(expression, "values"), j, v)
        {
            char *next = kube_printf("%s%s%s", values, j ? "," : "",
                                     json_string_value(v) ? json_string_value(v) : "");
            free(values);
            values = next;
        }
        char *term;
        if (strcmp(op, "In") == 0)
            term = kube_printf("%s in (%s)", k, values);
        else if (strcmp(op, "NotIn") == 0)
            term = kube_printf("%s notin (%s)", k, values);
        else if (strcmp(op, "Exists") == 0)
            term = kube_printf("%s", k);
        else if (strcmp(op, "DoesNotExist") == 0)
            term = kube_printf("!%s", k);
        else
            term = NULL;
        free(values);
        if (term == NULL) {
            *error = kube_printf("unknown selector operator \"%s\"", op);
            free(out);
            return NULL;
        }
        char *next = kube_printf("%s%s%s", out, out[0] ? "," : "", term);
        free(term);
        free(out);
        out = next;
    }
    if (out[0] == '\0') {
        free(out);
        *error = kube_printf("the selector is empty");
        return NULL;
    }
    return out;
}
