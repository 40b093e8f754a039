#include "config/settings.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/yaml.h"
#include "servo/http.h"
#include "util/util.h"

#define SECRET_MASK "**********"

struct load_context {
    struct servo_diags *diags;
    int errors;
};

struct servo_validation {
    struct load_context *ctx;
    const struct servo_node *node;  /* the value validated; NULL for a default */
    const struct servo_node *where; /* a place to point at when `node` is NULL */
    const char *path;
};

static int load_value(struct load_context *c, const struct servo_field *f,
                      const struct servo_node *node, void *dst, const char *path,
                      const struct servo_node *where);
static void free_object_fields(const struct servo_schema *schema, void *base);
static void free_value(const struct servo_field *f, void *dst);

/* ---- errors ---------------------------------------------------------------------------- */

static void report(struct load_context *c, const struct servo_node *node,
                   const struct servo_node *where, const char *path, const char *fmt, ...)
    SERVO_PRINTF(5, 6);

static void report(struct load_context *c, const struct servo_node *node,
                   const struct servo_node *where, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    diag_at(c->diags, node ? node : where, NULL, path, "%s", message);
    free(message);
    c->errors++;
}

/* "invalid duration \"5x\": unknown unit" */
static void report_invalid(struct load_context *c, const struct servo_node *node,
                           const struct servo_node *where, const char *path, const char *what,
                           const char *text, const char *why)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "invalid %s ", what);
    strbuf_quote(&sb, text, 120);
    if (why)
        strbuf_printf(&sb, ": %s", why);
    report(c, node, where, path, "%s", sb.data);
    strbuf_release(&sb);
}

int servo_validation_error(struct servo_validation *v, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = xvasprintf(fmt, ap);
    va_end(ap);
    const struct servo_node *at = v->node ? v->node : v->where;
    char *path = NULL;
    if (field != NULL) {
        const struct servo_node *child = servo_node_get(v->node, field);
        if (child != NULL)
            at = child;
        path = v->path[0] ? xasprintf("%s.%s", v->path, field) : xstrdup(field);
    }
    diag_at(v->ctx->diags, at, NULL, path ? path : v->path, "%s", message);
    v->ctx->errors++;
    free(path);
    free(message);
    return -1;
}

const struct servo_node *servo_validation_node(const struct servo_validation *v)
{
    return v->node;
}

/* ---- paths and sizes ------------------------------------------------------------------- */

static char *join_path(const char *parent, const char *name)
{
    if (parent == NULL || parent[0] == '\0')
        return xstrdup(name);
    return xasprintf("%s.%s", parent, name);
}

size_t settings_value_size(const struct servo_field *f)
{
    switch (f->type) {
    case SERVO_FIELD_BOOL:
        return sizeof(bool);
    case SERVO_FIELD_INT:
    case SERVO_FIELD_DURATION:
    case SERVO_FIELD_CPU:
    case SERVO_FIELD_MEMORY:
        return sizeof(int64_t);
    case SERVO_FIELD_FLOAT:
        return sizeof(double);
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_URL:
        return sizeof(char *);
    case SERVO_FIELD_RATE:
        return sizeof(struct servo_rate);
    case SERVO_FIELD_ENUM:
        return sizeof(int);
    case SERVO_FIELD_LIST:
        return sizeof(struct servo_list);
    case SERVO_FIELD_MAP:
        return sizeof(struct servo_map);
    case SERVO_FIELD_OBJECT:
        return (f->flags & SERVO_F_OPTIONAL) ? sizeof(void *) : f->object->size;
    case SERVO_FIELD_CUSTOM:
        return f->custom->size;
    }
    return 0;
}

/* ---- scalars --------------------------------------------------------------------------- */

static bool expect_scalar(struct load_context *c, const struct servo_node *node, const char *path,
                          const char *what)
{
    if (node->kind == SERVO_NODE_SCALAR)
        return true;
    report(c, node, NULL, path, "expected %s, got %s", what, servo_node_describe(node));
    return false;
}

static bool parse_bool_word(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_int64(const char *text, int64_t *out)
{
    /* strtoll would skip leading blanks (possible in environment variables) */
    if (text[0] == '\0' || isspace((unsigned char)text[0]) || (text[0] == '+' && text[1] == '\0'))
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text)
        return false;
    *out = (int64_t)v;
    return true;
}

static bool parse_double(const char *text, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || end == text || !isfinite(v))
        return false;
    /* strtod also reads hex floats and "infinity"; only decimal notation is a YAML number */
    for (const char *p = text; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return false;
    *out = v;
    return true;
}

