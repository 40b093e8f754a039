/* The targets API (/api/v1/targets): parsing (a small body, so a jansson document is fine),
 * matching against the expected targets of the settings, and the connector command
 * `servo prometheus targets`, which prints POOL HEALTH URL LABELS LAST SCRAPED ERROR as
 * ServoX does (or JSON with -f json). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* ---- parsing ---------------------------------------------------------------------------- */

static char *member_text(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_string(value) ? servo_xstrdup(json_string_value(value)) : NULL;
}

static int compare_labels(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

static void parse_labels(const json_t *object, struct prom_active_target *t)
{
    if (!json_is_object(object))
        return;
    t->labels = servo_xcalloc(json_object_size(object) + 1, sizeof *t->labels);
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)object, name, value)
    {
        if (json_is_string(value))
            t->labels[t->label_count++] =
                (struct prom_label){servo_xstrdup(name), servo_xstrdup(json_string_value(value))};
    }
    qsort(t->labels, t->label_count, sizeof *t->labels, compare_labels);
}

static void parse_target(const json_t *json, struct prom_active_target *t)
{
    t->pool = member_text(json, "scrapePool");
    t->url = member_text(json, "scrapeUrl");
    t->global_url = member_text(json, "globalUrl");
    t->health = member_text(json, "health");
    t->last_error = member_text(json, "lastError");
    t->last_scrape = member_text(json, "lastScrape");
    const json_t *duration = json_object_get(json, "lastScrapeDuration");
    t->last_scrape_duration = json_is_number(duration) ? json_number_value(duration) : NAN;
    parse_labels(json_object_get(json, "labels"), t);
}

static int parse_error_response(const json_t *root, char **error)
{
    const char *type = json_string_value(json_object_get(root, "errorType"));
    const char *message = json_string_value(json_object_get(root, "error"));
    *error = servo_strdup_printf("Prometheus request failed with error '%s': %s",
                                 type ? type : "unknown", message ? message : "(no message)");
    return -1;
}

int prom_targets_parse(const char *body, size_t length, struct prom_targets *out, char **error)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(body, length, 0, &je);
    if (root == NULL) {
        *error = servo_strdup_printf("the targets response is not JSON: %s (at byte %d)", je.text,
                                     je.position);
        return -1;
    }
    const char *status = json_string_value(json_object_get(root, "status"));
    int rc = 0;
    if (status != NULL && strcmp(status, "error") == 0) {
        rc = parse_error_response(root, error);
    } else if (status == NULL || strcmp(status, "success") != 0) {
        *error = servo_xstrdup("the targets response has no \"status\": \"success\"");
        rc = -1;
    } else {
        const json_t *active = json_object_get(json_object_get(root, "data"), "activeTargets");
        size_t n = json_is_array(active) ? json_array_size(active) : 0;
        out->items = servo_xcalloc(n + 1, sizeof *out->items);
        for (size_t i = 0; i < n; i++)
            if (json_is_object(json_array_get(active, i)))
                parse_target(json_array_get(active, i), &out->items[out->count++]);
    }
    json_decref(root);
    return rc;
}

void prom_targets_free(struct prom_targets *targets)
{
    for (size_t i = 0; i < targets->count; i++) {
        struct prom_active_target *t = &targets->items[i];
        free(t->pool);
        free(t->url);
        free(t->global_url);
        free(t->health);
        free(t->last_error);
        free(t->last_scrape);
        for (size_t j = 0; j < t->label_count; j++) {
            free(t->labels[j].name);
            free(t->labels[j].value);
        }
        free(t->labels);
    }
    free(targets->items);
    memset(targets, 0, sizeof *targets);
}

int prom_targets_fetch(const struct prometheus_settings *settings, const struct servo_event *event,
                       struct prom_targets *out, const char **reason, char **error)
{
    memset(out, 0, sizeof *out);
    struct prom_request request = {.kind = PROM_REQUEST_TARGETS};
    prom_perform(settings, &request, 1, event);
    int rc = 0;
    if (request.status != 0) {
        *reason = request.reason;
        *error = request.error;
        request.error = NULL;
        rc = -1;
    } else if (prom_targets_parse(request.body, request.body_length, out, error) != 0) {
        *reason = "invalid-response";
        rc = -1;
    }
    prom_request_release(&request);
    return rc;
}

/* ---- matching --------------------------------------------------------------------------- */

static bool field_matches(const char *expected, const char *actual)
{
    return expected == NULL || (actual != NULL && strcmp(expected, actual) == 0);
}

static const char *active_label(const struct prom_active_target *t, const char *name)
{
    for (size_t i = 0; i < t->label_count; i++)
        if (strcmp(t->labels[i].name, name) == 0)
            return t->labels[i].value;
    return NULL;
}

