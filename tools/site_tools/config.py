"""`config.js` and the Content-Security-Policy for the static site.

The site reads its runtime settings from `window.TVM_CONFIG` (never build-time secrets). The CSP lets the page talk
to exactly the TVM API, Momento and, in AmazonCognito mode, the Cognito IdP API (AWS's regional endpoint, or the
local moto): it is written into `index.html` as a `<meta>` tag when the site is served
locally or published, because only then are the API URL and the Momento endpoint known (a CloudFront response
headers policy cannot name the API without a dependency cycle: the API's CORS names the distribution).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["SiteCognito", "SiteConfig", "content_security_policy", "inject_csp", "render_config_js"]

_META = re.compile(r"\s*<meta http-equiv=\"Content-Security-Policy\"[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class SiteCognito:
    """The user pool the site signs in to (AmazonCognito mode). No secret: the app client has none."""

    region: str
    user_pool_id: str
    client_id: str
    endpoint: str | None = None  # a full URL of the Cognito IdP API, local moto only; None: AWS's for the region

    @property
    def api_origin(self) -> str:
        """Where the site's Cognito client sends its requests: the endpoint given, else AWS's regional one."""
        return _origin(self.endpoint) if self.endpoint else f"https://cognito-idp.{self.region}.amazonaws.com"

    def to_json(self) -> dict[str, str]:
        out = {"region": self.region, "userPoolId": self.user_pool_id, "clientId": self.client_id}
        if self.endpoint:
            out["endpoint"] = self.endpoint.rstrip("/")
        return out


@dataclass(frozen=True)
class SiteConfig:
    api_url: str
    auth_method: str
    momento_endpoint: str | None = None  # the Momento endpoint (production: the web SDK uses https://web.cache.E)
    momento_endpoint_override: str | None = None  # a full URL, local emulator only (grpc-web port)
    cognito: SiteCognito | None = None  # AmazonCognito mode only
    # The token lifetime the site asks for (its `ttlSeconds`); None: each tier's own. `make dev` sets it from
    # TOKEN_TTL_SECONDS so that renewals can be watched; a published site leaves it to the policy.
    token_ttl_seconds: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"apiUrl": self.api_url.rstrip("/"), "authMethod": self.auth_method}
        if self.momento_endpoint_override:
            out["momentoEndpointOverride"] = self.momento_endpoint_override.rstrip("/")
        if self.cognito is not None:
            out["cognito"] = self.cognito.to_json()
        if self.token_ttl_seconds is not None:
            out["tokenTtlSeconds"] = self.token_ttl_seconds
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
    """Scripts, styles and images from the site itself; network calls only to the API, Momento and Cognito."""
    connect = [_origin(config.api_url)]
    if config.momento_endpoint_override:
        connect.append(_origin(config.momento_endpoint_override))
    elif config.momento_endpoint:
        host = config.momento_endpoint.split(":")[0]
        connect.append(f"https://*.{host}")
    if config.cognito is not None and config.cognito.api_origin not in connect:
        connect.append(config.cognito.api_origin)
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
