"""What moto must hold for the functions to work: one list, applied to a fresh moto at start and after each restart.

moto keeps its state in memory, so a moto that crashed and was started again is empty. Everything the stack put into
it is therefore described once, as a `MotoState` in `what_moto_must_hold`, and `seed` applies the whole list, at start
and after every restart, under the same names and ARNs (the functions were given those ARNs when the stack started).
Every mode holds the Momento key's secret and, last, the issuance table (`SeededTable`: the template's
`IssuanceTable`, created from the template's own properties, so its keys and TTL are the deployed ones; its items,
the callers' issuance limits, are lost with a moto restart, so every bucket then starts full). Between the two, each
mode adds what it keeps its users in (modes.py's `users_in_moto`): LambdaAuthorizer the users secret, AmazonCognito
its user pool, app client, groups and demo users (cognito.py's `CognitoPool`, under the same ids thanks to moto's
HASH id strategies); a later mode adds its own entry the same way.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from .errors import ConfigError, DevstackError

__all__ = [
    "ACCOUNT_ID",
    "CHECKOUT_TEMPLATE",
    "ISSUANCE_TABLE",
    "ISSUANCE_TABLE_NAME",
    "MOMENTO_KEY_SECRET_NAME",
    "REGION",
    "USERS_SECRET_NAME",
    "MotoClients",
    "MotoState",
    "SeededSecret",
    "SeededTable",
    "issuance_table",
    "secret_arn",
    "seed",
    "stack_resources",
    "users_secret",
    "what_moto_must_hold",
]

log = logging.getLogger("devstack")

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "123456789012"  # moto's default account, set explicitly (MOTO_ACCOUNT_ID) for fixed ARNs
_ARN_SUFFIX: Final = "devstk"  # the ARN's random 6 characters, fixed with moto's `_custom_id_` tag
MOMENTO_KEY_SECRET_NAME: Final = "tvm/momento-api-key"  # noqa: S105 - a secret's name, not a secret
USERS_SECRET_NAME: Final = "tvm/users"  # noqa: S105 - a secret's name, not a secret
# The template's issuance table (its logical id), and the name it has locally: the functions are given it where the
# template says `!Ref IssuanceTable` (make dev's local API through `stack_resources`, sam local through env-vars.json).
ISSUANCE_TABLE: Final = "IssuanceTable"
ISSUANCE_TABLE_NAME: Final = "tvm-issuance"
CHECKOUT_TEMPLATE: Final = Path(__file__).resolve().parents[2] / "template.yaml"
# What the template needs to be read at all (MomentoEndpoint has no default; a key source is required by its Rules);
# the table depends on neither, nor on the mode.
_TEMPLATE_PARAMETERS: Final = {"MomentoEndpoint": "127.0.0.1:8080"}


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


@dataclass(frozen=True)
class SeededTable:
    """A DynamoDB table made as CloudFormation makes the template's resource `logical_id`, under the local `name`:
    its key schema, attribute definitions, billing, encryption and indexes through CreateTable, its TTL through
    UpdateTimeToLive, point-in-time recovery through UpdateContinuousBackups. The template is read when the table is
    first applied (in seeding's thread: reading it imports SAM's translator)."""

    name: str
    template: Path
    logical_id: str = ISSUANCE_TABLE

    def describe(self) -> str:
        return f"table {self.name}"

    @functools.cached_property
    def calls(self) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
        """(CreateTable's parameters, UpdateTimeToLive's or None, UpdateContinuousBackups' or None)."""
        from local_api.template import deployed_resources

        given = {**_TEMPLATE_PARAMETERS, "MomentoApiKeySecretArn": secret_arn(MOMENTO_KEY_SECRET_NAME)}
        resource = deployed_resources(self.template, given, REGION).get(self.logical_id)
        if resource is None or resource.type != "AWS::DynamoDB::Table":
            raise ConfigError(
                f"{self.template.name} has no AWS::DynamoDB::Table {self.logical_id}: the functions' limiter needs it"
            )
        return table_calls(resource.properties, self.name, self.logical_id)

    def apply(self, moto: MotoClients) -> None:
        """Create it: moto is empty (at start, after a restart). Held already (a retried re-seed): kept, items too."""
        create, ttl, recovery = self.calls
        client = moto.client("dynamodb")
        with contextlib.suppress(client.exceptions.ResourceInUseException):
            client.create_table(**create)
        if ttl is not None:
            held = client.describe_time_to_live(TableName=self.name)["TimeToLiveDescription"]
            if held.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                client.update_time_to_live(**ttl)
        if recovery is not None:
            client.update_continuous_backups(**recovery)


def table_calls(
    properties: Mapping[str, Any], name: str, where: str
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """An AWS::DynamoDB::Table's properties as the API calls that make it: CreateTable (named `name`),
    UpdateTimeToLive and UpdateContinuousBackups (None when not asked for). A property with no such call is left out,
    with a log line; so is TableName (the local name is fixed: the functions are given it)."""
    create: dict[str, Any] = {"TableName": name}
    ttl = recovery = None
    for key, value in properties.items():
        if key in _CREATE_TABLE_AS_IS:
            create[key] = value
        elif key == "SSESpecification":  # CloudFormation's SSEEnabled is the API's Enabled
            create[key] = {
                ("Enabled" if field_name == "SSEEnabled" else field_name): field_value
                for field_name, field_value in value.items()
            }
        elif key == "StreamSpecification":  # a view type alone, in CloudFormation, means a stream
            create[key] = {"StreamEnabled": True, **value}
        elif key == "TimeToLiveSpecification":
            ttl = {"TableName": name, "TimeToLiveSpecification": dict(value)}
        elif key == "PointInTimeRecoverySpecification":
            recovery = {"TableName": name, "PointInTimeRecoverySpecification": dict(value)}
        else:
            log.info("devstack: %s's %s is not applied to the local table", where, key)
    return create, ttl, recovery


# CloudFormation properties that are CreateTable's parameters with the same name and shape.
_CREATE_TABLE_AS_IS: Final = frozenset(
    {
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "ProvisionedThroughput",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "TableClass",
        "DeletionProtectionEnabled",
        "Tags",
    }
)


def issuance_table(template: Path = CHECKOUT_TEMPLATE) -> SeededTable:
    """The template's issuance table, as the local stacks hold it."""
    return SeededTable(ISSUANCE_TABLE_NAME, template)


def stack_resources() -> dict[str, str]:
    """Physical ids of the template's resources every mode's functions name (`!Ref`), as CloudFormation would give
    them: the issuance table's name. The mode's own (its users' store) come from modes.py."""
    return {ISSUANCE_TABLE: ISSUANCE_TABLE_NAME}


def users_secret(users_store: str) -> SeededSecret:
    """The credentials authorizer's users secret, holding `users_store` (hashed demo users)."""
    return SeededSecret(USERS_SECRET_NAME, "the users (hashed from local/demo_users.json)", users_store)


def what_moto_must_hold(api_key: str, users: MotoState | None, template: Path = CHECKOUT_TEMPLATE) -> list[MotoState]:
    """The Momento key's secret, what the mode keeps its users in (modes.py's `users_in_moto`: the users secret,
    the Cognito pool, or nothing), then the issuance table (read from `template`)."""
    key = SeededSecret(MOMENTO_KEY_SECRET_NAME, "the Momento API key (the emulator's root key)", api_key)
    return [key, *([] if users is None else [users]), issuance_table(template)]


def seed(moto: MotoClients, holds: Iterable[MotoState]) -> None:
    """Apply every entry, in order (runs in a thread: boto3 blocks)."""
    for state in holds:
        state.apply(moto)
