/* Running wrk: the Lua hook that prints the summary line, the command line, and every way a
 * run can go wrong turned into an error with a reason. */
#include "internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

/* Exit statuses of /bin/sh for a program it cannot run, and for one a signal ended. */
#define SHELL_NOT_FOUND 127
#define SHELL_NOT_EXECUTABLE 126
#define SHELL_SIGNAL_BASE 128
#define SHELL_SIGNAL_MAX 64

/* ---- the Lua hook ----------------------------------------------------------------------- */

/* `text` as a Lua string literal (caller frees). */
static char *lua_string(const char *text)
{
    size_t length = strlen(text);
    char *out = servo_xmalloc(4 * length + 3);
    size_t n = 0;
    out[n++] = '"';
    for (const char *p = text; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            n += (size_t)snprintf(out + n, 5, "\\%03u", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}

/* Prints one line of JSON after wrk's report. Counts go through %.0f (LuaJIT's %d overflows
 * on wrk's 2^64-1 "no sample" minimum); non-finite numbers become 0 so the line stays JSON. */
static const char hook_done[] =
    "local function servo_number(x)\n"
    "  if x ~= x or x == math.huge or x == -math.huge then return 0 end\n"
    "  return x\n"
    "end\n"
    "done = function(summary, latency, requests)\n"
    "  if servo_user_done ~= nil then servo_user_done(summary, latency, requests) end\n"
    "  local e = summary.errors\n"
    "  local seconds = summary.duration / 1000000\n"
    "  local rps, bps = 0, 0\n"
    "  if seconds > 0 then\n"
    "    rps = summary.requests / seconds\n"
    "    bps = summary.bytes / seconds\n"
    "  end\n"
    "  local min = latency.min\n"
    "  if min > latency.max then min = 0 end -- no sample: wrk leaves min at 2^64-1\n"
    "  local n = servo_number\n"
    "  io.write(string.format('\\n{\"wrk_summary\":1,\"duration_us\":%.0f,\"requests\":%.0f,' ..\n"
    "    '\"bytes\":%.0f,\"errors\":{\"connect\":%.0f,\"read\":%.0f,\"write\":%.0f,' ..\n"
    "    '\"status\":%.0f,\"timeout\":%.0f},\"requests_per_sec\":%.2f,' ..\n"
    "    '\"bytes_per_sec\":%.2f,\"latency_us\":{\"min\":%.0f,\"max\":%.0f,\"mean\":%.2f,' ..\n"
    "    '\"stdev\":%.2f,\"p50\":%.0f,\"p75\":%.0f,\"p90\":%.0f,\"p99\":%.0f}}\\n',\n"
    "    n(summary.duration), n(summary.requests), n(summary.bytes),\n"
    "    n(e.connect), n(e.read), n(e.write), n(e.status), n(e.timeout), n(rps), n(bps),\n"
    "    n(min), n(latency.max), n(latency.mean), n(latency.stdev),\n"
    "    n(latency:percentile(50)), n(latency:percentile(75)),\n"
    "    n(latency:percentile(90)), n(latency:percentile(99))))\n"
    "  io.flush()\n"
    "end\n";

char *wrk_hook_text(const char *script)
{
    char *user = NULL;
    if (script != NULL) {
        char *path = lua_string(script);
        user = servo_strdup_printf("dofile(%s)\nservo_user_done = done\n", path);
        free(path);
    }
    char *text =
        servo_strdup_printf("-- Written by the servo's wrk connector: after wrk's report, one "
                            "JSON line with the run's summary.\n"
                            "servo_user_done = nil\n%s%s",
                            user ? user : "", hook_done);
    free(user);
    return text;
}

/* ---- the command line ------------------------------------------------------------------- */

long long wrk_seconds(servo_duration duration)
{
    if (duration <= 0)
        return 0;
    return (long long)((duration + SERVO_SECOND - 1) / SERVO_SECOND);
}

/* " -H 'Name: value'" for every header. */
static char *header_flags(const struct wrk_settings *s)
{
    char *flags = servo_strdup_printf("%s", "");
    char **values = s->headers.values;
    for (size_t i = 0; i < s->headers.count; i++) {
        char *header =
            servo_strdup_printf("%s: %s", s->headers.keys[i], values[i] ? values[i] : "");
        char *word = servo_shell_quote(header);
        char *longer = servo_strdup_printf("%s -H %s", flags, word);
        free(word);
        free(header);
        free(flags);
        flags = longer;
    }
    return flags;
}

char *wrk_command(const struct wrk_settings *s, const char *hook_path, servo_duration duration,
                  long long threads, long long connections)
{
    char *binary = servo_shell_quote(s->binary ? s->binary : "wrk");
    char *hook = servo_shell_quote(hook_path);
    char *url = servo_shell_quote(s->url);
    char *headers = header_flags(s);
    char *command =
        servo_strdup_printf("%s -t %lld -c %lld -d %llds --timeout %llds --latency -s %s%s %s",
                            binary, threads > 0 ? threads : (long long)s->threads,
                            connections > 0 ? connections : (long long)s->connections,
                            wrk_seconds(duration), wrk_seconds(s->timeout), hook, headers, url);
    free(headers);
    free(url);
    free(hook);
    free(binary);
    return command;
}

/* ---- failures --------------------------------------------------------------------------- */

/* `text` on one line: trimmed, lines joined with "; ", the first WRK_EXCERPT_MAX bytes
 * (caller frees). */
static char *one_line(const char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        length--;
    if (length > WRK_EXCERPT_MAX)
        length = WRK_EXCERPT_MAX;
    char *out = servo_xmalloc(3 * length + 4);
    size_t n = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] == '\n') {
            while (n > 0 && out[n - 1] == ' ')
                n--; /* wrk pads its usage lines with blanks */
            memcpy(out + n, "; ", 2);
            n += 2;
            while (i + 1 < length && text[i + 1] == ' ')
                i++;
        } else if (text[i] != '\r') {
            out[n++] = text[i];
        }
    }
    if (length == WRK_EXCERPT_MAX) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static int fail_with(struct servo_error *error, enum servo_error_kind kind, const char *reason,
                     const char *head, const char *detail)
{
    char *excerpt = one_line(detail ? detail : "");
    if (excerpt[0] != '\0')
        servo_error_set(error, kind, reason, "%s: %s", head, excerpt);
    else
        servo_error_set(error, kind, reason, "%s", head);
    free(excerpt);
    return -1;
}

