/* Block transaction rules, sorted changes and state commitment (docs/FORMAT.md §5, §7, §8; the
 * MessagePack specification for the commitment's canonical encoding; no other specification).
 * See block_rules.h. The readable twin is ledger/state.py and ledger/validate.py. */
#include "block_rules.h"

#include <stdlib.h>
#include <string.h>

#include "blake3.h"
#include "ed25519_verify.h"
#include "key_hash.h"

#define RECORD_KEY_BYTES_MAX 64u       /* ledger/limits.py */
#define RECORD_VALUE_BYTES_MAX 4096u

int ledger_cache_init(ledger_account_cache *cache, size_t capacity) {
    size_t c = 1024;
    while (c < capacity) c <<= 1;
    ledger_key_hash_init();   /* before the first key is placed: the slots depend on the multipliers */
    memset(cache, 0, sizeof *cache);
    cache->slots = calloc(c, sizeof *cache->slots);
    if (cache->slots == NULL) return -1;
    cache->capacity = c;
    cache->group = 1;
    return 0;
}

void ledger_cache_free(ledger_account_cache *cache) {
    free(cache->slots);
    free(cache->dirty);
    memset(cache, 0, sizeof *cache);
}

ledger_account *ledger_cache_find(const ledger_account_cache *cache, const uint8_t key[32]) {
    size_t mask = cache->capacity - 1;
    for (size_t i = ledger_key_slot(key, mask);; i = (i + 1) & mask) {
        ledger_account *slot = &cache->slots[i];
        if (!slot->used) return NULL;
        if (memcmp(slot->key, key, 32) == 0) return slot;
    }
}

static ledger_account *place(ledger_account *slots, size_t capacity, const ledger_account *entry) {
    size_t mask = capacity - 1;
    size_t i = ledger_key_slot(entry->key, mask);
    while (slots[i].used) i = (i + 1) & mask;
    slots[i] = *entry;
    return &slots[i];
}

static int rehash(ledger_account_cache *cache, size_t capacity, uint64_t committed_group, size_t keep) {
    ledger_account *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL) return -1;
    size_t count = 0;
    /* Entries not yet durable first (they must stay), then clean ones while there is room. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < cache->capacity; i++) {
            const ledger_account *e = &cache->slots[i];
            if (!e->used) continue;
            int pending = e->group > committed_group;
            if (pass == 0 ? !pending : (pending || count >= keep)) continue;
            place(slots, capacity, e);
            count++;
        }
    free(cache->slots);
    cache->slots = slots;
    cache->capacity = capacity;
    cache->count = count;
    return 0;
}

ledger_account *ledger_cache_insert(ledger_account_cache *cache, const uint8_t key[32], int *inserted) {
    ledger_account *found = ledger_cache_find(cache, key);
    *inserted = 0;
    if (found != NULL) return found;
    if (2 * (cache->count + 1) > cache->capacity &&
        rehash(cache, 2 * cache->capacity, UINT64_MAX, SIZE_MAX) != 0)
        return NULL;
    ledger_account entry;
    memset(&entry, 0, sizeof entry);
    memcpy(entry.key, key, 32);
    entry.used = 1;
    cache->count++;
    *inserted = 1;
    return place(cache->slots, cache->capacity, &entry);
}

int ledger_cache_evict(ledger_account_cache *cache, uint64_t committed_group, size_t keep) {
    if (cache->count <= keep) return 0;
    return rehash(cache, cache->capacity, committed_group, keep);
}

static int compare_keys(const void *a, const void *b) { return memcmp(a, b, 32); }

static void put_u64_be(uint8_t *out, uint64_t v) {
    for (int i = 7; i >= 0; i--) { out[i] = (uint8_t)v; v >>= 8; }
}

void ledger_cache_pack_dirty(ledger_account_cache *cache, uint8_t *out) {
    qsort(cache->dirty, cache->dirty_count, 32, compare_keys);
    for (size_t i = 0; i < cache->dirty_count; i++) {
        const ledger_account *e = ledger_cache_find(cache, cache->dirty + 32 * i);
        memcpy(out + 48 * i, e->key, 32);
        put_u64_be(out + 48 * i + 32, e->balance);
        put_u64_be(out + 48 * i + 40, e->nonce);
    }
    cache->dirty_count = 0;
    cache->group++;
}

int ledger_cache_pack_all(const ledger_account_cache *cache, uint8_t *out) {
    uint8_t *keys = malloc(32 * cache->count + 1);
    if (keys == NULL) return -1;
    size_t n = 0;
    for (size_t i = 0; i < cache->capacity; i++)
        if (cache->slots[i].used) memcpy(keys + 32 * n++, cache->slots[i].key, 32);
    qsort(keys, n, 32, compare_keys);
    for (size_t i = 0; i < n; i++) {
        const ledger_account *e = ledger_cache_find(cache, keys + 32 * i);
        memcpy(out + 48 * i, e->key, 32);
        put_u64_be(out + 48 * i + 32, e->balance);
        put_u64_be(out + 48 * i + 40, e->nonce);
    }
    free(keys);
    return 0;
}

int ledger_block_load_keys(ledger_account_cache *cache, const uint8_t *data, const ledger_block_view *block,
                           const ledger_tx_view *txs, uint8_t *missing, size_t *missing_count) {
    size_t n = 0;
    int inserted;
    for (uint32_t i = 0; i < block->count; i++) {
        const ledger_tx_view *tx = &txs[i];
        if (ledger_cache_insert(cache, data + tx->sender, &inserted) == NULL) return -1;
        if (inserted) memcpy(missing + 32 * n++, data + tx->sender, 32);
        if (tx->kind == LEDGER_KIND_RECORD) continue;
        if (ledger_cache_insert(cache, data + tx->to, &inserted) == NULL) return -1;
        if (inserted) memcpy(missing + 32 * n++, data + tx->to, 32);
    }
    qsort(missing, n, 32, compare_keys);
    *missing_count = n;
    return 0;
}

/* ---- the block's working values ---- */

