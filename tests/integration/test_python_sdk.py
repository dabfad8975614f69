"""The emulator driven by the real `momento` Python SDK: token service, Topics, cache, and every scope rule.

Where the SDK cannot express a request (topic-name prefixes) or hides a field (`publisher_id`, heartbeats,
discontinuities), the test builds the request with Momento's generated messages on a plain gRPC channel.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import pytest
from momento import AuthClient, CacheClient, Configurations, TopicClientAsync, TopicConfigurations
from momento.auth.access_control.disposable_token_scope import (
    CacheItemKey,
    CacheItemKeyPrefix,
    CacheItemSelector,
    DisposableTokenCachePermission,
    DisposableTokenCachePermissions,
    DisposableTokenProps,
    DisposableTokenScope,
)
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.auth.access_control.permission_scope import (
    AllCaches,
    AllTopics,
    CacheName,
    CacheRole,
    CacheSelector,
    Permissions,
    TopicName,
    TopicPermission,
    TopicRole,
    TopicSelector,
)
from momento.config.auth_configurations import AuthConfigurations
from momento.errors import MomentoErrorCode
from momento.responses import (
    CacheDelete,
    CacheGet,
    CacheSet,
    CreateCache,
    DeleteCache,
    GenerateDisposableToken,
    ListCaches,
    TopicPublish,
    TopicSubscribe,
    TopicSubscriptionItem,
)
from momento.utilities import ExpiresIn
from momento_wire_types.generated import cachepubsub_pb2, cachepubsub_pb2_grpc, permissionmessages_pb2, token_pb2

from momento_emulator import DEFAULT_MAX_TOKEN_TTL_SECONDS
from tests.conftest import RunningEmulator, client_timeout

OTHER_CACHE = "other-cache"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def topic_client(emulator: RunningEmulator, token: str) -> AsyncIterator[TopicClientAsync]:
    config = TopicConfigurations.Default.v1().with_client_timeout(client_timeout())
    async with TopicClientAsync(config, emulator.token_provider(token)) as client:
        yield client


@contextmanager
def cache_client(emulator: RunningEmulator, token: str | None = None) -> Iterator[CacheClient]:
    provider = emulator.root_provider() if token is None else emulator.token_provider(token)
    with CacheClient(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        yield client


def auth_client(emulator: RunningEmulator, api_key: str | None = None) -> AuthClient:
    provider = emulator.root_provider()
    if api_key is not None:
        provider = type(provider)(
            api_key, provider.control_endpoint, provider.cache_endpoint, provider.token_endpoint, provider.port
        )
    return AuthClient(AuthConfigurations.Laptop.latest(), provider)


def raw_channel(emulator: RunningEmulator) -> grpc.Channel:
    return grpc.insecure_channel(f"{emulator.host}:{emulator.grpc_port}")


def vend_raw(emulator: RunningEmulator, permissions: Any, ttl: int = 60, token_id: str = "") -> str:
    """Vend through the wire messages directly and wrap the result as the SDK does (base64 JSON)."""
    request = token_pb2._GenerateDisposableTokenRequest(
        expires=token_pb2._GenerateDisposableTokenRequest.Expires(valid_for_seconds=ttl),
        auth_token=emulator.api_key,
        token_id=token_id,
    )
    if permissions is not None:
        request.permissions.CopyFrom(permissions)
    with raw_channel(emulator) as channel:
        method = channel.unary_unary(
            "/token.Token/GenerateDisposableToken",
            request_serializer=token_pb2._GenerateDisposableTokenRequest.SerializeToString,
            response_deserializer=token_pb2._GenerateDisposableTokenResponse.FromString,
        )
        response = method(request, metadata=[("authorization", emulator.api_key)], timeout=10)
    wrapped = json.dumps({"endpoint": response.endpoint, "api_key": response.api_key})
    return base64.b64encode(wrapped.encode()).decode()


def api_key_of(token: str) -> str:
    return str(json.loads(base64.b64decode(token))["api_key"])


async def try_subscribe(client: TopicClientAsync, cache: str, topic: str) -> MomentoErrorCode | None:
    """None when the subscription opened, else the SDK's error code."""
    response = await client.subscribe(cache, topic)
    if isinstance(response, TopicSubscribe.SubscriptionAsync):
        response.unsubscribe()
        return None
    assert isinstance(response, TopicSubscribe.Error), response
    return response.error_code


