"""State, history and binary proofs (docs/FORMAT.md §12, §13) against the readable twin of the state
map (ledger/state_tree.py) and headers signed here, so nothing depends on a store: every field of
every kind tampered one at a time, each refused with the code the check order names; non-canonical
encodings; absent keys ending in EMPTY and in another leaf; neighbouring keys and the ends of the key
space; history proofs; anchors; and the certificate scenario (write, prove, overwrite)."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Keypair, merkle, state_proofs, state_tree
from ledger.codec import BlockHeader, _pack, decode_header, encode_header, encode_unsigned_header
from ledger.errors import BAD_ENCODING, BAD_VERSION, LIMIT_EXCEEDED, RECORD_TOO_LARGE, LedgerError
from ledger.hashing import header_hash
from ledger.history_frontier import Frontier
from ledger.proofs import PROOF_INVALID, TxProof
from ledger.state_proofs import AccountProof, HistoryProof, RecordProof
from ledger.state_tree import EMPTY, Path, StateTree

VALIDATOR = Keypair.from_seed(b"state proofs validator".ljust(32, b"."))
STRANGER = Keypair.from_seed(b"state proofs stranger".ljust(32, b"."))
CHAIN_ID = hashlib.blake2b(b"state proofs chain", digest_size=32).digest()
OTHER_CHAIN = hashlib.blake2b(b"another chain", digest_size=32).digest()
ORDER_4 = bytes(32)                                   # y = 0: a point of order 4
FORGED_SIGNATURE = bytes([1]) + bytes(31) + bytes(32)  # R = identity, S = 0: holds for a small-order key


def make_header(height: int, state_root: bytes, history_root: bytes = b"\x07" * 32, proposer: Keypair = VALIDATOR,
                chain_id: bytes = CHAIN_ID, version: int = 2, **fields) -> bytes:
    values = dict(version=version, chain_id=chain_id, height=height, previous_hash=b"\x01" * 32,
                  time_ms=1_000 + height, tx_count=0, tx_root=merkle.root([]), state_commitment=state_root,
                  proposer=proposer.public_key, signature=b"", history_root=history_root if version == 2 else b"")
    values.update(fields)
    unsigned = BlockHeader(**values)
    digest = header_hash(encode_unsigned_header(unsigned))
    return encode_header(replace(unsigned, signature=proposer.sign(digest), hash=digest))


def resign(header: bytes, proposer: Keypair = VALIDATOR, **changes) -> bytes:
    """The header with fields changed and signed again by `proposer`."""
    h = decode_header(header)
    values = {name: getattr(h, name) for name in ("version", "chain_id", "height", "previous_hash", "time_ms",
                                                    "tx_count", "tx_root", "state_commitment", "history_root")}
    values.update(changes)
    return make_header(values.pop("height"), values.pop("state_commitment"), values.pop("history_root"),
                       proposer, **values)


def unsigned_change(header: bytes, **changes) -> bytes:
    """The header with fields changed and the old signature kept."""
    return encode_header(replace(decode_header(header), **changes))


def owner(n: int) -> bytes:
    return hashlib.sha256(b"owner %d" % n).digest()


# ---------------------------------------------------------------- a state and its header

ACCOUNTS = {hashlib.sha256(b"account %d" % n).digest(): (n * 1_000, n % 7) for n in range(300)}
ACCOUNTS[bytes(32)] = (2**64 - 1, 2**64 - 1)
RECORDS = {(owner(n % 5), b"licence/2026/%04d" % n): b"value %d" % n * (n % 3) for n in range(300)}


def state(accounts=ACCOUNTS, records=RECORDS) -> StateTree:
    tree = StateTree()
    tree.update([(state_tree.account_key_hash(k), state_tree.account_value_hash(*v)) for k, v in accounts.items()])
    tree.update([(state_tree.record_key_hash(o, k), state_tree.record_value_hash(v)) for (o, k), v in records.items()])
    return tree


TREE = state()
HEADER = make_header(5, TREE.root())
PRESENT_KEY = next(iter(ACCOUNTS))
PRESENT_OWNER, PRESENT_NAME = next(iter(RECORDS))


def account_proof(public_key: bytes, tree: StateTree = TREE, header: bytes = HEADER, accounts=ACCOUNTS):
    return state_proofs.prove_account(tree, public_key, accounts.get(public_key), header)


def record_proof(owner_key: bytes, name: bytes, tree: StateTree = TREE, header: bytes = HEADER, records=RECORDS):
    return state_proofs.prove_record(tree, owner_key, name, records.get((owner_key, name)), header)


def absent_account_with_other() -> bytes:
    """An account key not in the map whose path ends at another key's leaf."""
    for n in range(10_000):
        key = hashlib.sha256(b"absent %d" % n).digest()
        if TREE.path(state_tree.account_key_hash(key)).other is not None:
            return key
    raise AssertionError("no absent key ends in another leaf")


def absent_account_empty() -> bytes:
    """An account key not in the map whose path ends in EMPTY."""
    for n in range(100_000):
        key = hashlib.sha256(b"absent %d" % n).digest()
        if TREE.path(state_tree.account_key_hash(key)).other is None and key not in ACCOUNTS:
            return key
    raise AssertionError("no absent key ends in EMPTY")


ABSENT_OTHER = absent_account_with_other()
ABSENT_EMPTY = absent_account_empty()


def rejects(code: str, proof, trusted=None, chain_id=None, height=None):
    with pytest.raises(LedgerError) as caught:
        state_proofs.check_any_proof(state_proofs.decode(proof) if isinstance(proof, bytes) else proof, trusted, chain_id)
    assert caught.value.code == code, str(caught.value)
    if height is not None:
        assert caught.value.height == height
    return caught.value


def decode_rejects(code: str, data: bytes):
    with pytest.raises(LedgerError) as caught:
        state_proofs.decode(data)
    assert caught.value.code == code, str(caught.value)
    return caught.value


# ---------------------------------------------------------------- honest proofs


