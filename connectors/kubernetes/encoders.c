/* The JVM encoder: settings that are JVM options rather than resource fields.
 *
 *   heap_size  -Xmx<size> (also read from -XX:MaxHeapSize=<size>); bytes, GiB on the wire
 *   gc         -XX:+Use<name>GC for G1, Parallel, Serial, Z, Shenandoah, ConcMarkSweep
 *   options    -XX:Name=<value> (range, enum) or -XX:+Name / -XX:-Name (bool)
 *
 * The options live in an environment variable (target env, JAVA_OPTS by default) or in the
 * container's args (target args: the JVM's own arguments, the container's command being the
 * java launcher). Writing a setting replaces the words that set it (where the first of them
 * was; the others go) and leaves every other word as it was; a setting not yet present is
 * added after the user's options (at the end of the variable, or just before the main class
 * or -jar in args), so that it wins over an earlier default. Reading takes the last word
 * that sets it, as the JVM does. */
#include "internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_VARIABLE "JAVA_OPTS"

/* ---- words ------------------------------------------------------------------------------ */

static void words_insert(struct kube_words *w, size_t at, const char *word)
{
    char **items = servo_xrealloc(w->items, (w->count + 1) * sizeof *items);
    w->items = items;
    memmove(&w->items[at + 1], &w->items[at], (w->count - at) * sizeof *items);
    w->items[at] = kube_printf("%s", word);
    w->count++;
}

static void words_remove(struct kube_words *w, size_t at)
{
    free(w->items[at]);
    memmove(&w->items[at], &w->items[at + 1], (w->count - at - 1) * sizeof *w->items);
    w->count--;
}

void kube_words_split(const char *text, struct kube_words *out)
{
    out->items = NULL;
    out->count = 0;
    const char *p = text ? text : "";
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        char *word = kube_printf("%.*s", (int)(p - start), start);
        words_insert(out, out->count, word);
        free(word);
    }
}

char *kube_words_join(const struct kube_words *words)
{
    size_t length = 1;
    for (size_t i = 0; i < words->count; i++)
        length += strlen(words->items[i]) + 1;
    char *out = servo_xmalloc(length);
    char *p = out;
    for (size_t i = 0; i < words->count; i++) {
        if (i > 0)
            *p++ = ' ';
        size_t n = strlen(words->items[i]);
        memcpy(p, words->items[i], n);
        p += n;
    }
    *p = '\0';
    return out;
}

void kube_words_free(struct kube_words *words)
{
    for (size_t i = 0; i < words->count; i++)
        free(words->items[i]);
    free(words->items);
    words->items = NULL;
    words->count = 0;
}

/* Where the JVM's options end: all of the variable; in args, the first word that is not an
 * option (the main class), or -jar / -m / --module (what follows is the application's). */
static size_t options_end(const struct kubernetes_jvm *jvm, const struct kube_words *w)
{
    if (jvm->target != KUBERNETES_TARGET_ARGS)
        return w->count;
    static const char *const with_value[] = {"-cp",
                                             "-classpath",
                                             "--class-path",
                                             "-p",
                                             "--module-path",
                                             "--add-modules",
                                             "--add-opens",
                                             "--add-exports",
                                             "--add-reads",
                                             "--patch-module",
                                             "--upgrade-module-path",
                                             "--limit-modules",
                                             NULL};
    for (size_t i = 0; i < w->count; i++) {
        const char *word = w->items[i];
        if (word[0] != '-' || strcmp(word, "-jar") == 0 || strcmp(word, "-m") == 0 ||
            strcmp(word, "--module") == 0)
            return i;
        for (size_t k = 0; with_value[k]; k++)
            if (strcmp(word, with_value[k]) == 0) {
                i++;
                break;
            }
    }
    return w->count;
}

/* ---- sizes ------------------------------------------------------------------------------ */

void kube_jvm_format_size(int64_t bytes, char buf[32])
{
    static const struct {
        char suffix;
        int shift;
    } units[] = {{'t', 40}, {'g', 30}, {'m', 20}, {'k', 10}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        int64_t unit = (int64_t)1 << units[i].shift;
        if (bytes > 0 && bytes % unit == 0) {
            snprintf(buf, 32, "%lld%c", (long long)(bytes / unit), units[i].suffix);
            return;
        }
    }
    snprintf(buf, 32, "%lld", (long long)bytes);
}

