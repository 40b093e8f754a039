#include "events/checks.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "events/bus.h"
#include "util/log.h"
#include "util/util.h"

#define MIN_FIXED_DELAY_SECONDS 0.1
/* With a wait, each round's checks must end by the end of the wait, but get at least this
 * long: the last round starts when the wait runs out. */
#define ROUND_MIN_SECONDS 10.0

/* ---- what a check function records (servo/checks.h) ------------------------------------- */

struct servo_check {
    bool failed;
    char *message;
    char *hint; /* replaces the declared hint */
};

static void check_reset(struct servo_check *check)
{
    free(check->message);
    free(check->hint);
    memset(check, 0, sizeof *check);
}

int servo_check_fail(struct servo_check *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    free(check->message);
    check->message = message;
    check->failed = true;
    return -1;
}

void servo_check_message(struct servo_check *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    free(check->message);
    check->message = message;
}

void servo_check_hint(struct servo_check *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *hint = xvasprintf(fmt, ap);
    va_end(ap);
    free(check->hint);
    check->hint = hint;
}

/* ---- ids, tags, severities -------------------------------------------------------------- */

void check_default_id(const char *text, char out[9])
{
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        hash ^= *p;
        hash *= 16777619u;
    }
    static const char digits[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--) {
        out[i] = digits[hash & 0xF];
        hash >>= 4;
    }
    out[8] = '\0';
}

bool check_tag_valid(const char *tag, size_t length)
{
    if (length < 1 || length > 32)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = tag[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' || c == '-'))
            return false;
    }
    return true;
}

const char *check_severity_name(enum servo_severity severity)
{
    switch (severity) {
    case SERVO_SEVERITY_WARNING:
        return "warning";
    case SERVO_SEVERITY_CRITICAL:
        return "critical";
    case SERVO_SEVERITY_COMMON:
        break;
    }
    return "common";
}

static const char *const halt_names[] = {"warning", "common", "critical", NULL};

/* ---- filters ---------------------------------------------------------------------------- */

struct matcher {
    const char *exact; /* borrowed from the argument, or NULL for a regex */
    pcre2_code *re;
};

struct matchers {
    struct matcher *items;
    size_t count;
    bool given; /* the key was present with at least one entry */
};

struct check_filter {
    struct matchers name, id, tag;
    int halt_on; /* enum check_halt */
    bool remedy;
    bool exclusive;
};

static bool is_regex(const char *s)
{
    size_t n = strlen(s);
    return n >= 2 && s[0] == '/' && s[n - 1] == '/';
}

static pcre2_code *compile_regex(const char *entry, char **error)
{
    int code;
    PCRE2_SIZE offset;
    size_t n = strlen(entry);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)entry + 1, n - 2, PCRE2_UTF, &code, &offset, NULL);
    if (re == NULL && error) {
        PCRE2_UCHAR why[256];
        pcre2_get_error_message(code, why, sizeof why);
        *error = xasprintf("invalid regular expression %s: %s at offset %zu", entry,
                           (const char *)why, (size_t)offset);
    }
    return re;
}

static void matchers_free(struct matchers *m)
{
    for (size_t i = 0; i < m->count; i++)
        pcre2_code_free(m->items[i].re);
    free(m->items);
    memset(m, 0, sizeof *m);
}

static void check_filter_free(struct check_filter *f)
{
    matchers_free(&f->name);
    matchers_free(&f->id);
    matchers_free(&f->tag);
}

static int parse_matchers(const json_t *arg, const char *key, struct matchers *m, char **error)
{
    const json_t *value = json_object_get(arg, key);
    if (value == NULL || json_is_null(value))
        return 0;
    if (json_is_string(value)) {
        m->items = xcalloc(1, sizeof *m->items);
        m->count = 1;
        m->given = true;
        const char *s = json_string_value(value);
        if (!is_regex(s)) {
            m->items[0].exact = s;
        } else if ((m->items[0].re = compile_regex(s, error)) == NULL) {
            return -1;
        }
        return 0;
    }
    if (!json_is_array(value)) {
        *error = xasprintf("check filter \"%s\": expected a list of strings", key);
        return -1;
    }
    m->items = xcalloc(json_array_size(value) + 1, sizeof *m->items);
    size_t index;
    const json_t *entry;
    json_array_foreach(value, index, entry)
    {
        if (!json_is_string(entry)) {
            *error = xasprintf("check filter \"%s\": expected a list of strings", key);
            return -1;
        }
        const char *s = json_string_value(entry);
        struct matcher *item = &m->items[m->count++];
        if (!is_regex(s))
            item->exact = s;
        else if ((item->re = compile_regex(s, error)) == NULL)
            return -1;
    }
    m->given = m->count > 0;
    return 0;
}

