"""ledger.node.applier: the block stream taken in order through Ledger.append, without NATS.

Specification: README.md, "Running several nodes"; the contract in ledger/node/applier.py: every
honest node that takes the same messages in the same order ends at the same tip and refuses the
same messages with the same codes; the position file only saves work (a stale one replays, a
missing one reads from the start and skips the blocks already held); an EnvironmentFault leaves
the message untaken.
"""
from __future__ import annotations

import dataclasses
import json
import os

import pytest

from ledger import Block, EnvironmentFault, decode_block, decode_transaction, encode_block
from ledger.builder import sign_header
from ledger.errors import (
    BAD_BLOCK_SIGNATURE, BAD_ENCODING, BAD_HEIGHT, BAD_PREVIOUS_HASH, BAD_STATE_ROOT, DISK_FULL,
)
from ledger.node.applier import POSITION_FILE, Applier, Refusal
from ledger.node.mempool import Mempool
from node_fixtures import make_chain

STREAM = "LEDGER_TEST_BLOCKS"


def _flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


@pytest.fixture
def world(tmp_path):
    """Two nodes' stores and a third, the proposer's, all of the same chain."""
    chains = {name: make_chain(tmp_path / name) for name in ("a", "b", "source")}
    assert len({chain.book.chain_id for chain in chains.values()}) == 1
    yield chains
    for chain in chains.values():
        try:
            chain.book.close()
        except Exception:   # closed by the test already
            pass


def build(chain, *txs: bytes) -> Block:
    """A valid block of `txs` after the source's tip, appended there."""
    builder = chain.book.builder(chain.validator)
    for data in txs:
        builder.add(decode_transaction(data))
    block = builder.build()
    chain.book.append(block)
    return block


def messages(source) -> tuple[list[bytes], dict]:
    """A block stream: valid blocks, garbage, forged and misplaced blocks, a duplicate. Returns the
    messages (stream sequence = index + 1) and the facts the tests check against."""
    b1 = build(source, source.transfer(source.alice, 1, 10))
    # the next block, built but tampered with before it is stored anywhere
    builder = source.book.builder(source.validator)
    builder.add(decode_transaction(source.transfer(source.bob, 1, 7)))
    b2 = builder.build()
    header = b2.header
    bad_signature = Block(dataclasses.replace(header, signature=_flip(header.signature, 5)), b2.transactions)
    wrong_root = Block(sign_header(source.validator, header.chain_id, header.height, header.previous_hash,
                                   header.time_ms, header.tx_count, header.tx_root, bytes(32),
                                   version=header.version, history_root=header.history_root), b2.transactions)
    source.book.append(b2)
    b3 = build(source, source.transfer(source.alice, 2, 5), source.record(source.bob, 2, b"k", b"v"))
    b4 = build(source, source.mint(source.issuer, 1, 100))
    stream = [
        encode_block(b1),                 # 1 lands
        b"\x93garbage",                   # 2 bad-encoding
        encode_block(bad_signature),      # 3 bad-block-signature at height 2
        encode_block(wrong_root),         # 4 bad-state-root at height 2
        encode_block(b3),                 # 5 height 3 on a tip of 1
        encode_block(b2),                 # 6 lands
        encode_block(b1),                 # 7 a duplicate of a block held: skipped
        b"",                              # 8 empty: bad-encoding
        encode_block(b3),                 # 9 lands
        _flip(encode_block(b4), 20),      # 10 a flipped byte in the header
        encode_block(b4),                 # 11 lands
    ]
    return stream, {"blocks": [b1, b2, b3, b4], "landed": {1: b1, 6: b2, 9: b3, 11: b4}}


def take_all(applier: Applier, stream: list[bytes], start: int = 1) -> dict[int, object]:
    return {sequence: applier.take(sequence, stream[sequence - 1]) for sequence in range(start, len(stream) + 1)}


def refusals(outcomes: dict[int, object]) -> dict[int, str]:
    return {sequence: outcome.code for sequence, outcome in outcomes.items() if isinstance(outcome, Refusal)}


@pytest.fixture
def folder_of(tmp_path):
    return lambda name: os.fspath(tmp_path / name)


