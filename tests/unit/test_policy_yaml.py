"""The policy file is plain YAML: anchors, aliases, merge keys and repeated keys are refused, naming the line.

Why: an alias is a reference, so a few hundred bytes of nested aliases ("billion laughs") stood for billions of values
once the loader walked them (1.5 GB and 13 s); a repeated tier or a merge key let a line further down silently
replace a tier with a wider one. Each refusal is a PolicyError `FILE:LINE: ...`, one line, as for any bad policy.
That PyYAML's pure-Python loader refuses the same (a fresh interpreter without libyaml) is
tests/functional/test_policy_yaml.py.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from momento_tvm import PolicyError, VendingMachine, load_policy, parse_policy
from momento_tvm.minting import Minter

ROOT = Path(__file__).resolve().parents[2]
VALID_POLICIES = [
    ROOT / "functions" / "token_vending" / "policy.yaml",
    ROOT / "examples" / "fastapi_chat" / "policy.yaml",
    ROOT / "tests" / "integration" / "embedded_policy.yaml",
]

# Nine levels of nine aliases: about 387 million "lol"s once expanded, in a few hundred bytes. Its first anchor is on
# line 2; `tiers: *i` would make the policy's tiers the whole expansion.
BILLION_LAUGHS = textwrap.dedent(
    """\
    version: 1
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    groups: []
    tiers: {x: *i}
    """
)

# A valid policy, in block style: the documents below are this one with one thing changed.
BASE = textwrap.dedent(
    """\
    version: 1
    default_tier: member
    groups:
      - group: admins
        tier: staff
    tiers:
      staff:
        topics: {role: publish_subscribe, names: ["*"]}
        ttl_seconds: 600
        max_ttl_seconds: 600
      member:
        topics:
          role: subscribe_only
          names: ["news"]
        ttl_seconds: 60
        max_ttl_seconds: 60
    """
)


def swap(text: str, old: str, new: str) -> str:
    """`text` with `old` (which must be there, so no case is vacuous) replaced by `new`."""
    assert old in text, old
    return text.replace(old, new)


def refusal(text: str, source: str = "p.yaml") -> str:
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


def test_billion_laughs_is_refused_at_its_first_anchor(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    expected = f"{path}:2: a YAML anchor (&a) is not allowed in a policy: write the value out"
    assert str(raised.value) == expected


def test_nothing_after_the_first_anchor_is_read() -> None:
    """Refused as the anchor's parse event arrives: the rest of the file (here not even YAML) is never parsed, so no
    node is ever made from an alias, however many follow."""
    text = swap(BILLION_LAUGHS, "groups: []\n", "groups: [: : {\n")
    assert refusal(text).startswith("p.yaml:2: a YAML anchor (&a)")


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        pytest.param("version: 1\ngroups: []\ntiers: *t\n", 3, "a YAML alias (*t)", id="alias-without-anchor"),
        pytest.param(swap(BASE, "  staff:\n", "  staff: &s\n"), 7, "a YAML anchor (&s)", id="anchor-on-a-tier"),
        pytest.param(swap(BASE, 'names: ["news"]', "names: [&n news]"), 14, "a YAML anchor (&n)", id="scalar"),
        pytest.param(swap(BASE, "  - group", "  - &g group"), 4, "a YAML anchor (&g)", id="in-a-list-item"),
        pytest.param(swap(BASE, "tiers:\n", "tiers: !!map &t\n"), 6, "a YAML anchor (&t)", id="after-a-tag"),
        pytest.param(swap(BASE, "  staff:", "  &k staff:"), 7, "a YAML anchor (&k)", id="on-a-key"),
        pytest.param(
            swap(BASE, "  member:\n", "  member: &m\n") + "  other: *m\n", 11, "a YAML anchor (&m)", id="reused-tier"
        ),
    ],
)
def test_anchors_and_aliases_are_refused_naming_the_line(text: str, line: int, says: str) -> None:
    assert refusal(text) == f"p.yaml:{line}: {says} is not allowed in a policy: write the value out"


def test_a_repeated_tier_is_refused_not_silently_widened(tmp_path: Path) -> None:
    """The second `member` (every topic, publish and subscribe) used to replace the first without a word."""
    path = tmp_path / "policy.yaml"
    path.write_text(
        BASE
        + "  member:\n    topics: {role: publish_subscribe, names: ['*']}\n"
        + "    ttl_seconds: 60\n    max_ttl_seconds: 60\n"
    )
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert str(raised.value).startswith(f"{path}:17: duplicate key 'member' (first at line 11)"), raised.value


@pytest.mark.parametrize(
    ("text", "line", "key", "first"),
    [
        pytest.param("version: 1\n" + BASE, 2, "version", 1, id="top-level"),
        pytest.param(swap(BASE, "    tier: staff\n", "    tier: staff\n    tier: member\n"), 6, "tier", 5, id="list"),
        pytest.param(swap(BASE, "max_ttl_seconds: 60\n", "max_ttl_seconds: 60\n    ttl_seconds: 9\n"), 17,
                     "ttl_seconds", 15, id="in-a-tier"),
        pytest.param(swap(BASE, "      names: [\"news\"]\n", "      names: [\"news\"]\n      role: x\n"),
                     15, "role", 13, id="three-deep"),
        pytest.param(swap(BASE, "{role: publish_subscribe,", "{role: publish_subscribe, role: subscribe_only,"), 8,
                     "role", 8, id="flow-mapping-one-line"),
        pytest.param(swap(swap(BASE, "  staff:\n", "  'staff':\n"), "  member:\n", "  staff:\n"), 11, "staff", 7,
                     id="quoted-and-plain"),
    ],
)  # fmt: skip
def test_a_repeated_key_at_any_depth_is_refused_naming_the_key(text: str, line: int, key: str, first: int) -> None:
    assert refusal(text) == (
        f"p.yaml:{line}: duplicate key '{key}' (first at line {first}): a key may appear once in a mapping, "
        "or the later one would silently replace the first"
    )


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(swap(BASE, "    ttl_seconds: 600\n", "    <<: {ttl_seconds: 600}\n"), 9, id="into-a-tier"),
        pytest.param(swap(BASE, "version: 1\n", "<<: {version: 1}\n"), 1, id="top-level"),
        pytest.param(swap(BASE, "  staff:\n", "  staff:\n    <<: [{description: x}]\n"), 8, id="list-of-maps"),
    ],
)
def test_a_merge_key_is_refused(text: str, line: int) -> None:
    assert refusal(text) == f"p.yaml:{line}: a YAML merge key (<<) is not allowed in a policy: write the keys out"


def test_deep_nesting_is_refused_with_its_line_not_a_crash() -> None:
    text = swap(BASE, 'names: ["news"]', "names: " + "[" * 900 + "]" * 900)
    assert refusal(text).startswith("p.yaml:14: nested more than 32 levels deep")


@pytest.mark.parametrize("path", VALID_POLICIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_shipped_policies_still_load(path: Path) -> None:
    assert load_policy(path).tiers


def test_the_base_document_is_valid() -> None:
    assert set(parse_policy(BASE).tiers) == {"staff", "member"}


def no_minter() -> Minter:
    raise AssertionError("nothing is minted here")


def test_a_mapping_policy_still_works_and_its_strings_are_only_strings() -> None:
    """A mapping goes through the same parser as JSON: `&`, `*` and `<<` inside its strings are text, and a key "<<"
    is an unknown key (the schema's error), never a merge."""
    document: dict[str, Any] = yaml.safe_load(BASE)
    document["tiers"]["member"]["description"] = "&a *a <<: {x: 1}"
    document["groups"].append({"group": "g", "tier": "member"})
    machine = VendingMachine(document, no_minter, cache_name="c")
    assert machine.policy.tiers["member"].topics is not None
    assert [rule.group for rule in machine.policy.groups] == ["admins", "g"]
    with pytest.raises(PolicyError, match=r"^<policy mapping>:1: .*must not contain"):
        VendingMachine({**document, "<<": {"version": 1}}, no_minter, cache_name="c")


def block_lines(document: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False).splitlines()


KEY_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- )?(?P<key>[a-z_]+): (?P<value>\S.*)$")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_repeated_key_anywhere_is_refused_at_the_repeat(data: st.DataObject) -> None:
    """Any `key: value` line of a valid policy, written twice in its mapping: refused at the second, naming the key."""
    lines = block_lines(yaml.safe_load(BASE))
    candidates = [index for index, line in enumerate(lines) if KEY_LINE.match(line)]
    index = data.draw(st.sampled_from(candidates))
    match = KEY_LINE.match(lines[index])
    assert match is not None
    indent = match["indent"] + ("  " if match["dash"] else "")
    value = data.draw(st.sampled_from([match["value"], "1", "'*'", "other"]))
    text = "\n".join([*lines[: index + 1], f"{indent}{match['key']}: {value}", *lines[index + 1 :]]) + "\n"
    assert refusal(text).startswith(f"p.yaml:{index + 2}: duplicate key '{match['key']}' (first at line {index + 1})")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_an_anchor_on_any_value_is_refused_at_its_line(data: st.DataObject) -> None:
    lines = block_lines(yaml.safe_load(BASE))
    candidates = [index for index, line in enumerate(lines) if KEY_LINE.match(line)]
    index = data.draw(st.sampled_from(candidates))
    name = data.draw(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
    match = KEY_LINE.match(lines[index])
    assert match is not None
    lines[index] = f"{match['indent']}{match['dash'] or ''}{match['key']}: &{name} {match['value']}"
    assert refusal("\n".join(lines) + "\n") == (
        f"p.yaml:{index + 1}: a YAML anchor (&{name}) is not allowed in a policy: write the value out"
    )
