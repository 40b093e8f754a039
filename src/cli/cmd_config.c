/* Configuration commands: validate, config, schema, generate. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "config/settings.h"
#include "config/yaml.h"
#include "config/yaml_out.h"
#include "util/util.h"
#include "util/json_text.h"

static char *dump_json(json_t *value)
{
    char *text = json_text(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *with_newline = xasprintf("%s\n", text);
    free(text);
    return with_newline;
}

/* ---- validate -------------------------------------------------------------------------- */

/* `servo validate CONNECTOR...`: what a document calls its instances, and whether one of
 * them is among those named (an instance name, a connector name, or ALIAS:CONNECTOR). */
struct instance_key {
    const char *key;
    const char *connector;
};

static size_t document_instances(const struct registry *registry, const struct servo_node *doc,
                                 struct instance_key *keys, size_t capacity)
{
    size_t n = 0;
    if (doc == NULL || doc->kind != SERVO_NODE_MAP)
        return 0;
    const struct servo_node *routing = servo_node_get(doc, "connectors");
    if (routing && routing->kind == SERVO_NODE_MAP) {
        for (size_t i = 0; i < routing->count && n < capacity; i++)
            if (routing->pairs[i].value->kind == SERVO_NODE_SCALAR)
                keys[n++] =
                    (struct instance_key){routing->pairs[i].key, routing->pairs[i].value->text};
        return n;
    }
    if (routing && routing->kind == SERVO_NODE_SEQ) {
        for (size_t i = 0; i < routing->count && n < capacity; i++)
            if (routing->items[i]->kind == SERVO_NODE_SCALAR)
                keys[n++] = (struct instance_key){routing->items[i]->text, routing->items[i]->text};
        return n;
    }
    for (size_t i = 0; i < doc->count && n < capacity; i++)
        if (registry_find(registry, doc->pairs[i].key) != NULL)
            keys[n++] = (struct instance_key){doc->pairs[i].key, doc->pairs[i].key};
    return n;
}

static bool named_instance(const struct instance_key *k, char **names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *colon = strchr(names[i], ':');
        if (colon ? strncmp(names[i], k->key, (size_t)(colon - names[i])) == 0 &&
                        k->key[colon - names[i]] == '\0'
                  : strcmp(names[i], k->key) == 0 || strcmp(names[i], k->connector) == 0)
            return true;
    }
    return false;
}

/* The first component of a diagnostic's path: the stanza it is about. */
static bool path_is_key(const char *path, const char *key)
{
    size_t n = strlen(key);
    return path && strncmp(path, key, n) == 0 && (path[n] == '\0' || path[n] == '.');
}

static bool names_instance(const char *name, const struct instance_key *k)
{
    return named_instance(k, (char **)&name, 1);
}

/* Keeps the diagnostics about the named instances and the file as a whole; drops those about
 * the stanzas of other instances. */
static void keep_named_diags(const struct registry *registry, const struct yaml_documents *docs,
                             char **names, size_t count, struct servo_diags *diags)
{
    enum { MAX_INSTANCES = 256 };
    struct instance_key keys[MAX_INSTANCES];
    size_t kept = 0;
    for (size_t j = 0; j < diags->count; j++) {
        bool other = false;
        for (size_t d = 0; d < docs->count && !other; d++) {
            size_t n = document_instances(registry, docs->items[d], keys, MAX_INSTANCES);
            for (size_t i = 0; i < n && !other; i++)
                other = path_is_key(diags->items[j].path, keys[i].key) &&
                        !named_instance(&keys[i], names, count);
        }
        if (other) {
            free(diags->items[j].source);
            free(diags->items[j].path);
            free(diags->items[j].message);
        } else {
            diags->items[kept++] = diags->items[j];
        }
    }
    diags->count = kept;
}

/* Whether some document of the file has an instance that `name` names. */
static bool configured(const struct registry *registry, const struct yaml_documents *docs,
                       const char *name)
{
    enum { MAX_INSTANCES = 256 };
    struct instance_key keys[MAX_INSTANCES];
    for (size_t d = 0; d < docs->count; d++) {
        size_t n = document_instances(registry, docs->items[d], keys, MAX_INSTANCES);
        for (size_t i = 0; i < n; i++)
            if (names_instance(name, &keys[i]))
                return true;
    }
    return false;
}

