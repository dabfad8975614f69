"""Demo users for local development: plain-text passwords in one file, hashed here into a real users store.

Why a separate plain-text file: developers need to know the demo passwords, and the local stack needs the same
hashed store format as production, so the authorizer code path is the one that ships. The demo file is never
deployed; only this function's output (hashes) is loaded into the local Secrets Manager.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tvm_users.passwords import ScryptParams, hash_password
from tvm_users.store import UsersStore, UsersStoreError, dumps_store

__all__ = ["demo_store", "hashed_store_from_demo_file", "load_demo_users"]


def load_demo_users(path: str | os.PathLike[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """username -> (plain-text password, groups) from a demo file ``{"users": {name: {password, groups}}}``."""
    try:
        data = json.loads(Path(path).read_bytes())
    except json.JSONDecodeError as exc:
        raise UsersStoreError(f"{path}: not valid JSON (line {exc.lineno})") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict):
        raise UsersStoreError(f"{path}: expected an object with a 'users' object")
    result: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, raw in users.items():
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("password"), str)
            and isinstance(raw.get("groups"), list)
            and all(isinstance(group, str) for group in raw["groups"])
        ):
            raise UsersStoreError(f"{path}: user {name!r} needs a string 'password' and a list of string 'groups'")
        result[name] = (raw["password"], tuple(raw["groups"]))
    return result


def demo_store(path: str | os.PathLike[str], *, params: ScryptParams | None = None) -> UsersStore:
    """The hashed users store for the demo users (production scrypt cost unless `params` says otherwise)."""
    store = UsersStore()
    for name, (password, groups) in load_demo_users(path).items():
        store = store.with_user(name, hash_password(password, params=params), groups)
    return store


def hashed_store_from_demo_file(path: str | os.PathLike[str], *, params: ScryptParams | None = None) -> str:
    """The users-store JSON text for the demo users, ready to be the local users secret's SecretString."""
    return dumps_store(demo_store(path, params=params))
