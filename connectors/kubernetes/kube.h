/* A small Kubernetes API client over the servo's HTTP engine and jansson: credentials from a
 * kubeconfig (the `kubeconfig` setting, $KUBECONFIG, ~/.kube/config; contexts; bearer tokens, token
 * files, client certificates, CA data or file, insecure-skip-tls-verify) or in-cluster
 * (the service-account token and CA, $KUBERNETES_SERVICE_HOST). No kubectl.
 *
 * Where the configuration comes from, in order:
 *   1. source->kubeconfig, when given (it must be readable);
 *   2. $KUBECONFIG: one path or several separated by ':' (merged as kubectl does: for each
 *      cluster, user and context name the first file that defines it wins, and so does the
 *      first current-context); files that do not exist are skipped, but at least one must;
 *   3. ~/.kube/config, when it exists;
 *   4. in-cluster: $KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT, the token and CA
 *      in /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace} (the
 *      directory can be moved with $SERVO_KUBE_SERVICE_ACCOUNT_DIR, for tests). The token
 *      file is read again every minute (bound service-account tokens rotate).
 * The context is source->context, else the kubeconfig's current-context.
 *
 * kubeconfig fields understood: clusters[].cluster.{server, certificate-authority,
 * certificate-authority-data, insecure-skip-tls-verify, proxy-url}; users[].user.{token,
 * tokenFile, client-certificate, client-certificate-data, client-key, client-key-data,
 * username, password}; contexts[].context.{cluster, user, namespace}; current-context.
 * Relative paths are resolved against the directory of the kubeconfig that names them;
 * *-data fields are base64 PEM. A token wins over tokenFile; a tokenFile is read again
 * every minute (rotated tokens); -data wins over the path. exec and auth-provider users
 * are refused with a clear message (servo runs no credential plugins). Certificates and
 * keys are read once, when the client is created, and handed to the HTTP engine as in-memory
 * blobs: nothing is written to disk.
 *
 * TLS: a CA from the kubeconfig replaces the system CAs (as client-go does); without one the
 * system CAs are used. The API server's host is added to the client's NO_PROXY list (ServoX
 * #548): requests never go through $HTTPS_PROXY to the API server, unless the kubeconfig
 * names a proxy-url, which is then used for every request. The process environment is not
 * changed (setenv is not thread-safe); the list goes to the HTTP engine.
 *
 * A client is safe to share between threads once created (kube_client_set_timeout must come
 * before that). One HTTP engine client, made on the first request, keeps the connections
 * (and TLS sessions) for the next ones. The bearer token is never logged. */
#ifndef SERVO_KUBE_H
#define SERVO_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "servo/events.h"

/* A response body larger than this fails the request (reason "too-large"); the body is
 * collected in memory and parsed once. */
#define KUBE_RESPONSE_MAX ((size_t)64 * 1024 * 1024)
/* The timeout of one request when no event bounds it (kube_client_set_timeout changes it). */
#define KUBE_DEFAULT_TIMEOUT 60.0

struct kube_client;

struct kube_config_source {
    const char *kubeconfig; /* a path, or NULL: $KUBECONFIG, then ~/.kube/config, then
                               in-cluster */
    const char *context;    /* NULL: current-context */
};

/* Builds a client; NULL with a message (caller frees) naming what is wrong: the file
 * ("kubeconfig /x: No such file or directory", "kubeconfig /x: not YAML: ... at line 3"),
 * the entry (`context "prod" is not in /x (contexts: dev, local)`) or the field
 * (`user "admin": client-certificate-data is not valid base64`). */
struct kube_client *kube_client_create(const struct kube_config_source *source, char **error);
/* The same from a kubeconfig held in memory (tests, fuzzing). Relative paths in it are
 * resolved against `base_dir` (NULL: the current directory); `context` NULL means its
 * current-context. */
struct kube_client *kube_client_from_kubeconfig(const char *text, size_t length,
                                                const char *base_dir, const char *context,
                                                char **error);
void kube_client_free(struct kube_client *c);
/* "https://127.0.0.1:16443" (no trailing slash) */
const char *kube_client_server(const struct kube_client *c);
/* The context's namespace (in-cluster: the service account's), "default" when none. */
const char *kube_client_namespace(const struct kube_client *c);
/* One line for logs and checks, never a secret: where the configuration came from and how
 * the client authenticates, e.g. `kubeconfig /run/admin.kubeconfig, context "local":
 * https://127.0.0.1:16443, user "admin" (bearer token), CA from /run/pki/ca.crt`. */
const char *kube_client_describe(const struct kube_client *c);
/* The NO_PROXY list the requests use: $NO_PROXY (else $no_proxy) plus the API server's host;
 * "" when the kubeconfig names a proxy-url. */
const char *kube_client_no_proxy(const struct kube_client *c);
/* The timeout of one request, in seconds, when no event bounds it more tightly (default
 * KUBE_DEFAULT_TIMEOUT). Connecting alone gets at most 10 s of it. Not thread-safe: call it
 * before sharing the client. */
void kube_client_set_timeout(struct kube_client *c, double seconds);

struct kube_response {
    long status;   /* HTTP status; 0 when the request did not complete */
    json_t *body;  /* the parsed JSON body, or NULL */
    char *text;    /* the body when it is not JSON ("ok" from /readyz), else NULL */
    char *message; /* for failures: "deployments.apps \"web\" is forbidden: ..." from a
                      kind: Status body, or the transport error; NULL on success */
    char *reason;  /* Status.reason ("NotFound", "Conflict", "Forbidden") or "" */
};

/* Frees what a response holds and zeroes it (safe to call twice). */
void kube_response_clear(struct kube_response *r);

