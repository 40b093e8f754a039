// SPDX-License-Identifier: Apache-2.0
/* The kube_metrics connector's pure parts: metrics-server's quantities, a PodMetricsList (the
 * recorded shape in tests/fixtures/metrics-server) and a pod list read into a sample, bad
 * answers named, and a sample into series (one per metric per pod, saturation against the
 * request or the limit, unknown values left out, a point per sample).
 * tests/integration/test_kube_metrics.sh runs it against the aggregated metrics API. */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kube_metrics/kube_metrics.h"

static const struct servo_reading *find(const struct servo_measurement *m, const char *metric,
                                        const char *id)
{
    for (size_t i = 0; i < m->reading_count; i++)
        if (strcmp(m->readings[i].metric, metric) == 0 && strcmp(m->readings[i].id, id) == 0)
            return &m->readings[i];
    return NULL;
}

static void test_cpu_cores(void **state)
{
    (void)state;
    double cores;
    const char *why = NULL;
    assert_int_equal(km_cpu_cores("329087452n", &cores, &why), 0);
    assert_true(fabs(cores - 0.329087452) < 1e-12);
    assert_int_equal(km_cpu_cores("1500u", &cores, &why), 0);
    assert_true(fabs(cores - 0.0015) < 1e-12);
    assert_int_equal(km_cpu_cores("250m", &cores, &why), 0);
    assert_true(fabs(cores - 0.25) < 1e-12);
    assert_int_equal(km_cpu_cores("2", &cores, &why), 0);
    assert_true(fabs(cores - 2) < 1e-12);
    assert_int_equal(km_cpu_cores("-1", &cores, &why), -1);
    assert_int_equal(km_cpu_cores("abc", &cores, &why), -1);
    assert_int_equal(km_cpu_cores("99999999999999999999999n", &cores, &why), 0); /* generic */
    assert_true(fabs(cores - 1e14) < 1);
    assert_int_equal(km_cpu_cores("99999999999999999999999999", &cores, &why), -1);
}

static json_t *fixture(void)
{
    json_error_t error;
    json_t *json =
        json_load_file(SERVO_FIXTURES "/metrics-server/pod_metrics_list.json", 0, &error);
    if (json == NULL)
        print_message("fixture: %s\n", error.text);
    assert_non_null(json);
    return json;
}

static void test_parse_recorded(void **state)
{
    (void)state;
    json_t *list = fixture();
    struct km_sample sample = {0};
    char *error = NULL;
    assert_int_equal(km_parse_pod_metrics(list, NULL, KM_MAIN, &sample, &error), 0);
    assert_int_equal(sample.count, 1);
    assert_string_equal(sample.pods[0].name, "resource-consumer-pod");
    assert_int_equal(sample.pods[0].role, KM_MAIN);
    assert_true(fabs(sample.pods[0].usage[KM_CPU] - 0.329087452) < 1e-12);
    assert_true(sample.pods[0].usage[KM_MEMORY] == 2748180.0 * 1024);
    assert_true(isnan(sample.pods[0].request[KM_CPU]));
    /* the container named: the same; another name: an error naming both */
    assert_int_equal(km_parse_pod_metrics(list, "resource-consumer", KM_MAIN, &sample, &error), 0);
    assert_int_equal(sample.count, 1);
    assert_int_equal(km_parse_pod_metrics(list, "app", KM_MAIN, &sample, &error), -1);
    assert_string_equal(error, "PodMetrics \"resource-consumer-pod\" has no container \"app\" "
                               "(containers: resource-consumer)");
    free(error);
    km_sample_free(&sample);
    json_decref(list);
}

static void expect_error(const char *text, const char *container, const char *message)
{
    json_t *list = test_json(text);
    struct km_sample sample = {0};
    char *error = NULL;
    assert_int_equal(km_parse_pod_metrics(list, container, KM_MAIN, &sample, &error), -1);
    if (strcmp(error, message) != 0)
        print_message("expected: %s\n     got: %s\n", message, error);
    assert_string_equal(error, message);
    free(error);
    km_sample_free(&sample);
    json_decref(list);
}

static void test_parse_bad(void **state)
{
    (void)state;
    expect_error("[]", NULL, "the metrics API's answer is not a PodMetricsList (no items)");
    expect_error("{\"items\": {}}", NULL,
                 "the metrics API's answer is not a PodMetricsList (no items)");
    expect_error("{\"items\": [{}]}", NULL, "PodMetrics items[0]: metadata.name is missing");
    expect_error("{\"items\": [{\"metadata\": {\"name\": \"p\"}}]}", NULL,
                 "PodMetrics \"p\": containers is not a list");
    expect_error("{\"items\": [{\"metadata\": {\"name\": \"p\"}, \"containers\": [{\"name\": "
                 "\"a\"}, {\"name\": \"b\"}]}]}",
                 NULL,
                 "PodMetrics \"p\" has several containers (a, b): set `container` to the one to "
                 "measure");
    expect_error("{\"items\": [{\"metadata\": {\"name\": \"p\"}, \"containers\": [{\"name\": "
                 "\"a\", \"usage\": {\"cpu\": \"1\"}}]}]}",
                 NULL, "PodMetrics \"p\": usage.memory is missing or not a string");
    expect_error("{\"items\": [{\"metadata\": {\"name\": \"p\"}, \"containers\": [{\"name\": "
                 "\"a\", \"usage\": {\"cpu\": \"lots\", \"memory\": \"1Ki\"}}]}]}",
                 NULL, "PodMetrics \"p\": usage.cpu \"lots\" is not a quantity (not a number)");
    expect_error("{\"items\": [{\"metadata\": {\"name\": \"p\"}, \"containers\": [{\"name\": "
                 "\"a\", \"usage\": 3}]}]}",
                 NULL, "PodMetrics \"p\": usage is not an object");
}

