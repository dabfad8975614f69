"""Tell the clients already holding tokens: publish an operator's cut-off on the control channel (momento_tvm.control).

A revoke, pause, restore or resume is first a block in the issuance table (tvm_users.blocks), which refuses the next
token; this then publishes the event on the subject's control topic, with the deployment's Momento API key, so that
the clients listening there drop the token they hold at once instead of at its expiry. The message carries the event
only; the topic's name is opaque; a client obeys it because its publisher id is empty, which no vended token's is.

Published with the real `momento` SDK (a `TopicClient`), to the deployment's endpoint over TLS, or in plaintext to a
loopback `host:port` (the emulator under make dev, or the MiniStack deploy test's), as the vending function decides
(`momento_tvm.minting.is_loopback_endpoint`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from tvm_users.cli import CliError

if TYPE_CHECKING:
    from momento_tvm.control import ControlEvent

__all__ = ["Momento", "tell"]

PUBLISH_TIMEOUT: Final = timedelta(seconds=10)


@dataclass
class Momento:
    """Where and how to publish: the deployment's key (read when first needed: it is a secret), its endpoint and
    cache, and how to say it in a message (`the stack's Momento`, `make dev's emulator`)."""

    api_key: Callable[[], str]
    endpoint: str
    cache: str
    description: str


def _provider(api_key: str, endpoint: str) -> Any:
    from momento_tvm.minting import is_loopback_endpoint

    auth = importlib.import_module("momento.auth")
    if is_loopback_endpoint(endpoint):
        host, _, port = endpoint.rpartition(":")
        host = host.strip("[]")
        # Every SDK factory forces port 443 (TLS); a local endpoint is reached by building the provider itself.
        return auth.CredentialProvider(api_key, host, host, host, int(port))
    return auth.CredentialProvider.from_api_key_v2(api_key, endpoint)


def tell(momento: Momento, subject: str, event: ControlEvent) -> None:
    """Publish `event` on `subject`'s control topic; a CliError of one line when Momento refused or could not be
    reached (the block is written already: the clients then stop at their token's expiry)."""
    from momento_tvm.control import control_key, message, topic_name

    sdk = importlib.import_module("momento")
    # The SDK logs each failed call at WARNING (with the gRPC details); the command says it in its one line instead.
    logging.getLogger("momentosdk").setLevel(logging.CRITICAL)
    responses = importlib.import_module("momento.responses")
    api_key = momento.api_key()
    topic = topic_name(control_key(api_key), subject)
    try:
        provider = _provider(api_key, momento.endpoint)
    except Exception:  # the SDK refuses a key it cannot parse: say so without quoting it
        raise CliError(f"{momento.description}: the Momento API key is not one the SDK accepts", 1) from None
    config = sdk.TopicConfigurations.Default.v1().with_client_timeout(PUBLISH_TIMEOUT)
    with sdk.TopicClient(config, provider) as client:
        published = client.publish(momento.cache, topic, message(event))
    if not isinstance(published, responses.TopicPublish.Success):
        code = getattr(getattr(published, "error_code", None), "name", "UNKNOWN")
        raise CliError(f"{momento.description} did not take the control message ({code})", 1)
