/* Requests to the Prometheus HTTP API with the servo's HTTP engine (servo/http.h): the
 * queries of a measurement are sent at once, and a cancelled event stops them within 50 ms.
 *
 * Query bodies go straight from the engine's body callback into the streaming parser: the
 * body is never held, however large. The first bytes are kept apart to quote in error
 * messages (an HTML error page from a proxy). The targets body is small and kept whole (up
 * to 16 MiB).
 *
 * Settings used: base_url, bearer_token or username/password (basic), ca_file, insecure, and
 * timeout (the whole request, connection included; connecting alone gets at most 10 s). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "servo/http.h"
#include "servo/log.h"

#define HEAD_MAX 512
#define QUOTE_MAX 200
#define TARGETS_BODY_MAX (16u * 1024u * 1024u)
#define CONNECT_TIMEOUT_MAX (10 * SERVO_SECOND)
#define USER_AGENT "servo-prometheus/1.5.0"

struct transfer {
    struct prom_request *request;
    char *url;
    struct prom_parser *parser; /* queries */
    struct servo_buf body;      /* targets */
    char head[HEAD_MAX];
    size_t head_length;
    const char *parse_error; /* the parser refused the body */
    char *content_type;
};

/* ---- URLs ------------------------------------------------------------------------------- */

void prom_format_seconds(double seconds, char buf[40])
{
    snprintf(buf, 40, "%.3f", seconds);
    char *dot = strchr(buf, '.');
    if (dot == NULL)
        return;
    char *end = buf + strlen(buf);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1)
        *dot = '\0';
}

char *prom_api_url(const struct prometheus_settings *settings, const char *path)
{
    const char *base = settings->base_url != NULL ? settings->base_url : "";
    size_t length = strlen(base);
    while (length > 0 && base[length - 1] == '/')
        length--;
    return servo_strdup_printf("%.*s%s", (int)length, base, path);
}

static const char *request_path(enum prom_request_kind kind)
{
    switch (kind) {
    case PROM_REQUEST_RANGE:
        return "/api/v1/query_range";
    case PROM_REQUEST_INSTANT:
        return "/api/v1/query";
    case PROM_REQUEST_TARGETS:
        return "/api/v1/targets";
    }
    return "/api/v1";
}

static char *request_url(const struct prometheus_settings *s, const struct prom_request *r)
{
    char *base = prom_api_url(s, request_path(r->kind));
    if (r->kind == PROM_REQUEST_TARGETS)
        return base;
    char *query = servo_url_escape(r->query != NULL ? r->query : "");
    char *url;
    if (r->kind == PROM_REQUEST_RANGE) {
        char start[40], end[40], step[40];
        prom_format_seconds(r->start, start);
        prom_format_seconds(r->end, end);
        prom_format_seconds(r->step, step);
        url = servo_strdup_printf("%s?query=%s&start=%s&end=%s&step=%s", base, query, start, end,
                                  step);
    } else {
        url = servo_strdup_printf("%s?query=%s", base, query);
    }
    free(query);
    free(base);
    return url;
}

/* ---- receiving -------------------------------------------------------------------------- */

static int on_body(void *context, const char *data, size_t length)
{
    struct transfer *t = context;
    if (t->head_length < HEAD_MAX) {
        size_t n = HEAD_MAX - t->head_length < length ? HEAD_MAX - t->head_length : length;
        memcpy(t->head + t->head_length, data, n);
        t->head_length += n;
    }
    if (t->parser != NULL) {
        if (prom_parser_feed(t->parser, data, length) != 0) {
            t->parse_error = prom_parser_error(t->parser);
            return -1; /* stops the transfer: the rest cannot make it valid */
        }
        return 0;
    }
    servo_buf_append(&t->body, data, length);
    return 0;
}

/* ---- setting up ------------------------------------------------------------------------- */

static void set_timeouts(struct servo_http_request *h, const struct prometheus_settings *s)
{
    /* only the whole request is bounded: a heavy query may think a while before answering */
    h->read_timeout = SERVO_HTTP_NO_TIMEOUT;
    h->write_timeout = SERVO_HTTP_NO_TIMEOUT;
    h->total_timeout = s->timeout > 0 ? s->timeout : SERVO_HTTP_NO_TIMEOUT;
    h->connect_timeout =
        s->timeout > 0 && s->timeout < CONNECT_TIMEOUT_MAX ? s->timeout : CONNECT_TIMEOUT_MAX;
}

