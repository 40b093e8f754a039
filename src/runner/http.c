/* The HTTP transport: one POST per exchange with libcurl.
 *
 * Handles: a transport keeps a small pool of (easy, multi) pairs. An exchange takes an idle
 * pair (or makes one) and gives it back afterwards, so the run loop and the progress thread
 * can post at the same time without waiting for each other, and each pair keeps its
 * connection alive for the next request (in practice the pool holds one or two pairs).
 *
 * Transfers run on the multi interface, polled every 50 ms, so a cancelled token stops a
 * request within that time (curl_easy_perform only looks every second).
 *
 * Timeouts (as httpx, which ServoX uses): connect bounds the TCP/TLS connection
 * (CURLOPT_CONNECTTIMEOUT_MS); write bounds each stall while sending the request and read
 * each stall while waiting for or receiving the response (no byte for that long). There is
 * no overall limit, so a large measurement on a slow link is not cut off while it moves.
 * pool is not used: an exchange never waits for a connection (it opens one instead).
 *
 * Proxies: settings.proxies is matched against the endpoint as httpx mounts are: a key is
 * SCHEME://HOST[:PORT] with SCHEME http, https or all, HOST empty (any), a name, or a name
 * after "*" or "*." (a domain and its subdomains, or subdomains only); the most specific key
 * wins (a port, then a longer host, then a scheme); a null value means "no proxy"; NO_PROXY
 * does not apply to these. Without a matching key libcurl applies the standard http_proxy /
 * HTTPS_PROXY / ALL_PROXY / NO_PROXY variables itself (and HTTP_PROXY is added here).
 *
 * Secrets: the token is only ever in the header list handed to libcurl. TRACE logs show a
 * curl command with the authorization redacted; every text logged from here (bodies, libcurl
 * error messages) has any occurrence of the token replaced by [REDACTED]. */
#include "runner/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "servo/log.h"
#include "util/util.h"
#include "util/json_text.h"

#define BODY_LIMIT (8 * 1024 * 1024) /* larger replies are garbage */
#define LOG_BODY_LIMIT (64 * 1024)   /* bytes of a body kept in exchange.body and TRACE logs */
#define POLL_MS 50
#define DEFAULT_CONNECT_TIMEOUT 10.0
#define DEFAULT_READ_TIMEOUT 30.0
#define DEFAULT_WRITE_TIMEOUT 30.0
#define REDACTED "[REDACTED]"

const char *servo_user_agent(void)
{
    return "servo-c/" SERVO_VERSION " (github.com/opsani/servox compatible)";
}

/* ---- libcurl setup --------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct handle {
    CURL *easy;
    CURLM *multi;
    struct handle *next;
};

struct http_transport {
    char *endpoint;
    char *secret; /* the token's secret part, scrubbed from logged text; NULL: none */
    char *auth_redacted;
    struct curl_slist *headers;
    char *proxy;              /* NULL: libcurl's environment rules; "": no proxy */
    bool proxy_overrides_env; /* from settings.proxies: NO_PROXY does not apply */
    bool verify;
    char *ca_bundle;
    double connect_timeout, read_timeout, write_timeout;
    pthread_mutex_t lock;
    struct handle *idle;
};

/* ---- redaction ------------------------------------------------------------------------- */

/* A copy of text[0..len) with every occurrence of `secret` replaced, cut after `limit`
 * bytes with a note. */
static char *scrub(const char *text, size_t len, const char *secret, size_t limit)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_add(&sb, "", 0);
    size_t keep = len < limit ? len : limit;
    size_t secret_len = secret ? strlen(secret) : 0;
    /* a secret that starts before `keep` is replaced whole, never cut in half */
    size_t search_end = secret_len > 0 && keep + secret_len - 1 < len ? keep + secret_len - 1 : len;
    for (size_t i = 0; i < keep;) {
        const char *hit = secret_len > 0 && search_end > i
                              ? memmem(text + i, search_end - i, secret, secret_len)
                              : NULL;
        size_t next = hit ? (size_t)(hit - text) : keep;
        if (next >= keep) {
            strbuf_add(&sb, text + i, keep - i);
            break;
        }
        strbuf_add(&sb, text + i, next - i);
        strbuf_puts(&sb, REDACTED);
        i = next + secret_len;
    }
    if (len > limit)
        strbuf_printf(&sb, "... (%zu bytes)", len);
    return strbuf_detach(&sb);
}