@pytest.mark.parametrize("key", [PRESENT_KEY, bytes(32), ABSENT_OTHER, ABSENT_EMPTY],
                         ids=["present", "zero-key", "absent-other-leaf", "absent-empty"])
def test_account_proof_verifies_and_round_trips(key):
    proof = account_proof(key)
    assert proof.present == (key in ACCOUNTS)
    assert state_proofs.state_root_of(proof) == TREE.root()
    header = state_proofs.check_state_proof(proof, [VALIDATOR.public_key], CHAIN_ID)
    assert header.height == 5
    data = proof.to_bytes()
    assert state_proofs.decode(data) == proof
    assert state_proofs.from_json(json.dumps(proof.to_json())) == proof
    assert state_proofs.verify_state_proof(data, [VALIDATOR.public_key], CHAIN_ID)
    assert state_proofs.verify_state_proof(json.dumps(proof.to_json()).encode(), [VALIDATOR.public_key])
    if key not in ACCOUNTS:
        assert (proof.balance, proof.nonce) == (0, 0)
        assert proof.to_json()["present"] is False


def test_absent_paths_take_both_shapes():
    assert account_proof(ABSENT_OTHER).path.other is not None
    assert account_proof(ABSENT_EMPTY).path.other is None


@pytest.mark.parametrize("name", [PRESENT_NAME, b"never/written", b""])
def test_record_proof_verifies(name):
    proof = record_proof(PRESENT_OWNER, name)
    assert proof.present == ((PRESENT_OWNER, name) in RECORDS)
    state_proofs.check_state_proof(proof, [VALIDATOR.public_key], CHAIN_ID)
    assert state_proofs.decode(proof.to_bytes()) == proof
    shown = proof.to_json()
    assert shown["value"] == (RECORDS[(PRESENT_OWNER, name)].hex() if proof.present else None)
    assert state_proofs.from_json(shown) == proof


def test_empty_value_is_present():
    records = {(owner(1), b"k"): b""}
    tree = state({}, records)
    header = make_header(1, tree.root())
    proof = record_proof(owner(1), b"k", tree, header, records)
    assert proof.present and proof.value == b""
    state_proofs.check_state_proof(proof)
    absent = RecordProof(owner(1), b"k", None, proof.path, header)
    rejects(PROOF_INVALID, absent)


def test_empty_map_and_single_entry():
    empty = StateTree()
    header = make_header(1, empty.root())
    proof = account_proof(PRESENT_KEY, empty, header, {})
    assert proof.path == Path((), None) and empty.root() == EMPTY
    state_proofs.check_state_proof(proof)
    one = {PRESENT_KEY: (5, 1)}
    tree = state(one, {})
    header = make_header(1, tree.root())
    state_proofs.check_state_proof(account_proof(PRESENT_KEY, tree, header, one))
    absent = account_proof(ABSENT_EMPTY, tree, header, one)
    assert absent.path == Path((), (state_tree.account_key_hash(PRESENT_KEY), state_tree.account_value_hash(5, 1)))
    state_proofs.check_state_proof(absent)


# ---------------------------------------------------------------- paths with chosen key hashes


def key_hash_of(top: int, bottom: int = 0) -> bytes:
    return top.to_bytes(1, "big") + bytes(30) + bottom.to_bytes(1, "big")


CHOSEN = [bytes(32), bytes(31) + b"\x01", bytes(31) + b"\x02", b"\xff" * 32, b"\xff" * 31 + b"\xfe",
          b"\x80" + bytes(31), b"\x7f" + b"\xff" * 31, key_hash_of(0x40, 3), key_hash_of(0x40, 2)]


@pytest.mark.parametrize("size", range(1, len(CHOSEN) + 1))
def test_chosen_paths_present_and_absent(size):
    """Keys next to each other (differing in the last bit), at both ends of the key space, and
    across the middle: each present key's path folds to the root from its leaf; each absent key's
    (the others and their neighbours) from EMPTY or another leaf on its path; a wrong value never."""
    entries = {k: hashlib.sha256(k).digest() for k in CHOSEN[:size]}
    tree = StateTree(entries)
    root = tree.root()
    probes = set(CHOSEN) | {bytes(31) + b"\x03", b"\xff" * 31 + b"\xfd", key_hash_of(0x40, 1), key_hash_of(0x41)}
    for key in probes:
        path = tree.path(key)
        present = entries.get(key)
        assert state_proofs.path_root(key, present, path) == root
        if present is not None:
            assert path.other is None
            assert state_proofs.path_root(key, hashlib.sha256(b"wrong").digest(), path) != root
            with pytest.raises(LedgerError) as caught:   # absent, ending in the key's own leaf
                state_proofs.path_root(key, None, Path(path.siblings, (key, present)))
            assert caught.value.code == PROOF_INVALID
        else:
            assert state_proofs.path_root(key, hashlib.sha256(b"x").digest(), path) != root
        assert len(path.siblings) <= 256


def test_full_depth_path():
    """Two keys differing only in bit 255: both paths are 256 siblings deep, 255 of them EMPTY, and
    the binary writes each EMPTY as two bytes."""
    a, b = bytes(32), bytes(31) + b"\x01"
    tree = StateTree({a: b"\x11" * 32, b: b"\x22" * 32})
    path = tree.path(a)
    assert len(path.siblings) == 256 and path.siblings[:255] == (b"",) * 255
    assert state_proofs.path_root(a, b"\x11" * 32, path) == tree.root()
    # a third key with the first 255 bits of a and b is impossible; one differing at bit 254 ends at depth 255
    c = bytes(31) + b"\x02"
    assert state_proofs.path_root(c, None, tree.path(c)) == tree.root()


