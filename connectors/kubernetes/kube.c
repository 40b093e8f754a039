/* The Kubernetes API client of kube.h: kubeconfig and in-cluster configuration, then one
 * request per call with the servo's HTTP engine (servo/http.h).
 *
 * Configuration: the kubeconfig files are loaded with libyaml's document API (anchors and
 * flow style work as in any YAML); only fixed paths into the document are visited, so an
 * odd document (aliases, deep nesting) costs nothing. Several files ($KUBECONFIG=a:b) are
 * searched in order for each name. Every credential file is read when the client is
 * created, so a wrong path fails kube_client_create, not the first request; PEM data goes
 * to the engine as data, never through a file.
 *
 * Requests: a cancelled event stops one within 50 ms; its timeout is the smaller of the
 * client's timeout and the event's remaining time. The body is collected into one buffer (at
 * most KUBE_RESPONSE_MAX) and parsed once. The engine client, made on the first request,
 * keeps the connections (and TLS sessions) for the next. */
#include "kube.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "servo/alloc.h"
#include "servo/checks.h"
#include "servo/http.h"
#include "servo/log.h"
#include "servo/util.h"

#ifndef SERVO_VERSION
#define SERVO_VERSION "0"
#endif

#define USER_AGENT "servo/" SERVO_VERSION " (kubernetes)"
#define SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBECONFIG_MAX ((size_t)16 * 1024 * 1024)
#define CREDENTIAL_MAX ((size_t)1024 * 1024)
#define TOKEN_REFRESH_SECONDS 60.0
#define CONNECT_TIMEOUT_MAX 10.0
#define QUOTE_MAX 200

/* ---- small helpers ---------------------------------------------------------------------- */

/* Sets *error (when error is not NULL) and returns -1. */
__attribute__((format(printf, 2, 3))) static int fail(char **error, const char *fmt, ...)
{
    if (error != NULL) {
        va_list ap;
        va_start(ap, fmt);
        free(*error);
        *error = servo_strdup_vprintf(fmt, ap);
        va_end(ap);
    }
    return -1;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growable byte buffer, always NUL-terminated. */
struct buffer {
    char *data;
    size_t length;
    size_t capacity;
};

static void buffer_append(struct buffer *b, const char *data, size_t length)
{
    if (b->length + length + 1 > b->capacity) {
        size_t need = b->length + length + 1;
        size_t capacity = b->capacity != 0 ? b->capacity : 4096;
        while (capacity < need)
            capacity *= 2;
        /* a response just under the bound does not get twice the memory */
        if (capacity > KUBE_RESPONSE_MAX + 1 && need <= KUBE_RESPONSE_MAX + 1)
            capacity = KUBE_RESPONSE_MAX + 1;
        char *grown = servo_xrealloc(b->data, capacity);
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, data, length);
    b->length += length;
    b->data[b->length] = '\0';
}

static void buffer_add(struct buffer *b, const char *s)
{
    buffer_append(b, s, strlen(s));
}

/* Reads a whole file of at most `max` bytes. Credential files must be regular files (they
 * are opened non-blocking, so a FIFO or a device never hangs the caller). */
static int read_file(const char *path, size_t max, bool regular_only, char **out,
                     size_t *out_length, char **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
    if (fd < 0)
        return fail(error, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return fail(error, "%s: %s", path, strerror(saved));
    }
    if (regular_only && !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(error, "%s: %s", path,
                    S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
    }
    struct buffer b = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close(fd);
            free(b.data);
            return fail(error, "%s: %s", path, strerror(saved));
        }
        if (n == 0)
            break;
        if (b.length + (size_t)n > max) {
            close(fd);
            free(b.data);
            return fail(error, "%s: larger than %zu bytes", path, max);
        }
        buffer_append(&b, chunk, (size_t)n);
    }
    close(fd);
    if (b.data == NULL)
        buffer_append(&b, "", 0);
    *out = b.data;
    *out_length = b.length;
    return 0;
}

/* Standard base64 (RFC 4648), whitespace ignored, padding optional. */
static int base64_decode(const char *in, size_t length, char **out, size_t *out_length)
{
    char *result = servo_xmalloc(length / 4 * 3 + 3);
    size_t n = 0;
    uint32_t bits = 0;
    int count = 0;
    bool padding = false;
    for (size_t i = 0; i < length; i++) {
        unsigned char ch = (unsigned char)in[i];
        int value;
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
            continue;
        if (ch == '=') {
            padding = true;
            continue;
        }
        if (padding)
            goto invalid; /* data after padding */
        if (ch >= 'A' && ch <= 'Z')
            value = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            value = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            value = ch - '0' + 52;
        else if (ch == '+')
            value = 62;
        else if (ch == '/')
            value = 63;
        else
            goto invalid;
        bits = (bits << 6) | (uint32_t)value;
        if (++count == 4) {
            result[n++] = (char)(bits >> 16);
            result[n++] = (char)(bits >> 8);
            result[n++] = (char)bits;
            bits = 0;
            count = 0;
        }
    }
    if (count == 1)
        goto invalid;
    if (count == 2) {
        result[n++] = (char)(bits >> 4);
    } else if (count == 3) {
        result[n++] = (char)(bits >> 10);
        result[n++] = (char)(bits >> 2);
    }
    result[n] = '\0';
    *out = result;
    *out_length = n;
    return 0;
invalid:
    free(result);
    return -1;
}

static bool looks_like_pem(const char *data, size_t length)
{
    return memmem(data, length, "-----BEGIN ", 11) != NULL;
}

/* The directory part of `path` ("." when it has none). */
static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return servo_xstrdup(".");
    if (slash == path)
        return servo_xstrdup("/");
    return servo_xstrndup(path, (size_t)(slash - path));
}

static char *resolve_path(const char *dir, const char *path)
{
    if (path[0] == '/' || dir == NULL)
        return servo_xstrdup(path);
    return servo_strdup_printf("%s/%s", dir, path);
}

/* ---- the client ------------------------------------------------------------------------- */

/* PEM bytes and where they came from ("/x/ca.crt" or "certificate-authority-data"). */
struct blob {
    char *data;
    size_t length;
    char *origin;
};

struct kube_client {
    char *server;
    char *host;
    char *namespace;
    char *description;
    char *no_proxy;
    char *proxy; /* proxy-url, or NULL */
    bool insecure;
    struct blob ca, cert, key;
    char *username, *password;
    double timeout;

