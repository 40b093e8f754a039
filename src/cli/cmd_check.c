/* servo check: run the connectors' declared checks and report them as a table or JSON. */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "events/checks.h"
#include "util/util.h"

#define MESSAGE_WIDTH 70

/* A growable NULL-terminated list of borrowed strings. */
struct names {
    const char **items;
    size_t count;
    size_t capacity;
};

static void names_add(struct names *n, const char *s)
{
    xgrow((void **)&n->items, sizeof *n->items, n->count + 1, &n->capacity);
    n->items[n->count++] = s;
    n->items[n->count] = NULL;
}

static void names_from_list(struct names *n, const struct servo_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        names_add(n, ((char **)list->items)[i]);
}

struct check_args {
    struct names connectors, name, id, tag;
    bool name_given, id_given, tag_given;
    int halt_on;                             /* -1: from the configuration */
    int verbose, quiet, progressive, remedy; /* -1: from the configuration */
    bool wait_given, delay_given;
    servo_duration wait;
    bool delay_exponential;
    servo_duration delay;
    int format;
};

static int parse_duration_option(const char *option, const char *value, servo_duration *out)
{
    const char *why = NULL;
    if (servo_duration_parse(value, out, &why) != 0 || *out < 0) {
        cli_error("invalid value \"%s\" for %s: %s", value, option,
                  why ? why : "expected a duration that is not negative");
        return -1;
    }
    return 0;
}

static int parse_args(struct check_args *a, int argc, char **argv, const struct cli_command *self)
{
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        switch (c) {
        case -2:
            return -1;
        case 'h':
            cli_help(self, stdout);
            return 1;
        case 'n':
            names_add(&a->name, optarg);
            a->name_given = true;
            break;
        case 'i':
            names_add(&a->id, optarg);
            a->id_given = true;
            break;
        case 't':
            names_add(&a->tag, optarg);
            a->tag_given = true;
            break;
        case OPT_HALT_ON:
            if ((a->halt_on = cli_option_choice(self, OPT_HALT_ON, optarg)) < 0)
                return -1;
            break;
        case 'v':
            a->verbose = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'p':
            a->progressive = 1;
            break;
        case OPT_NO_PROGRESSIVE:
            a->progressive = 0;
            break;
        case 'w':
            if (parse_duration_option("--wait", optarg, &a->wait) != 0)
                return -1;
            a->wait_given = true;
            break;
        case 'd':
            a->delay_given = true;
            a->delay_exponential = strcmp(optarg, "expo") == 0;
            if (!a->delay_exponential && parse_duration_option("--delay", optarg, &a->delay) != 0)
                return -1;
            break;
        case OPT_REMEDY:
            a->remedy = 1;
            break;
        case OPT_NO_REMEDY:
            a->remedy = 0;
            break;
        case 'f':
            if ((a->format = cli_option_choice(self, 'f', optarg)) < 0)
                return -1;
            break;
        default:
            break;
        }
    }
    for (int i = optind; i < argc; i++)
        names_add(&a->connectors, argv[i]);
    return 0;
}

/* ServoX's textwrap.shorten: whitespace collapsed, cut at a word with " [...]". */
static char *shorten(const char *text, size_t width)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (const char *p = text ? text : "-"; *p; p++) {
        if (isspace((unsigned char)*p)) {
            if (sb.len > 0 && sb.data[sb.len - 1] != ' ')
                strbuf_putc(&sb, ' ');
        } else {
            strbuf_putc(&sb, *p);
        }
    }
    while (sb.len > 0 && sb.data[sb.len - 1] == ' ')
        strbuf_truncate(&sb, sb.len - 1);
    if (sb.len > width) {
        static const char tail[] = " [...]";
        size_t cut = width - (sizeof tail - 1);
        while (cut > 0 && sb.data[cut] != ' ')
            cut--;
        strbuf_truncate(&sb, cut);
        strbuf_puts(&sb, tail);
    }
    return strbuf_detach(&sb);
}

static const char *json_text(const json_t *check, const char *key)
{
    const char *s = json_string_value(json_object_get(check, key));
    return s ? s : "";
}

static const char *status_text(const json_t *check)
{
    if (json_is_true(json_object_get(check, "success")))
        return "\u221a PASSED";
    if (strcmp(json_text(check, "severity"), "warning") == 0)
        return "! WARNING";
    return "X FAILED";
}

static void print_summary(const struct checks_report *r)
{
    static const char *const header[] = {"CONNECTOR", "STATUS", "ERRORS"};
    struct table t;
    table_init(&t, 3, header);
    for (size_t i = 0; i < r->count; i++) {
        const struct checks_connector *e = &r->connectors[i];
        size_t failures = e->error.kind != SERVO_ERROR_NONE;
        size_t index;
        const json_t *check;
        json_array_foreach(e->checks, index, check)
        {
            failures += !json_is_true(json_object_get(check, "success"));
        }
        if (json_array_size(e->checks) == 0 && failures == 0)
            continue;
        struct strbuf errors;
        strbuf_init(&errors);
        size_t n = 0;
        if (e->error.kind != SERVO_ERROR_NONE)
            strbuf_printf(&errors, "(%zu/%zu) %s", ++n, failures, e->error.message);
        json_array_foreach(e->checks, index, check)
        {
            if (json_is_true(json_object_get(check, "success")))
                continue;
            const char *message = json_string_value(json_object_get(check, "message"));
            strbuf_printf(&errors, "%s(%zu/%zu) %s: [%s]", n ? "\n" : "", n + 1, failures,
                          json_text(check, "name"), message ? message : "-");
            n++;
        }
        const char *row[] = {e->name, e->ready ? "\u221a PASSED" : "X FAILED",
                             errors.data ? errors.data : ""};
        table_add(&t, row);
        strbuf_release(&errors);
    }
    table_print(&t, stdout);
    table_free(&t);
}

