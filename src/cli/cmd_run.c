/* servo run: connect every servo of the configuration to its optimizer and carry out its
 * commands (src/runner/runner.c) until a signal says stop. One runner thread per servo; a
 * signal thread turns SIGTERM, SIGINT, SIGHUP and SIGUSR1 into the cancellation of a shared
 * token whose reason is the signal's name (the GOODBYE reason). See docs/runner.md. */
#include <ctype.h>
#include <dirent.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "events/bus.h"
#include "events/cancel.h"
#include "events/checks.h"
#include "events/servo_runtime.h"
#include "optimizer/embedded.h"
#include "runner/client.h"
#include "runner/runner.h"
#include "runner/status.h"
#include "runner/status_http.h"
#include "util/log.h"
#include "util/util.h"

/* After the first signal the servo has this long to finish; then it exits by force. */
#define SHUTDOWN_LIMIT_SECONDS 9.5

struct run_args {
    bool check;
    bool dry_run;
    bool no_poll;
    bool interactive;
    int log_format; /* -1: unchanged */
    const char *log_file;
    bool debug;
    bool no_banner;
    const char *listen; /* --listen, SERVO_LISTEN; NULL: no status server */
};

static bool env_true(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL)
        return false;
    return strcasecmp(value, "1") == 0 || strcasecmp(value, "true") == 0 ||
           strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0;
}

/* Returns 0, 1 after --help, -1 after a usage error. */
static int parse_args(struct run_args *a, int argc, char **argv, const struct cli_command *self)
{
    a->check = env_true("SERVO_RUN_CHECK");
    a->debug = env_true("SERVO_RUN_DEBUG");
    const char *listen = getenv("SERVO_LISTEN");
    a->listen = listen != NULL && listen[0] != '\0' ? listen : NULL;
    a->log_format = -1;
    optind = 0;
    int c;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        switch (c) {
        case -2:
            return -1;
        case 'h':
            cli_help(self, stdout);
            return 1;
        case 'c':
            a->check = true;
            break;
        case 'd':
            a->dry_run = true;
            break;
        case 'i':
            a->interactive = true;
            break;
        case OPT_NO_POLL:
            a->no_poll = true;
            break;
        case OPT_LOG_FORMAT:
            if ((a->log_format = cli_option_choice(self, OPT_LOG_FORMAT, optarg)) < 0)
                return -1;
            break;
        case OPT_LOG_FILE:
            a->log_file = optarg;
            break;
        case OPT_DEBUG:
            a->debug = true;
            break;
        case OPT_NO_BANNER:
            a->no_banner = true;
            break;
        case OPT_LISTEN:
            a->listen = optarg;
            break;
        default:
            break;
        }
    }
    if (optind < argc) {
        cli_error("run: unexpected argument \"%s\" (see 'servo run --help')", argv[optind]);
        return -1;
    }
    return 0;
}

/* ---- signals ---------------------------------------------------------------------------- */

static const struct {
    int number;
    const char *name;
} handled_signals[] = {
    {SIGTERM, "SIGTERM"},
    {SIGINT, "SIGINT"},
    {SIGHUP, "SIGHUP"},
    {SIGUSR1, "SIGUSR1"},
};

/* The signal thread sleeps in poll() on a signalfd and an eventfd (its stop), with no
 * timeout until a first signal starts the shutdown's clock: an idle servo never wakes. */
struct signals {
    sigset_t set;
    struct cancel_token *root;
    pthread_t thread;
    bool started;
    int signal_fd;
    int stop_fd;
};

static const char *signal_name(int number)
{
    for (size_t i = 0; i < ARRAY_LEN(handled_signals); i++)
        if (handled_signals[i].number == number)
            return handled_signals[i].name;
    return "signal";
}

/* Blocks the handled signals in this thread, and so in every thread started after, and
 * ignores SIGPIPE (a closed connection is an error value, not the end of the servo). Child
 * processes get a clean mask and default dispositions (events/process.c). */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < ARRAY_LEN(handled_signals); i++)
        sigaddset(set, handled_signals[i].number);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The parent pid of a process, from /proc/PID/stat; -1 when it cannot be read. */
