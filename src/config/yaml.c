#include "config/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/util.h"

struct frame {
    struct servo_node *node;
    char *anchor;
    char *pending_key; /* MAP: a key waiting for its value */
    int key_line;
    int key_column;
    bool key_is_merge;
    bool key_rejected;          /* MAP: the pending key was not a string: its value is dropped */
    struct servo_node **merges; /* MAP: `<<` sources, applied at the end */
    size_t merge_count;
    size_t merge_capacity;
};

struct anchor {
    char *name;
    const struct servo_node *node;
};

struct builder {
    const char *source;
    struct servo_diags *diags;
    struct frame stack[YAML_MAX_DEPTH];
    size_t depth;
    struct servo_node *root;
    bool have_root;
    struct anchor *anchors;
    size_t anchor_count, anchor_capacity;
    struct servo_node **discarded; /* kept until the document ends: anchors may point in */
    size_t discarded_count, discarded_capacity;
    size_t weight;
    size_t bytes; /* text, aliases and merges expanded */
    bool failed;  /* some error: the load fails */
    bool fatal;   /* an error after which parsing stops */
};

static void discard(struct builder *b, struct servo_node *node)
{
    xgrow((void **)&b->discarded, sizeof *b->discarded, b->discarded_count, &b->discarded_capacity);
    b->discarded[b->discarded_count++] = node;
}

static void builder_reset_document(struct builder *b)
{
    for (size_t i = 0; i < b->anchor_count; i++)
        free(b->anchors[i].name);
    b->anchor_count = 0;
    for (size_t i = 0; i < b->discarded_count; i++)
        node_free(b->discarded[i]);
    b->discarded_count = 0;
    while (b->depth > 0) {
        struct frame *f = &b->stack[--b->depth];
        node_free(f->node);
        free(f->anchor);
        free(f->pending_key);
        free(f->merges);
    }
    node_free(b->root);
    b->root = NULL;
    b->have_root = false;
    b->weight = 0;
    b->bytes = 0;
}

static void builder_free(struct builder *b)
{
    builder_reset_document(b);
    free(b->anchors);
    free(b->discarded);
}

static void fail_at(struct builder *b, int line, int column, const char *message)
{
    diag_add(b->diags, b->source, line, column, "", "%s", message);
    b->failed = true;
}

static void fail_fatally_at(struct builder *b, int line, int column, const char *message)
{
    diag_add(b->diags, b->source, line, column, "", "%s", message);
    b->failed = true;
    b->fatal = true;
}

static bool is_null_scalar(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static bool has_str_tag(const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    return tag != NULL && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0);
}

static void remember_anchor(struct builder *b, const char *name, const struct servo_node *node)
{
    for (size_t i = 0; i < b->anchor_count; i++) {
        if (strcmp(b->anchors[i].name, name) == 0) {
            b->anchors[i].node = node; /* YAML allows redefinition; the latest wins */
            return;
        }
    }
    xgrow((void **)&b->anchors, sizeof *b->anchors, b->anchor_count, &b->anchor_capacity);
    b->anchors[b->anchor_count++] = (struct anchor){.name = xstrdup(name), .node = node};
}

static const struct servo_node *find_anchor(struct builder *b, const char *name)
{
    for (size_t i = b->anchor_count; i-- > 0;)
        if (strcmp(b->anchors[i].name, name) == 0)
            return b->anchors[i].node;
    return NULL;
}

/* Counts what the document holds once aliases and merges are expanded: values and bytes of
 * text both, so a long string aliased many times cannot exhaust memory either. */
static bool charge(struct builder *b, size_t weight, size_t bytes, int line, int column)
{
    b->weight += weight;
    b->bytes += bytes;
    const char *limit = b->weight > YAML_MAX_NODES  ? "2000000 values"
                        : b->bytes > YAML_MAX_BYTES ? YAML_MAX_BYTES_TEXT " of text"
                                                    : NULL;
    if (limit == NULL)
        return true;
    if (!b->fatal) {
        char message[128];
        snprintf(message, sizeof message, "document is too large (more than %s, aliases included)",
                 limit);
        fail_fatally_at(b, line, column, message);
    }
    return false;
}

static bool valid_merge_source(const struct servo_node *node)
{
    if (node->kind == SERVO_NODE_MAP)
        return true;
    if (node->kind != SERVO_NODE_SEQ)
        return false;
    for (size_t i = 0; i < node->count; i++)
        if (node->items[i]->kind != SERVO_NODE_MAP)
            return false;
    return true;
}

