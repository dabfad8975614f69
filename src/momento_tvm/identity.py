"""Who is calling, taken only from what the gateway verified.

- LambdaAuthorizer mode: `requestContext.authorizer.lambda` = {"username", "groups": "a,b"} (context values are flat).
- AmazonCognito mode: `requestContext.authorizer.jwt.claims`: `cognito:username` (else `username`, else `sub`) and
  `cognito:groups`, which API Gateway delivers as the string "[a b]" (a list is accepted too). Group names are
  matched exactly as Cognito holds them, never decoded.
- Open mode: nobody is verified; the caller is a guest whose token id is `guest:` + a display name it proposes
  (sanitised, bounded) or `guest:` + a random id. Verified usernames can never contain `:`, and `guest` itself is
  reserved, so no guest can pass for a verified user and no verified user's `{username}` prefix reaches a guest's.

Nothing from headers, the query or the body can change a verified identity. The vending core checks every identity
again (`checked_identity`), whoever made it, so an embedding app's own `Identity(...)` gets no further.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidIdentityError, InvalidRequestError, UnauthenticatedError

__all__ = [
    "AUTH_MODES",
    "RESERVED_USERNAMES",
    "TOKEN_ID_CHARS",
    "Identity",
    "checked_identity",
    "guest_identity",
    "identity_from_event",
    "log_name",
    "verified_identity",
]

AUTH_MODES = ("Open", "LambdaAuthorizer", "AmazonCognito")
USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")
GUEST_PREFIX = "guest:"
MAX_DISPLAY_NAME = 32
_DISPLAY_UNSAFE = re.compile(r"[^A-Za-z0-9 _.-]+")
# Every character a token id may hold after its first one, but the `:` of `guest:`: a verified username's, or a guest's
# display name's. The policy refuses prefix patterns that let `{username}` run on into one of these (see policy.py).
TOKEN_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@+- ")
# Verified usernames no token may carry. A prefix pattern's `{username}` is followed by a character outside
# TOKEN_ID_CHARS (policy.py), so user U's prefix (`inbox-U:`) covers another id's names only where that id holds U and
# then such a character. No verified username holds one; a guest's id holds exactly one, the `:` right after `guest`.
# So `guest` is the one name whose prefixes reach others' (under `inbox-{username}:*`, `inbox-guest:` is every guest's
# `inbox-guest:Ann:...`): reserved. Compared case-insensitively, as Cognito compares usernames by default (the
# template's pool too), so no spelling of it passes, and no sender shown as `Guest` passes for a guest either.
RESERVED_USERNAMES = frozenset({GUEST_PREFIX.removesuffix(":")})
_UNUSABLE = "the signed-in username is not usable as a token id (1-64 of A-Z a-z 0-9 _ . @ + -, and not 'guest')"
_NOT_A_GUEST_ID = "a guest's token id must be one guest_identity makes ('guest:' and a sanitised display name)"


@dataclass(frozen=True)
class Identity:
    """`username` is the token id minted into every token (what subscribers see as the sender). Made by hand, it is
    unchecked until the vending core checks it (`checked_identity`); `verified_identity` checks it when made."""

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
    return Identity(GUEST_PREFIX + (_display_name(display_name or "") or secrets.token_hex(4)), (), verified=False)


def checked_identity(identity: Identity) -> Identity:
    """`identity` as the vending core mints for it, checked whoever made it (a gateway, `verified_identity`, or an
    embedding app's own `Identity(...)`): a verified username as `verified_identity` requires (its groups cleaned the
    same way), or a guest id as `guest_identity` makes. `InvalidIdentityError` (401) otherwise: a name such as `*`
    or `al*` would otherwise be substituted into the policy's `{username}` patterns."""
    if not isinstance(identity, Identity):
        raise TypeError("identity must be an Identity (made by verified_identity or guest_identity)")
    if identity.verified:
        return verified_identity(identity.username, identity.groups)
    name = identity.username
    if not isinstance(name, str) or not name.startswith(GUEST_PREFIX):
        raise InvalidIdentityError(_NOT_A_GUEST_ID)
    display = name.removeprefix(GUEST_PREFIX)
    if not display or _display_name(display) != display:
        raise InvalidIdentityError(_NOT_A_GUEST_ID)
    return Identity(name, (), verified=False)


def log_name(token_id: str) -> str:
    """How log lines name a token's holder: a verified username as it is; any other id (a guest's, which holds a
    display name the caller chose) as `guest#` + the first 12 hex digits of its SHA-256, so no caller's text is
    logged verbatim while one guest's lines can still be told apart, and found by hashing `guest:<name>`.

    A plain hash, not a keyed one: it stays the same across containers and restarts (a keyed hash with a per-process
    key would not, and a deployment key would be one more secret to keep), and it hides nothing a subscriber cannot
    see anyway (the id is every message's sender). It only keeps the caller's text out of the log."""
    if USERNAME.fullmatch(token_id):
        return token_id
    digest = hashlib.sha256(token_id.encode("utf-8", "surrogatepass")).hexdigest()
    return "guest#" + digest[:12]


def verified_identity(username: object, groups: Iterable[object] = ()) -> Identity:
    """A user the host app verified (embedded use): the same checks as a gateway's identity, so the token id is a
    username no guest and no other user can have (never `guest`, in any case). `groups`: group names (anything but a
    non-empty string is ignored; a lone string is refused, since it would be read as its letters)."""
    if isinstance(groups, str | bytes):
        raise TypeError("groups must be a list of group names, not one string")
    return _verified(username, _group_names(list(groups)))


def _verified(username: object, groups: tuple[str, ...]) -> Identity:
    if not isinstance(username, str) or not username:
        raise UnauthenticatedError("no verified identity reached the function; check the API's authorizer")
    if not USERNAME.fullmatch(username) or username.lower() in RESERVED_USERNAMES:
        raise InvalidIdentityError(_UNUSABLE)
    return Identity(username, groups, verified=True)


def _display_name(text: str) -> str:
    """A guest's proposed name, sanitised: letters, digits, space, `_ . -`; single spaces, trimmed, at most 32."""
    return " ".join(_DISPLAY_UNSAFE.sub("", text).split())[:MAX_DISPLAY_NAME].strip()


def _split_groups(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split(",") if g.strip())
    return ()


def _cognito_groups(value: object) -> tuple[str, ...]:
    """`cognito:groups` as API Gateway sends it ("[a b]"), or as a list (a local verifier, a decoded token).

    Cognito group names hold no whitespace (letters, marks, symbols, digits and punctuation only), so the gateway's
    string is split on whitespace and nothing else, and each name is kept exactly as written: never decoded (a group
    named `"readwrite"`, quotes included, or `"read\\u0077rite"` is that name, not `readwrite`) and never split on
    commas (`team,red` is one group, and its members are not in `red`). A list's members are matched as they are.
    Anything but a non-empty string names no group.
    """
    if isinstance(value, list):
        return _group_names(value)
    if not isinstance(value, str):
        return ()
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return tuple(text.split())


def _group_names(values: list[object]) -> tuple[str, ...]:
    return tuple(value for value in values if isinstance(value, str) and value)
