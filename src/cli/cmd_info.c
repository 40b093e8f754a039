/* Information commands: version, connectors, list, show, help. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "util/util.h"
#include "util/json_text.h"

static void print_json(json_t *value)
{
    char *text = json_text(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", text);
    free(text);
}

/* "PrometheusConnector" -> "Prometheus Connector", the name ServoX prints. */
static char *display_name(const char *class_name)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (const char *s = class_name; *s; s++) {
        if (s != class_name && *s >= 'A' && *s <= 'Z' && s[-1] >= 'a' && s[-1] <= 'z')
            strbuf_putc(&sb, ' ');
        strbuf_putc(&sb, *s);
    }
    return strbuf_detach(&sb);
}

/* `servo version CONNECTOR`, as ServoX prints a connector's version. */
static int connector_version(const struct servo_connector_plugin *p, bool short_form, int format)
{
    char *name = display_name(p->class_name);
    if (format == 1) {
        json_t *v = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s?}", "name", name, "version",
                              p->version, "maturity", p->maturity, "description", p->description,
                              "homepage", p->homepage, "license", p->license);
        print_json(v);
        json_decref(v);
    } else if (short_form) {
        printf("%s v%s\n", name, p->version ? p->version : "?");
    } else {
        printf("%s v%s (%s)\n%s\n%s\nLicensed under the terms of %s\n", name,
               p->version ? p->version : "?", p->maturity ? p->maturity : "-",
               p->description ? p->description : "", p->homepage ? p->homepage : "",
               p->license ? p->license : "-");
    }
    free(name);
    return EXIT_OK;
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("version");
    bool short_form = false;
    int format = 0, c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 's')
            short_form = true;
        if (c == 'f' && (format = cli_option_choice(self, 'f', optarg)) < 0)
            return EXIT_USAGE;
    }
    if (cli_refuse_operands(self, argc, argv, 1) != 0)
        return EXIT_USAGE;
    if (optind < argc) {
        if (cli_registry(cli) != 0)
            return cli->failure;
        const struct registry_entry *entry = registry_find(&cli->registry, argv[optind]);
        if (entry == NULL) {
            cli_error("version: no connector named \"%s\" (see 'servo connectors')", argv[optind]);
            return EXIT_USAGE;
        }
        return connector_version(entry->plugin, short_form, format);
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
    const struct cli_command *self = cli_find_command("connectors");
    bool verbose = false;
    int format = 0, c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 'v')
            verbose = true;
        if (c == 'f' && (format = cli_option_choice(self, 'f', optarg)) < 0)
            return EXIT_USAGE;
    }
    if (cli_refuse_operands(self, argc, argv, 0) != 0)
        return EXIT_USAGE;
    if (cli_registry(cli) != 0)
        return cli->failure;
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
    const struct cli_command *self = cli_find_command("list");
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        return cli_help(self, stdout);
    }
    if (cli_refuse_operands(self, argc, argv, 0) != 0)
        return EXIT_USAGE;
    if (cli_assemble(cli) != 0)
        return cli->failure;
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
int show_events(const struct servo_connector *connectors, size_t count, bool by_connector,
                unsigned prepositions);

struct show_flags {
    bool flag;                   /* -v of connectors, -c of events */
    bool all;                    /* events -a: every available connector */
    unsigned included, excluded; /* events --before/--on/--after and their --no- forms */
};

/* As ServoX: any --no-X leaves out X; else any --X keeps only those; else all three. */
static unsigned shown_prepositions(const struct show_flags *f)
{
    const unsigned every = SERVO_BEFORE | SERVO_ON | SERVO_AFTER;
    if (f->excluded)
        return every & ~f->excluded;
    return f->included ? f->included : every;
}

/* `show events -a`: the servo's connectors, then every other connector of the registry at
 * its default key. */
static int show_all_events(struct cli *cli, const struct servo_config *servo,
                           const struct show_flags *f)
{
    struct servo_connector *all =
        xcalloc(servo->connector_count + cli->registry.count + 1, sizeof *all);
    size_t count = 0;
    for (size_t i = 0; i < servo->connector_count; i++)
        all[count++] = servo->connectors[i];
    for (size_t r = 0; r < cli->registry.count; r++) {
        const struct servo_connector_plugin *plugin = cli->registry.entries[r].plugin;
        bool present = false;
        for (size_t i = 0; i < servo->connector_count && !present; i++)
            present = servo->connectors[i].plugin == plugin;
        if (!present)
            all[count++] = (struct servo_connector){.name = (char *)plugin->name, .plugin = plugin};
    }
    int rc = show_events(all, count, f->flag, shown_prepositions(f));
    free(all);
    return rc;
}