static const char *token_secret(const char *token)
{
    if (str_starts_with(token, "X-SF-Token "))
        return token + strlen("X-SF-Token ");
    if (str_starts_with(token, "Bearer "))
        return token + strlen("Bearer ");
    return token;
}

/* ---- proxies --------------------------------------------------------------------------- */

struct url_parts {
    char *scheme;
    char *host;
    long port;
};

static int url_split(const char *url, struct url_parts *parts)
{
    CURLU *u = curl_url();
    char *port = NULL;
    int rc = -1;
    memset(parts, 0, sizeof *parts);
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &parts->scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &parts->host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        parts->port = strtol(port, NULL, 10);
        rc = 0;
    }
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void url_parts_free(struct url_parts *parts)
{
    curl_free(parts->scheme);
    curl_free(parts->host);
}

static bool host_matches(const char *pattern, size_t len, const char *host)
{
    size_t host_len = strlen(host);
    if (len == 0 || (len == 1 && pattern[0] == '*'))
        return true;
    if (pattern[0] == '*') {
        /* "*.example.com": subdomains only; "*example.com": the domain and its subdomains */
        const char *suffix = pattern + 1;
        size_t suffix_len = len - 1;
        if (suffix[0] != '.' && host_len == suffix_len &&
            strncasecmp(host, suffix, suffix_len) == 0)
            return true;
        if (suffix[0] != '.' && host_len > suffix_len && host[host_len - suffix_len - 1] == '.' &&
            strncasecmp(host + host_len - suffix_len, suffix, suffix_len) == 0)
            return true;
        return suffix[0] == '.' && host_len > suffix_len &&
               strncasecmp(host + host_len - suffix_len, suffix, suffix_len) == 0;
    }
    return host_len == len && strncasecmp(host, pattern, len) == 0;
}

/* How specifically `key` ("https://host:port") matches the URL; -1 when it does not. */
static long proxy_key_score(const char *key, const struct url_parts *url)
{
    const char *sep = strstr(key, "://");
    if (sep == NULL)
        return -1;
    size_t scheme_len = (size_t)(sep - key);
    bool any_scheme = scheme_len == 3 && strncmp(key, "all", 3) == 0;
    if (!any_scheme &&
        (strlen(url->scheme) != scheme_len || strncasecmp(key, url->scheme, scheme_len) != 0))
        return -1;
    const char *host = sep + 3;
    size_t host_len = strcspn(host, "/");
    const char *colon = host[0] == '[' ? strstr(host, "]:") : memchr(host, ':', host_len);
    long port = -1;
    if (colon != NULL && colon < host + host_len) {
        if (host[0] == '[')
            colon++;
        port = strtol(colon + 1, NULL, 10);
        host_len = (size_t)(colon - host);
    }
    if (host[0] == '[' && host_len >= 2) { /* [::1] -> ::1, as curl reports IPv6 hosts */
        host++;
        host_len -= 2;
    }
    if (port >= 0 && port != url->port)
        return -1;
    if (!host_matches(host, host_len, url->host))
        return -1;
    return (port >= 0 ? 1000000L : 0) + (long)host_len * 10 + (any_scheme ? 0 : 1);
}

/* The proxy for `endpoint` from settings.proxies: 0 when a key matches (*proxy is the URL,
 * "" for none), 1 when none does. */
static int proxy_for(const struct servo_map *proxies, const struct url_parts *url,
                     const char **proxy)
{
    long best = -1;
    char *const *values = proxies->values;
    for (size_t i = 0; i < proxies->count; i++) {
        long score = proxy_key_score(proxies->keys[i], url);
        if (score > best) {
            best = score;
            *proxy = values[i] ? values[i] : "";
        }
    }
    return best >= 0 ? 0 : 1;
}