def test_two_nodes_end_at_the_same_tip_and_refuse_alike(world, folder_of):
    stream, facts = messages(world["source"])
    outcomes = {}
    for name in ("a", "b"):
        applier = Applier(world[name].book, None, STREAM, folder_of(name))
        outcomes[name] = take_all(applier, stream)
        assert applier.position == len(stream)
        assert world[name].book.tip == world["source"].book.tip
        assert world[name].book.info() == world["source"].book.info()
        assert applier.refused_count == len(refusals(outcomes[name]))
        assert [r.sequence for r in applier.refused] == sorted(refusals(outcomes[name]))
    assert refusals(outcomes["a"]) == refusals(outcomes["b"])
    codes = refusals(outcomes["a"])
    assert set(codes) == {2, 3, 4, 5, 8, 10}
    assert (codes[2], codes[3], codes[4], codes[8]) == (BAD_ENCODING, BAD_BLOCK_SIGNATURE, BAD_STATE_ROOT,
                                                        BAD_ENCODING)
    assert codes[5] in (BAD_HEIGHT, BAD_PREVIOUS_HASH)
    for sequence, block in facts["landed"].items():
        assert isinstance(outcomes["a"][sequence], Block) and outcomes["a"][sequence].hash == block.hash
    assert outcomes["a"][7] is None and outcomes["b"][7] is None   # the duplicate: skipped, not refused
    # the refusal names the height where the rules place it
    assert outcomes["a"][3].height == 2 and outcomes["a"][4].height == 2
    # the position file says where the node is
    with open(os.path.join(folder_of("a"), POSITION_FILE), encoding="utf-8") as handle:
        saved = json.load(handle)
    tip = world["a"].book.tip
    assert saved == {"stream": STREAM, "sequence": len(stream), "height": tip.height, "tip_hash": tip.hash.hex()}


def test_a_message_taken_before_is_not_taken_again(world, folder_of):
    stream, _ = messages(world["source"])
    applier = Applier(world["a"].book, None, STREAM, folder_of("a"))
    take_all(applier, stream[:6])
    tip = world["a"].book.tip
    assert applier.take(6, stream[5]) is None and applier.take(1, stream[0]) is None
    assert applier.take(2, stream[1]) is None   # a refused one too: not refused twice
    assert applier.refused_count == 4 and world["a"].book.tip == tip


def count_appends(monkeypatch, book) -> list[int]:
    landed = []
    real = book.append

    def append(block):
        stored = real(block)
        landed.append(stored.height)
        return stored
    monkeypatch.setattr(book, "append", append)
    return landed


@pytest.mark.parametrize("stale", [0, 3, 6, 8])
def test_a_position_file_behind_the_store_replays_without_applying_twice(world, folder_of, monkeypatch, stale):
    """A crash between a commit and the position file: the node reads again from the stale
    position and ends at the same tip, appending nothing twice."""
    stream, _ = messages(world["source"])
    take_all(Applier(world["a"].book, None, STREAM, folder_of("a")), stream)
    info = world["a"].book.info()
    path = os.path.join(folder_of("a"), POSITION_FILE)
    with open(path, encoding="utf-8") as handle:
        saved = json.load(handle)
    saved["sequence"] = stale
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(saved, handle)
    landed = count_appends(monkeypatch, world["a"].book)
    restarted = Applier(world["a"].book, None, STREAM, folder_of("a"))
    assert restarted.position == stale
    outcomes = take_all(restarted, stream, stale + 1)
    assert landed == [] and not any(isinstance(outcome, Block) for outcome in outcomes.values())
    # the blocks held are skipped, not refused (message 5 is block 3, refused the first time for
    # coming early, held now); every other message refused the first time is refused again
    assert all(outcomes[sequence] is None for sequence in (1, 5, 6, 7, 9, 11) if sequence > stale)
    assert set(refusals(outcomes)) == {s for s in (2, 3, 4, 8, 10) if s > stale}
    assert world["a"].book.info() == info and restarted.position == len(stream)


def test_no_position_file_and_a_store_ahead_skips_the_held_blocks(world, folder_of, monkeypatch):
    """A store filled by `ledger import` of a chain file, then the stream from its start."""
    stream, facts = messages(world["source"])
    for block in facts["blocks"][:2]:   # "imported" up to height 2, stream message 6
        world["b"].book.append(block)
    assert not os.path.exists(os.path.join(folder_of("b"), POSITION_FILE))
    landed = count_appends(monkeypatch, world["b"].book)
    applier = Applier(world["b"].book, None, STREAM, folder_of("b"))
    assert applier.position == 0
    outcomes = take_all(applier, stream)
    assert outcomes[1] is None and outcomes[6] is None and outcomes[7] is None   # held: skipped
    assert landed == [3, 4]
    assert world["b"].book.info() == world["source"].book.info()


