/* The optimizer client: posts Opsani servo-protocol events and returns the optimizer's
 * replies, with retries. Every request is `POST {endpoint}` of
 * {"event":E,"param":P,"servo_uid":U} with Content-Type application/json, a User-Agent naming
 * this servo and its version, and the token as `Authorization: Bearer TOKEN` (a token that
 * already starts with "Bearer " is sent as is; "X-SF-Token T" becomes that header instead).
 *
 * A transport does one exchange; the HTTP transport uses the HTTP engine with the servo's
 * common settings (proxies, timeouts, ssl_verify); the embedded optimizer is another one, so
 * the run loop cannot tell them apart. */
#ifndef SERVO_RUNNER_CLIENT_H
#define SERVO_RUNNER_CLIENT_H

#include <stdbool.h>

#include <jansson.h>

#include "assembly/servo_settings.h"
#include "events/cancel.h"

enum exchange_status {
    EXCHANGE_OK,         /* a 2xx reply (its body may still be garbage: see reply) */
    EXCHANGE_TRANSPORT,  /* connection refused, reset, DNS, TLS, timeout */
    EXCHANGE_HTTP_ERROR, /* a non-2xx status */
    EXCHANGE_CANCELLED,  /* the token was cancelled while waiting */
};

struct exchange {
    enum exchange_status status;
    long http_status; /* 0 when no response */
    json_t *reply;    /* the parsed body when it is a JSON object, else NULL */
    char *body;       /* the raw body (bounded), for logs */
    char error[256];  /* transport error text */
};

struct transport {
    /* One request/response; fills `out` (release with exchange_clear). */
    void (*exchange)(void *context, const json_t *request, struct cancel_token *token,
                     struct exchange *out);
    void (*destroy)(void *context);
    void *context;
};

void exchange_clear(struct exchange *x);

/* The HTTP transport to `endpoint` with the servo's settings; NULL with a message when the
 * settings cannot be used (e.g. an unreadable token file). */
struct transport *http_transport_create(const char *endpoint, const char *token,
                                        const struct common_settings *settings, char **error);
void transport_destroy(struct transport *t);

/* {base_url}/accounts/{ORG}/applications/{APP}/servo, or {url}servo. NULL + message when
 * neither an id nor a url is configured. */
char *optimizer_endpoint(const struct optimizer_settings *o, char **error);
/* The token from `token` or `token_file` (stripped); NULL when neither; -1 on a read error. */
int optimizer_token(const struct optimizer_settings *o, char **token, char **error);

/* "Authorization: Bearer X" or "X-SF-Token: Y" for a token; the caller frees. */
char *authorization_header(const char *token);
/* The same with the secret replaced by [REDACTED], for TRACE logs. */
char *authorization_header_redacted(const char *token);

struct backoff_policy {
    double max_time; /* seconds; <= 0: unlimited */
    long max_tries;  /* <= 0: unlimited */
    double base;     /* first delay (seconds) */
    double cap;      /* largest delay */
};

/* The named context of settings.backoff ("connect", "__default__"), falling back to
 * __default__ and then to 10 minutes; max_tries unlimited unless set. base 1 s, cap 60 s.
 * A configured max_time of 0 means "never retry" (a tiny positive max_time here). */
struct backoff_policy backoff_policy_for(const struct common_settings *settings,
                                         const char *context);

/* Full jitter: uniform * min(cap, base * 2^retry), retry counting from 0 (the sleep after
 * the first failed attempt); `uniform` in [0, 1) comes from the caller's PRNG. */
double backoff_delay(const struct backoff_policy *policy, unsigned retry, double uniform);
/* True when no further attempt may be made: `tries` attempts reached max_tries, or sleeping
 * `next_delay` more seconds after `elapsed` would pass max_time. */
bool backoff_exhausted(const struct backoff_policy *policy, long tries, double elapsed,
                       double next_delay);

/* The User-Agent of every request: "servo-c/VERSION (github.com/opsani/servox compatible)". */
const char *servo_user_agent(void);

struct client {
    struct transport *transport;
    char *servo_uid; /* NULL: sent as null */
    /* Where the token comes from ("optimizer.token_file /run/secrets/token"), named when the
     * optimizer refuses it at HELLO; NULL: "the token". */
    const char *credentials;
    char rejection[256];    /* why the latest POST_REJECTED: "HTTP 413: ..." */
    const char *servo_name; /* labels its requests in the status metrics (runner/status.h) */
};

enum post_result {
    POST_OK,        /* a reply arrived (a JSON object in *reply) */
    POST_GAVE_UP,   /* retries exhausted (max_time / max_tries) */
    POST_REJECTED,  /* a 4xx other than 404/410: not retried (body logged) */
    POST_GONE,      /* 410 "unexpected servo_uid": the servo was deprovisioned */
    POST_CANCELLED, /* the token was cancelled */
};

/* Posts {"event":event,"param":param,"servo_uid":uid}; retries with exponential backoff and
 * jitter on transport errors, timeouts, 5xx and 404, on replies that are not JSON objects,
 * and on 401 and 403 to HELLO (a rotated token may be put right, as ServoX retries), within
 * `policy`. `param` is borrowed (may be NULL for null). */
enum post_result client_post(struct client *c, const char *event, const json_t *param,
                             const struct backoff_policy *policy, struct cancel_token *token,
                             json_t **reply);

#endif
