// SPDX-License-Identifier: Apache-2.0
/* The HTTP engine (servo/http.h) against a real local server (tests/tools/http_server.py):
 * methods, headers, bodies, authentication, keep-alive, requests at once, streaming, the size
 * limit, status errors, connect errors, TLS (a self-signed CA made with openssl, client
 * certificates), proxies and NO_PROXY, the read and total timeouts (a trickling server),
 * cancellation mid-transfer, deadlines, credentials kept out of messages; the URL parser;
 * the module loader's error. */
#include "support.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <jansson.h>

#include "events/cancel.h"
#include "http/http_internal.h"
#include "servo/http.h"
#include "util/module.h"
#include "util/util.h"

#define SERVER SERVO_SOURCE_DIR "/tests/tools/http_server.py"

struct server {
    pid_t pid;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" or https */
};

static int read_port(int fd)
{
    char line[128];
    test_read_line(fd, line, sizeof line, 20);
    return strncmp(line, "listening on ", 13) == 0 ? atoi(line + 13) : 0;
}

static void server_start(struct server *s, const char *const *extra, bool tls)
{
    const char *argv[16] = {"python3", SERVER};
    size_t argc = 2;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    int out[2];
    assert_int_equal(pipe(out), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    s->port = read_port(out[0]);
    close(out[0]);
    assert_true(s->port > 0);
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
}

static void server_stop(struct server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
}

static struct server plain;

static int start_plain(void **state)
{
    (void)state;
    server_start(&plain, NULL, false);
    return 0;
}

static int stop_plain(void **state)
{
    (void)state;
    server_stop(&plain);
    return 0;
}

static char *url_of(const char *path)
{
    return xasprintf("%s%s", plain.base, path);
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

/* The /echo record of a successful request. */
static json_t *echo(struct servo_http_client *client, struct servo_http_request *r)
{
    struct servo_http_response response;
    struct servo_http_error error;
    if (servo_http_perform(client, r, &response, &error) != 0)
        fail_msg("%s", error.message);
    assert_int_equal(response.status, 200);
    assert_non_null(strstr(response.content_type, "application/json"));
    json_t *record = json_loadb(response.body, response.body_length, JSON_ALLOW_NUL, NULL);
    assert_non_null(record);
    servo_http_response_clear(&response);
    return record;
}

static const char *field(json_t *record, const char *key)
{
    return json_string_value(json_object_get(record, key));
}

static const char *header(json_t *record, const char *name)
{
    return json_string_value(json_object_get(json_object_get(record, "headers"), name));
}

/* ---- URLs ------------------------------------------------------------------------------ */

static void test_url_parse(void **state)
{
    (void)state;
    struct servo_url u;
    const char *why = NULL;
    assert_int_equal(servo_url_parse("https://user:pw@Example.com:8443/a?b#c", &u, &why), 0);
    assert_string_equal(u.scheme, "https");
    assert_string_equal(u.host, "Example.com");
    assert_int_equal(u.port, 8443);
    assert_true(u.has_userinfo);
    assert_int_equal(u.path_offset, strlen("https://user:pw@Example.com:8443"));
    assert_int_equal(servo_url_parse("HTTP://[::1]/x", &u, &why), 0);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 80);
    assert_int_equal(servo_url_parse("http://h:/", &u, &why), 0);
    assert_int_equal(u.port, 80);

    static const struct {
        const char *url, *why;
    } bad[] = {
        {"example.com", "missing scheme (expected http:// or https://)"},
        {"ftp://h/x", "the scheme must be http or https"},
        {"https:///nohost", "missing host"},
        {"http://", "missing host"},
        {"http://user@/x", "missing host"},
        {"http://h:99999/", "invalid port (expected a number from 0 to 65535)"},
        {"http://h:8o/", "invalid port (expected a number from 0 to 65535)"},
        {"http://exa mple.com/", "the URL contains a space or a control character"},
        {"http://[::1/", "invalid IPv6 address"},
        {"http://[zz]/", "invalid IPv6 address"},
        {"http://h<x>/", "invalid character in the host name"},
        {"", "the URL is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        if (servo_url_parse(bad[i].url, &u, &why) != -1 || why == NULL ||
            strcmp(why, bad[i].why) != 0)
            fail_msg("%s: expected \"%s\", got \"%s\"", bad[i].url, bad[i].why,
                     why ? why : "(accepted)");
    }
}

static void test_url_redact_and_escape(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"http://user:s3cret@h/x", "http://user:***@h/x"},
        {"http://user@h/x", "http://user@h/x"},
        {"http://h/x?user:pw@y", "http://h/x?user:pw@y"},
        {"https://a:b:c@h:1/", "https://a:***@h:1/"},
        {"not a url", "not a url"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *redacted = servo_url_redact(cases[i][0]);
        assert_string_equal(redacted, cases[i][1]);
        free(redacted);
    }
    char *escaped = servo_url_escape("rate(x{a=\"b c\"}[1m])/2~_.-");
    assert_string_equal(escaped, "rate%28x%7Ba%3D%22b%20c%22%7D%5B1m%5D%29%2F2~_.-");
    free(escaped);
}

