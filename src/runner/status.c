// SPDX-License-Identifier: Apache-2.0
/* The registry behind /healthz, /readyz and /metrics (status.h). */
#include "runner/status.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "optimizer/server_metrics.h"

enum metric {
    M_EVENTS,
    M_EVENT_SECONDS,
    M_REQUESTS,
    M_REQUEST_SECONDS,
    M_RETRIES,
    M_TRIAL,
    M_SETTING,
    M_METRIC_COUNT,
};

static const struct {
    const char *name;
    const char *type;
    const char *help;
} metrics[M_METRIC_COUNT] = {
    [M_EVENTS] = {"servo_events_total", "counter",
                  "Commands of the optimizer carried out, by event and outcome"},
    [M_EVENT_SECONDS] = {"servo_event_duration_seconds", "histogram",
                         "How long each command of the optimizer took"},
    [M_REQUESTS] = {"servo_optimizer_requests_total", "counter",
                    "Requests to the optimizer, by event and HTTP status (or transport, "
                    "cancelled)"},
    [M_REQUEST_SECONDS] = {"servo_optimizer_request_duration_seconds", "histogram",
                           "Latency of the requests to the optimizer"},
    [M_RETRIES] = {"servo_optimizer_retries_total", "counter",
                   "Requests to the optimizer retried after a failure"},
    [M_TRIAL] = {"servo_trial", "gauge",
                 "MEASURE commands started so far: the current (or last) trial"},
    [M_SETTING] = {"servo_setting", "gauge", "The value of each setting after the last ADJUST"},
};

struct series {
    enum metric metric;
    char *labels; /* `key="value",...`, escaped */
    double value;
    struct histogram histogram;
};

struct servo_state {
    char *name;
    bool checks_expected, checks_passed, reachable, stopped, failed;
    char doing[64];
    double deadline; /* monotonic; 0: none */
};

static atomic_bool enabled;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series *series;
static size_t series_count;
static struct servo_state *servos;
static size_t servo_count;
static double started_at; /* epoch seconds */

void status_enable(void)
{
    pthread_mutex_lock(&lock);
    if (started_at == 0)
        started_at = (double)time(NULL);
    pthread_mutex_unlock(&lock);
    atomic_store(&enabled, true);
}

bool status_enabled(void)
{
    return atomic_load(&enabled);
}

void status_reset(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < series_count; i++)
        free(series[i].labels);
    for (size_t i = 0; i < servo_count; i++)
        free(servos[i].name);
    free(series);
    free(servos);
    series = NULL;
    servos = NULL;
    series_count = servo_count = 0;
    pthread_mutex_unlock(&lock);
    atomic_store(&enabled, false);
}

/* Called with the lock held. */
static struct servo_state *servo_state(const char *name)
{
    for (size_t i = 0; i < servo_count; i++)
        if (strcmp(servos[i].name, name) == 0)
            return &servos[i];
    servos = xrealloc(servos, (servo_count + 1) * sizeof *servos);
    struct servo_state *s = &servos[servo_count++];
    *s = (struct servo_state){.name = xstrdup(name)};
    return s;
}

/* `servo="S",k1="v1",...` for NULL-terminated key/value pairs (caller frees). */
static char *labels_of(const char *servo, const char *const *pairs)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "servo=");
    metric_label_value(&sb, servo);
    for (size_t i = 0; pairs[i] != NULL; i += 2) {
        strbuf_printf(&sb, ",%s=", pairs[i]);
        metric_label_value(&sb, pairs[i + 1]);
    }
    return strbuf_detach(&sb);
}

/* The series of `metric` with these labels, made when new. Called with the lock held. */
static struct series *series_of(enum metric metric, const char *servo, const char *const *pairs)
{
    char *labels = labels_of(servo, pairs);
    for (size_t i = 0; i < series_count; i++) {
        if (series[i].metric == metric && strcmp(series[i].labels, labels) == 0) {
            free(labels);
            return &series[i];
        }
    }
    series = xrealloc(series, (series_count + 1) * sizeof *series);
    struct series *s = &series[series_count++];
    *s = (struct series){.metric = metric, .labels = labels};
    return s;
}

static void add(enum metric metric, const char *servo, const char *const *pairs, double value)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    series_of(metric, servo, pairs)->value += value;
    pthread_mutex_unlock(&lock);
}

static void set(enum metric metric, const char *servo, const char *const *pairs, double value)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    series_of(metric, servo, pairs)->value = value;
    pthread_mutex_unlock(&lock);
}

static void observe(enum metric metric, const char *servo, const char *const *pairs, double seconds)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    histogram_observe(&series_of(metric, servo, pairs)->histogram, seconds);
    pthread_mutex_unlock(&lock);
}

void status_servo(const char *servo, bool checks_expected)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    servo_state(servo)->checks_expected = checks_expected;
    pthread_mutex_unlock(&lock);
}

void status_checks_passed(const char *servo, bool passed)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    servo_state(servo)->checks_passed = passed;
    pthread_mutex_unlock(&lock);
}

void status_doing(const char *servo, const char *what, double seconds)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    struct servo_state *s = servo_state(servo);
    snprintf(s->doing, sizeof s->doing, "%s", what);
    s->deadline = seconds > 0 ? clock_monotonic() + seconds : 0;
    pthread_mutex_unlock(&lock);
}

void status_stopped(const char *servo, bool failed)
{
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    struct servo_state *s = servo_state(servo);
    s->stopped = true;
    s->failed = failed;
    s->deadline = 0;
    pthread_mutex_unlock(&lock);
}

