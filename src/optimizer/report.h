/* The study report: one self-contained HTML page (inline CSS and SVG, no scripts, nothing
 * fetched from anywhere) drawn from a study document (results.h): the objective per trial with
 * the best so far and the baseline marked, each setting against the objective, each
 * constraint's metric per trial with its threshold, and the table of the trials. */
#ifndef SERVO_OPTIMIZER_REPORT_H
#define SERVO_OPTIMIZER_REPORT_H

#include <jansson.h>

/* Caller frees. */
char *report_html(const json_t *doc);

#endif
