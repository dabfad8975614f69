"""What a vended token may do, asked of the real `momento` SDK: the one probe every suite uses (the Lambda in-process,
the local stack, SAM local, the embedded integrations, the installed wheel).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta

from momento import CacheClientAsync, Configurations, CredentialProvider, TopicClientAsync, TopicConfigurations
from momento.config import TopicConfiguration
from momento.errors import MomentoErrorCode
from momento.responses import CacheGet, CacheSet, TopicPublish, TopicSubscribe, TopicSubscriptionItem


def emulator_provider(auth_token: str, port: int, host: str = "127.0.0.1") -> CredentialProvider:
    """A vended disposable token, pointed at an emulator's plaintext gRPC port (every SDK factory forces 443)."""
    return dataclasses.replace(
        CredentialProvider.from_disposable_token(auth_token),
        control_endpoint=host,
        cache_endpoint=host,
        token_endpoint=host,
        port=port,
    )


def topic_config() -> TopicConfiguration:
    # Always a long client timeout: the default 5 s is a whole-stream deadline and the SDK then busy-spins.
    return TopicConfigurations.Default.v1().with_client_timeout(timedelta(minutes=5))


async def publish(provider: CredentialProvider, cache: str, topic: str, text: str) -> bool:
    """Whether Momento took `text` on `topic` from the token behind `provider` (a publish, nothing read back)."""
    async with TopicClientAsync(topic_config(), provider) as client:
        return isinstance(await client.publish(cache, topic, text), TopicPublish.Success)


async def topic_rights(provider: CredentialProvider, cache: str, topic: str) -> tuple[bool, bool]:
    """(may publish, may subscribe) on `topic`; a message it may both publish and read must arrive once, intact.
    Anything but success must be the SDK's PERMISSION_ERROR (not a timeout or a bad token)."""
    async with TopicClientAsync(topic_config(), provider) as client:
        subscription = await client.subscribe(cache, topic)
        text = f"hello {uuid.uuid4()}"
        published = await client.publish(cache, topic, text)
        try:
            if isinstance(subscription, TopicSubscribe.SubscriptionAsync) and isinstance(
                published, TopicPublish.Success
            ):
                async with asyncio.timeout(10):
                    async for item in subscription:
                        if isinstance(item, TopicSubscriptionItem.Text):
                            assert item.value == text
                            break
        finally:
            if isinstance(subscription, TopicSubscribe.SubscriptionAsync):
                subscription.unsubscribe()
    for response in (published, subscription):
        if isinstance(response, TopicPublish.Error | TopicSubscribe.Error):
            assert response.error_code == MomentoErrorCode.PERMISSION_ERROR, response
        else:
            assert isinstance(response, TopicPublish.Success | TopicSubscribe.SubscriptionAsync), response
    return isinstance(published, TopicPublish.Success), isinstance(subscription, TopicSubscribe.SubscriptionAsync)


async def cache_rights(provider: CredentialProvider, cache: str, key: str) -> tuple[bool, bool]:
    """(may read, may write) `key` in `cache`; what it writes it must read back."""
    async with CacheClientAsync(Configurations.Laptop.v1(), provider, timedelta(minutes=1)) as client:
        written = await client.set(cache, key, "value")
        read = await client.get(cache, key)
    for response in (written, read):
        if isinstance(response, CacheSet.Error | CacheGet.Error):
            assert response.error_code == MomentoErrorCode.PERMISSION_ERROR, response
    if isinstance(written, CacheSet.Success):
        assert isinstance(read, CacheGet.Hit) and read.value_string == "value", read
    return not isinstance(read, CacheGet.Error), isinstance(written, CacheSet.Success)
