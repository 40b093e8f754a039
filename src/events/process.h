/* Child processes under a cancellation token (servo_event_run is this with the event's). */
#ifndef SERVO_PROCESS_H
#define SERVO_PROCESS_H

#include "events/cancel.h"
#include "servo/events.h"

int process_run(struct cancel_token *token, const struct servo_process *process,
                struct servo_process_result *result, struct servo_error *error);

#endif
