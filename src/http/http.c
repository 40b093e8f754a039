// SPDX-License-Identifier: Apache-2.0
/* The HTTP engine of <servo/http.h>: requests are checked and prepared here, performed by
 * the transport module (loaded on the first request, see transport.h), and their outcome is
 * turned into one typed error with the method and the URL (password masked) in its message.
 * Secrets (the bearer token, the password) are scrubbed from every text that comes back from
 * the transport. */
#include "http/http_internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/transport.h"
#include "servo/events.h"
#include "util/module.h"
#include "util/util.h"

#define MASK "***"

/* ---- the module ------------------------------------------------------------------------ */

static pthread_once_t module_once = PTHREAD_ONCE_INIT;
static const struct http_transport_module *module;
static char *module_error;

static void load_module(void)
{
    char *error = NULL;
    void *entry = module_load(HTTP_MODULE_FILE, HTTP_TRANSPORT_ENTRY, &error);
    if (entry == NULL) {
        module_error = error;
        return;
    }
    const struct http_transport_module *m = ((http_transport_entry_fn)entry)();
    if (m == NULL || m->version != HTTP_TRANSPORT_VERSION) {
        module_error = xasprintf("the HTTP module %s/%s speaks version %u, this servo %u: "
                                 "reinstall the servo",
                                 module_dir(), HTTP_MODULE_FILE, m != NULL ? m->version : 0,
                                 HTTP_TRANSPORT_VERSION);
        return;
    }
    char why[256] = "";
    if (m->init(why, sizeof why) != 0) {
        module_error = xasprintf("the HTTP module cannot start: %s", why);
        return;
    }
    module = m;
}

static const struct http_transport_module *http_module(const char **error)
{
    pthread_once(&module_once, load_module);
    *error = module_error;
    return module;
}

/* ---- clients --------------------------------------------------------------------------- */

struct servo_http_client {
    struct servo_http_options options; /* owned copies */
    pthread_mutex_t lock;
    void *transport; /* the module's client, made on the first request */
};

static char *copy_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static char *copy_data(const char *data, size_t length)
{
    if (data == NULL)
        return NULL;
    char *copy = xmalloc(length + 1);
    memcpy(copy, data, length);
    copy[length] = '\0';
    return copy;
}

static void copy_options(struct servo_http_options *to, const struct servo_http_options *from)
{
    *to = *from;
    to->user_agent = copy_or_null(from->user_agent);
    to->ca_file = copy_or_null(from->ca_file);
    to->cert_file = copy_or_null(from->cert_file);
    to->key_file = copy_or_null(from->key_file);
    to->proxy = copy_or_null(from->proxy);
    to->no_proxy = copy_or_null(from->no_proxy);
    to->ca_data = copy_data(from->ca_data, from->ca_data_length);
    to->cert_data = copy_data(from->cert_data, from->cert_data_length);
    to->key_data = copy_data(from->key_data, from->key_data_length);
}

static void wipe_free(const char *data, size_t length)
{
    if (data != NULL)
        memset((char *)data, 0, length); /* keys */
    free((char *)data);
}

static void free_options(struct servo_http_options *o)
{
    free((char *)o->user_agent);
    free((char *)o->ca_file);
    free((char *)o->cert_file);
    free((char *)o->key_file);
    free((char *)o->proxy);
    free((char *)o->no_proxy);
    wipe_free(o->ca_data, o->ca_data_length);
    wipe_free(o->cert_data, o->cert_data_length);
    wipe_free(o->key_data, o->key_data_length);
}

static int set_error(struct servo_http_error *error, enum servo_http_error_kind kind,
                     const char *fmt, ...) SERVO_PRINTF(3, 4);

