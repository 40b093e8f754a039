/* Local operational commands: describe, measure, adjust, and `show components|metrics|events`
 * -- the connectors driven from the command line, with no optimizer involved. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "events/bus.h"
#include "events/servo_runtime.h"
#include "util/util.h"
#include "util/json_text.h"

int show_components(struct cli *cli, struct servo_config *servo);
int show_metrics(struct cli *cli, struct servo_config *servo);
int show_events(const struct servo_connector *connectors, size_t count, bool by_connector,
                unsigned prepositions);

static void print_json_value(json_t *value)
{
    char *text = json_text(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
}

/* Names given on the command line must be instances of the servo. */
static int check_instances(const struct servo_config *servo, char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t j = 0; j < servo->connector_count && !found; j++)
            found = strcmp(servo->connectors[j].name, names[i]) == 0;
        if (!found) {
            cli_error("no connector named \"%s\" in servo \"%s\"", names[i], servo->name);
            return -1;
        }
    }
    return 0;
}

static const char **include_list(char **names, size_t count)
{
    if (count == 0)
        return NULL;
    const char **list = xcalloc(count + 1, sizeof *list);
    for (size_t i = 0; i < count; i++)
        list[i] = names[i];
    return list;
}

static int dispatch(struct servo_config *servo, const char *event, const struct event_args *args,
                    const char **include, struct bus_outcome *out)
{
    struct bus_options options = {.include = include, .progress = cli_progress};
    int rc = bus_dispatch(servo->connectors, servo->connector_count, event, args, &options, out);
    cli_progress_done();
    if (rc != 0)
        cli_print_event_error(event, &out->error, out->additional, out->additional_count);
    return rc;
}

static char *format_value(const struct servo_setting *s)
{
    if (!s->has_value)
        return xstrdup("?");
    if (s->kind == SERVO_SETTING_ENUM)
        return xstrdup(s->text_value ? s->text_value : "?");
    if (s->unit && strcmp(s->unit, "cores") == 0) {
        char buf[SERVO_VALUE_TEXT_MAX];
        int64_t millicores = 0;
        if (servo_cpu_from_cores(s->value, &millicores, NULL) == 0) {
            servo_cpu_format(millicores, buf);
            return xstrdup(buf);
        }
    }
    if (s->unit && strcmp(s->unit, "GiB") == 0) {
        char buf[SERVO_VALUE_TEXT_MAX];
        int64_t bytes = 0;
        if (servo_memory_from_gib(s->value, &bytes, NULL) == 0) {
            servo_memory_format(bytes, buf);
            return xstrdup(buf);
        }
    }
    return xasprintf("%g", s->value);
}

static char *components_text(const struct servo_description *d)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < d->component_count; i++) {
        const struct servo_component *c = &d->components[i];
        for (size_t j = 0; j < c->setting_count; j++) {
            char *value = format_value(&c->settings[j]);
            strbuf_printf(&sb, "%s%s.%s=%s", sb.len ? "\n" : "", c->name, c->settings[j].name,
                          value);
            free(value);
        }
    }
    return strbuf_detach(&sb);
}

static char *metrics_text(const struct servo_description *d)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < d->metric_count; i++)
        strbuf_printf(&sb, "%s%s (%s)", sb.len ? "\n" : "", d->metrics[i].name,
                      d->metrics[i].unit && d->metrics[i].unit[0] ? d->metrics[i].unit : "-");
    return strbuf_detach(&sb);
}

static void print_description_table(const struct bus_outcome *out)
{
    static const char *const header[] = {"CONNECTOR", "COMPONENTS", "METRICS"};
    struct table t;
    table_init(&t, 3, header);
    for (size_t i = 0; i < out->count; i++) {
        const struct servo_description *d = out->results[i].description;
        if (d == NULL)
            continue;
        char *components = components_text(d), *metrics = metrics_text(d);
        const char *row[] = {out->results[i].connector, components, metrics};
        table_add(&t, row);
        free(components);
        free(metrics);
    }
    table_print(&t, stdout);
    table_free(&t);
}