void status_event(const char *servo, const char *event, const char *outcome, double seconds)
{
    const char *const counted[] = {"event", event, "outcome", outcome, NULL};
    const char *const timed[] = {"event", event, NULL};
    add(M_EVENTS, servo, counted, 1);
    observe(M_EVENT_SECONDS, servo, timed, seconds);
}

void status_request(const char *servo, const char *event, const char *status, double seconds)
{
    const char *const counted[] = {"event", event, "status", status, NULL};
    const char *const timed[] = {"event", event, NULL};
    add(M_REQUESTS, servo, counted, 1);
    observe(M_REQUEST_SECONDS, servo, timed, seconds);
    if (!status_enabled())
        return;
    pthread_mutex_lock(&lock);
    servo_state(servo)->reachable =
        strcmp(status, "transport") != 0 && strcmp(status, "cancelled") != 0;
    pthread_mutex_unlock(&lock);
}

void status_retry(const char *servo, const char *event)
{
    const char *const pairs[] = {"event", event, NULL};
    add(M_RETRIES, servo, pairs, 1);
}

void status_trial(const char *servo, double trial)
{
    const char *const none[] = {NULL};
    set(M_TRIAL, servo, none, trial);
}

void status_setting(const char *servo, const char *component, const char *setting, double value)
{
    const char *const pairs[] = {"component", component, "setting", setting, NULL};
    set(M_SETTING, servo, pairs, value);
}

/* ---- rendering ---------------------------------------------------------------------------- */

static void render_series(struct strbuf *sb)
{
    for (int m = 0; m < M_METRIC_COUNT; m++) {
        bool headed = false;
        for (size_t i = 0; i < series_count; i++) {
            const struct series *s = &series[i];
            if (s->metric != (enum metric)m)
                continue;
            if (!headed)
                metric_header(sb, metrics[m].name, metrics[m].type, metrics[m].help);
            headed = true;
            if (strcmp(metrics[m].type, "histogram") == 0)
                histogram_render(sb, metrics[m].name, s->labels, &s->histogram);
            else
                strbuf_printf(sb, "%s{%s} %.17g\n", metrics[m].name, s->labels, s->value);
        }
    }
}

/* Resident and virtual memory in bytes, from /proc/self/statm. */
static void memory_of_self(double *resident, double *virtual_size)
{
    unsigned long pages = 0, resident_pages = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &pages, &resident_pages) != 2)
            pages = resident_pages = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    *resident = (double)resident_pages * page;
    *virtual_size = (double)pages * page;
}

static void render_process(struct strbuf *sb)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
                 (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
    double resident, virtual_size;
    memory_of_self(&resident, &virtual_size);
    metric_header(sb, "process_cpu_seconds_total", "counter",
                  "User and system CPU time of the servo");
    strbuf_printf(sb, "process_cpu_seconds_total %.6f\n", cpu);
    metric_header(sb, "process_resident_memory_bytes", "gauge", "Resident memory of the servo");
    strbuf_printf(sb, "process_resident_memory_bytes %.0f\n", resident);
    metric_header(sb, "process_virtual_memory_bytes", "gauge", "Virtual memory of the servo");
    strbuf_printf(sb, "process_virtual_memory_bytes %.0f\n", virtual_size);
    metric_header(sb, "process_start_time_seconds", "gauge",
                  "When the servo started listening, in seconds since the epoch");
    strbuf_printf(sb, "process_start_time_seconds %.0f\n", started_at);
}

static void render_servos(struct strbuf *sb)
{
    metric_header(sb, "servo_up", "gauge",
                  "1 while the servo's run loop is alive and within its deadline");
    double now = clock_monotonic();
    for (size_t i = 0; i < servo_count; i++) {
        const struct servo_state *s = &servos[i];
        bool up = !s->stopped && (s->deadline == 0 || now <= s->deadline + STATUS_GRACE_SECONDS);
        strbuf_puts(sb, "servo_up{servo=");
        metric_label_value(sb, s->name);
        strbuf_printf(sb, "} %d\n", up ? 1 : 0);
    }
}

char *status_metrics_text(void)
{
    struct strbuf sb;
    strbuf_init(&sb);
    pthread_mutex_lock(&lock);
    render_servos(&sb);
    render_series(&sb);
    render_process(&sb);
    pthread_mutex_unlock(&lock);
    return strbuf_detach(&sb);
}

/* Why one servo is not alive (or not ready), else NULL; static text or `buffer`. */
static const char *servo_problem(const struct servo_state *s, bool ready, double now, char *buffer,
                                 size_t size)
{
    if (s->stopped)
        return s->failed ? "its run loop had to stop" : "its run loop has ended";
    if (s->deadline > 0 && now > s->deadline + STATUS_GRACE_SECONDS) {
        snprintf(buffer, size, "stuck in %s, %.0fs past its deadline", s->doing, now - s->deadline);
        return buffer;
    }
    if (!ready)
        return NULL;
    if (s->checks_expected && !s->checks_passed)
        return "its checks have not passed";
    if (!s->reachable)
        return "the optimizer has not answered (or not since its last failure)";
    return NULL;
}

int status_health(bool ready, struct strbuf *why)
{
    double now = clock_monotonic();
    int status = 200;
    pthread_mutex_lock(&lock);
    if (servo_count == 0) {
        strbuf_puts(why, "no servo is running yet\n");
        status = 503;
    }
    for (size_t i = 0; i < servo_count; i++) {
        char buffer[128];
        const char *problem = servo_problem(&servos[i], ready, now, buffer, sizeof buffer);
        if (problem == NULL)
            continue;
        strbuf_printf(why, "servo %s: %s\n", servos[i].name, problem);
        status = 503;
    }
    pthread_mutex_unlock(&lock);
    return status;
}