/* ---- handles --------------------------------------------------------------------------- */

struct transfer {
    struct http_transport *t;
    struct cancel_token *token;
    struct strbuf body;
    bool too_large;
    bool saw_header;
    curl_off_t ulnow, ultotal, dlnow;
    double started, last_activity;
    enum stop_reason {
        STOP_NONE,
        STOP_CANCELLED,
        STOP_CONNECT_TIMEOUT,
        STOP_WRITE_TIMEOUT,
        STOP_READ_TIMEOUT,
    } stop;
    char errbuf[CURL_ERROR_SIZE];
};

/* Looks at the token and the stall clocks; sets and returns x->stop. */
static enum stop_reason transfer_check(struct transfer *x)
{
    if (x->stop != STOP_NONE)
        return x->stop;
    double now = clock_monotonic();
    if (x->token != NULL && cancel_is_set(x->token))
        x->stop = STOP_CANCELLED;
    else if (x->ulnow == 0 && x->dlnow == 0 && !x->saw_header)
        /* connecting: libcurl enforces the connect timeout; this only catches a connection
         * (or a proxy tunnel) that never starts taking the request */
        x->stop = now - x->started > x->t->connect_timeout + x->t->write_timeout
                      ? STOP_CONNECT_TIMEOUT
                      : STOP_NONE;
    else if (x->ulnow < x->ultotal && !x->saw_header)
        x->stop = now - x->last_activity > x->t->write_timeout ? STOP_WRITE_TIMEOUT : STOP_NONE;
    else
        x->stop = now - x->last_activity > x->t->read_timeout ? STOP_READ_TIMEOUT : STOP_NONE;
    return x->stop;
}

static size_t on_body(char *data, size_t size, size_t count, void *userdata)
{
    struct transfer *x = userdata;
    size_t len = size * count;
    x->last_activity = clock_monotonic();
    if (x->body.len + len > BODY_LIMIT) {
        x->too_large = true;
        return 0; /* aborts the transfer */
    }
    strbuf_add(&x->body, data, len);
    return len;
}

static size_t on_header(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    struct transfer *x = userdata;
    x->saw_header = true;
    x->last_activity = clock_monotonic();
    return size * count;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    struct transfer *x = userdata;
    if (dlnow != x->dlnow || ulnow != x->ulnow)
        x->last_activity = clock_monotonic();
    x->dlnow = dlnow;
    x->ulnow = ulnow;
    if (ultotal > 0)
        x->ultotal = ultotal;
    return transfer_check(x) != STOP_NONE;
}

static void handle_free(struct handle *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->easy);
    curl_multi_cleanup(h->multi);
    free(h);
}

static void set_tls_options(CURL *easy, const struct http_transport *t)
{
    if (!t->verify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
    }
    if (t->ca_bundle) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, t->ca_bundle);
        curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, t->ca_bundle);
    }
}

static struct handle *handle_new(const struct http_transport *t)
{
    struct handle *h = xcalloc(1, sizeof *h);
    h->easy = curl_easy_init();
    h->multi = curl_multi_init();
    if (h->easy == NULL || h->multi == NULL) {
        handle_free(h);
        return NULL;
    }
    CURL *easy = h->easy;
    curl_easy_setopt(easy, CURLOPT_URL, t->endpoint);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, servo_user_agent());
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(t->connect_timeout * 1000));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    if (t->proxy != NULL)
        curl_easy_setopt(easy, CURLOPT_PROXY, t->proxy);
    if (t->proxy_overrides_env)
        curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
    set_tls_options(easy, t);
    return h;
}

static struct handle *handle_acquire(struct http_transport *t)
{
    pthread_mutex_lock(&t->lock);
    struct handle *h = t->idle;
    if (h != NULL)
        t->idle = h->next;
    pthread_mutex_unlock(&t->lock);
    return h != NULL ? h : handle_new(t);
}

