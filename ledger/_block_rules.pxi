# Bindings of csrc/block_rules.c: a block's transaction rules, sorted changes and state commitment
# without the GIL and without a Python object per transaction, over a native cache of accounts.
# The Python twin is ledger.state.apply_transactions + ledger.validate (check_block).
# Specification: docs/FORMAT.md §5, §7, §8.

cdef extern from "block_rules.h":
    ctypedef struct ledger_account_cache:
        size_t capacity, count, dirty_count
        uint64_t group
    ctypedef struct ledger_rule_result:
        int rule
        int64_t index
        uint64_t a, b
    ctypedef struct ledger_chain_rules:
        const uint8_t *chain_id
        const uint8_t *issuers
        size_t issuer_count
        const uint8_t *state_key
    ctypedef struct ledger_account:
        uint64_t balance, nonce
    enum:
        LEDGER_RULE_NO_MEMORY
    int ledger_cache_init(ledger_account_cache *cache, size_t capacity)
    void ledger_cache_free(ledger_account_cache *cache)
    ledger_account *ledger_cache_find(const ledger_account_cache *cache, const uint8_t *key)
    ledger_account *ledger_cache_insert(ledger_account_cache *cache, const uint8_t *key, int *inserted)
    int ledger_cache_pack_all(const ledger_account_cache *cache, uint8_t *out)
    int ledger_cache_accept(ledger_account_cache *cache, const uint8_t *accounts, size_t count)
    int ledger_cache_evict(ledger_account_cache *cache, uint64_t committed_group, size_t keep) nogil
    void ledger_cache_pack_dirty(ledger_account_cache *cache, uint8_t *out) nogil
    int ledger_block_load_keys(ledger_account_cache *cache, const uint8_t *data, const ledger_block_view *block,
                               const ledger_tx_view *txs, uint8_t *missing, size_t *missing_count) nogil
    void ledger_block_rules(ledger_account_cache *cache, const ledger_chain_rules *chain, const uint8_t *data,
                            const ledger_block_view *block, const ledger_tx_view *txs, const uint8_t *txids,
                            const uint8_t *verdicts, uint64_t height, const uint8_t *previous,
                            const uint8_t *expected, uint8_t *commitment, uint8_t *accounts_out,
                            size_t *accounts_count, uint32_t *record_indexes, size_t *record_count,
                            ledger_rule_result *result) nogil


cdef class CompactBlock:
    """A decoded block kept as the decoder's offsets into its bytes (no object per transaction):
    `header` (a BlockHeader), `hash`, `count`, `txids` (count * 32 bytes)."""
    cdef readonly bytes data
    cdef readonly object header
    cdef readonly bytes txids
    cdef ledger_block_view view
    cdef ledger_tx_view *txs

    def __dealloc__(self):
        free(self.txs)

    @property
    def hash(self):
        return self.header.hash

    @property
    def count(self):
        return self.view.count

    def record_writes(self, indexes):
        """(owner, key, value, index) of the record transactions at `indexes`."""
        cdef ledger_tx_view *tx
        cdef uint32_t i
        data = self.data
        out = []
        for i in indexes:
            if i >= self.view.count:
                raise IndexError(f"transaction {i} of a block of {self.view.count}")
            tx = &self.txs[i]
            out.append((data[tx.sender:tx.sender + 32], data[tx.key:tx.key + tx.key_length],
                        data[tx.value:tx.value + tx.value_length], i))
        return out


