"""Each AuthenticationMethod the local stacks run, as one entry: everything `make dev` (stack.py, local_files.py,
ready.py), `make sam-api` (sam_local) and moto's seeding (seed.py) do differently per mode is here, and they ask
the entry instead of comparing the mode's name.

An entry says: whether its callers are the demo users or anonymous guests (so which files are read and watched),
what moto must hold for its users, what the local API's authorizers are given, how an edit of the users is applied
while running, its lines in the ready block, and whether `sam local` can run it. A new mode is one class here and
one line in MODES; CONTRIBUTING.md lists what the other layers need (tests/unit/test_auth_modes.py keeps the
registries in step).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from .cognito import CognitoInfo, CognitoPool, cognito_pool_from_template, cognito_users
from .seed import USERS_SECRET_NAME, MotoClients, MotoState, SeededSecret, secret_arn, stack_resources, users_secret

if TYPE_CHECKING:
    from local_api import LocalApi
    from tvm_users.demo import DemoUsers

    from .config import StackConfig
    from .stack import StackInfo

__all__ = [
    "AMAZON_COGNITO",
    "DEFAULT_AUTH",
    "LAMBDA_AUTHORIZER",
    "MODES",
    "OPEN",
    "SAM_LOCAL_MODES",
    "ApiAuthorizers",
    "AuthMode",
    "Login",
    "Seeded",
    "TemplateParameters",
]

# The template parameters the local API is given, once they are all known (the emulator's port may come later).
TemplateParameters = Callable[[], Awaitable[Mapping[str, str]]]


class Login(Protocol):
    """One row of the demo logins table: devstack's DemoUser and sam_local's DemoLogin both are one."""

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> str: ...

    @property
    def tier(self) -> str | None: ...


@dataclass(frozen=True)
class ApiAuthorizers:
    """What the local API needs besides the template: physical ids for the template's `!Ref`s (every mode's issuance
    table, seed.py's `stack_resources`; the mode's users secret, or its pool and client) and where a JWT issuer's keys
    are (local use only)."""

    resources: Mapping[str, str] = field(default_factory=dict)
    jwks_urls: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seeded:
    """moto once seeded: what it holds (seed.py), and the local pool's facts where the mode has one."""

    holds: tuple[MotoState, ...]
    cognito: CognitoInfo | None


class AuthMode(Protocol):
    """One AuthenticationMethod offline. The facts first, then what the stack asks of the mode, in start order."""

    @property
    def name(self) -> str:
        """The template's AuthenticationMethod value: AUTH=... and `--auth`."""
        ...

    @property
    def has_users(self) -> bool:
        """True: callers are local/demo_users.json's users (read, checked, watched). False: anonymous guests, who get
        the policy's anonymous tier, and the users file is not read at all."""
        ...

    @property
    def moto_services(self) -> tuple[str, ...]:
        """The AWS services the stack and the functions call in moto (their boto3 clients are made while it starts)."""
        ...

    @property
    def sam_local_refusal(self) -> str | None:
        """Why `sam local start-api` cannot serve this mode, as the sentence make sam-api prints; None: it can."""
        ...

    @property
    def invoke_event(self) -> str:
        """A sample event of the vending function in this mode, for `sam local invoke` (relative to the checkout)."""
        ...

    def watched_files(self, config: StackConfig) -> tuple[Path, ...]:
        """The files read before start and applied while running when they change (make dev), the policy first."""
        ...

    async def users_in_moto(
        self, users: DemoUsers | None, template: Path, parameters: TemplateParameters
    ) -> MotoState | None:
        """What moto must hold for this mode's callers, besides the Momento key (None: nothing). Slow parts run in a
        thread; `parameters` is awaited only by a mode that reads the template's resources."""
        ...

    async def cognito_info(self, holds: Sequence[MotoState], moto_url: str) -> CognitoInfo | None:
        """Once seeded: the local pool's facts for the site, the API and the ready block (None: no pool)."""
        ...

    async def api_authorizers(self, seeded: Awaitable[Seeded]) -> ApiAuthorizers:
        """What the local API's authorizers are given. Awaits `seeded` only if they need moto's ids: the API of
        the other modes starts while moto is seeded."""
        ...

    def check_users(self, users: DemoUsers, holds: Sequence[MotoState]) -> None:
        """Refuse an edited users file the running mode cannot apply (a ConfigError), before anything is applied."""
        ...

    async def apply_users(self, users: DemoUsers, holds: list[MotoState], moto: MotoClients, api: LocalApi) -> str:
        """Put edited users where the API reads them, at once, updating `holds` in place so that a moto restarted
        from now on is re-seeded with them; returns what was done, for the log."""
        ...

    def ready_lines(self, info: StackInfo) -> list[str]:
        """make dev's ready block: how to sign in, and a request to try."""
        ...

    def sam_ready_lines(self, api_url: str, users: Sequence[Login], guest_tier: str | None) -> list[str]:
        """make sam-api's ready block: the same, for SAM CLI's gateway."""
        ...