static void format_bound(const struct servo_field *f, double bound, char buf[SERVO_VALUE_TEXT_MAX])
{
    switch (f->type) {
    case SERVO_FIELD_DURATION:
        servo_duration_format((servo_duration)bound, buf);
        return;
    case SERVO_FIELD_CPU:
        servo_cpu_format((int64_t)bound, buf);
        return;
    case SERVO_FIELD_MEMORY:
        servo_memory_format((int64_t)bound, buf);
        return;
    case SERVO_FIELD_INT:
    case SERVO_FIELD_LIST:
    case SERVO_FIELD_MAP:
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_URL:
        snprintf(buf, SERVO_VALUE_TEXT_MAX, "%.0f", bound);
        return;
    case SERVO_FIELD_FLOAT:
    case SERVO_FIELD_BOOL:
    case SERVO_FIELD_RATE:
    case SERVO_FIELD_ENUM:
    case SERVO_FIELD_OBJECT:
    case SERVO_FIELD_CUSTOM:
        break;
    }
    snprintf(buf, SERVO_VALUE_TEXT_MAX, "%g", bound);
}

static int check_bounds(struct load_context *c, const struct servo_field *f, double value,
                        const struct servo_node *node, const struct servo_node *where,
                        const char *path, const char *noun)
{
    char buf[SERVO_VALUE_TEXT_MAX];
    if ((f->flags & SERVO_F_MIN) && value < f->min) {
        format_bound(f, f->min, buf);
        report(c, node, where, path, "%s must be at least %s", noun, buf);
        return -1;
    }
    if ((f->flags & SERVO_F_MAX) && value > f->max) {
        format_bound(f, f->max, buf);
        report(c, node, where, path, "%s must be at most %s", noun, buf);
        return -1;
    }
    return 0;
}

