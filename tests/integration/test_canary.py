"""The canary (functions/canary), what an operator sees: its one line against the real emulator with the real SDK, a
named one-line failure for each way it breaks, the Lambda handler run in-process (its EMF records, its log line, the
unit it spends in a moto issuance table), and `make canary` run as a user runs it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
from momento_emulator.testing import EmulatorThread
from momento_tvm.limits import InMemoryLimiter
from tests.aws_moto import Moto, create_issuance_table

ROOT = Path(__file__).resolve().parents[2]
CANARY_DIR = ROOT / "functions" / "canary"


def _canary_check() -> ModuleType:
    """functions/canary/canary_check.py, as the module name its app.py imports (`canary_check`), without putting the
    function's folder on sys.path (whose `app` would shadow the authorizer's for every later test)."""
    spec = importlib.util.spec_from_file_location("canary_check", CANARY_DIR / "canary_check.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules["canary_check"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_check = _canary_check()
CanaryFailure, CanaryTarget, run_canary = _check.CanaryFailure, _check.CanaryTarget, _check.run_canary

CACHE = "default-cache"  # make dev's
NAMESPACE = "MomentoTokenVending"  # the template's POWERTOOLS_METRICS_NAMESPACE (Globals)
SERVICE = "token-vending"  # the template's POWERTOOLS_SERVICE_NAME (Globals)
OK_LINE = re.compile(r"canary OK: a message round-tripped on topic tvm-canary in cache default-cache in \d+ ms")


@pytest.fixture(scope="module")
def canary_emulator() -> Iterator[EmulatorThread]:
    """An emulator holding make dev's cache."""
    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as thread:
        yield thread


def endpoint(thread: EmulatorThread) -> str:
    return f"127.0.0.1:{thread.grpc_port}"


def failure_line(target: CanaryTarget) -> str:
    with pytest.raises(CanaryFailure) as failed:
        run_canary(target, InMemoryLimiter())
    line = failed.value.line
    assert "\n" not in line and DEFAULT_API_KEY not in line
    assert_documented(line)
    return line


# ------------------------------------------------------------------------------------------------- what the docs say
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
LOCAL_DOC = ROOT / "docs" / "local-stack.md"


def fenced_after(path: Path, marker: str) -> str:
    """The fenced block just after `<!-- MARKER... -->` on the page."""
    text = path.read_text(encoding="utf-8")
    after = text[text.index(f"<!-- {marker}") :].split("\n", 1)[1]
    assert after.startswith("```"), f"{path.name}: no block after {marker}"
    return after.split("\n", 1)[1].split("```", 1)[0]


def as_pattern(line: str) -> re.Pattern[str]:
    """A documented line as a pattern: its numbers and its host:port or host name any such."""
    pattern = re.escape(line)
    pattern = re.sub(r"\\ at\\ [^ ]+\\ \\\(", r"\\ at\\ [^ ]+\\ \\(", pattern)
    return re.compile(re.sub(r"\d+", r"\\d+", pattern))


def documented_lines() -> dict[str, re.Pattern[str]]:
    """docs/deploy.md's sample lines, by their code ('ok' for the pass)."""
    lines = fenced_after(DEPLOY_DOC, "canary-lines").strip().splitlines()
    found = {}
    for line in lines:
        code = "ok" if line.startswith("canary OK") else re.match(r"canary FAILED \((\w+)\)", line)[1]  # type: ignore[index]
        found[code] = as_pattern(line.replace("default-cache", "CACHE").replace("CACHE", "default-cache"))
    return found


def assert_documented(line: str) -> None:
    """`line` is one docs/deploy.md shows (numbers, endpoints and the cache name aside)."""
    code = "ok" if line.startswith("canary OK") else line.split("(", 1)[1].split(")", 1)[0]
    pattern = documented_lines().get(code)
    assert pattern is not None, f"docs/deploy.md shows no line for {code}"
    normalized = re.sub(r"cache [\w-]+ ", "cache default-cache ", line)
    assert pattern.fullmatch(normalized), (line, pattern.pattern)