# ---------------------------------------------------------------------- the modes
@dataclass(frozen=True)
class OpenMode:
    """Anyone, as a guest of the policy's anonymous tier: no users, no authorizer, nothing in moto but the key."""

    name: str = "Open"
    has_users: bool = False
    moto_services: tuple[str, ...] = ("secretsmanager", "dynamodb")
    sam_local_refusal: str | None = None
    invoke_event: str = "events/token/get_token_open.json"

    def watched_files(self, config: StackConfig) -> tuple[Path, ...]:
        return (config.policy_file,)

    async def users_in_moto(
        self, users: DemoUsers | None, template: Path, parameters: TemplateParameters
    ) -> MotoState | None:
        return None

    async def cognito_info(self, holds: Sequence[MotoState], moto_url: str) -> CognitoInfo | None:
        return None

    async def api_authorizers(self, seeded: Awaitable[Seeded]) -> ApiAuthorizers:
        return ApiAuthorizers(resources=stack_resources())  # no authorizer: only what every mode's functions name

    def check_users(self, users: DemoUsers, holds: Sequence[MotoState]) -> None:
        return None

    async def apply_users(self, users: DemoUsers, holds: list[MotoState], moto: MotoClients, api: LocalApi) -> str:
        return "nothing: Open mode has no users"  # not called: the users file is neither read nor watched

    def ready_lines(self, info: StackInfo) -> list[str]:
        return _guest_lines(info.api_url, info.guest_tier, "chat-lobby")

    def sam_ready_lines(self, api_url: str, users: Sequence[Login], guest_tier: str | None) -> list[str]:
        return _guest_lines(api_url, guest_tier, "room-1")


@dataclass(frozen=True)
class LambdaAuthorizerMode:
    """HTTP Basic, checked by the credentials authorizer against the users secret (the demo users, hashed)."""

    name: str = "LambdaAuthorizer"
    has_users: bool = True
    moto_services: tuple[str, ...] = ("secretsmanager", "dynamodb")
    sam_local_refusal: str | None = None
    invoke_event: str = "events/token/get_token_lambda_authorizer.json"

    def watched_files(self, config: StackConfig) -> tuple[Path, ...]:
        return (config.policy_file, config.demo_users_file)

    async def users_in_moto(
        self, users: DemoUsers | None, template: Path, parameters: TemplateParameters
    ) -> MotoState | None:
        if users is None:
            raise ValueError("LambdaAuthorizer mode needs the demo users")
        return users_secret(await asyncio.to_thread(_hashed_store, users))

    async def cognito_info(self, holds: Sequence[MotoState], moto_url: str) -> CognitoInfo | None:
        return None

    async def api_authorizers(self, seeded: Awaitable[Seeded]) -> ApiAuthorizers:
        # The template's `!Ref UsersSecret`: its ARN is fixed in advance (seed.py), so the API need not wait.
        return ApiAuthorizers(resources={**stack_resources(), "UsersSecret": secret_arn(USERS_SECRET_NAME)})

    def check_users(self, users: DemoUsers, holds: Sequence[MotoState]) -> None:
        return None

    async def apply_users(self, users: DemoUsers, holds: list[MotoState], moto: MotoClients, api: LocalApi) -> str:
        """The users secret re-seeded with the new hashes, and the authorizer restarted with the gateway's cached
        results dropped (both would keep the old users for up to 300 s each)."""
        secret = users_secret(await asyncio.to_thread(_hashed_store, users))
        # Replaced first: a moto restarted from now on is re-seeded with the new users.
        holds[:] = [
            secret if isinstance(held, SeededSecret) and held.name == USERS_SECRET_NAME else held for held in holds
        ]
        await asyncio.to_thread(secret.update, moto)
        restarted = await api.restart_functions(api.authorizer_functions)
        return f"{secret.describe()} re-seeded, {', '.join(restarted)} restarted, cached authorizer results dropped"

    def ready_lines(self, info: StackInfo) -> list[str]:
        auth = "   Auth   LambdaAuthorizer: HTTP Basic with a demo login"
        return [auth, "", *_logins(info.users), *_try_basic(info.api_url, info.users)]

    def sam_ready_lines(self, api_url: str, users: Sequence[Login], guest_tier: str | None) -> list[str]:
        auth = "   Auth   LambdaAuthorizer: HTTP Basic, checked by CredentialsAuthorizerFunction"
        return [auth, "", *_logins(users), *_try_basic(api_url, users)]


