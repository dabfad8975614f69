"""Run by tests/integration/test_wheel.py with the python of a fresh venv where only the built wheel (and what it
declares) is installed: a user's first script, through the public API only, plus what that venv holds.

Usage: python -I wheel_probe.py EMULATOR_GRPC_PORT CACHE_NAME TOPIC (a `room-` topic: the policy's only tier).
Prints one JSON object on stdout (it holds the vended tokens: the test reads it from a pipe and never prints it):
what the venv holds, then what the library did, or the traceback of its failure (a broken wheel is then still
described). Imports nothing from the repository.

No `from __future__ import annotations`: FastAPI reads `request_user`'s annotations at runtime, and they are local.
"""

import asyncio
import importlib.metadata
import importlib.util
import json
import site
import sys
import traceback
from pathlib import Path
from typing import Any

DEV_TOOLS = ("devstack", "local_api", "site_tools", "tvm_users", "momento_emulator", "sam_local")


def policy() -> dict[str, Any]:
    """A one-tier policy as a mapping, the way an app that keeps its policy in code passes it."""
    return {
        "version": 1,
        "groups": [{"group": "readwrite", "tier": "readwrite"}],
        "tiers": {
            "readwrite": {
                "description": "Chat rooms only.",
                "topics": {"role": "publish_subscribe", "names": ["room-*"]},
                "ttl_seconds": 600,
                "max_ttl_seconds": 600,
            }
        },
    }


def top_level_name(entry: str) -> str | None:
    """The import name a site-packages entry provides (`x`, `x.py`, `x.cpython-311-x86_64-linux-gnu.so`), or None
    for metadata, caches and .pth files."""
    if entry.endswith((".dist-info", ".egg-info", ".pth")) or entry == "__pycache__":
        return None
    return entry.split(".", 1)[0]


def environment() -> dict[str, Any]:
    """What the venv holds: its site-packages entries, who installed each, and every distribution's requirements."""
    site_dirs = site.getsitepackages()
    top_level = sorted(
        {name for d in site_dirs for entry in Path(d).iterdir() if (name := top_level_name(entry.name)) is not None}
    )
    pth_files = sorted(entry.name for d in site_dirs for entry in Path(d).iterdir() if entry.name.endswith(".pth"))
    owners: dict[str, list[str]] = {}
    distributions: dict[str, dict[str, Any]] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        distributions[name] = {"version": dist.version, "requires": dist.requires or []}
        for file in dist.files or []:
            top = top_level_name(file.parts[0])
            if top is not None and top != "..":
                owners.setdefault(top, [])
                if name not in owners[top]:
                    owners[top].append(name)
    return {
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "site_packages": site_dirs,
        "sys_path": sys.path,
        "top_level": top_level,
        "pth_files": pth_files,
        "owners": owners,
        "tvm_files": [str(file) for file in importlib.metadata.distribution("momento-tvm").files or []],
        "distributions": distributions,
        "dev_tools_found": [name for name in DEV_TOOLS if importlib.util.find_spec(name) is not None],
        "momento_tvm_origin": getattr(importlib.util.find_spec("momento_tvm"), "origin", None),
    }


async def asgi_get(app: Any, path: str, query: str, user: str | None) -> tuple[int, Any]:
    """One GET through the ASGI app itself: FastAPI's test client needs httpx, which the extra does not declare."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), *([(b"x-user", user.encode())] if user else [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


def vend(port: int, cache: str, topic: str) -> dict[str, Any]:
    """A token from the core, one through the Flask blueprint, one through the FastAPI router, and 401s without a
    user, all against the emulator."""
    import flask
    from fastapi import FastAPI, Request
    from fastapi.routing import APIRoute

    import momento_tvm
    from momento_tvm import Identity, MomentoSettings, TokenRequest, VendingMachine, verified_identity
    from momento_tvm.fastapi import token_router
    from momento_tvm.flask import token_blueprint

    def header_user(headers: Any) -> Identity | None:
        """The host's login, played by a header (a real app reads its session)."""
        name = headers.get("x-user")
        return None if name is None else verified_identity(name, ["readwrite"])

    with VendingMachine(policy(), MomentoSettings.emulator(port=port), cache_name=cache) as m:
        token = m.vend(verified_identity("alice", ["readwrite"]), TokenRequest(topics=(topic,)))
        explained = m.explain(verified_identity("alice", ["readwrite"]), TokenRequest(topics=(topic,)))

        app = flask.Flask("probe")
        app.register_blueprint(token_blueprint(m, lambda: header_user(flask.request.headers)))
        client = app.test_client()
        by_flask = client.get(f"/api/momento/token?topics={topic}", headers={"X-User": "bob"})
        flask_401 = client.get(f"/api/momento/token?topics={topic}")

        def request_user(request: Request) -> Identity | None:
            return header_user(request.headers)

        router = token_router(m, request_user)
        api = FastAPI()
        api.include_router(router)
        routes = sorted([r.path, sorted(r.methods or ())] for r in router.routes if isinstance(r, APIRoute))
        by_fastapi = asyncio.run(asgi_get(api, "/api/momento/token", f"topics={topic}", "carol"))
        fastapi_401 = asyncio.run(asgi_get(api, "/api/momento/token", f"topics={topic}", None))

    return {
        "version": momento_tvm.__version__,
        "token": token.to_json(),
        "token_repr": repr(token),
        "explain": explained.to_json(),
        "flask": {"status": by_flask.status_code, "body": by_flask.get_json()},
        "flask_unauthenticated": {"status": flask_401.status_code, "body": flask_401.get_json()},
        "fastapi_routes": routes,
        "fastapi": {"status": by_fastapi[0], "body": by_fastapi[1]},
        "fastapi_unauthenticated": {"status": fastapi_401[0], "body": fastapi_401[1]},
    }


def main() -> None:
    port, cache, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    report: dict[str, Any] = {"environment": environment()}
    try:
        report["vending"] = vend(port, cache, topic)
    except Exception:
        report["vending"] = {"failure": traceback.format_exc()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