    pthread_mutex_t lock; /* everything below */
    char *token;          /* the static token, or the latest read from token_file */
    char *token_file;     /* re-read every TOKEN_REFRESH_SECONDS */
    double token_read_at;
    struct servo_http_client *http; /* made on the first request */
};

static void blob_free(struct blob *b)
{
    if (b->data != NULL)
        memset(b->data, 0, b->length); /* keys */
    free(b->data);
    free(b->origin);
    memset(b, 0, sizeof *b);
}

static void secret_free(char *s)
{
    if (s != NULL)
        memset(s, 0, strlen(s));
    free(s);
}

void kube_client_free(struct kube_client *c)
{
    if (c == NULL)
        return;
    servo_http_client_free(c->http);
    free(c->server);
    free(c->host);
    free(c->namespace);
    free(c->description);
    free(c->no_proxy);
    free(c->proxy);
    blob_free(&c->ca);
    blob_free(&c->cert);
    blob_free(&c->key);
    free(c->username);
    secret_free(c->password);
    secret_free(c->token);
    free(c->token_file);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static struct kube_client *client_new(void)
{
    struct kube_client *c = servo_xmalloc(sizeof *c);
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->timeout = KUBE_DEFAULT_TIMEOUT;
    return c;
}

const char *kube_client_server(const struct kube_client *c)
{
    return c->server;
}

const char *kube_client_namespace(const struct kube_client *c)
{
    return c->namespace;
}

const char *kube_client_describe(const struct kube_client *c)
{
    return c->description;
}

const char *kube_client_no_proxy(const struct kube_client *c)
{
    return c->no_proxy;
}

void kube_client_set_timeout(struct kube_client *c, double seconds)
{
    if (seconds > 0)
        c->timeout = seconds;
}

/* A token goes into an HTTP header: no control characters, not empty. */
static int check_token(const char *token, const char *what, char **error)
{
    if (token[0] == '\0')
        return fail(error, "%s is empty", what);
    for (const char *p = token; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(error, "%s contains control characters", what);
    return 0;
}

/* Reads a token file: the whole file, without surrounding whitespace. */
static int read_token(const char *path, char **token, char **error)
{
    char *data;
    size_t length;
    char *why = NULL;
    if (read_file(path, CREDENTIAL_MAX, true, &data, &length, &why) != 0) {
        fail(error, "token file %s", why);
        free(why);
        return -1;
    }
    if (strlen(data) != length) {
        secret_free(data);
        return fail(error, "token file %s contains a NUL byte", path);
    }
    size_t start = 0;
    while (start < length && strchr(" \t\r\n", data[start]) != NULL)
        start++;
    while (length > start && strchr(" \t\r\n", data[length - 1]) != NULL)
        length--;
    char *t = servo_xstrndup(data + start, length - start);
    secret_free(data);
    char *what = servo_strdup_printf("the token in %s", path);
    int rc = check_token(t, what, error);
    free(what);
    if (rc != 0) {
        secret_free(t);
        return -1;
    }
    *token = t;
    return 0;
}

/* The host of a URL, without user info, brackets or port. */
static char *url_host(const char *url)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    size_t end = strcspn(p, "/?#");
    const char *at = memchr(p, '@', end);
    if (at != NULL) {
        end -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if (p[0] == '[') {
        const char *close = memchr(p, ']', end);
        if (close != NULL)
            return servo_xstrndup(p + 1, (size_t)(close - p - 1));
    }
    const char *colon = memchr(p, ':', end);
    return servo_xstrndup(p, colon != NULL ? (size_t)(colon - p) : end);
}

/* NO_PROXY for the client: the environment's list plus the API host (ServoX #548). */
static void set_no_proxy(struct kube_client *c)
{
    if (c->proxy != NULL) {
        c->no_proxy = servo_xstrdup("");
        return;
    }
    const char *env = getenv("NO_PROXY");
    if (env == NULL || env[0] == '\0')
        env = getenv("no_proxy");
    if (env == NULL || env[0] == '\0') {
        c->no_proxy = servo_xstrdup(c->host);
        return;
    }
    /* already listed? */
    size_t host_length = strlen(c->host);
    for (const char *p = env; *p != '\0';) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == host_length && strncmp(p, c->host, n) == 0) {
            c->no_proxy = servo_xstrdup(env);
            return;
        }
        p += n;
    }
    c->no_proxy = servo_strdup_printf("%s,%s", env, c->host);
}

/* Normalizes the server URL: a scheme (https:// when none), no trailing slash. */
static int set_server(struct kube_client *c, const char *server, const char *what, char **error)
{
    if (server == NULL || server[0] == '\0')
        return fail(error, "%s has no server", what);
    for (const char *p = server; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return fail(error, "%s: server \"%s\" is not a URL", what, server);
    if (strstr(server, "://") != NULL) {
        if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
            return fail(error, "%s: server \"%s\" is not an http(s) URL", what, server);
        c->server = servo_xstrdup(server);
    } else {
        c->server = servo_strdup_printf("https://%s", server);
    }
    /* trailing slashes go, never into the "scheme://" part */
    size_t length = strlen(c->server);
    size_t minimum = (size_t)(strstr(c->server, "://") - c->server) + 3;
    while (length > minimum && c->server[length - 1] == '/')
        c->server[--length] = '\0';
    c->host = url_host(c->server);
    if (c->host[0] == '\0')
        return fail(error, "%s: server \"%s\" has no host", what, server);
    return 0;
}

/* ---- kubeconfig documents --------------------------------------------------------------- */

struct kc_file {
    char *path; /* for messages; "(kubeconfig)" when from memory */
    char *dir;  /* relative paths are resolved against it */
    yaml_document_t doc;
    bool loaded;
};

struct kc_set {
    struct kc_file *files;
    size_t count;
};

static void kc_set_free(struct kc_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->files[i].loaded)
            yaml_document_delete(&set->files[i].doc);
        free(set->files[i].path);
        free(set->files[i].dir);
    }
    free(set->files);
    memset(set, 0, sizeof *set);
}

