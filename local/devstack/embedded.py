"""`python -m devstack.embedded` (what `make embedded` runs): the example chat app with its own login
(examples/fastapi_chat) and the Momento emulator, offline, until Ctrl-C or SIGTERM.

    the app's port bound ── emulator spawned ── emulator reports its ports ── app served (uvicorn, in this
    process, on the bound socket) ── /config.js answers ── the ready block

Ports: EMBEDDED_PORT (3100), MOMENTO_GRPC_PORT (8080), MOMENTO_WEB_PORT (8081), or the flags; 0 picks a free port;
everything binds 127.0.0.1. TOKEN_TTL_SECONDS (or --token-ttl): the token lifetime the site asks for, so renewals
can be watched in the access log (`GET /api/momento/token ... 200`: paths only, never a query string, which may
carry what a page put in its URL). The app's origins (its APP_ORIGINS) are http://127.0.0.1:<port> and
http://localhost:<port>: a request addressed to any other name is refused. Once ready, an emulator that exits is
started again on its ports (supervisor.py), as in `make dev`. Exit status: 0 after Ctrl-C / SIGTERM, 1 when a part
failed, 2 for a setting to fix (a taken port). The ready block goes to stdout, logs to stderr.

This runner is dev tooling: the example itself knows nothing of it (its README runs it with plain uvicorn).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import uvicorn

from .children import ChildProcess
from .config import HOST, RestartPolicy
from .errors import ChildExitedError, ConfigError, DevstackError, StartTimeoutError
from .ports import port_is_free, suggest_port
from .signals import run_until_stopped
from .supervisor import Supervisor

__all__ = ["EmbeddedConfig", "config_from_args", "main", "ready_block"]

log = logging.getLogger("devstack")

ROOT: Final = Path(__file__).resolve().parents[2]
CACHE: Final = "chat"
# Variable -> (default port, what listens there), in the ready block's order.
PORTS: Final[Mapping[str, tuple[int, str]]] = {
    "EMBEDDED_PORT": (3100, "the example app (site, sign-in, tokens)"),
    "MOMENTO_GRPC_PORT": (8080, "the Momento emulator (gRPC)"),
    "MOMENTO_WEB_PORT": (8081, "the Momento emulator (grpc-web)"),
}
START_TIMEOUT_SECONDS: Final = 30.0
STOP_GRACE_SECONDS: Final = 5.0
_RULE: Final = "-" * 78


@dataclass(frozen=True)
class EmbeddedConfig:
    ports: Mapping[str, int]  # variable -> port asked for (0: a free one)
    sources: Mapping[str, str]  # variable -> "default" | "environment" | "flag"
    token_ttl_seconds: int | None


@dataclass(frozen=True)
class Running:
    """What the ready block shows."""

    app_url: str
    ports: Mapping[str, int]  # variable -> the port in use
    token_ttl_seconds: int | None
    logins: Sequence[tuple[str, str, str]]  # (user, password, tier)
    startup_seconds: float


def config_from_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> EmbeddedConfig:
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m devstack.embedded",
        description="Run the example chat app with its own login (examples/fastapi_chat) and the Momento emulator, "
        "offline. Ctrl-C stops everything.",
        epilog="Each flag defaults to its environment variable, else the port shown; 0 picks a free port.",
    )
    flags = {"EMBEDDED_PORT": "--port", "MOMENTO_GRPC_PORT": "--grpc-port", "MOMENTO_WEB_PORT": "--web-port"}
    for variable, flag in flags.items():
        parser.add_argument(flag, type=int, dest=variable, help=f"{PORTS[variable][1]} ({variable})")
    parser.add_argument("--token-ttl", type=int, help="token lifetime the site asks for, seconds (TOKEN_TTL_SECONDS)")
    args = vars(parser.parse_args(argv))
    ports: dict[str, int] = {}
    sources: dict[str, str] = {}
    for variable, (default, _) in PORTS.items():
        if args[variable] is not None:
            ports[variable], sources[variable] = args[variable], "flag"
        elif env.get(variable, "").strip():
            ports[variable], sources[variable] = _number(variable, env[variable]), "environment"
        else:
            ports[variable], sources[variable] = default, "default"
        if not 0 <= ports[variable] <= 65535:
            raise ConfigError(f"{variable}={ports[variable]} is not a port number (0 to 65535; 0 picks a free port)")
    ttl = args["token_ttl"]
    if ttl is None and env.get("TOKEN_TTL_SECONDS", "").strip():
        ttl = _number("TOKEN_TTL_SECONDS", env["TOKEN_TTL_SECONDS"])
    if ttl is not None and not 10 <= ttl <= 3600:
        raise ConfigError(f"TOKEN_TTL_SECONDS={ttl}: the example's tiers allow 10 to 3600 seconds")
    return EmbeddedConfig(ports, sources, ttl)


def _number(variable: str, raw: str) -> int:
    try:
        return int(raw.strip(), 10)
    except ValueError:
        raise ConfigError(f"{variable}={raw.strip()!r} is not a number") from None


def _taken(variable: str, port: int, configured: Iterable[int] = ()) -> ConfigError:
    """The error for a taken port, offering one that is free and that no other variable names (ports.suggest_port)."""
    suggestion = f"{variable}={suggest_port(port, {p for p in configured if p})} make embedded"
    return ConfigError(
        f"port {port} ({variable}, {PORTS[variable][1]}) is already in use on {HOST}. Stop what is using it, or "
        f"choose another port, e.g. `{suggestion}` (0 picks a free port)."
    )


def check_ports(config: EmbeddedConfig) -> None:
    """Fail fast and by name for a fixed port that is taken or given twice (the app's is bound, not only checked)."""
    seen: dict[int, str] = {}
    for variable, port in config.ports.items():
        if port == 0:
            continue
        if port in seen:
            raise ConfigError(f"{seen[port]} and {variable} are both {port}: give each its own port (0: a free one)")
        seen[port] = variable
        if variable != "EMBEDDED_PORT" and not port_is_free(port):
            raise _taken(variable, port, config.ports.values())


def bind_app_socket(port: int, configured: Iterable[int] = ()) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise _taken("EMBEDDED_PORT", port, configured) from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


class AppServer(uvicorn.Server):
    """uvicorn, with this runner's signal handling instead of its own (stop_on_signals: the second Ctrl-C kills)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def demo_logins() -> list[tuple[str, str, str]]:
    """(user, password, tier) for the example's users: passwords from local/demo_users.json (the example stores
    hashes only), tiers from its policy."""
    from examples.fastapi_chat.settings import POLICY_FILE
    from examples.fastapi_chat.users import DEMO_USERS
    from momento_tvm import load_policy
    from tvm_users.demo import load_demo_users

    policy = load_policy(POLICY_FILE)
    passwords = load_demo_users(ROOT / "local" / "demo_users.json")
    logins = []
    for user in DEMO_USERS:
        rule = next((rule for rule in policy.groups if rule.group in user.groups), None)
        tier = rule.tier if rule else policy.default_tier or "(refused)"
        logins.append((user.username, passwords.get(user.username, ("(see users.py)",))[0], tier))
    return logins


def ready_block(running: Running, config: EmbeddedConfig) -> str:
    url = running.app_url
    width = max(len(user) for user, _, _ in running.logins) + 3
    pwidth = max(len(password) for _, password, _ in running.logins) + 3
    if running.token_ttl_seconds is None:
        ttl = "the tier's lifetime (15 min); `TOKEN_TTL_SECONDS=60 make embedded` to watch renewals"
    else:
        ttl = f"{running.token_ttl_seconds} s, renewed before they expire (TOKEN_TTL_SECONDS)"
    lines = [
        _RULE,
        f" The example chat app with its own login, offline (ready in {running.startup_seconds:.1f} s)",
        "",
        f"   Open      {url}/   the chat; it sends you to the app's own sign-in page",
        f"   Sign in   {url}/login",
        f"   Tokens    {url}/api/momento/token   and /api/momento/token/explain (the session cookie says who)",
        "",
        "   Demo logins (examples/fastapi_chat/users.py, local only):",
        f"     {'user':<{width}}{'password':<{pwidth}}tier",
        *(f"     {user:<{width}}{password:<{pwidth}}{tier}" for user, password, tier in running.logins),
        "",
        f"   Tokens    {ttl}",
        f"   Momento emulator   gRPC {HOST}:{running.ports['MOMENTO_GRPC_PORT']}   "
        f"grpc-web http://{HOST}:{running.ports['MOMENTO_WEB_PORT']}   cache {CACHE}",
        "",
        "   Ports (environment variables; 0 picks a free port):",
    ]
    for variable, (_, what) in PORTS.items():
        asked = config.ports[variable]
        origin = f"a free port ({variable}=0)" if asked == 0 else config.sources[variable]
        lines.append(f"     {variable:<19}{running.ports[variable]:<7}{what:<42}{origin}")
    lines += ["", " Press Ctrl-C to stop.", _RULE]
    return "\n".join(lines)


class Embedded:
    """The emulator (a supervised child) and the app (uvicorn in this process). `start()`, `wait()`, `stop()`."""

    def __init__(self, config: EmbeddedConfig) -> None:
        self.config = config
        self.emulator: ChildProcess | None = None
        self.supervisor: Supervisor | None = None
        self.server: AppServer | None = None
        self.serving: asyncio.Task[None] | None = None
        self.failed = asyncio.Event()
        self.failure: DevstackError | None = None

    async def start(self) -> Running:
        started = time.perf_counter()
        check_ports(self.config)
        sock = bind_app_socket(self.config.ports["EMBEDDED_PORT"], self.config.ports.values())
        app_port: int = sock.getsockname()[1]
        try:
            async with asyncio.timeout(START_TIMEOUT_SECONDS):
                grpc_port, web_port = await self._start_emulator(app_port)
                await self._start_app(sock, app_port, grpc_port, web_port)
        except TimeoutError:
            raise StartTimeoutError(f"the example app did not come up within {START_TIMEOUT_SECONDS:.0f} s") from None
        finally:
            if self.server is None or not self.server.started:
                sock.close()  # else uvicorn serves on it, and closes it when it stops
        ports = {"EMBEDDED_PORT": app_port, "MOMENTO_GRPC_PORT": grpc_port, "MOMENTO_WEB_PORT": web_port}
        logins = await asyncio.to_thread(demo_logins)
        seconds = round(time.perf_counter() - started, 3)
        return Running(f"http://{HOST}:{app_port}", ports, self.config.token_ttl_seconds, logins, seconds)

    async def _start_emulator(self, app_port: int) -> tuple[int, int]:
        asked_grpc, asked_web = self.config.ports["MOMENTO_GRPC_PORT"], self.config.ports["MOMENTO_WEB_PORT"]
        origins = app_origins(app_port)

        def argv(grpc_port: int, web_port: int) -> list[str]:
            # --cache: the emulator creates the chat's cache itself, at every start (so after a restart too).
            command = [sys.executable, "-m", "momento_emulator", "--host", HOST, "--cache", CACHE]
            command += ["--grpc-port", str(grpc_port), "--web-port", str(web_port)]
            return [*command, *(part for origin in origins for part in ("--cors-origin", origin))]

        self.emulator = ChildProcess("emulator", argv(asked_grpc, asked_web), label="the Momento emulator")
        await self.emulator.start()
        try:
            grpc_port, web_port = _ports_of(await self.emulator.first_line(START_TIMEOUT_SECONDS))
        except ChildExitedError as error:
            for variable, port in (("MOMENTO_GRPC_PORT", asked_grpc), ("MOMENTO_WEB_PORT", asked_web)):
                if port and f"port {port} " in str(error) and "already in use" in str(error):
                    raise _taken(variable, port, self.config.ports.values()) from None
            raise
        first = self.emulator

        async def back(child: ChildProcess) -> str | None:
            if _ports_of(await child.first_line(START_TIMEOUT_SECONDS)) != (grpc_port, web_port):
                raise DevstackError("the Momento emulator came back on other ports")
            return None

        self.supervisor = Supervisor(
            "emulator",
            first.label,
            f"{HOST}:{grpc_port}/{web_port}",
            spawn=lambda: first.again(argv(grpc_port, web_port)),
            become_ready=back,
            policy=RestartPolicy(),
            grace_seconds=STOP_GRACE_SECONDS,
        )
        self.supervisor.supervise(first, self._supervision_failed)
        return grpc_port, web_port

    async def _start_app(self, sock: socket.socket, app_port: int, grpc_port: int, web_port: int) -> None:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # examples/ is not packaged: import it from the checkout
        from examples.fastapi_chat.app import create_app
        from momento_tvm import MomentoSettings

        app = create_app(
            MomentoSettings.emulator(grpc_port, HOST),
            cache_name=CACHE,
            site_dir=ROOT / "static_site" / "dist",
            origins=app_origins(app_port),
            momento_web_url=f"http://{HOST}:{web_port}",
            token_ttl_seconds=self.config.token_ttl_seconds,
        )
        # log_config=None: this runner's logging (one line each); the access log shows every token renewal, by path.
        access_log = logging.getLogger("uvicorn.access")
        if not any(isinstance(f, PathsOnly) for f in access_log.filters):
            access_log.addFilter(PathsOnly())
        self.server = AppServer(uvicorn.Config(app, log_config=None, access_log=True, lifespan="on"))
        self.serving = asyncio.create_task(self.server.serve(sockets=[sock]), name="example-app")
        while not self.server.started:
            if self.serving.done():
                with contextlib.suppress(BaseException):
                    self.serving.result()
                raise DevstackError("the example app stopped while starting (see its log above)")
            await asyncio.sleep(0.01)
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(f"http://{HOST}:{app_port}/config.js") as response,
        ):
            if response.status != 200:
                raise DevstackError(f"the example app answered {response.status} for /config.js")

    def _supervision_failed(self, supervisor: Supervisor) -> None:
        self.failure = supervisor.failure
        self.failed.set()

    async def wait(self) -> None:
        """Return (raising) only when something ended on its own: the app, or the emulator's supervision."""
        assert self.serving is not None
        failed = asyncio.ensure_future(self.failed.wait())
        try:
            await asyncio.wait((self.serving, failed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
        if self.failure is not None:
            raise self.failure
        raise DevstackError("the example app stopped on its own")

    async def stop(self) -> None:
        """The app first (open requests finish, the vending machine closes), then the emulator."""
        if self.server is not None and self.serving is not None:
            self.server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self.serving), STOP_GRACE_SECONDS)
            except (Exception, SystemExit):  # too slow, or it failed: drop its connections
                self.server.force_exit = True
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(self.serving, 1)
        if self.supervisor is not None:
            await self.supervisor.close()
        child = self.supervisor.child if self.supervisor is not None else self.emulator
        if child is not None:
            await child.stop(STOP_GRACE_SECONDS)

    def kill(self) -> None:
        """A second Ctrl-C: the emulator's group is killed now; the app is told to drop its connections."""
        if self.supervisor is not None:
            self.supervisor.abandon()
        child = self.supervisor.child if self.supervisor is not None else self.emulator
        if child is not None:
            child.kill()
        if self.server is not None:
            self.server.should_exit = self.server.force_exit = True


def app_origins(app_port: int) -> list[str]:
    """Where the app is served, by either local name: its APP_ORIGINS, and the emulator's CORS origins."""
    return [f"http://{HOST}:{app_port}", f"http://localhost:{app_port}"]


class PathsOnly(logging.Filter):
    """uvicorn's access log with each request's path but not its query string (`?topics=...&next=...`): whatever
    a page puts in its URL stays out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):  # client, method, path, ...
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def _ports_of(line: str) -> tuple[int, int]:
    try:
        ready: dict[str, Any] = json.loads(line)
        return int(ready["grpc_port"]), int(ready["web_port"])
    except (ValueError, KeyError, TypeError):
        raise DevstackError("the Momento emulator's first line was not its JSON ready report") from None


async def run(config: EmbeddedConfig) -> int:
    try:
        return await run_until_stopped("embedded", Embedded(config), lambda running: ready_block(running, config))
    finally:
        log.info("embedded: stopped")


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its start/stop chatter; errors still show
    try:
        status = asyncio.run(run(config_from_args(argv)))
    except DevstackError as error:
        print(f"embedded: {error}", file=sys.stderr, flush=True)
        status = error.exit_code
    sys.exit(status)


if __name__ == "__main__":
    main()
