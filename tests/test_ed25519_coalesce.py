"""Batch verification coalesced by key (ledger/csrc/ed25519_batch.c; crypto.set_coalesce): the terms
of one public key share one point of the random combination, so n signatures by d distinct keys
sum n + d + 1 points instead of 2n + 1. The verdicts must not change: every test here compares
per-item verdicts and first_bad, with coalescing on and off and over 1-3 threads, with single
verification and the pure-Python twin ledger/ed25519_ref.py, on batches where keys repeat and
some signatures (or a shared key) are bad, and on every shared vector with its cases repeated.
The point counts come from the verifier's own counters (_core.ed25519_batch_stats).
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from ledger import _core, crypto, ed25519_ref

L = 2 ** 252 + 27742317777372353535851937790883648493
P = 2 ** 255 - 19
KEYS = [SigningKey(bytes([i + 1]) * 32) for i in range(8)]
PUBS = [bytes(k.verify_key) for k in KEYS]
OFF_CURVE_KEY = (2).to_bytes(32, "little")  # y = 2 names no point
KINDS = ("message", "other-key", "s-plus-l", "s-bit", "r-off-curve", "r-bit", "short", "key-off-curve")


@pytest.fixture(params=[True, False], ids=["coalesced", "plain"])
def coalesce(request):
    previous = crypto.set_coalesce(request.param)
    try:
        yield request.param
    finally:
        crypto.set_coalesce(previous)


def make_batch(rng: random.Random, n: int, nkeys: int, nbad: int):
    """n signatures by nkeys keys (drawn at random), nbad of them spoiled in random ways."""
    pks, msgs, sigs = [], [], []
    for _ in range(n):
        k = rng.randrange(nkeys)
        m = rng.randbytes(rng.choice((0, 7, 32, 100)))
        pks.append(PUBS[k])
        msgs.append(m)
        sigs.append(KEYS[k].sign(m).signature)
    for i in rng.sample(range(n), min(nbad, n)):
        kind = rng.choice(KINDS)
        s = sigs[i]
        if kind == "message":
            msgs[i] = msgs[i] + b"!"
        elif kind == "other-key":   # a good signature of the same message by another key of the batch
            pks[i] = PUBS[(PUBS.index(pks[i]) + 1) % nkeys] if nkeys > 1 else OFF_CURVE_KEY
        elif kind == "s-plus-l":
            sigs[i] = s[:32] + (int.from_bytes(s[32:], "little") + L).to_bytes(32, "little")
        elif kind == "s-bit":
            sigs[i] = s[:32] + bytes([s[32] ^ 4]) + s[33:]
        elif kind == "r-off-curve":
            sigs[i] = (2).to_bytes(32, "little") + s[32:]
        elif kind == "r-bit":
            sigs[i] = bytes([s[0] ^ 1]) + s[1:]
        elif kind == "short":
            sigs[i] = s[:63]
        else:
            pks[i] = OFF_CURVE_KEY
    return pks, msgs, sigs


def check_batch(pks, msgs, sigs, coefficients=None):
    """Verdicts and first_bad, on 1-3 threads, equal single verification's."""
    want = [crypto.verify(p, m, s) for p, m, s in zip(pks, msgs, sigs)]
    first = want.index(False) if False in want else None
    for threads in (1, 2, 3):
        assert crypto.verify_batch(pks, msgs, sigs, threads=threads) == want, threads
        assert crypto.first_bad(pks, msgs, sigs, threads) == first, threads
    if coefficients is not None:
        assert _core.ed25519_verify_batch(pks, msgs, sigs, 2, coefficients) == want
        assert _core.ed25519_first_bad(pks, msgs, sigs, 2, coefficients) == first
    return want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 32), n=st.integers(0, 140), nkeys=st.integers(1, 5),
       nbad=st.integers(0, 6), twin=st.booleans())
def test_random_batches_of_few_keys(seed, n, nkeys, nbad, twin):
    rng = random.Random(seed)
    pks, msgs, sigs = make_batch(rng, n, nkeys, nbad)
    previous = crypto.coalesce_enabled()
    try:
        verdicts = []
        for on in (True, False):
            crypto.set_coalesce(on)
            verdicts.append(check_batch(pks, msgs, sigs, rng.randbytes(16 * n)))
        assert verdicts[0] == verdicts[1]
    finally:
        crypto.set_coalesce(previous)
    if twin:  # the pure-Python twin agrees item by item (a sample: it is slow)
        for i in rng.sample(range(n), min(n, 25)):
            assert ed25519_ref.verify(pks[i], msgs[i], sigs[i]) == verdicts[0][i], i


@pytest.mark.parametrize("nkeys", [1, 3, 8])
def test_many_bad_among_repeated_keys(coalesce, nkeys):
    """Many bad items, some sharing a bad key, in batches large enough for Pippenger's method and
    deep bisection."""
    rng = random.Random(nkeys)
    pks, msgs, sigs = make_batch(rng, 700, nkeys, 90)
    want = check_batch(pks, msgs, sigs)
    assert 0 < sum(want) < 700


