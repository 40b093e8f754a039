/* The kubernetes connector's life cycle and event handlers.
 *
 * init builds the API client (a configuration that cannot be used is kept as a message:
 * the connectivity check reports it, describe and adjust fail with it). describe and
 * components read every workload; adjust takes the adjustments of this connector's
 * components, refuses those it cannot apply before anything changes, then for each
 * workload: the default strategy patches the pod template and spec.replicas (from the read
 * the rollback snapshot is taken from, with a retry on 409) and waits for the rollout within
 * the workload's timeout; the canary strategy recreates the tuning pod. Then every adjusted
 * workload is watched through the settlement (the control's, else the workloads'). A
 * failure is a rejection with the reason the cluster shows, after on_failure (exception,
 * ignore, shutdown, rollback) has been applied to the workload that failed. before measure
 * makes sure the tuning pods exist; telemetry reports the namespace and the API server's
 * version and platform. */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

#define TELEMETRY_TIMEOUT 3.0 /* seconds: the /version request behind the telemetry */

static const struct kubernetes_settings *settings_of(const struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static struct kube_state *state_of(const struct servo_connector *c)
{
    return servo_connector_state(c);
}

static int fail_event(struct servo_event *event, const struct servo_error *error)
{
    return servo_event_fail(event, error->kind ? error->kind : SERVO_ERROR_FAILED, error->reason,
                            "%s", error->message);
}

/* Appends to the error's message (cut to fit). */
static void append_message(struct servo_error *error, const char *fmt, ...) SERVO_PRINTF(2, 3);

static void append_message(struct servo_error *error, const char *fmt, ...)
{
    char tail[SERVO_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    size_t used = strlen(error->message);
    snprintf(error->message + used, sizeof error->message - used, "%s", tail);
}

/* ---- init and fini ---------------------------------------------------------------------- */

/* A workload with what it does not set taken from the top level (namespace, timeout,
 * settlement, on_failure); a shallow copy that borrows from the settings. */
static struct kubernetes_workload effective_workload(const struct kubernetes_settings *s,
                                                     const struct kubernetes_workload *w)
{
    struct kubernetes_workload e = *w;
    if (e.namespace == NULL)
        e.namespace = s->namespace;
    if (e.timeout == SERVO_UNSET)
        e.timeout = s->timeout;
    if (e.settlement == SERVO_UNSET)
        e.settlement = s->settlement;
    if (e.on_failure < 0)
        e.on_failure = s->on_failure;
    return e;
}

struct kube_target *kube_targets(const struct kubernetes_settings *s, size_t *count)
{
    size_t n = s->deployments.count + s->stateful_sets.count + s->rollouts.count;
    /* one block: the targets, then the effective workloads they point to */
    struct kube_target *t =
        servo_xcalloc(1, (n ? n : 1) * (sizeof *t + sizeof(struct kubernetes_workload)));
    struct kubernetes_workload *effective = (struct kubernetes_workload *)(t + (n ? n : 1));
    const struct kubernetes_workload *d = s->deployments.items;
    const struct kubernetes_workload *ss = s->stateful_sets.items;
    const struct kubernetes_workload *ro = s->rollouts.items;
    size_t sets_end = s->deployments.count + s->stateful_sets.count;
    for (size_t i = 0; i < n; i++) {
        enum kube_kind kind = i < s->deployments.count ? KUBE_DEPLOYMENT
                              : i < sets_end           ? KUBE_STATEFUL_SET
                                                       : KUBE_ROLLOUT_KIND;
        const struct kubernetes_workload *w = kind == KUBE_DEPLOYMENT ? &d[i]
                                              : kind == KUBE_STATEFUL_SET
                                                  ? &ss[i - s->deployments.count]
                                                  : &ro[i - sets_end];
        effective[i] = effective_workload(s, w);
        t[i] = (struct kube_target){kind, &effective[i]};
    }
    *count = n;
    return t;
}

int kube_client_of(struct servo_connector *connector, struct kube_client **client,
                   enum servo_error_kind kind, struct servo_error *error)
{
    const struct kube_state *st = state_of(connector);
    if (st == NULL || st->client == NULL)
        return servo_error_set(error, kind, "configuration", "no Kubernetes API client: %s",
                               st && st->client_error ? st->client_error : "not attached");
    *client = st->client;
    return 0;
}

int kubernetes_init(struct servo_connector *connector, struct servo_error *error)
{
    (void)error;
    const struct kubernetes_settings *s = settings_of(connector);
    struct kube_state *st = servo_xcalloc(1, sizeof *st);
    struct kube_config_source source = {s->kubeconfig, s->context};
    char *why = NULL;
    st->client = kube_client_create(&source, &why);
    if (st->client == NULL) {
        st->client_error = why ? why : kube_printf("the configuration cannot be used");
        servo_debug("%s", st->client_error);
    } else {
        free(why);
        /* one request never waits longer than the adjustment timeout (5 s to 60 s) */
        double seconds = servo_duration_seconds(s->timeout);
        kube_client_set_timeout(st->client, fmax(5.0, fmin(KUBE_DEFAULT_TIMEOUT, seconds)));
    }
    st->targets = kube_targets(s, &st->target_count);
    st->workload_labels = servo_xcalloc(st->target_count + 1, sizeof *st->workload_labels);
    st->container_labels = servo_xcalloc(st->target_count + 1, sizeof *st->container_labels);
    st->namespaces = servo_xcalloc(st->target_count + 1, sizeof *st->namespaces);
    for (size_t i = 0; i < st->target_count; i++) {
        const struct kube_target *t = &st->targets[i];
        st->workload_labels[i] = kube_printf("%s \"%s\"", kube_kind_name(t->kind), t->w->name);
        st->container_labels[i] = kube_printf("\"%s\" %s", t->w->name, kube_kind_name(t->kind));
        bool known = false;
        for (size_t n = 0; n < st->namespace_count && !known; n++)
            known = strcmp(st->namespaces[n], t->w->namespace) == 0;
        if (!known)
            st->namespaces[st->namespace_count++] = kube_printf("%s", t->w->namespace);
    }
    servo_connector_set_state(connector, st);
    return 0;
}

void kubernetes_fini(struct servo_connector *connector)
{
    struct kube_state *st = state_of(connector);
    if (st == NULL)
        return;
    kube_client_free(st->client);
    free(st->client_error);
    for (size_t i = 0; i < st->target_count; i++) {
        free(st->workload_labels[i]);
        free(st->container_labels[i]);
    }
    for (size_t i = 0; i < st->namespace_count; i++)
        free(st->namespaces[i]);
    free(st->workload_labels);
    free(st->container_labels);
    free(st->namespaces);
    free(st->targets);
    free(st);
    servo_connector_set_state(connector, NULL);
}

/* ---- telemetry -------------------------------------------------------------------------- */

static int on_telemetry(struct servo_connector *c, struct servo_event *event)
{
    const struct kubernetes_settings *s = settings_of(c);
    json_t *value = json_pack("{s:s}", "namespace", s->namespace);
    struct kube_state *st = state_of(c);
    if (st != NULL && st->client != NULL) {
        struct kube_config_source source = {s->kubeconfig, s->context};
        char *why = NULL;
        /* a client of its own: a short timeout, and none of the adjust's patience */
        struct kube_client *probe = kube_client_create(&source, &why);
        free(why);
        if (probe != NULL) {
            kube_client_set_timeout(probe, TELEMETRY_TIMEOUT);
            struct kube_response r;
            struct servo_error e = {0};
            if (kube_call(probe, event, "GET", "/version", NULL, NULL, "the version",
                          SERVO_ERROR_FAILED, &r, &e) == 0) {
                const char *major = json_string_value(json_object_get(r.body, "major"));
                const char *minor = json_string_value(json_object_get(r.body, "minor"));
                const char *platform = json_string_value(json_object_get(r.body, "platform"));
                if (major != NULL && minor != NULL) {
                    char *version = kube_printf("%s.%s", major, minor);
                    json_object_set_new(value, "version", json_string(version));
                    free(version);
                }
                if (platform != NULL)
                    json_object_set_new(value, "platform", json_string(platform));
            } else {
                servo_debug("telemetry: %s", e.message);
            }
            kube_response_clear(&r);
            kube_client_free(probe);
        }
    }
    servo_event_set_value(event, value);
    return 0;
}

/* ---- describe --------------------------------------------------------------------------- */

static int describe_workload(struct kube_client *client, struct servo_event *event,
                             const struct kube_target *t, struct servo_description *d,
                             enum servo_error_kind kind, struct servo_error *error)
{
    json_t *workload = NULL;
    if (kube_workload_get(client, event, t, kind, &workload, error) != 0)
        return -1;
    const json_t *spec = json_object_get(workload, "spec");
    const json_t *pod_spec = json_object_get(json_object_get(spec, "template"), "spec");
    const struct kubernetes_container *containers = t->w->containers.items;
    struct kube_notes notes = {0};
    int rc = 0;
    for (size_t i = 0; i < t->w->containers.count; i++) {
        const json_t *container = kube_find_container(pod_spec, containers[i].name);
        if (container == NULL) {
            char *names = kube_container_names(pod_spec);
            rc = servo_error_set(error, kind, "container-not-found",
                                 "container \"%s\" is not in %s \"%s\" in namespace \"%s\" "
                                 "(containers: %s)",
                                 containers[i].name, kube_kind_name(t->kind), t->w->name,
                                 t->w->namespace, names);
            free(names);
            break;
        }
        char *name = kube_component_name(t->w, &containers[i]);
        struct servo_component *component = servo_description_component(d, name);
        free(name);
        kube_describe_container(container, &containers[i], false, component, &notes);
        if (i == 0 && t->w->replicas != NULL) {
            const struct kubernetes_replicas *r = t->w->replicas;
            struct servo_setting *setting = servo_component_range(
                component, "replicas", NULL, (double)r->min, (double)r->max, (double)r->step);
            setting->integer = true;
            setting->pinned = r->pinned;
            const json_t *replicas = json_object_get(spec, "replicas");
            servo_setting_set_value(
                setting, json_is_integer(replicas) ? (double)json_integer_value(replicas) : 1.0);
        }
    }
    if (notes.text != NULL)
        servo_warning("%s", notes.text);
    kube_notes_free(&notes);
    json_decref(workload);
    return rc;
}

static int describe_all(struct servo_connector *c, struct servo_event *event,
                        enum servo_error_kind kind, struct servo_description **out,
                        struct servo_error *error)
{
    struct kube_client *client = NULL;
    if (kube_client_of(c, &client, kind, error) != 0)
        return -1;
    const struct kube_state *st = state_of(c);
    struct servo_description *d = servo_description_new();
    for (size_t i = 0; i < st->target_count; i++) {
        const struct kube_target *t = &st->targets[i];
        int rc = t->w->strategy.type == KUBERNETES_STRATEGY_CANARY
                     ? kube_canary_describe(client, event, t, d, kind, error)
                     : describe_workload(client, event, t, d, kind, error);
        if (rc != 0) {
            servo_description_free(d);
            return -1;
        }
    }
    *out = d;
    return 0;
}

static int on_describe(struct servo_connector *c, struct servo_event *event)
{
    struct servo_error error = {0};
    struct servo_description *d = NULL;
    if (describe_all(c, event, SERVO_ERROR_FAILED, &d, &error) != 0)
        return fail_event(event, &error);
    servo_event_set_description(event, d);
    return 0;
}

/* ---- before measure --------------------------------------------------------------------- */

static int before_measure(struct servo_connector *c, struct servo_event *event)
{
    const struct kube_state *st = state_of(c);
    const struct kubernetes_settings *s = settings_of(c);
    struct kube_client *client = NULL;
    struct servo_error error = {0};
    for (size_t i = 0; i < st->target_count; i++) {
        const struct kube_target *t = &st->targets[i];
        if (t->w->strategy.type != KUBERNETES_STRATEGY_CANARY)
            continue;
        if (client == NULL &&
            kube_client_of(c, &client, SERVO_ERROR_MEASUREMENT_FAILED, &error) != 0)
            return fail_event(event, &error);
        if (kube_canary_ensure(client, event, s, t, &error) != 0) {
            if (error.kind != SERVO_ERROR_CANCELLED)
                error.kind = SERVO_ERROR_MEASUREMENT_FAILED;
            return fail_event(event, &error);
        }
    }
    return 0;
}

/* ---- adjust ----------------------------------------------------------------------------- */

/* One workload's part of an adjust. */
struct plan {
    const struct kube_target *t;
    struct servo_adjustments adjustments;
    struct kube_snapshot snapshot; /* the template and replicas the patch replaced */
    bool changed;                  /* a patch was sent */
};

static bool same_value(const struct servo_setting *s, const struct servo_adjustment *a)
{
    if (!s->has_value)
        return false;
    char number[64];
    if (s->kind == SERVO_SETTING_ENUM) {
        const char *text = a->text;
        if (!a->is_text) {
            snprintf(number, sizeof number, "%.15g", a->value);
            text = number;
        }
        return s->text_value != NULL && strcmp(s->text_value, text) == 0;
    }
    double value = a->value;
    if (a->is_text) {
        char *end = NULL;
        value = strtod(a->text, &end);
        if (end == a->text || *end != '\0')
            return false;
    }
    return fabs(value - s->value) <= 1e-9 * fmax(1.0, fabs(s->value));
}

static bool owns_component(const struct kube_target *t, const char *component)
{
    const struct kubernetes_container *c = t->w->containers.items;
    bool canary = t->w->strategy.type == KUBERNETES_STRATEGY_CANARY;
    for (size_t i = 0; i < t->w->containers.count; i++) {
        char *main = kube_component_name(t->w, &c[i]);
        char *tuning = canary ? kube_tuning_component_name(t->w, &c[i]) : NULL;
        bool mine = strcmp(main, component) == 0 || (tuning && strcmp(tuning, component) == 0);
        free(main);
        free(tuning);
        if (mine)
            return true;
    }
    return false;
}

static void copy_adjustment(struct servo_adjustments *to, const struct servo_adjustment *a)
{
    if (a->is_text) {
        servo_adjustments_add_text(to, a->component, a->setting, a->text);
    } else {
        servo_adjustments_add(to, a->component, a->setting, a->value);
        to->items[to->count - 1].integer = a->integer;
    }
}

/* Sorts the adjustments of this connector's components into the plans; refuses what cannot
 * be applied (unknown settings, pinned ones changed) before anything is touched. Returns
 * the number of adjustments kept, or -1. */
static long plan_adjustments(const struct kube_state *st, const struct servo_description *before,
                             const struct servo_adjustments *all, struct plan *plans,
                             struct servo_error *error)
{
    long kept = 0;
    for (size_t i = 0; i < all->count; i++) {
        const struct servo_adjustment *a = &all->items[i];
        size_t owner = st->target_count;
        for (size_t k = 0; k < st->target_count && owner == st->target_count; k++)
            if (owns_component(&st->targets[k], a->component))
                owner = k;
        if (owner == st->target_count)
            continue; /* another connector's */
        const struct servo_component *component = servo_description_find(before, a->component);
        const struct servo_setting *s =
            component ? servo_component_find(component, a->setting) : NULL;
        if (s == NULL)
            return servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-adjustment",
                                   "%s.%s: component \"%s\" has no setting \"%s\"", a->component,
                                   a->setting, a->component, a->setting);
        if (s->pinned) {
            bool canary = st->targets[owner].w->strategy.type == KUBERNETES_STRATEGY_CANARY;
            if (same_value(s, a) || (canary && strcmp(a->setting, "replicas") == 0))
                continue; /* nothing to change; a tuning pod is always one replica */
            return servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-adjustment",
                                   "%s.%s: the setting is pinned", a->component, a->setting);
        }
        copy_adjustment(&plans[owner].adjustments, a);
        kept++;
    }
    return kept;
}

