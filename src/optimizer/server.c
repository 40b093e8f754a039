/* The optimizer server (server.h): routing, authentication and metrics in server_handle,
 * libmicrohttpd around it. */
#include "optimizer/server.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "optimizer/http_front.h"
#include "optimizer/results.h"
#include "optimizer/server_index.h"
#include "optimizer/server_metrics.h"
#include "optimizer/store.h"
#include "optimizer/study.h"
#include "servo/log.h"
#include "types/wire.h"
#include "util/module.h"
#include "util/listen.h"
#include "util/util.h"
#include "util/json_text.h"

#define STATUS_SLOTS 32
/* Per connection, for the request line and headers (a longer header: 431). */
#define SERVER_HEADER_MEMORY (64 * 1024)

/* How many trials of a study ended with one status. */
struct status_tally {
    char *status;
    unsigned long count;
};

struct app_stats {
    struct status_tally *tallies;
    size_t tally_count;
    bool has_best, over;
    double best;
};

struct app {
    char *id;
    const struct study_settings *settings;
    struct study *study; /* NULL: quarantined (it could not be read), see `quarantine` */
    const char *token;   /* the settings' token or token_file's (NULL: open) */
    char *token_owned;
    char *quarantine;
    char *label;
    pthread_mutex_t lock;
    bool lock_ready;
    /* What /metrics shows of it, updated when the study changes (app_metrics_update, under
     * the application's lock), read by scrapes under the server's stats lock. */
    struct app_stats stats;
    size_t group; /* its series' index with metrics_labels org or none */
    size_t seen_trials;
    enum study_phase seen_phase;
    bool seen_over, metrics_rendered;
};

/* Store connections, one per request being served: an application's study borrows one for
 * a request (a SQLite file or one PostgreSQL database behind them all). */
struct pool {
    struct store **free;
    size_t free_count, size;
    pthread_mutex_t lock;
    pthread_cond_t available;
};

struct status_count {
    int code;
    unsigned long count;
};

enum route {
    ROUTE_NONE,
    ROUTE_SERVO,
    ROUTE_TRIALS,
    ROUTE_HEALTH,
    ROUTE_READY,
    ROUTE_METRICS,
};
#define ROUTE_COUNT (ROUTE_METRICS + 1)
static const char *const route_names[ROUTE_COUNT] = {"none",    "servo",  "trials",
                                                     "healthz", "readyz", "metrics"};

struct server {
    const struct server_settings *settings;
    char *store_path;
    struct store_options store_options;
    struct store_claim *claim;
    struct pool pool;
    struct app *apps;
    size_t app_count;
    struct server_index by_id, by_token; /* into apps */
    char **groups; /* the label values of the summed series (metrics_labels org or none) */
    size_t group_count;
    size_t max_body;
    void *front; /* the HTTP front, from front_ops */
    const struct http_front_module *front_ops;
    atomic_size_t body_bytes; /* the front's count of what the bodies in flight hold */
    int listen_fd;
    char *url;
    pthread_mutex_t stats_lock;
    struct status_count statuses[STATUS_SLOTS];
    size_t status_count;
    struct histogram route_latency[ROUTE_COUNT];
    struct histogram store_latency;
};

static const char json_content_type[] = "application/json";
static const char text_content_type[] = "text/plain; version=0.0.4; charset=utf-8";

/* ---- the store connections ----------------------------------------------------------- */

static struct store *pool_take(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->free_count == 0)
        pthread_cond_wait(&p->available, &p->lock);
    struct store *store = p->free[--p->free_count];
    pthread_mutex_unlock(&p->lock);
    return store;
}

static void pool_give(struct pool *p, struct store *store)
{
    pthread_mutex_lock(&p->lock);
    p->free[p->free_count++] = store;
    pthread_cond_signal(&p->available);
    pthread_mutex_unlock(&p->lock);
}

static void observe_store(void *context, double seconds)
{
    struct server *s = context;
    pthread_mutex_lock(&s->stats_lock);
    histogram_observe(&s->store_latency, seconds);
    pthread_mutex_unlock(&s->stats_lock);
}

static int pool_open(struct server *s, size_t size, char **error)
{
    struct pool *p = &s->pool;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->available, NULL);
    p->free = xcalloc(size, sizeof *p->free);
    p->size = size;
    for (size_t i = 0; i < size; i++) {
        if (store_open_with(s->store_path, &s->store_options, &p->free[i], error) != 0)
            return -1;
        store_observe(p->free[i], observe_store, s);
        p->free_count++;
    }
    return 0;
}

