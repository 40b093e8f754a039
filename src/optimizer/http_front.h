// SPDX-License-Identifier: Apache-2.0
/* The optimizer server's HTTP front: libmicrohttpd (with GnuTLS) in a module of its own
 * (src/modules/http_mhd.c, servo-http-mhd.so), loaded by `servo optimizer serve` only, so
 * that no other command maps those libraries. The module calls back into the server through
 * function pointers: it needs no symbol of the executable, and the executable none of it but
 * the entry, HTTP_FRONT_ENTRY. */
#ifndef SERVO_OPTIMIZER_HTTP_FRONT_H
#define SERVO_OPTIMIZER_HTTP_FRONT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "optimizer/server.h"

#define HTTP_FRONT_ABI 3
#define HTTP_FRONT_FILE "servo-http-mhd.so"
#define HTTP_FRONT_ENTRY "servo_http_front_v1"

struct http_front_callbacks {
    void *context;
    /* With the headers only: 0 to read the body and go on, else the status of the response
     * already in *out (its body malloc'ed, freed by the front). */
    int (*check)(void *context, const struct server_request *r, struct server_response *out);
    /* The whole request: the response in *out (its body malloc'ed, freed by the front). */
    void (*handle)(void *context, const struct server_request *r, struct server_response *out);
    /* Whether `handle` may take long (a suggestion, a store lock): such a request is handled
     * by one of the front's workers, its connection suspended meanwhile, so the connection
     * threads go on answering the others (/healthz, /metrics). */
    bool (*slow)(void *context, const struct server_request *r);
    /* A line of the library's own log. */
    void (*log)(void *context, const char *text);
};

struct http_front_config {
    int listen_fd; /* bound and listening; the front closes it */
    unsigned threads;
    unsigned workers;            /* for the slow requests; 0: handled on the connection threads */
    unsigned connection_timeout; /* seconds */
    unsigned max_connections;
    unsigned max_connections_per_address;
    size_t max_body;           /* a larger body is dropped and the request marked too_large */
    size_t max_bodies;         /* bytes of bodies held at once, all connections: beyond, 503 */
    atomic_size_t *body_bytes; /* the server's: what the bodies in flight hold now (or NULL) */
    size_t header_memory;      /* per connection, for the request line and headers */
    const char *tls_cert;      /* PEM text, NULL: plain HTTP */
    const char *tls_key;
};

struct http_front_module {
    int abi; /* HTTP_FRONT_ABI */
    /* Starts serving from internal threads; NULL with a message in `error`. */
    void *(*start)(const struct http_front_config *config,
                   const struct http_front_callbacks *callbacks, char *error, size_t error_size);
    void (*stop)(void *front);
    /* Whether the library was built with TLS. */
    bool (*has_tls)(void);
};

/* The front, loaded once from HTTP_FRONT_FILE (the optimizer server and `servo run --listen`
 * share it); NULL with a message naming the file and the problem (caller frees). */
const struct http_front_module *http_front_load(char **error);

#endif
