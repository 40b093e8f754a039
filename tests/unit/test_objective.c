/* Objectives: metric aggregates over measurements and expressions over metrics and settings. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/objective.h"
#include "optimizer/study_eval.h"

static struct servo_measurement *sample_measurement(void)
{
    struct servo_measurement *m = servo_measurement_new();
    struct servo_reading *a = servo_measurement_series(m, "latency", "ms", "a");
    servo_reading_add(a, 10, 5);
    servo_reading_add(a, 20, 1);
    servo_reading_add(a, 30, NAN);
    struct servo_reading *b = servo_measurement_series(m, "latency", "ms", "b");
    servo_reading_add(b, 15, 3);
    servo_reading_add(b, 25, 2);
    servo_reading_add(b, 35, 4); /* the latest finite point */
    servo_measurement_point(m, "throughput", "rps", 40, 100);
    return m;
}

static void test_aggregates_over_all_series(void **state)
{
    (void)state;
    struct servo_measurement *m = sample_measurement();
    static const struct {
        const char *aggregate;
        double expected;
    } cases[] = {
        {"mean", 3.0}, {"median", 3.0}, {"min", 1.0}, {"max", 5.0},
        {"last", 4.0}, {"p90", 4.6},    {"p95", 4.8}, {"p99", 4.96},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int a = aggregate_parse(cases[i].aggregate);
        assert_true(a >= 0);
        assert_string_equal(aggregate_name((enum aggregate)a), cases[i].aggregate);
        double value = 0;
        assert_int_equal(measurement_reduce(m, "latency", (enum aggregate)a, &value), 0);
        assert_float_equal(value, cases[i].expected, 1e-12);
    }
    double value = 0;
    assert_int_equal(measurement_reduce(m, "throughput", AGGREGATE_MEAN, &value), 0);
    assert_float_equal(value, 100, 0);
    assert_int_equal(measurement_reduce(m, "absent", AGGREGATE_MEAN, &value), -1);
    assert_int_equal(aggregate_parse("average"), -1);
    servo_measurement_free(m);
}

/* The summaries the store keeps: every aggregate of a metric over all its readings, however
 * they are interleaved with other metrics' (one grouping pass, not a scan per metric), equal
 * to measurement_reduce's; the count of finite points; the unit of the first reading. */
static void test_summaries_group_interleaved_readings(void **state)
{
    (void)state;
    struct servo_measurement *m = servo_measurement_new();
    struct servo_reading *a = servo_measurement_series(m, "latency", "ms", "a");
    servo_reading_add(a, 10, 5);
    servo_reading_add(a, 20, 1);
    servo_reading_add(a, 30, NAN);
    servo_measurement_point(m, "throughput", "rps", 40, 100);
    struct servo_reading *b = servo_measurement_series(m, "latency", "s", "b");
    servo_reading_add(b, 15, 3);
    servo_reading_add(b, 25, 2);
    servo_reading_add(b, 35, 4);
    struct servo_reading *nan = servo_measurement_series(m, "errors", "", NULL);
    servo_reading_add(nan, 1, NAN);
    json_t *summaries = study_summarize(m);
    const char *keys[] = {"latency", "throughput", "errors"};
    size_t k = 0;
    const char *key;
    json_t *value;
    json_object_foreach(summaries, key, value)
    {
        assert_true(k < 3);
        assert_string_equal(key, keys[k++]);
    }
    assert_int_equal(k, 3);
    const json_t *latency = json_object_get(summaries, "latency");
    for (int g = AGGREGATE_MEAN; g <= AGGREGATE_LAST; g++) {
        double expected = 0;
        assert_int_equal(measurement_reduce(m, "latency", (enum aggregate)g, &expected), 0);
        const json_t *got = json_object_get(latency, aggregate_name((enum aggregate)g));
        assert_non_null(got);
        assert_float_equal(json_real_value(got), expected, 0);
    }
    assert_int_equal(json_integer_value(json_object_get(latency, "count")), 5);
    assert_string_equal(json_string_value(json_object_get(latency, "unit")), "ms");
    const json_t *errors = json_object_get(summaries, "errors");
    assert_int_equal(json_object_size(errors), 1); /* only its count: no finite point */
    assert_int_equal(json_integer_value(json_object_get(errors, "count")), 0);
    json_decref(summaries);
    servo_measurement_free(m);
}

