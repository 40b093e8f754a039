/* The Kubernetes API client (connectors/kubernetes/kube.c) without a cluster.
 *
 * Configuration: kubeconfig files with every credential form (token, tokenFile, basic auth,
 * client certificates as paths and as base64 data, CA as path and data,
 * insecure-skip-tls-verify), contexts and current-context, relative paths, merged
 * $KUBECONFIG lists, ~/.kube/config, in-cluster through $SERVO_KUBE_SERVICE_ACCOUNT_DIR,
 * NO_PROXY, and clear messages for missing, empty, garbage and half-written files.
 *
 * Requests go to a small plain-HTTP fake API server in a thread, which records what it gets
 * and answers as each test asks: the bearer and basic credentials that arrive, the content
 * type of every patch type, kind: Status failures (401, 403, 404, 409) with their message and
 * reason, non-JSON and broken bodies, a body over the 64 MiB bound, a server that never
 * answers (client timeout, an event's deadline, an event cancelled from another thread) and
 * one that is not there. TLS against a real API server is in test_kube_client.c. */
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connectors/kubernetes/kube.h"
#include "events/bus.h"
#include "events/cancel.h"

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

/* Writes `text` to scratch/<name> (creating its directory); returns the path (caller frees). */
static char *write_at(const char *name, const char *text)
{
    char *path = dup_printf("%s/%s", test_scratch_dir(), name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char *command = dup_printf("mkdir -p '%s'", path);
    assert_int_equal(system(command), 0);
    free(command);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char CA_PEM[] =
    "-----BEGIN CERTIFICATE-----\nMIIBfake-ca\n-----END CERTIFICATE-----\n";
static const char CERT_PEM[] =
    "-----BEGIN CERTIFICATE-----\nMIIBfake-client\n-----END CERTIFICATE-----\n";
static const char KEY_PEM[] =
    "-----BEGIN EC PRIVATE KEY-----\nMHcfake-key\n-----END EC PRIVATE KEY-----\n";

static char *base64(const char *in)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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
    return out;
}

/* Builds a client from kubeconfig text; asserts success. */
static struct kube_client *client_from(const char *yaml, const char *context)
{
    char *error = NULL;
    struct kube_client *c =
        kube_client_from_kubeconfig(yaml, strlen(yaml), test_scratch_dir(), context, &error);
    if (c == NULL)
        fail_msg("kube_client_from_kubeconfig: %s", error);
    free(error);
    return c;
}

/* Asserts that the kubeconfig text is refused with a message containing `expected`. */
static void assert_refused(const char *yaml, const char *context, const char *expected)
{
    char *error = NULL;
    struct kube_client *c =
        kube_client_from_kubeconfig(yaml, strlen(yaml), test_scratch_dir(), context, &error);
    if (c != NULL)
        fail_msg("accepted, expected an error with \"%s\"", expected);
    assert_non_null(error);
    if (strstr(error, expected) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", error, expected);
    free(error);
}

/* Asserts that kube_client_create refuses `source` with a message containing `expected`. */
static void assert_create_refused(const struct kube_config_source *source, const char *expected)
{
    char *error = NULL;
    struct kube_client *c = kube_client_create(source, &error);
    if (c != NULL)
        fail_msg("accepted (%s), expected an error with \"%s\"", kube_client_describe(c), expected);
    assert_non_null(error);
    if (strstr(error, expected) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", error, expected);
    free(error);
}

#define assert_contains(haystack, needle)                                                     \
    do {                                                                                      \
        const char *h_ = (haystack);                                                          \
        if (h_ == NULL || strstr(h_, (needle)) == NULL)                                       \
            fail_msg("\"%s\" does not contain \"%s\"", h_ != NULL ? h_ : "(null)", (needle)); \
    } while (0)

/* Environment variables a test changes; restored by the teardown. */
static const char *const saved_names[] = {"KUBECONFIG",
                                          "HOME",
                                          "KUBERNETES_SERVICE_HOST",
                                          "KUBERNETES_SERVICE_PORT",
                                          "SERVO_KUBE_SERVICE_ACCOUNT_DIR",
                                          "NO_PROXY",
                                          "no_proxy",
                                          "HTTP_PROXY",
                                          "http_proxy"};
static char *saved_values[sizeof saved_names / sizeof saved_names[0]];

static int save_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof saved_names / sizeof saved_names[0]; i++) {
        const char *v = getenv(saved_names[i]);
        saved_values[i] = v != NULL ? strdup(v) : NULL;
        unsetenv(saved_names[i]);
    }
    return 0;
}

static int restore_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof saved_names / sizeof saved_names[0]; i++) {
        if (saved_values[i] != NULL)
            setenv(saved_names[i], saved_values[i], 1);
        else
            unsetenv(saved_names[i]);
        free(saved_values[i]);
        saved_values[i] = NULL;
    }
    return 0;
}

/* ---- a fake API server ------------------------------------------------------------------ */

enum answer_mode { ANSWER_NORMAL, ANSWER_HANG, ANSWER_BIG };

static struct {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    /* the answer */
    enum answer_mode mode;
    int status;
    const char *content_type;
    const char *body;
    size_t big;          /* ANSWER_BIG: bytes of body */
    bool content_length; /* ANSWER_BIG: announce the length */
    /* what arrived */
    char *request; /* head and body of the last request */
    int requests;
} server;

static void answer(int status, const char *content_type, const char *body)
{
    pthread_mutex_lock(&server.lock);
    server.mode = ANSWER_NORMAL;
    server.status = status;
    server.content_type = content_type;
    server.body = body;
    pthread_mutex_unlock(&server.lock);
}

static char *last_request(void)
{
    pthread_mutex_lock(&server.lock);
    char *r = server.request != NULL ? strdup(server.request) : strdup("");
    pthread_mutex_unlock(&server.lock);
    return r;
}

static bool wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static void send_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        length -= (size_t)n;
    }
}

