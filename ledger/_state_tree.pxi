# Bindings of csrc/state_tree.c: the version-2 state map (key hash -> value hash), its root and
# paths, with batch updates that need no Python object per entry, and the key/value hashing of
# accounts and records in batch. The Python twin is ledger/state_tree.py (StateTree and the hash
# functions), which the tests run the same operations through.
# Specification: docs/FORMAT.md §7.2.
# Names private to this file start with _st_ because every .pxi shares one module namespace.

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport uint8_t
from libc.string cimport memcpy, memcmp


cdef extern from "state_tree.h" nogil:
    ctypedef struct ledger_state_tree:
        pass
    enum:
        LEDGER_STATE_BUCKET_BITS_ADAPTIVE
        LEDGER_STATE_BUCKET_BITS_MAX
        LEDGER_STATE_PATH_MAX
        LEDGER_STATE_OK
        LEDGER_STATE_NO_MEMORY
        LEDGER_STATE_TOO_MANY
        LEDGER_STATE_MISSING
    ledger_state_tree *ledger_state_tree_new(int bucket_bits)
    void ledger_state_tree_free(ledger_state_tree *tree)
    size_t ledger_state_tree_count(const ledger_state_tree *tree)
    int ledger_state_tree_bucket_bits(const ledger_state_tree *tree)
    int ledger_state_tree_get(const ledger_state_tree *tree, const uint8_t *key, uint8_t *value)
    int ledger_state_tree_update(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *values, size_t count,
                                 uint8_t *before, uint8_t *present)
    int ledger_state_tree_revert(ledger_state_tree *tree, const uint8_t *keys, const uint8_t *before,
                                 const uint8_t *present, size_t count)
    void ledger_state_tree_root(const ledger_state_tree *tree, uint8_t *root)
    void ledger_state_tree_path(const ledger_state_tree *tree, const uint8_t *key, uint8_t (*siblings)[32],
                                size_t *depth, int *other_found, uint8_t *other)
    void ledger_state_account_hashes(const uint8_t *packed, size_t count, uint8_t *key_hashes, uint8_t *value_hashes)
    void ledger_state_record_hashes(const uint8_t *const *owners, const uint8_t *const *keys,
                                    const size_t *key_lengths, const uint8_t *const *values,
                                    const size_t *value_lengths, size_t count, uint8_t *key_hashes,
                                    uint8_t *value_hashes)


# Below this many entries a batch keeps the GIL (dropping and re-taking it costs more).
cdef size_t _ST_NOGIL_ENTRIES_MIN = 64
cdef bytes _ST_EMPTY = bytes(32)
cdef object _st_path_type = None


cdef object _st_path(tuple siblings, object other):
    global _st_path_type
    if _st_path_type is None:
        from ledger.state_tree import Path
        _st_path_type = Path
    return _st_path_type(siblings, other)


cdef int _st_hash32(object value, uint8_t *out) except -1:
    """Copies a 32-byte hash (any bytes-like object) to out; TypeError for str and the like."""
    cdef Py_buffer view
    PyObject_GetBuffer(value, &view, PyBUF_SIMPLE)
    try:
        if view.len != 32:
            raise ValueError("key and value hashes are 32 bytes")
        memcpy(out, view.buf, 32)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef object _st_status(int status):
    if status == LEDGER_STATE_NO_MEMORY:
        raise MemoryError()
    if status == LEDGER_STATE_TOO_MANY:
        raise OverflowError("the state tree holds at most 2^32 - 2 entries")
    if status == LEDGER_STATE_MISSING:
        raise KeyError("revert: a key to remove is not in the tree (not this tree's latest update?)")
    return None


cdef class StateUndo:
    """What `StateTree.update_packed` replaced: opaque, for `StateTree.revert` of the same tree
    (updates are reverted newest first). `items()` gives the twin's undo list."""
    cdef readonly bytes keys
    cdef bytes before
    cdef bytes present
    cdef object tree
    cdef size_t generation
    cdef bint reverted

    def __len__(self):
        return PyBytes_GET_SIZE(self.present)

    def items(self):
        """[(key hash, value hash before or None)] in update order, as the twin's update returns."""
        cdef Py_ssize_t i, n = PyBytes_GET_SIZE(self.present)
        cdef const uint8_t *flags = <const uint8_t *> PyBytes_AS_STRING(self.present)
        return [(self.keys[32 * i:32 * i + 32], self.before[32 * i:32 * i + 32] if flags[i] else None)
                for i in range(n)]


