/* JSON Schema (draft 2020-12) from a settings table. Every property carries "env_names", the
 * environment variables that set it. */
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "util/util.h"

#define DURATION_PATTERN                                                                   \
    "^[-+]?(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|\\u00b5s|\\u03bcs|ms|s|m|h|d|w|mm|y))+$|" \
    "^[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)$"
#define CPU_PATTERN "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(m|u|n)?$"
#define MEMORY_PATTERN                                                                             \
    "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|KiB|MiB|GiB|TiB|k|K|M|G|T|P|E|KB|MB|GB|B)?" \
    "$"
#define RATE_PATTERN "^[0-9]+(/([0-9]+(\\.[0-9]*)?)?[a-z\\u00b5\\u03bc]+)?$"

static json_t *field_schema(const struct servo_field *f, const char *env_name);

static json_t *type_list(const char *first, const char *second, bool nullable)
{
    json_t *types = json_array();
    json_array_append_new(types, json_string(first));
    if (second)
        json_array_append_new(types, json_string(second));
    if (nullable)
        json_array_append_new(types, json_string("null"));
    if (json_array_size(types) == 1) {
        json_t *single = json_incref(json_array_get(types, 0));
        json_decref(types);
        return single;
    }
    return types;
}

static void add_bounds(json_t *s, const struct servo_field *f, bool numeric)
{
    if (!numeric)
        return;
    if (f->flags & SERVO_F_MIN)
        json_object_set_new(s, "minimum", json_real(f->min));
    if (f->flags & SERVO_F_MAX)
        json_object_set_new(s, "maximum", json_real(f->max));
}

static json_t *quantity_schema(const char *pattern, const char *format, bool nullable)
{
    json_t *s = json_object();
    json_object_set_new(s, "type", type_list("string", "number", nullable));
    json_object_set_new(s, "pattern", json_string(pattern));
    json_object_set_new(s, "format", json_string(format));
    return s;
}

static json_t *custom_schema(const struct servo_field *f)
{
    json_error_t error;
    json_t *s = f->custom->json_schema ? json_loads(f->custom->json_schema, 0, &error) : NULL;
    return s ? s : json_object();
}

static json_t *base_schema(const struct servo_field *f, const char *env_name, bool nullable)
{
    json_t *s;
    switch (f->type) {
    case SERVO_FIELD_BOOL:
        s = json_object();
        json_object_set_new(s, "type", type_list("boolean", NULL, nullable));
        return s;
    case SERVO_FIELD_INT:
        s = json_object();
        json_object_set_new(s, "type", type_list("integer", NULL, nullable));
        add_bounds(s, f, true);
        return s;
    case SERVO_FIELD_FLOAT:
        s = json_object();
        json_object_set_new(s, "type", type_list("number", NULL, nullable));
        add_bounds(s, f, true);
        return s;
    case SERVO_FIELD_STRING:
    case SERVO_FIELD_SECRET:
    case SERVO_FIELD_URL:
        s = json_object();
        json_object_set_new(s, "type", type_list("string", NULL, nullable));
        if (f->type == SERVO_FIELD_URL)
            json_object_set_new(s, "format", json_string("uri"));
        if (f->type == SERVO_FIELD_SECRET || (f->flags & SERVO_F_SECRET))
            json_object_set_new(s, "writeOnly", json_true());
        if (f->pattern)
            json_object_set_new(s, "pattern", json_string(f->pattern));
        if (f->flags & SERVO_F_NONEMPTY)
            json_object_set_new(s, "minLength", json_integer(1));
        return s;
    case SERVO_FIELD_DURATION:
        return quantity_schema(DURATION_PATTERN, "go-duration", nullable);
    case SERVO_FIELD_CPU:
        return quantity_schema(CPU_PATTERN, "kubernetes-cpu", nullable);
    case SERVO_FIELD_MEMORY:
        return quantity_schema(MEMORY_PATTERN, "kubernetes-memory", nullable);
    case SERVO_FIELD_RATE:
        s = json_object();
        json_object_set_new(s, "type", type_list("string", "integer", nullable));
        json_object_set_new(s, "pattern", json_string(RATE_PATTERN));
        return s;
    case SERVO_FIELD_ENUM: {
        s = json_object();
        json_t *choices = json_array();
        for (int i = 0; f->choices[i]; i++)
            json_array_append_new(choices, json_string(f->choices[i]));
        if (nullable)
            json_array_append_new(choices, json_null());
        json_object_set_new(s, "enum", choices);
        return s;
    }
    case SERVO_FIELD_LIST:
        s = json_object();
        json_object_set_new(s, "type", type_list("array", NULL, nullable));
        json_object_set_new(s, "items", field_schema(f->item, NULL));
        if (f->flags & SERVO_F_NONEMPTY)
            json_object_set_new(s, "minItems", json_integer(1));
        return s;
    case SERVO_FIELD_MAP:
        s = json_object();
        json_object_set_new(s, "type", type_list("object", NULL, nullable));
        json_object_set_new(s, "additionalProperties", field_schema(f->item, NULL));
        if (f->flags & SERVO_F_NONEMPTY)
            json_object_set_new(s, "minProperties", json_integer(1));
        return s;
    case SERVO_FIELD_OBJECT:
        s = settings_object_schema(f->object, env_name);
        if (nullable)
            json_object_set_new(s, "type", type_list("object", NULL, true));
        return s;
    case SERVO_FIELD_CUSTOM:
        return custom_schema(f);
    }
    return json_object();
}

