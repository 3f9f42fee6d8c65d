"""ledger.node.proposer: blocks are cut by Fabric's rules (max transactions, max bytes, batch
timeout) on an injected clock, committed through Ledger.append, and invalid transactions dropped."""
from __future__ import annotations

import logging

import pytest

from ledger import Block, decode_transaction
from ledger.errors import OVERFLOW
from ledger.node.config import BlockCutting
from ledger.node.mempool import Mempool
from ledger.node.proposer import Proposer
from node_fixtures import make_chain


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chain(tmp_path):
    chain = make_chain(tmp_path / "db")
    yield chain
    chain.book.close()


def setup(chain, max_transactions=3, max_bytes=10**6, timeout_ms=500):
    clock = Clock()
    mempool = Mempool(chain.book, 1000, 16, clock=clock)
    committed = []
    proposer = Proposer(chain.book, mempool, chain.validator, BlockCutting(max_transactions, max_bytes, timeout_ms),
                        clock=clock, on_commit=lambda block, seconds: committed.append(block))
    return clock, mempool, proposer, committed


def test_nothing_pending_never_cuts(chain):
    clock, _, proposer, _ = setup(chain)
    clock.now += 3600
    assert proposer.step() is None and chain.book.height == 0


def test_cut_at_max_transactions(chain):
    clock, mempool, proposer, committed = setup(chain, max_transactions=3)
    for nonce in (1, 2):
        mempool.add(chain.transfer(chain.alice, nonce, 1))
    assert proposer.step() is None          # 2 of 3, timeout not reached
    mempool.add(chain.transfer(chain.alice, 3, 1))
    mempool.add(chain.transfer(chain.alice, 4, 1))
    block = proposer.step()                 # no time passed: the count cut it
    assert isinstance(block, Block) and [tx.nonce for tx in block.transactions] == [1, 2, 3]
    assert chain.book.height == 1 and len(mempool) == 1 and committed == [block]
    assert chain.book.account(chain.alice.public_key).nonce == 3


def test_cut_at_max_bytes(chain):
    one = len(chain.transfer(chain.alice, 1, 1))
    clock, mempool, proposer, _ = setup(chain, max_transactions=100, max_bytes=2 * one)
    mempool.add(chain.transfer(chain.alice, 1, 1))
    mempool.add(chain.transfer(chain.alice, 2, 1))
    assert proposer.step() is None          # exactly at max_bytes, nothing beyond: wait for the timeout
    mempool.add(chain.transfer(chain.alice, 3, 1))
    block = proposer.step()
    assert len(block.transactions) == 2 and len(mempool) == 1


def test_cut_at_batch_timeout(chain):
    clock, mempool, proposer, _ = setup(chain, max_transactions=100, timeout_ms=500)
    mempool.add(chain.transfer(chain.alice, 1, 1))
    clock.now += 0.499
    assert proposer.step() is None
    clock.now += 0.001
    block = proposer.step()
    assert len(block.transactions) == 1 and len(mempool) == 0
    assert proposer.step() is None


def test_a_gap_is_not_ready(chain):
    clock, mempool, proposer, _ = setup(chain)
    mempool.add(chain.transfer(chain.alice, 2, 1))   # nonce 1 missing
    clock.now += 10
    assert proposer.step() is None and len(mempool) == 1


def test_invalid_transaction_dropped_with_reason(chain, caplog):
    clock, mempool, proposer, _ = setup(chain, max_transactions=10)
    mempool.add(chain.transfer(chain.alice, 1, 900))
    mempool.add(chain.transfer(chain.bob, 1, 5))
    # Spend alice's balance behind the mempool's back (another writer of the store).
    builder = chain.book.builder(chain.validator)
    builder.add(decode_transaction(chain.transfer(chain.alice, 1, 950, to=chain.bob)))
    chain.book.append(builder.build())
    mempool.add(chain.transfer(chain.alice, 2, 50))   # admitted: 50 left, nothing of hers pending at nonce 2
    clock.now += 1
    with caplog.at_level(logging.WARNING, logger="ledger.node.proposer"):
        block = proposer.step()
    # alice's nonce-1 transfer went stale (the chain passed its nonce): it is left out and removed
    assert sorted((tx.sender, tx.nonce) for tx in block.transactions) == sorted(
        [(chain.alice.public_key, 2), (chain.bob.public_key, 1)])
    assert len(mempool) == 0


def test_transaction_refused_at_build_time_is_dropped(chain, caplog):
    clock, mempool, proposer, _ = setup(chain, max_transactions=10)
    mempool.add(chain.mint(chain.issuer, 1, 2**64 - 1))   # carol's balance to the maximum
    mempool.add(chain.transfer(chain.bob, 1, 5))          # to carol: admitted (the pool checks the sender's side)
    clock.now += 1
    with caplog.at_level(logging.WARNING, logger="ledger.node.proposer"):
        block = proposer.step()
    assert [tx.sender for tx in block.transactions] == [chain.issuer.public_key]
    assert [error.code for _, error in proposer.dropped] == [OVERFLOW]
    assert len(mempool) == 0 and "dropped transaction" in caplog.text and OVERFLOW in caplog.text
    assert chain.book.account(chain.bob.public_key).balance == 1000


def test_the_thread_commits_and_stops(chain):
    import time

    mempool = Mempool(chain.book, 1000, 16)
    proposer = Proposer(chain.book, mempool, chain.validator, BlockCutting(100, 10**6, 20))
    proposer.start()
    try:
        mempool.add(chain.transfer(chain.alice, 1, 1))
        deadline = time.monotonic() + 30
        while chain.book.height == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        proposer.stop(timeout=30)
    assert chain.book.height == 1 and len(mempool) == 0
    assert not proposer._thread.is_alive()


def test_the_batch_timeout_runs_from_the_last_cut_for_a_transaction_that_waited_behind_a_gap(chain):
    """Fabric's BatchTimeout starts with a batch, and a batch starts at a cut: a transaction that
    arrived long ago but could not go (its sender's earlier nonce was missing) does not make the
    next block due the moment the gap is filled."""
    clock, mempool, proposer, _ = setup(chain, max_transactions=10, timeout_ms=500)
    mempool.add(chain.transfer(chain.bob, 2, 1))        # waits for bob's nonce 1
    mempool.add(chain.transfer(chain.alice, 1, 1))
    clock.now += 0.5
    first = proposer.step()
    assert [tx.sender for tx in first.transactions] == [chain.alice.public_key]
    clock.now += 0.1
    mempool.add(chain.transfer(chain.bob, 1, 1))        # the gap filled: bob's 2 arrived 0.6 s ago
    assert proposer.step() is None                       # but the batch began at the cut, 0.1 s ago
    clock.now += 0.4
    second = proposer.step()
    assert [tx.nonce for tx in second.transactions] == [1, 2]
