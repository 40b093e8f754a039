/* The vegeta connector's settings. Targets are checked as vegeta reads them: the http format
 * line by line ("METHOD URL", then "Header: value" lines), the json format one JSON object per
 * line. The attack is in attack.c, the reports in report.c, the handlers in handlers.c, the
 * checks in checks.c and `servo vegeta attack` in command.c. */
#include "vegeta.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "servo/http.h"

/* A targets file is checked up to this size (whole lines only); vegeta itself streams it. */
#define VEGETA_TARGETS_CHECK_MAX (1024u * 1024u)
/* Longest excerpt of a line quoted in a message. */
#define QUOTE_MAX 80

static const char *const format_choices[] = {"http", "json", NULL};

static const char *const http_methods[] = {"GET",  "POST",    "PUT",   "PATCH",   "DELETE",
                                           "HEAD", "OPTIONS", "TRACE", "CONNECT", NULL};

#define METHOD_LIST "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, TRACE, CONNECT"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Writes `text` (n bytes) double-quoted and escaped into buf, cut after QUOTE_MAX bytes. */
static const char *quote(const char *text, size_t n, char *buf, size_t size)
{
    size_t out = 0;
    buf[out++] = '"';
    for (size_t i = 0; i < n && out + 8 < size; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (i == QUOTE_MAX) {
            memcpy(buf + out, "...", 3);
            out += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            buf[out++] = '\\';
            buf[out++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            out += (size_t)snprintf(buf + out, size - out, "\\x%02x", ch);
        } else {
            buf[out++] = (char)ch;
        }
    }
    buf[out++] = '"';
    buf[out] = '\0';
    return buf;
}

static bool is_method(const char *text, size_t n)
{
    for (size_t i = 0; http_methods[i]; i++)
        if (strlen(http_methods[i]) == n && memcmp(http_methods[i], text, n) == 0)
            return true;
    return false;
}

/* NULL when `url` is an absolute http(s) URL with a host; otherwise why it is not. */
static const char *url_problem(const char *url)
{
    const char *why = NULL;
    return servo_url_parse(url, NULL, &why) == 0 ? NULL : why;
}

/* A header field name: an RFC 9110 token. */
static bool is_token(const char *text, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (!isalnum(ch) && strchr("!#$%&'*+-.^_`|~", ch) == NULL)
            return false;
    }
    return true;
}

static bool is_upper_word(const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isupper((unsigned char)text[i]))
            return false;
    return n > 0;
}

/* Standard base64 with padding, as vegeta decodes the json format's body. */
static bool is_base64(const char *text)
{
    size_t n = strlen(text);
    if (n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '=') {
            /* padding: only in the last two places, and nothing but padding after it */
            if (i + 2 < n)
                return false;
            for (size_t j = i; j < n; j++)
                if (text[j] != '=')
                    return false;
            return true;
        }
        if (!isalnum(ch) && ch != '+' && ch != '/')
            return false;
    }
    return true;
}

/* Where messages about target lines point: "line 3" for `target`, "FILE:3" for `targets`. */
struct target_sink {
    struct servo_validation *v;
    const char *field; /* "target" or "targets" */
    const char *file;  /* the targets file, or NULL */
    int errors;
};

static void target_error(struct target_sink *sink, int line, const char *fmt, ...)
    SERVO_PRINTF(3, 4);

static void target_error(struct target_sink *sink, int line, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (sink->file != NULL)
        servo_validation_error(sink->v, sink->field, "%s:%d: %s", sink->file, line, message);
    else
        servo_validation_error(sink->v, sink->field, "line %d: %s", line, message);
    sink->errors++;
}

/* ---- the http format -------------------------------------------------------------------- */