static int kc_parse(struct kc_file *f, const char *text, size_t length, char **error)
{
    if (strlen(text) != length)
        return fail(error, "kubeconfig %s: not a text file (it contains NUL bytes)", f->path);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return fail(error, "kubeconfig %s: cannot initialize the YAML parser", f->path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    if (!yaml_parser_load(&parser, &f->doc)) {
        int rc = fail(error, "kubeconfig %s: not YAML: %s at line %zu, column %zu", f->path,
                      parser.problem != NULL ? parser.problem : "a syntax error",
                      parser.problem_mark.line + 1, parser.problem_mark.column + 1);
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    f->loaded = true;
    yaml_node_t *root = yaml_document_get_root_node(&f->doc);
    if (root == NULL)
        return fail(error, "kubeconfig %s is empty", f->path);
    if (root->type != YAML_MAPPING_NODE)
        return fail(error, "kubeconfig %s is not a kubeconfig (its top level is not a mapping)",
                    f->path);
    return 0;
}

static yaml_node_t *kc_root(struct kc_file *f)
{
    return yaml_document_get_root_node(&f->doc);
}

/* A scalar's text, NULL for null (~, null, an empty plain scalar) or a non-scalar. */
static const char *kc_scalar(const yaml_node_t *node)
{
    if (node == NULL || node->type != YAML_SCALAR_NODE)
        return NULL;
    const char *value = (const char *)node->data.scalar.value;
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (value[0] == '\0' || strcmp(value, "~") == 0 || strcmp(value, "null") == 0 ||
         strcmp(value, "Null") == 0 || strcmp(value, "NULL") == 0))
        return NULL;
    return value;
}

static yaml_node_t *kc_get(struct kc_file *f, yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *k = yaml_document_get_node(&f->doc, pair->key);
        if (k != NULL && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(&f->doc, pair->value);
    }
    return NULL;
}

/* A string field: absent/null gives NULL; a non-scalar or a value with a NUL byte is an
 * error. */
static int kc_string(struct kc_file *f, yaml_node_t *map, const char *key, const char *what,
                     const char **out, char **error)
{
    yaml_node_t *node = kc_get(f, map, key);
    *out = NULL;
    if (node == NULL)
        return 0;
    if (node->type != YAML_SCALAR_NODE)
        return fail(error, "%s: %s is not a string (in %s)", what, key, f->path);
    const char *value = kc_scalar(node);
    if (value != NULL && strlen(value) != node->data.scalar.length)
        return fail(error, "%s: %s contains a NUL byte (in %s)", what, key, f->path);
    *out = value;
    return 0;
}

/* YAML 1.1 booleans, as Go's yaml reads them. */
static int kc_bool(struct kc_file *f, yaml_node_t *map, const char *key, const char *what,
                   bool *out, char **error)
{
    const char *value;
    *out = false;
    if (kc_string(f, map, key, what, &value, error) != 0)
        return -1;
    if (value == NULL)
        return 0;
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                      "on",   "On",   "ON",   "y",   "Y"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
                                     "off",   "Off",   "OFF",   "n",  "N"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (strcmp(value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(value, no[i]) == 0)
            return 0;
    return fail(error, "%s: %s must be true or false, not \"%s\" (in %s)", what, key, value,
                f->path);
}

/* Finds `name` in the list `section` (clusters, users, contexts) of the first file that has
 * it; returns the entry's `inner` mapping (cluster, user, context) and its file. */
static yaml_node_t *kc_find(struct kc_set *set, const char *section, const char *inner,
                            const char *name, struct kc_file **file)
{
    for (size_t i = 0; i < set->count; i++) {
        struct kc_file *f = &set->files[i];
        yaml_node_t *list = kc_get(f, kc_root(f), section);
        if (list == NULL || list->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *item = list->data.sequence.items.start;
             item < list->data.sequence.items.top; item++) {
            yaml_node_t *entry = yaml_document_get_node(&f->doc, *item);
            const char *entry_name = kc_scalar(kc_get(f, entry, "name"));
            if (entry_name != NULL && strcmp(entry_name, name) == 0) {
                *file = f;
                yaml_node_t *value = kc_get(f, entry, inner);
                /* `context: {}` and a missing mapping both mean an empty entry */
                return value != NULL ? value : entry;
            }
        }
    }
    return NULL;
}

/* "a, b, c": the names of a section, for messages. */
static char *kc_names(struct kc_set *set, const char *section)
{
    struct buffer b = {0};
    size_t listed = 0;
    for (size_t i = 0; i < set->count; i++) {
        struct kc_file *f = &set->files[i];
        yaml_node_t *list = kc_get(f, kc_root(f), section);
        if (list == NULL || list->type != YAML_SEQUENCE_NODE)
            continue;
        for (yaml_node_item_t *item = list->data.sequence.items.start;
             item < list->data.sequence.items.top; item++) {
            const char *name = kc_scalar(kc_get(f, yaml_document_get_node(&f->doc, *item), "name"));
            if (name == NULL)
                continue;
            if (listed++ == 20) {
                buffer_add(&b, ", ...");
                goto done;
            }
            if (b.length > 0)
                buffer_add(&b, ", ");
            buffer_append(&b, name, strnlen(name, 100));
        }
    }
done:
    if (b.data == NULL)
        buffer_add(&b, "none");
    return b.data;
}

/* "/x/kubeconfig" or "/x/a, /x/b" */
static char *kc_where(struct kc_set *set)
{
    struct buffer b = {0};
    for (size_t i = 0; i < set->count; i++) {
        if (i > 0)
            buffer_add(&b, ", ");
        buffer_add(&b, set->files[i].path);
    }
    return b.data;
}

/* Loads PEM from a *-data field (base64) or a path field; data wins. */
static int kc_pem(struct kc_file *f, yaml_node_t *map, const char *path_key, const char *data_key,
                  const char *what, struct blob *out, char **error)
{
    const char *data, *path;
    if (kc_string(f, map, data_key, what, &data, error) != 0 ||
        kc_string(f, map, path_key, what, &path, error) != 0)
        return -1;
    if (data != NULL) {
        if (base64_decode(data, strlen(data), &out->data, &out->length) != 0)
            return fail(error, "%s: %s is not valid base64 (in %s)", what, data_key, f->path);
        out->origin = servo_xstrdup(data_key);
        if (!looks_like_pem(out->data, out->length))
            return fail(error, "%s: %s is not PEM (no \"-----BEGIN\" line after base64 decoding)",
                        what, data_key);
        return 0;
    }
    if (path == NULL)
        return 0;
    char *full = resolve_path(f->dir, path);
    char *why = NULL;
    if (read_file(full, CREDENTIAL_MAX, true, &out->data, &out->length, &why) != 0) {
        fail(error, "%s: %s %s", what, path_key, why);
        free(why);
        free(full);
        return -1;
    }
    out->origin = full;
    if (!looks_like_pem(out->data, out->length))
        return fail(error, "%s: %s %s is not PEM (no \"-----BEGIN\" line)", what, path_key, full);
    return 0;
}

static int kc_cluster(struct kube_client *c, struct kc_file *f, yaml_node_t *cluster,
                      const char *what, char **error)
{
    const char *server, *proxy;
    if (kc_string(f, cluster, "server", what, &server, error) != 0 ||
        set_server(c, server, what, error) != 0)
        return -1;
    if (kc_bool(f, cluster, "insecure-skip-tls-verify", what, &c->insecure, error) != 0)
        return -1;
    if (kc_pem(f, cluster, "certificate-authority", "certificate-authority-data", what, &c->ca,
               error) != 0)
        return -1;
    if (c->insecure && c->ca.data != NULL)
        return fail(error,
                    "%s: insecure-skip-tls-verify and %s are both set; a CA with the "
                    "insecure flag is not allowed (as kubectl says)",
                    what, c->ca.origin);
    if (kc_string(f, cluster, "proxy-url", what, &proxy, error) != 0)
        return -1;
    if (proxy != NULL)
        c->proxy = servo_xstrdup(proxy);
    return 0;
}

/* The first key of an exec or auth-provider user that names its command or provider. */
static const char *kc_plugin(struct kc_file *f, yaml_node_t *user, const char **kind)
{
    yaml_node_t *exec = kc_get(f, user, "exec");
    if (exec != NULL && exec->type == YAML_MAPPING_NODE) {
        *kind = "an exec credential plugin";
        const char *command = kc_scalar(kc_get(f, exec, "command"));
        return command != NULL ? command : "?";
    }
    yaml_node_t *provider = kc_get(f, user, "auth-provider");
    if (provider != NULL && provider->type == YAML_MAPPING_NODE) {
        *kind = "an auth-provider";
        const char *name = kc_scalar(kc_get(f, provider, "name"));
        return name != NULL ? name : "?";
    }
    return NULL;
}

/* Fills credentials; appends their description (" (bearer token)") to `desc`. */
static int kc_user(struct kube_client *c, struct kc_file *f, yaml_node_t *user, const char *what,
                   struct buffer *desc, char **error)
{
    const char *token, *token_file, *username, *password;
    if (kc_string(f, user, "token", what, &token, error) != 0 ||
        kc_string(f, user, "tokenFile", what, &token_file, error) != 0 ||
        kc_string(f, user, "username", what, &username, error) != 0 ||
        kc_string(f, user, "password", what, &password, error) != 0)
        return -1;
    if (kc_pem(f, user, "client-certificate", "client-certificate-data", what, &c->cert, error) !=
            0 ||
        kc_pem(f, user, "client-key", "client-key-data", what, &c->key, error) != 0)
        return -1;
    if ((c->cert.data != NULL) != (c->key.data != NULL))
        return fail(error, "%s: %s without %s", what,
                    c->cert.data != NULL ? "a client certificate" : "a client key",
                    c->cert.data != NULL ? "its client-key" : "its client-certificate");
    const char *sep = " (";
    if (token != NULL) {
        char *label = servo_strdup_printf("%s: token", what);
        int rc = check_token(token, label, error);
        free(label);
        if (rc != 0)
            return -1;
        c->token = servo_xstrdup(token);
        buffer_add(desc, " (bearer token");
        sep = ", ";
    } else if (token_file != NULL) {
        char *full = resolve_path(f->dir, token_file);
        char *why = NULL;
        if (read_token(full, &c->token, &why) != 0) {
            fail(error, "%s: %s", what, why);
            free(why);
            free(full);
            return -1;
        }
        c->token_file = full;
        c->token_read_at = monotonic_seconds();
        char *text = servo_strdup_printf(" (bearer token from %s", full);
        buffer_add(desc, text);
        free(text);
        sep = ", ";
    }
    if (c->cert.data != NULL) {
        char *text = servo_strdup_printf("%sclient certificate from %s", sep, c->cert.origin);
        buffer_add(desc, text);
        free(text);
        sep = ", ";
    }
    if (username != NULL) {
        c->username = servo_xstrdup(username);
        c->password = servo_xstrdup(password != NULL ? password : "");
        buffer_add(desc, sep);
        buffer_add(desc, "basic auth");
        sep = ", ";
    }
    if (sep[0] == ',') {
        buffer_add(desc, ")");
        return 0;
    }
    const char *kind = NULL;
    const char *plugin = kc_plugin(f, user, &kind);
    if (plugin != NULL)
        return fail(error,
                    "%s uses %s (%s), which servo does not run; give it a token, a tokenFile "
                    "or a client certificate",
                    what, kind, plugin);
    buffer_add(desc, " (no credentials)");
    return 0;
}

static struct kube_client *kc_client(struct kc_set *set, const char *context_name, char **error)
{
    struct kube_client *c = client_new();
    struct buffer desc = {0};
    char *where = kc_where(set);
    char *names = NULL, *what = NULL;
    if (context_name == NULL) {
        for (size_t i = 0; i < set->count && context_name == NULL; i++) {
            struct kc_file *f = &set->files[i];
            if (kc_string(f, kc_root(f), "current-context", "kubeconfig", &context_name, error) !=
                0)
                goto failed;
        }
        if (context_name == NULL) {
            names = kc_names(set, "contexts");
            fail(error,
                 "kubeconfig %s has no current-context; name one with the `context` setting "
                 "(contexts: %s)",
                 where, names);
            goto failed;
        }
    }
    struct kc_file *cf = NULL;
    yaml_node_t *context = kc_find(set, "contexts", "context", context_name, &cf);
    if (context == NULL) {
        names = kc_names(set, "contexts");
        fail(error, "context \"%s\" is not in %s (contexts: %s)", context_name, where, names);
        goto failed;
    }
    what = servo_strdup_printf("context \"%s\"", context_name);
    const char *cluster_name, *user_name, *namespace;
    if (kc_string(cf, context, "cluster", what, &cluster_name, error) != 0 ||
        kc_string(cf, context, "user", what, &user_name, error) != 0 ||
        kc_string(cf, context, "namespace", what, &namespace, error) != 0)
        goto failed;
    if (cluster_name == NULL) {
        fail(error, "context \"%s\" names no cluster (in %s)", context_name, cf->path);
        goto failed;
    }
    c->namespace = servo_xstrdup(namespace != NULL && namespace[0] != '\0' ? namespace : "default");

    struct kc_file *clf = NULL;
    yaml_node_t *cluster = kc_find(set, "clusters", "cluster", cluster_name, &clf);
    if (cluster == NULL) {
        names = kc_names(set, "clusters");
        fail(error, "cluster \"%s\" of context \"%s\" is not in %s (clusters: %s)", cluster_name,
             context_name, where, names);
        goto failed;
    }
    free(what);
    what = servo_strdup_printf("cluster \"%s\"", cluster_name);
    if (kc_cluster(c, clf, cluster, what, error) != 0)
        goto failed;

    char *head =
        servo_strdup_printf("kubeconfig %s, context \"%s\": %s", where, context_name, c->server);
    buffer_add(&desc, head);
    free(head);
    if (user_name != NULL) {
        struct kc_file *uf = NULL;
        yaml_node_t *user = kc_find(set, "users", "user", user_name, &uf);
        if (user == NULL) {
            names = kc_names(set, "users");
            fail(error, "user \"%s\" of context \"%s\" is not in %s (users: %s)", user_name,
                 context_name, where, names);
            goto failed;
        }
        free(what);
        what = servo_strdup_printf("user \"%s\"", user_name);
        buffer_add(&desc, ", ");
        buffer_add(&desc, what);
        if (kc_user(c, uf, user, what, &desc, error) != 0)
            goto failed;
    } else {
        buffer_add(&desc, ", no user (anonymous)");
    }
    if (c->insecure) {
        buffer_add(&desc, ", TLS verification off (insecure-skip-tls-verify)");
    } else if (c->ca.data != NULL) {
        buffer_add(&desc, ", CA from ");
        buffer_add(&desc, c->ca.origin);
    } else if (strncmp(c->server, "https://", 8) == 0) {
        buffer_add(&desc, ", system CAs");
    }
    if (c->proxy != NULL) {
        buffer_add(&desc, ", proxy ");
        buffer_add(&desc, c->proxy);
    }
    set_no_proxy(c);
    c->description = desc.data;
    free(where);
    free(what);
    return c;
failed:
    free(desc.data);
    free(where);
    free(names);
    free(what);
    kube_client_free(c);
    return NULL;
}

/* ---- where the configuration comes from ------------------------------------------------- */

static int kc_add_file(struct kc_set *set, const char *path, char **error)
{
    char *text;
    size_t length;
    char *why = NULL;
    if (read_file(path, KUBECONFIG_MAX, false, &text, &length, &why) != 0) {
        fail(error, "kubeconfig %s", why);
        free(why);
        return -1;
    }
    set->files = servo_xrealloc(set->files, (set->count + 1) * sizeof *set->files);
    struct kc_file *f = &set->files[set->count++];
    memset(f, 0, sizeof *f);
    f->path = servo_xstrdup(path);
    f->dir = dirname_of(path);
    int rc = kc_parse(f, text, length, error);
    free(text);
    return rc;
}

struct kube_client *kube_client_from_kubeconfig(const char *text, size_t length,
                                                const char *base_dir, const char *context,
                                                char **error)
{
    struct kc_set set = {0};
    set.files = servo_xmalloc(sizeof *set.files);
    set.count = 1;
    memset(set.files, 0, sizeof *set.files);
    set.files[0].path = servo_xstrdup("(kubeconfig)");
    set.files[0].dir = servo_xstrdup(base_dir != NULL ? base_dir : ".");
    struct kube_client *c = NULL;
    if (kc_parse(&set.files[0], text, length, error) == 0)
        c = kc_client(&set, context, error);
    kc_set_free(&set);
    return c;
}

static struct kube_client *from_files(const char *const *paths, size_t count, const char *context,
                                      char **error)
{
    struct kc_set set = {0};
    struct kube_client *c = NULL;
    for (size_t i = 0; i < count; i++)
        if (kc_add_file(&set, paths[i], error) != 0)
            goto done;
    c = kc_client(&set, context, error);
done:
    kc_set_free(&set);
    return c;
}

static struct kube_client *in_cluster(char **error)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = getenv("SERVO_KUBE_SERVICE_ACCOUNT_DIR");
    if (dir == NULL || dir[0] == '\0')
        dir = SERVICE_ACCOUNT_DIR;
    if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
        fail(error, "no Kubernetes configuration: no kubeconfig given, $KUBECONFIG is not set, "
                    "~/.kube/config does not exist, and this is not a pod "
                    "($KUBERNETES_SERVICE_HOST and $KUBERNETES_SERVICE_PORT are not both set)");
        return NULL;
    }
    struct kube_client *c = client_new();
    char *server = strchr(host, ':') != NULL ? servo_strdup_printf("https://[%s]:%s", host, port)
                                             : servo_strdup_printf("https://%s:%s", host, port);
    char *token_path = servo_strdup_printf("%s/token", dir);
    char *ca_path = servo_strdup_printf("%s/ca.crt", dir);
    char *ns_path = servo_strdup_printf("%s/namespace", dir);
    char *why = NULL;
    if (set_server(c, server, "in-cluster", error) != 0)
        goto failed;
    if (read_token(token_path, &c->token, &why) != 0) {
        fail(error, "in-cluster configuration: service account %s", why);
        goto failed;
    }
    c->token_file = token_path;
    token_path = NULL;
    c->token_read_at = monotonic_seconds();
    if (read_file(ca_path, CREDENTIAL_MAX, true, &c->ca.data, &c->ca.length, &why) == 0) {
        if (!looks_like_pem(c->ca.data, c->ca.length)) {
            fail(error, "in-cluster configuration: %s is not PEM", ca_path);
            goto failed;
        }
        c->ca.origin = ca_path;
        ca_path = NULL;
    } else {
        /* as client-go: without the CA file the system CAs are used */
        servo_warning("in-cluster configuration: cannot read the CA (%s); using the system CAs",
                      why);
        free(why);
        why = NULL;
    }
    char *ns = NULL;
    size_t ns_length = 0;
    if (read_file(ns_path, 4096, true, &ns, &ns_length, NULL) == 0) {
        ns_length = strcspn(ns, " \t\r\n");
        ns[ns_length] = '\0';
    }
    c->namespace = servo_xstrdup(ns != NULL && ns[0] != '\0' ? ns : "default");
    free(ns);
    c->description = servo_strdup_printf(
        "in-cluster (service account in %s): %s, bearer token from %s, %s%s", dir, c->server,
        c->token_file, c->ca.data != NULL ? "CA from " : "system CAs",
        c->ca.data != NULL ? c->ca.origin : "");
    set_no_proxy(c);
    free(server);
    free(ca_path);
    free(ns_path);
    return c;
failed:
    free(why);
    free(server);
    free(token_path);
    free(ca_path);
    free(ns_path);
    kube_client_free(c);
    return NULL;
}

