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
    struct config_override overrides[CLI_MAX_OVERRIDES];
    size_t override_count;
    struct registry registry;
    bool registry_ready;
    struct assembly assembly;
    bool assembly_ready;
    struct servo_config *attached; /* the servo whose connectors are attached, if any */
};

struct cli_command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
    const char *section; /* for `servo --help` */
    const char *summary;
    const char *usage; /* full help text after the "Usage:" line */
};

extern const struct cli_command cli_commands[];

/* "servo: error: ..." on stderr. */
void cli_error(const char *fmt, ...) SERVO_PRINTF(1, 2);
void cli_print_diags(const struct servo_diags *diags);
/* Loads the registry once; prints problems and returns -1 on failure. */
int cli_registry(struct cli *cli);
/* Loads the registry and the configuration once; prints every problem and returns -1. */
int cli_assemble(struct cli *cli);
/* The servo selected with --name (or the only one); NULL after an error message. */
const struct servo_config *cli_selected_servo(struct cli *cli);
/* `servo --help`. */
void cli_print_usage(FILE *out);
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
/* Shared option parsing: resets getopt and reports unknown options as usage errors. */
int cli_getopt(int argc, char **argv, const char *shortopts, const void *longopts,
               const struct cli_command *command);
/* Writes `text` to `path` (or stdout when NULL or "-"); prints an error and returns -1. */
int cli_write_output(const char *path, const char *text);
/* "text" or "json" etc.: index into `choices`, or -1 after an error naming the option. */
int cli_choice(const char *option, const char *value, const char *const *choices);

/* Connector commands (cmd_connector.c): the plugin whose commands `word` invokes
 * ("prometheus", "opsani-dev"), or NULL; running one (`argv[0]` is the word); the help of
 * the group (subcommand NULL) or of one subcommand; and the "Connector Commands" section of
 * `servo --help`. */
const struct servo_connector_plugin *cli_find_connector(struct cli *cli, const char *word);
int cli_connector_command(struct cli *cli, const struct servo_connector_plugin *plugin, int argc,
                          char **argv);
int cli_connector_help(const struct servo_connector_plugin *plugin, const char *subcommand);
void cli_print_connector_usage(FILE *out);

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
