#include "support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/client.h"
#include "util/log.h"
#include "util/util.h"

#define FAKE_OPTIMIZER SERVO_SOURCE_DIR "/tests/fake_optimizer.py"
#define ENDPOINT_PATH "/accounts/example.com/applications/app/servo"
#define TOKEN "tok-0123456789abcdef"

/* ---- optimizer_endpoint ---------------------------------------------------------------- */

static void test_endpoint_from_id_default_base(void **state)
{
    (void)state;
    struct optimizer_settings o = {.id = "example.com/my-app"};
    char *error = NULL;
    char *url = optimizer_endpoint(&o, &error);
    assert_string_equal(url,
                        "https://api.opsani.com/accounts/example.com/applications/my-app/servo");
    assert_null(error);
    free(url);
}

static void test_endpoint_base_url_trailing_slashes_stripped(void **state)
{
    (void)state;
    struct optimizer_settings o = {.id = "dev.opsani.com/peer", .base_url = "http://h:8080//"};
    char *error = NULL;
    char *url = optimizer_endpoint(&o, &error);
    assert_string_equal(url, "http://h:8080/accounts/dev.opsani.com/applications/peer/servo");
    free(url);
    o.base_url = "http://h:8080/prefix";
    url = optimizer_endpoint(&o, &error);
    assert_string_equal(url,
                        "http://h:8080/prefix/accounts/dev.opsani.com/applications/peer/servo");
    free(url);
}

static void test_endpoint_id_splits_at_first_slash(void **state)
{
    (void)state;
    struct optimizer_settings o = {.id = "org/app/extra", .base_url = "https://b"};
    char *error = NULL;
    char *url = optimizer_endpoint(&o, &error);
    assert_string_equal(url, "https://b/accounts/org/applications/app/extra/servo");
    free(url);
}

static void test_endpoint_url_overrides_id(void **state)
{
    (void)state;
    struct optimizer_settings o = {.id = "example.com/app", .url = "http://localhost:1234/x/"};
    char *error = NULL;
    char *url = optimizer_endpoint(&o, &error);
    assert_string_equal(url, "http://localhost:1234/x/servo");
    free(url);
    o.url = "http://localhost:1234/x"; /* no trailing slash: one is added (as httpx does) */
    url = optimizer_endpoint(&o, &error);
    assert_string_equal(url, "http://localhost:1234/x/servo");
    free(url);
    o.url = "http://localhost:1234";
    url = optimizer_endpoint(&o, &error);
    assert_string_equal(url, "http://localhost:1234/servo");
    free(url);
}

static void test_endpoint_errors(void **state)
{
    (void)state;
    char *error = NULL;
    assert_null(optimizer_endpoint(NULL, &error));
    assert_non_null(strstr(error, "no optimizer configured"));
    free(error);
    error = NULL;
    struct optimizer_settings empty = {0};
    assert_null(optimizer_endpoint(&empty, &error));
    assert_non_null(error);
    free(error);
    error = NULL;
    struct optimizer_settings bad = {.id = "noslash"};
    assert_null(optimizer_endpoint(&bad, &error));
    assert_non_null(strstr(error, "ORG/APP"));
    free(error);
}

/* ---- optimizer_token ------------------------------------------------------------------- */

static void test_token_inline_is_stripped(void **state)
{
    (void)state;
    struct optimizer_settings o = {.token = "  abc-123\n"};
    char *token = NULL, *error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), 0);
    assert_string_equal(token, "abc-123");
    free(token);
}

static void test_token_blank_inline_is_an_error(void **state)
{
    (void)state;
    struct optimizer_settings o = {.token = " \t "};
    char *token = NULL, *error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), -1);
    assert_null(token);
    assert_non_null(strstr(error, "token cannot be blank"));
    free(error);
}

static void test_token_from_file_with_whitespace(void **state)
{
    (void)state;
    struct optimizer_settings o = {.token_file =
                                       xstrdup(test_write_file("token", "\n  s3cr3t-token \n\n"))};
    char *token = NULL, *error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), 0);
    assert_string_equal(token, "s3cr3t-token");
    free(token);
    free(o.token_file);
}

static void test_token_file_empty_or_blank(void **state)
{
    (void)state;
    const char *texts[] = {"", " \n\t\n"};
    for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
        struct optimizer_settings o = {.token_file = xstrdup(test_write_file("blank", texts[i]))};
        char *token = NULL, *error = NULL;
        assert_int_equal(optimizer_token(&o, &token, &error), -1);
        assert_null(token);
        assert_non_null(strstr(error, "token cannot be blank"));
        free(error);
        free(o.token_file);
    }
}

static void test_token_file_missing(void **state)
{
    (void)state;
    struct optimizer_settings o = {.token_file = "/nonexistent/servo-token"};
    char *token = NULL, *error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), -1);
    assert_null(token);
    assert_non_null(strstr(error, "/nonexistent/servo-token"));
    free(error);
}