static char *home_kubeconfig(void)
{
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return NULL;
    return servo_strdup_printf("%s/.kube/config", home);
}

struct kube_client *kube_client_create(const struct kube_config_source *source, char **error)
{
    if (error != NULL)
        *error = NULL;
    const char *context = source != NULL ? source->context : NULL;
    if (context != NULL && context[0] == '\0')
        context = NULL;
    if (source != NULL && source->kubeconfig != NULL && source->kubeconfig[0] != '\0') {
        const char *path = source->kubeconfig;
        return from_files(&path, 1, context, error);
    }
    const char *env = getenv("KUBECONFIG");
    if (env != NULL && env[0] != '\0') {
        /* a ':'-separated list; missing files are skipped, as kubectl does */
        char *list = servo_xstrdup(env);
        const char **paths = servo_xmalloc((strlen(list) / 2 + 1) * sizeof *paths);
        size_t count = 0;
        for (char *save = NULL, *p = strtok_r(list, ":", &save); p != NULL;
             p = strtok_r(NULL, ":", &save))
            if (access(p, F_OK) == 0)
                paths[count++] = p;
        struct kube_client *c = NULL;
        if (count == 0)
            fail(error, "$KUBECONFIG (%s) names no file that exists", env);
        else
            c = from_files(paths, count, context, error);
        free(paths);
        free(list);
        return c;
    }
    char *home = home_kubeconfig();
    if (home != NULL && access(home, F_OK) == 0) {
        const char *path = home;
        struct kube_client *c = from_files(&path, 1, context, error);
        free(home);
        return c;
    }
    free(home);
    return in_cluster(error);
}

