#include "events/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "events/bus.h"
#include "util/util.h"

#define DEFAULT_MAX_OUTPUT (16u * 1024u * 1024u)
#define STDERR_KEEP (64u * 1024u)
#define KILL_GRACE_SECONDS 2.0
#define DRAIN_SECONDS 2.0

extern char **environ;

struct child {
    pid_t pid;
    int in, out, err; /* our ends; -1 when closed */
    const char *input;
    size_t input_left;
    bool exited;
    int status;
    struct strbuf output;
    size_t line_start; /* first byte of output not yet passed to on_line */
    struct strbuf errors;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The servo's own configuration, secrets included (OPSANI_TOKEN, SERVO_OPTIMIZER_TOKEN,
 * SERVO_<INSTANCE>_<FIELD> overrides of passwords): not a child's business. */
static bool servo_own_variable(const char *entry)
{
    return strncmp(entry, "OPSANI_", 7) == 0 || strncmp(entry, "SERVO_", 6) == 0;
}

/* environ, but the servo's own variables, plus the extra NAME=VALUE entries (which win). */
static char **build_environment(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **envp = xcalloc(n + m + 1, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_length = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < m && !overridden; j++)
            overridden =
                strncmp(extra[j], environ[i], name_length) == 0 && extra[j][name_length] == '=';
        if (!overridden && !servo_own_variable(environ[i]))
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        envp[k++] = (char *)extra[j];
    return envp;
}

/* ---- children and what they leave behind --------------------------------------------------
 * The servo is a child subreaper: what a command leaves behind (a `setsid` daemon, say) is
 * reparented to the servo when the command's shell exits, not to init, and is killed when the
 * command is done. Each child gets SIGKILL should the servo die (PR_SET_PDEATHSIG). */

static pthread_once_t subreaper_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t children_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *children; /* the commands' shells now running */
static size_t children_count, children_capacity;

static void become_subreaper(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Called with children_lock held. */
static void track_child(pid_t pid)
{
    xgrow((void **)&children, sizeof *children, children_count, &children_capacity);
    children[children_count++] = pid;
}

static void untrack_child(pid_t pid)
{
    pthread_mutex_lock(&children_lock);
    for (size_t i = 0; i < children_count; i++)
        if (children[i] == pid)
            children[i] = children[--children_count];
    pthread_mutex_unlock(&children_lock);
}

/* Called with children_lock held. */
static bool tracked_child(pid_t pid)
{
    for (size_t i = 0; i < children_count; i++)
        if (children[i] == pid)
            return true;
    return false;
}

static pid_t parent_of(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    const char *end = strrchr(text, ')'); /* the name may hold anything */
    int ppid = 0;
    char state;
    if (end == NULL || sscanf(end + 1, " %c %d", &state, &ppid) != 2)
        return 0;
    return (pid_t)ppid;
}

/* Kills and reaps the processes adopted from commands (ours, but no command's shell). */
static void kill_adopted(void)
{
    DIR *proc = opendir("/proc");
    if (proc == NULL)
        return;
    pid_t me = getpid();
    pthread_mutex_lock(&children_lock); /* no command starts meanwhile */
    for (struct dirent *e; (e = readdir(proc)) != NULL;) {
        char *end = NULL;
        long pid = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || parent_of((pid_t)pid) != me ||
            tracked_child((pid_t)pid))
            continue;
        kill((pid_t)-pid, SIGKILL); /* a setsid leader's own group */
        kill((pid_t)pid, SIGKILL);
        while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&children_lock);
    closedir(proc);
}

struct child_setup {
    const struct servo_process *p;
    int in, out, err;
    char **envp;
    pid_t parent;
    int report; /* CLOEXEC pipe: the errno of a failed set-up or exec */
};

/* In the child, between fork and exec: async-signal-safe calls only. */
static _Noreturn void exec_child(const struct child_setup *s)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != s->parent) /* the servo died before the line above */
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = s->in >= 0 ? s->in : open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(s->out, STDOUT_FILENO) < 0 ||
        dup2(s->err, STDERR_FILENO) < 0 || (s->p->working_dir && chdir(s->p->working_dir) != 0)) {
        int e = errno;
        (void)!write(s->report, &e, sizeof e);
        _exit(127);
    }
    char *argv[] = {"sh", "-c", (char *)s->p->command, NULL};
    execve("/bin/sh", argv, s->envp);
    int e = errno;
    (void)!write(s->report, &e, sizeof e);
    _exit(127);
}

