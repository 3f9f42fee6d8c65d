"""State edges that mutation testing (make mutate, ledger/state.py) showed no test pinned:
nonces past the small-integer cache, a memory state's default of remembering ids, and a layered
state whose every layer became durable at once."""
from __future__ import annotations

from ledger.builder import sign_transaction
from ledger.codec import Transfer, make_genesis
from ledger.keys import Keypair
from ledger.state import Account, BlockChanges, LayeredState, MemoryState, apply_transactions

ALICE = Keypair.from_seed(b"e" * 32)
BOB = Keypair.from_seed(b"f" * 32)
GENESIS = make_genesis("edges", 1_000, [BOB.public_key], [], {ALICE.public_key: 10**6})


def test_nonces_are_compared_by_value_past_256():
    """Python caches small ints; an identity comparison would pass below 257 and fail above."""
    state = MemoryState(GENESIS)
    for nonce in (256, 257, 1_000, 2**40, 2**64 - 1):
        state.accounts[ALICE.public_key] = Account(10**6, nonce - 1)
        tx = sign_transaction(ALICE, GENESIS.chain_id, nonce, Transfer(BOB.public_key, 1))
        changes = apply_transactions(state, frozenset(), [tx], 1)
        assert changes.accounts[ALICE.public_key] == Account(10**6 - 1, nonce)


def test_a_memory_state_remembers_ids_unless_told_not_to():
    txid = bytes(range(32))
    remembering, forgetting = MemoryState(GENESIS), MemoryState(GENESIS, track_transactions=False)
    for state in (remembering, forgetting):
        state.apply(BlockChanges(txids=[txid]))
    assert remembering.has_transaction(txid)
    assert not forgetting.has_transaction(txid)


def test_rebase_over_every_layer_leaves_one_empty_layer():
    base = MemoryState(GENESIS)
    state = LayeredState(base)
    state.apply(BlockChanges(accounts={BOB.public_key: Account(5, 0)}, txids=[b"\x01" * 32]))
    state.push()
    state.apply(BlockChanges(txids=[b"\x02" * 32]))
    committed = MemoryState(GENESIS)
    committed.apply(BlockChanges(accounts={BOB.public_key: Account(5, 0)}, txids=[b"\x01" * 32, b"\x02" * 32]))
    state.rebase(committed, committed_layers=2)
    assert len(state.layers) == 1 and state.layers[0] == ({}, set())
    state.apply(BlockChanges(accounts={ALICE.public_key: Account(1, 1)}, txids=[b"\x03" * 32]))
    assert state.account(ALICE.public_key) == Account(1, 1) and state.account(BOB.public_key) == Account(5, 0)
    assert all(state.has_transaction(bytes([i]) * 32) for i in (1, 2, 3))

