"""AmazonCognito mode offline: the template's user pool, app client and groups created in moto, and the demo users.

What is created comes from template.yaml, read the way CloudFormation would deploy it for the mode (local_api's
`deployed_resources`): the UserPool, UserPoolClient and UserPoolGroup resources' properties become moto's
CreateUserPool / CreateUserPoolClient / CreateGroup calls, so the group names are the template's and a change to the
template needs no change here. One thing differs, on purpose and locally only: the pool's password policy is relaxed
to 8 characters and no character classes (LOCAL_PASSWORD_POLICY), so the demo passwords (`alice-password`, the same in
every mode and in the README) are accepted. A deployed pool keeps the template's strong policy.

moto runs with MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY=HASH and ..._CLIENT_ID_STRATEGY=HASH, so the same calls give
the same ids: after a moto restart `CognitoPool.apply` creates everything again under the ids the local API and the
site were given, and says so if moto gave others.

moto's tokens are signed with a key that ships with moto: they prove nothing outside this machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .errors import ConfigError, DevstackError
from .seed import REGION, MotoClients

__all__ = [
    "HASH_ID_STRATEGIES",
    "LOCAL_PASSWORD_POLICY",
    "CognitoInfo",
    "CognitoPool",
    "CognitoUser",
    "cognito_pool_from_template",
    "cognito_users",
    "local_client_id",
    "sign_in",
]

log = logging.getLogger("devstack")

# moto derives pool and client ids from a hash of the create call instead of random ones: stable across restarts.
HASH_ID_STRATEGIES: Final = {
    "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
    "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY": "HASH",
}
# LOCAL ONLY: the demo passwords must pass it. The template's own policy (12 characters, three classes) is deployed.
LOCAL_PASSWORD_POLICY: Final[Mapping[str, Any]] = {
    "MinimumLength": 8,
    "RequireLowercase": False,
    "RequireUppercase": False,
    "RequireNumbers": False,
    "RequireSymbols": False,
}
# CloudFormation property -> API parameter, where they differ.
_POOL_RENAMES: Final = {"UserPoolName": "PoolName"}


@dataclass(frozen=True)
class CognitoUser:
    username: str
    password: str = field(repr=False)
    groups: tuple[str, ...]


@dataclass(frozen=True)
class CognitoInfo:
    """What the site, the ready block and `--ready-json` say about the local pool."""

    region: str
    user_pool_id: str
    client_id: str
    endpoint: str  # moto: the Cognito IdP API (the site's config.js `cognito.endpoint`)
    issuer: str  # what the tokens' `iss` says: the AWS form
    jwks_url: str  # where the local API fetches the pool's keys (moto)


class CognitoPool:
    """The template's pool, client, groups and the demo users: one entry of `what_moto_must_hold` (seed.py).

    `apply` works on an empty moto (at start, after a restart) and on one that already holds it all (a retried
    re-seed). The ids moto gives on the first apply are kept; a later apply that gets others is a DevstackError.
    """

    def __init__(
        self,
        pool: Mapping[str, Any],
        client: Mapping[str, Any],
        groups: tuple[Mapping[str, Any], ...],
        users: tuple[CognitoUser, ...],
        pool_logical_id: str,
        client_logical_id: str,
    ) -> None:
        self.pool = dict(pool)  # CreateUserPool parameters
        self.client = dict(client)  # CreateUserPoolClient parameters; UserPoolId is filled in by apply
        self.groups = groups  # CreateGroup parameters, the same
        self.users = users
        self.pool_logical_id = pool_logical_id  # the template's ids, for `!Ref UserPool` / `!Ref UserPoolClient`
        self.client_logical_id = client_logical_id
        self.pool_id: str | None = None
        self.client_id: str | None = None

    @property
    def name(self) -> str:
        return str(self.pool["PoolName"])

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(str(group["GroupName"]) for group in self.groups)

    def describe(self) -> str:
        return f"Cognito pool {self.name} (its client, {len(self.groups)} groups, {len(self.users)} users)"

    def apply(self, moto: MotoClients) -> None:
        client = moto.client("cognito-idp")
        pool_id = self._pool(client)
        client_id = self._client(client, pool_id)
        for group in self.groups:
            with contextlib.suppress(client.exceptions.GroupExistsException):  # a retried re-seed
                client.create_group(**_with_pool(group, self.pool_logical_id, pool_id))
        for user in self.users:
            with contextlib.suppress(client.exceptions.UsernameExistsException):
                client.admin_create_user(UserPoolId=pool_id, Username=user.username, MessageAction="SUPPRESS")
            client.admin_set_user_password(
                UserPoolId=pool_id, Username=user.username, Password=user.password, Permanent=True
            )
            for group_name in user.groups:
                client.admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=group_name)
        self.pool_id, self.client_id = pool_id, client_id

    def sync_users(self, moto: MotoClients, users: tuple[CognitoUser, ...]) -> None:
        """Make the running pool hold `users` (local/demo_users.json changed): new ones created, every password and
        group set made what the file says, and the users the file no longer lists deleted. Users made by hand (not
        from the file) are left alone. From now on a re-seed after a moto restart creates these."""
        if self.pool_id is None:
            raise RuntimeError("the pool is not created yet")
        client = moto.client("cognito-idp")
        wanted = {user.username for user in users}
        # Asked first, so that nothing is created twice or deleted when gone: moto logs each refused call as a 400
        # access line, which would be noise at every edit of the users file.
        held_users = self._usernames(client)
        for user in users:
            if user.username not in held_users:
                client.admin_create_user(UserPoolId=self.pool_id, Username=user.username, MessageAction="SUPPRESS")
            client.admin_set_user_password(
                UserPoolId=self.pool_id, Username=user.username, Password=user.password, Permanent=True
            )
            held = client.admin_list_groups_for_user(UserPoolId=self.pool_id, Username=user.username, Limit=60)
            current = {group["GroupName"] for group in held["Groups"]}
            for group_name in user.groups:  # joined before the others are left: never in no group mid-way
                if group_name not in current:
                    client.admin_add_user_to_group(
                        UserPoolId=self.pool_id, Username=user.username, GroupName=group_name
                    )
            for group_name in current - set(user.groups):
                client.admin_remove_user_from_group(
                    UserPoolId=self.pool_id, Username=user.username, GroupName=group_name
                )
        for gone in [user.username for user in self.users if user.username not in wanted]:
            if gone in held_users:
                with contextlib.suppress(client.exceptions.UserNotFoundException):
                    client.admin_delete_user(UserPoolId=self.pool_id, Username=gone)
        self.users = users

    def _usernames(self, client: Any) -> set[str]:
        """The users the pool holds now."""
        pages = client.get_paginator("list_users").paginate(UserPoolId=self.pool_id)
        return {user["Username"] for page in pages for user in page["Users"]}

    def _pool(self, client: Any) -> str:
        if self.pool_id is not None:
            # Listed, not described: describing a pool a restarted moto lacks is a 400 line in moto's log.
            pages = client.get_paginator("list_user_pools").paginate(MaxResults=60)
            if any(pool["Id"] == self.pool_id for page in pages for pool in page["UserPools"]):
                return self.pool_id  # held already (a retried re-seed): creating it again would empty it
        pool_id = str(client.create_user_pool(**self.pool)["UserPool"]["Id"])
        if self.pool_id is not None and pool_id != self.pool_id:
            raise DevstackError(
                f"moto gave the user pool the id {pool_id}, not {self.pool_id}: is "
                "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY=HASH no longer honoured?"
            )
        return pool_id

    def _client(self, client: Any, pool_id: str) -> str:
        listed = client.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
        held = [item["ClientId"] for item in listed if item["ClientName"] == self.client["ClientName"]]
        if held:
            return str(held[0])
        parameters = _with_pool(self.client, self.pool_logical_id, pool_id)
        client_id = str(client.create_user_pool_client(**parameters)["UserPoolClient"]["ClientId"])
        if self.client_id is not None and client_id != self.client_id:
            raise DevstackError(
                f"moto gave the app client the id {client_id}, not {self.client_id}: is "
                "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY=HASH no longer honoured?"
            )
        return client_id

    def info(self, moto_url: str) -> CognitoInfo:
        """The pool's facts, its issuer and key set read from moto's OpenID discovery document (as a gateway does).

        Runs in a thread after the first `apply`.
        """
        if self.pool_id is None or self.client_id is None:
            raise RuntimeError("the pool is not created yet")
        url = f"{moto_url}/{self.pool_id}/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - moto's own http URL
            discovery = json.loads(response.read())
        return CognitoInfo(
            region=REGION,
            user_pool_id=self.pool_id,
            client_id=self.client_id,
            endpoint=moto_url,
            issuer=str(discovery["issuer"]),
            jwks_url=str(discovery["jwks_uri"]),
        )


def _with_pool(parameters: Mapping[str, Any], pool_logical_id: str, pool_id: str) -> dict[str, Any]:
    """The template's `!Ref UserPool` (a marker until the pool exists) replaced by moto's pool id."""
    from local_api.intrinsics import physical

    resolved: dict[str, Any] = physical(dict(parameters), {pool_logical_id: pool_id})
    return resolved


def _api_parameters(
    properties: Mapping[str, Any], operation: str, renames: Mapping[str, str], where: str
) -> dict[str, Any]:
    """CloudFormation properties as the API call's parameters; what the API has no parameter for is left out."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("cognito-idp")
    members = set(model.operation_model(operation).input_shape.members)
    parameters: dict[str, Any] = {}
    for name, value in properties.items():
        key = renames.get(name, name)
        if key in members:
            parameters[key] = value
        else:
            log.info("devstack: %s's %s has no %s parameter: not applied in moto", where, name, operation)
    return parameters


