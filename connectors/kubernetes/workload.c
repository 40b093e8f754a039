/* Deployments and StatefulSets through the API server: reading them, changing them with a
 * read-modify-write that carries the resourceVersion read (a concurrent writer makes the API
 * server answer 409 Conflict, and the change is built again from a fresh read), listing
 * their current pods, waiting for a rollout (observedGeneration, updated and available
 * replicas, the newest ReplicaSet of the current pod template, the pods' states) and watching
 * them through the settlement period. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "servo/log.h"

/* ---- helpers ---------------------------------------------------------------------------- */

double kube_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int kube_sleep(struct servo_event *event, servo_duration duration)
{
    if (event != NULL)
        return servo_event_sleep(event, duration);
    struct timespec ts = {(time_t)(duration / SERVO_SECOND), (long)(duration % SERVO_SECOND)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

void kube_progress(struct servo_event *event, double *last, double percent, const char *fmt, ...)
{
    double now = kube_now();
    if (last != NULL && *last > 0 && now - *last < KUBE_PROGRESS_INTERVAL)
        return;
    if (last != NULL)
        *last = now;
    va_list ap;
    va_start(ap, fmt);
    char *message = servo_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (event != NULL)
        servo_event_progress(event, percent, "%s", message);
    else
        servo_debug("%s", message);
    free(message);
}

static const char *status_reason(long status)
{
    switch (status) {
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not-found";
    case 409:
        return "conflict";
    case 422:
        return "invalid";
    default:
        return status >= 500 ? "server-error" : "api-error";
    }
}

int kube_call(struct kube_client *client, struct servo_event *event, const char *method,
              const char *path, const json_t *body, const char *patch_type, const char *what,
              enum servo_error_kind kind, struct kube_response *r, struct servo_error *error)
{
    if (kube_request(client, method, path, body, patch_type, event, r) != 0) {
        enum servo_error_kind k =
            strcmp(r->reason, "cancelled") == 0 ? SERVO_ERROR_CANCELLED : kind;
        return servo_error_set(error, k, r->reason, "%s: %s", what,
                               r->message ? r->message : "the request failed");
    }
    if (r->status >= 200 && r->status < 300)
        return 0;
    return servo_error_set(error, kind, status_reason(r->status), "%s: %s", what,
                           r->message ? r->message : "the request failed");
}

static const char *str(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

static int64_t integer(const json_t *object, const char *key, int64_t absent)
{
    const json_t *v = json_object_get(object, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : absent;
}

static char *what_of(const struct kube_target *t)
{
    return kube_printf("%s \"%s\" in namespace \"%s\"", kube_kind_name(t->kind), t->w->name,
                       t->w->namespace);
}

/* Whether the API server serves rollouts in argoproj.io/v1alpha1 (the CRD is installed). */
static bool rollouts_served(struct kube_client *client, struct servo_event *event)
{
    struct kube_response r;
    struct servo_error ignored = {0};
    bool served = false;
    if (kube_call(client, event, "GET", "/apis/" KUBE_ROLLOUT_GROUP_VERSION, NULL, NULL,
                  "the API group argoproj.io/v1alpha1", SERVO_ERROR_FAILED, &r, &ignored) == 0) {
        size_t i;
        json_t *resource;
        json_array_foreach(json_object_get(r.body, "resources"), i, resource)
        {
            const char *name = json_string_value(json_object_get(resource, "name"));
            served = served || (name != NULL && strcmp(name, "rollouts") == 0);
        }
    }
    kube_response_clear(&r);
    return served;
}

int kube_workload_get(struct kube_client *client, struct servo_event *event,
                      const struct kube_target *t, enum servo_error_kind kind, json_t **out,
                      struct servo_error *error)
{
    char *path = kube_workload_path(t->kind, t->w);
    char *what = what_of(t);
    struct kube_response r;
    int rc = kube_call(client, event, "GET", path, NULL, NULL, what, kind, &r, error);
    if (rc != 0 && r.status == 404 && t->kind == KUBE_ROLLOUT_KIND &&
        !rollouts_served(client, event))
        servo_error_set(error, kind, "crd-missing",
                        "%s: the Rollout CRD (%s) is not installed in the cluster: install Argo "
                        "Rollouts, or tune a Deployment instead",
                        what, KUBE_ROLLOUT_CRD);
    else if (rc != 0 && r.status == 404)
        servo_error_set(error, kind, "not-found", "%s was not found", what);
    if (rc == 0 && !json_is_object(r.body))
        rc = servo_error_set(error, kind, "invalid-response", "%s: the answer is not an object",
                             what);
    if (rc == 0)
        *out = json_incref(r.body);
    kube_response_clear(&r);
    free(what);
    free(path);
    return rc;
}

/* $SERVO_KUBE_TEST_WRITE_DELAY (seconds, at most 10): a pause between the read and the write
 * of a read-modify-write, so that a test can change the object in between and get the 409
 * deterministically. Unset in normal use. */
static void write_delay(struct servo_event *event)
{
    const char *text = getenv("SERVO_KUBE_TEST_WRITE_DELAY");
    if (text == NULL || text[0] == '\0')
        return;
    char *end = NULL;
    double seconds = strtod(text, &end);
    if (end == text || *end != '\0' || !(seconds > 0) || seconds > 10)
        return;
    servo_info("read; pausing %g s before the write (SERVO_KUBE_TEST_WRITE_DELAY)", seconds);
    kube_sleep(event, (servo_duration)(seconds * 1e9));
}

/* ---- custom resources: no strategic merge ----------------------------------------------- */

/* The members of `patch` set onto `target`, null ones deleted, as a merge patch does. */
static void merge_object(json_t *target, const json_t *patch)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value)
    {
        if (json_is_null(value))
            json_object_del(target, key);
        else
            json_object_set(target, key, value);
    }
}

/* An env entry of the patch onto the container's env list, merged by name. */
static void merge_env(json_t *container, const json_t *entries)
{
    json_t *env = json_object_get(container, "env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(container, "env", env);
    }
    size_t i, k;
    json_t *entry, *e;
    json_array_foreach(entries, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));
        json_t *found = NULL;
        json_array_foreach(env, k, e)
        {
            const char *n = json_string_value(json_object_get(e, "name"));
            if (found == NULL && name != NULL && n != NULL && strcmp(n, name) == 0)
                found = e;
        }
        if (found != NULL)
            merge_object(found, entry);
        else
            json_array_append_new(env, json_deep_copy(entry));
    }
}