async def try_publish(
    client: TopicClientAsync, cache: str, topic: str, value: str | bytes = "x"
) -> MomentoErrorCode | None:
    response = await client.publish(cache, topic, value)
    if isinstance(response, TopicPublish.Success):
        return None
    assert isinstance(response, TopicPublish.Error), response
    return response.error_code


@pytest.fixture(scope="module", autouse=True)
def other_cache(emulator_thread: Any) -> None:
    """A second cache, so 'a different cache' exists and out-of-scope means PERMISSION_ERROR, not NOT_FOUND."""
    emulator_thread.call(lambda core: core.caches.exists(OTHER_CACHE) or core.caches.create_cache(OTHER_CACHE))


# --- token service -----------------------------------------------------------------------------------------------


def test_root_key_vends_a_token_that_carries_endpoint_and_expiry(emulator: RunningEmulator) -> None:
    before = int(time.time())
    with auth_client(emulator) as client:
        response = client.generate_disposable_token(
            DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, "room"),
            ExpiresIn.seconds(120),
            DisposableTokenProps(token_id="alice"),
        )
    assert isinstance(response, GenerateDisposableToken.Success), response
    assert before + 120 <= response.expires_at.epoch() <= int(time.time()) + 120
    assert response.endpoint == f"{emulator.host}:{emulator.grpc_port}"
    assert emulator.api_key not in response.auth_token


@pytest.mark.parametrize(
    ("ttl", "token_id", "scope"),
    [
        pytest.param(DEFAULT_MAX_TOKEN_TTL_SECONDS + 1, None, None, id="over-maximum-ttl"),
        pytest.param(0, None, None, id="zero-ttl"),
        pytest.param(60, "x" * 65, None, id="token-id-over-64"),
    ],
)
def test_invalid_vend_requests_are_invalid_argument(
    emulator: RunningEmulator, ttl: int, token_id: str | None, scope: DisposableTokenScope | None
) -> None:
    scope = scope or DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, "room")
    props = DisposableTokenProps(token_id=token_id) if token_id else None
    with auth_client(emulator) as client:
        response = client.generate_disposable_token(scope, ExpiresIn.seconds(ttl), props)
    assert isinstance(response, GenerateDisposableToken.Error), response
    assert response.error_code == MomentoErrorCode.INVALID_ARGUMENT_ERROR


@pytest.mark.parametrize(
    "permissions",
    [
        pytest.param(None, id="no-permissions"),
        pytest.param(
            permissionmessages_pb2.Permissions(explicit=permissionmessages_pb2.ExplicitPermissions()), id="empty"
        ),
        pytest.param(permissionmessages_pb2.Permissions(super_user=permissionmessages_pb2.SuperUser), id="super-user"),
        pytest.param(
            permissionmessages_pb2.Permissions(
                explicit=permissionmessages_pb2.ExplicitPermissions(
                    permissions=[permissionmessages_pb2.PermissionsType(topic_permissions={"role": 1})]
                )
            ),
            id="topic-grant-without-selectors",
        ),
    ],
)
def test_scopes_the_sdk_cannot_send_are_invalid_argument(emulator: RunningEmulator, permissions: Any) -> None:
    """The SDK refuses an empty scope itself; the service must refuse it too, and anything it cannot enforce."""
    with pytest.raises(grpc.RpcError) as refused:
        vend_raw(emulator, permissions)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_token_id_of_exactly_64_characters_is_accepted(emulator: RunningEmulator) -> None:
    token, _ = emulator.vend(DisposableTokenScopes.topic_subscribe_only(emulator.cache_name, "t"), token_id="x" * 64)
    assert token


def test_a_disposable_token_cannot_vend(emulator: RunningEmulator) -> None:
    token, _ = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(AllCaches(), AllTopics()))
    provider = emulator.token_provider(token)
    with AuthClient(AuthConfigurations.Laptop.latest(), provider) as client:
        response = client.generate_disposable_token(
            DisposableTokenScopes.topic_publish_subscribe(AllCaches(), AllTopics()), ExpiresIn.seconds(60)
        )
    assert isinstance(response, GenerateDisposableToken.Error), response
    assert response.error_code == MomentoErrorCode.PERMISSION_ERROR


