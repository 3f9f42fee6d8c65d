"""Version-2 chains end to end: the state root and history root of every header (docs/FORMAT.md §6,
§7.2, §7.3, §8 header rule bad-history-root and step 5 bad-state-root), through every path that
validates (append, the import pipeline, validate's replay; native rules and LEDGER_RULES=python),
the stored tip's history frontier, and the state tree the store derives from its tables.

Oracles: the readable twin of the tree (ledger.state_tree.StateTree) fed from the definitions of
§7.2, and the RFC 9162 root of ledger.merkle over the chain id and the block hashes (§7.3).
"""
from __future__ import annotations

import dataclasses
import filecmp

import pytest

from ledger import Ledger, LedgerError, merkle, state_tree
from ledger.builder import sign_header
from ledger.codec import Block, Transfer, decode_block, encode_block, make_genesis
from ledger.errors import (
    BAD_HISTORY_ROOT, BAD_PREVIOUS_HASH, BAD_STATE_ROOT, BAD_TIME, DISK_FULL, EnvironmentFault,
)
from ledger.keys import Keypair
from ledger.state import MemoryState
from ledger.storage import Store
from ledger.validate import Chain, check_block
from ledger.workload import generate_chain_file

SEED = 11
ACCOUNTS = 12
BLOCKS = 8
TXS = 40

RULES = ["native", "python"]


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """A chain file of each version from the same seed."""
    root = tmp_path_factory.mktemp("v2")
    out = {}
    for version in (1, 2):
        path = root / f"v{version}.ledger"
        workload = generate_chain_file(path, BLOCKS, TXS, ACCOUNTS, SEED, version=version)
        out[version] = (path, workload, list(workload.blocks(BLOCKS, TXS)))
    return out


def twin_root(balances: dict[bytes, tuple[int, int]], records: dict[tuple[bytes, bytes], bytes]) -> bytes:
    """The state root by §7.2's definitions, on the readable twin."""
    tree = state_tree.StateTree()
    tree.update([(state_tree.account_key_hash(k), state_tree.account_value_hash(*v)) for k, v in balances.items()])
    tree.update([(state_tree.record_key_hash(o, k), state_tree.record_value_hash(v)) for (o, k), v in records.items()])
    return tree.root()


def resign(block: Block, proposer: Keypair, **changes) -> bytes:
    """`block` with header fields changed and signed again by a validator, so that only the changed
    field's rule can fail."""
    h = block.header
    fields = dict(chain_id=h.chain_id, height=h.height, previous_hash=h.previous_hash, time_ms=h.time_ms,
                  tx_count=h.tx_count, tx_root=h.tx_root, commitment=h.state_commitment, history_root=h.history_root)
    fields.update(changes)
    history_root = fields.pop("history_root")
    header = sign_header(proposer, **fields, version=h.version, history_root=history_root)
    return encode_block(Block(header, block.transactions))


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("version", [1, 2])
def test_gen_import_validate_export_is_byte_identical(chains, tmp_path, monkeypatch, version, rules):
    monkeypatch.setenv("LEDGER_RULES", rules)
    path, workload, blocks = chains[version]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        assert book.import_chain(path).height == BLOCKS
        assert book.validate().blocks == BLOCKS
        assert book.validate(start=BLOCKS - 2).blocks == 3   # the blocks before are replayed into the tree
        book.export_chain(tmp_path / "out.ledger")
        tip = book.tip
    assert filecmp.cmp(path, tmp_path / "out.ledger", shallow=False)
    assert tip.hash == blocks[-1].hash and tip.state_commitment == blocks[-1].header.state_commitment
    assert (tip.history is None) == (version == 1)