/* ---- requests -------------------------------------------------------------------------- */

static void test_methods_headers_and_bodies(void **state)
{
    (void)state;
    struct servo_http_options options = {.user_agent = "test-agent/1"};
    struct servo_http_client *client = servo_http_client_new(&options, NULL);
    char *url = url_of("/echo?q=1");
    const char *headers[] = {"X-Test: yes", "Content-Type: text/plain", NULL};
    struct servo_http_request r = {.url = url, .headers = headers, .bearer_token = "tok"};
    json_t *record = echo(client, &r);
    assert_string_equal(field(record, "method"), "GET");
    assert_string_equal(field(record, "path"), "/echo?q=1");
    assert_string_equal(header(record, "x-test"), "yes");
    assert_string_equal(header(record, "user-agent"), "test-agent/1");
    assert_string_equal(header(record, "authorization"), "Bearer tok");
    json_decref(record);

    r = (struct servo_http_request){.method = "POST", .url = url, .body = "a\0b", .body_length = 3};
    record = echo(client, &r);
    assert_string_equal(field(record, "method"), "POST");
    assert_int_equal(json_string_length(json_object_get(record, "body")), 3);
    assert_null(header(record, "expect")); /* no 100-continue round trip */
    json_decref(record);

    r = (struct servo_http_request){.method = "PUT", .url = url};
    record = echo(client, &r);
    assert_string_equal(header(record, "content-length"), "0");
    json_decref(record);

    r = (struct servo_http_request){
        .method = "DELETE", .url = url, .username = "ann", .password = "pw"};
    record = echo(client, &r);
    assert_string_equal(field(record, "method"), "DELETE");
    assert_string_equal(header(record, "authorization"), "Basic YW5uOnB3");
    json_decref(record);

    struct servo_http_response response;
    struct servo_http_error error;
    r = (struct servo_http_request){.method = "HEAD", .url = url};
    assert_int_equal(servo_http_perform(client, &r, &response, &error), 0);
    assert_int_equal(response.status, 200);
    assert_int_equal(response.body_length, 0);
    servo_http_response_clear(&response);
    free(url);
    servo_http_client_free(client);
}

