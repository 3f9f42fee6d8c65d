# BLAKE3 bindings (ledger/csrc/blake3.c, ledger/csrc/merkle.c); included from _core.pyx.
# Specification: the BLAKE3 specification and RFC 9162's tree shape, as those C files name them.
# Names private to this file start with _b3_ because every .pxi shares one module namespace.

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_release_lock, PyThread_type_lock)
from libc.stdint cimport uint8_t
from libc.string cimport memcpy


cdef extern from "blake3.h" nogil:
    ctypedef struct ledger_blake3_hasher:
        pass
    void ledger_blake3_hasher_init(ledger_blake3_hasher *self)
    void ledger_blake3_hasher_init_keyed(ledger_blake3_hasher *self, const uint8_t *key)
    void ledger_blake3_hasher_update(ledger_blake3_hasher *self, const void *input, size_t input_len)
    void ledger_blake3_hasher_finalize(const ledger_blake3_hasher *self, uint8_t *out, size_t out_len)
    void ledger_blake3_hash(const void *input, size_t input_len, uint8_t *out, size_t out_len)
    void ledger_blake3_keyed_hash(const uint8_t *key, const void *input, size_t input_len,
                                  uint8_t *out, size_t out_len)
    void ledger_blake3_derive_key(const void *context, size_t context_len, const void *material,
                                  size_t material_len, uint8_t *out, size_t out_len)


cdef extern from "merkle.h" nogil:
    void ledger_merkle_root_blake3(const uint8_t *leaf_key, const uint8_t *node_key, const uint8_t *leaves,
                                   size_t leaf_size, size_t count, uint8_t *out)
    void ledger_merkle_root_blake3_threads(const uint8_t *leaf_key, const uint8_t *node_key, const uint8_t *leaves,
                                           size_t leaf_size, size_t count, uint8_t *out, int threads)
    void ledger_blake3_keyed_many(const uint8_t *key, const uint8_t **inputs, const size_t *lengths,
                                  size_t count, uint8_t *out)


cdef extern from "blake3_many.h" nogil:
    int ledger_blake3_simd(int enable)
    int ledger_blake3_simd_available()


def blake3_simd(int enable=-1):
    """The AVX2 eight-way path for Merkle levels (chosen at run time when the CPU has it):
    enable=1/0 turns it on/off, -1 asks. Returns whether it is on; off runs the portable code."""
    return ledger_blake3_simd(enable) == 1


def blake3_simd_available():
    return ledger_blake3_simd_available() == 1


# Below this much work (in bytes), dropping the GIL costs more than it frees: re-taking it can
# wait a whole switch interval when other threads are busy.
cdef Py_ssize_t _B3_NOGIL_MIN = 4096


cdef inline int _b3_view(object data, Py_buffer *view) except -1:
    # PyBUF_SIMPLE takes bytes, bytearray and C-contiguous memoryviews (and pins a bytearray
    # against resizing while the view is held, which makes hashing it without the GIL safe).
    return PyObject_GetBuffer(data, view, PyBUF_SIMPLE)


cdef int _b3_key(object key, uint8_t out[32]) except -1:
    cdef Py_buffer view
    _b3_view(key, &view)
    try:
        if view.len != 32:
            raise ValueError(f"BLAKE3 key must be 32 bytes, not {view.len}")
        memcpy(out, view.buf, 32)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef bytes _b3_out(Py_ssize_t out_len):
    if out_len < 0:
        raise ValueError(f"out_len must be non-negative, not {out_len}")
    return PyBytes_FromStringAndSize(NULL, out_len)


def blake3(data, Py_ssize_t out_len=32):
    """BLAKE3 hash of data; out_len bytes of extended output (a prefix of any longer output)."""
    cdef bytes out = _b3_out(out_len)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_buffer view
    _b3_view(data, &view)
    try:
        if view.len + out_len >= _B3_NOGIL_MIN:
            with nogil:
                ledger_blake3_hash(view.buf, <size_t>view.len, o, <size_t>out_len)
        else:
            ledger_blake3_hash(view.buf, <size_t>view.len, o, <size_t>out_len)
    finally:
        PyBuffer_Release(&view)
    return out


