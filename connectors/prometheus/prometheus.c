/* The prometheus connector's settings: the server, the metrics (PromQL queries), expected
 * targets, fast-fail on SLO violations, and authentication; and the plugin itself. The
 * behaviour is in the other files: measure.c (describe, metrics, measure), fastfail.c (SLO
 * conditions), query.c (HTTP), response.c (the streaming response parser), checks.c, and
 * targets.c (`servo prometheus targets`). */
#include "prometheus.h"

#include <stddef.h>
#include <string.h>

#include "internal.h"

static const char *const unit_choices[] = {"",      "%",   "ms",  "bytes", "GiB",
                                           "cores", "rpm", "rps", NULL};
static const char *const absent_choices[] = {"ignore", "zero", "warn", "fail", NULL};
static const char *const health_choices[] = {"up", "down", "unknown", NULL};

#define MS_NS 1e6

const char *prometheus_unit_name(int unit)
{
    size_t count = sizeof unit_choices / sizeof unit_choices[0] - 1;
    return unit >= 0 && (size_t)unit < count ? unit_choices[unit] : "";
}

char *prometheus_metric_query(const struct prometheus_metric *metric)
{
    if (metric->absent == PROMETHEUS_ABSENT_ZERO)
        return servo_strdup_printf("(%s) or on() vector(0)", metric->query);
    return servo_xstrdup(metric->query);
}

/* ---- validators ------------------------------------------------------------------------- */

static int validate_metrics(const void *value, struct servo_validation *v)
{
    const struct servo_list *list = value;
    const struct prometheus_metric *metrics = list->items;
    for (size_t i = 1; i < list->count; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(metrics[i].name, metrics[j].name) == 0)
                return servo_validation_error(v, NULL,
                                              "duplicate metric name \"%s\" (metrics[%zu] and "
                                              "metrics[%zu])",
                                              metrics[i].name, j, i);
    return 0;
}

static int validate_settings(const void *settings, struct servo_validation *v)
{
    const struct prometheus_settings *s = settings;
    if (s->username != NULL && s->password == NULL)
        return servo_validation_error(v, "username", "username requires a password");
    if (s->password != NULL && s->username == NULL)
        return servo_validation_error(v, "password", "password requires a username");
    if (s->bearer_token != NULL && s->username != NULL)
        return servo_validation_error(v, "bearer_token",
                                      "bearer_token and username/password cannot both be given");
    return 0;
}

/* ---- the tables ------------------------------------------------------------------------- */

static const struct servo_field metric_fields[] = {
    {.name = "name",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_metric, name),
     .flags = SERVO_F_REQUIRED,
     .pattern = "^[A-Za-z_][A-Za-z0-9_.:-]*$",
     .description = "The name of the metric, unique within the connector."},
    {.name = "unit",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct prometheus_metric, unit),
     .def = "''",
     .choices = unit_choices,
     .description = "The unit of the metric: \"\" (a plain number), % (percentage), ms, bytes, "
                    "GiB, cores, rpm (requests per minute) or rps (requests per second)."},
    {.name = "query",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_metric, query),
     .flags = SERVO_F_REQUIRED | SERVO_F_NONEMPTY,
     .description = "A PromQL query that returns the value of the metric."},
    {.name = "step",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_metric, step),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .def = "1m",
     .description = "The resolution of the range query: the time between data points."},
    {.name = "absent",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct prometheus_metric, absent),
     .def = "ignore",
     .choices = absent_choices,
     .description = "What to do when the query returns no data: ignore it, zero (report a "
                    "vector of zeros), warn (log a warning) or fail (fail the measurement)."},
    SERVO_FIELDS_END,
};

static const struct servo_schema metric_schema = {
    .title = "PrometheusMetric",
    .description = "A metric measured by querying Prometheus.",
    .size = sizeof(struct prometheus_metric),
    .fields = metric_fields,
};

static const struct servo_field label_value = {.type = SERVO_FIELD_STRING,
                                               .description = "A label value."};

static const struct servo_field target_fields[] = {
    {.name = "scrapePool",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_target, scrape_pool),
     .description = "The scrape pool (job) the target belongs to."},
    {.name = "scrapeUrl",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_target, scrape_url),
     .description = "The URL metrics are scraped from."},
    {.name = "globalUrl",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_target, global_url),
     .description = "An externally reachable URL of the target."},
    {.name = "health",
     .type = SERVO_FIELD_ENUM,
     .offset = offsetof(struct prometheus_target, health),
     .choices = health_choices,
     .description = "The expected health of the target: up, down or unknown."},
    {.name = "labels",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct prometheus_target, labels),
     .item = &label_value,
     .description = "Labels of the target after relabelling, e.g. {job: app, instance: "
                    "10.0.0.1:8080}."},
    {.name = "discoveredLabels",
     .type = SERVO_FIELD_MAP,
     .offset = offsetof(struct prometheus_target, discovered_labels),
     .item = &label_value,
     .description = "Labels of the target as discovered, before relabelling."},
    {.name = "lastScrape",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_target, last_scrape),
     .description = "When the target was last scraped (RFC 3339); informational."},
    {.name = "lastScrapeDuration",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_target, last_scrape_duration),
     .description = "How long the last scrape took; informational."},
    {.name = "lastError",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_target, last_error),
     .description = "The last scrape error, if any; informational."},
    SERVO_FIELDS_END,
};

static const struct servo_schema target_schema = {
    .title = "ActiveTarget",
    .description = "An active target Prometheus is expected to scrape, in the shape of the "
                   "targets API (/api/v1/targets); every key is optional.",
    .size = sizeof(struct prometheus_target),
    .fields = target_fields,
};

