/* The Kubernetes API client against a real kube-apiserver v1.20.2 (and its controller-manager),
 * as tests/services/kubernetes.sh starts it; scripts/test.sh does (tests/services/lib.sh), and
 * exports its RUNDIR/env.
 *
 * Everything here asserts real answers of the API server: /version; a namespace and a
 * Deployment (nginx:1.25, requests 100m/64Mi, limits 200m/128Mi, env MODE=a) created and read
 * back; strategic-merge, merge and JSON patches; a 409 from a PUT with a stale
 * resourceVersion; 404 and 422; a read-only ServiceAccount (Role + RoleBinding, token from the
 * TokenRequest API) that may get but gets 403 on patch, also through the in-cluster
 * configuration; SelfSubjectAccessReviews; 401 for a wrong token; client-certificate auth with
 * paths and with base64 data; a wrong CA and no CA (clear TLS errors) and
 * insecure-skip-tls-verify; a closed port and a server that never answers (clear errors
 * within the timeout). Then the fake kubelet (tests/services/kubernetes.sh kubelet) in each
 * mode: a rollout that completes, CrashLoopBackOff, ImagePullBackOff, Unschedulable.
 *
 * Needs the environment of RUNDIR/env: SERVO_KUBE_SERVER, SERVO_KUBE_TOKEN, KUBECONFIG,
 * SERVO_KUBE_CA, SERVO_KUBE_CLIENT_CERT, SERVO_KUBE_CLIENT_KEY, SERVO_KUBE_RUNDIR,
 * SERVO_KUBE_SERVICES. Without SERVO_KUBE_SERVER it prints SKIP and exits 77, which ctest
 * reports as skipped (scripts/test.sh starts the server and fails on a skip). Each run works in its
 * own namespace (servo-kube-test-PID), deleted at the end, so runs from several build directories
 * can share one cluster. */
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "connectors/kubernetes/kube.h"
#include "servo/types.h"

static struct {
    const char *server, *token, *kubeconfig, *ca, *cert, *key, *rundir, *services;
    char ns[64];
    struct kube_client *admin;
} env;

/* ---- helpers ---------------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0)
        abort();
    va_end(ap);
    return out;
}

#define assert_contains(haystack, needle)                                                     \
    do {                                                                                      \
        const char *h_ = (haystack);                                                          \
        if (h_ == NULL || strstr(h_, (needle)) == NULL)                                       \
            fail_msg("\"%s\" does not contain \"%s\"", h_ != NULL ? h_ : "(null)", (needle)); \
    } while (0)

/* One request with a JSON body given as text; returns kube_request's result. */
static int call(struct kube_client *c, const char *method, const char *path, const char *body,
                const char *patch_type, struct kube_response *r)
{
    json_t *json = NULL;
    if (body != NULL) {
        json_error_t error;
        json = json_loads(body, 0, &error);
        if (json == NULL)
            fail_msg("test body is not JSON: %s: %s", error.text, body);
    }
    int rc = kube_request(c, method, path, json, patch_type, NULL, r);
    json_decref(json);
    return rc;
}

/* A request that must get `status`; returns the response (caller clears). */
static void expect(struct kube_client *c, const char *method, const char *path, const char *body,
                   const char *patch_type, long status, struct kube_response *r)
{
    int rc = call(c, method, path, body, patch_type, r);
    if (rc != 0 || r->status != status)
        fail_msg("%s %s: expected HTTP %ld, got rc %d, status %ld: %s (%s)", method, path, status,
                 rc, r->status, r->message != NULL ? r->message : "", r->reason);
}

static void expect_clear(struct kube_client *c, const char *method, const char *path,
                         const char *body, const char *patch_type, long status)
{
    struct kube_response r;
    expect(c, method, path, body, patch_type, status, &r);
    kube_response_clear(&r);
}

static const char *json_path_string(json_t *root, const char *path)
{
    json_t *node = root;
    char *copy = strdup(path);
    for (char *save = NULL, *part = strtok_r(copy, ".", &save); part != NULL && node != NULL;
         part = strtok_r(NULL, ".", &save)) {
        char *end;
        long index = strtol(part, &end, 10);
        node = *end == '\0' ? json_array_get(node, (size_t)index) : json_object_get(node, part);
    }
    free(copy);
    return json_string_value(node);
}

static json_int_t json_path_int(json_t *root, const char *path)
{
    json_t *node = root;
    char *copy = strdup(path);
    for (char *save = NULL, *part = strtok_r(copy, ".", &save); part != NULL && node != NULL;
         part = strtok_r(NULL, ".", &save)) {
        char *end;
        long index = strtol(part, &end, 10);
        node = *end == '\0' ? json_array_get(node, (size_t)index) : json_object_get(node, part);
    }
    free(copy);
    return json_integer_value(node);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot read %s", path);
    char *data = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&data, &size);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, out);
    fclose(out);
    fclose(f);
    return data;
}

