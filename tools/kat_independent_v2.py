#!/usr/bin/env python3
"""Known-answer vectors for chain format version 2, computed independently of the engine.

Implements docs/FORMAT.md version 2 from the text alone: §1 (canonical msgpack, through the
`msgpack` package), §2 (domain-separated keyed BLAKE3, through `blake3`), §3 (the RFC 9162 tree
shape; RFC 6962 SHA-256 through `hashlib`), §4-§6 (genesis, transactions, version-2 headers),
§7.2 (the state map: key and value hashing, the sparse tree with single-leaf collapse, paths),
§7.3 (the history tree), §9 (the chain file), §12-§13 (binary state and history proofs) and §14
(the C2SP checkpoint note, with C2SP signed-note key ids). Ed25519 (RFC 8032, deterministic) is
PyNaCl's. It imports nothing from `ledger`, so a value the engine reproduces was not computed by
the code under test. The output, tests/vectors/kat_v2.json, is committed as data and checked by
tests/test_kat_v2.py.

    python tools/kat_independent_v2.py > tests/vectors/kat_v2.json
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
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
    "state_key": "ledger 2026-11-30 v2 state key",
    "state_value": "ledger 2026-11-30 v2 state value",
    "state_leaf": "ledger 2026-11-30 v2 state leaf",
    "state_node": "ledger 2026-11-30 v2 state node",
}
KEYS = {name: blake3.blake3(b"", derive_key_context=context).digest() for name, context in CONTEXTS.items()}
EMPTY = bytes(32)


def keyed(kind: str, data: bytes) -> bytes:
    return blake3.blake3(data, key=KEYS[kind]).digest()


def pack(value: object) -> bytes:
    """§1: msgpack-python already picks the shortest form of every int, bin, str and array."""
    return msgpack.packb(value, use_bin_type=True)


# §3: the RFC 9162 shape, with BLAKE3 keyed hashes or (for §14) the RFC 6962 SHA-256 ones.
HASHES = {
    "blake3": (lambda d: keyed("merkle_leaf", d), lambda l, r: keyed("merkle_node", l + r), keyed("merkle_node", b"")),
    "sha256": (lambda d: hashlib.sha256(b"\x00" + d).digest(), lambda l, r: hashlib.sha256(b"\x01" + l + r).digest(),
               hashlib.sha256(b"").digest()),
}


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes], hash: str = "blake3") -> bytes:
    leaf, node, empty = HASHES[hash]
    if not leaves:
        return empty
    if len(leaves) == 1:
        return leaf(leaves[0])
    k = split(len(leaves))
    return node(mth(leaves[:k], hash), mth(leaves[k:], hash))


def inclusion_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), nearest the leaf first."""
    n = len(leaves)
    if n == 1:
        return []
    k = split(n)
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def consistency_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    def subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if whole else [mth(d)]
        k = split(n)
        if m <= k:
            return subproof(m, d[:k], whole) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]
    return subproof(m, leaves, True)


# §7.2: the state map, from key hashes to value hashes.
def account_key(public_key: bytes) -> bytes:
    return keyed("state_key", b"\x00" + public_key)


def record_key(owner: bytes, key: bytes) -> bytes:
    return keyed("state_key", b"\x01" + owner + key)


def account_value(balance: int, nonce: int) -> bytes:
    return keyed("state_value", b"\x00" + struct.pack(">QQ", balance, nonce))


def record_value(value: bytes) -> bytes:
    return keyed("state_value", b"\x01" + value)


def leaf(k: bytes, v: bytes) -> bytes:
    return keyed("state_leaf", k + v)


def node(left: bytes, right: bytes) -> bytes:
    return keyed("state_node", left + right)