typedef struct {
    ledger_account_cache *cache;
    ledger_account **touched;   /* entries written by this block, in first-write order */
    size_t touched_count;
} block_state;

static uint64_t balance_of(const block_state *s, const ledger_account *e) {
    return e->stamp == s->cache->stamp ? e->block_balance : e->balance;
}

static uint64_t nonce_of(const block_state *s, const ledger_account *e) {
    return e->stamp == s->cache->stamp ? e->block_nonce : e->nonce;
}

static void write_account(block_state *s, ledger_account *e, uint64_t balance, uint64_t nonce) {
    if (e->stamp != s->cache->stamp) {
        e->stamp = s->cache->stamp;
        s->touched[s->touched_count++] = e;
    }
    e->block_balance = balance;
    e->block_nonce = nonce;
}

static int is_issuer(const ledger_chain_rules *chain, const uint8_t key[32]) {
    size_t lo = 0, hi = chain->issuer_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(chain->issuers + 32 * mid, key, 32);
        if (c == 0) return 1;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return 0;
}

static int set_result(ledger_rule_result *r, int rule, int64_t index, uint64_t a, uint64_t b) {
    r->rule = rule;
    r->index = index;
    r->a = a;
    r->b = b;
    return rule;
}

/* Rules 1-5 of FORMAT.md §8 (validate.py _first_stateless_error): the first failing index, or count. */
static size_t first_stateless_error(ledger_account_cache *cache, const ledger_chain_rules *chain, const uint8_t *data,
                                    const ledger_block_view *block, const ledger_tx_view *txs, const uint8_t *txids,
                                    const uint8_t *verdicts, ledger_rule_result *result) {
    uint32_t count = block->count;
    size_t capacity = 16;
    while (capacity < 2 * (size_t)count) capacity <<= 1;
    uint32_t *seen = calloc(capacity, sizeof *seen);   /* index + 1 of a txid seen; 0 = empty */
    if (seen == NULL) {
        set_result(result, LEDGER_RULE_NO_MEMORY, -1, 0, 0);
        return 0;
    }
    size_t mask = capacity - 1;
    size_t failed = count;
    for (uint32_t i = 0; i < count; i++) {   /* every failure sets failed and breaks */
        const ledger_tx_view *tx = &txs[i];
        if (memcmp(data + tx->chain_id, chain->chain_id, 32) != 0) {
            set_result(result, LEDGER_RULE_BAD_CHAIN_ID, i, 0, 0);
            failed = i;
            break;
        }
        if (tx->kind == LEDGER_KIND_RECORD && tx->key_length > RECORD_KEY_BYTES_MAX) {
            set_result(result, LEDGER_RULE_RECORD_KEY_TOO_LARGE, i, 0, 0);
            failed = i;
            break;
        }
        if (tx->kind == LEDGER_KIND_RECORD && tx->value_length > RECORD_VALUE_BYTES_MAX) {
            set_result(result, LEDGER_RULE_RECORD_VALUE_TOO_LARGE, i, 0, 0);
            failed = i;
            break;
        }
        ledger_account *sender = ledger_cache_find(cache, data + tx->sender);
        if (sender->small_order == 0)
            sender->small_order = ledger_ed25519_is_small_order(data + tx->sender) == 1 ? 2 : 1;
        if (sender->small_order == 2) {
            set_result(result, LEDGER_RULE_SMALL_ORDER_KEY, i, 0, 0);
            failed = i;
            break;
        }
        const uint8_t *txid = txids + 32 * (size_t)i;
        size_t slot = ledger_key_slot(txid, mask);
        int duplicate = 0;
        while (seen[slot] != 0) {
            if (memcmp(txids + 32 * (size_t)(seen[slot] - 1), txid, 32) == 0) { duplicate = 1; break; }
            slot = (slot + 1) & mask;
        }
        if (duplicate) {
            set_result(result, LEDGER_RULE_DUPLICATE_IN_BLOCK, i, 0, 0);
            failed = i;
            break;
        }
        seen[slot] = i + 1;
        if (verdicts[i] != 1) {
            set_result(result, LEDGER_RULE_BAD_TX_SIGNATURE, i, 0, 0);
            failed = i;
            break;
        }
    }
    free(seen);
    return failed;
}

