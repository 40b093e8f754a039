/* The streaming parser of Prometheus query responses (see response.h).
 *
 * Two layers in one pass over the bytes. A resumable JSON tokenizer and grammar (an explicit
 * stack of frames, so a token may end in a later chunk: a partial string, number or literal
 * is kept in `token`) and, on each frame, a role saying what the value at that place means
 * (the data object, the result list, a series, its labels, its samples, or something to
 * skip). A fast path takes whole samples `[1795822295,"1200"]` straight from the chunk when
 * they lie entirely inside it, which is nearly always; anything unusual (white space,
 * escapes, a chunk boundary) falls back to the general path, which gives the same result. */
#include "response.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/alloc.h"
#include "servo/buf.h"

/* Numbers longer than this are parsed from a heap copy. */
#define NUMBER_STACK_MAX 64
/* A literal (true, false, null) is at most this long. */
#define LITERAL_MAX 5
#define ERROR_MAX 256

enum lexeme {
    LEX_NONE,    /* between tokens */
    LEX_STRING,  /* inside a string, its decoded text so far in `token` */
    LEX_NUMBER,  /* inside a number */
    LEX_LITERAL, /* inside true, false or null */
};

enum expect {
    EXPECT_DOCUMENT,     /* the root value */
    EXPECT_VALUE,        /* after ':', or after ',' in an array */
    EXPECT_VALUE_OR_END, /* after '[' */
    EXPECT_KEY,          /* after ',' in an object */
    EXPECT_KEY_OR_END,   /* after '{' */
    EXPECT_COLON,
    EXPECT_COMMA_OR_END,
    EXPECT_NOTHING, /* the root value is complete */
};

/* What a container (or the value about to start) is. */
enum role {
    ROLE_SKIP, /* not ours: everything inside is ignored */
    ROLE_ROOT,
    ROLE_DATA,
    ROLE_RESULT,
    ROLE_SERIES,
    ROLE_METRIC,
    ROLE_VALUES,
    ROLE_POINT,
    ROLE_WARNINGS,
};

enum key {
    KEY_OTHER,
    KEY_STATUS,
    KEY_ERROR_TYPE,
    KEY_ERROR,
    KEY_DATA,
    KEY_WARNINGS,
    KEY_RESULT_TYPE,
    KEY_RESULT,
    KEY_METRIC,
    KEY_VALUES,
    KEY_VALUE,
    KEY_LABEL,
};

enum kind {
    KIND_OBJECT,
    KIND_ARRAY,
    KIND_STRING,
    KIND_NUMBER,
    KIND_LITERAL,
};

struct frame {
    unsigned char object; /* 1: an object, 0: an array */
    unsigned char role;   /* enum role */
    unsigned char key;    /* objects: enum key of the member whose value comes next */
    size_t index;         /* arrays: elements completed so far */
};

struct prom_parser {
    struct prom_response *out;
    const char *chunk;   /* the chunk being parsed (for error offsets) */
    size_t chunk_offset; /* of its first byte in the whole body */
    bool failed;
    char error[ERROR_MAX];
    /* a token that may span chunks */
    enum lexeme lex;
    char *token;
    size_t token_length;
    size_t token_capacity;
    int escape;              /* strings: 0, 1 after a backslash, 2-5 reading \u digits */
    unsigned code;           /* the \u value so far */
    unsigned high_surrogate; /* a \u high surrogate waiting for its low half, or 0 */
    /* grammar */
    enum expect expect;
    struct frame stack[PROM_MAX_DEPTH];
    size_t depth;
    /* meaning */
    char *label_name;   /* in a metric object: the label whose value comes next */
    double point_time;  /* in a sample: its time */
    double point_value; /* and its value */
    bool result_value_numeric;
    bool result_has_elements; /* the result list held a bare time or value (scalar, string) */
};

static const double powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- errors ----------------------------------------------------------------------------- */

static int fail(struct prom_parser *p, const char *at, const char *fmt, ...) SERVO_PRINTF(3, 4);

static int fail(struct prom_parser *p, const char *at, const char *fmt, ...)
{
    if (p->failed)
        return -1;
    size_t offset =
        p->chunk_offset + (at != NULL && p->chunk != NULL ? (size_t)(at - p->chunk) : 0);
    char message[ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    snprintf(p->error, sizeof p->error, "%.200s (at byte %zu)", message, offset);
    p->failed = true;
    return -1;
}

/* ---- numbers ---------------------------------------------------------------------------- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_number_char(char c)
{
    return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static int parse_with_strtod(const char *text, size_t length, double *out)
{
    char stack[NUMBER_STACK_MAX + 1];
    char *copy = length <= NUMBER_STACK_MAX ? stack : servo_xmalloc(length + 1);
    memcpy(copy, text, length);
    copy[length] = '\0';
    char *end = NULL;
    errno = 0;
    double value = strtod(copy, &end);
    bool whole = end == copy + length;
    if (copy != stack)
        free(copy);
    if (!whole)
        return -1;
    *out = value; /* ERANGE: +-HUGE_VAL or a denormal/zero, as Prometheus would have it */
    return 0;
}

