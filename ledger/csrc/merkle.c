/* BLAKE3 Merkle roots (RFC 9162 shape) and batched keyed hashing. */
#include "merkle.h"

#include <string.h>

#include "blake3.h"

/* A node is exactly one 64-byte block under the node key, so it is one compression; digests stay
 * as words between levels to skip converting to and from bytes. */
static inline void node_hash(const uint32_t key[8], const uint32_t left[8], const uint32_t right[8], uint32_t out[8]) {
    uint32_t m[16];
    memcpy(m, left, 32);
    memcpy(m + 8, right, 32);
    ledger_blake3_compress_cv(key, m, 0, 64,
                              LEDGER_BLAKE3_KEYED_HASH | LEDGER_BLAKE3_CHUNK_START | LEDGER_BLAKE3_CHUNK_END |
                                  LEDGER_BLAKE3_ROOT,
                              out);
}

void ledger_merkle_root_blake3(const uint8_t leaf_key[32], const uint8_t node_key[32], const uint8_t *leaves,
                               size_t leaf_size, size_t count, uint8_t out[32]) {
    uint32_t lk[8], nk[8], acc[8];
    ledger_blake3_key_words(leaf_key, lk);
    ledger_blake3_key_words(node_key, nk);
    if (count == 0) {
        ledger_blake3_hash_words(nk, LEDGER_BLAKE3_KEYED_HASH, NULL, 0, acc);
        ledger_blake3_words_to_bytes(acc, out);
        return;
    }
    /* Streaming over the leaves, the stack holds the roots of perfect subtrees of strictly
     * decreasing size, one per set bit of the leaves seen so far (so 64 entries suffice for any
     * size_t count). Merging whenever the two newest are equal in size, then folding the rest
     * right to left, yields exactly the RFC 9162 shape: every left subtree is the largest power
     * of two strictly below its node's leaf count. */
    uint32_t stack[64][8];
    size_t depth = 0;
    for (size_t i = 0; i < count; i++) {
        ledger_blake3_hash_words(lk, LEDGER_BLAKE3_KEYED_HASH, leaves + i * leaf_size, leaf_size, acc);
        for (size_t seen = i + 1; (seen & 1) == 0; seen >>= 1) {
            depth--;
            node_hash(nk, stack[depth], acc, acc);
        }
        memcpy(stack[depth], acc, 32);
        depth++;
    }
    memcpy(acc, stack[depth - 1], 32);
    for (size_t j = depth - 1; j > 0; j--) node_hash(nk, stack[j - 1], acc, acc);
    ledger_blake3_words_to_bytes(acc, out);
}

void ledger_blake3_keyed_many(const uint8_t key[32], const uint8_t *const *inputs, const size_t *lengths,
                              size_t count, uint8_t *out) {
    uint32_t k[8], w[8];
    ledger_blake3_key_words(key, k);
    for (size_t i = 0; i < count; i++) {
        ledger_blake3_hash_words(k, LEDGER_BLAKE3_KEYED_HASH, inputs[i], lengths[i], w);
        ledger_blake3_words_to_bytes(w, out + 32 * i);
    }
}
