"""Turning ledger objects into JSON-ready dicts and one-line text: the shapes `ledger … --json` prints,
so that every face of the library (the CLI, a node's HTTP API) prints the same ones.

Specification: docs/FORMAT.md (the objects' fields); JSON per RFC 8259."""
from __future__ import annotations

from ledger.codec import KIND_NAMES, Block, Genesis, Mint, Record, Transaction, Transfer
from ledger.state import Account


def _text_or_hex(data: bytes) -> dict:
    try:
        text = data.decode("utf-8")
        if text.isprintable():
            return {"hex": data.hex(), "text": text}
    except UnicodeDecodeError:
        pass
    return {"hex": data.hex()}


def transaction_json(tx: Transaction) -> dict:
    result = {
        "txid": tx.txid.hex(),
        "chain_id": tx.chain_id.hex(),
        "sender": tx.sender.hex(),
        "nonce": tx.nonce,
        "kind": KIND_NAMES[tx.kind],
        "signature": tx.signature.hex(),
    }
    body = tx.body
    if isinstance(body, (Transfer, Mint)):
        result.update(to=body.to.hex(), amount=body.amount)
    elif isinstance(body, Record):
        result.update(key=_text_or_hex(body.key), value=_text_or_hex(body.value))
    return result


def block_json(block: Block, with_transactions: bool = True) -> dict:
    h = block.header
    result = {
        "height": h.height,
        "hash": h.hash.hex(),
        "version": h.version,
        "chain_id": h.chain_id.hex(),
        "previous_hash": h.previous_hash.hex(),
        "time_ms": h.time_ms,
        "tx_count": h.tx_count,
        "tx_root": h.tx_root.hex(),
        "proposer": h.proposer.hex(),
        "signature": h.signature.hex(),
    }
    if h.version == 1:
        result["state_commitment"] = h.state_commitment.hex()
    else:
        result["state_root"] = h.state_root.hex()
        result["history_root"] = h.history_root.hex()
    if with_transactions:
        result["transactions"] = [transaction_json(tx) for tx in block.transactions]
    return result


def account_json(public_key: bytes, account: Account) -> dict:
    return {"public_key": public_key.hex(), "balance": account.balance, "nonce": account.nonce}


def genesis_json(genesis: Genesis) -> dict:
    return {
        "version": genesis.version,
        "name": genesis.name,
        "time_ms": genesis.time_ms,
        "validators": [key.hex() for key in genesis.validators],
        "issuers": [key.hex() for key in genesis.issuers],
        "balances": {key.hex(): amount for key, amount in genesis.balances},
    }


def transaction_line(tx: Transaction) -> str:
    body = tx.body
    if isinstance(body, Transfer):
        what = f"transfer {body.amount} to {body.to.hex()}"
    elif isinstance(body, Mint):
        what = f"mint {body.amount} to {body.to.hex()}"
    else:
        what = f"record {body.key!r} ({len(body.value)} bytes)"
    return f"{tx.txid.hex()}  from {tx.sender.hex()[:16]}… nonce {tx.nonce}: {what}"


def tx_info_json(found) -> dict:
    """A stored transaction and where it is (a ledger.TxInfo): `ledger tx --json`, GET /tx/{txid}."""
    return {"height": found.height, "index": found.index, **transaction_json(found.transaction)}


def record_json(owner: str, key: str, found) -> dict:
    """A record with its history (a ledger.RecordInfo), owner and key as the user wrote them:
    `ledger record --json`, GET /record/{owner}/{key}."""
    return {"owner": owner, "key": key, "value_hex": found.value.hex(), "height": found.height, "index": found.index,
            "history": [{"height": h, "index": i, "value_hex": v.hex()} for h, i, v in found.history]}