static json_t *with_shorthand(const struct servo_field *f, json_t *s)
{
    if (f->shorthand == NULL)
        return s;
    const struct servo_field *target = NULL;
    if (f->type == SERVO_FIELD_OBJECT) {
        for (const struct servo_field *sub = f->object->fields; sub->name && !target; sub++)
            if (strcmp(f->shorthand, "*") == 0 || strcmp(sub->name, f->shorthand) == 0)
                target = sub;
    } else if (f->type == SERVO_FIELD_MAP || f->type == SERVO_FIELD_LIST) {
        target = f->item; /* a list's shorthand is one item; a map's one value */
    }
    if (target == NULL)
        return s;
    json_t *any = json_array();
    json_array_append_new(any, s);
    json_array_append_new(any, base_schema(target, NULL, false));
    json_t *wrapper = json_object();
    json_object_set_new(wrapper, "anyOf", any);
    return wrapper;
}

static json_t *env_names(const struct servo_field *f, const char *env_name)
{
    json_t *names = json_array();
    if (env_name && !(f->flags & SERVO_F_NO_ENV))
        json_array_append_new(names, json_string(env_name));
    if (f->env_alias)
        json_array_append_new(names, json_string(f->env_alias));
    return names;
}

static json_t *field_schema(const struct servo_field *f, const char *env_name)
{
    bool nullable = f->name != NULL && !(f->flags & SERVO_F_REQUIRED);
    /* a NO_ENV object's fields have no variables either (env.c skips the whole field) */
    const char *inner_env = (f->flags & SERVO_F_NO_ENV) ? NULL : env_name;
    json_t *s = with_shorthand(f, base_schema(f, inner_env, nullable));
    if (f->description)
        json_object_set_new(s, "description", json_string(f->description));
    if (f->def) {
        struct servo_node *def = settings_parse_default(f->def);
        if (def)
            json_object_set_new(s, "default", node_to_json(def));
        node_free(def);
    }
    if (f->name != NULL && (env_name || f->env_alias))
        json_object_set_new(s, "env_names", env_names(f, env_name));
    return s;
}

json_t *settings_object_schema(const struct servo_schema *schema, const char *env_prefix)
{
    json_t *s = json_object();
    json_t *properties = json_object();
    json_t *required = json_array();
    if (schema->title)
        json_object_set_new(s, "title", json_string(schema->title));
    if (schema->description)
        json_object_set_new(s, "description", json_string(schema->description));
    json_object_set_new(s, "type", json_string("object"));
    for (const struct servo_field *f = schema->fields; f->name; f++) {
        char *upper = str_env_case(f->name);
        char *env_name = env_prefix ? xasprintf("%s_%s", env_prefix, upper) : NULL;
        json_object_set_new(properties, f->name, field_schema(f, env_name));
        if (f->flags & SERVO_F_REQUIRED)
            json_array_append_new(required, json_string(f->name));
        free(env_name);
        free(upper);
    }
    json_object_set_new(s, "properties", properties);
    if (json_array_size(required) > 0)
        json_object_set_new(s, "required", required);
    else
        json_decref(required);
    json_object_set_new(s, "additionalProperties", json_false());
    return s;
}

