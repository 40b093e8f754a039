#include "assembly/assembly.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "config/yaml.h"
#include "util/util.h"

struct route {
    char *name;
    const struct registry_entry *entry;
    const struct servo_node *declared_at; /* the `connectors` entry; NULL when implicit */
};

struct routes {
    struct route *items;
    size_t count;
    size_t capacity;
    enum routing_form form;
    /* names of refused `connectors` entries (pointing into the routing node): their stanzas
     * are covered by the routing error, not also foreign keys */
    const char **refused;
    size_t refused_count;
    size_t refused_capacity;
};

struct document_context {
    const struct registry *registry;
    const struct assembly_options *options;
    const struct env_lookup *env;
    struct servo_diags *diags;
};

char *assembly_env_prefix(const char *key)
{
    char *upper = str_env_case(key);
    char *prefix = xasprintf("SERVO_%s", upper);
    free(upper);
    return prefix;
}

static void routes_free(struct routes *routes)
{
    for (size_t i = 0; i < routes->count; i++)
        free(routes->items[i].name);
    free(routes->items);
    free(routes->refused);
}

static void routes_refuse(struct routes *routes, const char *name)
{
    if (name == NULL)
        return;
    xgrow((void **)&routes->refused, sizeof *routes->refused, routes->refused_count,
          &routes->refused_capacity);
    routes->refused[routes->refused_count++] = name;
}

static bool routes_refused(const struct routes *routes, const char *name)
{
    for (size_t i = 0; i < routes->refused_count; i++)
        if (strcmp(routes->refused[i], name) == 0)
            return true;
    return false;
}

static const struct route *routes_find(const struct routes *routes, const char *name)
{
    for (size_t i = 0; i < routes->count; i++)
        if (strcmp(routes->items[i].name, name) == 0)
            return &routes->items[i];
    return NULL;
}

static void routes_add(struct routes *routes, const char *name, const struct registry_entry *entry,
                       const struct servo_node *declared_at)
{
    xgrow((void **)&routes->items, sizeof *routes->items, routes->count, &routes->capacity);
    routes->items[routes->count++] =
        (struct route){.name = xstrdup(name), .entry = entry, .declared_at = declared_at};
}

static bool stanza_in_env(const struct document_context *c, const char *key)
{
    char *prefix = assembly_env_prefix(key);
    bool set = env_get(c->env, prefix) != NULL;
    free(prefix);
    return set;
}

static void route_implicitly(const struct document_context *c, const struct servo_node *doc,
                             struct routes *routes)
{
    routes->form = ROUTING_IMPLICIT;
    for (size_t i = 0; i < c->registry->count; i++) {
        const struct registry_entry *e = &c->registry->entries[i];
        if (node_map_find(doc, e->plugin->name) || stanza_in_env(c, e->plugin->name))
            routes_add(routes, e->plugin->name, e, NULL);
    }
}

static const struct registry_entry *resolve_identifier(const struct document_context *c,
                                                       const struct servo_node *node)
{
    if (node->kind != SERVO_NODE_SCALAR) {
        diag_at(c->diags, node, NULL, "connectors", "expected a connector name, got %s",
                servo_node_describe(node));
        return NULL;
    }
    const struct registry_entry *entry = registry_find(c->registry, node->text);
    if (entry == NULL) {
        struct strbuf sb;
        strbuf_init(&sb);
        for (size_t i = 0; i < c->registry->count; i++)
            strbuf_printf(&sb, "%s%s", i ? ", " : "", c->registry->entries[i].plugin->name);
        diag_at(c->diags, node, NULL, "connectors",
                "no connector found for the identifier \"%s\" (available: %s)", node->text,
                sb.data ? sb.data : "none");
        strbuf_release(&sb);
    }
    return entry;
}

static int route_list(const struct document_context *c, const struct servo_node *list,
                      struct routes *routes)
{
    int rc = 0;
    routes->form = ROUTING_LIST;
    for (size_t i = 0; i < list->count; i++) {
        const struct registry_entry *entry = resolve_identifier(c, list->items[i]);
        if (entry == NULL) {
            routes_refuse(routes, servo_node_text(list->items[i]));
            rc = -1;
        } else if (routes_find(routes, entry->plugin->name)) {
            diag_at(c->diags, list->items[i], NULL, "connectors",
                    "connector \"%s\" is listed twice; use the mapping form "
                    "(connectors: {alias: %s}) for several instances",
                    entry->plugin->name, entry->plugin->name);
            rc = -1;
        } else {
            routes_add(routes, entry->plugin->name, entry, list->items[i]);
        }
    }
    return rc;
}

