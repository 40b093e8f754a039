/* The canary strategy: a tuning pod "<deployment>-tuning" next to the Deployment (or Argo
 * Rollout: the same, from the Rollout's spec.template; a Rollout that references its template
 * through spec.workloadRef has none and is refused, naming it), cloned from its pod template
 * (labels plus opsani_role: tuning, so a Service selecting the Deployment's pods sends it its share
 * of traffic; no pod-template-hash, so no ReplicaSet adopts it; annotation
 * opsani.com/opsani_tuning_for: <deployment>; owned by the servo's own Deployment when POD_NAME and
 * POD_NAMESPACE say where the servo runs, so that uninstalling the servo removes it). The
 * Deployment itself is never changed.
 *
 * Two components per container: the main one (the container's alias or
 * <deployment>/<container>), every setting pinned to the Deployment's values, with a
 * synthetic replicas setting (0-99999, pinned, the Deployment's count); and the tuning one
 * (the strategy's alias or <deployment>/<container>-tuning) with the tuning pod's values and
 * replicas 0-1 (pinned; 1 when the pod exists). Adjusting the tuning component deletes the
 * pod and creates it again with the new values (the other settings keep the values the pod
 * had), then waits until it is ready and watches it through the settlement. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

static const char *str(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static char *pod_path(const struct kubernetes_workload *w)
{
    char *name = kube_tuning_pod_name(w);
    char *path = kube_printf("/api/v1/namespaces/%s/pods/%s", w->namespace, name);
    free(name);
    return path;
}

static char *pod_what(const struct kubernetes_workload *w)
{
    return kube_printf("tuning pod \"%s-tuning\" in namespace \"%s\"", w->name, w->namespace);
}

int kube_tuning_get(struct kube_client *client, struct servo_event *event,
                    const struct kubernetes_workload *w, json_t **pod, struct servo_error *error)
{
    char *path = pod_path(w);
    char *what = pod_what(w);
    struct kube_response r;
    *pod = NULL;
    int rc = kube_call(client, event, "GET", path, NULL, NULL, what, SERVO_ERROR_FAILED, &r, error);
    if (rc != 0 && r.status == 404) {
        rc = 0;
    } else if (rc == 0 &&
               json_object_get(json_object_get(r.body, "metadata"), "deletionTimestamp") == NULL) {
        *pod = json_incref(r.body);
    }
    kube_response_clear(&r);
    free(what);
    free(path);
    return rc;
}

/* ---- values and the pod's body ---------------------------------------------------------- */

/* Copies what the settings manage from a previous tuning pod's container into the template's:
 * resources, the env settings' and the encoder's variables, and (target args) the args. */
static void carry_over(json_t *container, const json_t *previous,
                       const struct kubernetes_container *cfg)
{
    const json_t *resources = json_object_get(previous, "resources");
    if (resources != NULL && (cfg->cpu != NULL || cfg->memory != NULL))
        json_object_set_new(container, "resources", json_deep_copy(resources));
    const struct kubernetes_jvm *jvm = cfg->encoders.jvm;
    if (jvm != NULL && jvm->target == KUBERNETES_TARGET_ARGS && json_object_get(previous, "args"))
        json_object_set_new(container, "args", json_deep_copy(json_object_get(previous, "args")));
    size_t count = cfg->env.count + (jvm != NULL && jvm->target == KUBERNETES_TARGET_ENV);
    const struct kubernetes_env *env = cfg->env.items;
    for (size_t i = 0; i < count; i++) {
        const char *variable = i < cfg->env.count ? (env[i].literal ? env[i].literal : env[i].name)
                                                  : (jvm->env ? jvm->env : "JAVA_OPTS");
        size_t k;
        json_t *entry;
        json_array_foreach(json_object_get(previous, "env"), k, entry)
        {
            const char *name = str(entry, "name");
            const char *value = str(entry, "value");
            if (name != NULL && strcmp(name, variable) == 0 && value != NULL)
                kube_set_env(container, variable, value);
        }
    }
}

/* Why the workload has no pod template to copy (caller frees), or NULL when it has one. */
static char *no_template(const json_t *workload, const struct kubernetes_workload *w)
{
    const json_t *spec = json_object_get(workload, "spec");
    if (json_is_object(json_object_get(json_object_get(spec, "template"), "spec")))
        return NULL;
    const char *kind = str(workload, "kind") ? str(workload, "kind") : "Deployment";
    if (json_object_get(spec, "workloadRef") != NULL)
        return kube_printf("%s %s has no pod template: it references one through "
                           "spec.workloadRef, which the canary strategy does not support (give "
                           "the Rollout a spec.template)",
                           kind, w->name);
    return kube_printf("%s %s has no pod template", kind, w->name);
}

