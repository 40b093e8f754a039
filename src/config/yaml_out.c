#include "config/yaml_out.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "util/util.h"

static int write_to_strbuf(void *data, unsigned char *buffer, size_t size)
{
    strbuf_add(data, (const char *)buffer, size);
    return 1;
}

static bool reads_as_other_type(const char *s)
{
    static const char *const words[] = {"",     "~",    "null",  "Null",  "NULL",  "true",
                                        "True", "TRUE", "false", "False", "FALSE", "yes",
                                        "Yes",  "YES",  "no",    "No",    "NO",    "on",
                                        "On",   "ON",   "off",   "Off",   "OFF",   "<<"};
    for (size_t i = 0; i < ARRAY_LEN(words); i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    char *end = NULL;
    (void)strtod(s, &end);
    if (end != s && *end == '\0')
        return true;
    /* what YAML 1.1 readers resolve to other types: timestamps ("2026-11-28T00:00:00"),
     * sexagesimals ("1:30"), integers with underscores or a base prefix */
    static const char *const patterns[] = {
        "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",
        "^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$",
        "^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*|[0-9][0-9_]*\\.[0-9_]*)$",
    };
    for (size_t i = 0; i < ARRAY_LEN(patterns); i++) {
        regex_t re;
        if (regcomp(&re, patterns[i], REG_EXTENDED | REG_NOSUB) != 0)
            continue;
        int matched = regexec(&re, s, 0, NULL, 0) == 0;
        regfree(&re);
        if (matched)
            return true;
    }
    return false;
}

static int emit_scalar(yaml_emitter_t *e, const char *text, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1, 1,
                                 style);
    return yaml_emitter_emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, json_t *value);

static int emit_string(yaml_emitter_t *e, const char *s)
{
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (reads_as_other_type(s))
        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
    else if (strchr(s, '\n'))
        style = YAML_LITERAL_SCALAR_STYLE;
    return emit_scalar(e, s, style);
}

static int emit_number(yaml_emitter_t *e, json_t *value)
{
    char buf[64];
    if (json_is_integer(value)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    } else {
        double d = json_real_value(value);
        snprintf(buf, sizeof buf, "%.17g", d);
        /* the shortest text that reads back exactly */
        for (int precision = 1; precision < 17; precision++) {
            char shorter[64];
            snprintf(shorter, sizeof shorter, "%.*g", precision, d);
            if (strtod(shorter, NULL) == d) {
                memcpy(buf, shorter, sizeof shorter);
                break;
            }
        }
        if (!strpbrk(buf, ".eEn"))
            strcat(buf, ".0");
    }
    return emit_scalar(e, buf, YAML_PLAIN_SCALAR_STYLE);
}

static int emit_mapping(yaml_emitter_t *e, json_t *object)
{
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(e, &ev))
        return 0;
    const char *key;
    json_t *v;
    json_object_foreach(object, key, v)
    {
        if (!emit_string(e, key) || !emit_value(e, v))
            return 0;
    }
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(e, &ev);
}

static int emit_sequence(yaml_emitter_t *e, json_t *array)
{
    yaml_event_t ev;
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    if (!yaml_emitter_emit(e, &ev))
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        if (!emit_value(e, v))
            return 0;
    }
    yaml_sequence_end_event_initialize(&ev);
    return yaml_emitter_emit(e, &ev);
}

static int emit_value(yaml_emitter_t *e, json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return emit_mapping(e, value);
    case JSON_ARRAY:
        return emit_sequence(e, value);
    case JSON_STRING:
        return emit_string(e, json_string_value(value));
    case JSON_INTEGER:
    case JSON_REAL:
        return emit_number(e, value);
    case JSON_TRUE:
        return emit_scalar(e, "true", YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return emit_scalar(e, "false", YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        return emit_scalar(e, "null", YAML_PLAIN_SCALAR_STYLE);
    }
    return 0;
}

static int emit_document(yaml_emitter_t *e, json_t *value, bool explicit_start)
{
    yaml_event_t ev;
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, explicit_start ? 0 : 1);
    if (!yaml_emitter_emit(e, &ev) || !emit_value(e, value))
        return 0;
    yaml_document_end_event_initialize(&ev, 1);
    return yaml_emitter_emit(e, &ev);
}

char *yaml_dump(json_t *const *values, size_t count, bool explicit_start)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    struct strbuf sb;
    strbuf_init(&sb);
    if (!yaml_emitter_initialize(&e))
        return NULL;
    yaml_emitter_set_output(&e, write_to_strbuf, &sb);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, 100);
    yaml_emitter_set_indent(&e, 2);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = yaml_emitter_emit(&e, &ev);
    for (size_t i = 0; ok && i < count; i++)
        ok = emit_document(&e, values[i], explicit_start || i > 0);
    if (ok) {
        yaml_stream_end_event_initialize(&ev);
        ok = yaml_emitter_emit(&e, &ev);
    }
    yaml_emitter_delete(&e);
    if (!ok) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb);
}