static bool valid_alias(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 128)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_/.", *p))
            return false;
    return true;
}

/* Whether the servo itself reads `name`: SERVO_<FIELD> of its own settings (nested ones
 * too), their aliases, and the command line's variables. An instance whose SERVO_<KEY> is
 * one of them would take that variable for its stanza. */
static bool servo_variable(const struct servo_schema *schema, const char *prefix, const char *name)
{
    static const char *const process[] = {
        "SERVO_CONFIG_FILE", "SERVO_NAME", "SERVO_LOG_LEVEL", "SERVO_NO_COLOR", "SERVO_PLUGIN_PATH",
        "SERVO_CONNECTORS",  NULL};
    for (size_t i = 0; schema == &servo_settings_schema && process[i]; i++)
        if (strcmp(process[i], name) == 0)
            return true;
    bool found = false;
    for (const struct servo_field *f = schema->fields; f->name && !found; f++) {
        char *upper = str_env_case(f->name);
        char *variable = xasprintf("%s_%s", prefix, upper);
        found = strcmp(variable, name) == 0 || (f->env_alias && strcmp(f->env_alias, name) == 0) ||
                (f->type == SERVO_FIELD_OBJECT && servo_variable(f->object, variable, name));
        free(variable);
        free(upper);
    }
    return found;
}

static int check_alias(const struct document_context *c, const struct servo_pair *pair,
                       const struct registry_entry *target, const struct servo_node *map,
                       const struct routes *routes)
{
    char *path = xasprintf("connectors.%s", pair->key);
    char *prefix = assembly_env_prefix(pair->key);
    const struct route *twin = NULL;
    for (size_t i = 0; i < routes->count && twin == NULL; i++) {
        char *other = assembly_env_prefix(routes->items[i].name);
        if (strcmp(other, prefix) == 0)
            twin = &routes->items[i];
        free(other);
    }
    int rc = -1;
    if (!valid_alias(pair->key)) {
        diag_add(c->diags, map->source, pair->line, pair->column, path,
                 "invalid instance name \"%s\": use 3 to 128 letters, digits or -_/.", pair->key);
    } else if (servo_settings_reserved(pair->key)) {
        diag_add(c->diags, map->source, pair->line, pair->column, path, "name \"%s\" is reserved",
                 pair->key);
    } else if (servo_variable(&servo_settings_schema, "SERVO", prefix)) {
        diag_add(c->diags, map->source, pair->line, pair->column, path,
                 "name \"%s\" is reserved: the servo reads %s itself", pair->key, prefix);
    } else if (twin != NULL) {
        diag_add(c->diags, map->source, pair->line, pair->column, path,
                 "instances \"%s\" and \"%s\" would share the environment variables %s_*",
                 twin->name, pair->key, prefix);
    } else {
        const struct registry_entry *owner = registry_find(c->registry, pair->key);
        if (owner != NULL && owner != target)
            diag_add(c->diags, map->source, pair->line, pair->column, path,
                     "name \"%s\" is reserved by %s", pair->key, owner->plugin->class_name);
        else
            rc = 0;
    }
    free(prefix);
    free(path);
    return rc;
}

static int route_map(const struct document_context *c, const struct servo_node *map,
                     struct routes *routes)
{
    int rc = 0;
    routes->form = ROUTING_MAP;
    for (size_t i = 0; i < map->count; i++) {
        const struct servo_pair *pair = &map->pairs[i];
        const struct registry_entry *entry = resolve_identifier(c, pair->value);
        if (entry == NULL || check_alias(c, pair, entry, map, routes) != 0) {
            routes_refuse(routes, pair->key);
            rc = -1;
        } else {
            routes_add(routes, pair->key, entry, pair->value);
        }
    }
    return rc;
}

/* `connectors` from SERVO_CONNECTORS (which wins) or the document. */
static struct servo_node *routing_node(const struct document_context *c, struct servo_node *doc)
{
    struct servo_node *from_file = node_map_take(doc, "connectors");
    const char *value = env_get(c->env, "SERVO_CONNECTORS");
    if (value == NULL)
        return from_file;
    node_free(from_file);
    return env_value_node("SERVO_CONNECTORS", value, true, "connectors", c->diags);
}