/* One trimmed, non-empty line; returns 1 for a target line, 0 for anything else accepted. */
static int check_http_line(struct target_sink *sink, int line, const char *s, size_t n,
                           bool in_target)
{
    char q[QUOTE_MAX * 4 + 16];
    size_t word = 0;
    while (word < n && s[word] != ' ' && s[word] != '\t')
        word++;
    if (is_method(s, word)) {
        size_t rest = word;
        while (rest < n && (s[rest] == ' ' || s[rest] == '\t'))
            rest++;
        if (rest == n) {
            target_error(sink, line, "expected a URL after %.*s", (int)word, s);
            return -1;
        }
        char *url = servo_strdup_printf("%.*s", (int)(n - rest), s + rest);
        const char *why = url_problem(url);
        if (why != NULL)
            target_error(sink, line, "invalid URL %s: %s", quote(url, strlen(url), q, sizeof q),
                         why);
        free(url);
        return why == NULL ? 1 : -1;
    }
    const char *colon = memchr(s, ':', n);
    if (colon != NULL) {
        size_t name = (size_t)(colon - s);
        const char *value = colon + 1;
        while (value < s + n && (*value == ' ' || *value == '\t'))
            value++;
        if (is_token(s, name) && value < s + n) {
            if (in_target)
                return 0;
            target_error(sink, line, "the header %s does not follow a target line",
                         quote(s, n, q, sizeof q));
            return -1;
        }
    }
    if (word < n && is_upper_word(s, word)) {
        target_error(sink, line, "unknown method %s (expected one of " METHOD_LIST ")",
                     quote(s, word, q, sizeof q));
        return -1;
    }
    target_error(sink, line, "expected \"METHOD URL\" or \"Header: value\", got %s",
                 quote(s, n, q, sizeof q));
    return -1;
}

static void check_http_targets(struct target_sink *sink, const char *text, size_t length)
{
    const char *p = text;
    const char *end = text + length;
    int line = 0;
    int targets = 0;
    bool in_target = false;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *eol = newline ? newline : end;
        const char *s = p;
        const char *e = eol;
        p = newline ? newline + 1 : end;
        line++;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s == e) {
            in_target = false; /* a blank line ends a target's headers */
            continue;
        }
        if (*s == '#' || *s == '@')
            continue;
        int rc = check_http_line(sink, line, s, (size_t)(e - s), in_target);
        if (rc == 1) {
            targets++;
            in_target = true;
        }
    }
    if (targets == 0 && sink->errors == 0)
        servo_validation_error(sink->v, sink->field, "at least one target is required");
}

/* ---- the json format -------------------------------------------------------------------- */

/* NULL when `target` is a valid vegeta JSON target; otherwise why not (in `buf`). */
static const char *json_target_problem(json_t *target, char *buf, size_t size)
{
    char q[QUOTE_MAX * 4 + 16];
    if (!json_is_object(target))
        return "expected a JSON object";
    const char *key;
    json_t *value;
    json_object_foreach(target, key, value)
    {
        if (strcmp(key, "method") != 0 && strcmp(key, "url") != 0 && strcmp(key, "header") != 0 &&
            strcmp(key, "body") != 0) {
            snprintf(buf, size, "unknown key %s (allowed: method, url, header, body)",
                     quote(key, strlen(key), q, sizeof q));
            return buf;
        }
    }
    json_t *method = json_object_get(target, "method");
    if (method == NULL)
        return "\"method\" is required";
    if (!json_is_string(method) ||
        !is_method(json_string_value(method), strlen(json_string_value(method))))
        return "\"method\" must be one of " METHOD_LIST;
    json_t *url = json_object_get(target, "url");
    if (url == NULL)
        return "\"url\" is required";
    if (!json_is_string(url))
        return "\"url\" must be a string";
    const char *why = url_problem(json_string_value(url));
    if (why != NULL) {
        const char *text = json_string_value(url);
        snprintf(buf, size, "invalid URL %s: %s", quote(text, strlen(text), q, sizeof q), why);
        return buf;
    }
    json_t *header = json_object_get(target, "header");
    if (header != NULL) {
        if (!json_is_object(header))
            return "\"header\" must be an object of header names to lists of strings";
        json_object_foreach(header, key, value)
        {
            bool ok = json_is_array(value);
            size_t i;
            json_t *item;
            json_array_foreach(value, i, item) ok = ok && json_is_string(item);
            if (!ok) {
                snprintf(buf, size, "the header %s must be a list of strings",
                         quote(key, strlen(key), q, sizeof q));
                return buf;
            }
        }
    }
    json_t *body = json_object_get(target, "body");
    if (body != NULL && (!json_is_string(body) || !is_base64(json_string_value(body))))
        return "\"body\" must be a base64-encoded string";
    return NULL;
}

