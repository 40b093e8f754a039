/* The study report: HTML with inline CSS and SVG charts (report.h). */
#include "optimizer/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

#define CHART_WIDTH 880
#define CHART_HEIGHT 320
#define SMALL_WIDTH 420
#define SMALL_HEIGHT 260
#define MARGIN_LEFT 70
#define MARGIN_RIGHT 20
#define MARGIN_TOP 20
#define MARGIN_BOTTOM 46
#define TICKS 5

static const char style[] =
    "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;"
    "color:#1d2733;background:#f6f8fa}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
    ".summary{background:#fff;border:1px solid #d7dee6;border-radius:6px;padding:12px 16px}"
    ".summary dt{font-weight:600;float:left;clear:left;width:170px}"
    ".summary dd{margin:0 0 4px 180px}"
    ".grid{display:flex;flex-wrap:wrap;gap:12px}"
    "svg{background:#fff;border:1px solid #d7dee6;border-radius:6px}"
    "svg text{font:11px system-ui,sans-serif;fill:#44505c}"
    "svg .title{font-size:13px;font-weight:600;fill:#1d2733}"
    ".axis{stroke:#8894a0;stroke-width:1}.gridline{stroke:#e6ebf0;stroke-width:1}"
    ".feasible{fill:#2f6fdb}.infeasible{fill:#fff;stroke:#e07b10;stroke-width:2}"
    ".failed{stroke:#c62828;stroke-width:2}"
    ".best{fill:none;stroke:#1b9e5a;stroke-width:2.5}"
    ".baseline{stroke:#7a8591;stroke-width:1.5;stroke-dasharray:6 4}"
    ".baseline-point{fill:#7a8591}.best-point{fill:none;stroke:#1b9e5a;stroke-width:2.5}"
    ".threshold{stroke:#c62828;stroke-width:1.5;stroke-dasharray:6 4}"
    ".ok{fill:#1b9e5a}.broken{fill:#c62828}"
    ".front{fill:none;stroke:#1b9e5a;stroke-width:2}.front-point{fill:#1b9e5a}"
    ".legend{font-size:12px;color:#44505c;margin:4px 0}.legend "
    "span{font-size:14px;margin-left:10px}"
    ".k-feasible{color:#2f6fdb}.k-infeasible{color:#e07b10}.k-failed{color:#c62828}"
    ".k-best{color:#1b9e5a}.k-baseline{color:#7a8591}"
    "table{border-collapse:collapse;background:#fff;font-size:12px}"
    "th,td{border:1px solid #d7dee6;padding:4px 8px;text-align:right;white-space:nowrap}"
    "th{background:#eef2f6}td.text{text-align:left}"
    "tr.best-row td{background:#e5f5ec}tr.baseline-row td{background:#f0f2f4}"
    "tr.infeasible-row td{color:#8a5a20}"
    ".note{color:#5f6b76}";

/* ---- text ------------------------------------------------------------------------------ */

static void put_number(struct strbuf *sb, double v)
{
    if (isfinite(v))
        strbuf_printf(sb, "%.6g", v);
    else
        strbuf_puts(sb, "-");
}

static void put_json_value(struct strbuf *sb, const json_t *v)
{
    if (json_is_number(v))
        put_number(sb, json_number_value(v));
    else if (json_is_string(v))
        strbuf_put_html(sb, json_string_value(v));
    else if (json_is_boolean(v))
        strbuf_puts(sb, json_is_true(v) ? "yes" : "no");
    else
        strbuf_puts(sb, "-");
}

static const char *doc_text(const json_t *doc, const char *key)
{
    const char *text = json_string_value(json_object_get(doc, key));
    return text ? text : "";
}

/* ---- the trials ------------------------------------------------------------------------ */

enum point_kind { POINT_FEASIBLE, POINT_INFEASIBLE, POINT_FAILED };

struct point {
    double x, y; /* y NaN: no objective */
    enum point_kind kind;
    long trial;
};

static double number_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static enum point_kind kind_of(const json_t *t)
{
    if (json_is_true(json_object_get(t, "feasible")))
        return POINT_FEASIBLE;
    return json_is_number(json_object_get(t, "objective")) ? POINT_INFEASIBLE : POINT_FAILED;
}

static const json_t *trials_of(const json_t *doc)
{
    return json_object_get(doc, "trials");
}