def _needs_deployed_values(value: Any) -> set[str]:
    """The names of what `value` still refers to that exists only once deployed (local_api's markers)."""
    from local_api.intrinsics import unresolved

    if isinstance(value, str):
        return set(unresolved(value))
    if isinstance(value, list):
        return {name for item in value for name in _needs_deployed_values(item)}
    if isinstance(value, dict):
        return {name for item in value.values() for name in _needs_deployed_values(item)}
    return set()


def _check_refers_to_pool(parameters: Mapping[str, Any], pool_logical_id: str, where: str, *, belongs: bool) -> None:
    """Only the pool itself may still be unknown, and a client or group must belong to that pool."""
    from local_api.intrinsics import marked

    missing = _needs_deployed_values(parameters) - ({pool_logical_id} if belongs else set())
    if missing:
        raise ConfigError(f"{where} needs values that exist only in AWS ({', '.join(sorted(missing))})")
    if belongs and parameters.get("UserPoolId") != marked(pool_logical_id):
        raise ConfigError(f"{where}'s UserPoolId is not !Ref {pool_logical_id}: the local stack serves one pool")


def cognito_pool_from_template(
    template: Path, parameters: Mapping[str, str], demo_users: Mapping[str, tuple[str, tuple[str, ...]]]
) -> CognitoPool:
    """The pool, client and groups `parameters` deploy from `template`, and the demo users to put in them."""
    from local_api.template import deployed_resources

    resources = deployed_resources(template, parameters, REGION)
    pools = [r for r in resources.values() if r.type == "AWS::Cognito::UserPool"]
    clients = [r for r in resources.values() if r.type == "AWS::Cognito::UserPoolClient"]
    groups = [r for r in resources.values() if r.type == "AWS::Cognito::UserPoolGroup"]
    if len(pools) != 1 or len(clients) != 1:
        raise ConfigError(
            f"{template.name} deploys {len(pools)} user pool(s) and {len(clients)} app client(s) in AmazonCognito "
            "mode: the local stack serves exactly one of each"
        )
    pool_resource, client_resource = pools[0], clients[0]
    pool = _api_parameters(pool_resource.properties, "CreateUserPool", _POOL_RENAMES, pool_resource.logical_id)
    template_policy = dict((pool.get("Policies") or {}).get("PasswordPolicy") or {})
    pool["Policies"] = {**(pool.get("Policies") or {}), "PasswordPolicy": {**template_policy, **LOCAL_PASSWORD_POLICY}}
    client = _api_parameters(client_resource.properties, "CreateUserPoolClient", {}, client_resource.logical_id)
    if client.get("GenerateSecret"):
        raise ConfigError(f"{client_resource.logical_id} has a client secret: the site's client must have none")
    group_parameters = tuple(
        _api_parameters(group.properties, "CreateGroup", {}, group.logical_id)
        for group in sorted(groups, key=lambda g: g.logical_id)
    )
    pool_id = pool_resource.logical_id
    _check_refers_to_pool(pool, pool_id, pool_id, belongs=False)
    _check_refers_to_pool(client, pool_id, client_resource.logical_id, belongs=True)
    for group, resource in zip(group_parameters, sorted(groups, key=lambda g: g.logical_id), strict=True):
        _check_refers_to_pool(group, pool_id, resource.logical_id, belongs=True)
    names = tuple(str(group["GroupName"]) for group in group_parameters)
    users = cognito_users(demo_users, names)
    return CognitoPool(pool, client, group_parameters, users, pool_resource.logical_id, client_resource.logical_id)


