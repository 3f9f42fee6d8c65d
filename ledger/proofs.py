"""Transaction inclusion proofs up to a signed block header, verifiable without a store.

Implements docs/FORMAT.md §11 (the proof JSON) over §3 (RFC 9162 §2.1.3 inclusion proofs), §5 and §6.

A proof carries the signed transaction, its index, the Merkle audit path and the signed header.
Verifying it checks: both decode canonically; the transaction names the header's chain; the
path leads from the transaction id to the header's transaction root; the proposer's signature
over the header and the sender's signature over the transaction hold, and neither key is of small
order; and, if the verifier says whom it trusts, that the proposer is one of them.

The JSON form also shows fields for people (chain_id, height, block_hash, txid, tx_count). They are
derived from the bytes above, so `from_json` refuses a proof unless each one is exactly what the
bytes give: a verifier never shows a value it did not verify.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from ledger import merkle, signatures, strict_json
from ledger.codec import decode_header, decode_transaction
from ledger.errors import BAD_ENCODING, BAD_VERSION, LIMIT_EXCEEDED, LedgerError

PROOF_VERSION = 1
PROOF_INVALID = "proof-invalid"
# The proof holds together, but the caller named nothing it trusts (the CLI without an anchor).
PROOF_UNANCHORED = "proof-unanchored"
# A proof's largest honest JSON is under 12 KiB (a record transaction of 4,096 bytes is 8 KiB of
# hex; the header and a 16-node path under 2 KiB); the limit keeps hostile input small.
PROOF_JSON_BYTES_MAX = 64 * 1024
# A block has at most 65,536 transactions, so an audit path has at most 16 nodes.
AUDIT_PATH_NODES_MAX = 16
AUDIT_PATH_NODE_BYTES = 32
# Every field of the JSON form, in the order `to_json` writes them.
PROOF_FIELDS = ("version", "chain_id", "height", "block_hash", "txid", "index", "tx_count", "transaction",
                "audit_path", "header")
# Fields that carry the proof; the others are derived from these and checked against them.
_CARRIED = ("version", "transaction", "index", "audit_path", "header")
_LOWER_HEX = re.compile(r"(?:[0-9a-f]{2})*")


@dataclass(frozen=True, slots=True)
class TxProof:
    transaction: bytes   # canonical signed transaction
    index: int           # its position in the block
    audit_path: tuple[bytes, ...]
    header: bytes        # canonical signed block header

    def to_json(self) -> dict:
        header = decode_header(self.header)
        data = {
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
        assert tuple(data) == PROOF_FIELDS
        return data

    @classmethod
    def from_json(cls, data: dict | str | bytes) -> "TxProof":
        """Parse a proof's JSON (an object, text or UTF-8 bytes) strictly.

        Raises LedgerError: `bad-encoding` for input that is not a proof object of the right shape
        (not UTF-8, not JSON, a missing, unknown or duplicated field, a wrong type, hex that is not
        lowercase), `bad-version`, `limit-exceeded` for input over PROOF_JSON_BYTES_MAX, and
        `proof-invalid` when a shown field (chain_id, height, block_hash, txid, tx_count) is not
        what the transaction and header bytes give.
        """
        data = _json_object(data)
        _check_field_names(data, PROOF_FIELDS)
        version = _integer(data, "version")
        if version != PROOF_VERSION:
            raise LedgerError(BAD_VERSION, f"proof version {version} is not supported (only {PROOF_VERSION})")
        path = data["audit_path"]
        if type(path) is not list:
            raise _malformed("the proof's 'audit_path' field must be a list of hex strings")
        if len(path) > AUDIT_PATH_NODES_MAX:
            raise LedgerError(LIMIT_EXCEEDED, f"the audit path has {len(path)} nodes; at most "
                                              f"{AUDIT_PATH_NODES_MAX} fit a block")
        nodes = tuple(_hex(node, "audit_path") for node in path)
        if any(len(node) != AUDIT_PATH_NODE_BYTES for node in nodes):
            raise _malformed(f"each node of the proof's 'audit_path' is {AUDIT_PATH_NODE_BYTES} bytes")
        proof = cls(_hex(data["transaction"], "transaction"), _integer(data, "index"), nodes,
                    _hex(data["header"], "header"))
        derived = proof.to_json()
        for name in PROOF_FIELDS:
            if name in _CARRIED:
                continue
            if type(data[name]) is not type(derived[name]):
                kind = "an integer" if type(derived[name]) is int else "a hex string"
                raise _malformed(f"the proof's {name!r} field must be {kind}")
            if data[name] != derived[name]:
                source = "transaction" if name == "txid" else "header"
                raise LedgerError(PROOF_INVALID, f"the proof's {name!r} field is not the one its {source} bytes give")
        return proof


def _malformed(message: str) -> LedgerError:
    return LedgerError(BAD_ENCODING, message)


def _json_object(data: object) -> dict:
    """§11 steps 2-4 (and §12's JSON form): bytes must be UTF-8, text JSON, the value an object."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = _utf8(bytes(data))
    if isinstance(data, str):
        data = _parse(data)
    if not isinstance(data, dict):
        raise _malformed("a proof is a JSON object")
    return data


def _check_field_names(data: dict, fields) -> None:
    """§11 steps 5-6 (and §12's JSON form): the first missing field in the order given, then the
    first unknown field in sorted order, each bad-encoding."""
    missing = [name for name in fields if name not in data]
    if missing:
        raise _malformed(f"the proof JSON lacks the field {missing[0]!r}")
    unknown = sorted(str(name) for name in data if name not in fields)
    if unknown:
        raise _malformed(f"the proof JSON has an unknown field {unknown[0]!r}")


def _utf8(data: bytes) -> str:
    if len(data) > PROOF_JSON_BYTES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"the proof is over {PROOF_JSON_BYTES_MAX} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("the proof is not UTF-8 text (a proof is the JSON `ledger proof` prints)") from None


def _parse(text: str) -> object:
    if len(text) > PROOF_JSON_BYTES_MAX:
        raise LedgerError(LIMIT_EXCEEDED, f"the proof is over {PROOF_JSON_BYTES_MAX} bytes")
    try:
        return strict_json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise _malformed(f"the proof is not valid JSON ({reason})") from None


def _integer(data: dict, name: str) -> int:
    value = data[name]
    if type(value) is not int or not 0 <= value < 2**64:
        raise _malformed(f"the proof's {name!r} field must be an integer from 0 to 2**64 - 1")
    return value


def _hex(value: object, name: str) -> bytes:
    if type(value) is not str or not _LOWER_HEX.fullmatch(value):
        raise _malformed(f"the proof's {name!r} field must be lowercase hex")
    return bytes.fromhex(value)


def check_proof(proof: TxProof, trusted_validators: Iterable[bytes] | None = None,
                chain_id: bytes | None = None) -> None:
    """Raise LedgerError(code 'proof-invalid' or a decoding code) unless the proof holds.

    Without `trusted_validators` nothing ties the header to a chain the caller trusts: anyone can
    make a genesis, sign a block and prove a transaction in it. Pass the validators (and the chain
    id) of the chain you trust.
    """
    header = decode_header(proof.header)
    tx = decode_transaction(proof.transaction)
    if chain_id is not None and header.chain_id != chain_id:
        raise LedgerError(PROOF_INVALID, "the header belongs to another chain", header.height)
    if tx.chain_id != header.chain_id:
        raise LedgerError(PROOF_INVALID, "the transaction is signed for another chain", header.height, proof.index)
    if not merkle.verify_inclusion(tx.txid, proof.index, header.tx_count, list(proof.audit_path), header.tx_root):
        raise LedgerError(PROOF_INVALID, "the audit path does not lead to the header's transaction root",
                          header.height, proof.index)
    # A small-order key verifies forged signatures (R = identity, S = 0), so it proves nothing.
    if signatures.is_small_order(header.proposer):
        raise LedgerError(PROOF_INVALID, "the proposer key is of small order: anyone can sign for it", header.height)
    header_ok, transaction_ok = signatures.verify_batch([header.proposer, tx.sender], [header.hash, tx.txid],
                                                        [header.signature, tx.signature])
    if not header_ok:
        raise LedgerError(PROOF_INVALID, "the proposer's signature over the header does not hold", header.height)
    if signatures.is_small_order(tx.sender):
        raise LedgerError(PROOF_INVALID, "the sender key is of small order: anyone can sign for it",
                          header.height, proof.index)
    # The id and the Merkle root do not cover the signature, so it is checked on its own.
    if not transaction_ok:
        raise LedgerError(PROOF_INVALID, "the transaction's signature does not hold", header.height, proof.index)
    if trusted_validators is not None and header.proposer not in set(trusted_validators):
        raise LedgerError(PROOF_INVALID, "the header's proposer is not a trusted validator", header.height)


def verify_proof(proof: TxProof | dict | str | bytes, trusted_validators: Iterable[bytes] | None = None,
                 chain_id: bytes | None = None) -> bool:
    """True when the proof holds (see check_proof for the reason when it does not).

    `proof` is a TxProof or its JSON form (checked by TxProof.from_json, shown fields included).
    """
    try:
        if not isinstance(proof, TxProof):
            proof = TxProof.from_json(proof)
        check_proof(proof, trusted_validators, chain_id)
    except LedgerError:
        return False
    return True
