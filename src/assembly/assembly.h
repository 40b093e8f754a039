/* Assembly: a configuration file (one servo per YAML document) plus the environment and
 * command-line overrides, resolved through the registry into servos, each with its routed
 * connector instances and their validated, immutable settings. */
#ifndef SERVO_ASSEMBLY_H
#define SERVO_ASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>

#include "assembly/registry.h"
#include "assembly/servo_settings.h"
#include "config/diag.h"
#include "config/env.h"

/* One configured instance of a connector: what a connector sees as `struct servo_connector`. */
struct servo_connector {
    char *name; /* the stanza key: default key or alias */
    const struct servo_connector_plugin *plugin;
    const char *origin; /* NULL for built-ins, else the shared object */
    void *settings;     /* validated; owned by the assembly */
    void *state;        /* the connector's private state (init/fini) */
};

enum routing_form {
    ROUTING_IMPLICIT, /* no `connectors`: every connector at its key, active if present */
    ROUTING_LIST,     /* connectors: [a, b] */
    ROUTING_MAP,      /* connectors: {alias: connector} */
};

struct servo_config {
    char *name; /* settings.name, else the optimizer id, else "servo" */
    struct servo_settings *settings;
    struct servo_connector *connectors;
    size_t connector_count;
    enum routing_form routing;
    int line; /* where the document starts */
};

struct assembly {
    char *config_file;
    struct servo_config *servos;
    size_t count;
};

/* A command-line value that beats every other source: path "optimizer.token". */
struct config_override {
    const char *path;
    const char *value;
};

struct assembly_options {
    const char *config_file;
    bool allow_unknown; /* --allow-unknown: ignore foreign top-level keys */
    const struct config_override *overrides;
    size_t override_count;
    const struct env_lookup *env; /* NULL: the process environment */
};

/* Loads and validates everything, reporting every problem. Returns 0, or -1 with diagnostics
 * (the assembly is then empty). */
int assembly_load(struct assembly *a, const struct registry *registry,
                  const struct assembly_options *options, struct servo_diags *diags);
/* The same from text (tests, fuzzing); `source` names it in diagnostics. */
int assembly_load_text(struct assembly *a, const struct registry *registry, const char *text,
                       size_t length, const char *source, const struct assembly_options *options,
                       struct servo_diags *diags);
void assembly_free(struct assembly *a);

/* The servo named `name`, or the only one when `name` is NULL. */
const struct servo_config *assembly_find(const struct assembly *a, const char *name);
/* Instance names with their connector, then each instance's complete settings, as in
 * `servo config`. */
json_t *servo_config_to_json(const struct servo_config *servo, bool show_secrets);

/* SERVO_<KEY>: the environment prefix of an instance key. */
char *assembly_env_prefix(const char *key);

#endif
