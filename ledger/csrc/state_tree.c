/* The version-2 state map (docs/FORMAT.md §7.2; twin: ledger/state_tree.py): a sparse Merkle tree
 * over 256-bit key hashes whose leaves sit at their shortest unique prefix (the binary form of the
 * Jellyfish Merkle tree, Gao et al. 2021).
 *
 * Layout, and why:
 *  - Every entry lives in memory (key hash || value hash: 64 bytes, which is also exactly the
 *    leaf's hash input). Entries are grouped in 2^B buckets by the top B bits of the key hash,
 *    each bucket a sorted array. Key hashes are BLAKE3 outputs, so buckets fill evenly.
 *  - The hashes of the tree's nodes at depths 0 … B are cached in one array per level (2^d
 *    nodes of 32 bytes, calloc'd so untouched pages cost nothing), with each node's fill: none,
 *    one or several entries below it (2 bits a node: 30 MiB less than 32-bit counts at 10M
 *    entries; no measurable change in speed). §7.2's rule "a subtree of one
 *    entry is that entry's leaf" is applied above depth B from the fills (none: EMPTY, one: the
 *    one child's hash, which is then a leaf, several: node(left, right)). Level B holds the
 *    bucket roots.
 *  - Below depth B nothing is cached: a bucket's root is recomputed from its sorted entries when
 *    the bucket changes. With B adaptive (the smallest B, from 8 up to 24, keeping at most 4
 *    entries a bucket on average) a changed bucket costs a few hashes. B grows by rebuilding the
 *    buckets and every cached hash (about 2 hashes an entry, paid once each time the map
 *    doubles), before a batch that would pass the fill is inserted.
 *  - A batch update first reserves room for its new keys (so applying it cannot fail half-way),
 *    applies the items in order, then recomputes: the leaves of the changed buckets with the
 *    multi-input BLAKE3 (blake3_many.c: eight one-block compressions per AVX2 stream), the nodes
 *    inside those buckets planned first and hashed in rounds (a round: the nodes whose children
 *    are known), then the changed nodes above depth B level by level, deepest first, each level
 *    as one batch. Every input is one 64-byte block, so batching costs a copy of 64 bytes a hash.
 *    A level's array is 64-byte aligned: a node's two children are one cache line.
 *  - Measured (bench/state_tree_bench.py, CPU time on 2 shared cores): a batch of 2,000 changes
 *    costs 0.9 … 1.5 µs an entry at 1M entries and 1.15 … 1.3 µs at 10M (0.17 … 0.27 of batch
 *    verification of 1,000 Ed25519 signatures on one thread, in the same run); about a third is
 *    hashing, most of the rest cache misses in buckets and levels (software prefetching did not
 *    help measurably). A bucket fill of 2 instead of 4 was 14 % faster at 1M, no faster at 10M,
 *    for 256 MiB more there. Memory: about 120 bytes an entry at 1M, 133 at 10M (64 of them the
 *    entry itself); a bucket that grows after a bulk load gets half again its size.
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
    uint8_t *fills[LEDGER_STATE_BUCKET_BITS_MAX];       /* level d < bits: FILL_* of each node, 2 bits */
    uint8_t (*batch_in)[64];
    uint32_t (*batch_out)[8];
    uint32_t *batch_index;
    /* The plan of a chunk's bucket nodes (hash_buckets), grown on demand and kept. */
    struct node_job_s *jobs;
    size_t job_count, job_capacity;
    uint8_t (*slots)[32];
    uint32_t *job_order;
    size_t slot_capacity;
    uint32_t *bucket_slot;    /* BATCH_HASHES_MAX: a chunk has at most that many non-empty buckets */
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

enum { FILL_NONE = 0, FILL_ONE = 1, FILL_SEVERAL = 2 };

static inline unsigned fill_at(const ledger_state_tree *tree, int level, uint32_t index) {
    if (level == tree->bits) {
        uint32_t count = tree->buckets[index].count;
        return count < 2 ? count : FILL_SEVERAL;
    }
    return (tree->fills[level][index >> 2] >> (2 * (index & 3))) & 3u;
}

