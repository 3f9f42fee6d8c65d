"""The pipelined import (decode ahead, signatures batched across blocks, several threads) gives the
same verdicts, the same stored bytes and the same errors as the sequential path (one `append` per
block, each verifying its own signatures), on a valid chain and on every tampered variant the
tamper test makes."""
from __future__ import annotations

import pytest

import ledger.pipeline
from ledger import Ledger, LedgerError
from ledger.chainfile import ChainReader
from test_tamper import chosen_transactions, file_layout, fingerprint, flips_for, world  # noqa: F401 (fixture)


def sequential_import(book: Ledger, path) -> None:
    with open(path, "rb") as stream:
        reader = ChainReader(stream)
        assert reader.genesis == book.genesis_bytes
        for height, data in reader.blocks():
            if height > book.height:
                book.append(data)


def outcome(importer, world, path, store_path):
    with Ledger.create(store_path, world["workload"].genesis) as book:
        try:
            importer(book, path)
            error = None
        except LedgerError as caught:
            error = (caught.code, caught.height, caught.index, caught.message)
        return error, fingerprint(book, world)


@pytest.mark.parametrize("threads,batch", [(1, 7), (2, 50), (2, 4096)])
def test_valid_chain_same_result(world, tmp_path, monkeypatch, threads, batch):
    monkeypatch.setattr(ledger.pipeline, "SIGNATURES_PER_BATCH", batch)
    piped = outcome(lambda b, p: b.import_blocks(_blocks(p), threads=threads), world, world["chain"], tmp_path / "a")
    sequential = outcome(sequential_import, world, world["chain"], tmp_path / "b")
    assert piped == sequential and piped[0] is None


def _blocks(path):
    with open(path, "rb") as stream:
        yield from ChainReader(stream).blocks()


def test_every_tampered_variant_same_error_and_store(world, tmp_path, monkeypatch):
    monkeypatch.setattr(ledger.pipeline, "SIGNATURES_PER_BATCH", 30)   # batches straddle block boundaries
    data = world["data"]
    regions, _spans = file_layout(data)
    flips = flips_for(regions, chosen_transactions(world["blocks"]))
    tampered = tmp_path / "tampered.ledger"
    compared = 0
    for number, (_name, position, bit) in enumerate(flips):
        raw = bytearray(data)
        raw[position] ^= 1 << bit
        tampered.write_bytes(bytes(raw))
        try:
            with open(tampered, "rb") as stream:
                if ChainReader(stream).genesis != world["genesis_bytes"]:
                    continue   # a flipped genesis is another chain: both paths refuse it before any block
        except LedgerError:
            continue           # the file header itself is refused before any block, by both paths
        piped = outcome(lambda b, p: b.import_chain(p, threads=2), world, tampered, tmp_path / f"p{number}")
        sequential = outcome(sequential_import, world, tampered, tmp_path / f"s{number}")
        assert piped == sequential, (position, bit)
        assert piped[0] is not None
        compared += 1
    assert compared > 300


@pytest.mark.parametrize("segment", [1, 3, 64])
def test_validate_in_segments_gives_the_same_report(world, tmp_path, monkeypatch, segment):
    import ledger.api
    monkeypatch.setattr(ledger.api, "VALIDATE_SEGMENT_BLOCKS", segment)
    with Ledger.create(tmp_path / "db", world["workload"].genesis) as book:
        book.import_chain(world["chain"])
        full = book.validate()
        assert (full.blocks, full.transactions) == (len(world["blocks"]), len(world["txids"]))
        part = book.validate(start=3)
        assert (part.start, part.end, part.blocks) == (3, len(world["blocks"]), len(world["blocks"]) - 2)
        assert book.validate(start=2, end=3).blocks == 2
