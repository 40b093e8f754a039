/* servo optimizer serve | history | best, and servo report: the optimizer server, and the
 * results of the studies in a store (embedded or served). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "optimizer/report.h"
#include "optimizer/results.h"
#include "optimizer/server.h"
#include "optimizer/store.h"
#include "util/log.h"
#include "util/util.h"
#include "util/json_text.h"

#define SERVER_CONFIG_DEFAULT "optimizer.yaml"

/* ---- the server's file ----------------------------------------------------------------- */

struct server_file {
    struct yaml_documents docs;
    struct server_settings *settings;
};

static int load_server_file(const char *path, struct server_file *f)
{
    memset(f, 0, sizeof *f);
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load_file(path, &f->docs, &diags) == 0) {
        if (f->docs.count != 1)
            diag_add(&diags, path, 0, 0, "", "expected one YAML document, found %zu",
                     f->docs.count);
        else
            f->settings =
                settings_load(&server_settings_schema, f->docs.items[0], "", NULL, &diags);
    }
    cli_print_diags(&diags);
    diags_free(&diags);
    if (f->settings == NULL) /* the caller frees nothing on failure */
        yaml_documents_free(&f->docs);
    return f->settings ? 0 : -1;
}

static void free_server_file(struct server_file *f)
{
    if (f->settings)
        settings_free(&server_settings_schema, f->settings);
    yaml_documents_free(&f->docs);
}

/* ---- serve ----------------------------------------------------------------------------- */

struct serve_args {
    const char *config;
    const char *listen;
    const char *store;
};

static int parse_serve(int argc, char **argv, const struct cli_command *self, struct serve_args *a)
{
    a->config = SERVER_CONFIG_DEFAULT;
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
            a->config = optarg;
            break;
        case OPT_LISTEN:
            a->listen = optarg;
            break;
        case OPT_STORE:
            a->store = optarg;
            break;
        default:
            break;
        }
    }
    if (optind < argc) {
        cli_error("optimizer serve: unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    return 0;
}

/* Waits for SIGTERM, SIGINT or SIGHUP (blocked in every thread before the server started). */
static void wait_for_signal(const sigset_t *set)
{
    int number = 0;
    while (sigwait(set, &number) != 0)
        ;
    const char *name = number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "SIGHUP";
    servo_info("Received %s: shutting down", name);
}

static int serve(const struct serve_args *a)
{
    struct server_file f;
    if (load_server_file(a->config, &f) != 0)
        return EXIT_USAGE;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct server *server = NULL;
    char *error = NULL;
    int status = EXIT_OK;
    if (server_create(f.settings, a->store, &server, &error) != 0 ||
        server_listen(server, a->listen ? a->listen : f.settings->listen, &error) != 0) {
        cli_error("optimizer serve: %s", error ? error : "cannot start");
        status = EXIT_FAILURE_OPERATIONAL;
    } else {
        printf("%s\n", server_url(server));
        fflush(stdout);
        servo_info("Serving %zu applications on %s (store %s)", f.settings->applications.count,
                   server_url(server), a->store ? a->store : f.settings->store);
        wait_for_signal(&set);
    }
    free(error);
    server_free(server);
    free_server_file(&f);
    return status;
}

/* ---- reading results ------------------------------------------------------------------- */

enum results_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_CSV };

struct results_args {
    const char *store;
    char *password_file; /* from the server's file; owned */
    const char *config;  /* the server's file, whose store to read */
    const char *app;
    const char *output; /* report */
    int format;
    bool pareto; /* best --pareto */
};

/* The store to read: --store, else the server file's (-c), else optimizer.local.store of the
 * servo configuration when there is one, else the embedded default. The caller frees. */
static char *resolve_store(struct cli *cli, struct results_args *a, const char **app)
{
    if (a->store != NULL && a->config == NULL)
        return xstrdup(a->store);
    if (a->config != NULL) {
        struct server_file f;
        if (load_server_file(a->config, &f) != 0)
            return NULL;
        char *path = xstrdup(a->store ? a->store : f.settings->store);
        free(a->password_file);
        a->password_file = f.settings->password_file ? xstrdup(f.settings->password_file) : NULL;
        free_server_file(&f);
        return path;
    }
    if (access(cli->config_file, R_OK) != 0)
        return xstrdup(STUDY_DEFAULT_STORE);
    if (cli_assemble(cli) != 0)
        return NULL;
    const struct servo_config *servo = cli_selected_servo(cli);
    if (servo == NULL)
        return NULL;
    const struct optimizer_settings *o = servo->settings->optimizer;
    if (*app == NULL)
        *app = servo->name;
    return xstrdup(o && o->local ? o->local->store : STUDY_DEFAULT_STORE);
}

