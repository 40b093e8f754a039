#include "types/wire.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 2^53: every integer up to this magnitude is exact in a double. */
#define EXACT_INTEGER_MAX 9007199254740992.0

void wire_path_init(struct wire_path *p, char **error)
{
    strbuf_init(&p->text);
    p->error = error;
}

void wire_path_release(struct wire_path *p)
{
    strbuf_release(&p->text);
}

size_t wire_path_key(struct wire_path *p, const char *key)
{
    size_t mark = p->text.len;
    if (mark > 0)
        strbuf_putc(&p->text, '.');
    strbuf_puts(&p->text, key);
    return mark;
}

size_t wire_path_index(struct wire_path *p, size_t index)
{
    size_t mark = p->text.len;
    strbuf_printf(&p->text, "[%zu]", index);
    return mark;
}

void wire_path_pop(struct wire_path *p, size_t mark)
{
    strbuf_truncate(&p->text, mark);
}

int wire_fail(struct wire_path *p, const char *fmt, ...)
{
    if (p->error == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    if (p->text.len > 0) {
        *p->error = xasprintf("%s: %s", p->text.data, message);
        free(message);
    } else {
        *p->error = message;
    }
    return -1;
}

bool wire_is_absent(const json_t *json)
{
    return json == NULL || json_is_null(json);
}

bool wire_is_exact_integer(const json_t *json)
{
    if (!json_is_integer(json))
        return false;
    json_int_t v = json_integer_value(json);
    return v >= -(json_int_t)EXACT_INTEGER_MAX && v <= (json_int_t)EXACT_INTEGER_MAX;
}

const char *wire_nonfinite_text(double value)
{
    if (isnan(value))
        return "NaN";
    if (isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    return NULL;
}

json_t *wire_number(double value, bool integer)
{
    const char *special = wire_nonfinite_text(value);
    if (special != NULL)
        return json_string(special);
    if (integer && value == floor(value) && fabs(value) <= EXACT_INTEGER_MAX)
        return json_integer((json_int_t)value);
    return json_real(value);
}

/* [+-]digits[.digits][(e|E)[+-]digits], or [+-].digits...: a decimal number, no blanks. */
static bool is_decimal_syntax(const char *s, bool *integer)
{
    bool digits = false;
    *integer = true;
    if (*s == '+' || *s == '-')
        s++;
    while (isdigit((unsigned char)*s)) {
        s++;
        digits = true;
    }
    if (*s == '.') {
        *integer = false;
        s++;
        while (isdigit((unsigned char)*s)) {
            s++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        *integer = false;
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

bool wire_parse_decimal(const char *text, double *out, bool *integer)
{
    bool whole = false;
    if (!is_decimal_syntax(text, &whole))
        return false;
    double v = strtod(text, NULL);
    if (isinf(v))
        return false;
    *out = v;
    if (integer != NULL)
        *integer = whole;
    return true;
}

bool wire_parse_number_text(const char *text, double *out)
{
    static const struct {
        const char *text;
        double value;
    } specials[] = {
        {"nan", NAN},
        {"inf", INFINITY},
        {"+inf", INFINITY},
        {"-inf", -INFINITY},
        {"infinity", INFINITY},
        {"+infinity", INFINITY},
        {"-infinity", -INFINITY},
    };
    for (size_t i = 0; i < ARRAY_LEN(specials); i++) {
        if (strcasecmp(text, specials[i].text) == 0) {
            *out = specials[i].value;
            return true;
        }
    }
    return wire_parse_decimal(text, out, NULL);
}

char *wire_format_number(double value)
{
    const char *special = wire_nonfinite_text(value);
    if (special != NULL)
        return xstrdup(special);
    char buf[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, sizeof buf, "%.*g", precision, value);
        if (strtod(buf, NULL) == value)
            break;
    }
    return xstrdup(buf);
}

char *wire_format_real(double value)
{
    char *text = wire_format_number(value);
    if (strpbrk(text, ".eEnN") != NULL)
        return text;
    char *real = xasprintf("%s.0", text);
    free(text);
    return real;
}

/* Length of the valid UTF-8 sequence at `s` (as jansson accepts it), or 0. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

char *wire_utf8_clean(const char *text)
{
    struct strbuf sb;
    strbuf_init(&sb);
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        size_t len = utf8_sequence(s);
        if (len == 0) {
            strbuf_putc(&sb, '?');
            s++;
        } else {
            strbuf_add(&sb, (const char *)s, len);
            s += len;
        }
    }
    return strbuf_detach(&sb);
}

json_t *wire_string(const char *text)
{
    json_t *json = json_string(text);
    if (json != NULL)
        return json;
    char *clean = wire_utf8_clean(text);
    json = json_string(clean);
    free(clean);
    return json;
}

void wire_set(json_t *object, const char *key, json_t *value)
{
    /* json_object_set_new would drop `value` on an invalid key. */
    char *clean = wire_utf8_clean(key);
    json_object_set_new_nocheck(object, clean, value);
    free(clean);
}

int wire_each_member(struct wire_path *p, const json_t *json,
                     int (*decode)(struct wire_path *p, const char *name, const json_t *value,
                                   void *target),
                     void *target)
{
    if (wire_is_absent(json))
        return 0;
    if (!json_is_object(json))
        return wire_fail(p, "expected an object");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)json, name, value)
    {
        size_t mark = wire_path_key(p, name);
        int rc = decode(p, name, value, target);
        wire_path_pop(p, mark);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int wire_each_item(struct wire_path *p, const json_t *json,
                   int (*decode)(struct wire_path *p, size_t index, const json_t *value,
                                 void *target),
                   void *target)
{
    for (size_t i = 0; i < json_array_size(json); i++) {
        size_t mark = wire_path_index(p, i);
        int rc = decode(p, i, json_array_get(json, i), target);
        wire_path_pop(p, mark);
        if (rc != 0)
            return -1;
    }
    return 0;
}
