/* The wrk connector's checks: wrk can be run (`wrk -v` prints its version, and exits 1 as it
 * always does), and a 1 s run with one connection reaches the target. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define VERSION_TIMEOUT (10 * SERVO_SECOND)
#define REACH_DURATION (1 * SERVO_SECOND)

/* "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer" -> up to " Copyright". */
static int version_line(const char *output, char *out, size_t size)
{
    if (output == NULL || strncmp(output, "wrk ", 4) != 0)
        return -1;
    size_t length = strcspn(output, "\n");
    const char *copyright = strstr(output, " Copyright");
    if (copyright != NULL && (size_t)(copyright - output) < length)
        length = (size_t)(copyright - output);
    snprintf(out, size, "%.*s", (int)length, output);
    return 0;
}

static int check_present(struct servo_connector *c, struct servo_event *event, size_t item,
                         struct servo_check *check)
{
    (void)item;
    const struct wrk_settings *s = servo_connector_settings(c);
    char *binary = servo_shell_quote(s->binary);
    char *command = servo_strdup_printf("%s -v", binary);
    free(binary);
    struct servo_process p = {.command = command, .timeout = VERSION_TIMEOUT};
    struct servo_process_result r;
    struct servo_error error = {0};
    int rc = servo_event_run(event, &p, &r, &error);
    free(command);
    if (rc != 0)
        return servo_check_fail(check, "%s", error.message);
    char version[256];
    if (r.exit_code == 127)
        rc = servo_check_fail(check, "\"%s\" was not found", s->binary);
    else if (version_line(r.output, version, sizeof version) == 0)
        servo_check_message(check, "%s", version);
    else
        rc = servo_check_fail(check, "\"%s -v\" did not print a wrk version (exit status %d)",
                              s->binary, r.exit_code);
    servo_process_result_free(&r);
    return rc;
}

static int check_reachable(struct servo_connector *c, struct servo_event *event, size_t item,
                           struct servo_check *check)
{
    (void)item;
    const struct wrk_settings *s = servo_connector_settings(c);
    struct wrk_run run = {.duration = REACH_DURATION,
                          .threads = 1,
                          .connections = 1,
                          .what = "check",
                          .failure = SERVO_ERROR_FAILED};
    struct wrk_summary summary;
    struct servo_error error = {0};
    if (wrk_execute(c, event, &run, &summary, &error) != 0)
        return servo_check_fail(check, "%s", error.message);
    servo_check_message(check, "%s answered %lld requests in 1s (%.2f%% errors)", s->url,
                        (long long)summary.requests, wrk_error_rate(&summary));
    return 0;
}

const struct servo_check_def wrk_checks[] = {
    {.name = "wrk present",
     .description = "The wrk executable runs and prints its version.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "wrk,load",
     .hint = "Install wrk (Debian: apt-get install wrk) or set `binary` to its path.",
     .run = check_present},
    {.name = "target reachable",
     .description = "A 1s wrk run with one connection reaches the url.",
     .tags = "wrk,load",
     .hint = "Check the url, that the service is up, and that this host can connect to it.",
     .run = check_reachable},
    {.name = NULL},
};
