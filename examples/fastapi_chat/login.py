"""The app's own sign-in: a session cookie, the sign-in form, sign-out, and `current_user` for the token route.

- The session is Starlette's `SessionMiddleware` cookie (signed with itsdangerous, `HttpOnly`, `SameSite=Lax`). It
  holds the username, a session id and the form's CSRF token: never a password, never a Momento token.
- A signed cookie cannot be taken back, so sign-out also forgets the session's id here: a copy of the cookie kept
  from before is refused. (In memory: one process. With several workers, keep the ids in your shared store.)
- `POST /login` needs the CSRF token of this browser's session and a same-origin request (`Sec-Fetch-Site`, else
  `Origin`); `POST /logout` (the chat site's sign-out, a same-origin `fetch`) the same-origin check.
- The user's groups are read from the user store on every token request, not from the cookie: a change of groups
  applies at the next token renewal.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from momento_tvm import Identity, verified_identity

from .pages import LOGIN_PAGE_CSP, login_page
from .users import User, UserStore

__all__ = ["Sessions", "current_user_dependency", "login_router", "safe_next", "same_origin"]

log = logging.getLogger("fastapi_chat")

SESSION_USER, SESSION_ID, SESSION_CSRF = "user", "sid", "csrf"
MAX_FORM_BYTES = 4096  # the sign-in form is a few hundred bytes
FORM_TYPE = "application/x-www-form-urlencoded"


class Sessions:
    """The ids of the sessions signed in and not signed out yet, each until its cookie's max age."""

    def __init__(self, max_age_seconds: int) -> None:
        self.max_age_seconds = max_age_seconds
        self._until: dict[str, float] = {}

    def begin(self) -> str:
        now = time.monotonic()
        self._until = {sid: until for sid, until in self._until.items() if until > now}
        sid = secrets.token_urlsafe(16)
        self._until[sid] = now + self.max_age_seconds
        return sid

    def end(self, sid: str) -> None:
        self._until.pop(sid, None)

    def live(self, sid: str) -> bool:
        return self._until.get(sid, 0.0) > time.monotonic()


def signed_in(request: Request, users: UserStore, sessions: Sessions) -> User | None:
    """The user of this request's session, if it is signed in, not signed out, and the user still exists."""
    name, sid = request.session.get(SESSION_USER), request.session.get(SESSION_ID)
    if not isinstance(name, str) or not isinstance(sid, str) or not sessions.live(sid):
        return None
    return users.get(name)


def current_user_dependency(users: UserStore, sessions: Sessions) -> Callable[[Request], Identity | None]:
    """What `token_router` calls on each token request: the signed-in user and groups, or None (a 401)."""

    def current_user(request: Request) -> Identity | None:
        user = signed_in(request, users, sessions)
        return None if user is None else verified_identity(user.username, user.groups)

    return current_user


def own_origin(request: Request) -> str:
    """This app's origin as the browser sees it (behind a proxy: run uvicorn with --proxy-headers)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def same_origin(request: Request) -> bool:
    """False for a request another site's page made. `Sec-Fetch-Site` (set by the browser, out of reach of page
    scripts) decides when present; else `Origin`, which must be ours. A request with neither header comes from no
    browser page (curl, a test client), so there is no other site to fear. `Origin: null` (what a form posted from a
    page with `Referrer-Policy: no-referrer` carries) passes only with `Sec-Fetch-Site: same-origin`."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None and site != "same-origin":
        return False
    if origin is not None and origin != own_origin(request):
        return origin == "null" and site == "same-origin"
    return True


def safe_next(value: object) -> str:
    """Where to go after signing in: a path of this site, else "/". Refuses `//evil.example`, `/\\evil.example`,
    `https://evil.example` and anything with control characters (all of which a browser may take elsewhere)."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 2048:
        return "/"
    if value.startswith(("//", "/\\")) or any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token (made on first use, before anyone signs in: login CSRF needs it too)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def login_answer(
    request: Request, status: int, next_path: str, error: str | None = None, username: str = ""
) -> HTMLResponse:
    page = login_page(csrf_token=csrf_token(request), next_path=next_path, error=error, username=username)
    return HTMLResponse(page, status, headers={"Content-Security-Policy": LOGIN_PAGE_CSP, "Cache-Control": "no-store"})


def json_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers={"Cache-Control": "no-store"})


async def read_form(request: Request) -> dict[str, str] | tuple[int, str]:
    """The posted form's fields (the first value of each), or (status, what is wrong). Bounded: the body is read
    up to MAX_FORM_BYTES, whatever Content-Length says."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        return 415, "The sign-in form must be sent as a form (application/x-www-form-urlencoded)."
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return 413, "The sign-in form was too large."
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return 400, "The sign-in form could not be read."
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def login_router(users: UserStore, sessions: Sessions) -> APIRouter:
    """GET /login (the form), POST /login (sign in, then go to `next`), POST /logout (204)."""
    router = APIRouter(tags=["sign-in"])

    @router.get("/login", response_class=HTMLResponse)
    def show_login(request: Request) -> HTMLResponse:
        return login_answer(request, 200, safe_next(request.query_params.get("next")))

    @router.post("/login", response_class=HTMLResponse)
    async def log_in(request: Request) -> Response:
        if not same_origin(request):
            log.warning("sign-in refused: a cross-site request")
            return login_answer(request, 403, "/", "This sign-in came from another site. Please sign in here.")
        form = await read_form(request)
        if isinstance(form, tuple):
            status, problem = form
            return login_answer(request, status, "/", problem)
        next_path = safe_next(form.get("next"))
        username, password = form.get("username", "").strip(), form.get("password", "")
        expected = request.session.get(SESSION_CSRF)
        sent = form.get("csrf_token", "")
        if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            log.warning("sign-in refused: no valid CSRF token")
            return login_answer(request, 403, next_path, "This sign-in form expired. Please try again.", username)
        if not username or not password:
            return login_answer(request, 400, next_path, "Enter your username and password.", username)
        user = await asyncio.to_thread(users.authenticate, username, password)  # scrypt: off the event loop
        if user is None:
            known = users.get(username) is not None  # log a name only if it is one (not a mistyped password)
            log.info("sign-in refused: %s", f"wrong password for {username}" if known else "unknown username")
            return login_answer(request, 401, next_path, "Wrong username or password.", username)
        request.session.clear()  # a new session: nothing from before signing in carries over
        request.session.update(
            {SESSION_USER: user.username, SESSION_ID: sessions.begin(), SESSION_CSRF: secrets.token_urlsafe(32)}
        )
        log.info("signed in: %s", user.username)
        return RedirectResponse(next_path, status_code=303)

    @router.post("/logout", status_code=204)
    def log_out(request: Request) -> Response:
        if not same_origin(request):
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
