// SPDX-License-Identifier: Apache-2.0
/* `servo config convert FILE [-o OUT]`: the config.yaml of an original Opsani servo (one
 * section per driver: k8s, prom, vegeta, exec) as the equivalent servo.yaml. What has no
 * equivalent is listed on stderr and as comments at the top of the output. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/convert.h"
#include "config/yaml.h"
#include "config/yaml_out.h"
#include "util/util.h"

struct convert {
    json_t *out;   /* the servo.yaml document */
    json_t *notes; /* strings: what was not converted, and why */
};

static void note(struct convert *c, const struct servo_node *where, const char *path,
                 const char *fmt, ...) SERVO_PRINTF(4, 5);

static void note(struct convert *c, const struct servo_node *where, const char *path,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = xvasprintf(fmt, ap);
    va_end(ap);
    char *line = where && servo_node_line(where) > 0
                     ? xasprintf("%s (line %d): %s", path, servo_node_line(where), why)
                     : xasprintf("%s: %s", path, why);
    json_array_append_new(c->notes, json_string(line));
    free(line);
    free(why);
}

/* ---- scalars ---------------------------------------------------------------------------- */

static bool is_scalar(const struct servo_node *n)
{
    return n != NULL && servo_node_kind(n) == SERVO_NODE_SCALAR;
}

static bool is_map(const struct servo_node *n)
{
    return n != NULL && servo_node_kind(n) == SERVO_NODE_MAP;
}

static bool node_number(const struct servo_node *n, double *out)
{
    if (!is_scalar(n) || servo_node_quoted(n))
        return false;
    const char *text = servo_node_text(n);
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(value))
        return false;
    *out = value;
    return true;
}

/* A YAML value as JSON: numbers, booleans and null when plain, strings otherwise. */
static json_t *node_json(const struct servo_node *n)
{
    if (n == NULL)
        return json_null();
    if (servo_node_kind(n) == SERVO_NODE_MAP) {
        json_t *o = json_object();
        for (size_t i = 0; i < servo_node_size(n); i++)
            json_object_set_new(o, servo_node_key(n, i), node_json(servo_node_value(n, i)));
        return o;
    }
    if (servo_node_kind(n) == SERVO_NODE_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < servo_node_size(n); i++)
            json_array_append_new(a, node_json(servo_node_item(n, i)));
        return a;
    }
    if (!is_scalar(n))
        return json_null();
    const char *text = servo_node_text(n);
    double number;
    if (node_number(n, &number))
        return number == trunc(number) && fabs(number) < 1e15 ? json_integer((json_int_t)number)
                                                              : json_real(number);
    if (!servo_node_quoted(n)) {
        if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0)
            return json_true();
        if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0)
            return json_false();
        if (strcmp(text, "null") == 0 || strcmp(text, "~") == 0)
            return json_null();
    }
    return json_string(text);
}

/* Legacy durations are seconds: 300 -> "300s"; text passes as it is. */
static json_t *seconds_json(const struct servo_node *n)
{
    double value;
    if (node_number(n, &value)) {
        char *text = xasprintf("%gs", value);
        json_t *j = json_string(text);
        free(text);
        return j;
    }
    return node_json(n);
}

/* ---- k8s (opsani/servo-k8s) ------------------------------------------------------------- */

/* The deployment entry named `name` in `deployments`, added when missing. */
static json_t *deployment_entry(json_t *deployments, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(deployments, i, d) if (strcmp(json_string_value(json_object_get(d, "name")),
                                                     name) == 0) return d;
    d = json_pack("{s:s, s:[]}", "name", name, "containers");
    json_array_append_new(deployments, d);
    return d;
}