/* The container entries of a strategic-merge patch (kube_container_patch: resources, env
 * merged by name, args) applied to the current containers: the whole list, for a merge
 * patch. */
static json_t *merged_containers(const json_t *current, const json_t *entries)
{
    const json_t *template_spec =
        json_object_get(json_object_get(json_object_get(current, "spec"), "template"), "spec");
    json_t *containers = json_deep_copy(json_object_get(template_spec, "containers"));
    size_t i, k;
    json_t *entry, *c;
    json_array_foreach(entries, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));
        json_array_foreach(containers, k, c)
        {
            const char *n = json_string_value(json_object_get(c, "name"));
            if (name == NULL || n == NULL || strcmp(n, name) != 0)
                continue;
            const char *key;
            json_t *value;
            json_object_foreach(entry, key, value)
            {
                if (strcmp(key, "env") == 0)
                    merge_env(c, value);
                else
                    json_object_set(c, key, value);
            }
        }
    }
    return containers;
}

/* A custom resource (a Rollout) takes merge patches only: the strategic patch's containers
 * become the whole list, merged here. */
static json_t *as_merge_patch(const json_t *current, json_t *strategic)
{
    json_t *template_spec =
        json_object_get(json_object_get(json_object_get(strategic, "spec"), "template"), "spec");
    json_t *entries = json_object_get(template_spec, "containers");
    if (entries != NULL)
        json_object_set_new(template_spec, "containers", merged_containers(current, entries));
    return strategic;
}

