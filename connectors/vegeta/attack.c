/* The attack: the `vegeta attack | vegeta report` pipeline, run as one process group, its
 * report lines gathered as they arrive, and every way it can go wrong turned into an error
 * with a reason. */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "servo/log.h"

/* Exit statuses of /bin/sh for a program it cannot run, and for one a signal ended (128 + N,
 * N up to SIGRTMAX on Linux). */
#define SHELL_NOT_FOUND 127
#define SHELL_NOT_EXECUTABLE 126
#define SHELL_SIGNAL_BASE 128
#define SHELL_SIGNAL_MAX 64

static const char *const format_names[] = {"http", "json"};

/* ---- small helpers ---------------------------------------------------------------------- */

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the command line ------------------------------------------------------------------- */

/* The -targets value: "stdin" for the `target` setting, else the file (never the word
 * "stdin" itself, which vegeta would read as its standard input). */
static char *targets_flag(const struct vegeta_settings *s)
{
    if (s->targets == NULL)
        return servo_strdup_printf("-targets=stdin");
    char *path = strcmp(s->targets, "stdin") == 0 ? servo_strdup_printf("./stdin")
                                                  : servo_strdup_printf("%s", s->targets);
    char *word = servo_shell_quote(path);
    char *flag = servo_strdup_printf("-targets=%s", word);
    free(word);
    free(path);
    return flag;
}

static const char *bool_text(bool value)
{
    return value ? "true" : "false";
}

char *vegeta_attack_command(const struct vegeta_settings *s, servo_duration duration,
                            servo_duration every)
{
    char rate[SERVO_VALUE_TEXT_MAX], length[SERVO_VALUE_TEXT_MAX], interval[SERVO_VALUE_TEXT_MAX];
    servo_rate_format(&s->rate, rate);
    servo_duration_format(duration, length);
    servo_duration_format(every, interval);
    char *binary = servo_shell_quote(s->binary ? s->binary : "vegeta");
    char *targets = targets_flag(s);
    char max_workers[48] = "";
    if (s->max_workers != SERVO_UNSET)
        snprintf(max_workers, sizeof max_workers, " -max-workers=%lld", (long long)s->max_workers);
    const char *format = format_names[s->format == VEGETA_FORMAT_JSON ? 1 : 0];
    char *command = servo_strdup_printf(
        "%s attack -rate=%s -duration=%s %s -format=%s -connections=%lld -workers=%lld%s "
        "-max-body=%lld -http2=%s -keepalive=%s -insecure=%s | %s report -type=json -every=%s",
        binary, rate, length, targets, format, (long long)s->connections, (long long)s->workers,
        max_workers, (long long)s->max_body, bool_text(s->http2), bool_text(s->keepalive),
        bool_text(s->insecure), binary, interval);
    free(targets);
    free(binary);
    return command;
}

/* ---- targets and the load profile ------------------------------------------------------- */

/* An http target line starts with an upper-case word (the method) and a blank. */
static bool is_target_line(int format, const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || *s == '#')
        return false;
    if (format == VEGETA_FORMAT_JSON)
        return true;
    size_t word = 0;
    while (word < n && isupper((unsigned char)s[word]))
        word++;
    return word > 0 && word < n && (s[word] == ' ' || s[word] == '\t');
}

size_t vegeta_count_targets(int format, const char *text, size_t length)
{
    size_t count = 0;
    const char *p = text;
    const char *end = text + length;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *eol = newline ? newline : end;
        count += is_target_line(format, p, (size_t)(eol - p));
        p = newline ? newline + 1 : end;
    }
    return count;
}

size_t vegeta_target_count(const struct vegeta_settings *s)
{
    if (s->target != NULL)
        return vegeta_count_targets(s->format, s->target, strlen(s->target));
    FILE *f = s->targets ? fopen(s->targets, "r") : NULL;
    if (f == NULL)
        return 0;
    size_t count = 0;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t n;
    while ((n = getline(&line, &capacity, f)) >= 0)
        count += is_target_line(s->format, line, (size_t)n);
    free(line);
    fclose(f);
    return count;
}

char *vegeta_load_profile(const struct vegeta_settings *s, size_t urls, servo_duration duration,
                          servo_duration delay, servo_duration warmup)
{
    char rate[SERVO_VALUE_TEXT_MAX], length[SERVO_VALUE_TEXT_MAX], wait[SERVO_VALUE_TEXT_MAX],
        warm[SERVO_VALUE_TEXT_MAX], every[SERVO_VALUE_TEXT_MAX];
    servo_rate_format(&s->rate, rate);
    servo_duration_format(duration, length);
    servo_duration_format(delay > 0 ? delay : 0, wait);
    servo_duration_format(warmup > 0 ? warmup : 0, warm);
    servo_duration_format(s->reporting_interval, every);
    return servo_strdup_printf(
        "Loading %zu URL(s) for %s (delay of %s, warmup of %s) at a rate of %s "
        "(reporting every %s)",
        urls, length, wait, warm, rate, every);
}