/* min, max, step, pinned of a legacy range setting; `gib`: numbers are GiB (mem). */
static json_t *range_json(struct convert *c, const struct servo_node *s, const char *path, bool gib)
{
    json_t *r = json_object();
    for (size_t i = 0; i < servo_node_size(s); i++) {
        const char *key = servo_node_key(s, i);
        const struct servo_node *v = servo_node_value(s, i);
        double number;
        if (strcmp(key, "min") == 0 || strcmp(key, "max") == 0 || strcmp(key, "step") == 0) {
            if (gib && node_number(v, &number)) {
                char *text = xasprintf("%gGi", number);
                json_object_set_new(r, key, json_string(text));
                free(text);
            } else {
                json_object_set_new(r, key, node_json(v));
            }
        } else if (strcmp(key, "pinned") == 0) {
            json_object_set_new(r, key, node_json(v));
        } else if (strcmp(key, "selector") == 0 || strcmp(key, "limit_min") == 0 ||
                   strcmp(key, "type") == 0 || strcmp(key, "value") == 0 ||
                   strcmp(key, "unit") == 0) {
            continue; /* selector: below; the rest is what the driver reported, not config */
        } else {
            char *where = xasprintf("%s.%s", path, key);
            note(c, v, where, "no equivalent");
            free(where);
        }
    }
    return r;
}

/* The legacy `selector` (both, request, limit, request_min_limit) as `set`. */
static void apply_selector(struct convert *c, json_t *resource, const struct servo_node *s,
                           const char *path)
{
    const struct servo_node *selector = servo_node_get(s, "selector");
    if (!is_scalar(selector))
        return;
    const char *value = servo_node_text(selector);
    char *where = xasprintf("%s.selector", path);
    if (strcmp(value, "request") == 0 || strcmp(value, "limit") == 0) {
        json_object_set_new(resource, "set", json_pack("[s]", value));
    } else if (strcmp(value, "request_min_limit") == 0) {
        json_object_set_new(resource, "set", json_pack("[s]", "request"));
        note(c, selector, where,
             "request_min_limit became set: [request]; the limit's floor (limit_min) has no "
             "equivalent: set `limit` to a fixed value if one is needed");
    } else if (strcmp(value, "both") != 0) {
        note(c, selector, where, "unknown selector \"%s\"", value);
    }
    free(where);
}

/* env: {NAME: {type, min, max, step, values, unit, default}} as the container's env list. */
static void convert_env(struct convert *c, json_t *container, const struct servo_node *env,
                        const char *path)
{
    json_t *list = json_array();
    for (size_t i = 0; i < servo_node_size(env); i++) {
        const char *name = servo_node_key(env, i);
        const struct servo_node *v = servo_node_value(env, i);
        char *where = xasprintf("%s.%s", path, name);
        if (!is_map(v) || servo_node_get(v, "encoder") != NULL) {
            note(c, v, where,
                 is_map(v) ? "encoders of variables have no equivalent: use the container's "
                             "`encoders` (jvm) by hand"
                           : "expected a mapping");
            free(where);
            continue;
        }
        json_t *e = json_pack("{s:s}", "name", name);
        for (size_t k = 0; k < servo_node_size(v); k++) {
            const char *key = servo_node_key(v, k);
            static const char *const known[] = {"type",   "min",     "max",    "step",
                                                "values", "default", "pinned", NULL};
            bool mapped = false;
            for (size_t j = 0; known[j] && !mapped; j++)
                mapped = strcmp(known[j], key) == 0;
            if (strcmp(key, "default") == 0) {
                json_t *def = node_json(servo_node_value(v, k));
                json_t *text = json_is_string(def)
                                   ? json_incref(def)
                                   : json_string(servo_node_text(servo_node_value(v, k)));
                json_object_set_new(e, key, text);
                json_decref(def);
            } else if (mapped) {
                json_object_set_new(e, key, node_json(servo_node_value(v, k)));
            } else if (strcmp(key, "unit") != 0 && strcmp(key, "value") != 0) {
                char *at = xasprintf("%s.%s", where, key);
                note(c, servo_node_value(v, k), at, "no equivalent");
                free(at);
            }
        }
        if (json_object_get(e, "type") == NULL)
            json_object_set_new(e, "type",
                                json_string(json_object_get(e, "values") ? "enum" : "range"));
        json_array_append_new(list, e);
        free(where);
    }
    if (json_array_size(list) > 0)
        json_object_set_new(container, "env", list);
    else
        json_decref(list);
}