static int set_error(struct servo_http_error *error, enum servo_http_error_kind kind,
                     const char *fmt, ...)
{
    if (error == NULL)
        return -1;
    error->kind = kind;
    error->detail = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_readable(const char *path, const char *what, struct servo_http_error *error)
{
    if (path != NULL && access(path, R_OK) != 0)
        return set_error(error, SERVO_HTTP_ERROR_INVALID, "cannot read the %s %s", what, path);
    return 0;
}

struct servo_http_client *servo_http_client_new(const struct servo_http_options *options,
                                                struct servo_http_error *error)
{
    static const struct servo_http_options defaults = {0};
    if (options == NULL)
        options = &defaults;
    if (check_readable(options->ca_file, "CA file", error) != 0 ||
        check_readable(options->cert_file, "client certificate", error) != 0 ||
        check_readable(options->key_file, "client key", error) != 0)
        return NULL;
    struct servo_http_client *c = xcalloc(1, sizeof *c);
    copy_options(&c->options, options);
    if (c->options.user_agent == NULL)
        c->options.user_agent = xstrdup("servo/" SERVO_VERSION);
    pthread_mutex_init(&c->lock, NULL);
    if (error != NULL)
        error->kind = SERVO_HTTP_ERROR_NONE;
    return c;
}

void servo_http_client_free(struct servo_http_client *c)
{
    if (c == NULL)
        return;
    if (c->transport != NULL)
        module->client_free(c->transport);
    pthread_mutex_destroy(&c->lock);
    free_options(&c->options);
    free(c);
}

/* The module's client, made on first use; NULL with *why when the module cannot load. */
static void *client_transport(struct servo_http_client *c, const char **why)
{
    const struct http_transport_module *m = http_module(why);
    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&c->lock);
    if (c->transport == NULL)
        c->transport = m->client_new(&c->options);
    void *transport = c->transport;
    pthread_mutex_unlock(&c->lock);
    if (transport == NULL)
        *why = "the HTTP module could not create a client (out of memory)";
    return transport;
}

/* ---- one request's state --------------------------------------------------------------- */

struct request_state {
    const struct servo_http_request *request;
    struct servo_http_response *response;
    struct servo_http_error *error;
    struct cancel_token *token;
    struct http_transfer transfer;
    char *redacted_url;
    const char *method;
    char **headers; /* NULL-terminated */
    struct strbuf body;
    size_t limit;
    bool too_large;
    bool invalid;
    double started;
};

static int collect_body(void *context, const char *data, size_t length)
{
    struct request_state *s = context;
    if (s->response->body_length + length > s->limit) {
        s->too_large = true;
        return 1;
    }
    s->response->body_length += length;
    if (s->request->on_body != NULL)
        return s->request->on_body(s->request->context, data, length) != 0;
    strbuf_add(&s->body, data, length);
    return 0;
}

static enum http_interrupt check_interrupt(void *context)
{
    const struct request_state *s = context;
    if (s->token != NULL) {
        if (cancel_requested(s->token))
            return HTTP_INTERRUPT_CANCELLED;
        return cancel_expired(s->token) ? HTTP_INTERRUPT_DEADLINE : HTTP_RUNNING;
    }
    const struct servo_event *event = s->request->event;
    if (event == NULL || !servo_event_cancelled(event))
        return HTTP_RUNNING;
    return servo_event_remaining(event) <= 0 ? HTTP_INTERRUPT_DEADLINE : HTTP_INTERRUPT_CANCELLED;
}

static double timeout_seconds(servo_duration value, servo_duration fallback)
{
    if (value == 0)
        value = fallback;
    return value > 0 ? servo_duration_seconds(value) : 0;
}

static bool valid_method(const char *method)
{
    if (method[0] == '\0')
        return false;
    for (const char *p = method; *p; p++)
        if (!isupper((unsigned char)*p))
            return false;
    return true;
}

static bool valid_header(const char *header)
{
    const char *colon = strchr(header, ':');
    if (colon == NULL || colon == header)
        return false;
    for (const char *p = header; *p; p++)
        if ((p < colon && ((unsigned char)*p <= 0x20 || *p == 0x7f)) || *p == '\r' || *p == '\n')
            return false;
    return true;
}

static bool method_sends_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0;
}

static void build_headers(struct request_state *s)
{
    const struct servo_http_request *r = s->request;
    size_t count = 0;
    while (r->headers != NULL && r->headers[count] != NULL)
        count++;
    s->headers = xcalloc(count + 3, sizeof *s->headers);
    size_t n = 0;
    s->headers[n++] = xstrdup("Expect:"); /* no 100-continue round trip */
    if (r->bearer_token != NULL)
        s->headers[n++] = xasprintf("Authorization: Bearer %s", r->bearer_token);
    for (size_t i = 0; i < count; i++)
        s->headers[n++] = xstrdup(r->headers[i]);
}

static void free_headers(char **headers)
{
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        memset(headers[i], 0, strlen(headers[i])); /* a token */
        free(headers[i]);
    }
    free(headers);
}