/* ---- report lines ----------------------------------------------------------------------- */

struct attack_context {
    struct servo_event *event;
    const struct vegeta_run *run;
    struct vegeta_reports *reports;
    double started; /* wall clock, Unix seconds */
};

static void report_progress(struct attack_context *a, enum vegeta_line outcome)
{
    if (a->event == NULL)
        return;
    double elapsed = wall_clock() - a->started;
    double percent = 100 * elapsed / servo_duration_seconds(a->run->duration);
    percent = fmin(fmax(percent, 0), 99);
    if (outcome == VEGETA_LINE_DISCARDED) {
        servo_event_progress(a->event, percent, "vegeta: warming up (report discarded)");
        return;
    }
    const struct vegeta_report *r = &a->reports->items[a->reports->count - 1];
    servo_event_progress(
        a->event, percent, "vegeta: %lld requests, %.2f/s successful, %.2f%% errors, p50 %.3fms",
        (long long)r->requests, r->throughput, vegeta_metric_value(r, VEGETA_METRIC_ERROR_RATE),
        vegeta_metric_value(r, VEGETA_METRIC_LATENCY_50TH));
}

static void pass_on_report(struct attack_context *a, const char *line)
{
    if (a->run->on_report == NULL)
        return;
    char *text = servo_strdup_printf("%s", line);
    size_t length = vegeta_strip_escapes(text, strlen(text));
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        text[--length] = '\0';
    const char *start = text;
    while (isspace((unsigned char)*start))
        start++;
    a->run->on_report(a->run->context, &a->reports->items[a->reports->count - 1], start);
    free(text);
}

static void on_line(void *context, const char *line)
{
    struct attack_context *a = context;
    enum vegeta_line outcome = vegeta_reports_add_line(a->reports, line);
    switch (outcome) {
    case VEGETA_LINE_BLANK:
        return;
    case VEGETA_LINE_INVALID:
        servo_debug("vegeta printed a line that is not a report: %.200s", line);
        return;
    case VEGETA_LINE_DISCARDED:
        report_progress(a, outcome);
        return;
    case VEGETA_LINE_KEPT:
        report_progress(a, outcome);
        pass_on_report(a, line);
        return;
    }
}

/* ---- failures --------------------------------------------------------------------------- */

/* `text`'s lines joined with "; ", blank lines and a line equal to the one before left out
 * (both ends of the pipeline often say the same: "sh: 1: vegeta: not found"). Caller frees. */
static char *join_lines(char *text)
{
    char *joined = servo_xmalloc(2 * strlen(text) + 1);
    size_t out = 0;
    const char *previous = "";
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, previous) == 0)
            continue;
        out += (size_t)sprintf(joined + out, "%s%s", out ? "; " : "", line);
        previous = line;
    }
    joined[out] = '\0';
    return joined;
}

/* What vegeta said on stderr, on one line: its usage text (after a bad flag) left out, the
 * last VEGETA_STDERR_MAX bytes kept (caller frees). */
static char *stderr_excerpt(const struct servo_process_result *r)
{
    char *text = servo_strdup_printf("%s", r->errors ? r->errors : "");
    char *usage = strstr(text, "Usage of ");
    if (usage != NULL)
        *usage = '\0';
    size_t length = strlen(text);
    while (length > 0 && isspace((unsigned char)text[length - 1]))
        text[--length] = '\0';
    char *joined = join_lines(text);
    free(text);
    size_t out = strlen(joined);
    if (out <= VEGETA_STDERR_MAX)
        return joined;
    size_t start = out - VEGETA_STDERR_MAX;
    while (start < out && ((unsigned char)joined[start] & 0xC0) == 0x80)
        start++; /* start on a UTF-8 character */
    char *tail = servo_strdup_printf("...%s", joined + start);
    free(joined);
    return tail;
}

static int fail_with_stderr(struct servo_error *error, enum servo_error_kind kind,
                            const char *reason, const struct servo_process_result *r,
                            const char *head)
{
    char *excerpt = stderr_excerpt(r);
    if (excerpt[0] != '\0')
        servo_error_set(error, kind, reason, "%s: %s", head, excerpt);
    else
        servo_error_set(error, kind, reason, "%s", head);
    free(excerpt);
    return -1;
}

