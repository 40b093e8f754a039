// SPDX-License-Identifier: Apache-2.0
/* servo-http-curl.so: the transport of the HTTP engine, with libcurl (see src/http/transport.h).
 *
 * A client keeps up to POOL_MAX idle multi handles; a perform takes one (or makes one), adds
 * an easy handle per transfer and drives them together, polling at most every POLL_MS so that
 * the core's interrupt callback (cancellation, deadlines) and the timeouts kept here are seen
 * promptly. The multi handle keeps the connections, so the next perform that takes it reuses
 * them (keep-alive, TLS sessions).
 *
 * Timeouts: libcurl enforces the connect timeout; the write and read timeouts are stalls (no
 * byte sent, or received, for that long) and the total timeout bounds the whole transfer, all
 * three measured here from libcurl's progress. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/transport.h"

#if LIBCURL_VERSION_NUM < 0x074D00
#error "servo-http-curl needs libcurl 7.77 or later (CURLOPT_CAINFO_BLOB)"
#endif

#define POLL_MS 20
#define POOL_MAX 4

struct client {
    const struct servo_http_options *options;
    pthread_mutex_t lock;
    CURLM *idle[POOL_MAX];
    size_t idle_count;
};

struct running {
    struct http_transfer *t;
    CURL *easy;
    struct curl_slist *headers;
    char error[CURL_ERROR_SIZE];
    bool done;
    bool saw_header;
    bool sent_request; /* libcurl reached the transfer phase */
    curl_off_t ulnow, ultotal, dlnow;
    double started, last_activity;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the module ------------------------------------------------------------------------ */

static int module_init(char *why, size_t size)
{
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(why, size, "libcurl: %s", curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

static void *client_new(const struct servo_http_options *options)
{
    struct client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->options = options;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void client_free(void *context)
{
    struct client *c = context;
    for (size_t i = 0; i < c->idle_count; i++)
        curl_multi_cleanup(c->idle[i]);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static CURLM *multi_take(struct client *c)
{
    CURLM *multi = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->idle_count > 0)
        multi = c->idle[--c->idle_count];
    pthread_mutex_unlock(&c->lock);
    return multi != NULL ? multi : curl_multi_init();
}

static void multi_give(struct client *c, CURLM *multi)
{
    pthread_mutex_lock(&c->lock);
    if (c->idle_count < POOL_MAX) {
        c->idle[c->idle_count++] = multi;
        multi = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (multi != NULL)
        curl_multi_cleanup(multi);
}

/* ---- callbacks ------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    struct running *r = userdata;
    size_t length = size * count;
    r->last_activity = now_seconds();
    if (r->t->sink(r->t->sink_context, data, length) != 0) {
        r->t->sink_refused = true;
        return 0; /* aborts the transfer */
    }
    return length;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    struct running *r = userdata;
    r->saw_header = true;
    r->last_activity = now_seconds();
    return size * count;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    struct running *r = userdata;
    if (dlnow != r->dlnow || ulnow != r->ulnow)
        r->last_activity = now_seconds();
    r->dlnow = dlnow;
    r->ulnow = ulnow;
    if (ultotal > 0)
        r->ultotal = ultotal;
    return 0;
}

/* ---- setting a transfer up ------------------------------------------------------------- */

static void set_blob(CURL *easy, CURLoption option, const char *data, size_t length)
{
    struct curl_blob blob = {.data = (void *)data, .len = length, .flags = CURL_BLOB_COPY};
    curl_easy_setopt(easy, option, &blob);
}

static void set_tls(CURL *easy, const struct servo_http_options *o)
{
    if (o->insecure) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
    }
    if (o->ca_data != NULL) {
        /* only this CA: no system bundle next to it */
        curl_easy_setopt(easy, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
        set_blob(easy, CURLOPT_CAINFO_BLOB, o->ca_data, o->ca_data_length);
    } else if (o->ca_file != NULL) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, o->ca_file);
        curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, o->ca_file);
    }
    if (o->cert_data != NULL || o->cert_file != NULL)
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    if (o->cert_data != NULL)
        set_blob(easy, CURLOPT_SSLCERT_BLOB, o->cert_data, o->cert_data_length);
    else if (o->cert_file != NULL)
        curl_easy_setopt(easy, CURLOPT_SSLCERT, o->cert_file);
    if (o->key_data != NULL || o->key_file != NULL)
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    if (o->key_data != NULL)
        set_blob(easy, CURLOPT_SSLKEY_BLOB, o->key_data, o->key_data_length);
    else if (o->key_file != NULL)
        curl_easy_setopt(easy, CURLOPT_SSLKEY, o->key_file);
}

