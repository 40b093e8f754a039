/* Pure functions reading the state the controllers and the kubelet write: why a pod fails
 * (the rejection reasons the optimizer understands), whether it is ready, which ReplicaSet
 * is a Deployment's current one, and how far a rollout is. tests/data/kubernetes/ holds
 * recorded objects for each case. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static int64_t integer(const json_t *object, const char *key, int64_t absent)
{
    const json_t *v = json_object_get(object, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : absent;
}

/* The condition of that type (borrowed), or NULL. */
static const json_t *condition(const json_t *status, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(status, "conditions"), i, c)
    {
        const char *t = str(c, "type");
        if (t != NULL && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

static bool condition_is(const json_t *status, const char *type, const char *value)
{
    const char *s = str(condition(status, type), "status");
    return s != NULL && strcmp(s, value) == 0;
}

static bool one_of(const char *text, const char *const *list)
{
    for (size_t i = 0; text != NULL && list[i] != NULL; i++)
        if (strcmp(text, list[i]) == 0)
            return true;
    return false;
}

static const char *const image_pull_reasons[] = {"ErrImagePull",        "ImagePullBackOff",
                                                 "InvalidImageName",    "ErrImageNeverPull",
                                                 "RegistryUnavailable", NULL};
static const char *const start_reasons[] = {
    "CrashLoopBackOff",  "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
    "PreStartHookError", "PostStartHookError",         "ContainerCannotRun",   NULL};

/* ": <text>" quoted (cut), or "" (caller frees). */
static char *detail(const char *text)
{
    if (text == NULL || text[0] == '\0')
        return kube_printf("%s", "");
    char *quoted = kube_quote(text, KUBE_QUOTE_MAX);
    char *out = kube_printf(": %s", quoted);
    free(quoted);
    return out;
}

/* " (last exit: Error, code 1)" from lastState.terminated, or "" (caller frees). */
static char *last_exit(const json_t *status)
{
    const json_t *t = json_object_get(json_object_get(status, "lastState"), "terminated");
    if (t == NULL)
        return kube_printf("%s", "");
    const char *reason = str(t, "reason");
    return kube_printf(" (last exit: %s, code %lld; %lld restarts)", reason ? reason : "?",
                       (long long)integer(t, "exitCode", 0),
                       (long long)integer(status, "restartCount", 0));
}

/* A failure shown by one container status: its reason, or NULL. */
static const char *container_failure(const char *pod, const json_t *status, bool init,
                                     char **message)
{
    const char *name = str(status, "name");
    const json_t *state = json_object_get(status, "state");
    const json_t *waiting = json_object_get(state, "waiting");
    const json_t *terminated = json_object_get(state, "terminated");
    const char *what = init ? "init container" : "container";
    const char *reason = NULL;
    const char *why = NULL;
    const char *text = NULL;
    if (waiting != NULL) {
        why = str(waiting, "reason");
        text = str(waiting, "message");
        if (one_of(why, image_pull_reasons))
            reason = KUBE_REASON_IMAGE_PULL;
        else if (one_of(why, start_reasons))
            reason = KUBE_REASON_START_FAILED;
    } else if (terminated != NULL && integer(terminated, "exitCode", 0) != 0) {
        why = str(terminated, "reason");
        text = str(terminated, "message");
        reason = KUBE_REASON_START_FAILED;
    }
    if (reason == NULL)
        return NULL;
    char *d = detail(text);
    char *last = last_exit(status);
    if (terminated != NULL)
        *message = kube_printf("pod %s: %s %s terminated: %s (exit code %lld)%s%s", pod, what,
                               name ? name : "?", why ? why : "Error",
                               (long long)integer(terminated, "exitCode", 0), d, last);
    else
        *message = kube_printf("pod %s: %s %s is waiting: %s%s%s", pod, what, name ? name : "?",
                               why, d, strcmp(reason, KUBE_REASON_START_FAILED) == 0 ? last : "");
    free(d);
    free(last);
    return reason;
}

const char *kube_pod_failure(const json_t *pod, char **message, const char **container)
{
    const char *name = str(json_object_get(pod, "metadata"), "name");
    const json_t *status = json_object_get(pod, "status");
    if (name == NULL)
        name = "?";
    if (container != NULL)
        *container = NULL;
    static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(status, lists[l]), i, cs)
        {
            const char *reason = container_failure(name, cs, l == 0, message);
            if (reason != NULL) {
                if (container != NULL)
                    *container = str(cs, "name");
                return reason;
            }
        }
    }
    const json_t *scheduled = condition(status, "PodScheduled");
    if (condition_is(status, "PodScheduled", "False") &&
        one_of(str(scheduled, "reason"), (const char *const[]){"Unschedulable", NULL})) {
        char *d = detail(str(scheduled, "message"));
        *message = kube_printf("pod %s is unschedulable%s", name, d);
        free(d);
        return KUBE_REASON_UNSCHEDULABLE;
    }
    const char *phase = str(status, "phase");
    if (phase != NULL && strcmp(phase, "Failed") == 0) {
        const char *why = str(status, "reason");
        char *d = detail(str(status, "message"));
        *message = kube_printf("pod %s failed%s%s%s", name, why ? ": " : "", why ? why : "", d);
        free(d);
        return KUBE_REASON_START_FAILED;
    }
    return NULL;
}

