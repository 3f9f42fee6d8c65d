# Bindings of csrc/block_decoder.c: strict block decoding and hashing without the GIL.
# The Python twin is ledger.codec.decode_block_python. Specification: docs/FORMAT.md §1, §5, §6, §10.

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free, qsort
from libc.string cimport memcmp
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING

cdef extern from "block_decoder.h":
    ctypedef struct ledger_tx_view:
        uint32_t start, end, chain_id, sender
        uint64_t nonce
        uint32_t kind, to
        uint64_t amount
        uint32_t key, key_length, value, value_length, signature
    ctypedef struct ledger_block_view:
        uint32_t header_start, header_end
        uint64_t version, height, time_ms, tx_count
        uint32_t chain_id, previous_hash, tx_root, state_commitment, proposer, signature
        uint32_t history_root
        uint32_t count
    ctypedef struct ledger_decode_error:
        const char *code
        const char *message
        int64_t index
    size_t LEDGER_TRANSACTIONS_CAPACITY(size_t size)
    int ledger_block_decode(const uint8_t *data, size_t size, uint64_t version, ledger_block_view *block,
                            ledger_tx_view *txs, size_t txs_capacity, ledger_decode_error *error) nogil
    void ledger_block_hashes(const uint8_t *data, const ledger_block_view *block, const ledger_tx_view *txs,
                             const uint8_t *tx_key, const uint8_t *header_key, const uint8_t *leaf_key,
                             const uint8_t *node_key, uint8_t *txids, uint8_t *header_hash, uint8_t *root) nogil
    void ledger_block_txids(const uint8_t *data, const ledger_block_view *block, const ledger_tx_view *txs,
                            const uint8_t *tx_key, uint8_t *txids) nogil


cdef uint64_t _chain_version(version) except? 0:
    """The expected format version as the C decoder takes it: None (any known version) is 0."""
    if version is None:
        return 0
    if version != 1 and version != 2:
        raise ValueError(f"unknown chain format version {version!r}")
    return version


cdef object _header_object(model, bytes data, const ledger_block_view *view, const uint8_t *header_hash):
    """The BlockHeader the Python twin returns for the header the decoder read."""
    history_root = data[view.history_root:view.history_root + 32] if view.version == 2 else b""
    return model.BlockHeader(
        view.version, data[view.chain_id:view.chain_id + 32], view.height,
        data[view.previous_hash:view.previous_hash + 32], view.time_ms, view.tx_count,
        data[view.tx_root:view.tx_root + 32], data[view.state_commitment:view.state_commitment + 32],
        data[view.proposer:view.proposer + 32], data[view.signature:view.signature + 64],
        header_hash[:32], history_root)


def block_decode(bytes data, bytes tx_key, bytes header_key, bytes leaf_key, bytes node_key, model, version=None):
    """Decode and hash a canonical block of the chain's format `version` (None: either). `model`
    supplies the classes and the error type (Block, BlockHeader, Transaction, Transfer, Mint,
    Record, LedgerError) so that this returns
    exactly what the Python twin returns: (Block, Merkle root of the transaction ids, signature
    records). The records are what ledger.crypto.verify_records takes, 128 bytes each, header
    first: key (32) || signature (64) || signed message (the 32-byte block hash or txid)."""
    cdef const uint8_t *raw = data
    cdef size_t size = len(data)
    cdef size_t capacity = LEDGER_TRANSACTIONS_CAPACITY(size)
    cdef ledger_block_view block
    cdef ledger_decode_error error
    cdef ledger_tx_view *txs
    cdef uint8_t *txids
    cdef uint8_t header_hash[32]
    cdef uint8_t root[32]
    cdef int status
    cdef uint32_t i
    cdef ledger_tx_view *tx
    cdef uint8_t *out
    if len(tx_key) != 32 or len(header_key) != 32 or len(leaf_key) != 32 or len(node_key) != 32:
        raise ValueError("hash keys are 32 bytes")
    cdef const uint8_t *k_tx = tx_key
    cdef const uint8_t *k_header = header_key
    cdef const uint8_t *k_leaf = leaf_key
    cdef const uint8_t *k_node = node_key
    cdef uint64_t expected = _chain_version(version)
    txs = <ledger_tx_view *> malloc(capacity * sizeof(ledger_tx_view))
    txids = <uint8_t *> malloc(capacity * 32)
    if txs == NULL or txids == NULL:
        free(txs)
        free(txids)
        raise MemoryError()
    try:
        with nogil:
            status = ledger_block_decode(raw, size, expected, &block, txs, capacity, &error)
            if status == 0:
                ledger_block_hashes(raw, &block, txs, k_tx, k_header, k_leaf, k_node, txids, header_hash, root)
        if status != 0:
            raise model.LedgerError(error.code.decode("ascii"), error.message.decode("ascii"),
                                    index=None if error.index < 0 else error.index)
        Transfer, Mint, Record, Transaction = model.Transfer, model.Mint, model.Record, model.Transaction
        transactions = []
        for i in range(block.count):
            tx = &txs[i]
            if tx.kind == 0:
                body = Transfer(data[tx.to:tx.to + 32], tx.amount)
            elif tx.kind == 1:
                body = Mint(data[tx.to:tx.to + 32], tx.amount)
            else:
                body = Record(data[tx.key:tx.key + tx.key_length], data[tx.value:tx.value + tx.value_length])
            transactions.append(Transaction(data[tx.chain_id:tx.chain_id + 32], data[tx.sender:tx.sender + 32],
                                            tx.nonce, body, data[tx.signature:tx.signature + 64],
                                            txids[32 * i:32 * i + 32]))
        header = _header_object(model, data, &block, header_hash)
        # A fresh bytes object is private until returned, so filling it in place is safe.
        records = PyBytes_FromStringAndSize(NULL, 128 * (block.count + 1))
        out = <uint8_t *> PyBytes_AS_STRING(records)
        _signature_record(out, raw + block.proposer, raw + block.signature, header_hash)
        for i in range(block.count):
            _signature_record(out + 128 * (i + 1), raw + txs[i].sender, raw + txs[i].signature, txids + 32 * i)
        return model.Block(header, tuple(transactions)), root[:32], records
    finally:
        free(txs)
        free(txids)


