/* Cancellation tokens. A token is cancelled explicitly (the optimizer said cancel, a signal
 * arrived) or implicitly when its deadline passes; a token may have a parent whose
 * cancellation it inherits. Waiting on a token wakes as soon as it is cancelled. */
#ifndef SERVO_CANCEL_H
#define SERVO_CANCEL_H

#include <pthread.h>
#include <stdbool.h>

struct cancel_token {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool cancelled;
    char reason[256];
    double deadline; /* monotonic seconds; 0: none */
    struct cancel_token *parent;
};

void cancel_init(struct cancel_token *t, struct cancel_token *parent, double timeout_seconds);
void cancel_destroy(struct cancel_token *t);
void cancel_trigger(struct cancel_token *t, const char *reason);
/* Cancelled itself or through a parent (explicitly, not by a deadline). */
bool cancel_requested(struct cancel_token *t);
/* Past its own deadline or a parent's. */
bool cancel_expired(struct cancel_token *t);
static inline bool cancel_is_set(struct cancel_token *t)
{
    return cancel_requested(t) || cancel_expired(t);
}
/* Seconds to the nearest deadline in the chain; 1e9 when none. */
double cancel_remaining(struct cancel_token *t);
/* Waits up to `seconds`; returns true if the token was (or became) cancelled or expired. */
bool cancel_wait(struct cancel_token *t, double seconds);
/* The reason of the first cancelled token in the chain (static "" when none). */
const char *cancel_reason(struct cancel_token *t);

#endif
