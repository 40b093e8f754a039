// SPDX-License-Identifier: Apache-2.0
/* servo-exec's own configuration shape: stages of tasks (pre, start, stop, post) that prepare,
 * start, stop and clean up around a measurement. The stages become one measure command, a
 * shell script run through the driver protocol like any other; and working_dir, resolved
 * against the directory of the file it was written in. */
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "servo/buf.h"

/* ---- working_dir ------------------------------------------------------------------------ */

/* The directory `source` (a file name) is in, or NULL when the value came from elsewhere (an
 * environment variable "$NAME", a default, standard input). Caller frees. */
static char *source_directory(const struct servo_node *node)
{
    const char *source = node ? servo_node_source(node) : NULL;
    if (source == NULL || source[0] == '\0' || source[0] == '$' || source[0] == '<' ||
        strcmp(source, "-") == 0)
        return NULL;
    char *copy = servo_strdup_printf("%s", source);
    char *dir = servo_strdup_printf("%s", dirname(copy));
    free(copy);
    return dir;
}

static char *join_directory(const char *base, const char *path)
{
    if (base == NULL || path[0] == '/' || strcmp(base, ".") == 0)
        return servo_strdup_printf("%s", path);
    if (strcmp(path, ".") == 0 || strcmp(path, "./") == 0)
        return servo_strdup_printf("%s", base);
    if (strncmp(path, "./", 2) == 0)
        path += 2;
    return servo_strdup_printf("%s/%s", base, path);
}

static int parse_dir(const struct servo_node *node, void *dst, struct servo_validation *v)
{
    struct exec_dir *dir = dst;
    if (servo_node_kind(node) != SERVO_NODE_SCALAR)
        return servo_validation_error(v, NULL, "expected a directory (a string), got %s",
                                      servo_node_describe(node));
    const char *text = servo_node_text(node);
    if (text[0] == '\0')
        return servo_validation_error(v, NULL, "must not be empty");
    char *base = source_directory(node);
    dir->given = servo_strdup_printf("%s", text);
    dir->path = join_directory(base, text);
    free(base);
    return 0;
}

static void free_dir(void *dst)
{
    struct exec_dir *dir = dst;
    free(dir->given);
    free(dir->path);
    dir->given = dir->path = NULL;
}

static json_t *dir_to_json(const void *src, bool show_secrets)
{
    (void)show_secrets;
    const struct exec_dir *dir = src;
    return dir->given ? json_string(dir->given) : json_null();
}

const struct servo_custom_type exec_dir_type = {
    .size = sizeof(struct exec_dir),
    .parse = parse_dir,
    .free = free_dir,
    .to_json = dir_to_json,
    .json_schema = "{\"type\": [\"string\", \"null\"], \"minLength\": 1}",
};

/* ---- the task table --------------------------------------------------------------------- */

static int refuse_request(const struct servo_node *node, void *dst, struct servo_validation *v)
{
    (void)node;
    (void)dst;
    return servo_validation_error(v, NULL,
                                  "request tasks are not supported: make the request with "
                                  "shell_exec (e.g. curl -fsS URL)");
}

static void free_nothing(void *dst)
{
    (void)dst;
}

static json_t *nothing_to_json(const void *src, bool show_secrets)
{
    (void)src;
    (void)show_secrets;
    return json_null();
}

static const struct servo_custom_type request_type = {
    .size = sizeof(char),
    .parse = refuse_request,
    .free = free_nothing,
    .to_json = nothing_to_json,
    .json_schema = "{\"type\": \"null\"}",
};

static int validate_task(const void *value, struct servo_validation *v)
{
    const struct exec_task *t = value;
    if (t->exec.count > 0 && t->shell_exec.count > 0)
        return servo_validation_error(v, "shell_exec", "a task has exec or shell_exec, not both");
    if (t->exec.count == 0 && t->shell_exec.count == 0)
        return servo_validation_error(v, NULL, "a task needs exec or shell_exec");
    return 0;
}

static const struct servo_field word_item = {.type = SERVO_FIELD_STRING};

static const struct servo_field task_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct exec_task, name),
     .description = "The task's name in logs and messages."},
    {.name = "async",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct exec_task, async),
     .def = "false",
     .description = "Start the task in the background; it is stopped after the stop stage."},
    {.name = "ignore_exitcode",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct exec_task, ignore_exitcode),
     .def = "false",
     .description = "A failure of the task does not fail the measurement (always so in post)."},
    {.name = "notify",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct exec_task, notify),
     .def = "false",
     .description = "Accepted for servo-exec files; the task's output always goes to the "
                    "servo's log (debug)."},
    {.name = "retries",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct exec_task, retries),
     .flags = SERVO_F_MIN,
     .min = 0,
     .def = "0",
     .description = "How many more times a failed task is run."},
    {.name = "timeout",
     .type = SERVO_FIELD_FLOAT,
     .offset = offsetof(struct exec_task, timeout),
     .flags = SERVO_F_MIN,
     .min = 0.001,
     .description = "Seconds the task may run (each try); no limit but the command's when "
                    "not given."},
    {.name = "exec",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_task, exec),
     .item = &word_item,
     .shorthand = "",
     .description = "A program and its arguments (a string: the program alone)."},
    {.name = "shell_exec",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct exec_task, shell_exec),
     .item = &word_item,
     .shorthand = "",
     .description = "A shell command line, then the shell's own arguments."},
    {.name = "request",
     .type = SERVO_FIELD_CUSTOM,
     .offset = offsetof(struct exec_task, request),
     .custom = &request_type,
     .flags = SERVO_F_NO_ENV,
     .description = "servo-exec's HTTP request task: not supported (use shell_exec and curl)."},
    SERVO_FIELDS_END,
};

