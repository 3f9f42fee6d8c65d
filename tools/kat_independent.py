#!/usr/bin/env python3
"""Known-answer vectors for the `ledger` format, computed independently of the engine.

Implements docs/FORMAT.md (version 1) §1-§7 from the text alone: canonical msgpack through the
`msgpack` package, domain-separated keyed BLAKE3 through the `blake3` package, Ed25519 signing
(RFC 8032, deterministic) through PyNaCl. It imports nothing from `ledger`, so a value the engine
reproduces was not computed by the code under test. The output, tests/vectors/kat.json, is
committed as data and checked by tests/test_kat.py.

    python tools/kat_independent.py > tests/vectors/kat.json
"""
from __future__ import annotations

import json
import sys

import blake3
import msgpack
import nacl.signing

# §2: each key is BLAKE3-derive_key(context, b"").
CONTEXTS = {
    "transaction": "ledger 2026-11-26 v1 transaction id",
    "merkle_leaf": "ledger 2026-11-26 v1 merkle leaf",
    "merkle_node": "ledger 2026-11-26 v1 merkle node",
    "block_header": "ledger 2026-11-26 v1 block header",
    "genesis": "ledger 2026-11-26 v1 genesis",
    "state": "ledger 2026-11-26 v1 state",
}
KEYS = {name: blake3.blake3(b"", derive_key_context=context).digest() for name, context in CONTEXTS.items()}


def keyed(kind: str, data: bytes) -> bytes:
    return blake3.blake3(data, key=KEYS[kind]).digest()


def pack(value: object) -> bytes:
    """§1: msgpack-python already picks the shortest form of every int, bin, str and array."""
    return msgpack.packb(value, use_bin_type=True)


# §3: the RFC 9162 tree shape with the keyed leaf and node hashes.
def merkle_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return keyed("merkle_node", b"")
    if len(leaves) == 1:
        return keyed("merkle_leaf", leaves[0])
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return keyed("merkle_node", merkle_root(leaves[:split]) + merkle_root(leaves[split:]))


