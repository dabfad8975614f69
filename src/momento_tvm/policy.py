"""The tier policy: one YAML file mapping groups to tiers and tiers to Momento scopes.

Validated when loaded (a JSON schema, then the rules a schema cannot state), and by `make lint`. A bad policy is a
`PolicyError` naming the file and line, never a silent default. Evaluation is elsewhere (`grant.py`), as a pure
function of (policy, identity, request).

Patterns, for topic names and cache keys alike: `*` alone = everything; a trailing `*` = a prefix (`room-*`);
anything else is an exact name. `{username}` anywhere is replaced by the caller's verified username (`dm-{username}`),
after the pattern is classified (grant.py), so a username is only ever literal text, never a prefix or a `*`.

`{username}` in a prefix pattern must be followed by a character no username can contain (`inbox-{username}:*`):
otherwise `inbox-{username}*` gives user `al` every name of user `alice`, and `u-{username}-*` gives `al` those of
`al-x`. An exact pattern is always safe (stripping its fixed parts gives back one username), so the rule is only for
prefixes; the loader refuses a policy that breaks it. A guest's id (`guest:Ann`) is the one token id holding such a
character, right after `guest`: that username is reserved (identity.RESERVED_USERNAMES), so `inbox-{username}:*`
keeps users and guests apart too.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._deferred import defer_init

# The precompiled validator needs fastjsonschema's exception classes only, not its schema compiler, which its
# __init__ imports (about 35 ms of a cold start without bytecode): the package is registered with that deferred.
defer_init("fastjsonschema")

import yaml  # noqa: E402
from fastjsonschema.exceptions import JsonSchemaValueException  # noqa: E402

from .control import TOPIC_PREFIX as CONTROL_TOPIC_PREFIX  # noqa: E402
from .errors import PolicyError  # noqa: E402
from .identity import TOKEN_ID_CHARS  # noqa: E402
from .limits import DEFAULT_LIMIT, MOMENTO_MINTS_PER_SECOND, RateLimit  # noqa: E402

__all__ = [
    "CacheRule",
    "GroupRule",
    "Policy",
    "Tier",
    "TopicRule",
    "limit_warnings",
    "load_policy",
    "parse_policy",
    "username_overlap",
]

# libyaml's safe loader when PyYAML was built with it (the Lambda wheels are), with the same marks (lines) on nodes and
# errors as the pure-Python one. With _Loader's Python composer the default policy loads in about 0.7 ms against 0.5 ms
# all in libyaml and 4 ms all in Python (measured on the dev container).
if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Deeper than any policy needs (tiers.NAME.topics.names[i] is 5 levels); the composer below recurses once per level.
_MAX_DEPTH = 32
_ABSENT: Any = object()
MAX_BURST = 1000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.YAMLError):
    """Valid YAML that a policy may not use: `problem` says what to write instead, `line` (1-based) where it is."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line: int = mark.line + 1


