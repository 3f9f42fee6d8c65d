"""Header and transaction rules of docs/FORMAT.md §8 checked from both sides and past the small
integers: a wrong value below the right one and a wrong value above it are both refused, and
heights and transaction counts above 256 are compared by value. Mutation testing (make mutate,
ledger/validate.py) found `!=` turned into `<`, `>` or `is not` surviving the rule tests, which
only tried one wrong value, small numbers, or both. One fault per block, so the order of the
rules does not matter here."""
from __future__ import annotations

import pytest

from ledger import Ledger, LedgerError, codec, errors, merkle
from ledger.builder import sign_header, sign_transaction
from ledger.codec import Block, Transfer, make_genesis
from ledger.keys import Keypair
from ledger.state import BlockChanges, state_commitment

VALIDATOR = Keypair.from_seed(b"S" * 32)
ALICE = Keypair.from_seed(b"s" * 32)
BOB = Keypair.from_seed(b"t" * 32)
GENESIS = make_genesis("sides", 1_000, [VALIDATOR.public_key], [], {ALICE.public_key: 10**9},
                       version=1)   # headers are signed here: version 2's roots are not built yet
LOW, HIGH = b"\x00" * 32, b"\xff" * 32


@pytest.fixture
def book(tmp_path):
    with Ledger.create(tmp_path / "db", GENESIS) as ledger:
        yield ledger


def craft(book: Ledger, txs, **changes) -> bytes:
    """A correctly signed block after the tip, with `changes` to its header fields."""
    tip = book.tip
    builder = book.builder(VALIDATOR)
    try:
        for tx in txs:
            builder.add(tx)
        commitment = state_commitment(tip.state_commitment, tip.height + 1, builder.changes)
    except LedgerError:
        commitment = bytes(32)
    fields = dict(chain_id=GENESIS.chain_id, height=tip.height + 1, previous_hash=tip.hash, time_ms=tip.time_ms + 1,
                  tx_count=len(txs), tx_root=merkle.root([t.txid for t in txs]), commitment=commitment)
    fields.update(changes)
    return codec.encode_block(Block(sign_header(VALIDATOR, **fields, version=GENESIS.version), tuple(txs)))


def refused(book: Ledger, data: bytes) -> tuple[str, int | None]:
    with pytest.raises(LedgerError) as caught:
        book.append(data)
    return caught.value.code, caught.value.index


def transfers(count: int, first_nonce: int = 1) -> list:
    return [sign_transaction(ALICE, GENESIS.chain_id, first_nonce + i, Transfer(BOB.public_key, 1))
            for i in range(count)]


@pytest.mark.parametrize("wrong", [LOW, HIGH])
def test_header_hashes_wrong_on_either_side(book, wrong):
    txs = transfers(2)
    assert refused(book, craft(book, txs, chain_id=wrong)) == (errors.BAD_CHAIN_ID, None)
    assert refused(book, craft(book, txs, previous_hash=wrong)) == (errors.BAD_PREVIOUS_HASH, None)
    assert refused(book, craft(book, txs, tx_root=wrong)) == (errors.BAD_MERKLE_ROOT, None)
    assert refused(book, craft(book, txs, commitment=wrong)) == (errors.BAD_STATE_COMMITMENT, None)
    book.append(craft(book, txs))


@pytest.mark.parametrize("wrong", [LOW, HIGH])
def test_transaction_chain_id_wrong_on_either_side(book, wrong):
    foreign = sign_transaction(ALICE, wrong, 1, Transfer(BOB.public_key, 1))
    assert refused(book, craft(book, [foreign])) == (errors.BAD_CHAIN_ID, 0)


def test_transaction_count_wrong_on_either_side(book):
    txs = transfers(3)
    for wrong in (0, 2, 4, 300):
        assert refused(book, craft(book, txs, tx_count=wrong)) == (errors.BAD_TX_COUNT, None), wrong


def test_more_than_256_transactions_are_counted_by_value(book):
    txs = transfers(300)
    assert refused(book, craft(book, txs, tx_count=299)) == (errors.BAD_TX_COUNT, None)
    book.append(craft(book, txs))
    assert book.account(ALICE.public_key).nonce == 300


def test_heights_past_256_are_compared_by_value(book):
    """300 empty blocks, then a block claiming each wrong height around the next one."""
    blocks, tip = [], book.tip
    commitment, previous = tip.state_commitment, tip.hash
    for height in range(1, 301):
        commitment = state_commitment(commitment, height, BlockChanges())
        header = sign_header(VALIDATOR, GENESIS.chain_id, height, previous, 2_000, 0, merkle.root([]), commitment,
                             version=GENESIS.version)
        blocks.append((height, codec.encode_block(Block(header, ()))))
        previous = header.hash
    book.import_blocks(blocks)
    assert book.height == 300
    for wrong in (299, 300, 302, 2**32):
        assert refused(book, craft(book, [], height=wrong)) == (errors.BAD_HEIGHT, None), wrong
    book.append(craft(book, []))
    assert book.height == 301
