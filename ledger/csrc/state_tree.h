/* The version-2 state map in memory: key hash -> value hash, its root and its paths.
 * Specification: docs/FORMAT.md §7.2 (a sparse Merkle tree with leaves at their shortest unique
 * prefix, the binary shape of the Jellyfish Merkle tree of Gao et al. 2021). The readable twin is
 * ledger/state_tree.py; the layout and its reasons are in state_tree.c's header.
 *
 * One tree is used by one thread at a time (the binding refuses a second caller); trees share no
 * state, so different trees may be used on different threads at once. */
#ifndef LEDGER_STATE_TREE_H
#define LEDGER_STATE_TREE_H

#include <stddef.h>
#include <stdint.h>

/* Bucket bits of a tree that chooses them by itself (adaptive), and the range of fixed ones. */
#define LEDGER_STATE_BUCKET_BITS_ADAPTIVE (-1)
#define LEDGER_STATE_BUCKET_BITS_MAX 24
/* At most this many entries (counts are 32-bit). */
#define LEDGER_STATE_ENTRIES_MAX ((size_t)UINT32_MAX - 1)
/* A path has at most 256 siblings (§7.2: D <= 256). */
#define LEDGER_STATE_PATH_MAX 256

enum {
    LEDGER_STATE_OK = 0,
    LEDGER_STATE_NO_MEMORY = -1,   /* nothing changed (update), or see ledger_state_tree_revert */
    LEDGER_STATE_TOO_MANY = -2,    /* the tree would pass LEDGER_STATE_ENTRIES_MAX; nothing changed */
    LEDGER_STATE_MISSING = -3,     /* revert: a key to remove was absent (skipped; the rest applied) */
};

typedef struct ledger_state_tree ledger_state_tree;

/* A new empty tree; bucket_bits 0..LEDGER_STATE_BUCKET_BITS_MAX, or ..._ADAPTIVE. NULL: no memory
 * or bad bits. */
ledger_state_tree *ledger_state_tree_new(int bucket_bits);
void ledger_state_tree_free(ledger_state_tree *tree);

size_t ledger_state_tree_count(const ledger_state_tree *tree);
int ledger_state_tree_bucket_bits(const ledger_state_tree *tree);

/* 1 and the value hash when key is in the map, else 0. */
int ledger_state_tree_get(const ledger_state_tree *tree, const uint8_t key[32], uint8_t value[32]);

/* Sets keys[i] (32 bytes each) to values[i] in order (a later item for one key wins) and
 * recomputes the root. For each item, before + 32 i receives the value hash it replaced and
 * present[i] 1, or zeros and 0 when the key was absent: the undo record that
 * ledger_state_tree_revert takes. On an error nothing changed. */
int ledger_state_tree_update(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *values, size_t count,
                             uint8_t *before, uint8_t *present);

/* Applies an undo record backwards: items with present[i] get value before + 32 i back, the others
 * are removed. After NO_MEMORY (only possible when an undo record puts back a key that is absent,
 * which no record made by update does) or MISSING, the tree is consistent (root matches entries)
 * but only partly reverted. */
int ledger_state_tree_revert(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *before,
                             const uint8_t *present, size_t count);

void ledger_state_tree_root(const ledger_state_tree *tree, uint8_t root[32]);

/* The path to key (§7.2): siblings[0 .. *depth) from the root down (EMPTY as 32 zero bytes) and
 * the terminal's other entry: *other_found = 1 and other = key hash || value hash when the walk
 * ends at the leaf of another key. siblings has room for LEDGER_STATE_PATH_MAX. */
void ledger_state_tree_path(const ledger_state_tree *tree, const uint8_t key[32], uint8_t (*siblings)[32],
                            size_t *depth, int *other_found, uint8_t other[64]);

/* Key and value hashes of accounts packed as key(32) || balance u64 big-endian || nonce u64
 * big-endian (48 bytes each: the store's and block_rules.c's accounts_out layout). */
void ledger_state_account_hashes(const uint8_t *packed, size_t count, uint8_t *key_hashes, uint8_t *value_hashes);

/* Key and value hashes of records: owners[i] (32 bytes), keys[i] (key_lengths[i] bytes),
 * values[i] (value_lengths[i] bytes). */
void ledger_state_record_hashes(const uint8_t *const *owners, const uint8_t *const *keys, const size_t *key_lengths,
                                const uint8_t *const *values, const size_t *value_lengths, size_t count,
                                uint8_t *key_hashes, uint8_t *value_hashes);

#endif
