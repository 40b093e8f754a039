/* The optimizer server (server.h): routing, authentication and metrics in server_handle,
 * libmicrohttpd around it. */
#include "optimizer/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "optimizer/results.h"
#include "optimizer/store.h"
#include "optimizer/study.h"
#include "servo/log.h"
#include "types/wire.h"
#include "util/util.h"
#include "util/json_text.h"

#define SERVER_THREADS 4
#define SERVER_CONNECTION_TIMEOUT 120 /* seconds */
#define STATUS_SLOTS 32

struct app {
    char *id;
    const struct study_settings *settings;
    struct store *store; /* a connection of its own: studies run in parallel */
    struct study *study;
    char *label;
    pthread_mutex_t lock;
    bool lock_ready;
};

struct status_count {
    int code;
    unsigned long count;
};

struct server {
    const struct server_settings *settings;
    char *store_path;
    struct app *apps;
    size_t app_count;
    size_t max_body;
    struct MHD_Daemon *daemon;
    int listen_fd;
    char *url;
    pthread_mutex_t stats_lock;
    struct status_count statuses[STATUS_SLOTS];
    size_t status_count;
};

static const char json_content_type[] = "application/json";
static const char text_content_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- creating -------------------------------------------------------------------------- */

static int open_app(struct server *s, struct app *a, const char *id,
                    const struct study_settings *settings, char **error)
{
    a->id = xstrdup(id);
    a->settings = settings;
    a->label = xasprintf("%s: ", id);
    pthread_mutex_init(&a->lock, NULL);
    a->lock_ready = true;
    if (store_open(s->store_path, true, &a->store, error) != 0)
        return -1;
    struct study_options options = {
        .sleep_seconds = servo_duration_seconds(s->settings->sleep),
        .log_label = a->label,
        .served = true,
    };
    return study_open(id, settings, a->store, &options, &a->study, error);
}

int server_create(const struct server_settings *settings, const char *store_path,
                  struct server **out, char **error)
{
    struct server *s = xcalloc(1, sizeof *s);
    s->settings = settings;
    s->store_path = xstrdup(store_path ? store_path : settings->store);
    s->max_body = (size_t)settings->max_request_size;
    s->listen_fd = -1;
    pthread_mutex_init(&s->stats_lock, NULL);
    const struct study_settings *apps = settings->applications.values;
    s->apps =
        xcalloc(settings->applications.count ? settings->applications.count : 1, sizeof *s->apps);
    for (size_t i = 0; i < settings->applications.count; i++) {
        s->app_count++;
        if (open_app(s, &s->apps[i], settings->applications.keys[i], &apps[i], error) != 0) {
            server_free(s);
            *out = NULL;
            return -1;
        }
        if (apps[i].token == NULL)
            servo_warning("%s: no token: any client may drive this application", s->apps[i].id);
    }
    *out = s;
    return 0;
}

void server_free(struct server *s)
{
    if (s == NULL)
        return;
    server_stop(s);
    for (size_t i = 0; i < s->app_count; i++) {
        struct app *a = &s->apps[i];
        study_free(a->study);
        store_close(a->store);
        if (a->lock_ready)
            pthread_mutex_destroy(&a->lock);
        free(a->id);
        free(a->label);
    }
    free(s->apps);
    pthread_mutex_destroy(&s->stats_lock);
    free(s->store_path);
    free(s->url);
    free(s);
}

/* ---- responses ------------------------------------------------------------------------- */

static void respond_json(struct server_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = json_content_type;
    out->body = json_text(body, JSON_COMPACT);
    json_decref(body);
}

static void respond_detail(struct server_response *out, int status, const char *detail)
{
    json_t *body = json_object();
    json_object_set_new(body, "detail", wire_string(detail));
    respond_json(out, status, body);
}

static void count_status(struct server *s, int code)
{
    pthread_mutex_lock(&s->stats_lock);
    size_t i = 0;
    while (i < s->status_count && s->statuses[i].code != code)
        i++;
    if (i == s->status_count && i < STATUS_SLOTS)
        s->statuses[s->status_count++] = (struct status_count){code, 0};
    if (i < STATUS_SLOTS)
        s->statuses[i].count++;
    pthread_mutex_unlock(&s->stats_lock);
}

/* ---- routing --------------------------------------------------------------------------- */

enum route {
    ROUTE_NONE,
    ROUTE_SERVO,
    ROUTE_TRIALS,
    ROUTE_HEALTH,
    ROUTE_METRICS,
};

