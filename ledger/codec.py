"""Canonical msgpack encoding of genesis, transactions and blocks, and its strict decoder.

Specification: docs/FORMAT.md §1, §4-§6 and §10, over the msgpack format
(github.com/msgpack/msgpack, spec.md).

Every object is a msgpack array with a fixed schema (docs/FORMAT.md). Decoding is strict: the
bytes must be exactly what `encode` produces for the decoded value, so wrong types, non-minimal
integer or length encodings, missing or extra fields and trailing bytes are all rejected, and
decode-then-encode gives back the input bytes. The decoder checks the schema and the limits of
ledger.limits, except record sizes inside a block, which are a transaction rule reported at the
transaction's index (docs/FORMAT.md §8); it does not look at signatures or state (that is
validate.py and state.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import msgpack

from ledger import _core, hashing, limits, signatures
from ledger.errors import (
    BAD_ENCODING, BAD_GENESIS, BAD_VERSION, LIMIT_EXCEEDED, RECORD_TOO_LARGE, UNKNOWN_TX_KIND, LedgerError,
)

KIND_TRANSFER = 0
KIND_MINT = 1
KIND_RECORD = 2
KIND_NAMES = {KIND_TRANSFER: "transfer", KIND_MINT: "mint", KIND_RECORD: "record"}

# The signature is the last field and always a bin8 of 64 bytes: c4 40 <64 bytes>.
_SIGNATURE_TAIL = 2 + limits.SIGNATURE_BYTES


# The model classes are treated as immutable but are not frozen: a frozen dataclass costs three
# times as much to construct, and the import path builds one per transaction.
_model = dataclass(slots=True, unsafe_hash=True)


@_model
class Transfer:
    to: bytes
    amount: int
    kind = KIND_TRANSFER


@_model
class Mint:
    to: bytes
    amount: int
    kind = KIND_MINT


@_model
class Record:
    key: bytes
    value: bytes
    kind = KIND_RECORD


Body = Union[Transfer, Mint, Record]


@_model
class Transaction:
    chain_id: bytes
    sender: bytes
    nonce: int
    body: Body
    signature: bytes
    txid: bytes = field(compare=False, repr=False, default=b"")

    @property
    def kind(self) -> int:
        return self.body.kind


@_model
class BlockHeader:
    version: int
    chain_id: bytes
    height: int
    previous_hash: bytes
    time_ms: int
    tx_count: int
    tx_root: bytes
    state_commitment: bytes   # version 1: the commitment chain (§7.1); version 2: the state root (§7.2)
    proposer: bytes
    signature: bytes
    hash: bytes = field(compare=False, repr=False, default=b"")
    history_root: bytes = b""  # version 2 only (§7.3); b"" in a version-1 header

    @property
    def state_root(self) -> bytes:
        """The version-2 name of the state field."""
        return self.state_commitment


@_model
class Block:
    header: BlockHeader
    transactions: tuple[Transaction, ...]

    @property
    def height(self) -> int:
        return self.header.height

    @property
    def hash(self) -> bytes:
        return self.header.hash


@dataclass(frozen=True, slots=True)
class Genesis:
    version: int
    name: str
    time_ms: int
    validators: tuple[bytes, ...]
    issuers: tuple[bytes, ...]
    balances: tuple[tuple[bytes, int], ...]

    @property
    def chain_id(self) -> bytes:
        return hashing.genesis_hash(encode_genesis(self))


# ---------------------------------------------------------------- encoding

_packer = msgpack.Packer(use_bin_type=True, autoreset=True)


def _pack(value: object) -> bytes:
    return _packer.pack(value)


def body_fields(body: Body) -> list:
    if isinstance(body, Record):
        return [body.key, body.value]
    return [body.to, body.amount]


def encode_unsigned_transaction(chain_id: bytes, sender: bytes, nonce: int, body: Body) -> bytes:
    """The bytes whose hash is the transaction id (everything but the signature)."""
    return _pack([chain_id, sender, nonce, body.kind, body_fields(body)])


def _transaction_fields(tx: Transaction) -> list:
    return [tx.chain_id, tx.sender, tx.nonce, tx.kind, body_fields(tx.body), tx.signature]


def encode_transaction(tx: Transaction) -> bytes:
    return _pack(_transaction_fields(tx))


def signed_from_unsigned(unsigned: bytes, signature: bytes) -> bytes:
    """Append the signature field: the array header grows by one (fixarray 5 -> 6 or 9 -> 10)."""
    return bytes([unsigned[0] + 1]) + unsigned[1:] + b"\xc4\x40" + signature


def unsigned_from_signed(signed: bytes) -> bytes:
    """Drop the trailing signature field from a canonical signed array."""
    return bytes([signed[0] - 1]) + signed[1:-_SIGNATURE_TAIL]


def _header_fields(h: BlockHeader) -> list:
    if h.version == 1:
        return [h.version, h.chain_id, h.height, h.previous_hash, h.time_ms, h.tx_count, h.tx_root,
                h.state_commitment, h.proposer]
    return [h.version, h.chain_id, h.height, h.previous_hash, h.time_ms, h.tx_count, h.tx_root,
            h.state_commitment, h.history_root, h.proposer]


def encode_unsigned_header(h: BlockHeader) -> bytes:
    return _pack(_header_fields(h))


def encode_header(h: BlockHeader) -> bytes:
    return _pack(_header_fields(h) + [h.signature])


def encode_block(block: Block) -> bytes:
    return _pack([_header_fields(block.header) + [block.header.signature],
                  [_transaction_fields(tx) for tx in block.transactions]])


def encode_genesis(g: Genesis) -> bytes:
    return _pack([g.version, g.name, g.time_ms, list(g.validators), list(g.issuers),
                  [[key, amount] for key, amount in g.balances]])


# ---------------------------------------------------------------- strict decoding


def _fail(message: str, index: int | None = None, code: str = BAD_ENCODING) -> LedgerError:
    return LedgerError(code, message, index=index)


def _unpack(data: bytes, what: str) -> object:
    """msgpack's own length limits are left at the input size (nothing can be longer than the
    input), so that every named limit is checked by the schema code and gets its own error code."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes")
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, max_map_len=0, max_ext_len=0)
    except msgpack.ExtraData:
        raise _fail(f"trailing bytes after the {what}") from None
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise _fail(f"the {what} is not well-formed msgpack ({exc.__class__.__name__})") from None


