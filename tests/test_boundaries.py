"""Boundary tests that pin exact limits, each deterministic (no sampling can miss them):

- integer and array length minimality (docs/FORMAT.md §1) at every width boundary, in every
  integer field of a block, through both the native decoder and its Python twin;
- the transaction count's array16/array32 forms around 15/16 and 65535/65536;
- balances reaching exactly 2^64 - 1 and one more (§8 `overflow`), for transfer and mint.
"""
from __future__ import annotations

import pytest

from ledger import Ledger, LedgerError, codec, limits, merkle
from ledger.builder import sign_header, sign_transaction
from ledger.codec import Block, BlockHeader, Mint, Transaction, Transfer, make_genesis
from ledger.errors import BAD_ENCODING, OVERFLOW
from ledger.keys import Keypair

# A uint64 no field holds by chance: its encoding marks the field to be re-encoded.
MARKER = 0xDEADBEEFCAFEBABE
MARKER_BYTES = b"\xcf" + MARKER.to_bytes(8, "big")

DECODERS = {"native": codec.decode_block, "python": codec.decode_block_python}


def transfer(nonce: int = 1, amount: int = 5) -> Transaction:
    return Transaction(b"\x01" * 32, b"\x11" * 32, nonce, Transfer(b"\x22" * 32, amount), b"\x33" * 64)


def header(**changes) -> BlockHeader:
    fields = dict(version=1, chain_id=b"\x01" * 32, height=7, previous_hash=b"\x02" * 32, time_ms=1000,
                  tx_count=2, tx_root=b"\x03" * 32, state_commitment=b"\x04" * 32, proposer=b"\x05" * 32,
                  signature=b"\x06" * 64)
    fields.update(changes)
    return BlockHeader(**fields)


def block_with_marker(field: str) -> bytes:
    """A two-transaction block whose `field` holds MARKER (exactly once in the bytes)."""
    txs = [transfer(nonce=3), transfer(nonce=4)]
    head = header()
    if field.startswith("header."):
        head = header(**{field[7:]: MARKER})
    else:
        index, name = int(field[2]), field[4:]
        if name == "amount":
            txs[index] = transfer(amount=MARKER)
        else:
            txs[index] = Transaction(**{**{s: getattr(txs[index], s) for s in Transaction.__slots__}, name: MARKER})
    data = codec.encode_block(Block(head, tuple(txs)))
    assert data.count(MARKER_BYTES) == 1
    return data


def outcome(decode, data: bytes):
    try:
        block = decode(data)
    except LedgerError as error:
        return ("error", error.code, error.index, str(error))
    return ("ok", codec.encode_block(block))


INTEGER_FIELDS = {   # field -> the transaction index an error there carries (None: the header)
    "header.version": None, "header.height": None, "header.time_ms": None, "header.tx_count": None,
    "tx0.nonce": 0, "tx0.amount": 0, "tx1.nonce": 1, "tx1.amount": 1,
}


def non_minimal(value: int, marker: int, width: int) -> bytes:
    return bytes([marker]) + value.to_bytes(width, "big")


@pytest.mark.parametrize("field", INTEGER_FIELDS)
@pytest.mark.parametrize("decoder", DECODERS)
def test_uint8_below_128_is_rejected_in_every_field(field, decoder):
    """0xcc followed by 0..127 is never canonical (a positive fixint holds it), whatever the value."""
    template = block_with_marker(field)
    for value in range(128):
        data = template.replace(MARKER_BYTES, non_minimal(value, 0xCC, 1))
        result = outcome(DECODERS[decoder], data)
        assert result[:3] == ("error", BAD_ENCODING, INTEGER_FIELDS[field]), (field, value, result)


@pytest.mark.parametrize("field", ["tx0.kind", "tx1.kind"])
@pytest.mark.parametrize("decoder", DECODERS)
def test_uint8_below_128_is_rejected_in_the_kind(field, decoder):
    template = codec.encode_block(Block(header(), (transfer(nonce=3), transfer(nonce=4))))
    index = int(field[2])
    kind_offset = _transaction_offsets(template)[index] + 1 + 34 + 34 + 1   # array, chain id, sender, nonce 3/4
    assert template[kind_offset] == 0x00
    for value in range(128):
        data = template[:kind_offset] + non_minimal(value, 0xCC, 1) + template[kind_offset + 1:]
        result = outcome(DECODERS[decoder], data)
        assert result[:3] == ("error", BAD_ENCODING, index), (value, result)


