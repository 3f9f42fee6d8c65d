/* BLAKE3 Merkle roots (RFC 9162 §2.1.1 shape, docs/FORMAT.md §3) and batched keyed hashing. */
#include "merkle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blake3.h"
#include "blake3_many.h"

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

static void root_streaming(const uint32_t lk[8], const uint32_t nk[8], const uint8_t *leaves, size_t leaf_size,
                           size_t count, uint32_t out[8]);

/* Level by level: hash all leaves, then halve the level in place until one node is left; a lone
 * last node moves up unchanged. This is the same RFC 9162 tree (the split at the largest power
 * of two below n falls out of pairing from the left), and each level is a batch of independent
 * one-block compressions for ledger_blake3_many. */
static int root_levels(const uint32_t lk[8], const uint32_t nk[8], const uint8_t *leaves, size_t leaf_size,
                       size_t count, uint32_t out[8]) {
    if (count > SIZE_MAX / sizeof(uint32_t[8])) return -1;   /* the caller falls back to streaming */
    uint32_t (*level)[8] = malloc(count * sizeof *level);
    if (level == NULL) return -1;
    ledger_blake3_many(lk, leaves, leaf_size, leaf_size, count, level);
    for (size_t n = count; n > 1;) {
        size_t pairs = n / 2;
        ledger_blake3_many(nk, (const uint8_t *)level, 64, 64, pairs, level);
        if (n % 2) memcpy(level[pairs], level[n - 1], 32);
        n = pairs + n % 2;
    }
    memcpy(out, level[0], 32);
    free(level);
    return 0;
}

static int little_endian(void) {
    const uint16_t probe = 1;
    return *(const uint8_t *)&probe == 1;
}

/* The root of leaves[0:count] as words, by whichever path fits. */
static void root_words(const uint32_t lk[8], const uint32_t nk[8], const uint8_t *leaves, size_t leaf_size,
                       size_t count, uint32_t out[8]) {
    if (count >= 16 && leaf_size <= 64 && leaf_size % 4 == 0 && little_endian() &&
        root_levels(lk, nk, leaves, leaf_size, count, out) == 0)
        return;
    root_streaming(lk, nk, leaves, leaf_size, count, out);
}

typedef struct {
    const uint32_t *lk, *nk;
    const uint8_t *leaves;
    size_t leaf_size, count;
    uint32_t root[8];
} chunk_job;

static void *chunk_main(void *arg) {
    chunk_job *job = arg;
    root_words(job->lk, job->nk, job->leaves, job->leaf_size, job->count, job->root);
    return NULL;
}

#define MERKLE_THREADS_MAX 64
#define MERKLE_LEAVES_PER_THREAD_MIN 16384

void ledger_merkle_root_blake3_threads(const uint8_t leaf_key[32], const uint8_t node_key[32], const uint8_t *leaves,
                                       size_t leaf_size, size_t count, uint8_t out[32], int threads) {
    uint32_t lk[8], nk[8], acc[8];
    if (threads > MERKLE_THREADS_MAX) threads = MERKLE_THREADS_MAX;
    if (threads < 2 || count < 2 * (size_t)MERKLE_LEAVES_PER_THREAD_MIN) {
        ledger_merkle_root_blake3(leaf_key, node_key, leaves, leaf_size, count, out);
        return;
    }
    ledger_blake3_key_words(leaf_key, lk);
    ledger_blake3_key_words(node_key, nk);
    /* Chunks of 2^h leaves, 2^h >= count / threads: pairing never crosses a chunk boundary below
     * level h, so each chunk's own root is the tree's level-h node over it (the last, shorter
     * chunk included), and the tree over the chunk roots is the rest of the tree. */
    size_t chunk = 1;
    while (chunk * (size_t)threads < count) chunk <<= 1;
    size_t chunks = (count + chunk - 1) / chunk;
    chunk_job jobs[MERKLE_THREADS_MAX];
    pthread_t ids[MERKLE_THREADS_MAX];
    int started[MERKLE_THREADS_MAX] = {0};
    for (size_t c = 0; c < chunks; c++) {
        size_t first = c * chunk;
        jobs[c] = (chunk_job){lk, nk, leaves + first * leaf_size, leaf_size, count - first < chunk ? count - first : chunk, {0}};
    }
    for (size_t c = 1; c < chunks; c++) started[c] = pthread_create(&ids[c], NULL, chunk_main, &jobs[c]) == 0;
    chunk_main(&jobs[0]);
    for (size_t c = 1; c < chunks; c++) {
        if (started[c])
            pthread_join(ids[c], NULL);
        else
            chunk_main(&jobs[c]);   /* no thread to be had: do it here */
    }
    uint32_t roots[MERKLE_THREADS_MAX][8];
    for (size_t c = 0; c < chunks; c++) memcpy(roots[c], jobs[c].root, 32);
    for (size_t n = chunks; n > 1;) {
        size_t pairs = n / 2;
        for (size_t i = 0; i < pairs; i++) node_hash(nk, roots[2 * i], roots[2 * i + 1], roots[i]);
        if (n % 2) memcpy(roots[pairs], roots[n - 1], 32);
        n = pairs + n % 2;
    }
    memcpy(acc, roots[0], 32);
    ledger_blake3_words_to_bytes(acc, out);
}

void ledger_merkle_root_blake3(const uint8_t leaf_key[32], const uint8_t node_key[32], const uint8_t *leaves,
                               size_t leaf_size, size_t count, uint8_t out[32]) {
    uint32_t lk[8], nk[8], acc[8];
    ledger_blake3_key_words(leaf_key, lk);
    ledger_blake3_key_words(node_key, nk);
    if (count == 0) {
        ledger_blake3_hash_words(nk, LEDGER_BLAKE3_KEYED_HASH, NULL, 0, acc);
    } else {
        root_words(lk, nk, leaves, leaf_size, count, acc);
    }
    ledger_blake3_words_to_bytes(acc, out);
}

static void root_streaming(const uint32_t lk[8], const uint32_t nk[8], const uint8_t *leaves, size_t leaf_size,
                           size_t count, uint32_t out[8]) {
    uint32_t acc[8];
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
    memcpy(out, acc, 32);
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
