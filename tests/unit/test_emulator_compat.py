"""The emulator's defaults for Momento's own clients: a 25-hour lifetime cap and the v1 form of its key.

Momento's token vending machine example states the 25 hours (its config.ts) and hands its key to the Node SDK's
`CredentialProvider.fromString`, which takes only the base64 v1 form; tests/integration/test_node_sdk.py runs the
real Node SDK with both.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from momento_emulator import DEFAULT_API_KEY, DEFAULT_MAX_TOKEN_TTL_SECONDS, EmulatorConfig, EmulatorCore, v1_api_key
from momento_emulator.__main__ import parse_args
from momento_emulator.errors import InvalidArgumentError
from momento_emulator.permissions import Scope, TopicGrant, TopicRole

EMULATOR_DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
SCOPE = Scope(topics=(TopicGrant(TopicRole.READ_WRITE, "chat", topic="room"),))


def test_the_default_cap_is_the_25_hours_momentos_tvm_example_states() -> None:
    assert DEFAULT_MAX_TOKEN_TTL_SECONDS == 25 * 3600
    assert EmulatorConfig().max_token_ttl_seconds == DEFAULT_MAX_TOKEN_TTL_SECONDS
    assert parse_args([]).max_token_ttl == DEFAULT_MAX_TOKEN_TTL_SECONDS
    assert parse_args(["--max-token-ttl", "3600"]).max_token_ttl == 3600


def test_a_default_emulator_vends_25_hours_and_refuses_a_second_more() -> None:
    core = EmulatorCore(EmulatorConfig(caches=("chat",)), clock=lambda: 1_000_000.0)
    root = core.authenticate(DEFAULT_API_KEY)
    _, _, valid_until = core.generate_disposable_token(root, SCOPE, 25 * 3600, "alice")
    assert valid_until == 1_000_000 + 25 * 3600
    with pytest.raises(InvalidArgumentError, match="over the maximum of 90000 s"):
        core.generate_disposable_token(root, SCOPE, 25 * 3600 + 1, "alice")


def test_the_flag_still_lowers_the_cap() -> None:
    core = EmulatorCore(EmulatorConfig(max_token_ttl_seconds=3600))
    with pytest.raises(InvalidArgumentError):
        core.generate_disposable_token(core.authenticate(DEFAULT_API_KEY), SCOPE, 3601, "")


def test_the_docs_state_the_default_and_name_its_source() -> None:
    text = EMULATOR_DOC.read_text(encoding="utf-8")
    row = re.search(r"^\| `--max-token-ttl` \|([^|]*)\|", text, re.MULTILINE)
    assert row and str(DEFAULT_MAX_TOKEN_TTL_SECONDS) in row.group(1)
    assert "examples/nodejs/token-vending-machine/lambda/token-vending-machine/config.ts" in text


def test_v1_api_key_is_base64_json_holding_the_key_and_endpoint() -> None:
    wrapped = v1_api_key("127.0.0.1:8080")
    # The Node SDK's test for this form: standard base64 that re-encodes to the same string.
    assert base64.b64encode(base64.b64decode(wrapped, validate=True)).decode() == wrapped
    assert json.loads(base64.b64decode(wrapped)) == {"endpoint": "127.0.0.1:8080", "api_key": DEFAULT_API_KEY}
    assert json.loads(base64.b64decode(v1_api_key("h:1", "other-key")))["api_key"] == "other-key"


def test_v1_api_key_needs_an_endpoint() -> None:
    """The SDKs refuse a v1 key whose endpoint is empty, so the helper does too, at once."""
    with pytest.raises(ValueError, match="endpoint"):
        v1_api_key("")
