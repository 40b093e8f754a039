// SPDX-License-Identifier: Apache-2.0
/* Forced allocation failures (alloc_fail.h) over the optimizer server's request handling
 * (src/optimizer/server.c, study.c, store.c): a server on an in-memory SQLite store, created,
 * taken through a servo session (HELLO, DESCRIBE, the baseline's MEASURE, the first trial's
 * ADJUST), its trials document and its metrics read, then freed. SQLite's allocations go
 * through the same counter (SQLITE_CONFIG_MALLOC). Every run whose Nth allocation fails must
 * end in a clean error: server_create's error, or an HTTP error reply (the session stops
 * there); the last one must give the normal replies. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alloc_fail.h"
#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "optimizer/server.h"
#include "util/log.h"
#include "util/util.h"

static const char config_text[] = "store: \":memory:\"\n"
                                  "applications:\n"
                                  "  org/app:\n"
                                  "    token: secret\n"
                                  "    objective: {metric: throughput, goal: maximize}\n"
                                  "    constraints: [{metric: latency, keep: below, "
                                  "threshold: 100}]\n"
                                  "    budget: 3\n"
                                  "    seed: 1\n";

#define SERVO_PATH "/accounts/org/applications/app/servo"

static const char description[] =
    "{\"event\":\"DESCRIPTION\",\"param\":{\"status\":\"ok\",\"cmd_uid\":\"@UID@\",\"descriptor\":"
    "{\"application\":{\"components\":{\"main\":{\"settings\":{"
    "\"cpu\":{\"type\":\"range\",\"unit\":\"cores\",\"value\":1.0,\"min\":0.25,\"max\":4.0,"
    "\"step\":0.25},"
    "\"replicas\":{\"type\":\"range\",\"value\":2,\"min\":1,\"max\":8,\"step\":1},"
    "\"gc\":{\"type\":\"enum\",\"value\":\"g1\",\"values\":[\"g1\",\"parallel\"]}}}}},"
    "\"measurement\":{\"metrics\":{\"throughput\":{\"unit\":\"rps\"},"
    "\"latency\":{\"unit\":\"ms\"}}}}}}";

static const char measurement[] =
    "{\"event\":\"MEASUREMENT\",\"param\":{\"status\":\"ok\",\"cmd_uid\":\"@UID@\",\"metrics\":{"
    "\"throughput\":{\"unit\":\"rps\",\"values\":[{\"id\":\"a\",\"data\":[[1704067200,100],"
    "[1704067230,110]]}]},"
    "\"latency\":{\"unit\":\"ms\",\"values\":[{\"id\":\"a\",\"data\":[[1704067200,20],"
    "[1704067230,30]]}]}}}}";

struct step {
    const char *method;
    const char *path;
    const char *body; /* "@UID@" becomes the cmd_uid of the last command */
};

static const struct step session[] = {
    {"POST", SERVO_PATH, "{\"event\":\"HELLO\",\"param\":{\"agent\":\"servo/0.1\"}}"},
    {"POST", SERVO_PATH, "{\"event\":\"WHATS_NEXT\",\"param\":null}"},
    {"POST", SERVO_PATH, description},
    {"POST", SERVO_PATH, "{\"event\":\"WHATS_NEXT\",\"param\":null}"},
    {"POST", SERVO_PATH, measurement},
    {"POST", SERVO_PATH, "{\"event\":\"WHATS_NEXT\",\"param\":null}"},
    {"GET", "/accounts/org/applications/app/trials", NULL},
    {"GET", "/metrics", NULL},
};

#define STEPS (sizeof session / sizeof session[0])

static struct server_settings *settings;
static struct yaml_documents docs;

/* What the session must answer, recorded by the run without failure: each reply's status and
 * command. The cmd_uids are random, so the bodies are not compared whole. */
static char expected[STEPS][64];
static bool recording;

static char *with_uid(const char *body, const char *uid)
{
    struct strbuf sb;
    strbuf_init(&sb);
    const char *at;
    while ((at = strstr(body, "@UID@")) != NULL) {
        strbuf_add(&sb, body, (size_t)(at - body));
        strbuf_puts(&sb, uid);
        body = at + 5;
    }
    strbuf_puts(&sb, body);
    return strbuf_detach(&sb);
}