static void test_all_nan_metric_is_absent(void **state)
{
    (void)state;
    struct servo_measurement *m = servo_measurement_new();
    struct servo_reading *r = servo_measurement_series(m, "error_rate", "%", NULL);
    servo_reading_add(r, 1, NAN);
    servo_reading_add(r, 2, INFINITY);
    double value = 7;
    assert_int_equal(measurement_reduce(m, "error_rate", AGGREGATE_MAX, &value), -1);
    assert_float_equal(value, 7, 0);
    servo_measurement_free(m);
}

struct binding {
    const char *name;
    double value;
};

static bool lookup(void *context, const char *name, double *value)
{
    for (const struct binding *b = context; b->name; b++) {
        if (strcmp(b->name, name) == 0) {
            *value = b->value;
            return true;
        }
    }
    return false;
}

static double evaluate(const char *text, const struct binding *bindings)
{
    char *error = NULL;
    struct expr *e = expr_parse(text, &error);
    if (e == NULL) {
        fail_msg("%s: %s", text, error);
    }
    double value = NAN;
    int rc = expr_eval(e, lookup, (void *)bindings, &value, &error);
    expr_free(e);
    if (rc != 0) {
        free(error);
        return -12345;
    }
    return value;
}

static void test_expressions(void **state)
{
    (void)state;
    static const struct binding b[] = {
        {"throughput", 1200}, {"cpu", 2}, {"replicas", 3}, {"web.mem", 0.5}, {NULL, 0}};
    static const struct {
        const char *text;
        double expected;
    } cases[] = {
        {"throughput / (cpu * replicas)", 200},
        {"1 + 2 * 3", 7},
        {"(1 + 2) * 3", 9},
        {"-2 ^ 2", -4},
        {"2 ^ 3 ^ 2", 512},
        {"10 - 4 - 3", 3},
        {"100 / 10 / 5", 2},
        {"0.0316 * cpu * replicas + 0.0042 * web.mem * replicas", 0.1896 + 0.0063},
        {"min(cpu, replicas) + max(cpu, replicas)", 5},
        {"pow(2, 10) + abs(-3) + sqrt(16)", 1031},
        {"log(exp(2))", 2},
        {"+cpu", 2},
        {".5 * 4", 2},
        {"1e3 / throughput", 1000.0 / 1200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_float_equal(evaluate(cases[i].text, b), cases[i].expected, 1e-12);
    assert_true(isinf(evaluate("1 / (cpu - 2)", b)));
    assert_float_equal(evaluate("unknown * 2", b), -12345, 0);
}

static void test_syntax_errors_name_the_column(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"1 +", "unexpected end at column 4 of \"1 +\""},
        {"(1 + 2", "expected ')' at column 7 of \"(1 + 2\""},
        {"2 $ 3", "unexpected text at column 3 of \"2 $ 3\""},
        {"foo(1)", "unknown function at column 4 of \"foo(1)\""},
        {"min(1)", "expected ',' at column 6 of \"min(1)\""},
        {"", "unexpected end at column 1 of \"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *error = NULL;
        assert_null(expr_parse(cases[i].text, &error));
        assert_string_equal(error, cases[i].message);
        free(error);
    }
}

static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        text[n++] = '(';
    text[n++] = '1';
    for (int i = 0; i < 1000; i++)
        text[n++] = ')';
    text[n] = '\0';
    char *error = NULL;
    assert_null(expr_parse(text, &error));
    assert_non_null(strstr(error, "nested too deeply"));
    free(error);
    n = 0;
    for (int i = 0; i < 1000; i++) {
        text[n++] = '2';
        text[n++] = '^';
    }
    text[n++] = '2';
    text[n] = '\0';
    assert_null(expr_parse(text, &error));
    assert_non_null(strstr(error, "nested too deeply"));
    free(error);
}

static void collect(void *context, const char *name)
{
    char *names = context;
    strcat(names, name);
    strcat(names, ";");
}

static void test_names_are_listed(void **state)
{
    (void)state;
    char *error = NULL;
    struct expr *e = expr_parse("throughput / (web.cpu * max(replicas, 1))", &error);
    assert_non_null(e);
    char names[128] = "";
    expr_names(e, collect, names);
    assert_string_equal(names, "throughput;web.cpu;replicas;");
    expr_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregates_over_all_series),
        cmocka_unit_test(test_all_nan_metric_is_absent),
        cmocka_unit_test(test_summaries_group_interleaved_readings),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_syntax_errors_name_the_column),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_names_are_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
