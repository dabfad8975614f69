"""`sam deploy` of every AuthenticationMethod, as docs/deploy.md gives it, on MiniStack: the stack and its outputs, the
deployed API (through the real Lambda authorizer and Cognito JWT checks), a vended token used with the real `momento`
SDK against the emulator, `make publish`, and the documented deletion.

Each mode's steps run in order on one stack, in a thread of its own (conftest.py's Flow: the modes overlap); each test
below waits for its step of one mode and fails with that step's own error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, Final

import pytest
from samtranslator.yaml_helper import yaml_parse

from momento_emulator import DEFAULT_API_KEY
from momento_tvm.control import message
from momento_tvm.policy import load_policy
from tests.raw_topics import RawSubscription
from tests.sdk_rights import cache_rights, emulator_provider, topic_rights

from .bridges import TableSettingsIgnored
from .conftest import CACHE, Flow, World, start_flows
from .docs_page import same_fields
from .stacks import MODES, Deployment, delete, failed_reasons, still_there
from .world import REGION, REPORT, Answer, answers, request

# Cold caches: the first test waits for MiniStack, both builds (wheels downloaded) and a deployment.
pytestmark = pytest.mark.timeout(900)

PASSWORD = "Correct-Horse-42"  # LambdaAuthorizer (8+) and Cognito (12+, upper, lower, digit) alike
ARN_OF_SECRET = r"arn:aws:secretsmanager:{region}:\d{{12}}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{{6}}"


# ------------------------------------------------------------------------------------------------ the page itself
def test_every_shell_block_of_the_deploy_page_is_marked(world: World) -> None:
    """A command added to docs/deploy.md is replayed here, or says why not: none goes untested unnoticed."""
    for block in world.page.blocks:
        if block.language in ("sh", "bash", "shell", "console"):
            assert block.marker, f"{block}: no <!-- deploy-test: NAME --> or <!-- deploy-test: skip (...) --> above it"


# ------------------------------------------------------------------------------------------- the stack, outputs
# One mode also deploys what is optional (a dashboard, an SNS topic with an email subscription), so that those are
# deployed, checked and deleted too; the others keep the defaults (neither).
OPTIONAL_MODE: Final = "AmazonCognito"
OPTIONAL: Final = {"CreateDashboard": "Yes", "AlarmEmail": "ops@example.com"}


def _deploy(world: World, flow: Flow) -> None:
    extra = dict(OPTIONAL) if flow.mode == OPTIONAL_MODE else None
    flow.deployment = world.deploy(flow.mode, world.build("x86_64"), extra=extra)
    ran = flow.deployment.ran
    assert ran.returncode == 0, f"sam deploy ({flow.mode}) failed: {failed_reasons(flow.deployment)}\n{ran.tail(40)}"


def _outputs(world: World, flow: Flow) -> None:
    deployment = _deployed(flow)
    cloudformation = deployment.ministack.client("cloudformation")
    status = cloudformation.describe_stacks(StackName=deployment.stack)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    assert "Successfully created/updated stack" in deployment.ran.output
    failed = [r for r in deployment.resources if r["ResourceStatus"] != "CREATE_COMPLETE"]
    assert not failed, failed

    documented = {name for name, only in world.page.outputs().items() if only in (None, deployment.mode)}
    assert set(deployment.outputs) == documented, "the outputs differ from docs/deploy.md's table (section 5)"
    outputs, physical = deployment.outputs, deployment.physical
    assert outputs["ApiUrl"] == f"https://{deployment.api_id}.execute-api.{REGION}.amazonaws.com"
    apis = deployment.ministack.client("apigatewayv2")
    assert apis.get_api(ApiId=deployment.api_id)["Name"].startswith(f"{deployment.stack}-TokenApi")
    assert outputs["AuthenticationMethod"] == deployment.mode
    assert outputs["Region"] == REGION
    assert outputs["MomentoEndpoint"] == world.momento_endpoint
    distribution = deployment.ministack.client("cloudfront").get_distribution(Id=physical("SiteDistribution"))
    assert outputs["SiteUrl"] == f"https://{distribution['Distribution']['DomainName']}"
    assert re.fullmatch(r"https://[a-z0-9]+\.cloudfront\.net", outputs["SiteUrl"]), outputs["SiteUrl"]
    assert outputs["SiteDistributionId"] == physical("SiteDistribution")
    assert outputs["IssuanceTableName"] == physical("IssuanceTable")  # a table's Ref is its name
    assert outputs["SiteBucketName"] == physical("SiteBucket")
    deployment.ministack.client("s3").head_bucket(Bucket=outputs["SiteBucketName"])
    secrets = deployment.ministack.client("secretsmanager")
    key_arn = outputs["MomentoApiKeySecretArn"]
    assert re.fullmatch(ARN_OF_SECRET.format(region=REGION), key_arn), key_arn
    assert key_arn == (deployment.existing_secret_arn or secrets.describe_secret(SecretId=key_arn)["ARN"])
    assert secrets.get_secret_value(SecretId=key_arn)["SecretString"] == DEFAULT_API_KEY  # the emulator's key
    if deployment.mode == "LambdaAuthorizer":
        users = outputs["UsersSecretArn"]
        assert re.fullmatch(ARN_OF_SECRET.format(region=REGION), users), users
        assert json.loads(secrets.get_secret_value(SecretId=users)["SecretString"]) == {"users": {}}
    if deployment.mode == "AmazonCognito":
        cognito = deployment.ministack.client("cognito-idp")
        assert outputs["UserPoolId"] == physical("UserPool")
        assert cognito.describe_user_pool(UserPoolId=outputs["UserPoolId"])["UserPool"]["Id"] == outputs["UserPoolId"]
        assert outputs["UserPoolClientId"] == physical("UserPoolClient")
        assert outputs["CognitoEndpoint"] == f"https://cognito-idp.{REGION}.amazonaws.com"

    # The page's own commands for reading them.
    ran = world.shell.run("\n".join(deployment.substitute(c) for c in world.page.block("outputs").commands))
    assert ran.returncode == 0, ran.tail()
    assert ran.stdout.strip().splitlines()[-1] == outputs["ApiUrl"]
    for name in deployment.outputs:
        assert name in ran.stdout, f"`aws cloudformation describe-stacks ... --output table` shows no {name}"


# ------------------------------------------------------------------------------------------------ the API itself
def _api(world: World, flow: Flow) -> None:
    deployment = _deployed(flow)
    gateway = world.page.gateway_answers()
    if deployment.mode == "Open":
        tokens = _check_open(world, deployment)
    else:
        unauthorized = request(f"{deployment.base_url}/token")
        assert unauthorized.status == 401 and unauthorized.body in gateway[401], unauthorized
        tokens = (
            _check_lambda_authorizer(world, deployment, gateway)
            if deployment.mode == "LambdaAuthorizer"
            else _check_cognito(world, deployment)
        )
    for token, (may_read, may_write, may_publish) in tokens:
        _check_with_the_sdk(world, token, may_read=may_read, may_write=may_write, may_publish=may_publish)


def _run_check(world: World, deployment: Deployment, names: list[str], stdin: str = "") -> list[Answer]:
    """Commands of the page's blocks, in one shell (API_URL set by the first carries over), and the answers."""
    script = "\n".join(deployment.substitute(c) for name in names for c in world.page.block(name).commands)
    ran = world.shell.run(script, stdin=stdin, timeout=120)
    assert ran.returncode == 0, ran.tail()
    return answers(ran.stdout)