static int parse_format_only(int argc, char **argv, const char *name, int *format)
{
    const struct cli_command *self = cli_find_command(name);
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout), -1;
        if (c == 'f' && (*format = cli_option_choice(self, 'f', optarg)) < 0)
            return EXIT_USAGE;
    }
    return 0;
}

/* Dispatches describe to the selected connectors; the merged description on success. */
static struct servo_description *describe(struct servo_config *servo, const char **include,
                                          struct bus_outcome *out)
{
    struct event_args args;
    event_args_init(&args);
    int rc = dispatch(servo, SERVO_EVENT_DESCRIBE, &args, include, out);
    event_args_free(&args);
    return rc == 0 ? bus_outcome_description(out) : NULL;
}

int cmd_describe(struct cli *cli, int argc, char **argv)
{
    int format = 0;
    int rc = parse_format_only(argc, argv, "describe", &format);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    struct servo_config *servo;
    if (cli_attach(cli, &servo) != 0)
        return cli->failure;
    if (check_instances(servo, argv + optind, (size_t)(argc - optind)) != 0)
        return EXIT_USAGE;
    const char **include = include_list(argv + optind, (size_t)(argc - optind));
    struct bus_outcome out;
    struct servo_description *d = describe(servo, include, &out);
    free(include);
    if (d != NULL) {
        if (format == 1) {
            json_t *json = servo_description_to_json(d);
            print_json_value(json);
            json_decref(json);
        } else {
            print_description_table(&out);
        }
    }
    servo_description_free(d);
    bus_outcome_free(&out);
    return d ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
}

/* ---- measure --------------------------------------------------------------------------- */

/* Every metric the connectors report, from the metrics event or else describe. A failure
 * is reported (when `report`) and leaves out what the failing connectors would have said. */
static struct servo_description *known_metrics(struct servo_config *servo, const char **include,
                                               bool report, bool *failed)
{
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    struct bus_options options = {.include = include};
    const char *event = SERVO_EVENT_METRICS;
    int rc = bus_dispatch(servo->connectors, servo->connector_count, event, &args, &options, &out);
    struct servo_description *d = bus_outcome_description(&out);
    if (d->metric_count == 0) {
        servo_description_free(d);
        bus_outcome_free(&out);
        event = SERVO_EVENT_DESCRIBE;
        rc = bus_dispatch(servo->connectors, servo->connector_count, event, &args, &options, &out);
        d = bus_outcome_description(&out);
    }
    if (rc != 0 && report)
        cli_print_event_error(event, &out.error, out.additional, out.additional_count);
    if (failed)
        *failed = rc != 0;
    bus_outcome_free(&out);
    event_args_free(&args);
    return d;
}

/* "3 minutes ago", "in 2 hours", "just now": as ServoX's timeago. */
static void time_ago(double when, double now, char *out, size_t size)
{
    static const struct {
        double seconds;
        const char *unit;
    } units[] = {{365 * 86400.0, "year"}, {30 * 86400.0, "month"}, {7 * 86400.0, "week"},
                 {86400.0, "day"},        {3600.0, "hour"},        {60.0, "minute"},
                 {1.0, "second"}};
    double delta = now - when, magnitude = delta < 0 ? -delta : delta;
    if (magnitude < 1.0) {
        snprintf(out, size, "just now");
        return;
    }
    size_t u = 0;
    while (u + 1 < ARRAY_LEN(units) && magnitude < units[u].seconds)
        u++;
    long n = (long)(magnitude / units[u].seconds);
    snprintf(out, size, "%s%ld %s%s%s", delta < 0 ? "in " : "", n, units[u].unit, n == 1 ? "" : "s",
             delta < 0 ? "" : " ago");
}

struct reading_style {
    bool humanize; /* times as "3 minutes ago" (default), else as timestamps */
    bool verbose;  /* both, and the annotations */
};

