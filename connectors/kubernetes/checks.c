/* The kubernetes connector's checks, in the order they run:
 *
 *   Connectivity to Kubernetes                    critical  GET /version answers
 *   Kubernetes version                            warning   at least 1.16
 *   Required permissions                          common    a SelfSubjectAccessReview per
 *                                                           namespace, group, resource, verb
 *   Namespace "X" is readable                     common    per namespace
 *   Deployment "X" is readable                    common    per workload
 *   Containers in the "X" Deployment have         common    per workload: the requirements
 *     resource requirements                                 cpu and memory are read from
 *   Deployment "X" is ready                       common    per workload: the rollout is
 *                                                           complete (and the tuning pod,
 *                                                           when one exists, is ready)
 *
 * deploy/role.yaml grants exactly the default permissions. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kube_state *state_of(struct servo_connector *c)
{
    return servo_connector_state(c);
}

static const struct kubernetes_settings *settings_of(struct servo_connector *c)
{
    return servo_connector_settings(c);
}

static struct kube_client *checks_client(struct servo_connector *c, struct servo_error *e)
{
    struct kube_client *client = NULL;
    kube_client_of(c, &client, SERVO_ERROR_FAILED, e);
    return client;
}

/* The client, or a failed check. */
static struct kube_client *client_or_fail(struct servo_connector *c, struct servo_check *check)
{
    return kube_check_client(c, checks_client, check);
}

static int check_connectivity(struct servo_connector *c, struct servo_event *event, size_t item,
                              struct servo_check *check)
{
    (void)item;
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return -1;
    struct servo_error e = {0};
    struct kube_version version;
    if (kube_version_get(client, event, "the API server's version", KUBE_OLDEST_SUPPORTED_MINOR, 0,
                         &version, &e) != 0)
        return kube_check_fail(check, &e);
    servo_check_message(check, "%s answers (%s)", kube_client_server(client),
                        version.git ? version.git : "?");
    kube_version_clear(&version);
    return 0;
}

static int check_version(struct servo_connector *c, struct servo_event *event, size_t item,
                         struct servo_check *check)
{
    (void)item;
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return -1;
    struct servo_error e = {0};
    struct kube_version v;
    if (kube_version_get(client, event, "the API server's version", KUBE_OLDEST_SUPPORTED_MINOR, 0,
                         &v, &e) != 0)
        return kube_check_fail(check, &e);
    int rc = 0;
    if (v.verdict == KUBE_VERSION_UNREADABLE || v.verdict == KUBE_VERSION_OLDER)
        rc = servo_check_fail(check, "Kubernetes %s.%s is older than 1.%d", v.major ? v.major : "?",
                              v.minor ? v.minor : "?", KUBE_OLDEST_SUPPORTED_MINOR);
    else
        servo_check_message(check, "Kubernetes %ld.%ld", v.major_number, v.minor_number);
    kube_version_clear(&v);
    return rc;
}

static int check_permissions(struct servo_connector *c, struct servo_event *event, size_t item,
                             struct servo_check *check)
{
    (void)item;
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return -1;
    const struct kubernetes_settings *s = settings_of(c);
    const struct kube_state *st = state_of(c);
    char *missing = kube_printf("%s", "");
    size_t denied = 0, reviewed = 0;
    const struct kubernetes_permission *p = s->permissions.items;
    for (size_t n = 0; n < st->namespace_count; n++) {
        for (size_t i = 0; i < s->permissions.count; i++) {
            char *const *resources = p[i].resources.items;
            char *const *verbs = p[i].verbs.items;
            for (size_t r = 0; r < p[i].resources.count; r++) {
                for (size_t v = 0; v < p[i].verbs.count; v++) {
                    struct servo_error e = {0};
                    int allowed = kube_access_review(client, event, st->namespaces[n], p[i].group,
                                                     resources[r], verbs[v], &e);
                    if (allowed < 0) {
                        free(missing);
                        return kube_check_fail(check, &e);
                    }
                    reviewed++;
                    if (allowed)
                        continue;
                    denied++;
                    char *next = kube_printf(
                        "%s%s%s %s%s%s in \"%s\"", missing, missing[0] ? ", " : "", verbs[v],
                        resources[r], p[i].group[0] ? "." : "", p[i].group, st->namespaces[n]);
                    free(missing);
                    missing = next;
                }
            }
        }
    }
    int rc = 0;
    if (denied > 0)
        rc = servo_check_fail(check, "%zu of %zu permissions missing: %s", denied, reviewed,
                              missing);
    else
        servo_check_message(check, "all %zu permissions granted", reviewed);
    free(missing);
    return rc;
}

static size_t namespace_count(struct servo_connector *c)
{
    return state_of(c)->namespace_count;
}

static const char *namespace_label(struct servo_connector *c, size_t index)
{
    const struct kube_state *st = state_of(c);
    return index < st->namespace_count ? st->namespaces[index] : "?";
}