def _transaction_offsets(data: bytes) -> list[int]:
    """Where each transaction starts in a block of fixed-size transfers (0x96 c4 20 <chain id>)."""
    found, start = [], 0
    while (start := data.find(b"\x96\xc4\x20" + b"\x01" * 32, start)) >= 0:
        found.append(start)
        start += 1
    return found


WIDTHS = [(0xCC, 1, 0x80), (0xCD, 2, 0x100), (0xCE, 4, 0x10000), (0xCF, 8, 0x100000000)]


@pytest.mark.parametrize("field", ["header.height", "header.time_ms", "tx0.nonce", "tx1.amount"])
@pytest.mark.parametrize("decoder", DECODERS)
def test_each_integer_width_starts_where_the_previous_ends(field, decoder):
    """Below a width's smallest value: bad-encoding; at it and at the width's largest: accepted."""
    template = block_with_marker(field)
    for marker, width, smallest in WIDTHS:
        for value in (0, 1, smallest - 1):
            result = outcome(DECODERS[decoder], template.replace(MARKER_BYTES, non_minimal(value, marker, width)))
            assert result[:3] == ("error", BAD_ENCODING, INTEGER_FIELDS[field]), (marker, value, result)
        for value in (smallest, 256 ** width - 1):
            data = template.replace(MARKER_BYTES, non_minimal(value, marker, width))
            assert outcome(DECODERS[decoder], data) == ("ok", data), (marker, value)


def test_transaction_header_and_body_integers_in_the_single_object_decoders():
    """decode_transaction and decode_header (used by proofs) share the rule."""
    tx = codec.encode_transaction(transfer(nonce=MARKER))
    head = codec.encode_header(header(height=MARKER))
    for value in range(16, 128):
        for decode, data in ((codec.decode_transaction, tx), (codec.decode_header, head)):
            with pytest.raises(LedgerError) as caught:
                decode(data.replace(MARKER_BYTES, non_minimal(value, 0xCC, 1)))
            assert caught.value.code == BAD_ENCODING


# ---------------------------------------------------------------- the transaction count's array form

TX = codec.encode_transaction(transfer(nonce=9))


def block_bytes(count: int, form: str) -> bytes:
    """[header, transactions] with `count` copies of one transaction, the count in `form`."""
    length = {"fix": bytes([0x90 | count]) if count < 16 else None,
              "array16": b"\xdc" + count.to_bytes(2, "big") if count < 0x10000 else None,
              "array32": b"\xdd" + count.to_bytes(4, "big")}[form]
    assert length is not None
    return b"\x92" + codec.encode_header(header(tx_count=count)) + length + TX * count


COUNT_CASES = [
    (0, "array16", False), (1, "array16", False), (15, "array16", False), (15, "fix", True), (16, "array16", True),
    (0, "array32", False), (2, "array32", False), (16, "array32", False), (15, "array32", False),
    (65535, "array32", False), (65535, "array16", True), (65536, "array32", True),
]


@pytest.fixture(scope="module")
def count_blocks():
    return {(count, form): block_bytes(count, form) for count, form, _ in COUNT_CASES}


@pytest.mark.parametrize("count,form,canonical", COUNT_CASES)
@pytest.mark.parametrize("decoder", DECODERS)
def test_transaction_count_array_forms(count_blocks, count, form, canonical, decoder):
    data = count_blocks[(count, form)]
    result = outcome(DECODERS[decoder], data)
    if canonical:
        assert result == ("ok", data)
    else:
        # Refused at the length itself (no transaction index), not later for running out of input.
        assert result[:3] == ("error", BAD_ENCODING, None), result


@pytest.mark.parametrize("decoder", DECODERS)
def test_non_minimal_field_arrays_are_rejected(decoder):
    """The block, header, transaction and body arrays in array16 form (all hold fewer than 16)."""
    block = codec.encode_block(Block(header(tx_count=1), (transfer(nonce=9),)))
    head_at = 1
    tx_at = block.index(b"\x96\xc4\x20")
    body_at = block.index(b"\x92\xc4\x20\x22")
    for at, index in ((0, None), (head_at, None), (tx_at, 0), (body_at, 0)):
        size = block[at] & 0x0F
        data = block[:at] + b"\xdc" + size.to_bytes(2, "big") + block[at + 1:]
        assert outcome(DECODERS[decoder], data)[:3] == ("error", BAD_ENCODING, index), at


# ---------------------------------------------------------------- balances at 2^64 - 1

