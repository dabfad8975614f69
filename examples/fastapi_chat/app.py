"""The chat app: the project's chat site, served by a FastAPI app that signs its own users in and vends their
Momento tokens from its own route, `/api/momento/token`, through `momento_tvm.fastapi.token_router`.

    app = create_app(MomentoSettings.from_env(), cache_name="chat", site_dir="static_site/dist",
                     origins=["https://chat.example.com"], session_secret=os.environ["SESSION_SECRET"],
                     https_only=True)

What is where:
    GET  /                          the chat site (static_site/dist), in its "Session" mode
    GET  /config.js                 the site's settings (pages.config_js)
    GET  /login, POST /login        the sign-in form (login.py); POST /logout: sign-out (204)
    GET  /api/momento/token         a token for the signed-in user (401 JSON when nobody is), renewed by the site
    GET  /api/momento/token/explain what that token would grant, and the policy rule that decides it

`uvicorn examples.fastapi_chat.app:app_from_env --factory` runs it with its settings from the environment.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from momento_tvm import MomentoSettings, Policy, VendingMachine
from momento_tvm.fastapi import token_router

from .limits import SignInLimiter
from .login import current_user_dependency, json_error, login_router
from .origins import HOST_NOT_ALLOWED, SiteOrigins
from .pages import API_PREFIX, ERROR_CODES, SECURITY_HEADERS, config_js, site_csp
from .sessions import Sessions
from .settings import POLICY_FILE, checked_start, settings_from_env
from .users import DEMO_USERS, UserStore

__all__ = ["POLICY_FILE", "app_from_env", "create_app"]

log = logging.getLogger("fastapi_chat")

SESSION_COOKIE = "chat_session"


def create_app(
    momento: MomentoSettings,
    *,
    cache_name: str,
    site_dir: str | Path,
    origins: str | Iterable[str],
    policy: Policy | str | Path | Mapping[str, Any] = POLICY_FILE,
    session_secret: str | None = None,
    users: UserStore = DEMO_USERS,
    momento_web_url: str | None = None,
    token_ttl_seconds: int | None = None,
    https_only: bool = False,
    session_max_age_seconds: int = 8 * 3600,
    sign_in_limiter: SignInLimiter | None = None,
) -> FastAPI:
    """The app. `momento`: where tokens are minted (`MomentoSettings.from_env()`, or `.emulator(port)` offline);
    `origins`: the origins the app is served at (`https://chat.example.com`; comma-separated or a list), the only
    `Host` it answers and `Origin` it takes a sign-in from (origins.py); `momento_web_url`: the emulator's grpc-web
    URL for the browser (None with real Momento, where the site finds the endpoint in the token); `session_secret`:
    the key that signs session cookies (None: a random one for this process, so every restart signs everyone out);
    `https_only`: mark the cookie `Secure` (always, outside localhost); `token_ttl_seconds`: the token lifetime the
    site asks for (None: the tier's); `sign_in_limiter`: the limits on password checks (None: limits.py's)."""
    site, session_secret = checked_start(site_dir, token_ttl_seconds, session_secret, log)
    site_origins = SiteOrigins(origins)
    limiter = sign_in_limiter or SignInLimiter()

    machine = VendingMachine(policy, momento, cache_name=cache_name)
    sessions = Sessions(session_max_age_seconds)
    settings_js = config_js(momento_web_url=momento_web_url, token_ttl_seconds=token_ttl_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        machine.close()  # the gRPC channel to Momento

    # No /docs: Swagger's page loads scripts from a CDN, which the site's Content-Security-Policy forbids.
    app = FastAPI(title="Momento chat", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Outermost last: headers on every answer, then only our own Host, then no stack trace out, then the session.
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret,
        session_cookie=SESSION_COOKIE,
        max_age=session_max_age_seconds,
        same_site="lax",
        https_only=https_only,
    )
    app.add_middleware(InternalErrors)
    app.add_middleware(OwnHostOnly, origins=site_origins)
    app.add_middleware(SecurityHeaders, csp=site_csp(momento, momento_web_url))

    @app.get("/config.js", include_in_schema=False)
    def site_config() -> Response:
        return Response(settings_js, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    app.include_router(login_router(users, sessions, site_origins, limiter))
    app.include_router(token_router(machine, current_user_dependency(users, sessions), path=f"{API_PREFIX}/token"))
    app.mount("/", StaticFiles(directory=site, html=True), name="site")  # last: every other path is the site's
    return app


class SecurityHeaders:
    """Adds the security headers to every answer, and the site's CSP to those that set none of their own."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self.csp = csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", self.csp))
                message["headers"] = headers + self.headers
            await send(message)

        await self.app(scope, receive, with_headers)


class OwnHostOnly:
    """Answers only requests addressed to one of the app's origins: a 403 JSON for any other `Host`, such as the
    name a DNS-rebinding page made resolve to this server (origins.py)."""

    def __init__(self, app: ASGIApp, origins: SiteOrigins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
            if not self.origins.serves_host(host):
                log.warning("request refused: addressed to a host that is not one of APP_ORIGINS")
                await json_error(403, HOST_NOT_ALLOWED, self.origins.host_refusal())(scope, receive, send)
                return
        await self.app(scope, receive, send)


class InternalErrors:
    """A bug answers 500 JSON and logs the exception's class only: its message or a traceback may hold a value
    the request carried (a password field, a cookie)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            log.error("unexpected error in %s %s: %s", scope["method"], scope["path"], type(error).__name__)
            if not started:
                await json_error(500, "internal_error", "internal error")(scope, receive, send)


async def _http_error(request: Request, error: Exception) -> Response:
    """404, 405 and the like in the project's error shape, `{"error": {"code", "message"}}`."""
    assert isinstance(error, HTTPException)
    response = json_error(error.status_code, ERROR_CODES.get(error.status_code, "http_error"), str(error.detail))
    response.headers.update(error.headers or {})
    return response


async def _validation_error(request: Request, error: Exception) -> Response:
    return json_error(400, "invalid_request", "the request's parameters could not be read")


def app_from_env() -> FastAPI:
    """The app configured by environment variables (settings.py): `uvicorn examples.fastapi_chat.app:app_from_env
    --factory`."""
    return create_app(**settings_from_env())
