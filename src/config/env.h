/* Environment overrides: SERVO_<KEY>='{json}' for a whole stanza and SERVO_<KEY>_<FIELD> for
 * each modeled setting, plus `.env` files. Precedence (highest first): command-line flag >
 * per-field variable > whole-stanza JSON variable > file > default. */
#ifndef SERVO_CONFIG_ENV_H
#define SERVO_CONFIG_ENV_H

#include "config/diag.h"
#include "config/node.h"
#include "servo/settings.h"

/* Where variables come from: the process environment, or a table in tests and fuzzing. */
struct env_lookup {
    const char *(*get)(void *context, const char *name);
    void *context;
};

const struct env_lookup *env_process(void);
const char *env_get(const struct env_lookup *env, const char *name);

/* Merges the JSON object in variable `name` onto *stanza (creating it). Returns 1 when the
 * variable was set and applied, 0 when unset, -1 after a diagnostic. */
int env_apply_stanza(const struct env_lookup *env, const char *name, struct servo_node **stanza,
                     const char *path, struct servo_diags *diags);
/* Applies <prefix>_<FIELD> for every field (nested objects recursively) onto *stanza, creating
 * it only when some variable is set. Returns the number of variables applied, or -1. */
int env_apply_fields(const struct env_lookup *env, const struct servo_schema *schema,
                     const char *prefix, struct servo_node **stanza, const char *path,
                     struct servo_diags *diags);
/* A variable's value as a node: JSON when it starts with '{' or '[' (or always, with
 * `json_only`), else a plain scalar as if written unquoted in YAML. NULL after a diagnostic. */
struct servo_node *env_value_node(const char *name, const char *value, bool json_only,
                                  const char *path, struct servo_diags *diags);

/* Loads KEY=VALUE lines from `path` into the environment without overriding variables that
 * are already set. A missing file is not an error. Malformed lines are diagnostics. */
int dotenv_load(const char *path, struct servo_diags *diags);

#endif
