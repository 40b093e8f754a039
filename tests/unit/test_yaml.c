/* The YAML loader: documents, scalar styles, nulls, duplicate keys, merge keys, aliases and
 * the limits that keep hostile input from hanging the servo or exhausting its memory. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/diag.h"
#include "config/node.h"
#include "config/yaml.h"
#include "util/util.h"

/* ---- helpers --------------------------------------------------------------------------- */

struct loaded {
    struct yaml_documents docs;
    struct servo_diags diags;
    int rc;
};

static void load_n(struct loaded *l, const char *text, size_t length)
{
    diags_init(&l->diags);
    l->rc = yaml_load(text, length, "t.yaml", &l->docs, &l->diags);
}

static void load(struct loaded *l, const char *text)
{
    load_n(l, text, strlen(text));
}

static void loaded_free(struct loaded *l)
{
    yaml_documents_free(&l->docs);
    diags_free(&l->diags);
}

/* Every diagnostic as formatted text, one per line. */
static char *all_diags(const struct servo_diags *d)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (size_t i = 0; i < d->count; i++) {
        char *line = diag_format(&d->items[i]);
        strbuf_printf(&sb, "%s%s", i ? "\n" : "", line);
        free(line);
    }
    return strbuf_detach(&sb);
}

static void assert_diags(const struct servo_diags *d, const char *expected)
{
    char *text = all_diags(d);
    if (strcmp(text, expected) != 0)
        fail_msg("diagnostics:\n%s\nexpected:\n%s", text, expected);
    free(text);
}

/* Loads text that must fail with exactly `expected` (diagnostics joined by newlines). */
static void assert_load_fails_n(const char *text, size_t length, const char *expected)
{
    struct loaded l;
    load_n(&l, text, length);
    assert_int_equal(l.rc, -1);
    assert_int_equal(l.docs.count, 0);
    assert_null(l.docs.items);
    assert_diags(&l.diags, expected);
    loaded_free(&l);
}

static void assert_load_fails(const char *text, const char *expected)
{
    assert_load_fails_n(text, strlen(text), expected);
}

static const struct servo_node *get(const struct servo_node *map, const char *key)
{
    const struct servo_node *value = servo_node_get(map, key);
    if (value == NULL)
        fail_msg("no key \"%s\"", key);
    return value;
}

static void assert_scalar(const struct servo_node *node, const char *text, bool quoted)
{
    assert_non_null(node);
    assert_int_equal(node->kind, SERVO_NODE_SCALAR);
    assert_string_equal(node->text, text);
    assert_int_equal(node->quoted, quoted);
}

static void assert_at(const struct servo_node *node, int line, int column)
{
    assert_string_equal(node->source, "t.yaml");
    assert_int_equal(node->line, line);
    assert_int_equal(node->column, column);
}

/* CPU time, not wall time: the checks below must not fail on a busy machine. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- documents ------------------------------------------------------------------------- */

static void test_single_document(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "name: demo\nport: 8080\nitems:\n  - a\n  - b\n");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.diags.count, 0);
    assert_int_equal(l.docs.count, 1);
    const struct servo_node *root = l.docs.items[0];
    assert_int_equal(root->kind, SERVO_NODE_MAP);
    assert_at(root, 1, 1);
    assert_int_equal(root->count, 3);
    assert_string_equal(root->pairs[0].key, "name");
    assert_string_equal(root->pairs[1].key, "port");
    assert_string_equal(root->pairs[2].key, "items");
    assert_int_equal(root->pairs[1].line, 2);
    assert_int_equal(root->pairs[1].column, 1);
    assert_scalar(get(root, "name"), "demo", false);
    assert_at(get(root, "name"), 1, 7);
    assert_scalar(get(root, "port"), "8080", false);
    const struct servo_node *items = get(root, "items");
    assert_int_equal(items->kind, SERVO_NODE_SEQ);
    assert_int_equal(items->count, 2);
    assert_at(items, 4, 3);
    assert_scalar(items->items[1], "b", false);
    assert_at(items->items[1], 5, 5);
    /* the weight counts every node: map, 3 values, the sequence's 2 items */
    assert_int_equal(root->weight, 6);
    loaded_free(&l);
}