static void handle_release(struct http_transport *t, struct handle *h)
{
    pthread_mutex_lock(&t->lock);
    h->next = t->idle;
    t->idle = h;
    pthread_mutex_unlock(&t->lock);
}

/* ---- one transfer ---------------------------------------------------------------------- */

static bool take_result(CURLM *multi, CURLcode *result)
{
    int left = 0;
    bool done = false;
    for (CURLMsg *msg; (msg = curl_multi_info_read(multi, &left)) != NULL;)
        if (msg->msg == CURLMSG_DONE) {
            *result = msg->data.result;
            done = true;
        }
    return done;
}

static CURLcode run_transfer(struct handle *h, struct transfer *x)
{
    CURLcode result = CURLE_FAILED_INIT;
    CURLMcode mc = curl_multi_add_handle(h->multi, h->easy);
    while (mc == CURLM_OK) {
        int running = 0;
        mc = curl_multi_perform(h->multi, &running);
        if (mc != CURLM_OK || take_result(h->multi, &result))
            break;
        if (transfer_check(x) != STOP_NONE) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = curl_multi_poll(h->multi, NULL, 0, POLL_MS, NULL);
    }
    if (mc != CURLM_OK && x->errbuf[0] == '\0')
        snprintf(x->errbuf, sizeof x->errbuf, "libcurl: %s", curl_multi_strerror(mc));
    curl_multi_remove_handle(h->multi, h->easy);
    return result;
}

/* ---- filling the exchange -------------------------------------------------------------- */

static void set_error(struct exchange *out, const struct http_transport *t, const char *text)
{
    char *clean = scrub(text, strlen(text), t->secret, sizeof out->error);
    snprintf(out->error, sizeof out->error, "%s", clean);
    free(clean);
}

static void stop_error(struct exchange *out, const struct transfer *x)
{
    char text[256];
    const struct http_transport *t = x->t;
    switch (x->stop) {
    case STOP_CANCELLED:
        snprintf(text, sizeof text, "cancelled: %s",
                 cancel_requested(x->token) ? cancel_reason(x->token) : "the deadline passed");
        break;
    case STOP_CONNECT_TIMEOUT:
        snprintf(text, sizeof text, "timed out after %gs connecting to the optimizer",
                 t->connect_timeout + t->write_timeout);
        break;
    case STOP_WRITE_TIMEOUT:
        snprintf(text, sizeof text, "timed out sending the request (write timeout %gs)",
                 t->write_timeout);
        break;
    case STOP_READ_TIMEOUT:
        snprintf(text, sizeof text, "timed out waiting for the response (read timeout %gs)",
                 t->read_timeout);
        break;
    case STOP_NONE:
        text[0] = '\0';
        break;
    }
    set_error(out, t, text);
}

static void curl_error(struct exchange *out, const struct transfer *x, CURLcode result)
{
    char text[CURL_ERROR_SIZE + 128];
    if (result == CURLE_OPERATION_TIMEDOUT)
        snprintf(text, sizeof text, "timed out connecting (connect timeout %gs): %s",
                 x->t->connect_timeout, x->errbuf);
    else
        snprintf(text, sizeof text, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(result));
    set_error(out, x->t, text);
}

static void parse_reply(struct exchange *out, const struct transfer *x)
{
    json_error_t jerr;
    if (x->body.len == 0) {
        set_error(out, x->t, "the body is empty");
        return;
    }
    json_t *value = json_loadb(x->body.data, x->body.len, JSON_DECODE_ANY, &jerr);
    if (value == NULL) {
        char text[300];
        snprintf(text, sizeof text, "invalid JSON: %s (at byte %d)", jerr.text, jerr.position);
        set_error(out, x->t, text);
        return;
    }
    if (!json_is_object(value)) {
        set_error(out, x->t, "the JSON is not an object");
        json_decref(value);
        return;
    }
    out->reply = value;
}