@dataclass(frozen=True)
class AmazonCognitoMode:
    """A Cognito ID token, checked like API Gateway's JWT authorizer against the template's pool, made in moto."""

    name: str = "AmazonCognito"
    has_users: bool = True
    moto_services: tuple[str, ...] = ("secretsmanager", "dynamodb", "cognito-idp")
    sam_local_refusal: str | None = (
        "AUTH=AmazonCognito cannot run under sam local: SAM CLI has no local JWT authorizer (it logs "
        "\"Authorizer 'CognitoAuthorizer' ... not found, skipping\" and would serve /token with no "
        "authentication at all). Use AUTH=LambdaAuthorizer (the default) or AUTH=Open."
    )
    invoke_event: str = "events/token/get_token_jwt.json"  # `sam local invoke` needs no authorizer

    def watched_files(self, config: StackConfig) -> tuple[Path, ...]:
        return (config.policy_file, config.demo_users_file)

    async def users_in_moto(
        self, users: DemoUsers | None, template: Path, parameters: TemplateParameters
    ) -> MotoState | None:
        """The pool, client and groups read from the template with the API's parameters, and the demo users."""
        if users is None:
            raise ValueError("AmazonCognito mode needs the demo users")
        given = await parameters()
        return await asyncio.to_thread(cognito_pool_from_template, template, given, users.as_tuples())

    async def cognito_info(self, holds: Sequence[MotoState], moto_url: str) -> CognitoInfo | None:
        return await asyncio.to_thread(_pool(holds).info, moto_url)

    async def api_authorizers(self, seeded: Awaitable[Seeded]) -> ApiAuthorizers:
        done = await seeded
        pool, info = _pool(done.holds), done.cognito
        assert info is not None
        return ApiAuthorizers(
            # The template's `!Ref UserPool` and `!Ref UserPoolClient`, as CloudFormation would resolve them.
            resources={
                **stack_resources(),
                pool.pool_logical_id: info.user_pool_id,
                pool.client_logical_id: info.client_id,
            },
            # Local use only: moto's signing key is public (local_api/jwt_authorizer.py).
            jwks_urls={info.issuer: info.jwks_url},
        )

    def check_users(self, users: DemoUsers, holds: Sequence[MotoState]) -> None:
        cognito_users(users.as_tuples(), _pool(holds).group_names)  # a group the pool lacks: ConfigError

    async def apply_users(self, users: DemoUsers, holds: list[MotoState], moto: MotoClients, api: LocalApi) -> str:
        """The pool's users synced (a token signed before keeps its groups until it expires, as in AWS)."""
        pool = _pool(holds)
        synced = cognito_users(users.as_tuples(), pool.group_names)
        await asyncio.to_thread(pool.sync_users, moto, synced)
        return f"the local Cognito pool's users synced ({len(synced)})"

    def ready_lines(self, info: StackInfo) -> list[str]:
        cognito = info.cognito
        assert cognito is not None  # set once moto is seeded, before the stack is ready
        lines = [
            "   Auth   AmazonCognito: a Cognito ID token (Authorization: Bearer), checked like API Gateway's JWT",
            "          authorizer against moto's user pool. LOCAL ONLY: moto's signing key is public, and the",
            "          local pool's password policy is relaxed (8 characters) for the demo passwords.",
            "",
            f"   Cognito   pool {cognito.user_pool_id}",
            f"             client {cognito.client_id}   region {cognito.region}   endpoint {cognito.endpoint} (moto)",
            "",
            *_logins(info.users),
        ]
        if info.users:
            prefix = "" if info.moto_url.endswith(":5000") else f"MOTO_PORT={info.moto_url.rsplit(':', 1)[1]} "
            lines += [
                "",
                f"   Try    TOKEN=$({prefix}.venv/bin/python -m devstack token {shlex.quote(info.users[0].username)})",
                f'          curl -H "Authorization: Bearer $TOKEN" {info.api_url}/token',
            ]
        return lines

    def sam_ready_lines(self, api_url: str, users: Sequence[Login], guest_tier: str | None) -> list[str]:
        raise RuntimeError(self.sam_local_refusal)  # not called: SamApiConfig refuses the mode


