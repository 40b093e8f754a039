#include "events/cancel.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "util/util.h"

/* One condition for every token: a waiter on a child must wake when any ancestor is
 * cancelled, and a token does not know its children. Cancellations are rare, so waking every
 * waiter to look again costs nothing, and no waiter ever wakes up to poll. */
static pthread_mutex_t any_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t any_cancelled;
static pthread_once_t any_once = PTHREAD_ONCE_INIT;

static void any_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&any_cancelled, &attr);
    pthread_condattr_destroy(&attr);
}

void cancel_init(struct cancel_token *t, struct cancel_token *parent, double timeout_seconds)
{
    pthread_once(&any_once, any_init);
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->changed, &attr);
    pthread_condattr_destroy(&attr);
    t->cancelled = false;
    t->reason[0] = '\0';
    t->deadline = timeout_seconds > 0 ? clock_monotonic() + timeout_seconds : 0;
    t->parent = parent;
}

void cancel_destroy(struct cancel_token *t)
{
    pthread_cond_destroy(&t->changed);
    pthread_mutex_destroy(&t->lock);
}

void cancel_trigger(struct cancel_token *t, const char *reason)
{
    pthread_mutex_lock(&t->lock);
    if (!t->cancelled) {
        t->cancelled = true;
        snprintf(t->reason, sizeof t->reason, "%s", reason ? reason : "cancelled");
    }
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    /* under any_lock: a waiter between its check and its wait holds it */
    pthread_mutex_lock(&any_lock);
    pthread_cond_broadcast(&any_cancelled);
    pthread_mutex_unlock(&any_lock);
}

bool cancel_requested(struct cancel_token *t)
{
    for (; t != NULL; t = t->parent) {
        pthread_mutex_lock(&t->lock);
        bool cancelled = t->cancelled;
        pthread_mutex_unlock(&t->lock);
        if (cancelled)
            return true;
    }
    return false;
}

double cancel_remaining(struct cancel_token *t)
{
    double now = clock_monotonic(), remaining = 1e9;
    for (; t != NULL; t = t->parent)
        if (t->deadline > 0 && t->deadline - now < remaining)
            remaining = t->deadline - now;
    return remaining;
}

bool cancel_expired(struct cancel_token *t)
{
    return cancel_remaining(t) <= 0;
}

static struct timespec monotonic_after(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double wake = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)wake;
    ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
    return ts;
}

/* Sleeps until `seconds` pass, the nearest deadline of the chain passes, or a token (any)
 * is cancelled: no periodic wake-up. */
bool cancel_wait(struct cancel_token *t, double seconds)
{
    double end = clock_monotonic() + seconds;
    bool set;
    pthread_mutex_lock(&any_lock);
    for (;;) {
        if ((set = cancel_is_set(t)))
            break;
        double now = clock_monotonic();
        if (now >= end)
            break;
        double slice = fmin(end - now, fmax(cancel_remaining(t), 0.001));
        struct timespec ts = monotonic_after(slice);
        pthread_cond_timedwait(&any_cancelled, &any_lock, &ts);
    }
    pthread_mutex_unlock(&any_lock);
    return set;
}

const char *cancel_reason(struct cancel_token *t)
{
    for (; t != NULL; t = t->parent) {
        pthread_mutex_lock(&t->lock);
        bool cancelled = t->cancelled;
        pthread_mutex_unlock(&t->lock);
        if (cancelled)
            return t->reason; /* written once, before `cancelled` was set */
    }
    return "";
}