static void add_to_map(struct builder *b, struct frame *f, struct servo_node *node)
{
    if (f->pending_key == NULL) {
        f->key_rejected = node->kind != SERVO_NODE_SCALAR;
        if (f->key_rejected)
            fail_at(b, node->line, node->column, "mapping keys must be plain strings");
        f->pending_key = xstrdup(f->key_rejected ? "" : node->text);
        f->key_line = node->line;
        f->key_column = node->column;
        f->key_is_merge = !f->key_rejected && !node->quoted && strcmp(node->text, "<<") == 0;
        discard(b, node); /* an anchor may name the key: keep it until the document ends */
        return;
    }
    char *key = f->pending_key;
    f->pending_key = NULL;
    if (f->key_rejected) {
        f->key_rejected = false;
        discard(b, node);
        free(key);
        return;
    }
    if (f->key_is_merge) {
        if (!valid_merge_source(node)) {
            fail_at(b, node->line, node->column,
                    "a merge key (<<) takes a mapping or a list of mappings");
        } else {
            xgrow((void **)&f->merges, sizeof *f->merges, f->merge_count, &f->merge_capacity);
            f->merges[f->merge_count++] = node;
        }
        discard(b, node);
        free(key);
        return;
    }
    struct servo_pair *first = node_map_find(f->node, key);
    if (first != NULL) {
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_puts(&sb, "duplicate key ");
        strbuf_quote(&sb, key, 80);
        strbuf_printf(&sb, " (first defined at line %d)", first->line);
        diag_add(b->diags, b->source, f->key_line, f->key_column, "", "%s", sb.data);
        strbuf_release(&sb);
        b->failed = true;
        discard(b, node);
    } else {
        node_map_set(f->node, key, f->key_line, f->key_column, node);
    }
    free(key);
}

static void attach(struct builder *b, struct servo_node *node)
{
    if (b->depth == 0) {
        b->root = node;
        b->have_root = true;
        return;
    }
    struct frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == SERVO_NODE_SEQ)
        node_seq_push(f->node, node);
    else
        add_to_map(b, f, node);
}

static void merge_from(struct builder *b, struct servo_node *map, const struct servo_node *source)
{
    for (size_t i = 0; i < source->count; i++) {
        const struct servo_pair *p = &source->pairs[i];
        if (node_map_find(map, p->key) != NULL)
            continue;
        if (!charge(b, p->value->weight, strlen(p->key) + p->value->bytes, p->line, p->column))
            return;
        node_map_set(map, p->key, p->line, p->column, node_clone(p->value));
    }
}

static void apply_merges(struct builder *b, struct frame *f)
{
    for (size_t i = 0; i < f->merge_count; i++) {
        const struct servo_node *src = f->merges[i];
        if (src->kind == SERVO_NODE_MAP) {
            merge_from(b, f->node, src);
            continue;
        }
        for (size_t j = 0; j < src->count; j++)
            merge_from(b, f->node, src->items[j]);
    }
}

static void on_scalar(struct builder *b, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
    if (!charge(b, 1, ev->data.scalar.length, line, column))
        return;
    struct servo_node *node;
    bool quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || has_str_tag(ev);
    if (is_null_scalar(ev) && !has_str_tag(ev))
        node = node_new(SERVO_NODE_NULL, b->source, line, column);
    else
        node =
            node_new_scalar((const char *)ev->data.scalar.value, quoted, b->source, line, column);
    if (ev->data.scalar.anchor)
        remember_anchor(b, (const char *)ev->data.scalar.anchor, node);
    attach(b, node);
}

static void on_collection_start(struct builder *b, const yaml_event_t *ev, bool is_map)
{
    int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
    if (b->depth == YAML_MAX_DEPTH) {
        fail_fatally_at(b, line, column, "nesting is deeper than 64 levels");
        return;
    }
    if (!charge(b, 1, 0, line, column))
        return;
    const yaml_char_t *anchor =
        is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    struct frame *f = &b->stack[b->depth++];
    memset(f, 0, sizeof *f);
    f->node = node_new(is_map ? SERVO_NODE_MAP : SERVO_NODE_SEQ, b->source, line, column);
    f->anchor = anchor ? xstrdup((const char *)anchor) : NULL;
}

