"""Who is calling, taken only from what the gateway verified.

- LambdaAuthorizer mode: `requestContext.authorizer.lambda` = {"username", "groups": "a,b"} (context values are flat).
- AmazonCognito mode: `requestContext.authorizer.jwt.claims`: `cognito:username` (else `username`, else `sub`) and
  `cognito:groups`, which API Gateway delivers as the string "[a b]" (a list or a JSON list are accepted too).
- Open mode: nobody is verified; the caller is a guest whose token id is `guest:` + a display name it proposes
  (sanitised, bounded) or `guest:` + a random id. Verified usernames can never contain `:`, so no guest can pass for
  a verified user.

Nothing from headers, the query or the body can change a verified identity.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequestError, UnauthenticatedError

__all__ = ["AUTH_MODES", "TOKEN_ID_CHARS", "Identity", "guest_identity", "identity_from_event", "verified_identity"]

AUTH_MODES = ("Open", "LambdaAuthorizer", "AmazonCognito")
USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")
GUEST_PREFIX = "guest:"
MAX_DISPLAY_NAME = 32
_DISPLAY_UNSAFE = re.compile(r"[^A-Za-z0-9 _.-]+")
# Every character a token id may hold after its first one: a verified username's, or a guest's display name's.
# The policy refuses prefix patterns that let `{username}` run on into one of these (see policy.py).
TOKEN_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@+- ")


@dataclass(frozen=True)
class Identity:
    """`username` is the token id minted into every token (what subscribers see as the sender)."""

    username: str
    groups: tuple[str, ...] = ()
    verified: bool = True


def identity_from_event(event: Mapping[str, Any], auth_mode: str, display_name: str | None = None) -> Identity:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if auth_mode == "Open":
        return guest_identity(display_name)
    if auth_mode == "LambdaAuthorizer":
        context = authorizer.get("lambda") or {}
        return _verified(context.get("username"), _split_groups(context.get("groups")))
    if auth_mode == "AmazonCognito":
        claims = (authorizer.get("jwt") or {}).get("claims") or {}
        username = claims.get("cognito:username") or claims.get("username") or claims.get("sub")
        return _verified(username, _cognito_groups(claims.get("cognito:groups")))
    raise ValueError(f"unknown AUTH_MODE {auth_mode!r}; expected one of {', '.join(AUTH_MODES)}")


def guest_identity(display_name: str | None) -> Identity:
    """An Open-mode caller: `guest:<sanitised display name>` or `guest:<random id>`."""
    if display_name is not None and not isinstance(display_name, str):
        raise InvalidRequestError("name must be a string")
    cleaned = " ".join(_DISPLAY_UNSAFE.sub("", display_name or "").split())[:MAX_DISPLAY_NAME].strip()
    return Identity(GUEST_PREFIX + (cleaned or secrets.token_hex(4)), (), verified=False)


def verified_identity(username: object, groups: Iterable[object] = ()) -> Identity:
    """A user the host app verified (embedded use): the same checks as a gateway's identity, so the token id is a
    username no guest and no other user can have. `groups`: group names (anything but a non-empty string is
    ignored; a lone string is refused, since it would be read as its letters)."""
    if isinstance(groups, str | bytes):
        raise TypeError("groups must be a list of group names, not one string")
    return _verified(username, _group_names(list(groups)))


def _verified(username: object, groups: tuple[str, ...]) -> Identity:
    if not isinstance(username, str) or not username:
        raise UnauthenticatedError("no verified identity reached the function; check the API's authorizer")
    if not USERNAME.fullmatch(username):
        raise UnauthenticatedError("the verified username is not usable as a token id (1-64 of A-Z a-z 0-9 _ . @ + -)")
    return Identity(username, groups, verified=True)


def _split_groups(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split(",") if g.strip())
    return ()


def _cognito_groups(value: object) -> tuple[str, ...]:
    """`cognito:groups` as API Gateway sends it ("[a b]"), as a JSON list string, or as a list.

    Groups are separated by whitespace only: a Cognito group name may contain a comma ("team,red" is one group, and
    its members are not in "red"), never a space. Anything but a non-empty string names no group.
    """
    if isinstance(value, list):
        return _group_names(value)
    if not isinstance(value, str):
        return ()
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return tuple(text[1:-1].split())
        if isinstance(parsed, list):
            return _group_names(parsed)
    return tuple(text.split())


def _group_names(values: list[object]) -> tuple[str, ...]:
    return tuple(value for value in values if isinstance(value, str) and value)