/* The document of the study asked for; NULL after an error message. */
static int open_store(struct results_args *a, const char *path, struct store **store, char **error)
{
    struct store_options options = {.password_file = a->password_file};
    return store_open_with(path, &options, store, error);
}

/* No study named, and the store holds several: their list (when `studies` is given). */
static json_t *several_studies(struct store *store, const struct results_args *a, char **error)
{
    if (a->app != NULL)
        return NULL;
    json_t *list = results_studies(store, error);
    if (json_array_size(list) > 1)
        return list;
    json_decref(list);
    return NULL;
}

static json_t *load_document(struct cli *cli, struct results_args *a, const char *command,
                             json_t **studies)
{
    const char *app = a->app;
    char *path = resolve_store(cli, a, &app);
    if (path == NULL)
        return NULL;
    struct store *store = NULL;
    char *error = NULL;
    json_t *doc = NULL;
    if (open_store(a, path, &store, &error) == 0 && studies != NULL &&
        (*studies = several_studies(store, a, &error)) != NULL) {
        store_close(store);
        free(path);
        return NULL;
    }
    if (store != NULL && error == NULL) {
        doc = results_load(store, app, &error);
        /* the servo's name is only a guess: with one study in the store, take it */
        if (doc == NULL && a->app == NULL && app != NULL) {
            free(error);
            error = NULL;
            doc = results_load(store, NULL, &error);
        }
    }
    if (doc == NULL)
        cli_error("%s: %s", command, error ? error : "cannot read the store");
    free(error);
    store_close(store);
    free(path);
    return doc;
}

static int parse_results(int argc, char **argv, const struct cli_command *self,
                         struct results_args *a)
{
    optind = 0;
    int c;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        switch (c) {
        case -2:
            return -1;
        case 'h':
            cli_help(self, stdout);
            return 1;
        case OPT_STORE:
            a->store = optarg;
            break;
        case OPT_APP:
            a->app = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'f':
            if ((a->format = cli_option_choice(self, 'f', optarg)) < 0)
                return -1;
            break;
        case 'o':
            a->output = optarg;
            break;
        case OPT_PARETO:
            a->pareto = true;
            break;
        default:
            break;
        }
    }
    /* history and best take the study as an argument too: `history APP` */
    bool takes_app = strcmp(self->name, "history") == 0 || strcmp(self->name, "best") == 0;
    if (takes_app && a->app == NULL && optind < argc)
        a->app = argv[optind++];
    if (optind < argc) {
        cli_error("%s: unexpected argument \"%s\"", self->name, argv[optind]);
        return -1;
    }
    return 0;
}

