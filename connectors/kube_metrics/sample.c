// SPDX-License-Identifier: Apache-2.0
/* kube_metrics: what the API server answers (a PodMetricsList from the metrics API, a pod
 * list) read into a sample, and a sample into series. Both answers are outside input: every
 * field is checked for its type, and a missing or malformed one is an error naming the item
 * and the field. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kube_metrics.h"
#include "servo/alloc.h"
#include "servo/buf.h"
#include "servo/util.h"

static const char *resource_key[] = {"cpu", "memory"};

/* ---- quantities ------------------------------------------------------------------------- */

/* Digits and a one-letter suffix with `scale` (n: 1e-9, u: 1e-6): exact where the generic
 * parser rounds to millicores. 0 when it applies, 1 when it does not, -1 when too large. */
static int small_unit_cores(const char *text, double *cores)
{
    size_t length = strlen(text);
    if (length < 2 || length > 20 || (text[length - 1] != 'n' && text[length - 1] != 'u'))
        return 1;
    for (size_t i = 0; i + 1 < length; i++)
        if (text[i] < '0' || text[i] > '9')
            return 1;
    errno = 0;
    unsigned long long n = strtoull(text, NULL, 10);
    if (errno != 0)
        return -1;
    *cores = (double)n / (text[length - 1] == 'n' ? 1e9 : 1e6);
    return 0;
}

int km_cpu_cores(const char *text, double *cores, const char **why)
{
    int rc = small_unit_cores(text, cores);
    if (rc <= 0) {
        *why = "too large";
        return rc;
    }
    int64_t millicores;
    if (kube_cpu_quantity(text, &millicores, why) != 0)
        return -1;
    *cores = (double)millicores / 1000.0;
    return 0;
}

static int quantity_value(enum km_resource resource, const char *text, double *value,
                          const char **why)
{
    if (resource == KM_CPU)
        return km_cpu_cores(text, value, why);
    int64_t bytes;
    if (kube_memory_quantity(text, &bytes, why) != 0)
        return -1;
    *value = (double)bytes;
    return 0;
}

/* ---- the sample ------------------------------------------------------------------------- */

static struct km_pod *find_pod(struct km_sample *sample, const char *name)
{
    for (size_t i = 0; i < sample->count; i++)
        if (strcmp(sample->pods[i].name, name) == 0)
            return &sample->pods[i];
    return NULL;
}

static struct km_pod *pod_of(struct km_sample *sample, const char *name, enum km_role role)
{
    struct km_pod *pod = find_pod(sample, name);
    if (pod != NULL)
        return pod;
    if (sample->count == sample->capacity) {
        sample->capacity = sample->capacity ? 2 * sample->capacity : 4;
        sample->pods = servo_xrealloc(sample->pods, sample->capacity * sizeof *sample->pods);
    }
    pod = &sample->pods[sample->count++];
    *pod = (struct km_pod){.name = servo_xstrdup(name),
                           .role = role,
                           .usage = {NAN, NAN},
                           .request = {NAN, NAN},
                           .limit = {NAN, NAN},
                           .restarts = NAN};
    return pod;
}

void km_sample_free(struct km_sample *sample)
{
    for (size_t i = 0; i < sample->count; i++)
        free(sample->pods[i].name);
    free(sample->pods);
    memset(sample, 0, sizeof *sample);
}

/* ---- containers ------------------------------------------------------------------------- */

/* "a, b" (caller frees). */
static char *container_names(const json_t *containers)
{
    struct servo_buf b = {0};
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        servo_buf_printf(&b, "%s%s", i ? ", " : "", name ? name : "(unnamed)");
    }
    if (b.length == 0)
        servo_buf_puts(&b, "none");
    return servo_buf_detach(&b);
}

/* The target container of `containers` (borrowed), or NULL with a message naming `where`. */
static const json_t *target_container(const json_t *containers, const char *container,
                                      const char *where, char **error)
{
    if (!json_is_array(containers)) {
        *error = servo_strdup_printf("%s: containers is not a list", where);
        return NULL;
    }
    if (container == NULL && json_array_size(containers) == 1)
        return json_array_get(containers, 0);
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (container != NULL && name != NULL && strcmp(name, container) == 0)
            return c;
    }
    char *names = container_names(containers);
    if (container != NULL)
        *error = servo_strdup_printf("%s has no container \"%s\" (containers: %s)", where,
                                     container, names);
    else
        *error = servo_strdup_printf("%s has several containers (%s): set `container` to the "
                                     "one to measure",
                                     where, names);
    free(names);
    return NULL;
}