/* kube_change_fn of the default strategy: the adjustments written into the pod template
 * just read (and its snapshot kept), as a strategic-merge patch with its resourceVersion. */
static int adjust_change(void *context, const json_t *current, json_t **patch,
                         const char **patch_type, struct servo_error *error)
{
    (void)patch_type;
    struct plan *plan = context;
    const struct kubernetes_workload *w = plan->t->w;
    kube_snapshot_take(&plan->snapshot, current);
    const json_t *spec = json_object_get(current, "spec");
    const json_t *pod_spec = json_object_get(json_object_get(spec, "template"), "spec");
    json_t *entries = json_array();
    int64_t replicas = -1;
    const struct kubernetes_container *containers = w->containers.items;
    for (size_t i = 0; i < w->containers.count; i++) {
        const json_t *container = kube_find_container(pod_spec, containers[i].name);
        if (container == NULL) {
            char *names = kube_container_names(pod_spec);
            servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "container-not-found",
                            "container \"%s\" is not in %s \"%s\" (containers: %s)",
                            containers[i].name, kube_kind_name(plan->t->kind), w->name, names);
            free(names);
            json_decref(entries);
            return -1;
        }
        char *component = kube_component_name(w, &containers[i]);
        json_t *after = json_deep_copy(container);
        int rc = 0;
        for (size_t k = 0; k < plan->adjustments.count && rc == 0; k++) {
            const struct servo_adjustment *a = &plan->adjustments.items[k];
            if (strcmp(a->component, component) != 0)
                continue;
            char *problem = NULL;
            int applied = kube_apply_adjustment(after, &containers[i], a, &problem);
            if (applied < 0) {
                rc = servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-adjustment",
                                     "%s", problem);
                free(problem);
            } else if (applied == 1) {
                double v = a->is_text ? strtod(a->text, NULL) : a->value;
                if (w->replicas == NULL || !(v >= 0) || v != floor(v) || v > 1e9)
                    rc = servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-adjustment",
                                         "%s.replicas: %g is not a replica count it can set",
                                         a->component, v);
                else
                    replicas = (int64_t)v;
            }
        }
        free(component);
        if (rc != 0) {
            json_decref(after);
            json_decref(entries);
            return -1;
        }
        json_t *entry = kube_container_patch(container, after);
        json_decref(after);
        if (entry != NULL)
            json_array_append_new(entries, entry);
    }
    const json_t *current_replicas = json_object_get(spec, "replicas");
    if (replicas >= 0 && json_is_integer(current_replicas) &&
        json_integer_value(current_replicas) == replicas)
        replicas = -1;
    if (json_array_size(entries) == 0 && replicas < 0) {
        json_decref(entries);
        *patch = NULL;
        plan->changed = false;
        return 0;
    }
    const char *rv =
        json_string_value(json_object_get(json_object_get(current, "metadata"), "resourceVersion"));
    *patch = kube_workload_patch(rv, replicas, entries);
    plan->changed = true;
    return 0;
}

