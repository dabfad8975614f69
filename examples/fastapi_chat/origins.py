"""Where this app is served, from its configuration (`APP_ORIGINS`), never from the request. No web framework in here.

The `Host` header only says which name the browser used. A DNS-rebinding page (evil.example, made to resolve to
127.0.0.1) sends `Host: evil.example:3100`, and its own requests are "same-origin" to the browser, with `Origin:
http://evil.example:3100`; an app that took its origin from `Host` would find them all its own. So the app is told
its origins, answers only requests addressed to one of them (`serves_host`), and takes a state-changing request
only from a page of one of them (`same_origin`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["DEFAULT_ORIGINS", "HOST_NOT_ALLOWED", "SiteOrigins", "parse_origins"]

# What `app_from_env` serves without APP_ORIGINS: the README's `--port 3100`, by either local name.
DEFAULT_ORIGINS = ("http://127.0.0.1:3100", "http://localhost:3100")
HOST_NOT_ALLOWED = "host_not_allowed"  # the JSON error code of a request addressed to another name (403)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origins(raw: str | Iterable[str]) -> tuple[str, ...]:
    """`http(s)://host[:port]` origins (a comma-separated string, or each one), in the form a browser's `Origin`
    header has them: lowercase, no default port, no trailing slash. Anything else (a path, a wildcard, a query, a
    user, another scheme) is a ValueError: an origin allowed by mistake would let another site in."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    origins: list[str] = []
    for item in (text.strip() for text in items):
        if not item:
            continue
        origin = _origin(item)
        if origin is None:
            raise ValueError(f"APP_ORIGINS: {item!r} is not an origin: give http(s)://host[:port], comma-separated")
        if origin not in origins:
            origins.append(origin)
    if not origins:
        raise ValueError("APP_ORIGINS: give at least one origin the app is served at, e.g. https://chat.example.com")
    return tuple(origins)


def _origin(text: str) -> str | None:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    host = parts.hostname
    if parts.scheme not in _DEFAULT_PORTS or not host or "*" in host or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        return None
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return (
        f"{parts.scheme}://{host}"
        if port in (None, _DEFAULT_PORTS[parts.scheme])
        else f"{parts.scheme}://{host}:{port}"
    )


class SiteOrigins:
    """The origins this app is served at (`parse_origins`), and the checks made with them."""

    def __init__(self, origins: str | Iterable[str]) -> None:
        self.origins = parse_origins(origins)
        hosts: set[str] = set()
        for origin in self.origins:
            scheme, netloc = origin.split("://")
            hosts.add(netloc)
            if ":" not in netloc.rsplit("]", 1)[-1]:  # no port: the browser may still name the default one
                hosts.add(f"{netloc}:{_DEFAULT_PORTS[scheme]}")
        self._hosts = frozenset(hosts)

    def serves_host(self, host: str | None) -> bool:
        """The request's `Host` names one of the origins (a browser sends it; a page cannot change it)."""
        return host is not None and host.strip().lower() in self._hosts

    def same_origin(self, sec_fetch_site: str | None, origin: str | None) -> bool:
        """False for a request another site's page made. `Sec-Fetch-Site` (set by the browser, out of reach of page
        scripts) decides when present; else `Origin`, which must be one of ours. A request with neither header
        comes from no browser page (curl, a test client), so there is no other site to fear. `Origin: null` (what a
        form posted from a page with `Referrer-Policy: no-referrer` carries) passes only with `Sec-Fetch-Site:
        same-origin`: the `Host` check (`serves_host`) is what then tells that the page was ours."""
        if sec_fetch_site is not None and sec_fetch_site != "same-origin":
            return False
        if origin is not None and origin not in self.origins:
            return origin == "null" and sec_fetch_site == "same-origin"
        return True

    def host_refusal(self) -> str:
        """The message of the 403 for a request addressed to another name."""
        return f"this app answers only at {' and '.join(self.origins)} (its APP_ORIGINS setting)"
