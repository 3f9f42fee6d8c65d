"""The txid index (ledger/txindex.py): built off the critical path by a background indexer, it
answers every stored block whether or not the indexer has reached it; the native entries match
their Python twin; runs are merged; stores made before the index still open and answer."""
from __future__ import annotations

import random
import struct

import lmdb
import msgpack
import pytest

from ledger import Ledger, LedgerError, _core, merkle, txindex
from ledger.builder import sign_header
from ledger.codec import Block, encode_block, encode_genesis
from ledger.errors import DUPLICATE_TX
from ledger.proofs import verify_proof
from ledger.workload import Workload

SEED = 4242
ACCOUNTS = 12
BLOCKS = 12
TXS = 30


@pytest.fixture(scope="module")
def chain():
    workload = Workload.make(SEED, ACCOUNTS)
    blocks = list(workload.blocks(BLOCKS, TXS))
    return {"workload": workload, "blocks": blocks, "bytes": [encode_block(b) for b in blocks],
            "genesis": encode_genesis(workload.genesis)}


def index_state(book: Ledger) -> txindex.IndexState:
    with book._store.snapshot() as snap:
        return snap.txindex_state()


def assert_every_txid_answers(book: Ledger, chain, upto: int = BLOCKS) -> None:
    validators = [v.public_key for v in chain["workload"].validators]
    for block in chain["blocks"][:upto]:
        for index, tx in enumerate(block.transactions):
            info = book.tx(tx.txid)
            assert info is not None and (info.height, info.index) == (block.height, index)
            assert info.transaction == tx
            assert verify_proof(book.prove(tx.txid), validators, chain["workload"].genesis.chain_id)
    assert book.tx(bytes(32)) is None


def test_native_entries_match_the_python_twin(chain):
    for height, data in enumerate(chain["bytes"], 1):
        version = chain["workload"].genesis.version
        entries = txindex.block_entries(data, height, version)
        assert entries == txindex.block_entries_python(data, height, version)
        assert len(entries) == TXS * txindex.ENTRY_SIZE
        for index, tx in enumerate(chain["blocks"][height - 1].transactions):
            assert txindex.find_in_entries(entries, tx.txid) == (height, index)
    rng = random.Random(SEED)
    records = [rng.randbytes(txindex.ENTRY_SIZE) for _ in range(1000)] + [bytes(44), b"\xff" * 44]
    buffer = bytearray(b"".join(records))
    _core.sort_txid_entries(buffer)
    assert bytes(buffer) == b"".join(sorted(records))
    with pytest.raises(LedgerError) as caught:
        txindex.block_entries(chain["bytes"][0][:-1], 1, version)
    assert caught.value.code == "bad-encoding"   # a block cut short


def test_commit_writes_no_ids_and_close_flushes_the_index(chain, tmp_path):
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        book._store.indexer.hold()
        book.import_blocks(list(enumerate(chain["bytes"], 1)))
        with book._store.snapshot() as snap:
            assert snap._txn.stat(snap._dbs[b"transactions"])["entries"] == 0
            assert snap._txn.stat(snap._dbs[b"txindex"])["entries"] == 0
        assert index_state(book).height == 0
        book._store.indexer.release()
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        state = index_state(book)
        assert state.height == BLOCKS and sum(count for _run, count in state.runs) == BLOCKS * TXS
        assert_every_txid_answers(book, chain)


def test_queries_of_blocks_the_index_has_not_reached(chain, tmp_path):
    half = BLOCKS // 2
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        book.import_blocks(list(enumerate(chain["bytes"][:half], 1)))
    with Ledger.open(tmp_path / "db") as book:
        assert index_state(book).height == half
        book._store.indexer.hold()
        for data in chain["bytes"][half:]:
            book.append(data)
        assert index_state(book).height == half, "the held indexer wrote nothing"
        assert_every_txid_answers(book, chain)          # the upper half answers from a scan of its blocks
        with book._store.snapshot() as snap:
            last = chain["blocks"][-1].transactions[-1]
            assert snap.has_transaction(last.txid) and snap.tx_location(last.txid) == (BLOCKS, TXS - 1)
            assert not snap.has_transaction(bytes(32))
        book.validate()
        book._store.indexer.release()
    # A read-only open never writes, and answers the same.
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        assert index_state(book).height == BLOCKS
        assert_every_txid_answers(book, chain)


def test_read_only_open_of_a_lagging_index_answers_by_scanning(chain, tmp_path):
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        book._store.indexer.hold()
        book.import_blocks(list(enumerate(chain["bytes"], 1)))
        book._store.stop_indexer(flush=False)          # as a crash leaves it: the index at 0
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        assert index_state(book).height == 0
        assert_every_txid_answers(book, chain)
    with Ledger.open(tmp_path / "db") as book:          # a writing open catches up
        pass
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        assert index_state(book).height == BLOCKS


def replay_block(chain, height: int, replayed) -> bytes:
    """Block `height` of the chain with `replayed` (an earlier transaction) appended, re-signed."""
    block = chain["blocks"][height - 1]
    h = block.header
    txs = block.transactions + (replayed,)
    proposer = next(v for v in chain["workload"].validators if v.public_key == h.proposer)
    header = sign_header(proposer, h.chain_id, h.height, h.previous_hash, h.time_ms, len(txs),
                         merkle.root([t.txid for t in txs]), h.state_commitment, version=h.version,
                         history_root=h.history_root)
    return encode_block(Block(header, txs))