static void test_multiple_documents(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "a: 1\n---\nb: 2\n...\n---\n- x\n--- plain\n");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.docs.count, 4);
    assert_scalar(get(l.docs.items[0], "a"), "1", false);
    assert_scalar(get(l.docs.items[1], "b"), "2", false);
    assert_at(get(l.docs.items[1], "b"), 3, 4);
    assert_int_equal(l.docs.items[2]->kind, SERVO_NODE_SEQ);
    assert_scalar(l.docs.items[2]->items[0], "x", false);
    assert_scalar(l.docs.items[3], "plain", false);
    assert_at(l.docs.items[3], 7, 5);
    loaded_free(&l);
}

static void test_empty_documents(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "---\n---\n# nothing\n---\nx: 1\n---\n");
    assert_int_equal(l.rc, 0);
    assert_int_equal(l.docs.count, 4);
    for (size_t i = 0; i < 4; i++) {
        if (i == 2)
            continue;
        assert_int_equal(l.docs.items[i]->kind, SERVO_NODE_NULL);
        assert_string_equal(l.docs.items[i]->source, "t.yaml");
    }
    assert_int_equal(l.docs.items[2]->kind, SERVO_NODE_MAP);
    loaded_free(&l);

    /* no document at all: an empty stream, or only comments */
    const char *empty[] = {"", "\n\n", "# just a comment\n", "   \n# a\n"};
    for (size_t i = 0; i < ARRAY_LEN(empty); i++) {
        load(&l, empty[i]);
        assert_int_equal(l.rc, 0);
        assert_int_equal(l.docs.count, 0);
        assert_int_equal(l.diags.count, 0);
        loaded_free(&l);
    }

    /* an explicit null document is a NULL node too */
    load(&l, "~\n");
    assert_int_equal(l.docs.count, 1);
    assert_int_equal(l.docs.items[0]->kind, SERVO_NODE_NULL);
    loaded_free(&l);
}

/* ---- scalars --------------------------------------------------------------------------- */

static void test_scalar_styles(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "plain: 5\n"
             "single: '5'\n"
             "double: \"5\"\n"
             "literal: |\n"
             "  line one\n"
             "  line two\n"
             "folded: >\n"
             "  folded\n"
             "  text\n"
             "escaped: \"tab\\there\\u00e9\"\n"
             "str_tag: !!str 5\n"
             "bang: ! 7\n"
             "int_tag: !!int 8\n"
             "true_word: true\n"
             "quoted_true: 'true'\n"
             "flow: [a, 'b', \"c\"]\n"
             "spaces: '  padded  '\n"
             "multi word: value with spaces\n"
             "'quoted key': k\n");
    assert_int_equal(l.rc, 0);
    const struct servo_node *root = l.docs.items[0];
    assert_scalar(get(root, "plain"), "5", false);
    assert_scalar(get(root, "single"), "5", true);
    assert_scalar(get(root, "double"), "5", true);
    assert_scalar(get(root, "literal"), "line one\nline two\n", true);
    assert_scalar(get(root, "folded"), "folded text\n", true);
    assert_scalar(get(root, "escaped"), "tab\there\xc3\xa9", true);
    assert_scalar(get(root, "str_tag"), "5", true);
    assert_scalar(get(root, "bang"), "7", true);
    assert_scalar(get(root, "int_tag"), "8", false);
    assert_scalar(get(root, "true_word"), "true", false);
    assert_scalar(get(root, "quoted_true"), "true", true);
    const struct servo_node *flow = get(root, "flow");
    assert_int_equal(flow->count, 3);
    assert_scalar(flow->items[0], "a", false);
    assert_scalar(flow->items[1], "b", true);
    assert_scalar(flow->items[2], "c", true);
    assert_at(flow->items[2], 16, 16);
    assert_scalar(get(root, "spaces"), "  padded  ", true);
    assert_scalar(get(root, "multi word"), "value with spaces", false);
    assert_scalar(get(root, "quoted key"), "k", false);
    /* the public accessors agree */
    assert_true(servo_node_quoted(get(root, "single")));
    assert_false(servo_node_quoted(get(root, "plain")));
    assert_string_equal(servo_node_describe(get(root, "single")), "a string");
    assert_string_equal(servo_node_describe(get(root, "plain")), "a scalar");
    loaded_free(&l);
}

