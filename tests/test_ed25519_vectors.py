"""Every Ed25519 vector in /work/shared/vectors (formats and verdicts: SOURCES.md there), through the
native single verifier, native batches of the vectors alone, native batches mixed with valid
signatures at random positions, and the pure-Python ZIP-215 twin."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from ledger import _core, crypto, ed25519_ref

VECTORS = Path(os.environ.get("LEDGER_VECTORS", "/work/shared/vectors"))

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="shared vectors not present")

Case = tuple[bytes, bytes, bytes, bool]  # public key, message, signature, ZIP-215 verdict


def kat_cases() -> list[Case]:
    out = []
    for line in (VECTORS / "ed25519_sign_input_kat.txt").read_text().splitlines():
        if not line:
            continue
        sk, pk, msg, sigmsg, _ = line.split(":")
        out.append((bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sigmsg)[:64], True))
    return out


WYCHEPROOF_ZIP215_DIVERGENCE = {151}  # R = 0100..0080 ("x = -0"): Wycheproof says invalid, ZIP-215 accepts


def wycheproof_raw() -> list[tuple[int, bytes, bytes, bytes, str]]:
    data = json.loads((VECTORS / "wycheproof_ed25519_test.json").read_text())
    out = []
    for group in data["testGroups"]:
        pk = bytes.fromhex(group["publicKey"]["pk"])
        for t in group["tests"]:
            out.append((t["tcId"], pk, bytes.fromhex(t["msg"]), bytes.fromhex(t["sig"]), t["result"]))
    return out


def wycheproof_cases() -> list[Case]:
    return [(pk, msg, sig, result == "valid" or tc in WYCHEPROOF_ZIP215_DIVERGENCE)
            for tc, pk, msg, sig, result in wycheproof_raw()]


def cctv_cases() -> list[Case]:
    data = json.loads((VECTORS / "cctv_ed25519vectors_zip215.json").read_text())
    out = []
    for v in data:
        flags = set(v.get("flags") or [])
        accept = "reencoded_k" not in flags or "low_order_A" in flags
        out.append((bytes.fromhex(v["key"]), v["msg"].encode(), bytes.fromhex(v["sig"]), accept))
    return out


def small_order_cases() -> list[Case]:
    data = json.loads((VECTORS / "zip215_small_order_196.json").read_text())
    return [(bytes.fromhex(c["vk"]), c["msg_ascii"].encode(), bytes.fromhex(c["sig"]), bool(c["valid_zip215"]))
            for c in data["cases"]]


def speccheck_cases() -> list[Case]:
    data = json.loads((VECTORS / "speccheck_cases.json").read_text())
    expected = "VVVVVVXXXVVV"
    return [(bytes.fromhex(c["pub_key"]), bytes.fromhex(c["message"]), bytes.fromhex(c["signature"]), e == "V")
            for c, e in zip(data, expected)]


SETS = {
    "kat": kat_cases,
    "wycheproof": wycheproof_cases,
    "cctv": cctv_cases,
    "small_order": small_order_cases,
    "speccheck": speccheck_cases,
}

_cache: dict[str, list[Case]] = {}


def cases(name: str) -> list[Case]:
    if name not in _cache:
        _cache[name] = SETS[name]()
    return _cache[name]


# --- the expected counts from SOURCES.md --------------------------------------------------------

def test_vector_counts():
    assert len(cases("kat")) == 1024 and all(c[3] for c in cases("kat"))
    w = cases("wycheproof")
    assert len(w) == 151
    assert sum(c[3] for c in w) == 88 + 1  # 88 valid + tcId 151 under ZIP-215
    cc = cases("cctv")
    assert len(cc) == 914 and sum(c[3] for c in cc) == 826
    so = cases("small_order")
    assert len(so) == 196 and all(c[3] for c in so)
    assert len(cases("speccheck")) == 12


def test_wycheproof_tc151_is_the_one_divergence():
    raw = {tc: (pk, msg, sig, res) for tc, pk, msg, sig, res in wycheproof_raw()}
    pk, msg, sig, res = raw[151]
    assert res == "invalid"
    assert sig[:32] == bytes.fromhex("01" + "00" * 30 + "80")
    assert crypto.verify(pk, msg, sig) is True
    assert ed25519_ref.verify(pk, msg, sig) is True
    assert crypto.verify_batch([pk], [msg], [sig]) == [True]
    # and every other Wycheproof verdict is the listed one
    for tc, pk, msg, sig, res in wycheproof_raw():
        if tc != 151:
            assert crypto.verify(pk, msg, sig) == (res == "valid"), tc


# --- single, batch alone, batch mixed, twin ------------------------------------------------------

@pytest.mark.parametrize("name", list(SETS))
def test_single(name):
    bad = [i for i, (pk, m, s, exp) in enumerate(cases(name)) if crypto.verify(pk, m, s) != exp]
    assert bad == []


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(SETS))
def test_batch_alone(name, threads):
    cs = cases(name)
    got = crypto.verify_batch([c[0] for c in cs], [c[1] for c in cs], [c[2] for c in cs], threads=threads)
    assert got == [c[3] for c in cs]


@pytest.fixture
def portable_only():
    """Runs a test with the AVX2 path switched off (the portable code alone), then restores it."""
    before = _core.ed25519_simd(-1)
    _core.ed25519_simd(0)
    try:
        yield
    finally:
        _core.ed25519_simd(1 if before else 0)


@pytest.mark.parametrize("name", list(SETS))
def test_batch_portable_path(name, portable_only):
    assert not _core.ed25519_simd(-1)
    cs = cases(name)
    got = crypto.verify_batch([c[0] for c in cs], [c[1] for c in cs], [c[2] for c in cs], threads=2)
    assert got == [c[3] for c in cs]
    assert [crypto.verify(*c[:3]) for c in cs] == [c[3] for c in cs]


@pytest.mark.parametrize("name", list(SETS))
def test_key_cache(name):
    """Verdicts are the same with the key cache off, cold and warm (every key then a hit)."""
    cs = cases(name)
    args = ([c[0] for c in cs], [c[1] for c in cs], [c[2] for c in cs])
    want = [c[3] for c in cs]
    try:
        _core.ed25519_keycache(False)
        assert crypto.verify_batch(*args, threads=1) == want
        assert [crypto.verify(*c[:3]) for c in cs] == want
        _core.ed25519_keycache(True)
        _core.ed25519_keycache_clear()
        assert crypto.verify_batch(*args, threads=2) == want  # cold: fills the cache (points only)
        assert [crypto.verify(*c[:3]) for c in cs] == want    # points cached; tables added
        assert [crypto.verify(*c[:3]) for c in cs] == want    # points and tables cached
        assert crypto.verify_batch(*args, threads=2) == want
        hits, misses = _core.ed25519_keycache_stats()
        assert hits > 0
    finally:
        _core.ed25519_keycache(True)


def test_simd_switch():
    avail = _core.ed25519_simd_available()
    before = _core.ed25519_simd(-1)
    assert before == avail  # on by default exactly when the CPU has AVX2
    assert _core.ed25519_simd(0) is False
    assert _core.ed25519_simd(1) == avail
    _core.ed25519_simd(1 if before else 0)


@pytest.mark.parametrize("name", list(SETS))
def test_batch_small_chunks(name):
    """Batches of a few items each (the Straus path), and each item as a batch of one."""
    cs = cases(name)
    rng = random.Random(7)
    i = 0
    while i < len(cs):
        k = rng.choice([1, 2, 3, 5, 8, 13, 40])
        chunk = cs[i:i + k]
        got = crypto.verify_batch([c[0] for c in chunk], [c[1] for c in chunk], [c[2] for c in chunk], threads=1)
        assert got == [c[3] for c in chunk], (name, i)
        i += k


_valid_pool: list[Case] = []


def valid_signatures(n: int) -> list[Case]:
    rng = random.Random(1234)
    while len(_valid_pool) < n:
        sk = SigningKey(rng.randbytes(32))
        msg = rng.randbytes(rng.randrange(0, 200))
        _valid_pool.append((bytes(sk.verify_key), msg, sk.sign(msg).signature, True))
    return _valid_pool[:n]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(SETS))
def test_batch_mixed(name, seed):
    """The vectors scattered at random positions among valid signatures, in several batch sizes."""
    rng = random.Random(seed)
    cs = cases(name)
    for size in (16, 64, 300, 2000):
        picked = rng.sample(cs, min(len(cs), max(1, size // 4)))
        filler = valid_signatures(size - len(picked))
        mixed = picked + filler
        rng.shuffle(mixed)
        for threads in (1, 2):
            got = crypto.verify_batch([c[0] for c in mixed], [c[1] for c in mixed], [c[2] for c in mixed],
                                      threads=threads)
            assert got == [c[3] for c in mixed], (name, size, threads)


@pytest.mark.parametrize("name", list(SETS))
def test_records_buffer(name):
    """The same verdicts through one contiguous buffer of fixed-size records (grouped by message length)."""
    by_len: dict[int, list[Case]] = {}
    for c in cases(name):
        if len(c[0]) == 32 and len(c[2]) == 64:
            by_len.setdefault(len(c[1]), []).append(c)
    for group in by_len.values():
        buf, size = crypto.pack_records([c[0] for c in group], [c[1] for c in group], [c[2] for c in group])
        assert crypto.verify_batch(buf, record_size=size) == [c[3] for c in group]
        assert crypto.verify_records(memoryview(bytearray(buf)), size, threads=1) == [c[3] for c in group]


@pytest.mark.parametrize("name", list(SETS))
def test_twin(name):
    bad = [i for i, (pk, m, s, exp) in enumerate(cases(name)) if ed25519_ref.verify(pk, m, s) != exp]
    assert bad == []


@pytest.mark.parametrize("name", ["small_order", "cctv", "speccheck", "wycheproof"])
def test_batch_with_fixed_coefficients(name):
    """Deterministic coefficients (the test hook) give the same verdicts, including awkward ones."""
    cs = cases(name)
    n = len(cs)
    args = ([c[0] for c in cs], [c[1] for c in cs], [c[2] for c in cs])
    for coef in (b"\x01" + b"\0" * 15, b"\xff" * 16, bytes(range(16))):
        assert _core.ed25519_verify_batch(*args, 1, coef * n) == [c[3] for c in cs]


def test_is_small_order_on_vectors():
    data = json.loads((VECTORS / "zip215_small_order_196.json").read_text())
    for enc in data["encodings"]:
        b = bytes.fromhex(enc)
        assert crypto.is_small_order(b) and ed25519_ref.is_small_order(b)
    for pk, m, s, exp in cases("cctv") + cases("kat")[:50]:
        assert crypto.is_small_order(pk) == ed25519_ref.is_small_order(pk)