def _is_uint(value: object, maximum: int = 2**64 - 1) -> bool:
    return type(value) is int and 0 <= value <= maximum


def _is_bytes(value: object, size: int) -> bool:
    return type(value) is bytes and len(value) == size


def _check_array(value: object, length: int, what: str, index: int | None = None) -> list:
    if type(value) is not list or len(value) != length:
        raise _fail(f"the {what} must be an array of {length} fields", index)
    return value


class _Reader:
    """A single pass over canonical msgpack: every length and integer must use its shortest
    form, so the first byte that departs from the canonical encoding is the error reported, in
    byte order. ledger/csrc/block_decoder.c is the native twin and gives the same verdicts, codes,
    transaction indexes and messages on every input."""

    __slots__ = ("data", "pos", "index", "version")

    def __init__(self, data: bytes, version: int | None = None):
        self.data = data
        self.pos = 0
        self.index: int | None = None
        self.version = version   # the chain's format version; None accepts any known version

    def fail(self, message: str, code: str = BAD_ENCODING) -> LedgerError:
        return LedgerError(code, message, index=self.index)

    def _take(self, size: int) -> bytes:
        start = self.pos
        end = start + size
        if end > len(self.data):
            raise self.fail("the input ends early")
        self.pos = end
        return self.data[start:end]

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("the input ends early")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def _be(self, size: int) -> int:
        return int.from_bytes(self._take(size), "big")

    def array(self, what: str) -> int:
        marker = self._byte()
        if 0x90 <= marker <= 0x9F:
            return marker & 0x0F
        if marker == 0xDC:
            length = self._be(2)
            if length < 16:
                raise self.fail("non-minimal array length")
            return length
        if marker == 0xDD:
            length = self._be(4)
            if length < 0x10000:
                raise self.fail("non-minimal array length")
            return length
        raise self.fail(f"expected an array for the {what}")

    def fields(self, count: int, what: str) -> None:
        if self.array(what) != count:
            raise self.fail(f"the {what} must be an array of {count} fields")

    def uint(self, what: str) -> int:
        marker = self._byte()
        if marker <= 0x7F:
            return marker
        if 0xCC <= marker <= 0xCF:
            size = 1 << (marker - 0xCC)
            value = self._be(size)
            if value < (0x80 if size == 1 else 1 << (4 * size)):
                raise self.fail("non-minimal integer")
            return value
        raise self.fail(f"the {what} must be an unsigned integer")

    def bin_length(self, what: str) -> int:
        marker = self._byte()
        if marker == 0xC4:
            return self._be(1)
        if marker == 0xC5:
            length = self._be(2)
            if length < 0x100:
                raise self.fail("non-minimal binary length")
            return length
        if marker == 0xC6:
            length = self._be(4)
            if length < 0x10000:
                raise self.fail("non-minimal binary length")
            return length
        raise self.fail(f"the {what} must be binary")

    def bin_exact(self, size: int, what: str) -> bytes:
        if self.bin_length(what) != size:
            raise self.fail(f"the {what} must be {size} bytes")
        return self._take(size)

    def bin_any(self, what: str) -> bytes:
        """Binary of any length the input holds: record sizes are a transaction rule (FORMAT.md §8),
        checked at the transaction's index in validation, not a decoding error."""
        return self._take(self.bin_length(what))

    def end(self, what: str) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"trailing bytes after the {what}")

    def transaction(self) -> Transaction:
        start = self.pos
        self.fields(6, "transaction")
        chain_id = self.bin_exact(32, "transaction chain id")
        sender = self.bin_exact(32, "sender")
        nonce = self.uint("nonce")
        kind = self.uint("kind")
        if kind not in KIND_NAMES:   # the kind chooses the body's schema, so it is judged where it is read
            raise self.fail("unknown transaction kind", UNKNOWN_TX_KIND)
        self.fields(2, "transaction body")
        if kind == KIND_TRANSFER or kind == KIND_MINT:
            to = self.bin_exact(32, "recipient")
            amount = self.uint("amount")
            body: Body = Transfer(to, amount) if kind == KIND_TRANSFER else Mint(to, amount)
        else:
            key = self.bin_any("record key")
            body = Record(key, self.bin_any("record value"))
        signature = self.bin_exact(64, "signature")
        txid = hashing.transaction_id(unsigned_from_signed(self.data[start:self.pos]))
        return Transaction(chain_id, sender, nonce, body, signature, txid)

    def header(self) -> BlockHeader:
        """A header of the chain's version (self.version), or of any known version when None. The
        array length is read first (10 or 11, else bad-encoding), then the version, which chooses
        the schema: a version not accepted is bad-version, then a length other than the version's
        is bad-encoding (FORMAT.md §6, §8 step 2)."""
        start = self.pos
        count = self.array("block header")
        if count not in limits.HEADER_FIELDS.values():
            raise self.fail("the block header must be an array of 10 (version 1) or 11 (version 2) fields")
        version = self.uint("header version")
        accepted = limits.FORMAT_VERSIONS if self.version is None else (self.version,)
        if version not in accepted:
            raise self.fail("unsupported block format version" if self.version is None
                            else f"the block format version is not the chain's ({self.version})", BAD_VERSION)
        if count != limits.HEADER_FIELDS[version]:
            raise self.fail(f"a version-{version} block header must be an array of {limits.HEADER_FIELDS[version]} fields")
        chain_id = self.bin_exact(32, "header chain id")
        height = self.uint("height")   # 0 decodes; it is never the next height (bad-height, FORMAT.md §8)
        previous_hash = self.bin_exact(32, "previous hash")
        time_ms = self.uint("time")
        tx_count = self.uint("transaction count")
        if tx_count > limits.TRANSACTIONS_PER_BLOCK_MAX:
            raise self.fail("too many transactions for one block", LIMIT_EXCEEDED)
        tx_root = self.bin_exact(32, "transaction root")
        commitment = self.bin_exact(32, "state commitment" if version == 1 else "state root")
        history_root = self.bin_exact(32, "history root") if version == 2 else b""
        proposer = self.bin_exact(32, "proposer")
        signature = self.bin_exact(64, "header signature")
        digest = hashing.header_hash(unsigned_from_signed(self.data[start:self.pos]))
        return BlockHeader(version, chain_id, height, previous_hash, time_ms, tx_count, tx_root, commitment,
                           proposer, signature, digest, history_root)

    def block(self) -> Block:
        if len(self.data) > limits.BLOCK_BYTES_MAX:
            raise self.fail("the block is over the size limit", LIMIT_EXCEEDED)
        self.fields(2, "block")
        header = self.header()
        count = self.array("block transactions")
        if count > limits.TRANSACTIONS_PER_BLOCK_MAX:
            raise self.fail("too many transactions for one block", LIMIT_EXCEEDED)
        transactions = []
        for index in range(count):
            self.index = index
            transactions.append(self.transaction())
        self.index = None
        self.end("block")
        return Block(header, tuple(transactions))


