/* The vegeta connector's parts, shared between its files: the settings (vegeta.c), the
 * report parser (report.c), the attack pipeline (attack.c), the event handlers (handlers.c),
 * the checks (checks.c) and the `servo vegeta attack` command (command.c). */
#ifndef SERVO_CONNECTOR_VEGETA_INTERNAL_H
#define SERVO_CONNECTOR_VEGETA_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "report.h"
#include "servo/alloc.h"
#include "servo/checks.h"
#include "servo/events.h"
#include "servo/model.h"
#include "servo/util.h"
#include "vegeta.h"

/* How long the pipeline may outlive the attack's duration: vegeta waits for the requests in
 * flight (its -timeout, 30 s by default) before the final report. */
#define VEGETA_GRACE (60 * SERVO_SECOND)
/* The longest stderr excerpt quoted in a failure message. */
#define VEGETA_STDERR_MAX 1500
/* The checks' attack. */
#define VEGETA_CHECK_DURATION (5 * SERVO_SECOND)
#define VEGETA_CHECK_INTERVAL (1 * SERVO_SECOND)
#define VEGETA_CHECK_MAX_ERROR_RATE 5.0

/* The pipeline `vegeta attack ... | vegeta report -type=json -every=I`, every flag written
 * -flag=value (vegeta's flag parser stops at a bare value and would drop the flags after
 * it). The `target` setting is read from stdin, a `targets` file by path (caller frees). */
char *vegeta_attack_command(const struct vegeta_settings *s, servo_duration duration,
                            servo_duration every);

/* Targets in `text` of the given format: "METHOD URL" lines (http) or JSON lines (json). */
size_t vegeta_count_targets(int format, const char *text, size_t length);
/* The targets of the settings: the `target` text or the `targets` file (0 if unreadable). */
size_t vegeta_target_count(const struct vegeta_settings *s);

/* "Loading N URL(s) for D (delay of X, warmup of Y) at a rate of R (reporting every I)"
 * (caller frees). */
char *vegeta_load_profile(const struct vegeta_settings *s, size_t urls, servo_duration duration,
                          servo_duration delay, servo_duration warmup);

/* One attack: how long, how often vegeta reports, and what to discard. */
struct vegeta_run {
    servo_duration duration;
    servo_duration every;
    servo_duration warmup; /* reports that end before start + warmup are discarded */
    enum servo_error_kind failure;
    /* Called with each report line that was kept, escape codes stripped (may be NULL). */
    void (*on_report)(void *context, const struct vegeta_report *report, const char *line);
    void *context;
    int *exit_code; /* when not NULL: the pipeline's exit status, -1 when it did not exit */
};

/* Runs the pipeline under the event (NULL: no cancellation but the timeout), as one process
 * group: a timeout, the event's deadline or its cancellation kills vegeta attack and vegeta
 * report together. The reports go to `reports` (whose warmup_until this sets); progress is
 * reported per report. Returns 0, or -1 with `error` filled (kind run->failure, a reason
 * such as "not-found", "exit-status", "timeout", "cancelled", "invalid-output",
 * "no-reports"). */
int vegeta_attack(struct servo_connector *connector, struct servo_event *event,
                  const struct vegeta_run *run, struct vegeta_reports *reports,
                  struct servo_error *error);

/* The instance's state: the checks' last attack, which "Vegeta execution" runs and the two
 * checks after it read. */
struct vegeta_state {
    pthread_mutex_t lock;
    bool check_ran;
    struct servo_error check_error; /* kind NONE when the attack succeeded */
    struct vegeta_reports check_reports;
};

int vegeta_init(struct servo_connector *connector, struct servo_error *error);
void vegeta_fini(struct servo_connector *connector);

extern const struct servo_handler vegeta_handlers[];
extern const struct servo_check_def vegeta_checks[];

/* `servo vegeta attack [-d DURATION] [-e INTERVAL] [-f text|json]`: an attack with the
 * instance's settings, each report printed as it arrives. Returns an exit status. */
int vegeta_attack_main(struct servo_connector *connector, int argc, char **argv);
extern const struct servo_command vegeta_commands[];

#endif
