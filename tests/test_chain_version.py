"""Every path decodes a block as a block of its chain's format version, the genesis version
(docs/FORMAT.md §4, §6, §8 step 2): append (native and readable rules), import (the pipeline),
validate, export, queries, proofs, the txid index and the assume-valid scan. A chain of either
version round-trips; a block of the other version is bad-version at its height on every path.

The version-2 blocks here are built by BlockBuilder, which gives them the version-2 header shape;
their state and history roots are the business of the state-tree work (FORMAT.md §7.2, §7.3), not
of these decoding tests."""
from __future__ import annotations

import dataclasses

import pytest

from ledger import Ledger, LedgerError, codec, verify_proof
from ledger.builder import sign_header
from ledger.codec import Block, Mint, Record, Transfer, make_genesis
from ledger.errors import BAD_VERSION
from ledger.keys import Keypair

VALIDATOR = Keypair.from_seed(b"version validator".ljust(32, b"."))
ISSUER = Keypair.from_seed(b"version issuer".ljust(32, b"."))
ALICE = Keypair.from_seed(b"version alice".ljust(32, b"."))
BOB = Keypair.from_seed(b"version bob".ljust(32, b"."))


def genesis_of(version: int) -> codec.Genesis:
    return make_genesis(f"version {version}", 1_000, [VALIDATOR.public_key], [ISSUER.public_key],
                        {ALICE.public_key: 1_000}, version=version)


def build_chain(book: Ledger, blocks: int = 3) -> list[bytes]:
    out = []
    for height in range(1, blocks + 1):
        builder = book.builder(VALIDATOR)
        builder.transaction(ALICE, Transfer(BOB.public_key, height))
        builder.transaction(ISSUER, Mint(BOB.public_key, 10))
        builder.transaction(ALICE, Record(b"certificate/%d" % height, b"issued"))
        data = codec.encode_block(builder.build(book.tip.time_ms + 1))
        book.append(data)
        out.append(data)
    return out


@pytest.fixture(params=[1, 2], ids=["v1", "v2"])
def chain(request, tmp_path):
    """A store of a chain of the given version, its blocks and its chain file."""
    version = request.param
    with Ledger.create(tmp_path / "source", genesis_of(version)) as book:
        blocks = build_chain(book)
        book.export_chain(tmp_path / "chain.ledger")
    return version, blocks, tmp_path / "chain.ledger"


def other_version(data: bytes, version: int) -> bytes:
    """Block `data` with a header of the other format version, correctly signed."""
    block = codec.decode_block(data)
    h = block.header
    other = 3 - version
    header = sign_header(VALIDATOR, h.chain_id, h.height, h.previous_hash, h.time_ms, h.tx_count, h.tx_root,
                         h.state_commitment, version=other, history_root=bytes(32) if other == 2 else b"")
    return codec.encode_block(Block(header, block.transactions))


def test_the_builder_makes_headers_of_the_chains_version(chain):
    version, blocks, _ = chain
    for data in blocks:
        header = codec.decode_block(data, version).header
        assert header.version == version and len(header.history_root) == (32 if version == 2 else 0)


def test_import_validate_export_round_trip(chain, tmp_path):
    version, blocks, path = chain
    with Ledger.create(tmp_path / "imported", genesis_of(version)) as book:
        result = book.import_chain(path)
        assert result.imported_blocks == len(blocks)
        assert book.validate().blocks == len(blocks)
        assert book.validate(start=2).blocks == len(blocks) - 1   # block 1 replayed, not re-checked
        book.export_chain(tmp_path / "exported.ledger")
        assert [codec.encode_block(book.block(h)) for h in range(1, len(blocks) + 1)] == blocks
        last = codec.decode_block(blocks[-1], version)
        assert book.block(last.hash) == last
        tx = last.transactions[2]
        assert book.tx(tx.txid).transaction == tx
        assert verify_proof(book.prove(tx.txid), [VALIDATOR.public_key], book.chain_id)
    assert (tmp_path / "exported.ledger").read_bytes() == path.read_bytes()


def test_readable_rules_take_the_same_path(chain, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_RULES", "python")
    version, blocks, path = chain
    with Ledger.create(tmp_path / "twin", genesis_of(version)) as book:
        for data in blocks[:2]:
            book.append(data)
        book.import_chain(path)
        assert book.validate().blocks == len(blocks)
        assert book.validate(start=3).blocks == 1


def test_assume_valid_finds_a_block_of_the_chains_version(chain, tmp_path):
    version, blocks, path = chain
    notes = []
    with Ledger.create(tmp_path / "assumed", genesis_of(version)) as book:
        target = codec.decode_block(blocks[1], version).hash
        result = book.import_chain(path, assume_valid=target, note=notes.append)
        assert result.assumed_valid_height == 2, notes
        assert book.height == len(blocks)


def test_unindexed_blocks_are_found_by_the_scan(chain, tmp_path):
    """The txid index's entries and its scan of blocks it has not reached decode the chain's version."""
    version, blocks, _ = chain
    with Ledger.create(tmp_path / "scan", genesis_of(version)) as book:
        book._store.indexer.hold()
        for data in blocks:
            book.append(data)
        with book._store.snapshot() as snap:
            assert snap.chain_version() == version
        tx = codec.decode_block(blocks[-1], version).transactions[1]
        assert (book.tx(tx.txid).height, book.tx(tx.txid).index) == (len(blocks), 1)
        book._store.indexer.release()


@pytest.mark.parametrize("rules", ["native", "python"])
def test_a_block_of_the_other_version_is_bad_version_everywhere(chain, tmp_path, monkeypatch, rules):
    monkeypatch.setenv("LEDGER_RULES", rules)
    version, blocks, _ = chain
    wrong = other_version(blocks[1], version)
    message = f"the block format version is not the chain's ({version})"
    with Ledger.create(tmp_path / "append", genesis_of(version)) as book:
        book.append(blocks[0])
        with pytest.raises(LedgerError) as appended:
            book.append(wrong)
        assert (appended.value.code, appended.value.height, appended.value.message) == (BAD_VERSION, 2, message)
        with pytest.raises(LedgerError) as imported:
            book.import_blocks([(1, blocks[0]), (2, wrong)])
        assert (imported.value.code, imported.value.height, imported.value.message) == (BAD_VERSION, 2, message)
        assert book.height == 1


def test_a_stored_block_of_the_other_version_fails_validation(chain, tmp_path):
    """A store whose block bytes were changed under it (tampering): validate reads each block as the
    chain's version, so a block of the other version is bad-version at its height."""
    version, blocks, _ = chain
    with Ledger.create(tmp_path / "tampered", genesis_of(version)) as book:
        for data in blocks:
            book.append(data)
        store = book._store
        with store._env.begin(write=True) as txn:
            txn.put((2).to_bytes(8, "big"), other_version(blocks[1], version), db=store._dbs[b"blocks"])
        with pytest.raises(LedgerError) as caught:
            book.validate()
        assert (caught.value.code, caught.value.height) == (BAD_VERSION, 2)
        with pytest.raises(LedgerError) as read:
            book.block(2)
        assert read.value.code == BAD_VERSION


def test_a_genesis_version_changes_the_chain():
    assert genesis_of(1).chain_id != dataclasses.replace(genesis_of(1), version=2).chain_id
