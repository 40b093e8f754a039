/* The kubernetes connector's parts, shared between its files:
 *
 *   kubernetes.c  the settings table and the plugin
 *   model.c       pure functions on the API's JSON: quantities in every Kubernetes notation,
 *                 component names, reading settings from a container and writing adjustments
 *                 into one, strategic-merge patch bodies, label selectors
 *   pods.c        pure functions classifying pod, ReplicaSet, Deployment and StatefulSet
 *                 state into rollout progress and rejection reasons
 *   encoders.c    the JVM encoder: settings as -Xmx, -XX:+UseG1GC, -XX:Name=value in an
 *                 environment variable or the container's args, and back
 *   workload.c    Deployments and StatefulSets through the API: read, read-modify-write with
 *                 a retry on 409, wait for the rollout, watch through the settlement
 *   rollback.c    what a failed adjustment leaves behind: the snapshot taken before the patch
 *                 and its exact restoration, scaling to zero
 *   canary.c      the tuning pod of the canary strategy
 *   checks.c      the checks
 *   handlers.c    init, fini and the event handlers (attach, describe, components, adjust,
 *                 before measure), telemetry
 *
 * Errors travel as struct servo_error: the kind and the reason are what the optimizer sees
 * (an adjustment that made the workload fail is "rejected" with start-failed,
 * image-pull-failed, unschedulable or unstable; anything else "failed"). */
#ifndef SERVO_CONNECTOR_KUBERNETES_INTERNAL_H
#define SERVO_CONNECTOR_KUBERNETES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube.h"
#include "kubernetes.h"
#include "servo/alloc.h"
#include "servo/checks.h"
#include "servo/events.h"
#include "servo/model.h"
#include "servo/util.h"

/* Read-modify-write attempts when the API server answers 409 Conflict. */
#define KUBE_CONFLICT_ATTEMPTS 5
/* How often a rollout, a tuning pod or a settlement is polled. */
#define KUBE_POLL_INTERVAL (500 * SERVO_MILLISECOND)
/* Seconds between two progress reports of one wait. */
#define KUBE_PROGRESS_INTERVAL 5.0
/* Items asked for per page of a list (limit=...); $SERVO_KUBE_LIST_LIMIT overrides it. */
#define KUBE_LIST_PAGE 250
/* Items read from one list at most: the rest is not looked at (a warning says so). */
#define KUBE_LIST_MAX 5000
/* Lines of a failing container's log quoted with container_logs_in_error_status. */
#define KUBE_LOG_LINES 20
/* The longest message a rejection quotes from the cluster (pod messages, logs). */
#define KUBE_QUOTE_MAX 600

#define KUBE_TUNING_LABEL "opsani_role"
#define KUBE_TUNING_ROLE "tuning"
#define KUBE_TUNING_FOR_ANNOTATION "opsani.com/opsani_tuning_for"
#define KUBE_REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define KUBE_TEMPLATE_HASH_LABEL "pod-template-hash" /* a ReplicaSet's and its pods' */

#define KUBE_REASON_START_FAILED "start-failed"
#define KUBE_REASON_IMAGE_PULL "image-pull-failed"
#define KUBE_REASON_UNSCHEDULABLE "unschedulable"
#define KUBE_REASON_UNSTABLE "unstable"

#define KUBE_ROLLOUT_GROUP_VERSION "argoproj.io/v1alpha1"
#define KUBE_ROLLOUT_CRD "rollouts.argoproj.io"

enum kube_kind {
    KUBE_DEPLOYMENT,
    KUBE_STATEFUL_SET,
    KUBE_ROLLOUT_KIND, /* an Argo Rollout, argoproj.io/v1alpha1 */
};

/* A configured workload: its kind and settings. */
struct kube_target {
    enum kube_kind kind;
    const struct kubernetes_workload *w;
};