def test_headers_carry_the_roots_the_definitions_give(chains):
    """Each header's history root is the RFC 9162 root of (chain id, hashes of blocks 1 .. h-1), and
    its state root the twin's root over every account and the latest value of every record."""
    _path, workload, blocks = chains[2]
    genesis = workload.genesis
    balances = {key: (amount, 0) for key, amount in genesis.balances}
    records: dict[tuple[bytes, bytes], bytes] = {}
    state = MemoryState(genesis)
    leaves = [genesis.chain_id]
    for block in blocks:
        header = block.header
        assert header.version == 2
        assert header.history_root == merkle.root(leaves)
        for tx in block.transactions:   # every block of the workload is valid: apply naively
            sender = state.account(tx.sender)
            if isinstance(tx.body, Transfer):
                to = state.account(tx.body.to) if tx.body.to != tx.sender else None   # to oneself: no move
                moved = tx.body.amount if to is not None else 0
                state.accounts[tx.sender] = dataclasses.replace(sender, balance=sender.balance - moved, nonce=tx.nonce)
                if to is not None:
                    state.accounts[tx.body.to] = dataclasses.replace(to, balance=to.balance + tx.body.amount)
            elif tx.kind == 1:
                state.accounts[tx.sender] = dataclasses.replace(sender, nonce=tx.nonce)
                to = state.account(tx.body.to)
                state.accounts[tx.body.to] = dataclasses.replace(to, balance=to.balance + tx.body.amount)
            else:
                state.accounts[tx.sender] = dataclasses.replace(sender, nonce=tx.nonce)
                records[(tx.sender, tx.body.key)] = tx.body.value
        for key, account in state.accounts.items():
            balances[key] = (account.balance, account.nonce)
        assert header.state_root == twin_root(balances, records)
        leaves.append(block.hash)


def test_the_genesis_tip_counts_zero_balances_and_starts_the_history_with_the_chain_id():
    validator = Keypair.from_seed(b"v" * 32)
    a, b = bytes([1]) * 32, bytes([2]) * 32
    genesis = make_genesis("zero", 0, [validator.public_key], balances={a: 0, b: 7})
    tip = Chain.from_genesis(genesis).genesis_tip()
    assert tip.state_commitment == twin_root({a: (0, 0), b: (7, 0)}, {})
    assert tip.state_commitment != twin_root({b: (7, 0)}, {})
    assert tip.history.size == 1 and tip.history.root() == merkle.root([genesis.chain_id])
    empty = make_genesis("empty", 0, [validator.public_key])
    assert Chain.from_genesis(empty).genesis_tip().state_commitment == state_tree.EMPTY


def _tampered(blocks, height: int, field: str, proposer: Keypair) -> bytes:
    block = blocks[height - 1]
    if field == "history_root":
        return resign(block, proposer, history_root=bytes(32))
    if field == "history_root above":   # a wrong root above the right one too (`!=`, not `<`)
        return resign(block, proposer, history_root=b"\xff" * 32)
    if field == "state_root above":
        return resign(block, proposer, commitment=b"\xff" * 32)
    if field == "state_root":
        wrong = bytes([block.header.state_root[0] ^ 1]) + block.header.state_root[1:]
        return resign(block, proposer, commitment=wrong)
    if field == "history_root+previous":   # bad-previous-hash comes first
        return resign(block, proposer, history_root=bytes(32), previous_hash=bytes(32))
    if field == "history_root+time":        # bad-history-root comes before bad-time
        return resign(block, proposer, history_root=bytes(32), time_ms=0)
    if field == "state_root+history_root":
        wrong = bytes([block.header.state_root[0] ^ 1]) + block.header.state_root[1:]
        return resign(block, proposer, commitment=wrong, history_root=bytes(32))
    raise AssertionError(field)


EXPECTED = {
    "history_root": (BAD_HISTORY_ROOT, "the history root does not match the tree of the earlier block hashes"),
    "history_root above": (BAD_HISTORY_ROOT, "the history root does not match the tree of the earlier block hashes"),
    "state_root above": (BAD_STATE_ROOT, "the state root does not match the state after the block's changes"),
    "state_root": (BAD_STATE_ROOT, "the state root does not match the state after the block's changes"),
    "history_root+previous": (BAD_PREVIOUS_HASH, "the block does not link to the hash of the previous block"),
    "history_root+time": (BAD_HISTORY_ROOT, "the history root does not match the tree of the earlier block hashes"),
    "state_root+history_root": (BAD_HISTORY_ROOT,
                                "the history root does not match the tree of the earlier block hashes"),
}