static void pool_close(struct pool *p)
{
    if (p->free == NULL)
        return;
    for (size_t i = 0; i < p->free_count; i++)
        store_close(p->free[i]);
    free(p->free);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->available);
}

size_t server_thread_count(const struct server_settings *settings)
{
    if (settings->threads > 0)
        return (size_t)settings->threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (size_t)cores : 1;
}

/* ---- creating -------------------------------------------------------------------------- */

static double servo_timeout(const struct server *s, const struct study_settings *settings)
{
    servo_duration d = settings->servo_timeout != SERVO_UNSET ? settings->servo_timeout
                                                              : s->settings->servo_timeout;
    return d == SERVO_UNSET ? 0 : servo_duration_seconds(d);
}

static void app_metrics_update(struct server *s, struct app *a);
static void app_stats_free(struct app_stats *st);
static void metrics_groups(struct server *s);

/* The application's study, opened on a borrowed connection. A study that cannot be read is
 * quarantined: its requests get 503 with the reason, the others go on; it is tried again at
 * its next request (after `servo optimizer reset --app`, it starts anew). Called under the
 * application's lock. */
static int open_study(struct server *s, struct app *a, struct store *store)
{
    struct study_options options = {
        .sleep_seconds = servo_duration_seconds(s->settings->sleep),
        .log_label = a->label,
        .served = true,
        .servo_timeout_seconds = servo_timeout(s, a->settings),
    };
    char *error = NULL;
    if (study_open(a->id, a->settings, store, &options, &a->study, &error) == 0) {
        free(a->quarantine);
        a->quarantine = NULL;
        app_metrics_update(s, a);
        return 0;
    }
    if (a->quarantine == NULL || strcmp(a->quarantine, error ? error : "") != 0)
        servo_error("%squarantined: %s", a->label, error ? error : "cannot open the study");
    free(a->quarantine);
    a->quarantine = error ? error : xstrdup("cannot open the study");
    return -1;
}

/* token_file: the first line of the file (a mounted Secret). */
static int read_token(struct app *a, char **error)
{
    const char *path = a->settings->token_file;
    if (a->settings->token != NULL) {
        *error = xasprintf("applications.%s: token and token_file are exclusive", a->id);
        return -1;
    }
    char *text = NULL, *why = NULL;
    size_t length = 0;
    if (read_file(path, 64 * 1024, &text, &length, &why) != 0) {
        *error = xasprintf("applications.%s.token_file %s: %s", a->id, path, why ? why : "?");
        free(why);
        return -1;
    }
    text[strcspn(text, "\r\n")] = '\0';
    if (text[0] == '\0' || strlen(text) != strcspn(text, "\r\n")) {
        free(text);
        *error = xasprintf("applications.%s.token_file %s: no token in it", a->id, path);
        return -1;
    }
    a->token = a->token_owned = text;
    return 0;
}

static void open_app(struct server *s, struct app *a)
{
    a->label = xasprintf("%s: ", a->id);
    pthread_mutex_init(&a->lock, NULL);
    a->lock_ready = true;
    struct store *store = pool_take(&s->pool);
    if (open_study(s, a, store) != 0)
        app_metrics_update(s, a);
    pool_give(&s->pool, store);
}

/* The lookups by id and by token: a request's cost does not grow with the applications. */
static void index_apps(struct server *s)
{
    server_index_init(&s->by_id, s->app_count);
    server_index_init(&s->by_token, s->app_count);
    for (size_t i = 0; i < s->app_count; i++) {
        server_index_add(&s->by_id, s->apps[i].id, strlen(s->apps[i].id), i);
        if (s->apps[i].token != NULL)
            server_index_add(&s->by_token, s->apps[i].token, strlen(s->apps[i].token), i);
    }
}

