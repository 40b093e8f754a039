/* The prometheus connector without a real Prometheus: the streaming response parser against
 * every recorded response in tests/fixtures/prometheus (exact values, NaN and infinities,
 * empty results, error bodies), fed whole and in every chunking; truncated, malformed and
 * non-JSON input; series ids and annotations; the targets API; SLO fast-fail tables; and the
 * HTTP layer and measure handler against a small fake server in a thread (Prometheus errors,
 * an HTML error page, cut bodies, a server that never answers, authentication headers, the
 * absent policies, fast fail). */
#include "support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "events/bus.h"
#include "util/util.h"

#include "connectors/prometheus/internal.h"
#include "connectors/prometheus/prometheus.h"
#include "connectors/prometheus/response.h"

#define FIXTURES SERVO_FIXTURES "/prometheus"

/* ---- helpers ---------------------------------------------------------------------------- */

static char *read_fixture(const char *name, size_t *length)
{
    char *path = xasprintf("%s/%s", FIXTURES, name);
    char *data = NULL, *error = NULL;
    size_t size = 0;
    if (read_file(path, 64u << 20, &data, &size, &error) != 0)
        fail_msg("cannot read %s: %s", path, error);
    free(path);
    *length = size;
    return data;
}

/* Parses a fixture whole; asserts it parses. */
static void parse_fixture(const char *name, struct prom_response *r)
{
    size_t length;
    char *data = read_fixture(name, &length);
    char *error = NULL;
    int rc = prom_response_parse(data, length, r, &error);
    if (rc != 0)
        fail_msg("%s: %s", name, error);
    free(data);
}

/* Parses text; returns the error (caller frees) or NULL. */
static char *parse_error_of(const char *text, size_t length)
{
    struct prom_response r;
    char *error = NULL;
    int rc = prom_response_parse(text, length, &r, &error);
    prom_response_free(&r);
    if (rc == 0) {
        assert_null(error);
        return NULL;
    }
    assert_non_null(error);
    return error;
}

static void expect_parse_error(const char *text, const char *fragment)
{
    char *error = parse_error_of(text, strlen(text));
    if (error == NULL)
        fail_msg("parsed without error: %s", text);
    if (strstr(error, fragment) == NULL)
        fail_msg("error \"%s\" lacks \"%s\" (input %s)", error, fragment, text);
    free(error);
}

static void expect_point(const struct prom_series *s, size_t i, double time, double value)
{
    assert_true(i < s->point_count);
    assert_true(s->points[i].time == time);
    if (isnan(value))
        assert_true(isnan(s->points[i].value));
    else
        assert_true(s->points[i].value == value);
}

static void expect_label(const struct prom_series *s, const char *name, const char *value)
{
    const char *found = prom_series_label(s, name);
    if (value == NULL) {
        assert_null(found);
        return;
    }
    assert_non_null(found);
    assert_string_equal(found, value);
}

static bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Two parses of the same body gave the same response. */
static void expect_same_response(const struct prom_response *a, const struct prom_response *b)
{
    assert_true(same_text(a->status, b->status));
    assert_true(same_text(a->error_type, b->error_type));
    assert_true(same_text(a->error, b->error));
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->has_value, b->has_value);
    assert_true(same_double(a->value.time, b->value.time));
    assert_true(same_double(a->value.value, b->value.value));
    assert_true(same_text(a->string_value, b->string_value));
    assert_int_equal(a->warning_count, b->warning_count);
    assert_int_equal(a->series_count, b->series_count);
    for (size_t i = 0; i < a->series_count; i++) {
        const struct prom_series *x = &a->series[i], *y = &b->series[i];
        assert_int_equal(x->label_count, y->label_count);
        for (size_t j = 0; j < x->label_count; j++) {
            assert_string_equal(x->labels[j].name, y->labels[j].name);
            assert_string_equal(x->labels[j].value, y->labels[j].value);
        }
        assert_int_equal(x->point_count, y->point_count);
        for (size_t j = 0; j < x->point_count; j++) {
            assert_true(same_double(x->points[j].time, y->points[j].time));
            assert_true(same_double(x->points[j].value, y->points[j].value));
        }
    }
}

/* Feeds `data` in chunks of `chunk` bytes; returns the parser's verdict. */
static int parse_in_chunks(const char *data, size_t length, size_t chunk, struct prom_response *r,
                           char **error)
{
    struct prom_parser *p = prom_parser_new(r);
    int rc = 0;
    for (size_t at = 0; at < length && rc == 0; at += chunk) {
        size_t n = length - at < chunk ? length - at : chunk;
        /* a private copy of each chunk: nothing may be read past it or kept from it */
        char *copy = xmalloc(n);
        memcpy(copy, data + at, n);
        rc = prom_parser_feed(p, copy, n);
        free(copy);
    }
    if (rc == 0)
        rc = prom_parser_finish(p);
    *error = rc != 0 ? xstrdup(prom_parser_error(p)) : NULL;
    prom_parser_free(p);
    return rc;
}

/* ---- the recorded responses ------------------------------------------------------------- */

static void test_matrix_fixture(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_range_matrix.json", &r);
    assert_string_equal(r.status, "success");
    assert_int_equal(r.type, PROM_RESULT_MATRIX);
    assert_int_equal(r.series_count, 3);
    static const char *const instances[] = {"a", "b", "c"};
    static const double values[] = {1200, 1180.5, 1150.25};
    static const size_t counts[] = {10, 10, 5};
    static const double first[] = {1795822295, 1795822295, 1795822305};
    for (size_t i = 0; i < 3; i++) {
        const struct prom_series *s = &r.series[i];
        expect_label(s, "__name__", "servo_test_throughput");
        expect_label(s, "instance", instances[i]);
        expect_label(s, "job", "servotest");
        assert_int_equal(s->label_count, 3);
        assert_int_equal(s->point_count, counts[i]);
        for (size_t j = 0; j < counts[i]; j++)
            expect_point(s, j, first[i] + 2.0 * (double)j, values[i]);
    }
    prom_response_free(&r);
}

static void test_nan_fixture(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_range_nan.json", &r);
    assert_int_equal(r.series_count, 2);
    expect_label(&r.series[0], "instance", "mixed");
    expect_label(&r.series[1], "instance", "nan");
    for (size_t j = 0; j < 10; j++) {
        expect_point(&r.series[0], j, 1795822300 + 2.0 * (double)j, j % 2 == 0 ? 0.02 : NAN);
        expect_point(&r.series[1], j, 1795822300 + 2.0 * (double)j, NAN);
    }
    prom_response_free(&r);
}

static void test_rate_fixture(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_range_rate.json", &r);
    assert_int_equal(r.series_count, 1);
    const struct prom_series *s = &r.series[0];
    expect_label(s, "__name__", NULL);
    expect_label(s, "instance", "a");
    assert_int_equal(s->point_count, 10);
    static const char *const texts[] = {
        "50", "37.481259370314845", "37.471896077941544", "50.02501250625312", "50.03752814610959",
        "50", "49.96252810392206",  "49.78839930296242",  "50.03752814610959", "50.21340697966357"};
    for (size_t j = 0; j < 10; j++)
        expect_point(s, j, 1795822300 + 2.0 * (double)j, strtod(texts[j], NULL));
    prom_response_free(&r);
}

static void test_empty_fixtures(void **state)
{
    (void)state;
    static const char *const names[] = {"query_range_empty.json", "query_instant_empty.json",
                                        "query_count_up_before_first_scrape.json"};
    static const enum prom_result_type types[] = {PROM_RESULT_MATRIX, PROM_RESULT_VECTOR,
                                                  PROM_RESULT_VECTOR};
    for (size_t i = 0; i < 3; i++) {
        struct prom_response r;
        parse_fixture(names[i], &r);
        assert_string_equal(r.status, "success");
        assert_int_equal(r.type, types[i]);
        assert_int_equal(r.series_count, 0);
        assert_false(r.has_value);
        prom_response_free(&r);
    }
}

static void test_vector_fixtures(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_instant_vector.json", &r);
    assert_int_equal(r.type, PROM_RESULT_VECTOR);
    assert_int_equal(r.series_count, 3);
    expect_point(&r.series[0], 0, 1795822330.832, 1200);
    expect_point(&r.series[1], 0, 1795822330.832, 1180.5);
    expect_point(&r.series[2], 0, 1795822330.832, 1150.25);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r.series[i].point_count, 1);
    prom_response_free(&r);

    parse_fixture("query_instant_vector_nan.json", &r);
    assert_int_equal(r.series_count, 1);
    expect_label(&r.series[0], "instance", "nan");
    expect_point(&r.series[0], 0, 1795822330.880, NAN);
    prom_response_free(&r);

    parse_fixture("query_instant_vector_up_one_down.json", &r);
    assert_int_equal(r.series_count, 3);
    expect_label(&r.series[2], "instance", "127.0.0.1:19100");
    expect_label(&r.series[2], "job", "node");
    expect_point(&r.series[2], 0, 1795822347.427, 0);
    expect_point(&r.series[0], 0, 1795822347.427, 1);
    prom_response_free(&r);

    parse_fixture("query_instant_vector_up.json", &r);
    for (size_t i = 0; i < 3; i++)
        expect_point(&r.series[i], 0, 1795822330.864, 1);
    prom_response_free(&r);
}

