// SPDX-License-Identifier: Apache-2.0
/* `servo completion bash|zsh|fish`: completion scripts generated from the command table, and
 * `servo __complete connectors|servos`, which the scripts ask at completion time for the
 * words only the servo knows (plugins included, the servos of the configuration file).
 *
 * Every script works the same way: walk the words typed so far to find the command path
 * ("optimizer serve"), skipping options and their values, then offer the value of the option
 * just typed, the options of the path, its subcommands, or its operands. The per-path data
 * are generated `case` functions (shared by bash and zsh), or `switch` functions in fish. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "config/yaml.h"
#include "util/util.h"

enum dialect { DIALECT_SH, DIALECT_FISH };

/* ---- walking the command tree ---------------------------------------------------------- */

typedef void (*node_visitor)(const char *path, const struct cli_command *node, void *context);

static void walk_node(const char *path, const struct cli_command *node, node_visitor visit,
                      void *context)
{
    visit(path, node, context);
    for (const struct cli_command *sub = node->commands; sub && sub->name; sub++) {
        char *sub_path = xasprintf("%s%s%s", path, path[0] ? " " : "", sub->name);
        walk_node(sub_path, sub, visit, context);
        free(sub_path);
    }
}

/* The root is the global options, with every visible command and connector group below. */
struct command_tree {
    struct cli_command *connector_groups;
    struct cli_command *top; /* visible commands then the connector groups */
    struct cli_command root;
};

static void tree_init(struct command_tree *tree)
{
    tree->connector_groups = cli_connector_commands();
    size_t count = 0, groups = 0;
    for (const struct cli_command *c = cli_commands; c->name; c++)
        count += c->group != NULL;
    while (tree->connector_groups[groups].name)
        groups++;
    tree->top = xcalloc(count + groups + 1, sizeof *tree->top);
    size_t n = 0;
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (c->group != NULL)
            tree->top[n++] = *c;
    for (size_t i = 0; i < groups; i++)
        tree->top[n++] = tree->connector_groups[i];
    tree->root = (struct cli_command){.name = "servo",
                                      .synopsis = "[OPTIONS] COMMAND [ARGS]...",
                                      .summary = "",
                                      .options = cli_global_options,
                                      .commands = tree->top};
}

static void tree_free(struct command_tree *tree)
{
    free(tree->top);
    cli_connector_commands_free(tree->connector_groups);
}

/* ---- quoting --------------------------------------------------------------------------- */

static void put_quoted(struct strbuf *sb, enum dialect dialect, const char *s)
{
    strbuf_putc(sb, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            strbuf_puts(sb, dialect == DIALECT_FISH ? "\\'" : "'\\''");
        else if (*s == '\\' && dialect == DIALECT_FISH)
            strbuf_puts(sb, "\\\\");
        else if (*s == '\n')
            strbuf_putc(sb, ' ');
        else
            strbuf_putc(sb, *s);
    }
    strbuf_putc(sb, '\'');
}

/* The first line of a help text. */
static char *first_line(const char *text)
{
    const char *end = strchr(text, '\n');
    return end ? xstrndup(text, (size_t)(end - text)) : xstrdup(text);
}

/* ---- the per-path data ----------------------------------------------------------------- */

static bool has_entries(const struct cli_option *o)
{
    return o->short_name || o->long_name;
}

/* What completes a value (or operand) of this kind; "" when nothing does. */
static char *kind_word(enum cli_arg arg, const char *const *choices)
{
    switch (arg) {
    case CLI_ARG_NONE:
        return xstrdup("");
    case CLI_ARG_TEXT:
        return xstrdup("text");
    case CLI_ARG_FILE:
        return xstrdup("file");
    case CLI_ARG_CHOICE: {
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_puts(&sb, "words");
        for (size_t i = 0; choices && choices[i]; i++)
            strbuf_printf(&sb, " %s", choices[i]);
        return strbuf_detach(&sb);
    }
    case CLI_ARG_CONNECTOR:
        return xstrdup("connector");
    case CLI_ARG_SERVO:
        return xstrdup("servo");
    case CLI_ARG_COMMAND:
        return xstrdup("command");
    }
    return xstrdup("");
}

struct emitter {
    enum dialect dialect;
    struct strbuf *out;
};

static void arm_begin(struct emitter *e, const char *pattern_a, const char *pattern_b)
{
    struct strbuf *sb = e->out;
    strbuf_puts(sb, e->dialect == DIALECT_FISH ? "        case " : "    ");
    put_quoted(sb, e->dialect, pattern_a);
    if (pattern_b) {
        strbuf_puts(sb, e->dialect == DIALECT_FISH ? " " : " | ");
        put_quoted(sb, e->dialect, pattern_b);
    }
    strbuf_puts(sb, e->dialect == DIALECT_FISH ? "\n            " : ") ");
}

