// SPDX-License-Identifier: Apache-2.0
/* The contract between the core's HTTP engine (src/http/http.c) and the module that moves the
 * bytes (src/modules/http_curl.c, built as servo-http-curl.so and loaded on the first
 * request). The module sees only this header and <servo/http.h>: it calls no core function,
 * so it links against libc and libcurl alone.
 *
 * The core validates a request, builds its header list and formats every message; the module
 * performs transfers and reports what happened as a kind, a phase and libcurl's own words. */
#ifndef SERVO_HTTP_TRANSPORT_H
#define SERVO_HTTP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "servo/http.h"

/* The module's entry: `const struct http_transport_module *servo_http_transport_v1(void)`.
 * The number changes with any change to the structs below. */
#define HTTP_TRANSPORT_ENTRY "servo_http_transport_v1"
#define HTTP_TRANSPORT_VERSION 1u
#define HTTP_MODULE_FILE "servo-http-curl.so"

/* Why the core stopped a transfer (its `interrupted` callback). */
enum http_interrupt {
    HTTP_RUNNING = 0,
    HTTP_INTERRUPT_CANCELLED,
    HTTP_INTERRUPT_DEADLINE, /* the event's or the token's deadline */
};

/* Which timeout fired. */
enum http_timeout_phase {
    HTTP_PHASE_NONE = 0,
    HTTP_PHASE_CONNECT,
    HTTP_PHASE_WRITE,
    HTTP_PHASE_READ,
    HTTP_PHASE_TOTAL,
};

struct http_transfer {
    /* in: filled by the core */
    const char *method;
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated (authorization included) */
    const char *body;           /* NULL: none */
    size_t body_length;
    bool send_empty_body; /* POST/PUT/PATCH without a body: Content-Length 0 */
    const char *username; /* basic authentication, or NULL */
    const char *password;
    double connect_timeout, write_timeout, read_timeout, total_timeout; /* seconds; <= 0 none */
    /* body bytes; non-zero: stop */
    int (*sink)(void *context, const char *data, size_t length);
    void *sink_context;
    /* polled at least every 25 ms */
    enum http_interrupt (*interrupted)(void *context);
    void *interrupt_context;

    /* out: filled by the module */
    long status;
    char content_type[128];
    enum servo_http_error_kind kind; /* NONE when a whole response arrived */
    enum http_timeout_phase phase;   /* for SERVO_HTTP_ERROR_TIMEOUT */
    enum http_interrupt interrupt;   /* for CANCELLED and deadline timeouts */
    const char *tls_problem;         /* for TLS: "untrusted", "client-certificate", "handshake" */
    bool sink_refused;               /* the sink returned non-zero */
    char detail[256];                /* libcurl's description of a failure */
};

struct http_transport_module {
    unsigned version; /* HTTP_TRANSPORT_VERSION */
    /* Once per process; 0, or -1 with why[size]. */
    int (*init)(char *why, size_t size);
    /* A connection cache with `options` (which outlive it); NULL when out of memory. */
    void *(*client_new)(const struct servo_http_options *options);
    void (*client_free)(void *client);
    /* Runs the transfers at once; returns when every one has finished or stopped. */
    void (*perform)(void *client, struct http_transfer *const *transfers, size_t count);
};

typedef const struct http_transport_module *(*http_transport_entry_fn)(void);

#endif
