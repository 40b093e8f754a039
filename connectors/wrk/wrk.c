/* The wrk connector's settings: the URL, threads, connections, headers, the request timeout
 * (whole seconds: wrk takes only s, m and h units), an optional user Lua script and the
 * executable. The runs are in run.c, the summary line in summary.c, the handlers in
 * handlers.c and the checks in checks.c. */
#include "wrk.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define SECOND_NS 1e9

/* ---- validators ------------------------------------------------------------------------- */

static int validate_timeout(const void *value, struct servo_validation *v)
{
    servo_duration timeout = *(const servo_duration *)value;
    if (timeout % SERVO_SECOND != 0)
        return servo_validation_error(v, NULL,
                                      "wrk takes whole seconds: use a timeout such as 2s or 1m");
    return 0;
}

/* An RFC 9110 token. */
static bool is_token(const char *text)
{
    if (text[0] == '\0')
        return false;
    for (const char *p = text; *p; p++)
        if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
            return false;
    return true;
}

static int validate_headers(const void *value, struct servo_validation *v)
{
    const struct servo_map *headers = value;
    char **values = headers->values;
    for (size_t i = 0; i < headers->count; i++) {
        if (!is_token(headers->keys[i]))
            return servo_validation_error(v, NULL, "\"%s\" is not a valid header name",
                                          headers->keys[i]);
        if (values[i] != NULL && strpbrk(values[i], "\r\n") != NULL)
            return servo_validation_error(
                v, NULL, "the value of the header \"%s\" contains a line break", headers->keys[i]);
    }
    return 0;
}

static int validate_script(const void *value, struct servo_validation *v)
{
    const char *path = *(char *const *)value;
    struct stat st;
    if (stat(path, &st) != 0)
        return servo_validation_error(v, NULL, "cannot read \"%s\": %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return servo_validation_error(v, NULL, "\"%s\" is not a regular file", path);
    if (access(path, R_OK) != 0)
        return servo_validation_error(v, NULL, "file \"%s\" is not readable: %s", path,
                                      strerror(errno));
    return 0;
}

static int validate_settings(const void *settings, struct servo_validation *v)
{
    const struct wrk_settings *s = settings;
    if (s->connections < s->threads)
        return servo_validation_error(v, "connections",
                                      "connections (%lld) must be at least threads (%lld): each "
                                      "wrk thread needs a connection",
                                      (long long)s->connections, (long long)s->threads);
    return 0;
}

/* ---- the table -------------------------------------------------------------------------- */

static const struct servo_field string_item = {.type = SERVO_FIELD_STRING};

static const struct servo_field wrk_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct wrk_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct wrk_settings, url),
     .flags = SERVO_F_REQUIRED,
     .description = "The http(s) URL to load."},
    {.name = "threads",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct wrk_settings, threads),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "2",
     .description = "Number of wrk threads."},
    {.name = "connections",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct wrk_settings, connections),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "10",
     .description = "Number of connections kept open (shared by the threads; at least one per "
                    "thread)."},
    {.name = "headers",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct wrk_settings, headers),
     .item = &string_item,
     .validate = validate_headers,
     .description = "Request headers, by name."},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct wrk_settings, timeout),
     .flags = SERVO_F_MIN,
     .min = SECOND_NS,
     .def = "2s",
     .validate = validate_timeout,
     .description = "How long a request may take before it counts as a timeout error (whole "
                    "seconds)."},
    {.name = "script",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct wrk_settings, script),
     .flags = SERVO_F_NONEMPTY,
     .validate = validate_script,
     .description = "A wrk Lua script (request, response, ... hooks). Its done() still runs, "
                    "before the connector's own, which prints the summary the servo reads."},
    {.name = "binary",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct wrk_settings, binary),
     .flags = SERVO_F_NONEMPTY,
     .def = "wrk",
     .description = "The wrk executable: a name looked up on PATH, or a path."},
    SERVO_FIELDS_END,
};

static const struct servo_schema wrk_schema = {
    .title = "Wrk Connector Configuration Schema",
    .description = "Configuration of the wrk load generator: the URL, the load's shape and the "
                   "executable. The load lasts as long as the measurement's control duration.",
    .size = sizeof(struct wrk_settings),
    .fields = wrk_fields,
    .validate = validate_settings,
};

const struct servo_connector_plugin servo_connector_wrk = {
    SERVO_CONNECTOR_HEADER,
    .name = "wrk",
    .class_name = "WrkConnector",
    .version = "1.0.0",
    .description = "Load generation and latency measurement with wrk",
    .homepage = "https://github.com/wg/wrk",
    .license = "Apache 2.0",
    .maturity = "Stable",
    .settings = &wrk_schema,
    .generate = "url: http://localhost:8080/\n",
    .init = wrk_init,
    .fini = wrk_fini,
    .handlers = wrk_handlers,
    .checks = wrk_checks,
};