def _api_url_line(world: World) -> str:
    (line,) = (c for c in world.page.block("check").commands if c.startswith("API_URL="))
    return line


def _check_open(world: World, deployment: Deployment) -> list[tuple[dict[str, Any], tuple[bool, bool, bool]]]:
    script = [deployment.substitute(_api_url_line(world)), *world.page.block("check-open").commands]
    ran = world.shell.run("\n".join(script), timeout=120)
    assert ran.returncode == 0, ran.tail()
    named, everything = answers(ran.stdout)
    assert named.status == 200, f"GET /token?topics=room-lobby answered {named.status} {named.body}"
    assert named.body["tokenId"] == "guest:Ann"
    assert named.body["scope"]["topics"]["names"] == ["room-lobby"] and named.body["scope"]["topics"]["prefixes"] == []
    # Without topics: the tier's patterns as prefixes, not 403 scope_denied (docs/deploy.md's Open paragraph).
    assert everything.status == 200, everything
    sample = world.page.block("answer-open").json()
    assert not same_fields(sample, everything.body), same_fields(sample, everything.body)
    assert everything.body["scope"] == {**sample["scope"], "cache": CACHE}
    assert re.fullmatch(r"guest:[0-9a-f]{8}", everything.body["tokenId"]), everything.body["tokenId"]
    assert "`403 scope_denied`" in world.page.text.split("check-open", 1)[1][:1500]
    outside = request(f"{deployment.base_url}/token?topics=general")
    assert outside.status == 403 and outside.body["error"]["code"] == "scope_denied", outside
    return [(named.body, (False, False, True)), (everything.body, (False, False, True))]