static int check_pattern(struct load_context *c, const struct servo_field *f, const char *text,
                         const struct servo_node *node, const struct servo_node *where,
                         const char *path)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                                   &offset, NULL);
    if (re == NULL) {
        report(c, node, where, path, "the settings table's pattern /%s/ does not compile",
               f->pattern);
        return -1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (md == NULL) { /* PCRE2 allocates with malloc: not "does not match" */
        pcre2_code_free(re);
        report(c, node, where, path, "out of memory matching the pattern /%s/", f->pattern);
        return -1;
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    if (rc >= 0)
        return 0;
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_quote(&sb, text, 120);
    report(c, node, where, path, "%s does not match the pattern /%s/", sb.data, f->pattern);
    strbuf_release(&sb);
    return -1;
}

static int check_url(struct load_context *c, const char *text, const struct servo_node *node,
                     const struct servo_node *where, const char *path)
{
    const char *why = NULL;
    if (servo_url_parse(text, NULL, &why) == 0)
        return 0;
    report_invalid(c, node, where, path, "URL", text, why);
    return -1;
}

static int load_string(struct load_context *c, const struct servo_field *f,
                       const struct servo_node *node, void *dst, const char *path)
{
    if (!expect_scalar(c, node, path, "a string"))
        return -1;
    const char *text = node->text;
    if ((f->flags & SERVO_F_NONEMPTY) && text[0] == '\0') {
        report(c, node, NULL, path, "must not be empty");
        return -1;
    }
    if (f->type == SERVO_FIELD_URL && check_url(c, text, node, NULL, path) != 0)
        return -1;
    if (f->pattern && check_pattern(c, f, text, node, NULL, path) != 0)
        return -1;
    *(char **)dst = xstrdup(text);
    return 0;
}

static int load_enum(struct load_context *c, const struct servo_field *f,
                     const struct servo_node *node, void *dst, const char *path)
{
    if (!expect_scalar(c, node, path, "one of the choices"))
        return -1;
    for (int i = 0; f->choices && f->choices[i]; i++) {
        if (strcmp(f->choices[i], node->text) == 0) {
            *(int *)dst = i;
            return 0;
        }
    }
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_quote(&sb, node->text, 80);
    strbuf_puts(&sb, " is not one of: ");
    for (int i = 0; f->choices && f->choices[i]; i++)
        strbuf_printf(&sb, "%s%s", i ? ", " : "", f->choices[i]);
    report(c, node, NULL, path, "%s", sb.data);
    strbuf_release(&sb);
    return -1;
}

static int load_quantity(struct load_context *c, const struct servo_field *f,
                         const struct servo_node *node, void *dst, const char *path)
{
    const char *what = f->type == SERVO_FIELD_DURATION ? "duration"
                       : f->type == SERVO_FIELD_CPU    ? "CPU quantity"
                                                       : "memory quantity";
    char *expected = xasprintf("a %s", what);
    bool scalar = expect_scalar(c, node, path, expected);
    free(expected);
    if (!scalar)
        return -1;
    const char *why = NULL;
    int64_t value = 0;
    int rc = f->type == SERVO_FIELD_DURATION ? servo_duration_parse(node->text, &value, &why)
             : f->type == SERVO_FIELD_CPU    ? servo_cpu_parse(node->text, &value, &why)
                                             : servo_memory_parse(node->text, &value, &why);
    if (rc != 0) {
        report_invalid(c, node, NULL, path, what, node->text, why);
        return -1;
    }
    if (check_bounds(c, f, (double)value, node, NULL, path, "the value") != 0)
        return -1;
    *(int64_t *)dst = value;
    return 0;
}

static int load_scalar(struct load_context *c, const struct servo_field *f,
                       const struct servo_node *node, void *dst, const char *path)
{
    switch (f->type) {
    case SERVO_FIELD_BOOL: {
        bool v;
        if (!expect_scalar(c, node, path, "a boolean"))
            return -1;
        if (node->quoted || !parse_bool_word(node->text, &v)) {
            report_invalid(c, node, NULL, path, "boolean", node->text, "expected true or false");
            return -1;
        }
        *(bool *)dst = v;
        return 0;
    }
    case SERVO_FIELD_INT: {
        int64_t v;
        if (!expect_scalar(c, node, path, "an integer"))
            return -1;
        if (node->quoted || !parse_int64(node->text, &v)) {
            report_invalid(c, node, NULL, path, "integer", node->text, NULL);
            return -1;
        }
        if (check_bounds(c, f, (double)v, node, NULL, path, "the value") != 0)
            return -1;
        *(int64_t *)dst = v;
        return 0;
    }
    case SERVO_FIELD_FLOAT: {
        double v;
        if (!expect_scalar(c, node, path, "a number"))
            return -1;
        if (node->quoted || !parse_double(node->text, &v)) {
            report_invalid(c, node, NULL, path, "number", node->text, NULL);
            return -1;
        }
        if (check_bounds(c, f, v, node, NULL, path, "the value") != 0)
            return -1;
        *(double *)dst = v;
        return 0;
    }
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_URL:
        return load_string(c, f, node, dst, path);
    case SERVO_FIELD_DURATION:
    case SERVO_FIELD_CPU:
    case SERVO_FIELD_MEMORY:
        return load_quantity(c, f, node, dst, path);
    case SERVO_FIELD_RATE: {
        const char *why = NULL;
        if (!expect_scalar(c, node, path, "a rate"))
            return -1;
        if (servo_rate_parse(node->text, (struct servo_rate *)dst, &why) != 0) {
            report_invalid(c, node, NULL, path, "rate", node->text,
                           why ? why : "rate strings are of the form hits/interval");
            return -1;
        }
        return 0;
    }
    case SERVO_FIELD_ENUM:
        return load_enum(c, f, node, dst, path);
    case SERVO_FIELD_LIST:
    case SERVO_FIELD_MAP:
    case SERVO_FIELD_OBJECT:
    case SERVO_FIELD_CUSTOM:
        break;
    }
    return -1;
}

/* ---- containers ------------------------------------------------------------------------ */

static int load_list(struct load_context *c, const struct servo_field *f,
                     const struct servo_node *node, struct servo_list *list, const char *path)
{
    if (node->kind != SERVO_NODE_SEQ) {
        report(c, node, NULL, path, "expected a sequence, got %s", servo_node_describe(node));
        return -1;
    }
    if ((f->flags & SERVO_F_NONEMPTY) && node->count == 0) {
        report(c, node, NULL, path, "must not be empty");
        return -1;
    }
    size_t size = settings_value_size(f->item);
    list->items = xcalloc(node->count, size);
    list->count = node->count;
    int rc = 0;
    for (size_t i = 0; i < node->count; i++) {
        char *item_path = xasprintf("%s[%zu]", path, i);
        if (load_value(c, f->item, node->items[i], (char *)list->items + i * size, item_path,
                       node) != 0)
            rc = -1;
        free(item_path);
    }
    return rc;
}

static struct servo_node *expand_shorthand(const struct servo_field *f,
                                           const struct servo_node *scalar)
{
    struct servo_node *map = node_new(SERVO_NODE_MAP, scalar->source, scalar->line, scalar->column);
    if (strcmp(f->shorthand, "*") != 0 || f->type != SERVO_FIELD_OBJECT) {
        node_map_set(map, f->shorthand, scalar->line, scalar->column, node_clone(scalar));
        return map;
    }
    for (const struct servo_field *sub = f->object->fields; sub->name; sub++)
        node_map_set(map, sub->name, scalar->line, scalar->column, node_clone(scalar));
    return map;
}

static int load_map(struct load_context *c, const struct servo_field *f,
                    const struct servo_node *node, struct servo_map *map, const char *path)
{
    if (node->kind != SERVO_NODE_MAP) {
        report(c, node, NULL, path, "expected a mapping, got %s", servo_node_describe(node));
        return -1;
    }
    if ((f->flags & SERVO_F_NONEMPTY) && node->count == 0) {
        report(c, node, NULL, path, "must not be empty");
        return -1;
    }
    size_t size = settings_value_size(f->item);
    map->keys = xcalloc(node->count, sizeof *map->keys);
    map->values = xcalloc(node->count, size);
    map->count = node->count;
    int rc = 0;
    for (size_t i = 0; i < node->count; i++) {
        const struct servo_pair *p = &node->pairs[i];
        map->keys[i] = xstrdup(p->key);
        char *item_path = join_path(path, p->key);
        if (load_value(c, f->item, p->value, (char *)map->values + i * size, item_path, node) != 0)
            rc = -1;
        free(item_path);
    }
    return rc;
}

static void unknown_key(struct load_context *c, const struct servo_schema *schema,
                        const struct servo_pair *pair, const char *path)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "unknown key ");
    strbuf_quote(&sb, pair->key, 80);
    strbuf_puts(&sb, " (allowed: ");
    for (const struct servo_field *f = schema->fields; f->name; f++)
        strbuf_printf(&sb, "%s%s", f == schema->fields ? "" : ", ", f->name);
    strbuf_putc(&sb, ')');
    char *key_path = join_path(path, pair->key);
    /* the value's source: a key merged in from $SERVO_<KEY> lives in the file's mapping */
    diag_add(c->diags, pair->value->source, pair->line, pair->column, key_path, "%s", sb.data);
    c->errors++;
    free(key_path);
    strbuf_release(&sb);
}

