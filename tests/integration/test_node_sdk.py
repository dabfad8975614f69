"""The real Node.js SDK (@gomomento/sdk, native gRPC) against the emulator.

tests/js/src/node_sdk_check.mjs does the work and prints one JSON line; this test only starts it and judges the
result. The Node SDK's AuthClient sends the caller's key only in the request body (no `authorization` metadata),
which is how Momento's own Node token vending machine calls the token service.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.node

JS_DIR = Path(__file__).resolve().parents[1] / "js"
SCRIPT = JS_DIR / "src" / "node_sdk_check.mjs"
BUDGET_MS = 20_000


def run_node_check(emulator: Any, topic: str, token_id: str) -> dict[str, Any]:
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
        "MOMENTO_CACHE": emulator.cache_name,
        "MOMENTO_TOPIC": topic,
        "MOMENTO_TOKEN_ID": token_id,
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


def test_node_sdk_vends_with_root_key_then_publishes_and_subscribes(emulator: Any) -> None:
    topic, token_id = f"node-{uuid.uuid4().hex[:10]}", f"node-user-{uuid.uuid4().hex[:6]}"
    result = run_node_check(emulator, topic, token_id)

    assert result["vend"]["ok"] is True, result
    assert result["subscribe"] == {"ok": True}, result
    assert result["publish"] == [{"ok": True}, {"ok": True}], result
    received = result["received"]
    assert [item["value"] for item in received] == ["node-1", "node-2"], result
    assert [item["tokenId"] for item in received] == [token_id, token_id], result
    assert 0 < received[0]["sequenceNumber"] < received[1]["sequenceNumber"], result
    assert result["streamErrors"] == [], result
    assert result["ok"] is True, result


def test_node_sdk_disposable_token_cannot_vend_or_leave_its_scope(emulator: Any) -> None:
    result = run_node_check(emulator, f"node-{uuid.uuid4().hex[:10]}", "node-escalation")

    assert result["ok"] is True, result
    assert result["vendWithDisposable"]["ok"] is False, result
    assert result["vendWithDisposable"]["errorCode"] == "PERMISSION_ERROR", result
    assert result["publishOutsideScope"]["ok"] is False, result
    assert result["publishOutsideScope"]["errorCode"] == "PERMISSION_ERROR", result
