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


class Chain:
    """One version-2 chain built block by block, with the state map after each height (§7.2)."""

    def __init__(self, name: str, time_ms: int, validator, issuers: list[bytes], balances: list[list]) -> None:
        self.validator = validator
        # §4: version 2; a zero balance is still an entry of the state map (§7.2).
        self.genesis = pack([2, name, time_ms, [public(validator)], sorted(issuers), sorted(balances)])
        self.chain_id = keyed("genesis", self.genesis)
        self.accounts: dict[bytes, list[int]] = {key: [amount, 0] for key, amount in balances}
        self.records: dict[tuple[bytes, bytes], bytes] = {}
        self.block_hashes = [self.chain_id]     # §7.3: L_0 = the chain id, L_i = the hash of block i
        self.headers: list[bytes] = [b""]       # signed header encodings by height
        self.state_by_height = [self.entries()]
        self.previous_time = time_ms
        self.pending: list[dict] = []
        self.blocks: list[dict] = []
        self.proofs: list[dict] = []

    @property
    def tip(self) -> int:
        return len(self.block_hashes) - 1

    def entries(self) -> list[tuple[bytes, bytes]]:
        out = [(account_key(key), account_value(*value)) for key, value in self.accounts.items()]
        out += [(record_key(owner, key), record_value(value)) for (owner, key), value in self.records.items()]
        return out

    def transaction(self, key, kind: int, body: list) -> dict:
        sender = public(key)
        nonce = self.accounts.get(sender, [0, 0])[1] + 1 + sum(1 for tx in self.pending if tx["sender"] == sender)
        unsigned = pack([self.chain_id, sender, nonce, kind, body])
        txid = keyed("transaction", unsigned)
        tx = {"fields": [self.chain_id, sender, nonce, kind, body, sign(key, txid)], "txid": txid,
              "sender": sender, "kind": kind, "body": body, "nonce": nonce}
        self.pending.append(tx)
        return tx

    def apply(self, txs: list[dict]) -> None:
        """§7.1: the touched accounts (a self-transfer touches only its sender) and the last writes."""
        accounts = self.accounts
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
                self.records[(tx["sender"], tx["body"][0])] = tx["body"][1]
        assert all(0 <= value[0] < 2**64 for value in accounts.values())

    def block(self, time_ms: int, txs: list[dict]) -> None:
        height = self.tip + 1
        assert time_ms >= self.previous_time
        tx_root = mth([tx["txid"] for tx in txs])
        self.apply(txs)
        root = state_root(self.entries())
        history_root = mth(self.block_hashes[:height])
        fields = [2, self.chain_id, height, self.block_hashes[-1], time_ms, len(txs), tx_root, root, history_root,
                  public(self.validator)]
        block_hash = keyed("block_header", pack(fields))
        header = pack(fields + [sign(self.validator, block_hash)])
        encoding = pack([fields + [sign(self.validator, block_hash)], [tx["fields"] for tx in txs]])
        self.block_hashes.append(block_hash)
        self.headers.append(header)
        self.state_by_height.append(self.entries())
        self.previous_time = time_ms
        self.blocks.append({"height": height, "encoding": encoding.hex(), "header": header.hex(),
                            "block_hash": block_hash.hex(), "tx_root": tx_root.hex(), "state_root": root.hex(),
                            "history_root": history_root.hex(), "txids": [tx["txid"].hex() for tx in txs]})
        self.pending.clear()

    def chain_file(self) -> bytes:
        """§9: magic, u16 version 1, then u32-length-prefixed genesis and blocks."""
        data = b"\x89LEDGER\n" + struct.pack(">H", 1) + struct.pack(">I", len(self.genesis)) + self.genesis
        for vector in self.blocks:
            encoding = bytes.fromhex(vector["encoding"])
            data += struct.pack(">I", len(encoding)) + encoding
        return data

    def state_proof(self, height: int, kind: int, subject: list, k: bytes, value: list) -> tuple[bytes, int]:
        """§12: [1, kind, subject…, value, [siblings, other], header], EMPTY siblings written as b""."""
        siblings, terminal = state_path(self.state_by_height[height], k)
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
        assert fold(k, siblings, end) == state_root(self.state_by_height[height])
        path = [[b"" if s == EMPTY else s for s in siblings], other]
        return pack([1, kind, *subject, value, path, self.headers[height]]), len(siblings)

    def shown(self, height: int) -> dict:
        """§12 JSON form: the shown fields every state proof starts with."""
        fields = msgpack.unpackb(self.headers[height], raw=True)
        return {"chain_id": self.chain_id.hex(), "height": height, "block_hash": self.block_hashes[height].hex(),
                "state_root": bytes(fields[7]).hex()}

    def add_account(self, name: str, height: int, key: bytes, value: list) -> None:
        proof, depth = self.state_proof(height, 0, [key], account_key(key), value)
        balance, nonce = value or [0, 0]
        self.proofs.append({"name": name, "kind": "account", "height": height, "public_key": key.hex(),
                            "present": bool(value), "value": value, "siblings": depth, "proof": proof.hex(),
                            "json": {"version": 1, "kind": "account", **self.shown(height), "public_key": key.hex(),
                                     "present": bool(value), "balance": balance, "nonce": nonce,
                                     "proof": proof.hex()}})

    def add_record(self, name: str, height: int, owner: bytes, key: bytes, value: list) -> None:
        proof, depth = self.state_proof(height, 1, [owner, key], record_key(owner, key), value)
        self.proofs.append({"name": name, "kind": "record", "height": height, "owner": owner.hex(), "key": key.hex(),
                            "present": bool(value), "value": [v.hex() for v in value], "siblings": depth,
                            "proof": proof.hex(),
                            "json": {"version": 1, "kind": "record", **self.shown(height), "owner": owner.hex(),
                                     "key": key.hex(), "present": bool(value),
                                     "value": value[0].hex() if value else None, "proof": proof.hex()}})

    def history_proof(self, old: int, new: int) -> dict:
        """§13: [1, 2, old header, new header, consistency, inclusion]."""
        consistency = consistency_proof(old, self.block_hashes[:new])
        inclusion = inclusion_path(old, self.block_hashes[:new])
        proof = pack([1, 2, self.headers[old], self.headers[new], consistency, inclusion])
        return {"old_height": old, "new_height": new, "consistency": len(consistency), "inclusion": len(inclusion),
                "proof": proof.hex(),
                "json": {"version": 1, "kind": "history", "chain_id": self.chain_id.hex(), "old_height": old,
                         "old_block_hash": self.block_hashes[old].hex(), "new_height": new,
                         "new_block_hash": self.block_hashes[new].hex(), "proof": proof.hex()}}

    def checkpoint(self) -> dict:
        """§14: the note over L_0 … L_tip with RFC 6962 SHA-256, signed as a C2SP signed note."""
        origin = "ledger/" + self.chain_id.hex()
        sha_root = mth(self.block_hashes, "sha256")
        text = f"{origin}\n{len(self.block_hashes)}\n{base64.b64encode(sha_root).decode()}\n".encode()
        key_id = hashlib.sha256(origin.encode() + b"\n\x01" + public(self.validator)).digest()[:4]
        signature = base64.b64encode(key_id + sign(self.validator, text)).decode()
        note = text + b"\n" + f"\u2014 {origin} {signature}\n".encode()
        return {"origin": origin, "size": len(self.block_hashes), "sha256_root": sha_root.hex(),
                "key_id": key_id.hex(), "note": note.decode()}

    def vectors(self, history: list[tuple[int, int]]) -> dict:
        chain_file = self.chain_file()
        terminals = set()   # absent proofs ending in EMPTY (False) and in another key's leaf (True)
        for p in self.proofs:
            if not p["present"]:
                terminals.add(bool(msgpack.unpackb(bytes.fromhex(p["proof"]), raw=True)[-2][1]))
        return {
            "genesis": {"encoding": self.genesis.hex(), "chain_id": self.chain_id.hex(),
                        "state_root": state_root(self.state_by_height[0]).hex()},
            "blocks": self.blocks,
            "chain_file": {"bytes": chain_file.hex(), "sha256": hashlib.sha256(chain_file).hexdigest(),
                           "blake3": blake3.blake3(chain_file).hexdigest()},
            "final_state": {
                "accounts": {key.hex(): value for key, value in sorted(self.accounts.items())},
                "records": [[owner.hex(), key.hex(), value.hex()]
                            for (owner, key), value in sorted(self.records.items())],
            },
            "state_proofs": self.proofs,
            "absent_terminals_covered": sorted(terminals),
            "history_proofs": [self.history_proof(old, new) for old, new in history],
            "checkpoint": self.checkpoint(),
            # §3/§7.3 on their own: the history roots and the RFC 6962 roots of every prefix of the block log.
            "history_roots": [mth(self.block_hashes[:n]).hex() for n in range(len(self.block_hashes) + 1)],
            "block_log_sha256_roots": [mth(self.block_hashes[:n], "sha256").hex()
                                       for n in range(len(self.block_hashes) + 1)],
        }


