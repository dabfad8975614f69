"""The example chat app with Flask: the same site, sign-in and token route as examples/fastapi_chat, whose
framework-free parts it uses (`users`, `pages`, `sessions`, `settings`, policy.yaml); only the wiring is Flask's.

    app = create_app(MomentoSettings.from_env(), cache_name="chat", site_dir="static_site/dist",
                     session_secret=os.environ["SESSION_SECRET"], https_only=True)

`flask --app "examples.flask_chat.app:app_from_env()" run --port 3100` runs it with the settings from the
environment (examples/fastapi_chat/settings.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, request, send_from_directory, session
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from examples.fastapi_chat.pages import (
    API_PREFIX,
    ERROR_CODES,
    LOGIN_PAGE_CSP,
    SECURITY_HEADERS,
    config_js,
    login_page,
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
    same_origin,
)
from examples.fastapi_chat.settings import POLICY_FILE, checked_start, settings_from_env
from examples.fastapi_chat.users import DEMO_USERS, UserStore
from momento_tvm import Identity, MomentoSettings, VendingMachine, verified_identity
from momento_tvm.flask import token_blueprint

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger("flask_chat")


def create_app(
    momento: MomentoSettings,
    *,
    cache_name: str,
    site_dir: str | Path,
    policy: str | Path = POLICY_FILE,
    session_secret: str | None = None,
    users: UserStore = DEMO_USERS,
    momento_web_url: str | None = None,
    token_ttl_seconds: int | None = None,
    https_only: bool = False,
    session_max_age_seconds: int = 8 * 3600,
) -> Flask:
    """The same arguments as examples/fastapi_chat's `create_app`."""
    site, session_secret = checked_start(site_dir, token_ttl_seconds, session_secret, log)
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
        MAX_FORM_MEMORY_SIZE=4096,  # the sign-in form is a few hundred bytes
    )

    def current_user() -> Identity | None:
        """The signed-in user and groups (the store's, read now), or None: the token routes answer 401."""
        name = session.get(SESSION_USER)
        if not isinstance(name, str) or not sessions.live(session.get(SESSION_ID)):
            return None
        user = users.get(name)
        return None if user is None else verified_identity(user.username, user.groups)

    def from_this_site() -> bool:
        return same_origin(request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin"), request.host_url[:-1])

    def login_answer(status: int, next_path: str, error: str | None = None, username: str = "") -> Response:
        token = session.get(SESSION_CSRF)
        if not isinstance(token, str):
            token = session[SESSION_CSRF] = new_csrf_token()
        page = login_page(csrf_token=token, next_path=next_path, error=error, username=username)
        headers = {"Content-Security-Policy": LOGIN_PAGE_CSP, "Cache-Control": "no-store"}
        return Response(page, status, headers=headers, mimetype="text/html")

    @app.get("/login")
    def show_login() -> Response:
        return login_answer(200, safe_next(request.args.get("next")))

    @app.post("/login")
    def log_in() -> ResponseReturnValue:
        if not from_this_site():
            log.warning("sign-in refused: a cross-site request")
            return login_answer(403, "/", "This sign-in came from another site. Please sign in here.")
        if request.mimetype != "application/x-www-form-urlencoded":
            return login_answer(415, "/", "The sign-in form must be sent as a form.")
        try:
            form = request.form
        except RequestEntityTooLarge:
            return login_answer(413, "/", "The sign-in form was too large.")
        next_path = safe_next(form.get("next"))
        username, password = form.get("username", "").strip(), form.get("password", "")
        if not csrf_matches(form.get("csrf_token"), session.get(SESSION_CSRF)):
            log.warning("sign-in refused: no valid CSRF token")
            return login_answer(403, next_path, "This sign-in form expired. Please try again.", username)
        if not username or not password:
            return login_answer(400, next_path, "Enter your username and password.", username)
        user = users.authenticate(username, password)
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