bool kube_pod_ready(const json_t *pod)
{
    return condition_is(json_object_get(pod, "status"), "Ready", "True");
}

int64_t kube_pod_restarts(const json_t *pod)
{
    int64_t total = 0;
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "containerStatuses"), i, cs)
        total += integer(cs, "restartCount", 0);
    return total;
}

char *kube_pod_summary(const json_t *pod)
{
    const json_t *status = json_object_get(pod, "status");
    const char *phase = str(status, "phase");
    if (phase == NULL)
        phase = "Pending";
    if (kube_pod_ready(pod))
        return kube_printf("%s, ready", phase);
    const char *why = str(condition(status, "Ready"), "reason");
    if (why == NULL)
        why = str(condition(status, "PodScheduled"), "reason");
    return why ? kube_printf("%s, not ready: %s", phase, why) : kube_printf("%s, not ready", phase);
}

/* ---- ReplicaSets ------------------------------------------------------------------------ */

static bool controlled_by(const json_t *object, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(object, "metadata"), "ownerReferences"), i,
                       ref)
    {
        const char *u = str(ref, "uid");
        if (u != NULL && strcmp(u, uid) == 0 && json_is_true(json_object_get(ref, "controller")))
            return true;
    }
    return false;
}

static long long revision_of(const json_t *rs)
{
    const char *text = str(json_object_get(json_object_get(rs, "metadata"), "annotations"),
                           KUBE_REVISION_ANNOTATION);
    if (text == NULL)
        return -1;
    char *end = NULL;
    long long r = strtoll(text, &end, 10);
    return end != text && *end == '\0' ? r : -1;
}

static bool equal_but_for(const json_t *a, const json_t *b, const char *const *path);

/* The member `key` of two objects, a and b its values (NULL when absent): equal, or, when
 * `key` leads `path`, equal but for what the rest of `path` names inside it. */
static bool member_equal(const char *key, const json_t *a, const json_t *b, const char *const *path)
{
    if (strcmp(key, path[0]) != 0)
        return a != NULL && b != NULL && json_equal(a, b);
    return path[1] == NULL || equal_but_for(a, b, path + 1);
}

/* Equal JSON but for the member at `path` (keys, NULL-terminated), which may differ or be
 * missing on either side; on the way to it a missing object counts as an empty one. */
static bool equal_but_for(const json_t *a, const json_t *b, const char *const *path)
{
    if ((a != NULL && !json_is_object(a)) || (b != NULL && !json_is_object(b)))
        return a != NULL && b != NULL && json_equal(a, b);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)a, key, value)
    {
        if (!member_equal(key, value, json_object_get(b, key), path))
            return false;
    }
    json_object_foreach((json_t *)b, key, value)
    {
        if (json_object_get(a, key) == NULL && !member_equal(key, NULL, value, path))
            return false;
    }
    return true;
}

bool kube_replica_set_has_template(const json_t *rs, const json_t *template)
{
    static const char *const hash_label[] = {"metadata", "labels", KUBE_TEMPLATE_HASH_LABEL, NULL};
    const json_t *own = json_object_get(json_object_get(rs, "spec"), "template");
    return own != NULL && template != NULL && equal_but_for(own, template, hash_label);
}

const json_t *kube_newest_replica_set(const json_t *items, const char *owner_uid,
                                      const json_t *template)
{
    const json_t *best = NULL;
    long long best_revision = -1;
    size_t i;
    json_t *rs;
    json_array_foreach(items, i, rs)
    {
        if (owner_uid != NULL && !controlled_by(rs, owner_uid))
            continue;
        if (template != NULL && !kube_replica_set_has_template(rs, template))
            continue;
        long long r = revision_of(rs);
        if (best == NULL || r > best_revision) {
            best = rs;
            best_revision = r;
        }
    }
    return best;
}

const char *kube_replica_set_failure(const json_t *rs, char **message)
{
    const json_t *status = json_object_get(rs, "status");
    if (!condition_is(status, "ReplicaFailure", "True"))
        return NULL;
    const json_t *c = condition(status, "ReplicaFailure");
    const char *name = str(json_object_get(rs, "metadata"), "name");
    const char *why = str(c, "reason");
    char *d = detail(str(c, "message"));
    *message = kube_printf("ReplicaSet %s cannot create pods: %s%s", name ? name : "?",
                           why ? why : "ReplicaFailure", d);
    free(d);
    return KUBE_REASON_START_FAILED;
}