cdef inline void _signature_record(uint8_t *out, const uint8_t *key, const uint8_t *signature,
                                   const uint8_t *message) noexcept:
    memcpy(out, key, 32)
    memcpy(out + 32, signature, 64)
    memcpy(out + 96, message, 32)


# The txid index (ledger/txindex.py) takes each stored block as entries of TXID_ENTRY_SIZE bytes:
# txid (32) || height (u64, big-endian) || index in the block (u32, big-endian). The Python twin is
# ledger.txindex.block_entries_python.
DEF TXID_ENTRY_SIZE = 44


def block_txid_entries(bytes data, uint64_t height, bytes tx_key, error_type, version=None):
    """The index entries of one canonical block of the chain's format `version` (None: either),
    decoded and hashed without the GIL. A block that does not decode raises
    `error_type(code, message, index=...)`."""
    cdef const uint8_t *raw = data
    cdef size_t size = len(data)
    cdef size_t capacity = LEDGER_TRANSACTIONS_CAPACITY(size)
    cdef ledger_block_view block
    cdef ledger_decode_error error
    cdef ledger_tx_view *txs
    cdef uint8_t *txids
    cdef uint8_t *out
    cdef int status
    cdef uint32_t i
    cdef size_t j
    if len(tx_key) != 32:
        raise ValueError("hash keys are 32 bytes")
    cdef const uint8_t *k_tx = tx_key
    cdef uint64_t expected = _chain_version(version)
    txs = <ledger_tx_view *> malloc(capacity * sizeof(ledger_tx_view))
    txids = <uint8_t *> malloc(capacity * 32 + 1)
    if txs == NULL or txids == NULL:
        free(txs)
        free(txids)
        raise MemoryError()
    try:
        with nogil:
            status = ledger_block_decode(raw, size, expected, &block, txs, capacity, &error)
            if status == 0:
                ledger_block_txids(raw, &block, txs, k_tx, txids)
        if status != 0:
            raise error_type(error.code.decode("ascii"), error.message.decode("ascii"),
                             index=None if error.index < 0 else error.index)
        entries = PyBytes_FromStringAndSize(NULL, TXID_ENTRY_SIZE * block.count)
        out = <uint8_t *> PyBytes_AS_STRING(entries)
        with nogil:
            for i in range(block.count):
                memcpy(out, txids + 32 * <size_t> i, 32)
                for j in range(8):
                    out[32 + j] = <uint8_t> (height >> (56 - 8 * j))
                for j in range(4):
                    out[40 + j] = <uint8_t> (i >> (24 - 8 * j))
                out += TXID_ENTRY_SIZE
        return entries
    finally:
        free(txs)
        free(txids)


cdef int _compare_txid_entries(const void *a, const void *b) noexcept nogil:
    return memcmp(a, b, TXID_ENTRY_SIZE)


def sort_txid_entries(bytearray entries):
    """Sort index entries in place (by txid, then location), without the GIL."""
    if len(entries) % TXID_ENTRY_SIZE:
        raise ValueError("index entries are 44 bytes each")
    cdef size_t count = len(entries) // TXID_ENTRY_SIZE
    cdef uint8_t *raw = <uint8_t *> <char *> entries
    with nogil:
        qsort(raw, count, TXID_ENTRY_SIZE, _compare_txid_entries)