static void test_null_forms(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "empty:\n"
             "tilde: ~\n"
             "lower: null\n"
             "title: Null\n"
             "upper: NULL\n"
             "mixed: nULL\n"
             "single: 'null'\n"
             "double: \"~\"\n"
             "empty_quoted: ''\n"
             "tagged: !!str null\n"
             "tagged_empty: !!str\n"
             "in_flow: [~, null, ]\n"
             "? explicit\n");
    assert_int_equal(l.rc, 0);
    const struct servo_node *root = l.docs.items[0];
    const char *nulls[] = {"empty", "tilde", "lower", "title", "upper", "explicit"};
    for (size_t i = 0; i < ARRAY_LEN(nulls); i++) {
        const struct servo_node *n = get(root, nulls[i]);
        if (n->kind != SERVO_NODE_NULL)
            fail_msg("%s is not null", nulls[i]);
        assert_string_equal(servo_node_describe(n), "null");
    }
    assert_at(get(root, "tilde"), 2, 8);
    assert_scalar(get(root, "mixed"), "nULL", false);
    assert_scalar(get(root, "single"), "null", true);
    assert_scalar(get(root, "double"), "~", true);
    assert_scalar(get(root, "empty_quoted"), "", true);
    assert_scalar(get(root, "tagged"), "null", true);
    assert_scalar(get(root, "tagged_empty"), "", true);
    const struct servo_node *flow = get(root, "in_flow");
    assert_int_equal(flow->count, 2);
    assert_int_equal(flow->items[0]->kind, SERVO_NODE_NULL);
    assert_int_equal(flow->items[1]->kind, SERVO_NODE_NULL);
    loaded_free(&l);
}

static void test_tabs(void **state)
{
    (void)state;
    /* a tab as separation inside a line is fine */
    struct loaded l;
    load(&l, "a:\t1\nb: [x,\ty]\nc: \"in\tquotes\"\n");
    assert_int_equal(l.rc, 0);
    assert_scalar(get(l.docs.items[0], "a"), "1", false);
    assert_int_equal(get(l.docs.items[0], "b")->count, 2);
    assert_scalar(get(l.docs.items[0], "c"), "in\tquotes", true);
    loaded_free(&l);
    /* but never as indentation */
    assert_load_fails("a:\n\tb: 1\n",
                      "t.yaml:2:1: found character that cannot start any token while scanning "
                      "for the next token");
}

/* ---- keys ------------------------------------------------------------------------------ */

static void test_duplicate_keys_all_reported(void **state)
{
    (void)state;
    assert_load_fails("a: 1\n"
                      "b: 2\n"
                      "a: 3\n"
                      "nested:\n"
                      "  x: 1\n"
                      "  x: 2\n"
                      "b: 4\n"
                      "a: 5\n",
                      "t.yaml:3:1: duplicate key \"a\" (first defined at line 1)\n"
                      "t.yaml:6:3: duplicate key \"x\" (first defined at line 5)\n"
                      "t.yaml:7:1: duplicate key \"b\" (first defined at line 2)\n"
                      "t.yaml:8:1: duplicate key \"a\" (first defined at line 1)");
    /* quoting does not make a key different; flow mappings are checked too */
    assert_load_fails("{a: 1, 'a': 2}",
                      "t.yaml:1:8: duplicate key \"a\" (first defined at line 1)");
    /* the same key in different mappings is fine */
    struct loaded l;
    load(&l, "a: {x: 1}\nb: {x: 2}\n");
    assert_int_equal(l.rc, 0);
    loaded_free(&l);
}