/* Rules 6-8 (state.py apply_transactions) over transactions [0, limit). */
static int apply_state_rules(block_state *s, const ledger_chain_rules *chain, const uint8_t *data,
                             const ledger_tx_view *txs, size_t limit, ledger_rule_result *result) {
    for (size_t i = 0; i < limit; i++) {
        const ledger_tx_view *tx = &txs[i];
        ledger_account *sender = ledger_cache_find(s->cache, data + tx->sender);
        uint64_t balance = balance_of(s, sender), nonce = nonce_of(s, sender);
        if (nonce == UINT64_MAX || tx->nonce != nonce + 1)
            return set_result(result, tx->nonce <= nonce ? LEDGER_RULE_STALE_NONCE : LEDGER_RULE_BAD_NONCE,
                              (int64_t)i, tx->nonce, nonce);
        if (tx->kind == LEDGER_KIND_TRANSFER) {
            if (tx->amount > balance) return set_result(result, LEDGER_RULE_OVERDRAFT, (int64_t)i, tx->amount, balance);
            if (memcmp(data + tx->to, data + tx->sender, 32) == 0) {
                write_account(s, sender, balance, tx->nonce);
            } else {
                ledger_account *recipient = ledger_cache_find(s->cache, data + tx->to);
                uint64_t to_balance = balance_of(s, recipient);
                if (tx->amount > UINT64_MAX - to_balance) return set_result(result, LEDGER_RULE_OVERFLOW, (int64_t)i, 0, 0);
                write_account(s, sender, balance - tx->amount, tx->nonce);
                write_account(s, recipient, to_balance + tx->amount, nonce_of(s, recipient));
            }
        } else if (tx->kind == LEDGER_KIND_MINT) {
            if (!is_issuer(chain, data + tx->sender)) return set_result(result, LEDGER_RULE_NOT_ISSUER, (int64_t)i, 0, 0);
            write_account(s, sender, balance, tx->nonce);
            ledger_account *recipient = ledger_cache_find(s->cache, data + tx->to);
            uint64_t to_balance = balance_of(s, recipient);   /* after the sender's write: minting to oneself */
            if (tx->amount > UINT64_MAX - to_balance) return set_result(result, LEDGER_RULE_OVERFLOW, (int64_t)i, 0, 0);
            write_account(s, recipient, to_balance + tx->amount, nonce_of(s, recipient));
        } else {
            write_account(s, sender, balance, tx->nonce);
        }
    }
    return LEDGER_RULE_OK;
}

/* ---- the commitment's canonical MessagePack (state.py state_commitment, msgpack use_bin_type) ---- */

static uint8_t *mp_uint(uint8_t *p, uint64_t v) {
    if (v < 0x80) { *p++ = (uint8_t)v; return p; }
    if (v <= 0xff) { *p++ = 0xcc; *p++ = (uint8_t)v; return p; }
    if (v <= 0xffff) { *p++ = 0xcd; *p++ = (uint8_t)(v >> 8); *p++ = (uint8_t)v; return p; }
    if (v <= 0xffffffffu) { *p++ = 0xce; for (int s = 24; s >= 0; s -= 8) *p++ = (uint8_t)(v >> s); return p; }
    *p++ = 0xcf;
    for (int s = 56; s >= 0; s -= 8) *p++ = (uint8_t)(v >> s);
    return p;
}

static uint8_t *mp_array(uint8_t *p, uint64_t n) {
    if (n < 16) { *p++ = (uint8_t)(0x90 | n); return p; }
    if (n <= 0xffff) { *p++ = 0xdc; *p++ = (uint8_t)(n >> 8); *p++ = (uint8_t)n; return p; }
    *p++ = 0xdd;
    for (int s = 24; s >= 0; s -= 8) *p++ = (uint8_t)(n >> s);
    return p;
}