static void convert_settings(struct convert *c, json_t *deployment, json_t *container,
                             const struct servo_node *settings, const char *path)
{
    for (size_t i = 0; i < servo_node_size(settings); i++) {
        const char *key = servo_node_key(settings, i);
        const struct servo_node *s = servo_node_value(settings, i);
        char *where = xasprintf("%s.%s", path, key);
        bool has_range = is_map(s) && servo_node_get(s, "min") && servo_node_get(s, "max");
        if (!is_map(s)) {
            note(c, s, where, "expected a mapping");
        } else if (strcmp(key, "cpu") == 0 || strcmp(key, "mem") == 0) {
            json_t *r = range_json(c, s, where, strcmp(key, "mem") == 0);
            apply_selector(c, r, s, where);
            if (has_range)
                json_object_set_new(container, strcmp(key, "mem") == 0 ? "memory" : "cpu", r);
            else
                json_decref(r);
            if (!has_range)
                note(c, s, where,
                     "a setting without min and max (pinned to the current value) "
                     "is left out: the Kubernetes connector needs its range");
        } else if (strcmp(key, "replicas") == 0) {
            if (has_range)
                json_object_set_new(deployment, "replicas", range_json(c, s, where, false));
            else
                note(c, s, where,
                     "a setting without min and max (pinned to the current value) "
                     "is left out: the Kubernetes connector needs its range");
        } else {
            note(c, s, where,
                 "only cpu, mem and replicas are settings; environment variables go under env");
        }
        free(where);
    }
}

static void convert_component(struct convert *c, json_t *deployments, const char *name,
                              const struct servo_node *v)
{
    char *path = xasprintf("k8s.application.components.%s", name);
    const struct servo_node *target = servo_node_get(v, "deployment");
    char *full = xasprintf("%s", is_scalar(target) ? servo_node_text(target) : name);
    char *slash = strchr(full, '/');
    const char *container_name = slash ? slash + 1 : full;
    if (slash)
        *slash = '\0';
    else
        note(c, v, path,
             "no container named (\"DEPLOYMENT/CONTAINER\"): the driver tuned the first "
             "container; \"%s\" is assumed, correct containers[].name if it differs",
             container_name);
    json_t *deployment = deployment_entry(deployments, full);
    json_t *container = json_pack("{s:s}", "name", container_name);
    char *component = slash ? xasprintf("%s/%s", full, container_name) : NULL;
    if (component == NULL || strcmp(component, name) != 0)
        json_object_set_new(container, "alias", json_string(name));
    free(component);
    for (size_t i = 0; i < servo_node_size(v); i++) {
        const char *key = servo_node_key(v, i);
        const struct servo_node *value = servo_node_value(v, i);
        char *where = xasprintf("%s.%s", path, key);
        if (strcmp(key, "settings") == 0 && is_map(value))
            convert_settings(c, deployment, container, value, where);
        else if (strcmp(key, "env") == 0 && is_map(value))
            convert_env(c, container, value, where);
        else if (strcmp(key, "deployment") != 0)
            note(c, value, where, "no equivalent%s",
                 strcmp(key, "command") == 0 ? " (command encoders)" : "");
        free(where);
    }
    json_array_append_new(json_object_get(deployment, "containers"), container);
    free(full);
    free(path);
}

static const char *failure_mode(const char *legacy)
{
    if (strcmp(legacy, "rollback") == 0)
        return "rollback";
    if (strcmp(legacy, "destroy") == 0)
        return "shutdown";
    if (strcmp(legacy, "nop") == 0)
        return "ignore";
    return NULL;
}

static void convert_k8s(struct convert *c, const struct servo_node *k8s)
{
    json_t *out = json_object();
    json_t *deployments = json_array();
    for (size_t i = 0; i < servo_node_size(k8s); i++) {
        const char *key = servo_node_key(k8s, i);
        const struct servo_node *v = servo_node_value(k8s, i);
        char *where = xasprintf("k8s.%s", key);
        const struct servo_node *components = servo_node_get(v, "components");
        if (strcmp(key, "application") == 0 && is_map(v) && is_map(components)) {
            for (size_t j = 0; j < servo_node_size(components); j++) {
                const struct servo_node *component = servo_node_value(components, j);
                if (is_map(component))
                    convert_component(c, deployments, servo_node_key(components, j), component);
                else
                    note(c, component, "k8s.application.components",
                         "component \"%s\" is not a mapping: left out",
                         servo_node_key(components, j));
            }
            for (size_t j = 0; j < servo_node_size(v); j++)
                if (strcmp(servo_node_key(v, j), "components") != 0)
                    note(c, servo_node_value(v, j), where, "\"%s\" has no equivalent",
                         servo_node_key(v, j));
        } else if (strcmp(key, "namespace") == 0 && is_scalar(v)) {
            json_object_set_new(out, "namespace", node_json(v));
        } else if (strcmp(key, "settlement") == 0 && is_scalar(v)) {
            json_object_set_new(out, "settlement", seconds_json(v));
        } else if (strcmp(key, "on_fail") == 0 && is_scalar(v) &&
                   failure_mode(servo_node_text(v)) != NULL) {
            json_object_set_new(out, "on_failure", json_string(failure_mode(servo_node_text(v))));
        } else {
            note(c, v, where, "no equivalent");
        }
        free(where);
    }
    if (json_array_size(deployments) == 0) {
        note(c, k8s, "k8s", "no application.components: nothing to tune, the section is left out");
        json_decref(deployments);
        json_decref(out);
        return;
    }
    json_object_set_new(out, "deployments", deployments);
    json_object_set_new(c->out, "kubernetes", out);
}