def ground_record_key(owner: bytes, prefix: str, want: str) -> bytes:
    """The first record key `prefix` + decimal n whose key hash starts with the bit string `want`
    (keys next to each other, or at an end of the key space)."""
    n = 0
    while True:
        key = f"{prefix}{n}".encode()
        k = record_key(owner, key)
        if all(bit(k, i) == int(b) for i, b in enumerate(want)):
            return key
        n += 1


def bits(k: bytes, count: int) -> str:
    return "".join(str(bit(k, i)) for i in range(count))


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


def tampered_proofs(chain: Chain, history: dict, bob: bytes) -> list[dict]:
    """Tampered variants of the chain's proofs, with the verdict FORMAT.md §12/§13 names for each."""
    tampered = []

    def tamper(name: str, base: str, data: bytes, code: str, anchor: str = "genesis") -> None:
        # §12, §13: a proof-invalid failure carries the height of the (new) header.
        height = None
        if code == "proof-invalid":
            fields = msgpack.unpackb(data, raw=True)
            height = msgpack.unpackb(fields[3] if base == "history" else fields[-1], raw=True)[2]
        tampered.append({"name": name, "base": base, "proof": data.hex(), "code": code, "anchor": anchor,
                         "height": height})

    def decoded(name: str) -> list:
        proof = next(p for p in chain.proofs if p["name"] == name)
        return msgpack.unpackb(bytes.fromhex(proof["proof"]), raw=True)

    a = decoded("account present (alice, tip)")
    absent_other = next(msgpack.unpackb(bytes.fromhex(p["proof"]), raw=True) for p in chain.proofs
                        if not p["present"] and msgpack.unpackb(bytes.fromhex(p["proof"]), raw=True)[-2][1])
    v = list(a[3]); v[0] += 1
    tamper("account balance changed", "account", pack(a[:3] + [v] + a[4:]), "proof-invalid")
    v = list(a[3]); v[1] += 1
    tamper("account nonce changed", "account", pack(a[:3] + [v] + a[4:]), "proof-invalid")
    tamper("account claimed absent", "account", pack(a[:3] + [[]] + a[4:]), "proof-invalid")
    tamper("account other public key", "account", pack(a[:2] + [bob] + a[3:]), "proof-invalid")
    sib = [bytes(s) for s in a[4][0]]
    i = next(i for i, s in enumerate(sib) if len(s) == 32)
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
        chain.blocks[-1]["state_root"])))]), "proof-invalid")
    tamper("another chain id anchored", "account", pack(a), "proof-invalid", anchor="other-chain")
    tamper("untrusted validator", "account", pack(a), "proof-invalid", anchor="other-validator")
    v1 = msgpack.unpackb(header, raw=True)
    v1 = [1] + v1[1:7] + [v1[7]] + v1[9:]          # a well-formed 10-field version-1 header
    tamper("version-1 header", "account", pack(a[:5] + [pack(v1)]), "bad-version")
    # 11 fields announcing version 1: §8 step 2 reads the version before the length must match it.
    tamper("11-field header announcing version 1", "account", pack(a[:5] + [b"\x9b\x01" + header[2:]]),
           "bad-version")

    r = decoded("record present (overwritten: revoked)")
    tamper("record value changed (old proof value)", "record",
           pack(r[:4] + [[b"valid until 2027-12-31"]] + r[5:]), "proof-invalid")
    tamper("record other key", "record", pack(r[:3] + [b"licence/2026/0043"] + r[4:]), "proof-invalid")
    tamper("record key of 65 bytes", "record", pack(r[:3] + [b"k" * 65] + r[4:]), "record-too-large")
    tamper("record value of 4097 bytes", "record", pack(r[:4] + [[bytes(4097)]] + r[5:]), "record-too-large")
    tamper("record claimed absent", "record", pack(r[:4] + [[]] + r[5:]), "proof-invalid")
    o = list(absent_other)
    other = [bytes(x) for x in o[-2][1]]
    own = record_key(bytes(o[2]), bytes(o[3])) if o[1] == 1 else account_key(bytes(o[2]))
    tamper("absent: other leaf's value hash changed", ("account", "record")[o[1]],
           pack(o[:-2] + [[o[-2][0], [other[0], flip(other[1], 0)]]] + o[-1:]), "proof-invalid")
    tamper("absent: other leaf is the key itself", ("account", "record")[o[1]],
           pack(o[:-2] + [[o[-2][0], [own, other[1]]]] + o[-1:]), "proof-invalid")
    tamper("absent: other leaf dropped", ("account", "record")[o[1]],
           pack(o[:-2] + [[o[-2][0], []]] + o[-1:]), "proof-invalid")

    h = msgpack.unpackb(bytes.fromhex(history["proof"]), raw=True)
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
    return tampered