/* With the file's documents at hand, keeps only the diagnostics that concern the named
 * connectors, and adds one for each that the file does not configure. Returns -1 (exit 2)
 * for a name that is neither a connector nor an instance of the file. */
static int validate_named(struct cli *cli, char **names, size_t count, struct servo_diags *diags)
{
    struct yaml_documents docs;
    struct servo_diags ignored;
    diags_init(&ignored);
    if (yaml_load_file(cli->config_file, &docs, &ignored) != 0) {
        diags_free(&ignored); /* the file does not parse: its errors stand */
        return 0;
    }
    diags_free(&ignored);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (configured(&cli->registry, &docs, names[i]))
            continue;
        const char *colon = strchr(names[i], ':');
        if (registry_find(&cli->registry, colon ? colon + 1 : names[i]) == NULL) {
            cli_error("validate: no connector named \"%s\" (see 'servo connectors')",
                      colon ? colon + 1 : names[i]);
            rc = -1;
        } else {
            diag_add(diags, cli->config_file, 0, 0, NULL,
                     "no \"%s\" connector is configured in this file", names[i]);
        }
    }
    if (rc == 0)
        keep_named_diags(&cli->registry, &docs, names, count, diags);
    yaml_documents_free(&docs);
    return rc;
}

int cmd_validate(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("validate");
    bool quiet = false;
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 'f')
            cli->config_file = optarg;
        if (c == 'q')
            quiet = true;
    }
    char **names = argv + optind;
    size_t name_count = (size_t)(argc - optind);
    if (access(cli->config_file, F_OK) != 0) { /* as ServoX: a usage error, not an invalid file */
        cli_error("validate: invalid value for --file: %s %s", cli->config_file,
                  errno == ENOENT ? "does not exist" : strerror(errno));
        return EXIT_USAGE;
    }
    if (cli_registry(cli) != 0)
        return cli->failure;
    struct assembly_options o = {.config_file = cli->config_file,
                                 .allow_unknown = cli->allow_unknown,
                                 .overrides = cli->overrides,
                                 .override_count = cli->override_count};
    struct servo_diags diags;
    diags_init(&diags);
    int rc = assembly_load(&cli->assembly, &cli->registry, &o, &diags);
    cli->assembly_ready = rc == 0;
    if (name_count > 0 && validate_named(cli, names, name_count, &diags) != 0) {
        diags_free(&diags);
        return EXIT_USAGE;
    }
    if (name_count > 0)
        rc = diags.count == 0 ? 0 : -1; /* only the named connectors' errors count */
    if (rc == 0) {
        if (!quiet)
            printf("\u221a Valid configuration in %s\n", cli->config_file);
    } else {
        fprintf(stderr, "X Invalid configuration in %s\n", cli->config_file);
        cli_print_diags(&diags);
    }
    diags_free(&diags);
    return rc == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
}

/* ---- config ---------------------------------------------------------------------------- */

static json_t *configmap(const struct cli *cli, json_t *const *servos, size_t count)
{
    json_t *connectors = json_array();
    for (size_t s = 0; s < cli->assembly.count; s++) {
        const struct servo_config *servo = &cli->assembly.servos[s];
        if (cli->servo_name && strcmp(cli->servo_name, servo->name) != 0)
            continue; /* only the servos in the map */
        for (size_t i = 0; i < servo->connector_count; i++) {
            const struct servo_connector_plugin *p = servo->connectors[i].plugin;
            json_array_append_new(connectors,
                                  json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "name",
                                            servo->connectors[i].name, "type", p->class_name,
                                            "description", p->description, "version", p->version,
                                            "url", p->homepage));
        }
    }
    char *connectors_text = json_dumps(connectors, JSON_COMPACT);
    json_decref(connectors);
    for (size_t i = 0; i < count; i++) /* the token is a secret: it goes in a Secret */
        json_object_del(servos[i], "optimizer");
    char *servo_yaml = yaml_dump(servos, count, false);
    char stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    json_t *map = json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:{s:s, s:s}}, s:{s:s}}",
                            "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                            "opsani-servo-config", "labels", "app.kubernetes.io/name", "servo",
                            "app.kubernetes.io/version", SERVO_VERSION, "annotations",
                            "servo.opsani.com/configured_at", stamp, "servo.opsani.com/connectors",
                            connectors_text, "data", "servo.yaml", servo_yaml ? servo_yaml : "");
    free(connectors_text);
    free(servo_yaml);
    return map;
}

