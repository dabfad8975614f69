"""`sam local start-api` with everything it needs, offline: what `make sam-api` runs, and what tests/sam/ start.

Start (dockerd and the image are made sure of before, by the caller: __main__.py, the tests' fixtures):

    ports checked ─┬─ sam build (x86_64, cached) ────────────────────────────────────────┐
                   ├─ emulator on 127.0.0.1 ─ its ports ─ relay on the bridge ────────────┼─ sam local start-api ─ ready
                   └─ moto on 127.0.0.1 ─ seeded (devstack's list) ─ relay on the bridge ─┘

The functions run in containers on Docker's default bridge and reach the emulator and moto at the bridge gateway
(forward.py relays BRIDGE:PORT to 127.0.0.1:PORT). Parameters: MomentoEndpoint, SecretsManagerEndpoint and
DynamoDbEndpoint point there (MomentoEmulatorEndpoint repeats MomentoEndpoint: the bridge is no loopback address, so
only it allows plaintext gRPC there), MomentoApiKeySecretArn is the seeded secret, LambdaArchitecture is x86_64 (the
only image there is). What the template gives as a `!Ref` to one of its resources, which SAM CLI cannot resolve
without a stack, is set with `--env-vars` (env-vars.json): the authorizer's USERS_SECRET_ARN to the seeded users
secret, the vending function's LIMITS_TABLE to the seeded issuance table (made from the template's IssuanceTable, as
`make dev` makes it). SAM's --env-vars only override variables the template declares: that is why the endpoints are
parameters.

Which containers are this run's: those SAM CLI connects to a Docker network made for this run alone
(`--docker-network`, network.py); other users' SAM containers look exactly alike and are never touched.

Stop: `sam` (SIGTERM: it stops its warm containers), then any container of this run it left, and the run's network,
the relays, the emulator and moto. If the Docker engine goes away meanwhile (wait_until_docker_gone), `wait()`
returns that sentence and the stop skips Docker and SAM CLI's complaints about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from devstack.children import ChildProcess, moto_line_filter
from devstack.config import HOST, PORT_VARIABLES, PortSetting
from devstack.errors import DevstackError
from devstack.modes import DEFAULT_AUTH, MODES, SAM_LOCAL_MODES, AuthMode
from devstack.ports import check_ports, free_port
from devstack.seed import (
    ACCOUNT_ID,
    MOMENTO_KEY_SECRET_NAME,
    REGION,
    MotoClients,
    MotoState,
    secret_arn,
    seed,
    what_moto_must_hold,
)

from .engine import bridge_gateway, docker_host, wait_until_docker_gone
from .errors import SamLocalError, UnsupportedModeError
from .forward import TcpForwarder
from .image import find_python313
from .network import RunNetwork

if TYPE_CHECKING:
    from tvm_users.demo import DemoUsers

__all__ = [
    "ENV_VARS_FILE",
    "SAM_AUTH_METHODS",
    "SAM_PORT_VARIABLES",
    "DemoLogin",
    "SamApi",
    "SamApiConfig",
    "SamApiInfo",
    "local_invoke_argv",
    "parameter_overrides",
    "repo_root",
    "sam_build",
    "sam_environment",
    "sam_executable",
]

log = logging.getLogger("sam_local")

SAM_AUTH_METHODS: Final = SAM_LOCAL_MODES  # modes.py: those with no `sam_local_refusal`
SAM_PORT_VARIABLES: Final = ("API_PORT", "MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT", "MOTO_PORT")
_WHAT: Final = {**{name: what for name, (_, what) in PORT_VARIABLES.items()}, "API_PORT": "SAM CLI's local API"}
# SAM's --env-vars: the authorizer's USERS_SECRET_ARN is the seeded users secret (a fixed ARN, seed.py; no secret), the
# vending function's LIMITS_TABLE the seeded issuance table (a fixed name, seed.py). The template gives them
# `!Ref UsersSecret` and `!Ref IssuanceTable`, which CloudFormation resolves to the secret's ARN and the table's name
# and SAM CLI, having no stack, cannot. Committed, so a plain `sam local start-api --config-env offline --env-vars ...`
# can use it too.
ENV_VARS_FILE: Final = Path(__file__).with_name("env-vars.json")
_MOUNT_LINE: Final = re.compile(r"Mounting (\S+) at (\S+) \[([A-Z, ]+)\]")
_CONTAINER_LINE: Final = re.compile(r"SAM_CONTAINER_ID: ([0-9a-f]{12,64})\b")
_ANSI: Final = re.compile(r"\x1b\[[0-9;]*m")
# Werkzeug's access line, after SAM's timestamp: `127.0.0.1 - - [date] "GET /token?query HTTP/1.1" 200 -`.
_ACCESS_LINE: Final = re.compile(r'\S+ - - \[[^\]]*\] "([A-Z]+) [^"]*" (\d{3}) ')
_NOISE: Final = re.compile(
    r"This is a development server|Press CTRL\+C|^\s*\* Running on|You can now browse|SAM CLI now collects"
)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def sam_executable(root: Path | None = None) -> Path:
    """The pinned SAM CLI (requirements/sam.txt) in its own venv, made by `make install-sam`."""
    sam = (root or repo_root()) / ".venv" / "sam" / "bin" / "sam"
    if not sam.is_file():
        raise SamLocalError(f"SAM CLI is not installed at {sam}: run `make install-sam`")
    return sam


@dataclass(frozen=True)
class SamApiConfig:
    """What to run. Ports as for `make dev` (0 = a free port); `build=False` reuses the last build (tests)."""

    auth: str = DEFAULT_AUTH  # a name in devstack.modes.MODES; `mode` is its entry
    api_port: int = 3000
    momento_grpc_port: int = 8080
    momento_web_port: int = 8081
    moto_port: int = 5000
    port_sources: Mapping[str, str] = field(default_factory=dict)
    root: Path = field(default_factory=repo_root)
    cache_name: str = "default-cache"
    api_key: str | None = None
    build: bool = True
    site_port: int = 8000  # only for AllowedOrigins: the origins of a `make dev` site
    warm_containers: str = "LAZY"
    start_timeout_seconds: float = 600.0  # sam build downloads the x86_64 wheels from PyPI the first time
    stop_grace_seconds: float = 15.0
    docker_gone_grace_seconds: float = 3.0  # sam's stop when Docker is gone: it has nothing left to clean up

    def __post_init__(self) -> None:
        if self.auth not in MODES:
            raise SamLocalError(f"unknown AUTH={self.auth!r}: choose {' or '.join(SAM_AUTH_METHODS)}")
        refusal = self.mode.sam_local_refusal
        if refusal is not None:
            raise UnsupportedModeError(refusal)

    @property
    def mode(self) -> AuthMode:
        """What the auth mode needs and does offline (devstack/modes.py)."""
        return MODES[self.auth]

    def ports(self) -> tuple[PortSetting, ...]:
        values = {
            "API_PORT": self.api_port,
            "MOMENTO_GRPC_PORT": self.momento_grpc_port,
            "MOMENTO_WEB_PORT": self.momento_web_port,
            "MOTO_PORT": self.moto_port,
        }
        return tuple(
            PortSetting(name, values[name], self.port_sources.get(name, "argument"))  # type: ignore[arg-type]
            for name in SAM_PORT_VARIABLES
        )

    @property
    def build_dir(self) -> Path:
        """Not .aws-sam/build: an x86_64 build there would be what a later `sam deploy` uploads."""
        return self.root / ".aws-sam" / "sam-local" / "build"

    @property
    def built_template(self) -> Path:
        return self.build_dir / "template.yaml"

    def resolved_api_key(self) -> str:
        if self.api_key:
            return self.api_key
        from momento_emulator import DEFAULT_API_KEY

        return os.environ.get("MOMENTO_EMULATOR_API_KEY") or DEFAULT_API_KEY

    @classmethod
    def from_env(cls, auth: str, environ: Mapping[str, str] | None = None, **overrides: Any) -> SamApiConfig:
        """`make sam-api`'s configuration: each port from its variable (as `make dev` reads them), else its default."""
        environ = os.environ if environ is None else environ
        ports: dict[str, int] = {}
        sources: dict[str, str] = {}
        for name in SAM_PORT_VARIABLES:
            raw = environ.get(name, "").strip()
            default = PORT_VARIABLES[name][0]
            try:
                port = int(raw, 10) if raw else default
            except ValueError:
                port = -1
            if not 0 <= port <= 65535:
                raise SamLocalError(f"{name}={raw!r} is not a port number (0 to 65535; 0 picks a free port)")
            ports[name], sources[name] = port, "environment" if raw else "default"
        site = environ.get("SITE_PORT", "").strip()
        return cls(
            auth=auth,
            site_port=int(site) if site.isdigit() and 0 < int(site) < 65536 else PORT_VARIABLES["SITE_PORT"][0],
            api_port=ports["API_PORT"],
            momento_grpc_port=ports["MOMENTO_GRPC_PORT"],
            momento_web_port=ports["MOMENTO_WEB_PORT"],
            moto_port=ports["MOTO_PORT"],
            port_sources=sources,
            **overrides,
        )


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    tier: str | None


