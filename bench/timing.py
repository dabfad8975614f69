"""Timing helpers shared by the benchmarks (not a benchmark itself)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["measure", "percentile"]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(fn: Callable[[], object], count: int) -> list[float]:
    """Milliseconds per call for `count` calls, after a warm-up of a tenth as many (at least 5)."""
    for _ in range(max(5, count // 10)):
        fn()
    out = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out
