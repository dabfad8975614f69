"""The README's "Embed it in your app" examples, run as pasted: each marked block is written to a file of its own,
run against the session's emulator, signed in through a stand-in for the host's login route, and its token tried
with the real `momento` SDK."""

from __future__ import annotations

import json
import re
import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from momento import CacheClient, Configurations
from momento.responses import CreateCache

from momento_tvm import EMULATOR_API_KEY
from tests import sdk_rights
from tests.conftest import RunningEmulator

README = Path(__file__).resolve().parents[2] / "README.md"
MARKED = re.compile(r"<!-- readme-example: (\w+) -->\n```python\n(.*?)```", re.DOTALL)


def readme_examples() -> dict[str, str]:
    return dict(MARKED.findall(README.read_text(encoding="utf-8")))


@pytest.fixture
def pasted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: RunningEmulator) -> dict[str, str]:
    """A fresh folder with the settings the examples read from the environment, as their comments say, and their
    cache ("chat") on the emulator."""
    with CacheClient(Configurations.Laptop.v1(), emulator.root_provider(), timedelta(seconds=60)) as client:
        created = client.create_cache("chat")
    assert isinstance(created, CreateCache.Success | CreateCache.CacheAlreadyExists), created
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOMENTO_API_KEY", EMULATOR_API_KEY)
    monkeypatch.setenv("MOMENTO_ENDPOINT", f"127.0.0.1:{emulator.grpc_port}")
    monkeypatch.setenv("SESSION_SECRET", "test-session-secret")
    return readme_examples()


def test_the_readme_marks_both_examples() -> None:
    assert set(readme_examples()) == {"fastapi", "flask"}


async def test_the_fastapi_example_works_as_pasted(pasted: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(pasted["fastapi"])
    example = runpy.run_path(str(tmp_path / "app.py"))
    app = example["app"]

    @app.get("/test-login")  # the host app's own login route, which the README leaves to the reader
    def login(request: Request) -> dict[str, bool]:
        request.session["user"] = {"name": "alice", "groups": ["members"]}
        return {"ok": True}

    with TestClient(app) as client:
        assert client.get("/api/momento/token?topics=room-1").status_code == 401
        client.get("/test-login")
        answer = client.get("/api/momento/token?topics=room-1")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        denied = client.get("/api/momento/token?topics=lobby")
    example["machine"].close()
    assert (body["tokenId"], body["scope"]["tier"]) == ("alice", "member")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "scope_denied")
    provider = sdk_rights.emulator_provider(body["authToken"], int(body["endpoint"].rsplit(":", 1)[1]))
    assert await sdk_rights.topic_rights(provider, "chat", "room-1") == (True, True)
    assert await sdk_rights.topic_rights(provider, "chat", "room-2") == (False, False)


async def test_the_flask_example_works_as_pasted(pasted: dict[str, str], tmp_path: Path) -> None:
    # Its policy.yaml: the FastAPI example's tiers (JSON is YAML).
    policy = runpy.run_path(str(_write(tmp_path / "policy_source.py", _policy_of(pasted["fastapi"]))))["POLICY"]
    (tmp_path / "policy.yaml").write_text(json.dumps(policy))
    example = runpy.run_path(str(_write(tmp_path / "flask_app.py", pasted["flask"])))
    app = example["app"]

    @app.get("/test-login")
    def login() -> str:
        from flask import session

        session["user"] = "bob"
        return "ok"

    client = app.test_client()
    assert client.get("/api/momento/token?topics=room-1").status_code == 401
    client.get("/test-login")
    answer = client.get("/api/momento/token?topics=room-1")
    example["machine"].close()
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert (body["tokenId"], body["scope"]["tier"]) == ("bob", "member")
    provider = sdk_rights.emulator_provider(body["authToken"], int(body["endpoint"].rsplit(":", 1)[1]))
    assert await sdk_rights.topic_rights(provider, "chat", "room-1") == (True, True)


def _policy_of(example: str) -> str:
    start = example.index("POLICY = {")
    end = example.index("\n}\n", start) + 3
    return example[start:end]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