/* Reads one request (head, then Content-Length bytes of body). */
static char *read_request(int fd)
{
    size_t capacity = 65536, length = 0;
    char *buf = malloc(capacity + 1);
    size_t need = SIZE_MAX;
    while (length < need) {
        if (!wait_readable(fd, 2000))
            break;
        if (length == capacity) {
            capacity *= 2;
            buf = realloc(buf, capacity + 1);
        }
        ssize_t n = recv(fd, buf + length, capacity - length, 0);
        if (n <= 0)
            break;
        length += (size_t)n;
        buf[length] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL && need == SIZE_MAX) {
            size_t body = 0;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (cl != NULL && cl < end)
                body = strtoul(cl + 17, NULL, 10);
            need = (size_t)(end + 4 - buf) + body;
        }
    }
    buf[length] = '\0';
    return buf;
}

static void serve(int fd)
{
    char *request = read_request(fd);
    pthread_mutex_lock(&server.lock);
    free(server.request);
    server.request = request;
    server.requests++;
    enum answer_mode mode = server.mode;
    int status = server.status;
    const char *type = server.content_type;
    const char *body = server.body != NULL ? server.body : "";
    size_t big = server.big;
    bool announce = server.content_length;
    pthread_mutex_unlock(&server.lock);

    if (mode == ANSWER_HANG) {
        /* never answer: wait until the client gives up (or the test ends) */
        char sink[256];
        while (!atomic_load(&server.stop)) {
            if (wait_readable(fd, 20) && recv(fd, sink, sizeof sink, 0) <= 0)
                break;
        }
        return;
    }
    if (mode == ANSWER_BIG) {
        char head[256];
        int n = announce ? snprintf(head, sizeof head,
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                    big)
                         : snprintf(head, sizeof head,
                                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Connection: close\r\n\r\n");
        send_all(fd, head, (size_t)n);
        static char chunk[65536];
        memset(chunk, ' ', sizeof chunk);
        for (size_t sent = 0; sent < big; sent += sizeof chunk)
            send_all(fd, chunk, big - sent < sizeof chunk ? big - sent : sizeof chunk);
        return;
    }
    char *head = dup_printf("HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                            "Connection: close\r\n\r\n",
                            status, type != NULL ? type : "application/json", strlen(body));
    send_all(fd, head, strlen(head));
    send_all(fd, body, strlen(body));
    free(head);
}

static void *server_main(void *unused)
{
    (void)unused;
    while (!atomic_load(&server.stop)) {
        if (!wait_readable(server.fd, 20))
            continue;
        int fd = accept(server.fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(fd);
        close(fd);
    }
    return NULL;
}

static int start_server(void **state)
{
    (void)state;
    /* nothing from the caller's environment may change the configuration */
    for (size_t i = 0; i < sizeof saved_names / sizeof saved_names[0]; i++)
        unsetenv(saved_names[i]);
    memset(&server, 0, sizeof server);
    pthread_mutex_init(&server.lock, NULL);
    server.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(server.fd >= 0);
    int one = 1;
    setsockopt(server.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(server.fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(server.fd, 64), 0);
    socklen_t size = sizeof address;
    getsockname(server.fd, (struct sockaddr *)&address, &size);
    server.port = ntohs(address.sin_port);
    atomic_store(&server.stop, false);
    assert_int_equal(pthread_create(&server.thread, NULL, server_main, NULL), 0);
    answer(200, "application/json", "{}");
    return 0;
}

static int stop_server(void **state)
{
    atomic_store(&server.stop, true);
    pthread_join(server.thread, NULL);
    close(server.fd);
    free(server.request);
    pthread_mutex_destroy(&server.lock);
    (void)state;
    return 0;
}

/* A kubeconfig for the fake server with the given user fields (indented 4). */
static char *fake_kubeconfig(const char *user_fields)
{
    return dup_printf("apiVersion: v1\n"
                      "kind: Config\n"
                      "clusters:\n"
                      "- name: fake\n"
                      "  cluster:\n"
                      "    server: http://127.0.0.1:%d/\n"
                      "users:\n"
                      "- name: u\n"
                      "  user:\n"
                      "%s"
                      "contexts:\n"
                      "- name: fake\n"
                      "  context: {cluster: fake, user: u, namespace: apps}\n"
                      "current-context: fake\n",
                      server.port, user_fields);
}

static struct kube_client *fake_client(const char *user_fields)
{
    char *yaml = fake_kubeconfig(user_fields);
    struct kube_client *c = client_from(yaml, NULL);
    free(yaml);
    return c;
}

/* ---- kubeconfig: credentials ------------------------------------------------------------ */

static void test_token_user(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: s3cr3t-admin-token\n");
    char *expected = dup_printf("http://127.0.0.1:%d", server.port);
    assert_string_equal(kube_client_server(c), expected); /* no trailing slash */
    free(expected);
    assert_string_equal(kube_client_namespace(c), "apps");
    assert_contains(kube_client_describe(c), "context \"fake\"");
    assert_contains(kube_client_describe(c), "user \"u\" (bearer token)");
    assert_null(strstr(kube_client_describe(c), "s3cr3t"));

    answer(200, "application/json", "{\"major\":\"1\",\"minor\":\"20\"}");
    struct kube_response r;
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "minor")), "20");
    assert_null(r.message);
    assert_string_equal(r.reason, "");
    char *request = last_request();
    assert_contains(request, "GET /version HTTP/1.1\r\n");
    assert_contains(request, "\r\nAuthorization: Bearer s3cr3t-admin-token\r\n");
    assert_contains(request, "\r\nAccept: application/json\r\n");
    free(request);
    kube_response_clear(&r);
    kube_response_clear(&r); /* twice is fine */
    kube_client_free(c);
}

