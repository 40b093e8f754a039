/* The allocation, string and text helpers of the public API (servo/alloc.h, servo/buf.h,
 * servo/util.h), on top of the core's own (util.h): every allocation goes through xmalloc,
 * xcalloc and xrealloc in util.c. */
#include "servo/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/alloc.h"
#include "servo/buf.h"
#include "util/json_text.h"
#include "util/util.h"

void *servo_xmalloc(size_t size)
{
    return xmalloc(size);
}

void *servo_xcalloc(size_t count, size_t size)
{
    return xcalloc(count, size);
}

void *servo_xrealloc(void *pointer, size_t size)
{
    return xrealloc(pointer, size);
}

void servo_xgrow(void **items, size_t size, size_t count, size_t *capacity)
{
    xgrow(items, size, count, capacity);
}

char *servo_xstrdup(const char *text)
{
    return xstrdup(text);
}

char *servo_xstrndup(const char *text, size_t length)
{
    return xstrndup(text, length);
}

/* The public buffer is the core's strbuf under public field names. */
static struct strbuf as_strbuf(const struct servo_buf *buf)
{
    return (struct strbuf){.data = buf->data, .len = buf->length, .cap = buf->capacity};
}

static void from_strbuf(struct servo_buf *buf, const struct strbuf *sb)
{
    *buf = (struct servo_buf){.data = sb->data, .length = sb->len, .capacity = sb->cap};
}

void servo_buf_append(struct servo_buf *buf, const char *bytes, size_t length)
{
    struct strbuf sb = as_strbuf(buf);
    strbuf_add(&sb, bytes, length);
    from_strbuf(buf, &sb);
}

void servo_buf_puts(struct servo_buf *buf, const char *text)
{
    servo_buf_append(buf, text, strlen(text));
}

void servo_buf_putc(struct servo_buf *buf, char ch)
{
    servo_buf_append(buf, &ch, 1);
}

void servo_buf_printf(struct servo_buf *buf, const char *fmt, ...)
{
    struct strbuf sb = as_strbuf(buf);
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    from_strbuf(buf, &sb);
}

char *servo_buf_detach(struct servo_buf *buf)
{
    struct strbuf sb = as_strbuf(buf);
    *buf = (struct servo_buf){0};
    return strbuf_detach(&sb);
}

void servo_buf_free(struct servo_buf *buf)
{
    free(buf->data);
    *buf = (struct servo_buf){0};
}

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

#define INVALID_JSON "invalid-json"

int servo_json_nonnegative(const json_t *object, const char *key, double *out,
                           struct servo_error *error)
{
    const json_t *value = json_object_get(object, key);
    if (value == NULL)
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_JSON, "\"%s\" is missing", key);
    if (!json_is_number(value))
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_JSON, "\"%s\" is not a number",
                               key);
    *out = json_number_value(value);
    if (!(*out >= 0))
        return servo_error_set(error, SERVO_ERROR_FAILED, INVALID_JSON, "\"%s\" is negative", key);
    return 0;
}

json_t *servo_json_load_object(const char *text, size_t length, struct servo_error *error)
{
    json_error_t problem;
    json_t *json = json_loadb(text, length, JSON_REJECT_DUPLICATES, &problem);
    if (json == NULL) {
        servo_error_set(error, SERVO_ERROR_FAILED, INVALID_JSON, "invalid JSON: %s", problem.text);
        return NULL;
    }
    if (!json_is_object(json)) {
        servo_error_set(error, SERVO_ERROR_FAILED, INVALID_JSON, "not a JSON object");
        json_decref(json);
        return NULL;
    }
    return json;
}

char *servo_json_text(const json_t *value, size_t flags)
{
    return json_text(value, flags);
}