static void test_non_scalar_keys(void **state)
{
    (void)state;
    assert_load_fails("? [1, 2]\n: value\nok: 1\n? {a: b}\n: other\n",
                      "t.yaml:1:3: mapping keys must be plain strings\n"
                      "t.yaml:4:3: mapping keys must be plain strings");
}

/* ---- merge keys ------------------------------------------------------------------------ */

static void test_merge_key(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "base: &base\n"
             "  a: 1\n"
             "  b: 2\n"
             "child:\n"
             "  b: 3\n"
             "  <<: *base\n"
             "  c: 4\n");
    assert_int_equal(l.rc, 0);
    const struct servo_node *child = get(l.docs.items[0], "child");
    assert_int_equal(child->count, 3);
    /* explicit keys win, wherever they are; merged ones follow them */
    assert_string_equal(child->pairs[0].key, "b");
    assert_string_equal(child->pairs[1].key, "c");
    assert_string_equal(child->pairs[2].key, "a");
    assert_scalar(get(child, "b"), "3", false);
    assert_scalar(get(child, "c"), "4", false);
    assert_scalar(get(child, "a"), "1", false);
    /* a merged entry keeps the place it was written */
    assert_int_equal(child->pairs[2].line, 2);
    assert_at(get(child, "a"), 2, 6);
    assert_null(servo_node_get(child, "<<"));
    assert_int_equal(child->weight, 4);
    /* the anchored mapping itself is unchanged */
    assert_int_equal(get(l.docs.items[0], "base")->count, 2);
    loaded_free(&l);
}

static void test_merge_list_of_maps(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "x: &x {a: 1, b: 1}\n"
             "y: &y {b: 2, c: 2, d: 2}\n"
             "z:\n"
             "  <<: [*x, *y, {d: 3, e: 3}]\n"
             "  c: 9\n");
    assert_int_equal(l.rc, 0);
    const struct servo_node *z = get(l.docs.items[0], "z");
    assert_int_equal(z->count, 5);
    /* earlier mappings in the list win over later ones, explicit keys over all */
    assert_scalar(get(z, "c"), "9", false);
    assert_scalar(get(z, "a"), "1", false);
    assert_scalar(get(z, "b"), "1", false);
    assert_scalar(get(z, "d"), "2", false);
    assert_scalar(get(z, "e"), "3", false);
    loaded_free(&l);

    /* an inline mapping merges too, and a quoted "<<" is an ordinary key */
    load(&l, "m:\n  <<: {k: v}\n  '<<': literal\n");
    assert_int_equal(l.rc, 0);
    const struct servo_node *m = get(l.docs.items[0], "m");
    assert_int_equal(m->count, 2);
    assert_scalar(get(m, "<<"), "literal", false);
    assert_scalar(get(m, "k"), "v", false);
    loaded_free(&l);
}

static void test_merge_key_bad_values(void **state)
{
    (void)state;
    assert_load_fails("a:\n  <<: 5\n  b: [1]\nc:\n  <<: [{x: 1}, 2]\n",
                      "t.yaml:2:7: a merge key (<<) takes a mapping or a list of mappings\n"
                      "t.yaml:5:7: a merge key (<<) takes a mapping or a list of mappings");
}

/* ---- aliases --------------------------------------------------------------------------- */

static void test_aliases_are_copies_at_the_alias(void **state)
{
    (void)state;
    struct loaded l;
    load(&l, "defaults: &d\n"
             "  timeout: 5s\n"
             "  tags: [a, b]\n"
             "one: *d\n"
             "two:\n"
             "  - *d\n"
             "name: &n hello\n"
             "again: *n\n");
    assert_int_equal(l.rc, 0);
    const struct servo_node *root = l.docs.items[0];
    const struct servo_node *d = get(root, "defaults");
    const struct servo_node *one = get(root, "one");
    assert_ptr_not_equal(one, d);
    assert_int_equal(one->kind, SERVO_NODE_MAP);
    assert_at(one, 4, 6);
    assert_int_equal(one->weight, d->weight);
    assert_scalar(get(one, "timeout"), "5s", false);
    assert_int_equal(get(one, "tags")->count, 2);
    /* inside the copy, values keep the place they were written */
    assert_at(get(one, "timeout"), 2, 12);
    const struct servo_node *two = get(root, "two");
    assert_at(two->items[0], 6, 5);
    assert_ptr_not_equal(get(two->items[0], "tags"), get(d, "tags"));
    assert_scalar(get(root, "again"), "hello", false);
    assert_at(get(root, "again"), 8, 8);
    loaded_free(&l);
}