def test_an_unknown_key_is_an_authentication_error(emulator: RunningEmulator) -> None:
    with auth_client(emulator, api_key="not-the-root-key") as client:
        response = client.generate_disposable_token(
            DisposableTokenScopes.topic_subscribe_only(emulator.cache_name, "t"), ExpiresIn.seconds(60)
        )
    assert isinstance(response, GenerateDisposableToken.Error)
    assert response.error_code == MomentoErrorCode.AUTHENTICATION_ERROR


def test_a_forged_token_is_an_authentication_error(emulator: RunningEmulator) -> None:
    token, _ = emulator.vend(DisposableTokenScopes.topic_subscribe_only(emulator.cache_name, "t"))
    api_key = api_key_of(token)
    head, claims, mac = api_key.split(".")
    widened = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    widened["s"] = {"su": True, "t": [], "c": []}
    forged_claims = base64.urlsafe_b64encode(json.dumps(widened).encode()).rstrip(b"=").decode()
    forged = base64.b64encode(json.dumps({"endpoint": "x", "api_key": f"{head}.{forged_claims}.{mac}"}).encode())
    with cache_client(emulator, forged.decode()) as client:
        response = client.get(emulator.cache_name, "k")
    assert isinstance(response, CacheGet.Error)
    assert response.error_code == MomentoErrorCode.AUTHENTICATION_ERROR


def test_the_node_style_body_only_key_vends_and_a_mismatched_header_is_refused(emulator: RunningEmulator) -> None:
    request = token_pb2._GenerateDisposableTokenRequest(
        expires=token_pb2._GenerateDisposableTokenRequest.Expires(valid_for_seconds=60),
        auth_token=emulator.api_key,
        permissions=permissionmessages_pb2.Permissions(
            explicit=permissionmessages_pb2.ExplicitPermissions(
                permissions=[_topic_permission(permissionmessages_pb2.TopicReadOnly, None, "all", None)]
            )
        ),
    )
    with raw_channel(emulator) as channel:
        method = channel.unary_unary(
            "/token.Token/GenerateDisposableToken",
            request_serializer=token_pb2._GenerateDisposableTokenRequest.SerializeToString,
            response_deserializer=token_pb2._GenerateDisposableTokenResponse.FromString,
        )
        assert method(request, timeout=10).api_key  # no authorization metadata at all
        with pytest.raises(grpc.RpcError) as refused:
            method(request, metadata=[("authorization", "someone-else")], timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_an_open_subscription_ends_with_unauthenticated_when_its_token_expires(emulator: RunningEmulator) -> None:
    """Checked on the wire: the Python SDK 1.29.1 retries a failed stream in a tight loop, so it cannot observe this."""
    topic = unique("expiring")
    token, expires_at = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic), 2)
    request = cachepubsub_pb2._SubscriptionRequest(cache_name=emulator.cache_name, topic=topic)
    with raw_channel(emulator) as channel:
        stream = cachepubsub_pb2_grpc.PubsubStub(channel).Subscribe(
            request, metadata=[("authorization", api_key_of(token))], timeout=15
        )
        with pytest.raises(grpc.RpcError) as ended:
            for _ in stream:
                pass
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert expires_at <= time.time() < expires_at + 2


async def test_an_expired_token_is_an_authentication_error(emulator: RunningEmulator) -> None:
    topic = unique("expired")
    token, expires_at = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic), 1)
    async with topic_client(emulator, token) as client:
        assert await try_publish(client, emulator.cache_name, topic) is None
        await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.1)
        assert await try_publish(client, emulator.cache_name, topic) == MomentoErrorCode.AUTHENTICATION_ERROR
        assert await try_subscribe(client, emulator.cache_name, topic) == MomentoErrorCode.AUTHENTICATION_ERROR


# --- topics ------------------------------------------------------------------------------------------------------


