"""docs/deploy.md's build, deploy and delete, run on MiniStack with the deviations this machine needs, each recorded.

Deviations (printed in the report at the end of the run, and with each command in the test's output):
- `sam build` builds into a folder of its own (never .aws-sam/build, which a later real `sam deploy` would upload),
  with a cache of its own, and for x86_64: MiniStack runs the functions on this machine's Python, and the template's
  default, arm64, cannot run here (tests/deploy/test_build.py checks the default build separately).
- `sam deploy --guided` is run without `--guided`: its answers (docs/deploy.md's table) become flags. Every deploy
  names the build's template (`--template-file`, the bridged copy) and so the project's samconfig.toml
  (`--config-file`: SAM CLI looks for it beside the template otherwise).
- Parameters: LambdaArchitecture=x86_64 (as above); MomentoEndpoint is the local emulator, which
  MomentoEmulatorEndpoint names again (the local-only plaintext setting); the key is the emulator's.
- The stack is named per run (`tvm-<mode>-<random>`), not `my-tvm`.
- Prompts are answered on stdin, as a user types: SAM CLI's `Deploy this changeset? [y/N]` and `sam delete`'s two
  questions `y`, passwords typed twice, curl's password prompt.
- The MiniStack gaps' bridges (bridges.py), where their probes found the gap.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from samtranslator.yaml_helper import yaml_parse

from .bridges import HttpApiBody, LanguageExtensionsIf, NonEmptyBucketDeleted, Probe, SecretRefGivesName
from .docs_page import DOCS_STACK, DeployPage
from .world import REGION, REPO, REPORT, MiniStack, Ran, Shell, shell_line

MODES: Final = ("Open", "LambdaAuthorizer", "AmazonCognito")
DEVIATIONS: Final = "deviations"
FIGURES: Final = "figures"
# The mode that deploys with an existing secret (docs/deploy.md, "With an existing secret"); the others answer the
# guided deploy's questions, so the stack creates the key's secret.
EXISTING_SECRET_MODE: Final = "LambdaAuthorizer"


@dataclass(frozen=True)
class Build:
    architecture: str
    directory: Path
    seconds: float

    @property
    def template(self) -> Path:
        return self.directory / "template.yaml"

    def function(self, name: str) -> Path:
        return self.directory / name


def sam_build(shell: Shell, page: DeployPage, architecture: str) -> Build:
    """docs/deploy.md's `sam build`, into .aws-sam/deploy-test/build-ARCH; for x86_64, with that one override."""
    block = page.block("build")
    argv = block.argv()
    assert argv[:2] == ["sam", "build"], block
    directory = shell.root / ".aws-sam" / "deploy-test" / f"build-{architecture}"
    cache = REPO / ".aws-sam" / "deploy-test" / f"cache-{architecture}"
    extra = ["--build-dir", str(directory), "--cache-dir", str(cache)]
    why = "a folder of its own, never .aws-sam/build"
    if architecture != "arm64":
        extra += ["--parameter-overrides", f"LambdaArchitecture={architecture}"]
        why += f"; {architecture}: MiniStack runs the functions on this machine's Python"
    REPORT.add(DEVIATIONS, f"`{block.commands[0]}` -> `{shell_line([*argv, *extra])}` ({why})")
    ran = shell.run_argv([*argv, *extra], timeout=900)
    assert ran.returncode == 0, f"sam build ({architecture}) failed:\n{ran.tail()}"
    REPORT.add(FIGURES, f"sam build {architecture} (--cached): {ran.seconds:.1f} s")
    return Build(architecture, directory, ran.seconds)


@dataclass
class Deployment:
    mode: str
    stack: str
    ministack: MiniStack
    parameters: dict[str, str]
    ran: Ran
    outputs: dict[str, str] = field(default_factory=dict)
    resources: list[dict[str, str]] = field(default_factory=list)
    existing_secret_arn: str | None = None
    deleted: bool = False

    def physical(self, logical: str) -> str:
        (found,) = (r["PhysicalResourceId"] for r in self.resources if r["LogicalResourceId"] == logical)
        return found

    @property
    def api_id(self) -> str:
        return self.physical("TokenApi")

    @property
    def base_url(self) -> str:
        return self.ministack.execute_api(self.api_id)

    def substitute(self, command: str) -> str:
        """A docs command for this stack: `my-tvm` becomes its name."""
        return re.sub(rf"\b{DOCS_STACK}\b", self.stack, command)

    def refresh(self) -> None:
        cloudformation = self.ministack.client("cloudformation")
        described = cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        self.resources = [
            {key: r[key] for key in ("LogicalResourceId", "ResourceType", "PhysicalResourceId", "ResourceStatus")}
            for r in cloudformation.describe_stack_resources(StackName=self.stack)["StackResources"]
        ]


