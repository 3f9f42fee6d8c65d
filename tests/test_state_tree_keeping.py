"""The version-2 state tree a Ledger keeps in memory (docs/FORMAT.md §7.2: the header's state root
is the root of the map after the block) stays the store's: a write interrupted after the tree took a
block but before the store did (Ctrl-C, an exception in a group commit) never leaves a tree ahead of
the store that later proofs, builders and appends would use; validate's replay does not hold two
whole trees at once.

Oracle: the tip's state root, which the stored header carries, and the proofs checked offline.
"""
from __future__ import annotations

import gc
import weakref

import pytest

from ledger import Ledger, _core, api, importer, state_tree, verify_state_proof
from ledger.codec import encode_block
from ledger.errors import BAD_STATE_ROOT, LedgerError
from ledger.state import Tip
from ledger.workload import generate_chain_file

SEED = 23
ACCOUNTS = 10
BLOCKS = 5
TXS = 30


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    path = tmp_path_factory.mktemp("keeping") / "v2.ledger"
    workload = generate_chain_file(path, BLOCKS, TXS, ACCOUNTS, SEED, version=2)
    return workload, [encode_block(b) for b in workload.blocks(BLOCKS, TXS)]


def _consistent(book: Ledger, workload) -> None:
    """What a caller can observe: a proof against the tip, and the tree the next write starts from."""
    key = workload.accounts[0].public_key
    proof = book.prove_account(key)
    assert verify_state_proof(proof, trusted_validators=workload.genesis.validators)
    assert book._state_tree().root() == book.tip.state_commitment


def _interrupt_tip_after(monkeypatch, height: int) -> None:
    """Tip.after (the native rules call it once the tree took the block) raises KeyboardInterrupt
    once, after it ran, for the block at `height`."""
    real = Tip.after
    fired = []

    def interrupted(self, *args):
        result = real(self, *args)
        if self.height == height - 1 and not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return result
    monkeypatch.setattr(Tip, "after", interrupted)


def test_ctrl_c_after_the_tree_took_the_block_leaves_no_tree_ahead_of_the_store(chain, tmp_path, monkeypatch):
    """The native rules set a block in the tree, then make its tip: Ctrl-C between them, before the
    commit, leaves the store at the old tip; the next proof and write must see the old state."""
    monkeypatch.setenv("LEDGER_RULES", "native")
    workload, blocks = chain
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.append(blocks[0])
        book._state_tree()
        _interrupt_tip_after(monkeypatch, 2)
        with pytest.raises(KeyboardInterrupt):
            book.append(blocks[1])
        monkeypatch.undo()
        monkeypatch.setenv("LEDGER_RULES", "native")
        assert book.height == 1
        _consistent(book, workload)
        for data in blocks[1:]:
            book.append(data)
        _consistent(book, workload)


@pytest.mark.parametrize("rules", ["native", "python"])
def test_ctrl_c_inside_an_import_leaves_no_tree_ahead_of_the_store(chain, tmp_path, monkeypatch, rules):
    """Groups of one block: block 1 is durable when Ctrl-C hits block 2 after the tree took it; the
    import stops with the store at the importer's tip, so the Ledger would keep the tree."""
    monkeypatch.setenv("LEDGER_RULES", rules)
    workload, blocks = chain
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book._state_tree()
        monkeypatch.setattr(importer, "COMMIT_GROUP_BLOCKS_MAX", 1)
        if rules == "native":
            _interrupt_tip_after(monkeypatch, 2)
        else:
            calls = []
            real = importer.apply_to_tree

            def interrupted(tree, changes):
                undo = real(tree, changes)
                calls.append(undo)
                if len(calls) == 2:
                    raise KeyboardInterrupt
                return undo
            monkeypatch.setattr(importer, "apply_to_tree", interrupted)
        with pytest.raises(KeyboardInterrupt):
            book.import_blocks(enumerate(blocks, start=1))
        monkeypatch.undo()
        monkeypatch.setenv("LEDGER_RULES", rules)
        assert book.height == 1
        _consistent(book, workload)
        book.import_blocks(enumerate(blocks, start=1))
        assert book.height == BLOCKS
        _consistent(book, workload)