/* The instance's state (init builds it; the handlers only read it). */
struct kube_state {
    struct kube_client *client;  /* NULL when it could not be built */
    char *client_error;          /* why, when it could not */
    struct kube_target *targets; /* every workload, deployments first */
    size_t target_count;
    char **workload_labels;  /* per target: Deployment "web" (check names) */
    char **container_labels; /* per target: "web" Deployment */
    char **namespaces;       /* the distinct namespaces of the workloads */
    size_t namespace_count;
};

/* ---- helpers (model.c) ----------------------------------------------------------------- */

/* printf into a new string (caller frees): the public servo_strdup_printf under the short
 * name the connector's many messages use. */
#define kube_printf servo_strdup_printf
/* "Deployment", "StatefulSet", "Rollout"; "deployments", "statefulsets", "rollouts". */
const char *kube_kind_name(enum kube_kind kind);
const char *kube_kind_resource(enum kube_kind kind);
/* /apis/apps/v1/namespaces/NS/deployments/NAME (caller frees). */
char *kube_workload_path(enum kube_kind kind, const struct kubernetes_workload *w);
/* `text` percent-encoded for a query string (caller frees). */
char *kube_query_escape(const char *text);
/* At most `max` bytes of `text`, with "..." when cut (caller frees). */
char *kube_quote(const char *text, size_t max);

/* ---- quantities (model.c) -------------------------------------------------------------- */

/* Any Kubernetes quantity ("250m", "0.25", "1.5", "2k", "100u", "1e3m", "+1", ".5", "1E2")
 * as whole millicores, rounded up as Kubernetes does (MilliValue). -1 with a reason when it
 * is not a quantity, negative or too large. */
int kube_cpu_quantity(const char *text, int64_t *millicores, const char **why);
/* Any Kubernetes quantity ("128Mi", "1G", "129e6", "1.5Gi", "100m", "0.5Ki") as whole bytes,
 * rounded up (Value). */
int kube_memory_quantity(const char *text, int64_t *bytes, const char **why);

/* ---- component names (model.c) --------------------------------------------------------- */

/* The container's alias, else "<workload>/<container>" (caller frees). */
char *kube_component_name(const struct kubernetes_workload *w,
                          const struct kubernetes_container *c);
/* canary: the strategy's alias, else "<workload>/<container>-tuning" (caller frees). */
char *kube_tuning_component_name(const struct kubernetes_workload *w,
                                 const struct kubernetes_container *c);
/* canary: "<workload>-tuning" (caller frees). */
char *kube_tuning_pod_name(const struct kubernetes_workload *w);

/* ---- the pod spec (model.c) ------------------------------------------------------------ */

/* The container of that name in a pod spec (borrowed), or NULL. */
json_t *kube_find_container(const json_t *pod_spec, const char *name);
/* "app, sidecar": the names of a pod spec's containers (caller frees). */
char *kube_container_names(const json_t *pod_spec);
/* "a, b": the string `key` of each object of `array`, "?" for one without it (caller frees). */
char *kube_join_field(const json_t *array, const char *key);

/* What reading a container's settings found wrong (a value that cannot be read); the
 * setting is described without a value. Messages are appended, one per line. */
struct kube_notes {
    char *text; /* NULL when nothing; else lines joined by "\n" */
};
void kube_note(struct kube_notes *notes, const char *fmt, ...) SERVO_PRINTF(2, 3);
void kube_notes_free(struct kube_notes *notes);

/* Adds the container's settings (cpu, mem, env, encoders) to `component` with the values
 * read from `container` (may be NULL: no values). `pinned` pins every setting (the main
 * component of a canary). */
void kube_describe_container(const json_t *container, const struct kubernetes_container *cfg,
                             bool pinned, struct servo_component *component,
                             struct kube_notes *notes);

/* Writes one adjustment into `container` (a pod spec's container, changed in place): cpu and
 * mem into the requirements of `set` (an explicit request/limit into the others), an env
 * setting into its variable, an encoder setting into the JVM options. Returns 0, 1 when the
 * setting is not the container's (replicas), -1 with a message (caller frees). */