/* Returns 0, -1 when some entries were refused, or ROUTING_UNUSABLE when there is no
 * routing at all (every problem reported). */
#define ROUTING_UNUSABLE (-2)

static int resolve_routes(const struct document_context *c, struct servo_node *doc,
                          struct servo_node **routing, struct routes *routes)
{
    *routing = routing_node(c, doc);
    const char *env = env_get(c->env, "SERVO_CONNECTORS");
    if (*routing == NULL && env != NULL)
        return ROUTING_UNUSABLE; /* SERVO_CONNECTORS did not parse; already reported */
    if (*routing == NULL || (*routing)->kind == SERVO_NODE_NULL) {
        route_implicitly(c, doc, routes);
        return 0;
    }
    if ((*routing)->kind == SERVO_NODE_SEQ)
        return route_list(c, *routing, routes);
    if ((*routing)->kind == SERVO_NODE_MAP)
        return route_map(c, *routing, routes);
    diag_at(c->diags, *routing, NULL, "connectors",
            "expected a list of connector names or a mapping of instance name to connector, "
            "got %s",
            servo_node_describe(*routing));
    return ROUTING_UNUSABLE;
}

static bool is_servo_field(const char *key)
{
    for (const struct servo_field *f = servo_settings_schema.fields; f->name; f++)
        if (strcmp(f->name, key) == 0)
            return true;
    return false;
}

static void report_foreign_key(const struct document_context *c, const struct servo_node *doc,
                               const struct servo_pair *pair, const struct routes *routes)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "unknown top-level key ");
    strbuf_quote(&sb, pair->key, 80);
    if (routes->form == ROUTING_IMPLICIT)
        strbuf_puts(&sb, ": not a servo setting nor the key of an available connector");
    else
        strbuf_puts(&sb, ": not a servo setting nor an instance named in `connectors`");
    strbuf_puts(&sb, " (use --allow-unknown or `extra: ignore` to ignore foreign keys)");
    diag_add(c->diags, doc->source, pair->line, pair->column, pair->key, "%s", sb.data);
    strbuf_release(&sb);
}

/* Splits the document into the servo's own keys (left in `doc`) and connector stanzas
 * (moved into `stanzas`, parallel to routes); foreign keys are reported or dropped. */
static int split_document(const struct document_context *c, struct servo_node *doc,
                          const struct routes *routes, bool allow_unknown,
                          struct servo_node **stanzas)
{
    int rc = 0;
    for (size_t i = 0; i < routes->count; i++)
        stanzas[i] = node_map_take(doc, routes->items[i].name);
    for (size_t i = 0; i < doc->count;) {
        const struct servo_pair *pair = &doc->pairs[i];
        if (is_servo_field(pair->key)) {
            i++;
            continue;
        }
        if (!allow_unknown && !routes_refused(routes, pair->key)) {
            report_foreign_key(c, doc, pair, routes);
            rc = -1;
        }
        node_free(node_map_take(doc, pair->key));
    }
    return rc;
}

/* `extra: ignore`, from SERVO_EXTRA (which wins, as for any field) or the document. */
static bool wants_unknown_ignored(const struct document_context *c, const struct servo_node *doc)
{
    const char *env = env_get(c->env, "SERVO_EXTRA");
    if (env != NULL)
        return strcmp(env, "ignore") == 0;
    const struct servo_node *extra = servo_node_get(doc, "extra");
    return extra && extra->kind == SERVO_NODE_SCALAR && strcmp(extra->text, "ignore") == 0;
}

/* Sets `path` ("timeouts.read") inside *stanza to a plain scalar, creating maps on the way. */
static void apply_override_path(struct servo_node **stanza, const char *path, const char *value)
{
    if (*stanza == NULL || (*stanza)->kind != SERVO_NODE_MAP) {
        node_free(*stanza);
        *stanza = node_new(SERVO_NODE_MAP, "command line", 0, 0);
    }
    const char *dot = strchr(path, '.');
    if (dot == NULL) {
        node_map_set(*stanza, path, 0, 0, node_new_scalar(value, false, "command line", 0, 0));
        return;
    }
    char *head = xstrndup(path, (size_t)(dot - path));
    struct servo_node *child = node_map_child(*stanza, head, "command line");
    struct servo_pair *pair = node_map_find(*stanza, head);
    struct servo_node *owned = child;
    apply_override_path(&owned, dot + 1, value);
    pair->value = owned;
    free(head);
}