static int check_namespace(struct servo_connector *c, struct servo_event *event, size_t item,
                           struct servo_check *check)
{
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return -1;
    const char *ns = namespace_label(c, item);
    char *path = kube_printf("/api/v1/namespaces/%s", ns);
    char *what = kube_printf("namespace \"%s\"", ns);
    struct kube_response r;
    struct servo_error e = {0};
    int rc = kube_call(client, event, "GET", path, NULL, NULL, what, SERVO_ERROR_FAILED, &r, &e);
    if (rc != 0 && r.status == 404)
        rc = servo_check_fail(check, "namespace \"%s\" does not exist", ns);
    else if (rc != 0)
        rc = kube_check_fail(check, &e);
    else {
        const char *phase =
            json_string_value(json_object_get(json_object_get(r.body, "status"), "phase"));
        servo_check_message(check, "namespace \"%s\" is %s", ns, phase ? phase : "readable");
    }
    kube_response_clear(&r);
    free(what);
    free(path);
    return rc;
}

static size_t workload_count(struct servo_connector *c)
{
    return state_of(c)->target_count;
}

static const char *workload_label(struct servo_connector *c, size_t index)
{
    const struct kube_state *st = state_of(c);
    return index < st->target_count ? st->workload_labels[index] : "?";
}

static const char *container_label(struct servo_connector *c, size_t index)
{
    const struct kube_state *st = state_of(c);
    return index < st->target_count ? st->container_labels[index] : "?";
}

/* The item's workload, read: a new reference, or NULL with the check failed. */
static json_t *read_workload(struct servo_connector *c, struct servo_event *event, size_t item,
                             struct servo_check *check, const struct kube_target **target)
{
    struct kube_client *client = client_or_fail(c, check);
    if (client == NULL)
        return NULL;
    const struct kube_state *st = state_of(c);
    if (item >= st->target_count) {
        servo_check_fail(check, "no such workload");
        return NULL;
    }
    *target = &st->targets[item];
    json_t *workload = NULL;
    struct servo_error e = {0};
    if (kube_workload_get(client, event, *target, SERVO_ERROR_FAILED, &workload, &e) != 0) {
        kube_check_fail(check, &e);
        return NULL;
    }
    return workload;
}

static int check_readable(struct servo_connector *c, struct servo_event *event, size_t item,
                          struct servo_check *check)
{
    const struct kube_target *t = NULL;
    json_t *workload = read_workload(c, event, item, check, &t);
    if (workload == NULL)
        return -1;
    const json_t *spec =
        json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "spec");
    char *missing = kube_printf("%s", "");
    const struct kubernetes_container *containers = t->w->containers.items;
    for (size_t i = 0; i < t->w->containers.count; i++) {
        if (kube_find_container(spec, containers[i].name) != NULL)
            continue;
        char *next = kube_printf("%s%s%s", missing, missing[0] ? ", " : "", containers[i].name);
        free(missing);
        missing = next;
    }
    int rc = 0;
    if (missing[0]) {
        char *names = kube_container_names(spec);
        rc = servo_check_fail(check, "%s %s has no container %s (containers: %s)",
                              kube_kind_name(t->kind), t->w->name, missing, names);
        free(names);
    } else {
        servo_check_message(check, "%s %s in namespace %s, generation %lld",
                            kube_kind_name(t->kind), t->w->name, t->w->namespace,
                            (long long)json_integer_value(json_object_get(
                                json_object_get(workload, "metadata"), "generation")));
    }
    free(missing);
    json_decref(workload);
    return rc;
}

static int check_requirements(struct servo_connector *c, struct servo_event *event, size_t item,
                              struct servo_check *check)
{
    const struct kube_target *t = NULL;
    json_t *workload = read_workload(c, event, item, check, &t);
    if (workload == NULL)
        return -1;
    const json_t *spec =
        json_object_get(json_object_get(json_object_get(workload, "spec"), "template"), "spec");
    struct kube_notes notes = {0};
    const struct kubernetes_container *containers = t->w->containers.items;
    size_t settings = 0;
    for (size_t i = 0; i < t->w->containers.count; i++) {
        const json_t *container = kube_find_container(spec, containers[i].name);
        if (container == NULL) {
            kube_note(&notes, "container %s is not in the pod template", containers[i].name);
            continue;
        }
        /* only cpu and memory: the values describe reads from the requirements */
        struct kubernetes_container resources_only = {
            .name = containers[i].name, .cpu = containers[i].cpu, .memory = containers[i].memory};
        char *name = kube_component_name(t->w, &containers[i]);
        struct servo_description *d = servo_description_new();
        struct servo_component *component = servo_description_component(d, name);
        kube_describe_container(container, &resources_only, false, component, &notes);
        settings += component->setting_count;
        servo_description_free(d);
        free(name);
    }
    int rc = 0;
    if (notes.text != NULL) {
        for (char *p = notes.text; *p; p++)
            if (*p == '\n')
                *p = ';';
        rc = servo_check_fail(check, "%s", notes.text);
    } else {
        servo_check_message(check, "%zu resource settings have their requirements", settings);
    }
    kube_notes_free(&notes);
    json_decref(workload);
    return rc;
}