static void test_token_file_too_large_or_multiline(void **state)
{
    (void)state;
    char *big = xcalloc(1, 70 * 1024);
    memset(big, 'a', 70 * 1024 - 1);
    struct optimizer_settings o = {.token_file = xstrdup(test_write_file("big", big))};
    char *token = NULL, *error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), -1);
    assert_non_null(strstr(error, "too large"));
    free(error);
    free(o.token_file);
    free(big);
    o.token_file = xstrdup(test_write_file("two-lines", "abc\ndef\n"));
    error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), -1);
    assert_non_null(strstr(error, "line break"));
    free(error);
    free(o.token_file);
}

static void test_token_absent(void **state)
{
    (void)state;
    struct optimizer_settings o = {.id = "example.com/app"};
    char *token = (char *)"sentinel", *error = NULL;
    assert_int_equal(optimizer_token(&o, &token, &error), 0);
    assert_null(token);
    assert_int_equal(optimizer_token(NULL, &token, &error), 0);
    assert_null(token);
}

/* ---- authorization headers ------------------------------------------------------------- */

static void check_header(const char *token, const char *header, const char *redacted)
{
    char *h = authorization_header(token), *r = authorization_header_redacted(token);
    if (header == NULL) {
        assert_null(h);
        assert_null(r);
        return;
    }
    assert_string_equal(h, header);
    assert_string_equal(r, redacted);
    free(h);
    free(r);
}

static void test_authorization_headers(void **state)
{
    (void)state;
    check_header("abc", "Authorization: Bearer abc", "Authorization: Bearer [REDACTED]");
    check_header("Bearer abc", "Authorization: Bearer abc", "Authorization: Bearer [REDACTED]");
    check_header("X-SF-Token xyz", "X-SF-Token: xyz", "X-SF-Token: [REDACTED]");
    check_header("Bearerabc", "Authorization: Bearer Bearerabc",
                 "Authorization: Bearer [REDACTED]");
    check_header(NULL, NULL, NULL);
    check_header("", NULL, NULL);
}

/* ---- backoff --------------------------------------------------------------------------- */

static char *backoff_keys[] = {"__default__", "connect", "zero"};
static struct backoff_settings backoff_values[] = {
    {.max_time = 120 * SERVO_SECOND, .max_tries = 5},
    {.max_time = 3600 * SERVO_SECOND, .max_tries = SERVO_UNSET},
    {.max_time = 0, .max_tries = SERVO_UNSET},
};

static void test_backoff_policy_contexts(void **state)
{
    (void)state;
    struct common_settings s = {0};
    s.backoff = (struct servo_map){.count = 3, .keys = backoff_keys, .values = backoff_values};
    struct backoff_policy p = backoff_policy_for(&s, "connect");
    assert_true(p.max_time == 3600.0);
    assert_int_equal(p.max_tries, 0);
    assert_true(p.base == 1.0 && p.cap == 60.0);
    p = backoff_policy_for(&s, "__default__");
    assert_true(p.max_time == 120.0);
    assert_int_equal(p.max_tries, 5);
    p = backoff_policy_for(&s, "progress"); /* unknown: __default__ */
    assert_true(p.max_time == 120.0);
    assert_int_equal(p.max_tries, 5);
    p = backoff_policy_for(&s, "zero"); /* max_time 0: no retries, not unlimited */
    assert_true(p.max_time > 0 && p.max_time < 1e-6);
}

static void test_backoff_policy_defaults(void **state)
{
    (void)state;
    struct backoff_policy p = backoff_policy_for(NULL, "connect");
    assert_true(p.max_time == 600.0);
    assert_int_equal(p.max_tries, 0);
    struct common_settings s = {0};
    s.backoff =
        (struct servo_map){.count = 1, .keys = backoff_keys + 1, .values = backoff_values + 1};
    p = backoff_policy_for(&s, "other"); /* neither the context nor __default__ */
    assert_true(p.max_time == 600.0);
    assert_int_equal(p.max_tries, 0);
}

static void test_backoff_delay_bounds(void **state)
{
    (void)state;
    struct backoff_policy p = {.max_time = 600, .base = 1, .cap = 60};
    const double uniforms[] = {0.0, 0.25, 0.5, 0.999999, 1.0, -1.0};
    for (unsigned retry = 0; retry < 200; retry++) {
        double ceiling = retry < 6 ? (double)(1u << retry) : 60.0;
        for (size_t i = 0; i < ARRAY_LEN(uniforms); i++) {
            double d = backoff_delay(&p, retry, uniforms[i]);
            assert_true(d >= 0 && d < ceiling);
        }
        assert_true(backoff_delay(&p, retry, 0.5) == ceiling / 2);
    }
    assert_true(backoff_delay(&p, 0, 0.0) == 0.0);
    struct backoff_policy fast = {.base = 0.1, .cap = 0.25};
    assert_true(backoff_delay(&fast, 1, 0.5) == 0.1);
    assert_true(backoff_delay(&fast, 3, 0.5) == 0.125);
}