int kube_apply_adjustment(json_t *container, const struct kubernetes_container *cfg,
                          const struct servo_adjustment *a, char **error);
/* Sets an environment variable of `container` (a value; a valueFrom is dropped). */
void kube_set_env(json_t *container, const char *variable, const char *value);
/* Adds static_environment_variables to `container` (the tuning pod's). */
void kube_apply_static_env(json_t *container, const struct kubernetes_container *cfg);

/* The strategic-merge patch entry of a container for the change `before` -> `after`:
 * {"name", "resources"?, "env"?: [changed variables, with "valueFrom": null where one was
 * replaced], "args"?}, or NULL when nothing changed. */
json_t *kube_container_patch(const json_t *before, const json_t *after);
/* The strategic-merge patch of a workload: {"metadata":{"resourceVersion":rv},
 * "spec":{"replicas"?:n,"template":{"spec":{"containers":[entries]}}}}. `replicas` < 0
 * leaves it out; `containers` may be empty (stolen). */
json_t *kube_workload_patch(const char *resource_version, int64_t replicas, json_t *containers);

/* A metav1.LabelSelector as the labelSelector query ("app=web,tier in (a,b),!debug";
 * caller frees), or NULL with a message when it selects nothing usable. */
char *kube_label_selector(const json_t *selector, char **error);

/* ---- state classification (pods.c) ----------------------------------------------------- */

/* A failure a pod shows: image-pull-failed (ErrImagePull, ImagePullBackOff,
 * InvalidImageName, ErrImageNeverPull), start-failed (CrashLoopBackOff,
 * CreateContainerConfigError, CreateContainerError, RunContainerError, a container that
 * terminated with an error, phase Failed), unschedulable (PodScheduled False with reason
 * Unschedulable). NULL when none; else the reason, and *message (caller frees) names the pod,
 * the container and what the cluster says. *container (borrowed; may be NULL) is the failing
 * container's name, for logs. */
const char *kube_pod_failure(const json_t *pod, char **message, const char **container);
/* The Ready condition is True. */
bool kube_pod_ready(const json_t *pod);
/* The sum of the restart counts of the pod's containers. */
int64_t kube_pod_restarts(const json_t *pod);
/* "Pending", "Running (not ready: ContainersNotReady)", ...: one phrase for messages
 * (caller frees). */
char *kube_pod_summary(const json_t *pod);

/* The newest ReplicaSet (highest deployment.kubernetes.io/revision) of `items` controlled
 * by the owner of that uid and, unless `template` is NULL, whose pod template is that one;
 * NULL when none. */
const json_t *kube_newest_replica_set(const json_t *items, const char *owner_uid,
                                      const json_t *template);
/* Whether a ReplicaSet's pod template is `template` but for the pod-template-hash label: how
 * the Deployment controller finds a Deployment's new ReplicaSet (EqualIgnoreHash). */
bool kube_replica_set_has_template(const json_t *rs, const json_t *template);
/* A ReplicaSet's ReplicaFailure condition: start-failed and its message, or NULL. */
const char *kube_replica_set_failure(const json_t *rs, char **message);

enum kube_rollout {
    KUBE_ROLLOUT_PENDING,
    KUBE_ROLLOUT_DONE,
    KUBE_ROLLOUT_FAILED,
};

/* Where a Deployment's rollout is: done when the controller has seen the latest generation
 * and every replica is updated and available with no old one left; failed on
 * ProgressDeadlineExceeded or ReplicaFailure; else pending. *message (caller frees) says
 * how far it is or why it failed. */
enum kube_rollout kube_deployment_rollout(const json_t *deployment, char **message);
/* The same for a StatefulSet: observedGeneration, updatedReplicas, readyReplicas and
 * currentRevision == updateRevision. */
