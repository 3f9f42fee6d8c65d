"""The order of docs/FORMAT.md §8, tested on every pair of faults in one block.

A table of faults (decoding faults, header rules, transaction rules, the state commitment of
version 1 or the history and state roots of version 2), each with its place in the documented
order, for a chain of each version. For every pair (A, B) a block at height 2 carries both:
A and B at two different transaction indexes in both arrangements, or at one index where they
can share a transaction. The first failure in the documented order must be what every path
reports, with the same code, height, index and message:

* sequential: `Ledger.append` (native decoder, validate.check_block verifying its own signatures);
* pipeline:   `Ledger.import_blocks` (decode thread, batched verifier thread, ledger.importer);
* twin:       the Python decoder (codec._Reader) and check_block over a snapshot.

Blocks are assembled by hand from their parts so that one transaction can be made non-canonical
while the others stay valid; a rejected block writes nothing, so one store serves every case.
"""
from __future__ import annotations

import dataclasses
import io
import itertools
import re
import struct
from pathlib import Path
from typing import Callable

import pytest

from ledger import Ledger, LedgerError, errors, limits, merkle
from ledger.builder import sign_header, sign_transaction
from ledger.chainfile import ChainReader
from ledger.codec import (
    Block, Mint, Record, Transaction, Transfer, decode_block_python, encode_block, encode_header, encode_transaction,
    encode_unsigned_transaction, make_genesis,
)
from ledger.hashing import transaction_id
from ledger.keys import Keypair
from ledger.state import LayeredState, apply_transactions, root_after, state_commitment
from ledger.validate import check_block

VALIDATOR = Keypair.from_seed(b"V" * 32)
ISSUER = Keypair.from_seed(b"I" * 32)
STRANGER = Keypair.from_seed(b"S" * 32)
DUPER = Keypair.from_seed(b"D" * 32)      # its block-1 transaction is the "already in the chain" one
BOB = Keypair.from_seed(b"B" * 32).public_key
RICH = Keypair.from_seed(b"R" * 32).public_key   # holds 2**64 - 1: any credit overflows
SLOTS = [Keypair.from_seed(bytes([0x40 + k]) * 32) for k in range(4)]   # one sender per transaction slot
ZERO_KEY = bytes(32)                      # small order; holds a balance (allowed: FORMAT.md §4)
IDENTITY = bytes([1]) + bytes(31)
OTHER_CHAIN = b"\x0c" * 32
FAULTED = (1, 2)                          # slots 0 and 3 always hold valid transactions

VERSIONS = (1, 2)
GENESES = {version: make_genesis("rule order", 1_000, [VALIDATOR.public_key], [ISSUER.public_key],
                                 {**{k.public_key: 1_000 for k in SLOTS}, DUPER.public_key: 1_000, ZERO_KEY: 1_000,
                                  RICH: limits.AMOUNT_MAX}, version=version)
           for version in VERSIONS}

# ---------------------------------------------------------------- the faults, in the documented order

# Decoding (byte order): header version, header tx_count limit, transactions-array limit, then each
# transaction's bytes in order (within one: the nonce is read before the kind).
DECODING = ["version", "count-limit", "array-limit"]
TX_DECODING = ["non-minimal-nonce", "unknown-kind"]
HEADER_V1 = ["header-chain", "height-zero", "height", "previous", "time", "count", "root", "proposer",
             "block-signature"]
HEADER = {1: HEADER_V1, 2: HEADER_V1[:4] + ["history"] + HEADER_V1[4:]}   # bad-history-root after bad-previous-hash
TX_RULES = ["tx-chain", "record-size", "small-order", "duplicate-in-block", "tx-signature", "duplicate-in-chain",
            "nonce", "overdraft", "not-issuer", "overflow"]
FINAL = {1: ["commitment"], 2: ["state-root"]}

