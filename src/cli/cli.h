/* The command line: global options, the subcommand table, and what commands share. */
#ifndef SERVO_CLI_H
#define SERVO_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "assembly/assembly.h"
#include "assembly/registry.h"

#define EXIT_OK 0
#define EXIT_FAILURE_OPERATIONAL 1
#define EXIT_USAGE 2

#define SERVO_NAME "Servo"
#define SERVO_CRYPTONYM "bronze"
#define SERVO_DESCRIPTION "Continuous Optimization Orchestrator"
#define SERVO_HOMEPAGE "https://github.com/opsani/servox"
#define SERVO_LICENSE "Apache 2.0"
#define SERVO_MATURITY "Experimental"

#define CLI_MAX_OVERRIDES 16

struct cli {
    const char *config_file;
    bool config_file_given; /* by flag or SERVO_CONFIG_FILE */
    const char *servo_name; /* -n / SERVO_NAME */
    bool allow_unknown;
    bool color;
    size_t limit; /* --limit: servos run at once (0: all) */
    struct config_override overrides[CLI_MAX_OVERRIDES];
    size_t override_count;
    struct registry registry;
    bool registry_ready;
    struct assembly assembly;
    bool assembly_ready;
    struct servo_config *attached; /* the servo whose connectors are attached, if any */
    /* The exit status after cli_registry, cli_assemble, cli_selected_servo or cli_attach
     * failed, as ServoX's: 2 for a usage error (no such file, no servo of that name), 1 for
     * an invalid configuration or a connector that cannot start. */
    int failure;
};

/* What an option's value or a command's operands are: help shows the metavar, completion
 * offers the matching words, the man page lists the choices. */
enum cli_arg {
    CLI_ARG_NONE,      /* a flag, or a command without operands */
    CLI_ARG_TEXT,      /* free text: nothing to offer */
    CLI_ARG_FILE,      /* a path */
    CLI_ARG_CHOICE,    /* one of `choices` */
    CLI_ARG_CONNECTOR, /* a connector name of the registry (plugins included) */
    CLI_ARG_SERVO,     /* a servo name of the configuration file */
    CLI_ARG_COMMAND,   /* a servo command */
};

/* Long-only options: the key cli_getopt returns for them. */
enum {
    OPT_HALT_ON = 256,
    OPT_NO_PROGRESSIVE,
    OPT_REMEDY,
    OPT_NO_REMEDY,
    OPT_NO_POLL,
    OPT_LOG_FORMAT,
    OPT_LOG_FILE,
    OPT_LISTEN,
    OPT_STORE,
    OPT_APP,
    OPT_WARMUP,
    OPT_CONTROL,
    OPT_NO_COLOR,
    OPT_ALLOW_UNKNOWN,
    OPT_OPTIMIZER,
    OPT_TOKEN,
    OPT_TOKEN_FILE,
    OPT_BASE_URL,
    OPT_URL,
    OPT_PARETO,
    OPT_LIMIT,
    OPT_DEBUG,
    OPT_NO_BANNER,
    OPT_HUMANIZE,
    OPT_NO_HUMANIZE,
    OPT_BEFORE,
    OPT_NO_BEFORE,
    OPT_ON,
    OPT_NO_ON,
    OPT_AFTER,
    OPT_NO_AFTER,
    OPT_DOTENV,
    OPT_NO_DOTENV,
};

struct cli_option {
    char short_name; /* 0: long only */
    const char *long_name;
    int key; /* what cli_getopt returns; 0: short_name */
    enum cli_arg arg;
    const char *metavar;        /* "FILE"; NULL for flags */
    const char *const *choices; /* CLI_ARG_CHOICE: NULL-terminated */
    const char *help;           /* one line per '\n' */
};

/* One entry per command: everything --help, the man page and the completion scripts say. */
struct cli_command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
    const char *group; /* the section of `servo --help`; NULL: a hidden command */
    const char *synopsis;
    const char *summary;
    const char *description;            /* paragraphs separated by blank lines; may be NULL */
    const struct cli_option *options;   /* ends with a zero entry; --help is implied */
    enum cli_arg operands;              /* what the positional arguments are */
    const struct cli_command *commands; /* subcommands (ends with a NULL name), or NULL */
};

/* The global options (before the command). */
extern const struct cli_option cli_global_options[];
extern const struct cli_command cli_commands[];

