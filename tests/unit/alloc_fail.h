// SPDX-License-Identifier: Apache-2.0
/* Forced allocation failures for the test_alloc_* binaries (docs/testing.md).
 *
 * The hook: those binaries are linked with -Wl,--wrap=malloc,calloc,realloc,strdup,strndup,
 * so every call that the core and the connectors make to these functions (xmalloc & co. in
 * src/util/util.c and connectors/prometheus/alloc.c at the bottom) lands in alloc_fail.c;
 * jansson allocates through xmalloc (src/util/util.c), so through the same counter; SQLite
 * gets it through SQLITE_CONFIG_MALLOC. The servo binary is linked without any of it.
 *
 * The torture: alloc_torture runs an operation once to count its allocations, then again for
 * N = 1, 2, 3, ... with the Nth allocation failing, until a run no longer reaches N. A failure
 * in code that handles it must end in the error the operation returns (with a message, and no
 * leak: LeakSanitizer checks after all the runs in the ASan build) or be absorbed with the normal
 * result. A failure in the abort-style helpers (xmalloc & co.) ends the servo with
 * "servo: error: out of memory allocating N bytes" and exit status 1: there the helpers ask
 * servo_alloc_failed_hook, which notes it and has the allocation retried, so the run goes on in
 * the same process; one forked run per operation checks the real exit. A crash, a sanitizer
 * report, an error without a failure or a wrong result fails the test; so does a last run
 * without the normal result. */
#ifndef SERVO_TEST_ALLOC_FAIL_H
#define SERVO_TEST_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* Routes SQLite through the counter; call first thing in main, before SQLite is used. */
void alloc_fail_install(void);

/* The operation under torture: 0 after checking that the result is the normal one, 1 when it
 * is not (say why), -1 when the code under test returned an error (say which, after freeing
 * everything). */
typedef int (*torture_op)(void *context, char *why, size_t why_size);

struct torture_stats {
    unsigned long allocations;     /* in the run without failure */
    unsigned long runs;            /* with a failure injected */
    unsigned long returned_errors; /* the code under test returned its error */
    unsigned long oom_exits;       /* in the helpers: the servo's out-of-memory exit */
    unsigned long recovered;       /* the failure was absorbed, the result is still right */
    double seconds;
};

/* Fails the calling cmocka test on any run that does not end cleanly; prints the stats. */
void alloc_torture(const char *name, torture_op op, void *context, struct torture_stats *stats);

#endif
