"""ledger: a high-throughput embeddable ledger engine with a native core.

Specification: docs/FORMAT.md (format versions 1 and 2); each module names the external standard it
follows, if any.

    from ledger import Ledger, Keypair, make_genesis
    with Ledger.create("db", make_genesis("city records", time_ms, [validator.public_key])) as book:
        builder = book.builder(validator)
        ...
        book.append(builder.build())
"""
from ledger.api import ImportProgress, Ledger, RecordInfo, TxInfo, ValidationReport
from ledger.builder import BlockBuilder, sign_transaction
from ledger.codec import (
    Block, BlockHeader, Genesis, Mint, Record, Transaction, Transfer, decode_block, decode_genesis,
    decode_transaction, encode_block, encode_genesis, encode_transaction, make_genesis,
)
from ledger.errors import LedgerError
from ledger.keys import Keypair, KeyFormatError
from ledger.proofs import TxProof, check_proof, verify_proof
from ledger.state_proofs import (
    AccountProof, HistoryProof, RecordProof, check_any_proof, check_history_proof, check_state_proof, load_proof,
    verify_state_proof,
)
from ledger.state_proofs import encode as encode_proof   # the binary form of a proof of any kind (FORMAT.md §12)
from ledger.state import Account

__version__ = "0.1.0"

__all__ = [
    "Account", "AccountProof", "Block", "BlockBuilder", "BlockHeader", "Genesis", "HistoryProof", "ImportProgress",
    "KeyFormatError", "Keypair", "Ledger", "LedgerError", "Mint", "Record", "RecordInfo", "RecordProof",
    "Transaction", "Transfer", "TxInfo", "TxProof", "ValidationReport", "check_any_proof", "check_history_proof",
    "check_proof", "check_state_proof", "decode_block", "decode_genesis", "decode_transaction", "encode_block",
    "encode_genesis", "encode_proof", "encode_transaction", "load_proof", "make_genesis", "sign_transaction",
    "verify_proof", "verify_state_proof",
]