/* /accounts/ORG/applications/APP/(servo|trials), a trailing slash allowed; the id is ORG/APP. */
static enum route parse_path(const char *path, char *id, size_t id_size)
{
    if (path == NULL)
        return ROUTE_NONE;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    const char *prefix = "/accounts/";
    if (strncmp(path, prefix, strlen(prefix)) != 0)
        return ROUTE_NONE;
    const char *org = path + strlen(prefix);
    const char *org_end = strchr(org, '/');
    if (org_end == NULL || org_end == org || strncmp(org_end, "/applications/", 14) != 0)
        return ROUTE_NONE;
    const char *app = org_end + 14;
    const char *app_end = strchr(app, '/');
    if (app_end == NULL || app_end == app)
        return ROUTE_NONE;
    const char *rest = app_end + 1;
    enum route route = ROUTE_NONE;
    if (strcmp(rest, "servo") == 0 || strcmp(rest, "servo/") == 0)
        route = ROUTE_SERVO;
    else if (strcmp(rest, "trials") == 0 || strcmp(rest, "trials/") == 0)
        route = ROUTE_TRIALS;
    size_t org_length = (size_t)(org_end - org), app_length = (size_t)(app_end - app);
    if (route == ROUTE_NONE || org_length + 1 + app_length >= id_size)
        return ROUTE_NONE;
    snprintf(id, id_size, "%.*s/%.*s", (int)org_length, org, (int)app_length, app);
    return route;
}

static struct app *find_app(struct server *s, const char *id)
{
    for (size_t i = 0; i < s->app_count; i++)
        if (strcmp(s->apps[i].id, id) == 0)
            return &s->apps[i];
    return NULL;
}

/* Compares in time that depends on the lengths only. */
static bool same_secret(const char *given, size_t given_length, const char *secret)
{
    size_t length = strlen(secret);
    unsigned char diff = given_length != length;
    for (size_t i = 0; i < given_length; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)secret[i % (length ? length : 1)];
    return diff == 0;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static bool authorized(const struct app *a, const struct server_request *r)
{
    const char *token = a->settings->token;
    if (token == NULL)
        return true;
    if (r->authorization != NULL) {
        const char *value = skip_spaces(r->authorization);
        if (strncasecmp(value, "Bearer ", 7) == 0) {
            value = skip_spaces(value + 7);
            size_t length = strlen(value);
            while (length > 0 && (value[length - 1] == ' ' || value[length - 1] == '\t'))
                length--;
            if (same_secret(value, length, token))
                return true;
        }
    }
    return r->sf_token != NULL && same_secret(r->sf_token, strlen(r->sf_token), token);
}

/* ---- the protocol ---------------------------------------------------------------------- */

static void handle_servo(struct app *a, const struct server_request *r, struct server_response *out)
{
    json_error_t parse_error;
    json_t *request =
        r->body ? json_loadb(r->body, r->body_length, JSON_REJECT_DUPLICATES, &parse_error) : NULL;
    if (request == NULL) {
        char *detail = r->body ? xasprintf("the body is not JSON: %s", parse_error.text)
                               : xstrdup("the body is empty: expected {\"event\": ...}");
        respond_detail(out, 400, detail);
        free(detail);
        return;
    }
    int status = 200;
    pthread_mutex_lock(&a->lock);
    json_t *reply = study_exchange(a->study, request, &status);
    pthread_mutex_unlock(&a->lock);
    json_decref(request);
    respond_json(out, status, reply);
}

static void handle_trials(struct app *a, struct server_response *out)
{
    pthread_mutex_lock(&a->lock);
    json_t *doc = study_document(a->study);
    pthread_mutex_unlock(&a->lock);
    respond_json(out, 200, doc);
}

static void handle_health(struct server *s, struct server_response *out)
{
    json_t *body = json_object();
    json_object_set_new(body, "status", json_string("ok"));
    json_object_set_new(body, "applications", json_integer((json_int_t)s->app_count));
    respond_json(out, 200, body);
}

/* ---- metrics --------------------------------------------------------------------------- */

static void put_label(struct strbuf *sb, const char *value)
{
    strbuf_putc(sb, '"');
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            strbuf_putc(sb, '\\');
        if (*p == '\n')
            strbuf_puts(sb, "\\n");
        else
            strbuf_putc(sb, *p);
    }
    strbuf_putc(sb, '"');
}

static void metric_header(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Per status: how many trials of the document ended so. */
static void trial_counts(struct strbuf *sb, const char *app, const json_t *doc)
{
    json_t *counts = json_object();
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(doc, "trials"), i, t)
    {
        const char *status = json_string_value(json_object_get(t, "status"));
        status = status ? status : "unknown";
        json_int_t n = json_integer_value(json_object_get(counts, status));
        json_object_set_new(counts, status, json_integer(n + 1));
    }
    const char *status;
    const json_t *n;
    json_object_foreach(counts, status, n)
    {
        strbuf_puts(sb, "servo_optimizer_trials_total{app=");
        put_label(sb, app);
        strbuf_puts(sb, ",status=");
        put_label(sb, status);
        strbuf_printf(sb, "} %lld\n", (long long)json_integer_value(n));
    }
    json_decref(counts);
}

