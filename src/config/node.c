#include "config/node.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static pthread_mutex_t sources_lock = PTHREAD_MUTEX_INITIALIZER;
static char **sources;
static size_t sources_count, sources_capacity;

const char *node_intern_source(const char *name)
{
    if (name == NULL)
        return NULL;
    pthread_mutex_lock(&sources_lock);
    const char *found = NULL;
    for (size_t i = 0; i < sources_count && found == NULL; i++)
        if (strcmp(sources[i], name) == 0)
            found = sources[i];
    if (found == NULL) {
        xgrow((void **)&sources, sizeof *sources, sources_count, &sources_capacity);
        sources[sources_count] = xstrdup(name);
        found = sources[sources_count++];
    }
    pthread_mutex_unlock(&sources_lock);
    return found;
}

struct servo_node *node_new(enum servo_node_kind kind, const char *source, int line, int column)
{
    struct servo_node *node = xcalloc(1, sizeof *node);
    node->kind = kind;
    node->source = node_intern_source(source);
    node->line = line;
    node->column = column;
    node->weight = 1;
    return node;
}

struct servo_node *node_new_scalar(const char *text, bool quoted, const char *source, int line,
                                   int column)
{
    struct servo_node *node = node_new(SERVO_NODE_SCALAR, source, line, column);
    node->text = xstrdup(text);
    node->quoted = quoted;
    node->bytes = strlen(text);
    return node;
}

void node_free(struct servo_node *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; node->kind == SERVO_NODE_SEQ && i < node->count; i++)
        node_free(node->items[i]);
    for (size_t i = 0; node->kind == SERVO_NODE_MAP && i < node->count; i++) {
        free(node->pairs[i].key);
        node_free(node->pairs[i].value);
    }
    free(node->items);
    free(node->pairs);
    free(node->index);
    free(node->text);
    free(node);
}

struct servo_node *node_clone(const struct servo_node *node)
{
    struct servo_node *copy = node_new(node->kind, NULL, node->line, node->column);
    copy->source = node->source;
    copy->quoted = node->quoted;
    if (node->text)
        copy->text = xstrdup(node->text);
    copy->bytes = node->text ? node->bytes : 0;
    for (size_t i = 0; node->kind == SERVO_NODE_SEQ && i < node->count; i++)
        node_seq_push(copy, node_clone(node->items[i]));
    for (size_t i = 0; node->kind == SERVO_NODE_MAP && i < node->count; i++) {
        const struct servo_pair *p = &node->pairs[i];
        node_map_set(copy, p->key, p->line, p->column, node_clone(p->value));
    }
    return copy;
}

void node_seq_push(struct servo_node *seq, struct servo_node *item)
{
    xgrow((void **)&seq->items, sizeof *seq->items, seq->count, &seq->capacity);
    seq->items[seq->count++] = item;
    seq->weight += item->weight;
    seq->bytes += item->bytes;
}

/* Mappings with this many keys get a hash index, so that loading or merging a mapping with
 * hundreds of thousands of keys is not quadratic. */
#define INDEX_MIN_COUNT 16

static size_t hash_key(const char *key)
{
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return h;
}

static void index_insert(struct servo_node *map, size_t position)
{
    size_t mask = map->index_size - 1;
    size_t slot = hash_key(map->pairs[position].key) & mask;
    while (map->index[slot] != 0)
        slot = (slot + 1) & mask;
    map->index[slot] = position + 1;
}

/* Builds, grows or drops the index after the mapping changed. */
static void index_update(struct servo_node *map, bool rebuild)
{
    if (map->count < INDEX_MIN_COUNT) {
        free(map->index);
        map->index = NULL;
        map->index_size = 0;
        return;
    }
    if (!rebuild && map->index_size >= 2 * map->count) {
        index_insert(map, map->count - 1);
        return;
    }
    size_t size = 64;
    while (size < 2 * map->count)
        size *= 2;
    free(map->index);
    map->index = xcalloc(size, sizeof *map->index);
    map->index_size = size;
    for (size_t i = 0; i < map->count; i++)
        index_insert(map, i);
}

struct servo_pair *node_map_find(const struct servo_node *map, const char *key)
{
    if (map == NULL || map->kind != SERVO_NODE_MAP)
        return NULL;
    if (map->index != NULL) {
        size_t mask = map->index_size - 1;
        for (size_t slot = hash_key(key) & mask; map->index[slot] != 0; slot = (slot + 1) & mask)
            if (strcmp(map->pairs[map->index[slot] - 1].key, key) == 0)
                return &map->pairs[map->index[slot] - 1];
        return NULL;
    }
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->pairs[i].key, key) == 0)
            return &map->pairs[i];
    return NULL;
}