/* `servo config KEY...`: only those top-level keys of each servo, as ServoX's `include`. A
 * key that no servo has is an error rather than an empty document. */
static int keep_keys(json_t *const *servos, size_t count, char **keys, size_t key_count)
{
    for (size_t k = 0; k < key_count; k++) {
        bool found = false;
        for (size_t i = 0; i < count && !found; i++)
            found = json_object_get(servos[i], keys[k]) != NULL;
        if (!found) {
            struct strbuf known;
            strbuf_init(&known);
            const char *key;
            json_t *value;
            json_object_foreach(servos[0], key, value)
            {
                (void)value;
                strbuf_printf(&known, "%s%s", known.len ? ", " : "", key);
            }
            cli_error("config: no key \"%s\" in the configuration (keys: %s)", keys[k],
                      known.data ? known.data : "none");
            strbuf_release(&known);
            return -1;
        }
    }
    for (size_t i = 0; i < count && key_count > 0; i++) {
        void *iter = json_object_iter(servos[i]);
        while (iter != NULL) {
            const char *key = json_object_iter_key(iter);
            bool wanted = false;
            for (size_t k = 0; k < key_count && !wanted; k++)
                wanted = strcmp(keys[k], key) == 0;
            void *next = json_object_iter_next(servos[i], iter);
            if (!wanted)
                json_object_del(servos[i], key);
            iter = next;
        }
    }
    return 0;
}

int cmd_config(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("config");
    /* `servo config SUBCOMMAND` (convert): a word of the table is never taken as a key */
    const struct cli_command *sub = argc > 1 ? cli_find_subcommand(self, argv[1]) : NULL;
    if (sub != NULL && sub->run != NULL)
        return sub->run(cli, argc - 1, argv + 1);
    const char *output = NULL;
    bool show_secrets = false;
    int format = 0, c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 'f' && (format = cli_option_choice(self, 'f', optarg)) < 0)
            return EXIT_USAGE;
        if (c == 'o')
            output = optarg;
        if (c == 's')
            show_secrets = true;
    }
    if (cli_assemble(cli) != 0)
        return cli->failure;
    size_t count = 0;
    json_t **servos = xcalloc(cli->assembly.count, sizeof *servos);
    for (size_t i = 0; i < cli->assembly.count; i++) {
        const struct servo_config *s = &cli->assembly.servos[i];
        if (cli->servo_name && strcmp(cli->servo_name, s->name) != 0)
            continue;
        servos[count++] = servo_config_to_json(s, show_secrets);
    }
    if (count == 0) {
        free(servos);
        return cli_selected_servo(cli) ? EXIT_OK : EXIT_USAGE;
    }
    if (keep_keys(servos, count, argv + optind, (size_t)(argc - optind)) != 0) {
        for (size_t i = 0; i < count; i++)
            json_decref(servos[i]);
        free(servos);
        return EXIT_USAGE;
    }
    char *text = NULL;
    if (format == 0) {
        text = yaml_dump(servos, count, count > 1);
    } else if (format == 1) {
        json_t *array = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append(array, servos[i]);
        text = dump_json(count == 1 ? servos[0] : array);
        json_decref(array);
    } else {
        json_t *map = configmap(cli, servos, count);
        text = yaml_dump(&map, 1, true);
        json_decref(map);
    }
    for (size_t i = 0; i < count; i++)
        json_decref(servos[i]);
    free(servos);
    int rc = text && cli_write_output(output, text) == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
    free(text);
    return rc;
}

/* ---- schema ---------------------------------------------------------------------------- */

static json_t *connector_schema(const struct servo_connector_plugin *plugin, const char *key)
{
    char *prefix = assembly_env_prefix(key);
    json_t *schema = settings_json_schema(plugin->settings, prefix);
    char *title = xasprintf("%s Configuration Schema", plugin->class_name);
    json_object_set_new(schema, "title", json_string(title));
    free(title);
    free(prefix);
    return schema;
}

static json_t *connectors_property_schema(void)
{
    json_error_t error;
    return json_loads(
        "{\"description\": \"Which connectors are active: a list of names (each needs its "
        "stanza), or a mapping of instance name to connector; absent: every connector whose "
        "key is present\", \"env_names\": [\"SERVO_CONNECTORS\"], \"anyOf\": [{\"type\": "
        "\"array\", \"items\": {\"type\": \"string\"}}, {\"type\": \"object\", "
        "\"additionalProperties\": {\"type\": \"string\"}}, {\"type\": \"null\"}]}",
        0, &error);
}

