/* JSON values written as block-style YAML (libyaml's emitter). Strings that would read back
 * as something else (numbers, booleans, null, "") are quoted; multi-line strings are literal
 * blocks. */
#ifndef SERVO_YAML_OUT_H
#define SERVO_YAML_OUT_H

#include <jansson.h>
#include <stdbool.h>

/* One document per value; `explicit_start` writes "---" before each. Returns NULL on error. */
char *yaml_dump(json_t *const *values, size_t count, bool explicit_start);

#endif
