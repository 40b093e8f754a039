/* The HTTP transport: one POST per exchange with the servo's HTTP engine (servo/http.h).
 *
 * The transport keeps one engine client, which is safe to share: the run loop and the
 * progress thread post at the same time without waiting for each other, and connections are
 * kept alive for the next request. A cancelled token stops a request within 50 ms.
 *
 * Timeouts (as httpx, which ServoX uses): connect bounds the TCP/TLS connection; write bounds
 * each stall while sending the request and read each stall while waiting for or receiving the
 * response (no byte for that long). On top of these, the whole exchange must end within
 * connect + write + read: each phase may use its whole allowance once, but a peer that
 * trickles a byte now and then cannot hold a request open forever. pool is not used: an
 * exchange never waits for a connection (it opens one instead).
 *
 * Proxies: settings.proxies is matched against the endpoint as httpx mounts are: a key is
 * SCHEME://HOST[:PORT] with SCHEME http, https or all, HOST empty (any), a name, or a name
 * after "*" or "*." (a domain and its subdomains, or subdomains only); the most specific key
 * wins (a port, then a longer host, then a scheme); a null value means "no proxy"; NO_PROXY
 * does not apply to these. Without a matching key the engine applies the standard http_proxy /
 * HTTPS_PROXY / ALL_PROXY / NO_PROXY variables itself (and HTTP_PROXY is added here).
 *
 * Secrets: the token is only ever in the request handed to the engine. TRACE logs show a
 * curl command with the authorization redacted; every text logged from here (bodies, the
 * engine's error messages) has any occurrence of the token replaced by [REDACTED]. */
#include "runner/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/http_internal.h"
#include "servo/log.h"
#include "util/util.h"
#include "util/json_text.h"

#define BODY_LIMIT (8 * 1024 * 1024) /* larger replies are garbage */
#define LOG_BODY_LIMIT (64 * 1024)   /* bytes of a body kept in exchange.body and TRACE logs */
#define DEFAULT_CONNECT_TIMEOUT 10.0
#define DEFAULT_READ_TIMEOUT 30.0
#define DEFAULT_WRITE_TIMEOUT 30.0
#define REDACTED "[REDACTED]"

const char *servo_user_agent(void)
{
    return "servo-c/" SERVO_VERSION " (github.com/opsani/servox compatible)";
}

