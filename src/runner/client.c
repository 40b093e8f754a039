/* The optimizer client: endpoint and token rules, backoff policies, and client_post (one
 * event, retried with exponential backoff and full jitter). The HTTP transport is in http.c. */
#include "runner/client.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner/status.h"
#include "servo/log.h"
#include "util/util.h"

/* What one attempt may take on top of the retry budget (the HTTP engine's total timeout). */
#define CLIENT_ATTEMPT_SECONDS 300.0

#define TOKEN_FILE_LIMIT (64 * 1024)
#define DEFAULT_BASE_URL "https://api.opsani.com"
#define DEFAULT_MAX_TIME 600.0 /* __default__: 10 minutes */
#define BACKOFF_BASE 1.0
#define BACKOFF_CAP 60.0
#define LOG_EXCERPT 2048 /* bytes of a reply body quoted in WARNING/ERROR lines */

/* ---- exchanges and transports ---------------------------------------------------------- */

void exchange_clear(struct exchange *x)
{
    if (x == NULL)
        return;
    json_decref(x->reply);
    free(x->body);
    x->reply = NULL;
    x->body = NULL;
}

void transport_destroy(struct transport *t)
{
    if (t == NULL)
        return;
    if (t->destroy)
        t->destroy(t->context);
    free(t);
}

/* ---- endpoint and token ---------------------------------------------------------------- */

static bool is_blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static char *endpoint_from_url(const char *url)
{
    return xasprintf("%s%sservo", url, str_ends_with(url, "/") ? "" : "/");
}

static char *endpoint_from_id(const char *id, const char *base_url, char **error)
{
    const char *slash = strchr(id, '/');
    if (slash == NULL || slash == id || slash[1] == '\0') {
        *error = xasprintf("invalid optimizer id \"%s\": expected ORG/APP", id);
        return NULL;
    }
    char *base = xstrdup(is_blank(base_url) ? DEFAULT_BASE_URL : base_url);
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        base[--len] = '\0';
    char *endpoint =
        xasprintf("%s/accounts/%.*s/applications/%s/servo", base, (int)(slash - id), id, slash + 1);
    free(base);
    return endpoint;
}

char *optimizer_endpoint(const struct optimizer_settings *o, char **error)
{
    if (o != NULL && !is_blank(o->url))
        return endpoint_from_url(o->url);
    if (o != NULL && !is_blank(o->id))
        return endpoint_from_id(o->id, o->base_url, error);
    *error = xstrdup("no optimizer configured: set optimizer.id (OPSANI_OPTIMIZER, --optimizer) "
                     "or optimizer.url (OPSANI_URL, --url)");
    return NULL;
}

/* A copy of `s` without leading and trailing whitespace. */
static char *strip_copy(const char *s, size_t len)
{
    size_t start = 0;
    while (start < len && isspace((unsigned char)s[start]))
        start++;
    while (len > start && isspace((unsigned char)s[len - 1]))
        len--;
    return xstrndup(s + start, len - start);
}

/* A token becomes an HTTP header value: control characters (a line break in the middle of a
 * token file) would split the header. */
