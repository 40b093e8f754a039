/* The configuration tree: YAML or JSON values with the place each one came from. Built by
 * config/yaml.c, merged with environment overrides, consumed by the settings engine. */
#ifndef SERVO_CONFIG_NODE_H
#define SERVO_CONFIG_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "servo/node.h"

struct servo_pair {
    char *key;
    int line; /* of the key */
    int column;
    struct servo_node *value;
};

struct servo_node {
    enum servo_node_kind kind;
    const char *source; /* interned: lives as long as the process */
    int line;
    int column;
    char *text;  /* SCALAR */
    bool quoted; /* SCALAR: quoted in YAML or a JSON string */
    size_t count;
    size_t capacity;
    struct servo_node **items; /* SEQ */
    struct servo_pair *pairs;  /* MAP, in document order */
    size_t *index;             /* MAP with many keys: hash slots holding pair positions + 1 */
    size_t index_size;         /* slots (a power of two), 0 without an index */
    size_t weight;             /* nodes in this subtree, itself included */
    size_t bytes;              /* text in this subtree: scalars and mapping keys */
};

/* Source names are interned once and never freed, so nodes can point at them freely. */
const char *node_intern_source(const char *name);

struct servo_node *node_new(enum servo_node_kind kind, const char *source, int line, int column);
struct servo_node *node_new_scalar(const char *text, bool quoted, const char *source, int line,
                                   int column);
void node_free(struct servo_node *node);
struct servo_node *node_clone(const struct servo_node *node);

void node_seq_push(struct servo_node *seq, struct servo_node *item);
/* Adds or replaces (freeing the old value) `key`; takes ownership of `value`. */
void node_map_set(struct servo_node *map, const char *key, int line, int column,
                  struct servo_node *value);
struct servo_pair *node_map_find(const struct servo_node *map, const char *key);
/* Removes `key` and returns its value (the caller owns it), or NULL. */
struct servo_node *node_map_take(struct servo_node *map, const char *key);
/* Overlays `overlay` onto `*base`: mappings merge key by key, recursively; anything else
 * replaces. Takes ownership of `overlay`. */
void node_merge(struct servo_node **base, struct servo_node *overlay);
/* Ensures `map[key]` is a mapping, creating (or replacing a non-mapping) as needed. */
struct servo_node *node_map_child(struct servo_node *map, const char *key, const char *source);

#endif