class _Composer(yaml.composer.Composer):
    """Python's composer, refusing anchors and aliases as their parse events arrive (before a node is made from them),
    and nesting deeper than any policy (its recursion would otherwise end in RecursionError)."""

    _depth = 0
    if TYPE_CHECKING:

        def peek_event(self) -> Any: ...  # the parser's (libyaml's or PyYAML's), after this class in the MRO

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                f"a YAML alias (*{event.anchor}) is not allowed in a policy: write the value out", event.start_mark
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(
                f"a YAML anchor (&{anchor}) is not allowed in a policy: write the value out", event.start_mark
            )
        if self._depth >= _MAX_DEPTH:
            raise _Refused(f"nested more than {_MAX_DEPTH} levels deep: no policy is this deep", event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Loader(_Composer, _SafeLoader):
    """The policy's YAML: the safe loader without anchors, aliases, merge keys, repeated keys or deep nesting.

    Why: an alias is a reference, so a few hundred bytes of nested aliases ("billion laughs") stand for billions of
    values once walked (1.5 GB and 13 s here, before this loader); a repeated key or a merge key (`<<:`) lets a line
    further down silently replace a tier. `_Composer` comes before libyaml's parser in the MRO, so it replaces
    libyaml's composer (which cannot be hooked); libyaml still scans and parses. Merge and repeated keys are refused
    as their mapping is built.
    """

    def __init__(self, stream: str) -> None:
        _SafeLoader.__init__(self, stream)
        yaml.composer.Composer.__init__(self)  # its anchors table: CSafeLoader's __init__ does not make one

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                raise _Refused(
                    "a YAML merge key (<<) is not allowed in a policy: write the keys out", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=True)
            try:
                first = first_line.get(key)
            except TypeError:  # an unhashable key: the safe constructor's own error says so
                continue
            if first is not None:
                raise _Refused(
                    f"duplicate key {key!r} (first at line {first}): a key may appear once in a mapping, "
                    "or the later one would silently replace the first",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


TOPIC_ROLES = ("publish_subscribe", "subscribe_only", "publish_only")
CACHE_ROLES = ("read_write", "read_only", "write_only")
MIN_TTL_SECONDS = 10
# How a trailing-'*' topic pattern is minted: "prefix" (the default), one `topic_name_prefix` permission, so one token
# covers every matching topic; "exact", only the names a request asks for (all Momento's SDKs can express).
TOPIC_PATTERN_MODES = ("prefix", "exact")
# A pattern: no '*' except a single trailing one; only the {username} placeholder.
_PATTERN = r"^(\*|([^*{}]|\{username\})+\*?)$"
_NAME = r"^[A-Za-z0-9_.@+-]{1,64}$"
# Optional: the cache a rule covers; absent = the deployment's cache (the template's CacheName).
_CACHE_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[^\s*{}]+$"}


def _rule_schema(roles: tuple[str, ...], patterns_key: str, max_length: int) -> dict[str, Any]:
    """A tier's `topics` or `cache` rule: a role, a non-empty list of patterns, optionally another cache."""
    pattern = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": _PATTERN}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["role", patterns_key],
        "properties": {
            "cache_name": _CACHE_NAME,
            "role": {"enum": list(roles)},
            patterns_key: {"type": "array", "minItems": 1, "items": pattern},
        },
    }


SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "tiers", "groups"],
    "properties": {
        "version": {"const": 1},
        "topic_patterns": {"enum": list(TOPIC_PATTERN_MODES)},
        "anonymous_tier": {"type": ["string", "null"]},
        "default_tier": {"type": ["string", "null"]},
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["group", "tier"],
                "properties": {"group": {"type": "string", "pattern": _NAME}, "tier": {"type": "string"}},
            },
        },
        "tiers": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": _NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ttl_seconds", "max_ttl_seconds"],
                "properties": {
                    "description": {"type": "string"},
                    "topics": _rule_schema(TOPIC_ROLES, "names", max_length=128),
                    "cache": _rule_schema(CACHE_ROLES, "items", max_length=256),
                    "ttl_seconds": {"type": "integer", "minimum": MIN_TTL_SECONDS},
                    "max_ttl_seconds": {"type": "integer", "minimum": MIN_TTL_SECONDS},
                    # Issuance limit per caller (limits.py); absent = DEFAULT_LIMIT, null = none (check-policy warns).
                    "limits": {
                        "type": ["object", "null"],
                        "additionalProperties": False,
                        "required": ["burst", "refill_seconds"],
                        "properties": {
                            "burst": {"type": "integer", "minimum": 1, "maximum": MAX_BURST},
                            "refill_seconds": {"type": "number", "minimum": 0.01, "maximum": 86400},
                        },
                    },
                },
            },
        },
    },
}

# SCHEMA compiled ahead of time (python -m schema_codegen, in tools/), not at import: about 8 ms of cold start.
from ._policy_validator import validate as _generated_validate  # noqa: E402

_validate: Callable[[Any], Any] = _generated_validate


@dataclass(frozen=True)
class TopicRule:
    role: str
    names: tuple[str, ...]
    cache_name: str | None = None  # None: the deployment's cache


@dataclass(frozen=True)
class CacheRule:
    role: str
    items: tuple[str, ...]
    cache_name: str | None = None  # None: the deployment's cache


@dataclass(frozen=True)
class Tier:
    name: str
    topics: TopicRule | None
    cache: CacheRule | None
    ttl_seconds: int
    max_ttl_seconds: int
    limit: RateLimit | None = DEFAULT_LIMIT  # None: no issuance limit (the policy's `limits: null`)


@dataclass(frozen=True)
class GroupRule:
    """`groups[index]`: members of `group` get `tier`. The first rule matching one of the caller's groups wins."""

    index: int
    group: str
    tier: str

    def describe(self) -> str:
        return f"groups[{self.index}]: group '{self.group}' -> tier '{self.tier}'"