int kube_tuning_pod_body(const json_t *deployment, const struct kubernetes_workload *w,
                         const json_t *base, const struct servo_adjustments *adjustments,
                         const json_t *owner, json_t **body, char **error)
{
    const json_t *template = json_object_get(json_object_get(deployment, "spec"), "template");
    const json_t *tmeta = json_object_get(template, "metadata");
    const char *kind = str(deployment, "kind") ? str(deployment, "kind") : "Deployment";
    if ((*error = no_template(deployment, w)) != NULL)
        return -1;
    json_t *spec = json_deep_copy(json_object_get(template, "spec"));
    const json_t *base_spec = json_object_get(base, "spec");
    const struct kubernetes_container *c = w->containers.items;
    for (size_t i = 0; i < w->containers.count; i++) {
        json_t *container = kube_find_container(spec, c[i].name);
        if (container == NULL) {
            char *names = kube_container_names(spec);
            *error = kube_printf("container \"%s\" is not in the pod template of %s %s "
                                 "(containers: %s)",
                                 c[i].name, kind, w->name, names);
            free(names);
            json_decref(spec);
            return -1;
        }
        const json_t *previous = base_spec ? kube_find_container(base_spec, c[i].name) : NULL;
        if (previous != NULL)
            carry_over(container, previous, &c[i]);
        char *component = kube_tuning_component_name(w, &c[i]);
        for (size_t k = 0; adjustments != NULL && k < adjustments->count; k++) {
            const struct servo_adjustment *a = &adjustments->items[k];
            if (strcmp(a->component, component) != 0)
                continue;
            if (kube_apply_adjustment(container, &c[i], a, error) < 0) {
                free(component);
                json_decref(spec);
                return -1;
            }
        }
        free(component);
        kube_apply_static_env(container, &c[i]);
    }
    json_t *labels = json_deep_copy(json_object_get(tmeta, "labels"));
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    json_object_set_new(labels, KUBE_TUNING_LABEL, json_string(KUBE_TUNING_ROLE));
    json_t *annotations = json_deep_copy(json_object_get(tmeta, "annotations"));
    if (!json_is_object(annotations)) {
        json_decref(annotations);
        annotations = json_object();
    }
    json_object_set_new(annotations, KUBE_TUNING_FOR_ANNOTATION, json_string(w->name));
    char *name = kube_tuning_pod_name(w);
    json_t *metadata = json_pack("{s:s, s:s, s:o, s:o}", "name", name, "namespace", w->namespace,
                                 "labels", labels, "annotations", annotations);
    free(name);
    if (owner != NULL)
        json_object_set_new(metadata, "ownerReferences", json_pack("[O]", owner));
    *body = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                      metadata, "spec", spec);
    return 0;
}

/* The servo's own Deployment as an owner reference, when POD_NAME and POD_NAMESPACE say the
 * servo runs in the workload's namespace (best effort: NULL otherwise). */