cdef class StateTree:
    """The state map key hash -> value hash with its root and paths (§7.2), in native memory.

    Same interface as ledger.state_tree.StateTree, plus `update_packed` and `bucket_bits`.
    One thread at a time: a call while another thread is inside a call on the same tree raises
    RuntimeError (batch work runs without the GIL). `bucket_bits` fixes the bucket split (0 … 24;
    default: chosen by size), which changes speed and memory, never a result."""
    cdef ledger_state_tree *tree
    cdef bint busy
    cdef size_t generation

    def __init__(self, entries=None, *, bucket_bits=None):
        cdef int bits = LEDGER_STATE_BUCKET_BITS_ADAPTIVE
        if bucket_bits is not None:
            bits = bucket_bits
            if bits < 0 or bits > LEDGER_STATE_BUCKET_BITS_MAX:
                raise ValueError(f"bucket_bits is 0 … {LEDGER_STATE_BUCKET_BITS_MAX}, not {bits}")
        self._enter()
        try:
            ledger_state_tree_free(self.tree)
            self.tree = ledger_state_tree_new(bits)
            self.generation = 0
            if self.tree == NULL:
                raise MemoryError()
        finally:
            self.busy = False
        if entries:
            self.update(entries.items())

    def __dealloc__(self):
        ledger_state_tree_free(self.tree)

    cdef int _enter(self) except -1:
        if self.busy:
            raise RuntimeError("this StateTree is in use by another thread")
        self.busy = True
        return 0

    cdef int _ready(self) except -1:
        if self.tree == NULL:
            raise ValueError("StateTree not initialised")
        return self._enter()

    def __len__(self):
        return 0 if self.tree == NULL else ledger_state_tree_count(self.tree)

    @property
    def bucket_bits(self):
        self._ready()
        try:
            return ledger_state_tree_bucket_bits(self.tree)
        finally:
            self.busy = False

    def get(self, key_hash):
        """The value hash of key_hash, or None."""
        cdef uint8_t key[32]
        cdef uint8_t value[32]
        _st_hash32(key_hash, key)
        self._ready()
        try:
            if ledger_state_tree_get(self.tree, key, value):
                return value[:32]
            return None
        finally:
            self.busy = False

    def root(self):
        cdef uint8_t out[32]
        self._ready()
        try:
            ledger_state_tree_root(self.tree, out)
        finally:
            self.busy = False
        return out[:32]

    def path(self, key_hash):
        """The path to key_hash, present or not (§7.2): a ledger.state_tree.Path."""
        cdef uint8_t key[32]
        cdef uint8_t siblings[LEDGER_STATE_PATH_MAX][32]
        cdef uint8_t other[64]
        cdef size_t depth = 0, d
        cdef int other_found = 0
        _st_hash32(key_hash, key)
        self._ready()
        try:
            ledger_state_tree_path(self.tree, key, siblings, &depth, &other_found, other)
        finally:
            self.busy = False
        path = []
        for d in range(depth):
            path.append(b"" if memcmp(siblings[d], <const uint8_t *> PyBytes_AS_STRING(_ST_EMPTY), 32) == 0
                        else siblings[d][:32])
        return _st_path(tuple(path), (other[:32], other[32:64]) if other_found else None)

    cdef StateUndo _update(self, const uint8_t *keys, const uint8_t *values, size_t count):
        """Runs the update; the caller holds self.busy and keeps keys/values alive and unmoved."""
        cdef int status
        cdef StateUndo undo = StateUndo.__new__(StateUndo)
        undo.keys = PyBytes_FromStringAndSize(<const char *> keys, 32 * count)
        undo.before = PyBytes_FromStringAndSize(NULL, 32 * count)
        undo.present = PyBytes_FromStringAndSize(NULL, count)
        cdef uint8_t *before = <uint8_t *> PyBytes_AS_STRING(undo.before)
        cdef uint8_t *present = <uint8_t *> PyBytes_AS_STRING(undo.present)
        if count >= _ST_NOGIL_ENTRIES_MIN:
            with nogil:
                status = ledger_state_tree_update(self.tree, keys, values, count, before, present)
        else:
            status = ledger_state_tree_update(self.tree, keys, values, count, before, present)
        _st_status(status)
        self.generation += 1
        undo.tree = self
        undo.generation = self.generation
        return undo

    def update_packed(self, key_hashes, value_hashes):
        """Sets key_hashes[32 i : 32 i + 32] to value_hashes[32 i : …] in order (bytes-like, 32 n
        bytes each; a later item for one key wins). Returns a StateUndo for revert."""
        cdef Py_buffer keys, values
        PyObject_GetBuffer(key_hashes, &keys, PyBUF_SIMPLE)
        try:
            PyObject_GetBuffer(value_hashes, &values, PyBUF_SIMPLE)
            try:
                if keys.len % 32 or keys.len != values.len:
                    raise ValueError("key and value hashes are two buffers of 32 n bytes")
                self._ready()
                try:
                    return self._update(<const uint8_t *> keys.buf, <const uint8_t *> values.buf,
                                        <size_t> (keys.len // 32))
                finally:
                    self.busy = False
            finally:
                PyBuffer_Release(&values)
        finally:
            PyBuffer_Release(&keys)

    def update(self, items):
        """Sets each key hash to its value hash (a later item for the same key wins). Returns the
        twin's undo list: [(key hash, value hash before or None)]. All items are checked first:
        a bad one (ValueError, TypeError) changes nothing."""
        cdef list pairs = list(items)
        cdef Py_ssize_t n = len(pairs), i
        keys = bytearray(32 * n)
        values = bytearray(32 * n)
        cdef uint8_t *k = <uint8_t *> (<char *> keys) if n else NULL
        cdef uint8_t *v = <uint8_t *> (<char *> values) if n else NULL
        for i in range(n):
            key_hash, value_hash = pairs[i]
            _st_hash32(key_hash, k + 32 * i)
            _st_hash32(value_hash, v + 32 * i)
        if n == 0:
            return []
        self._ready()
        try:
            undo = self._update(k, v, <size_t> n)
        finally:
            self.busy = False
        return undo.items()

    def revert(self, undo):
        """Undoes an update: a StateUndo from update_packed (the newest not yet reverted, else
        ValueError), or the undo list update returned (applied backwards, unchecked, as the twin)."""
        cdef StateUndo token
        cdef Py_ssize_t n, i
        cdef int status
        if isinstance(undo, StateUndo):
            token = <StateUndo> undo
            if token.tree is not self:
                raise ValueError("this undo belongs to another StateTree")
            if token.reverted or token.generation != self.generation:
                raise ValueError("only the newest update not yet reverted can be reverted")
            keys, before, present = token.keys, token.before, token.present
        else:
            pairs = list(undo)
            n = len(pairs)
            keys = bytearray(32 * n)
            before = bytearray(32 * n)
            present = bytearray(n)
            for i in range(n):
                key_hash, value_hash = pairs[i]
                _st_hash32(key_hash, (<uint8_t *> (<char *> keys)) + 32 * i)
                if value_hash is not None:
                    _st_hash32(value_hash, (<uint8_t *> (<char *> before)) + 32 * i)
                    present[i] = 1
        n = len(present)
        cdef const uint8_t *k = NULL
        cdef const uint8_t *b = NULL
        cdef const uint8_t *p = NULL
        if n:
            k = <const uint8_t *> (<char *> keys)
            b = <const uint8_t *> (<char *> before)
            p = <const uint8_t *> (<char *> present)
        self._ready()
        try:
            if n == 0:
                status = LEDGER_STATE_OK
            elif <size_t> n >= _ST_NOGIL_ENTRIES_MIN:
                with nogil:
                    status = ledger_state_tree_revert(self.tree, k, b, p, <size_t> n)
            else:
                status = ledger_state_tree_revert(self.tree, k, b, p, <size_t> n)
            if isinstance(undo, StateUndo):
                token.reverted = True
            if self.generation:
                self.generation -= 1
        finally:
            self.busy = False
        _st_status(status)


def state_account_hashes(packed):
    """Key and value hashes (§7.2) of accounts packed as key(32) || balance u64 big-endian ||
    nonce u64 big-endian, 48 bytes each (AccountCache.take_dirty's layout): (32 n, 32 n) bytes."""
    cdef Py_buffer view
    cdef size_t n
    cdef uint8_t *key_out
    cdef uint8_t *value_out
    PyObject_GetBuffer(packed, &view, PyBUF_SIMPLE)
    try:
        if view.len % 48:
            raise ValueError(f"packed accounts are 48 bytes each, not {view.len} bytes in all")
        n = <size_t> (view.len // 48)
        key_hashes = PyBytes_FromStringAndSize(NULL, 32 * n)
        value_hashes = PyBytes_FromStringAndSize(NULL, 32 * n)
        key_out = <uint8_t *> PyBytes_AS_STRING(key_hashes)
        value_out = <uint8_t *> PyBytes_AS_STRING(value_hashes)
        with nogil:
            ledger_state_account_hashes(<const uint8_t *> view.buf, n, key_out, value_out)
    finally:
        PyBuffer_Release(&view)
    return key_hashes, value_hashes


def state_record_hashes(owners, keys, values):
    """Key and value hashes (§7.2) of records: owners (a list of 32-byte bytes, or one bytes of
    32 n), keys and values (lists of bytes). Returns (32 n, 32 n) bytes."""
    cdef tuple key_items = tuple(keys)
    cdef tuple value_items = tuple(values)
    cdef Py_ssize_t n = len(key_items), i
    if isinstance(owners, (bytes, bytearray, memoryview)):
        packed_owners = bytes(owners)
        if len(packed_owners) != 32 * n:
            raise ValueError("packed owners are 32 bytes a record")
        owner_items = None
    else:
        owner_items = tuple(owners)
        if len(owner_items) != n:
            raise ValueError("owners, keys and values differ in length")
    if len(value_items) != n:
        raise ValueError("owners, keys and values differ in length")
    for i in range(n):
        if type(key_items[i]) is not bytes or type(value_items[i]) is not bytes or \
                (owner_items is not None and type(owner_items[i]) is not bytes):
            raise TypeError("owners, keys and values are bytes")
        if owner_items is not None and PyBytes_GET_SIZE(owner_items[i]) != 32:
            raise ValueError("owners are 32 bytes")
    cdef size_t m = <size_t> (n if n > 0 else 1)
    cdef const uint8_t **owner_ptrs = <const uint8_t **> PyMem_Malloc(m * sizeof(uint8_t *))
    cdef const uint8_t **key_ptrs = <const uint8_t **> PyMem_Malloc(m * sizeof(uint8_t *))
    cdef const uint8_t **value_ptrs = <const uint8_t **> PyMem_Malloc(m * sizeof(uint8_t *))
    cdef size_t *key_lengths = <size_t *> PyMem_Malloc(m * sizeof(size_t))
    cdef size_t *value_lengths = <size_t *> PyMem_Malloc(m * sizeof(size_t))
    cdef uint8_t *key_out
    cdef uint8_t *value_out
    try:
        if owner_ptrs == NULL or key_ptrs == NULL or value_ptrs == NULL or key_lengths == NULL or \
                value_lengths == NULL:
            raise MemoryError()
        for i in range(n):
            if owner_items is None:
                owner_ptrs[i] = <const uint8_t *> PyBytes_AS_STRING(packed_owners) + 32 * i
            else:
                owner_ptrs[i] = <const uint8_t *> PyBytes_AS_STRING(owner_items[i])
            key_ptrs[i] = <const uint8_t *> PyBytes_AS_STRING(key_items[i])
            key_lengths[i] = <size_t> PyBytes_GET_SIZE(key_items[i])
            value_ptrs[i] = <const uint8_t *> PyBytes_AS_STRING(value_items[i])
            value_lengths[i] = <size_t> PyBytes_GET_SIZE(value_items[i])
        key_hashes = PyBytes_FromStringAndSize(NULL, 32 * n)
        value_hashes = PyBytes_FromStringAndSize(NULL, 32 * n)
        key_out = <uint8_t *> PyBytes_AS_STRING(key_hashes)
        value_out = <uint8_t *> PyBytes_AS_STRING(value_hashes)
        # The tuples hold every bytes object (immutable) while the GIL is released.
        with nogil:
            ledger_state_record_hashes(owner_ptrs, key_ptrs, key_lengths, value_ptrs, value_lengths, <size_t> n,
                                       key_out, value_out)
    finally:
        PyMem_Free(owner_ptrs)
        PyMem_Free(key_ptrs)
        PyMem_Free(value_ptrs)
        PyMem_Free(key_lengths)
        PyMem_Free(value_lengths)
    return key_hashes, value_hashes
