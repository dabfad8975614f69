"""The static site on its own origin, as CloudFront serves it in production, plus a generated `/config.js`.

What is served: `static_site/dist/` (the built site) if it exists, else `static_site/` if it has an `index.html`,
else the placeholder page in this package. `/config.js` and the Content-Security-Policy in the root `index.html` come
from `site_tools`, the code the deploy-time publisher uses, so the site runs under the same settings locally and on
CloudFront: `window.TVM_CONFIG = {apiUrl, authMethod, momentoEndpointOverride}`.
"""

from __future__ import annotations

import errno
import mimetypes
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from site_tools import SiteConfig, inject_csp, render_config_js

from .config import PortSetting
from .ports import port_taken

__all__ = ["PLACEHOLDER_DIR", "SiteServer", "site_directory"]

PLACEHOLDER_DIR: Final = Path(__file__).parent / "placeholder"

# What CloudFront's Managed-SecurityHeadersPolicy adds in production (minus HSTS, which means nothing over http).
_SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")


def site_directory(root: Path) -> tuple[Path, str]:
    """(directory to serve, what it is: "built site" | "site sources" | "placeholder")."""
    dist = root / "static_site" / "dist"
    if dist.is_dir():
        return dist, "built site"
    source = root / "static_site"
    if (source / "index.html").is_file():
        return source, "site sources"
    return PLACEHOLDER_DIR, "placeholder"


class SiteServer:
    """aiohttp serving one directory and `/config.js` on host:port (0 = a free port)."""

    def __init__(
        self,
        directory: Path,
        host: str,
        port: int,
        *,
        variable: str = "SITE_PORT",
        configured: Iterable[PortSetting] = (),
    ) -> None:
        """`configured`: the stack's port settings, so that a taken port's hint offers none of the others."""
        self.directory = directory.resolve()
        self.host = host
        self.requested_port = port
        self.variable = variable
        self.configured = tuple(configured)
        self.config: SiteConfig | None = None  # set once the API is up; 503 for /config.js until then
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def origins(self) -> tuple[str, ...]:
        """The origins a browser may load the site from (both names of the loopback address)."""
        return (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}")

    async def start(self) -> int:
        app = web.Application(middlewares=[_security_headers])
        app.router.add_route("GET", "/config.js", self._config_js)
        app.router.add_route("GET", "/{path:.*}", self._static)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            self._runner = None
            if error.errno == errno.EADDRINUSE:
                raise port_taken(self.requested_port, self.variable, self.configured, self.host) from None
            raise
        server = site._server  # aiohttp exposes no public accessor for the bound port
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _config_js(self, request: web.Request) -> web.StreamResponse:
        if self.config is None:
            return web.Response(status=503, text="// the local API is still starting\n", content_type="text/javascript")
        return web.Response(
            text=render_config_js(self.config),
            content_type="text/javascript",
            charset="utf-8",
            headers={"Cache-Control": "no-store"},
        )

    async def _static(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["path"]
        if "\x00" in relative or "\\" in relative or relative.startswith("/"):
            raise web.HTTPNotFound()
        target = (self.directory / relative).resolve()
        if not target.is_relative_to(self.directory):
            raise web.HTTPNotFound()
        if target.is_dir():
            if relative and not relative.endswith("/"):
                raise web.HTTPMovedPermanently(f"/{relative}/")
            target = target / "index.html"
        if not target.is_file():
            raise web.HTTPNotFound()
        if target == self.directory / "index.html" and self.config is not None:
            # As the publisher does: the page may talk to exactly this API and this Momento endpoint.
            text = inject_csp(target.read_text(encoding="utf-8"), self.config)
            return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-cache"})
        return web.FileResponse(target, headers={"Cache-Control": "no-cache"})


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as error:
        error.headers.update(_SECURITY_HEADERS)
        raise
    response.headers.update(_SECURITY_HEADERS)
    return response
