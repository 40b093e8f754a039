/* Information commands: version, connectors, list, show, help. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "util/util.h"

static const char *const formats_text_json[] = {"text", "json", NULL};

static void print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    static const struct option options[] = {{"short", no_argument, NULL, 's'},
                                            {"format", required_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const struct cli_command *self = cli_find_command("version");
    bool short_form = false;
    int format = 0, c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, ":sf:h", options, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 's')
            short_form = true;
        if (c == 'f' && (format = cli_choice("--format", optarg, formats_text_json)) < 0)
            return EXIT_USAGE;
    }
    if (optind < argc) {
        cli_error("version: unexpected argument \"%s\"", argv[optind]);
        return EXIT_USAGE;
    }
    if (format == 1) {
        json_t *v =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", SERVO_NAME, "version",
                      SERVO_VERSION, "cryptonym", SERVO_CRYPTONYM, "maturity", SERVO_MATURITY,
                      "description", SERVO_DESCRIPTION, "license", SERVO_LICENSE);
        if (!short_form)
            json_object_set_new(v, "abi", json_integer(SERVO_ABI_VERSION));
        print_json(v);
        json_decref(v);
        return EXIT_OK;
    }
    printf("%s v%s \"%s\"", SERVO_NAME, SERVO_VERSION, SERVO_CRYPTONYM);
    if (short_form) {
        printf("\n");
        return EXIT_OK;
    }
    printf(" (%s)\n%s\nPlugin ABI %u\nLicensed under the terms of %s\n", SERVO_MATURITY,
           SERVO_DESCRIPTION, SERVO_ABI_VERSION, SERVO_LICENSE);
    return EXIT_OK;
}

static json_t *plugin_json(const struct registry_entry *e)
{
    const struct servo_connector_plugin *p = e->plugin;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "name", p->name, "class_name",
                          p->class_name, "version", p->version, "description", p->description,
                          "homepage", p->homepage, "maturity", p->maturity, "license", p->license);
    json_object_set_new(o, "origin", e->origin ? json_string(e->origin) : json_string("built-in"));
    return o;
}

int cmd_connectors(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {{"verbose", no_argument, NULL, 'v'},
                                            {"format", required_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const struct cli_command *self = cli_find_command("connectors");
    bool verbose = false;
    int format = 0, c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, ":vf:h", options, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 'v')
            verbose = true;
        if (c == 'f' && (format = cli_choice("--format", optarg, formats_text_json)) < 0)
            return EXIT_USAGE;
    }
    if (cli_registry(cli) != 0)
        return EXIT_USAGE;
    if (format == 1) {
        json_t *list = json_array();
        for (size_t i = 0; i < cli->registry.count; i++)
            json_array_append_new(list, plugin_json(&cli->registry.entries[i]));
        print_json(list);
        json_decref(list);
        return EXIT_OK;
    }
    static const char *const header[] = {"NAME",     "VERSION", "DESCRIPTION", "HOMEPAGE",
                                         "MATURITY", "LICENSE", "ORIGIN"};
    size_t columns = verbose ? 7 : 3;
    struct table t;
    table_init(&t, columns, header);
    for (size_t i = 0; i < cli->registry.count; i++) {
        const struct registry_entry *e = &cli->registry.entries[i];
        const struct servo_connector_plugin *p = e->plugin;
        const char *row[] = {p->name,
                             p->version,
                             p->description,
                             p->homepage,
                             p->maturity,
                             p->license,
                             e->origin ? e->origin : "built-in"};
        table_add(&t, row);
    }
    table_print(&t, stdout);
    table_free(&t);
    return EXIT_OK;
}

static const char *optimizer_text(const struct servo_settings *s)
{
    if (s->optimizer && s->optimizer->id)
        return s->optimizer->id;
    if (s->optimizer && s->optimizer->url)
        return s->optimizer->url;
    return "(embedded)";
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct cli_command *self = cli_find_command("list");
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, ":h", options, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        return cli_help(self, stdout);
    }
    if (cli_assemble(cli) != 0)
        return EXIT_USAGE;
    static const char *const header[] = {"NAME", "OPTIMIZER", "DESCRIPTION"};
    struct table t;
    table_init(&t, 3, header);
    for (size_t i = 0; i < cli->assembly.count; i++) {
        const struct servo_config *s = &cli->assembly.servos[i];
        const char *row[] = {s->name, optimizer_text(s->settings),
                             s->settings->description ? s->settings->description : "-"};
        table_add(&t, row);
    }
    table_print(&t, stdout);
    table_free(&t);
    return EXIT_OK;
}

static void show_connectors(const struct servo_config *servo, bool verbose)
{
    static const char *const header[] = {"NAME", "TYPE", "VERSION", "DESCRIPTION", "ORIGIN"};
    struct table t;
    table_init(&t, verbose ? 5 : 4, header);
    for (size_t i = 0; i < servo->connector_count; i++) {
        const struct servo_connector *sc = &servo->connectors[i];
        const char *row[] = {sc->name, sc->plugin->class_name, sc->plugin->version,
                             sc->plugin->description, sc->origin ? sc->origin : "built-in"};
        table_add(&t, row);
    }
    table_print(&t, stdout);
    table_free(&t);
}

int show_components(struct cli *cli, struct servo_config *servo);
int show_metrics(struct cli *cli, struct servo_config *servo);
int show_events(struct servo_config *servo, bool by_connector);

static int show_subject(struct cli *cli, const char *subject, bool flag)
{
    struct servo_config *servo;
    if (cli_attach(cli, &servo) != 0)
        return EXIT_USAGE;
    if (strcmp(subject, "components") == 0)
        return show_components(cli, servo);
    if (strcmp(subject, "metrics") == 0)
        return show_metrics(cli, servo);
    return show_events(servo, flag);
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {{"verbose", no_argument, NULL, 'v'},
                                            {"by-connector", no_argument, NULL, 'c'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    static const char *const subjects[] = {"connectors", "components", "metrics", "events", NULL};
    const struct cli_command *self = cli_find_command("show");
    bool flag = false;
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, ":vch", options, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        flag = true;
    }
    if (optind >= argc) {
        cli_error("show: expected a subject: connectors, components, metrics or events");
        return EXIT_USAGE;
    }
    if (cli_choice("show", argv[optind], subjects) < 0)
        return EXIT_USAGE;
    if (strcmp(argv[optind], "connectors") != 0)
        return show_subject(cli, argv[optind], flag);
    if (cli_assemble(cli) != 0)
        return EXIT_USAGE;
    if (cli->servo_name && cli_selected_servo(cli) == NULL)
        return EXIT_USAGE; /* no servo of that name */
    bool first = true;
    for (size_t i = 0; i < cli->assembly.count; i++) {
        const struct servo_config *s = &cli->assembly.servos[i];
        if (cli->servo_name && strcmp(cli->servo_name, s->name) != 0)
            continue;
        if (cli->assembly.count > 1)
            printf("%s%s:\n", first ? "" : "\n", s->name);
        first = false;
        show_connectors(s, flag);
    }
    return EXIT_OK;
}

int cmd_help(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        cli_print_usage(stdout);
        return EXIT_OK;
    }
    const struct cli_command *command = cli_find_command(argv[1]);
    const struct servo_connector_plugin *connector =
        command == NULL ? cli_find_connector(cli, argv[1]) : NULL;
    if (connector != NULL)
        return cli_connector_help(connector, argc > 2 ? argv[2] : NULL);
    if (command == NULL) {
        cli_error("help: no such command \"%s\"", argv[1]);
        return EXIT_USAGE;
    }
    return cli_help(command, stdout);
}
