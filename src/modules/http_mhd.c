// SPDX-License-Identifier: Apache-2.0
/* The optimizer server's HTTP front over libmicrohttpd (optimizer/http_front.h). Only libc
 * and libmicrohttpd here: everything else is the server's, reached through the callbacks. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include "optimizer/http_front.h"

struct upload;

/* Slow requests, handled by `workers` threads while their connections are suspended. */
struct work_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct upload *head, *tail;
    pthread_t *threads;
    unsigned thread_count;
    bool stopping; /* no more queued: slow requests are handled inline */
};

struct front {
    struct MHD_Daemon *daemon;
    struct http_front_callbacks callbacks;
    size_t max_body;
    size_t max_bodies;        /* 0: no bound across connections */
    atomic_size_t *bodies;    /* bytes reserved by the uploads in flight (the server's) */
    atomic_size_t own_bodies; /* `bodies` when the server keeps no count of its own */
    struct work_queue work;
};

enum upload_state { UPLOAD_READING, UPLOAD_QUEUED, UPLOAD_ANSWERED };

struct upload {
    char *body;
    size_t length, capacity;
    bool too_large;
    bool no_room;    /* the bodies in flight left no room for this one: 503 */
    bool refused;    /* answered from the headers */
    size_t reserved; /* bytes of f->bodies held by this upload */
    /* a slow request: queued with its connection suspended, answered by a worker */
    enum upload_state state;
    struct MHD_Connection *connection;
    struct server_request request;
    struct server_response response;
    struct upload *next;
};

static const char *header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct server_response *r)
{
    size_t length = r->body ? strlen(r->body) : 0;
    struct MHD_Response *response = MHD_create_response_from_buffer(
        length, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
    free(r->body);
    r->body = NULL;
    if (response == NULL)
        return MHD_NO;
    if (r->content_type != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->status == 401)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->status == 503)
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned int)r->status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *detail)
{
    size_t size = strlen(detail) + 32;
    struct server_response r = {
        .status = status, .content_type = "application/json", .body = malloc(size)};
    if (r.body == NULL)
        return MHD_NO;
    snprintf(r.body, size, "{\"detail\":\"%s\"}", detail);
    return send_response(c, &r);
}

/* The declared Content-Length: 0 without one, ULLONG_MAX when it is not a number. */
static unsigned long long declared_length(struct MHD_Connection *c)
{
    const char *length = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length == NULL)
        return 0;
    errno = 0;
    char *end = NULL;
    unsigned long long n = strtoull(length, &end, 10);
    return errno != 0 || end == length ? ULLONG_MAX : n;
}

/* The memory of every body in flight is bounded by f->max_bodies: an upload reserves what it
 * will hold (its declared length at the headers, more as an undeclared one grows). */
static bool reserve(struct front *f, struct upload *u, size_t bytes)
{
    size_t before = atomic_fetch_add(f->bodies, bytes);
    if (f->max_bodies != 0 && (before + bytes > f->max_bodies || before + bytes < before)) {
        atomic_fetch_sub(f->bodies, bytes);
        return false;
    }
    u->reserved += bytes;
    return true;
}

static void release(struct front *f, struct upload *u)
{
    atomic_fetch_sub(f->bodies, u->reserved);
    u->reserved = 0;
}

static void drop_body(struct front *f, struct upload *u)
{
    free(u->body);
    u->body = NULL;
    u->length = u->capacity = 0;
    release(f, u);
}

