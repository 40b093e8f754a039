/* Configuration of the log sinks (the public API is servo/log.h). */
#ifndef SERVO_UTIL_LOG_H
#define SERVO_UTIL_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "servo/log.h"

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* "TRACE" ... "CRITICAL" (case-insensitive) -> level; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum servo_log_level level);
void log_set_level(enum servo_log_level level);
void log_set_color(bool color);
void log_set_format(enum log_format format);
/* Also append plain lines to this file; NULL closes it. Returns -1 if it cannot be opened. */
int log_set_file(const char *path);
/* The calling thread's component ("prometheus") and event ("measure", "before:adjust"); the
 * strings must outlive the context. NULL clears. */
void log_set_context(const char *component, const char *event);
void log_get_context(const char **component, const char **event);
/* A servo name prefixed to every component in multi-servo runs (per thread; the string must
 * outlive its use). Threads started on behalf of a servo copy their parent's with the getter. */
void log_set_servo_prefix(const char *servo);
const char *log_get_servo_prefix(void);

#endif