@pytest.mark.parametrize("field", list(EXPECTED))
def test_a_tampered_root_is_refused_alike_on_every_path(chains, tmp_path, monkeypatch, field):
    """append, the import pipeline and the readable twin (LEDGER_RULES=python for both) give one
    code, height and message; the store and its state tree are left as they were."""
    path, workload, blocks = chains[2]
    bad_height = 4
    data = _tampered(blocks, bad_height, field, workload.validators[0])
    seen = set()
    for rules in RULES:
        monkeypatch.setenv("LEDGER_RULES", rules)
        for how in ("append", "import"):
            folder = tmp_path / f"{rules}-{how}"
            with Ledger.create(folder, workload.genesis) as book:
                book.import_blocks((h, encode_block(b)) for h, b in enumerate(blocks[:bad_height - 1], start=1))
                before = (book.tip, book._state_tree().root())
                with pytest.raises(LedgerError) as caught:
                    if how == "append":
                        book.append(data)
                    else:
                        book.import_blocks([(bad_height, data)] + [(h, encode_block(b)) for h, b in
                                                                  enumerate(blocks[bad_height:], start=bad_height + 1)])
                error = caught.value
                seen.add((error.code, error.height, error.index, error.message))
                assert (book.tip, book._state_tree().root()) == before
                assert book._state_tree().root() == before[0].state_commitment
                book.append(encode_block(blocks[bad_height - 1]))   # the right block still goes on
                assert book.tip.hash == blocks[bad_height - 1].hash
    assert seen == {(EXPECTED[field][0], bad_height, None, EXPECTED[field][1])}


def test_the_twin_refuses_a_tampered_state_root_and_leaves_the_tree(chains):
    _path, workload, blocks = chains[2]
    chain = Chain.from_genesis(workload.genesis)
    state = MemoryState(workload.genesis)
    tip = chain.genesis_tip()
    for block in blocks[:2]:
        changes, tip = check_block(chain, tip, state, block)
        state.apply(changes)
        assert state.tree.root() == tip.state_commitment == block.header.state_root
    bad = decode_block(_tampered(blocks, 3, "state_root", workload.validators[0]), 2)
    with pytest.raises(LedgerError) as caught:
        check_block(chain, tip, state, bad)
    assert caught.value.code == BAD_STATE_ROOT
    assert state.tree.root() == tip.state_commitment


@pytest.mark.parametrize("rules", RULES)
def test_reopened_store_rebuilds_the_same_tree(chains, tmp_path, monkeypatch, rules):
    monkeypatch.setenv("LEDGER_RULES", rules)
    path, workload, blocks = chains[2]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_chain(path)
        root = book._state_tree().root()
        tip = book.tip
    assert root == blocks[-1].header.state_root
    with Ledger.open(tmp_path / "db") as book:
        assert book.tip == tip and book._tree is None      # nothing of the tree is stored
        assert book._state_tree().root() == root
    with Ledger.open(tmp_path / "db", read_only=True) as book:
        assert book._state_tree().root() == root


def test_a_store_whose_tables_disagree_with_the_tip_says_so(chains, tmp_path):
    _path, workload, blocks = chains[2]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks((h, encode_block(b)) for h, b in enumerate(blocks[:3], start=1))
        key = workload.accounts[0].public_key
        book._store._write(lambda txn: txn.put(key, bytes(16), db=book._store._dbs[b"accounts"]))
        book._tree = None
        with pytest.raises(LedgerError) as caught:
            book._state_tree()
        assert caught.value.code == BAD_STATE_ROOT and "damaged" in caught.value.message
        with pytest.raises(LedgerError) as caught:
            book.append(encode_block(blocks[3]))
        assert caught.value.code == BAD_STATE_ROOT
        assert book.height == 3