CODE = {
    "version": errors.BAD_VERSION, "count-limit": errors.LIMIT_EXCEEDED, "array-limit": errors.LIMIT_EXCEEDED,
    "non-minimal-nonce": errors.BAD_ENCODING, "unknown-kind": errors.UNKNOWN_TX_KIND,
    "header-chain": errors.BAD_CHAIN_ID, "height-zero": errors.BAD_HEIGHT, "height": errors.BAD_HEIGHT,
    "previous": errors.BAD_PREVIOUS_HASH, "history": errors.BAD_HISTORY_ROOT, "time": errors.BAD_TIME,
    "count": errors.BAD_TX_COUNT,
    "root": errors.BAD_MERKLE_ROOT, "proposer": errors.UNKNOWN_PROPOSER, "block-signature": errors.BAD_BLOCK_SIGNATURE,
    "tx-chain": errors.BAD_CHAIN_ID, "record-size": errors.RECORD_TOO_LARGE, "small-order": errors.SMALL_ORDER_KEY,
    "duplicate-in-block": errors.DUPLICATE_TX, "tx-signature": errors.BAD_TX_SIGNATURE,
    "duplicate-in-chain": errors.DUPLICATE_TX, "nonce": errors.BAD_NONCE, "overdraft": errors.OVERDRAFT,
    "not-issuer": errors.NOT_ISSUER, "overflow": errors.OVERFLOW, "commitment": errors.BAD_STATE_COMMITMENT,
    "state-root": errors.BAD_STATE_ROOT,
}
POSITIONAL = set(TX_DECODING) | set(TX_RULES)
ALL = {version: DECODING + TX_DECODING + HEADER[version] + TX_RULES + FINAL[version] for version in VERSIONS}

# Pairs that cannot be in one block (both set one header field) or one transaction (a transaction
# has one kind; a copy of another transaction cannot differ from it).
HEADER_CONFLICTS = {frozenset(p) for p in [("count-limit", "count"), ("height-zero", "height")]}
KIND_OF = {"record-size": "record", "overdraft": "transfer", "not-issuer": "mint"}
WHOLE = {"duplicate-in-block", "duplicate-in-chain"}   # the transaction is a copy: no other rule can change it
BYTE_LEVEL = set(TX_DECODING)                            # patched into the bytes: composes with anything


def rank(version: int, fault: str, index: int | None) -> tuple:
    if fault in DECODING:
        return (0, DECODING.index(fault))
    if fault in TX_DECODING:
        return (0, len(DECODING), index, TX_DECODING.index(fault))
    if fault in HEADER[version]:
        return (1, HEADER[version].index(fault))
    if fault in TX_RULES:
        return (2, index, TX_RULES.index(fault))
    return (3,)


def can_share_transaction(a: str, b: str) -> bool:
    if a == b:
        return False
    if a in BYTE_LEVEL or b in BYTE_LEVEL:
        return True
    if a in WHOLE or b in WHOLE:
        return False
    kinds = {KIND_OF[f] for f in (a, b) if f in KIND_OF}
    return len(kinds) <= 1 and not ({a, b} == {"record-size", "overflow"})


def cases(version: int) -> list[tuple[tuple[str, int | None], ...]]:
    """Every pair of faults of a chain of `version` with their placements: ((fault, index), (fault, index))."""
    result = []
    for a, b in itertools.combinations_with_replacement(ALL[version], 2):
        if frozenset((a, b)) in HEADER_CONFLICTS:
            continue
        if a in POSITIONAL and b in POSITIONAL:
            result.append(((a, 1), (b, 2)))
            if a != b:
                result.append(((b, 1), (a, 2)))
            if can_share_transaction(a, b):
                result.append(((a, 1), (b, 1)))
        elif a == b:
            continue
        else:
            result.append(((a, 1 if a in POSITIONAL else None), (b, 1 if b in POSITIONAL else None)))
    return result


CASES = [(version, placed) for version in VERSIONS for placed in cases(version)]

# ---------------------------------------------------------------- building a block with faults


def _transaction(slot: int, faults: set[str], chained: Transaction, first: Transaction, chain: bytes) -> Transaction:
    if "duplicate-in-block" in faults:
        return first
    if "duplicate-in-chain" in faults:
        return chained
    sender = SLOTS[slot]
    sender_key = ZERO_KEY if "small-order" in faults else sender.public_key
    nonce = 1 + (5 if "nonce" in faults else 0)
    chain_id = OTHER_CHAIN if "tx-chain" in faults else chain
    to = RICH if "overflow" in faults else BOB
    if "record-size" in faults:
        body = Record(b"k" * (limits.RECORD_KEY_BYTES_MAX + 1), b"v")
    elif "not-issuer" in faults:
        body = Mint(to, 1)
    elif "overdraft" in faults:
        body = Transfer(to, 10**6)
    else:
        body = Transfer(to, 1)
    if "small-order" in faults:
        txid = transaction_id(encode_unsigned_transaction(chain_id, ZERO_KEY, nonce, body))
        s = 1 if "tx-signature" in faults else 0   # R = identity, S = 0 holds for a small-order key
        return Transaction(chain_id, ZERO_KEY, nonce, body, IDENTITY + s.to_bytes(32, "little"), txid)
    tx = sign_transaction(sender, chain_id, nonce, body)
    if "tx-signature" in faults:
        tx = dataclasses.replace(tx, signature=STRANGER.sign(tx.txid))
    assert tx.sender == sender_key
    return tx