static long doc_index(const json_t *doc, const char *key)
{
    const json_t *v = json_object_get(doc, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : -1;
}

static const json_t *doc_trial(const json_t *doc, long number)
{
    return number >= 0 ? json_array_get(trials_of(doc), (size_t)number) : NULL;
}

static bool maximize(const json_t *doc)
{
    return strcmp(doc_text(json_object_get(doc, "objective"), "goal"), "maximize") == 0;
}

/* ---- charts ---------------------------------------------------------------------------- */

struct chart {
    struct strbuf *sb;
    int width, height;
    double x0, x1, y0, y1;
};

static double px(const struct chart *c, double x)
{
    double w = c->width - MARGIN_LEFT - MARGIN_RIGHT;
    return MARGIN_LEFT + (x - c->x0) / (c->x1 - c->x0) * w;
}

static double py(const struct chart *c, double y)
{
    double h = c->height - MARGIN_TOP - MARGIN_BOTTOM;
    return MARGIN_TOP + (1 - (y - c->y0) / (c->y1 - c->y0)) * h;
}

/* Widens an empty or degenerate range and pads it a little. */
static void pad_range(double *lo, double *hi)
{
    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    }
    if (*hi - *lo < 1e-12 * fmax(1, fabs(*hi))) {
        double d = fabs(*hi) > 0 ? fabs(*hi) * 0.1 : 1;
        *lo -= d;
        *hi += d;
    }
    double pad = (*hi - *lo) * 0.06;
    *lo -= pad;
    *hi += pad;
}

static double nice_step(double range)
{
    double raw = range / TICKS, magnitude = pow(10, floor(log10(raw)));
    double f = raw / magnitude;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
}

static void y_ticks(const struct chart *c)
{
    double step = nice_step(c->y1 - c->y0);
    for (double v = ceil(c->y0 / step) * step; v <= c->y1; v += step) {
        double y = py(c, v);
        strbuf_printf(c->sb,
                      "<line class=\"gridline\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>",
                      MARGIN_LEFT, y, c->width - MARGIN_RIGHT, y);
        strbuf_printf(c->sb, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>",
                      MARGIN_LEFT - 6, y + 4, fabs(v) < step * 1e-9 ? 0.0 : v);
    }
}

/* Numeric ticks, or category labels when `labels` is given (x = index). */
static void x_ticks(const struct chart *c, const json_t *labels)
{
    int bottom = c->height - MARGIN_BOTTOM;
    if (labels != NULL) {
        for (size_t i = 0; i < json_array_size(labels); i++) {
            strbuf_printf(c->sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                          px(c, (double)i), bottom + 16);
            put_json_value(c->sb, json_array_get(labels, i));
            strbuf_puts(c->sb, "</text>");
        }
        return;
    }
    double step = nice_step(c->x1 - c->x0);
    for (double v = ceil(c->x0 / step) * step; v <= c->x1; v += step)
        strbuf_printf(c->sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.4g</text>",
                      px(c, v), bottom + 16, fabs(v) < step * 1e-9 ? 0.0 : v);
}

