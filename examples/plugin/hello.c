/* An out-of-tree connector: `hello` (HelloConnector). It is built with nothing but the
 * installed headers (see the Makefile) and loaded by the servo from SERVO_PLUGIN_PATH or the
 * installed plugin directory. The servo_* functions it calls are exported by the servo
 * executable and resolved when the plugin is loaded: the plugin links against nothing.
 *
 * Its check, "Say hello to the URL", makes one HTTP request with the servo's HTTP engine
 * (<servo/http.h>): a GET of `url`, cancelled with the check's event, through a client the
 * instance keeps from init to fini (so connections are reused). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <servo/checks.h>
#include <servo/events.h>
#include <servo/http.h>
#include <servo/log.h>
#include <servo/servo.h>

/* The validated settings: the core fills this struct from the `hello:` stanza (or from
 * SERVO_HELLO_* variables), applies the defaults, and frees it; the connector only reads it. */
struct hello_settings {
    char *greeting; /* STRING */
    int64_t repeat; /* INT */
    char *url;      /* URL, optional: NULL when absent */
    int style;      /* ENUM: index into style_choices */
};

static const char *const style_choices[] = {"plain", "shout", NULL};

/* The longest greeting the connector agrees to say, repeats included. */
#define HELLO_MAX_CHARS 1000

/* A cross-field check, run once every field is valid. servo_validation_error is a function of
 * the servo, called back from here: the plugin does not link it, the host provides it. */
static int hello_validate(const void *value, struct servo_validation *v)
{
    const struct hello_settings *s = value;
    size_t length = strlen(s->greeting);
    servo_debug("hello: checking %zu character(s) repeated %lld time(s)", length,
                (long long)s->repeat);
    if (s->repeat > 0 && length > HELLO_MAX_CHARS / (size_t)s->repeat)
        return servo_validation_error(v, "repeat",
                                      "%lld repetitions of a %zu-character greeting exceed "
                                      "%d characters",
                                      (long long)s->repeat, length, HELLO_MAX_CHARS);
    return 0;
}

static const struct servo_field hello_fields[] = {
    {.name = "greeting",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct hello_settings, greeting),
     .flags = SERVO_F_NONEMPTY,
     .def = "hello",
     .description = "What to say."},
    {.name = "repeat",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct hello_settings, repeat),
     .flags = SERVO_F_MIN,
     .min = 1,
     .def = "1",
     .description = "How many times to say it."},
    {.name = "url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct hello_settings, url),
     .description = "Where to say it (an http or https URL); optional."},
    {.name = "style",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct hello_settings, style),
     .choices = style_choices,
     .def = "plain",
     .description = "How to say it: plain or shout."},
    SERVO_FIELDS_END,
};

static const struct servo_schema hello_schema = {
    .title = "Hello Connector Configuration Schema",
    .description = "Says hello: a minimal example of an out-of-tree connector.",
    .size = sizeof(struct hello_settings),
    .fields = hello_fields,
    .validate = hello_validate,
};

/* Attach: the settings are valid and immutable; keep private state if needed (here the HTTP
 * client, which keeps its connections between requests). */
static int hello_init(struct servo_connector *connector, struct servo_error *error)
{
    const struct hello_settings *s = servo_connector_settings(connector);
    if (s == NULL)
        return servo_error_set(error, SERVO_ERROR_FAILED, "no-settings",
                               "connector \"%s\" has no settings", servo_connector_name(connector));
    char *shown = s->url ? servo_url_redact(s->url) : NULL; /* no password in logs */
    servo_info("%s says \"%s\" %lld time(s)%s%s", servo_connector_name(connector), s->greeting,
               (long long)s->repeat, shown ? " to " : "", shown ? shown : "");
    free(shown);
    struct servo_http_options options = {.user_agent = "servo-hello/0.1.0"};
    struct servo_http_error http_error;
    struct servo_http_client *client = servo_http_client_new(&options, &http_error);
    if (client == NULL)
        return servo_error_set(error, SERVO_ERROR_FAILED, "http", "%s", http_error.message);
    servo_connector_set_state(connector, client);
    return 0;
}

static void hello_fini(struct servo_connector *connector)
{
    servo_http_client_free(servo_connector_state(connector));
    servo_debug("%s: goodbye", servo_connector_name(connector));
}

/* One request: GET url. The event cancels it (servo check's deadline, Ctrl-C); a status of
 * 400 or more fails it; the error message names the URL (never a password in it). */
static int hello_check_url(struct servo_connector *connector, struct servo_event *event,
                           size_t item, struct servo_check *check)
{
    (void)item;
    const struct hello_settings *s = servo_connector_settings(connector);
    if (s->url == NULL) {
        servo_check_message(check, "no url to say hello to");
        return 0;
    }
    const char *headers[] = {"Accept: text/plain", NULL};
    struct servo_http_request request = {
        .method = "GET",
        .url = s->url,
        .headers = headers,
        .total_timeout = 10 * SERVO_SECOND,
        .max_response = 1024 * 1024,
        .fail_on_status = true,
        .event = event,
    };
    struct servo_http_response response;
    struct servo_http_error error;
    int rc = servo_http_perform(servo_connector_state(connector), &request, &response, &error);
    if (rc == 0)
        servo_check_message(check, "HTTP %ld, %zu bytes", response.status, response.body_length);
    else
        servo_check_fail(check, "%s (%s)", error.message, servo_http_error_reason(error.kind));
    servo_http_response_clear(&response);
    return rc;
}

static const struct servo_check_def hello_checks[] = {
    {.name = "Say hello to the URL",
     .description = "GET the configured url; any status below 400 passes",
     .hint = "Is the url right, and is the server up?",
     .run = hello_check_url},
    {.name = NULL},
};

static const struct servo_connector_plugin hello_connector = {
    SERVO_CONNECTOR_HEADER,
    .name = "hello",
    .class_name = "HelloConnector",
    .version = "0.1.0",
    .description = "Says hello (an example out-of-tree connector)",
    .homepage = "https://github.com/opsani/servox",
    .license = "Apache 2.0",
    .maturity = "Experimental",
    .settings = &hello_schema,
    .generate = "greeting: hello\n"
                "repeat: 2\n",
    .init = hello_init,
    .fini = hello_fini,
    .checks = hello_checks,
};

/* The one exported symbol: the manifest the servo looks up after dlopen. */
SERVO_DECLARE_PLUGIN(&hello_connector);