def _patch_transaction(data: bytes, faults: set[str]) -> bytes:
    """Byte-level faults: the nonce (offset 69, one byte) in a non-minimal uint8; the kind made 7."""
    assert data[35:37] == b"\xc4\x20" and data[69] < 0x80 and data[70] <= 2
    if "unknown-kind" in faults:
        data = data[:70] + b"\x07" + data[71:]
    if "non-minimal-nonce" in faults:
        data = data[:69] + b"\xcc" + data[69:]
    return data


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes([0x90 | count])
    return b"\xdc" + struct.pack(">H", count) if count < 0x10000 else b"\xdd" + struct.pack(">I", count)


def build(book: Ledger, placed: tuple[tuple[str, int | None], ...]) -> bytes:
    faults = {f for f, _ in placed}
    per_slot = {slot: {f for f, i in placed if i == slot} for slot in range(4)}
    genesis = book.genesis
    chained = book.block(1).transactions[0]
    first = _transaction(0, set(), chained, None, genesis.chain_id)   # type: ignore[arg-type]
    txs = [first] + [_transaction(slot, per_slot[slot], chained, first, genesis.chain_id) for slot in (1, 2, 3)]
    tip = book.tip
    try:
        with book._store.snapshot() as snap:
            changes = apply_transactions(LayeredState(snap), frozenset(genesis.issuers), txs, tip.height + 1)
        if genesis.version == 1:
            commitment = state_commitment(tip.state_commitment, tip.height + 1, changes)
        else:
            commitment = root_after(book._state_tree(), changes)
    except LedgerError:
        commitment = bytes(32)
    header = dict(chain_id=genesis.chain_id, height=tip.height + 1, previous_hash=tip.hash, time_ms=tip.time_ms,
                  tx_count=len(txs), tx_root=merkle.root([t.txid for t in txs]), commitment=commitment,
                  history_root=b"" if tip.history is None else tip.history.root())
    header.update(_header_changes(header, faults))
    proposer = STRANGER if "proposer" in faults else VALIDATOR
    signed = sign_header(proposer, **header, version=genesis.version)
    if "block-signature" in faults:
        signed = dataclasses.replace(signed, signature=ISSUER.sign(signed.hash))
    header_bytes = encode_header(signed)
    if "version" in faults:   # the other known version, in this version's header shape
        shape = {1: b"\x9a\x01", 2: b"\x9b\x02"}[genesis.version]
        assert header_bytes[:2] == shape
        header_bytes = shape[:1] + bytes([3 - genesis.version]) + header_bytes[2:]
    tx_bytes = [_patch_transaction(encode_transaction(t), per_slot[slot]) for slot, t in enumerate(txs)]
    count = limits.TRANSACTIONS_PER_BLOCK_MAX + 1 if "array-limit" in faults else len(txs)
    data = b"\x92" + header_bytes + _array_header(count) + b"".join(tx_bytes)
    if not faults & {"version", "array-limit", "non-minimal-nonce", "unknown-kind"}:
        assert data == encode_block(Block(signed, tuple(txs)))   # the assembler is the encoder
    return data


HEADER_CHANGES: dict[str, Callable[[dict], dict]] = {
    "header-chain": lambda h: {"chain_id": OTHER_CHAIN},
    "height-zero": lambda h: {"height": 0},
    "height": lambda h: {"height": 5},
    "previous": lambda h: {"previous_hash": b"\x0f" * 32},
    "time": lambda h: {"time_ms": h["time_ms"] - 1},
    "count": lambda h: {"tx_count": h["tx_count"] + 1},
    "count-limit": lambda h: {"tx_count": limits.TRANSACTIONS_PER_BLOCK_MAX + 1},
    "root": lambda h: {"tx_root": bytes(32)},
    "history": lambda h: {"history_root": bytes(32)},
    "commitment": lambda h: {"commitment": b"\x05" * 32},
    "state-root": lambda h: {"commitment": b"\x05" * 32},
}