static long parent_of(const char *pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *end = strrchr(text, ')'); /* the command name may hold anything */
    char state = 0;
    long ppid = -1;
    if (end == NULL || sscanf(end + 1, " %c %ld", &state, &ppid) != 2)
        return -1;
    return ppid;
}

/* Kills every child of the servo with its process group (connector commands each lead one):
 * the way out when the servo cannot wait for an orderly shutdown. */
static void kill_children(void)
{
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return;
    long self = (long)getpid();
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        if (!isdigit((unsigned char)entry->d_name[0]) || parent_of(entry->d_name) != self)
            continue;
        pid_t pid = (pid_t)strtol(entry->d_name, NULL, 10);
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    closedir(proc);
}

static void exit_now(const char *why)
{
    servo_error("%s: exiting now", why);
    kill_children();
    log_set_file(NULL);
    _exit(EXIT_FAILURE_OPERATIONAL);
}

/* The next handled signal, 0 when told to stop, -1 when the shutdown deadline passed. */
static int next_signal(struct signals *s, double deadline)
{
    struct pollfd fds[2] = {{.fd = s->signal_fd, .events = POLLIN},
                            {.fd = s->stop_fd, .events = POLLIN}};
    for (;;) {
        int timeout = -1;
        if (deadline > 0) {
            double left = deadline - clock_monotonic();
            if (left <= 0)
                return -1;
            timeout = (int)(left * 1000) + 1;
        }
        if (poll(fds, 2, timeout) < 0)
            continue; /* EINTR */
        if (fds[1].revents != 0)
            return 0;
        struct signalfd_siginfo info;
        if (fds[0].revents != 0 && read(s->signal_fd, &info, sizeof info) == sizeof info)
            return (int)info.ssi_signo;
    }
}

static void *signal_thread(void *arg)
{
    struct signals *s = arg;
    double deadline = 0;
    const char *first = NULL;
    int number;
    while ((number = next_signal(s, deadline)) != 0) {
        if (number < 0)
            exit_now("The shutdown did not finish in time");
        if (first == NULL) {
            first = signal_name(number);
            servo_info("Received exit signal %s: shutting down...", first);
            deadline = clock_monotonic() + SHUTDOWN_LIMIT_SECONDS;
            cancel_trigger(s->root, first);
        } else {
            char *why =
                xasprintf("Received %s while shutting down after %s", signal_name(number), first);
            exit_now(why);
        }
    }
    return NULL;
}

static void close_signal_fds(struct signals *s)
{
    if (s->signal_fd >= 0)
        close(s->signal_fd);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->signal_fd = s->stop_fd = -1;
}

static int start_signal_thread(struct signals *s)
{
    s->signal_fd = signalfd(-1, &s->set, SFD_CLOEXEC);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    s->started = s->signal_fd >= 0 && s->stop_fd >= 0 &&
                 pthread_create(&s->thread, NULL, signal_thread, s) == 0;
    if (!s->started) {
        cli_error("run: cannot start the signal thread");
        close_signal_fds(s);
    }
    return s->started ? 0 : -1;
}

static void stop_signal_thread(struct signals *s)
{
    if (!s->started)
        return;
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof one) != sizeof one)
        servo_debug("run: cannot wake the signal thread");
    pthread_join(s->thread, NULL);
    close_signal_fds(s);
    s->started = false;
}

/* ---- servos ----------------------------------------------------------------------------- */

struct servo_run {
    struct servo_config *servo;
    struct transport *transport;
    const char *log_prefix; /* the servo's name when several run */
    struct runner_options options;
    struct cancel_token *shutdown;
    bool attached;
    pthread_t thread;
    bool started;
    int rc;
};

