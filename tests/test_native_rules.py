"""Differential tests of the native block rules (ledger/csrc/block_rules.c via ledger.native_rules)
against the readable twin (ledger/state.py + ledger/validate.py): hypothesis-generated blocks over a
random prior state, then whole imports with a tiny account cache, must give the same code, height,
index, message, changes and commitment."""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import Ledger, LedgerError, merkle
from ledger.codec import Block, BlockHeader, Mint, Record, Transaction, Transfer, decode_block, encode_block, \
    encode_unsigned_transaction, make_genesis
from ledger.errors import BAD_STATE_COMMITMENT
from ledger.hashing import transaction_id
from ledger.native_rules import AccountCache, NativeRules, decode_block_compact, unpack_accounts
from ledger import state_tree
from ledger.history_frontier import Frontier
from ledger.state import Account, MemoryState, Tip, apply_transactions, root_after, state_commitment
from ledger.validate import Chain, check_block
from ledger.workload import generate_chain_file

MAX = 2**64 - 1
VALIDATOR = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
KEYS = [bytes([i + 1]) * 32 for i in range(5)]
SMALL_ORDER = bytes([1]) + bytes(31)          # the identity point: small order
POOL = KEYS + [SMALL_ORDER]
GENESIS = make_genesis("native-rules", 1_000, [VALIDATOR], issuers=[KEYS[0]],
                       balances={KEYS[0]: MAX, KEYS[1]: MAX - 5, KEYS[2]: 10},
                       version=1)   # version 1's commitment chain: the state roots of version 2 are not here yet
CHAIN = Chain.from_genesis(GENESIS)
TIP = Tip(5, b"\x07" * 32, 5_000, b"\x09" * 32)

amounts = st.one_of(st.integers(0, 20), st.integers(MAX - 20, MAX), st.integers(0, MAX))
transaction_plans = st.fixed_dictionaries({
    "sender": st.sampled_from([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 1, 2, 3, 5]),
    "nonce": st.sampled_from([None] * 12 + [0, 1, 2, 3, MAX]),       # None: the next nonce
    "kind": st.integers(0, 2),
    "to": st.integers(0, len(POOL) - 1),
    "amount": st.one_of(st.integers(0, 3), amounts),
    "key": st.sampled_from([0, 3, 3, 3, 64, 64, 64, 65]),
    "value": st.sampled_from([0, 5, 5, 5, 4096, 4096, 4097]),
    "foreign": st.integers(0, 30).map(lambda n: n == 17),
    "copy": st.integers(0, 12).map(lambda n: n == 7),                     # repeat an earlier transaction
    "stored": st.integers(0, 8).map(lambda n: n == 5),                    # its id is already in the chain
    "verdict": st.integers(0, 15).map(lambda n: n != 9),
})
prior_states = st.dictionaries(st.integers(0, len(POOL) - 1),
                               st.tuples(amounts, st.one_of(st.integers(0, 3), st.just(MAX))), max_size=4)