/* "200 MEASURE", "200 -" (a reply without a command) or, for the metrics, "200 text". */
static void summarize(const struct server_response *r, const char *path, char *summary, size_t size,
                      char *uid, size_t uid_size)
{
    if (strcmp(path, "/metrics") == 0) {
        snprintf(summary, size, "%d %s", r->status,
                 strstr(r->body, "servo_optimizer_trials") != NULL ? "text" : "?");
        return;
    }
    json_t *reply = json_loads(r->body, 0, NULL);
    const char *cmd = json_string_value(json_object_get(reply, "cmd"));
    const char *cmd_uid = json_string_value(json_object_get(reply, "cmd_uid"));
    if (cmd_uid != NULL)
        snprintf(uid, uid_size, "%s", cmd_uid);
    size_t trials = json_array_size(json_object_get(reply, "trials"));
    snprintf(summary, size, "%d %s %zu", r->status, cmd != NULL ? cmd : "-", trials);
    json_decref(reply);
}

static int send_step(struct server *server, const struct step *step, char *uid, size_t index,
                     char *why, size_t size)
{
    char *body = step->body != NULL ? with_uid(step->body, uid) : NULL;
    struct server_request request = {.method = step->method,
                                     .path = step->path,
                                     .authorization = "Bearer secret",
                                     .body = body,
                                     .body_length = body != NULL ? strlen(body) : 0};
    struct server_response response = {0};
    server_handle(server, &request, &response);
    free(body);
    if (response.body == NULL) {
        snprintf(why, size, "step %zu: a reply without a body", index);
        return 1;
    }
    int rc = 0;
    if (response.status >= 400) {
        /* a clean error: the status says so, the body says why */
        snprintf(why, size, "step %zu: %d %.300s", index, response.status, response.body);
        rc = -1;
    } else {
        char summary[64];
        summarize(&response, step->path, summary, sizeof summary, uid, 64);
        if (recording)
            snprintf(expected[index], sizeof expected[index], "%s", summary);
        if (strcmp(summary, expected[index]) != 0) {
            snprintf(why, size, "step %zu: \"%s\" instead of \"%s\"", index, summary,
                     expected[index]);
            rc = 1;
        }
    }
    free(response.body);
    return rc;
}

static int session_op(void *context, char *why, size_t size)
{
    (void)context;
    struct server *server = NULL;
    char *error = NULL;
    if (server_create(settings, NULL, &server, &error) != 0) {
        snprintf(why, size, "server_create: %s", error != NULL ? error : "");
        free(error);
        return -1;
    }
    char uid[64] = "";
    int rc = 0;
    for (size_t i = 0; i < STEPS && rc == 0; i++)
        rc = send_step(server, &session[i], uid, i, why, size);
    server_free(server);
    return rc;
}

static void test_server_session(void **state)
{
    (void)state;
    char why[512] = "";
    recording = true;
    if (session_op(NULL, why, sizeof why) != 0)
        fail_msg("the reference session failed: %s", why);
    recording = false;
    /* the session reached what it means to cover: the baseline measured, an ADJUST sent */
    assert_string_equal(expected[1], "200 DESCRIBE 0");
    assert_string_equal(expected[3], "200 MEASURE 0");
    assert_string_equal(expected[5], "200 ADJUST 0");
    assert_string_equal(expected[6], "200 - 2");
    struct torture_stats stats;
    alloc_torture("optimizer session", session_op, NULL, &stats);
    assert_true(stats.allocations > 1000);
}

static int setup(void **state)
{
    (void)state;
    log_set_level(SERVO_LOG_CRITICAL);
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load(config_text, strlen(config_text), "optimizer.yaml", &docs, &diags) == 0)
        settings = settings_load(&server_settings_schema, docs.items[0], "", NULL, &diags);
    int rc = settings != NULL ? 0 : -1;
    if (rc != 0)
        diags_print(&diags, stderr, "setup: ");
    diags_free(&diags);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    settings_free(&server_settings_schema, settings);
    yaml_documents_free(&docs);
    return 0;
}

int main(int argc, char **argv)
{
    alloc_fail_install();
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
