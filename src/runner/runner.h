/* The run loop of one servo: HELLO, then WHATS_NEXT and the commands it answers (DESCRIBE,
 * MEASURE, ADJUST, SLEEP), forever, through faults, until shutdown; then GOODBYE. */
#ifndef SERVO_RUNNER_H
#define SERVO_RUNNER_H

#include <stdbool.h>

#include "assembly/assembly.h"
#include "events/cancel.h"
#include "runner/client.h"

struct runner_options {
    bool no_poll; /* say HELLO, then wait for shutdown without polling */
    /* Stop after this many commands (0: never); tests and the embedded optimizer use it. */
    unsigned long max_commands;
    /* Asked before every WHATS_NEXT: true ends the loop as max_commands does (GOODBYE, exit
     * 0). The embedded optimizer says so once its study is over. NULL: never. */
    bool (*stop)(void *context);
    void *stop_context;
    /* Asked (with stop_context) when `stop` ended the loop: true dispatches the `promote`
     * event (on handlers) before the shutdown event -- the embedded optimizer says so once
     * the servo is at the best settings. A failed promote makes runner_run return 1. */
    bool (*promote)(void *context);
};

/* Runs until `shutdown` is cancelled (its reason -- "SIGTERM", "shutdown" -- is the GOODBYE
 * reason) or the optimizer is gone for good. The servo's connectors must be attached. The
 * transport is borrowed. Returns 0 on an orderly shutdown, 1 when the loop had to stop. */
int runner_run(struct servo_config *servo, struct transport *transport,
               const struct runner_options *options, struct cancel_token *shutdown);

#endif
