/* Configuration diagnostics: every problem found, each with its place and dotted path,
 * printed as "FILE:LINE:COL: dotted.path: message". */
#ifndef SERVO_DIAG_H
#define SERVO_DIAG_H

#include <stddef.h>
#include <stdio.h>

#include "servo/abi.h"

struct servo_node;

struct servo_diag {
    char *source; /* file name or "$VARIABLE"; may be NULL */
    int line;     /* 0 when unknown */
    int column;
    char *path; /* dotted path, may be empty */
    char *message;
};

struct servo_diags {
    struct servo_diag *items;
    size_t count;
    size_t capacity;
};

void diags_init(struct servo_diags *d);
void diags_free(struct servo_diags *d);
void diag_add(struct servo_diags *d, const char *source, int line, int column, const char *path,
              const char *fmt, ...) SERVO_PRINTF(6, 7);
/* Located at `node`; `node` may be NULL (then the source is `fallback`). */
void diag_at(struct servo_diags *d, const struct servo_node *node, const char *fallback,
             const char *path, const char *fmt, ...) SERVO_PRINTF(5, 6);
/* One diagnostic as a line of text (no newline); the caller frees. */
char *diag_format(const struct servo_diag *diag);
void diags_print(const struct servo_diags *d, FILE *out, const char *prefix);
/* Moves every diagnostic of `from` to the end of `to`. */
void diags_take(struct servo_diags *to, struct servo_diags *from);

#endif