@pytest.mark.parametrize("held", [True, False], ids=["unindexed-tail", "indexed"])
def test_duplicate_across_the_unindexed_tail(chain, tmp_path, held):
    """An import whose block replays a transaction of a stored block the index has not reached is
    refused as a duplicate, exactly as when the index has it."""
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        if held:
            book._store.indexer.hold()
        book.import_blocks(list(enumerate(chain["bytes"][:3], 1)))
        if not held:
            book._store.stop_indexer()                 # flushes: the index holds blocks 1..3
            assert index_state(book).height == 3
        else:
            assert index_state(book).height == 0
        replayed = chain["blocks"][1].transactions[4]
        bad = replay_block(chain, 6, replayed)
        with pytest.raises(LedgerError) as caught:
            book.import_blocks([(4, chain["bytes"][3]), (5, chain["bytes"][4]), (6, bad)])
        assert (caught.value.code, caught.value.height, caught.value.index) == (DUPLICATE_TX, 6, TXS)
        assert book.height == 5
        if held:
            book._store.indexer.release()


def test_runs_are_merged_and_merged_runs_deleted(chain, tmp_path, monkeypatch):
    monkeypatch.setattr(txindex, "BATCH_IDS_MAX", TXS)      # a run per block
    monkeypatch.setattr(txindex, "RUNS_MAX", 3)
    monkeypatch.setattr(txindex, "MERGE_IDS_MAX", 4 * TXS)
    monkeypatch.setattr(txindex, "DELETE_IDS_PER_TXN", 7)
    monkeypatch.setattr(txindex, "MERGE_IDS_PER_TXN", 11)      # a merge spans several transactions
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        book.import_blocks(list(enumerate(chain["bytes"], 1)))
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        state = index_state(book)
        assert state.height == BLOCKS and not state.dead
        assert sum(count for _run, count in state.runs) == BLOCKS * TXS
        assert any(count > TXS for _run, count in state.runs), "some runs were merged"
        assert len(state.runs) < BLOCKS
        with book._store.snapshot() as snap:
            assert snap._txn.stat(snap._dbs[b"txindex"])["entries"] == BLOCKS * TXS
        assert_every_txid_answers(book, chain)


def make_old_format(path, chain) -> None:
    """Turn a store into what the code before the txid index wrote: every id in `transactions`,
    no `txindex` sub-database, no marker."""
    env = lmdb.open(str(path), max_dbs=16)
    try:
        with env.begin(write=True) as txn:
            txn.drop(env.open_db(b"txindex", txn=txn), delete=True)
            meta = env.open_db(b"meta", txn=txn)
            assert txn.delete(b"txindex", db=meta)
            transactions = env.open_db(b"transactions", txn=txn)
            height = msgpack.unpackb(txn.get(b"tip", db=meta))[0]
            for block in chain["blocks"][:height]:
                for index, tx in enumerate(block.transactions):
                    txn.put(tx.txid, struct.pack(">QI", block.height, index), db=transactions)
    finally:
        env.close()


def test_stores_made_before_the_index_open_and_answer(chain, tmp_path):
    half = BLOCKS // 2
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        book._store.indexer.hold()
        book.import_blocks(list(enumerate(chain["bytes"][:half], 1)))
        book._store.stop_indexer(flush=False)
    make_old_format(tmp_path / "db", chain)
    with Ledger.open(tmp_path / "db", read_only=True) as book:    # no marker: the old index is complete
        assert index_state(book).height == half
        assert_every_txid_answers(book, chain, half)
    with Ledger.open(tmp_path / "db") as book:                     # a writing open records marker = tip
        assert index_state(book).height == half
        book.import_blocks(list(enumerate(chain["bytes"], 1)))
        assert_every_txid_answers(book, chain)
        book.validate()
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        assert index_state(book).height == BLOCKS
        assert_every_txid_answers(book, chain)


def test_a_merge_cut_short_is_abandoned_and_its_partial_run_deleted(chain, tmp_path, monkeypatch):
    """A merge writes its run over several transactions; one cut short (here: its last transaction
    fails, as a crash would stop it) leaves a run that is not live: the next writing open deletes it
    and merges again, and every id answers throughout."""
    monkeypatch.setattr(txindex, "BATCH_IDS_MAX", TXS)
    monkeypatch.setattr(txindex, "RUNS_MAX", 3)
    monkeypatch.setattr(txindex, "MERGE_IDS_MAX", 4 * TXS)
    monkeypatch.setattr(txindex, "MERGE_IDS_PER_TXN", 11)
    finish = txindex.finish_merge

    def cut_short(*args):
        raise RuntimeError("the merge stops here")

    monkeypatch.setattr(txindex, "finish_merge", cut_short)
    with Ledger.create(tmp_path / "db", chain["genesis"]) as book:
        book.import_blocks(list(enumerate(chain["bytes"], 1)))
        indexer = book._store.indexer
        book._store.stop_indexer()
        assert isinstance(indexer.error, RuntimeError)
        state = index_state(book)
        assert state.merging is not None and state.height < BLOCKS
        with book._store.snapshot() as snap:
            partial = snap._txn.stat(snap._dbs[b"txindex"])["entries"] - sum(c for _r, c in state.runs)
        assert partial > 0, "the cut merge left a partial run"
        assert_every_txid_answers(book, chain)
    monkeypatch.setattr(txindex, "finish_merge", finish)
    with Ledger.open(tmp_path / "db") as book:
        pass
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        state = index_state(book)
        assert state.height == BLOCKS and state.merging is None and not state.dead
        with book._store.snapshot() as snap:
            assert snap._txn.stat(snap._dbs[b"txindex"])["entries"] == BLOCKS * TXS
        assert any(count > TXS for _run, count in state.runs)
        assert_every_txid_answers(book, chain)