static const struct servo_field *find_field(const struct servo_schema *schema, const char *name)
{
    for (const struct servo_field *f = schema->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static void set_unset(const struct servo_field *f, void *dst)
{
    switch (f->type) {
    case SERVO_FIELD_INT:
    case SERVO_FIELD_DURATION:
    case SERVO_FIELD_CPU:
    case SERVO_FIELD_MEMORY:
        *(int64_t *)dst = SERVO_UNSET;
        return;
    case SERVO_FIELD_FLOAT:
        *(double *)dst = NAN;
        return;
    case SERVO_FIELD_ENUM:
        *(int *)dst = -1;
        return;
    case SERVO_FIELD_RATE:
        ((struct servo_rate *)dst)->hits = -1;
        ((struct servo_rate *)dst)->period = 0;
        return;
    case SERVO_FIELD_BOOL:
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_URL:
    case SERVO_FIELD_LIST:
    case SERVO_FIELD_MAP:
    case SERVO_FIELD_OBJECT:
    case SERVO_FIELD_CUSTOM:
        return; /* zero is "unset" */
    }
}

static int load_object(struct load_context *c, const struct servo_schema *schema,
                       const struct servo_node *node, void *base, const char *path,
                       const struct servo_node *where);

static int load_absent(struct load_context *c, const struct servo_field *f, void *dst,
                       const char *path, const struct servo_node *where)
{
    if (f->def != NULL) {
        struct servo_node *def = settings_parse_default(f->def);
        if (def == NULL) {
            report(c, NULL, where, path, "the settings table's default does not parse");
            return -1;
        }
        int rc = load_value(c, f, def, dst, path, where);
        node_free(def);
        return rc;
    }
    if (f->flags & SERVO_F_REQUIRED) {
        report(c, NULL, where, path, "field required");
        return -1;
    }
    set_unset(f, dst);
    if (f->type == SERVO_FIELD_OBJECT && !(f->flags & SERVO_F_OPTIONAL))
        return load_object(c, f->object, NULL, dst, path, where);
    return 0;
}

static int load_field(struct load_context *c, const struct servo_field *f,
                      const struct servo_node *map, void *base, const char *parent_path,
                      const struct servo_node *where)
{
    char *path = join_path(parent_path, f->name);
    const struct servo_node *value = servo_node_get(map, f->name);
    void *dst = (char *)base + f->offset;
    int rc;
    if (value == NULL || value->kind == SERVO_NODE_NULL)
        rc = load_absent(c, f, dst, path, value ? value : (map ? map : where));
    else
        rc = load_value(c, f, value, dst, path, where);
    free(path);
    return rc;
}

static int load_object(struct load_context *c, const struct servo_schema *schema,
                       const struct servo_node *node, void *base, const char *path,
                       const struct servo_node *where)
{
    if (node != NULL && node->kind != SERVO_NODE_MAP) {
        report(c, node, NULL, path, "expected a mapping, got %s", servo_node_describe(node));
        return -1;
    }
    int errors_before = c->errors;
    for (size_t i = 0; node != NULL && i < node->count; i++)
        if (find_field(schema, node->pairs[i].key) == NULL)
            unknown_key(c, schema, &node->pairs[i], path);
    for (const struct servo_field *f = schema->fields; f->name; f++)
        load_field(c, f, node, base, path, where);
    if (c->errors == errors_before && schema->validate != NULL) {
        struct servo_validation v = {.ctx = c, .node = node, .where = where, .path = path};
        schema->validate(base, &v);
    }
    return c->errors == errors_before ? 0 : -1;
}

static int load_object_field(struct load_context *c, const struct servo_field *f,
                             const struct servo_node *node, void *dst, const char *path)
{
    struct servo_node *expanded = NULL;
    if (node->kind == SERVO_NODE_SCALAR && f->shorthand != NULL)
        node = expanded = expand_shorthand(f, node);
    int rc;
    if (f->flags & SERVO_F_OPTIONAL) {
        void *object = xcalloc(1, f->object->size);
        *(void **)dst = object;
        rc = load_object(c, f->object, node, object, path, node);
    } else {
        rc = load_object(c, f->object, node, dst, path, node);
    }
    node_free(expanded);
    return rc;
}

static int load_value(struct load_context *c, const struct servo_field *f,
                      const struct servo_node *node, void *dst, const char *path,
                      const struct servo_node *where)
{
    int errors_before = c->errors;
    int rc;
    switch (f->type) {
    case SERVO_FIELD_LIST: {
        struct servo_node *wrapped = NULL;
        if (node->kind == SERVO_NODE_SCALAR && f->shorthand != NULL) {
            wrapped = node_new(SERVO_NODE_SEQ, node->source, node->line, node->column);
            node_seq_push(wrapped, node_clone(node));
            node = wrapped;
        }
        rc = load_list(c, f, node, dst, path);
        node_free(wrapped);
        break;
    }
    case SERVO_FIELD_MAP: {
        struct servo_node *expanded = NULL;
        if (node->kind == SERVO_NODE_SCALAR && f->shorthand != NULL)
            node = expanded = expand_shorthand(f, node);
        rc = load_map(c, f, node, dst, path);
        node_free(expanded);
        break;
    }
    case SERVO_FIELD_OBJECT:
        rc = load_object_field(c, f, node, dst, path);
        break;
    case SERVO_FIELD_CUSTOM: {
        struct servo_validation v = {.ctx = c, .node = node, .where = where, .path = path};
        rc = f->custom->parse(node, dst, &v);
        break;
    }
    case SERVO_FIELD_BOOL:
    case SERVO_FIELD_INT:
    case SERVO_FIELD_FLOAT:
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_DURATION:
    case SERVO_FIELD_CPU:
    case SERVO_FIELD_MEMORY:
    case SERVO_FIELD_RATE:
    case SERVO_FIELD_URL:
    case SERVO_FIELD_ENUM:
    default:
        rc = load_scalar(c, f, node, dst, path);
        break;
    }
    if (rc == 0 && c->errors == errors_before && f->validate != NULL) {
        struct servo_validation v = {.ctx = c, .node = node, .where = where, .path = path};
        f->validate(dst, &v);
    }
    if (rc != 0 && c->errors == errors_before) {
        report(c, node, where, path, "invalid value");
    }
    return c->errors == errors_before ? 0 : -1;
}

void *settings_load(const struct servo_schema *schema, const struct servo_node *node,
                    const char *path, const struct servo_node *where, struct servo_diags *diags)
{
    struct load_context c = {.diags = diags};
    void *settings = xcalloc(1, schema->size);
    if (node != NULL && node->kind == SERVO_NODE_NULL)
        node = NULL;
    if (load_object(&c, schema, node, settings, path ? path : "", node ? node : where) != 0) {
        settings_free(schema, settings);
        return NULL;
    }
    return settings;
}

/* ---- freeing --------------------------------------------------------------------------- */

static void free_value(const struct servo_field *f, void *dst)
{
    switch (f->type) {
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_URL:
        free(*(char **)dst);
        *(char **)dst = NULL;
        return;
    case SERVO_FIELD_LIST: {
        struct servo_list *list = dst;
        size_t size = settings_value_size(f->item);
        for (size_t i = 0; list->items && i < list->count; i++)
            free_value(f->item, (char *)list->items + i * size);
        free(list->items);
        list->items = NULL;
        list->count = 0;
        return;
    }
    case SERVO_FIELD_MAP: {
        struct servo_map *map = dst;
        size_t size = settings_value_size(f->item);
        for (size_t i = 0; i < map->count; i++) {
            if (map->keys)
                free(map->keys[i]);
            if (map->values)
                free_value(f->item, (char *)map->values + i * size);
        }
        free(map->keys);
        free(map->values);
        memset(map, 0, sizeof *map);
        return;
    }
    case SERVO_FIELD_OBJECT:
        if (f->flags & SERVO_F_OPTIONAL) {
            void *object = *(void **)dst;
            if (object) {
                free_object_fields(f->object, object);
                free(object);
            }
            *(void **)dst = NULL;
        } else {
            free_object_fields(f->object, dst);
        }
        return;
    case SERVO_FIELD_CUSTOM:
        if (f->custom->free)
            f->custom->free(dst);
        return;
    case SERVO_FIELD_BOOL:
    case SERVO_FIELD_INT:
    case SERVO_FIELD_FLOAT:
    case SERVO_FIELD_DURATION:
    case SERVO_FIELD_CPU:
    case SERVO_FIELD_MEMORY:
    case SERVO_FIELD_RATE:
    case SERVO_FIELD_ENUM:
        return;
    }
}

static void free_object_fields(const struct servo_schema *schema, void *base)
{
    for (const struct servo_field *f = schema->fields; f->name; f++)
        free_value(f, (char *)base + f->offset);
}

void settings_free(const struct servo_schema *schema, void *settings)
{
    if (settings == NULL)
        return;
    free_object_fields(schema, settings);
    free(settings);
}

/* ---- output ---------------------------------------------------------------------------- */

static json_t *value_to_json(const struct servo_field *f, const void *src, bool show_secrets);

static json_t *object_to_json(const struct servo_schema *schema, const void *base,
                              bool show_secrets)
{
    json_t *obj = json_object();
    for (const struct servo_field *f = schema->fields; f->name; f++)
        json_object_set_new(obj, f->name,
                            value_to_json(f, (const char *)base + f->offset, show_secrets));
    return obj;
}

static json_t *formatted(size_t (*format)(int64_t, char *), int64_t value)
{
    char buf[SERVO_VALUE_TEXT_MAX];
    if (value == SERVO_UNSET)
        return json_null();
    format(value, buf);
    return json_string(buf);
}

static size_t format_duration_value(int64_t value, char *buf)
{
    return servo_duration_format(value, buf);
}

/* Every value inside `json` (a new reference, consumed) replaced by the mask; null stays. */
static json_t *masked(json_t *json)
{
    size_t i;
    const char *key;
    json_t *v;
    if (json_is_null(json))
        return json;
    if (json_is_array(json)) {
        json_array_foreach(json, i, v)
        {
            json_array_set_new(json, i, masked(json_incref(v)));
        }
        return json;
    }
    if (json_is_object(json)) {
        json_object_foreach(json, key, v)
        {
            json_object_set_new(json, key, masked(json_incref(v)));
        }
        return json;
    }
    json_decref(json);
    return json_string(SECRET_MASK);
}

static json_t *plain_value_to_json(const struct servo_field *f, const void *src, bool show_secrets);

/* SERVO_F_SECRET masks any type (a map of headers, say); a custom type masks itself. */
static json_t *value_to_json(const struct servo_field *f, const void *src, bool show_secrets)
{
    json_t *json = plain_value_to_json(f, src, show_secrets);
    if ((f->flags & SERVO_F_SECRET) && !show_secrets && f->type != SERVO_FIELD_CUSTOM)
        return masked(json);
    return json;
}

static json_t *plain_value_to_json(const struct servo_field *f, const void *src, bool show_secrets)
{
    switch (f->type) {
    case SERVO_FIELD_BOOL:
        return json_boolean(*(const bool *)src);
    case SERVO_FIELD_INT: {
        int64_t v = *(const int64_t *)src;
        return v == SERVO_UNSET ? json_null() : json_integer(v);
    }
    case SERVO_FIELD_FLOAT: {
        double v = *(const double *)src;
        return isnan(v) ? json_null() : json_real(v);
    }
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_URL:
    case SERVO_FIELD_SECRET: {
        const char *s = *(char *const *)src;
        if (s == NULL)
            return json_null();
        bool secret = f->type == SERVO_FIELD_SECRET || (f->flags & SERVO_F_SECRET);
        if (secret && !show_secrets)
            return json_string(SECRET_MASK);
        /* a password in a URL ("http://user:PASS@host/") is a secret too */
        char *redacted = show_secrets ? NULL : str_redact_url_passwords(s);
        json_t *json = json_string(redacted ? redacted : s);
        free(redacted);
        return json;
    }
    case SERVO_FIELD_DURATION:
        return formatted(format_duration_value, *(const int64_t *)src);
    case SERVO_FIELD_CPU:
        return formatted(servo_cpu_format, *(const int64_t *)src);
    case SERVO_FIELD_MEMORY:
        return formatted(servo_memory_format, *(const int64_t *)src);
    case SERVO_FIELD_RATE: {
        const struct servo_rate *rate = src;
        char buf[SERVO_VALUE_TEXT_MAX];
        if (rate->hits < 0)
            return json_null();
        servo_rate_format(rate, buf);
        return json_string(buf);
    }
    case SERVO_FIELD_ENUM: {
        int index = *(const int *)src;
        return index < 0 ? json_null() : json_string(f->choices[index]);
    }
    case SERVO_FIELD_LIST: {
        const struct servo_list *list = src;
        size_t size = settings_value_size(f->item);
        json_t *array = json_array();
        for (size_t i = 0; i < list->count; i++)
            json_array_append_new(
                array, value_to_json(f->item, (const char *)list->items + i * size, show_secrets));
        return array;
    }
    case SERVO_FIELD_MAP: {
        const struct servo_map *map = src;
        size_t size = settings_value_size(f->item);
        json_t *obj = json_object();
        for (size_t i = 0; i < map->count; i++)
            json_object_set_new(
                obj, map->keys[i],
                value_to_json(f->item, (const char *)map->values + i * size, show_secrets));
        return obj;
    }
    case SERVO_FIELD_OBJECT:
        if (f->flags & SERVO_F_OPTIONAL) {
            const void *object = *(void *const *)src;
            return object ? object_to_json(f->object, object, show_secrets) : json_null();
        }
        return object_to_json(f->object, src, show_secrets);
    case SERVO_FIELD_CUSTOM:
        return f->custom->to_json(src, show_secrets);
    }
    return json_null();
}

json_t *settings_to_json(const struct servo_schema *schema, const void *settings, bool show_secrets)
{
    return object_to_json(schema, settings, show_secrets);
}

/* ---- nodes and JSON -------------------------------------------------------------------- */

struct servo_node *settings_parse_default(const char *text)
{
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    int rc = yaml_load(text, strlen(text), "<default>", &docs, &diags);
    diags_free(&diags);
    if (rc != 0 || docs.count != 1) {
        yaml_documents_free(&docs);
        return NULL;
    }
    struct servo_node *node = docs.items[0];
    docs.count = 0;
    yaml_documents_free(&docs);
    return node;
}

struct servo_node *node_from_json(const json_t *value, const char *source)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        struct servo_node *map = node_new(SERVO_NODE_MAP, source, 0, 0);
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)value, key, v)
            node_map_set(map, key, 0, 0, node_from_json(v, source));
        return map;
    }
    case JSON_ARRAY: {
        struct servo_node *seq = node_new(SERVO_NODE_SEQ, source, 0, 0);
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v) node_seq_push(seq, node_from_json(v, source));
        return seq;
    }
    case JSON_STRING:
        return node_new_scalar(json_string_value(value), true, source, 0, 0);
    case JSON_INTEGER: {
        char buf[32];
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        return node_new_scalar(buf, false, source, 0, 0);
    }
    case JSON_REAL: {
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", json_real_value(value));
        return node_new_scalar(buf, false, source, 0, 0);
    }
    case JSON_TRUE:
        return node_new_scalar("true", false, source, 0, 0);
    case JSON_FALSE:
        return node_new_scalar("false", false, source, 0, 0);
    case JSON_NULL:
        break;
    }
    return node_new(SERVO_NODE_NULL, source, 0, 0);
}