/* "servo: error: ..." on stderr. */
void cli_error(const char *fmt, ...) SERVO_PRINTF(1, 2);
void cli_print_diags(const struct servo_diags *diags);
/* Loads the registry once; prints problems and returns -1 on failure. */
int cli_registry(struct cli *cli);
/* Whether an override from the command line (--optimizer, --token ...) starts with `prefix`
 * ("optimizer.id"). */
bool cli_overridden(const struct cli *cli, const char *prefix);
/* Loads the registry and the configuration once; prints every problem and returns -1. The
 * optimizer flags are refused in a multi-servo file without --name. */
int cli_assemble(struct cli *cli);
/* The servo selected with --name (or the only one); NULL after an error message. */
const struct servo_config *cli_selected_servo(struct cli *cli);
/* `servo --help`, and its description paragraph. */
void cli_print_usage(FILE *out);
const char *cli_global_description(void);
/* Assembles, selects the servo and attaches its connectors (detached at exit). */
int cli_attach(struct cli *cli, struct servo_config **servo);
void cli_detach(struct cli *cli);
/* The progress sink of local commands: a bar on a terminal, log lines elsewhere. */
void cli_progress(void *context, const char *connector, const char *event, double percent,
                  const char *message);
void cli_progress_done(void);
/* Prints a failed dispatch: the error and every additional one. */
void cli_print_event_error(const char *event, const struct servo_error *error,
                           const struct servo_error *additional, size_t additional_count);
/* Prints the command's usage; returns EXIT_OK. */
int cli_help(const struct cli_command *command, FILE *out);
const struct cli_command *cli_find_command(const char *name);
/* A subcommand of `parent` ("serve" of "optimizer"), or NULL. */
const struct cli_command *cli_find_subcommand(const struct cli_command *parent, const char *name);
/* The next option of the command's table, as getopt_long: its key, -1 at the end, 'h' for
 * -h/--help, or -2 after a usage error was printed. Set optind = 0 before the first call. */
int cli_getopt(int argc, char **argv, const struct cli_command *command);
/* After cli_getopt: refuses (with an error) more than `allowed` operands. */
int cli_refuse_operands(const struct cli_command *command, int argc, char **argv, int allowed);
/* getopt_long over the global options (`global` holds cli_global_options): stops at the
 * command; ':' and '?' are returned as getopt_long returns them. */
int cli_global_getopt(int argc, char **argv, const struct cli_command *global);
/* "servo optimizer serve": the words that invoke a (sub)command. */
const char *cli_command_path(const struct cli_command *command);
/* The options of a table, aligned at `column`, as --help prints them. */
void cli_print_options(FILE *out, const struct cli_option *options, int column, bool with_help);
/* Writes `text` to `path` (or stdout when NULL or "-"); prints an error and returns -1. */
int cli_write_output(const char *path, const char *text);
/* "text" or "json" etc.: index into `choices`, or -1 after an error naming the option. */
int cli_choice(const char *option, const char *value, const char *const *choices);
/* The same for the option of the command's table whose key is `key`. */
int cli_option_choice(const struct cli_command *command, int key, const char *value);

/* Connector commands (cmd_connector.c): the plugin whose commands `word` invokes
 * ("prometheus", "opsani-dev"), or NULL; running one (`argv[0]` is the word); the help of
 * the group (subcommand NULL) or of one subcommand; and the "Connector Commands" section of
 * `servo --help`. */
const struct servo_connector_plugin *cli_find_connector(struct cli *cli, const char *word);
int cli_connector_command(struct cli *cli, const struct servo_connector_plugin *plugin, int argc,
                          char **argv);
int cli_connector_help(const struct servo_connector_plugin *plugin, const char *subcommand);
void cli_print_connector_usage(FILE *out);
/* The built-in connectors' command groups as command-table entries (for the man page and
 * the completions); freed with cli_connector_commands_free. */
struct cli_command *cli_connector_commands(void);
void cli_connector_commands_free(struct cli_command *groups);
/* The completion script of "bash", "zsh" or "fish", and the man page (caller frees). */
char *cli_completion_script(const char *shell);
char *cli_man_page(void);
/* Parses a command whose only option is -o/--output FILE: 0 (output NULL: standard output),
 * -1 after --help, or EXIT_USAGE after an error. */
int cli_parse_output(int argc, char **argv, const struct cli_command *self, const char **output);

/* Aligned columns: rows of `columns` cells; the first row is the header. */
struct table {
    size_t columns;
    size_t rows;
    size_t capacity;
    char **cells;
};

void table_init(struct table *t, size_t columns, const char *const *header);
void table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

#endif
