"""Crash tests: an import in a child process is killed with SIGKILL at several points; the store
must reopen, validate, hold at least every height the child reported as durably committed, and a
resumed import must finish with an export byte-identical to the original chain file. The txid
index is built by a background indexer behind the commits; kills also land while it lags (held, or
writing small runs and merging them), and after reopening every txid of every stored block must
answer with its location (read-only: from the index and a scan above its marker; a writing open
then catches the index up) and its proof must verify."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import Ledger
from ledger.chainfile import ChainReader
from ledger.codec import decode_block, encode_genesis
from ledger.proofs import verify_proof
from ledger.workload import generate_chain_file

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ROOT = Path(__file__).resolve().parent.parent
SEED = 31337
BLOCKS = 60
TXS = 40
ACCOUNTS = 30

# The child imports with small commit groups so there are many commit points to be killed between.
# Its txid indexer either writes small runs and merges them often ("runs") or is held ("lag").
CHILD = r"""
import sys
import ledger.importer as importer
from ledger import Ledger, txindex
db, chain, group, index = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
importer.COMMIT_GROUP_BLOCKS_MAX = group
txindex.BATCH_IDS_MAX, txindex.RUNS_MAX, txindex.MERGE_IDS_MAX = 60, 3, 400
txindex.DELETE_IDS_PER_TXN, txindex.MERGE_IDS_PER_TXN = 50, 45
with Ledger.open(db) as book:
    if index == "lag":
        book._store.indexer.hold()
    print("ready", book.height, flush=True)
    book.import_chain(chain, progress=lambda p: print("committed", p.height, flush=True))
    print("done", book.height, flush=True)
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    path = root / "chain.ledger"
    workload = generate_chain_file(path, BLOCKS, TXS, ACCOUNTS, SEED)
    with open(path, "rb") as stream:
        blocks = [decode_block(data) for _height, data in ChainReader(stream).blocks()]
    return {"path": path, "data": path.read_bytes(), "genesis": encode_genesis(workload.genesis),
            "blocks": blocks, "validators": [v.public_key for v in workload.validators],
            "chain_id": workload.genesis.chain_id}


def start_child(db: Path, chain_path: Path, group: int, index: str = "runs") -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(chain_path), str(group), index],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def read_line(child: subprocess.Popen) -> list[str]:
    line = child.stdout.readline()
    if not line:
        child.wait(10)
        raise AssertionError(f"the child ended early (rc {child.returncode}): {child.stderr.read()}")
    return line.split()


def run_and_kill(db: Path, chain_path: Path, group: int, after_lines: int | None, delay: float | None,
                 index: str = "runs") -> int:
    """Run the child; kill it after reading `after_lines` progress lines or `delay` seconds after it is
    ready. Returns the last height it reported as committed (0 if none)."""
    child = start_child(db, chain_path, group, index)
    committed = 0
    try:
        kind, height = read_line(child)
        assert kind == "ready"
        committed = int(height)
        if delay is not None:
            time.sleep(delay)
        else:
            for _ in range(after_lines):
                kind, height = read_line(child)
                if kind == "done":
                    break
                assert kind == "committed"
                committed = int(height)
        child.send_signal(signal.SIGKILL)
        rest, _err = child.communicate(timeout=10)
        # Lines written before the kill are commits too (progress comes after the durable commit).
        for line in rest.splitlines():
            parts = line.split()
            if len(parts) != 2:
                continue                       # a line cut by the kill
            kind, height = parts
            if kind == "committed":
                committed = max(committed, int(height))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    return committed


def check_txids(book: Ledger, chain) -> None:
    """Every txid of a stored block answers with its location (one proof per block is verified);
    every txid of a block not stored answers nothing."""
    height = book.height
    for block in chain["blocks"]:
        for index, tx in enumerate(block.transactions):
            info = book.tx(tx.txid)
            if block.height > height:
                assert info is None, f"a txid of unstored block {block.height} answers {info}"
                continue
            assert info is not None and (info.height, info.index) == (block.height, index), (block.height, index)
        if block.height <= height:
            proof = book.prove(block.transactions[block.height % len(block.transactions)].txid)
            assert verify_proof(proof, chain["validators"], chain["chain_id"])


def check_after_crash(db: Path, chain, committed: int) -> int:
    with Ledger.open(db, chain["genesis"], read_only=True) as book:   # as the kill left it: nothing written
        with book._store.snapshot() as snap:
            marker = snap.txindex_state().height
        assert marker <= book.height
        check_txids(book, chain)
    with Ledger.open(db, chain["genesis"]) as book:
        height = book.height
        assert height >= committed, f"the store lost committed blocks: {height} < {committed}"
        report = book.validate()
        assert report.end == height
    with Ledger.open(db, chain["genesis"], read_only=True) as book:   # the writing open caught the index up
        with book._store.snapshot() as snap:
            state = snap.txindex_state()
            assert state.height == height
            # Resumed from its marker: each stored id indexed once, none of an unstored block.
            assert sum(count for _run, count in state.runs) == snap.tx_count() == height * TXS
        check_txids(book, chain)
    return height


def finish_and_compare(db: Path, chain, out: Path) -> None:
    with Ledger.open(db, chain["genesis"]) as book:
        before = book.height
        result = book.import_chain(chain["path"])
        assert result.skipped_blocks == before and result.imported_blocks == BLOCKS - before
        book.validate()
        book.export_chain(out)
    assert out.read_bytes() == chain["data"]
    with Ledger.open(db, chain["genesis"], read_only=True) as book:
        check_txids(book, chain)


def fresh_store(path: Path, chain) -> Path:
    # The store is created before the child starts; the crash window is the import.
    Ledger.create(path, chain["genesis"]).close()
    return path


@pytest.mark.parametrize("group, after_lines, delay, index", [
    (1, 0, None, "runs"),       # killed right after it reported ready
    (1, 1, None, "runs"),       # after the first commit was reported
    (1, 7, None, "runs"),
    (3, 4, None, "runs"),
    (2, 15, None, "runs"),
    (5, None, 0.05, "runs"),    # after short delays
    (1, None, 0.2, "runs"),
    (1, 9, None, "lag"),        # the indexer held: the index stays behind every commit
    (4, None, 0.1, "lag"),
])
def test_sigkill_during_import(chain, tmp_path, group, after_lines, delay, index):
    db = fresh_store(tmp_path / "db", chain)
    committed = run_and_kill(db, chain["path"], group, after_lines, delay, index)
    check_after_crash(db, chain, committed)
    finish_and_compare(db, chain, tmp_path / "export.ledger")


def test_repeated_kills_then_resume(chain, tmp_path):
    """The same store is killed again and again at random points, each child resuming the last."""
    rng = random.Random(SEED)
    db = fresh_store(tmp_path / "db", chain)
    heights = []
    for round_number in range(6):
        group = rng.choice([1, 2, 4])
        if round_number % 2:
            committed = run_and_kill(db, chain["path"], group, None, rng.uniform(0.0, 0.25),
                                     rng.choice(["runs", "lag"]))
        else:
            committed = run_and_kill(db, chain["path"], group, rng.randrange(1, 6), None, rng.choice(["runs", "lag"]))
        height = check_after_crash(db, chain, committed)
        assert not heights or height >= heights[-1], "a reopened store never goes back"
        heights.append(height)
    finish_and_compare(db, chain, tmp_path / "export.ledger")