static void chart_begin(struct chart *c, const char *title, const char *x_label,
                        const char *y_label, const json_t *x_categories)
{
    struct strbuf *sb = c->sb;
    int bottom = c->height - MARGIN_BOTTOM;
    strbuf_printf(sb,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\"><title>",
                  c->width, c->height, c->width, c->height);
    strbuf_put_html(sb, title);
    strbuf_puts(sb, "</title>");
    y_ticks(c);
    x_ticks(c, x_categories);
    strbuf_printf(sb, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", MARGIN_LEFT,
                  bottom, c->width - MARGIN_RIGHT, bottom);
    strbuf_printf(sb, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", MARGIN_LEFT,
                  MARGIN_TOP, MARGIN_LEFT, bottom);
    strbuf_printf(sb, "<text class=\"title\" x=\"%d\" y=\"14\">", MARGIN_LEFT);
    strbuf_put_html(sb, title);
    strbuf_printf(sb, "</text><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                  (MARGIN_LEFT + c->width - MARGIN_RIGHT) / 2.0, c->height - 8);
    strbuf_put_html(sb, x_label);
    strbuf_printf(sb,
                  "</text><text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
                  "transform=\"rotate(-90 14 %.1f)\">",
                  (MARGIN_TOP + bottom) / 2.0, (MARGIN_TOP + bottom) / 2.0);
    strbuf_put_html(sb, y_label);
    strbuf_puts(sb, "</text>");
}

static void chart_end(struct chart *c)
{
    strbuf_puts(c->sb, "</svg>\n");
}

/* A feasible point is filled, an infeasible one hollow, a trial without an objective a cross
 * on the bottom axis. */
static void draw_point(const struct chart *c, const struct point *p)
{
    double x = px(c, p->x);
    if (p->kind == POINT_FAILED || !isfinite(p->y)) {
        double y = py(c, c->y0);
        strbuf_printf(c->sb,
                      "<path class=\"failed\" d=\"M%.1f %.1fl8 8m0 -8l-8 8\"><title>trial %ld: not "
                      "measured</title></path>",
                      x - 4, y - 4, p->trial);
        return;
    }
    strbuf_printf(c->sb,
                  "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>trial %ld: "
                  "%.6g</title></circle>",
                  p->kind == POINT_FEASIBLE ? "feasible" : "infeasible", x, py(c, p->y), p->trial,
                  p->y);
}

static void draw_marker(const struct chart *c, double x, double y, const char *class)
{
    if (!isfinite(x) || !isfinite(y))
        return;
    if (strcmp(class, "baseline-point") == 0)
        strbuf_printf(c->sb, "<path class=\"%s\" d=\"M%.1f %.1fl7 7l-7 7l-7 -7z\"/>", class,
                      px(c, x), py(c, y) - 7);
    else
        strbuf_printf(c->sb, "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"9\"/>", class,
                      px(c, x), py(c, y));
}

static void hline(const struct chart *c, double y, const char *class, const char *label)
{
    if (!isfinite(y) || y < c->y0 || y > c->y1)
        return;
    strbuf_printf(c->sb, "<line class=\"%s\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", class,
                  MARGIN_LEFT, py(c, y), c->width - MARGIN_RIGHT, py(c, y));
    strbuf_printf(c->sb, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
                  c->width - MARGIN_RIGHT - 4, py(c, y) - 4);
    strbuf_put_html(c->sb, label);
    strbuf_puts(c->sb, "</text>");
}

/* The symbols of the objective charts, under them. */
static void legend(struct strbuf *sb)
{
    strbuf_puts(sb, "<p class=\"legend\"><span class=\"k-feasible\">&#9679;</span> feasible "
                    "<span class=\"k-infeasible\">&#9675;</span> infeasible (an SLO broken) "
                    "<span class=\"k-failed\">&#10005;</span> not measured (failed, rejected, "
                    "no objective) <span class=\"k-best\">&#9135;</span> best so far "
                    "<span class=\"k-best\">&#9711;</span> best "
                    "<span class=\"k-baseline\">&#9670;</span> baseline</p>\n");
}

/* ---- the objective per trial ----------------------------------------------------------- */

static void objective_range(const json_t *doc, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        double y = number_or_nan(json_object_get(t, "objective"));
        if (isfinite(y)) {
            *lo = fmin(*lo, y);
            *hi = fmax(*hi, y);
        }
    }
    pad_range(lo, hi);
}

/* The best feasible objective so far, as a step line. */
static void best_so_far(const struct chart *c, const json_t *doc)
{
    bool max = maximize(doc), started = false;
    double best = NAN;
    size_t i;
    const json_t *t;
    strbuf_puts(c->sb, "<polyline class=\"best\" points=\"");
    json_array_foreach(trials_of(doc), i, t)
    {
        double y = number_or_nan(json_object_get(t, "objective"));
        bool feasible = json_is_true(json_object_get(t, "feasible"));
        if (feasible && isfinite(y) && (isnan(best) || (max ? y > best : y < best))) {
            if (started)
                strbuf_printf(c->sb, "%.1f,%.1f ", px(c, (double)i), py(c, best));
            best = y;
            started = true;
        }
        if (started)
            strbuf_printf(c->sb, "%.1f,%.1f ", px(c, (double)i), py(c, best));
    }
    strbuf_puts(c->sb, "\"/>");
}