def test_other_leaf_off_the_path_is_refused():
    entries = {k: hashlib.sha256(k).digest() for k in CHOSEN}
    tree = StateTree(entries)
    probe = bytes(31) + b"\x03"       # absent; shares 254 bits with 00..02, 255 with nothing
    path = tree.path(probe)
    assert path.other is not None
    depth = len(path.siblings)
    for other in CHOSEN:
        if other != path.other[0]:
            assert _common_bits(probe, other) < depth     # each other key leaves the probe's path above
            with pytest.raises(LedgerError) as caught:
                state_proofs.path_root(probe, None, Path(path.siblings, (other, entries[other])))
            assert caught.value.code == PROOF_INVALID


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=3), min_size=0, max_size=40), st.binary(min_size=1, max_size=3))
def test_random_maps_against_the_twin(prefixes, probe_prefix):
    """Key hashes with short random prefixes (so they share long runs of bits): every key and a probe
    fold to the twin's root."""
    keys = {p.ljust(32, b"\x00"): hashlib.sha256(p).digest() for p in prefixes}
    tree = StateTree(keys)
    for key in list(keys) + [probe_prefix.ljust(32, b"\x00"), probe_prefix.ljust(32, b"\xff")]:
        assert state_proofs.path_root(key, keys.get(key), tree.path(key)) == tree.root()


# ---------------------------------------------------------------- record keys with shared prefixes


def _common_bits(a: bytes, b: bytes) -> int:
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return 256 - x.bit_length()


def _neighbours(count: int = 20_000) -> tuple[bytes, bytes, int]:
    """Two record names of one owner whose key hashes share the longest prefix among `count` names."""
    hashes = sorted((state_tree.record_key_hash(owner(9), b"cert/%d" % n), b"cert/%d" % n) for n in range(count))
    best = max(range(len(hashes) - 1), key=lambda i: _common_bits(hashes[i][0], hashes[i + 1][0]))
    return hashes[best][1], hashes[best + 1][1], _common_bits(hashes[best][0], hashes[best + 1][0])


def test_record_keys_sharing_a_long_prefix():
    first, second, shared = _neighbours()
    assert shared >= 20
    low_name = next(b"low/%d" % n for n in range(1 << 20)
                    if state_tree.record_key_hash(owner(9), b"low/%d" % n)[:2] == b"\x00\x00")
    high_name = next(b"high/%d" % n for n in range(1 << 20)
                     if state_tree.record_key_hash(owner(9), b"high/%d" % n)[:2] == b"\xff\xff")
    records = dict(RECORDS)
    records.update({(owner(9), first): b"first", (owner(9), second): b"second",
                    (owner(9), low_name): b"low", (owner(9), high_name): b"high"})
    tree = state(ACCOUNTS, records)
    header = make_header(9, tree.root())
    all_hashes = sorted([state_tree.account_key_hash(k) for k in ACCOUNTS] +
                        [state_tree.record_key_hash(o, k) for o, k in records])
    assert all_hashes[0] == state_tree.record_key_hash(owner(9), low_name)      # the ends of the key space
    assert all_hashes[-1] == state_tree.record_key_hash(owner(9), high_name)
    for name in (first, second, low_name, high_name):
        proof = record_proof(owner(9), name, tree, header, records)
        if name in (first, second):
            assert len(proof.path.siblings) == shared + 1
        state_proofs.check_state_proof(proof, [VALIDATOR.public_key])
        wrong = replace(proof, value=proof.value + b"!")
        rejects(PROOF_INVALID, wrong)
    # absent: without the second, the first's path ends higher, and the second's ends in the first's leaf
    del records[(owner(9), second)]
    tree = state(ACCOUNTS, records)
    header = make_header(10, tree.root())
    absent = record_proof(owner(9), second, tree, header, records)
    assert absent.path.other == (state_tree.record_key_hash(owner(9), first), state_tree.record_value_hash(b"first"))
    state_proofs.check_state_proof(absent)


# ---------------------------------------------------------------- tampering, field by field


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


def _header_tampers(header: bytes) -> dict[str, bytes]:
    """Every header field changed with the signature kept: each breaks the signature or the root."""
    h = decode_header(header)
    return {
        "version-1": None,
        "chain_id": unsigned_change(header, chain_id=OTHER_CHAIN),
        "height": unsigned_change(header, height=h.height + 1),
        "previous_hash": unsigned_change(header, previous_hash=_flip(h.previous_hash)),
        "time_ms": unsigned_change(header, time_ms=h.time_ms + 1),
        "tx_count": unsigned_change(header, tx_count=h.tx_count + 1),
        "tx_root": unsigned_change(header, tx_root=_flip(h.tx_root)),
        "state_root": unsigned_change(header, state_commitment=_flip(h.state_root)),
        "history_root": unsigned_change(header, history_root=_flip(h.history_root)),
        "proposer": unsigned_change(header, proposer=STRANGER.public_key),
        "signature": unsigned_change(header, signature=_flip(h.signature)),
    }


@pytest.mark.parametrize("field", list(_header_tampers(HEADER)))
@pytest.mark.parametrize("which", ["account", "record"])
def test_every_header_field_is_bound(field, which):
    proof = account_proof(PRESENT_KEY) if which == "account" else record_proof(PRESENT_OWNER, PRESENT_NAME)
    if field == "version-1":
        v1 = make_header(5, TREE.root(), version=1)
        rejects(BAD_VERSION, replace(proof, header=v1))
        return
    rejects(PROOF_INVALID, replace(proof, header=_header_tampers(HEADER)[field]), height=None)


def test_header_decoding_codes_in_step_4():
    """The header inside a proof decodes alone as a version-2 header, with §8 step 2's codes."""
    proof = account_proof(PRESENT_KEY)
    rejects(LIMIT_EXCEEDED, replace(proof, header=make_header(5, TREE.root(), tx_count=65_537)))
    rejects(BAD_VERSION, replace(proof, header=make_header(5, TREE.root(), version=1)))
    rejects(BAD_ENCODING, replace(proof, header=HEADER + b"\x00"))
    rejects(BAD_ENCODING, replace(proof, header=b""))
    v1_length = bytes([0x9A]) + HEADER[1:]      # 10 fields announced, version 2 read: the length is not the version's
    rejects(BAD_ENCODING, replace(proof, header=v1_length))


