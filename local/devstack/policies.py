"""Stack policies with explicit issuance limits: the deployed tiers, each tier's `limits` replaced.

For what runs many tokens through a stack and is not about limits (the benchmarks, the soak, most tests): thousands
of `GET /token` from one user would otherwise measure 429s. Derived from the deployed policy, so the tiers and scopes
are the real ones, not a copy that could drift. Pass the file as `StackConfig(policy=...)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

DEPLOYED_POLICY = Path(__file__).resolve().parents[2] / "functions" / "token_vending" / "policy.yaml"


def policy_with_limits(directory: Path, limits: dict[str, Any] | None, name: str = "policy.json") -> Path:
    """The deployed policy with every tier's `limits` set to `limits` (None: no limit), written to directory/name
    (JSON, which the policy loader reads as the YAML it is)."""
    document = yaml.safe_load(DEPLOYED_POLICY.read_text(encoding="utf-8"))
    for tier in document["tiers"].values():
        tier["limits"] = limits
    path = directory / name
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path
