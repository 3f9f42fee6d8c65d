"""Storage tests: the LMDB layout, map growth, genesis checks on open, snapshot isolation while a
writer appends, all-or-nothing blocks, resumable imports, conflicting blocks, record history,
transaction and block lookups, and validate() ranges."""
from __future__ import annotations

import struct
import threading

import lmdb
import msgpack
import pytest

import ledger.importer as importer
from ledger import Ledger, LedgerError, Record
from ledger.builder import sign_header
from ledger.codec import Block, encode_block, encode_genesis
from ledger.errors import (
    BAD_STATE_COMMITMENT, BAD_STATE_ROOT, BAD_TX_SIGNATURE, CONFLICTING_BLOCK, NOT_FOUND, STORE_EXISTS, WRONG_GENESIS,
)
from ledger.storage import DATABASES
from ledger.workload import Workload, generate_chain_file

SEED = 97
ACCOUNTS = 8
BLOCKS = 6
TXS = 25


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    path = root / "chain.ledger"
    workload = generate_chain_file(path, BLOCKS, TXS, ACCOUNTS, SEED)
    blocks = list(workload.blocks(BLOCKS, TXS))
    return {"path": path, "data": path.read_bytes(), "workload": workload, "blocks": blocks,
            "bytes": [encode_block(b) for b in blocks], "genesis_bytes": encode_genesis(workload.genesis)}


def all_keys(workload: Workload) -> list[bytes]:
    return [k.public_key for k in workload.accounts + workload.validators + (workload.issuer,)]


def snapshot_of(book: Ledger, workload: Workload, blocks) -> dict:
    return {
        "info": book.info(),
        "accounts": {k: book.account(k) for k in all_keys(workload)},
        "txs": {tx.txid: book.tx(tx.txid) for b in blocks for tx in b.transactions},
        "blocks": [book.block_bytes(h) for h in range(1, len(blocks) + 2)],
        "records": {(tx.sender, tx.body.key): book.record(tx.sender, tx.body.key)
                    for b in blocks for tx in b.transactions if isinstance(tx.body, Record)},
    }


def resign(block: Block, proposer, **changes) -> bytes:
    """Re-encode `block` with header fields changed and a valid proposer signature."""
    h = block.header
    fields = dict(chain_id=h.chain_id, height=h.height, previous_hash=h.previous_hash, time_ms=h.time_ms,
                  tx_count=h.tx_count, tx_root=h.tx_root, commitment=h.state_commitment)
    fields.update(changes)
    header = sign_header(proposer, fields["chain_id"], fields["height"], fields["previous_hash"], fields["time_ms"],
                         fields["tx_count"], fields["tx_root"], fields["commitment"], version=h.version,
                         history_root=h.history_root)
    return encode_block(Block(header, block.transactions))


def state_field_error(workload: Workload) -> str:
    """The code of a wrong state field: version 1's commitment, version 2's state root."""
    return {1: BAD_STATE_COMMITMENT, 2: BAD_STATE_ROOT}[workload.genesis.version]


def proposer_of(workload: Workload, block: Block):
    return next(v for v in workload.validators if v.public_key == block.header.proposer)


# ---------------------------------------------------------------- layout and durability


