/* Logging for the core and connectors. Lines look like
 *   2026-11-27 10:00:00.123 | INFO     | prometheus[measure] - Measured 3 readings
 * where the component (connector instance and event) comes from the calling thread's context,
 * which the event bus sets around every handler. */
#ifndef SERVO_LOG_H
#define SERVO_LOG_H

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum servo_log_level {
    SERVO_LOG_TRACE,
    SERVO_LOG_DEBUG,
    SERVO_LOG_INFO,
    SERVO_LOG_SUCCESS,
    SERVO_LOG_WARNING,
    SERVO_LOG_ERROR,
    SERVO_LOG_CRITICAL,
};

SERVO_EXPORT void servo_log(enum servo_log_level level, const char *fmt, ...) SERVO_PRINTF(2, 3);
SERVO_EXPORT int servo_log_enabled(enum servo_log_level level);

#define servo_trace(...) servo_log(SERVO_LOG_TRACE, __VA_ARGS__)
#define servo_debug(...) servo_log(SERVO_LOG_DEBUG, __VA_ARGS__)
#define servo_info(...) servo_log(SERVO_LOG_INFO, __VA_ARGS__)
#define servo_success(...) servo_log(SERVO_LOG_SUCCESS, __VA_ARGS__)
#define servo_warning(...) servo_log(SERVO_LOG_WARNING, __VA_ARGS__)
#define servo_error(...) servo_log(SERVO_LOG_ERROR, __VA_ARGS__)
#define servo_critical(...) servo_log(SERVO_LOG_CRITICAL, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
