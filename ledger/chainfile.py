"""The chain file: magic, version, genesis, then length-prefixed blocks, readable as a stream.

Specification: docs/FORMAT.md §9.

  magic    8 bytes  b"\\x89LEDGER\\n"   (the high byte and newline catch text-mode mangling)
  version  u16 BE   1
  genesis  u32 BE length, then the canonical genesis
  blocks   u32 BE length, then the canonical block; repeated until end of file, heights 1, 2, ...

Blocks are stored and exported as the exact bytes that were validated, so export -> import ->
export is byte-identical.

The reader only ever reads forward (pipes and terminals work: nothing seeks or asks the size) and
counts what it consumed in `position`. The writer writes a temporary file beside the target and
renames it over the target when complete, so a failed write (a full disk) leaves no partial file.
"""
from __future__ import annotations

import os
import stat
import struct
from typing import BinaryIO, Iterator

from ledger import limits
from ledger.errors import BAD_CHAIN_FILE, BAD_VERSION, LIMIT_EXCEEDED, LedgerError

MAGIC = b"\x89LEDGER\n"
CHAIN_FILE_VERSION = 1
_VERSION = struct.Struct(">H")
_LENGTH = struct.Struct(">I")


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at end of input (a raw pipe may return short reads)."""
    data = stream.read(size)
    if data is None or len(data) == size or not data:
        return data or b""
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class ChainReader:
    """Reads a chain file as a stream: `genesis` first, then `blocks()` yields (height, bytes).
    `position` is the number of bytes consumed so far."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.position = 0
        if self._read(len(MAGIC)) != MAGIC:
            raise LedgerError(BAD_CHAIN_FILE, "not a ledger chain file (bad magic bytes)")
        (version,) = _VERSION.unpack(self._read_exactly(_VERSION.size, "version", None))
        if version != CHAIN_FILE_VERSION:
            raise LedgerError(BAD_VERSION, f"chain file version {version} is not supported (expected {CHAIN_FILE_VERSION})")
        (length,) = _LENGTH.unpack(self._read_exactly(_LENGTH.size, "genesis length", 0))
        if length > limits.GENESIS_BYTES_MAX:
            raise LedgerError(LIMIT_EXCEEDED, f"the genesis is larger than {limits.GENESIS_BYTES_MAX} bytes", 0)
        self.genesis = self._read_exactly(length, "genesis", 0)

    def _read(self, size: int) -> bytes:
        data = _read_up_to(self._stream, size)
        self.position += len(data)
        return data

    def _read_exactly(self, size: int, what: str, height: int | None) -> bytes:
        data = self._read(size)
        if len(data) != size:
            raise LedgerError(BAD_CHAIN_FILE, f"the file ends inside the {what}", height)
        return data

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        height = 0
        while True:
            height += 1
            prefix = self._read(_LENGTH.size)
            if not prefix:
                return
            if len(prefix) != _LENGTH.size:
                raise LedgerError(BAD_CHAIN_FILE, "the file ends inside a block length", height)
            (length,) = _LENGTH.unpack(prefix)
            if length > limits.BLOCK_BYTES_MAX:
                raise LedgerError(LIMIT_EXCEEDED, f"the block is larger than {limits.BLOCK_BYTES_MAX} bytes", height)
            yield height, self._read_exactly(length, "block", height)


def count_blocks(path: str | os.PathLike, offset: int) -> int | None:
    """How many whole blocks the chain file at `path` frames from `offset` (where the first block's
    length prefix is: `ChainReader.position` once the genesis is read), seeking over the length
    prefixes without reading the blocks, for a progress bar; None where the file is not a regular
    one (a pipe, which a second reader would steal from) or cannot be read."""
    count = 0
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            position = offset
            while position + _LENGTH.size <= size:
                handle.seek(position)
                position += _LENGTH.size + _LENGTH.unpack(handle.read(_LENGTH.size))[0]
                if position > size:
                    break
                count += 1
    except OSError:
        return None
    return count


class ChainWriter:
    """Writes a chain file; `close()` flushes, fsyncs and renames it into place, so a finished
    export is on disk and an unfinished one (an error, `abort()`) leaves no file and no change to
    an existing one. A target that is not a regular file (a pipe, /dev/stdout) is written directly."""

    def __init__(self, path: str | os.PathLike, genesis: bytes):
        self._path = os.fspath(path)
        try:
            direct = not stat.S_ISREG(os.stat(self._path).st_mode)
        except FileNotFoundError:
            direct = False
        folder, name = os.path.split(os.path.abspath(self._path))
        self._temporary = None if direct else os.path.join(folder, f".{name}.{os.getpid()}.partial")
        self._file = open(self._temporary or self._path, "wb", buffering=1024 * 1024)
        try:
            self._file.write(MAGIC + _VERSION.pack(CHAIN_FILE_VERSION) + _LENGTH.pack(len(genesis)) + genesis)
        except BaseException:
            self.abort()
            raise

    def write_block(self, data: bytes) -> None:
        self._file.write(_LENGTH.pack(len(data)))
        self._file.write(data)

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.flush()
            if self._temporary is not None:
                os.fsync(self._file.fileno())
            self._file.close()
            if self._temporary is not None:
                os.replace(self._temporary, self._path)
                self._temporary = None
                folder = os.open(os.path.dirname(os.path.abspath(self._path)), os.O_RDONLY)
                try:
                    os.fsync(folder)     # the rename itself survives a crash
                finally:
                    os.close(folder)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop what was written (the target is left as it was)."""
        try:
            self._file.close()
        except OSError:
            pass                         # the failed flush of a full disk; the file goes anyway
        if self._temporary is not None:
            try:
                os.unlink(self._temporary)
            except FileNotFoundError:
                pass
            self._temporary = None

    def __enter__(self) -> "ChainWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
