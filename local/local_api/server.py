"""LocalApi: the template's HTTP API for one AuthenticationMethod, served on 127.0.0.1 without Docker or SAM CLI.

    api = LocalApi(template=Path("template.yaml"), auth_method="LambdaAuthorizer", parameters={...}, resources={...})
    await api.start()          # one worker process per function, then the port
    api.url, api.routes        # what is served, read from the template
    await api.stop()           # the server, then every worker: no orphans

Everything it serves comes from the template (routes, authorizers, CORS, handlers, environment): a change to
template.yaml needs no change here. See sam-local.md for what the real gateway does and SAM CLI's emulator does not.

A JWT authorizer (AmazonCognito mode) needs two things the template cannot give locally: the pool's id, for its
issuer (`resources={"UserPool": id, "UserPoolClient": client id}`), and where the issuer's key set is served
(`jwks_urls={issuer: "http://127.0.0.1:5000/<poolId>/.well-known/jwks.json"}` for moto). Its check is for local use
only: moto's signing key is public (see jwt_authorizer.py).
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from .errors import PortInUseError, TemplateError
from .gateway import Gateway
from .template import ApiSpec, FunctionSpec, JwtAuthorizerSpec, LambdaAuthorizerSpec, RouteSpec, load_api
from .workers import Worker, function_environment

__all__ = ["LocalApi"]

log = logging.getLogger("local_api")

AUTH_METHOD_PARAMETER = "AuthenticationMethod"


class LocalApi:
    """The HTTP API `template` deploys for `auth_method`, with the real handlers in worker processes."""

    def __init__(
        self,
        template: Path | str,
        auth_method: str | None,
        parameters: Mapping[str, str] | None = None,
        resources: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        root: Path | str | None = None,
        *,
        jwks_urls: Mapping[str, str] | None = None,
        grace_seconds: float = 2.0,
    ) -> None:
        """Read the template now (errors surface before anything starts); `start` spawns and binds.

        `parameters` override the template's defaults; `auth_method` is the AuthenticationMethod parameter (None for
        a template without one, or to keep its default). `resources`
        gives physical ids for `Ref`/`Fn::GetAtt` of resources that exist only in AWS (`"UsersSecret"`,
        `"SiteDistribution.DomainName"`); `env` is added to every function's environment, over the template's.
        A relative `template` is read from `root` (default: the current directory). `jwks_urls` maps a JWT
        authorizer's issuer to the URL its JSON Web Key Set is fetched from (local use only: see jwt_authorizer.py).
        """
        self.root = Path(root) if root is not None else Path.cwd()
        path = Path(template)
        path = path if path.is_absolute() else self.root / path
        given = dict(parameters or {})
        if auth_method is not None and given.setdefault(AUTH_METHOD_PARAMETER, auth_method) != auth_method:
            raise ValueError(
                f"parameters say {AUTH_METHOD_PARAMETER}={given[AUTH_METHOD_PARAMETER]}, not {auth_method}"
            )
        self._env = dict(env or {})
        region = self._env.get("AWS_REGION") or self._env.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.auth_method = auth_method
        self.spec: ApiSpec = load_api(path, given, resources or {}, region)
        self.jwks_urls = dict(jwks_urls or {})
        for authorizer in self.spec.authorizers.values():
            if isinstance(authorizer, JwtAuthorizerSpec):
                _check_jwt_authorizer(authorizer, self.jwks_urls)
        self._gateway: Gateway | None = None
        self.routes: list[RouteSpec] = list(self.spec.routes)
        self.host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self._runner: web.BaseRunner | None = None
        self._workers = {
            logical: Worker(
                function,
                function_environment(
                    function, region=region, overrides=self._env, declared=self.spec.declared_environment
                ),
                grace_seconds=grace_seconds,
            )
            for logical, function in self.spec.functions.items()
        }

    # ------------------------------------------------------------------------------------------------ facts
    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        return self._bound_port if self._bound_port is not None else self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        """The functions served (logical id -> spec), authorizers included."""
        return dict(self.spec.functions)

    @property
    def pids(self) -> list[int]:
        """Every worker process this API has spawned (restarts included), for checks that none outlives `stop`."""
        return [pid for worker in self._workers.values() for pid in worker.pids]

    def invocations(self, function_id: str) -> int:
        """How many times the function was invoked (authorizer-cache hits invoke nothing)."""
        try:
            return self._workers[function_id].invocations
        except KeyError:
            raise KeyError(f"{function_id} is not served; served: {', '.join(self._workers)}") from None

    @property
    def authorizer_functions(self) -> list[str]:
        """The logical ids of the functions that serve Lambda authorizers."""
        found = [a.function_id for a in self.spec.authorizers.values() if isinstance(a, LambdaAuthorizerSpec)]
        return list(dict.fromkeys(found))

    async def restart_functions(self, function_ids: Iterable[str] | None = None) -> list[str]:
        """Start the functions' workers again (all of them by default) and drop the cached authorizer results.

        What a redeployment does, for a local change a running handler cannot see (a policy it loaded at import, a
        users store its authorizer keeps cached). Raises WorkerStartError if one cannot load its handler (the
        others are restarted all the same; the failed one is tried again on its next request).
        """
        names = list(self._workers) if function_ids is None else list(dict.fromkeys(function_ids))
        unknown = [name for name in names if name not in self._workers]
        if unknown:
            raise KeyError(f"{', '.join(unknown)} not served; served: {', '.join(self._workers)}")
        if self._gateway is not None:
            self._gateway.forget_authorizer_results()
        results = await asyncio.gather(*(self._workers[name].restart() for name in names), return_exceptions=True)
        if self._gateway is not None:  # a request during the restart may have cached a decision of the old worker
            self._gateway.forget_authorizer_results()
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
        return names

    # -------------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Spawn one worker per function (each imports its handler), then bind. PortInUseError if the port is taken."""
        results = await asyncio.gather(*(worker.start() for worker in self._workers.values()), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            await self._stop_workers()
            raise failures[0]
        self._gateway = Gateway(self.spec, self._invoke, self.jwks_urls)
        runner = web.ServerRunner(self._gateway.server(), handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except OSError as error:
            await runner.cleanup()
            await self._stop_workers()
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(self._requested_port, self.host) from None
            raise
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        log.info("serving %s at %s", self.spec.logical_id, self.url)

    async def stop(self) -> None:
        """Stop serving, then terminate every worker (killed after the grace period). Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        gateway, self._gateway = self._gateway, None
        if gateway is not None:
            await gateway.close()
        await self._stop_workers()

    async def __aenter__(self) -> LocalApi:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()

    async def _stop_workers(self) -> None:
        await asyncio.gather(*(worker.stop() for worker in self._workers.values()))

    async def _invoke(self, function_id: str, event: Mapping[str, Any], request_id: str) -> Any:
        return await self._workers[function_id].invoke(event, request_id)


def _check_jwt_authorizer(authorizer: JwtAuthorizerSpec, jwks_urls: Mapping[str, str]) -> None:
    """A JWT authorizer is served only with a concrete issuer, an audience and a JWKS URL for that issuer."""
    if authorizer.issuer is None:
        raise TemplateError(
            f"authorizer {authorizer.name}: its issuer names a resource that exists only once deployed (the user "
            "pool): give its id in resources, e.g. UserPool=<pool id> (the local stack creates the pool in moto)"
        )
    if not authorizer.audience:
        raise TemplateError(
            f"authorizer {authorizer.name}: no audience (the app client's id): give it in resources, "
            "e.g. UserPoolClient=<client id>"
        )
    if authorizer.issuer not in jwks_urls:
        raise TemplateError(
            f"authorizer {authorizer.name}: no JWKS URL for its issuer {authorizer.issuer}: pass jwks_urls "
            "(--jwks ISSUER=URL); for moto: http://127.0.0.1:<port>/<poolId>/.well-known/jwks.json"
        )
