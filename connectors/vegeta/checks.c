/* The vegeta connector's checks, as ServoX's: one 5 s attack reporting every second, then
 * "Vegeta execution" (it exited with status 0), "Report aggregation" (it printed reports)
 * and "Error rate < 5.0%" (in its last, cumulative report). The first check runs the attack
 * and keeps its outcome in the instance's state; the two after it read that outcome (and run
 * the attack themselves only when it has not run, e.g. under an exclusive filter). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static struct vegeta_state *state_of(struct servo_connector *c)
{
    return servo_connector_state(c);
}

/* Runs the checks' attack; keeps its outcome in the state. Returns its exit status. */
static int run_check_attack(struct servo_connector *c, struct servo_event *event)
{
    struct vegeta_state *state = state_of(c);
    int exit_code = -1;
    struct vegeta_run run = {.duration = VEGETA_CHECK_DURATION,
                             .every = VEGETA_CHECK_INTERVAL,
                             .failure = SERVO_ERROR_FAILED,
                             .exit_code = &exit_code};
    struct vegeta_reports reports = {0};
    struct servo_error error = {0};
    vegeta_attack(c, event, &run, &reports, &error);
    pthread_mutex_lock(&state->lock);
    vegeta_reports_free(&state->check_reports);
    state->check_reports = reports;
    state->check_error = error;
    state->check_ran = true;
    pthread_mutex_unlock(&state->lock);
    return exit_code;
}

static void ensure_check_attack(struct servo_connector *c, struct servo_event *event)
{
    struct vegeta_state *state = state_of(c);
    pthread_mutex_lock(&state->lock);
    bool ran = state->check_ran;
    pthread_mutex_unlock(&state->lock);
    if (!ran)
        run_check_attack(c, event);
}

/* A failure that only says what vegeta printed (it ran and exited 0 nevertheless). */
static bool is_output_problem(const struct servo_error *error)
{
    return strcmp(error->reason, "no-output") == 0 ||
           strcmp(error->reason, "invalid-output") == 0 || strcmp(error->reason, "no-reports") == 0;
}

static int check_execution(struct servo_connector *c, struct servo_event *event, size_t item,
                           struct servo_check *check)
{
    (void)item;
    int exit_code = run_check_attack(c, event);
    struct vegeta_state *state = state_of(c);
    pthread_mutex_lock(&state->lock);
    int rc = 0;
    const struct servo_error *error = &state->check_error;
    if (error->kind != SERVO_ERROR_NONE && !(exit_code == 0 && is_output_problem(error)))
        rc = servo_check_fail(check, "%s", error->message);
    else if (exit_code != 0)
        rc = servo_check_fail(check, "vegeta exited with status %d", exit_code);
    else
        servo_check_message(check, "a 5s attack ran and exited with status 0");
    pthread_mutex_unlock(&state->lock);
    return rc;
}

static int check_aggregation(struct servo_connector *c, struct servo_event *event, size_t item,
                             struct servo_check *check)
{
    (void)item;
    ensure_check_attack(c, event);
    struct vegeta_state *state = state_of(c);
    pthread_mutex_lock(&state->lock);
    int rc = 0;
    size_t count = state->check_reports.count;
    if (count > 0)
        servo_check_message(check, "%zu reports aggregated", count);
    else if (state->check_error.kind != SERVO_ERROR_NONE)
        rc = servo_check_fail(check, "no reports: %s", state->check_error.message);
    else
        rc = servo_check_fail(check, "no reports");
    pthread_mutex_unlock(&state->lock);
    return rc;
}

static int check_error_rate(struct servo_connector *c, struct servo_event *event, size_t item,
                            struct servo_check *check)
{
    (void)item;
    ensure_check_attack(c, event);
    struct vegeta_state *state = state_of(c);
    pthread_mutex_lock(&state->lock);
    int rc = 0;
    const struct vegeta_reports *reports = &state->check_reports;
    if (reports->count == 0) {
        rc = servo_check_fail(check, "no reports to compute an error rate from");
    } else {
        const struct vegeta_report *last = &reports->items[reports->count - 1];
        double rate = vegeta_metric_value(last, VEGETA_METRIC_ERROR_RATE);
        if (rate < VEGETA_CHECK_MAX_ERROR_RATE)
            servo_check_message(check, "%.2f%% errors in %lld requests", rate,
                                (long long)last->requests);
        else
            rc = servo_check_fail(check, "%.2f%% errors in %lld requests (limit %.1f%%)%s%s", rate,
                                  (long long)last->requests, VEGETA_CHECK_MAX_ERROR_RATE,
                                  last->errors ? ": " : "", last->errors ? last->errors : "");
    }
    pthread_mutex_unlock(&state->lock);
    return rc;
}

const struct servo_check_def vegeta_checks[] = {
    {.name = "Vegeta execution",
     .description = "A 5s vegeta attack with the configured targets runs and exits with status 0.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "vegeta,load",
     .hint = "Check that vegeta is installed (or `binary` points at it) and that the targets and "
             "flags are valid: run the attack command shown with --log-level DEBUG by hand.",
     .run = check_execution},
    {.name = "Report aggregation",
     .description = "The attack printed at least one JSON report.",
     .tags = "vegeta,load",
     .hint = "vegeta report -type=json must print JSON reports on its standard output.",
     .run = check_aggregation},
    {.name = "Error rate < 5.0%",
     .description = "Fewer than 5% of the attack's requests failed.",
     .tags = "vegeta,load",
     .hint = "Check that the targets are reachable and answer with 2xx or 3xx statuses.",
     .run = check_error_rate},
    {.name = NULL},
};