static void check_json_targets(struct target_sink *sink, const char *text, size_t length)
{
    const char *p = text;
    const char *end = text + length;
    int line = 0;
    int targets = 0;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *eol = newline ? newline : end;
        const char *s = p;
        const char *e = eol;
        p = newline ? newline + 1 : end;
        line++;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s == e)
            continue;
        json_error_t error;
        json_t *target = json_loadb(s, (size_t)(e - s), JSON_REJECT_DUPLICATES, &error);
        if (target == NULL) {
            target_error(sink, line, "invalid JSON: %s", error.text);
            continue;
        }
        char buf[512];
        const char *why = json_target_problem(target, buf, sizeof buf);
        json_decref(target);
        if (why != NULL)
            target_error(sink, line, "%s", why);
        else
            targets++;
    }
    if (targets == 0 && sink->errors == 0)
        servo_validation_error(sink->v, sink->field, "at least one target is required");
}

static void check_targets(int format, struct target_sink *sink, const char *text, size_t length)
{
    if (format == VEGETA_FORMAT_JSON)
        check_json_targets(sink, text, length);
    else
        check_http_targets(sink, text, length);
}

/* ---- validators ------------------------------------------------------------------------- */

static int validate_targets_file(const void *value, struct servo_validation *v)
{
    const char *path = *(char *const *)value;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return servo_validation_error(v, NULL, "file \"%s\" does not exist", path);
        return servo_validation_error(v, NULL, "cannot read \"%s\": %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return servo_validation_error(v, NULL, "\"%s\" is not a regular file", path);
    if (access(path, R_OK) != 0)
        return servo_validation_error(v, NULL, "file \"%s\" is not readable: %s", path,
                                      strerror(errno));
    return 0;
}

/* Reads at most VEGETA_TARGETS_CHECK_MAX bytes, cut after the last whole line when longer. */
static char *read_targets_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *data = malloc(VEGETA_TARGETS_CHECK_MAX + 1);
    if (data == NULL) {
        fclose(f);
        errno = ENOMEM; /* the caller's "cannot read" says why */
        return NULL;
    }
    size_t n = fread(data, 1, VEGETA_TARGETS_CHECK_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        free(data);
        return NULL;
    }
    if (n > VEGETA_TARGETS_CHECK_MAX) {
        n = VEGETA_TARGETS_CHECK_MAX;
        while (n > 0 && data[n - 1] != '\n')
            n--;
    }
    data[n] = '\0';
    *length = n;
    return data;
}

static int validate_settings(const void *settings, struct servo_validation *v)
{
    const struct vegeta_settings *s = settings;
    if (s->target != NULL && s->targets != NULL)
        return servo_validation_error(v, NULL, "target and targets cannot both be given");
    if (s->target == NULL && s->targets == NULL)
        return servo_validation_error(v, NULL, "one of target or targets is required");
    if (s->rate.hits == 0 && s->max_workers == SERVO_UNSET)
        return servo_validation_error(v, "max_workers",
                                      "a rate of 0 (as fast as possible) needs max_workers: "
                                      "vegeta refuses -rate=0 with unlimited workers");
    if (s->target != NULL) {
        struct target_sink sink = {.v = v, .field = "target"};
        check_targets(s->format, &sink, s->target, strlen(s->target));
        return sink.errors ? -1 : 0;
    }
    size_t length = 0;
    char *data = read_targets_file(s->targets, &length);
    if (data == NULL)
        return servo_validation_error(v, "targets", "cannot read \"%s\": %s", s->targets,
                                      strerror(errno));
    struct target_sink sink = {.v = v, .field = "targets", .file = s->targets};
    check_targets(s->format, &sink, data, length);
    free(data);
    return sink.errors ? -1 : 0;
}

/* ---- the table -------------------------------------------------------------------------- */

#define MS_NS 1e6