static void test_token_file_relative(void **state)
{
    (void)state;
    free(write_at("creds/token", "  file-token-123\n\n"));
    /* relative to base_dir (the kubeconfig's directory) */
    struct kube_client *c = fake_client("    tokenFile: creds/token\n");
    char *where = dup_printf("bearer token from %s/creds/token", test_scratch_dir());
    assert_contains(kube_client_describe(c), where);
    free(where);
    struct kube_response r;
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    char *request = last_request();
    assert_contains(request, "\r\nAuthorization: Bearer file-token-123\r\n");
    free(request);
    kube_response_clear(&r);
    kube_client_free(c);

    /* a token wins over tokenFile */
    c = fake_client("    token: inline\n    tokenFile: creds/token\n");
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    request = last_request();
    assert_contains(request, "Authorization: Bearer inline\r\n");
    free(request);
    kube_response_clear(&r);
    kube_client_free(c);

    char *yaml = fake_kubeconfig("    tokenFile: creds/missing\n");
    assert_refused(yaml, NULL, "user \"u\": token file");
    assert_refused(yaml, NULL, "creds/missing: No such file or directory");
    free(yaml);
    free(write_at("creds/empty", "\n"));
    yaml = fake_kubeconfig("    tokenFile: creds/empty\n");
    assert_refused(yaml, NULL, "is empty");
    free(yaml);
    yaml = fake_kubeconfig("    tokenFile: creds\n");
    assert_refused(yaml, NULL, "Is a directory");
    free(yaml);
    yaml = fake_kubeconfig("    token: \"a\\nInjected: yes\"\n");
    assert_refused(yaml, NULL, "token contains control characters");
    free(yaml);
}

static void test_basic_auth(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    username: alice\n    password: wonder\n");
    assert_contains(kube_client_describe(c), "(basic auth)");
    assert_null(strstr(kube_client_describe(c), "wonder"));
    struct kube_response r;
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    char *request = last_request();
    char *expected = base64("alice:wonder");
    char *header = dup_printf("\r\nAuthorization: Basic %s\r\n", expected);
    assert_contains(request, header);
    free(header);
    free(expected);
    free(request);
    kube_response_clear(&r);
    kube_client_free(c);
}

static void test_no_credentials(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    {}\n");
    assert_contains(kube_client_describe(c), "(no credentials)");
    struct kube_response r;
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    char *request = last_request();
    assert_null(strstr(request, "Authorization:"));
    free(request);
    kube_response_clear(&r);
    kube_client_free(c);
    /* a context without a user */
    char *yaml = dup_printf("clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
                            "contexts: [{name: x, context: {cluster: c}}]\n"
                            "current-context: x\n",
                            server.port);
    c = client_from(yaml, NULL);
    assert_contains(kube_client_describe(c), "no user (anonymous)");
    assert_string_equal(kube_client_namespace(c), "default");
    kube_client_free(c);
    free(yaml);
}

/* A kubeconfig with one cluster field line and two user field lines. */
static char *cert_config(const char *cluster_field, const char *user_field1,
                         const char *user_field2)
{
    return dup_printf("clusters:\n"
                      "- name: c\n"
                      "  cluster:\n"
                      "    server: https://127.0.0.1:16443\n"
                      "    %s\n"
                      "users:\n"
                      "- name: u\n"
                      "  user:\n"
                      "    %s\n"
                      "    %s\n"
                      "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "current-context: x\n",
                      cluster_field, user_field1, user_field2);
}

static void test_client_certificate_forms(void **state)
{
    (void)state;
    free(write_at("pki/client.crt", CERT_PEM));
    free(write_at("pki/client.key", KEY_PEM));
    free(write_at("pki/ca.crt", CA_PEM));

    /* paths, relative to the kubeconfig's directory */
    char *yaml = cert_config("certificate-authority: pki/ca.crt",
                             "client-certificate: pki/client.crt", "client-key: pki/client.key");
    struct kube_client *c = client_from(yaml, NULL);
    char *d = dup_printf("client certificate from %s/pki/client.crt", test_scratch_dir());
    assert_contains(kube_client_describe(c), d);
    free(d);
    d = dup_printf("CA from %s/pki/ca.crt", test_scratch_dir());
    assert_contains(kube_client_describe(c), d);
    free(d);
    kube_client_free(c);
    free(yaml);

    /* base64 data, with line breaks in the base64 (YAML folds them away in plain style) */
    char *ca64 = base64(CA_PEM), *cert64 = base64(CERT_PEM), *key64 = base64(KEY_PEM);
    char *ca_field = dup_printf("certificate-authority-data: %s", ca64);
    char *cert_field = dup_printf("client-certificate-data: %s", cert64);
    char *key_field = dup_printf("client-key-data: %s", key64);
    yaml = cert_config(ca_field, cert_field, key_field);
    c = client_from(yaml, NULL);
    assert_contains(kube_client_describe(c), "client certificate from client-certificate-data");
    assert_contains(kube_client_describe(c), "CA from certificate-authority-data");
    kube_client_free(c);
    free(yaml);

    /* data wins over the path (even a path that does not exist is then not read) */
    char *both = dup_printf("%s\n    certificate-authority: /nonexistent/ca.crt", ca_field);
    yaml = cert_config(both, cert_field, key_field);
    c = client_from(yaml, NULL);
    assert_contains(kube_client_describe(c), "CA from certificate-authority-data");
    kube_client_free(c);
    free(yaml);
    free(both);

    /* errors: bad base64, not PEM, a missing file, a certificate without its key */
    yaml = cert_config(ca_field, "client-certificate-data: '%%%%not base64'", key_field);
    assert_refused(yaml, NULL, "user \"u\": client-certificate-data is not valid base64");
    free(yaml);
    char *not_pem = base64("just some bytes");
    char *not_pem_field = dup_printf("certificate-authority-data: %s", not_pem);
    yaml = cert_config(not_pem_field, cert_field, key_field);
    assert_refused(yaml, NULL, "cluster \"c\": certificate-authority-data is not PEM");
    free(yaml);
    free(not_pem_field);
    free(not_pem);
    yaml = cert_config("certificate-authority: pki/nope.crt", cert_field, key_field);
    assert_refused(yaml, NULL, "pki/nope.crt: No such file or directory");
    free(yaml);
    yaml = cert_config(ca_field, cert_field, "");
    assert_refused(yaml, NULL, "user \"u\": a client certificate without its client-key");
    free(yaml);
    yaml = cert_config(ca_field, "", key_field);
    assert_refused(yaml, NULL, "a client key without its client-certificate");
    free(yaml);

    /* insecure-skip-tls-verify */
    yaml = cert_config("insecure-skip-tls-verify: true", cert_field, key_field);
    c = client_from(yaml, NULL);
    assert_contains(kube_client_describe(c), "TLS verification off");
    kube_client_free(c);
    free(yaml);
    char *insecure_ca = dup_printf("insecure-skip-tls-verify: yes\n    %s", ca_field);
    yaml = cert_config(insecure_ca, cert_field, key_field);
    assert_refused(yaml, NULL, "insecure-skip-tls-verify and certificate-authority-data");
    free(yaml);
    free(insecure_ca);
    yaml = cert_config("insecure-skip-tls-verify: maybe", cert_field, key_field);
    assert_refused(yaml, NULL, "insecure-skip-tls-verify must be true or false, not \"maybe\"");
    free(yaml);
    /* no CA: the system CAs */
    yaml = cert_config("insecure-skip-tls-verify: false", cert_field, key_field);
    c = client_from(yaml, NULL);
    assert_contains(kube_client_describe(c), "system CAs");
    kube_client_free(c);
    free(yaml);

    free(ca_field);
    free(cert_field);
    free(key_field);
    free(ca64);
    free(cert64);
    free(key64);
}

