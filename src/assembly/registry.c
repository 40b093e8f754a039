#include "assembly/registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assembly/builtins.h"
#include "config/settings.h"
#include "util/util.h"

/* The leading members every ABI version shares; a plugin struct must be at least this big. */
#define PLUGIN_MIN_SIZE offsetof(struct servo_connector_plugin, reserved)

static bool valid_connector_name(const char *name)
{
    if (name == NULL || name[0] < 'a' || name[0] > 'z')
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return strlen(name) <= 64;
}

static const char *origin_name(const char *origin)
{
    return origin ? origin : "built-in";
}

int registry_add(struct registry *r, const struct servo_connector_plugin *plugin,
                 const char *origin, struct servo_diags *diags)
{
    const char *where = origin_name(origin);
    if (plugin == NULL) {
        diag_add(diags, where, 0, 0, "", "the plugin declares a NULL connector");
        return -1;
    }
    if (plugin->abi_version != SERVO_ABI_VERSION) {
        diag_add(diags, where, 0, 0, "",
                 "connector built for plugin ABI %u, but this servo has ABI %u: rebuild it "
                 "against the installed headers",
                 plugin->abi_version, SERVO_ABI_VERSION);
        return -1;
    }
    if (plugin->struct_size < PLUGIN_MIN_SIZE) {
        diag_add(diags, where, 0, 0, "", "connector struct is too small (%u bytes)",
                 plugin->struct_size);
        return -1;
    }
    if (!valid_connector_name(plugin->name) || plugin->class_name == NULL ||
        plugin->class_name[0] == '\0' || plugin->settings == NULL ||
        plugin->settings->fields == NULL) {
        diag_add(diags, where, 0, 0, "",
                 "connector needs a lower-case name ([a-z][a-z0-9_]*), a class name and a "
                 "settings table");
        return -1;
    }
    const struct registry_entry *existing = registry_find(r, plugin->name);
    if (existing == NULL)
        existing = registry_find(r, plugin->class_name);
    if (existing != NULL) {
        diag_add(diags, where, 0, 0, "",
                 "connector \"%s\" (%s) is refused: the name is already provided by %s",
                 plugin->name, plugin->class_name, origin_name(existing->origin));
        return -1;
    }
    struct servo_diags table;
    diags_init(&table);
    if (settings_check_schema(plugin->settings, &table) != 0) {
        for (size_t i = 0; i < table.count; i++)
            diag_add(diags, where, 0, 0, table.items[i].path,
                     "connector \"%s\" has a broken settings table: %s", plugin->name,
                     table.items[i].message);
        diags_free(&table);
        return -1;
    }
    diags_free(&table);
    xgrow((void **)&r->entries, sizeof *r->entries, r->count, &r->capacity);
    r->entries[r->count++] =
        (struct registry_entry){.plugin = plugin, .origin = origin ? xstrdup(origin) : NULL};
    return 0;
}

static int load_shared_object(struct registry *r, const char *path, struct servo_diags *diags);

static bool already_loaded(const struct registry *r, const char *path)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->entries[i].origin && strcmp(r->entries[i].origin, path) == 0)
            return true;
    return false;
}

/* Why `path` (resolved: no symbolic links) cannot be trusted with code, or NULL when it can:
 * as sshd's StrictModes, it and every directory above it must be owned by root or by us, and
 * writable by no one else. A sticky directory (/tmp) is the exception: others cannot replace
 * what we own in it. `what` receives the path that failed (static). */
static const char *untrusted_reason(const char *path, const char **what)
{
    static char failed[4096];
    snprintf(failed, sizeof failed, "%s", path);
    *what = failed;
    uid_t me = geteuid();
    for (bool first = true;; first = false) {
        struct stat st;
        if (stat(failed, &st) != 0)
            return strerror(errno);
        if (st.st_uid != 0 && st.st_uid != me)
            return first ? "it is owned by another user"
                         : "a directory above it is owned by "
                           "another user";
        bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) && !first;
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !sticky_dir)
            return first ? "it is writable by group or others"
                         : "a directory above it is writable by group or others";
        char *slash = strrchr(failed, '/');
        if (slash == NULL || strcmp(failed, "/") == 0)
            return NULL;
        if (slash == failed)
            slash[1] = '\0'; /* up to "/" */
        else
            *slash = '\0';
    }
}

static int refuse_untrusted(const char *path, const char *kind, struct servo_diags *diags)
{
    const char *what = NULL;
    const char *reason = untrusted_reason(path, &what);
    if (reason == NULL)
        return 0;
    if (strcmp(what, path) == 0)
        diag_add(diags, path, 0, 0, "", "refusing the %s: %s", kind, reason);
    else
        diag_add(diags, path, 0, 0, "", "refusing the %s: %s (%s)", kind, reason, what);
    return -1;
}

