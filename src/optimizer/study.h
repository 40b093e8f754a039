/* A study: one application being optimized. It answers the Opsani servo protocol exactly like
 * an Opsani optimizer would -- the embedded transport calls it in-process, the server over
 * HTTP -- and drives the session: DESCRIBE, MEASURE the baseline, then ADJUST and MEASURE per
 * trial (`budget` times), then ADJUST to the best feasible settings found, then SLEEP with the
 * reason "optimization complete".
 *
 *   HELLO, GOODBYE, progress reports          -> {"status":"ok"}
 *   WHATS_NEXT                                -> the pending command (the same cmd_uid until
 *                                                its result arrives), or SLEEP when over
 *   DESCRIPTION/MEASUREMENT/ADJUSTMENT result -> {"status":"ok"}, and the study advances
 *   ... for another cmd_uid                   -> {"status":"invalid","reason":"unexpected cmd_uid"}
 *   ... when another event is expected        -> {"status":"unexpected-event","reason":"Out of
 *                                                order event \"X\", expected \"Y\"; ignoring"}
 *
 * One servo drives a study (by servo_uid): another one gets 409 until the first says GOODBYE
 * or is silent for servo_timeout, then takes over, getting the pending trial's ADJUST again
 * before its MEASURE.
 *
 * A servo that says HELLO again mid-command gets the pending command again; a result posted
 * twice (the reply was lost) is acknowledged once. Every change is persisted in the store
 * before the reply, so a study reopened after a restart carries on where it was, and -- the
 * engine being a pure function of the history and the seed -- suggests what it would have.
 *
 * Trials that could not be measured (a failed or rejected adjust or measure, a measurement
 * without the objective metric or with only NaN in it) are infeasible with a reason; the
 * engine sees them as failures, never as made-up numbers. Not thread-safe: one caller at a
 * time. */
#ifndef SERVO_OPTIMIZER_STUDY_H
#define SERVO_OPTIMIZER_STUDY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "optimizer/store.h"
#include "optimizer/study_config.h"

#define STUDY_DEFAULT_SLEEP_SECONDS 60.0
#define STUDY_DESCRIBE_ATTEMPTS 3
#define STUDY_DEFAULT_SERVO_TIMEOUT_SECONDS 600.0

enum study_phase {
    STUDY_DESCRIBE, /* DESCRIBE pending */
    STUDY_MEASURE,  /* MEASURE of the current trial pending (trial 0: the baseline) */
    STUDY_ADJUST,   /* ADJUST of the current trial pending */
    STUDY_FINAL,    /* ADJUST to the best settings pending */
    STUDY_DONE,     /* over: SLEEP "optimization complete" */
    STUDY_FAILED,   /* cannot go on (e.g. no tunable settings): SLEEP with the reason */
};

struct study_options {
    double sleep_seconds;  /* SLEEP once over; <= 0: STUDY_DEFAULT_SLEEP_SECONDS */
    const char *log_label; /* prefixed to log lines ("example.com/app: "); NULL: none */
    bool served; /* by `servo optimizer serve`: hints name applications.ID, not optimizer.local */
    /* A servo silent this long is replaced by another (HELLO from another servo_uid);
     * <= 0: STUDY_DEFAULT_SERVO_TIMEOUT_SECONDS. */
    double servo_timeout_seconds;
};

struct study;

/* Opens the study of application `id`: resumed from `store` when it holds the application,
 * else new. `settings` and `store` are borrowed and must outlive the study; `store` may be
 * NULL (nothing persists). Returns 0, or -1 with a message (caller frees). */
int study_open(const char *id, const struct study_settings *settings, struct store *store,
               const struct study_options *options, struct study **out, char **error);
void study_free(struct study *s);
/* A shared store: reads the study again when another replica changed it (for a document);
 * 0, or -1 with the store's message. A no-op otherwise. */
int study_refresh(struct study *s, char **error);
/* The connection the next requests use (the server lends one per request). */
void study_use_store(struct study *s, struct store *store);

/* One request {"event","param","servo_uid"} -> the reply (a new reference) and the HTTP
 * status: 200; 400 for a request that is not an object with an "event" string or names an
 * unknown event; 409 when another servo drives the study; 503 when the store cannot be written
 * (nothing changed: retry) or the study cannot be read from it (the reason: it is quarantined,
 * the other studies go on). */
json_t *study_exchange(struct study *s, const json_t *request, int *http_status);

enum study_phase study_phase(const struct study *s);
const char *study_phase_name(enum study_phase phase);
/* Done or failed. */
bool study_over(const struct study *s);
/* Why the study failed or how it ended; NULL when still running. */
const char *study_reason(const struct study *s);
/* Done, and the servo reported the final ADJUST to the best settings ok (in this process: a
 * study resumed already done was not adjusted). */
bool study_best_applied(const struct study *s);
const char *study_id(const struct study *s);
/* Trials recorded so far (the baseline included) and how many ended in each status. */
size_t study_trial_count(const struct study *s);

/* The study as a document: configuration, objective, settings, trials, best (results.h). */
json_t *study_document(const struct study *s);

#endif
