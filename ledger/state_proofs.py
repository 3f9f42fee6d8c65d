"""State proofs, history proofs and the binary form of every proof, checked without a store.

Specification: docs/FORMAT.md §12 (binary proofs of kinds 0-3, the state proof check order, the JSON
form), §13 (history proofs) over §7.2 (the state map's paths and fold), §7.3 and §3 (RFC 9162
§2.1.3-2.1.4 inclusion and consistency proofs), §11 (transaction proofs, ledger/proofs.py).

An account or record proof carries the value (or nothing, for a key not in the map), the path of
siblings from the state root down to where the key's walk ends, and the signed version-2 header whose
`state_root` the path must fold to. A history proof carries two signed headers and the RFC 9162
proofs that the newer header's history tree extends the older one's and holds the older block's hash.

The binary decoder reads the bytes once, in order, like the block decoder (codec._Reader): the first
byte that departs from the canonical encoding is the fault reported, so every input gets one verdict.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Union

from ledger import codec, history, limits, merkle, signatures, state_tree
from ledger.codec import BlockHeader, decode_header
from ledger.errors import BAD_ENCODING, BAD_VERSION, LIMIT_EXCEEDED, RECORD_TOO_LARGE, LedgerError
from ledger.proofs import (
    AUDIT_PATH_NODES_MAX, PROOF_INVALID, PROOF_VERSION, TxProof, _check_field_names, _hex, _integer, _json_object,
    _malformed, check_proof,
)
from ledger.state_tree import EMPTY, Path

BINARY_FORMAT = 1
KIND_ACCOUNT, KIND_RECORD, KIND_HISTORY, KIND_TRANSACTION = 0, 1, 2, 3
# The number of array fields of each kind (format and kind included).
_FIELD_COUNTS = {KIND_ACCOUNT: 6, KIND_RECORD: 7, KIND_HISTORY: 6, KIND_TRANSACTION: 6}
BINARY_BYTES_MAX = 64 * 1024
HEADER_BYTES_MAX = 1024             # a version-2 header is 240 bytes; the room keeps hostile input small
TRANSACTION_BYTES_MAX = 8192        # a record of a 64-byte key and a 4,096-byte value is under 4,300
SIBLINGS_MAX = state_tree.KEY_BITS  # a path ends at the latest at depth 256
HISTORY_NODES_MAX = 64              # an RFC 9162 proof in a tree of up to 2**64 leaves
HASH_BYTES = limits.HASH_BYTES
JSON_KINDS = {"account": KIND_ACCOUNT, "record": KIND_RECORD, "history": KIND_HISTORY}
_JSON_NAMES = {kind: name for name, kind in JSON_KINDS.items()}

# Shown fields of the JSON form (§12), in the order they are written and checked, with their JSON types.
_HEX = (str,)
_SHOWN = {
    KIND_ACCOUNT: {"chain_id": _HEX, "height": (int,), "block_hash": _HEX, "state_root": _HEX, "public_key": _HEX,
                   "present": (bool,), "balance": (int,), "nonce": (int,)},
    KIND_RECORD: {"chain_id": _HEX, "height": (int,), "block_hash": _HEX, "state_root": _HEX, "owner": _HEX,
                  "key": _HEX, "present": (bool,), "value": (str, type(None))},
    KIND_HISTORY: {"chain_id": _HEX, "old_height": (int,), "old_block_hash": _HEX, "new_height": (int,),
                   "new_block_hash": _HEX},
}


# ---------------------------------------------------------------- the proofs


@dataclass(frozen=True, slots=True)
class AccountProof:
    """Kind 0: account `public_key` after the header's block: `value` (balance, nonce), or None when
    the key is not in the map (balance 0, nonce 0)."""
    public_key: bytes
    value: Optional[tuple[int, int]]
    path: Path
    header: bytes
    kind = KIND_ACCOUNT

    @property
    def present(self) -> bool:
        return self.value is not None

    @property
    def balance(self) -> int:
        return 0 if self.value is None else self.value[0]

    @property
    def nonce(self) -> int:
        return 0 if self.value is None else self.value[1]

    @property
    def key_hash(self) -> bytes:
        return state_tree.account_key_hash(self.public_key)

    def value_hash(self) -> bytes:
        return state_tree.account_value_hash(*self.value)

    def to_bytes(self) -> bytes:
        return encode(self)

    def to_json(self) -> dict:
        return _to_json(self)


@dataclass(frozen=True, slots=True)
class RecordProof:
    """Kind 1: record `key` of `owner` after the header's block: its latest `value`, or None when it
    was never written."""
    owner: bytes
    key: bytes
    value: Optional[bytes]
    path: Path
    header: bytes
    kind = KIND_RECORD

    @property
    def present(self) -> bool:
        return self.value is not None

    @property
    def key_hash(self) -> bytes:
        return state_tree.record_key_hash(self.owner, self.key)

    def value_hash(self) -> bytes:
        return state_tree.record_value_hash(self.value)

    def to_bytes(self) -> bytes:
        return encode(self)

    def to_json(self) -> dict:
        return _to_json(self)


@dataclass(frozen=True, slots=True)
class HistoryProof:
    """Kind 2 (§13): the header `new_header` extends `old_header`."""
    old_header: bytes
    new_header: bytes
    consistency: tuple[bytes, ...]
    inclusion: tuple[bytes, ...]
    kind = KIND_HISTORY

    def to_bytes(self) -> bytes:
        return encode(self)

    def to_json(self) -> dict:
        return _to_json(self)


StateProof = Union[AccountProof, RecordProof]
AnyProof = Union[AccountProof, RecordProof, HistoryProof, TxProof]


def header_of(proof: AnyProof) -> bytes:
    """The header a proof ends at (a history proof's newer header): what a history proof from it
    must start with to carry the proof forward (§13)."""
    return proof.new_header if isinstance(proof, HistoryProof) else proof.header


# ---------------------------------------------------------------- making proofs


def prove_account(tree, public_key: bytes, account: Optional[tuple[int, int]], header: bytes) -> AccountProof:
    """The proof of `account` ((balance, nonce), or None: not in the map) in `tree` (anything with
    `path(key_hash)` and `get(key_hash)`, consistent with `header`'s state root)."""
    key_hash = state_tree.account_key_hash(public_key)
    expected = None if account is None else state_tree.account_value_hash(*account)
    if tree.get(key_hash) != expected:
        raise AssertionError("the state tree does not hold the account value given")
    return AccountProof(public_key, account, tree.path(key_hash), header)


def prove_record(tree, owner: bytes, key: bytes, value: Optional[bytes], header: bytes) -> RecordProof:
    """The proof of record `key` of `owner` holding `value` (None: never written), as prove_account."""
    key_hash = state_tree.record_key_hash(owner, key)
    expected = None if value is None else state_tree.record_value_hash(value)
    if tree.get(key_hash) != expected:
        raise AssertionError("the state tree does not hold the record value given")
    return RecordProof(owner, key, value, tree.path(key_hash), header)


def block_header_bytes(block: bytes) -> bytes:
    """The signed header of a stored block, exactly as its bytes hold it (a proof carries these)."""
    reader = codec._Reader(bytes(block))
    reader.fields(2, "block")
    start = reader.pos
    reader.header()
    return bytes(block[start:reader.pos])


def prove_history(leaves: list[bytes], old_header: bytes, new_header: bytes) -> HistoryProof:
    """The history proof from `old_header` to `new_header`, given the history tree's leaves up to the
    new header's height (§7.3: the chain id, then the block hashes of heights 1 ... new height - 1)."""
    old, new = decode_header(old_header), decode_header(new_header)
    if not 1 <= old.height < new.height or len(leaves) != new.height:
        raise ValueError("a history proof runs from a height h1 >= 1 to a height h2 > h1, over h2 leaves")
    if leaves[old.height] != old.hash:
        raise AssertionError("the history leaves do not hold the old header's block hash")
    parts = history.prove(leaves, old.height, new.height)
    return HistoryProof(old_header, new_header, tuple(parts.consistency), tuple(parts.inclusion))


# ---------------------------------------------------------------- binary encoding


def _path_fields(path: Path) -> list:
    siblings = [b"" if sibling == EMPTY else sibling for sibling in path.siblings]
    return [siblings, [] if path.other is None else list(path.other)]


def encode(proof: AnyProof) -> bytes:
    """The canonical binary encoding (§12) of any proof."""
    if isinstance(proof, AccountProof):
        fields = [BINARY_FORMAT, KIND_ACCOUNT, proof.public_key, [] if proof.value is None else list(proof.value),
                  _path_fields(proof.path), proof.header]
    elif isinstance(proof, RecordProof):
        fields = [BINARY_FORMAT, KIND_RECORD, proof.owner, proof.key, [] if proof.value is None else [proof.value],
                  _path_fields(proof.path), proof.header]
    elif isinstance(proof, HistoryProof):
        fields = [BINARY_FORMAT, KIND_HISTORY, proof.old_header, proof.new_header, list(proof.consistency),
                  list(proof.inclusion)]
    elif isinstance(proof, TxProof):
        fields = [BINARY_FORMAT, KIND_TRANSACTION, proof.transaction, proof.index, list(proof.audit_path),
                  proof.header]
    else:
        raise TypeError(f"not a proof: {type(proof).__name__}")
    return codec._pack(fields)


_BIN8_EMPTY = b"\xc4\x00"
_BIN8_HASH = b"\xc4\x20"


class _ProofReader(codec._Reader):
    """codec's single pass over canonical msgpack, with the bounded fields of the proof schemas."""

    __slots__ = ()

    def bin_max(self, maximum: int, what: str, code: str = BAD_ENCODING) -> bytes:
        length = self.bin_length(what)
        if length > maximum:   # judged at the length, before the bytes it announces
            raise self.fail(f"the {what} is over {maximum} bytes", code)
        return self._take(length)

    def hashes(self, maximum: int, what: str) -> tuple[bytes, ...]:
        count = self.array(what)
        if count > maximum:
            raise self.fail(f"the {what} has {count} nodes; at most {maximum}", LIMIT_EXCEEDED)
        return tuple(self.bin_exact(HASH_BYTES, f"node of the {what}") for _ in range(count))

    def choice(self, lengths: tuple[int, ...], what: str) -> int:
        count = self.array(what)
        if count not in lengths:
            raise self.fail(f"the {what} must be an array of {' or '.join(map(str, lengths))} elements")
        return count

    def path(self) -> Path:
        self.fields(2, "path")
        count = self.array("path siblings")
        if count > SIBLINGS_MAX:
            raise self.fail(f"the path has {count} siblings; at most {SIBLINGS_MAX}", LIMIT_EXCEEDED)
        siblings = []
        data = self.data
        for _ in range(count):
            # The two canonical forms first (a path is read for every proof verified); anything
            # else takes the general reading below, which gives every other input its verdict.
            start = self.pos
            marker = data[start:start + 2]
            if marker == _BIN8_EMPTY:
                self.pos = start + 2
                siblings.append(b"")
                continue
            if marker == _BIN8_HASH and start + 2 + HASH_BYTES <= len(data):
                sibling = data[start + 2:start + 2 + HASH_BYTES]
                if sibling != EMPTY:
                    self.pos = start + 2 + HASH_BYTES
                    siblings.append(sibling)
                    continue
            length = self.bin_length("path sibling")
            if length not in (0, HASH_BYTES):
                raise self.fail("a path sibling is 32 bytes, or empty for EMPTY")
            sibling = self._take(length)
            if sibling == EMPTY:
                raise self.fail("a path sibling of 32 zero bytes must be written empty (EMPTY has one encoding)")
            siblings.append(sibling)
        other = None
        if self.choice((0, 2), "path's other leaf"):
            other = (self.bin_exact(HASH_BYTES, "other leaf's key hash"),
                     self.bin_exact(HASH_BYTES, "other leaf's value hash"))
        return Path(tuple(siblings), other)

    def proof(self) -> AnyProof:
        count = self.array("proof")
        if count not in _FIELD_COUNTS.values():
            raise self.fail("a binary proof is an array of 6 or 7 fields")
        if self.uint("proof format") != BINARY_FORMAT:
            raise self.fail(f"the binary proof format is not {BINARY_FORMAT}", BAD_VERSION)
        kind = self.uint("proof kind")
        if kind not in _FIELD_COUNTS:
            raise self.fail(f"unknown proof kind {kind}")
        if count != _FIELD_COUNTS[kind]:
            raise self.fail(f"a proof of kind {kind} is an array of {_FIELD_COUNTS[kind]} fields")
        result: AnyProof
        if kind == KIND_ACCOUNT:
            public_key = self.bin_exact(limits.KEY_BYTES, "public key")
            account = (self.uint("balance"), self.uint("nonce")) if self.choice((0, 2), "account value") else None
            result = AccountProof(public_key, account, self.path(), self.bin_max(HEADER_BYTES_MAX, "header"))
        elif kind == KIND_RECORD:
            owner = self.bin_exact(limits.KEY_BYTES, "owner")
            key = self.bin_max(limits.RECORD_KEY_BYTES_MAX, "record key", RECORD_TOO_LARGE)
            value = None
            if self.choice((0, 1), "record value"):
                value = self.bin_max(limits.RECORD_VALUE_BYTES_MAX, "record value", RECORD_TOO_LARGE)
            result = RecordProof(owner, key, value, self.path(), self.bin_max(HEADER_BYTES_MAX, "header"))
        elif kind == KIND_HISTORY:
            old_header = self.bin_max(HEADER_BYTES_MAX, "old header")
            new_header = self.bin_max(HEADER_BYTES_MAX, "new header")
            result = HistoryProof(old_header, new_header, self.hashes(HISTORY_NODES_MAX, "consistency proof"),
                                  self.hashes(HISTORY_NODES_MAX, "inclusion proof"))
        else:
            transaction = self.bin_max(TRANSACTION_BYTES_MAX, "transaction")
            index = self.uint("index")
            path = self.hashes(AUDIT_PATH_NODES_MAX, "audit path")
            result = TxProof(transaction, index, path, self.bin_max(HEADER_BYTES_MAX, "header"))
        self.end("proof")
        return result


def decode(data: bytes) -> AnyProof:
    """A binary proof of any kind (§12 steps 1-3), strictly: raises LedgerError `limit-exceeded`,
    `bad-encoding`, `bad-version` or `record-too-large`, the first fault in byte order."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("a binary proof must be bytes")
    data = bytes(data)
    if len(data) > BINARY_BYTES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"the proof is over {BINARY_BYTES_MAX} bytes")
    proof = _ProofReader(data).proof()
    _check_membership_shape(proof)
    return proof


def _check_membership_shape(proof: AnyProof) -> None:
    """§12 step 3: a membership path ends in the key's own leaf."""
    if isinstance(proof, (AccountProof, RecordProof)) and proof.value is not None and proof.path.other is not None:
        raise LedgerError(BAD_ENCODING, "a proof of a present key ends in the key's own leaf, not another")


def _check_object(proof: StateProof) -> None:
    """The limits of §12 steps 2-3 that the fold relies on, for a proof object built without
    `decode` (which already enforces them): at most 256 siblings, an account value of two u64,
    no other leaf beside a present value. Anything else gives one LedgerError, not an IndexError."""
    if len(proof.path.siblings) > SIBLINGS_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"the path has {len(proof.path.siblings)} siblings; at most {SIBLINGS_MAX}")
    if isinstance(proof, AccountProof) and proof.value is not None and (len(proof.value) != 2 or not all(
            type(n) is int and 0 <= n < 2**64 for n in proof.value)):
        raise LedgerError(BAD_ENCODING, "an account value is a balance and a nonce, each 0 ... 2**64 - 1")
    _check_membership_shape(proof)


# ---------------------------------------------------------------- checking


def _version2_header(data: bytes, what: str = "header") -> BlockHeader:
    """§12 step 4: the header decodes alone, as a version-2 header (its version is judged where it
    is read, as a chain of version 2 would)."""
    try:
        return decode_header(data, 2)
    except LedgerError as error:
        if error.code == BAD_VERSION:
            raise LedgerError(BAD_VERSION, f"the proof's {what} is not a version-2 header") from None
        raise LedgerError(error.code, f"the proof's {what} does not decode: {error.message}") from None


def _check_signers(headers: list[tuple[BlockHeader, str]], trusted: Optional[set], height: int) -> None:
    """For each header in order: the proposer key is not of small order, its signature over the
    block hash holds, and (if given) it is trusted."""
    verdicts = signatures.verify_batch([h.proposer for h, _ in headers], [h.hash for h, _ in headers],
                                       [h.signature for h, _ in headers])
    for (header, what), valid in zip(headers, verdicts):
        # A small-order key verifies forged signatures (R = identity, S = 0), so it proves nothing.
        if signatures.is_small_order(header.proposer):
            raise LedgerError(PROOF_INVALID, f"the {what}'s proposer key is of small order: anyone can sign for it",
                              height)
        if not valid:
            raise LedgerError(PROOF_INVALID, f"the proposer's signature over the {what} does not hold", height)
        if trusted is not None and header.proposer not in trusted:
            raise LedgerError(PROOF_INVALID, f"the {what}'s proposer is not a trusted validator", height)


def _trusted(trusted_validators: Optional[Iterable[bytes]]) -> Optional[set]:
    return None if trusted_validators is None else {bytes(key) for key in trusted_validators}


def _differ_within(a: bytes, b: bytes, bits: int) -> bool:
    """Whether key hashes a and b differ in one of their first `bits` bits."""
    if bits == 0:
        return False
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")) >> (state_tree.KEY_BITS - bits) != 0


def path_root(key_hash: bytes, value_hash: Optional[bytes], path: Path) -> bytes:
    """The root a path folds to (§12 steps 6-7) for `key_hash` holding `value_hash` (None: absent),
    or LedgerError `proof-invalid` when the path's other leaf cannot end the key's path."""
    if value_hash is not None:
        terminal = state_tree.leaf_hash(key_hash, value_hash)
    elif path.other is None:
        terminal = EMPTY
    else:
        other_key, other_value = path.other
        if other_key == key_hash:
            raise LedgerError(PROOF_INVALID, "the proof says the key is absent but ends in the key's own leaf")
        if _differ_within(key_hash, other_key, len(path.siblings)):
            raise LedgerError(PROOF_INVALID, "the other leaf ending the path is not on the key's path")
        terminal = state_tree.leaf_hash(other_key, other_value)
    return state_tree.fold(key_hash, terminal, path.siblings)


def state_root_of(proof: StateProof) -> bytes:
    """The state root an account or record proof's path folds to."""
    return path_root(proof.key_hash, None if proof.value is None else proof.value_hash(), proof.path)


def check_state_proof(proof: StateProof, trusted_validators: Optional[Iterable[bytes]] = None,
                      chain_id: Optional[bytes] = None) -> BlockHeader:
    """Raise LedgerError unless the account or record proof holds (§12 steps 4-10); return its header.

    Without `trusted_validators` nothing ties the header to a chain the caller trusts. Pass the
    validators (and the chain id) of the chain you trust.
    """
    if not isinstance(proof, (AccountProof, RecordProof)):
        raise TypeError(f"not a state proof: {type(proof).__name__}")
    _check_object(proof)
    header = _version2_header(proof.header)
    if chain_id is not None and header.chain_id != chain_id:
        raise LedgerError(PROOF_INVALID, "the header belongs to another chain", header.height)
    try:
        root = state_root_of(proof)
    except LedgerError as error:
        raise error.at(header.height) from None
    if root != header.state_root:
        raise LedgerError(PROOF_INVALID, "the path does not lead to the header's state root", header.height)
    _check_signers([(header, "header")], _trusted(trusted_validators), header.height)
    return header


def check_history_proof(proof: HistoryProof, trusted_validators: Optional[Iterable[bytes]] = None,
                        chain_id: Optional[bytes] = None) -> tuple[BlockHeader, BlockHeader]:
    """Raise LedgerError unless the new header extends the old one (§13 steps 3-8); return both."""
    if not isinstance(proof, HistoryProof):
        raise TypeError(f"not a history proof: {type(proof).__name__}")
    old = _version2_header(proof.old_header, "old header")
    new = _version2_header(proof.new_header, "new header")
    height = new.height
    if chain_id is not None and old.chain_id != chain_id:
        raise LedgerError(PROOF_INVALID, "the old header belongs to another chain", height)
    if old.chain_id != new.chain_id:
        raise LedgerError(PROOF_INVALID, "the two headers belong to different chains", height)
    if not old.height < new.height:
        raise LedgerError(PROOF_INVALID, "the old header's height is not below the new header's", height)
    if not merkle.verify_consistency(old.height, new.height, old.history_root, new.history_root,
                                     list(proof.consistency)):
        raise LedgerError(PROOF_INVALID, "the consistency proof does not lead from the old history root to the new",
                          height)
    if not merkle.verify_inclusion(old.hash, old.height, new.height, list(proof.inclusion), new.history_root):
        raise LedgerError(PROOF_INVALID, "the inclusion proof does not lead from the old block hash to the new "
                                         "history root", height)
    _check_signers([(old, "old header"), (new, "new header")], _trusted(trusted_validators), height)
    return old, new


def check_any_proof(proof: AnyProof, trusted_validators: Optional[Iterable[bytes]] = None,
                    chain_id: Optional[bytes] = None, history: Optional[HistoryProof] = None) -> None:
    """Raise LedgerError unless the proof of any kind holds; with `history`, also unless that history
    proof holds (same anchor) and carries the proof forward: its old header is the proof's header,
    byte for byte (§13)."""
    if isinstance(proof, HistoryProof):
        check_history_proof(proof, trusted_validators, chain_id)
    elif isinstance(proof, TxProof):
        check_proof(proof, trusted_validators, chain_id)
    else:
        check_state_proof(proof, trusted_validators, chain_id)
    if history is not None:
        _, new = check_history_proof(history, trusted_validators, chain_id)
        if header_of(proof) != history.old_header:
            raise LedgerError(PROOF_INVALID, "the proof's header is not the history proof's old header", new.height)


# ---------------------------------------------------------------- JSON form


def _shown(proof: AnyProof) -> dict:
    """The shown fields, derived from the bytes (headers decoded as §12 step 4 / §13 step 3 say)."""
    if isinstance(proof, HistoryProof):
        old = _version2_header(proof.old_header, "old header")
        new = _version2_header(proof.new_header, "new header")
        return {"chain_id": old.chain_id.hex(), "old_height": old.height, "old_block_hash": old.hash.hex(),
                "new_height": new.height, "new_block_hash": new.hash.hex()}
    header = _version2_header(proof.header)
    shown = {"chain_id": header.chain_id.hex(), "height": header.height, "block_hash": header.hash.hex(),
             "state_root": header.state_root.hex()}
    if isinstance(proof, AccountProof):
        shown.update(public_key=proof.public_key.hex(), present=proof.present, balance=proof.balance,
                     nonce=proof.nonce)
    else:
        shown.update(owner=proof.owner.hex(), key=proof.key.hex(), present=proof.present,
                     value=None if proof.value is None else proof.value.hex())
    return shown


def _to_json(proof: AnyProof) -> dict:
    data = {"version": PROOF_VERSION, "kind": _JSON_NAMES[proof.kind], **_shown(proof), "proof": encode(proof).hex()}
    assert tuple(data) == _fields(proof.kind)
    return data


def _fields(kind: int) -> tuple[str, ...]:
    return ("version", "kind", *_SHOWN[kind], "proof")


def from_json(data: dict | str | bytes) -> AnyProof:
    """Read a JSON proof of any kind strictly: §11 for a transaction proof (an object without `kind`),
    §12 for account, record and history proofs. Shown fields are compared with the bytes."""
    data = _json_object(data)
    if "kind" not in data:
        return TxProof.from_json(data)
    if "version" not in data:
        raise _malformed("the proof JSON lacks the field 'version'")
    name = data["kind"]
    if type(name) is not str or name not in JSON_KINDS:
        raise _malformed(f"the proof's 'kind' field must be one of {', '.join(map(repr, JSON_KINDS))}")
    kind = JSON_KINDS[name]
    fields = _fields(kind)
    _check_field_names(data, fields)
    version = _integer(data, "version")
    if version != PROOF_VERSION:
        raise LedgerError(BAD_VERSION, f"proof version {version} is not supported (only {PROOF_VERSION})")
    proof = decode(_hex(data["proof"], "proof"))
    if getattr(proof, "kind", KIND_TRANSACTION) != kind:   # a TxProof (kind 3) has no `kind` attribute
        raise LedgerError(PROOF_INVALID, "the proof's 'kind' field is not the kind of its binary proof")
    derived = _shown(proof)
    for field, types in _SHOWN[kind].items():
        if type(data[field]) not in types:
            raise _malformed(f"the proof's {field!r} field must be "
                             f"{_TYPE_NAMES[types]}")
        if data[field] != derived[field]:
            raise LedgerError(PROOF_INVALID, f"the proof's {field!r} field is not the one its bytes give")
    return proof


_TYPE_NAMES = {_HEX: "a hex string", (int,): "an integer", (bool,): "true or false",
               (str, type(None)): "a hex string or null"}


def load_proof(data: bytes | str | dict) -> AnyProof:
    """A proof of any kind from what a file holds: JSON (§11 or §12) when it starts with `{`, else
    the binary encoding (§12)."""
    if isinstance(data, (bytes, bytearray, memoryview)) and bytes(data[:1]) != b"{":
        return decode(data)
    return from_json(data)


def verify_state_proof(proof: AnyProof | bytes | str | dict, trusted_validators: Optional[Iterable[bytes]] = None,
                       chain_id: Optional[bytes] = None, history: Optional[HistoryProof] = None) -> bool:
    """True when the proof holds (see check_any_proof for the reason when it does not). `proof` is a
    proof object, its binary encoding, or its JSON form (text, UTF-8 bytes starting with `{`, or a
    parsed object); any kind is accepted, so one call checks what a QR code or a file holds."""
    try:
        if not isinstance(proof, (AccountProof, RecordProof, HistoryProof, TxProof)):
            proof = load_proof(proof)
        check_any_proof(proof, trusted_validators, chain_id, history)
    except LedgerError:
        return False
    return True
