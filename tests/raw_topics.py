"""A topic subscription read on a plain gRPC channel with Momento's generated messages, for what the Python SDK hides:
each item's publisher id (the publishing token's `token_id`, empty for an API key)."""

from __future__ import annotations

import base64
import json
import threading

import grpc
from momento_wire_types.generated import cachepubsub_pb2, cachepubsub_pb2_grpc

__all__ = ["RawSubscription"]


def api_key_of(token: str) -> str:
    """The key inside a vended token (base64 JSON {endpoint, api_key}), as the SDK sends it."""
    return str(json.loads(base64.b64decode(token))["api_key"])


class RawSubscription:
    """A subscription read on a plain gRPC channel, keeping each item's text and publisher id."""

    def __init__(self, endpoint: str, cache: str, token: str, topic: str) -> None:
        """`endpoint`: a plaintext `host:port` (an emulator's)."""
        self.items: list[tuple[str, str]] = []
        self.arrived = threading.Event()
        self._channel = grpc.insecure_channel(endpoint)
        stub = cachepubsub_pb2_grpc.PubsubStub(self._channel)
        self._stream = stub.Subscribe(
            cachepubsub_pb2._SubscriptionRequest(cache_name=cache, topic=topic),
            metadata=[("authorization", api_key_of(token))],
        )
        first = next(self._stream)
        assert first.WhichOneof("kind") == "heartbeat"  # open: what is published from now on arrives
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for update in self._stream:
                if update.WhichOneof("kind") == "item":
                    self.items.append((update.item.value.text, update.item.publisher_id))
                    self.arrived.set()
        except grpc.RpcError:
            pass  # cancelled at close

    def next_item(self, timeout: float = 10) -> tuple[str, str]:
        assert self.arrived.wait(timeout), "nothing arrived"
        self.arrived.clear()
        return self.items[-1]

    def close(self) -> None:
        self._stream.cancel()
        self._channel.close()