static void point_time(double time, const struct reading_style *style, char *out, size_t size)
{
    char stamp[32], ago[48];
    time_t t = (time_t)time;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    time_ago(time, clock_wall(), ago, sizeof ago);
    if (style->verbose)
        snprintf(out, size, " (%s, %s)", ago, stamp);
    else
        snprintf(out, size, " (%s)", style->humanize ? ago : stamp);
}

static char *reading_lines(const struct servo_reading *r, const char *connector,
                           const struct reading_style *style)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < r->point_count; i++) {
        /* a data point decoded from the wire has no time (0): show none */
        char when[96] = "";
        if (r->points[i].time != 0)
            point_time(r->points[i].time, style, when, sizeof when);
        strbuf_printf(&sb, "%s%.2f%s [%s%s%s]", i ? "\n" : "", r->points[i].value, when, connector,
                      r->id ? " " : "", r->id ? r->id : "");
    }
    return strbuf_detach(&sb);
}

static void print_measurement_table(const struct bus_outcome *out,
                                    const struct reading_style *style)
{
    static const char *const header[] = {"METRIC", "UNIT", "READINGS"};
    struct table t;
    table_init(&t, 3, header);
    for (size_t i = 0; i < out->count; i++) {
        const struct servo_measurement *m = out->results[i].measurement;
        for (size_t j = 0; m && j < m->reading_count; j++) {
            const struct servo_reading *r = &m->readings[j];
            char *lines = reading_lines(r, out->results[i].connector, style);
            const char *row[] = {r->metric, r->unit && r->unit[0] ? r->unit : "-", lines};
            table_add(&t, row);
            free(lines);
        }
    }
    table_print(&t, stdout);
    table_free(&t);
    for (size_t i = 0; style->verbose && i < out->count; i++) {
        const struct servo_measurement *m = out->results[i].measurement;
        for (size_t j = 0; m && j < m->annotation_count; j++)
            printf("%s%s: %s\n", j == 0 ? "\nannotations:\n  " : "  ", m->annotation_keys[j],
                   m->annotation_values[j]);
    }
}

struct measure_options {
    int format;
    servo_duration duration;
    bool duration_given;
    servo_duration warmup;
    bool warmup_given;
    const char *control; /* --control: JSON text, or @FILE */
    char **connectors;
    size_t connector_count;
    struct reading_style style;
};

static int parse_measure_options(int argc, char **argv, struct measure_options *o)
{
    const struct cli_command *self = cli_find_command("measure");
    const char *why = NULL;
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        switch (c) {
        case -2:
            return EXIT_USAGE;
        case 'h':
            cli_help(self, stdout);
            return -1;
        case 'c':
            o->connectors = xrealloc(o->connectors, (o->connector_count + 1) * sizeof(char *));
            o->connectors[o->connector_count++] = optarg;
            break;
        case 'd':
            if (servo_duration_parse(optarg, &o->duration, &why) != 0 || o->duration < 0) {
                cli_error("measure: invalid duration \"%s\": %s", optarg, why ? why : "negative");
                return EXIT_USAGE;
            }
            o->duration_given = true;
            break;
        case OPT_WARMUP:
            if (servo_duration_parse(optarg, &o->warmup, &why) != 0 || o->warmup < 0) {
                cli_error("measure: invalid warmup \"%s\": %s", optarg, why ? why : "negative");
                return EXIT_USAGE;
            }
            o->warmup_given = true;
            break;
        case OPT_CONTROL:
            o->control = optarg;
            break;
        case 'v':
            o->style.verbose = true;
            break;
        case OPT_HUMANIZE:
        case OPT_NO_HUMANIZE:
            o->style.humanize = c == OPT_HUMANIZE;
            break;
        case 'f':
            if ((o->format = cli_option_choice(self, 'f', optarg)) < 0)
                return EXIT_USAGE;
            break;
        default:
            break;
        }
    }
    return 0;
}

