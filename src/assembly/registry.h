/* The connector registry: built-in connectors plus shared-object plugins found on
 * SERVO_PLUGIN_PATH (colon-separated files or directories) and the installed plugin
 * directory -- the C analog of Python entry points. */
#ifndef SERVO_REGISTRY_H
#define SERVO_REGISTRY_H

#include <stddef.h>

#include "config/diag.h"
#include "servo/connector.h"

struct registry_entry {
    const struct servo_connector_plugin *plugin;
    char *origin; /* NULL for built-ins, else the shared object's path */
};

struct registry {
    struct registry_entry *entries;
    size_t count;
    size_t capacity;
    void **handles; /* dlopen handles, closed by registry_free */
    size_t handle_count;
    size_t handle_capacity;
};

/* Built-ins, then every plugin on `plugin_path` (NULL: $SERVO_PLUGIN_PATH) and in
 * `plugin_dir` (NULL: the installed directory; "" skips it). Problems are diagnostics and
 * make it return -1; the registry is usable either way. */
int registry_init(struct registry *r, const char *plugin_path, const char *plugin_dir,
                  struct servo_diags *diags);
void registry_free(struct registry *r);
/* Adds one plugin (with checks: ABI, struct size, metadata, settings table, duplicates). */
int registry_add(struct registry *r, const struct servo_connector_plugin *plugin,
                 const char *origin, struct servo_diags *diags);
/* Loads one shared object and registers every connector it declares. */
int registry_load_plugin(struct registry *r, const char *path, struct servo_diags *diags);
/* By name ("vegeta") or class name ("VegetaConnector"). */
const struct registry_entry *registry_find(const struct registry *r, const char *identifier);

#endif
