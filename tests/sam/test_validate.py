"""SAM CLI's own template check, offline: `sam validate --lint` with the pinned aws-sam-cli (requirements/sam.txt).

Here, not in tests/unit, because SAM CLI lives in its own venv, which `make install-sam` (a step of `make test`)
creates: where it is missing this fails with what to run, it never skips.
"""

from __future__ import annotations

import os
import subprocess

from sam_local.stack import sam_executable
from tests.sam.conftest import ROOT


def test_sam_validate_lint_passes() -> None:
    result = subprocess.run(
        [str(sam_executable(ROOT)), "validate", "--lint", "--template-file", str(ROOT / "template.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr
