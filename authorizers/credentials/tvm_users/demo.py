"""Demo users for local development: plain-text passwords in one file, hashed here into a real users store.

Why a separate plain-text file: developers need to know the demo passwords, and the local stack needs the same
hashed store format as production, so the authorizer code path is the one that ships. The demo file is never
deployed; only this function's output (hashes) is loaded into the local Secrets Manager.

The file (``local/demo_users.json``, what `make dev` reads)::

    {"_comment": "...", "_format": "demo", "users": {"alice": {"password": "alice-password", "groups": ["readwrite"]}}}

``python -m tvm_users add-user|remove-user|list-users --file local/demo_users.json`` edits it in this format
(`DemoUsers`): a file is a demo file when its records hold a ``password`` (or it says ``"_format": "demo"``), and it
stays one. Top-level keys starting with ``_`` are comments, kept as they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from tvm_users.passwords import MAX_PASSWORD_CHARS, ScryptParams, hash_password
from tvm_users.store import (
    UsersStore,
    UsersStoreError,
    dumps_store,
    is_valid_group,
    is_valid_username,
    reserved_username_problem,
)

__all__ = [
    "DEMO_FORMAT",
    "MIN_DEMO_PASSWORD_CHARS",
    "DemoRecord",
    "DemoUsers",
    "demo_store",
    "dump_demo_users",
    "dumps_demo_users",
    "hashed_store_from_demo_file",
    "is_demo_document",
    "load_demo_users",
    "parse_demo_users",
    "read_demo_users",
    "store_from_demo_users",
]

DEMO_FORMAT: Final = "demo"
# The CLI's minimum, and what the local Cognito pool's relaxed policy accepts (devstack/cognito.py).
MIN_DEMO_PASSWORD_CHARS: Final = 8


class DemoRecord(NamedTuple):
    """One demo user: the password as typed (demo data, local only) and their groups."""

    password: str
    groups: tuple[str, ...]

    def __repr__(self) -> str:  # the password stays out of reprs and tracebacks all the same
        return f"DemoRecord(groups={self.groups!r})"


class DemoUsers:
    """The demo file's users in file order, plus its `_` comment keys (kept when it is written again)."""

    def __init__(self, users: Mapping[str, DemoRecord] | None = None, comments: Mapping[str, Any] | None = None):
        self.users: Mapping[str, DemoRecord] = MappingProxyType(dict(users or {}))
        self.comments: Mapping[str, Any] = MappingProxyType(dict(comments or {}))

    def __repr__(self) -> str:
        return f"DemoUsers(users={list(self.users)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DemoUsers) and dict(self.users) == dict(other.users)

    __hash__ = None  # type: ignore[assignment]

    def with_user(self, username: str, password: str, groups: Iterable[str]) -> DemoUsers:
        """A copy with `username` added (at the end) or replaced (in place)."""
        record = _record(username, password, list(groups))
        return DemoUsers({**self.users, username: record}, self.comments)

    def without_user(self, username: str) -> DemoUsers:
        if username not in self.users:
            raise KeyError(username)
        return DemoUsers({name: rec for name, rec in self.users.items() if name != username}, self.comments)

    def as_tuples(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {name: (record.password, record.groups) for name, record in self.users.items()}


def is_demo_document(data: object) -> bool:
    """True for the demo format: `"_format": "demo"`, or a user record holding a plain `password`."""
    if not isinstance(data, dict):
        return False
    if data.get("_format") == DEMO_FORMAT:
        return True
    users = data.get("users")
    return isinstance(users, dict) and any(isinstance(raw, dict) and "password" in raw for raw in users.values())


def _record(name: str, password: object, groups: object, where: str = "") -> DemoRecord:
    prefix = f"{where}: " if where else ""
    if not is_valid_username(name):
        raise UsersStoreError(f"{prefix}invalid username {name!r}: use 1-64 characters of A-Z a-z 0-9 _ . @ + -")
    reserved = reserved_username_problem(name)
    if reserved:
        raise UsersStoreError(prefix + reserved)
    if not isinstance(password, str) or not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise UsersStoreError(f"{prefix}user {name!r} needs a string 'password' and a list of string 'groups'")
    if not MIN_DEMO_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS or "\0" in password:
        raise UsersStoreError(
            f"{prefix}user {name!r}: a password must be {MIN_DEMO_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    bad = [group for group in groups if not is_valid_group(group)]
    if bad or len(set(groups)) != len(groups):
        raise UsersStoreError(f"{prefix}user {name!r}: groups must be unique names of A-Z a-z 0-9 _ . - (got {groups})")
    return DemoRecord(password, tuple(groups))


def parse_demo_users(data: object, where: str = "the demo file") -> DemoUsers:
    """Validate a decoded demo file (names, groups and passwords as the CLI and the local Cognito pool need)."""
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(users, dict):
        raise UsersStoreError(f"{where}: expected an object with a 'users' object")
    unknown = [key for key in data if not (isinstance(key, str) and (key == "users" or key.startswith("_")))]
    if unknown:
        raise UsersStoreError(f"{where}: unknown top-level key(s) {unknown!r}: expected 'users' and '_' comments")
    records = {}
    for name, raw in users.items():
        if isinstance(raw, dict) and "password_hash" in raw:
            raise UsersStoreError(f"{where}: user {name!r} has a password_hash: a demo file holds plain passwords")
        if not isinstance(raw, dict) or not set(raw) <= {"password", "groups"}:
            raise UsersStoreError(f"{where}: user {name!r} needs exactly a 'password' and a list of 'groups'")
        records[name] = _record(name, raw.get("password"), raw.get("groups"), where)
    comments = {key: value for key, value in data.items() if key != "users"}
    return DemoUsers(records, comments)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise UsersStoreError(f"{path}: not valid JSON (line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise UsersStoreError(f"{path}: not valid UTF-8") from None


def read_demo_users(path: str | os.PathLike[str]) -> DemoUsers:
    """The demo file at `path`; raises UsersStoreError (bad content) or OSError (cannot read it)."""
    return parse_demo_users(_read_json(Path(path)), str(path))


def load_demo_users(path: str | os.PathLike[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """username -> (plain-text password, groups) from a demo file ``{"users": {name: {password, groups}}}``."""
    return read_demo_users(path).as_tuples()


def dumps_demo_users(users: DemoUsers) -> str:
    """The demo file's text: its comments first, ``"_format": "demo"``, then one line per user, in order."""
    comments = {**users.comments, "_format": DEMO_FORMAT}
    lines = [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in comments.items()]
    records = [
        f"    {json.dumps(name)}: "
        + json.dumps({"password": record.password, "groups": list(record.groups)}, ensure_ascii=False)
        for name, record in users.users.items()
    ]
    body = '  "users": {}' if not records else '  "users": {\n' + ",\n".join(records) + "\n  }"
    return "{\n" + "\n".join(lines) + ("\n" if lines else "") + body + "\n}\n"


def dump_demo_users(users: DemoUsers, path: str | os.PathLike[str]) -> None:
    """Write atomically (temporary file + rename), keeping the file's mode (a checked-in demo file stays 0644)."""
    import tempfile

    directory, name = os.path.split(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(dumps_demo_users(users))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def demo_store(path: str | os.PathLike[str], *, params: ScryptParams | None = None) -> UsersStore:
    """The hashed users store for the demo users (production scrypt cost unless `params` says otherwise)."""
    return store_from_demo_users(read_demo_users(path), params=params)


def store_from_demo_users(users: DemoUsers, *, params: ScryptParams | None = None) -> UsersStore:
    store = UsersStore()
    for name, record in users.users.items():
        store = store.with_user(name, hash_password(record.password, params=params), record.groups)
    return store


def hashed_store_from_demo_file(path: str | os.PathLike[str], *, params: ScryptParams | None = None) -> str:
    """The users-store JSON text for the demo users, ready to be the local users secret's SecretString."""
    return dumps_store(demo_store(path, params=params))
