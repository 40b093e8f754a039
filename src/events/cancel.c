#include "events/cancel.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "util/util.h"

#define POLL_SECONDS 0.05 /* how often a waiter looks at its parents */

void cancel_init(struct cancel_token *t, struct cancel_token *parent, double timeout_seconds)
{
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

bool cancel_wait(struct cancel_token *t, double seconds)
{
    double end = clock_monotonic() + seconds;
    for (;;) {
        if (cancel_is_set(t))
            return true;
        double now = clock_monotonic();
        if (now >= end)
            return false;
        double slice = fmin(end - now, fmin(POLL_SECONDS, fmax(cancel_remaining(t), 0.001)));
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wake = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + slice;
        ts.tv_sec = (time_t)wake;
        ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
        pthread_mutex_lock(&t->lock);
        if (!t->cancelled)
            pthread_cond_timedwait(&t->changed, &t->lock, &ts);
        pthread_mutex_unlock(&t->lock);
    }
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