@dataclass(frozen=True)
class Policy:
    tiers: Mapping[str, Tier]
    groups: tuple[GroupRule, ...]
    anonymous_tier: str | None
    default_tier: str | None
    topic_patterns: str = "prefix"  # one of TOPIC_PATTERN_MODES

    @property
    def mints_topic_prefixes(self) -> bool:
        return self.topic_patterns == "prefix"


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file ({error.strerror})") from None
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            data: Any = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except _Refused as error:  # valid YAML, but not in a policy (see _Loader)
        raise PolicyError(f"{source}:{error.line}: {error.problem}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyError(f"{where}: not valid YAML ({getattr(error, 'problem', None) or error})") from None
    lines = _line_map(root)

    def fail(path: tuple[Any, ...], message: str) -> PolicyError:
        return PolicyError(f"{source}:{_line_of(lines, path)}: {message}")

    try:
        _validate(data)
    except JsonSchemaValueException as error:
        path = tuple(error.path[1:])  # error.path starts with "data"
        raise fail(path, error.message.removeprefix("data").lstrip(". ") or error.message) from None

    tiers: dict[str, Tier] = {}
    for name, spec in data["tiers"].items():
        here = ("tiers", name)
        topics = cache = None
        if "topics" in spec:
            rule = spec["topics"]
            topics = TopicRule(rule["role"], tuple(rule["names"]), rule.get("cache_name"))
        if "cache" in spec:
            rule = spec["cache"]
            cache = CacheRule(rule["role"], tuple(rule["items"]), rule.get("cache_name"))
        if topics is None and cache is None:
            raise fail(here, f"tier '{name}' grants nothing: give it topics, cache, or both")
        patterns = (
            ("topics", "names", topics.names if topics else ()),
            ("cache", "items", cache.items if cache else ()),
        )
        for kind, key, values in patterns:
            for index, pattern in enumerate(values):
                problem = username_overlap(pattern)
                if problem is not None:
                    raise fail((*here, kind, key, index), f"tier '{name}': {problem}")
        if spec["ttl_seconds"] > spec["max_ttl_seconds"]:
            raise fail((*here, "ttl_seconds"), f"tier '{name}': ttl_seconds is over max_ttl_seconds")
        if topics is not None and cache is not None and cache.items != ("*",):
            # Momento's SDK cannot put topic permissions and key-scoped cache permissions in one disposable token
            # (and silently widens such a cache permission to every item): refuse the combination outright.
            raise fail(
                (*here, "cache", "items"),
                f"tier '{name}': a tier with topics may only grant the whole cache (items: ['*']); "
                "Momento cannot mint topics and key-scoped cache items in one token",
            )
        limits = spec.get("limits", _ABSENT)
        limit = (
            DEFAULT_LIMIT
            if limits is _ABSENT
            else None
            if limits is None
            else RateLimit(limits["burst"], float(limits["refill_seconds"]))
        )
        tiers[name] = Tier(name, topics, cache, spec["ttl_seconds"], spec["max_ttl_seconds"], limit)

    groups = []
    for index, rule in enumerate(data["groups"]):
        if rule["tier"] not in tiers:
            raise fail(("groups", index, "tier"), f"groups[{index}] names an unknown tier '{rule['tier']}'")
        groups.append(GroupRule(index, rule["group"], rule["tier"]))
    for key in ("anonymous_tier", "default_tier"):
        if data.get(key) is not None and data[key] not in tiers:
            raise fail((key,), f"{key} names an unknown tier '{data[key]}'")
    return Policy(
        tiers,
        tuple(groups),
        data.get("anonymous_tier"),
        data.get("default_tier"),
        data.get("topic_patterns", "prefix"),
    )


def limit_warnings(policy: Policy) -> list[str]:
    """What `check-policy` warns about a valid policy's limits: a tier with none, and a tier whose limit lets one
    caller alone take more than Momento's per-account mint quota in a second (everyone else is then refused)."""
    warnings = []
    for name, tier in policy.tiers.items():
        limit = tier.limit
        if limit is None:
            warnings.append(
                f"tier '{name}' has no issuance limit (limits: null): one caller can spend the account's "
                f"Momento quota ({MOMENTO_MINTS_PER_SECOND} mints/s) for everyone"
            )
        elif limit.burst > MOMENTO_MINTS_PER_SECOND or 1 / limit.refill_seconds > MOMENTO_MINTS_PER_SECOND:
            warnings.append(
                f"tier '{name}': one caller alone may take {limit.burst} tokens at once and one every "
                f"{limit.refill_seconds:g} s, more than Momento's {MOMENTO_MINTS_PER_SECOND} mints/s per account"
            )
    return warnings


# Momento's most permission statements in one disposable token (production facts).
MOMENTO_STATEMENTS_PER_TOKEN = 20


def statements(tier: Tier, *, control: bool = True) -> tuple[int, int]:
    """(the permission statements of the largest token the tier can be minted, of which for its control topics):
    what Momento's 20 per token is spent on. A `*` is one statement; each other pattern one; a control topic the
    tier's own topics already reach (`*` in the deployment's cache) costs none (momento_tvm.wire)."""
    topics = 0 if tier.topics is None else 1 if "*" in tier.topics.names else len(tier.topics.names)
    items = 0 if tier.cache is None else 1 if "*" in tier.cache.items else len(tier.cache.items)
    can_hold_topics = tier.topics is not None or (tier.cache is not None and "*" in tier.cache.items)
    covered = (
        tier.topics is not None
        and tier.topics.cache_name is None
        and tier.topics.role != "publish_only"
        and any(n == "*" or (n.endswith("*") and CONTROL_TOPIC_PREFIX.startswith(n[:-1])) for n in tier.topics.names)
    )
    listened = 3 if control and can_hold_topics and not covered else 0  # the user's, the tier's and everyone's
    if tier.topics is not None and tier.cache is not None and "*" not in tier.cache.items:
        return max(topics + listened, items), listened  # key-scoped items cannot share a token with topics
    return topics + items + listened, listened


def statement_warnings(policy: Policy) -> list[str]:
    """A tier whose largest token would need more statements than Momento allows in one token."""
    warnings = []
    for name, tier in policy.tiers.items():
        count, control = statements(tier)
        if count > MOMENTO_STATEMENTS_PER_TOKEN:
            warnings.append(
                f"tier '{name}': a token holding all it allows needs {count} permission statements ({control} for its "
                f"control topics), more than Momento's {MOMENTO_STATEMENTS_PER_TOKEN} per token: Momento will refuse "
                "to mint it; use fewer patterns, or a prefix ('room-*') for many names"
            )
    return warnings


def describe_statements(tier: Tier) -> str:
    """A tier's statements in words, for check-policy: `at most 2 permission statements per token (0 for ...)`."""
    count, control = statements(tier)
    return f"at most {count} permission statements per token ({control} for control topics)"


def describe_limit(tier: Tier) -> str:
    """A tier's limit in words, for check-policy: `issuance limit 5 at once, then 1 every 12 s`, or none."""
    if tier.limit is None:
        return "no issuance limit"
    return f"issuance limit {tier.limit.burst} at once, then 1 every {tier.limit.refill_seconds:g} s"


def username_overlap(pattern: str) -> str | None:
    """Why `pattern` would let one user's names reach another's, or None when it cannot (see the module docstring)."""
    if not pattern.endswith("*") or "{username}" not in pattern:
        return None
    for part in pattern.split("{username}")[1:]:
        follower = part[:1]  # "" when another {username} follows at once
        if follower in ("", "*") or follower in TOKEN_ID_CHARS:
            what = repr(follower) if follower else "another {username}"
            return (
                f"pattern '{pattern}' lets one user reach another's names ('{{username}}' is followed by {what}, "
                "so user 'al' would also get the names of 'al-x' or 'alice'): put a character no username can "
                "contain right after {username} (such as ':' or '/'), or end the pattern with {username} and no '*'"
            )
    return None


def _line_map(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Each path in the document -> its 1-based line, so errors can name the line."""
    if node is None:
        return {}
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines |= _line_map(value, (*path, key.value))
            lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines |= _line_map(item, (*path, index))
    return lines


def _line_of(lines: Mapping[tuple[Any, ...], int], path: tuple[Any, ...]) -> int:
    """The line of the deepest part of `path` that exists (a missing key is reported at its parent)."""
    normalized = tuple(int(p) if isinstance(p, str) and re.fullmatch(r"\d+", p) else p for p in path)
    for end in range(len(normalized), -1, -1):
        if normalized[:end] in lines:
            return lines[normalized[:end]]
    return 1


class _OneLineUsageParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr, exit status 2 (argparse prints the usage text first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m momento_tvm check-policy POLICY.yaml...`: one line per file; 0 all valid, 1 one is not, 2 bad usage.

    Run by `make lint`; the same checks as loading the policy, so a file it passes is one the function will load."""
    parser = _OneLineUsageParser(
        prog="python -m momento_tvm check-policy",
        description="Validate tier policy files (the schema of the tier policy, then the rules "
        "a schema cannot state): one line each, 'FILE: ok (...)' or the error with its line number.",
        epilog="exit status: 0 every file is valid, 1 one is not, 2 bad usage",
    )
    parser.add_argument("files", nargs="+", metavar="POLICY.yaml", help="a tier policy file (YAML or JSON)")
    args = parser.parse_args(argv)
    status = 0
    for file in args.files:
        try:
            policy = load_policy(file)
        except PolicyError as error:
            print(error, file=sys.stderr)
            status = 1
        else:
            print(f"{file}: ok ({len(policy.tiers)} tiers, {len(policy.groups)} group rules)")
            for name, tier in policy.tiers.items():
                print(f"  tier {name}: {describe_limit(tier)}; {describe_statements(tier)}")
            for warning in limit_warnings(policy) + statement_warnings(policy):
                print(f"{file}: warning: {warning}", file=sys.stderr)
    return status
