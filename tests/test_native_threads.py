"""Native paths shared between threads: results must not depend on what other threads do meanwhile.

Run as well under ThreadSanitizer by tools/tsan.sh (`make tsan`), where an unsynchronised access
(such as the BLAKE3 SIMD switch was: a plain int read by hashing threads and written by
blake3_simd()) is a failure even when the values happen to come out right.
"""
import threading

from ledger import _core, crypto
from ledger.keys import Keypair

LEAF, NODE = bytes(range(32)), bytes(range(32, 64))


def _run_together(workers, flipper, rounds):
    errors = []

    def guard(work):
        try:
            for _ in range(rounds):
                work()
        except BaseException as error:   # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=guard, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    flips = 0
    while any(t.is_alive() for t in threads):
        flipper(flips)
        flips += 1
    for t in threads:
        t.join()
    assert not errors, errors


def test_merkle_roots_while_the_simd_switch_flips():
    leaves = b"".join(i.to_bytes(4, "little") * 8 for i in range(40_000))   # split over threads
    was = _core.blake3_simd()
    try:
        expected = _core.merkle_root_blake3(LEAF, NODE, leaves, 32, 1)
        items = [leaves[i:i + 32] for i in range(0, 64 * 32, 32)]
        expected_many = _core.blake3_keyed_many(LEAF, items)

        def roots():
            assert _core.merkle_root_blake3(LEAF, NODE, leaves, 32, 2) == expected
            assert _core.blake3_keyed_many(LEAF, items) == expected_many

        _run_together([roots, roots], lambda n: _core.blake3_simd(n % 2), rounds=6)
    finally:
        _core.blake3_simd(1 if was else 0)


def test_batches_while_the_key_cache_is_cleared_and_switched():
    keys = [Keypair.from_seed(bytes([i + 1]) * 32) for i in range(40)]
    messages = [bytes([i]) * 32 for i in range(40)]
    sigs = [k.sign(m) for k, m in zip(keys, messages)]
    sigs[33] = keys[0].sign(b"another message")
    public_keys = [k.public_key for k in keys] * 2
    messages, sigs = messages * 2, sigs * 2
    expected = [i % 40 != 33 for i in range(80)]
    simd_was = _core.ed25519_simd()

    def batch():
        assert crypto.verify_batch(public_keys, messages, sigs, threads=2) == expected
        assert crypto.first_bad(public_keys, messages, sigs, threads=2) == 33

    def flip(n):
        _core.ed25519_keycache_clear()
        _core.ed25519_keycache(n % 3 != 0)
        _core.ed25519_simd(n % 2)

    try:
        _run_together([batch, batch], flip, rounds=8)
    finally:
        _core.ed25519_keycache(True)
        _core.ed25519_simd(1 if simd_was else 0)