/* Parses the event's argument; the filter borrows strings from it. */
static int check_filter_parse(const json_t *arg, struct check_filter *f, char **error)
{
    memset(f, 0, sizeof *f);
    f->halt_on = CHECK_HALT_CRITICAL;
    if (arg == NULL || json_is_null(arg))
        return 0;
    if (!json_is_object(arg)) {
        *error = xstrdup("the check event's argument must be an object");
        return -1;
    }
    if (parse_matchers(arg, "name", &f->name, error) != 0 ||
        parse_matchers(arg, "id", &f->id, error) != 0 ||
        parse_matchers(arg, "tag", &f->tag, error) != 0) {
        check_filter_free(f);
        return -1;
    }
    const json_t *halt = json_object_get(arg, "halt_on");
    if (halt != NULL && !json_is_null(halt)) {
        int found = -1;
        for (int i = 0; halt_names[i] && json_is_string(halt); i++)
            if (strcmp(halt_names[i], json_string_value(halt)) == 0)
                found = i;
        if (found < 0) {
            *error = xstrdup("check filter \"halt_on\": expected warning, common or critical");
            check_filter_free(f);
            return -1;
        }
        f->halt_on = found;
    }
    f->remedy = json_is_true(json_object_get(arg, "remedy"));
    f->exclusive = json_is_true(json_object_get(arg, "exclusive"));
    return 0;
}

static bool matcher_matches(const struct matcher *m, const char *value)
{
    if (m->exact)
        return strcmp(m->exact, value) == 0;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(m->re, NULL);
    int rc = pcre2_match(m->re, (PCRE2_SPTR)value, strlen(value), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static bool matchers_match(const struct matchers *m, const char *value)
{
    if (!m->given)
        return true;
    for (size_t i = 0; i < m->count; i++)
        if (matcher_matches(&m->items[i], value))
            return true;
    return false;
}

/* ---- expanding the declarations --------------------------------------------------------- */

struct planned {
    const struct servo_check_def *def;
    size_t item;
    char *name;
    char *id;
    char *description;
    char **tags;
    size_t tag_count;
    char *declaration_error; /* an invalid tag: the check fails with this */
    bool selected;
};

struct plan {
    struct planned *items;
    size_t count;
    size_t capacity;
};

/* `text` with every "{item}" replaced by `label`. */
static char *expand(const char *text, const char *label)
{
    if (text == NULL)
        return NULL;
    if (label == NULL)
        return xstrdup(text);
    struct strbuf sb;
    strbuf_init(&sb);
    for (const char *p = text; *p;) {
        const char *at = strstr(p, "{item}");
        if (at == NULL) {
            strbuf_puts(&sb, p);
            break;
        }
        strbuf_add(&sb, p, (size_t)(at - p));
        strbuf_puts(&sb, label);
        p = at + strlen("{item}");
    }
    return strbuf_detach(&sb);
}

static void parse_tags(const char *text, struct planned *p)
{
    if (text == NULL)
        return;
    for (const char *s = text; *s;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *start = s;
        while (n > 0 && isspace((unsigned char)*start)) {
            start++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)start[n - 1]))
            n--;
        if (!check_tag_valid(start, n)) {
            if (p->declaration_error == NULL) {
                char *tag = xstrndup(start, n);
                p->declaration_error =
                    xasprintf("invalid check declaration: tag \"%s\" is not 1-32 characters of "
                              "[0-9a-z.-]",
                              tag);
                free(tag);
            }
        } else {
            bool duplicate = false;
            for (size_t i = 0; i < p->tag_count && !duplicate; i++)
                duplicate = strlen(p->tags[i]) == n && strncmp(p->tags[i], start, n) == 0;
            if (!duplicate) {
                p->tags = xrealloc(p->tags, (p->tag_count + 1) * sizeof *p->tags);
                p->tags[p->tag_count++] = xstrndup(start, n);
            }
        }
        if (end == NULL)
            break;
        s = end + 1;
    }
}

