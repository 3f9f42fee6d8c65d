/* The version-2 state map (docs/FORMAT.md §7.2; twin: ledger/state_tree.py): a sparse Merkle tree
 * over 256-bit key hashes whose leaves sit at their shortest unique prefix (the binary form of the
 * Jellyfish Merkle tree, Gao et al. 2021).
 *
 * Layout, and why:
 *  - Every entry lives in memory (key hash || value hash: 64 bytes, which is also exactly the
 *    leaf's hash input). Entries are grouped in 2^B buckets by the top B bits of the key hash,
 *    each bucket a sorted array. Key hashes are BLAKE3 outputs, so buckets fill evenly.
 *  - The hashes of the tree's nodes at depths 0 … B are cached in one array per level (2^d
 *    nodes of 32 bytes, calloc'd so untouched pages cost nothing), with the number of entries
 *    below each node: §7.2's rule "a subtree of one entry is that entry's leaf" is applied above
 *    depth B from those counts (0: EMPTY, 1: the one child's hash, which is then a leaf, else
 *    node(left, right)). Level B holds the bucket roots.
 *  - Below depth B nothing is cached: a bucket's root is recomputed from its sorted entries when
 *    the bucket changes. With B adaptive (the smallest B, from 8 up to 24, keeping at most 4
 *    entries a bucket on average) a changed bucket costs a few hashes and memory stays at the
 *    entries plus about 80 bytes a bucket. B grows by rebuilding the buckets and every cached
 *    hash (about 2 hashes an entry, paid once each time the map doubles).
 *  - A batch update marks the buckets it changes, hashes all their leaves with the multi-input
 *    BLAKE3 (blake3_many.c: eight one-block compressions per AVX2 stream), then the changed nodes
 *    level by level, deepest first, each level again as one batch. Every input is one 64-byte
 *    block, so batching costs a copy of 64 bytes a hash and needs only a fixed scratch buffer.
 *  - A fully cached tree (a hash per node, n − 1 nodes) would save re-hashing the few untouched
 *    leaves of a changed bucket, at 40 more bytes an entry and pointer chasing; a per-level array
 *    costs one cache miss a level and batches naturally.
 *  - Known cost: a bucket's update cost is linear in its size. Key hashes are keyed BLAKE3 of
 *    chosen public keys and record names, so filling one bucket with k entries costs an attacker
 *    about 2^B hash evaluations an entry, and then makes each update of that bucket cost k hashes.
 *
 * Undo: an update reports, per item, the value it replaced (or that the key was absent); revert
 * applies that backwards. Removing or overwriting never allocates, so reverting an update's own
 * record cannot fail.
 *
 * Threads: none inside; one tree is used by one thread at a time, and trees share no state. */
#include "state_tree.h"

#include <stdlib.h>
#include <string.h>

#include "blake3.h"
#include "blake3_many.h"

#define BUCKET_BITS_ADAPTIVE_MIN 8
#define BUCKET_FILL_MEAN_MAX 4
/* Hashes per batch given to ledger_blake3_many (the scratch is fixed: 96 bytes a hash). */
#define BATCH_HASHES_MAX 512

static const char CONTEXT_STATE_KEY[] = "ledger 2026-11-30 v2 state key";
static const char CONTEXT_STATE_VALUE[] = "ledger 2026-11-30 v2 state value";
static const char CONTEXT_STATE_LEAF[] = "ledger 2026-11-30 v2 state leaf";
static const char CONTEXT_STATE_NODE[] = "ledger 2026-11-30 v2 state node";

typedef struct {
    uint8_t key[32];
    uint8_t value[32];
} entry;

typedef struct {
    entry *items;
    uint32_t count;
    uint32_t capacity;
} bucket;

struct ledger_state_tree {
    uint32_t leaf_key[8];
    uint32_t node_key[8];
    int bits;
    int adaptive;
    size_t count;
    bucket *buckets;                                    /* 2^bits */
    uint8_t *hashes[LEDGER_STATE_BUCKET_BITS_MAX + 1];  /* level d: 2^d hashes; level bits: bucket roots */
    uint32_t *counts[LEDGER_STATE_BUCKET_BITS_MAX];     /* level d < bits: entries below each node */
    uint8_t (*batch_in)[64];
    uint32_t (*batch_out)[8];
    uint32_t *batch_index;
};

static void context_key_words(const char *context, uint32_t words[8]) {
    uint8_t key[32];
    ledger_blake3_derive_key(context, strlen(context), "", 0, key, 32);
    ledger_blake3_key_words(key, words);
}