static json_t *scalar_to_json(const struct servo_node *node)
{
    int64_t i;
    double d;
    if (!node->quoted) {
        if (parse_int64(node->text, &i))
            return json_integer(i);
        if (parse_double(node->text, &d))
            return json_real(d);
        if (strcmp(node->text, "true") == 0 || strcmp(node->text, "false") == 0)
            return json_boolean(node->text[0] == 't');
    }
    return json_string(node->text);
}

json_t *node_to_json(const struct servo_node *node)
{
    switch (servo_node_kind(node)) {
    case SERVO_NODE_NULL:
        return json_null();
    case SERVO_NODE_SCALAR:
        return scalar_to_json(node);
    case SERVO_NODE_SEQ: {
        json_t *array = json_array();
        for (size_t i = 0; i < node->count; i++)
            json_array_append_new(array, node_to_json(node->items[i]));
        return array;
    }
    case SERVO_NODE_MAP: {
        json_t *obj = json_object();
        for (size_t i = 0; i < node->count; i++)
            json_object_set_new(obj, node->pairs[i].key, node_to_json(node->pairs[i].value));
        return obj;
    }
    }
    return json_null();
}

/* ---- table checks ---------------------------------------------------------------------- */

static int check_field(const struct servo_schema *schema, const struct servo_field *f,
                       const char *name, struct servo_diags *diags);