struct decimal {
    uint64_t mantissa;
    int significant; /* digits in the mantissa (leading zeros excepted) */
    int exponent;    /* value = mantissa * 10^exponent when exact */
    bool exact;      /* no digit was dropped */
};

static void decimal_digit(struct decimal *d, char c, bool fraction)
{
    unsigned digit = (unsigned)(c - '0');
    if (d->mantissa == 0 && digit == 0) {
        d->exponent -= fraction;
        return;
    }
    if (d->significant >= 19) {
        d->exact = false;
        return;
    }
    d->mantissa = d->mantissa * 10 + digit;
    d->significant++;
    d->exponent -= fraction;
}

/* [sign] digits [. digits] [(e|E) [sign] digits]: JSON numbers (no '+', no leading zeros)
 * when `json`, else Prometheus' looser sample values. */
static int parse_decimal(const char *text, size_t length, bool json, double *out)
{
    const char *s = text, *end = text + length;
    bool negative = false;
    if (s < end && (*s == '-' || (!json && *s == '+'))) {
        negative = *s == '-';
        s++;
    }
    struct decimal d = {0, 0, 0, true};
    const char *digits = s;
    for (; s < end && is_digit(*s); s++)
        decimal_digit(&d, *s, false);
    if (s == digits || (json && s - digits > 1 && *digits == '0'))
        return -1;
    if (s < end && *s == '.') {
        const char *fraction = ++s;
        for (; s < end && is_digit(*s); s++)
            decimal_digit(&d, *s, true);
        if (s == fraction)
            return -1;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        bool negative_exponent = false;
        if (s < end && (*s == '-' || *s == '+'))
            negative_exponent = *s++ == '-';
        const char *exponent_digits = s;
        long exponent = 0;
        for (; s < end && is_digit(*s); s++)
            if (exponent < 100000)
                exponent = exponent * 10 + (*s - '0');
        if (s == exponent_digits)
            return -1;
        d.exponent += (int)(negative_exponent ? -exponent : exponent);
    }
    if (s != end)
        return -1;
    /* Clinger's fast path: both operands exact, so one correctly rounded operation */
    if (d.exact && d.mantissa <= (UINT64_C(1) << 53) && d.exponent >= -22 && d.exponent <= 22) {
        double value = (double)d.mantissa;
        value =
            d.exponent < 0 ? value / powers_of_ten[-d.exponent] : value * powers_of_ten[d.exponent];
        *out = negative ? -value : value;
        return 0;
    }
    return parse_with_strtod(text, length, out);
}

int prom_parse_value(const char *text, size_t length, double *out)
{
    if (length == 3 && memcmp(text, "NaN", 3) == 0) {
        *out = NAN;
        return 0;
    }
    if ((length == 4 && memcmp(text, "+Inf", 4) == 0) ||
        (length == 3 && memcmp(text, "Inf", 3) == 0)) {
        *out = INFINITY;
        return 0;
    }
    if (length == 4 && memcmp(text, "-Inf", 4) == 0) {
        *out = -INFINITY;
        return 0;
    }
    return parse_decimal(text, length, false, out);
}

/* ---- strings ---------------------------------------------------------------------------- */

/* Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t length)
{
    size_t i = 0;
    while (i < length) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned min;
        unsigned code;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1, min = 0x80, code = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, min = 0x800, code = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, min = 0x10000, code = c & 0x07;
        } else {
            return false;
        }
        if (length - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            code = (code << 6) | (s[i + k] & 0x3F);
        }
        if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static int token_append(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    if (p->token_length + length > PROM_MAX_STRING)
        return fail(p, at, "a string or number longer than %u bytes", PROM_MAX_STRING);
    if (p->token_length + length + 1 > p->token_capacity) {
        size_t wanted = p->token_capacity ? p->token_capacity : 64;
        while (wanted < p->token_length + length + 1)
            wanted *= 2;
        p->token = servo_xrealloc(p->token, wanted);
        p->token_capacity = wanted;
    }
    memcpy(p->token + p->token_length, text, length);
    p->token_length += length;
    p->token[p->token_length] = '\0';
    return 0;
}

static int token_append_code_point(struct prom_parser *p, const char *at, unsigned code)
{
    char utf8[4];
    size_t n;
    if (code < 0x80) {
        utf8[0] = (char)code, n = 1;
    } else if (code < 0x800) {
        utf8[0] = (char)(0xC0 | (code >> 6)), utf8[1] = (char)(0x80 | (code & 0x3F)), n = 2;
    } else if (code < 0x10000) {
        utf8[0] = (char)(0xE0 | (code >> 12)), utf8[1] = (char)(0x80 | ((code >> 6) & 0x3F));
        utf8[2] = (char)(0x80 | (code & 0x3F)), n = 3;
    } else {
        utf8[0] = (char)(0xF0 | (code >> 18)), utf8[1] = (char)(0x80 | ((code >> 12) & 0x3F));
        utf8[2] = (char)(0x80 | ((code >> 6) & 0x3F)), utf8[3] = (char)(0x80 | (code & 0x3F));
        n = 4;
    }
    return token_append(p, at, utf8, n);
}

/* A complete \uXXXX escape: pairs surrogates; refuses NUL and lone halves. */
static int unicode_escape(struct prom_parser *p, const char *at)
{
    unsigned code = p->code;
    if (code >= 0xD800 && code <= 0xDBFF) {
        if (p->high_surrogate != 0)
            return fail(p, at, "an unpaired \\u surrogate in a string");
        p->high_surrogate = code;
        return 0;
    }
    if (code >= 0xDC00 && code <= 0xDFFF) {
        if (p->high_surrogate == 0)
            return fail(p, at, "an unpaired \\u surrogate in a string");
        code = 0x10000 + ((p->high_surrogate - 0xD800) << 10) + (code - 0xDC00);
        p->high_surrogate = 0;
        return token_append_code_point(p, at, code);
    }
    if (p->high_surrogate != 0)
        return fail(p, at, "an unpaired \\u surrogate in a string");
    if (code == 0)
        return fail(p, at, "a NUL character (\\u0000) in a string");
    return token_append_code_point(p, at, code);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int simple_escape(struct prom_parser *p, const char *at, char c)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *found = c != '\0' ? strchr(from, c) : NULL;
    if (found == NULL)
        return fail(p, at, "an invalid escape \\%c in a string", c);
    return token_append(p, at, &to[found - from], 1);
}