bool prom_target_matches(const struct prometheus_target *expected,
                         const struct prom_active_target *active)
{
    if (!field_matches(expected->scrape_pool, active->pool) ||
        !field_matches(expected->scrape_url, active->url) ||
        !field_matches(expected->global_url, active->global_url))
        return false;
    char *const *values = expected->labels.values;
    for (size_t i = 0; i < expected->labels.count; i++)
        if (!field_matches(values[i], active_label(active, expected->labels.keys[i])))
            return false;
    return true;
}

/* ---- the table -------------------------------------------------------------------------- */

#define COLUMNS 6

static size_t display_width(const char *text, size_t length)
{
    size_t width = 0;
    for (size_t i = 0; i < length; i++)
        width += ((unsigned char)text[i] & 0xC0) != 0x80;
    return width;
}

/* The `line`-th line of a cell: its start, and its length in *length (0 past the end). */
static const char *cell_line(const char *cell, size_t line, size_t *length)
{
    for (; line > 0 && cell != NULL; line--) {
        cell = strchr(cell, '\n');
        cell = cell != NULL ? cell + 1 : NULL;
    }
    if (cell == NULL) {
        *length = 0;
        return "";
    }
    *length = strcspn(cell, "\n");
    return cell;
}

static size_t cell_lines(const char *cell)
{
    size_t n = 1;
    for (; *cell; cell++)
        n += *cell == '\n';
    return n;
}

static void print_row(char *const *row, const size_t *widths)
{
    size_t lines = 1;
    for (size_t c = 0; c < COLUMNS; c++)
        lines = cell_lines(row[c]) > lines ? cell_lines(row[c]) : lines;
    for (size_t l = 0; l < lines; l++) {
        struct servo_buf b = {0};
        for (size_t c = 0; c < COLUMNS; c++) {
            size_t length;
            const char *text = cell_line(row[c], l, &length);
            servo_buf_append(&b, text, length);
            if (c + 1 < COLUMNS)
                for (size_t pad = display_width(text, length); pad < widths[c] + 2; pad++)
                    servo_buf_append(&b, " ", 1);
        }
        while (b.length > 0 && b.data[b.length - 1] == ' ')
            b.data[--b.length] = '\0';
        printf("%s\n", b.data != NULL ? b.data : "");
        servo_buf_free(&b);
    }
}

static void print_table(char **cells, size_t rows)
{
    size_t widths[COLUMNS] = {0};
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < COLUMNS; c++) {
            size_t lines = cell_lines(cells[r * COLUMNS + c]);
            for (size_t l = 0; l < lines; l++) {
                size_t length;
                const char *text = cell_line(cells[r * COLUMNS + c], l, &length);
                size_t w = display_width(text, length);
                widths[c] = w > widths[c] ? w : widths[c];
            }
        }
    }
    for (size_t r = 0; r < rows; r++)
        print_row(&cells[r * COLUMNS], widths);
}

/* "2026-11-27T23:32:10.122793404Z" -> Unix seconds; -1 when it does not parse. */
static double parse_rfc3339(const char *text)
{
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL)
        return -1;
    double seconds = (double)timegm(&tm);
    if (*rest == '.')
        seconds += strtod(rest, (char **)&rest);
    if (*rest == '+' || *rest == '-') {
        int hours = 0, minutes = 0;
        if (sscanf(rest + 1, "%d:%d", &hours, &minutes) == 2)
            seconds -= (*rest == '-' ? -1 : 1) * (hours * 3600.0 + minutes * 60.0);
    }
    return seconds;
}

static char *ago(double seconds)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        return servo_strdup_printf("%.0fs ago", seconds);
    if (seconds < 7200)
        return servo_strdup_printf("%.0fm ago", seconds / 60);
    return servo_strdup_printf("%.0fh ago", seconds / 3600);
}

/* "2026-11-27 23:32:10 (3s ago in 14.361ms)" or "-". */
static char *last_scraped(const struct prom_active_target *t)
{
    double when = t->last_scrape != NULL ? parse_rfc3339(t->last_scrape) : -1;
    if (when <= 0)
        return servo_xstrdup("-");
    time_t seconds = (time_t)when;
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
    char *relative = ago((double)time(NULL) - when);
    char duration[SERVO_VALUE_TEXT_MAX] = "?";
    servo_duration d;
    if (!isnan(t->last_scrape_duration) &&
        servo_duration_from_seconds(t->last_scrape_duration, &d, NULL) == 0)
        servo_duration_format(d, duration);
    char *text = servo_strdup_printf("%s (%s in %s)", date, relative, duration);
    free(relative);
    return text;
}