async def test_publish_and_subscribe_within_scope_text_and_binary(emulator: RunningEmulator) -> None:
    topic = unique("room")
    token, _ = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic), token_id="bob")
    async with topic_client(emulator, token) as client:
        subscription = await client.subscribe(emulator.cache_name, topic)
        assert isinstance(subscription, TopicSubscribe.SubscriptionAsync)
        assert await try_publish(client, emulator.cache_name, topic, "héllo") is None
        assert await try_publish(client, emulator.cache_name, topic, b"\x00\xffbin") is None
        text = await asyncio.wait_for(subscription.__anext__(), 5)
        binary = await asyncio.wait_for(subscription.__anext__(), 5)
        subscription.unsubscribe()
    assert isinstance(text, TopicSubscriptionItem.Text) and text.value == "héllo"
    assert isinstance(binary, TopicSubscriptionItem.Binary) and binary.value == b"\x00\xffbin"
    assert (text.sequence_number, binary.sequence_number) == (1, 2)
    assert text.sequence_page == binary.sequence_page != 0


def test_raw_stream_heartbeat_first_and_publisher_id_is_the_token_id(emulator: RunningEmulator) -> None:
    topic = unique("raw")
    token, _ = emulator.vend(
        DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic), token_id="carol"
    )
    with raw_channel(emulator) as channel:
        stub = cachepubsub_pb2_grpc.PubsubStub(channel)
        metadata = [("authorization", api_key_of(token))]
        stream = stub.Subscribe(
            cachepubsub_pb2._SubscriptionRequest(cache_name=emulator.cache_name, topic=topic), metadata=metadata
        )
        first = next(stream)
        assert first.WhichOneof("kind") == "heartbeat"
        stub.Publish(
            cachepubsub_pb2._PublishRequest(
                cache_name=emulator.cache_name, topic=topic, value=cachepubsub_pb2._TopicValue(text="hi")
            ),
            metadata=metadata,
        )
        item = next(m for m in stream if m.WhichOneof("kind") == "item").item
        stream.cancel()
    assert item.publisher_id == "carol"
    assert item.value.text == "hi"
    assert item.topic_sequence_number == 1


def test_resume_replays_from_the_buffer_and_a_foreign_page_gets_a_discontinuity(emulator: RunningEmulator) -> None:
    topic = unique("resume")
    token, _ = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic))
    metadata = [("authorization", api_key_of(token))]
    with raw_channel(emulator) as channel:
        stub = cachepubsub_pb2_grpc.PubsubStub(channel)
        for n in range(1, 6):
            stub.Publish(
                cachepubsub_pb2._PublishRequest(
                    cache_name=emulator.cache_name, topic=topic, value=cachepubsub_pb2._TopicValue(text=str(n))
                ),
                metadata=metadata,
            )

        def first_non_heartbeats(resume_at: int, page: int, count: int) -> list[Any]:
            request = cachepubsub_pb2._SubscriptionRequest(
                cache_name=emulator.cache_name,
                topic=topic,
                resume_at_topic_sequence_number=resume_at,
                sequence_page=page,
            )
            stream = stub.Subscribe(request, metadata=metadata)
            got = list(itertools.islice((m for m in stream if m.WhichOneof("kind") != "heartbeat"), count))
            stream.cancel()
            return got

        replay = first_non_heartbeats(3, 0, 3)
        assert [m.item.value.text for m in replay] == ["3", "4", "5"]
        page = replay[0].item.sequence_page
        assert [m.item.value.text for m in first_non_heartbeats(4, page, 2)] == ["4", "5"]
        (gap,) = first_non_heartbeats(2, page ^ 1, 1)
    assert gap.WhichOneof("kind") == "discontinuity"
    assert (gap.discontinuity.last_topic_sequence, gap.discontinuity.new_topic_sequence) == (1, 6)
    assert gap.discontinuity.new_sequence_page == page