static uint8_t *mp_bin(uint8_t *p, const uint8_t *bytes, uint32_t n) {
    if (n <= 0xff) { *p++ = 0xc4; *p++ = (uint8_t)n; }
    else if (n <= 0xffff) { *p++ = 0xc5; *p++ = (uint8_t)(n >> 8); *p++ = (uint8_t)n; }
    else { *p++ = 0xc6; for (int s = 24; s >= 0; s -= 8) *p++ = (uint8_t)(n >> s); }
    memcpy(p, bytes, n);
    return p + n;
}

static int compare_entries(const void *a, const void *b) {
    return memcmp((*(ledger_account *const *)a)->key, (*(ledger_account *const *)b)->key, 32);
}

typedef struct { const uint8_t *data; const ledger_tx_view *tx; uint32_t index; } record_ref;

/* (owner, key) as Python compares tuples of bytes, then index: the last of each run is the latest. */
static int compare_records(const void *a, const void *b) {
    const record_ref *x = a, *y = b;
    int c = memcmp(x->data + x->tx->sender, y->data + y->tx->sender, 32);
    if (c != 0) return c;
    uint32_t n = x->tx->key_length < y->tx->key_length ? x->tx->key_length : y->tx->key_length;
    c = memcmp(x->data + x->tx->key, y->data + y->tx->key, n);
    if (c != 0) return c;
    if (x->tx->key_length != y->tx->key_length) return x->tx->key_length < y->tx->key_length ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Room in the dirty list for `more` keys. -1: no memory. */
static int reserve_dirty(ledger_account_cache *cache, size_t more) {
    if (cache->dirty_capacity >= cache->dirty_count + more) return 0;
    size_t grown = cache->dirty_capacity ? 2 * cache->dirty_capacity : 4096;
    while (grown < cache->dirty_count + more) grown *= 2;
    uint8_t *bigger = realloc(cache->dirty, 32 * grown);
    if (bigger == NULL) return -1;
    cache->dirty = bigger;
    cache->dirty_capacity = grown;
    return 0;
}

/* The entry changed in the current group: listed once per group (room reserved by the caller). */
static void mark_dirty(ledger_account_cache *cache, ledger_account *e) {
    if (e->group != cache->group) {
        e->group = cache->group;
        memcpy(cache->dirty + 32 * cache->dirty_count++, e->key, 32);
    }
}

static uint64_t get_u64_be(const uint8_t *in) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | in[i];
    return v;
}

int ledger_cache_accept(ledger_account_cache *cache, const uint8_t *accounts, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (ledger_cache_find(cache, accounts + 48 * i) == NULL) return -2;
    if (reserve_dirty(cache, count) != 0) return -1;
    for (size_t i = 0; i < count; i++) {
        ledger_account *e = ledger_cache_find(cache, accounts + 48 * i);
        e->balance = get_u64_be(accounts + 48 * i + 32);
        e->nonce = get_u64_be(accounts + 48 * i + 40);
        mark_dirty(cache, e);
    }
    return 0;
}