static void objective_chart(struct strbuf *sb, const json_t *doc)
{
    size_t n = json_array_size(trials_of(doc));
    struct chart c = {sb, CHART_WIDTH, CHART_HEIGHT, 0, n > 1 ? (double)(n - 1) : 1, 0, 1};
    pad_range(&c.x0, &c.x1);
    objective_range(doc, &c.y0, &c.y1);
    const char *name = doc_text(json_object_get(doc, "objective"), "name");
    char *title = xasprintf("%s per trial (%s)", name[0] ? name : "objective",
                            maximize(doc) ? "higher is better" : "lower is better");
    chart_begin(&c, title, "trial", name[0] ? name : "objective", NULL);
    free(title);
    const json_t *baseline = doc_trial(doc, doc_index(doc, "baseline"));
    hline(&c, number_or_nan(json_object_get(baseline, "objective")), "baseline", "baseline");
    best_so_far(&c, doc);
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        struct point p = {(double)i, number_or_nan(json_object_get(t, "objective")), kind_of(t),
                          (long)i};
        draw_point(&c, &p);
    }
    draw_marker(&c, 0, number_or_nan(json_object_get(baseline, "objective")), "baseline-point");
    long best = doc_index(doc, "best");
    draw_marker(&c, (double)best, number_or_nan(json_object_get(doc_trial(doc, best), "objective")),
                "best-point");
    chart_end(&c);
    legend(sb);
}

/* ---- each setting against the objective ------------------------------------------------ */

/* The x of a trial's setting: the number, or the index of an enum value. */
static double setting_x(const json_t *setting, const json_t *value)
{
    const json_t *values = json_object_get(setting, "values");
    if (!json_is_array(values))
        return number_or_nan(value);
    for (size_t i = 0; i < json_array_size(values); i++) {
        const json_t *v = json_array_get(values, i);
        if (json_equal(v, value))
            return (double)i;
        /* numeric enum values are kept as text in the trials */
        if (json_is_number(v) && json_is_string(value) &&
            strtod(json_string_value(value), NULL) == json_number_value(v))
            return (double)i;
    }
    return NAN;
}

static void setting_range(const json_t *doc, const json_t *setting, double *lo, double *hi)
{
    const json_t *values = json_object_get(setting, "values");
    if (json_is_array(values)) {
        *lo = -0.5;
        *hi = (double)json_array_size(values) - 0.5;
        return;
    }
    *lo = number_or_nan(json_object_get(setting, "min"));
    *hi = number_or_nan(json_object_get(setting, "max"));
    const char *name = json_string_value(json_object_get(setting, "name"));
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t) /* a baseline outside the range */
    {
        double x = number_or_nan(json_object_get(json_object_get(t, "settings"), name));
        if (isfinite(x)) {
            *lo = isfinite(*lo) ? fmin(*lo, x) : x;
            *hi = isfinite(*hi) ? fmax(*hi, x) : x;
        }
    }
    pad_range(lo, hi);
}

static void setting_chart(struct strbuf *sb, const json_t *doc, const json_t *setting)
{
    const char *name = json_string_value(json_object_get(setting, "name"));
    const json_t *values = json_object_get(setting, "values");
    struct chart c = {sb, SMALL_WIDTH, SMALL_HEIGHT, 0, 1, 0, 1};
    setting_range(doc, setting, &c.x0, &c.x1);
    objective_range(doc, &c.y0, &c.y1);
    const char *unit = json_string_value(json_object_get(setting, "unit"));
    char *x_label = unit ? xasprintf("%s (%s)", name, unit) : xstrdup(name ? name : "?");
    const char *objective = doc_text(json_object_get(doc, "objective"), "name");
    chart_begin(&c, name ? name : "?", x_label, objective[0] ? objective : "objective",
                json_is_array(values) ? values : NULL);
    free(x_label);
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        double x = setting_x(setting, json_object_get(json_object_get(t, "settings"), name));
        struct point p = {x, number_or_nan(json_object_get(t, "objective")), kind_of(t), (long)i};
        if (isfinite(x))
            draw_point(&c, &p);
    }
    const json_t *baseline = doc_trial(doc, doc_index(doc, "baseline"));
    draw_marker(&c,
                setting_x(setting, json_object_get(json_object_get(baseline, "settings"), name)),
                number_or_nan(json_object_get(baseline, "objective")), "baseline-point");
    const json_t *best = doc_trial(doc, doc_index(doc, "best"));
    draw_marker(&c, setting_x(setting, json_object_get(json_object_get(best, "settings"), name)),
                number_or_nan(json_object_get(best, "objective")), "best-point");
    chart_end(&c);
}

/* ---- the constraints ------------------------------------------------------------------- */

