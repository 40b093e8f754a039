/* The exec connector's parts, shared between its files: running one command of the driver
 * protocol (protocol.c), the event handlers (handlers.c) and the checks (checks.c). */
#ifndef SERVO_CONNECTOR_EXEC_INTERNAL_H
#define SERVO_CONNECTOR_EXEC_INTERNAL_H

#include <stddef.h>

#include <jansson.h>

#include "exec.h"
#include "servo/alloc.h"
#include "servo/checks.h"
#include "servo/events.h"
#include "servo/model.h"
#include "servo/util.h"

/* Longest stderr tail quoted in a failure message. */
#define EXEC_STDERR_TAIL_MAX 4096
/* Longest piece of a bad result line quoted in a failure message. */
#define EXEC_QUOTE_MAX 200
/* Stdout beyond this fails a command ("output-too-large"). */
#define EXEC_MAX_OUTPUT (16u * 1024u * 1024u)

/* A NULL-terminated list of NAME=VALUE entries for a command's environment. */
struct exec_env {
    char **items;
    size_t count;
    size_t capacity;
};

void exec_env_add(struct exec_env *env, const char *name, const char *value);
void exec_env_free(struct exec_env *env);
/* Whether NAME is already set in the list. */
bool exec_env_has(const struct exec_env *env, const char *name);
/* "web-1.cpu" -> "WEB_1_CPU": upper case, anything but [A-Z0-9] becomes '_' (caller frees). */
char *exec_env_name(const char *text);
/* A number as a command sees it: "1", "1.5", "0.25" (at most 15 significant digits). */
void exec_format_number(double value, char buf[32]);

/* One command of the protocol. */
struct exec_call {
    const char *what;    /* "describe", "measure", "adjust": names the command in messages */
    const char *command; /* run with /bin/sh -c */
    json_t *input;       /* written to stdin as one line of JSON; NULL: no input */
    const struct exec_env *environment; /* the protocol's variables (the settings' are added) */
    enum servo_error_kind failure;      /* how a failure is reported */
};

/* Runs the call's command under the event, forwarding its progress lines, and returns its
 * result (a new reference to a JSON object whose status, if any, is "ok"); NULL with
 * `error` filled with the call's failure kind and a reason ("timeout", "exit-status",
 * "invalid-output", the driver's own reason, ...). */
json_t *exec_call_run(struct servo_connector *connector, struct servo_event *event,
                      const struct exec_call *call, struct servo_error *error);

/* Runs the describe command (as on describe): its description, or NULL with `error` filled. */
struct servo_description *exec_describe(struct servo_connector *connector,
                                        struct servo_event *event, struct servo_error *error);

/* The metric units, indexed by enum exec_unit; NULL-terminated. */
extern const char *const exec_unit_choices[];
extern const struct servo_handler exec_handlers[];
/* working_dir (stages.c) and a task of a servo-exec stage. */
extern const struct servo_custom_type exec_dir_type;
extern const struct servo_field exec_task_item;
extern const struct servo_check_def exec_checks[];
int exec_init(struct servo_connector *connector, struct servo_error *error);
void exec_fini(struct servo_connector *connector);

#endif