static void app_metrics(struct app *a, struct strbuf *trials, struct strbuf *best,
                        struct strbuf *over)
{
    pthread_mutex_lock(&a->lock);
    json_t *doc = study_document(a->study);
    bool is_over = study_over(a->study);
    pthread_mutex_unlock(&a->lock);
    trial_counts(trials, a->id, doc);
    const json_t *number = json_object_get(doc, "best");
    const json_t *b =
        json_array_get(json_object_get(doc, "trials"), (size_t)json_integer_value(number));
    if (json_is_integer(number) && json_is_number(json_object_get(b, "objective"))) {
        strbuf_puts(best, "servo_optimizer_best_objective{app=");
        put_label(best, a->id);
        strbuf_printf(best, "} %.17g\n", json_number_value(json_object_get(b, "objective")));
    }
    strbuf_puts(over, "servo_optimizer_study_over{app=");
    put_label(over, a->id);
    strbuf_printf(over, "} %d\n", is_over ? 1 : 0);
    json_decref(doc);
}

static void handle_metrics(struct server *s, struct server_response *out)
{
    struct strbuf sb, trials, best, over;
    strbuf_init(&sb);
    strbuf_init(&trials);
    strbuf_init(&best);
    strbuf_init(&over);
    for (size_t i = 0; i < s->app_count; i++)
        app_metrics(&s->apps[i], &trials, &best, &over);
    metric_header(&sb, "servo_optimizer_requests_total", "counter",
                  "Requests answered, by HTTP status code.");
    pthread_mutex_lock(&s->stats_lock);
    for (size_t i = 0; i < s->status_count; i++)
        strbuf_printf(&sb, "servo_optimizer_requests_total{code=\"%d\"} %lu\n", s->statuses[i].code,
                      s->statuses[i].count);
    pthread_mutex_unlock(&s->stats_lock);
    metric_header(&sb, "servo_optimizer_trials_total", "gauge",
                  "Trials recorded, by application and status (the baseline included).");
    strbuf_puts(&sb, trials.data ? trials.data : "");
    metric_header(&sb, "servo_optimizer_best_objective", "gauge",
                  "The objective of the best feasible trial, by application.");
    strbuf_puts(&sb, best.data ? best.data : "");
    metric_header(&sb, "servo_optimizer_study_over", "gauge",
                  "1 when the application's study is done or failed.");
    strbuf_puts(&sb, over.data ? over.data : "");
    strbuf_release(&trials);
    strbuf_release(&best);
    strbuf_release(&over);
    out->status = 200;
    out->content_type = text_content_type;
    out->body = strbuf_detach(&sb);
}

/* ---- handling -------------------------------------------------------------------------- */

static bool method_is(const struct server_request *r, const char *method)
{
    return r->method != NULL && strcmp(r->method, method) == 0;
}

static void route_app(struct server *s, enum route route, const char *id,
                      const struct server_request *r, struct server_response *out)
{
    struct app *a = find_app(s, id);
    const char *method = route == ROUTE_SERVO ? "POST" : "GET";
    if (a == NULL) {
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_puts(&sb, "unknown application ");
        strbuf_quote(&sb, id, 100);
        respond_detail(out, 404, sb.data);
        strbuf_release(&sb);
    } else if (!method_is(r, method)) {
        respond_detail(out, 405, route == ROUTE_SERVO ? "use POST" : "use GET");
    } else if (!authorized(a, r)) {
        respond_detail(out, 401, "a valid bearer token is required");
    } else if (r->too_large) {
        respond_detail(out, 413, "the request is too large");
    } else if (route == ROUTE_SERVO) {
        handle_servo(a, r, out);
    } else {
        handle_trials(a, out);
    }
}

void server_handle(struct server *s, const struct server_request *r, struct server_response *out)
{
    memset(out, 0, sizeof *out);
    char id[256];
    enum route route = parse_path(r->path, id, sizeof id);
    switch (route) {
    case ROUTE_HEALTH:
        if (method_is(r, "GET"))
            handle_health(s, out);
        else
            respond_detail(out, 405, "use GET");
        break;
    case ROUTE_METRICS:
        if (method_is(r, "GET"))
            handle_metrics(s, out);
        else
            respond_detail(out, 405, "use GET");
        break;
    case ROUTE_SERVO:
    case ROUTE_TRIALS:
        route_app(s, route, id, r, out);
        break;
    case ROUTE_NONE:
        respond_detail(out, 404, "not found");
        break;
    }
    count_status(s, out->status);
}

