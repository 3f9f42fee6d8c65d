"""fork() while other threads are inside the native verifier (services fork: gunicorn, multiprocessing).

A mutex another thread holds at the moment of fork() stays locked forever in the child, which has
only the forking thread. The key cache's stripe locks are the process-global locks of the native
core (ledger/csrc/ed25519_verify.c); every child here must verify and exit promptly.
"""
import os
import signal
import threading
import time

import pytest

from ledger import _core
from ledger.keys import Keypair

CHILDREN = 200
CHILD_SECONDS_MAX = 60.0   # for all children together; a hung child never exits at all


def _signed(count):
    keys = [Keypair.generate() for _ in range(count)]
    messages = [bytes([i % 256]) * 32 for i in range(count)]
    return ([k.public_key for k in keys], messages, [k.sign(m) for k, m in zip(keys, messages)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_children_forked_while_threads_verify_all_finish():
    public_keys, messages, signatures = _signed(256)   # 256 keys touch every stripe of the cache
    stop = threading.Event()

    def busy():
        # Batches take and release the stripe locks all the time; clearing holds them back to back.
        while not stop.is_set():
            _core.ed25519_verify_batch(public_keys, messages, signatures, 2)
            _core.ed25519_keycache_clear()

    workers = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    pids = []
    try:
        time.sleep(0.05)
        for _ in range(CHILDREN):
            pid = os.fork()
            if pid == 0:   # child: only this thread exists here
                try:
                    ok = all(_core.ed25519_verify(p, m, s) for p, m, s in zip(public_keys, messages, signatures))
                    ok = ok and all(_core.ed25519_verify_batch(public_keys, messages, signatures, 2))
                    os._exit(0 if ok else 1)
                finally:
                    os._exit(2)
            pids.append(pid)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    deadline = time.monotonic() + CHILD_SECONDS_MAX
    statuses = {}
    while pids and time.monotonic() < deadline:
        for pid in list(pids):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                statuses[pid] = os.waitstatus_to_exitcode(status)
                pids.remove(pid)
        time.sleep(0.01)
    hung = len(pids)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert hung == 0, f"{hung} of {CHILDREN} children hung after fork()"
    assert set(statuses.values()) == {0}, statuses
