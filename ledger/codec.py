"""Canonical msgpack encoding of genesis, transactions and blocks, and its strict decoder.

Every object is a msgpack array with a fixed schema (docs/FORMAT.md). Decoding is strict: the
bytes must be exactly what `encode` produces for the decoded value, so wrong types, non-minimal
integer or length encodings, missing or extra fields and trailing bytes are all rejected, and
decode-then-encode gives back the input bytes. The decoder checks the schema and the limits of
ledger.limits; it does not look at signatures or state (that is validate.py and state.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import msgpack

from ledger import hashing, limits
from ledger.errors import BAD_ENCODING, BAD_GENESIS, BAD_VERSION, LIMIT_EXCEEDED, RECORD_TOO_LARGE, LedgerError

KIND_TRANSFER = 0
KIND_MINT = 1
KIND_RECORD = 2
KIND_NAMES = {KIND_TRANSFER: "transfer", KIND_MINT: "mint", KIND_RECORD: "record"}

# The signature is the last field and always a bin8 of 64 bytes: c4 40 <64 bytes>.
_SIGNATURE_TAIL = 2 + limits.SIGNATURE_BYTES


@dataclass(frozen=True, slots=True)
class Transfer:
    to: bytes
    amount: int
    kind = KIND_TRANSFER


@dataclass(frozen=True, slots=True)
class Mint:
    to: bytes
    amount: int
    kind = KIND_MINT


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    kind = KIND_RECORD


Body = Union[Transfer, Mint, Record]


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    chain_id: bytes
    height: int
    previous_hash: bytes
    time_ms: int
    tx_count: int
    tx_root: bytes
    state_commitment: bytes
    proposer: bytes
    signature: bytes
    hash: bytes = field(compare=False, repr=False, default=b"")


@dataclass(frozen=True, slots=True)
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


def encode_transaction(tx: Transaction) -> bytes:
    return _pack([tx.chain_id, tx.sender, tx.nonce, tx.kind, body_fields(tx.body), tx.signature])


def signed_from_unsigned(unsigned: bytes, signature: bytes) -> bytes:
    """Append the signature field: the array header grows by one (fixarray 5 -> 6 or 9 -> 10)."""
    return bytes([unsigned[0] + 1]) + unsigned[1:] + b"\xc4\x40" + signature


def unsigned_from_signed(signed: bytes) -> bytes:
    """Drop the trailing signature field from a canonical signed array."""
    return bytes([signed[0] - 1]) + signed[1:-_SIGNATURE_TAIL]


def _header_fields(h: BlockHeader) -> list:
    return [h.version, h.chain_id, h.height, h.previous_hash, h.time_ms, h.tx_count, h.tx_root,
            h.state_commitment, h.proposer]


def encode_unsigned_header(h: BlockHeader) -> bytes:
    return _pack(_header_fields(h))


def encode_header(h: BlockHeader) -> bytes:
    return _pack(_header_fields(h) + [h.signature])


def _transaction_list(tx: Transaction) -> list:
    return [tx.chain_id, tx.sender, tx.nonce, tx.kind, body_fields(tx.body), tx.signature]


def encode_block(block: Block) -> bytes:
    return _pack([_header_fields(block.header) + [block.header.signature],
                  [_transaction_list(tx) for tx in block.transactions]])


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


def _decode_body(kind: object, body: object, index: int | None) -> Body:
    if kind == KIND_RECORD and type(kind) is int:
        fields = _check_array(body, 2, "record body", index)
        key, value = fields
        if type(key) is not bytes or type(value) is not bytes:
            raise _fail("record key and value must be binary", index)
        if len(key) > limits.RECORD_KEY_BYTES_MAX or len(value) > limits.RECORD_VALUE_BYTES_MAX:
            raise _fail(f"record key is at most {limits.RECORD_KEY_BYTES_MAX} bytes and value at most "
                        f"{limits.RECORD_VALUE_BYTES_MAX} bytes", index, RECORD_TOO_LARGE)
        return Record(key, value)
    if type(kind) is int and kind in (KIND_TRANSFER, KIND_MINT):
        fields = _check_array(body, 2, "transfer or mint body", index)
        to, amount = fields
        if not _is_bytes(to, limits.KEY_BYTES):
            raise _fail("the recipient must be a 32-byte public key", index)
        if not _is_uint(amount, limits.AMOUNT_MAX):
            raise _fail("the amount must be an unsigned 64-bit integer", index)
        return Transfer(to, amount) if kind == KIND_TRANSFER else Mint(to, amount)
    raise _fail("unknown transaction kind", index)


def _transaction_from_fields(fields: object, index: int | None) -> Transaction:
    chain_id, sender, nonce, kind, body, signature = _check_array(fields, 6, "transaction", index)
    if not _is_bytes(chain_id, limits.HASH_BYTES):
        raise _fail("the transaction chain id must be 32 bytes", index)
    if not _is_bytes(sender, limits.KEY_BYTES):
        raise _fail("the sender must be a 32-byte public key", index)
    if not _is_uint(nonce, limits.NONCE_MAX):
        raise _fail("the nonce must be an unsigned 64-bit integer", index)
    decoded_body = _decode_body(kind, body, index)
    if not _is_bytes(signature, limits.SIGNATURE_BYTES):
        raise _fail("the signature must be 64 bytes", index)
    unsigned = encode_unsigned_transaction(chain_id, sender, nonce, decoded_body)
    return Transaction(chain_id, sender, nonce, decoded_body, signature, hashing.transaction_id(unsigned))


def decode_transaction(data: bytes) -> Transaction:
    fields = _unpack(data, "transaction")
    tx = _transaction_from_fields(fields, None)
    if encode_transaction(tx) != bytes(data):
        raise _fail("the transaction is not canonically encoded")
    return tx


def _header_from_fields(fields: object) -> BlockHeader:
    values = _check_array(fields, 10, "block header")
    version, chain_id, height, previous_hash, time_ms, tx_count, tx_root, commitment, proposer, signature = values
    if not _is_uint(version):
        raise _fail("the header version must be an unsigned integer")
    if version != limits.FORMAT_VERSION:
        raise LedgerError(BAD_VERSION, f"block format version {version} is not supported (expected {limits.FORMAT_VERSION})")
    for name, value in (("chain id", chain_id), ("previous hash", previous_hash), ("transaction root", tx_root),
                        ("state commitment", commitment)):
        if not _is_bytes(value, limits.HASH_BYTES):
            raise _fail(f"the header {name} must be 32 bytes")
    if not _is_uint(height, limits.HEIGHT_MAX) or height == 0:
        raise _fail("the header height must be an unsigned 64-bit integer of at least 1")
    if not _is_uint(time_ms, limits.TIME_MS_MAX):
        raise _fail("the header time must be an unsigned 64-bit integer of milliseconds")
    if not _is_uint(tx_count):
        raise _fail("the transaction count must be an unsigned 64-bit integer")
    if tx_count > limits.TRANSACTIONS_PER_BLOCK_MAX:
        raise _fail(f"the transaction count must be at most {limits.TRANSACTIONS_PER_BLOCK_MAX}", code=LIMIT_EXCEEDED)
    if not _is_bytes(proposer, limits.KEY_BYTES):
        raise _fail("the proposer must be a 32-byte public key")
    if not _is_bytes(signature, limits.SIGNATURE_BYTES):
        raise _fail("the header signature must be 64 bytes")
    unsigned = _pack(values[:9])
    return BlockHeader(version, chain_id, height, previous_hash, time_ms, tx_count, tx_root, commitment, proposer,
                       signature, hashing.header_hash(unsigned))


def decode_header(data: bytes) -> BlockHeader:
    header = _header_from_fields(_unpack(data, "block header"))
    if encode_header(header) != bytes(data):
        raise _fail("the block header is not canonically encoded")
    return header


def decode_block(data: bytes) -> Block:
    """Decode a block strictly. Errors carry the transaction index where one applies (height is
    filled in by the caller, who knows which height it expected)."""
    if len(data) > limits.BLOCK_BYTES_MAX:
        raise _fail(f"the block is larger than {limits.BLOCK_BYTES_MAX} bytes", code=LIMIT_EXCEEDED)
    fields = _unpack(data, "block")
    header_fields, tx_fields = _check_array(fields, 2, "block")
    header = _header_from_fields(header_fields)
    if type(tx_fields) is not list:
        raise _fail("the block transactions must be an array")
    if len(tx_fields) > limits.TRANSACTIONS_PER_BLOCK_MAX:
        raise _fail(f"a block carries at most {limits.TRANSACTIONS_PER_BLOCK_MAX} transactions", code=LIMIT_EXCEEDED)
    transactions = tuple(_transaction_from_fields(item, i) for i, item in enumerate(tx_fields))
    block = Block(header, transactions)
    canonical = encode_block(block)
    if canonical != bytes(data):
        raise _fail("the block is not canonically encoded", _first_non_canonical_transaction(block, canonical, data))
    return block


def _first_non_canonical_transaction(block: Block, canonical: bytes, data: bytes) -> int | None:
    """The index of the transaction where `data` first departs from the canonical encoding (None
    if it departs in the header or the array headers). Everything before the first differing byte
    is canonical, so that byte lies in the first non-canonical element."""
    differ = next((i for i, (a, b) in enumerate(zip(canonical, data)) if a != b), min(len(canonical), len(data)))
    offset = len(canonical) - sum(len(encode_transaction(tx)) for tx in block.transactions)
    for index, tx in enumerate(block.transactions):
        end = offset + len(encode_transaction(tx))
        if offset <= differ < end:
            return index
        offset = end
    return None


def decode_genesis(data: bytes) -> Genesis:
    if len(data) > limits.GENESIS_BYTES_MAX:
        raise _fail(f"the genesis is larger than {limits.GENESIS_BYTES_MAX} bytes", code=LIMIT_EXCEEDED)
    fields = _unpack(data, "genesis")
    version, name, time_ms, validators, issuers, balances = _check_array(fields, 6, "genesis")
    if not _is_uint(version):
        raise _fail("the genesis version must be an unsigned integer")
    if version != limits.FORMAT_VERSION:
        raise LedgerError(BAD_VERSION, f"genesis format version {version} is not supported (expected {limits.FORMAT_VERSION})")
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
    if g.version != limits.FORMAT_VERSION:
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
    if any(not _is_uint(amount, limits.AMOUNT_MAX) for _, amount in g.balances):
        raise LedgerError(BAD_GENESIS, "a genesis balance must be an unsigned 64-bit amount")
    if not _is_uint(g.time_ms, limits.TIME_MS_MAX):
        raise LedgerError(BAD_GENESIS, "the genesis time must be an unsigned 64-bit integer of milliseconds")


def make_genesis(name: str, time_ms: int, validators, issuers=(), balances=()) -> Genesis:
    """Build a valid genesis: keys are sorted for the canonical form; duplicates are an error."""
    pairs = balances.items() if isinstance(balances, dict) else balances
    genesis = Genesis(limits.FORMAT_VERSION, name, time_ms, tuple(sorted(validators)), tuple(sorted(issuers)),
                      tuple(sorted((bytes(key), int(amount)) for key, amount in pairs)))
    check_genesis(genesis)
    return genesis
