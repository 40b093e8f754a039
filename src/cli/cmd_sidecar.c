// SPDX-License-Identifier: Apache-2.0
/* `servo inject-sidecar` and `servo eject-sidecar`: ServoX's commands, which need no
 * configuration. They are the opsani_dev connector's commands run without an instance (the
 * namespace, the target and the Service then come from the arguments alone). */
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

static int run_sidecar_command(struct cli *cli, const char *name, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command(name);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return cli_help(self, stdout);
    if (cli_registry(cli) != 0)
        return cli->failure;
    const struct registry_entry *entry = registry_find(&cli->registry, "opsani_dev");
    const struct servo_command *command = NULL;
    for (size_t i = 0; entry && entry->plugin->commands && entry->plugin->commands[i].name; i++)
        if (strcmp(entry->plugin->commands[i].name, name) == 0)
            command = &entry->plugin->commands[i];
    if (command == NULL) {
        cli_error("%s: the opsani_dev connector is not available", name);
        return EXIT_FAILURE;
    }
    return command->run(NULL, argc, argv);
}

int cmd_inject_sidecar(struct cli *cli, int argc, char **argv)
{
    return run_sidecar_command(cli, "inject-sidecar", argc, argv);
}

int cmd_eject_sidecar(struct cli *cli, int argc, char **argv)
{
    return run_sidecar_command(cli, "eject-sidecar", argc, argv);
}