static void set_method(CURL *easy, const struct http_transfer *t)
{
    if (strcmp(t->method, "GET") == 0 && t->body == NULL) {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(t->method, "HEAD") == 0) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
        return;
    }
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, t->method);
    if (t->body != NULL) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_length);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body);
    } else if (t->send_empty_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
    }
}

static long milliseconds(double seconds)
{
    long ms = (long)(seconds * 1000 + 0.5);
    return ms > 0 ? ms : 1;
}

static int setup(struct running *r, const struct client *c)
{
    const struct http_transfer *t = r->t;
    r->easy = curl_easy_init();
    if (r->easy == NULL)
        return -1;
    for (size_t i = 0; t->headers != NULL && t->headers[i] != NULL; i++) {
        struct curl_slist *next = curl_slist_append(r->headers, t->headers[i]);
        if (next == NULL)
            return -1;
        r->headers = next;
    }
    CURL *e = r->easy;
    const struct servo_http_options *o = c->options;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    double connect = t->connect_timeout;
    if (t->total_timeout > 0 && (connect <= 0 || t->total_timeout < connect))
        connect = t->total_timeout;
    if (connect > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(connect));
    if (o->proxy != NULL)
        curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
    if (o->no_proxy != NULL)
        curl_easy_setopt(e, CURLOPT_NOPROXY, o->no_proxy);
    if (t->username != NULL) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, t->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, t->password);
    }
    set_tls(e, o);
    set_method(e, t);
    return 0;
}

/* ---- outcomes -------------------------------------------------------------------------- */

static enum servo_http_error_kind kind_of(CURLcode code)
{
    switch ((int)code) {
    case CURLE_OK:
        return SERVO_HTTP_ERROR_NONE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return SERVO_HTTP_ERROR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: /* only the connect timeout is libcurl's */
        return SERVO_HTTP_ERROR_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return SERVO_HTTP_ERROR_TLS;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return SERVO_HTTP_ERROR_INVALID;
    default:
        return SERVO_HTTP_ERROR_TRANSFER;
    }
}

static const char *tls_problem(CURLcode code)
{
    switch ((int)code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return "untrusted";
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
        return "client-certificate";
    default:
        return "handshake";
    }
}

static void complete(struct running *r, CURLcode code)
{
    struct http_transfer *t = r->t;
    r->done = true;
    t->kind = kind_of(code);
    if (code == CURLE_WRITE_ERROR && t->sink_refused)
        t->kind = SERVO_HTTP_ERROR_CALLBACK;
    if (code == CURLE_OPERATION_TIMEDOUT)
        t->phase = HTTP_PHASE_CONNECT;
    if (t->kind == SERVO_HTTP_ERROR_TLS)
        t->tls_problem = tls_problem(code);
    if (code != CURLE_OK)
        snprintf(t->detail, sizeof t->detail, "%s",
                 r->error[0] != '\0' ? r->error : curl_easy_strerror(code));
}

static void stop(struct running *r, enum servo_http_error_kind kind, enum http_timeout_phase phase)
{
    r->done = true;
    r->t->kind = kind;
    r->t->phase = phase;
}

/* Looks at the core's interrupt and at the clocks; true when the transfer must stop. */
static bool check(struct running *r)
{
    struct http_transfer *t = r->t;
    enum http_interrupt why = t->interrupted(t->interrupt_context);
    if (why != HTTP_RUNNING) {
        t->interrupt = why;
        stop(r,
             why == HTTP_INTERRUPT_CANCELLED ? SERVO_HTTP_ERROR_CANCELLED
                                             : SERVO_HTTP_ERROR_TIMEOUT,
             HTTP_PHASE_NONE);
        return true;
    }
    double now = now_seconds();
    if (t->total_timeout > 0 && now - r->started > t->total_timeout) {
        stop(r, SERVO_HTTP_ERROR_TIMEOUT, HTTP_PHASE_TOTAL);
        return true;
    }
    if (!r->sent_request) {
        curl_off_t pretransfer = 0;
        curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
        if (pretransfer > 0) {
            r->sent_request = true;
            r->last_activity = now;
        } else if (t->connect_timeout > 0 && t->write_timeout > 0 &&
                   now - r->started > t->connect_timeout + t->write_timeout) {
            /* libcurl enforces the connect timeout; this catches a connection (or a proxy
             * tunnel) that never starts taking the request */
            stop(r, SERVO_HTTP_ERROR_TIMEOUT, HTTP_PHASE_CONNECT);
            return true;
        }
        return false;
    }
    bool sending = r->ulnow < r->ultotal && !r->saw_header;
    double stall = sending ? t->write_timeout : t->read_timeout;
    if (stall > 0 && now - r->last_activity > stall) {
        stop(r, SERVO_HTTP_ERROR_TIMEOUT, sending ? HTTP_PHASE_WRITE : HTTP_PHASE_READ);
        return true;
    }
    return false;
}

