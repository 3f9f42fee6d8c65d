"""Every validation rule, each shown rejecting with its own stable code, at the right height and
transaction index, with nothing written. Blocks are crafted by hand (not through BlockBuilder,
which refuses to build invalid blocks) and signed correctly unless the signature is the point.
"""
from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import SigningKey

from ledger import Ledger, LedgerError, errors, limits, merkle
from ledger.builder import sign_header, sign_transaction
from ledger.codec import Block, Mint, Record, Transaction, Transfer, encode_block, encode_unsigned_transaction, make_genesis
from ledger.hashing import transaction_id
from ledger.keys import Keypair
from ledger.state import LayeredState, apply_transactions, state_commitment
from ledger.validate import Chain

VALIDATOR = Keypair.from_seed(b"v" * 32)
ISSUER = Keypair.from_seed(b"i" * 32)
ALICE = Keypair.from_seed(b"a" * 32)
BOB = Keypair.from_seed(b"b" * 32)
STRANGER = Keypair.from_seed(b"s" * 32)
IDENTITY_POINT = bytes([1]) + bytes(31)   # small order: the neutral element
GENESIS = make_genesis("rules", 1_000, [VALIDATOR.public_key], [ISSUER.public_key],
                       {ALICE.public_key: 1_000, BOB.public_key: 50},
                       version=1)   # headers are signed here: version 2's roots are not built yet


@pytest.fixture
def book(tmp_path):
    with Ledger.create(tmp_path / "db", GENESIS) as ledger:
        yield ledger


def tx(sender: Keypair, nonce: int, body, chain_id: bytes | None = None) -> Transaction:
    return sign_transaction(sender, chain_id or GENESIS.chain_id, nonce, body)


def craft(book: Ledger, txs, proposer: Keypair = VALIDATOR, commitment: bytes | None = None, **header_changes) -> Block:
    """A block after the current tip, correctly signed; `header_changes` override header fields
    before signing. The commitment is computed when the transactions apply cleanly."""
    tip = book.tip
    if commitment is None:
        try:
            with book._store.snapshot() as snap:
                changes = apply_transactions(LayeredState(snap), frozenset(GENESIS.issuers), txs, tip.height + 1)
            commitment = state_commitment(tip.state_commitment, tip.height + 1, changes)
        except LedgerError:
            commitment = bytes(32)
    fields = dict(chain_id=GENESIS.chain_id, height=tip.height + 1, previous_hash=tip.hash, time_ms=tip.time_ms + 1,
                  tx_count=len(txs), tx_root=merkle.root([t.txid for t in txs]), commitment=commitment)
    fields.update(header_changes)
    header = sign_header(proposer, **fields, version=GENESIS.version)
    return Block(header, tuple(txs))


def assert_rejected(book: Ledger, block: Block, code: str, index: int | None = None) -> LedgerError:
    before = book.info()
    locations = {t.txid: book.tx(t.txid) for t in block.transactions}
    balances = [book.account(k.public_key) for k in (ALICE, BOB, ISSUER, STRANGER)]
    with pytest.raises(LedgerError) as caught:
        book.append(encode_block(block))
    error = caught.value
    assert error.code == code, str(error)
    assert error.height == before["height"] + 1
    assert error.index == index
    assert str(error).startswith(code)
    # Nothing was written.
    assert book.info() == before
    assert [book.account(k.public_key) for k in (ALICE, BOB, ISSUER, STRANGER)] == balances
    assert {t.txid: book.tx(t.txid) for t in block.transactions} == locations
    return error


def test_a_valid_block_is_accepted(book):
    block = craft(book, [tx(ALICE, 1, Transfer(BOB.public_key, 10)), tx(ISSUER, 1, Mint(BOB.public_key, 5)),
                         tx(BOB, 1, Record(b"certificate/1", b"issued"))])
    book.append(block)
    assert book.account(ALICE.public_key).balance == 990
    assert book.account(BOB.public_key).balance == 65
    assert book.record(BOB.public_key, b"certificate/1").value == b"issued"
    assert book.height == 1


# ------------------------------------------------------------------ header rules

def test_header_of_another_chain(book):
    assert_rejected(book, craft(book, [], chain_id=b"\x07" * 32), errors.BAD_CHAIN_ID)


@pytest.mark.parametrize("height", [2, 5])
def test_wrong_height(book, height):
    assert_rejected(book, craft(book, [], height=height), errors.BAD_HEIGHT)