/* Foreign top-level keys are refused unless `extra: ignore`: only the known properties are
 * allowed otherwise. */
static void allow_extra_when_ignored(json_t *schema, json_t *properties)
{
    json_t *names = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(properties, key, value)
    {
        (void)value;
        json_array_append_new(names, json_string(key));
    }
    json_object_del(schema, "additionalProperties");
    json_object_set_new(schema, "if",
                        json_pack("{s:{s:{s:s}}, s:[s]}", "properties", "extra", "const", "ignore",
                                  "required", "extra"));
    json_object_set_new(schema, "else", json_pack("{s:{s:o}}", "propertyNames", "enum", names));
}

/* Instance key -> connector, from the configuration's routing when it loads, else (with
 * implicit routing, which can activate any of them, and with --all) every connector at its
 * default key. */
static json_t *servo_schema(struct cli *cli, bool top_level, bool all)
{
    json_t *schema = settings_json_schema(&servo_settings_schema, "SERVO");
    json_object_set_new(schema, "title", json_string("Servo Configuration Schema"));
    json_t *properties = json_object_get(schema, "properties");
    json_object_set_new(properties, "connectors", connectors_property_schema());
    const struct servo_config *servo = NULL;
    if (cli->assembly_ready)
        servo = assembly_find(&cli->assembly, cli->servo_name);
    if (servo && (servo->routing == ROUTING_IMPLICIT || all))
        servo = NULL; /* every connector at its default key */
    size_t count = servo ? servo->connector_count : cli->registry.count;
    for (size_t i = 0; i < count; i++) {
        const char *key = servo ? servo->connectors[i].name : cli->registry.entries[i].plugin->name;
        const struct servo_connector_plugin *plugin =
            servo ? servo->connectors[i].plugin : cli->registry.entries[i].plugin;
        json_t *stanza;
        if (top_level) {
            char *prefix = assembly_env_prefix(key);
            char *text = xasprintf("%s (see `servo schema %s`)", plugin->description, plugin->name);
            stanza = json_pack("{s:[s,s], s:s, s:[s]}", "type", "object", "null", "description",
                               text, "env_names", prefix);
            free(text);
            free(prefix);
        } else {
            stanza = connector_schema(plugin, key);
            json_object_del(stanza, "$schema");
            json_object_set_new(stanza, "type", json_pack("[s,s]", "object", "null"));
        }
        json_object_set_new(properties, key, stanza);
    }
    allow_extra_when_ignored(schema, properties);
    return schema;
}

int cmd_schema(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("schema");
    const char *output = NULL;
    bool top_level = false, all = false;
    int format = 0, c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        if (c == -2)
            return EXIT_USAGE;
        if (c == 'h')
            return cli_help(self, stdout);
        if (c == 'f' && (format = cli_option_choice(self, 'f', optarg)) < 0)
            return EXIT_USAGE;
        if (c == 'o')
            output = optarg;
        if (c == 't')
            top_level = true;
        if (c == 'a')
            all = true;
    }
    if (cli_refuse_operands(self, argc, argv, 1) != 0)
        return EXIT_USAGE;
    if (cli_registry(cli) != 0)
        return cli->failure;
    json_t *schema;
    if (optind < argc) {
        const struct registry_entry *entry = registry_find(&cli->registry, argv[optind]);
        if (entry == NULL) {
            cli_error("schema: no connector named \"%s\" (see 'servo connectors')", argv[optind]);
            return EXIT_USAGE;
        }
        schema = connector_schema(entry->plugin, entry->plugin->name);
    } else {
        if ((cli->config_file_given || access(cli->config_file, F_OK) == 0) &&
            cli_assemble(cli) != 0)
            return cli->failure;
        if (cli->servo_name && cli->assembly_ready && cli_selected_servo(cli) == NULL)
            return cli->failure; /* no servo of that name */
        schema = servo_schema(cli, top_level, all);
    }
    char *text = format == 1   ? settings_schema_text(schema)
                 : format == 2 ? settings_schema_html(schema)
                               : dump_json(schema);
    json_decref(schema);
    int rc = cli_write_output(output, text) == 0 ? EXIT_OK : EXIT_FAILURE_OPERATIONAL;
    free(text);
    return rc;
}