static void harvest(CURLM *multi, struct running *runs, size_t count)
{
    int left = 0;
    for (CURLMsg *msg; (msg = curl_multi_info_read(multi, &left)) != NULL;) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (size_t i = 0; i < count; i++)
            if (runs[i].easy == msg->easy_handle && !runs[i].done)
                complete(&runs[i], msg->data.result);
    }
}

static void drive(CURLM *multi, struct running *runs, size_t count)
{
    for (;;) {
        int active = 0;
        CURLMcode mc = curl_multi_perform(multi, &active);
        harvest(multi, runs, count);
        size_t open = 0;
        for (size_t i = 0; i < count; i++) {
            if (runs[i].done)
                continue;
            if (mc != CURLM_OK) {
                snprintf(runs[i].t->detail, sizeof runs[i].t->detail, "libcurl: %s",
                         curl_multi_strerror(mc));
                stop(&runs[i], SERVO_HTTP_ERROR_TRANSFER, HTTP_PHASE_NONE);
            } else if (!check(&runs[i])) {
                open++;
            }
        }
        if (open == 0)
            return;
        curl_multi_poll(multi, NULL, 0, POLL_MS, NULL);
    }
}

static void perform(void *context, struct http_transfer *const *transfers, size_t count)
{
    struct client *c = context;
    CURLM *multi = multi_take(c);
    struct running *runs = calloc(count > 0 ? count : 1, sizeof *runs);
    if (multi == NULL || runs == NULL) {
        for (size_t i = 0; i < count; i++) {
            transfers[i]->kind = SERVO_HTTP_ERROR_TRANSFER;
            snprintf(transfers[i]->detail, sizeof transfers[i]->detail, "out of memory");
        }
        if (multi != NULL)
            curl_multi_cleanup(multi);
        free(runs);
        return;
    }
    double started = now_seconds();
    for (size_t i = 0; i < count; i++) {
        struct running *r = &runs[i];
        r->t = transfers[i];
        r->started = r->last_activity = started;
        if (setup(r, c) != 0) {
            snprintf(r->t->detail, sizeof r->t->detail, "cannot set up a libcurl transfer");
            stop(r, SERVO_HTTP_ERROR_TRANSFER, HTTP_PHASE_NONE);
        } else if (!check(r) && curl_multi_add_handle(multi, r->easy) != CURLM_OK) {
            snprintf(r->t->detail, sizeof r->t->detail, "cannot start a libcurl transfer");
            stop(r, SERVO_HTTP_ERROR_TRANSFER, HTTP_PHASE_NONE);
        }
    }
    drive(multi, runs, count);
    for (size_t i = 0; i < count; i++) {
        struct running *r = &runs[i];
        if (r->easy == NULL)
            continue;
        long status = 0;
        char *type = NULL;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &type);
        r->t->status = status;
        if (type != NULL)
            snprintf(r->t->content_type, sizeof r->t->content_type, "%s", type);
        curl_multi_remove_handle(multi, r->easy);
        curl_easy_cleanup(r->easy);
        curl_slist_free_all(r->headers);
    }
    free(runs);
    multi_give(c, multi);
}

static const struct http_transport_module curl_transport = {
    .version = HTTP_TRANSPORT_VERSION,
    .init = module_init,
    .client_new = client_new,
    .client_free = client_free,
    .perform = perform,
};

__attribute__((visibility("default"))) const struct http_transport_module *
servo_http_transport_v1(void);

const struct http_transport_module *servo_http_transport_v1(void)
{
    return &curl_transport;
}