async def test_every_subscriber_present_gets_every_message_in_order_once(emulator: RunningEmulator) -> None:
    topic = unique("fanout")
    token, _ = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(emulator.cache_name, topic))
    async with topic_client(emulator, token) as client:
        subscriptions = [await client.subscribe(emulator.cache_name, topic) for _ in range(3)]
        for n in range(50):
            assert await try_publish(client, emulator.cache_name, topic, f"m{n}") is None

        async def drain(subscription: Any) -> list[tuple[int, str]]:
            got = []
            async for item in subscription:
                got.append((item.sequence_number, item.value))
                if len(got) == 50:
                    break
            subscription.unsubscribe()
            return got

        results = await asyncio.wait_for(asyncio.gather(*(drain(s) for s in subscriptions)), 20)
    expected = [(n + 1, f"m{n}") for n in range(50)]
    assert all(r == expected for r in results)


async def test_topics_on_a_missing_cache_are_not_found(emulator: RunningEmulator) -> None:
    token, _ = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(AllCaches(), AllTopics()))
    async with topic_client(emulator, token) as client:
        assert await try_publish(client, "no-such-cache", "t") == MomentoErrorCode.NOT_FOUND_ERROR
        assert await try_subscribe(client, "no-such-cache", "t") == MomentoErrorCode.NOT_FOUND_ERROR


# --- the topic scope matrix --------------------------------------------------------------------------------------

ROLES = {
    "publish_subscribe": (TopicRole.PUBLISH_SUBSCRIBE, permissionmessages_pb2.TopicReadWrite, {"publish", "subscribe"}),
    "subscribe_only": (TopicRole.SUBSCRIBE_ONLY, permissionmessages_pb2.TopicReadOnly, {"subscribe"}),
    "publish_only": (TopicRole.PUBLISH_ONLY, permissionmessages_pb2.TopicWriteOnly, {"publish"}),
}
CACHE_SELECTORS = ["all", "this", "other"]
TOPIC_SELECTORS = ["all", "name", "other-name", "prefix", "other-prefix"]


@dataclass(frozen=True)
class TopicCase:
    role: str
    cache: str
    topic: str

    def expected(self, op: str) -> bool:
        """The documented rule, stated independently of the emulator: role, cache and topic must all match."""
        return op in ROLES[self.role][2] and self.cache != "other" and self.topic in ("all", "name", "prefix")


def _topic_permission(role: int, cache: str | None, topic_kind: str, topic_value: str | None) -> Any:
    pt = permissionmessages_pb2.PermissionsType
    kwargs: dict[str, Any] = {"role": role}
    kwargs["all_caches" if cache is None else "cache_selector"] = (
        pt.All() if cache is None else pt.CacheSelector(cache_name=cache)
    )
    if topic_kind == "all":
        kwargs["all_topics"] = pt.All()
    elif topic_kind == "name":
        kwargs["topic_selector"] = pt.TopicSelector(topic_name=topic_value)
    else:
        kwargs["topic_selector"] = pt.TopicSelector(topic_name_prefix=topic_value)
    return pt(topic_permissions=pt.TopicPermissions(**kwargs))


def _vend_for(emulator: RunningEmulator, case: TopicCase, topic: str) -> str:
    cache = {"all": None, "this": emulator.cache_name, "other": OTHER_CACHE}[case.cache]
    sdk_role, wire_role, _ = ROLES[case.role]
    if case.topic in ("prefix", "other-prefix"):
        prefix = topic[:6] if case.topic == "prefix" else "zz" + topic[:4]
        permissions = permissionmessages_pb2.Permissions(
            explicit=permissionmessages_pb2.ExplicitPermissions(
                permissions=[_topic_permission(wire_role, cache, "prefix", prefix)]
            )
        )
        return vend_raw(emulator, permissions)
    topic_selector = {"all": AllTopics(), "name": TopicName(topic), "other-name": TopicName(topic + "-x")}[case.topic]
    cache_selector = CacheSelector(AllCaches() if cache is None else CacheName(cache))
    scope = DisposableTokenScope(
        Permissions([TopicPermission(sdk_role, cache_selector, TopicSelector(topic_selector))])
    )
    token, _ = emulator.vend(scope)
    return token


TOPIC_CASES = [TopicCase(r, c, t) for r in ROLES for c in CACHE_SELECTORS for t in TOPIC_SELECTORS]


