"""Keys the protocol trusts must not be of small order (docs/FORMAT.md §4, §5).

Under ZIP-215 a key A whose order divides 8 "signs" every message: with R = identity and S = 0 the
cofactored equation [8][S]B = [8]R + [8][k]A holds for any k. So a small-order validator lets
anyone propose blocks, and a small-order issuer lets anyone mint (were the sender rule ever
relaxed). The genesis is refused (`bad-genesis`) wherever it enters: the decoder, make_genesis,
Ledger.create / Ledger.open and `ledger init`. Balance holders and recipients may be any key
(FORMAT.md §4 says why); the sender rule keeps a small-order holder from spending.

The 14 encodings are those of /work/shared/vectors/zip215_small_order_196.json: the 8 torsion
points in canonical form plus the 6 non-canonical encodings ZIP-215 decoding accepts.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import Ledger, LedgerError, crypto, ed25519_ref, errors, limits, merkle
from ledger.builder import sign_transaction
from ledger.codec import (
    Block, BlockHeader, Genesis, Transfer, decode_genesis, encode_block, encode_genesis, encode_unsigned_header,
    make_genesis,
)
from ledger.hashing import header_hash
from ledger.keys import Keypair
from ledger.storage import Store
from ledger.validate import Chain, check_block
from ledger.state import MemoryState, genesis_accounts

VECTORS = json.loads(Path("/work/shared/vectors/zip215_small_order_196.json").read_text())
SMALL_ORDER = [bytes.fromhex(h) for h in VECTORS["encodings"]]
ZERO_KEY = bytes(32)
IDENTITY = bytes([1]) + bytes(31)
VALIDATOR = Keypair.from_seed(b"v" * 32)
ISSUER = Keypair.from_seed(b"i" * 32)
ALICE = Keypair.from_seed(b"a" * 32)


def raw_genesis(validators=(), issuers=(), balances=(), version=1) -> Genesis:
    """A Genesis object made without make_genesis's checks (what a hostile file decodes to). Version
    1 by default: the forged headers below have the version-1 schema."""
    return Genesis(version, "small order", 1_000, tuple(sorted(validators)), tuple(sorted(issuers)),
                   tuple(sorted(balances)))


def test_the_encodings_are_all_small_order_in_both_twins():
    assert len(SMALL_ORDER) == len(set(SMALL_ORDER)) == 14
    assert ZERO_KEY in SMALL_ORDER and IDENTITY in SMALL_ORDER
    for key in SMALL_ORDER:
        assert crypto.is_small_order(key) and ed25519_ref.is_small_order(key), key.hex()
    for key in (VALIDATOR.public_key, ISSUER.public_key, ALICE.public_key):
        assert not crypto.is_small_order(key) and not ed25519_ref.is_small_order(key)


@pytest.mark.parametrize("key", SMALL_ORDER, ids=lambda k: k.hex()[:8] + ".." + k.hex()[-2:])
@pytest.mark.parametrize("role", ["validators", "issuers"])
def test_small_order_trusted_key_is_refused_everywhere(key, role):
    honest = VALIDATOR.public_key if role == "validators" else ISSUER.public_key
    keys = [key, honest]
    lists = {"validators": [VALIDATOR.public_key], "issuers": [ISSUER.public_key], role: keys}
    for version in limits.FORMAT_VERSIONS:
        with pytest.raises(LedgerError) as made:
            make_genesis("small order", 1_000, lists["validators"], lists["issuers"], version=version)
        assert made.value.code == errors.BAD_GENESIS and role[:-1] in made.value.message
        data = encode_genesis(raw_genesis(lists["validators"], lists["issuers"], version=version))
        with pytest.raises(LedgerError) as decoded:
            decode_genesis(data)
        assert decoded.value.code == errors.BAD_GENESIS


def test_small_order_balance_holder_is_accepted_but_cannot_spend(tmp_path):
    """A balance is no trust: only a signature moves it, and small-order senders are refused, so a
    balance at a small-order key is burned, as a transfer to one is."""
    genesis = make_genesis("burn", 1_000, [VALIDATOR.public_key], [], {ZERO_KEY: 5, ALICE.public_key: 9},
                           version=1)   # the forged header below has the version-1 schema
    assert decode_genesis(encode_genesis(genesis)) == genesis
    with Ledger.create(tmp_path / "db", genesis) as book:
        builder = book.builder(VALIDATOR)
        builder.add(sign_transaction(ALICE, genesis.chain_id, 1, Transfer(IDENTITY, 4)))   # a recipient: anything
        book.append(builder.build())
        assert book.account(IDENTITY).balance == 4
        # The holder "signs" with R = identity, S = 0, which ZIP-215 accepts for a small-order key.
        from ledger.codec import Transaction, encode_unsigned_transaction
        from ledger.hashing import transaction_id
        body = Transfer(ALICE.public_key, 5)
        txid = transaction_id(encode_unsigned_transaction(genesis.chain_id, ZERO_KEY, 1, body))
        spend = Transaction(genesis.chain_id, ZERO_KEY, 1, body, IDENTITY + bytes(32), txid)
        assert crypto.verify(ZERO_KEY, txid, spend.signature)   # the signature alone would pass
        tip = book.tip
        header = _forged_header(genesis.chain_id, tip.height + 1, tip.hash, tip.time_ms, [spend],
                                VALIDATOR.public_key, sign=VALIDATOR.sign)
        with pytest.raises(LedgerError) as caught:
            book.append(encode_block(Block(header, (spend,))))
        assert (caught.value.code, caught.value.index) == (errors.SMALL_ORDER_KEY, 0)


def _forged_header(chain_id, height, previous_hash, time_ms, txs, proposer, sign=None) -> BlockHeader:
    unsigned = BlockHeader(1, chain_id, height, previous_hash, time_ms, len(txs),
                           merkle.root([t.txid for t in txs]), bytes(32), proposer, b"")
    digest = header_hash(encode_unsigned_header(unsigned))
    signature = sign(digest) if sign else IDENTITY + bytes(32)   # R = identity, S = 0
    return BlockHeader(*[getattr(unsigned, f) for f in ("version", "chain_id", "height", "previous_hash", "time_ms",
                                                        "tx_count", "tx_root", "state_commitment", "proposer")],
                       signature, digest)


def _attack_block(genesis: Genesis) -> Block:
    """The attack of issue 7: a block "signed" by validator 00..00 with R = identity, S = 0.
    Its state commitment is right, so only the signature rule could stop it."""
    chain = Chain(genesis, genesis.chain_id, frozenset(genesis.validators), frozenset(genesis.issuers))
    tip = chain.genesis_tip()
    header = _forged_header(genesis.chain_id, 1, tip.hash, tip.time_ms, [], ZERO_KEY)
    from ledger.state import BlockChanges, state_commitment
    commitment = state_commitment(tip.state_commitment, 1, BlockChanges())
    unsigned = BlockHeader(*[getattr(header, f) for f in ("version", "chain_id", "height", "previous_hash", "time_ms",
                                                          "tx_count", "tx_root")], commitment, ZERO_KEY, b"")
    digest = header_hash(encode_unsigned_header(unsigned))
    forged = BlockHeader(*[getattr(unsigned, f) for f in ("version", "chain_id", "height", "previous_hash", "time_ms",
                                                          "tx_count", "tx_root", "state_commitment", "proposer")],
                         IDENTITY + bytes(32), digest)
    assert crypto.verify(ZERO_KEY, digest, forged.signature)   # the forgery passes the signature check alone
    return Block(forged, ())


def test_issue_attack_small_order_validator_is_impossible_end_to_end(tmp_path):
    hostile = raw_genesis([ZERO_KEY])
    data = encode_genesis(hostile)
    block = _attack_block(hostile)
    # Every way in refuses the genesis: the decoder, the API and a store made before the fix.
    with pytest.raises(LedgerError) as created:
        Ledger.create(tmp_path / "new", data)
    assert created.value.code == errors.BAD_GENESIS
    with pytest.raises(LedgerError) as made:
        make_genesis("x", 1_000, [ZERO_KEY])
    assert made.value.code == errors.BAD_GENESIS
    chain = Chain(hostile, hostile.chain_id, frozenset([ZERO_KEY]), frozenset())
    Store.create(tmp_path / "old", data, hostile.chain_id, chain.genesis_tip(), genesis_accounts(hostile)).close()
    with pytest.raises(LedgerError) as opened:
        Ledger.open(tmp_path / "old")
    assert opened.value.code == errors.BAD_GENESIS
    # The forged block is a real threat: a chain context built around the checks accepts it ...
    check_block(chain, chain.genesis_tip(), MemoryState(hostile), block)
    # ... and validation itself will not build such a context.
    with pytest.raises(LedgerError) as context:
        Chain.from_genesis(hostile)
    assert context.value.code == errors.BAD_GENESIS


def test_cli_init_refuses_a_small_order_validator(tmp_path):
    from ledger_cli.main import cli
    spec = {"name": "x", "time_ms": 1_000, "validators": [ZERO_KEY.hex()], "issuers": [], "balances": {}}
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(spec))
    result = CliRunner().invoke(cli, ["init", "--db", str(tmp_path / "db"), "--genesis", str(path)])
    assert result.exit_code == 1, result.output
    assert "bad-genesis" in result.output
    assert not (tmp_path / "db" / "data.mdb").exists()
    raw = tmp_path / "genesis.bin"
    raw.write_bytes(encode_genesis(raw_genesis([VALIDATOR.public_key], [IDENTITY])))
    result = CliRunner().invoke(cli, ["init", "--db", str(tmp_path / "db2"), "--genesis", str(raw)])
    assert result.exit_code == 1 and "bad-genesis" in result.output, result.output


def test_cli_import_of_the_attack_chain_file_is_refused(tmp_path):
    """The issue's attack as a chain file: the hostile genesis, then the forged block 1."""
    from ledger.chainfile import ChainWriter
    from ledger_cli.main import cli
    hostile = raw_genesis([ZERO_KEY])
    path = tmp_path / "attack.ledger"
    with ChainWriter(path, encode_genesis(hostile)) as writer:
        writer.write_block(encode_block(_attack_block(hostile)))
    result = CliRunner().invoke(cli, ["import", str(path), "--db", str(tmp_path / "db")])
    assert result.exit_code == 1, result.output
    assert "bad-genesis" in result.output
    assert not (tmp_path / "db" / "data.mdb").exists()
