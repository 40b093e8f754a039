// SPDX-License-Identifier: Apache-2.0
/* Loading the servo's own modules (module.h). */
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

#define MAX_DIRS 3

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char dirs[MAX_DIRS][PATH_MAX];
static int dir_count;

static void add_dir(const char *dir)
{
    for (int i = 0; i < dir_count; i++)
        if (strcmp(dirs[i], dir) == 0)
            return;
    if (dir_count < MAX_DIRS && strlen(dir) < PATH_MAX)
        snprintf(dirs[dir_count++], PATH_MAX, "%s", dir);
}

static void find_dirs(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
#if defined(SERVO_BUILD_DIR) && defined(SERVO_BUILD_MODULE_DIR)
    size_t build = strlen(SERVO_BUILD_DIR);
    if (strncmp(exe, SERVO_BUILD_DIR, build) == 0 && (exe[build] == '/' || exe[build] == '\0'))
        add_dir(SERVO_BUILD_MODULE_DIR);
#endif
    if (slash != NULL) {
        char relative[PATH_MAX * 2], resolved[PATH_MAX];
        snprintf(relative, sizeof relative, "%s/%s", exe, SERVO_MODULE_DIR_FROM_BINDIR);
        if (realpath(relative, resolved) != NULL)
            add_dir(resolved);
    }
    add_dir(SERVO_MODULE_DIR);
}

const char *module_dir(void)
{
    pthread_once(&once, find_dirs);
    return dirs[0];
}

void *module_load(const char *file_name, const char *entry_symbol, char **error)
{
    pthread_once(&once, find_dirs);
    char *path = NULL;
    for (int i = 0; i < dir_count && path == NULL; i++) {
        char *candidate = xasprintf("%s/%s", dirs[i], file_name);
        if (access(candidate, F_OK) == 0)
            path = candidate;
        else
            free(candidate);
    }
    if (path == NULL) {
        *error =
            xasprintf("the servo module %s is not installed (looked in %s%s%s%s%s): "
                      "reinstall the servo",
                      file_name, dirs[0], dir_count > 1 ? ", " : "", dir_count > 1 ? dirs[1] : "",
                      dir_count > 2 ? ", " : "", dir_count > 2 ? dirs[2] : "");
        return NULL;
    }
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *why = dlerror();
        *error = xasprintf("cannot load the servo module %s: %s", path, why ? why : "?");
        free(path);
        return NULL;
    }
    void *entry = dlsym(handle, entry_symbol);
    if (entry == NULL)
        *error = xasprintf("%s has no %s: a module of another servo version?", path, entry_symbol);
    free(path);
    return entry;
}