static json_t *servo_owner(struct kube_client *client, struct servo_event *event,
                           const struct kubernetes_workload *w)
{
    const char *pod = getenv("POD_NAME");
    const char *ns = getenv("POD_NAMESPACE");
    if (pod == NULL || ns == NULL || pod[0] == '\0' || strcmp(ns, w->namespace) != 0)
        return NULL;
    json_t *owner = NULL;
    char *path = kube_printf("/api/v1/namespaces/%s/pods/%s", ns, pod);
    const char *levels[] = {"ReplicaSet", "Deployment"};
    const char *paths[] = {"replicasets", "deployments"};
    json_t *object = NULL;
    struct kube_response r;
    struct servo_error e = {0};
    if (kube_call(client, event, "GET", path, NULL, NULL, "the servo's pod", SERVO_ERROR_FAILED, &r,
                  &e) == 0)
        object = json_incref(r.body);
    kube_response_clear(&r);
    free(path);
    for (size_t level = 0; object != NULL && level < 2; level++) {
        const json_t *ref = NULL;
        size_t i;
        json_t *candidate;
        json_array_foreach(json_object_get(json_object_get(object, "metadata"), "ownerReferences"),
                           i, candidate)
        {
            const char *kind = str(candidate, "kind");
            if (kind != NULL && strcmp(kind, levels[level]) == 0 &&
                json_is_true(json_object_get(candidate, "controller")))
                ref = candidate;
        }
        if (ref == NULL)
            break;
        if (level == 1) {
            owner = json_pack("{s:s, s:s, s:s?, s:s?}", "apiVersion", "apps/v1", "kind",
                              "Deployment", "name", str(ref, "name"), "uid", str(ref, "uid"));
            break;
        }
        path = kube_printf("/apis/apps/v1/namespaces/%s/%s/%s", ns, paths[level],
                           str(ref, "name") ? str(ref, "name") : "?");
        json_decref(object);
        object = NULL;
        if (kube_call(client, event, "GET", path, NULL, NULL, "the servo's ReplicaSet",
                      SERVO_ERROR_FAILED, &r, &e) == 0)
            object = json_incref(r.body);
        kube_response_clear(&r);
        free(path);
    }
    json_decref(object);
    if (owner == NULL && e.message[0] != '\0')
        servo_debug("the tuning pod gets no owner: %s", e.message);
    return owner;
}

/* ---- the pod's life cycle --------------------------------------------------------------- */

/* Deletes the tuning pod (if it exists) and waits until it is gone, at most `timeout`. */
static int delete_pod(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_workload *w, servo_duration timeout,
                      struct servo_error *error)
{
    char *path = pod_path(w);
    char *what = pod_what(w);
    json_t *options = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    struct kube_response r;
    int rc = kube_call(client, event, "DELETE", path, options, NULL, what,
                       SERVO_ERROR_ADJUSTMENT_FAILED, &r, error);
    json_decref(options);
    const char *uid = str(json_object_get(r.body, "metadata"), "uid");
    char *deleted = uid ? kube_printf("%s", uid) : NULL;
    if (rc != 0 && r.status == 404)
        rc = 0;
    kube_response_clear(&r);
    double started = kube_now();
    double limit = servo_duration_seconds(timeout);
    while (rc == 0) {
        rc = kube_call(client, event, "GET", path, NULL, NULL, what, SERVO_ERROR_ADJUSTMENT_FAILED,
                       &r, error);
        const char *now = str(json_object_get(r.body, "metadata"), "uid");
        bool gone = (rc != 0 && r.status == 404) ||
                    (rc == 0 && deleted != NULL && now != NULL && strcmp(now, deleted) != 0);
        kube_response_clear(&r);
        if (gone) {
            rc = 0;
            break;
        }
        if (rc != 0)
            break;
        if (kube_now() - started >= limit) {
            rc = servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "timeout",
                                 "%s was not gone within the timeout after its deletion", what);
            break;
        }
        if (kube_sleep(event, KUBE_POLL_INTERVAL) != 0)
            rc = servo_error_set(error, SERVO_ERROR_CANCELLED, "cancelled", "%s: cancelled", what);
    }
    free(deleted);
    free(what);
    free(path);
    return rc;
}

static int create_pod(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_workload *w, const json_t *body,
                      struct servo_error *error)
{
    char *path = kube_printf("/api/v1/namespaces/%s/pods", w->namespace);
    char *what = pod_what(w);
    struct kube_response r;
    int rc = kube_call(client, event, "POST", path, body, NULL, what, SERVO_ERROR_ADJUSTMENT_FAILED,
                       &r, error);
    kube_response_clear(&r);
    free(what);
    free(path);
    return rc;
}

/* Waits until the tuning pod is ready, at most `timeout`; its failures are rejections (at
 * once with `fail_fast`, else only when the time runs out). */