static void test_anchored_key_alias(void **state)
{
    (void)state;
    /* an anchor on a key names that key's text */
    struct loaded l;
    load(&l, "&k first: 1\nsecond: *k\n&q 'third': 3\nfourth: *q\n");
    assert_int_equal(l.rc, 0);
    assert_scalar(get(l.docs.items[0], "second"), "first", false);
    assert_scalar(get(l.docs.items[0], "fourth"), "third", true);
    loaded_free(&l);
}

static void test_anchor_in_duplicate_and_redefinition(void **state)
{
    (void)state;
    /* the latest definition of an anchor wins */
    struct loaded l;
    load(&l, "a: &x 1\nb: &x 2\nc: *x\n");
    assert_int_equal(l.rc, 0);
    assert_scalar(get(l.docs.items[0], "c"), "2", false);
    loaded_free(&l);
    /* anchors do not cross documents */
    assert_load_fails("a: &x 1\n---\nb: *x\n",
                      "t.yaml:3:4: unknown alias \"x\" (an alias must follow its anchor and not "
                      "refer to a value that contains it)");
    /* an anchor on a rejected duplicate stays usable (and nothing leaks or dangles) */
    assert_load_fails("a: 1\na: &y {k: v}\nb: *y\n",
                      "t.yaml:2:1: duplicate key \"a\" (first defined at line 1)");
}

static void test_undefined_and_recursive_alias(void **state)
{
    (void)state;
    assert_load_fails("a: 1\nb: *nope\n",
                      "t.yaml:2:4: unknown alias \"nope\" (an alias must follow its anchor and "
                      "not refer to a value that contains it)");
    /* an alias before its anchor */
    assert_load_fails("a: *x\nb: &x 1\n",
                      "t.yaml:1:4: unknown alias \"x\" (an alias must follow its anchor and "
                      "not refer to a value that contains it)");
    /* a value containing an alias to itself */
    assert_load_fails("a: &r [1, *r]\n",
                      "t.yaml:1:11: unknown alias \"r\" (an alias must follow its anchor and "
                      "not refer to a value that contains it)");
    assert_load_fails("a: &r\n  self: *r\n",
                      "t.yaml:2:9: unknown alias \"r\" (an alias must follow its anchor and "
                      "not refer to a value that contains it)");
}

/* 10 levels, each a list of 10 aliases to the one before: 10^10 values if expanded. */
static char *alias_bomb(int levels, int width)
{
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "l0: &l0 [lol]\n");
    for (int i = 1; i < levels; i++) {
        strbuf_printf(&sb, "l%d: &l%d [", i, i);
        for (int j = 0; j < width; j++)
            strbuf_printf(&sb, "%s*l%d", j ? ", " : "", i - 1);
        strbuf_puts(&sb, "]\n");
    }
    return strbuf_detach(&sb);
}

static void test_alias_bomb_fails_fast(void **state)
{
    (void)state;
    char *bomb = alias_bomb(10, 10);
    double start = now();
    /* level n weighs 2 * 10^n + ...: the 9th alias to level 5 (211111 values each), in
     * level 6 on line 7, crosses 2000000 */
    assert_load_fails(bomb, "t.yaml:7:50: document is too large (more than 2000000 values, aliases "
                            "included)");
    double elapsed = now() - start;
    if (elapsed > 30)
        fail_msg("the alias bomb took %.1fs", elapsed);
    free(bomb);

    /* a smaller expansion within the budget loads */
    bomb = alias_bomb(5, 10);
    struct loaded l;
    load(&l, bomb);
    assert_int_equal(l.rc, 0);
    assert_int_equal(get(l.docs.items[0], "l4")->weight, 21111);
    loaded_free(&l);
    free(bomb);
}

