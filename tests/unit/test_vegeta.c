/* The vegeta connector: the report parser against every recorded report (exact metric
 * values), escape codes stripped from the recorded periodic output, the warmup, RFC 3339
 * times, the load profile, the exact attack command line; then the connector through the
 * event bus with the stand-in tests/tools/vegeta (which replays the real recorded output and
 * refuses any flag not written -flag=value): measure, checks, and every failure (missing
 * binary, exit status, garbage, bad targets, no duration, timeout and cancellation, after
 * which no process of the pipeline survives). */
#include "support.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/diag.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "events/bus.h"
#include "events/cancel.h"
#include "util/util.h"

#include "../../connectors/vegeta/internal.h"

#define FIXTURE(name) SERVO_FIXTURES "/vegeta/" name
#define STANDIN SERVO_TEST_DATA "/../tools/vegeta"

/* ---- helpers ---------------------------------------------------------------------------- */

static char *read_text(const char *path, size_t *size)
{
    char *data = NULL, *error = NULL;
    size_t n = 0;
    if (read_file(path, 1 << 20, &data, &n, &error) != 0)
        fail_msg("%s", error);
    if (size)
        *size = n;
    return data;
}

static void assert_near(double actual, double expected, double tolerance)
{
    if (!(fabs(actual - expected) <= tolerance))
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

static void assert_contains(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", text ? text : "(null)", part);
}

static void assert_starts_with(const char *text, const char *prefix)
{
    if (strncmp(text, prefix, strlen(prefix)) != 0)
        fail_msg("\"%.80s\" does not start with \"%s\"", text, prefix);
}

static void parse_fixture(const char *path, struct vegeta_report *r)
{
    size_t size = 0;
    char *text = read_text(path, &size);
    struct servo_error error;
    if (vegeta_report_parse(text, size, r, &error) != 0)
        fail_msg("%s: %s", path, error.message);
    free(text);
}

static double value(const struct vegeta_report *r, enum vegeta_metric m)
{
    return vegeta_metric_value(r, m);
}

/* ---- the report parser ------------------------------------------------------------------ */

static void test_report_clean(void **state)
{
    (void)state;
    struct vegeta_report r;
    parse_fixture(FIXTURE("report_json_clean.json"), &r);
    assert_int_equal(r.requests, 150);
    assert_true(r.success == 1);
    assert_null(r.errors);
    assert_near(r.end, 1795822361.642808626, 1e-6);
    assert_near(r.earliest, 1795822358.663725972, 1e-6);
    assert_near(r.latest, 1795822361.642512916, 1e-6);
    assert_true(r.duration == 2978786944.0);
    assert_true(r.wait == 295710.0);
    assert_true(r.rate == 50.35606870177017);
    /* exact: throughput x 60, 100 - success x 100, ns / 1e6 */
    assert_true(value(&r, VEGETA_METRIC_THROUGHPUT) == 50.35107025264832 * 60);
    assert_true(value(&r, VEGETA_METRIC_ERROR_RATE) == 0.0);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_TOTAL) == 66.316947);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MEAN) == 0.442112);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_50TH) == 0.358024);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_90TH) == 0.47091);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_95TH) == 0.535406);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_99TH) == 4.210931);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MAX) == 5.740155);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MIN) == 0.267077);
    vegeta_report_free(&r);
}

static void test_report_mixed(void **state)
{
    (void)state;
    struct vegeta_report r;
    parse_fixture(FIXTURE("report_json_mixed.json"), &r);
    assert_int_equal(r.requests, 150);
    assert_true(value(&r, VEGETA_METRIC_THROUGHPUT) == 16.77289278479713 * 60);
    assert_true(value(&r, VEGETA_METRIC_ERROR_RATE) == 100 - 0.3333333333333333 * 100);
    assert_near(value(&r, VEGETA_METRIC_ERROR_RATE), 66.666666666666667, 1e-9);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MEAN) == 0.445065);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_99TH) == 3.888206);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MIN) == 0.192656);
    /* the distinct errors, in first-seen order, Go's \u003e decoded */
    assert_string_equal(r.errors, "500 Internal Server Error; Get "
                                  "\"http://127.0.0.1:18081/refused\": dial tcp "
                                  "0.0.0.0:0->127.0.0.1:18081: connect: connection refused");
    vegeta_report_free(&r);
}

static void test_report_refused_and_timeouts(void **state)
{
    (void)state;
    struct vegeta_report r;
    parse_fixture(FIXTURE("report_json_refused.json"), &r);
    assert_int_equal(r.requests, 10);
    assert_true(value(&r, VEGETA_METRIC_THROUGHPUT) == 0);
    assert_true(value(&r, VEGETA_METRIC_ERROR_RATE) == 100);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MAX) == 3.21482);
    assert_contains(r.errors, "connect: connection refused");
    assert_near(r.end, 1795822429.343969062, 1e-6);
    vegeta_report_free(&r);

    parse_fixture(FIXTURE("report_json_unreachable_timeout.json"), &r);
    assert_true(value(&r, VEGETA_METRIC_ERROR_RATE) == 100);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_TOTAL) == 10006.903174);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MEAN) == 1000.690317);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_50TH) == 1000.590533);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MIN) == 1000.101549);
    assert_true(r.wait == 1000201879.0);
    assert_contains(r.errors, "context deadline exceeded (Client.Timeout exceeded while awaiting "
                              "headers)");
    vegeta_report_free(&r);

    parse_fixture(FIXTURE("report_json_unreachable_dns.json"), &r);
    assert_true(value(&r, VEGETA_METRIC_ERROR_RATE) == 100);
    assert_contains(r.errors, "no such host");
    vegeta_report_free(&r);

    /* -buckets adds "buckets": ignored */
    parse_fixture(FIXTURE("report_json_clean_buckets.json"), &r);
    assert_int_equal(r.requests, 150);
    assert_true(value(&r, VEGETA_METRIC_LATENCY_MEAN) == 0.442112);
    vegeta_report_free(&r);
}

/* Splits `text` into lines (the '\n's replaced by NULs); returns the count. */
static size_t split_lines(char *text, size_t size, char **lines, size_t max)
{
    size_t count = 0;
    char *p = text;
    while (p < text + size && count < max) {
        char *newline = memchr(p, '\n', (size_t)(text + size - p));
        if (newline)
            *newline = '\0';
        lines[count++] = p;
        if (!newline)
            break;
        p = newline + 1;
    }
    return count;
}

