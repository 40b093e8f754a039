#include <string.h>

#include "cli/cli.h"

int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_connectors(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);
int cmd_validate(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_schema(struct cli *cli, int argc, char **argv);
int cmd_generate(struct cli *cli, int argc, char **argv);
int cmd_describe(struct cli *cli, int argc, char **argv);
int cmd_measure(struct cli *cli, int argc, char **argv);
int cmd_adjust(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_optimizer(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);

#define FORMAT_HELP "  -f, --format FORMAT  Output format: "

const struct cli_command cli_commands[] = {
    {"list", cmd_list, "Assembly Commands", "List the servos in the configuration file",
     "[--help]\n\nList the servos of the configuration file: NAME OPTIMIZER DESCRIPTION.\n"},
    {"connectors", cmd_connectors, "Assembly Commands",
     "List every available connector (built-in and plugins)",
     "[-v] [-f text|json]\n\n"
     "List the connectors this servo can route: built-ins and plugins found on\n"
     "SERVO_PLUGIN_PATH and in the installed plugin directory.\n\n"
     "  -v, --verbose        Also show homepage, maturity, license and origin\n" FORMAT_HELP
     "text (default) or json\n"},
    {"show", cmd_show, "Assembly Commands", "Display the resources of a servo",
     "connectors [-v] | components | metrics | events [-c]\n\n"
     "  connectors           The connector instances of each servo (NAME TYPE VERSION\n"
     "                       DESCRIPTION); -v also shows where each came from\n"
     "  components           The components and settings the connectors describe\n"
     "  metrics              The metrics each connector can measure\n"
     "  events               Which connectors handle which events; -c groups by connector\n"},
    {"run", cmd_run, "Operational Commands", "Run the servo",
     "[-c] [-d] [--no-poll] [-i] [--log-format text|json] [--log-file FILE]\n\n"
     "Connect each servo of the configuration to its optimizer and carry out the commands it\n"
     "sends (describe, measure, adjust, sleep) until SIGTERM, SIGINT, SIGHUP or SIGUSR1, then\n"
     "say GOODBYE and exit 0. Several servos run side by side, their log lines prefixed with\n"
     "the servo's name. A servo with `optimizer.local`, or without an optimizer id or url,\n"
     "runs the embedded optimizer: describe, measure the baseline, adjust and measure\n"
     "`budget` times, adjust to the best settings found, then print a summary and exit\n"
     "(0, or 1 when the study failed).\n\n"
     "  -c, --check          Run the checks first (as the `checks:` settings say: wait, delay,\n"
     "                       halt_on, filters) and start only if they pass, else exit 1\n"
     "                       [env SERVO_RUN_CHECK]\n"
     "  -d, --dry-run        Run the checks, then exit (0 when they pass, else 1)\n"
     "      --no-poll        Say HELLO, then wait for a signal without asking for commands\n"
     "  -i, --interactive    Ask \"Connect to the optimizer?\" first (needs a terminal)\n"
     "      --log-format F   text (default) or json: one JSON object per log line\n"
     "      --log-file FILE  Also append the log lines (plain text) to FILE\n"},
    {"optimizer", cmd_optimizer, "Operational Commands",
     "Serve the optimizer, or show what a study found",
     "serve [--listen HOST:PORT] [-c FILE] [--store FILE]\n"
     "       servo optimizer history|best [--app ID] [--store FILE | -c FILE] [-f FORMAT]\n"
     "       servo optimizer reset --app ID [--store FILE | -c FILE]\n\n"
     "serve: the Opsani servo protocol at /accounts/ORG/applications/APP/servo for every\n"
     "application of the file (optimizer.yaml: listen, store, max_request_size, sleep,\n"
     "applications: {ORG/APP: {token, objective, constraints, budget, seed, measure,\n"
     "settlement}}), plus GET .../trials, /healthz and /metrics. The first line of output\n"
     "is the URL it listens on. Stops on SIGTERM, SIGINT or SIGHUP.\n\n"
     "history: the trials of a study; best: its best trial against the baseline. The store\n"
     "is --store, else the -c file's, else optimizer.local.store of the servo configuration,\n"
     "else servo-optimizer.db; the study is --app, else the servo's, else the only one.\n"
     "reset: removes the study of --app (a failed or quarantined one): it starts anew at\n"
     "its servo's next request. A store is a SQLite file or a postgresql:// URI.\n\n"
     "  -c, --config FILE    The server's file (default optimizer.yaml)\n"
     "      --listen H:P     Listen there instead (port 0: any free port)\n"
     "      --store STORE    The store: a SQLite file or a postgresql:// URI\n"
     "      --app ID         The application (ORG/APP, or the servo's name)\n" FORMAT_HELP
     "text (default), json or csv (history only)\n"},
    {"report", cmd_report, "Operational Commands", "Write an HTML report of a study",
     "[-o FILE] [--app ID] [--store FILE | -c FILE]\n\n"
     "One self-contained HTML page: the objective per trial with the best so far, each\n"
     "setting against the objective, the constraints with their thresholds, the baseline\n"
     "marked, and the table of the trials. The store and study are found as for\n"
     "`servo optimizer history`.\n\n"
     "  -o, --output FILE    Where to write (default report.html; - for standard output)\n"
     "      --app ID         The application\n"
     "      --store FILE     The SQLite store\n"
     "  -c, --config FILE    The optimizer server's file, for its store\n"},
    {"describe", cmd_describe, "Operational Commands",
     "Display the current state of the servo's components and metrics",
     "[CONNECTORS...] [-f text|json]\n\n"
     "Dispatch describe to the connectors (all, or those named) and print what they report:\n"
     "a table, or the `descriptor` JSON of the optimizer protocol.\n\n" FORMAT_HELP
     "text (default) or json\n"},
    {"measure", cmd_measure, "Operational Commands", "Capture measurements for one or more metrics",
     "[METRICS...] [-c CONNECTOR ...] [-d DURATION] [--warmup DURATION]\n"
     "       [--control JSON|@FILE] [-f text|json]\n\n"
     "Dispatch measure for the metrics named (all when none) to the connectors (all, or those\n"
     "given with -c) and print the readings: a table, or the `metrics` + `annotations` JSON.\n\n"
     "  -c, --connector NAME Measure with this connector instance (repeatable)\n"
     "  -d, --duration D     How long to measure (a duration; default 0)\n"
     "      --warmup D       How long to wait before measuring (default 0)\n"
     "      --control JSON   The measure control as the optimizer sends it (duration,\n"
     "                       warmup, delay, userdata.slo ...): JSON text or @FILE; -d and\n"
     "                       --warmup override its values\n" FORMAT_HELP
     "text (default) or json\n"},
    {"adjust", cmd_adjust, "Operational Commands", "Adjust settings of one or more components",
     "[-f text|json] COMPONENT.SETTING=VALUE ...\n\n"
     "Check each value against the description (range, step, enum, pinned) before anything\n"
     "runs, then dispatch adjust and print the resulting state.\n\n" FORMAT_HELP
     "text (default) or json (the `state` form)\n"},
    {"check", cmd_check, "Operational Commands", "Check that the servo is ready to run",
     "[CONNECTORS...] [-n NAME] [-i ID] [-t TAG] [--halt-on LEVEL] [-v] [-q] [-p]\n"
     "       [-w DURATION] [-d DURATION|expo] [--remedy] [-f text|json]\n\n"
     "Run the checks the connectors declare (all connectors with checks, or those named)\n"
     "and print CONNECTOR STATUS ERRORS (verbose: CONNECTOR CHECK ID TAGS STATUS MESSAGE).\n"
     "Exit 0 only if every required check passed (a failed warning does not count), else 1.\n"
     "Defaults come from the `checks:` settings; flags win. Filters are AND-ed; each takes\n"
     "an exact value, a comma list, or /regex/, and may be repeated. (-n after `check` is\n"
     "the check-name filter; the servo is picked with the global -n before the command.)\n\n"
     "  -n, --name NAME      Only checks with this name\n"
     "  -i, --id ID          Only checks with this id\n"
     "  -t, --tag TAG        Only checks with one of these tags\n"
     "      --halt-on LEVEL  Stop a connector's checks at a failure of this severity or\n"
     "                       above: warning, common or critical (default)\n"
     "  -v, --verbose        One line per check\n"
     "  -q, --quiet          Print nothing; only the exit status tells\n"
     "  -p, --progressive    Log each check as it runs (--no-progressive: do not)\n"
     "  -w, --wait DURATION  Re-run failed checks until they pass or this much time has\n"
     "                       passed (default: run once; checks.wait is for `servo run`)\n"
     "  -d, --delay D        Delay between rounds: expo (8s, 16s, 32s, ...) or a duration\n"
     "      --remedy         Run the remedy of a failed check, then check again (not by\n"
     "                       default: checks.remedy is for `servo run`)\n" FORMAT_HELP
     "text (default) or json (every check with its connector)\n"},
    {"config", cmd_config, "Configuration Commands", "Display the effective configuration",
     "[-f yaml|json|configmap] [-o FILE] [--show-secrets]\n\n"
     "Print the effective configuration after .env, environment variables and defaults: one\n"
     "object per servo, `connectors` resolved to a map of instance name to connector, and\n"
     "each instance's complete settings under its name. Secrets are masked.\n\n" FORMAT_HELP
     "yaml (default), json, or configmap (a Kubernetes ConfigMap)\n"
     "  -o, --output FILE    Write to FILE instead of standard output\n"
     "      --show-secrets   Print secrets in clear\n"},
    {"schema", cmd_schema, "Configuration Commands", "Display the configuration JSON Schema",
     "[CONNECTOR] [--top-level] [-f json] [-o FILE]\n\n"
     "Print the JSON Schema (draft 2020-12) of the whole configuration, or of one connector's\n"
     "settings. Every property lists the environment variables that set it (env_names).\n\n"
     "      --top-level      Only the top-level keys, not each connector's settings\n" FORMAT_HELP
     "json\n"
     "  -o, --output FILE    Write to FILE instead of standard output\n"},
    {"validate", cmd_validate, "Configuration Commands", "Validate a configuration",
     "[-f FILE] [-q]\n\n"
     "Check a configuration file: print \"\u221a Valid configuration in FILE\" (exit 0), or\n"
     "\"X Invalid configuration in FILE\" and every error (exit 2).\n\n"
     "  -f, --file FILE      The file to check (default: the global --config-file)\n"
     "  -q, --quiet          Print nothing when the file is valid\n"},
    {"generate", cmd_generate, "Configuration Commands", "Generate a configuration",
     "[CONNECTOR | ALIAS:CONNECTOR ...] [-f FILE] [--defaults] [--standalone] [--append]\n"
     "       [--force] [-n NAME] [-q]\n\n"
     "Write a configuration with each connector's example stanza (every connector when none\n"
     "is named). Naming connectors also writes `connectors:`, a mapping when an alias is given.\n"
     "The optimizer is left out: `servo run` then uses the embedded optimizer.\n\n"
     "  -f, --file FILE      Where to write (default servo.yaml)\n"
     "  -d, --defaults       Include every setting with its default value\n"
     "  -s, --standalone     Do not write `connectors:`\n"
     "      --append         Add another servo (a new YAML document) to FILE\n"
     "      --force          Overwrite FILE\n"
     "  -n, --name NAME      The servo's name (needed when several share a file)\n"
     "  -q, --quiet          Do not print the generated configuration\n"},
    {"version", cmd_version, "Other Commands", "Display the version",
     "[-s] [-f text|json]\n\n  -s, --short          One line\n" FORMAT_HELP
     "text (default) or json\n"},
    {"help", cmd_help, "Other Commands", "Show the help of a command", "[COMMAND]\n"},
    {NULL, NULL, NULL, NULL, NULL},
};

static const char global_usage[] =
    "Usage: servo [OPTIONS] COMMAND [ARGS]...\n"
    "\n"
    "Continuous optimization: the servo describes, measures and adjusts an application\n"
    "through connectors, on the command of an optimizer (embedded by default).\n"
    "\n"
    "Options:\n"
    "  -c, --config-file FILE  Servo configuration file [env SERVO_CONFIG_FILE; default\n"
    "                          servo.yaml]\n"
    "  -n, --name NAME         The servo to use in a multi-servo file [env SERVO_NAME]\n"
    "  -l, --log-level LEVEL   TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR or CRITICAL\n"
    "                          [env SERVO_LOG_LEVEL; default INFO]\n"
    "      --no-color          Disable colored output [env SERVO_NO_COLOR, NO_COLOR]\n"
    "      --allow-unknown     Ignore top-level keys that no connector owns\n"
    "      --optimizer ID      Optimizer id ORG/APP [env OPSANI_OPTIMIZER]\n"
    "      --token TOKEN       Optimizer API token [env OPSANI_TOKEN]\n"
    "      --token-file FILE   File holding the API token [env OPSANI_TOKEN_FILE]\n"
    "      --base-url URL      Optimizer API base URL [env OPSANI_BASE_URL]\n"
    "      --url URL           Full optimizer URL, overriding base URL and id [env OPSANI_URL]\n"
    "  -h, --help              Show this message and exit\n";

void cli_print_usage(FILE *out)
{
    fputs(global_usage, out);
    const char *section = NULL;
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        if (section == NULL || strcmp(section, c->section) != 0) {
            section = c->section;
            fprintf(out, "\n%s:\n", section);
        }
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    }
    cli_print_connector_usage(out);
    fputs("\nRun 'servo COMMAND --help' for a command's options.\n", out);
}
