/* What the optimizer optimizes: a metric reduced from a MEASUREMENT, or an expression over
 * metrics and settings ("throughput / (cpu * replicas)"), and the SLO constraints. */
#ifndef SERVO_OPTIMIZER_OBJECTIVE_H
#define SERVO_OPTIMIZER_OBJECTIVE_H

#include <stdbool.h>

#include "servo/model.h"

enum aggregate {
    AGGREGATE_MEAN,
    AGGREGATE_MEDIAN,
    AGGREGATE_P90,
    AGGREGATE_P95,
    AGGREGATE_P99,
    AGGREGATE_MIN,
    AGGREGATE_MAX,
    AGGREGATE_LAST,
};

/* "mean", "median", "p90", ...; -1 when unknown. */
int aggregate_parse(const char *name);
const char *aggregate_name(enum aggregate a);

/* The aggregate of n > 0 finite values (`last`: the latest one's value); the values may be
 * reordered (sorted) by it. */
double aggregate_values(double *values, size_t n, enum aggregate a, double last);

/* Reduces every finite point of every reading of `metric` ("last" takes the latest time).
 * Returns 0, or -1 when the metric is absent or has no finite point. */
int measurement_reduce(const struct servo_measurement *m, const char *metric,
                       enum aggregate aggregate, double *out);

struct expr;

/* Grammar: sums and products of terms; terms are numbers, names ([A-Za-z_][A-Za-z0-9_.]*),
 * parenthesised expressions, unary minus, `a ^ b`, and calls of min, max, abs, sqrt, log,
 * exp, pow. NULL with a message (caller frees) naming the column on a syntax error. */
struct expr *expr_parse(const char *text, char **error);
void expr_free(struct expr *e);

/* Looks up a name's value; returns false when the name is unknown. */
typedef bool (*expr_lookup)(void *context, const char *name, double *value);

/* Evaluates; returns 0, or -1 with a message for an unknown name. The result may be NaN or
 * infinite (a division by zero): callers treat that as a failed trial. */
int expr_eval(const struct expr *e, expr_lookup lookup, void *context, double *out, char **error);
/* Calls `visit` for every name in the expression (to check them against a description). */
void expr_names(const struct expr *e, void (*visit)(void *context, const char *name),
                void *context);

#endif
