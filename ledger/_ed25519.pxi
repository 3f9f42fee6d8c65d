# Ed25519 (ZIP-215) verification, bound to ledger/csrc/ed25519_verify.c and ed25519_batch.c.
# Included by _core.pyx. The Python twin is ledger/ed25519_ref.py; the public API is ledger/crypto.py.
# Specification: RFC 8032 §5.1.7 under the rules of ZIP 215 (see ledger/csrc/ed25519_verify.h).
from libc.stdint cimport uint8_t
from libc.stdlib cimport malloc, free
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

cdef extern from "ed25519_verify.h":
    int ledger_ed25519_verify(const uint8_t *public_key, const uint8_t *message, size_t message_len,
                              const uint8_t *signature) nogil
    int ledger_ed25519_is_small_order(const uint8_t *public_key) nogil
    void ledger_keycache_enable(int on) nogil
    void ledger_keycache_clear() nogil
    void ledger_keycache_stats(unsigned long *hits, unsigned long *misses) nogil

cdef extern from "fe25519.h":
    int ledger_fe_simd(int enable) nogil
    int ledger_fe_simd_available() nogil

cdef extern from "ed25519_batch.h":
    int ledger_ed25519_verify_batch(size_t n, const uint8_t **public_keys, const uint8_t **messages,
                                    const size_t *message_lens, const uint8_t **signatures,
                                    uint8_t *results, int nthreads) nogil
    int ledger_ed25519_verify_batch_seeded(size_t n, const uint8_t **public_keys, const uint8_t **messages,
                                           const size_t *message_lens, const uint8_t **signatures,
                                           uint8_t *results, int nthreads, const uint8_t *coefficients) nogil
    int ledger_ed25519_first_bad(size_t n, const uint8_t **public_keys, const uint8_t **messages,
                                 const size_t *message_lens, const uint8_t **signatures, size_t *first_bad,
                                 int nthreads) nogil
    int ledger_ed25519_first_bad_seeded(size_t n, const uint8_t **public_keys, const uint8_t **messages,
                                        const size_t *message_lens, const uint8_t **signatures, size_t *first_bad,
                                        int nthreads, const uint8_t *coefficients) nogil
    int ledger_cpu_count() nogil
    int ledger_ed25519_batch_coalesce(int enable) nogil
    void ledger_ed25519_batch_stats(unsigned long *checks, unsigned long *points, int reset) nogil

cdef inline bytes _ed_bytes(object x):
    # Only bytes-like objects (the buffer protocol): bytes(32) would be 32 zero bytes, and
    # bytes("...") or bytes([1, 2]) would invent an encoding the caller never chose.
    if type(x) is bytes:
        return <bytes>x
    try:
        view = memoryview(x)
    except TypeError:
        raise TypeError(f"expected a bytes-like object, not {type(x).__name__}") from None
    return view.tobytes()


def ed25519_verify(public_key, message, signature):
    """ZIP-215 verification of one signature; False for wrong lengths."""
    cdef bytes pk = _ed_bytes(public_key)
    cdef bytes msg = _ed_bytes(message)
    cdef bytes sig = _ed_bytes(signature)
    if PyBytes_GET_SIZE(pk) != 32 or PyBytes_GET_SIZE(sig) != 64:
        return False
    cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(pk)
    cdef const uint8_t *m = <const uint8_t *>PyBytes_AS_STRING(msg)
    cdef const uint8_t *s = <const uint8_t *>PyBytes_AS_STRING(sig)
    cdef size_t mlen = <size_t>PyBytes_GET_SIZE(msg)
    cdef int ok
    with nogil:
        ok = ledger_ed25519_verify(p, m, mlen, s)
    return ok == 1


def ed25519_is_small_order(public_key):
    """True iff the 32 bytes decode (leniently) to a point whose order divides 8."""
    cdef bytes pk = _ed_bytes(public_key)
    if PyBytes_GET_SIZE(pk) != 32:
        return False
    return ledger_ed25519_is_small_order(<const uint8_t *>PyBytes_AS_STRING(pk)) == 1


def ed25519_keycache(bint enable):
    """Turns the cache of decoded public keys on or off (on by default)."""
    ledger_keycache_enable(1 if enable else 0)


def ed25519_keycache_clear():
    """Empties the key cache and zeroes its counters."""
    with nogil:
        ledger_keycache_clear()


def ed25519_keycache_stats():
    """(hits, misses) of the key cache since the last clear."""
    cdef unsigned long hits = 0, misses = 0
    ledger_keycache_stats(&hits, &misses)
    return (hits, misses)