/* ---- generate -------------------------------------------------------------------------- */

struct generate_spec {
    const char *alias;
    const struct registry_entry *entry;
};

static int parse_specs(struct cli *cli, int argc, char **argv, struct generate_spec **specs,
                       size_t *count, bool *aliased)
{
    *count = 0;
    *aliased = false;
    *specs = xcalloc((size_t)argc + cli->registry.count + 1, sizeof **specs);
    for (int i = 0; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        const char *identifier = colon ? colon + 1 : argv[i];
        const struct registry_entry *entry = registry_find(&cli->registry, identifier);
        if (entry == NULL) {
            cli_error("generate: no connector named \"%s\" (see 'servo connectors')", identifier);
            return -1;
        }
        if (colon) {
            *colon = '\0';
            *aliased = true;
        }
        const char *alias = colon ? argv[i] : entry->plugin->name;
        for (size_t j = 0; j < *count; j++) {
            if (strcmp((*specs)[j].alias, alias) == 0) {
                cli_error("generate: \"%s\" is given twice (name the instances with "
                          "ALIAS:CONNECTOR)",
                          alias);
                return -1;
            }
        }
        (*specs)[(*count)++] = (struct generate_spec){alias, entry};
    }
    return 0;
}

static json_t *generated_stanza(const struct generate_spec *spec, bool defaults)
{
    const struct servo_connector_plugin *p = spec->entry->plugin;
    struct servo_node *node = settings_parse_default(p->generate ? p->generate : "{}");
    struct servo_diags diags;
    diags_init(&diags);
    void *settings = settings_load(p->settings, node, spec->alias, NULL, &diags);
    json_t *stanza = NULL;
    if (settings == NULL) {
        cli_error("generate: the \"%s\" connector's generated stanza is not valid:", p->name);
        cli_print_diags(&diags);
    } else {
        stanza = defaults ? settings_to_json(p->settings, settings, true) : node_to_json(node);
    }
    settings_free(p->settings, settings);
    diags_free(&diags);
    node_free(node);
    return stanza;
}

