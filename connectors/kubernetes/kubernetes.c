/* The kubernetes connector's settings: workloads (Deployments, StatefulSets), their containers
 * and the ranges the optimizer may explore, and the plugin. namespace, timeout, settlement
 * and on_failure cascade from the top level to every workload that does not set them; the
 * settings stay as written (immutable once validated): kube_targets (handlers.c) computes
 * the effective values into the connector's state. The behaviour is in the files internal.h
 * lists. */
#include "kubernetes.h"

#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_NS 1e6

/* A DNS-1123 label (namespaces), and a DNS-1123 subdomain (workload names). */
#define DNS1123_LABEL "^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#define DNS1123_SUBDOMAIN \
    "^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
/* Container names and aliases, as ServoX accepts them (at most 128 characters). */
#define CONTAINER_NAME "^[0-9a-zA-Z]([0-9a-zA-Z._/:-]{0,126}[0-9a-zA-Z])?$"

static const char *const failure_choices[] = {"exception", "shutdown", "ignore", "rollback", NULL};
static const char *const strategy_choices[] = {"default", "canary", NULL};
static const char *const requirement_choices[] = {"request", "limit", NULL};
static const char *const env_type_choices[] = {"range", "enum", NULL};
static const char *const value_type_choices[] = {"int", "float", NULL};
static const char *const target_choices[] = {"env", "args", NULL};
static const char *const option_type_choices[] = {"range", "enum", "bool", NULL};
const char *const kubernetes_gc_choices[] = {"G1",         "Parallel",      "Serial", "Z",
                                             "Shenandoah", "ConcMarkSweep", NULL};

/* ---- validators ------------------------------------------------------------------------- */

typedef size_t (*quantity_format)(int64_t value, char buf[SERVO_VALUE_TEXT_MAX]);

static size_t format_count(int64_t value, char buf[SERVO_VALUE_TEXT_MAX])
{
    return (size_t)snprintf(buf, SERVO_VALUE_TEXT_MAX, "%lld", (long long)value);
}

/* min <= max, and a positive step unless the range is a single value. */
static int check_range(struct servo_validation *v, int64_t min, int64_t max, int64_t step,
                       quantity_format format)
{
    char low[SERVO_VALUE_TEXT_MAX];
    char high[SERVO_VALUE_TEXT_MAX];
    if (min > max) {
        format(min, low);
        format(max, high);
        return servo_validation_error(v, "min", "min (%s) must not be greater than max (%s)", low,
                                      high);
    }
    if (step <= 0 && min != max)
        return servo_validation_error(v, "step",
                                      "step must be greater than zero when min and max differ");
    return 0;
}

static int validate_cpu(const void *value, struct servo_validation *v)
{
    const struct kubernetes_resource *r = value;
    return check_range(v, r->min, r->max, r->step, servo_cpu_format);
}

static int validate_memory(const void *value, struct servo_validation *v)
{
    const struct kubernetes_resource *r = value;
    return check_range(v, r->min, r->max, r->step, servo_memory_format);
}

static int validate_replicas(const void *value, struct servo_validation *v)
{
    const struct kubernetes_replicas *r = value;
    return check_range(v, r->min, r->max, r->step, format_count);
}

static bool is_integral(double x)
{
    return isnan(x) || x == floor(x);
}

/* The shared rules of a numeric range (env settings and JVM options): ordered bounds, a
 * positive step unless min == max, whole numbers for int values, a numeric default. */
static int validate_range_values(struct servo_validation *v, double min, double max, double step,
                                 int value_type, const char *default_value)
{
    if (min > max)
        return servo_validation_error(v, "min", "min (%g) must not be greater than max (%g)", min,
                                      max);
    if (step <= 0 && min != max)
        return servo_validation_error(v, "step",
                                      "step must be greater than zero when min and max differ");
    if (value_type == KUBERNETES_VALUE_INT &&
        (!is_integral(min) || !is_integral(max) || !is_integral(step)))
        return servo_validation_error(v, NULL,
                                      "min, max and step must be integers when value_type is int");
    if (default_value != NULL) {
        char *end = NULL;
        double d = strtod(default_value, &end);
        if (end == default_value || *end != '\0' || isnan(d))
            return servo_validation_error(v, "default", "default \"%s\" is not a number",
                                          default_value);
    }
    return 0;
}