static char *base64_file(const char *path)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *in = read_text(path);
    size_t length = strlen(in);
    char *out = malloc(length / 3 * 4 + 5);
    size_t j = 0;
    for (size_t i = 0; i < length; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < length)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < length)
            v |= (unsigned char)in[i + 2];
        out[j++] = alphabet[(v >> 18) & 63];
        out[j++] = alphabet[(v >> 12) & 63];
        out[j++] = i + 1 < length ? alphabet[(v >> 6) & 63] : '=';
        out[j++] = i + 2 < length ? alphabet[v & 63] : '=';
    }
    out[j] = '\0';
    free(in);
    return out;
}

/* A client from a kubeconfig with these cluster and user fields (each line indented by 4). */
static struct kube_client *client_with(const char *server, const char *cluster_fields,
                                       const char *user_fields, char **error)
{
    char *yaml = dup_printf("apiVersion: v1\n"
                            "kind: Config\n"
                            "clusters:\n"
                            "- name: c\n"
                            "  cluster:\n"
                            "    server: %s\n"
                            "%s"
                            "users:\n"
                            "- name: u\n"
                            "  user:\n"
                            "%s"
                            "contexts:\n"
                            "- name: x\n"
                            "  context: {cluster: c, user: u}\n"
                            "current-context: x\n",
                            server, cluster_fields, user_fields);
    char *path = dup_printf("%s/kubeconfig-%d", test_scratch_dir(), rand());
    FILE *f = fopen(path, "w");
    fputs(yaml, f);
    fclose(f);
    struct kube_config_source source = {.kubeconfig = path};
    struct kube_client *c = kube_client_create(&source, error);
    free(path);
    free(yaml);
    return c;
}

static struct kube_client *client_ok(const char *cluster_fields, const char *user_fields)
{
    char *error = NULL;
    struct kube_client *c = client_with(env.server, cluster_fields, user_fields, &error);
    if (c == NULL)
        fail_msg("kubeconfig refused: %s", error);
    return c;
}

static char *ca_field(void)
{
    return dup_printf("    certificate-authority: %s\n", env.ca);
}

/* ---- setup ------------------------------------------------------------------------------ */

static const char DEPLOYMENT[] =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
    "\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"%s\"}},"
    "\"spec\":{\"replicas\":%d,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"nginx:1.25\","
    "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"},"
    "\"limits\":{\"cpu\":\"200m\",\"memory\":\"128Mi\"}},"
    "\"env\":[{\"name\":\"MODE\",\"value\":\"a\"}]}]}}}}";

static void create_deployment(const char *name, int replicas)
{
    char *body = dup_printf(DEPLOYMENT, name, name, replicas, name, name);
    char *path = dup_printf("/apis/apps/v1/namespaces/%s/deployments", env.ns);
    expect_clear(env.admin, "POST", path, body, NULL, 201);
    free(path);
    free(body);
}

