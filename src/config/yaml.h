/* YAML (and JSON, which is YAML) text to configuration trees, one per document, with a
 * location on every node. Duplicate keys are errors; `<<` merge keys and aliases are applied;
 * nesting, size and alias expansion are bounded so hostile input cannot exhaust memory. */
#ifndef SERVO_CONFIG_YAML_H
#define SERVO_CONFIG_YAML_H

#include <stddef.h>

#include "config/diag.h"
#include "config/node.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 2000000
/* text (scalars and keys) once aliases and merges are expanded */
#define YAML_MAX_BYTES (64u * 1024u * 1024u)
#define YAML_MAX_BYTES_TEXT "64 MiB"
#define CONFIG_MAX_FILE_SIZE (8u * 1024u * 1024u)

struct yaml_documents {
    struct servo_node **items; /* an empty document is a NULL-kind node */
    size_t count;
};

/* Returns 0, or -1 after adding diagnostics (syntax errors stop at the first; duplicate keys
 * are all reported). On -1 `docs` is left empty. */
int yaml_load(const char *text, size_t length, const char *source, struct yaml_documents *docs,
              struct servo_diags *diags);
int yaml_load_file(const char *path, struct yaml_documents *docs, struct servo_diags *diags);
void yaml_documents_free(struct yaml_documents *docs);

#endif
