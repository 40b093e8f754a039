/* Connector commands: `servo <connector> [-c INSTANCE] COMMAND [ARGS...]` runs a subcommand
 * a connector declares in its `commands` table (struct servo_command), e.g.
 * `servo prometheus targets`. The word after `servo` is the connector's name with '_' written
 * '-' (as ServoX commandified names); the instance is the only one of that connector in the
 * selected servo, or the one named with -c/--connector. Errors as ServoX's ConnectorCLI:
 *   no instances of "PrometheusConnector" are active in the servo "<servo>"
 *   multiple instances of "PrometheusConnector" are active in the servo "<servo>": select one
 *   of ['a', 'b'] with -c NAME */
#include <stdlib.h>
#include <string.h>

#include "assembly/builtins.h"
#include "cli/cli.h"
#include "util/util.h"

/* "opsani_dev" is invoked as "opsani-dev". */
static bool command_word_matches(const char *plugin_name, const char *word)
{
    for (; *plugin_name && *word; plugin_name++, word++) {
        char expected = *plugin_name == '_' ? '-' : *plugin_name;
        if (expected != *word)
            return false;
    }
    return *plugin_name == '\0' && *word == '\0';
}

static bool has_commands(const struct servo_connector_plugin *plugin)
{
    return plugin->commands != NULL && plugin->commands[0].name != NULL;
}

const struct servo_connector_plugin *cli_find_connector(struct cli *cli, const char *word)
{
    if (!cli->registry_ready)
        cli_registry(cli); /* problems are printed; the registry is usable either way */
    for (size_t i = 0; i < cli->registry.count; i++) {
        const struct servo_connector_plugin *plugin = cli->registry.entries[i].plugin;
        if (has_commands(plugin) && command_word_matches(plugin->name, word))
            return plugin;
    }
    return NULL;
}

static void print_word(FILE *out, const char *plugin_name)
{
    for (const char *s = plugin_name; *s; s++)
        fputc(*s == '_' ? '-' : *s, out);
}

/* The word that invokes the plugin's commands (caller frees). */
static char *command_word(const char *plugin_name)
{
    char *word = xstrdup(plugin_name);
    for (char *s = word; *s; s++)
        *s = *s == '_' ? '-' : *s;
    return word;
}

void cli_print_connector_usage(FILE *out)
{
    bool header = false;
    for (size_t i = 0; servo_builtin_connectors[i] != NULL; i++) {
        const struct servo_connector_plugin *plugin = servo_builtin_connectors[i];
        if (!has_commands(plugin))
            continue;
        if (!header)
            fputs("\nConnector Commands:\n", out);
        header = true;
        char *word = command_word(plugin->name);
        fprintf(out, "  %-12s %s (", word, plugin->description);
        free(word);
        for (const struct servo_command *c = plugin->commands; c->name != NULL; c++)
            fprintf(out, "%s%s", c == plugin->commands ? "" : ", ", c->name);
        fputs(")\n", out);
    }
}

static void print_group_usage(const struct servo_connector_plugin *plugin, FILE *out)
{
    fputs("Usage: servo ", out);
    print_word(out, plugin->name);
    fprintf(out,
            " [-c NAME] COMMAND [ARGS]...\n\n%s (%s)\n\nOptions:\n"
            "  -c, --connector NAME  The instance to use when the servo has several\n"
            "  -h, --help            Show this message and exit\n\nCommands:\n",
            plugin->description, plugin->class_name);
    for (const struct servo_command *c = plugin->commands; c->name != NULL; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary ? c->summary : "");
}

static const struct servo_command *find_subcommand(const struct servo_connector_plugin *plugin,
                                                   const char *name)
{
    for (const struct servo_command *c = plugin->commands; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0 && c->run != NULL)
            return c;
    return NULL;
}

static int print_command_help(const struct servo_connector_plugin *plugin,
                              const struct servo_command *command)
{
    fputs("Usage: servo ", stdout);
    print_word(stdout, plugin->name);
    printf(" %s %s", command->name, command->usage ? command->usage : "\n");
    return EXIT_OK;
}

int cli_connector_help(const struct servo_connector_plugin *plugin, const char *subcommand)
{
    if (subcommand == NULL) {
        print_group_usage(plugin, stdout);
        return EXIT_OK;
    }
    const struct servo_command *command = find_subcommand(plugin, subcommand);
    if (command == NULL) {
        cli_error("help: no such command \"%s %s\"", plugin->name, subcommand);
        return EXIT_USAGE;
    }
    return print_command_help(plugin, command);
}

struct group_args {
    const char *instance; /* -c NAME */
    bool help;
    int command; /* index of the subcommand in argv, or argc */
};

/* Options before the subcommand: -c NAME, --connector NAME, --connector=NAME, -h, --help. */
static int parse_group_args(int argc, char **argv, struct group_args *out)
{
    *out = (struct group_args){NULL, false, argc};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            out->help = true;
        } else if (strcmp(arg, "-c") == 0 || strcmp(arg, "--connector") == 0) {
            if (i + 1 >= argc) {
                cli_error("%s: option \"%s\" needs a value", argv[0], arg);
                return -1;
            }
            out->instance = argv[++i];
        } else if (strncmp(arg, "--connector=", 12) == 0) {
            out->instance = arg + 12;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            cli_error("%s: unknown option \"%s\" (see 'servo %s --help')", argv[0], arg, argv[0]);
            return -1;
        } else {
            out->command = i;
            return 0;
        }
    }
    return 0;
}

static bool asks_for_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