static int setup(void **state)
{
    (void)state;
    char *error = NULL;
    struct kube_config_source source = {.kubeconfig = env.kubeconfig};
    env.admin = kube_client_create(&source, &error);
    if (env.admin == NULL) {
        fprintf(stderr, "admin kubeconfig %s: %s\n", env.kubeconfig, error);
        return -1;
    }
    srand((unsigned)getpid());
    snprintf(env.ns, sizeof env.ns, "servo-kube-test-%d", (int)getpid());
    char *body = dup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                            "\"metadata\":{\"name\":\"%s\"}}",
                            env.ns);
    struct kube_response r;
    int rc = call(env.admin, "POST", "/api/v1/namespaces", body, NULL, &r);
    free(body);
    if (rc != 0 || r.status != 201) {
        fprintf(stderr, "cannot create namespace %s: %ld %s\n", env.ns, r.status,
                r.message != NULL ? r.message : "");
        kube_response_clear(&r);
        return -1;
    }
    kube_response_clear(&r);
    /* the serviceaccount controller must have made `default` before pods can be created */
    char *path = dup_printf("/api/v1/namespaces/%s/serviceaccounts/default", env.ns);
    double deadline = now_seconds() + 30;
    for (;;) {
        rc = call(env.admin, "GET", path, NULL, NULL, &r);
        long status = r.status;
        kube_response_clear(&r);
        if (rc == 0 && status == 200)
            break;
        if (now_seconds() > deadline) {
            fprintf(stderr, "no default ServiceAccount in %s after 30 s\n", env.ns);
            free(path);
            return -1;
        }
        usleep(100000);
    }
    free(path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (env.admin != NULL) {
        char *path = dup_printf("/api/v1/namespaces/%s", env.ns);
        struct kube_response r;
        call(env.admin, "DELETE", path, NULL, NULL, &r);
        if (r.status != 200 && r.status != 202)
            fprintf(stderr, "could not delete namespace %s: %s\n", env.ns,
                    r.message != NULL ? r.message : "");
        kube_response_clear(&r);
        free(path);
        kube_client_free(env.admin);
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(kube_client_server(env.admin), env.server);
    assert_contains(kube_client_describe(env.admin), "CA from ");
    struct kube_response r;
    expect(env.admin, "GET", "/version", NULL, NULL, 200, &r);
    assert_string_equal(json_path_string(r.body, "major"), "1");
    assert_contains(json_path_string(r.body, "gitVersion"), "v1.");
    kube_response_clear(&r);
    /* a text endpoint */
    expect(env.admin, "GET", "/readyz", NULL, NULL, 200, &r);
    assert_null(r.body);
    assert_string_equal(r.text, "ok");
    kube_response_clear(&r);
}

static void test_deployment_create_read_patch(void **state)
{
    (void)state;
    create_deployment("web", 1);
    char *path = dup_printf("/apis/apps/v1/namespaces/%s/deployments/web", env.ns);

    struct kube_response r;
    expect(env.admin, "GET", path, NULL, NULL, 200, &r);
    json_t *main = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(r.body, "spec"), "template"), "spec"),
            "containers"),
        0);
    assert_string_equal(json_path_string(main, "image"), "nginx:1.25");
    int64_t cpu = 0, memory = 0;
    assert_int_equal(servo_cpu_parse(json_path_string(main, "resources.requests.cpu"), &cpu, NULL),
                     0);
    assert_int_equal(cpu, 100);
    assert_int_equal(servo_memory_parse_quantity(json_path_string(main, "resources.limits.memory"),
                                                 &memory, NULL),
                     0);
    assert_int_equal(memory, 128 * 1024 * 1024);
    assert_string_equal(json_path_string(main, "env.0.value"), "a");
    json_int_t generation = json_path_int(r.body, "metadata.generation");
    kube_response_clear(&r);

    /* strategic merge: containers and env merged by name */
    const char *smp =
        "{\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\","
        "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"96Mi\"},"
        "\"limits\":{\"cpu\":\"500m\",\"memory\":\"192Mi\"}},"
        "\"env\":[{\"name\":\"MODE\",\"value\":\"b\"},{\"name\":\"EXTRA\",\"value\":\"1\"}]}]}}}}";
    expect(env.admin, "PATCH", path, smp, "strategic", 200, &r);
    assert_int_equal(json_path_int(r.body, "metadata.generation"), generation + 1);
    kube_response_clear(&r);
    expect(env.admin, "GET", path, NULL, NULL, 200, &r);
    assert_int_equal(json_path_int(r.body, "spec.replicas"), 3);
    main = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(r.body, "spec"), "template"), "spec"),
            "containers"),
        0);
    assert_string_equal(json_path_string(main, "image"), "nginx:1.25"); /* kept */
    assert_string_equal(json_path_string(main, "resources.requests.cpu"), "250m");
    assert_string_equal(json_path_string(main, "resources.limits.memory"), "192Mi");
    assert_int_equal(json_array_size(json_object_get(main, "env")), 2);
    assert_string_equal(json_path_string(main, "env.0.name"), "MODE");
    assert_string_equal(json_path_string(main, "env.0.value"), "b");
    assert_string_equal(json_path_string(main, "env.1.name"), "EXTRA");
    kube_response_clear(&r);
    /* the same patch again changes nothing: the generation (the spec's version) stays. Not the
     * resourceVersion: the deployment controller writes the status meanwhile. */
    expect(env.admin, "PATCH", path, smp, NULL, 200, &r);
    assert_int_equal(json_path_int(r.body, "metadata.generation"), generation + 1);
    kube_response_clear(&r);

    /* merge patch and JSON patch */
    expect(env.admin, "PATCH", path, "{\"metadata\":{\"annotations\":{\"servo.test/x\":\"1\"}}}",
           "merge", 200, &r);
    json_t *annotations = json_object_get(json_object_get(r.body, "metadata"), "annotations");
    assert_string_equal(json_string_value(json_object_get(annotations, "servo.test/x")), "1");
    kube_response_clear(&r);
    expect(env.admin, "PATCH", path,
           "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":3},"
           "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]",
           "json", 200, &r);
    assert_int_equal(json_path_int(r.body, "spec.replicas"), 2);
    kube_response_clear(&r);
    /* a failed JSON patch test: 422 */
    expect(env.admin, "PATCH", path, "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":7}]",
           "json", 422, &r);
    assert_string_equal(r.reason, "Invalid");
    kube_response_clear(&r);
    free(path);
}