static json_t *generated_document(const struct generate_spec *specs, size_t count, bool listed,
                                  bool aliased, bool defaults, const char *name)
{
    json_t *doc = json_object();
    if (name)
        json_object_set_new(doc, "name", json_string(name));
    if (listed) {
        json_t *routing = aliased ? json_object() : json_array();
        for (size_t i = 0; i < count; i++) {
            if (aliased)
                json_object_set_new(routing, specs[i].alias,
                                    json_string(specs[i].entry->plugin->name));
            else
                json_array_append_new(routing, json_string(specs[i].alias));
        }
        json_object_set_new(doc, "connectors", routing);
    }
    for (size_t i = 0; i < count; i++) {
        json_t *stanza = generated_stanza(&specs[i], defaults);
        if (stanza == NULL) {
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(doc, specs[i].alias, stanza);
    }
    return doc;
}

/* The name a document gives its servo: `name`, else `optimizer.id`; NULL when neither. */
static const char *document_name(const struct servo_node *doc)
{
    const struct servo_node *name = servo_node_get(doc, "name");
    if (name == NULL || name->kind != SERVO_NODE_SCALAR)
        name = servo_node_get(servo_node_get(doc, "optimizer"), "id");
    return name && name->kind == SERVO_NODE_SCALAR ? name->text : NULL;
}

static bool documents_name(const struct yaml_documents *docs, const char *name)
{
    for (size_t i = 0; i < docs->count; i++) {
        const char *existing = document_name(docs->items[i]);
        if (existing && strcmp(existing, name) == 0)
            return true;
    }
    return false;
}

/* Appending makes a multi-servo file, where every servo needs a distinct name: checks the
 * servos already in `file` and picks a free name ("servo-N") when none is given. Returns -1
 * after an error. */
static int check_append(const char *file, const char **name, char **auto_name)
{
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    if (yaml_load_file(file, &docs, &diags) != 0) {
        cli_error("generate: cannot append to %s:", file);
        cli_print_diags(&diags);
        diags_free(&diags);
        return -1;
    }
    diags_free(&diags);
    int rc = 0;
    for (size_t i = 0; i < docs.count && rc == 0; i++) {
        if (document_name(docs.items[i]) == NULL) {
            cli_error("generate: cannot append to %s: document %zu has no `name` or "
                      "`optimizer.id`; every servo of a multi-servo file needs one",
                      file, i + 1);
            rc = -1;
        }
    }
    if (rc == 0 && *name != NULL && documents_name(&docs, *name)) {
        cli_error("generate: cannot append to %s: a servo named \"%s\" is already in it", file,
                  *name);
        rc = -1;
    }
    for (size_t n = docs.count + 1; rc == 0 && *name == NULL; n++) {
        char *candidate = xasprintf("servo-%zu", n);
        if (documents_name(&docs, candidate))
            free(candidate);
        else
            *name = *auto_name = candidate;
    }
    yaml_documents_free(&docs);
    return rc;
}

static const char *no_variable(void *context, const char *name)
{
    (void)context;
    (void)name;
    return NULL;
}

/* What generate writes must be a configuration `servo validate` accepts (whatever the
 * environment says): bad or reserved instance names are refused before anything is written. */
static int check_generated(struct cli *cli, const char *yaml)
{
    static const struct env_lookup no_environment = {.get = no_variable};
    struct assembly_options o = {.config_file = "generated", .env = &no_environment};
    struct assembly a;
    struct servo_diags diags;
    diags_init(&diags);
    int rc = assembly_load_text(&a, &cli->registry, yaml, strlen(yaml), "generated", &o, &diags);
    if (rc == 0) {
        assembly_free(&a);
    } else {
        cli_error("generate: the configuration would not be valid:");
        cli_print_diags(&diags);
    }
    diags_free(&diags);
    return rc;
}

int cmd_generate(struct cli *cli, int argc, char **argv)
{
    const struct cli_command *self = cli_find_command("generate");
    const char *file = "servo.yaml", *name = NULL;
    bool defaults = false, standalone = false, append = false, force = false, quiet = false;
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        switch (c) {
        case -2:
            return EXIT_USAGE;
        case 'h':
            return cli_help(self, stdout);
        case 'f':
            file = optarg;
            break;
        case 'd':
            defaults = true;
            break;
        case 's':
            standalone = true;
            break;
        case 'a':
            append = true;
            break;
        case 'F':
            force = true;
            break;
        case 'n':
            name = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            break;
        }
    }
    if (cli_registry(cli) != 0)
        return cli->failure;
    bool exists = access(file, F_OK) == 0;
    if (exists && !force && !append) {
        cli_error("generate: %s already exists (use --force to overwrite it or --append to add "
                  "another servo to it)",
                  file);
        return EXIT_USAGE;
    }
    struct generate_spec *specs;
    size_t count;
    bool aliased;
    if (parse_specs(cli, argc - optind, argv + optind, &specs, &count, &aliased) != 0) {
        free(specs);
        return EXIT_USAGE;
    }
    bool listed = count > 0 && !standalone;
    /* Without names, only `wait`: a file that `servo run` would start tuning a system with
     * (kubernetes, exec, ...) must be asked for by name. */
    bool unnamed = count == 0;
    const struct registry_entry *wait = unnamed ? registry_find(&cli->registry, "wait") : NULL;
    if (wait != NULL)
        specs[count++] = (struct generate_spec){wait->plugin->name, wait};
    char *auto_name = NULL;
    if (append && exists && check_append(file, &name, &auto_name) != 0) {
        free(specs);
        return EXIT_USAGE;
    }
    json_t *doc = generated_document(specs, count, listed, aliased, defaults, name);
    free(specs);
    free(auto_name);
    if (doc == NULL)
        return EXIT_FAILURE_OPERATIONAL;
    char *yaml = yaml_dump(&doc, 1, append && exists);
    json_decref(doc);
    if (unnamed && !(append && exists)) {
        char *commented =
            xasprintf("# Only the wait connector, which changes nothing. Name the connectors to\n"
                      "# configure: servo generate CONNECTOR... (see 'servo connectors').\n%s",
                      yaml);
        free(yaml);
        yaml = commented;
    }
    if (check_generated(cli, yaml) != 0) {
        free(yaml);
        return EXIT_USAGE;
    }
    FILE *f = fopen(file, append ? "a" : "w");
    int rc = EXIT_OK;
    bool written = f != NULL && fputs(yaml, f) != EOF;
    if (f != NULL && fclose(f) != 0)
        written = false;
    if (!written) {
        cli_error("generate: cannot write %s", file);
        rc = EXIT_FAILURE_OPERATIONAL;
    } else if (!quiet) {
        fputs(yaml, stdout);
        printf("Generated %s\n", file);
    }
    free(yaml);
    return rc;
}

