"""The embedding path as documented (issue 19): the README's "Embed it in your app", docs/embedding.md and the
package's PyPI page (docs/pypi.md), run the way a new user runs them, in fresh venvs.

What runs, and the one thing the test changes in each:
- The install lines: one fresh venv per extra (fastapi, flask), made with `python -m venv` and the README's line, run
  by bash in the activated venv word for word except the package's source, the session's built wheel
  (tests/integration/conftest.py's `built_wheel`) in place of "." (docs/embedding.md says "/path/to/this/clone",
  PyPI "momento-tvm": their lines must be the README's but for that).
- The README's examples and the PyPI one: saved as the file their first comment names, started as that comment says
  (`uvicorn app:app`, `flask run`) with the venv's bin first on PATH, a real process on 127.0.0.1 with `--port 0`
  added (a free port). The comment's `<...>` values are the session emulator's key and endpoint, a random session
  secret and a random demo password. The test signs in through the example's own /login, asks
  /api/momento/token, and tries the token with the real `momento` SDK here (the emulator holds the cache "chat" the
  examples name: created through the SDK first).
- docs/embedding.md's marked blocks: policy.yaml saved; check-policy and vend.py run in the fresh venv; the logging
  snippet run there ahead of a few lines that vend through a route, once from the emulator and once from a Momento
  that cannot be reached (the cause must be logged); the client snippet run here, with the dev venv (it needs the
  `momento` SDK, which the library does not), on a token the machine vended for it.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from momento import CacheClient, Configurations, CredentialProvider
from momento.responses import CreateCache

from momento_emulator.testing import EmulatorThread
from momento_tvm import EMULATOR_API_KEY, MomentoSettings, TokenRequest, VendingMachine, verified_identity
from tests import sdk_rights
from tests.integration.fresh_venv import activated_env, make_venv, run, run_install_line
from tests.integration.test_readme import anchors

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
EMBEDDING = ROOT / "docs" / "embedding.md"
PYPI = ROOT / "docs" / "pypi.md"
CACHE = "chat"  # the cache every example names
EXTRAS = ("fastapi", "flask")
# Each document's install source: what the test replaces with the built wheel's path.
SOURCES = {README: ".", EMBEDDING: "/path/to/this/clone", PYPI: "momento-tvm"}
INSTALL = re.compile(r'pip install "(?P<source>[^"\[]+)\[(?P<extra>\w+)\]"(?P<rest>[^#]*)')
FENCE = re.compile(
    r"^(<!-- (?P<kind>[\w-]+): ?(?P<name>.*?) -->\n)?```(?P<language>\w*)\n(?P<code>.*?)^```$", re.M | re.S
)
RUN_COMMENT = re.compile(r"# (?P<file>\S+) -- run: (?P<line>.+)")
READY = re.compile(r"running on (http://127\.0\.0\.1:\d+)", re.IGNORECASE)
START_TIMEOUT_SECONDS = 60.0
SNIPPET_TIMEOUT_SECONDS = 60.0
SESSION_SECRET = secrets.token_urlsafe(24)
DEMO_PASSWORD = secrets.token_urlsafe(12)


# ---------------------------------------------------------------------- the documents' blocks
@dataclass(frozen=True)
class Block:
    kind: str | None  # the marker's kind: "readme-example", "embedding-example", "pypi-example", "embedding"...
    name: str | None
    language: str
    code: str


def blocks(markdown: Path) -> list[Block]:
    found = FENCE.finditer(markdown.read_text(encoding="utf-8"))
    return [Block(m["kind"], m["name"], m["language"], m["code"]) for m in found]


def examples(markdown: Path, kind: str) -> dict[str, str]:
    """The blocks marked `<!-- KIND: NAME -->`, by name."""
    return {block.name: block.code for block in blocks(markdown) if block.kind == kind and block.name}


def install_commands(markdown: Path, code: str) -> dict[str, str]:
    """extra -> its install command, the source replaced by `{wheel}` and any comment left out."""
    commands = {}
    for line in code.splitlines():
        if match := INSTALL.match(line):
            assert match["source"] == SOURCES[markdown], line
            commands[match["extra"]] = " ".join(f'pip install "{{wheel}}[{match["extra"]}]"{match["rest"]}'.split())
    return commands


def readme_install_lines() -> dict[str, str]:
    """extra -> the README's line as written (a fresh venv runs it, the wheel in place of ".")."""
    install = [b for b in blocks(README) if b.language == "sh" and INSTALL.match(b.code)]
    assert len(install) == 1, install
    return {m["extra"]: line for line in install[0].code.splitlines() if (m := INSTALL.match(line))}


