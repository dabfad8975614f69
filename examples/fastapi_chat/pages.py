"""The app's own HTML: the sign-in page. Plain HTML with no script, every value escaped, one inline stylesheet
allowed by its hash in the page's Content-Security-Policy (so the policy needs no 'unsafe-inline')."""

from __future__ import annotations

import base64
import hashlib
from html import escape

__all__ = ["LOGIN_PAGE_CSP", "login_page"]

_STYLE = """
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; }
main { width: min(22rem, 90vw); }
h1 { font-size: 1.4rem; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input { box-sizing: border-box; width: 100%; margin-top: 0.3rem; padding: 0.5rem; font: inherit; }
button { margin-top: 1.2rem; padding: 0.5rem 1.2rem; font: inherit; }
.error { margin: 1rem 0 0; padding: 0.6rem; border: 2px solid #b00020; border-radius: 4px; }
"""

_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode("ascii")

# Forms may post only here; nothing else loads, and no other site may frame the page.
LOGIN_PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def login_page(*, csrf_token: str, next_path: str, error: str | None = None, username: str = "") -> str:
    """The sign-in form. `next_path` (already checked to be a path of this site) goes back with the form."""
    invalid = ' aria-invalid="true" aria-describedby="login-error"' if error else ""
    alert = f'<p id="login-error" class="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>Sign in - Momento chat</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>Sign in to the chat</h1>
{alert}
<form method="post" action="/login" novalidate>
<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">
<input type="hidden" name="next" value="{escape(next_path)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false"
 maxlength="64" required value="{escape(username)}"{invalid}{"" if username else " autofocus"}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024"
 required{invalid}{" autofocus" if username else ""}>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
"""