/* ---- libmicrohttpd --------------------------------------------------------------------- */

struct upload {
    struct strbuf body;
    bool too_large;
};

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *c, const struct server_response *r)
{
    size_t length = r->body ? strlen(r->body) : 0;
    struct MHD_Response *response = MHD_create_response_from_buffer(
        length, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->status == 401)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned int)r->status, response);
    MHD_destroy_response(response);
    return rc;
}

/* A declared length over the limit is refused before the body is read. */
static bool declared_too_large(struct server *s, struct MHD_Connection *c)
{
    const char *length = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length == NULL)
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(length, &end, 10);
    return errno != 0 || end == length || n > s->max_body;
}

static void take(struct server *s, struct upload *u, const char *data, size_t size)
{
    if (u->too_large)
        return;
    if (u->body.len + size > s->max_body) {
        u->too_large = true;
        strbuf_release(&u->body);
        return;
    }
    strbuf_add(&u->body, data, size);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **context)
{
    (void)version;
    struct server *s = cls;
    struct upload *u = *context;
    if (u == NULL) {
        u = xcalloc(1, sizeof *u);
        strbuf_init(&u->body);
        *context = u;
        if (!declared_too_large(s, c))
            return MHD_YES;
        u->too_large = true;
    }
    if (*upload_data_size > 0) {
        take(s, u, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct server_request request = {
        .method = method,
        .path = url,
        .authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
        .sf_token = header(c, "X-SF-Token"),
        .body = u->body.len > 0 ? u->body.data : NULL,
        .body_length = u->body.len,
        .too_large = u->too_large,
    };
    struct server_response response;
    server_handle(s, &request, &response);
    enum MHD_Result rc = send_response(c, &response);
    free(response.body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **context,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    struct upload *u = *context;
    if (u == NULL)
        return;
    strbuf_release(&u->body);
    free(u);
    *context = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) SERVO_PRINTF(2, 0);

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char *text = xvasprintf(fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    servo_debug("HTTP: %s", text);
    free(text);
}

/* ---- listening ------------------------------------------------------------------------- */

/* "HOST:PORT", "[V6]:PORT", ":PORT" (every address) -> host (NULL: any) and port. */
static int split_listen(const char *listen, char **host, char **port, char **error)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0') {
        *error = xasprintf("--listen %s: expected HOST:PORT", listen);
        return -1;
    }
    const char *h = listen, *h_end = colon;
    if (*h == '[' && h_end > h && h_end[-1] == ']') {
        h++;
        h_end--;
    }
    *host = h_end > h ? xstrndup(h, (size_t)(h_end - h)) : NULL;
    *port = xstrdup(colon + 1);
    return 0;
}

static int bind_socket(const char *host, const char *port, int *fd, char **error)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0) {
        *error = xasprintf("cannot listen on %s:%s: %s", host ? host : "", port, gai_strerror(rc));
        return -1;
    }
    int last = 0;
    *fd = -1;
    for (struct addrinfo *ai = list; ai != NULL && *fd < 0; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        int one = 1;
        if (s >= 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, 128) == 0) {
            *fd = s;
            break;
        }
        last = errno;
        if (s >= 0)
            close(s);
    }
    freeaddrinfo(list);
    if (*fd < 0) {
        *error = xasprintf("cannot listen on %s:%s: %s", host ? host : "", port, strerror(last));
        return -1;
    }
    return 0;
}

static char *socket_url(int fd)
{
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&addr, &length) != 0)
        return xstrdup("http://?");
    if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        return xasprintf("http://[%s]:%d", host, port);
    }
    const struct sockaddr_in *a = (const struct sockaddr_in *)&addr;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return xasprintf("http://%s:%d", host, port);
}

int server_listen(struct server *s, const char *listen, char **error)
{
    char *host = NULL, *port = NULL;
    if (split_listen(listen, &host, &port, error) != 0)
        return -1;
    int rc = bind_socket(host, port, &s->listen_fd, error);
    free(host);
    free(port);
    if (rc != 0)
        return -1;
    s->url = socket_url(s->listen_fd);
    s->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
        MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)SERVER_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)SERVER_CONNECTION_TIMEOUT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        *error = xstrdup("cannot start the HTTP server");
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    s->listen_fd = -1; /* the daemon closes it */
    return 0;
}

const char *server_url(const struct server *s)
{
    return s->url ? s->url : "";
}

void server_stop(struct server *s)
{
    if (s->daemon != NULL) {
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
}
