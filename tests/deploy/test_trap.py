"""The architecture trap, closed: after the default (arm64) `sam build`, a `sam deploy` with LambdaArchitecture=x86_64
must fail before the stack is usable, in one line naming the mismatch (template.yaml's DeployCheck). MiniStack runs
the functions on this x86_64 machine, so arm64 code there fails exactly as it would on x86_64 Lambda; a deployment
that reported success and failed every mint afterwards is what this refuses.
"""

from __future__ import annotations

import pytest

from .conftest import World
from .stacks import force_delete
from .world import REPORT

# Cold caches: the first test waits for MiniStack, both builds (wheels downloaded) and a deployment.
pytestmark = pytest.mark.timeout(900)


def test_an_arm64_build_deployed_as_x86_64_is_refused_before_the_stack_is_usable(world: World) -> None:
    deployment = world.deploy("Open", world.build("arm64"), architecture="x86_64")
    try:
        assert deployment.ran.returncode != 0, "sam deploy reported success with arm64 code on x86_64 functions"
        cloudformation = deployment.ministack.client("cloudformation")
        stack = cloudformation.describe_stacks(StackName=deployment.stack)["Stacks"][0]
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack["StackStatus"]
        events = cloudformation.describe_stack_events(StackName=deployment.stack)["StackEvents"]
        reasons = [
            e.get("ResourceStatusReason", "")
            for e in events
            if e["LogicalResourceId"] == "DeployCheck" and e["ResourceStatus"] == "CREATE_FAILED"
        ]
        assert len(reasons) == 1, [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
        (reason,) = reasons
        assert "\n" not in reason, reason
        # Each function with native code, in name order: the canary's (grpc, protobuf, PyYAML), then the vending one's.
        assert reason.startswith("CanaryFunction is x86_64 but its code was built for arm64 ("), reason
        assert "; TokenVendingFunction is x86_64 but its code was built for arm64 (" in reason, reason
        assert "LambdaArchitecture=x86_64" in reason, reason
        # docs/deploy.md's step 3 quotes the line a user sees: it must be this one.
        assert f"CREATE_FAILED DeployCheck {reason}" in " ".join(world.page.text.split()), reason
        assert "DeployCheck" in deployment.ran.output and "CREATE_FAILED" in deployment.ran.output
        # Rolled back: no function of the stack is left to answer a request.
        names = [f["FunctionName"] for f in deployment.ministack.client("lambda").list_functions()["Functions"]]
        assert not [name for name in names if name.startswith(f"{deployment.stack}-")], names
        REPORT.add("architecture trap", f"refused, stack ROLLBACK_COMPLETE: {reason}")
    finally:
        force_delete(deployment)