enum kube_rollout kube_stateful_set_rollout(const json_t *sts, char **message);
/* The same for an Argo Rollout: failed when its phase is Degraded; done when the controller
 * has seen the latest generation (status.observedGeneration, a string or a number) and every
 * replica is updated and available, unless it is paused (spec.paused, status.pauseConditions,
 * a pause being ended, phase Paused): then pending, the message led by why. */
enum kube_rollout kube_argo_rollout(const json_t *rollout, char **message);

/* ---- the JVM encoder (encoders.c) ------------------------------------------------------ */

/* Words as a command line or JAVA_OPTS holds them. */
struct kube_words {
    char **items;
    size_t count;
};

/* Splits at whitespace (quotes are not special: JAVA_OPTS is word-split by the shell that
 * expands it); joins with single spaces (caller frees). */
void kube_words_split(const char *text, struct kube_words *out);
char *kube_words_join(const struct kube_words *words);
void kube_words_free(struct kube_words *words);

/* Whether `setting` is one of the encoder's settings. */
bool kube_jvm_owns(const struct kubernetes_jvm *jvm, const char *setting);
/* The value of `setting` in the options: heap_size as bytes in *number, gc as the collector
 * name, options as text ("200", "true"). Returns 1 when found, 0 when the options do not
 * give it (then the setting's default applies), -1 with a message when they give it in a
 * form that cannot be read. *text is caller-freed. */
int kube_jvm_decode(const struct kubernetes_jvm *jvm, const struct kube_words *words,
                    const char *setting, double *number, char **text, char **error);
/* Writes `setting` = value (heap_size: bytes in `number`; gc and options: `text`, or
 * `number` for range options when text is NULL) into the options: the option's existing
 * words are replaced where the first one was, the others removed; a new option goes at the
 * end (target env) or at the start (target args, before the main class). Other words are
 * kept as they are. Returns 0, or -1 with a message. */
int kube_jvm_encode(const struct kubernetes_jvm *jvm, struct kube_words *words, const char *setting,
                    double number, const char *text, char **error);
/* The encoder's options in a container: the variable's value or the args (empty when
 * absent). -1 with a message when they cannot be used (the variable comes from valueFrom,
 * args is not a list of strings). */
int kube_jvm_read_words(const struct kubernetes_jvm *jvm, const json_t *container,
                        struct kube_words *out, char **error);
/* Stores the words back into the variable or the args. */
void kube_jvm_write_words(const struct kubernetes_jvm *jvm, json_t *container,
                          const struct kube_words *words);
/* Adds the encoder's settings, with the values decoded from `container`, to `component`. */
void kube_jvm_describe(const struct kubernetes_jvm *jvm, const json_t *container, bool pinned,
                       struct servo_component *component, struct kube_notes *notes);
/* "2g", "1536m", "512k", "1000": -Xmx's argument for a byte count. */
void kube_jvm_format_size(int64_t bytes, char buf[32]);
/* The byte count of -Xmx's argument ("2g", "2G", "1536m", "4096k", "1073741824"). */
int kube_jvm_parse_size(const char *text, int64_t *bytes);

/* ---- API calls (workload.c) ------------------------------------------------------------ */

/* Monotonic seconds. */
double kube_now(void);
/* Sleeps (cancellable when `event` is not NULL): 0, or -1 once the event is cancelled. */
int kube_sleep(struct servo_event *event, servo_duration duration);
/* Progress on the event (a debug line without one), at most every KUBE_PROGRESS_INTERVAL
 * seconds: *last (monotonic seconds; 0 at first) is when the previous report went out. */
void kube_progress(struct servo_event *event, double *last, double percent, const char *fmt, ...)
    SERVO_PRINTF(4, 5);

/* A request that must succeed (2xx): -1 with `error` filled otherwise (kind `kind`, reason
 * from the response: "forbidden", "not-found", "conflict", "timeout", ...). `what` names
 * the object in the message ("Deployment \"web\" in namespace \"apps\""). */