static void test_backoff_exhausted(void **state)
{
    (void)state;
    struct backoff_policy p = {.max_time = 10, .max_tries = 3, .base = 1, .cap = 60};
    assert_false(backoff_exhausted(&p, 1, 0, 1));
    assert_false(backoff_exhausted(&p, 2, 8.9, 1));
    assert_true(backoff_exhausted(&p, 2, 9.5, 1)); /* the sleep would pass max_time */
    assert_true(backoff_exhausted(&p, 3, 0, 0));   /* max_tries reached */
    struct backoff_policy unlimited = {.base = 1, .cap = 60};
    assert_false(backoff_exhausted(&unlimited, 1000000, 1e9, 60));
}

static void test_user_agent(void **state)
{
    (void)state;
    assert_string_equal(servo_user_agent(),
                        "servo-c/" SERVO_VERSION " (github.com/opsani/servox compatible)");
}

/* ---- the fake optimizer ---------------------------------------------------------------- */

struct fake {
    pid_t pid;
    int port;
    char *log_path;
    char *url;
};

static struct fake fake = {.pid = -1};

static int read_port(int fd)
{
    char line[256];
    test_read_line(fd, line, sizeof line, 20);
    int port = 0;
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on http://", 20) == 0 && colon)
        port = atoi(colon + 1);
    return port;
}

static void fake_start_with(const char *script_json, const char *const *extra)
{
    static int serial;
    char name[64];
    snprintf(name, sizeof name, "script-%d.json", ++serial);
    char *script = xstrdup(test_write_file(name, script_json));
    fake.log_path = xasprintf("%s/requests-%d.jsonl", test_scratch_dir(), serial);
    const char *argv[32] = {"python3", FAKE_OPTIMIZER, "--script", script, "--log", fake.log_path};
    size_t argc = 6;
    for (size_t i = 0; extra && extra[i] && argc < ARRAY_LEN(argv) - 1; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    int out[2];
    assert_int_equal(pipe(out), 0);
    fake.pid = fork();
    assert_true(fake.pid >= 0);
    if (fake.pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    fake.port = read_port(out[0]);
    close(out[0]);
    free(script);
    assert_true(fake.port > 0);
    fake.url = xasprintf("http://127.0.0.1:%d" ENDPOINT_PATH, fake.port);
}

static void fake_start(const char *script_json)
{
    fake_start_with(script_json, NULL);
}

static void fake_stop(void)
{
    if (fake.pid > 0) {
        kill(fake.pid, SIGTERM);
        int status = 0;
        for (int i = 0; i < 100 && waitpid(fake.pid, &status, WNOHANG) == 0; i++)
            usleep(50000);
        if (waitpid(fake.pid, &status, WNOHANG) == 0) {
            kill(fake.pid, SIGKILL);
            waitpid(fake.pid, &status, 0);
        }
    }
    free(fake.log_path);
    free(fake.url);
    fake = (struct fake){.pid = -1};
}

static int teardown_fake(void **state)
{
    (void)state;
    fake_stop();
    log_set_level(SERVO_LOG_INFO);
    unsetenv("HTTP_PROXY");
    unsetenv("NO_PROXY");
    return 0;
}

/* The requests the fake recorded, as a JSON array. */
static json_t *fake_requests(void)
{
    json_t *all = json_array();
    FILE *f = fopen(fake.log_path, "r");
    if (f == NULL)
        return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *record = json_loads(line, 0, NULL);
        assert_non_null(record);
        json_array_append_new(all, record);
    }
    free(line);
    fclose(f);
    return all;
}

static size_t fake_request_count(void)
{
    json_t *all = fake_requests();
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static const char *header_of(json_t *record, const char *name)
{
    return json_string_value(json_object_get(json_object_get(record, "headers"), name));
}

/* Settings with short timeouts: connect 2 s, read and write 5 s. */
static struct common_settings test_settings(void)
{
    struct common_settings s = {0};
    s.timeouts = (struct timeout_settings){.connect = 2 * SERVO_SECOND,
                                           .read = 5 * SERVO_SECOND,
                                           .write = 5 * SERVO_SECOND,
                                           .pool = 5 * SERVO_SECOND};
    s.ssl_verify.verify = true;
    return s;
}

static struct transport *make_transport(const char *url, const char *token,
                                        const struct common_settings *settings)
{
    char *error = NULL;
    struct transport *t = http_transport_create(url, token, settings, &error);
    if (t == NULL)
        fail_msg("http_transport_create: %s", error);
    return t;
}

/* Fast backoff for tests: 20 ms doubling to 100 ms. */
static struct backoff_policy fast_policy(double max_time, long max_tries)
{
    return (struct backoff_policy){
        .max_time = max_time, .max_tries = max_tries, .base = 0.02, .cap = 0.1};
}

static enum post_result post(struct transport *t, const char *uid, const char *event, json_t *param,
                             const struct backoff_policy *p, json_t **reply)
{
    struct client c = {.transport = t, .servo_uid = uid ? xstrdup(uid) : NULL};
    struct cancel_token token;
    cancel_init(&token, NULL, 0);
    enum post_result r = client_post(&c, event, param, p, &token, reply);
    cancel_destroy(&token);
    free(c.servo_uid);
    return r;
}

/* ---- stderr capture -------------------------------------------------------------------- */

static int saved_stderr = -1;
static char *capture_path;

static void capture_start(void)
{
    fflush(stderr);
    free(capture_path);
    capture_path = xasprintf("%s/stderr.txt", test_scratch_dir());
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    saved_stderr = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr; returns what was written (the caller frees). */
static char *capture_stop(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    char *data = NULL, *error = NULL;
    size_t size = 0;
    if (read_file(capture_path, 64 * 1024 * 1024, &data, &size, &error) != 0)
        fail_msg("%s", error);
    return data;
}

/* ---- client_post against the fake ------------------------------------------------------ */

static void test_post_request_json_and_headers(void **state)
{
    (void)state;
    fake_start("[{\"expect\": \"HELLO\", \"reply\": {\"status\": \"ok\"}},"
               " {\"expect\": \"WHATS_NEXT\", \"reply\": {\"cmd\": \"DESCRIBE\", \"param\": {}}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(5, 0);
    json_t *param = json_pack("{s:s, s:{s:f}}", "agent", servo_user_agent(), "telemetry", "x", 1.5);
    json_t *reply = NULL;
    assert_int_equal(post(t, "uid-1", "HELLO", param, &p, &reply), POST_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "status")), "ok");
    json_decref(reply);
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "cmd")), "DESCRIBE");
    json_decref(reply);

    json_t *requests = fake_requests();
    assert_int_equal(json_array_size(requests), 2);
    json_t *hello = json_array_get(requests, 0), *next = json_array_get(requests, 1);
    assert_string_equal(json_string_value(json_object_get(hello, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(hello, "path")), ENDPOINT_PATH);
    assert_string_equal(header_of(hello, "content-type"), "application/json");
    assert_string_equal(header_of(hello, "user-agent"), servo_user_agent());
    assert_string_equal(header_of(hello, "authorization"), "Bearer " TOKEN);
    assert_null(header_of(hello, "expect"));
    json_t *expected =
        json_pack("{s:s, s:O, s:s}", "event", "HELLO", "param", param, "servo_uid", "uid-1");
    assert_true(json_equal(json_object_get(hello, "body"), expected));
    json_decref(expected);
    expected = json_pack("{s:s, s:n, s:n}", "event", "WHATS_NEXT", "param", "servo_uid");
    assert_true(json_equal(json_object_get(next, "body"), expected));
    json_decref(expected);
    /* keep-alive: the second request came on the same connection */
    assert_string_equal(json_string_value(json_object_get(hello, "client")),
                        json_string_value(json_object_get(next, "client")));
    json_decref(requests);
    json_decref(param);
    transport_destroy(t);
}