def _as_bytes(data: bytes | bytearray | memoryview, what: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes")
    return bytes(data)


def decode_transaction(data: bytes) -> Transaction:
    """A transaction on its own (a pending file, a proof): decoded, and its record sizes checked,
    since no block validation will check them."""
    reader = _Reader(_as_bytes(data, "a transaction"))
    tx = reader.transaction()
    reader.end("transaction")
    record_size_error = check_record_size(tx)
    if record_size_error is not None:
        raise LedgerError(RECORD_TOO_LARGE, record_size_error)
    return tx


def check_record_size(tx: Transaction) -> str | None:
    """Why the transaction breaks the record size limits (FORMAT.md §10), or None."""
    body = tx.body
    if type(body) is Record:
        if len(body.key) > limits.RECORD_KEY_BYTES_MAX:
            return f"the record key is over {limits.RECORD_KEY_BYTES_MAX} bytes"
        if len(body.value) > limits.RECORD_VALUE_BYTES_MAX:
            return f"the record value is over {limits.RECORD_VALUE_BYTES_MAX} bytes"
    return None


def _chain_version(version: int | None) -> int | None:
    """The chain's format version a decoder is given: 1, 2, or None (any known version). Any other
    value is the caller's mistake, not the data's (the native bindings refuse it the same way)."""
    if version is not None and version not in limits.FORMAT_VERSIONS:
        raise ValueError(f"unknown chain format version {version!r}")
    return version


def decode_header(data: bytes, version: int | None = None) -> BlockHeader:
    """A header alone: of the given chain version, or of any known version when None."""
    reader = _Reader(_as_bytes(data, "a block header"), _chain_version(version))
    header = reader.header()
    reader.end("block header")
    return header


def decode_block_python(data: bytes, version: int | None = None) -> Block:
    """The readable twin of the native block decoder: a block of the chain's version (any known
    version when None)."""
    return _Reader(_as_bytes(data, "a block"), _chain_version(version)).block()


class _Model:
    """What the native decoder builds its result from (so it returns exactly the twin's objects)."""
    Block, BlockHeader, Transaction, Transfer, Mint, Record = Block, BlockHeader, Transaction, Transfer, Mint, Record
    LedgerError = LedgerError


def decode_block(data: bytes, version: int | None = None) -> Block:
    """Decode a block strictly, in the native core (parsing and hashing without the GIL), as a
    block of a chain of format `version` (the genesis version; None accepts any known version).
    Errors carry the transaction index where one applies (the caller, who knows which height it
    expected, fills in the height)."""
    return decode_block_for_validation(data, version)[0]


def decode_block_for_validation(data: bytes, version: int | None = None) -> tuple[Block, bytes, bytes]:
    """The block, its signature records (see signature_records) and the Merkle root of its
    transaction ids, all made in the native core in one pass; `version` as in decode_block."""
    block, root, records = _core.block_decode(_as_bytes(data, "a block"), hashing.KEY_TRANSACTION,
                                              hashing.KEY_BLOCK_HEADER, hashing.KEY_MERKLE_LEAF,
                                              hashing.KEY_MERKLE_NODE, _Model, _chain_version(version))
    return block, records, root


SIGNATURE_RECORD_SIZE = 128


def signature_records(block: Block) -> bytes:
    """Every signature a block carries, header first, as fixed 128-byte records:
    public key (32) || signature (64) || signed message (32: the block hash or the txid).
    The Python twin of the records the native decoder returns."""
    header = block.header
    parts = [header.proposer, header.signature, header.hash]
    for tx in block.transactions:
        parts += (tx.sender, tx.signature, tx.txid)
    return b"".join(parts)


def decode_genesis(data: bytes) -> Genesis:
    if len(data) > limits.GENESIS_BYTES_MAX:
        raise _fail(f"the genesis is larger than {limits.GENESIS_BYTES_MAX} bytes", code=LIMIT_EXCEEDED)
    fields = _unpack(data, "genesis")
    version, name, time_ms, validators, issuers, balances = _check_array(fields, 6, "genesis")
    if not _is_uint(version):
        raise _fail("the genesis version must be an unsigned integer")
    if version not in limits.FORMAT_VERSIONS:
        raise LedgerError(BAD_VERSION, f"genesis format version {version} is not supported (expected 1 or 2)")
    if type(name) is not str:
        raise _fail("the chain name must be a string")
    if len(name.encode("utf-8")) > limits.CHAIN_NAME_BYTES_MAX:
        raise _fail(f"the chain name is at most {limits.CHAIN_NAME_BYTES_MAX} bytes", code=LIMIT_EXCEEDED)
    if not _is_uint(time_ms, limits.TIME_MS_MAX):
        raise _fail("the genesis time must be an unsigned 64-bit integer of milliseconds")
    genesis = Genesis(version, name, time_ms, _key_list(validators, "validators", limits.VALIDATORS_MAX),
                      _key_list(issuers, "issuers", limits.ISSUERS_MAX), _balances(balances))
    check_genesis(genesis)
    if encode_genesis(genesis) != bytes(data):
        raise _fail("the genesis is not canonically encoded")
    return genesis


def _key_list(value: object, what: str, maximum: int) -> tuple[bytes, ...]:
    if type(value) is not list:
        raise _fail(f"the genesis {what} must be an array")
    if len(value) > maximum:
        raise _fail(f"a genesis has at most {maximum} {what}", code=LIMIT_EXCEEDED)
    if not all(_is_bytes(key, limits.KEY_BYTES) for key in value):
        raise _fail(f"the genesis {what} must be 32-byte public keys")
    return tuple(value)


def _balances(value: object) -> tuple[tuple[bytes, int], ...]:
    if type(value) is not list:
        raise _fail("the genesis balances must be an array")
    if len(value) > limits.GENESIS_BALANCES_MAX:
        raise _fail(f"a genesis has at most {limits.GENESIS_BALANCES_MAX} balances", code=LIMIT_EXCEEDED)
    result = []
    for entry in value:
        key, amount = _check_array(entry, 2, "genesis balance")
        if not _is_bytes(key, limits.KEY_BYTES) or not _is_uint(amount, limits.AMOUNT_MAX):
            raise _fail("a genesis balance is a 32-byte public key and an unsigned 64-bit amount")
        result.append((key, amount))
    return tuple(result)


def check_genesis(g: Genesis) -> None:
    """Rules a genesis must meet beyond its schema (also applied when one is created in Python)."""
    if g.version not in limits.FORMAT_VERSIONS:
        raise LedgerError(BAD_VERSION, f"genesis format version {g.version} is not supported")
    if len(g.name.encode("utf-8")) > limits.CHAIN_NAME_BYTES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"the chain name is at most {limits.CHAIN_NAME_BYTES_MAX} bytes")
    if not g.validators:
        raise LedgerError(BAD_GENESIS, "a genesis needs at least one validator")
    if len(g.validators) > limits.VALIDATORS_MAX or len(g.issuers) > limits.ISSUERS_MAX \
            or len(g.balances) > limits.GENESIS_BALANCES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, "the genesis has more validators, issuers or balances than the format allows")
    for what, keys in (("validators", g.validators), ("issuers", g.issuers), ("balances", [k for k, _ in g.balances])):
        if any(not _is_bytes(k, limits.KEY_BYTES) for k in keys):
            raise LedgerError(BAD_GENESIS, f"the genesis {what} must be 32-byte public keys")
        if any(a >= b for a, b in zip(keys, keys[1:])):
            raise LedgerError(BAD_GENESIS, f"the genesis {what} must be sorted ascending without duplicates")
    # A key of small order "signs" every message under ZIP-215 (R = identity, S = 0), so the keys
    # the chain trusts to propose and to mint must not be of small order, in any encoding.
    # Balance holders may be any key: a balance moves only by a signature, and small-order
    # senders are refused (FORMAT.md §4).
    for what, keys in (("validator", g.validators), ("issuer", g.issuers)):
        if any(signatures.is_small_order(key) for key in keys):
            raise LedgerError(BAD_GENESIS, f"a genesis {what} key has small order, so anyone could sign as it")
    if any(not _is_uint(amount, limits.AMOUNT_MAX) for _, amount in g.balances):
        raise LedgerError(BAD_GENESIS, "a genesis balance must be an unsigned 64-bit amount")
    if not _is_uint(g.time_ms, limits.TIME_MS_MAX):
        raise LedgerError(BAD_GENESIS, "the genesis time must be an unsigned 64-bit integer of milliseconds")


def make_genesis(name: str, time_ms: int, validators, issuers=(), balances=(),
                 version: int = limits.DEFAULT_FORMAT_VERSION) -> Genesis:
    """Build a valid genesis: keys are sorted for the canonical form; duplicates are an error.
    `version` chooses the chain format (2, the default, or 1)."""
    pairs = balances.items() if isinstance(balances, dict) else balances
    genesis = Genesis(version, name, time_ms, tuple(sorted(validators)), tuple(sorted(issuers)),
                      tuple(sorted((bytes(key), int(amount)) for key, amount in pairs)))
    check_genesis(genesis)
    return genesis