/* ---- prom (opsani/servo-prom) ----------------------------------------------------------- */

static bool known_unit(const char *unit)
{
    static const char *const units[] = {"", "%", "ms", "bytes", "GiB", "cores", "rpm", "rps", NULL};
    for (size_t i = 0; units[i]; i++)
        if (strcmp(units[i], unit) == 0)
            return true;
    return false;
}

static json_t *prom_metric(struct convert *c, const char *name, const struct servo_node *m)
{
    char *path = xasprintf("prom.metrics.%s", name);
    json_t *out = json_pack("{s:s}", "name", name);
    for (size_t i = 0; i < servo_node_size(m); i++) {
        const char *key = servo_node_key(m, i);
        const struct servo_node *v = servo_node_value(m, i);
        if (strcmp(key, "query") == 0) {
            json_object_set_new(out, "query", json_string(servo_node_text(v)));
        } else if (strcmp(key, "unit") == 0 && is_scalar(v) && known_unit(servo_node_text(v))) {
            json_object_set_new(out, "unit", json_string(servo_node_text(v)));
        } else if (strcmp(key, "period") == 0) {
            json_object_set_new(out, "step", seconds_json(v));
        } else {
            char *where = xasprintf("%s.%s", path, key);
            note(c, v, where,
                 strcmp(key, "unit") == 0 ? "unit \"%s\" is not one of \"\", %%, ms, bytes, "
                                            "GiB, cores, rpm, rps: left out"
                                          : "no equivalent%s",
                 strcmp(key, "unit") == 0 && is_scalar(v) ? servo_node_text(v) : "");
            free(where);
        }
    }
    if (json_object_get(out, "step") == NULL)
        json_object_set_new(out, "step", json_string("60s")); /* the driver's default period */
    free(path);
    return out;
}

static void convert_prom(struct convert *c, const struct servo_node *prom)
{
    json_t *out = json_object();
    const struct servo_node *endpoint = servo_node_get(prom, "prometheus_endpoint");
    if (is_scalar(endpoint) && servo_node_text(endpoint)[0]) {
        char *url = xasprintf("%s", servo_node_text(endpoint));
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            url[--n] = '\0';
        json_object_set_new(out, "base_url", json_string(url));
        free(url);
    } else {
        /* the driver's default ($PROMETHEUS_ENDPOINT aside) */
        json_object_set_new(out, "base_url", json_string("http://prometheus:9090"));
    }
    json_t *metrics = json_array();
    for (size_t i = 0; i < servo_node_size(prom); i++) {
        const char *key = servo_node_key(prom, i);
        const struct servo_node *v = servo_node_value(prom, i);
        if (strcmp(key, "metrics") == 0 && is_map(v)) {
            for (size_t j = 0; j < servo_node_size(v); j++) {
                const struct servo_node *m = servo_node_value(v, j);
                if (is_map(m) && is_scalar(servo_node_get(m, "query")))
                    json_array_append_new(metrics, prom_metric(c, servo_node_key(v, j), m));
                else
                    note(c, m, "prom.metrics", "metric \"%s\" has no query: left out",
                         servo_node_key(v, j));
            }
        } else if (strcmp(key, "prometheus_endpoint") != 0) {
            char *where = xasprintf("prom.%s", key);
            note(c, v, where, "no equivalent");
            free(where);
        }
    }
    json_object_set_new(out, "metrics", metrics);
    json_object_set_new(c->out, "prometheus", out);
}

