/* The scripts connector: for each preposition, event names to command lines, run in order
 * by the shell when the event is dispatched. One generic handler serves every standard event
 * and preposition; it looks the event's commands up in the settings. */
#include "scripts.h"

#include <ctype.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/alloc.h"
#include "servo/events.h"
#include "servo/log.h"
#include "servo/util.h"

/* Longest stderr tail quoted in a failure message. */
#define STDERR_TAIL_MAX 1024

static const char *const standard_events[] = {"attach",  "detach",     "startup", "shutdown",
                                              "metrics", "components", "check",   "describe",
                                              "measure", "adjust",     "promote", NULL};

#define EVENT_LIST                                                                       \
    "attach, detach, startup, shutdown, metrics, components, check, describe, measure, " \
    "adjust, promote"

static int validate_events(const void *value, struct servo_validation *v)
{
    const struct servo_map *map = value;
    int rc = 0;
    for (size_t i = 0; i < map->count; i++) {
        bool known = false;
        for (size_t j = 0; standard_events[j] && !known; j++)
            known = strcmp(standard_events[j], map->keys[i]) == 0;
        if (!known)
            rc = servo_validation_error(v, map->keys[i],
                                        "unknown event \"%s\" (expected one of: " EVENT_LIST ")",
                                        map->keys[i]);
    }
    return rc;
}

static const struct servo_field command_item = {
    .type = SERVO_FIELD_STRING,
    .flags = SERVO_F_NONEMPTY,
    .description = "A command line, run by /bin/sh.",
};

static const struct servo_field commands_item = {
    .type = SERVO_FIELD_LIST,
    .item = &command_item,
    .shorthand = "command",
    .description = "Command lines run in order; a single string is one command.",
};

static const struct servo_field scripts_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct scripts_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "before",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct scripts_settings, before),
     .item = &commands_item,
     .validate = validate_events,
     .description = "Commands run before an event, by event name (e.g. measure: [./warm-up])."},
    {.name = "on",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct scripts_settings, on),
     .item = &commands_item,
     .validate = validate_events,
     .description = "Commands run as an event's handler, by event name."},
    {.name = "after",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct scripts_settings, after),
     .item = &commands_item,
     .validate = validate_events,
     .description = "Commands run after an event, by event name."},
    SERVO_FIELDS_END,
};

static const struct servo_schema scripts_schema = {
    .title = "Scripts Connector Configuration Schema",
    .description = "Shell commands run before, on or after events; a command that exits with "
                   "a non-zero status fails the event.",
    .size = sizeof(struct scripts_settings),
    .fields = scripts_fields,
};

/* ---- running the commands --------------------------------------------------------------- */

static const char *preposition_name(enum servo_preposition p)
{
    switch (p) {
    case SERVO_BEFORE:
        return "before";
    case SERVO_AFTER:
        return "after";
    case SERVO_ON:
        break;
    }
    return "on";
}

static const struct servo_map *commands_map(const struct scripts_settings *s,
                                            enum servo_preposition p)
{
    switch (p) {
    case SERVO_BEFORE:
        return &s->before;
    case SERVO_AFTER:
        return &s->after;
    case SERVO_ON:
        break;
    }
    return &s->on;
}

/* The command lines configured for this event and preposition, or NULL. */
static const struct servo_list *event_commands(const struct scripts_settings *s,
                                               const struct servo_event *event)
{
    const struct servo_map *map = commands_map(s, servo_event_preposition(event));
    const struct servo_list *lists = map->values;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], servo_event_name(event)) == 0)
            return &lists[i];
    return NULL;
}

static enum servo_error_kind failure_kind(const struct servo_event *event)
{
    if (strcmp(servo_event_name(event), SERVO_EVENT_MEASURE) == 0)
        return SERVO_ERROR_MEASUREMENT_FAILED;
    if (strcmp(servo_event_name(event), SERVO_EVENT_ADJUST) == 0)
        return SERVO_ERROR_ADJUSTMENT_FAILED;
    return SERVO_ERROR_FAILED;
}

/* The end of stderr, trimmed, at most STDERR_TAIL_MAX bytes. */
static const char *stderr_tail(struct servo_process_result *r)
{
    if (r->errors == NULL)
        return "";
    size_t length = r->errors_length;
    while (length > 0 && isspace((unsigned char)r->errors[length - 1]))
        r->errors[--length] = '\0';
    size_t start = length > STDERR_TAIL_MAX ? length - STDERR_TAIL_MAX : 0;
    while (start < length && ((unsigned char)r->errors[start] & 0xC0) == 0x80)
        start++;
    return r->errors + start;
}

