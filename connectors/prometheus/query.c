/* Requests to the Prometheus HTTP API with libcurl: one easy handle per request, all of them
 * on one multi handle so that the queries of a measurement run at once, polled every 50 ms so
 * that a cancelled event stops them promptly.
 *
 * Query bodies go straight from curl's write callback into the streaming parser: the body is
 * never held, however large. The first bytes are kept apart to quote in error messages (an
 * HTML error page from a proxy). The targets body is small and kept whole (up to 16 MiB).
 *
 * Settings used: base_url, bearer_token or username/password (basic), ca_file, insecure, and
 * timeout (the whole request, connection included; connecting alone gets at most 10 s). */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "servo/log.h"

#define POLL_MS 50
#define HEAD_MAX 512
#define QUOTE_MAX 200
#define TARGETS_BODY_MAX (16u * 1024u * 1024u)
#define CONNECT_TIMEOUT_MAX_MS 10000L
#define USER_AGENT "servo-prometheus/1.5.0"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct transfer {
    struct prom_request *request;
    CURL *easy;
    struct curl_slist *headers;
    char *url;
    struct prom_parser *parser; /* queries */
    struct servo_buf body;      /* targets */
    char head[HEAD_MAX];
    size_t head_length;
    bool sink_failed; /* the parser refused the body, or the body was too large */
    bool done;
    CURLcode result;
    char curl_error[CURL_ERROR_SIZE];
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

static char *request_url(CURL *easy, const struct prometheus_settings *s,
                         const struct prom_request *r)
{
    char *base = prom_api_url(s, request_path(r->kind));
    if (r->kind == PROM_REQUEST_TARGETS)
        return base;
    char *query = curl_easy_escape(easy, r->query != NULL ? r->query : "", 0);
    if (query == NULL) {
        free(base);
        return NULL;
    }
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
    curl_free(query);
    free(base);
    return url;
}

/* ---- receiving -------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t count, void *context)
{
    struct transfer *t = context;
    size_t length = size * count;
    if (t->head_length < HEAD_MAX) {
        size_t n = HEAD_MAX - t->head_length < length ? HEAD_MAX - t->head_length : length;
        memcpy(t->head + t->head_length, data, n);
        t->head_length += n;
    }
    if (t->parser != NULL) {
        if (prom_parser_feed(t->parser, data, length) != 0) {
            t->sink_failed = true;
            return 0; /* aborts the transfer: the rest cannot make it valid */
        }
        return length;
    }
    if (t->body.length + length > TARGETS_BODY_MAX) {
        t->sink_failed = true;
        return 0;
    }
    servo_buf_append(&t->body, data, length);
    return length;
}

/* ---- setting up ------------------------------------------------------------------------- */

static long timeout_ms(const struct prometheus_settings *s)
{
    if (s->timeout <= 0)
        return 0;
    long ms = (long)(s->timeout / SERVO_MILLISECOND);
    return ms > 0 ? ms : 1;
}

static void set_authentication(struct transfer *t, const struct prometheus_settings *s)
{
    if (s->bearer_token != NULL) {
        bool whole = strncmp(s->bearer_token, "Bearer ", 7) == 0;
        char *header =
            servo_strdup_printf("Authorization: %s%s", whole ? "" : "Bearer ", s->bearer_token);
        t->headers = curl_slist_append(t->headers, header);
        free(header);
    } else if (s->username != NULL) {
        curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(t->easy, CURLOPT_USERNAME, s->username);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD, s->password != NULL ? s->password : "");
    }
}

static void set_tls(CURL *easy, const struct prometheus_settings *s)
{
    if (s->ca_file != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, s->ca_file);
    if (s->insecure) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static int transfer_setup(struct transfer *t, const struct prometheus_settings *s)
{
    t->easy = curl_easy_init();
    if (t->easy == NULL)
        return -1;
    t->url = request_url(t->easy, s, t->request);
    if (t->url == NULL)
        return -1;
    if (t->request->kind != PROM_REQUEST_TARGETS)
        t->parser = prom_parser_new(&t->request->response);
    t->headers = curl_slist_append(NULL, "Accept: application/json");
    set_authentication(t, s);
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
    long ms = timeout_ms(s);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     ms > 0 && ms < CONNECT_TIMEOUT_MAX_MS ? ms : CONNECT_TIMEOUT_MAX_MS);
    set_tls(e, s);
    return 0;
}

static void transfer_cleanup(struct transfer *t)
{
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
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
    char *content_type = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &content_type);
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