@dataclass(frozen=True)
class SamApiInfo:
    """A running `sam local start-api`: the facts of the ready block (and of `--ready-json`)."""

    auth_method: str
    api_url: str
    mounts: tuple[str, ...]  # SAM CLI's own "Mounting X at URL [METHODS]", as it printed them
    momento_endpoint: str  # for clients on this machine
    momento_grpc_port: int
    momento_web_url: str
    moto_url: str
    bridge: str
    docker_host: str  # the engine the containers run in (DOCKER_HOST's form)
    docker_network: str  # this run's network: its containers are the ones on it (network.py)
    function_momento_endpoint: str  # what the functions are given
    function_secrets_endpoint: str
    parameter_overrides: tuple[str, ...]
    env_vars_file: str
    built_template: str
    sam: str
    users: tuple[DemoLogin, ...]
    guest_tier: str | None
    ports: dict[str, dict[str, Any]]
    build_seconds: float
    startup_seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def invoke_command(self, function: str, event: str) -> list[str]:
        """`sam local invoke` of `function` with this stack's parameters (the emulator and moto must run)."""
        return local_invoke_argv(
            self.sam, self.built_template, self.parameter_overrides, self.env_vars_file, function, event
        )


class SamApi:
    """`await start()` -> SamApiInfo; `await wait()` returns when a child exits; `await stop()` is idempotent."""

    def __init__(self, config: SamApiConfig) -> None:
        self.config = config
        self._emulator: ChildProcess | None = None
        self._moto: ChildProcess | None = None
        self._sam: ChildProcess | None = None
        self._relays: list[TcpForwarder] = []
        self._network = RunNetwork()
        self._docker_gone = False
        self._mounts: list[str] = []
        self._info: SamApiInfo | None = None
        self._stopped = False

    @property
    def info(self) -> SamApiInfo:
        if self._info is None:
            raise RuntimeError("sam local start-api is not started")
        return self._info

    # ------------------------------------------------------------------ start
    async def start(self) -> SamApiInfo:
        check_ports(self.config.ports())
        try:
            async with asyncio.timeout(self.config.start_timeout_seconds):
                return await self._start()
        except TimeoutError:
            await self.stop()
            raise SamLocalError(
                f"sam local start-api was not up within {self.config.start_timeout_seconds:.0f} s"
            ) from None
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> SamApiInfo:
        started = time.perf_counter()
        config = self.config
        sam = sam_executable(config.root)
        bridge = await asyncio.to_thread(bridge_gateway)
        await asyncio.to_thread(self._network.create)
        moto_port = config.moto_port or free_port()
        api_port = config.api_port or free_port()

        build = asyncio.ensure_future(sam_build(config)) if config.build else None
        env = {**os.environ, "MOMENTO_EMULATOR_API_KEY": config.resolved_api_key()}
        self._emulator = ChildProcess(
            "emulator",
            [
                sys.executable,
                "-m",
                "momento_emulator",
                "--host",
                HOST,
                "--grpc-port",
                str(config.momento_grpc_port),
                "--web-port",
                str(config.momento_web_port),
                "--cache",
                config.cache_name,
            ],
            label="the Momento emulator",
            env=env,
            logger=logging.getLogger("sam_local.emulator"),
        )
        self._moto = ChildProcess(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)],
            label="moto",
            env={**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT_ID},
            line_filter=moto_line_filter,
            logger=logging.getLogger("sam_local.moto"),
        )
        try:
            await asyncio.gather(self._emulator.start(), self._moto.start())
            users_task = asyncio.ensure_future(_demo_users(config))
            ready = json.loads(await self._emulator.first_line(60))
            grpc_port, web_port = int(ready["grpc_port"]), int(ready["web_port"])
            await _wait_until_answers(self._moto, f"http://{HOST}:{moto_port}/moto-api/")
            users, guest_tier, users_held = await users_task
            moto = await asyncio.to_thread(MotoClients.warmed, f"http://{HOST}:{moto_port}", *config.mode.moto_services)
            holds = what_moto_must_hold(config.resolved_api_key(), users_held, config.root / "template.yaml")
            await asyncio.to_thread(seed, moto, holds)
            for name, port in (("emulator", grpc_port), ("moto", moto_port)):
                relay = TcpForwarder(name, bridge, port, HOST, port)
                await relay.start()
                self._relays.append(relay)
            build_seconds = await build if build is not None else 0.0
        finally:
            if build is not None and not build.done():
                build.cancel()
                with contextlib.suppress(BaseException):
                    await build
        if not config.built_template.is_file():
            raise SamLocalError(f"no build at {config.built_template}: run with build=True first")

        overrides = parameter_overrides(config, bridge, grpc_port, moto_port)
        env_file = ENV_VARS_FILE
        argv = [
            str(sam),
            "local",
            "start-api",
            "--host",
            HOST,
            "--port",
            str(api_port),
            "--warm-containers",
            config.warm_containers,
            "--docker-network",
            self._network.name,
            *_common_local_args(config.built_template, overrides, str(env_file)),
        ]
        self._sam = ChildProcess(
            "sam",
            argv,
            label="sam local start-api",
            env=sam_environment(),
            line_filter=self._sam_line,
            logger=logging.getLogger("sam_local.sam"),
        )
        await self._sam.start()
        self._sam.forward_stdout()
        await _wait_until_listening(self._sam, HOST, api_port)

        actual = {
            "API_PORT": api_port,
            "MOMENTO_GRPC_PORT": grpc_port,
            "MOMENTO_WEB_PORT": web_port,
            "MOTO_PORT": moto_port,
        }
        self._info = SamApiInfo(
            auth_method=config.auth,
            api_url=f"http://{HOST}:{api_port}",
            mounts=tuple(self._mounts),
            momento_endpoint=f"{HOST}:{grpc_port}",
            momento_grpc_port=grpc_port,
            momento_web_url=f"http://{HOST}:{web_port}",
            moto_url=f"http://{HOST}:{moto_port}",
            bridge=bridge,
            docker_host=docker_host(),
            docker_network=self._network.name,
            function_momento_endpoint=f"{bridge}:{grpc_port}",
            function_secrets_endpoint=f"http://{bridge}:{moto_port}",
            parameter_overrides=overrides,
            env_vars_file=_shown(env_file, config.root),
            built_template=_shown(config.built_template, config.root),
            sam=_shown(sam, config.root),
            users=users if config.mode.has_users else (),
            guest_tier=None if config.mode.has_users else guest_tier,
            ports={
                s.variable: {
                    "requested": s.port,
                    "port": actual[s.variable],
                    "source": s.source,
                    "what": _WHAT[s.variable],
                }
                for s in config.ports()
            },
            build_seconds=round(build_seconds, 1),
            startup_seconds=round(time.perf_counter() - started, 1),
        )
        return self._info

    def _sam_line(self, line: str) -> str | None:
        """SAM CLI's output minus its banner; its access lines without the path or query (a caller's values). Once
        Docker is gone, nothing: SAM CLI's tracebacks about it would only bury the one line that says so."""
        if self._docker_gone:
            return None
        line = _ANSI.sub("", line)
        container = _CONTAINER_LINE.search(line)
        if container:
            self._network.reported.add(container.group(1))
            return None
        match = _MOUNT_LINE.search(line)
        if match:
            self._mounts.append(f"{match.group(1)} {match.group(2)} [{match.group(3)}]")
        access = _ACCESS_LINE.search(line)
        if access:
            return f"{access.group(1)} (path and query not logged) -> {access.group(2)}"
        if _NOISE.search(line):
            return None
        return line

    async def wait(self) -> str:
        """Return (with a sentence) once sam, the emulator or moto exits on its own, or the Docker engine is gone."""
        children = [child for child in (self._sam, self._emulator, self._moto) if child is not None]
        waits: dict[asyncio.Future[Any], ChildProcess | None] = {
            asyncio.ensure_future(child.wait()): child for child in children
        }
        waits[asyncio.ensure_future(wait_until_docker_gone())] = None
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        finished = next(iter(done))
        child = waits[finished]
        if child is None:
            self._docker_gone = True
            return str(finished.result())
        await child.drained()
        return f"{child.label} exited ({child.returncode}): {child.tail()}"

    # ------------------------------------------------------------------ stop
    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        grace = self.config.docker_gone_grace_seconds if self._docker_gone else self.config.stop_grace_seconds
        if self._sam is not None:
            await self._sam.stop(grace)
        if not self._docker_gone:  # else nothing can be removed now: the next run removes what is left (network.py)
            await asyncio.to_thread(self._network.remove)
        for relay in self._relays:
            await relay.stop()
        children = [child for child in (self._emulator, self._moto) if child is not None]
        await asyncio.gather(*(child.stop(5.0) for child in children))

    def kill(self) -> None:
        for child in (self._sam, self._emulator, self._moto):
            if child is not None:
                child.kill()


