"""The one request-parsing layer: whatever a caller sends (query, body, encoding) becomes a `ParsedRequest` or an
`InvalidRequestError` (400), never another exception.

Why one layer: every 500 the fuzzers found came from a parser trusting its input one step too far (`str.isdigit`
accepting `²`, `json.loads` recursing past the interpreter's limit, a body decoded as UTF-8 before anyone looked at it).
Here the raw body arrives as the gateway delivered it (text, or base64 when `isBase64Encoded`), is bounded in bytes
first, decoded strictly, then parsed; every failure on the way is a typed refusal.

What the caller sent is echoed only in the answer to that caller, sanitised and bounded (`quoted_names`); the
`log_message` of these errors never contains it, so nothing a client puts in a request reaches the logs verbatim.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import InvalidRequestError
from .grant import TokenRequest

__all__ = ["MAX_BODY_BYTES", "ParsedRequest", "parse_body", "parse_event_body", "parse_query"]

MAX_BODY_BYTES: Final = 16 * 1024
_KEYS: Final = frozenset({"topics", "cacheItems", "ttlSeconds", "name"})
_MAX_TTL_DIGITS: Final = 9
_ASCII_DIGITS: Final = frozenset("0123456789")
_QUOTED_NAMES: Final = 5
_QUOTED_CHARS: Final = 32


@dataclass(frozen=True)
class ParsedRequest:
    request: TokenRequest
    display_name: str | None = None  # only used in Open mode


def parse_query(params: Mapping[str, Any] | None) -> ParsedRequest:
    """`?topics=a,b&cacheItems=k,p*&ttlSeconds=60&name=Ann` (all optional), as `queryStringParameters` gives it."""
    params = params or {}
    unknown = [key for key in params if key not in _KEYS]
    if unknown:
        raise InvalidRequestError(
            f"unknown query parameter(s): {quoted_names(unknown)}", log_message="unknown query parameter(s)"
        )
    for key, value in params.items():
        if not isinstance(value, str) or not _is_text(value):
            raise InvalidRequestError(f"{key} must be text")
    return ParsedRequest(
        TokenRequest(
            topics=_split(params.get("topics"), "topics"),
            cache_items=_split(params.get("cacheItems"), "cacheItems"),
            ttl_seconds=_ttl_text(params.get("ttlSeconds")),
        ),
        params.get("name"),
    )


def parse_event_body(body: Any, is_base64_encoded: bool) -> ParsedRequest:
    """The body of a payload-2.0 event: text, or base64 of raw bytes when `isBase64Encoded` (binary media types)."""
    if body is None:
        return ParsedRequest(TokenRequest())
    if not isinstance(body, str):
        raise InvalidRequestError("the request body is not text")
    if not is_base64_encoded:
        return parse_body(body)
    if len(body) > (MAX_BODY_BYTES * 4) // 3 + 4:  # bound the work before decoding
        raise InvalidRequestError(f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError("the request body is not valid base64") from None
    return parse_body(raw)


def parse_body(body: str | bytes | None) -> ParsedRequest:
    """`{"topics": [...], "cacheItems": [...], "ttlSeconds": 60, "name": "Ann"}` (all optional; empty body = {})."""
    if body is None:
        return ParsedRequest(TokenRequest())
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequestError(f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the request body is not UTF-8 text") from None
    if not text.strip():
        return ParsedRequest(TokenRequest())
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidRequestError("the request body is nested too deeply") from None
    except ValueError:  # JSONDecodeError, and ints over Python's digit limit
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    unknown = [key for key in data if key not in _KEYS]
    if unknown:
        raise InvalidRequestError(f"unknown field(s): {quoted_names(unknown)}", log_message="unknown field(s)")
    ttl = data.get("ttlSeconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        raise InvalidRequestError("ttlSeconds must be an integer")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not _is_text(name)):
        raise InvalidRequestError("name must be a string")
    return ParsedRequest(
        TokenRequest(_list(data.get("topics"), "topics"), _list(data.get("cacheItems"), "cacheItems"), ttl), name
    )


def quoted_names(names: list[str]) -> str:
    """Caller-supplied names for an error message: printable ASCII only, each and all bounded."""
    shown = []
    for name in names[:_QUOTED_NAMES]:
        clean = "".join(c if c.isascii() and c.isprintable() else "?" for c in name)
        shown.append(repr(clean[:_QUOTED_CHARS] + ("..." if len(clean) > _QUOTED_CHARS else "")))
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _is_text(value: str) -> bool:
    """False for strings holding lone surrogates (JSON's `"\\ud800"`): they cannot be encoded, logged or minted."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _split(value: str | None, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(part.strip() for part in value.split(","))
    if not value.strip() or any(not n for n in names):
        raise InvalidRequestError(f"{field} must be a comma-separated list of names")
    return names


def _list(value: Any, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and _is_text(v) for v in value):
        raise InvalidRequestError(f"{field} must be a non-empty list of strings")
    return tuple(value)


def _ttl_text(value: str | None) -> int | None:
    """ASCII digits only: `str.isdigit` also accepts `²` and other digits that `int()` refuses."""
    if value is None:
        return None
    if not value or len(value) > _MAX_TTL_DIGITS or not set(value) <= _ASCII_DIGITS:
        raise InvalidRequestError("ttlSeconds must be a whole number of seconds")
    return int(value)
