/* servo: parse the global options, then hand over to a subcommand. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/env.h"
#include "events/bus.h"
#include "util/log.h"

enum {
    OPT_NO_COLOR = 256,
    OPT_ALLOW_UNKNOWN,
    OPT_OPTIMIZER,
    OPT_TOKEN,
    OPT_TOKEN_FILE,
    OPT_BASE_URL,
    OPT_URL
};

static const struct option global_options[] = {
    {"config-file", required_argument, NULL, 'c'},
    {"name", required_argument, NULL, 'n'},
    {"log-level", required_argument, NULL, 'l'},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"allow-unknown", no_argument, NULL, OPT_ALLOW_UNKNOWN},
    {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"url", required_argument, NULL, OPT_URL},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void add_override(struct cli *cli, const char *path, const char *value)
{
    if (cli->override_count < CLI_MAX_OVERRIDES)
        cli->overrides[cli->override_count++] = (struct config_override){path, value};
}

static int set_log_level(const char *name)
{
    int level = log_level_parse(name);
    if (level < 0) {
        cli_error("invalid log level \"%s\" (expected TRACE, DEBUG, INFO, SUCCESS, WARNING, "
                  "ERROR or CRITICAL)",
                  name);
        return -1;
    }
    log_set_level((enum servo_log_level)level);
    return 0;
}

static int parse_global_options(struct cli *cli, int argc, char **argv)
{
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+:c:n:l:h", global_options, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->config_file = optarg;
            cli->config_file_given = true;
            break;
        case 'n':
            cli->servo_name = optarg;
            break;
        case 'l':
            if (set_log_level(optarg) != 0)
                return -1;
            break;
        case OPT_NO_COLOR:
            cli->color = false;
            log_set_color(false);
            break;
        case OPT_ALLOW_UNKNOWN:
            cli->allow_unknown = true;
            break;
        case OPT_OPTIMIZER:
            add_override(cli, "optimizer.id", optarg);
            break;
        case OPT_TOKEN:
            add_override(cli, "optimizer.token", optarg);
            break;
        case OPT_TOKEN_FILE:
            add_override(cli, "optimizer.token_file", optarg);
            break;
        case OPT_BASE_URL:
            add_override(cli, "optimizer.base_url", optarg);
            break;
        case OPT_URL:
            add_override(cli, "optimizer.url", optarg);
            break;
        case 'h':
            cli_print_usage(stdout);
            exit(EXIT_OK);
        case ':':
            cli_error("option \"%s\" needs a value", argv[optind - 1]);
            return -1;
        default:
            cli_error("unknown option \"%s\" (see 'servo --help')", argv[optind - 1]);
            return -1;
        }
    }
    return 0;
}

static int apply_environment(struct cli *cli)
{
    struct servo_diags diags;
    diags_init(&diags);
    struct stat st;
    /* a directory named .env (often a Python virtualenv) is not a dotenv file */
    bool dotenv = stat(".env", &st) != 0 || !S_ISDIR(st.st_mode);
    int rc = dotenv ? dotenv_load(".env", &diags) : 0;
    cli_print_diags(&diags);
    diags_free(&diags);
    if (rc != 0)
        return -1;
    const char *value = getenv("SERVO_CONFIG_FILE");
    if (value && value[0]) {
        cli->config_file = value;
        cli->config_file_given = true;
    }
    if ((value = getenv("SERVO_NAME")) && value[0])
        cli->servo_name = value;
    if ((value = getenv("SERVO_LOG_LEVEL")) && value[0] && set_log_level(value) != 0)
        return -1;
    if (getenv("NO_COLOR") || getenv("SERVO_NO_COLOR"))
        cli->color = false;
    log_set_color(cli->color);
    return 0;
}

/* What an abandoned handler may still use, kept to the end (and reachable) rather than freed:
 * with external linkage, so that the stores are not optimized away. */
extern struct assembly cli_kept_assembly;
extern struct registry cli_kept_registry;
struct assembly cli_kept_assembly;
struct registry cli_kept_registry;

static void cli_cleanup(struct cli *cli)
{
    cli_detach(cli);
    if (bus_abandoned_count() > 0) {
        cli_kept_assembly = cli->assembly;
        cli_kept_registry = cli->registry;
        return;
    }
    if (cli->assembly_ready)
        assembly_free(&cli->assembly);
    if (cli->registry_ready)
        registry_free(&cli->registry);
}

/* At exit, whatever way the command left: output that could not be written (a full disk,
 * /dev/full, a closed pipe) makes the exit status non-zero, with a message. */
static void close_stdout(void)
{
    bool failed = fflush(stdout) != 0 || ferror(stdout);
    int saved = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = true;
        saved = errno;
    }
    if (!failed)
        return;
    cli_error("cannot write to standard output: %s", saved ? strerror(saved) : "write error");
    fflush(stderr);
    _exit(EXIT_FAILURE_OPERATIONAL);
}

int main(int argc, char **argv)
{
    atexit(close_stdout);
    struct cli cli = {.config_file = "servo.yaml", .color = isatty(STDERR_FILENO) != 0};
    if (apply_environment(&cli) != 0 || parse_global_options(&cli, argc, argv) != 0)
        return EXIT_USAGE;
    if (optind >= argc) {
        cli_print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    const struct cli_command *command = cli_find_command(name);
    const struct servo_connector_plugin *connector =
        command == NULL ? cli_find_connector(&cli, name) : NULL;
    if (command == NULL && connector == NULL) {
        cli_error("no such command \"%s\" (see 'servo --help')", name);
        cli_cleanup(&cli);
        return EXIT_USAGE;
    }
    int rc = command != NULL ? command->run(&cli, argc - optind, argv + optind)
                             : cli_connector_command(&cli, connector, argc - optind, argv + optind);
    cli_cleanup(&cli);
    return rc;
}
