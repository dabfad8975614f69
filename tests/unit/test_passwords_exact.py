"""Passwords are compared on their exact bytes.

scrypt keys PBKDF2-HMAC-SHA256 with the password, and HMAC zero-pads short keys, so without a guard `pw` and
`pw\\0` derive the same hash. Hash work is checked by counting `hashlib.scrypt` calls, never by timing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tvm_users.passwords import MAX_PASSWORD_CHARS, ScryptParams, hash_password, verify_password
from tvm_users.store import UsersStore, authenticate

CHEAP = ScryptParams(n=16, r=8, p=1)  # tests only: production is n=2**14
SALT = b"0123456789abcdef"


class Calls:
    """Wraps hashlib.scrypt and records each call's keyword arguments (the work done, never the time)."""

    def __init__(self, function: Callable[..., bytes]) -> None:
        self.function = function
        self.calls: list[dict[str, Any]] = []

    def __call__(self, password: bytes, **kwargs: Any) -> bytes:
        self.calls.append({key: value for key, value in kwargs.items() if key != "salt"})
        return self.function(password, **kwargs)


@pytest.fixture
def scrypt(monkeypatch: pytest.MonkeyPatch) -> Calls:
    calls = Calls(hashlib.scrypt)
    monkeypatch.setattr(hashlib, "scrypt", calls)
    return calls


@pytest.mark.parametrize("suffix", ["\0", "\0\0", "\0" * 40])
def test_a_nul_padded_password_does_not_verify(suffix: str) -> None:
    """The reproduction: `alice-password\\0` authenticated as alice (the old code returns True here)."""
    stored = hash_password("alice-password", params=CHEAP)
    assert verify_password("alice-password", stored)
    assert not verify_password("alice-password" + suffix, stored)


def test_the_unguarded_kdf_really_collides() -> None:
    """Why the guard exists: hashlib.scrypt itself cannot tell the two apart."""
    derive = {"salt": SALT, "n": CHEAP.n, "r": CHEAP.r, "p": CHEAP.p, "dklen": 32}
    assert hashlib.scrypt(b"alice-password", **derive) == hashlib.scrypt(b"alice-password\0", **derive)


@pytest.mark.parametrize("password", ["\0", "pw\0", "\0pw", "p\0w"])
def test_a_password_with_nul_cannot_be_hashed(password: str) -> None:
    with pytest.raises(ValueError, match="NUL"):
        hash_password(password, params=CHEAP)


def test_existing_hashes_still_verify() -> None:
    """The stored format and derivation are unchanged for every password without NUL."""
    digest = hashlib.scrypt(b"correct horse", salt=SALT, n=CHEAP.n, r=CHEAP.r, p=CHEAP.p, dklen=32)
    stored = (
        f"scrypt${CHEAP.n}${CHEAP.r}${CHEAP.p}${base64.b64encode(SALT).decode()}${base64.b64encode(digest).decode()}"
    )
    assert hash_password("correct horse", params=CHEAP, salt=SALT) == stored
    assert verify_password("correct horse", stored)


def test_a_refused_password_costs_the_same_work(scrypt: Calls) -> None:
    """A NUL-bearing password is refused after a full hash with the stored parameters, like a wrong one."""
    stored = hash_password("alice-password", params=CHEAP)
    scrypt.calls.clear()
    assert not verify_password("alice-password\0", stored)
    assert not verify_password("not-alices-password", stored)
    assert len(scrypt.calls) == 2 and scrypt.calls[0] == scrypt.calls[1]


def test_authenticate_refuses_the_padded_password_for_known_and_unknown_users(scrypt: Calls) -> None:
    store = UsersStore().with_user("alice", hash_password("alice-password", params=CHEAP), ["readwrite"])
    scrypt.calls.clear()
    assert authenticate(store, "alice", "alice-password") == ("alice", ("readwrite",))
    assert authenticate(store, "alice", "alice-password\0") is None
    assert authenticate(store, "nobody", "alice-password\0") is None
    assert [call["n"] for call in scrypt.calls] == [CHEAP.n] * 3


passwords = st.text(min_size=1, max_size=MAX_PASSWORD_CHARS)


@st.composite
def password_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """(p, q) with p != q: unrelated texts, and the near misses HMAC's padding would confuse."""
    p = draw(passwords.filter(lambda text: "\0" not in text))
    q = draw(
        st.one_of(
            passwords,
            st.integers(1, 64).map(lambda count: p + "\0" * count),
            st.just(p[:-1] + "\0"),
            st.just(p[:-1] or p + p),
        )
    )
    return p, q


@settings(max_examples=300, deadline=None)
@given(pair=password_pairs())
def test_a_hash_of_p_never_verifies_another_q(pair: tuple[str, str]) -> None:
    p, q = pair
    assume(p != q)
    stored = hash_password(p, params=CHEAP)
    assert verify_password(p, stored)
    assert not verify_password(q, stored)