#define POD(name, role, resources, restarts)                                            \
    "{\"metadata\": {\"name\": \"" name "\", \"labels\": {\"app\": \"web\"" role "}}, " \
    "\"spec\": {\"containers\": [{\"name\": \"web\", \"resources\": " resources "}]}, " \
    "\"status\": {\"containerStatuses\": [{\"name\": \"web\", \"restartCount\": " restarts "}]}}"
#define USAGE(name, cpu, memory)                                                                \
    "{\"metadata\": {\"name\": \"" name "\"}, \"containers\": [{\"name\": \"web\", \"usage\": " \
    "{\"cpu\": \"" cpu "\", \"memory\": \"" memory "\"}}]}"

static void test_series(void **state)
{
    (void)state;
    json_t *pods = test_json(
        "[" POD("web-1", "",
                "{\"requests\": {\"cpu\": \"200m\", \"memory\": \"128Mi\"}, "
                "\"limits\": {\"cpu\": \"400m\", \"memory\": \"256Mi\"}}",
                "2") "," POD("web-tuning", ", \"opsani_role\": \"tuning\"",
                             "{\"limits\": {\"cpu\": \"1\", \"memory\": \"1Gi\"}}", "0") "]");
    json_t *main_usage = test_json("{\"items\": [" USAGE("web-1", "100000000n", "65536Ki") "]}");
    json_t *tuning_usage = test_json("{\"items\": [" USAGE("web-tuning", "250m", "512Mi") "]}");
    bool wanted[KM_METRIC_COUNT];
    for (int i = 0; i < KM_METRIC_COUNT; i++)
        wanted[i] = i != KM_MAIN * KM_QUANTITY_COUNT + KM_MEM_LIMIT;
    struct servo_measurement *m = servo_measurement_new();
    for (int n = 0; n < 2; n++) {
        struct km_sample sample = {0};
        char *error = NULL;
        assert_int_equal(km_parse_pods(pods, NULL, &sample, &error), 0);
        assert_int_equal(km_parse_pod_metrics(main_usage, "web", KM_MAIN, &sample, &error), 0);
        assert_int_equal(km_parse_pod_metrics(tuning_usage, "web", KM_TUNING, &sample, &error), 0);
        km_sample_add(m, &sample, wanted, 1000.0 + n);
        km_sample_free(&sample);
    }
    const struct {
        const char *metric, *id, *unit;
        double value;
    } expected[] = {
        {"main_cpu_usage", "web-1", "", 0.1},
        {"main_cpu_request", "web-1", "", 0.2},
        {"main_cpu_limit", "web-1", "", 0.4},
        {"main_cpu_saturation", "web-1", "%", 50},
        {"main_mem_usage", "web-1", "", 64.0 * 1048576},
        {"main_mem_request", "web-1", "", 128.0 * 1048576},
        {"main_mem_saturation", "web-1", "%", 50},
        {"main_pod_restart_count", "web-1", "count", 2},
        {"tuning_cpu_usage", "web-tuning", "", 0.25},
        {"tuning_cpu_request", "web-tuning", "", 1}, /* the limit stands in */
        {"tuning_cpu_limit", "web-tuning", "", 1},
        {"tuning_cpu_saturation", "web-tuning", "%", 25},
        {"tuning_mem_saturation", "web-tuning", "%", 50},
        {"tuning_pod_restart_count", "web-tuning", "count", 0},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const struct servo_reading *r = find(m, expected[i].metric, expected[i].id);
        if (r == NULL)
            print_message("no series %s of %s\n", expected[i].metric, expected[i].id);
        assert_non_null(r);
        assert_string_equal(r->unit, expected[i].unit);
        assert_int_equal(r->point_count, 2);
        assert_true(r->points[0].time == 1000.0 && r->points[1].time == 1001.0);
        if (fabs(r->points[1].value - expected[i].value) > 1e-9 * fmax(1, expected[i].value))
            print_message("%s: %.17g, expected %.17g\n", expected[i].metric, r->points[1].value,
                          expected[i].value);
        assert_true(fabs(r->points[1].value - expected[i].value) <=
                    1e-9 * fmax(1, expected[i].value));
    }
    assert_null(find(m, "main_mem_limit", "web-1"));      /* not wanted */
    assert_null(find(m, "main_cpu_usage", "web-tuning")); /* the tuning pod is not main */
    assert_int_equal(m->reading_count, 9 + 8 + 0);        /* 9 tuning, 8 main series */
    servo_measurement_free(m);
    json_decref(pods);
    json_decref(main_usage);
    json_decref(tuning_usage);
}

static void test_pods_bad(void **state)
{
    (void)state;
    json_t *pods = test_json("[" POD("web-1", "", "{\"requests\": {\"cpu\": \"fast\"}}", "0") "]");
    struct km_sample sample = {0};
    char *error = NULL;
    assert_int_equal(km_parse_pods(pods, NULL, &sample, &error), -1);
    assert_string_equal(error, "pod \"web-1\": resources.requests.cpu \"fast\" is not a quantity "
                               "(not a number)");
    free(error);
    error = NULL;
    km_sample_free(&sample);
    json_decref(pods);
    pods = test_json("{}");
    assert_int_equal(km_parse_pods(pods, NULL, &sample, &error), -1);
    assert_string_equal(error, "the pod list has no items");
    free(error);
    json_decref(pods);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_cores), cmocka_unit_test(test_parse_recorded),
        cmocka_unit_test(test_parse_bad), cmocka_unit_test(test_series),
        cmocka_unit_test(test_pods_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