static void test_keep_alive_and_requests_at_once(void **state)
{
    (void)state;
    struct servo_http_client *client = servo_http_client_new(NULL, NULL);
    char *url = url_of("/echo");
    struct servo_http_request r = {.url = url};
    json_t *first = echo(client, &r);
    json_t *second = echo(client, &r);
    /* the same client port: the same connection */
    assert_int_equal(json_integer_value(json_object_get(first, "client")),
                     json_integer_value(json_object_get(second, "client")));
    json_decref(first);
    json_decref(second);

    char *paths[3] = {url_of("/bytes/10"), url_of("/status/503"), url_of("/echo")};
    struct servo_http_request requests[3];
    for (size_t i = 0; i < 3; i++)
        requests[i] = (struct servo_http_request){.url = paths[i]};
    struct servo_http_response responses[3];
    struct servo_http_error errors[3];
    assert_int_equal(servo_http_perform_all(client, requests, 3, responses, errors), 0);
    assert_int_equal(responses[0].status, 200);
    assert_int_equal(responses[0].body_length, 10);
    assert_int_equal(responses[1].status, 503);
    assert_string_equal(responses[1].body, "status 503");
    assert_int_equal(responses[2].status, 200);
    for (size_t i = 0; i < 3; i++) {
        servo_http_response_clear(&responses[i]);
        free(paths[i]);
    }
    free(url);
    servo_http_client_free(client);

    /* no client: a one-off one */
    url = url_of("/bytes/3");
    struct servo_http_response response;
    r = (struct servo_http_request){.url = url};
    assert_int_equal(servo_http_perform(NULL, &r, &response, NULL), 0);
    assert_string_equal(response.body, "xxx");
    servo_http_response_clear(&response);
    free(url);
}

struct counter {
    size_t bytes, calls, refuse_after;
    struct cancel_token *cancel;
};

static int count_body(void *context, const char *data, size_t length)
{
    struct counter *c = context;
    for (size_t i = 0; i < length; i++)
        assert_true(data[i] == 'x' || data[i] == ' ');
    c->bytes += length;
    c->calls++;
    if (c->cancel != NULL)
        cancel_trigger(c->cancel, "the test said so");
    return c->refuse_after > 0 && c->bytes >= c->refuse_after;
}