static void test_periodic_output_escapes(void **state)
{
    (void)state;
    size_t size = 0;
    char *raw = read_text(FIXTURE("report_json_every1s_stdout.raw"), &size);
    assert_non_null(memchr(raw, '\033', size));
    /* stripping the whole file removes exactly the 4 ESC[2J ESC[0;0H prefixes (8 + 6 bytes) */
    char *copy = xstrdup(raw);
    size_t stripped = vegeta_strip_escapes(copy, size);
    assert_int_equal(stripped, size - 4 * 10);
    assert_null(memchr(copy, '\033', stripped));
    assert_int_equal(strlen(copy), stripped);
    free(copy);

    char *lines[16];
    size_t n = split_lines(raw, size, lines, 16);
    assert_int_equal(n, 5);
    struct vegeta_reports reports = {.warmup_until = -INFINITY};
    static const long long requests[] = {51, 102, 152, 202, 250};
    static const double ends[] = {1795822371.130962936, 1795822372.145249896, 1795822373.14516609,
                                  1795822374.145637274, 1795822375.105462567};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(vegeta_reports_add_line(&reports, lines[i]), VEGETA_LINE_KEPT);
    assert_int_equal(reports.count, 5);
    assert_int_equal(reports.invalid, 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(reports.items[i].requests, requests[i]);
        assert_near(reports.items[i].end, ends[i], 1e-6);
    }
    assert_true(value(&reports.items[0], VEGETA_METRIC_THROUGHPUT) == 50.67341561314268 * 60);
    assert_true(value(&reports.items[4], VEGETA_METRIC_LATENCY_99TH) == 0.860799);
    vegeta_reports_free(&reports);
    free(raw);
}

static void test_warmup_discards_early_reports(void **state)
{
    (void)state;
    size_t size = 0;
    char *raw = read_text(FIXTURE("report_json_every1s_stdout.raw"), &size);
    char *lines[16];
    size_t n = split_lines(raw, size, lines, 16);
    /* the warmup ends exactly when the second report does: that one is kept */
    struct vegeta_reports reports = {.warmup_until = 1795822372.0};
    static const enum vegeta_line expected[] = {VEGETA_LINE_DISCARDED, VEGETA_LINE_KEPT,
                                                VEGETA_LINE_KEPT, VEGETA_LINE_KEPT,
                                                VEGETA_LINE_KEPT};
    assert_int_equal(n, ARRAY_LEN(expected));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vegeta_reports_add_line(&reports, lines[i]), expected[i]);
    assert_int_equal(reports.count, 4);
    assert_int_equal(reports.discarded, 1);
    assert_int_equal(reports.items[0].requests, 102);
    vegeta_reports_free(&reports);

    reports = (struct vegeta_reports){.warmup_until = 1795822374.5};
    for (size_t i = 0; i < n; i++)
        vegeta_reports_add_line(&reports, lines[i]);
    assert_int_equal(reports.count, 1);
    assert_int_equal(reports.discarded, 4);
    assert_int_equal(reports.items[0].requests, 250);

    /* one series per metric, one point per kept report at its end */
    struct servo_measurement *m = servo_measurement_new();
    bool wanted[VEGETA_METRIC_COUNT] = {
        [VEGETA_METRIC_ERROR_RATE] = true, [VEGETA_METRIC_LATENCY_95TH] = true};
    vegeta_add_readings(m, &reports, wanted);
    assert_int_equal(m->reading_count, 2);
    assert_string_equal(m->readings[0].metric, "error_rate");
    assert_string_equal(m->readings[0].unit, "%");
    assert_int_equal(m->readings[0].point_count, 1);
    assert_string_equal(m->readings[1].metric, "latency_95th");
    assert_string_equal(m->readings[1].unit, "ms");
    assert_true(m->readings[1].points[0].value == 0.481907);
    assert_near(m->readings[1].points[0].time, 1795822375.105462567, 1e-6);
    servo_measurement_free(m);
    vegeta_reports_free(&reports);
    free(raw);
}

