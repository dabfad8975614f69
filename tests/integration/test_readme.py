"""The README's commands, run as written.

Every fenced block in README.md names its language, and every shell block carries a marker on the line just above
its fence: `<!-- readme: run -->` (this test runs it) or `<!-- readme: skip (REASON) -->` (it needs AWS, or it is the
test suite itself...: the reason names what tests it instead). The tier policy example is marked
`<!-- readme: check-policy -->` and goes through `python -m momento_tvm check-policy`; the Python examples are
`<!-- readme-example: NAME -->` blocks, run by tests/integration/test_readme_embedding.py.

How a run block runs: from the repository root, with the dev venv's bin first on PATH (what activating it does), in
an environment free of make's and the project's own settings.
- A long-running command (`make dev ...`, `make embedded`, `make emulator`) is started with its exact command line,
  every port variable 0 (free ports: runs never collide), as the leader of its own process group like a terminal's
  foreground job; it is checked at its ready block (the emulator: at its ready line), then stopped with SIGINT
  (Ctrl-C) and must leave no process, no bound port and no traceback behind.
- A block that talks to the stack (a 127.0.0.1 URL, `devstack token`) runs while the nearest long-running block above
  it is up, its default ports replaced by the ones the stack got, and the port variables set to them.
- Any other run block runs on its own. Each runs under `bash -e -o pipefail`, with a curl that fails on an HTTP
  error status (curl itself exits 0 on a 401).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from momento import CacheClient, Configurations, CredentialProvider
from momento.responses import ListCaches

from momento_emulator import DEFAULT_API_KEY
from tests.integration.test_make_dev import cmdline, marked, port_is_free

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV_BIN = ROOT / ".venv" / "bin"

# Each port variable and its default, as the README's commands show them.
DEFAULT_PORTS = {
    "API_PORT": 3000,
    "SITE_PORT": 8000,
    "MOMENTO_GRPC_PORT": 8080,
    "MOMENTO_WEB_PORT": 8081,
    "MOTO_PORT": 5000,
    "EMBEDDED_PORT": 3100,
}
LONG_RUNNING = ("make dev", "make embedded", "make emulator")
# What the user's shell would not have: make's own variables (when this runs under `make test`) and the settings the
# Makefile and the stacks read, which would change what a README command does.
NOT_INHERITED = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHONHOME", "AUTH", "STACK", "REGION"} | {
    "TOKEN_TTL_SECONDS",
    "ALLOWED_ORIGINS",
    "BENCH_ARGS",
    "SOAK_ARGS",
    *DEFAULT_PORTS,
}
# Files a README command edits (and a later one puts back); restored after each case all the same.
EDITED_FILES = (ROOT / "local" / "demo_users.json",)
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
CURL_FAILS_ON_HTTP_ERRORS = 'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }\n'
READY_TIMEOUT = 120.0  # warm: about 2 s; a stale install stamp (a changed lock file) reinstalls first
SHORT_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

MARKER = re.compile(r"<!-- (readme|readme-example): ?(.*?) -->")
FENCE = re.compile(r"```(\S*)")


# ---------------------------------------------------------------------- the README's blocks
@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    marker: str | None  # "run", "skip (...)", "check-policy", "example: NAME", or None
    code: str

    @property
    def long_running(self) -> bool:
        """`make dev ...` and the like, after any `VARIABLE=value` settings."""
        if self.language not in SHELL_LANGUAGES or not self.commands:
            return False
        return re.sub(r"^(\w+=\S*\s+)*", "", self.commands[0]).startswith(LONG_RUNNING)

    @property
    def commands(self) -> list[str]:
        """Its command lines, comments and blank lines left out."""
        return [line for line in self.code.splitlines() if line.strip() and not line.lstrip().startswith("#")]

    @property
    def needs_stack(self) -> bool:
        return bool(re.search(r"127\.0\.0\.1:\d+|devstack token", self.code))

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.commands[0].split('#')[0].strip() if self.commands else self.language})"


def readme_blocks() -> list[Block]:
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.fullmatch(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i] == "```")
        above = MARKER.fullmatch(lines[index - 1]) if index else None
        marker = None if above is None else above[2] if above[1] == "readme" else f"example: {above[2]}"
        blocks.append(Block(index + 1, opening[1], marker, "\n".join(lines[index + 1 : end]) + "\n"))
        index = end + 1
    return blocks


@dataclass
class Case:
    """One test case: a long-running block with the blocks run against it, or one block on its own."""

    block: Block
    against: list[Block] = field(default_factory=list)
    output: Block | None = None  # the output the README shows for it (<!-- readme: output of COMMAND -->)


def command_of(block: Block) -> str:
    """Its first command line, without the comment."""
    return block.commands[0].split("#")[0].strip()


def run_cases() -> list[Case]:
    cases: list[Case] = []
    stack: Case | None = None
    for block in readme_blocks():
        if block.marker and block.marker.startswith("output of "):
            shown = block.marker.removeprefix("output of ")
            assert stack is not None and command_of(stack.block) == shown, f"{block}: no `{shown}` block just above"
            stack.output = block
        if block.marker != "run":
            continue
        if block.long_running:
            stack = Case(block)
            cases.append(stack)
        elif block.needs_stack:
            assert stack is not None, f"{block} talks to a stack, but no long-running block starts one above it"
            stack.against.append(block)
        else:
            cases.append(Case(block))
    return cases


def test_every_block_is_marked() -> None:
    """A new block cannot slip past this test: shell blocks say run or skip (with a reason), YAML is the policy."""
    problems = []
    for block in readme_blocks():
        if not block.language:
            problems.append(f"{block}: name the fence's language (```sh, ```text for output)")
        elif block.language in SHELL_LANGUAGES:
            if block.marker is None or not re.fullmatch(r"run|skip \(.+\)", block.marker):
                problems.append(f"{block}: mark it <!-- readme: run --> or <!-- readme: skip (REASON) -->")
            elif block.marker == "run" and block.long_running and len(block.commands) != 1:
                problems.append(f"{block}: a long-running command is a block of its own")
        elif block.language == "text" and block.marker is not None and not block.marker.startswith("output of "):
            problems.append(f"{block}: an output block is unmarked or <!-- readme: output of COMMAND -->")
        elif block.language == "yaml" and block.marker != "check-policy":
            problems.append(f"{block}: a policy example is marked <!-- readme: check-policy -->")
        elif block.language == "python" and not (block.marker or "").startswith(("example: ", "skip (")):
            problems.append(f"{block}: mark it <!-- readme-example: NAME --> (and test it) or skip it with a reason")
    assert not problems, "\n".join(problems)


def test_the_readme_runs_what_the_issue_names() -> None:
    """The commands a newcomer meets first are run, not skipped."""
    run = {command_of(block) for case in run_cases() for block in [case.block, *case.against]}
    for command in ("make dev", "make dev AUTH=Open", "make embedded", "make emulator", "make help"):
        assert command in run, (command, sorted(run))
    code = "".join(block.code for block in readme_blocks() if block.marker == "run")
    for tool in ("python -m tvm_users", "python -m momento_tvm check-policy", "python -m devstack token", "curl "):
        assert tool in code, tool


def anchors(markdown: Path) -> set[str]:
    """The heading anchors GitHub makes: lower case, punctuation dropped, spaces as hyphens."""
    prose = re.sub(r"^```.*?^```", "", markdown.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", prose, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_the_readmes_links_lead_somewhere() -> None:
    """Every relative link (docs/deploy.md, CONTRIBUTING.md, #the-tier-policy...) names a file and heading there."""
    text = README.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = ROOT / path if path else README
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert not broken, broken


# ---------------------------------------------------------------------- the policy example
def test_the_policy_example_passes_check_policy(tmp_path: Path) -> None:
    examples = [block for block in readme_blocks() if block.marker == "check-policy"]
    assert len(examples) == 1
    policy = tmp_path / "policy.yaml"
    policy.write_text(examples[0].code)
    checked = subprocess.run(
        ["python", "-m", "momento_tvm", "check-policy", str(policy)],
        env=user_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=SHORT_TIMEOUT,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"{policy}: ok ("), checked.stdout


# ---------------------------------------------------------------------- make help
def phony_targets() -> list[str]:
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    declared = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert declared
    return [target for target in declared[1].split() if not target.startswith("install")]


def help_entries() -> dict[str, str]:
    """`make help`'s text per target: its `  make TARGET` line and the indented lines under it."""
    shown = subprocess.run(
        ["make", "help"], cwd=ROOT, env=user_env(), capture_output=True, text=True, check=True, timeout=SHORT_TIMEOUT
    ).stdout
    entries: dict[str, str] = {}
    current = None
    for line in shown.splitlines():
        if entry := re.match(r"  make (\S+)\s", line + " "):
            current = entry[1]
            entries[current] = line
        elif current and line.startswith("    "):
            entries[current] += "\n" + line
        else:
            current = None
    return entries


def test_make_help_lists_every_target_a_user_runs() -> None:
    entries = help_entries()
    missing = [target for target in phony_targets() if target not in entries]
    assert not missing, f"make help has no line for {missing}"
    assert not set(entries) - set(phony_targets()), "make help lists a target that is not .PHONY"


def test_make_help_names_each_targets_variables() -> None:
    """The settings a recipe reads from the command line (not defined in the Makefile with :=), and the ports each
    stack reads from the environment."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    internal = set(re.findall(r"^([A-Z_]+) :=", makefile, re.MULTILINE))
    entries = help_entries()
    for target in phony_targets():
        recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", makefile, re.MULTILINE)
        assert recipe, target
        read = set(re.findall(r"\$\(([A-Z_]+)\)", recipe[1])) - internal - {"PYTHON"}
        assert all(variable in entries[target] for variable in read), (target, read, entries[target])
    ports = {
        "dev": ["AUTH", *(v for v in DEFAULT_PORTS if v != "EMBEDDED_PORT"), "TOKEN_TTL_SECONDS", "ALLOWED_ORIGINS"],
        "embedded": ["EMBEDDED_PORT", "MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT", "TOKEN_TTL_SECONDS"],
        "sam-api": ["AUTH", "API_PORT", "MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT", "MOTO_PORT"],
        "emulator": ["MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT"],
    }
    for target, variables in ports.items():
        assert all(variable in entries[target] for variable in variables), (target, entries[target])


# ---------------------------------------------------------------------- running the blocks
def user_env(ports: dict[str, int] | None = None, mark: str = "") -> dict[str, str]:
    """A user's shell with the dev venv activated (its bin first on PATH), the ports given (0: a free one)."""
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    env.update({name: str(port) for name, port in (ports or {}).items()})
    if mark:
        env["DEVSTACK_TEST_MARK"] = mark  # finds every process it starts (tests/integration/test_make_dev.py)
    return env


@dataclass
class Started:
    """A long-running README command, started as a terminal would: its output, and the ports its ready block shows."""

    process: subprocess.Popen[str]
    stderr: IO[str]
    mark: str
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def log(self) -> str:
        self.stderr.seek(0)
        return "".join(self.output) + self.stderr.read()

    def ready_lines(self) -> set[str]:
        return {shape(line) for line in self.output}

    def wait_for_ready(self) -> dict[str, int]:
        """The ports, from the ready block's port table (or the emulator's JSON ready line)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if "Press Ctrl-C to stop" in line:
                block = "".join(self.output)
                return {name: int(port) for name, port in re.findall(r"^ +([A-Z_]+_PORT) +(\d+) ", block, re.M)}
            with contextlib.suppress(ValueError):
                ready = json.loads(line)
                if isinstance(ready, dict) and "grpc_port" in ready:
                    return {"MOMENTO_GRPC_PORT": ready["grpc_port"], "MOMENTO_WEB_PORT": ready["web_port"]}
        raise AssertionError(f"no ready block in {READY_TIMEOUT:.0f} s (exit {self.process.poll()}):\n{self.log()}")


@contextlib.contextmanager
def started(command: str) -> Iterator[Started]:
    mark = uuid.uuid4().hex
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=ROOT,
            env=user_env(dict.fromkeys(DEFAULT_PORTS, 0), mark),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        run = Started(process, stderr, mark)
        reader = threading.Thread(target=run.read_stdout, daemon=True)
        reader.start()
        try:
            yield run
        finally:  # a failed test: leave nothing behind
            for pid in marked(mark):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
            reader.join(timeout=5)
            if process.stdout is not None:
                process.stdout.close()


def run_short(block: Block, ports: dict[str, int] | None = None) -> None:
    script = block.code
    for variable, port in (ports or {}).items():
        script = script.replace(f"127.0.0.1:{DEFAULT_PORTS[variable]}", f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", CURL_FAILS_ON_HTTP_ERRORS + script],
        cwd=ROOT,
        env=user_env(ports),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=SHORT_TIMEOUT,
    )
    print(f"--- {block}\n{result.stdout}{result.stderr}")
    assert result.returncode == 0, f"{block} failed ({result.returncode}):\n{script}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr


def shape(line: str) -> str:
    """A line with its numbers (ports, timings) and runs of spaces made alike."""
    return " ".join(re.sub(r"\d+(\.\d+)?", "N", line).split())


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        return True
    return False


def emulator_answers(port: int) -> None:
    """The real SDK against `make emulator`, with its documented development key."""
    provider = CredentialProvider(DEFAULT_API_KEY, "127.0.0.1", "127.0.0.1", "127.0.0.1", port)
    with CacheClient(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        assert isinstance(client.list_caches(), ListCaches.Success)


@contextlib.contextmanager
def files_restored() -> Iterator[None]:
    saved = {path: path.read_bytes() for path in EDITED_FILES}
    try:
        yield
        for path, content in saved.items():  # the README's own commands put back what they changed
            assert json.loads(path.read_bytes()) == json.loads(content), f"the README's commands left {path} changed"
    finally:
        for path, content in saved.items():
            path.write_bytes(content)


@pytest.mark.parametrize("case", run_cases(), ids=lambda case: str(case.block))
def test_the_readme_block_runs_as_written(case: Case) -> None:
    with files_restored():
        if not case.block.long_running:
            run_short(case.block)
            return
        command = case.block.commands[0]
        begun = time.perf_counter()
        with started(command) as run:
            ports = run.wait_for_ready()
            print(f"{command!r}: ready in {time.perf_counter() - begun:.1f} s")
            assert ports, run.log()
            # Asked for 0, a port variable that was honoured gives an ephemeral port, never the default.
            assert all(port != DEFAULT_PORTS[variable] for variable, port in ports.items()), (ports, run.log())
            assert all(accepts(port) for port in ports.values()), (ports, run.log())
            if command.startswith("make emulator"):
                emulator_answers(ports["MOMENTO_GRPC_PORT"])
            if case.output is not None:  # what the README says you will see, but the numbers and the elisions
                shown = [shape(line) for line in case.output.code.splitlines() if shape(line) not in ("", "...")]
                absent = [line for line in shown if line not in run.ready_lines()]
                assert not absent, f"{case.output} shows lines `{command}` does not print: {absent}\n{run.log()}"
            for block in case.against:
                run_short(block, ports)

            family = marked(run.mark)
            os.killpg(run.process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
            returncode = run.process.wait(timeout=STOP_TIMEOUT)
            deadline = time.monotonic() + 10
            while (left := marked(run.mark)) and time.monotonic() < deadline:
                time.sleep(0.05)
            log = run.log()
            assert not left, f"left behind: {[cmdline(pid) for pid in left]}\n{log}"
            assert len(family) >= 2, family  # bash or make, and what it started
            # make dies of the SIGINT it gets itself (a shell shows status 130) whatever its recipe did; the recipe's
            # own failure would be make's "Error N".
            assert returncode in (0, -signal.SIGINT), (returncode, log)
            assert not re.search(r"make: \*\*\* .* Error \d+", log), log
            assert "Traceback" not in log, log
            assert all(port_is_free(port) for port in ports.values()), (ports, log)