static void test_streaming_and_size_limit(void **state)
{
    (void)state;
    struct servo_http_client *client = servo_http_client_new(NULL, NULL);
    char *url = url_of("/bytes/300000");
    struct counter counter = {0};
    struct servo_http_request r = {.url = url, .on_body = count_body, .context = &counter};
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(servo_http_perform(client, &r, &response, &error), 0);
    assert_int_equal(counter.bytes, 300000);
    assert_true(counter.calls > 1); /* in pieces, as they arrived */
    assert_null(response.body);
    assert_int_equal(response.body_length, 300000);
    servo_http_response_clear(&response);

    r = (struct servo_http_request){.url = url, .max_response = 100000};
    assert_int_equal(servo_http_perform(client, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_TOO_LARGE);
    assert_int_equal(response.status, 200);
    char *expected = xasprintf("GET %s: the response is larger than 100000 bytes", url);
    assert_string_equal(error.message, expected);
    free(expected);
    assert_string_equal(servo_http_error_reason(error.kind), "too-large");
    servo_http_response_clear(&response);

    counter = (struct counter){.refuse_after = 1};
    r = (struct servo_http_request){.url = url, .on_body = count_body, .context = &counter};
    assert_int_equal(servo_http_perform(client, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_CALLBACK);
    assert_true(counter.bytes < 300000);
    servo_http_response_clear(&response);
    free(url);
    servo_http_client_free(client);
}

static void test_status_and_connect_errors(void **state)
{
    (void)state;
    char *url = url_of("/status/404");
    struct servo_http_request r = {.url = url};
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(servo_http_perform(NULL, &r, &response, &error), 0);
    assert_int_equal(response.status, 404);
    servo_http_response_clear(&response);
    r.fail_on_status = true;
    assert_int_equal(servo_http_perform(NULL, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_STATUS);
    char *expected = xasprintf("GET %s: HTTP 404", url);
    assert_string_equal(error.message, expected);
    free(expected);
    assert_string_equal(response.body, "status 404");
    servo_http_response_clear(&response);
    free(url);

    /* credentials: the password masked, the token never shown */
    url = xasprintf("http://ann:s3cret-pw@127.0.0.1:%d/x", closed_port());
    r = (struct servo_http_request){.method = "POST", .url = url, .bearer_token = "tok-SECRET-1"};
    assert_int_equal(servo_http_perform(NULL, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_CONNECT);
    assert_string_equal(servo_http_error_reason(error.kind), "connect");
    assert_non_null(strstr(error.message, "POST http://ann:***@127.0.0.1:"));
    assert_non_null(strstr(error.message, ": cannot connect: "));
    assert_null(strstr(error.message, "s3cret-pw"));
    assert_null(strstr(error.message, "tok-SECRET-1"));
    servo_http_response_clear(&response);
    free(url);
}

static void test_invalid_requests(void **state)
{
    (void)state;
    struct servo_http_response response;
    struct servo_http_error error;
    const char *bad_header[] = {"X-A: b\r\nX-Injected: 1", NULL};
    const struct {
        struct servo_http_request request;
        const char *message;
    } cases[] = {
        {{.url = "ftp://h/"}, "GET ftp://h/: invalid URL: the scheme must be http or https"},
        {{.url = "http://u:pw@/x"}, "GET http://u:***@/x: invalid URL: missing host"},
        {{.method = "get", .url = "http://h/"}, "invalid HTTP method \"get\""},
        {{.url = "http://h/", .headers = bad_header},
         "GET http://h/: header 1 is not \"Name: value\" on one line"},
        {{.url = NULL}, "GET: no URL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(servo_http_perform(NULL, &cases[i].request, &response, &error), -1);
        assert_int_equal(error.kind, SERVO_HTTP_ERROR_INVALID);
        assert_string_equal(error.message, cases[i].message);
        servo_http_response_clear(&response);
    }
    struct servo_http_options options = {.ca_file = "/nonexistent/ca.pem"};
    assert_null(servo_http_client_new(&options, &error));
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_INVALID);
    assert_string_equal(error.message, "cannot read the CA file /nonexistent/ca.pem");
}

/* ---- timeouts, cancellation, deadlines ------------------------------------------------- */

static void test_total_timeout_stops_a_trickle(void **state)
{
    (void)state;
    /* 100 bytes, one every 0.1 s: never a stall of the 30 s read timeout */
    char *url = url_of("/trickle/100/0.1");
    struct servo_http_request r = {.url = url, .total_timeout = SERVO_SECOND};
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(servo_http_perform(NULL, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_TIMEOUT);
    assert_string_equal(error.detail, "total");
    assert_non_null(strstr(error.message, "no complete response within 1s (total timeout)"));
    assert_int_equal(response.status, 200);
    assert_true(response.body_length > 0 && response.body_length < 100);
    servo_http_response_clear(&response);
    free(url);
}

static void test_read_timeout(void **state)
{
    (void)state;
    char *url = url_of("/hang");
    struct servo_http_request r = {.url = url, .read_timeout = 300 * SERVO_MILLISECOND};
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(servo_http_perform(NULL, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_TIMEOUT);
    assert_string_equal(error.detail, "read");
    assert_non_null(strstr(error.message, "(read timeout 0.3s)"));
    servo_http_response_clear(&response);
    free(url);
}

static void test_cancel_mid_transfer(void **state)
{
    (void)state;
    /* the body callback cancels the token when the first byte arrives: the transfer, which
     * would take 10 s more, stops with the cancelled error */
    char *url = url_of("/trickle/100/0.1");
    struct cancel_token token;
    cancel_init(&token, NULL, 0);
    struct counter counter = {.cancel = &token};
    struct servo_http_request r = {.url = url, .on_body = count_body, .context = &counter};
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(http_perform_cancellable(NULL, &r, &token, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_CANCELLED);
    assert_string_equal(servo_http_error_reason(error.kind), "cancelled");
    assert_non_null(strstr(error.message, ": cancelled: the test said so"));
    assert_true(counter.bytes >= 1 && counter.bytes < 100);
    servo_http_response_clear(&response);
    cancel_destroy(&token);

    /* a token cancelled before the request: nothing is sent */
    cancel_init(&token, NULL, 0);
    cancel_trigger(&token, "early");
    assert_int_equal(http_perform_cancellable(NULL, &r, &token, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_CANCELLED);
    servo_http_response_clear(&response);
    cancel_destroy(&token);
    free(url);
}

static void test_deadline(void **state)
{
    (void)state;
    char *url = url_of("/hang");
    struct cancel_token token;
    cancel_init(&token, NULL, 0.3);
    struct servo_http_request r = {.url = url};
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(http_perform_cancellable(NULL, &r, &token, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_TIMEOUT);
    assert_string_equal(error.detail, "deadline");
    assert_true(cancel_expired(&token));
    servo_http_response_clear(&response);
    cancel_destroy(&token);
    free(url);
}

/* ---- proxies --------------------------------------------------------------------------- */

static void test_proxy_and_no_proxy(void **state)
{
    (void)state;
    /* the test server as the proxy: it sees the absolute URL of a host that does not exist */
    char *proxy = url_of("");
    struct servo_http_options options = {.proxy = proxy, .no_proxy = ""};
    struct servo_http_client *client = servo_http_client_new(&options, NULL);
    struct servo_http_request r = {.url = "http://servo-test.invalid/echo"};
    json_t *record = echo(client, &r);
    assert_true(json_is_true(json_object_get(record, "proxied")));
    json_decref(record);
    servo_http_client_free(client);

    /* NO_PROXY names the host: straight there, past a proxy that does not answer */
    char *dead = xasprintf("http://127.0.0.1:%d", closed_port());
    options = (struct servo_http_options){.proxy = dead, .no_proxy = "localhost,127.0.0.1"};
    client = servo_http_client_new(&options, NULL);
    char *url = url_of("/echo");
    r = (struct servo_http_request){.url = url};
    record = echo(client, &r);
    assert_true(json_is_false(json_object_get(record, "proxied")));
    json_decref(record);
    servo_http_client_free(client);

    /* without NO_PROXY the dead proxy is used, and the error says so */
    options = (struct servo_http_options){.proxy = dead, .no_proxy = ""};
    client = servo_http_client_new(&options, NULL);
    struct servo_http_response response;
    struct servo_http_error error;
    assert_int_equal(servo_http_perform(client, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_CONNECT);
    servo_http_response_clear(&response);
    servo_http_client_free(client);
    free(url);
    free(dead);
    free(proxy);
}

/* ---- TLS ------------------------------------------------------------------------------- */

static char *pki;

static void make_cert(const char *name, const char *san)
{
    char *command = xasprintf("cd '%s' && openssl req -x509 -newkey ec -pkeyopt "
                              "ec_paramgen_curve:prime256v1 -nodes -keyout %s.key -out %s.crt "
                              "-days 1 -subj /CN=%s -addext subjectAltName=%s >/dev/null 2>&1",
                              pki, name, name, name, san);
    assert_int_equal(system(command), 0);
    free(command);
}

static char *pki_path(const char *file)
{
    return xasprintf("%s/%s", pki, file);
}

static void test_tls(void **state)
{
    (void)state;
    pki = xasprintf("%s/pki", test_scratch_dir());
    char *mkdir = xasprintf("mkdir -p '%s'", pki);
    assert_int_equal(system(mkdir), 0);
    free(mkdir);
    make_cert("server", "IP:127.0.0.1");
    make_cert("client", "DNS:client");
    make_cert("other", "DNS:other");
    char *cert = pki_path("server.crt"), *key = pki_path("server.key");
    char *client_cert = pki_path("client.crt"), *client_key = pki_path("client.key");
    char *other = pki_path("other.crt");
    const char *args[] = {"--cert", cert, "--key", key, "--client-ca", client_cert, NULL};
    struct server tls = {0};
    server_start(&tls, args, true);
    char *url = xasprintf("%s/echo", tls.base);
    struct servo_http_request r = {.url = url};
    struct servo_http_response response;
    struct servo_http_error error;

    /* a CA file and a client certificate from files */
    struct servo_http_options options = {
        .ca_file = cert, .cert_file = client_cert, .key_file = client_key};
    struct servo_http_client *client = servo_http_client_new(&options, &error);
    json_decref(echo(client, &r));
    servo_http_client_free(client);

    /* the same from memory */
    char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL, *why = NULL;
    size_t ca_length = 0, cert_length = 0, key_length = 0;
    assert_int_equal(read_file(cert, 1 << 20, &ca_pem, &ca_length, &why), 0);
    assert_int_equal(read_file(client_cert, 1 << 20, &cert_pem, &cert_length, &why), 0);
    assert_int_equal(read_file(client_key, 1 << 20, &key_pem, &key_length, &why), 0);
    options = (struct servo_http_options){.ca_data = ca_pem,
                                          .ca_data_length = ca_length,
                                          .cert_data = cert_pem,
                                          .cert_data_length = cert_length,
                                          .key_data = key_pem,
                                          .key_data_length = key_length};
    client = servo_http_client_new(&options, &error);
    json_decref(echo(client, &r));
    servo_http_client_free(client);

    /* another CA: the server is not trusted */
    options = (struct servo_http_options){
        .ca_file = other, .cert_file = client_cert, .key_file = client_key};
    client = servo_http_client_new(&options, &error);
    assert_int_equal(servo_http_perform(client, &r, &response, &error), -1);
    assert_int_equal(error.kind, SERVO_HTTP_ERROR_TLS);
    assert_string_equal(error.detail, "untrusted");
    assert_non_null(strstr(error.message, ": TLS: "));
    servo_http_response_clear(&response);
    servo_http_client_free(client);

    /* insecure: not verified, but the client certificate is still needed */
    options = (struct servo_http_options){
        .insecure = true, .cert_file = client_cert, .key_file = client_key};
    client = servo_http_client_new(&options, &error);
    json_decref(echo(client, &r));
    servo_http_client_free(client);

    /* no client certificate: the server refuses the connection */
    options = (struct servo_http_options){.ca_file = cert};
    client = servo_http_client_new(&options, &error);
    assert_int_equal(servo_http_perform(client, &r, &response, &error), -1);
    assert_true(error.kind == SERVO_HTTP_ERROR_TLS || error.kind == SERVO_HTTP_ERROR_TRANSFER);
    servo_http_response_clear(&response);
    servo_http_client_free(client);

    server_stop(&tls);
    free(ca_pem);
    free(cert_pem);
    free(key_pem);
    free(url);
    free(cert);
    free(key);
    free(client_cert);
    free(client_key);
    free(other);
    free(pki);
}

/* ---- the module loader ----------------------------------------------------------------- */

static void test_module_missing(void **state)
{
    (void)state;
    char *error = NULL;
    assert_null(module_load("servo-no-such-module.so", "entry", &error));
    char *expected = xasprintf("the servo module %s/servo-no-such-module.so is not installed",
                               SERVO_BINARY_DIR "/modules");
    assert_non_null(strstr(error, expected));
    assert_non_null(strstr(error, "reinstall the servo"));
    free(expected);
    free(error);
    error = NULL;
    /* a file that is not a shared object: dlopen's reason, with the path */
    const char *corrupt = SERVO_BINARY_DIR "/modules/servo-test-corrupt.so";
    FILE *f = fopen(corrupt, "w");
    assert_non_null(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    assert_null(module_load("servo-test-corrupt.so", "entry", &error));
    unlink(corrupt);
    expected = xasprintf("cannot load the servo module %s: ", corrupt);
    assert_non_null(strstr(error, expected));
    free(expected);
    free(error);
    error = NULL;
    /* a module without the entry */
    assert_null(module_load("servo-http-curl.so", "servo_http_transport_v999", &error));
    assert_non_null(strstr(error, "/modules/servo-http-curl.so is not a module of this servo: "
                                  "it has no \"servo_http_transport_v999\""));
    free(error);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_redact_and_escape),
        cmocka_unit_test(test_methods_headers_and_bodies),
        cmocka_unit_test(test_keep_alive_and_requests_at_once),
        cmocka_unit_test(test_streaming_and_size_limit),
        cmocka_unit_test(test_status_and_connect_errors),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_total_timeout_stops_a_trickle),
        cmocka_unit_test(test_read_timeout),
        cmocka_unit_test(test_cancel_mid_transfer),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_proxy_and_no_proxy),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_module_missing),
    };
    return cmocka_run_group_tests(tests, start_plain, stop_plain);
}
