"""The chain-file reader (ledger.chainfile.ChainReader, docs/FORMAT.md §9) and the decoders it
feeds: any bytes give a genesis and blocks or one LedgerError (bad-chain-file, limit-exceeded or a
decoding code), never another exception; what it reads re-frames to the same bytes."""
from __future__ import annotations

import io
import struct

from ledger import codec
from ledger.chainfile import MAGIC, ChainReader
from ledger.errors import LedgerError

from fuzz import sample


def test_one_input(data: bytes) -> None:
    try:
        reader = ChainReader(io.BytesIO(data))
        framed = [data[:len(MAGIC) + 2], struct.pack(">I", len(reader.genesis)), reader.genesis]
        for height, block in reader.blocks():
            assert height == len(framed) // 2
            framed += [struct.pack(">I", len(block)), block]
    except LedgerError:
        return
    assert b"".join(framed) == data, "the reader skipped or invented bytes"
    try:
        version = codec.decode_genesis(reader.genesis).version   # the blocks are decoded as the chain's
    except LedgerError:
        version = None
    for part in framed[4::2]:
        try:
            codec.decode_block(part, version)
        except LedgerError:
            pass


def _file(genesis: bytes, blocks: list[bytes]) -> bytes:
    parts = [MAGIC, struct.pack(">H", 1), struct.pack(">I", len(genesis)), genesis]
    for block in blocks:
        parts += [struct.pack(">I", len(block)), block]
    return b"".join(parts)


_GENESIS = codec.encode_genesis(sample.chain()[0])
SEEDS = {"chain": _file(_GENESIS, sample.encoded_blocks()), "genesis-only": _file(_GENESIS, []),
         "truncated": _file(_GENESIS, sample.encoded_blocks())[:-7]}