static void constraint_range(const json_t *doc, size_t k, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        const json_t *c = json_array_get(json_object_get(t, "constraints"), k);
        double v = number_or_nan(json_object_get(c, "value"));
        double threshold = number_or_nan(json_object_get(c, "threshold"));
        if (isfinite(v)) {
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
        if (isfinite(threshold)) {
            *lo = fmin(*lo, threshold);
            *hi = fmax(*hi, threshold);
        }
    }
    pad_range(lo, hi);
}

static void constraint_chart(struct strbuf *sb, const json_t *doc, size_t k)
{
    const json_t *config = json_array_get(json_object_get(doc, "constraints"), k);
    const char *metric = doc_text(config, "metric");
    const char *keep = doc_text(config, "keep");
    size_t n = json_array_size(trials_of(doc));
    struct chart c = {sb, CHART_WIDTH, SMALL_HEIGHT, 0, n > 1 ? (double)(n - 1) : 1, 0, 1};
    pad_range(&c.x0, &c.x1);
    constraint_range(doc, k, &c.y0, &c.y1);
    char *title = xasprintf("%s (%s) per trial: keep %s the threshold", metric,
                            doc_text(config, "aggregate"), keep);
    chart_begin(&c, title, "trial", metric, NULL);
    free(title);
    size_t i;
    const json_t *t;
    double threshold = NAN;
    json_array_foreach(trials_of(doc), i, t)
    {
        const json_t *item = json_array_get(json_object_get(t, "constraints"), k);
        double v = number_or_nan(json_object_get(item, "value"));
        if (isnan(threshold))
            threshold = number_or_nan(json_object_get(item, "threshold"));
        if (!isfinite(v))
            continue;
        bool ok = json_is_true(json_object_get(item, "satisfied"));
        strbuf_printf(sb,
                      "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>trial %zu: "
                      "%.6g</title></circle>",
                      ok ? "ok" : "broken", px(&c, (double)i), py(&c, v), i, v);
    }
    char *label = xasprintf("threshold %.6g (keep %s)", threshold, keep);
    hline(&c, threshold, "threshold", label);
    free(label);
    chart_end(&c);
}

/* ---- the table ------------------------------------------------------------------------- */

static void table_header(struct strbuf *sb, const json_t *doc)
{
    strbuf_puts(sb, "<table><thead><tr><th>trial</th><th>status</th><th>feasible</th><th>");
    strbuf_put_html(sb, doc_text(json_object_get(doc, "objective"), "name"));
    strbuf_puts(sb, "</th>");
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(doc, "constraints"), i, item)
    {
        strbuf_puts(sb, "<th>");
        strbuf_put_html(sb, doc_text(item, "metric"));
        strbuf_puts(sb, "</th>");
    }
    json_array_foreach(json_object_get(doc, "settings"), i, item)
    {
        strbuf_puts(sb, "<th>");
        strbuf_put_html(sb, doc_text(item, "name"));
        strbuf_puts(sb, "</th>");
    }
    strbuf_puts(sb, "<th>reason</th></tr></thead><tbody>\n");
}

static void table_row(struct strbuf *sb, const json_t *doc, const json_t *t, long best)
{
    json_int_t number = json_integer_value(json_object_get(t, "number"));
    const char *class = number == best                 ? "best-row"
                        : number == 0                  ? "baseline-row"
                        : kind_of(t) != POINT_FEASIBLE ? "infeasible-row"
                                                       : "";
    strbuf_printf(sb, "<tr class=\"%s\"><td>%s%lld%s</td><td class=\"text\">", class,
                  number == 0 ? "baseline " : "", (long long)number, number == best ? " ★" : "");
    put_json_value(sb, json_object_get(t, "status"));
    strbuf_puts(sb, "</td><td class=\"text\">");
    put_json_value(sb, json_object_get(t, "feasible"));
    strbuf_puts(sb, "</td><td>");
    put_json_value(sb, json_object_get(t, "objective"));
    strbuf_puts(sb, "</td>");
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(doc, "constraints"), i, item)
    {
        strbuf_puts(sb, "<td>");
        put_json_value(
            sb, json_object_get(json_array_get(json_object_get(t, "constraints"), i), "value"));
        strbuf_puts(sb, "</td>");
    }
    json_array_foreach(json_object_get(doc, "settings"), i, item)
    {
        strbuf_puts(sb, "<td>");
        put_json_value(sb, json_object_get(json_object_get(t, "settings"), doc_text(item, "name")));
        strbuf_puts(sb, "</td>");
    }
    strbuf_puts(sb, "<td class=\"text\">");
    const char *reason = json_string_value(json_object_get(t, "reason"));
    const char *message = json_string_value(json_object_get(t, "message"));
    strbuf_put_html(sb, reason ? reason : "");
    if (message != NULL) {
        strbuf_puts(sb, ": ");
        strbuf_put_html(sb, message);
    }
    strbuf_puts(sb, "</td></tr>\n");
}

static void trials_table(struct strbuf *sb, const json_t *doc)
{
    long best = doc_index(doc, "best");
    table_header(sb, doc);
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        table_row(sb, doc, t, best);
    }
    strbuf_puts(sb, "</tbody></table>\n");
}

/* ---- the Pareto front ------------------------------------------------------------------ */

static double trial_value(const json_t *t, size_t k)
{
    return number_or_nan(json_array_get(json_object_get(t, "objectives"), k));
}

static void value_range(const json_t *doc, size_t k, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        double v = trial_value(t, k);
        if (isfinite(v)) {
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
    }
    pad_range(lo, hi);
}

static int by_first(const void *a, const void *b)
{
    const double *p = a, *q = b;
    return (p[0] > q[0]) - (p[0] < q[0]);
}

/* The front's trials as a step line, by the x objective. */
static void front_line(const struct chart *c, const json_t *doc, size_t kx, size_t ky)
{
    const json_t *front = json_object_get(doc, "pareto");
    size_t n = json_array_size(front), m = 0;
    double *xy = xcalloc(2 * n + 2, sizeof *xy);
    for (size_t i = 0; i < n; i++) {
        const json_t *t = doc_trial(doc, (long)json_integer_value(json_array_get(front, i)));
        double x = trial_value(t, kx), y = trial_value(t, ky);
        if (isfinite(x) && isfinite(y)) {
            xy[2 * m] = x;
            xy[2 * m++ + 1] = y;
        }
    }
    qsort(xy, m, 2 * sizeof *xy, by_first);
    strbuf_puts(c->sb, "<polyline class=\"front\" points=\"");
    for (size_t i = 0; i < m; i++) {
        if (i > 0)
            strbuf_printf(c->sb, "%.1f,%.1f ", px(c, xy[2 * i]), py(c, xy[2 * i - 1]));
        strbuf_printf(c->sb, "%.1f,%.1f ", px(c, xy[2 * i]), py(c, xy[2 * i + 1]));
    }
    strbuf_puts(c->sb, "\"/>");
    for (size_t i = 0; i < m; i++)
        strbuf_printf(c->sb, "<circle class=\"front-point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>",
                      px(c, xy[2 * i]), py(c, xy[2 * i + 1]));
    free(xy);
}

static const char *objective_title(const json_t *doc, size_t k)
{
    const json_t *o = json_array_get(json_object_get(doc, "objectives"), k);
    return doc_text(o, "name");
}

/* One panel: objective kx against objective ky, every trial, the front as a step line. */
static void front_chart(struct strbuf *sb, const json_t *doc, size_t kx, size_t ky)
{
    struct chart c = {sb, CHART_WIDTH, CHART_HEIGHT, 0, 1, 0, 1};
    value_range(doc, kx, &c.x0, &c.x1);
    value_range(doc, ky, &c.y0, &c.y1);
    char *title = xasprintf("Pareto front: %s against %s", objective_title(doc, ky),
                            objective_title(doc, kx));
    chart_begin(&c, title, objective_title(doc, kx), objective_title(doc, ky), NULL);
    free(title);
    size_t i;
    const json_t *t;
    json_array_foreach(trials_of(doc), i, t)
    {
        struct point p = {trial_value(t, kx), trial_value(t, ky), kind_of(t), (long)i};
        if (isfinite(p.x))
            draw_point(&c, &p);
    }
    front_line(&c, doc, kx, ky);
    const json_t *best = doc_trial(doc, doc_index(doc, "best"));
    draw_marker(&c, trial_value(best, kx), trial_value(best, ky), "best-point");
    chart_end(&c);
}

/* Two objectives: one scatter; three: the three pairs. */
static void front_charts(struct strbuf *sb, const json_t *doc)
{
    size_t k = json_array_size(json_object_get(doc, "objectives"));
    strbuf_puts(sb, "<h2>Pareto front</h2>\n<div class=\"grid\">\n");
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++)
            front_chart(sb, doc, a, b);
    strbuf_puts(sb, "</div>\n<p class=\"legend\"><span class=\"k-best\">&#9135;</span> the "
                    "front (feasible trials no other beats on every objective) "
                    "<span class=\"k-best\">&#9711;</span> the trial the study ends on</p>\n");
}

