"""The node's metrics, written in the Prometheus text exposition format (version 0.0.4).

Specification: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format); the
names follow Prometheus' naming guide (base units: seconds, a `_total` suffix on counters).
Written by hand: a few gauges and counters do not need the prometheus-client dependency.
"""
from __future__ import annotations

import collections
import threading
import time

from ledger import Block

# Commit latency buckets, in seconds (Prometheus histogram `le` bounds).
LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)   # signatures in one verify batch
RATE_WINDOW_SECONDS = 60.0


class Metrics:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.blocks_committed = 0
        self.transactions_committed = 0
        self.transactions_submitted = 0
        self.refusals: collections.Counter[str] = collections.Counter()
        self.blocks_refused: collections.Counter[str] = collections.Counter()   # stream messages refused, by code
        self._latency_counts = [0] * len(LATENCY_BUCKETS_SECONDS)
        self._latency_sum = 0.0
        self._batch_counts = [0] * len(BATCH_SIZE_BUCKETS)
        self._recent: collections.deque[tuple[float, int]] = collections.deque()   # (time, tx count)

    def committed(self, block: Block, seconds: float) -> None:
        with self._lock:
            now = self._clock()
            self.blocks_committed += 1
            self.transactions_committed += len(block.transactions)
            self._latency_sum += seconds
            _observe(LATENCY_BUCKETS_SECONDS, self._latency_counts, seconds)
            _observe(BATCH_SIZE_BUCKETS, self._batch_counts, len(block.transactions))
            self._recent.append((now, len(block.transactions)))
            while self._recent and self._recent[0][0] < now - RATE_WINDOW_SECONDS:
                self._recent.popleft()

    def submitted(self, refusal_code: str | None) -> None:
        with self._lock:
            if refusal_code is None:
                self.transactions_submitted += 1
            else:
                self.refusals[refusal_code] += 1

    def refused_block(self, code: str) -> None:
        with self._lock:
            self.blocks_refused[code] += 1

    def transactions_per_second(self) -> float:
        """Committed transactions per second over the last minute (or since the first commit in it)."""
        with self._lock:
            now = self._clock()
            recent = [(t, n) for t, n in self._recent if t >= now - RATE_WINDOW_SECONDS]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], 1.0)
        return sum(n for _, n in recent) / span

    def render(self, height: int, mempool_transactions: int, mempool_bytes: int) -> str:
        rate = self.transactions_per_second()
        with self._lock:
            lines = [
                "# HELP ledger_height The height of the store's tip.",
                "# TYPE ledger_height gauge",
                f"ledger_height {height}",
                "# HELP ledger_transactions_per_second Committed transactions per second over the last minute.",
                "# TYPE ledger_transactions_per_second gauge",
                f"ledger_transactions_per_second {rate:.3f}",
                "# HELP ledger_mempool_transactions Transactions waiting in the mempool.",
                "# TYPE ledger_mempool_transactions gauge",
                f"ledger_mempool_transactions {mempool_transactions}",
                "# HELP ledger_mempool_bytes Bytes of the transactions waiting in the mempool.",
                "# TYPE ledger_mempool_bytes gauge",
                f"ledger_mempool_bytes {mempool_bytes}",
                "# HELP ledger_blocks_committed_total Blocks committed to this node's store (replicated: every block "
                "taken from the block stream).",
                "# TYPE ledger_blocks_committed_total counter",
                f"ledger_blocks_committed_total {self.blocks_committed}",
                "# HELP ledger_transactions_committed_total Transactions in the blocks this node committed.",
                "# TYPE ledger_transactions_committed_total counter",
                f"ledger_transactions_committed_total {self.transactions_committed}",
                "# HELP ledger_transactions_admitted_total Transactions admitted to the mempool.",
                "# TYPE ledger_transactions_admitted_total counter",
                f"ledger_transactions_admitted_total {self.transactions_submitted}",
            ]
            lines += _by_code("ledger_transactions_refused_total", "Submitted transactions refused, by code.",
                              self.refusals)
            lines += _histogram("ledger_commit_latency_seconds", "Time to validate and durably commit a block to "
                                "this store (a single node: building it too; replicated: taking it from the block "
                                "stream).", LATENCY_BUCKETS_SECONDS, self._latency_counts, self.blocks_committed,
                                f"{self._latency_sum:.6f}")
            lines += [
                # the signature batch of a block's validation is the block: its size is the block's count
                "# HELP ledger_verify_batch_size Signatures verified in the last committed block's batch.",
                "# TYPE ledger_verify_batch_size gauge",
                f"ledger_verify_batch_size {self._recent[-1][1] if self._recent else 0}",
            ]
            lines += _histogram("ledger_verify_batch_signatures", "Signatures per verify batch (one batch per "
                                "committed block).", BATCH_SIZE_BUCKETS, self._batch_counts, self.blocks_committed,
                                str(self.transactions_committed))
            lines += _by_code("ledger_blocks_refused_total", "Messages of the block stream this node refused, by code.",
                              self.blocks_refused)
        return "\n".join(lines) + "\n"


def _observe(bounds: tuple, counts: list[int], value: float) -> None:
    """Count `value` in every cumulative bucket whose bound it does not exceed."""
    for i, bound in enumerate(bounds):
        if value <= bound:
            counts[i] += 1


def _histogram(name: str, help_text: str, bounds: tuple, counts: list[int], count: int, total: str) -> list[str]:
    return ([f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
            + [f'{name}_bucket{{le="{bound}"}} {n}' for bound, n in zip(bounds, counts)]
            + [f'{name}_bucket{{le="+Inf"}} {count}', f"{name}_sum {total}", f"{name}_count {count}"])


def _by_code(name: str, help_text: str, counter: collections.Counter) -> list[str]:
    return ([f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            + [f'{name}{{code="{code}"}} {n}' for code, n in sorted(counter.items())])
