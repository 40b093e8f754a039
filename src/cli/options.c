// SPDX-License-Identifier: Apache-2.0
/* Option parsing and --help, both from the command table (commands.c). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

#define MAX_OPTIONS 40

/* The getopt_long tables of one command, rebuilt when the command changes. */
struct getopt_tables {
    const struct cli_command *command;
    char shortopts[2 * MAX_OPTIONS + 4];
    struct option longopts[MAX_OPTIONS + 2];
};

static int option_key(const struct cli_option *o)
{
    return o->key ? o->key : o->short_name;
}

/* `in_order`: stop at the first operand (the global options end at the command). */
static void build_tables(struct getopt_tables *t, const struct cli_command *command, bool in_order)
{
    size_t s = 0, l = 0;
    if (in_order)
        t->shortopts[s++] = '+';
    t->shortopts[s++] = ':';
    for (const struct cli_option *o = command->options; o && (o->short_name || o->long_name); o++) {
        if (l >= MAX_OPTIONS)
            abort(); /* a table this long is a programming error */
        int has_arg = o->arg == CLI_ARG_NONE ? no_argument : required_argument;
        if (o->short_name) {
            t->shortopts[s++] = o->short_name;
            if (has_arg)
                t->shortopts[s++] = ':';
        }
        if (o->long_name)
            t->longopts[l++] = (struct option){o->long_name, has_arg, NULL, option_key(o)};
    }
    t->shortopts[s++] = 'h';
    t->shortopts[s] = '\0';
    t->longopts[l++] = (struct option){"help", no_argument, NULL, 'h'};
    t->longopts[l] = (struct option){NULL, 0, NULL, 0};
    t->command = command;
}

int cli_getopt(int argc, char **argv, const struct cli_command *command)
{
    static struct getopt_tables tables;
    if (tables.command != command)
        build_tables(&tables, command, false);
    int c = getopt_long(argc, argv, tables.shortopts, tables.longopts, NULL);
    const char *path = cli_command_path(command);
    if (c == '?') {
        cli_error("%s: unknown option or missing value \"%s\" (see 'servo %s --help')", path,
                  argv[optind - 1], path);
        return -2;
    }
    if (c == ':') {
        cli_error("%s: option \"%s\" needs a value", path, argv[optind - 1]);
        return -2;
    }
    return c;
}

int cli_global_getopt(int argc, char **argv, const struct cli_command *global)
{
    static struct getopt_tables tables;
    if (tables.command != global)
        build_tables(&tables, global, true);
    return getopt_long(argc, argv, tables.shortopts, tables.longopts, NULL);
}

int cli_refuse_operands(const struct cli_command *command, int argc, char **argv, int allowed)
{
    if (optind + allowed >= argc)
        return 0;
    cli_error("%s: unexpected argument \"%s\"", cli_command_path(command), argv[optind + allowed]);
    return -1;
}

const struct cli_command *cli_find_command(const char *name)
{
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const struct cli_command *cli_find_subcommand(const struct cli_command *parent, const char *name)
{
    for (const struct cli_command *c = parent->commands; c && c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *cli_command_path(const struct cli_command *command)
{
    static char path[128];
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        for (const struct cli_command *sub = c->commands; sub && sub->name; sub++)
            if (sub == command) {
                snprintf(path, sizeof path, "%s %s", c->name, sub->name);
                return path;
            }
    }
    return command->name;
}

/* "-f, --format FORMAT" */
static char *option_label(const struct cli_option *o)
{
    struct strbuf sb;
    strbuf_init(&sb);
    if (o->short_name)
        strbuf_printf(&sb, "-%c%s", o->short_name, o->long_name ? ", " : "");
    else
        strbuf_puts(&sb, "    ");
    if (o->long_name)
        strbuf_printf(&sb, "--%s", o->long_name);
    if (o->metavar)
        strbuf_printf(&sb, " %s", o->metavar);
    return strbuf_detach(&sb);
}

static void print_option(FILE *out, const char *label, const char *help, int column)
{
    int width = fprintf(out, "  %s", label);
    fprintf(out, "%*s", width < column - 1 ? column - width : 1, "");
    for (const char *line = help; *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        fprintf(out, "%.*s\n", (int)length, line);
        if (end == NULL)
            break;
        line = end + 1;
        fprintf(out, "%*s", column, "");
    }
}

void cli_print_options(FILE *out, const struct cli_option *options, int column, bool with_help)
{
    for (const struct cli_option *o = options; o && (o->short_name || o->long_name); o++) {
        char *label = option_label(o);
        print_option(out, label, o->help, column);
        free(label);
    }
    if (with_help)
        print_option(out, "-h, --help", "Show this message and exit", column);
}

/* A group of subcommands (`optimizer`), or a command of its own with subcommands too
 * (`config KEY...` and `config convert`): then its usage and options come first. */
static void print_group_help(const struct cli_command *command, FILE *out)
{
    const char *path = cli_command_path(command);
    bool own = command->options[0].short_name || command->options[0].long_name;
    if (own)
        fprintf(out, "Usage: servo %s%s%s\n", path, command->synopsis[0] ? " " : "",
                command->synopsis);
    for (const struct cli_command *c = command->commands; c->name; c++)
        fprintf(out, "%s servo %s %s%s%s\n", !own && c == command->commands ? "Usage:" : "      ",
                path, c->name, c->synopsis[0] ? " " : "", c->synopsis);
    if (command->description)
        fprintf(out, "\n%s", command->description);
    if (own) {
        fputs("\nOptions:\n", out);
        cli_print_options(out, command->options, 23, true);
    }
    fputs("\nCommands:\n", out);
    for (const struct cli_command *c = command->commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'servo %s COMMAND --help' for a command's options.\n", path);
}

int cli_help(const struct cli_command *command, FILE *out)
{
    if (command->commands) {
        print_group_help(command, out);
        return EXIT_OK;
    }
    fprintf(out, "Usage: servo %s%s%s\n", cli_command_path(command),
            command->synopsis[0] ? " " : "", command->synopsis);
    fprintf(out, "\n%s", command->description ? command->description : command->summary);
    if (command->description == NULL)
        fputc('\n', out);
    fputs("\nOptions:\n", out);
    cli_print_options(out, command->options, 23, true);
    return EXIT_OK;
}

int cli_option_choice(const struct cli_command *command, int key, const char *value)
{
    for (const struct cli_option *o = command->options; o->short_name || o->long_name; o++)
        if (option_key(o) == key && o->choices) {
            char name[64];
            snprintf(name, sizeof name, "--%s", o->long_name);
            return cli_choice(name, value, o->choices);
        }
    abort(); /* the command's table has no such choice option: a programming error */
}