static int wait_ready(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_settings *s, const struct kubernetes_workload *w,
                      servo_duration timeout, bool fail_fast, struct servo_error *error)
{
    char *what = pod_what(w);
    char duration[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(timeout, duration);
    double started = kube_now();
    double limit = servo_duration_seconds(timeout);
    double reported = 0;
    int rc = -1;
    for (;;) {
        json_t *pod = NULL;
        if (kube_tuning_get(client, event, w, &pod, error) != 0)
            break;
        if (pod == NULL) {
            servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, KUBE_REASON_START_FAILED,
                            "%s disappeared while starting", what);
            break;
        }
        if (kube_pod_ready(pod)) {
            json_decref(pod);
            rc = 0;
            break;
        }
        double elapsed = kube_now() - started;
        json_t *one = json_pack("[O]", pod);
        int verdict = fail_fast || elapsed >= limit
                          ? kube_pods_verdict(client, event, s, one, what, error)
                          : 0;
        json_decref(one);
        char *summary = kube_pod_summary(pod);
        json_decref(pod);
        if (verdict != 0) {
            free(summary);
            break;
        }
        kube_progress(event, &reported, limit > 0 ? fmin(99.0, 100.0 * elapsed / limit) : 0,
                      "waiting for the tuning pod %s-tuning: %s", w->name, summary);
        if (elapsed >= limit) {
            servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, KUBE_REASON_START_FAILED,
                            "%s did not become ready within %s: %s", what, duration, summary);
            free(summary);
            break;
        }
        free(summary);
        if (kube_sleep(event, KUBE_POLL_INTERVAL) != 0) {
            servo_error_set(error, SERVO_ERROR_CANCELLED, "cancelled", "%s: cancelled", what);
            break;
        }
    }
    free(what);
    return rc;
}

/* Watches the tuning pod through the settlement: it must stay ready without restarting. */
static int settle_pod(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_workload *w, servo_duration settlement,
                      struct servo_error *error)
{
    if (settlement <= 0)
        return 0;
    char *what = pod_what(w);
    char duration[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(settlement, duration);
    servo_info("Settling for %s: the tuning pod must stay ready", duration);
    double started = kube_now();
    double limit = servo_duration_seconds(settlement);
    double reported = 0;
    int64_t baseline = -1;
    char *uid = NULL;
    int rc = 0;
    for (;;) {
        json_t *pod = NULL;
        if (kube_tuning_get(client, event, w, &pod, error) != 0) {
            rc = -1;
            break;
        }
        const char *pod_uid = pod ? str(json_object_get(pod, "metadata"), "uid") : NULL;
        if (uid == NULL && pod_uid != NULL)
            uid = kube_printf("%s", pod_uid);
        char *why = NULL;
        if (pod == NULL || pod_uid == NULL || strcmp(pod_uid, uid) != 0) {
            why = kube_printf("the pod is gone");
        } else {
            int64_t restarts = kube_pod_restarts(pod);
            if (baseline < 0)
                baseline = restarts;
            char *failure = NULL;
            const char *reason = kube_pod_failure(pod, &failure, NULL);
            if (restarts > baseline)
                why = kube_printf("it restarted (%lld restarts)%s%s", (long long)restarts,
                                  reason ? ": " : "", reason ? failure : "");
            else if (!kube_pod_ready(pod)) {
                char *summary = kube_pod_summary(pod);
                why = reason ? kube_printf("%s", failure)
                             : kube_printf("it is no longer ready (%s)", summary);
                free(summary);
            }
            free(failure);
        }
        json_decref(pod);
        if (why != NULL) {
            rc = servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, KUBE_REASON_UNSTABLE,
                                 "%s became unstable %.0f s into the settlement period (%s): %s",
                                 what, kube_now() - started, duration, why);
            free(why);
            break;
        }
        double elapsed = kube_now() - started;
        if (elapsed >= limit)
            break;
        kube_progress(event, &reported, fmin(99.0, 100.0 * elapsed / limit),
                      "settling: %.0f s of %s", elapsed, duration);
        if (kube_sleep(event, KUBE_POLL_INTERVAL) != 0) {
            rc = servo_error_set(error, SERVO_ERROR_CANCELLED, "cancelled",
                                 "cancelled during the settlement period");
            break;
        }
    }
    free(uid);
    free(what);
    return rc;
}

/* Deletes the tuning pod and creates it again from `base` and `adjustments` (see
 * kube_tuning_pod_body), without waiting for it to be ready. */
static int recreate(struct kube_client *client, struct servo_event *event,
                    const struct kubernetes_workload *w, const json_t *deployment,
                    const json_t *base, const struct servo_adjustments *adjustments,
                    struct servo_error *error)
{
    json_t *body = NULL;
    char *problem = NULL;
    json_t *owner = servo_owner(client, event, w);
    int rc = kube_tuning_pod_body(deployment, w, base, adjustments, owner, &body, &problem);
    json_decref(owner);
    if (rc != 0) {
        servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "invalid-adjustment", "%s", problem);
        free(problem);
        return -1;
    }
    rc = delete_pod(client, event, w, w->timeout, error);
    if (rc == 0)
        rc = create_pod(client, event, w, body, error);
    json_decref(body);
    return rc;
}

