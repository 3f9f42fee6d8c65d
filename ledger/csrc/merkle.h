/* BLAKE3 Merkle roots in the RFC 9162 (§2.1.1) tree shape with the leaf and node hashes of
 * docs/FORMAT.md §3, and batched keyed hashing. */
#ifndef LEDGER_MERKLE_H
#define LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Root over count leaves stored back to back, leaf_size bytes each. Leaf hash = BLAKE3
 * keyed(leaf_key, leaf); node hash = BLAKE3 keyed(node_key, left || right); a node over n > 1
 * leaves splits at the largest power of two below n, and no node is ever duplicated. The empty
 * tree's root is BLAKE3 keyed(node_key, empty input). Uses O(log count) memory, no recursion. */
void ledger_merkle_root_blake3(const uint8_t leaf_key[32], const uint8_t node_key[32], const uint8_t *leaves,
                               size_t leaf_size, size_t count, uint8_t out[32]);

/* out[32*i .. 32*i+32] = BLAKE3 keyed(key, inputs[i][0 .. lengths[i]]) for every i < count. */
/* The same root, with the leaves split over up to `threads` threads (fewer for small trees). */
void ledger_merkle_root_blake3_threads(const uint8_t leaf_key[32], const uint8_t node_key[32], const uint8_t *leaves,
                                       size_t leaf_size, size_t count, uint8_t out[32], int threads);

void ledger_blake3_keyed_many(const uint8_t key[32], const uint8_t *const *inputs, const size_t *lengths,
                              size_t count, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* LEDGER_MERKLE_H */