json_t *settings_json_schema(const struct servo_schema *schema, const char *env_prefix)
{
    json_t *s = json_object();
    json_object_set_new(s, "$schema", json_string("https://json-schema.org/draft/2020-12/schema"));
    json_t *object = settings_object_schema(schema, env_prefix);
    json_object_update(s, object);
    json_decref(object);
    return s;
}

/* ---- readable pages: text and HTML ------------------------------------------------------ */

struct setting_row {
    char *name;
    char *type;
    char *def;
    char *env;
    const char *description;
    bool required;
};

struct setting_rows {
    struct setting_row *items;
    size_t count;
    size_t capacity;
};

static void type_words(const json_t *s, struct strbuf *sb);

static void type_word(const json_t *s, const char *type, struct strbuf *sb)
{
    const char *format = json_string_value(json_object_get(s, "format"));
    if (strcmp(type, "string") == 0 && format != NULL)
        strbuf_printf(sb, "string (%s)", format);
    else if (strcmp(type, "array") == 0 && json_object_get(s, "items") != NULL) {
        strbuf_puts(sb, "list of ");
        type_words(json_object_get(s, "items"), sb);
    } else if (strcmp(type, "object") == 0 &&
               json_is_object(json_object_get(s, "additionalProperties"))) {
        strbuf_puts(sb, "map of ");
        type_words(json_object_get(s, "additionalProperties"), sb);
    } else
        strbuf_puts(sb, type);
}

/* "integer", "string or null", "one of: a, b", "list of object" ... */
static void type_words(const json_t *s, struct strbuf *sb)
{
    const json_t *type = json_object_get(s, "type");
    const json_t *choices = json_object_get(s, "enum");
    const json_t *any = json_object_get(s, "anyOf");
    size_t i;
    const json_t *item;
    if (json_is_string(type)) {
        type_word(s, json_string_value(type), sb);
    } else if (json_is_array(type)) {
        json_array_foreach(type, i, item)
        {
            if (i > 0)
                strbuf_puts(sb, " or ");
            type_word(s, json_string_value(item) ? json_string_value(item) : "?", sb);
        }
    } else if (json_is_array(choices)) {
        strbuf_puts(sb, "one of: ");
        json_array_foreach(choices, i, item)
        {
            strbuf_printf(sb, "%s%s", i ? ", " : "",
                          json_is_null(item) ? "null" : json_string_value(item));
        }
    } else if (json_is_array(any)) {
        json_array_foreach(any, i, item)
        {
            if (i > 0)
                strbuf_puts(sb, " or ");
            type_words(item, sb);
        }
    } else {
        strbuf_puts(sb, "any");
    }
}

static char *env_text(const json_t *s)
{
    struct strbuf sb;
    strbuf_init(&sb);
    size_t i;
    const json_t *name;
    json_array_foreach(json_object_get(s, "env_names"), i, name)
    {
        strbuf_printf(&sb, "%s%s", i ? ", " : "", json_string_value(name));
    }
    return sb.data ? strbuf_detach(&sb) : xstrdup("");
}

static bool in_list(const json_t *list, const char *name)
{
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item)
    {
        if (json_is_string(item) && strcmp(json_string_value(item), name) == 0)
            return true;
    }
    return false;
}

/* The object schema a property holds settings in: itself, a list's items, a map's values,
 * or the first object alternative of a shorthand; NULL for a scalar. */
static const json_t *nested_object(const json_t *s, const char **suffix)
{
    *suffix = "";
    if (json_is_object(json_object_get(s, "properties")))
        return s;
    const json_t *items = json_object_get(s, "items");
    if (json_is_object(items) && json_is_object(json_object_get(items, "properties"))) {
        *suffix = "[]";
        return items;
    }
    const json_t *values = json_object_get(s, "additionalProperties");
    if (json_is_object(values) && json_is_object(json_object_get(values, "properties"))) {
        *suffix = ".*";
        return values;
    }
    size_t i;
    const json_t *alternative;
    json_array_foreach(json_object_get(s, "anyOf"), i, alternative)
    {
        const json_t *object = nested_object(alternative, suffix);
        if (object != NULL)
            return object;
    }
    return NULL;
}