static void words_to_bytes(const uint32_t words[8], uint8_t out[32]) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(out, words, 32);
#else
    ledger_blake3_words_to_bytes(words, out);
#endif
}

static void hash_block(const uint32_t key[8], const uint8_t *input, size_t length, uint8_t out[32]) {
    uint32_t words[8];
    ledger_blake3_hash_words(key, LEDGER_BLAKE3_KEYED_HASH, input, length, words);
    words_to_bytes(words, out);
}

static void hash_node(const ledger_state_tree *tree, const uint8_t left[32], const uint8_t right[32], uint8_t out[32]) {
    uint8_t block[64];
    memcpy(block, left, 32);
    memcpy(block + 32, right, 32);
    hash_block(tree->node_key, block, 64, out);
}

/* count 64-byte inputs of tree->batch_in under key into tree->batch_out. */
static void hash_batch(const uint32_t key[8], ledger_state_tree *tree, size_t count) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    ledger_blake3_many(key, &tree->batch_in[0][0], 64, 64, count, tree->batch_out);
#else
    for (size_t i = 0; i < count; i++)
        ledger_blake3_hash_words(key, LEDGER_BLAKE3_KEYED_HASH, tree->batch_in[i], 64, tree->batch_out[i]);
#endif
}

static inline int bit_at(const uint8_t *key, unsigned i) { return (key[i >> 3] >> (7 - (i & 7))) & 1; }

static inline uint32_t bucket_of(const uint8_t *key, int bits) {
    uint32_t top = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
    return bits == 0 ? 0 : top >> (32 - bits);
}

static inline uint32_t count_at(const ledger_state_tree *tree, int level, uint32_t index) {
    return level == tree->bits ? tree->buckets[index].count : tree->counts[level][index];
}

