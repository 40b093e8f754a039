/* The wrk connector's parts, shared between its files: the settings (wrk.c), the summary
 * line (summary.c), the Lua hook and the runs (run.c), the event handlers (handlers.c) and
 * the checks (checks.c). */
#ifndef SERVO_CONNECTOR_WRK_INTERNAL_H
#define SERVO_CONNECTOR_WRK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "servo/alloc.h"
#include "servo/checks.h"
#include "servo/events.h"
#include "servo/model.h"
#include "servo/util.h"
#include "summary.h"
#include "wrk.h"

/* How long a run may outlive its duration and request timeout before it is stopped. */
#define WRK_GRACE (30 * SERVO_SECOND)
/* The longest stderr or stdout excerpt quoted in a failure message. */
#define WRK_EXCERPT_MAX 1500
/* Stdout beyond this fails the run (wrk prints a few hundred bytes). */
#define WRK_MAX_OUTPUT (1024u * 1024u)

/* The text of the Lua hook: `script` (a user script, or NULL) run with dofile(), then a
 * done() that calls the user's done() if it defined one and prints the summary line last. */
char *wrk_hook_text(const char *script);

/* Whole seconds for wrk (which takes only s, m and h units): the duration rounded up. */
long long wrk_seconds(servo_duration duration);

/* The wrk command line for one run of `duration` with the hook at `hook_path`; `threads` and
 * `connections` override the settings when positive (caller frees). */
char *wrk_command(const struct wrk_settings *s, const char *hook_path, servo_duration duration,
                  long long threads, long long connections);

/* One run: how long, with how many threads and connections (0: the settings'). */
struct wrk_run {
    servo_duration duration;
    long long threads;
    long long connections;
    const char *what; /* "warmup", "measurement", "check": names the run in messages */
    enum servo_error_kind failure;
};

/* Runs wrk under the event (its own process group, killed on cancel or deadline) and parses
 * the summary. Returns 0, or -1 with `error` filled (kind run->failure; reasons "not-found",
 * "not-executable", "unreachable", "usage", "exit-status", "timeout", "cancelled", "signal",
 * "no-summary", "invalid-output"). */
int wrk_execute(struct servo_connector *connector, struct servo_event *event,
                const struct wrk_run *run, struct wrk_summary *summary, struct servo_error *error);

/* The instance's state: the path of the hook written at init. */
struct wrk_state {
    char *hook_path;
};

int wrk_init(struct servo_connector *connector, struct servo_error *error);
void wrk_fini(struct servo_connector *connector);

extern const struct servo_handler wrk_handlers[];
extern const struct servo_check_def wrk_checks[];

#endif