static void test_conflict_not_found_invalid(void **state)
{
    (void)state;
    create_deployment("conflict", 1);
    char *path = dup_printf("/apis/apps/v1/namespaces/%s/deployments/conflict", env.ns);
    struct kube_response stale, r;
    expect(env.admin, "GET", path, NULL, NULL, 200, &stale);
    /* someone else changes it */
    expect_clear(env.admin, "PATCH", path, "{\"spec\":{\"replicas\":2}}", "merge", 200);
    /* a PUT of the old object (stale resourceVersion) */
    json_object_set_new(json_object_get(stale.body, "spec"), "replicas", json_integer(5));
    assert_int_equal(kube_request(env.admin, "PUT", path, stale.body, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 409);
    assert_string_equal(r.reason, "Conflict");
    assert_contains(r.message, "Operation cannot be fulfilled on deployments.apps \"conflict\"");
    assert_contains(r.message, "the object has been modified");
    assert_string_equal(json_path_string(r.body, "kind"), "Status");
    kube_response_clear(&r);
    /* a merge patch carrying the stale resourceVersion: 409 as well */
    char *patch =
        dup_printf("{\"metadata\":{\"resourceVersion\":\"%s\"},\"spec\":{\"replicas\":4}}",
                   json_path_string(stale.body, "metadata.resourceVersion"));
    expect(env.admin, "PATCH", path, patch, "merge", 409, &r);
    kube_response_clear(&r);
    free(patch);
    kube_response_clear(&stale);

    char *missing = dup_printf("/apis/apps/v1/namespaces/%s/deployments/nope", env.ns);
    expect(env.admin, "GET", missing, NULL, NULL, 404, &r);
    assert_string_equal(r.reason, "NotFound");
    assert_string_equal(r.message, "deployments.apps \"nope\" not found");
    kube_response_clear(&r);
    free(missing);

    char *list = dup_printf("/apis/apps/v1/namespaces/%s/deployments", env.ns);
    expect(env.admin, "POST", list,
           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"bad\"},"
           "\"spec\":{\"template\":{\"spec\":{\"containers\":[]}}}}",
           NULL, 422, &r);
    assert_string_equal(r.reason, "Invalid");
    assert_contains(r.message, "Deployment.apps \"bad\" is invalid");
    kube_response_clear(&r);
    /* 409 AlreadyExists on a second create */
    char *body = dup_printf(DEPLOYMENT, "conflict", "conflict", 1, "conflict", "conflict");
    expect(env.admin, "POST", list, body, NULL, 409, &r);
    assert_string_equal(r.reason, "AlreadyExists");
    kube_response_clear(&r);
    free(body);
    free(list);
    free(path);
}

/* A token for a ServiceAccount that may get, list and watch Deployments, nothing else. */
static char *read_only_token(void)
{
    char *sa = dup_printf("/api/v1/namespaces/%s/serviceaccounts", env.ns);
    expect_clear(env.admin, "POST", sa,
                 "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\","
                 "\"metadata\":{\"name\":\"servo-ro\"}}",
                 NULL, 201);
    char *roles = dup_printf("/apis/rbac.authorization.k8s.io/v1/namespaces/%s/roles", env.ns);
    expect_clear(env.admin, "POST", roles,
                 "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
                 "\"metadata\":{\"name\":\"deploy-reader\"},\"rules\":[{\"apiGroups\":[\"apps\"],"
                 "\"resources\":[\"deployments\"],\"verbs\":[\"get\",\"list\",\"watch\"]}]}",
                 NULL, 201);
    char *bindings =
        dup_printf("/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings", env.ns);
    char *binding = dup_printf(
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
        "\"metadata\":{\"name\":\"servo-read\"},\"roleRef\":{\"apiGroup\":"
        "\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"deploy-reader\"},"
        "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"servo-ro\",\"namespace\":\"%s\"}]}",
        env.ns);
    expect_clear(env.admin, "POST", bindings, binding, NULL, 201);
    char *request = dup_printf("/api/v1/namespaces/%s/serviceaccounts/servo-ro/token", env.ns);
    struct kube_response r;
    expect(env.admin, "POST", request,
           "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
           "\"spec\":{\"expirationSeconds\":3600}}",
           NULL, 201, &r);
    char *token = strdup(json_path_string(r.body, "status.token"));
    kube_response_clear(&r);
    free(request);
    free(binding);
    free(bindings);
    free(roles);
    free(sa);
    return token;
}

/* GET until the RoleBinding is in the authorizer's cache (it watches RBAC objects). */
static void wait_allowed(struct kube_client *c, const char *path)
{
    double deadline = now_seconds() + 10;
    for (;;) {
        struct kube_response r;
        int rc = call(c, "GET", path, NULL, NULL, &r);
        long status = r.status;
        kube_response_clear(&r);
        if (rc == 0 && status == 200)
            return;
        if (now_seconds() > deadline)
            fail_msg("GET %s as the read-only ServiceAccount: still %ld after 10 s", path, status);
        usleep(100000);
    }
}

static bool access_allowed(struct kube_client *c, const char *verb)
{
    char *body = dup_printf(
        "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\","
        "\"spec\":{\"resourceAttributes\":{\"namespace\":\"%s\",\"verb\":\"%s\","
        "\"group\":\"apps\",\"resource\":\"deployments\"}}}",
        env.ns, verb);
    struct kube_response r;
    expect(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body, NULL, 201,
           &r);
    bool allowed = json_is_true(json_object_get(json_object_get(r.body, "status"), "allowed"));
    kube_response_clear(&r);
    free(body);
    return allowed;
}

static void test_forbidden_read_only_service_account(void **state)
{
    (void)state;
    create_deployment("guarded", 1);
    char *token = read_only_token();
    char *ca = ca_field();
    char *user = dup_printf("    token: %s\n", token);
    struct kube_client *ro = client_ok(ca, user);
    char *path = dup_printf("/apis/apps/v1/namespaces/%s/deployments/guarded", env.ns);
    wait_allowed(ro, path);

    struct kube_response r;
    expect(ro, "PATCH", path, "{\"spec\":{\"replicas\":2}}", "strategic", 403, &r);
    assert_string_equal(r.reason, "Forbidden");
    char *expected = dup_printf("deployments.apps \"guarded\" is forbidden: User "
                                "\"system:serviceaccount:%s:servo-ro\" cannot patch resource "
                                "\"deployments\" in API group \"apps\" in the namespace \"%s\"",
                                env.ns, env.ns);
    assert_string_equal(r.message, expected);
    free(expected);
    kube_response_clear(&r);
    /* listing elsewhere: 403 too */
    expect(ro, "GET", "/apis/apps/v1/namespaces/default/deployments", NULL, NULL, 403, &r);
    assert_contains(r.message, "cannot list resource \"deployments\"");
    kube_response_clear(&r);
    /* what the "Required permissions" check will ask */
    assert_true(access_allowed(ro, "get"));
    assert_true(access_allowed(ro, "list"));
    assert_false(access_allowed(ro, "patch"));
    assert_true(access_allowed(env.admin, "patch"));
    kube_client_free(ro);

    /* the same token through the in-cluster configuration */
    char *dir = dup_printf("%s/serviceaccount", test_scratch_dir());
    char *command = dup_printf("mkdir -p '%s' && cp '%s' '%s/ca.crt'", dir, env.ca, dir);
    assert_int_equal(system(command), 0);
    free(command);
    char *file = dup_printf("%s/token", dir);
    FILE *f = fopen(file, "w");
    fputs(token, f);
    fclose(f);
    free(file);
    file = dup_printf("%s/namespace", dir);
    f = fopen(file, "w");
    fputs(env.ns, f);
    fclose(f);
    free(file);
    const char *port = strrchr(env.server, ':') + 1;
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    setenv("SERVO_KUBE_SERVICE_ACCOUNT_DIR", dir, 1);
    char *saved_home = getenv("HOME") != NULL ? strdup(getenv("HOME")) : NULL;
    char *saved_kubeconfig = strdup(env.kubeconfig);
    setenv("HOME", "/nonexistent", 1);
    unsetenv("KUBECONFIG");
    char *error = NULL;
    struct kube_client *pod = kube_client_create(NULL, &error);
    setenv("KUBECONFIG", saved_kubeconfig, 1);
    if (saved_home != NULL)
        setenv("HOME", saved_home, 1);
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    if (pod == NULL)
        fail_msg("in-cluster: %s", error);
    assert_string_equal(kube_client_server(pod), env.server);
    assert_string_equal(kube_client_namespace(pod), env.ns);
    assert_contains(kube_client_describe(pod), "in-cluster");
    expect_clear(pod, "GET", path, NULL, NULL, 200);
    expect_clear(pod, "PATCH", path, "{\"spec\":{\"replicas\":2}}", NULL, 403);
    kube_client_free(pod);
    free(saved_home);
    free(saved_kubeconfig);
    free(dir);
    free(path);
    free(user);
    free(ca);
    free(token);
}

static void test_unauthorized(void **state)
{
    (void)state;
    char *ca = ca_field();
    struct kube_client *c = client_ok(ca, "    token: not-the-admin-token\n");
    struct kube_response r;
    expect(c, "GET", "/api/v1/namespaces", NULL, NULL, 401, &r);
    assert_string_equal(r.reason, "Unauthorized");
    char *expected = dup_printf("Unauthorized: the API server %s rejected the bearer token "
                                "(wrong or expired?)",
                                env.server);
    assert_string_equal(r.message, expected);
    free(expected);
    kube_response_clear(&r);
    kube_client_free(c);
    /* no credentials at all: anonymous, 403 */
    c = client_ok(ca, "    {}\n");
    expect(c, "GET", "/api/v1/namespaces", NULL, NULL, 403, &r);
    assert_contains(r.message, "User \"system:anonymous\" cannot list resource \"namespaces\"");
    kube_response_clear(&r);
    kube_client_free(c);
    free(ca);
}

static void test_client_certificates(void **state)
{
    (void)state;
    char *ns_path = dup_printf("/api/v1/namespaces/%s", env.ns);
    /* paths */
    char *ca = ca_field();
    char *user = dup_printf("    client-certificate: %s\n    client-key: %s\n", env.cert, env.key);
    struct kube_client *c = client_ok(ca, user);
    assert_contains(kube_client_describe(c), "client certificate from ");
    struct kube_response r;
    expect(c, "GET", ns_path, NULL, NULL, 200, &r);
    assert_string_equal(json_path_string(r.body, "metadata.name"), env.ns);
    kube_response_clear(&r);
    kube_client_free(c);
    free(user);
    free(ca);

    /* base64 data for all three */
    char *ca64 = base64_file(env.ca), *cert64 = base64_file(env.cert),
         *key64 = base64_file(env.key);
    ca = dup_printf("    certificate-authority-data: %s\n", ca64);
    user = dup_printf("    client-certificate-data: %s\n    client-key-data: %s\n", cert64, key64);
    c = client_ok(ca, user);
    assert_contains(kube_client_describe(c), "client certificate from client-certificate-data");
    expect_clear(c, "GET", ns_path, NULL, NULL, 200);
    kube_client_free(c);
    free(user);

    /* a key that does not belong to the certificate: a clear TLS error */
    user = dup_printf("    client-certificate-data: %s\n    client-key-data: %s\n", cert64, ca64);
    c = client_ok(ca, user);
    assert_int_equal(kube_request(c, "GET", ns_path, NULL, NULL, NULL, &r), -1);
    assert_string_equal(r.reason, "tls");
    assert_contains(r.message, "TLS: cannot use the client certificate or key");
    kube_response_clear(&r);
    kube_client_free(c);
    free(user);
    free(ca);
    free(ca64);
    free(cert64);
    free(key64);
    free(ns_path);
}

static void test_tls_verification(void **state)
{
    (void)state;
    /* another CA, not the one that signed the API server's certificate */
    char *dir = dup_printf("%s/other-ca", test_scratch_dir());
    char *command =
        dup_printf("mkdir -p '%s' && cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
                   "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 1 "
                   "-subj /CN=not-the-cluster-ca >/dev/null 2>&1",
                   dir, dir);
    assert_int_equal(system(command), 0);
    free(command);
    char *wrong = dup_printf("    certificate-authority: %s/ca.crt\n", dir);
    char *user = dup_printf("    token: %s\n", env.token);
    struct kube_client *c = client_ok(wrong, user);
    struct kube_response r;
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), -1);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.reason, "tls");
    char *expected = dup_printf("TLS: the API server %s is not trusted: ", env.server);
    assert_contains(r.message, expected);
    assert_contains(r.message, "certificate");
    free(expected);
    kube_response_clear(&r);
    kube_client_free(c);

    /* no CA: the system CAs do not know the cluster's */
    c = client_ok("", user);
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), -1);
    assert_string_equal(r.reason, "tls");
    kube_response_clear(&r);
    kube_client_free(c);

    /* insecure-skip-tls-verify */
    c = client_ok("    insecure-skip-tls-verify: true\n", user);
    expect_clear(c, "GET", "/version", NULL, NULL, 200);
    kube_client_free(c);

    /* the right CA, reached as "localhost" (a name in the certificate) */
    char *ca = ca_field();
    const char *port = strrchr(env.server, ':') + 1;
    char *localhost = dup_printf("https://localhost:%s", port);
    char *error = NULL;
    c = client_with(localhost, ca, user, &error);
    assert_non_null(c);
    expect_clear(c, "GET", "/version", NULL, NULL, 200);
    kube_client_free(c);
    free(localhost);
    free(ca);
    free(user);
    free(wrong);
    free(dir);
}