/* Fails the event when the command did not exit with status 0. Returns 0 when it did. */
static int check_outcome(struct servo_event *event, const char *label, const char *command,
                         struct servo_process_result *r)
{
    enum servo_error_kind kind = failure_kind(event);
    const char *tail = stderr_tail(r);
    const char *sep = tail[0] ? ": " : "";
    if (r->cancelled)
        return servo_event_fail(event, kind, "cancelled", "%s script \"%s\" was cancelled", label,
                                command);
    if (r->timed_out)
        return servo_event_fail(event, kind, "timeout",
                                "%s script \"%s\" was stopped at the event's deadline%s%s", label,
                                command, sep, tail);
    if (r->output_overflow)
        return servo_event_fail(event, kind, "output-too-large",
                                "%s script \"%s\" printed too much output", label, command);
    if (r->signal != 0) {
        const char *name = sigabbrev_np(r->signal);
        return servo_event_fail(event, kind, "signal",
                                "%s script \"%s\" was killed by signal %d (SIG%s)%s%s", label,
                                command, r->signal, name ? name : "?", sep, tail);
    }
    if (r->exit_code != 0)
        return servo_event_fail(event, kind, "exit-status",
                                "%s script \"%s\" exited with status %d%s%s", label, command,
                                r->exit_code, sep, tail);
    return 0;
}

static int run_command(struct servo_event *event, const char *label, const char *command)
{
    char *variables[2] = {
        servo_strdup_printf("SERVO_EVENT=%s", servo_event_name(event)),
        servo_strdup_printf("SERVO_PREPOSITION=%s",
                            preposition_name(servo_event_preposition(event))),
    };
    const char *environment[] = {variables[0], variables[1], NULL};
    struct servo_process p = {.command = command, .environment = environment};
    struct servo_process_result r;
    struct servo_error error = {0};
    servo_debug("running %s script: %s", label, command);
    int rc = servo_event_run(event, &p, &r, &error);
    free(variables[0]);
    free(variables[1]);
    if (rc != 0)
        return servo_event_fail(event, failure_kind(event), "start-failed", "%s script: %s", label,
                                error.message);
    if (r.output_length > 0)
        servo_debug("%s script \"%s\" printed: %s", label, command, r.output);
    rc = check_outcome(event, label, command, &r);
    servo_process_result_free(&r);
    return rc;
}

/* The handler of every event and preposition: runs the configured commands in order and
 * stops at the first that fails. */
static int run_scripts(struct servo_connector *c, struct servo_event *event)
{
    const struct scripts_settings *s = servo_connector_settings(c);
    const struct servo_list *commands = event_commands(s, event);
    enum servo_preposition p = servo_event_preposition(event);
    char label[64];
    if (p == SERVO_ON)
        snprintf(label, sizeof label, "%s", servo_event_name(event));
    else
        snprintf(label, sizeof label, "%s:%s", preposition_name(p), servo_event_name(event));
    char *const *lines = commands ? commands->items : NULL;
    for (size_t i = 0; commands && i < commands->count; i++)
        if (run_command(event, label, lines[i]) != 0)
            return -1;
    /* `on check` answers with a list of checks: none */
    if (p == SERVO_ON && strcmp(servo_event_name(event), SERVO_EVENT_CHECK) == 0)
        servo_event_set_value(event, json_array());
    return 0;
}

#define SCRIPTS_EVENT(name)                                      \
    {                                                            \
        name, SERVO_BEFORE | SERVO_ON | SERVO_AFTER, run_scripts \
    }

static const struct servo_handler scripts_handlers[] = {
    SCRIPTS_EVENT(SERVO_EVENT_ATTACH),  SCRIPTS_EVENT(SERVO_EVENT_DETACH),
    SCRIPTS_EVENT(SERVO_EVENT_STARTUP), SCRIPTS_EVENT(SERVO_EVENT_SHUTDOWN),
    SCRIPTS_EVENT(SERVO_EVENT_METRICS), SCRIPTS_EVENT(SERVO_EVENT_COMPONENTS),
    SCRIPTS_EVENT(SERVO_EVENT_CHECK),   SCRIPTS_EVENT(SERVO_EVENT_DESCRIBE),
    SCRIPTS_EVENT(SERVO_EVENT_MEASURE), SCRIPTS_EVENT(SERVO_EVENT_ADJUST),
    SCRIPTS_EVENT(SERVO_EVENT_PROMOTE), {NULL, 0, NULL},
};

const struct servo_connector_plugin servo_connector_scripts = {
    SERVO_CONNECTOR_HEADER,
    .name = "scripts",
    .class_name = "ScriptsConnector",
    .version = "0.0.0",
    .description = "Run shell commands on events",
    .homepage = "https://github.com/opsani/servox",
    .license = "Apache 2.0",
    .maturity = "Experimental",
    .settings = &scripts_schema,
    .generate = "after:\n"
                "  measure: [echo measured]\n",
    .handlers = scripts_handlers,
};