static void print_verbose(const struct checks_report *r)
{
    static const char *const header[] = {"CONNECTOR", "CHECK", "ID", "TAGS", "STATUS", "MESSAGE"};
    struct table t;
    table_init(&t, 6, header);
    for (size_t i = 0; i < r->count; i++) {
        const struct checks_connector *e = &r->connectors[i];
        struct strbuf col[5];
        for (size_t k = 0; k < 5; k++)
            strbuf_init(&col[k]);
        size_t rows = 0;
        if (e->error.kind != SERVO_ERROR_NONE) {
            char *message = shorten(e->error.message, MESSAGE_WIDTH);
            strbuf_puts(&col[0], "checks of the connector");
            strbuf_puts(&col[1], "handler");
            strbuf_puts(&col[2], "-");
            strbuf_puts(&col[3], "X FAILED");
            strbuf_puts(&col[4], message);
            free(message);
            rows++;
        }
        size_t index;
        const json_t *check;
        json_array_foreach(e->checks, index, check)
        {
            const char *sep = rows ? "\n" : "";
            struct strbuf tags;
            strbuf_init(&tags);
            size_t k;
            const json_t *tag;
            json_array_foreach(json_object_get(check, "tags"), k, tag)
            {
                strbuf_printf(&tags, "%s%s", k ? ", " : "", json_string_value(tag));
            }
            char *message =
                shorten(json_string_value(json_object_get(check, "message")), MESSAGE_WIDTH);
            strbuf_printf(&col[0], "%s%s", sep, json_text(check, "name"));
            strbuf_printf(&col[1], "%s%s", sep, json_text(check, "id"));
            strbuf_printf(&col[2], "%s%s", sep, tags.len ? tags.data : "-");
            strbuf_printf(&col[3], "%s%s", sep, status_text(check));
            strbuf_printf(&col[4], "%s%s", sep, message);
            free(message);
            strbuf_release(&tags);
            rows++;
        }
        if (rows > 0) {
            const char *row[] = {e->name,     col[0].data, col[1].data,
                                 col[2].data, col[3].data, col[4].data};
            table_add(&t, row);
        }
        for (size_t k = 0; k < 5; k++)
            strbuf_release(&col[k]);
    }
    table_print(&t, stdout);
    table_free(&t);
}

static void names_free(struct check_args *a)
{
    free(a->connectors.items);
    free(a->name.items);
    free(a->id.items);
    free(a->tag.items);
}

static bool connector_errors(const struct checks_report *report)
{
    for (size_t i = 0; i < report->count; i++)
        if (report->connectors[i].error.kind != SERVO_ERROR_NONE)
            return true;
    return false;
}

static int run_checks(struct cli *cli, struct check_args *a)
{
    if (cli_assemble(cli) != 0 || cli_selected_servo(cli) == NULL)
        return cli->failure;
    struct servo_config *servo = NULL;
    if (cli_attach(cli, &servo) != 0)
        return EXIT_FAILURE_OPERATIONAL;
    const struct checks_settings *config = &servo->settings->checks;
    /* the configuration gives the defaults; flags win */
    if (a->connectors.count == 0)
        names_from_list(&a->connectors, &config->connectors);
    if (!a->name_given)
        names_from_list(&a->name, &config->name);
    if (!a->id_given)
        names_from_list(&a->id, &config->id);
    if (!a->tag_given)
        names_from_list(&a->tag, &config->tag);
    bool quiet = a->quiet >= 0 ? a->quiet : config->quiet;
    bool verbose = a->verbose >= 0 ? a->verbose : config->verbose;
    struct checks_options options = {
        .connectors = a->connectors.items,
        .names = a->name.items,
        .ids = a->id.items,
        .tags = a->tag.items,
        .halt_on = a->halt_on >= 0 ? a->halt_on : config->halt_on,
        /* remedies change things: `servo check` runs them only when asked */
        .remedy = a->remedy > 0,
        .progressive = !quiet && (a->progressive >= 0 ? a->progressive : config->progressive),
        /* checks.wait gates `servo run --check`; `servo check` runs once unless --wait */
        .wait = a->wait_given ? a->wait : 0,
        .delay_exponential = a->delay_given ? a->delay_exponential : config->delay.exponential,
        .delay = a->delay_given ? a->delay : config->delay.fixed,
    };
    struct checks_report report;
    char *error = NULL;
    int rc = checks_run(servo->connectors, servo->connector_count, &options, &report, &error);
    if (rc != 0) {
        cli_error("check: %s", error ? error : "cannot run the checks");
        free(error);
        return rc == CHECKS_EUSAGE ? EXIT_USAGE : EXIT_FAILURE_OPERATIONAL;
    }
    bool ready = report.ready;
    if (report.check_count == 0 && ready && !connector_errors(&report)) {
        cli_error("check: no check matched the filters");
        checks_report_free(&report);
        return EXIT_FAILURE_OPERATIONAL;
    }
    if (!quiet) {
        if (a->format == 1) {
            json_t *list = checks_report_json(&report);
            char *text =
                json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
            printf("%s\n", text);
            free(text);
            json_decref(list);
        } else if (verbose) {
            print_verbose(&report);
        } else {
            print_summary(&report);
        }
    }
    checks_report_free(&report);
    return ready ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
}

int cmd_check(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("check");
    struct check_args a = {
        .halt_on = -1, .verbose = -1, .quiet = -1, .progressive = -1, .remedy = -1};
    int rc = parse_args(&a, argc, argv, self);
    if (rc != 0) {
        names_free(&a);
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    }
    rc = run_checks(cli, &a);
    names_free(&a);
    return rc;
}