static void test_unreachable(void **state)
{
    (void)state;
    char *ca = ca_field();
    char *user = dup_printf("    token: %s\n", env.token);
    /* a closed port */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t size = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &size);
    int port = ntohs(address.sin_port);
    char *server = dup_printf("https://127.0.0.1:%d", port);
    close(fd);
    char *error = NULL;
    struct kube_client *c = client_with(server, ca, user, &error);
    assert_non_null(c);
    struct kube_response r;
    double start = now_seconds();
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), -1);
    assert_true(now_seconds() - start < 5);
    assert_string_equal(r.reason, "connect");
    char *expected = dup_printf("cannot connect to the API server %s", server);
    assert_contains(r.message, expected);
    free(expected);
    kube_response_clear(&r);
    kube_client_free(c);
    free(server);

    /* a port that accepts connections but never speaks TLS: the timeout, not a hang */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    address.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(fd, 8), 0);
    size = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &size);
    server = dup_printf("https://127.0.0.1:%d", ntohs(address.sin_port));
    c = client_with(server, ca, user, &error);
    assert_non_null(c);
    kube_client_set_timeout(c, 1.0);
    start = now_seconds();
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), -1);
    double elapsed = now_seconds() - start;
    assert_true(elapsed >= 0.9 && elapsed < 3.0);
    assert_string_equal(r.reason, "timeout");
    assert_contains(r.message, "no answer within 1.0 s");
    kube_response_clear(&r);
    kube_client_free(c);
    close(fd);
    free(server);
    free(user);
    free(ca);
}