static void arm_end(struct emitter *e)
{
    strbuf_puts(e->out, e->dialect == DIALECT_FISH ? "\n" : " ;;\n");
}

/* bash and zsh: the answer is in $__servo_reply, so no subshell is needed per word. */
static void emit_echo(struct emitter *e, const char *value)
{
    strbuf_puts(e->out, e->dialect == DIALECT_FISH ? "echo " : "__servo_reply=");
    put_quoted(e->out, e->dialect, value);
}

static void visit_option_args(const char *path, const struct cli_command *node, void *context)
{
    struct emitter *e = context;
    for (const struct cli_option *o = node->options; o && has_entries(o); o++) {
        if (o->arg == CLI_ARG_NONE)
            continue;
        char *a = o->short_name ? xasprintf("%s|-%c", path, o->short_name) : NULL;
        char *b = xasprintf("%s|--%s", path, o->long_name);
        char *kind = kind_word(o->arg, o->choices);
        arm_begin(e, a ? a : b, a ? b : NULL);
        emit_echo(e, kind);
        arm_end(e);
        free(a);
        free(b);
        free(kind);
    }
}

static void visit_options(const char *path, const struct cli_command *node, void *context)
{
    struct emitter *e = context;
    arm_begin(e, path, NULL);
    if (e->dialect == DIALECT_SH) {
        struct strbuf words;
        strbuf_init(&words);
        for (const struct cli_option *o = node->options; o && has_entries(o); o++) {
            if (o->short_name)
                strbuf_printf(&words, "-%c ", o->short_name);
            if (o->long_name)
                strbuf_printf(&words, "--%s ", o->long_name);
        }
        strbuf_puts(&words, "-h --help");
        emit_echo(e, words.data);
        strbuf_release(&words);
    } else {
        strbuf_puts(e->out, "printf '%s\\t%s\\n'");
        for (const struct cli_option *o = node->options; o && has_entries(o); o++) {
            char *help = first_line(o->help);
            char *word =
                o->long_name ? xasprintf("--%s", o->long_name) : xasprintf("-%c", o->short_name);
            strbuf_putc(e->out, ' ');
            put_quoted(e->out, e->dialect, word);
            strbuf_putc(e->out, ' ');
            put_quoted(e->out, e->dialect, help);
            free(word);
            free(help);
        }
        strbuf_puts(e->out, " --help 'Show this message and exit'");
    }
    arm_end(e);
}

static void visit_subcommands(const char *path, const struct cli_command *node, void *context)
{
    struct emitter *e = context;
    if (node->commands == NULL || node->commands[0].name == NULL)
        return;
    arm_begin(e, path, NULL);
    if (e->dialect == DIALECT_SH) {
        struct strbuf words;
        strbuf_init(&words);
        for (const struct cli_command *c = node->commands; c->name; c++)
            strbuf_printf(&words, "%s%s", c == node->commands ? "" : " ", c->name);
        emit_echo(e, words.data);
        strbuf_release(&words);
    } else {
        strbuf_puts(e->out, "printf '%s\\t%s\\n'");
        for (const struct cli_command *c = node->commands; c->name; c++) {
            strbuf_putc(e->out, ' ');
            put_quoted(e->out, e->dialect, c->name);
            strbuf_putc(e->out, ' ');
            put_quoted(e->out, e->dialect, c->summary);
        }
    }
    arm_end(e);
}

static void visit_operands(const char *path, const struct cli_command *node, void *context)
{
    struct emitter *e = context;
    if (node->operands == CLI_ARG_NONE || node->operands == CLI_ARG_TEXT)
        return;
    char *kind = kind_word(node->operands, NULL);
    arm_begin(e, path, NULL);
    emit_echo(e, kind);
    arm_end(e);
    free(kind);
}

static void emit_function(struct emitter *e, struct command_tree *tree, const char *name,
                          const char *subject, node_visitor visit)
{
    struct strbuf *sb = e->out;
    if (e->dialect == DIALECT_FISH)
        strbuf_printf(sb, "function %s\n    switch %s\n", name, subject);
    else
        strbuf_printf(sb, "%s() {\n    __servo_reply=\n    case %s in\n", name, subject);
    walk_node("", &tree->root, visit, e);
    strbuf_puts(sb, e->dialect == DIALECT_FISH ? "    end\nend\n\n" : "    esac\n}\n\n");
}

