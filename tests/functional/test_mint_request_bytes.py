"""Our minter sends Momento exactly the `GenerateDisposableTokenRequest` the real `momento` SDK sends.

A throwaway gRPC server (grpcio, 127.0.0.1, free port) records the raw request bytes of every call and answers a
fixed `GenerateDisposableTokenResponse`. For the same grant, momento 1.29.1's `AuthClient.generate_disposable_token`
(given the scope objects the old SDK-based minter built, `to_sdk_scope` below) and `MomentoMinter.mint` must send
identical bytes, and turn the same answer into the same token and expiry: every role, selector, key and prefix case
the SDK can express, listed and then drawn by hypothesis. Then what the SDK cannot express: `topic_name_prefix`,
which the emulator enforces.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from momento import AuthClient, CredentialProvider, TopicClient, TopicConfigurations
from momento.auth import momento_endpoint_resolver
from momento.auth.access_control.disposable_token_scope import (
    DisposableTokenProps,
)
from momento.config.auth_configurations import AuthConfigurations
from momento.errors import MomentoErrorCode
from momento.responses import GenerateDisposableToken, TopicPublish
from momento.utilities import ExpiresIn
from momento_wire_types.generated import token_pb2

from momento_emulator import DEFAULT_API_KEY
from momento_tvm import CacheGrant, Grant, TopicGrant, UpstreamUnavailableError
from momento_tvm.minting import MomentoMinter, channel_target
from momento_tvm.wire import METHOD, permissions
from tests.conftest import RunningEmulator
from tests.sdk_scope import to_sdk_scope

KEY = DEFAULT_API_KEY  # shaped like a v2 key; the recording server does not check it
ANSWER = token_pb2._GenerateDisposableTokenResponse(
    api_key="vended-key-\u00e9", endpoint="cell-1.example.momentohq.com", valid_until=1_900_000_000
)
TOPIC_ROLES = ("publish_subscribe", "subscribe_only", "publish_only")
CACHE_ROLES = ("read_write", "read_only", "write_only")


@dataclass
class Recorder:
    """The throwaway token service: each call's raw request bytes and metadata, answered with ANSWER."""

    port: int = 0
    calls: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            self.calls.append((request, {k: str(v) for k, v in context.invocation_metadata()}))
        return bytes(ANSWER.SerializeToString())

    def last(self) -> tuple[bytes, dict[str, str]]:
        with self.lock:
            return self.calls[-1]


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if handler_call_details.method != METHOD:  # type: ignore[attr-defined]
            return None
        return grpc.unary_unary_rpc_method_handler(self._recorder.answer)  # raw bytes in and out


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    recorder = Recorder()
    server.add_generic_rpc_handlers((_Handler(recorder),))
    recorder.port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield recorder
    server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def sdk(recorder: Recorder) -> Iterator[AuthClient]:
    provider = CredentialProvider(KEY, "127.0.0.1", "127.0.0.1", "127.0.0.1", recorder.port)
    with AuthClient(AuthConfigurations.Lambda.latest(), provider) as client:
        yield client


@pytest.fixture(scope="module")
def ours(recorder: Recorder) -> MomentoMinter:
    return MomentoMinter(KEY, f"127.0.0.1:{recorder.port}")


def sdk_bytes(sdk: AuthClient, recorder: Recorder, grant: Grant) -> tuple[bytes, dict[str, str], Any]:
    props = DisposableTokenProps(token_id=grant.token_id)
    response = sdk.generate_disposable_token(to_sdk_scope(grant), ExpiresIn.seconds(grant.ttl_seconds), props)
    assert isinstance(response, GenerateDisposableToken.Success), response
    return *recorder.last(), response


def assert_same_request(grant: Grant, sdk: AuthClient, ours: MomentoMinter, recorder: Recorder) -> None:
    theirs, their_metadata, their_answer = sdk_bytes(sdk, recorder, grant)
    minted = ours.mint(grant)
    mine, my_metadata = recorder.last()
    assert mine == theirs, (grant, token_pb2._GenerateDisposableTokenRequest.FromString(mine))
    assert my_metadata["authorization"] == their_metadata["authorization"] == KEY
    assert (minted.auth_token, minted.expires_at) == (their_answer.auth_token, their_answer.expires_at.epoch())


def grant(topics: TopicGrant | None = None, cache: CacheGrant | None = None, **fields: Any) -> Grant:
    values: dict[str, Any] = {"token_id": "alice", "tier": "t", "rule": "r", "cache_name": "chat", "ttl_seconds": 600}
    values.update(fields)
    return Grant(topics=topics, cache=cache, **values)


