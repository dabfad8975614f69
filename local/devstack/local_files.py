"""The two files `make dev` reads that a developer edits: the users (local/demo_users.json) and the tier policy.

Read and checked before anything starts, so a mistake in either is one line naming the file, the line and the
problem (a `ConfigError`, exit 2), not a worker's traceback; read again by the watcher when they change
(watch.py), where the same messages say the change was not applied. TOKEN_TTL_SECONDS is checked here too: it must
fit every tier the local callers get.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .config import StackConfig
from .errors import ConfigError

if TYPE_CHECKING:
    from momento_tvm import Policy
    from tvm_users.demo import DemoUsers

__all__ = [
    "DemoUser",
    "Fingerprint",
    "LocalFileError",
    "LocalFiles",
    "check_token_ttl",
    "fingerprint",
    "read_local_files",
    "shown",
]

# The template parameter that caps every token's lifetime (the vending function's MAX_TOKEN_TTL_SECONDS).
MAX_TTL_PARAMETER: Final = "MaxTokenTtlSeconds"


class LocalFileError(ConfigError):
    """A file that does not check out: `problem` (file, line, what), and `advice` for a stack that is starting."""

    def __init__(self, problem: str, advice: str) -> None:
        super().__init__(f"{problem}. {advice}")
        self.problem = problem
        self.advice = advice


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str = field(repr=False)
    groups: tuple[str, ...]
    tier: str | None


@dataclass(frozen=True)
class LocalFiles:
    """What the two files say, checked: the policy, and (modes with users) the users with the tier each gets."""

    policy: Policy
    users: DemoUsers | None  # None in a mode without users (Open): it does not read the file
    demo_users: tuple[DemoUser, ...]

    @property
    def guest_tier(self) -> str | None:
        return self.policy.anonymous_tier


def shown(config: StackConfig, path: Path) -> str:
    """`path` relative to the checkout (`local/demo_users.json`), as people see it in their editor."""
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


def read_policy(config: StackConfig) -> Policy:
    """The vending function's policy, or a ConfigError with the file, the line and the problem."""
    from momento_tvm import PolicyError, load_policy

    name = shown(config, config.policy_file)
    try:
        return load_policy(config.policy_file)
    except PolicyError as error:
        raise LocalFileError(
            str(error).replace(str(config.policy_file), name),
            f"Fix it and start make dev again (`.venv/bin/python -m momento_tvm check-policy {name}` checks it)",
        ) from None


def read_users(config: StackConfig) -> DemoUsers:
    """local/demo_users.json, checked as the CLI writes it, or a ConfigError saying what is wrong with it."""
    from tvm_users.demo import read_demo_users
    from tvm_users.store import UsersStoreError

    path = config.demo_users_file
    name = shown(config, path)
    advice = f"Fix it and start make dev again (`.venv/bin/python -m tvm_users list-users --file {name}` checks it)"
    try:
        return read_demo_users(path)
    except FileNotFoundError:
        raise LocalFileError(f"{name}: no such file", f"Restore the demo users with `git checkout {name}`") from None
    except OSError as error:
        raise LocalFileError(f"{name}: cannot read it ({error.strerror})", advice) from None
    except UsersStoreError as error:
        raise LocalFileError(str(error).replace(str(path), name), advice) from None


def read_local_files(config: StackConfig) -> LocalFiles:
    """Both files, checked together: every user's tier comes from the policy's group rules."""
    policy = read_policy(config)
    if not config.mode.has_users:
        return LocalFiles(policy, None, ())
    users = read_users(config)
    demo_users = []
    for name, record in users.users.items():
        rule = next((rule for rule in policy.groups if rule.group in record.groups), None)
        demo_users.append(DemoUser(name, record.password, record.groups, rule.tier if rule else policy.default_tier))
    return LocalFiles(policy, users, tuple(demo_users))


def check_token_ttl(config: StackConfig, files: LocalFiles) -> None:
    """TOKEN_TTL_SECONDS must be one every local caller may ask for: within each of their tiers' max_ttl_seconds
    and the template's MaxTokenTtlSeconds, else every token request of the site would be a 400."""
    ttl = config.token_ttl_seconds
    if ttl is None:
        return
    from local_api.template import parameter_default

    tiers = [user.tier for user in files.demo_users] if config.mode.has_users else [files.guest_tier]
    policy = shown(config, config.policy_file)
    limits = {
        f"tier '{tier}' allows ({{}} s, its max_ttl_seconds in {policy})": files.policy.tiers[tier].max_ttl_seconds
        for tier in dict.fromkeys(tiers)
        if tier is not None
    }
    cap = parameter_default(config.template, MAX_TTL_PARAMETER)
    if cap is not None and cap.isdigit():
        limits[f"the template's {MAX_TTL_PARAMETER} allows ({{}} s)"] = int(cap)
    for what, limit in limits.items():
        if ttl > limit:
            raise LocalFileError(
                f"TOKEN_TTL_SECONDS={ttl} is longer than {what.format(limit)}",
                f"Use 10 to {min(limits.values())}, e.g. `TOKEN_TTL_SECONDS=60 make dev`",
            )


# ---------------------------------------------------------------------- change detection
@dataclass(frozen=True)
class Fingerprint:
    """What a file looks like now: cheap to compare (stat) and exact (a digest of its bytes); None: it is missing."""

    stat: tuple[int, int, int] | None
    digest: str | None


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino


def fingerprint(path: Path, previous: Fingerprint | None = None) -> Fingerprint:
    """The file's fingerprint; its bytes are read only when its stat changed since `previous`."""
    stat = _stat(path)
    if previous is not None and stat == previous.stat:
        return previous
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = None
    return Fingerprint(stat, digest)