int registry_load_plugin(struct registry *r, const char *path, struct servo_diags *diags)
{
    /* A path that does not resolve is an error here: handed to dlopen, a name without a
     * slash would be looked up on the library search path instead. */
    char *resolved = realpath(path, NULL);
    if (resolved == NULL) {
        diag_add(diags, path, 0, 0, "", "cannot load plugin: %s", strerror(errno));
        return -1;
    }
    if (refuse_untrusted(resolved, "plugin", diags) != 0) {
        free(resolved);
        return -1;
    }
    if (already_loaded(r, resolved)) {
        free(resolved); /* the same file reached twice, e.g. via SERVO_PLUGIN_PATH too */
        return 0;
    }
    int rc = load_shared_object(r, resolved, diags);
    free(resolved);
    return rc;
}

static int load_shared_object(struct registry *r, const char *path, struct servo_diags *diags)
{
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        diag_add(diags, path, 0, 0, "", "cannot load plugin: %s", dlerror());
        return -1;
    }
    const struct servo_plugin_manifest *manifest = dlsym(handle, SERVO_PLUGIN_SYMBOL);
    if (manifest == NULL) {
        diag_add(diags, path, 0, 0, "",
                 "not a servo plugin: no \"%s\" symbol (declare it with SERVO_DECLARE_PLUGIN)",
                 SERVO_PLUGIN_SYMBOL);
        dlclose(handle);
        return -1;
    }
    if (manifest->abi_version != SERVO_ABI_VERSION) {
        diag_add(diags, path, 0, 0, "",
                 "plugin built for plugin ABI %u, but this servo has ABI %u: rebuild it "
                 "against the installed headers",
                 manifest->abi_version, SERVO_ABI_VERSION);
        dlclose(handle);
        return -1;
    }
    if (manifest->count > 0 && manifest->connectors == NULL) {
        diag_add(diags, path, 0, 0, "",
                 "plugin manifest declares %u connector(s) but no connector list", manifest->count);
        dlclose(handle);
        return -1;
    }
    size_t before = r->count;
    int rc = 0;
    for (uint32_t i = 0; i < manifest->count; i++)
        if (registry_add(r, manifest->connectors[i], path, diags) != 0)
            rc = -1;
    if (r->count == before) {
        dlclose(handle);
        return rc;
    }
    xgrow((void **)&r->handles, sizeof *r->handles, r->handle_count, &r->handle_capacity);
    r->handles[r->handle_count++] = handle;
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.so in `dir`, in name order, so loading is deterministic. */
static int load_directory(struct registry *r, const char *dir, bool must_exist,
                          struct servo_diags *diags)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (!must_exist)
            return 0;
        diag_add(diags, dir, 0, 0, "", "cannot open the plugin directory: %s", strerror(errno));
        return -1;
    }
    char *resolved = realpath(dir, NULL);
    int trusted = resolved ? refuse_untrusted(resolved, "plugin directory", diags) : 0;
    free(resolved);
    if (trusted != 0) {
        closedir(d);
        return -1;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || !str_ends_with(e->d_name, ".so"))
            continue;
        xgrow((void **)&names, sizeof *names, count, &capacity);
        names[count++] = xasprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (count > 1) /* names is NULL for an empty directory, and qsort's base must not be */
        qsort(names, count, sizeof *names, compare_names);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        if (registry_load_plugin(r, names[i], diags) != 0)
            rc = -1;
        free(names[i]);
    }
    free(names);
    return rc;
}

static int load_path_entry(struct registry *r, const char *entry, struct servo_diags *diags)
{
    struct stat st;
    if (stat(entry, &st) != 0) {
        diag_add(diags, entry, 0, 0, "", "SERVO_PLUGIN_PATH names a path that does not exist");
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return load_directory(r, entry, true, diags);
    return registry_load_plugin(r, entry, diags);
}

int registry_init(struct registry *r, const char *plugin_path, const char *plugin_dir,
                  struct servo_diags *diags)
{
    memset(r, 0, sizeof *r);
    int rc = 0;
    for (size_t i = 0; servo_builtin_connectors[i] != NULL; i++)
        if (registry_add(r, servo_builtin_connectors[i], NULL, diags) != 0)
            rc = -1;
    if (plugin_path == NULL)
        plugin_path = getenv("SERVO_PLUGIN_PATH");
    if (plugin_path != NULL && plugin_path[0]) {
        char *copy = xstrdup(plugin_path), *save = NULL;
        for (char *entry = strtok_r(copy, ":", &save); entry; entry = strtok_r(NULL, ":", &save))
            if (load_path_entry(r, entry, diags) != 0)
                rc = -1;
        free(copy);
    }
    if (plugin_dir == NULL)
        plugin_dir = SERVO_PLUGIN_DIR;
    if (plugin_dir[0] && load_directory(r, plugin_dir, false, diags) != 0)
        rc = -1;
    return rc;
}

void registry_free(struct registry *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->entries[i].origin);
    free(r->entries);
    for (size_t i = 0; i < r->handle_count; i++)
        dlclose(r->handles[i]);
    free(r->handles);
    memset(r, 0, sizeof *r);
}

const struct registry_entry *registry_find(const struct registry *r, const char *identifier)
{
    for (size_t i = 0; i < r->count; i++) {
        const struct servo_connector_plugin *p = r->entries[i].plugin;
        if (strcmp(p->name, identifier) == 0 || strcmp(p->class_name, identifier) == 0)
            return &r->entries[i];
    }
    return NULL;
}