static void test_scalar_fixtures(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_instant_scalar.json", &r);
    assert_int_equal(r.type, PROM_RESULT_SCALAR);
    assert_true(r.has_value);
    assert_int_equal(r.series_count, 0);
    assert_true(r.value.time == 1795822330.912);
    assert_true(r.value.value == 1200);
    assert_string_equal(r.string_value, "1200");
    prom_response_free(&r);

    parse_fixture("query_instant_scalar_nan.json", &r);
    assert_true(r.value.time == 1795822330.924);
    assert_true(isnan(r.value.value));
    prom_response_free(&r);

    parse_fixture("query_instant_scalar_inf.json", &r);
    assert_true(isinf(r.value.value) && r.value.value > 0);
    prom_response_free(&r);
}

static void test_error_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *file, *type, *error;
    } cases[] = {
        {"error_bad_query_400.json", "bad_data",
         "invalid parameter \"query\": 1:40: parse error: unclosed left parenthesis"},
        {"error_bad_timeout_param_400.json", "bad_data",
         "invalid parameter \"timeout\": cannot parse \"1ns\" to a valid duration"},
        {"error_too_many_points_400.json", "bad_data",
         "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query "
         "resolution (?step=XX)"},
        {"error_timeout_503.json", "timeout", "query timed out in query execution"},
        {"error_execution_422.json", "execution",
         "found duplicate series for the match group {job=\"servotest\"} on the right hand-side "
         "of the operation: [{__name__=\"servo_test_throughput\", instance=\"b\", "
         "job=\"servotest\"}, {__name__=\"servo_test_throughput\", instance=\"a\", "
         "job=\"servotest\"}];many-to-many matching not allowed: matching labels must be unique "
         "on one side"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct prom_response r;
        parse_fixture(cases[i].file, &r);
        assert_string_equal(r.status, "error");
        assert_string_equal(r.error_type, cases[i].type);
        assert_string_equal(r.error, cases[i].error);
        assert_int_equal(r.type, PROM_RESULT_NONE);
        prom_response_free(&r);
    }
}

/* Every recorded body, fed in chunks of many sizes, gives what the whole body gives; bodies
 * that are not query responses fail the same way whatever the chunking. */
static void test_every_fixture_in_chunks(void **state)
{
    (void)state;
    DIR *dir = opendir(FIXTURES);
    assert_non_null(dir);
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        bool body = (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0) ||
                    strcmp(e->d_name, "ready.txt") == 0;
        if (!body)
            continue;
        files++;
        size_t length;
        char *data = read_fixture(e->d_name, &length);
        struct prom_response whole;
        char *whole_error = NULL;
        int whole_rc = prom_response_parse(data, length, &whole, &whole_error);
        static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 64, 4096};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            struct prom_response part;
            char *error = NULL;
            int rc = parse_in_chunks(data, length, chunks[c], &part, &error);
            if (rc != whole_rc)
                fail_msg("%s in chunks of %zu: rc %d, whole %d (%s)", e->d_name, chunks[c], rc,
                         whole_rc, error ? error : "");
            if (rc == 0)
                expect_same_response(&whole, &part);
            free(error);
            prom_response_free(&part);
        }
        free(whole_error);
        prom_response_free(&whole);
        free(data);
    }
    closedir(dir);
    assert_true(files >= 20);
}

/* Bodies that are not query responses fail cleanly. */
static void test_non_query_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *file, *fragment;
    } cases[] = {
        {"ready.txt", "unexpected character 'P'"},
        {"buildinfo.json", "no data.resultType"},
        {"targets.json", "no data.resultType"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length;
        char *data = read_fixture(cases[i].file, &length);
        char *error = parse_error_of(data, length);
        assert_non_null(error);
        if (strstr(error, cases[i].fragment) == NULL)
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].file, error, cases[i].fragment);
        free(error);
        free(data);
    }
}

/* ---- bad input -------------------------------------------------------------------------- */

static void test_truncated_everywhere(void **state)
{
    (void)state;
    static const char *const names[] = {"query_range_matrix.json", "query_instant_scalar.json",
                                        "error_bad_query_400.json", "query_range_nan.json"};
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        size_t length;
        char *data = read_fixture(names[f], &length);
        for (size_t cut = 0; cut < length; cut++) {
            char *copy = xmalloc(cut + 1);
            memcpy(copy, data, cut);
            char *error = parse_error_of(copy, cut);
            if (error == NULL)
                fail_msg("%s cut at %zu parsed", names[f], cut);
            bool clear = strstr(error, "truncated") != NULL || strstr(error, "empty") != NULL;
            if (!clear)
                fail_msg("%s cut at %zu: \"%s\"", names[f], cut, error);
            free(error);
            free(copy);
        }
        free(data);
    }
}

static void test_garbage(void **state)
{
    (void)state;
    expect_parse_error("", "the response is empty");
    expect_parse_error("   \n", "the response is empty");
    expect_parse_error("<html><body><h1>502 Bad Gateway</h1></body></html>", "HTML");
    expect_parse_error("<!DOCTYPE html>", "HTML");
    expect_parse_error("[]", "expected a JSON object");
    expect_parse_error("\"success\"", "expected a JSON object");
    expect_parse_error("{}", "no \"status\"");
    expect_parse_error("{\"status\":\"maybe\"}", "unknown status");
    expect_parse_error("{\"status\":1}", "status: expected a string");
    expect_parse_error("{\"status\":\"success\"}", "no data.resultType");
    expect_parse_error("{\"status\":\"success\",\"data\":[]}", "data: expected an object");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"tensor\"}}",
                       "unknown resultType \"tensor\"");
    expect_parse_error(
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":{}}}",
        "data.result: expected an array");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"metric\":{\"a\":1},\"values\":[]}]}}",
                       "a label value: expected a string");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"values\":[[1,\"x\"]]}]}}",
                       "is not a number");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"values\":[[1,2]]}]}}",
                       "a sample must be [time, \"value\"]");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"values\":[[1]]}]}}",
                       "it has 1 elements");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"values\":[[1,\"2\",3]]}]}}",
                       "a sample must be");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"values\":[[\"1\",\"2\"]]}]}}",
                       "a sample must be");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[{\"values\":{}}]}}",
                       "values: expected an array");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                       "[{\"metric\":{}}]}}",
                       "holds series");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
                       "[1,\"2\"]}}",
                       "holds a bare value");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                       "[1,\"many\"]}}",
                       "not a number");
    expect_parse_error("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\"}}",
                       "without [time, value]");
    expect_parse_error("{\"status\":\"success\"}}", "after the end of the response");
    expect_parse_error("{\"status\":\"success\",}", "unexpected '}' after ','");
    expect_parse_error("{\"status\" \"success\"}", "expected ':'");
    expect_parse_error("{\"status\":\"success\" \"x\":1}", "expected ',' or the end");
    expect_parse_error("{\"status\":\"error\"} x", "after the end of the response");
    expect_parse_error("{\"status\":\"error\"}\"", "after the end of the response");
    expect_parse_error("{\"status\":\"error\"} {}", "after the end of the response");
    expect_parse_error("{\"status\":tru}", "an invalid literal");
    expect_parse_error("{\"status\":\"error\",\"x\":01}", "an invalid number");
    expect_parse_error("{\"status\":\"error\",\"x\":1.}", "an invalid number");
    expect_parse_error("{\"status\":\"error\",\"x\":-}", "an invalid number");
    expect_parse_error("{\"status\":\"error\",\"x\":\"a\tb\"}", "a control character");
    expect_parse_error("{\"status\":\"error\",\"x\":\"\\q\"}", "an invalid escape");
    expect_parse_error("{\"status\":\"error\",\"x\":\"\\u12G4\"}", "an invalid \\u escape");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\\u0000\"}", "NUL");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\\ud800\"}", "unpaired");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\\udc00\"}", "unpaired");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\\ud800x\"}", "unpaired");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\xff\"}", "invalid UTF-8");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\xc3\"}", "invalid UTF-8");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\xed\xa0\x80\"}", "invalid UTF-8");
    expect_parse_error("{\"status\":\"error\",\"error\":\"\xc0\xaf\"}", "invalid UTF-8");
    expect_parse_error("\x01", "unexpected byte 0x01");
    expect_parse_error("{\"status\":\"error\",\"x\":[1,2,]}", "unexpected ']' after ','");
    expect_parse_error("{\"status\":\"error\",\"x\":[1 2]}", "expected ',' or the end");
    expect_parse_error("{\"status\":\"error\",\"x\":[1:2]}", "unexpected ':'");
}

