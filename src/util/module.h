// SPDX-License-Identifier: Apache-2.0
/* Internal modules: shared objects of the servo itself, loaded on demand so that a command
 * which does not need a heavy library (libcurl, libmicrohttpd) never maps it. A module is
 * linked normally against its library (so dpkg-shlibdeps sees the dependency) and exports one
 * versioned entry function; the core finds it, dlopens it and calls the entry.
 *
 * Where a module is looked for, first match wins:
 *   1. the build tree's module directory, when the running executable lives in the build tree
 *      (tests, benchmarks, a servo run from build/);
 *   2. <the executable's directory>/<the module directory relative to bindir>: the installed
 *      layout (${libdir}/servo/modules), wherever the prefix was moved;
 *   3. the configured module directory (an absolute path), for an executable copied away.
 * Nothing from the environment changes this: a module is code, and only the installation
 * decides which code runs. */
#ifndef SERVO_UTIL_MODULE_H
#define SERVO_UTIL_MODULE_H

/* Loads `file_name` (e.g. "servo-http-curl.so") and returns its `entry_symbol`, or NULL with
 * *error (caller frees) naming the path and what went wrong: the file is missing (and where
 * else it was looked for), dlopen failed (its reason: a missing library, ...), or the module
 * lacks the symbol (a module of another servo version). A module is never unloaded; loading
 * the same one twice returns the same entry. Call it once per module (pthread_once). */
void *module_load(const char *file_name, const char *entry_symbol, char **error);

/* The directory module_load looks in first (build tree or installed layout); static
 * storage. For `servo version -v` and messages. */
const char *module_dir(void);

#endif