static int validate_env(const void *value, struct servo_validation *v)
{
    const struct kubernetes_env *e = value;
    if (e->type == KUBERNETES_ENV_ENUM) {
        if (!isnan(e->min) || !isnan(e->max) || !isnan(e->step))
            return servo_validation_error(v,
                                          !isnan(e->min)   ? "min"
                                          : !isnan(e->max) ? "max"
                                                           : "step",
                                          "min, max and step apply to range settings only");
        if (e->values.count == 0)
            return servo_validation_error(v, "values", "an enum setting needs values");
        if (e->default_value != NULL) {
            char *const *values = e->values.items;
            for (size_t i = 0; i < e->values.count; i++)
                if (strcmp(values[i], e->default_value) == 0)
                    return 0;
            return servo_validation_error(v, "default", "default \"%s\" is not one of the values",
                                          e->default_value);
        }
        return 0;
    }
    if (e->values.count > 0)
        return servo_validation_error(v, "values", "values apply to enum settings only");
    if (isnan(e->min))
        return servo_validation_error(v, NULL, "a range setting needs min");
    if (isnan(e->max))
        return servo_validation_error(v, NULL, "a range setting needs max");
    if (isnan(e->step))
        return servo_validation_error(v, NULL, "a range setting needs step");
    return validate_range_values(v, e->min, e->max, e->step, e->value_type, e->default_value);
}

static int validate_option(const void *value, struct servo_validation *v)
{
    const struct kubernetes_jvm_option *o = value;
    bool range_fields = !isnan(o->min) || !isnan(o->max) || !isnan(o->step);
    const char *range_field = !isnan(o->min) ? "min" : !isnan(o->max) ? "max" : "step";
    if (o->type != KUBERNETES_OPTION_RANGE && range_fields)
        return servo_validation_error(v, range_field,
                                      "min, max and step apply to range options only");
    if (o->type != KUBERNETES_OPTION_ENUM && o->values.count > 0)
        return servo_validation_error(v, "values", "values apply to enum options only");
    if (o->type == KUBERNETES_OPTION_BOOL) {
        if (o->default_value != NULL && strcmp(o->default_value, "true") != 0 &&
            strcmp(o->default_value, "false") != 0)
            return servo_validation_error(v, "default", "a bool option's default is true or false");
        return 0;
    }
    if (o->type == KUBERNETES_OPTION_ENUM) {
        if (o->values.count == 0)
            return servo_validation_error(v, "values", "an enum option needs values");
        if (o->default_value != NULL) {
            char *const *values = o->values.items;
            for (size_t i = 0; i < o->values.count; i++)
                if (strcmp(values[i], o->default_value) == 0)
                    return 0;
            return servo_validation_error(v, "default", "default \"%s\" is not one of the values",
                                          o->default_value);
        }
        return 0;
    }
    if (isnan(o->min) || isnan(o->max) || isnan(o->step))
        return servo_validation_error(v, NULL, "a range option needs min, max and step");
    return validate_range_values(v, o->min, o->max, o->step, o->value_type, o->default_value);
}

static int validate_heap(const void *value, struct servo_validation *v)
{
    const struct kubernetes_jvm_heap *h = value;
    if (h->min <= 0)
        return servo_validation_error(v, "min", "the heap size must be greater than zero");
    return check_range(v, h->min, h->max, h->step, servo_memory_format);
}

static int validate_gc(const void *value, struct servo_validation *v)
{
    const struct kubernetes_jvm_gc *g = value;
    if (g->default_value < 0)
        return 0;
    const int *values = g->values.items;
    for (size_t i = 0; i < g->values.count; i++)
        if (values[i] == g->default_value)
            return 0;
    return servo_validation_error(v, "default", "default \"%s\" is not one of the values",
                                  kubernetes_gc_choices[g->default_value]);
}

static int validate_jvm(const void *value, struct servo_validation *v)
{
    const struct kubernetes_jvm *j = value;
    if (j->target == KUBERNETES_TARGET_ARGS && j->env != NULL)
        return servo_validation_error(v, "env", "env applies to target env only");
    const struct kubernetes_jvm_settings *s = &j->settings;
    if (s->heap_size == NULL && s->gc == NULL && s->options.count == 0)
        return servo_validation_error(v, "settings", "the jvm encoder needs at least one setting");
    return 0;
}

/* The names of a container's settings must differ: cpu, mem, replicas, the env settings and
 * the encoder's settings share the component. */