static void test_nul_byte_and_offsets(void **state)
{
    (void)state;
    static const char text[] = "{\"status\":\"err\0r\"}";
    char *error = parse_error_of(text, sizeof text - 1);
    assert_non_null(error);
    assert_non_null(strstr(error, "a control character in a string (at byte 14)"));
    free(error);
    error = parse_error_of("{\"status\":\"success\",\"data\":{\"resultType\":\"nope\"}}", 51);
    assert_non_null(strstr(error, "unknown resultType \"nope\" (at byte 41)"));
    free(error);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    struct servo_buf b = {0};
    servo_buf_puts(&b, "{\"status\":\"success\",\"x\":");
    for (int i = 0; i < 100; i++)
        servo_buf_puts(&b, "[");
    expect_parse_error(b.data, "nested deeper than 64 levels");
    servo_buf_free(&b);
    /* 61 levels (of an unknown member) are fine */
    servo_buf_puts(&b, "{\"status\":\"error\",\"x\":");
    for (int i = 0; i < 30; i++)
        servo_buf_puts(&b, "[{\"y\":");
    servo_buf_puts(&b, "null");
    for (int i = 0; i < 30; i++)
        servo_buf_puts(&b, "}]");
    servo_buf_puts(&b, "}");
    assert_null(parse_error_of(b.data, b.length));
    servo_buf_free(&b);
}

static void test_escapes_and_utf8(void **state)
{
    (void)state;
    static const char text[] =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
        "{\"path\":\"/a\\\"b\\\\c\\/d\",\"caf\\u00e9\":\"\\ud83d\\ude00 \xc3\xa9\",\"ctl\":"
        "\"\\b\\f\\n\\r\\t\"},\"value\":[1.5,\"2\"]}]}}";
    struct prom_response r;
    char *error = NULL;
    assert_int_equal(prom_response_parse(text, sizeof text - 1, &r, &error), 0);
    const struct prom_series *s = &r.series[0];
    expect_label(s, "path", "/a\"b\\c/d");
    expect_label(s, "caf\xc3\xa9", "\xf0\x9f\x98\x80 \xc3\xa9");
    expect_label(s, "ctl", "\b\f\n\r\t");
    expect_point(s, 0, 1.5, 2);
    /* the same in one-byte chunks */
    struct prom_response part;
    assert_int_equal(parse_in_chunks(text, sizeof text - 1, 1, &part, &error), 0);
    expect_same_response(&r, &part);
    prom_response_free(&part);
    prom_response_free(&r);
}

/* Keys in any order, unknown members of any shape skipped, warnings kept. */
static void test_member_order_and_unknown_members(void **state)
{
    (void)state;
    static const char text[] =
        "{\"data\":{\"stats\":{\"timings\":[1,2,{\"a\":[true,false,null]}]},\"result\":[{"
        "\"values\":[[10,\"1\"],[20,\"-Inf\"]],\"histograms\":[[1,{\"count\":\"2\"}]],"
        "\"metric\":{\"job\":\"x\"}}],\"resultType\":\"matrix\"},\"warnings\":[\"w1\",7,"
        "\"w2\"],\"infos\":{\"x\":1},\"status\":\"success\"}";
    struct prom_response r;
    char *error = NULL;
    assert_int_equal(prom_response_parse(text, sizeof text - 1, &r, &error), 0);
    assert_int_equal(r.type, PROM_RESULT_MATRIX);
    assert_int_equal(r.series_count, 1);
    expect_label(&r.series[0], "job", "x");
    expect_point(&r.series[0], 0, 10, 1);
    expect_point(&r.series[0], 1, 20, -INFINITY);
    assert_int_equal(r.warning_count, 2);
    assert_string_equal(r.warnings[0], "w1");
    assert_string_equal(r.warnings[1], "w2");
    prom_response_free(&r);
}