static void test_credential_plugins_refused(void **state)
{
    (void)state;
    const char *yaml = "clusters: [{name: c, cluster: {server: 'https://eks.example:443'}}]\n"
                       "users:\n"
                       "- name: eks\n"
                       "  user:\n"
                       "    exec:\n"
                       "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                       "      command: aws\n"
                       "      args: [eks, get-token]\n"
                       "contexts: [{name: x, context: {cluster: c, user: eks}}]\n"
                       "current-context: x\n";
    assert_refused(yaml, NULL, "user \"eks\" uses an exec credential plugin (aws)");
    const char *gcp = "clusters: [{name: c, cluster: {server: 'https://gke.example'}}]\n"
                      "users: [{name: g, user: {auth-provider: {name: gcp}}}]\n"
                      "contexts: [{name: x, context: {cluster: c, user: g}}]\n"
                      "current-context: x\n";
    assert_refused(gcp, NULL, "user \"g\" uses an auth-provider (gcp)");
    /* a token next to the plugin is used */
    const char *with_token = "clusters: [{name: c, cluster: {server: 'https://gke.example'}}]\n"
                             "users: [{name: g, user: {token: t, auth-provider: {name: gcp}}}]\n"
                             "contexts: [{name: x, context: {cluster: c, user: g}}]\n"
                             "current-context: x\n";
    struct kube_client *c = client_from(with_token, NULL);
    assert_contains(kube_client_describe(c), "(bearer token)");
    kube_client_free(c);
}

/* ---- kubeconfig: contexts, structure, files --------------------------------------------- */

static const char TWO_CONTEXTS[] = "apiVersion: v1\n"
                                   "kind: Config\n"
                                   "clusters:\n"
                                   "- name: dev\n"
                                   "  cluster: {server: 'https://dev.example:6443'}\n"
                                   "- name: prod\n"
                                   "  cluster: {server: prod.example:443}\n" /* no scheme: https */
                                   "users:\n"
                                   "- {name: dev-user, user: {token: dev-token}}\n"
                                   "- {name: prod-user, user: {token: prod-token}}\n"
                                   "contexts:\n"
                                   "- name: dev\n"
                                   "  context: {cluster: dev, user: dev-user, namespace: team-a}\n"
                                   "- name: prod\n"
                                   "  context: {cluster: prod, user: prod-user}\n"
                                   "current-context: dev\n";

