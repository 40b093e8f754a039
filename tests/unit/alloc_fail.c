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

/* The child's exit statuses; 1 is the core's out-of-memory exit. */
enum child_status {
    CHILD_DONE = 100,      /* success, the failure point was not reached */
    CHILD_RECOVERED,       /* success with the normal result, the failure was absorbed */
    CHILD_ERROR,           /* the code under test returned its error */
    CHILD_ERROR_UNFORCED,  /* an error although no allocation failed */
    CHILD_WRONG_RESULT,    /* success with a result that is not the normal one */
    CHILD_LEAK,            /* LeakSanitizer found memory nobody owns */
    CHILD_MISSED,          /* the failure was reached but the operation claims success */
    CHILD_OOM_EXIT = 1,    /* servo: error: out of memory ... (src/util/util.c) */
};

static unsigned long allocation_count;
static unsigned long fail_at; /* 0: never */
static bool failed;

/* SERVO_ALLOC_BACKTRACE=1 prints where the failing allocation was made (a failed run's
 * message then shows it). */
static void print_backtrace(void)
{
    static bool wanted_known, wanted;
    if (!wanted_known) {
        wanted = getenv("SERVO_ALLOC_BACKTRACE") != NULL;
        wanted_known = true;
    }
    if (!wanted)
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

static void run_child(unsigned long n, torture_op op, void *context)
{
    char why[512] = "";
    allocation_count = 0;
    failed = false;
    fail_at = n;
    int rc = op(context, why, sizeof why);
    fail_at = 0;
    if (why[0] != '\0')
        fprintf(stderr, "%s\n", why);
    enum child_status status;
    if (rc == 1)
        status = CHILD_WRONG_RESULT;
    else if (rc == 0)
        status = failed ? CHILD_RECOVERED : CHILD_DONE;
    else
        status = failed ? CHILD_ERROR : CHILD_ERROR_UNFORCED;
    if (status != CHILD_WRONG_RESULT && leaked())
        status = CHILD_LEAK;
    fflush(stderr);
    _exit((int)status);
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

/* Runs the operation with allocation `n` failing in a child; returns its exit status, or minus
 * the signal that ended it; *output is what it wrote on stderr. */
static int run_forked(unsigned long n, torture_op op, void *context, char **output)
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
        run_child(n, op, context);
    }
    close(fds[1]);
    *output = read_all(fds[0]);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return WEXITSTATUS(status);
}

static bool clean_oom_exit(const char *output)
{
    return strstr(output, "servo: error: out of memory allocating ") != NULL &&
           strstr(output, "Sanitizer") == NULL && strstr(output, "runtime error") == NULL;
}

/* Counts one run's outcome; a run that did not end cleanly fails the test. */
static bool judge(const char *name, unsigned long n, int status, const char *output,
                  struct torture_stats *stats)
{
    switch (status) {
    case CHILD_DONE:
        return true;
    case CHILD_ERROR:
        stats->returned_errors++;
        return false;
    case CHILD_RECOVERED:
        stats->recovered++;
        return false;
    case CHILD_OOM_EXIT:
        if (clean_oom_exit(output)) {
            stats->oom_exits++;
            return false;
        }
        break;
    default:
        break;
    }
    const char *what = status < 0                       ? "crashed (signal)"
                       : status == CHILD_ERROR_UNFORCED ? "failed although no allocation failed"
                       : status == CHILD_WRONG_RESULT   ? "succeeded with a wrong result"
                       : status == CHILD_LEAK           ? "leaked"
                                                        : "ended with an unexpected status";
    fail_msg("%s: the run failing allocation %lu %s (status %d):\n%s", name, n, what,
             status < 0 ? -status : status, output);
    return false;
}

void alloc_torture(const char *name, torture_op op, void *context, struct torture_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    double started = now();
    char *output = NULL;
    int status = run_forked(0, op, context, &output);
    if (status != CHILD_DONE)
        fail_msg("%s: the run without failure did not succeed (status %d):\n%s", name, status,
                 output);
    free(output);
    /* the count of the reference run, measured here in the parent */
    char why[512] = "";
    allocation_count = 0;
    if (op(context, why, sizeof why) != 0)
        fail_msg("%s: %s", name, why);
    stats->allocations = allocation_count;
    for (unsigned long n = 1;; n++) {
        if (n > MAX_RUNS)
            fail_msg("%s: still allocating after %d runs", name, MAX_RUNS);
        status = run_forked(n, op, context, &output);
        stats->runs++;
        bool done = judge(name, n, status, output, stats);
        free(output);
        if (done)
            break;
    }
    stats->seconds = now() - started;
    printf("alloc torture %s: %lu allocations, %lu runs: %lu returned errors, %lu out-of-memory "
           "exits, %lu recovered; %.1f s\n",
           name, stats->allocations, stats->runs, stats->returned_errors, stats->oom_exits,
           stats->recovered, stats->seconds);
}