static void test_many_warnings(void **state)
{
    (void)state;
    struct servo_buf b = {0};
    servo_buf_puts(&b, "{\"status\":\"success\",\"warnings\":[");
    for (int i = 0; i < 40; i++)
        servo_buf_printf(&b, "%s\"w%d\"", i ? "," : "", i);
    servo_buf_puts(&b, "],\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
    struct prom_response r;
    char *error = NULL;
    assert_int_equal(prom_response_parse(b.data, b.length, &r, &error), 0);
    assert_int_equal(r.warning_count, 40);
    assert_string_equal(r.warnings[PROM_MAX_WARNINGS - 1], "w15");
    prom_response_free(&r);
    servo_buf_free(&b);
}

/* Pretty-printed (white space everywhere) parses like the compact body. */
static void test_white_space_everywhere(void **state)
{
    (void)state;
    static const char *const names[] = {"query_range_matrix.json", "query_range_nan.json",
                                        "query_instant_scalar_inf.json",
                                        "error_execution_422.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t length;
        char *data = read_fixture(names[i], &length);
        json_error_t je;
        json_t *json = json_loadb(data, length, 0, &je);
        assert_non_null(json);
        char *pretty =
            json_dumps(json, JSON_INDENT(3) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        struct prom_response a, b;
        char *error = NULL;
        assert_int_equal(prom_response_parse(data, length, &a, &error), 0);
        assert_int_equal(prom_response_parse(pretty, strlen(pretty), &b, &error), 0);
        expect_same_response(&a, &b);
        prom_response_free(&a);
        prom_response_free(&b);
        free(pretty);
        json_decref(json);
        free(data);
    }
}

static void test_large_label_values(void **state)
{
    (void)state;
    struct servo_buf b = {0};
    servo_buf_puts(&b, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{"
                       "\"metric\":{\"big\":\"");
    for (size_t i = 0; i < 100000; i++)
        servo_buf_puts(&b, "x");
    servo_buf_puts(&b, "\"},\"value\":[1,\"1\"]}]}}");
    struct prom_response r;
    char *error = NULL;
    assert_int_equal(parse_in_chunks(b.data, b.length, 4093, &r, &error), 0);
    assert_int_equal(strlen(prom_series_label(&r.series[0], "big")), 100000);
    prom_response_free(&r);
    servo_buf_free(&b);
}

/* ---- sample values ---------------------------------------------------------------------- */

static void test_value_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double value;
    } good[] = {
        {"0", 0},       {"1200", 1200}, {"1180.5", 1180.5}, {"-0.5", -0.5},       {"+3", 3},
        {"1e+06", 1e6}, {"2E-3", 2e-3}, {"0.02", 0.02},     {"123.456", 123.456}, {"-0", -0.0},
        {"00012", 12},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v;
        if (prom_parse_value(good[i].text, strlen(good[i].text), &v) != 0)
            fail_msg("\"%s\" did not parse", good[i].text);
        assert_true(v == good[i].value);
    }
    double v;
    assert_int_equal(prom_parse_value("NaN", 3, &v), 0);
    assert_true(isnan(v));
    assert_int_equal(prom_parse_value("+Inf", 4, &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(prom_parse_value("Inf", 3, &v), 0);
    assert_true(isinf(v) && v > 0);
    assert_int_equal(prom_parse_value("-Inf", 4, &v), 0);
    assert_true(isinf(v) && v < 0);
    assert_int_equal(prom_parse_value("-0", 2, &v), 0);
    assert_true(signbit(v));
    static const char *const bad[] = {"",    "abc", "1.",    ".5",       "0x10", " 1",
                                      "1 ",  "inf", "nan",   "NAN",      "1e",   "1e+",
                                      "--1", "+-1", "1.2.3", "infinity", "1,5",  "+"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (prom_parse_value(bad[i], strlen(bad[i]), &v) == 0)
            fail_msg("\"%s\" parsed as %g", bad[i], v);
}

/* The fast path agrees with strtod, bit for bit. */
static void test_value_parsing_matches_strtod(void **state)
{
    (void)state;
    static const char *const texts[] = {"37.481259370314845",
                                        "50.02501250625312",
                                        "0.1",
                                        "0.3",
                                        "1795822330.912",
                                        "1795822330.935",
                                        "12345678901234567890",
                                        "9007199254740993",
                                        "9007199254740992",
                                        "1e22",
                                        "1e23",
                                        "4.9406564584124654e-324",
                                        "1.7976931348623157e308",
                                        "2.2250738585072014e-308",
                                        "0.000001",
                                        "123456789012345.678",
                                        "1e-22",
                                        "1e-23",
                                        "8.5",
                                        "3.14159265358979323846"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        double v;
        assert_int_equal(prom_parse_value(texts[i], strlen(texts[i]), &v), 0);
        assert_true(same_double(v, strtod(texts[i], NULL)));
    }
    unsigned seed = 12345;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        double x = (double)(seed >> 8) / (double)(1u << (seed % 24));
        if (i % 3 == 0)
            x = -x * 1e-3;
        char text[64];
        switch (i % 5) {
        case 0:
            snprintf(text, sizeof text, "%.17g", x);
            break;
        case 1:
            snprintf(text, sizeof text, "%.15g", x);
            break;
        case 2:
            snprintf(text, sizeof text, "%.6f", x);
            break;
        case 3:
            snprintf(text, sizeof text, "%.3f", x);
            break;
        default:
            snprintf(text, sizeof text, "%g", x);
            break;
        }
        double v;
        if (prom_parse_value(text, strlen(text), &v) != 0 || !same_double(v, strtod(text, NULL)))
            fail_msg("\"%s\": %.17g vs %.17g", text, v, strtod(text, NULL));
    }
}

/* ---- series into readings --------------------------------------------------------------- */

static void test_series_ids_and_annotations(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_range_matrix.json", &r);
    char *id = prom_series_id(&r.series[0], false);
    assert_string_equal(id, "{instance=a,job=servotest}");
    free(id);
    id = prom_series_id(&r.series[0], true);
    assert_string_equal(id, "{__name__=servo_test_throughput,instance=a,job=servotest}");
    free(id);
    char *annotation = prom_series_annotation(&r.series[1]);
    assert_string_equal(annotation, "__name__=servo_test_throughput instance=b job=servotest");
    free(annotation);
    prom_response_free(&r);

    parse_fixture("query_range_rate.json", &r);
    id = prom_series_id(&r.series[0], false);
    assert_string_equal(id, "{instance=a,job=servotest}");
    free(id);
    annotation = prom_series_annotation(&r.series[0]);
    assert_string_equal(annotation, "instance=a job=servotest");
    free(annotation);
    prom_response_free(&r);

    static const char empty[] = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
                                "\"result\":[{\"metric\":{},\"values\":[[1,\"0\"]]}]}}";
    char *error = NULL;
    assert_int_equal(prom_response_parse(empty, sizeof empty - 1, &r, &error), 0);
    id = prom_series_id(&r.series[0], false);
    assert_string_equal(id, "{}");
    free(id);
    assert_null(prom_series_annotation(&r.series[0]));
    prom_response_free(&r);
}

static void test_readings(void **state)
{
    (void)state;
    struct prometheus_metric metric = {.name = "throughput", .unit = PROMETHEUS_UNIT_RPS};
    struct prom_response r;
    parse_fixture("query_range_matrix.json", &r);
    struct servo_point *points = r.series[2].points;
    struct servo_measurement *m = servo_measurement_new();
    prom_add_readings(m, &metric, &r);
    assert_int_equal(m->reading_count, 3);
    assert_string_equal(m->readings[2].id, "{instance=c,job=servotest}");
    assert_string_equal(m->readings[2].unit, "rps");
    assert_string_equal(m->readings[2].metric, "throughput");
    assert_ptr_equal(m->readings[2].points, points); /* moved, not copied */
    assert_null(r.series[2].points);
    assert_int_equal(m->readings[2].point_count, 5);
    prom_response_free(&r);

    /* two series that differ only by __name__ keep it in their ids */
    static const char two[] =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
        "{\"metric\":{\"__name__\":\"a\",\"job\":\"j\"},\"values\":[[1,\"1\"]]},"
        "{\"metric\":{\"__name__\":\"b\",\"job\":\"j\"},\"values\":[[1,\"2\"]]}]}}";
    char *error = NULL;
    assert_int_equal(prom_response_parse(two, sizeof two - 1, &r, &error), 0);
    prom_add_readings(m, &metric, &r);
    assert_string_equal(m->readings[3].id, "{__name__=a,job=j}");
    assert_string_equal(m->readings[4].id, "{__name__=b,job=j}");
    prom_response_free(&r);

    /* a scalar result is a data point */
    parse_fixture("query_instant_scalar.json", &r);
    prom_add_readings(m, &metric, &r);
    assert_true(m->readings[5].scalar);
    assert_true(m->readings[5].points[0].value == 1200);
    prom_response_free(&r);
    servo_measurement_free(m);
}

static void test_query_text_and_numbers(void **state)
{
    (void)state;
    struct prometheus_metric metric = {
        .name = "x", .query = "sum(rate(a[5m]))", .absent = PROMETHEUS_ABSENT_ZERO};
    char *q = prometheus_metric_query(&metric);
    assert_string_equal(q, "(sum(rate(a[5m]))) or on() vector(0)");
    free(q);
    metric.absent = PROMETHEUS_ABSENT_FAIL;
    q = prometheus_metric_query(&metric);
    assert_string_equal(q, "sum(rate(a[5m]))");
    free(q);
    char buf[40];
    prom_format_seconds(1795822295.0, buf);
    assert_string_equal(buf, "1795822295");
    prom_format_seconds(1795822295.1234, buf);
    assert_string_equal(buf, "1795822295.123");
    prom_format_seconds(0.5, buf);
    assert_string_equal(buf, "0.5");
    prom_format_seconds(60, buf);
    assert_string_equal(buf, "60");
    assert_string_equal(prometheus_unit_name(PROMETHEUS_UNIT_PERCENTAGE), "%");
    assert_string_equal(prometheus_unit_name(PROMETHEUS_UNIT_NONE), "");
    assert_string_equal(prometheus_unit_name(99), "");
}

/* ---- targets ---------------------------------------------------------------------------- */

static void test_targets_fixtures(void **state)
{
    (void)state;
    size_t length;
    char *data = read_fixture("targets.json", &length);
    struct prom_targets targets;
    char *error = NULL;
    assert_int_equal(prom_targets_parse(data, length, &targets, &error), 0);
    assert_int_equal(targets.count, 3);
    assert_string_equal(targets.items[0].pool, "node");
    assert_string_equal(targets.items[0].health, "up");
    assert_string_equal(targets.items[0].url, "http://127.0.0.1:19100/metrics");
    assert_string_equal(targets.items[0].global_url, "http://vm:19100/metrics");
    assert_string_equal(targets.items[0].last_error, "");
    assert_true(fabs(targets.items[0].last_scrape_duration - 0.014361183) < 1e-12);
    assert_int_equal(targets.items[0].label_count, 2);
    assert_string_equal(targets.items[0].labels[0].name, "instance");
    assert_string_equal(targets.items[0].labels[1].value, "node");
    prom_targets_free(&targets);
    free(data);

    data = read_fixture("targets_one_down.json", &length);
    assert_int_equal(prom_targets_parse(data, length, &targets, &error), 0);
    assert_string_equal(targets.items[0].health, "down");
    assert_string_equal(targets.items[0].last_error,
                        "Get \"http://127.0.0.1:19100/metrics\": dial tcp 127.0.0.1:19100: "
                        "connect: connection refused");

    /* what the settings expect */
    char *keys[] = {"job"};
    char *values[] = {"node"};
    struct prometheus_target expected = {
        .scrape_pool = "node", .health = PROMETHEUS_HEALTH_UP, .labels = {1, keys, values}};
    assert_true(prom_target_matches(&expected, &targets.items[0]));
    assert_false(prom_target_matches(&expected, &targets.items[1]));
    values[0] = "other";
    assert_false(prom_target_matches(&expected, &targets.items[0]));
    struct prometheus_target any = {.health = -1};
    assert_true(prom_target_matches(&any, &targets.items[2]));
    prom_targets_free(&targets);
    free(data);

    data = read_fixture("error_bad_query_400.json", &length);
    assert_int_equal(prom_targets_parse(data, length, &targets, &error), -1);
    assert_non_null(strstr(error, "'bad_data'"));
    free(error);
    free(data);
    assert_int_equal(prom_targets_parse("<html>", 6, &targets, &error), -1);
    assert_non_null(strstr(error, "not JSON"));
    free(error);
}

/* ---- fast fail -------------------------------------------------------------------------- */

static struct servo_slo_condition condition(const char *metric, double threshold, bool above,
                                            int count, int window)
{
    return (struct servo_slo_condition){.metric = (char *)metric,
                                        .threshold = threshold,
                                        .threshold_multiplier = 1,
                                        .keep_above = above,
                                        .trigger_count = count,
                                        .trigger_window = window,
                                        .slo_metric_minimum = 0.25,
                                        .slo_threshold_minimum = 0.25};
}

static void test_slo_condition_text(void **state)
{
    (void)state;
    struct servo_slo_condition c = condition("latency", 100, false, 1, 1);
    char *text = prom_slo_condition_text(&c);
    assert_string_equal(text, "(latency below 100)");
    free(text);
    c.keep_above = true;
    c.threshold = 0.5;
    c.description = "enough";
    text = prom_slo_condition_text(&c);
    assert_string_equal(text, "(latency above 0.5 -> enough)");
    free(text);
    c.threshold_metric = "throughput";
    c.description = NULL;
    text = prom_slo_condition_text(&c);
    assert_string_equal(text, "(latency above throughput)");
    free(text);
}

static void test_series_scalar(void **state)
{
    (void)state;
    struct prom_response r;
    parse_fixture("query_range_matrix.json", &r);
    bool present;
    double v = prom_series_scalar(r.series, r.series_count, &present);
    assert_true(present);
    assert_true(fabs(v - (1200 + 1180.5 + 1150.25) / 3) < 1e-9);
    prom_response_free(&r);
    parse_fixture("query_range_nan.json", &r);
    v = prom_series_scalar(r.series, r.series_count, &present);
    assert_true(present); /* NaN samples are left out; the all-NaN series counts for nothing */
    assert_true(fabs(v - 0.02) < 1e-12);
    v = prom_series_scalar(&r.series[1], 1, &present);
    assert_false(present);
    assert_true(isnan(v));
    prom_response_free(&r);
    v = prom_series_scalar(NULL, 0, &present);
    assert_false(present);
}

/* One check in a sequence: the metric's value (NAN: not returned) and whether the check
 * should report a violation. */
struct step {
    double value;
    bool violation;
    const char *status;
};

static void run_steps(struct servo_slo_condition c, bool zero_missing, const struct step *steps,
                      size_t count)
{
    struct prom_fast_fail ff;
    prom_fast_fail_init(&ff, &c, 1, zero_missing);
    for (size_t i = 0; i < count; i++) {
        /* NaN: alternately not returned at all and returned as NaN (both are missing) */
        bool present = !isnan(steps[i].value) || i % 2 == 1;
        struct prom_slo_value value = {c.metric, present, steps[i].value};
        char *statuses = NULL, *violation = NULL;
        bool violated =
            prom_fast_fail_check(&ff, &value, 1, 1795822300 + (double)i, &statuses, &violation);
        if (violated != steps[i].violation)
            fail_msg("step %zu (value %g): violation %d, expected %d (%s)", i, steps[i].value,
                     violated, steps[i].violation, statuses);
        assert_true((violation != NULL) == violated);
        char *expected = xasprintf("x1 %s [", steps[i].status);
        if (strncmp(statuses, expected, strlen(expected)) != 0)
            fail_msg("step %zu: statuses \"%s\", expected \"%s...\"", i, statuses, expected);
        free(expected);
        free(statuses);
        free(violation);
    }
    prom_fast_fail_free(&ff);
}

static void test_fast_fail_tables(void **state)
{
    (void)state;
    /* keep below 100, one failure triggers */
    static const struct step one[] = {
        {50, false, "passed"}, {100, false, "passed"}, {100.5, true, "failed"}};
    run_steps(condition("latency", 100, false, 1, 1), false, one, 3);
    /* two failures in a window of three */
    static const struct step window[] = {{500, false, "failed"}, {50, false, "passed"},
                                         {50, false, "passed"},  {500, false, "failed"},
                                         {50, false, "passed"},  {500, true, "failed"}};
    run_steps(condition("latency", 100, false, 2, 3), false, window, 6);
    /* keep above; missing outcomes take a place in the window but never trigger */
    static const struct step above[] = {{5, false, "failed"},
                                        {NAN, false, "missing_metric"},
                                        {5, false, "failed"},
                                        {5, true, "failed"}};
    run_steps(condition("throughput", 10, true, 2, 2), false, above, 4);
    /* treat_zero_as_missing */
    static const struct step zero[] = {{0, false, "missing_metric"}, {20, true, "failed"}};
    run_steps(condition("errors", 10, false, 1, 1), true, zero, 2);
    static const struct step zero_counts[] = {{0, false, "passed"}};
    run_steps(condition("errors", 10, false, 1, 1), false, zero_counts, 1);
}

static void test_fast_fail_threshold_metric(void **state)
{
    (void)state;
    struct servo_slo_condition c = condition("p99", NAN, false, 1, 1);
    c.threshold_metric = "p50";
    c.threshold_multiplier = 2;
    struct prom_fast_fail ff;
    prom_fast_fail_init(&ff, &c, 1, false);
    struct {
        bool p99_present;
        double p99;
        bool p50_present;
        double p50;
        const char *status;
        bool violation;
    } cases[] = {
        {true, 30, false, 0, "missing_threshold", false},
        {true, 30, true, NAN, "missing_threshold", false},
        {true, 0.1, true, 10, "zero_metric", false},
        {true, 30, true, 0.1, "zero_threshold", false},
        {true, 30, true, 20, "passed", false}, /* 30 <= 20 * 2 */
        {true, 40, true, 20, "passed", false}, /* equal passes */
        {true, 41, true, 20, "failed", true},
        {false, 0, true, 20, "missing_metric", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct prom_slo_value values[] = {{"p99", cases[i].p99_present, cases[i].p99},
                                          {"p50", cases[i].p50_present, cases[i].p50}};
        char *statuses = NULL, *violation = NULL;
        bool violated = prom_fast_fail_check(&ff, values, 2, 0, &statuses, &violation);
        char *expected = xasprintf("x1 %s [(p99 below p50)]", cases[i].status);
        if (strcmp(statuses, expected) != 0 || violated != cases[i].violation)
            fail_msg("case %zu: \"%s\" (%d), expected \"%s\"", i, statuses, violated, expected);
        free(expected);
        free(statuses);
        free(violation);
    }
    prom_fast_fail_free(&ff);
}

static void test_fast_fail_messages(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    struct servo_slo_condition conditions[] = {condition("latency", 100, false, 2, 2),
                                               condition("errors", 1, false, 1, 1),
                                               condition("throughput", 10, true, 1, 1)};
    struct prom_fast_fail ff;
    prom_fast_fail_init(&ff, conditions, 3, false);
    struct prom_slo_value values[] = {{"latency", true, 500}, {"throughput", true, 50}};
    char *statuses = NULL, *violation = NULL;
    assert_false(prom_fast_fail_check(&ff, values, 2, 1795822300.5, &statuses, &violation));
    assert_string_equal(statuses, "x1 failed [(latency below 100)], x1 missing_metric [(errors "
                                  "below 1)], x1 passed [(throughput above 10)]");
    assert_null(violation);
    free(statuses);
    values[0].value = 250.5;
    assert_true(prom_fast_fail_check(&ff, values, 2, 1795822301.25, &statuses, &violation));
    assert_string_equal(violation,
                        "SLO violation(s) observed: (latency below 100)[2026-11-27 23:31:40.500000 "
                        "SLO failed metric value 500 was not below threshold value 100, "
                        "2026-11-27 23:31:41.250000 SLO failed metric value 250.5 was not below "
                        "threshold value 100]");
    free(statuses);
    free(violation);
    prom_fast_fail_free(&ff);
}

/* ---- a fake Prometheus ------------------------------------------------------------------ */

enum serve_mode {
    SERVE_WHOLE,       /* status, type, body, Content-Length */
    SERVE_CUT,         /* Content-Length of the whole body, half of it, then close */
    SERVE_CUT_NO_SIZE, /* no Content-Length, half of the body, then close */
    SERVE_HANG,        /* read the request, never answer */
};

struct route {
    const char *match; /* a substring of the request line */
    int status;
    const char *content_type;
    const char *body; /* NULL: a fixture named by `file` */
    const char *file;
    enum serve_mode mode;
};

#define MAX_ROUTES 16
#define MAX_SEEN 64

struct fake_server {
    int fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    struct route routes[MAX_ROUTES];
    size_t route_count;
    pthread_mutex_t lock;
    char *seen[MAX_SEEN]; /* request heads */
    size_t seen_count;
};

static struct fake_server server;

static bool wait_readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) > 0;
}

static char *read_request(int fd)
{
    struct servo_buf b = {0};
    char chunk[4096];
    while (b.length < 65536 && (b.data == NULL || strstr(b.data, "\r\n\r\n") == NULL)) {
        if (!wait_readable(fd, 2000))
            break;
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0)
            break;
        servo_buf_append(&b, chunk, (size_t)n);
    }
    return servo_buf_detach(&b);
}

static void write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        length -= (size_t)n;
    }
}

