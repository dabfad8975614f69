"""Shared fixtures: one emulator per test session on free ports, driven by the real `momento` SDK; and the suite's
one moto server (tests/aws_moto.py), emptied before each test that takes `moto`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from momento import AuthClient, CredentialProvider
from momento.auth.access_control.disposable_token_scope import DisposableTokenProps, DisposableTokenScope
from momento.config.auth_configurations import AuthConfigurations
from momento.responses import GenerateDisposableToken
from momento.utilities import ExpiresIn

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
from momento_emulator.testing import EmulatorThread

if TYPE_CHECKING:
    from tests.aws_moto import Moto

CACHE = "test-cache"


@dataclass
class RunningEmulator:
    """What tests need to reach a running emulator with the real SDKs."""

    thread: EmulatorThread
    api_key: str
    cache_name: str

    @property
    def host(self) -> str:
        return self.thread.host

    @property
    def grpc_port(self) -> int:
        return self.thread.grpc_port

    @property
    def web_port(self) -> int:
        return self.thread.web_port

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def root_provider(self) -> CredentialProvider:
        """The root key, pointed at the emulator's plaintext port (every SDK factory forces port 443)."""
        return CredentialProvider(self.api_key, self.host, self.host, self.host, self.grpc_port)

    def token_provider(self, auth_token: str) -> CredentialProvider:
        """A vended disposable token, pointed at the emulator."""
        provider = CredentialProvider.from_disposable_token(auth_token)
        return dataclasses.replace(
            provider,
            control_endpoint=self.host,
            cache_endpoint=self.host,
            token_endpoint=self.host,
            port=self.grpc_port,
        )

    def vend(self, scope: DisposableTokenScope, ttl_seconds: int = 60, token_id: str | None = None) -> tuple[str, int]:
        """(auth_token, expires_at) from the emulator's token service, via the SDK's AuthClient and the root key."""
        props = DisposableTokenProps(token_id=token_id) if token_id is not None else None
        with AuthClient(AuthConfigurations.Laptop.latest(), self.root_provider()) as client:
            response = client.generate_disposable_token(scope, ExpiresIn.seconds(ttl_seconds), props)
        assert isinstance(response, GenerateDisposableToken.Success), response
        return response.auth_token, response.expires_at.epoch()


@pytest.fixture(scope="session")
def emulator_thread() -> Iterator[EmulatorThread]:
    config = EmulatorConfig(caches=(CACHE,), heartbeat_interval_seconds=1.0)
    with EmulatorThread(config) as thread:
        yield thread


@pytest.fixture
def emulator(emulator_thread: EmulatorThread) -> RunningEmulator:
    """The session's emulator. Tests use their own topic names, so they share it without resetting."""
    return RunningEmulator(emulator_thread, DEFAULT_API_KEY, CACHE)


def client_timeout() -> timedelta:
    """A long client deadline: the SDK's default 5 s is a whole-stream deadline that kills subscriptions."""
    return timedelta(minutes=5)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    """The session's moto server, not emptied: for module-scoped fixtures that keep what they make for their module
    (with unique names, or a `reset()` of their own at their start). Imported here, not above: the unit tier loads
    this file and needs neither moto nor boto3."""
    from tests import aws_moto

    with aws_moto.moto_server() as server:
        yield server


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    """The session's moto server, emptied before this test (moto's state is per process: see tests/aws_moto.py)."""
    moto_server.reset()
    return moto_server