int server_create(const struct server_settings *settings, const char *store_path,
                  struct server **out, char **error)
{
    if (settings->max_body_memory > 0 && settings->max_body_memory < settings->max_request_size) {
        *error =
            xasprintf("max_body_memory (%lld bytes) is smaller than max_request_size (%lld "
                      "bytes): a request of the largest size could never be read",
                      (long long)settings->max_body_memory, (long long)settings->max_request_size);
        *out = NULL;
        return -1;
    }
    struct server *s = xcalloc(1, sizeof *s);
    s->settings = settings;
    s->store_path = xstrdup(store_path ? store_path : settings->store);
    s->store_options =
        (struct store_options){.create = true, .password_file = settings->password_file};
    s->max_body = (size_t)settings->max_request_size;
    s->listen_fd = -1;
    pthread_mutex_init(&s->stats_lock, NULL);
    *out = NULL;
    const struct study_settings *apps = settings->applications.values;
    s->apps =
        xcalloc(settings->applications.count ? settings->applications.count : 1, sizeof *s->apps);
    for (size_t i = 0; i < settings->applications.count; i++) {
        s->app_count++;
        struct app *a = &s->apps[i];
        a->settings = &apps[i];
        a->id = xstrdup(settings->applications.keys[i]);
        a->token = apps[i].token;
        if (apps[i].token_file != NULL && read_token(a, error) != 0) {
            server_free(s);
            return -1;
        }
    }
    /* a connection per connection thread and per worker (as many), and one for /healthz */
    if (store_claim(s->store_path, &s->claim, error) != 0 ||
        pool_open(s, 2 * server_thread_count(settings) + 1, error) != 0) {
        server_free(s);
        return -1;
    }
    index_apps(s);
    metrics_groups(s);
    for (size_t i = 0; i < settings->applications.count; i++) {
        open_app(s, &s->apps[i]);
        if (s->apps[i].token == NULL)
            servo_warning("%s: no token: any client may drive this application", s->apps[i].id);
    }
    *out = s;
    return 0;
}

void server_free(struct server *s)
{
    if (s == NULL)
        return;
    server_stop(s);
    for (size_t i = 0; i < s->app_count; i++) {
        struct app *a = &s->apps[i];
        study_free(a->study);
        if (a->lock_ready)
            pthread_mutex_destroy(&a->lock);
        free(a->id);
        free(a->label);
        free(a->quarantine);
        app_stats_free(&a->stats);
        if (a->token_owned != NULL)
            explicit_bzero(a->token_owned, strlen(a->token_owned));
        free(a->token_owned);
    }
    free(s->apps);
    server_index_free(&s->by_id);
    server_index_free(&s->by_token);
    for (size_t i = 0; i < s->group_count; i++)
        free(s->groups[i]);
    free(s->groups);
    pool_close(&s->pool);
    store_release(s->claim);
    pthread_mutex_destroy(&s->stats_lock);
    free(s->store_path);
    free(s->url);
    free(s);
}

/* ---- responses ------------------------------------------------------------------------- */

static void respond_json(struct server_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = json_content_type;
    out->body = json_text(body, JSON_COMPACT);
    json_decref(body);
}

static void respond_detail(struct server_response *out, int status, const char *detail)
{
    json_t *body = json_object();
    json_object_set_new(body, "detail", wire_string(detail));
    respond_json(out, status, body);
}

static void count_status(struct server *s, int code)
{
    pthread_mutex_lock(&s->stats_lock);
    size_t i = 0;
    while (i < s->status_count && s->statuses[i].code != code)
        i++;
    if (i == s->status_count && i < STATUS_SLOTS)
        s->statuses[s->status_count++] = (struct status_count){code, 0};
    if (i < STATUS_SLOTS)
        s->statuses[i].count++;
    pthread_mutex_unlock(&s->stats_lock);
}

/* ---- routing --------------------------------------------------------------------------- */

/* /accounts/ORG/applications/APP/(servo|trials), a trailing slash allowed; the id is ORG/APP. */
static enum route parse_path(const char *path, char *id, size_t id_size)
{
    if (path == NULL)
        return ROUTE_NONE;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(path, "/readyz") == 0)
        return ROUTE_READY;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    const char *prefix = "/accounts/";
    if (strncmp(path, prefix, strlen(prefix)) != 0)
        return ROUTE_NONE;
    const char *org = path + strlen(prefix);
    const char *org_end = strchr(org, '/');
    if (org_end == NULL || org_end == org || strncmp(org_end, "/applications/", 14) != 0)
        return ROUTE_NONE;
    const char *app = org_end + 14;
    const char *app_end = strchr(app, '/');
    if (app_end == NULL || app_end == app)
        return ROUTE_NONE;
    const char *rest = app_end + 1;
    enum route route = ROUTE_NONE;
    if (strcmp(rest, "servo") == 0 || strcmp(rest, "servo/") == 0)
        route = ROUTE_SERVO;
    else if (strcmp(rest, "trials") == 0 || strcmp(rest, "trials/") == 0)
        route = ROUTE_TRIALS;
    size_t org_length = (size_t)(org_end - org), app_length = (size_t)(app_end - app);
    if (route == ROUTE_NONE || org_length + 1 + app_length >= id_size)
        return ROUTE_NONE;
    snprintf(id, id_size, "%.*s/%.*s", (int)org_length, org, (int)app_length, app);
    return route;
}