static void serve(int fd, const struct route *route)
{
    size_t length = 0;
    char *body = route->body != NULL ? xstrdup(route->body) : read_fixture(route->file, &length);
    length = strlen(body);
    char head[512];
    if (route->mode == SERVE_HANG) {
        while (!atomic_load(&server.stop))
            usleep(20000);
    } else if (route->mode == SERVE_CUT_NO_SIZE) {
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n\r\n", route->status,
                 route->content_type);
        write_all(fd, head, strlen(head));
        write_all(fd, body, length / 2);
    } else {
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 route->status, route->content_type, length);
        write_all(fd, head, strlen(head));
        write_all(fd, body, route->mode == SERVE_CUT ? length / 2 : length);
    }
    free(body);
}

static void *server_main(void *unused)
{
    (void)unused;
    while (!atomic_load(&server.stop)) {
        if (!wait_readable(server.fd, 20))
            continue;
        int fd = accept(server.fd, NULL, NULL);
        if (fd < 0)
            continue;
        char *request = read_request(fd);
        pthread_mutex_lock(&server.lock);
        if (server.seen_count < MAX_SEEN)
            server.seen[server.seen_count++] = xstrdup(request);
        const struct route *route = NULL;
        size_t line = strcspn(request, "\r\n");
        for (size_t i = 0; i < server.route_count && route == NULL; i++) {
            char *found = strstr(request, server.routes[i].match);
            if (found != NULL && (size_t)(found - request) < line)
                route = &server.routes[i];
        }
        pthread_mutex_unlock(&server.lock);
        static const struct route missing = {"",   404,        "text/plain", "404 page not found\n",
                                             NULL, SERVE_WHOLE};
        serve(fd, route != NULL ? route : &missing);
        free(request);
        close(fd);
    }
    return NULL;
}