/* ---- describe, before measure, adjust --------------------------------------------------- */

static struct servo_setting *replicas_setting(struct servo_component *c, double max, double value)
{
    struct servo_setting *s = servo_component_range(c, "replicas", NULL, 0, max, 1);
    s->integer = true;
    s->pinned = true;
    servo_setting_set_value(s, value);
    return s;
}

int kube_canary_describe(struct kube_client *client, struct servo_event *event,
                         const struct kube_target *t, struct servo_description *d,
                         enum servo_error_kind kind, struct servo_error *error)
{
    const struct kubernetes_workload *w = t->w;
    json_t *deployment = NULL;
    if (kube_workload_get(client, event, t, kind, &deployment, error) != 0)
        return -1;
    char *problem = no_template(deployment, w);
    if (problem != NULL) {
        servo_error_set(error, kind, "no-pod-template", "%s", problem);
        free(problem);
        json_decref(deployment);
        return -1;
    }
    json_t *pod = NULL;
    if (kube_tuning_get(client, event, w, &pod, error) != 0) {
        error->kind = kind;
        json_decref(deployment);
        return -1;
    }
    const json_t *spec = json_object_get(deployment, "spec");
    const json_t *template_spec = json_object_get(json_object_get(spec, "template"), "spec");
    const json_t *replicas = json_object_get(spec, "replicas");
    struct kube_notes notes = {0};
    const struct kubernetes_container *c = w->containers.items;
    int rc = 0;
    for (size_t i = 0; i < w->containers.count && rc == 0; i++) {
        const json_t *container = kube_find_container(template_spec, c[i].name);
        if (container == NULL) {
            char *names = kube_container_names(template_spec);
            rc = servo_error_set(error, kind, "container-not-found",
                                 "container \"%s\" is not in %s \"%s\" in namespace "
                                 "\"%s\" (containers: %s)",
                                 c[i].name, kube_kind_name(t->kind), w->name, w->namespace, names);
            free(names);
            break;
        }
        char *main_name = kube_component_name(w, &c[i]);
        struct servo_component *main = servo_description_component(d, main_name);
        kube_describe_container(container, &c[i], true, main, &notes);
        if (i == 0)
            replicas_setting(main, 99999,
                             json_is_integer(replicas) ? (double)json_integer_value(replicas) : 1);
        free(main_name);
        char *tuning_name = kube_tuning_component_name(w, &c[i]);
        struct servo_component *tuning = servo_description_component(d, tuning_name);
        const json_t *tuned =
            pod ? kube_find_container(json_object_get(pod, "spec"), c[i].name) : container;
        kube_describe_container(tuned, &c[i], false, tuning, &notes);
        if (i == 0)
            replicas_setting(tuning, 1, pod ? 1 : 0);
        free(tuning_name);
    }
    if (notes.text != NULL)
        servo_warning("%s", notes.text);
    kube_notes_free(&notes);
    json_decref(pod);
    json_decref(deployment);
    return rc;
}

int kube_canary_ensure(struct kube_client *client, struct servo_event *event,
                       const struct kubernetes_settings *s, const struct kube_target *t,
                       struct servo_error *error)
{
    const struct kubernetes_workload *w = t->w;
    const char *kind = kube_kind_name(t->kind);
    json_t *pod = NULL;
    if (kube_tuning_get(client, event, w, &pod, error) != 0)
        return -1;
    if (pod != NULL) {
        bool ready = kube_pod_ready(pod);
        json_decref(pod);
        if (ready)
            return 0;
        return wait_ready(client, event, s, w, w->timeout, true, error);
    }
    if (!s->create_tuning_pod) {
        servo_warning("%s %s has no tuning pod, and create_tuning_pod is false: it is "
                      "not created",
                      kind, w->name);
        return 0;
    }
    json_t *deployment = NULL;
    if (kube_workload_get(client, event, t, SERVO_ERROR_FAILED, &deployment, error) != 0)
        return -1;
    servo_info("Creating the tuning pod %s-tuning from the pod template of %s %s", w->name, kind,
               w->name);
    int rc = recreate(client, event, w, deployment, NULL, NULL, error);
    json_decref(deployment);
    if (rc == 0)
        rc = wait_ready(client, event, s, w, w->timeout, true, error);
    return rc;
}

