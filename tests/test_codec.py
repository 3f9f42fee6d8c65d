"""ledger.codec: canonical msgpack with fixed schemas and strict decoding (docs/FORMAT.md §1, §4-§6, §10).

The tests carry their own tiny msgpack writer (no `msgpack` package) that can write both the
canonical form and every non-canonical form of a value; it is used to check the encoder
differentially and to feed the strict decoder wrong types, wide encodings, missing and extra fields.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import blake3 as ref
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import codec, crypto, hashing, limits
from ledger.builder import sign_header, sign_transaction
from ledger.codec import Block, BlockHeader, Genesis, Mint, Record, Transaction, Transfer
from ledger.errors import (
    BAD_ENCODING, BAD_GENESIS, BAD_VERSION, LIMIT_EXCEEDED, RECORD_TOO_LARGE, UNKNOWN_TX_KIND, LedgerError,
)
from ledger.keys import Keypair

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ================================================================ an independent msgpack writer


@dataclass(frozen=True)
class Int:
    """An integer written in a chosen form: fixint, negfix, u8..u64, i8..i64."""
    value: int
    form: str


@dataclass(frozen=True)
class Bin:
    data: bytes
    form: str  # bin8 | bin16 | bin32


@dataclass(frozen=True)
class Str:
    data: bytes  # raw bytes under a str header (need not be UTF-8)
    form: str  # fixstr | str8 | str16 | str32


@dataclass(frozen=True)
class Arr:
    items: list
    form: str  # fixarray | array16 | array32


@dataclass(frozen=True)
class Map:
    pairs: list


@dataclass(frozen=True)
class Raw:
    data: bytes


_INT_FORMS = {"u8": (0xCC, ">B"), "u16": (0xCD, ">H"), "u32": (0xCE, ">I"), "u64": (0xCF, ">Q"),
              "i8": (0xD0, ">b"), "i16": (0xD1, ">h"), "i32": (0xD2, ">i"), "i64": (0xD3, ">q")}
_UINT_ORDER = ["fixint", "u8", "u16", "u32", "u64"]
_SINT_ORDER = ["negfix", "i8", "i16", "i32", "i64"]
_BIN_FORMS = {"bin8": (0xC4, ">B"), "bin16": (0xC5, ">H"), "bin32": (0xC6, ">I")}
_STR_FORMS = {"str8": (0xD9, ">B"), "str16": (0xDA, ">H"), "str32": (0xDB, ">I")}
_ARR_FORMS = {"array16": (0xDC, ">H"), "array32": (0xDD, ">I")}


def int_fits(value: int, form: str) -> bool:
    if form == "fixint":
        return 0 <= value < 128
    if form == "negfix":
        return -32 <= value < 0
    try:
        struct.pack(_INT_FORMS[form][1], value)
        return True
    except struct.error:
        return False


def minimal_int_form(value: int) -> str:
    return next(f for f in (_UINT_ORDER if value >= 0 else _SINT_ORDER) if int_fits(value, f))


def write_int(value: int, form: str) -> bytes:
    assert int_fits(value, form), (value, form)
    if form in ("fixint", "negfix"):
        return bytes([value & 0xFF])
    tag, fmt = _INT_FORMS[form]
    return bytes([tag]) + struct.pack(fmt, value)


def minimal_bin_form(n: int) -> str:
    return "bin8" if n < 2**8 else "bin16" if n < 2**16 else "bin32"


def minimal_str_form(n: int) -> str:
    return "fixstr" if n < 32 else "str8" if n < 2**8 else "str16" if n < 2**16 else "str32"


def minimal_arr_form(n: int) -> str:
    return "fixarray" if n < 16 else "array16" if n < 2**16 else "array32"


def _length(forms: dict, form: str, n: int) -> bytes:
    tag, fmt = forms[form]
    return bytes([tag]) + struct.pack(fmt, n)


def write(value) -> bytes:
    """msgpack bytes of `value`: plain Python values in canonical form, wrappers as they say."""
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, Int):
        return write_int(value.value, value.form)
    if isinstance(value, Bin):
        return _length(_BIN_FORMS, value.form, len(value.data)) + value.data
    if isinstance(value, Str):
        n = len(value.data)
        head = bytes([0xA0 | n]) if value.form == "fixstr" else _length(_STR_FORMS, value.form, n)
        assert value.form != "fixstr" or n < 32
        return head + value.data
    if isinstance(value, Arr):
        n = len(value.items)
        head = bytes([0x90 | n]) if value.form == "fixarray" else _length(_ARR_FORMS, value.form, n)
        assert value.form != "fixarray" or n < 16
        return head + b"".join(write(item) for item in value.items)
    if isinstance(value, Map):
        assert len(value.pairs) < 16
        return bytes([0x80 | len(value.pairs)]) + b"".join(write(k) + write(v) for k, v in value.pairs)
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, float):
        return b"\xcb" + struct.pack(">d", value)
    if isinstance(value, int):
        return write_int(value, minimal_int_form(value))
    if isinstance(value, bytes):
        return write(Bin(value, minimal_bin_form(len(value))))
    if isinstance(value, str):
        data = value.encode("utf-8")
        return write(Str(data, minimal_str_form(len(data))))
    if isinstance(value, (list, tuple)):
        return write(Arr(list(value), minimal_arr_form(len(value))))
    raise TypeError(type(value))


def test_writer_matches_msgpack_spec_examples():
    assert write(0) == b"\x00" and write(127) == b"\x7f" and write(128) == b"\xcc\x80"
    assert write(255) == b"\xcc\xff" and write(256) == b"\xcd\x01\x00"
    assert write(65535) == b"\xcd\xff\xff" and write(65536) == b"\xce\x00\x01\x00\x00"
    assert write(2**32 - 1) == b"\xce\xff\xff\xff\xff" and write(2**32) == b"\xcf" + (2**32).to_bytes(8, "big")
    assert write(2**64 - 1) == b"\xcf" + b"\xff" * 8
    assert write(-1) == b"\xff" and write(-33) == b"\xd0\xdf"
    assert write(Int(5, "u8")) == b"\xcc\x05" and write(Int(5, "i16")) == b"\xd1\x00\x05"
    assert write(b"") == b"\xc4\x00" and write(b"\x01" * 32) == b"\xc4\x20" + b"\x01" * 32
    assert write(Bin(b"\x01" * 32, "bin16")) == b"\xc5\x00\x20" + b"\x01" * 32
    assert write("ab") == b"\xa2ab" and write("a" * 32) == b"\xd9\x20" + b"a" * 32
    assert write([]) == b"\x90" and write([0] * 16) == b"\xdc\x00\x10" + b"\x00" * 16
    assert write(Arr([1], "array16")) == b"\xdc\x00\x01\x01"


# ================================================================ object <-> tree of fields


def body_tree(body) -> list:
    return [body.key, body.value] if isinstance(body, Record) else [body.to, body.amount]


def tx_tree(tx: Transaction) -> list:
    return [tx.chain_id, tx.sender, tx.nonce, tx.kind, body_tree(tx.body), tx.signature]


def header_tree(h: BlockHeader) -> list:
    """FORMAT.md §6: version 2 has history_root after the state field (then 11 fields, not 10)."""
    roots = [h.state_commitment] if h.version == 1 else [h.state_commitment, h.history_root]
    return [h.version, h.chain_id, h.height, h.previous_hash, h.time_ms, h.tx_count, h.tx_root,
            *roots, h.proposer, h.signature]


def block_tree(b: Block) -> list:
    return [header_tree(b.header), [tx_tree(tx) for tx in b.transactions]]


def genesis_tree(g: Genesis) -> list:
    return [g.version, g.name, g.time_ms, list(g.validators), list(g.issuers), [[k, a] for k, a in g.balances]]


KINDS = {
    "transaction": (codec.encode_transaction, codec.decode_transaction, tx_tree),
    "header": (codec.encode_header, codec.decode_header, header_tree),
    "block": (codec.encode_block, codec.decode_block, block_tree),
    "genesis": (codec.encode_genesis, codec.decode_genesis, genesis_tree),
}
# Arrays of variable length (all other arrays are fixed schemas).
VARIABLE_ARRAYS = {"block": {(1,)}, "genesis": {(3,), (4,), (5,)}}


def decode_error(decode, data: bytes) -> LedgerError:
    with pytest.raises(LedgerError) as info:
        decode(data)
    return info.value


# ================================================================ strategies

BOUNDARY_INTS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
u64 = st.one_of(st.sampled_from(BOUNDARY_INTS), st.integers(0, 2**64 - 1))
key32 = st.binary(min_size=32, max_size=32)
sig64 = st.binary(min_size=64, max_size=64)


def sized_binary(sizes: list[int], maximum: int):
    return st.one_of(st.sampled_from(sizes).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
                     st.binary(max_size=maximum))


record_key = sized_binary([0, 1, 31, 32, 63, 64], limits.RECORD_KEY_BYTES_MAX)
record_value = sized_binary([0, 1, 255, 256, 4095, 4096], 300)
bodies = st.one_of(st.builds(Transfer, key32, u64), st.builds(Mint, key32, u64), st.builds(Record, record_key, record_value))
transactions = st.builds(Transaction, key32, key32, u64, bodies, sig64)
tx_counts = st.one_of(st.sampled_from([0, 1, 127, 128, 255, 256, 65535, 65536]), st.integers(0, 65536))
# Both format versions: a version-2 header carries a history root, a version-1 header none (b"").
headers = st.sampled_from(limits.FORMAT_VERSIONS).flatmap(
    lambda version: st.builds(BlockHeader, st.just(version), key32, u64.filter(bool), key32, u64, tx_counts,
                              key32, key32, key32, sig64,
                              history_root=key32 if version == 2 else st.just(b"")))
blocks = st.builds(Block, headers, st.lists(transactions, max_size=4).map(tuple))
# Validators and issuers are never of small order (FORMAT.md §4; tests/test_trusted_keys.py).
trusted_key32 = key32.filter(lambda k: not crypto.is_small_order(k))
sorted_keys = lambda lo, hi: st.lists(trusted_key32, min_size=lo, max_size=hi, unique=True).map(lambda k: tuple(sorted(k)))
chain_names = st.one_of(st.sampled_from(["", "a" * 31, "a" * 32, "a" * 64, "é" * 32]),
                        st.text(max_size=64).filter(lambda s: len(s.encode("utf-8")) <= 64))
balances = st.lists(st.tuples(key32, u64), max_size=18, unique_by=lambda p: p[0]).map(lambda p: tuple(sorted(p)))
geneses = st.builds(Genesis, st.sampled_from(limits.FORMAT_VERSIONS), chain_names, u64, sorted_keys(1, 18),
                    sorted_keys(0, 18), balances)
OBJECTS = {"transaction": transactions, "header": headers, "block": blocks, "genesis": geneses}


# ================================================================ round trips


@SETTINGS
@given(tx=transactions)
def test_transaction_round_trip(tx):
    data = codec.encode_transaction(tx)
    decoded = codec.decode_transaction(data)
    assert decoded == tx and type(decoded.body) is type(tx.body)
    assert codec.encode_transaction(decoded) == data
    assert decoded.txid == ref.blake3(codec.encode_unsigned_transaction(tx.chain_id, tx.sender, tx.nonce, tx.body),
                                      key=hashing.KEY_TRANSACTION).digest()


@SETTINGS
@given(header=headers)
def test_header_round_trip(header):
    data = codec.encode_header(header)
    decoded = codec.decode_header(data)
    assert decoded == header and codec.encode_header(decoded) == data
    assert decoded.history_root == header.history_root
    assert codec.decode_header(data, header.version) == header
    other = 3 - header.version
    error = decode_error(lambda d: codec.decode_header(d, other), data)
    assert (error.code, error.index) == (BAD_VERSION, None)
    unsigned = codec.encode_unsigned_header(header)
    assert decoded.hash == ref.blake3(unsigned, key=hashing.KEY_BLOCK_HEADER).digest()
    assert codec.signed_from_unsigned(unsigned, header.signature) == data


@SETTINGS
@given(block=blocks)
def test_block_round_trip(block):
    data = codec.encode_block(block)
    decoded = codec.decode_block(data)
    assert decoded == block and codec.encode_block(decoded) == data
    assert decoded.hash == hashing.header_hash(codec.encode_unsigned_header(block.header))
    version = block.header.version
    assert codec.decode_block(data, version) == block == codec.decode_block_python(data, version)
    assert decode_error(lambda d: codec.decode_block(d, 3 - version), data).code == BAD_VERSION
    for tx in decoded.transactions:
        assert tx.txid == hashing.transaction_id(codec.unsigned_from_signed(codec.encode_transaction(tx)))


@SETTINGS
@given(genesis=geneses)
def test_genesis_round_trip(genesis):
    data = codec.encode_genesis(genesis)
    decoded = codec.decode_genesis(data)
    assert decoded == genesis and codec.encode_genesis(decoded) == data
    assert decoded.chain_id == ref.blake3(data, key=hashing.KEY_GENESIS).digest()


@pytest.mark.parametrize("value", BOUNDARY_INTS)
def test_boundary_integers_round_trip_in_every_uint_field(value):
    k, s = b"\x11" * 32, b"\x22" * 64
    for body in (Transfer(k, value), Mint(k, value)):
        tx = Transaction(k, k, value, body, s)
        assert codec.decode_transaction(codec.encode_transaction(tx)) == tx
    header = BlockHeader(1, k, max(value, 1), k, value, min(value, limits.TRANSACTIONS_PER_BLOCK_MAX), k, k, k, s)
    data = codec.encode_header(header)
    assert codec.decode_header(data) == header and write(header_tree(header)) == data
    genesis = Genesis(1, "n", value, (k,), (), ((k, value),))
    assert codec.decode_genesis(codec.encode_genesis(genesis)) == genesis


@pytest.mark.parametrize("count", [0, 1, 15, 16, 17, 255, 256])
def test_genesis_list_length_boundaries_round_trip(count):
    keys = tuple(sorted(i.to_bytes(2, "big") * 16 for i in range(1, count + 1)))   # the zero key has small order
    genesis = Genesis(1, "x", 0, keys or (b"\x01" * 32,), keys, tuple((k, 1) for k in keys))
    data = codec.encode_genesis(genesis)
    assert data == write(genesis_tree(genesis))
    assert codec.decode_genesis(data) == genesis


@pytest.mark.parametrize("key_len,value_len", [(0, 0), (64, 0), (0, 4096), (64, 4096), (31, 255), (32, 256)])
def test_record_boundary_sizes_round_trip(key_len, value_len):
    tx = Transaction(b"\x01" * 32, b"\x02" * 32, 1, Record(b"k" * key_len, b"v" * value_len), b"\x03" * 64)
    data = codec.encode_transaction(tx)
    assert data == write(tx_tree(tx))
    assert codec.decode_transaction(data) == tx


# ================================================================ differential check of the encoder


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_encoder_equals_independent_canonical_writer(data, kind):
    encode, decode, tree = KINDS[kind]
    obj = data.draw(OBJECTS[kind])
    assert encode(obj) == write(tree(obj))


@SETTINGS
@given(tx=transactions)
def test_unsigned_encodings_equal_independent_writer(tx):
    unsigned = codec.encode_unsigned_transaction(tx.chain_id, tx.sender, tx.nonce, tx.body)
    assert unsigned == write(tx_tree(tx)[:5])
    assert codec.unsigned_from_signed(codec.encode_transaction(tx)) == unsigned
    assert codec.signed_from_unsigned(unsigned, tx.signature) == codec.encode_transaction(tx)


# ================================================================ txid and signing


@SETTINGS
@given(seed=st.binary(min_size=32, max_size=32), chain_id=key32, nonce=u64, body=bodies)
def test_txid_is_keyed_blake3_of_unsigned_encoding(seed, chain_id, nonce, body):
    keypair = Keypair.from_seed(seed)
    tx = sign_transaction(keypair, chain_id, nonce, body)
    unsigned = codec.encode_unsigned_transaction(chain_id, keypair.public_key, nonce, body)
    expected = ref.blake3(unsigned, key=hashing.KEY_TRANSACTION).digest()
    assert tx.txid == expected
    signed = codec.encode_transaction(tx)
    assert codec.unsigned_from_signed(signed) == unsigned
    decoded = codec.decode_transaction(signed)
    assert decoded.txid == expected and decoded.signature == keypair.sign(expected)


@pytest.mark.parametrize("version", limits.FORMAT_VERSIONS)
def test_sign_header_hash_is_keyed_blake3_of_unsigned_header(version):
    keypair = Keypair.from_seed(b"\x07" * 32)
    history_root = b"\x05" * 32 if version == 2 else b""
    header = sign_header(keypair, b"\x01" * 32, 3, b"\x02" * 32, 1234, 0, b"\x03" * 32, b"\x04" * 32,
                         version=version, history_root=history_root)
    data = codec.encode_header(header)
    decoded = codec.decode_header(data, version)
    expected = ref.blake3(codec.encode_unsigned_header(header), key=hashing.KEY_BLOCK_HEADER).digest()
    assert decoded.hash == header.hash == expected
    assert decoded.signature == keypair.sign(expected)
    assert decoded.version == version and decoded.history_root == history_root


def test_sign_header_needs_the_history_root_of_its_version():
    keypair = Keypair.from_seed(b"\x07" * 32)
    fields = (keypair, b"\x01" * 32, 3, b"\x02" * 32, 1234, 0, b"\x03" * 32, b"\x04" * 32)
    with pytest.raises(ValueError):
        sign_header(*fields, version=2)                           # version 2 commits to a history root
    with pytest.raises(ValueError):
        sign_header(*fields, version=1, history_root=b"\x05" * 32)  # version 1 has none
    with pytest.raises(ValueError):
        sign_header(*fields, version=3)


# ================================================================ samples for field-position tests

K = [bytes([i]) * 32 for i in (0x10, 0x20, 0x30, 0x40)]
SIG = bytes(range(64))
TX_TRANSFER = Transaction(K[0], K[1], 5, Transfer(K[2], 300), SIG)
TX_MINT = Transaction(K[0], K[1], 70_000, Mint(K[3], 0), SIG)
TX_RECORD = Transaction(K[0], K[2], 1, Record(b"key", b"value" * 10), SIG)
HEADER = BlockHeader(1, K[0], 7, K[1], 1_700_000_000_000, 2, K[2], K[3], K[1], SIG)
HEADER2 = BlockHeader(2, K[0], 7, K[1], 1_700_000_000_000, 2, K[2], K[3], K[1], SIG, history_root=K[2])
BLOCK = Block(HEADER, (TX_TRANSFER, TX_RECORD))
BLOCK2 = Block(HEADER2, (TX_TRANSFER, TX_RECORD))
GENESIS = Genesis(1, "test chain", 0, (K[0], K[1]), (K[2],), ((K[0], 1000), (K[3], 5)))
GENESIS2 = Genesis(2, "test chain", 0, (K[0], K[1]), (K[2],), ((K[0], 1000), (K[3], 5)))
SAMPLES = {"transfer": ("transaction", TX_TRANSFER), "mint": ("transaction", TX_MINT),
           "record": ("transaction", TX_RECORD), "header": ("header", HEADER), "block": ("block", BLOCK),
           "genesis": ("genesis", GENESIS), "header2": ("header", HEADER2), "block2": ("block", BLOCK2),
           "genesis2": ("genesis", GENESIS2)}


def test_samples_are_valid():
    for name, (kind, obj) in SAMPLES.items():
        encode, decode, tree = KINDS[kind]
        assert write(tree(obj)) == encode(obj)
        assert decode(encode(obj)) == obj


def walk(tree, path=()):
    yield path, tree
    if isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from walk(item, path + (i,))


def replace(tree, path, new):
    if not path:
        return new
    copy = list(tree)
    copy[path[0]] = replace(tree[path[0]], path[1:], new)
    return copy


def int_variants(v: int) -> list:
    minimal = _UINT_ORDER.index(minimal_int_form(v))
    out = [(f"wide-{f}", Int(v, f)) for f in _UINT_ORDER[minimal + 1:]]
    out += [(f"signed-{f}", Int(v, f)) for f in _SINT_ORDER[1:] if int_fits(v, f)]
    out += [("nil", None), ("true", True), ("false", False), ("float", float(v)), ("float32", Raw(b"\xca" + struct.pack(">f", v))),
            ("str", str(v)), ("bin", v.to_bytes(8, "big")), ("array", [v]), ("map", Map([(0, v)])), ("empty-map", Map([])),
            ("ext", Raw(b"\xd4\x01" + bytes([v & 0xFF]))), ("ext-empty", Raw(b"\xc7\x00\x05")),
            ("negative-fix", -1), ("negative-i8", Int(-1, "i8")), ("negative-i64", -(2**63)), ("negative-value", -max(v, 1))]
    return out


def bytes_variants(b: bytes) -> list:
    minimal = list(_BIN_FORMS).index(minimal_bin_form(len(b)))
    out = [(f"wide-{f}", Bin(b, f)) for f in list(_BIN_FORMS)[minimal + 1:]]
    ascii_text = "a" * len(b)
    out += [("str-raw", Str(b, minimal_str_form(len(b)))), ("str-ascii", ascii_text),
            ("nil", None), ("true", True), ("int", 0), ("float", 0.0), ("array", [b]), ("map", Map([(0, b)])),
            ("empty-map", Map([])), ("ext", Raw(b"\xc7" + bytes([len(b), 1]) + b)), ("ext-empty", Raw(b"\xc7\x00\x05"))]
    return out


def str_variants(s: str) -> list:
    data = s.encode("utf-8")
    minimal = (["fixstr"] + list(_STR_FORMS)).index(minimal_str_form(len(data)))
    out = [(f"wide-{f}", Str(data, f)) for f in (["fixstr"] + list(_STR_FORMS))[minimal + 1:]]
    out += [("bin", data), ("nil", None), ("int", 0), ("array", [s]), ("ext", Raw(b"\xc7" + bytes([len(data), 1]) + data))]
    return out


def array_variants(items: list, fixed: bool) -> list:
    minimal = (["fixarray"] + list(_ARR_FORMS)).index(minimal_arr_form(len(items)))
    out = [(f"wide-{f}", Arr(items, f)) for f in (["fixarray"] + list(_ARR_FORMS))[minimal + 1:]]
    out += [("map", Map(list(enumerate(items)))), ("nil", None), ("extra-nil", items + [None]), ("extra-int", items + [0]),
            ("extra-bin", items + [b""])]
    if fixed:
        out += [(f"missing-{i}", items[:i] + items[i + 1:]) for i in range(len(items))]
        out += [("extra-copy", items + [items[-1]])]
    return out


def variants(kind: str, path: tuple, node) -> list:
    if isinstance(node, bool):
        raise AssertionError("no booleans in the schema")
    if isinstance(node, int):
        return int_variants(node)
    if isinstance(node, bytes):
        return bytes_variants(node)
    if isinstance(node, str):
        return str_variants(node)
    return array_variants(node, path not in VARIABLE_ARRAYS.get(kind, set()))


# Variants rejected while checking a transaction's fields (so inside a block they carry .index);
# the others (non-minimal forms, input msgpack itself refuses) are found on the whole block.
FIELD_LEVEL = {"nil", "true", "false", "float", "float32", "str", "bin", "array", "empty-map", "ext-empty", "str-ascii",
               "int", "negative-fix", "negative-i8", "negative-i64", "negative-value", "extra-nil", "extra-int",
               "extra-bin", "extra-copy"} | {f"missing-{i}" for i in range(11)}


def _cases():
    for sample, (kind, obj) in SAMPLES.items():
        tree = KINDS[kind][2](obj)
        for path, node in walk(tree):
            for name, _ in variants(kind, path, node):
                yield pytest.param(sample, path, name, id=f"{sample}-{'.'.join(map(str, path)) or 'root'}-{name}")


@pytest.mark.parametrize("sample,path,variant", list(_cases()))
def test_non_canonical_variant_of_every_field_is_rejected(sample, path, variant):
    kind, obj = SAMPLES[sample]
    encode, decode, tree_of = KINDS[kind]
    tree = tree_of(obj)
    node = dict(walk(tree))[path]
    new = dict(variants(kind, path, node))[variant]
    data = write(replace(tree, path, new))
    assert data != encode(obj)
    error = decode_error(decode, data)
    assert error.code == BAD_ENCODING, (error.code, str(error))
    if kind == "block" and len(path) >= 2 and path[0] == 1:
        if variant in FIELD_LEVEL:
            assert error.index == path[1]
        else:
            assert error.index in (None, path[1])
    elif kind != "block" or path[:1] != (1,):
        assert error.index is None


# ================================================================ missing / extra / trailing / truncated


@pytest.mark.parametrize("sample", sorted(SAMPLES))
@pytest.mark.parametrize("tail", [b"\x00", b"\xc0", b"\x90", b"\xc4\x00", SIG])
def test_trailing_bytes_are_rejected(sample, tail):
    kind, obj = SAMPLES[sample]
    encode, decode, _ = KINDS[kind]
    assert decode_error(decode, encode(obj) + tail).code == BAD_ENCODING


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_every_prefix_is_rejected(sample):
    kind, obj = SAMPLES[sample]
    encode, decode, _ = KINDS[kind]
    data = encode(obj)
    for n in range(len(data)):
        assert decode_error(decode, data[:n]).code == BAD_ENCODING, n


def test_every_prefix_of_a_large_record_is_rejected():
    data = codec.encode_transaction(Transaction(K[0], K[1], 1, Record(b"k" * 64, b"v" * 4096), SIG))
    for n in range(len(data)):
        assert decode_error(codec.decode_transaction, data[:n]).code == BAD_ENCODING, n


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("data", [b"", b"\xc0", b"\x90", b"\x80", b"\xc1", b"\x00", b"\xc4\x00", b"\xa0"])
def test_garbage_is_rejected(kind, data):
    assert decode_error(KINDS[kind][1], data).code == BAD_ENCODING


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_deep_nesting_is_rejected(kind):
    assert decode_error(KINDS[kind][1], b"\x91" * 5000 + b"\x00").code == BAD_ENCODING


def test_unsigned_transaction_is_not_a_transaction():
    unsigned = codec.encode_unsigned_transaction(TX_TRANSFER.chain_id, TX_TRANSFER.sender, TX_TRANSFER.nonce,
                                                 TX_TRANSFER.body)
    assert decode_error(codec.decode_transaction, unsigned).code == BAD_ENCODING
    assert decode_error(codec.decode_header, codec.encode_unsigned_header(HEADER)).code == BAD_ENCODING


def test_decoders_accept_other_bytes_like_inputs():
    data = codec.encode_transaction(TX_RECORD)
    assert codec.decode_transaction(bytearray(data)) == TX_RECORD
    assert codec.decode_transaction(memoryview(data)) == TX_RECORD


# ================================================================ integers, sizes, kinds, versions


def _tx_with(**fields) -> bytes:
    tree = tx_tree(TX_TRANSFER)
    names = ["chain_id", "sender", "nonce", "kind", "body", "signature"]
    for name, value in fields.items():
        tree[names.index(name)] = value
    return write(tree)


@pytest.mark.parametrize("field", ["nonce", "amount"])
def test_u64_max_accepted_and_signed_negative_rejected(field):
    def make(value):
        return _tx_with(nonce=value) if field == "nonce" else _tx_with(body=[K[2], value])
    ok = make(2**64 - 1)
    assert b"\xcf" + b"\xff" * 8 in ok
    codec.decode_transaction(ok)
    for negative in (-1, -32, -33, -128, -129, -(2**31), -(2**63), Int(-1, "i64")):
        assert decode_error(codec.decode_transaction, make(negative)).code == BAD_ENCODING
    # 2**64 - 1 written as int64 -1 is negative, not the u64 maximum.
    assert decode_error(codec.decode_transaction, make(Int(-1, "i64"))).code == BAD_ENCODING


@pytest.mark.parametrize("field", ["chain_id", "sender", "to"])
@pytest.mark.parametrize("size", [0, 1, 31, 33, 64])
def test_wrong_key_sizes_in_transaction(field, size):
    value = b"\x01" * size
    data = _tx_with(body=[value, 1]) if field == "to" else _tx_with(**{field: value})
    assert decode_error(codec.decode_transaction, data).code == BAD_ENCODING


@pytest.mark.parametrize("size", [0, 32, 63, 65, 128])
def test_wrong_signature_size(size):
    assert decode_error(codec.decode_transaction, _tx_with(signature=b"\x05" * size)).code == BAD_ENCODING
    for header in (HEADER, HEADER2):
        tree = header_tree(header)
        tree[-1] = b"\x05" * size
        assert decode_error(codec.decode_header, write(tree)).code == BAD_ENCODING


@pytest.mark.parametrize("header, position", [(HEADER, p) for p in (1, 3, 6, 7, 8)] +
                         [(HEADER2, p) for p in (1, 3, 6, 7, 8, 9)])
@pytest.mark.parametrize("size", [31, 33])
def test_wrong_hash_and_key_sizes_in_header(header, position, size):
    tree = header_tree(header)
    tree[position] = b"\x01" * size
    error = decode_error(codec.decode_header, write(tree))
    assert error.code == BAD_ENCODING
    names = {1: "header chain id", 3: "previous hash", 6: "transaction root", 8: "proposer"} if header.version == 1 \
        else {1: "header chain id", 3: "previous hash", 6: "transaction root", 8: "history root", 9: "proposer"}
    names[7] = "state commitment" if header.version == 1 else "state root"
    assert error.message == f"the {names[position]} must be 32 bytes"


@pytest.mark.parametrize("kind", [3, 4, 127, 128, 255, 2**64 - 1])
def test_unknown_transaction_kind(kind):
    """Its own code, judged where the kind is read: even a body that is not an array loses to it."""
    for body in ([K[2], 1], [b"k", b"v"], None):
        assert decode_error(codec.decode_transaction, _tx_with(kind=kind, body=body)).code == UNKNOWN_TX_KIND


def test_body_must_match_kind():
    assert decode_error(codec.decode_transaction, _tx_with(kind=2, body=[K[2], 1])).code == BAD_ENCODING
    assert decode_error(codec.decode_transaction, _tx_with(kind=0, body=[b"k", b"v"])).code == BAD_ENCODING
    assert decode_error(codec.decode_transaction, _tx_with(kind=1, body=[b"k" * 32, b"v"])).code == BAD_ENCODING


def test_header_height_zero_decodes():
    """Height 0 is never the next height: validation reports it as bad-height (test_rule_order.py)."""
    tree = header_tree(HEADER)
    tree[2] = 0
    assert codec.decode_header(write(tree)).height == 0


@pytest.mark.parametrize("version", [0, 3, 255, 2**32 - 1])
def test_unknown_versions(version):
    tree = header_tree(HEADER)
    tree[0] = version
    assert decode_error(codec.decode_header, write(tree)).code == BAD_VERSION
    assert decode_error(codec.decode_block, write([tree, []])).code == BAD_VERSION
    tree = genesis_tree(GENESIS)
    tree[0] = version
    assert decode_error(codec.decode_genesis, write(tree)).code == BAD_VERSION


@pytest.mark.parametrize("version", [2**32, 2**64 - 1])
def test_unknown_large_versions(version):
    tree = header_tree(HEADER)
    tree[0] = version
    assert decode_error(codec.decode_header, write(tree)).code == BAD_VERSION


# ================================================================ record sizes


@pytest.mark.parametrize("key_len,value_len", [(65, 0), (0, 4097), (65, 4097), (200, 1), (1, 10_000)])
def test_oversize_record_is_record_too_large(key_len, value_len):
    tx = Transaction(K[0], K[1], 1, Record(b"k" * key_len, b"v" * value_len), SIG)
    error = decode_error(codec.decode_transaction, codec.encode_transaction(tx))
    assert error.code == RECORD_TOO_LARGE and error.index is None


@pytest.mark.parametrize("key_len,value_len", [(65, 0), (0, 4097)])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_oversize_record_in_block_decodes(key_len, value_len, index):
    """Record sizes are a transaction rule at the transaction's index (FORMAT.md §8), so a block
    decodes with an oversized record in both decoders; validation rejects it (test_rule_order.py)."""
    big = Transaction(K[0], K[1], 1, Record(b"k" * key_len, b"v" * value_len), SIG)
    txs = [TX_TRANSFER, TX_MINT, TX_RECORD]
    txs[index] = big
    data = codec.encode_block(Block(HEADER, tuple(txs)))
    for decode in (codec.decode_block, codec.decode_block_python):
        assert decode(data).transactions[index].body == big.body


def test_wrong_type_in_block_transaction_carries_index():
    tree = block_tree(Block(HEADER, (TX_TRANSFER, TX_MINT, TX_RECORD)))
    tree[1][2][2] = None
    error = decode_error(codec.decode_block, write(tree))
    assert (error.code, error.index) == (BAD_ENCODING, 2)


# ================================================================ block limits


@pytest.mark.parametrize("count", [limits.TRANSACTIONS_PER_BLOCK_MAX + 1, 2**32 - 1, 2**64 - 1])
def test_header_tx_count_over_limit(count):
    tree = header_tree(HEADER)
    tree[5] = count
    assert decode_error(codec.decode_header, write(tree)).code == LIMIT_EXCEEDED
    assert decode_error(codec.decode_block, write([tree, []])).code == LIMIT_EXCEEDED


def test_header_tx_count_at_limit_accepted():
    header = BlockHeader(1, K[0], 1, K[1], 0, limits.TRANSACTIONS_PER_BLOCK_MAX, K[2], K[3], K[0], SIG)
    assert codec.decode_header(codec.encode_header(header)) == header


def _minimal_tx_encoding() -> bytes:
    return codec.encode_transaction(Transaction(K[0], K[1], 0, Transfer(K[2], 0), SIG))


def test_block_with_max_transactions_accepted():
    n = limits.TRANSACTIONS_PER_BLOCK_MAX
    header = BlockHeader(1, K[0], 1, K[1], 0, n, K[2], K[3], K[0], SIG)
    # 65536 needs array32 (array16 holds at most 65535).
    data = b"\x92" + codec.encode_header(header) + b"\xdd" + n.to_bytes(4, "big") + _minimal_tx_encoding() * n
    block = codec.decode_block(data)
    assert len(block.transactions) == n and codec.encode_block(block) == data


def test_block_with_too_many_transactions_is_limit_exceeded():
    n = limits.TRANSACTIONS_PER_BLOCK_MAX + 1
    data = b"\x92" + codec.encode_header(HEADER) + b"\xdd" + n.to_bytes(4, "big") + _minimal_tx_encoding() * n
    assert len(data) <= limits.BLOCK_BYTES_MAX
    assert decode_error(codec.decode_block, data).code == LIMIT_EXCEEDED


def test_block_bigger_than_block_bytes_max():
    big = codec.encode_transaction(Transaction(K[0], K[1], 1, Record(b"k" * 64, b"v" * 4096), SIG))
    n = limits.BLOCK_BYTES_MAX // len(big) + 1
    header = BlockHeader(1, K[0], 1, K[1], 0, n, K[2], K[3], K[0], SIG)
    data = b"\x92" + codec.encode_header(header) + b"\xdc" + n.to_bytes(2, "big") + big * n
    assert len(data) > limits.BLOCK_BYTES_MAX
    assert decode_error(codec.decode_block, data).code == LIMIT_EXCEEDED
    # The same transactions, fewer of them, fit.
    m = (limits.BLOCK_BYTES_MAX - 200) // len(big)
    header = BlockHeader(1, K[0], 1, K[1], 0, m, K[2], K[3], K[0], SIG)
    data = b"\x92" + codec.encode_header(header) + b"\xdc" + m.to_bytes(2, "big") + big * m
    assert len(data) <= limits.BLOCK_BYTES_MAX
    assert len(codec.decode_block(data).transactions) == m
    # Padding a valid block past the limit is limit-exceeded before anything else.
    padded = codec.encode_block(BLOCK) + b"\x00" * limits.BLOCK_BYTES_MAX
    assert decode_error(codec.decode_block, padded).code == LIMIT_EXCEEDED


# ================================================================ genesis rules


def _genesis(validators=(K[0], K[1]), issuers=(K[2],), balances=((K[0], 1),), name="g") -> bytes:
    return write([1, name, 0, list(validators), list(issuers), [list(b) for b in balances]])


@pytest.mark.parametrize("validators", [(), (K[1], K[0]), (K[0], K[0]), (K[0], K[2], K[1]), (K[0], K[1], K[1])],
                         ids=["zero", "unsorted", "duplicate", "unsorted3", "duplicate-tail"])
def test_genesis_bad_validators(validators):
    assert decode_error(codec.decode_genesis, _genesis(validators=validators)).code == BAD_GENESIS


@pytest.mark.parametrize("issuers", [(K[1], K[0]), (K[2], K[2])], ids=["unsorted", "duplicate"])
def test_genesis_bad_issuers(issuers):
    assert decode_error(codec.decode_genesis, _genesis(issuers=issuers)).code == BAD_GENESIS


@pytest.mark.parametrize("balances", [((K[1], 1), (K[0], 1)), ((K[0], 1), (K[0], 2))], ids=["unsorted", "duplicate"])
def test_genesis_bad_balances(balances):
    assert decode_error(codec.decode_genesis, _genesis(balances=balances)).code == BAD_GENESIS


def _keys(n: int) -> tuple[bytes, ...]:
    return tuple(i.to_bytes(4, "big") * 8 for i in range(1, n + 1))   # from 1: the zero key has small order


@pytest.mark.parametrize("field", ["validators", "issuers"])
def test_genesis_too_many_keys(field):
    ok = codec.decode_genesis(_genesis(**{field: _keys(256)}))
    assert len(getattr(ok, field)) == 256
    assert decode_error(codec.decode_genesis, _genesis(**{field: _keys(257)})).code == LIMIT_EXCEEDED
    assert decode_error(codec.decode_genesis, _genesis(**{field: _keys(1000)})).code == LIMIT_EXCEEDED


@pytest.mark.parametrize("size", [31, 33])
@pytest.mark.parametrize("where", ["validators", "issuers", "balances"])
def test_genesis_wrong_key_sizes(size, where):
    bad = b"\x09" * size
    data = _genesis(balances=((bad, 1),)) if where == "balances" else _genesis(**{where: (bad,)})
    assert decode_error(codec.decode_genesis, data).code == BAD_ENCODING


def test_genesis_name_at_limit_accepted():
    assert codec.decode_genesis(_genesis(name="é" * 32)).name == "é" * 32
    assert decode_error(codec.decode_genesis, write([1, Str(b"\xff", "fixstr"), 0, [K[0]], [], []])).code == BAD_ENCODING


def test_genesis_name_over_limit_is_limit_exceeded():
    assert decode_error(codec.decode_genesis, _genesis(name="a" * 65)).code == LIMIT_EXCEEDED


def test_genesis_name_over_limit_rejected():
    assert decode_error(codec.decode_genesis, _genesis(name="a" * 65)).code in (BAD_ENCODING, LIMIT_EXCEEDED)


def test_genesis_too_many_balances_is_limit_exceeded():
    keys = [i.to_bytes(32, "big") for i in range(limits.GENESIS_BALANCES_MAX + 1)]
    data = write([1, "g", 0, [K[0]], [], [[k, 1] for k in keys]])
    assert decode_error(codec.decode_genesis, data).code == LIMIT_EXCEEDED


def test_genesis_bigger_than_limit():
    data = _genesis() + b"\x00" * limits.GENESIS_BYTES_MAX
    assert decode_error(codec.decode_genesis, data).code == LIMIT_EXCEEDED


# ================================================================ mutation fuzz

mutations = st.lists(st.tuples(st.sampled_from(["flip", "set", "insert", "delete"]), st.integers(0, 2**16),
                               st.integers(0, 255)), min_size=1, max_size=4)


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, position, byte in ops:
        if op == "insert":
            buf.insert(position % (len(buf) + 1), byte)
        elif not buf:
            continue
        elif op == "delete":
            del buf[position % len(buf)]
        elif op == "flip":
            buf[position % len(buf)] ^= 1 << (byte % 8)
        else:
            buf[position % len(buf)] = byte
    return bytes(buf)


@SETTINGS
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)), ops=mutations)
def test_mutated_encodings_are_rejected_or_round_trip(data, kind, ops):
    encode, decode, _ = KINDS[kind]
    mutated = mutate(encode(data.draw(OBJECTS[kind])), ops)
    try:
        decoded = decode(mutated)
    except LedgerError as error:
        assert error.code in (BAD_ENCODING, BAD_VERSION, BAD_GENESIS, LIMIT_EXCEEDED, RECORD_TOO_LARGE, UNKNOWN_TX_KIND)
        return
    assert encode(decoded) == mutated


@SETTINGS
@given(kind=st.sampled_from(sorted(KINDS)), blob=st.binary(max_size=200))
def test_random_bytes_are_rejected_or_round_trip(kind, blob):
    encode, decode, _ = KINDS[kind]
    try:
        decoded = decode(blob)
    except LedgerError:
        return
    assert encode(decoded) == blob
