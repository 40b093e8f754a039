// SPDX-License-Identifier: Apache-2.0
/* The servo's own health and metrics (`servo run --listen`): what the run loops report as they
 * go, served as /healthz, /readyz and /metrics by src/runner/status_http.c. One registry for
 * the process, keyed by servo name (a file may run several servos). Nothing is recorded until
 * status_enable, so a servo that does not listen pays only a flag test. Thread-safe. */
#ifndef SERVO_RUNNER_STATUS_H
#define SERVO_RUNNER_STATUS_H

#include <stdbool.h>

#include "util/util.h"

/* Seconds a run loop may overrun the deadline it announced before /healthz fails. */
#define STATUS_GRACE_SECONDS 30.0

void status_enable(void);
bool status_enabled(void);
/* Forgets every servo and series (tests). */
void status_reset(void);

/* A servo to report on; `checks_expected`: its checks must pass before it is ready. */
void status_servo(const char *servo, bool checks_expected);
void status_checks_passed(const char *servo, bool passed);
/* The run loop is doing `what` and will be back within `seconds` (<= 0: no deadline, as an
 * unlimited retry or a sleep until shutdown). */
void status_doing(const char *servo, const char *what, double seconds);
/* The run loop has returned (`failed`: it had to stop). */
void status_stopped(const char *servo, bool failed);

/* A command the optimizer sent (DESCRIBE, MEASURE, ADJUST, SLEEP) and how it ended
 * ("success", "failure", "invalid", "cancelled"), with its duration. */
void status_event(const char *servo, const char *event, const char *outcome, double seconds);
/* One exchange with the optimizer: `status` the HTTP status ("200"), "transport" or
 * "cancelled". A response of any status means the optimizer is reachable. */
void status_request(const char *servo, const char *event, const char *status, double seconds);
void status_retry(const char *servo, const char *event);
void status_trial(const char *servo, double trial);
void status_setting(const char *servo, const char *component, const char *setting, double value);

/* The Prometheus text of every series and the process's CPU and memory (caller frees). */
char *status_metrics_text(void);
/* 200 when every run loop is alive and within its deadline (`ready`: also checked and
 * connected), else 503; `why` gets one line per servo that is not. */
int status_health(bool ready, struct strbuf *why);

#endif
