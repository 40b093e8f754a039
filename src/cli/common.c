#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "events/servo_runtime.h"
#include "util/util.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("servo: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_print_diags(const struct servo_diags *diags)
{
    diags_print(diags, stderr, "servo: error: ");
}

int cli_registry(struct cli *cli)
{
    if (cli->registry_ready)
        return 0;
    struct servo_diags diags;
    diags_init(&diags);
    int rc = registry_init(&cli->registry, NULL, NULL, &diags);
    cli->registry_ready = true;
    cli->failure = EXIT_FAILURE_OPERATIONAL;
    cli_print_diags(&diags);
    diags_free(&diags);
    return rc;
}

bool cli_overridden(const struct cli *cli, const char *prefix)
{
    for (size_t i = 0; i < cli->override_count; i++)
        if (strncmp(cli->overrides[i].path, prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

/* As ServoX: the optimizer flags name one optimizer, so they need one servo. */
static int refuse_optimizer_flags(struct cli *cli)
{
    if (!cli_overridden(cli, "optimizer.") || cli->servo_name != NULL || cli->assembly.count < 2)
        return 0;
    cli_error("an optimizer cannot be specified in a multi-servo configuration: %s holds %zu "
              "servos; pick one with --name, or set each servo's optimizer in the file",
              cli->config_file, cli->assembly.count);
    assembly_free(&cli->assembly);
    cli->assembly_ready = false;
    cli->failure = EXIT_USAGE;
    return -1;
}

int cli_assemble(struct cli *cli)
{
    if (cli->assembly_ready)
        return 0;
    if (cli_registry(cli) != 0)
        return -1;
    bool missing = access(cli->config_file, F_OK) != 0 && errno == ENOENT;
    struct assembly_options options = {.config_file = cli->config_file,
                                       .allow_unknown = cli->allow_unknown,
                                       .overrides = cli->overrides,
                                       .override_count = cli->override_count};
    struct servo_diags diags;
    diags_init(&diags);
    int rc = assembly_load(&cli->assembly, &cli->registry, &options, &diags);
    cli_print_diags(&diags);
    diags_free(&diags);
    if (rc == 0)
        cli->assembly_ready = true;
    cli->failure = missing ? EXIT_USAGE : EXIT_FAILURE_OPERATIONAL;
    return rc == 0 ? refuse_optimizer_flags(cli) : rc;
}

const struct servo_config *cli_selected_servo(struct cli *cli)
{
    const struct servo_config *servo = assembly_find(&cli->assembly, cli->servo_name);
    if (servo != NULL)
        return servo;
    cli->failure = EXIT_USAGE;
    if (cli->servo_name) {
        cli_error("no servo named \"%s\" in %s", cli->servo_name, cli->config_file);
    } else {
        struct strbuf sb;
        strbuf_init(&sb);
        for (size_t i = 0; i < cli->assembly.count; i++)
            strbuf_printf(&sb, "%s%s", i ? ", " : "", cli->assembly.servos[i].name);
        cli_error("%s holds %zu servos; pick one with --name (%s)", cli->config_file,
                  cli->assembly.count, sb.data ? sb.data : "");
        strbuf_release(&sb);
    }
    return NULL;
}

int cli_attach(struct cli *cli, struct servo_config **servo)
{
    if (cli_assemble(cli) != 0)
        return -1;
    const struct servo_config *selected = cli_selected_servo(cli);
    if (selected == NULL)
        return -1;
    struct servo_config *s = (struct servo_config *)selected; /* owned by cli->assembly */
    if (cli->attached != s) {
        struct servo_error error = {0};
        if (servo_attach(s, &error) != 0) {
            cli->failure = EXIT_FAILURE_OPERATIONAL;
            cli_error("%s", error.message);
            return -1;
        }
        cli->attached = s;
    }
    *servo = s;
    return 0;
}

void cli_detach(struct cli *cli)
{
    if (cli->attached) {
        servo_detach(cli->attached);
        cli->attached = NULL;
    }
}

void cli_print_event_error(const char *event, const struct servo_error *error,
                           const struct servo_error *additional, size_t additional_count)
{
    cli_error("%s %s%s%s%s: %s", event, servo_error_status(error->kind),
              error->reason[0] ? " (" : "", error->reason, error->reason[0] ? ")" : "",
              error->message);
    for (size_t i = 0; i < additional_count; i++)
        cli_error("also: %s", additional[i].message);
}

int cli_write_output(const char *path, const char *text)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        fputs(text, stdout);
        return 0;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = fputs(text, f) != EOF;
    if (fclose(f) != 0 || !ok) {
        cli_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_choice(const char *option, const char *value, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], value) == 0)
            return i;
    struct strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; choices[i]; i++)
        strbuf_printf(&sb, "%s%s", i ? ", " : "", choices[i]);
    cli_error("invalid value \"%s\" for %s (expected one of: %s)", value, option, sb.data);
    strbuf_release(&sb);
    return -1;
}