static const struct servo_field fast_fail_fields[] = {
    {.name = "disabled",
     .type = SERVO_FIELD_INT,
     .offset = offsetof(struct prometheus_fast_fail, disabled),
     .flags = SERVO_F_MIN | SERVO_F_MAX,
     .min = 0,
     .max = 1,
     .def = "0",
     .description = "1 disables fast fail; 0 enables it when the control carries SLO "
                    "conditions."},
    {.name = "period",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_fast_fail, period),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .def = "1m",
     .description = "How often the SLO conditions are checked during a measurement."},
    {.name = "span",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_fast_fail, span),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .description = "The window of metrics each check evaluates; the period when not given."},
    {.name = "skip",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_fast_fail, skip),
     .flags = SERVO_F_MIN,
     .min = 0,
     .def = "0",
     .description = "How long to wait after the measurement starts before the first check."},
    {.name = "treat_zero_as_missing",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct prometheus_fast_fail, treat_zero_as_missing),
     .def = "false",
     .description = "Treat metrics whose value is zero as missing."},
    SERVO_FIELDS_END,
};

static const struct servo_schema fast_fail_schema = {
    .title = "FastFailConfiguration",
    .description = "Ends a measurement early when SLO violations are observed.",
    .size = sizeof(struct prometheus_fast_fail),
    .fields = fast_fail_fields,
};

static const struct servo_field metric_item = {.type = SERVO_FIELD_OBJECT,
                                               .object = &metric_schema};
static const struct servo_field target_item = {.type = SERVO_FIELD_OBJECT,
                                               .object = &target_schema};

static const struct servo_field prometheus_fields[] = {
    {.name = "description",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_settings, description),
     .description = "An optional description of the configuration."},
    {.name = "base_url",
     .type = SERVO_FIELD_URL,
     .offset = offsetof(struct prometheus_settings, base_url),
     .def = "https://prometheus:9090",
     .description = "The base URL of the Prometheus server; the API is under /api/v1."},
    {.name = "streaming_interval",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_settings, streaming_interval),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .description = "Accepted for compatibility with ServoX; unused."},
    {.name = "metrics",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct prometheus_settings, metrics),
     .flags = SERVO_F_REQUIRED,
     .item = &metric_item,
     .validate = validate_metrics,
     .description = "The metrics to measure; names must be unique."},
    {.name = "targets",
     .type = SERVO_FIELD_LIST,
     .offset = offsetof(struct prometheus_settings, targets),
     .item = &target_item,
     .description = "Optional active targets Prometheus is expected to scrape, in the shape of "
                    "the targets API: {scrapePool, scrapeUrl, globalUrl, health, labels, "
                    "discoveredLabels, lastScrape, lastScrapeDuration, lastError}, all optional."},
    {.name = "fast_fail",
     .type = SERVO_FIELD_OBJECT,
     .offset = offsetof(struct prometheus_settings, fast_fail),
     .object = &fast_fail_schema,
     .description = "Ending measurements early on SLO violations."},
    {.name = "bearer_token",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct prometheus_settings, bearer_token),
     .flags = SERVO_F_NONEMPTY,
     .description = "A bearer token sent in the Authorization header; excludes username and "
                    "password."},
    {.name = "username",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_settings, username),
     .flags = SERVO_F_NONEMPTY,
     .description = "The user name for HTTP basic authentication; requires password."},
    {.name = "password",
     .type = SERVO_FIELD_SECRET,
     .offset = offsetof(struct prometheus_settings, password),
     .description = "The password for HTTP basic authentication; requires username."},
    {.name = "ca_file",
     .type = SERVO_FIELD_STRING,
     .offset = offsetof(struct prometheus_settings, ca_file),
     .flags = SERVO_F_NONEMPTY,
     .description = "A PEM file of certificate authorities to verify the server with."},
    {.name = "insecure",
     .type = SERVO_FIELD_BOOL,
     .offset = offsetof(struct prometheus_settings, insecure),
     .def = "false",
     .description = "Skip verification of the server's TLS certificate."},
    {.name = "timeout",
     .type = SERVO_FIELD_DURATION,
     .offset = offsetof(struct prometheus_settings, timeout),
     .flags = SERVO_F_MIN,
     .min = MS_NS,
     .def = "30s",
     .description = "The timeout of each request to Prometheus."},
    SERVO_FIELDS_END,
};

static const struct servo_schema prometheus_schema = {
    .title = "Prometheus Connector Configuration Schema",
    .description = "How the prometheus connector captures measurements from the Prometheus "
                   "metrics server.",
    .size = sizeof(struct prometheus_settings),
    .fields = prometheus_fields,
    .validate = validate_settings,
};

const struct servo_connector_plugin servo_connector_prometheus = {
    SERVO_CONNECTOR_HEADER,
    .name = "prometheus",
    .class_name = "PrometheusConnector",
    .version = "1.5.0",
    .description = "Prometheus Connector for Opsani",
    .homepage = "https://github.com/opsani/prometheus-connector",
    .license = "Apache 2.0",
    .maturity = "Stable",
    .settings = &prometheus_schema,
    .generate = "description: Update the base_url and metrics to match your Prometheus "
                "configuration\n"
                "base_url: http://prometheus:9090\n"
                "metrics:\n"
                "- name: throughput\n"
                "  unit: rps\n"
                "  query: rate(http_requests_total[5m])\n"
                "- name: error_rate\n"
                "  unit: '%'\n"
                "  query: rate(errors[5m])\n",
    .handlers = prometheus_handlers,
    .checks = prometheus_checks,
    .commands = prometheus_commands,
};