static void test_strip_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"\033[2J\033[0;0H{}", "{}"},
        {"a\033[1;31mred\033[0m b", "ared b"},
        {"\033]0;title\007x", "x"},
        {"\033]8;;http://x\033\\link\033]8;;\033\\", "link"},
        {"\033(Bplain\033c", "plain"},
        {"line\r", "line"},
        {"tail\033", "tail"},
        {"cut\033[12;", "cut"},
        {"\033[?25lhidden\033[?25h", "hidden"},
        {"µs \xe2\x96\xa0", "µs \xe2\x96\xa0"}, /* UTF-8 untouched */
        {"", ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *text = xstrdup(cases[i].in);
        size_t n = vegeta_strip_escapes(text, strlen(text));
        assert_int_equal(n, strlen(cases[i].out));
        assert_memory_equal(text, cases[i].out, n);
        free(text);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    double t = 0;
    assert_int_equal(vegeta_parse_time("1970-01-01T00:00:00Z", &t), 0);
    assert_true(t == 0);
    assert_int_equal(vegeta_parse_time("2026-11-27T23:32:41.642808626Z", &t), 0);
    assert_near(t, 1795822361.642808626, 1e-6);
    /* vegeta writes the local zone when the machine is not on UTC */
    assert_int_equal(vegeta_parse_time("2026-11-28T00:32:41.642808626+01:00", &t), 0);
    assert_near(t, 1795822361.642808626, 1e-6);
    assert_int_equal(vegeta_parse_time("2026-11-27T18:02:41.5-05:30", &t), 0);
    assert_near(t, 1795822361.5, 1e-6);
    assert_int_equal(vegeta_parse_time("2024-02-29T12:00:00.1234567891234Z", &t), 0);
    assert_near(t, 1709208000.123456789, 1e-6);
    assert_int_equal(vegeta_parse_time("0001-01-01T00:00:00Z", &t), 0); /* Go's zero time */
    assert_true(t == -62135596800.0);
    static const char *const bad[] = {
        "",
        "2026-11-27",
        "2026-11-27T23:32:41",       /* no zone */
        "2026-11-27T23:32:41.Z",     /* no fraction digits */
        "2026-02-29T00:00:00Z",      /* not a leap year */
        "2026-13-01T00:00:00Z",      /* month */
        "2026-11-27T24:00:00Z",      /* hour */
        "2026-11-27T23:60:00Z",      /* minute */
        "2026-11-27T23:32:41Zjunk",  /* trailing bytes */
        "2026-11-27T23:32:41+1:00",  /* offset digits */
        "2026-11-27T23:32:41+24:00", /* offset hours */
        "26-11-27T23:32:41Z",        /* year digits */
        "2026-11-27T23:32:41.5+01",  /* offset minutes */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (vegeta_parse_time(bad[i], &t) == 0)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_invalid_reports(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"not json", "invalid JSON"},
        {"[1,2]", "not a JSON object"},
        {"{}", "\"latencies\" is missing or not an object"},
        {"{\"latencies\":{\"total\":1}}", "latencies: \"mean\" is missing"},
        {"{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":1,\"99th\":1,"
         "\"max\":1,\"min\":\"1\"}}",
         "latencies: \"min\" is not a number"},
        {"{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":1,\"99th\":1,"
         "\"max\":1,\"min\":1},\"requests\":-1,\"throughput\":1,\"success\":1}",
         "\"requests\" is negative"},
        {"{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":1,\"99th\":1,"
         "\"max\":1,\"min\":1},\"requests\":1.5,\"throughput\":1,\"success\":1}",
         "\"requests\" is not a whole number"},
        {"{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":1,\"99th\":1,"
         "\"max\":1,\"min\":1},\"requests\":1,\"throughput\":1,\"success\":2}",
         "\"success\" is greater than 1"},
        {"{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":1,\"99th\":1,"
         "\"max\":1,\"min\":1},\"requests\":1,\"throughput\":1,\"success\":1}",
         "\"end\" is missing"},
        {"{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":1,\"99th\":1,"
         "\"max\":1,\"min\":1},\"requests\":1,\"throughput\":1,\"success\":1,\"end\":\"now\"}",
         "\"end\" is not an RFC 3339 time"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct vegeta_report r;
        struct servo_error error;
        assert_int_equal(vegeta_report_parse(cases[i].text, strlen(cases[i].text), &r, &error), -1);
        char *why = servo_error_format(&error);
        assert_contains(why, cases[i].why);
        free(why);
        vegeta_report_free(&r);
    }
    /* a minimal report: optional members absent */
    const char *minimal = "{\"latencies\":{\"total\":1,\"mean\":1,\"50th\":1,\"90th\":1,\"95th\":"
                          "1,\"99th\":1,\"max\":1,\"min\":1},\"requests\":1,\"throughput\":1,"
                          "\"success\":1,\"end\":\"2026-11-27T23:32:41Z\"}";
    struct vegeta_report r;
    assert_int_equal(vegeta_report_parse(minimal, strlen(minimal), &r, NULL), 0);
    assert_true(r.earliest == r.end);
    vegeta_report_free(&r);

    /* gathering: garbage lines are counted, the first kept for the message */
    struct vegeta_reports reports = {.warmup_until = -INFINITY};
    assert_int_equal(vegeta_reports_add_line(&reports, "\033[2J\033[0;0H"), VEGETA_LINE_BLANK);
    assert_int_equal(vegeta_reports_add_line(&reports, "   "), VEGETA_LINE_BLANK);
    assert_int_equal(vegeta_reports_add_line(&reports, "Requests [total] 150\t"),
                     VEGETA_LINE_INVALID);
    assert_int_equal(vegeta_reports_add_line(&reports, "{\"x\":1}"), VEGETA_LINE_INVALID);
    assert_int_equal(reports.invalid, 2);
    assert_int_equal(reports.count, 0);
    assert_contains(reports.first_invalid, "\"Requests [total] 150?\" (invalid JSON");
    vegeta_reports_free(&reports);
}

/* ---- command line and load profile ------------------------------------------------------ */

/* Settings loaded from a stanza (the "vegeta:" line is added); NULL with the errors in
 * `errors` (caller frees) when they are invalid. */
static struct vegeta_settings *load_settings(const char *stanza, char **errors)
{
    char *text = xasprintf("vegeta:\n%s", stanza);
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load(text, strlen(text), "<test>", &docs, &diags), 0);
    const struct servo_node *node = servo_node_get(docs.items[0], "vegeta");
    void *settings =
        settings_load(servo_connector_vegeta.settings, node, "vegeta", docs.items[0], &diags);
    if (errors != NULL) {
        char *buf = NULL;
        size_t length = 0;
        FILE *f = open_memstream(&buf, &length);
        diags_print(&diags, f, "");
        fclose(f);
        *errors = buf;
    } else if (settings == NULL) {
        diags_print(&diags, stderr, "vegeta: ");
    }
    diags_free(&diags);
    yaml_documents_free(&docs);
    free(text);
    return settings;
}

static void free_settings(struct vegeta_settings *s)
{
    settings_free(servo_connector_vegeta.settings, s);
}

/* Every word between "attack" and "|" is -flag=value. */
static void assert_flags_have_values(const char *command)
{
    char *copy = xstrdup(command);
    char *pipe = strchr(copy, '|');
    assert_non_null(pipe);
    *pipe = '\0';
    char *save = NULL;
    strtok_r(copy, " ", &save); /* the binary */
    assert_string_equal(strtok_r(NULL, " ", &save), "attack");
    for (char *word = strtok_r(NULL, " ", &save); word; word = strtok_r(NULL, " ", &save))
        if (word[0] != '-' || strchr(word, '=') == NULL)
            fail_msg("\"%s\" in \"%s\" is not -flag=value", word, command);
    free(copy);
}

