"""Tamper tests: flip single bits of an exported chain file and import it.

Every flip must be rejected with a LedgerError located at the block that holds the flipped bit
(None for the file magic and version, 0 for the genesis), and the store must afterwards hold
exactly the blocks before that block: nothing of the rejected block, nothing lost of the earlier
ones. The store's contents are compared with reference stores built from clean prefixes of the
chain (block bytes, info(), every account of the workload, transaction locations, records).

The flipped positions are a deterministic sample that covers every region of the file: magic,
version, genesis length and every genesis field, each block's length prefix, every header field,
the array headers, and every field of several transactions of each block (first, last, and the
first transfer, mint and record), type tags and signatures included. Every test runs on a chain
of each format version (version 2's headers add the history root, and its state field is a root).
"""
from __future__ import annotations

import shutil
import struct
from pathlib import Path

import lmdb
import pytest

from ledger import Ledger, LedgerError
from ledger.codec import encode_block, encode_genesis
from ledger.errors import (
    BAD_BLOCK_SIGNATURE, BAD_CHAIN_FILE, BAD_STATE_COMMITMENT, BAD_TX_SIGNATURE, BAD_VERSION, CONFLICTING_BLOCK,
    LIMIT_EXCEEDED,
    WRONG_GENESIS,
)
from ledger.workload import generate_chain_file

SEED = 424242
ACCOUNTS = 6
BLOCKS = 4
TXS_PER_BLOCK = 20
PREFIX = 2                      # blocks held by the "prefix" store before the tampered import

HEADER_FIELDS = {1: ("version", "chain_id", "height", "previous_hash", "time_ms", "tx_count", "tx_root",
                     "state_commitment", "proposer", "signature"),
                 2: ("version", "chain_id", "height", "previous_hash", "time_ms", "tx_count", "tx_root",
                     "state_root", "history_root", "proposer", "signature")}
TX_FIELDS = ("chain_id", "sender", "nonce", "kind", "body", "signature")
GENESIS_FIELDS = ("version", "name", "time_ms", "validators", "issuers", "balances")


# ---------------------------------------------------------------- a msgpack layout walker


def _walk(buf: bytes, pos: int, path: tuple, out: list) -> int:
    """Append (path, start, end) for every leaf and every array header of the msgpack value at `pos`."""
    tag = buf[pos]
    if tag <= 0x7F:                                   # positive fixint
        out.append((path, pos, pos + 1))
        return pos + 1
    if 0xA0 <= tag <= 0xBF:                           # fixstr
        end = pos + 1 + (tag & 0x1F)
        out.append((path, pos, end))
        return end
    scalar_sizes = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
    if tag in scalar_sizes:
        end = pos + 1 + scalar_sizes[tag]
        out.append((path, pos, end))
        return end
    length_sizes = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2}   # bin8/16/32, str8/16
    if tag in length_sizes:
        size = length_sizes[tag]
        end = pos + 1 + size + int.from_bytes(buf[pos + 1:pos + 1 + size], "big")
        out.append((path, pos, end))
        return end
    if 0x90 <= tag <= 0x9F:
        count, header = tag & 0x0F, 1
    elif tag == 0xDC:
        count, header = int.from_bytes(buf[pos + 1:pos + 3], "big"), 3
    elif tag == 0xDD:
        count, header = int.from_bytes(buf[pos + 1:pos + 5], "big"), 5
    else:  # pragma: no cover - the canonical encoding uses nothing else
        raise AssertionError(f"unexpected msgpack tag {tag:#x} at {pos}")
    out.append((path + ("[]",), pos, pos + header))
    pos += header
    for i in range(count):
        pos = _walk(buf, pos, path + (i,), out)
    return pos


def _name(path: tuple, version: int) -> tuple:
    """Readable names for the positional paths of a block or genesis."""
    if path[0] == "genesis" and len(path) > 1 and isinstance(path[1], int):
        return ("genesis", GENESIS_FIELDS[path[1]]) + path[2:]
    if path[0] == "block" and len(path) > 2:
        k, rest = path[1], path[2:]
        if rest[0] == 0 and len(rest) > 1 and isinstance(rest[1], int):
            return ("block", k, "header", HEADER_FIELDS[version][rest[1]]) + rest[2:]
        if rest[0] == 1 and len(rest) > 1 and isinstance(rest[1], int):
            tx = ("block", k, "tx", rest[1])
            if len(rest) > 2 and isinstance(rest[2], int):
                return tx + (TX_FIELDS[rest[2]],) + rest[3:]
            return tx + rest[2:]
        return ("block", k, {0: "header", 1: "txs"}.get(rest[0], rest[0])) + rest[1:]
    return path