@pytest.mark.parametrize("case", TOPIC_CASES, ids=lambda c: f"{c.role}/{c.cache}-cache/{c.topic}-topic")
async def test_topic_scope_matrix(emulator: RunningEmulator, case: TopicCase) -> None:
    topic = unique("matrix")
    token = _vend_for(emulator, case, topic)
    async with topic_client(emulator, token) as client:
        published = await try_publish(client, emulator.cache_name, topic)
        subscribed = await try_subscribe(client, emulator.cache_name, topic)
    assert published == (None if case.expected("publish") else MomentoErrorCode.PERMISSION_ERROR)
    assert subscribed == (None if case.expected("subscribe") else MomentoErrorCode.PERMISSION_ERROR)
    # Topic grants never open the cache.
    with cache_client(emulator, token) as cache:
        response = cache.get(emulator.cache_name, "any-key")
    assert isinstance(response, CacheGet.Error) and response.error_code == MomentoErrorCode.PERMISSION_ERROR


# --- the cache scope matrix --------------------------------------------------------------------------------------

CACHE_ROLES = {
    "read_write": (CacheRole.READ_WRITE, {"get", "set", "delete"}),
    "read_only": (CacheRole.READ_ONLY, {"get"}),
    "write_only": (CacheRole.WRITE_ONLY, {"set", "delete"}),
}
ITEM_SELECTORS = ["all", "key", "other-key", "prefix", "other-prefix"]


@dataclass(frozen=True)
class CacheCase:
    role: str
    cache: str
    item: str

    def expected(self, op: str) -> bool:
        return op in CACHE_ROLES[self.role][1] and self.cache != "other" and self.item in ("all", "key", "prefix")


CACHE_CASES = [CacheCase(r, c, i) for r in CACHE_ROLES for c in CACHE_SELECTORS for i in ITEM_SELECTORS]


@pytest.mark.parametrize("case", CACHE_CASES, ids=lambda c: f"{c.role}/{c.cache}-cache/{c.item}-item")
async def test_cache_scope_matrix(emulator: RunningEmulator, case: CacheCase) -> None:
    key = unique("user:42:profile")
    cache = {"all": AllCaches(), "this": CacheName(emulator.cache_name), "other": CacheName(OTHER_CACHE)}[case.cache]
    item: Any = {
        "all": "all",
        "key": CacheItemKey(key),
        "other-key": CacheItemKey(key + "-x"),
        "prefix": CacheItemKeyPrefix(key[:8]),
        "other-prefix": CacheItemKeyPrefix("zz" + key[:6]),
    }[case.item]
    selector = CacheItemSelector(item if item != "all" else _all_items())
    role, _ = CACHE_ROLES[case.role]
    scope = DisposableTokenScope(
        DisposableTokenCachePermissions([DisposableTokenCachePermission(CacheSelector(cache), role, selector)])
    )
    token, _ = emulator.vend(scope)
    with cache_client(emulator) as root:
        assert isinstance(root.set(emulator.cache_name, key, "seed"), CacheSet.Success)
    with cache_client(emulator, token) as client:
        got = client.get(emulator.cache_name, key)
        put = client.set(emulator.cache_name, key, "new")
        deleted = client.delete(emulator.cache_name, key)
    _assert_allowed(got, case.expected("get"), CacheGet.Hit)
    _assert_allowed(put, case.expected("set"), CacheSet.Success)
    _assert_allowed(deleted, case.expected("delete"), CacheDelete.Success)
    # Cache grants never open topics.
    async with topic_client(emulator, token) as topics:
        assert await try_publish(topics, emulator.cache_name, "t") == MomentoErrorCode.PERMISSION_ERROR
        assert await try_subscribe(topics, emulator.cache_name, "t") == MomentoErrorCode.PERMISSION_ERROR


def _all_items() -> Any:
    from momento.auth.access_control.disposable_token_scope import AllCacheItems

    return AllCacheItems()


def _assert_allowed(response: Any, allowed: bool, success_type: type) -> None:
    if allowed:
        assert isinstance(response, success_type), response
    else:
        assert response.error_code == MomentoErrorCode.PERMISSION_ERROR, response


# --- cache data and control plane --------------------------------------------------------------------------------