static void collect_rows(const json_t *object, const char *prefix, struct setting_rows *rows,
                         int depth)
{
    const json_t *required = json_object_get(object, "required");
    const char *key;
    json_t *s;
    if (depth > 16)
        return;
    json_object_foreach((json_t *)json_object_get(object, "properties"), key, s)
    {
        if (rows->count == rows->capacity) {
            rows->capacity = rows->capacity ? rows->capacity * 2 : 32;
            rows->items = xrealloc(rows->items, rows->capacity * sizeof *rows->items);
        }
        struct setting_row *row = &rows->items[rows->count++];
        struct strbuf type;
        strbuf_init(&type);
        type_words(s, &type);
        const json_t *def = json_object_get(s, "default");
        row->name = prefix ? xasprintf("%s.%s", prefix, key) : xstrdup(key);
        row->type = strbuf_detach(&type);
        row->def = def ? json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("");
        row->env = env_text(s);
        row->description = json_string_value(json_object_get(s, "description"));
        row->required = in_list(required, key);
        const char *suffix;
        const json_t *nested = nested_object(s, &suffix);
        if (nested != NULL) {
            char *path = xasprintf("%s%s", row->name, suffix);
            collect_rows(nested, path, rows, depth + 1);
            free(path);
        }
    }
}

static void rows_free(struct setting_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        free(rows->items[i].name);
        free(rows->items[i].type);
        free(rows->items[i].def);
        free(rows->items[i].env);
    }
    free(rows->items);
}

static const char *schema_title(const json_t *schema)
{
    const char *title = json_string_value(json_object_get(schema, "title"));
    return title ? title : "Configuration Schema";
}

char *settings_schema_text(const json_t *schema)
{
    struct setting_rows rows = {0};
    collect_rows(schema, NULL, &rows, 0);
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_printf(&sb, "%s\n\n", schema_title(schema));
    for (size_t i = 0; i < rows.count; i++) {
        const struct setting_row *r = &rows.items[i];
        strbuf_printf(&sb, "%s\n  type:        %s%s\n", r->name, r->type,
                      r->required ? " (required)" : "");
        if (r->def[0])
            strbuf_printf(&sb, "  default:     %s\n", r->def);
        if (r->env[0])
            strbuf_printf(&sb, "  environment: %s\n", r->env);
        if (r->description)
            strbuf_printf(&sb, "  %s\n", r->description);
        strbuf_putc(&sb, '\n');
    }
    rows_free(&rows);
    return strbuf_detach(&sb);
}

char *settings_schema_html(const json_t *schema)
{
    struct setting_rows rows = {0};
    collect_rows(schema, NULL, &rows, 0);
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<title>");
    strbuf_put_html(&sb, schema_title(schema));
    strbuf_puts(&sb, "</title>\n<style>\n"
                     "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\n"
                     "table{border-collapse:collapse;width:100%}\n"
                     "th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;"
                     "vertical-align:top}\n"
                     "th{background:#f0f0f0}code{font-family:ui-monospace,monospace}\n"
                     ".required{color:#a00;font-size:.85em}\n"
                     "</style>\n</head>\n<body>\n<h1>");
    strbuf_put_html(&sb, schema_title(schema));
    strbuf_puts(&sb, "</h1>\n<table>\n<tr><th>Setting</th><th>Type</th><th>Default</th>"
                     "<th>Environment</th><th>Description</th></tr>\n");
    for (size_t i = 0; i < rows.count; i++) {
        const struct setting_row *r = &rows.items[i];
        strbuf_puts(&sb, "<tr><td><code>");
        strbuf_put_html(&sb, r->name);
        strbuf_puts(&sb, "</code>");
        if (r->required)
            strbuf_puts(&sb, " <span class=\"required\">required</span>");
        strbuf_puts(&sb, "</td><td>");
        strbuf_put_html(&sb, r->type);
        strbuf_puts(&sb, "</td><td><code>");
        strbuf_put_html(&sb, r->def);
        strbuf_puts(&sb, "</code></td><td><code>");
        strbuf_put_html(&sb, r->env);
        strbuf_puts(&sb, "</code></td><td>");
        strbuf_put_html(&sb, r->description);
        strbuf_puts(&sb, "</td></tr>\n");
    }
    strbuf_puts(&sb, "</table>\n</body>\n</html>\n");
    rows_free(&rows);
    return strbuf_detach(&sb);
}