def test_layout_of_the_sub_databases(chain, tmp_path):
    path = tmp_path / "db"
    with Ledger.create(path, chain["workload"].genesis) as book:
        book.import_chain(chain["path"])
        flags = book._store._env.flags()
        assert flags["sync"] and flags["metasync"], "durability (fsync on commit) is the default"
    env = lmdb.open(str(path), max_dbs=16, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            names = {key for key, _ in txn.cursor()}
            assert set(DATABASES) <= names
            dbs = {name: env.open_db(name, txn=txn, create=False) for name in DATABASES}
            assert txn.get(b"genesis", db=dbs[b"meta"]) == chain["genesis_bytes"]
            assert txn.get(b"chain_id", db=dbs[b"meta"]) == chain["workload"].genesis.chain_id
            tip = msgpack.unpackb(txn.get(b"tip", db=dbs[b"meta"]))
            assert tip[0] == BLOCKS and tip[1] == chain["blocks"][-1].hash
            assert struct.unpack(">Q", txn.get(b"tx_count", db=dbs[b"meta"]))[0] == BLOCKS * TXS
            heights = [struct.unpack(">Q", k)[0] for k, _ in txn.cursor(db=dbs[b"blocks"])]
            assert heights == list(range(1, BLOCKS + 1))
            for block, data in zip(chain["blocks"], chain["bytes"]):
                assert txn.get(struct.pack(">Q", block.height), db=dbs[b"blocks"]) == data
                assert txn.get(block.hash, db=dbs[b"block_hashes"]) == struct.pack(">Q", block.height)
            # Ids are indexed by the background indexer, flushed on close: sorted runs keyed by
            # run id || txid (ledger/txindex.py), the marker at the tip; the legacy database is empty.
            height, _next_run, runs, dead, merging = msgpack.unpackb(txn.get(b"txindex", db=dbs[b"meta"]))
            assert height == BLOCKS and not dead and merging is None
            assert sum(count for _run, count in runs) == BLOCKS * TXS
            assert txn.stat(dbs[b"transactions"])["entries"] == 0
            assert txn.stat(dbs[b"txindex"])["entries"] == BLOCKS * TXS
            for block in chain["blocks"]:
                for index, tx in enumerate(block.transactions):
                    found = [txn.get(struct.pack(">I", run) + tx.txid, db=dbs[b"txindex"]) for run, _ in runs]
                    assert [value for value in found if value] == [struct.pack(">QI", block.height, index)]
            assert txn.stat(dbs[b"block_hashes"])["entries"] == BLOCKS
    finally:
        env.close()


# ---------------------------------------------------------------- map growth

TINY_MAP = 64 * 1024


def tiny_map_ledger(tmp_path, seed: int, accounts: int, block_count: int, txs_per_block: int):
    """A new store whose map starts far too small for the chain that follows."""
    workload = Workload.make(seed, accounts)
    blocks = [encode_block(b) for b in workload.blocks(block_count, txs_per_block)]
    book = Ledger.create(tmp_path / "db", workload.genesis, map_size=TINY_MAP)
    return workload, blocks, book


def test_map_grows_on_map_full(tmp_path):
    workload, blocks, book = tiny_map_ledger(tmp_path, SEED + 1, 20, 24, 60)
    genesis_bytes = encode_genesis(workload.genesis)
    initial = TINY_MAP
    store = book._store
    with book:
        assert store.map_size == initial
        sizes = []
        # Several imports, one block per append and groups of blocks, each overflowing the map.
        for height, data in enumerate(blocks[:4], 1):
            book.append(data)
            sizes.append(store.map_size)
        book.import_blocks(list(enumerate(blocks, 1)))
        sizes.append(store.map_size)
        # (commits no longer write ids, so the chain needs fewer doublings than it used to)
        assert store.map_size >= initial * 2 ** 3, f"the map grew several times: {sizes}"
        assert sizes == sorted(sizes)
        assert book.height == 24
        book.validate()
        book.export_chain(tmp_path / "export.ledger")
    expected = tmp_path / "expected.ledger"
    generate_chain_file(expected, 24, 60, 20, SEED + 1)
    assert (tmp_path / "export.ledger").read_bytes() == expected.read_bytes()
    # Reopening (default map size) keeps everything.
    with Ledger.open(tmp_path / "db", genesis_bytes) as book:
        assert book.height == 24
        book.validate()


def test_snapshot_survives_map_growth(tmp_path):
    """A snapshot held by a reader thread keeps its view while the writer needs to grow the map:
    growth waits for the snapshot to close, then the import completes."""
    workload, blocks, book = tiny_map_ledger(tmp_path, SEED + 2, 8, 20, 50)
    store = book._store
    with book:
        book.import_blocks(list(enumerate(blocks[:2], 1)))
        key = workload.accounts[0].public_key
        opened, release, seen = threading.Event(), threading.Event(), []

        def reader() -> None:
            with store.snapshot() as snap:
                old = (snap.tip(), snap.account(key))
                opened.set()
                release.wait(30)
                seen.append((snap.tip(), snap.account(key), snap.block_bytes(3)) == (*old, None))

        thread = threading.Thread(target=reader)
        thread.start()
        opened.wait(30)
        size = store.map_size
        # The writer announces when it waits for open snapshots, so the test knows (without a
        # clock) that it reached the growth and stopped there.
        waiting = threading.Event()
        condition = store._readers._condition

        class AnnouncingCondition:
            def __enter__(self):
                return condition.__enter__()

            def __exit__(self, *exc):
                return condition.__exit__(*exc)

            def wait(self, timeout=None):
                waiting.set()
                return condition.wait(timeout)

            def notify_all(self):
                condition.notify_all()

        store._readers._condition = AnnouncingCondition()
        writer = threading.Thread(target=lambda: book.import_blocks(list(enumerate(blocks, 1))))
        writer.start()
        assert waiting.wait(60), "the writer never had to grow the map"
        assert writer.is_alive() and store.map_size == size, "the writer waits for the open snapshot"
        release.set()
        thread.join(30)
        writer.join(60)
        assert seen == [True]
        assert store.map_size > size and book.height == 20


def test_growing_the_map_under_ones_own_snapshot_is_refused(tmp_path):
    _workload, blocks, book = tiny_map_ledger(tmp_path, SEED + 2, 8, 20, 50)
    with book, book._store.snapshot():
        with pytest.raises(RuntimeError, match="holds an open snapshot"):
            for data in blocks:
                book.append(data)


# ---------------------------------------------------------------- genesis checks


def test_reopen_checks_genesis(chain, tmp_path):
    path = tmp_path / "db"
    with Ledger.create(path, chain["workload"].genesis) as book:
        book.import_chain(chain["path"])
        expected = book.info()
    other = Workload.make(SEED + 100, ACCOUNTS).genesis
    with pytest.raises(LedgerError) as caught:
        Ledger.open(path, other)
    assert caught.value.code == WRONG_GENESIS
    with pytest.raises(LedgerError) as caught:
        Ledger.open(path, encode_genesis(other))
    assert caught.value.code == WRONG_GENESIS
    # The failed opens closed their environment: opening works, with or without the genesis.
    with Ledger.open(path) as book:
        assert book.info() == expected
    with Ledger.open(path, chain["workload"].genesis) as book:
        assert book.info() == expected
    with Ledger.open_or_create(path, chain["genesis_bytes"]) as book:
        assert book.info() == expected
    with pytest.raises(LedgerError) as caught:
        Ledger.create(path, chain["workload"].genesis)
    assert caught.value.code == STORE_EXISTS
    with pytest.raises(LedgerError) as caught:
        Ledger.open(tmp_path / "missing")
    assert caught.value.code == WRONG_GENESIS
    # A chain file of another genesis is refused before anything is read.
    other_file = tmp_path / "other.ledger"
    generate_chain_file(other_file, 1, 3, ACCOUNTS, SEED + 100)
    with Ledger.open(path) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_chain(other_file)
        assert caught.value.code == WRONG_GENESIS
        assert book.info() == expected


# ---------------------------------------------------------------- readers while a writer appends


def test_snapshot_is_isolated_from_later_appends(chain, tmp_path):
    workload = chain["workload"]
    keys = all_keys(workload)
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(list(enumerate(chain["bytes"][:2], 1)))
        old_info = book.info()
        old_accounts = {k: book.account(k) for k in keys}
        results: dict = {}
        ready, appended, done = threading.Event(), threading.Event(), threading.Event()

        def reader() -> None:
            with book._store.snapshot() as snap:
                results["before"] = (snap.tip(), snap.tx_count(), {k: snap.account(k) for k in keys})
                ready.set()
                appended.wait(30)
                results["after"] = (snap.tip(), snap.tx_count(), {k: snap.account(k) for k in keys},
                                    snap.block_bytes(3), snap.tx_location(chain["blocks"][3].transactions[0].txid))
            done.set()

        thread = threading.Thread(target=reader)
        thread.start()
        assert ready.wait(30)
        for data in chain["bytes"][2:]:
            book.append(data)
        appended.set()
        thread.join(30)
        assert done.is_set()
        before, after = results["before"], results["after"]
        assert before[0].height == 2 and before[0].state_commitment.hex() == old_info["state_root"]
        assert after[:3] == before, "the open snapshot still shows the old tip and balances"
        assert before[2] == old_accounts
        assert after[3] is None and after[4] is None, "the open snapshot does not see later blocks"
        with book._store.snapshot() as snap:
            assert snap.tip().height == BLOCKS
            new_accounts = {k: snap.account(k) for k in keys}
        assert new_accounts != old_accounts
        assert new_accounts == {k: book.account(k) for k in keys}


def test_concurrent_readers_see_only_whole_blocks(chain, tmp_path):
    """Reader threads poll info() and accounts while blocks are appended one by one: every view
    equals the state after some whole number of blocks."""
    workload = chain["workload"]
    keys = all_keys(workload)
    expected = {}
    for height in range(BLOCKS + 1):
        with Ledger.create(tmp_path / f"ref{height}", workload.genesis) as ref:
            ref.import_blocks(list(enumerate(chain["bytes"][:height], 1)))
            info = ref.info()
            expected[height] = (info["tip_hash"], info["tx_count"], info["state_root"],
                                tuple(ref.account(k) for k in keys))
    errors: list[str] = []
    seen: set[int] = set()
    stop = threading.Event()
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        def reader() -> None:
            while not stop.is_set():
                with book._store.snapshot() as snap:
                    tip = snap.tip()
                    view = (tip.hash.hex(), snap.tx_count(), tip.state_commitment.hex(),
                            tuple(snap.account(k) for k in keys))
                seen.add(tip.height)
                if expected.get(tip.height) != view:
                    errors.append(f"inconsistent view at height {tip.height}")

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            for data in chain["bytes"]:
                book.append(data)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
    assert not errors, errors[:5]
    assert seen, "the readers ran"


# ---------------------------------------------------------------- rejected blocks write nothing


def test_rejected_block_writes_nothing(chain, tmp_path):
    workload, blocks = chain["workload"], chain["blocks"]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(list(enumerate(chain["bytes"][:3], 1)))
        before = snapshot_of(book, workload, blocks)
        block = blocks[3]
        proposer = proposer_of(workload, block)
        # A wrong state commitment is found only after every transaction has been applied.
        bad_commitment = resign(block, proposer, commitment=bytes(32))
        # A bad signature on the last transaction.
        last = block.transactions[-1]
        bad_tx = encode_block(Block(block.header, block.transactions[:-1] + (
            type(last)(last.chain_id, last.sender, last.nonce, last.body, bytes(64), last.txid),)))
        for data, code in ((bad_commitment, state_field_error(workload)), (bad_tx, BAD_TX_SIGNATURE)):
            with pytest.raises(LedgerError) as caught:
                book.append(data)
            assert caught.value.code == code and caught.value.height == 4
            assert snapshot_of(book, workload, blocks) == before
            with pytest.raises(LedgerError) as caught:
                book.import_blocks([(4, data)])
            assert caught.value.code == code
            assert snapshot_of(book, workload, blocks) == before
        book.validate()
        # The genuine block still goes in afterwards.
        book.append(chain["bytes"][3])
        assert book.height == 4
        book.validate()


@pytest.mark.parametrize("group", [1, 2, 4, 64])
def test_invalid_block_in_an_import_keeps_the_earlier_ones(chain, tmp_path, monkeypatch, group):
    monkeypatch.setattr(importer, "COMMIT_GROUP_BLOCKS_MAX", group)
    workload, blocks = chain["workload"], chain["blocks"]
    bad = 5
    tampered = list(chain["bytes"])
    tampered[bad - 1] = resign(blocks[bad - 1], proposer_of(workload, blocks[bad - 1]), commitment=b"\x01" * 32)
    reported: list[int] = []
    with Ledger.create(tmp_path / "ref", workload.genesis) as ref:
        ref.import_blocks(list(enumerate(chain["bytes"][:bad - 1], 1)))
        expected = snapshot_of(ref, workload, blocks)
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_blocks(list(enumerate(tampered, 1)), progress=lambda p: reported.append(p.height))
        assert (caught.value.code, caught.value.height) == (state_field_error(workload), bad)
        assert snapshot_of(book, workload, blocks) == expected
        assert reported and reported[-1] == bad - 1 and reported == sorted(reported)
        book.validate()


# ---------------------------------------------------------------- resume and conflicts


@pytest.mark.parametrize("k", [0, 1, 3, BLOCKS])
def test_resume_skips_stored_blocks(chain, tmp_path, k):
    with Ledger.create(tmp_path / "db", chain["workload"].genesis) as book:
        first = book.import_blocks(list(enumerate(chain["bytes"][:k], 1)))
        assert (first.imported_blocks, first.skipped_blocks, first.height) == (k, 0, k)
        result = book.import_chain(chain["path"])
        assert (result.skipped_blocks, result.imported_blocks) == (k, BLOCKS - k)
        assert result.imported_transactions == (BLOCKS - k) * TXS
        assert result.height == BLOCKS
        again = book.import_chain(chain["path"])
        assert (again.skipped_blocks, again.imported_blocks) == (BLOCKS, 0)
        book.validate()
        book.export_chain(tmp_path / "export.ledger")
    assert (tmp_path / "export.ledger").read_bytes() == chain["data"]


def test_conflicting_block_is_an_error_and_writes_nothing(chain, tmp_path):
    workload, blocks = chain["workload"], chain["blocks"]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(list(enumerate(chain["bytes"][:2], 1)))
        # A valid alternative block 3 (same parent, other transactions).
        builder = book.builder(workload.validators[0])
        builder.transaction(workload.accounts[0], Record(b"fork", b"other history"))
        alternative = encode_block(builder.build(blocks[2].header.time_ms))
        del builder
        book.import_blocks(list(enumerate(chain["bytes"][2:], 3)))
        before = snapshot_of(book, workload, blocks)
        cases = [
            ([(1, chain["bytes"][0]), (2, chain["bytes"][1]), (3, alternative)], 3),          # conflict after skips
            ([(3, alternative)] + list(enumerate(chain["bytes"][3:], 4)), 3),                  # conflict first
            (list(enumerate(chain["bytes"], 1)) + [(BLOCKS, chain["bytes"][0])], BLOCKS),      # block 1 sent as 6
        ]
        for case, height in cases:
            with pytest.raises(LedgerError) as caught:
                book.import_blocks(case)
            assert (caught.value.code, caught.value.height) == (CONFLICTING_BLOCK, height)
            assert snapshot_of(book, workload, blocks) == before
        assert book.record(workload.accounts[0].public_key, b"fork") is None


def test_conflict_at_a_stored_height_with_a_longer_chain(chain, tmp_path):
    """A store on one branch, a file on another: conflict at the fork, the store keeps its branch."""
    workload = chain["workload"]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(list(enumerate(chain["bytes"][:2], 1)))
        builder = book.builder(workload.validators[1])
        builder.transaction(workload.accounts[1], Record(b"branch", b"b"))
        fork = builder.build(chain["blocks"][2].header.time_ms + 1)
        del builder
        book.append(fork)
        before = snapshot_of(book, workload, chain["blocks"])
        with pytest.raises(LedgerError) as caught:
            book.import_chain(chain["path"])
        assert (caught.value.code, caught.value.height) == (CONFLICTING_BLOCK, 3)
        assert snapshot_of(book, workload, chain["blocks"]) == before
        assert book.block(3).hash == fork.hash
        book.validate()


# ---------------------------------------------------------------- queries


def test_tx_block_and_proof_lookups(chain, tmp_path):
    from ledger import verify_proof
    with Ledger.create(tmp_path / "db", chain["workload"].genesis) as book:
        book.import_chain(chain["path"])
        for block, data in zip(chain["blocks"], chain["bytes"]):
            assert book.block_bytes(block.hash) == data
            assert book.block_bytes(block.height) == data
            assert book.block(block.hash).hash == block.hash
            for index, tx in enumerate(block.transactions):
                info = book.tx(tx.txid)
                assert (info.height, info.index) == (block.height, index)
                assert info.transaction == tx and info.transaction.txid == tx.txid
        for block in chain["blocks"][:2]:
            for tx in (block.transactions[0], block.transactions[-1]):
                proof = book.prove(tx.txid)
                assert verify_proof(proof, chain["workload"].genesis.validators, chain["workload"].genesis.chain_id)
                assert not verify_proof(proof, chain["workload"].genesis.validators, bytes(32))
        assert book.tx(b"\x00" * 32) is None
        assert book.block_bytes(b"\x00" * 32) is None
        assert book.block(BLOCKS + 1) is None
        assert book.block_bytes(0) is None
        with pytest.raises(LedgerError) as caught:
            book.prove(b"\x00" * 32)
        assert caught.value.code == NOT_FOUND
        assert book.info()["tx_count"] == BLOCKS * TXS


def _record_model(blocks) -> dict:
    model: dict = {}
    for block in blocks:
        for index, tx in enumerate(block.transactions):
            if isinstance(tx.body, Record):
                model.setdefault((tx.sender, tx.body.key), []).append((block.height, index, tx.body.value))
    return model


def _check_records(book: Ledger, model: dict) -> None:
    for (owner, key), history in model.items():
        info = book.record(owner, key)
        assert info is not None
        assert (info.owner, info.key) == (owner, key)
        assert (info.height, info.index, info.value) == history[-1]
        assert list(info.history) == history


def test_record_history_matches_a_model_of_the_workload(chain, tmp_path):
    with Ledger.create(tmp_path / "db", chain["workload"].genesis) as book:
        book.import_chain(chain["path"])
        model = _record_model(chain["blocks"])
        assert model
        _check_records(book, model)
        owner, key = next(iter(model))
        assert book.record(owner, key + b"x") is None
        assert book.record(owner, key[:-1]) is None
        assert book.record(b"\x00" * 32, key) is None


def test_record_history_with_rewrites(tmp_path):
    """Keys rewritten in later blocks and twice in one block, keys that prefix each other, several owners."""
    workload = Workload.make(SEED + 3, 3)
    alice, bob = workload.accounts[0], workload.accounts[1]
    writes = [
        [(alice, b"k", b"1"), (alice, b"k1", b"a"), (bob, b"k", b"b1")],
        [(alice, b"k", b"2"), (alice, b"k", b"3"), (bob, b"k1", b"")],
        [(alice, b"k1", b"b" * 4096), (bob, b"k", b"b2")],
        [(alice, b"", b"empty key"), (alice, b"k" * 64, b"long key")],
        [(alice, b"k", b"4")],
    ]
    blocks = []
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        for number, batch in enumerate(writes, 1):
            builder = book.builder(workload.validators[number % 4])
            for sender, key, value in batch:
                builder.transaction(sender, Record(key, value))
            block = builder.build(workload.genesis.time_ms + number)
            del builder
            book.append(block)
            blocks.append(block)
            _check_records(book, _record_model(blocks))
        model = _record_model(blocks)
        assert model[(alice.public_key, b"k")] == [(1, 0, b"1"), (2, 0, b"2"), (2, 1, b"3"), (5, 0, b"4")]
        assert model[(bob.public_key, b"k1")] == [(2, 2, b"")]
        book.validate()
    with Ledger.open(tmp_path / "db") as book:
        _check_records(book, model)


# ---------------------------------------------------------------- validate ranges


def test_validate_ranges(chain, tmp_path):
    with Ledger.create(tmp_path / "db", chain["workload"].genesis) as book:
        report = book.validate()
        assert (report.start, report.end, report.blocks, report.transactions) == (1, 0, 0, 0)
        book.import_chain(chain["path"])
        report = book.validate()
        assert (report.start, report.end, report.blocks, report.transactions) == (1, BLOCKS, BLOCKS, BLOCKS * TXS)
        for start, end in [(1, 1), (2, 4), (BLOCKS, BLOCKS), (3, None), (1, BLOCKS + 10)]:
            report = book.validate(start, end)
            last = BLOCKS if end is None else min(end, BLOCKS)
            assert (report.start, report.end) == (start, last)
            assert report.blocks == last - start + 1
            assert report.transactions == report.blocks * TXS
        for start, end in [(0, None), (BLOCKS + 1, None), (4, 2), (-1, 3)]:
            with pytest.raises(LedgerError) as caught:
                book.validate(start, end)
            assert caught.value.code == NOT_FOUND