static void test_contexts(void **state)
{
    (void)state;
    struct kube_client *c = client_from(TWO_CONTEXTS, NULL);
    assert_string_equal(kube_client_server(c), "https://dev.example:6443");
    assert_string_equal(kube_client_namespace(c), "team-a");
    assert_contains(kube_client_describe(c), "context \"dev\"");
    kube_client_free(c);

    c = client_from(TWO_CONTEXTS, "prod");
    assert_string_equal(kube_client_server(c), "https://prod.example:443");
    assert_string_equal(kube_client_namespace(c), "default");
    assert_contains(kube_client_describe(c), "user \"prod-user\"");
    kube_client_free(c);

    assert_refused(TWO_CONTEXTS, "staging", "context \"staging\" is not in (kubeconfig)");
    assert_refused(TWO_CONTEXTS, "staging", "(contexts: dev, prod)");

    const char *no_current = "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                             "contexts: [{name: a, context: {cluster: c}}, "
                             "{name: b, context: {cluster: c}}]\n";
    assert_refused(no_current, NULL, "has no current-context");
    assert_refused(no_current, NULL, "(contexts: a, b)");
    struct kube_client *b = client_from(no_current, "b");
    kube_client_free(b);

    const char *no_cluster = "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                             "contexts: [{name: a, context: {cluster: gone}}]\n"
                             "current-context: a\n";
    assert_refused(no_cluster, NULL,
                   "cluster \"gone\" of context \"a\" is not in (kubeconfig) (clusters: c)");
    const char *no_user = "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                          "contexts: [{name: a, context: {cluster: c, user: ghost}}]\n"
                          "current-context: a\n";
    assert_refused(no_user, NULL, "user \"ghost\" of context \"a\" is not in");
    const char *no_server = "clusters: [{name: c, cluster: {insecure-skip-tls-verify: true}}]\n"
                            "contexts: [{name: a, context: {cluster: c}}]\n"
                            "current-context: a\n";
    assert_refused(no_server, NULL, "cluster \"c\" has no server");
    const char *ftp = "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n"
                      "contexts: [{name: a, context: {cluster: c}}]\n"
                      "current-context: a\n";
    assert_refused(ftp, NULL, "server \"ftp://x\" is not an http(s) URL");
    const char *slash = "clusters: [{name: c, cluster: {server: '/'}}]\n"
                        "contexts: [{name: a, context: {cluster: c}}]\n"
                        "current-context: a\n";
    assert_refused(slash, NULL, "cluster \"c\": server \"/\" has no host");
    const char *no_host = "clusters: [{name: c, cluster: {server: 'https:///'}}]\n"
                          "contexts: [{name: a, context: {cluster: c}}]\n"
                          "current-context: a\n";
    assert_refused(no_host, NULL, "has no host");
    const char *prefix = "clusters: [{name: c, cluster: {server: 'https://h:1/k8s/c-1//'}}]\n"
                         "contexts: [{name: a, context: {cluster: c}}]\n"
                         "current-context: a\n";
    c = client_from(prefix, NULL);
    assert_string_equal(kube_client_server(c), "https://h:1/k8s/c-1");
    assert_string_equal(kube_client_no_proxy(c), "h");
    kube_client_free(c);
    const char *context_without_cluster = "contexts: [{name: a, context: {user: u}}]\n"
                                          "current-context: a\n";
    assert_refused(context_without_cluster, NULL, "context \"a\" names no cluster");
    const char *list_server = "clusters: [{name: c, cluster: {server: [a, b]}}]\n"
                              "contexts: [{name: a, context: {cluster: c}}]\n"
                              "current-context: a\n";
    assert_refused(list_server, NULL, "cluster \"c\": server is not a string");

    /* anchors and aliases are plain YAML */
    const char *anchors = "clusters:\n"
                          "- name: c\n"
                          "  cluster: &k {server: 'https://anchored:1'}\n"
                          "- name: d\n"
                          "  cluster: *k\n"
                          "contexts: [{name: a, context: {cluster: d}}]\n"
                          "current-context: a\n";
    c = client_from(anchors, NULL);
    assert_string_equal(kube_client_server(c), "https://anchored:1");
    kube_client_free(c);
}

static void test_bad_files(void **state)
{
    (void)state;
    struct kube_config_source source = {.kubeconfig = "/nonexistent/kubeconfig"};
    assert_create_refused(&source, "kubeconfig /nonexistent/kubeconfig: No such file or directory");

    source.kubeconfig = write_at("empty.yaml", "");
    assert_create_refused(&source, "is empty");
    free((char *)source.kubeconfig);

    source.kubeconfig = write_at("garbage.yaml", "clusters: [\n  - {name: x\n: : :\n");
    assert_create_refused(&source, "not YAML: ");
    assert_create_refused(&source, "at line ");
    free((char *)source.kubeconfig);

    source.kubeconfig = write_at("list.yaml", "- a\n- b\n");
    assert_create_refused(&source, "is not a kubeconfig (its top level is not a mapping)");
    free((char *)source.kubeconfig);

    source.kubeconfig = write_at("scalar.yaml", "just text\n");
    assert_create_refused(&source, "is not a kubeconfig");
    free((char *)source.kubeconfig);

    source.kubeconfig = test_scratch_dir();
    assert_create_refused(&source, "Is a directory");

    /* NUL bytes and binary junk */
    char junk[] = {'a', ':', ' ', 'b', '\0', 'c', '\n'};
    char *error = NULL;
    assert_null(kube_client_from_kubeconfig(junk, sizeof junk, NULL, NULL, &error));
    assert_contains(error, "NUL");
    free(error);
}

static void test_kubeconfig_files_and_env(void **state)
{
    (void)state;
    char *a = write_at("merge/a.yaml", "contexts: [{name: mixed, context: {cluster: far, user: "
                                       "me}}]\ncurrent-context: mixed\n"
                                       "users: [{name: me, user: {tokenFile: a-token}}]\n");
    free(write_at("merge/a-token", "token-from-a\n"));
    char *b =
        write_at("merge/sub/b.yaml", "clusters: [{name: far, cluster: {server: 'https://far:1', "
                                     "certificate-authority: ca.crt}}]\n"
                                     "users: [{name: me, user: {token: ignored-b-token}}]\n"
                                     "current-context: ignored\n");
    free(write_at("merge/sub/ca.crt", CA_PEM));

    /* $KUBECONFIG: a list, a missing file skipped, first definition wins, paths relative to
     * the file that names them */
    char *list = dup_printf("%s:/nonexistent/x.yaml:%s", a, b);
    setenv("KUBECONFIG", list, 1);
    char *error = NULL;
    struct kube_client *c = kube_client_create(NULL, &error);
    if (c == NULL)
        fail_msg("%s", error);
    assert_string_equal(kube_client_server(c), "https://far:1");
    char *d = dup_printf("CA from %s/merge/sub/ca.crt", test_scratch_dir());
    assert_contains(kube_client_describe(c), d);
    free(d);
    d = dup_printf("bearer token from %s/merge/a-token", test_scratch_dir());
    assert_contains(kube_client_describe(c), d);
    free(d);
    kube_client_free(c);
    free(list);

    setenv("KUBECONFIG", "/nonexistent/1:/nonexistent/2", 1);
    assert_create_refused(NULL, "$KUBECONFIG (/nonexistent/1:/nonexistent/2) names no file");

    /* an explicit path wins over $KUBECONFIG; an explicit context over current-context */
    char *two = write_at("two.yaml", TWO_CONTEXTS);
    struct kube_config_source source = {.kubeconfig = two, .context = "prod"};
    c = kube_client_create(&source, &error);
    assert_non_null(c);
    assert_string_equal(kube_client_server(c), "https://prod.example:443");
    kube_client_free(c);
    unsetenv("KUBECONFIG");

    /* ~/.kube/config */
    char *home = dup_printf("%s/home", test_scratch_dir());
    free(write_at("home/.kube/config", TWO_CONTEXTS));
    setenv("HOME", home, 1);
    c = kube_client_create(NULL, &error);
    assert_non_null(c);
    assert_string_equal(kube_client_server(c), "https://dev.example:6443");
    assert_contains(kube_client_describe(c), "/home/.kube/config");
    kube_client_free(c);
    free(home);

    /* nothing at all */
    setenv("HOME", "/nonexistent", 1);
    assert_create_refused(NULL, "no Kubernetes configuration");
    free(a);
    free(b);
    free(two);
}

static void test_in_cluster(void **state)
{
    (void)state;
    char *token = write_at("sa/token", "in-cluster-token\n");
    free(write_at("sa/ca.crt", CA_PEM));
    free(write_at("sa/namespace", "servo-ns"));
    char *dir = dup_printf("%s/sa", test_scratch_dir());
    setenv("HOME", "/nonexistent", 1);
    setenv("SERVO_KUBE_SERVICE_ACCOUNT_DIR", dir, 1);
    assert_create_refused(NULL, "KUBERNETES_SERVICE_HOST");

    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    char *error = NULL;
    struct kube_client *c = kube_client_create(NULL, &error);
    if (c == NULL)
        fail_msg("%s", error);
    assert_string_equal(kube_client_server(c), "https://10.0.0.1:443");
    assert_string_equal(kube_client_namespace(c), "servo-ns");
    assert_contains(kube_client_describe(c), "in-cluster");
    assert_contains(kube_client_describe(c), token);
    assert_contains(kube_client_describe(c), "CA from ");
    assert_null(strstr(kube_client_describe(c), "in-cluster-token"));
    assert_string_equal(kube_client_no_proxy(c), "10.0.0.1");
    kube_client_free(c);

    /* IPv6 */
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    c = kube_client_create(NULL, &error);
    assert_non_null(c);
    assert_string_equal(kube_client_server(c), "https://[fd00::1]:443");
    assert_string_equal(kube_client_no_proxy(c), "fd00::1");
    kube_client_free(c);

    /* no token: a clear error */
    unlink(token);
    assert_create_refused(NULL, "service account token file");
    assert_create_refused(NULL, "/sa/token: No such file or directory");
    free(token);
    free(dir);
}

static void test_no_proxy(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: t\n");
    assert_string_equal(kube_client_no_proxy(c), "127.0.0.1");
    kube_client_free(c);

    setenv("no_proxy", "internal.example", 1);
    c = fake_client("    token: t\n");
    assert_string_equal(kube_client_no_proxy(c), "internal.example,127.0.0.1");
    kube_client_free(c);
    setenv("NO_PROXY", "a.example, 127.0.0.1", 1); /* NO_PROXY wins; the host is listed */
    c = fake_client("    token: t\n");
    assert_string_equal(kube_client_no_proxy(c), "a.example, 127.0.0.1");
    kube_client_free(c);

    /* a proxy in the environment is not used for the API server (ServoX #548) */
    setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    c = fake_client("    token: t\n");
    answer(200, "application/json", "{\"ok\":true}");
    struct kube_response r;
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    kube_response_clear(&r);
    kube_client_free(c);

    /* but a proxy-url in the kubeconfig is */
    char *yaml = dup_printf("clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d', "
                            "proxy-url: 'http://127.0.0.1:1'}}]\n"
                            "contexts: [{name: a, context: {cluster: c}}]\n"
                            "current-context: a\n",
                            server.port);
    c = client_from(yaml, NULL);
    assert_string_equal(kube_client_no_proxy(c), "");
    assert_contains(kube_client_describe(c), "proxy http://127.0.0.1:1");
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), -1);
    assert_string_equal(r.reason, "connect");
    kube_response_clear(&r);
    kube_client_free(c);
    free(yaml);
}