static int validate_container(const void *value, struct servo_validation *v)
{
    const struct kubernetes_container *c = value;
    const char *names[256];
    size_t count = 0;
    names[count++] = "cpu";
    names[count++] = "mem";
    names[count++] = "replicas";
    const struct kubernetes_env *env = c->env.items;
    for (size_t i = 0; i < c->env.count && count < 256; i++)
        names[count++] = env[i].name;
    const struct kubernetes_jvm *jvm = c->encoders.jvm;
    if (jvm != NULL) {
        const char *variable = jvm->env ? jvm->env : "JAVA_OPTS";
        for (size_t i = 0; jvm->target == KUBERNETES_TARGET_ENV && i < c->env.count; i++)
            if (strcmp(env[i].literal ? env[i].literal : env[i].name, variable) == 0)
                return servo_validation_error(v, "env",
                                              "the variable %s is the jvm encoder's; it cannot "
                                              "also be an env setting",
                                              variable);
        if (jvm->settings.heap_size && count < 256)
            names[count++] = "heap_size";
        if (jvm->settings.gc && count < 256)
            names[count++] = "gc";
        const struct kubernetes_jvm_option *o = jvm->settings.options.items;
        for (size_t i = 0; i < jvm->settings.options.count && count < 256; i++)
            names[count++] = o[i].name;
    }
    for (size_t i = 3; i < count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return servo_validation_error(v, NULL,
                                              "the setting name \"%s\" is used twice in "
                                              "container \"%s\"%s",
                                              names[i], c->name,
                                              j < 3 ? " (it is a built-in setting)" : "");
    return 0;
}

static int validate_strategy(const void *value, struct servo_validation *v)
{
    const struct kubernetes_strategy *s = value;
    if (s->alias != NULL && s->type != KUBERNETES_STRATEGY_CANARY)
        return servo_validation_error(v, "alias", "alias applies to the canary strategy only");
    return 0;
}

/* Workloads without a tuning pod: `kinds` names them in the message. */
static int refuse_canary(const void *value, struct servo_validation *v, const char *kinds)
{
    const struct kubernetes_workload *w = value;
    if (w->strategy.type == KUBERNETES_STRATEGY_CANARY)
        return servo_validation_error(v, "strategy", "the canary strategy is not supported for %s",
                                      kinds);
    return 0;
}

static int validate_stateful_set(const void *value, struct servo_validation *v)
{
    return refuse_canary(value, v, "stateful sets");
}

/* One component name and where it came from, for duplicate checks. */
struct component_name {
    char *name;
    const char *kind; /* "deployments", "stateful_sets" or "rollouts" */
    size_t workload;
    size_t container;
};

struct names {
    struct component_name *items;
    size_t count;
};

static void names_add(struct names *names, char *name, const char *kind, size_t workload,
                      size_t container)
{
    struct component_name *items =
        servo_xrealloc(names->items, (names->count + 1) * sizeof *names->items);
    names->items = items;
    names->items[names->count++] = (struct component_name){name, kind, workload, container};
}

static void names_free(struct names *names)
{
    for (size_t i = 0; i < names->count; i++)
        free(names->items[i].name);
    free(names->items);
}

/* Reports the first name given twice; `what` is "container alias" or "component name". */
static int check_unique(struct servo_validation *v, const struct names *names, const char *what)
{
    for (size_t i = 1; i < names->count; i++) {
        for (size_t j = 0; j < i; j++) {
            const struct component_name *a = &names->items[j];
            const struct component_name *b = &names->items[i];
            if (strcmp(a->name, b->name) != 0)
                continue;
            return servo_validation_error(v, NULL,
                                          "duplicate %s \"%s\" (%s[%zu].containers[%zu] and "
                                          "%s[%zu].containers[%zu])",
                                          what, a->name, a->kind, a->workload, a->container,
                                          b->kind, b->workload, b->container);
        }
    }
    return 0;
}

static void collect_names(const struct servo_list *workloads, const char *kind,
                          struct names *aliases, struct names *components)
{
    const struct kubernetes_workload *w = workloads->items;
    for (size_t i = 0; i < workloads->count; i++) {
        const struct kubernetes_container *c = w[i].containers.items;
        for (size_t j = 0; j < w[i].containers.count; j++) {
            if (c[j].alias != NULL)
                names_add(aliases, servo_xstrdup(c[j].alias), kind, i, j);
            names_add(components,
                      c[j].alias ? servo_xstrdup(c[j].alias)
                                 : servo_strdup_printf("%s/%s", w[i].name, c[j].name),
                      kind, i, j);
            if (w[i].strategy.type == KUBERNETES_STRATEGY_CANARY)
                names_add(components,
                          w[i].strategy.alias
                              ? servo_xstrdup(w[i].strategy.alias)
                              : servo_strdup_printf("%s/%s-tuning", w[i].name, c[j].name),
                          kind, i, j);
        }
    }
}

static int validate_settings(const void *settings, struct servo_validation *v)
{
    const struct kubernetes_settings *s = settings;
    if (s->deployments.count == 0 && s->stateful_sets.count == 0 && s->rollouts.count == 0)
        return servo_validation_error(v, NULL, "No optimization target(s) were specified");
    struct names aliases = {0};
    struct names components = {0};
    collect_names(&s->deployments, "deployments", &aliases, &components);
    collect_names(&s->stateful_sets, "stateful_sets", &aliases, &components);
    collect_names(&s->rollouts, "rollouts", &aliases, &components);
    int rc = check_unique(v, &aliases, "container alias");
    if (rc == 0)
        rc = check_unique(v, &components, "component name");
    names_free(&aliases);
    names_free(&components);
    return rc;
}

/* ---- the tables ------------------------------------------------------------------------- */

static const struct servo_field requirement_item = {.type = SERVO_FIELD_ENUM,
                                                    .choices = requirement_choices};
static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};
static const struct servo_field nonempty_string_item = {.type = SERVO_FIELD_STRING,
                                                        .flags = SERVO_F_NONEMPTY};