def _check_lambda_authorizer(
    world: World, deployment: Deployment, gateway: dict[int, list[Any]]
) -> list[tuple[dict[str, Any], tuple[bool, bool, bool]]]:
    # Step 7: the first user, with the password typed twice at tvm_users' prompt (here, its stdin).
    users = world.page.block("users")
    script = "\n".join(deployment.substitute(c) for c in users.commands)
    ran = world.shell.run(script, stdin=f"{PASSWORD}\n{PASSWORD}\n", timeout=120)
    assert ran.returncode == 0, ran.tail()
    assert "alice" in ran.stdout and "readwrite" in ran.stdout, ran.stdout
    # Two more users, for the revocation step (section 11), added the page's way before any login warms the
    # authorizer's copy of the store: bob in alice's tier, viewer in the other.
    for name, group in (("bob", "readwrite"), ("viewer", "readonly")):
        add = users.commands[0].replace("add-user alice", f"add-user {name}").replace("readwrite", group)
        assert name in add and group in add, add
        added = world.shell.run(deployment.substitute(add), stdin=f"{PASSWORD}\n{PASSWORD}\n", timeout=120)
        assert added.returncode == 0, added.tail()
    # The authorizer's deny for a wrong password: the gateway's own 403, as the page's table shows it.
    wrong = request(f"{deployment.base_url}/token", {"Authorization": _basic("alice", "not-the-password")})
    assert wrong.status == 403 and wrong.body in gateway[403], (
        f"a wrong password got {wrong.status}, {str(wrong)[:200]}"
    )
    # Step 8: the page's check, curl asking for the password.
    (token,) = _run_check(world, deployment, ["check"], stdin=f"{PASSWORD}\n")
    assert token.status == 200, token
    sample = world.page.block("answer").json()
    assert not same_fields(sample, token.body), same_fields(sample, token.body)
    assert token.body["tokenId"] == "alice" and token.body["scope"]["tier"] == "readwrite"
    assert token.body["scope"]["cache"] == CACHE and token.body["endpoint"] == world.momento_endpoint
    assert token.body["expiresAt"] - token.body["now"] == 3600  # "an hour ahead for the shipped tiers"
    return [(token.body, (True, True, True))]


def _check_cognito(world: World, deployment: Deployment) -> list[tuple[dict[str, Any], tuple[bool, bool, bool]]]:
    users = world.page.block("users-cognito")
    script = "\n".join(deployment.substitute(c) for c in users.commands)
    ran = world.shell.run(script, stdin=f"{PASSWORD}\n{PASSWORD}\n", timeout=120)
    assert ran.returncode == 0, ran.tail()
    assert "alice" in ran.stdout, ran.stdout
    # A second user in the other group: the tier follows the group, not a default.
    add_bob = users.commands[0].replace("add-user alice", "add-user bob").replace("readwrite", "readonly")
    assert "bob" in add_bob and "readonly" in add_bob, add_bob
    bob = world.shell.run(deployment.substitute(add_bob), stdin=f"{PASSWORD}\n{PASSWORD}\n", timeout=120)
    assert bob.returncode == 0, bob.tail()
    # Step 8: the page's sign-in and request (API_URL from its first check), the password read at its prompt.
    commands = [_api_url_line(world), *world.page.block("check-cognito").commands]
    ran = world.shell.run("\n".join(deployment.substitute(c) for c in commands), stdin=f"{PASSWORD}\n", timeout=120)
    assert ran.returncode == 0, ran.tail()
    (alice,) = answers(ran.stdout)
    assert alice.status == 200, alice
    assert alice.body["tokenId"] == "alice" and alice.body["scope"]["tier"] == "readwrite", alice.body
    # bob signs in the same way; a wrong password is refused by Cognito; a tampered ID token by the gateway.
    cognito = deployment.ministack.client("cognito-idp")
    client_id = deployment.outputs["UserPoolClientId"]

    def sign_in(username: str, password: str) -> str:
        result = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return str(result["AuthenticationResult"]["IdToken"])

    bob_token = request(f"{deployment.base_url}/token", {"Authorization": f"Bearer {sign_in('bob', PASSWORD)}"})
    assert bob_token.status == 200 and bob_token.body["scope"]["tier"] == "readonly", bob_token
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        sign_in("bob", "Wrong-Password-42")
    id_token = sign_in("bob", PASSWORD)
    header, claims, signature = id_token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload["cognito:groups"] = ["readwrite"]  # bob promotes himself: the signature no longer matches
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    tampered = request(f"{deployment.base_url}/token", {"Authorization": f"Bearer {header}.{forged}.{signature}"})
    assert tampered.status == 401, tampered
    return [(alice.body, (True, True, True)), (bob_token.body, (True, False, False))]


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _check_with_the_sdk(
    world: World, token: dict[str, Any], *, may_read: bool, may_write: bool, may_publish: bool
) -> None:
    """The vended token, used with the real `momento` SDK against the emulator the function minted it with."""
    provider = emulator_provider(token["authToken"], world.emulator.grpc_port, world.emulator.host)
    topics = token["scope"]["topics"]
    topic = (topics["names"] or [prefix + "lobby" for prefix in topics["prefixes"]] or ["chat-room"])[0]
    published, _ = asyncio.run(topic_rights(provider, CACHE, topic))
    assert published == may_publish, (token["tokenId"], topic)
    read, written = asyncio.run(cache_rights(provider, CACHE, f"deploy-test-{token['tokenId']}"))
    assert (read, written) == (may_read, may_write), token["tokenId"]


