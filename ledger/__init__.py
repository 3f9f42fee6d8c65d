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
from ledger.assume_valid import parse_block_hash
from ledger.benchmark import plot as plot_benchmark, run as run_benchmark
from ledger.builder import BlockBuilder, sign_transaction
from ledger.chainfile import ChainReader, count_blocks as count_chain_blocks
from ledger.checkpoint import (
    NOTE_BYTES_MAX, VerifierKey, block_log_root, default_origin, parse_checkpoint, parse_note, verify_note,
)
from ledger.codec import (
    KIND_NAMES, Block, BlockHeader, Genesis, Mint, Record, Transaction, Transfer, decode_block, decode_genesis,
    decode_header, decode_transaction, encode_block, encode_genesis, encode_transaction, make_genesis,
)
from ledger.errors import EnvironmentFault, LedgerError
from ledger.genesis_file import VALIDATOR_PLACEHOLDER, genesis_spec, parse_genesis_json
from ledger.keys import (
    BAD_KEY, NOT_ENCRYPTED, PASSPHRASE_BYTES_MAX, PASSPHRASE_NEEDED, Keypair, KeyFormatError, is_encrypted_pem,
    load_keypair, public_key_from_hex, public_key_from_pem, public_key_to_pem,
)
from ledger.proofs import PROOF_INVALID, PROOF_JSON_BYTES_MAX, PROOF_UNANCHORED, TxProof, check_proof, verify_proof
from ledger.render import (
    account_json, block_json, genesis_json, record_json, transaction_json, transaction_line, tx_info_json,
)
from ledger.state_proofs import (
    AccountProof, HistoryProof, RecordProof, check_any_proof, check_history_proof, check_state_proof, load_proof,
    verify_state_proof,
)
from ledger.state_proofs import encode as encode_proof   # the binary form of a proof of any kind (FORMAT.md §12)
from ledger.signatures import verify_transaction_signature
from ledger.state import Account
from ledger.storage import StoreError   # a failure of the store's engine (LMDB) that no LedgerError names
from ledger.workload import generate_chain_file

__version__ = "0.1.0"

# The public API: these names, and the modules ledger.errors (the stable error codes) and ledger.limits
# (the format's limits, docs/FORMAT.md §10). The CLI stands on nothing else (tests/test_one_door.py).
__all__ = [
    "BAD_KEY", "NOT_ENCRYPTED", "PASSPHRASE_BYTES_MAX", "PASSPHRASE_NEEDED", "is_encrypted_pem",
    "Account", "AccountProof", "Block", "BlockBuilder", "BlockHeader", "ChainReader", "EnvironmentFault", "Genesis",
    "HistoryProof", "ImportProgress", "KIND_NAMES", "KeyFormatError", "Keypair", "Ledger", "LedgerError", "Mint",
    "NOTE_BYTES_MAX", "PROOF_INVALID", "PROOF_JSON_BYTES_MAX", "PROOF_UNANCHORED", "Record", "RecordInfo",
    "RecordProof", "StoreError", "Transaction", "Transfer", "TxInfo", "TxProof", "VALIDATOR_PLACEHOLDER",
    "ValidationReport", "VerifierKey", "account_json", "block_json", "block_log_root", "check_any_proof",
    "check_history_proof", "check_proof", "check_state_proof", "count_chain_blocks", "decode_block",
    "decode_genesis", "decode_header", "decode_transaction", "default_origin", "encode_block", "encode_genesis",
    "encode_proof", "encode_transaction", "generate_chain_file", "genesis_json", "genesis_spec", "load_keypair",
    "load_proof", "make_genesis", "parse_block_hash", "parse_checkpoint", "parse_genesis_json", "parse_note",
    "plot_benchmark", "public_key_from_hex", "public_key_from_pem", "public_key_to_pem", "record_json", "run_benchmark",
    "sign_transaction", "transaction_json", "transaction_line", "tx_info_json", "verify_note", "verify_proof",
    "verify_state_proof", "verify_transaction_signature",
]
