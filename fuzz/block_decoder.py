"""The native block decoder (ledger/csrc/block_decoder.c) against its Python twin
(ledger.codec.decode_block_python), docs/FORMAT.md §1 and §6: on every input both accept with the
same block, ids, signature records and Merkle root, or both refuse with the same code and
transaction index. Anything but a LedgerError is a finding."""
from __future__ import annotations

from ledger import codec, merkle
from ledger.errors import LedgerError

from fuzz import sample


def _outcome(decode, data: bytes):
    try:
        return decode(data)
    except LedgerError as error:
        return ("error", error.code, error.index)


def test_one_input(data: bytes) -> None:
    native = _outcome(codec.decode_block_for_validation, data)
    python = _outcome(codec.decode_block_python, data)
    if isinstance(native, tuple) and native[0] == "error" or isinstance(python, tuple):
        assert native == python, f"the twins disagree: native {native!r}, python {python!r}"
        return
    block, records, root = native
    assert block == python, "the twins decoded different blocks"
    assert block.hash == python.hash and len(block.hash) == 32
    assert [t.txid for t in block.transactions] == [t.txid for t in python.transactions]
    assert records == codec.signature_records(python)
    assert root == merkle.root([t.txid for t in python.transactions])
    assert codec.encode_block(block) == data, "accepted bytes that are not canonical"


SEEDS = {f"block{i}": data for i, data in enumerate(sample.encoded_blocks(), 1)}
