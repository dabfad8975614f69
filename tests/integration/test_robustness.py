"""Garbage on both emulator ports is refused with a precise gRPC status and leaves the emulator serving.

Every case ends by proving the emulator still serves: a real SDK call (root-key `CacheClient` set/get, or a
`TopicClientAsync` round trip). Native-port cases use a raw TCP socket or a grpc channel with no (de)serializers, so
the request bytes are exactly what the test chose; grpc-web cases use aiohttp (or http.client in the hypothesis
test) and read the answer the way a grpc-web client does: base64 units holding frames, the status in a trailer frame.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import io
import random
import re
import socket
import struct
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from momento import CacheClient, Configurations, TopicClientAsync, TopicConfigurations
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.responses import CacheGet, CacheSet, TopicPublish, TopicSubscribe, TopicSubscriptionItem
from momento_wire_types.generated import cachepubsub_pb2

from momento_emulator import EmulatorError, Status
from momento_emulator.core import DEFAULT_MAX_MESSAGE_BYTES
from momento_emulator.grpcweb import decode_body, parse_request_frames
from tests.conftest import RunningEmulator, client_timeout

PUBLISH = "/cache_client.pubsub.Pubsub/Publish"
SUBSCRIBE = "/cache_client.pubsub.Pubsub/Subscribe"
GRPC_WEB_TEXT = "application/grpc-web-text"
CALL_TIMEOUT_S = 10.0
ORIGIN = "http://localhost:5173"
# What Chromium asks for before a Publish from @gomomento/sdk-web (from the project's Momento wire notes).
PREFLIGHT_HEADERS = ("agent", "authorization", "cache", "content-type", "grpc-timeout", "runtime-version", "x-grpc-web")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- proof of life -----------------------------------------------------------------------------------------------


def assert_serving(emulator: RunningEmulator) -> None:
    """A real SDK round trip on the native port: root-key set, then get the same value back."""
    key, value = unique("alive"), uuid.uuid4().hex
    with CacheClient(Configurations.Laptop.v1(), emulator.root_provider(), timedelta(seconds=60)) as client:
        stored = client.set(emulator.cache_name, key, value)
        assert isinstance(stored, CacheSet.Success), stored
        fetched = client.get(emulator.cache_name, key)
    assert isinstance(fetched, CacheGet.Hit), fetched
    assert fetched.value_string == value


async def assert_serving_async(emulator: RunningEmulator, session: aiohttp.ClientSession | None = None) -> None:
    """The SDK round trip (in a thread: the SDK client is blocking) and, given a session, a valid grpc-web publish."""
    await asyncio.to_thread(assert_serving, emulator)
    if session is not None:
        request = publish_request(emulator.cache_name, unique("alive"), "alive")
        answer = await web_post(session, emulator, PUBLISH, b64(frame(0, request)), grpcweb_headers(emulator))
        assert answer.http_status == 200, answer
        assert answer.grpc_status == Status.OK, answer
        assert answer.messages == [b""], answer


@asynccontextmanager
async def subscribed(
    emulator: RunningEmulator, token: str | None, topic: str
) -> AsyncIterator[TopicSubscribe.SubscriptionAsync]:
    """A live SDK subscription (its first heartbeat already received), unsubscribed on exit."""
    provider = emulator.root_provider() if token is None else emulator.token_provider(token)
    config = TopicConfigurations.Default.v1().with_client_timeout(client_timeout())
    async with TopicClientAsync(config, provider) as client:
        subscription = await asyncio.wait_for(client.subscribe(emulator.cache_name, topic), CALL_TIMEOUT_S)
        assert isinstance(subscription, TopicSubscribe.SubscriptionAsync), subscription
        try:
            yield subscription
        finally:
            subscription.unsubscribe()


async def next_text(subscription: TopicSubscribe.SubscriptionAsync) -> TopicSubscriptionItem.Text:
    item = await asyncio.wait_for(anext(subscription), CALL_TIMEOUT_S)
    assert isinstance(item, TopicSubscriptionItem.Text), item
    return item


# --- wire helpers --------------------------------------------------------------------------------------------------


def publish_request(cache: str, topic: str, text: str | None = None, binary: bytes | None = None) -> bytes:
    value = cachepubsub_pb2._TopicValue(text=text) if binary is None else cachepubsub_pb2._TopicValue(binary=binary)
    return cachepubsub_pb2._PublishRequest(cache_name=cache, topic=topic, value=value).SerializeToString()


def frame(flag: int, payload: bytes, length: int | None = None) -> bytes:
    """A grpc-web frame; `length` overrides the header's length field (to lie about the payload)."""
    return struct.pack(">BI", flag, len(payload) if length is None else length) + payload


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def exchange(host: str, port: int, data: bytes, wait: float = 2.0) -> tuple[bytes, bool]:
    """Send `data` on a fresh TCP connection and read for up to `wait` s: (bytes received, closed by the server)."""
    received = bytearray()
    with socket.create_connection((host, port), timeout=wait) as sock:
        try:
            sock.sendall(data)
        except OSError:  # the server hung up while we were still sending: that is a close
            return bytes(received), True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return bytes(received), False
            except OSError:
                return bytes(received), True
            if not chunk:
                return bytes(received), True
            received += chunk
    return bytes(received), False


