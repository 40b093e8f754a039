/* One command of the servo-exec driver protocol: JSON on stdin, progress lines and a final
 * result line on stdout; every way the command can go wrong becomes a failure with a reason. */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "servo/log.h"

/* The highest signal number a shell's exit status 128 + N stands for (SIGRTMAX on Linux). */
#define SHELL_SIGNAL_MAX 64

/* ---- small helpers ---------------------------------------------------------------------- */

static void *check_alloc(void *p)
{
    if (p == NULL) {
        fputs("servo: exec: out of memory\n", stderr);
        abort();
    }
    return p;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void exec_format_number(double value, char buf[32])
{
    if (isfinite(value) && value == trunc(value) && fabs(value) < 1e15)
        snprintf(buf, 32, "%.0f", value);
    else
        snprintf(buf, 32, "%.15g", value);
}

/* ---- environment ------------------------------------------------------------------------ */

void exec_env_add(struct exec_env *env, const char *name, const char *value)
{
    if (env->count + 2 > env->capacity) {
        env->capacity = env->capacity ? 2 * env->capacity : 8;
        env->items = servo_xrealloc(env->items, env->capacity * sizeof *env->items);
    }
    env->items[env->count++] = servo_strdup_printf("%s=%s", name, value);
    env->items[env->count] = NULL;
}

void exec_env_free(struct exec_env *env)
{
    for (size_t i = 0; i < env->count; i++)
        free(env->items[i]);
    free(env->items);
    memset(env, 0, sizeof *env);
}

bool exec_env_has(const struct exec_env *env, const char *name)
{
    size_t length = strlen(name);
    for (size_t i = 0; i < env->count; i++)
        if (strncmp(env->items[i], name, length) == 0 && env->items[i][length] == '=')
            return true;
    return false;
}

char *exec_env_name(const char *text)
{
    char *name = servo_xstrdup(text);
    for (char *p = name; *p; p++)
        *p = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    return name;
}

/* The call's variables, then the `environment` settings they do not already set. */
static void build_environment(const struct exec_settings *s, const struct exec_call *call,
                              struct exec_env *env)
{
    for (size_t i = 0; call->environment && i < call->environment->count; i++) {
        const char *item = call->environment->items[i];
        const char *equals = strchr(item, '=');
        char *name = servo_xstrndup(item, (size_t)(equals - item));
        exec_env_add(env, name, equals + 1);
        free(name);
    }
    char **values = s->environment.values;
    for (size_t i = 0; i < s->environment.count; i++)
        if (!exec_env_has(env, s->environment.keys[i]))
            exec_env_add(env, s->environment.keys[i], values[i] ? values[i] : "");
}

/* ---- failures --------------------------------------------------------------------------- */

/* The last `max` bytes of stderr, trimmed, starting on a UTF-8 character ("" when none);
 * the caller frees. */
static char *stderr_tail(const struct servo_process_result *r, size_t max, bool *cut)
{
    const char *text = r->errors ? r->errors : "";
    size_t length = r->errors ? r->errors_length : 0;
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        length--;
    size_t start = length > max ? length - max : 0;
    while (start < length && ((unsigned char)text[start] & 0xC0) == 0x80)
        start++;
    *cut = start > 0;
    return servo_xstrndup(text + start, length - start);
}

/* Fills `error` with "<head>: <stderr tail>", the tail cut to fit the message. Returns -1. */
static int fail_with_stderr(struct servo_error *error, enum servo_error_kind kind,
                            const char *reason, const struct servo_process_result *r,
                            const char *fmt, ...) SERVO_PRINTF(5, 6);

static int fail_with_stderr(struct servo_error *error, enum servo_error_kind kind,
                            const char *reason, const struct servo_process_result *r,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *head = servo_strdup_vprintf(fmt, ap);
    va_end(ap);
    size_t room = SERVO_ERROR_MESSAGE_MAX - 1;
    size_t used = strlen(head) + 5; /* ": ..." */
    size_t budget = room > used ? room - used : 0;
    if (budget > EXEC_STDERR_TAIL_MAX)
        budget = EXEC_STDERR_TAIL_MAX;
    bool cut = false;
    char *tail = stderr_tail(r, budget, &cut);
    if (tail[0] != '\0')
        servo_error_set(error, kind, reason, "%s: %s%s", head, cut ? "..." : "", tail);
    else
        servo_error_set(error, kind, reason, "%s", head);
    free(tail);
    free(head);
    return -1;
}

static const char *signal_name(int signal, char buf[32])
{
    const char *abbreviation = sigabbrev_np(signal);
    if (abbreviation == NULL)
        return "";
    snprintf(buf, 32, " (SIG%s)", abbreviation);
    return buf;
}

/* The signal that ended the command: the shell's own, or the one that ended the program
 * the shell ran (the shell then exits with 128 + its number). 0 when none did. */
static int killing_signal(const struct servo_process_result *r)
{
    if (r->signal != 0)
        return r->signal;
    if (r->exit_code > 128 && r->exit_code <= 128 + SHELL_SIGNAL_MAX)
        return r->exit_code - 128;
    return 0;
}

/* Timeouts, cancellation, output limits and signals: how the process itself went wrong.
 * Returns 0 when none of them happened. */
static int process_fault(struct servo_connector *c, const struct exec_call *call,
                         const struct servo_process_result *r, double elapsed,
                         struct servo_error *error)
{
    const struct exec_settings *s = servo_connector_settings(c);
    const char *name = servo_connector_name(c);
    if (r->cancelled)
        return servo_error_set(error, call->failure, "cancelled",
                               "the %s command of %s was cancelled", call->what, name);
    if (r->timed_out) {
        char limit[SERVO_VALUE_TEXT_MAX];
        servo_duration_format(s->timeout, limit);
        if (elapsed + 0.05 >= servo_duration_seconds(s->timeout))
            return fail_with_stderr(error, call->failure, "timeout", r,
                                    "the %s command of %s timed out after %s", call->what, name,
                                    limit);
        return fail_with_stderr(error, call->failure, "timeout", r,
                                "the %s command of %s was stopped at the event's deadline",
                                call->what, name);
    }
    if (r->output_overflow)
        return servo_error_set(error, call->failure, "output-too-large",
                               "the %s command of %s printed more than %u bytes", call->what, name,
                               EXEC_MAX_OUTPUT);
    int signal = killing_signal(r);
    if (signal != 0) {
        char buf[32];
        return fail_with_stderr(error, call->failure, "signal", r,
                                "the %s command of %s was killed by signal %d%s", call->what, name,
                                signal, signal_name(signal, buf));
    }
    return 0;
}

/* ---- the result line -------------------------------------------------------------------- */

static bool is_blank(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (!isspace((unsigned char)text[i]))
            return false;
    return true;
}

/* The last non-blank line of `output` (its start and length). */
static const char *last_line(const char *output, size_t length, size_t *line_length)
{
    while (length > 0 && isspace((unsigned char)output[length - 1]))
        length--;
    size_t start = length;
    while (start > 0 && output[start - 1] != '\n')
        start--;
    while (start < length && isspace((unsigned char)output[start]))
        start++;
    *line_length = length - start;
    return output + start;
}

static bool is_progress(const json_t *json)
{
    return json_is_object(json) && json_object_get(json, "status") == NULL &&
           json_is_number(json_object_get(json, "progress"));
}

/* A result is an object that is not a progress line: the last line, or else the whole
 * output (a pretty-printed document). NULL when there is none. */
static json_t *parse_result(const char *output, size_t length)
{
    size_t line_length = 0;
    const char *line = last_line(output, length, &line_length);
    json_t *json = json_loadb(line, line_length, 0, NULL);
    if (json == NULL)
        json = json_loadb(output, length, 0, NULL);
    if (json_is_object(json) && !is_progress(json))
        return json;
    json_decref(json);
    return NULL;
}

static const char *member_text(const json_t *result, const char *key)
{
    const char *text = json_string_value(json_object_get(result, key));
    return text && text[0] ? text : NULL;
}

/* A result whose status is not "ok": the driver's failure, as reported. */
static int driver_failure(struct servo_connector *c, const struct exec_call *call,
                          const char *status, const json_t *result,
                          const struct servo_process_result *r, struct servo_error *error)
{
    const char *reason = member_text(result, "reason");
    const char *message = member_text(result, "message");
    if (message == NULL)
        message = member_text(result, "error");
    enum servo_error_kind kind = call->failure;
    const char *why = reason ? reason : status;
    if (strcmp(status, "rejected") == 0 && call->failure == SERVO_ERROR_ADJUSTMENT_FAILED)
        kind = SERVO_ERROR_ADJUSTMENT_REJECTED;
    else if (strcmp(status, "failed") != 0 && strcmp(status, "rejected") != 0)
        why = status; /* legacy statuses: "nodata", "transient-failure", ... */
    if (message != NULL)
        return servo_error_set(error, kind, why, "%s", message);
    return fail_with_stderr(error, kind, why, r, "the %s command of %s reported status \"%s\"%s%s",
                            call->what, servo_connector_name(c), status,
                            reason && why != reason ? " with reason " : "",
                            reason && why != reason ? reason : "");
}

static int invalid_output(struct servo_connector *c, const struct exec_call *call,
                          const struct servo_process_result *r, struct servo_error *error)
{
    size_t length = 0;
    const char *line = last_line(r->output, r->output_length, &length);
    size_t shown = length > EXEC_QUOTE_MAX ? EXEC_QUOTE_MAX : length;
    while (shown < length && shown > 0 && ((unsigned char)line[shown] & 0xC0) == 0x80)
        shown--; /* not in the middle of a UTF-8 character */
    return servo_error_set(error, call->failure, "invalid-output",
                           "the %s command of %s printed an invalid result: the last line is "
                           "not a protocol result: %.*s%s",
                           call->what, servo_connector_name(c), (int)shown, line,
                           shown < length ? "..." : "");
}

/* The outcome of a command that ran to its end: its exit status and result line. */
static json_t *read_result(struct servo_connector *c, const struct exec_call *call,
                           const struct servo_process_result *r, struct servo_error *error)
{
    const char *name = servo_connector_name(c);
    json_t *result = parse_result(r->output, r->output_length);
    const char *status = json_string_value(json_object_get(result, "status"));
    if (result != NULL && json_object_get(result, "status") != NULL && status == NULL) {
        json_decref(result);
        result = NULL; /* "status": 3 -- not the protocol */
    }
    bool failed = status != NULL && strcmp(status, "ok") != 0;
    if (r->exit_code != 0 && !failed) {
        json_decref(result);
        fail_with_stderr(error, call->failure, "exit-status", r,
                         "the %s command of %s exited with status %d", call->what, name,
                         r->exit_code);
        return NULL;
    }
    if (failed) {
        driver_failure(c, call, status, result, r, error);
        json_decref(result);
        return NULL;
    }
    if (result != NULL)
        return result;
    if (is_blank(r->output, r->output_length))
        fail_with_stderr(error, call->failure, "no-output", r,
                         "the %s command of %s printed nothing", call->what, name);
    else
        invalid_output(c, call, r, error);
    return NULL;
}

/* ---- progress lines --------------------------------------------------------------------- */

struct line_context {
    struct servo_event *event;
    const char *what;
};

/* Each complete stdout line: a progress line is forwarded; anything else waits for the end. */
static void on_line(void *context, const char *line)
{
    const struct line_context *lc = context;
    while (isspace((unsigned char)*line))
        line++;
    if (*line != '{')
        return; /* cheap: a flood of non-JSON lines parses nothing */
    json_t *json = json_loads(line, 0, NULL);
    if (is_progress(json)) {
        double percent = json_number_value(json_object_get(json, "progress"));
        const char *message = json_string_value(json_object_get(json, "message"));
        if (message)
            servo_event_progress(lc->event, percent, "%s", message);
        else
            servo_event_progress(lc->event, percent, "%s in progress", lc->what);
    }
    json_decref(json);
}

/* ---- running ---------------------------------------------------------------------------- */

json_t *exec_call_run(struct servo_connector *c, struct servo_event *event,
                      const struct exec_call *call, struct servo_error *error)
{
    const struct exec_settings *s = servo_connector_settings(c);
    struct exec_env env = {0};
    build_environment(s, call, &env);
    char *input = NULL;
    if (call->input != NULL) {
        char *json = check_alloc(servo_json_text(call->input, JSON_COMPACT));
        input = servo_strdup_printf("%s\n", json);
        free(json);
    }
    struct line_context lc = {event, call->what};
    struct servo_process p = {.command = call->command,
                              .environment = (const char *const *)env.items,
                              .working_dir = s->working_dir.path,
                              .input = input,
                              .input_length = input ? strlen(input) : 0,
                              .timeout = s->timeout,
                              .max_output = EXEC_MAX_OUTPUT,
                              .on_line = on_line,
                              .context = &lc};
    servo_debug("running the %s command: %s", call->what, call->command);
    struct servo_process_result r;
    struct servo_error start_error = {0};
    double started = seconds_now();
    json_t *result = NULL;
    if (servo_event_run(event, &p, &r, &start_error) != 0) {
        servo_error_set(error, call->failure, "start-failed", "the %s command of %s: %s",
                        call->what, servo_connector_name(c), start_error.message);
    } else {
        if (r.errors_length > 0)
            servo_debug("the %s command wrote on stderr: %s", call->what, r.errors);
        if (process_fault(c, call, &r, seconds_now() - started, error) == 0)
            result = read_result(c, call, &r, error);
        servo_process_result_free(&r);
    }
    free(input);
    exec_env_free(&env);
    return result;
}