/* The process itself went wrong: cancelled, out of time, killed, not found. 0 if not. */
static int process_fault(const struct vegeta_settings *s, const struct vegeta_run *run,
                         const struct servo_process_result *r, struct servo_error *error)
{
    const char *binary = s->binary ? s->binary : "vegeta";
    enum servo_error_kind kind = run->failure;
    char head[512];
    if (r->cancelled)
        return servo_error_set(error, kind, "cancelled", "the vegeta attack was cancelled");
    if (r->timed_out)
        return fail_with_stderr(error, kind, "timeout", r,
                                "the vegeta attack was stopped at its deadline");
    if (r->output_overflow)
        return servo_error_set(error, kind, "output-too-large",
                               "vegeta printed more output than the servo keeps");
    int signal = r->signal;
    if (signal == 0 && r->exit_code > SHELL_SIGNAL_BASE &&
        r->exit_code <= SHELL_SIGNAL_BASE + SHELL_SIGNAL_MAX)
        signal = r->exit_code - SHELL_SIGNAL_BASE;
    if (signal != 0) {
        snprintf(head, sizeof head, "vegeta was killed by signal %d", signal);
        return fail_with_stderr(error, kind, "signal", r, head);
    }
    if (r->exit_code == SHELL_NOT_FOUND) {
        snprintf(head, sizeof head,
                 "cannot run vegeta: \"%s\" was not found (install vegeta or set `binary` to "
                 "its path)",
                 binary);
        /* the shell's own "not found" lines (one per command of the pipeline) say it again */
        return servo_error_set(error, kind, "not-found", "%s", head);
    }
    if (r->exit_code == SHELL_NOT_EXECUTABLE) {
        snprintf(head, sizeof head, "cannot run vegeta: \"%s\" is not executable", binary);
        return fail_with_stderr(error, kind, "not-executable", r, head);
    }
    return 0;
}

/* The run ended by itself: its exit status and what it printed. */
static int read_outcome(const struct vegeta_run *run, const struct servo_process_result *r,
                        const struct vegeta_reports *reports, struct servo_error *error)
{
    enum servo_error_kind kind = run->failure;
    char head[512];
    if (r->exit_code != 0 && reports->count == 0) {
        snprintf(head, sizeof head, "vegeta exited with status %d", r->exit_code);
        return fail_with_stderr(error, kind, "exit-status", r, head);
    }
    if (r->exit_code != 0)
        servo_warning("vegeta exited with status %d after %zu reports", r->exit_code,
                      reports->count);
    if (reports->count > 0)
        return 0;
    if (reports->discarded > 0) {
        char warmup[SERVO_VALUE_TEXT_MAX];
        servo_duration_format(run->warmup, warmup);
        return servo_error_set(error, kind, "no-reports",
                               "every vegeta report (%zu) ended before the warmup of %s was over",
                               reports->discarded, warmup);
    }
    if (reports->invalid > 0)
        return servo_error_set(error, kind, "invalid-output",
                               "vegeta printed no report: %zu lines were not JSON reports, the "
                               "first: %s",
                               reports->invalid, reports->first_invalid);
    return fail_with_stderr(error, kind, "no-output", r, "vegeta printed no report");
}

int vegeta_attack(struct servo_connector *connector, struct servo_event *event,
                  const struct vegeta_run *run, struct vegeta_reports *reports,
                  struct servo_error *error)
{
    const struct vegeta_settings *s = servo_connector_settings(connector);
    char *command = vegeta_attack_command(s, run->duration, run->every);
    char *input = s->target ? servo_strdup_printf("%s\n", s->target) : NULL;
    struct attack_context a = {event, run, reports, wall_clock()};
    /* without a warmup nothing is discarded, whatever vegeta's clock says */
    reports->warmup_until =
        run->warmup > 0 ? a.started + servo_duration_seconds(run->warmup) : -INFINITY;
    struct servo_process p = {.command = command,
                              .input = input,
                              .input_length = input ? strlen(input) : 0,
                              .timeout = run->duration + VEGETA_GRACE,
                              .on_line = on_line,
                              .context = &a};
    servo_debug("running %s", command);
    struct servo_process_result r;
    struct servo_error start_error = {0};
    int rc = servo_event_run(event, &p, &r, &start_error);
    if (run->exit_code != NULL)
        *run->exit_code =
            rc == 0 && !r.timed_out && !r.cancelled && !r.output_overflow ? r.exit_code : -1;
    if (rc != 0) {
        servo_error_set(error, run->failure, "start-failed", "cannot start vegeta: %s",
                        start_error.message);
    } else {
        if (r.errors_length > 0)
            servo_debug("vegeta wrote on stderr: %s", r.errors);
        rc = process_fault(s, run, &r, error);
        if (rc == 0)
            rc = read_outcome(run, &r, reports, error);
        servo_process_result_free(&r);
    }
    free(input);
    free(command);
    return rc;
}