int kube_workload_update(struct kube_client *client, struct servo_event *event,
                         const struct kube_target *t, kube_change_fn change, void *context,
                         enum servo_error_kind kind, json_t **result, struct servo_error *error)
{
    char *path = kube_workload_path(t->kind, t->w);
    char *what = what_of(t);
    int rc = -1;
    for (int attempt = 1; attempt <= KUBE_CONFLICT_ATTEMPTS; attempt++) {
        json_t *current = NULL;
        if (kube_workload_get(client, event, t, kind, &current, error) != 0)
            break;
        json_t *patch = NULL;
        const char *patch_type = "strategic";
        if (change(context, current, &patch, &patch_type, error) != 0) {
            json_decref(current);
            break;
        }
        if (patch == NULL) {
            if (result != NULL)
                *result = current;
            else
                json_decref(current);
            rc = 0;
            break;
        }
        if (t->kind == KUBE_ROLLOUT_KIND && strcmp(patch_type, "strategic") == 0) {
            patch = as_merge_patch(current, patch);
            patch_type = "merge";
        }
        json_decref(current);
        write_delay(event);
        struct kube_response r;
        rc = kube_call(client, event, "PATCH", path, patch, patch_type, what, kind, &r, error);
        json_decref(patch);
        if (rc == 0) {
            if (result != NULL)
                *result = json_incref(r.body);
            kube_response_clear(&r);
            break;
        }
        bool conflict = r.status == 409;
        kube_response_clear(&r);
        if (!conflict)
            break;
        servo_info("%s was changed by someone else meanwhile (409 Conflict): reading it again "
                   "(attempt %d of %d)",
                   what,
                   attempt + 1 > KUBE_CONFLICT_ATTEMPTS ? KUBE_CONFLICT_ATTEMPTS : attempt + 1,
                   KUBE_CONFLICT_ATTEMPTS);
        if (attempt == KUBE_CONFLICT_ATTEMPTS)
            servo_error_set(error, kind, "conflict",
                            "%s: gave up after %d conflicting writes (409 Conflict): another "
                            "writer keeps changing it",
                            what, KUBE_CONFLICT_ATTEMPTS);
    }
    free(what);
    free(path);
    return rc;
}

/* ---- lists ------------------------------------------------------------------------------ */

static long page_size(void)
{
    const char *text = getenv("SERVO_KUBE_LIST_LIMIT");
    if (text != NULL) {
        char *end = NULL;
        long n = strtol(text, &end, 10);
        if (end != text && *end == '\0' && n > 0 && n <= 10000)
            return n;
    }
    return KUBE_LIST_PAGE;
}

int kube_list(struct kube_client *client, struct servo_event *event, const char *path,
              const char *selector, const char *what, json_t **items, struct servo_error *error)
{
    json_t *all = json_array();
    char *token = NULL;
    char *escaped_selector = selector ? kube_query_escape(selector) : NULL;
    long limit = page_size();
    int rc = 0;
    for (;;) {
        char *escaped_token = token ? kube_query_escape(token) : NULL;
        char *url = kube_printf(
            "%s?limit=%ld%s%s%s%s", path, limit, escaped_selector ? "&labelSelector=" : "",
            escaped_selector ? escaped_selector : "", escaped_token ? "&continue=" : "",
            escaped_token ? escaped_token : "");
        free(escaped_token);
        struct kube_response r;
        rc = kube_call(client, event, "GET", url, NULL, NULL, what, SERVO_ERROR_FAILED, &r, error);
        free(url);
        if (rc != 0) {
            kube_response_clear(&r);
            break;
        }
        json_t *page = json_object_get(r.body, "items");
        size_t i;
        json_t *item;
        json_array_foreach(page, i, item)
        {
            if (json_array_size(all) >= KUBE_LIST_MAX)
                break;
            json_array_append(all, item);
        }
        const char *next = str(json_object_get(r.body, "metadata"), "continue");
        free(token);
        token = next && next[0] ? kube_printf("%s", next) : NULL;
        kube_response_clear(&r);
        if (token == NULL)
            break;
        if (json_array_size(all) >= KUBE_LIST_MAX) {
            servo_warning("%s: more than %d items; only the first %d are looked at", what,
                          KUBE_LIST_MAX, KUBE_LIST_MAX);
            break;
        }
    }
    free(token);
    free(escaped_selector);
    if (rc != 0) {
        json_decref(all);
        return -1;
    }
    *items = all;
    return 0;
}

static bool controlled_by(const json_t *object, const char *uid)
{
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(json_object_get(object, "metadata"), "ownerReferences"), i,
                       ref)
    {
        const char *u = str(ref, "uid");
        if (u != NULL && uid != NULL && strcmp(u, uid) == 0 &&
            json_is_true(json_object_get(ref, "controller")))
            return true;
    }
    return false;
}

