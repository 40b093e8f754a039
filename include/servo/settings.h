/* Declarative settings: a connector describes its configuration surface as a static table of
 * typed fields. One engine (the core) validates YAML/JSON into the connector's struct, fills
 * defaults, applies environment overrides, reports every error with file:line:col and the
 * dotted path, emits JSON Schema, and frees everything it allocated. The connector receives
 * a valid, immutable struct and never frees it. */
#ifndef SERVO_SETTINGS_H
#define SERVO_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "servo/abi.h"
#include "servo/node.h"
#include "servo/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Each type names the C storage it writes at `offset`. */
enum servo_field_type {
    SERVO_FIELD_BOOL,     /* bool */
    SERVO_FIELD_INT,      /* int64_t (SERVO_UNSET when optional and absent) */
    SERVO_FIELD_FLOAT,    /* double (NAN when optional and absent) */
    SERVO_FIELD_STRING,   /* char * (NULL when absent) */
    SERVO_FIELD_SECRET,   /* char *, masked in every output unless secrets are asked for */
    SERVO_FIELD_DURATION, /* servo_duration (SERVO_UNSET when optional and absent) */
    SERVO_FIELD_CPU,      /* int64_t millicores */
    SERVO_FIELD_MEMORY,   /* int64_t bytes */
    SERVO_FIELD_RATE,     /* struct servo_rate (hits < 0 when optional and absent) */
    SERVO_FIELD_URL,      /* char *, an absolute http(s) URL */
    SERVO_FIELD_ENUM,     /* int: index into `choices` (-1 when optional and absent) */
    SERVO_FIELD_LIST,     /* struct servo_list of `item` */
    SERVO_FIELD_OBJECT,   /* the nested struct of `object`, embedded; a pointer if OPTIONAL */
    SERVO_FIELD_MAP,      /* struct servo_map: string keys to `item` */
    SERVO_FIELD_CUSTOM,   /* storage and parsing defined by `custom` */
};

#define SERVO_F_REQUIRED (1u << 0) /* missing -> "field required" */
#define SERVO_F_SECRET (1u << 1)   /* masked in output (implied by SERVO_FIELD_SECRET) */
#define SERVO_F_NO_ENV (1u << 2)   /* no SERVO_<KEY>_<FIELD> variable */
#define SERVO_F_OPTIONAL (1u << 3) /* OBJECT: stored as a pointer, NULL when absent */
#define SERVO_F_MIN (1u << 4)      /* `min` is a bound (inclusive) */
#define SERVO_F_MAX (1u << 5)      /* `max` is a bound (inclusive) */
#define SERVO_F_NONEMPTY (1u << 6) /* strings, lists and maps must not be empty */

/* A list: `count` items of the item type, contiguous. */
struct servo_list {
    size_t count;
    void *items;
};

/* A map with string keys in document order; values contiguous like a list. */
struct servo_map {
    size_t count;
    char **keys;
    void *values;
};

struct servo_validation; /* the engine's error sink, passed to validators */
struct servo_schema;

/* Escape hatch for values with two shapes (a bool or a path, "expo" or a duration). */
struct servo_custom_type {
    size_t size; /* storage at `offset` */
    int (*parse)(const struct servo_node *node, void *dst, struct servo_validation *v);
    void (*free)(void *dst);
    json_t *(*to_json)(const void *src, bool show_secrets); /* new reference */
    const char *json_schema; /* a JSON Schema fragment for the value */
};

struct servo_field {
    const char *name;
    enum servo_field_type type;
    size_t offset;
    uint32_t flags;
    /* Default as YAML text ("15s", "[request, limit]", "{period: 1m}"), parsed by the same
     * code as the file. NULL: no default (then REQUIRED or zero/unset). */
    const char *def;
    const char *description;
    double min, max;            /* with SERVO_F_MIN/MAX; in storage units (ns, millicores, bytes) */
    const char *const *choices; /* ENUM: NULL-terminated */
    const char *pattern;        /* strings: PCRE2, searched as in JSON Schema */
    const struct servo_field *item;         /* LIST/MAP: the element type (name unused) */
    const struct servo_schema *object;      /* OBJECT */
    const struct servo_custom_type *custom; /* CUSTOM */
    /* A scalar given where an OBJECT or MAP is expected becomes {shorthand: scalar}; "*" sets
     * every field of the object to it. For a LIST, any non-NULL shorthand lets a scalar stand
     * for a one-item list. */
    const char *shorthand;
    const char *env_alias; /* one more variable read for this field, e.g. "OPSANI_TOKEN" */
    int (*validate)(const void *value, struct servo_validation *v);
};

struct servo_schema {
    const char *title;
    const char *description;
    size_t size;                      /* sizeof the settings struct */
    const struct servo_field *fields; /* ends with an entry whose name is NULL */
    /* Cross-field checks after every field is valid (e.g. target XOR targets). */
    int (*validate)(const void *settings, struct servo_validation *v);
};

/* Report a validation error. `field` names a member of the object being validated (its
 * location is used when it was given) or is NULL for the value itself. Returns -1. */
SERVO_EXPORT int servo_validation_error(struct servo_validation *v, const char *field,
                                        const char *fmt, ...) SERVO_PRINTF(3, 4);
/* The node being validated (NULL when the value came from a default). */
SERVO_EXPORT const struct servo_node *servo_validation_node(const struct servo_validation *v);

#define SERVO_FIELDS_END \
    {                    \
        .name = NULL     \
    }

#ifdef __cplusplus
}
#endif

#endif
