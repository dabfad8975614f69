"""docs/openapi.yaml, proven: the local stack (`make dev`'s Stack, free ports), in each AuthenticationMethod, is driven
through every answer the document lists that the stack can give, and every real answer (status, headers, body) is
checked against the document (tests/openapi_contract.py). Each test records the (status, body variant) pairs it saw
and fails unless they cover what the document says can occur in that mode (`Contract.expected`): a status or code
added to the document without a way to produce it here, or one the replay stops producing, fails it. The one
exception is the document's `x-replayed: false` (the stage's throttle, documented from AWS's documentation).

How each answer is produced, with the stack's own tools (nothing here stands in for a part):
- 401/403 of the gateway: no credentials, a wrong password (LambdaAuthorizer), a token the JWT authorizer refuses;
- 403 `revoked`, `tier_paused`, `vending_paused`: `python -m tvm_users revoke|pause ... --local`, as an operator;
- 403 `scope_denied`: a topic outside the tier (the stack's policy narrows `readonly` to `lobby` and `room-*`);
- 401 `unauthenticated`: a verified user named `guest` (reserved): put into the users secret the authorizer reads
  (LambdaAuthorizer; a store that already holds it still loads) or the Cognito pool (moto's admin API);
- 429: a burst of requests by one caller, over its tier's issuance limit (20 here) and over Momento's auth quota (the
  emulator plays an account allowed one mint a second, so the burst exceeds it however slow this machine is; every
  other mint here waits QUOTA_REST first);
- 503: the Momento emulator stopped (SIGSTOP); 500 of the gateway: moto stopped while the authorizer must read its
  users (LambdaAuthorizer), and, in every mode, a function that crashes;
- 500 `internal_error` (a bug) and the crash: the function's code is a copy (the stack runs on a copy of the checkout,
  `momento_tvm` beside the handler, as a build bundles it), into which a bug is planted and the worker restarted.

The same planting proves that the replay catches drift: the copy's `VendedToken.to_json` with `expiresAt` renamed
answers a 200 that the contract refuses (`test_a_renamed_response_field_fails_the_contract`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import pytest_asyncio
import yaml

from devstack import Stack, StackConfig
from devstack.seed import REGION, USERS_SECRET_NAME
from tests.integration.test_revocation_local import tvm_users
from tests.openapi_contract import MODES, Answer, ContractError, contract

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "TokenVendingFunction"
AUTHORIZER = "CredentialsAuthorizerFunction"
LIMIT = {"burst": 20, "refill_seconds": 600}
QUOTA = 1.0  # mints a second for the whole account (the emulator's --auth-quota; make dev plays Momento's 5)
QUOTA_REST = 1.1  # seconds: the quota's one-token bucket full again
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "viewer": "viewer-password"}
GUEST_PASSWORD = "guest-password-1"  # a throwaway local password
BURST = 40  # requests at once: over the limit (20), and over the quota (1 at once)


# ---------------------------------------------------------------------------------------------------- the copy
def copy_checkout(target: Path) -> Path:
    """What the stack reads, copied, with the library beside the vending handler (a worker puts the handler's
    folder first on sys.path, as Lambda does /var/task), so a bug can be planted in it."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "node_modules")
    for name in ("functions", "authorizers"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    shutil.copytree(ROOT / "src" / "momento_tvm", target / "functions" / "token_vending" / "momento_tvm", ignore=ignore)
    (target / "local").mkdir()
    shutil.copy2(ROOT / "local" / "demo_users.json", target / "local" / "demo_users.json")
    shutil.copy2(ROOT / "template.yaml", target / "template.yaml")
    policy_file = target / "functions" / "token_vending" / "policy.yaml"
    policy = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    for tier in policy["tiers"].values():
        tier["limits"] = dict(LIMIT)
    policy["tiers"]["readonly"]["topics"]["names"] = ["lobby", "room-*"]  # so a topic can be out of scope
    policy_file.write_text(yaml.safe_dump(policy), encoding="utf-8")
    return target


def plant(root: Path, relative: str, old: str, new: str) -> None:
    """Replace `old` (which must be there once) by `new` in the copy's file."""
    path = root / "functions" / "token_vending" / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (relative, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


# A bug in explain (500 internal_error) and a renamed field in the token answer (the mutant the contract must catch).
BUG = (
    "momento_tvm/vending.py",
    "        limits = None\n        if self.limit is not None:",
    '        raise RuntimeError("a planted bug")\n        limits = None\n        if self.limit is not None:',
)
RENAMED = ("momento_tvm/vending.py", '"expiresAt": self.expires_at,', '"expiresAtt": self.expires_at,')
# A function that fails before it answers (the gateway's 500).
CRASH = (
    "app.py",
    "    if event == DEPLOY_CHECK_EVENT:",
    '    raise RuntimeError("a planted crash")\n    if event == DEPLOY_CHECK_EVENT:',
)


# ------------------------------------------------------------------------------------------------- the replay
class Replay:
    """Requests to one stack, each answer checked against the contract and recorded as (status, variant)."""

    def __init__(self, stack: Stack, http: aiohttp.ClientSession, mode: str, root: Path) -> None:
        self.stack, self.http, self.mode, self.root = stack, http, mode, root
        self.seen: dict[tuple[int, str], list[str]] = {}
        self.ok_routes: set[tuple[str, str]] = set()

    async def answer(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None
    ) -> Answer:
        """The real answer, unchecked."""
        async with self.http.request(method, f"{self.stack.api_url}{path}", headers=headers, data=body) as response:
            text = await response.text()
            return Answer(method, path, response.status, dict(response.headers), text)

    async def ask(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None
    ) -> tuple[Answer, str]:
        """The answer and its variant, checked and recorded."""
        answer = await self.answer(method, path, headers, body)
        variant = contract().check(answer, self.mode)
        self.seen.setdefault((answer.status, variant), []).append(f"{method} {path}")
        if answer.status == 200:
            self.ok_routes.add((method, path.split("?", 1)[0]))
        return answer, variant

    async def expect(
        self, status: int, variant: str, method: str, path: str, headers: dict[str, str] | None = None, body: str = ""
    ) -> Answer:
        if status == 200:
            await asyncio.sleep(QUOTA_REST)  # a token is one mint of the account's quota
        answer, seen = await self.ask(method, path, headers, body or None)
        assert (answer.status, seen) == (status, variant), answer.describe()
        return answer

    async def tvm_users(self, *argv: str) -> None:
        """`python -m tvm_users ARGV --local` against this stack, as an operator runs it."""
        status, _, err, _ = await tvm_users(self.stack, *argv)
        assert status == 0, err

    async def paused(self, status: int, variant: str, who: dict[str, str], path: str, *command: str) -> None:
        """`command` (a revoke or pause), the refusal it causes, then its undoing."""
        await self.tvm_users(*command)
        await self.expect(status, variant, "GET", path, who)
        undo = {"revoke": "restore", "pause": "resume"}[command[0]]
        await self.tvm_users(undo, *command[1:])

    async def stopped(self, child: str, during: Callable[[], Awaitable[None]]) -> None:
        """`during` runs while the stack's `child` (emulator, moto) is stopped (SIGSTOP), then it goes on."""
        pid = self.stack.child_pid(child)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            await during()
        finally:
            os.kill(pid, signal.SIGCONT)

    async def until_ok(self, who: dict[str, str], path: str) -> None:
        """Ask until a token comes (Momento back after a stop); every answer on the way is checked too."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while True:
            await asyncio.sleep(QUOTA_REST)
            if (await self.ask("GET", path, who))[0].status == 200:
                return
            assert loop.time() < deadline, "no token within 20 s of Momento answering again"

    async def burst(self, who: dict[str, str], path: str) -> None:
        """BURST requests at once by one caller: over its issuance limit and over the account's quota."""
        await asyncio.sleep(QUOTA_REST)
        answers = await asyncio.gather(*(self.ask("GET", path, who) for _ in range(BURST)))
        variants = {variant for _, variant in answers}
        assert {"ErrorRateLimited", "ErrorQuotaExceeded"} <= variants, variants

    async def planted(self, *plants: tuple[str, str, str]) -> None:
        """The copy's vending function with `plants` applied, its worker restarted (as a redeployment)."""
        for relative, old, new in plants:
            plant(self.root, relative, old, new)
        await self.stack.api.restart_functions([FUNCTION])

    async def bug_and_mutant(self, who: dict[str, str], token_path: str, explain_path: str) -> None:
        """500 `internal_error` (a bug), and the renamed field refused by the contract; then the code as it is."""
        await self.planted(BUG, RENAMED)
        await self.expect(500, "ErrorInternal", "GET", explain_path, who)
        await asyncio.sleep(QUOTA_REST)
        renamed = await self.answer("GET", token_path, who)
        assert renamed.status == 200 and '"expiresAtt":' in renamed.body, renamed.describe()
        with pytest.raises(ContractError, match="expiresAt"):
            contract().check(renamed, self.mode)
        shutil.copy2(ROOT / "src" / "momento_tvm" / "vending.py", self.root / "functions" / "token_vending" / BUG[0])
        await self.stack.api.restart_functions([FUNCTION])

    async def crash(self, who: dict[str, str], token_path: str) -> None:
        """The gateway's 500: a function that fails before it answers."""
        await self.planted(CRASH)
        await self.expect(500, "GatewayInternalServerError", "GET", token_path, who)

    def assert_covered(self) -> None:
        """Everything the document says can occur in this mode (but the stage's throttle) was seen, on every route."""
        document = contract()
        missing = document.expected(self.mode) - set(self.seen)
        assert not missing, f"{self.mode}: documented but never produced: {sorted(missing)}"
        routes = {(method, path) for method, path, _ in document.operations()}
        assert self.ok_routes == routes, self.ok_routes
        assert document.not_replayed() == {(429, "GatewayTooManyRequests")}
        print(f"\n{self.mode}: " + ", ".join(f"{status} {variant}" for status, variant in sorted(self.seen)))


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def on_copy(root: Path, auth: str) -> StackConfig:
    ports = {"api_port": 0, "site_port": 0, "momento_grpc_port": 0, "momento_web_port": 0, "moto_port": 0}
    policy = root / "functions" / "token_vending" / "policy.yaml"
    return StackConfig(auth=auth, root=root, policy=policy, momento_auth_quota=QUOTA, **ports)


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def aws(stack: Stack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.moto_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


async def common(replay: Replay, who: dict[str, str], viewer: dict[str, str], query: str = "") -> None:
    """What every mode answers alike: the three routes' 200s, 400s, scope_denied, the pauses, 404 and 503."""
    amp = "&" if query else ""
    await replay.expect(200, "VendedToken", "GET", f"/token?{query}", who)
    body = json.dumps({"topics": ["room-1"], **({"name": "Ann"} if "name=" in query else {})})
    await replay.expect(200, "VendedToken", "POST", "/token", {**who, "Content-Type": "application/json"}, body)
    await replay.expect(200, "Explanation", "GET", f"/token/explain?{query}", who)
    await replay.expect(400, "ErrorInvalidRequest", "GET", f"/token?{query}{amp}bogus=1", who)
    await replay.expect(400, "ErrorInvalidRequest", "POST", "/token", who, "not json")
    await replay.expect(400, "ErrorInvalidRequest", "GET", f"/token/explain?{query}{amp}ttlSeconds=5", who)
    await replay.expect(403, "ErrorScopeDenied", "GET", f"/token?{query}{amp}topics=elsewhere", viewer)
    await replay.expect(403, "ErrorScopeDenied", "GET", f"/token/explain?{query}{amp}topics=elsewhere", viewer)
    tier = "guest" if replay.mode == "Open" else "readonly"
    await replay.paused(403, "ErrorTierPaused", viewer, f"/token?{query}", "pause", tier)
    await replay.paused(403, "ErrorVendingPaused", who, f"/token/explain?{query}", "pause", "--all")
    await replay.expect(404, "GatewayNotFound", "GET", "/nothing-here", who)
    await replay.expect(404, "GatewayNotFound", "DELETE", "/token", who)

    async def momento_down() -> None:
        await replay.expect(503, "ErrorUpstreamUnavailable", "GET", f"/token?{query}", who)

    await replay.stopped("emulator", momento_down)
    await replay.until_ok(who, f"/token?{query}")


# ---------------------------------------------------------------------------------------------------- each mode
async def test_lambda_authorizer_mode_answers_as_documented(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    root = copy_checkout(tmp_path)
    async with Stack(on_copy(root, "LambdaAuthorizer")) as stack:
        replay = Replay(stack, http, "LambdaAuthorizer", root)
        alice, bob, viewer = (basic(name, PASSWORDS[name]) for name in ("alice", "bob", "viewer"))

        async def users_unreadable() -> None:  # first: nothing cached yet, so the authorizer must read the store
            await replay.expect(500, "GatewayInternalServerError", "GET", "/token", alice)

        await replay.stopped("moto", users_unreadable)
        await replay.expect(401, "GatewayUnauthorized", "GET", "/token")
        await replay.expect(401, "GatewayUnauthorized", "GET", "/token/explain")
        await replay.expect(403, "GatewayForbidden", "GET", "/token", basic("alice", "wrong-password"))
        await common(replay, bob, viewer)
        await replay.paused(403, "ErrorRevoked", alice, "/token", "revoke", "alice")

        # A store that already holds `guest` still loads (tvm_users refuses to add one): the function refuses it.
        secrets = aws(stack, "secretsmanager")
        store = json.loads(secrets.get_secret_value(SecretId=USERS_SECRET_NAME)["SecretString"])
        users = store["users"]
        users["guest"] = dict(users["alice"])
        secrets.put_secret_value(SecretId=USERS_SECRET_NAME, SecretString=json.dumps(store))
        await stack.api.restart_functions([AUTHORIZER])
        await replay.expect(401, "ErrorUnauthenticated", "GET", "/token", basic("guest", PASSWORDS["alice"]))

        await replay.bug_and_mutant(alice, "/token", "/token/explain")
        await replay.burst(viewer, "/token")
        await replay.crash(alice, "/token")
        replay.assert_covered()


async def test_open_mode_answers_as_documented(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    root = copy_checkout(tmp_path)
    async with Stack(on_copy(root, "Open")) as stack:
        replay = Replay(stack, http, "Open", root)
        nobody: dict[str, str] = {}
        await common(replay, nobody, nobody, "name=Ann")
        await replay.bug_and_mutant(nobody, "/token?name=Ann", "/token/explain?name=Ann")
        await replay.burst(nobody, "/token?name=Bea&topics=chat-lobby")
        await replay.crash(nobody, "/token?name=Ann")
        replay.assert_covered()


async def test_amazon_cognito_mode_answers_as_documented(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    root = copy_checkout(tmp_path)
    async with Stack(on_copy(root, "AmazonCognito")) as stack:
        replay = Replay(stack, http, "AmazonCognito", root)
        info = stack.info.cognito
        assert info is not None
        cognito = aws(stack, "cognito-idp")

        def sign_in(username: str, password: str) -> dict[str, str]:
            result = cognito.initiate_auth(
                ClientId=info.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )["AuthenticationResult"]
            return {"Authorization": f"Bearer {result['IdToken']}"}

        alice, bob, viewer = (sign_in(name, PASSWORDS[name]) for name in ("alice", "bob", "viewer"))
        await replay.expect(401, "GatewayUnauthorized", "GET", "/token")
        await replay.expect(401, "GatewayUnauthorized", "GET", "/token", {"Authorization": "Bearer not-a-jwt"})
        await replay.expect(401, "GatewayUnauthorized", "GET", "/token/explain", {"Authorization": "Bearer x.y.z"})
        await common(replay, bob, viewer)
        await replay.paused(403, "ErrorRevoked", alice, "/token", "revoke", "alice")

        # moto's pool takes the reserved name that the CLI refuses: the function refuses the verified `guest`.
        cognito.admin_create_user(UserPoolId=info.user_pool_id, Username="guest", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=info.user_pool_id, Username="guest", Password=GUEST_PASSWORD, Permanent=True
        )
        cognito.admin_add_user_to_group(UserPoolId=info.user_pool_id, Username="guest", GroupName="readwrite")
        await replay.expect(401, "ErrorUnauthenticated", "GET", "/token", sign_in("guest", GUEST_PASSWORD))

        await replay.bug_and_mutant(alice, "/token", "/token/explain")
        await replay.burst(viewer, "/token")
        await replay.crash(alice, "/token")
        replay.assert_covered()


async def test_every_mode_has_its_replay() -> None:
    """One test per AuthenticationMethod above, so a mode added to the document's x-auth-modes needs one here."""
    assert tuple(contract().document["x-auth-modes"]) == ("LambdaAuthorizer", "AmazonCognito", "Open")
    assert set(MODES) == set(contract().document["x-auth-modes"])
    tested = {name for name in globals() if name.endswith("_mode_answers_as_documented")}
    assert len(tested) == len(MODES)