/* ---- vegeta (opsani/servo-vegeta) ------------------------------------------------------- */

/* "3000/m" -> "3000/1m": vegeta's own rate syntax allows a bare unit, the servo's needs a
 * number before it. */
static json_t *rate_json(const struct servo_node *n)
{
    const char *text = is_scalar(n) ? servo_node_text(n) : NULL;
    const char *slash = text ? strchr(text, '/') : NULL;
    if (slash && slash[1] >= 'a' && slash[1] <= 'z') {
        char *fixed = xasprintf("%.*s/1%s", (int)(slash - text), text, slash + 1);
        json_t *j = json_string(fixed);
        free(fixed);
        return j;
    }
    return node_json(n);
}

static void convert_vegeta(struct convert *c, const struct servo_node *vegeta)
{
    static const char *const same[] = {"duration", "target", "targets",   "format",   "connections",
                                       "workers",  "http2",  "keepalive", "insecure", NULL};
    json_t *out = json_object();
    for (size_t i = 0; i < servo_node_size(vegeta); i++) {
        const char *key = servo_node_key(vegeta, i);
        const struct servo_node *v = servo_node_value(vegeta, i);
        bool kept = false;
        for (size_t j = 0; same[j] && !kept; j++)
            kept = strcmp(same[j], key) == 0;
        if (kept) {
            json_object_set_new(out, key, node_json(v));
        } else if (strcmp(key, "rate") == 0) {
            json_object_set_new(out, "rate", rate_json(v));
        } else if (strcmp(key, "max-workers") == 0 || strcmp(key, "max-body") == 0) {
            char *name = xasprintf("max_%s", key + 4);
            json_object_set_new(out, name, node_json(v));
            free(name);
        } else {
            char *where = xasprintf("vegeta.%s", key);
            note(c, v, where, "no equivalent%s",
                 strcmp(key, "interactive") == 0 ? " (the report is always logged)" : "");
            free(where);
        }
    }
    json_object_set_new(c->out, "vegeta", out);
}

/* ---- exec (opsani/servo-exec) ----------------------------------------------------------- */

static json_t *convert_task(struct convert *c, const struct servo_node *task, const char *path)
{
    static const char *const same[] = {"name",    "async", "ignore_exitcode", "notify", "retries",
                                       "timeout", "exec",  "shell_exec",      NULL};
    if (servo_node_get(task, "request") != NULL) {
        note(c, task, path,
             "request tasks are not supported: left out (make the request with shell_exec and "
             "curl)");
        return NULL;
    }
    json_t *out = json_object();
    for (size_t i = 0; i < servo_node_size(task); i++) {
        const char *key = servo_node_key(task, i);
        bool kept = false;
        for (size_t j = 0; same[j] && !kept; j++)
            kept = strcmp(same[j], key) == 0;
        if (kept) {
            json_object_set_new(out, key, node_json(servo_node_value(task, i)));
        } else {
            char *where = xasprintf("%s.%s", path, key);
            note(c, servo_node_value(task, i), where, "no equivalent");
            free(where);
        }
    }
    return out;
}

static void convert_exec(struct convert *c, const struct servo_node *exec)
{
    static const char *const stages[] = {"pre", "start", "stop", "post", NULL};
    json_t *out = json_object();
    for (size_t i = 0; i < servo_node_size(exec); i++) {
        const char *key = servo_node_key(exec, i);
        const struct servo_node *v = servo_node_value(exec, i);
        bool stage = false;
        for (size_t j = 0; stages[j] && !stage; j++)
            stage = strcmp(stages[j], key) == 0;
        if (stage && servo_node_kind(v) == SERVO_NODE_SEQ) {
            json_t *tasks = json_array();
            for (size_t j = 0; j < servo_node_size(v); j++) {
                char *where = xasprintf("exec.%s[%zu]", key, j);
                json_t *task = is_map(servo_node_item(v, j))
                                   ? convert_task(c, servo_node_item(v, j), where)
                                   : NULL;
                if (task)
                    json_array_append_new(tasks, task);
                else if (!is_map(servo_node_item(v, j)))
                    note(c, servo_node_item(v, j), where, "expected a task (a mapping)");
                free(where);
            }
            json_object_set_new(out, key, tasks);
        } else {
            char *where = xasprintf("exec.%s", key);
            note(c, v, where, "no equivalent");
            free(where);
        }
    }
    json_object_set_new(c->out, "exec", out);
}