static void test_post_token_forms_on_the_wire(void **state)
{
    (void)state;
    const char *args[] = {"--token", "X-SF-Token sf-secret", NULL};
    fake_start_with("[]", args);
    struct common_settings s = test_settings();
    struct backoff_policy p = fast_policy(5, 1);
    json_t *reply = NULL;
    struct transport *t = make_transport(fake.url, "X-SF-Token sf-secret", &s);
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_OK);
    json_decref(reply);
    transport_destroy(t);
    t = make_transport(fake.url, "wrong", &s); /* 401: given up at once */
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_REJECTED);
    assert_null(reply);
    transport_destroy(t);
    json_t *requests = fake_requests();
    assert_int_equal(json_array_size(requests), 2);
    json_t *first = json_array_get(requests, 0);
    assert_string_equal(header_of(first, "x-sf-token"), "sf-secret");
    assert_null(header_of(first, "authorization"));
    json_decref(requests);
    fake_stop();

    const char *bearer[] = {"--token", "Bearer already", NULL};
    fake_start_with("[]", bearer);
    t = make_transport(fake.url, "Bearer already", &s);
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_OK);
    json_decref(reply);
    transport_destroy(t);
    requests = fake_requests();
    assert_string_equal(header_of(json_array_get(requests, 0), "authorization"), "Bearer already");
    json_decref(requests);
}

static void test_post_retries_503_burst(void **state)
{
    (void)state;
    fake_start("[{\"expect\": \"WHATS_NEXT\", \"status\": 503, \"repeat\": 3},"
               " {\"expect\": \"WHATS_NEXT\", \"reply\": {\"cmd\": \"SLEEP\", \"param\": {}}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(10, 0);
    json_t *reply = NULL;
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "cmd")), "SLEEP");
    json_decref(reply);
    assert_int_equal(fake_request_count(), 4);
    transport_destroy(t);
}