async def sam_build(config: SamApiConfig) -> float:
    """`sam build` for x86_64 into its own directory, with Python 3.13 first on PATH (SAM's pip must be 3.13)."""
    started = time.perf_counter()
    sam = sam_executable(config.root)
    python = find_python313()
    env = sam_environment()
    env["PATH"] = f"{python / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    argv = [
        str(sam),
        "build",
        "--template-file",
        str(config.root / "template.yaml"),
        "--build-dir",
        str(config.build_dir),
        "--cache-dir",
        str(config.build_dir.parent / "cache"),
        "--cached",
        "--parallel",
        "--language-extensions",
        "--skip-pull-image",
        "--parameter-overrides",
        f"LambdaArchitecture=x86_64 AuthenticationMethod={config.auth}",
    ]
    log.info("sam_local: sam build (x86_64, Python %s) into %s", python.name, config.build_dir.relative_to(config.root))
    child = ChildProcess(
        "sam-build",
        argv,
        label="sam build",
        env=env,
        logger=logging.getLogger("sam_local.build"),
        line_filter=_build_line,
    )
    await child.start()
    child.forward_stdout()
    returncode = await child.wait()
    await child.drained()
    if returncode != 0:
        raise SamLocalError(f"sam build failed ({returncode}): {child.tail()}")
    seconds = time.perf_counter() - started
    log.info("sam_local: sam build done in %.1f s", seconds)
    return seconds


