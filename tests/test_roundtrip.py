"""The issue's acceptance run: gen + import + validate + export round-trip a 100-block,
100,000-transaction chain byte-identically, and its proofs verify offline."""
import json

from ledger import Ledger, TxProof, verify_proof
from ledger.chainfile import ChainReader
from ledger.codec import decode_block
from ledger.workload import generate_chain_file


def test_hundred_thousand_transactions_round_trip(tmp_path):
    original = tmp_path / "chain.ledger"
    workload = generate_chain_file(original, block_count=100, txs_per_block=1000, account_count=1000, seed=11)
    with Ledger.create(tmp_path / "db", workload.genesis) as book:
        result = book.import_chain(original)
        assert (result.imported_blocks, result.imported_transactions) == (100, 100_000)
        report = book.validate()
        assert (report.blocks, report.transactions) == (100, 100_000)
        book.export_chain(tmp_path / "exported.ledger")
        info = book.info()
        assert info["height"] == 100 and info["tx_count"] == 100_000
        # A proof for a transaction of the last block, carried as JSON, verifies with no store.
        with open(original, "rb") as stream:
            last = decode_block(list(ChainReader(stream).blocks())[-1][1])
        proof_json = json.dumps(book.prove(last.transactions[777].txid).to_json())
    assert (tmp_path / "exported.ledger").read_bytes() == original.read_bytes()
    assert verify_proof(TxProof.from_json(proof_json), trusted_validators=workload.genesis.validators,
                        chain_id=workload.genesis.chain_id)