/* ---- requests --------------------------------------------------------------------------- */

static void test_methods_and_content_types(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: t\n");
    json_t *body = json_pack("{s:{s:i}}", "spec", "replicas", 3);
    struct {
        const char *method, *patch_type, *content_type;
    } cases[] = {
        {"POST", NULL, "application/json"},
        {"PUT", NULL, "application/json"},
        {"PATCH", NULL, "application/strategic-merge-patch+json"},
        {"PATCH", "strategic", "application/strategic-merge-patch+json"},
        {"PATCH", "merge", "application/merge-patch+json"},
        {"PATCH", "json", "application/json-patch+json"},
        {"PATCH", "apply", "application/apply-patch+yaml"},
        {"DELETE", NULL, "application/json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        answer(200, "application/json", "{\"kind\":\"Deployment\"}");
        struct kube_response r;
        assert_int_equal(kube_request(c, cases[i].method, "/apis/apps/v1/namespaces/n/x", body,
                                      cases[i].patch_type, NULL, &r),
                         0);
        assert_int_equal(r.status, 200);
        char *request = last_request();
        char *line = dup_printf("%s /apis/apps/v1/namespaces/n/x HTTP/1.1\r\n", cases[i].method);
        assert_contains(request, line);
        char *type = dup_printf("\r\nContent-Type: %s\r\n", cases[i].content_type);
        assert_contains(request, type);
        assert_contains(request, "\r\n\r\n{\"spec\":{\"replicas\":3}}");
        free(type);
        free(line);
        free(request);
        kube_response_clear(&r);
    }
    /* a DELETE without a body sends none */
    struct kube_response r;
    assert_int_equal(kube_request(c, "DELETE", "/api/v1/namespaces/n", NULL, NULL, NULL, &r), 0);
    char *request = last_request();
    assert_contains(request, "DELETE /api/v1/namespaces/n HTTP/1.1\r\n");
    assert_null(strstr(request, "Content-Type"));
    free(request);
    kube_response_clear(&r);

    /* refused before anything is sent */
    int before = server.requests;
    assert_int_equal(kube_request(c, "PATCH", "/x", body, "yaml", NULL, &r), -1);
    assert_string_equal(r.reason, "invalid-request");
    assert_contains(r.message, "unknown patch type \"yaml\"");
    kube_response_clear(&r);
    assert_int_equal(kube_request(c, "PATCH", "/x", NULL, NULL, NULL, &r), -1);
    assert_contains(r.message, "PATCH /x without a body");
    kube_response_clear(&r);
    assert_int_equal(kube_request(c, "HEAD", "/x", NULL, NULL, NULL, &r), -1);
    assert_contains(r.message, "unsupported method \"HEAD\"");
    kube_response_clear(&r);
    assert_int_equal(kube_request(c, "GET", "api/v1", NULL, NULL, NULL, &r), -1);
    assert_contains(r.message, "does not start with '/'");
    kube_response_clear(&r);
    assert_int_equal(kube_request(c, "GET", "/api/v1/pods?labelSelector=a b", NULL, NULL, NULL, &r),
                     -1);
    assert_contains(r.message, "spaces or control characters");
    assert_int_equal(r.status, 0);
    kube_response_clear(&r);
    assert_int_equal(server.requests, before);
    json_decref(body);
    kube_client_free(c);
}

static void test_status_failures(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: secret-token-value\n");
    struct kube_response r;

    answer(404, "application/json",
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
           "\"deployments.apps \\\"web\\\" not found\",\"reason\":\"NotFound\",\"details\":"
           "{\"name\":\"web\",\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":404}");
    assert_int_equal(
        kube_request(c, "GET", "/apis/apps/v1/namespaces/n/deployments/web", NULL, NULL, NULL, &r),
        0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.reason, "NotFound");
    assert_string_equal(r.message, "deployments.apps \"web\" not found");
    assert_string_equal(json_string_value(json_object_get(r.body, "kind")), "Status");
    kube_response_clear(&r);

    answer(409, "application/json",
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Operation cannot be "
           "fulfilled on deployments.apps \\\"web\\\": the object has been modified\","
           "\"reason\":\"Conflict\",\"code\":409}");
    json_t *object = json_object();
    assert_int_equal(kube_request(c, "PUT", "/x", object, NULL, NULL, &r), 0);
    json_decref(object);
    assert_int_equal(r.status, 409);
    assert_string_equal(r.reason, "Conflict");
    assert_contains(r.message, "the object has been modified");
    kube_response_clear(&r);

    answer(403, "application/json",
           "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"deployments.apps \\\"web\\\" "
           "is forbidden: User \\\"system:serviceaccount:n:servo\\\" cannot patch resource\","
           "\"reason\":\"Forbidden\",\"code\":403}");
    json_t *patch = json_object();
    assert_int_equal(kube_request(c, "PATCH", "/x", patch, "merge", NULL, &r), 0);
    assert_int_equal(r.status, 403);
    assert_string_equal(r.reason, "Forbidden");
    assert_contains(r.message, "is forbidden: User \"system:serviceaccount:n:servo\"");
    kube_response_clear(&r);
    json_decref(patch);

    /* 401: what the API server says, plus which credentials it rejected (never the token) */
    answer(401, "application/json",
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}");
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.reason, "Unauthorized");
    assert_contains(r.message, "Unauthorized: the API server http://127.0.0.1:");
    assert_contains(r.message, "rejected the bearer token (wrong or expired?)");
    assert_null(strstr(r.message, "secret-token-value"));
    kube_response_clear(&r);

    /* a failure without a Status body: an HTML page from a proxy */
    answer(502, "text/html", "<html><body>\n<h1>502 Bad Gateway</h1>\n</body></html>");
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 502);
    assert_string_equal(r.reason, "InternalError");
    assert_string_equal(r.message, "HTTP 502 Bad Gateway: <html><body> <h1>502 Bad Gateway</h1> "
                                   "</body></html>");
    assert_null(r.body);
    assert_non_null(r.text);
    kube_response_clear(&r);
    answer(429, "application/json", "{\"something\":\"else\"}");
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), 0);
    assert_string_equal(r.reason, "TooManyRequests");
    assert_contains(r.message, "HTTP 429 Too Many Requests: {\"something\":\"else\"}");
    kube_response_clear(&r);

    /* a Status with status Success (a DELETE) is no failure */
    answer(200, "application/json",
           "{\"kind\":\"Status\",\"status\":\"Success\",\"details\":{\"name\":\"x\"}}");
    assert_int_equal(kube_request(c, "DELETE", "/x", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_null(r.message);
    assert_string_equal(r.reason, "");
    kube_response_clear(&r);
    kube_client_free(c);
}

static void test_bodies(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: t\n");
    struct kube_response r;
    /* /readyz answers text */
    answer(200, "text/plain; charset=utf-8", "ok");
    assert_int_equal(kube_request(c, "GET", "/readyz", NULL, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_string_equal(r.text, "ok");
    kube_response_clear(&r);
    /* a JSON content type with a body that is not JSON */
    answer(200, "application/json", "{\"items\": [1, 2");
    assert_int_equal(kube_request(c, "GET", "/api/v1/pods", NULL, NULL, NULL, &r), -1);
    assert_string_equal(r.reason, "invalid-response");
    assert_contains(r.message, "HTTP 200 with a body that is not JSON");
    assert_contains(r.message, "{\"items\": [1, 2");
    assert_int_equal(r.status, 0);
    kube_response_clear(&r);
    /* an empty body */
    answer(200, "application/json", "");
    assert_int_equal(kube_request(c, "DELETE", "/x", NULL, NULL, NULL, &r), 0);
    assert_null(r.body);
    assert_null(r.text);
    kube_response_clear(&r);
    kube_client_free(c);
}

static void test_response_size_bound(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: t\n");
    struct kube_response r;
    /* over the bound, announced (Content-Length) and not (the body ends with the connection) */
    for (int announce = 0; announce < 2; announce++) {
        pthread_mutex_lock(&server.lock);
        server.mode = ANSWER_BIG;
        server.big = KUBE_RESPONSE_MAX + 1024 * 1024;
        server.content_length = announce;
        pthread_mutex_unlock(&server.lock);
        assert_int_equal(kube_request(c, "GET", "/api/v1/pods", NULL, NULL, NULL, &r), -1);
        assert_string_equal(r.reason, "too-large");
        assert_contains(r.message, "GET /api/v1/pods: the answer is larger than 64 MiB");
        assert_null(r.body);
        kube_response_clear(&r);
    }
    /* a big list below the bound parses */
    size_t items = 200000;
    char *list = malloc(items * 40 + 64);
    size_t n = (size_t)sprintf(list, "{\"kind\":\"PodList\",\"items\":[");
    for (size_t i = 0; i < items; i++)
        n += (size_t)sprintf(list + n, "%s{\"metadata\":{\"name\":\"pod-%zu\"}}", i > 0 ? "," : "",
                             i);
    strcpy(list + n, "]}");
    answer(200, "application/json", list);
    assert_int_equal(kube_request(c, "GET", "/api/v1/pods", NULL, NULL, NULL, &r), 0);
    assert_int_equal(json_array_size(json_object_get(r.body, "items")), items);
    kube_response_clear(&r);
    answer(200, "application/json", "{}");
    free(list);
    kube_client_free(c);
}

static void test_timeout_and_unreachable(void **state)
{
    (void)state;
    struct kube_client *c = fake_client("    token: t\n");
    kube_client_set_timeout(c, 0.5);
    pthread_mutex_lock(&server.lock);
    server.mode = ANSWER_HANG;
    pthread_mutex_unlock(&server.lock);
    struct kube_response r;
    double start = now_seconds();
    assert_int_equal(kube_request(c, "GET", "/api", NULL, NULL, NULL, &r), -1);
    double elapsed = now_seconds() - start;
    assert_true(elapsed >= 0.4 && elapsed < 3.0);
    assert_string_equal(r.reason, "timeout");
    assert_contains(r.message, "no answer within 0.5 s");
    assert_int_equal(r.status, 0);
    kube_response_clear(&r);
    kube_client_free(c);
    answer(200, "application/json", "{}");

    /* nothing listens: refused at once */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t size = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &size);
    int port = ntohs(address.sin_port);
    close(fd); /* the port is now closed */
    char *yaml = dup_printf("clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
                            "contexts: [{name: a, context: {cluster: c}}]\n"
                            "current-context: a\n",
                            port);
    c = client_from(yaml, NULL);
    start = now_seconds();
    assert_int_equal(kube_request(c, "GET", "/version", NULL, NULL, NULL, &r), -1);
    assert_true(now_seconds() - start < 3.0);
    assert_string_equal(r.reason, "connect");
    char *expected = dup_printf("cannot connect to the API server http://127.0.0.1:%d", port);
    assert_contains(r.message, expected);
    free(expected);
    kube_response_clear(&r);
    kube_client_free(c);
    free(yaml);
}

/* ---- requests inside an event: deadline and cancellation --------------------------------- */

struct event_run {
    struct kube_client *client;
    int rc;
    struct kube_response response;
    double elapsed;
};

static int request_handler(struct servo_connector *connector, struct servo_event *ev)
{
    struct event_run *run = servo_connector_state(connector);
    double start = now_seconds();
    run->rc = kube_request(run->client, "GET", "/api", NULL, NULL, ev, &run->response);
    run->elapsed = now_seconds() - start;
    return 0;
}

static const struct servo_handler request_handlers[] = {
    {"custom", SERVO_ON, request_handler},
    {NULL, 0, NULL},
};
static const struct servo_connector_plugin requester = {
    SERVO_CONNECTOR_HEADER, .name = "requester", .class_name = "Requester", .version = "0.0.1",
    .handlers = request_handlers};

struct cancel_later {
    struct cancel_token *token;
    double after;
};

static void *cancel_later_main(void *arg)
{
    struct cancel_later *t = arg;
    usleep((useconds_t)(t->after * 1e6));
    cancel_trigger(t->token, "stop now");
    return NULL;
}

static void run_event(struct event_run *run, const struct bus_options *options)
{
    struct servo_connector connector = {.name = (char *)"k", .plugin = &requester, .state = run};
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(bus_dispatch(&connector, 1, "custom", &args, options, &out), 0);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_event_deadline_and_cancel(void **state)
{
    (void)state;
    pthread_mutex_lock(&server.lock);
    server.mode = ANSWER_HANG;
    pthread_mutex_unlock(&server.lock);
    struct event_run run = {.client = fake_client("    token: t\n")};

    /* the event's deadline bounds the request (the client's own timeout is 60 s) */
    struct bus_options options = {.timeout = 0.4};
    run_event(&run, &options);
    assert_int_equal(run.rc, -1);
    assert_string_equal(run.response.reason, "timeout");
    assert_true(run.elapsed >= 0.3 && run.elapsed < 3.0);
    kube_response_clear(&run.response);

    /* cancelled from another thread */
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0);
    struct cancel_later later = {&parent, 0.3};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, cancel_later_main, &later), 0);
    options = (struct bus_options){.parent = &parent};
    run_event(&run, &options);
    pthread_join(thread, NULL);
    assert_int_equal(run.rc, -1);
    assert_string_equal(run.response.reason, "cancelled");
    assert_contains(run.response.message, "GET /api: cancelled after");
    assert_true(run.elapsed >= 0.2 && run.elapsed < 3.0);
    kube_response_clear(&run.response);

    /* already cancelled: nothing is sent */
    answer(200, "application/json", "{}");
    int before = server.requests;
    run_event(&run, &options);
    assert_int_equal(run.rc, -1);
    assert_string_equal(run.response.reason, "cancelled");
    assert_int_equal(server.requests, before);
    kube_response_clear(&run.response);
    cancel_destroy(&parent);

    /* an event with time left: a normal answer */
    options = (struct bus_options){.timeout = 10};
    run_event(&run, &options);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.response.status, 200);
    kube_response_clear(&run.response);
    kube_client_free(run.client);
}