OPEN: Final = OpenMode()
LAMBDA_AUTHORIZER: Final = LambdaAuthorizerMode()
AMAZON_COGNITO: Final = AmazonCognitoMode()
# Every mode, by name, in the order they are offered (--auth's choices, error messages).
MODES: Final[Mapping[str, AuthMode]] = {mode.name: mode for mode in (OPEN, LAMBDA_AUTHORIZER, AMAZON_COGNITO)}
# What make dev and make sam-api run without AUTH (the Makefile's `AUTH ?=` says the same).
DEFAULT_AUTH: Final = LAMBDA_AUTHORIZER.name
# The modes `sam local start-api` can serve.
SAM_LOCAL_MODES: Final = tuple(name for name, mode in MODES.items() if mode.sam_local_refusal is None)


# ---------------------------------------------------------------------- helpers
def _hashed_store(users: DemoUsers) -> str:
    """The users secret's value: the demo users hashed (scrypt at the production cost; runs in a thread)."""
    from tvm_users.demo import store_from_demo_users
    from tvm_users.store import dumps_store

    return dumps_store(store_from_demo_users(users))


def _pool(holds: Sequence[MotoState]) -> CognitoPool:
    """The user pool among what moto holds (AmazonCognito mode has exactly one)."""
    return next(held for held in holds if isinstance(held, CognitoPool))


def _logins(users: Sequence[Login]) -> list[str]:
    """The demo users' table: user, password, tier (from the policy's group rules)."""
    lines = ["   Demo logins (local/demo_users.json, local only):"]
    width = max([len("user"), *(len(u.username) for u in users)]) + 3
    pwidth = max([len("password"), *(len(u.password) for u in users)]) + 3
    lines.append(f"     {'user':<{width}}{'password':<{pwidth}}tier")
    for user in users:
        lines.append(f"     {user.username:<{width}}{user.password:<{pwidth}}{user.tier or '(refused)'}")
    return lines


def _try_basic(api_url: str, users: Sequence[Login]) -> list[str]:
    """A curl with the first demo login, if there is one."""
    if not users:
        return []
    first = users[0]
    return ["", f"   Try    curl -u {shlex.quote(f'{first.username}:{first.password}')} {api_url}/token"]


def _guest_lines(api_url: str, guest_tier: str | None, topic: str) -> list[str]:
    tier = f" (tier {guest_tier})" if guest_tier else ""
    return [
        f"   Auth   Open: no login; anyone, as a guest{tier}",
        "",
        f"   Try    curl '{api_url}/token?name=Ann&topics={topic}'",
    ]