/* ---- the fake kubelet ------------------------------------------------------------------- */

static void kubelet_once(const char *mode)
{
    char *command = dup_printf("'%s' kubelet '%s' '%s' --once --mode %s", env.services, env.rundir,
                               env.ns, mode);
    if (system(command) != 0)
        fail_msg("%s failed", command);
    free(command);
}

/* The pods of the Deployment `app` (label app=<name>). */
static json_t *pods_of(const char *app)
{
    char *path = dup_printf("/api/v1/namespaces/%s/pods?labelSelector=app%%3D%s", env.ns, app);
    struct kube_response r;
    expect(env.admin, "GET", path, NULL, NULL, 200, &r);
    json_t *items = json_incref(json_object_get(r.body, "items"));
    kube_response_clear(&r);
    free(path);
    return items;
}

static json_t *wait_pods(const char *app, size_t count)
{
    double deadline = now_seconds() + 30;
    for (;;) {
        json_t *items = pods_of(app);
        if (json_array_size(items) == count)
            return items;
        json_decref(items);
        if (now_seconds() > deadline)
            fail_msg("deployment %s: not %zu pods after 30 s", app, count);
        usleep(100000);
    }
}

static const char *condition(json_t *pod, const char *type, const char *field)
{
    json_t *conditions = json_object_get(json_object_get(pod, "status"), "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conditions, i, c)
    {
        const char *t = json_path_string(c, "type");
        if (t != NULL && strcmp(t, type) == 0)
            return json_path_string(c, field);
    }
    return NULL;
}

static void test_fake_kubelet_rollout(void **state)
{
    (void)state;
    create_deployment("rollout", 3);
    char *path = dup_printf("/apis/apps/v1/namespaces/%s/deployments/rollout", env.ns);
    json_decref(wait_pods("rollout", 3));
    /* a template change while the kubelet keeps marking pods Ready: the rollout completes */
    expect_clear(env.admin, "PATCH", path,
                 "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\","
                 "\"env\":[{\"name\":\"MODE\",\"value\":\"c\"}]}]}}}}",
                 NULL, 200);
    double deadline = now_seconds() + 60;
    for (;;) {
        kubelet_once("ready");
        struct kube_response r;
        expect(env.admin, "GET", path, NULL, NULL, 200, &r);
        bool done = json_path_int(r.body, "status.observedGeneration") ==
                        json_path_int(r.body, "metadata.generation") &&
                    json_path_int(r.body, "status.updatedReplicas") == 3 &&
                    json_path_int(r.body, "status.availableReplicas") == 3 &&
                    json_path_int(r.body, "status.replicas") == 3 &&
                    json_path_int(r.body, "status.unavailableReplicas") == 0;
        kube_response_clear(&r);
        if (done)
            break;
        if (now_seconds() > deadline)
            fail_msg("the rollout of %s did not complete within 60 s", path);
        usleep(300000);
    }
    json_t *pods = pods_of("rollout");
    assert_int_equal(json_array_size(pods), 3);
    size_t i;
    json_t *pod;
    json_array_foreach(pods, i, pod)
    {
        assert_string_equal(condition(pod, "Ready", "status"), "True");
        assert_string_equal(json_path_string(pod, "status.phase"), "Running");
        assert_true(json_is_true(json_object_get(
            json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0),
            "ready")));
    }
    json_decref(pods);
    free(path);
}