# ------------------------------------------------------------------------------------------- issuance limits
# The caller of the `api` step, per mode: its bucket's key (an Open-mode caller is its source address: MiniStack's
# HTTP API gives every request the sourceIp 127.0.0.1, which is this test's address anyway) and its tier.
LIMITED_CALLER: Final = {
    "Open": ("ip#127.0.0.1", "guest"),
    "LambdaAuthorizer": ("user#alice", "readwrite"),
    "AmazonCognito": ("user#alice", "readwrite"),
}


def _limits(world: World, flow: Flow) -> None:
    """docs/deploy.md section 10 on the deployed stack: the issuance table has the template's settings; the `api`
    step's vends wrote the caller's item (the function's UpdateItem, under MiniStack's IAM enforcement) and explain
    reads it (GetItem); a full bucket's burst, then 429 rate_limited with Retry-After; another process counting in
    the same table shares the caller's allowance."""
    deployment = _deployed(flow)
    table = deployment.outputs["IssuanceTableName"]
    _check_table(world, deployment, table)
    dynamodb = deployment.ministack.client("dynamodb")
    key, tier_name = LIMITED_CALLER[deployment.mode]
    item_key = {"pk": {"S": f"limit#{key}"}, "sk": {"S": "bucket"}}
    written = dynamodb.get_item(TableName=table, Key=item_key, ConsistentRead=True).get("Item")
    assert written is not None, f"the vends of the api step wrote no {item_key} into {table}"
    assert float(written["tat"]["N"]) < float(written["expires_at"]["N"]), written

    tier = load_policy(world.root / "functions" / "token_vending" / "policy.yaml").tiers[tier_name]
    assert tier.limit is not None
    burst, refill = tier.limit.burst, tier.limit.refill_seconds
    headers = _caller_headers(deployment)
    explained = request(f"{deployment.base_url}/token/explain", headers)
    assert explained.status == 200, explained
    limits = explained.body["limits"]
    assert (limits["burst"], limits["refillSeconds"]) == (burst, refill), limits
    assert limits["remaining"] < burst, limits  # the api step's tokens are counted

    # A whole allowance (the caller's item removed by the harness): `burst` tokens, then 429 with Retry-After.
    dynamodb.delete_item(TableName=table, Key=item_key)
    started = time.monotonic()
    for number in range(burst):
        vended = request(f"{deployment.base_url}/token", headers)
        assert vended.status == 200, f"token {number + 1} of {burst}: {vended}"
    refused = request(f"{deployment.base_url}/token", headers)
    took = time.monotonic() - started
    assert took < refill, f"{burst + 1} requests took {took:.1f} s, more than one refill ({refill:g} s): inconclusive"
    assert refused.status == 429 and refused.body["error"]["code"] == "rate_limited", refused
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= refill, refused.headers

    # Two processes, one count: another process takes one, the API the rest, and then neither gets more.
    dynamodb.delete_item(TableName=table, Key=item_key)
    started = time.monotonic()
    taken = _take_in_another_process(world, deployment, table, key, burst, refill)
    assert taken == {"allowed": True, "remaining": burst - 1}, taken
    for number in range(burst - 1):
        vended = request(f"{deployment.base_url}/token", headers)
        assert vended.status == 200, f"token {number + 2} of {burst}: {vended}"
    refused = request(f"{deployment.base_url}/token", headers)
    assert refused.status == 429 and refused.body["error"]["code"] == "rate_limited", refused
    again = _take_in_another_process(world, deployment, table, key, burst, refill)
    assert time.monotonic() - started < refill, "slower than one refill: inconclusive"
    assert again["allowed"] is False, again
    REPORT.add(
        "checked",
        f"{deployment.mode}: issuance table {table}: the api step's item, explain, {burst} then 429 (Retry-After "
        f"{retry_after} s) in {took:.1f} s, another process's take counted with the API's",
    )


