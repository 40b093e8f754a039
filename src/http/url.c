// SPDX-License-Identifier: Apache-2.0
/* URLs without a transport: the parser the settings, the connectors and the engine validate
 * http(s) URLs with (RFC 3986's authority, checked as strictly as libcurl's URL API), the
 * redaction of passwords for messages, and query escaping. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "servo/http.h"
#include "util/util.h"

static bool is_scheme_char(unsigned char c)
{
    return isalnum(c) || c == '+' || c == '-' || c == '.';
}

/* unreserved / sub-delims / pct-encoded: what a reg-name may hold */
static bool is_host_char(unsigned char c)
{
    return isalnum(c) || strchr("-._~!$&'()*+,;=%", c) != NULL;
}

static bool has_space_or_control(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return true;
    return false;
}

static int fail(const char **why, const char *text)
{
    if (why != NULL)
        *why = text;
    return -1;
}

static int parse_scheme(const char *text, size_t length, struct servo_url *url, const char **why)
{
    if (length == 0 || !isalpha((unsigned char)text[0]))
        return fail(why, "the scheme must be http or https");
    for (size_t i = 0; i < length; i++)
        if (!is_scheme_char((unsigned char)text[i]))
            return fail(why, "the scheme must be http or https");
    if (length == 4 && strncasecmp(text, "http", 4) == 0)
        snprintf(url->scheme, sizeof url->scheme, "http");
    else if (length == 5 && strncasecmp(text, "https", 5) == 0)
        snprintf(url->scheme, sizeof url->scheme, "https");
    else
        return fail(why, "the scheme must be http or https");
    url->port = length == 4 ? 80 : 443;
    return 0;
}

static int parse_port(const char *text, size_t length, struct servo_url *url, const char **why)
{
    if (length == 0)
        return 0; /* "host:" is the default port (RFC 3986 3.2.3) */
    if (length > 5)
        return fail(why, "invalid port (expected a number from 0 to 65535)");
    long port = 0;
    for (size_t i = 0; i < length; i++) {
        if (!isdigit((unsigned char)text[i]))
            return fail(why, "invalid port (expected a number from 0 to 65535)");
        port = port * 10 + (text[i] - '0');
    }
    if (port > 65535)
        return fail(why, "invalid port (expected a number from 0 to 65535)");
    url->port = (int)port;
    return 0;
}

static int parse_ipv6(const char *text, size_t length, struct servo_url *url, const char **why)
{
    /* text is "[...]" */
    size_t inner = length - 2;
    if (inner == 0 || inner >= sizeof url->host)
        return fail(why, "invalid IPv6 address");
    bool colon = false;
    for (size_t i = 1; i <= inner; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '%') /* a zone id: the rest is a reg-name */
            break;
        if (!isxdigit(c) && c != ':' && c != '.')
            return fail(why, "invalid IPv6 address");
        colon = colon || c == ':';
    }
    if (!colon)
        return fail(why, "invalid IPv6 address");
    memcpy(url->host, text + 1, inner);
    url->host[inner] = '\0';
    return 0;
}

static int parse_host(const char *text, size_t length, struct servo_url *url, const char **why)
{
    if (length == 0)
        return fail(why, "missing host");
    if (length >= sizeof url->host)
        return fail(why, "the host name is too long");
    for (size_t i = 0; i < length; i++)
        if (!is_host_char((unsigned char)text[i]))
            return fail(why, "invalid character in the host name");
    memcpy(url->host, text, length);
    url->host[length] = '\0';
    return 0;
}

/* host [":" port], or "[" IPv6 "]" [":" port] */
static int parse_host_port(const char *text, size_t length, struct servo_url *url, const char **why)
{
    const char *port = NULL;
    size_t host_length = length;
    if (length > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', length);
        if (close == NULL)
            return fail(why, "invalid IPv6 address");
        host_length = (size_t)(close - text) + 1;
        if (host_length < length && text[host_length] != ':')
            return fail(why, "invalid IPv6 address");
        if (parse_ipv6(text, host_length, url, why) != 0)
            return -1;
    } else {
        const char *colon = memchr(text, ':', length);
        if (colon != NULL)
            host_length = (size_t)(colon - text);
        if (parse_host(text, host_length, url, why) != 0)
            return -1;
    }
    if (host_length < length)
        port = text + host_length + 1;
    return port != NULL ? parse_port(port, length - host_length - 1, url, why) : 0;
}

int servo_url_parse(const char *text, struct servo_url *url, const char **why)
{
    struct servo_url parsed = {0};
    if (text == NULL || text[0] == '\0')
        return fail(why, "the URL is empty");
    const char *separator = strstr(text, "://");
    if (separator == NULL)
        return fail(why, "missing scheme (expected http:// or https://)");
    if (has_space_or_control(text))
        return fail(why, "the URL contains a space or a control character");
    if (parse_scheme(text, (size_t)(separator - text), &parsed, why) != 0)
        return -1;
    const char *authority = separator + 3;
    size_t length = strcspn(authority, "/?#");
    const char *at = NULL;
    for (const char *p = authority; p < authority + length; p++)
        if (*p == '@')
            at = p;
    if (at != NULL) {
        parsed.has_userinfo = true;
        length -= (size_t)(at + 1 - authority);
        authority = at + 1;
    }
    if (parse_host_port(authority, length, &parsed, why) != 0)
        return -1;
    parsed.path_offset = (size_t)(authority + length - text);
    if (url != NULL)
        *url = parsed;
    return 0;
}

char *servo_url_redact(const char *url)
{
    const char *separator = strstr(url, "://");
    if (separator == NULL)
        return xstrdup(url);
    const char *authority = separator + 3;
    size_t length = strcspn(authority, "/?#");
    const char *at = NULL;
    for (const char *p = authority; p < authority + length; p++)
        if (*p == '@')
            at = p;
    const char *colon = at != NULL ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
    if (colon == NULL)
        return xstrdup(url);
    return xasprintf("%.*s***%s", (int)(colon + 1 - url), url, at);
}

char *servo_url_escape(const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t length = strlen(text);
    char *out = xmalloc(length * 3 + 1);
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return out;
}
