// SPDX-License-Identifier: Apache-2.0
#include "runner/status_http.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optimizer/http_front.h"
#include "runner/status.h"
#include "util/listen.h"
#include "util/log.h"
#include "util/util.h"

struct status_server {
    const struct http_front_module *module;
    void *front;
    char *url;
};

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

int status_server_answer(const char *method, const char *path, const char **content_type,
                         char **body)
{
    *content_type = TEXT_PLAIN;
    size_t length = strcspn(path, "?");
    bool healthz = length == 8 && strncmp(path, "/healthz", 8) == 0;
    bool readyz = length == 7 && strncmp(path, "/readyz", 7) == 0;
    bool metrics = length == 8 && strncmp(path, "/metrics", 8) == 0;
    if (!healthz && !readyz && !metrics) {
        *body = xstrdup("not found: /healthz, /readyz and /metrics are served here\n");
        return 404;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        *body = xstrdup("method not allowed\n");
        return 405;
    }
    if (metrics) {
        *content_type = PROMETHEUS_TEXT;
        *body = status_metrics_text();
        return 200;
    }
    struct strbuf why;
    strbuf_init(&why);
    int status = status_health(readyz, &why);
    if (status == 200)
        strbuf_puts(&why, "ok\n");
    *body = strbuf_detach(&why);
    return status;
}

static int on_headers(void *context, const struct server_request *r, struct server_response *out)
{
    (void)context;
    (void)r;
    (void)out;
    return 0;
}

static void on_request(void *context, const struct server_request *r, struct server_response *out)
{
    (void)context;
    out->status = status_server_answer(r->method, r->path, &out->content_type, &out->body);
}

static bool never_slow(void *context, const struct server_request *r)
{
    (void)context;
    (void)r;
    return false;
}

static void on_log(void *context, const char *text)
{
    (void)context;
    servo_debug("status HTTP: %s", text);
}

struct status_server *status_server_start(const char *address, char **error)
{
    char *load_error = NULL;
    const struct http_front_module *module = http_front_load(&load_error);
    if (module == NULL) {
        *error = xasprintf("--listen: %s", load_error);
        free(load_error);
        return NULL;
    }
    int fd = -1;
    if (listen_socket("--listen", address, &fd, error) != 0)
        return NULL;
    struct status_server *s = xcalloc(1, sizeof *s);
    s->module = module;
    s->url = listen_url(fd, false);
    struct http_front_config config = {.listen_fd = fd,
                                       .threads = 2,
                                       .connection_timeout = 10,
                                       .max_connections = 32,
                                       .max_connections_per_address = 32,
                                       .max_body = 1024,
                                       .header_memory = 16 * 1024};
    struct http_front_callbacks callbacks = {
        .check = on_headers, .handle = on_request, .slow = never_slow, .log = on_log};
    char why[256] = "";
    status_enable();
    s->front = module->start(&config, &callbacks, why, sizeof why);
    if (s->front == NULL) {
        *error = xasprintf("--listen %s: %s", address, why);
        close(fd);
        free(s->url);
        free(s);
        return NULL;
    }
    return s;
}

const char *status_server_url(const struct status_server *s)
{
    return s->url;
}

void status_server_stop(struct status_server *s)
{
    if (s == NULL)
        return;
    s->module->stop(s->front);
    free(s->url);
    free(s);
}