static int killing_signal(const struct servo_process_result *r)
{
    if (r->signal != 0)
        return r->signal;
    if (r->exit_code > SHELL_SIGNAL_BASE && r->exit_code <= SHELL_SIGNAL_BASE + SHELL_SIGNAL_MAX)
        return r->exit_code - SHELL_SIGNAL_BASE;
    return 0;
}

/* The process itself went wrong: cancelled, out of time, killed, not found. 0 if not. */
static int process_fault(const struct wrk_settings *s, const struct wrk_run *run,
                         const struct servo_process_result *r, struct servo_error *error)
{
    const char *binary = s->binary ? s->binary : "wrk";
    enum servo_error_kind kind = run->failure;
    char head[512];
    if (r->cancelled)
        return servo_error_set(error, kind, "cancelled", "the wrk %s run was cancelled", run->what);
    if (r->timed_out)
        return fail_with(error, kind, "timeout", "the wrk run was stopped at its deadline",
                         r->errors);
    if (r->output_overflow)
        return servo_error_set(error, kind, "output-too-large", "wrk printed more than %u bytes",
                               WRK_MAX_OUTPUT);
    int signal = killing_signal(r);
    if (signal != 0) {
        snprintf(head, sizeof head, "wrk was killed by signal %d", signal);
        return fail_with(error, kind, "signal", head, r->errors);
    }
    if (r->exit_code == SHELL_NOT_FOUND) {
        snprintf(head, sizeof head,
                 "cannot run wrk: \"%s\" was not found (install wrk or set `binary` to its path)",
                 binary);
        return fail_with(error, kind, "not-found", head, r->errors);
    }
    if (r->exit_code == SHELL_NOT_EXECUTABLE) {
        snprintf(head, sizeof head, "cannot run wrk: \"%s\" is not executable", binary);
        return fail_with(error, kind, "not-executable", head, r->errors);
    }
    return 0;
}

/* wrk exited with a failure status: it could not connect, refused its arguments, or else. */
static int exit_failure(const struct wrk_settings *s, const struct wrk_run *run,
                        const struct servo_process_result *r, struct servo_error *error)
{
    char head[512];
    const char *errors = r->errors ? r->errors : "";
    if (strncmp(errors, "unable to connect", 17) == 0) {
        snprintf(head, sizeof head, "wrk cannot reach %s", s->url);
        return fail_with(error, run->failure, "unreachable", head, errors);
    }
    if (r->output != NULL && strncmp(r->output, "Usage: wrk", 10) == 0 && errors[0] == '\0') {
        snprintf(head, sizeof head,
                 "wrk refused its arguments (exit status %d) and printed its usage", r->exit_code);
        return fail_with(error, run->failure, "usage", head, NULL);
    }
    snprintf(head, sizeof head, "wrk exited with status %d", r->exit_code);
    return fail_with(error, run->failure, "exit-status", head,
                     errors[0] ? errors : (r->output ? r->output : ""));
}

static int read_summary(const struct wrk_settings *s, const struct wrk_run *run,
                        const struct servo_process_result *r, struct wrk_summary *summary,
                        struct servo_error *error)
{
    if (r->exit_code != 0)
        return exit_failure(s, run, r, error);
    size_t length = 0;
    const char *line = wrk_find_summary(r->output, r->output_length, &length);
    if (line == NULL)
        return fail_with(error, run->failure, "no-summary",
                         "wrk printed no summary line (the connector's done() hook did not run)",
                         r->errors);
    struct servo_error why;
    if (wrk_summary_parse(line, length, summary, &why) != 0)
        return servo_error_set(error, run->failure, "invalid-output",
                               "wrk printed an invalid summary line: %s", why.message);
    return 0;
}

int wrk_execute(struct servo_connector *connector, struct servo_event *event,
                const struct wrk_run *run, struct wrk_summary *summary, struct servo_error *error)
{
    const struct wrk_settings *s = servo_connector_settings(connector);
    const struct wrk_state *state = servo_connector_state(connector);
    char *command = wrk_command(s, state->hook_path, run->duration, run->threads, run->connections);
    struct servo_process p = {.command = command,
                              .timeout = run->duration + s->timeout + WRK_GRACE,
                              .max_output = WRK_MAX_OUTPUT};
    servo_debug("running %s", command);
    struct servo_process_result r;
    struct servo_error start_error = {0};
    int rc = servo_event_run(event, &p, &r, &start_error);
    if (rc != 0) {
        servo_error_set(error, run->failure, "start-failed", "cannot start wrk: %s",
                        start_error.message);
    } else {
        servo_debug("wrk printed: %s%s%s", r.output ? r.output : "",
                    r.errors_length ? "; on stderr: " : "", r.errors_length ? r.errors : "");
        rc = process_fault(s, run, &r, error);
        if (rc == 0)
            rc = read_summary(s, run, &r, summary, error);
        servo_process_result_free(&r);
    }
    free(command);
    return rc;
}
