"""The native block decoder (csrc/block_decoder.c) and its Python twin (codec.decode_block_python)
agree on every input and every chain version (1, 2, or None: either): the same Block (ids, block
hash and history root included) on valid blocks, and the same error code, transaction index and
message on malformed ones. The native decoder's other entry points (the compact block of
native_rules, the txid index's entries) give the same verdicts. The header's version/length
matrix is checked against the order FORMAT.md §8 step 2 gives."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, limits, merkle, txindex
from ledger.errors import BAD_ENCODING, BAD_VERSION, LedgerError
from ledger.native_rules import decode_block_compact
from ledger.workload import Workload

CHAIN_VERSIONS = (None, 1, 2)
BLOCKS_V1 = [codec.encode_block(b) for b in Workload.make(5, 12, version=1).blocks(3, 12)]


def _as_version_2(data: bytes, index: int) -> bytes:
    """The same block with a version-2 header (the decoder checks shapes, not signatures or roots)."""
    block = codec.decode_block(data)
    header = dataclasses.replace(block.header, version=2, history_root=bytes([0xa0 + index]) * 32)
    return codec.encode_block(codec.Block(header, block.transactions))


BLOCKS_V2 = [_as_version_2(data, i) for i, data in enumerate(BLOCKS_V1)]
BLOCKS = [(data, 1) for data in BLOCKS_V1] + [(data, 2) for data in BLOCKS_V2]


def outcome(decode, data: bytes):
    try:
        block = decode(data)
    except LedgerError as error:
        return ("error", error.code, error.index, error.message)
    return ("ok", block, [tx.txid for tx in block.transactions], block.header.hash, block.header.history_root)


def _error_or(call):
    try:
        return ("ok", call())
    except LedgerError as error:
        return ("error", error.code, error.index, error.message)


def assert_twins_agree(data: bytes, version: int | None):
    native = outcome(lambda d: codec.decode_block(d, version), data)
    python = outcome(lambda d: codec.decode_block_python(d, version), data)
    assert native == python
    compact = _error_or(lambda: decode_block_compact(data, version)[0])
    entries = _error_or(lambda: txindex.block_entries(data, 7, version))
    entries_python = _error_or(lambda: txindex.block_entries_python(data, 7, version))
    assert entries == entries_python
    if native[0] == "error":
        assert compact == native and entries == native
    else:
        block = compact[1]
        assert block.header == python[1].header and block.hash == python[3]
        assert block.header.history_root == python[4]
        assert block.txids == b"".join(python[2])
    return native


def test_valid_blocks_decode_identically():
    for data, version in BLOCKS:
        for chain_version in (None, version):
            result = assert_twins_agree(data, chain_version)
            assert result[0] == "ok" and codec.encode_block(result[1]) == data
            assert result[1].header.version == version
            assert (len(result[4]) == 32) == (version == 2)


@pytest.mark.parametrize("data, version", BLOCKS, ids=[f"v{v}-block{i % 3 + 1}" for i, (_, v) in enumerate(BLOCKS)])
def test_a_block_of_the_other_version_is_bad_version(data, version):
    result = assert_twins_agree(data, 3 - version)
    assert result[:3] == ("error", BAD_VERSION, None)
    assert result[3] == f"the block format version is not the chain's ({3 - version})"


@pytest.mark.parametrize("version", [0, 3, -1, True, "2"])
def test_an_unknown_chain_version_is_the_callers_error(version):
    for decode in (codec.decode_block, codec.decode_block_python, codec.decode_header,
                   lambda d, v: decode_block_compact(d, v), lambda d, v: txindex.block_entries(d, 1, v)):
        if version is True:   # True == 1: the Python twin and the native binding both take it as 1
            continue
        with pytest.raises(ValueError):
            decode(BLOCKS_V1[0], version)


@pytest.mark.parametrize("version", CHAIN_VERSIONS)
@pytest.mark.parametrize("cut", range(0, 420, 7))
def test_every_truncation_is_the_same_error(cut, version):
    for data in (BLOCKS_V1[0], BLOCKS_V2[0]):
        result = assert_twins_agree(data[:cut], version)
        assert result[0] == "error" and result[1] in (BAD_ENCODING, BAD_VERSION)
        if version is None or data[2] == version:   # the header's version byte is data[2] (fixarray, fixarray)
            assert result[1] == BAD_ENCODING


# ------------------------------------------------------------ the header's length x version matrix

def _header_fields(length: int, version: int) -> list:
    """A header array of `length` fields whose first is `version`: the version-1 schema's fields
    (10, cut to 9) or the version-2 schema's (11, with a 12th binary)."""
    fields = [version, b"\x01" * 32, 5, b"\x02" * 32, 1_000, 0, b"\x08" * 32, b"\x03" * 32, b"\x04" * 32,
              b"\x05" * 32, b"\x06" * 64]
    if length <= 10:
        return (fields[:8] + fields[9:])[:length]   # the version-1 schema: no history root
    return (fields + [b"\x07" * 32])[:length]


