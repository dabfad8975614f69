"""What actually leaves the machine with the Momento key, over real grpcio (issue 18, item 1).

The key is sent as the call's `authorization` metadata, so on a plaintext channel anyone on the path reads it. Only
127.0.0.1 may be reached here, so the bytes are watched through an HTTP CONNECT proxy on 127.0.0.1 that gRPC itself
dials (gRPC core honours the `grpc_proxy` variable, and asks the proxy for the target by name, resolving nothing):
the proxy sees exactly the bytes the endpoint would, for any endpoint name, `cell-x.momentohq.com:8443` included.
No mock: the minter, its channel and its TLS are grpcio's own; the proxy is real HTTP CONNECT; for the sam-local
case it relays to the real emulator, and the vending Lambda is run in-process with the template's environment.

Before this change any explicit port other than 443 meant "a local emulator": the proxy received the HTTP/2 preface
and the key in clear (these tests fail on that code). Now such an endpoint gets a TLS ClientHello for
`token.<endpoint>`, and plaintext needs the endpoint named in MOMENTO_EMULATOR_ENDPOINT (sam local's bridge).
"""

from __future__ import annotations

import contextlib
import io
import json
import select
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from momento_tvm import EMULATOR_API_KEY, Grant, MintedToken, TopicGrant, UpstreamUnavailableError
from momento_tvm.minting import MomentoMinter
from tests.integration.vending import as_user, invoke

KEY = EMULATOR_API_KEY  # the emulator's v2 development key: the TLS branch accepts it, the emulator mints with it
GRANT = Grant("alice", "t", "r", "test-cache", 300, TopicGrant("publish_subscribe", "test-cache", names=("r",)), None)
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# An HTTP/2 server's first frames (an empty SETTINGS, then the ACK of the client's): a plaintext client then sends
# its HEADERS, with the key.
HTTP2_SERVER_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" + b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"
TLS_HANDSHAKE_RECORD = b"\x16\x03"  # a TLS record of type handshake (the ClientHello), any TLS 1.x record version