static void test_attack_command(void **state)
{
    (void)state;
    struct vegeta_settings *s = load_settings("  rate: 50/1s\n"
                                              "  target: GET http://127.0.0.1:18080/\n",
                                              NULL);
    assert_non_null(s);
    assert_string_equal(s->binary, "vegeta");
    char *command = vegeta_attack_command(s, 5 * SERVO_SECOND, SERVO_SECOND);
    assert_string_equal(command,
                        "vegeta attack -rate=50/1s -duration=5s -targets=stdin -format=http "
                        "-connections=10000 -workers=10 -max-body=-1 -http2=true "
                        "-keepalive=true -insecure=false | vegeta report -type=json -every=1s");
    assert_flags_have_values(command);
    free(command);
    free_settings(s);

    const char *targets =
        test_write_file("my targets.json", "{\"method\":\"GET\",\"url\":\"http://a/\"}\n");
    char *stanza = xasprintf("  rate: 3000/1m\n"
                             "  format: json\n"
                             "  targets: %s\n"
                             "  connections: 5\n"
                             "  workers: 2\n"
                             "  max_workers: 64\n"
                             "  max_body: 1024\n"
                             "  http2: false\n"
                             "  keepalive: false\n"
                             "  insecure: true\n"
                             "  binary: /opt/my vegeta/vegeta's\n",
                             targets);
    s = load_settings(stanza, NULL);
    assert_non_null(s);
    command = vegeta_attack_command(s, 90 * SERVO_SECOND + 500 * SERVO_MILLISECOND,
                                    250 * SERVO_MILLISECOND);
    char *expected = xasprintf(
        "'/opt/my vegeta/vegeta'\\''s' attack -rate=3000/1m -duration=1m30.5s "
        "-targets='%s' -format=json -connections=5 -workers=2 -max-workers=64 -max-body=1024 "
        "-http2=false -keepalive=false -insecure=true | '/opt/my vegeta/vegeta'\\''s' report "
        "-type=json -every=250ms",
        targets);
    assert_string_equal(command, expected);
    free(expected);
    free(command);
    free(stanza);
    free_settings(s);

    /* rate 0 needs max_workers, as vegeta says */
    char *errors = NULL;
    s = load_settings("  rate: 0\n  target: GET http://a/\n", &errors);
    assert_null(s);
    assert_contains(errors, "a rate of 0 (as fast as possible) needs max_workers");
    free(errors);
    s = load_settings("  rate: 0\n  max_workers: 4\n  target: GET http://a/\n", NULL);
    assert_non_null(s);
    command = vegeta_attack_command(s, SERVO_SECOND, SERVO_SECOND);
    assert_contains(command, " -rate=0 -duration=1s ");
    assert_contains(command, " -max-workers=4 ");
    free(command);
    free_settings(s);
}

static void test_load_profile(void **state)
{
    (void)state;
    struct vegeta_settings *s = load_settings("  rate: 50/1s\n"
                                              "  target: GET http://127.0.0.1:18080/\n",
                                              NULL);
    assert_int_equal(vegeta_target_count(s), 1);
    char *text = vegeta_load_profile(s, 1, 5 * SERVO_SECOND, 0, 0);
    assert_string_equal(text, "Loading 1 URL(s) for 5s (delay of 0, warmup of 0) at a rate of "
                              "50/1s (reporting every 15s)");
    free(text);
    text = vegeta_load_profile(s, 3, 2 * SERVO_MINUTE, 10 * SERVO_SECOND, SERVO_MINUTE);
    assert_string_equal(text, "Loading 3 URL(s) for 2m (delay of 10s, warmup of 1m) at a rate "
                              "of 50/1s (reporting every 15s)");
    free(text);
    free_settings(s);

    /* the recorded mixed targets: three URLs */
    char *stanza = xasprintf("  rate: 10\n  targets: %s\n", FIXTURE("targets_mixed.txt"));
    s = load_settings(stanza, NULL);
    assert_non_null(s);
    assert_int_equal(vegeta_target_count(s), 3);
    free_settings(s);
    free(stanza);

    const char *http = "# comment\nGET http://a/\nX-Header: 1\n@/tmp/body\n\nPOST http://b/\n";
    assert_int_equal(vegeta_count_targets(VEGETA_FORMAT_HTTP, http, strlen(http)), 2);
    const char *json = "{\"method\":\"GET\",\"url\":\"http://a/\"}\n\n{\"method\":\"GET\","
                       "\"url\":\"http://b/\"}";
    assert_int_equal(vegeta_count_targets(VEGETA_FORMAT_JSON, json, strlen(json)), 2);
}

/* ---- through the event bus, with the stand-in ------------------------------------------- */

#define MAX_PROGRESS 64

struct fixture {
    struct servo_connector connector;
    bool loaded;
    size_t progress_count;
    pthread_mutex_t lock;
    struct cancel_token *parent;
    double timeout;
    char *pidfile;
    char *argsfile;
};

