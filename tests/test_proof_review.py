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
