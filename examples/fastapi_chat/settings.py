"""The app's settings from environment variables, for `app_from_env()` (FastAPI here, and the Flask example's):

- MOMENTO_API_KEY and MOMENTO_ENDPOINT: real Momento; else the local emulator at MOMENTO_GRPC_PORT (8080) with
  its grpc-web port MOMENTO_WEB_PORT (8081) on 127.0.0.1;
- CACHE_NAME (chat), SITE_DIR (the repository's static_site/dist), POLICY_FILE (policy.yaml here);
- APP_ORIGINS: the origins the app is served at, comma-separated (else http://127.0.0.1:3100 and
  http://localhost:3100, the README's port): the only `Host` it answers and `Origin` it takes a sign-in from;
- SESSION_SECRET (else a random key per process), HTTPS_ONLY=1 for a `Secure` cookie, TOKEN_TTL_SECONDS.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

from momento_tvm import MomentoSettings

from .origins import DEFAULT_ORIGINS, parse_origins

__all__ = ["POLICY_FILE", "SITE_DIR", "AppSettings", "checked_start", "settings_from_env"]

HERE = Path(__file__).resolve().parent
POLICY_FILE = HERE / "policy.yaml"
SITE_DIR = HERE.parents[1] / "static_site" / "dist"  # built by `make install-site`


class AppSettings(TypedDict):
    """`create_app`'s arguments (`create_app(**settings_from_env())`)."""

    momento: MomentoSettings
    cache_name: str
    site_dir: str | Path
    origins: tuple[str, ...]
    policy: str | Path
    session_secret: str | None
    momento_web_url: str | None
    token_ttl_seconds: int | None
    https_only: bool


def settings_from_env(environ: Mapping[str, str] | None = None) -> AppSettings:
    env = os.environ if environ is None else environ
    if env.get("MOMENTO_API_KEY"):
        momento, web_url = MomentoSettings.from_env(env), None
    else:
        momento = MomentoSettings.emulator(int(env.get("MOMENTO_GRPC_PORT") or 8080))
        web_url = f"http://127.0.0.1:{int(env.get('MOMENTO_WEB_PORT') or 8081)}"
    ttl = env.get("TOKEN_TTL_SECONDS", "").strip()
    return AppSettings(
        momento=momento,
        cache_name=env.get("CACHE_NAME") or "chat",
        site_dir=env.get("SITE_DIR") or SITE_DIR,
        origins=parse_origins(env.get("APP_ORIGINS", "").strip() or DEFAULT_ORIGINS),
        policy=env.get("POLICY_FILE") or POLICY_FILE,
        session_secret=env.get("SESSION_SECRET") or None,
        momento_web_url=web_url,
        token_ttl_seconds=int(ttl) if ttl else None,
        https_only=env.get("HTTPS_ONLY", "").lower() in ("1", "true", "yes"),
    )


def checked_start(
    site_dir: str | Path, token_ttl_seconds: int | None, session_secret: str | None, log: logging.Logger
) -> tuple[Path, str]:
    """What both examples' `create_app` check first: (the built site's folder, the session key). A missing secret
    is a random key for this process (every restart signs everyone out), said in a log line."""
    site = Path(site_dir).resolve()
    if not (site / "index.html").is_file():
        raise ValueError(f"{site} holds no index.html: build the chat site first (make install-site)")
    if token_ttl_seconds is not None and not 10 <= token_ttl_seconds <= 86_400:
        raise ValueError("token_ttl_seconds must be between 10 and 86400")
    if not session_secret:
        log.warning("no session secret set: session cookies are signed with a random key that ends with this process")
        session_secret = secrets.token_urlsafe(32)
    return site, session_secret