/* "Deployment web is not ready: 0 of 2 replicas updated", or the message alone when it names
 * the workload already ("Rollout web is paused ..."). */
static int fail_not_ready(struct servo_check *check, const struct kube_target *t,
                          const char *message)
{
    char *name = kube_printf("%s %s ", kube_kind_name(t->kind), t->w->name);
    bool named = strncmp(message, name, strlen(name)) == 0;
    int rc = named ? servo_check_fail(check, "%s", message)
                   : servo_check_fail(check, "%sis not ready: %s", name, message);
    free(name);
    return rc;
}

static int check_ready(struct servo_connector *c, struct servo_event *event, size_t item,
                       struct servo_check *check)
{
    const struct kube_target *t = NULL;
    json_t *workload = read_workload(c, event, item, check, &t);
    if (workload == NULL)
        return -1;
    char *message = NULL;
    enum kube_rollout state = t->kind == KUBE_ROLLOUT_KIND ? kube_argo_rollout(workload, &message)
                              : t->kind == KUBE_STATEFUL_SET
                                  ? kube_stateful_set_rollout(workload, &message)
                                  : kube_deployment_rollout(workload, &message);
    json_decref(workload);
    int rc = 0;
    if (state != KUBE_ROLLOUT_DONE) {
        rc = fail_not_ready(check, t, message);
    } else if (t->w->strategy.type == KUBERNETES_STRATEGY_CANARY) {
        struct kube_client *client = state_of(c)->client;
        json_t *pod = NULL;
        struct servo_error e = {0};
        if (kube_tuning_get(client, event, t->w, &pod, &e) != 0) {
            rc = kube_check_fail(check, &e);
        } else if (pod != NULL && !kube_pod_ready(pod)) {
            char *summary = kube_pod_summary(pod);
            rc = servo_check_fail(check, "the tuning pod %s-tuning is not ready: %s", t->w->name,
                                  summary);
            free(summary);
        } else {
            servo_check_message(check, "%s; tuning pod %s", message,
                                pod ? "ready" : "not created yet");
        }
        json_decref(pod);
    } else {
        servo_check_message(check, "%s", message);
    }
    free(message);
    return rc;
}

const struct servo_check_def kubernetes_checks[] = {
    {.name = "Connectivity to Kubernetes",
     .id = "kubernetes_connectivity",
     .description = "The API server answers with the configured credentials.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "kubernetes,connectivity",
     .hint = "Check the kubeconfig (or the in-cluster service account), the server address, "
             "its CA and the token.",
     .run = check_connectivity},
    {.name = "Kubernetes version",
     .id = "kubernetes_version",
     .description = "The API server runs Kubernetes 1.16 or later.",
     .severity = SERVO_SEVERITY_WARNING,
     .tags = "kubernetes",
     .run = check_version},
    {.name = "Required permissions",
     .id = "kubernetes_permissions",
     .description = "The credentials have every permission of `permissions` in the "
                    "namespace of each workload (SelfSubjectAccessReview).",
     .tags = "kubernetes,permissions",
     .hint = "Grant them with a Role and a RoleBinding (deploy/role.yaml, "
             "deploy/rolebinding.yaml).",
     .run = check_permissions},
    {.name = "Namespace \"{item}\" is readable",
     .id = "kubernetes_namespace",
     .description = "The namespace of the workloads exists and can be read.",
     .tags = "kubernetes",
     .run = check_namespace,
     .item_count = namespace_count,
     .item_label = namespace_label},
    {.name = "{item} is readable",
     .id = "kubernetes_workload",
     .description = "The workload exists, can be read and has the configured containers.",
     .tags = "kubernetes",
     .run = check_readable,
     .item_count = workload_count,
     .item_label = workload_label},
    {.name = "Containers in the {item} have resource requirements",
     .id = "kubernetes_requirements",
     .description = "The CPU and memory of each configured container can be read from the "
                    "requirements `get` names.",
     .tags = "kubernetes",
     .hint = "Give the containers resources.requests (and limits) for cpu and memory, or "
             "change `get`.",
     .run = check_requirements,
     .item_count = workload_count,
     .item_label = container_label},
    {.name = "{item} is ready",
     .id = "kubernetes_ready",
     .description = "The workload's rollout is complete and its replicas are available.",
     .tags = "kubernetes",
     .run = check_ready,
     .item_count = workload_count,
     .item_label = workload_label},
    {.name = NULL},
};