/* ---- requests --------------------------------------------------------------------------- */

void kube_response_clear(struct kube_response *r)
{
    if (r == NULL)
        return;
    json_decref(r->body);
    free(r->text);
    free(r->message);
    free(r->reason);
    memset(r, 0, sizeof *r);
}

/* Fails the request: -1, status 0, a message and a reason. */
__attribute__((format(printf, 3, 4))) static int
request_fail(struct kube_response *r, const char *reason, const char *fmt, ...)
{
    json_decref(r->body);
    r->body = NULL;
    free(r->text);
    r->text = NULL;
    r->status = 0;
    free(r->reason);
    r->reason = servo_xstrdup(reason);
    va_list ap;
    va_start(ap, fmt);
    free(r->message);
    r->message = servo_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -1;
}

/* The reason Kubernetes gives a status when the body does not say. */
static const char *status_reason(long status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return status >= 500 ? "InternalError" : "Unknown";
    }
}

static const char *status_text(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

/* The start of a body, printable, for messages. */
static char *quote_body(const char *data, size_t length)
{
    size_t n = length < QUOTE_MAX ? length : QUOTE_MAX;
    char *out = servo_xmalloc(n + 4);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)data[i];
        out[j++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    while (j > 0 && out[j - 1] == ' ')
        j--;
    if (length > n) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}

/* How the client authenticates, for a 401 message. */
static const char *auth_summary(const struct kube_client *c)
{
    if (c->token_file != NULL)
        return "the bearer token from the token file";
    if (c->token != NULL)
        return "the bearer token";
    if (c->cert.data != NULL)
        return "the client certificate";
    if (c->username != NULL)
        return "the username and password";
    return "no credentials";
}

/* Sets message and reason for a response with status >= 400. */
static void describe_failure(const struct kube_client *c, struct kube_response *r, const char *data,
                             size_t length)
{
    const char *message = NULL, *reason = NULL;
    if (json_is_object(r->body)) {
        const char *kind = json_string_value(json_object_get(r->body, "kind"));
        if (kind != NULL && strcmp(kind, "Status") == 0) {
            message = json_string_value(json_object_get(r->body, "message"));
            reason = json_string_value(json_object_get(r->body, "reason"));
        }
    }
    if (reason == NULL || reason[0] == '\0')
        reason = status_reason(r->status);
    r->reason = servo_xstrdup(reason);
    char *text;
    if (message != NULL && message[0] != '\0') {
        text = servo_xstrdup(message);
    } else {
        char *quoted = quote_body(data, length);
        const char *name = status_text(r->status);
        text = servo_strdup_printf("HTTP %ld%s%s%s%s", r->status, name[0] != '\0' ? " " : "", name,
                                   quoted[0] != '\0' ? ": " : "", quoted);
        free(quoted);
    }
    if (r->status == 401) {
        r->message = servo_strdup_printf("%s: the API server %s rejected %s (wrong or expired?)",
                                         text, c->server, auth_summary(c));
        free(text);
    } else {
        r->message = text;
    }
}

static int on_body(void *context, const char *data, size_t length)
{
    buffer_append(context, data, length);
    return 0;
}

/* The token to send; re-reads the token file when it is due. Caller frees. */
static char *current_token(struct kube_client *c)
{
    pthread_mutex_lock(&c->lock);
    if (c->token_file != NULL && monotonic_seconds() - c->token_read_at >= TOKEN_REFRESH_SECONDS) {
        char *fresh = NULL;
        char *why = NULL;
        if (read_token(c->token_file, &fresh, &why) == 0) {
            secret_free(c->token);
            c->token = fresh;
        } else {
            servo_warning("kubernetes: %s; keeping the previous token", why);
            free(why);
        }
        c->token_read_at = monotonic_seconds();
    }
    char *token = c->token != NULL ? servo_xstrdup(c->token) : NULL;
    pthread_mutex_unlock(&c->lock);
    return token;
}

/* The engine client with the cluster's TLS and proxy settings, made once. */
static struct servo_http_client *http_client(struct kube_client *c, struct servo_http_error *error)
{
    pthread_mutex_lock(&c->lock);
    if (c->http == NULL) {
        bool ca = c->ca.data != NULL && !c->insecure;
        struct servo_http_options options = {
            .user_agent = USER_AGENT,
            .ca_data = ca ? c->ca.data : NULL,
            .ca_data_length = ca ? c->ca.length : 0,
            .cert_data = c->cert.data,
            .cert_data_length = c->cert.length,
            .key_data = c->key.data,
            .key_data_length = c->key.length,
            .insecure = c->insecure,
            .proxy = c->proxy,
            .no_proxy = c->no_proxy,
        };
        c->http = servo_http_client_new(&options, error);
    }
    struct servo_http_client *http = c->http;
    pthread_mutex_unlock(&c->lock);
    return http;
}

/* A request that got no usable response, as message and reason. */
static int transport_failure(const struct kube_client *c, struct kube_response *r,
                             const struct servo_http_error *e, const char *method, const char *path,
                             double timeout)
{
    const char *detail = e->message;
    switch (e->kind) {
    case SERVO_HTTP_ERROR_TIMEOUT:
        return request_fail(r, "timeout", "%s %s%s: no answer within %.1f s (%s)", method,
                            c->server, path, timeout, detail);
    case SERVO_HTTP_ERROR_CONNECT:
        return request_fail(r, "connect", "cannot connect to the API server %s: %s", c->server,
                            detail);
    case SERVO_HTTP_ERROR_TLS:
        if (strcmp(e->detail, "untrusted") == 0)
            return request_fail(r, "tls",
                                "TLS: the API server %s is not trusted: %s (is the kubeconfig's "
                                "certificate-authority the CA that signed its certificate?)",
                                c->server, detail);
        if (strcmp(e->detail, "client-certificate") == 0)
            return request_fail(r, "tls",
                                "TLS: cannot use the client certificate or key for %s: %s",
                                c->server, detail);
        return request_fail(r, "tls", "TLS handshake with the API server %s failed: %s", c->server,
                            detail);
    case SERVO_HTTP_ERROR_TOO_LARGE:
        return request_fail(r, "too-large", "%s %s: the answer is larger than %zu MiB", method,
                            path, KUBE_RESPONSE_MAX >> 20);
    case SERVO_HTTP_ERROR_NONE:
    case SERVO_HTTP_ERROR_INVALID:
    case SERVO_HTTP_ERROR_UNAVAILABLE:
    case SERVO_HTTP_ERROR_CANCELLED:
    case SERVO_HTTP_ERROR_STATUS:
    case SERVO_HTTP_ERROR_CALLBACK:
    case SERVO_HTTP_ERROR_TRANSFER:
        break;
    }
    return request_fail(r, "transport", "%s %s%s: %s", method, c->server, path, detail);
}

/* The event stopped the request: cancelled, or its deadline passed. */
static bool stopped_by_event(const struct servo_http_error *e, const struct servo_event *event)
{
    return e->kind == SERVO_HTTP_ERROR_CANCELLED ||
           (e->kind == SERVO_HTTP_ERROR_TIMEOUT && strcmp(e->detail, "deadline") == 0 &&
            event != NULL);
}

static const char *content_type(const char *method, const char *patch_type)
{
    if (strcmp(method, "PATCH") != 0)
        return "application/json";
    if (patch_type == NULL || strcmp(patch_type, "strategic") == 0)
        return "application/strategic-merge-patch+json";
    if (strcmp(patch_type, "merge") == 0)
        return "application/merge-patch+json";
    if (strcmp(patch_type, "json") == 0)
        return "application/json-patch+json";
    if (strcmp(patch_type, "apply") == 0)
        return "application/apply-patch+yaml";
    return NULL;
}

int kube_request(struct kube_client *c, const char *method, const char *path, const json_t *body,
                 const char *patch_type, const struct servo_event *event, struct kube_response *r)
{
    memset(r, 0, sizeof *r);
    r->reason = servo_xstrdup("");
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    bool known = false;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        known = known || (method != NULL && strcmp(method, methods[i]) == 0);
    if (!known)
        return request_fail(r, "invalid-request", "unsupported method \"%s\"",
                            method != NULL ? method : "(null)");
    if (path == NULL || path[0] != '/')
        return request_fail(r, "invalid-request", "the path \"%s\" does not start with '/'",
                            path != NULL ? path : "(null)");
    for (const char *p = path; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return request_fail(r, "invalid-request",
                                "the path \"%s\" has spaces or control characters (escape it)",
                                path);
    const char *type = content_type(method, patch_type);
    if (type == NULL)
        return request_fail(r, "invalid-request",
                            "unknown patch type \"%s\" (strategic, merge, json, apply)",
                            patch_type);
    if (strcmp(method, "PATCH") == 0 && body == NULL)
        return request_fail(r, "invalid-request", "PATCH %s without a body", path);

    double timeout = c->timeout;
    if (event != NULL) {
        if (servo_event_cancelled(event)) {
            bool expired = servo_event_remaining(event) <= 0;
            return request_fail(r, expired ? "timeout" : "cancelled", "%s %s: %s", method, path,
                                expired ? "the event's deadline has passed" : "cancelled");
        }
        double remaining = servo_event_remaining(event);
        if (remaining < timeout)
            timeout = remaining;
    }
    if (timeout < 0.001)
        timeout = 0.001;

    struct servo_http_error http_error;
    struct servo_http_client *http = http_client(c, &http_error);
    if (http == NULL)
        return request_fail(r, "transport", "%s", http_error.message);

    char *url = servo_strdup_printf("%s%s", c->server, path);
    char *payload = NULL;
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (payload == NULL) {
            free(url);
            return request_fail(r, "invalid-request", "%s %s: the body cannot be serialized",
                                method, path);
        }
    }
    char *content_header = payload != NULL ? servo_strdup_printf("Content-Type: %s", type) : NULL;
    const char *headers[] = {"Accept: application/json", content_header, NULL};
    char *token = current_token(c);
    struct buffer received = {0};
    servo_duration total = (servo_duration)(timeout * (double)SERVO_SECOND);
    double connect = timeout < CONNECT_TIMEOUT_MAX ? timeout : CONNECT_TIMEOUT_MAX;
    struct servo_http_request request = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = payload,
        .body_length = payload != NULL ? strlen(payload) : 0,
        .bearer_token = token,
        .username = c->username,
        .password = c->password,
        .connect_timeout = (servo_duration)(connect * (double)SERVO_SECOND),
        .write_timeout = SERVO_HTTP_NO_TIMEOUT,
        .read_timeout = SERVO_HTTP_NO_TIMEOUT,
        .total_timeout = total > 0 ? total : 1,
        .max_response = KUBE_RESPONSE_MAX,
        .on_body = on_body,
        .context = &received,
        .event = event,
    };

    double started = monotonic_seconds();
    struct servo_http_response response;
    int sent = servo_http_perform(http, &request, &response, &http_error);
    long status = response.status;
    const char *content = response.content_type;
    bool json_type = content != NULL && strstr(content, "json") != NULL;
    int rc = 0;
    if (sent != 0 && stopped_by_event(&http_error, event)) {
        bool expired = servo_event_remaining(event) <= 0;
        rc = request_fail(r, expired ? "timeout" : "cancelled", "%s %s: %s after %.1f s", method,
                          path, expired ? "the event's deadline passed" : "cancelled",
                          monotonic_seconds() - started);
    } else if (sent != 0) {
        rc = transport_failure(c, r, &http_error, method, path, timeout);
    } else {
        r->status = status;
        const char *data = received.data != NULL ? received.data : "";
        json_error_t json_error;
        if (received.length > 0)
            r->body = json_loadb(data, received.length, 0, &json_error);
        if (r->body == NULL && received.length > 0 && json_type) {
            char *quoted = quote_body(data, received.length);
            rc = request_fail(r, "invalid-response",
                              "%s %s: HTTP %ld with a body that is not JSON (%s): %s", method, path,
                              status, json_error.text, quoted);
            free(quoted);
        } else {
            if (r->body == NULL && received.length > 0)
                r->text = servo_xstrndup(data, received.length);
            if (status >= 400) {
                free(r->reason);
                r->reason = NULL;
                describe_failure(c, r, data, received.length);
            }
        }
    }
    servo_debug("kubernetes: %s %s -> %ld (%.0f ms)%s%s", method, path, r->status,
                (monotonic_seconds() - started) * 1000, r->message != NULL ? ": " : "",
                r->message != NULL ? r->message : "");

    servo_http_response_clear(&response);
    free(content_header);
    secret_free(token);
    free(payload);
    free(url);
    free(received.data);
    return rc;
}