static void emit_data(struct emitter *e)
{
    struct command_tree tree;
    tree_init(&tree);
    bool fish = e->dialect == DIALECT_FISH;
    strbuf_puts(e->out, "# What the value of option $2 of command path $1 is: file, text, servo,\n"
                        "# connector, command, or 'words W...'; nothing when it takes no value.\n");
    emit_function(e, &tree, "__servo_option_arg", fish ? "\"$argv[1]|$argv[2]\"" : "\"$1|$2\"",
                  visit_option_args);
    strbuf_puts(e->out, "# The options of a command path.\n");
    emit_function(e, &tree, "__servo_options", fish ? "\"$argv[1]\"" : "\"$1\"", visit_options);
    strbuf_puts(e->out, "# The subcommands of a command path.\n");
    emit_function(e, &tree, "__servo_subcommands", fish ? "\"$argv[1]\"" : "\"$1\"",
                  visit_subcommands);
    strbuf_puts(e->out, "# What the operands of a command path are (as __servo_option_arg).\n");
    emit_function(e, &tree, "__servo_operands", fish ? "\"$argv[1]\"" : "\"$1\"", visit_operands);
    tree_free(&tree);
}

/* ---- the drivers ----------------------------------------------------------------------- */

static const char header[] =
    "# SPDX-License-Identifier: Apache-2.0\n"
    "# %s completion for servo, generated by `servo completion %s` from the servo's command\n"
    "# table: do not edit.\n\n";

/* Shared by bash and zsh: the command path of the words before the current one. Sets
 * __servo_path and __servo_global (the -c/-n options, for `servo __complete`). */
static const char sh_walk[] =
    "__servo_walk() {\n"
    "    local word kind subs i=$1 end=$2\n"
    "    shift 2\n"
    "    local -a all\n"
    "    all=(\"$@\")\n"
    "    __servo_path=\n"
    "    __servo_global=()\n"
    "    while ((i < end)); do\n"
    "        word=${all[i]}\n"
    "        __servo_option_arg \"$__servo_path\" \"$word\"\n"
    "        kind=$__servo_reply\n"
    "        if [[ -n $kind ]]; then\n"
    "            case \"$__servo_path|$word\" in\n"
    "            '|-c' | '|--config-file' | '|-n' | '|--name')\n"
    "                ((i + 1 < end)) && __servo_global+=(\"$word\" \"${all[i + 1]}\") ;;\n"
    "            esac\n"
    "            ((i += 2))\n"
    "            continue\n"
    "        fi\n"
    "        if [[ $word != -* ]]; then\n"
    "            __servo_subcommands \"$__servo_path\"\n"
    "            subs=\" $__servo_reply \"\n"
    "            if [[ -z $__servo_path || $subs == *\" $word \"* ]]; then\n"
    "                __servo_path=${__servo_path:+$__servo_path }$word\n"
    "            fi\n"
    "        fi\n"
    "        ((i++))\n"
    "    done\n"
    "}\n\n"
    "# Words only the servo knows: connectors (plugins included), servos (of the file).\n"
    "__servo_ask() {\n"
    "    \"$__servo_bin\" \"${__servo_global[@]}\" __complete \"$1\" 2>/dev/null\n"
    "}\n\n";

static const char bash_driver[] =
    "__servo_offer() {\n"
    "    local IFS=$'\\n'\n"
    "    COMPREPLY=($(compgen -W \"$1\" -- \"$cur\"))\n"
    "}\n\n"
    "__servo_value() {\n"
    "    case $1 in\n"
    "    file)\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        local IFS=$'\\n'\n"
    "        COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
    "    connector | servo) __servo_offer \"$(__servo_ask \"$1s\")\" ;;\n"
    "    command)\n"
    "        __servo_subcommands ''\n"
    "        __servo_offer \"${__servo_reply// /$'\\n'}\" ;;\n"
    "    words\\ *)\n"
    "        local choices=${1#words }\n"
    "        __servo_offer \"${choices// /$'\\n'}\" ;;\n"
    "    *) COMPREPLY=() ;;\n"
    "    esac\n"
    "}\n\n"
    "_servo() {\n"
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
    "    local __servo_bin=${COMP_WORDS[0]} __servo_path __servo_reply\n"
    "    local -a __servo_global\n"
    "    __servo_walk 1 \"$COMP_CWORD\" \"${COMP_WORDS[@]}\"\n"
    "    if ((COMP_CWORD > 1)); then\n"
    "        __servo_option_arg \"$__servo_path\" \"$prev\"\n"
    "        if [[ -n $__servo_reply ]]; then\n"
    "            __servo_value \"$__servo_reply\"\n"
    "            return 0\n"
    "        fi\n"
    "    fi\n"
    "    if [[ $cur == -* ]]; then\n"
    "        __servo_options \"$__servo_path\"\n"
    "        __servo_offer \"${__servo_reply// /$'\\n'}\"\n"
    "        return 0\n"
    "    fi\n"
    "    __servo_subcommands \"$__servo_path\"\n"
    "    if [[ -n $__servo_reply ]]; then\n"
    "        __servo_offer \"${__servo_reply// /$'\\n'}\"\n"
    "        return 0\n"
    "    fi\n"
    "    __servo_operands \"$__servo_path\"\n"
    "    __servo_value \"$__servo_reply\"\n"
    "    return 0\n"
    "}\n\n"
    "complete -F _servo servo\n";