/* fork, then exec_child; returns 0 or an errno. */
static int fork_child(struct child_setup *s, pid_t *pid)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0)
        return errno;
    s->report = report[1];
    s->parent = getpid();
    *pid = fork();
    if (*pid == 0)
        exec_child(s);
    int rc = *pid < 0 ? errno : 0;
    close(report[1]);
    if (rc == 0) {
        int e = 0;
        ssize_t n;
        while ((n = read(report[0], &e, sizeof e)) < 0 && errno == EINTR)
            ;
        if (n == (ssize_t)sizeof e) {
            while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
            rc = e;
        }
    }
    close(report[0]);
    return rc;
}

static int spawn_child(const struct servo_process *p, struct child *c, struct servo_error *e)
{
    pthread_once(&subreaper_once, become_subreaper);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        (p->input && pipe2(in, O_CLOEXEC) != 0)) {
        int saved = errno;
        for (int i = 0; i < 2; i++) {
            close_fd(&in[i]);
            close_fd(&out[i]);
            close_fd(&err[i]);
        }
        return servo_error_set(e, SERVO_ERROR_FAILED, "", "cannot create pipes: %s",
                               strerror(saved));
    }
    struct child_setup setup = {.p = p,
                                .in = in[0],
                                .out = out[1],
                                .err = err[1],
                                .envp = build_environment(p->environment)};
    pthread_mutex_lock(&children_lock); /* a scan for adopted processes waits for the pid */
    int rc = fork_child(&setup, &c->pid);
    if (rc == 0)
        track_child(c->pid);
    pthread_mutex_unlock(&children_lock);
    free(setup.envp);
    close(out[1]);
    close(err[1]);
    if (in[0] >= 0)
        close(in[0]);
    c->out = out[0];
    c->err = err[0];
    c->in = in[1];
    if (rc != 0) {
        close_fd(&c->out);
        close_fd(&c->err);
        close_fd(&c->in);
        return servo_error_set(e, SERVO_ERROR_FAILED, "", "cannot start \"%s\": %s", p->command,
                               strerror(rc));
    }
    if (c->in >= 0)
        fcntl(c->in, F_SETFL, fcntl(c->in, F_GETFL) | O_NONBLOCK);
    return 0;
}

static void emit_lines(struct child *c, const struct servo_process *p)
{
    if (p->on_line == NULL)
        return;
    /* (nothing read yet: data may still be NULL) */
    while (c->line_start < c->output.len) {
        char *start = c->output.data + c->line_start;
        char *newline = memchr(start, '\n', c->output.len - c->line_start);
        if (newline == NULL)
            return;
        *newline = '\0';
        p->on_line(p->context, start);
        *newline = '\n';
        c->line_start = (size_t)(newline - c->output.data) + 1;
    }
}

static void keep_tail(struct strbuf *sb)
{
    if (sb->len <= 2 * STDERR_KEEP)
        return;
    memmove(sb->data, sb->data + sb->len - STDERR_KEEP, STDERR_KEEP);
    strbuf_truncate(sb, STDERR_KEEP);
}

/* Reads what is there; returns false at EOF. */
static bool drain(int fd, struct strbuf *sb)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return false;
    strbuf_add(sb, chunk, (size_t)n);
    return true;
}

/* Writing to a child that closed its stdin raises SIGPIPE, whose default action would end the
 * servo: block it in this thread for the write and take back the one the write raised (unless
 * one was already pending), so that only EPIPE remains. */
static ssize_t write_no_sigpipe(int fd, const void *data, size_t length)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t n = write(fd, data, length);
    int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return n;
}

static void feed_input(struct child *c)
{
    ssize_t n = write_no_sigpipe(c->in, c->input, c->input_left);
    if (n > 0) {
        c->input += n;
        c->input_left -= (size_t)n;
    }
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || c->input_left == 0)
        close_fd(&c->in);
}

/* Notices the leader's exit without reaping it first: while it is a zombie its pid, which is
 * the group's id, cannot be reused, so whatever it left behind in the group is killed then,
 * safely; only after that is it reaped. */
static void reap(struct child *c, bool block)
{
    if (c->exited)
        return;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int rc;
    do
        rc = waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
    while (rc < 0 && errno == EINTR);
    if (rc != 0 || info.si_pid != c->pid)
        return;
    kill(-c->pid, SIGKILL);
    pid_t pid;
    do
        pid = waitpid(c->pid, &c->status, 0);
    while (pid < 0 && errno == EINTR);
    c->exited = true;
}