/* ---- the meaning of values -------------------------------------------------------------- */

static struct frame *top(struct prom_parser *p)
{
    return p->depth > 0 ? &p->stack[p->depth - 1] : NULL;
}

static struct prom_series *current_series(struct prom_parser *p)
{
    return &p->out->series[p->out->series_count - 1];
}

static bool text_is(const char *text, size_t length, const char *word)
{
    return strlen(word) == length && memcmp(text, word, length) == 0;
}

static enum key key_of(enum role role, const char *text, size_t length)
{
    switch (role) {
    case ROLE_ROOT:
        if (text_is(text, length, "status"))
            return KEY_STATUS;
        if (text_is(text, length, "errorType"))
            return KEY_ERROR_TYPE;
        if (text_is(text, length, "error"))
            return KEY_ERROR;
        if (text_is(text, length, "data"))
            return KEY_DATA;
        if (text_is(text, length, "warnings"))
            return KEY_WARNINGS;
        return KEY_OTHER;
    case ROLE_DATA:
        if (text_is(text, length, "resultType"))
            return KEY_RESULT_TYPE;
        if (text_is(text, length, "result"))
            return KEY_RESULT;
        return KEY_OTHER;
    case ROLE_SERIES:
        if (text_is(text, length, "metric"))
            return KEY_METRIC;
        if (text_is(text, length, "values"))
            return KEY_VALUES;
        if (text_is(text, length, "value"))
            return KEY_VALUE;
        return KEY_OTHER;
    case ROLE_METRIC:
        return KEY_LABEL;
    case ROLE_SKIP:
    case ROLE_RESULT:
    case ROLE_VALUES:
    case ROLE_POINT:
    case ROLE_WARNINGS:
        return KEY_OTHER;
    }
    return KEY_OTHER;
}

static const char *kind_name(enum kind kind)
{
    switch (kind) {
    case KIND_OBJECT:
        return "an object";
    case KIND_ARRAY:
        return "an array";
    case KIND_STRING:
        return "a string";
    case KIND_NUMBER:
        return "a number";
    case KIND_LITERAL:
        return "true, false or null";
    }
    return "a value";
}

static char *keep_string(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    if (!utf8_valid((const unsigned char *)text, length)) {
        fail(p, at, "invalid UTF-8 in a string");
        return NULL;
    }
    return servo_xstrndup(text, length);
}

static int set_string(struct prom_parser *p, const char *at, char **field, const char *text,
                      size_t length)
{
    char *copy = keep_string(p, at, text, length);
    if (copy == NULL)
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

static int set_result_type(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    static const char *const names[] = {"matrix", "vector", "scalar", "string"};
    static const enum prom_result_type types[] = {PROM_RESULT_MATRIX, PROM_RESULT_VECTOR,
                                                  PROM_RESULT_SCALAR, PROM_RESULT_STRING};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (text_is(text, length, names[i])) {
            p->out->type = types[i];
            return 0;
        }
    }
    return fail(p, at, "unknown resultType \"%.*s\"", (int)(length > 40 ? 40 : length), text);
}

static void add_series(struct prom_response *r)
{
    servo_xgrow((void **)&r->series, sizeof *r->series, r->series_count, &r->series_capacity);
    memset(&r->series[r->series_count++], 0, sizeof *r->series);
}

