/* libFuzzer target for the optimizer server's request handling: routing, authentication,
 * body parsing and the study's protocol state machine (study_exchange) behind it, on a fresh
 * server (an in-memory store, two applications) per input.
 *
 * The input is a sequence of requests, one per line. A line's first byte picks the method, the
 * path (or takes the line's first word as a path), the token and the size flag; the rest is the
 * body, in which "@UID@" becomes the cmd_uid of the latest command the server sent, so that
 * inputs can walk a whole session (DESCRIBE, MEASURE, ADJUST, ...) despite the random part of
 * the cmd_uids.
 *
 * Every reply must carry a known HTTP status, and a JSON body (the metrics excepted); an ADJUST
 * must only hold numbers and strings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/settings.h"
#include "config/yaml.h"
#include "optimizer/server.h"
#include "util/log.h"
#include "util/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_text[] =
    "store: \":memory:\"\n"
    "max_request_size: 4096\n"
    "applications:\n"
    "  org/app:\n"
    "    token: secret\n"
    "    objective: {metric: throughput, goal: maximize}\n"
    "    constraints: [{metric: latency, keep: below, threshold: 100},\n"
    "                  {metric: errors, keep: below, baseline_multiplier: 1.5}]\n"
    "    budget: 3\n"
    "  org/open:\n"
    "    objective: {expression: \"throughput / main.cpu\", goal: maximize}\n"
    "    budget: 2\n";

static struct yaml_documents docs;
static struct server_settings *settings;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(SERVO_LOG_CRITICAL);
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load(config_text, strlen(config_text), "fuzz.yaml", &docs, &diags) != 0)
        abort();
    settings = settings_load(&server_settings_schema, docs.items[0], "", NULL, &diags);
    if (settings == NULL)
        abort();
    diags_free(&diags);
    return 0;
}

static const char *const methods[] = {"POST", "GET", "PUT", ""};
static const char *const paths[] = {
    "/accounts/org/applications/app/servo",
    "/accounts/org/applications/open/servo",
    "/accounts/org/applications/app/trials",
    "/metrics",
};

static bool known_status(int status)
{
    static const int known[] = {200, 400, 401, 403, 404, 405, 409, 413, 503};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i] == status)
            return true;
    return false;
}

/* The body with "@UID@" replaced by the latest cmd_uid. */
static char *substitute(const char *body, size_t length, const char *uid)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_add(&sb, "", 0);
    for (size_t i = 0; i < length; i++) {
        if (i + 5 <= length && memcmp(body + i, "@UID@", 5) == 0) {
            strbuf_puts(&sb, uid);
            i += 4;
        } else {
            strbuf_putc(&sb, body[i]);
        }
    }
    return strbuf_detach(&sb);
}

static void check_adjust(const json_t *reply)
{
    const json_t *components = json_object_get(
        json_object_get(json_object_get(json_object_get(reply, "param"), "state"), "application"),
        "components");
    const char *component;
    const json_t *c;
    json_object_foreach((json_t *)components, component, c)
    {
        const char *name;
        const json_t *setting;
        json_object_foreach(json_object_get(c, "settings"), name, setting)
        {
            const json_t *value = json_object_get(setting, "value");
            if (!json_is_number(value) && !json_is_string(value))
                abort();
        }
    }
}

/* Sends one request; remembers the cmd_uid of a command in the reply. */
static void send(struct server *server, const uint8_t *line, size_t length, char *uid,
                 size_t uid_size)
{
    uint8_t selector = length > 0 ? line[0] : 0;
    const char *body = length > 1 ? (const char *)line + 1 : "";
    size_t body_length = length > 1 ? length - 1 : 0;
    char *path = NULL;
    if (selector & 0x10) { /* the first word is the path */
        const char *space = memchr(body, ' ', body_length);
        size_t n = space ? (size_t)(space - body) : body_length;
        path = xstrndup(body, n);
        body += n;
        body_length -= n;
    }
    char *text = substitute(body, body_length, uid);
    struct server_request request = {
        .method = methods[selector & 3],
        .path = path ? path : paths[(selector >> 2) & 3],
        .authorization = (selector & 0x20) ? "Bearer wrong" : "Bearer secret",
        .body = body_length > 0 ? text : NULL,
        .body_length = strlen(text),
        .too_large = (selector & 0xC0) == 0xC0,
    };
    struct server_response response;
    server_handle(server, &request, &response);
    if (!known_status(response.status) || response.body == NULL)
        abort();
    if (strcmp(request.path, "/metrics") != 0 || response.status != 200) {
        json_t *reply = json_loads(response.body, 0, NULL);
        if (reply == NULL)
            abort();
        const char *cmd_uid = json_string_value(json_object_get(reply, "cmd_uid"));
        if (cmd_uid != NULL)
            snprintf(uid, uid_size, "%s", cmd_uid);
        const char *cmd = json_string_value(json_object_get(reply, "cmd"));
        if (cmd != NULL && strcmp(cmd, "ADJUST") == 0)
            check_adjust(reply);
        json_decref(reply);
    }
    free(response.body);
    free(text);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct server *server = NULL;
    char *error = NULL;
    if (server_create(settings, NULL, &server, &error) != 0)
        abort();
    char uid[128] = "";
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            send(server, data + start, i - start, uid, sizeof uid);
            start = i + 1;
        }
    }
    server_free(server);
    return 0;
}