static int validate(struct request_state *s)
{
    const struct servo_http_request *r = s->request;
    const char *why = NULL;
    if (!valid_method(s->method))
        return set_error(s->error, SERVO_HTTP_ERROR_INVALID, "invalid HTTP method \"%s\"",
                         s->method);
    if (r->url == NULL)
        return set_error(s->error, SERVO_HTTP_ERROR_INVALID, "%s: no URL", s->method);
    if (servo_url_parse(r->url, NULL, &why) != 0)
        return set_error(s->error, SERVO_HTTP_ERROR_INVALID, "%s %s: invalid URL: %s", s->method,
                         s->redacted_url, why);
    for (size_t i = 0; r->headers != NULL && r->headers[i] != NULL; i++)
        if (!valid_header(r->headers[i]))
            return set_error(s->error, SERVO_HTTP_ERROR_INVALID,
                             "%s %s: header %zu is not \"Name: value\" on one line", s->method,
                             s->redacted_url, i + 1);
    if (r->bearer_token != NULL && strpbrk(r->bearer_token, "\r\n") != NULL)
        return set_error(s->error, SERVO_HTTP_ERROR_INVALID,
                         "%s %s: the bearer token contains a line break", s->method,
                         s->redacted_url);
    return 0;
}

static void prepare(struct request_state *s)
{
    const struct servo_http_request *r = s->request;
    struct http_transfer *t = &s->transfer;
    build_headers(s);
    t->method = s->method;
    t->url = r->url;
    t->headers = (const char *const *)s->headers;
    t->body = r->body;
    t->body_length = r->body != NULL ? r->body_length : 0;
    t->send_empty_body = r->body == NULL && method_sends_body(s->method);
    t->username = r->username;
    t->password = r->username != NULL && r->password == NULL ? "" : r->password;
    t->connect_timeout = timeout_seconds(r->connect_timeout, SERVO_HTTP_DEFAULT_CONNECT_TIMEOUT);
    t->write_timeout = timeout_seconds(r->write_timeout, SERVO_HTTP_DEFAULT_WRITE_TIMEOUT);
    t->read_timeout = timeout_seconds(r->read_timeout, SERVO_HTTP_DEFAULT_READ_TIMEOUT);
    t->total_timeout = timeout_seconds(r->total_timeout, SERVO_HTTP_DEFAULT_TOTAL_TIMEOUT);
    t->sink = collect_body;
    t->sink_context = s;
    t->interrupted = check_interrupt;
    t->interrupt_context = s;
    s->limit = r->max_response > 0 ? r->max_response : SERVO_HTTP_DEFAULT_MAX_RESPONSE;
}

/* ---- outcomes -------------------------------------------------------------------------- */

/* text with every occurrence of each secret replaced by MASK (caller frees) */
static char *scrub(const char *text, const char *const *secrets, size_t count)
{
    char *out = xstrdup(text);
    for (size_t i = 0; i < count; i++) {
        const char *secret = secrets[i];
        size_t n = secret != NULL ? strlen(secret) : 0;
        if (n < 3) /* too short to tell apart from ordinary words */
            continue;
        for (char *hit; (hit = strstr(out, secret)) != NULL;) {
            char *next = xasprintf("%.*s%s%s", (int)(hit - out), out, MASK, hit + n);
            free(out);
            out = next;
        }
    }
    return out;
}

static void format_size(size_t bytes, char out[32])
{
    if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
        snprintf(out, 32, "%zu MiB", bytes >> 20);
    else
        snprintf(out, 32, "%zu bytes", bytes);
}

static void describe_timeout(const struct request_state *s, char *out, size_t size)
{
    const struct http_transfer *t = &s->transfer;
    switch (t->phase) {
    case HTTP_PHASE_CONNECT:
        snprintf(out, size, "timed out connecting (connect timeout %gs)%s%s", t->connect_timeout,
                 t->detail[0] ? ": " : "", t->detail);
        break;
    case HTTP_PHASE_WRITE:
        snprintf(out, size, "timed out sending the request (write timeout %gs)", t->write_timeout);
        break;
    case HTTP_PHASE_READ:
        snprintf(out, size, "timed out waiting for the response (read timeout %gs)",
                 t->read_timeout);
        break;
    case HTTP_PHASE_TOTAL:
        snprintf(out, size, "no complete response within %gs (total timeout)", t->total_timeout);
        break;
    case HTTP_PHASE_NONE:
        snprintf(out, size, "the deadline passed after %.3fs", clock_monotonic() - s->started);
        break;
    }
}