static void add_point(struct prom_series *s, double time, double value)
{
    if (s->point_count == s->point_capacity)
        servo_xgrow((void **)&s->points, sizeof *s->points, s->point_count, &s->point_capacity);
    s->points[s->point_count].time = time;
    s->points[s->point_count].value = value;
    s->point_count++;
}

static int add_label(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    char *value = keep_string(p, at, text, length);
    if (value == NULL)
        return -1;
    struct prom_series *s = current_series(p);
    servo_xgrow((void **)&s->labels, sizeof *s->labels, s->label_count, &s->label_capacity);
    s->labels[s->label_count++] = (struct prom_label){p->label_name, value};
    p->label_name = NULL;
    return 0;
}

static void add_warning(struct prom_response *r, char *text)
{
    if (r->warning_count < PROM_MAX_WARNINGS)
        r->warnings[r->warning_count] = text;
    else
        free(text);
    r->warning_count++;
}

static int expected(struct prom_parser *p, const char *at, const char *where, const char *what,
                    enum kind kind)
{
    return fail(p, at, "%s: expected %s, found %s", where, what, kind_name(kind));
}

/* A member of the root object. */
static int root_member(struct prom_parser *p, const char *at, enum key key, enum kind kind,
                       const char *text, size_t length, enum role *role)
{
    struct prom_response *r = p->out;
    bool null = kind == KIND_LITERAL && text_is(text, length, "null");
    switch (key) {
    case KEY_STATUS:
        if (kind != KIND_STRING)
            return expected(p, at, "status", "a string", kind);
        return set_string(p, at, &r->status, text, length);
    case KEY_ERROR_TYPE:
    case KEY_ERROR:
        if (null)
            return 0;
        if (kind != KIND_STRING)
            return expected(p, at, key == KEY_ERROR ? "error" : "errorType", "a string", kind);
        return set_string(p, at, key == KEY_ERROR ? &r->error : &r->error_type, text, length);
    case KEY_DATA:
        if (null)
            return 0;
        if (kind != KIND_OBJECT)
            return expected(p, at, "data", "an object", kind);
        *role = ROLE_DATA;
        return 0;
    case KEY_WARNINGS:
        *role = kind == KIND_ARRAY ? ROLE_WARNINGS : ROLE_SKIP;
        return 0;
    case KEY_OTHER:
    case KEY_RESULT_TYPE:
    case KEY_RESULT:
    case KEY_METRIC:
    case KEY_VALUES:
    case KEY_VALUE:
    case KEY_LABEL:
        break;
    }
    *role = ROLE_SKIP;
    return 0;
}

static int data_member(struct prom_parser *p, const char *at, enum key key, enum kind kind,
                       const char *text, size_t length, enum role *role)
{
    *role = ROLE_SKIP;
    if (key == KEY_RESULT_TYPE) {
        if (kind != KIND_STRING)
            return expected(p, at, "data.resultType", "a string", kind);
        return set_result_type(p, at, text, length);
    }
    if (key == KEY_RESULT) {
        if (kind == KIND_LITERAL && text_is(text, length, "null"))
            return 0;
        if (kind != KIND_ARRAY)
            return expected(p, at, "data.result", "an array", kind);
        *role = ROLE_RESULT;
    }
    return 0;
}

/* An element of data.result: a series object, or the time and value of a scalar/string. */
static int result_element(struct prom_parser *p, const char *at, size_t index, enum kind kind,
                          const char *text, size_t length, enum role *role)
{
    struct prom_response *r = p->out;
    if (kind == KIND_OBJECT) {
        if (p->result_has_elements)
            return fail(p, at, "data.result mixes series with a scalar value");
        add_series(r);
        *role = ROLE_SERIES;
        return 0;
    }
    if (r->series_count > 0)
        return fail(p, at, "data.result mixes series with a scalar value");
    p->result_has_elements = true;
    if (index == 0 && kind == KIND_NUMBER)
        return parse_decimal(text, length, true, &r->value.time) == 0
                   ? 0
                   : fail(p, at, "data.result: an invalid time");
    if (index == 1 && kind == KIND_STRING) {
        if (set_string(p, at, &r->string_value, text, length) != 0)
            return -1;
        p->result_value_numeric = prom_parse_value(text, length, &r->value.value) == 0;
        if (!p->result_value_numeric)
            r->value.value = NAN;
        r->has_value = true;
        return 0;
    }
    return fail(p, at, "data.result: expected series objects or [time, \"value\"], found %s",
                kind_name(kind));
}

static int series_member(struct prom_parser *p, const char *at, enum key key, enum kind kind,
                         enum role *role)
{
    *role = ROLE_SKIP;
    switch (key) {
    case KEY_METRIC:
        if (kind != KIND_OBJECT)
            return expected(p, at, "metric", "an object of labels", kind);
        *role = ROLE_METRIC;
        return 0;
    case KEY_VALUES:
        if (kind != KIND_ARRAY)
            return expected(p, at, "values", "an array of samples", kind);
        *role = ROLE_VALUES;
        return 0;
    case KEY_VALUE:
        if (kind != KIND_ARRAY)
            return expected(p, at, "value", "a sample [time, \"value\"]", kind);
        *role = ROLE_POINT;
        return 0;
    case KEY_OTHER:
    case KEY_STATUS:
    case KEY_ERROR_TYPE:
    case KEY_ERROR:
    case KEY_DATA:
    case KEY_WARNINGS:
    case KEY_RESULT_TYPE:
    case KEY_RESULT:
    case KEY_LABEL:
        break;
    }
    return 0;
}