static bool blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* The servo's description, for the embedded optimizer to compare a stored study with; NULL
 * when it cannot describe itself (the study's own DESCRIBE reports why). */
static struct servo_description *describe_servo(void *context)
{
    const struct servo_config *servo = context;
    struct event_args args;
    event_args_init(&args);
    struct bus_outcome out;
    struct bus_options options = {0};
    struct servo_description *d = NULL;
    if (bus_dispatch(servo->connectors, servo->connector_count, SERVO_EVENT_DESCRIBE, &args,
                     &options, &out) == 0)
        d = bus_outcome_description(&out);
    bus_outcome_free(&out);
    event_args_free(&args);
    return d;
}

/* The embedded optimizer: the study named after the servo, in optimizer.local's store (the
 * defaults when there is no optimizer.local). */
static int make_embedded_transport(const struct servo_config *servo, struct transport **out)
{
    const struct optimizer_settings *o = servo->settings->optimizer;
    const struct study_settings *local = o ? o->local : NULL;
    char *error = NULL;
    struct embedded_options options = {.describe = describe_servo, .context = (void *)servo};
    *out = embedded_transport_open(servo->name, local, &options, &error);
    if (*out == NULL) {
        cli_error("%s: the embedded optimizer: %s", servo->name, error ? error : "cannot start");
        free(error);
        return EXIT_FAILURE_OPERATIONAL;
    }
    servo_info("%s: embedded optimizer, study \"%s\" in %s", servo->name, servo->name,
               local ? local->store : STUDY_DEFAULT_STORE);
    return EXIT_OK;
}

/* The optimizer a servo talks to: the embedded one when optimizer.local is set or no
 * optimizer id or url is, else the one configured, over HTTP. This is the one place that
 * decides. Returns 0, or an exit status after printing why. */
static int make_transport(const struct cli *cli, const struct servo_config *servo,
                          struct transport **out)
{
    const struct optimizer_settings *o = servo->settings->optimizer;
    bool remote = o && (!blank(o->id) || !blank(o->url));
    bool named = cli_overridden(cli, "optimizer.id") || cli_overridden(cli, "optimizer.url");
    if (o && o->local != NULL && named && remote) {
        servo_info("%s: the optimizer given on the command line replaces the embedded one "
                   "(optimizer.local) for this run",
                   servo->name);
    } else if (o && o->local != NULL && cli_overridden(cli, "optimizer.")) {
        cli_error("%s: --token, --token-file and --base-url need an optimizer, --optimizer or "
                  "--url: optimizer.local runs the embedded optimizer",
                  servo->name);
        return EXIT_USAGE;
    }
    if (!remote || (o->local != NULL && !named))
        return make_embedded_transport(servo, out);
    char *error = NULL, *token = NULL;
    char *endpoint = optimizer_endpoint(o, &error);
    if (endpoint != NULL && optimizer_token(o, &token, &error) == 0)
        *out = http_transport_create(endpoint, token, &servo->settings->settings, &error);
    if (token != NULL) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    if (endpoint != NULL && *out != NULL)
        servo_info("%s: optimizer %s", servo->name, endpoint);
    free(endpoint);
    if (*out != NULL)
        return EXIT_OK;
    cli_error("%s: %s", servo->name, error ? error : "cannot reach the optimizer");
    free(error);
    return EXIT_USAGE;
}

/* An embedded study stops the run once it is over (and has it promote the best settings when
 * the servo adjusted to them). */
static void set_stop_hook(struct servo_run *run)
{
    if (!embedded_transport_is(run->transport))
        return;
    run->options.stop = embedded_transport_over;
    run->options.stop_context = run->transport;
    run->options.promote = embedded_transport_best_applied;
}

/* What the embedded optimizers found, on standard output; EXIT_FAILURE_OPERATIONAL when a
 * study failed. */
static int print_summaries(const struct servo_run *runs, size_t count)
{
    int status = EXIT_OK;
    for (size_t i = 0; i < count; i++) {
        char *summary = embedded_transport_summary(runs[i].transport);
        if (summary == NULL)
            continue;
        if (count > 1)
            printf("%s== %s ==\n", i ? "\n" : "", runs[i].servo->name);
        fputs(summary, stdout);
        fflush(stdout);
        free(summary);
        if (embedded_transport_failed(runs[i].transport))
            status = EXIT_FAILURE_OPERATIONAL;
    }
    return status;
}

static int attach_servo(struct servo_run *run)
{
    struct servo_error error = {0};
    log_set_servo_prefix(run->log_prefix);
    int rc = servo_attach(run->servo, &error);
    log_set_servo_prefix(NULL);
    if (rc != 0) {
        cli_error("%s: %s", run->servo->name, error.message);
        return -1;
    }
    run->attached = true;
    return 0;
}

static void release_runs(struct servo_run *runs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (runs[i].attached) {
            log_set_servo_prefix(runs[i].log_prefix);
            servo_detach(runs[i].servo);
            log_set_servo_prefix(NULL);
        }
        transport_destroy(runs[i].transport);
    }
    free(runs);
}

