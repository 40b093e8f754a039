// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target for the URL helpers of servo/http.h: the parser on any text, and what must
 * hold of what it accepts (a host that is a prefix-free part of the text, a port in range, a
 * path offset inside the text); the redaction never grows the host part's secret and always
 * yields a string; escaping yields only unreserved characters and %XX. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "servo/http.h"

static void check_parse(const char *text)
{
    struct servo_url url;
    const char *why = NULL;
    if (servo_url_parse(text, &url, &why) != 0) {
        if (why == NULL || why[0] == '\0')
            abort();
        return;
    }
    if (url.port < 0 || url.port > 65535 || url.path_offset > strlen(text))
        abort();
    if (strcmp(url.scheme, "http") != 0 && strcmp(url.scheme, "https") != 0)
        abort();
    if (url.host[0] == '\0' || strlen(url.host) >= sizeof url.host)
        abort();
}

static void check_redact(const char *text)
{
    char *redacted = servo_url_redact(text);
    if (redacted == NULL)
        abort();
    /* what parses still parses the same way once redacted */
    struct servo_url before, after;
    const char *why = NULL;
    if (servo_url_parse(text, &before, &why) == 0) {
        if (servo_url_parse(redacted, &after, &why) != 0 || strcmp(before.host, after.host) != 0 ||
            before.port != after.port)
            abort();
    }
    free(redacted);
}

static void check_escape(const char *text)
{
    char *escaped = servo_url_escape(text);
    for (const char *p = escaped; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                abort();
            p += 2;
        } else if (!isalnum(c) && strchr("-._~", c) == NULL) {
            abort();
        }
    }
    free(escaped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_parse(text);
    check_redact(text);
    check_escape(text);
    free(text);
    return 0;
}
