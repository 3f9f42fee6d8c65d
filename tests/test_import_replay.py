"""A transaction replayed while the block that first carried it is not yet durable (docs/FORMAT.md
§8 `duplicate-tx`): the importer keeps one state layer per commit group in flight, and the lookup
of ids must read every layer, not only the newest."""
from __future__ import annotations

import pytest

from ledger import Ledger, LedgerError, codec, importer, merkle
from ledger.builder import sign_header, sign_transaction
from ledger.codec import Block, Transfer, make_genesis
from ledger.errors import DUPLICATE_TX
from ledger.keys import Keypair
from ledger.state import BlockChanges, LayeredState, MemoryState

VALIDATOR = Keypair.from_seed(b"R" * 32)
ALICE = Keypair.from_seed(b"a" * 32)
BOB = Keypair.from_seed(b"b" * 32)
GENESIS = make_genesis("replay", 1_000, [VALIDATOR.public_key], [], {ALICE.public_key: 1_000},
                       version=1)   # a header is signed here: version 2's roots are not built yet


def test_layered_state_finds_ids_in_every_layer():
    state = LayeredState(MemoryState(GENESIS))
    ids = [bytes([i]) * 32 for i in range(3)]
    for txid in ids:
        state.apply(BlockChanges(txids=[txid]))
        state.push()
    assert all(state.has_transaction(txid) for txid in ids)
    assert not state.has_transaction(b"\xff" * 32)
    state.rebase(MemoryState(GENESIS), committed_layers=1)   # the oldest layer is durable now: its base forgot it
    assert not state.has_transaction(ids[0])
    assert state.has_transaction(ids[1]) and state.has_transaction(ids[2])


def chain_with_replay(tmp_path, blocks_before: int, replay_from: int) -> tuple[list[bytes], Block]:
    """`blocks_before` valid blocks (one transfer each), then a block replaying the transaction of
    block `replay_from`, correctly signed and rooted."""
    with Ledger.create(tmp_path / "scratch", GENESIS) as scratch:
        encoded, firsts = [], []
        for _ in range(blocks_before):
            builder = scratch.builder(VALIDATOR)
            firsts.append(builder.transaction(ALICE, Transfer(BOB.public_key, 1)))
            data = codec.encode_block(builder.build(scratch.tip.time_ms + 1))
            scratch.append(data)
            encoded.append(data)
        tip = scratch.tip
    replayed = firsts[replay_from - 1]
    header = sign_header(VALIDATOR, GENESIS.chain_id, tip.height + 1, tip.hash, tip.time_ms + 1, 1,
                         merkle.root([replayed.txid]), bytes(32), version=GENESIS.version)
    return encoded, Block(header, (replayed,))


@pytest.mark.parametrize("group_blocks,blocks_before,replay_from", [
    (1, 1, 1),    # groups of one block: block 1 in flight while block 2 replays it
    (2, 2, 1),    # block 1 in the older layer while block 3 replays it
    (2, 3, 1),    # block 1 committed, block 3 in the newest layer, block 4 replays block 1
    (4, 3, 2),    # all in one layer
])
def test_import_reports_a_replay_across_commit_groups(tmp_path, monkeypatch, group_blocks, blocks_before, replay_from):
    monkeypatch.setattr(importer, "COMMIT_GROUP_BLOCKS_MAX", group_blocks)
    encoded, replay = chain_with_replay(tmp_path, blocks_before, replay_from)
    blocks = list(enumerate([*encoded, codec.encode_block(replay)], 1))
    with Ledger.create(tmp_path / "db", GENESIS) as book:
        with pytest.raises(LedgerError) as caught:
            book.import_blocks(blocks)
        assert (caught.value.code, caught.value.height, caught.value.index) == (DUPLICATE_TX, blocks_before + 1, 0)
        assert book.height == blocks_before
        assert book.account(ALICE.public_key).nonce == blocks_before


def test_append_reports_a_replay_from_the_store(tmp_path):
    encoded, replay = chain_with_replay(tmp_path, 2, 1)
    with Ledger.create(tmp_path / "db", GENESIS) as book:
        for data in encoded:
            book.append(data)
        with pytest.raises(LedgerError) as caught:
            book.append(codec.encode_block(replay))
        assert (caught.value.code, caught.value.index) == (DUPLICATE_TX, 0)