LISTED = [
    *(grant(TopicGrant(role, "chat", all_topics=True)) for role in TOPIC_ROLES),
    *(grant(TopicGrant(role, "chat", names=("room-1", "lobby", "\u00e9t\u00e9"))) for role in TOPIC_ROLES),
    *(grant(cache=CacheGrant(role, "chat", all_items=True)) for role in CACHE_ROLES),
    *(grant(cache=CacheGrant(role, "chat", keys=("k1", "\u00fcber"))) for role in CACHE_ROLES),
    *(grant(cache=CacheGrant(role, "chat", key_prefixes=("u-alice-",))) for role in CACHE_ROLES),
    *(grant(cache=CacheGrant(role, "chat", keys=("k",), key_prefixes=("p-", "q-"))) for role in CACHE_ROLES),
    *(
        grant(TopicGrant(t, "chat", names=("a",)), CacheGrant(c, "store", all_items=True))
        for t in TOPIC_ROLES
        for c in CACHE_ROLES
    ),
    grant(TopicGrant("publish_subscribe", "chat", all_topics=True), CacheGrant("read_only", "chat", all_items=True)),
    grant(TopicGrant("subscribe_only", "other", names=("x",)), token_id="", ttl_seconds=1),
    grant(TopicGrant("publish_only", "chat", names=("x",)), token_id="t" * 64, ttl_seconds=90_000),
]


@pytest.mark.parametrize("case", LISTED, ids=lambda g: str(g.scope_json())[:90])
def test_the_request_is_byte_for_byte_the_sdks(
    case: Grant, sdk: AuthClient, ours: MomentoMinter, recorder: Recorder
) -> None:
    assert_same_request(case, sdk, ours, recorder)


names = st.text(min_size=1, max_size=12)
name_lists = st.lists(names, min_size=1, max_size=4, unique=True).map(tuple)
topic_grants = st.builds(
    lambda role, cache, everything, chosen: TopicGrant(role, cache, all_topics=everything, names=chosen),
    st.sampled_from(TOPIC_ROLES),
    names,
    st.booleans(),
    name_lists,
)
cache_grants = st.one_of(
    st.builds(lambda r, c: CacheGrant(r, c, all_items=True), st.sampled_from(CACHE_ROLES), names),
    st.builds(
        lambda r, c, keys, prefixes: CacheGrant(r, c, keys=keys, key_prefixes=prefixes),
        st.sampled_from(CACHE_ROLES),
        names,
        st.lists(names, max_size=3).map(tuple),
        st.lists(names, max_size=3).map(tuple),
    ).filter(lambda g: bool(g.keys or g.key_prefixes)),
)
expressible = st.one_of(
    st.builds(lambda t: (t, None), topic_grants),
    st.builds(lambda c: (None, c), cache_grants),
    st.builds(lambda t, c: (t, CacheGrant(c.role, c.cache, all_items=True)), topic_grants, cache_grants),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scope=expressible,
    token_id=st.text(max_size=64),
    ttl=st.integers(min_value=1, max_value=2**32 - 1),
)
def test_random_grants_send_the_sdks_bytes(
    scope: tuple[TopicGrant | None, CacheGrant | None],
    token_id: str,
    ttl: int,
    sdk: AuthClient,
    ours: MomentoMinter,
    recorder: Recorder,
) -> None:
    assert_same_request(grant(*scope, token_id=token_id, ttl_seconds=ttl), sdk, ours, recorder)


def test_topic_name_prefixes_go_on_the_wire_after_exact_names() -> None:
    wire = permissions(grant(TopicGrant("subscribe_only", "chat", names=("lobby",), prefixes=("room-", "dm-"))))
    selectors = [entry.topic_permissions.topic_selector for entry in wire.explicit.permissions]
    assert [s.WhichOneof("kind") for s in selectors] == ["topic_name", "topic_name_prefix", "topic_name_prefix"]
    assert [s.topic_name or s.topic_name_prefix for s in selectors] == ["lobby", "room-", "dm-"]


def test_grants_that_hold_nothing_or_mix_topics_with_keys_are_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match="at least one"):
        permissions(grant(TopicGrant("publish_subscribe", "chat")))
    with pytest.raises(ValueError, match="cannot be minted in one token"):
        permissions(
            grant(TopicGrant("publish_subscribe", "chat", names=("a",)), CacheGrant("read_only", "c", keys=("k",)))
        )


# --- where it connects: the SDK's choice for the same key and endpoint -----------------------------------------------
def jwt(claims: str) -> str:
    """An unsigned-looking JWT with these claims (the SDK reads claims without checking the signature)."""

    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    return ".".join([part('{"alg":"HS256","typ":"JWT"}'), part(claims), "c2ln"])