def blake3_keyed(key, data, Py_ssize_t out_len=32):
    """BLAKE3 keyed_hash of data under a 32-byte key."""
    cdef uint8_t k[32]
    _b3_key(key, k)
    cdef bytes out = _b3_out(out_len)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_buffer view
    _b3_view(data, &view)
    try:
        if view.len + out_len >= _B3_NOGIL_MIN:
            with nogil:
                ledger_blake3_keyed_hash(k, view.buf, <size_t>view.len, o, <size_t>out_len)
        else:
            ledger_blake3_keyed_hash(k, view.buf, <size_t>view.len, o, <size_t>out_len)
    finally:
        PyBuffer_Release(&view)
    return out


def blake3_derive_key(str context, material, Py_ssize_t out_len=32):
    """BLAKE3 derive_key: a key for the given context string (UTF-8) from key material."""
    cdef bytes ctx = context.encode("utf-8")
    cdef bytes out = _b3_out(out_len)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const char *c = PyBytes_AS_STRING(ctx)
    cdef size_t clen = <size_t>len(ctx)
    cdef Py_buffer view
    _b3_view(material, &view)
    try:
        if <Py_ssize_t>clen + view.len + out_len >= _B3_NOGIL_MIN:
            with nogil:
                ledger_blake3_derive_key(c, clen, view.buf, <size_t>view.len, o, <size_t>out_len)
        else:
            ledger_blake3_derive_key(c, clen, view.buf, <size_t>view.len, o, <size_t>out_len)
    finally:
        PyBuffer_Release(&view)
    return out


def blake3_keyed_many(key, items):
    """The 32-byte keyed digests of every item, concatenated in order."""
    cdef uint8_t k[32]
    _b3_key(key, k)
    # A private snapshot: taking a buffer can run Python code (__buffer__ on 3.12+, a C type's
    # getbuffer calling back, a finalizer), which may shrink or clear the caller's list while
    # the loop below indexes it without bounds checks.
    cdef tuple seq = tuple(items)
    cdef Py_ssize_t n = len(seq)
    cdef Py_ssize_t i, held = 0, work = 0
    cdef bytes out = _b3_out(32 * n)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    # One allocation for the three arrays, each at least one element so a 0-item call is valid.
    cdef size_t m = <size_t>(n if n > 0 else 1)
    cdef Py_buffer *views = <Py_buffer *>PyMem_Malloc(m * sizeof(Py_buffer))
    cdef const uint8_t **ptrs = <const uint8_t **>PyMem_Malloc(m * sizeof(uint8_t *))
    cdef size_t *lens = <size_t *>PyMem_Malloc(m * sizeof(size_t))
    try:
        if views == NULL or ptrs == NULL or lens == NULL:
            raise MemoryError()
        # Every view stays held until hashing ends: it keeps each item alive even if the list is
        # mutated meanwhile, and keeps a bytearray from being resized under us.
        for i in range(n):
            _b3_view(seq[i], &views[i])
            held += 1
            ptrs[i] = <const uint8_t *>views[i].buf
            lens[i] = <size_t>views[i].len
            work += views[i].len + 64
        if work >= _B3_NOGIL_MIN:
            with nogil:
                ledger_blake3_keyed_many(k, ptrs, lens, <size_t>n, o)
        else:
            ledger_blake3_keyed_many(k, ptrs, lens, <size_t>n, o)
    finally:
        for i in range(held):
            PyBuffer_Release(&views[i])
        PyMem_Free(views)
        PyMem_Free(ptrs)
        PyMem_Free(lens)
    return out