/* Few values but long text: a 64 KiB string aliased 2000 times would be 125 MiB. The bytes
 * aliases expand to are counted too. */
static void test_alias_text_bomb(void **state)
{
    (void)state;
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "s: &s ");
    for (int i = 0; i < 65536; i++)
        strbuf_putc(&sb, 'x');
    strbuf_puts(&sb, "\nl:\n");
    for (int i = 0; i < 2000; i++)
        strbuf_puts(&sb, "  - *s\n");
    /* key "s", the string, key "l", then 1023 aliases cross 64 MiB: line 2 + 1023 */
    assert_load_fails(sb.data, "t.yaml:1025:5: document is too large (more than 64 MiB of text, "
                               "aliases included)");
    strbuf_release(&sb);
}

static void test_merge_bomb_fails_fast(void **state)
{
    (void)state;
    /* merge keys copy too: a wide mapping merged into many mappings */
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "base: &b {");
    for (int i = 0; i < 1000; i++)
        strbuf_printf(&sb, "%sk%d: [1, 2, 3, 4, 5, 6, 7, 8, 9]", i ? ", " : "", i);
    strbuf_puts(&sb, "}\nmany:\n");
    for (int i = 0; i < 400; i++)
        strbuf_puts(&sb, "  - {<<: *b}\n");
    double start = now();
    struct loaded l;
    load_n(&l, sb.data, sb.len);
    assert_int_equal(l.rc, -1);
    assert_int_equal(l.diags.count, 1);
    assert_non_null(strstr(l.diags.items[0].message, "document is too large"));
    if (now() - start > 30)
        fail_msg("the merge bomb took %.1fs", now() - start);
    loaded_free(&l);
    strbuf_release(&sb);
}

/* ---- limits ---------------------------------------------------------------------------- */

static void test_wide_mappings_are_not_quadratic(void **state)
{
    (void)state;
    /* 4 MiB of distinct keys (half the file size limit), a duplicate at the end, and the whole
     * mapping merged and aliased */
    struct strbuf sb;
    strbuf_init(&sb);
    strbuf_puts(&sb, "wide: &w\n");
    int keys = 0;
    for (; sb.len < CONFIG_MAX_FILE_SIZE / 2 - 64; keys++)
        strbuf_printf(&sb, "  key%d: %d\n", keys, keys);
    strbuf_puts(&sb, "  key7: dup\n");
    strbuf_puts(&sb, "copy: *w\nmerged: {<<: *w, key1: mine}\n");
    double start = now();
    struct loaded l;
    load_n(&l, sb.data, sb.len);
    double elapsed = now() - start;
    char *expected =
        xasprintf("t.yaml:%d:3: duplicate key \"key7\" (first defined at line 9)", keys + 2);
    assert_diags(&l.diags, expected);
    free(expected);
    loaded_free(&l);
    if (elapsed > 30)
        fail_msg("%d keys took %.1fs", keys, elapsed);

    /* without the duplicate it loads, with every key findable */
    strbuf_truncate(&sb, sb.len - strlen("  key7: dup\ncopy: *w\nmerged: {<<: *w, key1: mine}\n"));
    strbuf_puts(&sb, "copy: *w\nmerged: {<<: *w, key1: mine}\n");
    load_n(&l, sb.data, sb.len);
    assert_int_equal(l.rc, 0);
    const struct servo_node *merged = get(l.docs.items[0], "merged");
    assert_int_equal(merged->count, (size_t)keys);
    assert_scalar(get(merged, "key1"), "mine", false);
    char last[32];
    snprintf(last, sizeof last, "key%d", keys - 1);
    assert_non_null(servo_node_get(get(l.docs.items[0], "copy"), last));
    assert_null(servo_node_get(merged, "key"));
    loaded_free(&l);
    strbuf_release(&sb);
}

