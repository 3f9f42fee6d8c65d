#!/bin/sh
# AddressSanitizer + UndefinedBehaviorSanitizer run of the native Ed25519 code:
#  1. the standalone C driver tests/c/test_ed25519.c, built with -fsanitize=address,undefined;
#  2. the extension ledger._core built the same way in a scratch copy of the tree (the in-place
#     build in this checkout is left alone), then the vector suite run against it with libasan
#     preloaded into the (uninstrumented) Python.
# Any sanitizer report fails the run (-fno-sanitize-recover=all, halt_on_error=1).
# Usage: tools/sanitize.sh [pytest args...]    (default: tests/test_ed25519_vectors.py)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
CC=${CC:-gcc}
VECTORS=${LEDGER_VECTORS:-/work/shared/vectors}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ledger-sanitize.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Reports also go to files: pytest captures stderr, and an aborted process never prints it. They
# are shown when the run fails.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$WORK/report
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$WORK/report

echo "== C driver under ASan+UBSan"
S="$ROOT/ledger/csrc"
$CC -O1 -std=gnu11 -Wall -Wextra $SAN -I"$S" "$ROOT/tests/c/test_ed25519.c" \
    "$S/sha512.c" "$S/fe25519.c" "$S/ge25519.c" "$S/sc25519.c" "$S/msm.c" "$S/ed25519_verify.c" \
    "$S/ed25519_batch.c" "$S/key_hash.c" -pthread -o "$WORK/test_ed25519"
"$WORK/test_ed25519" "$VECTORS/ed25519_sign_input_kat.txt" || { cat "$WORK"/report.* >&2 2>/dev/null; exit 1; }

. "$ROOT/tools/instrumented_build.sh"
instrumented_build "ASan+UBSan"
nm -D "$SO" | grep -q __asan_report || { echo "sanitize: $SO is not instrumented" >&2; exit 1; }
nm -D "$SO" | grep -q __ubsan_handle || { echo "sanitize: $SO has no UBSan checks" >&2; exit 1; }
LIBASAN=$($CC -print-file-name=libasan.so)
LIBUBSAN=$($CC -print-file-name=libubsan.so)
if [ $# -eq 0 ]; then set -- tests/test_ed25519_vectors.py; fi
status=0
LD_PRELOAD="$LIBASAN $LIBUBSAN" LEDGER_VECTORS="$VECTORS" "$PY" -m pytest -q -p no:cacheprovider "$@" || status=$?
if ls "$WORK"/report.* >/dev/null 2>&1; then
    cat "$WORK"/report.* >&2
    [ "$status" -ne 0 ] || status=1
fi
[ "$status" -eq 0 ] || { echo "sanitize: FAILED (status $status)" >&2; exit "$status"; }
echo "sanitize: clean"
