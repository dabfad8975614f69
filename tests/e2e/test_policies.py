"""The browser tests' tier policies (tests/e2e/policy.yaml, policy_tight.yaml) are the deployed policy but for each
tier's `limits`, and they load: a change of the deployed tiers that these copies miss fails here, not in chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from momento_tvm.limits import RateLimit
from momento_tvm.policy import load_policy
from tests.e2e.stacks import E2E_POLICY, TIGHT_POLICY

DEPLOYED = Path(__file__).resolve().parents[2] / "functions" / "token_vending" / "policy.yaml"


def without_limits(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for tier in document["tiers"].values():
        tier.pop("limits", None)
    return document


@pytest.mark.parametrize("policy", [E2E_POLICY, TIGHT_POLICY], ids=["policy.yaml", "policy_tight.yaml"])
def test_a_browser_policy_is_the_deployed_one_but_for_its_limits(policy: Path) -> None:
    assert without_limits(policy) == without_limits(DEPLOYED)


def test_the_limits_are_the_ones_the_comments_state() -> None:
    unlimited = load_policy(E2E_POLICY)
    assert {name: tier.limit for name, tier in unlimited.tiers.items()} == {
        "readwrite": None,
        "readonly": None,
        "guest": None,
    }
    tight = load_policy(TIGHT_POLICY)
    assert {name: tier.limit for name, tier in tight.tiers.items()} == {
        "readwrite": RateLimit(burst=1, refill_seconds=20),
        "readonly": None,
        "guest": None,
    }
