"""Fixtures of the vending function's test modules (the helpers live in tests/integration/vending.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.integration import vending


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    yield from vending.serve_moto()


@pytest.fixture(scope="module")
def function(moto_endpoint: str, emulator_thread: Any) -> Iterator[ModuleType]:
    """The handler module, imported once per test module (as Lambda does per container)."""
    yield from vending.loaded_function(moto_endpoint, emulator_thread)


@pytest.fixture
def logs(function: ModuleType) -> Iterator[io.StringIO]:
    yield from vending.captured_logs(function)