int kube_call(struct kube_client *client, struct servo_event *event, const char *method,
              const char *path, const json_t *body, const char *patch_type, const char *what,
              enum servo_error_kind kind, struct kube_response *r, struct servo_error *error);
/* GET the workload; a 404 says the workload was not found in its namespace. */
int kube_workload_get(struct kube_client *client, struct servo_event *event,
                      const struct kube_target *t, enum servo_error_kind kind, json_t **out,
                      struct servo_error *error);

/* Builds a change of a workload just read (`current`, borrowed): a patch (a strategic-merge
 * object, or a JSON-patch array when *patch_type is set to "json"), or NULL when nothing is
 * to change. -1 with `error` filled stops the update. */
typedef int (*kube_change_fn)(void *context, const json_t *current, json_t **patch,
                              const char **patch_type, struct servo_error *error);

/* Read-modify-write: GET, `change`, PATCH, and again from the GET when the API server
 * answers 409 Conflict (the patch carries the resourceVersion read), up to
 * KUBE_CONFLICT_ATTEMPTS times. *result (may be NULL) gets the workload as the PATCH left
 * it (or as read when nothing changed). */
int kube_workload_update(struct kube_client *client, struct servo_event *event,
                         const struct kube_target *t, kube_change_fn change, void *context,
                         enum servo_error_kind kind, json_t **result, struct servo_error *error);

/* All items of a list (GET path?labelSelector=...&limit=N, then every `continue`), at most
 * KUBE_LIST_MAX. A new reference to the items array. */
int kube_list(struct kube_client *client, struct servo_event *event, const char *path,
              const char *selector, const char *what, json_t **items, struct servo_error *error);

/* The pods of the workload's current revision: the ReplicaSet of the Deployment's template
 * (none until the controller has created it) or the update revision's (StatefulSet), without
 * those being deleted. A new reference to an array (maybe empty); *replica_set (may be NULL)
 * gets that ReplicaSet (a new reference, or NULL). */
int kube_workload_pods(struct kube_client *client, struct servo_event *event,
                       const struct kube_target *t, const json_t *workload, json_t **pods,
                       json_t **replica_set, struct servo_error *error);

/* The first failure of `pods` (kube_pod_failure), with the failing container's last log
 * lines when container_logs_in_error_status; fills `error` (rejected, the pod's reason) and
 * returns -1, or returns 0 when no pod shows one. */
int kube_pods_verdict(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_settings *s, const json_t *pods, const char *what,
                      struct servo_error *error);

/* Waits until the workload's rollout is done, at most `timeout`: 0, or -1 with `error`
 * (rejected: the pods' failure, ProgressDeadlineExceeded, ReplicaFailure, or start-failed
 * when the time ran out; failed for API errors). Progress goes to the event. With
 * `fail_fast` a pod's failure ends the wait at once; without (a rollback), the pods get the
 * whole timeout to recover, and their failure only explains a timeout. */
int kube_wait_rollout(struct kube_client *client, struct servo_event *event,
                      const struct kubernetes_settings *s, const struct kube_target *t,
                      servo_duration timeout, bool fail_fast, struct servo_error *error);

/* Watches the workloads through `settlement`: every one must stay available, with no pod
 * of its current revision restarting or losing readiness. -1 with `error` (rejected,
 * unstable) naming the first that did not; *failed (may be NULL) gets its index. */
int kube_settle(struct kube_client *client, struct servo_event *event,
                const struct kubernetes_settings *s, const struct kube_target *targets,
                size_t count, servo_duration settlement, size_t *failed, struct servo_error *error);

/* ---- rollback and shutdown (rollback.c) ------------------------------------------------ */

/* The exact pod template and replica count of a workload before a patch. */
struct kube_snapshot {
    json_t *template; /* spec.template, a deep copy; NULL when none was taken */
    json_t *replicas; /* spec.replicas (a JSON integer), or NULL when absent */
};

