#!/usr/bin/env bash
# Mutation testing (cosmic-ray) of the consensus modules: each mutant is one small change to one
# module (an operator, a constant, a comparison); the module's tests must fail for it. A mutant
# that survives is either a test gap or an equivalent change: read each one before a release.
#   tools/mutate.sh [module ...]      (default: codec state validate proofs merkle)
# Sessions and reports go to build/mutate/<module>.{sqlite,txt}; an existing session resumes.
# cosmic-ray edits the module file in place while a mutant runs: leave the tree alone meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
BIN=$(dirname "$PY")
OUT=build/mutate
mkdir -p "$OUT"

tests_for() {
    case "$1" in
        codec) echo "tests/test_codec.py tests/test_block_decoder.py tests/test_boundaries.py tests/test_kat.py tests/test_roundtrip.py" ;;
        state) echo "tests/test_state.py tests/test_state_edges.py tests/test_rules.py tests/test_import_replay.py tests/test_boundaries.py tests/test_kat.py" ;;
        validate) echo "tests/test_rules.py tests/test_rule_sides.py tests/test_import_replay.py tests/test_kat.py tests/test_pipeline.py" ;;
        proofs) echo "tests -k proof" ;;
        merkle) echo "tests/test_merkle.py tests/test_merkle_native.py tests/test_kat.py" ;;
        *) echo "unknown module $1" >&2; exit 2 ;;
    esac
}

for module in "${@:-codec state validate proofs merkle}"; do
  for name in $module; do
    config="$OUT/$name.toml" session="$OUT/$name.sqlite"
    cat > "$config" <<TOML
[cosmic-ray]
module-path = "ledger/$name.py"
timeout = 300.0
excluded-modules = []
test-command = "$PY -m pytest -x -q -p no:cacheprovider -p no:randomly $(tests_for "$name")"

[cosmic-ray.distributor]
name = "local"
TOML
    before=$(sha256sum "ledger/$name.py")
    [ -f "$session" ] || "$BIN/cosmic-ray" init "$config" "$session"
    "$BIN/cosmic-ray" exec "$config" "$session"
    [ "$(sha256sum "ledger/$name.py")" = "$before" ] || { echo "ledger/$name.py was left mutated" >&2; exit 1; }
    "$BIN/cr-report" "$session" > "$OUT/$name.txt"
    survivors=$(grep -c "test outcome: TestOutcome.SURVIVED" "$OUT/$name.txt" || true)
    echo "$name: $(tail -3 "$OUT/$name.txt" | tr '\n' ' ') -> survivors listed in $OUT/$name.txt ($survivors)"
  done
done