/* TERM to the group; KILL if the leader has not exited after the grace period. */
static void kill_group(struct child *c)
{
    kill(-c->pid, SIGTERM);
    double until = clock_monotonic() + KILL_GRACE_SECONDS;
    while (!c->exited && clock_monotonic() < until) {
        reap(c, false);
        if (!c->exited)
            usleep(10000);
    }
    if (!c->exited)
        kill(-c->pid, SIGKILL);
    reap(c, true);
}

static void poll_once(struct child *c, const struct servo_process *p, size_t max_output)
{
    struct pollfd fds[3];
    nfds_t n = 0;
    if (c->out >= 0)
        fds[n++] = (struct pollfd){.fd = c->out, .events = POLLIN};
    if (c->err >= 0)
        fds[n++] = (struct pollfd){.fd = c->err, .events = POLLIN};
    if (c->in >= 0)
        fds[n++] = (struct pollfd){.fd = c->in, .events = POLLOUT};
    if (n == 0) {
        usleep(20000);
        return;
    }
    if (poll(fds, n, 50) <= 0)
        return;
    for (nfds_t i = 0; i < n; i++) {
        if (fds[i].revents == 0)
            continue;
        if (fds[i].fd == c->in) {
            feed_input(c);
        } else if (fds[i].fd == c->out) {
            if (!drain(c->out, &c->output))
                close_fd(&c->out);
            if (c->output.len <= max_output)
                emit_lines(c, p);
        } else if (!drain(c->err, &c->errors)) {
            close_fd(&c->err);
        } else {
            keep_tail(&c->errors);
        }
    }
}

static void finish_result(struct child *c, size_t max_output, struct servo_process_result *r)
{
    r->exit_code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
    r->signal = WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0;
    if (c->output.len > max_output) {
        r->output_overflow = true;
        strbuf_truncate(&c->output, max_output);
    }
    r->output_length = c->output.len;
    r->output = strbuf_detach(&c->output);
    if (c->errors.len > STDERR_KEEP) {
        memmove(c->errors.data, c->errors.data + c->errors.len - STDERR_KEEP, STDERR_KEEP);
        strbuf_truncate(&c->errors, STDERR_KEEP);
    }
    r->errors_length = c->errors.len;
    r->errors = strbuf_detach(&c->errors);
}

int process_run(struct cancel_token *token, const struct servo_process *p,
                struct servo_process_result *r, struct servo_error *error)
{
    memset(r, 0, sizeof *r);
    struct child c = {.in = -1,
                      .out = -1,
                      .err = -1,
                      .input = p->input,
                      .input_left = p->input ? p->input_length : 0};
    strbuf_init(&c.output);
    strbuf_init(&c.errors);
    if (spawn_child(p, &c, error) != 0)
        return -1;
    size_t max_output = p->max_output ? p->max_output : DEFAULT_MAX_OUTPUT;
    double deadline = p->timeout > 0 ? clock_monotonic() + servo_duration_seconds(p->timeout) : 0;
    while (!c.exited || c.out >= 0 || c.err >= 0) {
        poll_once(&c, p, max_output);
        reap(&c, false);
        /* (a command that exits past the limit has overflowed too: see finish_result) */
        bool overflow = c.output.len > max_output;
        bool timed_out =
            (deadline > 0 && clock_monotonic() > deadline) || (token && cancel_expired(token));
        bool cancelled = token && cancel_requested(token);
        if (!c.exited && (overflow || timed_out || cancelled)) {
            r->output_overflow = overflow;
            r->timed_out = timed_out && !overflow && !cancelled;
            r->cancelled = cancelled && !overflow;
            kill_group(&c);
        }
        if (c.exited) {
            /* The leader is gone and whatever it left behind died with the group (reap):
             * the pipes they held close. */
            double until = clock_monotonic() + DRAIN_SECONDS;
            while ((c.out >= 0 || c.err >= 0) && clock_monotonic() < until)
                poll_once(&c, p, max_output);
            close_fd(&c.out);
            close_fd(&c.err);
        }
    }
    close_fd(&c.in);
    untrack_child(c.pid);
    kill_adopted();
    finish_result(&c, max_output, r);
    return 0;
}

int servo_event_run(const struct servo_event *event, const struct servo_process *process,
                    struct servo_process_result *result, struct servo_error *error)
{
    struct cancel_token *token = event ? bus_event_token(event) : NULL;
    return process_run(token, process, result, error);
}

void servo_process_result_free(struct servo_process_result *result)
{
    free(result->output);
    free(result->errors);
    memset(result, 0, sizeof *result);
}