int kube_access_review(struct kube_client *c, const struct servo_event *event, const char *ns,
                       const char *group, const char *resource, const char *verb,
                       struct servo_error *error)
{
    const char *slash = strchr(resource, '/');
    char *name = servo_strdup_printf(
        "%.*s", (int)(slash ? (size_t)(slash - resource) : strlen(resource)), resource);
    json_t *attributes = json_pack("{s:s, s:s, s:s, s:s}", "namespace", ns, "verb", verb, "group",
                                   group, "resource", name);
    if (slash != NULL)
        json_object_set_new(attributes, "subresource", json_string(slash + 1));
    else if (strcmp(name, "namespaces") == 0)
        json_object_set_new(attributes, "name", json_string(ns));
    json_t *body = json_pack("{s:s, s:s, s:{s:o}}", "apiVersion", "authorization.k8s.io/v1", "kind",
                             "SelfSubjectAccessReview", "spec", "resourceAttributes", attributes);
    struct kube_response r;
    int rc = kube_request(c, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body,
                          NULL, event, &r);
    if (rc != 0 || r.status < 200 || r.status >= 300)
        rc = servo_error_set(error,
                             rc != 0 && strcmp(r.reason, "cancelled") == 0 ? SERVO_ERROR_CANCELLED
                                                                           : SERVO_ERROR_FAILED,
                             r.reason, "a SelfSubjectAccessReview: %s",
                             r.message ? r.message : "the request failed");
    else
        rc = json_is_true(json_object_get(json_object_get(r.body, "status"), "allowed")) ? 1 : 0;
    kube_response_clear(&r);
    json_decref(body);
    free(name);
    return rc;
}