def merkle_root_blake3(leaf_key, node_key, leaves, Py_ssize_t leaf_size, int threads=1):
    """RFC 9162-shaped Merkle root over leaves: one buffer of count * leaf_size bytes, or a list of
    bytes objects all of leaf_size bytes. Large trees are split over `threads` threads."""
    cdef uint8_t lk[32]
    cdef uint8_t nk[32]
    _b3_key(leaf_key, lk)
    _b3_key(node_key, nk)
    if leaf_size < 1:
        raise ValueError(f"leaf_size must be at least 1, not {leaf_size}")
    cdef Py_ssize_t i, n
    cdef char *joined
    if type(leaves) is list:
        # Checking and copying in one pass costs a third of b"".join plus a separate check.
        n = len(<list>leaves)
        # Sizes are checked before n * leaf_size is formed or allocated: that product must not
        # overflow, and a leaf_size no leaf has must not cost an allocation (only the first leaf
        # is looked at here; the loop checks every one).
        if n > 0 and (leaf_size > PY_SSIZE_T_MAX // n or type((<list>leaves)[0]) is not bytes
                      or PyBytes_GET_SIZE((<list>leaves)[0]) != leaf_size):
            raise ValueError(f"every leaf must be bytes of {leaf_size} bytes")
        packed = PyBytes_FromStringAndSize(NULL, n * leaf_size)
        joined = PyBytes_AS_STRING(packed)
        for i in range(n):
            item = (<list>leaves)[i]
            if type(item) is not bytes or PyBytes_GET_SIZE(item) != leaf_size:
                raise ValueError(f"every leaf must be bytes of {leaf_size} bytes")
            memcpy(joined + i * leaf_size, PyBytes_AS_STRING(item), leaf_size)
        leaves = packed
    cdef bytes out = _b3_out(32)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef Py_buffer view
    cdef size_t count
    _b3_view(leaves, &view)
    try:
        if view.len % leaf_size != 0:
            raise ValueError(f"leaves is {view.len} bytes, not a multiple of leaf_size {leaf_size}")
        count = <size_t>(view.len // leaf_size)
        if view.len + 64 * <Py_ssize_t>count >= _B3_NOGIL_MIN:
            with nogil:
                ledger_merkle_root_blake3_threads(lk, nk, <const uint8_t *>view.buf, <size_t>leaf_size, count, o,
                                                  threads)
        else:
            ledger_merkle_root_blake3(lk, nk, <const uint8_t *>view.buf, <size_t>leaf_size, count, o)
    finally:
        PyBuffer_Release(&view)
    return out


cdef class Blake3Hasher:
    """Incremental BLAKE3 (keyed when key is given). digest() leaves the state usable."""

    cdef ledger_blake3_hasher _state
    # Large updates run without the GIL, so the state needs its own lock against a second thread
    # updating or finalizing the same hasher at the same time.
    cdef PyThread_type_lock _lock

    def __cinit__(self, key=None):
        cdef uint8_t k[32]
        self._lock = PyThread_allocate_lock()
        if self._lock == NULL:
            raise MemoryError()
        if key is None:
            ledger_blake3_hasher_init(&self._state)
        else:
            _b3_key(key, k)
            ledger_blake3_hasher_init_keyed(&self._state, k)

    def __dealloc__(self):
        if self._lock != NULL:
            PyThread_free_lock(self._lock)

    cdef inline void _acquire(self):
        # Uncontended (the usual case) the lock is taken without giving up the GIL; waiting for
        # another thread must give it up, or that thread could never finish and release.
        if not PyThread_acquire_lock(self._lock, NOWAIT_LOCK):
            with nogil:
                PyThread_acquire_lock(self._lock, WAIT_LOCK)

    def update(self, data):
        """Absorb more input."""
        cdef Py_buffer view
        _b3_view(data, &view)
        try:
            self._acquire()
            try:
                if view.len >= _B3_NOGIL_MIN:
                    with nogil:
                        ledger_blake3_hasher_update(&self._state, view.buf, <size_t>view.len)
                else:
                    ledger_blake3_hasher_update(&self._state, view.buf, <size_t>view.len)
            finally:
                PyThread_release_lock(self._lock)
        finally:
            PyBuffer_Release(&view)

    def digest(self, Py_ssize_t out_len=32):
        """out_len bytes of output for everything absorbed so far."""
        cdef bytes out = _b3_out(out_len)
        cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
        self._acquire()
        try:
            if out_len >= _B3_NOGIL_MIN:
                with nogil:
                    ledger_blake3_hasher_finalize(&self._state, o, <size_t>out_len)
            else:
                ledger_blake3_hasher_finalize(&self._state, o, <size_t>out_len)
        finally:
            PyThread_release_lock(self._lock)
        return out