/* on_failure for a workload that was patched; returns 0 when the failure is ignored. */
static int handle_failure(struct kube_client *client, struct servo_event *event,
                          const struct kubernetes_settings *s, struct plan *plan,
                          struct servo_error *error)
{
    if (error->kind == SERVO_ERROR_CANCELLED || !plan->changed)
        return -1;
    const struct kube_target *t = plan->t;
    struct servo_error e = {0};
    switch ((enum kubernetes_failure_mode)t->w->on_failure) {
    case KUBERNETES_FAILURE_EXCEPTION:
        return -1;
    case KUBERNETES_FAILURE_IGNORE:
        servo_warning("Ignoring the failure of %s \"%s\" (on_failure: ignore): %s",
                      kube_kind_name(t->kind), t->w->name, error->message);
        servo_error_clear(error);
        return 0;
    case KUBERNETES_FAILURE_SHUTDOWN:
        if (kube_scale_to_zero(client, event, t, &e) == 0)
            append_message(error, "%s", " (on_failure: shutdown: scaled to zero replicas)");
        else
            append_message(error, " (on_failure: shutdown failed: %s)", e.message);
        return -1;
    case KUBERNETES_FAILURE_ROLLBACK:
        if (kube_rollback(client, event, s, t, &plan->snapshot, t->w->timeout, &e) == 0)
            append_message(error, "%s",
                           " (on_failure: rollback: the previous pod template and replica "
                           "count are restored)");
        else
            append_message(error, " (on_failure: rollback failed: %s)", e.message);
        return -1;
    }
    return -1;
}

