"""Transaction proofs (docs/FORMAT.md §11): every field bound, hostile headers refused, proof files
read without tracebacks, and the CLI's anchor rule.

The tamper tests take the list of fields from the proof JSON itself, so a field added to the format
later is tampered too. The crafted proofs carry a header validly signed by a trusted validator over
a malicious transaction, so only check_proof's own transaction rules can refuse them.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import (
    Keypair, Ledger, LedgerError, Mint, Record, Transaction, Transfer, TxProof, check_proof, crypto,
    decode_transaction, encode_genesis, encode_transaction, ed25519_ref, make_genesis, merkle,
    sign_transaction, verify_proof,
)
from ledger.builder import sign_header
from ledger.codec import decode_header, encode_header
from ledger.errors import BAD_ENCODING, BAD_VERSION, LIMIT_EXCEEDED
from ledger.proofs import PROOF_FIELDS, PROOF_INVALID, PROOF_JSON_BYTES_MAX, PROOF_UNANCHORED
from ledger_cli.main import cli

TIME_MS = 1_767_225_600_000
IDENTITY = bytes([1]) + bytes(31)                    # the neutral point: order 1
ORDER_2 = bytes([0xEC]) + bytes([0xFF] * 30) + bytes([0x7F])   # y = -1
ORDER_4 = bytes(32)                                  # y = 0, x = sqrt(-1)
FORGED_SIGNATURE = IDENTITY + bytes(32)              # R = identity, S = 0: holds for any small-order key


# ---------------------------------------------------------------- a chain with every kind of proof


def keypair(n: int) -> Keypair:
    return Keypair.from_seed(bytes([n]) * 32)


VALIDATOR, ISSUER, ALICE, BOB = keypair(1), keypair(2), keypair(3), keypair(4)
OTHER_VALIDATOR = keypair(5)


def genesis_of(name: str, validator: Keypair):
    return make_genesis(name, TIME_MS, [validator.public_key], [ISSUER.public_key],
                        {ALICE.public_key: 1_000, BOB.public_key: 1_000})


GENESIS = genesis_of("proofs", VALIDATOR)
SELF_MADE = genesis_of("self-made", OTHER_VALIDATOR)   # anyone can make a chain like this one


def build_chain(path: Path, genesis, validator: Keypair) -> dict[str, TxProof]:
    """Block 1 holds a transfer, a mint, a record and more (paths of several shapes); block 2 holds
    one lone record (an empty audit path). Returns one proof of each kind."""
    with Ledger.create(path, genesis) as book:
        builder = book.builder(validator)
        transfer = builder.transaction(ALICE, Transfer(BOB.public_key, 30))
        mint = builder.transaction(ISSUER, Mint(ALICE.public_key, 500))
        builder.transaction(BOB, Transfer(ALICE.public_key, 7))
        builder.transaction(ALICE, Record(b"filler", b"x"))
        record = builder.transaction(BOB, Record(b"certificate/42", b"issued"))
        book.append(builder.build(TIME_MS + 1))
        builder = book.builder(validator)
        lone = builder.transaction(ALICE, Record(b"certificate/43", bytes(range(256))))
        book.append(builder.build(TIME_MS + 2))
        proofs = {"transfer": book.prove(transfer.txid), "mint": book.prove(mint.txid),
                  "record": book.prove(record.txid), "lone": book.prove(lone.txid)}
    assert proofs["lone"].audit_path == ()
    assert proofs["record"].index == 4 and len(proofs["record"].audit_path) == 1   # the odd last leaf
    return proofs


@pytest.fixture(scope="module")
def proofs(tmp_path_factory) -> dict[str, TxProof]:
    return build_chain(tmp_path_factory.mktemp("proofs") / "db", GENESIS, VALIDATOR)


@pytest.fixture(scope="module")
def self_made_proof(tmp_path_factory) -> TxProof:
    return build_chain(tmp_path_factory.mktemp("self-made") / "db", SELF_MADE, OTHER_VALIDATOR)["transfer"]


@pytest.fixture(scope="module")
def genesis_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("genesis") / "genesis.bin"
    path.write_bytes(encode_genesis(GENESIS))
    return path


def anchored(proof) -> bool:
    return verify_proof(proof, [VALIDATOR.public_key], GENESIS.chain_id)


def verify_cli(*args: object, input: bytes | None = None):
    return CliRunner().invoke(cli, ["verify-proof", *map(str, args)], input=input, catch_exceptions=False)


def write(tmp_path: Path, data: object, name: str = "proof.json") -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def one_line_error(result, code: str) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"error: {code}"), lines[0]
    return lines[0]


# ---------------------------------------------------------------- the honest proofs hold


@pytest.mark.parametrize("kind", ["transfer", "mint", "record", "lone"])
def test_honest_proof_verifies_through_api_and_cli(proofs, genesis_file, tmp_path, kind):
    proof = proofs[kind]
    data = proof.to_json()
    assert tuple(data) == PROOF_FIELDS
    assert TxProof.from_json(json.dumps(data)) == proof
    assert TxProof.from_json(json.dumps(data).encode()) == proof
    assert anchored(proof) and anchored(data) and anchored(json.dumps(data))
    check_proof(proof, [VALIDATOR.public_key], GENESIS.chain_id)
    path = write(tmp_path, data)
    result = verify_cli(path, "--genesis", genesis_file)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"valid: transaction {data['txid']} is at index {data['index']} "
                                    f"of block {data['height']} ({data['block_hash']}) of chain {data['chain_id']}")
    assert "anchored by the genesis" in result.stdout
    result = verify_cli(path, "--validator", VALIDATOR.public_key.hex())
    assert result.exit_code == 0 and "anchored by trusted validator" in result.stdout


# ---------------------------------------------------------------- every field tampered, one at a time


def _other_hex(text: str) -> list[str]:
    if not text:
        return ["00"]
    data = bytes.fromhex(text)
    first, last = bytearray(data), bytearray(data)
    first[0] ^= 0x01
    last[-1] ^= 0x80
    return [first.hex(), last.hex(), text + "00", text[:-2]]


def tampered_values(value: object) -> list[object]:
    """Values of the same type as `value` that differ from it."""
    if type(value) is int:
        return [value + 1, value ^ 1, value + 2**32] + ([value - 1] if value else [])
    if type(value) is str:
        return _other_hex(value)
    if type(value) is list:
        changed: list[object] = [value + [value[-1] if value else "00" * 32], value[:-1] if value else ["00" * 32]]
        for position, item in enumerate(value):
            for other in tampered_values(item)[:2]:
                changed.append(value[:position] + [other] + value[position + 1:])
        if len(value) > 1:
            changed.append(value[::-1])
        return [c for c in changed if c != value]
    raise AssertionError(f"no tamper rule for {type(value).__name__}: add one for the new field")


def wrongly_typed_values(value: object) -> list[object]:
    others: list[object] = [None, True, 1.5, {}, "0"]
    if type(value) is int:
        others += [str(value), float(value)]
    elif type(value) is str:
        others += [int.from_bytes(bytes.fromhex(value[:16]), "big") if value else 0, value.upper() or "AA", [value]]
    else:
        others += [" ".join(value), [None] * max(1, len(value))]
    return [o for o in others if not (type(o) is type(value) and o == value)]


def tampered_proofs(proofs: dict[str, TxProof], values) -> list:
    cases = []
    for kind, proof in proofs.items():
        data = proof.to_json()
        for field in data:                    # the list of fields comes from the proof itself
            for value in values(data[field]):
                changed = copy.deepcopy(data)
                changed[field] = value
                cases.append((kind, field, value, changed))
    return cases


def test_every_field_has_a_tamper_rule(proofs):
    fields = {field for _kind, field, _value, _data in tampered_proofs(proofs, tampered_values)}
    assert fields == set(proofs["transfer"].to_json()) == set(PROOF_FIELDS)


def test_every_field_tampered_is_refused_by_the_api(proofs):
    cases = tampered_proofs(proofs, tampered_values) + tampered_proofs(proofs, wrongly_typed_values)
    assert len(cases) > 300
    for kind, field, value, data in cases:
        assert not anchored(data), (kind, field, value)
        assert not anchored(json.dumps(data)), (kind, field, value)
        assert not verify_proof(data), (kind, field, value)         # refused even without an anchor
        with pytest.raises(LedgerError) as caught:
            check_proof(TxProof.from_json(data), [VALIDATOR.public_key], GENESIS.chain_id)
        assert caught.value.code in {PROOF_INVALID, BAD_ENCODING, BAD_VERSION, LIMIT_EXCEEDED}, (kind, field, value)


@pytest.mark.parametrize("field", ["chain_id", "height", "block_hash", "txid", "tx_count"])
def test_shown_field_changed_is_proof_invalid_naming_the_field(proofs, field):
    data = proofs["transfer"].to_json()
    data[field] = tampered_values(data[field])[0]
    with pytest.raises(LedgerError) as caught:
        TxProof.from_json(data)
    assert caught.value.code == PROOF_INVALID and repr(field) in caught.value.message


def test_every_field_tampered_is_refused_by_the_cli(proofs, genesis_file, tmp_path):
    cases = tampered_proofs(proofs, tampered_values) + tampered_proofs(proofs, wrongly_typed_values)
    for kind, field, value, data in cases:
        for anchor in (["--genesis", genesis_file], ["--no-anchor"]):
            result = verify_cli(write(tmp_path, data), *anchor)
            assert result.exit_code == 1, (kind, field, value, result.output)
            assert result.stdout == "" and "Traceback" not in result.stderr
            line = result.stderr.splitlines()
            assert len(line) == 1 and line[0].startswith("error: ") and PROOF_UNANCHORED not in line[0], line


# ---------------------------------------------------------------- hostile transactions under an honest header


def craft(transactions: list[bytes], index: int, validator: Keypair = VALIDATOR,
          chain_id: bytes = GENESIS.chain_id) -> TxProof:
    """A proof of transactions[index] in a one-off block whose header `validator` really signs."""
    txids = [decode_transaction(data).txid for data in transactions]
    header = sign_header(validator, chain_id, 7, bytes(32), TIME_MS + 7, len(txids), merkle.root(txids), bytes(32),
                         version=1)
    return TxProof(transactions[index], index, tuple(merkle.inclusion_proof(txids, index)), encode_header(header))


def small_order_transaction(sender: bytes, chain_id: bytes = GENESIS.chain_id) -> bytes:
    tx = Transaction(chain_id, sender, 1, Transfer(BOB.public_key, 10**18), FORGED_SIGNATURE)
    data = encode_transaction(tx)
    # The forged signature holds: only the small-order rule can refuse this transaction.
    assert crypto.verify(sender, decode_transaction(data).txid, FORGED_SIGNATURE)
    assert ed25519_ref.verify(sender, decode_transaction(data).txid, FORGED_SIGNATURE)
    return data


def honest_transaction(nonce: int, chain_id: bytes = GENESIS.chain_id) -> bytes:
    return encode_transaction(sign_transaction(ALICE, chain_id, nonce, Transfer(BOB.public_key, 1)))


def test_the_crafting_is_sound():
    # The same crafted block with only honest transactions is accepted, so a refusal below is the rule's.
    transactions = [honest_transaction(1), honest_transaction(2), honest_transaction(3)]
    for index in range(3):
        check_proof(craft(transactions, index), [VALIDATOR.public_key], GENESIS.chain_id)


@pytest.mark.parametrize("sender", [IDENTITY, ORDER_2, ORDER_4], ids=["order-1", "order-2", "order-4"])
@pytest.mark.parametrize("index", [0, 1])
def test_small_order_sender_is_refused(sender, index, genesis_file, tmp_path):
    assert ed25519_ref.is_small_order(sender)
    transactions = [honest_transaction(1), honest_transaction(2)]
    transactions[index] = small_order_transaction(sender)
    proof = craft(transactions, index)
    with pytest.raises(LedgerError) as caught:
        check_proof(proof, [VALIDATOR.public_key], GENESIS.chain_id)
    assert caught.value.code == PROOF_INVALID and "small order" in caught.value.message
    assert caught.value.index == index
    assert not verify_proof(proof, [VALIDATOR.public_key], GENESIS.chain_id)
    line = one_line_error(verify_cli(write(tmp_path, proof.to_json()), "--genesis", genesis_file), PROOF_INVALID)
    assert "small order" in line


def test_transaction_of_another_chain_is_refused(genesis_file, tmp_path):
    # Alice really signed it, for another chain; a validator of ours put it in a block of ours.
    stolen = honest_transaction(1, SELF_MADE.chain_id)
    proof = craft([honest_transaction(1), stolen], 1)
    with pytest.raises(LedgerError) as caught:
        check_proof(proof, [VALIDATOR.public_key], GENESIS.chain_id)
    assert caught.value.code == PROOF_INVALID and "another chain" in caught.value.message
    assert not verify_proof(proof, [VALIDATOR.public_key], GENESIS.chain_id)
    assert not verify_proof(proof)
    line = one_line_error(verify_cli(write(tmp_path, proof.to_json()), "--genesis", genesis_file), PROOF_INVALID)
    assert "another chain" in line


def test_small_order_proposer_is_refused_even_when_trusted(tmp_path):
    # A header "signed" by a small-order key: the forged signature holds, but proves nothing.
    txids = [decode_transaction(honest_transaction(1)).txid]
    honest = sign_header(VALIDATOR, GENESIS.chain_id, 7, bytes(32), TIME_MS, 1, merkle.root(txids), bytes(32),
                         version=1)
    forged = type(honest)(honest.version, honest.chain_id, honest.height, honest.previous_hash, honest.time_ms,
                          honest.tx_count, honest.tx_root, honest.state_commitment, IDENTITY, FORGED_SIGNATURE)
    proof = TxProof(honest_transaction(1), 0, (), encode_header(forged))
    assert crypto.verify(IDENTITY, decode_header(proof.header).hash, FORGED_SIGNATURE)
    with pytest.raises(LedgerError) as caught:
        check_proof(proof, [IDENTITY])
    assert caught.value.code == PROOF_INVALID and "small order" in caught.value.message
    one_line_error(verify_cli(write(tmp_path, proof.to_json()), "--validator", IDENTITY.hex()), PROOF_INVALID)


# ---------------------------------------------------------------- anchoring


def test_without_an_anchor_the_cli_says_so_and_exits_1(proofs, self_made_proof, tmp_path):
    for proof in (proofs["transfer"], self_made_proof):
        path = write(tmp_path, proof.to_json())
        line = one_line_error(verify_cli(path), PROOF_UNANCHORED)
        assert "nothing anchors" in line
        result = verify_cli(path, "--no-anchor")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("valid: ") and "NOT anchored" in result.stdout


def test_self_made_chain_is_refused_by_our_anchor(self_made_proof, genesis_file, tmp_path):
    path = write(tmp_path, self_made_proof.to_json())
    one_line_error(verify_cli(path, "--genesis", genesis_file), PROOF_INVALID)
    one_line_error(verify_cli(path, "--validator", VALIDATOR.public_key.hex()), PROOF_INVALID)
    assert not anchored(self_made_proof)
    assert verify_proof(self_made_proof)    # the API without trusted validators checks consistency only


def test_a_chain_sharing_our_validator_is_refused_by_the_genesis_anchor(tmp_path_factory, genesis_file, tmp_path):
    # Our validator also signs blocks of another chain: its key alone does not say which chain.
    twin = genesis_of("twin", VALIDATOR)
    proof = build_chain(tmp_path_factory.mktemp("twin") / "db", twin, VALIDATOR)["record"]
    path = write(tmp_path, proof.to_json())
    line = one_line_error(verify_cli(path, "--genesis", genesis_file), PROOF_INVALID)
    assert "another chain" in line
    assert not anchored(proof)
    result = verify_cli(path, "--validator", VALIDATOR.public_key.hex())
    assert result.exit_code == 0 and f"of chain {twin.chain_id.hex()}" in result.stdout


def test_an_invalid_proof_is_reported_as_invalid_not_unanchored(proofs, tmp_path):
    data = proofs["transfer"].to_json()
    data["audit_path"][0] = _other_hex(data["audit_path"][0])[0]
    one_line_error(verify_cli(write(tmp_path, data)), PROOF_INVALID)


def test_no_anchor_with_an_anchor_is_a_usage_error(proofs, genesis_file, tmp_path):
    path = write(tmp_path, proofs["transfer"].to_json())
    assert verify_cli(path, "--no-anchor", "--genesis", genesis_file).exit_code == 2
    assert verify_cli(path, "--no-anchor", "--validator", VALIDATOR.public_key.hex()).exit_code == 2


def test_stdin_is_read_as_bytes(proofs, genesis_file):
    data = json.dumps(proofs["mint"].to_json()).encode()
    assert verify_cli("-", "--genesis", genesis_file, input=data).exit_code == 0
    one_line_error(verify_cli("-", "--genesis", genesis_file, input=b"\xff\xfe" + data), BAD_ENCODING)


# ---------------------------------------------------------------- proof files that are not proofs


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


MALFORMED = [
    ("binary", bytes(range(256)), BAD_ENCODING),
    ("latin-1", "{\"version\": 1, \"name\": \"caf\xe9\"}".encode("latin-1"), BAD_ENCODING),
    ("utf-16", "{}".encode("utf-16"), BAD_ENCODING),
    ("empty", b"", BAD_ENCODING),
    ("not json", b"{not json", BAD_ENCODING),
    ("array", b"[1, 2]", BAD_ENCODING),
    ("string", b"\"proof\"", BAD_ENCODING),
    ("null", b"null", BAD_ENCODING),
    ("NaN", b"{\"version\": NaN}", BAD_ENCODING),
    ("deep", _deep(30_000).encode(), BAD_ENCODING),
    ("huge", b" " * PROOF_JSON_BYTES_MAX + b"{}", LIMIT_EXCEEDED),
]


@pytest.mark.parametrize("name, data, code", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_proof_file_is_one_clear_line(name, data, code, genesis_file, tmp_path):
    with pytest.raises(LedgerError) as caught:
        TxProof.from_json(data)
    assert caught.value.code == code
    assert not verify_proof(data, [VALIDATOR.public_key])
    one_line_error(verify_cli(write(tmp_path, data), "--genesis", genesis_file), code)


def _structural_cases(data: dict) -> list:
    cases = []
    for field in data:
        missing = dict(data)
        del missing[field]
        cases.append((f"missing {field}", json.dumps(missing), BAD_ENCODING, field))
    cases.append(("unknown field", json.dumps({**data, "comment": "hi"}), BAD_ENCODING, "comment"))
    text = json.dumps(data)
    cases.append(("duplicate txid", text[:-1] + f', "txid": "{data["txid"]}"}}', BAD_ENCODING, "txid"))
    cases.append(("version 2", json.dumps({**data, "version": 2}), BAD_VERSION, "version"))
    cases.append(("long path", json.dumps({**data, "audit_path": ["00" * 32] * 17}), LIMIT_EXCEEDED, "audit path"))
    cases.append(("short node", json.dumps({**data, "audit_path": ["00" * 31]}), BAD_ENCODING, "32 bytes"))
    cases.append(("upper hex", json.dumps({**data, "header": data["header"].upper()}), BAD_ENCODING, "lowercase"))
    cases.append(("index as text", json.dumps({**data, "index": str(data["index"])}), BAD_ENCODING, "index"))
    cases.append(("height as float", json.dumps({**data, "height": float(data["height"])}), BAD_ENCODING, "height"))
    return cases


def test_structural_faults_have_stable_codes(proofs, genesis_file, tmp_path):
    for name, text, code, mention in _structural_cases(proofs["transfer"].to_json()):
        with pytest.raises(LedgerError) as caught:
            TxProof.from_json(text)
        assert caught.value.code == code, name
        assert mention in caught.value.message, (name, caught.value.message)
        one_line_error(verify_cli(write(tmp_path, text), "--genesis", genesis_file), code)


def test_proof_file_not_found_or_a_folder_is_a_usage_error(tmp_path):
    assert verify_cli(tmp_path / "nowhere.json", "--no-anchor").exit_code == 2
    assert verify_cli(tmp_path, "--no-anchor").exit_code == 2


HONEST_TEXT = None


def _honest_text() -> bytes:
    # Built once, outside the fixtures, so hypothesis can call the test many times.
    global HONEST_TEXT
    if HONEST_TEXT is None:
        transactions = [honest_transaction(1), honest_transaction(2), honest_transaction(3)]
        HONEST_TEXT = json.dumps(craft(transactions, 2).to_json()).encode()
    return HONEST_TEXT


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4))
def test_damaged_proof_text_gives_only_ledger_errors(edits):
    data = bytearray(_honest_text())
    for position, value in edits:
        data[position % len(data)] = value
    try:
        proof = TxProof.from_json(bytes(data))
    except LedgerError as error:
        assert error.code in {BAD_ENCODING, BAD_VERSION, LIMIT_EXCEEDED, PROOF_INVALID}
        return
    # What still parses is either the honest proof (an edit in whitespace or a repeated byte) or refused.
    if not anchored(proof):
        return
    assert proof == TxProof.from_json(_honest_text())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_give_only_ledger_errors(data):
    with pytest.raises(LedgerError):
        TxProof.from_json(data)
