"""FastAPI integration: `GET`/`POST {path}` and `GET {path}/explain` behind the host app's own login.

    from momento_tvm.fastapi import token_router
    app.include_router(token_router(machine, current_user))

`current_user` is a FastAPI dependency (sync or async, with any parameters FastAPI can inject: the `Request`, a
cookie, the host's session or database dependencies) returning the signed-in user as an `Identity`
(`verified_identity(name, groups)`), or None when nobody is signed in (401). The answers are the vending Lambda's,
status for status and byte for byte in their JSON (`momento_tvm.http`). Each is logged on `momento_tvm` (or
`logger=`), or reported to `observer=` instead (momento_tvm.observe).
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at runtime, and `User` is local.
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from .http import HttpAnswer, TokenRoutes, joined_query
from .identity import Identity
from .observe import RouteObserver
from .parsing import MAX_BODY_BYTES
from .vending import VendingMachine

__all__ = ["DEFAULT_PATH", "token_router"]

DEFAULT_PATH = "/api/momento/token"


def token_router(
    machine: VendingMachine,
    current_user: Callable[..., Any],
    *,
    path: str = DEFAULT_PATH,
    logger: logging.Logger | None = None,
    observer: RouteObserver | None = None,
) -> APIRouter:
    """An `APIRouter` with the token routes at `path` (include it with `app.include_router`)."""
    if logger is not None and observer is not None:
        raise TypeError("pass logger= or observer=, not both: an observer does its own logging")
    routes = TokenRoutes(machine, observer or logger)
    router = APIRouter(tags=["momento"])
    User = Annotated[Identity | None, Depends(current_user)]

    @router.get(path, summary="Vend a Momento token for the signed-in user")
    async def get_token(request: Request, user: User) -> Response:
        return _response(await routes.aget(user, _query(request), source_ip=_client(request)))

    @router.post(path, summary="Vend a Momento token for the signed-in user (JSON body)")
    async def post_token(request: Request, user: User) -> Response:
        body = bytearray()
        async for chunk in request.stream():  # bounded: a huge body is refused without being held in memory
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                break
        # Over the size limit: parse_body refuses it.
        return _response(await routes.apost(user, bytes(body), source_ip=_client(request)))

    @router.get(f"{path}/explain", summary="What a token request would grant, and the rule that decides it")
    async def explain_token(request: Request, user: User) -> Response:
        return _response(await routes.aexplain(user, _query(request), source_ip=_client(request)))

    return router


def _query(request: Request) -> dict[str, str]:
    return joined_query(request.query_params.multi_items())


def _client(request: Request) -> str | None:
    """The caller's address as the server saw it (behind a proxy: configure the server's forwarded-headers handling,
    e.g. uvicorn's --proxy-headers, so that this is the client's and not the proxy's)."""
    return request.client.host if request.client is not None else None


def _response(answer: HttpAnswer) -> Response:
    return Response(answer.body_text(), answer.status, headers=answer.headers, media_type="application/json")