static void clean_scratch(void)
{
    const char *dir = test_scratch_dir();
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    clean_scratch();
    f->pidfile = xasprintf("%s/standin.pids", test_scratch_dir());
    f->argsfile = xasprintf("%s/standin.args", test_scratch_dir());
    setenv("VEGETA_STANDIN_PIDFILE", f->pidfile, 1);
    setenv("VEGETA_STANDIN_ARGS", f->argsfile, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->loaded) {
        servo_connector_vegeta.fini(&f->connector);
        free_settings(f->connector.settings);
    }
    unsetenv("VEGETA_STANDIN_PIDFILE");
    unsetenv("VEGETA_STANDIN_ARGS");
    free(f->pidfile);
    free(f->argsfile);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* Loads a stanza (two-space indented lines) and attaches the connector. */
static void load(struct fixture *f, const char *stanza)
{
    struct vegeta_settings *s = load_settings(stanza, NULL);
    assert_non_null(s);
    f->connector = (struct servo_connector){
        .name = "vegeta", .plugin = &servo_connector_vegeta, .settings = s};
    struct servo_error error = {0};
    assert_int_equal(servo_connector_vegeta.init(&f->connector, &error), 0);
    f->loaded = true;
}

/* The stand-in with `extra` settings, or else the target the recordings were made with. */
static void load_standin(struct fixture *f, const char *extra)
{
    char *stanza = xasprintf("  rate: 50/1s\n"
                             "  reporting_interval: 1s\n"
                             "  binary: %s\n%s",
                             STANDIN, extra ? extra : "  target: GET http://127.0.0.1:18080/\n");
    load(f, stanza);
    free(stanza);
}

static void record_progress(void *context, const char *connector, const char *event, double percent,
                            const char *message)
{
    (void)connector;
    (void)event;
    (void)percent;
    (void)message;
    struct fixture *f = context;
    pthread_mutex_lock(&f->lock);
    f->progress_count++;
    pthread_mutex_unlock(&f->lock);
}

static int dispatch(struct fixture *f, const char *event, const struct event_args *args,
                    struct bus_outcome *out)
{
    struct bus_options options = {.progress = record_progress,
                                  .progress_context = f,
                                  .parent = f->parent,
                                  .timeout = f->timeout};
    return bus_dispatch(&f->connector, 1, event, args, &options, out);
}

static int measure(struct fixture *f, servo_duration duration, const char *const *metrics,
                   size_t metric_count, struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    args.control.duration = duration;
    args.metrics = metrics;
    args.metric_count = metric_count;
    int rc = dispatch(f, SERVO_EVENT_MEASURE, &args, out);
    event_args_free(&args);
    return rc;
}

static void assert_failure(const struct bus_outcome *out, const char *reason, const char *part)
{
    if (out->error.kind != SERVO_ERROR_MEASUREMENT_FAILED || strcmp(out->error.reason, reason) != 0)
        fail_msg("expected a measurement failure (%s), got %s (%s): %s", reason,
                 servo_error_status(out->error.kind), out->error.reason, out->error.message);
    assert_contains(out->error.message, part);
}

/* Every pid the stand-in recorded is gone (or a zombie about to be reaped). */
/* Whether a live (not zombie) process has `marker` in its environment. */
static bool environment_holder_alive(const char *marker)
{
    DIR *proc = opendir("/proc");
    assert_non_null(proc);
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(proc)) != NULL;) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
            continue;
        char *path = xasprintf("/proc/%s/environ", e->d_name);
        char *environ_text = NULL, *error = NULL;
        size_t n = 0;
        if (read_file(path, 1 << 20, &environ_text, &n, &error) == 0) {
            for (size_t i = 0; i < n && !found; i += strlen(environ_text + i) + 1)
                found = strcmp(environ_text + i, marker) == 0;
        }
        free(environ_text);
        free(error);
        free(path);
        if (found) {
            char *stat = xasprintf("/proc/%s/stat", e->d_name);
            FILE *fp = fopen(stat, "r");
            char state = 'Z';
            if (fp != NULL) {
                if (fscanf(fp, "%*d (%*[^)]) %c", &state) != 1)
                    state = 'Z';
                fclose(fp);
            }
            free(stat);
            found = state != 'Z' && state != 'X';
        }
    }
    closedir(proc);
    return found;
}

/* No stand-in of this fixture is left running, whether or not it got as far as writing its
 * pid (on a loaded machine a deadline can pass before Python has started): each carries the
 * fixture's pid file in its environment. */
static void assert_no_standin_left(const struct fixture *f)
{
    char *marker = xasprintf("VEGETA_STANDIN_PIDFILE=%s", f->pidfile);
    bool alive = true;
    for (int i = 0; i < 300 && alive; i++) {
        alive = environment_holder_alive(marker);
        if (alive)
            usleep(10000);
    }
    free(marker);
    assert_false(alive);
}

static void assert_all_dead(const struct fixture *f, size_t expected)
{
    char *text = read_text(f->pidfile, NULL);
    size_t count = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int pid = atoi(line);
        assert_true(pid > 1);
        count++;
        char *proc = xasprintf("/proc/%d/stat", pid);
        bool dead = false;
        for (int i = 0; i < 300 && !dead; i++) {
            FILE *fp = fopen(proc, "r");
            char state = 'Z';
            if (fp != NULL) {
                if (fscanf(fp, "%*d (%*[^)]) %c", &state) != 1)
                    state = 'Z';
                fclose(fp);
            }
            dead = fp == NULL || state == 'Z' || state == 'X';
            if (!dead)
                usleep(10000);
        }
        free(proc);
        if (!dead)
            kill(pid, SIGKILL);
        assert_true(dead);
    }
    assert_int_equal(count, expected);
    free(text);
}

static const struct servo_reading *find_reading(const struct servo_measurement *m,
                                                const char *metric)
{
    for (size_t i = 0; i < m->reading_count; i++)
        if (strcmp(m->readings[i].metric, metric) == 0)
            return &m->readings[i];
    fail_msg("no reading for %s", metric);
    return NULL;
}

static void test_describe_and_metrics(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    assert_int_equal(dispatch(f, SERVO_EVENT_DESCRIBE, &args, &out), 0);
    json_t *json = servo_description_to_json(out.results[0].description);
    char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text,
                        "{\"application\":{\"components\":{}},\"measurement\":{\"metrics\":{"
                        "\"throughput\":{\"unit\":\"rpm\"},\"error_rate\":{\"unit\":\"%\"},"
                        "\"latency_total\":{\"unit\":\"ms\"},\"latency_mean\":{\"unit\":\"ms\"},"
                        "\"latency_50th\":{\"unit\":\"ms\"},\"latency_90th\":{\"unit\":\"ms\"},"
                        "\"latency_95th\":{\"unit\":\"ms\"},\"latency_99th\":{\"unit\":\"ms\"},"
                        "\"latency_max\":{\"unit\":\"ms\"},\"latency_min\":{\"unit\":\"ms\"}}}}");
    free(text);
    json_decref(json);
    bus_outcome_free(&out);
    assert_int_equal(dispatch(f, SERVO_EVENT_METRICS, &args, &out), 0);
    assert_int_equal(out.results[0].description->metric_count, VEGETA_METRIC_COUNT);
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_measure_with_standin(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    struct bus_outcome out;
    assert_int_equal(measure(f, 5 * SERVO_SECOND, NULL, 0, &out), 0);
    const struct servo_measurement *m = out.results[0].measurement;
    assert_non_null(m);
    assert_int_equal(m->reading_count, VEGETA_METRIC_COUNT);
    /* the five recorded reports, in order, exactly */
    const struct servo_reading *throughput = find_reading(m, "throughput");
    assert_string_equal(throughput->unit, "rpm");
    assert_int_equal(throughput->point_count, 5);
    static const double throughputs[] = {50.67341561314268, 50.47676177415972, 50.320327951878824,
                                         50.23477015910533, 50.191283831158565};
    static const double p50[] = {0.39668, 0.378483, 0.377042, 0.371674, 0.376735};
    const struct servo_reading *latency = find_reading(m, "latency_50th");
    for (size_t i = 0; i < 5; i++) {
        assert_true(throughput->points[i].value == throughputs[i] * 60);
        assert_true(latency->points[i].value == p50[i]);
    }
    assert_near(throughput->points[4].time, 1795822375.105462567, 1e-6);
    const struct servo_reading *errors = find_reading(m, "error_rate");
    for (size_t i = 0; i < 5; i++)
        assert_true(errors->points[i].value == 0);
    assert_true(find_reading(m, "latency_max")->points[0].value == 1.093265);
    assert_true(find_reading(m, "latency_min")->points[4].value == 0.253717);
    assert_int_equal(m->annotation_count, 1);
    assert_string_equal(m->annotation_keys[0], "load_profile");
    assert_string_equal(m->annotation_values[0], "Loading 1 URL(s) for 5s (delay of 0, warmup "
                                                 "of 0) at a rate of 50/1s (reporting every 1s)");
    assert_true(f->progress_count >= 5);
    bus_outcome_free(&out);
    /* the stand-in saw every flag as -flag=value (it fails otherwise) */
    char *args = read_text(f->argsfile, NULL);
    assert_contains(args, "attack -rate=50/1s -duration=5s -targets=stdin -format=http "
                          "-connections=10000 -workers=10 -max-body=-1 -http2=true "
                          "-keepalive=true -insecure=false\n");
    assert_contains(args, "report -type=json -every=1s\n");
    free(args);
    assert_all_dead(f, 2);
}

