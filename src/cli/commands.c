// SPDX-License-Identifier: Apache-2.0
/* The command table: one entry per command with its synopsis, summary, description, options
 * (and what their values are) and subcommands. `--help`, cli_getopt, the man page and the
 * shell completions are all generated from it, so they cannot drift apart. */
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char *const text_json[] = {"text", "json", NULL};
static const char *const log_levels[] = {"TRACE",   "DEBUG", "INFO",     "SUCCESS",
                                         "WARNING", "ERROR", "CRITICAL", NULL};

#define FORMAT_OPTION(choices, help)                                                \
    {                                                                               \
        'f', "format", 0, CLI_ARG_CHOICE, "FORMAT", choices, "Output format: " help \
    }
#define OUTPUT_OPTION                                                                            \
    {                                                                                            \
        'o', "output", 0, CLI_ARG_FILE, "FILE", NULL, "Write to FILE instead of standard output" \
    }
#define END_OPTIONS                                \
    {                                              \
        0, NULL, 0, CLI_ARG_NONE, NULL, NULL, NULL \
    }

const struct cli_option cli_global_options[] = {
    {'c', "config-file", 0, CLI_ARG_FILE, "FILE", NULL,
     "Servo configuration file [env SERVO_CONFIG_FILE; default\nservo.yaml]"},
    {'n', "name", 0, CLI_ARG_SERVO, "NAME", NULL,
     "The servo to use in a multi-servo file [env SERVO_NAME]"},
    {'l', "log-level", 0, CLI_ARG_CHOICE, "LEVEL", log_levels,
     "TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR or CRITICAL\n[env SERVO_LOG_LEVEL; default "
     "INFO]"},
    {0, "limit", OPT_LIMIT, CLI_ARG_TEXT, "N", NULL,
     "Run at most N servos of a multi-servo file at once (servo\nrun); the next starts when one "
     "is over"},
    {0, "no-color", OPT_NO_COLOR, CLI_ARG_NONE, NULL, NULL,
     "Disable colored output [env SERVO_NO_COLOR, NO_COLOR]"},
    {0, "allow-unknown", OPT_ALLOW_UNKNOWN, CLI_ARG_NONE, NULL, NULL,
     "Ignore top-level keys that no connector owns"},
    {0, "optimizer", OPT_OPTIMIZER, CLI_ARG_TEXT, "ID", NULL,
     "Optimizer id ORG/APP [env OPSANI_OPTIMIZER]"},
    {0, "token", OPT_TOKEN, CLI_ARG_TEXT, "TOKEN", NULL, "Optimizer API token [env OPSANI_TOKEN]"},
    {0, "token-file", OPT_TOKEN_FILE, CLI_ARG_FILE, "FILE", NULL,
     "File holding the API token [env OPSANI_TOKEN_FILE]"},
    {0, "base-url", OPT_BASE_URL, CLI_ARG_TEXT, "URL", NULL,
     "Optimizer API base URL [env OPSANI_BASE_URL]"},
    {0, "url", OPT_URL, CLI_ARG_TEXT, "URL", NULL,
     "Full optimizer URL, overriding base URL and id [env OPSANI_URL]"},
    END_OPTIONS,
};

/* ---- Assembly Commands ----------------------------------------------------------------- */

static const struct cli_option no_options[] = {END_OPTIONS};

static const struct cli_option connectors_options[] = {
    {'v', "verbose", 0, CLI_ARG_NONE, NULL, NULL,
     "Also show homepage, maturity, license and origin"},
    FORMAT_OPTION(text_json, "text (default) or json"),
    END_OPTIONS,
};

static const struct cli_option show_connectors_options[] = {
    {'v', "verbose", 0, CLI_ARG_NONE, NULL, NULL, "Also show where each connector came from"},
    END_OPTIONS,
};

