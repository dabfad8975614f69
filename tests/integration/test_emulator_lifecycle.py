"""The emulator's life: it starts holding the caches it is told of (`--cache`, else $CACHE_NAME; `make emulator`:
chat), so a token for one works at once; and stopping it with subscriptions open ends them with UNAVAILABLE (so
clients reconnect) and stops promptly, on both ports, so `make dev` and tests can restart it on the same ports at once.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from momento import AuthClient, CacheClient, Configurations, CredentialProvider
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.config.auth_configurations import AuthConfigurations
from momento.responses import CacheGet, CacheSet, GenerateDisposableToken
from momento.utilities import ExpiresIn
from momento_wire_types.generated import cachepubsub_pb2, cachepubsub_pb2_grpc

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
from momento_emulator.testing import EmulatorThread


def _web_subscribe(url: str, out: dict[str, Any]) -> None:
    request = cachepubsub_pb2._SubscriptionRequest(cache_name="c", topic="t").SerializeToString()
    body = base64.b64encode(struct.pack(">BI", 0, len(request)) + request)
    headers = {"Content-Type": "application/grpc-web-text", "authorization": DEFAULT_API_KEY, "X-Grpc-Web": "1"}
    req = urllib.request.Request(f"{url}/cache_client.pubsub.Pubsub/Subscribe", data=body, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=20) as response:  # noqa: S310 (a local http URL built by the test)
        out["body"] = response.read()


def _frames(text: bytes) -> list[tuple[int, bytes]]:
    raw = b"".join(base64.b64decode(unit + b"=" * (-len(unit) % 4)) for unit in text.split(b"=") if unit)
    frames, offset = [], 0
    while offset < len(raw):
        flag, length = struct.unpack_from(">BI", raw, offset)
        frames.append((flag, raw[offset + 5 : offset + 5 + length]))
        offset += 5 + length
    return frames


def test_stop_ends_open_subscriptions_with_unavailable_and_returns_promptly() -> None:
    emulator = EmulatorThread(EmulatorConfig(caches=("c",), heartbeat_interval_seconds=30)).start()
    web: dict[str, Any] = {}
    reader = threading.Thread(target=_web_subscribe, args=(f"http://127.0.0.1:{emulator.web_port}", web))
    reader.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{emulator.grpc_port}")
    stream = cachepubsub_pb2_grpc.PubsubStub(channel).Subscribe(
        cachepubsub_pb2._SubscriptionRequest(cache_name="c", topic="t"), metadata=[("authorization", DEFAULT_API_KEY)]
    )
    assert next(stream).WhichOneof("kind") == "heartbeat"
    deadline = time.monotonic() + 10
    while emulator.call(lambda core: core.broker.subscriber_count("c", "t")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    started = time.monotonic()
    emulator.stop()
    stopped_in = time.monotonic() - started
    reader.join(10)

    assert stopped_in < 3, stopped_in
    with pytest.raises(grpc.RpcError) as ended:
        next(stream)
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    channel.close()
    trailer = [payload for flag, payload in _frames(web["body"]) if flag & 0x80]
    assert trailer
    assert b"grpc-status:14" in trailer[-1]
    for port in (emulator.grpc_port, emulator.web_port):  # both ports are free again at once
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))


# ---------------------------------------------------------------------- the caches it starts with (issue 19)
ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0


def _ready_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The emulator's JSON ready line (make echoes its command line first); fails after READY_TIMEOUT."""
    assert process.stdout is not None
    found: dict[str, Any] = {}

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                found.update(json.loads(line))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(READY_TIMEOUT)
    assert found, f"no ready line within {READY_TIMEOUT} s (exit status {process.poll()})"
    return found


@contextlib.contextmanager
def _running(command: list[str], env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The real process on free ports, in its own process group; Ctrl-C (SIGINT to the group) ends it."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        yield _ready_line(process)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


def _env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in ("CACHE_NAME", "MAKEFLAGS", "MFLAGS")}
    return {**env, **extra}


def _a_token_can_set_and_get(grpc_port: int, cache: str) -> None:
    """What a first-hour user does: vend a token for `cache` with the root key, then set and get with that token,
    through the real `momento` SDK. Against a cache that does not exist the set is NOT_FOUND ("cache not found")."""
    host = "127.0.0.1"
    root = CredentialProvider(DEFAULT_API_KEY, host, host, host, grpc_port)
    with AuthClient(AuthConfigurations.Laptop.latest(), root) as auth:
        vended = auth.generate_disposable_token(DisposableTokenScopes.cache_read_write(cache), ExpiresIn.seconds(60))
    assert isinstance(vended, GenerateDisposableToken.Success), vended
    provider = dataclasses.replace(
        CredentialProvider.from_disposable_token(vended.auth_token),
        control_endpoint=host,
        cache_endpoint=host,
        token_endpoint=host,
        port=grpc_port,
    )
    with CacheClient(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        stored = client.set(cache, "greeting", "hello")
        assert isinstance(stored, CacheSet.Success), stored
        read = client.get(cache, "greeting")
    assert isinstance(read, CacheGet.Hit) and read.value_string == "hello", read


def test_a_token_for_the_cache_named_by_the_flag_sets_and_gets_at_once() -> None:
    command = [sys.executable, "-m", "momento_emulator", "--cache", "chat", "--grpc-port", "0", "--web-port", "0"]
    with _running(command, _env()) as ready:
        assert ready["caches"] == ["chat"]
        _a_token_can_set_and_get(ready["grpc_port"], "chat")


def test_cache_name_in_the_environment_names_the_caches_when_no_flag_does() -> None:
    """It used to be ignored: the emulator started with no cache, and the set below was "cache not found"."""
    command = [sys.executable, "-m", "momento_emulator", "--grpc-port", "0", "--web-port", "0"]
    with _running(command, _env(CACHE_NAME="orders, chat")) as ready:
        _a_token_can_set_and_get(ready["grpc_port"], "orders")
        assert ready["caches"] == ["orders", "chat"]
    flagged = [*command, "--cache", "flagged"]
    with _running(flagged, _env(CACHE_NAME="orders")) as ready:  # a flag wins over the environment
        assert ready["caches"] == ["flagged"]


def test_make_emulator_holds_the_docs_cache_and_cache_name_picks_another() -> None:
    """`make emulator`, then docs/emulator.md's and docs/embedding.md's `chat` cache works; it used to start with
    no cache at all, so a token minted for `chat` failed in the client with "cache not found"."""
    ports = {"MOMENTO_GRPC_PORT": "0", "MOMENTO_WEB_PORT": "0"}
    with _running(["make", "--no-print-directory", "emulator"], _env(**ports)) as ready:
        _a_token_can_set_and_get(ready["grpc_port"], "chat")
        assert ready["caches"] == ["chat"]
    with _running(["make", "--no-print-directory", "emulator", "CACHE_NAME=orders"], _env(**ports)) as ready:
        _a_token_can_set_and_get(ready["grpc_port"], "orders")
        assert ready["caches"] == ["orders"]


def test_a_bad_cache_name_is_a_usage_error_not_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "momento_emulator", "--grpc-port", "0", "--web-port", "0"],
        cwd=ROOT,
        env=_env(CACHE_NAME="bad\tname"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("momento_emulator: error: cache names are 1 to 255 printable")