static int point_element(struct prom_parser *p, const char *at, size_t index, enum kind kind,
                         const char *text, size_t length)
{
    if (index == 0 && kind == KIND_NUMBER) {
        if (parse_decimal(text, length, true, &p->point_time) != 0)
            return fail(p, at, "a sample's time is not a valid number");
        return 0;
    }
    if (index == 1 && kind == KIND_STRING) {
        if (prom_parse_value(text, length, &p->point_value) != 0)
            return fail(p, at, "a sample's value \"%.*s\" is not a number",
                        (int)(length > 40 ? 40 : length), text);
        return 0;
    }
    return fail(p, at, "a sample must be [time, \"value\"], found %s at position %zu",
                kind_name(kind), index);
}

/* Decides what the value about to start at `at` means, handling scalars on the spot; for
 * containers sets *role. */
static int place_value(struct prom_parser *p, const char *at, enum kind kind, const char *text,
                       size_t length, enum role *role)
{
    struct frame *parent = top(p);
    *role = ROLE_SKIP;
    if (parent == NULL) {
        if (kind != KIND_OBJECT)
            return fail(p, at, "expected a JSON object, found %s: not a Prometheus API response",
                        kind_name(kind));
        *role = ROLE_ROOT;
        return 0;
    }
    switch ((enum role)parent->role) {
    case ROLE_SKIP:
        return 0;
    case ROLE_ROOT:
        return root_member(p, at, (enum key)parent->key, kind, text, length, role);
    case ROLE_DATA:
        return data_member(p, at, (enum key)parent->key, kind, text, length, role);
    case ROLE_RESULT:
        return result_element(p, at, parent->index, kind, text, length, role);
    case ROLE_SERIES:
        return series_member(p, at, (enum key)parent->key, kind, role);
    case ROLE_METRIC:
        if (kind != KIND_STRING)
            return expected(p, at, "a label value", "a string", kind);
        return add_label(p, at, text, length);
    case ROLE_VALUES:
        if (kind != KIND_ARRAY)
            return expected(p, at, "values", "samples [time, \"value\"]", kind);
        *role = ROLE_POINT;
        return 0;
    case ROLE_POINT:
        return point_element(p, at, parent->index, kind, text, length);
    case ROLE_WARNINGS:
        if (kind == KIND_STRING) {
            char *copy = keep_string(p, at, text, length);
            if (copy == NULL)
                return -1;
            add_warning(p->out, copy);
        }
        *role = ROLE_SKIP;
        return 0;
    }
    return 0;
}

/* ---- grammar ---------------------------------------------------------------------------- */

static int value_allowed(struct prom_parser *p, const char *at)
{
    switch (p->expect) {
    case EXPECT_DOCUMENT:
    case EXPECT_VALUE:
    case EXPECT_VALUE_OR_END:
        return 0;
    case EXPECT_KEY:
    case EXPECT_KEY_OR_END:
        return fail(p, at, "expected a member name (a string)");
    case EXPECT_COLON:
        return fail(p, at, "expected ':' after a member name");
    case EXPECT_COMMA_OR_END:
        return fail(p, at, "expected ',' or the end of the %s",
                    top(p)->object ? "object" : "array");
    case EXPECT_NOTHING:
        return fail(p, at, "unexpected data after the end of the response");
    }
    return 0;
}

static void value_done(struct prom_parser *p)
{
    struct frame *parent = top(p);
    if (parent == NULL) {
        p->expect = EXPECT_NOTHING;
        return;
    }
    if (!parent->object)
        parent->index++;
    p->expect = EXPECT_COMMA_OR_END;
}

static int open_container(struct prom_parser *p, const char *at, bool object)
{
    if (value_allowed(p, at) != 0)
        return -1;
    if (p->depth == PROM_MAX_DEPTH)
        return fail(p, at, "nested deeper than %d levels", PROM_MAX_DEPTH);
    enum role role;
    if (place_value(p, at, object ? KIND_OBJECT : KIND_ARRAY, NULL, 0, &role) != 0)
        return -1;
    p->stack[p->depth++] = (struct frame){object, (unsigned char)role, KEY_OTHER, 0};
    p->expect = object ? EXPECT_KEY_OR_END : EXPECT_VALUE_OR_END;
    return 0;
}

