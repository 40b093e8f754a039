/* What a failed adjustment leaves behind. Before each patch, the exact pod template and
 * replica count are kept (from the very read the patch is built on, so nothing a concurrent
 * writer did in between can slip into it); rollback puts them back whole -- a JSON patch
 * replacing /spec/template and /spec/replicas, carrying the resourceVersion read so that a
 * concurrent change makes the API server answer 409 and the restore is redone from a fresh
 * read -- then waits for the rollout. Nothing of the user's template is lost: fields the
 * connector never touches come back exactly as they were. shutdown scales to zero. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

void kube_snapshot_take(struct kube_snapshot *snapshot, const json_t *workload)
{
    kube_snapshot_clear(snapshot);
    const json_t *spec = json_object_get(workload, "spec");
    const json_t *template = json_object_get(spec, "template");
    const json_t *replicas = json_object_get(spec, "replicas");
    snapshot->template = template ? json_deep_copy(template) : NULL;
    snapshot->replicas = json_is_integer(replicas) ? json_deep_copy(replicas) : NULL;
}

void kube_snapshot_clear(struct kube_snapshot *snapshot)
{
    json_decref(snapshot->template);
    json_decref(snapshot->replicas);
    snapshot->template = NULL;
    snapshot->replicas = NULL;
}

json_t *kube_rollback_patch(const json_t *current, const struct kube_snapshot *snapshot)
{
    const json_t *spec = json_object_get(current, "spec");
    bool same_template = snapshot->template == NULL ||
                         json_equal(json_object_get(spec, "template"), snapshot->template);
    bool same_replicas = snapshot->replicas == NULL ||
                         json_equal(json_object_get(spec, "replicas"), snapshot->replicas);
    if (same_template && same_replicas)
        return NULL;
    json_t *patch = json_array();
    const char *rv =
        json_string_value(json_object_get(json_object_get(current, "metadata"), "resourceVersion"));
    if (rv != NULL)
        json_array_append_new(patch, json_pack("{s:s, s:s, s:s}", "op", "replace", "path",
                                               "/metadata/resourceVersion", "value", rv));
    if (!same_template)
        json_array_append_new(patch, json_pack("{s:s, s:s, s:O}", "op", "replace", "path",
                                               "/spec/template", "value", snapshot->template));
    if (!same_replicas)
        json_array_append_new(patch, json_pack("{s:s, s:s, s:O}", "op", "add", "path",
                                               "/spec/replicas", "value", snapshot->replicas));
    return patch;
}

static int rollback_change(void *context, const json_t *current, json_t **patch,
                           const char **patch_type, struct servo_error *error)
{
    (void)error;
    *patch = kube_rollback_patch(current, context);
    *patch_type = "json";
    return 0;
}

int kube_rollback(struct kube_client *client, struct servo_event *event,
                  const struct kubernetes_settings *s, const struct kube_target *t,
                  const struct kube_snapshot *snapshot, servo_duration timeout,
                  struct servo_error *error)
{
    if (snapshot->template == NULL && snapshot->replicas == NULL)
        return servo_error_set(error, SERVO_ERROR_ADJUSTMENT_FAILED, "rollback-failed",
                               "nothing to roll %s \"%s\" back to", kube_kind_name(t->kind),
                               t->w->name);
    servo_info("Rolling %s \"%s\" back to its previous pod template and replica count",
               kube_kind_name(t->kind), t->w->name);
    if (kube_workload_update(client, event, t, rollback_change, (void *)snapshot,
                             SERVO_ERROR_ADJUSTMENT_FAILED, NULL, error) != 0)
        return -1;
    if (kube_wait_rollout(client, event, s, t, timeout, false, error) != 0)
        return -1;
    servo_info("%s \"%s\" is back to its previous state", kube_kind_name(t->kind), t->w->name);
    return 0;
}

static int zero_change(void *context, const json_t *current, json_t **patch,
                       const char **patch_type, struct servo_error *error)
{
    (void)context;
    (void)error;
    (void)patch_type;
    const json_t *replicas = json_object_get(json_object_get(current, "spec"), "replicas");
    if (json_is_integer(replicas) && json_integer_value(replicas) == 0) {
        *patch = NULL;
        return 0;
    }
    const char *rv =
        json_string_value(json_object_get(json_object_get(current, "metadata"), "resourceVersion"));
    *patch = kube_workload_patch(rv, 0, NULL);
    return 0;
}

int kube_scale_to_zero(struct kube_client *client, struct servo_event *event,
                       const struct kube_target *t, struct servo_error *error)
{
    servo_warning("Shutting %s \"%s\" down: scaling it to zero replicas", kube_kind_name(t->kind),
                  t->w->name);
    return kube_workload_update(client, event, t, zero_change, NULL, SERVO_ERROR_ADJUSTMENT_FAILED,
                                NULL, error);
}
