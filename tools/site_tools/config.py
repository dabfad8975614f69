"""`config.js` and the Content-Security-Policy for the static site.

The site reads its runtime settings from `window.TVM_CONFIG` (never build-time secrets). The CSP lets the page talk
to exactly the TVM API and Momento: it is written into `index.html` as a `<meta>` tag when the site is served
locally or published, because only then are the API URL and the Momento endpoint known (a CloudFront response
headers policy cannot name the API without a dependency cycle: the API's CORS names the distribution).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["SiteConfig", "content_security_policy", "inject_csp", "render_config_js"]

_META = re.compile(r"\s*<meta http-equiv=\"Content-Security-Policy\"[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class SiteConfig:
    api_url: str
    auth_method: str
    momento_endpoint: str | None = None  # the Momento endpoint (production: the web SDK uses https://web.cache.E)
    momento_endpoint_override: str | None = None  # a full URL, local emulator only (grpc-web port)

    def to_json(self) -> dict[str, str]:
        out = {"apiUrl": self.api_url.rstrip("/"), "authMethod": self.auth_method}
        if self.momento_endpoint_override:
            out["momentoEndpointOverride"] = self.momento_endpoint_override.rstrip("/")
        return out


def render_config_js(config: SiteConfig) -> str:
    """The `config.js` the site loads before its bundle. JSON-encoded, with `<` escaped so it cannot end a script."""
    payload = json.dumps(config.to_json(), indent=2, sort_keys=True).replace("<", "\\u003c")
    return f"// Generated: runtime settings for the chat site. Do not edit by hand.\nwindow.TVM_CONFIG = {payload};\n"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(config: SiteConfig) -> str:
    """Scripts, styles and images from the site itself; network calls only to the API and Momento."""
    connect = [_origin(config.api_url)]
    if config.momento_endpoint_override:
        connect.append(_origin(config.momento_endpoint_override))
    elif config.momento_endpoint:
        host = config.momento_endpoint.split(":")[0]
        connect.append(f"https://*.{host}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )


def inject_csp(index_html: str, config: SiteConfig) -> str:
    """`index.html` with its CSP meta tag (replacing any earlier one) placed first in <head>."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{html.escape(content_security_policy(config))}">'
    cleaned = _META.sub("", index_html)
    head = re.search(r"<head[^>]*>", cleaned, re.IGNORECASE)
    if head is None:
        raise ValueError("index.html has no <head>")
    return f"{cleaned[: head.end()]}\n    {meta}{cleaned[head.end() :]}"