static void apply_overrides(const struct assembly_options *o, const char *key,
                            struct servo_node **stanza)
{
    size_t key_length = key ? strlen(key) : 0;
    for (size_t i = 0; i < o->override_count; i++) {
        const char *path = o->overrides[i].path;
        if (key == NULL) {
            const char *dot = strchr(path, '.');
            char *head = dot ? xstrndup(path, (size_t)(dot - path)) : xstrdup(path);
            if (is_servo_field(head))
                apply_override_path(stanza, path, o->overrides[i].value);
            free(head);
        } else if (strncmp(path, key, key_length) == 0 && path[key_length] == '.') {
            apply_override_path(stanza, path + key_length + 1, o->overrides[i].value);
        }
    }
}

static int load_servo_settings(const struct document_context *c, struct servo_node **doc,
                               struct servo_config *servo)
{
    int rc = 0;
    if (env_apply_fields(c->env, &servo_settings_schema, "SERVO", doc, "", c->diags) < 0)
        rc = -1;
    apply_overrides(c->options, NULL, doc);
    servo->settings = settings_load(&servo_settings_schema, *doc, "", *doc, c->diags);
    return servo->settings && rc == 0 ? 0 : -1;
}

static int load_instance(const struct document_context *c, const struct route *route,
                         struct servo_node *stanza, const struct servo_node *doc,
                         struct servo_connector *out)
{
    char *prefix = assembly_env_prefix(route->name);
    int rc = 0;
    bool had_stanza = stanza != NULL;
    int from_env = env_apply_stanza(c->env, prefix, &stanza, route->name, c->diags);
    if (from_env < 0 || env_apply_fields(c->env, route->entry->plugin->settings, prefix, &stanza,
                                         route->name, c->diags) < 0)
        rc = -1;
    apply_overrides(c->options, route->name, &stanza);
    if (rc == 0 && !had_stanza && from_env == 0 && route->declared_at != NULL) {
        diag_at(c->diags, route->declared_at, NULL, route->name,
                "connector \"%s\" is routed in `connectors` but the document has no \"%s\" "
                "stanza",
                route->entry->plugin->name, route->name);
        rc = -1;
    }
    const struct servo_node *where = stanza               ? stanza
                                     : route->declared_at ? route->declared_at
                                                          : doc;
    void *settings = rc == 0 ? settings_load(route->entry->plugin->settings, stanza, route->name,
                                             where, c->diags)
                             : NULL;
    node_free(stanza);
    free(prefix);
    if (settings == NULL)
        return -1;
    *out = (struct servo_connector){.name = xstrdup(route->name),
                                    .plugin = route->entry->plugin,
                                    .origin = route->entry->origin,
                                    .settings = settings};
    return 0;
}

/* One child of a composite connector (plugin->children) as an instance. */
static int load_child(const struct document_context *c, const struct servo_connector *parent,
                      const json_t *child, const struct servo_node *where,
                      struct servo_connector *out)
{
    const char *connector = json_string_value(json_object_get(child, "connector"));
    const char *name = json_string_value(json_object_get(child, "name"));
    const struct registry_entry *entry = connector ? registry_find(c->registry, connector) : NULL;
    if (entry == NULL || name == NULL) {
        if (json_is_true(json_object_get(child, "optional")) && connector && name)
            return 1;
        diag_at(c->diags, where, NULL, parent->name, "%s needs the connector \"%s\", which is %s",
                parent->name, connector ? connector : "(unnamed)",
                connector ? "not registered" : "not named");
        return -1;
    }
    struct servo_node *stanza = node_from_json(json_object_get(child, "settings"), parent->name);
    void *settings = settings_load(entry->plugin->settings, stanza, name, where, c->diags);
    node_free(stanza);
    if (settings == NULL)
        return -1;
    *out = (struct servo_connector){.name = xstrdup(name),
                                    .plugin = entry->plugin,
                                    .origin = entry->origin,
                                    .settings = settings};
    return 0;
}

