"""ledger.node.mempool: every admission rule refuses with its code, the pool is bounded, batches
come out in nonce order per sender, and committed transactions leave the pool."""
from __future__ import annotations

import threading

import pytest

from ledger import Account, Keypair, LedgerError, Transfer, encode_transaction, sign_transaction
from ledger.errors import (
    BAD_CHAIN_ID, BAD_ENCODING, BAD_NONCE, BAD_TX_SIGNATURE, DUPLICATE_TX, MEMPOOL_FULL, NOT_ISSUER, OVERDRAFT,
    RECORD_TOO_LARGE, SMALL_ORDER_KEY,
)
from ledger.node.mempool import Mempool
from node_fixtures import make_chain

# A point of order 1 (the identity, y = 1): anyone can sign for it under ZIP 215.
SMALL_ORDER = bytes([1]) + bytes(31)


@pytest.fixture
def chain(tmp_path):
    chain = make_chain(tmp_path / "db")
    yield chain
    chain.book.close()


def pool(chain, size=100, window=4):
    return Mempool(chain.book, size, window, clock=lambda: 0.0)


def refused(mempool, data, code):
    with pytest.raises(LedgerError) as caught:
        mempool.add(data)
    assert caught.value.code == code, caught.value
    return caught.value


def test_admits_a_valid_transfer(chain):
    mempool = pool(chain)
    tx = mempool.add(chain.transfer(chain.alice, 1, 10))
    assert tx.txid in mempool and len(mempool) == 1 and mempool.size_bytes > 0


def test_strict_decoding(chain):
    mempool = pool(chain)
    data = chain.transfer(chain.alice, 1, 10)
    refused(mempool, data + b"\x00", BAD_ENCODING)
    refused(mempool, data[:-1], BAD_ENCODING)
    refused(mempool, b"", BAD_ENCODING)


def test_chain_id(chain):
    other = encode_transaction(sign_transaction(chain.alice, bytes(32), 1, Transfer(chain.bob.public_key, 1)))
    refused(pool(chain), other, BAD_CHAIN_ID)


def test_record_limits(chain):
    mempool = pool(chain)
    refused(mempool, chain.record(chain.alice, 1, b"k" * 65, b"v"), RECORD_TOO_LARGE)
    refused(mempool, chain.record(chain.alice, 1, b"k", b"v" * 4097), RECORD_TOO_LARGE)
    mempool.add(chain.record(chain.alice, 1, b"k" * 64, b"v" * 4096))


def test_small_order_sender(chain):
    tx = sign_transaction(chain.alice, chain.book.chain_id, 1, Transfer(chain.bob.public_key, 1))
    forged = encode_transaction(type(tx)(tx.chain_id, SMALL_ORDER, 1, tx.body, bytes(64), b""))
    refused(pool(chain), forged, SMALL_ORDER_KEY)


def test_signature(chain):
    data = bytearray(chain.transfer(chain.alice, 1, 10))
    data[-1] ^= 1   # the signature is the last field
    refused(pool(chain), bytes(data), BAD_TX_SIGNATURE)


def test_nonce_window(chain):
    mempool = pool(chain, window=4)
    refused(mempool, chain.transfer(chain.alice, 0, 1), BAD_NONCE)
    refused(mempool, chain.transfer(chain.alice, 5, 1), BAD_NONCE)    # committed 0: window 1..4
    mempool.add(chain.transfer(chain.alice, 4, 1))
    mempool.add(chain.transfer(chain.alice, 1, 1))
    error = refused(mempool, chain.transfer(chain.alice, 1, 2), BAD_NONCE)   # another tx holds nonce 1
    assert "pending" in error.message


def test_balance_counts_pending_spends(chain):
    mempool = pool(chain)
    mempool.add(chain.transfer(chain.alice, 1, 600))
    refused(mempool, chain.transfer(chain.alice, 2, 401), OVERDRAFT)
    mempool.add(chain.transfer(chain.alice, 2, 400))
    refused(mempool, chain.transfer(chain.carol, 1, 1), OVERDRAFT)   # unfunded


