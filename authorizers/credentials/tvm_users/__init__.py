"""Users for the credentials authorizer: password hashing, the users store, demo users and a CLI.

Standard library only, so the authorizer Lambda can import it without adding to its cold start; the CLI imports
boto3 lazily, only when it talks to AWS.
"""

from __future__ import annotations

from tvm_users.passwords import PasswordHashError, ScryptParams, hash_password, verify_password
from tvm_users.store import (
    UserRecord,
    UsersStore,
    UsersStoreError,
    authenticate,
    dump_store,
    dumps_store,
    is_valid_username,
    load_store,
    loads_store,
    parse_store,
)

__all__ = [
    "PasswordHashError",
    "ScryptParams",
    "UserRecord",
    "UsersStore",
    "UsersStoreError",
    "authenticate",
    "dump_store",
    "dumps_store",
    "hash_password",
    "is_valid_username",
    "load_store",
    "loads_store",
    "parse_store",
    "verify_password",
]