static bool token_has_control(const char *token)
{
    for (const unsigned char *p = (const unsigned char *)token; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

static int check_token(char *token, const char *origin, char **result, char **error)
{
    if (token[0] == '\0') {
        *error = xasprintf("%s: token cannot be blank", origin);
        free(token);
        return -1;
    }
    if (token_has_control(token)) {
        *error = xasprintf("%s: token contains a line break or a control character", origin);
        free(token);
        return -1;
    }
    *result = token;
    return 0;
}

static int token_from_file(const char *path, char **token, char **error)
{
    char *data = NULL, *why = NULL;
    size_t size = 0;
    if (read_file(path, TOKEN_FILE_LIMIT, &data, &size, &why) != 0) {
        *error = xasprintf("cannot read the token file %s", why);
        free(why);
        return -1;
    }
    if (memchr(data, '\0', size) != NULL) {
        free(data);
        *error = xasprintf("token file %s: token contains a NUL byte", path);
        return -1;
    }
    char *stripped = strip_copy(data, size);
    free(data);
    char *origin = xasprintf("token file %s", path);
    int rc = check_token(stripped, origin, token, error);
    free(origin);
    return rc;
}

int optimizer_token(const struct optimizer_settings *o, char **token, char **error)
{
    *token = NULL;
    if (o == NULL)
        return 0;
    if (o->token != NULL)
        return check_token(strip_copy(o->token, strlen(o->token)), "optimizer.token", token, error);
    if (!is_blank(o->token_file))
        return token_from_file(o->token_file, token, error);
    return 0;
}

/* ---- authorization headers ------------------------------------------------------------- */

#define BEARER_PREFIX "Bearer "
#define SF_PREFIX "X-SF-Token "

static char *header_for(const char *token, bool redact)
{
    if (is_blank(token))
        return NULL;
    if (str_starts_with(token, SF_PREFIX))
        return xasprintf("X-SF-Token: %s", redact ? "[REDACTED]" : token + strlen(SF_PREFIX));
    if (str_starts_with(token, BEARER_PREFIX))
        return xasprintf("Authorization: %s", redact ? "Bearer [REDACTED]" : token);
    return xasprintf("Authorization: Bearer %s", redact ? "[REDACTED]" : token);
}

char *authorization_header(const char *token)
{
    return header_for(token, false);
}

char *authorization_header_redacted(const char *token)
{
    return header_for(token, true);
}

/* ---- backoff --------------------------------------------------------------------------- */

static const struct backoff_settings *backoff_lookup(const struct common_settings *settings,
                                                     const char *context)
{
    if (settings == NULL || context == NULL)
        return NULL;
    const struct backoff_settings *values = settings->backoff.values;
    for (size_t i = 0; i < settings->backoff.count; i++)
        if (str_eq(settings->backoff.keys[i], context))
            return &values[i];
    return NULL;
}

struct backoff_policy backoff_policy_for(const struct common_settings *settings,
                                         const char *context)
{
    struct backoff_policy p = {
        .max_time = DEFAULT_MAX_TIME, .max_tries = 0, .base = BACKOFF_BASE, .cap = BACKOFF_CAP};
    const struct backoff_settings *b = backoff_lookup(settings, context);
    if (b == NULL)
        b = backoff_lookup(settings, "__default__");
    if (b == NULL)
        return p;
    if (b->max_time != SERVO_UNSET)
        /* max_time: 0 means "do not retry" (as Python's backoff), not "unlimited". */
        p.max_time = b->max_time > 0 ? servo_duration_seconds(b->max_time) : 1e-9;
    if (b->max_tries != SERVO_UNSET && b->max_tries > 0)
        p.max_tries = (long)b->max_tries;
    return p;
}

double backoff_delay(const struct backoff_policy *policy, unsigned retry, double uniform)
{
    double base = policy->base > 0 ? policy->base : BACKOFF_BASE;
    double cap = policy->cap > 0 ? policy->cap : BACKOFF_CAP;
    double ceiling = retry >= 63 ? cap : fmin(cap, ldexp(base, (int)retry));
    if (uniform < 0)
        uniform = 0;
    if (uniform >= 1)
        uniform = nextafter(1.0, 0.0);
    return ceiling * uniform;
}

bool backoff_exhausted(const struct backoff_policy *policy, long tries, double elapsed,
                       double next_delay)
{
    if (policy->max_tries > 0 && tries >= policy->max_tries)
        return true;
    return policy->max_time > 0 && elapsed + next_delay > policy->max_time;
}

/* One process-wide PRNG (drand48_r), seeded from the clock and the pid. */
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static struct drand48_data rng;

static void rng_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long seed = (long)ts.tv_sec ^ ((long)ts.tv_nsec << 11) ^ ((long)getpid() << 3);
    srand48_r(seed, &rng);
}

static double rng_uniform(void)
{
    double value = 0;
    pthread_once(&rng_once, rng_seed);
    pthread_mutex_lock(&rng_lock);
    drand48_r(&rng, &value);
    pthread_mutex_unlock(&rng_lock);
    return value;
}

/* ---- client_post ----------------------------------------------------------------------- */

enum verdict {
    VERDICT_OK,
    VERDICT_RETRY,
    VERDICT_REJECTED,
    VERDICT_GONE,
    VERDICT_CANCELLED,
    VERDICT_BUSY, /* 409: another servo drives the application */
};

static void quote_body(struct strbuf *sb, const char *body)
{
    if (is_blank(body)) {
        strbuf_puts(sb, "(empty body)");
        return;
    }
    size_t len = strlen(body);
    strbuf_add(sb, body, len < LOG_EXCERPT ? len : LOG_EXCERPT);
    if (len > LOG_EXCERPT)
        strbuf_printf(sb, "... (%zu bytes)", len);
}

/* HELLO refused for its credentials: retried, as ServoX does, naming where the token is. */
static bool refused_credentials(const struct exchange *x, const char *event)
{
    return x->status == EXCHANGE_HTTP_ERROR && (x->http_status == 401 || x->http_status == 403) &&
           strcmp(event, "HELLO") == 0;
}

/* What to do with an exchange; `why` receives a one-line reason for logs. */
static enum verdict classify(const struct exchange *x, const struct client *c, const char *event,
                             struct strbuf *why)
{
    if (refused_credentials(x, event)) {
        strbuf_printf(why, "HTTP %ld: the optimizer refused %s: ", x->http_status,
                      c->credentials ? c->credentials : "the token");
        quote_body(why, x->body);
        return VERDICT_RETRY;
    }
    switch (x->status) {
    case EXCHANGE_CANCELLED:
        strbuf_puts(why, "cancelled");
        return VERDICT_CANCELLED;
    case EXCHANGE_TRANSPORT:
        strbuf_puts(why, x->error[0] ? x->error : "transport error");
        return VERDICT_RETRY;
    case EXCHANGE_OK:
        if (x->reply != NULL)
            return VERDICT_OK;
        strbuf_printf(why, "HTTP %ld, but the reply is not a JSON object (%s)", x->http_status,
                      x->error[0] ? x->error : "unreadable");
        if (!is_blank(x->body)) {
            strbuf_puts(why, ": ");
            quote_body(why, x->body);
        }
        return VERDICT_RETRY;
    case EXCHANGE_HTTP_ERROR:
        strbuf_printf(why, "HTTP %ld: ", x->http_status);
        quote_body(why, x->body);
        if (x->http_status >= 500 || x->http_status == 404)
            return VERDICT_RETRY;
        if (x->http_status == 409)
            return VERDICT_BUSY;
        return x->http_status == 410 ? VERDICT_GONE : VERDICT_REJECTED;
    }
    strbuf_puts(why, "unknown exchange status");
    return VERDICT_RETRY;
}

static json_t *build_request(const char *event, const json_t *param, const char *servo_uid)
{
    json_t *request = json_object();
    json_object_set_new(request, "event", json_string(event));
    /* jansson takes non-const pointers; the reference taken here is dropped before return. */
    json_object_set(request, "param", param ? (json_t *)param : json_null());
    json_object_set_new(request, "servo_uid", servo_uid ? json_string(servo_uid) : json_null());
    return request;
}

static bool sleep_cancellable(struct cancel_token *token, double seconds)
{
    if (token != NULL)
        return cancel_wait(token, seconds);
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return false;
}

static bool token_set(struct cancel_token *token)
{
    return token != NULL && cancel_is_set(token);
}

/* Between tries while another servo is active: the back-off, never under half its ceiling. */
static double busy_delay(const struct backoff_policy *p, unsigned waits)
{
    return backoff_delay(p, waits, 1.0) * (0.5 + 0.5 * rng_uniform());
}

static void record_exchange(const struct client *c, const char *event, const struct exchange *x,
                            double seconds)
{
    if (!status_enabled() || c->servo_name == NULL)
        return;
    char code[24];
    const char *status = code;
    if (x->status == EXCHANGE_CANCELLED)
        status = "cancelled";
    else if (x->http_status > 0)
        snprintf(code, sizeof code, "%ld", x->http_status);
    else
        status = "transport";
    status_request(c->servo_name, event, status, seconds);
}

/* One attempt. Returns the verdict; on VERDICT_OK the reply moves to *reply. */
static enum verdict attempt(struct client *c, const char *event, const json_t *request,
                            struct cancel_token *token, json_t **reply, struct strbuf *why)
{
    struct exchange x = {0};
    double started = clock_monotonic();
    c->transport->exchange(c->transport->context, request, token, &x);
    record_exchange(c, event, &x, clock_monotonic() - started);
    enum verdict v = classify(&x, c, event, why);
    switch (v) {
    case VERDICT_OK:
        *reply = x.reply;
        x.reply = NULL;
        break;
    case VERDICT_REJECTED:
        servo_error("The optimizer rejected %s (not retried): %s", event, why->data);
        snprintf(c->rejection, sizeof c->rejection, "%s", why->data);
        break;
    case VERDICT_GONE:
        servo_warning("The optimizer answered %s with 410 Gone (unexpected servo_uid: this "
                      "servo was deprovisioned): %s",
                      event, why->data);
        break;
    case VERDICT_RETRY:
    case VERDICT_CANCELLED:
    case VERDICT_BUSY:
        break;
    }
    exchange_clear(&x);
    return v;
}

static enum post_result final_result(enum verdict v)
{
    switch (v) {
    case VERDICT_OK:
        return POST_OK;
    case VERDICT_REJECTED:
        return POST_REJECTED;
    case VERDICT_GONE:
        return POST_GONE;
    case VERDICT_CANCELLED:
    case VERDICT_RETRY:
    case VERDICT_BUSY:
        break;
    }
    return POST_CANCELLED;
}

static enum post_result give_up(const char *event, long tries, double elapsed, const char *why)
{
    servo_error("Giving up on %s after %ld attempt%s in %.1fs; last error: %s", event, tries,
                tries == 1 ? "" : "s", elapsed, why);
    return POST_GAVE_UP;
}

enum post_result client_post(struct client *c, const char *event, const json_t *param,
                             const struct backoff_policy *policy, struct cancel_token *token,
                             json_t **reply)
{
    struct backoff_policy defaults = backoff_policy_for(NULL, NULL);
    const struct backoff_policy *p = policy ? policy : &defaults;
    json_t *request = build_request(event, param, c->servo_uid);
    double started = clock_monotonic();
    unsigned busy_waits = 0;
    if (c->servo_name != NULL)
        status_doing(c->servo_name, event,
                     p->max_time > 0 ? p->max_time + CLIENT_ATTEMPT_SECONDS : 0);
    enum post_result result = POST_CANCELLED;
    struct strbuf why;
    strbuf_init(&why);
    strbuf_add(&why, "", 0);
    *reply = NULL;
    for (long tries = 1;; tries++) {
        if (token_set(token))
            break;
        strbuf_truncate(&why, 0);
        enum verdict v = attempt(c, event, request, token, reply, &why);
        if (v == VERDICT_BUSY) {
            /* not a failure to give up on: wait for the other servo to leave or time out */
            double delay = busy_delay(p, busy_waits++);
            servo_warning("Another servo is active on this application (%s): retrying %s in "
                          "%.0fs",
                          why.data, event, delay);
            if (sleep_cancellable(token, delay))
                break;
            started = clock_monotonic();
            tries = 0;
            continue;
        }
        if (v != VERDICT_RETRY) {
            result = final_result(v);
            break;
        }
        double elapsed = clock_monotonic() - started;
        double delay = backoff_delay(p, (unsigned)(tries - 1), rng_uniform());
        if (backoff_exhausted(p, tries, elapsed, delay)) {
            result = give_up(event, tries, elapsed, why.data);
            break;
        }
        servo_warning("%s failed (%s); retrying in %.2fs (attempt %ld)", event, why.data, delay,
                      tries + 1);
        if (c->servo_name != NULL)
            status_retry(c->servo_name, event);
        if (sleep_cancellable(token, delay))
            break;
    }
    if (result == POST_CANCELLED)
        servo_debug("%s cancelled: %s", event, token ? cancel_reason(token) : "");
    strbuf_release(&why);
    json_decref(request);
    return result;
}
