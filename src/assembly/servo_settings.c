#include "assembly/servo_settings.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

/* ---- optimizer ------------------------------------------------------------------------- */

static int validate_optimizer(const void *settings, struct servo_validation *v)
{
    const struct optimizer_settings *o = settings;
    if (o->token && o->token_file)
        return servo_validation_error(v, "token_file", "token and token_file cannot both be given");
    if (o->token && o->token[0] == '\0')
        return servo_validation_error(v, "token", "token cannot be blank");
    return 0;
}

static const struct servo_field optimizer_fields[] = {
    {.name = "id",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct optimizer_settings, id),
     .pattern = "^(?!-)([A-Za-z0-9-.]{5,50})/[a-zA-Z_\\-.0-9]{1,64}$",
     .env_alias = "OPSANI_OPTIMIZER",
     .description = "The optimizer's id, ORG/APP (e.g. example.com/my-app)"},
    {.name = "token",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct optimizer_settings, token),
     .env_alias = "OPSANI_TOKEN",
     .description = "API token: sent as \"Authorization: Bearer TOKEN\" (a token that starts "
                    "with \"Bearer \" is sent as is; \"X-SF-Token T\" becomes that header)"},
    {.name = "token_file",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct optimizer_settings, token_file),
     .env_alias = "OPSANI_TOKEN_FILE",
     .description = "A file holding the API token (read when connecting, whitespace stripped)"},
    {.name = "base_url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct optimizer_settings, base_url),
     .def = "https://api.opsani.com",
     .env_alias = "OPSANI_BASE_URL",
     .description = "Base URL of the optimizer API"},
    {.name = "url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct optimizer_settings, url),
     .env_alias = "OPSANI_URL",
     .description = "Full URL of the application's API (overrides base_url and id); "
                    "requests go to {url}servo"},
    {.name = "local",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct optimizer_settings, local),
     .flags = SERVO_F_OPTIONAL,
     .object = &study_local_schema,
     .description = "The embedded optimizer (used when this is set, or when no id or url is): "
                    "objective, constraints, budget, seed, store, measure, settlement"},
    SERVO_FIELDS_END,
};

const struct servo_schema optimizer_settings_schema = {
    .title = "Optimizer",
    .description = "The optimizer this servo reports to (Opsani servo protocol over HTTP). "
                   "Without one, `servo run` uses the embedded optimizer.",
    .size = sizeof(struct optimizer_settings),
    .fields = optimizer_fields,
    .validate = validate_optimizer,
};

/* ---- common settings ------------------------------------------------------------------- */

static const struct servo_field proxy_url = {.type = SERVO_FIELD_URL};

static int validate_proxies(const void *value, struct servo_validation *v)
{
    const struct servo_map *proxies = value;
    for (size_t i = 0; i < proxies->count; i++) {
        const char *key = proxies->keys[i];
        if (strcmp(key, "http://") != 0 && strcmp(key, "https://") != 0 &&
            strcmp(key, "all://") != 0 && !str_starts_with(key, "http://") &&
            !str_starts_with(key, "https://") && !str_starts_with(key, "all://"))
            return servo_validation_error(v, key,
                                          "proxy keys must start with http://, https:// or "
                                          "all://");
    }
    return 0;
}

static const struct servo_field timeout_fields[] = {
    {.name = "connect",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct timeout_settings, connect),
     .def = "10s",
     .flags = SERVO_F_MIN,
     .min = 1e6,
     .description = "Time to establish a connection"},
    {.name = "read",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct timeout_settings, read),
     .def = "30s",
     .flags = SERVO_F_MIN,
     .min = 1e6,
     .description = "Time to wait for a response"},
    {.name = "write",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct timeout_settings, write),
     .def = "30s",
     .flags = SERVO_F_MIN,
     .min = 1e6,
     .description = "Time to send a request"},
    {.name = "pool",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct timeout_settings, pool),
     .def = "10s",
     .flags = SERVO_F_MIN,
     .min = 1e6,
     .description = "Time to wait for a free connection"},
    SERVO_FIELDS_END,
};

static const struct servo_schema timeout_schema = {
    .title = "Timeouts",
    .description = "HTTP timeouts; a single duration sets all four",
    .size = sizeof(struct timeout_settings),
    .fields = timeout_fields,
};

static int parse_ssl_verify(const struct servo_node *node, void *dst, struct servo_validation *v)
{
    struct ssl_verify_setting *s = dst;
    const char *text = servo_node_text(node);
    if (text == NULL)
        return servo_validation_error(v, NULL, "expected true, false or a CA bundle path, got %s",
                                      servo_node_describe(node));
    if (!servo_node_quoted(node) && (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0)) {
        s->verify = true;
        return 0;
    }
    if (!servo_node_quoted(node) && (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0)) {
        s->verify = false;
        return 0;
    }
    if (text[0] == '\0')
        return servo_validation_error(v, NULL, "a CA bundle path must not be empty");
    s->verify = true;
    s->ca_bundle = xstrdup(text);
    return 0;
}