def test_previous_hash_must_link(book):
    assert_rejected(book, craft(book, [], previous_hash=b"\x01" * 32), errors.BAD_PREVIOUS_HASH)


def test_time_must_not_go_backwards(book):
    book.append(craft(book, [], time_ms=5_000))
    assert_rejected(book, craft(book, [], time_ms=4_999), errors.BAD_TIME)
    book.append(craft(book, [], time_ms=5_000))   # equal time is allowed


def test_transaction_count_must_match(book):
    txs = [tx(ALICE, 1, Transfer(BOB.public_key, 1))]
    assert_rejected(book, craft(book, txs, tx_count=2), errors.BAD_TX_COUNT)


def test_merkle_root_must_match(book):
    txs = [tx(ALICE, 1, Transfer(BOB.public_key, 1)), tx(ALICE, 2, Transfer(BOB.public_key, 1))]
    swapped_root = merkle.root([txs[1].txid, txs[0].txid])
    assert_rejected(book, craft(book, txs, tx_root=swapped_root), errors.BAD_MERKLE_ROOT)


def test_merkle_root_rejects_duplicated_last_transaction(book):
    """CVE-2012-2459: with three transactions, a Bitcoin-style tree equals the tree of four with the
    last one repeated. Our root never duplicates a node, and the duplicate is rejected anyway."""
    a, b, c = (tx(ALICE, n, Transfer(BOB.public_key, 1)) for n in (1, 2, 3))
    assert merkle.root([a.txid, b.txid, c.txid]) != merkle.root([a.txid, b.txid, c.txid, c.txid])
    block = craft(book, [a, b, c, c])
    assert_rejected(book, block, errors.DUPLICATE_TX, index=3)


def test_proposer_must_be_a_validator(book):
    assert_rejected(book, craft(book, [], proposer=STRANGER), errors.UNKNOWN_PROPOSER)


def test_proposer_signature_must_hold(book):
    block = craft(book, [])
    forged = dataclasses.replace(block.header, signature=STRANGER.sign(block.header.hash))
    assert_rejected(book, Block(forged, ()), errors.BAD_BLOCK_SIGNATURE)


def test_state_commitment_must_match(book):
    txs = [tx(ALICE, 1, Transfer(BOB.public_key, 10))]
    assert_rejected(book, craft(book, txs, commitment=b"\x05" * 32), errors.BAD_STATE_COMMITMENT)


# ------------------------------------------------------------------ transaction rules

def test_transaction_signature_must_hold(book):
    good = tx(ALICE, 1, Transfer(BOB.public_key, 10))
    forged = dataclasses.replace(good, signature=STRANGER.sign(good.txid))
    assert_rejected(book, craft(book, [tx(BOB, 1, Record(b"k", b"v")), forged]), errors.BAD_TX_SIGNATURE, index=1)


def test_transaction_of_another_chain(book):
    other = tx(ALICE, 1, Transfer(BOB.public_key, 10), chain_id=b"\x09" * 32)
    assert_rejected(book, craft(book, [other]), errors.BAD_CHAIN_ID, index=0)


def test_nonce_must_be_previous_plus_one(book):
    assert_rejected(book, craft(book, [tx(ALICE, 2, Transfer(BOB.public_key, 1))]), errors.BAD_NONCE, index=0)
    book.append(craft(book, [tx(ALICE, 1, Transfer(BOB.public_key, 1))]))
    assert_rejected(book, craft(book, [tx(ALICE, 1, Transfer(BOB.public_key, 2))]), errors.BAD_NONCE, index=0)
    assert_rejected(book, craft(book, [tx(ALICE, 2, Transfer(BOB.public_key, 1)),
                                       tx(ALICE, 4, Transfer(BOB.public_key, 1))]), errors.BAD_NONCE, index=1)


def test_no_overdraft(book):
    assert_rejected(book, craft(book, [tx(BOB, 1, Transfer(ALICE.public_key, 51))]), errors.OVERDRAFT, index=0)
    # Spending what an earlier transaction of the same block brought in is fine.
    book.append(craft(book, [tx(ALICE, 1, Transfer(BOB.public_key, 100)), tx(BOB, 1, Transfer(ALICE.public_key, 150))]))
    assert book.account(BOB.public_key).balance == 0