/* ---- init ------------------------------------------------------------------------------- */

struct init_answers {
    char *optimizer; /* ORG/APP; NULL: the embedded optimizer */
    char *token;
    char *base_url;
    char **connectors;
    size_t connector_count;
    char *line; /* the connectors' answer, which `connectors` points into */
};

static void init_answers_free(struct init_answers *a)
{
    free(a->optimizer);
    if (a->token != NULL)
        explicit_bzero(a->token, strlen(a->token));
    free(a->token);
    free(a->base_url);
    free(a->connectors);
    free(a->line);
}

/* One line from the terminal, without its newline; NULL at end of input. */
static char *prompt(const char *question)
{
    fputs(question, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t size = 0;
    if (getline(&line, &size, stdin) < 0) {
        free(line);
        fputc('\n', stdout);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

static void split_words(struct init_answers *a)
{
    char *save = NULL;
    for (char *word = strtok_r(a->line, " \t,", &save); word;
         word = strtok_r(NULL, " \t,", &save)) {
        a->connectors = xrealloc(a->connectors, (a->connector_count + 1) * sizeof(char *));
        a->connectors[a->connector_count++] = word;
    }
}

/* The questions of a terminal session; -1 when the input ends. */
static int ask(struct init_answers *a)
{
    char *optimizer = prompt("Opsani optimizer? (ORG/APP, e.g. dev.opsani.com/app-name; empty: "
                             "the embedded optimizer) ");
    if (optimizer == NULL)
        return -1;
    if (optimizer[0] != '\0') {
        a->optimizer = optimizer;
        if ((a->token = prompt("API token? ")) == NULL)
            return -1;
    } else {
        free(optimizer);
    }
    a->line = prompt("Connectors? (space-separated, see 'servo connectors'; empty: wait) ");
    if (a->line == NULL)
        return -1;
    split_words(a);
    return 0;
}

static int refuse_existing(const char *path, bool force)
{
    if (force || access(path, F_OK) != 0)
        return 0;
    cli_error("init: %s already exists (use --force to overwrite it)", path);
    return -1;
}

static int write_private_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    bool written = f != NULL && fchmod(fileno(f), 0600) == 0 && fputs(text, f) != EOF;
    if (f != NULL && fclose(f) != 0)
        written = false;
    if (!written)
        cli_error("init: cannot write %s: %s", path, strerror(errno));
    return written ? 0 : -1;
}

static json_t *init_optimizer(const struct init_answers *a)
{
    json_t *o = json_pack("{s:s, s:s}", "id", a->optimizer, "token", a->token);
    if (a->base_url)
        json_object_set_new(o, "base_url", json_string(a->base_url));
    return o;
}

static char *dotenv_text(const struct init_answers *a)
{
    return xasprintf("OPSANI_OPTIMIZER=%s\nOPSANI_TOKEN=%s\n%s%s%sSERVO_LOG_LEVEL=DEBUG\n",
                     a->optimizer, a->token, a->base_url ? "OPSANI_BASE_URL=" : "",
                     a->base_url ? a->base_url : "", a->base_url ? "\n" : "");
}

/* The configuration init writes: generate's, with the optimizer in it only without a .env. A
 * configuration that would not validate (a bad optimizer id, say) is refused. */
static char *init_yaml(struct cli *cli, const struct init_answers *a, bool dotenv)
{
    struct generate_spec *specs;
    size_t count;
    bool aliased;
    if (parse_specs(cli, (int)a->connector_count, a->connectors, &specs, &count, &aliased) != 0) {
        free(specs);
        return NULL;
    }
    const struct registry_entry *wait = registry_find(&cli->registry, "wait");
    bool listed = count > 0;
    if (count == 0 && wait != NULL)
        specs[count++] = (struct generate_spec){wait->plugin->name, wait};
    json_t *doc = generated_document(specs, count, listed, aliased, false, NULL);
    free(specs);
    if (doc == NULL)
        return NULL;
    if (a->optimizer)
        json_object_set_new(doc, "optimizer", init_optimizer(a));
    char *checked = yaml_dump(&doc, 1, false);
    int rc = check_generated(cli, checked);
    free(checked);
    if (a->optimizer && dotenv)
        json_object_del(doc, "optimizer"); /* .env holds it */
    char *yaml = rc == 0 ? yaml_dump(&doc, 1, false) : NULL;
    json_decref(doc);
    return yaml;
}

static int init_options(struct cli *cli, int argc, char **argv, struct init_answers *a,
                        const char **file, bool *dotenv, bool *force)
{
    const struct cli_command *self = cli_find_command("init");
    int c;
    optind = 0;
    while ((c = cli_getopt(argc, argv, self)) != -1) {
        switch (c) {
        case -2:
            return EXIT_USAGE;
        case 'h':
            cli_help(self, stdout);
            return -1;
        case 'o':
            free(a->optimizer);
            a->optimizer = xstrdup(optarg);
            break;
        case 't':
            free(a->token);
            a->token = xstrdup(optarg);
            break;
        case OPT_BASE_URL:
            free(a->base_url);
            a->base_url = xstrdup(optarg);
            break;
        case 'f':
            *file = optarg;
            break;
        case OPT_DOTENV:
        case OPT_NO_DOTENV:
            *dotenv = c == OPT_DOTENV;
            break;
        case 'F':
            *force = true;
            break;
        default:
            break;
        }
    }
    (void)cli;
    for (int i = optind; i < argc; i++) {
        a->connectors = xrealloc(a->connectors, (a->connector_count + 1) * sizeof(char *));
        a->connectors[a->connector_count++] = argv[i];
    }
    return 0;
}

static int init_check_answers(const struct init_answers *a)
{
    if (a->optimizer && (a->token == NULL || a->token[0] == '\0')) {
        cli_error("init: the optimizer %s needs an API token (--token)", a->optimizer);
        return -1;
    }
    if (a->optimizer == NULL && (a->token || a->base_url)) {
        cli_error("init: --token and --base-url need an optimizer (--optimizer ORG/APP); without "
                  "one, servo run uses the embedded optimizer");
        return -1;
    }
    return 0;
}

static int init_write(const char *file, const char *yaml, const struct init_answers *a, bool dotenv)
{
    char *env = a->optimizer && dotenv ? dotenv_text(a) : NULL;
    int rc =
        (a->optimizer && !dotenv) ? write_private_file(file, yaml) : cli_write_output(file, yaml);
    if (rc == 0 && env != NULL)
        rc = write_private_file(".env", env);
    if (env != NULL)
        explicit_bzero(env, strlen(env));
    free(env);
    if (rc != 0)
        return EXIT_FAILURE_OPERATIONAL;
    fputs(yaml, stdout);
    printf("Generated %s\n", file);
    if (a->optimizer && dotenv)
        printf("Wrote .env: the optimizer %s and its token (servo run connects to it)\n",
               a->optimizer);
    else if (a->optimizer == NULL)
        printf("No optimizer given: servo run uses the embedded optimizer\n");
    return EXIT_OK;
}

int cmd_init(struct cli *cli, int argc, char **argv)
{
    struct init_answers a = {0};
    const char *file = "servo.yaml";
    bool dotenv = true, force = false;
    int rc = init_options(cli, argc, argv, &a, &file, &dotenv, &force);
    bool interactive = a.optimizer == NULL && a.token == NULL && a.connector_count == 0 &&
                       isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (rc == 0 && refuse_existing(file, force) != 0)
        rc = EXIT_USAGE;
    if (rc == 0 && interactive && ask(&a) != 0) {
        cli_error("init: aborted (end of input)");
        rc = EXIT_FAILURE_OPERATIONAL;
    }
    if (rc == 0 && (init_check_answers(&a) != 0 ||
                    (a.optimizer && dotenv && refuse_existing(".env", force) != 0)))
        rc = EXIT_USAGE;
    if (rc == 0 && cli_registry(cli) != 0)
        rc = cli->failure;
    char *yaml = rc == 0 ? init_yaml(cli, &a, dotenv) : NULL;
    if (rc == 0 && yaml == NULL)
        rc = EXIT_USAGE;
    if (rc == 0)
        rc = init_write(file, yaml, &a, dotenv);
    free(yaml);
    init_answers_free(&a);
    return rc < 0 ? EXIT_OK : rc;
}