static void test_fake_kubelet_failure_modes(void **state)
{
    (void)state;
    create_deployment("failing", 1);
    create_deployment("bystander", 1);
    json_decref(wait_pods("failing", 1));
    json_decref(wait_pods("bystander", 1));

    /* --selector: only the pods it matches */
    char *command = dup_printf("'%s' kubelet '%s' '%s' --once --mode imagepull --selector "
                               "'app!=failing'",
                               env.services, env.rundir, env.ns);
    assert_int_equal(system(command), 0);
    free(command);
    json_t *pods = pods_of("bystander");
    assert_string_equal(json_path_string(json_array_get(pods, 0),
                                         "status.containerStatuses.0.state.waiting.reason"),
                        "ImagePullBackOff");
    json_decref(pods);
    pods = pods_of("failing");
    assert_null(
        json_object_get(json_object_get(json_array_get(pods, 0), "status"), "containerStatuses"));
    json_decref(pods);

    kubelet_once("crashloop");
    pods = pods_of("failing");
    json_t *pod = json_array_get(pods, 0);
    assert_string_equal(json_path_string(pod, "status.containerStatuses.0.state.waiting.reason"),
                        "CrashLoopBackOff");
    assert_true(json_path_int(pod, "status.containerStatuses.0.restartCount") > 0);
    assert_string_equal(condition(pod, "Ready", "status"), "False");
    json_decref(pods);

    kubelet_once("imagepull");
    pods = pods_of("failing");
    pod = json_array_get(pods, 0);
    assert_string_equal(json_path_string(pod, "status.containerStatuses.0.state.waiting.reason"),
                        "ImagePullBackOff");
    assert_contains(json_path_string(pod, "status.containerStatuses.0.state.waiting.message"),
                    "nginx:1.25");
    json_decref(pods);

    kubelet_once("unschedulable");
    pods = pods_of("failing");
    pod = json_array_get(pods, 0);
    assert_string_equal(condition(pod, "PodScheduled", "status"), "False");
    assert_string_equal(condition(pod, "PodScheduled", "reason"), "Unschedulable");
    assert_string_equal(json_path_string(pod, "status.phase"), "Pending");
    assert_null(condition(pod, "Ready", "status")); /* not scheduled: no other condition */
    assert_null(json_object_get(json_object_get(pod, "status"), "containerStatuses"));
    json_decref(pods);

    /* and back to ready: the Deployment becomes available */
    kubelet_once("ready");
    pods = pods_of("failing");
    pod = json_array_get(pods, 0);
    assert_string_equal(condition(pod, "Ready", "status"), "True");
    assert_string_equal(condition(pod, "PodScheduled", "status"), "True");
    assert_null(condition(pod, "PodScheduled", "reason"));
    assert_null(condition(pod, "Ready", "reason"));
    assert_null(json_path_string(pod, "status.containerStatuses.0.state.waiting.reason"));
    assert_string_equal(json_path_string(pod, "status.phase"), "Running");
    json_decref(pods);
    char *path = dup_printf("/apis/apps/v1/namespaces/%s/deployments/failing", env.ns);
    double deadline = now_seconds() + 30;
    for (;;) {
        struct kube_response r;
        expect(env.admin, "GET", path, NULL, NULL, 200, &r);
        json_int_t available = json_path_int(r.body, "status.availableReplicas");
        kube_response_clear(&r);
        if (available == 1)
            break;
        if (now_seconds() > deadline)
            fail_msg("deployment failing: not available 30 s after its pod became ready");
        usleep(200000);
    }
    free(path);
}

