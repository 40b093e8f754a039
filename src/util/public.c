/* The text helpers of the public API (servo/util.h), on top of the core's own (util.h). */
#include "servo/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

char *servo_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = xvasprintf(fmt, ap);
    va_end(ap);
    return text;
}

char *servo_strdup_vprintf(const char *fmt, va_list ap)
{
    return xvasprintf(fmt, ap);
}

static bool is_safe_shell_char(unsigned char ch)
{
    return isalnum(ch) || strchr("_@%+=:,./-", ch) != NULL;
}

char *servo_shell_quote(const char *word)
{
    bool safe = word[0] != '\0';
    for (const char *p = word; *p && safe; p++)
        safe = is_safe_shell_char((unsigned char)*p);
    if (safe)
        return xstrdup(word);
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_putc(&sb, '\'');
    for (const char *p = word; *p; p++) {
        if (*p == '\'')
            strbuf_puts(&sb, "'\\''"); /* close, an escaped quote, reopen */
        else
            strbuf_putc(&sb, *p);
    }
    strbuf_putc(&sb, '\'');
    return strbuf_detach(&sb);
}

int servo_why(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

int servo_json_nonnegative(const json_t *object, const char *key, double *out, char *why,
                           size_t size)
{
    const json_t *value = json_object_get(object, key);
    if (value == NULL)
        return servo_why(why, size, "\"%s\" is missing", key);
    if (!json_is_number(value))
        return servo_why(why, size, "\"%s\" is not a number", key);
    *out = json_number_value(value);
    if (!(*out >= 0))
        return servo_why(why, size, "\"%s\" is negative", key);
    return 0;
}

json_t *servo_json_load_object(const char *text, size_t length, char *why, size_t size)
{
    json_error_t error;
    json_t *json = json_loadb(text, length, JSON_REJECT_DUPLICATES, &error);
    if (json == NULL) {
        servo_why(why, size, "invalid JSON: %s", error.text);
        return NULL;
    }
    if (!json_is_object(json)) {
        servo_why(why, size, "not a JSON object");
        json_decref(json);
        return NULL;
    }
    return json;
}
