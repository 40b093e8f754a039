// SPDX-License-Identifier: Apache-2.0
/* Internal modules: shared objects of the servo itself, loaded on demand so that a command
 * which does not need a heavy library (libmicrohttpd and GnuTLS, ...) never maps it. A module
 * is linked normally against its library (dpkg-shlibdeps sees the dependency) and exports one
 * versioned entry; the core finds the file, dlopens it and takes the entry.
 *
 * Where a module is looked for, the first that has it: the build tree's module directory
 * when the running executable is in the build tree (tests, benchmarks); the installed
 * layout relative to the executable (<bindir>/../lib/servo/modules, wherever the prefix
 * moved); the configured module directory. The environment changes nothing: a module is code,
 * and only the installation decides which code runs. */
#ifndef SERVO_UTIL_MODULE_H
#define SERVO_UTIL_MODULE_H

/* The entry `entry_symbol` of module `file_name`, or NULL with *error (caller frees) naming
 * the path and why (missing, dlopen's reason, no such entry). A module is never unloaded. */
void *module_load(const char *file_name, const char *entry_symbol, char **error);

/* The directory looked in first (static storage). */
const char *module_dir(void);

#endif