int kube_jvm_parse_size(const char *text, int64_t *bytes)
{
    const char *p = text;
    if (!isdigit((unsigned char)*p))
        return -1;
    int64_t n = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*p - '0');
    }
    int shift = 0;
    switch (*p) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    case '\0':
        break;
    default:
        return -1;
    }
    if (*p != '\0' && p[1] != '\0')
        return -1;
    if (shift > 0 && n > (INT64_MAX >> shift))
        return -1;
    *bytes = n << shift;
    return 0;
}

/* ---- the settings ----------------------------------------------------------------------- */

static const struct kubernetes_jvm_option *find_option(const struct kubernetes_jvm *jvm,
                                                       const char *name)
{
    const struct kubernetes_jvm_option *o = jvm->settings.options.items;
    for (size_t i = 0; i < jvm->settings.options.count; i++)
        if (strcmp(o[i].name, name) == 0)
            return &o[i];
    return NULL;
}

bool kube_jvm_owns(const struct kubernetes_jvm *jvm, const char *setting)
{
    if (strcmp(setting, "heap_size") == 0)
        return jvm->settings.heap_size != NULL;
    if (strcmp(setting, "gc") == 0)
        return jvm->settings.gc != NULL;
    return find_option(jvm, setting) != NULL;
}

/* -XX:+Use<name>GC / -XX:-Use<name>GC: the collector's index, with *enabled; -1 when the
 * word is not one. ParallelOld counts as Parallel. */
static int gc_word(const char *word, bool *enabled)
{
    if (strncmp(word, "-XX:", 4) != 0 || (word[4] != '+' && word[4] != '-') ||
        strncmp(word + 5, "Use", 3) != 0)
        return -1;
    const char *name = word + 8;
    size_t length = strlen(name);
    if (length < 3 || strcmp(name + length - 2, "GC") != 0)
        return -1;
    length -= 2;
    *enabled = word[4] == '+';
    if (length == strlen("ParallelOld") && strncmp(name, "ParallelOld", length) == 0)
        return 1;
    for (int i = 0; kubernetes_gc_choices[i]; i++)
        if (strlen(kubernetes_gc_choices[i]) == length &&
            strncmp(name, kubernetes_gc_choices[i], length) == 0)
            return i;
    return -1;
}

/* -Xmx<size> or -XX:MaxHeapSize=<size>: the size text, or NULL. */
static const char *heap_word(const char *word)
{
    if (strncmp(word, "-Xmx", 4) == 0)
        return word + 4;
    if (strncmp(word, "-XX:MaxHeapSize=", 16) == 0)
        return word + 16;
    return NULL;
}

/* -XX:Name=value, -XX:+Name, -XX:-Name for this option: 1 (with *value pointing at the
 * value, or "true"/"false"), else 0. */
static int option_word(const char *word, const char *name, const char **value)
{
    if (strncmp(word, "-XX:", 4) != 0)
        return 0;
    const char *p = word + 4;
    size_t n = strlen(name);
    if ((*p == '+' || *p == '-') && strcmp(p + 1, name) == 0) {
        *value = *p == '+' ? "true" : "false";
        return 1;
    }
    if (strncmp(p, name, n) == 0 && p[n] == '=') {
        *value = p + n + 1;
        return 1;
    }
    return 0;
}

/* Whether `word` is one the setting writes. */
static bool setting_word(const char *setting, const char *word)
{
    bool enabled;
    const char *value;
    if (strcmp(setting, "heap_size") == 0)
        return heap_word(word) != NULL;
    if (strcmp(setting, "gc") == 0)
        return gc_word(word, &enabled) >= 0;
    return option_word(word, setting, &value) == 1;
}

