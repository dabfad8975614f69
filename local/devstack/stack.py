"""The whole application offline: Momento emulator, moto, the local HTTP API and the static site, started together.

`make dev` (`python -m devstack`) and the integration tests both run this class; nothing is started any other way.

Start order (what waits for what), about 1.2 s on two cores:

    ports checked ── emulator and moto spawned ─┬─ emulator reports its ports ──────────────────────┐
                                                ├─ moto answers ─ secrets seeded (boto3, thread) ───┤
                                                ├─ demo users hashed, policy read (thread) ─┘       ├─ probes ─ ready
                                                ├─ site (in-process; its origin is the API's CORS) ─┤
                                                └─ local API: one worker per function ──────────────┘
                                                   (after the emulator reports, if its gRPC port was 0)

The secrets get fixed ARNs (moto's `_custom_id_` tag), so the API's parameters are known before moto is up.
In AmazonCognito mode the API also needs the user pool's and app client's ids (its JWT authorizer's issuer and
audience): it starts once the pool, client, groups and demo users are in moto (cognito.py), about 0.3 s later.

Before anything starts, the files a developer edits are read and checked (local_files.py): a bad policy or users
file is one ConfigError line, and nothing is spawned.

What differs per auth mode (what moto holds for its users, the API's authorizer resources, how an edit of the users
is applied, the files watched) is the mode's entry in modes.py: this class asks it, and never compares a mode's name.

Once ready, the emulator and moto are supervised (supervisor.py): one that exits, however, is started again on the
same ports with the same environment, after a short backoff, and moto is re-seeded with everything in
`what_moto_must_hold` (seed.py). The emulator keeps its root key, so tokens vended before still work, and creates its
configured cache again itself. Nothing a child does ends the stack; `wait()` raises only when supervision cannot go
on. For tests and the soak test: `restarts`, `child_pid(name)`, `await wait_ready(name, min_restarts)`.

With `watch_files` (make dev), a change to local/demo_users.json or the policy is applied while running (watch.py,
`_apply_changes`): the users secret re-seeded (or the Cognito pool's users synced) and the authorizer restarted with
its cached results dropped, or, for the policy, the API's functions restarted; a change that does not check out is
refused with its one line and the previous files stay in force. `await wait_changes_handled(n)` for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import aiohttp
from yarl import URL

from site_tools import SiteCognito, SiteConfig

from .children import ChildProcess, moto_line_filter
from .cognito import HASH_ID_STRATEGIES, CognitoInfo
from .config import HOST, PORT_VARIABLES, StackConfig
from .errors import ChildExitedError, ConfigError, DevstackError, PortInUseError, StartTimeoutError
from .local_files import (
    DemoUser,
    Fingerprint,
    LocalFileError,
    LocalFiles,
    check_token_ttl,
    fingerprint,
    read_local_files,
    shown,
)
from .modes import Seeded
from .ports import check_ports, free_port, port_taken
from .seed import (
    ACCOUNT_ID,
    MOMENTO_KEY_SECRET_NAME,
    REGION,
    USERS_SECRET_NAME,
    MotoClients,
    MotoState,
    secret_arn,
    seed,
    what_moto_must_hold,
)
from .site import SiteServer, site_directory
from .supervisor import Supervisor
from .watch import FileWatcher

if TYPE_CHECKING:
    from local_api import LocalApi

__all__ = [
    "MOMENTO_KEY_SECRET_NAME",
    "USERS_SECRET_NAME",
    "ChildName",
    "CognitoInfo",
    "DemoUser",
    "ResolvedPort",
    "Stack",
    "StackInfo",
    "secret_arn",
]

log = logging.getLogger("devstack")

ChildName = Literal["emulator", "moto"]
CHILD_NAMES: Final[tuple[ChildName, ...]] = ("emulator", "moto")
_POLL_SECONDS: Final = 0.02
_EMULATOR_PORT_IN_USE = re.compile(r"port (\d+) on \S+ is already in use")


@dataclass(frozen=True)
class ResolvedPort:
    variable: str
    requested: int
    port: int
    source: str  # "default" | "environment" | "argument"
    what: str


@dataclass(frozen=True)
class StackInfo:
    """What a running stack is: the facts of the ready block (and of `--ready-json`)."""

    auth_method: str
    site_url: str
    site_origins: tuple[str, ...]
    site_content: str  # "built site" | "site sources" | "placeholder"
    api_url: str
    routes: tuple[str, ...]
    momento_endpoint: str
    momento_grpc_port: int
    momento_web_url: str
    momento_web_port: int
    cache_name: str
    moto_url: str
    users: tuple[DemoUser, ...]  # LambdaAuthorizer and AmazonCognito modes; empty in Open mode
    guest_tier: str | None  # Open mode: the policy's anonymous tier
    ports: tuple[ResolvedPort, ...]
    startup_seconds: float
    cognito: CognitoInfo | None = None  # AmazonCognito mode: the local pool (moto)
    token_ttl_seconds: int | None = None  # what the site's config.js asks for (TOKEN_TTL_SECONDS); None: the tier's
    api_cors_origins: tuple[str, ...] = ()  # the local API's CORS origins: the site's, then ALLOWED_ORIGINS
    allowed_origins: tuple[str, ...] = ()  # the extra ones (ALLOWED_ORIGINS)
    watched_files: tuple[str, ...] = ()  # applied without a restart when they change (make dev)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ports"] = {
            port.variable: {key: value for key, value in asdict(port).items() if key != "variable"}
            for port in self.ports
        }
        return data


class Stack:
    """Start with `await stack.start()`, stop with `await stack.stop()` (idempotent, safe after a failed start).

    `await stack.wait()` never returns while all is well: a child that exits is started again (see supervisor.py).
    It raises DevstackError only when supervising cannot go on (e.g. moto no longer honours the fixed ARNs).
    """

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self._emulator: ChildProcess | None = None
        self._moto: ChildProcess | None = None
        self._site: SiteServer | None = None
        self._api: LocalApi | None = None
        self._info: StackInfo | None = None
        self._supervisors: dict[str, Supervisor] = {}
        self._failure: DevstackError | None = None
        self._failed = asyncio.Event()
        self._stopping = False
        self._stop_task: asyncio.Task[None] | None = None
        self._moto_port = 0
        self._moto_clients: MotoClients | None = None
        # What moto must hold (seed.py): seeded at start, and again after every restart of moto.
        self.moto_holds: list[MotoState] = []
        # The users and policy in force (read before start; replaced by each change applied while running).
        self._files: LocalFiles | None = None
        self._fingerprints: dict[Path, Fingerprint] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._changes = asyncio.Condition()
        self.changes_handled = 0  # file changes seen while running, applied or refused
        self.changes_applied = 0

    # ------------------------------------------------------------------ accessors
    @property
    def info(self) -> StackInfo:
        if self._info is None:
            raise RuntimeError("the stack is not started")
        return self._info

    @property
    def api(self) -> LocalApi:
        if self._api is None:
            raise RuntimeError("the stack is not started")
        return self._api

    @property
    def site_url(self) -> str:
        return self.info.site_url

    @property
    def api_url(self) -> str:
        return self.info.api_url

    @property
    def moto_url(self) -> str:
        return self.info.moto_url

    @property
    def emulator_grpc_port(self) -> int:
        return self.info.momento_grpc_port

    @property
    def emulator_web_port(self) -> int:
        return self.info.momento_web_port

    @property
    def site_origins(self) -> tuple[str, ...]:
        return self.info.site_origins

    @property
    def started_anything(self) -> bool:
        """True once start() got past its checks and spawned something (what stop() then cleans up)."""
        return self._emulator is not None

    def child_pids(self) -> list[int]:
        """Process ids of the supervised children still running (the emulator and moto)."""
        return [pid for name in CHILD_NAMES if (pid := self.child_pid(name)) is not None]

    # ------------------------------------------------------------------ supervision, for tests and the soak test
    def child_pid(self, name: ChildName) -> int | None:
        """The process id of `name` ("emulator" or "moto") now: None while it is down (or not started).

        Signal it to test recovery: SIGKILL or SIGTERM gets it restarted; SIGSTOP hangs it until SIGCONT.
        """
        child = self._child(name)
        return child.pid if child is not None and child.running else None

    @property
    def restarts(self) -> Mapping[str, int]:
        """How often each child was started again after it exited (or was restarted by `restart_emulator()`)."""
        return {name: self._supervisors[name].restarts if name in self._supervisors else 0 for name in CHILD_NAMES}

    def child_ready(self, name: ChildName) -> bool:
        """True while `name` runs and answers (False from its exit until it is back)."""
        supervisor = self._supervisors.get(name)
        return supervisor is not None and supervisor.ready

    async def wait_ready(self, name: ChildName, min_restarts: int = 0) -> None:
        """Return once `name` is up and answering after at least `min_restarts` restarts in all.

        After a kill, pass the count from before it: `n = stack.restarts["moto"]; os.kill(...);
        await stack.wait_ready("moto", n + 1)` cannot return before the crash was noticed. For moto, "ready" means
        re-seeded too. Raises DevstackError if supervision ended; bound it with `asyncio.timeout()`.
        """
        if name not in self._supervisors:
            raise RuntimeError("the stack is not started")
        await self._supervisors[name].wait_ready(min_restarts)

    async def __aenter__(self) -> Stack:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> StackInfo:
        """Start everything and return once every part answers. On any failure, what started is stopped again."""
        started = time.perf_counter()
        config = self.config
        check_ports(config.ports())
        self._read_files()  # nothing is spawned before the policy and the users check out
        try:
            async with asyncio.timeout(config.start_timeout_seconds):
                info = await self._start(started)
        except TimeoutError:
            await self.stop()
            raise StartTimeoutError(
                f"the local stack did not come up within {config.start_timeout_seconds:.0f} s"
            ) from None
        except BaseException:
            await self.stop()
            raise
        if self._failure is not None:
            await self.stop()
            raise self._failure
        if config.watch_files:
            watcher = FileWatcher(self._fingerprints, self._apply_changes, config.watch_interval_seconds)
            self._watcher = asyncio.ensure_future(watcher.run())
        return info

    def _read_files(self) -> None:
        """The policy and the users, checked (one ConfigError line: file, line, problem, what to do)."""
        config = self.config
        watched = config.mode.watched_files(config)
        self._fingerprints = {path: fingerprint(path) for path in watched}  # before reading: no change is missed
        files = read_local_files(config)
        check_token_ttl(config, files)
        self._files = files

    async def wait(self) -> None:
        """Block while the stack runs (children that exit are restarted); raise if supervising cannot go on."""
        await self._failed.wait()
        assert self._failure is not None
        raise self._failure

    async def stop(self) -> None:
        """Stop the API, the site, then the emulator and moto (SIGTERM, then SIGKILL after the grace period)."""
        if self._stop_task is None:
            self._stop_task = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stop_task)

    def kill(self) -> None:
        """Kill the children now, without waiting for them (a second Ctrl-C); nothing is restarted after this."""
        self._stopping = True
        for supervisor in self._supervisors.values():
            supervisor.abandon()
        for name in CHILD_NAMES:
            child = self._child(name)
            if child is not None:
                child.kill()

    # ------------------------------------------------------------------ start, in parts
    async def _start(self, started: float) -> StackInfo:
        config = self.config
        # moto cannot report a port it picked: for MOTO_PORT=0 a free one is chosen here.
        self._moto_port = config.moto_port or free_port()
        # The children first: spawning is cheap, and the threads below would slow it down (the GIL).
        env = dict(os.environ)
        env["MOMENTO_EMULATOR_API_KEY"] = config.resolved_api_key()  # not --api-key: argv is visible in ps
        self._emulator = ChildProcess(
            "emulator",
            self._emulator_argv(config.momento_grpc_port, config.momento_web_port),
            label="the Momento emulator",
            env=env,
        )
        self._moto = ChildProcess(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self._moto_port)],
            label="moto",
            # HASH: the Cognito pool and client get the same ids again after a restart (cognito.py).
            env={**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT_ID, **HASH_ID_STRATEGIES},
            line_filter=moto_line_filter,
        )
        await asyncio.gather(self._emulator.start(), self._moto.start())
        assert self._files is not None
        services = config.mode.moto_services
        client_task = asyncio.ensure_future(asyncio.to_thread(MotoClients.warmed, self._moto_url, *services))
        users_task: asyncio.Future[MotoState | None] | None = None
        site_directory_path, site_content = site_directory(config.root)
        if site_content == "site sources":
            log.warning(
                "devstack: static_site/ is not built (no dist/): serving its sources as they are. "
                "Build it with `cd static_site && npm ci && npm run build`."
            )
        self._site = SiteServer(site_directory_path, HOST, config.site_port, configured=config.ports())
        try:
            await self._site.start()
            emulator_ready = asyncio.ensure_future(self._emulator_ready())

            async def parameters() -> Mapping[str, str]:
                return self._api_parameters((await emulator_ready)[0])

            # What moto must hold for the mode's users (hashed in a thread, or the pool read from the template).
            users = config.mode.users_in_moto(self._files.users, config.template, parameters)
            users_task = asyncio.ensure_future(users)
            # The API's workers take longest (they import their handlers), so they start as soon as their
            # settings are known: now when the emulator's gRPC port is fixed, else once the emulator reports it.
            # The secrets' ARNs are fixed in advance, and the functions read them on first use, not at import.
            # An API whose authorizers need moto's ids (the pool's) waits for moto_seeded (modes.py).
            moto_seeded = asyncio.ensure_future(self._moto_ready_and_seeded(users_task, client_task))
            (grpc_port, web_port), seeded, api = await _all(
                emulator_ready, moto_seeded, self._start_api(emulator_ready, moto_seeded)
            )
        finally:
            for task in (users_task, client_task):
                if task is not None:
                    _drop(task)
        cognito = seeded.cognito
        files = self._files
        api_url = str(api.url).rstrip("/")
        web_url = f"http://{HOST}:{web_port}"
        self._site.config = SiteConfig(
            api_url=api_url,
            auth_method=config.auth,
            momento_endpoint_override=web_url,
            cognito=None
            if cognito is None
            else SiteCognito(cognito.region, cognito.user_pool_id, cognito.client_id, cognito.endpoint),
            token_ttl_seconds=config.token_ttl_seconds,
        )
        await self._probe(api_url)

        actual = {
            "SITE_PORT": self._site.port,
            "API_PORT": int(api.port),
            "MOMENTO_GRPC_PORT": grpc_port,
            "MOMENTO_WEB_PORT": web_port,
            "MOTO_PORT": self._moto_port,
        }
        self._info = StackInfo(
            auth_method=config.auth,
            site_url=f"{self._site.url}/",
            site_origins=self._site.origins,
            site_content=site_content,
            api_url=api_url,
            routes=_route_names(api),
            momento_endpoint=f"{HOST}:{grpc_port}",
            momento_grpc_port=grpc_port,
            momento_web_url=web_url,
            momento_web_port=web_port,
            cache_name=config.cache_name,
            moto_url=self._moto_url,
            users=files.demo_users,
            guest_tier=None if config.mode.has_users else files.guest_tier,
            cognito=cognito,
            token_ttl_seconds=config.token_ttl_seconds,
            api_cors_origins=self._api_cors_origins(),
            allowed_origins=config.allowed_origins,
            watched_files=tuple(shown(config, path) for path in self._fingerprints) if config.watch_files else (),
            ports=tuple(
                ResolvedPort(s.variable, s.port, actual[s.variable], s.source, PORT_VARIABLES[s.variable][1])
                for s in config.ports()
            ),
            startup_seconds=round(time.perf_counter() - started, 3),
        )
        return self._info

    @property
    def _moto_url(self) -> str:
        return f"http://{HOST}:{self._moto_port}"

    def _emulator_argv(self, grpc_port: int, web_port: int) -> list[str]:
        # --cache: the emulator creates the configured cache itself, at every start (so after a restart too).
        argv = [sys.executable, "-m", "momento_emulator", "--host", HOST]
        argv += ["--grpc-port", str(grpc_port), "--web-port", str(web_port)]
        if self.config.momento_auth_quota is not None:  # Momento's per-account mint quota, played as Momento does
            argv += ["--auth-quota", f"{self.config.momento_auth_quota:g}"]
        return [*argv, "--cache", self.config.cache_name]

    def _child(self, name: ChildName) -> ChildProcess | None:
        """The newest process of `name`: the supervisor's once supervised, else the one start() spawned."""
        if name in self._supervisors:
            return self._supervisors[name].child
        return self._emulator if name == "emulator" else self._moto

    def _supervise(self, supervisor: Supervisor, child: ChildProcess) -> None:
        self._supervisors[supervisor.name] = supervisor
        supervisor.supervise(child, self._supervision_failed)

    def _supervision_failed(self, supervisor: Supervisor) -> None:
        if self._stopping or self._failure is not None:
            return
        self._failure = supervisor.failure
        self._failed.set()

    async def _emulator_ports(self, child: ChildProcess, grpc_port: int, web_port: int) -> tuple[int, int]:
        """(gRPC port, grpc-web port), from the JSON line the emulator prints once both ports serve."""
        try:
            ready = json.loads(await child.first_line(self.config.start_timeout_seconds))
            return int(ready["grpc_port"]), int(ready["web_port"])
        except ChildExitedError as error:
            match = _EMULATOR_PORT_IN_USE.search(str(error))
            if match:
                port = int(match.group(1))
                variable = "MOMENTO_GRPC_PORT" if port == grpc_port else "MOMENTO_WEB_PORT"
                raise port_taken(port, variable, self.config.ports()) from None
            raise
        except (ValueError, KeyError, TypeError):
            raise DevstackError("the Momento emulator's first line was not its JSON ready report") from None

    async def _emulator_ready(self) -> tuple[int, int]:
        """The first emulator's ports; from then on it is supervised, restarted on exactly these ports."""
        config = self.config
        assert self._emulator is not None
        grpc_port, web_port = await self._emulator_ports(
            self._emulator, config.momento_grpc_port, config.momento_web_port
        )
        first = self._emulator

        async def back(child: ChildProcess) -> str | None:
            ports = await self._emulator_ports(child, grpc_port, web_port)
            if ports != (grpc_port, web_port):
                raise DevstackError(f"the Momento emulator came back on ports {ports}, not {(grpc_port, web_port)}")
            return None

        supervisor = Supervisor(
            "emulator",
            first.label,
            f"{HOST}:{grpc_port}/{web_port}",
            spawn=lambda: first.again(self._emulator_argv(grpc_port, web_port)),
            become_ready=back,
            policy=config.restart,
            grace_seconds=config.stop_grace_seconds,
        )
        self._supervise(supervisor, first)
        return grpc_port, web_port

    async def _moto_ready_and_seeded(
        self, users_task: Awaitable[MotoState | None], client_task: Awaitable[MotoClients]
    ) -> Seeded:
        """moto answers and holds everything in `moto_holds`; from then on it is supervised (and re-seeded).

        Returns what it holds, and the local pool's facts for the API and the site in a mode with a pool.
        """
        config = self.config
        assert self._moto is not None
        try:
            await self._moto_answers(self._moto)
        except PortInUseError:
            if config.moto_port:
                raise
            raise DevstackError(
                f"moto could not listen on port {self._moto_port}, free a moment before: please run again"
            ) from None
        users = await users_task
        self._moto_clients = await client_task
        self.moto_holds = what_moto_must_hold(config.resolved_api_key(), users, config.template)
        await asyncio.to_thread(seed, self._moto_clients, self.moto_holds)
        cognito = await config.mode.cognito_info(self.moto_holds, self._moto_url)
        first = self._moto

        async def back(child: ChildProcess) -> str:
            await self._moto_answers(child)
            assert self._moto_clients is not None
            await asyncio.to_thread(seed, self._moto_clients, self.moto_holds)
            return "re-seeded: " + ", ".join(state.describe() for state in self.moto_holds)

        supervisor = Supervisor(
            "moto",
            first.label,
            f"{HOST}:{self._moto_port}",
            spawn=first.again,
            become_ready=back,
            policy=config.restart,
            grace_seconds=config.stop_grace_seconds,
        )
        self._supervise(supervisor, first)
        return Seeded(tuple(self.moto_holds), cognito)

    async def _moto_answers(self, child: ChildProcess) -> None:
        try:
            await self._wait_until_answers(child, f"{self._moto_url}/moto-api/")
        except ChildExitedError as error:
            if "already in use" in str(error):
                raise port_taken(self._moto_port, "MOTO_PORT", self.config.ports()) from None
            raise

    async def _wait_until_answers(self, child: ChildProcess, url: str) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if not child.running:
                    returncode = await child.wait()
                    await child.drained()
                    raise ChildExitedError(child.label, returncode, child.tail())
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as response:
                        await response.read()
                        if response.status == 200:  # moto's own answer, not another server's on its port
                            return
                await asyncio.sleep(_POLL_SECONDS)

    def _api_parameters(self, grpc_port: int) -> dict[str, str]:
        """The template parameters of this stack (the API's, and what the Cognito pool is read with)."""
        config = self.config
        assert self._site is not None
        return {
            "AuthenticationMethod": config.auth,
            "MomentoApiKeySecretArn": secret_arn(MOMENTO_KEY_SECRET_NAME),
            "MomentoEndpoint": f"{HOST}:{grpc_port}",
            "CacheName": config.cache_name,
            "AllowedOrigins": ",".join(self._api_cors_origins()),
            # The template's local-only parameter: the functions pass it to their Secrets Manager clients.
            "SecretsManagerEndpoint": self._moto_url,
        }

    def _api_cors_origins(self) -> tuple[str, ...]:
        """The local API's CORS origins: the site's two, then ALLOWED_ORIGINS (the template's AllowedOrigins)."""
        assert self._site is not None
        return tuple(dict.fromkeys([*self._site.origins, *self.config.allowed_origins]))

    async def _start_api(self, emulator_ready: Awaitable[tuple[int, int]], moto_seeded: Awaitable[Seeded]) -> LocalApi:
        from local_api import PortInUseError as ApiPortInUseError
        from local_api import TemplateError, WorkerStartError

        grpc_port = self.config.momento_grpc_port or (await emulator_ready)[0]
        authorizers = await self.config.mode.api_authorizers(moto_seeded)
        try:
            api = self._local_api(grpc_port, dict(authorizers.resources), dict(authorizers.jwks_urls))
        except TemplateError as error:  # a template.yaml the local API cannot serve
            raise ConfigError(f"template.yaml: {error}") from None
        self._api = api
        try:
            await api.start()
        except ApiPortInUseError as error:
            raise port_taken(error.port, "API_PORT", self.config.ports()) from None
        except WorkerStartError as error:  # its own traceback is in the log above, prefixed with its name
            raise DevstackError(f"the local API could not start: {error}") from None
        return api

    def _local_api(self, grpc_port: int, resources: dict[str, str], jwks_urls: dict[str, str]) -> LocalApi:
        from local_api import LocalApi

        config = self.config
        return LocalApi(
            template=config.template,
            auth_method=config.auth,
            parameters=self._api_parameters(grpc_port),
            resources=resources,
            jwks_urls=jwks_urls,
            env={
                "AWS_ENDPOINT_URL": self._moto_url,  # anything else a function calls goes to moto, never to AWS
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_EC2_METADATA_DISABLED": "true",
                # The stack's tier policy, when not the deployed one (an absolute path: the function joins it to its
                # folder, which keeps it as it is).
                **({"POLICY_FILE": str(config.policy.resolve())} if config.policy is not None else {}),
            },
            host=HOST,
            port=config.api_port,
            root=config.root,
        )

    async def _probe(self, api_url: str) -> None:
        """The site serves its config over real HTTP, and the API accepts connections (without a logged request)."""
        assert self._site is not None
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{self._site.url}/config.js") as response,
        ):
            if response.status != 200:
                raise DevstackError(f"the site answered {response.status} for /config.js")
        url = URL(api_url)
        assert url.host is not None and url.port is not None
        _, writer = await asyncio.open_connection(url.host, url.port)
        writer.close()
        await writer.wait_closed()

    async def restart_emulator(self) -> None:
        """Stop the Momento emulator and start a fresh one on the same ports with the same key, at once.

        For tests of clients that must survive a Momento outage: the new emulator has empty caches (the configured
        cache is created again) and a new topic sequence page, and still accepts tokens vended before the restart.
        """
        self.info  # noqa: B018 - raises if the stack is not started
        await self._supervisors["emulator"].restart()

    # ------------------------------------------------------------------ changes while running
    async def wait_changes_handled(self, count: int) -> None:
        """Return once `count` file changes in all have been handled (applied or refused); bound it with a timeout."""
        async with self._changes:
            await self._changes.wait_for(lambda: self.changes_handled >= count)

    async def _apply_changes(self, changed: set[Path]) -> None:
        """The watcher's callback: check both files again, then apply what changed (or refuse it, saying why)."""
        config = self.config
        names = " and ".join(shown(config, path) for path in sorted(changed))
        try:
            try:
                files = await asyncio.to_thread(read_local_files, config)
                check_token_ttl(config, files)
                if files.users is not None:  # e.g. a group the Cognito pool lacks (modes.py)
                    config.mode.check_users(files.users, self.moto_holds)
            except ConfigError as error:
                problem = error.problem if isinstance(error, LocalFileError) else str(error)
                log.warning("devstack: %s changed, NOT applied: %s (the previous version stays)", names, problem)
                return
            done = []
            if config.demo_users_file in changed and files.users is not None:
                done.append(await self._apply_users(files))
            if config.policy_file in changed:
                restarted = await self.api.restart_functions()
                done.append(f"the API's functions restarted ({', '.join(sorted(restarted))})")
            self._files = files
            if self._info is not None:
                guest_tier = None if config.mode.has_users else files.guest_tier
                self._info = replace(self._info, users=files.demo_users, guest_tier=guest_tier)
            self.changes_applied += 1
            log.info("devstack: %s changed: applied (%s). %s", names, "; ".join(done), _tiers_now(files))
        finally:
            async with self._changes:
                self.changes_handled += 1
                self._changes.notify_all()

    async def _apply_users(self, files: LocalFiles) -> str:
        """The new users where the API reads them, at once (what it did, for the log): the mode's way (modes.py)."""
        assert files.users is not None and self._moto_clients is not None
        return await self.config.mode.apply_users(files.users, self.moto_holds, self._moto_clients, self.api)

    # ------------------------------------------------------------------ stop
    async def _stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        # No restart from now on, and a restart under way is cancelled (its child, if spawned, is stopped below).
        await asyncio.gather(*(supervisor.close() for supervisor in self._supervisors.values()))
        if self._api is not None:
            try:
                await self._api.stop()
            except Exception as error:
                log.warning("devstack: the local API did not stop cleanly: %s", error)
        if self._site is not None:
            await self._site.stop()
        children = [child for name in CHILD_NAMES if (child := self._child(name)) is not None]
        await asyncio.gather(*(child.stop(self.config.stop_grace_seconds) for child in children))


# ---------------------------------------------------------------------- helpers
def _tiers_now(files: LocalFiles) -> str:
    """One line's worth of who gets what now: "users: alice readwrite, viewer readonly"."""
    if files.users is None:  # a mode without users: its callers are guests
        return f"Guests get tier {files.guest_tier or '(none: refused)'}."
    users = ", ".join(f"{user.username} {user.tier or '(refused)'}" for user in files.demo_users)
    return f"Users now: {users or 'none'}."


def _route_names(api: Any) -> tuple[str, ...]:
    names = []
    for route in api.routes:
        if isinstance(route, str):
            names.append(route)
        else:
            method = getattr(route, "method", None)
            path = getattr(route, "path", None)
            names.append(f"{method} {path}" if method and path else str(route))
    return tuple(names)


def _drop(task: asyncio.Future[Any]) -> None:
    """Cancel a helper task that is no longer needed; if it is done already, its error (one `_all` raised, or moot
    once start failed) counts as seen, so asyncio does not log it again."""
    if not task.cancel() and not task.cancelled():
        task.exception()


async def _all(*coroutines: Awaitable[Any]) -> Sequence[Any]:
    """gather(), but a failure cancels the others (and waits for them) before it is raised."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