def file_layout(data: bytes) -> tuple[list, list[tuple[int, int]]]:
    """(regions, block spans): regions are (name path, start, end) in file offsets."""
    version = data[15]   # the genesis's first field (a fixint), after its array header
    regions = [(("file", "magic"), 0, 8), (("file", "version"), 8, 10), (("genesis", "length"), 10, 14)]
    (genesis_length,) = struct.unpack_from(">I", data, 10)
    leaves: list = []
    end = _walk(data, 14, ("genesis",), leaves)
    assert end == 14 + genesis_length
    regions += [(_name(p, version), s, e) for p, s, e in leaves]
    spans = []
    pos, height = end, 0
    while pos < len(data):
        height += 1
        (length,) = struct.unpack_from(">I", data, pos)
        regions.append((("block", height, "length"), pos, pos + 4))
        leaves = []
        assert _walk(data, pos + 4, ("block", height), leaves) == pos + 4 + length
        regions += [(_name(p, version), s, e) for p, s, e in leaves]
        spans.append((pos, pos + 4 + length))
        pos += 4 + length
    return regions, spans


def chosen_transactions(blocks) -> dict[int, set[int]]:
    """Per height: first and last transaction, plus the first transfer, mint and record of the chain."""
    chosen = {b.height: {0, len(b.transactions) - 1} for b in blocks}
    for kind in (0, 1, 2):
        for b in blocks:
            found = [i for i, tx in enumerate(b.transactions) if tx.kind == kind]
            if found:
                chosen[b.height].add(found[len(found) // 2])
                break
    return chosen


def flips_for(regions, chosen) -> list[tuple[tuple, int, int]]:
    """(region name, byte offset, bit) for a deterministic sample covering every region."""
    flips = []
    for name, start, end in regions:
        if name[0] == "block" and name[2] == "tx" and name[3] not in chosen[name[1]]:
            continue
        if name[0] in ("file",) or name[-1] == "length":
            # framing: every byte, low and high bit
            for pos in range(start, end):
                flips += [(name, pos, 0), (name, pos, 7)]
            continue
        size = end - start
        positions = sorted({start, start + 1, start + size // 2, end - 1} if size > 3 else set(range(start, end)))
        for n, pos in enumerate(positions):
            flips.append((name, pos, (pos * 5 + n) % 8))
    return flips


# ---------------------------------------------------------------- the world


def fingerprint(book: Ledger, world) -> dict:
    """Everything a store holds, as seen through the API (and tx locations through a snapshot)."""
    with book._store.snapshot() as snap:
        locations = {txid: snap.tx_location(txid) for txid in world["txids"]}
        account_count = snap.account_count()
    return {
        "info": book.info(),
        "blocks": [book.block_bytes(h) for h in range(1, BLOCKS + 2)],
        "hashes": [book.block_bytes(h) for h in world["block_hashes"]],
        "accounts": {key: book.account(key) for key in world["keys"]},
        "account_count": account_count,
        "locations": locations,
        "records": {(o, k): book.record(o, k) for o, k in world["record_keys"]},
    }


@pytest.fixture(scope="module", params=[1, 2], ids=["v1", "v2"])
def world(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("tamper")
    chain = root / "chain.ledger"
    workload = generate_chain_file(chain, BLOCKS, TXS_PER_BLOCK, ACCOUNTS, SEED, version=request.param)
    data = chain.read_bytes()
    blocks = list(workload.blocks(BLOCKS, TXS_PER_BLOCK))
    block_bytes = [encode_block(b) for b in blocks]
    world = {
        "root": root, "chain": chain, "data": data, "workload": workload, "blocks": blocks,
        "block_bytes": block_bytes, "genesis_bytes": encode_genesis(workload.genesis),
        "txids": [tx.txid for b in blocks for tx in b.transactions],
        "block_hashes": [b.hash for b in blocks],
        "keys": [k.public_key for k in workload.accounts + workload.validators + (workload.issuer,)],
        "record_keys": sorted({(tx.sender, tx.body.key) for b in blocks for tx in b.transactions if tx.kind == 2}),
    }
    assert world["record_keys"], "the sample chain should hold records"
    references, templates = {}, {}
    for height in range(BLOCKS + 1):
        path = root / f"reference-{height}"
        with Ledger.create(path, workload.genesis) as book:
            if height:
                book.import_blocks(list(enumerate(block_bytes[:height], 1)))
            assert book.height == height
            references[height] = fingerprint(book, world)
        templates[height] = path / "data.mdb"
    world["references"], world["templates"] = references, templates
    return world


def store_from(world, height: int, path: Path) -> Ledger:
    """A store holding the first `height` blocks (a copy of a closed reference store)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    shutil.copyfile(world["templates"][height], path / "data.mdb")
    return Ledger.open(path, world["genesis_bytes"])


def test_layout_covers_the_whole_file(world):
    regions, spans = file_layout(world["data"])
    covered = bytearray(len(world["data"]))
    for _region, start, end in regions:
        covered[start:end] = b"\x01" * (end - start)
    assert all(covered), "every byte of the file lies in some region"
    assert [world["data"][s + 4:e] for s, e in spans] == world["block_bytes"]
    flips = flips_for(regions, chosen_transactions(world["blocks"]))
    kinds = {name[:3] if name[0] == "block" else name[:2] for name, _p, _b in flips}
    for k in range(1, BLOCKS + 1):
        assert {("block", k, "length"), ("block", k, "header"), ("block", k, "tx"), ("block", k, "txs")} <= kinds
    assert 300 <= len(flips) <= 1200, len(flips)


def _import_error(book: Ledger, path) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        book.import_chain(path)
    return caught.value


# Errors the chain reader itself raises (a block length over the limit, a file ending inside a block).
_FRAMING = (BAD_CHAIN_FILE, LIMIT_EXCEEDED)


@pytest.mark.parametrize("mode", ["fresh", "prefix"])
def test_every_bit_flip_is_rejected_and_writes_nothing(world, tmp_path, mode):
    data = world["data"]
    regions, spans = file_layout(data)
    flips = flips_for(regions, chosen_transactions(world["blocks"]))
    references = world["references"]
    before = 0 if mode == "fresh" else PREFIX
    tampered = tmp_path / "tampered.ledger"
    failures: list[str] = []
    for number, (name, pos, bit) in enumerate(flips):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << bit
        tampered.write_bytes(flipped)
        block = next((k for k, (s, e) in enumerate(spans, 1) if s <= pos < e), None)
        where = f"flip {number} {name} byte {pos} bit {bit}"
        with store_from(world, before, tmp_path / "db") as book:
            try:
                book.import_chain(tampered)
            except LedgerError as error:
                caught = error
            else:
                failures.append(f"{where}: accepted")
                continue
            # The error names the block holding the flip.
            expected_height = block if block is not None else (None if name[0] == "file" else 0)
            if caught.height != expected_height:
                failures.append(f"{where}: error height {caught.height}, expected {expected_height} ({caught})")
            if name[0] == "file" and caught.code != (BAD_VERSION if name[1] == "version" else BAD_CHAIN_FILE):
                failures.append(f"{where}: {caught}")
            if name[0] == "genesis" and caught.code not in (WRONG_GENESIS, BAD_CHAIN_FILE, LIMIT_EXCEEDED):
                failures.append(f"{where}: {caught}")
            if block is not None and name[2] != "length":
                if block <= before:
                    if caught.code != CONFLICTING_BLOCK:
                        failures.append(f"{where}: stored block tampered, got {caught}")
                elif name[2] == "tx" and name[4:5] == ("signature",) and pos >= regions_start(regions, name) + 2:
                    if (caught.code, caught.index) != (BAD_TX_SIGNATURE, name[3]):
                        failures.append(f"{where}: expected bad-tx-signature at tx {name[3]}, got {caught}")
                elif name[2:4] == ("header", "signature") and pos >= regions_start(regions, name) + 2:
                    if caught.code != BAD_BLOCK_SIGNATURE:
                        failures.append(f"{where}: expected bad-block-signature, got {caught}")
                elif name[2] == "tx" and caught.index is not None and caught.index < name[3]:
                    failures.append(f"{where}: error at tx {caught.index}, before the flipped tx {name[3]}")
            # The store holds exactly the blocks before the flipped one (and at least what it held).
            kept = before if block is None else max(before, block - 1)
            now = fingerprint(book, world)
            if now != references[kept]:
                held = now["info"]["height"]
                failures.append(f"{where}: store holds {held} blocks / differs from the reference of {kept} ({caught})")
                continue
            # An untampered import afterwards completes and exports byte-identically (sampled).
            if number % 7 == 0 or name[-1] == "length":
                result = book.import_chain(world["chain"])
                if (result.height, result.imported_blocks + result.skipped_blocks) != (BLOCKS, BLOCKS):
                    failures.append(f"{where}: clean re-import gave {result}")
                out = tmp_path / "export.ledger"
                book.export_chain(out)
                if out.read_bytes() != data:
                    failures.append(f"{where}: export after clean re-import differs")
    assert not failures, f"{len(failures)} of {len(flips)} flips misbehaved:\n" + "\n".join(failures[:40])
    assert len(flips) >= 300


def regions_start(regions, name) -> int:
    for region_name, start, _end in regions:
        if region_name == name:
            return start
    raise KeyError(name)


@pytest.mark.parametrize("case", ["truncated-last-block", "length-over-limit", "length-past-eof"])
def test_framing_error_keeps_earlier_blocks(world, tmp_path, case):
    """Errors raised by the chain reader (not by block validation) keep the blocks before them,
    which sit uncommitted in the same commit group when the error comes (regression: they were dropped)."""
    data = bytearray(world["data"])
    _regions, spans = file_layout(bytes(data))
    if case == "truncated-last-block":
        data = data[:spans[-1][1] - 10]            # a partially copied file
        bad = BLOCKS
    elif case == "length-over-limit":
        data[spans[2][0]] ^= 0x80                  # block 3's length prefix >= 2 GiB
        bad = 3
    else:
        (length,) = struct.unpack_from(">I", data, spans[-1][0])
        struct.pack_into(">I", data, spans[-1][0], length + 256)   # last block's length runs past the file
        bad = BLOCKS
    path = tmp_path / "bad.ledger"
    path.write_bytes(bytes(data))
    with store_from(world, 0, tmp_path / "db") as book:
        error = _import_error(book, path)
        assert error.height == bad
        assert error.code in _FRAMING
        assert fingerprint(book, world) == world["references"][bad - 1]


def test_clean_import_after_many_failed_ones_is_byte_identical(world, tmp_path):
    """One store, many failed tampered imports in a row (some advancing it), then a clean one."""
    data = world["data"]
    _regions, spans = file_layout(data)
    tampered = tmp_path / "tampered.ledger"
    with store_from(world, 0, tmp_path / "db") as book:
        for k, (start, end) in enumerate(spans, 1):
            flipped = bytearray(data)
            flipped[(start + end) // 2] ^= 0x10
            tampered.write_bytes(flipped)
            error = _import_error(book, tampered)
            assert error.height == k
            assert fingerprint(book, world) == world["references"][k - 1]
        result = book.import_chain(world["chain"])
        assert (result.imported_blocks, result.skipped_blocks) == (1, BLOCKS - 1)
        book.validate()
        book.export_chain(tmp_path / "export.ledger")
    assert (tmp_path / "export.ledger").read_bytes() == data


# ---------------------------------------------------------------- tampering with the store itself


def _raw_env(path: Path) -> lmdb.Environment:
    return lmdb.open(str(path), max_dbs=16, subdir=True)


@pytest.mark.parametrize("target", ["block-byte", "account-balance", "account-extra", "tip"])
def test_validate_detects_a_tampered_store(world, tmp_path, target):
    path = tmp_path / "db"
    store_from(world, BLOCKS, path).close()
    env = _raw_env(path)
    with env.begin(write=True) as txn:
        if target == "block-byte":
            db = env.open_db(b"blocks", txn=txn)
            key = struct.pack(">Q", 2)
            value = bytearray(txn.get(key, db=db))
            value[len(value) // 2] ^= 0x01
            txn.put(key, bytes(value), db=db)
        elif target == "account-balance":
            db = env.open_db(b"accounts", txn=txn)
            key = world["workload"].accounts[0].public_key
            balance, nonce = struct.unpack(">QQ", txn.get(key, db=db))
            txn.put(key, struct.pack(">QQ", balance + 1, nonce), db=db)
        elif target == "account-extra":
            db = env.open_db(b"accounts", txn=txn)
            txn.put(b"\x07" * 32, struct.pack(">QQ", 5, 0), db=db)
        else:
            import msgpack
            db = env.open_db(b"meta", txn=txn)
            fields = msgpack.unpackb(txn.get(b"tip", db=db))
            fields[2] += 1   # time_ms
            txn.put(b"tip", msgpack.packb(fields, use_bin_type=True), db=db)
    env.close()
    with Ledger.open(path, world["genesis_bytes"]) as book:
        with pytest.raises(LedgerError) as caught:
            book.validate()
        if target == "block-byte":
            assert caught.value.height == 2
        else:
            assert caught.value.code == BAD_STATE_COMMITMENT
