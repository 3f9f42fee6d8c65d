/* Block transaction rules, a block's sorted changes and its state commitment, in C without the GIL
 * (docs/FORMAT.md §5, §7, §8), over an in-memory cache of accounts. The readable twin is
 * ledger/state.py apply_transactions + ledger/validate.py _first_stateless_error + state_commitment:
 * the same rules in the same order, the same verdict, index and numbers for every block. */
#ifndef LEDGER_BLOCK_RULES_H
#define LEDGER_BLOCK_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "block_decoder.h"

/* One account: its committed-or-pending value (the state after the last accepted block). */
typedef struct {
    uint8_t key[32];
    uint64_t balance, nonce;
    uint64_t group;          /* the commit group that last changed it; 0 = as read from the store */
    uint64_t block_balance, block_nonce;   /* tentative values while a block is being checked */
    uint32_t stamp;          /* == cache->stamp: block_* hold this block's value */
    uint8_t used;
    uint8_t small_order;     /* 0 unknown, 1 not small order, 2 small order */
} ledger_account;

typedef struct {
    ledger_account *slots;
    size_t capacity;         /* a power of two; load kept at most 1/2 */
    size_t count;
    uint32_t stamp;
    uint64_t group;          /* the group blocks are now accepted into */
    uint8_t *dirty;          /* keys first changed in `group`, 32 bytes each */
    size_t dirty_count, dirty_capacity;
} ledger_account_cache;

int ledger_cache_init(ledger_account_cache *cache, size_t capacity);
void ledger_cache_free(ledger_account_cache *cache);
ledger_account *ledger_cache_find(const ledger_account_cache *cache, const uint8_t key[32]);
/* The entry of `key`, inserted as (0, 0, group 0) when absent (*inserted = 1). NULL: out of memory. */
ledger_account *ledger_cache_insert(ledger_account_cache *cache, const uint8_t key[32], int *inserted);
/* Keep every entry of a group after `committed_group` and at most `keep` entries in all. -1: no memory. */
int ledger_cache_evict(ledger_account_cache *cache, uint64_t committed_group, size_t keep);
/* The entries first changed in the current group, sorted by key, packed as key || balance || nonce
 * (big-endian u64s, the store's account encoding): 48 bytes each into `out` (dirty_count * 48). */
void ledger_cache_pack_dirty(ledger_account_cache *cache, uint8_t *out);

/* Every entry, sorted by key, packed as ledger_cache_pack_dirty does (count * 48 bytes). -1: no memory. */
int ledger_cache_pack_all(const ledger_account_cache *cache, uint8_t *out);

/* Insert every account key the block names (senders, recipients) that the cache lacks; their keys
 * are written sorted into `missing` (32 bytes each, room for 2 * count) and counted. -1: no memory. */
int ledger_block_load_keys(ledger_account_cache *cache, const uint8_t *data, const ledger_block_view *block,
                           const ledger_tx_view *txs, uint8_t *missing, size_t *missing_count);

enum {
    LEDGER_RULE_OK = 0,
    LEDGER_RULE_BAD_CHAIN_ID,
    LEDGER_RULE_RECORD_KEY_TOO_LARGE,
    LEDGER_RULE_RECORD_VALUE_TOO_LARGE,
    LEDGER_RULE_SMALL_ORDER_KEY,
    LEDGER_RULE_DUPLICATE_IN_BLOCK,
    LEDGER_RULE_BAD_TX_SIGNATURE,
    LEDGER_RULE_BAD_NONCE,          /* a = nonce, b = previous nonce */
    LEDGER_RULE_STALE_NONCE,        /* the same, with nonce <= previous: duplicate-tx if the id is stored */
    LEDGER_RULE_OVERDRAFT,          /* a = amount, b = balance */
    LEDGER_RULE_NOT_ISSUER,
    LEDGER_RULE_OVERFLOW,
    LEDGER_RULE_BAD_STATE_COMMITMENT,
    LEDGER_RULE_NO_MEMORY,
};

typedef struct {
    int rule;
    int64_t index;           /* -1 for a block-level verdict */
    uint64_t a, b;
} ledger_rule_result;

typedef struct {
    const uint8_t *chain_id;           /* 32 bytes */
    const uint8_t *issuers;            /* sorted, 32 bytes each */
    size_t issuer_count;
    const uint8_t *state_key;          /* KEY_STATE, 32 bytes */
} ledger_chain_rules;

/* Check the block's transactions (every key loaded by ledger_block_load_keys first), then compute
 * its state commitment over `previous` at `height` (version 1). With `previous` NULL (version 2,
 * whose header carries a state root instead) no commitment is computed and, on success, nothing
 * changes in the cache: `accounts_out` lists the block's values for the caller, who checks the
 * state root over them and then applies them with ledger_cache_accept (or, on a mismatch, drops
 * them: the next block's stamp makes them stale). `verdicts[i]` is 1 when transaction i's
 * signature holds. On success (rule OK) the cache holds the new state (changed entries marked with
 * the cache's group), `commitment` the computed commitment; when `expected` is not NULL and differs,
 * the verdict is BAD_STATE_COMMITMENT and nothing changes. `accounts_out` (room for 2 * count + 1
 * entries of 48 bytes) receives the block's sorted changed accounts, *accounts_count their number;
 * `record_indexes` (room for count) the indexes of its record transactions, in order. */
void ledger_block_rules(ledger_account_cache *cache, const ledger_chain_rules *chain, const uint8_t *data,
                        const ledger_block_view *block, const ledger_tx_view *txs, const uint8_t *txids,
                        const uint8_t *verdicts, uint64_t height, const uint8_t previous[32],
                        const uint8_t *expected, uint8_t commitment[32], uint8_t *accounts_out,
                        size_t *accounts_count, uint32_t *record_indexes, size_t *record_count,
                        ledger_rule_result *result);

/* Apply a block's changed accounts as ledger_block_rules listed them with `previous` NULL (48 bytes
 * each; every key is in the cache): their values become the cache's, marked with the current
 * group. -1: no memory, -2: a key is not in the cache; nothing changed either way. */
int ledger_cache_accept(ledger_account_cache *cache, const uint8_t *accounts, size_t count);

#endif
