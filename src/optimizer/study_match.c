// SPDX-License-Identifier: Apache-2.0
/* A stored study against the current configuration (study_match.h). */
#include "optimizer/study_match.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "optimizer/study_space.h"
#include "util/util.h"

/* The configuration keys that make trials comparable. */
static const char *const config_keys[] = {"objective", "objectives", "constraints"};

/* null for a missing key, null or empty list. */
static json_t *part(const json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value) ||
        (json_is_array(value) && json_array_size(value) == 0))
        return json_null();
    return json_deep_copy(value);
}

static json_t *number_or_null(double value)
{
    return isfinite(value) ? json_real(value) : json_null();
}

static json_t *param_json(const struct opt_param *p)
{
    json_t *json = json_object();
    json_object_set_new(json, "name", json_string(p->name));
    json_object_set_new(json, "type", json_string(p->kind == OPT_ENUM ? "enum" : "range"));
    if (p->kind == OPT_ENUM) {
        json_t *values = json_array();
        for (size_t i = 0; i < p->value_count; i++)
            json_array_append_new(values, json_string(p->values[i]));
        json_object_set_new(json, "values", values);
    } else {
        json_object_set_new(json, "min", number_or_null(p->min));
        json_object_set_new(json, "max", number_or_null(p->max));
        json_object_set_new(json, "step", number_or_null(p->step));
        json_object_set_new(json, "integer", json_boolean(p->integer));
    }
    json_object_set_new(json, "pinned", json_boolean(p->pinned));
    if (p->pinned) /* a pinned setting's value is part of the problem; another's is a trial's */
        json_object_set_new(json, "value", number_or_null(p->fixed));
    return json;
}

static json_t *settings_part(const struct servo_description *description)
{
    struct study_space space;
    char *error = NULL;
    if (study_space_build(description, &space, &error) != 0) {
        free(error);
        return json_null();
    }
    json_t *list = json_array();
    for (size_t i = 0; i < space.count; i++)
        json_array_append_new(list, param_json(&space.opt[i]));
    study_space_free(&space);
    return list;
}

json_t *study_fingerprint(const json_t *config, const struct servo_description *description)
{
    json_t *fingerprint = json_object();
    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++)
        json_object_set_new(fingerprint, config_keys[i], part(config, config_keys[i]));
    if (description != NULL)
        json_object_set_new(fingerprint, "settings", settings_part(description));
    return fingerprint;
}

static json_t *stored_fingerprint(const struct store_app *stored)
{
    json_t *config = stored->config ? json_loads(stored->config, 0, NULL) : NULL;
    json_t *descriptor = stored->description ? json_loads(stored->description, 0, NULL) : NULL;
    struct servo_description *description = NULL;
    char *error = NULL;
    if (descriptor != NULL && servo_description_from_json(descriptor, &description, &error) != 0)
        description = NULL; /* unreadable: the settings are not compared */
    free(error);
    json_t *fingerprint = study_fingerprint(config, description);
    servo_description_free(description);
    json_decref(descriptor);
    json_decref(config);
    return fingerprint;
}

static void add_difference(struct strbuf *sb, const char *name)
{
    strbuf_printf(sb, "%s%s", sb->len ? ", " : "", name);
}

char *study_mismatch(const struct store_app *stored, const struct study_settings *settings,
                     const struct servo_description *description)
{
    json_t *config = settings_to_json(&study_local_schema, settings, false);
    json_t *now = study_fingerprint(config, description);
    json_t *before = stored_fingerprint(stored);
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++)
        if (!json_equal(json_object_get(before, config_keys[i]),
                        json_object_get(now, config_keys[i])))
            add_difference(&sb, config_keys[i]);
    const json_t *then = json_object_get(before, "settings");
    const json_t *current = json_object_get(now, "settings");
    if (then != NULL && current != NULL && !json_equal(then, current))
        add_difference(&sb, "described settings");
    json_decref(before);
    json_decref(now);
    json_decref(config);
    if (sb.len == 0) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb);
}

/* The first "ID.N" the store does not hold. */
static char *free_name(char **ids, size_t count, const char *id)
{
    for (unsigned n = 1;; n++) {
        char *name = xasprintf("%s.%u", id, n);
        bool taken = false;
        for (size_t i = 0; i < count && !taken; i++)
            taken = str_eq(ids[i], name);
        if (!taken)
            return name;
        free(name);
    }
}

static int move_study(struct store *store, const char *id, const char *to, char **error)
{
    struct store_app app;
    memset(&app, 0, sizeof app);
    bool found = false;
    struct store_trial *trials = NULL;
    size_t count = 0;
    int rc = store_load_app(store, id, &app, &found, error);
    if (rc == 0 && !found) {
        *error = xasprintf("%s holds no study of \"%s\"", store_path(store), id);
        rc = -1;
    }
    if (rc == 0)
        rc = store_load_trials(store, id, &trials, &count, error);
    if (rc == 0) {
        free(app.id);
        app.id = xstrdup(to);
        rc = store_save_app(store, &app, error);
    }
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = store_save_trial(store, to, &trials[i], error);
    bool deleted = false;
    if (rc == 0)
        rc = store_delete_app(store, id, &deleted, error);
    store_trials_free(trials, count);
    store_app_clear(&app);
    return rc;
}

int study_set_aside(struct store *store, const char *id, char **kept, char **error)
{
    *kept = NULL;
    if (store_begin(store, error) != 0)
        return -1;
    char **ids = NULL;
    size_t count = 0;
    int rc = store_list_apps(store, &ids, &count, error);
    char *name = rc == 0 ? free_name(ids, count, id) : NULL;
    store_ids_free(ids, count);
    if (rc == 0 && strlen(name) > STORE_MAX_ID) {
        *error = xasprintf("cannot keep the study \"%s\" aside: \"%s\" is longer than %d bytes", id,
                           name, STORE_MAX_ID);
        rc = -1;
    }
    if (rc == 0)
        rc = move_study(store, id, name, error);
    if (rc == 0)
        rc = store_commit(store, error);
    if (rc != 0) {
        store_rollback(store);
        free(name);
        return -1;
    }
    *kept = name;
    return 0;
}