static const struct servo_field cpu_fields[] = {
    {.name = "min",
     .type = SERVO_FIELD_CPU,
     .offset = offsetof(struct kubernetes_resource, min),
     .flags = SERVO_F_REQUIRED | SERVO_F_MIN,
     .min = 1,
     .description = "The smallest CPU to try, in cores (\"250m\", \"0.25\", \"2\")."},
    {.name = "max",
     .type = SERVO_FIELD_CPU,
     .offset = offsetof(struct kubernetes_resource, max),
     .flags = SERVO_F_REQUIRED,
     .description = "The largest CPU to try, in cores."},
    {.name = "step",
     .type = SERVO_FIELD_CPU,
     .offset = offsetof(struct kubernetes_resource, step),
     .def = "125m",
     .description = "The granularity of CPU values."},
    {.name = "request",
     .type = SERVO_FIELD_CPU,
     .offset = offsetof(struct kubernetes_resource, request),
     .description = "An explicit CPU request for the container; optional."},
    {.name = "limit",
     .type = SERVO_FIELD_CPU,
     .offset = offsetof(struct kubernetes_resource, limit),
     .description = "An explicit CPU limit for the container; optional."},
    {.name = "get",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_resource, get),
     .flags = SERVO_F_NONEMPTY,
     .def = "[request, limit]",
     .item = &requirement_item,
     .description = "The requirements the current value is read from; the first one present "
                    "wins."},
    {.name = "set",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_resource, set),
     .flags = SERVO_F_NONEMPTY,
     .def = "[request, limit]",
     .item = &requirement_item,
     .description = "The requirements an adjustment writes."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_resource, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    SERVO_FIELDS_END,
};

static const struct servo_field memory_fields[] = {
    {.name = "min",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_resource, min),
     .flags = SERVO_F_REQUIRED,
     .description = "The smallest memory to try (\"256Mi\", \"1Gi\"; a bare number is GiB)."},
    {.name = "max",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_resource, max),
     .flags = SERVO_F_REQUIRED,
     .description = "The largest memory to try."},
    {.name = "step",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_resource, step),
     .def = "128Mi",
     .description = "The granularity of memory values."},
    {.name = "request",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_resource, request),
     .description = "An explicit memory request for the container; optional."},
    {.name = "limit",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_resource, limit),
     .description = "An explicit memory limit for the container; optional."},
    {.name = "get",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_resource, get),
     .flags = SERVO_F_NONEMPTY,
     .def = "[request, limit]",
     .item = &requirement_item,
     .description = "The requirements the current value is read from; the first one present "
                    "wins."},
    {.name = "set",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_resource, set),
     .flags = SERVO_F_NONEMPTY,
     .def = "[request, limit]",
     .item = &requirement_item,
     .description = "The requirements an adjustment writes."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_resource, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    SERVO_FIELDS_END,
};

const struct servo_schema kubernetes_cpu_schema = {
    .title = "CPU",
    .description = "The CPU range of a container (setting \"cpu\", unit cores).",
    .size = sizeof(struct kubernetes_resource),
    .fields = cpu_fields,
    .validate = validate_cpu,
};

const struct servo_schema kubernetes_memory_schema = {
    .title = "Memory",
    .description = "The memory range of a container (setting \"mem\", unit GiB).",
    .size = sizeof(struct kubernetes_resource),
    .fields = memory_fields,
    .validate = validate_memory,
};