def _header_changes(header: dict, faults: set[str]) -> dict:
    changes: dict = {}
    for fault in faults & HEADER_CHANGES.keys():
        changes.update(HEADER_CHANGES[fault](header))
    return changes


# ---------------------------------------------------------------- the paths


def sequential(book: Ledger, data: bytes) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        book.append(data)
    return caught.value


def pipeline(book: Ledger, data: bytes) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        book.import_blocks([(book.height + 1, data)], threads=2)
    return caught.value


def twin(book: Ledger, data: bytes) -> LedgerError:
    tip = book.tip
    with pytest.raises(LedgerError) as caught:
        try:
            block = decode_block_python(data, book.chain.version)
        except LedgerError as error:
            raise error.at(tip.height + 1) from None
        with book._store.snapshot() as snap:
            check_block(book.chain, tip, snap, block, tree=book._state_tree() if tip.history is not None else None)
    return caught.value


PATHS = {"sequential": sequential, "pipeline": pipeline, "twin": twin}


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """A store of each version holding block 1 (one transfer of DUPER's)."""
    opened = {}
    try:
        for version, genesis in GENESES.items():
            ledger = opened[version] = Ledger.create(tmp_path_factory.mktemp(f"order-v{version}") / "db", genesis)
            builder = ledger.builder(VALIDATOR)
            builder.transaction(DUPER, Transfer(BOB, 1))
            ledger.append(builder.build(time_ms=2_000))
        yield opened
    finally:
        for ledger in opened.values():
            ledger.close()


@pytest.fixture(params=VERSIONS, ids=[f"v{version}" for version in VERSIONS])
def book(books, request):
    return books[request.param]


def test_each_fault_alone_gives_its_code(book):
    for fault in ALL[book.chain.version]:
        index = 1 if fault in POSITIONAL else None
        data = build(book, ((fault, index),))
        messages = set()
        for name, path in PATHS.items():
            error = path(book, data)
            assert (error.code, error.height, error.index) == (CODE[fault], 2, index), (fault, name, str(error))
            messages.add(error.message)
        assert len(messages) == 1, (fault, messages)
    assert book.height == 1


def test_a_block_without_faults_is_valid(book, tmp_path):
    """The base block is valid, so each fault of the table is the only thing wrong with it."""
    data = build(book, ())
    path = tmp_path / "copy.ledger"
    book.export_chain(path)
    with Ledger.create(tmp_path / "copy", book.genesis) as copy:
        copy.import_chain(path)
        copy.append(data)
        assert copy.height == 2


@pytest.mark.parametrize("version, placed", CASES,
                         ids=[f"v{v}-" + "+".join(f"{f}@{i}" if i is not None else f for f, i in p) for v, p in CASES])
def test_every_pair_reports_the_first_in_the_documented_order(books, version, placed):
    book = books[version]
    first = min(placed, key=lambda p: rank(version, *p))
    expected = (CODE[first[0]], 2, first[1])
    data = build(book, placed)
    seen = {}
    for name, path in PATHS.items():
        error = path(book, data)
        seen[name] = (error.code, error.height, error.index, error.message)
        assert seen[name][:3] == expected, (name, str(error))
    assert len(set(seen.values())) == 1, seen
    assert book.height == 1


def _documented_codes(heading: str) -> list[str]:
    """The codes of one table of FORMAT.md §8, row by row, in the order written."""
    text = (Path(__file__).parent.parent / "docs" / "FORMAT.md").read_text()
    section = text[text.index("## 8."):text.index("## 9.")]
    table = section[section.index(heading):].split("\n\n")[1]
    codes = []
    for row in table.splitlines()[2:]:
        cells = row.split("|")
        codes += re.findall(r"`([a-z-]+)`", cells[2 if heading.startswith("**4.") else 1])
    return codes