static const char zsh_driver[] =
    "__servo_value() {\n"
    "    case $1 in\n"
    "    file) _files ;;\n"
    "    connector | servo) compadd -- ${(f)\"$(__servo_ask \"$1s\")\"} ;;\n"
    "    command)\n"
    "        __servo_subcommands ''\n"
    "        compadd -- ${=__servo_reply} ;;\n"
    "    words\\ *) compadd -- ${=${1#words }} ;;\n"
    "    esac\n"
    "}\n\n"
    "_servo() {\n"
    "    local cur=${words[CURRENT]} prev=${words[CURRENT-1]}\n"
    "    local __servo_bin=${words[1]} __servo_path __servo_reply\n"
    "    local -a __servo_global\n"
    "    setopt localoptions ksharrays\n"
    "    __servo_walk 1 $((CURRENT - 1)) \"${words[@]}\"\n"
    "    if ((CURRENT > 2)); then\n"
    "        __servo_option_arg \"$__servo_path\" \"$prev\"\n"
    "        if [[ -n $__servo_reply ]]; then\n"
    "            __servo_value \"$__servo_reply\"\n"
    "            return\n"
    "        fi\n"
    "    fi\n"
    "    if [[ $cur == -* ]]; then\n"
    "        __servo_options \"$__servo_path\"\n"
    "        compadd -- ${=__servo_reply}\n"
    "        return\n"
    "    fi\n"
    "    __servo_subcommands \"$__servo_path\"\n"
    "    if [[ -n $__servo_reply ]]; then\n"
    "        compadd -- ${=__servo_reply}\n"
    "        return\n"
    "    fi\n"
    "    __servo_operands \"$__servo_path\"\n"
    "    __servo_value \"$__servo_reply\"\n"
    "}\n\n"
    "if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
    "    _servo \"$@\"\n"
    "else\n"
    "    compdef _servo servo\n"
    "fi\n";

static const char fish_driver[] =
    "# The command path of the words before the current one; the -c/-n options are kept in\n"
    "# __servo_global for `servo __complete`.\n"
    "function __servo_walk\n"
    "    set -l words (commandline -opc)\n"
    "    set -g __servo_bin $words[1]\n"
    "    set -g __servo_global\n"
    "    set -g __servo_path ''\n"
    "    set -l i 2\n"
    "    while test $i -le (count $words)\n"
    "        set -l word $words[$i]\n"
    "        set -l kind (__servo_option_arg \"$__servo_path\" $word)\n"
    "        if test -n \"$kind\"\n"
    "            switch \"$__servo_path|$word\"\n"
    "                case '|-c' '|--config-file' '|-n' '|--name'\n"
    "                    if test $i -lt (count $words)\n"
    "                        set -a __servo_global $word $words[(math $i + 1)]\n"
    "                    end\n"
    "            end\n"
    "            set i (math $i + 2)\n"
    "            continue\n"
    "        end\n"
    "        if not string match -q -- '-*' $word\n"
    "            if test -z \"$__servo_path\"\n"
    "                set __servo_path $word\n"
    "            else if contains -- $word (__servo_subcommands \"$__servo_path\" | string replace "
    "-r '\\t.*' '')\n"
    "                set __servo_path \"$__servo_path $word\"\n"
    "            end\n"
    "        end\n"
    "        set i (math $i + 1)\n"
    "    end\n"
    "end\n\n"
    "function __servo_value\n"
    "    switch $argv[1]\n"
    "        case file\n"
    "            __fish_complete_path (commandline -ct)\n"
    "        case connector servo\n"
    "            $__servo_bin $__servo_global __complete $argv[1]s 2>/dev/null\n"
    "        case command\n"
    "            __servo_subcommands ''\n"
    "        case 'words *'\n"
    "            string split ' ' -- (string replace 'words ' '' -- $argv[1])\n"
    "    end\n"
    "end\n\n"
    "function __servo_complete\n"
    "    __servo_walk\n"
    "    set -l words (commandline -opc)\n"
    "    set -l cur (commandline -ct)\n"
    "    if test (count $words) -gt 1\n"
    "        set -l kind (__servo_option_arg \"$__servo_path\" $words[-1])\n"
    "        if test -n \"$kind\"\n"
    "            __servo_value $kind\n"
    "            return\n"
    "        end\n"
    "    end\n"
    "    if string match -q -- '-*' $cur\n"
    "        __servo_options \"$__servo_path\"\n"
    "        return\n"
    "    end\n"
    "    set -l subs (__servo_subcommands \"$__servo_path\")\n"
    "    if test -n \"$subs\"\n"
    "        printf '%s\\n' $subs\n"
    "        return\n"
    "    end\n"
    "    __servo_value (__servo_operands \"$__servo_path\")\n"
    "end\n\n"
    "complete -c servo -e\n"
    "complete -c servo -f -a '(__servo_complete)'\n";

