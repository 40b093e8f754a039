// SPDX-License-Identifier: Apache-2.0
/* The core's own entry to the HTTP engine: a request stopped by a cancellation token (the
 * runner's, which is not an event) instead of request->event. */
#ifndef SERVO_HTTP_INTERNAL_H
#define SERVO_HTTP_INTERNAL_H

#include "events/cancel.h"
#include "servo/http.h"

/* servo_http_perform, stopped within 50 ms when `token` (may be NULL) is cancelled
 * (SERVO_HTTP_ERROR_CANCELLED, with the token's reason) or passes its deadline
 * (SERVO_HTTP_ERROR_TIMEOUT). request->event is ignored. */
int http_perform_cancellable(struct servo_http_client *client,
                             const struct servo_http_request *request, struct cancel_token *token,
                             struct servo_http_response *response, struct servo_http_error *error);

#endif
