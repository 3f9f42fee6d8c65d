"""The gate that lets the LMDB map grow only while no snapshot of this process is open
(ledger.storage._ReaderGate): a reader that re-enters during a pending resize."""
from __future__ import annotations

import threading

from ledger.storage import _ReaderGate

DEADLOCK_SECONDS = 30   # a bound for a wait that must end at once; reaching it means a deadlock


def test_a_thread_holding_a_snapshot_may_open_another_while_a_resize_waits():
    gate = _ReaderGate()
    resized = threading.Event()
    gate.enter()                                   # this thread reads (an index merge's snapshot)
    resizer = threading.Thread(target=gate.resize, args=(resized.set,), daemon=True)
    resizer.start()
    while not gate._resizing:                      # the resize is now pending, waiting for readers
        threading.Event().wait(0.001)
    rescued: list[bool] = []

    def rescue() -> None:               # only on a deadlock: close the first snapshot to end it
        rescued.append(True)
        gate.leave()
    # The same thread opens a second snapshot (the merge's write); a watcher ends a deadlock so the
    # test fails instead of hanging.
    watcher = threading.Timer(DEADLOCK_SECONDS, rescue)
    watcher.start()
    gate.enter()
    watcher.cancel()
    assert rescued == [], "a reader re-entering during a pending resize waited for the resize (deadlock)"
    gate.leave()
    gate.leave()
    resizer.join(DEADLOCK_SECONDS)
    assert resized.is_set() and not resizer.is_alive()