static void set_authentication(struct servo_http_request *h, const struct prometheus_settings *s)
{
    if (s->bearer_token != NULL) {
        bool whole = strncmp(s->bearer_token, "Bearer ", 7) == 0;
        h->bearer_token = whole ? s->bearer_token + 7 : s->bearer_token;
    } else if (s->username != NULL) {
        h->username = s->username;
        h->password = s->password != NULL ? s->password : "";
    }
}

static const char *const accept_json[] = {"Accept: application/json", NULL};

static void transfer_setup(struct transfer *t, struct servo_http_request *h,
                           const struct prometheus_settings *s, const struct servo_event *event)
{
    t->url = request_url(s, t->request);
    if (t->request->kind != PROM_REQUEST_TARGETS)
        t->parser = prom_parser_new(&t->request->response);
    h->url = t->url;
    h->headers = accept_json;
    h->on_body = on_body;
    h->context = t;
    h->event = event;
    /* a query's body streams into the parser whatever its size; targets are kept whole */
    h->max_response = t->parser != NULL ? SIZE_MAX : TARGETS_BODY_MAX;
    set_authentication(h, s);
    set_timeouts(h, s);
}

static void transfer_cleanup(struct transfer *t)
{
    prom_parser_free(t->parser);
    servo_buf_free(&t->body);
    free(t->url);
}

/* ---- outcomes --------------------------------------------------------------------------- */

static void request_fail(struct prom_request *r, const char *reason, char *message)
{
    r->status = -1;
    r->reason = reason;
    free(r->error);
    r->error = message;
}

/* The start of a body as one printable line. */
static void quote_head(const struct transfer *t, char out[QUOTE_MAX + 4])
{
    size_t n = 0;
    bool space = false;
    for (size_t i = 0; i < t->head_length && n < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)t->head[i];
        if (c < 0x20 || c == 0x7F) {
            space = n > 0;
            continue;
        }
        if (space && c != ' ')
            out[n++] = ' ';
        space = false;
        if (n < QUOTE_MAX)
            out[n++] = (char)c;
    }
    if (t->head_length > QUOTE_MAX || n == QUOTE_MAX) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static const char *what(const struct transfer *t)
{
    return request_path(t->request->kind);
}

static void fail_http(struct transfer *t, const char *parse_error)
{
    struct prom_request *r = t->request;
    char quote[QUOTE_MAX + 4];
    quote_head(t, quote);
    const char *content_type = t->content_type;
    if (r->http_status >= 300 || r->http_status < 200) {
        request_fail(r, "http-error",
                     servo_strdup_printf("Prometheus answered %s with HTTP %ld (%s): %s", what(t),
                                         r->http_status, content_type ? content_type : "no type",
                                         quote[0] ? quote : "empty body"));
        return;
    }
    request_fail(r, "invalid-response",
                 servo_strdup_printf("Prometheus sent an invalid response to %s: %s; the body "
                                     "starts with: %s",
                                     what(t), parse_error, quote[0] ? quote : "(nothing)"));
}

static void fail_transport(struct transfer *t, const struct prometheus_settings *s,
                           const struct servo_http_error *error)
{
    struct prom_request *r = t->request;
    char *base = prom_api_url(s, "");
    char *shown = servo_url_redact(base);
    switch (error->kind) {
    case SERVO_HTTP_ERROR_TIMEOUT: {
        char limit[SERVO_VALUE_TEXT_MAX];
        servo_duration_format(s->timeout, limit);
        request_fail(r, "timeout",
                     servo_strdup_printf("Prometheus at %s did not answer %s within %s (%s)", shown,
                                         what(t), limit, error->message));
        break;
    }
    case SERVO_HTTP_ERROR_CONNECT:
    case SERVO_HTTP_ERROR_TLS:
    case SERVO_HTTP_ERROR_INVALID:
    case SERVO_HTTP_ERROR_UNAVAILABLE:
        request_fail(r, "unreachable",
                     servo_strdup_printf("cannot query Prometheus at %s (%s): %s", shown, what(t),
                                         error->message));
        break;
    case SERVO_HTTP_ERROR_NONE:
    case SERVO_HTTP_ERROR_CANCELLED:
    case SERVO_HTTP_ERROR_TOO_LARGE:
    case SERVO_HTTP_ERROR_STATUS:
    case SERVO_HTTP_ERROR_CALLBACK:
    case SERVO_HTTP_ERROR_TRANSFER:
        request_fail(r, "transfer-failed",
                     servo_strdup_printf("the answer of Prometheus at %s to %s was cut short: %s",
                                         shown, what(t), error->message));
        break;
    }
    free(shown);
    free(base);
}

