"""Review of the version-2 proofs (docs/FORMAT.md §12-§14): the check order of state and history
proofs step against step, proof objects given to the API that the binary decoder would refuse, and
checkpoint notes with a repeated trusted signature line that fails."""
from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from ledger import state_proofs
from ledger.checkpoint import Note, Signature, VerifierKey, make_checkpoint, sign_checkpoint, verify_note
from ledger.codec import decode_header, encode_header
from ledger.errors import BAD_ENCODING, LIMIT_EXCEEDED, LedgerError
from ledger.keys import Keypair
from ledger.proofs import PROOF_INVALID
from ledger.state_proofs import HistoryProof
from ledger.state_tree import Path

from tests.test_state_proofs import (
    ABSENT_OTHER, FORGED_SIGNATURE, HEADER, HEADERS, LEAVES, ORDER_4, OTHER_CHAIN, PRESENT_KEY, STRANGER, VALIDATOR,
    account_proof, history_proof, resign,
)

SIGNER = Keypair.from_seed(hashlib.sha256(b"review checkpoint signer").digest())


def failure(proof, trusted=None, chain_id=None, history=None) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        state_proofs.check_any_proof(proof, trusted, chain_id, history)
    return caught.value


# ---------------------------------------------------------------- checkpoints (§14)


def test_a_repeated_trusted_signature_line_that_fails_rejects_the_note():
    note = sign_checkpoint(make_checkpoint([b"a", b"b"], "example.com/log"), SIGNER)
    good = note.signatures[0]
    bad = Signature(good.name, good.key_id, bytes(64))
    key = VerifierKey("example.com/log", SIGNER.public_key)
    for signatures in ((good, bad), (bad, good)):
        with pytest.raises(LedgerError) as caught:
            verify_note(Note(note.text, signatures), [key])
        assert caught.value.code == PROOF_INVALID
    assert verify_note(Note(note.text, (good, good)), [key]) == (key,)


# ---------------------------------------------------------------- proof objects given to the API (§12 steps 2-3)


def test_a_present_value_with_an_other_leaf_is_refused_as_an_object_too():
    proof = account_proof(PRESENT_KEY)
    other = account_proof(ABSENT_OTHER).path.other
    spurious = replace(proof, path=Path(proof.path.siblings, other))
    assert failure(spurious).code == BAD_ENCODING
    assert not state_proofs.verify_state_proof(spurious)


def test_a_path_over_256_siblings_is_limit_exceeded_not_an_index_error():
    proof = account_proof(PRESENT_KEY)
    long = replace(proof, path=Path((b"\x01" * 32,) * 257, None))
    assert failure(long).code == LIMIT_EXCEEDED
    assert not state_proofs.verify_state_proof(long)


@pytest.mark.parametrize("value", [(2**64, 0), (0, 2**64), (-1, 0), (1,), (1, 2, 3)])
def test_an_account_value_out_of_range_is_bad_encoding(value):
    proof = replace(account_proof(PRESENT_KEY), value=value)
    assert failure(proof).code == BAD_ENCODING
    assert not state_proofs.verify_state_proof(proof)


# ---------------------------------------------------------------- the check order, step against step


def _with(header: bytes, **changes) -> bytes:
    """The header with fields changed, its signature kept (so it no longer holds)."""
    return encode_header(replace(decode_header(header), **changes))


V1_HEADER = _with(HEADER, version=1, history_root=b"")
SMALL_ORDER = _with(HEADER, proposer=ORDER_4, signature=FORGED_SIGNATURE[:32] + b"\x01" + bytes(31))
BAD_SIGNATURE = _with(HEADER, signature=bytes(64))