def block_decode_compact(bytes data, bytes tx_key, bytes header_key, bytes leaf_key, bytes node_key, model,
                         version=None):
    """As block_decode, but the block stays compact: returns (CompactBlock, Merkle root, records)."""
    cdef const uint8_t *raw = data
    cdef size_t size = len(data)
    cdef size_t capacity = LEDGER_TRANSACTIONS_CAPACITY(size)
    cdef ledger_decode_error error
    cdef uint8_t header_hash[32]
    cdef uint8_t root[32]
    cdef int status
    cdef uint32_t i
    cdef uint8_t *out
    cdef uint8_t *txids
    if len(tx_key) != 32 or len(header_key) != 32 or len(leaf_key) != 32 or len(node_key) != 32:
        raise ValueError("hash keys are 32 bytes")
    cdef const uint8_t *k_tx = tx_key
    cdef const uint8_t *k_header = header_key
    cdef const uint8_t *k_leaf = leaf_key
    cdef const uint8_t *k_node = node_key
    cdef uint64_t expected = _chain_version(version)
    cdef CompactBlock block = CompactBlock.__new__(CompactBlock)
    block.data = data
    block.txs = <ledger_tx_view *> malloc(capacity * sizeof(ledger_tx_view))
    if block.txs == NULL:
        raise MemoryError()
    with nogil:
        status = ledger_block_decode(raw, size, expected, &block.view, block.txs, capacity, &error)
    if status != 0:
        raise model.LedgerError(error.code.decode("ascii"), error.message.decode("ascii"),
                                index=None if error.index < 0 else error.index)
    cdef ledger_block_view *view = &block.view
    block.txids = PyBytes_FromStringAndSize(NULL, 32 * view.count)
    txids = <uint8_t *> PyBytes_AS_STRING(block.txids)
    with nogil:
        ledger_block_hashes(raw, view, block.txs, k_tx, k_header, k_leaf, k_node, txids, header_hash, root)
    block.header = _header_object(model, data, view, header_hash)
    records = PyBytes_FromStringAndSize(NULL, 128 * (view.count + 1))
    out = <uint8_t *> PyBytes_AS_STRING(records)
    _signature_record(out, raw + view.proposer, raw + view.signature, header_hash)
    for i in range(view.count):
        _signature_record(out + 128 * (i + 1), raw + block.txs[i].sender, raw + block.txs[i].signature, txids + 32 * i)
    return block, root[:32], records


