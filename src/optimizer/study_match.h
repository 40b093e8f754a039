// SPDX-License-Identifier: Apache-2.0
/* Whether a stored study fits the configuration `servo run` starts with, and setting a study
 * that does not aside.
 *
 * A study's fingerprint is what makes its trials comparable: the objective(s) and the
 * constraints of its configuration, and the tunable settings its servo described (each
 * setting's name, type, bounds, step, values, and a pinned setting's value; not the current
 * values, which every trial changes). It is derived from what the store already holds for
 * every study (the configuration and the description), so stores of every schema version
 * have one:
 *
 *   {"objective": ..., "objectives": ..., "constraints": ...,
 *    "settings": [{"name", "type", "min", "max", "step", "integer", "values", "pinned",
 *                  "value"}] | null}
 *
 * A missing key, null and an empty list are the same. */
#ifndef SERVO_OPTIMIZER_STUDY_MATCH_H
#define SERVO_OPTIMIZER_STUDY_MATCH_H

#include <jansson.h>

#include "optimizer/store.h"
#include "optimizer/study_config.h"
#include "servo/model.h"

/* The fingerprint of a configuration (the JSON of its settings table) and a description
 * (NULL: unknown, "settings" is then absent). A description with no usable settings space
 * gives "settings": null. */
json_t *study_fingerprint(const json_t *config, const struct servo_description *description);

/* The parts of the stored study's fingerprint that differ from the current configuration's
 * and description's ("objective", "constraints and settings", ...); NULL when they match.
 * The settings are compared only when both descriptions are known (`description` NULL: not
 * compared). Caller frees. */
char *study_mismatch(const struct store_app *stored, const struct study_settings *settings,
                     const struct servo_description *description);

/* Renames the study `id` (its row and trials, in one transaction) to the first free name
 * among "ID.1", "ID.2", ...; *kept is that name (caller frees). 0, or -1 with a message. */
int study_set_aside(struct store *store, const char *id, char **kept, char **error);

#endif
