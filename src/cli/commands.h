// SPDX-License-Identifier: Apache-2.0
/* The `servo` subcommands, declared once: commands.c puts them in the command table and each
 * cmd_*.c that defines one includes this header, so a mismatch does not compile. Each takes
 * the command's arguments (argv[0] is its name) and returns the exit status. */
#ifndef SERVO_CLI_COMMANDS_H
#define SERVO_CLI_COMMANDS_H

struct cli;

/* cmd_info.c */
int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_connectors(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);
/* cmd_config.c */
int cmd_validate(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_schema(struct cli *cli, int argc, char **argv);
int cmd_generate(struct cli *cli, int argc, char **argv);
/* cmd_convert.c: `config convert` */
int cmd_config_convert(struct cli *cli, int argc, char **argv);
int cmd_init(struct cli *cli, int argc, char **argv);
/* cmd_local.c */
int cmd_describe(struct cli *cli, int argc, char **argv);
int cmd_measure(struct cli *cli, int argc, char **argv);
int cmd_adjust(struct cli *cli, int argc, char **argv);
/* cmd_check.c */
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_inject_sidecar(struct cli *cli, int argc, char **argv);
int cmd_eject_sidecar(struct cli *cli, int argc, char **argv);
/* cmd_run.c */
int cmd_run(struct cli *cli, int argc, char **argv);
/* cmd_optimizer.c */
int cmd_optimizer(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);
/* completion.c */
int cmd_completion(struct cli *cli, int argc, char **argv);
int cmd_complete_words(struct cli *cli, int argc, char **argv);
/* manpage.c */
int cmd_man(struct cli *cli, int argc, char **argv);

#endif
