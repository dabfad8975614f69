"""`python -m momento_tvm check-policy` as a user runs it: help is help (not a file named --help), bad usage is one
line and exit status 2, a bad file is its error line and exit status 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "momento_tvm", *args], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_check_policy_help_prints_its_usage(flag: str) -> None:
    result = cli("check-policy", flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m momento_tvm check-policy "), result.stdout
    assert "POLICY.yaml" in result.stdout and "exit status" in result.stdout
    assert result.stderr == ""


def test_the_top_level_help_names_the_command() -> None:
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    assert "check-policy" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "a command is required"),
        (("check_policy",), "unknown command 'check_policy'"),
        (("check-policy",), "the following arguments are required: POLICY.yaml"),
        (("check-policy", "--strict", str(POLICY)), "unrecognized arguments: --strict"),
    ],
)
def test_bad_usage_is_one_line_and_exit_status_2(args: tuple[str, ...], says: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert says in result.stderr and "--help" in result.stderr, result.stderr


def test_valid_and_invalid_files_one_line_each(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ndefault_tier: nowhere\ngroups: []\ntiers: {}\n")
    result = cli("check-policy", str(POLICY), str(broken))
    assert result.returncode == 1
    ok_line, *limit_lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(POLICY))}: ok \(\d+ tiers, \d+ group rules\)", ok_line), result.stdout
    assert limit_lines == [
        "  tier readwrite: issuance limit 5 at once, then 1 every 12 s; "
        "at most 2 permission statements per token (0 for control topics)",
        "  tier readonly: issuance limit 5 at once, then 1 every 12 s; "
        "at most 2 permission statements per token (0 for control topics)",
        "  tier guest: issuance limit 3 at once, then 1 every 20 s; "
        "at most 5 permission statements per token (3 for control topics)",
    ]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"{broken}:"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_named_like_an_option_still_works_after_a_double_dash(tmp_path: Path) -> None:
    odd = tmp_path / "--policy.yaml"
    odd.write_text(POLICY.read_text())
    result = subprocess.run(
        [sys.executable, "-m", "momento_tvm", "check-policy", "--", odd.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("--policy.yaml: ok")


def test_anchors_repeated_keys_and_merge_keys_are_one_line_each(tmp_path: Path) -> None:
    """The billion laughs is refused at its first anchor (not expanded), a repeated tier and a merge key at theirs."""
    laughs = tmp_path / "laughs.yaml"
    laughs.write_text(
        "version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True))
        + "groups: []\ntiers: {t: *i}\n"
    )
    tier = "    topics: {role: publish_subscribe, names: ['*']}\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n"
    repeated = tmp_path / "repeated.yaml"
    repeated.write_text(f"version: 1\ngroups: []\ntiers:\n  t:\n{tier}  t:\n{tier}")
    merged = tmp_path / "merged.yaml"
    merged.write_text(f"version: 1\ngroups: []\ntiers:\n  t:\n{tier}    <<: {{ttl_seconds: 60}}\n")
    result = cli("check-policy", str(laughs), str(repeated), str(merged))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{laughs}:2: a YAML anchor (&a) is not allowed in a policy: write the value out",
        f"{repeated}:8: duplicate key 't' (first at line 4): a key may appear once in a mapping, "
        "or the later one would silently replace the first",
        f"{merged}:8: a YAML merge key (<<) is not allowed in a policy: write the keys out",
    ], result.stderr


def test_a_tier_without_a_limit_or_over_momentos_quota_is_valid_with_a_warning(tmp_path: Path) -> None:
    loose = tmp_path / "loose.yaml"
    tiers = "".join(
        f"  {name}:\n    topics: {{role: subscribe_only, names: ['*']}}\n    ttl_seconds: 60\n    max_ttl_seconds: 60\n"
        f"    limits: {limits}\n"
        for name, limits in (("open", "null"), ("greedy", "{burst: 50, refill_seconds: 1}"))
    )
    loose.write_text(f"version: 1\ndefault_tier: open\ngroups: []\ntiers:\n{tiers}")
    result = cli("check-policy", str(loose))
    assert result.returncode == 0, result.stderr
    assert "  tier open: no issuance limit" in result.stdout
    assert "  tier greedy: issuance limit 50 at once, then 1 every 1 s; " in result.stdout
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2 and all(line.startswith(f"{loose}: warning: tier '") for line in warnings), warnings