def _points_for(pks, threads: int) -> tuple[int, int]:
    """(checks, points) summed by one valid batch."""
    _core.ed25519_batch_stats(True)
    msgs = [b"m%d" % i for i in range(len(pks))]
    sigs = [KEYS[PUBS.index(p)].sign(m).signature for p, m in zip(pks, msgs)]
    assert all(crypto.verify_batch(pks, msgs, sigs, threads=threads))
    return _core.ed25519_batch_stats()


def test_points_n_plus_d_plus_1():
    """One valid batch is one combined check of n + d + 1 points coalesced, 2n + 1 plain; on two
    threads the items are dealt by key, so at most one key is split between them: n + d + 2 or
    n + d + 3 points in two checks (halves by position would sum n + d0 + d1 + 2)."""
    rng = random.Random(5)
    n = 600
    pks = [PUBS[rng.randrange(7)] for _ in range(n)]
    previous = crypto.set_coalesce(True)
    try:
        assert _points_for(pks, 1) == (1, n + 7 + 1)
        checks, points = _points_for(pks, 2)
        assert checks == 2 and n + 7 + 2 <= points <= n + 7 + 3
        crypto.set_coalesce(False)
        assert _points_for(pks, 1) == (1, 2 * n + 1)
        assert _points_for(pks, 2) == (2, 2 * n + 2)
    finally:
        crypto.set_coalesce(previous)


def test_switch():
    previous = crypto.set_coalesce(False)
    try:
        assert crypto.coalesce_enabled() is False
        assert crypto.set_coalesce(True) is False
        assert crypto.coalesce_enabled() is True
        assert _core.ed25519_batch_coalesce(-1) is True
    finally:
        crypto.set_coalesce(previous)


def _encode(point) -> bytes:
    return ed25519_ref.encode_point(point)


def test_encodings_of_one_point_stay_separate(coalesce):
    """The identity as public key in three encodings (canonical, y = p + 1, x = -0): each encoding
    is its own term (bytes decide the groups) and every verdict is the single one. With A the
    identity, (R, S) = ([r]B, r) is valid for any message under ZIP 215."""
    identity_keys = [(1).to_bytes(32, "little"), (P + 1).to_bytes(32, "little"),
                     (1 | (1 << 255)).to_bytes(32, "little")]
    rng = random.Random(11)
    pks, msgs, sigs = [], [], []
    for i in range(240):
        r = rng.randrange(1, L)
        sig = _encode(ed25519_ref.scalar_mult(r, ed25519_ref.B)) + r.to_bytes(32, "little")
        if i % 17 == 5:
            sig = sig[:32] + ((r + 1) % L).to_bytes(32, "little")  # wrong S
        pks.append(identity_keys[i % 3])
        msgs.append(rng.randbytes(9))
        sigs.append(sig)
    want = check_batch(pks, msgs, sigs)
    assert want == [i % 17 != 5 for i in range(240)]
    assert [ed25519_ref.verify(p, m, s) for p, m, s in list(zip(pks, msgs, sigs))[:12]] == want[:12]
    good = [i for i in range(240) if want[i]]
    _core.ed25519_batch_stats(True)
    assert all(crypto.verify_batch([pks[i] for i in good], [msgs[i] for i in good], [sigs[i] for i in good],
                                   threads=1))
    n = len(good)
    assert _core.ed25519_batch_stats() == (1, n + 3 + 1 if coalesce else 2 * n + 1)


def test_shared_vectors_with_repeats(coalesce):
    """Every case of every shared vector set, each repeated 1-3 times, shuffled into one batch (the
    Wycheproof cases already share their keys): verdicts and first_bad as listed."""
    vectors = pytest.importorskip("test_ed25519_vectors")
    if not vectors.VECTORS.is_dir():
        pytest.skip("shared vectors not present")
    rng = random.Random(3)
    for name in vectors.SETS:
        cs = [c for c in vectors.cases(name) for _ in range(rng.randint(1, 3))]
        rng.shuffle(cs)
        args = ([c[0] for c in cs], [c[1] for c in cs], [c[2] for c in cs])
        want = [c[3] for c in cs]
        for threads in (1, 2):
            assert crypto.verify_batch(*args, threads=threads) == want, (name, threads)
            assert crypto.first_bad(*args, threads) == (want.index(False) if False in want else None)
        ok = [c for c in cs if c[3]]
        assert all(crypto.verify_batch([c[0] for c in ok], [c[1] for c in ok], [c[2] for c in ok], threads=2))


def test_switch_flipped_while_batches_run():
    """Batches on other threads (GIL released) see the switch flipped under them: each batch reads
    it once, and every verdict stays right."""
    import threading
    rng = random.Random(9)
    pks, msgs, sigs = make_batch(rng, 300, 4, 12)
    want = [crypto.verify(p, m, s) for p, m, s in zip(pks, msgs, sigs)]
    errors: list[str] = []

    def work():
        for _ in range(6):
            if crypto.verify_batch(pks, msgs, sigs, threads=2) != want:
                errors.append("verdicts")

    previous = crypto.coalesce_enabled()
    workers = [threading.Thread(target=work) for _ in range(2)]
    try:
        for w in workers:
            w.start()
        flip = False
        while any(w.is_alive() for w in workers):  # flips as fast as the GIL lets it
            crypto.set_coalesce(flip)
            flip = not flip
    finally:
        for w in workers:
            w.join()
        crypto.set_coalesce(previous)
    assert errors == []