/* The servos to run: the one picked with --name, else every one of the file. */
static struct servo_run *select_runs(struct cli *cli, size_t *count)
{
    struct servo_config *only = NULL;
    if (cli->servo_name != NULL) {
        only = (struct servo_config *)cli_selected_servo(cli);
        if (only == NULL)
            return NULL;
    }
    *count = only ? 1 : cli->assembly.count;
    struct servo_run *runs = xcalloc(*count ? *count : 1, sizeof *runs);
    for (size_t i = 0; i < *count; i++) {
        runs[i].servo = only ? only : &cli->assembly.servos[i];
        runs[i].log_prefix = *count > 1 ? runs[i].servo->name : NULL;
    }
    return runs;
}

/* ---- checks ----------------------------------------------------------------------------- */

static void log_failed_checks(const struct checks_report *report)
{
    for (size_t i = 0; i < report->count; i++) {
        const struct checks_connector *c = &report->connectors[i];
        if (c->error.kind != SERVO_ERROR_NONE)
            servo_error("%s: the checks could not run: %s", c->name, c->error.message);
        size_t index;
        const json_t *check;
        json_array_foreach(c->checks, index, check)
        {
            if (json_is_true(json_object_get(check, "success")))
                continue;
            const char *message = json_string_value(json_object_get(check, "message"));
            servo_error("%s: check \"%s\" failed: %s", c->name,
                        json_string_value(json_object_get(check, "name")), message ? message : "-");
        }
    }
}

/* Runs the servo's checks as its `checks:` settings say (wait, delay, halt_on, filters).
 * Returns EXIT_OK when ready, EXIT_FAILURE_OPERATIONAL when not, EXIT_USAGE for bad settings. */
static int check_servo(struct servo_run *run, struct cancel_token *root)
{
    struct servo_config *servo = run->servo;
    struct checks_options options;
    checks_options_from_settings(&options, &servo->settings->checks);
    options.parent = root;
    struct checks_report report;
    char *error = NULL;
    log_set_servo_prefix(run->log_prefix);
    servo_info("Running checks...");
    int rc = checks_run(servo->connectors, servo->connector_count, &options, &report, &error);
    checks_options_free(&options);
    int status = EXIT_OK;
    if (rc == CHECKS_EUSAGE) {
        cli_error("%s: checks: %s", servo->name, error ? error : "invalid checks settings");
        status = EXIT_USAGE;
    } else if (rc != 0) {
        servo_info("No connector declares checks: %s", error ? error : "nothing to check");
    } else if (report.ready) {
        servo_success("Checks passed: %zu checks, the servo is ready", report.check_count);
    } else {
        log_failed_checks(&report);
        servo_error("Checks failed%s: the servo is not ready",
                    report.timed_out ? " (gave up waiting)" : "");
        status = EXIT_FAILURE_OPERATIONAL;
    }
    if (rc == 0)
        checks_report_free(&report);
    free(error);
    log_set_servo_prefix(NULL);
    return status;
}

/* ---- interaction ------------------------------------------------------------------------ */

/* Reads a line from standard input, giving up when the root token is cancelled. */
static bool read_answer(char *line, size_t size, struct cancel_token *root)
{
    struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
    while (!cancel_is_set(root)) {
        int ready = poll(&in, 1, 100);
        if (ready > 0)
            return fgets(line, (int)size, stdin) != NULL;
    }
    return false;
}