static const struct cli_option show_events_options[] = {
    {'a', "all", 0, CLI_ARG_NONE, NULL, NULL,
     "Also every available connector the servo does not use"},
    {'c', "by-connector", 0, CLI_ARG_NONE, NULL, NULL, "Group by connector"},
    {0, "before", OPT_BEFORE, CLI_ARG_NONE, NULL, NULL, "Show the before handlers"},
    {0, "no-before", OPT_NO_BEFORE, CLI_ARG_NONE, NULL, NULL, "Leave out the before handlers"},
    {0, "on", OPT_ON, CLI_ARG_NONE, NULL, NULL, "Show the on handlers"},
    {0, "no-on", OPT_NO_ON, CLI_ARG_NONE, NULL, NULL, "Leave out the on handlers"},
    {0, "after", OPT_AFTER, CLI_ARG_NONE, NULL, NULL, "Show the after handlers"},
    {0, "no-after", OPT_NO_AFTER, CLI_ARG_NONE, NULL, NULL, "Leave out the after handlers"},
    END_OPTIONS,
};

static const struct cli_command show_commands[] = {
    {"connectors", NULL, "Assembly Commands", "[-v]",
     "The connector instances of each servo (NAME TYPE VERSION DESCRIPTION)", NULL,
     show_connectors_options, CLI_ARG_NONE, NULL},
    {"components", NULL, "Assembly Commands", "",
     "The components and settings the connectors describe", NULL, no_options, CLI_ARG_NONE, NULL},
    {"metrics", NULL, "Assembly Commands", "", "The metrics each connector can measure", NULL,
     no_options, CLI_ARG_NONE, NULL},
    {"events", NULL, "Assembly Commands",
     "[-a] [-c] [--before|--no-before] [--on|--no-on] [--after|--no-after]",
     "Which connectors handle which events",
     "Which connectors handle which events (before, on, after). --before, --on and --after\n"
     "keep only those handlers; any --no-X leaves X out (and wins over the others).\n",
     show_events_options, CLI_ARG_NONE, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, CLI_ARG_NONE, NULL},
};

static const struct cli_option convert_options[] = {
    OUTPUT_OPTION,
    END_OPTIONS,
};

/* `config` takes KEYs; a word of this table is a subcommand instead, never a key. */
static const struct cli_command config_commands[] = {
    {"convert", cmd_config_convert, "Configuration Commands", "FILE [-o FILE]",
     "Convert a legacy Opsani servo's config.yaml to a servo.yaml",
     "Print the servo.yaml equivalent to an original Opsani servo's config.yaml (one\n"
     "section per driver: k8s, prom, vegeta, exec). What has no equivalent is listed on\n"
     "stderr and as comments at the top of the output. Exit 0 when converted, 1 when the\n"
     "file cannot be read or parsed or has nothing to convert, 2 on a usage error.\n",
     convert_options, CLI_ARG_FILE, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, CLI_ARG_NONE, NULL},
};

/* ---- Operational Commands -------------------------------------------------------------- */

static const char *const log_formats[] = {"text", "json", NULL};

static const struct cli_option run_options[] = {
    {'c', "check", 0, CLI_ARG_NONE, NULL, NULL,
     "Run the checks first (as the `checks:` settings say: wait, delay,\nhalt_on, filters) "
     "and start only if they pass, else exit 1\n[env SERVO_RUN_CHECK]"},
    {'d', "dry-run", 0, CLI_ARG_NONE, NULL, NULL,
     "Run the checks, then exit (0 when they pass, else 1)"},
    {0, "no-poll", OPT_NO_POLL, CLI_ARG_NONE, NULL, NULL,
     "Say HELLO, then wait for a signal without asking for commands"},
    {'i', "interactive", 0, CLI_ARG_NONE, NULL, NULL,
     "Ask \"Connect to the optimizer?\" first (needs a terminal)"},
    {0, "log-format", OPT_LOG_FORMAT, CLI_ARG_CHOICE, "F", log_formats,
     "text (default) or json: one JSON object per log line"},
    {0, "log-file", OPT_LOG_FILE, CLI_ARG_FILE, "FILE", NULL,
     "Also append the log lines (plain text) to FILE"},
    {0, "debug", OPT_DEBUG, CLI_ARG_NONE, NULL, NULL,
     "Log at DEBUG level (TRACE, when asked for, stays)\n[env SERVO_RUN_DEBUG]"},
    {0, "no-banner", OPT_NO_BANNER, CLI_ARG_NONE, NULL, NULL,
     "Do not log the banner (version, config file, each servo's\nconnectors and optimizer)"},
    {0, "listen", OPT_LISTEN, CLI_ARG_TEXT, "H:P", NULL,
     "Serve /healthz, /readyz and /metrics there (port 0: any free\nport; off by default) "
     "[env SERVO_LISTEN]"},
    END_OPTIONS,
};