static void test_measure_subset_and_others(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    struct bus_outcome out;
    /* a short attack: one periodic report and the final one */
    const char *const some[] = {"latency_99th", "error_rate"};
    assert_int_equal(measure(f, 2 * SERVO_SECOND, some, 2, &out), 0);
    const struct servo_measurement *m = out.results[0].measurement;
    assert_int_equal(m->reading_count, 2);
    assert_string_equal(m->readings[0].metric, "error_rate");
    assert_string_equal(m->readings[1].metric, "latency_99th");
    assert_int_equal(m->readings[1].point_count, 2);
    assert_true(m->readings[1].points[0].value == 1.092266); /* the first periodic report */
    assert_true(m->readings[1].points[1].value == 0.860799); /* the recorded final report */
    bus_outcome_free(&out);
    /* metrics of another connector only: nothing runs, nothing is returned */
    const char *const other[] = {"cpu_usage"};
    assert_int_equal(measure(f, 2 * SERVO_SECOND, other, 1, &out), 0);
    assert_null(out.results[0].measurement);
    bus_outcome_free(&out);
    assert_all_dead(f, 2);
}

static void test_measure_needs_duration(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    struct bus_outcome out;
    assert_int_equal(measure(f, 0, NULL, 0, &out), -1);
    assert_failure(&out, "no-duration", "vegeta needs a measurement duration");
    bus_outcome_free(&out);
}

/* The `duration` setting (the seed's SERVO_VEGETA='{"rate": "50/1s", "duration": "20m"}') is
 * the attack's when the control gives none; the control's wins. */
static void test_measure_duration_setting(void **state)
{
    struct fixture *f = *state;
    load_standin(f, "  target: GET http://127.0.0.1:18080/\n  duration: 2s\n");
    struct bus_outcome out;
    const char *const some[] = {"error_rate"};
    assert_int_equal(measure(f, 0, some, 1, &out), 0);
    assert_non_null(out.results[0].measurement);
    bus_outcome_free(&out);
    char *args = read_text(f->argsfile, NULL);
    assert_contains(args, "attack -rate=50/1s -duration=2s ");
    free(args);
    assert_int_equal(measure(f, SERVO_SECOND, some, 1, &out), 0);
    bus_outcome_free(&out);
    args = read_text(f->argsfile, NULL);
    assert_contains(args, "attack -rate=50/1s -duration=1s ");
    free(args);
}

/* Writes an executable script into the scratch directory; its path (static). */
static const char *script(const char *name, const char *body)
{
    char *text = xasprintf("#!/bin/sh\n%s", body);
    const char *path = test_write_file(name, text);
    assert_int_equal(chmod(path, 0755), 0);
    free(text);
    return path;
}

/* A fake vegeta whose report is the recorded clean one with its end moved to `end`. */
static void load_fake_report_at(struct fixture *f, const char *end, const char *extra)
{
    char *body = xasprintf("[ \"$1\" = report ] && sed 's/2026-11-27T23:32:41.642808626Z/%s/' "
                           "'%s'\nexit 0\n",
                           end, FIXTURE("report_json_clean.json"));
    char *stanza = xasprintf("  rate: 10\n  target: GET http://a/\n  binary: %s\n%s",
                             script("fake-vegeta", body), extra ? extra : "");
    free(body);
    load(f, stanza);
    free(stanza);
}

static void test_measure_warmup(void **state)
{
    struct fixture *f = *state;
    struct event_args args;
    event_args_init(&args);
    args.control.duration = SERVO_SECOND;
    args.control.warmup = 3 * SERVO_SECOND;
    struct bus_outcome out;
    /* a report that ended long before the warmup did: discarded, so nothing is left */
    load_fake_report_at(f, "2000-01-01T00:00:00Z", NULL);
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), -1);
    assert_failure(&out, "no-reports",
                   "every vegeta report (1) ended before the warmup of 3s was over");
    bus_outcome_free(&out);
    servo_connector_vegeta.fini(&f->connector);
    free_settings(f->connector.settings);
    /* one that ends after it: kept; the delay is waited out first; both are in the profile */
    load_fake_report_at(f, "2099-01-01T00:00:00.5+01:00", NULL);
    args.control.delay = 500 * SERVO_MILLISECOND;
    double started = clock_monotonic();
    assert_int_equal(dispatch(f, SERVO_EVENT_MEASURE, &args, &out), 0);
    assert_true(clock_monotonic() - started >= 0.5);
    const struct servo_measurement *m = out.results[0].measurement;
    const struct servo_reading *mean = find_reading(m, "latency_mean");
    assert_int_equal(mean->point_count, 1);
    assert_true(mean->points[0].value == 0.442112);
    assert_near(mean->points[0].time, 4070905200.5, 1e-6);
    assert_string_equal(m->annotation_values[0],
                        "Loading 1 URL(s) for 1s (delay of 500ms, "
                        "warmup of 3s) at a rate of 10/1s (reporting every "
                        "15s)");
    bus_outcome_free(&out);
    event_args_free(&args);
}

