/* Strict single-pass decoder of the canonical block encoding (docs/FORMAT.md §1, §5, §6).
 * The native twin of ledger.codec._Reader: same verdicts, codes, transaction indexes and
 * messages on every input. It only reads; it allocates nothing and never needs the GIL. */
#ifndef LEDGER_BLOCK_DECODER_H
#define LEDGER_BLOCK_DECODER_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_TRANSACTIONS_PER_BLOCK_MAX 65536u
#define LEDGER_BLOCK_BYTES_MAX (16u * 1024u * 1024u)
/* The chain format versions (docs/FORMAT.md §4, §6): the genesis version is the chain's, and
 * every header of the chain carries it. 0 as the expected version accepts either (a header read
 * outside a chain). */
#define LEDGER_FORMAT_VERSION_1 1u
#define LEDGER_FORMAT_VERSION_2 2u
#define LEDGER_HEADER_FIELDS_1 10u
#define LEDGER_HEADER_FIELDS_2 11u
/* The smallest transaction (a record with empty key and value) is 142 bytes, so a block of n
 * bytes holds fewer than n / 128 + 1 transactions: callers size their view arrays with this. */
/* Over LEDGER_BLOCK_BYTES_MAX the decoder stops at its first check, so callers allocate nothing
 * in proportion to an oversized input (it was about 0.75 bytes per input byte). */
#define LEDGER_TRANSACTIONS_CAPACITY(size) ((size) > LEDGER_BLOCK_BYTES_MAX ? 1u : (size) / 128u + 1u)

enum { LEDGER_KIND_TRANSFER = 0, LEDGER_KIND_MINT = 1, LEDGER_KIND_RECORD = 2 };

typedef struct {
    uint32_t start, end;          /* the transaction's bytes: data[start:end] */
    uint32_t chain_id, sender;    /* offsets of 32-byte fields */
    uint64_t nonce;
    uint32_t kind;
    uint32_t to;                  /* transfer, mint: offset of the 32-byte recipient */
    uint64_t amount;
    uint32_t key, key_length;     /* record */
    uint32_t value, value_length;
    uint32_t signature;           /* offset of the 64-byte signature */
} ledger_tx_view;

typedef struct {
    uint32_t header_start, header_end;
    uint64_t version, height, time_ms, tx_count;
    uint32_t chain_id, previous_hash, tx_root, state_commitment, proposer, signature;
    uint32_t history_root;        /* version 2: offset of the 32-byte history root; 0 in version 1 */
    uint32_t count;               /* transactions carried */
} ledger_block_view;

typedef struct {
    const char *code;             /* a stable code of ledger/errors.py */
    const char *message;          /* the same sentence the Python twin gives */
    int64_t index;                /* transaction index, or -1 */
} ledger_decode_error;

/* 0 on success; otherwise -1 with *error filled in. `version` is the chain's format version (1 or
 * 2), or 0 to accept a header of either; any other value decodes nothing (bad-version). */
int ledger_block_decode(const uint8_t *data, size_t size, uint64_t version, ledger_block_view *block,
                        ledger_tx_view *txs, size_t txs_capacity, ledger_decode_error *error);

/* Transaction ids (count * 32 bytes), the block hash and the Merkle root of the ids. */
void ledger_block_hashes(const uint8_t *data, const ledger_block_view *block, const ledger_tx_view *txs,
                         const uint8_t tx_key[32], const uint8_t header_key[32], const uint8_t leaf_key[32],
                         const uint8_t node_key[32], uint8_t *txids, uint8_t header_hash[32], uint8_t root[32]);

/* Only the transaction ids (count * 32 bytes): what the txid index needs of a stored block. */
void ledger_block_txids(const uint8_t *data, const ledger_block_view *block, const ledger_tx_view *txs,
                        const uint8_t tx_key[32], uint8_t *txids);

#endif
