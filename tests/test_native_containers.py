"""The native bindings must survive Python code that runs while they walk a caller's container.

Taking an item's buffer can run Python code (a __buffer__ method on Python >= 3.12, a C type whose
getbuffer calls back, a finalizer), and that code may shrink or clear the very list being walked.
The bindings index without bounds checks (setup.py turns them off), so each one must walk a private
snapshot. tests/c/callback_buffer.c is a bytes-like type whose export calls a Python callback first,
which makes the hazard reachable on every supported Python; crashes are caught in a subprocess.
`make sanitize` runs this file under AddressSanitizer, where a stale read is a report, not luck.
"""
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from ledger import _core

HELPER_SOURCE = Path(__file__).parent / "c" / "callback_buffer.c"
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def helper_dir(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("callback_buffer")
    target = out_dir / ("callback_buffer" + sysconfig.get_config_var("EXT_SUFFIX"))
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-I" + sysconfig.get_paths()["include"],
                    str(HELPER_SOURCE), "-o", str(target)], check=True)
    return out_dir


def run_isolated(helper_dir, body: str) -> subprocess.CompletedProcess:
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, {helper!r})
        from callback_buffer import CallbackBuffer
        from ledger import _core
    """).format(helper=str(helper_dir)) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_keyed_many_hashes_a_snapshot_when_an_export_clears_the_list(helper_dir):
    result = run_isolated(helper_dir, """
        key = bytes(range(32))
        originals = [bytes([i]) * (i + 1) for i in range(40)]
        items = list(originals)
        items[3] = CallbackBuffer(originals[3], items.clear)
        out = _core.blake3_keyed_many(key, items)
        assert items == [], "the callback ran"
        expected = b"".join(_core.blake3_keyed(key, item) for item in originals)
        assert out == expected, "digests of the items as they were when the call began"
        print("ok")
    """)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() == "ok"


def test_keyed_many_hashes_a_snapshot_when_an_export_shrinks_the_list(helper_dir):
    result = run_isolated(helper_dir, """
        key = bytes(range(32))
        originals = [bytes([i]) * 33 for i in range(200)]
        items = list(originals)
        def shrink():
            del items[5:]
        items[4] = CallbackBuffer(originals[4], shrink)
        out = _core.blake3_keyed_many(key, items)
        assert len(items) == 5
        assert out == b"".join(_core.blake3_keyed(key, item) for item in originals)
        print("ok")
    """)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() == "ok"


@pytest.mark.skipif(sys.version_info < (3, 12), reason="__buffer__ on Python classes needs 3.12 (PEP 688)")
def test_keyed_many_with_a_python_buffer_method_that_clears_the_list():
    originals = [bytes([i]) * 50 for i in range(30)]
    items = list(originals)

    class Clearing:
        def __buffer__(self, flags):
            items.clear()
            return memoryview(originals[2])

    items[2] = Clearing()
    assert _core.blake3_keyed_many(KEY, items) == b"".join(_core.blake3_keyed(KEY, item) for item in originals)


def test_batch_verify_when_an_export_clears_the_other_lists(helper_dir):
    # The three sequences are copied one after the other; clearing `messages` while the keys are
    # copied must give the length error, not a read past the end of a list.
    result = run_isolated(helper_dir, """
        public_keys = [bytes(32)] * 8
        messages = [b"m"] * 8
        signatures = [bytes(64)] * 8
        public_keys[2] = CallbackBuffer(bytes(32), messages.clear)
        try:
            _core.ed25519_verify_batch(public_keys, messages, signatures, 1)
        except ValueError as error:
            print("ValueError", error)
    """)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.startswith("ValueError")


def test_merkle_leaf_size_times_count_overflow_is_a_value_error():
    for leaf_size in (2 ** 62, 2 ** 61 + 1, sys.maxsize):
        with pytest.raises(ValueError):
            _core.merkle_root_blake3(KEY, KEY, [b"x"] * 3, leaf_size)