static void describe(const struct request_state *s, enum servo_http_error_kind kind, char *out,
                     size_t size)
{
    const struct http_transfer *t = &s->transfer;
    char limit[32];
    switch (kind) {
    case SERVO_HTTP_ERROR_CONNECT:
        snprintf(out, size, "cannot connect: %s", t->detail);
        break;
    case SERVO_HTTP_ERROR_TLS:
        snprintf(out, size, "TLS: %s", t->detail);
        break;
    case SERVO_HTTP_ERROR_TIMEOUT:
        describe_timeout(s, out, size);
        break;
    case SERVO_HTTP_ERROR_CANCELLED:
        snprintf(out, size, "cancelled%s%s", s->token != NULL ? ": " : "",
                 s->token != NULL ? cancel_reason(s->token) : "");
        break;
    case SERVO_HTTP_ERROR_TOO_LARGE:
        format_size(s->limit, limit);
        snprintf(out, size, "the response is larger than %s", limit);
        break;
    case SERVO_HTTP_ERROR_STATUS:
        snprintf(out, size, "HTTP %ld", s->response->status);
        break;
    case SERVO_HTTP_ERROR_CALLBACK:
        snprintf(out, size, "the receiver refused the response body");
        break;
    case SERVO_HTTP_ERROR_NONE:
    case SERVO_HTTP_ERROR_INVALID:
    case SERVO_HTTP_ERROR_UNAVAILABLE:
    case SERVO_HTTP_ERROR_TRANSFER:
        snprintf(out, size, "%s", t->detail[0] ? t->detail : "the transfer failed");
        break;
    }
}

static const char *detail_of(enum servo_http_error_kind kind, const struct http_transfer *t)
{
    static const char *const phases[] = {
        [HTTP_PHASE_NONE] = "deadline", [HTTP_PHASE_CONNECT] = "connect",
        [HTTP_PHASE_WRITE] = "write",   [HTTP_PHASE_READ] = "read",
        [HTTP_PHASE_TOTAL] = "total",
    };
    if (kind == SERVO_HTTP_ERROR_TIMEOUT)
        return phases[t->phase];
    if (kind == SERVO_HTTP_ERROR_TLS && t->tls_problem != NULL)
        return t->tls_problem;
    return "";
}

static enum servo_http_error_kind outcome_kind(const struct request_state *s)
{
    const struct http_transfer *t = &s->transfer;
    if (t->kind == SERVO_HTTP_ERROR_CALLBACK ||
        (t->sink_refused && t->kind != SERVO_HTTP_ERROR_NONE))
        return s->too_large ? SERVO_HTTP_ERROR_TOO_LARGE : SERVO_HTTP_ERROR_CALLBACK;
    if (t->kind == SERVO_HTTP_ERROR_NONE && s->request->fail_on_status && t->status >= 400)
        return SERVO_HTTP_ERROR_STATUS;
    return t->kind;
}

static int finish(struct request_state *s)
{
    const struct servo_http_request *r = s->request;
    struct servo_http_response *response = s->response;
    const struct http_transfer *t = &s->transfer;
    response->status = t->status;
    response->content_type = t->content_type[0] ? xstrdup(t->content_type) : NULL;
    if (r->on_body == NULL && s->body.len > 0)
        response->body = strbuf_detach(&s->body);
    enum servo_http_error_kind kind = outcome_kind(s);
    if (kind == SERVO_HTTP_ERROR_NONE) {
        if (s->error != NULL)
            *s->error = (struct servo_http_error){.kind = SERVO_HTTP_ERROR_NONE, .detail = ""};
        return 0;
    }
    char what[512];
    describe(s, kind, what, sizeof what);
    const char *secrets[] = {r->bearer_token, r->password};
    char *clean = scrub(what, secrets, 2);
    set_error(s->error, kind, "%s %s: %s", s->method, s->redacted_url, clean);
    free(clean);
    if (s->error != NULL)
        s->error->detail = detail_of(kind, t);
    return -1;
}

static void state_release(struct request_state *s)
{
    free(s->redacted_url);
    free_headers(s->headers);
    strbuf_release(&s->body);
}

/* ---- performing ------------------------------------------------------------------------ */

