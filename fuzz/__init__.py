"""Fuzz harnesses (atheris, coverage-guided). Each module defines `test_one_input(data: bytes)`,
which raises on a finding and returns quietly otherwise, and `SEEDS` (name -> bytes) for its
corpus. `python -m fuzz.run NAME SECONDS` fuzzes one; tests/test_fuzz_corpus.py replays
fuzz/corpus/NAME/ through `test_one_input` without atheris, so every crasher found becomes a
regression test once its file is committed there."""

HARNESSES = ("block_decoder", "ed25519", "merkle_proofs", "chain_file", "genesis_json", "proof_json", "state_proof")