def test_the_order_tested_is_the_order_documented():
    """The header table lists version 2's rules, its version-2-only row saying so; step 5 is one
    paragraph per version."""
    header = [CODE[f] for f in HEADER[2] if f != "height-zero"]
    assert _documented_codes("**3. Header rules**") == header
    text = (Path(__file__).parent.parent / "docs" / "FORMAT.md").read_text()
    section = text[text.index("## 8."):text.index("## 9.")]
    only_2 = [code for code in header if f"| `{code}` | version 2 only" in section]
    assert only_2 == [errors.BAD_HISTORY_ROOT]
    assert [c for c in header if c not in only_2] == [CODE[f] for f in HEADER[1] if f != "height-zero"]
    assert _documented_codes("**4. Transactions**") == [CODE[f] for f in TX_RULES]
    assert re.findall(r"^\*\*5\. Commitment\.\*\* `([a-z-]+)`", section, re.M) == [CODE[f] for f in FINAL[1]]
    assert re.findall(r"^Version 2: \*\*5\. State root\.\*\* `([a-z-]+)`", section, re.M) == \
        [CODE[f] for f in FINAL[2]]


def test_the_table_covers_every_rule_code():
    rule_codes = {errors.BAD_ENCODING, errors.BAD_VERSION, errors.LIMIT_EXCEEDED, errors.UNKNOWN_TX_KIND,
                  errors.BAD_CHAIN_ID, errors.BAD_HEIGHT, errors.BAD_PREVIOUS_HASH, errors.BAD_TIME,
                  errors.BAD_TX_COUNT, errors.BAD_MERKLE_ROOT, errors.UNKNOWN_PROPOSER, errors.BAD_BLOCK_SIGNATURE,
                  errors.RECORD_TOO_LARGE, errors.SMALL_ORDER_KEY, errors.DUPLICATE_TX, errors.BAD_TX_SIGNATURE,
                  errors.BAD_NONCE, errors.OVERDRAFT, errors.NOT_ISSUER, errors.OVERFLOW, errors.BAD_STATE_COMMITMENT,
                  errors.BAD_HISTORY_ROOT, errors.BAD_STATE_ROOT}
    assert set(CODE.values()) == rule_codes
    assert all(sum(v == version for v, _ in CASES) > 400 for version in VERSIONS)


# ---------------------------------------------------------------- single faults outside the table


def test_block_over_the_size_limit_comes_before_everything(book):
    """Checked on the length alone, before one byte is decoded (FORMAT.md §8 step 1)."""
    data = build(book, (("version", None),)) + bytes(limits.BLOCK_BYTES_MAX)
    for name, path in PATHS.items():
        error = path(book, data)
        assert (error.code, error.height, error.index) == (errors.LIMIT_EXCEEDED, 2, None), name


def test_chain_file_version_other_than_1_is_bad_version(book, tmp_path):
    path = tmp_path / "chain.ledger"
    book.export_chain(path)
    raw = bytearray(path.read_bytes())
    for version in (0, 2, 0xFFFF):
        struct.pack_into(">H", raw, 8, version)
        with pytest.raises(LedgerError) as caught:
            ChainReader(io.BytesIO(bytes(raw)))
        assert caught.value.code == errors.BAD_VERSION and str(version) in caught.value.message
    raw[0] ^= 1
    with pytest.raises(LedgerError) as caught:
        ChainReader(io.BytesIO(bytes(raw)))
    assert caught.value.code == errors.BAD_CHAIN_FILE


def test_which_decoding_faults_carry_an_index(book):
    """FORMAT.md §8 step 2: faults met while reading transaction i carry i (the input ending where
    it should start included); the transaction array's length and trailing bytes carry none."""
    from ledger.codec import decode_block
    data = build(book, ())
    header_end = 1 + len(encode_header(book.block(1).header))   # every header here has the same size
    assert data[header_end] == 0x94
    body = data[header_end + 1:]
    variants = {
        "count says 6, 4 follow": (data[:header_end] + b"\x96" + body, 4),
        "non-minimal array length": (data[:header_end] + b"\xdc\x00\x04" + body, None),
        "trailing byte": (data + b"\x00", None),
        "last transaction cut": (data[:-1], 3),
    }
    for name, (variant, index) in variants.items():
        for decode in (decode_block, decode_block_python):
            with pytest.raises(LedgerError) as caught:
                decode(variant, book.chain.version)
            assert (caught.value.code, caught.value.index) == (errors.BAD_ENCODING, index), (name, decode)
