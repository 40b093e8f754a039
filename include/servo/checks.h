/* Checks: a connector declares what must hold for it to work (connectivity, permissions,
 * queries), each with a severity, tags, a hint and an optional remedy command. `servo check`
 * and `servo run --check` run them; a multicheck expands one declaration over a list of items
 * ("Run query {item}" for every configured query). */
#ifndef SERVO_CHECKS_H
#define SERVO_CHECKS_H

#include <stddef.h>

#include "servo/abi.h"
#include "servo/connector.h"

#ifdef __cplusplus
extern "C" {
#endif

/* COMMON is zero so that a declaration that leaves .severity out gets the default. */
enum servo_severity {
    SERVO_SEVERITY_COMMON = 0,   /* the default */
    SERVO_SEVERITY_WARNING = 1,  /* a failure is reported but does not fail the run */
    SERVO_SEVERITY_CRITICAL = 2, /* later checks are pointless if this one fails */
};

struct servo_check; /* the outcome being recorded */

/* Returns 0 when the check passed, -1 when it failed (with servo_check_fail). `item` is the
 * multicheck item's index (0 for a plain check). `event` gives cancellation and
 * servo_event_run for checks that run commands. */
typedef int (*servo_check_fn)(struct servo_connector *connector, struct servo_event *event,
                              size_t item, struct servo_check *check);

struct servo_check_def {
    const char *name; /* a multicheck's name contains "{item}" */
    const char *id;   /* NULL: derived from the name (8 hex digits) */
    const char *description;
    enum servo_severity severity;
    const char *tags;   /* comma-separated, each 1-32 of [0-9a-z.-]; NULL: none */
    const char *hint;   /* shown when the check fails */
    const char *remedy; /* a shell command that may fix a failure; NULL: none */
    servo_check_fn run;
    /* A multicheck: how many items, and each item's label (substituted for "{item}"). */
    size_t (*item_count)(struct servo_connector *connector);
    const char *(*item_label)(struct servo_connector *connector, size_t index);
};
/* A connector's `checks` array ends with an entry whose name is NULL. */

/* Records why the check failed; returns -1. */
SERVO_EXPORT int servo_check_fail(struct servo_check *check, const char *fmt, ...)
    SERVO_PRINTF(2, 3);
/* A message for a passing check ("returned 3 results"). */
SERVO_EXPORT void servo_check_message(struct servo_check *check, const char *fmt, ...)
    SERVO_PRINTF(2, 3);
/* Replaces the declared hint for this outcome. */
SERVO_EXPORT void servo_check_hint(struct servo_check *check, const char *fmt, ...)
    SERVO_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif
