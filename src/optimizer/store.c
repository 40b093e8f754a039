// SPDX-License-Identifier: Apache-2.0
/* The study store's interface (store.h): dispatch to SQLite or PostgreSQL, the rows' memory,
 * and the single-writer claim of a SQLite file. */
#include "optimizer/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "optimizer/store_impl.h"
#include "util/module.h"
#include "util/util.h"

bool store_is_pg_uri(const char *location)
{
    return strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
}

/* "scheme://..." with a scheme other than PostgreSQL's. */
static bool unknown_scheme(const char *location)
{
    const char *p = location;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    return p > location && strncmp(p, "://", 3) == 0 && !store_is_pg_uri(location);
}

bool store_location_valid(const char *location)
{
    return location != NULL && location[0] != '\0' && !unknown_scheme(location);
}

static pthread_once_t pg_once = PTHREAD_ONCE_INIT;
static const struct store_pg_module *pg_module;
static char *pg_error;

static void load_pg(void)
{
    const struct store_pg_module *m = module_load(STORE_PG_FILE, STORE_PG_ENTRY, &pg_error);
    if (m != NULL && m->abi != STORE_PG_ABI)
        pg_error =
            xasprintf("%s: version %d, this servo needs %d", STORE_PG_FILE, m->abi, STORE_PG_ABI);
    else
        pg_module = m;
}

static int store_pg_open(const char *uri, const struct store_options *options, struct store **out,
                         char **error)
{
    pthread_once(&pg_once, load_pg);
    if (pg_module == NULL) {
        *error = xstrdup(pg_error ? pg_error : "cannot load the PostgreSQL store");
        return -1;
    }
    return pg_module->open(uri, options, out, error);
}

/* A SQLite path whose directory is missing (or whose file is, when it is not to be created)
 * is named with what is missing, before SQLite's "unable to open database file". */
static int check_sqlite_path(const char *path, bool create, char **error)
{
    struct stat st;
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return 0;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return 0;
        *error = xasprintf("%s: is a directory, not a store file", path);
        return -1;
    }
    if (errno != ENOENT)
        return 0; /* SQLite says what it is */
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL
                    ? xstrdup(".")
                    : (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path)));
    int rc = 0;
    if (stat(dir, &st) != 0) {
        *error = xasprintf("%s: cannot %s the store: its directory %s does not exist (create it, "
                           "or choose another store)",
                           path, create ? "create" : "open", dir);
        rc = -1;
    } else if (!S_ISDIR(st.st_mode)) {
        *error = xasprintf("%s: cannot %s the store: %s is not a directory", path,
                           create ? "create" : "open", dir);
        rc = -1;
    } else if (!create) {
        *error = xasprintf("%s: no such store file (a servo or server creates it at its first "
                           "study)",
                           path);
        rc = -1;
    }
    free(dir);
    return rc;
}

int store_open_with(const char *location, const struct store_options *options, struct store **out,
                    char **error)
{
    *out = NULL;
    struct store_options defaults = {.create = true};
    if (options == NULL)
        options = &defaults;
    if (!store_location_valid(location)) {
        *error = xasprintf("%s: unknown kind of store (a SQLite file path, or a "
                           "postgresql:// URI)",
                           location ? location : "(none)");
        return -1;
    }
    if (store_is_pg_uri(location))
        return store_pg_open(location, options, out, error);
    if (check_sqlite_path(location, options->create, error) != 0)
        return -1;
    return store_sqlite_open(location, options, out, error);
}

int store_open(const char *location, bool create, struct store **out, char **error)
{
    struct store_options options = {.create = create};
    return store_open_with(location, &options, out, error);
}

void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

const char *store_path(const struct store *s)
{
    return s->location;
}

bool store_shared(const struct store *s)
{
    return s != NULL && s->shared;
}

void store_observe(struct store *s, store_observer observer, void *context)
{
    s->observer = observer;
    s->observer_context = context;
}

static void observe_since(struct store *s, double started)
{
    if (s->observer != NULL && started > 0)
        s->observer(s->observer_context, clock_monotonic() - started);
}

int store_ping(struct store *s, char **error)
{
    double started = clock_monotonic();
    int rc = s->ops->ping(s, error);
    observe_since(s, started);
    return rc;
}

void store_set_busy_timeout(struct store *s, int milliseconds)
{
    s->ops->set_busy_timeout(s, milliseconds);
}

int store_begin(struct store *s, char **error)
{
    double started = clock_monotonic();
    int rc = s->ops->begin(s, error);
    s->began = rc == 0 ? started : 0;
    return rc;
}

int store_commit(struct store *s, char **error)
{
    int rc = s->ops->commit(s, error);
    observe_since(s, s->began);
    s->began = 0;
    return rc;
}

void store_rollback(struct store *s)
{
    if (s == NULL)
        return;
    s->ops->rollback(s);
    observe_since(s, s->began);
    s->began = 0;
}

int store_lock_app(struct store *s, const char *id, bool *found, long long *revision, char **error)
{
    return s->ops->lock_app(s, id, found, revision, error);
}

int store_save_app(struct store *s, const struct store_app *app, char **error)
{
    return s->ops->save_app(s, app, error);
}

int store_load_app(struct store *s, const char *id, struct store_app *out, bool *found,
                   char **error)
{
    memset(out, 0, sizeof *out);
    *found = false;
    return s->ops->load_app(s, id, out, found, error);
}

int store_list_apps(struct store *s, char ***ids, size_t *count, char **error)
{
    return s->ops->list_apps(s, ids, count, error);
}

int store_save_trial(struct store *s, const char *app, const struct store_trial *t, char **error)
{
    return s->ops->save_trial(s, app, t, error);
}

int store_load_trials(struct store *s, const char *app, struct store_trial **out, size_t *count,
                      char **error)
{
    return s->ops->load_trials(s, app, out, count, error);
}

int store_delete_app(struct store *s, const char *id, bool *found, char **error)
{
    *found = false;
    return s->ops->delete_app(s, id, found, error);
}

/* ---- the rows' memory ------------------------------------------------------------------ */

void store_ids_free(char **ids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
}

void store_app_clear(struct store_app *app)
{
    free(app->id);
    free(app->config);
    free(app->objective);
    free(app->description);
    free(app->phase);
    free(app->reason);
    free(app->pending);
    free(app->last_done_uid);
    free(app->nonce);
    free(app->servo_uid);
    memset(app, 0, sizeof *app);
}

void store_trial_clear(struct store_trial *t)
{
    free(t->settings);
    free(t->metrics);
    free(t->constraints);
    free(t->status);
    free(t->reason);
    free(t->message);
    free(t->adjust_uid);
    free(t->measure_uid);
    memset(t, 0, sizeof *t);
}

void store_trials_free(struct store_trial *trials, size_t count)
{
    for (size_t i = 0; i < count; i++)
        store_trial_clear(&trials[i]);
    free(trials);
}

/* ---- the claim of a SQLite file -------------------------------------------------------- */

/* A claim is an exclusive flock(2) on PATH-holder, which holds "pid host since" of the
 * holder. flock belongs to the open file, so the kernel drops it with the process; claims of
 * one file in one process share one lock (by device and inode). */
struct store_claim {
    struct store_claim *next;
    dev_t dev;
    ino_t ino;
    int fd;
    int count;
};

static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_claim *claims;

static struct store_claim *find_claim(const struct stat *st)
{
    for (struct store_claim *c = claims; c != NULL; c = c->next)
        if (c->dev == st->st_dev && c->ino == st->st_ino)
            return c;
    return NULL;
}

static char *holder_text(int fd)
{
    char text[512];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return xstrdup("another process (it wrote no pid yet)");
    text[n] = '\0';
    text[strcspn(text, "\n")] = '\0';
    long pid = 0;
    char host[256] = "", since[64] = "";
    if (sscanf(text, "%ld %255s %63s", &pid, host, since) < 2)
        return xstrdup("another process");
    return xasprintf("pid %ld on host %s%s%s", pid, host, since[0] ? " since " : "", since);
}

static void write_holder(int fd)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "unknown");
    time_t now = time(NULL);
    struct tm tm;
    char since[64] = "";
    if (gmtime_r(&now, &tm) != NULL)
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *text = xasprintf("%ld %s %s\n", (long)getpid(), host, since);
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, strlen(text), 0) < 0) {
        /* the lock is what counts; the text only names the holder */
    }
    free(text);
}

static int claim_file(const char *location, struct store_claim **out, char **error)
{
    char *path = xasprintf("%s-holder", location);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        *error = xasprintf("%s: cannot claim the store: %s: %s", location, path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *error = xasprintf("%s: cannot claim the store: %s", location, strerror(errno));
        close(fd);
        return -1;
    }
    struct store_claim *c = find_claim(&st);
    if (c != NULL) {
        close(fd);
        c->count++;
        *out = c;
        return 0;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char *holder = errno == EWOULDBLOCK ? holder_text(fd) : xstrdup(strerror(errno));
        *error = xasprintf("%s is in use by %s: one process writes a SQLite store (stop it, or "
                           "use a PostgreSQL store for several servers)",
                           location, holder);
        free(holder);
        close(fd);
        return -1;
    }
    write_holder(fd);
    c = xcalloc(1, sizeof *c);
    *c = (struct store_claim){
        .next = claims, .dev = st.st_dev, .ino = st.st_ino, .fd = fd, .count = 1};
    claims = c;
    *out = c;
    return 0;
}

int store_claim(const char *location, struct store_claim **out, char **error)
{
    *out = NULL;
    if (location == NULL || store_is_pg_uri(location) || strcmp(location, ":memory:") == 0 ||
        location[0] == '\0')
        return 0;
    if (check_sqlite_path(location, true, error) != 0)
        return -1;
    pthread_mutex_lock(&claims_lock);
    int rc = claim_file(location, out, error);
    pthread_mutex_unlock(&claims_lock);
    return rc;
}

void store_release(struct store_claim *claim)
{
    if (claim == NULL)
        return;
    pthread_mutex_lock(&claims_lock);
    if (--claim->count == 0) {
        struct store_claim **p = &claims;
        while (*p != claim)
            p = &(*p)->next;
        *p = claim->next;
        if (ftruncate(claim->fd, 0) != 0) {
            /* a stale text names a dead holder; the lock is gone anyway */
        }
        close(claim->fd);
        free(claim);
    }
    pthread_mutex_unlock(&claims_lock);
}
