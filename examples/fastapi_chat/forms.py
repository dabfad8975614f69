"""The sign-in form's body, bounded and parsed, with no web framework: `login.py` (FastAPI, streamed) and the Flask
app read the body their own way between `check_head` and `parse`.

Neither framework bounds it for us: Starlette reads whatever it is sent, and Werkzeug reads a urlencoded body whole
(`MAX_FORM_MEMORY_SIZE` does not apply to it) or, given a maximum, silently cuts a chunked one short.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

__all__ = ["MAX_FORM_BYTES", "TOO_LARGE", "check_head", "parse"]

MAX_FORM_BYTES = 4096  # the sign-in form is a few hundred bytes
FORM_TYPE = "application/x-www-form-urlencoded"
TOO_LARGE = (413, "The sign-in form was too large.")  # (status, what the sign-in page says)


def check_head(content_type: str | None, content_length: str | None) -> tuple[int, str] | None:
    """What is wrong with the body from its headers alone, before any of it is read: not a form (415), or a
    Content-Length over MAX_FORM_BYTES (413: a 50 MB body is refused, not read). None: read it, at most
    MAX_FORM_BYTES + 1 bytes (a body with no Content-Length, chunked, is refused once it streams past the limit)."""
    if (content_type or "").split(";")[0].strip().lower() != FORM_TYPE:
        return 415, "The sign-in form must be sent as a form (application/x-www-form-urlencoded)."
    length = (content_length or "").strip()
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        return TOO_LARGE
    return None


def parse(body: bytes) -> dict[str, str] | tuple[int, str]:
    """The form's fields (the first value of each), or (status, what is wrong)."""
    if len(body) > MAX_FORM_BYTES:
        return TOO_LARGE
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError):
        return 400, "The sign-in form could not be read."
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields
