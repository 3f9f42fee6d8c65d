#!/bin/sh
# ThreadSanitizer run of the threaded native paths: the extension ledger._core is built with
# -fsanitize=thread in a scratch copy of the tree (the in-place build here is left alone), then the
# tests that drive its threads run against it with libtsan preloaded into the (uninstrumented)
# Python: batch verification split over 2 threads (ed25519_batch.c), the Merkle root split over
# threads (merkle.c), the SIMD switches flipped and the key cache cleared while other threads
# work, and the import pipeline (decode / verify / apply threads around the native core).
# tests/test_native_fork.py is not run here: TSan does not support threads started after a
# multi-threaded fork(), which that test does on purpose.
# Any report fails the run (halt_on_error=1, exitcode=66).
# Usage: tools/tsan.sh [pytest args...]    (default: the threaded tests listed below)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
CC=${CC:-gcc}
VECTORS=${LEDGER_VECTORS:-/work/shared/vectors}
SAN="-fsanitize=thread -fno-omit-frame-pointer -g"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ledger-tsan.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Python's own objects are not instrumented: only accesses made by our C code are checked, and
# the GIL (a pthread lock, intercepted) orders them against Python code.
# Reports go to files (pytest captures stderr, and a halted process never prints it); they are
# shown when the run fails.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 report_signal_unsafe=0 log_path=$WORK/report"

. "$ROOT/tools/instrumented_build.sh"
instrumented_build "ThreadSanitizer"
nm -D "$SO" | grep -q __tsan_read || { echo "tsan: $SO is not instrumented" >&2; exit 1; }
LIBTSAN=$($CC -print-file-name=libtsan.so)
if [ $# -eq 0 ]; then
    set -- tests/test_native_threads.py tests/test_ed25519_first_bad.py tests/test_merkle_native.py \
        tests/test_pipeline.py "tests/test_ed25519_vectors.py::test_batch_alone" \
        "tests/test_ed25519_coalesce.py::test_many_bad_among_repeated_keys" \
        "tests/test_ed25519_coalesce.py::test_points_n_plus_d_plus_1" \
        "tests/test_ed25519_coalesce.py::test_switch_flipped_while_batches_run"
fi
# TSan needs the low-entropy address layout it was built for: setarch -R turns off randomisation
# (kernels with vm.mmap_rnd_bits > 28 otherwise abort with "unexpected memory mapping").
RUN=""
if command -v setarch >/dev/null 2>&1; then RUN="setarch $(uname -m) -R"; fi
status=0
LD_PRELOAD="$LIBTSAN" LEDGER_VECTORS="$VECTORS" $RUN "$PY" -m pytest -q -p no:cacheprovider "$@" || status=$?
if ls "$WORK"/report.* >/dev/null 2>&1; then
    cat "$WORK"/report.* >&2
    [ "$status" -ne 0 ] || status=1
fi
[ "$status" -eq 0 ] || { echo "tsan: FAILED (status $status)" >&2; exit "$status"; }
echo "tsan: clean"