static int start_server(void **state)
{
    (void)state;
    memset(&server, 0, sizeof server);
    pthread_mutex_init(&server.lock, NULL);
    server.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(server.fd >= 0);
    int one = 1;
    setsockopt(server.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(server.fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(server.fd, 64), 0);
    socklen_t size = sizeof address;
    getsockname(server.fd, (struct sockaddr *)&address, &size);
    server.port = ntohs(address.sin_port);
    atomic_store(&server.stop, false);
    assert_int_equal(pthread_create(&server.thread, NULL, server_main, NULL), 0);
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    atomic_store(&server.stop, true);
    pthread_join(server.thread, NULL);
    close(server.fd);
    for (size_t i = 0; i < server.seen_count; i++)
        free(server.seen[i]);
    pthread_mutex_destroy(&server.lock);
    return 0;
}

static void route(const char *match, int status, const char *content_type, const char *body,
                  const char *file, enum serve_mode mode)
{
    pthread_mutex_lock(&server.lock);
    assert_true(server.route_count < MAX_ROUTES);
    server.routes[server.route_count++] =
        (struct route){match, status, content_type, body, file, mode};
    pthread_mutex_unlock(&server.lock);
}

/* Whether some request head contains `text`. */
static bool seen(const char *text)
{
    pthread_mutex_lock(&server.lock);
    bool found = false;
    for (size_t i = 0; i < server.seen_count && !found; i++)
        found = strstr(server.seen[i], text) != NULL;
    pthread_mutex_unlock(&server.lock);
    return found;
}

static struct prometheus_settings fake_settings(void)
{
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", server.port);
    return (struct prometheus_settings){.base_url = url, .timeout = SERVO_SECOND};
}

static struct prom_request range_request(const char *query)
{
    return (struct prom_request){.kind = PROM_REQUEST_RANGE,
                                 .query = query,
                                 .start = 1795822295,
                                 .end = 1795822313,
                                 .step = 2};
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static void test_http_success_and_parameters(void **state)
{
    (void)state;
    route("query=servo_test_throughput", 200, "application/json", NULL, "query_range_matrix.json",
          SERVE_WHOLE);
    struct prometheus_settings s = fake_settings();
    struct prom_request r = range_request("servo_test_throughput");
    assert_int_equal(prom_perform(&s, &r, 1, NULL), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.response.series_count, 3);
    assert_true(seen("GET /api/v1/query_range?query=servo_test_throughput&start=1795822295&"
                     "end=1795822313&step=2 HTTP/1.1"));
    assert_true(seen("Accept: application/json"));
    prom_request_release(&r);
    /* PromQL is URL-encoded */
    struct prom_request q = {.kind = PROM_REQUEST_INSTANT, .query = "absent(x{a=\"b c\"})"};
    prom_perform(&s, &q, 1, NULL);
    assert_true(seen("GET /api/v1/query?query=absent%28x%7Ba%3D%22b%20c%22%7D%29 HTTP/1.1"));
    assert_int_equal(q.status, -1);
    assert_string_equal(q.reason, "http-error");
    assert_non_null(strstr(q.error, "HTTP 404 (text/plain): 404 page not found"));
    prom_request_release(&q);
}

static void test_http_prometheus_errors(void **state)
{
    (void)state;
    route("query=bad", 400, "application/json", NULL, "error_bad_query_400.json", SERVE_WHOLE);
    route("query=slow", 503, "application/json", NULL, "error_timeout_503.json", SERVE_WHOLE);
    struct prometheus_settings s = fake_settings();
    struct prom_request r[] = {range_request("bad"), range_request("slow"),
                               range_request("servo_test_throughput")};
    route("query=servo_test_throughput", 200, "application/json", NULL, "query_range_nan.json",
          SERVE_WHOLE);
    assert_int_equal(prom_perform(&s, r, 3, NULL), 2);
    assert_string_equal(r[0].reason, "query-failed");
    assert_string_equal(r[0].error, "Prometheus query request failed with error 'bad_data': "
                                    "invalid parameter \"query\": 1:40: parse error: unclosed "
                                    "left parenthesis");
    assert_int_equal(r[0].http_status, 400);
    assert_string_equal(r[1].error, "Prometheus query request failed with error 'timeout': query "
                                    "timed out in query execution");
    assert_int_equal(r[2].status, 0);
    assert_int_equal(r[2].response.series_count, 2);
    for (size_t i = 0; i < 3; i++)
        prom_request_release(&r[i]);
}

static void test_http_bad_bodies(void **state)
{
    (void)state;
    route("query=html200", 200, "text/html", "<html>login</html>", NULL, SERVE_WHOLE);
    route("query=html", 502, "text/html",
          "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>",
          NULL, SERVE_WHOLE);
    route("query=cut", 200, "application/json", NULL, "query_range_matrix.json", SERVE_CUT);
    route("query=nosize", 200, "application/json", NULL, "query_range_matrix.json",
          SERVE_CUT_NO_SIZE);
    route("query=garbage", 200, "application/json", "{\"status\":\"success\",\"data\":[}", NULL,
          SERVE_WHOLE);
    route("query=empty", 200, "application/json", "", NULL, SERVE_WHOLE);
    struct prometheus_settings s = fake_settings();
    struct prom_request r[] = {range_request("html"),    range_request("html200"),
                               range_request("cut"),     range_request("nosize"),
                               range_request("garbage"), range_request("empty")};
    assert_int_equal(prom_perform(&s, r, 6, NULL), 6);
    assert_string_equal(r[0].reason, "http-error");
    assert_string_equal(r[0].error, "Prometheus answered /api/v1/query_range with HTTP 502 "
                                    "(text/html): <html> <head><title>502 Bad Gateway</title>"
                                    "</head> <body>nginx</body></html>");
    assert_string_equal(r[1].reason, "invalid-response");
    assert_non_null(strstr(r[1].error, "the body is HTML or XML, not JSON (at byte 0); the body "
                                       "starts with: <html>login</html>"));
    assert_string_equal(r[2].reason, "transfer-failed");
    assert_non_null(strstr(r[2].error, "was cut short"));
    assert_string_equal(r[3].reason, "invalid-response");
    assert_non_null(strstr(r[3].error, "truncated"));
    assert_string_equal(r[4].reason, "invalid-response");
    assert_non_null(strstr(r[4].error, "data: expected an object"));
    assert_non_null(strstr(r[5].error, "the response is empty"));
    for (size_t i = 0; i < 6; i++)
        prom_request_release(&r[i]);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_http_never_answers_and_refused(void **state)
{
    (void)state;
    route("query=hang", 200, "application/json", "{}", NULL, SERVE_HANG);
    struct prometheus_settings s = fake_settings();
    struct prom_request r = range_request("hang");
    double started = now_seconds();
    assert_int_equal(prom_perform(&s, &r, 1, NULL), 1);
    double took = now_seconds() - started;
    assert_true(took >= 0.9 && took < 5);
    assert_string_equal(r.reason, "timeout");
    assert_non_null(strstr(r.error, "did not answer /api/v1/query_range within 1s"));
    prom_request_release(&r);
    atomic_store(&server.stop, true); /* frees the hanging connection */
    pthread_join(server.thread, NULL);
    atomic_store(&server.stop, false);
    pthread_create(&server.thread, NULL, server_main, NULL);

    /* nothing listens there */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&address, sizeof address);
    socklen_t size = sizeof address;
    getsockname(fd, (struct sockaddr *)&address, &size);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(address.sin_port));
    s.base_url = url;
    r = range_request("x");
    assert_int_equal(prom_perform(&s, &r, 1, NULL), 1);
    close(fd);
    assert_string_equal(r.reason, "unreachable");
    assert_non_null(strstr(r.error, "cannot query Prometheus at "));
    prom_request_release(&r);
}

static void test_http_authentication(void **state)
{
    (void)state;
    route("query=auth", 200, "application/json", NULL, "query_range_empty.json", SERVE_WHOLE);
    struct prometheus_settings s = fake_settings();
    s.bearer_token = "s3cret";
    struct prom_request r = range_request("auth");
    assert_int_equal(prom_perform(&s, &r, 1, NULL), 0);
    assert_true(seen("Authorization: Bearer s3cret\r\n"));
    prom_request_release(&r);
    s.bearer_token = NULL;
    s.username = "user";
    s.password = "pass";
    r = range_request("auth");
    assert_int_equal(prom_perform(&s, &r, 1, NULL), 0);
    assert_true(seen("Authorization: Basic dXNlcjpwYXNz\r\n"));
    prom_request_release(&r);
}

/* ---- the connector through the bus ------------------------------------------------------ */

struct instance {
    struct servo_connector connector;
};

static void load_instance(struct instance *in, const char *metrics_and_more)
{
    char *text = xasprintf("prometheus:\n  base_url: http://127.0.0.1:%d\n  timeout: 2s\n%s",
                           server.port, metrics_and_more);
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(text, strlen(text), "<test>", &docs, &diags), 0);
    const struct servo_node *node = servo_node_get(docs.items[0], "prometheus");
    void *settings = settings_load(servo_connector_prometheus.settings, node, "prometheus",
                                   docs.items[0], &diags);
    if (settings == NULL)
        diags_print(&diags, stderr, "prometheus: ");
    assert_non_null(settings);
    diags_free(&diags);
    yaml_documents_free(&docs);
    free(text);
    in->connector = (struct servo_connector){
        .name = "prometheus", .plugin = &servo_connector_prometheus, .settings = settings};
}

