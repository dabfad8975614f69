"""The example's users: who may sign in, their password hashes, and the groups the tier policy reads.

A real app has its own user table and password library; this one needs nothing but the standard library: scrypt
hashes (`hashlib.scrypt`, salted, memory-hard) compared in constant time (`hmac.compare_digest`). The demo users'
passwords are not stored anywhere, only their hashes; to add a user, hash a password with

    python -m examples.fastapi_chat.users          (asks for the password; prints the line to paste below)

The demo passwords are `alice-password`, `bob-password` and `viewer-password` (the same as `make dev`'s).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["DEMO_USERS", "MAX_PASSWORD_CHARS", "User", "UserStore", "hash_password", "verify_password"]

# scrypt's cost: 2**14 x 8 blocks is 16 MiB and about 50 ms per check (OWASP's floor for scrypt).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_PASSWORD_CHARS = 1024  # longer is refused before hashing: no one's password, and a cheap way to burn CPU


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`: the parameters travel with the hash, so they can be raised later."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` hashes to `stored`; compared in constant time. A malformed hash matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(actual, _unb64(digest))
    except ValueError:
        return False


@dataclass(frozen=True)
class User:
    username: str
    groups: tuple[str, ...]
    password_hash: str = field(repr=False)


class UserStore:
    """Users by name. `authenticate` takes as long for an unknown name as for a wrong password, so its timing
    does not tell which names exist."""

    def __init__(self, users: Iterable[User]) -> None:
        self._users = {user.username: user for user in users}
        self._decoy = hash_password(secrets.token_urlsafe(16))

    def __iter__(self) -> Iterator[User]:
        return iter(self._users.values())

    def get(self, username: str) -> User | None:
        return self._users.get(username)

    def authenticate(self, username: str, password: str) -> User | None:
        if len(password) > MAX_PASSWORD_CHARS:
            return None
        user = self._users.get(username)
        matches = verify_password(password, user.password_hash if user else self._decoy)
        return user if user is not None and matches else None


# Demo data: the passwords are documented (see the module docstring), so these hashes protect nothing in production.
DEMO_USERS = UserStore(
    [
        User(
            "alice",
            ("readwrite",),
            "scrypt$16384$8$1$fFtq6T1JQuJTduM0e4VT6w$EdSYI6SsN2kr6C5fyAaHr-mCFZvjihOcmYGHnFmBMdk",
        ),
        User(
            "bob", ("readwrite",), "scrypt$16384$8$1$Inz3bBFpGLW_TVVhsT6sCQ$2mQYrUlwLshl0Jt3n-oI72WJeAPVdv0vbMW0Roava1c"
        ),
        User(
            "viewer",
            ("readonly",),
            "scrypt$16384$8$1$6xYbZYmaHsBhbT4sZthPoQ$7lUQIFjH0B4cgBbB5XlhAhmGksSc6gmJaDibMlPdBp8",
        ),
    ]
)


if __name__ == "__main__":
    import getpass

    print(hash_password(getpass.getpass("password to hash: ")))
