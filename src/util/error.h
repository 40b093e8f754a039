// SPDX-License-Identifier: Apache-2.0
/* The one place a location is written ("FILE:LINE:COL: path: "), for struct servo_error
 * (servo/error.h) and the configuration's diagnostics (config/diag.h). */
#ifndef SERVO_UTIL_ERROR_H
#define SERVO_UTIL_ERROR_H

#include "util/util.h"

/* Appends "SOURCE:LINE:COL: " (or "SOURCE: " without a line) and "PATH: ", leaving out what
 * is NULL, empty or 0. */
void error_location_prefix(struct strbuf *sb, const char *source, int line, int column,
                           const char *path);

#endif