static void unload_instance(struct instance *in)
{
    settings_free(servo_connector_prometheus.settings, in->connector.settings);
}

/* Dispatches measure; returns the bus's verdict, the measurement JSON in *json. */
static int measure(struct instance *in, const char *control_json, const char *const *metrics,
                   json_t **json, struct servo_error *error)
{
    struct event_args args;
    event_args_init(&args);
    if (control_json != NULL) {
        json_t *c = json_loads(control_json, 0, NULL);
        char *why = NULL;
        servo_control_free(&args.control);
        if (servo_control_from_json(c, &args.control, &why) != 0)
            fail_msg("control: %s", why);
        json_decref(c);
    }
    size_t count = 0;
    while (metrics != NULL && metrics[count] != NULL)
        count++;
    args.metrics = metrics;
    args.metric_count = count;
    struct bus_outcome out;
    struct bus_options options = {.timeout = 60};
    int rc = bus_dispatch(&in->connector, 1, SERVO_EVENT_MEASURE, &args, &options, &out);
    *json = NULL;
    if (rc == 0) {
        struct servo_measurement *m = bus_outcome_measurement(&out);
        *json = servo_measurement_to_json(m);
        servo_measurement_free(m);
    }
    *error = out.error;
    bus_outcome_free(&out);
    event_args_free(&args);
    return rc;
}

static const char metrics_stanza[] = "  metrics:\n"
                                     "  - {name: throughput, unit: rps, query: thr, step: 2s}\n"
                                     "  - {name: ratio, query: ratio, step: 2s}\n"
                                     "  - {name: gone, query: gone, absent: ignore}\n"
                                     "  - {name: zeroed, query: gone, absent: zero}\n"
                                     "  - {name: warned, query: gone_w, absent: warn}\n"
                                     "  - {name: failing, query: gone_f, absent: fail}\n"
                                     "  - {name: there, query: there_empty, absent: fail}\n";

static void route_measure_fixtures(void)
{
    route("query=thr&", 200, "application/json", NULL, "query_range_matrix.json", SERVE_WHOLE);
    route("query=ratio&", 200, "application/json", NULL, "query_range_nan.json", SERVE_WHOLE);
    route("query=%28gone%29%20or%20on%28%29%20vector%280%29&", 200, "application/json",
          "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
          "\"values\":[[1795822295,\"0\"]]}]}}",
          NULL, SERVE_WHOLE);
    route("query=absent%28gone_", 200, "application/json",
          "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
          "\"value\":[1795822295.5,\"1\"]}]}}",
          NULL, SERVE_WHOLE);
    route("query=absent%28there_empty%29", 200, "application/json", NULL,
          "query_instant_empty.json", SERVE_WHOLE);
    route("query=gone", 200, "application/json", NULL, "query_range_empty.json", SERVE_WHOLE);
    route("query=there_empty", 200, "application/json", NULL, "query_range_empty.json",
          SERVE_WHOLE);
}

static void test_measure_series(void **state)
{
    (void)state;
    route_measure_fixtures();
    struct instance in;
    load_instance(&in, metrics_stanza);
    static const char *const wanted[] = {"throughput", "ratio", "gone", "zeroed", NULL};
    json_t *json;
    struct servo_error error;
    assert_int_equal(measure(&in, "{\"duration\": 0}", wanted, &json, &error), 0);
    char *text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(
                json_object_get(json_object_get(json_object_get(json, "metrics"), "throughput"),
                                "values"),
                2),
            "id")),
        "{instance=c,job=servotest}");
    assert_non_null(strstr(text, "\"throughput\":{\"unit\":\"rps\",\"values\":[{\"annotation\":"
                                 "\"__name__=servo_test_throughput instance=a job=servotest\","
                                 "\"data\":[[1795822295,1200.0],[1795822297,1200.0]"));
    assert_non_null(strstr(text, "\"id\":\"{instance=nan,job=servotest}\""));
    assert_non_null(strstr(text, "[1795822302,\"NaN\"]"));
    assert_non_null(strstr(text, "\"zeroed\":{\"unit\":\"\",\"values\":[{\"data\":[[1795822295,"
                                 "0.0]],\"id\":\"{}\"}]}"));
    assert_null(strstr(text, "\"gone\""));
    free(text);
    json_decref(json);
    /* the queries sent: step in seconds, the zero policy's suffix, no absent() for these */
    assert_true(seen("query=thr&start="));
    assert_true(seen("&step=2 HTTP"));
    assert_true(seen("&step=60 HTTP"));
    assert_false(seen("query=absent%28gone%29"));
    unload_instance(&in);
}

static void test_measure_absent_policies(void **state)
{
    (void)state;
    route_measure_fixtures();
    struct instance in;
    load_instance(&in, metrics_stanza);
    static const char *const warned[] = {"warned", "there", NULL};
    json_t *json;
    struct servo_error error;
    assert_int_equal(measure(&in, NULL, warned, &json, &error), 0);
    char *text = json_dumps(json, JSON_COMPACT);
    assert_string_equal(text, "{\"metrics\":{},\"annotations\":{}}");
    free(text);
    json_decref(json);
    assert_true(seen("query=absent%28gone_w%29"));
    assert_true(seen("query=absent%28there_empty%29"));

    static const char *const failing[] = {"failing", NULL};
    assert_int_equal(measure(&in, NULL, failing, &json, &error), -1);
    assert_int_equal(error.kind, SERVO_ERROR_MEASUREMENT_FAILED);
    assert_string_equal(error.reason, "metric-absent");
    assert_string_equal(error.message, "Required metric 'failing' is absent from Prometheus");
    unload_instance(&in);
}