/* Index of the first entry >= key in the bucket; *found when it equals key. */
static uint32_t bucket_search(const bucket *b, const uint8_t *key, int *found) {
    uint32_t lo = 0, hi = b->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (memcmp(b->items[mid].key, key, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < b->count && memcmp(b->items[lo].key, key, 32) == 0;
    return lo;
}

/* First index in items[lo, hi) whose bit `depth` is 1 (all share the bits above). */
static size_t split(const entry *items, size_t lo, size_t hi, unsigned depth) {
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bit_at(items[mid].key, depth))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* root(items[lo, hi), depth) of §7.2; leaves[i] is the leaf hash of items[i] when given. */
static void subtree_root(const ledger_state_tree *tree, const entry *items, size_t lo, size_t hi, unsigned depth,
                         const uint32_t (*leaves)[8], uint8_t out[32]) {
    if (hi == lo) {
        memset(out, 0, 32);
        return;
    }
    if (hi - lo == 1) {
        if (leaves != NULL)
            words_to_bytes(leaves[lo], out);
        else
            hash_block(tree->leaf_key, (const uint8_t *)&items[lo], 64, out);
        return;
    }
    /* Distinct keys differ before bit 256, so depth stays below 256 here. */
    size_t mid = split(items, lo, hi, depth);
    uint8_t left[32], right[32];
    subtree_root(tree, items, lo, mid, depth + 1, leaves, left);
    subtree_root(tree, items, mid, hi, depth + 1, leaves, right);
    hash_node(tree, left, right, out);
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static size_t sort_unique(uint32_t *values, size_t count) {
    if (count == 0) return 0;
    qsort(values, count, sizeof *values, compare_u32);
    size_t kept = 1;
    for (size_t i = 1; i < count; i++)
        if (values[i] != values[kept - 1]) values[kept++] = values[i];
    return kept;
}

static void hash_leaves_of_buckets(ledger_state_tree *tree, const uint32_t *dirty, size_t first, size_t end,
                                   size_t leaf_count) {
    size_t filled = 0;
    for (size_t k = first; k < end; k++) {
        const bucket *b = &tree->buckets[dirty[k]];
        if (b->count) memcpy(tree->batch_in[filled], b->items, (size_t)b->count * 64);
        filled += b->count;
    }
    hash_batch(tree->leaf_key, tree, leaf_count);
    filled = 0;
    for (size_t k = first; k < end; k++) {
        const bucket *b = &tree->buckets[dirty[k]];
        subtree_root(tree, b->items, 0, b->count, (unsigned)tree->bits, tree->batch_out + filled,
                     tree->hashes[tree->bits] + 32 * (size_t)dirty[k]);
        filled += b->count;
    }
}

static void flush_nodes(ledger_state_tree *tree, int level, size_t jobs) {
    hash_batch(tree->node_key, tree, jobs);
    for (size_t j = 0; j < jobs; j++)
        words_to_bytes(tree->batch_out[j], tree->hashes[level] + 32 * (size_t)tree->batch_index[j]);
}

/* Recomputes the roots of the buckets dirty[0 .. count) (sorted, distinct) and every node above
 * them. dirty is overwritten. */
static void recompute(ledger_state_tree *tree, uint32_t *dirty, size_t count) {
    size_t i = 0;
    while (i < count) {
        const bucket *b = &tree->buckets[dirty[i]];
        if (b->count > BATCH_HASHES_MAX) {
            subtree_root(tree, b->items, 0, b->count, (unsigned)tree->bits, NULL,
                         tree->hashes[tree->bits] + 32 * (size_t)dirty[i]);
            i++;
            continue;
        }
        size_t end = i, leaves = 0;
        while (end < count && leaves + tree->buckets[dirty[end]].count <= BATCH_HASHES_MAX)
            leaves += tree->buckets[dirty[end++]].count;
        hash_leaves_of_buckets(tree, dirty, i, end, leaves);
        i = end;
    }
    for (int level = tree->bits - 1; level >= 0; level--) {
        size_t parents = 0;
        for (size_t k = 0; k < count; k++) {
            uint32_t parent = dirty[k] >> 1;
            if (parents == 0 || dirty[parents - 1] != parent) dirty[parents++] = parent;
        }
        count = parents;
        const uint8_t *children = tree->hashes[level + 1];
        uint8_t *hashes = tree->hashes[level];
        size_t jobs = 0;
        for (size_t k = 0; k < count; k++) {
            uint32_t node = dirty[k];
            uint64_t left = count_at(tree, level + 1, 2 * node), right = count_at(tree, level + 1, 2 * node + 1);
            tree->counts[level][node] = (uint32_t)(left + right);
            if (left + right == 0) {
                memset(hashes + 32 * (size_t)node, 0, 32);
            } else if (left + right == 1) {
                memcpy(hashes + 32 * (size_t)node, children + 32 * (2 * (size_t)node + (left ? 0 : 1)), 32);
            } else {
                memcpy(tree->batch_in[jobs], children + 64 * (size_t)node, 64);
                tree->batch_index[jobs++] = node;
                if (jobs == BATCH_HASHES_MAX) {
                    flush_nodes(tree, level, jobs);
                    jobs = 0;
                }
            }
        }
        if (jobs) flush_nodes(tree, level, jobs);
    }
}

static void free_levels(uint8_t **hashes, uint32_t **counts, int bits) {
    for (int d = 0; d <= bits; d++) {
        free(hashes[d]);
        hashes[d] = NULL;
    }
    for (int d = 0; d < bits; d++) {
        free(counts[d]);
        counts[d] = NULL;
    }
}

static int alloc_levels(uint8_t **hashes, uint32_t **counts, int bits) {
    for (int d = 0; d <= bits; d++) {
        hashes[d] = calloc((size_t)1 << d, 32);
        if (d < bits) counts[d] = calloc((size_t)1 << d, sizeof(uint32_t));
        if (hashes[d] == NULL || (d < bits && counts[d] == NULL)) {
            /* Levels above d are NULL: free_levels only frees what exists. */
            free_levels(hashes, counts, d < bits ? d + 1 : bits);
            return -1;
        }
    }
    return 0;
}

ledger_state_tree *ledger_state_tree_new(int bucket_bits) {
    if (bucket_bits != LEDGER_STATE_BUCKET_BITS_ADAPTIVE && (bucket_bits < 0 || bucket_bits > LEDGER_STATE_BUCKET_BITS_MAX))
        return NULL;
    ledger_state_tree *tree = calloc(1, sizeof *tree);
    if (tree == NULL) return NULL;
    tree->adaptive = bucket_bits == LEDGER_STATE_BUCKET_BITS_ADAPTIVE;
    tree->bits = tree->adaptive ? BUCKET_BITS_ADAPTIVE_MIN : bucket_bits;
    context_key_words(CONTEXT_STATE_LEAF, tree->leaf_key);
    context_key_words(CONTEXT_STATE_NODE, tree->node_key);
    tree->buckets = calloc((size_t)1 << tree->bits, sizeof(bucket));
    tree->batch_in = malloc(BATCH_HASHES_MAX * sizeof *tree->batch_in);
    tree->batch_out = malloc(BATCH_HASHES_MAX * sizeof *tree->batch_out);
    tree->batch_index = malloc(BATCH_HASHES_MAX * sizeof *tree->batch_index);
    if (tree->buckets == NULL || tree->batch_in == NULL || tree->batch_out == NULL || tree->batch_index == NULL ||
        alloc_levels(tree->hashes, tree->counts, tree->bits) != 0) {
        free(tree->buckets);
        free(tree->batch_in);
        free(tree->batch_out);
        free(tree->batch_index);
        free(tree);
        return NULL;
    }
    return tree;
}

static void free_buckets(bucket *buckets, size_t count) {
    for (size_t i = 0; i < count; i++) free(buckets[i].items);
    free(buckets);
}

void ledger_state_tree_free(ledger_state_tree *tree) {
    if (tree == NULL) return;
    free_buckets(tree->buckets, (size_t)1 << tree->bits);
    free_levels(tree->hashes, tree->counts, tree->bits);
    free(tree->batch_in);
    free(tree->batch_out);
    free(tree->batch_index);
    free(tree);
}

size_t ledger_state_tree_count(const ledger_state_tree *tree) { return tree->count; }

int ledger_state_tree_bucket_bits(const ledger_state_tree *tree) { return tree->bits; }

int ledger_state_tree_get(const ledger_state_tree *tree, const uint8_t key[32], uint8_t value[32]) {
    const bucket *b = &tree->buckets[bucket_of(key, tree->bits)];
    int found;
    uint32_t at = bucket_search(b, key, &found);
    if (found) memcpy(value, b->items[at].value, 32);
    return found;
}

static int bucket_insert(bucket *b, uint32_t at, const uint8_t *key, const uint8_t *value) {
    if (b->count == b->capacity) {
        size_t capacity = b->capacity < 2 ? 2 : (size_t)b->capacity + b->capacity / 2;
        if (capacity > UINT32_MAX) capacity = UINT32_MAX;
        if (capacity <= b->count) return -1;
        entry *items = realloc(b->items, capacity * sizeof(entry));
        if (items == NULL) return -1;
        b->items = items;
        b->capacity = (uint32_t)capacity;
    }
    memmove(&b->items[at + 1], &b->items[at], (size_t)(b->count - at) * sizeof(entry));
    memcpy(b->items[at].key, key, 32);
    memcpy(b->items[at].value, value, 32);
    b->count++;
    return 0;
}

static void bucket_remove(bucket *b, uint32_t at) {
    memmove(&b->items[at], &b->items[at + 1], (size_t)(b->count - at - 1) * sizeof(entry));
    b->count--;
}

/* Re-buckets every entry under `bits` bits and recomputes every hash. On no memory the tree is
 * left as it was (and still right). */
static int rebuild(ledger_state_tree *tree, int bits) {
    size_t bucket_count = (size_t)1 << bits;
    uint8_t *hashes[LEDGER_STATE_BUCKET_BITS_MAX + 1] = {0};
    uint32_t *counts[LEDGER_STATE_BUCKET_BITS_MAX] = {0};
    bucket *buckets = calloc(bucket_count, sizeof(bucket));
    size_t filled_max = tree->count < bucket_count ? tree->count : bucket_count;
    uint32_t *filled = malloc((filled_max ? filled_max : 1) * sizeof(uint32_t));
    if (buckets == NULL || filled == NULL || alloc_levels(hashes, counts, bits) != 0) {
        free(buckets);
        free(filled);
        return -1;
    }
    size_t filled_count = 0;
    size_t old_count = (size_t)1 << tree->bits;
    for (size_t i = 0; i < old_count; i++) {
        const bucket *old = &tree->buckets[i];
        uint32_t k = 0;
        while (k < old->count) {
            uint32_t target = bucket_of(old->items[k].key, bits), end = k + 1;
            while (end < old->count && bucket_of(old->items[end].key, bits) == target) end++;
            bucket *b = &buckets[target];
            b->items = malloc((size_t)(end - k) * sizeof(entry));
            if (b->items == NULL) {
                free_buckets(buckets, bucket_count);
                free_levels(hashes, counts, bits);
                free(filled);
                return -1;
            }
            memcpy(b->items, &old->items[k], (size_t)(end - k) * sizeof(entry));
            b->count = b->capacity = end - k;
            filled[filled_count++] = target;
            k = end;
        }
    }
    free_buckets(tree->buckets, old_count);
    free_levels(tree->hashes, tree->counts, tree->bits);
    tree->buckets = buckets;
    memcpy(tree->hashes, hashes, sizeof hashes);
    memcpy(tree->counts, counts, sizeof counts);
    tree->bits = bits;
    /* Old buckets are visited in key order, so `filled` is sorted and distinct. */
    recompute(tree, filled, filled_count);
    free(filled);
    return 0;
}

/* Deepens the buckets of an adaptive tree that would pass its mean fill with `entries`; 1 when it
 * rebuilt. */
static int maybe_grow(ledger_state_tree *tree, size_t entries) {
    if (!tree->adaptive) return 0;
    int bits = tree->bits;
    while (bits < LEDGER_STATE_BUCKET_BITS_MAX && entries > ((size_t)BUCKET_FILL_MEAN_MAX << bits)) bits++;
    if (bits == tree->bits) return 0;
    return rebuild(tree, bits) == 0;
}

/* Undo items [0, count) backwards; the buckets touched go to dirty[0 .. count). */
static int apply_undo(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *before, const uint8_t *present,
                      size_t count, uint32_t *dirty) {
    int status = LEDGER_STATE_OK;
    for (size_t n = count; n-- > 0;) {
        const uint8_t *key = keys + 32 * n;
        uint32_t index = bucket_of(key, tree->bits);
        bucket *b = &tree->buckets[index];
        int found;
        uint32_t at = bucket_search(b, key, &found);
        dirty[n] = index;
        if (present[n]) {
            if (found) {
                memcpy(b->items[at].value, before + 32 * n, 32);
            } else if (tree->count >= LEDGER_STATE_ENTRIES_MAX || bucket_insert(b, at, key, before + 32 * n) != 0) {
                status = LEDGER_STATE_NO_MEMORY;
            } else {
                tree->count++;
            }
        } else if (found) {
            bucket_remove(b, at);
            tree->count--;
        } else if (status == LEDGER_STATE_OK) {
            status = LEDGER_STATE_MISSING;
        }
    }
    return status;
}

int ledger_state_tree_update(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *values, size_t count,
                             uint8_t *before, uint8_t *present) {
    if (count == 0) return LEDGER_STATE_OK;
    if (count > LEDGER_STATE_ENTRIES_MAX - tree->count) return LEDGER_STATE_TOO_MANY;
    uint32_t *dirty = malloc(count * sizeof(uint32_t));   /* count < 2^32: no overflow */
    if (dirty == NULL) return LEDGER_STATE_NO_MEMORY;
    /* A batch large for the tree (a genesis, a first import) deepens the buckets before it is
     * inserted, which keeps each sorted insert short; if every item is new the tree would pass its
     * fill. A failed rebuild leaves the tree as it was, only slower. */
    maybe_grow(tree, tree->count + count);
    for (size_t n = 0; n < count; n++) {
        const uint8_t *key = keys + 32 * n;
        uint32_t index = bucket_of(key, tree->bits);
        bucket *b = &tree->buckets[index];
        int found;
        uint32_t at = bucket_search(b, key, &found);
        dirty[n] = index;
        if (found) {
            memcpy(before + 32 * n, b->items[at].value, 32);
            present[n] = 1;
            memcpy(b->items[at].value, values + 32 * n, 32);
        } else {
            memset(before + 32 * n, 0, 32);
            present[n] = 0;
            if (bucket_insert(b, at, key, values + 32 * n) != 0) {
                /* Put items [0, n) back; the cached hashes were never touched, so they still hold. */
                apply_undo(tree, keys, before, present, n, dirty);
                free(dirty);
                return LEDGER_STATE_NO_MEMORY;
            }
            tree->count++;
        }
    }
    if (!maybe_grow(tree, tree->count)) recompute(tree, dirty, sort_unique(dirty, count));
    free(dirty);
    return LEDGER_STATE_OK;
}

int ledger_state_tree_revert(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *before,
                             const uint8_t *present, size_t count) {
    if (count == 0) return LEDGER_STATE_OK;
    if (count > SIZE_MAX / sizeof(uint32_t)) return LEDGER_STATE_NO_MEMORY;
    uint32_t *dirty = malloc(count * sizeof(uint32_t));
    if (dirty == NULL) return LEDGER_STATE_NO_MEMORY;
    int status = apply_undo(tree, keys, before, present, count, dirty);
    recompute(tree, dirty, sort_unique(dirty, count));
    free(dirty);
    return status;
}

void ledger_state_tree_root(const ledger_state_tree *tree, uint8_t root[32]) { memcpy(root, tree->hashes[0], 32); }

void ledger_state_tree_path(const ledger_state_tree *tree, const uint8_t key[32], uint8_t (*siblings)[32],
                            size_t *depth, int *other_found, uint8_t other[64]) {
    int bits = tree->bits;
    uint32_t index = bucket_of(key, bits);
    *other_found = 0;
    for (int d = 0; d < bits; d++) {
        uint32_t node = index >> (bits - d);
        uint32_t below = count_at(tree, d, node);
        if (below <= 1) {
            *depth = (size_t)d;
            if (below == 1) {
                /* Follow the one entry down to its bucket. */
                for (int e = d; e < bits; e++) node = count_at(tree, e + 1, 2 * node) ? 2 * node : 2 * node + 1;
                const entry *single = &tree->buckets[node].items[0];
                if (memcmp(single->key, key, 32) != 0) {
                    memcpy(other, single, 64);
                    *other_found = 1;
                }
            }
            return;
        }
        uint32_t sibling = (index >> (bits - d - 1)) ^ 1;
        memcpy(siblings[d], tree->hashes[d + 1] + 32 * (size_t)sibling, 32);
    }
    const bucket *b = &tree->buckets[index];
    size_t lo = 0, hi = b->count, d = (size_t)bits;
    while (hi - lo > 1) {
        size_t mid = split(b->items, lo, hi, (unsigned)d);
        if (bit_at(key, (unsigned)d)) {
            subtree_root(tree, b->items, lo, mid, (unsigned)d + 1, NULL, siblings[d]);
            lo = mid;
        } else {
            subtree_root(tree, b->items, mid, hi, (unsigned)d + 1, NULL, siblings[d]);
            hi = mid;
        }
        d++;
    }
    *depth = d;
    if (hi - lo == 1 && memcmp(b->items[lo].key, key, 32) != 0) {
        memcpy(other, &b->items[lo], 64);
        *other_found = 1;
    }
}

void ledger_state_account_hashes(const uint8_t *packed, size_t count, uint8_t *key_hashes, uint8_t *value_hashes) {
    uint32_t key_words[8], value_words[8];
    context_key_words(CONTEXT_STATE_KEY, key_words);
    context_key_words(CONTEXT_STATE_VALUE, value_words);
    uint8_t key_input[33], value_input[17];
    key_input[0] = 0x00;
    value_input[0] = 0x00;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *account = packed + 48 * i;
        memcpy(key_input + 1, account, 32);
        memcpy(value_input + 1, account + 32, 16);   /* balance, nonce: already u64 big-endian */
        hash_block(key_words, key_input, sizeof key_input, key_hashes + 32 * i);
        hash_block(value_words, value_input, sizeof value_input, value_hashes + 32 * i);
    }
}

void ledger_state_record_hashes(const uint8_t *const *owners, const uint8_t *const *keys, const size_t *key_lengths,
                                const uint8_t *const *values, const size_t *value_lengths, size_t count,
                                uint8_t *key_hashes, uint8_t *value_hashes) {
    uint8_t key_key[32], value_key[32];
    static const uint8_t tag = 0x01;
    ledger_blake3_derive_key(CONTEXT_STATE_KEY, strlen(CONTEXT_STATE_KEY), "", 0, key_key, 32);
    ledger_blake3_derive_key(CONTEXT_STATE_VALUE, strlen(CONTEXT_STATE_VALUE), "", 0, value_key, 32);
    ledger_blake3_hasher hasher;
    for (size_t i = 0; i < count; i++) {
        ledger_blake3_hasher_init_keyed(&hasher, key_key);
        ledger_blake3_hasher_update(&hasher, &tag, 1);
        ledger_blake3_hasher_update(&hasher, owners[i], 32);
        ledger_blake3_hasher_update(&hasher, keys[i], key_lengths[i]);
        ledger_blake3_hasher_finalize(&hasher, key_hashes + 32 * i, 32);
        ledger_blake3_hasher_init_keyed(&hasher, value_key);
        ledger_blake3_hasher_update(&hasher, &tag, 1);
        ledger_blake3_hasher_update(&hasher, values[i], value_lengths[i]);
        ledger_blake3_hasher_finalize(&hasher, value_hashes + 32 * i, 32);
    }
}
