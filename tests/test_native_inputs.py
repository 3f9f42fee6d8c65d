"""What the native entry points accept: bytes-like objects only, and sizes checked before memory is
committed to them."""
import subprocess
import sys
import textwrap

import pytest

from ledger import _core, crypto
from ledger.keys import Keypair


@pytest.fixture(scope="module")
def signed():
    key = Keypair.generate()
    message = b"a message"
    return key.public_key, message, key.sign(message)


@pytest.mark.parametrize("bad", [32, 64, 0, "x" * 32, [0] * 32, None])
def test_verify_accepts_only_bytes_like(signed, bad):
    public_key, message, signature = signed
    for args in ((bad, message, signature), (public_key, bad, signature), (public_key, message, bad)):
        with pytest.raises(TypeError):
            crypto.verify(*args)


def test_integers_are_not_32_zero_bytes():
    # bytes(32) is 32 zero bytes, and (identity key, any message, R = identity, S = 0) holds under
    # the cofactored equation: this returned True.
    with pytest.raises(TypeError):
        crypto.verify(32, b"msg", 64)
    with pytest.raises(TypeError):
        crypto.verify_batch([32], [b"msg"], [64])
    with pytest.raises(TypeError):
        crypto.verify_batch([bytes(32)], [0], [bytes(64)])
    with pytest.raises(TypeError):
        _core.ed25519_verify(32, b"msg", 64)


def test_a_bytes_object_is_not_a_sequence_of_keys(signed):
    public_key, message, signature = signed
    with pytest.raises(TypeError):   # iterating bytes gives ints
        crypto.verify_batch(public_key, [message] * 32, [signature] * 32)


def test_small_order_and_packing_take_only_bytes_like(signed):
    public_key, message, signature = signed
    with pytest.raises(TypeError):
        crypto.is_small_order([0] * 32)
    with pytest.raises(TypeError):
        crypto.pack_records([[0] * 32], [message], [signature])
    with pytest.raises(TypeError):
        crypto.pack_records([public_key], [message], [list(signature)])


def test_bytes_like_objects_still_verify(signed):
    public_key, message, signature = signed
    assert crypto.verify(bytearray(public_key), memoryview(message), bytearray(signature))
    assert crypto.verify_batch([memoryview(public_key)], [bytearray(message)], [memoryview(signature)]) == [True]
    assert not crypto.verify(public_key, b"another message", signature)
    buffer, size = crypto.pack_records([bytearray(public_key)], [memoryview(message)], [bytearray(signature)])
    assert crypto.verify_records(buffer, size) == [True]


def test_oversized_block_is_refused_before_allocating_in_proportion():
    # 256 MiB of input under an address-space limit that leaves ~96 MiB beyond it: the decoder's
    # view arrays (about 0.75 bytes per input byte, 192 MiB here) were allocated before the
    # 16 MiB size check, so this was a MemoryError, not the limit error.
    script = textwrap.dedent("""
        import resource
        from ledger import codec
        from ledger.errors import LedgerError
        data = bytes(256 << 20)
        size = 0
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    size = int(line.split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + (96 << 20), resource.RLIM_INFINITY))
        try:
            codec.decode_block_for_validation(data)
        except LedgerError as error:
            print(error.code)
        except MemoryError:
            print("MemoryError")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "limit-exceeded"