/* One request: method "GET", "POST", "PUT", "PATCH" (body JSON, content type chosen by
 * `patch_type`: "strategic", "merge" or "json"), "DELETE". `path` is absolute
 * ("/apis/apps/v1/namespaces/ns/deployments/web"). `event` (may be NULL) makes it
 * cancellable and bounded by the event's deadline. Returns 0 when a response arrived (any
 * status), -1 on a transport error (in r->message). */
int kube_request(struct kube_client *c, const char *method, const char *path, const json_t *body,
                 const char *patch_type, const struct servo_event *event, struct kube_response *r);
/* More on kube_request:
 * - `r` is overwritten (clear a previous response first). On return r->reason is never NULL.
 * - Content types: POST and PUT send application/json; PATCH sends
 *   application/strategic-merge-patch+json ("strategic", also when patch_type is NULL),
 *   application/merge-patch+json ("merge"), application/json-patch+json ("json", `body` a
 *   JSON array) or application/apply-patch+yaml ("apply": server-side apply; add
 *   ?fieldManager=... to the path). DELETE sends `body` (DeleteOptions) when given.
 * - Failures with a response (status >= 400): r->message and r->reason come from the
 *   kind: Status body (r->body keeps it); without one, the message is "HTTP 404 Not Found:
 *   <the start of the body>" and the reason the status's usual one ("NotFound",
 *   "Unauthorized", "Forbidden", "Conflict", "Invalid", "TooManyRequests",
 *   "InternalError", "ServiceUnavailable", ...). A 401 message also says that the API
 *   server rejected the credentials, and which ones (never the token itself). r->status is
 *   the HTTP status exactly (401, 403, 404, 409, 422, ...).
 * - -1 (no usable response; r->status 0, r->body NULL): r->reason is "cancelled" (the event
 *   was cancelled), "timeout" (the request's timeout or the event's deadline), "tls" (the
 *   server's certificate is not trusted, the client certificate was refused, ...),
 *   "connect" (refused, unreachable, cannot resolve), "too-large" (a body over
 *   KUBE_RESPONSE_MAX), "invalid-response" (a JSON content type with a body that is not
 *   JSON), "invalid-request" (an unknown method or patch type, a PATCH without a body) or
 *   "transport" (anything else); r->message says what happened, with the server's URL.
 * - Nothing is retried: a caller that wants retries on 409, 429 or 5xx loops itself. */

/* One SelfSubjectAccessReview in namespace `ns`: may the servo's identity `verb` `resource`
 * ("pods", or "pods/log" for a subresource; "namespaces" reviews the namespace `ns` itself)
 * of API group `group` ("" for the core group)? 1 allowed, 0 denied, -1 when the review
 * itself failed (`error`: kind SERVO_ERROR_FAILED, or cancelled). */
int kube_access_review(struct kube_client *c, const struct servo_event *event, const char *ns,
                       const char *group, const char *resource, const char *verb,
                       struct servo_error *error);

/* The oldest Kubernetes release the servo supports (ServoX's minimum) and the newest it is
 * tested against: 1.16 and 1.30. */
#define KUBE_OLDEST_SUPPORTED_MINOR 16
#define KUBE_NEWEST_TESTED_MINOR 30

/* The API server's /version judged against a range of releases. */
enum kube_version_verdict {
    KUBE_VERSION_UNREADABLE, /* major or minor absent or not starting with a number */
    KUBE_VERSION_OLDER,      /* older than 1.min */
    KUBE_VERSION_SUPPORTED,  /* 1.min or later, and not newer than 1.max when there is one */
    KUBE_VERSION_NEWER,      /* newer than 1.max: it passes, with a note */
};

struct kube_version {
    json_t *body;      /* /version as read (kube_version_clear releases it) */
    const char *major; /* "1"; NULL when absent (these three borrow from `body`) */
    const char *minor; /* "20", or "20+" (some managed clusters); NULL when absent */
    const char *git;   /* "v1.20.2"; NULL when absent */
    long major_number; /* the numbers major and minor start with ("20+": 20); 0 when */
    long minor_number; /* unreadable */
    enum kube_version_verdict verdict;
};

/* Judges the /version object `body` (`v` takes a reference) against 1.`min_minor` and, when
 * `max_minor` is not 0, 1.`max_minor`: (major, minor) pairs compared, so 2.0 is newer than
 * any 1.x. */
void kube_version_judge(const json_t *body, int min_minor, int max_minor, struct kube_version *v);
/* GET /version, judged as kube_version_judge does: 0, or -1 with `error` filled
 * ("WHAT: the request's message"; SERVO_ERROR_FAILED, or cancelled). */
int kube_version_get(struct kube_client *c, const struct servo_event *event, const char *what,
                     int min_minor, int max_minor, struct kube_version *v,
                     struct servo_error *error);
/* Releases what `v` holds and zeroes it (safe to call twice). */
void kube_version_clear(struct kube_version *v);

/* ---- for the checks of the connectors built on this client ------------------------------- */

struct servo_check;
struct servo_connector;

/* How a connector gives its client: the client, or NULL with `error` saying why there is
 * none. */
typedef struct kube_client *kube_client_getter(struct servo_connector *connector,
                                               struct servo_error *error);

/* Fails `check` with `error`'s message; returns -1. */
int kube_check_fail(struct servo_check *check, const struct servo_error *error);
/* The client `client_of` gives for `connector`, or NULL with `check` failed saying why. */
struct kube_client *kube_check_client(struct servo_connector *connector,
                                      kube_client_getter *client_of, struct servo_check *check);

#endif
