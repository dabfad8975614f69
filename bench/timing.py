"""Timing helpers shared by the benchmarks (not a benchmark itself)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

__all__ = ["load_vending_handler", "measure", "percentile"]


class _Context:
    """What the Lambda runtime passes as `context`, enough for Powertools."""

    function_name, memory_limit_in_mb, aws_request_id = "bench", "256", "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def load_vending_handler(
    folder: Path, event_file: Path, name: str = "bench_vending_app"
) -> tuple[ModuleType, Callable[[], None]]:
    """(the vending app module imported from `folder`, as Lambda does, and one warm `GET /token` call of it).

    The environment must already be the function's: the module reads it at import.
    """
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    event = json.loads(event_file.read_text())

    def call() -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics lines
            response = app.handler(event, _Context())
        assert response["statusCode"] == 200, response

    return app, call


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