@pytest.mark.parametrize("content", [
    {"stream": "LEDGER_OTHER_BLOCKS", "sequence": 5, "height": 1, "tip_hash": "00"},
    {"stream": STREAM, "sequence": "5"},
    {"sequence": 5},
    "not json {",
])
def test_a_position_file_of_another_stream_or_unreadable_reads_from_the_start(world, folder_of, content):
    stream, _ = messages(world["source"])
    with open(os.path.join(folder_of("a"), POSITION_FILE), "w", encoding="utf-8") as handle:
        handle.write(content if isinstance(content, str) else json.dumps(content))
    applier = Applier(world["a"].book, None, STREAM, folder_of("a"))
    assert applier.position == 0
    take_all(applier, stream)
    assert world["a"].book.tip == world["source"].book.tip


def test_a_position_file_of_this_stream_is_resumed(world, folder_of):
    stream, _ = messages(world["source"])
    take_all(Applier(world["a"].book, None, STREAM, folder_of("a")), stream[:5])
    assert Applier(world["a"].book, None, STREAM, folder_of("a")).position == 5
    assert Applier(world["a"].book, None, "LEDGER_OTHER_BLOCKS", folder_of("a")).position == 0


def test_an_environment_fault_leaves_the_message_untaken(world, folder_of, monkeypatch):
    stream, facts = messages(world["source"])
    book = world["a"].book
    applier = Applier(book, None, STREAM, folder_of("a"))
    take_all(applier, stream[:5])
    path = os.path.join(folder_of("a"), POSITION_FILE)
    with open(path, "rb") as handle:
        before = handle.read()
    real = book.append

    def full(block):
        raise EnvironmentFault(DISK_FULL, "no space left on the file system holding the store")
    monkeypatch.setattr(book, "append", full)
    with pytest.raises(EnvironmentFault):
        applier.take(6, stream[5])
    assert applier.position == 5 and applier.refused_count == 4 and book.height == 1
    with open(path, "rb") as handle:
        assert handle.read() == before
    monkeypatch.setattr(book, "append", real)
    taken = applier.take(6, stream[5])   # later, the same message: it lands
    assert isinstance(taken, Block) and taken.hash == facts["landed"][6].hash and applier.position == 6


def test_an_applied_block_leaves_the_mempool(world, folder_of):
    node, source = world["a"], world["source"]
    stream, _ = messages(source)
    mempool = Mempool(node.book, 100, 16)
    first = source.transfer(source.alice, 1, 10)      # in block 1
    mempool.add(first)
    mempool.add(source.transfer(source.alice, 2, 5))  # in block 3
    later = mempool.add(source.transfer(source.alice, 3, 1))   # in none: stays
    assert len(mempool) == 3
    applier = Applier(node.book, mempool, STREAM, folder_of("a"))
    applier.take(1, stream[0])
    assert len(mempool) == 2
    take_all(applier, stream, 2)
    assert len(mempool) == 1 and later.txid in mempool


def test_callbacks_are_told_each_outcome(world, folder_of):
    stream, _ = messages(world["source"])
    committed, refused = [], []
    applier = Applier(world["a"].book, None, STREAM, folder_of("a"),
                      on_commit=lambda block, seconds: committed.append(block.height),
                      on_refuse=refused.append)
    take_all(applier, stream)
    assert committed == [1, 2, 3, 4]
    assert [r.sequence for r in refused] == [2, 3, 4, 5, 8, 10]


def test_wait_past(world, folder_of):
    stream, _ = messages(world["source"])
    applier = Applier(world["a"].book, None, STREAM, folder_of("a"))
    assert not applier.wait_past(1, 0.01)
    applier.take(1, stream[0])
    assert applier.wait_past(1, 0.0)


def test_a_forged_copy_of_a_held_block_is_refused_not_skipped(world, folder_of):
    """A block's hash leaves out its signature: a copy of a held block with another signature, or
    with other transactions under the same header, has the held block's hash but is not that block.
    It is refused (as a node that took it before the block would refuse it), never skipped as held."""
    stream, facts = messages(world["source"])
    applier = Applier(world["a"].book, None, STREAM, folder_of("a"))
    take_all(applier, stream)
    b2 = facts["blocks"][1]
    forged_signature = stream[2]            # message 3: b2 with one bit of its signature flipped
    other_txs = Block(b2.header, facts["blocks"][2].transactions)
    for sequence, data in enumerate([forged_signature, encode_block(other_txs)], len(stream) + 1):
        assert decode_block(data, 2).hash == b2.hash
        outcome = applier.take(sequence, data)
        assert isinstance(outcome, Refusal) and outcome.sequence == sequence
    assert applier.take(len(stream) + 3, encode_block(b2)) is None   # the block itself: held
    assert world["a"].book.tip == world["source"].book.tip