static servo_duration settlement_of(const struct servo_event *event,
                                    const struct kubernetes_workload *w)
{
    servo_duration control = servo_event_control(event)->settlement;
    if (control != SERVO_UNSET)
        return control;
    return w->settlement == SERVO_UNSET ? 0 : w->settlement;
}

static int adjust_plans(struct kube_client *client, struct servo_event *event,
                        const struct kubernetes_settings *s, struct plan *plans, size_t count,
                        struct servo_error *error)
{
    struct kube_target *settling = servo_xcalloc(count, sizeof *settling);
    size_t *settling_plan = servo_xcalloc(count, sizeof *settling_plan);
    size_t settling_count = 0;
    servo_duration settlement = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct plan *plan = &plans[i];
        if (plan->adjustments.count == 0)
            continue;
        const struct kube_target *t = plan->t;
        if (t->w->strategy.type == KUBERNETES_STRATEGY_CANARY) {
            rc = kube_canary_adjust(client, event, s, t, &plan->adjustments,
                                    settlement_of(event, t->w), error);
            continue;
        }
        rc = kube_workload_update(client, event, t, adjust_change, plan,
                                  SERVO_ERROR_ADJUSTMENT_FAILED, NULL, error);
        if (rc != 0)
            break;
        if (!plan->changed)
            servo_info("%s \"%s\" already has these settings", kube_kind_name(t->kind), t->w->name);
        rc = kube_wait_rollout(client, event, s, t, t->w->timeout, true, error);
        if (rc != 0) {
            rc = handle_failure(client, event, s, plan, error);
            continue;
        }
        servo_info("%s \"%s\" rolled out", kube_kind_name(t->kind), t->w->name);
        servo_duration own = settlement_of(event, t->w);
        if (own > 0) {
            settling[settling_count] = *t;
            settling_plan[settling_count++] = i;
            if (own > settlement)
                settlement = own;
        }
    }
    if (rc == 0 && settling_count > 0) {
        size_t failed = 0;
        rc = kube_settle(client, event, s, settling, settling_count, settlement, &failed, error);
        if (rc != 0 && failed < settling_count)
            rc = handle_failure(client, event, s, &plans[settling_plan[failed]], error);
    }
    free(settling_plan);
    free(settling);
    return rc;
}

