// SPDX-License-Identifier: Apache-2.0
/* The servo's HTTP engine, for built-in connectors and plugins alike.
 *
 * A client (servo_http_client_new) holds the settings shared by its requests -- TLS, proxies,
 * the User-Agent -- and keeps connections alive between requests. It is safe to use from
 * several threads at once. A request names its method, URL, headers, body, credentials,
 * timeouts and a response size limit; its body is collected into the response or streamed
 * to a callback as it arrives. A request made for an event (request.event) stops within
 * 50 ms when the event is cancelled or reaches its deadline.
 *
 * Failures are typed (enum servo_http_error_kind) and explained in one line that names the
 * method and the URL, with any password in the URL masked and never a token.
 *
 * The transport (libcurl) is loaded the first time a request is made, so a command that makes
 * none never pays for it; a servo installed without its HTTP module fails that request with
 * SERVO_HTTP_ERROR_UNAVAILABLE and a message naming the module's path. */
#ifndef SERVO_HTTP_H
#define SERVO_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "servo/abi.h"
#include "servo/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct servo_event;

enum servo_http_error_kind {
    SERVO_HTTP_ERROR_NONE = 0,
    SERVO_HTTP_ERROR_INVALID,     /* the request itself: URL, method, options, unreadable files */
    SERVO_HTTP_ERROR_UNAVAILABLE, /* the HTTP module cannot be loaded */
    SERVO_HTTP_ERROR_CONNECT,     /* resolving, connecting, the proxy */
    SERVO_HTTP_ERROR_TLS,         /* handshake, an untrusted peer, a refused client certificate */
    SERVO_HTTP_ERROR_TIMEOUT, /* a connect, read, write or total timeout, or the event's deadline */
    SERVO_HTTP_ERROR_CANCELLED, /* the event was cancelled */
    SERVO_HTTP_ERROR_TOO_LARGE, /* the response body passed max_response */
    SERVO_HTTP_ERROR_STATUS,    /* a status >= 400 with fail_on_status set */
    SERVO_HTTP_ERROR_CALLBACK,  /* on_body refused the data */
    SERVO_HTTP_ERROR_TRANSFER,  /* anything else: a reset connection, a body cut short */
};

#define SERVO_HTTP_MESSAGE_MAX 1024

struct servo_http_error {
    enum servo_http_error_kind kind;
    /* What exactly, where a kind has several causes: for TIMEOUT "connect", "write", "read",
     * "total" or "deadline" (the event's); for TLS "untrusted" (the server's certificate),
     * "client-certificate" (ours was refused or unusable) or "handshake"; else "". */
    const char *detail;
    char message[SERVO_HTTP_MESSAGE_MAX]; /* "GET http://h/x: cannot connect: ..."; cut to fit */
};

/* Shared by every request of a client. Strings are copied; NULL means "not set". */
struct servo_http_options {
    const char *user_agent; /* NULL: "servo/VERSION" */
    /* Trusted CAs: a PEM file added as the CA bundle, or PEM data that replaces the system
     * CAs (as client-go does with certificate-authority-data). */
    const char *ca_file;
    const char *ca_data;
    size_t ca_data_length;
    /* A client certificate and its key, PEM, each from a file or from memory. */
    const char *cert_file;
    const char *cert_data;
    size_t cert_data_length;
    const char *key_file;
    const char *key_data;
    size_t key_data_length;
    bool insecure; /* do not verify the server's certificate or name */
    /* NULL: the environment's http_proxy, HTTPS_PROXY, ALL_PROXY; "" no proxy; else a URL. */
    const char *proxy;
    /* Hosts reached without the proxy, comma-separated; NULL: the environment's NO_PROXY. */
    const char *no_proxy;
};

/* Timeouts: 0 takes the default, SERVO_HTTP_NO_TIMEOUT disables one. */
#define SERVO_HTTP_NO_TIMEOUT ((servo_duration)-1)
#define SERVO_HTTP_DEFAULT_CONNECT_TIMEOUT (10 * SERVO_SECOND)
#define SERVO_HTTP_DEFAULT_READ_TIMEOUT (30 * SERVO_SECOND)
#define SERVO_HTTP_DEFAULT_WRITE_TIMEOUT (30 * SERVO_SECOND)
#define SERVO_HTTP_DEFAULT_TOTAL_TIMEOUT (5 * SERVO_MINUTE)
#define SERVO_HTTP_DEFAULT_MAX_RESPONSE ((size_t)64 * 1024 * 1024)