static const char *const history_formats[] = {"text", "json", "csv", NULL};

static const struct cli_option serve_options[] = {
    {'c', "config", 0, CLI_ARG_FILE, "FILE", NULL, "The server's file (default optimizer.yaml)"},
    {0, "listen", OPT_LISTEN, CLI_ARG_TEXT, "H:P", NULL,
     "Listen there instead (port 0: any free port)"},
    {0, "store", OPT_STORE, CLI_ARG_FILE, "STORE", NULL,
     "The store: a SQLite file or a postgresql:// URI"},
    END_OPTIONS,
};

#define STUDY_OPTIONS                                                                              \
    {0,                                                                                            \
     "store",                                                                                      \
     OPT_STORE,                                                                                    \
     CLI_ARG_FILE,                                                                                 \
     "STORE",                                                                                      \
     NULL,                                                                                         \
     "The store: a SQLite file or a postgresql:// URI"},                                           \
        {0,                                                                                        \
         "app",                                                                                    \
         OPT_APP,                                                                                  \
         CLI_ARG_TEXT,                                                                             \
         "ID",                                                                                     \
         NULL,                                                                                     \
         "The application (ORG/APP, or the servo's name)"},                                        \
    {                                                                                              \
        'c', "config", 0, CLI_ARG_FILE, "FILE", NULL, "The optimizer server's file, for its store" \
    }

static const struct cli_option history_options[] = {
    STUDY_OPTIONS,
    FORMAT_OPTION(history_formats, "text (default), json or csv"),
    END_OPTIONS,
};

static const struct cli_option best_options[] = {
    STUDY_OPTIONS,
    FORMAT_OPTION(text_json, "text (default) or json"),
    {0, "pareto", OPT_PARETO, CLI_ARG_NONE, NULL, NULL,
     "The Pareto front of a study with several objectives:\nits non-dominated feasible trials"},
    END_OPTIONS,
};

static const struct cli_option reset_options[] = {
    STUDY_OPTIONS,
    END_OPTIONS,
};

static const struct cli_option report_options[] = {
    {'o', "output", 0, CLI_ARG_FILE, "FILE", NULL,
     "Where to write (default report.html; - for standard output)"},
    STUDY_OPTIONS,
    END_OPTIONS,
};

#define STUDY_TEXT                                                                             \
    "The store is --store, else the -c file's, else optimizer.local.store of the servo\n"      \
    "configuration, else servo-optimizer.db; the study is --app, else the servo's, else the\n" \
    "only one.\n"

static const struct cli_command optimizer_commands[] = {
    {"serve", NULL, "Operational Commands", "[--listen HOST:PORT] [-c FILE] [--store FILE]",
     "Serve the Opsani servo protocol",
     "Serve the Opsani servo protocol at /accounts/ORG/applications/APP/servo for every\n"
     "application of the file (optimizer.yaml: listen, store, max_request_size, sleep,\n"
     "applications: {ORG/APP: {token, objective, constraints, budget, seed, measure,\n"
     "settlement}}), plus GET .../trials, /healthz and /metrics. The first line of output\n"
     "is the URL it listens on. Stops on SIGTERM, SIGINT or SIGHUP.\n",
     serve_options, CLI_ARG_NONE, NULL},
    {"history", NULL, "Operational Commands",
     "[STUDY | --app ID] [--store FILE | -c FILE] [-f FORMAT]",
     "The trials of a study, or the studies of a store",
     "The trials of a study, one per line. With no study named and several in the store\n"
     "(a study kept aside as NAME.1, NAME.2, ... when `servo run` started a new one), the\n"
     "list of the studies: name, phase, trials, times (ISO 8601 UTC), reason.\n\n" STUDY_TEXT,
     history_options, CLI_ARG_TEXT, NULL},
    {"best", NULL, "Operational Commands",
     "[STUDY | --app ID] [--store FILE | -c FILE] [-f FORMAT] [--pareto]",
     "The best trial of a study against the baseline",
     "The best trial of a study against the baseline. With --pareto, the Pareto front of a\n"
     "study with several objectives (objectives:): every feasible trial no other beats on\n"
     "every objective, the one the study ends on marked; JSON: a list of {number, settings,\n"
     "objectives} with the objectives in their configured order. A single-objective study\n"
     "prints its best trial and says so.\n\n" STUDY_TEXT,
     best_options, CLI_ARG_TEXT, NULL},
    {"reset", NULL, "Operational Commands", "--app ID [--store STORE | -c FILE]",
     "Remove a study so that it starts anew",
     "Removes the study of --app (a failed or quarantined one): it starts anew at its servo's\n"
     "next request. Refused while a server writes a SQLite store.\n\n" STUDY_TEXT,
     reset_options, CLI_ARG_NONE, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, CLI_ARG_NONE, NULL},
};