static int show_subject(struct cli *cli, const char *subject, const struct show_flags *f)
{
    struct servo_config *servo;
    if (cli_attach(cli, &servo) != 0)
        return cli->failure;
    if (strcmp(subject, "components") == 0)
        return show_components(cli, servo);
    if (strcmp(subject, "metrics") == 0)
        return show_metrics(cli, servo);
    if (f->all)
        return show_all_events(cli, servo, f);
    return show_events(servo->connectors, servo->connector_count, f->flag, shown_prepositions(f));
}

static void set_show_flag(struct show_flags *f, int key)
{
    static const struct {
        int key;
        unsigned preposition;
        bool included;
    } prepositions[] = {
        {OPT_BEFORE, SERVO_BEFORE, true}, {OPT_NO_BEFORE, SERVO_BEFORE, false},
        {OPT_ON, SERVO_ON, true},         {OPT_NO_ON, SERVO_ON, false},
        {OPT_AFTER, SERVO_AFTER, true},   {OPT_NO_AFTER, SERVO_AFTER, false},
    };
    if (key == 'a') {
        f->all = true;
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(prepositions); i++) {
        if (prepositions[i].key != key)
            continue;
        if (prepositions[i].included)
            f->included |= prepositions[i].preposition;
        else
            f->excluded |= prepositions[i].preposition;
        return;
    }
    f->flag = true;
}

/* The first argument that is not an option: the subject of `show`. */
static const char *first_operand(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-')
            return argv[i];
    return NULL;
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
    static const char *const subjects[] = {"connectors", "components", "metrics", "events", NULL};
    const struct cli_command *show = cli_find_command("show");
    const char *subject = first_operand(argc, argv);
    if (subject == NULL) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                return cli_help(show, stdout);
        cli_error("show: expected a subject: connectors, components, metrics or events");
        return EXIT_USAGE;
    }
    if (cli_choice("show", subject, subjects) < 0)
        return EXIT_USAGE;
    const struct cli_command *self = cli_find_subcommand(show, subject);
    struct show_flags flags = {0};
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        set_show_flag(&flags, c);
    }
    if (optind + 1 < argc) {
        cli_error("show %s: unexpected argument \"%s\"", subject, argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (strcmp(subject, "connectors") != 0)
        return show_subject(cli, subject, &flags);
    if (cli_assemble(cli) != 0)
        return cli->failure;
    if (cli->servo_name && cli_selected_servo(cli) == NULL)
        return cli->failure; /* no servo of that name */
    bool first = true;
    for (size_t i = 0; i < cli->assembly.count; i++) {
        const struct servo_config *s = &cli->assembly.servos[i];
        if (cli->servo_name && strcmp(cli->servo_name, s->name) != 0)
            continue;
        if (cli->assembly.count > 1)
            printf("%s%s:\n", first ? "" : "\n", s->name);
        first = false;
        show_connectors(s, flags.flag);
    }
    return EXIT_OK;
}

/* `servo help [COMMAND [SUBCOMMAND]]`; `servo help --help` is the help of help. */
int cmd_help(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("help");
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        return cli_help(self, stdout);
    }
    if (optind >= argc) {
        cli_print_usage(stdout);
        return EXIT_OK;
    }
    const char *name = argv[optind], *sub = optind + 1 < argc ? argv[optind + 1] : NULL;
    const struct cli_command *command = cli_find_command(name);
    const struct servo_connector_plugin *connector =
        command == NULL ? cli_find_connector(cli, name) : NULL;
    if (cli_refuse_operands(self, argc, argv, 2) != 0)
        return EXIT_USAGE;
    if (connector != NULL)
        return cli_connector_help(connector, sub);
    if (command == NULL) {
        cli_error("help: no such command \"%s\"", name);
        return EXIT_USAGE;
    }
    if (sub == NULL)
        return cli_help(command, stdout);
    const struct cli_command *subcommand = cli_find_subcommand(command, sub);
    if (subcommand == NULL) {
        cli_error("help: no such command \"%s %s\"", name, sub);
        return EXIT_USAGE;
    }
    return cli_help(subcommand, stdout);
}
