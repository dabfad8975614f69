"""`make test-deploy-broken` (opt-in, not in `make test`): the deploy test's checks against deliberately broken copies
of the project. Each copy breaks one thing a real deployment breaks on; the check that guards it must fail.

A copy is a temporary folder whose entries are symbolic links to this clone's, except the files a breakage edits,
which are copied first (their folders too). The deploy test runs from this clone with DEPLOY_TEST_ROOT naming the
copy: the template, the functions, the docs, `make publish` and the project's CLIs come from the copy; the venvs and
SAM CLI's build caches from this clone. First a baseline: the same selection of tests on the unbroken clone, which
must pass. Exit status 0 when the baseline passes and every breakage fails its check, 1 otherwise.

    .venv/bin/python tests/deploy/broken.py [--no-baseline] [NAME ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPO: Final = Path(__file__).resolve().parents[2]
PYTHON: Final = REPO / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class Breakage:
    name: str
    what: str
    path: str  # the file it edits, relative to the root
    edit: Callable[[str], str]
    tests: str  # a pytest -k expression: the check that must fail


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) == 1, f"the breakage no longer applies: {old!r} is not in the file once"
        return text.replace(old, new)

    return edit


def _drop_requirement(name: str) -> Callable[[str], str]:
    """One package removed from a requirements file: its `name==version` line and the lines that continue it (hashes,
    `# via` comments), plain or hashed alike."""
    canonical = re.sub(r"[-_.]+", "-", name).lower()

    def edit(text: str) -> str:
        kept, dropping, dropped = [], False, 0
        for line in text.splitlines(keepends=True):
            if line[:1] not in (" ", "\t", "\n"):  # a new entry (or a top-level comment) ends the one being dropped
                match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
                dropping = bool(match) and re.sub(r"[-_.]+", "-", match.group(1)).lower() == canonical
                dropped += dropping
            if not dropping:
                kept.append(line)
        assert dropped == 1, f"the breakage no longer applies: {name} is not pinned once"
        return "".join(kept)

    return edit


def _drop_resource(name: str) -> Callable[[str], str]:
    """A top-level resource of template.yaml removed (from its line to the next resource's)."""

    def edit(text: str) -> str:
        match = re.search(rf"(?ms)^  {name}:\n.*?(?=^  [A-Za-z]|^  # -{{3,}}|^Outputs:)", text)
        assert match, f"the breakage no longer applies: no resource {name}"
        return text[: match.start()] + text[match.end() :]

    return edit


BREAKAGES: Final = (
    Breakage(
        "output-renamed",
        "template.yaml's output SiteUrl renamed SiteURL",
        "template.yaml",
        _replace("  SiteUrl:\n", "  SiteURL:\n"),
        "test_the_stack_completes_with_each_documented_output and Open",
    ),
    Breakage(
        "authorizer-allows-wrong-password",
        "the authorizer lets a known user in with any password",
        "authorizers/credentials/app.py",
        _replace(
            "    result = authenticate(snapshot.store, username, password)\n",
            "    result = authenticate(snapshot.store, username, password)\n"
            "    if result is None and username in snapshot.store.users:  # broken on purpose\n"
            "        result = (username, snapshot.store.users[username].groups)\n",
        ),
        "test_the_deployed_api_answers_as_documented and LambdaAuthorizer",
    ),
    Breakage(
        "dependency-removed-pyyaml",
        "PyYAML removed from the vending function's requirements.txt (MiniStack's own PyYAML hides it under MiniStack)",
        "functions/token_vending/requirements.txt",
        _drop_requirement("PyYAML"),
        "test_every_build_output_imports_on_its_own",
    ),
    Breakage(
        "dependency-removed-wire-types",
        "momento-wire-types removed from the vending function's requirements.txt (only a mint imports it)",
        "functions/token_vending/requirements.txt",
        _drop_requirement("momento-wire-types"),
        "test_every_build_output_imports_on_its_own or (test_sam_deploy_completes and Open)",
    ),
    Breakage(
        "config-js-elsewhere",
        "make publish writes the site's URL as config.js's apiUrl",
        "tools/site_tools/publish.py",
        _replace('api_url=outputs["ApiUrl"]', 'api_url=outputs["SiteUrl"]'),
        "test_make_publish_puts_the_built_site_and_a_correct_config_js_in_the_bucket and Open",
    ),
    Breakage(
        "policy-statement-removed",
        "the vending function's policy (GetSecretValue on the key's secret) removed; MiniStack enforces IAM",
        "template.yaml",
        _replace(
            "        - AWSSecretsManagerGetSecretValuePolicy:\n            SecretArn: !If "
            "[CreateMomentoApiKeySecret, !Ref MomentoApiKeySecret, !Ref MomentoApiKeySecretArn]\n",
            "",
        ),
        "test_the_deployed_api_answers_as_documented and Open",
    ),
    Breakage(
        "table-statement-removed",
        "the vending function's DynamoDB statement (BatchGetItem, UpdateItem and GetItem on the issuance table) "
        "removed; MiniStack enforces IAM, and StoreFailureMode=Allow then vends unchecked",
        "template.yaml",
        _replace(
            "        - Statement:\n            - Effect: Allow\n              Action: [dynamodb:BatchGetItem, "
            "dynamodb:UpdateItem, dynamodb:GetItem]\n              Resource: !GetAtt IssuanceTable.Arn\n",
            "",
        ),
        "test_the_deployed_issuance_limit_holds_and_its_table_is_shared and Open",
    ),
    Breakage(
        "revocations-read-removed",
        "the vending function may no longer BatchGetItem the issuance table (the revocations' check); MiniStack "
        "enforces IAM, the check fails, and StoreFailureMode=Allow then vends to a revoked user",
        "template.yaml",
        _replace(
            "Action: [dynamodb:BatchGetItem, dynamodb:UpdateItem, dynamodb:GetItem]",
            "Action: [dynamodb:UpdateItem, dynamodb:GetItem]",
        ),
        "test_a_revoked_user_and_paused_tiers_are_refused_by_the_deployed_function_and_restored",
    ),
    Breakage(
        "deploy-check-policy-removed",
        "the deploy check's own policy (GetFunction and InvokeFunction on the functions) removed",
        "template.yaml",
        _replace(
            "            - Effect: Allow\n              Action: [lambda:GetFunction, lambda:InvokeFunction]\n"
            "              Resource:\n                - !GetAtt TokenVendingFunction.Arn\n                - !If "
            "[IsLambdaAuthorizer, !GetAtt CredentialsAuthorizerFunction.Arn, !Ref AWS::NoValue]\n",
            "",
        ),
        "test_sam_deploy_completes and Open",
    ),
    Breakage(
        "default-build-x86_64",
        "the template's default LambdaArchitecture x86_64: the plain `sam build` is for the host, not arm64",
        "template.yaml",
        _replace("    Default: arm64\n", "    Default: x86_64\n"),
        "test_the_default_build_is_arm64_with_aarch64_native_extensions",
    ),
    Breakage(
        "no-deploy-check",
        "template.yaml without its DeployCheck custom resource: the architecture trap is open again",
        "template.yaml",
        _drop_resource("DeployCheck"),
        "test_an_arm64_build_deployed_as_x86_64_is_refused_before_the_stack_is_usable",
    ),
)


# Always real copies: SAM CLI resolves a symbolic link to the template, and then builds the code beside its target.
COPIED: Final = ("template.yaml", "samconfig.toml", "functions", "authorizers")


def make_copy(breakage: Breakage, into: Path) -> None:
    """`into` as this clone, by symbolic links, but for the code SAM builds and the edited file's top-level entry,
    copied (then edited)."""
    copied = {*COPIED, Path(breakage.path).parts[0]}
    for entry in REPO.iterdir():
        if entry.name in (".git", ".aws-sam", ".stamps"):
            continue
        if entry.name not in copied:
            (into / entry.name).symlink_to(entry)
        elif entry.is_dir():
            ignored = shutil.ignore_patterns("__pycache__", "node_modules", "*.egg-info")
            shutil.copytree(entry, into / entry.name, symlinks=True, ignore=ignored)
        else:
            shutil.copy2(entry, into / entry.name)
    edited = into / breakage.path
    edited.write_text(breakage.edit(edited.read_text()))
    # Make's stamps of its own, newer than every file (the edited one too): `make publish` in the copy must find its
    # installs done and never install again, since .venv is this clone's (an editable install made from the copy
    # would point this clone's venv at a folder about to be deleted).
    (into / ".stamps").mkdir()
    for stamp in (REPO / ".stamps").iterdir():
        (into / ".stamps" / stamp.name).touch()


def venv_points_here() -> list[str]:
    """The .pth files of this clone's venv that name a folder outside it (what an install from a copy would leave)."""
    site = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    wrong = []
    for pth in (*site.glob("__editable__*.pth"), *site.glob("momento_tvm_dev_tools.pth")):
        for line in pth.read_text().splitlines():
            if line.startswith("/") and not line.startswith(str(REPO)):
                wrong.append(f"{pth.name}: {line}")
    return wrong


def run_tests(selection: str, root: Path | None) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTEST_ADDOPTS")}
    env["COLUMNS"] = "400"  # pytest's summary line keeps each failure's message
    if root is not None:
        env["DEPLOY_TEST_ROOT"] = str(root)
    started = time.perf_counter()
    result = subprocess.run(
        [str(PYTHON), "-m", "pytest", "tests/deploy", "-q", "-p", "no:cacheprovider", "-k", selection, "-rf"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.perf_counter() - started


def failures(output: str) -> list[str]:
    return [line[len("FAILED ") :] for line in output.splitlines() if line.startswith("FAILED ")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"breakages to run (default: all): {[b.name for b in BREAKAGES]}")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unbroken clone")
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKAGES if not args.names or b.name in args.names]
    if not chosen:
        parser.error("no such breakage")
    ok = True
    if not args.no_baseline:
        selection = " or ".join(f"({b.tests})" for b in chosen)
        code, output, seconds = run_tests(selection, None)
        summary = output.strip().splitlines()[-1] if output.strip() else ""
        print(f"baseline (this clone, unbroken): {'PASSED' if code == 0 else 'FAILED'} in {seconds:.0f} s: {summary}")
        if code != 0:
            ok = False
            print("\n".join(f"  FAILED {line}" for line in failures(output)) or output[-3000:])
    for breakage in chosen:
        with tempfile.TemporaryDirectory(prefix=f"tvm-broken-{breakage.name}-") as folder:
            make_copy(breakage, Path(folder))
            code, output, seconds = run_tests(breakage.tests, Path(folder))
        failed = failures(output)
        caught = code != 0 and bool(failed)
        ok = ok and caught
        print(f"{breakage.name}: {breakage.what}")
        if caught:
            print(f"  caught in {seconds:.0f} s:")
            for line in failed:
                print(f"    FAILED {line[:400]}")
        else:
            print(f"  NOT caught (pytest exit status {code}, {seconds:.0f} s): {output.strip().splitlines()[-1:]}")
    wrong = venv_points_here()
    if wrong:
        ok = False
        print(f"this clone's venv now names folders outside it (run `make install` again): {wrong}")
    print("every breakage was caught" if ok else "SOME BREAKAGE WAS NOT CAUGHT, or the baseline failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
