#include "config/env.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "config/settings.h"
#include "util/log.h"
#include "util/util.h"

static const char *process_get(void *context, const char *name)
{
    (void)context;
    return getenv(name);
}

const struct env_lookup *env_process(void)
{
    static const struct env_lookup process = {.get = process_get, .context = NULL};
    return &process;
}

const char *env_get(const struct env_lookup *env, const char *name)
{
    return env->get(env->context, name);
}

static bool looks_like_json(const char *value)
{
    while (isspace((unsigned char)*value))
        value++;
    return *value == '{' || *value == '[';
}

static bool valid_utf8(const char *text)
{
    json_t *probe = json_string(text); /* NULL for text that is not UTF-8 */
    json_decref(probe);
    return probe != NULL;
}

struct servo_node *env_value_node(const char *name, const char *value, bool json_only,
                                  const char *path, struct servo_diags *diags)
{
    char *source = xasprintf("$%s", name);
    struct servo_node *node = NULL;
    if (!valid_utf8(value)) {
        diag_add(diags, source, 0, 0, path, "the value is not valid UTF-8");
        free(source);
        return NULL;
    }
    if (!json_only && !looks_like_json(value)) {
        node = node_new_scalar(value, false, source, 0, 0);
        free(source);
        return node;
    }
    json_error_t error;
    json_t *json = json_loads(value, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (json == NULL)
        diag_add(diags, source, error.line, error.column, path, "invalid JSON: %s", error.text);
    else
        node = node_from_json(json, source);
    json_decref(json);
    free(source);
    return node;
}

int env_apply_stanza(const struct env_lookup *env, const char *name, struct servo_node **stanza,
                     const char *path, struct servo_diags *diags)
{
    const char *value = env_get(env, name);
    if (value == NULL)
        return 0;
    struct servo_node *node = env_value_node(name, value, true, path, diags);
    if (node == NULL)
        return -1;
    if (node->kind != SERVO_NODE_MAP) {
        char *source = xasprintf("$%s", name);
        diag_add(diags, source, 0, 0, path, "expected a JSON object, got %s",
                 servo_node_describe(node));
        free(source);
        node_free(node);
        return -1;
    }
    if (*stanza != NULL && (*stanza)->kind == SERVO_NODE_NULL) {
        node_free(*stanza);
        *stanza = NULL;
    }
    node_merge(stanza, node);
    return 1;
}

static bool is_container(const struct servo_field *f)
{
    return f->type == SERVO_FIELD_LIST || f->type == SERVO_FIELD_MAP ||
           f->type == SERVO_FIELD_OBJECT || f->type == SERVO_FIELD_CUSTOM;
}

/* The stanza as a mapping to write into, created on first use; NULL if it is something else
 * (the settings engine will report that). */
static struct servo_node *writable_map(struct servo_node **stanza, const char *source)
{
    if (*stanza == NULL || (*stanza)->kind == SERVO_NODE_NULL) {
        node_free(*stanza);
        *stanza = node_new(SERVO_NODE_MAP, source, 0, 0);
    }
    return (*stanza)->kind == SERVO_NODE_MAP ? *stanza : NULL;
}

static int apply_variable(const char *name, const char *value, const struct servo_field *f,
                          struct servo_node **stanza, const char *path, struct servo_diags *diags)
{
    char *field_path = path[0] ? xasprintf("%s.%s", path, f->name) : xstrdup(f->name);
    struct servo_node *node;
    if (is_container(f)) {
        node = env_value_node(name, value, false, field_path, diags);
    } else if (!valid_utf8(value)) {
        /* else validation would pass and `servo config` drop the value */
        char *source = xasprintf("$%s", name);
        diag_add(diags, source, 0, 0, field_path, "the value is not valid UTF-8");
        free(source);
        node = NULL;
    } else {
        /* a scalar setting takes the text verbatim, even "{job=\"x\"}" */
        char *source = xasprintf("$%s", name);
        node = node_new_scalar(value, false, source, 0, 0);
        free(source);
    }
    free(field_path);
    if (node == NULL)
        return -1;
    struct servo_node *map = writable_map(stanza, node->source);
    if (map == NULL) {
        node_free(node);
        return 0;
    }
    struct servo_pair *existing = node_map_find(map, f->name);
    if (existing && existing->value->kind == SERVO_NODE_MAP && node->kind == SERVO_NODE_MAP)
        node_merge(&existing->value, node);
    else
        node_map_set(map, f->name, 0, 0, node);
    return 1;
}

static int apply_field(const struct env_lookup *env, const struct servo_field *f,
                       const char *prefix, struct servo_node **stanza, const char *path,
                       struct servo_diags *diags)
{
    if (f->flags & SERVO_F_NO_ENV)
        return 0;
    char *upper = str_env_case(f->name);
    char *name = xasprintf("%s_%s", prefix, upper);
    free(upper);
    int applied = 0, rc = 0;
    const char *names[2] = {f->env_alias, name}; /* the alias first: the canonical name wins */
    for (size_t i = 0; i < 2 && rc >= 0; i++) {
        const char *value = names[i] ? env_get(env, names[i]) : NULL;
        if (value == NULL)
            continue;
        rc = apply_variable(names[i], value, f, stanza, path, diags);
        applied += rc > 0;
    }
    if (rc >= 0 && f->type == SERVO_FIELD_OBJECT) {
        struct servo_node *child = NULL;
        struct servo_pair *existing = *stanza ? node_map_find(*stanza, f->name) : NULL;
        if (existing)
            child = existing->value;
        char *child_path = path[0] ? xasprintf("%s.%s", path, f->name) : xstrdup(f->name);
        int nested = env_apply_fields(env, f->object, name, &child, child_path, diags);
        /* attached even when a later variable failed: it may hold earlier ones */
        if (child != NULL && existing == NULL) {
            struct servo_node *map = writable_map(stanza, child->source);
            if (map)
                node_map_set(map, f->name, 0, 0, child);
            else
                node_free(child);
        } else if (existing != NULL) {
            existing->value = child;
        }
        free(child_path);
        if (nested < 0)
            rc = -1;
        applied += nested > 0 ? nested : 0;
    }
    free(name);
    return rc < 0 ? -1 : applied;
}

int env_apply_fields(const struct env_lookup *env, const struct servo_schema *schema,
                     const char *prefix, struct servo_node **stanza, const char *path,
                     struct servo_diags *diags)
{
    int applied = 0, failed = 0;
    for (const struct servo_field *f = schema->fields; f->name; f++) {
        int rc = apply_field(env, f, prefix, stanza, path, diags);
        if (rc < 0)
            failed = 1;
        else
            applied += rc;
    }
    return failed ? -1 : applied;
}

/* ---- .env ------------------------------------------------------------------------------ */

/* A quoted value ends at its closing quote (double quotes take \n, \t, \r and \<char>
 * escapes); after it only a comment may follow. NULL with *why set otherwise. */
static char *quoted_value(const char *value, size_t length, const char **why)
{
    char quote = value[0];
    struct strbuf sb;
    strbuf_init(&sb);
    size_t i = 1;
    for (; i < length && value[i] != quote; i++) {
        char c = value[i];
        if (quote == '"' && c == '\\' && i + 1 < length) {
            c = value[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        strbuf_putc(&sb, c);
    }
    size_t rest = i + 1;
    while (rest < length && isspace((unsigned char)value[rest]))
        rest++;
    *why = i >= length                           ? "the quoted value is not closed"
           : rest < length && value[rest] != '#' ? "unexpected text after the quoted value"
                                                 : NULL;
    if (*why != NULL) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb);
}

static char *unquote_value(const char *value, size_t length, const char **why)
{
    if (length > 0 && (value[0] == '\'' || value[0] == '"'))
        return quoted_value(value, length, why);
    /* unquoted: an inline comment starts at " #" */
    const char *comment = NULL;
    for (size_t i = 1; i < length && comment == NULL; i++)
        if (value[i] == '#' && isspace((unsigned char)value[i - 1]))
            comment = value + i;
    if (comment)
        length = (size_t)(comment - value);
    while (length > 0 && isspace((unsigned char)value[length - 1]))
        length--;
    return xstrndup(value, length);
}

static bool valid_variable_name(const char *name, size_t length)
{
    if (length == 0 || isdigit((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < length; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return false;
    return true;
}

/* ---- what a .env file may not set --------------------------------------------------------
 * A .env file is read from the working directory, which someone else may have written. It may
 * not set what loads or locates code: those come only from the real environment, flags or the
 * configuration file (docs/configuration.md lists them). */

/* Process variables that make the servo or its children load or find code. */
static const char *const code_variables[] = {
    "SERVO_PLUGIN_PATH", "PATH",         "GCONV_PATH", "GLIBC_TUNABLES",
    "LOCPATH",           "BASH_ENV",     "ENV",        "SHELL",
    "KUBECONFIG",        "PYTHONPATH",   "PYTHONHOME", "PYTHONSTARTUP",
    "PERL5LIB",          "PERL5OPT",     "LUA_PATH",   "LUA_CPATH",
    "LUA_INIT",          "NODE_OPTIONS", NULL,
};
static const char *const code_prefixes[] = {"LD_", "LUA_PATH_", "LUA_CPATH_", "LUA_INIT_", NULL};

/* Settings that name a binary, a script or a command (vegeta/wrk binary, wrk script, exec and
 * scripts commands and their environment): the last part of SERVO_<INSTANCE>_<FIELD>, or a
 * key anywhere in a whole stanza given as JSON. */
static const char *const code_fields[] = {
    "binary", "script", "command", "describe",    "adjust",      "measure",
    "before", "on",     "after",   "environment", "working_dir", NULL,
};

static bool listed_name(const char *const *names, const char *name)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static bool names_code_field(const char *variable)
{
    for (size_t i = 0; code_fields[i]; i++) {
        size_t n = strlen(code_fields[i]), length = strlen(variable);
        if (length <= n + 1 || variable[length - n - 1] != '_')
            continue;
        if (strncasecmp(variable + length - n, code_fields[i], n) == 0)
            return true;
    }
    return false;
}

static bool json_names_code(const json_t *value)
{
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++)
            if (json_names_code(json_array_get(value, i)))
                return true;
        return false;
    }
    const char *key;
    json_t *item;
    json_object_foreach((json_t *)value, key, item)
    {
        if (listed_name(code_fields, key) || json_names_code(item))
            return true;
    }
    return false;
}

/* Why .env may not set `name` (to `value`), or NULL when it may. */
static const char *dotenv_refusal(const char *name, const char *value)
{
    if (listed_name(code_variables, name))
        return "it locates code";
    for (size_t i = 0; code_prefixes[i]; i++)
        if (strncmp(name, code_prefixes[i], strlen(code_prefixes[i])) == 0)
            return "it loads code";
    if (strncmp(name, "SERVO_", 6) != 0)
        return NULL;
    if (names_code_field(name))
        return "it names a binary, a script or a command";
    if (!looks_like_json(value))
        return NULL;
    json_t *json = json_loads(value, JSON_DECODE_ANY, NULL);
    bool code = json != NULL && json_names_code(json);
    json_decref(json);
    return code ? "its stanza names a binary, a script or a command" : NULL;
}

static int dotenv_line(const char *path, int number, const char *line, size_t length,
                       struct servo_diags *diags)
{
    const char *start = line;
    while (length > 0 && isspace((unsigned char)*line)) {
        line++;
        length--;
    }
    while (length > 0 && isspace((unsigned char)line[length - 1]))
        length--;
    if (length == 0 || line[0] == '#')
        return 0;
    if (length > 7 && strncmp(line, "export", 6) == 0 && isspace((unsigned char)line[6])) {
        line += 7;
        length -= 7;
        while (length > 0 && isspace((unsigned char)*line)) {
            line++;
            length--;
        }
    }
    const char *equals = memchr(line, '=', length);
    size_t name_length = equals ? (size_t)(equals - line) : 0;
    while (name_length > 0 && isspace((unsigned char)line[name_length - 1]))
        name_length--;
    if (equals == NULL || !valid_variable_name(line, name_length)) {
        diag_add(diags, path, number, 1, "", "expected NAME=VALUE");
        return -1;
    }
    char *name = xstrndup(line, name_length);
    const char *value = equals + 1;
    size_t value_length = length - (size_t)(value - line);
    while (value_length > 0 && isspace((unsigned char)*value)) {
        value++;
        value_length--;
    }
    const char *why = NULL;
    char *unquoted = unquote_value(value, value_length, &why);
    if (unquoted == NULL) {
        diag_add(diags, path, number, (int)(value - start) + 1, name, "%s", why);
        free(name);
        return -1;
    }
    const char *refusal = dotenv_refusal(name, unquoted);
    if (refusal != NULL)
        servo_warning("%s:%d: %s is ignored: %s, and a .env file may not set what loads or "
                      "locates code (set it in the environment, by a flag or in the "
                      "configuration file)",
                      path, number, name, refusal);
    else
        setenv(name, unquoted, 0);
    free(unquoted);
    free(name);
    return 0;
}

int dotenv_load(const char *path, struct servo_diags *diags)
{
    char *text = NULL, *error = NULL;
    size_t size = 0;
    if (read_file(path, 1024 * 1024, &text, &size, &error) != 0) {
        int missing = strstr(error, "does not exist") != NULL;
        if (!missing)
            diag_add(diags, NULL, 0, 0, "", "%s", error);
        free(error);
        return missing ? 0 : -1;
    }
    int rc = 0, number = 1;
    for (const char *line = text; line < text + size; number++) {
        const char *end = memchr(line, '\n', (size_t)(text + size - line));
        size_t length = end ? (size_t)(end - line) : (size_t)(text + size - line);
        if (memchr(line, '\0', length) != NULL) {
            diag_add(diags, path, number, 1, "", "the line contains a NUL byte");
            rc = -1;
        } else if (dotenv_line(path, number, line, length, diags) != 0) {
            rc = -1;
        }
        line += length + 1;
    }
    free(text);
    return rc;
}