static void plan_add(struct plan *plan, const struct servo_check_def *def, size_t item,
                     const char *label, bool multi)
{
    xgrow((void **)&plan->items, sizeof *plan->items, plan->count, &plan->capacity);
    struct planned *p = &plan->items[plan->count++];
    memset(p, 0, sizeof *p);
    p->def = def;
    p->item = item;
    p->name = expand(def->name, label);
    p->description = expand(def->description, label);
    char hashed[9];
    const char *base = def->id;
    if (base == NULL || base[0] == '\0') {
        check_default_id(def->name, hashed);
        base = hashed;
    }
    p->id = multi ? xasprintf("%s_item_%zu", base, item) : xstrdup(base);
    parse_tags(def->tags, p);
    if (def->run == NULL && p->declaration_error == NULL)
        p->declaration_error = xstrdup("invalid check declaration: no run function");
}

static void plan_build(struct plan *plan, struct servo_connector *c)
{
    for (const struct servo_check_def *def = c->plugin->checks; def && def->name; def++) {
        if (def->item_count == NULL) {
            plan_add(plan, def, 0, NULL, false);
            continue;
        }
        size_t n = def->item_count(c);
        for (size_t i = 0; i < n; i++) {
            const char *label = def->item_label ? def->item_label(c, i) : NULL;
            char number[32];
            if (label == NULL) {
                snprintf(number, sizeof number, "%zu", i);
                label = number;
            }
            plan_add(plan, def, i, label, true);
        }
    }
}

static void plan_free(struct plan *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        struct planned *p = &plan->items[i];
        free(p->name);
        free(p->id);
        free(p->description);
        for (size_t t = 0; t < p->tag_count; t++)
            free(p->tags[t]);
        free(p->tags);
        free(p->declaration_error);
    }
    free(plan->items);
    memset(plan, 0, sizeof *plan);
}

static bool tags_match(const struct matchers *m, const struct planned *p)
{
    if (!m->given)
        return true;
    for (size_t t = 0; t < p->tag_count; t++)
        if (matchers_match(m, p->tags[t]))
            return true;
    return false;
}

static bool filter_selects(const struct check_filter *f, const struct planned *p)
{
    return matchers_match(&f->name, p->name) && matchers_match(&f->id, p->id) &&
           tags_match(&f->tag, p);
}

/* ---- running ---------------------------------------------------------------------------- */

static bool halts(int halt_on, enum servo_severity severity)
{
    switch (halt_on) {
    case CHECK_HALT_WARNING:
        return true;
    case CHECK_HALT_COMMON:
        return severity != SERVO_SEVERITY_WARNING;
    default:
        return severity == SERVO_SEVERITY_CRITICAL;
    }
}

/* Runs the check function; returns true when it passed (succeeded). */
static bool invoke(struct servo_connector *c, struct servo_event *ev, const struct planned *p,
                   struct servo_check *check)
{
    if (p->declaration_error) {
        servo_check_fail(check, "%s", p->declaration_error);
        return false;
    }
    int rc = p->def->run(c, ev, p->item, check);
    if (rc != 0 || check->failed) {
        check->failed = true;
        if (check->message == NULL)
            check->message = xstrdup("check failed");
        return false;
    }
    return true;
}

static void apply_remedy(struct servo_connector *c, struct servo_event *ev, const struct planned *p)
{
    servo_info("💡 Attempting to apply remedy...");
    char *env_name = xasprintf("SERVO_CHECK_NAME=%s", p->name);
    char *env_id = xasprintf("SERVO_CHECK_ID=%s", p->id);
    char *env_connector = xasprintf("SERVO_CONNECTOR=%s", c->name);
    const char *environment[] = {env_name, env_id, env_connector, NULL};
    struct servo_process process = {
        .command = p->def->remedy, .environment = environment, .timeout = CHECK_REMEDY_TIMEOUT};
    struct servo_process_result result;
    struct servo_error error = {0};
    if (servo_event_run(ev, &process, &result, &error) != 0) {
        servo_warning("💡 Remedy could not run: %s", error.message);
    } else {
        if (result.timed_out)
            servo_warning("💡 Remedy attempt timed out after %.0fs",
                          servo_duration_seconds(CHECK_REMEDY_TIMEOUT));
        else if (result.exit_code != 0)
            servo_warning("💡 Remedy exited with status %d%s%s", result.exit_code,
                          result.errors_length ? ": " : "", result.errors);
        servo_process_result_free(&result);
    }
    free(env_name);
    free(env_id);
    free(env_connector);
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *outcome_json(const struct planned *p, bool success, const struct servo_check *check,
                            double runtime_ms)
{
    const struct servo_check_def *def = p->def;
    json_t *tags = json_array();
    for (size_t t = 0; t < p->tag_count; t++)
        json_array_append_new(tags, json_string(p->tags[t]));
    const char *hint = success ? NULL : check->hint ? check->hint : def->hint;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "description", string_or_null(p->description));
    json_object_set_new(o, "severity", json_string(check_severity_name(def->severity)));
    json_object_set_new(o, "tags", tags);
    json_object_set_new(o, "success", json_boolean(success));
    json_object_set_new(o, "message", string_or_null(check->message));
    json_object_set_new(o, "hint", string_or_null(hint));
    json_object_set_new(o, "remedy", string_or_null(def->remedy));
    json_object_set_new(o, "runtime_ms", json_real(round(runtime_ms * 1000.0) / 1000.0));
    return o;
}

