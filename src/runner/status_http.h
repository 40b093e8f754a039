// SPDX-License-Identifier: Apache-2.0
/* `servo run --listen ADDR`: /healthz, /readyz and /metrics (runner/status.h) served over the
 * project's HTTP front (optimizer/http_front.h, servo-http-mhd.so), loaded only when asked. */
#ifndef SERVO_RUNNER_STATUS_HTTP_H
#define SERVO_RUNNER_STATUS_HTTP_H

struct status_server;

/* Listens on `address` (HOST:PORT, port 0: a free one) and enables the status registry; NULL
 * with a message (caller frees). */
struct status_server *status_server_start(const char *address, char **error);
/* "http://HOST:PORT". */
const char *status_server_url(const struct status_server *s);
void status_server_stop(struct status_server *s);

/* The answer to one request: status, content type (static) and body (caller frees). */
int status_server_answer(const char *method, const char *path, const char **content_type,
                         char **body);

#endif