static const struct cli_option describe_options[] = {
    FORMAT_OPTION(text_json, "text (default) or json"),
    END_OPTIONS,
};

static const struct cli_option measure_options[] = {
    {'c', "connector", 0, CLI_ARG_TEXT, "NAME", NULL,
     "Measure with this connector instance (repeatable)"},
    {'d', "duration", 0, CLI_ARG_TEXT, "D", NULL, "How long to measure (a duration; default 0)"},
    {0, "warmup", OPT_WARMUP, CLI_ARG_TEXT, "D", NULL,
     "How long to wait before measuring (default 0)"},
    {0, "control", OPT_CONTROL, CLI_ARG_TEXT, "JSON", NULL,
     "The measure control as the optimizer sends it (duration,\nwarmup, delay, userdata.slo "
     "...): JSON text or @FILE; -d and\n--warmup override its values"},
    {'v', "verbose", 0, CLI_ARG_NONE, NULL, NULL,
     "Each reading's time both ways, and the measurement's\nannotations"},
    {0, "humanize", OPT_HUMANIZE, CLI_ARG_NONE, NULL, NULL,
     "Reading times as \"3 minutes ago\" (the default)"},
    {0, "no-humanize", OPT_NO_HUMANIZE, CLI_ARG_NONE, NULL, NULL,
     "Reading times as local timestamps"},
    FORMAT_OPTION(text_json, "text (default) or json"),
    END_OPTIONS,
};

static const struct cli_option adjust_options[] = {
    FORMAT_OPTION(text_json, "text (default) or json (the `state` form)"),
    END_OPTIONS,
};

static const char *const halt_levels[] = {"warning", "common", "critical", NULL};

static const struct cli_option check_options[] = {
    {'n', "name", 0, CLI_ARG_TEXT, "NAME", NULL, "Only checks with this name"},
    {'i', "id", 0, CLI_ARG_TEXT, "ID", NULL, "Only checks with this id"},
    {'t', "tag", 0, CLI_ARG_TEXT, "TAG", NULL, "Only checks with one of these tags"},
    {0, "halt-on", OPT_HALT_ON, CLI_ARG_CHOICE, "LEVEL", halt_levels,
     "Stop a connector's checks at a failure of this severity or\nabove: warning, common or "
     "critical (default)"},
    {'v', "verbose", 0, CLI_ARG_NONE, NULL, NULL, "One line per check"},
    {'q', "quiet", 0, CLI_ARG_NONE, NULL, NULL, "Print nothing; only the exit status tells"},
    {'p', "progressive", 0, CLI_ARG_NONE, NULL, NULL, "Log each check as it runs"},
    {0, "no-progressive", OPT_NO_PROGRESSIVE, CLI_ARG_NONE, NULL, NULL,
     "Do not log each check as it runs"},
    {'w', "wait", 0, CLI_ARG_TEXT, "DURATION", NULL,
     "Re-run failed checks until they pass or this much time has\npassed (default: run once; "
     "checks.wait is for `servo run`)"},
    {'d', "delay", 0, CLI_ARG_TEXT, "D", NULL,
     "Delay between rounds: expo (8s, 16s, 32s, ...) or a duration"},
    {0, "remedy", OPT_REMEDY, CLI_ARG_NONE, NULL, NULL,
     "Run the remedy of a failed check, then check again (not by\ndefault: checks.remedy is "
     "for `servo run`)"},
    {0, "no-remedy", OPT_NO_REMEDY, CLI_ARG_NONE, NULL, NULL, "Do not run remedies (the default)"},
    FORMAT_OPTION(text_json, "text (default) or json (every check with its\nconnector)"),
    END_OPTIONS,
};

/* ---- Configuration Commands ------------------------------------------------------------ */