def ed25519_simd(int enable=-1):
    """The AVX2 path (chosen at run time when the CPU has it): enable=1/0 turns it on/off, -1 asks.
    Returns whether it is on. Off runs exactly the portable code."""
    return ledger_fe_simd(enable) == 1


def ed25519_simd_available():
    return ledger_fe_simd_available() == 1


def ed25519_batch_coalesce(int enable=-1):
    """Batch verification coalesced by key (one point per distinct public-key encoding):
    enable=1/0 turns it on/off for later batches (on by default), -1 asks. Returns whether it is
    on. Verdicts are the same either way; off is for benchmarks."""
    return ledger_ed25519_batch_coalesce(enable) == 1


def ed25519_batch_stats(bint reset=False):
    """(checks, points): random-combination checks made by batch verification and the points
    they summed (base point included), all threads, since the last reset; reset=True zeroes both
    first."""
    cdef unsigned long checks = 0, points = 0
    ledger_ed25519_batch_stats(&checks, &points, 1 if reset else 0)
    return (checks, points)


def ed25519_cpu_count():
    return ledger_cpu_count()


cdef list _ed_run_batch(size_t n, const uint8_t **pks, const uint8_t **msgs, size_t *mlens,
                        const uint8_t **sigs, const uint8_t *okshape, int nthreads, object coefficients):
    cdef uint8_t *res = <uint8_t *>malloc(n if n else 1)
    cdef int rc
    cdef size_t i
    cdef bytes coef
    cdef const uint8_t *cp = NULL
    if res == NULL:
        raise MemoryError()
    try:
        if coefficients is not None:
            coef = _ed_bytes(coefficients)
            if <size_t>PyBytes_GET_SIZE(coef) != 16 * n:
                raise ValueError("coefficients must be 16 bytes per item")
            cp = <const uint8_t *>PyBytes_AS_STRING(coef)
            with nogil:
                rc = ledger_ed25519_verify_batch_seeded(n, pks, msgs, mlens, sigs, res, nthreads, cp)
        else:
            with nogil:
                rc = ledger_ed25519_verify_batch(n, pks, msgs, mlens, sigs, res, nthreads)
        if rc == -1:
            raise MemoryError()
        if rc == -2:
            raise OSError("getrandom() failed")
        return [bool(res[i] and okshape[i]) for i in range(n)]
    finally:
        free(res)


cdef object _ed_run_first_bad(size_t n, const uint8_t **pks, const uint8_t **msgs, size_t *mlens,
                              const uint8_t **sigs, const uint8_t *okshape, int nthreads, object coefficients):
    # Items of the wrong shape are bad without any arithmetic: the search ends at the first one.
    cdef size_t usable = 0
    while usable < n and okshape[usable]:
        usable += 1
    cdef size_t first = usable
    cdef int rc
    cdef bytes coef
    cdef const uint8_t *cp = NULL
    if coefficients is not None:
        coef = _ed_bytes(coefficients)
        if <size_t>PyBytes_GET_SIZE(coef) != 16 * n:
            raise ValueError("coefficients must be 16 bytes per item")
        cp = <const uint8_t *>PyBytes_AS_STRING(coef)
        with nogil:
            rc = ledger_ed25519_first_bad_seeded(usable, pks, msgs, mlens, sigs, &first, nthreads, cp)
    else:
        with nogil:
            rc = ledger_ed25519_first_bad(usable, pks, msgs, mlens, sigs, &first, nthreads)
    if rc == -1:
        raise MemoryError()
    if rc == -2:
        raise OSError("getrandom() failed")
    return None if first >= n else first


_ED_PAD_PK = b"\0" * 32
_ED_PAD_SIG = b"\0" * 64