static int close_container(struct prom_parser *p, const char *at, bool object)
{
    struct frame *f = top(p);
    bool can_end = object ? p->expect == EXPECT_KEY_OR_END || p->expect == EXPECT_COMMA_OR_END
                          : p->expect == EXPECT_VALUE_OR_END || p->expect == EXPECT_COMMA_OR_END;
    if (p->expect == EXPECT_KEY || p->expect == EXPECT_VALUE)
        return fail(p, at, "unexpected '%c' after ','", object ? '}' : ']');
    if (f == NULL || f->object != object || !can_end)
        return fail(p, at, "unexpected '%c'", object ? '}' : ']');
    if (f->role == ROLE_POINT) {
        if (f->index != 2)
            return fail(p, at, "a sample must be [time, \"value\"] (it has %zu elements)",
                        f->index);
        add_point(current_series(p), p->point_time, p->point_value);
    }
    p->depth--;
    value_done(p);
    return 0;
}

static int scalar(struct prom_parser *p, const char *at, enum kind kind, const char *text,
                  size_t length)
{
    if (value_allowed(p, at) != 0)
        return -1;
    enum role role;
    if (place_value(p, at, kind, text, length, &role) != 0)
        return -1;
    value_done(p);
    return 0;
}

static int member_name(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    struct frame *f = top(p);
    f->key = (unsigned char)key_of((enum role)f->role, text, length);
    if (f->key == KEY_LABEL) {
        char *name = keep_string(p, at, text, length);
        if (name == NULL)
            return -1;
        free(p->label_name);
        p->label_name = name;
    }
    p->expect = EXPECT_COLON;
    return 0;
}

static int string_done(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    if (p->expect == EXPECT_KEY || p->expect == EXPECT_KEY_OR_END)
        return member_name(p, at, text, length);
    return scalar(p, at, KIND_STRING, text, length);
}

static int number_done(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    double ignored;
    if (parse_decimal(text, length, true, &ignored) != 0)
        return fail(p, at, "an invalid number \"%.*s\"", (int)(length > 40 ? 40 : length), text);
    return scalar(p, at, KIND_NUMBER, text, length);
}

static int literal_done(struct prom_parser *p, const char *at, const char *text, size_t length)
{
    if (!text_is(text, length, "true") && !text_is(text, length, "false") &&
        !text_is(text, length, "null"))
        return fail(p, at, "an invalid literal \"%.*s\"", (int)length, text);
    return scalar(p, at, KIND_LITERAL, text, length);
}

static int punctuation(struct prom_parser *p, const char *at, char c)
{
    struct frame *f = top(p);
    if (c == ':') {
        if (p->expect != EXPECT_COLON)
            return fail(p, at, "unexpected ':'");
        p->expect = EXPECT_VALUE;
        return 0;
    }
    if (p->expect != EXPECT_COMMA_OR_END || f == NULL)
        return fail(p, at, "unexpected ','");
    p->expect = f->object ? EXPECT_KEY : EXPECT_VALUE;
    return 0;
}

/* ---- the lexer -------------------------------------------------------------------------- */

/* Continues a string from `s`: returns where it stopped (the end of the chunk, or just after
 * the closing quote), or NULL after an error. */
static const char *continue_string(struct prom_parser *p, const char *s, const char *end)
{
    while (s < end) {
        if (p->escape == 1) {
            char c = *s;
            if (p->high_surrogate != 0 && c != 'u') {
                fail(p, s, "an unpaired \\u surrogate in a string");
                return NULL;
            }
            if (c == 'u') {
                p->escape = 2;
                p->code = 0;
            } else if (simple_escape(p, s, c) != 0) {
                return NULL;
            } else {
                p->escape = 0;
            }
            s++;
            continue;
        }
        if (p->escape >= 2) {
            int digit = hex_value(*s);
            if (digit < 0) {
                fail(p, s, "an invalid \\u escape in a string");
                return NULL;
            }
            p->code = p->code * 16 + (unsigned)digit;
            s++;
            if (++p->escape == 6) {
                p->escape = 0;
                if (unicode_escape(p, s) != 0)
                    return NULL;
            }
            continue;
        }
        const char *run = s;
        while (s < end && *s != '"' && *s != '\\' && (unsigned char)*s >= 0x20)
            s++;
        if (s > run) {
            if (p->high_surrogate != 0) {
                fail(p, run, "an unpaired \\u surrogate in a string");
                return NULL;
            }
            if (token_append(p, run, run, (size_t)(s - run)) != 0)
                return NULL;
        }
        if (s == end)
            return s;
        if (*s == '\\') {
            p->escape = 1;
            s++;
            continue;
        }
        if (*s != '"') {
            fail(p, s, "a control character in a string");
            return NULL;
        }
        if (p->high_surrogate != 0) {
            fail(p, s, "an unpaired \\u surrogate in a string");
            return NULL;
        }
        p->lex = LEX_NONE;
        if (string_done(p, s, p->token, p->token_length) != 0)
            return NULL;
        return s + 1;
    }
    return s;
}