struct servo_http_request {
    const char *method;         /* "GET" when NULL; any upper-case token */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" strings, NULL-terminated; NULL: none */
    const char *body;           /* NULL: no body (POST, PUT and PATCH then send an empty one) */
    size_t body_length;
    const char *bearer_token; /* sent as "Authorization: Bearer TOKEN" */
    const char *username;     /* basic authentication (also taken from user:password@ in url) */
    const char *password;
    servo_duration connect_timeout; /* TCP and TLS set-up */
    servo_duration write_timeout;   /* no byte of the request sent for this long */
    servo_duration read_timeout;    /* no byte of the response received for this long */
    servo_duration total_timeout;   /* the whole request, however it trickles */
    size_t max_response;            /* body bytes; 0: SERVO_HTTP_DEFAULT_MAX_RESPONSE */
    /* Streams the body: called for each piece as it arrives; return 0 to go on, anything
     * else to stop the transfer (SERVO_HTTP_ERROR_CALLBACK). The response's body then stays
     * NULL. NULL: the body is collected into the response. */
    int (*on_body)(void *context, const char *data, size_t length);
    void *context;
    bool fail_on_status; /* a status >= 400 fails the request (SERVO_HTTP_ERROR_STATUS) */
    /* The event the request is made for: its cancellation and deadline stop the request.
     * NULL: only the timeouts bound it. */
    const struct servo_event *event;
};

struct servo_http_response {
    long status;        /* 0 when no response arrived */
    char *content_type; /* or NULL */
    char *body;         /* the collected body, NUL-terminated (NULL when streamed or empty) */
    size_t body_length; /* bytes received, streamed or not */
};

struct servo_http_client;

/* A client with `options` (NULL: the defaults); NULL with `error` set when an option cannot
 * be used (a CA, certificate or key file that cannot be read). */
SERVO_EXPORT struct servo_http_client *
servo_http_client_new(const struct servo_http_options *options, struct servo_http_error *error);
/* Closes its connections. Requests must have returned. NULL is a no-op. */
SERVO_EXPORT void servo_http_client_free(struct servo_http_client *client);

/* Performs one request. Returns 0 when a response arrived (any status, unless
 * fail_on_status), -1 with `error` set otherwise; the response keeps what did arrive (the
 * status of a response that was too large, for instance). Clear it with
 * servo_http_response_clear either way. `client` NULL: a one-off client with the defaults. */
SERVO_EXPORT int servo_http_perform(struct servo_http_client *client,
                                    const struct servo_http_request *request,
                                    struct servo_http_response *response,
                                    struct servo_http_error *error);
/* Performs `count` requests at the same time; responses[i] and errors[i] as above. Returns
 * the number that failed. */
SERVO_EXPORT size_t servo_http_perform_all(struct servo_http_client *client,
                                           const struct servo_http_request *requests, size_t count,
                                           struct servo_http_response *responses,
                                           struct servo_http_error *errors);
SERVO_EXPORT void servo_http_response_clear(struct servo_http_response *response);
/* "connect", "tls", "timeout", "cancelled", "too-large", "http-status", ...: a reason word. */
SERVO_EXPORT const char *servo_http_error_reason(enum servo_http_error_kind kind);

/* ---- URLs (no transport needed) -------------------------------------------------------- */

struct servo_url {
    char scheme[8];     /* "http" or "https", lower case */
    char host[256];     /* a name, an IPv4 address, or an IPv6 address without brackets */
    int port;           /* the explicit port, or the scheme's (80, 443) */
    bool has_userinfo;  /* user[:password]@ present */
    size_t path_offset; /* where the path (or query, or fragment) starts in the text; may be
                           the end */
};

/* Parses an absolute http(s) URL: 0, or -1 with `why` ("missing scheme (expected http:// or
 * https://)", "the scheme must be http or https", "missing host", "invalid port", ...).
 * Spaces and control characters are refused. */
SERVO_EXPORT int servo_url_parse(const char *text, struct servo_url *url, const char **why);
/* A copy of `url` with the password of its user information replaced by "***" (caller
 * frees); the text is returned as is when it has none. */
SERVO_EXPORT char *servo_url_redact(const char *url);
/* `text` percent-encoded for a query value: everything but ALPHA DIGIT - . _ ~ (caller
 * frees). */
SERVO_EXPORT char *servo_url_escape(const char *text);

#ifdef __cplusplus
}
#endif

#endif