VALIDATOR = Keypair.from_seed(b"V" * 32)
ISSUER = Keypair.from_seed(b"I" * 32)
ALICE = Keypair.from_seed(b"A" * 32)
BOB = Keypair.from_seed(b"B" * 32)
FULL = limits.AMOUNT_MAX
assert FULL == 2**64 - 1


@pytest.fixture
def book(tmp_path):
    genesis = make_genesis("boundaries", 1_000, [VALIDATOR.public_key], [ISSUER.public_key],
                           {ALICE.public_key: FULL, BOB.public_key: FULL - 10},
                           version=1)   # `rejected` signs its own header: version 2's roots are not built here yet
    with Ledger.create(tmp_path / "db", genesis) as ledger:
        yield ledger


def append(book: Ledger, *txs: Transaction) -> None:
    builder = book.builder(VALIDATOR)
    for t in txs:
        builder.add(t)
    book.append(codec.encode_block(builder.build(book.tip.time_ms + 1)))


def rejected(book: Ledger, t: Transaction) -> LedgerError:
    """The builder and the validation of an appended block must both refuse `t`."""
    with pytest.raises(LedgerError) as by_builder:
        book.builder(VALIDATOR).add(t)
    tip = book.tip
    head = sign_header(VALIDATOR, book.chain_id, tip.height + 1, tip.hash, tip.time_ms + 1, 1,
                       merkle.root([t.txid]), bytes(32), version=1)
    with pytest.raises(LedgerError) as by_append:
        book.append(codec.encode_block(Block(head, (t,))))
    assert by_append.value.code == by_builder.value.code
    assert by_append.value.index == 0
    return by_append.value


def test_transfer_may_fill_a_balance_to_exactly_2_64_minus_1(book):
    chain = book.chain_id
    assert rejected(book, sign_transaction(ALICE, chain, 1, Transfer(BOB.public_key, 11))).code == OVERFLOW
    append(book, sign_transaction(ALICE, chain, 1, Transfer(BOB.public_key, 10)))
    assert book.account(BOB.public_key).balance == FULL
    assert book.account(ALICE.public_key).balance == FULL - 10
    assert rejected(book, sign_transaction(ALICE, chain, 2, Transfer(BOB.public_key, 1))).code == OVERFLOW
    # Back down by one, then exactly full again from a balance one below.
    append(book, sign_transaction(BOB, chain, 1, Transfer(ALICE.public_key, 1)))
    append(book, sign_transaction(ALICE, chain, 2, Transfer(BOB.public_key, 1)))
    assert book.account(BOB.public_key).balance == FULL


def test_mint_may_fill_a_balance_to_exactly_2_64_minus_1(book):
    chain = book.chain_id
    assert rejected(book, sign_transaction(ISSUER, chain, 1, Mint(BOB.public_key, 11))).code == OVERFLOW
    append(book, sign_transaction(ISSUER, chain, 1, Mint(BOB.public_key, 10)))
    assert book.account(BOB.public_key).balance == FULL
    assert rejected(book, sign_transaction(ISSUER, chain, 2, Mint(BOB.public_key, 1))).code == OVERFLOW
    append(book, sign_transaction(ISSUER, chain, 2, Mint(ISSUER.public_key, FULL)))   # from zero to full
    assert book.account(ISSUER.public_key).balance == FULL
    assert rejected(book, sign_transaction(ISSUER, chain, 3, Mint(ISSUER.public_key, 1))).code == OVERFLOW



@pytest.mark.parametrize("field", ["time_ms", "amount"])
def test_uint8_below_128_is_rejected_in_the_genesis(field):
    """(The version field is left out: decode_genesis checks the version before the encoding, so a
    non-minimal version other than 1 is bad-version there; the order of §8 is being settled.)"""
    genesis = make_genesis("g", 1_000, [VALIDATOR.public_key], [], {ALICE.public_key: 5})
    marked = codec.Genesis(genesis.version if field != "version" else MARKER, genesis.name,
                           MARKER if field == "time_ms" else genesis.time_ms, genesis.validators, genesis.issuers,
                           ((ALICE.public_key, MARKER if field == "amount" else 5),))
    template = codec.encode_genesis(marked)
    assert template.count(MARKER_BYTES) == 1
    for value in range(128):
        with pytest.raises(LedgerError) as caught:
            codec.decode_genesis(template.replace(MARKER_BYTES, non_minimal(value, 0xCC, 1)))
        assert caught.value.code == BAD_ENCODING, (field, value)