def test_mint_only_by_issuer(chain):
    mempool = pool(chain)
    refused(mempool, chain.mint(chain.alice, 1, 5), NOT_ISSUER)
    mempool.add(chain.mint(chain.issuer, 1, 10**12))   # no balance needed


def test_duplicate_in_pool_and_in_chain(chain):
    mempool = pool(chain)
    data = chain.transfer(chain.alice, 1, 10)
    mempool.add(data)
    refused(mempool, data, DUPLICATE_TX)
    builder = chain.book.builder(chain.validator)
    builder.add(mempool.ready(10, 10**6)[0].tx)
    block = chain.book.append(builder.build())
    assert mempool.remove(tx.txid for tx in block.transactions) == 1
    refused(mempool, data, DUPLICATE_TX)


def test_full_pool(chain):
    mempool = pool(chain, size=2)
    mempool.add(chain.transfer(chain.alice, 1, 1))
    mempool.add(chain.transfer(chain.bob, 1, 1))
    error = refused(mempool, chain.transfer(chain.alice, 2, 1), MEMPOOL_FULL)
    assert "2" in error.message
    mempool.remove([mempool.ready(1, 10**6)[0].tx.txid])
    mempool.add(chain.transfer(chain.alice, 2, 1))


def test_ready_orders_by_nonce_and_stops_at_gaps(chain):
    mempool = pool(chain, window=8)
    for nonce in (3, 1, 5):
        mempool.add(chain.transfer(chain.alice, nonce, 1))
    mempool.add(chain.transfer(chain.bob, 1, 1))
    mempool.add(chain.transfer(chain.alice, 2, 1))
    ready = [(entry.tx.sender, entry.tx.nonce) for entry in mempool.ready(100, 10**6)]
    alice, bob = chain.alice.public_key, chain.bob.public_key
    # alice's 1, 2, 3 are consecutive (5 waits for 4). Heads are taken by arrival: her 2 arrived
    # after bob's 1, so bob's 1 goes before it (and her 3, which arrived first, waits behind her 2).
    assert [n for s, n in ready if s == alice] == [1, 2, 3]
    assert (bob, 1) in ready and (alice, 5) not in ready
    assert ready.index((bob, 1)) < ready.index((alice, 2))
    assert len(mempool.ready(2, 10**6)) == 2
    one = len(chain.transfer(chain.alice, 1, 1))
    assert len(mempool.ready(100, one)) == 1   # max_bytes
    assert len(mempool.ready(100, 1)) == 1     # one transaction over max_bytes still goes, alone


def test_max_bytes_keeps_arrival_order(chain):
    mempool = pool(chain)
    mempool.add(chain.record(chain.alice, 1, b"k", b"v" * 1000))   # arrived first, large
    small = mempool.add(chain.transfer(chain.bob, 1, 1))
    big = len(chain.record(chain.alice, 1, b"k", b"v" * 1000))
    # the large one goes first; the small one does not jump ahead of it when it does not fit
    assert [entry.tx.sender for entry in mempool.ready(100, big)] == [chain.alice.public_key]
    assert mempool.ready(100, big + len(chain.transfer(chain.bob, 1, 1)))[1].tx == small


def test_commit_removes_stale_nonces(chain):
    mempool = pool(chain)
    first, second = chain.transfer(chain.alice, 1, 1), chain.transfer(chain.alice, 2, 1)
    mempool.add(first)
    mempool.add(second)
    builder = chain.book.builder(chain.validator)
    for entry in mempool.ready(10, 10**6):
        builder.add(entry.tx)
    block = chain.book.append(builder.build())
    assert mempool.remove([block.transactions[0].txid]) == 1   # nonce 2 is committed too: it goes
    assert len(mempool) == 0 and mempool.size_bytes == 0