void node_map_set(struct servo_node *map, const char *key, int line, int column,
                  struct servo_node *value)
{
    struct servo_pair *existing = node_map_find(map, key);
    if (existing != NULL) {
        map->weight -= existing->value->weight;
        map->bytes -= existing->value->bytes;
        node_free(existing->value);
        existing->value = value;
        map->weight += value->weight;
        map->bytes += value->bytes;
        return;
    }
    xgrow((void **)&map->pairs, sizeof *map->pairs, map->count, &map->capacity);
    map->pairs[map->count++] =
        (struct servo_pair){.key = xstrdup(key), .line = line, .column = column, .value = value};
    map->weight += value->weight;
    map->bytes += strlen(key) + value->bytes;
    index_update(map, false);
}

struct servo_node *node_map_take(struct servo_node *map, const char *key)
{
    struct servo_pair *pair = node_map_find(map, key);
    if (pair == NULL)
        return NULL;
    struct servo_node *value = pair->value;
    size_t index = (size_t)(pair - map->pairs);
    map->bytes -= strlen(pair->key) + value->bytes;
    free(pair->key);
    memmove(&map->pairs[index], &map->pairs[index + 1],
            (map->count - index - 1) * sizeof *map->pairs);
    map->count--;
    map->weight -= value->weight;
    index_update(map, true);
    return value;
}

void node_merge(struct servo_node **base, struct servo_node *overlay)
{
    if (*base == NULL || (*base)->kind != SERVO_NODE_MAP || overlay->kind != SERVO_NODE_MAP) {
        node_free(*base);
        *base = overlay;
        return;
    }
    struct servo_node *target = *base;
    for (size_t i = 0; i < overlay->count; i++) {
        struct servo_pair *o = &overlay->pairs[i];
        struct servo_pair *b = node_map_find(target, o->key);
        if (b == NULL) {
            node_map_set(target, o->key, o->line, o->column, o->value);
        } else {
            target->weight -= b->value->weight;
            target->bytes -= b->value->bytes;
            node_merge(&b->value, o->value);
            target->weight += b->value->weight;
            target->bytes += b->value->bytes;
        }
        o->value = NULL;
        free(o->key);
    }
    free(overlay->pairs);
    free(overlay->index);
    free(overlay->items);
    free(overlay->text);
    free(overlay);
}

struct servo_node *node_map_child(struct servo_node *map, const char *key, const char *source)
{
    struct servo_pair *pair = node_map_find(map, key);
    if (pair != NULL && pair->value->kind == SERVO_NODE_MAP)
        return pair->value;
    struct servo_node *child = node_new(SERVO_NODE_MAP, source, 0, 0);
    node_map_set(map, key, 0, 0, child);
    return child;
}

/* The public, read-only accessors of include/servo/node.h. */

enum servo_node_kind servo_node_kind(const struct servo_node *node)
{
    return node ? node->kind : SERVO_NODE_NULL;
}

const char *servo_node_text(const struct servo_node *node)
{
    return node && node->kind == SERVO_NODE_SCALAR ? node->text : NULL;
}

bool servo_node_quoted(const struct servo_node *node)
{
    return node && node->kind == SERVO_NODE_SCALAR && node->quoted;
}

size_t servo_node_size(const struct servo_node *node)
{
    return node && (node->kind == SERVO_NODE_SEQ || node->kind == SERVO_NODE_MAP) ? node->count : 0;
}

const struct servo_node *servo_node_item(const struct servo_node *seq, size_t index)
{
    return seq && seq->kind == SERVO_NODE_SEQ && index < seq->count ? seq->items[index] : NULL;
}

const char *servo_node_key(const struct servo_node *map, size_t index)
{
    return map && map->kind == SERVO_NODE_MAP && index < map->count ? map->pairs[index].key : NULL;
}

const struct servo_node *servo_node_value(const struct servo_node *map, size_t index)
{
    return map && map->kind == SERVO_NODE_MAP && index < map->count ? map->pairs[index].value
                                                                    : NULL;
}

const struct servo_node *servo_node_get(const struct servo_node *map, const char *key)
{
    const struct servo_pair *pair = node_map_find(map, key);
    return pair ? pair->value : NULL;
}

const char *servo_node_source(const struct servo_node *node)
{
    return node ? node->source : NULL;
}

int servo_node_line(const struct servo_node *node)
{
    return node ? node->line : 0;
}

int servo_node_column(const struct servo_node *node)
{
    return node ? node->column : 0;
}

const char *servo_node_describe(const struct servo_node *node)
{
    switch (servo_node_kind(node)) {
    case SERVO_NODE_NULL:
        return "null";
    case SERVO_NODE_SEQ:
        return "a sequence";
    case SERVO_NODE_MAP:
        return "a mapping";
    case SERVO_NODE_SCALAR:
        return node->quoted ? "a string" : "a scalar";
    }
    return "a value";
}