/* ---- rollouts --------------------------------------------------------------------------- */

/* A pending Deployment's message, `progress` (taken), led by the reason when it is paused:
 * the controller rolls out no new template while the Deployment is paused, so the wait can end
 * only when someone resumes it, or in the timeout. */
static enum kube_rollout deployment_pending(const json_t *spec, const char *name, char *progress,
                                            char **message)
{
    if (!json_is_true(json_object_get(spec, "paused"))) {
        *message = progress;
        return KUBE_ROLLOUT_PENDING;
    }
    *message = kube_printf("Deployment %s is paused (spec.paused), and the controller rolls it out "
                           "only once it is resumed: %s",
                           name, progress);
    free(progress);
    return KUBE_ROLLOUT_PENDING;
}

enum kube_rollout kube_deployment_rollout(const json_t *deployment, char **message)
{
    const json_t *metadata = json_object_get(deployment, "metadata");
    const json_t *spec = json_object_get(deployment, "spec");
    const json_t *status = json_object_get(deployment, "status");
    const char *name = str(metadata, "name");
    if (name == NULL)
        name = "?";
    int64_t generation = integer(metadata, "generation", 0);
    int64_t observed = integer(status, "observedGeneration", 0);
    if (observed < generation) {
        *message = kube_printf("waiting for the deployment controller to observe generation %lld",
                               (long long)generation);
        return KUBE_ROLLOUT_PENDING;
    }
    /* the conditions are the controller's verdict on the generation it has seen: stale
     * until then (a rollback starts with the failed rollout's ProgressDeadlineExceeded) */
    const json_t *progressing = condition(status, "Progressing");
    if (condition_is(status, "Progressing", "False") &&
        one_of(str(progressing, "reason"),
               (const char *const[]){"ProgressDeadlineExceeded", NULL})) {
        char *d = detail(str(progressing, "message"));
        *message = kube_printf("Deployment %s exceeded its progress deadline%s", name, d);
        free(d);
        return KUBE_ROLLOUT_FAILED;
    }
    if (condition_is(status, "ReplicaFailure", "True")) {
        const json_t *c = condition(status, "ReplicaFailure");
        char *d = detail(str(c, "message"));
        *message = kube_printf("Deployment %s cannot create pods: %s%s", name,
                               str(c, "reason") ? str(c, "reason") : "ReplicaFailure", d);
        free(d);
        return KUBE_ROLLOUT_FAILED;
    }
    int64_t desired = integer(spec, "replicas", 1);
    int64_t updated = integer(status, "updatedReplicas", 0);
    int64_t replicas = integer(status, "replicas", 0);
    int64_t available = integer(status, "availableReplicas", 0);
    if (updated < desired)
        return deployment_pending(
            spec, name,
            kube_printf("%lld of %lld replicas updated", (long long)updated, (long long)desired),
            message);
    if (replicas > updated)
        return deployment_pending(
            spec, name,
            kube_printf("%lld old replicas pending termination", (long long)(replicas - updated)),
            message);
    if (available < updated)
        return deployment_pending(spec, name,
                                  kube_printf("%lld of %lld updated replicas available",
                                              (long long)available, (long long)updated),
                                  message);
    *message =
        kube_printf("%lld of %lld replicas available", (long long)available, (long long)desired);
    return KUBE_ROLLOUT_DONE;
}

enum kube_rollout kube_stateful_set_rollout(const json_t *sts, char **message)
{
    const json_t *metadata = json_object_get(sts, "metadata");
    const json_t *spec = json_object_get(sts, "spec");
    const json_t *status = json_object_get(sts, "status");
    int64_t generation = integer(metadata, "generation", 0);
    int64_t observed = integer(status, "observedGeneration", 0);
    if (observed < generation) {
        *message = kube_printf("waiting for the statefulset controller to observe generation %lld",
                               (long long)generation);
        return KUBE_ROLLOUT_PENDING;
    }
    int64_t desired = integer(spec, "replicas", 1);
    int64_t replicas = integer(status, "replicas", 0);
    int64_t ready = integer(status, "readyReplicas", 0);
    int64_t updated = integer(status, "updatedReplicas", 0);
    const char *strategy = str(json_object_get(spec, "updateStrategy"), "type");
    bool on_delete = strategy != NULL && strcmp(strategy, "OnDelete") == 0;
    if (!on_delete && desired > 0 && updated < desired) {
        *message =
            kube_printf("%lld of %lld replicas updated", (long long)updated, (long long)desired);
        return KUBE_ROLLOUT_PENDING;
    }
    if (replicas > desired) {
        *message =
            kube_printf("%lld extra replicas pending termination", (long long)(replicas - desired));
        return KUBE_ROLLOUT_PENDING;
    }
    if (ready < desired) {
        *message = kube_printf("%lld of %lld replicas ready", (long long)ready, (long long)desired);
        return KUBE_ROLLOUT_PENDING;
    }
    const char *current = str(status, "currentRevision");
    const char *update = str(status, "updateRevision");
    if (!on_delete && desired > 0 && update != NULL &&
        (current == NULL || strcmp(current, update) != 0)) {
        *message = kube_printf("waiting for revision %s to become current", update);
        return KUBE_ROLLOUT_PENDING;
    }
    *message = kube_printf("%lld of %lld replicas ready", (long long)ready, (long long)desired);
    return KUBE_ROLLOUT_DONE;
}