static void append(struct servo_error *error, const char *text)
{
    size_t used = strlen(error->message);
    snprintf(error->message + used, sizeof error->message - used, "%s", text);
}

/* on_failure for the tuning pod; returns what the adjust returns. */
static int on_failure(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_settings *s, const struct kubernetes_workload *w,
                      const json_t *deployment, const json_t *previous, struct servo_error *error)
{
    struct servo_error e = {0};
    switch ((enum kubernetes_failure_mode)w->on_failure) {
    case KUBERNETES_FAILURE_EXCEPTION:
        return -1;
    case KUBERNETES_FAILURE_IGNORE:
        servo_warning("ignoring the failure (on_failure: ignore): %s", error->message);
        servo_error_clear(error);
        return 0;
    case KUBERNETES_FAILURE_SHUTDOWN: {
        servo_warning("on_failure: shutdown: the tuning pod of %s goes back to the template's "
                      "values",
                      w->name);
        if (recreate(client, event, w, deployment, NULL, NULL, &e) != 0)
            servo_error("shutting the tuning pod down failed too: %s", e.message);
        else
            append(error, " (on_failure: shutdown: the tuning pod has the template's settings "
                          "again)");
        return -1;
    }
    case KUBERNETES_FAILURE_ROLLBACK: {
        servo_warning("on_failure: rollback: the tuning pod of %s goes back to its previous "
                      "values",
                      w->name);
        int rc = previous != NULL ? recreate(client, event, w, deployment, previous, NULL, &e)
                                  : delete_pod(client, event, w, w->timeout, &e);
        if (rc == 0 && previous != NULL)
            rc = wait_ready(client, event, s, w, w->timeout, false, &e);
        if (rc != 0)
            servo_error("the rollback failed too: %s", e.message);
        else
            append(error, previous != NULL ? " (on_failure: rollback: the tuning pod has its "
                                             "previous settings again)"
                                           : " (on_failure: rollback: the tuning pod is deleted, "
                                             "as it did not exist before)");
        return -1;
    }
    }
    return -1;
}

int kube_canary_adjust(struct kube_client *client, struct servo_event *event,
                       const struct kubernetes_settings *s, const struct kube_target *t,
                       const struct servo_adjustments *adjustments, servo_duration settlement,
                       struct servo_error *error)
{
    const struct kubernetes_workload *w = t->w;
    json_t *deployment = NULL;
    if (kube_workload_get(client, event, t, SERVO_ERROR_ADJUSTMENT_FAILED, &deployment, error) != 0)
        return -1;
    json_t *pod = NULL;
    if (kube_tuning_get(client, event, w, &pod, error) != 0) {
        error->kind = SERVO_ERROR_ADJUSTMENT_FAILED;
        json_decref(deployment);
        return -1;
    }
    if (pod == NULL && !s->create_tuning_pod) {
        json_decref(deployment);
        return servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "no-tuning-pod",
                               "%s %s has no tuning pod, and create_tuning_pod is "
                               "false",
                               kube_kind_name(t->kind), w->name);
    }
    /* the tuning pod is always one replica: replicas adjustments are dropped */
    struct servo_adjustments next = {0};
    for (size_t i = 0; i < adjustments->count; i++) {
        const struct servo_adjustment *a = &adjustments->items[i];
        if (strcmp(a->setting, "replicas") == 0) {
            if (a->is_text || a->value != 1)
                servo_info("%s.replicas: the tuning pod is always one replica; %s ignored",
                           a->component, a->is_text ? a->text : "the value");
            continue;
        }
        if (a->is_text)
            servo_adjustments_add_text(&next, a->component, a->setting, a->text);
        else
            servo_adjustments_add(&next, a->component, a->setting, a->value);
    }
    servo_info("Recreating the tuning pod %s-tuning with the new settings", w->name);
    bool changed = false;
    int rc = recreate(client, event, w, deployment, pod, &next, error);
    if (rc == 0) {
        changed = true;
        rc = wait_ready(client, event, s, w, w->timeout, true, error);
    }
    if (rc == 0)
        rc = settle_pod(client, event, w, settlement, error);
    if (rc != 0 && changed && error->kind != SERVO_ERROR_CANCELLED)
        rc = on_failure(client, event, s, w, deployment, pod, error);
    servo_adjustments_clear(&next);
    json_decref(pod);
    json_decref(deployment);
    return rc;
}