def test_account_fields_are_bound():
    proof = account_proof(PRESENT_KEY)
    balance, nonce = proof.value
    for tampered in [replace(proof, public_key=_flip(proof.public_key)),
                     replace(proof, value=(balance + 1, nonce)), replace(proof, value=(balance, nonce + 1)),
                     replace(proof, value=None)]:
        rejects(PROOF_INVALID, tampered, height=5)
    absent = account_proof(ABSENT_EMPTY)
    rejects(PROOF_INVALID, replace(absent, value=(0, 0)), height=5)   # "present with zeros" is not "absent"


def test_path_fields_are_bound():
    for proof in (account_proof(PRESENT_KEY), account_proof(ABSENT_OTHER), account_proof(ABSENT_EMPTY),
                  record_proof(PRESENT_OWNER, PRESENT_NAME)):
        siblings, other = proof.path.siblings, proof.path.other
        assert siblings
        for i, sibling in enumerate(siblings):
            changed = _flip(sibling) if sibling else b"\x01" * 32
            rejects(PROOF_INVALID, replace(proof, path=Path(siblings[:i] + (changed,) + siblings[i + 1:], other)))
        rejects(PROOF_INVALID, replace(proof, path=Path(siblings[:-1], other)))
        rejects(PROOF_INVALID, replace(proof, path=Path(siblings + (b"\x05" * 32,), other)))
        rejects(PROOF_INVALID, replace(proof, path=Path(siblings + (b"",), other)))
        rejects(PROOF_INVALID, replace(proof, path=Path(siblings[1:] + siblings[:1], other)))
        if other is not None:
            rejects(PROOF_INVALID, replace(proof, path=Path(siblings, (_flip(other[0]), other[1]))))
            rejects(PROOF_INVALID, replace(proof, path=Path(siblings, (other[0], _flip(other[1])))))
            rejects(PROOF_INVALID, replace(proof, path=Path(siblings, None)))
            rejects(PROOF_INVALID, replace(proof, path=Path(siblings, (proof.key_hash, other[1]))))
        elif proof.value is None:
            leaf = (hashlib.sha256(b"x").digest(), hashlib.sha256(b"y").digest())
            rejects(PROOF_INVALID, replace(proof, path=Path(siblings, leaf)))


def test_record_fields_are_bound():
    proof = record_proof(PRESENT_OWNER, PRESENT_NAME)
    for tampered in [replace(proof, owner=_flip(proof.owner)), replace(proof, key=proof.key + b"x"),
                     replace(proof, key=proof.key[:-1]), replace(proof, value=proof.value + b"\x00"),
                     replace(proof, value=None), replace(proof, owner=PRESENT_KEY)]:
        rejects(PROOF_INVALID, tampered, height=5)


def test_every_bit_of_the_binary_is_bound():
    """Flip each bit of an account, record and absent proof: every result is refused (any code), none
    is accepted as a different statement."""
    for proof in (account_proof(PRESENT_KEY), record_proof(PRESENT_OWNER, PRESENT_NAME),
                  account_proof(ABSENT_OTHER)):
        data = proof.to_bytes()
        for i in range(len(data)):
            for mask in (0x01, 0x80):
                tampered = data[:i] + bytes([data[i] ^ mask]) + data[i + 1:]
                assert not state_proofs.verify_state_proof(tampered), (i, mask)
        assert state_proofs.verify_state_proof(data)


# ---------------------------------------------------------------- anchors


def test_anchors():
    proof = account_proof(PRESENT_KEY)
    state_proofs.check_state_proof(proof)                       # holds together
    rejects(PROOF_INVALID, proof, trusted=[STRANGER.public_key], height=5)
    rejects(PROOF_INVALID, proof, chain_id=OTHER_CHAIN, height=5)
    rejects(PROOF_INVALID, proof, trusted=[], height=5)
    self_made = replace(proof, header=resign(HEADER, STRANGER))
    state_proofs.check_state_proof(self_made)                   # anyone can sign a header of their own
    rejects(PROOF_INVALID, self_made, trusted=[VALIDATOR.public_key])
    # the chain id is checked before the path: a proof of another chain fails there first
    error = rejects(PROOF_INVALID, replace(proof, value=(0, 0)), chain_id=OTHER_CHAIN)
    assert "another chain" in error.message


def test_small_order_proposer_is_refused_even_with_a_forged_signature():
    h = decode_header(HEADER)
    forged = encode_header(replace(h, proposer=ORDER_4, signature=FORGED_SIGNATURE))
    error = rejects(PROOF_INVALID, replace(account_proof(PRESENT_KEY), header=forged))
    assert "small order" in error.message


# ---------------------------------------------------------------- binary decoding, byte by byte


def _account_fields(proof: AccountProof) -> list:
    return [1, 0, proof.public_key, list(proof.value or []), [list(proof.path.siblings),
            list(proof.path.other or [])], proof.header]


def _record_fields(proof: RecordProof) -> list:
    return [1, 1, proof.owner, proof.key, [] if proof.value is None else [proof.value],
            [list(proof.path.siblings), list(proof.path.other or [])], proof.header]


def test_binary_is_the_canonical_msgpack():
    proof = account_proof(PRESENT_KEY)
    assert proof.to_bytes() == _pack(_account_fields(proof))
    assert msgpack.unpackb(proof.to_bytes())[:2] == [1, 0]


