/* The optimizer server: the Opsani servo protocol over HTTP for many applications at once,
 * each a study (study.h) with its own lock, all in one store.
 *
 *   POST /accounts/{ORG}/applications/{APP}/servo    the protocol (study_exchange)
 *   GET  /accounts/{ORG}/applications/{APP}/trials   the study's document (results.h)
 *   GET  /healthz                                    {"status":"ok"}: the store answers
 *   GET  /readyz                                     the same, for a readiness probe
 *   GET  /metrics                                    Prometheus text format (metrics_token)
 *
 * Authentication comes before the application is looked up: no token, or one of no
 * application: 401 whether or not the application exists; another application's token: 403
 * (`Authorization: Bearer TOKEN` or `X-SF-Token: TOKEN`; an application without a token is
 * open). Unknown path: 404; another method: 405; a body over max_request_size: 413; a body
 * that is not JSON: 400; another servo drives the study: 409; the store cannot be written, or
 * the study is quarantined (it cannot be read): 503. The store is one SQLite file claimed by
 * this process, or a PostgreSQL database shared with other replicas.
 *
 * server_handle is the whole of it, without sockets (the fuzzer calls it); server_listen puts
 * it behind libmicrohttpd. */
#ifndef SERVO_OPTIMIZER_SERVER_H
#define SERVO_OPTIMIZER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "optimizer/study_config.h"

struct server;

struct server_request {
    const char *method;
    const char *path;
    const char *authorization; /* the Authorization header, or NULL */
    const char *sf_token;      /* the X-SF-Token header, or NULL */
    const char *body;          /* NULL when none */
    size_t body_length;
    bool too_large; /* the body was over the limit (and dropped) */
};

struct server_response {
    int status;
    const char *content_type; /* static */
    char *body;               /* owned by the caller after server_handle */
};

/* Opens the store (`store_path`, or the settings' store when NULL) and every application's
 * study. `settings` is borrowed. Returns 0, or -1 with a message (caller frees). */
int server_create(const struct server_settings *settings, const char *store_path,
                  struct server **out, char **error);
void server_free(struct server *s);

/* The decision that needs the headers only (method, path, token): 0 when the request may go
 * on (its body then read), else the status to answer at once (401, 403, 405). */
int server_check_headers(struct server *s, const struct server_request *request);

/* Connection threads: the settings' `threads`, else the number of cores. */
size_t server_thread_count(const struct server_settings *settings);

/* Answers one request. Thread-safe. */
void server_handle(struct server *s, const struct server_request *request,
                   struct server_response *response);

/* Listens on HOST:PORT (port 0: a free one) and serves from internal threads until
 * server_stop. Returns 0, or -1 with a message. */
int server_listen(struct server *s, const char *listen, char **error);
/* "http://127.0.0.1:PORT" once listening. */
const char *server_url(const struct server *s);
void server_stop(struct server *s);

#endif