static void take(struct front *f, struct upload *u, const char *data, size_t size)
{
    if (u->too_large || u->no_room)
        return;
    if (u->length + size > f->max_body) {
        u->too_large = true;
        drop_body(f, u);
        return;
    }
    if (u->length + size + 1 > u->capacity) {
        size_t capacity = u->capacity ? u->capacity : 4096;
        while (capacity < u->length + size + 1)
            capacity *= 2;
        if (capacity < u->reserved) /* the declared length, reserved at the headers */
            capacity = u->reserved;
        if (capacity > u->reserved && !reserve(f, u, capacity - u->reserved)) {
            u->no_room = true;
            drop_body(f, u);
            return;
        }
        char *body = realloc(u->body, capacity);
        if (body == NULL) { /* as if too large: the request is refused, not half-read */
            u->too_large = true;
            return;
        }
        u->body = body;
        u->capacity = capacity;
    }
    memcpy(u->body + u->length, data, size);
    u->length += size;
    u->body[u->length] = '\0';
}

struct header_count {
    const char *name;
    unsigned count;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    (void)value;
    struct header_count *c = cls;
    if (key != NULL && strcasecmp(key, c->name) == 0)
        c->count++;
    return MHD_YES;
}

static unsigned header_count(struct MHD_Connection *c, const char *name)
{
    struct header_count count = {name, 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &count);
    return count.count;
}

/* Framing a proxy and this server could read differently is refused before the body:
 * Content-Length with Transfer-Encoding, or Content-Length twice. */
static const char *ambiguous_framing(struct MHD_Connection *c)
{
    unsigned lengths = header_count(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (lengths > 1)
        return "more than one Content-Length";
    if (lengths == 1 && header_count(c, MHD_HTTP_HEADER_TRANSFER_ENCODING) > 0)
        return "both Content-Length and Transfer-Encoding";
    return NULL;
}

static void fill_request(struct MHD_Connection *c, const char *url, const char *method,
                         const struct upload *u, struct server_request *r)
{
    *r = (struct server_request){
        .method = method,
        .path = url,
        .authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
        .sf_token = header(c, "X-SF-Token"),
        .body = u && u->length > 0 ? u->body : NULL,
        .body_length = u ? u->length : 0,
        .too_large = u ? u->too_large : false,
    };
}

/* The first call, with the headers only: whatever can be refused is refused before a byte of
 * the body is read. */
static enum MHD_Result on_headers(struct front *f, struct MHD_Connection *c, const char *url,
                                  const char *method, struct upload *u)
{
    const char *framing = ambiguous_framing(c);
    if (framing != NULL) {
        u->refused = true;
        return send_text(c, 400, framing);
    }
    struct server_request request;
    fill_request(c, url, method, NULL, &request);
    struct server_response response = {0};
    if (f->callbacks.check(f->callbacks.context, &request, &response) != 0) {
        u->refused = true;
        return send_response(c, &response);
    }
    unsigned long long length = declared_length(c);
    if (length > f->max_body) { /* refused from its headers: the body is never waited for */
        u->refused = true;
        return send_text(c, 413, "the request is too large");
    }
    if (length > 0 && !reserve(f, u, (size_t)length + 1)) {
        u->refused = true;
        return send_text(c, 503, "the server holds too many request bodies at once; retry");
    }
    return MHD_YES;
}

static void *work(void *arg)
{
    struct front *f = arg;
    struct work_queue *q = &f->work;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->head == NULL && !q->stopping)
            pthread_cond_wait(&q->ready, &q->lock);
        struct upload *u = q->head;
        if (u == NULL) /* stopping, and nothing left */
            break;
        q->head = u->next;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        f->callbacks.handle(f->callbacks.context, &u->request, &u->response);
        u->state = UPLOAD_ANSWERED;
        /* from here on the connection, and `u` with it, belong to libmicrohttpd again */
        MHD_resume_connection(u->connection);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Queues a slow request and suspends its connection; false when the workers are stopping
 * (or there are none): the caller handles it inline. */
static bool queue_slow(struct front *f, struct MHD_Connection *c, struct upload *u)
{
    struct work_queue *q = &f->work;
    pthread_mutex_lock(&q->lock);
    bool queued = q->thread_count > 0 && !q->stopping;
    if (queued) {
        u->state = UPLOAD_QUEUED;
        u->connection = c;
        u->next = NULL;
        if (q->tail != NULL)
            q->tail->next = u;
        else
            q->head = u;
        q->tail = u;
        /* suspended before a worker can resume it: the queue's lock is held */
        MHD_suspend_connection(c);
        pthread_cond_signal(&q->ready);
    }
    pthread_mutex_unlock(&q->lock);
    return queued;
}

static int start_workers(struct front *f, unsigned count)
{
    struct work_queue *q = &f->work;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->threads = count ? calloc(count, sizeof *q->threads) : NULL;
    if (count > 0 && q->threads == NULL)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        if (pthread_create(&q->threads[i], NULL, work, f) != 0)
            return -1;
        q->thread_count++;
    }
    return 0;
}