def test_decoding_faults_and_codes():
    account = account_proof(ABSENT_EMPTY)
    record = record_proof(PRESENT_OWNER, PRESENT_NAME)
    good_a, good_r = _account_fields(account), _record_fields(record)
    assert b"" in account.path.siblings

    def with_(fields, index, value):
        changed = list(fields)
        changed[index] = value
        return _pack(changed)

    siblings = list(account.path.siblings)
    cases = [
        (LIMIT_EXCEEDED, _pack(good_a[:5] + [b"\x00" * 70_000])),
        (BAD_ENCODING, _pack(good_a) + b"\x00"),                                        # trailing byte
        (BAD_ENCODING, _pack(good_a)[:-1]),                                             # ends early
        (BAD_ENCODING, _pack(good_a[:5])),                                              # a field missing
        (BAD_ENCODING, _pack(good_a + [b""])),                                          # 7 fields for kind 0
        (BAD_ENCODING, _pack(good_r[:6])),                                              # 6 fields for kind 1
        (BAD_VERSION, with_(good_a, 0, 2)),
        (BAD_ENCODING, with_(good_a, 0, "1")),
        (BAD_ENCODING, with_(good_a, 1, 4)),                                            # unknown kind
        (BAD_ENCODING, with_(good_a, 1, 7)),
        (BAD_ENCODING, with_(good_a, 2, account.public_key[:31])),
        (BAD_ENCODING, with_(good_a, 2, account.public_key.hex())),                     # str, not bin
        (BAD_ENCODING, with_(good_a, 3, [5])),                                          # value of one element
        (BAD_ENCODING, with_(good_a, 3, [5, 6, 7])),
        (BAD_ENCODING, with_(good_a, 3, [5, -1])),
        (BAD_ENCODING, with_(good_a, 3, [5, 1.5])),
        (BAD_ENCODING, with_(good_a, 4, [siblings])),                                   # path of one element
        (BAD_ENCODING, with_(good_a, 4, [siblings[:-1] + [bytes(32)], []])),            # a 32-byte zero sibling
        (BAD_ENCODING, with_(good_a, 4, [siblings[:-1] + [b"\x01" * 31], []])),
        (BAD_ENCODING, with_(good_a, 4, [siblings[:-1] + [b"\x01" * 33], []])),
        (BAD_ENCODING, with_(good_a, 4, [siblings, [b"\x01" * 32]])),                   # other of one element
        (BAD_ENCODING, with_(good_a, 4, [siblings, [b"\x01" * 32, b"\x01" * 31]])),
        (LIMIT_EXCEEDED, with_(good_a, 4, [[b"\x01" * 32] * 257, []])),
        (BAD_ENCODING, with_(good_a, 5, b"\x00" * 1025)),                               # header over 1,024
        (BAD_ENCODING, with_(good_a, 5, "header")),
        (RECORD_TOO_LARGE, with_(good_r, 3, b"k" * 65)),
        (RECORD_TOO_LARGE, with_(good_r, 4, [b"v" * 4097])),
        (BAD_ENCODING, with_(good_r, 4, [b"v", b"w"])),
        (BAD_ENCODING, with_(good_r, 4, ["v"])),
        (BAD_ENCODING, _pack([1, 0, account.public_key, [1, 2], [siblings, [b"\x01" * 32] * 2],
                              account.header])),                                       # present and other
        (BAD_ENCODING, b"\x80"),                                                        # a map
        (BAD_ENCODING, b""),
        (BAD_ENCODING, b"\xc1"),
    ]
    for code, data in cases:
        decode_rejects(code, data)
    # the first fault in byte order wins: a bad format before an unknown kind, a key size before a bad path
    decode_rejects(BAD_VERSION, _pack([9, 9] + good_a[2:]))
    decode_rejects(RECORD_TOO_LARGE, _pack(good_r[:3] + [b"k" * 65, good_r[4], [1], good_r[6]]))
    decode_rejects(BAD_ENCODING, _pack(good_r[:3] + [b"k" * 64, [b"v" * 4097, 1], good_r[5], good_r[6]]))


def test_non_minimal_encodings_are_refused():
    proof = account_proof(PRESENT_KEY)
    data = proof.to_bytes()
    balance, nonce = proof.value
    fields = _account_fields(proof)
    prefix = _pack(fields[:3])[1:]    # after the array header: format, kind, key
    # a non-minimal uint (the format as uint8), array (the value as array16), bin (the key as bin16)
    decode_rejects(BAD_ENCODING, b"\x96\xcc\x01" + data[2:])
    assert data[:3] == b"\x96\x01\x00"
    value_at = 1 + len(prefix)
    assert data[value_at] == 0x92
    decode_rejects(BAD_ENCODING, data[:value_at] + b"\xdc\x00\x02" + data[value_at + 1:])
    assert data[3:5] == b"\xc4\x20"
    decode_rejects(BAD_ENCODING, data[:3] + b"\xc5\x00\x20" + data[5:])
    decode_rejects(BAD_ENCODING, b"\xdc\x00\x06" + data[1:])                   # the proof as array16
    small = replace(proof, value=(5, 1))
    raw = small.to_bytes()
    at = raw.index(b"\x92\x05\x01")
    decode_rejects(BAD_ENCODING, raw[:at] + b"\x92\xcc\x05\x01" + raw[at + 3:])   # balance 5 as uint8
    decode_rejects(BAD_ENCODING, raw[:at] + b"\x92\xd0\x05\x01" + raw[at + 3:])   # as int8
    absent = account_proof(ABSENT_EMPTY).to_bytes()
    at = absent.index(b"\xc4\x00")
    decode_rejects(BAD_ENCODING, absent[:at] + b"\xc5\x00\x00" + absent[at + 2:])   # EMPTY as bin16
    decode_rejects(BAD_ENCODING, absent[:at] + b"\xc4\x20" + bytes(32) + absent[at + 2:])   # EMPTY as 32 zeros


def test_kinds_are_exclusive_of_each_other():
    """A record proof's bytes relabelled as an account proof, and the reverse, do not decode."""
    account = account_proof(PRESENT_KEY).to_bytes()
    record = record_proof(PRESENT_OWNER, PRESENT_NAME).to_bytes()
    decode_rejects(BAD_ENCODING, account[:2] + b"\x01" + account[3:])
    decode_rejects(BAD_ENCODING, record[:2] + b"\x00" + record[3:])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_proof_or_one_ledger_error(data):
    for candidate in (data, account_proof(PRESENT_KEY).to_bytes()[:len(data)] + data):
        try:
            proof = state_proofs.decode(candidate)
        except LedgerError:
            continue
        assert state_proofs.encode(proof) == candidate


# ---------------------------------------------------------------- history proofs