# --- native gRPC port: raw TCP -------------------------------------------------------------------------------------

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_rng = random.Random(20261126)  # garbage that is random but the same on every run
RAW_GARBAGE = {
    "1-byte": _rng.randbytes(1),
    "100-bytes": _rng.randbytes(100),
    "4-KiB": _rng.randbytes(4096),
    "64-KiB": _rng.randbytes(65536),
    "1-MiB": _rng.randbytes(1024 * 1024),
    "zeros": bytes(1000),
    "http1-request": b"POST /cache_client.pubsub.Pubsub/Publish HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    "preface-then-garbage": H2_PREFACE + _rng.randbytes(512),
    "preface-then-bad-frame": H2_PREFACE + struct.pack(">I", 0xFFFFFF)[1:] + b"\x07\x00\x00\x00\x00\x00" + bytes(64),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", list(RAW_GARBAGE))
def test_native_port_drops_raw_garbage_and_keeps_serving(emulator: RunningEmulator, name: str) -> None:
    received, closed = exchange(emulator.host, emulator.grpc_port, RAW_GARBAGE[name])

    assert closed, f"{name}: the server kept a garbage connection open"
    # All it may say is HTTP/2: its SETTINGS frame (type 0x04), maybe a GOAWAY; never an HTTP/1 answer.
    assert not received.startswith(b"HTTP/"), received[:200]
    if received:
        assert len(received) >= 9, received
        assert received[3] == 0x04, received[:64]
    assert_serving(emulator)


@pytest.mark.timeout(30)
def test_native_port_truncated_preface_waits_without_blocking_others(emulator: RunningEmulator) -> None:
    """Half-open connections (a preface cut short, never finished) do not stop the server serving others."""
    socks = [socket.create_connection((emulator.host, emulator.grpc_port), timeout=5) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(H2_PREFACE[:10])
        assert_serving(emulator)
    finally:
        for sock in socks:
            sock.close()
    received, _closed = exchange(emulator.host, emulator.grpc_port, H2_PREFACE[:18], wait=1.0)
    assert not received.startswith(b"HTTP/"), received[:200]
    assert_serving(emulator)


# --- native gRPC port: grpc calls with chosen bytes ------------------------------------------------------------------


@pytest.fixture
def channel(emulator: RunningEmulator) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"{emulator.host}:{emulator.grpc_port}") as ch:
        yield ch


def root_metadata(emulator: RunningEmulator) -> list[tuple[str, str]]:
    return [("authorization", emulator.api_key)]


def unary_failure(
    channel: grpc.Channel, path: str, request: bytes, metadata: list[tuple[str, str]] | None
) -> grpc.RpcError:
    call = channel.unary_unary(path)  # no serializers: the request goes out as these exact bytes
    with pytest.raises(grpc.RpcError) as info:
        call(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
    return info.value


def stream_failure(
    channel: grpc.Channel, path: str, request: bytes, metadata: list[tuple[str, str]] | None
) -> grpc.RpcError:
    call = channel.unary_stream(path)
    responses = call(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
    with pytest.raises(grpc.RpcError) as info:
        next(iter(responses))
    return info.value


# Bytes that are not a protobuf message of any type (each breaks a different decoder rule).
MALFORMED_PROTOBUF = {
    "wire-type-7": b"\x0f",
    "varint-overflow": b"\x08" + b"\xff" * 11,
    "length-past-end": b"\x0a\x10short",
    "truncated-tag": b"\x80",
    "invalid-utf8-string": b"\x0a\x02\xc3\x28",
    "random": random.Random(7).randbytes(64) + b"\x0f",
}


@pytest.mark.parametrize("name", list(MALFORMED_PROTOBUF))
def test_native_publish_with_garbage_bytes_is_invalid_argument(
    emulator: RunningEmulator, channel: grpc.Channel, name: str
) -> None:
    error = unary_failure(channel, PUBLISH, MALFORMED_PROTOBUF[name], root_metadata(emulator))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    assert "malformed" in (error.details() or "")
    assert_serving(emulator)


@pytest.mark.parametrize("name", list(MALFORMED_PROTOBUF))
def test_native_subscribe_with_garbage_bytes_is_invalid_argument(
    emulator: RunningEmulator, channel: grpc.Channel, name: str
) -> None:
    error = stream_failure(channel, SUBSCRIBE, MALFORMED_PROTOBUF[name], root_metadata(emulator))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    assert_serving(emulator)


@pytest.mark.parametrize(
    "path",
    [
        "/cache_client.pubsub.Pubsub/Nope",
        "/no.such.Service/Publish",
        "/cache_client.pubsub.pubsub/publish",  # paths are case-sensitive
        "/",
    ],
)
def test_native_unknown_method_is_unimplemented(emulator: RunningEmulator, channel: grpc.Channel, path: str) -> None:
    request = publish_request(emulator.cache_name, unique("t"), "x")
    error = unary_failure(channel, path, request, root_metadata(emulator))

    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, (error.code(), error.details())
    assert_serving(emulator)


@pytest.mark.parametrize(
    "metadata",
    [None, [("authorization", "")], [("authorization", "not-a-key")], [("authorization", "emu1.e30.AAAA")]],
    ids=["absent", "empty", "unknown", "forged-token"],
)
def test_native_publish_without_valid_authorization_is_unauthenticated(
    emulator: RunningEmulator, channel: grpc.Channel, metadata: list[tuple[str, str]] | None
) -> None:
    request = publish_request(emulator.cache_name, unique("t"), "x")
    error = unary_failure(channel, PUBLISH, request, metadata)

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (error.code(), error.details())
    stream_error = stream_failure(
        channel,
        SUBSCRIBE,
        cachepubsub_pb2._SubscriptionRequest(cache_name=emulator.cache_name, topic="t").SerializeToString(),
        metadata,
    )
    assert stream_error.code() == grpc.StatusCode.UNAUTHENTICATED, (stream_error.code(), stream_error.details())
    assert_serving(emulator)


def test_emulator_uses_the_documented_message_limit(emulator: RunningEmulator) -> None:
    assert emulator.thread.config.max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 1024 * 1024


@pytest.mark.timeout(60)
def test_native_value_just_over_the_limit_is_invalid_argument(emulator: RunningEmulator, channel: grpc.Channel) -> None:
    """Between the limit and the limit + 64 KiB envelope grpcio accepts the message and the core refuses the value."""
    limit = emulator.thread.config.max_message_bytes
    at_limit = publish_request(emulator.cache_name, unique("big"), binary=b"x" * limit)
    channel.unary_unary(PUBLISH)(at_limit, metadata=root_metadata(emulator), timeout=CALL_TIMEOUT_S)

    over = publish_request(emulator.cache_name, unique("big"), binary=b"x" * (limit + 1))
    error = unary_failure(channel, PUBLISH, over, root_metadata(emulator))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    assert "over the limit" in (error.details() or "")
    assert_serving(emulator)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("size", [2 * 1024 * 1024, 8 * 1024 * 1024])
def test_native_message_far_over_the_limit_is_resource_exhausted(
    emulator: RunningEmulator, channel: grpc.Channel, size: int
) -> None:
    """Past the limit + 64 KiB envelope grpcio itself refuses the message before the emulator sees it."""
    assert size > emulator.thread.config.max_message_bytes + 64 * 1024
    request = publish_request(emulator.cache_name, unique("huge"), binary=b"x" * size)
    error = unary_failure(channel, PUBLISH, request, root_metadata(emulator))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (error.code(), error.details())
    assert_serving(emulator)
    # The same channel still works afterwards: only the one call failed.
    ok = channel.unary_unary(PUBLISH)(
        publish_request(emulator.cache_name, unique("t"), "small"),
        metadata=root_metadata(emulator),
        timeout=CALL_TIMEOUT_S,
    )
    assert ok == b""  # _Empty


# --- grpc-web port -------------------------------------------------------------------------------------------------


@dataclass
class WebAnswer:
    http_status: int
    headers: Mapping[str, str]
    messages: list[bytes]
    trailers: dict[str, str]

    @property
    def grpc_status(self) -> int:
        """The status from the trailer frame, or from the HTTP headers when there is no grpc-web body."""
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        assert value is not None, f"no grpc-status in {self}"
        return int(value)

    @property
    def grpc_message(self) -> str:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message", ""))


_B64_UNITS = re.compile(rb"(?:[A-Za-z0-9+/]+={0,2})*")


def parse_grpcweb_frames(raw: bytes) -> tuple[list[bytes], dict[str, str]]:
    """Data frames, then exactly one trailer frame at the end (what a grpc-web client insists on)."""
    messages: list[bytes] = []
    trailers: dict[str, str] | None = None
    offset = 0
    while offset < len(raw):
        assert trailers is None, f"frames after the trailer: {raw!r}"
        assert len(raw) - offset >= 5, f"truncated frame header: {raw!r}"
        flag, length = struct.unpack_from(">BI", raw, offset)
        offset += 5
        payload = raw[offset : offset + length]
        assert len(payload) == length, f"truncated frame: {raw!r}"
        offset += length
        if flag == 0x80:
            trailers = {}
            for line in payload.decode("ascii").split("\r\n"):
                if line:
                    name, _, value = line.partition(":")
                    trailers[name.strip().lower()] = urllib.parse.unquote(value.strip())
        else:
            assert flag == 0x00, f"unexpected frame flag {flag:#x}"
            messages.append(payload)
    assert trailers is not None, f"no trailer frame in {raw!r}"
    return messages, trailers


def parse_grpcweb_text(body: bytes) -> tuple[list[bytes], dict[str, str]]:
    """A grpc-web-text answer: one or more padded base64 units back to back."""
    assert _B64_UNITS.fullmatch(body), f"not base64 units: {body[:200]!r}"
    raw = b"".join(base64.b64decode(unit, validate=True) for unit in re.findall(rb"[A-Za-z0-9+/]+={0,2}", body))
    return parse_grpcweb_frames(raw)


def grpcweb_headers(
    emulator: RunningEmulator, *, auth: str | None = "root", content_type: str = GRPC_WEB_TEXT
) -> dict[str, str]:
    headers = {
        "Content-Type": content_type,
        "Accept": content_type,
        "X-Grpc-Web": "1",
        "X-User-Agent": "grpc-web-javascript/0.1",
    }
    if auth == "root":
        headers["authorization"] = emulator.api_key
    elif auth is not None:
        headers["authorization"] = auth
    return headers


def to_answer(status: int, headers: Mapping[str, str], content_type: str, body: bytes) -> WebAnswer:
    if content_type.startswith("application/grpc-web-text"):
        messages, trailers = parse_grpcweb_text(body)
    elif content_type.startswith("application/grpc-web"):
        messages, trailers = parse_grpcweb_frames(body)
    else:
        messages, trailers = [], {}
    return WebAnswer(status, headers, messages, trailers)


async def web_post(
    session: aiohttp.ClientSession, emulator: RunningEmulator, path: str, body: bytes, headers: Mapping[str, str]
) -> WebAnswer:
    # BytesIO: aiohttp warns (an error here) about large raw-bytes bodies; no Content-Type is added when absent.
    async with session.post(
        emulator.web_url + path, data=io.BytesIO(body), headers=dict(headers), skip_auto_headers=["Content-Type"]
    ) as response:
        data = await response.read()
        return to_answer(response.status, dict(response.headers), response.headers.get("Content-Type", ""), data)


def web_post_sync(emulator: RunningEmulator, path: str, body: bytes, headers: Mapping[str, str]) -> WebAnswer:
    """The same with http.client (blocking), on a fresh connection; a dropped connection raises."""
    conn = http.client.HTTPConnection(emulator.host, emulator.web_port, timeout=CALL_TIMEOUT_S)
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        content_type = response.getheader("Content-Type", "")
        return to_answer(response.status, dict(response.getheaders()), content_type, response.read())
    finally:
        conn.close()


def assert_web_serving(emulator: RunningEmulator) -> None:
    request = publish_request(emulator.cache_name, unique("alive"), "alive")
    answer = web_post_sync(emulator, PUBLISH, b64(frame(0, request)), grpcweb_headers(emulator))
    assert answer.http_status == 200, answer
    assert answer.grpc_status == Status.OK, answer
    assert answer.messages == [b""], answer


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["100-bytes", "4-KiB", "64-KiB", "zeros", "preface-then-garbage"])
def test_web_port_answers_raw_garbage_with_400_and_keeps_serving(emulator: RunningEmulator, name: str) -> None:
    received, _closed = exchange(emulator.host, emulator.web_port, RAW_GARBAGE[name])

    status_line = received.split(b"\r\n", 1)[0]
    assert re.fullmatch(rb"HTTP/1\.[01] 400 .*", status_line), received[:200]
    assert_serving(emulator)
    assert_web_serving(emulator)


@pytest.mark.timeout(30)
def test_web_port_half_open_requests_do_not_block_others(emulator: RunningEmulator) -> None:
    """Requests that promise a body and never send it hold a connection each, but the server goes on serving."""
    head = (
        f"POST {PUBLISH} HTTP/1.1\r\nHost: {emulator.host}\r\nContent-Type: {GRPC_WEB_TEXT}\r\n"
        "Content-Length: 1000\r\n\r\nAAAA"
    ).encode()
    socks = [socket.create_connection((emulator.host, emulator.web_port), timeout=5) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(head)
        assert_serving(emulator)
        assert_web_serving(emulator)
    finally:
        for sock in socks:
            sock.close()


def _valid_publish(emulator: RunningEmulator) -> bytes:
    return publish_request(emulator.cache_name, unique("web-garbage"), "never delivered")


# (body builder, expected grpc status); every one is refused before anything is published.
WEB_GARBAGE = {
    "not-base64": (lambda req: b"!!!not base64 at all!!!", Status.INVALID_ARGUMENT),
    "base64-missing-padding": (lambda req: b"AAA", Status.INVALID_ARGUMENT),
    "base64-padding-in-the-middle": (lambda req: b"AA=A" + b64(frame(0, req)), Status.INVALID_ARGUMENT),
    "url-safe-alphabet": (lambda req: base64.urlsafe_b64encode(b"\xfb\xff" + frame(0, req)), Status.INVALID_ARGUMENT),
    "empty-body": (lambda req: b"", Status.INVALID_ARGUMENT),
    "header-cut": (lambda req: b64(b"\x00\x00\x00"), Status.INVALID_ARGUMENT),
    "header-cut-after-frame": (lambda req: b64(frame(0, req) + b"\x00\x00"), Status.INVALID_ARGUMENT),
    "length-past-payload": (lambda req: b64(frame(0, req, length=len(req) + 100)), Status.INVALID_ARGUMENT),
    "length-4GiB": (lambda req: b64(frame(0, req, length=0xFFFFFFFF)), Status.INVALID_ARGUMENT),
    "two-data-frames": (lambda req: b64(frame(0, req) + frame(0, req)), Status.INVALID_ARGUMENT),
    "only-a-trailer": (lambda req: b64(frame(0x80, b"grpc-status:0\r\n")), Status.INVALID_ARGUMENT),
    "unknown-flag": (lambda req: b64(frame(0x02, req)), Status.INVALID_ARGUMENT),
    "compressed-flag": (lambda req: b64(frame(0x01, req)), Status.UNIMPLEMENTED),
    "garbage-protobuf": (lambda req: b64(frame(0, b"\x0f\xff\xff")), Status.INVALID_ARGUMENT),
    "empty-message": (lambda req: b64(frame(0, b"")), Status.INVALID_ARGUMENT),  # no cache name
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", list(WEB_GARBAGE))
async def test_web_malformed_bodies_get_a_trailer_status(
    emulator: RunningEmulator, session: aiohttp.ClientSession, name: str
) -> None:
    build, expected = WEB_GARBAGE[name]
    answer = await web_post(session, emulator, PUBLISH, build(_valid_publish(emulator)), grpcweb_headers(emulator))

    assert answer.http_status == 200, answer
    assert answer.headers.get("Content-Type", "").startswith(GRPC_WEB_TEXT), answer
    assert answer.messages == [], answer
    assert answer.grpc_status == expected, answer
    assert answer.grpc_message, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["not-base64", "header-cut", "two-data-frames", "compressed-flag", "garbage-protobuf"])
async def test_web_subscribe_with_malformed_bodies_is_refused_at_once(
    emulator: RunningEmulator, session: aiohttp.ClientSession, name: str
) -> None:
    build, expected = WEB_GARBAGE[name]
    request = cachepubsub_pb2._SubscriptionRequest(
        cache_name=emulator.cache_name, topic=unique("t")
    ).SerializeToString()
    answer = await web_post(session, emulator, SUBSCRIBE, build(request), grpcweb_headers(emulator))

    assert answer.http_status == 200, answer
    assert answer.messages == [], answer
    assert answer.grpc_status == expected, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
async def test_web_binary_content_type_garbage_is_invalid_argument(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    headers = grpcweb_headers(emulator, content_type="application/grpc-web+proto")
    answer = await web_post(session, emulator, PUBLISH, b"\x00\x00\x00", headers)

    assert answer.http_status == 200, answer
    assert answer.grpc_status == Status.INVALID_ARGUMENT, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/grpc", "application/grpc-web-textual", ""]
)
async def test_web_wrong_content_type_is_415_with_grpc_status_header(
    emulator: RunningEmulator, session: aiohttp.ClientSession, content_type: str
) -> None:
    body = b64(frame(0, _valid_publish(emulator)))
    headers = grpcweb_headers(emulator, content_type=content_type) | {"Origin": ORIGIN}
    if not content_type:
        del headers["Content-Type"]
    answer = await web_post(session, emulator, PUBLISH, body, headers)

    assert answer.http_status == 415, answer
    assert answer.headers.get("grpc-status") == str(int(Status.INVALID_ARGUMENT)), answer
    assert answer.trailers == {}
    # The status is readable from a browser only if CORS lets it through.
    assert answer.headers.get("Access-Control-Allow-Origin") == ORIGIN, answer
    assert "grpc-status" in answer.headers.get("Access-Control-Expose-Headers", ""), answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "path",
    ["/cache_client.pubsub.Pubsub/Nope", "/no.such.Service/Publish", "/", "/cache_client.pubsub.Pubsub/Publish/"],
)
async def test_web_unknown_method_is_unimplemented(
    emulator: RunningEmulator, session: aiohttp.ClientSession, path: str
) -> None:
    answer = await web_post(session, emulator, path, b64(frame(0, _valid_publish(emulator))), grpcweb_headers(emulator))

    assert answer.http_status == 200, answer
    assert answer.grpc_status == Status.UNIMPLEMENTED, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("auth", [None, "", "not-a-key", "emu1.e30.AAAA"], ids=["absent", "empty", "unknown", "forged"])
@pytest.mark.parametrize("path", [PUBLISH, SUBSCRIBE])
async def test_web_missing_or_bad_authorization_is_unauthenticated(
    emulator: RunningEmulator, session: aiohttp.ClientSession, path: str, auth: str | None
) -> None:
    request = (
        _valid_publish(emulator)
        if path == PUBLISH
        else cachepubsub_pb2._SubscriptionRequest(cache_name=emulator.cache_name, topic=unique("t")).SerializeToString()
    )
    answer = await web_post(session, emulator, path, b64(frame(0, request)), grpcweb_headers(emulator, auth=auth))

    assert answer.http_status == 200, answer
    assert answer.messages == [], answer
    assert answer.grpc_status == Status.UNAUTHENTICATED, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(60)
async def test_web_oversized_body_is_resource_exhausted(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    limit = emulator.thread.config.max_message_bytes
    body = b64(frame(0, publish_request(emulator.cache_name, unique("huge"), binary=b"x" * (2 * limit))))
    answer = await web_post(session, emulator, PUBLISH, body, grpcweb_headers(emulator))

    assert answer.http_status == 200, answer
    assert answer.grpc_status == Status.RESOURCE_EXHAUSTED, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(60)
async def test_web_value_just_over_the_limit_is_invalid_argument(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    limit = emulator.thread.config.max_message_bytes
    at_limit = b64(frame(0, publish_request(emulator.cache_name, unique("big"), binary=b"x" * limit)))
    answer = await web_post(session, emulator, PUBLISH, at_limit, grpcweb_headers(emulator))
    assert answer.grpc_status == Status.OK, answer

    over = b64(frame(0, publish_request(emulator.cache_name, unique("big"), binary=b"x" * (limit + 1))))
    answer = await web_post(session, emulator, PUBLISH, over, grpcweb_headers(emulator))

    assert answer.http_status == 200, answer
    assert answer.grpc_status == Status.INVALID_ARGUMENT, answer
    assert "over the limit" in answer.grpc_message, answer
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cut", [1, 2, 4, 5, 7, 11])
async def test_web_request_split_into_padded_base64_units_is_delivered(
    emulator: RunningEmulator, session: aiohttp.ClientSession, cut: int
) -> None:
    topic = unique("split")
    text = f"split at {cut}"
    frames = frame(0, publish_request(emulator.cache_name, topic, text))
    first, second = b64(frames[:cut]), b64(frames[cut:])
    assert first.endswith(b"="), "the cut must leave the first unit padded"
    async with subscribed(emulator, None, topic) as subscription:
        answer = await web_post(session, emulator, PUBLISH, first + second, grpcweb_headers(emulator))

        assert answer.http_status == 200, answer
        assert answer.grpc_status == Status.OK, answer
        assert answer.messages == [b""], answer  # one _Empty data frame before the trailer
        item = await next_text(subscription)
    assert item.value == text


@pytest.mark.timeout(30)
async def test_web_body_with_line_breaks_between_units_is_delivered(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    topic = unique("lines")
    frames = frame(0, publish_request(emulator.cache_name, topic, "wrapped"))
    body = b"\r\n".join([b64(frames[:5]), b64(frames[5:9]), b64(frames[9:])]) + b"\n"
    async with subscribed(emulator, None, topic) as subscription:
        answer = await web_post(session, emulator, PUBLISH, body, grpcweb_headers(emulator))
        assert answer.grpc_status == Status.OK, answer
        assert (await next_text(subscription)).value == "wrapped"


@pytest.mark.timeout(30)
async def test_web_cors_preflight_names_authorization_explicitly(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    for path in (PUBLISH, SUBSCRIBE):
        headers = {
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(PREFLIGHT_HEADERS),
        }
        async with session.options(emulator.web_url + path, headers=headers) as response:
            assert response.status == 204
            assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN
            allowed = {h.strip().lower() for h in response.headers.get("Access-Control-Allow-Headers", "").split(",")}
            assert "*" not in allowed
            assert set(PREFLIGHT_HEADERS) <= allowed, allowed
            methods = {m.strip().upper() for m in response.headers.get("Access-Control-Allow-Methods", "").split(",")}
            assert "POST" in methods
            assert "Origin" in response.headers.get("Vary", "")
    await assert_serving_async(emulator, session)


@pytest.mark.timeout(30)
async def test_web_post_answers_carry_cors_headers(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    cases = [
        (PUBLISH, b64(frame(0, publish_request(emulator.cache_name, unique("cors"), "x"))), Status.OK),
        (PUBLISH, b"!!!", Status.INVALID_ARGUMENT),
        ("/no.such.Service/Nope", b"", Status.UNIMPLEMENTED),
    ]
    for path, body, expected in cases:
        answer = await web_post(session, emulator, path, body, grpcweb_headers(emulator) | {"Origin": ORIGIN})
        assert answer.grpc_status == expected, answer
        assert answer.headers.get("Access-Control-Allow-Origin") == ORIGIN, answer
        exposed = {h.strip().lower() for h in answer.headers.get("Access-Control-Expose-Headers", "").split(",")}
        assert {"grpc-status", "grpc-message"} <= exposed, answer
    await assert_serving_async(emulator, session)


# --- properties ----------------------------------------------------------------------------------------------------

_FLAGS = st.one_of(st.just(0x00), st.sampled_from([0x00, 0x01, 0x02, 0x80, 0x81]), st.integers(0, 255))


@st.composite
def framed(draw: st.DrawFn) -> bytes:
    """Zero or more frames whose flags and length fields may or may not tell the truth, maybe cut short."""
    out = b""
    for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2, 3]))):
        payload = draw(st.binary(max_size=64))
        length = max(0, len(payload) + draw(st.sampled_from([0, 0, 0, 0, 0, -1, 1, 5, 1 << 20])))
        out += frame(draw(_FLAGS), payload, length)
    if draw(st.integers(0, 4)) == 0:
        out = out[: draw(st.integers(0, len(out)))]
    return out


@st.composite
def split_b64(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` as base64, maybe split into several padded units with whitespace between them."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    separator = draw(st.sampled_from([b"", b"\n", b"\r\n", b" "]))
    return separator.join(b64(p) for p in pieces)


BODIES = st.one_of(
    st.binary(max_size=256),
    framed().flatmap(split_b64),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n -_", max_size=128).map(
        str.encode
    ),
    framed().map(b64).map(lambda b: b[:-1] if b else b),
)


ENCODED_BODIES = st.one_of(
    st.tuples(st.just("text"), BODIES),
    st.tuples(st.just("binary"), st.one_of(st.binary(max_size=256), framed())),
)


def parse_or_refusal(body: bytes, encoding: str) -> bytes | EmulatorError:
    try:
        return parse_request_frames(decode_body(body, encoding))
    except EmulatorError as error:
        return error


@settings(max_examples=200, deadline=None)
@given(case=ENCODED_BODIES)
def test_grpcweb_parsers_return_bytes_or_refuse(case: tuple[str, bytes]) -> None:
    encoding, body = case
    outcome = parse_or_refusal(body, encoding)  # anything but bytes or an EmulatorError propagates and fails
    if isinstance(outcome, EmulatorError):
        event(f"refused: {outcome.status.name}")
        assert outcome.status in (Status.INVALID_ARGUMENT, Status.UNIMPLEMENTED), outcome
        assert outcome.message
    else:
        event("accepted")
        assert isinstance(outcome, bytes)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), message=st.binary(max_size=200))
def test_grpcweb_parsers_recover_any_message_however_the_base64_is_split(data: st.DataObject, message: bytes) -> None:
    body = data.draw(split_b64(frame(0, message)))
    assert parse_request_frames(decode_body(body, "text")) == message


_PUBLISH_BODIES = st.builds(
    lambda cache, topic, text: publish_request(cache, topic, text),
    st.sampled_from(["test-cache", "test-cache", "", "no-such-cache"]) | st.text(max_size=10),
    st.text(max_size=10),
    st.text(max_size=20),
).flatmap(lambda req: split_b64(frame(0, req)))
# Subscribe is fed only bytes that cannot parse as a subscription to an existing cache (no stream may start).
_PATHS = [PUBLISH, SUBSCRIBE, "/cache_client.Scs/Get", "/token.Token/GenerateDisposableToken", "/no.such/Method"]
_CONTENT_TYPES = [GRPC_WEB_TEXT, GRPC_WEB_TEXT, GRPC_WEB_TEXT, "application/grpc-web+proto", "application/json"]


@pytest.mark.timeout(120)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    call=st.one_of(st.tuples(st.sampled_from(_PATHS), BODIES), st.tuples(st.just(PUBLISH), _PUBLISH_BODIES)),
    content_type=st.sampled_from(_CONTENT_TYPES),
    auth=st.sampled_from([True, True, True, False]),
)
def test_arbitrary_posts_get_a_grpc_status_never_a_5xx(
    emulator: RunningEmulator, call: tuple[str, bytes], content_type: str, auth: bool
) -> None:
    path, body = call
    headers = grpcweb_headers(emulator, auth="root" if auth else None, content_type=content_type)
    answer = web_post_sync(emulator, path, body, headers)  # a dropped connection raises

    event(f"HTTP {answer.http_status}, grpc-status {answer.grpc_status}")
    assert answer.http_status == 200 or 400 <= answer.http_status < 500, answer
    assert 0 <= answer.grpc_status <= 16, answer
    assert answer.grpc_status not in (Status.UNKNOWN, Status.INTERNAL), answer
    if answer.http_status == 200:
        assert answer.trailers, answer


def test_emulator_serves_after_the_property_tests(emulator: RunningEmulator) -> None:
    assert_serving(emulator)
    assert_web_serving(emulator)


# --- finally -------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_emulator_still_answers_a_real_sdk_round_trip(emulator: RunningEmulator) -> None:
    topic = unique("after-garbage")
    token, _ = await asyncio.to_thread(
        emulator.vend, DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic), 300, "robustness"
    )
    config = TopicConfigurations.Default.v1().with_client_timeout(client_timeout())
    async with (
        subscribed(emulator, token, topic) as subscription,
        TopicClientAsync(config, emulator.token_provider(token)) as publisher,
    ):
        values = [f"still here {i}" for i in range(5)]
        for value in values:
            published = await asyncio.wait_for(publisher.publish(emulator.cache_name, topic, value), CALL_TIMEOUT_S)
            assert isinstance(published, TopicPublish.Success), published
        items = [await next_text(subscription) for _ in values]
    assert [item.value for item in items] == values
    numbers = [item.sequence_number for item in items]
    assert numbers == list(range(numbers[0], numbers[0] + len(values)))
    await assert_serving_async(emulator)
    await asyncio.to_thread(assert_web_serving, emulator)
