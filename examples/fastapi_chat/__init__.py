"""A chat app with its own login that vends Momento tokens from its own route: the Python analogue of Momento's
Next.js chat example. See README.md; `create_app` is in app.py."""

from .app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