def history_chain(count: int = 12, proposer: Keypair = VALIDATOR, chain_id: bytes = CHAIN_ID, strangers=()):
    """Headers 1 ... count whose history roots are those of §7.3, and the leaves; the heights in
    `strangers` are signed by STRANGER."""
    frontier = Frontier.empty().append(chain_id)
    leaves, headers = [chain_id], {}
    for height in range(1, count + 1):
        header = make_header(height, TREE.root(), frontier.root(), STRANGER if height in strangers else proposer,
                             chain_id)
        headers[height] = header
        block_hash = decode_header(header).hash
        frontier = frontier.append(block_hash)
        leaves.append(block_hash)
    return headers, leaves


HEADERS, LEAVES = history_chain()


def history_proof(old: int, new: int, headers=HEADERS, leaves=LEAVES) -> HistoryProof:
    return state_proofs.prove_history(leaves[:new], headers[old], headers[new])


@pytest.mark.parametrize("old, new", [(1, 2), (1, 12), (2, 3), (3, 4), (4, 8), (5, 12), (8, 9), (11, 12), (7, 8)])
def test_history_proofs_verify(old, new):
    proof = history_proof(old, new)
    o, n = state_proofs.check_history_proof(proof, [VALIDATOR.public_key], CHAIN_ID)
    assert (o.height, n.height) == (old, new)
    assert state_proofs.decode(proof.to_bytes()) == proof
    assert state_proofs.from_json(json.dumps(proof.to_json())) == proof


def test_history_proof_tampering():
    proof = history_proof(5, 12)
    assert proof.consistency and proof.inclusion
    for i in range(len(proof.consistency)):
        nodes = list(proof.consistency)
        nodes[i] = _flip(nodes[i])
        error = rejects(PROOF_INVALID, replace(proof, consistency=tuple(nodes)), height=12)
        assert "consistency" in error.message
    for i in range(len(proof.inclusion)):
        nodes = list(proof.inclusion)
        nodes[i] = _flip(nodes[i])
        error = rejects(PROOF_INVALID, replace(proof, inclusion=tuple(nodes)), height=12)
        assert "inclusion" in error.message
    rejects(PROOF_INVALID, replace(proof, consistency=proof.consistency[:-1]))
    rejects(PROOF_INVALID, replace(proof, inclusion=proof.inclusion + (b"\x01" * 32,)))
    rejects(PROOF_INVALID, replace(proof, consistency=proof.inclusion, inclusion=proof.consistency))
    # swapped headers: old height above new
    for swapped in (replace(proof, old_header=proof.new_header, new_header=proof.old_header),
                    replace(proof, new_header=proof.old_header, consistency=(), inclusion=())):   # h1 = h2
        error = rejects(PROOF_INVALID, swapped, height=5)
        assert "not below" in error.message
    # another header at the old height (a fork the validator also signed)
    fork = resign(HEADERS[5], time_ms=77)
    rejects(PROOF_INVALID, replace(proof, old_header=fork))
    # another header at the new height with the same history root: the proof holds (it is about history)
    twin = resign(HEADERS[12], time_ms=99)
    state_proofs.check_history_proof(replace(proof, new_header=twin))
    for field, tampered in _header_tampers(HEADERS[5]).items():
        if tampered is not None:
            rejects(PROOF_INVALID, replace(proof, old_header=tampered))
    for field, tampered in _header_tampers(HEADERS[12]).items():
        if tampered is not None:
            rejects(PROOF_INVALID, replace(proof, new_header=tampered))
    rejects(BAD_VERSION, replace(proof, old_header=make_header(5, TREE.root(), version=1)))
    rejects(BAD_ENCODING, replace(proof, new_header=HEADERS[12][:-1]))


def test_history_proof_other_chain_and_anchors():
    proof = history_proof(2, 9)
    rejects(PROOF_INVALID, proof, chain_id=OTHER_CHAIN, height=9)
    rejects(PROOF_INVALID, proof, trusted=[STRANGER.public_key], height=9)
    other_headers, other_leaves = history_chain(12, VALIDATOR, OTHER_CHAIN)
    mixed = replace(proof, old_header=other_headers[2])
    error = rejects(PROOF_INVALID, mixed, height=9)
    assert "different chains" in error.message
    # the new header signed by a stranger: refused with trusted validators, the old header's signer first
    stranger_new = replace(proof, new_header=resign(HEADERS[9], STRANGER))
    state_proofs.check_history_proof(stranger_new)
    error = rejects(PROOF_INVALID, stranger_new, trusted=[VALIDATOR.public_key])
    assert "new header" in error.message
    headers, leaves = history_chain(9, strangers=(2,))
    stranger_old = history_proof(2, 9, headers, leaves)
    state_proofs.check_history_proof(stranger_old)
    error = rejects(PROOF_INVALID, stranger_old, trusted=[VALIDATOR.public_key])
    assert "old header" in error.message


def test_history_decoding_limits():
    proof = history_proof(5, 12)
    fields = [1, 2, proof.old_header, proof.new_header, list(proof.consistency), list(proof.inclusion)]
    for index in (4, 5):
        changed = list(fields)
        changed[index] = [b"\x01" * 32] * 65
        decode_rejects(LIMIT_EXCEEDED, _pack(changed))
        changed[index] = [b"\x01" * 31]
        decode_rejects(BAD_ENCODING, _pack(changed))
        changed[index] = b"\x01" * 32
        decode_rejects(BAD_ENCODING, _pack(changed))
    decode_rejects(BAD_ENCODING, _pack(fields[:2] + [b"\x00" * 1025] + fields[3:]))
    decode_rejects(BAD_ENCODING, _pack(fields + [[]]))


def test_carrying_forward():
    """A state proof against header 5 and a history proof 5 -> 12: the proof's header must be the
    history proof's old header."""
    headers = HEADERS
    proof = account_proof(PRESENT_KEY, header=headers[5])
    history = history_proof(5, 12)
    state_proofs.check_state_proof(proof)
    state_proofs.check_history_proof(history)
    state_proofs.check_any_proof(proof, [VALIDATOR.public_key], CHAIN_ID, history)
    assert state_proofs.verify_state_proof(proof.to_bytes(), history=history)
    with pytest.raises(LedgerError) as caught:
        state_proofs.check_any_proof(proof, history=history_proof(4, 12))
    assert caught.value.code == PROOF_INVALID and caught.value.height == 12
    with pytest.raises(LedgerError) as caught:      # the history proof is checked under the same anchor
        state_proofs.check_any_proof(proof, [VALIDATOR.public_key], OTHER_CHAIN, history)
    assert caught.value.code == PROOF_INVALID
    bad_history = replace(history, inclusion=history.inclusion[:-1])
    assert not state_proofs.verify_state_proof(proof, history=bad_history)
    state_proofs.check_any_proof(history_proof(1, 5), history=history)   # a history proof carried on