static void finish_query(struct transfer *t)
{
    struct prom_request *r = t->request;
    if (prom_parser_finish(t->parser) != 0) {
        fail_http(t, prom_parser_error(t->parser));
        return;
    }
    struct prom_response *response = &r->response;
    if (strcmp(response->status, "error") == 0) {
        request_fail(r, "query-failed",
                     servo_strdup_printf("Prometheus query request failed with error '%s': %s",
                                         response->error_type ? response->error_type : "unknown",
                                         response->error ? response->error : "(no message)"));
        return;
    }
    if (r->http_status < 200 || r->http_status >= 300)
        fail_http(t, "unexpected HTTP status");
}

static void finish_targets(struct transfer *t)
{
    struct prom_request *r = t->request;
    if (r->http_status < 200 || r->http_status >= 300) {
        fail_http(t, "unexpected HTTP status");
        return;
    }
    r->body_length = t->body.length;
    r->body = servo_buf_detach(&t->body);
}

/* The event stopped the request: cancelled, or its deadline passed. */
static bool stopped_by_event(const struct servo_http_error *error, const struct servo_event *event)
{
    return error->kind == SERVO_HTTP_ERROR_CANCELLED ||
           (error->kind == SERVO_HTTP_ERROR_TIMEOUT && event != NULL &&
            servo_event_cancelled(event));
}

static void transfer_finish(struct transfer *t, const struct prometheus_settings *s, int rc,
                            const struct servo_http_response *response,
                            const struct servo_http_error *error, const struct servo_event *event)
{
    struct prom_request *r = t->request;
    r->http_status = response->status;
    t->content_type = response->content_type;
    if (rc != 0 && stopped_by_event(error, event)) {
        request_fail(r, "cancelled",
                     servo_strdup_printf("the request to %s was cancelled", what(t)));
    } else if (rc != 0 && error->kind == SERVO_HTTP_ERROR_CALLBACK) {
        fail_http(t, t->parse_error);
    } else if (rc != 0 && error->kind == SERVO_HTTP_ERROR_TOO_LARGE) {
        request_fail(r, "invalid-response",
                     servo_strdup_printf("the answer to %s is larger than %u bytes", what(t),
                                         TARGETS_BODY_MAX));
    } else if (rc != 0) {
        fail_transport(t, s, error);
    } else if (t->parser != NULL) {
        finish_query(t);
    } else {
        finish_targets(t);
    }
    t->content_type = NULL;
}

/* ---- performing ------------------------------------------------------------------------- */

static struct servo_http_client *make_client(const struct prometheus_settings *s,
                                             struct servo_http_error *error)
{
    struct servo_http_options options = {
        .user_agent = USER_AGENT,
        .ca_file = s->ca_file,
        .insecure = s->insecure,
    };
    return servo_http_client_new(&options, error);
}

size_t prom_perform(const struct prometheus_settings *settings, struct prom_request *requests,
                    size_t count, const struct servo_event *event)
{
    struct transfer *transfers = servo_xcalloc(count, sizeof *transfers);
    struct servo_http_request *http = servo_xcalloc(count, sizeof *http);
    struct servo_http_response *responses = servo_xcalloc(count, sizeof *responses);
    struct servo_http_error *errors = servo_xcalloc(count, sizeof *errors);
    for (size_t i = 0; i < count; i++) {
        transfers[i].request = &requests[i];
        requests[i].status = 0;
        transfer_setup(&transfers[i], &http[i], settings, event);
        servo_debug("GET %s", transfers[i].url);
    }
    struct servo_http_error client_error;
    struct servo_http_client *client = make_client(settings, &client_error);
    for (size_t i = 0; client == NULL && i < count; i++)
        errors[i] = client_error;
    if (client != NULL)
        servo_http_perform_all(client, http, count, responses, errors);
    size_t failed = 0;
    for (size_t i = 0; i < count; i++) {
        int rc = errors[i].kind == SERVO_HTTP_ERROR_NONE ? 0 : -1;
        transfer_finish(&transfers[i], settings, rc, &responses[i], &errors[i], event);
        failed += requests[i].status != 0;
        servo_http_response_clear(&responses[i]);
        transfer_cleanup(&transfers[i]);
    }
    servo_http_client_free(client);
    free(errors);
    free(responses);
    free(http);
    free(transfers);
    return failed;
}

void prom_request_release(struct prom_request *r)
{
    free(r->error);
    free(r->body);
    prom_response_free(&r->response);
    r->error = NULL;
    r->body = NULL;
}
