/* Strict single-pass decoder of the canonical block encoding (docs/FORMAT.md §1, §5, §6, §10; no
 * other specification); see block_decoder.h.
 * Each reader function mirrors the method of the same name in ledger.codec._Reader. */
#include "block_decoder.h"

#include <setjmp.h>
#include <string.h>

#include "blake3.h"
#include "merkle.h"

static const char BAD_ENCODING[] = "bad-encoding";
static const char BAD_VERSION[] = "bad-version";
static const char LIMIT_EXCEEDED[] = "limit-exceeded";
static const char UNKNOWN_TX_KIND[] = "unknown-tx-kind";

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    int64_t index;
    ledger_decode_error *error;
    jmp_buf fail;   /* decoding stops at the first error: one longjmp back to ledger_block_decode */
} reader;

static void fail(reader *r, const char *code, const char *message) {
    r->error->code = code;
    r->error->message = message;
    r->error->index = r->index;
    longjmp(r->fail, 1);
}

static size_t take(reader *r, size_t n) {
    if (n > r->size - r->pos) fail(r, BAD_ENCODING, "the input ends early");
    size_t at = r->pos;
    r->pos += n;
    return at;
}

static unsigned byte(reader *r) { return r->data[take(r, 1)]; }

static uint64_t big_endian(reader *r, size_t n) {
    const uint8_t *p = r->data + take(r, n);
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++) value = (value << 8) | p[i];
    return value;
}

static uint64_t array(reader *r, const char *expected_message) {
    unsigned marker = byte(r);
    if (marker >= 0x90 && marker <= 0x9f) return marker & 0x0f;
    if (marker == 0xdc) {
        uint64_t length = big_endian(r, 2);
        if (length < 16) fail(r, BAD_ENCODING, "non-minimal array length");
        return length;
    }
    if (marker == 0xdd) {
        uint64_t length = big_endian(r, 4);
        if (length < 0x10000) fail(r, BAD_ENCODING, "non-minimal array length");
        return length;
    }
    fail(r, BAD_ENCODING, expected_message);
    return 0;
}

static void fields(reader *r, uint64_t count, const char *expected_message, const char *count_message) {
    if (array(r, expected_message) != count) fail(r, BAD_ENCODING, count_message);
}

static uint64_t uint(reader *r, const char *type_message) {
    unsigned marker = byte(r);
    if (marker <= 0x7f) return marker;
    if (marker >= 0xcc && marker <= 0xcf) {
        size_t n = (size_t)1 << (marker - 0xcc);
        uint64_t value = big_endian(r, n);
        uint64_t smallest = n == 1 ? 0x80 : (uint64_t)1 << (4 * n);
        if (value < smallest) fail(r, BAD_ENCODING, "non-minimal integer");
        return value;
    }
    fail(r, BAD_ENCODING, type_message);
    return 0;
}

static uint64_t bin_length(reader *r, const char *type_message) {
    unsigned marker = byte(r);
    if (marker == 0xc4) return big_endian(r, 1);
    if (marker == 0xc5) {
        uint64_t length = big_endian(r, 2);
        if (length < 0x100) fail(r, BAD_ENCODING, "non-minimal binary length");
        return length;
    }
    if (marker == 0xc6) {
        uint64_t length = big_endian(r, 4);
        if (length < 0x10000) fail(r, BAD_ENCODING, "non-minimal binary length");
        return length;
    }
    fail(r, BAD_ENCODING, type_message);
    return 0;
}

static uint32_t bin_exact(reader *r, size_t n, const char *type_message, const char *size_message) {
    if (bin_length(r, type_message) != n) fail(r, BAD_ENCODING, size_message);
    return (uint32_t)take(r, n);
}

/* Binary of any length the input holds: record sizes are a transaction rule checked at the
 * transaction's index in validation (docs/FORMAT.md §8), not a decoding error. */
static uint32_t bin_any(reader *r, uint32_t *length, const char *type_message) {
    uint64_t n = bin_length(r, type_message);
    size_t at = take(r, (size_t)n);   /* fails first when n is past the input, so n fits in 32 bits */
    *length = (uint32_t)n;
    return (uint32_t)at;
}