static const struct servo_field vegeta_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct vegeta_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "rate",
     .type = SERVO_FIELD_RATE,
     .offset = offsetof(struct vegeta_settings, rate),
     .flags = SERVO_F_REQUIRED,
     .description = "Requests per time unit to send: an integer (per second), or hits/interval "
                    "such as 50/1s or 3000/1m; 0 means as fast as possible."},
    {.name = "format",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct vegeta_settings, format),
     .def = "http",
     .choices = format_choices,
     .description = "The format of the targets: http (\"METHOD URL\" lines followed by "
                    "\"Header: value\" lines) or json (one JSON object per line)."},
    {.name = "target",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct vegeta_settings, target),
     .flags = SERVO_F_NONEMPTY,
     .description = "A target to attack, e.g. \"GET https://example.com/\"; exactly one of "
                    "target and targets is required."},
    {.name = "targets",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct vegeta_settings, targets),
     .flags = SERVO_F_NONEMPTY,
     .validate = validate_targets_file,
     .description = "Path of a readable file of targets in the given format; exactly one of "
                    "target and targets is required."},
    {.name = "connections",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct vegeta_settings, connections),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "10000",
     .description = "Maximum number of idle open connections per target host."},
    {.name = "workers",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct vegeta_settings, workers),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "10",
     .description = "Initial number of workers used in the attack."},
    {.name = "max_workers",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct vegeta_settings, max_workers),
     .flags = SERVO_F_MIN,
     .min = 1,
     .description = "Maximum number of workers; unlimited when not given."},
    {.name = "max_body",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct vegeta_settings, max_body),
     .flags = SERVO_F_MIN,
     .min = -1,
     .def = "-1",
     .description = "Maximum number of bytes to capture from response bodies; -1 means no limit."},
    {.name = "http2",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct vegeta_settings, http2),
     .def = "true",
     .description = "Send HTTP/2 requests when supported by the server."},
    {.name = "keepalive",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct vegeta_settings, keepalive),
     .def = "true",
     .description = "Use persistent connections."},
    {.name = "insecure",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct vegeta_settings, insecure),
     .def = "false",
     .description = "Skip verification of TLS certificates."},
    {.name = "reporting_interval",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct vegeta_settings, reporting_interval),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .def = "15s",
     .description = "How often vegeta reports metrics during the attack."},
    {.name = "duration",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct vegeta_settings, duration),
     .flags = SERVO_F_MIN,
     .min = 0,
     .def = "0",
     .description = "How long an attack lasts when the optimizer's control gives no duration "
                    "(the control's duration wins); 0: none, a measure without one fails. The "
                    "seed's SERVO_VEGETA='{\"rate\": \"50/1s\", \"duration\": \"20m\"}' sets it."},
    {.name = "binary",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct vegeta_settings, binary),
     .flags = SERVO_F_NONEMPTY,
     .def = "vegeta",
     .description = "The vegeta executable: a name looked up on PATH, or a path."},
    SERVO_FIELDS_END,
};

static const struct servo_schema vegeta_schema = {
    .title = "Vegeta Connector Configuration Schema",
    .description = "Configuration of the vegeta load generator: the request rate, the targets "
                   "and how vegeta runs the attack. The attack lasts as long as the "
                   "measurement's control duration.",
    .size = sizeof(struct vegeta_settings),
    .fields = vegeta_fields,
    .validate = validate_settings,
};

const struct servo_connector_plugin servo_connector_vegeta = {
    SERVO_CONNECTOR_HEADER,
    .name = "vegeta",
    .class_name = "VegetaConnector",
    .version = "0.5.0",
    .description = "Vegeta load testing connector",
    .homepage = "https://github.com/opsani/vegeta-connector",
    .license = "Apache 2.0",
    .maturity = "Stable",
    .settings = &vegeta_schema,
    .generate = "description: Update the rate and target/targets to match your load profile\n"
                "rate: 50/1s\n"
                "target: GET https://example.com/\n",
    .init = vegeta_init,
    .fini = vegeta_fini,
    .handlers = vegeta_handlers,
    .checks = vegeta_checks,
    .commands = vegeta_commands,
};