def test_balances_never_overflow(book):
    assert_rejected(book, craft(book, [tx(ISSUER, 1, Mint(BOB.public_key, limits.AMOUNT_MAX))]), errors.OVERFLOW, index=0)
    book.append(craft(book, [tx(ISSUER, 1, Mint(STRANGER.public_key, limits.AMOUNT_MAX))]))
    assert book.account(STRANGER.public_key).balance == limits.AMOUNT_MAX
    assert_rejected(book, craft(book, [tx(ALICE, 1, Transfer(STRANGER.public_key, 1))]), errors.OVERFLOW, index=0)


def test_only_issuers_mint(book):
    assert_rejected(book, craft(book, [tx(ALICE, 1, Mint(ALICE.public_key, 1))]), errors.NOT_ISSUER, index=0)


def test_sender_key_of_small_order_is_rejected(book):
    small = Transaction(GENESIS.chain_id, IDENTITY_POINT, 1, Transfer(BOB.public_key, 0),
                        IDENTITY_POINT + bytes(32),  # R = identity, S = 0: "valid" for any message under ZIP-215
                        transaction_id(encode_unsigned_transaction(GENESIS.chain_id, IDENTITY_POINT, 1,
                                                                   Transfer(BOB.public_key, 0))))
    assert_rejected(book, craft(book, [small]), errors.SMALL_ORDER_KEY, index=0)


def test_record_size_limits(book):
    too_long_key = Record(b"k" * (limits.RECORD_KEY_BYTES_MAX + 1), b"v")
    too_long_value = Record(b"k", b"v" * (limits.RECORD_VALUE_BYTES_MAX + 1))
    for body in (too_long_key, too_long_value):
        assert_rejected(book, craft(book, [tx(ALICE, 1, body)]), errors.RECORD_TOO_LARGE, index=0)
    book.append(craft(book, [tx(ALICE, 1, Record(b"k" * 64, b"v" * 4096))]))


def test_duplicate_transaction_in_block_and_in_chain(book):
    first = tx(ALICE, 1, Transfer(BOB.public_key, 1))
    assert_rejected(book, craft(book, [first, first]), errors.DUPLICATE_TX, index=1)
    book.append(craft(book, [first]))
    assert_rejected(book, craft(book, [tx(BOB, 1, Record(b"a", b"b")), first]), errors.DUPLICATE_TX, index=1)


def test_first_failure_in_block_order_is_reported(book):
    """A state failure before a signature failure is reported first, and the other way round."""
    bad_signature = dataclasses.replace(tx(BOB, 1, Record(b"x", b"y")), signature=bytes(64))
    overdraft = tx(ALICE, 1, Transfer(BOB.public_key, 5_000))
    assert_rejected(book, craft(book, [overdraft, bad_signature]), errors.OVERDRAFT, index=0)
    assert_rejected(book, craft(book, [bad_signature, overdraft]), errors.BAD_TX_SIGNATURE, index=0)


# ------------------------------------------------------------------ interop: signatures made elsewhere

def _external_transaction(sign, public_key: bytes, nonce: int) -> Transaction:
    body = Transfer(BOB.public_key, 7)
    txid = transaction_id(encode_unsigned_transaction(GENESIS.chain_id, public_key, nonce, body))
    return Transaction(GENESIS.chain_id, public_key, nonce, body, sign(txid), txid)


def test_transaction_signed_with_pynacl_is_accepted(book):
    key = SigningKey(b"a" * 32)
    signed = _external_transaction(lambda m: key.sign(m).signature, bytes(key.verify_key), 1)
    book.append(craft(book, [signed]))
    assert book.tx(signed.txid).transaction == signed


def test_transaction_signed_with_cryptography_is_accepted(book):
    key = Ed25519PrivateKey.from_private_bytes(b"a" * 32)
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert public == ALICE.public_key
    signed = _external_transaction(key.sign, public, 1)
    book.append(craft(book, [signed]))
    assert book.account(ALICE.public_key).nonce == 1


def test_block_signed_by_a_pem_key_from_cryptography(book, tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
    pem = Ed25519PrivateKey.from_private_bytes(b"v" * 32).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    proposer = Keypair.from_pem(pem)
    book.append(craft(book, [], proposer=proposer))
    assert book.height == 1


def test_chain_context_is_fixed_by_genesis():
    chain = Chain.from_genesis(GENESIS)
    assert chain.validators == {VALIDATOR.public_key} and chain.issuers == {ISSUER.public_key}
    assert chain.genesis_tip().height == 0 and chain.genesis_tip().hash == GENESIS.chain_id