cdef class AccountCache:
    """Accounts in memory in front of the store (csrc/block_rules.c): the state after the last
    accepted block. Entries changed by a commit group stay until that group is durable; clean
    ones are evicted beyond `bound` entries."""
    cdef ledger_account_cache cache
    cdef readonly size_t bound

    def __cinit__(self, size_t bound=500_000):
        self.bound = bound
        if ledger_cache_init(&self.cache, 1024) != 0:
            raise MemoryError()

    def __dealloc__(self):
        ledger_cache_free(&self.cache)

    def __len__(self):
        return self.cache.count

    @property
    def group(self):
        """The commit group blocks are now accepted into (the first is 1)."""
        return self.cache.group

    def get(self, bytes key):
        """(balance, nonce) of a cached account, or None."""
        if len(key) != 32:
            raise ValueError("account keys are 32 bytes")
        cdef ledger_account *e = ledger_cache_find(&self.cache, key)
        return None if e == NULL else (e.balance, e.nonce)

    def put(self, bytes key, uint64_t balance, uint64_t nonce):
        """Set an account (as read from the store, or the genesis: not a change of any group)."""
        cdef int inserted
        if len(key) != 32:
            raise ValueError("account keys are 32 bytes")
        cdef ledger_account *e = ledger_cache_insert(&self.cache, key, &inserted)
        if e == NULL:
            raise MemoryError()
        e.balance = balance
        e.nonce = nonce

    def packed(self):
        """Every cached account, sorted, packed as take_dirty packs them."""
        out = PyBytes_FromStringAndSize(NULL, 48 * self.cache.count)
        if ledger_cache_pack_all(&self.cache, <uint8_t *> PyBytes_AS_STRING(out)) != 0:
            raise MemoryError()
        return out

    def load(self, CompactBlock block):
        """Insert the block's account keys the cache lacks, as (0, 0); return them sorted, packed."""
        cdef size_t missing_count = 0
        cdef int status
        missing = PyBytes_FromStringAndSize(NULL, 64 * block.view.count)
        cdef uint8_t *out = <uint8_t *> PyBytes_AS_STRING(missing)
        cdef const uint8_t *raw = <const uint8_t *> PyBytes_AS_STRING(block.data)
        with nogil:
            status = ledger_block_load_keys(&self.cache, raw, &block.view, block.txs, out, &missing_count)
        if status != 0:
            raise MemoryError()
        return missing[:32 * missing_count]

    def fill(self, items):
        """Set stored values read for keys just loaded: (key, balance, nonce) each."""
        cdef ledger_account *e
        for key, balance, nonce in items:
            if len(key) != 32:
                raise ValueError("account keys are 32 bytes")
            e = ledger_cache_find(&self.cache, key)
            if e == NULL:
                raise KeyError(key)
            e.balance = balance
            e.nonce = nonce

    def accept(self, bytes accounts):
        """Apply a block's changed accounts as block_rules listed them for a version-2 block (packed,
        48 bytes each, every key loaded): after its state root was checked."""
        if len(accounts) % 48:
            raise ValueError("packed accounts are 48 bytes each")
        cdef int status = ledger_cache_accept(&self.cache, accounts, len(accounts) // 48)
        if status == -1:
            raise MemoryError()
        if status != 0:
            raise KeyError("an accepted account is not in the cache")

    def take_dirty(self):
        """The accounts changed in the current group, sorted and packed (key || balance || nonce,
        big-endian, 48 bytes each); later blocks go to the next group."""
        out = PyBytes_FromStringAndSize(NULL, 48 * self.cache.dirty_count)
        cdef uint8_t *packed = <uint8_t *> PyBytes_AS_STRING(out)
        with nogil:
            ledger_cache_pack_dirty(&self.cache, packed)
        return out

    def evict(self, uint64_t committed_group):
        """Groups up to `committed_group` are durable: their entries may go. Over `bound` entries,
        the cache keeps the entries of later groups and clean ones up to 3/4 of the bound (so that
        a table rebuild is not paid at every group)."""
        cdef int status = 0
        if self.cache.count <= self.bound:
            return
        with nogil:
            status = ledger_cache_evict(&self.cache, committed_group, self.bound - self.bound // 4)
        if status != 0:
            raise MemoryError()


def block_rules(AccountCache cache, CompactBlock block, bytes chain_id, bytes issuers, bytes state_key,
                verdicts, uint64_t height, bytes previous, bytes expected):
    """Transaction rules, changes and commitment of a block whose keys are loaded (AccountCache.load).
    `verdicts`: the signature verdicts, header first (True for a valid signature). Returns
    (rule, index, a, b, commitment, packed sorted changed accounts, record indexes); rule 0 = accepted.
    `previous` None (version 2): no commitment (32 zero bytes), and an accepted block's accounts
    are listed but not applied: the caller checks the state root, then calls cache.accept."""
    cdef uint32_t count = block.view.count
    cdef uint32_t i
    cdef ledger_chain_rules chain
    cdef ledger_rule_result result
    cdef uint8_t commitment[32]
    cdef size_t accounts_count = 0, record_count = 0
    if len(chain_id) != 32 or len(state_key) != 32 or (previous is not None and len(previous) != 32) or \
            (expected is not None and len(expected) != 32) \
            or len(issuers) % 32 or len(verdicts) != count + 1:
        raise ValueError("bad argument sizes")
    good = PyBytes_FromStringAndSize(NULL, count + 1)
    cdef uint8_t *g = <uint8_t *> PyBytes_AS_STRING(good)
    for i in range(count):
        g[i] = 1 if verdicts[i + 1] is True else 0
    chain.chain_id = chain_id
    chain.issuers = issuers
    chain.issuer_count = len(issuers) // 32
    chain.state_key = state_key
    accounts = PyBytes_FromStringAndSize(NULL, 48 * (2 * count + 1))
    cdef uint8_t *accounts_out = <uint8_t *> PyBytes_AS_STRING(accounts)
    cdef uint32_t *record_indexes = <uint32_t *> malloc((count + 1) * sizeof(uint32_t))
    if record_indexes == NULL:
        raise MemoryError()
    cdef const uint8_t *raw = <const uint8_t *> PyBytes_AS_STRING(block.data)
    cdef const uint8_t *txids = <const uint8_t *> PyBytes_AS_STRING(block.txids)
    cdef const uint8_t *prev = NULL
    if previous is not None:
        prev = <const uint8_t *> PyBytes_AS_STRING(previous)
    cdef const uint8_t *exp = NULL
    if expected is not None:
        exp = <const uint8_t *> PyBytes_AS_STRING(expected)
    try:
        with nogil:
            ledger_block_rules(&cache.cache, &chain, raw, &block.view, block.txs, txids, g, height, prev, exp,
                               commitment, accounts_out, &accounts_count, record_indexes, &record_count, &result)
        if result.rule == LEDGER_RULE_NO_MEMORY:
            raise MemoryError()
        indexes = [record_indexes[i] for i in range(record_count)]
        return (result.rule, result.index, result.a, result.b, commitment[:32],
                accounts[:48 * accounts_count], indexes)
    finally:
        free(record_indexes)
