"""Flask integration: `GET`/`POST {url_prefix}` and `GET {url_prefix}/explain` behind the host app's own login.

    from momento_tvm.flask import token_blueprint
    app.register_blueprint(token_blueprint(machine, current_user))

`current_user()` is called inside the request (use `flask.session`, `flask_login.current_user`, ...) and returns the
signed-in user as an `Identity` (`verified_identity(name, groups)`), or None when nobody is signed in (401). The
answers are the vending Lambda's, status for status (`momento_tvm.http`). Each is logged on `momento_tvm` (or
`logger=`), or reported to `observer=` instead (momento_tvm.observe).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, request

from .http import HttpAnswer, TokenRoutes, joined_query, read_bounded
from .identity import Identity
from .observe import RouteObserver
from .vending import VendingMachine

__all__ = ["DEFAULT_PATH", "token_blueprint"]

DEFAULT_PATH = "/api/momento/token"


def token_blueprint(
    machine: VendingMachine,
    current_user: Callable[[], Identity | None],
    *,
    url_prefix: str = DEFAULT_PATH,
    name: str = "momento_token",
    logger: logging.Logger | None = None,
    observer: RouteObserver | None = None,
) -> Blueprint:
    """A `Blueprint` with the token routes under `url_prefix` (register it with `app.register_blueprint`)."""
    if logger is not None and observer is not None:
        raise TypeError("pass logger= or observer=, not both: an observer does its own logging")
    routes = TokenRoutes(machine, observer or logger)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    @blueprint.get("")
    def get_token() -> Response:
        return _response(routes.get(current_user(), _query(), source_ip=request.remote_addr))

    @blueprint.post("")
    def post_token() -> Response:
        # Bounded: a huge body is refused without being held in memory.
        stream = request.stream
        body = read_bounded(iter(lambda: stream.read(65536), b""))
        return _response(routes.post(current_user(), body, source_ip=request.remote_addr))

    @blueprint.get("/explain")
    def explain_token() -> Response:
        return _response(routes.explain(current_user(), _query(), source_ip=request.remote_addr))

    return blueprint


def _query() -> dict[str, str]:
    return joined_query(request.args.items(multi=True))


def _response(answer: HttpAnswer) -> Response:
    return Response(answer.body_text(), answer.status, headers=answer.headers, mimetype="application/json")