static void test_post_retries_404(void **state)
{
    (void)state;
    fake_start("[{\"status\": 404, \"repeat\": 2}, {\"reply\": {\"status\": \"ok\"}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(10, 0);
    json_t *reply = NULL;
    assert_int_equal(post(t, NULL, "HELLO", NULL, &p, &reply), POST_OK);
    json_decref(reply);
    assert_int_equal(fake_request_count(), 3);
    transport_destroy(t);
}

static void test_post_max_tries(void **state)
{
    (void)state;
    fake_start("[{\"status\": 500, \"repeat\": 10}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(0, 3);
    json_t *reply = NULL;
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_GAVE_UP);
    assert_null(reply);
    assert_int_equal(fake_request_count(), 3);
    transport_destroy(t);
}

static void test_post_400_rejected_with_body_logged(void **state)
{
    (void)state;
    fake_start("[{\"status\": 400, \"reply\": {\"detail\": \"malformed descriptor xyzzy\"}},"
               " {\"reply\": {\"status\": \"ok\"}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(10, 0);
    json_t *reply = NULL;
    capture_start();
    enum post_result r = post(t, NULL, "DESCRIPTION", NULL, &p, &reply);
    char *log = capture_stop();
    assert_int_equal(r, POST_REJECTED);
    assert_null(reply);
    assert_int_equal(fake_request_count(), 1);
    assert_non_null(strstr(log, "ERROR"));
    assert_non_null(strstr(log, "malformed descriptor xyzzy"));
    assert_non_null(strstr(log, "HTTP 400"));
    free(log);
    transport_destroy(t);
}

/* A 401 or 403 to HELLO is retried (ServoX does: a rotated Secret may put it right), and the
 * log names where the token comes from; to any other event it is not (test above). */
static void test_post_hello_refused_token_is_retried(void **state)
{
    (void)state;
    fake_start("[{\"status\": 401, \"reply\": {\"detail\": \"invalid token\"}},"
               " {\"status\": 403, \"reply\": {\"detail\": \"forbidden\"}},"
               " {\"reply\": {\"status\": \"ok\"}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(10, 0);
    struct client c = {.transport = t, .credentials = "the token of optimizer.token_file /run/t"};
    json_t *reply = NULL;
    capture_start();
    enum post_result r = client_post(&c, "HELLO", NULL, &p, NULL, &reply);
    char *log = capture_stop();
    assert_int_equal(r, POST_OK);
    json_decref(reply);
    assert_int_equal(fake_request_count(), 3);
    assert_non_null(strstr(log, "HELLO failed (HTTP 401: the optimizer refused the token of "
                                "optimizer.token_file /run/t: "));
    assert_non_null(strstr(log, "HELLO failed (HTTP 403: the optimizer refused the token of "
                                "optimizer.token_file /run/t: "));
    assert_non_null(strstr(log, "retrying in"));
    free(log);
    transport_destroy(t);
}

static void test_post_410_gone(void **state)
{
    (void)state;
    fake_start("[{\"status\": 410, \"reply\": {\"detail\": \"unexpected servo_uid\"}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(10, 0);
    json_t *reply = NULL;
    assert_int_equal(post(t, "old-uid", "WHATS_NEXT", NULL, &p, &reply), POST_GONE);
    assert_null(reply);
    assert_int_equal(fake_request_count(), 1);
    transport_destroy(t);
}

static void test_post_survives_garbage(void **state)
{
    (void)state;
    fake_start("[{\"body\": \"garbage\"},"
               " {\"body\": \"{\\\"cmd\\\": \\\"DESCR\"},"
               " {\"body\": \"[1, 2, 3]\"},"
               " {\"body\": \"\"},"
               " {\"body\": \"\\\"just a string\\\"\"},"
               " {\"reply\": {\"cmd\": \"DESCRIBE\", \"param\": {}}, \"truncate\": true},"
               " {\"close\": true},"
               " {\"status\": 502, \"body\": \"<html>bad gateway</html>\"},"
               " {\"reply\": {\"cmd\": \"DESCRIBE\", \"param\": {}}}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(20, 0);
    json_t *reply = NULL;
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_OK);
    assert_string_equal(json_string_value(json_object_get(reply, "cmd")), "DESCRIBE");
    json_decref(reply);
    assert_int_equal(fake_request_count(), 9);
    transport_destroy(t);
}

static void test_post_oversized_reply_is_garbage(void **state)
{
    (void)state;
    size_t big = 9 * 1024 * 1024;
    struct strbuf script;
    strbuf_init(&script);
    strbuf_puts(&script, "[{\"body\": \"");
    char *filler = xcalloc(1, big + 1);
    memset(filler, 'x', big);
    strbuf_puts(&script, filler);
    free(filler);
    strbuf_puts(&script, "\"}, {\"reply\": {\"status\": \"ok\"}}]");
    fake_start(script.data);
    strbuf_release(&script);
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);

    struct exchange x = {0};
    json_t *request = json_pack("{s:s, s:n, s:n}", "event", "WHATS_NEXT", "param", "servo_uid");
    t->exchange(t->context, request, NULL, &x);
    assert_int_equal(x.status, EXCHANGE_OK);
    assert_null(x.reply);
    assert_non_null(strstr(x.error, "larger than 8 MiB"));
    assert_true(strlen(x.body) < 128 * 1024); /* bounded */
    exchange_clear(&x);
    t->exchange(t->context, request, NULL, &x);
    assert_int_equal(x.status, EXCHANGE_OK);
    assert_non_null(x.reply);
    exchange_clear(&x);
    json_decref(request);
    transport_destroy(t);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static void test_post_connection_refused_until_max_time(void **state)
{
    (void)state;
    char *url = xasprintf("http://127.0.0.1:%d" ENDPOINT_PATH, closed_port());
    struct common_settings s = test_settings();
    struct transport *t = make_transport(url, TOKEN, &s);
    struct backoff_policy p = {.max_time = 2, .base = 0.05, .cap = 0.4};
    json_t *reply = NULL;
    double started = clock_monotonic();
    assert_int_equal(post(t, NULL, "HELLO", NULL, &p, &reply), POST_GAVE_UP);
    double elapsed = clock_monotonic() - started;
    assert_null(reply);
    assert_true(elapsed >= 2 - 0.4 - 0.05 && elapsed <= 2.5);

    struct exchange x = {0};
    json_t *request = json_pack("{s:s, s:n, s:n}", "event", "HELLO", "param", "servo_uid");
    t->exchange(t->context, request, NULL, &x);
    assert_int_equal(x.status, EXCHANGE_TRANSPORT);
    assert_int_equal(x.http_status, 0);
    assert_true(strlen(x.error) > 0);
    exchange_clear(&x);
    json_decref(request);
    transport_destroy(t);
    free(url);
}

static void test_post_read_timeout(void **state)
{
    (void)state;
    fake_start("[{\"delay\": 60, \"repeat\": 2}]");
    struct common_settings s = test_settings();
    s.timeouts.read = 1 * SERVO_SECOND;
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(0, 1);
    json_t *reply = NULL;
    double started = clock_monotonic();
    assert_int_equal(post(t, NULL, "WHATS_NEXT", NULL, &p, &reply), POST_GAVE_UP);
    double elapsed = clock_monotonic() - started;
    assert_true(elapsed >= 0.9 && elapsed < 2.0);

    struct exchange x = {0};
    json_t *request = json_pack("{s:s, s:n, s:n}", "event", "WHATS_NEXT", "param", "servo_uid");
    t->exchange(t->context, request, NULL, &x);
    assert_int_equal(x.status, EXCHANGE_TRANSPORT);
    assert_non_null(strstr(x.error, "read timeout"));
    exchange_clear(&x);
    json_decref(request);
    transport_destroy(t);
}

/* An optimizer that sends its reply one byte every 0.3 s (about 12 s for this reply) never
 * stalls for the 2 s read timeout; the whole exchange must still end, after connect + write +
 * read = 4 s. */
static void test_post_total_deadline_stops_a_trickle(void **state)
{
    (void)state;
    fake_start("[{\"expect\": \"WHATS_NEXT\", \"trickle\": 0.3, "
               "\"reply\": {\"cmd\": \"SLEEP\", \"param\": {\"duration\": 1}}}]");
    struct common_settings s = test_settings();
    s.timeouts.connect = 1 * SERVO_SECOND;
    s.timeouts.write = 1 * SERVO_SECOND;
    s.timeouts.read = 2 * SERVO_SECOND;
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct exchange x = {0};
    json_t *request = json_pack("{s:s, s:n, s:n}", "event", "WHATS_NEXT", "param", "servo_uid");
    t->exchange(t->context, request, NULL, &x);
    assert_int_equal(x.status, EXCHANGE_TRANSPORT);
    assert_null(x.reply);
    assert_non_null(strstr(x.error, "no complete response within 4s (total timeout)"));
    exchange_clear(&x);
    json_decref(request);
    transport_destroy(t);
}

struct canceller {
    struct cancel_token *token;
    double after;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    usleep((useconds_t)(c->after * 1e6));
    cancel_trigger(c->token, "test cancel");
    return NULL;
}

static double post_and_cancel(struct transport *t, const struct backoff_policy *p,
                              enum post_result *result)
{
    struct client c = {.transport = t};
    struct cancel_token token;
    cancel_init(&token, NULL, 0);
    struct canceller canceller = {.token = &token, .after = 0.3};
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_later, &canceller);
    json_t *reply = NULL;
    double started = clock_monotonic();
    *result = client_post(&c, "WHATS_NEXT", NULL, p, &token, &reply);
    double elapsed = clock_monotonic() - started;
    pthread_join(thread, NULL);
    cancel_destroy(&token);
    assert_null(reply);
    return elapsed;
}

static void test_cancel_interrupts_request(void **state)
{
    (void)state;
    fake_start("[{\"delay\": 60}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = fast_policy(60, 0);
    enum post_result r;
    double elapsed = post_and_cancel(t, &p, &r);
    assert_int_equal(r, POST_CANCELLED);
    assert_true(elapsed < 0.3 + 0.5);
    transport_destroy(t);
}

static void test_cancel_interrupts_backoff_sleep(void **state)
{
    (void)state;
    fake_start("[{\"status\": 503, \"repeat\": 100}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct backoff_policy p = {.max_time = 600, .base = 30, .cap = 30};
    enum post_result r;
    double elapsed = post_and_cancel(t, &p, &r);
    assert_int_equal(r, POST_CANCELLED);
    assert_true(elapsed < 0.3 + 0.5);
    transport_destroy(t);
}

static void test_cancelled_token_posts_nothing(void **state)
{
    (void)state;
    fake_start("[]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct client c = {.transport = t};
    struct cancel_token token;
    cancel_init(&token, NULL, 0);
    cancel_trigger(&token, "shutdown");
    struct backoff_policy p = fast_policy(5, 0);
    json_t *reply = NULL;
    assert_int_equal(client_post(&c, "WHATS_NEXT", NULL, &p, &token, &reply), POST_CANCELLED);
    cancel_destroy(&token);
    assert_int_equal(fake_request_count(), 0);
    transport_destroy(t);
}

struct concurrent {
    struct transport *t;
    enum post_result result;
};

static void *post_in_thread(void *arg)
{
    struct concurrent *c = arg;
    struct backoff_policy p = fast_policy(10, 0);
    json_t *reply = NULL;
    c->result = post(c->t, NULL, "WHATS_NEXT", NULL, &p, &reply);
    json_decref(reply);
    return NULL;
}

static void test_concurrent_posts_do_not_wait(void **state)
{
    (void)state;
    fake_start("[{\"delay\": 0.6}, {\"delay\": 0.6}]");
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, TOKEN, &s);
    struct concurrent a = {.t = t}, b = {.t = t};
    pthread_t ta, tb;
    double started = clock_monotonic();
    pthread_create(&ta, NULL, post_in_thread, &a);
    pthread_create(&tb, NULL, post_in_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    double elapsed = clock_monotonic() - started;
    assert_int_equal(a.result, POST_OK);
    assert_int_equal(b.result, POST_OK);
    assert_true(elapsed < 1.1);
    transport_destroy(t);
}

static void test_proxy_from_settings(void **state)
{
    (void)state;
    fake_start("[{\"reply\": {\"status\": \"ok\"}}]");
    char *proxy = xasprintf("http://127.0.0.1:%d", fake.port);
    char *keys[] = {"https://", "all://", "http://nowhere.example"};
    char *values[] = {"http://127.0.0.1:1", proxy, "http://127.0.0.1:1"};
    struct common_settings s = test_settings();
    s.proxies = (struct servo_map){.count = 3, .keys = keys, .values = values};
    /* the endpoint's host does not exist: only the proxy (the fake itself) can answer */
    const char *url = "http://optimizer.invalid:8080" ENDPOINT_PATH;
    struct transport *t = make_transport(url, TOKEN, &s);
    struct backoff_policy p = fast_policy(0, 1);
    json_t *reply = NULL;
    assert_int_equal(post(t, NULL, "HELLO", NULL, &p, &reply), POST_OK);
    json_decref(reply);
    json_t *requests = fake_requests();
    assert_string_equal(json_string_value(json_object_get(json_array_get(requests, 0), "path")),
                        url);
    json_decref(requests);
    transport_destroy(t);
    free(proxy);
}

static enum post_result post_hello_via(const char *url, const struct common_settings *s)
{
    struct transport *t = make_transport(url, TOKEN, s);
    struct backoff_policy p = fast_policy(0, 1);
    json_t *reply = NULL;
    enum post_result r = post(t, NULL, "HELLO", NULL, &p, &reply);
    json_decref(reply);
    transport_destroy(t);
    return r;
}

static void test_proxy_from_environment(void **state)
{
    (void)state;
    fake_start("[]");
    char *proxy = xasprintf("http://127.0.0.1:%d", fake.port);
    const char *url = "http://optimizer.invalid:8080" ENDPOINT_PATH;
    struct common_settings s = test_settings();
    setenv("HTTP_PROXY", proxy, 1); /* upper case: libcurl alone would ignore it */
    assert_int_equal(post_hello_via(url, &s), POST_OK);
    setenv("NO_PROXY", "optimizer.invalid", 1);
    assert_int_equal(post_hello_via(url, &s), POST_GAVE_UP); /* direct: no such host */
    char *keys[] = {"all://"};
    char *values[] = {proxy};
    s.proxies = (struct servo_map){.count = 1, .keys = keys, .values = values};
    assert_int_equal(post_hello_via(url, &s), POST_OK); /* settings: NO_PROXY ignored */
    unsetenv("HTTP_PROXY");
    unsetenv("NO_PROXY");
    assert_int_equal(fake_request_count(), 2);
    free(proxy);
}

static void test_transport_create_errors(void **state)
{
    (void)state;
    char *error = NULL;
    assert_null(http_transport_create("not a url", TOKEN, NULL, &error));
    assert_non_null(strstr(error, "invalid optimizer URL"));
    free(error);
    error = NULL;
    assert_null(http_transport_create("ftp://h/servo", TOKEN, NULL, &error));
    assert_non_null(error);
    free(error);
    error = NULL;
    struct common_settings s = test_settings();
    s.ssl_verify.ca_bundle = "/nonexistent/ca.pem";
    assert_null(http_transport_create("https://h/servo", TOKEN, &s, &error));
    assert_non_null(strstr(error, "/nonexistent/ca.pem"));
    free(error);
    struct transport *t = http_transport_create("https://h/servo", NULL, NULL, &error);
    assert_non_null(t);
    transport_destroy(t);
}

static void test_token_never_logged_at_trace(void **state)
{
    (void)state;
    const char *secret = "sekrit-9f8e7d6c5b4a";
    const char *args[] = {"--token", secret, NULL};
    fake_start_with("[{\"status\": 503, \"body\": \"echo sekrit-9f8e7d6c5b4a\"},"
                    " {\"reply\": {\"cmd\": \"SLEEP\", \"echo\": \"sekrit-9f8e7d6c5b4a\"}},"
                    " {\"status\": 403, \"body\": \"denied for sekrit-9f8e7d6c5b4a\"}]",
                    args);
    struct common_settings s = test_settings();
    struct transport *t = make_transport(fake.url, secret, &s);
    struct backoff_policy p = fast_policy(10, 0);
    json_t *param = json_pack("{s:s}", "note", "param mentions sekrit-9f8e7d6c5b4a too");
    json_t *reply = NULL;
    log_set_level(SERVO_LOG_TRACE);
    capture_start();
    enum post_result first = post(t, NULL, "WHATS_NEXT", NULL, &p, &reply);
    json_decref(reply);
    enum post_result second = post(t, NULL, "MEASUREMENT", param, &p, &reply);
    char *log = capture_stop();
    log_set_level(SERVO_LOG_INFO);
    assert_int_equal(first, POST_OK);
    assert_int_equal(second, POST_REJECTED);
    assert_non_null(strstr(log, "curl -X POST"));
    assert_non_null(strstr(log, "-H 'Authorization: Bearer [REDACTED]'"));
    assert_non_null(strstr(log, "HTTP 503"));
    assert_non_null(strstr(log, "denied for [REDACTED]"));
    assert_null(strstr(log, secret));
    free(log);
    json_decref(param);
    transport_destroy(t);
}

int main(void)
{
    /* requests to the local fake must not go through a proxy from the environment */
    const char *proxy_vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < ARRAY_LEN(proxy_vars); i++)
        unsetenv(proxy_vars[i]);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_from_id_default_base),
        cmocka_unit_test(test_endpoint_base_url_trailing_slashes_stripped),
        cmocka_unit_test(test_endpoint_id_splits_at_first_slash),
        cmocka_unit_test(test_endpoint_url_overrides_id),
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_token_inline_is_stripped),
        cmocka_unit_test(test_token_blank_inline_is_an_error),
        cmocka_unit_test(test_token_from_file_with_whitespace),
        cmocka_unit_test(test_token_file_empty_or_blank),
        cmocka_unit_test(test_token_file_missing),
        cmocka_unit_test(test_token_file_too_large_or_multiline),
        cmocka_unit_test(test_token_absent),
        cmocka_unit_test(test_authorization_headers),
        cmocka_unit_test(test_backoff_policy_contexts),
        cmocka_unit_test(test_backoff_policy_defaults),
        cmocka_unit_test(test_backoff_delay_bounds),
        cmocka_unit_test(test_backoff_exhausted),
        cmocka_unit_test(test_user_agent),
        cmocka_unit_test(test_transport_create_errors),
        cmocka_unit_test_teardown(test_post_request_json_and_headers, teardown_fake),
        cmocka_unit_test_teardown(test_post_token_forms_on_the_wire, teardown_fake),
        cmocka_unit_test_teardown(test_post_retries_503_burst, teardown_fake),
        cmocka_unit_test_teardown(test_post_retries_404, teardown_fake),
        cmocka_unit_test_teardown(test_post_max_tries, teardown_fake),
        cmocka_unit_test_teardown(test_post_400_rejected_with_body_logged, teardown_fake),
        cmocka_unit_test_teardown(test_post_hello_refused_token_is_retried, teardown_fake),
        cmocka_unit_test_teardown(test_post_410_gone, teardown_fake),
        cmocka_unit_test_teardown(test_post_survives_garbage, teardown_fake),
        cmocka_unit_test_teardown(test_post_oversized_reply_is_garbage, teardown_fake),
        cmocka_unit_test_teardown(test_post_connection_refused_until_max_time, teardown_fake),
        cmocka_unit_test_teardown(test_post_read_timeout, teardown_fake),
        cmocka_unit_test_teardown(test_post_total_deadline_stops_a_trickle, teardown_fake),
        cmocka_unit_test_teardown(test_cancel_interrupts_request, teardown_fake),
        cmocka_unit_test_teardown(test_cancel_interrupts_backoff_sleep, teardown_fake),
        cmocka_unit_test_teardown(test_cancelled_token_posts_nothing, teardown_fake),
        cmocka_unit_test_teardown(test_concurrent_posts_do_not_wait, teardown_fake),
        cmocka_unit_test_teardown(test_proxy_from_settings, teardown_fake),
        cmocka_unit_test_teardown(test_proxy_from_environment, teardown_fake),
        cmocka_unit_test_teardown(test_token_never_logged_at_trace, teardown_fake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