static const struct servo_field env_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_env, name),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "The setting's name (and the variable's, unless literal is given)."},
    {.name = "type",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_env, type),
     .flags = SERVO_F_REQUIRED,
     .choices = env_type_choices,
     .description = "range (numeric min, max and step) or enum (a list of values)."},
    {.name = "literal",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_env, literal),
     .flags = SERVO_F_NONEMPTY,
     .pattern = "^[A-Za-z_][A-Za-z0-9_.-]*$",
     .description = "The environment variable's real name, when it differs from name."},
    {.name = "min",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct kubernetes_env, min),
     .description = "range: the smallest value."},
    {.name = "max",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct kubernetes_env, max),
     .description = "range: the largest value."},
    {.name = "step",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct kubernetes_env, step),
     .description = "range: the granularity of values."},
    {.name = "value_type",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_env, value_type),
     .def = "float",
     .choices = value_type_choices,
     .description = "range: whether values are written as integers or floats."},
    {.name = "values",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_env, values),
     .item = &string_item,
     .description = "enum: the allowed values."},
    {.name = "default",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_env, default_value),
     .description = "The value to use when the variable is not set on the container."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_env, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    SERVO_FIELDS_END,
};

const struct servo_schema kubernetes_env_schema = {
    .title = "EnvironmentSetting",
    .description = "An environment variable of the container the optimizer may set.",
    .size = sizeof(struct kubernetes_env),
    .fields = env_fields,
    .validate = validate_env,
};

static const struct servo_field env_item = {.type = SERVO_FIELD_OBJECT,
                                            .object = &kubernetes_env_schema};

static const struct servo_field gc_item = {.type = SERVO_FIELD_ENUM,
                                           .choices = kubernetes_gc_choices};

static const struct servo_field heap_fields[] = {
    {.name = "min",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_jvm_heap, min),
     .flags = SERVO_F_REQUIRED,
     .description = "The smallest maximum heap to try (\"256Mi\"; a bare number is GiB)."},
    {.name = "max",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_jvm_heap, max),
     .flags = SERVO_F_REQUIRED,
     .description = "The largest maximum heap to try."},
    {.name = "step",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_jvm_heap, step),
     .def = "128Mi",
     .description = "The granularity of heap sizes."},
    {.name = "default",
     .type = SERVO_FIELD_MEMORY,
     .offset = offsetof(struct kubernetes_jvm_heap, default_value),
     .description = "The heap size the JVM uses when no -Xmx is given (reported as the "
                    "current value then)."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_jvm_heap, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    SERVO_FIELDS_END,
};

static const struct servo_schema heap_schema = {
    .title = "JVMHeapSize",
    .description = "The maximum heap size, -Xmx (setting \"heap_size\", unit GiB).",
    .size = sizeof(struct kubernetes_jvm_heap),
    .fields = heap_fields,
    .validate = validate_heap,
};

static const struct servo_field gc_fields[] = {
    {.name = "values",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_jvm_gc, values),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .item = &gc_item,
     .description = "The collectors to try: G1 is -XX:+UseG1GC, Parallel -XX:+UseParallelGC, "
                    "Serial, Z, Shenandoah, ConcMarkSweep likewise."},
    {.name = "default",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_jvm_gc, default_value),
     .choices = kubernetes_gc_choices,
     .description = "The collector the JVM picks when none is selected (reported as the "
                    "current value then)."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_jvm_gc, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    SERVO_FIELDS_END,
};

static const struct servo_schema gc_schema = {
    .title = "JVMGarbageCollector",
    .description = "The garbage collector (setting \"gc\", an enum).",
    .size = sizeof(struct kubernetes_jvm_gc),
    .fields = gc_fields,
    .validate = validate_gc,
};

static const struct servo_field option_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_jvm_option, name),
     .flags = SERVO_F_REQUIRED,
     .pattern = "^[A-Za-z][A-Za-z0-9_]{0,127}$",
     .description = "The -XX option (\"MaxGCPauseMillis\"), also the setting's name."},
    {.name = "type",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_jvm_option, type),
     .flags = SERVO_F_REQUIRED,
     .choices = option_type_choices,
     .description = "range (-XX:Name=<number>), enum (-XX:Name=<value>) or bool "
                    "(-XX:+Name / -XX:-Name)."},
    {.name = "min",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct kubernetes_jvm_option, min),
     .description = "range: the smallest value."},
    {.name = "max",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct kubernetes_jvm_option, max),
     .description = "range: the largest value."},
    {.name = "step",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct kubernetes_jvm_option, step),
     .description = "range: the granularity of values."},
    {.name = "value_type",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_jvm_option, value_type),
     .def = "int",
     .choices = value_type_choices,
     .description = "range: whether values are written as integers or floats."},
    {.name = "values",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_jvm_option, values),
     .item = &nonempty_string_item,
     .description = "enum: the allowed values."},
    {.name = "default",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_jvm_option, default_value),
     .description = "The value the JVM uses when the option is absent (reported as the "
                    "current value then)."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_jvm_option, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the value as it is."},
    SERVO_FIELDS_END,
};