static char *history_text(const json_t *doc, int format)
{
    switch ((enum results_format)format) {
    case FORMAT_JSON:
        break;
    case FORMAT_CSV:
        return results_history_csv(doc);
    case FORMAT_TEXT:
        return results_history_text(doc);
    }
    char *text = json_text(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *line = xasprintf("%s\n", text);
    free(text);
    return line;
}

static char *best_text(const json_t *doc, int format)
{
    if (format != FORMAT_JSON)
        return results_best_text(doc);
    json_t *best = results_best_json(doc);
    char *text = json_text(best, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *line = xasprintf("%s\n", text);
    free(text);
    json_decref(best);
    return line;
}

/* `servo optimizer history` on a store of several studies: their list. */
static int print_studies(json_t *studies, int format)
{
    char *text = NULL;
    if (format == FORMAT_JSON) {
        char *json = json_text(studies, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        text = xasprintf("%s\n", json);
        free(json);
    } else {
        text = results_studies_text(studies, format == FORMAT_CSV);
    }
    fputs(text, stdout);
    if (format == FORMAT_TEXT)
        printf("\n%zu studies: `servo optimizer history STUDY` shows one's trials.\n",
               json_array_size(studies));
    free(text);
    json_decref(studies);
    return EXIT_OK;
}

/* best --pareto: the front; a single-objective study's best trial, saying so. */
static char *pareto_text(const json_t *doc, int format)
{
    if (format != FORMAT_JSON)
        return results_pareto_text(doc);
    if (!json_is_array(json_object_get(doc, "pareto")))
        fputs("optimizer best --pareto: a single-objective study: its best trial only\n", stderr);
    json_t *front = results_pareto_json(doc);
    char *text = json_text(front, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *line = xasprintf("%s\n", text);
    free(text);
    json_decref(front);
    return line;
}

static int show_results(struct cli *cli, int argc, char **argv, bool best)
{
    const struct cli_command *self =
        cli_find_subcommand(cli_find_command("optimizer"), best ? "best" : "history");
    struct results_args a = {.format = FORMAT_TEXT};
    int rc = parse_results(argc, argv, self, &a);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    json_t *studies = NULL;
    json_t *doc = load_document(cli, &a, best ? "optimizer best" : "optimizer history",
                                best ? NULL : &studies);
    free(a.password_file);
    if (studies != NULL)
        return print_studies(studies, a.format);
    if (doc == NULL)
        return EXIT_FAILURE_OPERATIONAL;
    char *text = a.pareto ? pareto_text(doc, a.format)
                 : best   ? best_text(doc, a.format)
                          : history_text(doc, a.format);
    fputs(text, stdout);
    free(text);
    json_decref(doc);
    return EXIT_OK;
}

/* ---- reset ----------------------------------------------------------------------------- */

/* Removes one application's study (a failed or quarantined one) so that it starts anew at its
 * servo's next request. A SQLite store is claimed first: not while a server writes it. */
static int delete_study(struct results_args *a, const char *path, char **error)
{
    struct store_claim *claim = NULL;
    struct store *store = NULL;
    bool found = false;
    int rc = -1;
    if (store_claim(path, &claim, error) == 0 && open_store(a, path, &store, error) == 0 &&
        store_begin(store, error) == 0) {
        if (store_delete_app(store, a->app, &found, error) == 0 && found)
            rc = store_commit(store, error);
        else if (!found && *error == NULL)
            *error = xasprintf("%s holds no study of \"%s\"", store_path(store), a->app);
        store_rollback(store);
    }
    store_close(store);
    store_release(claim);
    return rc;
}

static int reset(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_subcommand(cli_find_command("optimizer"), "reset");
    struct results_args a = {0};
    int rc = parse_results(argc, argv, self, &a);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (a.app == NULL) {
        cli_error("optimizer reset: --app ID is required");
        return EXIT_USAGE;
    }
    const char *app = a.app;
    char *path = resolve_store(cli, &a, &app);
    char *error = NULL;
    rc = path != NULL && delete_study(&a, path, &error) == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
    if (rc == EXIT_OK)
        printf("Reset the study of %s in %s: it starts anew at its servo's next request\n", a.app,
               path);
    else if (error != NULL)
        cli_error("optimizer reset: %s", error);
    free(error);
    free(path);
    free(a.password_file);
    return rc;
}

/* ---- the commands ---------------------------------------------------------------------- */

int cmd_optimizer(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("optimizer");
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        cli_help(self, sub ? stdout : stderr);
        return sub ? EXIT_OK : EXIT_USAGE;
    }
    if (strcmp(sub, "serve") == 0) {
        struct serve_args a = {0};
        int rc = parse_serve(argc - 1, argv + 1, cli_find_subcommand(self, "serve"), &a);
        if (rc != 0)
            return rc > 0 ? EXIT_OK : EXIT_USAGE;
        return serve(&a);
    }
    if (strcmp(sub, "history") == 0 || strcmp(sub, "best") == 0)
        return show_results(cli, argc - 1, argv + 1, strcmp(sub, "best") == 0);
    if (strcmp(sub, "reset") == 0)
        return reset(cli, argc - 1, argv + 1);
    cli_error("optimizer: no such subcommand \"%s\" (serve, history, best or reset)", sub);
    return EXIT_USAGE;
}

int cmd_report(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("report");
    struct results_args a = {.output = "report.html"};
    int rc = parse_results(argc, argv, self, &a);
    if (rc != 0)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    json_t *doc = load_document(cli, &a, "report", NULL);
    free(a.password_file);
    if (doc == NULL)
        return EXIT_FAILURE_OPERATIONAL;
    char *html = report_html(doc);
    rc = cli_write_output(a.output, html);
    free(html);
    json_decref(doc);
    if (rc != 0)
        return EXIT_FAILURE_OPERATIONAL;
    if (strcmp(a.output, "-") != 0)
        fprintf(stderr, "Wrote %s\n", a.output);
    return EXIT_OK;
}