def bit(k: bytes, i: int) -> int:
    return (k[i // 8] >> (7 - i % 8)) & 1


def state_root(entries: list[tuple[bytes, bytes]], depth: int = 0) -> bytes:
    """root(S, d) of §7.2 over (key hash, value hash) pairs sharing their first `depth` bits."""
    if not entries:
        return EMPTY
    if len(entries) == 1:
        return leaf(*entries[0])
    return node(state_root([e for e in entries if bit(e[0], depth) == 0], depth + 1),
                state_root([e for e in entries if bit(e[0], depth) == 1], depth + 1))


def state_path(entries: list[tuple[bytes, bytes]], k: bytes) -> tuple[list[bytes], tuple[bytes, bytes] | None]:
    """The siblings s_0 … s_{D-1} met walking k's bits, and the terminal entry (None: EMPTY)."""
    siblings, depth, below = [], 0, list(entries)
    while len(below) >= 2:
        siblings.append(state_root([e for e in below if bit(e[0], depth) != bit(k, depth)], depth + 1))
        below = [e for e in below if bit(e[0], depth) == bit(k, depth)]
        depth += 1
    return siblings, (below[0] if below else None)


def fold(k: bytes, siblings: list[bytes], terminal: bytes) -> bytes:
    h = terminal
    for d in reversed(range(len(siblings))):
        h = node(h, siblings[d]) if bit(k, d) == 0 else node(siblings[d], h)
    return h


def signer(seed_byte: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(bytes([seed_byte]) * 32)


def public(key: nacl.signing.SigningKey) -> bytes:
    return bytes(key.verify_key)


def sign(key: nacl.signing.SigningKey, message: bytes) -> bytes:
    return key.sign(message).signature


TRANSFER, MINT, RECORD = 0, 1, 2


def main() -> None:
    validator, issuer, alice, bob, carol, dave, erin = (signer(b) for b in (1, 2, 3, 4, 5, 6, 7))
    genesis_time = 1_764_400_000_000

    # §4: version 2; a zero balance is still an entry of the state map (§7.2).
    balances = sorted([[public(alice), 1000], [public(bob), 500], [public(erin), 0]])
    genesis = pack([2, "kat v2", genesis_time, [public(validator)], [public(issuer)], balances])
    chain_id = keyed("genesis", genesis)

    accounts: dict[bytes, list[int]] = {key: [amount, 0] for key, amount in balances}
    records: dict[tuple[bytes, bytes], bytes] = {}

    def entries() -> list[tuple[bytes, bytes]]:
        out = [(account_key(key), account_value(*value)) for key, value in accounts.items()]
        out += [(record_key(owner, key), record_value(value)) for (owner, key), value in records.items()]
        return out

    vectors: dict = {
        "source": ("tools/kat_independent_v2.py, from docs/FORMAT.md v2 "
                   "(blake3, msgpack, hashlib, PyNaCl; no ledger code)"),
        "hash_keys": {name: key.hex() for name, key in KEYS.items()},
        "keys": {"validator_seed": (bytes([1]) * 32).hex(), "validator": public(validator).hex(),
                 "issuer": public(issuer).hex(), "alice": public(alice).hex(), "bob": public(bob).hex(),
                 "carol": public(carol).hex(), "dave": public(dave).hex(), "erin": public(erin).hex()},
        "genesis": {"encoding": genesis.hex(), "chain_id": chain_id.hex(), "state_root": state_root(entries()).hex()},
        "blocks": [],
    }

    def transaction(key, kind: int, body: list) -> dict:
        sender = public(key)
        nonce = accounts.get(sender, [0, 0])[1] + 1 + sum(1 for tx in pending if tx["sender"] == sender)
        unsigned = pack([chain_id, sender, nonce, kind, body])
        txid = keyed("transaction", unsigned)
        tx = {"fields": [chain_id, sender, nonce, kind, body, sign(key, txid)], "txid": txid, "sender": sender,
              "kind": kind, "body": body, "nonce": nonce}
        pending.append(tx)
        return tx

    def apply(txs: list[dict]) -> None:
        """§7.1: the touched accounts (a self-transfer touches only its sender) and the last writes."""
        for tx in txs:
            sender = accounts.setdefault(tx["sender"], [0, 0])
            assert tx["nonce"] == sender[1] + 1
            sender[1] = tx["nonce"]
            if tx["kind"] == TRANSFER:
                to, amount = tx["body"]
                assert amount <= sender[0]
                sender[0] -= amount
                accounts.setdefault(to, [0, 0])[0] += amount
            elif tx["kind"] == MINT:
                to, amount = tx["body"]
                accounts.setdefault(to, [0, 0])[0] += amount
            else:
                records[(tx["sender"], tx["body"][0])] = tx["body"][1]
        assert all(0 <= value[0] < 2**64 for value in accounts.values())

    block_hashes = [chain_id]          # §7.3: L_0 = the chain id, L_i = the hash of block i
    headers: list[bytes] = [b""]       # signed header encodings by height
    state_by_height = [entries()]
    previous_time = genesis_time

    def block(time_ms: int, txs: list[dict]) -> None:
        nonlocal previous_time
        height = len(block_hashes)
        assert time_ms >= previous_time
        tx_root = mth([tx["txid"] for tx in txs])
        apply(txs)
        root = state_root(entries())
        history_root = mth(block_hashes[:height])
        fields = [2, chain_id, height, block_hashes[-1], time_ms, len(txs), tx_root, root, history_root,
                  public(validator)]
        block_hash = keyed("block_header", pack(fields))
        header = pack(fields + [sign(validator, block_hash)])
        encoding = pack([fields + [sign(validator, block_hash)], [tx["fields"] for tx in txs]])
        block_hashes.append(block_hash)
        headers.append(header)
        state_by_height.append(entries())
        previous_time = time_ms
        vectors["blocks"].append({"height": height, "encoding": encoding.hex(), "header": header.hex(),
                                  "block_hash": block_hash.hex(), "tx_root": tx_root.hex(),
                                  "state_root": root.hex(), "history_root": history_root.hex(),
                                  "txids": [tx["txid"].hex() for tx in txs]})
        pending.clear()

    pending: list[dict] = []
    block(genesis_time + 1000, [
        transaction(alice, TRANSFER, [public(carol), 250]),
        transaction(issuer, MINT, [public(carol), 5]),              # the issuer enters the map: nonce 1
        transaction(carol, RECORD, [b"licence/2026/0042", b"valid until 2027-12-31"]),
        transaction(bob, TRANSFER, [public(bob), 7]),                # to oneself: only the nonce moves
        transaction(alice, TRANSFER, [public(dave), 0]),             # amount 0 to a new key: dave enters
        transaction(carol, RECORD, [b"", b""]),                      # empty key and value: present
    ])
    block(genesis_time + 1000, [                                     # the same time is allowed
        transaction(carol, RECORD, [b"licence/2026/0042", b"revoked"]),   # overwrite
        transaction(carol, RECORD, [b"note", b"first"]),
        transaction(carol, RECORD, [b"note", b""]),                  # the last write of a block counts: empty
        transaction(issuer, MINT, [public(issuer), 2**32]),
    ])
    block(genesis_time + 5000, [])                                   # an empty block: the state root stays
    block(genesis_time + 6000, [
        transaction(dave, RECORD, [b"k" * 64, bytes(range(256)) * 16]),   # dave's first transaction
        transaction(bob, TRANSFER, [public(alice), 493]),
    ])

    tip = len(block_hashes) - 1
    # §9: magic, u16 version 1, then u32-length-prefixed genesis and blocks.
    chain_file = b"\x89LEDGER\n" + struct.pack(">H", 1) + struct.pack(">I", len(genesis)) + genesis
    for vector in vectors["blocks"]:
        data = bytes.fromhex(vector["encoding"])
        chain_file += struct.pack(">I", len(data)) + data
    vectors["chain_file"] = {"bytes": chain_file.hex(), "sha256": hashlib.sha256(chain_file).hexdigest(),
                             "blake3": blake3.blake3(chain_file).hexdigest()}
    vectors["final_state"] = {
        "accounts": {key.hex(): value for key, value in sorted(accounts.items())},
        "records": [[owner.hex(), key.hex(), value.hex()] for (owner, key), value in sorted(records.items())],
    }

    # §12: state proofs, [1, kind, ...] with EMPTY siblings written as b"".
    def state_proof(height: int, kind: int, subject: list, k: bytes, value: list) -> bytes:
        siblings, terminal = state_path(state_by_height[height], k)
        other: list = []
        if terminal is not None and terminal[0] != k:
            other = [terminal[0], terminal[1]]
        if value:   # the value claimed is the one the replay left in the map
            expected = account_value(*value) if kind == 0 else record_value(value[0])
            assert terminal is not None and terminal == (k, expected)
        else:
            assert terminal is None or terminal[0] != k
        # The proof must fold to the header's state root (§12 step 7).
        end = EMPTY if terminal is None else leaf(*terminal)
        assert fold(k, siblings, end) == state_root(state_by_height[height])
        path = [[b"" if s == EMPTY else s for s in siblings], other]
        return pack([1, kind, *subject, value, path, headers[height]])

    proofs: list[dict] = []

    def add_account(name: str, height: int, key: bytes, value: list) -> None:
        proof = state_proof(height, 0, [key], account_key(key), value)
        siblings, _ = state_path(state_by_height[height], account_key(key))
        proofs.append({"name": name, "kind": "account", "height": height, "public_key": key.hex(),
                       "present": bool(value), "value": value, "siblings": len(siblings), "proof": proof.hex()})

    def add_record(name: str, height: int, owner: bytes, key: bytes, value: list) -> None:
        proof = state_proof(height, 1, [owner, key], record_key(owner, key), value)
        siblings, _ = state_path(state_by_height[height], record_key(owner, key))
        proofs.append({"name": name, "kind": "record", "height": height, "owner": owner.hex(), "key": key.hex(),
                       "present": bool(value), "value": [v.hex() for v in value], "siblings": len(siblings),
                       "proof": proof.hex()})

    add_account("account present (alice, tip)", tip, public(alice), accounts[public(alice)])
    add_account("account present, zero balance from genesis (erin)", tip, public(erin), [0, 0])
    add_account("account present, amount-0 transfer recipient (dave, block 1)", 1, public(dave), [0, 0])
    add_account("account absent (never seen)", tip, public(signer(9)), [])
    add_account("account absent (another never-seen key)", tip, public(signer(10)), [])
    add_record("record present (overwritten: revoked)", tip, public(carol), b"licence/2026/0042", [b"revoked"])
    add_record("record present, old value at block 1", 1, public(carol), b"licence/2026/0042",
               [b"valid until 2027-12-31"])
    add_record("record present, empty key and value", tip, public(carol), b"", [b""])
    add_record("record present, last write of a block is empty", 2, public(carol), b"note", [b""])
    add_record("record present, limits exactly", tip, public(dave), b"k" * 64, [bytes(range(256)) * 16])
    add_record("record absent (never written)", tip, public(carol), b"licence/2026/0043", [])
    add_record("record absent, other owner's key", tip, public(alice), b"licence/2026/0042", [])
    add_record("record absent before it was written", 1, public(carol), b"note", [])
    # §12 JSON form: version, kind, the shown fields in the listed order, proof (hex).
    def shown(height: int) -> dict:
        fields = msgpack.unpackb(headers[height], raw=True)
        return {"chain_id": chain_id.hex(), "height": height, "block_hash": block_hashes[height].hex(),
                "state_root": bytes(fields[7]).hex()}

    for p in proofs:
        if p["kind"] == "account":
            balance, nonce = p["value"] or [0, 0]
            p["json"] = {"version": 1, "kind": "account", **shown(p["height"]), "public_key": p["public_key"],
                         "present": p["present"], "balance": balance, "nonce": nonce, "proof": p["proof"]}
        else:
            p["json"] = {"version": 1, "kind": "record", **shown(p["height"]), "owner": p["owner"], "key": p["key"],
                         "present": p["present"], "value": p["value"][0] if p["value"] else None,
                         "proof": p["proof"]}

    # At least one absent proof must end in another key's leaf and one in EMPTY, to cover both terminals.
    terminals = set()
    for p in proofs:
        if not p["present"]:
            decoded = msgpack.unpackb(bytes.fromhex(p["proof"]), raw=True)
            terminals.add(bool(decoded[-2][1]))
    vectors["state_proofs"] = proofs
    vectors["absent_terminals_covered"] = sorted(terminals)

    # §13: history proofs [1, 2, old header, new header, consistency, inclusion].
    history = []
    for old, new in ((1, tip), (2, 3), (1, 2), (3, tip)):
        consistency = consistency_proof(old, block_hashes[:new])
        inclusion = inclusion_path(old, block_hashes[:new])
        proof = pack([1, 2, headers[old], headers[new], consistency, inclusion])
        history.append({"old_height": old, "new_height": new, "consistency": len(consistency),
                        "inclusion": len(inclusion), "proof": proof.hex(),
                        "json": {"version": 1, "kind": "history", "chain_id": chain_id.hex(), "old_height": old,
                                 "old_block_hash": block_hashes[old].hex(), "new_height": new,
                                 "new_block_hash": block_hashes[new].hex(), "proof": proof.hex()}})
    vectors["history_proofs"] = history

    # Tampered variants with the verdict FORMAT.md §12/§13 names for each.
    def flip(data: bytes, at: int) -> bytes:
        return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]

    tampered = []

    def tamper(name: str, base: str, data: bytes, code: str, anchor: str = "genesis") -> None:
        tampered.append({"name": name, "base": base, "proof": data.hex(), "code": code, "anchor": anchor})

    by_name = {p["name"]: p for p in proofs}
    alice_p = msgpack.unpackb(bytes.fromhex(by_name["account present (alice, tip)"]["proof"]), raw=True)
    record_p = msgpack.unpackb(bytes.fromhex(by_name["record present (overwritten: revoked)"]["proof"]), raw=True)
    absent_other = next(msgpack.unpackb(bytes.fromhex(p["proof"]), raw=True) for p in proofs
                        if not p["present"] and msgpack.unpackb(bytes.fromhex(p["proof"]), raw=True)[-2][1])

    def first_full_sibling(siblings: list) -> int:
        return next(i for i, s in enumerate(siblings) if len(s) == 32)

    a = [list(x) if isinstance(x, list) else x for x in alice_p]
    v = list(a[3]); v[0] += 1
    tamper("account balance changed", "account", pack(a[:3] + [v] + a[4:]), "proof-invalid")
    v = list(a[3]); v[1] += 1
    tamper("account nonce changed", "account", pack(a[:3] + [v] + a[4:]), "proof-invalid")
    tamper("account claimed absent", "account", pack(a[:3] + [[]] + a[4:]), "proof-invalid")
    tamper("account other public key", "account", pack(a[:2] + [public(bob)] + a[3:]), "proof-invalid")
    sib = [bytes(s) for s in a[4][0]]
    i = first_full_sibling(sib)
    tamper("account sibling flipped", "account",
           pack(a[:4] + [[sib[:i] + [flip(sib[i], 0)] + sib[i + 1:], a[4][1]]] + a[5:]), "proof-invalid")
    tamper("account sibling dropped", "account", pack(a[:4] + [[sib[1:], a[4][1]]] + a[5:]), "proof-invalid")
    tamper("account sibling as 32 zero bytes", "account",
           pack(a[:4] + [[sib[:i] + [EMPTY] + sib[i + 1:], a[4][1]]] + a[5:]), "bad-encoding")
    tamper("account sibling of 31 bytes", "account",
           pack(a[:4] + [[sib[:i] + [sib[i][:31]] + sib[i + 1:], a[4][1]]] + a[5:]), "bad-encoding")
    tamper("account value with other leaf", "account",
           pack(a[:4] + [[sib, [bytes(32 * [7]), bytes(32 * [8])]]] + a[5:]), "bad-encoding")
    tamper("account value of three fields", "account", pack(a[:3] + [a[3] + [0]] + a[4:]), "bad-encoding")
    tamper("format 2", "account", pack([2] + a[1:]), "bad-version")
    tamper("unknown kind 4", "account", pack(a[:1] + [4] + a[2:]), "bad-encoding")
    tamper("trailing byte", "account", pack(a) + b"\x00", "bad-encoding")
    tamper("257 siblings", "account", pack(a[:4] + [[[b""] * 257, []]] + a[5:]), "limit-exceeded")
    header = bytes(a[5])
    tamper("header signature flipped", "account", pack(a[:5] + [flip(header, len(header) - 1)]), "proof-invalid")
    tamper("header state root flipped", "account", pack(a[:5] + [flip(header, header.index(bytes.fromhex(
        vectors["blocks"][-1]["state_root"])))]), "proof-invalid")
    tamper("another chain id anchored", "account", pack(a), "proof-invalid", anchor="other-chain")
    tamper("untrusted validator", "account", pack(a), "proof-invalid", anchor="other-validator")
    v1 = msgpack.unpackb(header, raw=True)
    v1 = [1] + v1[1:7] + [v1[7]] + v1[9:]          # a well-formed 10-field version-1 header
    tamper("version-1 header", "account", pack(a[:5] + [pack(v1)]), "bad-version")
    # 11 fields announcing version 1: §8 step 2 reads the version before the length must match it.
    tamper("11-field header announcing version 1", "account", pack(a[:5] + [b"\x9b\x01" + header[2:]]),
           "bad-version")

    r = list(record_p)
    tamper("record value changed (old proof value)", "record",
           pack(r[:4] + [[b"valid until 2027-12-31"]] + r[5:]), "proof-invalid")
    tamper("record other key", "record", pack(r[:3] + [b"licence/2026/0043"] + r[4:]), "proof-invalid")
    tamper("record key of 65 bytes", "record", pack(r[:3] + [b"k" * 65] + r[4:]), "record-too-large")
    tamper("record value of 4097 bytes", "record", pack(r[:4] + [[bytes(4097)]] + r[5:]), "record-too-large")
    tamper("record claimed absent", "record", pack(r[:4] + [[]] + r[5:]), "proof-invalid")
    o = list(absent_other)
    other = [bytes(x) for x in o[-2][1]]
    tamper("absent: other leaf's value hash changed", ("account", "record")[o[1]],
           pack(o[:-2] + [[o[-2][0], [other[0], flip(other[1], 0)]]] + o[-1:]), "proof-invalid")
    tamper("absent: other leaf is the key itself", ("account", "record")[o[1]],
           pack(o[:-2] + [[o[-2][0], [bytes(record_key(bytes(o[2]), bytes(o[3])) if o[1] == 1
                                             else account_key(bytes(o[2]))), other[1]]]] + o[-1:]),
           "proof-invalid")
    tamper("absent: other leaf dropped", ("account", "record")[o[1]],
           pack(o[:-2] + [[o[-2][0], []]] + o[-1:]), "proof-invalid")

    h = msgpack.unpackb(bytes.fromhex(history[0]["proof"]), raw=True)
    h = [bytes(x) if isinstance(x, bytes) else x for x in h]
    cons = [bytes(x) for x in h[4]]
    incl = [bytes(x) for x in h[5]]
    tamper("history consistency node flipped", "history",
           pack(h[:4] + [[flip(cons[0], 0)] + cons[1:], incl]), "proof-invalid")
    tamper("history inclusion node flipped", "history",
           pack(h[:4] + [cons, [flip(incl[0], 0)] + incl[1:]]), "proof-invalid")
    tamper("history inclusion dropped", "history", pack(h[:4] + [cons, incl[:-1]]), "proof-invalid")
    tamper("history headers swapped", "history", pack(h[:2] + [h[3], h[2]] + h[4:]), "proof-invalid")
    tamper("history same header twice", "history", pack(h[:2] + [h[3], h[3]] + [[], []]), "proof-invalid")
    tamper("history old header signature flipped", "history",
           pack(h[:2] + [flip(h[2], len(h[2]) - 1)] + h[3:]), "proof-invalid")
    tamper("history new header signature flipped", "history",
           pack(h[:3] + [flip(h[3], len(h[3]) - 1)] + h[4:]), "proof-invalid")
    tamper("history 65 consistency nodes", "history", pack(h[:4] + [[cons[0]] * 65, incl]), "limit-exceeded")
    tamper("history node of 31 bytes", "history", pack(h[:4] + [[cons[0][:31]] + cons[1:], incl]), "bad-encoding")
    tamper("history old header announcing version 1 (11 fields)", "history",
           pack(h[:2] + [b"\x9b\x01" + h[2][2:]] + h[3:]), "bad-version")
    vectors["tampered"] = tampered

    # §14: the checkpoint note over L_0 … L_tip with RFC 6962 SHA-256, signed as a C2SP signed note.
    origin = "ledger/" + chain_id.hex()
    sha_root = mth(block_hashes, "sha256")
    text = f"{origin}\n{len(block_hashes)}\n{base64.b64encode(sha_root).decode()}\n".encode()
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + public(validator)).digest()[:4]
    note = text + b"\n" + f"\u2014 {origin} {base64.b64encode(key_id + sign(validator, text)).decode()}\n".encode()
    vectors["checkpoint"] = {"origin": origin, "size": len(block_hashes), "sha256_root": sha_root.hex(),
                             "key_id": key_id.hex(), "note": note.decode()}

    # §3/§7.3 on their own: the history roots and the RFC 6962 roots of every prefix of the block log.
    vectors["history_roots"] = [mth(block_hashes[:n]).hex() for n in range(len(block_hashes) + 1)]
    vectors["block_log_sha256_roots"] = [mth(block_hashes[:n], "sha256").hex() for n in range(len(block_hashes) + 1)]
    json.dump(vectors, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
