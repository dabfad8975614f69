"""`make sam-api`'s own checks, fast and without Docker: what it refuses, what it reads from this machine."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from devstack.seed import ISSUANCE_TABLE_NAME, USERS_SECRET_NAME, secret_arn
from sam_local.image import _codename, debian_mirror
from sam_local.stack import ENV_VARS_FILE
from tests.sam.conftest import ROOT


def test_cognito_mode_is_refused_plainly_and_at_once() -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sam_local", "api", "--auth", "AmazonCognito"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SAM CLI has no local JWT authorizer" in result.stderr
    assert "AUTH=LambdaAuthorizer" in result.stderr
    assert result.stdout == ""
    assert time.perf_counter() - started < 10  # refused before dockerd, the image or a build


def test_the_env_vars_file_names_the_seeded_users_secret_and_issuance_table() -> None:
    """What the template gives as a `!Ref` (which SAM CLI cannot resolve without a stack) is what make sam-api seeds."""
    assert json.loads(ENV_VARS_FILE.read_text()) == {
        "CredentialsAuthorizerFunction": {"USERS_SECRET_ARN": secret_arn(USERS_SECRET_NAME)},
        "TokenVendingFunction": {"LIMITS_TABLE": ISSUANCE_TABLE_NAME},
    }


def test_the_debian_mirror_is_read_from_either_apt_format(tmp_path: Path) -> None:
    """debootstrap gets this machine's release from this machine's mirror (the security suite is not a mirror)."""
    release = _codename()
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        f"Types: deb\n# a comment\nURIs: http://mirror.example/debian/\nSuites: {release} {release}-updates\n"
        f"Components: main\n\nTypes: deb\nURIs: http://security.example/debian-security\nSuites: {release}-security\n"
    )
    assert debian_mirror(tmp_path) == ("http://mirror.example/debian", release)
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(f"deb [arch=amd64] http://old.example/debian {release} main\n")
    assert debian_mirror(tmp_path) == ("http://old.example/debian", release)