def _check_table(world: World, deployment: Deployment, table: str) -> None:
    """The table has the template's keys and billing (DynamoDB's own answers), and its encryption, time to live and
    point-in-time recovery (DynamoDB's answers, or where MiniStack ignores them, the processed template's)."""
    cloudformation = deployment.ministack.client("cloudformation")
    processed = cloudformation.get_template(StackName=deployment.stack, TemplateStage="Processed")["TemplateBody"]
    processed = json.loads(processed) if isinstance(processed, str) else processed
    # SAM's transform marks every resource with Metadata.SamResourceId: the rest is template.yaml's, as written.
    declared = {key: value for key, value in processed["Resources"]["IssuanceTable"].items() if key != "Metadata"}
    source = yaml_parse((world.root / "template.yaml").read_text())["Resources"]["IssuanceTable"]
    assert declared == source, "the deployed IssuanceTable is not template.yaml's"
    properties = declared["Properties"]
    dynamodb = deployment.ministack.client("dynamodb")
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == properties["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=str) == sorted(properties["AttributeDefinitions"], key=str)
    assert described["BillingModeSummary"]["BillingMode"] == properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    applied = TableSettingsIgnored.applied(dynamodb, table)
    if world.probes[TableSettingsIgnored.gap].present:
        REPORT.add(
            "bridges",
            f"{TableSettingsIgnored.gap}: {', '.join(TableSettingsIgnored.SETTINGS)} checked in the processed "
            f"template (MiniStack's table: {applied})",
        )
    else:
        assert all(applied.values()), applied
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert ttl["AttributeName"] == "expires_at", ttl


def _caller_headers(deployment: Deployment) -> dict[str, str]:
    """The `api` step's caller: alice (her password, or her Cognito ID token), or an Open-mode guest."""
    if deployment.mode == "LambdaAuthorizer":
        return {"Authorization": _basic("alice", PASSWORD)}
    if deployment.mode == "AmazonCognito":
        signed_in = deployment.ministack.client("cognito-idp").initiate_auth(
            ClientId=deployment.outputs["UserPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
        )
        return {"Authorization": f"Bearer {signed_in['AuthenticationResult']['IdToken']}"}
    return {}


def _take_in_another_process(
    world: World, deployment: Deployment, table: str, key: str, burst: int, refill: float
) -> dict[str, Any]:
    """One take of `key`'s bucket by the library (momento_tvm.limits, over its standard-library AWS client, as the
    function counts) in a fresh interpreter, with MiniStack's root credentials."""
    script = (
        "import json, sys\n"
        "from momento_tvm.aws_json import DYNAMODB, StdlibAwsClient\n"
        "from momento_tvm.limits import DynamoDbLimiter, RateLimit\n"
        "limiter = DynamoDbLimiter(StdlibAwsClient(DYNAMODB, timeout=10), sys.argv[1])\n"
        "allowance = limiter.take(sys.argv[2], RateLimit(int(sys.argv[3]), float(sys.argv[4])))\n"
        "print(json.dumps({'allowed': allowance.allowed, 'remaining': allowance.remaining}))\n"
    )
    environment = {
        **deployment.ministack.aws_environment(),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(world.root / "src"),
    }
    argv = [sys.executable, "-c", script, table, key, str(burst), str(refill)]  # the library of the project under test
    ran = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr[-2000:]
    taken: dict[str, Any] = json.loads(ran.stdout)
    return taken


# ------------------------------------------------------------------------------------------ cutting a user off
REVOCATION_MODE: Final = "LambdaAuthorizer"  # one mode is enough: the function's check is the same in each


def _revocation(world: World, flow: Flow) -> None:
    """docs/deploy.md section 11 on the deployed stack (LambdaAuthorizer; the other modes skip it): the page's
    `tvm_users revoke` makes alice's very next vend and explain `403 revoked` while bob is served, `blocks` lists it,
    `restore` lets her vend; a tier's pause refuses viewer and serves alice, the global pause refuses everyone, and
    resuming each restores. Every refusal comes from the function's own read of the table (its BatchGetItem, under
    MiniStack's IAM enforcement: without that permission the read fails, StoreFailureMode=Allow vends, and this
    step fails), whatever the gateway's authorizer cache holds for alice's header."""
    deployment = _deployed(flow)
    if deployment.mode != REVOCATION_MODE:
        return
    table = deployment.outputs["IssuanceTableName"]
    dynamodb = deployment.ministack.client("dynamodb")
    # The limits step left alice at her limit: a whole allowance again (the harness deletes her item, as there).
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}})
    token_url, explain_url = f"{deployment.base_url}/token", f"{deployment.base_url}/token/explain"
    alice, bob, viewer = ({"Authorization": _basic(name, PASSWORD)} for name in ("alice", "bob", "viewer"))

    def served(headers: dict[str, str], who: str) -> None:
        answer = request(token_url, headers)
        assert answer.status == 200, f"{who}: {answer}"

    def refused(url: str, headers: dict[str, str], code: str, who: str) -> None:
        answer = request(url, headers)
        assert answer.status == 403 and answer.body.get("error", {}).get("code") == code, f"{who}: {answer}"
        assert set(answer.body["error"]) == {"code", "message"}, answer.body

    def operator(block: str, verb: str, target: str) -> tuple[str, float]:
        """The page's command of `block` that does `verb` to `target`, run as written: its output, and when it
        returned (time.monotonic)."""
        (command,) = (c for c in world.page.block(block).commands if f"tvm_users {verb} {target} " in c)
        ran = world.shell.run(deployment.substitute(command), timeout=120)
        assert ran.returncode == 0, ran.tail()
        assert len(ran.stdout.strip().splitlines()) == 1, f"not one line: {ran.stdout}"
        assert ran.stdout.strip().endswith("; open clients told"), ran.stdout  # with the stack's key and endpoint
        return ran.stdout.strip(), time.monotonic()

    served(alice, "alice before the revoke")  # her allow is now in the gateway's authorizer cache too
    # alice's open client listens on her control topic (the answer's first), with her token, as the site does.
    held = request(token_url, alice).body
    listening = RawSubscription(
        deployment.outputs["MomentoEndpoint"], held["control"]["cache"], held["authToken"], held["control"]["topics"][0]
    )
    try:
        said, written = operator("revoke", "revoke", "alice")
        # Told with the key the command read from the stack's secret: the bare event, unsigned (so obeyed).
        assert listening.next_item() == (message("revoked"), ""), listening.items
    finally:
        listening.close()
    assert said.startswith("revoked alice") and said.endswith("; open clients told"), said
    refused(token_url, alice, "revoked", "alice after the revoke")
    within = time.monotonic() - written
    assert within < 1.0, f"the first vend after the revoke answered {within:.2f} s after it: more than 1 s"
    refused(explain_url, alice, "revoked", "alice's explain after the revoke")
    served(bob, "bob while alice is revoked")
    (listing,) = (c for c in world.page.block("revoke").commands if "tvm_users blocks " in c)
    listed = world.shell.run(deployment.substitute(listing), timeout=120)
    assert listed.returncode == 0 and "alice" in listed.stdout, listed.tail()
    operator("revoke", "restore", "alice")
    served(alice, "alice after the restore")

    operator("pause", "pause", "readonly")
    refused(token_url, viewer, "tier_paused", "viewer while readonly is paused")
    served(alice, "alice while readonly is paused")
    operator("pause", "pause", "--all")
    for headers, who in ((alice, "alice"), (bob, "bob"), (viewer, "viewer")):
        refused(token_url, headers, "vending_paused", f"{who} while all vending is paused")
    operator("pause", "resume", "--all")
    served(alice, "alice after the global resume")
    refused(token_url, viewer, "tier_paused", "viewer: the tier's own pause outlasts the global one")
    operator("pause", "resume", "readonly")
    served(viewer, "viewer after the tier's resume")
    left = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :control",
        ExpressionAttributeValues={":control": {"S": "control"}},
        ConsistentRead=True,
    )["Items"]
    assert not left, f"blocks left in {table} after restore and resume: {left}"
    REPORT.add(
        "checked",
        f"{deployment.mode}: tvm_users revoke alice refused her next vend in {within:.2f} s (bob served), blocks, "
        "restore; pause readonly, pause --all, resume --all, resume readonly, each seen by the next request",
    )