static void on_collection_end(struct builder *b)
{
    struct frame f = b->stack[--b->depth];
    if (f.node->kind == SERVO_NODE_MAP)
        apply_merges(b, &f);
    free(f.merges);
    free(f.pending_key);
    if (f.anchor) {
        remember_anchor(b, f.anchor, f.node);
        free(f.anchor);
    }
    attach(b, f.node);
}

static void on_alias(struct builder *b, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
    const char *name = (const char *)ev->data.alias.anchor;
    const struct servo_node *target = find_anchor(b, name);
    if (target == NULL) {
        struct strbuf sb;
        strbuf_init(&sb);
        strbuf_puts(&sb, "unknown alias ");
        strbuf_quote(&sb, name, 80);
        strbuf_puts(&sb, " (an alias must follow its anchor and not refer to a value that "
                         "contains it)");
        fail_fatally_at(b, line, column, sb.data);
        strbuf_release(&sb);
        return;
    }
    if (!charge(b, target->weight, target->bytes, line, column))
        return;
    struct servo_node *copy = node_clone(target);
    copy->line = line;
    copy->column = column;
    attach(b, copy);
}

static void push_document(struct builder *b, struct yaml_documents *docs)
{
    struct servo_node *root = b->root;
    if (!b->have_root || root == NULL)
        root = node_new(SERVO_NODE_NULL, b->source, 1, 1);
    b->root = NULL;
    docs->items = xrealloc(docs->items, (docs->count + 1) * sizeof *docs->items);
    docs->items[docs->count++] = root;
    builder_reset_document(b);
}

static void report_parser_error(struct builder *b, const yaml_parser_t *parser)
{
    yaml_mark_t mark = parser->problem_mark;
    int line = (int)mark.line + 1, column = (int)mark.column + 1;
    /* libyaml's allocations cannot be hooked (docs/testing.md); it says no more than this */
    const char *problem = parser->error == YAML_MEMORY_ERROR ? "out of memory"
                          : parser->problem                  ? parser->problem
                                                             : "invalid YAML";
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, problem);
    if (parser->error == YAML_READER_ERROR) {
        strbuf_printf(&sb, " (byte %zu)", parser->problem_offset);
        line = 0; /* the reader has no line for undecodable bytes */
    }
    if (parser->context)
        strbuf_printf(&sb, " %s", parser->context);
    if (line > 0)
        diag_add(b->diags, b->source, line, column, "", "%s", sb.data);
    else
        diag_add(b->diags, b->source, 0, 0, "", "%s", sb.data);
    strbuf_release(&sb);
    b->failed = true;
    b->fatal = true;
}

int yaml_load(const char *text, size_t length, const char *source, struct yaml_documents *docs,
              struct servo_diags *diags)
{
    struct builder b = {.source = node_intern_source(source), .diags = diags};
    yaml_parser_t parser;
    docs->items = NULL;
    docs->count = 0;
    if (!yaml_parser_initialize(&parser)) {
        diag_add(diags, source, 0, 0, "", "cannot initialise the YAML parser");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);
    bool done = false;
    while (!done && !b.fatal) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            report_parser_error(&b, &parser);
            break;
        }
        switch (ev.type) {
        case YAML_SCALAR_EVENT:
            on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            on_collection_start(&b, &ev, ev.type == YAML_MAPPING_START_EVENT);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            on_collection_end(&b);
            break;
        case YAML_ALIAS_EVENT:
            on_alias(&b, &ev);
            break;
        case YAML_DOCUMENT_END_EVENT:
            push_document(&b, docs);
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    builder_free(&b);
    if (b.failed) {
        yaml_documents_free(docs);
        return -1;
    }
    return 0;
}

int yaml_load_file(const char *path, struct yaml_documents *docs, struct servo_diags *diags)
{
    char *text = NULL, *error = NULL;
    size_t size = 0;
    docs->items = NULL;
    docs->count = 0;
    if (read_file(path, CONFIG_MAX_FILE_SIZE, &text, &size, &error) != 0) {
        diag_add(diags, NULL, 0, 0, "", "%s", error);
        free(error);
        return -1;
    }
    int rc = yaml_load(text, size, path, docs, diags);
    free(text);
    return rc;
}

void yaml_documents_free(struct yaml_documents *docs)
{
    for (size_t i = 0; i < docs->count; i++)
        node_free(docs->items[i]);
    free(docs->items);
    docs->items = NULL;
    docs->count = 0;
}