def _transactions(plans, state: MemoryState, chain: Chain = CHAIN) -> tuple[list[Transaction], set[bytes]]:
    nonces: dict[bytes, int] = {}
    txs: list[Transaction] = []
    stored: set[bytes] = set()
    for plan in plans:
        if plan["copy"] and txs:
            txs.append(txs[len(txs) // 2])
            continue
        sender = POOL[plan["sender"]]
        expected = nonces.get(sender, state.account(sender).nonce) + 1
        nonce = min(expected, MAX) if plan["nonce"] is None else plan["nonce"]
        nonces[sender] = nonce
        if plan["kind"] == 2:
            body = Record(b"k" * plan["key"], b"v" * plan["value"])
        else:
            body = (Transfer if plan["kind"] == 0 else Mint)(POOL[plan["to"]], plan["amount"])
        chain_id = b"\x55" * 32 if plan["foreign"] else chain.chain_id
        txid = transaction_id(encode_unsigned_transaction(chain_id, sender, nonce, body))
        txs.append(Transaction(chain_id, sender, nonce, body, b"\x11" * 64, txid))
        if plan["stored"]:
            stored.add(txid)
    return txs, stored


def _block(txs: list[Transaction], commitment: bytes) -> bytes:
    root = merkle.root([tx.txid for tx in txs])
    header = BlockHeader(1, CHAIN.chain_id, TIP.height + 1, TIP.hash, 6_000, len(txs), root, commitment, VALIDATOR,
                         b"\x22" * 64)
    return encode_block(Block(header, tuple(txs)))


def _outcome_twin(state: MemoryState, data: bytes, verdicts):
    try:
        changes, tip = check_block(CHAIN, TIP, state, decode_block(data), verdicts)
    except LedgerError as error:
        return ("error", error.code, error.height, error.index, error.message)
    return ("ok", tip, sorted(changes.accounts.items()), changes.records, changes.txids)


def _outcome_native(state: MemoryState, data: bytes, verdicts, cache: AccountCache | None = None):
    compact, _records, root = decode_block_compact(data)
    rules = NativeRules(CHAIN, cache if cache is not None else AccountCache())

    def read_accounts(keys):
        return [(key, state.accounts[key].balance, state.accounts[key].nonce) for key in keys if key in state.accounts]
    try:
        changes, tip = rules.check(TIP, compact, verdicts, root, read_accounts, state.has_transaction)
    except LedgerError as error:
        return ("error", error.code, error.height, error.index, error.message)
    return ("ok", tip, unpack_accounts(changes.accounts_packed), changes.records, changes.txids)


def _verdicts(txs, plans, header_ok: bool) -> list:
    verdicts = [header_ok] + [plan["verdict"] for plan in plans[:len(txs)]]
    if False in verdicts:     # as signatures.verdicts_until_first_bad gives them
        first = verdicts.index(False)
        verdicts = verdicts[:first + 1] + [None] * (len(verdicts) - first - 1)
    return verdicts


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prior=prior_states, plans=st.lists(transaction_plans, min_size=0, max_size=10),
       header_ok=st.integers(0, 20).map(lambda n: n != 13), right_commitment=st.booleans())
def test_native_rules_agree_with_the_twin(prior, plans, header_ok, right_commitment):
    state = MemoryState(GENESIS)
    for index, (balance, nonce) in prior.items():
        state.accounts[POOL[index]] = Account(balance, nonce)
    txs, stored = _transactions(plans, state)
    state.txids.update(stored)
    commitment = b"\x00" * 32
    if right_commitment:
        try:
            changes = apply_transactions(state, CHAIN.issuers, txs, TIP.height + 1)
            commitment = state_commitment(TIP.state_commitment, TIP.height + 1, changes)
        except LedgerError:
            pass
    data = _block(txs, commitment)
    verdicts = _verdicts(txs, plans, header_ok)
    twin = _outcome_twin(state, data, verdicts)
    native = _outcome_native(state, data, verdicts)
    assert native == twin


# ---------------------------------------------------------------- version 2: the state tree

GENESIS_V2 = make_genesis("native-rules", 1_000, [VALIDATOR], issuers=[KEYS[0]],
                          balances={KEYS[0]: MAX, KEYS[1]: MAX - 5, KEYS[2]: 10}, version=2)
CHAIN_V2 = Chain.from_genesis(GENESIS_V2)
TIP_V2 = Tip(5, b"\x07" * 32, 5_000, b"\x09" * 32,
             Frontier.empty().append(b"\x01" * 32).append(b"\x02" * 32).append(b"\x03" * 32))


def _tree_of(state: MemoryState):
    """A native tree holding every account of `state` (the prior state, in version 2's map)."""
    tree = state_tree.new_tree()
    state_tree.update_packed(tree, *state_tree.account_hashes(
        b"".join(key + a.balance.to_bytes(8, "big") + a.nonce.to_bytes(8, "big") for key, a in state.accounts.items())))
    return tree


def _block_v2(txs: list[Transaction], state_root: bytes) -> bytes:
    root = merkle.root([tx.txid for tx in txs])
    header = BlockHeader(2, CHAIN_V2.chain_id, TIP_V2.height + 1, TIP_V2.hash, 6_000, len(txs), root, state_root,
                         VALIDATOR, b"\x22" * 64, history_root=TIP_V2.history.root())
    return encode_block(Block(header, tuple(txs)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prior=prior_states, plans=st.lists(transaction_plans, min_size=0, max_size=10),
       header_ok=st.integers(0, 20).map(lambda n: n != 13), right_root=st.booleans())
def test_native_rules_agree_with_the_twin_on_version_2(prior, plans, header_ok, right_root):
    """The same verdict, changes and tip (state root, history); the twin leaves its tree as it was,
    the native rules move theirs to the new root when they accept and leave it when they refuse."""
    state = MemoryState(GENESIS_V2)
    for index, (balance, nonce) in prior.items():
        state.accounts[POOL[index]] = Account(balance, nonce)
    txs, stored = _transactions(plans, state, CHAIN_V2)
    state.txids.update(stored)
    twin_tree, native_tree = _tree_of(state), _tree_of(state)
    before = twin_tree.root()
    state_root = b"\x00" * 32
    if right_root:
        try:
            state_root = root_after(twin_tree, apply_transactions(state, CHAIN_V2.issuers, txs, TIP_V2.height + 1))
        except LedgerError:
            pass
    data = _block_v2(txs, state_root)
    verdicts = _verdicts(txs, plans, header_ok)
    try:
        changes, tip = check_block(CHAIN_V2, TIP_V2, state, decode_block(data, 2), verdicts, tree=twin_tree)
        twin = ("ok", tip, sorted(changes.accounts.items()), changes.records, changes.txids)
    except LedgerError as error:
        twin = ("error", error.code, error.height, error.index, error.message)
    assert twin_tree.root() == before
    compact, _records, root = decode_block_compact(data, 2)
    rules = NativeRules(CHAIN_V2, AccountCache(), native_tree)

    def read_accounts(keys):
        return [(key, state.accounts[key].balance, state.accounts[key].nonce) for key in keys if key in state.accounts]
    try:
        changes, tip = rules.check(TIP_V2, compact, verdicts, root, read_accounts, state.has_transaction)
        native = ("ok", tip, unpack_accounts(changes.accounts_packed), changes.records, changes.txids)
    except LedgerError as error:
        native = ("error", error.code, error.height, error.index, error.message)
    assert native == twin
    if native[0] == "ok":
        assert native_tree.root() == native[1].state_commitment == state_root
        assert native[1].history == TIP_V2.history.append(compact.hash)
        assert [rules.cache.get(key) for key, _ in native[2]] == [(a.balance, a.nonce) for _, a in native[2]]
    else:
        assert native_tree.root() == before
        assert all(rules.cache.get(key) in (None, (a.balance, a.nonce)) for key, a in state.accounts.items())


def test_verdicts_not_given_are_computed_from_the_block():
    """The pipeline leaves verdicts undecided after a bad signature: check verifies them itself."""
    state = MemoryState(GENESIS)
    txs, _stored = _transactions([dict(sender=1, nonce=None, kind=0, to=3, amount=1, key=0, value=0,
                                       foreign=False, copy=False, stored=False, verdict=True)], state)
    data = _block(txs, bytes(32))
    compact, _records, root = decode_block_compact(data)
    with pytest.raises(LedgerError) as caught:   # the signatures here are not valid ones
        NativeRules(CHAIN, AccountCache()).check(TIP, compact, None, root, None, state.has_transaction)
    assert caught.value.code == "bad-block-signature"


def test_a_rejected_block_leaves_the_cache_as_it_was():
    state = MemoryState(GENESIS)
    cache = AccountCache()
    good = [Transaction(CHAIN.chain_id, KEYS[1], 1, Transfer(KEYS[3], 7), b"\x11" * 64)]
    bad = good + [Transaction(CHAIN.chain_id, KEYS[2], 1, Transfer(KEYS[3], 11), b"\x11" * 64)]   # overdraft
    for tx in bad:
        tx.txid = transaction_id(encode_unsigned_transaction(tx.chain_id, tx.sender, tx.nonce, tx.body))
    outcome = _outcome_native(state, _block(bad, bytes(32)), [True] * 3, cache)
    assert outcome[1] == "overdraft"
    assert cache.get(KEYS[1]) == (MAX - 5, 0) and cache.get(KEYS[3]) == (0, 0)
    changes = apply_transactions(state, CHAIN.issuers, good, TIP.height + 1)
    data = _block(good, state_commitment(TIP.state_commitment, TIP.height + 1, changes))
    assert _outcome_native(state, data, [True] * 2, cache)[0] == "ok"
    assert cache.get(KEYS[1]) == (MAX - 12, 1) and cache.get(KEYS[3]) == (7, 0)
    assert cache.take_dirty() == b"".join(k + (b).to_bytes(8, "big") + n.to_bytes(8, "big")
                                          for k, b, n in sorted([(KEYS[1], MAX - 12, 1), (KEYS[3], 7, 0)]))


def test_eviction_keeps_uncommitted_entries_and_the_bound():
    cache = AccountCache(8)
    for i in range(8):
        cache.put(i.to_bytes(32, "big"), i, 0)
    cache.evict(0)
    assert len(cache) == 8           # within the bound: nothing goes
    for i in range(8, 20):
        cache.put(i.to_bytes(32, "big"), i, 0)
    cache.evict(0)
    assert len(cache) == 6           # over it: down to 3/4 of the bound
    assert sum(cache.get(i.to_bytes(32, "big")) is not None for i in range(20)) == 6


def test_keys_sharing_their_first_bytes_all_stay_findable():
    # Recipient keys are chosen by senders: 20,000 of them alike in their first 8 bytes (once the
    # whole hash of the account cache, hence one probing cluster) must still each be found, through
    # the table's growth and an eviction's rebuild.
    prefix = b"\xab" * 8
    keys = [prefix + i.to_bytes(24, "big") for i in range(20_000)]
    cache = AccountCache(15_000)
    for i, key in enumerate(keys):
        cache.put(key, i, i + 1)
    assert len(cache) == 20_000
    assert all(cache.get(key) == (i, i + 1) for i, key in enumerate(keys))
    assert cache.get(prefix + (20_000).to_bytes(24, "big")) is None
    assert cache.packed() == b"".join(k + i.to_bytes(8, "big") + (i + 1).to_bytes(8, "big")
                                      for i, k in enumerate(keys))
    cache.evict(0)                   # over the bound: rebuilt with 3/4 of it
    kept = [(i, key) for i, key in enumerate(keys) if cache.get(key) is not None]
    assert len(kept) == len(cache) == 15_000 - 15_000 // 4
    assert all(cache.get(key) == (i, i + 1) for i, key in kept)


def test_fill_refuses_keys_not_32_bytes():
    cache = AccountCache()
    cache.put(bytes(32), 1, 2)
    for key in (bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            cache.fill([(key, 3, 4)])
    assert cache.get(bytes(32)) == (1, 2)


# ---------------------------------------------------------------- whole imports, both paths


def _import(path, chain_file, genesis, rules: str, monkeypatch, cache_entries: int | None = None):
    monkeypatch.setenv("LEDGER_RULES", rules)
    with Ledger.create(path, genesis) as book:
        if cache_entries is not None:
            book.account_cache_entries = cache_entries
        error = None
        try:
            book.import_chain(chain_file, threads=1)
        except LedgerError as caught:
            error = (caught.code, caught.height, caught.index, caught.message)
        with book._store.snapshot() as snap:
            accounts = [(key, snap.account(key)) for key in snap._txn.cursor(db=snap._dbs[b"accounts"]).iternext(values=False)]
        report = book.validate(threads=1) if error is None else None
        return error, book.tip, accounts, report


@pytest.fixture(scope="module")
def small_chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("native-chain")
    workload = generate_chain_file(folder / "c.ledger", 24, 60, 40, seed=11)
    return folder / "c.ledger", workload.genesis


def test_import_with_a_tiny_cache_matches_the_twin(small_chain, tmp_path, monkeypatch):
    chain_file, genesis = small_chain
    twin = _import(tmp_path / "twin", chain_file, genesis, "python", monkeypatch)
    native = _import(tmp_path / "native", chain_file, genesis, "native", monkeypatch, cache_entries=5)
    assert twin[0] is None and twin[1].height == 24
    assert native == twin


def test_import_of_a_tampered_chain_fails_alike(small_chain, tmp_path, monkeypatch):
    chain_file, genesis = small_chain
    data = bytearray(chain_file.read_bytes())
    data[-200] ^= 0x01        # inside the last block's last transactions: its signature or fields
    tampered = tmp_path / "t.ledger"
    tampered.write_bytes(bytes(data))
    twin = _import(tmp_path / "twin", tampered, genesis, "python", monkeypatch)
    native = _import(tmp_path / "native", tampered, genesis, "native", monkeypatch, cache_entries=5)
    assert twin[0] is not None and twin[1].height == 23
    assert native == twin


@pytest.mark.parametrize("rules", ["native", "python"])
def test_replay_of_a_transaction_not_yet_durable_is_a_duplicate(tmp_path, monkeypatch, rules):
    """Block 2 repeats block 1's transaction, and both are imported in one call (one commit group):
    the id is found among the blocks accepted but not yet committed."""
    from test_rules import ALICE, BOB, GENESIS as RULES_GENESIS, craft, tx
    with Ledger.create(tmp_path / "source", RULES_GENESIS) as source:
        first = tx(ALICE, 1, Transfer(BOB.public_key, 1))
        block1 = encode_block(craft(source, [first]))
        source.append(block1)
        block2 = encode_block(craft(source, [first]))
    monkeypatch.setenv("LEDGER_RULES", rules)
    with Ledger.create(tmp_path / "db", RULES_GENESIS) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_blocks([(1, block1), (2, block2)], threads=1)
        error = caught.value
        assert (error.code, error.height, error.index) == ("duplicate-tx", 2, 0), str(error)
        assert error.message == "the transaction id is already in the chain"
        assert book.height == 1


def test_record_writes_refuses_an_index_past_the_block():
    """CompactBlock.record_writes reads the transaction views by index: one past the block (or any
    index of an empty CompactBlock) is an IndexError, not a read past the array."""
    from ledger._core import CompactBlock
    with pytest.raises(IndexError):
        CompactBlock().record_writes([0])