int kube_workload_pods(struct kube_client *client, struct servo_event *event,
                       const struct kube_target *t, const json_t *workload, json_t **pods,
                       json_t **replica_set, struct servo_error *error)
{
    if (replica_set != NULL)
        *replica_set = NULL;
    const char *ns = t->w->namespace;
    const char *uid = str(json_object_get(workload, "metadata"), "uid");
    char *problem = NULL;
    char *selector = kube_label_selector(
        json_object_get(json_object_get(workload, "spec"), "selector"), &problem);
    if (selector == NULL) {
        servo_error_set(error, SERVO_ERROR_FAILED, "invalid-selector", "%s %s: %s",
                        kube_kind_name(t->kind), t->w->name, problem);
        free(problem);
        return -1;
    }
    const char *owner_uid = uid;
    char *pod_selector = NULL;
    json_t *newest = NULL;
    if (t->kind == KUBE_DEPLOYMENT) {
        char *path = kube_printf("/apis/apps/v1/namespaces/%s/replicasets", ns);
        char *what = kube_printf("the ReplicaSets of Deployment \"%s\"", t->w->name);
        json_t *sets = NULL;
        int rc = kube_list(client, event, path, selector, what, &sets, error);
        free(what);
        free(path);
        if (rc != 0) {
            free(selector);
            return -1;
        }
        /* The ReplicaSet of the Deployment's template, not merely the newest: a change of
         * replicas and template together is first synced as a scaling event, which marks the
         * generation observed before the new ReplicaSet exists. Until it does, there are no
         * pods to judge; the old template's would be judged for the new settings. */
        const json_t *rs = kube_newest_replica_set(
            sets, uid, json_object_get(json_object_get(workload, "spec"), "template"));
        if (rs != NULL) {
            newest = json_incref((json_t *)rs);
            const char *hash = str(json_object_get(json_object_get(rs, "metadata"), "labels"),
                                   KUBE_TEMPLATE_HASH_LABEL);
            owner_uid = str(json_object_get(rs, "metadata"), "uid");
            pod_selector = hash ? kube_printf("%s," KUBE_TEMPLATE_HASH_LABEL "=%s", selector, hash)
                                : kube_printf("%s", selector);
        }
        json_decref(sets);
        if (rs == NULL) {
            free(selector);
            *pods = json_array();
            return 0;
        }
    } else if (t->kind == KUBE_ROLLOUT_KIND) {
        /* the pods of the current template: Argo labels them with its hash */
        const char *hash = str(json_object_get(workload, "status"), "currentPodHash");
        pod_selector = hash ? kube_printf("%s,rollouts-pod-template-hash=%s", selector, hash)
                            : kube_printf("%s", selector);
        owner_uid = NULL; /* their owner is a ReplicaSet of the Rollout */
    } else {
        const char *revision = str(json_object_get(workload, "status"), "updateRevision");
        pod_selector = revision ? kube_printf("%s,controller-revision-hash=%s", selector, revision)
                                : kube_printf("%s", selector);
    }
    free(selector);
    char *path = kube_printf("/api/v1/namespaces/%s/pods", ns);
    char *what = kube_printf("the pods of %s \"%s\"", kube_kind_name(t->kind), t->w->name);
    json_t *all = NULL;
    int rc = kube_list(client, event, path, pod_selector, what, &all, error);
    free(what);
    free(path);
    free(pod_selector);
    if (rc != 0) {
        json_decref(newest);
        return -1;
    }
    json_t *mine = json_array();
    size_t i;
    json_t *pod;
    json_array_foreach(all, i, pod)
    {
        if (json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp") != NULL)
            continue;
        if (owner_uid != NULL && !controlled_by(pod, owner_uid))
            continue;
        json_array_append(mine, pod);
    }
    json_decref(all);
    *pods = mine;
    if (replica_set != NULL)
        *replica_set = newest;
    else
        json_decref(newest);
    return 0;
}

/* ---- verdicts --------------------------------------------------------------------------- */

/* The last lines of a container's log, or why they cannot be had (caller frees). */
static char *container_logs(struct kube_client *client, struct servo_event *event,
                            const json_t *pod, const char *container)
{
    const json_t *metadata = json_object_get(pod, "metadata");
    const char *ns = str(metadata, "namespace");
    const char *name = str(metadata, "name");
    bool previous = kube_pod_restarts(pod) > 0;
    char *escaped = kube_query_escape(container);
    char *path = kube_printf("/api/v1/namespaces/%s/pods/%s/log?container=%s&tailLines=%d%s",
                             ns ? ns : "default", name ? name : "?", escaped, KUBE_LOG_LINES,
                             previous ? "&previous=true" : "");
    free(escaped);
    struct kube_response r;
    struct servo_error e = {0};
    char *out;
    if (kube_call(client, event, "GET", path, NULL, NULL, "the logs", SERVO_ERROR_FAILED, &r, &e) ==
        0) {
        char *quoted = kube_quote(r.text ? r.text : "", KUBE_QUOTE_MAX * 4);
        out = kube_printf("logs of container %s%s:\n%s", container,
                          previous ? " (previous run)" : "", quoted[0] ? quoted : "(empty)");
        free(quoted);
    } else {
        out = kube_printf("logs of container %s unavailable: %s", container, e.message);
    }
    kube_response_clear(&r);
    free(path);
    return out;
}

int kube_pods_verdict(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_settings *s, const json_t *pods, const char *what,
                      struct servo_error *error)
{
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        char *message = NULL;
        const char *container = NULL;
        const char *reason = kube_pod_failure(pod, &message, &container);
        if (reason == NULL)
            continue;
        if (s != NULL && s->container_logs_in_error_status && container != NULL) {
            char *logs = container_logs(client, event, pod, container);
            char *joined = kube_printf("%s\n%s", message, logs);
            free(logs);
            free(message);
            message = joined;
        }
        servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, reason, "%s: %s", what, message);
        free(message);
        return -1;
    }
    return 0;
}

