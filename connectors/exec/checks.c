/* The exec connector's checks: every configured command can be found and executed, and the
 * describe command prints a valid description. */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The configured commands, in the order describe, adjust, measure. */
static size_t configured_commands(const struct exec_settings *s, const char *names[3],
                                  const char *commands[3])
{
    const char *all_names[] = {"describe", "adjust", "measure"};
    const char *all_commands[] = {s->describe, s->adjust, s->measure};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        if (all_commands[i] == NULL)
            continue;
        if (names)
            names[n] = all_names[i];
        if (commands)
            commands[n] = all_commands[i];
        n++;
    }
    return n;
}

static size_t command_count(struct servo_connector *c)
{
    return configured_commands(servo_connector_settings(c), NULL, NULL);
}

static const char *command_label(struct servo_connector *c, size_t index)
{
    const char *names[3] = {NULL, NULL, NULL};
    configured_commands(servo_connector_settings(c), names, NULL);
    return index < 3 ? names[index] : NULL;
}

/* The program a shell command line starts with: leading NAME=VALUE assignments skipped,
 * quotes removed (caller frees; "" when there is none). */
static char *program_word(const char *command)
{
    const char *p = command;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        const char *end = p;
        while (*end && !isspace((unsigned char)*end))
            end++;
        const char *equals = memchr(p, '=', (size_t)(end - p));
        bool assignment = equals != NULL && equals > p && (isalpha((unsigned char)*p) || *p == '_');
        if (!assignment || *end == '\0')
            break;
        p = end;
    }
    char quote = (*p == '"' || *p == '\'') ? *p : '\0';
    if (quote)
        p++;
    size_t length = 0;
    while (p[length] && (quote ? p[length] != quote : !isspace((unsigned char)p[length])))
        length++;
    return servo_strdup_printf("%.*s", (int)length, p);
}

/* A path (it has a slash): an executable regular file, relative to the working directory. */
static int check_path(const struct exec_settings *s, const char *word, struct servo_check *check)
{
    const char *dir = s->working_dir.path;
    bool here = dir == NULL || strcmp(dir, ".") == 0;
    while (!here && word[0] == '.' && word[1] == '/')
        word += 2; /* "./describe.sh" in "dir": dir/describe.sh, not dir/./describe.sh */
    char *path = word[0] == '/' || here ? servo_strdup_printf("%s", word)
                                        : servo_strdup_printf("%s/%s", dir, word);
    struct stat st;
    int rc = 0;
    if (stat(path, &st) != 0)
        rc = servo_check_fail(check, "%s: no such file", path);
    else if (!S_ISREG(st.st_mode))
        rc = servo_check_fail(check, "%s: not a regular file", path);
    else if (access(path, X_OK) != 0)
        rc = servo_check_fail(check, "%s: not executable", path);
    else
        servo_check_message(check, "%s is executable", path);
    free(path);
    return rc;
}

/* A name: what the shell finds for it (a builtin, or a program on PATH). */
static int check_name(struct servo_connector *c, struct servo_event *event, const char *word,
                      struct servo_check *check)
{
    const struct exec_settings *s = servo_connector_settings(c);
    char *variable = servo_strdup_printf("SERVO_CHECK_PROGRAM=%s", word);
    const char *environment[] = {variable, NULL};
    struct servo_process p = {.command = "command -v -- \"$SERVO_CHECK_PROGRAM\"",
                              .environment = environment,
                              .working_dir = s->working_dir.path,
                              .timeout = 10 * SERVO_SECOND};
    struct servo_process_result r;
    struct servo_error error = {0};
    int rc = servo_event_run(event, &p, &r, &error);
    free(variable);
    if (rc != 0)
        return servo_check_fail(check, "%s", error.message);
    if (r.exit_code != 0)
        rc = servo_check_fail(check, "%s: command not found", word);
    else
        servo_check_message(check, "%s is %.*s", word, (int)strcspn(r.output, "\n"), r.output);
    servo_process_result_free(&r);
    return rc;
}

static int run_executable(struct servo_connector *c, struct servo_event *event, size_t item,
                          struct servo_check *check)
{
    const struct exec_settings *s = servo_connector_settings(c);
    const char *commands[3] = {NULL, NULL, NULL};
    size_t n = configured_commands(s, NULL, commands);
    if (item >= n)
        return servo_check_fail(check, "no such command");
    char *word = program_word(commands[item]);
    int rc;
    if (word[0] == '\0')
        rc = servo_check_fail(check, "the command line \"%s\" runs nothing", commands[item]);
    else if (strchr(word, '/') != NULL)
        rc = check_path(s, word, check);
    else
        rc = check_name(c, event, word, check);
    free(word);
    return rc;
}

/* Runs the describe command through the describe event's handler, as `servo describe`. */
static int run_describe_check(struct servo_connector *c, struct servo_event *event, size_t item,
                              struct servo_check *check)
{
    (void)item;
    const struct exec_settings *s = servo_connector_settings(c);
    if (s->describe == NULL) {
        servo_check_message(check, "no describe command: the static description is used");
        return 0;
    }
    struct servo_error error = {0};
    struct servo_description *d = exec_describe(c, event, &error);
    if (d == NULL)
        return servo_check_fail(check, "%s", error.message);
    size_t settings = 0;
    for (size_t i = 0; i < d->component_count; i++)
        settings += d->components[i].setting_count;
    servo_check_message(check, "described %zu components (%zu settings) and %zu metrics",
                        d->component_count, settings, d->metric_count);
    servo_description_free(d);
    return 0;
}

const struct servo_check_def exec_checks[] = {
    {.name = "The {item} command is executable",
     .description = "The program each configured command line starts can be found and run.",
     .tags = "exec",
     .hint = "Check the command line, the file's execute permission and working_dir.",
     .run = run_executable,
     .item_count = command_count,
     .item_label = command_label},
    {.name = "The describe command succeeds",
     .description = "The describe command runs and prints a valid description.",
     .tags = "exec",
     .hint = "Run the describe command by hand: its last line must be the description JSON.",
     .run = run_describe_check},
    {.name = NULL},
};