V1_KEY = "eyJlbmRwb2ludCI6ImNlbGwtMS5leGFtcGxlLmNvbSIsImFwaV9rZXkiOiJrIn0="  # base64 {"endpoint": ..., "api_key": ...}
KEYS = {
    "v2": jwt('{"t":"g","id":"x"}'),
    "v2-dev": DEFAULT_API_KEY,
    "legacy-jwt": jwt('{"cp":"control.cell-1.example.com","c":"cache.cell-1.example.com"}'),
    "other-type": jwt('{"t":"x"}'),
    "v1-base64": V1_KEY,
    "not-a-key": "abc",
    "payload-not-json": "a.b.c",
    "header-not-json": "bm90LWpzb24." + jwt('{"t":"g"}').split(".", 1)[1],
}


@pytest.mark.parametrize("name", KEYS)
def test_a_cloud_endpoint_is_the_token_host_over_tls_for_v2_keys_only(name: str) -> None:
    key, endpoint = KEYS[name], "cell-1.example.momentohq.com"
    try:
        provider = CredentialProvider.from_api_key_v2(key, endpoint)
    except Exception:
        provider = None
    assert momento_endpoint_resolver._is_v2_api_key(key) == (provider is not None)
    if provider is None:
        with pytest.raises(ValueError, match="v2 API key"):
            channel_target(key, endpoint)
        with pytest.raises(UpstreamUnavailableError, match="v2 API key") as refused:
            MomentoMinter(key, endpoint).mint(LISTED[0])
        assert key not in refused.value.message
    else:
        assert provider.port == 443  # the SDK's TLS rule: port 443
        assert channel_target(key, endpoint) == (provider.token_endpoint, True)


@pytest.mark.parametrize("endpoint", ["127.0.0.1:8080", "localhost:9000", "[::1]:8080"])
def test_a_local_endpoint_is_host_port_in_plaintext_whatever_the_key(endpoint: str) -> None:
    host, _, port = endpoint.rpartition(":")
    provider = CredentialProvider("any-key", host, host, host, int(port))  # how the old minter reached it
    assert channel_target("any-key", endpoint) == (f"{provider.token_endpoint}:{provider.port}", False)


@pytest.mark.parametrize(("key", "endpoint"), [("", "127.0.0.1:1"), ("k\n", "127.0.0.1:1"), ("k", ""), ("k", "a b")])
def test_a_malformed_key_or_endpoint_is_upstream_unavailable(key: str, endpoint: str) -> None:
    with pytest.raises(UpstreamUnavailableError) as refused:
        MomentoMinter(key, endpoint).mint(LISTED[0])
    assert refused.value.status == 503


def test_an_unparsable_answer_is_upstream_unavailable_and_names_no_secret() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))

    class Garbage(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(lambda request, context: b"\xff\xff\xff")

    server.add_generic_rpc_handlers((Garbage(),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with pytest.raises(UpstreamUnavailableError, match=r"\(UNPARSABLE_ANSWER\)") as refused:
            MomentoMinter(KEY, f"127.0.0.1:{port}").mint(LISTED[0])
        assert KEY not in refused.value.message
    finally:
        server.stop(grace=None).wait()


# --- beyond the SDK: topic-name prefixes, enforced by the emulator ----------------------------------------------------
def publish(emulator: RunningEmulator, token: str, topic: str) -> MomentoErrorCode | None:
    config = TopicConfigurations.Default.v1().with_client_timeout(timedelta(seconds=10))
    with TopicClient(config, emulator.token_provider(token)) as client:
        response = client.publish(emulator.cache_name, topic, "hello")
    if isinstance(response, TopicPublish.Success):
        return None
    assert isinstance(response, TopicPublish.Error), response
    return response.error_code


def test_a_prefix_grant_mints_a_token_the_emulator_holds_to_its_prefix(emulator: RunningEmulator) -> None:
    minter = MomentoMinter(emulator.api_key, f"{emulator.host}:{emulator.grpc_port}")
    writer = minter.mint(grant(TopicGrant("publish_only", emulator.cache_name, prefixes=("room-",))))
    reader = minter.mint(grant(TopicGrant("subscribe_only", emulator.cache_name, prefixes=("room-",))))
    minter.close()
    assert publish(emulator, writer.auth_token, "room-1") is None
    assert publish(emulator, writer.auth_token, "room-") is None
    assert publish(emulator, writer.auth_token, "lobby") == MomentoErrorCode.PERMISSION_ERROR
    assert publish(emulator, writer.auth_token, "xroom-1") == MomentoErrorCode.PERMISSION_ERROR
    assert publish(emulator, reader.auth_token, "room-1") == MomentoErrorCode.PERMISSION_ERROR