def _pack(value) -> bytes:
    """Canonical msgpack of the few types a header holds (small arrays, uints, bin8)."""
    if isinstance(value, list):
        return bytes([0x90 | len(value)]) + b"".join(_pack(v) for v in value)
    if isinstance(value, bytes):
        return b"\xc4" + bytes([len(value)]) + value
    if value < 0x80:
        return bytes([value])
    for marker, size in ((0xcc, 1), (0xcd, 2), (0xce, 4), (0xcf, 8)):
        if value < 1 << (8 * size):
            return bytes([marker]) + value.to_bytes(size, "big")
    raise ValueError(value)


def _expected(length: int, version: int, chain_version: int | None) -> tuple[str, str] | None:
    """FORMAT.md §8 step 2, read independently of the decoders: the array length (10 or 11), then
    the version (the chain's, or 1 or 2 outside a chain), then the length of that version."""
    if length not in (10, 11):
        return BAD_ENCODING, "the block header must be an array of 10 (version 1) or 11 (version 2) fields"
    accepted = (1, 2) if chain_version is None else (chain_version,)
    if version not in accepted:
        return BAD_VERSION, ("unsupported block format version" if chain_version is None
                             else f"the block format version is not the chain's ({chain_version})")
    fields_of_version = {1: 10, 2: 11}[version]
    if length != fields_of_version:
        return BAD_ENCODING, f"a version-{version} block header must be an array of {fields_of_version} fields"
    return None


MATRIX = [(length, version, chain_version) for length in range(9, 13) for version in range(4)
          for chain_version in CHAIN_VERSIONS]


@pytest.mark.parametrize("length, version, chain_version", MATRIX)
def test_header_length_and_version_matrix(length, version, chain_version):
    header = _pack(_header_fields(length, version))
    block = b"\x92" + header + b"\x90"
    expected = _expected(length, version, chain_version)
    result = assert_twins_agree(block, chain_version)
    alone = _error_or(lambda: codec.decode_header(header, chain_version))
    if expected is None:
        assert result[0] == "ok" and result[1].header.version == version
        assert codec.encode_block(result[1]) == block and alone[0] == "ok"
        assert result[1].header.history_root == (b"\x04" * 32 if version == 2 else b"")
    else:
        assert result == ("error", *expected[:1], None, expected[1])
        assert alone == ("error", *expected[:1], None, expected[1])


# ------------------------------------------------------------ random inputs

@settings(max_examples=600, deadline=None)
@given(st.sampled_from(BLOCKS), st.sampled_from(CHAIN_VERSIONS), st.data())
def test_mutations_give_the_same_verdict(block, chain_version, data):
    raw = bytearray(block[0])
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        position = data.draw(st.integers(0, len(raw) - 1))
        if action == "flip":
            raw[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set":
            raw[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            raw[position:position] = data.draw(st.binary(min_size=1, max_size=4))
        elif len(raw) > 1:
            del raw[position]
    assert_twins_agree(bytes(raw), chain_version)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BLOCKS), st.sampled_from(CHAIN_VERSIONS), st.integers(0, 40), st.integers(0, 255))
