/* The settings space of a study, built from the servo's DESCRIPTION: every setting of every
 * component becomes an engine parameter "component.setting" (pinned ones held, enums by the
 * index of their value, the current values as the baseline), and points convert to and from
 * the JSON forms the study stores ({"main.cpu": 1.5, "main.mode": "a"}) and sends (the ADJUST
 * state). */
#ifndef SERVO_OPTIMIZER_STUDY_SPACE_H
#define SERVO_OPTIMIZER_STUDY_SPACE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "optimizer/engine.h"
#include "servo/model.h"

struct study_param {
    char *name; /* "component.setting" */
    char *component;
    char *setting;
    char *unit;        /* NULL when none */
    bool numeric_enum; /* enum values that were JSON numbers: sent as numbers */
    char **values;     /* enum values (owned) */
    bool has_baseline; /* the description gave a current value */
};

struct study_space {
    struct study_param *params;
    struct opt_param *opt; /* parallel to params, for the engine */
    size_t count;
    struct opt_space space;
};

/* Builds and validates the space; -1 with a message naming the setting and the problem
 * ("main.cpu: min 4 is greater than max 1", "no tunable settings: ..."). */
int study_space_build(const struct servo_description *d, struct study_space *out, char **error);
void study_space_free(struct study_space *s);

/* The described values as they are (a value off the grid stays off it): the baseline. */
void study_space_current(const struct study_space *s, double *x);
/* {"component.setting": value} for every setting (enums as their text). */
json_t *study_space_settings_json(const struct study_space *s, const double *x);
/* The reverse, snapped onto the space when `snap`; a setting missing from `settings` (or an
 * enum text that is not one of its values) is NaN and false is returned. */
bool study_space_point(const struct study_space *s, const json_t *settings, bool snap, double *x);
/* {"application":{"components":{C:{"settings":{S:{"value":V}}}}}} for the unpinned settings. */
json_t *study_space_adjust_state(const struct study_space *s, const double *x);
/* "main.cpu=1.5, main.mode=a": for logs. Caller frees. */
char *study_space_format(const struct study_space *s, const double *x);

#endif
