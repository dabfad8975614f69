"""SnapStart safety: what a snapshot taken right after import would capture, and the restore hooks.

A fake `snapshot_restore_py` (the Lambda runtime's module, absent here) records what registers; each function is
imported in a fresh interpreter as Lambda's init does. Restores themselves cannot be run or timed outside Lambda.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_RUNTIME = """
hooks = []
def register_after_restore(function, *args, **kwargs):
    hooks.append(function)
def register_before_snapshot(function, *args, **kwargs):
    pass
"""

VENDING_PROBE = """
import json, sys
import snapshot_restore_py
import app
from momento_tvm.secret_cache import CachedSecret
state = {
    "hooks": [f.__module__ + "." + f.__name__ for f in snapshot_restore_py.hooks],
    "minter": app.vending.minter.current is not None,
    "secret": bool(app.vending.keys.store),
    "grpc": sorted(m for m in sys.modules if m == "grpc" or m.startswith("grpc.")),
    # Powertools' user_agent imports the bare `botocore` package (0.3 ms, no session, no client): not the SDK
    "boto": sorted(m for m in sys.modules if m == "boto3" or m.startswith(("boto3.", "botocore."))),
}
app.vending.keys.store["id"] = CachedSecret("key", 1e18)  # as if a key had been read before the snapshot
snapshot_restore_py.hooks[0]()
state["secret_after_restore"] = bool(app.vending.keys.store)
print(json.dumps(state))
"""

AUTHORIZER_PROBE = """
import json, sys
import snapshot_restore_py
import app
users = app.authorizer.users
before = users.key
state = {
    "hooks": [f.__module__ + "." + f.__name__ for f in snapshot_restore_py.hooks],
    "store": users.snapshot is not None,
    "boto": sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore")),
}
snapshot_restore_py.hooks[0]()
state["new_key"] = users.key != before and len(users.key) == 32
print(json.dumps(state))
"""


def _probe(folder: Path, probe: str, tmp_path: Path) -> dict[str, object]:
    (tmp_path / "snapshot_restore_py.py").write_text(FAKE_RUNTIME, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(folder)]),
        "MOMENTO_API_KEY_SECRET": "tvm/key",
        "MOMENTO_ENDPOINT": "127.0.0.1:9",
        "POWERTOOLS_SERVICE_NAME": "token-vending",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=folder, env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_vending_function_imports_no_channel_key_or_aws_sdk_and_registers_its_restore_hook(tmp_path: Path) -> None:
    state = _probe(ROOT / "functions" / "token_vending", VENDING_PROBE, tmp_path)
    assert state["hooks"] == ["app._after_restore"]
    assert state == {**state, "minter": False, "secret": False, "grpc": [], "boto": []}
    assert state["secret_after_restore"] is False


def test_the_authorizer_makes_a_new_cache_key_after_a_restore(tmp_path: Path) -> None:
    state = _probe(ROOT / "authorizers" / "credentials", AUTHORIZER_PROBE, tmp_path)
    assert state["hooks"] == ["app._after_restore"]
    assert state == {**state, "store": False, "boto": [], "new_key": True}


def test_without_the_runtime_module_both_import_as_before(tmp_path: Path) -> None:
    """Locally there is no snapshot_restore_py: the guarded import is a no-op."""
    for folder in (ROOT / "functions" / "token_vending", ROOT / "authorizers" / "credentials"):
        env = {**os.environ, "PYTHONPATH": str(folder), "MOMENTO_API_KEY_SECRET": "x", "MOMENTO_ENDPOINT": "x"}
        subprocess.run([sys.executable, "-c", "import app"], cwd=folder, env=env, check=True)