def ed25519_verify_batch(public_keys, messages, signatures, int threads=0, coefficients=None, bint _first_bad=False):
    """Verdicts for n (public key, message, signature) triples; threads <= 0: one per CPU.
    coefficients (tests only): 16 bytes per item replacing the CSPRNG output.
    _first_bad: see ed25519_first_bad."""
    cdef list pk_l = [_ed_bytes(x) for x in public_keys]
    cdef list msg_l = [_ed_bytes(x) for x in messages]
    cdef list sig_l = [_ed_bytes(x) for x in signatures]
    cdef Py_ssize_t count = len(pk_l)
    if len(msg_l) != count or len(sig_l) != count:
        raise ValueError("public_keys, messages and signatures must have the same length")
    cdef size_t n = <size_t>count
    cdef const uint8_t **pks = <const uint8_t **>malloc((n + 1) * sizeof(uint8_t *))
    cdef const uint8_t **msgs = <const uint8_t **>malloc((n + 1) * sizeof(uint8_t *))
    cdef const uint8_t **sigs = <const uint8_t **>malloc((n + 1) * sizeof(uint8_t *))
    cdef size_t *mlens = <size_t *>malloc((n + 1) * sizeof(size_t))
    cdef uint8_t *okshape = <uint8_t *>malloc(n + 1)
    cdef size_t i
    cdef bytes b
    try:
        if pks == NULL or msgs == NULL or sigs == NULL or mlens == NULL or okshape == NULL:
            raise MemoryError()
        for i in range(n):
            okshape[i] = 1
            b = <bytes>pk_l[i]
            if PyBytes_GET_SIZE(b) != 32:
                b = _ED_PAD_PK
                okshape[i] = 0
            pks[i] = <const uint8_t *>PyBytes_AS_STRING(b)
            b = <bytes>sig_l[i]
            if PyBytes_GET_SIZE(b) != 64:
                b = _ED_PAD_SIG
                okshape[i] = 0
            sigs[i] = <const uint8_t *>PyBytes_AS_STRING(b)
            b = <bytes>msg_l[i]
            msgs[i] = <const uint8_t *>PyBytes_AS_STRING(b)
            mlens[i] = <size_t>PyBytes_GET_SIZE(b)
        if _first_bad:
            return _ed_run_first_bad(n, pks, msgs, mlens, sigs, okshape, threads, coefficients)
        return _ed_run_batch(n, pks, msgs, mlens, sigs, okshape, threads, coefficients)
    finally:
        free(pks); free(msgs); free(sigs); free(mlens); free(okshape)


def ed25519_verify_records(records, Py_ssize_t record_size, int threads=0, coefficients=None,
                           bint _first_bad=False):
    """Verdicts for a contiguous buffer of fixed-size records, each
    public_key (32) || signature (64) || message (record_size - 96).
    _first_bad: see ed25519_first_bad."""
    if record_size < 96:
        raise ValueError("record_size must be at least 96")
    cdef const unsigned char[::1] buf = memoryview(records).cast("B")
    cdef Py_ssize_t total = buf.shape[0]
    if total % record_size:
        raise ValueError("buffer length is not a multiple of record_size")
    cdef size_t n = <size_t>(total // record_size)
    cdef const uint8_t *base = &buf[0] if total else NULL
    cdef const uint8_t **pks = <const uint8_t **>malloc((n + 1) * sizeof(uint8_t *))
    cdef const uint8_t **msgs = <const uint8_t **>malloc((n + 1) * sizeof(uint8_t *))
    cdef const uint8_t **sigs = <const uint8_t **>malloc((n + 1) * sizeof(uint8_t *))
    cdef size_t *mlens = <size_t *>malloc((n + 1) * sizeof(size_t))
    cdef uint8_t *okshape = <uint8_t *>malloc(n + 1)
    cdef size_t i
    cdef const uint8_t *rec
    try:
        if pks == NULL or msgs == NULL or sigs == NULL or mlens == NULL or okshape == NULL:
            raise MemoryError()
        for i in range(n):
            rec = base + i * <size_t>record_size
            pks[i] = rec
            sigs[i] = rec + 32
            msgs[i] = rec + 96
            mlens[i] = <size_t>(record_size - 96)
            okshape[i] = 1
        if _first_bad:
            return _ed_run_first_bad(n, pks, msgs, mlens, sigs, okshape, threads, coefficients)
        return _ed_run_batch(n, pks, msgs, mlens, sigs, okshape, threads, coefficients)
    finally:
        free(pks); free(msgs); free(sigs); free(mlens); free(okshape)


def ed25519_first_bad(public_keys, messages, signatures, int threads=0, coefficients=None):
    """The position of the first triple whose signature fails, None if all hold; no verdicts for
    the rest (a hostile batch costs about what a valid one does)."""
    return ed25519_verify_batch(public_keys, messages, signatures, threads, coefficients, True)


def ed25519_first_bad_records(records, Py_ssize_t record_size, int threads=0, coefficients=None):
    """ed25519_first_bad over a buffer of records (see ed25519_verify_records)."""
    return ed25519_verify_records(records, record_size, threads, coefficients, True)