/* Appends the children of servo->connectors[index] (a composite connector) to the servo. */
static int load_children(const struct document_context *c, struct servo_config *servo, size_t index,
                         size_t routes_left, const struct servo_node *where)
{
    const struct servo_connector *parent = &servo->connectors[index];
    if (parent->plugin->struct_size < offsetof(struct servo_connector_plugin, reserved) ||
        parent->plugin->children == NULL)
        return 0;
    json_t *settings = settings_to_json(parent->plugin->settings, parent->settings, true);
    json_t *children = parent->plugin->children(parent->name, settings);
    json_decref(settings);
    size_t count = json_array_size(children);
    if (count > 0)
        servo->connectors =
            xrealloc(servo->connectors,
                     (servo->connector_count + count + routes_left) * sizeof *servo->connectors);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        int loaded = load_child(c, &servo->connectors[index], json_array_get(children, i), where,
                                &servo->connectors[servo->connector_count]);
        if (loaded == 0)
            servo->connector_count++;
        else if (loaded < 0)
            rc = -1;
    }
    json_decref(children);
    return rc;
}

static void servo_config_free(struct servo_config *servo)
{
    for (size_t i = 0; i < servo->connector_count; i++) {
        settings_free(servo->connectors[i].plugin->settings, servo->connectors[i].settings);
        free(servo->connectors[i].name);
    }
    free(servo->connectors);
    settings_free(&servo_settings_schema, servo->settings);
    free(servo->name);
    memset(servo, 0, sizeof *servo);
}

static int load_document(const struct document_context *c, const struct servo_node *original,
                         struct servo_config *servo)
{
    if (original->kind != SERVO_NODE_MAP && original->kind != SERVO_NODE_NULL) {
        diag_at(c->diags, original, NULL, "", "a servo configuration must be a mapping, got %s",
                servo_node_describe(original));
        return -1;
    }
    struct servo_node *doc =
        original->kind == SERVO_NODE_MAP
            ? node_clone(original)
            : node_new(SERVO_NODE_MAP, original->source, original->line, original->column);
    struct routes routes = {0};
    struct servo_node *routing = NULL;
    int rc = resolve_routes(c, doc, &routing, &routes);
    /* without a routing, which keys are stanzas is unknown: no key is called foreign */
    bool allow_unknown =
        c->options->allow_unknown || wants_unknown_ignored(c, doc) || rc == ROUTING_UNUSABLE;
    struct servo_node **stanzas = xcalloc(routes.count, sizeof *stanzas);
    if (split_document(c, doc, &routes, allow_unknown, stanzas) != 0)
        rc = -1;
    if (load_servo_settings(c, &doc, servo) != 0)
        rc = -1;
    servo->routing = routes.form;
    servo->line = original->line;
    servo->connectors = xcalloc(routes.count, sizeof *servo->connectors);
    for (size_t i = 0; i < routes.count; i++) {
        if (load_instance(c, &routes.items[i], stanzas[i], original,
                          &servo->connectors[servo->connector_count]) == 0) {
            servo->connector_count++;
            if (load_children(c, servo, servo->connector_count - 1, routes.count - i - 1,
                              original) != 0)
                rc = -1;
        } else {
            rc = -1;
        }
    }
    free(stanzas);
    node_free(routing);
    node_free(doc);
    routes_free(&routes);
    return rc;
}

static void name_servo(struct servo_config *servo)
{
    const struct servo_settings *s = servo->settings;
    if (s && s->name)
        servo->name = xstrdup(s->name);
    else if (s && s->optimizer && s->optimizer->id)
        servo->name = xstrdup(s->optimizer->id);
    else
        servo->name = xstrdup("servo");
}

static bool named(const struct servo_settings *s)
{
    return s->name || (s->optimizer && s->optimizer->id);
}

/* The names of the servos that loaded, in a file of several documents (even when others
 * failed: their errors and these are reported together). servos[i] came from document
 * doc_of[i]. */
static int check_names(const struct assembly *a, const struct yaml_documents *docs,
                       const size_t *doc_of, struct servo_diags *diags)
{
    int rc = 0;
    for (size_t i = 0; docs->count > 1 && i < a->count; i++) {
        size_t doc = doc_of[i];
        if (!named(a->servos[i].settings)) {
            diag_at(diags, docs->items[doc], NULL, "",
                    "document %zu: in a multi-servo file every servo needs a `name` or an "
                    "`optimizer.id` to tell it apart",
                    doc + 1);
            rc = -1;
            continue; /* its default name is no duplicate of another unnamed one */
        }
        for (size_t j = 0; j < i; j++) {
            if (named(a->servos[j].settings) && strcmp(a->servos[i].name, a->servos[j].name) == 0) {
                diag_at(diags, docs->items[doc], NULL, "",
                        "document %zu: servo name \"%s\" is already used by document %zu", doc + 1,
                        a->servos[i].name, doc_of[j] + 1);
                rc = -1;
            }
        }
    }
    return rc;
}

