"""The example chat app with Flask: the same site, sign-in and token route as examples/fastapi_chat, whose
framework-free parts it uses (`users`, `pages`, `sessions`, `origins`, `limits`, `forms`, `settings`, policy.yaml);
only the wiring is Flask's.

    app = create_app(MomentoSettings.from_env(), cache_name="chat", site_dir="static_site/dist",
                     origins=["https://chat.example.com"], session_secret=os.environ["SESSION_SECRET"],
                     https_only=True)

`flask --app "examples.flask_chat.app:app_from_env()" run --port 3100` runs it with the settings from the
environment (examples/fastapi_chat/settings.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, request, send_from_directory, session
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from examples.fastapi_chat import forms
from examples.fastapi_chat.limits import SignInLimiter
from examples.fastapi_chat.origins import HOST_NOT_ALLOWED, SiteOrigins
from examples.fastapi_chat.pages import (
    API_PREFIX,
    ERROR_CODES,
    SECURITY_HEADERS,
    config_js,
    login_page,
    login_page_headers,
    site_csp,
)
from examples.fastapi_chat.sessions import (
    SESSION_CSRF,
    SESSION_ID,
    SESSION_USER,
    Sessions,
    csrf_matches,
    new_csrf_token,
    safe_next,
)
from examples.fastapi_chat.settings import POLICY_FILE, checked_start, settings_from_env
from examples.fastapi_chat.users import DEMO_USERS, User, UserStore
from momento_tvm import Identity, MomentoSettings, VendingMachine, verified_identity
from momento_tvm.flask import token_blueprint

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger("flask_chat")


def create_app(
    momento: MomentoSettings,
    *,
    cache_name: str,
    site_dir: str | Path,
    origins: str | Iterable[str],
    policy: str | Path = POLICY_FILE,
    session_secret: str | None = None,
    users: UserStore = DEMO_USERS,
    momento_web_url: str | None = None,
    token_ttl_seconds: int | None = None,
    https_only: bool = False,
    session_max_age_seconds: int = 8 * 3600,
    sign_in_limiter: SignInLimiter | None = None,
) -> Flask:
    """The same arguments as examples/fastapi_chat's `create_app`."""
    site, session_secret = checked_start(site_dir, token_ttl_seconds, session_secret, log)
    site_origins = SiteOrigins(origins)
    limiter = sign_in_limiter or SignInLimiter()
    machine = VendingMachine(policy, momento, cache_name=cache_name)
    sessions = Sessions(session_max_age_seconds)
    settings_js = config_js(momento_web_url=momento_web_url, token_ttl_seconds=token_ttl_seconds)
    csp = site_csp(momento, momento_web_url)

    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=session_secret,  # Flask's session: a cookie signed with itsdangerous, as Starlette's
        SESSION_COOKIE_NAME="chat_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https_only,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=session_max_age_seconds),
    )

    def current_user() -> Identity | None:
        """The signed-in user and groups (the store's, read now), or None: the token routes answer 401."""
        name = session.get(SESSION_USER)
        if not isinstance(name, str) or not sessions.live(session.get(SESSION_ID)):
            return None
        user = users.get(name)
        return None if user is None else verified_identity(user.username, user.groups)

    def from_this_site() -> bool:
        return site_origins.same_origin(request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin"))

    def login_answer(
        status: int,
        next_path: str,
        error: str | None = None,
        username: str = "",
        retry_after_seconds: int | None = None,
    ) -> Response:
        token = session.get(SESSION_CSRF)
        if not isinstance(token, str):
            token = session[SESSION_CSRF] = new_csrf_token()
        page = login_page(csrf_token=token, next_path=next_path, error=error, username=username)
        return Response(page, status, headers=login_page_headers(retry_after_seconds), mimetype="text/html")

    @app.before_request
    def own_host_only() -> ResponseReturnValue | None:
        """A 403 JSON for a request addressed to another name than the app's origins (a DNS-rebinding page's)."""
        if site_origins.serves_host(request.headers.get("Host")):
            return None
        log.warning("request refused: addressed to a host that is not one of APP_ORIGINS")
        return _error(403, HOST_NOT_ALLOWED, site_origins.host_refusal())

    def read_form() -> dict[str, str] | tuple[int, str]:
        """The posted form, or (status, what is wrong): bounded by its Content-Length before any of it is read, else
        read at most one byte past the limit (forms.py). Not `request.form`: Werkzeug reads a urlencoded body whole."""
        problem = forms.check_head(request.headers.get("Content-Type"), request.headers.get("Content-Length"))
        if problem is not None:
            return problem
        body = bytearray()
        while len(body) <= forms.MAX_FORM_BYTES and (
            chunk := request.stream.read(forms.MAX_FORM_BYTES + 1 - len(body))
        ):
            body += chunk
        return forms.parse(bytes(body))

    @app.get("/login")
    def show_login() -> Response:
        return login_answer(200, safe_next(request.args.get("next")))

    @app.post("/login")
    def log_in() -> ResponseReturnValue:
        if not from_this_site():
            log.warning("sign-in refused: a cross-site request")
            return login_answer(403, "/", "This sign-in came from another site. Please sign in here.")
        form = read_form()
        if isinstance(form, tuple):
            status, problem = form
            return login_answer(status, "/", problem)
        next_path = safe_next(form.get("next"))
        username, password = form.get("username", "").strip(), form.get("password", "")
        if not csrf_matches(form.get("csrf_token"), session.get(SESSION_CSRF)):
            log.warning("sign-in refused: no valid CSRF token")
            return login_answer(403, next_path, "This sign-in form expired. Please try again.", username)
        if not username or not password:
            return login_answer(400, next_path, "Enter your username and password.", username)
        refusal = limiter.admit(request.remote_addr or "unknown", username)  # behind a proxy: werkzeug's ProxyFix
        if refusal is not None:
            log.warning("sign-in refused: %s", refusal.reason)
            return login_answer(refusal.status, next_path, refusal.message, username, refusal.retry_after_seconds)
        user: User | None = None
        try:
            user = users.authenticate(username, password)
        finally:
            limiter.finish(username, succeeded=user is not None)
        if user is None:
            known = users.get(username) is not None
            log.info("sign-in refused: %s", f"wrong password for {username}" if known else "unknown username")
            return login_answer(401, next_path, "Wrong username or password.", username)
        session.clear()  # a new session: nothing from before signing in carries over
        session.update({SESSION_USER: user.username, SESSION_ID: sessions.begin(), SESSION_CSRF: new_csrf_token()})
        session.permanent = True  # the cookie's Max-Age: PERMANENT_SESSION_LIFETIME
        log.info("signed in: %s", user.username)
        return redirect(next_path, 303)

    @app.post("/logout")
    def log_out() -> Response | tuple[dict[str, Any], int]:
        if not from_this_site():
            log.warning("sign-out refused: a cross-site request")
            return _error(403, "forbidden", "sign-out must come from this site's own pages")
        sid, name = session.get(SESSION_ID), session.get(SESSION_USER)
        if isinstance(sid, str):
            sessions.end(sid)
        session.clear()
        if isinstance(name, str):
            log.info("signed out: %s", name)
        return Response(status=204, headers={"Cache-Control": "no-store"})

    @app.get("/config.js")
    def site_config() -> Response:
        return Response(settings_js, mimetype="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get("/", defaults={"path": "index.html"})
    @app.get("/<path:path>")
    def site_file(path: str) -> Response:
        return send_from_directory(site, path)  # safe_join: nothing outside the site's folder

    app.register_blueprint(token_blueprint(machine, current_user, url_prefix=f"{API_PREFIX}/token"))

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Content-Security-Policy", csp)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[dict[str, Any], int]:
        status = error.code or 500
        return _error(status, ERROR_CODES.get(status, "http_error"), error.name)

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> tuple[dict[str, Any], int]:
        log.error("unexpected error in %s %s: %s", request.method, request.path, type(error).__name__)
        return _error(500, "internal_error", "internal error")

    return app


def _error(status: int, code: str, message: str) -> tuple[dict[str, Any], int]:
    return {"error": {"code": code, "message": message}}, status


def app_from_env() -> Flask:
    """The app configured by environment variables (examples/fastapi_chat/settings.py)."""
    return create_app(**settings_from_env())