/* Errors before a request could be sent. */
static bool connection_failed(CURLcode code)
{
    static const CURLcode codes[] = {
        CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST,     CURLE_COULDNT_CONNECT,
        CURLE_SSL_CONNECT_ERROR,     CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
        CURLE_SSL_CACERT_BADFILE,    CURLE_UNSUPPORTED_PROTOCOL,     CURLE_URL_MALFORMAT,
        CURLE_LOGIN_DENIED,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (code == codes[i])
            return true;
    return false;
}

static void fail_transport(struct transfer *t, const struct prometheus_settings *s)
{
    struct prom_request *r = t->request;
    const char *detail = t->curl_error[0] ? t->curl_error : curl_easy_strerror(t->result);
    char *base = prom_api_url(s, "");
    if (t->result == CURLE_OPERATION_TIMEDOUT) {
        char limit[SERVO_VALUE_TEXT_MAX];
        servo_duration_format(s->timeout, limit);
        request_fail(r, "timeout",
                     servo_strdup_printf("Prometheus at %s did not answer %s within %s (%s)", base,
                                         what(t), limit, detail));
    } else if (connection_failed(t->result)) {
        request_fail(
            r, "unreachable",
            servo_strdup_printf("cannot query Prometheus at %s (%s): %s", base, what(t), detail));
    } else {
        request_fail(r, "transfer-failed",
                     servo_strdup_printf("the answer of Prometheus at %s to %s was cut short: %s",
                                         base, what(t), detail));
    }
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

static void transfer_finish(struct transfer *t, const struct prometheus_settings *s, bool cancelled)
{
    struct prom_request *r = t->request;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->http_status);
    if (!t->done) {
        if (cancelled)
            request_fail(r, "cancelled",
                         servo_strdup_printf("the request to %s was cancelled", what(t)));
        else
            request_fail(r, "internal",
                         servo_strdup_printf("the request to %s did not complete", what(t)));
        return;
    }
    if (t->result == CURLE_WRITE_ERROR && t->sink_failed) {
        if (t->parser != NULL)
            fail_http(t, prom_parser_error(t->parser));
        else
            request_fail(r, "invalid-response",
                         servo_strdup_printf("the answer to %s is larger than %u bytes", what(t),
                                             TARGETS_BODY_MAX));
        return;
    }
    if (t->result != CURLE_OK) {
        fail_transport(t, s);
        return;
    }
    if (t->parser != NULL)
        finish_query(t);
    else
        finish_targets(t);
}

/* ---- performing ------------------------------------------------------------------------- */

static bool run_multi(CURLM *multi, const struct servo_event *event)
{
    int running = 1;
    while (running > 0) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            return true;
        if (running == 0)
            break;
        if (event != NULL && servo_event_cancelled(event))
            return false;
        curl_multi_poll(multi, NULL, 0, POLL_MS, NULL);
    }
    return true;
}

static void collect_results(CURLM *multi, struct transfer *transfers, size_t count)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read(multi, &left)) != NULL) {
        if (message->msg != CURLMSG_DONE)
            continue;
        for (size_t i = 0; i < count; i++) {
            if (transfers[i].easy == message->easy_handle) {
                transfers[i].done = true;
                transfers[i].result = message->data.result;
            }
        }
    }
}

size_t prom_perform(const struct prometheus_settings *settings, struct prom_request *requests,
                    size_t count, const struct servo_event *event)
{
    pthread_once(&curl_once, curl_init);
    struct transfer *transfers = servo_xcalloc(count, sizeof *transfers);
    CURLM *multi = curl_init_result == CURLE_OK ? curl_multi_init() : NULL;
    for (size_t i = 0; i < count; i++) {
        transfers[i].request = &requests[i];
        requests[i].status = 0;
        if (multi == NULL || transfer_setup(&transfers[i], settings) != 0)
            continue;
        servo_debug("GET %s", transfers[i].url);
        curl_multi_add_handle(multi, transfers[i].easy);
    }
    bool finished = multi != NULL && run_multi(multi, event);
    if (multi != NULL)
        collect_results(multi, transfers, count);
    size_t failed = 0;
    for (size_t i = 0; i < count; i++) {
        struct transfer *t = &transfers[i];
        if (t->easy == NULL || t->url == NULL)
            request_fail(&requests[i], "internal", servo_xstrdup("cannot set up an HTTP request"));
        else
            transfer_finish(t, settings, !finished);
        failed += requests[i].status != 0;
        if (multi != NULL && t->easy != NULL)
            curl_multi_remove_handle(multi, t->easy);
        transfer_cleanup(t);
    }
    if (multi != NULL)
        curl_multi_cleanup(multi);
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
