"""JWT authorizers as an HTTP API runs them. FOR LOCAL USE ONLY: never put this on a deployment path.

Why local only: moto signs the tokens of every user pool with one RSA key that ships, private half included, in every
moto install (`moto/cognitoidp/resources/jwks-private.json.gz`), and serves its public half for any pool id. Anyone
can mint a token this verifier accepts against moto's JWKS. It exists so that `make dev AUTH=AmazonCognito` refuses
and admits tokens as API Gateway would; deployed, API Gateway itself checks them and this module is not involved.

What API Gateway's JWT authorizer does (its guide, "Authorizing API requests with a JWT authorizer"), and so this:
- the identity source (`$request.header.Authorization`) missing or empty: 401 without invoking anything;
- the token is the header's value, or what follows a `Bearer ` prefix;
- the algorithm must be RSA-based (RS256, RS384, RS512): `alg: none`, HS256 (a public key used as an HMAC secret)
  and anything else are refused; the header's `kid` must name a key of the issuer's JWKS, and the signature must
  verify with that key. The JWKS is fetched once and kept (the gateway keeps keys up to two hours), fetched again
  when a token names a `kid` it does not hold;
- `iss` must equal the authorizer's issuer; `aud` must be one of its audiences, or, only when `aud` is absent,
  `client_id` must (a Cognito access token has `client_id`, an ID token `aud`);
- `exp` must be in the future; `nbf` and `iat`, when present, not in the future.
Any failure is `401 {"message":"Unauthorized"}`. A JWKS that cannot be fetched is a 500 instead (a local choice: the
token may well be valid, and a client retries a 5xx rather than signing its user out).

The integration gets `requestContext.authorizer.jwt = {"claims": {...}, "scopes": [...] or None}` as the gateway
sends it: every claim value a string (numbers in digits, booleans `true`/`false`, a list as `[a b]`), and the scopes
from the token's `scope` (space-separated) or `scp` claim, None when it has neither (an ID token).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import aiohttp
import jwt

from .template import JwtAuthorizerSpec

__all__ = [
    "ALGORITHMS",
    "JwksUnavailableError",
    "JwtAuthorizers",
    "UnauthorizedError",
    "authorizer_context",
    "gateway_claims",
    "gateway_scopes",
    "token_from_header",
    "verify",
]

log = logging.getLogger("local_api.jwt")

ALGORITHMS: Final = ("RS256", "RS384", "RS512")  # "Currently, only RSA-based algorithms are supported."
JWKS_MAX_AGE_SECONDS: Final = 2 * 3600
JWKS_REFETCH_AFTER_SECONDS: Final = 5.0  # an unknown kid fetches the JWKS again, at most this often
_FETCH_TIMEOUT: Final = aiohttp.ClientTimeout(total=2)
_BEARER: Final = "bearer "

Fetch = Callable[[str], Awaitable[bytes]]


class UnauthorizedError(Exception):
    """The gateway's 401. `reason` is a fixed phrase for the log: never the token or a claim's value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _UnknownKeyError(UnauthorizedError):
    """The token's `kid` is not in the JWKS held: worth fetching the JWKS again once."""


class JwksUnavailableError(Exception):
    """The issuer's JWKS could not be fetched or read (the local API answers 500, and caches nothing)."""


# ---------------------------------------------------------------------------------------------- one token
def token_from_header(value: str) -> str:
    """The token in an Authorization value: the value itself, or what follows `Bearer ` (the gateway takes both)."""
    token = value[len(_BEARER) :] if value[: len(_BEARER)].lower() == _BEARER else value
    return token.strip()


