/* The embedded optimizer: a `struct transport` (runner/client.h) over a study, answering
 * in-process exactly what the optimizer server answers over HTTP. `servo run` uses it when the
 * servo has no optimizer id or url, or has `optimizer.local`: the run describes, measures the
 * baseline, adjusts and measures `budget` times, adjusts to the best settings, and stops
 * (embedded_transport_over is the run loop's stop hook); embedded_transport_summary is what it
 * prints then. */
#ifndef SERVO_OPTIMIZER_EMBEDDED_H
#define SERVO_OPTIMIZER_EMBEDDED_H

#include <stdbool.h>

#include <jansson.h>

#include "optimizer/study_config.h"
#include "runner/client.h"

/* How a stored study is checked against the configuration before it is resumed. */
struct embedded_options {
    /* The servo's description now (caller frees; NULL when it cannot describe itself): called
     * only when the store holds a described study of the application, whose settings are
     * then compared with it. NULL: the settings are not compared. */
    struct servo_description *(*describe)(void *context);
    void *context;
};

/* A transport over the study of `app_id` in `settings->store` (settings NULL: every default).
 * `settings` is borrowed and must outlive the transport. NULL with a message (caller frees)
 * when the store cannot be opened or the study cannot be read.
 *
 * A stored study is resumed only when it fits the configuration (study_match.h: the same
 * objective(s), constraints and described settings) and did not fail; otherwise it is kept
 * in the store as "APP.1" ("APP.2", ...), a new study starts, and one log line says why. */
struct transport *embedded_transport_open(const char *app_id, const struct study_settings *settings,
                                          const struct embedded_options *options, char **error);
/* embedded_transport_open without a description: the settings are not compared. */
struct transport *embedded_transport_create(const char *app_id,
                                            const struct study_settings *settings, char **error);
bool embedded_transport_is(const struct transport *t);
/* True once the study is done or failed: a stop hook for runner_options. */
bool embedded_transport_over(void *context);
/* The study as a document (optimizer/results.h); NULL when `t` is not embedded. */
json_t *embedded_transport_document(const struct transport *t);
/* The summary to print at the end (results_summary_text); NULL when `t` is not embedded. */
char *embedded_transport_summary(const struct transport *t);
/* True once the study is done and the servo adjusted to the best settings in this run: the
 * run loop's promote hook (the `promote` event follows then). */
bool embedded_transport_best_applied(void *context);
/* True when the study failed (the run should exit 1). */
bool embedded_transport_failed(const struct transport *t);

#endif