static const struct servo_schema task_schema = {
    .title = "Task",
    .description = "A task of a servo-exec stage.",
    .size = sizeof(struct exec_task),
    .fields = task_fields,
    .validate = validate_task,
};

const struct servo_field exec_task_item = {.type = SERVO_FIELD_OBJECT, .object = &task_schema};

/* ---- the script ------------------------------------------------------------------------- */

bool exec_has_stages(const struct exec_stages *stages)
{
    return stages->pre.count + stages->start.count + stages->stop.count + stages->post.count > 0;
}

static const char script_prelude[] =
    "set -u\n"
    "servo_pids=''\n"
    "servo_task() { # RETRIES TIMEOUT PROGRAM ARGUMENTS...\n"
    "  servo_tries=$1; servo_limit=$2; shift 2\n"
    "  while :; do\n"
    "    if [ \"$servo_limit\" = - ]; then \"$@\"; else timeout \"$servo_limit\" \"$@\"; fi "
    "&& return 0\n"
    "    [ \"$servo_tries\" -gt 0 ] || return 1\n"
    "    servo_tries=$((servo_tries - 1))\n"
    "  done\n"
    "}\n"
    "servo_stop_async() {\n"
    "  for p in $servo_pids; do kill \"$p\" 2>/dev/null; done\n"
    "  [ -z \"$servo_pids\" ] || wait\n"
    "  servo_pids=''\n"
    "}\n";

static void put_word(struct servo_buf *b, const char *word)
{
    char *quoted = servo_shell_quote(word);
    servo_buf_putc(b, ' ');
    servo_buf_puts(b, quoted);
    free(quoted);
}

/* "pre task \"x\" failed" as a protocol failure line, shell-quoted. */
static void put_failure(struct servo_buf *b, const char *stage, size_t index,
                        const struct exec_task *t)
{
    char *message = t->name ? servo_strdup_printf("the %s task \"%s\" failed", stage, t->name)
                            : servo_strdup_printf("the %s task %zu failed", stage, index + 1);
    json_t *line = json_pack("{s:s, s:s, s:s}", "status", "failed", "reason", "task-failed",
                             "message", message);
    char *text = servo_json_text(line, JSON_COMPACT);
    servo_buf_puts(b, " || servo_fail");
    put_word(b, text);
    free(text);
    json_decref(line);
    free(message);
}

static void put_task(struct servo_buf *b, const char *stage, size_t index,
                     const struct exec_task *t, bool must_succeed)
{
    char limit[32] = "-";
    if (!isnan(t->timeout))
        snprintf(limit, sizeof limit, "%g", t->timeout);
    /* an async task is started alone, so that $! is the program (or timeout) to stop */
    if (t->async && strcmp(limit, "-") != 0)
        servo_buf_printf(b, "timeout %s", limit);
    else if (!t->async)
        servo_buf_printf(b, "servo_task %lld %s", (long long)t->retries, limit);
    const struct servo_list *words = t->exec.count > 0 ? &t->exec : &t->shell_exec;
    if (words == &t->shell_exec) {
        put_word(b, "sh");
        put_word(b, "-c");
    }
    char *const *items = words->items;
    for (size_t i = 0; i < words->count; i++)
        put_word(b, items[i]);
    servo_buf_puts(b, " >&2");
    if (t->async)
        servo_buf_puts(b, " & servo_pids=\"$servo_pids $!\"");
    else if (must_succeed && !t->ignore_exitcode)
        put_failure(b, stage, index, t);
    else
        servo_buf_puts(b, " || :");
    servo_buf_putc(b, '\n');
}

static void put_stage(struct servo_buf *b, const char *stage, const struct servo_list *tasks,
                      bool must_succeed)
{
    const struct exec_task *items = tasks->items;
    for (size_t i = 0; i < tasks->count; i++)
        put_task(b, stage, i, &items[i], must_succeed);
}

char *exec_stages_script(const struct exec_stages *stages)
{
    struct servo_buf b = {0};
    servo_buf_puts(&b, script_prelude);
    servo_buf_puts(&b, "servo_post() {\n");
    put_stage(&b, "post", &stages->post, false);
    servo_buf_puts(&b, ":\n}\n");
    servo_buf_puts(&b, "servo_fail() { servo_stop_async; servo_post; printf '%s\\n' \"$1\"; "
                       "exit 0; }\n");
    put_stage(&b, "pre", &stages->pre, true);
    put_stage(&b, "start", &stages->start, true);
    servo_buf_puts(&b, "echo '{\"progress\": 0, \"message\": \"measuring\"}'\n"
                       "sleep \"${SERVO_DURATION:-0}\"\n");
    put_stage(&b, "stop", &stages->stop, true);
    servo_buf_puts(&b, "servo_stop_async\nservo_post\necho '{\"status\": \"ok\"}'\n");
    return servo_buf_detach(&b);
}