/* ---- the metrics API -------------------------------------------------------------------- */

static int read_usage(const json_t *usage, const char *where, struct km_pod *pod, char **error)
{
    if (!json_is_object(usage)) {
        *error = servo_strdup_printf("%s: usage is not an object", where);
        return -1;
    }
    for (int r = KM_CPU; r <= KM_MEMORY; r++) {
        const char *text = json_string_value(json_object_get(usage, resource_key[r]));
        const char *why = NULL;
        if (text == NULL) {
            *error = servo_strdup_printf("%s: usage.%s is missing or not a string", where,
                                         resource_key[r]);
            return -1;
        }
        if (quantity_value(r, text, &pod->usage[r], &why) != 0) {
            char *quoted = kube_quote(text, 40);
            *error = servo_strdup_printf("%s: usage.%s \"%s\" is not a quantity (%s)", where,
                                         resource_key[r], quoted, why);
            free(quoted);
            return -1;
        }
    }
    return 0;
}

static int read_pod_metrics(const json_t *item, size_t index, const char *container,
                            enum km_role role, struct km_sample *sample, char **error)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
    if (name == NULL || name[0] == '\0') {
        *error = servo_strdup_printf("PodMetrics items[%zu]: metadata.name is missing", index);
        return -1;
    }
    char *quoted = kube_quote(name, 80);
    char *where = servo_strdup_printf("PodMetrics \"%s\"", quoted);
    free(quoted);
    const json_t *c =
        target_container(json_object_get(item, "containers"), container, where, error);
    struct km_pod scratch = {.usage = {NAN, NAN}};
    int rc = c != NULL ? read_usage(json_object_get(c, "usage"), where, &scratch, error) : -1;
    free(where);
    if (rc != 0)
        return -1;
    struct km_pod *pod = pod_of(sample, name, role);
    pod->usage[KM_CPU] = scratch.usage[KM_CPU];
    pod->usage[KM_MEMORY] = scratch.usage[KM_MEMORY];
    return 0;
}

int km_parse_pod_metrics(const json_t *list, const char *container, enum km_role role,
                         struct km_sample *sample, char **error)
{
    const json_t *items = json_object_get(list, "items");
    if (!json_is_object(list) || !json_is_array(items)) {
        *error = servo_strdup_printf("the metrics API's answer is not a PodMetricsList (no "
                                     "items)");
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if (read_pod_metrics(item, i, container, role, sample, error) != 0)
            return -1;
    }
    return 0;
}

/* ---- pods ------------------------------------------------------------------------------- */

/* resources.requests.cpu and the like; NaN when absent. */
static int read_requirement(const json_t *resources, const char *which, enum km_resource r,
                            double *value, const char *where, char **error)
{
    const json_t *v = json_object_get(json_object_get(resources, which), resource_key[r]);
    if (v == NULL)
        return 0;
    const char *text = json_string_value(v);
    const char *why = "not a string";
    if (text != NULL && quantity_value(r, text, value, &why) == 0)
        return 0;
    char *quoted = text ? kube_quote(text, 40) : NULL;
    *error = servo_strdup_printf("%s: resources.%s.%s %s%s%sis not a quantity (%s)", where, which,
                                 resource_key[r], quoted ? "\"" : "", quoted ? quoted : "",
                                 quoted ? "\" " : "", why);
    free(quoted);
    return -1;
}

static double restart_count(const json_t *status)
{
    double total = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(status, "containerStatuses"), i, s)
    {
        json_int_t n = json_integer_value(json_object_get(s, "restartCount"));
        if (n > 0)
            total += (double)n;
    }
    return total;
}