/* The workers finish what is queued, then end; later slow requests are handled inline. */
static void stop_workers(struct front *f)
{
    struct work_queue *q = &f->work;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->thread_count; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **context)
{
    (void)version;
    struct front *f = cls;
    struct upload *u = *context;
    if (u == NULL) {
        u = calloc(1, sizeof *u);
        if (u == NULL)
            return MHD_NO;
        *context = u;
        return on_headers(f, c, url, method, u);
    }
    if (u->refused || *upload_data_size > 0) {
        if (!u->refused)
            take(f, u, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (u->state == UPLOAD_ANSWERED) /* resumed by its worker */
        return send_response(c, &u->response);
    if (u->state == UPLOAD_QUEUED) /* not yet answered (a spurious call) */
        return MHD_YES;
    if (u->no_room)
        return send_text(c, 503, "the server holds too many request bodies at once; retry");
    fill_request(c, url, method, u, &u->request);
    if (f->callbacks.slow(f->callbacks.context, &u->request) && queue_slow(f, c, u))
        return MHD_YES;
    struct server_response response = {0};
    f->callbacks.handle(f->callbacks.context, &u->request, &response);
    return send_response(c, &response);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **context,
                         enum MHD_RequestTerminationCode code)
{
    (void)c;
    (void)code;
    struct upload *u = *context;
    if (u == NULL)
        return;
    free(u->response.body);
    drop_body(cls, u);
    free(u);
    *context = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    struct front *f = cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    f->callbacks.log(f->callbacks.context, text);
}

static void *front_start(const struct http_front_config *config,
                         const struct http_front_callbacks *callbacks, char *error,
                         size_t error_size)
{
    struct front *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    f->callbacks = *callbacks;
    f->max_body = config->max_body;
    f->max_bodies = config->max_bodies;
    f->bodies = config->body_bytes != NULL ? config->body_bytes : &f->own_bodies;
    if (start_workers(f, config->workers) != 0) {
        snprintf(error, error_size, "cannot start %u worker threads", config->workers);
        stop_workers(f);
        free(f);
        return NULL;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    bool tls = config->tls_cert != NULL && config->tls_key != NULL;
    if (tls)
        flags |= MHD_USE_TLS;
    f->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, f, MHD_OPTION_LISTEN_SOCKET, config->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, config->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        config->connection_timeout, MHD_OPTION_CONNECTION_LIMIT, config->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, config->max_connections_per_address,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, config->header_memory, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, f, MHD_OPTION_EXTERNAL_LOGGER, on_log, f,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, config->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, config->tls_key, MHD_OPTION_END);
    if (f->daemon == NULL) {
        snprintf(error, error_size, "cannot start the HTTP server%s",
                 tls ? " (is the TLS certificate or key malformed, or do they not match?)" : "");
        stop_workers(f);
        free(f);
        return NULL;
    }
    return f;
}

static void front_stop(void *front)
{
    struct front *f = front;
    if (f == NULL)
        return;
    stop_workers(f);
    MHD_stop_daemon(f->daemon);
    free(f);
}

static bool front_has_tls(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

__attribute__((visibility("default"))) const struct http_front_module servo_http_front_v1 = {
    .abi = HTTP_FRONT_ABI,
    .start = front_start,
    .stop = front_stop,
    .has_tls = front_has_tls,
};
