"""The reproductions of the `{username}` patterns that let one user reach another's names (`u-{username}-*`,
`inbox-{username}*`: found by attacking `make dev`): refused by the loader, and by `python -m momento_tvm
check-policy` at their line. The properties, the oracle and the helpers shared here are
tests/unit/test_policy_properties.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from momento_tvm import PolicyError, parse_policy
from tests.unit.test_policy_properties import allowed, policy_text

# --- the reproductions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "owner", "intruder", "name"),
    [
        ("u-{username}-*", "al-x", "al", "u-al-x-profile"),
        ("inbox-{username}*", "alice", "al", "inbox-alice"),
        ("{username}.*", "al.x", "al", "al.x.secret"),
        ("dm {username} *", "al x", "al", "dm al x y"),
    ],
)
def test_username_prefixes_that_reach_other_users_are_refused(
    pattern: str, owner: str, intruder: str, name: str, tmp_path: Path
) -> None:
    assert allowed(pattern, owner, name) and allowed(pattern, intruder, name)  # the hole, by the documented rule
    for source in (policy_text([pattern], None), policy_text(None, [pattern])):
        with pytest.raises(PolicyError, match=r"lets one user reach another's names"):
            parse_policy(source)
    path = tmp_path / "policy.yaml"
    path.write_text(policy_text(None, [pattern]))
    checked = subprocess.run(
        [sys.executable, "-m", "momento_tvm", "check-policy", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 1
    assert "{username}" in checked.stderr and ":1:" in checked.stderr
