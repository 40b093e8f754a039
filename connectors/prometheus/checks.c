/* The prometheus connector's checks, as ServoX's PrometheusChecks: the API answers at the base
 * URL (critical), every metric's query runs over the last ten minutes, and Prometheus
 * scrapes at least one target (and every target the settings expect, with its health). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define QUERY_CHECK_WINDOW 600.0 /* seconds */

static const struct prometheus_settings *settings_of(const struct servo_connector *c)
{
    return servo_connector_settings(c);
}

/* ---- Connect to "<base_url>" ------------------------------------------------------------ */

static size_t one_item(struct servo_connector *c)
{
    (void)c;
    return 1;
}

static const char *base_url_label(struct servo_connector *c, size_t index)
{
    (void)index;
    return settings_of(c)->base_url;
}

static int check_base_url(struct servo_connector *c, struct servo_event *event, size_t item,
                          struct servo_check *check)
{
    (void)item;
    struct prom_targets targets;
    const char *reason = NULL;
    char *error = NULL;
    if (prom_targets_fetch(settings_of(c), event, &targets, &reason, &error) != 0) {
        int rc = servo_check_fail(check, "%s", error);
        free(error);
        return rc;
    }
    char *url = prom_api_url(settings_of(c), "/api/v1");
    servo_check_message(check, "%s answered", url);
    free(url);
    prom_targets_free(&targets);
    return 0;
}

/* ---- Run query "<query>" ---------------------------------------------------------------- */

static const struct prometheus_metric *metric_at(const struct servo_connector *c, size_t i)
{
    return &((const struct prometheus_metric *)settings_of(c)->metrics.items)[i];
}

static size_t metric_count(struct servo_connector *c)
{
    return settings_of(c)->metrics.count;
}

static const char *query_label(struct servo_connector *c, size_t index)
{
    return metric_at(c, index)->query;
}

static int check_query(struct servo_connector *c, struct servo_event *event, size_t item,
                       struct servo_check *check)
{
    if (item >= metric_count(c))
        return servo_check_fail(check, "no such metric");
    const struct prometheus_metric *metric = metric_at(c, item);
    char *query = prometheus_metric_query(metric);
    double now = (double)time(NULL);
    struct prom_request request = {.kind = PROM_REQUEST_RANGE,
                                   .query = query,
                                   .start = now - QUERY_CHECK_WINDOW,
                                   .end = now,
                                   .step = servo_duration_seconds(metric->step)};
    prom_perform(settings_of(c), &request, 1, event);
    int rc = 0;
    if (request.status != 0)
        rc = servo_check_fail(check, "%s", request.error);
    else
        servo_check_message(check, "returned %zu results", request.response.series_count);
    prom_request_release(&request);
    free(query);
    return rc;
}

/* ---- Active targets --------------------------------------------------------------------- */

static const char *health_name(int health)
{
    static const char *const names[] = {"up", "down", "unknown"};
    return health >= 0 && health <= PROMETHEUS_HEALTH_UNKNOWN ? names[health] : NULL;
}

static char *describe_expected(const struct prometheus_target *t)
{
    struct servo_buf b = {0};
    if (t->scrape_pool != NULL)
        servo_buf_printf(&b, "pool %s", t->scrape_pool);
    if (t->scrape_url != NULL)
        servo_buf_printf(&b, "%surl %s", b.length ? ", " : "", t->scrape_url);
    if (t->global_url != NULL)
        servo_buf_printf(&b, "%sglobal url %s", b.length ? ", " : "", t->global_url);
    char *const *values = t->labels.values;
    for (size_t i = 0; i < t->labels.count; i++)
        servo_buf_printf(&b, "%s%s=%s", b.length ? ", " : "", t->labels.keys[i], values[i]);
    if (b.length == 0)
        servo_buf_puts(&b, "any target");
    return servo_buf_detach(&b);
}

/* Each expected target must be active (and in the expected health, when given). */
static int check_expected(const struct prometheus_settings *s, const struct prom_targets *active,
                          struct servo_check *check)
{
    const struct prometheus_target *expected = s->targets.items;
    for (size_t i = 0; i < s->targets.count; i++) {
        const struct prom_active_target *found = NULL;
        for (size_t j = 0; j < active->count && found == NULL; j++)
            if (prom_target_matches(&expected[i], &active->items[j]))
                found = &active->items[j];
        const char *health = health_name(expected[i].health);
        if (found != NULL &&
            (health == NULL || (found->health != NULL && strcmp(found->health, health) == 0)))
            continue;
        char *text = describe_expected(&expected[i]);
        int rc = found == NULL ? servo_check_fail(check, "expected target (%s) is not active", text)
                               : servo_check_fail(check, "target (%s) is %s, expected %s", text,
                                                  found->health ? found->health
                                                                : "of unknown "
                                                                  "health",
                                                  health);
        free(text);
        return rc;
    }
    return 0;
}

static int check_targets(struct servo_connector *c, struct servo_event *event, size_t item,
                         struct servo_check *check)
{
    (void)item;
    const struct prometheus_settings *s = settings_of(c);
    struct prom_targets targets;
    const char *reason = NULL;
    char *error = NULL;
    if (prom_targets_fetch(s, event, &targets, &reason, &error) != 0) {
        int rc = servo_check_fail(check, "%s", error);
        free(error);
        return rc;
    }
    int rc = 0;
    if (targets.count == 0) {
        rc = servo_check_fail(check, "no targets are being scraped by Prometheus");
    } else if (check_expected(s, &targets, check) == 0) {
        size_t up = 0;
        for (size_t i = 0; i < targets.count; i++)
            up += targets.items[i].health != NULL && strcmp(targets.items[i].health, "up") == 0;
        servo_check_message(check, "found %zu targets (%zu up)", targets.count, up);
    } else {
        rc = -1;
    }
    prom_targets_free(&targets);
    return rc;
}

const struct servo_check_def prometheus_checks[] = {
    {.name = "Connect to \"{item}\"",
     .id = "check_base_url",
     .description = "The Prometheus API answers at the base URL.",
     .severity = SERVO_SEVERITY_CRITICAL,
     .tags = "prometheus,connectivity",
     .hint = "Check base_url, the network path to Prometheus, and the credentials.",
     .run = check_base_url,
     .item_count = one_item,
     .item_label = base_url_label},
    {.name = "Run query \"{item}\"",
     .id = "check_queries",
     .description = "The metric's PromQL query runs (over the last 10 minutes).",
     .tags = "prometheus,queries",
     .hint = "Try the query in the Prometheus expression browser.",
     .run = check_query,
     .item_count = metric_count,
     .item_label = query_label},
    {.name = "Active targets",
     .id = "check_targets",
     .description = "Prometheus is scraping targets, including every one the settings expect.",
     .tags = "prometheus,targets",
     .hint = "See `servo prometheus targets` and the scrape configuration of Prometheus.",
     .run = check_targets},
    {.name = NULL},
};