# ---------------------------------------------------------------- transaction proofs in binary


def test_transaction_proof_binary_round_trip():
    from ledger.builder import sign_transaction
    from ledger.codec import Record, Transfer, encode_transaction
    alice = Keypair.from_seed(b"alice".ljust(32, b"."))
    txs = [sign_transaction(alice, CHAIN_ID, n, Record(b"k%d" % n, b"v")) for n in range(1, 4)]
    txs.append(sign_transaction(alice, CHAIN_ID, 4, Transfer(VALIDATOR.public_key, 5)))
    txids = [tx.txid for tx in txs]
    header = make_header(3, TREE.root(), tx_count=len(txs), tx_root=merkle.root(txids))
    proof = TxProof(encode_transaction(txs[2]), 2, tuple(merkle.inclusion_proof(txids, 2)), header)
    genesis_chain_id, validator = CHAIN_ID, VALIDATOR
    data = state_proofs.encode(proof)
    assert data[:3] == b"\x96\x01\x03"
    assert state_proofs.decode(data) == proof
    assert state_proofs.verify_state_proof(data, [validator.public_key], genesis_chain_id)
    assert not state_proofs.verify_state_proof(data, [STRANGER.public_key])
    fields = [1, 3, proof.transaction, proof.index, list(proof.audit_path), proof.header]
    changed = list(fields)
    changed[4] = [b"\x01" * 32] * 17
    decode_rejects(LIMIT_EXCEEDED, _pack(changed))
    changed = list(fields)
    changed[2] = b"\x00" * 8193
    decode_rejects(BAD_ENCODING, _pack(changed))
    changed = list(fields)
    changed[3] = 3
    rejects(PROOF_INVALID, _pack(changed))
    assert state_proofs.load_proof(json.dumps(proof.to_json()).encode()) == proof


# ---------------------------------------------------------------- JSON form


def test_json_shown_fields_are_compared():
    proof = record_proof(PRESENT_OWNER, PRESENT_NAME)
    good = proof.to_json()
    assert list(good) == ["version", "kind", "chain_id", "height", "block_hash", "state_root", "owner", "key",
                          "present", "value", "proof"]
    for field, value in good.items():
        if field in ("version", "kind", "proof"):
            continue
        wrong_type = 5 if isinstance(value, str) else "5"
        with pytest.raises(LedgerError) as caught:
            state_proofs.from_json({**good, field: wrong_type})
        assert caught.value.code == BAD_ENCODING, field
        differing = {str: lambda v: v[:-1] + ("0" if v[-1:] != "0" else "1") if v else "00", int: lambda v: v + 1,
                     bool: lambda v: not v}[type(value)](value)
        with pytest.raises(LedgerError) as caught:
            state_proofs.from_json({**good, field: differing})
        assert caught.value.code == PROOF_INVALID and field in caught.value.message, field
    with pytest.raises(LedgerError) as caught:
        state_proofs.from_json({**good, "value": None})
    assert caught.value.code == PROOF_INVALID
    with pytest.raises(LedgerError) as caught:
        state_proofs.from_json({**good, "owner": good["owner"].upper()})
    assert caught.value.code == PROOF_INVALID


@pytest.mark.parametrize("change, code", [
    (lambda d: d.pop("state_root"), BAD_ENCODING),
    (lambda d: d.pop("version"), BAD_ENCODING),
    (lambda d: d.update(extra=1), BAD_ENCODING),
    (lambda d: d.update(kind="accounts"), BAD_ENCODING),
    (lambda d: d.update(kind=0), BAD_ENCODING),
    (lambda d: d.update(version=2), BAD_VERSION),
    (lambda d: d.update(version=True), BAD_ENCODING),
    (lambda d: d.update(proof=d["proof"].upper()), BAD_ENCODING),
    (lambda d: d.update(proof=d["proof"] + "00"), BAD_ENCODING),
    (lambda d: d.update(kind="record"), BAD_ENCODING),      # record fields missing
])
def test_json_reading_rules(change, code):
    data = account_proof(PRESENT_KEY).to_json()
    change(data)
    with pytest.raises(LedgerError) as caught:
        state_proofs.from_json(json.dumps(data))
    assert caught.value.code == code


def test_json_kind_must_match_the_binary():
    account = account_proof(PRESENT_KEY).to_json()
    record = record_proof(PRESENT_OWNER, PRESENT_NAME).to_json()
    with pytest.raises(LedgerError) as caught:
        state_proofs.from_json({**record, "proof": account["proof"]})
    assert caught.value.code == PROOF_INVALID and "kind" in caught.value.message


def test_json_text_rules():
    text = json.dumps(account_proof(PRESENT_KEY).to_json())
    for bad, code in [(text.replace('"version": 1', '"version": 1, "version": 1'), BAD_ENCODING),
                      (b"\xff" + text.encode(), BAD_ENCODING), ("[]", BAD_ENCODING),
                      (" " * 70_000 + text, LIMIT_EXCEEDED), (text[:-1], BAD_ENCODING)]:
        with pytest.raises(LedgerError) as caught:
            state_proofs.from_json(bad)
        assert caught.value.code == code


# ---------------------------------------------------------------- the certificate scenario


