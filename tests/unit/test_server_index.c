// SPDX-License-Identifier: Apache-2.0
/* The optimizer server's keyed lookups: SipHash-2-4 against the reference vectors of its
 * paper, and an index that finds every value added under a text, and nothing else. */
#include "support.h"

#include <stdio.h>
#include <string.h>

#include "optimizer/server_index.h"

/* Aumasson and Bernstein, "SipHash: a fast short-input PRF", appendix A: key 00..0f. */
static void test_siphash_vectors(void **state)
{
    (void)state;
    const uint64_t key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    unsigned char message[64];
    for (size_t i = 0; i < sizeof message; i++)
        message[i] = (unsigned char)i;
    assert_true(server_siphash(key, message, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(server_siphash(key, message, 1) == 0x74f839c593dc67fdULL);
    assert_true(server_siphash(key, message, 8) == 0x93f5f5799a932462ULL);
    assert_true(server_siphash(key, message, 15) == 0xa129ca6149be45e5ULL);
    assert_true(server_siphash(key, message, 63) == 0x958a324ceb064572ULL);
}

struct found {
    size_t values[8];
    size_t count;
};

static void collect(void *context, size_t value)
{
    struct found *f = context;
    if (f->count < 8)
        f->values[f->count++] = value;
}

static struct found find(const struct server_index *index, const char *text)
{
    struct found f = {.count = 0};
    server_index_find(index, text, strlen(text), collect, &f);
    return f;
}

static void test_index(void **state)
{
    (void)state;
    struct server_index index;
    server_index_init(&index, 2000);
    char text[32];
    for (size_t i = 0; i < 2000; i++) {
        snprintf(text, sizeof text, "tok-%zu", i);
        server_index_add(&index, text, strlen(text), i);
    }
    server_index_add(&index, "tok-7", 5, 4242); /* a second value under one text */
    for (size_t i = 0; i < 2000; i++) {
        snprintf(text, sizeof text, "tok-%zu", i);
        struct found f = find(&index, text);
        assert_true(f.count >= 1);
        assert_int_equal(f.values[0], i);
        assert_int_equal(f.count, i == 7 ? 2 : 1);
    }
    assert_int_equal(find(&index, "tok-7").values[1], 4242);
    assert_int_equal(find(&index, "tok-2000").count, 0);
    assert_int_equal(find(&index, "").count, 0);
    server_index_free(&index);
    struct server_index empty = {.slots = NULL};
    assert_int_equal(find(&empty, "x").count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
