"""cfn-lint on template.yaml, as `make lint` runs it (a process: the functional tier)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


# awslabs' serverless rules (cfn-lint-serverless), as `make lint` appends them: last, since --append-rules takes
# every argument after it.
SERVERLESS_RULES = ["--append-rules", "cfn_lint_serverless.rules"]


def _cfn_lint(*arguments: str) -> subprocess.CompletedProcess[str]:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    return subprocess.run(
        [str(cfn_lint), *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_cfn_lint_passes_without_warnings() -> None:
    result = _cfn_lint(str(TEMPLATE), *SERVERLESS_RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_makes_lint_appends_the_serverless_rules() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "cfn-lint template.yaml --append-rules cfn_lint_serverless.rules" in makefile


def test_the_serverless_rules_are_loaded_and_only_the_two_explained_checks_are_ignored(tmp_path: Path) -> None:
    """Without the functions' ignore_checks, exactly WS1000 (Tracing is a parameter) and WS1004 (a log group named
    /aws/lambda/<function>, which an upgraded stack cannot declare) are reported: the rules run, and nothing else is
    excepted."""
    text = TEMPLATE.read_text(encoding="utf-8")
    unexcepted = text.replace("ignore_checks: [WS1000, WS1004]", "ignore_checks: []")
    assert unexcepted.count("ignore_checks: []") == 4  # each function: vending, authorizer, deploy check, canary
    copy = tmp_path / "template.yaml"
    copy.write_text(unexcepted, encoding="utf-8")
    result = _cfn_lint("--format", "parseable", str(copy), *SERVERLESS_RULES)
    found = {line.split(":")[5] for line in result.stdout.splitlines() if line.strip()}
    assert found == {"WS1000", "WS1004"}, result.stdout + result.stderr