/* Runs one check (and its remedy); appends the outcome; returns whether it succeeded. */
static bool run_check(struct servo_connector *c, struct servo_event *ev, const struct planned *p,
                      const struct check_filter *f, json_t *results)
{
    struct servo_check check = {0};
    double started = clock_monotonic();
    bool success = invoke(c, ev, p, &check);
    if (!success && f->remedy && p->def->remedy && p->declaration_error == NULL &&
        !servo_event_cancelled(ev)) {
        servo_warning("❌ Check '%s' failed: %s", p->name, check.message);
        apply_remedy(c, ev, p);
        check_reset(&check);
        started = clock_monotonic();
        success = invoke(c, ev, p, &check);
    }
    double runtime_ms = (clock_monotonic() - started) * 1000.0;
    servo_debug("check '%s' (%s) %s%s%s", p->name, p->id, success ? "passed" : "failed",
                check.message ? ": " : "", check.message ? check.message : "");
    json_array_append_new(results, outcome_json(p, success, &check, runtime_ms));
    check_reset(&check);
    return success;
}

static int checks_handle(struct servo_connector *c, struct servo_event *ev)
{
    struct check_filter filter;
    char *error = NULL;
    if (check_filter_parse(servo_event_argument(ev), &filter, &error) != 0) {
        int rc = servo_event_fail(ev, SERVO_ERROR_FAILED, "invalid-filter", "%s", error);
        free(error);
        return rc;
    }
    struct plan plan = {0};
    plan_build(&plan, c);
    size_t selected_left = 0;
    for (size_t i = 0; i < plan.count; i++) {
        plan.items[i].selected = filter_selects(&filter, &plan.items[i]);
        selected_left += plan.items[i].selected;
    }
    json_t *results = json_array();
    int rc = 0;
    for (size_t i = 0; i < plan.count; i++) {
        struct planned *p = &plan.items[i];
        if (p->selected) {
            selected_left--;
        } else if (p->def->severity != SERVO_SEVERITY_CRITICAL || selected_left == 0 ||
                   filter.exclusive) {
            continue; /* only critical prerequisites of a selected check run unselected */
        }
        if (servo_event_cancelled(ev)) {
            rc = servo_event_fail(ev, SERVO_ERROR_CANCELLED, "cancelled",
                                  "checks of %s stopped before '%s': %s", c->name, p->name,
                                  servo_event_remaining(ev) <= 0 ? "out of time" : "cancelled");
            break;
        }
        bool success = run_check(c, ev, p, &filter, results);
        if (!success && halts(filter.halt_on, p->def->severity)) {
            servo_debug("halting checks after '%s' failed (halt_on %s)", p->name,
                        halt_names[filter.halt_on]);
            break;
        }
    }
    servo_event_set_value(ev, results);
    plan_free(&plan);
    check_filter_free(&filter);
    return rc;
}

const struct servo_handler checks_builtin_handler = {SERVO_EVENT_CHECK, SERVO_ON, checks_handle};

/* ---- the argument ----------------------------------------------------------------------- */