void kube_snapshot_take(struct kube_snapshot *snapshot, const json_t *workload);
void kube_snapshot_clear(struct kube_snapshot *snapshot);
/* The JSON patch restoring a snapshot on `current`: the resourceVersion read (a stale one
 * makes the API server answer 409), spec.template and spec.replicas. NULL when `current`
 * already has them. */
json_t *kube_rollback_patch(const json_t *current, const struct kube_snapshot *snapshot);
/* Restores the snapshot (read-modify-write with the retry on 409) and waits for the rollout
 * within `timeout`. */
int kube_rollback(struct kube_client *client, struct servo_event *event,
                  const struct kubernetes_settings *s, const struct kube_target *t,
                  const struct kube_snapshot *snapshot, servo_duration timeout,
                  struct servo_error *error);
/* on_failure: shutdown of a default-strategy workload: spec.replicas = 0. */
int kube_scale_to_zero(struct kube_client *client, struct servo_event *event,
                       const struct kube_target *t, struct servo_error *error);

/* ---- the canary strategy (canary.c) ---------------------------------------------------- */

/* The tuning pod (a new reference), or NULL when it does not exist (0) -- -1 on errors. */
int kube_tuning_get(struct kube_client *client, struct servo_event *event,
                    const struct kubernetes_workload *w, json_t **pod, struct servo_error *error);
/* The tuning pod's body: the Deployment's (or Rollout's) pod template, with what the settings
 * manage taken from `base` (a previous tuning pod, may be NULL: the template's values) -- the
 * configured containers' resources, their env settings' variables, the encoder's variable or args
 * -- then `adjustments` (those of the tuning components; may be NULL) written in and the static
 * environment variables added; labels opsani_role: tuning, annotation
 * opsani.com/opsani_tuning_for, and the owner reference (may be NULL). -1 with a message
 * when a value cannot be written or a container is missing. */
int kube_tuning_pod_body(const json_t *deployment, const struct kubernetes_workload *w,
                         const json_t *base, const struct servo_adjustments *adjustments,
                         const json_t *owner, json_t **body, char **error);
/* Describes the main and tuning components of a canary Deployment or Rollout. */
int kube_canary_describe(struct kube_client *client, struct servo_event *event,
                         const struct kube_target *t, struct servo_description *d,
                         enum servo_error_kind kind, struct servo_error *error);
/* Creates the tuning pod when it is missing (create_tuning_pod) and waits until it is
 * ready (before measure). */
int kube_canary_ensure(struct kube_client *client, struct servo_event *event,
                       const struct kubernetes_settings *s, const struct kube_target *t,
                       struct servo_error *error);
/* Adjusts the tuning pod: deletes it and creates it with `adjustments` (those of its
 * components), waits for it within the timeout, then through `settlement`; on failure,
 * on_failure (shutdown: back to the template's values; rollback: back to the previous
 * ones). */
int kube_canary_adjust(struct kube_client *client, struct servo_event *event,
                       const struct kubernetes_settings *s, const struct kube_target *t,
                       const struct servo_adjustments *adjustments, servo_duration settlement,
                       struct servo_error *error);

/* ---- the plugin's tables (checks.c, handlers.c) ---------------------------------------- */

extern const struct servo_handler kubernetes_handlers[];
extern const struct servo_check_def kubernetes_checks[];
int kubernetes_init(struct servo_connector *connector, struct servo_error *error);
void kubernetes_fini(struct servo_connector *connector);

/* Every configured workload, deployments first, with the top-level namespace, timeout,
 * settlement and on_failure filled in where it sets none (one block: the caller frees the
 * array; the workloads borrow from `s`). */
struct kube_target *kube_targets(const struct kubernetes_settings *s, size_t *count);
/* The client, or -1 with `error` saying why there is none. */
int kube_client_of(struct servo_connector *connector, struct kube_client **client,
                   enum servo_error_kind kind, struct servo_error *error);

#endif