int main(void)
{
    env.server = getenv("SERVO_KUBE_SERVER");
    if (env.server == NULL || env.server[0] == '\0') {
        printf("SKIP: test_kube_client: SERVO_KUBE_SERVER is not set (scripts/test.sh starts a "
               "cluster; by hand: tests/services/kubernetes.sh start WORKDIR RUNDIR, then "
               "`set -a; . RUNDIR/env`)\n");
        return 77;
    }
    const char *names[] = {"SERVO_KUBE_TOKEN",      "KUBECONFIG",
                           "SERVO_KUBE_CA",         "SERVO_KUBE_CLIENT_CERT",
                           "SERVO_KUBE_CLIENT_KEY", "SERVO_KUBE_RUNDIR",
                           "SERVO_KUBE_SERVICES"};
    const char **fields[] = {&env.token, &env.kubeconfig, &env.ca,      &env.cert,
                             &env.key,   &env.rundir,     &env.services};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *fields[i] = getenv(names[i]);
        if (*fields[i] == NULL || (*fields[i])[0] == '\0') {
            fprintf(stderr,
                    "test_kube_client: SERVO_KUBE_SERVER is set but %s is not (source "
                    "all of RUNDIR/env)\n",
                    names[i]);
            return 1;
        }
    }
    /* proxies from the caller's environment must not matter (the client adds the host to its
     * NO_PROXY list); the in-cluster variables are set only by the test that uses them */
    unsetenv("SERVO_KUBE_SERVICE_ACCOUNT_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_deployment_create_read_patch),
        cmocka_unit_test(test_conflict_not_found_invalid),
        cmocka_unit_test(test_forbidden_read_only_service_account),
        cmocka_unit_test(test_unauthorized),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_tls_verification),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_fake_kubelet_rollout),
        cmocka_unit_test(test_fake_kubelet_failure_modes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