def run_comment(code: str) -> tuple[str, list[str], list[str]]:
    """(file name, the variables the run line sets, its command) from a snippet's first line
    `# app.py -- run: NAME=<placeholder> ... command`."""
    first = RUN_COMMENT.fullmatch(code.splitlines()[0])
    assert first, code.splitlines()[0]
    settings = re.match(r"(?:\w+=<[^>]*>\s+)*", first["line"])
    assert settings is not None
    names = re.findall(r"(\w+)=<", settings[0])
    return first["file"], names, shlex.split(first["line"][settings.end() :])


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def venvs(built_wheel: Path) -> Iterator[dict[str, Path]]:
    """extra -> a fresh venv made with the README's install line for it (both made at once: mostly waiting)."""
    lines = readme_install_lines()
    assert set(lines) == set(EXTRAS), lines
    with tempfile.TemporaryDirectory(prefix="momento-tvm-readme-") as work:

        def make(extra: str) -> Path:
            venv = Path(work) / extra
            make_venv(venv)
            run_install_line(venv, lines[extra].replace('".[', f'"{built_wheel}[', 1))
            return venv

        started = time.monotonic()
        with ThreadPoolExecutor(len(EXTRAS)) as pool:
            made = dict(zip(EXTRAS, pool.map(make, EXTRAS), strict=True))
        print(f"\nreadme venvs: {time.monotonic() - started:.1f} s", file=sys.stderr)
        yield made


@pytest.fixture(scope="module")
def emulator_endpoint(emulator_thread: EmulatorThread) -> str:
    """The session emulator's gRPC endpoint, holding the cache "chat" the examples name (as `make emulator` does)."""
    root = CredentialProvider(EMULATOR_API_KEY, "127.0.0.1", "127.0.0.1", "127.0.0.1", emulator_thread.grpc_port)
    with CacheClient(Configurations.Laptop.v1(), root, timedelta(seconds=60)) as client:
        created = client.create_cache(CACHE)
    assert isinstance(created, CreateCache.Success | CreateCache.CacheAlreadyExists), created
    return f"127.0.0.1:{emulator_thread.grpc_port}"


def documented_values(emulator_endpoint: str) -> dict[str, str]:
    """What a reader puts for each `<...>` of the run lines."""
    return {
        "MOMENTO_API_KEY": EMULATOR_API_KEY,
        "MOMENTO_ENDPOINT": emulator_endpoint,
        "SESSION_SECRET": SESSION_SECRET,
        "DEMO_PASSWORD": DEMO_PASSWORD,
    }


# ---------------------------------------------------------------------- a served example, and a browser for it
@dataclass
class Served:
    url: str
    output: list[str] = field(default_factory=list)  # its stdout and stderr, line by line

    def text(self) -> str:
        return "".join(self.output)


