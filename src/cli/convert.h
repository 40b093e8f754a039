// SPDX-License-Identifier: Apache-2.0
/* The legacy Opsani configuration converter behind `servo config convert` (cmd_convert.c). */
#ifndef SERVO_CLI_CONVERT_H
#define SERVO_CLI_CONVERT_H

#include <jansson.h>

#include "servo/node.h"

/* A legacy Opsani config.yaml (`doc`, a mapping; `source` names it in the header comment) as
 * servo.yaml text (caller frees), or NULL when nothing converts. What is not converted is
 * appended to `notes`, one string each ("PATH (line N): why"). */
char *legacy_convert(const struct servo_node *doc, const char *source, json_t *notes);

#endif