char *cli_completion_script(const char *shell)
{
    struct strbuf sb;
    strbuf_init(&sb);
    bool fish = strcmp(shell, "fish") == 0;
    if (strcmp(shell, "zsh") == 0)
        strbuf_puts(&sb, "#compdef servo\n");
    strbuf_printf(&sb, header, shell, shell);
    struct emitter e = {fish ? DIALECT_FISH : DIALECT_SH, &sb};
    emit_data(&e);
    if (fish) {
        strbuf_puts(&sb, fish_driver);
    } else {
        strbuf_puts(&sb, sh_walk);
        strbuf_puts(&sb, strcmp(shell, "zsh") == 0 ? zsh_driver : bash_driver);
    }
    return strbuf_detach(&sb);
}

/* The value of -o/--output, or NULL for standard output; -1 after --help or an error. */
int cli_parse_output(int argc, char **argv, const struct cli_command *self, const char **output)
{
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout), -1;
        *output = optarg;
    }
    if (optind < argc) {
        cli_error("%s: unexpected argument \"%s\"", cli_command_path(self), argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_completion(struct cli *cli, int argc, char **argv)
{
    (void)cli;
    const struct cli_command *self = cli_find_command("completion");
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        if (argc < 2)
            cli_error("completion: expected a shell: bash, zsh or fish");
        cli_help(self, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const struct cli_command *shell = cli_find_subcommand(self, argv[1]);
    if (shell == NULL) {
        cli_error("completion: unknown shell \"%s\" (expected bash, zsh or fish)", argv[1]);
        return EXIT_USAGE;
    }
    const char *output = NULL;
    int rc = cli_parse_output(argc - 1, argv + 1, shell, &output);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    char *script = cli_completion_script(shell->name);
    rc = cli_write_output(output, script);
    free(script);
    return rc == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
}

/* ---- `servo __complete` ---------------------------------------------------------------- */

static const char *scalar_at(const struct servo_node *map, const char *key)
{
    if (map == NULL || map->kind != SERVO_NODE_MAP)
        return NULL;
    const struct servo_pair *pair = node_map_find(map, key);
    if (pair == NULL || pair->value == NULL || pair->value->kind != SERVO_NODE_SCALAR)
        return NULL;
    return pair->value->text;
}

/* The servo names of the configuration file as the assembly names them (`name`, else the
 * optimizer id), read without validating the rest, so a file being written still completes. */
static void print_servo_names(const char *config_file)
{
    struct yaml_documents docs = {0};
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load_file(config_file, &docs, &diags) == 0) {
        for (size_t i = 0; i < docs.count; i++) {
            const struct servo_node *doc = docs.items[i];
            const char *name = scalar_at(doc, "name");
            if (name == NULL) {
                const struct servo_pair *optimizer =
                    doc && doc->kind == SERVO_NODE_MAP ? node_map_find(doc, "optimizer") : NULL;
                name = optimizer ? scalar_at(optimizer->value, "id") : NULL;
            }
            if (name)
                printf("%s\n", name);
        }
    }
    yaml_documents_free(&docs);
    diags_free(&diags);
}

int cmd_complete_words(struct cli *cli, int argc, char **argv)
{
    if (argc != 2) {
        cli_error("__complete: expected connectors or servos");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "servos") == 0) {
        print_servo_names(cli->config_file);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "connectors") != 0) {
        cli_error("__complete: expected connectors or servos, not \"%s\"", argv[1]);
        return EXIT_USAGE;
    }
    cli_registry(cli);
    for (size_t i = 0; i < cli->registry.count; i++)
        printf("%s\n", cli->registry.entries[i].plugin->name);
    return EXIT_OK;
}