int settings_check_schema(const struct servo_schema *schema, struct servo_diags *diags)
{
    int rc = 0;
    for (const struct servo_field *f = schema->fields; f->name; f++)
        if (check_field(schema, f, f->name, diags) != 0)
            rc = -1;
    return rc;
}

static int check_pattern_compiles(const char *title, const struct servo_field *f, const char *name,
                                  struct servo_diags *diags)
{
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                                   &offset, NULL);
    if (re != NULL) {
        pcre2_code_free(re);
        return 0;
    }
    PCRE2_UCHAR why[256];
    pcre2_get_error_message(code, why, sizeof why);
    diag_add(diags, title, 0, 0, name, "the pattern /%s/ does not compile: %s", f->pattern,
             (const char *)why);
    return -1;
}

static int check_shorthand(const char *title, const struct servo_field *f, const char *name,
                           struct servo_diags *diags)
{
    if (f->type != SERVO_FIELD_OBJECT || strcmp(f->shorthand, "*") == 0 ||
        find_field(f->object, f->shorthand) != NULL)
        return 0;
    diag_add(diags, title, 0, 0, name, "the shorthand \"%s\" names no field of %s", f->shorthand,
             f->object->title ? f->object->title : "the object");
    return -1;
}

/* Loads the default as a file's value would be; its problems are the table's. */
static int check_default(const char *title, const struct servo_field *f, const char *name,
                         struct servo_diags *diags)
{
    struct servo_node *def = settings_parse_default(f->def);
    if (def == NULL) {
        diag_add(diags, title, 0, 0, name, "the default %s is not valid YAML", f->def);
        return -1;
    }
    struct servo_diags found;
    diags_init(&found);
    struct load_context c = {.diags = &found};
    unsigned char *storage = xcalloc(1, settings_value_size(f));
    int rc = load_value(&c, f, def, storage, name, NULL);
    for (size_t i = 0; i < found.count; i++)
        diag_add(diags, title, 0, 0, found.items[i].path, "the default %s is invalid: %s", f->def,
                 found.items[i].message);
    diags_free(&found);
    free_value(f, storage);
    free(storage);
    node_free(def);
    return rc;
}