# -------------------------------------------------------------------------------------------------- the canary
CANARY_OK: Final = re.compile(r"canary OK: a message round-tripped on topic tvm-canary in cache \S+ in \d+ ms")


def _canary(world: World, flow: Flow) -> None:
    """docs/deploy.md's `make canary STACK=my-tvm ...`: the deployed CanaryFunction, invoked from here (no key here),
    runs its round trip through the emulator with the stack's key and table, and says so in one line; its unit is
    spent in the stack's issuance table (the item pk limit#canary, written under its role's UpdateItem)."""
    deployment = _deployed(flow)
    ran = world.shell.run(deployment.substitute(world.page.block("canary").commands[0]), timeout=300)
    assert ran.returncode == 0, ran.tail()
    line = ran.stdout.strip().splitlines()[-1]
    assert CANARY_OK.fullmatch(line), ran.tail()
    table = deployment.outputs["IssuanceTableName"]
    key = {"pk": {"S": "limit#canary"}, "sk": {"S": "bucket"}}
    assert "Item" in deployment.ministack.client("dynamodb").get_item(TableName=table, Key=key)
    REPORT.add("checked", f"{deployment.mode}: make canary STACK=...: {line}; its unit in {table}")


# ---------------------------------------------------------------------------------------------------- the site
def _publish(world: World, flow: Flow) -> None:
    deployment = _deployed(flow)
    ran = world.shell.run(deployment.substitute(world.page.block("publish").commands[0]), timeout=300)
    assert ran.returncode == 0, ran.tail()
    assert f"the site: {deployment.outputs['SiteUrl']}" in ran.stdout, ran.stdout
    s3 = deployment.ministack.client("s3")
    bucket = deployment.outputs["SiteBucketName"]
    dist = world.root / "static_site" / "dist"
    built = {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}
    stored = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert stored == set(built) | {"config.js"}, stored ^ (set(built) | {"config.js"})
    for key, body in built.items():
        if key not in ("index.html", "config.js"):
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    config_js = s3.get_object(Bucket=bucket, Key="config.js")["Body"].read().decode()
    match = re.search(r"window\.TVM_CONFIG = (\{.*\});", config_js, re.DOTALL)
    assert match, config_js
    config = json.loads(match.group(1))
    outputs = deployment.outputs
    assert config["apiUrl"] == outputs["ApiUrl"] and config["authMethod"] == deployment.mode, config
    if deployment.mode == "AmazonCognito":
        assert config["cognito"] == {
            "clientId": outputs["UserPoolClientId"],
            "region": outputs["Region"],
            "userPoolId": outputs["UserPoolId"],
        }, config
    else:
        assert "cognito" not in config, config
    page = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    assert "Content-Security-Policy" in page and outputs["ApiUrl"] in page