static void free_ssl_verify(void *dst)
{
    struct ssl_verify_setting *s = dst;
    free(s->ca_bundle);
    s->ca_bundle = NULL;
}

static json_t *ssl_verify_to_json(const void *src, bool show_secrets)
{
    (void)show_secrets;
    const struct ssl_verify_setting *s = src;
    return s->ca_bundle ? json_string(s->ca_bundle) : json_boolean(s->verify);
}

static const struct servo_custom_type ssl_verify_type = {
    .size = sizeof(struct ssl_verify_setting),
    .parse = parse_ssl_verify,
    .free = free_ssl_verify,
    .to_json = ssl_verify_to_json,
    .json_schema = "{\"type\": [\"boolean\", \"string\", \"null\"]}",
};

static const struct servo_field backoff_fields[] = {
    {.name = "max_time",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct backoff_settings, max_time),
     .def = "10m",
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "Give up retrying after this long"},
    {.name = "max_tries",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct backoff_settings, max_tries),
     .flags = SERVO_F_MIN,
     .min = 1,
     .description = "Give up after this many attempts (unlimited when absent)"},
    SERVO_FIELDS_END,
};

static const struct servo_schema backoff_schema = {
    .title = "Backoff",
    .description = "Exponential backoff with jitter for one context of requests",
    .size = sizeof(struct backoff_settings),
    .fields = backoff_fields,
};

static const struct servo_field backoff_item = {.type = SERVO_FIELD_OBJECT,
                                                .object = &backoff_schema};

static const struct servo_field common_fields[] = {
    {.name = "proxies",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct common_settings, proxies),
     .item = &proxy_url,
     .shorthand = "all://",
     .validate = validate_proxies,
     .description = "Proxy URL for every request, or a map of scheme (\"https://\", "
                    "\"all://\") to proxy URL"},
    {.name = "timeouts",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct common_settings, timeouts),
     .object = &timeout_schema,
     .shorthand = "*",
     .description = "HTTP timeouts: one duration, or connect/read/write/pool"},
    {.name = "ssl_verify",
     .type = SERVO_FIELD_CUSTOM,
     .offset = offsetof(struct common_settings, ssl_verify),
     .custom = &ssl_verify_type,
     .def = "true",
     .description = "Verify TLS certificates: true, false, or the path of a CA bundle"},
    {.name = "backoff",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct common_settings, backoff),
     .item = &backoff_item,
     .def = "{__default__: {max_time: 10m}, connect: {max_time: 1h}}",
     .description = "Retry contexts by name: __default__ for every request, connect for the "
                    "first connection"},
    SERVO_FIELDS_END,
};

static const struct servo_schema common_schema = {
    .title = "Common settings",
    .description = "Settings shared by the servo and its connectors",
    .size = sizeof(struct common_settings),
    .fields = common_fields,
};

/* ---- checks ---------------------------------------------------------------------------- */

static const char *const halt_choices[] = {"warning", "common", "critical", NULL};
static const struct servo_field filter_item = {.type = SERVO_FIELD_STRING};

static int parse_check_delay(const struct servo_node *node, void *dst, struct servo_validation *v)
{
    struct check_delay_setting *d = dst;
    const char *text = servo_node_text(node);
    const char *why = NULL;
    if (text == NULL)
        return servo_validation_error(v, NULL, "expected \"expo\" or a duration, got %s",
                                      servo_node_describe(node));
    if (strcmp(text, "expo") == 0) {
        d->exponential = true;
        return 0;
    }
    if (servo_duration_parse(text, &d->fixed, &why) != 0 || d->fixed < 0)
        return servo_validation_error(v, NULL,
                                      "invalid delay \"%s\": expected \"expo\" or a "
                                      "duration (%s)",
                                      text, why ? why : "negative");
    d->exponential = false;
    return 0;
}

static json_t *check_delay_to_json(const void *src, bool show_secrets)
{
    (void)show_secrets;
    const struct check_delay_setting *d = src;
    char buf[SERVO_VALUE_TEXT_MAX];
    if (d->exponential)
        return json_string("expo");
    servo_duration_format(d->fixed, buf);
    return json_string(buf);
}

static const struct servo_custom_type check_delay_type = {
    .size = sizeof(struct check_delay_setting),
    .parse = parse_check_delay,
    .to_json = check_delay_to_json,
    .json_schema = "{\"type\": [\"string\", \"number\", \"null\"]}",
};