static int confirm_connect(struct cancel_token *root)
{
    if (!isatty(STDIN_FILENO)) {
        cli_error("run: --interactive needs a terminal to ask on, and standard input is not "
                  "one");
        return EXIT_USAGE;
    }
    fputs("Connect to the optimizer? [Y/n] ", stderr);
    fflush(stderr);
    char line[64];
    if (!read_answer(line, sizeof line, root)) {
        fputc('\n', stderr);
        return EXIT_FAILURE_OPERATIONAL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0)
        return EXIT_OK;
    fputs("Aborted.\n", stderr);
    return EXIT_FAILURE_OPERATIONAL;
}

/* ---- running ---------------------------------------------------------------------------- */

static void *runner_thread(void *arg)
{
    struct servo_run *run = arg;
    log_set_servo_prefix(run->log_prefix);
    run->rc = runner_run(run->servo, run->transport, &run->options, run->shutdown);
    log_set_servo_prefix(NULL);
    return NULL;
}

static int start_runner(struct servo_run *run)
{
    run->started = pthread_create(&run->thread, NULL, runner_thread, run) == 0;
    if (run->started)
        return 0;
    cli_error("%s: cannot start its runner thread", run->servo->name);
    cancel_trigger(run->shutdown, "shutdown");
    return -1;
}

/* At most `limit` (--limit; 0: no limit) servos at a time: servo i + limit starts once
 * servo i is over, unless the servo is shutting down. */
static int run_servos(struct servo_run *runs, size_t count, size_t limit)
{
    int status = EXIT_OK;
    size_t width = limit > 0 && limit < count ? limit : count;
    if (width < count)
        servo_info("--limit %zu: %zu servos, at most %zu at a time", limit, count, width);
    size_t next = 0;
    while (next < width && status == EXIT_OK)
        status = start_runner(&runs[next++]) == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
    for (size_t i = 0; i < count; i++) {
        if (!runs[i].started)
            continue;
        pthread_join(runs[i].thread, NULL);
        if (runs[i].rc != 0)
            status = EXIT_FAILURE_OPERATIONAL;
        if (next < count && status == EXIT_OK && !cancel_is_set(runs[i].shutdown) &&
            start_runner(&runs[next++]) != 0)
            status = EXIT_FAILURE_OPERATIONAL;
    }
    return status;
}

/* What the banner says of a servo's optimizer (make_transport decides the same way). */
static char *optimizer_text(const struct cli *cli, const struct servo_config *servo)
{
    const struct optimizer_settings *o = servo->settings->optimizer;
    bool remote = o && (!blank(o->id) || !blank(o->url));
    bool named = cli_overridden(cli, "optimizer.id") || cli_overridden(cli, "optimizer.url");
    if (remote && (o->local == NULL || named))
        return xasprintf("optimizer %s", !blank(o->url) ? o->url : o->id);
    return xasprintf("embedded optimizer (study \"%s\")", servo->name);
}

static void log_banner(const struct cli *cli, const struct servo_run *runs, size_t count)
{
    servo_info("%s v%s \"%s\" initialized", SERVO_NAME, SERVO_VERSION, SERVO_CRYPTONYM);
    servo_info("config file: %s",
               cli->assembly.config_file ? cli->assembly.config_file : cli->config_file);
    for (size_t i = 0; i < count; i++) {
        const struct servo_config *servo = runs[i].servo;
        struct strbuf names;
        strbuf_init(&names);
        for (size_t k = 0; k < servo->connector_count; k++)
            strbuf_printf(&names, "%s%s-%s", k ? ", " : "", servo->connectors[k].name,
                          servo->connectors[k].plugin->version);
        char *optimizer = optimizer_text(cli, servo);
        servo_info("servo %s: connectors %s, %s%s%s", servo->name,
                   names.data ? names.data : "(none)", optimizer,
                   servo->settings->servo_uid ? ", servo UID " : "",
                   servo->settings->servo_uid ? servo->settings->servo_uid : "");
        free(optimizer);
        strbuf_release(&names);
    }
}

