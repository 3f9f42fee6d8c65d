/* The hash of 32-byte keys (public keys, txids) for the open-addressing tables of block_rules.c
 * (the account cache, the per-block txid table) and ed25519_batch.c (keys grouped in a batch).
 * Keys can be chosen by anyone, so the hash is keyed: random odd multipliers drawn once per
 * process, so that nobody can choose keys that all land in one slot (a quadratic slowdown).
 * Specification: none beyond docs/FORMAT.md (not consensus: no hash here is ever stored or sent).
 * Method: multilinear hashing modulo 2^64 with the slot taken from the high bits, the
 * multiply-shift scheme of Dietzfelbinger, Hagerup, Katajainen and Penttonen (J. Algorithms, 1997). */
#ifndef LEDGER_KEY_HASH_H
#define LEDGER_KEY_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Draws the multipliers, once per process (pthread_once); call it before the first
 * ledger_key_hash of a table, since a table's slots are only valid under one set of multipliers. */
void ledger_key_hash_init(void);

/* Its high 32 bits are the well-mixed ones (every key bit reaches them); the low bits are not. */
uint64_t ledger_key_hash(const uint8_t key[32]);

/* The first slot of key in a table of mask + 1 slots (a power of two, at most 2^32). */
static inline size_t ledger_key_slot(const uint8_t key[32], size_t mask) {
    return (size_t)(ledger_key_hash(key) >> 32) & mask;
}

#endif