def test_state_proof_order():
    proof = account_proof(PRESENT_KEY)
    absent = account_proof(ABSENT_OTHER)
    other_key, other_value = absent.path.other
    off_path = replace(absent, path=Path(absent.path.siblings, (bytes([other_key[0] ^ 0x80]) + other_key[1:],
                                                                  other_value)))
    wrong_root = replace(proof, value=(1, 1))
    # 3 before 4: a present value with an other leaf, and a header that does not decode
    error = failure(replace(proof, header=b"\x00", path=Path(proof.path.siblings, absent.path.other)))
    assert error.code == BAD_ENCODING and "own leaf" in error.message
    # 4 before 5: a version-1 header of another chain
    assert failure(replace(proof, header=V1_HEADER), chain_id=OTHER_CHAIN).code == "bad-version"
    # 5 before 6: another chain and an other leaf off the path
    assert "another chain" in failure(off_path, chain_id=OTHER_CHAIN).message
    # 6 before 7: the other leaf off the path (the fold cannot reach the root either)
    assert "not on the key's path" in failure(off_path).message
    # 7 before 8, 9, 10: the root, whoever signed
    for header in (SMALL_ORDER, BAD_SIGNATURE, resign(HEADER, STRANGER)):
        error = failure(replace(wrong_root, header=header), [VALIDATOR.public_key])
        assert "state root" in error.message and error.height == 5
    # 8 before 9: a small-order proposer whose signature fails
    error = failure(replace(proof, header=SMALL_ORDER, path=_path_for(SMALL_ORDER)), [VALIDATOR.public_key])
    assert "small order" in error.message
    # 9 before 10: a failing signature of a key nobody trusts
    assert "signature" in failure(replace(proof, header=BAD_SIGNATURE), [STRANGER.public_key]).message
    assert "trusted" in failure(proof, [STRANGER.public_key]).message


def _path_for(header: bytes) -> Path:
    """The headers above all carry the same state root, so the path is the account's own."""
    assert decode_header(header).state_root == decode_header(HEADER).state_root
    return account_proof(PRESENT_KEY).path


def test_history_proof_order():
    proof = history_proof(5, 12)
    old_other = resign(HEADERS[5], chain_id=OTHER_CHAIN)
    garbage = tuple(b"\x05" * 32 for _ in proof.consistency)
    # 3: the old header's fault before the new one's
    error = failure(replace(proof, old_header=b"\x00", new_header=HEADERS[12][:-1]))
    assert "old header" in error.message
    # 3 before 4: the new header does not decode, the old one is of another chain
    error = failure(replace(proof, old_header=old_other, new_header=HEADERS[12][:-1]))
    assert error.code == BAD_ENCODING and "new header" in error.message
    # 4: the anchor, then the two chains; before 5 (heights in the wrong order)
    swapped_other = replace(proof, old_header=resign(HEADERS[12], chain_id=OTHER_CHAIN), new_header=HEADERS[5])
    assert "old header belongs to another chain" in failure(swapped_other, chain_id=chain_id_of(HEADERS[5])).message
    assert "different chains" in failure(swapped_other).message
    # 5 before 6
    swapped = replace(proof, old_header=HEADERS[12], new_header=HEADERS[5])
    assert "not below" in failure(swapped).message
    # 6 before 7
    both = replace(proof, consistency=garbage, inclusion=garbage)
    assert "consistency" in failure(both).message
    # 7 before 8: the inclusion proof, whoever signed
    bad_inclusion = replace(proof, inclusion=garbage, new_header=resign(HEADERS[12], STRANGER))
    assert "inclusion" in failure(bad_inclusion, [VALIDATOR.public_key]).message
    # 8: the old header's signer before the new one's; each: small order, signature, trust
    stranger_old = history_proof(5, 12, *_chain_with_stranger_at(5))
    new_bad = replace(stranger_old, new_header=_with(stranger_old.new_header, signature=bytes(64)))
    # (the new header's history root is unchanged, so steps 6-7 still hold)
    error = failure(new_bad, [VALIDATOR.public_key])
    assert "old header's proposer is not a trusted" in error.message and error.height == 12
    error = failure(new_bad)
    assert "new header" in error.message and "signature" in error.message


def chain_id_of(header: bytes) -> bytes:
    return decode_header(header).chain_id


def _chain_with_stranger_at(height: int):
    from tests.test_state_proofs import history_chain
    return history_chain(12, strangers=(height,))


# ---------------------------------------------------------------- checkpoint-verify reads a §14 note only