static void test_measure_failures(void **state)
{
    struct fixture *f = *state;
    struct bus_outcome out;
    static const struct {
        const char *body; /* NULL: no such file */
        const char *reason;
        const char *message;
    } cases[] = {
        {NULL, "not-found", "cannot run vegeta: \"" SERVO_TEST_DATA},
        {"echo 'something broke' >&2\nexit 3\n", "exit-status",
         "vegeta exited with status 3: something broke"},
        {"[ \"$1\" = report ] && echo 'Requests [total] 150'\nexit 0\n", "invalid-output",
         "vegeta printed no report: 1 lines were not JSON reports, the first: \"Requests "
         "[total] 150\" (invalid JSON"},
        {"exit 0\n", "no-output", "vegeta printed no report"},
        {"[ \"$1\" = report ] && kill -9 $$\nexit 0\n", "signal", "vegeta was killed by signal 9"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *path = cases[i].body ? script("fake-vegeta", cases[i].body)
                                         : SERVO_TEST_DATA "/no/such/vegeta";
        char *stanza = xasprintf("  rate: 10\n  target: GET http://a/\n  binary: %s\n", path);
        load(f, stanza);
        free(stanza);
        assert_int_equal(measure(f, SERVO_SECOND, NULL, 0, &out), -1);
        assert_failure(&out, cases[i].reason, cases[i].message);
        bus_outcome_free(&out);
        servo_connector_vegeta.fini(&f->connector);
        free_settings(f->connector.settings);
        f->loaded = false;
    }
    /* a report the script copies from the recorded mixed run */
    char *body =
        xasprintf("[ \"$1\" = report ] && cat '%s'\nexit 0\n", FIXTURE("report_json_mixed.json"));
    char *stanza = xasprintf("  rate: 10\n  target: GET http://a/\n  binary: %s\n",
                             script("fake-vegeta", body));
    free(body);
    load(f, stanza);
    free(stanza);
    assert_int_equal(measure(f, SERVO_SECOND, NULL, 0, &out), 0);
    const struct servo_reading *errors = find_reading(out.results[0].measurement, "error_rate");
    assert_int_equal(errors->point_count, 1);
    assert_true(errors->points[0].value == 100 - 0.3333333333333333 * 100);
    bus_outcome_free(&out);
}

static void test_measure_bad_targets_file(void **state)
{
    struct fixture *f = *state;
    const char *path = test_write_file("targets.txt", "GET http://127.0.0.1:18080/\n");
    char *stanza = xasprintf("  targets: %s\n", path);
    load_standin(f, stanza);
    free(stanza);
    /* the file went bad after the settings were validated: vegeta says so */
    test_write_file("targets.txt", "BOGUS\n");
    struct bus_outcome out;
    assert_int_equal(measure(f, SERVO_SECOND, NULL, 0, &out), -1);
    assert_failure(&out, "exit-status", "vegeta exited with status 1: ");
    assert_contains(out.error.message, "bad target: BOGUS");
    assert_contains(out.error.message, "encode: can't detect encoding of \"stdin\"");
    bus_outcome_free(&out);
    char *args = read_text(f->argsfile, NULL);
    char *expected = xasprintf("-targets=%s/targets.txt -format=http", test_scratch_dir());
    assert_contains(args, expected);
    free(expected);
    free(args);
    assert_all_dead(f, 2);
}

static void test_timeout_kills_the_pipeline(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    f->timeout = 1.5;
    struct bus_outcome out;
    double started = clock_monotonic();
    assert_int_equal(measure(f, 60 * SERVO_SECOND, NULL, 0, &out), -1);
    /* well before the attack's 60 s: it was stopped, not finished */
    assert_true(clock_monotonic() - started < 30.0);
    assert_failure(&out, "timeout", "the vegeta attack was stopped at its deadline");
    bus_outcome_free(&out);
    assert_no_standin_left(f);
}

struct canceller {
    struct cancel_token *token;
    const char *pidfile;
};

/* Cancels once both stand-ins of the pipeline run (each writes its pid when it starts): on a
 * loaded machine Python may take seconds to start, and a fixed delay would cancel before. */
static void *cancel_when_running(void *arg)
{
    const struct canceller *c = arg;
    for (int i = 0; i < 6000; i++) {
        size_t lines = 0;
        FILE *fp = fopen(c->pidfile, "r");
        if (fp != NULL) {
            for (int ch; (ch = fgetc(fp)) != EOF;)
                lines += ch == '\n';
            fclose(fp);
        }
        if (lines >= 2)
            break;
        usleep(10000);
    }
    cancel_trigger(c->token, "the optimizer said so");
    return NULL;
}

static void test_cancel_kills_the_pipeline(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    struct cancel_token parent;
    cancel_init(&parent, NULL, 0);
    f->parent = &parent;
    pthread_t thread;
    struct canceller canceller = {.token = &parent, .pidfile = f->pidfile};
    assert_int_equal(pthread_create(&thread, NULL, cancel_when_running, &canceller), 0);
    struct bus_outcome out;
    assert_int_equal(measure(f, 120 * SERVO_SECOND, NULL, 0, &out), -1);
    pthread_join(thread, NULL);
    assert_failure(&out, "cancelled", "the vegeta attack was cancelled");
    bus_outcome_free(&out);
    cancel_destroy(&parent);
    assert_all_dead(f, 2);
}

static const json_t *run_checks(struct fixture *f, struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    assert_int_equal(dispatch(f, SERVO_EVENT_CHECK, &args, out), 0);
    event_args_free(&args);
    assert_int_equal(out->count, 1);
    return out->results[0].value;
}

static void assert_check(const json_t *checks, size_t index, const char *name, bool success,
                         const char *message)
{
    const json_t *check = json_array_get(checks, index);
    assert_non_null(check);
    assert_string_equal(json_string_value(json_object_get(check, "name")), name);
    assert_int_equal(json_is_true(json_object_get(check, "success")), success);
    assert_contains(json_string_value(json_object_get(check, "message")), message);
}

static void test_checks(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    struct bus_outcome out;
    const json_t *checks = run_checks(f, &out);
    assert_int_equal(json_array_size(checks), 3);
    assert_check(checks, 0, "Vegeta execution", true, "a 5s attack ran and exited with status 0");
    assert_check(checks, 1, "Report aggregation", true, "5 reports aggregated");
    assert_check(checks, 2, "Error rate < 5.0%", true, "0.00% errors in 250 requests");
    bus_outcome_free(&out);
    char *args = read_text(f->argsfile, NULL);
    assert_contains(args, "-duration=5s ");
    assert_contains(args, "report -type=json -every=1s\n");
    free(args);

    /* the recorded mixed run: a third of the requests failed */
    servo_connector_vegeta.fini(&f->connector);
    free_settings(f->connector.settings);
    char *body =
        xasprintf("[ \"$1\" = report ] && cat '%s'\nexit 0\n", FIXTURE("report_json_mixed.json"));
    char *stanza = xasprintf("  rate: 10\n  target: GET http://a/\n  binary: %s\n",
                             script("fake-vegeta", body));
    free(body);
    load(f, stanza);
    free(stanza);
    checks = run_checks(f, &out);
    assert_int_equal(json_array_size(checks), 3);
    assert_check(checks, 0, "Vegeta execution", true, "exited with status 0");
    assert_check(checks, 1, "Report aggregation", true, "1 reports aggregated");
    assert_check(checks, 2, "Error rate < 5.0%", false,
                 "66.67% errors in 150 requests (limit 5.0%): 500 Internal Server Error; Get");
    bus_outcome_free(&out);

    /* a missing vegeta: the critical first check fails and the others do not run */
    servo_connector_vegeta.fini(&f->connector);
    free_settings(f->connector.settings);
    load(f, "  rate: 10\n  target: GET http://a/\n  binary: no-such-vegeta-here\n");
    checks = run_checks(f, &out);
    assert_int_equal(json_array_size(checks), 1);
    assert_check(checks, 0, "Vegeta execution", false,
                 "cannot run vegeta: \"no-such-vegeta-here\" was not found");
    bus_outcome_free(&out);
}

/* Runs `servo vegeta attack ARGS` (the command's function) with stdout in a file; returns
 * its exit status and what it printed (caller frees). */
static int attack_main(struct fixture *f, const char *const *args, size_t count, char **output)
{
    char *argv[16] = {"attack"};
    assert_true(count < ARRAY_LEN(argv) - 1);
    for (size_t i = 0; i < count; i++)
        argv[i + 1] = (char *)args[i];
    char *path = xasprintf("%s/attack.out", test_scratch_dir());
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    dup2(fileno(out), STDOUT_FILENO);
    int rc = vegeta_attack_main(&f->connector, (int)count + 1, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    fclose(out);
    *output = read_text(path, NULL);
    free(path);
    return rc;
}

static void test_attack_command_line_tool(void **state)
{
    struct fixture *f = *state;
    load_standin(f, NULL);
    assert_string_equal(servo_connector_vegeta.commands[0].name, "attack");
    assert_ptr_equal(servo_connector_vegeta.commands[0].run, vegeta_attack_main);
    assert_null(servo_connector_vegeta.commands[1].name);
    char *output = NULL;
    const char *const json[] = {"-d", "2s", "-e", "1s", "-f", "json"};
    assert_int_equal(attack_main(f, json, ARRAY_LEN(json), &output), 0);
    /* one periodic report and the final one, as vegeta printed them, without escape codes */
    assert_null(strchr(output, '\033'));
    char *second = strchr(output, '\n');
    assert_non_null(second);
    assert_starts_with(output, "{\"latencies\":{\"total\":21395661,");
    assert_starts_with(second + 1, "{\"latencies\":{\"total\":97465021,");
    assert_int_equal(strchr(second + 1, '\n')[1], '\0');
    free(output);

    const char *const text[] = {"--duration=1s"};
    assert_int_equal(attack_main(f, text, ARRAY_LEN(text), &output), 0);
    assert_string_equal(output, "requests 250: throughput 3011.477 rpm, error_rate 0.000 %, "
                                "latency_total 97.465 ms, latency_mean 0.390 ms, latency_50th "
                                "0.377 ms, latency_90th 0.461 ms, latency_95th 0.482 ms, "
                                "latency_99th 0.861 ms, latency_max 1.093 ms, latency_min 0.254 "
                                "ms\n");
    free(output);

    const char *const help[] = {"--help"};
    assert_int_equal(attack_main(f, help, 1, &output), 0);
    assert_contains(output, "Usage: servo vegeta attack [-d DURATION] [-e INTERVAL]");
    free(output);
    static const char *const bad[][2] = {
        {"-d", "0"}, {"-e", "soon"}, {"-f", "yaml"}, {"--bogus", "1"}, {"-d", NULL}};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(attack_main(f, bad[i], bad[i][1] ? 2 : 1, &output), 2);
        assert_string_equal(output, "");
        free(output);
    }
    assert_all_dead(f, 4);

    /* a failing attack: exit 1 */
    servo_connector_vegeta.fini(&f->connector);
    free_settings(f->connector.settings);
    load(f, "  rate: 10\n  target: GET http://a/\n  binary: no-such-vegeta-here\n");
    const char *const none[] = {"-d", "1s"};
    assert_int_equal(attack_main(f, none, 2, &output), 1);
    free(output);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_clean),
        cmocka_unit_test(test_report_mixed),
        cmocka_unit_test(test_report_refused_and_timeouts),
        cmocka_unit_test(test_periodic_output_escapes),
        cmocka_unit_test(test_warmup_discards_early_reports),
        cmocka_unit_test(test_strip_escapes),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_invalid_reports),
        cmocka_unit_test(test_attack_command),
        cmocka_unit_test(test_load_profile),
        cmocka_unit_test_setup_teardown(test_describe_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_with_standin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_subset_and_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_needs_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_duration_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_warmup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_measure_bad_targets_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_the_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_kills_the_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attack_command_line_tool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