static void test_measure_failures(void **state)
{
    (void)state;
    route("query=bad", 400, "application/json", NULL, "error_bad_query_400.json", SERVE_WHOLE);
    route("query=fine", 200, "application/json", NULL, "query_range_matrix.json", SERVE_WHOLE);
    struct instance in;
    load_instance(&in, "  metrics:\n  - {name: fine, query: fine}\n  - {name: bad, query: bad}\n");
    json_t *json;
    struct servo_error error;
    assert_int_equal(measure(&in, NULL, NULL, &json, &error), -1);
    assert_string_equal(error.reason, "query-failed");
    assert_string_equal(error.message,
                        "metric \"bad\": Prometheus query request failed with error 'bad_data': "
                        "invalid parameter \"query\": 1:40: parse error: unclosed left "
                        "parenthesis");
    /* asked for metrics of another connector only: nothing is queried */
    static const char *const others[] = {"latency", NULL};
    size_t before = server.seen_count;
    assert_int_equal(measure(&in, "{\"duration\": \"1h\"}", others, &json, &error), 0);
    assert_int_equal(server.seen_count, before);
    json_decref(json);
    unload_instance(&in);
}

static void test_measure_waits_with_progress(void **state)
{
    (void)state;
    route("query=fine", 200, "application/json", NULL, "query_range_matrix.json", SERVE_WHOLE);
    struct instance in;
    load_instance(&in, "  metrics:\n  - {name: fine, query: fine}\n");
    json_t *json;
    struct servo_error error;
    double started = now_seconds();
    assert_int_equal(measure(&in, "{\"warmup\": 0.5, \"duration\": 1}", NULL, &json, &error), 0);
    double took = now_seconds() - started;
    assert_true(took >= 1.45 && took < 5);
    json_decref(json);
    /* the window: start = now + warmup, end = start + duration */
    pthread_mutex_lock(&server.lock);
    const char *request = server.seen[server.seen_count - 1];
    const char *start = strstr(request, "start="), *end = strstr(request, "end=");
    assert_non_null(start);
    assert_non_null(end);
    double s = strtod(start + 6, NULL), e = strtod(end + 4, NULL);
    pthread_mutex_unlock(&server.lock);
    assert_true(fabs(e - s - 1) < 0.002);
    unload_instance(&in);
}

static void test_measure_fast_fail(void **state)
{
    (void)state;
    route("query=latency", 200, "application/json",
          "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":"
          "{\"instance\":\"a\"},\"values\":[[1,\"500\"],[2,\"300\"]]}]}}",
          NULL, SERVE_WHOLE);
    route("query=fine", 200, "application/json", NULL, "query_range_matrix.json", SERVE_WHOLE);
    struct instance in;
    load_instance(&in, "  fast_fail: {period: 300ms}\n  metrics:\n"
                       "  - {name: latency, unit: ms, query: latency, step: 1s}\n"
                       "  - {name: fine, query: fine}\n");
    static const char control[] =
        "{\"duration\": 30, \"userdata\": {\"slo\": {\"conditions\": [{\"metric\": \"latency\", "
        "\"threshold\": 100, \"trigger_count\": 2}]}}}";
    json_t *json;
    struct servo_error error;
    double started = now_seconds();
    assert_int_equal(measure(&in, control, NULL, &json, &error), -1);
    double took = now_seconds() - started;
    assert_true(took >= 0.55 && took < 5);
    assert_int_equal(error.kind, SERVO_ERROR_ABORTED);
    assert_string_equal(error.reason, "slo-violation");
    assert_non_null(strstr(error.message, "SLO violation(s) observed: (latency below 100)["));
    assert_non_null(strstr(error.message, "SLO failed metric value 400 was not below threshold "
                                          "value 100"));
    /* only the metrics the conditions name are queried during the checks */
    assert_false(seen("query=fine"));
    /* disabled: the measurement runs its course */
    unload_instance(&in);
    load_instance(&in, "  fast_fail: {period: 300ms, disabled: 1}\n  metrics:\n"
                       "  - {name: latency, unit: ms, query: latency, step: 1s}\n");
    static const char short_control[] =
        "{\"duration\": 1, \"userdata\": {\"slo\": {\"conditions\": [{\"metric\": \"latency\", "
        "\"threshold\": 100}]}}}";
    assert_int_equal(measure(&in, short_control, NULL, &json, &error), 0);
    json_decref(json);
    unload_instance(&in);
}

static void test_describe_metrics_and_checks(void **state)
{
    (void)state;
    route("/api/v1/targets", 200, "application/json", NULL, "targets_one_down.json", SERVE_WHOLE);
    route("query=fine", 200, "application/json", NULL, "query_range_matrix.json", SERVE_WHOLE);
    route("query=bad", 400, "application/json", NULL, "error_bad_query_400.json", SERVE_WHOLE);
    struct instance in;
    load_instance(&in, "  metrics:\n  - {name: fine, unit: '%', query: fine}\n"
                       "  - {name: bad, query: bad}\n"
                       "  targets:\n  - {scrapePool: node, health: up}\n");
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    struct bus_options options = {.timeout = 30};
    assert_int_equal(bus_dispatch(&in.connector, 1, SERVO_EVENT_DESCRIBE, &args, &options, &out),
                     0);
    struct servo_description *d = bus_outcome_description(&out);
    assert_int_equal(d->metric_count, 2);
    assert_string_equal(d->metrics[0].name, "fine");
    assert_string_equal(d->metrics[0].unit, "%");
    servo_description_free(d);
    bus_outcome_free(&out);

    assert_int_equal(bus_dispatch(&in.connector, 1, SERVO_EVENT_CHECK, &args, &options, &out), 0);
    const json_t *checks = out.results[0].value;
    assert_int_equal(json_array_size(checks), 4);
    static const struct {
        const char *name;
        bool success;
        const char *message;
    } expected[] = {
        {NULL, true, "/api/v1 answered"},
        {"Run query \"fine\"", true, "returned 3 results"},
        {"Run query \"bad\"", false, "'bad_data'"},
        {"Active targets", false, "target (pool node) is down, expected up"},
    };
    for (size_t i = 0; i < 4; i++) {
        const json_t *check = json_array_get(checks, i);
        const char *name = json_string_value(json_object_get(check, "name"));
        const char *message = json_string_value(json_object_get(check, "message"));
        if (expected[i].name != NULL)
            assert_string_equal(name, expected[i].name);
        assert_int_equal(json_is_true(json_object_get(check, "success")), expected[i].success);
        if (message == NULL || strstr(message, expected[i].message) == NULL)
            fail_msg("check %zu: \"%s\" lacks \"%s\"", i, message ? message : "",
                     expected[i].message);
    }
    const char *first = json_string_value(json_object_get(json_array_get(checks, 0), "name"));
    char *url = xasprintf("Connect to \"http://127.0.0.1:%d\"", server.port);
    assert_string_equal(first, url);
    free(url);
    bus_outcome_free(&out);
    event_args_free(&args);
    unload_instance(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_fixture),
        cmocka_unit_test(test_nan_fixture),
        cmocka_unit_test(test_rate_fixture),
        cmocka_unit_test(test_empty_fixtures),
        cmocka_unit_test(test_vector_fixtures),
        cmocka_unit_test(test_scalar_fixtures),
        cmocka_unit_test(test_error_fixtures),
        cmocka_unit_test(test_every_fixture_in_chunks),
        cmocka_unit_test(test_non_query_fixtures),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_nul_byte_and_offsets),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_escapes_and_utf8),
        cmocka_unit_test(test_member_order_and_unknown_members),
        cmocka_unit_test(test_many_warnings),
        cmocka_unit_test(test_white_space_everywhere),
        cmocka_unit_test(test_large_label_values),
        cmocka_unit_test(test_value_parsing),
        cmocka_unit_test(test_value_parsing_matches_strtod),
        cmocka_unit_test(test_series_ids_and_annotations),
        cmocka_unit_test(test_readings),
        cmocka_unit_test(test_query_text_and_numbers),
        cmocka_unit_test(test_targets_fixtures),
        cmocka_unit_test(test_slo_condition_text),
        cmocka_unit_test(test_series_scalar),
        cmocka_unit_test(test_fast_fail_tables),
        cmocka_unit_test(test_fast_fail_threshold_metric),
        cmocka_unit_test(test_fast_fail_messages),
        cmocka_unit_test_setup_teardown(test_http_success_and_parameters, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(test_http_prometheus_errors, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_http_bad_bodies, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_http_never_answers_and_refused, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(test_http_authentication, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_measure_series, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_measure_absent_policies, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_measure_failures, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_measure_waits_with_progress, start_server,
                                        stop_server),
        cmocka_unit_test_setup_teardown(test_measure_fast_fail, start_server, stop_server),
        cmocka_unit_test_setup_teardown(test_describe_metrics_and_checks, start_server,
                                        stop_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