/* A string starting at `s` (its opening quote). */
static const char *start_string(struct prom_parser *p, const char *s, const char *end)
{
    const char *text = s + 1, *q = text;
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    if (q < end && *q == '"') {
        if (q - text > (ptrdiff_t)PROM_MAX_STRING) {
            fail(p, s, "a string longer than %u bytes", PROM_MAX_STRING);
            return NULL;
        }
        return string_done(p, s, text, (size_t)(q - text)) == 0 ? q + 1 : NULL;
    }
    p->lex = LEX_STRING;
    p->token_length = 0;
    p->escape = 0;
    p->high_surrogate = 0;
    return continue_string(p, text, end);
}

/* Continues a number or literal: `accept` says which characters belong to it. */
static const char *continue_word(struct prom_parser *p, const char *s, const char *end)
{
    bool number = p->lex == LEX_NUMBER;
    const char *run = s;
    while (s < end && (number ? is_number_char(*s) : (*s >= 'a' && *s <= 'z')))
        s++;
    size_t limit = number ? PROM_MAX_STRING : LITERAL_MAX;
    if (p->token_length + (size_t)(s - run) > limit) {
        fail(p, run, "an invalid %s", number ? "number" : "literal");
        return NULL;
    }
    if (s > run && token_append(p, run, run, (size_t)(s - run)) != 0)
        return NULL;
    if (s == end)
        return s;
    p->lex = LEX_NONE;
    int rc = number ? number_done(p, s, p->token, p->token_length)
                    : literal_done(p, s, p->token, p->token_length);
    return rc == 0 ? s : NULL;
}

static const char *start_word(struct prom_parser *p, const char *s, const char *end, bool number)
{
    const char *q = s;
    while (q < end && (number ? is_number_char(*q) : (*q >= 'a' && *q <= 'z')))
        q++;
    if (q < end) {
        int rc =
            number ? number_done(p, s, s, (size_t)(q - s)) : literal_done(p, s, s, (size_t)(q - s));
        return rc == 0 ? q : NULL;
    }
    p->lex = number ? LEX_NUMBER : LEX_LITERAL;
    p->token_length = 0;
    return continue_word(p, s, end);
}

/* ---- the fast path: whole samples inside the chunk -------------------------------------- */

/* One sample `[time,"value"]` exactly so (no white space) at `s`; returns the byte after it,
 * or NULL when it is not that simple (the general path then takes it). */
static const char *fast_sample(const char *s, const char *end, double *time, double *value)
{
    const char *q = s + 1, *number = q;
    while (q < end && is_number_char(*q))
        q++;
    if (q + 1 >= end || q == number || *q != ',' || q[1] != '"')
        return NULL;
    if (parse_decimal(number, (size_t)(q - number), true, time) != 0)
        return NULL;
    const char *text = q + 2;
    q = text;
    while (q < end && *q != '"' && *q != '\\')
        q++;
    if (q + 1 >= end || *q != '"' || q[1] != ']')
        return NULL;
    if (prom_parse_value(text, (size_t)(q - text), value) != 0)
        return NULL;
    return q + 2;
}

/* At '[' inside a values array: takes as many simple samples as follow one another. */
static const char *fast_samples(struct prom_parser *p, const char *s, const char *end)
{
    struct frame *f = top(p);
    struct prom_series *series = current_series(p);
    while (s < end && *s == '[') {
        double time, value;
        const char *next = fast_sample(s, end, &time, &value);
        if (next == NULL)
            break;
        add_point(series, time, value);
        f->index++;
        p->expect = EXPECT_COMMA_OR_END;
        s = next;
        if (s + 1 < end && s[0] == ',' && s[1] == '[') {
            p->expect = EXPECT_VALUE;
            s++;
            continue;
        }
        break;
    }
    return s;
}

static bool at_samples(struct prom_parser *p)
{
    struct frame *f = top(p);
    return f != NULL && f->role == ROLE_VALUES &&
           (p->expect == EXPECT_VALUE || p->expect == EXPECT_VALUE_OR_END);
}

/* ---- feeding ---------------------------------------------------------------------------- */

static const char *next_token(struct prom_parser *p, const char *s, const char *end)
{
    char c = *s;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return s + 1;
    if (p->expect == EXPECT_NOTHING) {
        fail(p, s, "unexpected data after the end of the response");
        return NULL;
    }
    switch (c) {
    case '{':
    case '[':
        if (c == '[' && at_samples(p)) {
            const char *after = fast_samples(p, s, end);
            if (after != s)
                return after;
        }
        return open_container(p, s, c == '{') == 0 ? s + 1 : NULL;
    case '}':
    case ']':
        return close_container(p, s, c == '}') == 0 ? s + 1 : NULL;
    case ':':
    case ',':
        return punctuation(p, s, c) == 0 ? s + 1 : NULL;
    case '"':
        return start_string(p, s, end);
    default:
        break;
    }
    if (c == '-' || is_digit(c))
        return start_word(p, s, end, true);
    if (c >= 'a' && c <= 'z')
        return start_word(p, s, end, false);
    if (c == '<')
        fail(p, s, "the body is HTML or XML, not JSON");
    else if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
        fail(p, s, "unexpected character '%c'", c);
    else
        fail(p, s, "unexpected byte 0x%02x", (unsigned char)c);
    return NULL;
}