/* ---- tables ---------------------------------------------------------------------------- */

void table_init(struct table *t, size_t columns, const char *const *header)
{
    t->columns = columns;
    t->rows = 0;
    t->capacity = 0;
    t->cells = NULL;
    table_add(t, header);
}

void table_add(struct table *t, const char *const *cells)
{
    size_t needed = (t->rows + 1) * t->columns;
    if (needed > t->capacity) {
        t->capacity = needed * 2;
        t->cells = xrealloc(t->cells, t->capacity * sizeof *t->cells);
    }
    for (size_t i = 0; i < t->columns; i++)
        t->cells[t->rows * t->columns + i] = xstrdup(cells[i] ? cells[i] : "");
    t->rows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t display_width(const char *s)
{
    size_t width = 0;
    for (; *s; s++)
        width += ((unsigned char)*s & 0xC0) != 0x80;
    return width;
}

static size_t column_width(const struct table *t, size_t column)
{
    size_t width = 0;
    for (size_t r = 0; r < t->rows; r++) {
        /* multi-line cells: the widest line counts */
        const char *cell = t->cells[r * t->columns + column];
        for (const char *line = cell; line;) {
            const char *end = strchr(line, '\n');
            char *part = end ? xstrndup(line, (size_t)(end - line)) : xstrdup(line);
            size_t w = display_width(part);
            free(part);
            width = w > width ? w : width;
            line = end ? end + 1 : NULL;
        }
    }
    return width;
}

/* The n-th line of a cell ("" past the end). */
static char *cell_line(const char *cell, size_t n)
{
    for (; n > 0 && cell; n--) {
        cell = strchr(cell, '\n');
        cell = cell ? cell + 1 : NULL;
    }
    if (cell == NULL)
        return xstrdup("");
    const char *end = strchr(cell, '\n');
    return end ? xstrndup(cell, (size_t)(end - cell)) : xstrdup(cell);
}

static size_t cell_lines(const char *cell)
{
    size_t n = 1;
    for (; *cell; cell++)
        n += *cell == '\n';
    return n;
}

void table_print(const struct table *t, FILE *out)
{
    size_t *widths = xcalloc(t->columns, sizeof *widths);
    for (size_t c = 0; c < t->columns; c++)
        widths[c] = column_width(t, c);
    for (size_t r = 0; r < t->rows; r++) {
        size_t lines = 1;
        for (size_t c = 0; c < t->columns; c++) {
            size_t n = cell_lines(t->cells[r * t->columns + c]);
            lines = n > lines ? n : lines;
        }
        for (size_t l = 0; l < lines; l++) {
            struct strbuf sb;
            strbuf_init(&sb);
            for (size_t c = 0; c < t->columns; c++) {
                char *text = cell_line(t->cells[r * t->columns + c], l);
                strbuf_puts(&sb, text);
                if (c + 1 < t->columns)
                    for (size_t pad = display_width(text); pad < widths[c] + 2; pad++)
                        strbuf_putc(&sb, ' ');
                free(text);
            }
            while (sb.len > 0 && sb.data[sb.len - 1] == ' ')
                strbuf_truncate(&sb, sb.len - 1);
            fprintf(out, "%s\n", sb.data ? sb.data : "");
            strbuf_release(&sb);
        }
    }
    free(widths);
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = 0;
}
