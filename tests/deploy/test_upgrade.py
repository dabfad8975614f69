"""An upgrade, as a user with a running stack makes it: a stack deployed from the template of the commit before the
stack-owned log groups (UPGRADE_FROM: built and deployed from that commit's own files and docs page), having served a
request (so Lambda made its `/aws/lambda/<function>` group), is updated with today's build and docs page.

On AWS, declaring a log group of an existing name fails the update; the template never does that (its groups are
`/tvm/<stack>/...`, reached through each function's LoggingConfig). MiniStack would let a clashing name through, so
what this checks is what the template promises: the update completes, the function then logs to the stack's own
group while the old group stays (the operator's to delete), and `sam delete` removes the stack's groups.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Final

import pytest

from momento_emulator import DEFAULT_API_KEY

from .conftest import World
from .docs_page import DeployPage
from .stacks import Deployment, delete, deploy, failed_reasons, force_delete, sam_build
from .world import REPO, REPORT, Shell, request

pytestmark = pytest.mark.timeout(1200)

# main before issue 26 (its log groups, alarms and canary): the template a stack deployed until then was made from.
UPGRADE_FROM: Final = "8259754"
MODE: Final = "Open"  # one mode is enough: every function gets its group the same way; Open needs no user


def _old_tree(into: Path) -> Path:
    """UPGRADE_FROM's files (git archive: no worktree to clean up), as a user's older checkout."""
    archive = into / "old.tar"
    subprocess.run(["git", "archive", "-o", str(archive), UPGRADE_FROM], cwd=REPO, check=True, timeout=120)
    root = into / "old"
    root.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


def _vend(deployment: Deployment) -> None:
    answer = request(f"{deployment.base_url}/token?name=Upgrade")
    assert answer.status == 200, answer


def _log_groups(world: World, prefix: str) -> list[str]:
    logs = world.ministack.client("logs")
    return [group["logGroupName"] for group in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]]


def _streams(world: World, group: str) -> int:
    return len(world.ministack.client("logs").describe_log_streams(logGroupName=group)["logStreams"])


def test_a_stack_of_the_previous_template_updates_to_its_own_log_groups(world: World) -> None:
    world.build("x86_64")  # today's build first: two `sam build --cached` at once would share SAM's dependency cache
    world.build("arm64")
    scratch = Path(tempfile.mkdtemp(prefix="tvm-upgrade-"))
    deployment: Deployment | None = None
    try:
        old_root = _old_tree(scratch)
        old_shell = Shell(old_root, world.ministack, scratch / "bin", world.python313)
        old_page = DeployPage(old_root / "docs" / "deploy.md")
        old_build = sam_build(old_shell, old_page, "x86_64")
        with world.deploy_lock:
            deployment = deploy(
                old_shell,
                old_page,
                old_build,
                MODE,
                probes=world.probes,
                api_key=DEFAULT_API_KEY,
                momento_endpoint=world.momento_endpoint,
            )
        assert deployment.ran.returncode == 0, f"{failed_reasons(deployment)}\n{deployment.ran.tail()}"
        stack = deployment.stack
        vending = deployment.physical("TokenVendingFunction")
        assert not any(r["ResourceType"] == "AWS::Logs::LogGroup" for r in deployment.resources)  # the old template
        _vend(deployment)
        lambdas_group = f"/aws/lambda/{vending}"
        assert lambdas_group in _log_groups(world, lambdas_group), "the old function logged nowhere"

        # Today's build and docs page, on the same stack: a change set of type UPDATE.
        with world.deploy_lock:
            updated = deploy(
                world.shell,
                world.page,
                world.build("x86_64"),
                MODE,
                probes=world.probes,
                api_key=DEFAULT_API_KEY,
                momento_endpoint=world.momento_endpoint,
                stack=stack,
            )
        deployment = updated
        assert updated.ran.returncode == 0, f"{failed_reasons(updated)}\n{updated.ran.tail()}"
        status = world.ministack.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        assert status == "UPDATE_COMPLETE", status
        assert updated.physical("TokenVendingFunction") == vending  # updated in place, not replaced

        owned = f"/tvm/{stack}/vending"
        config = world.ministack.client("lambda").get_function_configuration(FunctionName=vending)
        assert config.get("LoggingConfig", {}).get("LogGroup") == owned, config.get("LoggingConfig")
        before = _streams(world, owned) if owned in _log_groups(world, owned) else 0
        _vend(updated)
        deadline = time.monotonic() + 20
        while _streams(world, owned) <= before:
            assert time.monotonic() < deadline, f"no log stream in {owned} after a request"
            time.sleep(0.5)
        assert lambdas_group in _log_groups(world, lambdas_group)  # the old group stays: the operator's to delete
        stack_groups = [
            r["PhysicalResourceId"] for r in updated.resources if r["ResourceType"] == "AWS::Logs::LogGroup"
        ]
        assert owned in stack_groups and all(g.startswith(f"/tvm/{stack}/") for g in stack_groups), stack_groups

        _, deleted = delete(world.shell, world.page, updated, world.probes)
        assert deleted.returncode == 0, deleted.tail()
        assert _log_groups(world, f"/tvm/{stack}/") == []
        REPORT.add(
            "checked",
            f"upgrade from {UPGRADE_FROM} ({MODE}): UPDATE_COMPLETE; the vending function then logs to {owned} "
            f"(LoggingConfig), {lambdas_group} left for the operator; sam delete removed {len(stack_groups)} groups",
        )
    finally:
        if deployment is not None and not deployment.deleted:
            force_delete(deployment)
        if deployment is not None:
            logs = world.ministack.client("logs")
            for group in _log_groups(world, "/aws/lambda/"):
                if group.startswith(f"/aws/lambda/{deployment.stack}-"):
                    logs.delete_log_group(logGroupName=group)
        shutil.rmtree(scratch, ignore_errors=True)
