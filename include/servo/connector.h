/* The connector plugin interface. A connector is a static description (metadata, a settings
 * table, event handlers, checks, subcommands); the core creates one instance per configured
 * name and hands each its validated, immutable settings. Built-in connectors and shared
 * objects found on the plugin path use exactly this interface. */
#ifndef SERVO_CONNECTOR_H
#define SERVO_CONNECTOR_H

#include <stdint.h>

#include <jansson.h>

#include "servo/abi.h"
#include "servo/error.h"
#include "servo/settings.h"

#ifdef __cplusplus
extern "C" {
#endif

struct servo_connector; /* an instance: name, settings, private state */
struct servo_event;     /* one dispatch of one event, as one handler sees it */
struct servo_check_def; /* declared checks (servo/checks.h) */
struct servo_command;   /* connector subcommands, e.g. `servo prometheus targets` */

enum servo_preposition {
    SERVO_BEFORE = 1u << 0,
    SERVO_ON = 1u << 1,
    SERVO_AFTER = 1u << 2,
};

/* Returns 0, or -1 with the error recorded on the event (see servo/events.h). */
typedef int (*servo_handler_fn)(struct servo_connector *connector, struct servo_event *event);

struct servo_handler {
    const char *event; /* "describe", "measure", "adjust", ... or a custom event */
    unsigned preposition;
    servo_handler_fn fn;
};

struct servo_connector_plugin {
    uint32_t abi_version;   /* SERVO_ABI_VERSION; always the first member */
    uint32_t struct_size;   /* sizeof(struct servo_connector_plugin) */
    const char *name;       /* default key and identifier: "vegeta" */
    const char *class_name; /* "VegetaConnector": also accepted in `connectors:` */
    const char *version;    /* semver */
    const char *description;
    const char *homepage;
    const char *license;
    const char *maturity; /* "Experimental", "Stable" or "Robust" */
    const struct servo_schema *settings;
    /* The stanza `servo generate` writes, as YAML; it must validate. */
    const char *generate;
    /* Called once the instance's settings are valid (attach); may set private state. */
    int (*init)(struct servo_connector *connector, struct servo_error *error);
    /* Releases what init made (detach). */
    void (*fini)(struct servo_connector *connector);
    const struct servo_handler *handlers; /* ends with {NULL} */
    const char *const *events;            /* custom events declared; NULL-terminated */
    const struct servo_check_def *checks;
    const struct servo_command *commands;
    /* A connector made of others (opsani_dev): called once its settings are valid, with the
     * instance's name and its settings as JSON (secrets shown), at assembly. Returns an array (new
     * reference; NULL: none) of
     * {"connector": "kubernetes", "name": "opsani_dev.kubernetes", "settings": {...},
     *  "optional": false}: each becomes an instance of that connector, after this one, as if
     * it had been configured. An optional child whose connector is not registered is left out;
     * a missing required one, or settings that do not validate, fail the configuration. */
    json_t *(*children)(const char *name, const json_t *settings);
    void *reserved[7]; /* room to grow without breaking the ABI */
};

/* A connector subcommand: `servo <plugin name> [-c INSTANCE] <name> [ARGS...]` (ServoX's
 * connector CLIs, e.g. `servo prometheus targets`). The core picks the instance (the only
 * one of the plugin in the selected servo, or the one named with -c/--connector), attaches
 * it, and calls `run` with the arguments from the subcommand's name on (argv[0] is the
 * name). `run` prints to stdout and stderr and returns the exit status: 0 success,
 * 1 failure, 2 usage error. */
struct servo_command {
    const char *name;    /* "targets" */
    const char *summary; /* one line, for `servo prometheus --help` */
    const char *usage;   /* what follows "Usage: servo prometheus targets " in its help */
    int (*run)(struct servo_connector *connector, int argc, char **argv);
};
/* A connector's `commands` array ends with an entry whose name is NULL. */

/* What a shared object exports under SERVO_PLUGIN_SYMBOL. */
struct servo_plugin_manifest {
    uint32_t abi_version; /* SERVO_ABI_VERSION; checked before anything else is read */
    uint32_t count;
    const struct servo_connector_plugin *const *connectors;
};

#define SERVO_PLUGIN_SYMBOL "servo_plugin_manifest"

/* In a plugin: SERVO_DECLARE_PLUGIN(&my_connector, &my_other_connector); */
#define SERVO_DECLARE_PLUGIN(...)                                                                 \
    static const struct servo_connector_plugin *const servo_plugin_connectors_[] = {__VA_ARGS__}; \
    SERVO_EXPORT const struct servo_plugin_manifest servo_plugin_manifest = {                     \
        SERVO_ABI_VERSION,                                                                        \
        (uint32_t)(sizeof servo_plugin_connectors_ / sizeof servo_plugin_connectors_[0]),         \
        servo_plugin_connectors_}

#define SERVO_CONNECTOR_HEADER \
    .abi_version = SERVO_ABI_VERSION, .struct_size = sizeof(struct servo_connector_plugin)

/* The instance name ("prom1"), which is the key of its stanza. */
SERVO_EXPORT const char *servo_connector_name(const struct servo_connector *connector);
SERVO_EXPORT const struct servo_connector_plugin *
servo_connector_plugin(const struct servo_connector *connector);
/* The validated settings struct of the plugin's table; never modify or free it. */
SERVO_EXPORT const void *servo_connector_settings(const struct servo_connector *connector);
SERVO_EXPORT void *servo_connector_state(const struct servo_connector *connector);
SERVO_EXPORT void servo_connector_set_state(struct servo_connector *connector, void *state);

#ifdef __cplusplus
}
#endif

#endif