static int check_metrics(const struct servo_description *known, char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (servo_description_find_metric(known, names[i]) == NULL) {
            struct strbuf sb;
            strbuf_init(&sb);
            for (size_t j = 0; j < known->metric_count; j++)
                strbuf_printf(&sb, "%s%s", j ? ", " : "", known->metrics[j].name);
            cli_error("no metric found named \"%s\" (known: %s)", names[i],
                      sb.data ? sb.data : "none");
            strbuf_release(&sb);
            return -1;
        }
    }
    return 0;
}

/* The control of --control (JSON text or @FILE: a Control as the optimizer sends it, with
 * userdata.slo conditions), then -d and --warmup over it. */
static int measure_control(const struct measure_options *o, struct servo_control *control)
{
    if (o->control != NULL) {
        json_error_t je;
        json_t *json = o->control[0] == '@' ? json_load_file(o->control + 1, 0, &je)
                                            : json_loads(o->control, 0, &je);
        if (json == NULL) {
            cli_error("measure: --control: %s", je.text);
            return -1;
        }
        char *error = NULL;
        servo_control_free(control);
        int rc = servo_control_from_json(json, control, &error);
        json_decref(json);
        if (rc != 0) {
            cli_error("measure: --control: %s", error);
            free(error);
            servo_control_init(control);
            return -1;
        }
    }
    if (o->duration_given || o->control == NULL)
        control->duration = o->duration;
    if (o->warmup_given)
        control->warmup = o->warmup;
    return 0;
}

int cmd_measure(struct cli *cli, int argc, char **argv)
{
    struct measure_options o = {.style = {.humanize = true}};
    int rc = parse_measure_options(argc, argv, &o);
    struct servo_config *servo;
    if (rc == 0 && cli_attach(cli, &servo) != 0)
        rc = cli->failure;
    else if (rc == 0 && check_instances(servo, o.connectors, o.connector_count) != 0)
        rc = EXIT_USAGE;
    if (rc != 0) {
        free(o.connectors);
        return rc < 0 ? EXIT_OK : rc;
    }
    const char **include = include_list(o.connectors, o.connector_count);
    char **metrics = argv + optind;
    size_t metric_count = (size_t)(argc - optind);
    if (metric_count > 0) {
        /* names must be metrics of the connectors; all are measured when none are named */
        bool failed = false;
        struct servo_description *known = known_metrics(servo, include, true, &failed);
        if (failed)
            rc = EXIT_FAILURE_OPERATIONAL;
        else if (check_metrics(known, metrics, metric_count) != 0)
            rc = EXIT_USAGE;
        servo_description_free(known);
        if (rc != EXIT_OK) {
            free(include);
            free(o.connectors);
            return rc;
        }
    }
    struct event_args args;
    event_args_init(&args);
    if (measure_control(&o, &args.control) != 0) {
        event_args_free(&args);
        free(include);
        free(o.connectors);
        return EXIT_USAGE;
    }
    args.metrics = (const char *const *)metrics;
    args.metric_count = metric_count;
    struct bus_outcome out;
    rc = dispatch(servo, SERVO_EVENT_MEASURE, &args, include, &out);
    if (rc == 0 && o.format == 1) {
        struct servo_measurement *m = bus_outcome_measurement(&out);
        json_t *json = servo_measurement_to_json(m);
        print_json_value(json);
        json_decref(json);
        servo_measurement_free(m);
    } else if (rc == 0) {
        print_measurement_table(&out, &o.style);
    }
    bus_outcome_free(&out);
    event_args_free(&args);
    free(include);
    free(o.connectors);
    return rc == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
}

/* ---- adjust ---------------------------------------------------------------------------- */

static int parse_adjustments(char **specs, size_t count, struct servo_adjustments *a)
{
    if (count == 0) {
        cli_error("adjust: expected at least one COMPONENT.SETTING=VALUE");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        char *error = NULL;
        if (servo_adjustment_parse(specs[i], a, &error) != 0) {
            cli_error("adjust: %s", error);
            free(error);
            return -1;
        }
    }
    return 0;
}