# ----------------------------------------------------------------------------------------------------- deletion
def _delete(world: World, flow: Flow) -> None:
    deployment = _deployed(flow)
    deployment.refresh()
    resources = list(deployment.resources)
    emptied, deleted = delete(world.shell, world.page, deployment, world.probes)
    assert deleted.returncode == 0, deleted.tail()
    assert "Deleted successfully" in deleted.output, deleted.tail()
    cloudformation = deployment.ministack.client("cloudformation")
    with pytest.raises(cloudformation.exceptions.ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName=deployment.stack)
    left = [r for r in resources if still_there(deployment.ministack, r, resources)]
    assert not left, f"sam delete left {[(r['LogicalResourceId'], r['PhysicalResourceId']) for r in left]}"
    if deployment.existing_secret_arn:  # "Not deleted: a secret you passed as MomentoApiKeySecretArn: it is yours"
        secrets = deployment.ministack.client("secretsmanager")
        assert secrets.describe_secret(SecretId=deployment.existing_secret_arn).get("DeletedDate") is None
    REPORT.add(
        "checked",
        f"{deployment.mode}: deployed, outputs, API, SDK, make publish, emptied ({emptied.seconds:.1f} s) and deleted "
        f"({deleted.seconds:.1f} s); {len(resources)} resources gone",
    )


