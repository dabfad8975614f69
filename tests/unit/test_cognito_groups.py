"""The Cognito groups template.yaml creates agree with the tier policy's group rules, the one source of group names.

The policy also maps `ReadWriteUserGroup` / `ReadOnlyUserGroup`, the group names of Momento's example Cognito pool,
so that users coming from it keep their tier. The template does NOT create them, and this test excludes exactly
those two, because:
- a fresh pool with two groups per tier would leave administrators guessing which one to use, and `list-users`
  would show the same tier under two names;
- a rule for a group the pool lacks grants nothing to anyone (nobody can be in a group that does not exist), so the
  aliases cost nothing while unused, and take effect only where an operator recreates Momento's groups on purpose
  (`aws cognito-idp create-group --group-name ReadWriteUserGroup ...`) while moving users over.
Any other disagreement fails: a template group with no rule (its members would silently get `default_tier`), or a
rule for a group the template does not create and that is not one of the two aliases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from samtranslator.yaml_helper import yaml_parse

from momento_tvm.policy import Policy, load_policy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE: Final[dict[str, Any]] = yaml_parse((ROOT / "template.yaml").read_text())
# The policy file the template deploys (the vending function's POLICY_FILE, relative to its code).
POLICY_FILE: Final = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["POLICY_FILE"]
POLICY: Final[Policy] = load_policy(ROOT / "functions" / "token_vending" / POLICY_FILE)
# Momento's example pool's group names -> the group of ours each one stands for.
MIGRATION_ALIASES: Final = {"ReadWriteUserGroup": "readwrite", "ReadOnlyUserGroup": "readonly"}


def template_groups() -> dict[str, dict[str, Any]]:
    """GroupName -> properties of every AWS::Cognito::UserPoolGroup in the template."""
    groups: dict[str, dict[str, Any]] = {}
    for resource in TEMPLATE["Resources"].values():
        if resource["Type"] == "AWS::Cognito::UserPoolGroup":
            properties: dict[str, Any] = resource["Properties"]
            assert properties["GroupName"] not in groups, f"group {properties['GroupName']} is declared twice"
            groups[properties["GroupName"]] = {**properties, "Condition": resource.get("Condition")}
    return groups


def policy_tiers() -> dict[str, str]:
    """group -> tier, as `decide` reads the rules (the first rule for a group wins)."""
    tiers: dict[str, str] = {}
    for rule in POLICY.groups:
        tiers.setdefault(rule.group, rule.tier)
    return tiers


def test_the_template_creates_exactly_the_policys_groups_but_the_migration_aliases() -> None:
    created = set(template_groups())
    ruled = set(policy_tiers())
    assert created == ruled - set(MIGRATION_ALIASES), (
        f"template groups {sorted(created)} vs policy groups {sorted(ruled)}, "
        f"aliases excluded: {sorted(MIGRATION_ALIASES)}"
    )
    assert not created & set(MIGRATION_ALIASES), "the template must not create Momento's example group names"


def test_the_excluded_aliases_are_in_the_policy_and_give_their_groups_tiers() -> None:
    """The exclusion list stays honest: each alias still has a rule, with the same tier as the group it stands for."""
    tiers = policy_tiers()
    for alias, group in MIGRATION_ALIASES.items():
        assert alias in tiers, f"{alias} is excluded from the check but the policy has no rule for it"
        assert tiers[alias] == tiers[group], f"{alias} gives tier {tiers[alias]}, {group} gives {tiers[group]}"


def test_every_template_group_is_in_the_pool_and_only_in_cognito_mode() -> None:
    groups = template_groups()
    assert groups, "the template creates no Cognito group"
    for name, properties in groups.items():
        assert properties["UserPoolId"] == {"Ref": "UserPool"}, name
        assert properties["Condition"] == "IsCognito", name
        assert properties.get("Description"), f"group {name} has no Description (administrators see it)"


def test_the_pools_precedence_orders_groups_as_the_policys_rules_do() -> None:
    """Cognito's Precedence (lower first) and the policy's first-match order say the same thing about a user in two
    groups: the first rule's group, readwrite, has the lowest precedence number."""
    groups = template_groups()
    rule_order = [rule.group for rule in POLICY.groups if rule.group in groups]
    by_precedence = sorted(groups, key=lambda name: int(groups[name]["Precedence"]))
    assert by_precedence == rule_order
    assert len({int(properties["Precedence"]) for properties in groups.values()}) == len(groups)