@dataclass
class Tunnel:
    """One CONNECT through the proxy: the target gRPC asked for and every byte it sent inside the tunnel."""

    target: str
    sent: bytearray = field(default_factory=bytearray)
    closed: threading.Event = field(default_factory=threading.Event)  # the client ended the connection


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1:0 that records each tunnel. With `relay_to` it relays the tunnel to
    127.0.0.1:relay_to (a real server, whatever name was asked for); without, it answers an HTTP/2 preface with an
    HTTP/2 server's opening (its SETTINGS) and nothing more, so a plaintext client shows its headers, and a TLS
    client's ClientHello goes unanswered."""

    def __init__(self, relay_to: int | None = None) -> None:
        self.relay_to = relay_to
        self.tunnels: list[Tunnel] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Each thread sees the stop within 0.1 s; the sockets are closed once none of them uses one."""
        self._stop.set()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        for sock in self._sockets:
            sock.close()
        self._server.close()

    def sent_bytes(self) -> bytes:
        """Everything sent through the tunnels, once each has been closed by its client."""
        for tunnel in self.tunnels:
            assert tunnel.closed.wait(5), f"the tunnel to {tunnel.target} is still open"
        return b"".join(bytes(tunnel.sent) for tunnel in self.tunnels)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            self._sockets.append(client)
            thread = threading.Thread(target=self._tunnel, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _tunnel(self, client: socket.socket) -> None:
        client.settimeout(0.1)
        head = b""
        while b"\r\n\r\n" not in head and not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
        if b"\r\n\r\n" not in head:  # stopped before the client asked for anything
            return
        request, _, early = head.partition(b"\r\n\r\n")
        method, target, _ = request.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
        assert method == "CONNECT"
        tunnel = Tunnel(target, bytearray(early))
        self.tunnels.append(tunnel)
        try:
            self._carry(client, tunnel)
        finally:
            tunnel.closed.set()

    def _carry(self, client: socket.socket, tunnel: Tunnel) -> None:
        upstream = None
        if self.relay_to is not None:
            upstream = socket.create_connection(("127.0.0.1", self.relay_to))
            self._sockets.append(upstream)
            if tunnel.sent:
                upstream.sendall(tunnel.sent)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        answered = False
        watched = [client] if upstream is None else [client, upstream]
        while not self._stop.is_set():
            readable, _, _ = select.select(watched, [], [], 0.1)
            if client in readable:
                chunk = client.recv(65536)
                if not chunk:
                    return
                tunnel.sent += chunk
                if upstream is not None:
                    upstream.sendall(chunk)
                elif not answered and tunnel.sent.startswith(HTTP2_PREFACE):
                    client.sendall(HTTP2_SERVER_SETTINGS)
                    answered = True
            if upstream is not None and upstream in readable:
                answer = upstream.recv(65536)
                if not answer:
                    return
                client.sendall(answer)


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`proxied(relay_to=None)`: a ConnectProxy that every gRPC channel made from now on goes through."""
    proxies: list[ConnectProxy] = []
    for name in ("no_grpc_proxy", "no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def start(relay_to: int | None = None) -> ConnectProxy:
        proxy = ConnectProxy(relay_to)
        proxies.append(proxy)
        monkeypatch.setenv("grpc_proxy", proxy.url)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


def mint_through(minter: MomentoMinter) -> MintedToken | UpstreamUnavailableError:
    try:
        return minter.mint(GRANT)
    except UpstreamUnavailableError as error:
        return error
    finally:
        minter.close()  # the connection ends: the proxy has everything the client sent


def assert_only_tls_left(proxy: ConnectProxy, endpoint: str) -> None:
    """Every connection goes to `token.<endpoint>` (443 when no port is given) and carries a TLS ClientHello for that
    name, or nothing (gRPC may start a second one within the deadline, cut short by the close): neither an HTTP/2
    preface nor the key."""
    host, _, port = endpoint.partition(":")
    sent = proxy.sent_bytes()
    assert KEY.encode() not in sent, "the Momento API key left in clear"
    assert HTTP2_PREFACE not in sent, "a plaintext HTTP/2 connection"
    assert {tunnel.target for tunnel in proxy.tunnels} == {f"token.{host}:{port or 443}"}
    hellos = [bytes(tunnel.sent) for tunnel in proxy.tunnels if tunnel.sent]
    assert hellos, "no connection sent anything"
    for hello in hellos:
        assert hello.startswith(TLS_HANDSHAKE_RECORD), hello[:40]
        if not host.replace(".", "").isdigit():  # the server name (SNI) is sent for host names, not for addresses
            assert f"token.{host}".encode() in hello


@pytest.mark.parametrize(
    "endpoint",
    ["cell-x.momentohq.com:8443", "cell-4-us-west-2-1.prod.a.momentohq.com:8080", "10.0.0.5:8080", "172.17.0.1:8080"],
)
def test_a_non_loopback_endpoint_with_a_port_gets_a_tls_hello_never_the_key(endpoint: str, proxied: Any) -> None:
    proxy = proxied()
    result = mint_through(MomentoMinter(KEY, endpoint, deadline_seconds=0.5))
    assert isinstance(result, UpstreamUnavailableError)
    assert KEY not in result.message
    assert_only_tls_left(proxy, endpoint)


def test_the_proxy_would_see_the_key_of_a_plaintext_call(proxied: Any) -> None:
    """The control: the same proxy, the same non-loopback endpoint, named as the emulator (plaintext chosen on
    purpose): it receives the HTTP/2 preface and the key in clear. So the TLS tests above would see a leak."""
    proxy = proxied()
    endpoint = "172.17.0.1:8080"
    result = mint_through(MomentoMinter(KEY, endpoint, emulator_endpoint=endpoint, deadline_seconds=0.5))
    assert isinstance(result, UpstreamUnavailableError)
    assert [tunnel.target for tunnel in proxy.tunnels] == [endpoint]
    assert proxy.sent_bytes().startswith(HTTP2_PREFACE)
    assert KEY.encode() in proxy.sent_bytes()


# --- the vending Lambda, with the environment the template gives it ---------------------------------------------------
@pytest.fixture
def fresh(function: ModuleType) -> Iterator[Any]:
    """A new container's function, its key cache the one the module builds: no minter yet, so the first mint builds
    one from MOMENTO_ENDPOINT and MOMENTO_EMULATOR_ENDPOINT as they are."""
    built = function.VendingFunction(function.key_cache())
    yield built
    built.close()


def _records(logs: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]


def test_deployed_the_function_sends_the_key_to_a_port_8443_endpoint_only_over_tls(
    fresh: Any, proxied: Any, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """MomentoEndpoint=cell-...:8443 (a copied port) and MomentoEmulatorEndpoint left empty, as in every deployment:
    the function's only connection is TLS to token.cell-...:8443 (here it goes unanswered: a 503)."""
    proxy = proxied()
    monkeypatch.setenv("MOMENTO_ENDPOINT", "cell-x.momentohq.com:8443")
    monkeypatch.setenv("MOMENTO_EMULATOR_ENDPOINT", "")
    status, _, body = invoke(fresh, as_user("alice", "readwrite"))
    assert (status, body["error"]["code"]) == (503, "upstream_unavailable")
    fresh.close()  # the connection ends: the proxy has everything the function sent
    assert_only_tls_left(proxy, "cell-x.momentohq.com:8443")
    assert KEY not in logs.getvalue()


def test_a_mismatched_emulator_endpoint_is_a_logged_configuration_error_and_dials_nothing(
    fresh: Any, proxied: Any, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    proxy = proxied()
    monkeypatch.setenv("MOMENTO_ENDPOINT", "cell-x.momentohq.com:8443")
    monkeypatch.setenv("MOMENTO_EMULATOR_ENDPOINT", "172.17.0.1:8080")
    status, _, body = invoke(fresh, as_user("alice", "readwrite"))
    assert (status, body["error"]["code"]) == (503, "upstream_unavailable")
    reasons = [r.get("reason", "") for r in _records(logs) if r.get("message") == "upstream unavailable"]
    assert len(reasons) == 1
    assert "configuration error: MOMENTO_EMULATOR_ENDPOINT is set but is not MOMENTO_ENDPOINT" in reasons[0]
    assert proxy.tunnels == []
    assert KEY not in logs.getvalue()


def test_under_sam_local_the_named_bridge_emulator_mints_in_plaintext(
    fresh: Any, proxied: Any, emulator_thread: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make sam-api` passes (local/sam_local/stack.py `parameter_overrides`): MomentoEndpoint and
    MomentoEmulatorEndpoint both the bridge's 172.17.0.1:port. The proxy stands in for the bridge relay: it
    carries the plaintext call to the real emulator, which mints."""
    proxy = proxied(relay_to=emulator_thread.grpc_port)
    bridge = f"172.17.0.1:{emulator_thread.grpc_port}"
    monkeypatch.setenv("MOMENTO_ENDPOINT", bridge)
    monkeypatch.setenv("MOMENTO_EMULATOR_ENDPOINT", bridge)
    status, _, body = invoke(fresh, as_user("alice", "readwrite"))
    assert status == 200, body
    assert body["authToken"]
    fresh.close()
    assert [tunnel.target for tunnel in proxy.tunnels] == [bridge]
    assert proxy.sent_bytes().startswith(HTTP2_PREFACE)
