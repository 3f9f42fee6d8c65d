"""The chain file: magic, version, genesis, then length-prefixed blocks, readable as a stream.

Specification: docs/FORMAT.md §9.

  magic    8 bytes  b"\\x89LEDGER\\n"   (the high byte and newline catch text-mode mangling)
  version  u16 BE   1
  genesis  u32 BE length, then the canonical genesis
  blocks   u32 BE length, then the canonical block; repeated until end of file, heights 1, 2, ...

Blocks are stored and exported as the exact bytes that were validated, so export -> import ->
export is byte-identical.
"""
from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator

from ledger import limits
from ledger.errors import BAD_CHAIN_FILE, LIMIT_EXCEEDED, LedgerError

MAGIC = b"\x89LEDGER\n"
CHAIN_FILE_VERSION = 1
_VERSION = struct.Struct(">H")
_LENGTH = struct.Struct(">I")


def _read_exactly(stream: BinaryIO, size: int, what: str, height: int | None) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise LedgerError(BAD_CHAIN_FILE, f"the file ends inside the {what}", height)
    return data


class ChainReader:
    """Reads a chain file as a stream: `genesis` first, then `blocks()` yields (height, bytes)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        if stream.read(len(MAGIC)) != MAGIC:
            raise LedgerError(BAD_CHAIN_FILE, "not a ledger chain file (bad magic bytes)")
        (version,) = _VERSION.unpack(_read_exactly(stream, _VERSION.size, "version", None))
        if version != CHAIN_FILE_VERSION:
            raise LedgerError(BAD_CHAIN_FILE, f"chain file version {version} is not supported")
        (length,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size, "genesis length", 0))
        if length > limits.GENESIS_BYTES_MAX:
            raise LedgerError(LIMIT_EXCEEDED, f"the genesis is larger than {limits.GENESIS_BYTES_MAX} bytes", 0)
        self.genesis = _read_exactly(stream, length, "genesis", 0)

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        height = 0
        while True:
            height += 1
            prefix = self._stream.read(_LENGTH.size)
            if not prefix:
                return
            if len(prefix) != _LENGTH.size:
                raise LedgerError(BAD_CHAIN_FILE, "the file ends inside a block length", height)
            (length,) = _LENGTH.unpack(prefix)
            if length > limits.BLOCK_BYTES_MAX:
                raise LedgerError(LIMIT_EXCEEDED, f"the block is larger than {limits.BLOCK_BYTES_MAX} bytes", height)
            yield height, _read_exactly(self._stream, length, "block", height)


class ChainWriter:
    """Writes a chain file; `close()` flushes and fsyncs so a finished export is on disk."""

    def __init__(self, path: str | os.PathLike, genesis: bytes):
        self._file = open(path, "wb", buffering=1024 * 1024)
        self._file.write(MAGIC + _VERSION.pack(CHAIN_FILE_VERSION) + _LENGTH.pack(len(genesis)) + genesis)

    def write_block(self, data: bytes) -> None:
        self._file.write(_LENGTH.pack(len(data)))
        self._file.write(data)

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> "ChainWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
