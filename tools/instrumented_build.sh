# Sourced by tools/sanitize.sh and tools/tsan.sh: builds ledger._core with the sanitizer flags in
# $SAN in a scratch copy of the tree ($WORK/tree; the in-place build of this checkout is left
# alone), leaves the shell in that copy and the built module's path in $SO.
# Needs ROOT, WORK, SAN and PY set by the caller.
instrumented_build() {
    echo "== extension under $1 (scratch copy: $WORK/tree)"
    mkdir -p "$WORK/tree"
    (cd "$ROOT" && tar cf - --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.so' \
        --exclude=./ledger/_core.c --exclude=./.hypothesis --exclude=./.pytest_cache --exclude=./demo .) |
        (cd "$WORK/tree" && tar xf -)
    cd "$WORK/tree"
    CFLAGS="$SAN -O1" LDFLAGS="$SAN" "$PY" setup.py -q build_ext --inplace >"$WORK/build.log" 2>&1 ||
        { cat "$WORK/build.log"; exit 1; }
    SO=$(ls ledger/_core*.so)
}