#define FILTER_FIELD(field_name, text)                                                \
    {                                                                                 \
        .name = #field_name, .type = SERVO_FIELD_LIST,                                \
        .offset = offsetof(struct checks_settings, field_name), .item = &filter_item, \
        .shorthand = "one", .description = text                                       \
    }

static const struct servo_field checks_fields[] = {
    FILTER_FIELD(connectors, "Run the checks of these connectors only"),
    FILTER_FIELD(name, "Check names: exact values, a comma list, or /regex/"),
    FILTER_FIELD(id, "Check ids: exact values, a comma list, or /regex/"),
    FILTER_FIELD(tag, "Check tags: exact values, a comma list, or /regex/"),
    {.name = "quiet",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct checks_settings, quiet),
     .def = "false",
     .description = "Print nothing unless a check fails"},
    {.name = "verbose",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct checks_settings, verbose),
     .def = "false",
     .description = "Print every check, not one line per connector"},
    {.name = "progressive",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct checks_settings, progressive),
     .def = "true",
     .description = "Log each check as it runs"},
    {.name = "wait",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct checks_settings, wait),
     .def = "30m",
     .flags = SERVO_F_MIN,
     .min = 0,
     .description = "Keep retrying failed checks for this long"},
    {.name = "delay",
     .type = SERVO_FIELD_CUSTOM,
     .offset = offsetof(struct checks_settings, delay),
     .custom = &check_delay_type,
     .def = "expo",
     .description = "Delay between retries: \"expo\" (8 s, 16 s, 32 s, ...) or a duration"},
    {.name = "halt_on",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct checks_settings, halt_on),
     .choices = halt_choices,
     .def = "critical",
     .description = "Stop at the first failed check of this severity or above"},
    {.name = "remedy",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct checks_settings, remedy),
     .def = "true",
     .description = "Run the remedy of a failed check that has one"},
    {.name = "check_halting",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct checks_settings, check_halting),
     .def = "false",
     .description = "Halt the run when checks fail after startup"},
    SERVO_FIELDS_END,
};

static const struct servo_schema checks_schema = {
    .title = "Checks",
    .description = "How `servo run --check` and `servo check` run checks",
    .size = sizeof(struct checks_settings),
    .fields = checks_fields,
};

/* ---- the servo ------------------------------------------------------------------------- */

static const char *const extra_choices[] = {"forbid", "ignore", NULL};

static const struct servo_field servo_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct servo_settings, name),
     .flags = SERVO_F_NO_ENV | SERVO_F_NONEMPTY,
     .pattern = "^[0-9a-zA-Z_./-]{1,128}$",
     .description = "The servo's name (default: the optimizer id); SERVO_NAME selects a servo "
                    "of several, so it does not set this"},
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct servo_settings, description),
     .description = "A description of this servo"},
    {.name = "servo_uid",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct servo_settings, servo_uid),
     .env_alias = "SERVO_UID",
     .description = "A unique id sent with every request to the optimizer"},
    {.name = "optimizer",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct servo_settings, optimizer),
     .flags = SERVO_F_OPTIONAL,
     .object = &optimizer_settings_schema,
     .description = "The optimizer to connect to"},
    {.name = "settings",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct servo_settings, settings),
     .object = &common_schema,
     .description = "Common settings: proxies, timeouts, ssl_verify, backoff"},
    {.name = "checks",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct servo_settings, checks),
     .object = &checks_schema,
     .description = "How checks run"},
    {.name = "extra",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct servo_settings, extra),
     .choices = extra_choices,
     .def = "forbid",
     .description = "forbid: reject top-level keys that no connector owns; ignore: skip them"},
    {.name = "no_diagnostics",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct servo_settings, no_diagnostics),
     .def = "true",
     .description = "Do not upload diagnostics to the optimizer"},
    SERVO_FIELDS_END,
};

const struct servo_schema servo_settings_schema = {
    .title = "Servo",
    .description = "A servo: its name, optimizer, common settings, checks, and one stanza per "
                   "connector instance",
    .size = sizeof(struct servo_settings),
    .fields = servo_fields,
};

bool servo_settings_reserved(const char *key)
{
    static const char *const reserved[] = {"connectors", "control",      "measure",
                                           "adjust",     "optimization", NULL};
    for (const struct servo_field *f = servo_fields; f->name; f++)
        if (strcmp(f->name, key) == 0)
            return true;
    for (size_t i = 0; reserved[i]; i++)
        if (strcmp(reserved[i], key) == 0)
            return true;
    return false;
}