static const struct servo_schema option_schema = {
    .title = "JVMOption",
    .description = "A -XX option of the JVM the optimizer may set.",
    .size = sizeof(struct kubernetes_jvm_option),
    .fields = option_fields,
    .validate = validate_option,
};

static const struct servo_field option_item = {.type = SERVO_FIELD_OBJECT,
                                               .object = &option_schema};

static const struct servo_field jvm_settings_fields[] = {
    {.name = "heap_size",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_jvm_settings, heap_size),
     .flags = SERVO_F_OPTIONAL,
     .object = &heap_schema,
     .description = "The maximum heap size range: -Xmx."},
    {.name = "gc",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_jvm_settings, gc),
     .flags = SERVO_F_OPTIONAL,
     .object = &gc_schema,
     .description = "The garbage collectors to try: -XX:+Use<value>GC."},
    {.name = "options",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_jvm_settings, options),
     .item = &option_item,
     .description = "Other -XX options to optimize."},
    SERVO_FIELDS_END,
};

static const struct servo_schema jvm_settings_schema = {
    .title = "JVMSettings",
    .description = "The JVM settings the optimizer may set.",
    .size = sizeof(struct kubernetes_jvm_settings),
    .fields = jvm_settings_fields,
};

static const struct servo_field jvm_fields[] = {
    {.name = "target",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_jvm, target),
     .def = "env",
     .choices = target_choices,
     .description = "Where the options are written: env (one environment variable) or args "
                    "(the container's args, which must be the JVM's arguments)."},
    {.name = "env",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_jvm, env),
     .pattern = "^[A-Za-z_][A-Za-z0-9_.-]*$",
     .description = "target env: the variable; JAVA_OPTS when not given."},
    {.name = "settings",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_jvm, settings),
     .flags = SERVO_F_REQUIRED,
     .object = &jvm_settings_schema,
     .description = "The settings: heap_size, gc, options."},
    SERVO_FIELDS_END,
};

static const struct servo_schema jvm_schema = {
    .title = "JVMEncoder",
    .description = "Settings encoded as JVM options (-Xmx, -XX:+UseG1GC, -XX:Name=value), "
                   "in an environment variable or the container's args; the other options "
                   "there are kept.",
    .size = sizeof(struct kubernetes_jvm),
    .fields = jvm_fields,
    .validate = validate_jvm,
};

static const struct servo_field encoders_fields[] = {
    {.name = "jvm",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_encoders, jvm),
     .flags = SERVO_F_OPTIONAL,
     .object = &jvm_schema,
     .description = "The JVM encoder."},
    SERVO_FIELDS_END,
};

static const struct servo_schema encoders_schema = {
    .title = "Encoders",
    .description = "Settings encoded into the container's command line or an environment "
                   "variable instead of a resource field.",
    .size = sizeof(struct kubernetes_encoders),
    .fields = encoders_fields,
};

static const struct servo_field container_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_container, name),
     .flags = SERVO_F_REQUIRED,
     .pattern = CONTAINER_NAME,
     .description = "The name of the container in the pod spec."},
    {.name = "alias",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_container, alias),
     .pattern = CONTAINER_NAME,
     .description = "The component's name; <workload>/<container> when not given."},
    {.name = "cpu",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_container, cpu),
     .flags = SERVO_F_OPTIONAL,
     .object = &kubernetes_cpu_schema,
     .description = "The CPU range to optimize."},
    {.name = "memory",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_container, memory),
     .flags = SERVO_F_OPTIONAL,
     .object = &kubernetes_memory_schema,
     .description = "The memory range to optimize."},
    {.name = "env",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_container, env),
     .item = &env_item,
     .description = "Environment variables to optimize."},
    {.name = "static_environment_variables",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct kubernetes_container, static_environment_variables),
     .item = &string_item,
     .description = "Environment variables set on the canary tuning pod only."},
    {.name = "encoders",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_container, encoders),
     .object = &encoders_schema,
     .description = "Settings encoded into the command line or a variable (jvm)."},
    SERVO_FIELDS_END,
};

static const struct servo_schema container_schema = {
    .title = "Container",
    .description = "A container of the workload and its settings.",
    .size = sizeof(struct kubernetes_container),
    .fields = container_fields,
    .validate = validate_container,
};

static const struct servo_field strategy_fields[] = {
    {.name = "type",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_strategy, type),
     .def = "default",
     .choices = strategy_choices,
     .description = "default adjusts the workload itself; canary adjusts a tuning pod cloned "
                    "from it."},
    {.name = "alias",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_strategy, alias),
     .pattern = CONTAINER_NAME,
     .description = "canary: the tuning component's name; <workload>/<container>-tuning when "
                    "not given."},
    SERVO_FIELDS_END,
};

