// SPDX-License-Identifier: Apache-2.0
#include "util/module.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

#ifndef SERVO_MODULE_DIR
#define SERVO_MODULE_DIR "/usr/lib/servo/modules"
#endif
#ifndef SERVO_MODULE_DIR_FROM_BINDIR
#define SERVO_MODULE_DIR_FROM_BINDIR "../lib/servo/modules"
#endif

#define CANDIDATES 3

static pthread_once_t dirs_once = PTHREAD_ONCE_INIT;
static char candidate_dirs[CANDIDATES][PATH_MAX];
static int candidate_count;

/* The directory of the running executable ("" when /proc is not mounted). */
static void executable_dir(char out[PATH_MAX])
{
    ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    out[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(out, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        out[0] = '\0';
}

static bool is_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return n > 0 && strlen(path) >= n && memcmp(path, dir, n) == 0 &&
           (path[n] == '/' || path[n] == '\0');
}

static void add_candidate(const char *dir)
{
    for (int i = 0; i < candidate_count; i++)
        if (strcmp(candidate_dirs[i], dir) == 0)
            return;
    if (candidate_count < CANDIDATES && strlen(dir) < PATH_MAX)
        snprintf(candidate_dirs[candidate_count++], PATH_MAX, "%s", dir);
}

static void find_dirs(void)
{
    char exe_dir[PATH_MAX];
    executable_dir(exe_dir);
#if defined(SERVO_BUILD_DIR) && defined(SERVO_BUILD_MODULE_DIR)
    if (is_inside(exe_dir, SERVO_BUILD_DIR))
        add_candidate(SERVO_BUILD_MODULE_DIR);
#endif
    if (exe_dir[0] != '\0') {
        char relative[PATH_MAX];
        int n = snprintf(relative, sizeof relative, "%s/%s", exe_dir, SERVO_MODULE_DIR_FROM_BINDIR);
        char resolved[PATH_MAX];
        if (n > 0 && (size_t)n < sizeof relative)
            add_candidate(realpath(relative, resolved) != NULL ? resolved : relative);
    }
    add_candidate(SERVO_MODULE_DIR);
}

const char *module_dir(void)
{
    pthread_once(&dirs_once, find_dirs);
    return candidate_dirs[0];
}

/* The path of the first candidate that has the file; the first candidate's when none. */
static char *module_path(const char *file_name, bool *found)
{
    pthread_once(&dirs_once, find_dirs);
    for (int i = 0; i < candidate_count; i++) {
        char *path = xasprintf("%s/%s", candidate_dirs[i], file_name);
        if (access(path, F_OK) == 0) {
            *found = true;
            return path;
        }
        free(path);
    }
    *found = false;
    return xasprintf("%s/%s", candidate_dirs[0], file_name);
}

static char *missing_message(const char *path, const char *file_name)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "the servo module %s is not installed (no such file", path);
    for (int i = 1; i < candidate_count; i++)
        strbuf_printf(&sb, "%s %s/%s", i == 1 ? "; also looked for" : ",", candidate_dirs[i],
                      file_name);
    strbuf_puts(&sb, "): reinstall the servo");
    return strbuf_detach(&sb);
}

void *module_load(const char *file_name, const char *entry_symbol, char **error)
{
    bool found = false;
    char *path = module_path(file_name, &found);
    if (!found) {
        *error = missing_message(path, file_name);
        free(path);
        return NULL;
    }
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        *error =
            xasprintf("cannot load the servo module %s: %s", path, why ? why : "dlopen failed");
        free(path);
        return NULL;
    }
    void *entry = dlsym(handle, entry_symbol);
    if (entry == NULL) {
        *error = xasprintf("%s is not a module of this servo: it has no \"%s\" (a module of "
                           "another version?)",
                           path, entry_symbol);
        dlclose(handle);
    }
    free(path);
    return entry;
}
