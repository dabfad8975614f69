"""The app's own sign-in with FastAPI: the sign-in form, sign-out, and `current_user` for the token route.

- The session is Starlette's `SessionMiddleware` cookie (signed with itsdangerous, `HttpOnly`, `SameSite=Lax`). It
  holds the username, a session id and the form's CSRF token: never a password, never a Momento token.
- Sign-out also forgets the session's id (`sessions.Sessions`): a copy of the cookie kept from before is refused.
- `POST /login` needs the CSRF token of this browser's session and a same-origin request (`Sec-Fetch-Site`, else
  `Origin`, against the app's configured origins: origins.py); `POST /logout` (the chat site's sign-out, a
  same-origin `fetch`) the same-origin check.
- Password checks are limited per username, per client address and at once (limits.py): 429 or 503, `Retry-After`.
- The user's groups are read from the user store on every token request, not from the cookie: a change of groups
  applies at the next token renewal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from momento_tvm import Identity, verified_identity

from . import forms
from .limits import SignInLimiter
from .origins import SiteOrigins
from .pages import login_page, login_page_headers
from .sessions import (
    SESSION_CSRF,
    SESSION_ID,
    SESSION_USER,
    Sessions,
    csrf_matches,
    new_csrf_token,
    safe_next,
)
from .users import User, UserStore

__all__ = ["current_user_dependency", "json_error", "login_router"]

log = logging.getLogger("fastapi_chat")


def signed_in(request: Request, users: UserStore, sessions: Sessions) -> User | None:
    """The user of this request's session, if it is signed in, not signed out, and the user still exists."""
    name = request.session.get(SESSION_USER)
    if not isinstance(name, str) or not sessions.live(request.session.get(SESSION_ID)):
        return None
    return users.get(name)


def current_user_dependency(users: UserStore, sessions: Sessions) -> Callable[[Request], Identity | None]:
    """What `token_router` calls on each token request: the signed-in user and groups, or None (a 401)."""

    def current_user(request: Request) -> Identity | None:
        user = signed_in(request, users, sessions)
        return None if user is None else verified_identity(user.username, user.groups)

    return current_user


def from_this_site(request: Request, origins: SiteOrigins) -> bool:
    return origins.same_origin(request.headers.get("sec-fetch-site"), request.headers.get("origin"))


def client_address(request: Request) -> str:
    """Whom the per-client limit counts: the peer's address (behind a proxy: uvicorn's --proxy-headers and
    --forwarded-allow-ips make it the client's, not the proxy's)."""
    return request.client.host if request.client else "unknown"


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token (made on first use, before anyone signs in: login CSRF needs it too)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = request.session[SESSION_CSRF] = new_csrf_token()
    return token


def login_answer(
    request: Request,
    status: int,
    next_path: str,
    error: str | None = None,
    username: str = "",
    retry_after_seconds: int | None = None,
) -> HTMLResponse:
    page = login_page(csrf_token=csrf_token(request), next_path=next_path, error=error, username=username)
    return HTMLResponse(page, status, headers=login_page_headers(retry_after_seconds))


def json_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers={"Cache-Control": "no-store"})


async def read_form(request: Request) -> dict[str, str] | tuple[int, str]:
    """The posted form's fields (the first value of each), or (status, what is wrong). Bounded (forms.py): by its
    Content-Length before any of it is read, else as it streams."""
    problem = forms.check_head(request.headers.get("content-type"), request.headers.get("content-length"))
    if problem is not None:
        return problem
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > forms.MAX_FORM_BYTES:
            return forms.TOO_LARGE
    return forms.parse(bytes(body))


def login_router(users: UserStore, sessions: Sessions, origins: SiteOrigins, limiter: SignInLimiter) -> APIRouter:
    """GET /login (the form), POST /login (sign in, then go to `next`), POST /logout (204)."""
    router = APIRouter(tags=["sign-in"])

    @router.get("/login", response_class=HTMLResponse)
    def show_login(request: Request) -> HTMLResponse:
        return login_answer(request, 200, safe_next(request.query_params.get("next")))

    @router.post("/login", response_class=HTMLResponse)
    async def log_in(request: Request) -> Response:
        if not from_this_site(request, origins):
            log.warning("sign-in refused: a cross-site request")
            return login_answer(request, 403, "/", "This sign-in came from another site. Please sign in here.")
        form = await read_form(request)
        if isinstance(form, tuple):
            status, problem = form
            return login_answer(request, status, "/", problem)
        next_path = safe_next(form.get("next"))
        username, password = form.get("username", "").strip(), form.get("password", "")
        if not csrf_matches(form.get("csrf_token"), request.session.get(SESSION_CSRF)):
            log.warning("sign-in refused: no valid CSRF token")
            return login_answer(request, 403, next_path, "This sign-in form expired. Please try again.", username)
        if not username or not password:
            return login_answer(request, 400, next_path, "Enter your username and password.", username)
        refusal = limiter.admit(client_address(request), username)
        if refusal is not None:
            log.warning("sign-in refused: %s", refusal.reason)
            return login_answer(
                request, refusal.status, next_path, refusal.message, username, refusal.retry_after_seconds
            )
        user: User | None = None
        try:  # scrypt: off the event loop, at most limiter.limits.concurrent_checks at once
            user = await asyncio.to_thread(users.authenticate, username, password)
        finally:
            limiter.finish(username, succeeded=user is not None)
        if user is None:
            known = users.get(username) is not None  # log a name only if it is one (not a mistyped password)
            log.info("sign-in refused: %s", f"wrong password for {username}" if known else "unknown username")
            return login_answer(request, 401, next_path, "Wrong username or password.", username)
        request.session.clear()  # a new session: nothing from before signing in carries over
        request.session.update(
            {SESSION_USER: user.username, SESSION_ID: sessions.begin(), SESSION_CSRF: new_csrf_token()}
        )
        log.info("signed in: %s", user.username)
        return RedirectResponse(next_path, status_code=303)

    @router.post("/logout", status_code=204)
    def log_out(request: Request) -> Response:
        if not from_this_site(request, origins):
            log.warning("sign-out refused: a cross-site request")
            return json_error(403, "forbidden", "sign-out must come from this site's own pages")
        sid, name = request.session.get(SESSION_ID), request.session.get(SESSION_USER)
        if isinstance(sid, str):
            sessions.end(sid)
        request.session.clear()
        if isinstance(name, str):
            log.info("signed out: %s", name)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    return router