struct app_search {
    struct server *server;
    const char *id;
    struct app *found;
};

static void match_id(void *context, size_t i)
{
    struct app_search *search = context;
    if (strcmp(search->server->apps[i].id, search->id) == 0)
        search->found = &search->server->apps[i];
}

static struct app *find_app(struct server *s, const char *id)
{
    struct app_search search = {s, id, NULL};
    server_index_find(&s->by_id, id, strlen(id), match_id, &search);
    return search.found;
}

/* Compares in time that depends on the lengths only. */
static bool same_secret(const char *given, size_t given_length, const char *secret)
{
    size_t length = strlen(secret);
    unsigned char diff = given_length != length;
    for (size_t i = 0; i < given_length; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)secret[i % (length ? length : 1)];
    return diff == 0;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The token the request carries (Authorization: Bearer, else X-SF-Token), as a span. */
static bool request_token(const struct server_request *r, const char **token, size_t *length)
{
    if (r->authorization != NULL) {
        const char *value = skip_spaces(r->authorization);
        if (strncasecmp(value, "Bearer ", 7) == 0) {
            value = skip_spaces(value + 7);
            size_t n = strlen(value);
            while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
                n--;
            *token = value;
            *length = n;
            return n > 0;
        }
    }
    if (r->sf_token != NULL && r->sf_token[0] != '\0') {
        *token = r->sf_token;
        *length = strlen(r->sf_token);
        return true;
    }
    return false;
}

struct token_search {
    struct server *server;
    const struct app *app;
    const char *token;
    size_t length;
    bool valid, own;
};

/* A candidate of the token's digest: compared in full, in constant time. */
static void match_token(void *context, size_t i)
{
    struct token_search *search = context;
    const struct app *candidate = &search->server->apps[i];
    if (candidate->token != NULL && same_secret(search->token, search->length, candidate->token)) {
        search->valid = true;
        search->own |= candidate == search->app;
    }
}

/* Who may reach an application: decided before it is looked up, so that the answers do not
 * tell which applications exist. No token, or one no application has: 401 (an application
 * without a token excepted: anyone may drive it). The token of another application (or of
 * none that exists): 403. 0 when allowed. */
static int authenticate(struct server *s, const char *id, const struct server_request *r,
                        struct app **out)
{
    struct app *a = find_app(s, id);
    *out = a;
    if (a != NULL && a->token == NULL)
        return 0;
    const char *token = NULL;
    size_t length = 0;
    if (!request_token(r, &token, &length))
        return 401;
    struct token_search search = {s, a, token, length, false, false};
    server_index_find(&s->by_token, token, length, match_token, &search);
    if (search.own)
        return 0;
    return search.valid ? 403 : 401;
}

/* ---- the protocol ---------------------------------------------------------------------- */

/* The application's study with a connection, under its lock; NULL (and the lock released)
 * when it is quarantined, with the 503 reply. */
static struct study *enter_app(struct server *s, struct app *a, struct store **store,
                               struct server_response *out)
{
    pthread_mutex_lock(&a->lock);
    *store = pool_take(&s->pool);
    if (a->study == NULL && open_study(s, a, *store) != 0) {
        char *detail = xasprintf("the study of %s is quarantined: %s", a->id, a->quarantine);
        respond_detail(out, 503, detail);
        free(detail);
        pool_give(&s->pool, *store);
        pthread_mutex_unlock(&a->lock);
        return NULL;
    }
    study_use_store(a->study, *store);
    return a->study;
}

static void leave_app(struct server *s, struct app *a, struct store *store)
{
    pool_give(&s->pool, store);
    pthread_mutex_unlock(&a->lock);
}

static void handle_servo(struct server *s, struct app *a, const struct server_request *r,
                         struct server_response *out)
{
    json_error_t parse_error;
    json_t *request =
        r->body ? json_loadb(r->body, r->body_length, JSON_REJECT_DUPLICATES, &parse_error) : NULL;
    if (request == NULL) {
        char *detail = r->body ? xasprintf("the body is not JSON: %s", parse_error.text)
                               : xstrdup("the body is empty: expected {\"event\": ...}");
        respond_detail(out, 400, detail);
        free(detail);
        return;
    }
    int status = 200;
    struct store *store = NULL;
    struct study *study = enter_app(s, a, &store, out);
    if (study != NULL) {
        json_t *reply = study_exchange(study, request, &status);
        app_metrics_update(s, a);
        leave_app(s, a, store);
        respond_json(out, status, reply);
    }
    json_decref(request);
}

static void handle_trials(struct server *s, struct app *a, struct server_response *out)
{
    struct store *store = NULL;
    struct study *study = enter_app(s, a, &store, out);
    if (study == NULL)
        return;
    char *error = NULL;
    if (study_refresh(study, &error) != 0) { /* another replica's changes cannot be read */
        leave_app(s, a, store);
        respond_detail(out, 503, error ? error : "the store failed");
        free(error);
        return;
    }
    app_metrics_update(s, a);
    json_t *doc = study_document(study);
    leave_app(s, a, store);
    respond_json(out, 200, doc);
}

/* Whether the store answers (and takes writes: a read-only SQLite file is not healthy). */
static void handle_health(struct server *s, struct server_response *out, bool ready)
{
    struct store *store = pool_take(&s->pool);
    char *error = NULL;
    bool ok = store_ping(store, &error) == 0;
    pool_give(&s->pool, store);
    json_t *body = json_object();
    json_object_set_new(body, "status", json_string(ok ? "ok" : "unavailable"));
    json_object_set_new(body, "store", json_string(ok ? "ok" : error));
    if (!ready)
        json_object_set_new(body, "applications", json_integer((json_int_t)s->app_count));
    free(error);
    respond_json(out, ok ? 200 : 503, body);
}

/* ---- metrics --------------------------------------------------------------------------- */

static void app_stats_free(struct app_stats *st)
{
    for (size_t i = 0; i < st->tally_count; i++)
        free(st->tallies[i].status);
    free(st->tallies);
    *st = (struct app_stats){0};
}

static void tally_add(struct app_stats *st, const char *status, unsigned long n)
{
    for (size_t i = 0; i < st->tally_count; i++) {
        if (strcmp(st->tallies[i].status, status) == 0) {
            st->tallies[i].count += n;
            return;
        }
    }
    st->tallies = xrealloc(st->tallies, (st->tally_count + 1) * sizeof *st->tallies);
    st->tallies[st->tally_count++] = (struct status_tally){xstrdup(status), n};
}

/* The trial counts by status, the best objective and whether the study is over. */
static struct app_stats app_stats_of(const struct study *study)
{
    struct app_stats st = {0};
    if (study == NULL)
        return st;
    json_t *doc = study_document(study);
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(doc, "trials"), i, t)
    {
        const char *status = json_string_value(json_object_get(t, "status"));
        tally_add(&st, status ? status : "unknown", 1);
    }
    const json_t *number = json_object_get(doc, "best");
    const json_t *best =
        json_array_get(json_object_get(doc, "trials"), (size_t)json_integer_value(number));
    st.has_best = json_is_integer(number) && json_is_number(json_object_get(best, "objective"));
    st.best = st.has_best ? json_number_value(json_object_get(best, "objective")) : 0;
    st.over = study_over(study);
    json_decref(doc);
    return st;
}

/* Keeps what a scrape shows of the application up to date when its study changed (its trial
 * count, phase or end), so that a scrape reads no study. Under the application's lock. */
static void app_metrics_update(struct server *s, struct app *a)
{
    size_t trials = a->study ? study_trial_count(a->study) : 0;
    enum study_phase phase = a->study ? study_phase(a->study) : (enum study_phase)0;
    bool over = a->study ? study_over(a->study) : false;
    if (a->metrics_rendered && trials == a->seen_trials && phase == a->seen_phase &&
        over == a->seen_over)
        return;
    struct app_stats st = app_stats_of(a->study);
    pthread_mutex_lock(&s->stats_lock);
    struct app_stats old = a->stats;
    a->stats = st;
    pthread_mutex_unlock(&s->stats_lock);
    app_stats_free(&old);
    a->seen_trials = trials;
    a->seen_phase = phase;
    a->seen_over = over;
    a->metrics_rendered = true;
}

/* metrics_labels org or none: each application's series index and the label values. */
static void metrics_groups(struct server *s)
{
    int by = s->settings->metrics_labels;
    if (by == METRICS_BY_APP)
        return;
    s->groups = xcalloc(s->app_count ? s->app_count : 1, sizeof *s->groups);
    for (size_t i = 0; i < s->app_count; i++) {
        struct app *a = &s->apps[i];
        size_t length = by == METRICS_BY_ORG ? strcspn(a->id, "/") : 0;
        size_t g = 0;
        while (g < s->group_count &&
               !(strlen(s->groups[g]) == length && strncmp(s->groups[g], a->id, length) == 0))
            g++;
        if (g == s->group_count)
            s->groups[s->group_count++] = xstrndup(a->id, length);
        a->group = g;
    }
}

/* NAME{LABEL="VALUE",status="STATUS"}, either label left out when NULL */
static void series(struct strbuf *sb, const char *name, const char *label, const char *value,
                   const char *status)
{
    strbuf_puts(sb, name);
    if (label == NULL && status == NULL) {
        strbuf_putc(sb, ' ');
        return;
    }
    strbuf_putc(sb, '{');
    if (label != NULL) {
        strbuf_printf(sb, "%s=", label);
        metric_label_value(sb, value);
    }
    if (status != NULL) {
        strbuf_puts(sb, label != NULL ? ",status=" : "status=");
        metric_label_value(sb, status);
    }
    strbuf_puts(sb, "} ");
}

static void put_app_series(struct server *s, struct strbuf *sb)
{
    metric_header(sb, "servo_optimizer_trials_total", "gauge",
                  "Trials recorded, by application and status (the baseline included).");
    for (size_t i = 0; i < s->app_count; i++) {
        const struct app_stats *st = &s->apps[i].stats;
        for (size_t k = 0; k < st->tally_count; k++) {
            series(sb, "servo_optimizer_trials_total", "app", s->apps[i].id, st->tallies[k].status);
            strbuf_printf(sb, "%lu\n", st->tallies[k].count);
        }
    }
    metric_header(sb, "servo_optimizer_best_objective", "gauge",
                  "The objective of the best feasible trial, by application.");
    for (size_t i = 0; i < s->app_count; i++) {
        if (s->apps[i].stats.has_best) {
            series(sb, "servo_optimizer_best_objective", "app", s->apps[i].id, NULL);
            strbuf_printf(sb, "%.17g\n", s->apps[i].stats.best);
        }
    }
    metric_header(sb, "servo_optimizer_study_over", "gauge",
                  "1 when the application's study is done or failed.");
    for (size_t i = 0; i < s->app_count; i++) {
        series(sb, "servo_optimizer_study_over", "app", s->apps[i].id, NULL);
        strbuf_printf(sb, "%d\n", s->apps[i].stats.over ? 1 : 0);
    }
}

/* metrics_labels org or none: the applications' figures summed per group, with no id. */
static void put_group_series(struct server *s, struct strbuf *sb)
{
    const char *label = s->settings->metrics_labels == METRICS_BY_ORG ? "org" : NULL;
    size_t n = s->group_count ? s->group_count : 1;
    struct app_stats *sums = xcalloc(n, sizeof *sums);
    unsigned long *studies = xcalloc(n, sizeof *studies), *over = xcalloc(n, sizeof *over);
    for (size_t i = 0; i < s->app_count; i++) {
        const struct app *a = &s->apps[i];
        for (size_t k = 0; k < a->stats.tally_count; k++)
            tally_add(&sums[a->group], a->stats.tallies[k].status, a->stats.tallies[k].count);
        studies[a->group]++;
        over[a->group] += a->stats.over ? 1 : 0;
    }
    metric_header(sb, "servo_optimizer_trials_total", "gauge",
                  "Trials recorded, by status (the baselines included), summed over applications.");
    for (size_t g = 0; g < s->group_count; g++) {
        for (size_t k = 0; k < sums[g].tally_count; k++) {
            series(sb, "servo_optimizer_trials_total", label, s->groups[g],
                   sums[g].tallies[k].status);
            strbuf_printf(sb, "%lu\n", sums[g].tallies[k].count);
        }
    }
    metric_header(sb, "servo_optimizer_studies", "gauge", "Applications served.");
    for (size_t g = 0; g < s->group_count; g++) {
        series(sb, "servo_optimizer_studies", label, s->groups[g], NULL);
        strbuf_printf(sb, "%lu\n", studies[g]);
    }
    metric_header(sb, "servo_optimizer_study_over", "gauge",
                  "How many of the applications' studies are done or failed.");
    for (size_t g = 0; g < s->group_count; g++) {
        series(sb, "servo_optimizer_study_over", label, s->groups[g], NULL);
        strbuf_printf(sb, "%lu\n", over[g]);
        app_stats_free(&sums[g]);
    }
    free(sums);
    free(studies);
    free(over);
}

