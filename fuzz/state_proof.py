"""Binary and JSON proofs of every kind (ledger.state_proofs: load_proof, check_any_proof; FORMAT.md
§12-§13), anchored to a fixed state and fixed headers signed here: any input gives an accepted proof
or one LedgerError, never another exception; a decoded proof re-encodes to the input; and an accepted
proof states only what is true (nobody but the validator can sign a header, so anything else is a
forgery the verifier let through): the value the state holds, or history between genuine headers."""
from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache

from ledger import merkle, state_proofs, state_tree
from ledger.codec import BlockHeader, encode_header, encode_unsigned_header
from ledger.errors import LedgerError
from ledger.hashing import header_hash
from ledger.keys import Keypair
from ledger.state_proofs import AccountProof, HistoryProof, RecordProof
from ledger.state_tree import StateTree

VALIDATOR = Keypair.from_seed(b"fuzz state validator".ljust(32, b"."))
CHAIN_ID = bytes(range(32))
ACCOUNTS = {bytes([n]) * 32: (n * 100, n % 3) for n in range(1, 40)}
RECORDS = {(bytes([n % 4 + 1]) * 32, b"cert/%d" % n): b"v" * (n % 5) for n in range(40)}


@lru_cache(maxsize=None)
def _fixture() -> tuple[StateTree, dict[bytes, BlockHeader], list[bytes]]:
    tree = StateTree()
    tree.update([(state_tree.account_key_hash(k), state_tree.account_value_hash(*v)) for k, v in ACCOUNTS.items()])
    tree.update([(state_tree.record_key_hash(o, k), state_tree.record_value_hash(v)) for (o, k), v in RECORDS.items()])
    leaves, headers = [CHAIN_ID], {}
    for height in range(1, 6):
        unsigned = BlockHeader(2, CHAIN_ID, height, b"\x01" * 32, height, 0, merkle.root([]), tree.root(),
                               VALIDATOR.public_key, b"", b"", merkle.root(leaves))
        digest = header_hash(encode_unsigned_header(unsigned))
        header = replace(unsigned, signature=VALIDATOR.sign(digest), hash=digest)
        headers[encode_header(header)] = header
        leaves.append(digest)
    return tree, headers, leaves


def test_one_input(data: bytes) -> None:
    tree, headers, _ = _fixture()
    try:
        proof = state_proofs.load_proof(data)
    except LedgerError:
        return
    if data[:1] != b"{":
        assert state_proofs.encode(proof) == data, "a decoded proof does not re-encode to its bytes"
    try:
        state_proofs.check_any_proof(proof, [VALIDATOR.public_key], CHAIN_ID)
    except LedgerError:
        return
    if isinstance(proof, HistoryProof):
        old, new = headers.get(proof.old_header), headers.get(proof.new_header)
        assert old is not None and new is not None and old.height < new.height, "accepted a forged history proof"
    elif isinstance(proof, AccountProof):
        assert proof.header in headers and proof.value == ACCOUNTS.get(proof.public_key), "accepted a false account"
    elif isinstance(proof, RecordProof):
        assert proof.header in headers and proof.value == RECORDS.get((proof.owner, proof.key)), \
            "accepted a false record"
    else:
        raise AssertionError("accepted a transaction proof against headers that hold no transaction")


def _seeds() -> dict[str, bytes]:
    tree, headers, leaves = _fixture()
    header_bytes = list(headers)
    owner, key = next(iter(RECORDS))
    proofs = {
        "account": state_proofs.prove_account(tree, b"\x05" * 32, ACCOUNTS[b"\x05" * 32], header_bytes[2]),
        "account-absent": state_proofs.prove_account(tree, b"\xee" * 32, None, header_bytes[2]),
        "record": state_proofs.prove_record(tree, owner, key, RECORDS[(owner, key)], header_bytes[4]),
        "record-absent": state_proofs.prove_record(tree, owner, b"never", None, header_bytes[0]),
        "history": state_proofs.prove_history(leaves[:5], header_bytes[1], header_bytes[4]),
    }
    seeds = {name: proof.to_bytes() for name, proof in proofs.items()}
    seeds["record-json"] = json.dumps(proofs["record"].to_json()).encode()
    return seeds


SEEDS = _seeds()
