// SPDX-License-Identifier: Apache-2.0
/* The optimizer server's lookups by application id and by token, in time that does not grow
 * with the number of applications: an open-addressing table of SipHash-2-4 digests under a
 * random key drawn at start. The key is secret, so where a token falls in the table (and so
 * how long a lookup takes) tells a client nothing about the tokens it does not hold. */
#ifndef SERVO_OPTIMIZER_SERVER_INDEX_H
#define SERVO_OPTIMIZER_SERVER_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct server_index {
    uint64_t key[2];
    struct server_index_slot *slots;
    size_t mask; /* slot count - 1 (a power of two) */
};

/* For up to `capacity` entries; the key is drawn from the system's random source. */
void server_index_init(struct server_index *index, size_t capacity);
void server_index_free(struct server_index *index);

/* Adds `value` under the text (several values may share one text). */
void server_index_add(struct server_index *index, const char *text, size_t length, size_t value);

/* Calls `each` with every value added under a text of the same digest (the caller compares
 * the texts: a digest match is a candidate, not a proof). */
void server_index_find(const struct server_index *index, const char *text, size_t length,
                       void (*each)(void *context, size_t value), void *context);

/* SipHash-2-4 of the bytes under the 128-bit key (exposed for its test vectors). */
uint64_t server_siphash(const uint64_t key[2], const void *data, size_t length);

#endif