def main() -> None:
    validator, issuer, alice, bob, carol, dave, erin = (signer(b) for b in (1, 2, 3, 4, 5, 6, 7))
    genesis_time = 1_764_400_000_000

    chain = Chain("kat v2", genesis_time, validator, [public(issuer)],
                  [[public(alice), 1000], [public(bob), 500], [public(erin), 0]])
    tx = chain.transaction
    chain.block(genesis_time + 1000, [
        tx(alice, TRANSFER, [public(carol), 250]),
        tx(issuer, MINT, [public(carol), 5]),                # the issuer enters the map: nonce 1
        tx(carol, RECORD, [b"licence/2026/0042", b"valid until 2027-12-31"]),
        tx(bob, TRANSFER, [public(bob), 7]),                  # to oneself: only the nonce moves
        tx(alice, TRANSFER, [public(dave), 0]),               # amount 0 to a new key: dave enters
        tx(carol, RECORD, [b"", b""]),                        # empty key and value: present
    ])
    chain.block(genesis_time + 1000, [                       # the same time is allowed
        tx(carol, RECORD, [b"licence/2026/0042", b"revoked"]),   # overwrite
        tx(carol, RECORD, [b"note", b"first"]),
        tx(carol, RECORD, [b"note", b""]),                    # the last write of a block counts: empty
        tx(issuer, MINT, [public(issuer), 2**32]),
    ])
    chain.block(genesis_time + 5000, [])                     # an empty block: the state root stays
    chain.block(genesis_time + 6000, [
        tx(dave, RECORD, [b"k" * 64, bytes(range(256)) * 16]),   # dave's first transaction
        tx(bob, TRANSFER, [public(alice), 493]),
    ])
    tip = chain.tip
    chain.add_account("account present (alice, tip)", tip, public(alice), chain.accounts[public(alice)])
    chain.add_account("account present, zero balance from genesis (erin)", tip, public(erin), [0, 0])
    chain.add_account("account present, amount-0 transfer recipient (dave, block 1)", 1, public(dave), [0, 0])
    chain.add_account("account absent (never seen)", tip, public(signer(9)), [])
    chain.add_account("account absent (another never-seen key)", tip, public(signer(10)), [])
    chain.add_record("record present (overwritten: revoked)", tip, public(carol), b"licence/2026/0042", [b"revoked"])
    chain.add_record("record present, old value at block 1", 1, public(carol), b"licence/2026/0042",
                     [b"valid until 2027-12-31"])
    chain.add_record("record present, empty key and value", tip, public(carol), b"", [b""])
    chain.add_record("record present, last write of a block is empty", 2, public(carol), b"note", [b""])
    chain.add_record("record present, limits exactly", tip, public(dave), b"k" * 64, [bytes(range(256)) * 16])
    chain.add_record("record absent (never written)", tip, public(carol), b"licence/2026/0043", [])
    chain.add_record("record absent, other owner's key", tip, public(alice), b"licence/2026/0042", [])
    chain.add_record("record absent before it was written", 1, public(carol), b"note", [])

    vectors: dict = {
        "source": ("tools/kat_independent_v2.py, from docs/FORMAT.md v2 "
                   "(blake3, msgpack, hashlib, PyNaCl; no ledger code)"),
        "hash_keys": {name: key.hex() for name, key in KEYS.items()},
        "keys": {"validator_seed": (bytes([1]) * 32).hex(), "validator": public(validator).hex(),
                 "issuer": public(issuer).hex(), "alice": public(alice).hex(), "bob": public(bob).hex(),
                 "carol": public(carol).hex(), "dave": public(dave).hex(), "erin": public(erin).hex()},
        **chain.vectors([(1, tip), (2, 3), (1, 2), (3, tip)]),
    }
    vectors["tampered"] = tampered_proofs(chain, vectors["history_proofs"][0], public(bob))

    # A second chain for the edges of §7.2: no genesis balance and no issuer, so the map is empty
    # (root EMPTY, in a header) until block 2 holds one entry (root = its leaf, paths of no sibling);
    # then record keys ground so that two key hashes share their first 16 bits (a run of EMPTY
    # siblings) and two lie at the ends of the key space (12 leading zero bits, 12 leading ones).
    edges = Chain("kat v2 edges", genesis_time, validator, [], [])
    owner = public(alice)
    near = b"licence/2026/0042"
    twin = ground_record_key(owner, "twin/", bits(record_key(owner, near), 16))
    lowest = ground_record_key(owner, "low/", "0" * 12)
    highest = ground_record_key(owner, "high/", "1" * 12)
    between = ground_record_key(owner, "absent/", bits(record_key(owner, near), 16))   # never written
    edges.block(genesis_time, [])                                                       # root EMPTY
    edges.block(genesis_time + 1, [edges.transaction(alice, TRANSFER, [owner, 0])])     # one entry
    edges.block(genesis_time + 2, [
        edges.transaction(alice, RECORD, [near, b"issued"]),
        edges.transaction(alice, RECORD, [twin, b"twin"]),
        edges.transaction(alice, RECORD, [lowest, b"low"]),
        edges.transaction(alice, RECORD, [highest, b"high"]),
    ])
    edges.add_account("empty map: account absent", 1, owner, [])
    edges.add_record("empty map: record absent", 1, owner, near, [])
    edges.add_account("one entry: account present, no sibling", 2, owner, [0, 1])
    edges.add_account("one entry: account absent, the other leaf at depth 0", 2, public(bob), [])
    edges.add_record("one entry: record absent", 2, owner, near, [])
    edges.add_record("16 shared bits: record present", 3, owner, near, [b"issued"])
    edges.add_record("16 shared bits: its neighbour present", 3, owner, twin, [b"twin"])
    edges.add_record("16 shared bits: absent key between them", 3, owner, between, [])
    edges.add_record("lowest end of the key space", 3, owner, lowest, [b"low"])
    edges.add_record("highest end of the key space", 3, owner, highest, [b"high"])
    edges.add_account("account after the records", 3, owner, [0, 5])
    vectors["edge_chain"] = {"keys": {"validator": public(validator).hex(), "alice": owner.hex()},
                             "record_keys": {"near": near.hex(), "twin": twin.hex(), "lowest": lowest.hex(),
                                             "highest": highest.hex(), "between": between.hex()},
                             **edges.vectors([(1, 2), (1, 3), (2, 3)])}
    json.dump(vectors, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