def _shown(path: Path, root: Path) -> str:
    """A path as a person in the repository types it (the commands run from the repository root)."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def parameter_overrides(config: SamApiConfig, bridge: str, grpc_port: int, moto_port: int) -> tuple[str, ...]:
    """The template parameters of a `sam local` run: the emulator and moto (the secrets, the issuance table) on the
    bridge. The bridge is not a loopback address, so MomentoEmulatorEndpoint names the emulator's endpoint again:
    without it the function would (rightly) use TLS there, which the emulator does not speak."""
    momento_endpoint = f"{bridge}:{grpc_port}"
    return (
        f"AuthenticationMethod={config.auth}",
        "LambdaArchitecture=x86_64",
        f"MomentoEndpoint={momento_endpoint}",
        f"MomentoEmulatorEndpoint={momento_endpoint}",
        f"MomentoApiKeySecretArn={secret_arn(MOMENTO_KEY_SECRET_NAME)}",
        f"SecretsManagerEndpoint=http://{bridge}:{moto_port}",
        f"DynamoDbEndpoint=http://{bridge}:{moto_port}",
        f"CacheName={config.cache_name}",
        # make dev's site (SITE_PORT, default 8000) may call this API instead of its own.
        f"AllowedOrigins=http://127.0.0.1:{config.site_port},http://localhost:{config.site_port}",
        "LogLevel=INFO",
    )


def local_invoke_argv(
    sam: str, template: str, overrides: Sequence[str], env_file: str, function: str, event: str
) -> list[str]:
    """`sam local invoke FUNCTION --event EVENT` with a running stack's parameters (its emulator and moto)."""
    return [sam, "local", "invoke", function, "--event", event, *_common_local_args(template, overrides, env_file)]


