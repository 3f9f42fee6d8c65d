"""The version-2 state map (docs/FORMAT.md §7.2): the readable twin (ledger.state_tree) against the
recursive definition written here with the blake3 package (no ledger hashing code), and the native
tree (_core.StateTree, ledger/csrc/state_tree.c) against the twin, on hand cases and on random
operation sequences (hypothesis), with every bucket split and both BLAKE3 paths (portable, AVX2)."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import _core
from ledger import state_tree as twin
from ledger.state_tree import EMPTY, Path, fold

# --- the definition, from §7.2 alone -------------------------------------------------------------


def _key(context: str) -> bytes:
    return blake3.blake3(b"", derive_key_context=context).digest()


KEY_LEAF = _key("ledger 2026-11-30 v2 state leaf")
KEY_NODE = _key("ledger 2026-11-30 v2 state node")
KEY_KEY = _key("ledger 2026-11-30 v2 state key")
KEY_VALUE = _key("ledger 2026-11-30 v2 state value")


def _keyed(key: bytes, data: bytes) -> bytes:
    return blake3.blake3(data, key=key).digest()


def _bit(k: bytes, i: int) -> int:
    return (int.from_bytes(k, "big") >> (255 - i)) & 1


def define_root(entries: dict[bytes, bytes], depth: int = 0) -> bytes:
    if not entries:
        return bytes(32)
    if len(entries) == 1:
        ((k, v),) = entries.items()
        return _keyed(KEY_LEAF, k + v)
    halves = [{k: v for k, v in entries.items() if _bit(k, depth) == b} for b in (0, 1)]
    return _keyed(KEY_NODE, define_root(halves[0], depth + 1) + define_root(halves[1], depth + 1))


def leaf(k: bytes, v: bytes) -> bytes:
    return _keyed(KEY_LEAF, k + v)


def node(left: bytes, right: bytes) -> bytes:
    return _keyed(KEY_NODE, left + right)


def key_of(n: int) -> bytes:
    return n.to_bytes(32, "big")


def value_of(n: int) -> bytes:
    return _keyed(KEY_VALUE, n.to_bytes(8, "big"))


# --- fixtures --------------------------------------------------------------------------------------

BUCKET_BITS = [None, 0, 1, 2, 5, 8, 16]


@pytest.fixture(params=[False, True], ids=["portable", "avx2"])
def simd(request):
    if request.param and not _core.blake3_simd_available():
        pytest.skip("this CPU has no AVX2")
    before = _core.blake3_simd(-1)
    _core.blake3_simd(1 if request.param else 0)
    yield request.param
    _core.blake3_simd(1 if before else 0)


def trees(bucket_bits=None):
    native = _core.StateTree() if bucket_bits is None else _core.StateTree(bucket_bits=bucket_bits)
    return twin.StateTree(), native


def check_same(reference: twin.StateTree, native, probes) -> None:
    root = reference.root()
    assert native.root() == root
    assert len(native) == len(reference)
    for k in probes:
        assert native.get(k) == reference.get(k)
        path = native.path(k)
        assert isinstance(path, Path)
        assert path == reference.path(k)
        value = native.get(k)
        if value is not None:
            assert path.other is None
            terminal = twin.leaf_hash(k, value)
        else:
            terminal = EMPTY if path.other is None else twin.leaf_hash(*path.other)
        assert fold(k, terminal, path.siblings) == root


# --- the twin against the definition --------------------------------------------------------------

HAND_CASES = {
    "empty": [],
    "one": [key_of(5)],
    "two sharing 255 bits": [key_of(6), key_of(7)],
    "the two ends": [key_of(0), key_of(2**256 - 1)],
    "adjacent": [key_of(2**200 + 41), key_of(2**200 + 42), key_of(2**200 + 43)],
    "node over (x, EMPTY)": [key_of(0), key_of(1 << 253)],
    "three, one alone": [key_of(0), key_of(1 << 254), key_of(1 << 255)],
    "ends and middle": [key_of(0), key_of(1), key_of(2**255), key_of(2**256 - 2), key_of(2**256 - 1)],
}


@pytest.mark.parametrize("name", list(HAND_CASES))
def test_twin_equals_definition(name):
    entries = {k: value_of(i) for i, k in enumerate(HAND_CASES[name])}
    assert twin.StateTree(entries).root() == define_root(entries)


def test_definition_by_hand():
    """The shapes §7.2 names, written out: a single leaf, collapse, node(x, EMPTY), depth 256."""
    a, b = key_of(0), key_of(1 << 253)          # share bits 0, 1; differ at bit 2
    va, vb = value_of(1), value_of(2)
    assert define_root({a: va}) == leaf(a, va)
    assert define_root({a: va, b: vb}) == node(node(node(leaf(a, va), leaf(b, vb)), EMPTY), EMPTY)
    c = key_of(1 << 255)
    vc = value_of(3)
    assert define_root({a: va, b: vb, c: vc}) == node(node(node(leaf(a, va), leaf(b, vb)), EMPTY), leaf(c, vc))
    low, high = key_of(6), key_of(7)             # share 255 bits
    h = node(leaf(low, va), leaf(high, vb))
    for d in range(254, -1, -1):
        h = node(EMPTY, h) if _bit(low, d) else node(h, EMPTY)
    assert define_root({low: va, high: vb}) == h
    path = twin.StateTree({low: va, high: vb}).path(low)
    assert len(path.siblings) == 256 and path.siblings[-1] == leaf(high, vb) and set(path.siblings[:-1]) == {b""}


def test_hash_functions_equal_definition():
    owner, pk = bytes(range(32)), bytes(range(32, 64))
    assert twin.account_key_hash(pk) == _keyed(KEY_KEY, b"\x00" + pk)
    assert twin.record_key_hash(owner, b"k") == _keyed(KEY_KEY, b"\x01" + owner + b"k")
    assert twin.account_value_hash(7, 9) == _keyed(KEY_VALUE, b"\x00" + (7).to_bytes(8, "big") + (9).to_bytes(8, "big"))
    assert twin.record_value_hash(b"") == _keyed(KEY_VALUE, b"\x01")


# --- native against the twin: hand cases -----------------------------------------------------------


@pytest.mark.parametrize("bucket_bits", BUCKET_BITS)
@pytest.mark.parametrize("name", list(HAND_CASES))
def test_native_hand_cases(simd, bucket_bits, name):
    reference, native = trees(bucket_bits)
    keys = HAND_CASES[name]
    items = [(k, value_of(i)) for i, k in enumerate(keys)]
    assert native.update(items) == reference.update(items)
    probes = keys + [key_of(0), key_of(3), key_of(2**256 - 1), key_of(2**255 + 1), key_of(1 << 253 | 1)]
    check_same(reference, native, probes)
    assert native.root() == define_root(dict(items))


@pytest.mark.parametrize("bucket_bits", BUCKET_BITS)
def test_empty_tree(bucket_bits):
    _, native = trees(bucket_bits)
    assert native.root() == EMPTY and len(native) == 0
    assert native.path(key_of(9)) == Path((), None)
    assert native.get(key_of(9)) is None
    native.revert(native.update([]))
    native.revert(native.update_packed(b"", b""))
    assert native.root() == EMPTY


# --- native against the twin: random operation sequences -----------------------------------------

PREFIXES = [bytes(31), b"\xff" * 31, b"\x80" + bytes(29), bytes.fromhex("5a" * 28), b"\x00\x01"]


@st.composite
def key_hashes(draw):
    kind = draw(st.sampled_from(["random", "clustered", "ends"]))
    if kind == "random":
        return draw(st.binary(min_size=32, max_size=32))
    if kind == "clustered":
        prefix = draw(st.sampled_from(PREFIXES))
        return prefix + draw(st.binary(min_size=32 - len(prefix), max_size=32 - len(prefix)))
    n = draw(st.integers(0, 40))
    return key_of(n) if draw(st.booleans()) else key_of(2**256 - 1 - n)


VALUES = st.sampled_from([value_of(i) for i in range(6)])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), bucket_bits=st.sampled_from(BUCKET_BITS))
def test_random_operations(data, bucket_bits):
    reference, native = trees(bucket_bits)
    seen: list[bytes] = []
    stack = []   # (twin undo, native undo, packed?)
    for _ in range(data.draw(st.integers(1, 12), label="operations")):
        op = data.draw(st.sampled_from(["update", "update", "packed", "revert"]), label="op")
        if op == "revert":
            if stack:
                reference_undo, native_undo = stack.pop()
                reference.revert(reference_undo)
                native.revert(native_undo)
        else:
            keys = data.draw(st.lists(st.one_of(key_hashes(), st.sampled_from(seen) if seen else key_hashes()),
                                      max_size=24), label="keys")
            items = [(k, data.draw(VALUES, label="value")) for k in keys]
            seen.extend(keys)
            reference_undo = reference.update(items)
            if op == "packed":
                native_undo = native.update_packed(b"".join(k for k, _ in items), b"".join(v for _, v in items))
                assert native_undo.items() == reference_undo
            else:
                native_undo = native.update(items)
                assert native_undo == reference_undo
            stack.append((reference_undo, native_undo))
        probes = seen[-16:] + [data.draw(key_hashes(), label="probe") for _ in range(3)]
        check_same(reference, native, probes)


def test_revert_gives_the_old_root(simd):
    rng = __import__("random").Random(11)
    native = _core.StateTree()
    keys = [rng.randbytes(32) for _ in range(3000)]
    native.update_packed(b"".join(keys), b"".join(value_of(1) for _ in keys))
    before = native.root()
    fresh = [rng.randbytes(32) for _ in range(500)]
    batch = keys[:700] + fresh + keys[:10]
    undo = native.update_packed(b"".join(batch), b"".join(value_of(i % 5 + 2) for i in range(len(batch))))
    assert native.root() != before and len(native) == 3500
    native.revert(undo)
    assert native.root() == before and len(native) == 3000
    assert all(native.get(k) is None for k in fresh)
    assert native.get(keys[0]) == value_of(1)


@pytest.mark.parametrize("bucket_bits", [None, 4, 12])
def test_many_entries_and_growth(simd, bucket_bits):
    """Enough entries that an adaptive tree deepens its buckets (a rebuild) between updates."""
    rng = __import__("random").Random(bucket_bits or 3)
    reference, native = trees(bucket_bits)
    undos = []
    for size in (500, 1500, 4000):
        items = [(rng.randbytes(32), value_of(rng.randrange(6))) for _ in range(size)]
        items += [(k, value_of(5)) for k, _ in items[:50]]
        undos.append((reference.update(items), native.update_packed(b"".join(k for k, _ in items),
                                                                    b"".join(v for _, v in items))))
        check_same(reference, native, [k for k, _ in items[::97]] + [rng.randbytes(32) for _ in range(20)])
    if bucket_bits is None:
        assert native.bucket_bits > 8
    for reference_undo, native_undo in reversed(undos[1:]):
        reference.revert(reference_undo)
        native.revert(native_undo)
        check_same(reference, native, [k for k, _ in reference_undo[::211]])


def test_paths_of_every_entry(simd):
    rng = __import__("random").Random(5)
    for bucket_bits in BUCKET_BITS:
        reference, native = trees(bucket_bits)
        keys = [rng.randbytes(32) for _ in range(150)] + [PREFIXES[0] + bytes([i]) for i in range(0, 40, 3)]
        items = [(k, value_of(i % 6)) for i, k in enumerate(keys)]
        reference.update(items)
        native.update(items)
        check_same(reference, native, keys)


def test_twin_undo_list_reverts_native():
    native = _core.StateTree()
    items = [(key_of(i * 7919), value_of(i % 3)) for i in range(40)]
    undo = native.update(items)
    again = native.update([(key_of(0), value_of(4))])
    assert again == [(key_of(0), value_of(0))]
    native.revert(list(again))
    assert native.get(key_of(0)) == value_of(0)
    native.revert(undo)
    assert native.root() == EMPTY and len(native) == 0


# --- batch key and value hashing -------------------------------------------------------------------


def test_account_hashes():
    rng = __import__("random").Random(2)
    accounts = [(rng.randbytes(32), rng.randrange(2**64), rng.randrange(2**64)) for _ in range(300)]
    accounts += [(bytes(32), 0, 0), (b"\xff" * 32, 2**64 - 1, 2**64 - 1)]
    # The store's and AccountCache.take_dirty's layout: key || balance || nonce, u64 big-endian.
    packed = b"".join(k + b.to_bytes(8, "big") + n.to_bytes(8, "big") for k, b, n in accounts)
    key_hashes, value_hashes = _core.state_account_hashes(packed)
    assert key_hashes == b"".join(twin.account_key_hash(k) for k, _, _ in accounts)
    assert value_hashes == b"".join(twin.account_value_hash(b, n) for _, b, n in accounts)
    assert _core.state_account_hashes(bytearray(packed[:48])) == (key_hashes[:32], value_hashes[:32])
    assert _core.state_account_hashes(b"") == (b"", b"")


def test_record_hashes():
    rng = __import__("random").Random(4)
    owners = [rng.randbytes(32) for _ in range(60)]
    keys = [rng.randbytes(rng.randrange(65)) for _ in owners]
    values = [rng.randbytes(rng.choice([0, 1, 63, 64, 65, 1024, 1025, 4096])) for _ in owners]
    expected_keys = b"".join(twin.record_key_hash(o, k) for o, k in zip(owners, keys))
    expected_values = b"".join(twin.record_value_hash(v) for v in values)
    assert _core.state_record_hashes(owners, keys, values) == (expected_keys, expected_values)
    assert _core.state_record_hashes(b"".join(owners), keys, values) == (expected_keys, expected_values)
    assert _core.state_record_hashes([], [], []) == (b"", b"")


# --- bad inputs ------------------------------------------------------------------------------------


def test_bad_inputs():
    native = _core.StateTree()
    k, v = key_of(1), value_of(1)
    for bad in [(k[:31], v), (k, v + b"\x00"), (b"", v)]:
        with pytest.raises(ValueError):
            native.update([bad])
    for bad in [("a" * 32, v), (k, "b" * 32), (None, v), (k, 5)]:
        with pytest.raises(TypeError):
            native.update([bad])
    # An item checked bad changes nothing, even after good ones.
    with pytest.raises(ValueError):
        native.update([(k, v), (k[:5], v)])
    assert len(native) == 0 and native.root() == EMPTY
    with pytest.raises(ValueError):
        native.update_packed(k, v + v)
    with pytest.raises(ValueError):
        native.update_packed(k[:31], v[:31])
    with pytest.raises(TypeError):
        native.update_packed("a" * 32, v)
    with pytest.raises(ValueError):
        native.get(k[:31])
    with pytest.raises(TypeError):
        native.path("a" * 32)
    with pytest.raises(ValueError):
        _core.StateTree(bucket_bits=25)
    with pytest.raises(ValueError):
        _core.StateTree(bucket_bits=-1)
    with pytest.raises(ValueError):
        _core.state_account_hashes(bytes(47))
    with pytest.raises(TypeError):
        _core.state_account_hashes("x" * 48)
    with pytest.raises(TypeError):
        _core.state_record_hashes([k], ["key"], [b""])
    with pytest.raises(ValueError):
        _core.state_record_hashes([k[:31]], [b"key"], [b""])
    with pytest.raises(ValueError):
        _core.state_record_hashes([k], [b"key"], [])
    with pytest.raises(ValueError):
        _core.state_record_hashes(k + b"x", [b"key"], [b""])


def test_undo_tokens_are_checked():
    native, other = _core.StateTree(), _core.StateTree()
    first = native.update_packed(key_of(1), value_of(1))
    second = native.update_packed(key_of(2), value_of(2))
    with pytest.raises(ValueError):
        other.revert(first)
    with pytest.raises(ValueError):
        native.revert(first)            # not the newest
    native.revert(second)
    with pytest.raises(ValueError):
        native.revert(second)           # already reverted
    native.revert(first)
    assert len(native) == 0 and native.root() == EMPTY
    # A hand-made undo list removing an absent key: KeyError, as the twin's.
    with pytest.raises(KeyError):
        native.revert([(key_of(3), None)])


@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""), reason="ASan reserves address space")
def test_no_memory_changes_nothing():
    """A batch whose entries cannot be allocated raises MemoryError and leaves the tree as it was."""
    script = textwrap.dedent("""
        import os, resource, traceback
        from ledger import _core
        tree = _core.StateTree(bucket_bits=16)
        tree.update([(bytes(32), bytes(32))])
        root = tree.root()
        n = 1_000_000
        keys, values = os.urandom(32 * n), os.urandom(32 * n)
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
        # Room for the undo record (65 MB) and the list of touched buckets (4 MB), not for 64 MB
        # of entries: the tree's own allocation fails (the traceback ends in _st_status).
        resource.setrlimit(resource.RLIMIT_AS, (vm + (90 << 20), resource.RLIM_INFINITY))
        try:
            tree.update_packed(keys, values)
        except MemoryError:
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            assert "_st_status" in traceback.format_exc(), traceback.format_exc()
            assert tree.root() == root and len(tree) == 1, "changed"
            tree.update_packed(keys[:320], values[:320])
            assert len(tree) == 11
            print("memory-error")
        else:
            print("no-error")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "memory-error"