@pytest.mark.parametrize("rules", ["native", "python"])
def test_validate_holds_one_whole_tree_at_a_time(chain, tmp_path, monkeypatch, rules):
    """At the tip validate builds the tree of the stored tables to compare with the replay: by then
    the replay's own tree (whose root the last header already matched) is released, so a large
    chain's check needs the memory of one tree, not two."""
    monkeypatch.setenv("LEDGER_RULES", rules)
    workload, blocks = chain
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(enumerate(blocks, start=1))
    live: list[weakref.ref] = []

    class Tracked(_core.StateTree):
        pass

    def tracked_tree():
        tree = Tracked()
        live.append(weakref.ref(tree))
        return tree

    real_tables = api._tree_of_tables
    alive_at_tables = []

    def tables(snap):
        gc.collect()
        alive_at_tables.append(sum(ref() is not None for ref in live))
        return real_tables(snap)

    monkeypatch.setattr(state_tree, "new_tree", tracked_tree)
    monkeypatch.setattr(api, "_tree_of_tables", tables)
    with Ledger.open(tmp_path / "db") as book:
        assert book.validate().blocks == BLOCKS
    assert live and alive_at_tables == [0]


def test_a_proof_over_a_damaged_account_table_is_a_ledger_error(chain, tmp_path):
    """The kept tree matches the tip, but the table a proof reads the value from was changed under
    it (a damaged store): the caller gets `bad-state-root` naming the damage, as for a tree rebuilt
    from such tables, not an AssertionError (which the CLI would print as a crash)."""
    workload, blocks = chain
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(enumerate(blocks, start=1))
        book._state_tree()
        key = workload.accounts[0].public_key
        store = book._store
        store._write(lambda txn: txn.put(key, bytes(16), db=store._dbs[b"accounts"]))
        with pytest.raises(LedgerError) as caught:
            book.prove_account(key)
        assert (caught.value.code, caught.value.height) == (BAD_STATE_ROOT, BLOCKS)
        assert "damaged" in caught.value.message


def test_proofs_racing_a_writer_thread_always_match_the_header_they_carry(chain, tmp_path):
    """Readers proving in threads while another thread appends: each proof is taken from the tree
    at the header it carries (it verifies offline), and no call meets the native tree busy (its
    RuntimeError on concurrent use): every use of the kept tree is under the Ledger's write mutex."""
    import threading
    from ledger.codec import decode_header

    workload, blocks = chain
    keys = [a.public_key for a in workload.accounts]
    errors: list[BaseException] = []
    heights: set[int] = set()
    done = threading.Event()
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.append(blocks[0])

        def prove(offset: int) -> None:
            try:
                count, final = 0, False
                while not final:   # one more proof once the writer is done: at the last height
                    final = done.is_set()
                    proof = book.prove_account(keys[(count + offset) % len(keys)])
                    assert verify_state_proof(proof, trusted_validators=workload.genesis.validators)
                    heights.add(decode_header(proof.header).height)
                    count += 1
            except BaseException as error:   # reported below, in the test's thread
                errors.append(error)

        readers = [threading.Thread(target=prove, args=(n,)) for n in range(3)]
        for reader in readers:
            reader.start()
        try:
            for data in blocks[1:]:
                book.append(data)
        finally:
            done.set()
            for reader in readers:
                reader.join()
    assert errors == []
    assert heights <= set(range(1, BLOCKS + 1)) and BLOCKS in heights


@pytest.mark.parametrize("damage", ["no frontier", "frontier of another size", "frontier in version 1"])
def test_a_tip_record_that_does_not_fit_the_chain_version_is_a_damaged_store(chain, tmp_path, damage):
    """A version-2 tip record carries the history frontier of height + 1 leaves, a version-1 one
    none (storage.py's layout). Read otherwise, a version-2 chain would be validated by version 1's
    rules (its blocks refused as bad-state-commitment) or every next block refused as
    bad-history-root: the store says it is damaged instead."""
    import msgpack
    from ledger.errors import IO_ERROR, EnvironmentFault
    from ledger.workload import Workload

    workload, blocks = chain
    if damage == "frontier in version 1":
        workload = Workload.make(SEED, ACCOUNTS, version=1)
        blocks = [encode_block(b) for b in workload.blocks(2, TXS)]
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        book.import_blocks(enumerate(blocks[:2], start=1))
        store = book._store
        with store.snapshot() as snap:
            fields = msgpack.unpackb(snap._get(b"meta", b"tip"))
        if damage == "no frontier":
            fields = fields[:4]
        elif damage == "frontier of another size":
            fields[4] = [4, [fields[4][1][0]]]   # one peak: a size of 4 leaves, not 3
        else:
            fields.append([3, [bytes(32), bytes(32)]])
        store._write(lambda txn: txn.put(b"tip", msgpack.packb(fields, use_bin_type=True), db=store._dbs[b"meta"]))
        with pytest.raises(EnvironmentFault) as caught:
            book.tip
        assert caught.value.code == IO_ERROR and "damaged" in caught.value.message
