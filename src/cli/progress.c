/* Progress of long handlers: a bar on a terminal, plain log lines elsewhere. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/log.h"
#include "util/util.h"

#define BAR_WIDTH 30
#define REDRAW_SECONDS 0.1

static pthread_mutex_t bar_lock = PTHREAD_MUTEX_INITIALIZER;
static double last_draw;

static void draw_bar(const char *connector, const char *event, double percent, const char *message)
{
    int filled = (int)lround(percent / 100.0 * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r\033[K[%s] %3.0f%% %s[%s] %.60s", bar, percent, connector, event, message);
    if (percent >= 100)
        fputc('\n', stderr);
    fflush(stderr);
}

void cli_progress(void *context, const char *connector, const char *event, double percent,
                  const char *message)
{
    (void)context;
    if (!isatty(STDERR_FILENO)) {
        servo_info("%s (%.0f%% complete)", message, percent);
        return;
    }
    pthread_mutex_lock(&bar_lock);
    double now = clock_monotonic();
    if (percent >= 100 || now - last_draw >= REDRAW_SECONDS) {
        draw_bar(connector, event, percent, message);
        last_draw = now;
    }
    pthread_mutex_unlock(&bar_lock);
}

void cli_progress_done(void)
{
    if (!isatty(STDERR_FILENO))
        return;
    pthread_mutex_lock(&bar_lock);
    if (last_draw > 0)
        fputs("\r\033[K", stderr);
    last_draw = 0;
    pthread_mutex_unlock(&bar_lock);
}