def test_header_byte_changes_give_the_same_verdict(block, chain_version, position, value):
    """The header's first bytes (array length, version, chain id) where the schemas differ."""
    raw = bytearray(block[0])
    raw[1 + position] = value
    assert_twins_agree(bytes(raw), chain_version)


@pytest.mark.parametrize("data, version", [(BLOCKS_V1[2], 1), (BLOCKS_V2[2], 2)], ids=["v1", "v2"])
def test_every_header_byte_changed_gives_the_same_verdict(data, version):
    """Each byte of the header (every field's marker, length and contents, in both schemas) set to
    values that change its meaning: a wrong size (0x1f, 0x21), other markers, a flipped bit."""
    end = 1 + len(codec.encode_header(codec.decode_block(data).header))
    for position in range(1, end):
        for value in {data[position] ^ 1, 0x00, 0x1f, 0x21, 0x9a, 0x9b, 0xc0, 0xc5, 0xcc, 0xdc}:
            changed = data[:position] + bytes([value]) + data[position + 1:]
            for chain_version in CHAIN_VERSIONS:
                assert_twins_agree(changed, chain_version)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(CHAIN_VERSIONS))
def test_random_bytes_give_the_same_verdict(raw, chain_version):
    assert_twins_agree(raw, chain_version)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=330), st.sampled_from(CHAIN_VERSIONS), st.sampled_from([b"\x92\x9a\x01", b"\x92\x9b\x02",
                                                                                  b"\x92\x9a\x02", b"\x92\x9b\x01"]))
def test_random_bytes_after_a_header_start_give_the_same_verdict(raw, chain_version, start):
    assert_twins_agree(start + raw, chain_version)


def test_limits_are_the_same_errors():
    oversize = b"\x92" + b"\x00" * limits.BLOCK_BYTES_MAX
    for version in CHAIN_VERSIONS:
        assert assert_twins_agree(oversize, version)[1] == "limit-exceeded"
    for data, version in (BLOCKS_V1[0], 1), (BLOCKS_V2[0], 2):
        header = codec.decode_block(data).header
        too_many = b"\x92" + codec.encode_header(header) + b"\xdd" + \
            (limits.TRANSACTIONS_PER_BLOCK_MAX + 1).to_bytes(4, "big")
        assert assert_twins_agree(too_many, version)[1] == "limit-exceeded"


@pytest.mark.parametrize("blocks, version", [(BLOCKS_V1, 1), (BLOCKS_V2, 2)])
def test_errors_inside_a_transaction_carry_its_index(blocks, version):
    block = codec.decode_block(blocks[1])
    data = blocks[1]
    last = codec.encode_transaction(block.transactions[-1])
    at = data.rindex(last)
    corrupted = data[:at] + b"\x97" + data[at + 1:]   # a 7-field transaction
    for chain_version in (None, version):
        result = assert_twins_agree(corrupted, chain_version)
        assert result[1:3] == ("bad-encoding", len(block.transactions) - 1)


def test_signature_records_match_the_twin():
    for data, version in BLOCKS:
        block, records, root = codec.decode_block_for_validation(data, version)
        assert records == codec.signature_records(codec.decode_block_python(data, version))
        assert root == merkle.root([tx.txid for tx in block.transactions], hash="blake3")
        assert len(records) == codec.SIGNATURE_RECORD_SIZE * (len(block.transactions) + 1)
        if version == 2:   # the block hash covers the history root
            v1 = dataclasses.replace(block.header, version=1, history_root=b"")
            assert codec.decode_block(codec.encode_block(codec.Block(v1, block.transactions)), 1).hash != block.hash