struct prom_parser *prom_parser_new(struct prom_response *out)
{
    struct prom_parser *p = servo_xcalloc(1, sizeof *p);
    memset(out, 0, sizeof *out);
    p->out = out;
    p->expect = EXPECT_DOCUMENT;
    return p;
}

int prom_parser_feed(struct prom_parser *p, const char *data, size_t length)
{
    if (p->failed)
        return -1;
    const char *s = data, *end = data + length;
    p->chunk = data;
    while (s != NULL && s < end) {
        if (p->lex == LEX_STRING)
            s = continue_string(p, s, end);
        else if (p->lex != LEX_NONE)
            s = continue_word(p, s, end);
        else
            s = next_token(p, s, end);
    }
    p->chunk_offset += length;
    p->chunk = NULL;
    return p->failed ? -1 : 0;
}

static int check_complete(struct prom_parser *p)
{
    struct prom_response *r = p->out;
    if (r->status == NULL)
        return fail(p, NULL, "no \"status\" in the response");
    if (strcmp(r->status, "error") == 0)
        return 0;
    if (strcmp(r->status, "success") != 0)
        return fail(p, NULL, "unknown status \"%.40s\"", r->status);
    switch (r->type) {
    case PROM_RESULT_NONE:
        return fail(p, NULL, "no data.resultType in a successful response");
    case PROM_RESULT_MATRIX:
    case PROM_RESULT_VECTOR:
        if (p->result_has_elements)
            return fail(p, NULL, "a %s result holds a bare value", prom_result_type_name(r->type));
        return 0;
    case PROM_RESULT_SCALAR:
    case PROM_RESULT_STRING:
        if (r->series_count > 0)
            return fail(p, NULL, "a %s result holds series", prom_result_type_name(r->type));
        if (!r->has_value)
            return fail(p, NULL, "a %s result without [time, value]",
                        prom_result_type_name(r->type));
        if (r->type == PROM_RESULT_SCALAR && !p->result_value_numeric)
            return fail(p, NULL, "a scalar result whose value is not a number");
        return 0;
    }
    return 0;
}

int prom_parser_finish(struct prom_parser *p)
{
    if (p->failed)
        return -1;
    if (p->lex == LEX_NUMBER || p->lex == LEX_LITERAL) {
        /* a bare number or literal ends at the end of input; the root is an object, though */
        p->lex = LEX_NONE;
        return fail(p, NULL, "the response ends in the middle of a value (truncated)");
    }
    if (p->expect == EXPECT_DOCUMENT)
        return fail(p, NULL, "the response is empty");
    if (p->lex != LEX_NONE || p->expect != EXPECT_NOTHING)
        return fail(p, NULL, "the response ends too early (truncated)");
    return check_complete(p);
}

const char *prom_parser_error(const struct prom_parser *p)
{
    return p->error;
}

size_t prom_parser_offset(const struct prom_parser *p)
{
    return p->chunk_offset;
}

void prom_parser_free(struct prom_parser *p)
{
    if (p == NULL)
        return;
    free(p->token);
    free(p->label_name);
    free(p);
}

int prom_response_parse(const char *data, size_t length, struct prom_response *out, char **error)
{
    struct prom_parser *p = prom_parser_new(out);
    int rc = prom_parser_feed(p, data, length);
    if (rc == 0)
        rc = prom_parser_finish(p);
    if (rc != 0 && error != NULL)
        *error = servo_xstrdup(prom_parser_error(p));
    prom_parser_free(p);
    return rc;
}

void prom_response_free(struct prom_response *r)
{
    if (r == NULL)
        return;
    free(r->status);
    free(r->error_type);
    free(r->error);
    for (size_t i = 0; i < r->series_count; i++) {
        struct prom_series *s = &r->series[i];
        for (size_t j = 0; j < s->label_count; j++) {
            free(s->labels[j].name);
            free(s->labels[j].value);
        }
        free(s->labels);
        free(s->points);
    }
    free(r->series);
    free(r->string_value);
    size_t kept = r->warning_count < PROM_MAX_WARNINGS ? r->warning_count : PROM_MAX_WARNINGS;
    for (size_t i = 0; i < kept; i++)
        free(r->warnings[i]);
    memset(r, 0, sizeof *r);
}

const char *prom_series_label(const struct prom_series *s, const char *name)
{
    for (size_t i = 0; i < s->label_count; i++)
        if (strcmp(s->labels[i].name, name) == 0)
            return s->labels[i].value;
    return NULL;
}

const char *prom_result_type_name(enum prom_result_type type)
{
    switch (type) {
    case PROM_RESULT_NONE:
        return "none";
    case PROM_RESULT_MATRIX:
        return "matrix";
    case PROM_RESULT_VECTOR:
        return "vector";
    case PROM_RESULT_SCALAR:
        return "scalar";
    case PROM_RESULT_STRING:
        return "string";
    }
    return "unknown";
}
