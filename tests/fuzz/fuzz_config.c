/* libFuzzer target for the whole configuration path: YAML text through the assembly (routing,
 * every built-in connector's settings, the servo's own settings) with environment variables
 * and command-line overrides, then the `servo config` rendering of what was accepted.
 *
 * The input is YAML text, optionally followed by a NUL byte or a line "#ENV" and then an
 * environment section, one entry a line:
 *   NAME=VALUE    a variable, served by a fake env_lookup (SERVO_VEGETA_RATE=10/1s, ...)
 *   -PATH=VALUE   a command-line override, as --token etc. make them (-optimizer.token=x)
 *   !             --allow-unknown
 * Errors are fine; crashes, leaks, undefined behaviour and hangs are bugs. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assembly/assembly.h"
#include "assembly/registry.h"
#include "config/diag.h"
#include "config/env.h"
#include "config/yaml_out.h"

#define MAX_VARIABLES 64
#define MAX_OVERRIDES 16
#define ENV_MARKER "\n#ENV\n"

struct variable {
    const char *name;
    const char *value;
};

struct fake_env {
    struct variable items[MAX_VARIABLES];
    size_t count;
};

static struct registry registry;

static const char *fake_get(void *context, const char *name)
{
    const struct fake_env *env = context;
    /* the last definition wins, as with repeated `export` */
    for (size_t i = env->count; i-- > 0;)
        if (strcmp(env->items[i].name, name) == 0)
            return env->items[i].value;
    return NULL;
}

/* Splits `text` (NUL-terminated, writable) at the end of the YAML part; returns the start of
 * the environment section or NULL. */
static char *split_sections(char *text, size_t size, size_t *yaml_length)
{
    size_t nul = strlen(text);
    char *marker = strstr(text, ENV_MARKER);
    if (marker != NULL) {
        *marker = '\0';
        *yaml_length = (size_t)(marker - text);
        return marker + strlen(ENV_MARKER);
    }
    *yaml_length = nul;
    return nul < size ? text + nul + 1 : NULL;
}

static void parse_environment(char *section, struct fake_env *env,
                              struct config_override *overrides, size_t *override_count,
                              bool *allow_unknown)
{
    for (char *line = section; line != NULL && *line;) {
        char *end = strchr(line, '\n');
        if (end != NULL)
            *end = '\0';
        char *equals = strchr(line, '=');
        if (strcmp(line, "!") == 0) {
            *allow_unknown = true;
        } else if (equals != NULL && equals != line) {
            *equals = '\0';
            if (line[0] == '-' && line[1] != '\0' && *override_count < MAX_OVERRIDES)
                overrides[(*override_count)++] =
                    (struct config_override){.path = line + 1, .value = equals + 1};
            else if (line[0] != '-' && env->count < MAX_VARIABLES)
                env->items[env->count++] = (struct variable){.name = line, .value = equals + 1};
        }
        line = end ? end + 1 : NULL;
    }
}

/* What `servo config` does with an accepted assembly: JSON, then YAML. */
static void render(const struct assembly *a, bool show_secrets)
{
    json_t **values = calloc(a->count ? a->count : 1, sizeof *values);
    if (values == NULL)
        return;
    for (size_t i = 0; i < a->count; i++)
        values[i] = servo_config_to_json(&a->servos[i], show_secrets);
    for (size_t i = 0; i < a->count; i++)
        free(json_dumps(values[i], JSON_COMPACT | JSON_PRESERVE_ORDER));
    free(yaml_dump(values, a->count, a->count > 1));
    for (size_t i = 0; i < a->count; i++)
        json_decref(values[i]);
    free(values);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct servo_diags diags;
    diags_init(&diags);
    /* built-ins only: no SERVO_PLUGIN_PATH, no installed plugin directory */
    if (registry_init(&registry, "", "", &diags) != 0) {
        diags_print(&diags, stderr, "fuzz_config: ");
        abort();
    }
    diags_free(&diags);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    size_t yaml_length = 0;
    char *section = split_sections(text, size, &yaml_length);
    struct fake_env env = {.count = 0};
    struct config_override overrides[MAX_OVERRIDES];
    size_t override_count = 0;
    bool allow_unknown = false;
    parse_environment(section, &env, overrides, &override_count, &allow_unknown);

    const struct env_lookup lookup = {.get = fake_get, .context = &env};
    const struct assembly_options options = {.config_file = "fuzz.yaml",
                                             .allow_unknown = allow_unknown,
                                             .overrides = overrides,
                                             .override_count = override_count,
                                             .env = &lookup};
    struct servo_diags diags;
    diags_init(&diags);
    struct assembly a;
    if (assembly_load_text(&a, &registry, text, yaml_length, "fuzz.yaml", &options, &diags) == 0) {
        render(&a, (size & 1) != 0);
        assembly_free(&a);
    }
    for (size_t i = 0; i < diags.count; i++)
        free(diag_format(&diags.items[i]));
    diags_free(&diags);
    free(text);
    return 0;
}