/* Copies what requests keep up to date: no study is read, no application lock taken. */
static void handle_metrics(struct server *s, struct server_response *out)
{
    struct strbuf sb;
    strbuf_init(&sb);
    pthread_mutex_lock(&s->stats_lock);
    metric_header(&sb, "servo_optimizer_requests_total", "counter",
                  "Requests answered, by HTTP status code.");
    for (size_t i = 0; i < s->status_count; i++)
        strbuf_printf(&sb, "servo_optimizer_requests_total{code=\"%d\"} %lu\n", s->statuses[i].code,
                      s->statuses[i].count);
    if (s->settings->metrics_labels == METRICS_BY_APP)
        put_app_series(s, &sb);
    else
        put_group_series(s, &sb);
    metric_header(&sb, "servo_optimizer_request_duration_seconds", "histogram",
                  "Time to handle a request, by route (a protocol request's wait for a worker and "
                  "the scrape in progress not included).");
    for (size_t route = 0; route < ROUTE_COUNT; route++) {
        char labels[64];
        snprintf(labels, sizeof labels, "route=\"%s\"", route_names[route]);
        histogram_render(&sb, "servo_optimizer_request_duration_seconds", labels,
                         &s->route_latency[route]);
    }
    metric_header(&sb, "servo_optimizer_request_body_bytes", "gauge",
                  "Memory held by the request bodies being read or handled (max_body_memory).");
    strbuf_printf(&sb, "servo_optimizer_request_body_bytes %zu\n", atomic_load(&s->body_bytes));
    metric_header(&sb, "servo_optimizer_store_duration_seconds", "histogram",
                  "Store transactions (begin to commit or rollback) and health pings.");
    histogram_render(&sb, "servo_optimizer_store_duration_seconds", "", &s->store_latency);
    pthread_mutex_unlock(&s->stats_lock);
    out->status = 200;
    out->content_type = text_content_type;
    out->body = strbuf_detach(&sb);
}

/* ---- handling -------------------------------------------------------------------------- */

static bool method_is(const struct server_request *r, const char *method)
{
    return r->method != NULL && strcmp(r->method, method) == 0;
}

static void refuse(struct server_response *out, int status)
{
    respond_detail(out, status,
                   status == 401 ? "a valid bearer token is required"
                                 : "this token does not give access to this application");
}

static void route_app(struct server *s, enum route route, const char *id,
                      const struct server_request *r, struct server_response *out)
{
    const char *method = route == ROUTE_SERVO ? "POST" : "GET";
    struct app *a = NULL;
    int denied = 0;
    if (!method_is(r, method))
        respond_detail(out, 405, route == ROUTE_SERVO ? "use POST" : "use GET");
    else if ((denied = authenticate(s, id, r, &a)) != 0)
        refuse(out, denied);
    else if (r->too_large)
        respond_detail(out, 413, "the request is too large");
    else if (route == ROUTE_SERVO)
        handle_servo(s, a, r, out);
    else
        handle_trials(s, a, out);
}

static bool metrics_allowed(struct server *s, const struct server_request *r)
{
    const char *secret = s->settings->metrics_token;
    const char *token = NULL;
    size_t length = 0;
    return secret == NULL ||
           (request_token(r, &token, &length) && same_secret(token, length, secret));
}

int server_check_headers(struct server *s, const struct server_request *r)
{
    char id[256];
    enum route route = parse_path(r->path, id, sizeof id);
    if (route != ROUTE_SERVO && route != ROUTE_TRIALS)
        return 0;
    const char *method = route == ROUTE_SERVO ? "POST" : "GET";
    struct app *a = NULL;
    if (!method_is(r, method))
        return 405;
    return authenticate(s, id, r, &a);
}

void server_handle(struct server *s, const struct server_request *r, struct server_response *out)
{
    double started = clock_monotonic();
    memset(out, 0, sizeof *out);
    char id[256];
    enum route route = parse_path(r->path, id, sizeof id);
    switch (route) {
    case ROUTE_HEALTH:
    case ROUTE_READY:
        if (method_is(r, "GET"))
            handle_health(s, out, route == ROUTE_READY);
        else
            respond_detail(out, 405, "use GET");
        break;
    case ROUTE_METRICS:
        if (!method_is(r, "GET"))
            respond_detail(out, 405, "use GET");
        else if (!metrics_allowed(s, r))
            refuse(out, 401);
        else
            handle_metrics(s, out);
        break;
    case ROUTE_SERVO:
    case ROUTE_TRIALS:
        route_app(s, route, id, r, out);
        break;
    case ROUTE_NONE:
        respond_detail(out, 404, "not found");
        break;
    }
    count_status(s, out->status);
    double elapsed = clock_monotonic() - started;
    pthread_mutex_lock(&s->stats_lock);
    histogram_observe(&s->route_latency[route], elapsed);
    pthread_mutex_unlock(&s->stats_lock);
}

/* ---- the HTTP front (a module: http_front.h) ------------------------------------------ */