def test_threads_never_overfill(chain):
    senders = [Keypair.from_seed(bytes([100 + i]) * 32) for i in range(8)]
    mempool = pool(chain, size=20)
    data = [chain.mint(chain.issuer, n, 1) for n in range(1, 5)]
    data += [chain.record(sender, n, b"k", b"v") for sender in senders for n in range(1, 4)]
    errors = []

    def submit(items):
        for item in items:
            try:
                mempool.add(item)
            except LedgerError as error:
                errors.append(error.code)

    threads = [threading.Thread(target=submit, args=(data[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mempool) == 20 and errors == [MEMPOOL_FULL] * (len(data) - 20)


def test_stale_entries_leave_when_the_pool_is_read(chain):
    committed = {"nonce": 0}
    mempool = Mempool(chain.book, 100, 4, clock=lambda: 0.0,
                      account=lambda key: Account(1_000, committed["nonce"]))
    mempool.add(chain.transfer(chain.alice, 1, 1))
    mempool.add(chain.transfer(chain.alice, 2, 1))
    committed["nonce"] = 1   # another writer committed alice's nonce 1 (say, the same tx via another node)
    assert [entry.tx.nonce for entry in mempool.ready(10, 10**6)] == [2]
    assert len(mempool) == 1


class Parking:
    """An `account` reader (the chain's) that parks the thread named `parked` on its first read,
    until released: the moment ready() or remove() reads committed state."""

    def __init__(self, chain):
        self.book = chain.book
        self.thread = None
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, key):
        if threading.current_thread() is self.thread and not self.release.is_set():
            self.arrived.set()
            assert self.release.wait(30)
        return self.book.account(key)

    def start(self, target):
        self.thread = threading.Thread(target=target)
        self.thread.start()
        assert self.arrived.wait(30), "the reader never read an account"


def completes(action) -> bool:
    """Whether `action`, run in a thread, completes within 10 s (it would wait forever on a held lock)."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(10)
    return not thread.is_alive()


def test_add_is_not_held_up_while_ready_reads_accounts(chain):
    parking = Parking(chain)
    mempool = Mempool(chain.book, 100, 4, clock=lambda: 0.0, account=parking)
    first = mempool.add(chain.transfer(chain.alice, 1, 1))
    gone = mempool.add(chain.transfer(chain.bob, 1, 1))
    result = []
    parking.start(lambda: result.extend(mempool.ready(100, 10**6)))
    try:
        # while ready() is parked in an account read: the pool admits, removes and answers
        later = chain.transfer(chain.alice, 2, 1)
        assert completes(lambda: mempool.add(later))
        assert completes(lambda: mempool.remove([gone.txid]))
        assert completes(lambda: len(mempool))
    finally:
        parking.release.set()
        parking.thread.join(30)
    # the runs are built from the pool as it is after the reads: bob's removed transfer is not in
    # the batch, alice's run takes her nonce 2 admitted meanwhile
    assert [(entry.tx.sender, entry.tx.nonce) for entry in result] == [
        (chain.alice.public_key, 1), (chain.alice.public_key, 2)]
    assert result[0].tx == first and len(mempool) == 2


def test_add_is_not_held_up_while_remove_reads_accounts(chain):
    parking = Parking(chain)
    mempool = Mempool(chain.book, 100, 4, clock=lambda: 0.0, account=parking)
    first = mempool.add(chain.transfer(chain.alice, 1, 1))
    mempool.add(chain.transfer(chain.alice, 2, 1))   # keeps alice in the pool: remove reads her account
    parking.start(lambda: mempool.remove([first.txid]))
    try:
        assert completes(lambda: mempool.add(chain.transfer(chain.bob, 1, 1)))
    finally:
        parking.release.set()
        parking.thread.join(30)
    assert len(mempool) == 2 and first.txid not in mempool


def test_remove_drops_stale_entries_of_a_sender_read_outside_the_lock(chain):
    committed = {"nonce": 0}
    mempool = Mempool(chain.book, 100, 4, clock=lambda: 0.0,
                      account=lambda key: Account(1_000, committed["nonce"]))
    one = mempool.add(chain.transfer(chain.alice, 1, 1))
    mempool.add(chain.transfer(chain.alice, 2, 1))
    mempool.add(chain.transfer(chain.alice, 3, 1))
    committed["nonce"] = 2
    assert mempool.remove([one.txid]) == 1
    assert [entry.tx.nonce for entry in mempool.ready(10, 10**6)] == [3]
    assert len(mempool) == 1 and mempool.size_bytes == len(chain.transfer(chain.alice, 3, 1))


def check_invariants(mempool):
    with mempool._lock:
        in_senders = [entry for pending in mempool._by_sender.values() for entry in pending.values()]
        assert all(mempool._by_sender.values()), "an empty sender entry was left"
        assert all(entry.tx.nonce == nonce and entry.tx.sender == sender
                   for sender, pending in mempool._by_sender.items() for nonce, entry in pending.items())
        assert sorted(id(entry) for entry in in_senders) == sorted(id(entry) for entry in mempool._by_txid.values())
        assert all(mempool._by_txid[entry.tx.txid] is entry for entry in in_senders)
        assert mempool._bytes == sum(len(entry.data) for entry in in_senders)


def test_concurrent_add_remove_ready_keep_the_pool_consistent(chain):
    senders = [Keypair.from_seed(bytes([150 + i]) * 32) for i in range(12)]
    committed = {sender.public_key: 0 for sender in senders}
    mempool = Mempool(chain.book, 100_000, 10**6, clock=lambda: 0.0,
                      account=lambda key: Account(0, committed[key]))
    per_sender = 200
    data = {sender.public_key: [chain.record(sender, n, b"k", b"v") for n in range(1, per_sender + 1)]
            for sender in senders}
    failures, stop = [], threading.Event()

    def guarded(body):
        def run():
            try:
                body()
            except BaseException as error:   # reported by the main thread
                failures.append(error)
                stop.set()
        return threading.Thread(target=run)

    def submit(keys):
        def body():
            for n in range(per_sender):
                for key in keys:
                    try:
                        mempool.add(data[key][n])
                    except LedgerError as error:
                        assert error.code == BAD_NONCE   # committed meanwhile
        return body

    def commit():   # as the proposer: a batch is committed (the nonces move on), then removed
        while not stop.is_set():
            batch = mempool.ready(40, 10**9)
            for entry in batch[::2]:   # half of it, so that stale entries are left to drop
                key = entry.tx.sender
                committed[key] = max(committed[key], entry.tx.nonce)
            mempool.remove(entry.tx.txid for entry in batch[::3])

    def read():
        while not stop.is_set():
            batch = mempool.ready(10_000, 10**9)
            txids = [entry.tx.txid for entry in batch]
            assert len(set(txids)) == len(txids), "an entry came out twice"
            last = {}
            for entry in batch:
                key = entry.tx.sender
                assert entry.tx.nonce == last.get(key, entry.tx.nonce - 1) + 1, "a run out of nonce order"
                last[key] = entry.tx.nonce

    submitters = [guarded(submit([s.public_key for s in senders[i::3]])) for i in range(3)]
    others = [guarded(commit), guarded(read)]
    for thread in submitters + others:
        thread.start()
    for thread in submitters:
        thread.join(120)
    stop.set()
    for thread in others:
        thread.join(120)
    assert not failures, failures
    check_invariants(mempool)
    # quiescent: one read drops every stale entry, and what is left is above the committed nonces
    mempool.ready(10**6, 10**12)
    check_invariants(mempool)
    assert all(entry.tx.nonce > committed[entry.tx.sender] for entry in mempool._by_txid.values())
    assert max(committed.values()) > 0   # the committer did something