static char *nested_flow(int depth)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < depth; i++)
        strbuf_putc(&sb, '[');
    strbuf_puts(&sb, "x");
    for (int i = 0; i < depth; i++)
        strbuf_putc(&sb, ']');
    strbuf_putc(&sb, '\n');
    return strbuf_detach(&sb);
}

static char *nested_block(int depth)
{
    struct strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < depth; i++)
        strbuf_printf(&sb, "%*sk%d:\n", i, "", i);
    strbuf_printf(&sb, "%*sleaf: x\n", depth, "");
    return strbuf_detach(&sb);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* 64 nested collections load */
    char *text = nested_flow(64);
    struct loaded l;
    load(&l, text);
    assert_int_equal(l.rc, 0);
    const struct servo_node *n = l.docs.items[0];
    int depth = 0;
    while (n->kind == SERVO_NODE_SEQ) {
        n = n->items[0];
        depth++;
    }
    assert_int_equal(depth, 64);
    assert_scalar(n, "x", false);
    loaded_free(&l);
    free(text);

    /* the 65th is refused where it starts */
    text = nested_flow(65);
    assert_load_fails(text, "t.yaml:1:65: nesting is deeper than 64 levels");
    free(text);

    /* block mappings: the root and 63 nested mappings are 64 levels */
    text = nested_block(63);
    load(&l, text);
    assert_int_equal(l.rc, 0);
    loaded_free(&l);
    free(text);
    text = nested_block(64);
    assert_load_fails(text, "t.yaml:65:65: nesting is deeper than 64 levels");
    free(text);

    /* far deeper input fails the same way, quickly */
    text = nested_flow(100000);
    assert_load_fails(text, "t.yaml:1:65: nesting is deeper than 64 levels");
    free(text);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    assert_load_fails("a: [1, 2\nb: 3\n",
                      "t.yaml:2:2: did not find expected ',' or ']' while parsing a flow "
                      "sequence");
    assert_load_fails("a: {x: 1\n",
                      "t.yaml:2:1: did not find expected ',' or '}' while parsing a flow "
                      "mapping");
    assert_load_fails("a: 1\n b: 2\n",
                      "t.yaml:2:3: mapping values are not allowed in this context");
    assert_load_fails("a: \"unterminated\n",
                      "t.yaml:2:1: found unexpected end of stream while scanning a quoted "
                      "scalar");
    assert_load_fails("- a\nb: c\n",
                      "t.yaml:2:1: did not find expected '-' indicator while parsing a block "
                      "collection");
    assert_load_fails("a: &x\n- *\n",
                      "t.yaml:2:4: did not find expected alphabetic or numeric character while "
                      "scanning an alias");
    /* a syntax error after a good document loses every document */
    assert_load_fails("a: 1\n---\n]\n",
                      "t.yaml:3:1: did not find expected node content while parsing a block "
                      "node");
}

static void test_binary_garbage(void **state)
{
    (void)state;
    /* invalid UTF-8 */
    assert_load_fails_n("a: \xc3\x28\n", 6, "t.yaml: invalid trailing UTF-8 octet (byte 4)");
    assert_load_fails_n("a: ok\nb: \xff\n", 11, "t.yaml: invalid leading UTF-8 octet (byte 9)");
    /* a NUL byte and other control characters */
    assert_load_fails_n("a: b\0c\n", 7, "t.yaml: control characters are not allowed (byte 4)");
    assert_load_fails_n("a: \x01\n", 5, "t.yaml: control characters are not allowed (byte 3)");
    assert_load_fails_n("\x7f", 1, "t.yaml: control characters are not allowed (byte 0)");
    /* random bytes never crash, and a failure always says something */
    unsigned int seed = 12345;
    unsigned char buf[512];
    for (int round = 0; round < 300; round++) {
        size_t length = (size_t)(rand_r(&seed) % (int)sizeof buf);
        for (size_t i = 0; i < length; i++)
            buf[i] = (unsigned char)rand_r(&seed);
        struct loaded l;
        load_n(&l, (const char *)buf, length);
        if (l.rc != 0)
            assert_true(l.diags.count > 0);
        else
            assert_int_equal(l.diags.count, 0);
        loaded_free(&l);
    }
}

