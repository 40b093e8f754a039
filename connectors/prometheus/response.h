/* Prometheus HTTP API query responses (/api/v1/query and /api/v1/query_range), parsed as a
 * stream: feed the body in chunks as they arrive (the HTTP engine's body callback) and the parser
 * builds the series directly, never a JSON document tree, never a copy of the body.
 *
 *   {"status":"success","data":{"resultType":"matrix","result":[
 *       {"metric":{"__name__":"up","job":"a"},"values":[[1795822295,"1"],...]}, ...]},
 *    "warnings":[...]}
 *   {"status":"error","errorType":"bad_data","error":"parse error: ..."}
 *
 * Values are JSON strings ("1200", "NaN", "+Inf", "-Inf") and become doubles; timestamps are
 * JSON numbers (Unix seconds, possibly with a fraction). Keys may come in any order; keys
 * this parser does not know are skipped whatever they hold. Matrix series carry "values",
 * vector series "value" (one point); scalar and string results are one [time, value] pair.
 *
 * Every malformed input (truncated, not JSON, an HTML page, a value of the wrong type, bad
 * UTF-8 in a label, nesting deeper than PROM_MAX_DEPTH) gives an error message naming the
 * byte offset; nothing is ever read outside the chunks given. */
#ifndef SERVO_CONNECTOR_PROMETHEUS_RESPONSE_H
#define SERVO_CONNECTOR_PROMETHEUS_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "servo/model.h"

/* Deepest nesting accepted (the Prometheus shapes need 6). */
#define PROM_MAX_DEPTH 64
/* Longest string kept (label names and values, error texts); longer ones are an error. */
#define PROM_MAX_STRING (1u << 20)
/* Warnings kept (more are counted, not stored). */
#define PROM_MAX_WARNINGS 16

enum prom_result_type {
    PROM_RESULT_NONE, /* no resultType (error responses) */
    PROM_RESULT_MATRIX,
    PROM_RESULT_VECTOR,
    PROM_RESULT_SCALAR,
    PROM_RESULT_STRING,
};

struct prom_label {
    char *name;
    char *value;
};

struct prom_series {
    struct prom_label *labels; /* in the order received */
    size_t label_count;
    size_t label_capacity;
    struct servo_point *points; /* malloc'd: servo_reading can take it over */
    size_t point_count;
    size_t point_capacity;
};

struct prom_response {
    char *status;     /* "success" or "error" (NULL when absent) */
    char *error_type; /* "bad_data", "execution", "timeout", ... or NULL */
    char *error;      /* the error text or NULL */
    enum prom_result_type type;
    struct prom_series *series; /* matrix and vector results */
    size_t series_count;
    size_t series_capacity;
    bool has_value;           /* scalar and string results: */
    struct servo_point value; /* the scalar (a string result's value is NaN) */
    char *string_value;       /* a string result's text */
    char *warnings[PROM_MAX_WARNINGS];
    size_t warning_count; /* all warnings seen, including those not stored */
};

struct prom_parser;

/* A parser filling `out` (zeroed by it). Never NULL (aborts when out of memory). */
struct prom_parser *prom_parser_new(struct prom_response *out);
/* Parses the next chunk. Returns 0, or -1 once the input is known to be malformed (every
 * later call returns -1 too). */
int prom_parser_feed(struct prom_parser *p, const char *data, size_t length);
/* The end of the body: -1 when the document is incomplete or inconsistent. */
int prom_parser_finish(struct prom_parser *p);
/* Why the input was refused ("" while it is fine). */
const char *prom_parser_error(const struct prom_parser *p);
/* Bytes consumed so far. */
size_t prom_parser_offset(const struct prom_parser *p);
void prom_parser_free(struct prom_parser *p);

/* One buffer at once: 0, or -1 with a message in *error (caller frees). `out` is filled
 * either way and must be freed with prom_response_free. */
int prom_response_parse(const char *data, size_t length, struct prom_response *out, char **error);
void prom_response_free(struct prom_response *r);

/* A sample value as Prometheus writes it: "1200", "-0.5", "1e+06", "NaN", "+Inf", "-Inf".
 * Returns 0, or -1 when `text` is not a number. */
int prom_parse_value(const char *text, size_t length, double *out);
/* The value of a label, or NULL. */
const char *prom_series_label(const struct prom_series *s, const char *name);
const char *prom_result_type_name(enum prom_result_type type);

#endif