static void target_cells(const struct prom_active_target *t, char **cells)
{
    cells[0] = servo_xstrdup(t->pool ? t->pool : "-");
    cells[1] = servo_xstrdup(t->health ? t->health : "-");
    if (t->global_url != NULL && t->url != NULL && strcmp(t->url, t->global_url) != 0)
        cells[2] = servo_strdup_printf("%s (%s)", t->url, t->global_url);
    else
        cells[2] = servo_xstrdup(t->url ? t->url : "-");
    struct servo_buf labels = {0};
    for (size_t i = 0; i < t->label_count; i++)
        servo_buf_printf(&labels, "%s%s=%s", i ? "\n" : "", t->labels[i].name, t->labels[i].value);
    cells[3] = servo_buf_detach(&labels);
    cells[4] = last_scraped(t);
    cells[5] = servo_xstrdup(t->last_error && t->last_error[0] ? t->last_error : "-");
}

static void print_targets_table(const struct prom_targets *targets)
{
    static const char *const header[COLUMNS] = {"POOL",   "HEALTH",       "URL",
                                                "LABELS", "LAST SCRAPED", "ERROR"};
    size_t rows = targets->count + 1;
    char **cells = servo_xcalloc(rows * COLUMNS, sizeof *cells);
    for (size_t c = 0; c < COLUMNS; c++)
        cells[c] = servo_xstrdup(header[c]);
    for (size_t i = 0; i < targets->count; i++)
        target_cells(&targets->items[i], &cells[(i + 1) * COLUMNS]);
    print_table(cells, rows);
    for (size_t i = 0; i < rows * COLUMNS; i++)
        free(cells[i]);
    free(cells);
}

static json_t *text_or_null(const char *text)
{
    return text != NULL ? json_string(text) : json_null();
}

static void print_targets_json(const struct prom_targets *targets)
{
    json_t *list = json_array();
    for (size_t i = 0; i < targets->count; i++) {
        const struct prom_active_target *t = &targets->items[i];
        json_t *labels = json_object();
        for (size_t j = 0; j < t->label_count; j++)
            json_object_set_new(labels, t->labels[j].name, json_string(t->labels[j].value));
        json_t *item = json_object();
        json_object_set_new(item, "pool", text_or_null(t->pool));
        json_object_set_new(item, "health", text_or_null(t->health));
        json_object_set_new(item, "url", text_or_null(t->url));
        json_object_set_new(item, "global_url", text_or_null(t->global_url));
        json_object_set_new(item, "labels", labels);
        json_object_set_new(item, "last_scrape", text_or_null(t->last_scrape));
        json_object_set_new(item, "last_error", text_or_null(t->last_error));
        json_array_append_new(list, item);
    }
    char *text = servo_json_text(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", text != NULL ? text : "[]");
    free(text);
    json_decref(list);
}

/* ---- the command ------------------------------------------------------------------------ */

static const char targets_usage[] =
    "[-f text|json]\n"
    "\n"
    "Display the targets Prometheus is scraping: POOL HEALTH URL LABELS LAST SCRAPED ERROR.\n"
    "\n"
    "  -f, --format FORMAT  text (default) or json\n"
    "  -h, --help           Show this message and exit\n";

static int parse_format(int argc, char **argv, bool *json)
{
    static const struct option options[] = {{"format", required_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":f:h", options, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage: servo prometheus targets %s", targets_usage);
            return -1;
        }
        if (c == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "text") == 0)) {
            *json = strcmp(optarg, "json") == 0;
            continue;
        }
        if (c == 'f')
            fprintf(stderr,
                    "servo: error: invalid value \"%s\" for --format (expected one of: "
                    "text, json)\n",
                    optarg);
        else
            fprintf(stderr, "servo: error: targets: unknown option or missing value \"%s\"\n",
                    argv[optind - 1]);
        return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "servo: error: targets: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

static int run_targets(struct servo_connector *c, int argc, char **argv)
{
    bool json = false;
    int rc = parse_format(argc, argv, &json);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    struct prom_targets targets;
    const char *reason = NULL;
    char *error = NULL;
    if (prom_targets_fetch(servo_connector_settings(c), NULL, &targets, &reason, &error) != 0) {
        fprintf(stderr, "servo: error: %s\n", error);
        free(error);
        return EXIT_FAILED;
    }
    if (json)
        print_targets_json(&targets);
    else
        print_targets_table(&targets);
    prom_targets_free(&targets);
    return 0;
}

const struct servo_command prometheus_commands[] = {
    {"targets", "Display the targets being scraped", targets_usage, run_targets},
    {NULL, NULL, NULL, NULL},
};