void ledger_block_rules(ledger_account_cache *cache, const ledger_chain_rules *chain, const uint8_t *data,
                        const ledger_block_view *block, const ledger_tx_view *txs, const uint8_t *txids,
                        const uint8_t *verdicts, uint64_t height, const uint8_t previous[32],
                        const uint8_t *expected, uint8_t commitment[32], uint8_t *accounts_out,
                        size_t *accounts_count, uint32_t *record_indexes, size_t *record_count,
                        ledger_rule_result *result) {
    uint32_t count = block->count;
    block_state s = {.cache = cache, .touched = NULL, .touched_count = 0};
    record_ref *records = NULL;
    uint8_t *buffer = NULL;
    *accounts_count = 0;
    *record_count = 0;
    set_result(result, LEDGER_RULE_OK, -1, 0, 0);
    size_t limit = first_stateless_error(cache, chain, data, block, txs, txids, verdicts, result);
    if (result->rule == LEDGER_RULE_NO_MEMORY) return;
    ledger_rule_result stateless = *result;
    s.touched = malloc((2 * (size_t)count + 1) * sizeof *s.touched);
    records = malloc(((size_t)count + 1) * sizeof *records);
    if (s.touched == NULL || records == NULL) { set_result(result, LEDGER_RULE_NO_MEMORY, -1, 0, 0); goto done; }
    if (++cache->stamp == 0) {   /* wrapped: forget every old stamp */
        for (size_t i = 0; i < cache->capacity; i++) cache->slots[i].stamp = 0;
        cache->stamp = 1;
    }
    /* State rules run over the transactions before the first stateless failure, so whichever
     * failure comes first in the block is the one reported. */
    if (apply_state_rules(&s, chain, data, txs, limit, result) != LEDGER_RULE_OK) goto done;
    if (stateless.rule != LEDGER_RULE_OK) { *result = stateless; goto done; }

    qsort(s.touched, s.touched_count, sizeof *s.touched, compare_entries);
    size_t n_records = 0;
    size_t record_bytes = 0;
    for (uint32_t i = 0; i < count; i++)
        if (txs[i].kind == LEDGER_KIND_RECORD) {
            record_indexes[n_records] = i;
            records[n_records++] = (record_ref){data, &txs[i], i};
            record_bytes += 32 + 16 + txs[i].key_length + txs[i].value_length;
        }
    *record_count = n_records;
    if (previous == NULL) {
        /* Version 2: no commitment. The block's values are listed but not applied: the caller
         * checks the state root over them, then applies them (ledger_cache_accept) or drops them. */
        memset(commitment, 0, 32);
        for (size_t i = 0; i < s.touched_count; i++) {
            const ledger_account *e = s.touched[i];
            memcpy(accounts_out + 48 * i, e->key, 32);
            put_u64_be(accounts_out + 48 * i + 32, e->block_balance);
            put_u64_be(accounts_out + 48 * i + 40, e->block_nonce);
        }
        *accounts_count = s.touched_count;
        goto done;
    }
    qsort(records, n_records, sizeof *records, compare_records);
    size_t latest = 0;   /* records kept (the last of each (owner, key)), compacted in place */
    for (size_t i = 0; i < n_records; i++) {
        if (i + 1 < n_records && compare_records(&(record_ref){data, records[i].tx, 0},
                                                 &(record_ref){data, records[i + 1].tx, 0}) == 0)
            continue;
        records[latest++] = records[i];
    }
    buffer = malloc(32 + 16 + 60 * s.touched_count + 16 * latest + record_bytes);
    if (buffer == NULL) { set_result(result, LEDGER_RULE_NO_MEMORY, -1, 0, 0); goto done; }
    uint8_t *p = buffer;
    memcpy(p, previous, 32);
    p += 32;
    p = mp_array(p, 2);
    p = mp_uint(p, height);
    p = mp_array(p, s.touched_count + latest);
    for (size_t i = 0; i < s.touched_count; i++) {
        const ledger_account *e = s.touched[i];
        p = mp_array(p, 4);
        *p++ = 0;
        p = mp_bin(p, e->key, 32);
        p = mp_uint(p, e->block_balance);
        p = mp_uint(p, e->block_nonce);
    }
    for (size_t i = 0; i < latest; i++) {
        const ledger_tx_view *tx = records[i].tx;
        p = mp_array(p, 4);
        *p++ = 1;
        p = mp_bin(p, data + tx->sender, 32);
        p = mp_bin(p, data + tx->key, tx->key_length);
        p = mp_bin(p, data + tx->value, tx->value_length);
    }
    ledger_blake3_hasher hasher;
    ledger_blake3_hasher_init_keyed(&hasher, chain->state_key);
    ledger_blake3_hasher_update(&hasher, buffer, (size_t)(p - buffer));
    ledger_blake3_hasher_finalize(&hasher, commitment, 32);
    if (expected != NULL && memcmp(commitment, expected, 32) != 0) {
        set_result(result, LEDGER_RULE_BAD_STATE_COMMITMENT, -1, 0, 0);
        goto done;
    }
    if (reserve_dirty(cache, s.touched_count) != 0) { set_result(result, LEDGER_RULE_NO_MEMORY, -1, 0, 0); goto done; }
    /* Accepted: the block's values become the cache's, and its changed accounts are listed. */
    for (size_t i = 0; i < s.touched_count; i++) {
        ledger_account *e = s.touched[i];
        e->balance = e->block_balance;
        e->nonce = e->block_nonce;
        memcpy(accounts_out + 48 * i, e->key, 32);
        put_u64_be(accounts_out + 48 * i + 32, e->balance);
        put_u64_be(accounts_out + 48 * i + 40, e->nonce);
        mark_dirty(cache, e);
    }
    *accounts_count = s.touched_count;
done:
    if (result->rule != LEDGER_RULE_OK) *record_count = 0;
    /* A rejected block leaves the cache's values as they were: only block_* fields were written,
     * and the next block's stamp makes them stale. */
    free(s.touched);
    free(records);
    free(buffer);
}