@pytest.mark.parametrize("rules", RULES)
def test_a_failed_commit_drops_the_tree_and_the_next_write_rebuilds_it(chains, tmp_path, monkeypatch, rules):
    monkeypatch.setenv("LEDGER_RULES", rules)
    _path, workload, blocks = chains[2]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.append(encode_block(blocks[0]))
        real_commit = Store.commit

        def full_disk(self, *args, **kwargs):
            raise EnvironmentFault(DISK_FULL, "no space left (simulated)")

        for write in (lambda: book.append(encode_block(blocks[1])),
                      lambda: book.import_blocks([(2, encode_block(blocks[1])), (3, encode_block(blocks[2]))])):
            monkeypatch.setattr(Store, "commit", full_disk)
            with pytest.raises(EnvironmentFault):
                write()
            monkeypatch.setattr(Store, "commit", real_commit)
            assert book.height == 1
            assert book._state_tree().root() == blocks[0].header.state_root
        book.import_blocks((h, encode_block(b)) for h, b in enumerate(blocks[1:], start=2))
        assert book._state_tree().root() == blocks[-1].header.state_root


def test_another_process_writing_makes_the_tree_follow_the_store(chains, tmp_path):
    """The tree is kept for the tip it was built at: a tip moved by another writer rebuilds it."""
    _path, workload, blocks = chains[2]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.append(encode_block(blocks[0]))
        tree = book._state_tree()
        book._tree_tip = dataclasses.replace(book._tree_tip, height=0)   # as if the store had moved on
        assert book._state_tree() is not tree
        assert book._state_tree().root() == blocks[0].header.state_root


def test_builder_makes_valid_version_2_blocks(tmp_path):
    validator, alice = Keypair.from_seed(b"v" * 32), Keypair.from_seed(b"a" * 32)
    bob = Keypair.from_seed(b"b" * 32).public_key
    genesis = make_genesis("builder", 0, [validator.public_key], balances={alice.public_key: 100})
    assert genesis.version == 2
    with Ledger.create(tmp_path / "db", genesis) as book:
        for height in range(1, 4):
            builder = book.builder(validator)
            builder.transaction(alice, Transfer(bob, 1))
            block = book.append(builder.build(time_ms=height))
            assert block.header.state_root == twin_root({alice.public_key: (100 - height, height), bob: (height, 0)},
                                                        {})
        assert book.validate().blocks == 3


@pytest.mark.parametrize("version", [1, 2])
def test_the_stored_tip_keeps_the_history_frontier_in_version_2_only(chains, tmp_path, version):
    """A version-1 tip record is the 4 fields stores always wrote (so older stores open as they
    are); a version-2 one adds the frontier, from which the next history root comes."""
    import msgpack
    _path, workload, blocks = chains[version]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks((h, encode_block(b)) for h, b in enumerate(blocks[:3], start=1))
        with book._store.snapshot() as snap:
            fields = msgpack.unpackb(snap._get(b"meta", b"tip"))
    assert fields[:4] == [3, blocks[2].hash, blocks[2].header.time_ms, blocks[2].header.state_commitment]
    if version == 1:
        assert len(fields) == 4
    else:
        size, peaks = fields[4]
        assert size == 4 and len(peaks) == 1   # chain id and blocks 1-3: one perfect subtree of 4 leaves
    with Ledger.open(tmp_path / "db") as book:
        book.append(encode_block(blocks[3]))   # its history root is checked against the stored frontier
        assert book.height == 4


@pytest.mark.parametrize("rules", RULES)
def test_validate_finds_a_stored_record_that_differs_from_the_replay(chains, tmp_path, monkeypatch, rules):
    """Version 2 commits to the records, so validate compares the stored ones with the replay too."""
    monkeypatch.setenv("LEDGER_RULES", rules)
    path, workload, blocks = chains[2]
    owner, key = next((tx.sender, tx.body.key) for b in blocks for tx in b.transactions if tx.kind == 2)
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_chain(path)
        book.validate()
        store = book._store
        raw = store.snapshot()
        stored = raw._get(b"records", owner + key)
        raw.close()
        store._write(lambda txn: txn.put(owner + key, stored[:12] + b"forged", db=store._dbs[b"records"]))
        with pytest.raises(LedgerError) as caught:
            book.validate()
        assert (caught.value.code, caught.value.height) == (BAD_STATE_ROOT, BLOCKS)
