"""Property tests of the state rules: random sequences of transfers, mints and records (with wrong
nonces, overdrafts, overflows and non-issuer mints mixed in) applied by ledger.state agree with a
small model written independently here, transaction by transaction."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import errors, limits
from ledger.codec import Mint, Record, Transaction, Transfer
from ledger.errors import LedgerError
from ledger.state import Account, BlockChanges, MemoryState, apply_transactions, state_commitment

KEYS = [bytes([i]) * 32 for i in range(1, 6)]
ISSUERS = frozenset(KEYS[:1])
MAX = limits.AMOUNT_MAX


def model_apply(balances: dict, nonces: dict, records: dict, sender: bytes, nonce: int, body) -> str | None:
    """Returns the error code, or None and updates the model."""
    if nonce != nonces.get(sender, 0) + 1:
        return errors.BAD_NONCE
    if isinstance(body, Transfer):
        if body.amount > balances.get(sender, 0):
            return errors.OVERDRAFT
        if body.to != sender and balances.get(body.to, 0) + body.amount > MAX:
            return errors.OVERFLOW
        balances[sender] = balances.get(sender, 0) - body.amount
        balances[body.to] = balances.get(body.to, 0) + body.amount
    elif isinstance(body, Mint):
        if sender not in ISSUERS:
            return errors.NOT_ISSUER
        if balances.get(body.to, 0) + body.amount > MAX:
            return errors.OVERFLOW
        balances[body.to] = balances.get(body.to, 0) + body.amount
    else:
        records[(sender, body.key)] = body.value
    nonces[sender] = nonce
    return None


amounts = st.one_of(st.integers(0, 1000), st.just(MAX), st.integers(MAX - 1000, MAX))
bodies = st.one_of(
    st.builds(Transfer, st.sampled_from(KEYS), amounts),
    st.builds(Mint, st.sampled_from(KEYS), amounts),
    st.builds(Record, st.binary(max_size=8), st.binary(max_size=16)),
)
operations = st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 3), bodies), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(operations, st.dictionaries(st.sampled_from(KEYS), st.integers(0, MAX), max_size=5))
def test_state_rules_agree_with_the_model(ops, genesis_balances):
    state = MemoryState()
    state.accounts.update({k: Account(v, 0) for k, v in genesis_balances.items()})
    balances, nonces, records = dict(genesis_balances), {}, {}
    for position, (sender, nonce_offset, body) in enumerate(ops):
        nonce = state.account(sender).nonce + nonce_offset   # offset 1 is right, 0/2/3 are wrong
        tx = Transaction(b"c" * 32, sender, nonce, body, bytes(64), position.to_bytes(32, "big"))
        expected = model_apply(balances, nonces, records, sender, nonce, body)
        try:
            changes = apply_transactions(state, ISSUERS, [tx], height=position + 1)
        except LedgerError as error:
            assert error.code == expected and error.index == 0 and error.height == position + 1
            continue
        assert expected is None
        state.apply(changes)
        for key in KEYS:
            assert state.account(key).balance == balances.get(key, 0)
            assert state.account(key).nonce == nonces.get(key, 0)
        assert 0 <= sum(a.balance for a in changes.accounts.values())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 100)), min_size=1, max_size=10))
def test_commitment_depends_on_content_not_on_insertion_order(entries):
    forward = BlockChanges(accounts={k: Account(v, 1) for k, v in entries})
    backward = BlockChanges(accounts={k: forward.accounts[k] for k in reversed(list(forward.accounts))})
    assert state_commitment(b"p" * 32, 1, forward) == state_commitment(b"p" * 32, 1, backward)
    changed = BlockChanges(accounts={**forward.accounts, KEYS[0]: Account(10**6, 9)})
    if changed.accounts != forward.accounts:
        assert state_commitment(b"p" * 32, 1, changed) != state_commitment(b"p" * 32, 1, forward)
    assert state_commitment(b"p" * 32, 1, forward) != state_commitment(b"p" * 32, 2, forward)
    assert state_commitment(b"p" * 32, 1, forward) != state_commitment(b"q" * 32, 1, forward)


def test_records_commit_their_final_value_per_key():
    a = BlockChanges(records=[(KEYS[0], b"k", b"old", 0), (KEYS[0], b"k", b"new", 1)])
    b = BlockChanges(records=[(KEYS[0], b"k", b"new", 0)])
    assert state_commitment(b"p" * 32, 1, a) == state_commitment(b"p" * 32, 1, b)
