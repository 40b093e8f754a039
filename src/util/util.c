#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* Not abort(): running out of memory is not a bug, a core dump of it helps nobody, and a
 * supervisor should see an ordinary failure. _exit, not exit: another thread may be inside
 * what atexit handlers would tear down. Returns only when the test hook asks for a retry. */
static void out_of_memory(size_t size)
{
    if (servo_alloc_failed_hook != NULL && servo_alloc_failed_hook(size))
        return;
    fprintf(stderr, "servo: error: out of memory allocating %zu bytes\n", size);
    _exit(EXIT_FAILURE);
}

void *xmalloc(size_t size)
{
    void *p;
    while ((p = malloc(size ? size : 1)) == NULL)
        out_of_memory(size);
    return p;
}

/* jansson allocates through xmalloc too: its constructors return NULL when out of memory and
 * json_object_set_new and json_array_append_new then drop the member without a word, so a
 * document (a schema, a measurement, a reply to the optimizer) would go out incomplete. A
 * constructor, so that no caller of jansson (tests, fuzz targets, plugins) runs without it. */
__attribute__((constructor)) static void route_jansson_allocations(void)
{
    json_set_alloc_funcs(xmalloc, free);
}

void *xcalloc(size_t count, size_t size)
{
    void *p;
    while ((p = calloc(count ? count : 1, size ? size : 1)) == NULL)
        out_of_memory(count * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p;
    while ((p = realloc(ptr, size ? size : 1)) == NULL) /* ptr stays valid */
        out_of_memory(size);
    return p;
}

void xgrow(void **items, size_t size, size_t count, size_t *capacity)
{
    if (count < *capacity)
        return;
    size_t grown = *capacity ? *capacity * 2 : 4;
    while (grown <= count)
        grown *= 2;
    *items = xrealloc(*items, grown * size);
    *capacity = grown;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    if (n > 0) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        n = 0;
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void strbuf_init(struct strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
}

static void strbuf_reserve(struct strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    sb->data = xrealloc(sb->data, cap);
    sb->cap = cap;
}

void strbuf_add(struct strbuf *sb, const char *s, size_t n)
{
    strbuf_reserve(sb, n);
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_put_html(struct strbuf *sb, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&':
            strbuf_puts(sb, "&amp;");
            break;
        case '<':
            strbuf_puts(sb, "&lt;");
            break;
        case '>':
            strbuf_puts(sb, "&gt;");
            break;
        case '"':
            strbuf_puts(sb, "&quot;");
            break;
        case '\'':
            strbuf_puts(sb, "&#39;");
            break;
        default:
            strbuf_putc(sb, *p);
        }
    }
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
    char *s = xvasprintf(fmt, ap);
    strbuf_puts(sb, s);
    free(s);
}

void strbuf_truncate(struct strbuf *sb, size_t len)
{
    if (len < sb->len) {
        sb->len = len;
        sb->data[len] = '\0';
    }
}

char *strbuf_detach(struct strbuf *sb)
{
    char *s = sb->data ? sb->data : xstrdup("");
    strbuf_init(sb);
    return s;
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->data);
    strbuf_init(sb);
}

bool str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

bool str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

char *str_env_case(const char *s)
{
    char *p = xstrdup(s);
    for (char *c = p; *c; c++)
        *c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
    return p;
}

void strbuf_quote(struct strbuf *sb, const char *s, size_t max)
{
    strbuf_putc(sb, '"');
    size_t i = 0;
    for (; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            strbuf_printf(sb, "\\%c", c);
        else if (c == '\n')
            strbuf_puts(sb, "\\n");
        else if (c == '\t')
            strbuf_puts(sb, "\\t");
        else if (c < 0x20 || c == 0x7f)
            strbuf_printf(sb, "\\x%02x", c);
        else
            strbuf_putc(sb, (char)c);
    }
    if (s[i])
        strbuf_puts(sb, "...");
    strbuf_putc(sb, '"');
}

int read_file(const char *path, size_t limit, char **data, size_t *size, char **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error =
            xasprintf("%s: %s", path, errno == ENOENT ? "file does not exist" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *error =
            xasprintf("%s: %s", path,
                      S_ISDIR(st.st_mode) ? "is a directory, not a file" : "is not a regular file");
        close(fd);
        return -1;
    }
    if ((size_t)st.st_size > limit) {
        *error = xasprintf("%s: file is too large (%lld bytes; the limit is %zu)", path,
                           (long long)st.st_size, limit);
        close(fd);
        return -1;
    }
    struct strbuf sb;
    strbuf_init(&sb);
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *error = xasprintf("%s: %s", path, strerror(errno));
            strbuf_release(&sb);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        if (sb.len + (size_t)n > limit) {
            *error = xasprintf("%s: file is too large (the limit is %zu bytes)", path, limit);
            strbuf_release(&sb);
            close(fd);
            return -1;
        }
        strbuf_add(&sb, chunk, (size_t)n);
    }
    close(fd);
    *size = sb.len;
    *data = strbuf_detach(&sb);
    return 0;
}

double clock_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The end of the authority after "scheme://": the first '/', '?', '#', blank or quote. */
static const char *authority_end(const char *p)
{
    while (*p && !strchr("/?#\"' \t\r\n<>", *p))
        p++;
    return p;
}

char *str_redact_url_passwords(const char *text)
{
    struct strbuf sb;
    strbuf_init(&sb);
    bool changed = false;
    const char *copied = text;
    for (const char *scheme = strstr(text, "://"); scheme; scheme = strstr(scheme + 3, "://")) {
        const char *start = scheme + 3, *end = authority_end(start);
        const char *at = NULL;
        for (const char *p = start; p < end; p++)
            if (*p == '@')
                at = p;
        const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
        if (colon == NULL || colon + 1 == at)
            continue;
        strbuf_add(&sb, copied, (size_t)(colon + 1 - copied));
        strbuf_puts(&sb, "***");
        copied = at;
        changed = true;
    }
    if (!changed) {
        strbuf_release(&sb);
        return NULL;
    }
    strbuf_puts(&sb, copied);
    return strbuf_detach(&sb);
}