def _observability(world: World, flow: Flow) -> None:
    """What watches the stack, found in MiniStack as deployed: every alarm on its metric (notifying the stack's topic
    where one was asked for), each stack-owned log group with the default retention and each function logging there,
    the canary's schedule enabled with the canary as its target, and (OPTIONAL_MODE) the dashboard and the topic."""
    deployment = _deployed(flow)
    ministack, stack = deployment.ministack, deployment.stack
    of = {r["LogicalResourceId"]: r for r in deployment.resources}

    def physical(kind: str) -> dict[str, str]:
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"] for r in deployment.resources if r["ResourceType"] == kind
        }

    topic = physical("AWS::SNS::Topic").get("AlarmTopic")
    assert (topic is not None) == (deployment.mode == OPTIONAL_MODE), physical("AWS::SNS::Topic")
    alarms = physical("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 10 and ("AuthorizerErrorsAlarm" in alarms) == (deployment.mode == "LambdaAuthorizer")
    cloudwatch = ministack.client("cloudwatch")
    for logical, name in alarms.items():
        [alarm] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        assert alarm["AlarmName"] == name and name.startswith(f"{stack}-"), (logical, name)
        assert alarm["MetricName"] and alarm["Namespace"] in ("MomentoTokenVending", "AWS/Lambda", "AWS/ApiGateway")
        assert alarm.get("AlarmActions", []) == ([topic] if topic else []), (logical, alarm.get("AlarmActions"))
    logs = ministack.client("logs")
    groups = physical("AWS::Logs::LogGroup")
    for name in groups.values():
        [group] = [
            g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
        ]
        assert name.startswith(f"/tvm/{stack}/") and group.get("retentionInDays") == 30, group
    functions = ministack.client("lambda")
    for logical, name in physical("AWS::Lambda::Function").items():
        logging_config = functions.get_function_configuration(FunctionName=name).get("LoggingConfig", {})
        assert logging_config.get("LogGroup") in groups.values(), (logical, logging_config)
    [schedule] = physical("AWS::Scheduler::Schedule").values()
    found = ministack.client("scheduler").get_schedule(Name=schedule)
    canary = functions.get_function(FunctionName=deployment.physical("CanaryFunction"))["Configuration"]
    assert found["State"] == "ENABLED" and found["ScheduleExpression"] == "rate(5 minutes)", found
    assert found["Target"]["Arn"] == canary["FunctionArn"], found["Target"]
    dashboards = physical("AWS::CloudWatch::Dashboard")
    assert bool(dashboards) == (deployment.mode == OPTIONAL_MODE), dashboards
    for name in dashboards.values():
        body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        assert len(body["widgets"]) >= 6, body
    if topic:
        subscriptions = ministack.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", OPTIONAL["AlarmEmail"])]
    assert of["CanaryFunction"]["ResourceStatus"] == "CREATE_COMPLETE"
    REPORT.add(
        "checked",
        f"{deployment.mode}: {len(alarms)} alarms on their metrics"
        + (f" notifying {OPTIONAL['AlarmEmail']} through the stack's topic" if topic else " (no topic asked for)")
        + f", {len(groups)} log groups (30 days) with every function logging to its own, the canary's schedule "
        "(rate(5 minutes), enabled) targeting it" + (", the dashboard" if dashboards else ""),
    )


def _deployed(flow: Flow) -> Deployment:
    assert flow.deployment is not None
    return flow.deployment


# ----------------------------------------------------------------------------------------------------- the tests
STEPS: Final = (
    ("deploy", _deploy),
    ("outputs", _outputs),
    ("observability", _observability),
    ("api", _api),
    ("limits", _limits),
    ("revocation", _revocation),
    ("canary", _canary),
    ("publish", _publish),
    ("delete", _delete),
)


@pytest.fixture(scope="session")
def flows(request: pytest.FixtureRequest, world: World) -> Iterator[dict[str, Flow]]:
    """The flows of the modes this run selected (all three in `make test`), started at once."""
    modes = {
        item.callspec.params["mode"]
        for item in request.session.items
        if "flows" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")
    }
    started = start_flows(world, STEPS, [mode for mode in MODES if mode in modes])
    try:
        yield started
    finally:
        for flow in started.values():
            flow.finish()


@pytest.mark.parametrize("mode", MODES)
def test_sam_deploy_completes(flows: dict[str, Flow], mode: str) -> None:
    flows[mode].outcome("deploy")


@pytest.mark.parametrize("mode", MODES)
def test_the_stack_completes_with_each_documented_output(flows: dict[str, Flow], mode: str) -> None:
    flows[mode].outcome("outputs")


@pytest.mark.parametrize("mode", MODES)
def test_the_alarms_log_groups_schedule_and_dashboard_are_deployed_as_asked(flows: dict[str, Flow], mode: str) -> None:
    flows[mode].outcome("observability")


@pytest.mark.parametrize("mode", MODES)
def test_the_deployed_api_answers_as_documented_and_its_tokens_work_with_the_sdk(
    flows: dict[str, Flow], mode: str
) -> None:
    flows[mode].outcome("api")


@pytest.mark.parametrize("mode", MODES)
def test_the_deployed_issuance_limit_holds_and_its_table_is_shared(flows: dict[str, Flow], mode: str) -> None:
    flows[mode].outcome("limits")


@pytest.mark.parametrize("mode", [REVOCATION_MODE])
def test_a_revoked_user_and_paused_tiers_are_refused_by_the_deployed_function_and_restored(
    flows: dict[str, Flow], mode: str
) -> None:
    flows[mode].outcome("revocation")


@pytest.mark.parametrize("mode", MODES)
def test_make_publish_puts_the_built_site_and_a_correct_config_js_in_the_bucket(
    flows: dict[str, Flow], mode: str
) -> None:
    flows[mode].outcome("publish")


@pytest.mark.parametrize("mode", MODES)
def test_make_canary_runs_the_deployed_canary_through_momento(flows: dict[str, Flow], mode: str) -> None:
    flows[mode].outcome("canary")


@pytest.mark.parametrize("mode", MODES)
def test_the_documented_deletion_leaves_nothing_of_the_stack(flows: dict[str, Flow], mode: str) -> None:
    flows[mode].outcome("delete")
