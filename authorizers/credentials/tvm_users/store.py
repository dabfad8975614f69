"""The users store: who may call the TVM, with a salted slow hash of their password and their groups.

JSON, kept in a Secrets Manager secret when deployed (or a local file)::

    {"users": {"alice": {"password_hash": "scrypt$16384$8$1$...$...", "groups": ["readwrite"]}}}

A secret's value is at most 65,536 bytes (Secrets Manager's quota), so the secret holds the compact form
(`secret_string`: no spaces, about 141 bytes a user with an 8-character name, one group and the production hash,
464 such users in all; the indented file form takes about 184, 356 users) and refuses a store past the limit with
`UsersStoreTooLarge`, which says how many users of that size fit. Beyond that, AmazonCognito mode has no such limit.

Top-level keys starting with ``_`` are comments. Everything is validated on load, so the authorizer never has to
guess what a malformed record means: a bad store is an error, not a silent deny-all or allow-all.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from tvm_users.passwords import (
    DecodedHash,
    PasswordHashError,
    ScryptParams,
    decode_hash,
    dummy_hash,
    verify_password,
)

__all__ = [
    "GROUP_PATTERN",
    "SECRET_STRING_LIMIT",
    "USERNAME_PATTERN",
    "UserRecord",
    "UsersStore",
    "UsersStoreError",
    "UsersStoreTooLarge",
    "authenticate",
    "dump_store",
    "dumps_store",
    "is_valid_group",
    "is_valid_username",
    "load_store",
    "loads_store",
    "parse_store",
    "reserved_username_problem",
    "secret_string",
]

# Never ':' in a username: guests are minted as "guest:<name>", so no account can pass for one (or vice versa).
USERNAME_PATTERN: Final = re.compile(r"[A-Za-z0-9_.@+-]{1,64}", re.ASCII)
# Never ',' in a group: the authorizer hands groups downstream as one comma-separated string.
GROUP_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)
MAX_GROUPS: Final = 32
# The most a Secrets Manager SecretString may hold: 65,536 bytes (the JSON here is ASCII, so characters are bytes).
SECRET_STRING_LIMIT: Final = 65_536


class UsersStoreError(ValueError):
    """The users store is not valid; the message names the record but never a hash or password."""


class UsersStoreTooLarge(UsersStoreError):
    """The store's JSON is over what a secret may hold; `size`, `limit` and `fit` (about how many users fit)."""

    def __init__(self, size: int, users: int, limit: int) -> None:
        self.size, self.users, self.limit = size, users, limit
        empty = len(dumps_store(UsersStore(), compact=True))
        # Each user adds its record and a comma (the first one none): the bytes past the empty store, per user.
        per_user = (size - empty + 1) / max(users, 1)
        self.fit = int((limit - empty + 1) // per_user) if per_user > 0 else 0
        super().__init__(
            f"the users store would be {size:,} bytes ({users} users), over the {limit:,}-byte limit of a Secrets "
            f"Manager secret: about {self.fit} users of this size fit. Remove some, or move to AmazonCognito mode "
            "(docs/deploy.md)"
        )


def is_valid_username(name: object) -> bool:
    """True for 1-64 characters of [A-Za-z0-9_.@+-] (fullmatch: a trailing newline does not sneak through)."""
    return isinstance(name, str) and USERNAME_PATTERN.fullmatch(name) is not None


def reserved_username_problem(name: str) -> str | None:
    """Why `name` may not be given to a new user, or None. `guest`, in any case, is reserved: the TVM refuses it
    (momento_tvm.identity.RESERVED_USERNAMES), since under a policy's `inbox-{username}:*` it would cover every
    Open-mode guest's `inbox-guest:<name>:...`. A store that already holds it still loads; that user gets no token."""
    if name.lower() == "guest":
        return f"the username {name!r} is reserved (Open-mode guests are 'guest:<name>'): choose another"
    return None


def is_valid_group(name: object) -> bool:
    """True for 1-64 characters of [A-Za-z0-9_.-]."""
    return isinstance(name, str) and GROUP_PATTERN.fullmatch(name) is not None


class UserRecord(NamedTuple):
    """One user: the stored hash (kept as text for dumping, decoded once for verifying) and their groups.

    A NamedTuple, not a dataclass: importing `dataclasses` costs the authorizer's cold start several milliseconds.
    """

    password_hash: str
    groups: tuple[str, ...]
    decoded: DecodedHash

    @classmethod
    def create(cls, password_hash: str, groups: Iterable[str]) -> UserRecord:
        """Validate and build a record; raises UsersStoreError."""
        try:
            decoded = decode_hash(password_hash)
        except PasswordHashError as exc:
            raise UsersStoreError(f"invalid password_hash: {exc}") from None
        group_list = list(groups)
        bad = [g for g in group_list if not is_valid_group(g)]
        if bad:
            raise UsersStoreError(f"invalid group name(s) {bad!r}: use 1-64 characters of A-Z a-z 0-9 _ . -")
        if len(set(group_list)) != len(group_list) or len(group_list) > MAX_GROUPS:
            raise UsersStoreError(f"groups must be unique and at most {MAX_GROUPS}")
        return cls(password_hash, tuple(group_list), decoded)

    def __repr__(self) -> str:  # the hash stays out of reprs, tracebacks and logs
        return f"UserRecord(groups={self.groups!r})"


class UsersStore:
    """An immutable, validated set of users, plus the dummy hash that unknown usernames are checked against."""

    def __init__(self, users: Mapping[str, UserRecord] | None = None) -> None:
        users = dict(users or {})
        bad = [name for name in users if not is_valid_username(name)]
        if bad:
            raise UsersStoreError(f"invalid username(s) {bad!r}: use 1-64 characters of A-Z a-z 0-9 _ . @ + -")
        self.users: Mapping[str, UserRecord] = MappingProxyType(dict(sorted(users.items())))
        self.dummy: DecodedHash = dummy_hash(_typical_params(self.users.values()))

    def __repr__(self) -> str:
        return f"UsersStore(users={sorted(self.users)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UsersStore) and dict(self.users) == dict(other.users)

    __hash__ = None  # type: ignore[assignment]

    def with_user(self, username: str, password_hash: str, groups: Iterable[str]) -> UsersStore:
        """A copy with `username` added or replaced."""
        return UsersStore({**self.users, username: UserRecord.create(password_hash, groups)})

    def without_user(self, username: str) -> UsersStore:
        """A copy without `username`; KeyError if absent."""
        if username not in self.users:
            raise KeyError(username)
        return UsersStore({name: rec for name, rec in self.users.items() if name != username})

    def to_json_obj(self) -> dict[str, Any]:
        """The JSON-ready form."""
        return {
            "users": {
                name: {"password_hash": rec.password_hash, "groups": list(rec.groups)}
                for name, rec in self.users.items()
            }
        }


def _typical_params(records: Iterable[UserRecord]) -> ScryptParams:
    """The cost most users' hashes have (ties: the dearest), so an unknown user costs what a known one does."""
    counts = Counter(rec.decoded.params for rec in records)
    if not counts:
        return ScryptParams()
    top = max(counts.values())
    return max(params for params, count in counts.items() if count == top)


def parse_store(data: object) -> UsersStore:
    """Validate the decoded JSON of a users store."""
    if not isinstance(data, dict):
        raise UsersStoreError("the users store must be a JSON object")
    unknown = [key for key in data if not (isinstance(key, str) and (key == "users" or key.startswith("_")))]
    if unknown:
        raise UsersStoreError(f"unknown top-level key(s) {unknown!r}: expected 'users' (and '_comment'-style keys)")
    users = data.get("users")
    if not isinstance(users, dict):
        raise UsersStoreError("'users' must be an object mapping usernames to records")
    records: dict[str, UserRecord] = {}
    for name, raw in users.items():
        if not is_valid_username(name):
            raise UsersStoreError(f"invalid username {name!r}: use 1-64 characters of A-Z a-z 0-9 _ . @ + -")
        if not isinstance(raw, dict) or set(raw) != {"password_hash", "groups"}:
            raise UsersStoreError(f"user {name!r}: expected exactly the keys 'password_hash' and 'groups'")
        password_hash, groups = raw["password_hash"], raw["groups"]
        if not isinstance(password_hash, str) or not isinstance(groups, list):
            raise UsersStoreError(f"user {name!r}: 'password_hash' must be a string and 'groups' a list")
        try:
            records[name] = UserRecord.create(password_hash, groups)
        except UsersStoreError as exc:
            raise UsersStoreError(f"user {name!r}: {exc}") from None
    return UsersStore(records)


def loads_store(text: str | bytes) -> UsersStore:
    """Parse users-store JSON text."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsersStoreError(f"the users store is not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    return parse_store(data)


def load_store(path: str | os.PathLike[str]) -> UsersStore:
    """Read a users-store file."""
    with open(path, "rb") as source:
        return loads_store(source.read())


def dumps_store(store: UsersStore, *, compact: bool = False) -> str:
    """Serialize, stable: sorted users, readable (two-space indent) for a file, or `compact` (no spaces, no newline)
    for a secret, where every byte counts against the limit."""
    if compact:
        return json.dumps(store.to_json_obj(), separators=(",", ":"), sort_keys=True)
    return json.dumps(store.to_json_obj(), indent=2, sort_keys=True) + "\n"


def secret_string(store: UsersStore, limit: int = SECRET_STRING_LIMIT) -> str:
    """The compact JSON for a Secrets Manager secret; UsersStoreTooLarge if it is over `limit` bytes."""
    text = dumps_store(store, compact=True)
    size = len(text.encode("utf-8"))
    if size > limit:
        raise UsersStoreTooLarge(size, len(store.users), limit)
    return text


def dump_store(store: UsersStore, path: str | os.PathLike[str]) -> None:
    """Write atomically (temporary file + rename) with mode 0600: hashes are still secrets."""
    import tempfile  # only the CLI writes files: keep it out of the authorizer's cold start

    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(dumps_store(store))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def authenticate(store: UsersStore, username: str, password: str) -> tuple[str, tuple[str, ...]] | None:
    """(username, groups) if the password is right, else None.

    An unknown username is checked against the store's dummy hash, which has the same cost as a real user's, so the
    time taken does not tell an attacker which usernames exist.
    """
    record = store.users.get(username)
    ok = verify_password(password, record.decoded if record is not None else store.dummy)
    if record is None or not ok:
        return None
    return username, record.groups