static const char *const config_formats[] = {"yaml", "json", "configmap", NULL};

static const struct cli_option config_options[] = {
    FORMAT_OPTION(config_formats, "yaml (default), json, or configmap (a\nKubernetes ConfigMap)"),
    OUTPUT_OPTION,
    {0, "show-secrets", 's', CLI_ARG_NONE, NULL, NULL, "Print secrets in clear"},
    END_OPTIONS,
};

static const char *const schema_formats[] = {"json", "text", "html", NULL};

static const struct cli_option schema_options[] = {
    {'a', "all", 0, CLI_ARG_NONE, NULL, NULL,
     "Every available connector at its default key, not only the\nconfiguration's instances"},
    {0, "top-level", 't', CLI_ARG_NONE, NULL, NULL,
     "Only the top-level keys, not each connector's settings"},
    FORMAT_OPTION(schema_formats, "json (default), text or html (a readable\npage of every "
                                  "setting: name, type, default,\nenvironment variables, "
                                  "description)"),
    OUTPUT_OPTION,
    END_OPTIONS,
};

static const struct cli_option validate_options[] = {
    {'f', "file", 0, CLI_ARG_FILE, "FILE", NULL,
     "The file to check (default: the global --config-file)"},
    {'q', "quiet", 0, CLI_ARG_NONE, NULL, NULL, "Print nothing when the file is valid"},
    END_OPTIONS,
};

static const struct cli_option generate_options[] = {
    {'f', "file", 0, CLI_ARG_FILE, "FILE", NULL, "Where to write (default servo.yaml)"},
    {'d', "defaults", 0, CLI_ARG_NONE, NULL, NULL, "Include every setting with its default value"},
    {'s', "standalone", 0, CLI_ARG_NONE, NULL, NULL, "Do not write `connectors:`"},
    {0, "append", 'a', CLI_ARG_NONE, NULL, NULL, "Add another servo (a new YAML document) to FILE"},
    {0, "force", 'F', CLI_ARG_NONE, NULL, NULL, "Overwrite FILE"},
    {'n', "name", 0, CLI_ARG_TEXT, "NAME", NULL,
     "The servo's name (needed when several share a file)"},
    {'q', "quiet", 0, CLI_ARG_NONE, NULL, NULL, "Do not print the generated configuration"},
    END_OPTIONS,
};

static const struct cli_option init_options[] = {
    {'o', "optimizer", 0, CLI_ARG_TEXT, "ID", NULL,
     "A remote optimizer ORG/APP (default: the embedded one)"},
    {'t', "token", 0, CLI_ARG_TEXT, "TOKEN", NULL, "The remote optimizer's API token"},
    {0, "base-url", OPT_BASE_URL, CLI_ARG_TEXT, "URL", NULL, "The remote optimizer's API base URL"},
    {'f', "file", 0, CLI_ARG_FILE, "FILE", NULL, "Where to write (default servo.yaml)"},
    {0, "dotenv", OPT_DOTENV, CLI_ARG_NONE, NULL, NULL,
     "Write the optimizer and token to .env (the default)"},
    {0, "no-dotenv", OPT_NO_DOTENV, CLI_ARG_NONE, NULL, NULL,
     "Write them into FILE's `optimizer:` instead"},
    {0, "force", 'F', CLI_ARG_NONE, NULL, NULL, "Overwrite FILE and .env"},
    END_OPTIONS,
};

/* ---- Other Commands -------------------------------------------------------------------- */

static const struct cli_option version_options[] = {
    {'s', "short", 0, CLI_ARG_NONE, NULL, NULL, "One line"},
    FORMAT_OPTION(text_json, "text (default) or json"),
    END_OPTIONS,
};

static const struct cli_option output_options[] = {OUTPUT_OPTION, END_OPTIONS};

static const struct cli_command completion_commands[] = {
    {"bash", NULL, "Other Commands", "[-o FILE]", "The bash completion script", NULL,
     output_options, CLI_ARG_NONE, NULL},
    {"zsh", NULL, "Other Commands", "[-o FILE]", "The zsh completion script", NULL, output_options,
     CLI_ARG_NONE, NULL},
    {"fish", NULL, "Other Commands", "[-o FILE]", "The fish completion script", NULL,
     output_options, CLI_ARG_NONE, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, CLI_ARG_NONE, NULL},
};