static int add_entries(json_t *object, const char *key, const char *const *entries, char **error)
{
    json_t *list = json_array();
    for (size_t i = 0; entries && entries[i]; i++) {
        const char *entry = entries[i];
        if (is_regex(entry)) {
            pcre2_code *re = compile_regex(entry, error);
            if (re == NULL) {
                json_decref(list);
                return -1;
            }
            pcre2_code_free(re);
            json_array_append_new(list, json_string(entry));
            continue;
        }
        for (const char *s = entry; *s;) {
            const char *end = strchr(s, ',');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            const char *start = s;
            while (n > 0 && isspace((unsigned char)*start)) {
                start++;
                n--;
            }
            while (n > 0 && isspace((unsigned char)start[n - 1]))
                n--;
            if (n > 0) {
                char *piece = xstrndup(start, n);
                pcre2_code *re = is_regex(piece) ? compile_regex(piece, error) : NULL;
                if (is_regex(piece) && re == NULL) {
                    free(piece);
                    json_decref(list);
                    return -1;
                }
                pcre2_code_free(re);
                json_array_append_new(list, json_string(piece));
                free(piece);
            }
            if (end == NULL)
                break;
            s = end + 1;
        }
    }
    if (json_array_size(list) > 0)
        json_object_set_new(object, key, list);
    else
        json_decref(list);
    return 0;
}

json_t *checks_argument(const char *const *names, const char *const *ids, const char *const *tags,
                        int halt_on, bool remedy, char **error)
{
    json_t *arg = json_object();
    if (add_entries(arg, "name", names, error) != 0 || add_entries(arg, "id", ids, error) != 0 ||
        add_entries(arg, "tag", tags, error) != 0) {
        json_decref(arg);
        return NULL;
    }
    if (halt_on < CHECK_HALT_WARNING || halt_on > CHECK_HALT_CRITICAL)
        halt_on = CHECK_HALT_CRITICAL;
    json_object_set_new(arg, "halt_on", json_string(halt_names[halt_on]));
    json_object_set_new(arg, "remedy", json_boolean(remedy));
    return arg;
}

/* ---- checks_run ------------------------------------------------------------------------- */

static const char *const *list_array(const struct servo_list *list)
{
    if (list->count == 0)
        return NULL;
    const char **array = xcalloc(list->count + 1, sizeof *array);
    for (size_t i = 0; i < list->count; i++)
        array[i] = ((char **)list->items)[i];
    return array;
}

void checks_options_from_settings(struct checks_options *o, const struct checks_settings *s)
{
    memset(o, 0, sizeof *o);
    o->connectors = list_array(&s->connectors);
    o->names = list_array(&s->name);
    o->ids = list_array(&s->id);
    o->tags = list_array(&s->tag);
    o->halt_on = s->halt_on;
    o->remedy = s->remedy;
    o->progressive = s->progressive && !s->quiet;
    o->wait = s->wait > 0 ? s->wait : 0;
    o->delay_exponential = s->delay.exponential;
    o->delay = s->delay.fixed;
}

void checks_options_free(struct checks_options *o)
{
    free((void *)o->connectors);
    free((void *)o->names);
    free((void *)o->ids);
    free((void *)o->tags);
    o->connectors = o->names = o->ids = o->tags = NULL;
}

