#include "support.h"

#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char scratch[PATH_MAX];

static void remove_scratch(void)
{
    char command[PATH_MAX + 16];
    if (scratch[0] == '\0')
        return;
    snprintf(command, sizeof command, "rm -rf '%s'", scratch);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
}

const char *test_scratch_dir(void)
{
    if (scratch[0] == '\0') {
        snprintf(scratch, sizeof scratch, "/tmp/servo-test-XXXXXX");
        if (mkdtemp(scratch) == NULL) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_scratch);
    }
    return scratch;
}

const char *test_write_file(const char *name, const char *text)
{
    static char *path;
    free(path);
    if (asprintf(&path, "%s/%s", test_scratch_dir(), name) < 0)
        abort();
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void test_read_line(int fd, char *line, size_t size, double seconds)
{
    size_t n = 0;
    double deadline = monotonic_seconds() + seconds;
    while (n < size - 1 && monotonic_seconds() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        if (read(fd, line + n, 1) != 1)
            break;
        if (line[n++] == '\n')
            break;
    }
    line[n] = '\0';
}

json_t *test_json(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, JSON_DECODE_ANY, &error);
    if (json == NULL)
        fail_msg("bad JSON in the test: %s: %s", error.text, text);
    return json;
}
