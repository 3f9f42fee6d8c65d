"""The native block decoder (csrc/block_decoder.c) and its Python twin (codec.decode_block_python)
agree on every input: the same Block (ids and block hash included) on valid blocks, and the same
error code, transaction index and message on malformed ones."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import codec, limits, merkle
from ledger.errors import LedgerError
from ledger.workload import Workload

BLOCKS = [codec.encode_block(b) for b in Workload.make(5, 12).blocks(3, 12)]


def outcome(decode, data: bytes):
    try:
        block = decode(data)
    except LedgerError as error:
        return ("error", error.code, error.index, error.message)
    return ("ok", block, [tx.txid for tx in block.transactions], block.header.hash)


def assert_twins_agree(data: bytes):
    native, python = outcome(codec.decode_block, data), outcome(codec.decode_block_python, data)
    assert native == python
    return native


def test_valid_blocks_decode_identically():
    for data in BLOCKS:
        result = assert_twins_agree(data)
        assert result[0] == "ok" and codec.encode_block(result[1]) == data


@pytest.mark.parametrize("cut", range(0, 400, 7))
def test_every_truncation_is_the_same_error(cut):
    result = assert_twins_agree(BLOCKS[0][:cut])
    assert result[0] == "error" and result[1] == "bad-encoding"


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(BLOCKS), st.data())
def test_mutations_give_the_same_verdict(block, data):
    raw = bytearray(block)
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
    assert_twins_agree(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_give_the_same_verdict(raw):
    assert_twins_agree(raw)


def test_limits_are_the_same_errors():
    oversize = b"\x92" + b"\x00" * limits.BLOCK_BYTES_MAX
    assert assert_twins_agree(oversize)[1] == "limit-exceeded"
    header = codec.decode_block(BLOCKS[0]).header
    too_many = b"\x92" + codec.encode_header(header) + b"\xdd" + (limits.TRANSACTIONS_PER_BLOCK_MAX + 1).to_bytes(4, "big")
    assert assert_twins_agree(too_many)[1] == "limit-exceeded"


def test_errors_inside_a_transaction_carry_its_index():
    block = codec.decode_block(BLOCKS[1])
    data = BLOCKS[1]
    last = codec.encode_transaction(block.transactions[-1])
    at = data.rindex(last)
    corrupted = data[:at] + b"\x97" + data[at + 1:]   # a 7-field transaction
    result = assert_twins_agree(corrupted)
    assert result[1:3] == ("bad-encoding", len(block.transactions) - 1)


def test_signature_records_match_the_twin():
    for data in BLOCKS:
        block, records, root = codec.decode_block_for_validation(data)
        assert records == codec.signature_records(codec.decode_block_python(data))
        assert root == merkle.root([tx.txid for tx in block.transactions], hash="blake3")
        assert len(records) == codec.SIGNATURE_RECORD_SIZE * (len(block.transactions) + 1)