static bool listed(const char *const *names, const char *name)
{
    for (size_t i = 0; names && names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static struct servo_connector *find_connector(struct servo_connector *connectors, size_t count,
                                              const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(connectors[i].name, name) == 0)
            return &connectors[i];
    return NULL;
}

static int select_connectors(struct servo_connector *connectors, size_t count,
                             const struct checks_options *o, struct checks_report *r, char **error)
{
    for (size_t i = 0; o->connectors && o->connectors[i]; i++) {
        const char *name = o->connectors[i];
        struct servo_connector *c = find_connector(connectors, count, name);
        if (c == NULL) {
            struct strbuf sb;
            strbuf_init(&sb);
            for (size_t k = 0; k < count; k++)
                strbuf_printf(&sb, "%s%s", k ? ", " : "", connectors[k].name);
            *error = xasprintf("no connector named \"%s\" (available: %s)", name,
                               sb.len ? sb.data : "none");
            strbuf_release(&sb);
            return CHECKS_EUSAGE;
        }
        if (!bus_handles(c, SERVO_EVENT_CHECK, SERVO_ON)) {
            *error = xasprintf("connector \"%s\" (%s) has no checks", name, c->plugin->name);
            return CHECKS_EUSAGE;
        }
    }
    r->connectors = xcalloc(count ? count : 1, sizeof *r->connectors);
    for (size_t i = 0; i < count; i++) {
        struct servo_connector *c = &connectors[i];
        if (o->connectors ? !listed(o->connectors, c->name)
                          : !bus_handles(c, SERVO_EVENT_CHECK, SERVO_ON))
            continue;
        struct checks_connector *e = &r->connectors[r->count++];
        e->name = c->name;
        e->checks = json_array();
    }
    if (r->count == 0) {
        free(r->connectors);
        r->connectors = NULL;
        *error = xstrdup("no connector of this servo has checks");
        return -1;
    }
    return 0;
}

static bool check_passed(const json_t *check)
{
    const char *severity = json_string_value(json_object_get(check, "severity"));
    return json_is_true(json_object_get(check, "success")) ||
           (severity && strcmp(severity, "warning") == 0);
}

/* Folds one round's outcome into the report entries that were dispatched to. */
static void collect_round(struct checks_report *r, const char *const *pending,
                          const struct bus_outcome *out)
{
    for (size_t i = 0; i < r->count; i++) {
        struct checks_connector *e = &r->connectors[i];
        if (!listed(pending, e->name))
            continue;
        json_array_clear(e->checks);
        servo_error_clear(&e->error);
        bool answered = false;
        for (size_t k = 0; k < out->count; k++) {
            const struct servo_event_result *res = &out->results[k];
            if (strcmp(res->connector, e->name) != 0)
                continue;
            answered = true;
            if (res->error && e->error.kind == SERVO_ERROR_NONE)
                e->error = *res->error;
            if (json_is_array(res->value))
                json_array_extend(e->checks, (json_t *)res->value);
            else if (res->value != NULL && e->error.kind == SERVO_ERROR_NONE)
                servo_error_set(&e->error, SERVO_ERROR_FAILED, "invalid-result",
                                "the check handler of %s returned %s, not a list of checks",
                                e->name, json_is_object(res->value) ? "an object" : "a value");
        }
        if (!answered && e->error.kind == SERVO_ERROR_NONE) {
            if (out->error.kind != SERVO_ERROR_NONE)
                e->error = out->error;
            else
                servo_error_set(&e->error, SERVO_ERROR_FAILED, "no-result",
                                "the checks of %s returned no result", e->name);
        }
        e->ready = e->error.kind == SERVO_ERROR_NONE;
        size_t index;
        const json_t *check;
        json_array_foreach(e->checks, index, check)
        {
            e->ready = e->ready && check_passed(check);
        }
    }
    r->ready = true;
    r->check_count = 0;
    for (size_t i = 0; i < r->count; i++) {
        r->ready = r->ready && r->connectors[i].ready;
        r->check_count += json_array_size(r->connectors[i].checks);
    }
}

/* Progressive log lines for the connectors just run; `passing` remembers what was already
 * reported as passed ("connector/id"), so retries do not repeat it. */
static void log_round(const struct checks_report *r, const char *const *pending, json_t *passing)
{
    for (size_t i = 0; i < r->count; i++) {
        const struct checks_connector *e = &r->connectors[i];
        if (!listed(pending, e->name))
            continue;
        if (e->error.kind != SERVO_ERROR_NONE)
            servo_warning("❌ Checks of %s failed: %s", e->name, e->error.message);
        size_t index;
        const json_t *check;
        json_array_foreach(e->checks, index, check)
        {
            const char *name = json_string_value(json_object_get(check, "name"));
            const char *id = json_string_value(json_object_get(check, "id"));
            char *key = xasprintf("%s/%s", e->name, id ? id : "");
            if (json_is_true(json_object_get(check, "success"))) {
                if (json_object_get(passing, key) == NULL) {
                    servo_success("✅ Check '%s' passed", name);
                    json_object_set_new(passing, key, json_true());
                }
            } else {
                const char *message = json_string_value(json_object_get(check, "message"));
                const char *hint = json_string_value(json_object_get(check, "hint"));
                servo_warning("❌ Check '%s' failed (%zu passed): %s", name,
                              json_object_size(passing), message ? message : "-");
                if (hint)
                    servo_info("Hint: %s", hint);
            }
            free(key);
        }
    }
}

static double next_delay(const struct checks_options *o, unsigned round)
{
    if (!o->delay_exponential) {
        double fixed = servo_duration_seconds(o->delay);
        return fixed > MIN_FIXED_DELAY_SECONDS ? fixed : MIN_FIXED_DELAY_SECONDS;
    }
    double delay = servo_duration_seconds(CHECK_EXPO_FIRST_DELAY);
    for (unsigned i = 1; i < round && delay < 1e6; i++)
        delay *= 2;
    return delay;
}

int checks_run(struct servo_connector *connectors, size_t count, const struct checks_options *o,
               struct checks_report *r, char **error)
{
    memset(r, 0, sizeof *r);
    json_t *argument = checks_argument(o->names, o->ids, o->tags, o->halt_on, o->remedy, error);
    if (argument == NULL)
        return CHECKS_EUSAGE;
    int rc = select_connectors(connectors, count, o, r, error);
    if (rc != 0) {
        json_decref(argument);
        return rc;
    }
    struct cancel_token waiting;
    cancel_init(&waiting, o->parent, 0);
    double wait = o->wait > 0 ? servo_duration_seconds(o->wait) : 0;
    double deadline = clock_monotonic() + wait;
    const char **pending = xcalloc(r->count + 1, sizeof *pending);
    json_t *passing = json_object();
    char text[SERVO_VALUE_TEXT_MAX];
    if (wait > 0 && o->progressive) {
        char delay_text[SERVO_VALUE_TEXT_MAX];
        servo_duration_format(o->wait, text);
        if (o->delay_exponential)
            snprintf(delay_text, sizeof delay_text, "expo");
        else
            servo_duration_format(o->delay, delay_text);
        servo_info("Running checks progressively for up to %s with a delay of %s between "
                   "iterations",
                   text, delay_text);
    }
    for (;;) {
        size_t n = 0;
        for (size_t i = 0; i < r->count; i++)
            if (r->rounds == 0 || !r->connectors[i].ready)
                pending[n++] = r->connectors[i].name;
        pending[n] = NULL;
        struct event_args args;
        event_args_init(&args);
        args.argument = argument;
        struct bus_options bus = {.include = pending, .parent = &waiting};
        if (wait > 0) {
            double left = deadline - clock_monotonic();
            bus.timeout = left > ROUND_MIN_SECONDS ? left : ROUND_MIN_SECONDS;
        }
        struct bus_outcome out;
        bus_dispatch(connectors, count, SERVO_EVENT_CHECK, &args, &bus, &out);
        r->rounds++;
        collect_round(r, pending, &out);
        if (o->progressive)
            log_round(r, pending, passing);
        bus_outcome_free(&out);
        event_args_free(&args);
        if (r->ready) {
            if (o->progressive && r->check_count > 0) /* none ran: the caller says why */
                servo_info("🔥 All checks passed.");
            break;
        }
        double remaining = deadline - clock_monotonic();
        if (wait <= 0 || remaining <= 0.001 || cancel_requested(&waiting)) {
            r->timed_out = wait > 0;
            if (wait > 0) {
                servo_duration_format(o->wait, text);
                servo_error("timed out waiting for checks to pass %s", text);
            }
            break;
        }
        double delay = next_delay(o, r->rounds);
        if (delay > remaining)
            delay = remaining;
        servo_duration d = 0;
        servo_duration_from_seconds(delay, &d, NULL);
        servo_duration_format(d, text);
        servo_info("waiting for %s before rerunning failing checks", text);
        if (cancel_wait(&waiting, delay)) {
            r->timed_out = true;
            break;
        }
    }
    json_decref(passing);
    free(pending);
    cancel_destroy(&waiting);
    json_decref(argument);
    return 0;
}

void checks_report_free(struct checks_report *r)
{
    for (size_t i = 0; i < r->count; i++)
        json_decref(r->connectors[i].checks);
    free(r->connectors);
    memset(r, 0, sizeof *r);
}

json_t *checks_report_json(const struct checks_report *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < r->count; i++) {
        const struct checks_connector *e = &r->connectors[i];
        if (e->error.kind != SERVO_ERROR_NONE)
            json_array_append_new(
                list,
                json_pack("{s:s, s:s, s:s, s:n, s:s, s:[], s:b, s:s, s:n, s:n, s:f}", "connector",
                          e->name, "name", "checks of the connector", "id", "handler",
                          "description", "severity", "critical", "tags", "success", false,
                          "message", e->error.message, "hint", "remedy", "runtime_ms", 0.0));
        size_t index;
        json_t *check;
        json_array_foreach(e->checks, index, check)
        {
            json_t *o = json_object();
            json_object_set_new(o, "connector", json_string(e->name));
            json_object_update(o, check);
            json_array_append_new(list, o);
        }
    }
    return list;
}
