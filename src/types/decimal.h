// SPDX-License-Identifier: Apache-2.0
/* The decimal numbers of durations ("1.5h") and quantities ("0.25", "1.5Gi"), scanned as
 * written so that each parser scales them in exact integer arithmetic. */
#ifndef SERVO_TYPES_DECIMAL_H
#define SERVO_TYPES_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>

/* Integer digits, then fraction digits (either may be empty, not both). */
struct decimal_text {
    const char *integer;
    size_t integer_len;
    const char *fraction;
    size_t fraction_len;
};

bool decimal_is_digit(char c);
/* Scans "[digits][.digits]" with at least one digit at `p` into `number`; returns the
 * characters consumed, or 0 with *reason set ("missing number", "malformed number"). */
size_t decimal_scan(const char *p, struct decimal_text *number, const char **reason);

#endif