int kube_jvm_decode(const struct kubernetes_jvm *jvm, const struct kube_words *words,
                    const char *setting, double *number, char **text, char **error)
{
    size_t end = options_end(jvm, words);
    *text = NULL;
    if (strcmp(setting, "heap_size") == 0) {
        const char *found = NULL;
        for (size_t i = 0; i < end; i++)
            if (heap_word(words->items[i]) != NULL)
                found = words->items[i];
        if (found == NULL)
            return 0;
        int64_t bytes;
        if (kube_jvm_parse_size(heap_word(found), &bytes) != 0) {
            *error = kube_printf("%s: not a heap size", found);
            return -1;
        }
        *number = (double)bytes;
        return 1;
    }
    if (strcmp(setting, "gc") == 0) {
        int gc = -1;
        for (size_t i = 0; i < end; i++) {
            bool enabled;
            int which = gc_word(words->items[i], &enabled);
            if (which >= 0 && enabled)
                gc = which;
            else if (which >= 0 && which == gc)
                gc = -1;
        }
        if (gc < 0)
            return 0;
        *text = kube_printf("%s", kubernetes_gc_choices[gc]);
        return 1;
    }
    const struct kubernetes_jvm_option *o = find_option(jvm, setting);
    if (o == NULL) {
        *error = kube_printf("no JVM setting \"%s\"", setting);
        return -1;
    }
    const char *value = NULL;
    const char *word = NULL;
    for (size_t i = 0; i < end; i++) {
        const char *v;
        if (option_word(words->items[i], o->name, &v)) {
            value = v;
            word = words->items[i];
        }
    }
    if (value == NULL)
        return 0;
    if (o->type == KUBERNETES_OPTION_BOOL) {
        bool flag = word[4] == '+' || word[4] == '-';
        if (!flag) {
            *error = kube_printf("%s: a bool option is written -XX:+%s or -XX:-%s", word, o->name,
                                 o->name);
            return -1;
        }
    } else if (o->type == KUBERNETES_OPTION_RANGE) {
        char *end_number = NULL;
        double d = strtod(value, &end_number);
        if (end_number == value || *end_number != '\0' || !isfinite(d)) {
            *error = kube_printf("%s: not a number", word);
            return -1;
        }
        *number = d;
    }
    *text = kube_printf("%s", value);
    return 1;
}

/* The word(s) of the new value (caller frees); NULL with a message. */
static char *encode_word(const struct kubernetes_jvm *jvm, const char *setting, double number,
                         const char *text, char **error)
{
    if (strcmp(setting, "heap_size") == 0) {
        if (!(number >= 1) || number > 9e18 || number != floor(number)) {
            *error = kube_printf("heap_size: %g bytes is not a heap size", number);
            return NULL;
        }
        char size[32];
        kube_jvm_format_size((int64_t)number, size);
        return kube_printf("-Xmx%s", size);
    }
    if (strcmp(setting, "gc") == 0) {
        const struct kubernetes_jvm_gc *gc = jvm->settings.gc;
        const int *values = gc->values.items;
        for (size_t i = 0; text != NULL && i < gc->values.count; i++)
            if (strcmp(kubernetes_gc_choices[values[i]], text) == 0)
                return kube_printf("-XX:+Use%sGC", text);
        *error = kube_printf("gc: \"%s\" is not one of the collectors configured",
                             text ? text : "(a number)");
        return NULL;
    }
    const struct kubernetes_jvm_option *o = find_option(jvm, setting);
    if (o == NULL) {
        *error = kube_printf("no JVM setting \"%s\"", setting);
        return NULL;
    }
    switch ((enum kubernetes_option_type)o->type) {
    case KUBERNETES_OPTION_BOOL: {
        bool on;
        if (text != NULL && (strcmp(text, "true") == 0 || strcmp(text, "false") == 0))
            on = strcmp(text, "true") == 0;
        else if (text == NULL && (number == 0 || number == 1))
            on = number == 1;
        else {
            *error = kube_printf("%s: \"%s\" is not true or false", setting, text ? text : "?");
            return NULL;
        }
        return kube_printf("-XX:%c%s", on ? '+' : '-', o->name);
    }
    case KUBERNETES_OPTION_ENUM: {
        char buf[64];
        if (text == NULL) {
            snprintf(buf, sizeof buf, "%.15g", number);
            text = buf;
        }
        char *const *values = o->values.items;
        for (size_t i = 0; i < o->values.count; i++)
            if (strcmp(values[i], text) == 0)
                return kube_printf("-XX:%s=%s", o->name, text);
        *error = kube_printf("%s: \"%s\" is not one of the values", setting, text);
        return NULL;
    }
    case KUBERNETES_OPTION_RANGE: {
        if (text != NULL) {
            char *end = NULL;
            number = strtod(text, &end);
            if (end == text || *end != '\0') {
                *error = kube_printf("%s: \"%s\" is not a number", setting, text);
                return NULL;
            }
        }
        if (!isfinite(number)) {
            *error = kube_printf("%s: not a finite number", setting);
            return NULL;
        }
        if (o->value_type == KUBERNETES_VALUE_INT) {
            if (number != floor(number) || fabs(number) > 9e15) {
                *error = kube_printf("%s: %g is not an integer", setting, number);
                return NULL;
            }
            return kube_printf("-XX:%s=%lld", o->name, (long long)number);
        }
        return kube_printf("-XX:%s=%.15g", o->name, number);
    }
    }
    *error = kube_printf("%s: unknown option type", setting);
    return NULL;
}