static inline void set_fill(ledger_state_tree *tree, int level, uint32_t index, unsigned fill) {
    uint8_t *byte = &tree->fills[level][index >> 2];
    unsigned shift = 2 * (index & 3);
    *byte = (uint8_t)((*byte & ~(3u << shift)) | fill << shift);
}

static inline uint64_t load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* memcmp's order on 32-byte keys, inline: most pairs in a bucket differ in their first 8 bytes,
 * and memcmp as a call was a tenth of an update. */
static inline int key_compare(const uint8_t *a, const uint8_t *b) {
    for (int i = 0; i < 32; i += 8) {
        uint64_t x = load_be64(a + i), y = load_be64(b + i);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* Index of the first entry >= key in the bucket; *found when it equals key. */
static uint32_t bucket_search(const bucket *b, const uint8_t *key, int *found) {
    uint32_t lo = 0, hi = b->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_compare(b->items[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < b->count && key_compare(b->items[lo].key, key) == 0;
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

/* Sorts bucket indices (below 2^24: LEDGER_STATE_BUCKET_BITS_MAX) with three 8-bit radix passes
 * through scratch (count more); qsort's calls to a comparator were a tenth of an update. */
static void sort_indices(uint32_t *values, uint32_t *scratch, size_t count) {
    uint32_t *from = values, *to = scratch;
    for (int shift = 0; shift < 24; shift += 8) {
        size_t starts[257] = {0};
        for (size_t i = 0; i < count; i++) starts[((from[i] >> shift) & 0xff) + 1]++;
        for (int d = 1; d <= 256; d++) starts[d] += starts[d - 1];
        for (size_t i = 0; i < count; i++) to[starts[(from[i] >> shift) & 0xff]++] = from[i];
        uint32_t *swap = from;
        from = to;
        to = swap;
    }
    memcpy(values, from, count * sizeof *values);   /* three passes end in scratch */
}

static size_t sort_unique(uint32_t *values, uint32_t *scratch, size_t count) {
    if (count == 0) return 0;
    sort_indices(values, scratch, count);
    size_t kept = 1;
    for (size_t i = 1; i < count; i++)
        if (values[i] != values[kept - 1]) values[kept++] = values[i];
    return kept;
}

/* The nodes inside a chunk of buckets, planned before any is hashed so that each round (the nodes
 * whose children are all known) is hashed as one batch: bucket nodes were a third of an update's
 * hashing when each was one portable compression. Slots of plan->slots: 0 is EMPTY, 1 … m the
 * chunk's leaves, m + 1 + j the output of job j. */
typedef struct node_job_s {
    uint32_t left, right;   /* slots */
    uint32_t round;         /* 1 + the larger round of its children (leaves and EMPTY: 0) */
} node_job;

/* Plans root(items[lo, hi), depth); *slot and *round receive where its hash will be. -1: no
 * memory for the job list. */
static int plan_subtree(ledger_state_tree *tree, const entry *items, size_t lo, size_t hi, unsigned depth,
                        size_t leaf_slot, size_t leaf_count, uint32_t *slot, uint32_t *round) {
    if (hi == lo) {
        *slot = 0;
        *round = 0;
        return 0;
    }
    if (hi - lo == 1) {
        *slot = (uint32_t)(leaf_slot + lo);
        *round = 0;
        return 0;
    }
    size_t mid = split(items, lo, hi, depth);
    uint32_t left, right, left_round, right_round;
    if (plan_subtree(tree, items, lo, mid, depth + 1, leaf_slot, leaf_count, &left, &left_round) != 0 ||
        plan_subtree(tree, items, mid, hi, depth + 1, leaf_slot, leaf_count, &right, &right_round) != 0)
        return -1;
    if (tree->job_count == tree->job_capacity) {
        size_t capacity = tree->job_capacity ? 2 * tree->job_capacity : 1024;
        /* Slots are 32 bytes; job and slot counts stay far below 2^32 (a chunk has at most
         * BATCH_HASHES_MAX leaves, so at most 256 of them jobs a leaf). */
        node_job *jobs = realloc(tree->jobs, capacity * sizeof *jobs);
        if (jobs == NULL) return -1;
        tree->jobs = jobs;
        tree->job_capacity = capacity;
    }
    node_job *job = &tree->jobs[tree->job_count];
    job->left = left;
    job->right = right;
    job->round = (left_round > right_round ? left_round : right_round) + 1;
    *slot = (uint32_t)(1 + leaf_count + tree->job_count);
    *round = job->round;
    tree->job_count++;
    return 0;
}

/* The roots of buckets dirty[first, end), which hold leaf_count <= BATCH_HASHES_MAX entries. */
static void hash_buckets(ledger_state_tree *tree, const uint32_t *dirty, size_t first, size_t end, size_t leaf_count) {
    size_t filled = 0;
    for (size_t k = first; k < end; k++) {
        const bucket *b = &tree->buckets[dirty[k]];
        if (b->count) memcpy(tree->batch_in[filled], b->items, (size_t)b->count * 64);
        filled += b->count;
    }
    hash_batch(tree->leaf_key, tree, leaf_count);
    /* Plan every bucket's nodes; a bucket's root slot goes to bucket_slot[k - first]. */
    tree->job_count = 0;
    int planned = 1;
    filled = 0;
    for (size_t k = first; k < end && planned; k++) {
        const bucket *b = &tree->buckets[dirty[k]];
        uint32_t round;
        planned = plan_subtree(tree, b->items, 0, b->count, (unsigned)tree->bits, 1 + filled, leaf_count,
                               &tree->bucket_slot[k - first], &round) == 0;
        filled += b->count;
    }
    size_t slots = 1 + leaf_count + tree->job_count;
    if (planned && slots > tree->slot_capacity) {
        size_t capacity = slots > 2 * tree->slot_capacity ? slots : 2 * tree->slot_capacity;
        uint8_t (*grown)[32] = realloc(tree->slots, capacity * 32);
        uint32_t *order = realloc(tree->job_order, capacity * sizeof(uint32_t));
        if (grown != NULL) tree->slots = grown;
        if (order != NULL) tree->job_order = order;
        if (grown != NULL && order != NULL)
            tree->slot_capacity = capacity;
        else
            planned = 0;
    }
    if (!planned) {
        /* No memory for the plan: each bucket on its own, one compression a node. */
        filled = 0;
        for (size_t k = first; k < end; k++) {
            const bucket *b = &tree->buckets[dirty[k]];
            subtree_root(tree, b->items, 0, b->count, (unsigned)tree->bits,
                         (const uint32_t(*)[8])(tree->batch_out + filled),
                         tree->hashes[tree->bits] + 32 * (size_t)dirty[k]);
            filled += b->count;
        }
        return;
    }
    memset(tree->slots[0], 0, 32);
    for (size_t i = 0; i < leaf_count; i++) words_to_bytes(tree->batch_out[i], tree->slots[1 + i]);
    /* Jobs in round order (a counting sort: rounds are 1 … 256). */
    size_t starts[LEDGER_STATE_PATH_MAX + 2] = {0};
    for (size_t j = 0; j < tree->job_count; j++) starts[tree->jobs[j].round + 1]++;
    for (size_t r = 1; r <= LEDGER_STATE_PATH_MAX + 1; r++) starts[r] += starts[r - 1];
    for (size_t j = 0; j < tree->job_count; j++) tree->job_order[starts[tree->jobs[j].round]++] = (uint32_t)j;
    /* starts[r] is now the end of round r; jobs of one round depend only on earlier rounds. */
    size_t done = 0;
    for (size_t r = 1; r <= LEDGER_STATE_PATH_MAX && done < tree->job_count; r++) {
        while (done < starts[r]) {
            size_t batch = starts[r] - done;
            if (batch > BATCH_HASHES_MAX) batch = BATCH_HASHES_MAX;
            for (size_t i = 0; i < batch; i++) {
                const node_job *job = &tree->jobs[tree->job_order[done + i]];
                memcpy(tree->batch_in[i], tree->slots[job->left], 32);
                memcpy(tree->batch_in[i] + 32, tree->slots[job->right], 32);
            }
            hash_batch(tree->node_key, tree, batch);
            for (size_t i = 0; i < batch; i++)
                words_to_bytes(tree->batch_out[i], tree->slots[1 + leaf_count + tree->job_order[done + i]]);
            done += batch;
        }
    }
    for (size_t k = first; k < end; k++)
        memcpy(tree->hashes[tree->bits] + 32 * (size_t)dirty[k], tree->slots[tree->bucket_slot[k - first]], 32);
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
        while (end < count && end - i < BATCH_HASHES_MAX && leaves + tree->buckets[dirty[end]].count <= BATCH_HASHES_MAX)
            leaves += tree->buckets[dirty[end++]].count;
        hash_buckets(tree, dirty, i, end, leaves);
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
            unsigned left = fill_at(tree, level + 1, 2 * node), right = fill_at(tree, level + 1, 2 * node + 1);
            unsigned fill = left + right < 2 ? left + right : FILL_SEVERAL;
            set_fill(tree, level, node, fill);
            if (fill == FILL_NONE) {
                memset(hashes + 32 * (size_t)node, 0, 32);
            } else if (fill == FILL_ONE) {
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

/* A level's hashes start on a 64-byte boundary, so that the two children of a node share one
 * cache line; calloc keeps untouched pages unmapped. The offset from the allocation sits in the
 * byte before the level (the offset is 1 … 64). */
static uint8_t *level_alloc(size_t nodes) {
    uint8_t *raw = calloc(nodes * 32 + 64, 1);
    if (raw == NULL) return NULL;
    size_t offset = 64 - (size_t)((uintptr_t)raw % 64);
    raw[offset - 1] = (uint8_t)offset;
    return raw + offset;
}

static void level_free(uint8_t *level) {
    if (level != NULL) free(level - level[-1]);
}

static void free_levels(uint8_t **hashes, uint8_t **fills, int bits) {
    for (int d = 0; d <= bits; d++) {
        level_free(hashes[d]);
        hashes[d] = NULL;
    }
    for (int d = 0; d < bits; d++) {
        free(fills[d]);
        fills[d] = NULL;
    }
}

static int alloc_levels(uint8_t **hashes, uint8_t **fills, int bits) {
    for (int d = 0; d <= bits; d++) {
        hashes[d] = level_alloc((size_t)1 << d);
        if (d < bits) fills[d] = calloc(((size_t)1 << d) / 4 + 1, 1);
        if (hashes[d] == NULL || (d < bits && fills[d] == NULL)) {
            /* Levels above d are NULL: free_levels only frees what exists. */
            free_levels(hashes, fills, d < bits ? d + 1 : bits);
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
    tree->bucket_slot = malloc(BATCH_HASHES_MAX * sizeof *tree->bucket_slot);
    if (tree->buckets == NULL || tree->batch_in == NULL || tree->batch_out == NULL || tree->batch_index == NULL ||
        tree->bucket_slot == NULL ||
        alloc_levels(tree->hashes, tree->fills, tree->bits) != 0) {
        free(tree->buckets);
        free(tree->batch_in);
        free(tree->batch_out);
        free(tree->batch_index);
        free(tree->bucket_slot);
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
    free_levels(tree->hashes, tree->fills, tree->bits);
    free(tree->batch_in);
    free(tree->batch_out);
    free(tree->batch_index);
    free(tree->bucket_slot);
    free(tree->jobs);
    free(tree->slots);
    free(tree->job_order);
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

static int bucket_reserve(bucket *b, size_t more) {
    size_t need = (size_t)b->count + more;
    if (need <= b->capacity) return 0;
    if (need > UINT32_MAX) return -1;
    /* A bucket filled by a bulk load gets exactly its entries; one that grows a few at a time (a
     * block's new keys) gets half again, so that later blocks rarely reallocate it. */
    if (more < b->count) need += need / 2;
    if (need > UINT32_MAX) need = UINT32_MAX;
    entry *items = realloc(b->items, need * sizeof(entry));
    if (items == NULL) return -1;
    b->items = items;
    b->capacity = (uint32_t)need;
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
    uint8_t *fills[LEDGER_STATE_BUCKET_BITS_MAX] = {0};
    bucket *buckets = calloc(bucket_count, sizeof(bucket));
    size_t filled_max = tree->count < bucket_count ? tree->count : bucket_count;
    uint32_t *filled = malloc((filled_max ? filled_max : 1) * sizeof(uint32_t));
    if (buckets == NULL || filled == NULL || alloc_levels(hashes, fills, bits) != 0) {
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
                free_levels(hashes, fills, bits);
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
    free_levels(tree->hashes, tree->fills, tree->bits);
    tree->buckets = buckets;
    memcpy(tree->hashes, hashes, sizeof hashes);
    memcpy(tree->fills, fills, sizeof fills);
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
    if (count > SIZE_MAX / (2 * sizeof(uint32_t))) return LEDGER_STATE_NO_MEMORY;
    uint32_t *dirty = malloc(2 * count * sizeof(uint32_t));   /* and as much sort scratch */
    if (dirty == NULL) return LEDGER_STATE_NO_MEMORY;
    /* A batch large for the tree (a genesis, a first import) deepens the buckets before it is
     * inserted, which keeps each sorted insert short; if every item is new the tree would pass its
     * fill. A failed rebuild leaves the tree as it was, only slower. */
    maybe_grow(tree, tree->count + count);
    /* Room for the new keys first, one exact allocation a bucket: the inserts below then never
     * fail, and a bulk load leaves neither slack nor freed smaller arrays behind (those stay
     * resident: they were 40 % of the memory of a 1M-entry load grown one insert at a time).
     * A key repeated in the batch is counted twice; a failure only leaves larger capacities. */
    size_t fresh = 0;
    for (size_t n = 0; n < count; n++) {
        const uint8_t *key = keys + 32 * n;
        uint32_t index = bucket_of(key, tree->bits);
        int found;
        bucket_search(&tree->buckets[index], key, &found);
        if (!found) dirty[fresh++] = index;
    }
    sort_indices(dirty, dirty + count, fresh);
    for (size_t run = 0; run < fresh;) {
        size_t end = run + 1;
        while (end < fresh && dirty[end] == dirty[run]) end++;
        if (bucket_reserve(&tree->buckets[dirty[run]], end - run) != 0) {
            free(dirty);
            return LEDGER_STATE_NO_MEMORY;
        }
        run = end;
    }
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
                /* Not reached after the reservation above; kept so that a failure can never
                 * leave a half-applied batch. Put items [0, n) back; the cached hashes were never
                 * touched, so they still hold. */
                apply_undo(tree, keys, before, present, n, dirty);
                free(dirty);
                return LEDGER_STATE_NO_MEMORY;
            }
            tree->count++;
        }
    }
    if (!maybe_grow(tree, tree->count)) recompute(tree, dirty, sort_unique(dirty, dirty + count, count));
    free(dirty);
    return LEDGER_STATE_OK;
}

int ledger_state_tree_revert(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *before,
                             const uint8_t *present, size_t count) {
    if (count == 0) return LEDGER_STATE_OK;
    if (count > SIZE_MAX / (2 * sizeof(uint32_t))) return LEDGER_STATE_NO_MEMORY;
    uint32_t *dirty = malloc(2 * count * sizeof(uint32_t));
    if (dirty == NULL) return LEDGER_STATE_NO_MEMORY;
    int status = apply_undo(tree, keys, before, present, count, dirty);
    recompute(tree, dirty, sort_unique(dirty, dirty + count, count));
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
        unsigned fill = fill_at(tree, d, node);
        if (fill != FILL_SEVERAL) {
            *depth = (size_t)d;
            if (fill == FILL_ONE) {
                /* Follow the one entry down to its bucket. */
                for (int e = d; e < bits; e++) node = fill_at(tree, e + 1, 2 * node) ? 2 * node : 2 * node + 1;
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