def cognito_users(
    demo_users: Mapping[str, tuple[str, tuple[str, ...]]], group_names: tuple[str, ...]
) -> tuple[CognitoUser, ...]:
    """The demo users as pool users; a ConfigError for a group the template's pool does not have."""
    users = []
    for username, (password, user_groups) in demo_users.items():
        unknown = [group for group in user_groups if group not in group_names]
        if unknown:
            raise ConfigError(
                f"demo user {username}'s group(s) {', '.join(unknown)} are not groups of the template's user pool "
                f"({', '.join(sorted(group_names))})"
            )
        users.append(CognitoUser(username, password, tuple(user_groups)))
    return tuple(users)


def local_client_id(endpoint: str) -> str:
    """The app client of the one user pool a running `make dev AUTH=AmazonCognito` keeps in the moto at `endpoint`."""
    cognito = MotoClients(endpoint).client("cognito-idp")
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    clients = [
        item["ClientId"]
        for pool in pools
        for item in cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
    ]
    if len(pools) != 1 or len(clients) != 1:
        raise DevstackError(
            f"the moto at {endpoint} holds {len(pools)} user pool(s) and {len(clients)} app client(s), not one of "
            "each: is `make dev AUTH=AmazonCognito` running there (MOTO_PORT)?"
        )
    return str(clients[0])


def sign_in(endpoint: str, client_id: str, username: str, password: str) -> dict[str, Any]:
    """USER_PASSWORD_AUTH against the local pool: moto's AuthenticationResult (IdToken, AccessToken, RefreshToken)."""
    moto = MotoClients(endpoint)
    result: dict[str, Any] = moto.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return result