struct http_transport {
    char *endpoint;
    char *secret; /* the token's secret part, scrubbed from logged text; NULL: none */
    char *auth_redacted;
    char *authorization;      /* "Name: value" */
    char *proxy;              /* NULL: the environment's rules; "": no proxy */
    bool proxy_overrides_env; /* from settings.proxies: NO_PROXY does not apply */
    bool verify;
    char *ca_bundle;
    double connect_timeout, read_timeout, write_timeout;
    struct servo_http_client *client;
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
static long proxy_key_score(const char *key, const struct servo_url *url)
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
static int proxy_for(const struct servo_map *proxies, const struct servo_url *url,
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

/* ---- filling the exchange -------------------------------------------------------------- */

static void set_error(struct exchange *out, const struct http_transport *t, const char *text)
{
    char *clean = scrub(text, strlen(text), t->secret, sizeof out->error);
    snprintf(out->error, sizeof out->error, "%s", clean);
    free(clean);
}

static void parse_reply(struct exchange *out, const struct http_transport *t,
                        const struct servo_http_response *response)
{
    json_error_t jerr;
    if (response->body_length == 0) {
        set_error(out, t, "the body is empty");
        return;
    }
    json_t *value = json_loadb(response->body, response->body_length, JSON_DECODE_ANY, &jerr);
    if (value == NULL) {
        char text[300];
        snprintf(text, sizeof text, "invalid JSON: %s (at byte %d)", jerr.text, jerr.position);
        set_error(out, t, text);
        return;
    }
    if (!json_is_object(value)) {
        set_error(out, t, "the JSON is not an object");
        json_decref(value);
        return;
    }
    out->reply = value;
}

static enum exchange_status status_of(long code)
{
    return code / 100 == 2 ? EXCHANGE_OK : EXCHANGE_HTTP_ERROR;
}

/* A request stopped by the token, by cancellation or by its deadline. */
static bool stopped_by(struct cancel_token *token, const struct servo_http_error *error)
{
    return error->kind == SERVO_HTTP_ERROR_CANCELLED ||
           (error->kind == SERVO_HTTP_ERROR_TIMEOUT && token != NULL && cancel_expired(token));
}

static void fill_exchange(struct exchange *out, const struct http_transport *t, int rc,
                          const struct servo_http_response *response,
                          const struct servo_http_error *error, struct cancel_token *token)
{
    out->http_status = response->status;
    out->body = scrub(response->body ? response->body : "",
                      response->body ? response->body_length : 0, t->secret, LOG_BODY_LIMIT);
    if (rc == 0) {
        out->status = status_of(response->status);
        parse_reply(out, t, response);
    } else if (error->kind == SERVO_HTTP_ERROR_TOO_LARGE && response->status > 0) {
        out->status = status_of(response->status);
        set_error(out, t, "the reply is larger than 8 MiB");
    } else {
        out->status = stopped_by(token, error) ? EXCHANGE_CANCELLED : EXCHANGE_TRANSPORT;
        set_error(out, t, error->message);
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

static servo_duration duration_of(double seconds)
{
    return (servo_duration)(seconds * (double)SERVO_SECOND);
}

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
    const char *headers[] = {"Content-Type: application/json", t->authorization, NULL};
    struct servo_http_request r = {
        .method = "POST",
        .url = t->endpoint,
        .headers = headers,
        .body = payload,
        .body_length = strlen(payload),
        .connect_timeout = duration_of(t->connect_timeout),
        .write_timeout = duration_of(t->write_timeout),
        .read_timeout = duration_of(t->read_timeout),
        .total_timeout = duration_of(t->connect_timeout + t->write_timeout + t->read_timeout),
        .max_response = BODY_LIMIT,
    };
    struct servo_http_response response;
    struct servo_http_error error;
    double started = clock_monotonic();
    int rc = http_perform_cancellable(t->client, &r, token, &response, &error);
    fill_exchange(out, t, rc, &response, &error, token);
    servo_http_response_clear(&response);
    if (tracing)
        trace_response(out, clock_monotonic() - started);
    free(payload);
}

static void http_destroy(void *context)
{
    struct http_transport *t = context;
    if (t == NULL)
        return;
    servo_http_client_free(t->client);
    free(t->endpoint);
    free(t->secret);
    free(t->auth_redacted);
    if (t->authorization != NULL)
        memset(t->authorization, 0, strlen(t->authorization));
    free(t->authorization);
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
 * otherwise the environment, through the engine (libcurl's rules), which ignores an
 * upper-case HTTP_PROXY (a CGI hazard) that httpx honours: that one is applied here. */
static void choose_proxy(struct http_transport *t, const struct common_settings *settings,
                         const struct servo_url *url)
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

static void add_authorization(struct http_transport *t, const char *token)
{
    t->authorization = authorization_header(token);
    if (t->authorization != NULL) {
        t->auth_redacted = authorization_header_redacted(token);
        const char *secret = token_secret(token);
        t->secret = secret[0] ? xstrdup(secret) : NULL;
    }
}

static int make_client(struct http_transport *t, char **error)
{
    struct servo_http_options options = {
        .user_agent = servo_user_agent(),
        .ca_file = t->ca_bundle,
        .insecure = !t->verify,
        .proxy = t->proxy,
        .no_proxy = t->proxy_overrides_env ? "" : NULL,
    };
    struct servo_http_error e;
    t->client = servo_http_client_new(&options, &e);
    if (t->client == NULL) {
        *error = xasprintf("ssl_verify: %s", e.message);
        return -1;
    }
    return 0;
}

struct transport *http_transport_create(const char *endpoint, const char *token,
                                        const struct common_settings *settings, char **error)
{
    struct servo_url url;
    const char *why = NULL;
    if (endpoint == NULL || servo_url_parse(endpoint, &url, &why) != 0) {
        char *shown = servo_url_redact(endpoint ? endpoint : "");
        *error = xasprintf("invalid optimizer URL \"%s\"%s%s", shown, endpoint != NULL ? ": " : "",
                           endpoint != NULL ? why : "");
        free(shown);
        return NULL;
    }
    struct http_transport *t = xcalloc(1, sizeof *t);
    t->endpoint = xstrdup(endpoint);
    apply_settings(t, settings);
    choose_proxy(t, settings, &url);
    add_authorization(t, token);
    if (make_client(t, error) != 0) {
        http_destroy(t);
        return NULL;
    }
    struct transport *transport = xcalloc(1, sizeof *transport);
    transport->exchange = http_exchange;
    transport->destroy = http_destroy;
    transport->context = t;
    return transport;
}
