"""The native block decoder (ledger/csrc/block_decoder.c) against its Python twin
(ledger.codec.decode_block_python), docs/FORMAT.md §1, §6 and §8 step 2: on every input, read as a
block of a version-1 chain, of a version-2 chain and of either (None), both accept with the same
block, ids, signature records and Merkle root, or both refuse with the same code, transaction
index and message. Anything but a LedgerError is a finding."""
from __future__ import annotations

from ledger import codec, merkle
from ledger.errors import LedgerError

from fuzz import sample


def _outcome(decode, data: bytes):
    try:
        return decode(data)
    except LedgerError as error:
        return ("error", error.code, error.index, error.message)


def test_one_input(data: bytes) -> None:
    for version in (None, 1, 2):
        _compare(data, version)


def _compare(data: bytes, version: int | None) -> None:
    native = _outcome(lambda d: codec.decode_block_for_validation(d, version), data)
    python = _outcome(lambda d: codec.decode_block_python(d, version), data)
    if isinstance(native, tuple) and native[0] == "error" or isinstance(python, tuple):
        assert native == python, f"the twins disagree (chain version {version}): native {native!r}, python {python!r}"
        return
    block, records, root = native
    assert block == python, "the twins decoded different blocks"
    assert block.hash == python.hash and len(block.hash) == 32
    assert [t.txid for t in block.transactions] == [t.txid for t in python.transactions]
    assert records == codec.signature_records(python)
    assert root == merkle.root([t.txid for t in python.transactions])
    assert codec.encode_block(block) == data, "accepted bytes that are not canonical"


SEEDS = {f"block{i}": data for i, data in enumerate(sample.encoded_blocks(1), 1)}
SEEDS.update({f"v2-block{i}": data for i, data in enumerate(sample.encoded_blocks(2), 1)})