static int check_field(const struct servo_schema *schema, const struct servo_field *f,
                       const char *name, struct servo_diags *diags)
{
    const char *title = schema->title ? schema->title : "settings";
    if (f->type == SERVO_FIELD_ENUM && (f->choices == NULL || f->choices[0] == NULL)) {
        diag_add(diags, title, 0, 0, name, "an enum field needs choices");
        return -1;
    }
    if ((f->type == SERVO_FIELD_LIST || f->type == SERVO_FIELD_MAP) && f->item == NULL) {
        diag_add(diags, title, 0, 0, name, "a list or map field needs an item type");
        return -1;
    }
    if (f->type == SERVO_FIELD_OBJECT && f->object == NULL) {
        diag_add(diags, title, 0, 0, name, "an object field needs a schema");
        return -1;
    }
    if (f->type == SERVO_FIELD_CUSTOM && (f->custom == NULL || f->custom->parse == NULL)) {
        diag_add(diags, title, 0, 0, name, "a custom field needs a parser");
        return -1;
    }
    if (f->type == SERVO_FIELD_CUSTOM && f->custom->to_json == NULL) {
        diag_add(diags, title, 0, 0, name, "a custom field needs to_json");
        return -1;
    }
    if (f->pattern && check_pattern_compiles(title, f, name, diags) != 0)
        return -1;
    if (f->shorthand && check_shorthand(title, f, name, diags) != 0)
        return -1;
    if (f->type == SERVO_FIELD_OBJECT && settings_check_schema(f->object, diags) != 0)
        return -1;
    if ((f->type == SERVO_FIELD_LIST || f->type == SERVO_FIELD_MAP) &&
        check_field(schema, f->item, name, diags) != 0)
        return -1;
    return f->def ? check_default(title, f, name, diags) : 0;
}