static const struct servo_schema strategy_schema = {
    .title = "OptimizationStrategy",
    .description = "How the workload is optimized; a bare string is the type.",
    .size = sizeof(struct kubernetes_strategy),
    .fields = strategy_fields,
    .validate = validate_strategy,
};

static const struct servo_field replicas_fields[] = {
    {.name = "min",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct kubernetes_replicas, min),
     .flags = SERVO_F_REQUIRED | SERVO_F_MIN,
     .min = 0,
     .description = "The fewest replicas to try."},
    {.name = "max",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct kubernetes_replicas, max),
     .flags = SERVO_F_REQUIRED | SERVO_F_MIN,
     .min = 0,
     .description = "The most replicas to try."},
    {.name = "step",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct kubernetes_replicas, step),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "1",
     .description = "The granularity of replica counts."},
    {.name = "pinned",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_replicas, pinned),
     .def = "false",
     .description = "Whether the optimizer must leave the count as it is."},
    SERVO_FIELDS_END,
};

static const struct servo_schema replicas_schema = {
    .title = "Replicas",
    .description = "The replica range of the workload (setting \"replicas\").",
    .size = sizeof(struct kubernetes_replicas),
    .fields = replicas_fields,
    .validate = validate_replicas,
};

static const struct servo_field container_item = {.type = SERVO_FIELD_OBJECT,
                                                  .object = &container_schema};

static const struct servo_field workload_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_workload, name),
     .flags = SERVO_F_REQUIRED,
     .pattern = DNS1123_SUBDOMAIN,
     .description = "The name of the workload."},
    {.name = "namespace",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_workload, namespace),
     .pattern = DNS1123_LABEL,
     .description = "The workload's namespace; the top-level namespace when not given."},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct kubernetes_workload, timeout),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .description = "How long to wait for the workload to become ready after an adjustment; "
                    "the top-level timeout when not given."},
    {.name = "settlement",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct kubernetes_workload, settlement),
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "How long the workload must stay ready after an adjustment; the "
                    "top-level settlement when not given."},
    {.name = "on_failure",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_workload, on_failure),
     .choices = failure_choices,
     .description = "What to do when an adjustment fails; the top-level on_failure when not "
                    "given."},
    {.name = "strategy",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_workload, strategy),
     .object = &strategy_schema,
     .shorthand = "type",
     .description = "The optimization strategy: default, canary, or {type: canary, alias: "
                    "tuning}."},
    {.name = "replicas",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct kubernetes_workload, replicas),
     .flags = SERVO_F_OPTIONAL,
     .object = &replicas_schema,
     .description = "The replica range to optimize."},
    {.name = "containers",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_workload, containers),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .item = &container_item,
     .description = "The containers to optimize."},
    SERVO_FIELDS_END,
};

static const struct servo_schema deployment_schema = {
    .title = "Deployment",
    .description = "A Deployment to optimize.",
    .size = sizeof(struct kubernetes_workload),
    .fields = workload_fields,
};

static const struct servo_schema stateful_set_schema = {
    .title = "StatefulSet",
    .description = "A StatefulSet to optimize (the canary strategy is not supported).",
    .size = sizeof(struct kubernetes_workload),
    .fields = workload_fields,
    .validate = validate_stateful_set,
};

static const struct servo_schema rollout_schema = {
    .title = "Rollout",
    .description = "An Argo Rollout (argoproj.io/v1alpha1) to optimize as a Deployment: its pod "
                   "template and replicas, or (strategy: canary) a tuning pod built from its "
                   "spec.template (spec.workloadRef is not supported).",
    .size = sizeof(struct kubernetes_workload),
    .fields = workload_fields,
};

static const struct servo_field permission_fields[] = {
    {.name = "group",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_permission, group),
     .flags = SERVO_F_REQUIRED,
     .description = "The API group (\"\" for the core group)."},
    {.name = "resources",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_permission, resources),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .item = &nonempty_string_item,
     .description = "The resources, e.g. deployments or pods/status."},
    {.name = "verbs",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_permission, verbs),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .item = &nonempty_string_item,
     .description = "The verbs, e.g. get, list, watch."},
    SERVO_FIELDS_END,
};

static const struct servo_schema permission_schema = {
    .title = "PermissionSet",
    .description = "Permissions the connector needs on resources of one API group.",
    .size = sizeof(struct kubernetes_permission),
    .fields = permission_fields,
};

static const struct servo_field deployment_item = {.type = SERVO_FIELD_OBJECT,
                                                   .object = &deployment_schema};