/* "pod a: Running, ready; pod b: Pending, not ready: Unschedulable" (caller frees). */
static char *pods_summary(const json_t *pods)
{
    char *out = kube_printf("%s", "");
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        if (i == 5) {
            char *next = kube_printf("%s; and %zu more", out, json_array_size(pods) - 5);
            free(out);
            return next;
        }
        char *summary = kube_pod_summary(pod);
        const char *name = str(json_object_get(pod, "metadata"), "name");
        char *next = kube_printf("%s%spod %s: %s", out, i ? "; " : "", name ? name : "?", summary);
        free(summary);
        free(out);
        out = next;
    }
    return out;
}

/* ---- rollouts --------------------------------------------------------------------------- */

static enum kube_rollout rollout_of(enum kube_kind kind, const json_t *workload, char **message)
{
    switch (kind) {
    case KUBE_STATEFUL_SET:
        return kube_stateful_set_rollout(workload, message);
    case KUBE_ROLLOUT_KIND:
        return kube_argo_rollout(workload, message);
    case KUBE_DEPLOYMENT:
        break;
    }
    return kube_deployment_rollout(workload, message);
}

/* Transport failures and server errors are retried until the deadline; anything else ends
 * the wait. */
static bool transient(const struct servo_error *e)
{
    return strcmp(e->reason, "timeout") == 0 || strcmp(e->reason, "connect") == 0 ||
           strcmp(e->reason, "transport") == 0 || strcmp(e->reason, "server-error") == 0;
}

