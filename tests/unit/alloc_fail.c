// SPDX-License-Identifier: Apache-2.0
#include "alloc_fail.h"

#include "support.h"

#include <errno.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_FAIL_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_FAIL_LSAN 1
#endif
#endif
#ifdef ALLOC_FAIL_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* No run may allocate more than this: a loop that never ends is a failure too. */
#define MAX_RUNS 200000

static unsigned long allocation_count;
static unsigned long fail_at; /* 0: never */
static bool failed;

/* SERVO_ALLOC_BACKTRACE=N prints where allocation N is made when it fails (a failed run's
 * message names its N). */
static void print_backtrace(void)
{
    static bool known;
    static unsigned long wanted;
    if (!known) {
        const char *text = getenv("SERVO_ALLOC_BACKTRACE");
        wanted = text != NULL ? strtoul(text, NULL, 10) : 0;
        known = true;
    }
    if (wanted == 0 || allocation_count != wanted)
        return;
    void *frames[32];
    int n = backtrace(frames, 32);
    fprintf(stderr, "allocation %lu fails here:\n", allocation_count);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

static bool should_fail(void)
{
    allocation_count++;
    if (fail_at != 0 && allocation_count == fail_at) {
        failed = true;
        print_backtrace();
        return true;
    }
    return false;
}

/* ---- the hook ------------------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
char *__real_strdup(const char *text);
char *__real_strndup(const char *text, size_t length);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
char *__wrap_strdup(const char *text);
char *__wrap_strndup(const char *text, size_t length);

void *__wrap_malloc(size_t size)
{
    return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *pointer, size_t size)
{
    return should_fail() ? NULL : __real_realloc(pointer, size);
}

char *__wrap_strdup(const char *text)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strdup(text);
}

char *__wrap_strndup(const char *text, size_t length)
{
    if (should_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_strndup(text, length);
}

static sqlite3_mem_methods sqlite_default;

static void *sqlite_malloc(int size)
{
    return should_fail() ? NULL : sqlite_default.xMalloc(size);
}

static void *sqlite_realloc(void *pointer, int size)
{
    return should_fail() ? NULL : sqlite_default.xRealloc(pointer, size);
}

void alloc_fail_install(void)
{
    sqlite3_mem_methods methods;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
        abort();
    methods = sqlite_default;
    methods.xMalloc = sqlite_malloc;
    methods.xRealloc = sqlite_realloc;
    /* SQLite's lookaside buffers are carved out of one allocation at open: without them every
     * small allocation goes through xMalloc and can fail */
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK)
        abort();
}

/* ---- the helpers' out-of-memory exit ------------------------------------------------------ */

static bool retry_helpers = true;
static bool helper_failed;

/* Called by xmalloc & co. (src/util/util.c) when their allocation returned NULL: an injected
 * failure is noted and retried once, so the run goes on as if it had ended in the helpers'
 * out-of-memory exit; a real one (or in the forked check of that exit) is not retried. */
bool servo_alloc_failed_hook(size_t size)
{
    (void)size;
    if (!retry_helpers || !failed || helper_failed)
        return false;
    helper_failed = true;
    return true;
}

/* ---- the torture ------------------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool leaked(void)
{
#ifdef ALLOC_FAIL_LSAN
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return false;
#endif
}

/* One run of the operation with allocation `n` failing (0: none). */
static int run(unsigned long n, torture_op op, void *context, char *why, size_t size)
{
    why[0] = '\0';
    allocation_count = 0;
    failed = helper_failed = false;
    fail_at = n;
    int rc = op(context, why, size);
    fail_at = 0;
    return rc;
}

/* Everything the child wrote to `fd` until it closed it. */
static char *read_all(int fd)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            fwrite(chunk, 1, (size_t)n, out);
    fclose(out);
    return text;
}

/* The helpers' real out-of-memory exit, once per operation: in a child, allocation `n` (one of
 * the helpers') fails without a retry; the child must print the message and exit with 1. */
static void check_exit(const char *name, unsigned long n, torture_op op, void *context)
{
    int fds[2];
    if (pipe(fds) != 0)
        fail_msg("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        retry_helpers = false;
        char why[512];
        run(n, op, context, why, sizeof why);
        _exit(100); /* not reached: the helper ended the process */
    }
    close(fds[1]);
    char *output = read_all(fds[0]);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAILURE &&
                 strstr(output, "servo: error: out of memory allocating ") != NULL &&
                 strstr(output, "Sanitizer") == NULL && strstr(output, "runtime error") == NULL;
    if (!clean)
        fail_msg("%s: failing allocation %lu did not end in the out-of-memory exit (status "
                 "%d):\n%s",
                 name, n, status, output);
    free(output);
}

/* Judges the run that failed allocation `n`; returns false once a run no longer reached it. */
static bool judge(const char *name, unsigned long n, int rc, const char *why,
                  struct torture_stats *stats)
{
    if (!failed) {
        if (rc != 0)
            fail_msg("%s: the run past the last allocation (%lu) failed: %s", name, n, why);
        return false;
    }
    if (rc == 1)
        fail_msg("%s: failing allocation %lu gave a wrong result: %s", name, n, why);
    if (helper_failed) {
        /* the process would have ended there; after the retry, the run must be the normal one
         * (whose leaks the run without failure checked) */
        if (rc != 0)
            fail_msg("%s: failing allocation %lu (retried) then failed: %s", name, n, why);
        stats->oom_exits++;
        return true;
    }
    if (rc == 0) {
        stats->recovered++;
    } else {
        if (why[0] == '\0')
            fail_msg("%s: failing allocation %lu returned an error without a message", name, n);
        stats->returned_errors++;
    }
    return true;
}

void alloc_torture(const char *name, torture_op op, void *context, struct torture_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    double started = now();
    char why[512];
    if (run(0, op, context, why, sizeof why) != 0)
        fail_msg("%s: the run without failure did not succeed: %s", name, why);
    stats->allocations = allocation_count;
    if (leaked())
        fail_msg("%s: the run without failure leaked", name);
    unsigned long first_exit = 0;
    for (unsigned long n = 1;; n++) {
        if (n > MAX_RUNS)
            fail_msg("%s: still allocating after %d runs", name, MAX_RUNS);
        int rc = run(n, op, context, why, sizeof why);
        stats->runs++;
        if (helper_failed && first_exit == 0)
            first_exit = n;
        if (!judge(name, n, rc, why, stats))
            break;
    }
    /* Leaked memory stays unreachable: one check after all the runs finds what any of them
     * leaked, and LeakSanitizer's report gives the stack of each leaked allocation. (A check
     * after each run would name N, but it stops the world each time: minutes under ASan.) */
    if (leaked())
        fail_msg("%s: a run with a failed allocation leaked (LeakSanitizer's report above)", name);
    if (first_exit != 0)
        check_exit(name, first_exit, op, context);
    stats->seconds = now() - started;
    printf("alloc torture %s: %lu allocations, %lu runs: %lu returned errors, %lu out-of-memory "
           "exits, %lu recovered; %.1f s\n",
           name, stats->allocations, stats->runs, stats->returned_errors, stats->oom_exits,
           stats->recovered, stats->seconds);
}