def test_certificate_issue_prove_revoke():
    """Write a record, prove it; overwrite it (revoke): the old proof does not verify against the new
    header, a fresh proof of the new value does, and a history proof carries the old one forward only
    as a statement about the old block."""
    issuer = owner(42)
    records = dict(RECORDS)
    records[(issuer, b"licence/2026/0042")] = b"valid until 2027-12-31"
    tree = state(ACCOUNTS, records)
    headers, leaves = history_chain(3)
    issued_header = make_header(3, tree.root(), decode_header(headers[3]).history_root)
    leaves = leaves[:3] + [decode_header(issued_header).hash]
    issued = record_proof(issuer, b"licence/2026/0042", tree, issued_header, records)
    assert state_proofs.verify_state_proof(issued.to_bytes(), [VALIDATOR.public_key], CHAIN_ID)

    records[(issuer, b"licence/2026/0042")] = b"revoked 2026-12-01"
    tree.update([(state_tree.record_key_hash(issuer, b"licence/2026/0042"),
                  state_tree.record_value_hash(b"revoked 2026-12-01"))])
    revoked_header = make_header(4, tree.root(), merkle.root(leaves))
    stale = replace(issued, header=revoked_header)
    rejects(PROOF_INVALID, stale, trusted=[VALIDATOR.public_key], height=4)
    fresh = record_proof(issuer, b"licence/2026/0042", tree, revoked_header, records)
    assert fresh.value == b"revoked 2026-12-01"
    state_proofs.check_state_proof(fresh, [VALIDATOR.public_key], CHAIN_ID)
    history = state_proofs.prove_history(leaves, issued_header, revoked_header)
    state_proofs.check_history_proof(history, [VALIDATOR.public_key], CHAIN_ID)
    state_proofs.check_any_proof(issued, history=history)   # the old value was in block 3 of this chain: nothing more


# ---------------------------------------------------------------- size


def test_record_proof_size_budget():
    """A record proof with a 64-byte key and a 1 KiB value is about 1,414 bytes plus 34 per sibling (2 per
    EMPTY one). In a map of 10M keys paths are about 24 deep, the deepest 47 with 22 EMPTY siblings
    (bench/proof_size.py measures it on the native tree: 2,352 bytes at most): both fit 2,900 bytes."""
    def size(full: int, empty: int) -> int:
        siblings = tuple(bytes([i + 1]) * 32 for i in range(full)) + (b"",) * empty
        return len(RecordProof(owner(1), b"k" * 64, b"v" * 1024, Path(siblings, None), HEADER).to_bytes())
    assert size(1, 0) - size(0, 0) == 34 and size(0, 1) - size(0, 0) == 2 and size(0, 0) < 1_420
    assert size(24, 0) <= 2_900
    assert size(25, 22) <= 2_900


# ---------------------------------------------------------------- through a store (the public API)


def _store(tmp_path, version: int = 2):
    from ledger import Ledger, make_genesis
    issuer = Keypair.from_seed(b"api issuer".ljust(32, b"."))
    genesis = make_genesis("api proofs", 1_000, [VALIDATOR.public_key], [issuer.public_key],
                           {issuer.public_key: 50}, version=version)
    return Ledger.create(tmp_path / f"db{version}", genesis), issuer, genesis


def _append(book, sender, *bodies):
    builder = book.builder(VALIDATOR)
    for body in bodies:
        builder.transaction(sender, body)
    return book.append(builder.build())


def test_api_certificate_issue_prove_revoke(tmp_path):
    from ledger import check_state_proof, check_any_proof, verify_state_proof
    from ledger.codec import Mint, Record
    book, issuer, genesis = _store(tmp_path)
    anchor = dict(trusted_validators=genesis.validators, chain_id=genesis.chain_id)
    with book:
        name = b"licence/2026/0042"
        _append(book, issuer, Record(name, b"valid until 2027-12-31"), Mint(VALIDATOR.public_key, 5))
        issued = book.prove_record(issuer.public_key, name)
        assert issued.value == b"valid until 2027-12-31"
        assert check_state_proof(issued, **anchor).height == 1
        never = book.prove_record(issuer.public_key, b"licence/2026/0043")
        assert never.value is None and verify_state_proof(never.to_bytes(), **anchor)
        account = book.prove_account(issuer.public_key)
        assert account.value == (50, 2) and verify_state_proof(account.to_json(), **anchor)
        stranger = book.prove_account(STRANGER.public_key)
        assert stranger.value is None and verify_state_proof(stranger, **anchor)
        assert book.prove_account(VALIDATOR.public_key).value == (5, 0)

        _append(book, issuer, Record(name, b"revoked 2026-12-01"))
        _append(book, issuer)
        revoked = book.prove_record(issuer.public_key, name)
        assert revoked.value == b"revoked 2026-12-01" and decode_header(revoked.header).height == 3
        assert verify_state_proof(revoked, **anchor)
        # the old proof still says what block 1 held; against the new header it is refused
        assert verify_state_proof(issued, **anchor)
        rejects(PROOF_INVALID, replace(issued, header=revoked.header), genesis.validators, genesis.chain_id,
                height=3)
        history = book.prove_history(1, 3)
        check_any_proof(issued, genesis.validators, genesis.chain_id, history)
        assert verify_state_proof(history.to_bytes(), **anchor)
        for old, new in ((1, 2), (2, 3)):
            assert verify_state_proof(book.prove_history(old, new), **anchor)
        with pytest.raises(ValueError):
            book.prove_history(2, 2)
        with pytest.raises(ValueError):
            book.prove_history(0, 2)
        with pytest.raises(LedgerError) as caught:
            book.prove_history(1, 4)
        assert caught.value.code == "not-found"
        with pytest.raises(LedgerError) as caught:
            book.prove_record(issuer.public_key, b"k" * 65)
        assert caught.value.code == RECORD_TOO_LARGE


def test_api_refuses_where_no_proof_can_be(tmp_path):
    book, issuer, _ = _store(tmp_path)
    with book:
        with pytest.raises(LedgerError) as caught:
            book.prove_account(issuer.public_key)
        assert caught.value.code == "not-found"
    book, issuer, _ = _store(tmp_path, version=1)
    with book:
        _append(book, issuer)
        for call in (lambda: book.prove_account(issuer.public_key), lambda: book.prove_history(1, 2)):
            with pytest.raises(LedgerError) as caught:
                call()
            assert caught.value.code == BAD_VERSION
