"""Fixtures of the vending function's test modules (the helpers live in tests/integration/vending.py), and the wheel
the packaging tests share (tests/integration/fresh_venv.py)."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.aws_moto import Moto
from tests.integration import fresh_venv, vending


@pytest.fixture(scope="module")
def moto_endpoint(moto_server: Moto) -> str:
    """The suite's moto server (tests/aws_moto.py), emptied once for this module: the function's key secret, made
    when the module's `function` is loaded, lasts the module."""
    moto_server.reset()
    return moto_server.url


@pytest.fixture(scope="module")
def function(moto_endpoint: str, emulator_thread: Any) -> Iterator[ModuleType]:
    """The handler module, imported once per test module (as Lambda does per container)."""
    yield from vending.loaded_function(moto_endpoint, emulator_thread)


@pytest.fixture
def clock() -> vending.Clock:
    return vending.Clock()


@pytest.fixture
def fresh(function: ModuleType, clock: vending.Clock) -> Iterator[Any]:
    """A new container's function: no key read and no Momento client yet, its key cache (the one the module builds at
    import) on the test's clock. The next mint reads the key from where the environment says."""
    built = function.VendingFunction(function.key_cache(clock))
    yield built
    built.close()


@pytest.fixture
def logs(function: ModuleType) -> Iterator[io.StringIO]:
    yield from vending.captured_logs(function)


@pytest.fixture(scope="session")
def built_wheel() -> Iterator[Path]:
    """The library's wheel, built once per session from a clean copy of the checkout: test_wheel.py and
    test_readme_embedding.py install this same file."""
    with tempfile.TemporaryDirectory(prefix="momento-tvm-wheel-") as work:
        yield fresh_venv.build_wheel(Path(work))