/* ---- the page -------------------------------------------------------------------------- */

static void summary_item(struct strbuf *sb, const char *term, const char *text)
{
    strbuf_puts(sb, "<dt>");
    strbuf_put_html(sb, term);
    strbuf_puts(sb, "</dt><dd>");
    strbuf_put_html(sb, text);
    strbuf_puts(sb, "</dd>");
}

static char *versus_text(const json_t *best, const json_t *baseline)
{
    double v = number_or_nan(json_object_get(best, "objective"));
    double b = number_or_nan(json_object_get(baseline, "objective"));
    if (!isfinite(v))
        return xstrdup("no feasible trial");
    json_int_t number = json_integer_value(json_object_get(best, "number"));
    if (!isfinite(b) || b == 0)
        return xasprintf("%.6g (trial %lld)", v, (long long)number);
    return xasprintf("%.6g (trial %lld) against %.6g for the baseline: %+.1f%%", v,
                     (long long)number, b, 100 * (v - b) / fabs(b));
}

static void summary(struct strbuf *sb, const json_t *doc)
{
    const json_t *objective = json_object_get(doc, "objective");
    strbuf_puts(sb, "<dl class=\"summary\">");
    summary_item(sb, "State", doc_text(doc, "phase"));
    if (json_is_string(json_object_get(doc, "reason")))
        summary_item(sb, "Outcome", doc_text(doc, "reason"));
    char *text =
        xasprintf("%s, %s (%s)", objective ? doc_text(objective, "name") : "not chosen yet",
                  doc_text(objective, "goal"), doc_text(objective, "aggregate"));
    summary_item(sb, "Objective", text);
    free(text);
    const json_t *budget = json_object_get(doc, "budget");
    text = xasprintf("%zu of %lld, and the baseline",
                     json_array_size(trials_of(doc)) > 0 ? json_array_size(trials_of(doc)) - 1 : 0,
                     (long long)json_integer_value(budget));
    summary_item(sb, "Trials", text);
    free(text);
    text = versus_text(doc_trial(doc, doc_index(doc, "best")),
                       doc_trial(doc, doc_index(doc, "baseline")));
    summary_item(sb, "Best", text);
    free(text);
    text = xasprintf("%lld", (long long)json_integer_value(json_object_get(doc, "slo_violations")));
    summary_item(sb, "SLO violations", text);
    free(text);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    summary_item(sb, "Written", when);
    strbuf_puts(sb, "</dl>\n");
}

char *report_html(const json_t *doc)
{
    struct strbuf sb;
    strbuf_init(&sb);
    const char *app = doc_text(doc, "application");
    strbuf_puts(&sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    strbuf_put_html(&sb, app);
    strbuf_printf(&sb, ": optimization report</title><style>%s</style></head><body>\n", style);
    strbuf_puts(&sb, "<h1>Optimization report: ");
    strbuf_put_html(&sb, app);
    strbuf_puts(&sb, "</h1>\n");
    summary(&sb, doc);
    if (json_array_size(trials_of(doc)) == 0) {
        strbuf_puts(&sb, "<p class=\"note\">No trials yet.</p></body></html>\n");
        return strbuf_detach(&sb);
    }
    if (json_array_size(json_object_get(doc, "objectives")) >= 2)
        front_charts(&sb, doc);
    strbuf_puts(&sb, "<h2>Objective</h2>\n");
    objective_chart(&sb, doc);
    strbuf_puts(&sb, "<h2>Settings against the objective</h2>\n<div class=\"grid\">\n");
    size_t i;
    const json_t *setting;
    json_array_foreach(json_object_get(doc, "settings"), i, setting)
    {
        setting_chart(&sb, doc, setting);
    }
    strbuf_puts(&sb, "</div>\n");
    legend(&sb);
    if (json_array_size(json_object_get(doc, "constraints")) > 0) {
        strbuf_puts(&sb, "<h2>Constraints</h2>\n");
        for (i = 0; i < json_array_size(json_object_get(doc, "constraints")); i++)
            constraint_chart(&sb, doc, i);
    }
    strbuf_puts(&sb, "<h2>Trials</h2>\n");
    trials_table(&sb, doc);
    strbuf_puts(&sb, "</body></html>\n");
    return strbuf_detach(&sb);
}