static void fill_exchange(struct exchange *out, const struct transfer *x, CURL *easy,
                          CURLcode result)
{
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    out->http_status = code;
    out->body = scrub(x->body.data ? x->body.data : "", x->body.len, x->t->secret, LOG_BODY_LIMIT);
    if (x->stop != STOP_NONE) {
        out->status = x->stop == STOP_CANCELLED ? EXCHANGE_CANCELLED : EXCHANGE_TRANSPORT;
        stop_error(out, x);
    } else if (x->too_large && code > 0) {
        out->status = code / 100 == 2 ? EXCHANGE_OK : EXCHANGE_HTTP_ERROR;
        set_error(out, x->t, "the reply is larger than 8 MiB");
    } else if (result != CURLE_OK) {
        out->status = EXCHANGE_TRANSPORT;
        curl_error(out, x, result);
    } else {
        out->status = code / 100 == 2 ? EXCHANGE_OK : EXCHANGE_HTTP_ERROR;
        parse_reply(out, x);
    }
}

/* ---- TRACE logs ------------------------------------------------------------------------ */

static void shell_quote(struct strbuf *sb, const char *s)
{
    strbuf_putc(sb, '\'');
    for (; *s; s++)
        if (*s == '\'')
            strbuf_puts(sb, "'\\''");
        else
            strbuf_putc(sb, *s);
    strbuf_putc(sb, '\'');
}

static void trace_request(const struct http_transport *t, const char *payload)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "curl -X POST ");
    shell_quote(&sb, t->endpoint);
    strbuf_puts(&sb, " -H 'Content-Type: application/json' -H ");
    char *agent = xasprintf("User-Agent: %s", servo_user_agent());
    shell_quote(&sb, agent);
    free(agent);
    if (t->auth_redacted) {
        strbuf_puts(&sb, " -H ");
        shell_quote(&sb, t->auth_redacted);
    }
    strbuf_puts(&sb, " --data-raw ");
    char *body = scrub(payload, strlen(payload), t->secret, LOG_BODY_LIMIT);
    shell_quote(&sb, body);
    free(body);
    servo_trace("%s", sb.data);
    strbuf_release(&sb);
}

static void trace_response(const struct exchange *out, double seconds)
{
    if (out->status == EXCHANGE_TRANSPORT || out->status == EXCHANGE_CANCELLED)
        servo_trace("POST failed after %.3fs: %s", seconds, out->error);
    else
        servo_trace("HTTP %ld in %.3fs: %s", out->http_status, seconds, out->body);
}

/* ---- the transport --------------------------------------------------------------------- */

static void http_exchange(void *context, const json_t *request, struct cancel_token *token,
                          struct exchange *out)
{
    struct http_transport *t = context;
    memset(out, 0, sizeof *out);
    char *payload = json_text(request, JSON_COMPACT);
    if (payload == NULL) {
        out->status = EXCHANGE_TRANSPORT;
        snprintf(out->error, sizeof out->error, "the request cannot be encoded as JSON");
        return;
    }
    bool tracing = servo_log_enabled(SERVO_LOG_TRACE);
    if (tracing)
        trace_request(t, payload);
    struct handle *h = handle_acquire(t);
    if (h == NULL) {
        out->status = EXCHANGE_TRANSPORT;
        snprintf(out->error, sizeof out->error, "cannot create a libcurl handle");
        free(payload);
        return;
    }
    struct transfer x = {.t = t, .token = token};
    strbuf_init(&x.body);
    x.started = x.last_activity = clock_monotonic();
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h->easy, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, x.errbuf);
    CURLcode result = run_transfer(h, &x);
    fill_exchange(out, &x, h->easy, result);
    curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, NULL);
    handle_release(t, h);
    if (tracing)
        trace_response(out, clock_monotonic() - x.started);
    strbuf_release(&x.body);
    free(payload);
}

static void http_destroy(void *context)
{
    struct http_transport *t = context;
    if (t == NULL)
        return;
    for (struct handle *h = t->idle, *next; h != NULL; h = next) {
        next = h->next;
        handle_free(h);
    }
    curl_slist_free_all(t->headers);
    pthread_mutex_destroy(&t->lock);
    free(t->endpoint);
    free(t->secret);
    free(t->auth_redacted);
    free(t->proxy);
    free(t->ca_bundle);
    free(t);
}

