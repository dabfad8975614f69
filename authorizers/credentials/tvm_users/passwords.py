"""Salted, slow password hashes with the standard library's scrypt.

Why scrypt from `hashlib`: it is memory-hard, needs no third-party wheel (the authorizer stays standard-library
only), and its parameters travel inside the stored string, so they can be raised later without breaking old hashes.

Format: ``scrypt$<n>$<r>$<p>$<base64 salt>$<base64 hash>`` (standard base64, with padding).

Why no password may contain NUL: scrypt's first step is PBKDF2-HMAC-SHA256 keyed with the password, and HMAC pads a
key shorter than its 64-byte block with zero bytes, so ``pw`` and ``pw\\0\\0`` derive the same hash. Refusing every
NUL, when hashing and when verifying, makes the comparison exact: two NUL-free passwords of up to 64 bytes derive the
same hash only if they are equal. Stored hashes stay valid (the hash of a password without NUL is unchanged); only a
password containing NUL stops working, and it never stood for itself alone. A refused password still costs a full
hash when verified, so its timing is that of a wrong one. (HMAC keys a password over 64 bytes by its SHA-256
digest, so that 32-byte digest, used as a password, would match too: whoever knows the digest knows a secret as
good as the password.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Final, NamedTuple

__all__ = [
    "DEFAULT_N",
    "DEFAULT_P",
    "DEFAULT_R",
    "MAX_PASSWORD_CHARS",
    "PasswordHashError",
    "ScryptParams",
    "decode_hash",
    "dummy_hash",
    "hash_password",
    "verify_password",
]

SCHEME: Final = "scrypt"
DEFAULT_N: Final = 2**14
DEFAULT_R: Final = 8
DEFAULT_P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
MAX_PASSWORD_CHARS: Final = 1024

# Bounds for parameters read from a stored hash: a bad store must not make the authorizer allocate gigabytes.
_MAX_N: Final = 2**18
_MAX_R: Final = 32
_MAX_P: Final = 16
_MAX_MEMORY: Final = 256 * 1024 * 1024
# A fixed salt for the dummy hash that unknown users are checked against (it only has to cost the same work).
_DUMMY_SALT: Final = b"tvm-users-dummy!"


class PasswordHashError(ValueError):
    """A stored password hash that is not in our format or has out-of-range parameters."""


class _Params(NamedTuple):
    n: int
    r: int
    p: int


class ScryptParams(_Params):
    """The cost parameters of one hash, checked so that verification has a bounded cost.

    A NamedTuple rather than a dataclass: `dataclasses` (with `inspect`) would add milliseconds to the authorizer's
    cold start. Ordered by (n, r, p).
    """

    __slots__ = ()

    def __new__(cls, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> ScryptParams:
        if not (2 <= n <= _MAX_N and n & (n - 1) == 0):
            raise PasswordHashError(f"scrypt n must be a power of two between 2 and {_MAX_N}")
        if not (1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
            raise PasswordHashError(f"scrypt r must be 1..{_MAX_R} and p 1..{_MAX_P}")
        if 128 * r * (n + p + 2) > _MAX_MEMORY:
            raise PasswordHashError("scrypt parameters need too much memory")
        return super().__new__(cls, n, r, p)

    @property
    def memory(self) -> int:
        """Bytes OpenSSL allocates for these parameters (its own formula, rounded up)."""
        return 128 * self.r * (self.n + self.p + 2)


class DecodedHash(NamedTuple):
    """A parsed stored hash."""

    params: ScryptParams
    salt: bytes
    digest: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise PasswordHashError("bad base64 in password hash") from exc


def _password_bytes(password: str) -> bytes:
    """The exact bytes hashed; ValueError for a password scrypt could not tell from another (see the module doc)."""
    if not 1 <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(f"a password must be 1 to {MAX_PASSWORD_CHARS} characters")
    if "\0" in password:
        raise ValueError("a password must not contain NUL characters")
    return password.encode("utf-8")  # raises UnicodeEncodeError (a ValueError) for lone surrogates


def _derive(password: bytes, salt: bytes, params: ScryptParams, length: int) -> bytes:
    """The one slow step. Looked up on `hashlib` at call time so tests can count calls."""
    return hashlib.scrypt(
        password, salt=salt, n=params.n, r=params.r, p=params.p, maxmem=params.memory + 1024 * 1024, dklen=length
    )


def _encode(params: ScryptParams, salt: bytes, digest: bytes) -> str:
    return f"{SCHEME}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(digest)}"


def decode_hash(encoded: str) -> DecodedHash:
    """Parse and bound-check a stored hash; raises PasswordHashError (never echoing the hash) if it is not ours."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME or not all(part.isascii() and part.isdigit() for part in parts[1:4]):
        raise PasswordHashError("not a scrypt$n$r$p$salt$hash string")
    params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
    salt, digest = _unb64(parts[4]), _unb64(parts[5])
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        raise PasswordHashError("salt or hash has the wrong length")
    return DecodedHash(params, salt, digest)


def hash_password(password: str, *, params: ScryptParams | None = None, salt: bytes | None = None) -> str:
    """Hash a new password with a random salt. Production parameters unless a caller (a test) passes cheaper ones."""
    chosen = params or ScryptParams()
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    return _encode(chosen, salt, _derive(_password_bytes(password), salt, chosen, HASH_BYTES))


def verify_password(password: str, encoded: str | DecodedHash) -> bool:
    """Recompute and compare in constant time. A bad stored hash raises; a bad password is just False.

    A password `hash_password` would refuse (empty, over-long, a NUL, a lone surrogate) is False after the same work.
    """
    decoded = decode_hash(encoded) if isinstance(encoded, str) else encoded
    try:
        candidate = _password_bytes(password)
    except ValueError:
        candidate = b"\x00"  # still do the work: the cost must not depend on the password either
        _derive(candidate, decoded.salt, decoded.params, len(decoded.digest))
        return False
    return hmac.compare_digest(_derive(candidate, decoded.salt, decoded.params, len(decoded.digest)), decoded.digest)


def dummy_hash(params: ScryptParams) -> DecodedHash:
    """A hash no password matches in practice, with the given cost: unknown users are checked against it."""
    return DecodedHash(params, _DUMMY_SALT, bytes(HASH_BYTES))