static size_t perform_states(struct servo_http_client *client, struct request_state *states,
                             size_t count)
{
    struct servo_http_client *own = NULL;
    if (client == NULL)
        client = own = servo_http_client_new(NULL, NULL);
    struct http_transfer **ready = xcalloc(count > 0 ? count : 1, sizeof *ready);
    size_t ready_count = 0;
    for (size_t i = 0; i < count; i++) {
        struct request_state *s = &states[i];
        s->invalid = validate(s) != 0;
        if (s->invalid)
            continue;
        prepare(s);
        ready[ready_count++] = &s->transfer;
    }
    const char *why = NULL;
    void *transport = ready_count > 0 ? client_transport(client, &why) : NULL;
    if (transport != NULL)
        module->perform(transport, ready, ready_count);
    size_t failed = 0;
    for (size_t i = 0; i < count; i++) {
        struct request_state *s = &states[i];
        if (!s->invalid && transport == NULL)
            set_error(s->error, SERVO_HTTP_ERROR_UNAVAILABLE, "%s %s: %s", s->method,
                      s->redacted_url, why);
        else if (!s->invalid && finish(s) == 0)
            continue;
        failed++;
    }
    free(ready);
    servo_http_client_free(own);
    return failed;
}

static void state_init(struct request_state *s, const struct servo_http_request *request,
                       struct servo_http_response *response, struct servo_http_error *error,
                       struct cancel_token *token)
{
    memset(s, 0, sizeof *s);
    memset(response, 0, sizeof *response);
    if (error != NULL)
        *error = (struct servo_http_error){.kind = SERVO_HTTP_ERROR_NONE, .detail = ""};
    s->request = request;
    s->response = response;
    s->error = error;
    s->token = token;
    s->method = request->method != NULL ? request->method : "GET";
    s->redacted_url = servo_url_redact(request->url != NULL ? request->url : "");
    s->started = clock_monotonic();
    strbuf_init(&s->body);
}

size_t servo_http_perform_all(struct servo_http_client *client,
                              const struct servo_http_request *requests, size_t count,
                              struct servo_http_response *responses,
                              struct servo_http_error *errors)
{
    struct request_state *states = xcalloc(count > 0 ? count : 1, sizeof *states);
    for (size_t i = 0; i < count; i++)
        state_init(&states[i], &requests[i], &responses[i], errors != NULL ? &errors[i] : NULL,
                   NULL);
    size_t failed = perform_states(client, states, count);
    for (size_t i = 0; i < count; i++)
        state_release(&states[i]);
    free(states);
    return failed;
}

int http_perform_cancellable(struct servo_http_client *client,
                             const struct servo_http_request *request, struct cancel_token *token,
                             struct servo_http_response *response, struct servo_http_error *error)
{
    struct request_state state;
    state_init(&state, request, response, error, token);
    size_t failed = perform_states(client, &state, 1);
    state_release(&state);
    return failed > 0 ? -1 : 0;
}

int servo_http_perform(struct servo_http_client *client, const struct servo_http_request *request,
                       struct servo_http_response *response, struct servo_http_error *error)
{
    return http_perform_cancellable(client, request, NULL, response, error);
}

void servo_http_response_clear(struct servo_http_response *response)
{
    if (response == NULL)
        return;
    free(response->content_type);
    free(response->body);
    memset(response, 0, sizeof *response);
}

const char *servo_http_error_reason(enum servo_http_error_kind kind)
{
    switch (kind) {
    case SERVO_HTTP_ERROR_NONE:
        return "";
    case SERVO_HTTP_ERROR_INVALID:
        return "invalid-request";
    case SERVO_HTTP_ERROR_UNAVAILABLE:
        return "unavailable";
    case SERVO_HTTP_ERROR_CONNECT:
        return "connect";
    case SERVO_HTTP_ERROR_TLS:
        return "tls";
    case SERVO_HTTP_ERROR_TIMEOUT:
        return "timeout";
    case SERVO_HTTP_ERROR_CANCELLED:
        return "cancelled";
    case SERVO_HTTP_ERROR_TOO_LARGE:
        return "too-large";
    case SERVO_HTTP_ERROR_STATUS:
        return "http-status";
    case SERVO_HTTP_ERROR_CALLBACK:
        return "refused";
    case SERVO_HTTP_ERROR_TRANSFER:
        return "transport";
    }
    return "transport";
}
