/* The settings engine: one implementation behind every connector's field table. */
#ifndef SERVO_CONFIG_SETTINGS_H
#define SERVO_CONFIG_SETTINGS_H

#include <stdbool.h>

#include <jansson.h>

#include "config/diag.h"
#include "config/node.h"
#include "servo/settings.h"

/* Validates `node` (a mapping, or NULL when the stanza is absent) into a newly allocated
 * struct of schema->size bytes with defaults filled in. `path` prefixes every error
 * ("prometheus"); `where` locates errors that have no node (the stanza's key or the file).
 * Returns NULL after adding one diagnostic per problem found. */
void *settings_load(const struct servo_schema *schema, const struct servo_node *node,
                    const char *path, const struct servo_node *where, struct servo_diags *diags);
void settings_free(const struct servo_schema *schema, void *settings);

/* The complete settings as JSON, defaults included; unset optional values are null;
 * secrets are "**********" unless `show_secrets`. */
json_t *settings_to_json(const struct servo_schema *schema, const void *settings,
                         bool show_secrets);

/* JSON Schema (draft 2020-12) of the table. Every property carries "env_names" derived from
 * `env_prefix` ("SERVO_VEGETA"); NULL omits them. */
json_t *settings_json_schema(const struct servo_schema *schema, const char *env_prefix);
/* The schema of one object without the "$schema" header, for embedding. */
json_t *settings_object_schema(const struct servo_schema *schema, const char *env_prefix);

/* A readable page of every setting of a schema made by settings_json_schema (or a servo
 * schema assembled from them): dotted name, type, default, environment variables and
 * description, as plain text or as one self-contained HTML page. The caller frees. */
char *settings_schema_text(const json_t *schema);
char *settings_schema_html(const json_t *schema);

/* A default's YAML text as a node, or NULL if it does not parse (a bug in a table). */
struct servo_node *settings_parse_default(const char *text);
/* Checks a table for mistakes a connector author can make (bad defaults, enum without
 * choices, ...); adds diagnostics naming the schema and field. */
int settings_check_schema(const struct servo_schema *schema, struct servo_diags *diags);

/* Storage size of one value of the field's type (list items, map values). */
size_t settings_value_size(const struct servo_field *field);

/* A node from a JSON value (strings are quoted scalars), located at `source`. */
struct servo_node *node_from_json(const json_t *value, const char *source);
/* A node tree as JSON: plain scalars that read as numbers or booleans become those. */
json_t *node_to_json(const struct servo_node *node);

#endif
