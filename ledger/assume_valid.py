"""`--assume-valid BLOCK_HASH`: find how far a chain file's signatures may be taken on trust.

Specification: none beyond docs/FORMAT.md (§6 headers, §9 chain file); the idea is Bitcoin Core's
`-assumevalid` (src/validation.cpp): trust is named by one block hash, and only signature checks
are skipped, for that block and its ancestors; every other rule still runs.

A first pass over a seekable chain file reads only each block's header (a few hundred bytes,
seeking over the transactions), hashes the unsigned header natively, checks that it links to the
header before it, and stops at the block whose hash is the assumed one: its height `h`. So the
file's blocks 1..h are the assumed block and its ancestors (a hash collision aside; each header
fixes its transactions through the Merkle root, which import checks). Import then links every
block to the one before it as always, and commits the unverified blocks only in groups whose last
block has the hash the first pass read at that height (see AssumedValid), so a file that changes
between the two passes cannot slip in a block whose signatures nobody checked.

A hash that is not in the file is not an error: like Bitcoin Core, the import then verifies every
signature (the safe direction) and says so in one line. The same holds for an input that cannot be
read twice (a pipe).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from ledger import limits
from ledger.codec import _Reader, _chain_version
from ledger.errors import LedgerError

# A canonical header is at most 1 + 4 * 9 (uints) + 5 * 34 + 66 bytes = 273 in version 1 and, with
# its history root, 307 in version 2; the block's own array marker comes first.
HEADER_PREFIX_BYTES_MAX = 320
_LENGTH_BYTES = 4   # the chain file's u32 big-endian block length (docs/FORMAT.md §9)
# Checkpoints of the first pass: as far apart as the importer's commit groups (ledger.importer).
CHECKPOINT_BLOCKS = 64
CHECKPOINT_TRANSACTIONS = 2_000


@dataclass(frozen=True, slots=True)
class AssumedValid:
    """Signatures of the blocks at heights 1..height are not verified; the block at `height` has
    hash `block_hash`. `checkpoints` maps some heights <= height (at most CHECKPOINT_BLOCKS
    blocks or about CHECKPOINT_TRANSACTIONS transactions apart, and `height` itself) to the hash the
    first pass read there: the importer commits unverified blocks only in groups that end at a
    checkpoint whose hash it has matched, so a file changed between the two passes can never
    leave a block stored whose signatures nobody checked and that is not an ancestor of the
    assumed block."""
    height: int
    block_hash: bytes
    checkpoints: dict[int, bytes]

    def hash_at(self, height: int) -> bytes | None:
        return self.checkpoints.get(height)


@dataclass(frozen=True, slots=True)
class AssumeValidLookup:
    """What the first pass found: `assumed` is None when every signature must be verified, and
    `note` says why in one line (or what is trusted)."""
    assumed: AssumedValid | None
    note: str


def parse_block_hash(text: str | bytes) -> bytes:
    """A block hash from 64 hex digits (or 32 raw bytes); ValueError otherwise."""
    if isinstance(text, bytes) and len(text) == 32:
        return text
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    try:
        value = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError(f"a block hash is 64 hex digits, not {text!r}") from None
    if len(value) != 32:
        raise ValueError(f"a block hash is 64 hex digits (32 bytes), not {len(value)} bytes")
    return value


def _header(prefix: bytes, version: int | None):
    """The header of the block whose first bytes are `prefix`, of a chain of format `version`; None
    if they are not one (the import will report that block's real error when it reaches it)."""
    reader = _Reader(prefix, _chain_version(version))
    try:
        reader.fields(2, "block")
        return reader.header()
    except LedgerError:
        return None


def locate(stream: BinaryIO, block_hash: bytes, chain_id: bytes, checkpoint_blocks: int = CHECKPOINT_BLOCKS,
           checkpoint_transactions: int = CHECKPOINT_TRANSACTIONS, *, version: int | None) -> AssumeValidLookup:
    """Scan the blocks of `stream` (positioned at the first block of a chain file, just after the
    genesis) for `block_hash`, reading headers only, and seek back to where it started. Each
    header must have the next height and link to the hash of the one before (the first to
    `chain_id`), so the blocks up to the one found are that block and its ancestors; the scan
    stops at the first that does not (the import will refuse that block anyway)."""
    shown = block_hash.hex()
    try:
        seekable = stream.seekable()
    except (AttributeError, ValueError, OSError):
        seekable = False
    if not seekable:
        return AssumeValidLookup(None, f"assume-valid: the input cannot be read twice (a pipe), so block {shown} "
                                       f"cannot be found ahead; every signature is verified")
    start = stream.tell()
    height = 0
    previous = chain_id
    checkpoints: dict[int, bytes] = {}
    blocks_since = transactions_since = 0
    try:
        while True:
            prefix = stream.read(_LENGTH_BYTES)
            if len(prefix) != _LENGTH_BYTES:
                break
            length = int.from_bytes(prefix, "big")
            if length > limits.BLOCK_BYTES_MAX:
                break
            height += 1
            position = stream.tell()
            header = _header(stream.read(min(length, HEADER_PREFIX_BYTES_MAX)), version)
            if header is None or header.height != height or header.previous_hash != previous:
                break
            previous = header.hash
            blocks_since += 1
            transactions_since += header.tx_count
            if header.hash == block_hash:
                checkpoints[height] = header.hash
                return AssumeValidLookup(AssumedValid(height, block_hash, checkpoints),
                                         f"assume-valid: signatures of blocks 1..{height} (up to block {shown}) "
                                         f"are not verified; every other rule is")
            if blocks_since >= checkpoint_blocks or transactions_since >= checkpoint_transactions:
                checkpoints[height] = header.hash
                blocks_since = transactions_since = 0
            stream.seek(position + length, io.SEEK_SET)
    finally:
        stream.seek(start, io.SEEK_SET)
    return AssumeValidLookup(None, f"assume-valid: block {shown} is not on the chain in this file; every "
                                   f"signature is verified")