/* The messages below are the Python twin's f-strings, spelled out. */
static void transaction(reader *r, ledger_tx_view *tx) {
    memset(tx, 0, sizeof *tx);
    tx->start = (uint32_t)r->pos;
    fields(r, 6, "expected an array for the transaction", "the transaction must be an array of 6 fields");
    tx->chain_id = bin_exact(r, 32, "the transaction chain id must be binary", "the transaction chain id must be 32 bytes");
    tx->sender = bin_exact(r, 32, "the sender must be binary", "the sender must be 32 bytes");
    tx->nonce = uint(r, "the nonce must be an unsigned integer");
    uint64_t kind = uint(r, "the kind must be an unsigned integer");
    /* The kind chooses the body's schema, so it is judged where it is read. */
    if (kind != LEDGER_KIND_TRANSFER && kind != LEDGER_KIND_MINT && kind != LEDGER_KIND_RECORD)
        fail(r, UNKNOWN_TX_KIND, "unknown transaction kind");
    fields(r, 2, "expected an array for the transaction body", "the transaction body must be an array of 2 fields");
    if (kind == LEDGER_KIND_TRANSFER || kind == LEDGER_KIND_MINT) {
        tx->to = bin_exact(r, 32, "the recipient must be binary", "the recipient must be 32 bytes");
        tx->amount = uint(r, "the amount must be an unsigned integer");
    } else {
        tx->key = bin_any(r, &tx->key_length, "the record key must be binary");
        tx->value = bin_any(r, &tx->value_length, "the record value must be binary");
    }
    tx->kind = (uint32_t)kind;
    tx->signature = bin_exact(r, 64, "the signature must be binary", "the signature must be 64 bytes");
    tx->end = (uint32_t)r->pos;
}

/* The array length is read first (10 or 11), then the version, which must be the chain's
 * (`expected`; 0 accepts 1 or 2) and chooses the schema, then the length must be the version's
 * (docs/FORMAT.md §6, §8 step 2). */
static void header(reader *r, ledger_block_view *b, uint64_t expected) {
    b->header_start = (uint32_t)r->pos;
    uint64_t count = array(r, "expected an array for the block header");
    if (count != LEDGER_HEADER_FIELDS_1 && count != LEDGER_HEADER_FIELDS_2)
        fail(r, BAD_ENCODING, "the block header must be an array of 10 (version 1) or 11 (version 2) fields");
    b->version = uint(r, "the header version must be an unsigned integer");
    if (expected == 0) {
        if (b->version != LEDGER_FORMAT_VERSION_1 && b->version != LEDGER_FORMAT_VERSION_2)
            fail(r, BAD_VERSION, "unsupported block format version");
    } else if (b->version != expected) {
        fail(r, BAD_VERSION, expected == LEDGER_FORMAT_VERSION_1 ? "the block format version is not the chain's (1)"
                                                                 : "the block format version is not the chain's (2)");
    }
    int two = b->version == LEDGER_FORMAT_VERSION_2;
    if (count != (two ? LEDGER_HEADER_FIELDS_2 : LEDGER_HEADER_FIELDS_1))
        fail(r, BAD_ENCODING, two ? "a version-2 block header must be an array of 11 fields"
                                  : "a version-1 block header must be an array of 10 fields");
    b->chain_id = bin_exact(r, 32, "the header chain id must be binary", "the header chain id must be 32 bytes");
    b->height = uint(r, "the height must be an unsigned integer");   /* 0 decodes: it is bad-height in validation */
    b->previous_hash = bin_exact(r, 32, "the previous hash must be binary", "the previous hash must be 32 bytes");
    b->time_ms = uint(r, "the time must be an unsigned integer");
    b->tx_count = uint(r, "the transaction count must be an unsigned integer");
    if (b->tx_count > LEDGER_TRANSACTIONS_PER_BLOCK_MAX) fail(r, LIMIT_EXCEEDED, "too many transactions for one block");
    b->tx_root = bin_exact(r, 32, "the transaction root must be binary", "the transaction root must be 32 bytes");
    if (two) {
        b->state_commitment = bin_exact(r, 32, "the state root must be binary", "the state root must be 32 bytes");
        b->history_root = bin_exact(r, 32, "the history root must be binary", "the history root must be 32 bytes");
    } else {
        b->state_commitment = bin_exact(r, 32, "the state commitment must be binary",
                                        "the state commitment must be 32 bytes");
    }
    b->proposer = bin_exact(r, 32, "the proposer must be binary", "the proposer must be 32 bytes");
    b->signature = bin_exact(r, 64, "the header signature must be binary", "the header signature must be 64 bytes");
    b->header_end = (uint32_t)r->pos;
}

