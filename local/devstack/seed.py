"""What moto must hold for the functions to work: one list, applied to a fresh moto at start and after each restart.

moto keeps its state in memory, so a moto that crashed and was started again is empty. Everything the stack put into
it is therefore described once, as a `MotoState` in `what_moto_must_hold`, and `seed` applies the whole list, at start
and after every restart, under the same names and ARNs (the functions were given those ARNs when the stack started).
Each mode adds what it keeps its users in (modes.py's `users_in_moto`): LambdaAuthorizer the users secret,
AmazonCognito its user pool, app client, groups and demo users (cognito.py's `CognitoPool`, under the same ids
thanks to moto's HASH id strategies); a later mode adds its own entry the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from .errors import DevstackError

__all__ = [
    "ACCOUNT_ID",
    "MOMENTO_KEY_SECRET_NAME",
    "REGION",
    "USERS_SECRET_NAME",
    "MotoClients",
    "MotoState",
    "SeededSecret",
    "secret_arn",
    "seed",
    "users_secret",
    "what_moto_must_hold",
]

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"  # moto's default account, set explicitly (MOTO_ACCOUNT_ID) for fixed ARNs
_ARN_SUFFIX: Final = "devstk"  # the ARN's random 6 characters, fixed with moto's `_custom_id_` tag
MOMENTO_KEY_SECRET_NAME: Final = "tvm/momento-api-key"  # noqa: S105 - a secret's name, not a secret
USERS_SECRET_NAME: Final = "tvm/users"  # noqa: S105 - a secret's name, not a secret


def secret_arn(name: str) -> str:
    """The full ARN moto gives the secret `name` (the template's parameter pattern wants the 6-character suffix)."""
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-{_ARN_SUFFIX}"


class MotoClients:
    """boto3 clients for one moto, made on first use and kept (making one costs about 0.2 s of model loading).

    Short timeouts and few retries: a moto that is down again must fail a re-seed fast, so the supervisor retries.
    """

    def __init__(self, endpoint_url: str) -> None:
        import boto3

        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
            region_name=REGION,
        )
        self._clients: dict[str, Any] = {}

    @classmethod
    def warmed(cls, endpoint_url: str, *services: str) -> MotoClients:
        """Clients for `services` made now (in a thread, while moto starts), so seeding does not wait for them."""
        moto = cls(endpoint_url)
        for service in services:
            moto.client(service)
        return moto

    def client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url, config=config)
        return self._clients[service]


class MotoState(Protocol):
    """One thing moto must hold. `apply` must work on an empty moto and on one that already holds it."""

    def describe(self) -> str:
        """A few words for the log ("secret tvm/users"), never a value."""
        ...

    def apply(self, moto: MotoClients) -> None: ...


@dataclass(frozen=True)
class SeededSecret:
    """A Secrets Manager secret under its fixed ARN (moto's `_custom_id_` tag names the ARN's suffix)."""

    name: str
    description: str
    value: str = field(repr=False)  # a key or password hashes: never in a repr, so never in a log

    @property
    def arn(self) -> str:
        return secret_arn(self.name)

    def describe(self) -> str:
        return f"secret {self.name}"

    def apply(self, moto: MotoClients) -> None:
        """Create it: moto is empty (at start, after a restart). Held already (a retried re-seed): put the value."""
        client = moto.client("secretsmanager")
        try:
            arn = self._create(client)
        except client.exceptions.ResourceExistsException:  # a retried re-seed: the same value again
            arn = client.put_secret_value(SecretId=self.name, SecretString=self.value)["ARN"]
        self._check(arn)

    def update(self, moto: MotoClients) -> None:
        """Put a new value into the secret moto holds (the users file changed), creating it only if moto lost it.

        Not `apply`: its create would fail on the held secret, and moto logs that refusal as a 400 access line at
        every edit of the users file."""
        client = moto.client("secretsmanager")
        try:
            arn = client.put_secret_value(SecretId=self.name, SecretString=self.value)["ARN"]
        except client.exceptions.ResourceNotFoundException:  # moto restarted, its re-seed not done yet
            arn = self._create(client)
        self._check(arn)

    def _create(self, client: Any) -> str:
        created: str = client.create_secret(
            Name=self.name,
            Description=f"Local stack: {self.description}",
            SecretString=self.value,
            Tags=[{"Key": "_custom_id_", "Value": _ARN_SUFFIX}],  # moto: use this id, not a random one
        )["ARN"]
        return created

    def _check(self, arn: str) -> None:
        if arn != self.arn:
            raise DevstackError(f"moto named the secret {arn}, not {self.arn}: has moto changed?")


def users_secret(users_store: str) -> SeededSecret:
    """The credentials authorizer's users secret, holding `users_store` (hashed demo users)."""
    return SeededSecret(USERS_SECRET_NAME, "the users (hashed from local/demo_users.json)", users_store)


def what_moto_must_hold(api_key: str, users: MotoState | None) -> list[MotoState]:
    """The Momento key's secret, then what the mode keeps its users in (modes.py's `users_in_moto`: the users
    secret, the Cognito pool, or nothing)."""
    holds: list[MotoState] = [
        SeededSecret(MOMENTO_KEY_SECRET_NAME, "the Momento API key (the emulator's root key)", api_key)
    ]
    return holds if users is None else [*holds, users]


def seed(moto: MotoClients, holds: Iterable[MotoState]) -> None:
    """Apply every entry, in order (runs in a thread: boto3 blocks)."""
    for state in holds:
        state.apply(moto)