static void print_adjust_table(const struct bus_outcome *out)
{
    static const char *const header[] = {"CONNECTOR", "SETTINGS"};
    struct table t;
    table_init(&t, 2, header);
    for (size_t i = 0; i < out->count; i++) {
        if (out->results[i].description == NULL)
            continue;
        char *settings = components_text(out->results[i].description);
        const char *row[] = {out->results[i].connector, settings};
        table_add(&t, row);
        free(settings);
    }
    table_print(&t, stdout);
    table_free(&t);
}

static int validate_against_description(struct servo_config *servo,
                                        const struct servo_adjustments *a)
{
    struct bus_outcome out;
    struct servo_description *d = describe(servo, NULL, &out);
    bus_outcome_free(&out);
    if (d == NULL)
        return EXIT_FAILURE_OPERATIONAL;
    char *error = NULL;
    int rc = adjustments_validate(d, a, &error);
    servo_description_free(d);
    if (rc != 0) {
        for (char *line = strtok(error, "\n"); line; line = strtok(NULL, "\n"))
            cli_error("adjust: %s", line);
        free(error);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cmd_adjust(struct cli *cli, int argc, char **argv)
{
    int format = 0;
    int rc = parse_format_only(argc, argv, "adjust", &format);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    struct servo_adjustments adjustments = {0};
    struct servo_config *servo;
    rc = parse_adjustments(argv + optind, (size_t)(argc - optind), &adjustments) != 0 ? EXIT_USAGE
         : cli_attach(cli, &servo) != 0                                               ? cli->failure
                                                                                      : EXIT_OK;
    if (rc != EXIT_OK) {
        servo_adjustments_clear(&adjustments);
        return rc;
    }
    rc = validate_against_description(servo, &adjustments);
    if (rc != EXIT_OK) {
        servo_adjustments_clear(&adjustments);
        return rc;
    }
    struct event_args args;
    event_args_init(&args);
    args.adjustments = &adjustments;
    struct bus_outcome out;
    int failed = dispatch(servo, SERVO_EVENT_ADJUST, &args, NULL, &out);
    if (!failed && out.count == 0) {
        cli_error("adjustment failed: no connector handled the request");
        failed = 1;
    } else if (!failed && format == 1) {
        struct servo_description *d = bus_outcome_description(&out);
        json_t *json = servo_description_to_json(d);
        print_json_value(json);
        json_decref(json);
        servo_description_free(d);
    } else if (!failed) {
        print_adjust_table(&out);
    }
    bus_outcome_free(&out);
    event_args_free(&args);
    servo_adjustments_clear(&adjustments);
    return failed ? EXIT_FAILURE_OPERATIONAL : EXIT_OK;
}

/* ---- show ------------------------------------------------------------------------------ */

int show_components(struct cli *cli, struct servo_config *servo)
{
    (void)cli;
    struct bus_outcome out;
    struct servo_description *d = describe(servo, NULL, &out);
    if (d == NULL) {
        bus_outcome_free(&out);
        return EXIT_FAILURE_OPERATIONAL;
    }
    static const char *const header[] = {"COMPONENT", "SETTINGS", "CONNECTOR"};
    struct table t;
    table_init(&t, 3, header);
    for (size_t i = 0; i < out.count; i++) {
        const struct servo_description *rd = out.results[i].description;
        for (size_t j = 0; rd && j < rd->component_count; j++) {
            struct strbuf sb;
            strbuf_init(&sb);
            const struct servo_component *c = &rd->components[j];
            for (size_t k = 0; k < c->setting_count; k++) {
                char *value = format_value(&c->settings[k]);
                strbuf_printf(&sb, "%s%s=%s", k ? "\n" : "", c->settings[k].name, value);
                free(value);
            }
            const char *row[] = {c->name, sb.data ? sb.data : "", out.results[i].connector};
            table_add(&t, row);
            strbuf_release(&sb);
        }
    }
    table_print(&t, stdout);
    table_free(&t);
    servo_description_free(d);
    bus_outcome_free(&out);
    return EXIT_OK;
}

int show_metrics(struct cli *cli, struct servo_config *servo)
{
    (void)cli;
    static const char *const header[] = {"METRIC", "UNIT", "CONNECTORS"};
    struct table t;
    table_init(&t, 3, header);
    bool any_failed = false;
    for (size_t i = 0; i < servo->connector_count; i++) {
        const char *only[] = {servo->connectors[i].name, NULL};
        bool failed = false;
        struct servo_description *d = known_metrics(servo, only, true, &failed);
        any_failed = any_failed || failed;
        for (size_t j = 0; j < d->metric_count; j++) {
            const char *unit =
                d->metrics[j].unit && d->metrics[j].unit[0] ? d->metrics[j].unit : "-";
            const char *row[] = {d->metrics[j].name, unit, servo->connectors[i].name};
            table_add(&t, row);
        }
        servo_description_free(d);
    }
    table_print(&t, stdout);
    table_free(&t);
    return any_failed ? EXIT_FAILURE_OPERATIONAL : EXIT_OK;
}

static char *event_label(const struct servo_handler *h, enum servo_preposition p)
{
    return p == SERVO_ON ? xstrdup(h->event)
                         : xasprintf("%s %s", p == SERVO_BEFORE ? "before" : "after", h->event);
}

static void add_event_labels(const struct servo_connector *c, struct strbuf *sb,
                             unsigned prepositions)
{
    static const enum servo_preposition order[] = {SERVO_BEFORE, SERVO_ON, SERVO_AFTER};
    if (c->plugin->checks && (prepositions & SERVO_ON))
        strbuf_printf(sb, "%scheck", sb->len ? "\n" : "");
    for (const struct servo_handler *h = c->plugin->handlers; h && h->event; h++) {
        for (size_t p = 0; p < ARRAY_LEN(order); p++) {
            if (!(h->preposition & order[p] & prepositions))
                continue;
            char *label = event_label(h, order[p]);
            strbuf_printf(sb, "%s%s", sb->len ? "\n" : "", label);
            free(label);
        }
    }
}

/* The handlers of `connectors` with one of `prepositions` (SERVO_BEFORE | SERVO_ON | ...). */
int show_events(const struct servo_connector *connectors, size_t count, bool by_connector,
                unsigned prepositions)
{
    static const char *const by_event_header[] = {"EVENT", "CONNECTORS"};
    static const char *const by_connector_header[] = {"CONNECTOR", "EVENTS"};
    struct table t;
    table_init(&t, 2, by_connector ? by_connector_header : by_event_header);
    if (by_connector) {
        for (size_t i = 0; i < count; i++) {
            struct strbuf sb;
            strbuf_init(&sb);
            add_event_labels(&connectors[i], &sb, prepositions);
            const char *row[] = {connectors[i].name, sb.data ? sb.data : ""};
            table_add(&t, row);
            strbuf_release(&sb);
        }
    } else {
        static const char *const events[] = {"attach",  "detach",     "startup", "shutdown",
                                             "metrics", "components", "check",   "describe",
                                             "measure", "adjust",     "promote"};
        static const enum servo_preposition order[] = {SERVO_BEFORE, SERVO_ON, SERVO_AFTER};
        for (size_t e = 0; e < ARRAY_LEN(events); e++) {
            for (size_t p = 0; p < ARRAY_LEN(order); p++) {
                if (!(order[p] & prepositions))
                    continue;
                struct strbuf sb;
                strbuf_init(&sb);
                for (size_t i = 0; i < count; i++)
                    if (bus_handles(&connectors[i], events[e], order[p]))
                        strbuf_printf(&sb, "%s%s", sb.len ? "\n" : "", connectors[i].name);
                if (sb.len) {
                    struct servo_handler h = {.event = events[e]};
                    char *label = event_label(&h, order[p]);
                    const char *row[] = {label, sb.data};
                    table_add(&t, row);
                    free(label);
                }
                strbuf_release(&sb);
            }
        }
    }
    table_print(&t, stdout);
    table_free(&t);
    return EXIT_OK;
}