static char *instance_names(const struct servo_config *servo,
                            const struct servo_connector_plugin *plugin)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0, n = 0; i < servo->connector_count; i++)
        if (servo->connectors[i].plugin == plugin)
            strbuf_printf(&sb, "%s'%s'", n++ ? ", " : "", servo->connectors[i].name);
    return strbuf_detach(&sb);
}

/* The instance of `plugin` to run the command on; NULL after an error message. */
static struct servo_connector *pick_instance(struct servo_config *servo,
                                             const struct servo_connector_plugin *plugin,
                                             const char *wanted)
{
    struct servo_connector *found = NULL;
    size_t count = 0;
    for (size_t i = 0; i < servo->connector_count; i++) {
        struct servo_connector *c = &servo->connectors[i];
        if (c->plugin != plugin)
            continue;
        count++;
        bool first = wanted == NULL && found == NULL;
        if (first || (wanted != NULL && strcmp(c->name, wanted) == 0))
            found = c;
    }
    if (count == 0) {
        cli_error("no instances of \"%s\" are active in the servo \"%s\"", plugin->class_name,
                  servo->name);
        return NULL;
    }
    if (wanted != NULL && found == NULL) {
        char *names = instance_names(servo, plugin);
        cli_error("no instance of \"%s\" named \"%s\" is active in the servo \"%s\": select one "
                  "of [%s]",
                  plugin->class_name, wanted, servo->name, names);
        free(names);
        return NULL;
    }
    if (wanted == NULL && count > 1) {
        char *names = instance_names(servo, plugin);
        cli_error("multiple instances of \"%s\" are active in the servo \"%s\": select one of "
                  "[%s] with -c NAME",
                  plugin->class_name, servo->name, names);
        free(names);
        return NULL;
    }
    return found;
}

int cli_connector_command(struct cli *cli, const struct servo_connector_plugin *plugin, int argc,
                          char **argv)
{
    struct group_args args;
    if (parse_group_args(argc, argv, &args) != 0)
        return EXIT_USAGE;
    if (args.command == argc) {
        print_group_usage(plugin, args.help ? stdout : stderr);
        return args.help ? EXIT_OK : EXIT_USAGE;
    }
    const struct servo_command *command = find_subcommand(plugin, argv[args.command]);
    if (command == NULL) {
        cli_error("%s: no such command \"%s\" (see 'servo %s --help')", argv[0], argv[args.command],
                  argv[0]);
        return EXIT_USAGE;
    }
    int sub_argc = argc - args.command;
    char **sub_argv = argv + args.command;
    if (args.help || asks_for_help(sub_argc, sub_argv))
        return print_command_help(plugin, command);
    struct servo_config *servo;
    if (cli_attach(cli, &servo) != 0)
        return cli->failure;
    struct servo_connector *instance = pick_instance(servo, plugin, args.instance);
    if (instance == NULL)
        return EXIT_USAGE;
    fflush(stdout);
    int rc = command->run(instance, sub_argc, sub_argv);
    fflush(stdout);
    return rc;
}

static const struct cli_option group_options[] = {
    {'c', "connector", 0, CLI_ARG_TEXT, "NAME", NULL,
     "The instance to use when the servo has several"},
    {0, NULL, 0, CLI_ARG_NONE, NULL, NULL, NULL},
};

static const struct cli_option no_options[] = {{0, NULL, 0, CLI_ARG_NONE, NULL, NULL, NULL}};

/* A connector subcommand as a table entry: the first line of its usage is the synopsis, the
 * rest its description. */
static void describe_subcommand(struct cli_command *out, const struct servo_command *command)
{
    const char *usage = command->usage ? command->usage : "";
    const char *end = strchr(usage, '\n');
    const char *rest = end ? end + 1 : "";
    while (*rest == '\n')
        rest++;
    *out = (struct cli_command){
        .name = xstrdup(command->name),
        .group = "Connector Commands",
        .synopsis = end ? xstrndup(usage, (size_t)(end - usage)) : xstrdup(usage),
        .summary = command->summary ? command->summary : "",
        .description = *rest ? xstrdup(rest) : NULL,
        .options = no_options,
        .operands = CLI_ARG_TEXT,
    };
}

struct cli_command *cli_connector_commands(void)
{
    size_t count = 0;
    for (size_t i = 0; servo_builtin_connectors[i] != NULL; i++)
        count += has_commands(servo_builtin_connectors[i]);
    struct cli_command *groups = xcalloc(count + 1, sizeof *groups);
    size_t n = 0;
    for (size_t i = 0; servo_builtin_connectors[i] != NULL; i++) {
        const struct servo_connector_plugin *plugin = servo_builtin_connectors[i];
        if (!has_commands(plugin))
            continue;
        size_t subcount = 0;
        while (plugin->commands[subcount].name != NULL)
            subcount++;
        struct cli_command *subs = xcalloc(subcount + 1, sizeof *subs);
        for (size_t j = 0; j < subcount; j++)
            describe_subcommand(&subs[j], &plugin->commands[j]);
        groups[n++] = (struct cli_command){
            .name = command_word(plugin->name),
            .group = "Connector Commands",
            .synopsis = "[-c NAME] COMMAND [ARGS]...",
            .summary = plugin->description,
            .description = NULL,
            .options = group_options,
            .operands = CLI_ARG_NONE,
            .commands = subs,
        };
    }
    return groups;
}

void cli_connector_commands_free(struct cli_command *groups)
{
    for (struct cli_command *g = groups; g && g->name; g++) {
        for (struct cli_command *c = (struct cli_command *)g->commands; c->name; c++) {
            free((char *)c->name);
            free((char *)c->synopsis);
            free((char *)c->description);
        }
        free((struct cli_command *)g->commands);
        free((char *)g->name);
    }
    free(groups);
}