def signer(seed_byte: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(bytes([seed_byte]) * 32)


def public(key: nacl.signing.SigningKey) -> bytes:
    return bytes(key.verify_key)


def sign(key: nacl.signing.SigningKey, message: bytes) -> bytes:
    return key.sign(message).signature


TRANSFER, MINT, RECORD = 0, 1, 2


def main() -> None:
    validator, issuer, alice, bob, carol = (signer(b) for b in (1, 2, 3, 4, 5))
    genesis_time = 1_764_000_000_000

    # §4: [version, name, time_ms, validators, issuers, balances], keys strictly ascending.
    balances = sorted([[public(alice), 1000], [public(bob), 2**64 - 2]])
    genesis = pack([1, "kat", genesis_time, [public(validator)], [public(issuer)], balances])
    chain_id = keyed("genesis", genesis)

    # §7: commitment(0) over the genesis entries [0, key, balance, 0].
    commitment = keyed("state", chain_id + pack([0, [[0, key, amount, 0] for key, amount in balances]]))

    state = {public(alice): [1000, 0], public(bob): [2**64 - 2, 0]}
    vectors: dict = {
        "source": "tools/kat_independent.py, from docs/FORMAT.md v1 (blake3, msgpack, PyNaCl; no ledger code)",
        "hash_keys": {name: key.hex() for name, key in KEYS.items()},
        "genesis": {"encoding": genesis.hex(), "chain_id": chain_id.hex(), "state_commitment": commitment.hex()},
        "transactions": [],
        "blocks": [],
    }

    def transaction(key, nonce: int, kind: int, body: list) -> dict:
        # §5: the unsigned encoding has five fields; the signature is over the 32-byte txid.
        unsigned = pack([chain_id, public(key), nonce, kind, body])
        txid = keyed("transaction", unsigned)
        signature = sign(key, txid)
        signed = pack([chain_id, public(key), nonce, kind, body, signature])
        vector = {"encoding": signed.hex(), "unsigned": unsigned.hex(), "txid": txid.hex(), "kind": kind}
        vectors["transactions"].append(vector)
        return {"fields": [chain_id, public(key), nonce, kind, body, signature], "txid": txid, "sender": public(key), "kind": kind, "body": body, "nonce": nonce}

    def apply(txs: list[dict], height: int) -> bytes:
        """The §7 changes of one block (all transactions valid by construction), chained."""
        nonlocal commitment
        touched: dict[bytes, list[int]] = {}
        records: dict[tuple[bytes, bytes], bytes] = {}

        def account(key: bytes) -> list[int]:
            if key not in touched:
                touched[key] = list(state.get(key, [0, 0]))
            return touched[key]

        for tx in txs:
            sender = account(tx["sender"])
            assert tx["nonce"] == sender[1] + 1
            sender[1] = tx["nonce"]
            if tx["kind"] == TRANSFER:
                to, amount = tx["body"]
                sender[0] -= amount
                account(to)[0] += amount
            elif tx["kind"] == MINT:
                to, amount = tx["body"]
                account(to)[0] += amount
            else:
                records[(tx["sender"], tx["body"][0])] = tx["body"][1]
        for key, value in touched.items():
            assert 0 <= value[0] <= 2**64 - 1
            state[key] = value
        entries = [[0, key, *touched[key]] for key in sorted(touched)]
        entries += [[1, owner, key, records[(owner, key)]] for owner, key in sorted(records)]
        commitment = keyed("state", commitment + pack([height, entries]))
        return commitment

    def block(height: int, previous_hash: bytes, time_ms: int, txs: list[dict]) -> bytes:
        root = merkle_root([tx["txid"] for tx in txs])
        state_commitment = apply(txs, height)
        fields = [1, chain_id, height, previous_hash, time_ms, len(txs), root, state_commitment, public(validator)]
        block_hash = keyed("block_header", pack(fields))
        encoding = pack([fields + [sign(validator, block_hash)], [tx["fields"] for tx in txs]])
        vectors["blocks"].append({"height": height, "encoding": encoding.hex(), "block_hash": block_hash.hex(),
                                  "tx_root": root.hex(), "state_commitment": state_commitment.hex(),
                                  "txids": [tx["txid"].hex() for tx in txs]})
        return block_hash

    block_one = [
        transaction(alice, 1, TRANSFER, [public(carol), 250]),
        transaction(issuer, 1, MINT, [public(carol), 5]),
        transaction(carol, 1, RECORD, [b"name", b"carol"]),
        transaction(bob, 1, TRANSFER, [public(bob), 7]),                 # to oneself: only the nonce moves
        transaction(carol, 2, RECORD, [b"", b""]),                       # empty key and value
    ]
    hash_one = block(1, chain_id, genesis_time + 1000, block_one)
    block_two = [
        transaction(carol, 3, TRANSFER, [public(bob), 1]),               # bob reaches 2^64 - 1 exactly
        transaction(carol, 4, RECORD, [b"name", b"carol v2"]),
        transaction(carol, 5, RECORD, [b"name", b"carol v3"]),           # the latest write is committed
        transaction(issuer, 2, MINT, [public(issuer), 2**32]),
        transaction(alice, 2, RECORD, [b"k" * 64, bytes(range(256)) * 16]),  # the size limits exactly
    ]
    block(2, hash_one, genesis_time + 1000, block_two)

    # §3 on its own: roots of 0..9 and 16, 17 leaves (each leaf a 32-byte string i || 0...).
    leaves = [bytes([i]) + bytes(31) for i in range(17)]
    vectors["merkle"] = [{"leaves": size, "root": merkle_root(leaves[:size]).hex()} for size in (*range(10), 16, 17)]
    vectors["merkle_leaf_rule"] = "leaf i is the 32 bytes [i, 0, 0, ..., 0]"
    json.dump(vectors, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
