// SPDX-License-Identifier: Apache-2.0
#include "util/json_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* Python's repr of a float: the fewest significant digits that read back as `value`, written
 * in fixed notation when the exponent is in [-4, 16), else as d.ddde+XX; always a real. */
static void put_shortest(struct strbuf *out, double value)
{
    char buffer[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buffer, sizeof buffer, "%.*e", precision - 1, value);
        if (strtod(buffer, NULL) == value)
            break;
    }
    const char *p = buffer;
    if (*p == '-')
        strbuf_putc(out, *p++);
    char digits[24];
    size_t count = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && count < sizeof digits - 1)
            digits[count++] = *p;
    digits[count] = '\0';
    int exponent = *p == 'e' ? atoi(p + 1) : 0;
    if (exponent < -4 || exponent >= 16) {
        strbuf_printf(out, "%c%s%s%s", digits[0], count > 1 ? "." : "", digits + 1, p);
        return;
    }
    if (exponent < 0) {
        strbuf_puts(out, "0.");
        for (int i = -1; i > exponent; i--)
            strbuf_putc(out, '0');
        strbuf_puts(out, digits);
        return;
    }
    for (int i = 0; i <= exponent; i++)
        strbuf_putc(out, (size_t)i < count ? digits[i] : '0');
    strbuf_putc(out, '.');
    strbuf_puts(out, (size_t)exponent + 1 < count ? digits + exponent + 1 : "0");
}

static bool number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

char *json_shortest_reals(const char *text)
{
    struct strbuf out;
    strbuf_init(&out);
    strbuf_add(&out, "", 0);
    bool in_string = false;
    for (const char *p = text; *p;) {
        if (in_string) {
            if (*p == '\\' && p[1]) {
                strbuf_add(&out, p, 2);
                p += 2;
                continue;
            }
            in_string = *p != '"';
            strbuf_putc(&out, *p++);
        } else if (*p == '"') {
            in_string = true;
            strbuf_putc(&out, *p++);
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *end = p;
            while (number_char(*end))
                end++;
            size_t length = (size_t)(end - p);
            char *token = xstrndup(p, length);
            if (strpbrk(token, ".eE") != NULL)
                put_shortest(&out, strtod(token, NULL));
            else
                strbuf_add(&out, p, length);
            free(token);
            p = end;
        } else {
            strbuf_putc(&out, *p++);
        }
    }
    return strbuf_detach(&out);
}

char *json_text(const json_t *value, size_t flags)
{
    char *raw = json_dumps(value, flags);
    if (raw == NULL)
        return NULL;
    char *text = json_shortest_reals(raw);
    free(raw);
    return text;
}