/* Everything after the options: transports, checks, runners. */
static int run(struct cli *cli, const struct run_args *a, struct cancel_token *root)
{
    if (cli_assemble(cli) != 0)
        return cli->failure;
    size_t count = 0;
    struct servo_run *runs = select_runs(cli, &count);
    if (runs == NULL)
        return EXIT_USAGE;
    int status = EXIT_OK;
    for (size_t i = 0; i < count; i++)
        status_servo(runs[i].servo->name, a->check || a->dry_run);
    /* attached first: the embedded optimizer may ask the servo to describe itself */
    for (size_t i = 0; i < count && status == EXIT_OK; i++)
        if (attach_servo(&runs[i]) != 0)
            status = EXIT_FAILURE_OPERATIONAL;
    for (size_t i = 0; i < count && status == EXIT_OK; i++) {
        runs[i].options.no_poll = a->no_poll;
        runs[i].shutdown = root;
        if (!a->dry_run)
            status = make_transport(cli, runs[i].servo, &runs[i].transport);
        set_stop_hook(&runs[i]);
    }
    if (status == EXIT_OK && !a->no_banner)
        log_banner(cli, runs, count);
    if (status == EXIT_OK && a->interactive && !a->dry_run)
        status = confirm_connect(root);
    for (size_t i = 0; i < count && status == EXIT_OK && (a->check || a->dry_run); i++) {
        status = check_servo(&runs[i], root);
        status_checks_passed(runs[i].servo->name, status == EXIT_OK);
    }
    if (status == EXIT_OK && !a->dry_run && !cancel_is_set(root)) {
        status = run_servos(runs, count, cli->limit);
        int summaries = print_summaries(runs, count);
        status = status == EXIT_OK ? summaries : status;
    }
    release_runs(runs, count);
    return status;
}

static int apply_log_options(const struct run_args *a)
{
    if (a->debug && !servo_log_enabled(SERVO_LOG_TRACE))
        log_set_level(SERVO_LOG_DEBUG); /* TRACE, when asked for, stays */
    if (a->debug)
        servo_debug("debug mode (--debug or SERVO_RUN_DEBUG): logging at DEBUG level");
    if (a->log_format >= 0)
        log_set_format(a->log_format == 1 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    if (a->log_file != NULL && log_set_file(a->log_file) != 0) {
        cli_error("run: cannot open the log file %s", a->log_file);
        return -1;
    }
    return 0;
}

/* /healthz, /readyz and /metrics on `address`; NULL after saying why. */
static struct status_server *start_status_server(const char *address)
{
    char *error = NULL;
    struct status_server *s = status_server_start(address, &error);
    if (s == NULL) {
        cli_error("run: %s", error ? error : "cannot serve the status endpoints");
        free(error);
        return NULL;
    }
    servo_info("Serving /healthz, /readyz and /metrics on %s", status_server_url(s));
    return s;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("run");
    struct run_args a = {0};
    int rc = parse_args(&a, argc, argv, self);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (apply_log_options(&a) != 0)
        return EXIT_USAGE;
    struct cancel_token root;
    cancel_init(&root, NULL, 0);
    struct signals signals = {.root = &root, .signal_fd = -1, .stop_fd = -1};
    block_signals(&signals.set); /* before any thread starts: they inherit the mask */
    struct status_server *listening = NULL;
    if (a.listen != NULL && (listening = start_status_server(a.listen)) == NULL) {
        cancel_destroy(&root);
        return EXIT_USAGE;
    }
    int status =
        start_signal_thread(&signals) == 0 ? run(cli, &a, &root) : EXIT_FAILURE_OPERATIONAL;
    if (status == EXIT_OK && cancel_is_set(&root))
        servo_info("Servo shutdown complete.");
    stop_signal_thread(&signals);
    status_server_stop(listening);
    cancel_destroy(&root);
    if (a.log_file != NULL)
        log_set_file(NULL);
    return status;
}
