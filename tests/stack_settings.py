"""Explicit stack settings for the tests that run many tokens through a stack and are not about issuance limits:
the deployed tiers with no limit (devstack.policies). The limits have their own tests
(tests/integration/test_issuance_limits.py, test_devstack_limits.py, the browser's)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from devstack.policies import policy_with_limits


@functools.cache
def unlimited_policy() -> Path:
    """The deployed policy, every tier without an issuance limit: one file for the session."""
    return policy_with_limits(Path(tempfile.mkdtemp(prefix="tests-policy-")), None)