def _common_local_args(template: str | Path, overrides: Sequence[str], env_file: str) -> list[str]:
    """What every `sam local` command here is given: nothing pulled, the extensions applied, the mode's values."""
    return [
        "--template",
        str(template),
        "--skip-pull-image",
        "--language-extensions",
        "--region",
        REGION,
        "--parameter-overrides",
        " ".join(overrides),
        "--env-vars",
        env_file,
    ]


def sam_environment() -> dict[str, str]:
    """SAM CLI's environment: no telemetry, and no AWS credentials at all.

    With credentials SAM CLI asks STS for the account id first (about 10 s to time out here, and a call to AWS);
    with none it uses its defaults, and hands the containers the dummy keys "defaultkey"/"defaultsecret", which moto
    accepts. No credentials file either: a developer's real keys never reach a container.
    """
    env = dict(os.environ)
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
    ):
        env.pop(name, None)
    env.update(
        {
            "SAM_CLI_TELEMETRY": "0",
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


_BUILD_NOISE: Final = re.compile(r"SAM CLI now collects|Commands you can use next|^=+$|^\[\*\] ")


def _build_line(line: str) -> str | None:
    """sam build's output minus its telemetry notice and its "what to run next" list (sam deploy: not this build)."""
    return None if _BUILD_NOISE.search(line.strip()) or not line.strip() else line


async def _demo_users(config: SamApiConfig) -> tuple[tuple[DemoLogin, ...], str | None, MotoState | None]:
    """(demo logins with their tiers, the policy's guest tier, what moto must hold for the mode's users: the hashed
    users secret), as `make dev` has them."""

    def read() -> tuple[tuple[DemoLogin, ...], str | None, DemoUsers]:  # in a thread, imports included
        from momento_tvm import load_policy
        from tvm_users.demo import read_demo_users

        policy = load_policy(config.root / "functions" / "token_vending" / "policy.yaml")
        demo = read_demo_users(config.root / "local" / "demo_users.json")
        users = []
        for name, (password, groups) in demo.as_tuples().items():
            rule = next((rule for rule in policy.groups if rule.group in groups), None)
            users.append(DemoLogin(name, password, rule.tier if rule else policy.default_tier))
        return tuple(users), policy.anonymous_tier, demo

    logins, guest_tier, demo = await asyncio.to_thread(read)
    held = await config.mode.users_in_moto(demo, config.root / "template.yaml", _no_template_parameters)
    return logins, guest_tier, held


async def _no_template_parameters() -> Mapping[str, str]:
    """What a mode that reads template.yaml's resources into moto would ask for; sam local runs none (SamApiConfig
    refuses them: SAM CLI has no local JWT authorizer)."""
    raise SamLocalError("sam local runs no mode whose users are read from template.yaml's resources")


async def _wait_until_answers(child: ChildProcess, url: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            _raise_if_exited(child)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url) as response:
                    await response.read()
                    if response.status == 200:  # moto's own answer, not another server's on its port
                        return
            await asyncio.sleep(0.05)


async def _wait_until_listening(child: ChildProcess, host: str, port: int) -> None:
    """SAM's gateway accepts connections (a bare connect: no request, so nothing is logged or invoked)."""
    while True:
        if not child.running:
            await child.wait()
            await child.drained()
            raise SamLocalError(f"sam local start-api exited ({child.returncode}): {child.tail()}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        await asyncio.sleep(0.2)


def _raise_if_exited(child: ChildProcess) -> None:
    if not child.running:
        raise DevstackError(f"{child.label} exited while starting: {child.tail()}")


def shell_line(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(part) for part in argv)
