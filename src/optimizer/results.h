/* A study's results as one JSON document, built from its store rows, and the text forms of
 * it: the trials table (text, CSV), the best trial, and the summary `servo run` prints when
 * the embedded optimizer is done. The HTML report (report.h) reads the same document.
 *
 *   {"application", "phase", "reason", "budget", "seed",
 *    "objective": {"name", "goal", "metric"|"expression", "aggregate"} | null,
 *    "constraints": [{"metric", "aggregate", "keep", "threshold"|"baseline_multiplier"}],
 *    "settings": [{"name", "type", "unit", "min", "max", "step", "values", "pinned", "value"}],
 *    "trials": [{"number", "baseline", "status", "reason", "message", "feasible",
 *                "objective", "settings": {NAME: V}, "metrics": {M: {"mean", ..., "count"}},
 *                "constraints": [{"metric", "keep", "threshold", "value", "satisfied"}],
 *                "adjust_uid", "measure_uid", "started", "finished"}],
 *    "baseline": 0 | null, "best": N | null, "slo_violations": N,
 *    several objectives: "objectives": [{"name", "goal", ...}], each trial's "objectives":
 *    [values], "pareto": [trial numbers], "best": the front's trial `prefer` picks;
 *    else "objectives" and "pareto" are null} */
#ifndef SERVO_OPTIMIZER_RESULTS_H
#define SERVO_OPTIMIZER_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "optimizer/store.h"

/* The best feasible trial (by the goal; the earliest on a tie), -1 when there is none. */
long results_best_trial(const struct store_trial *trials, size_t count, int goal);

json_t *results_document(const struct store_app *app, const struct store_trial *trials,
                         size_t count);
/* The document of application `id` (NULL: the only one in the store). NULL with a message
 * when the store has no such application, or several and none was named. */
json_t *results_load(struct store *store, const char *id, char **error);

/* Tables of the trials: one row per trial (number, status, feasible, objective, the
 * constraint values, the settings, the reason). Caller frees. */
char *results_history_text(const json_t *doc);
char *results_history_csv(const json_t *doc);
/* The studies of a store: [{"application", "phase", "reason", "trials", "created",
 * "updated"}] by name; NULL with a message. */
json_t *results_studies(struct store *store, char **error);
/* That list as a table (text, or CSV when `csv`), a header row first. Caller frees. */
char *results_studies_text(const json_t *studies, bool csv);
/* A time (Unix seconds) as ISO 8601 UTC to the millisecond, "2026-12-06T14:22:19.125Z"; ""
 * for none (0, or not a time). Caller frees. */
char *results_time_text(double seconds);
/* The best trial: its settings, objective and constraints against the baseline. */
char *results_best_text(const json_t *doc);
json_t *results_best_json(const json_t *doc);
/* The Pareto front of a study with several objectives: a table of its trials (the one the
 * study ends on marked), or, for a single-objective study, a line saying so and the best
 * trial. JSON: [{"number", "settings", "objectives": [values in the configured order]}] (a
 * single-objective study: its best trial, "objectives": [objective]). */
char *results_pareto_text(const json_t *doc);
json_t *results_pareto_json(const json_t *doc);
/* What `servo run` prints at the end: the outcome, the best against the baseline, the
 * trials table. */
char *results_summary_text(const json_t *doc);

#endif