def test_cache_get_set_delete_with_key_prefix_scope(emulator: RunningEmulator) -> None:
    token, _ = emulator.vend(DisposableTokenScopes.cache_key_prefix_read_write(emulator.cache_name, "profile:"))
    with cache_client(emulator, token) as client:
        assert isinstance(client.get(emulator.cache_name, "profile:1"), CacheGet.Miss)
        assert isinstance(client.set(emulator.cache_name, "profile:1", "v1"), CacheSet.Success)
        hit = client.get(emulator.cache_name, "profile:1")
        assert isinstance(hit, CacheGet.Hit) and hit.value_string == "v1"
        assert isinstance(client.delete(emulator.cache_name, "profile:1"), CacheDelete.Success)
        assert isinstance(client.get(emulator.cache_name, "profile:1"), CacheGet.Miss)
        denied = client.set(emulator.cache_name, "secret:1", "x")
        assert isinstance(denied, CacheSet.Error) and denied.error_code == MomentoErrorCode.PERMISSION_ERROR


def test_cache_items_expire_after_their_ttl(emulator: RunningEmulator) -> None:
    with cache_client(emulator) as client:
        assert isinstance(client.set(emulator.cache_name, "short", "v", timedelta(milliseconds=300)), CacheSet.Success)
        assert isinstance(client.get(emulator.cache_name, "short"), CacheGet.Hit)
        time.sleep(0.5)
        assert isinstance(client.get(emulator.cache_name, "short"), CacheGet.Miss)


def test_missing_cache_is_not_found(emulator: RunningEmulator) -> None:
    with cache_client(emulator) as client:
        response = client.get("no-such-cache", "k")
    assert isinstance(response, CacheGet.Error) and response.error_code == MomentoErrorCode.NOT_FOUND_ERROR


def test_control_plane_with_the_root_key_and_refused_to_tokens(emulator: RunningEmulator) -> None:
    name = unique("created")
    with cache_client(emulator) as client:
        assert isinstance(client.create_cache(name), CreateCache.Success)
        assert isinstance(client.create_cache(name), CreateCache.CacheAlreadyExists)
        listed = client.list_caches()
        assert isinstance(listed, ListCaches.Success) and name in [c.name for c in listed.caches]
        assert isinstance(client.delete_cache(name), DeleteCache.Success)
        gone = client.delete_cache(name)
        assert isinstance(gone, DeleteCache.Error) and gone.error_code == MomentoErrorCode.NOT_FOUND_ERROR
    token, _ = emulator.vend(DisposableTokenScopes.cache_read_write(AllCaches()))
    with cache_client(emulator, token) as client:
        refused = client.create_cache(unique("nope"))
        assert isinstance(refused, CreateCache.Error) and refused.error_code == MomentoErrorCode.PERMISSION_ERROR
        listing = client.list_caches()
        assert isinstance(listing, ListCaches.Error) and listing.error_code == MomentoErrorCode.PERMISSION_ERROR


# --- logs --------------------------------------------------------------------------------------------------------


async def test_logs_never_contain_keys_or_tokens(emulator: RunningEmulator, caplog: pytest.LogCaptureFixture) -> None:
    import socket

    caplog.set_level("DEBUG")
    topic = unique("logged")
    token, _ = emulator.vend(DisposableTokenScopes.topic_subscribe_only(emulator.cache_name, topic))
    async with topic_client(emulator, token) as client:
        assert await try_publish(client, emulator.cache_name, topic) == MomentoErrorCode.PERMISSION_ERROR
    with auth_client(emulator, api_key=token) as refused:
        refused.generate_disposable_token(
            DisposableTokenScopes.topic_subscribe_only(emulator.cache_name, "t"), ExpiresIn.seconds(60)
        )
    with socket.create_connection((emulator.host, emulator.web_port), timeout=5) as raw:
        raw.sendall(b"POST / HTTP/1.1\r\nauthorization: " + api_key_of(token).encode() + b"\x01\r\n\r\n")
        raw.recv(100)
    await asyncio.sleep(0.2)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "malformed HTTP request" in logged
    for secret in (emulator.api_key, token, api_key_of(token), api_key_of(token).split(".")[2]):
        assert secret not in logged