def _overrides(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(text))


def _bridged_template(build: Build, stack: str, parameters: Mapping[str, str], probes: Mapping[str, Probe]) -> Path:
    """The build's template with the bridges the probes asked for, beside it (its CodeUris are relative)."""
    template = yaml_parse(build.template.read_text())
    if probes[LanguageExtensionsIf.gap].present:
        template, where = LanguageExtensionsIf.apply(template, parameters)
        REPORT.add(
            "bridges", f"{LanguageExtensionsIf.gap}: Fn::If resolved before SAM's transform at {', '.join(where)}"
        )
    if probes[SecretRefGivesName.gap].present:
        template, where = SecretRefGivesName.apply(template)
        REPORT.add("bridges", f"{SecretRefGivesName.gap}: Ref to a secret -> Fn::GetAtt Id at {', '.join(where)}")
    path = build.directory / f"template.{stack}.json"
    path.write_text(json.dumps(template, indent=1))
    return path


def deploy(
    shell: Shell,
    page: DeployPage,
    build: Build,
    mode: str,
    *,
    probes: Mapping[str, Probe],
    api_key: str,
    momento_endpoint: str,
    architecture: str = "x86_64",
    stack: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Deployment:
    """docs/deploy.md's deploy command for `mode`, with this machine's deviations; the Body bridge after it. `extra`:
    more parameters, each a question the page's table says may be answered otherwise (recorded as a deviation)."""
    ministack = shell.ministack
    stack = stack or f"tvm-{mode.lower()}-{uuid.uuid4().hex[:6]}"
    local = {
        "MomentoEndpoint": momento_endpoint,
        "MomentoEmulatorEndpoint": momento_endpoint,
        "LambdaArchitecture": architecture,
    }
    existing_secret_arn = None
    if mode == EXISTING_SECRET_MODE:
        block = page.block("deploy-existing-secret")
        argv = [part.replace(DOCS_STACK, stack) for part in block.argv()]
        index = argv.index("--parameter-overrides") + 1
        given = _overrides(argv[index])
        assert given["AuthenticationMethod"] == mode, block
        # "Store the raw key as a secret in the stack's region" (the page's precondition), then its ARN.
        existing_secret_arn = ministack.client("secretsmanager").create_secret(
            Name=f"{stack}-momento-key", SecretString=api_key
        )["ARN"]
        given.update({**local, "MomentoApiKeySecretArn": existing_secret_arn, **(extra or {})})
        argv[index] = " ".join(f"{name}={value}" for name, value in given.items())
        why = "the key stored first as a secret of its own, its ARN given"
    else:
        block = page.block("deploy-guided")
        argv = block.argv()
        assert argv == ["sam", "deploy", "--guided"], block
        argv.remove("--guided")
        given = {"AuthenticationMethod": mode, "MomentoApiKey": api_key, **local, **(extra or {})}
        argv += ["--stack-name", stack, "--region", REGION, "--parameter-overrides", _joined(given)]
        why = "no --guided: its answers as flags (stack, region, AuthenticationMethod, MomentoApiKey, MomentoEndpoint)"
    if extra:
        REPORT.add(DEVIATIONS, f"{mode}: also {_joined(extra)} (answered at their questions: their resources deployed)")
    template = _bridged_template(build, stack, given, probes)
    argv += ["--template-file", str(template), "--config-file", str(shell.root / "samconfig.toml")]
    shown = shell_line(argv).replace(api_key, "<the emulator's key>")
    REPORT.add(
        DEVIATIONS,
        f"`{block.commands[0]}` ({mode}) -> `{_generic(shown, stack)}` ({why}; {architecture}; MomentoEndpoint = "
        "MomentoEmulatorEndpoint = the local emulator; the bridged build template, hence --config-file; "
        "`Deploy this changeset? [y/N]` answered y)",
    )
    ran = shell.run_argv(argv, stdin="y\n", timeout=600)
    deployment = Deployment(mode, stack, ministack, given, ran, existing_secret_arn=existing_secret_arn)
    REPORT.add(FIGURES, f"sam deploy {mode} ({architecture} code, {build.architecture} build): {ran.seconds:.1f} s")
    if ran.returncode == 0:
        deployment.refresh()
        if probes[HttpApiBody.gap].present:
            made = HttpApiBody.apply(ministack, stack)
            REPORT.add("bridges", f"{HttpApiBody.gap}: created from the Body ({mode}): {'; '.join(made)}")
    return deployment


def _joined(parameters: Mapping[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in parameters.items())


def _generic(command: str, stack: str) -> str:
    """A command as the report shows it once for every run: the stack's name and local ports left out."""
    command = command.replace(stack, "<stack>")
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", re.sub(r"/tmp/[^ ']*|/[^ ']*/\.aws-sam/", "<dir>/", command))


def failed_reasons(deployment: Deployment) -> str:
    """Why CloudFormation failed the stack: each failed resource and its reason, in one line."""
    try:
        events = deployment.ministack.client("cloudformation").describe_stack_events(StackName=deployment.stack)
    except Exception as error:  # no stack at all: the change set was refused
        return f"(no stack events: {type(error).__name__})"
    failed = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in reversed(events["StackEvents"])
        if e["ResourceStatus"].endswith("_FAILED")
    ]
    return "; ".join(failed) or "(no failed resource)"


# ------------------------------------------------------------------------------------------------------ deleting
def delete(shell: Shell, page: DeployPage, deployment: Deployment, probes: Mapping[str, Probe]) -> tuple[Ran, Ran]:
    """docs/deploy.md's step 12: the bucket emptied with its command and checked empty, then `sam delete`."""
    block = page.block("delete")
    empty, remove = (deployment.substitute(command) for command in block.commands)
    assert empty.startswith("aws s3 rm ") and remove.startswith("sam delete "), block
    emptied = shell.run(empty, timeout=120)
    assert emptied.returncode == 0, emptied.tail()
    bucket = deployment.outputs["SiteBucketName"]
    left = deployment.ministack.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    assert left == 0, f"{left} objects left in {bucket} after `{empty}`"
    if probes[NonEmptyBucketDeleted.gap].present:
        REPORT.add(
            "bridges", f"{NonEmptyBucketDeleted.gap}: {NonEmptyBucketDeleted.apply(deployment.ministack, bucket)}"
        )
    REPORT.add(DEVIATIONS, "`sam delete ...`: its two questions (delete the stack, its artifacts) answered y")
    deleted = shell.run(remove, stdin="y\ny\n", timeout=300)
    deployment.deleted = deleted.returncode == 0
    return emptied, deleted


def force_delete(deployment: Deployment) -> None:
    """Teardown when a test stopped before step 12: nothing of the stack may outlive the run."""
    ministack = deployment.ministack
    with contextlib.suppress(Exception):
        bucket = deployment.outputs.get("SiteBucketName") or deployment.physical("SiteBucket")
        s3 = ministack.client("s3")
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    cloudformation = ministack.client("cloudformation")
    with contextlib.suppress(Exception):
        cloudformation.delete_stack(StackName=deployment.stack)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = cloudformation.describe_stacks(StackName=deployment.stack)["Stacks"][0]["StackStatus"]
            if not status.endswith("IN_PROGRESS"):
                break
            time.sleep(0.2)
    if deployment.existing_secret_arn:
        with contextlib.suppress(Exception):
            ministack.client("secretsmanager").delete_secret(
                SecretId=deployment.existing_secret_arn, ForceDeleteWithoutRecovery=True
            )


# ------------------------------------------------------------------------------------- what a deletion leaves
def still_there(ministack: MiniStack, resource: Mapping[str, str], resources: list[dict[str, str]]) -> bool | None:
    """Whether a resource of a deleted stack still exists (None: the type has no real resource behind it).

    Every type the template deploys has a check here; a type without one fails the test, so a resource added to the
    template later is checked too, from its first day.
    """
    kind, physical = resource["ResourceType"], resource["PhysicalResourceId"]

    def of(kind_wanted: str) -> list[str]:
        return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == kind_wanted]

    def logical(kind_wanted: str) -> str:
        (found,) = of(kind_wanted)
        return found

    def exists(call: Any, **arguments: Any) -> bool:
        try:
            answer = call(**arguments)
        except Exception as error:  # botocore's ClientError: what "not found" is varies by service
            text = str(error)
            if re.search(r"NotFound|NoSuch|does not exist|ResourceNotFound|404|not found", text, re.IGNORECASE):
                return False
            raise
        return not (isinstance(answer, dict) and answer.get("DeletedDate"))  # a secret scheduled for deletion

    if kind == "AWS::Lambda::Function":
        return exists(ministack.client("lambda").get_function, FunctionName=physical)
    if kind == "AWS::Lambda::LayerVersion":  # RetentionPolicy: Delete, so the version goes with the stack
        return exists(ministack.client("lambda").get_layer_version_by_arn, Arn=physical)
    if kind == "AWS::Lambda::Permission":  # a statement of its function's policy: it goes with the function
        functions = of("AWS::Lambda::Function")
        return any(exists(ministack.client("lambda").get_policy, FunctionName=name) for name in functions)
    if kind == "AWS::IAM::Role":
        return exists(ministack.client("iam").get_role, RoleName=physical)
    if kind == "AWS::SecretsManager::Secret":
        return exists(ministack.client("secretsmanager").describe_secret, SecretId=physical)
    if kind == "AWS::ApiGatewayV2::Api":
        return exists(ministack.client("apigatewayv2").get_api, ApiId=physical)
    if kind == "AWS::ApiGatewayV2::Stage":
        return exists(ministack.client("apigatewayv2").get_stages, ApiId=logical("AWS::ApiGatewayV2::Api"))
    if kind == "AWS::S3::Bucket":
        return exists(ministack.client("s3").head_bucket, Bucket=physical)
    if kind == "AWS::S3::BucketPolicy":
        return exists(ministack.client("s3").get_bucket_policy, Bucket=logical("AWS::S3::Bucket"))
    if kind == "AWS::CloudFront::Distribution":
        return exists(ministack.client("cloudfront").get_distribution, Id=physical)
    if kind == "AWS::CloudFront::OriginAccessControl":
        return exists(ministack.client("cloudfront").get_origin_access_control, Id=physical)
    if kind == "AWS::DynamoDB::Table":  # DeletionPolicy: Delete, so the issuance table goes with the stack
        return exists(ministack.client("dynamodb").describe_table, TableName=physical)
    if kind == "AWS::Cognito::UserPool":
        return exists(ministack.client("cognito-idp").describe_user_pool, UserPoolId=physical)
    if kind == "AWS::Cognito::UserPoolClient":
        pool = logical("AWS::Cognito::UserPool")
        return exists(ministack.client("cognito-idp").describe_user_pool_client, UserPoolId=pool, ClientId=physical)
    if kind == "AWS::Cognito::UserPoolGroup":
        pool = logical("AWS::Cognito::UserPool")
        return exists(ministack.client("cognito-idp").get_group, UserPoolId=pool, GroupName=physical)
    if kind == "AWS::Logs::LogGroup":  # DeletionPolicy: Delete (the stack-owned /tvm/<stack>/... groups)
        groups = ministack.client("logs").describe_log_groups(logGroupNamePrefix=physical)["logGroups"]
        return any(group["logGroupName"] == physical for group in groups)
    if kind == "AWS::Logs::MetricFilter":
        found = ministack.client("logs").describe_metric_filters(filterNamePrefix=physical)["metricFilters"]
        return any(one["filterName"] == physical for one in found)
    if kind == "AWS::CloudWatch::Alarm":
        return bool(ministack.client("cloudwatch").describe_alarms(AlarmNames=[physical])["MetricAlarms"])
    if kind == "AWS::CloudWatch::Dashboard":
        return exists(ministack.client("cloudwatch").get_dashboard, DashboardName=physical)
    if kind == "AWS::SNS::Topic":
        return exists(ministack.client("sns").get_topic_attributes, TopicArn=physical)
    if kind == "AWS::SNS::TopicPolicy":  # a policy of its topic: it goes with the topic
        return any(exists(ministack.client("sns").get_topic_attributes, TopicArn=arn) for arn in of("AWS::SNS::Topic"))
    if kind == "AWS::Scheduler::Schedule":  # the canary's schedule (its Ref, the physical id, is its name)
        return exists(ministack.client("scheduler").get_schedule, Name=physical)
    if kind.startswith("Custom::"):
        return None  # a custom resource's physical id is a label: what it made is checked by its own type
    raise AssertionError(f"no check for whether a {kind} outlives its stack: add one to still_there()")