int kube_wait_rollout(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_settings *s, const struct kube_target *t,
                      servo_duration timeout, bool fail_fast, struct servo_error *error)
{
    double started = kube_now();
    double limit = servo_duration_seconds(timeout);
    char *what = what_of(t);
    char duration[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(timeout, duration);
    char *last = kube_printf("no answer yet");
    json_t *last_pods = NULL;
    double reported = 0;
    int rc = -1;
    for (;;) {
        struct servo_error e = {0};
        json_t *workload = NULL;
        if (kube_workload_get(client, event, t, SERVO_ERROR_ADJUSTMENT_FAILED, &workload, &e) !=
            0) {
            if (e.kind == SERVO_ERROR_CANCELLED || !transient(&e)) {
                *error = e;
                break;
            }
            servo_warning("%s: %s (retrying)", what, e.message);
        } else {
            char *message = NULL;
            enum kube_rollout progress = rollout_of(t->kind, workload, &message);
            free(last);
            last = message;
            if (progress == KUBE_ROLLOUT_DONE) {
                json_decref(workload);
                rc = 0;
                break;
            }
            /* until the controller has seen the patch, the newest revision is the old one:
             * its pods say nothing about the new settings */
            bool observed = integer(json_object_get(workload, "status"), "observedGeneration", 0) >=
                            integer(json_object_get(workload, "metadata"), "generation", 0);
            json_t *pods = NULL;
            json_t *rs = NULL;
            if (observed && kube_workload_pods(client, event, t, workload, &pods, &rs, &e) == 0) {
                json_decref(last_pods);
                last_pods = pods;
                char *rs_message = NULL;
                if (fail_fast && kube_pods_verdict(client, event, s, pods, what, error) != 0) {
                    json_decref(rs);
                    json_decref(workload);
                    break;
                }
                if (fail_fast && rs != NULL && kube_replica_set_failure(rs, &rs_message) != NULL) {
                    servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED,
                                    KUBE_REASON_START_FAILED, "%s: %s", what, rs_message);
                    free(rs_message);
                    json_decref(rs);
                    json_decref(workload);
                    break;
                }
                json_decref(rs);
            } else if (observed && e.kind == SERVO_ERROR_CANCELLED) {
                *error = e;
                json_decref(workload);
                break;
            }
            json_decref(workload);
            if (progress == KUBE_ROLLOUT_FAILED && fail_fast) {
                servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, KUBE_REASON_START_FAILED,
                                "%s: %s", what, last);
                break;
            }
        }
        double elapsed = kube_now() - started;
        kube_progress(event, &reported, limit > 0 ? fmin(99.0, 100.0 * elapsed / limit) : 0,
                      "waiting for %s %s to roll out: %s", kube_kind_name(t->kind), t->w->name,
                      last);
        if (elapsed >= limit) {
            /* the pods' failure, when one shows, is the better explanation */
            if (last_pods == NULL ||
                kube_pods_verdict(client, event, s, last_pods, what, error) == 0) {
                char *summary = last_pods ? pods_summary(last_pods) : kube_printf("%s", "");
                servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, KUBE_REASON_START_FAILED,
                                "%s did not become ready within %s: %s%s%s", what, duration, last,
                                summary[0] ? "; " : "", summary);
                free(summary);
            }
            break;
        }
        double left = limit - elapsed;
        servo_duration pause = KUBE_POLL_INTERVAL;
        if (left < servo_duration_seconds(pause))
            pause = (servo_duration)(left * 1e9) + SERVO_MILLISECOND;
        if (kube_sleep(event, pause) != 0) {
            servo_error_set(error, SERVO_ERROR_CANCELLED, "cancelled",
                            "%s: cancelled while waiting for the rollout", what);
            break;
        }
    }
    json_decref(last_pods);
    free(last);
    free(what);
    return rc;
}

/* ---- settlement ------------------------------------------------------------------------- */

/* A pod's restart count when the settlement began. */
struct baseline {
    char *pod;
    int64_t restarts;
};

struct watched {
    struct baseline *items;
    size_t count;
};

static void watched_free(struct watched *w)
{
    for (size_t i = 0; i < w->count; i++)
        free(w->items[i].pod);
    free(w->items);
    w->items = NULL;
    w->count = 0;
}

static void watched_add(struct watched *w, const char *pod, int64_t restarts)
{
    struct baseline *items = servo_xrealloc(w->items, (w->count + 1) * sizeof *items);
    w->items = items;
    w->items[w->count++] = (struct baseline){kube_printf("%s", pod), restarts};
}

static const struct baseline *watched_find(const struct watched *w, const char *pod)
{
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->items[i].pod, pod) == 0)
            return &w->items[i];
    return NULL;
}

/* One look at a workload: 0 when stable, 1 when it is not (with `why`), -1 on API errors
 * (in `error`). The first look records the baseline. */