def test_deploy_docs_list_exactly_the_canarys_metrics() -> None:
    spec = importlib.util.spec_from_file_location("canary_app_declarations", CANARY_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    table = text[text.index("<!-- canary-metrics:") :].split("\n\n", 1)[0]
    documented = []
    for row in (line for line in table.splitlines() if line.startswith("| `")):
        name, unit, sets = (cell.strip() for cell in row.strip("|").split("|")[:3])
        dimension_sets = tuple(tuple(re.findall(r"`([^`]+)`", part)) for part in sets.split(";"))
        documented.append((name.strip("`"), unit, dimension_sets))
    assert documented == [(m.name, m.unit.value, m.dimension_sets) for m in module.METRICS]


def test_the_deploy_page_names_every_failure_the_canary_can_report() -> None:
    """Each code the canary's code can raise appears in docs/deploy.md's canary section, `quoted`."""
    source = "".join((CANARY_DIR / name).read_text(encoding="utf-8") for name in ("canary_check.py", "app.py"))
    codes = set(re.findall(r'CanaryFailure\(\s*"(\w+)"', source))
    codes |= set(re.findall(r'\(\s*"(\w+)",\s*"', source.split("_SDK_FAILURES", 1)[1].split("\n}\n", 1)[0]))
    codes |= {"subscribe_denied", "publish_denied", "topics_failed"}  # _SDK_FAILURES' {step}_denied, its fallback
    codes.discard("step")
    assert {"wrong_key", "momento_unreachable", "cache_missing", "not_received", "internal_error"} <= codes
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    section = text[text.index("### The canary") :].split("\n## ", 1)[0]
    assert sorted(code for code in codes if f"`{code}`" not in section and f"({code})" not in section) == []


def test_every_documented_line_names_a_distinct_failure() -> None:
    lines = fenced_after(DEPLOY_DOC, "canary-lines").strip().splitlines()
    assert len(documented_lines()) == len(lines)
    assert {"ok", "wrong_key", "momento_unreachable", "cache_missing", "subscribe_denied", "not_received"} <= set(
        documented_lines()
    )


# ---------------------------------------------------------------------------------------------- the check itself
def test_the_canary_passes_against_the_emulator(canary_emulator: EmulatorThread) -> None:
    passed = run_canary(CanaryTarget(DEFAULT_API_KEY, endpoint(canary_emulator), CACHE), InMemoryLimiter())
    assert OK_LINE.fullmatch(passed.line), passed.line
    assert_documented(passed.line)
    assert passed.round_trip_ms > 0


def test_a_wrong_key_is_named(canary_emulator: EmulatorThread) -> None:
    line = failure_line(CanaryTarget("not-the-deployment-key", endpoint(canary_emulator), CACHE))
    assert line == (
        "canary FAILED (wrong_key): Momento refused the API key (UNAUTHENTICATED): the secret holds a wrong or "
        "revoked key"
    )


def test_a_missing_cache_is_named(canary_emulator: EmulatorThread) -> None:
    line = failure_line(CanaryTarget(DEFAULT_API_KEY, endpoint(canary_emulator), "no-such-cache"))
    assert line == "canary FAILED (cache_missing): the cache no-such-cache does not exist (NOT_FOUND)"


def test_a_token_without_subscribe_is_named(canary_emulator: EmulatorThread) -> None:
    target = CanaryTarget(DEFAULT_API_KEY, endpoint(canary_emulator), CACHE, role="publish_only")
    assert failure_line(target) == (
        "canary FAILED (subscribe_denied): the canary's token may not subscribe on topic tvm-canary (PERMISSION_DENIED)"
    )


def test_a_token_without_publish_is_named(canary_emulator: EmulatorThread, caplog: pytest.LogCaptureFixture) -> None:
    target = CanaryTarget(DEFAULT_API_KEY, endpoint(canary_emulator), CACHE, role="subscribe_only")
    assert failure_line(target) == (
        "canary FAILED (publish_denied): the canary's token may not publish on topic tvm-canary (PERMISSION_DENIED)"
    )
    # Only the canary's own line: the SDK's multi-line warning about the failed call is silenced.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("momentosdk")] == []


def test_momento_unreachable_is_named() -> None:
    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as thread:
        stopped = endpoint(thread)
    line = failure_line(CanaryTarget(DEFAULT_API_KEY, stopped, CACHE))
    assert line == f"canary FAILED (momento_unreachable): cannot reach Momento at {stopped} (UNAVAILABLE)"


@contextlib.contextmanager
def broker_publishing(thread: EmulatorThread, change: Callable[[Any], Any]) -> Iterator[None]:
    """The emulator's broker with its publish replaced by `change(original)`, for the block."""
    original = thread.call(lambda core: core.broker.publish)
    thread.call(lambda core: setattr(core.broker, "publish", change(original)))
    try:
        yield
    finally:
        thread.call(lambda core: setattr(core.broker, "publish", original))


@pytest.mark.parametrize("fault", ["lost", "altered"])
def test_a_message_that_does_not_come_back_intact_is_named(canary_emulator: EmulatorThread, fault: str) -> None:
    """Topics accepts the publish but delivers nothing (lost), or delivers another payload (altered): both are the
    message not received in time, since only this run's nonce counts."""

    def change(original: Any) -> Any:
        def publish(cache: str, topic: str, publisher_id: str, *, text: Any = None, binary: Any = None) -> Any:
            if fault == "lost":
                return original("elsewhere", topic, publisher_id, text=text, binary=binary)
            return original(cache, topic, publisher_id, text=f"{text} (altered)", binary=binary)

        return publish

    target = CanaryTarget(DEFAULT_API_KEY, endpoint(canary_emulator), CACHE, receive_seconds=1.0)
    with broker_publishing(canary_emulator, change):
        line = failure_line(target)
    assert line == (
        "canary FAILED (not_received): the message published on topic tvm-canary did not come back within 1 s"
    )


def test_the_canary_spends_from_its_own_bucket_and_stops_when_it_is_empty(canary_emulator: EmulatorThread) -> None:
    limiter = InMemoryLimiter()
    target = CanaryTarget(DEFAULT_API_KEY, endpoint(canary_emulator), CACHE)
    for _ in range(3):  # CANARY_LIMIT's burst
        run_canary(target, limiter)
    with pytest.raises(CanaryFailure) as failed:
        run_canary(target, limiter)
    assert_documented(failed.value.line)
    assert re.fullmatch(
        r"canary FAILED \(rate_limited\): the canary's own issuance limit is spent: run again in \d+ s",
        failed.value.line,
    )


# ------------------------------------------------------------------------------------------- the Lambda, in-process
@pytest.fixture
def canary_function(moto: Moto, canary_emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """functions/canary/app.py imported as Lambda would, with the template's environment: the key's secret and the
    issuance table in moto, Momento the emulator."""
    secret, table = f"canary-key-{uuid.uuid4().hex[:8]}", f"tvm-issuance-{uuid.uuid4().hex[:8]}"
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SECRETS_MANAGER_ENDPOINT": moto.url,
        "DYNAMODB_ENDPOINT": moto.url,
        "MOMENTO_API_KEY_SECRET": secret,
        "MOMENTO_ENDPOINT": endpoint(canary_emulator),
        "MOMENTO_EMULATOR_ENDPOINT": "",
        "CACHE_NAME": CACHE,
        "LIMITS_TABLE": table,
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    moto.client("secretsmanager").create_secret(Name=secret, SecretString=DEFAULT_API_KEY)
    create_issuance_table(moto.client("dynamodb"), table)
    spec = importlib.util.spec_from_file_location("canary_app", CANARY_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stream = io.StringIO()
    previous = module.logger.registered_handler.setStream(stream)
    yield module, stream, moto, secret, table
    module.logger.registered_handler.setStream(previous)


def emf_records(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{") and '"_aws"' in line]


def checked(function: ModuleType, record: dict[str, Any]) -> tuple[str, float]:
    """(metric name, value) of one EMF record, after requiring it to be exactly one declared metric."""
    declared = {metric.name: metric for metric in function.METRICS}
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    [definition] = directive["Metrics"]
    metric = declared[definition["Name"]]
    assert definition == {"Name": metric.name, "Unit": metric.unit.value}
    assert directive["Dimensions"] == [list(names) for names in metric.dimension_sets] == [["service"]]
    assert record["service"] == SERVICE
    assert set(record) == {"_aws", "service", metric.name}
    [value] = record[metric.name] if isinstance(record[metric.name], list) else [record[metric.name]]
    return metric.name, value


def test_the_handler_reports_a_pass_in_one_log_line_and_two_metrics(
    canary_function: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    function, logs, moto, _, table = canary_function
    answer = function.handler({"source": "aws.scheduler"}, None)
    assert answer["ok"] is True and answer["code"] == "ok"
    assert OK_LINE.fullmatch(answer["line"])
    metrics = dict(checked(function, record) for record in emf_records(capsys.readouterr().out))
    assert set(metrics) == {"CanarySuccess", "CanaryRoundTripLatency"}
    assert metrics["CanarySuccess"] == 1.0
    assert metrics["CanaryRoundTripLatency"] == answer["roundTripMs"] > 0
    [line] = [json.loads(text) for text in logs.getvalue().splitlines()]
    assert line["message"] == answer["line"] and line["level"] == "INFO" and line["canary"] == "ok"
    # One unit of its own bucket in the issuance table, as the vending function's limiter keeps it.
    item = moto.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "limit#canary"}, "sk": {"S": "bucket"}})
    assert "Item" in item


def test_the_handler_reports_a_wrong_key_as_one_line_and_success_zero(
    canary_function: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    function, logs, moto, secret, _ = canary_function
    moto.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="a-wrong-key")
    answer = function.handler({}, None)
    expected = (
        "canary FAILED (wrong_key): Momento refused the API key (UNAUTHENTICATED): the secret holds a wrong or "
        "revoked key"
    )
    assert answer == {"ok": False, "code": "wrong_key", "line": expected}
    out = capsys.readouterr().out
    assert [checked(function, record) for record in emf_records(out)] == [("CanarySuccess", 0.0)]
    [line] = [json.loads(text) for text in logs.getvalue().splitlines()]
    assert (line["message"], line["level"], line["reason"]) == (expected, "ERROR", "wrong_key")
    assert "a-wrong-key" not in out + logs.getvalue()


def test_the_handler_names_a_key_it_cannot_read(canary_function: Any) -> None:
    function, _, _, _, _ = canary_function
    os.environ["MOMENTO_API_KEY_SECRET"] = "no-such-secret"  # restored by the fixture's monkeypatch
    answer = function.handler({}, None)
    assert_documented(answer["line"])
    assert answer["line"] == (
        "canary FAILED (key_unavailable): cannot read the Momento API key from its secret (ResourceNotFoundException)"
    )


def test_the_handler_names_an_issuance_table_that_does_not_answer_and_does_not_mint(canary_function: Any) -> None:
    function, _, _, _, _ = canary_function
    os.environ["LIMITS_TABLE"] = "no-such-table"  # restored by the fixture's monkeypatch
    answer = function.handler({}, None)
    assert answer["line"] == (
        "canary FAILED (store_unavailable): the issuance table did not answer (ResourceNotFoundException)"
    )


def test_the_handler_answers_the_deploy_check(canary_function: Any) -> None:
    function, _, _, _, _ = canary_function
    assert function.handler({"deployCheck": "import"}, None) == {"deployCheck": "ok"}


# ------------------------------------------------------------------------------------------------- make canary
def make_canary(port: int | None, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`make canary ARGUMENTS` as a user runs it, MOMENTO_GRPC_PORT in the environment when `port` is given."""
    ignored = {"CACHE_NAME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MOMENTO_GRPC_PORT", "MOMENTO_EMULATOR_API_KEY"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    if port is not None:
        env["MOMENTO_GRPC_PORT"] = str(port)
    return subprocess.run(
        ["make", "--no-print-directory", "canary", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_make_canary_passes_against_make_devs_emulator(canary_emulator: EmulatorThread) -> None:
    ran = make_canary(canary_emulator.grpc_port)
    assert ran.returncode == 0, ran.stderr
    assert OK_LINE.fullmatch(ran.stdout.strip().splitlines()[-1]), ran.stdout


def test_make_canary_fails_in_one_line_when_the_emulator_is_down() -> None:
    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as thread:
        port = thread.grpc_port
    ran = make_canary(port)
    assert ran.returncode != 0
    assert ran.stdout.strip().splitlines()[-1] == (
        f"canary FAILED (momento_unreachable): cannot reach Momento at 127.0.0.1:{port} (UNAVAILABLE)"
    )
    assert "Traceback" not in ran.stdout + ran.stderr


def test_the_local_stack_page_shows_what_make_canary_prints(canary_emulator: EmulatorThread) -> None:
    """docs/local-stack.md's two runs, as written: the emulator's port for make dev's 8080, a stopped one for 8090."""
    block = fenced_after(LOCAL_DOC, "canary-local").strip().splitlines()
    commands = [(i, line[2:]) for i, line in enumerate(block) if line.startswith("$ ")]
    assert [command.split("#")[0].split() for _, command in commands] == [
        ["make", "canary"],
        ["make", "canary", "MOMENTO_GRPC_PORT=8090"],
    ]
    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as thread:
        stopped = thread.grpc_port
    ran = [make_canary(canary_emulator.grpc_port), make_canary(None, f"MOMENTO_GRPC_PORT={stopped}")]
    assert [r.returncode for r in ran] == [0, 2]  # make's own status for a recipe that failed (the canary's 1)
    for (index, _), result in zip(commands, ran, strict=True):
        shown = block[index + 1].replace("8090", str(stopped))
        assert as_pattern(shown).fullmatch(result.stdout.strip().splitlines()[-1]), (shown, result.stdout)
        assert "Traceback" not in result.stdout + result.stderr