int ledger_block_decode(const uint8_t *data, size_t size, uint64_t version, ledger_block_view *block,
                        ledger_tx_view *txs, size_t txs_capacity, ledger_decode_error *error) {
    reader r = {.data = data, .size = size, .pos = 0, .index = -1, .error = error};
    memset(block, 0, sizeof *block);
    if (setjmp(r.fail)) return -1;
    /* The bindings refuse other versions first; this keeps the C function total on its own. */
    if (version != 0 && version != LEDGER_FORMAT_VERSION_1 && version != LEDGER_FORMAT_VERSION_2)
        fail(&r, BAD_VERSION, "unsupported chain format version");
    if (size > LEDGER_BLOCK_BYTES_MAX) fail(&r, LIMIT_EXCEEDED, "the block is over the size limit");
    fields(&r, 2, "expected an array for the block", "the block must be an array of 2 fields");
    header(&r, block, version);
    uint64_t count = array(&r, "expected an array for the block transactions");
    if (count > LEDGER_TRANSACTIONS_PER_BLOCK_MAX) fail(&r, LIMIT_EXCEEDED, "too many transactions for one block");
    for (uint64_t i = 0; i < count; i++) {
        r.index = (int64_t)i;
        /* Unreachable with a capacity of LEDGER_TRANSACTIONS_CAPACITY(size): the input would end first. */
        if (i >= txs_capacity) fail(&r, BAD_ENCODING, "the input ends early");
        transaction(&r, &txs[i]);
    }
    r.index = -1;
    if (r.pos != size) fail(&r, BAD_ENCODING, "trailing bytes after the block");
    block->count = (uint32_t)count;
    error->code = NULL;
    error->message = NULL;
    error->index = -1;
    return 0;
}

/* The unsigned form of a canonical signed array: header byte minus one, without the trailing
 * 66-byte signature field (c4 40 <64 bytes>). */
static void hash_unsigned(const uint8_t key[32], const uint8_t *signed_bytes, size_t length, uint8_t out[32]) {
    ledger_blake3_hasher hasher;
    uint8_t first = (uint8_t)(signed_bytes[0] - 1);
    ledger_blake3_hasher_init_keyed(&hasher, key);
    ledger_blake3_hasher_update(&hasher, &first, 1);
    ledger_blake3_hasher_update(&hasher, signed_bytes + 1, length - 1 - 66);
    ledger_blake3_hasher_finalize(&hasher, out, 32);
}

void ledger_block_hashes(const uint8_t *data, const ledger_block_view *block, const ledger_tx_view *txs,
                         const uint8_t tx_key[32], const uint8_t header_key[32], const uint8_t leaf_key[32],
                         const uint8_t node_key[32], uint8_t *txids, uint8_t header_hash[32], uint8_t root[32]) {
    ledger_block_txids(data, block, txs, tx_key, txids);
    hash_unsigned(header_key, data + block->header_start, block->header_end - block->header_start, header_hash);
    ledger_merkle_root_blake3(leaf_key, node_key, txids, 32, block->count, root);
}

void ledger_block_txids(const uint8_t *data, const ledger_block_view *block, const ledger_tx_view *txs,
                        const uint8_t tx_key[32], uint8_t *txids) {
    for (uint32_t i = 0; i < block->count; i++)
        hash_unsigned(tx_key, data + txs[i].start, txs[i].end - txs[i].start, txids + 32 * (size_t)i);
}