/* Argo writes status.observedGeneration as a string ("3"); older versions as a number. */
static int64_t observed_generation(const json_t *status)
{
    const json_t *value = json_object_get(status, "observedGeneration");
    if (json_is_string(value))
        return strtoll(json_string_value(value), NULL, 10);
    return json_is_integer(value) ? (int64_t)json_integer_value(value) : 0;
}

/* Why a Rollout is paused, to lead its pending message (caller frees), or NULL. The rollouts
 * controller reports phase Paused, ahead of any replica count, for spec.paused and for any
 * status.pauseConditions (a canary pause step, a blue-green pause before promotion, an
 * inconclusive analysis or experiment): the rollout is not done, even when the current step
 * has every replica updated and available (a pause after setWeight: 100), until the pause ends
 * or someone promotes it (CalculateRolloutPhase in utils/rollout/rolloututil.go of
 * argoproj/argo-rollouts). controllerPause with no pauseConditions left is a pause the user
 * ended that the controller has not acted on yet (IsUnpausing there); the phase it wrote is
 * then stale. */
static char *rollout_pause(const json_t *spec, const json_t *status, const char *name)
{
    if (json_is_true(json_object_get(spec, "paused")))
        return kube_printf("Rollout %s is paused (spec.paused), and the rollouts controller rolls "
                           "it out only once it is resumed",
                           name);
    const json_t *conditions = json_object_get(status, "pauseConditions");
    if (json_array_size(conditions) > 0) {
        char *reasons = kube_join_field(conditions, "reason");
        char *out = kube_printf("Rollout %s is paused by its strategy (%s), and is rolled out only "
                                "once the pause ends or it is promoted (kubectl argo rollouts "
                                "promote %s)",
                                name, reasons, name);
        free(reasons);
        return out;
    }
    if (json_is_true(json_object_get(status, "controllerPause")))
        return kube_printf("Rollout %s is being resumed (its pauseConditions were cleared), "
                           "waiting for the rollouts controller to go on",
                           name);
    const char *phase = str(status, "phase");
    if (phase != NULL && strcmp(phase, "Paused") == 0) {
        const char *why = str(status, "message");
        return kube_printf("Rollout %s is paused (phase Paused%s%s), and is rolled out only once "
                           "the pause ends or it is promoted (kubectl argo rollouts promote %s)",
                           name, why ? ": " : "", why ? why : "", name);
    }
    return NULL;
}

enum kube_rollout kube_argo_rollout(const json_t *rollout, char **message)
{
    const json_t *spec = json_object_get(rollout, "spec");
    const json_t *status = json_object_get(rollout, "status");
    const char *phase = str(status, "phase");
    if (phase != NULL && strcmp(phase, "Degraded") == 0) {
        const char *why = str(status, "message");
        *message = kube_printf("the rollout is degraded: %s", why ? why : "no message");
        return KUBE_ROLLOUT_FAILED;
    }
    int64_t generation = integer(json_object_get(rollout, "metadata"), "generation", 0);
    if (observed_generation(status) < generation) {
        *message = kube_printf("waiting for the rollouts controller to observe generation %lld",
                               (long long)generation);
        return KUBE_ROLLOUT_PENDING;
    }
    int64_t desired = integer(spec, "replicas", 1);
    int64_t updated = integer(status, "updatedReplicas", 0);
    int64_t available = integer(status, "availableReplicas", 0);
    int64_t replicas = integer(status, "replicas", 0);
    const char *name = str(json_object_get(rollout, "metadata"), "name");
    char *paused = rollout_pause(spec, status, name ? name : "?");
    if (paused != NULL || updated < desired || available < desired || replicas > desired) {
        *message = kube_printf("%s%s%lld of %lld replicas updated, %lld available",
                               paused ? paused : "", paused ? ": " : "", (long long)updated,
                               (long long)desired, (long long)available);
        free(paused);
        return KUBE_ROLLOUT_PENDING;
    }
    *message =
        kube_printf("%lld of %lld replicas available", (long long)available, (long long)desired);
    return KUBE_ROLLOUT_DONE;
}
