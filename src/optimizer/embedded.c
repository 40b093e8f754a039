/* The embedded optimizer: a transport whose exchange is study_exchange (embedded.h). */
#include "optimizer/embedded.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "optimizer/results.h"
#include "optimizer/store.h"
#include "optimizer/study.h"
#include "optimizer/study_match.h"
#include "servo/log.h"
#include "util/util.h"
#include "util/json_text.h"

struct embedded {
    struct study_settings *defaults; /* owned when no settings were given */
    struct store_claim *claim;       /* one process writes a SQLite store */
    struct store *store;
    struct study *study;
    pthread_mutex_t lock;
};

static void embedded_exchange(void *context, const json_t *request, struct cancel_token *token,
                              struct exchange *out)
{
    (void)token;
    struct embedded *e = context;
    memset(out, 0, sizeof *out);
    int http_status = 200;
    pthread_mutex_lock(&e->lock);
    json_t *reply = study_exchange(e->study, request, &http_status);
    pthread_mutex_unlock(&e->lock);
    out->http_status = http_status;
    out->body = json_text(reply, JSON_COMPACT);
    if (http_status / 100 == 2) {
        out->status = EXCHANGE_OK;
        out->reply = reply;
        return;
    }
    out->status = EXCHANGE_HTTP_ERROR;
    snprintf(out->error, sizeof out->error, "the embedded optimizer answered %d", http_status);
    json_decref(reply);
}

static void embedded_destroy(void *context)
{
    struct embedded *e = context;
    study_free(e->study);
    store_close(e->store);
    store_release(e->claim);
    if (e->defaults != NULL)
        settings_free(&study_local_schema, e->defaults);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

static struct study_settings *default_settings(char **error)
{
    struct servo_diags diags;
    diags_init(&diags);
    struct study_settings *s =
        settings_load(&study_local_schema, NULL, "optimizer.local", NULL, &diags);
    if (s == NULL)
        *error = diags.count ? diag_format(&diags.items[0])
                             : xstrdup("invalid optimizer.local defaults");
    diags_free(&diags);
    return s;
}

/* Why the stored study of `id` is not resumed (caller frees); NULL: it is, or there is none. */
static char *why_not_resumed(const struct store_app *app, const struct study_settings *settings,
                             const struct embedded_options *options)
{
    if (str_eq(app->phase, "failed"))
        return xasprintf("it failed: %s", app->reason ? app->reason : "no reason recorded");
    struct servo_description *now = NULL;
    if (app->description != NULL && options != NULL && options->describe != NULL)
        now = options->describe(options->context);
    char *changed = study_mismatch(app, settings, now);
    servo_description_free(now);
    if (changed == NULL)
        return NULL;
    char *why = xasprintf("it was for another configuration (changed: %s)", changed);
    free(changed);
    return why;
}

/* A stored study that failed or does not fit the configuration is kept aside under another
 * name, so that study_open starts a new one. 0, or -1 with a message. */
static int set_aside_unfit(struct store *store, const char *id,
                           const struct study_settings *settings,
                           const struct embedded_options *options, char **error)
{
    struct store_app app;
    memset(&app, 0, sizeof app);
    bool found = false;
    if (store_load_app(store, id, &app, &found, error) != 0)
        return -1;
    char *why = found ? why_not_resumed(&app, settings, options) : NULL;
    store_app_clear(&app);
    if (why == NULL)
        return 0;
    char *kept = NULL;
    int rc = study_set_aside(store, id, &kept, error);
    if (rc == 0)
        servo_warning("The stored study \"%s\" in %s is not resumed: %s; it is kept as \"%s\" "
                      "and a new study starts",
                      id, store_path(store), why, kept);
    free(kept);
    free(why);
    return rc;
}

struct transport *embedded_transport_create(const char *app_id,
                                            const struct study_settings *settings, char **error)
{
    return embedded_transport_open(app_id, settings, NULL, error);
}

struct transport *embedded_transport_open(const char *app_id, const struct study_settings *settings,
                                          const struct embedded_options *embedded, char **error)
{
    struct embedded *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    if (settings == NULL)
        settings = e->defaults = default_settings(error);
    struct study_options options = {.sleep_seconds = STUDY_DEFAULT_SLEEP_SECONDS};
    if (settings == NULL || store_claim(settings->store, &e->claim, error) != 0 ||
        store_open(settings->store, true, &e->store, error) != 0 ||
        set_aside_unfit(e->store, app_id, settings, embedded, error) != 0 ||
        study_open(app_id, settings, e->store, &options, &e->study, error) != 0) {
        embedded_destroy(e);
        return NULL;
    }
    struct transport *t = xcalloc(1, sizeof *t);
    *t = (struct transport){
        .exchange = embedded_exchange, .destroy = embedded_destroy, .context = e};
    return t;
}

bool embedded_transport_is(const struct transport *t)
{
    return t != NULL && t->exchange == embedded_exchange;
}

bool embedded_transport_over(void *context)
{
    const struct transport *t = context;
    if (!embedded_transport_is(t))
        return false;
    struct embedded *e = t->context;
    pthread_mutex_lock(&e->lock);
    bool over = study_over(e->study);
    pthread_mutex_unlock(&e->lock);
    return over;
}

json_t *embedded_transport_document(const struct transport *t)
{
    if (!embedded_transport_is(t))
        return NULL;
    struct embedded *e = t->context;
    pthread_mutex_lock(&e->lock);
    json_t *doc = study_document(e->study);
    pthread_mutex_unlock(&e->lock);
    return doc;
}

char *embedded_transport_summary(const struct transport *t)
{
    json_t *doc = embedded_transport_document(t);
    if (doc == NULL)
        return NULL;
    char *text = results_summary_text(doc);
    json_decref(doc);
    return text;
}

bool embedded_transport_best_applied(void *context)
{
    const struct transport *t = context;
    if (!embedded_transport_is(t))
        return false;
    struct embedded *e = t->context;
    pthread_mutex_lock(&e->lock);
    bool applied = study_best_applied(e->study);
    pthread_mutex_unlock(&e->lock);
    return applied;
}

bool embedded_transport_failed(const struct transport *t)
{
    if (!embedded_transport_is(t))
        return false;
    struct embedded *e = t->context;
    pthread_mutex_lock(&e->lock);
    bool failed = study_phase(e->study) == STUDY_FAILED;
    pthread_mutex_unlock(&e->lock);
    return failed;
}