/* 0 with the number `text` starts with in `number`; -1 when it starts with none (or is
 * NULL). */
static int leading_number(const char *text, long *number)
{
    char *end = NULL;
    *number = text ? strtol(text, &end, 10) : 0;
    return text != NULL && end != text ? 0 : -1;
}

void kube_version_judge(const json_t *body, int min_minor, int max_minor, struct kube_version *v)
{
    *v = (struct kube_version){.body = json_incref((json_t *)body)};
    v->major = json_string_value(json_object_get(body, "major"));
    v->minor = json_string_value(json_object_get(body, "minor"));
    v->git = json_string_value(json_object_get(body, "gitVersion"));
    if (leading_number(v->major, &v->major_number) != 0 ||
        leading_number(v->minor, &v->minor_number) != 0) {
        v->major_number = v->minor_number = 0;
        v->verdict = KUBE_VERSION_UNREADABLE;
    } else if (v->major_number < 1 || (v->major_number == 1 && v->minor_number < min_minor))
        v->verdict = KUBE_VERSION_OLDER;
    else if (max_minor != 0 && (v->major_number > 1 || v->minor_number > max_minor))
        v->verdict = KUBE_VERSION_NEWER;
    else
        v->verdict = KUBE_VERSION_SUPPORTED;
}

int kube_version_get(struct kube_client *c, const struct servo_event *event, const char *what,
                     int min_minor, int max_minor, struct kube_version *v,
                     struct servo_error *error)
{
    *v = (struct kube_version){0};
    struct kube_response r;
    int rc = kube_request(c, "GET", "/version", NULL, NULL, event, &r);
    if (rc == 0 && r.status >= 200 && r.status < 300) {
        kube_version_judge(r.body, min_minor, max_minor, v);
    } else {
        enum servo_error_kind kind = rc != 0 && strcmp(r.reason, "cancelled") == 0
                                         ? SERVO_ERROR_CANCELLED
                                         : SERVO_ERROR_FAILED;
        rc = servo_error_set(error, kind, r.reason, "%s: %s", what,
                             r.message ? r.message : "the request failed");
    }
    kube_response_clear(&r);
    return rc;
}

void kube_version_clear(struct kube_version *v)
{
    json_decref(v->body);
    *v = (struct kube_version){0};
}

int kube_check_fail(struct servo_check *check, const struct servo_error *error)
{
    return servo_check_fail(check, "%s", error->message);
}

struct kube_client *kube_check_client(struct servo_connector *connector,
                                      kube_client_getter *client_of, struct servo_check *check)
{
    struct servo_error error = {0};
    struct kube_client *client = client_of(connector, &error);
    if (client == NULL)
        kube_check_fail(check, &error);
    return client;
}