int kube_jvm_encode(const struct kubernetes_jvm *jvm, struct kube_words *words, const char *setting,
                    double number, const char *text, char **error)
{
    if (!kube_jvm_owns(jvm, setting)) {
        *error = kube_printf("no JVM setting \"%s\"", setting);
        return -1;
    }
    char *word = encode_word(jvm, setting, number, text, error);
    if (word == NULL)
        return -1;
    size_t end = options_end(jvm, words);
    size_t at = end;
    bool placed = false;
    for (size_t i = 0; i < end;) {
        if (!setting_word(setting, words->items[i])) {
            i++;
            continue;
        }
        if (!placed) {
            free(words->items[i]);
            words->items[i] = word;
            word = NULL;
            placed = true;
            i++;
        } else {
            words_remove(words, i);
            end--;
        }
    }
    if (!placed)
        words_insert(words, at, word);
    free(word);
    return 0;
}

/* ---- the container ---------------------------------------------------------------------- */

static const char *variable_of(const struct kubernetes_jvm *jvm)
{
    return jvm->env ? jvm->env : DEFAULT_VARIABLE;
}

int kube_jvm_read_words(const struct kubernetes_jvm *jvm, const json_t *container,
                        struct kube_words *out, char **error)
{
    out->items = NULL;
    out->count = 0;
    const char *name = json_string_value(json_object_get(container, "name"));
    if (jvm->target == KUBERNETES_TARGET_ARGS) {
        const json_t *args = json_object_get(container, "args");
        if (!json_is_array(args) || json_array_size(args) == 0) {
            *error = kube_printf("container %s has no args: the jvm encoder with target args "
                                 "needs the JVM's arguments there (the command being java)",
                                 name ? name : "?");
            return -1;
        }
        size_t i;
        json_t *a;
        json_array_foreach(args, i, a)
        {
            if (!json_is_string(a)) {
                *error =
                    kube_printf("container %s: args[%zu] is not a string", name ? name : "?", i);
                kube_words_free(out);
                return -1;
            }
            words_insert(out, out->count, json_string_value(a));
        }
        return 0;
    }
    const char *variable = variable_of(jvm);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(container, "env"), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n == NULL || strcmp(n, variable) != 0)
            continue;
        if (json_object_get(e, "valueFrom") != NULL) {
            *error = kube_printf("container %s: %s comes from valueFrom; the jvm encoder can "
                                 "only use a value",
                                 name ? name : "?", variable);
            return -1;
        }
        kube_words_split(json_string_value(json_object_get(e, "value")), out);
        return 0;
    }
    return 0;
}

void kube_jvm_write_words(const struct kubernetes_jvm *jvm, json_t *container,
                          const struct kube_words *words)
{
    if (jvm->target == KUBERNETES_TARGET_ARGS) {
        json_t *args = json_array();
        for (size_t i = 0; i < words->count; i++)
            json_array_append_new(args, json_string(words->items[i]));
        json_object_set_new(container, "args", args);
        return;
    }
    char *text = kube_words_join(words);
    kube_set_env(container, variable_of(jvm), text);
    free(text);
}