/* Many threads share one client: handles are pooled, tokens copied under the lock. */
struct shared_run {
    struct kube_client *client;
    int ok;
};

static void *shared_main(void *arg)
{
    struct shared_run *run = arg;
    for (int i = 0; i < 20; i++) {
        struct kube_response r;
        if (kube_request(run->client, "GET", "/version", NULL, NULL, NULL, &r) == 0 &&
            r.status == 200)
            run->ok++;
        kube_response_clear(&r);
    }
    return NULL;
}

static void test_shared_between_threads(void **state)
{
    (void)state;
    answer(200, "application/json", "{\"gitVersion\":\"v1.20.2\"}");
    struct kube_client *c = fake_client("    token: t\n");
    struct shared_run runs[6];
    pthread_t threads[6];
    for (int i = 0; i < 6; i++) {
        runs[i] = (struct shared_run){.client = c};
        assert_int_equal(pthread_create(&threads[i], NULL, shared_main, &runs[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(runs[i].ok, 20);
    }
    kube_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_user),
        cmocka_unit_test(test_token_file_relative),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_no_credentials),
        cmocka_unit_test(test_client_certificate_forms),
        cmocka_unit_test(test_credential_plugins_refused),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test_setup_teardown(test_kubeconfig_files_and_env, save_env, restore_env),
        cmocka_unit_test_setup_teardown(test_in_cluster, save_env, restore_env),
        cmocka_unit_test_setup_teardown(test_no_proxy, save_env, restore_env),
        cmocka_unit_test(test_methods_and_content_types),
        cmocka_unit_test(test_status_failures),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_response_size_bound),
        cmocka_unit_test(test_timeout_and_unreachable),
        cmocka_unit_test(test_event_deadline_and_cancel),
        cmocka_unit_test(test_shared_between_threads),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