@contextlib.contextmanager
def serving(venv: Path, folder: Path, snippet: str, emulator_endpoint: str) -> Iterator[Served]:
    """Save the snippet as the file its run line names and start that line's command from the venv, on a free port
    (`--port 0`); stopped (SIGTERM, then SIGKILL) when the block ends."""
    name, settings, command = run_comment(snippet)
    values = documented_values(emulator_endpoint)
    assert set(settings) <= set(values), settings
    (folder / name).write_text(snippet)
    env = activated_env(venv, {key: values[key] for key in settings})
    process = subprocess.Popen(
        [in_venv(venv, env, command[0]), *command[1:], "--port", "0"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    served = Served("")
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            served.output.append(line)
            if not ready.is_set() and (match := READY.search(line)):
                served.url = match[1]
                ready.set()
        ready.set()  # it ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(START_TIMEOUT_SECONDS) or not served.url:
            pytest.fail(f"`{shlex.join(command)}` did not start:\n{served.text()[-3000:]}")
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)
        reader.join(5)
        if process.stdout is not None:
            process.stdout.close()


def in_venv(venv: Path, env: dict[str, str], program: str) -> str:
    """The program a shell with `env` runs for `program`: it must be the venv's own."""
    executable = shutil.which(program, path=env["PATH"])
    assert executable is not None and Path(executable).parent == venv / "bin", (program, executable)
    return executable


class Browser:
    """A client with a cookie jar, as a browser keeps the session cookie /login sets."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, the JSON answer, or its text when it is not JSON)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with self.opener.open(request, timeout=30) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")


def error_code(answer: tuple[int, Any]) -> tuple[int, str | None]:
    status, body = answer
    return status, body["error"]["code"] if isinstance(body, dict) and "error" in body else None


def room() -> str:
    """A topic of the examples' tier (room-*) no other test uses: the session emulator is shared."""
    return f"room-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------- the documents hold what the tests run
def test_the_readme_marks_both_examples() -> None:
    assert set(examples(README, "readme-example")) == {"fastapi", "flask"}


def test_every_block_of_the_embedding_doc_and_the_pypi_page_is_run_or_says_why_not() -> None:
    for markdown, kind, names in (
        (
            EMBEDDING,
            "embedding",
            {"install", "policy.yaml", "check-policy", "vend", "revocations", "control-client.js", "logging", "client"},
        ),
        (PYPI, "pypi", {"install", "fastapi"}),
    ):
        unmarked = [
            b.code[:60]
            for b in blocks(markdown)
            if b.kind != f"{kind}-example" and not (b.kind == kind and re.fullmatch(r"skip \(.+\)", b.name or ""))
        ]
        assert unmarked == [], (
            f"{markdown.name}: mark these <!-- {kind}-example: NAME --> or <!-- {kind}: skip (WHY) -->"
        )
        assert set(examples(markdown, f"{kind}-example")) == names, markdown.name


def test_the_documented_install_lines_are_one_line_per_extra() -> None:
    """docs/embedding.md and PyPI show the README's lines but for where the package comes from; the FastAPI line
    brings what the example imports beyond the extra (uvicorn, itsdangerous for Starlette's sessions)."""
    readme = install_commands(README, "\n".join(readme_install_lines().values()))
    assert set(readme) == set(EXTRAS)
    assert install_commands(EMBEDDING, examples(EMBEDDING, "embedding-example")["install"]) == readme
    pypi = install_commands(PYPI, examples(PYPI, "pypi-example")["install"])
    assert pypi == {"fastapi": readme["fastapi"]}
    assert readme["fastapi"].split()[3:] == ["uvicorn", "itsdangerous"]


def test_the_embedding_docs_links_lead_somewhere() -> None:
    """Each relative link of docs/embedding.md names a file and a heading there (test_readme.py: the README's)."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", EMBEDDING.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (EMBEDDING.parent / path).resolve() if path else EMBEDDING
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert broken == []


# ---------------------------------------------------------------------- the README's examples, served
@pytest.mark.parametrize("example", EXTRAS)
async def test_the_readme_example_serves_signs_in_and_vends_a_working_token(
    example: str, venvs: dict[str, Path], emulator_endpoint: str, tmp_path: Path
) -> None:
    topic, other = room(), room()
    snippet = examples(README, "readme-example")[example]
    assert set(run_comment(snippet)[1]) == set(documented_values(emulator_endpoint)), "the run line's settings"
    with serving(venvs[example], tmp_path, snippet, emulator_endpoint) as served:
        browser = Browser(served.url)
        assert error_code(browser.call("GET", f"/api/momento/token?topics={topic}")) == (401, "unauthenticated")
        wrong = browser.call("POST", "/login", {"username": "alice", "password": DEMO_PASSWORD + "x"})
        assert wrong[0] == 401, wrong
        nobody = browser.call("POST", "/login", {"username": "mallory", "password": DEMO_PASSWORD})
        assert nobody[0] == 401, nobody
        signed_in = browser.call("POST", "/login", {"username": "alice", "password": DEMO_PASSWORD})
        assert signed_in == (200, {"signed_in": "alice"})
        status, token = browser.call("GET", f"/api/momento/token?topics={topic}")
        assert status == 200, token
        denied = browser.call("GET", "/api/momento/token?topics=lobby")
    assert (token["tokenId"], token["scope"]["tier"], token["endpoint"]) == ("alice", "member", emulator_endpoint)
    assert error_code(denied) == (403, "scope_denied")
    provider = sdk_rights.emulator_provider(token["authToken"], int(emulator_endpoint.rsplit(":", 1)[1]))
    assert await sdk_rights.topic_rights(provider, CACHE, topic) == (True, True)
    assert await sdk_rights.topic_rights(provider, CACHE, other) == (False, False)  # the token holds `topic` only
    output = served.text()
    assert "Traceback" not in output, output
    for secret in (token["authToken"], DEMO_PASSWORD, EMULATOR_API_KEY, SESSION_SECRET):
        assert secret not in output


def test_the_pypi_example_serves_the_token_route(
    venvs: dict[str, Path], emulator_endpoint: str, tmp_path: Path
) -> None:
    """It has no login of its own (a reader's app has one): the routes must answer, and refuse nobody's request."""
    with serving(venvs["fastapi"], tmp_path, examples(PYPI, "pypi-example")["fastapi"], emulator_endpoint) as served:
        browser = Browser(served.url)
        assert error_code(browser.call("GET", "/api/momento/token?topics=room-1")) == (401, "unauthenticated")
        assert error_code(browser.call("GET", "/api/momento/token/explain")) == (401, "unauthenticated")
    assert "Traceback" not in served.text(), served.text()


# ---------------------------------------------------------------------- docs/embedding.md's snippets
@pytest.fixture
def policy_folder(tmp_path: Path) -> Path:
    """A folder holding docs/embedding.md's policy.yaml, as its snippets expect."""
    (tmp_path / "policy.yaml").write_text(examples(EMBEDDING, "embedding-example")["policy.yaml"])
    return tmp_path


def test_the_embedding_docs_policy_passes_check_policy(venvs: dict[str, Path], policy_folder: Path) -> None:
    command = examples(EMBEDDING, "embedding-example")["check-policy"]
    out = run(
        ["bash", "-e", "-c", command],
        command,
        SNIPPET_TIMEOUT_SECONDS,
        env=activated_env(venvs["fastapi"]),
        cwd=policy_folder,
    )
    assert out.startswith("policy.yaml: ok ("), out


def test_the_embedding_docs_api_snippet_vends_explains_and_avends(
    venvs: dict[str, Path], policy_folder: Path, emulator_endpoint: str
) -> None:
    snippet = examples(EMBEDDING, "embedding-example")["vend"]
    name, settings, command = run_comment(snippet)
    (policy_folder / name).write_text(snippet)
    values = documented_values(emulator_endpoint)
    env = activated_env(venvs["fastapi"], {key: values[key] for key in settings})
    command[0] = in_venv(venvs["fastapi"], env, command[0])
    out = run(command, "the API snippet", SNIPPET_TIMEOUT_SECONDS, env=env, cwd=policy_folder).splitlines()
    assert len(out) == 3, out
    vended, avended = out[0].split(" ", 3), out[2].split()
    assert vended[:2] == ["alice", "member"] and int(vended[2]) > time.time(), out[0]
    scope = ast.literal_eval(vended[3])  # what the snippet prints is Python's repr of the token's JSON
    assert (scope["cache"], scope["topics"]["names"], scope["topics"]["role"]) == (
        CACHE,
        ["room-1"],
        "publish_subscribe",
    )
    explained = ast.literal_eval(out[1])
    assert (explained["tokenId"], explained["ttlSeconds"], explained["scope"]) == ("alice", 900, scope)
    assert "'members'" in explained["rule"], explained
    assert avended[0] == "alice" and int(avended[1]) > time.time(), out[2]


def test_the_embedding_docs_revocations_snippet_refuses_then_serves(
    venvs: dict[str, Path], policy_folder: Path, emulator_endpoint: str
) -> None:
    """Run as written in the wheel's fresh venv, against the emulator: the revoked user is refused with nothing
    minted, served again once the block is removed, and a paused tier refuses explain too."""
    snippet = examples(EMBEDDING, "embedding-example")["revocations"]
    name, settings, command = run_comment(snippet)
    (policy_folder / name).write_text(snippet)
    values = documented_values(emulator_endpoint)
    env = activated_env(venvs["fastapi"], {key: values[key] for key in settings})
    command[0] = in_venv(venvs["fastapi"], env, command[0])
    out = run(command, "the revocations snippet", SNIPPET_TIMEOUT_SECONDS, env=env, cwd=policy_folder).splitlines()
    assert out == ["403 revoked", "alice", "403 tier_paused member"], out


LOGGING_DRIVER = """
# --- the test's lines: vend through a route, from the emulator, then from a Momento that cannot be reached
import sys

import flask

from momento_tvm import EMULATOR_API_KEY, MomentoSettings, VendingMachine, verified_identity
from momento_tvm.flask import token_blueprint

for endpoint in sys.argv[1:]:
    with VendingMachine("policy.yaml", MomentoSettings(EMULATOR_API_KEY, endpoint), cache_name="chat") as machine:
        app = flask.Flask("driver")
        app.register_blueprint(token_blueprint(machine, lambda: verified_identity("alice", ["members"])))
        print(app.test_client().get("/api/momento/token?topics=room-1").status_code)
"""


def test_the_embedding_docs_logging_snippet_shows_the_cause_of_an_outage(
    venvs: dict[str, Path], policy_folder: Path, emulator_endpoint: str
) -> None:
    (policy_folder / "app.py").write_text(examples(EMBEDDING, "embedding-example")["logging"] + LOGGING_DRIVER)
    with socket.socket() as unreachable:  # bound, never listening: a connection is refused at once
        unreachable.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{unreachable.getsockname()[1]}"
        env = activated_env(venvs["flask"])
        done = subprocess.run(
            [in_venv(venvs["flask"], env, "python"), "app.py", emulator_endpoint, down],
            cwd=policy_folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=SNIPPET_TIMEOUT_SECONDS,
            check=False,
        )
    assert (done.returncode, done.stdout.split()) == (0, ["200", "503"]), done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("INFO momento_tvm: token issued") for line in lines), lines
    outage = [line for line in lines if line.startswith("WARNING momento_tvm: upstream unavailable")]
    assert len(outage) == 1, lines
    cause = outage[0].removeprefix("WARNING momento_tvm: upstream unavailable").removeprefix(":").strip()
    assert cause.startswith(("Momento did not mint a token (", "cannot reach Momento (")), outage
    assert EMULATOR_API_KEY not in done.stderr


def test_the_embedding_docs_client_snippet_uses_a_token_against_the_emulator(
    policy_folder: Path, emulator_endpoint: str
) -> None:
    snippet = examples(EMBEDDING, "embedding-example")["client"]
    name, _, _ = run_comment(snippet)
    (policy_folder / name).write_text(snippet)
    topic, other = room(), room()
    port = int(emulator_endpoint.rsplit(":", 1)[1])
    with VendingMachine(
        str(policy_folder / "policy.yaml"), MomentoSettings.emulator(port), cache_name=CACHE
    ) as machine:
        answer = machine.vend(verified_identity("alice", ["members"]), TokenRequest(topics=(topic,))).to_json()

    def publish(to: str) -> str:
        done = subprocess.run(
            [sys.executable, name, to],
            cwd=policy_folder,
            input=json.dumps(answer),
            capture_output=True,
            text=True,
            timeout=SNIPPET_TIMEOUT_SECONDS,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert publish(topic) == "published\n"
    assert "PERMISSION_ERROR" in publish(other)
