"""The real Node.js SDK (@gomomento/sdk, native gRPC) against the emulator.

tests/js/src/node_sdk_check.mjs does the work and prints one JSON line; this test only starts it and judges the
result. The Node SDK's AuthClient sends the caller's key only in the request body (no `authorization` metadata),
which is how Momento's own Node token vending machine calls the token service. That TVM hands its key to
`CredentialProvider.fromString`, which takes only the base64 v1 form: docs/emulator.md's recipe wraps the
emulator's key, and one test runs that recipe exactly as the document shows it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from momento_emulator import DEFAULT_API_KEY, DEFAULT_MAX_TOKEN_TTL_SECONDS, v1_api_key

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
SCRIPT = JS_DIR / "src" / "node_sdk_check.mjs"
EMULATOR_DOC = ROOT / "docs" / "emulator.md"
RECIPE_MARKER = "<!-- emulator-recipe: v1-key -->"
BUDGET_MS = 20_000


def run_node_check(
    emulator: Any, topic: str, token_id: str, *, v1_key: str | None = None, ttl_seconds: int = 60
) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (JS_DIR / "node_modules" / "@gomomento" / "sdk").is_dir():
        pytest.skip("tests/js/node_modules is missing: run `make install-js`")
    env = {
        **os.environ,
        "MOMENTO_EMULATOR_HOST": emulator.host,
        "MOMENTO_EMULATOR_GRPC_PORT": str(emulator.grpc_port),
        "MOMENTO_ROOT_KEY": emulator.api_key,
        "MOMENTO_V1_API_KEY": v1_key or v1_api_key(f"{emulator.host}:{emulator.grpc_port}", emulator.api_key),
        "MOMENTO_CACHE": emulator.cache_name,
        "MOMENTO_TOPIC": topic,
        "MOMENTO_TOKEN_ID": token_id,
        "MOMENTO_TOKEN_TTL_SECONDS": str(ttl_seconds),
        "MOMENTO_CHECK_TIMEOUT_MS": str(BUDGET_MS),
    }
    completed = subprocess.run(
        [node, str(SCRIPT)],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUDGET_MS / 1000 + 30,
        check=False,
    )
    lines = completed.stdout.splitlines()
    assert len(lines) == 1, f"rc={completed.returncode}\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    result: dict[str, Any] = json.loads(lines[0])
    assert completed.returncode == 0, f"{result}\nstderr:\n{completed.stderr}"
    return result


def documented_recipe() -> str:
    """The shell block under the recipe marker in docs/emulator.md, as written."""
    text = EMULATOR_DOC.read_text(encoding="utf-8")
    match = re.search(re.escape(RECIPE_MARKER) + r"\n```sh\n(.*?)```", text, re.DOTALL)
    assert match, f"{EMULATOR_DOC.name} has no ```sh block right after {RECIPE_MARKER}"
    return match.group(1)


def assert_chatted(result: dict[str, Any], token_id: str) -> None:
    assert result["vend"]["ok"] is True, result
    assert result["subscribe"] == {"ok": True}, result
    assert result["publish"] == [{"ok": True}, {"ok": True}], result
    received = result["received"]
    assert [item["value"] for item in received] == ["node-1", "node-2"], result
    assert [item["tokenId"] for item in received] == [token_id, token_id], result
    assert 0 < received[0]["sequenceNumber"] < received[1]["sequenceNumber"], result
    assert result["streamErrors"] == [], result
    assert result["ok"] is True, result


def test_node_sdk_vends_with_root_key_then_publishes_and_subscribes(emulator: Any) -> None:
    topic, token_id = f"node-{uuid.uuid4().hex[:10]}", f"node-user-{uuid.uuid4().hex[:6]}"
    assert_chatted(run_node_check(emulator, topic, token_id), token_id)


def test_node_sdk_disposable_token_cannot_vend_or_leave_its_scope(emulator: Any) -> None:
    result = run_node_check(emulator, f"node-{uuid.uuid4().hex[:10]}", "node-escalation")

    assert result["ok"] is True, result
    assert result["vendWithDisposable"]["ok"] is False, result
    assert result["vendWithDisposable"]["errorCode"] == "PERMISSION_ERROR", result
    assert result["publishOutsideScope"]["ok"] is False, result
    assert result["publishOutsideScope"]["errorCode"] == "PERMISSION_ERROR", result


def test_the_documented_v1_key_recipe_authenticates_the_node_sdk_from_string(emulator: Any) -> None:
    """fromString refuses the raw key; the key docs/emulator.md's shell recipe prints vends, publishes, subscribes."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    assert emulator.api_key == DEFAULT_API_KEY, "the recipe wraps the documented development key"
    completed = subprocess.run(
        [bash, "-euo", "pipefail", "-c", documented_recipe()], capture_output=True, text=True, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr
    wrapped = completed.stdout.strip()
    # The documented endpoint (127.0.0.1:8080) is not where this emulator listens: the overrides are what count.
    assert wrapped == v1_api_key("127.0.0.1:8080"), "the shell recipe and momento_emulator.v1_api_key differ"

    topic, token_id = f"node-{uuid.uuid4().hex[:10]}", f"node-v1-{uuid.uuid4().hex[:6]}"
    result = run_node_check(emulator, topic, token_id, v1_key=wrapped)

    assert result["rawKeyFromString"]["ok"] is False, result
    assert "v2 API key" in result["rawKeyFromString"]["message"], result
    assert_chatted(result, token_id)


def test_node_sdk_vends_the_25_hour_token_momentos_tvm_example_allows(emulator: Any) -> None:
    assert DEFAULT_MAX_TOKEN_TTL_SECONDS == 25 * 3600
    assert emulator.thread.config.max_token_ttl_seconds == DEFAULT_MAX_TOKEN_TTL_SECONDS
    before = int(time.time())
    topic, token_id = f"node-{uuid.uuid4().hex[:10]}", "node-25h"
    result = run_node_check(emulator, topic, token_id, ttl_seconds=DEFAULT_MAX_TOKEN_TTL_SECONDS)

    assert_chatted(result, token_id)
    assert before + DEFAULT_MAX_TOKEN_TTL_SECONDS <= result["vend"]["expiresAt"]
    assert result["vend"]["expiresAt"] <= int(time.time()) + DEFAULT_MAX_TOKEN_TTL_SECONDS

    longer = run_node_check(emulator, topic, token_id, ttl_seconds=DEFAULT_MAX_TOKEN_TTL_SECONDS + 1)
    assert longer["vend"]["ok"] is False, longer
    assert longer["vend"]["errorCode"] == "INVALID_ARGUMENT_ERROR", longer
