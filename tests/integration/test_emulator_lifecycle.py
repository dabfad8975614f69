"""Stopping the emulator with subscriptions open: it ends them with UNAVAILABLE (so clients reconnect) and stops
promptly, on both ports, so `make dev` and tests can restart it on the same ports at once."""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time
import urllib.request
from typing import Any

import grpc
import pytest
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