static const struct servo_field stateful_set_item = {.type = SERVO_FIELD_OBJECT,
                                                     .object = &stateful_set_schema};
static const struct servo_field rollout_item = {.type = SERVO_FIELD_OBJECT,
                                                .object = &rollout_schema};
static const struct servo_field permission_item = {.type = SERVO_FIELD_OBJECT,
                                                   .object = &permission_schema};

static const struct servo_field kubernetes_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "namespace",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_settings, namespace),
     .def = "default",
     .pattern = DNS1123_LABEL,
     .description = "The namespace of the workloads that do not give their own."},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct kubernetes_settings, timeout),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .def = "5m",
     .description = "How long to wait for a workload to become ready after an adjustment."},
    {.name = "settlement",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct kubernetes_settings, settlement),
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "How long a workload must stay ready after an adjustment; the control's "
                    "settlement overrides it."},
    {.name = "on_failure",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct kubernetes_settings, on_failure),
     .def = "exception",
     .choices = failure_choices,
     .description = "What to do when an adjustment fails: exception (report the failure), "
                    "shutdown (scale the workload to zero, or restore the tuning pod), ignore, "
                    "or rollback."},
    {.name = "kubeconfig",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_settings, kubeconfig),
     .flags = SERVO_F_NONEMPTY,
     .description = "A kubeconfig file; $KUBECONFIG, ~/.kube/config or the in-cluster "
                    "configuration when not given."},
    {.name = "context",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct kubernetes_settings, context),
     .flags = SERVO_F_NONEMPTY,
     .description = "The kubeconfig context; its current context when not given."},
    {.name = "container_logs_in_error_status",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_settings, container_logs_in_error_status),
     .def = "false",
     .description = "Include container logs in the message of a failed adjustment."},
    {.name = "create_tuning_pod",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct kubernetes_settings, create_tuning_pod),
     .def = "true",
     .description = "Create the tuning pod of canary workloads."},
    {.name = "permissions",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_settings, permissions),
     .def = "[{group: apps, resources: [deployments, statefulsets], verbs: [get, patch]}, "
            "{group: apps, resources: [replicasets], verbs: [get, list]}, "
            "{group: '', resources: [namespaces], verbs: [get]}, "
            "{group: '', resources: [pods], verbs: [get, list, create, delete]}, "
            "{group: '', resources: [pods/log], verbs: [get]}]",
     .item = &permission_item,
     .description = "The permissions the connector checks it has, in the namespace of each "
                    "workload (deploy/role.yaml grants exactly the defaults)."},
    {.name = "deployments",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_settings, deployments),
     .item = &deployment_item,
     .description = "Deployments to optimize."},
    {.name = "stateful_sets",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_settings, stateful_sets),
     .item = &stateful_set_item,
     .description = "StatefulSets to optimize (the canary strategy is not supported)."},
    {.name = "rollouts",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct kubernetes_settings, rollouts),
     .item = &rollout_item,
     .description = "Argo Rollouts to optimize (the Rollout CRD must be installed; give the "
                    "connector get and patch on rollouts.argoproj.io in `permissions`)."},
    SERVO_FIELDS_END,
};

static const struct servo_schema kubernetes_schema = {
    .title = "Kubernetes Connector Configuration Schema",
    .description = "The workloads the kubernetes connector optimizes and how it adjusts them. "
                   "namespace, timeout, settlement and on_failure cascade to the workloads.",
    .size = sizeof(struct kubernetes_settings),
    .fields = kubernetes_fields,
    .validate = validate_settings,
};

const struct servo_connector_plugin servo_connector_kubernetes = {
    SERVO_CONNECTOR_HEADER,
    .name = "kubernetes",
    .class_name = "KubernetesConnector",
    .version = "1.5.0",
    .description = "Kubernetes adjust connector",
    .homepage = "https://github.com/opsani/kubernetes-connector",
    .license = "Apache 2.0",
    .maturity = "Stable",
    .settings = &kubernetes_schema,
    .init = kubernetes_init,
    .fini = kubernetes_fini,
    .handlers = kubernetes_handlers,
    .checks = kubernetes_checks,
    .generate = "namespace: default\n"
                "deployments:\n"
                "- name: app\n"
                "  replicas:\n"
                "    min: 1\n"
                "    max: 2\n"
                "  containers:\n"
                "  - name: app\n"
                "    cpu:\n"
                "      min: 250m\n"
                "      max: '4'\n"
                "      step: 125m\n"
                "    memory:\n"
                "      min: 256Mi\n"
                "      max: 4Gi\n"
                "      step: 128Mi\n",
};