static int read_pod(const json_t *pod, size_t index, const char *container,
                    struct km_sample *sample, char **error)
{
    const json_t *metadata = json_object_get(pod, "metadata");
    const char *name = json_string_value(json_object_get(metadata, "name"));
    if (name == NULL || name[0] == '\0') {
        *error = servo_strdup_printf("pods items[%zu]: metadata.name is missing", index);
        return -1;
    }
    const char *role =
        json_string_value(json_object_get(json_object_get(metadata, "labels"), "opsani_role"));
    char *quoted = kube_quote(name, 80);
    char *where = servo_strdup_printf("pod \"%s\"", quoted);
    free(quoted);
    struct km_pod read = {.request = {NAN, NAN}, .limit = {NAN, NAN}};
    const json_t *c = target_container(json_object_get(json_object_get(pod, "spec"), "containers"),
                                       container, where, error);
    int rc = c == NULL ? -1 : 0;
    const json_t *resources = json_object_get(c, "resources");
    for (int r = KM_CPU; r <= KM_MEMORY && rc == 0; r++)
        rc = read_requirement(resources, "requests", r, &read.request[r], where, error) ||
             read_requirement(resources, "limits", r, &read.limit[r], where, error);
    free(where);
    if (rc != 0)
        return -1;
    bool tuning = role != NULL && strcmp(role, "tuning") == 0;
    struct km_pod *p = pod_of(sample, name, tuning ? KM_TUNING : KM_MAIN);
    memcpy(p->request, read.request, sizeof p->request);
    memcpy(p->limit, read.limit, sizeof p->limit);
    p->restarts = restart_count(json_object_get(pod, "status"));
    return 0;
}

int km_parse_pods(const json_t *items, const char *container, struct km_sample *sample,
                  char **error)
{
    if (!json_is_array(items)) {
        *error = servo_strdup_printf("the pod list has no items");
        return -1;
    }
    size_t i;
    json_t *pod;
    json_array_foreach(items, i, pod)
    {
        if (read_pod(pod, i, container, sample, error) != 0)
            return -1;
    }
    return 0;
}

/* ---- series ----------------------------------------------------------------------------- */

static double saturation(const struct km_pod *pod, enum km_resource r)
{
    double base = isnan(pod->request[r]) ? pod->limit[r] : pod->request[r];
    if (isnan(base) || base <= 0 || isnan(pod->usage[r]))
        return NAN;
    return 100.0 * pod->usage[r] / base;
}

static double quantity_of(const struct km_pod *pod, enum km_quantity q)
{
    switch (q) {
    case KM_CPU_USAGE:
        return pod->usage[KM_CPU];
    case KM_CPU_REQUEST:
        return isnan(pod->request[KM_CPU]) ? pod->limit[KM_CPU] : pod->request[KM_CPU];
    case KM_CPU_LIMIT:
        return pod->limit[KM_CPU];
    case KM_CPU_SATURATION:
        return saturation(pod, KM_CPU);
    case KM_MEM_USAGE:
        return pod->usage[KM_MEMORY];
    case KM_MEM_REQUEST:
        return isnan(pod->request[KM_MEMORY]) ? pod->limit[KM_MEMORY] : pod->request[KM_MEMORY];
    case KM_MEM_LIMIT:
        return pod->limit[KM_MEMORY];
    case KM_MEM_SATURATION:
        return saturation(pod, KM_MEMORY);
    case KM_POD_RESTART_COUNT:
        return pod->restarts;
    case KM_QUANTITY_COUNT:
        break;
    }
    return NAN;
}

/* The series of `metric` for `id`, made when new. */
static struct servo_reading *series_of(struct servo_measurement *m, int metric, const char *id)
{
    const char *name = km_metric_names[metric];
    for (size_t i = 0; i < m->reading_count; i++) {
        struct servo_reading *r = &m->readings[i];
        if (r->id != NULL && strcmp(r->metric, name) == 0 && strcmp(r->id, id) == 0)
            return r;
    }
    return servo_measurement_series(m, name, km_metric_unit(metric), id);
}

void km_sample_add(struct servo_measurement *m, const struct km_sample *sample,
                   const bool wanted[KM_METRIC_COUNT], double time)
{
    for (size_t i = 0; i < sample->count; i++) {
        const struct km_pod *pod = &sample->pods[i];
        for (int q = 0; q < KM_QUANTITY_COUNT; q++) {
            int metric = (int)pod->role * KM_QUANTITY_COUNT + q;
            double value = quantity_of(pod, q);
            if (wanted[metric] && !isnan(value))
                servo_reading_add(series_of(m, metric, pod->name), time, value);
        }
    }
}
