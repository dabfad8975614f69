"""The sign-in rules that need no web framework: what a session holds, which sessions are live, where a sign-in may
lead (which requests come from this site: origins.py; how many attempts: limits.py). `login.py` applies them to
FastAPI's requests (and the Flask example, examples/flask_chat, to Flask's)."""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import urlsplit

__all__ = ["SESSION_CSRF", "SESSION_ID", "SESSION_USER", "Sessions", "csrf_matches", "new_csrf_token", "safe_next"]

# The session cookie's keys: the username, this sign-in's id, the sign-in form's CSRF token. Nothing secret: the
# cookie is signed, not encrypted.
SESSION_USER, SESSION_ID, SESSION_CSRF = "user", "sid", "csrf"


class Sessions:
    """The ids of the sessions signed in and not signed out yet, each until its cookie's max age.

    A signed cookie cannot be taken back, so sign-out forgets its id here: a copy of the cookie kept from before is
    refused. In memory: one process. With several workers, keep the ids in your shared store."""

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

    def live(self, sid: object) -> bool:
        return isinstance(sid, str) and self._until.get(sid, 0.0) > time.monotonic()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(sent: object, expected: object) -> bool:
    """The form's token is this session's, compared in constant time."""
    if not isinstance(sent, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


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
