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
#include "util/util.h"

/* The global options, from the command table (commands.c). */
static const struct cli_command global_command = {
    .name = "servo", .group = NULL, .synopsis = "", .options = cli_global_options};

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

static int parse_limit(struct cli *cli, const char *text)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < 1 || value > 1000000) {
        cli_error("invalid value for --limit: \"%s\" (expected a positive integer: how many "
                  "servos run at once)",
                  text);
        return -1;
    }
    cli->limit = (size_t)value;
    return 0;
}

static int parse_global_options(struct cli *cli, int argc, char **argv)
{
    opterr = 0;
    optind = 1;
    int c;
    while ((c = cli_global_getopt(argc, argv, &global_command)) != -1) {
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
        case OPT_LIMIT:
            if (parse_limit(cli, optarg) != 0)
                return -1;
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

/* As python-dotenv's find_dotenv(usecwd=True), which ServoX uses: the first file named .env
 * in the working directory or one of its parents. A directory named .env (often a Python
 * virtualenv) is not a dotenv file and the search goes on. NULL when there is none. */
static char *find_dotenv(void)
{
    struct stat st;
    if (stat(".env", &st) == 0 && !S_ISDIR(st.st_mode))
        return xstrdup(".env");
    char *dir = getcwd(NULL, 0);
    char *found = NULL;
    while (dir != NULL && found == NULL) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            break;
        *slash = '\0'; /* the parent; "" for the root */
        char *path = xasprintf("%s/.env", dir);
        if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
            found = path;
        else
            free(path);
        if (dir[0] == '\0')
            break;
    }
    free(dir);
    return found;
}

/* Loads the .env file into the environment (variables already set win). Problems are kept in
 * `diags`: whether they are errors depends on the command (see dotenv_problems). */
static int load_dotenv(struct servo_diags *diags)
{
    char *path = find_dotenv();
    int rc = path ? dotenv_load(path, diags) : 0;
    free(path);
    return rc;
}

/* Commands that read no configuration: a malformed .env is only a warning for them, so that
 * `servo version`, `servo help` and the completions work whatever the directory holds. */
static bool reads_configuration(const char *command)
{
    static const char *const configless[] = {"help",       "version", "connectors",
                                             "generate",   "init",    "completion",
                                             "__complete", "__man",   NULL};
    for (size_t i = 0; configless[i]; i++)
        if (strcmp(command, configless[i]) == 0)
            return false;
    return true;
}

/* Reports the .env problems: errors (exit 1, as an invalid configuration) when the command
 * reads the configuration, else warnings. Returns the exit status, or -1 to go on. */
static int dotenv_problems(const struct servo_diags *diags, const char *command)
{
    if (diags->count == 0)
        return -1;
    if (command && reads_configuration(command)) {
        cli_print_diags(diags);
        return EXIT_FAILURE_OPERATIONAL;
    }
    diags_print(diags, stderr, "servo: warning: ");
    return -1;
}

static int apply_environment(struct cli *cli)
{
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
    struct servo_diags dotenv;
    diags_init(&dotenv);
    load_dotenv(&dotenv);
    if (apply_environment(&cli) != 0 || parse_global_options(&cli, argc, argv) != 0) {
        diags_free(&dotenv);
        return EXIT_USAGE;
    }
    int status = dotenv_problems(&dotenv, optind < argc ? argv[optind] : NULL);
    diags_free(&dotenv);
    if (status >= 0)
        return status;
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
