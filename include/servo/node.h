/* Read-only access to a configuration node: one YAML/JSON value with the place it came from.
 * Custom field types and validators see nodes; connectors never do. */
#ifndef SERVO_NODE_H
#define SERVO_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "servo/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct servo_node;

enum servo_node_kind {
    SERVO_NODE_NULL,   /* ~, null, an empty value */
    SERVO_NODE_SCALAR, /* any other scalar; see servo_node_quoted */
    SERVO_NODE_SEQ,
    SERVO_NODE_MAP,
};

SERVO_EXPORT enum servo_node_kind servo_node_kind(const struct servo_node *node);
/* The scalar's text (NULL for other kinds). */
SERVO_EXPORT const char *servo_node_text(const struct servo_node *node);
/* True for a quoted YAML scalar or a JSON string: the author meant a string, not a number. */
SERVO_EXPORT bool servo_node_quoted(const struct servo_node *node);
/* Number of items of a sequence or entries of a mapping; 0 otherwise. */
SERVO_EXPORT size_t servo_node_size(const struct servo_node *node);
SERVO_EXPORT const struct servo_node *servo_node_item(const struct servo_node *seq, size_t index);
SERVO_EXPORT const char *servo_node_key(const struct servo_node *map, size_t index);
SERVO_EXPORT const struct servo_node *servo_node_value(const struct servo_node *map, size_t index);
SERVO_EXPORT const struct servo_node *servo_node_get(const struct servo_node *map, const char *key);
/* Where the node starts: a file name or a source such as "$SERVO_VEGETA"; 1-based line and
 * column (0 when the source has no lines, e.g. a plain environment variable). */
SERVO_EXPORT const char *servo_node_source(const struct servo_node *node);
SERVO_EXPORT int servo_node_line(const struct servo_node *node);
SERVO_EXPORT int servo_node_column(const struct servo_node *node);
/* "a mapping", "a sequence", "null", "a string", "a number"...: for error messages. */
SERVO_EXPORT const char *servo_node_describe(const struct servo_node *node);

#ifdef __cplusplus
}
#endif

#endif
