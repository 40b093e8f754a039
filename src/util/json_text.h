// SPDX-License-Identifier: Apache-2.0
/* JSON text as Python (and so ServoX) writes it: every real in the shortest form that reads
 * back to the same double ("33.33", not jansson's "33.329999999999998"). */
#ifndef SERVO_UTIL_JSON_TEXT_H
#define SERVO_UTIL_JSON_TEXT_H

#include <jansson.h>

/* json_dumps with the reals rewritten; the caller frees. NULL when json_dumps fails. */
char *json_text(const json_t *value, size_t flags);
/* The rewriting alone, on JSON text as json_dumps writes it (caller frees). */
char *json_shortest_reals(const char *text);

#endif
