"""Transaction inclusion proofs up to a signed block header, verifiable without a store.

Specification: docs/FORMAT.md §3 and §6; audit paths as in RFC 9162 §2.1.3.

A proof carries the signed transaction, its index, the Merkle audit path and the signed header.
Verifying it checks: both decode canonically; the transaction names the header's chain; the
path leads from the transaction id to the header's transaction root; the proposer's signature
over the header holds; and, if the verifier says whom it trusts, that the proposer is one of them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from ledger import merkle, signatures
from ledger.codec import decode_header, decode_transaction
from ledger.errors import BAD_ENCODING, LedgerError

PROOF_VERSION = 1
PROOF_INVALID = "proof-invalid"


@dataclass(frozen=True, slots=True)
class TxProof:
    transaction: bytes   # canonical signed transaction
    index: int           # its position in the block
    audit_path: tuple[bytes, ...]
    header: bytes        # canonical signed block header

    def to_json(self) -> dict:
        header = decode_header(self.header)
        return {
            "version": PROOF_VERSION,
            "chain_id": header.chain_id.hex(),
            "height": header.height,
            "block_hash": header.hash.hex(),
            "txid": decode_transaction(self.transaction).txid.hex(),
            "index": self.index,
            "tx_count": header.tx_count,
            "transaction": self.transaction.hex(),
            "audit_path": [node.hex() for node in self.audit_path],
            "header": self.header.hex(),
        }

    @classmethod
    def from_json(cls, data: dict | str) -> "TxProof":
        try:
            if isinstance(data, str):
                data = json.loads(data)
            if data["version"] != PROOF_VERSION:
                raise LedgerError(BAD_ENCODING, f"proof version {data['version']} is not supported")
            return cls(bytes.fromhex(data["transaction"]), int(data["index"]),
                       tuple(bytes.fromhex(node) for node in data["audit_path"]), bytes.fromhex(data["header"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LedgerError(BAD_ENCODING, f"the proof JSON is malformed ({exc.__class__.__name__}: {exc})") from None


def check_proof(proof: TxProof, trusted_validators: Iterable[bytes] | None = None,
                chain_id: bytes | None = None) -> None:
    """Raise LedgerError(code 'proof-invalid' or a decoding code) unless the proof holds."""
    header = decode_header(proof.header)
    tx = decode_transaction(proof.transaction)
    if chain_id is not None and header.chain_id != chain_id:
        raise LedgerError(PROOF_INVALID, "the header belongs to another chain", header.height)
    if tx.chain_id != header.chain_id:
        raise LedgerError(PROOF_INVALID, "the transaction is signed for another chain", header.height, proof.index)
    if not merkle.verify_inclusion(tx.txid, proof.index, header.tx_count, list(proof.audit_path), header.tx_root):
        raise LedgerError(PROOF_INVALID, "the audit path does not lead to the header's transaction root",
                          header.height, proof.index)
    header_ok, transaction_ok = signatures.verify_batch([header.proposer, tx.sender], [header.hash, tx.txid],
                                                        [header.signature, tx.signature])
    if not header_ok:
        raise LedgerError(PROOF_INVALID, "the proposer's signature over the header does not hold", header.height)
    # The id and the Merkle root do not cover the signature, so it is checked on its own.
    if not transaction_ok or signatures.is_small_order(tx.sender):
        raise LedgerError(PROOF_INVALID, "the transaction's signature does not hold", header.height, proof.index)
    if trusted_validators is not None and header.proposer not in set(trusted_validators):
        raise LedgerError(PROOF_INVALID, "the header's proposer is not a trusted validator", header.height)


def verify_proof(proof: TxProof, trusted_validators: Iterable[bytes] | None = None,
                 chain_id: bytes | None = None) -> bool:
    """True when the proof holds (see check_proof for the reason when it does not)."""
    try:
        check_proof(proof, trusted_validators, chain_id)
    except LedgerError:
        return False
    return True