static int look(struct kube_client *client, struct servo_event *event, const struct kube_target *t,
                struct watched *baseline, bool first, char **why, struct servo_error *error)
{
    json_t *workload = NULL;
    if (kube_workload_get(client, event, t, SERVO_ERROR_ADJUSTMENT_FAILED, &workload, error) != 0)
        return -1;
    int64_t desired = integer(json_object_get(workload, "spec"), "replicas", 1);
    const json_t *status = json_object_get(workload, "status");
    int64_t available = t->kind == KUBE_STATEFUL_SET ? integer(status, "readyReplicas", 0)
                                                     : integer(status, "availableReplicas", 0);
    json_t *pods = NULL;
    if (kube_workload_pods(client, event, t, workload, &pods, NULL, error) != 0) {
        json_decref(workload);
        return -1;
    }
    json_decref(workload);
    int rc = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        const char *name = str(json_object_get(pod, "metadata"), "name");
        if (name == NULL)
            continue;
        int64_t restarts = kube_pod_restarts(pod);
        if (first) {
            watched_add(baseline, name, restarts);
            continue;
        }
        const struct baseline *b = watched_find(baseline, name);
        char *failure = NULL;
        const char *reason = kube_pod_failure(pod, &failure, NULL);
        if (b != NULL && restarts > b->restarts) {
            *why = kube_printf("pod %s restarted (%lld restarts, %lld before)%s%s", name,
                               (long long)restarts, (long long)b->restarts, reason ? ": " : "",
                               reason ? failure : "");
            rc = 1;
        } else if (!kube_pod_ready(pod)) {
            char *summary = kube_pod_summary(pod);
            *why = reason ? kube_printf("%s", failure)
                          : kube_printf("pod %s is no longer ready (%s)", name, summary);
            free(summary);
            rc = 1;
        }
        free(failure);
        if (rc != 0)
            break;
    }
    json_decref(pods);
    if (rc == 0 && !first && available < desired) {
        *why = kube_printf("%lld of %lld replicas available", (long long)available,
                           (long long)desired);
        rc = 1;
    }
    return rc;
}

int kube_settle(struct kube_client *client, struct servo_event *event,
                const struct kubernetes_settings *s, const struct kube_target *targets,
                size_t count, servo_duration settlement, size_t *failed, struct servo_error *error)
{
    (void)s;
    if (settlement <= 0 || count == 0)
        return 0;
    char duration[SERVO_VALUE_TEXT_MAX];
    servo_duration_format(settlement, duration);
    servo_info("Settling for %s: the adjusted workloads must stay ready", duration);
    struct watched *baselines = servo_xcalloc(count, sizeof *baselines);
    double started = kube_now();
    double limit = servo_duration_seconds(settlement);
    double reported = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        char *why = NULL;
        rc = look(client, event, &targets[i], &baselines[i], true, &why, error);
        free(why);
        if (rc != 0 && failed != NULL)
            *failed = i;
    }
    while (rc == 0) {
        double elapsed = kube_now() - started;
        if (elapsed >= limit)
            break;
        kube_progress(event, &reported, fmin(99.0, 100.0 * elapsed / limit),
                      "settling: %.0f s of %s", elapsed, duration);
        double left = limit - elapsed;
        servo_duration pause = KUBE_POLL_INTERVAL;
        if (left < servo_duration_seconds(pause))
            pause = (servo_duration)(left * 1e9) + SERVO_MILLISECOND;
        if (kube_sleep(event, pause) != 0) {
            rc = servo_error_set(error, SERVO_ERROR_CANCELLED, "cancelled",
                                 "cancelled during the settlement period");
            break;
        }
        for (size_t i = 0; i < count && rc == 0; i++) {
            char *why = NULL;
            struct servo_error e = {0};
            int r = look(client, event, &targets[i], &baselines[i], false, &why, &e);
            if (r < 0 && (e.kind == SERVO_ERROR_CANCELLED || !transient(&e))) {
                *error = e;
                rc = -1;
            } else if (r < 0) {
                servo_warning("settlement: %s (retrying)", e.message);
            } else if (r > 0) {
                char *what = what_of(&targets[i]);
                rc = servo_error_set(error, SERVO_ERROR_ADJUSTMENT_REJECTED, KUBE_REASON_UNSTABLE,
                                     "%s became unstable %.0f s into the settlement period (%s): "
                                     "%s",
                                     what, kube_now() - started, duration, why);
                free(what);
            }
            free(why);
            if (rc != 0 && failed != NULL)
                *failed = i;
        }
    }
    for (size_t i = 0; i < count; i++)
        watched_free(&baselines[i]);
    free(baselines);
    return rc;
}