static double seconds_or(servo_duration d, double fallback)
{
    return d > 0 ? servo_duration_seconds(d) : fallback;
}

static void apply_settings(struct http_transport *t, const struct common_settings *settings)
{
    t->verify = true;
    t->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
    t->read_timeout = DEFAULT_READ_TIMEOUT;
    t->write_timeout = DEFAULT_WRITE_TIMEOUT;
    if (settings == NULL)
        return;
    t->connect_timeout = seconds_or(settings->timeouts.connect, DEFAULT_CONNECT_TIMEOUT);
    t->read_timeout = seconds_or(settings->timeouts.read, DEFAULT_READ_TIMEOUT);
    t->write_timeout = seconds_or(settings->timeouts.write, DEFAULT_WRITE_TIMEOUT);
    t->verify = settings->ssl_verify.verify || settings->ssl_verify.ca_bundle != NULL;
    t->ca_bundle = settings->ssl_verify.ca_bundle ? xstrdup(settings->ssl_verify.ca_bundle) : NULL;
}

/* settings.proxies first (as httpx, an explicit proxy map replaces the environment's);
 * otherwise the environment, through libcurl, which ignores an upper-case HTTP_PROXY (a CGI
 * hazard) that httpx honours: that one is applied here. */
static void choose_proxy(struct http_transport *t, const struct common_settings *settings,
                         const struct url_parts *url)
{
    const char *proxy = NULL;
    if (settings != NULL && proxy_for(&settings->proxies, url, &proxy) == 0) {
        t->proxy = xstrdup(proxy);
        t->proxy_overrides_env = true;
        return;
    }
    const char *upper = getenv("HTTP_PROXY");
    if (str_eq(url->scheme, "http") && getenv("http_proxy") == NULL && upper && upper[0])
        t->proxy = xstrdup(upper);
}

static void add_headers(struct http_transport *t, const char *token)
{
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, "Expect:"); /* no 100-continue round trip */
    char *auth = authorization_header(token);
    if (auth != NULL) {
        t->headers = curl_slist_append(t->headers, auth);
        free(auth);
        t->auth_redacted = authorization_header_redacted(token);
        const char *secret = token_secret(token);
        t->secret = secret[0] ? xstrdup(secret) : NULL;
    }
}

static int check_settings(const struct common_settings *settings, char **error)
{
    const char *bundle = settings ? settings->ssl_verify.ca_bundle : NULL;
    if (bundle != NULL && access(bundle, R_OK) != 0) {
        *error = xasprintf("ssl_verify: cannot read the CA bundle %s", bundle);
        return -1;
    }
    return 0;
}

struct transport *http_transport_create(const char *endpoint, const char *token,
                                        const struct common_settings *settings, char **error)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK) {
        *error = xasprintf("libcurl: %s", curl_easy_strerror(curl_init_result));
        return NULL;
    }
    struct url_parts url;
    if (endpoint == NULL || url_split(endpoint, &url) != 0) {
        *error = xasprintf("invalid optimizer URL \"%s\"", endpoint ? endpoint : "");
        return NULL;
    }
    bool web = str_eq(url.scheme, "http") || str_eq(url.scheme, "https");
    if (!web || check_settings(settings, error) != 0) {
        if (!web)
            *error = xasprintf("invalid optimizer URL \"%s\": not http(s)", endpoint);
        url_parts_free(&url);
        return NULL;
    }
    struct http_transport *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->endpoint = xstrdup(endpoint);
    apply_settings(t, settings);
    choose_proxy(t, settings, &url);
    url_parts_free(&url);
    add_headers(t, token);
    struct transport *transport = xcalloc(1, sizeof *transport);
    transport->exchange = http_exchange;
    transport->destroy = http_destroy;
    transport->context = t;
    return transport;
}