static int front_check(void *context, const struct server_request *r, struct server_response *out)
{
    struct server *s = context;
    int status = server_check_headers(s, r);
    if (status == 0)
        return 0;
    if (status == 405)
        respond_detail(out, 405, "method not allowed");
    else
        refuse(out, status);
    count_status(s, status);
    return status;
}

static void front_handle(void *context, const struct server_request *r, struct server_response *out)
{
    server_handle(context, r, out);
}

/* The protocol: it may compute a suggestion or wait on the store's lock of the application. */
static bool front_slow(void *context, const struct server_request *r)
{
    (void)context;
    char id[256];
    return parse_path(r->path, id, sizeof id) == ROUTE_SERVO;
}

static void front_log(void *context, const char *text)
{
    (void)context;
    servo_debug("HTTP: %s", text);
}

static pthread_once_t front_once = PTHREAD_ONCE_INIT;
static const struct http_front_module *front;
static char *front_error;

static void load_front(void)
{
    const struct http_front_module *m =
        module_load(HTTP_FRONT_FILE, HTTP_FRONT_ENTRY, &front_error);
    if (m != NULL && m->abi != HTTP_FRONT_ABI)
        front_error = xasprintf("%s: version %d, this servo needs %d", HTTP_FRONT_FILE, m->abi,
                                HTTP_FRONT_ABI);
    else
        front = m;
}

const struct http_front_module *http_front_load(char **error)
{
    pthread_once(&front_once, load_front);
    if (front == NULL)
        *error = xstrdup(front_error ? front_error : "cannot load the HTTP front");
    return front;
}

/* A PEM file's text, or NULL with an error naming the file. */
static char *read_pem(const char *key, const char *path, char **error)
{
    char *text = NULL;
    size_t length = 0;
    char *why = NULL;
    if (read_file(path, 1024 * 1024, &text, &length, &why) != 0) {
        *error = xasprintf("tls.%s %s: %s", key, path, why ? why : "cannot read it");
        free(why);
        return NULL;
    }
    if (strstr(text, "-----BEGIN ") == NULL || strlen(text) != length) {
        *error = xasprintf("tls.%s %s: not a PEM file", key, path);
        free(text);
        return NULL;
    }
    return text;
}

/* ---- listening ------------------------------------------------------------------------- */

int server_listen(struct server *s, const char *listen, char **error)
{
    if (listen_socket("--listen", listen, &s->listen_fd, error) != 0)
        return -1;
    const struct server_settings *set = s->settings;
    const struct tls_settings *tls = set->tls;
    s->url = listen_url(s->listen_fd, tls != NULL);
    char *cert = NULL, *key = NULL;
    const struct http_front_module *m = http_front_load(error);
    bool ok = m != NULL;
    if (ok && tls != NULL && !m->has_tls()) {
        *error = xstrdup("tls: this libmicrohttpd was built without TLS");
        ok = false;
    } else if (ok && tls != NULL) {
        ok = (cert = read_pem("cert", tls->cert, error)) != NULL &&
             (key = read_pem("key", tls->key, error)) != NULL;
    }
    if (!ok) {
        free(cert);
        free(key);
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    struct http_front_config config = {
        .listen_fd = s->listen_fd,
        .threads = (unsigned)server_thread_count(set),
        .workers = (unsigned)server_thread_count(set),
        .connection_timeout = (unsigned)servo_duration_seconds(set->connection_timeout),
        .max_connections = (unsigned)set->max_connections,
        .max_connections_per_address = (unsigned)set->max_connections_per_address,
        .max_body = s->max_body,
        .max_bodies = (size_t)set->max_body_memory,
        .body_bytes = &s->body_bytes,
        .header_memory = SERVER_HEADER_MEMORY,
        .tls_cert = cert,
        .tls_key = key,
    };
    struct http_front_callbacks callbacks = {.context = s,
                                             .check = front_check,
                                             .handle = front_handle,
                                             .slow = front_slow,
                                             .log = front_log};
    char why[256] = "";
    s->front = m->start(&config, &callbacks, why, sizeof why);
    s->front_ops = m;
    if (key != NULL)
        explicit_bzero(key, strlen(key));
    free(cert);
    free(key);
    if (s->front == NULL) {
        *error = xstrdup(why);
        close(s->listen_fd);
        s->listen_fd = -1;
        return -1;
    }
    s->listen_fd = -1; /* the front closes it */
    return 0;
}

const char *server_url(const struct server *s)
{
    return s->url ? s->url : "";
}

void server_stop(struct server *s)
{
    if (s->front != NULL) {
        s->front_ops->stop(s->front);
        s->front = NULL;
    }
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
}
