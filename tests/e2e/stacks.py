"""The offline stack every browser test runs against: `make dev`'s (devstack's `Stack`) on free ports, with explicit
test values instead of `make dev`'s defaults, so that a change of those defaults changes no browser test:

- the tier policy: `policy.yaml` here (the deployed tiers, no issuance limit: tests/e2e/policy.yaml says why), or the
  one a test names;
- Momento's auth quota: off (`momento_auth_quota=None`; `make dev` plays Momento's 5 per second), unless a test sets it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from devstack import StackConfig

__all__ = ["E2E_POLICY", "TIGHT_POLICY", "stack_config"]

E2E_POLICY: Final = Path(__file__).resolve().with_name("policy.yaml")
TIGHT_POLICY: Final = Path(__file__).resolve().with_name("policy_tight.yaml")


def stack_config(auth: str, **settings: Any) -> StackConfig:
    """A browser test's stack in `auth` mode: free ports, E2E_POLICY, no Momento quota; `settings` override any."""
    values: dict[str, Any] = {
        "api_port": 0,
        "site_port": 0,
        "momento_grpc_port": 0,
        "momento_web_port": 0,
        "moto_port": 0,
        "policy": E2E_POLICY,
        "momento_auth_quota": None,
    }
    return StackConfig(auth=auth, **(values | settings))