def _verify_note_cli(tmp_path, text: str, *args: str):
    from click.testing import CliRunner

    from ledger_cli.main import cli
    note = tmp_path / "note.txt"
    note.write_text(text, encoding="utf-8")
    return CliRunner().invoke(cli, ["checkpoint-verify", str(note), *args], catch_exceptions=False)


@pytest.mark.parametrize("extensions, size", [(("extra claim",), 1), ((), 0)])
def test_checkpoint_verify_refuses_what_a_ledger_checkpoint_cannot_hold(tmp_path, extensions, size):
    """A checkpoint of §14 is three lines (no extension line the output would not show) of a block
    log that holds at least the chain id (size >= 1): anything else the validator's key signed is
    not a ledger checkpoint, even though tlog-checkpoint allows it."""
    from ledger.checkpoint import Checkpoint
    origin = "ledger/" + "ab" * 32
    good = sign_checkpoint(Checkpoint(origin, 1, hashlib.sha256(b"root").digest()), SIGNER).to_text()
    result = _verify_note_cli(tmp_path, good, "--validator", SIGNER.public_key.hex())
    assert result.exit_code == 0, result.output
    text = sign_checkpoint(Checkpoint(origin, size, hashlib.sha256(b"root").digest(), extensions), SIGNER).to_text()
    result = _verify_note_cli(tmp_path, text, "--validator", SIGNER.public_key.hex())
    assert result.exit_code == 1 and result.stderr.startswith("error: bad-encoding")
    assert len(result.stderr.splitlines()) == 1


# ---------------------------------------------------------------- history proofs from height 0


def test_a_history_proof_from_height_0_is_refused():
    """No header has height 0 (§6: it decodes, but is never the next height). A validator's header at
    height 1 whose history root is the one leaf of a height-0 header's hash would verify the
    inclusion part with an empty path; the consistency part from the empty tree must not hold."""
    from ledger import merkle

    from tests.test_state_proofs import TREE, make_header
    zero = make_header(0, TREE.root(), merkle.root([]))
    one = make_header(1, TREE.root(), merkle.root([decode_header(zero).hash]))
    for consistency in ((), (merkle.root([]),)):
        proof = HistoryProof(zero, one, consistency, ())
        error = failure(proof, [VALIDATOR.public_key])
        assert error.code == PROOF_INVALID and "consistency" in error.message
        assert not state_proofs.verify_state_proof(proof.to_bytes())


# ---------------------------------------------------------------- JSON whose binary is a transaction proof


@pytest.mark.parametrize("kind", ["account", "history"])
def test_json_of_a_state_kind_holding_a_transaction_proof_is_proof_invalid(kind):
    """§12: the binary's kind other than `kind` is proof-invalid (a kind-3 binary raised AttributeError)."""
    import json

    from ledger.proofs import TxProof
    data = (account_proof(PRESENT_KEY) if kind == "account" else history_proof(5, 12)).to_json()
    data["proof"] = state_proofs.encode(TxProof(b"\x01", 0, (), HEADER)).hex()
    with pytest.raises(LedgerError) as caught:
        state_proofs.from_json(json.dumps(data))
    assert caught.value.code == PROOF_INVALID and "kind" in caught.value.message
    assert not state_proofs.verify_state_proof(json.dumps(data))


@pytest.mark.parametrize("digits", [21, 4301, 100_000])
def test_a_tree_size_of_many_digits_is_bad_encoding_not_a_value_error(tmp_path, digits):
    """Python refuses int() of over 4,300 digits with ValueError: the size is judged by its length first."""
    from ledger.checkpoint import parse_checkpoint
    text = "example.com/log\n" + "9" * digits + "\n" + "A" * 43 + "=\n"
    with pytest.raises(LedgerError) as caught:
        parse_checkpoint(text)
    assert caught.value.code == BAD_ENCODING
    result = _verify_note_cli(tmp_path, text + "\n\u2014 example.com/log AAAAAAA=\n", "--validator", "01" * 32)
    assert result.exit_code == 1 and result.stderr.startswith("error: bad-encoding")


# ---------------------------------------------------------------- the JSON reading order (§12 "JSON form")


