// SPDX-License-Identifier: Apache-2.0
/* Keyed lookups for the optimizer server (server_index.h). */
#include "optimizer/server_index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

struct server_index_slot {
    uint64_t digest;
    size_t value;
    int used;
};

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13) ^ v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17) ^ v[2];
    v[2] = rotl(v[2], 32);
}

static uint64_t read_le64(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

uint64_t server_siphash(const uint64_t key[2], const void *data, size_t length)
{
    const unsigned char *p = data;
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
                     key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
    size_t whole = length - length % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = read_le64(p + i);
        v[3] ^= m;
        sip_round(v);
        sip_round(v);
        v[0] ^= m;
    }
    uint64_t last = (uint64_t)(length & 0xff) << 56;
    for (size_t i = 0; i < length % 8; i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    v[3] ^= last;
    sip_round(v);
    sip_round(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void server_index_init(struct server_index *index, size_t capacity)
{
    size_t slots = 16;
    while (slots < 2 * capacity)
        slots *= 2;
    index->slots = xcalloc(slots, sizeof *index->slots);
    index->mask = slots - 1;
    if (getrandom(index->key, sizeof index->key, 0) != (ssize_t)sizeof index->key) {
        /* no entropy source: a key still unknown to clients, if weaker */
        index->key[0] = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
        index->key[1] = (uint64_t)(uintptr_t)index ^ (uint64_t)clock();
    }
}

void server_index_free(struct server_index *index)
{
    free(index->slots);
    index->slots = NULL;
}

void server_index_add(struct server_index *index, const char *text, size_t length, size_t value)
{
    uint64_t digest = server_siphash(index->key, text, length);
    size_t i = (size_t)digest & index->mask;
    while (index->slots[i].used)
        i = (i + 1) & index->mask;
    index->slots[i] = (struct server_index_slot){.digest = digest, .value = value, .used = 1};
}

void server_index_find(const struct server_index *index, const char *text, size_t length,
                       void (*each)(void *context, size_t value), void *context)
{
    if (index->slots == NULL)
        return;
    uint64_t digest = server_siphash(index->key, text, length);
    for (size_t i = (size_t)digest & index->mask; index->slots[i].used; i = (i + 1) & index->mask) {
        if (index->slots[i].digest == digest)
            each(context, index->slots[i].value);
    }
}