/* the sidecar commands parse their own arguments (connectors/opsani_dev/sidecar.c): this key
 * only has to differ from the other options' */
#define OPT_SIDECAR_DRY_RUN 900
static const struct cli_option sidecar_options[] = {
    {'i', "image", 0, CLI_ARG_TEXT, "IMAGE", NULL,
     "The Envoy image (default opsani/envoy-proxy:v1.24.0)"},
    {'n', "namespace", 0, CLI_ARG_TEXT, "NAMESPACE", NULL, "The namespace (default: default)"},
    {'s', "service", 0, CLI_ARG_TEXT, "SERVICE", NULL, "The Service to route through Envoy"},
    {'p', "port", 0, CLI_ARG_TEXT, "PORT", NULL,
     "The Service port (number or name), or without a Service\nthe container port"},
    {0, "dry-run", OPT_SIDECAR_DRY_RUN, CLI_ARG_NONE, NULL, NULL,
     "Print the patches, change nothing"},
    END_OPTIONS,
};

const struct cli_command cli_commands[] = {
    {"list", cmd_list, "Assembly Commands", "[--help]", "List the servos in the configuration file",
     "List the servos of the configuration file: NAME OPTIMIZER DESCRIPTION.\n", no_options,
     CLI_ARG_NONE, NULL},
    {"connectors", cmd_connectors, "Assembly Commands", "[-v] [-f text|json]",
     "List every available connector (built-in and plugins)",
     "List the connectors this servo can route: built-ins and plugins found on\n"
     "SERVO_PLUGIN_PATH and in the installed plugin directory.\n",
     connectors_options, CLI_ARG_NONE, NULL},
    {"show", cmd_show, "Assembly Commands",
     "connectors [-v] | components | metrics | events [-a] [-c] [--before] ...",
     "Display the resources of a servo", NULL, no_options, CLI_ARG_NONE, show_commands},
    {"run", cmd_run, "Operational Commands",
     "[-c] [-d] [--no-poll] [-i] [--log-format text|json] [--log-file FILE] [--debug]\n"
     "       [--no-banner] [--listen H:P]",
     "Run the servo",
     "Connect each servo of the configuration to its optimizer and carry out the commands it\n"
     "sends (describe, measure, adjust, sleep) until SIGTERM, SIGINT, SIGHUP or SIGUSR1, then\n"
     "say GOODBYE and exit 0. Several servos run side by side, their log lines prefixed with\n"
     "the servo's name. A servo with `optimizer.local`, or without an optimizer id or url,\n"
     "runs the embedded optimizer: describe, measure the baseline, adjust and measure\n"
     "`budget` times, adjust to the best settings found, then print a summary and exit\n"
     "(0, or 1 when the study failed).\n",
     run_options, CLI_ARG_NONE, NULL},
    {"optimizer", cmd_optimizer, "Operational Commands", "serve|history|best|reset [OPTIONS]",
     "Serve the optimizer, or show what a study found",
     "serve: the optimizer server; history and best: what a study found; reset: start a\n"
     "study anew.\n",
     no_options, CLI_ARG_NONE, optimizer_commands},
    {"report", cmd_report, "Operational Commands", "[-o FILE] [--app ID] [--store FILE | -c FILE]",
     "Write an HTML report of a study",
     "One self-contained HTML page: the objective per trial with the best so far, each\n"
     "setting against the objective, the constraints with their thresholds, the baseline\n"
     "marked, and the table of the trials. The store and study are found as for\n"
     "`servo optimizer history`.\n",
     report_options, CLI_ARG_NONE, NULL},
    {"describe", cmd_describe, "Operational Commands", "[CONNECTORS...] [-f text|json]",
     "Display the current state of the servo's components and metrics",
     "Dispatch describe to the connectors (all, or those named) and print what they report:\n"
     "a table, or the `descriptor` JSON of the optimizer protocol.\n",
     describe_options, CLI_ARG_TEXT, NULL},
    {"measure", cmd_measure, "Operational Commands",
     "[METRICS...] [-c CONNECTOR ...] [-d DURATION] [--warmup DURATION]\n"
     "       [--control JSON|@FILE] [-v] [--humanize|--no-humanize] [-f text|json]",
     "Capture measurements for one or more metrics",
     "Dispatch measure for the metrics named (all when none) to the connectors (all, or those\n"
     "given with -c) and print the readings: a table, or the `metrics` + `annotations` JSON.\n",
     measure_options, CLI_ARG_TEXT, NULL},
    {"adjust", cmd_adjust, "Operational Commands", "[-f text|json] COMPONENT.SETTING=VALUE ...",
     "Adjust settings of one or more components",
     "Check each value against the description (range, step, enum, pinned) before anything\n"
     "runs, then dispatch adjust and print the resulting state.\n",
     adjust_options, CLI_ARG_TEXT, NULL},
    {"check", cmd_check, "Operational Commands",
     "[CONNECTORS...] [-n NAME] [-i ID] [-t TAG] [--halt-on LEVEL] [-v] [-q] [-p]\n"
     "       [-w DURATION] [-d DURATION|expo] [--remedy] [-f text|json]",
     "Check that the servo is ready to run",
     "Run the checks the connectors declare (all connectors with checks, or those named)\n"
     "and print CONNECTOR STATUS ERRORS (verbose: CONNECTOR CHECK ID TAGS STATUS MESSAGE).\n"
     "Exit 0 only if every required check passed (a failed warning does not count), else 1.\n"
     "Defaults come from the `checks:` settings; flags win. Filters are AND-ed; each takes\n"
     "an exact value, a comma list, or /regex/, and may be repeated. (-n after `check` is\n"
     "the check-name filter; the servo is picked with the global -n before the command.)\n",
     check_options, CLI_ARG_TEXT, NULL},
    {"inject-sidecar", cmd_inject_sidecar, "Operational Commands",
     "deployment/NAME|rollout/NAME [-i IMAGE] [-n NAMESPACE] (-s SERVICE [-p PORT] | -p PORT)\n"
     "       [--dry-run]",
     "Inject an Envoy sidecar into a Deployment (or Rollout), route its Service through it",
     "Add the container opsani-envoy (ports opsani-proxy 9980, opsani-metrics 9901) to the\n"
     "Deployment's pod template, proxying to the port the Service targets, then retarget that\n"
     "Service port to 9980. Refuses a Deployment that has the sidecar or uses 9980/9901; if the\n"
     "Service cannot be written the Deployment is restored. --dry-run prints the patches.\n",
     sidecar_options, CLI_ARG_TEXT, NULL},
    {"eject-sidecar", cmd_eject_sidecar, "Operational Commands",
     "deployment/NAME|rollout/NAME [-n NAMESPACE] [-s SERVICE] [--dry-run]",
     "Remove the Envoy sidecar, restore the Service's target port",
     "Undo inject-sidecar: the Service's port targets what it did before, the container\n"
     "opsani-envoy is removed. A Deployment without the sidecar is an error.\n",
     sidecar_options, CLI_ARG_TEXT, NULL},
    {"config", cmd_config, "Configuration Commands",
     "[KEY...] [-f yaml|json|configmap] [-o FILE] [--show-secrets]",
     "Display the effective configuration",
     "Print the effective configuration after .env, environment variables and defaults: one\n"
     "object per servo, `connectors` resolved to a map of instance name to connector, and\n"
     "each instance's complete settings under its name. Secrets are masked. KEYs keep only\n"
     "those top-level keys (`servo config vegeta optimizer`); a key no servo has is an\n"
     "error.\n",
     config_options, CLI_ARG_TEXT, config_commands},
    {"schema", cmd_schema, "Configuration Commands",
     "[CONNECTOR] [-a] [--top-level] [-f json|text|html] [-o FILE]",
     "Display the configuration JSON Schema",
     "Print the JSON Schema (draft 2020-12) of the whole configuration, or of one connector's\n"
     "settings. Every property lists the environment variables that set it (env_names).\n"
     "With -f text or -f html, a page for people instead: every setting by its dotted name\n"
     "with its type, default, environment variables and description (html: one\n"
     "self-contained page).\n",
     schema_options, CLI_ARG_CONNECTOR, NULL},
    {"validate", cmd_validate, "Configuration Commands", "[CONNECTOR...] [-f FILE] [-q]",
     "Validate a configuration",
     "Check a configuration file: print \"\u221a Valid configuration in FILE\" (exit 0), or\n"
     "\"X Invalid configuration in FILE\" and every error (exit 1). A file that does not exist\n"
     "is a usage error (exit 2). CONNECTORs (an instance name, a connector name, or\n"
     "ALIAS:CONNECTOR) limit the check to those instances and the file as a whole: errors\n"
     "in other connectors' stanzas are left out; a named connector the file lacks is an\n"
     "error.\n",
     validate_options, CLI_ARG_CONNECTOR, NULL},
    {"generate", cmd_generate, "Configuration Commands",
     "[CONNECTOR | ALIAS:CONNECTOR ...] [-f FILE] [--defaults] [--standalone] [--append]\n"
     "       [--force] [-n NAME] [-q]",
     "Generate a configuration",
     "Write a configuration with each named connector's example stanza. Naming connectors\n"
     "also writes `connectors:`, a mapping when an alias is given. With no connector named,\n"
     "only `wait` (which changes nothing) is written, with a comment: connectors that\n"
     "change a system are written only when asked for. The optimizer is left out: `servo\n"
     "run` then uses the embedded optimizer.\n",
     generate_options, CLI_ARG_CONNECTOR, NULL},
    {"init", cmd_init, "Configuration Commands",
     "[CONNECTOR | ALIAS:CONNECTOR ...] [-o ID -t TOKEN [--base-url URL]] [-f FILE]\n"
     "       [--no-dotenv] [--force]",
     "Initialize a servo assembly",
     "Write servo.yaml (as `servo generate` does: the connectors named, else only `wait`)\n"
     "and, for a remote optimizer, a .env with OPSANI_OPTIMIZER, OPSANI_TOKEN and\n"
     "SERVO_LOG_LEVEL=DEBUG (mode 0600; --no-dotenv puts the optimizer in servo.yaml\n"
     "instead). Without an optimizer no .env is written: servo run uses the embedded one.\n"
     "On a terminal, with nothing given, it asks for the optimizer, the token and the\n"
     "connectors. An existing servo.yaml or .env is kept unless --force (exit 2).\n",
     init_options, CLI_ARG_CONNECTOR, NULL},
    {"version", cmd_version, "Other Commands", "[CONNECTOR] [-s] [-f text|json]",
     "Display the version",
     "Print the servo's version, or a connector's (name, version, maturity, description,\n"
     "homepage, license), as ServoX does.\n",
     version_options, CLI_ARG_CONNECTOR, NULL},
    {"completion", cmd_completion, "Other Commands", "bash|zsh|fish [-o FILE]",
     "Print a shell completion script",
     "Print the completion script of a shell. It completes commands, options, their values,\n"
     "connector names and the servo names of the configuration file. Load it for the current\n"
     "shell:\n\n"
     "  bash: source <(servo completion bash)\n"
     "  zsh:  source <(servo completion zsh)\n"
     "  fish: servo completion fish | source\n\n"
     "The packages install them where each shell finds them by itself.\n",
     no_options, CLI_ARG_NONE, completion_commands},
    {"help", cmd_help, "Other Commands", "[COMMAND [SUBCOMMAND]]", "Show the help of a command",
     NULL, no_options, CLI_ARG_COMMAND, NULL},
    /* hidden: what the completion scripts ask at completion time, and the man page source */
    {"__complete", cmd_complete_words, NULL, "connectors|servos", "Words to complete", NULL,
     no_options, CLI_ARG_NONE, NULL},
    {"__man", cmd_man, NULL, "[-o FILE]", "The man page servo(1) in roff", NULL, output_options,
     CLI_ARG_NONE, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, CLI_ARG_NONE, NULL},
};

static const char global_description[] =
    "Continuous optimization: the servo describes, measures and adjusts an application\n"
    "through connectors, on the command of an optimizer (embedded by default).\n";

void cli_print_usage(FILE *out)
{
    fprintf(out, "Usage: servo [OPTIONS] COMMAND [ARGS]...\n\n%s\nOptions:\n", global_description);
    cli_print_options(out, cli_global_options, 26, true);
    const char *group = NULL;
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        if (c->group == NULL)
            continue;
        if (group == NULL || strcmp(group, c->group) != 0) {
            group = c->group;
            fprintf(out, "\n%s:\n", group);
        }
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    }
    cli_print_connector_usage(out);
    fputs("\nRun 'servo COMMAND --help' for a command's options.\n", out);
}

const char *cli_global_description(void)
{
    return global_description;
}