def _json_error(data: dict) -> LedgerError:
    import json
    with pytest.raises(LedgerError) as caught:
        state_proofs.from_json(json.dumps(data))
    return caught.value


def test_json_reading_order():
    good = account_proof(PRESENT_KEY).to_json()
    # version missing before an unknown kind
    error = _json_error({k: v for k, v in good.items() if k != "version"} | {"kind": "nope"})
    assert error.code == BAD_ENCODING and "'version'" in error.message
    # a missing field (in written order) before an unknown one, before the version's value
    data = {k: v for k, v in good.items() if k not in ("nonce", "height")} | {"aaa": 1, "version": 2}
    assert "lacks the field 'height'" in _json_error(data).message
    assert "unknown field 'aaa'" in _json_error({**good, "aaa": 1, "version": 2}).message
    # the version before the proof's hex, the hex before the shown fields
    assert _json_error({**good, "version": 2, "proof": "XX"}).code == "bad-version"
    error = _json_error({**good, "proof": "XX", "height": "5"})
    assert error.code == BAD_ENCODING and "'proof'" in error.message
    # the binary's kind before its header: a record proof with a version-1 header under kind "account"
    from tests.test_state_proofs import PRESENT_NAME, PRESENT_OWNER, record_proof
    v1_record = record_proof(PRESENT_OWNER, PRESENT_NAME, header=V1_HEADER)
    error = _json_error({**good, "proof": v1_record.to_bytes().hex()})
    assert error.code == PROOF_INVALID and "kind" in error.message
    # the header before the shown fields
    v1_account = account_proof(PRESENT_KEY, header=V1_HEADER)
    assert _json_error({**good, "proof": v1_account.to_bytes().hex(), "height": "5"}).code == "bad-version"
    # the shown fields in order, each its type then its value
    error = _json_error({**good, "chain_id": "00" * 32, "height": "5"})
    assert error.code == PROOF_INVALID and "'chain_id'" in error.message
    error = _json_error({**good, "height": "5", "block_hash": "00" * 32})
    assert error.code == BAD_ENCODING and "'height'" in error.message
    # the shown fields before the checks from step 5 on (the proof's path no longer leads to the root)
    wrong = replace(account_proof(PRESENT_KEY), value=(1, 2))
    error = _json_error({**wrong.to_json(), "nonce": 3})
    assert error.code == PROOF_INVALID and "'nonce'" in error.message


def test_json_history_reads_the_old_header_first():
    good = history_proof(5, 12)
    both_v1 = replace(good, old_header=b"\x00", new_header=V1_HEADER)
    error = _json_error({**good.to_json(), "proof": both_v1.to_bytes().hex()})
    assert error.code == BAD_ENCODING and "old header" in error.message


# ---------------------------------------------------------------- an origin that is not UTF-8


def test_an_origin_that_is_not_utf8_is_a_usage_error(tmp_path):
    """A command-line argument's undecodable bytes reach Python as surrogates: the origin (also the
    key name) cannot be written as a note, so it is refused as the other unusable names are (exit 2),
    not a UnicodeEncodeError out of the signer."""
    from click.testing import CliRunner

    from ledger import encode_genesis, make_genesis
    from ledger.keys import save_keypair
    from ledger_cli.main import cli
    genesis = make_genesis("origin review", 1_000, [SIGNER.public_key], version=2)
    (tmp_path / "genesis.bin").write_bytes(encode_genesis(genesis))
    save_keypair(tmp_path / "v.pem", SIGNER)
    db = str(tmp_path / "db")
    assert CliRunner().invoke(cli, ["init", "--db", db, "--genesis", str(tmp_path / "genesis.bin")]).exit_code == 0
    for origin in ("\udcff", "log\udcff/x"):
        result = CliRunner().invoke(cli, ["checkpoint", "--db", db, "--key", str(tmp_path / "v.pem"),
                                          "--origin", origin])
        assert result.exit_code == 2, repr(result.exception)
        assert "--origin" in result.output
    with pytest.raises(ValueError):
        VerifierKey("\udcff", SIGNER.public_key)