/* ---- files ----------------------------------------------------------------------------- */

static void test_load_file(void **state)
{
    (void)state;
    const char *path = test_write_file("good.yaml", "a: [1, 2]\n");
    char *copy = xstrdup(path);
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    assert_int_equal(yaml_load_file(copy, &docs, &diags), 0);
    assert_int_equal(docs.count, 1);
    assert_string_equal(docs.items[0]->source, copy);
    assert_string_equal(get(docs.items[0], "a")->source, copy);
    yaml_documents_free(&docs);

    /* an empty file is no document, and no error */
    path = test_write_file("empty.yaml", "");
    assert_int_equal(yaml_load_file(path, &docs, &diags), 0);
    assert_int_equal(docs.count, 0);
    assert_int_equal(diags.count, 0);
    yaml_documents_free(&docs);

    /* errors carry the file name */
    path = test_write_file("bad.yaml", "x: [\n");
    char *expected = xasprintf("%s:2:1: did not find expected node content while parsing a "
                               "flow node",
                               path);
    assert_int_equal(yaml_load_file(path, &docs, &diags), -1);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);
    free(copy);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    struct yaml_documents docs;
    struct servo_diags diags;
    diags_init(&diags);
    char *missing = xasprintf("%s/missing.yaml", test_scratch_dir());
    assert_int_equal(yaml_load_file(missing, &docs, &diags), -1);
    assert_int_equal(docs.count, 0);
    char *expected = xasprintf("%s: file does not exist", missing);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);

    char *dir = xasprintf("%s/a-directory", test_scratch_dir());
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(yaml_load_file(dir, &docs, &diags), -1);
    expected = xasprintf("%s: is a directory, not a file", dir);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);

    /* one byte over 8 MiB, sparse */
    char *big = xasprintf("%s/big.yaml", test_scratch_dir());
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(truncate(big, CONFIG_MAX_FILE_SIZE + 1), 0);
    assert_int_equal(yaml_load_file(big, &docs, &diags), -1);
    expected = xasprintf("%s: file is too large (8388609 bytes; the limit is 8388608)", big);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);

    /* exactly 8 MiB is read (and its NUL bytes refused by the parser, not the size check) */
    assert_int_equal(truncate(big, CONFIG_MAX_FILE_SIZE), 0);
    assert_int_equal(yaml_load_file(big, &docs, &diags), -1);
    expected = xasprintf("%s: control characters are not allowed (byte 0)", big);
    assert_diags(&diags, expected);
    free(expected);
    diags_free(&diags);

    free(missing);
    free(dir);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_document),
        cmocka_unit_test(test_multiple_documents),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_scalar_styles),
        cmocka_unit_test(test_null_forms),
        cmocka_unit_test(test_tabs),
        cmocka_unit_test(test_duplicate_keys_all_reported),
        cmocka_unit_test(test_non_scalar_keys),
        cmocka_unit_test(test_merge_key),
        cmocka_unit_test(test_merge_list_of_maps),
        cmocka_unit_test(test_merge_key_bad_values),
        cmocka_unit_test(test_aliases_are_copies_at_the_alias),
        cmocka_unit_test(test_anchored_key_alias),
        cmocka_unit_test(test_anchor_in_duplicate_and_redefinition),
        cmocka_unit_test(test_undefined_and_recursive_alias),
        cmocka_unit_test(test_alias_bomb_fails_fast),
        cmocka_unit_test(test_alias_text_bomb),
        cmocka_unit_test(test_merge_bomb_fails_fast),
        cmocka_unit_test(test_wide_mappings_are_not_quadratic),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_binary_garbage),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
