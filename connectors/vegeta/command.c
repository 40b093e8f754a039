/* `servo vegeta attack`: an ad-hoc attack with an instance's settings, outside any
 * measurement. Each report is printed as it arrives: as the connector's metrics (text) or as
 * vegeta's own JSON line with the escape codes removed (json). */
#include "internal.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servo/log.h"

#define EXIT_OPERATIONAL 1
#define EXIT_USAGE_ERROR 2

#define ATTACK_USAGE                                                                             \
    "[-d DURATION] [-e INTERVAL] [-f text|json]\n"                                               \
    "\n"                                                                                         \
    "Run an attack with the settings of a vegeta instance (chosen with `servo vegeta -c NAME`\n" \
    "when there are several) and print each report as it arrives: the connector's metrics\n"     \
    "(text) or vegeta's JSON report with its escape codes removed (json).\n"                     \
    "\n"                                                                                         \
    "  -d, --duration D     How long to attack (default 5s)\n"                                   \
    "  -e, --every I        How often vegeta reports (default: reporting_interval)\n"            \
    "  -f, --format FORMAT  text (default) or json\n"

struct attack_options {
    servo_duration duration;
    servo_duration every;
    bool json;
};

static int usage_error(const char *fmt, ...) SERVO_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("servo: error: vegeta attack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see 'servo vegeta attack --help')\n", stderr);
    va_end(ap);
    return EXIT_USAGE_ERROR;
}

static int parse_positive_duration(const char *text, servo_duration *out)
{
    const char *why = NULL;
    if (servo_duration_parse(text, out, &why) != 0 || *out <= 0)
        return usage_error("invalid duration \"%s\": expected a positive duration such as 30s",
                           text);
    return 0;
}

/* 0, -1 after --help, or an exit status. */
static int parse_options(int argc, char **argv, struct attack_options *o)
{
    static const struct option options[] = {{"duration", required_argument, NULL, 'd'},
                                            {"every", required_argument, NULL, 'e'},
                                            {"format", required_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":d:e:f:h", options, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'd':
            rc = parse_positive_duration(optarg, &o->duration);
            break;
        case 'e':
            rc = parse_positive_duration(optarg, &o->every);
            break;
        case 'f':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                rc = usage_error("invalid format \"%s\" (expected text or json)", optarg);
            o->json = strcmp(optarg, "json") == 0;
            break;
        case 'h':
            fputs("Usage: servo vegeta attack " ATTACK_USAGE, stdout);
            return -1;
        case ':':
            rc = usage_error("option \"%s\" needs a value", argv[optind - 1]);
            break;
        default:
            rc = usage_error("unknown option \"%s\"", argv[optind - 1]);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

static void print_report(void *context, const struct vegeta_report *report, const char *line)
{
    const struct attack_options *o = context;
    if (o->json) {
        printf("%s\n", line);
    } else {
        printf("requests %lld:", (long long)report->requests);
        for (int i = 0; i < VEGETA_METRIC_COUNT; i++)
            printf("%s %s %.3f %s", i ? "," : "", vegeta_metrics[i].name,
                   vegeta_metric_value(report, (enum vegeta_metric)i), vegeta_metrics[i].unit);
        printf("\n");
    }
    fflush(stdout);
}

int vegeta_attack_main(struct servo_connector *connector, int argc, char **argv)
{
    const struct vegeta_settings *s = servo_connector_settings(connector);
    struct attack_options o = {.duration = 5 * SERVO_SECOND, .every = s->reporting_interval};
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    char *profile = vegeta_load_profile(s, vegeta_target_count(s), o.duration, 0, 0);
    servo_info("%s", profile);
    free(profile);
    struct vegeta_run run = {.duration = o.duration,
                             .every = o.every,
                             .failure = SERVO_ERROR_FAILED,
                             .on_report = print_report,
                             .context = &o};
    struct vegeta_reports reports = {0};
    struct servo_error error = {0};
    rc = vegeta_attack(connector, NULL, &run, &reports, &error);
    vegeta_reports_free(&reports);
    if (rc != 0) {
        fprintf(stderr, "servo: error: vegeta attack: %s\n", error.message);
        return EXIT_OPERATIONAL;
    }
    return 0;
}

const struct servo_command vegeta_commands[] = {
    {"attack", "Run an attack and print each report as it arrives", ATTACK_USAGE,
     vegeta_attack_main},
    {NULL, NULL, NULL, NULL},
};
