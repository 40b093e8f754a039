#include "util/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/util.h"
#include "util/json_text.h"

static const char *const level_names[] = {"TRACE",   "DEBUG", "INFO",    "SUCCESS",
                                          "WARNING", "ERROR", "CRITICAL"};
static const char *const level_colors[] = {"\033[36m", "\033[34m", "\033[1m",   "\033[32m",
                                           "\033[33m", "\033[31m", "\033[1;31m"};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum servo_log_level min_level = SERVO_LOG_INFO;
static bool use_color;
static enum log_format format = LOG_FORMAT_TEXT;
static FILE *log_file;
static _Thread_local const char *context_component;
static _Thread_local const char *context_event;
static _Thread_local const char *context_servo;

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *log_level_name(enum servo_log_level level)
{
    return (size_t)level < ARRAY_LEN(level_names) ? level_names[level] : "INFO";
}

void log_set_level(enum servo_log_level level)
{
    min_level = level;
}

void log_set_color(bool color)
{
    use_color = color;
}

void log_set_format(enum log_format f)
{
    format = f;
}

int log_set_file(const char *path)
{
    pthread_mutex_lock(&log_lock);
    if (log_file)
        fclose(log_file);
    log_file = path ? fopen(path, "ae") : NULL;
    pthread_mutex_unlock(&log_lock);
    return path && log_file == NULL ? -1 : 0;
}

void log_set_context(const char *component, const char *event)
{
    context_component = component;
    context_event = event;
}

void log_get_context(const char **component, const char **event)
{
    *component = context_component;
    *event = context_event;
}

void log_set_servo_prefix(const char *servo)
{
    context_servo = servo;
}

const char *log_get_servo_prefix(void)
{
    return context_servo;
}

int servo_log_enabled(enum servo_log_level level)
{
    return level >= min_level;
}

static void format_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03ld", ts.tv_nsec / 1000000);
}

static char *component_text(void)
{
    const char *component = context_component ? context_component : "servo";
    struct strbuf sb;
    strbuf_init(&sb);
    if (context_servo)
        strbuf_printf(&sb, "%s(%s)", context_servo, component);
    else
        strbuf_puts(&sb, component);
    if (context_event)
        strbuf_printf(&sb, "[%s]", context_event);
    return strbuf_detach(&sb);
}

static void write_text(FILE *out, bool color, const char *time, enum servo_log_level level,
                       const char *component, const char *message)
{
    if (color)
        fprintf(out, "\033[32m%s\033[0m | %s%-8s\033[0m | \033[36m%s\033[0m - %s%s\033[0m\n", time,
                level_colors[level], level_names[level], component, level_colors[level], message);
    else
        fprintf(out, "%s | %-8s | %s - %s\n", time, level_names[level], component, message);
}

static void write_json(FILE *out, const char *time, enum servo_log_level level,
                       const char *component, const char *message)
{
    json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "time", time, "level", level_names[level],
                             "component", component, "message", message);
    if (context_event)
        json_object_set_new(line, "event", json_string(context_event));
    if (context_servo)
        json_object_set_new(line, "servo", json_string(context_servo));
    char *text = json_text(line, JSON_COMPACT);
    fprintf(out, "%s\n", text);
    free(text);
    json_decref(line);
}

/* ---- repeated lines ----------------------------------------------------------------------
 * A chatty driver may print the same progress line thousands of times a second. INFO lines
 * and below that are alike (the same level, component and text but for the digits) are
 * printed at most once per REPEAT_WINDOW_SECONDS; the next line printed says how many were
 * suppressed. */
#define REPEAT_WINDOW_SECONDS 1.0

static char *last_shape;    /* of the latest line printed */
static double last_printed; /* monotonic */
static unsigned long suppressed;

/* The line with every run of digits replaced by '#'. */
static char *line_shape(enum servo_log_level level, const char *component, const char *message)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "%d|%s|", (int)level, component);
    for (const char *p = message; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            while (p[1] >= '0' && p[1] <= '9')
                p++;
            strbuf_putc(&sb, '#');
        } else {
            strbuf_putc(&sb, *p);
        }
    }
    return strbuf_detach(&sb);
}

/* Decides, with log_lock held, whether a line is printed; true when it is. */
static bool let_through(enum servo_log_level level, const char *component, const char *message)
{
    char *shape = line_shape(level, component, message);
    double now = clock_monotonic();
    bool repeat = level <= SERVO_LOG_INFO && last_shape != NULL && strcmp(shape, last_shape) == 0 &&
                  now - last_printed < REPEAT_WINDOW_SECONDS;
    if (repeat) {
        suppressed++;
        free(shape);
        return false;
    }
    free(last_shape);
    last_shape = shape;
    last_printed = now;
    return true;
}

static void write_line(enum servo_log_level level, const char *time, const char *component,
                       const char *message)
{
    if (format == LOG_FORMAT_JSON)
        write_json(stderr, time, level, component, message);
    else
        write_text(stderr, use_color, time, level, component, message);
    if (log_file)
        write_text(log_file, false, time, level, component, message);
}

void servo_log(enum servo_log_level level, const char *fmt, ...)
{
    if (level < min_level || (size_t)level >= ARRAY_LEN(level_names))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    /* credentials in URLs never reach a log */
    char *redacted = str_redact_url_passwords(message);
    if (redacted != NULL) {
        free(message);
        message = redacted;
    }
    char time[40];
    format_time(time, sizeof time);
    char *component = component_text();
    pthread_mutex_lock(&log_lock);
    if (!let_through(level, component, message)) {
        pthread_mutex_unlock(&log_lock);
        free(component);
        free(message);
        return;
    }
    if (suppressed > 0) {
        char *note = xasprintf("%lu similar lines suppressed", suppressed);
        suppressed = 0;
        write_line(SERVO_LOG_INFO, time, component, note);
        free(note);
    }
    write_line(level, time, component, message);
    fflush(stderr);
    if (log_file)
        fflush(log_file);
    pthread_mutex_unlock(&log_lock);
    free(component);
    free(message);
}