static void set_decoded(const struct kubernetes_jvm *jvm, const struct kube_words *words,
                        const char *component, const char *setting, struct servo_setting *s,
                        struct kube_notes *notes)
{
    double number = NAN;
    char *text = NULL;
    char *error = NULL;
    int rc = kube_jvm_decode(jvm, words, setting, &number, &text, &error);
    if (rc < 0) {
        kube_note(notes, "%s.%s: %s", component, setting, error);
        free(error);
        return;
    }
    if (rc == 0) {
        /* not given: the configured default, when there is one */
        if (strcmp(setting, "heap_size") == 0) {
            if (jvm->settings.heap_size->default_value != SERVO_UNSET)
                servo_setting_set_value(s,
                                        servo_memory_gib(jvm->settings.heap_size->default_value));
        } else if (strcmp(setting, "gc") == 0) {
            if (jvm->settings.gc->default_value >= 0)
                servo_setting_set_text(s, kubernetes_gc_choices[jvm->settings.gc->default_value]);
        } else {
            const struct kubernetes_jvm_option *o = find_option(jvm, setting);
            if (o->default_value != NULL && o->type == KUBERNETES_OPTION_RANGE)
                servo_setting_set_value(s, strtod(o->default_value, NULL));
            else if (o->default_value != NULL)
                servo_setting_set_text(s, o->default_value);
        }
        return;
    }
    if (strcmp(setting, "heap_size") == 0)
        servo_setting_set_value(s, servo_memory_gib((int64_t)number));
    else if (s->kind == SERVO_SETTING_RANGE)
        servo_setting_set_value(s, number);
    else
        servo_setting_set_text(s, text);
    free(text);
}

void kube_jvm_describe(const struct kubernetes_jvm *jvm, const json_t *container, bool pinned,
                       struct servo_component *component, struct kube_notes *notes)
{
    struct kube_words words = {0};
    bool readable = false;
    if (container != NULL) {
        char *error = NULL;
        if (kube_jvm_read_words(jvm, container, &words, &error) == 0) {
            readable = true;
        } else {
            kube_note(notes, "%s: %s", component->name, error);
            free(error);
        }
    }
    const struct kubernetes_jvm_settings *cfg = &jvm->settings;
    if (cfg->heap_size != NULL) {
        const struct kubernetes_jvm_heap *h = cfg->heap_size;
        struct servo_setting *s =
            servo_component_range(component, "heap_size", "GiB", servo_memory_gib(h->min),
                                  servo_memory_gib(h->max), servo_memory_gib(h->step));
        s->pinned = pinned || h->pinned;
        if (readable)
            set_decoded(jvm, &words, component->name, "heap_size", s, notes);
    }
    if (cfg->gc != NULL) {
        const struct kubernetes_jvm_gc *gc = cfg->gc;
        const char **values = servo_xcalloc(gc->values.count + 1, sizeof *values);
        const int *indexes = gc->values.items;
        for (size_t i = 0; i < gc->values.count; i++)
            values[i] = kubernetes_gc_choices[indexes[i]];
        struct servo_setting *s = servo_component_enum(component, "gc", NULL, values);
        free(values);
        s->pinned = pinned || gc->pinned;
        if (readable)
            set_decoded(jvm, &words, component->name, "gc", s, notes);
    }
    const struct kubernetes_jvm_option *o = cfg->options.items;
    for (size_t i = 0; i < cfg->options.count; i++) {
        struct servo_setting *s;
        if (o[i].type == KUBERNETES_OPTION_RANGE) {
            s = servo_component_range(component, o[i].name, NULL, o[i].min, o[i].max, o[i].step);
            s->integer = o[i].value_type == KUBERNETES_VALUE_INT;
        } else if (o[i].type == KUBERNETES_OPTION_BOOL) {
            static const char *const flags[] = {"true", "false", NULL};
            s = servo_component_enum(component, o[i].name, NULL, flags);
        } else {
            const char **values = servo_xcalloc(o[i].values.count + 1, sizeof *values);
            memcpy(values, o[i].values.items, o[i].values.count * sizeof *values);
            s = servo_component_enum(component, o[i].name, NULL, values);
            free(values);
        }
        s->pinned = pinned || o[i].pinned;
        if (readable)
            set_decoded(jvm, &words, component->name, o[i].name, s, notes);
    }
    kube_words_free(&words);
}