/* ---- the file --------------------------------------------------------------------------- */

static void convert_document(struct convert *c, const struct servo_node *doc)
{
    static const struct {
        const char *section;
        void (*convert)(struct convert *, const struct servo_node *);
    } drivers[] = {{"k8s", convert_k8s},
                   {"prom", convert_prom},
                   {"vegeta", convert_vegeta},
                   {"exec", convert_exec}};
    for (size_t i = 0; i < servo_node_size(doc); i++) {
        const char *key = servo_node_key(doc, i);
        const struct servo_node *v = servo_node_value(doc, i);
        bool done = false;
        for (size_t j = 0; j < sizeof drivers / sizeof drivers[0] && !done; j++) {
            if (strcmp(drivers[j].section, key) != 0)
                continue;
            done = true;
            if (is_map(v))
                drivers[j].convert(c, v);
            else
                note(c, v, key, "expected a mapping: left out");
        }
        if (!done)
            note(c, v, key, "the servo-%s driver has no equivalent here: left out", key);
    }
}

static char *render(const struct convert *c, const char *source)
{
    struct strbuf b = {0};
    strbuf_printf(&b,
                  "# Converted by `servo config convert` from %s (an Opsani servo config.yaml).\n",
                  source);
    size_t i;
    json_t *n;
    if (json_array_size(c->notes) > 0)
        strbuf_puts(&b, "# Not converted:\n");
    json_array_foreach(c->notes, i, n) strbuf_printf(&b, "#   %s\n", json_string_value(n));
    char *yaml = yaml_dump(&c->out, 1, false);
    strbuf_puts(&b, yaml ? yaml : "");
    free(yaml);
    return strbuf_detach(&b);
}

char *legacy_convert(const struct servo_node *doc, const char *source, json_t *notes)
{
    struct convert c = {json_object(), notes};
    convert_document(&c, doc);
    char *text = json_object_size(c.out) > 0 ? render(&c, source) : NULL;
    json_decref(c.out);
    return text;
}

static int parse_arguments(int argc, char **argv, const char **input, const char **output)
{
    const struct cli_command *self = cli_find_subcommand(cli_find_command("config"), "convert");
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h') {
            cli_help(self, stdout);
            return -1;
        }
        if (c == 'o')
            *output = optarg;
    }
    if (optind == argc) {
        cli_error("config convert: missing argument FILE (the legacy config.yaml)");
        return EXIT_USAGE;
    }
    if (argc - optind > 1) {
        cli_error("config convert: unexpected argument %s", argv[optind + 1]);
        return EXIT_USAGE;
    }
    *input = argv[optind];
    return 0;
}

int cmd_config_convert(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    const char *input = NULL, *output = NULL;
    int rc = parse_arguments(argc, argv, &input, &output);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    struct yaml_documents docs = {0};
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load_file(input, &docs, &diags) != 0) {
        cli_print_diags(&diags);
        diags_free(&diags);
        return EXIT_FAILURE_OPERATIONAL;
    }
    diags_free(&diags);
    const struct servo_node *doc = docs.count == 1 ? docs.items[0] : NULL;
    if (!is_map(doc)) {
        cli_error("%s: expected one YAML document, a mapping of driver sections (k8s, prom, "
                  "vegeta, exec)",
                  input);
        yaml_documents_free(&docs);
        return EXIT_FAILURE_OPERATIONAL;
    }
    json_t *notes = json_array();
    char *text = legacy_convert(doc, input, notes);
    yaml_documents_free(&docs);
    size_t i;
    json_t *n;
    json_array_foreach(notes, i, n)
        fprintf(stderr, "servo: config convert: not converted: %s\n", json_string_value(n));
    if (text == NULL) {
        cli_error("%s: nothing to convert: no k8s, prom, vegeta or exec section", input);
        rc = EXIT_FAILURE_OPERATIONAL;
    } else {
        rc = cli_write_output(output, text) == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
        free(text);
    }
    json_decref(notes);
    return rc;
}
