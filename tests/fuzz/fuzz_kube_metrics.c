// SPDX-License-Identifier: Apache-2.0
/* libFuzzer target for what kube_metrics reads from the API server: the input, as JSON, is
 * taken as a PodMetricsList (with no container named, and with "web"), as a pod list's items
 * and as a list object whose items are read, then the sample becomes series. A failure comes
 * with a message; a success leaves named pods whose series hold finite or NaN-free points.
 * No request is sent. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../connectors/kube_metrics/kube_metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sample(const struct km_sample *sample)
{
    for (size_t i = 0; i < sample->count; i++) {
        const struct km_pod *pod = &sample->pods[i];
        if (pod->name == NULL || pod->name[0] == '\0' || pod->role >= KM_ROLE_COUNT)
            abort();
        for (int r = KM_CPU; r <= KM_MEMORY; r++)
            if (pod->usage[r] < 0 || pod->request[r] < 0 || pod->limit[r] < 0)
                abort();
    }
    bool wanted[KM_METRIC_COUNT];
    for (int i = 0; i < KM_METRIC_COUNT; i++)
        wanted[i] = true;
    struct servo_measurement *m = servo_measurement_new();
    km_sample_add(m, sample, wanted, 1.0);
    km_sample_add(m, sample, wanted, 2.0);
    for (size_t i = 0; i < m->reading_count; i++) {
        const struct servo_reading *r = &m->readings[i];
        if (r->id == NULL || r->point_count == 0 || r->point_count > 2)
            abort();
        for (size_t j = 0; j < r->point_count; j++)
            if (isnan(r->points[j].value))
                abort();
    }
    servo_measurement_free(m);
}

static void parse_as(const json_t *json, int how, const char *container)
{
    struct km_sample sample = {0};
    char *error = NULL;
    int rc = how == 0   ? km_parse_pod_metrics(json, container, KM_MAIN, &sample, &error)
             : how == 1 ? km_parse_pods(json, container, &sample, &error)
                        : km_parse_pods(json_object_get(json, "items"), container, &sample, &error);
    if (rc == 0 ? error != NULL : error == NULL || error[0] == '\0')
        abort();
    if (rc == 0)
        check_sample(&sample);
    free(error);
    km_sample_free(&sample);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t error;
    json_t *json = json_loadb((const char *)data, size, JSON_DECODE_ANY, &error);
    if (json == NULL)
        return 0;
    for (int how = 0; how < 3; how++) {
        parse_as(json, how, NULL);
        parse_as(json, how, "web");
    }
    double cores;
    const char *why = NULL;
    if (json_is_string(json) && km_cpu_cores(json_string_value(json), &cores, &why) == 0 &&
        (cores < 0 || isnan(cores)))
        abort();
    json_decref(json);
    return 0;
}
