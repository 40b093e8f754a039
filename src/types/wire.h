/* Internal helpers of the data model's JSON codecs (model.c, control.c): a JSON path for
 * decoding errors ("application.components.web.settings.cpu.min: expected a number") and
 * numbers and strings in their wire forms. */
#ifndef SERVO_TYPES_WIRE_H
#define SERVO_TYPES_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "servo/abi.h"
#include "util/util.h"

/* Where a decoder is in the document, and where its error message goes. */
struct wire_path {
    struct strbuf text;
    char **error;
};

void wire_path_init(struct wire_path *p, char **error);
void wire_path_release(struct wire_path *p);
/* Appends ".key" ("key" at the root) or "[index]"; both return the length to pop back to. */
size_t wire_path_key(struct wire_path *p, const char *key);
size_t wire_path_index(struct wire_path *p, size_t index);
void wire_path_pop(struct wire_path *p, size_t mark);
/* Sets the error ("path: message", or the message alone at the root) and returns -1. */
int wire_fail(struct wire_path *p, const char *fmt, ...) SERVO_PRINTF(2, 3);

/* Decodes each member of an object keyed by name ({NAME: {...}, ...}) with the member's name
 * on the error path; absent or null is empty. Stops at the first failure (-1). */
int wire_each_member(struct wire_path *p, const json_t *json,
                     int (*decode)(struct wire_path *p, const char *name, const json_t *value,
                                   void *target),
                     void *target);
/* Decodes each item of an array (the caller checked it is one) with "[index]" on the error
 * path. Stops at the first failure (-1). */
int wire_each_item(struct wire_path *p, const json_t *json,
                   int (*decode)(struct wire_path *p, size_t index, const json_t *value,
                                 void *target),
                   void *target);

/* Absent or JSON null. */
bool wire_is_absent(const json_t *json);
/* A JSON integer that a double holds exactly (|v| <= 2^53). */
bool wire_is_exact_integer(const json_t *json);

/* A number on the wire: a JSON integer when `integer` is asked and `value` is whole and exact
 * in a double, a JSON real otherwise, and the strings "NaN", "+Inf", "-Inf" when not finite. */
json_t *wire_number(double value, bool integer);
/* "NaN", "+Inf", "-Inf" for non-finite values; NULL for finite ones. */
const char *wire_nonfinite_text(double value);

/* A decimal number ("1", "-2.5", "1e3") with nothing else around it; `integer` (optional)
 * tells whether it had neither fraction nor exponent. Rejects overflow to infinity. */
bool wire_parse_decimal(const char *text, double *out, bool *integer);
/* wire_parse_decimal, or "NaN", "Inf", "+Inf", "-Inf", "Infinity" in any case. */
bool wire_parse_number_text(const char *text, double *out);
/* Shortest text that reads back to `value`, always with a fraction or an exponent ("2.0",
 * "0.1", "1e+300"), so that it re-encodes as a JSON real. Caller frees. */
char *wire_format_real(double value);
/* Shortest text that reads back to `value` ("2", "0.5"). Caller frees. */
char *wire_format_number(double value);

/* A copy of `text` with invalid UTF-8 bytes replaced by '?'. Caller frees. */
char *wire_utf8_clean(const char *text);
/* A JSON string of `text`, invalid UTF-8 replaced by '?' (jansson refuses it). */
json_t *wire_string(const char *text);
/* json_object_set_new with the key made valid UTF-8 the same way. */
void wire_set(json_t *object, const char *key, json_t *value);

#endif