def verify(spec: JwtAuthorizerSpec, token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The token's claims if API Gateway would admit it for `spec`, checked against the key set `jwks`.

    Raises UnauthorizedError (with a reason for the log) otherwise. `jwks` is a parsed JWKS document.
    """
    if spec.issuer is None or not spec.audience:
        raise UnauthorizedError("the authorizer has no issuer or audience")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise UnauthorizedError("not a JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise UnauthorizedError("the token's algorithm is not RSA-based")
    kid = header.get("kid")
    key = _key(jwks, kid) if isinstance(kid, str) else None
    if key is None:
        raise _UnknownKeyError("the token's kid is not in the issuer's JWKS")
    if key.key_type != "RSA" or key.algorithm_name not in (algorithm, None):
        raise UnauthorizedError("the JWKS key does not fit the token's algorithm")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[algorithm],
            issuer=spec.issuer,
            options={"require": ["exp", "iss"], "verify_aud": False, "verify_signature": True},
            leeway=0,
        )
    except jwt.InvalidSignatureError:
        raise UnauthorizedError("the signature does not verify") from None
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise UnauthorizedError("the token is not valid yet (nbf or iat)") from None
    except (jwt.InvalidIssuerError, jwt.MissingRequiredClaimError):
        raise UnauthorizedError("wrong or missing issuer, or no exp") from None
    except jwt.PyJWTError:
        raise UnauthorizedError("the token cannot be decoded or has a malformed claim") from None
    if not _audience_matches(claims, spec.audience):
        raise UnauthorizedError("neither aud nor (without aud) client_id is an audience of the authorizer")
    return claims


def _key(jwks: Mapping[str, Any], kid: str) -> jwt.PyJWK | None:
    for item in jwks.get("keys") or []:
        if isinstance(item, dict) and item.get("kid") == kid:
            try:
                return jwt.PyJWK(item)
            except jwt.PyJWTError:
                return None
    return None


def _audience_matches(claims: Mapping[str, Any], audience: tuple[str, ...]) -> bool:
    """`aud` (a string or a list) when present, else `client_id`: as the gateway, never both."""
    if "aud" in claims:
        aud = claims["aud"]
        values = aud if isinstance(aud, list) else [aud]
        return any(isinstance(value, str) and value in audience for value in values)
    client_id = claims.get("client_id")
    return isinstance(client_id, str) and client_id in audience


# ---------------------------------------------------------------------------------------------- the event
def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as API Gateway hands them to the integration: every value a string (`[a b]` for a list)."""
    return {str(name): _as_gateway_string(value) for name, value in claims.items()}


def _as_gateway_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_as_gateway_string(item) for item in value) + "]"
    if isinstance(value, dict):  # Go's map formatting; not observed on AWS: no Cognito claim is an object
        return "map[" + " ".join(f"{key}:{_as_gateway_string(item)}" for key, item in sorted(value.items())) + "]"
    return "" if value is None else str(value)


def gateway_scopes(claims: Mapping[str, Any]) -> list[str] | None:
    """The token's scopes (`scope` space-separated, or a `scp` list), None when it has none (an ID token)."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [str(item) for item in scp]
    if isinstance(scp, str):
        return scp.split()
    return None


def authorizer_context(claims: Mapping[str, Any]) -> dict[str, Any]:
    """`requestContext.authorizer` for a JWT authorizer's route."""
    return {"jwt": {"claims": gateway_claims(claims), "scopes": gateway_scopes(claims)}}


# ---------------------------------------------------------------------------------------------- the gateway's part
class JwtAuthorizers:
    """The JWT authorizers of one local API: `await authorize(spec, header)` -> `requestContext.authorizer`.

    `jwks_urls` maps each issuer to where its JWKS is served locally (moto: `http://127.0.0.1:5000/<poolId>/
    .well-known/jwks.json`; the issuer itself is the AWS URL moto writes into its tokens).
    """

    def __init__(
        self, jwks_urls: Mapping[str, str], fetch: Fetch | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.jwks_urls = dict(jwks_urls)
        self._fetch = fetch
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._keys: dict[str, tuple[float, Mapping[str, Any]]] = {}  # url -> (fetched at, JWKS)
        self._locks: dict[str, asyncio.Lock] = {}

    async def authorize(self, spec: JwtAuthorizerSpec, header: str) -> dict[str, Any]:
        """Raises UnauthorizedError (401) or JwksUnavailableError (500)."""
        if spec.issuer is None or spec.issuer not in self.jwks_urls:
            raise JwksUnavailableError(f"authorizer {spec.name}: no JWKS URL for its issuer")
        url = self.jwks_urls[spec.issuer]
        token = token_from_header(header)
        jwks = await self._jwks(url, refetch=False)
        try:
            claims = verify(spec, token, jwks)
        except _UnknownKeyError:
            jwks = await self._jwks(url, refetch=True)
            claims = verify(spec, token, jwks)
        return authorizer_context(claims)

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _jwks(self, url: str, *, refetch: bool) -> Mapping[str, Any]:
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            held = self._keys.get(url)
            limit = JWKS_REFETCH_AFTER_SECONDS if refetch else JWKS_MAX_AGE_SECONDS
            if held is not None and self._clock() - held[0] < limit:
                return held[1]
            try:
                document = json.loads(await self._get(url))
                if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                    raise ValueError("no keys")
            except (OSError, aiohttp.ClientError, TimeoutError, ValueError) as error:
                if held is not None:  # keep serving the keys held: a key set rarely changes
                    log.warning("JWKS %s could not be fetched again (%s); keeping the keys held", url, error)
                    return held[1]
                raise JwksUnavailableError(f"the JWKS at {url} could not be fetched: {error}") from None
            self._keys[url] = (self._clock(), document)
            return document

    async def _get(self, url: str) -> bytes:
        if self._fetch is not None:
            return await self._fetch(url)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_FETCH_TIMEOUT)
        async with self._session.get(url) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            return await response.read()
