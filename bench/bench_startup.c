// SPDX-License-Identifier: Apache-2.0
/* Runs a command RUNS times and prints, per run, its CPU time (user + system, µs), its peak
 * RSS (KiB) and its wall time (µs), from wait4(2). A small C parent, so that the child's
 * peak RSS (which counts the memory it had between fork and exec) is the command's own.
 *
 *   bench_startup RUNS COMMAND [ARGS...]      (stdout of the command goes to /dev/null) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_startup RUNS COMMAND [ARGS...]\n");
        return 2;
    }
    long runs = strtol(argv[1], NULL, 10);
    for (long i = 0; i < runs; i++) {
        double start = now_us();
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        int status = 0;
        struct rusage usage;
        if (pid < 0 || wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_startup: %s failed\n", argv[2]);
            return 1;
        }
        double wall = now_us() - start;
        double cpu = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6 +
                     (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
        printf("%.0f %ld %.0f\n", cpu, usage.ru_maxrss, wall);
    }
    return 0;
}