static int assemble(struct assembly *a, const struct registry *registry,
                    struct yaml_documents *docs, const struct assembly_options *options,
                    struct servo_diags *diags)
{
    struct document_context c = {.registry = registry,
                                 .options = options,
                                 .env = options->env ? options->env : env_process(),
                                 .diags = diags};
    if (docs->count == 0) { /* an empty file is one empty servo */
        docs->items = xcalloc(1, sizeof *docs->items);
        docs->items[0] = node_new(SERVO_NODE_NULL, a->config_file, 1, 1);
        docs->count = 1;
    }
    int rc = 0;
    a->servos = xcalloc(docs->count, sizeof *a->servos);
    size_t *doc_of = xcalloc(docs->count, sizeof *doc_of);
    for (size_t i = 0; i < docs->count; i++) {
        if (load_document(&c, docs->items[i], &a->servos[a->count]) != 0) {
            servo_config_free(&a->servos[a->count]);
            rc = -1;
            continue;
        }
        doc_of[a->count] = i;
        name_servo(&a->servos[a->count++]);
    }
    if (check_names(a, docs, doc_of, diags) != 0)
        rc = -1;
    free(doc_of);
    return rc;
}

int assembly_load_text(struct assembly *a, const struct registry *registry, const char *text,
                       size_t length, const char *source, const struct assembly_options *options,
                       struct servo_diags *diags)
{
    memset(a, 0, sizeof *a);
    a->config_file = xstrdup(source);
    struct yaml_documents docs;
    if (yaml_load(text, length, source, &docs, diags) != 0) {
        assembly_free(a);
        return -1;
    }
    int rc = assemble(a, registry, &docs, options, diags);
    yaml_documents_free(&docs);
    if (rc != 0)
        assembly_free(a);
    return rc;
}

int assembly_load(struct assembly *a, const struct registry *registry,
                  const struct assembly_options *options, struct servo_diags *diags)
{
    char *text = NULL, *error = NULL;
    size_t size = 0;
    memset(a, 0, sizeof *a);
    if (read_file(options->config_file, CONFIG_MAX_FILE_SIZE, &text, &size, &error) != 0) {
        diag_add(diags, NULL, 0, 0, "", "%s", error);
        free(error);
        return -1;
    }
    int rc = assembly_load_text(a, registry, text, size, options->config_file, options, diags);
    free(text);
    return rc;
}

void assembly_free(struct assembly *a)
{
    for (size_t i = 0; i < a->count; i++)
        servo_config_free(&a->servos[i]);
    free(a->servos);
    free(a->config_file);
    memset(a, 0, sizeof *a);
}

const struct servo_config *assembly_find(const struct assembly *a, const char *name)
{
    if (name == NULL)
        return a->count == 1 ? &a->servos[0] : NULL;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->servos[i].name, name) == 0)
            return &a->servos[i];
    return NULL;
}

json_t *servo_config_to_json(const struct servo_config *servo, bool show_secrets)
{
    json_t *out = settings_to_json(&servo_settings_schema, servo->settings, show_secrets);
    json_object_set_new(out, "name", json_string(servo->name));
    json_t *routing = json_object();
    for (size_t i = 0; i < servo->connector_count; i++)
        json_object_set_new(routing, servo->connectors[i].name,
                            json_string(servo->connectors[i].plugin->name));
    json_object_set_new(out, "connectors", routing);
    for (size_t i = 0; i < servo->connector_count; i++) {
        const struct servo_connector *sc = &servo->connectors[i];
        json_object_set_new(out, sc->name,
                            settings_to_json(sc->plugin->settings, sc->settings, show_secrets));
    }
    return out;
}

/* The public accessors of include/servo/connector.h. */

const char *servo_connector_name(const struct servo_connector *connector)
{
    return connector->name;
}

const struct servo_connector_plugin *servo_connector_plugin(const struct servo_connector *c)
{
    return c->plugin;
}

const void *servo_connector_settings(const struct servo_connector *connector)
{
    return connector->settings;
}

void *servo_connector_state(const struct servo_connector *connector)
{
    return connector->state;
}

void servo_connector_set_state(struct servo_connector *connector, void *state)
{
    connector->state = state;
}