static int on_adjust(struct servo_connector *c, struct servo_event *event)
{
    const struct kubernetes_settings *s = settings_of(c);
    const struct kube_state *st = state_of(c);
    struct servo_error error = {0};
    struct kube_client *client = NULL;
    if (kube_client_of(c, &client, SERVO_ERROR_ADJUSTMENT_FAILED, &error) != 0)
        return fail_event(event, &error);
    struct servo_description *before = NULL;
    if (describe_all(c, event, SERVO_ERROR_ADJUSTMENT_FAILED, &before, &error) != 0)
        return fail_event(event, &error);
    struct plan *plans = servo_xcalloc(st->target_count ? st->target_count : 1, sizeof *plans);
    for (size_t i = 0; i < st->target_count; i++)
        plans[i].t = &st->targets[i];
    long kept = plan_adjustments(st, before, servo_event_adjustments(event), plans, &error);
    int rc = kept < 0 ? -1 : 0;
    if (kept > 0)
        rc = adjust_plans(client, event, s, plans, st->target_count, &error);
    for (size_t i = 0; i < st->target_count; i++) {
        servo_adjustments_clear(&plans[i].adjustments);
        kube_snapshot_clear(&plans[i].snapshot);
    }
    free(plans);
    if (rc != 0) {
        servo_description_free(before);
        return fail_event(event, &error);
    }
    if (kept == 0) {
        servo_event_set_description(event, before);
        return 0;
    }
    servo_description_free(before);
    struct servo_description *after = NULL;
    if (describe_all(c, event, SERVO_ERROR_ADJUSTMENT_FAILED, &after, &error) != 0)
        return fail_event(event, &error);
    servo_event_set_description(event, after);
    return 0;
}

const struct servo_handler kubernetes_handlers[] = {
    {SERVO_EVENT_TELEMETRY, SERVO_ON, on_telemetry},
    {SERVO_EVENT_DESCRIBE, SERVO_ON, on_describe},
    {SERVO_EVENT_COMPONENTS, SERVO_ON, on_describe},
    {SERVO_EVENT_MEASURE, SERVO_BEFORE, before_measure},
    {SERVO_EVENT_ADJUST, SERVO_ON, on_adjust},
    {NULL, 0, NULL},
};
