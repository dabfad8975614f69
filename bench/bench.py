"""`make bench`: one table, every row beside its floor measured in the same run, and the ratio.

Not a test: it prints figures and never fails on a number (it exits 1 only if a row could not run). Everything binds
127.0.0.1 on free ports. Rows (`--rows` picks some, by key):

- cold:       the vending function in a fresh process until its first 200 (secret read from moto, token minted by
              the emulator), against `python -c pass` and `python -c "import boto3, momento"`, medians of N;
- authcold:   the authorizer in a fresh process until its first Allow (users store read from moto, one scrypt
              check), against `python -c "import boto3"`;
              both also Lambda-like (bench/faithful.py): `sam build`'s output on Python 3.13, a fresh read-only copy
              per run, no bytecode but what the build ships, PYTHONDONTWRITEBYTECODE=1, against
              `python3.13 -c "import boto3, momento"` (or "import boto3") over a fresh copy; and the same with every
              module's unchecked-hash .pyc;
- warm:       the vending handler in-process, p50/p99 over many calls, against the raw mint: one
              `AuthClient.generate_disposable_token` call of the momento SDK (same scope, same emulator);
- limiter:    the issuance table's two questions against moto's DynamoDB, each against one GetItem on the same
              client: the limiter's decision (DynamoDbLimiter.take: its conditional writes) and the revocations'
              check (DynamoDbRevocations.check: one BatchGetItem of three keys); then the warm handler with the
              DynamoDB limiter alone, and with revocations + limiter (LIMITS_TABLE set: the production path), each
              against the same handler with no store at all, and the two against each other (the check's share);
- api:        `GET /token` through the local API (devstack Stack, LambdaAuthorizer, demo users) at concurrency
              1, 8, 32, against the gateway's own 404 at the same concurrency;
- topics:     Topics fan-out 1/10/100 subscribers (bench/topic_latency.py, raw grpc.aio client) against its floor;
- page:       headless chromium (Debian's, via Playwright): page load to the first received message, against
              loading the same page alone;
- cost:       USD per million tokens on AWS from the measured durations (see COST_* below), beside a REST API +
              Node design like Momento's (its durations are assumptions, not measured here).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(1, str(ROOT))  # the tests' helpers (tests.aws_moto, tests.sdk_scope, tests.e2e), as pytest finds them
from timing import load_vending_handler, measure, percentile  # noqa: E402  (a sibling module; bench/ is not a package)

from devstack.policies import policy_with_limits  # noqa: E402

ROWS = ("cold", "authcold", "warm", "limiter", "api", "topics", "page", "cost")
ISSUANCE_TABLE = "bench-issuance"
# The limiter rows' limit: far above what they take (1,000 at once, 100 a second back), so every take is allowed and
# the figure is the decision's cost, not a 429's.
GENEROUS_LIMITS = {"burst": 1000, "refill_seconds": 0.01}
CACHE = "default-cache"
ALICE = "Basic " + base64.b64encode(b"alice:alice-password").decode()
ORIGIN = "http://127.0.0.1:8000"

# ---- cost constants: AWS list prices, us-east-1, as published on the pages below and read by the author for
# 2025-06 (aws.amazon.com/lambda/pricing, /api-gateway/pricing, /secrets-manager/pricing). Check them before quoting.
PRICES_DATE = "2025-06, us-east-1 list prices (aws.amazon.com/{lambda,api-gateway,secrets-manager}/pricing)"
LAMBDA_ARM64_GB_S = 0.0000133334  # USD per GB-second, arm64, first tier
LAMBDA_REQUEST = 0.20 / 1e6  # USD per request
HTTP_API_REQUEST = 1.00 / 1e6  # USD per request, HTTP API, first 300 million a month
REST_API_REQUEST = 3.50 / 1e6  # USD per request, REST API, first 333 million a month
SECRETS_MANAGER_CALL = 0.05 / 1e4  # USD per API call (0.05 per 10,000)
SECRET_CACHE_S = 300  # the vending function caches its key for 300 s: at most one read per container per 300 s
MEMORY_MB = 256
# Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU (AWS Lambda docs, "Memory and
# computing power"). So a 256 MB function has 256/1769 of a vCPU, and runs CPU-bound code about 1769/256 = 6.9x slower
# than one core of this machine, if this machine's core is as fast as a Lambda vCPU (an assumption, not measured).
SLOWDOWN = 1769 / MEMORY_MB
# Stated assumption: the share of invocations that are cold (Lambda bills the INIT phase of on-demand functions since
# 2025-08-01). A small TVM in front of page loads sees many cold starts; 0.5 is a round guess, not a measurement.
COLD_FRACTION = 0.5
# The REST API + Node design (like Momento's Node TVM). Not measured in this run: assumed from issue 11's side-by-side
# measurement on this machine (Node handler cold start about 1.0x `python -c "import boto3, momento"`, warm about
# 1.07x its raw SDK mint), applied to this run's floors.
NODE_COLD_X_IMPORT_FLOOR = 1.0
NODE_WARM_X_RAW_MINT = 1.07


@dataclass
class Row:
    """One line of the table: a measured figure, its floor from the same run, and the ratio."""

    row: str
    what: str
    value: float
    floor_name: str
    floor: float
    unit: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.floor if self.floor else float("nan")


def _median_wall(argv: list[str], runs: int, cwd: Path, env: dict[str, str], marker: str | None = None) -> list[float]:
    """Wall ms of fresh processes: until `marker` appears on stdout (then the process is reaped), or until exit."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert child.stdout is not None
        elapsed = None
        if marker is not None:
            for line in child.stdout:
                if line.strip() == marker:
                    elapsed = (time.perf_counter() - started) * 1000
                    break
            child.stdout.read()
        code = child.wait()
        if elapsed is None:
            elapsed = (time.perf_counter() - started) * 1000
        if code != 0 or (marker is not None and elapsed is None):
            raise RuntimeError(f"{argv[-1][:60]!r} exited {code}")
        samples.append(elapsed)
    return samples


COLD_CHILD = """
import json, sys
sys.path.insert(0, ".")
import app
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "bench", "256", "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    @staticmethod
    def get_remaining_time_in_millis(): return 10000
response = app.handler(json.load(open(sys.argv[1])), Context())
ok = {check}
print("\\nBENCH-OK" if ok else "\\nBENCH-FAIL " + str(response.get("statusCode")), flush=True)
"""


@contextlib.contextmanager
def backends() -> Iterator[dict[str, Any]]:
    """The emulator and moto in threads, the key and the users store seeded, the functions' template environment."""
    import boto3
    from moto.server import ThreadedMotoServer

    from local_api import LocalApi
    from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
    from momento_emulator.testing import EmulatorThread
    from tvm_users.demo import hashed_store_from_demo_file

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as emulator:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        try:
            host, port = moto.get_host_and_port()
            aws = {
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://{host}:{port}",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
            }
            secrets = boto3.client(
                "secretsmanager",
                endpoint_url=aws["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            key_arn = secrets.create_secret(Name="bench/momento", SecretString=DEFAULT_API_KEY)["ARN"]
            _create_issuance_table(aws["AWS_ENDPOINT_URL_SECRETS_MANAGER"])
            policies = Path(tempfile.mkdtemp(prefix="bench-policy-"))
            users = hashed_store_from_demo_file(ROOT / "local/demo_users.json")
            users_arn = secrets.create_secret(Name="bench/users", SecretString=users)["ARN"]
            api = LocalApi(
                template=ROOT / "template.yaml",
                auth_method="LambdaAuthorizer",
                parameters={
                    "MomentoApiKeySecretArn": key_arn,
                    "MomentoEndpoint": f"127.0.0.1:{emulator.grpc_port}",
                    "CacheName": CACHE,
                    "LogLevel": "WARNING",
                    "AllowedOrigins": ORIGIN,
                },
                resources={"UsersSecret": users_arn},
                env=aws,
            )
            yield {
                "aws": aws,
                "api": api,
                "grpc_port": emulator.grpc_port,
                "api_key": DEFAULT_API_KEY,
                # The rows not about limits measure without them; the limiter rows set theirs.
                "unlimited_policy": policy_with_limits(policies, None, "unlimited.json"),
                "generous_policy": policy_with_limits(policies, GENEROUS_LIMITS, "generous.json"),
            }
        finally:
            moto.stop()


def _create_issuance_table(url: str) -> None:
    """The issuance table in moto, its keys and TTL attribute as the template declares them."""
    import boto3

    from tests.aws_moto import create_issuance_table

    dynamodb = boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
    )
    create_issuance_table(dynamodb, ISSUANCE_TABLE)


def _function_env(env: dict[str, Any], name: str, **extra: str) -> tuple[dict[str, str], Path]:
    """A function's environment as the template gives it, the backends' endpoints, no issuance limit unless `extra`
    says otherwise, and the layers' folders on PYTHONPATH (as Lambda's /opt/python)."""
    function = env["api"].functions[name]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "MOMENTO_"))}
    limits = {"POLICY_FILE": str(env["unlimited_policy"])} if name == "TokenVendingFunction" else {}
    layers = os.pathsep.join(str(layer) for layer in function.layers)
    path = {"PYTHONPATH": os.pathsep.join(filter(None, [layers, base.get("PYTHONPATH", "")]))}
    return {**base, **path, **function.environment, **env["aws"], **limits, **extra}, Path(function.code_uri)


def cold_rows(env: dict[str, Any], runs: int, rows: set[str]) -> list[Row]:
    """Fresh processes, interleaved (floor, function, floor, ...) so a machine's drift hits each alike."""
    py = sys.executable
    out: list[Row] = []
    if "cold" in rows:
        fenv, folder = _function_env(env, "TokenVendingFunction")
        event = str(ROOT / "events/token/get_token_lambda_authorizer.json")
        child = COLD_CHILD.format(check='response["statusCode"] == 200')
        samples: dict[str, list[float]] = {"pass": [], "import": [], "vending": []}
        for _ in range(runs):
            samples["pass"] += _median_wall([py, "-c", "pass"], 1, folder, fenv)
            samples["import"] += _median_wall([py, "-c", "import boto3, momento"], 1, folder, fenv)
            samples["vending"] += _median_wall([py, "-c", child, event], 1, folder, fenv, marker="BENCH-OK")
        med = {k: statistics.median(v) for k, v in samples.items()}
        what = f"vending cold (dev venv py{platform.python_version()[:4]}, source folder)"
        spread = {"min_ms": min(samples["vending"]), "max_ms": max(samples["vending"]), "runs": runs}
        out.append(Row("cold", what, med["vending"], "python -c pass", med["pass"], "ms", spread))
        out.append(Row("cold", what, med["vending"], "python -c 'import boto3, momento'", med["import"], "ms", spread))
    if "authcold" in rows:
        fenv, folder = _function_env(env, "CredentialsAuthorizerFunction")
        event = str(ROOT / "events/authorizer/valid_alice.json")
        child = COLD_CHILD.format(check='response.get("isAuthorized") is True').replace(
            'response.get("statusCode")', "response"
        )
        samples = {"import": [], "authorizer": []}
        for _ in range(runs):
            samples["import"] += _median_wall([py, "-c", "import boto3"], 1, folder, fenv)
            samples["authorizer"] += _median_wall([py, "-c", child, event], 1, folder, fenv, marker="BENCH-OK")
        med = {k: statistics.median(v) for k, v in samples.items()}
        out.append(
            Row(
                "authcold",
                f"authorizer cold (dev venv py{platform.python_version()[:4]}, source folder)",
                med["authorizer"],
                "python -c 'import boto3'",
                med["import"],
                "ms",
                {"min_ms": min(samples["authorizer"]), "max_ms": max(samples["authorizer"]), "runs": runs},
            )
        )
    return out


def faithful_cold_rows(env: dict[str, Any], runs: int, rows: set[str]) -> list[Row]:
    """The functions as Lambda runs them (bench/faithful.py): `sam build`'s output on Python 3.13, a fresh read-only
    copy per run, no __pycache__, PYTHONDONTWRITEBYTECODE=1; the same with unchecked-hash bytecode beside every
    module; against `python3.13 -c "import boto3, momento"` (and "import boto3") over a fresh copy of those packages.
    Every figure is interleaved run by run, as in `cold_rows`."""
    import faithful

    build = faithful.sam_build()
    compiled = faithful.with_bytecode(build)
    floor_site = faithful.floor_packages()
    py = str(faithful.python313())
    version = faithful.python_version(faithful.python313())
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "MOMENTO_"))}
    floor_env = faithful.child_env(base, None)

    def floor(statement: str) -> float:
        with faithful.fresh_copy({"site": floor_site}) as copy:
            sample = _median_wall([py, "-c", statement], 1, copy, {**floor_env, "PYTHONPATH": str(copy / "site")})
            if faithful.pycache_folders(copy):
                raise RuntimeError("the floor wrote bytecode")
        return sample[0]

    def function(name: str, source: Path, event: str, check: str) -> float:
        fenv, _ = _function_env(env, name)
        child = COLD_CHILD.format(check=check)
        if name == "CredentialsAuthorizerFunction":
            child = child.replace('response.get("statusCode")', "response")
        parts = {"task": source / name, "opt": source / "MomentoTvmLayer"}
        with faithful.fresh_copy(parts) as copy:
            shipped = faithful.pycache_folders(copy)  # the layer's (src/Makefile); all of them in `compiled`
            cenv = faithful.child_env(fenv, copy / "opt" / "python")
            sample = _median_wall([py, "-c", child, event], 1, copy / "task", cenv, marker="BENCH-OK")
            if faithful.pycache_folders(copy) != shipped:
                raise RuntimeError(f"{name} wrote bytecode")
        return sample[0]

    vending_event = str(ROOT / "events/token/get_token_lambda_authorizer.json")
    auth_event = str(ROOT / "events/authorizer/valid_alice.json")
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    for _ in range(runs):
        if "cold" in rows:
            add("pass", floor("pass"))
            add("import", floor("import boto3, momento"))
            for key, source in (("vending", build), ("vending_pyc", compiled)):
                add(key, function("TokenVendingFunction", source, vending_event, _OK_200))
        if "authcold" in rows:
            add("boto3", floor("import boto3"))
            for key, source in (("authorizer", build), ("authorizer_pyc", compiled)):
                add(key, function("CredentialsAuthorizerFunction", source, auth_event, _OK_ALLOW))
    med = {k: statistics.median(v) for k, v in samples.items()}

    def spread(key: str) -> dict[str, Any]:
        return {"min_ms": min(samples[key]), "max_ms": max(samples[key]), "runs": runs, "python": version}

    out: list[Row] = []
    lambda_like = f"(sam build py{version[:4]}, read-only)"
    if "cold" in rows:
        floor_name = f"py{version[:4]} -c 'import boto3, momento'"
        what = "vending cold, Lambda-like " + lambda_like
        out.append(Row("cold", what, med["vending"], f"py{version[:4]} -c pass", med["pass"], "ms", spread("vending")))
        out.append(Row("cold", what, med["vending"], floor_name, med["import"], "ms", spread("vending")))
        what = "vending cold, Lambda-like + unchecked-hash .pyc"
        out.append(Row("cold", what, med["vending_pyc"], floor_name, med["import"], "ms", spread("vending_pyc")))
    if "authcold" in rows:
        floor_name = f"py{version[:4]} -c 'import boto3'"
        what = "auth cold, Lambda-like " + lambda_like
        out.append(Row("authcold", what, med["authorizer"], floor_name, med["boto3"], "ms", spread("authorizer")))
        what = "auth cold, Lambda-like + unchecked-hash .pyc"
        out.append(
            Row("authcold", what, med["authorizer_pyc"], floor_name, med["boto3"], "ms", spread("authorizer_pyc"))
        )
    return out


_OK_200 = 'response["statusCode"] == 200'
_OK_ALLOW = 'response.get("isAuthorized") is True'


def warm_rows(env: dict[str, Any], count: int) -> list[Row]:
    """The handler in this process (a warm container) against the SDK's own mint of the same grant."""
    from momento import AuthClient, CredentialProvider
    from momento.auth.access_control.disposable_token_scope import DisposableTokenProps
    from momento.config.auth_configurations import AuthConfigurations
    from momento.utilities import ExpiresIn

    from momento_tvm import Identity, TokenRequest
    from tests.sdk_scope import to_sdk_scope

    fenv, folder = _function_env(env, "TokenVendingFunction")
    saved = dict(os.environ)
    os.environ.update(fenv)
    try:
        app, via_handler = load_vending_handler(folder, ROOT / "events/token/get_token_lambda_authorizer.json")

        grant = app.vendor.decide(Identity("alice", ("readwrite",)), TokenRequest())
        scope = to_sdk_scope(grant)
        port = env["grpc_port"]
        provider = CredentialProvider(env["api_key"], "127.0.0.1", "127.0.0.1", "127.0.0.1", port)
        client = AuthClient(AuthConfigurations.Lambda.latest(), provider)

        def via_sdk() -> None:
            client.generate_disposable_token(scope, ExpiresIn.seconds(3600), DisposableTokenProps(token_id="alice"))

        with contextlib.redirect_stderr(io.StringIO()):
            half = max(1, count // 2)
            floor = measure(via_sdk, half)
            handler = measure(via_handler, half)
            handler += measure(via_handler, half)
            floor += measure(via_sdk, half)  # floor before and after: the drift falls on both alike
        client.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    what = "warm handler GET /token, in-process"
    floor_name = "raw SDK mint (AuthClient)"
    return [
        Row("warm", what + " p50", statistics.median(handler), floor_name + " p50", statistics.median(floor), "ms"),
        Row("warm", what + " p99", percentile(handler, 0.99), floor_name + " p99", percentile(floor, 0.99), "ms"),
    ]


def limiter_rows(env: dict[str, Any], count: int) -> list[Row]:
    """The issuance table's two questions against moto, each against one GetItem on the same client: the
    revocations' check (one strongly consistent BatchGetItem of the caller's, its tier's and the global item, none
    there) and the limiter's take (its conditional writes). Then what they add to the warm handler, against the same
    handler with no store at all (no LIMITS_TABLE: in memory, no limit): the limiter alone (revocations in memory),
    and both, the production path; and the two handlers against each other, the check's own share of a warm vend."""
    import boto3

    from momento_tvm.aws_json import DYNAMODB, StdlibAwsClient
    from momento_tvm.limits import DynamoDbLimiter, RateLimit
    from momento_tvm.revocations import DynamoDbRevocations, InMemoryRevocations

    environ = {**env["aws"], "DYNAMODB_ENDPOINT": env["aws"]["AWS_ENDPOINT_URL_SECRETS_MANAGER"]}
    client = StdlibAwsClient(DYNAMODB, timeout=1.0, environ=environ)
    limiter = DynamoDbLimiter(client, ISSUANCE_TABLE)
    revocations = DynamoDbRevocations(client, ISSUANCE_TABLE)
    limit = RateLimit(GENEROUS_LIMITS["burst"], GENEROUS_LIMITS["refill_seconds"])
    key = {"pk": {"S": "limit#user#bench"}, "sk": {"S": "bucket"}}

    def take() -> None:
        assert limiter.take("user#bench", limit).allowed

    def check() -> None:
        assert revocations.check("user#bench", "readwrite") is None

    def get_item() -> None:
        client.call("GetItem", {"TableName": ISSUANCE_TABLE, "Key": key})

    half = max(1, count // 2)
    floor = measure(get_item, half)
    takes = measure(take, half)
    checks = measure(check, half)
    checks += measure(check, half)
    takes += measure(take, half)
    floor += measure(get_item, half)

    # alice's bucket, emptied before each handler's run so that every take is allowed whatever the count
    table = boto3.client(
        "dynamodb",
        endpoint_url=environ["DYNAMODB_ENDPOINT"],
        region_name="us-east-1",
        aws_access_key_id="b",
        aws_secret_access_key="b",
    )
    alices_bucket = {"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}}

    def run(call: Callable[[], None], limited: bool) -> list[float]:
        if limited:
            table.delete_item(TableName=ISSUANCE_TABLE, Key=alices_bucket)
        return measure(call, half)

    saved = dict(os.environ)
    try:
        function_env, folder = _function_env(env, "TokenVendingFunction")
        event = ROOT / "events/token/get_token_lambda_authorizer.json"
        os.environ.update(function_env)
        _, no_store = load_vending_handler(folder, event, "bench_vending_no_store")
        os.environ.clear()
        os.environ.update(saved)
        stored_env, _ = _function_env(
            env,
            "TokenVendingFunction",
            POLICY_FILE=str(env["generous_policy"]),
            LIMITS_TABLE=ISSUANCE_TABLE,
            DYNAMODB_ENDPOINT=environ["DYNAMODB_ENDPOINT"],
        )
        os.environ.update(stored_env)
        _, production = load_vending_handler(folder, event, "bench_vending_production")
        # The same module and table, its revocations in memory (blocking nobody): the limiter's share alone.
        limiter_app, limiter_only = load_vending_handler(folder, event, "bench_vending_limiter_only")
        limiter_app.vending.close()
        limiter_app.vending = limiter_app.VendingFunction(limiter_app.key_cache(), revocations=InMemoryRevocations())
        with contextlib.redirect_stderr(io.StringIO()):
            without = run(no_store, False)
            with_limiter = run(limiter_only, True)
            with_both = run(production, True)
            with_both += run(production, True)
            with_limiter += run(limiter_only, True)
            without += run(no_store, False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    p50, p99 = statistics.median, lambda samples: percentile(samples, 0.99)
    took = "limiter take against moto (conditional writes)"
    checked = "revocations check against moto (1 BatchGetItem, 3 keys)"
    alone = "warm handler GET /token, DynamoDB limiter alone"
    both = "warm handler GET /token, revocations + limiter"
    return [
        Row("limiter", took + " p50", p50(takes), "one GetItem p50", p50(floor), "ms"),
        Row("limiter", took + " p99", p99(takes), "one GetItem p99", p99(floor), "ms"),
        Row("limiter", checked + " p50", p50(checks), "one GetItem p50", p50(floor), "ms"),
        Row("limiter", checked + " p99", p99(checks), "one GetItem p99", p99(floor), "ms"),
        Row("limiter", alone + " p50", p50(with_limiter), "no store p50", p50(without), "ms"),
        Row("limiter", alone + " p99", p99(with_limiter), "no store p99", p99(without), "ms"),
        Row("limiter", both + " p50", p50(with_both), "no store p50", p50(without), "ms"),
        Row("limiter", both + " p99", p99(with_both), "no store p99", p99(without), "ms"),
        Row("limiter", both + " p50", p50(with_both), "limiter alone p50", p50(with_limiter), "ms"),
        Row("limiter", both + " p99", p99(with_both), "limiter alone p99", p99(with_limiter), "ms"),
    ]


async def _load(url: str, headers: dict[str, str], concurrency: int, total: int, status: int) -> dict[str, float]:
    import aiohttp

    latencies: list[float] = []
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != status:
                        raise RuntimeError(f"GET {url}: {response.status}")
                latencies.append((time.perf_counter() - started) * 1000)

        for _ in range(concurrency):  # warm-up: a connection per worker, the authorizer's cache filled
            async with session.get(url, headers=headers) as response:
                await response.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {"rps": len(latencies) / wall, "p50_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99)}


async def stack_rows(rows: set[str], requests: int, quick: bool) -> list[Row]:
    """A devstack Stack (what `make dev` runs) on free ports: GET /token under load, then the chat page."""
    from devstack import Stack, StackConfig

    # Explicit stack settings: no issuance limit (1,500 tokens for alice is the load; the limiter has its own row) and
    # no Momento quota in the emulator.
    config = StackConfig(
        auth="LambdaAuthorizer",
        api_port=0,
        site_port=0,
        momento_grpc_port=0,
        momento_web_port=0,
        moto_port=0,
        policy=policy_with_limits(Path(tempfile.mkdtemp(prefix="bench-policy-")), None),
        momento_auth_quota=None,
    )
    out: list[Row] = []
    with contextlib.redirect_stderr(io.StringIO()):
        async with Stack(config) as stack:
            if "api" in rows:
                headers = {"Authorization": ALICE, "Origin": ORIGIN}
                for concurrency in (1, 8, 32):
                    token = await _load(f"{stack.api_url}/token", headers, concurrency, requests, 200)
                    gateway = await _load(f"{stack.api_url}/bench-nope", headers, concurrency, requests, 404)
                    what = f"local API GET /token, concurrency {concurrency}"
                    out.append(Row("api", what + " req/s", token["rps"], "gateway 404 req/s", gateway["rps"], "req/s"))
                    out.append(
                        Row("api", what + " p99", token["p99_ms"], "gateway 404 p99", gateway["p99_ms"], "ms", token)
                    )
            if "page" in rows:
                out += await _page_rows(stack, 2 if quick else 3)
    return out


async def _page_rows(stack: Any, runs: int) -> list[Row]:
    """Bob's tab from navigation to alice's message on screen, against loading the page alone (median of runs)."""
    import uuid

    from playwright.async_api import async_playwright

    sys.path.insert(0, str(ROOT))
    from tests.e2e.chat_page import Chat
    from tests.e2e.conftest import CHROMIUM_ARGS, chromium_executable

    full: list[float] = []
    bare: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        alice = await Chat.open(browser, stack, "alice")
        await alice.login()
        await alice.wait_live()
        for _ in range(runs):
            context = await browser.new_context()
            page = await context.new_page()
            started = time.perf_counter()
            await page.goto(stack.site_url, wait_until="load")
            bare.append((time.perf_counter() - started) * 1000)
            await context.close()

            started = time.perf_counter()
            bob = await Chat.open(browser, stack, "bob")
            await bob.login()
            await bob.wait_live()
            marker = f"bench {uuid.uuid4().hex[:8]}"
            await alice.send(marker)
            await bob.wait_text(marker)
            full.append((time.perf_counter() - started) * 1000)
            await bob.close()
        await alice.close()
        await browser.close()
    return [
        Row(
            "page",
            "chromium: page load, sign-in, live, first received message",
            statistics.median(full),
            "page load alone",
            statistics.median(bare),
            "ms",
            {"runs": runs, "samples_ms": full},
        )
    ]


def topic_rows(quick: bool) -> list[Row]:
    """bench/topic_latency.py in its own process (raw grpc.aio rows; the SDK rows stay in `make` topic runs)."""
    counts = ["--messages-1", "400", "--messages-10", "200", "--messages-100", "60"] if quick else []
    counts = counts or ["--messages-1", "1000", "--messages-10", "400", "--messages-100", "150"]
    argv = [sys.executable, str(ROOT / "bench/topic_latency.py"), "--no-sdk", *counts]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=180)
    document = json.loads(done.stdout.strip().splitlines()[-1])
    by: dict[tuple[str, int], dict[str, Any]] = {(r["server"], r["subscribers"]): r for r in document["results"]}
    out = []
    for subs in (1, 10, 100):
        emulator, floor = by.get(("emulator", subs)), by.get(("floor", subs))
        if emulator is None or floor is None:
            continue
        what = f"Topics {subs} subscriber(s), emulator"
        out.append(Row("topics", what + " p50", emulator["p50_ms"], "trivial gRPC p50", floor["p50_ms"], "ms"))
        out.append(
            Row(
                "topics",
                what + " deliv/s",
                emulator["deliveries_per_s"],
                "trivial gRPC deliv/s",
                floor["deliveries_per_s"],
                "deliv/s",
                {"missing": emulator["missing"]},
            )
        )
    return out


def cost_rows(rows: list[Row]) -> list[Row]:
    """USD per million tokens: Lambda duration (scaled to 256 MB arm64) and requests, the API, Secrets Manager."""
    cold = next((r for r in rows if r.row == "cold" and "import" in r.floor_name), None)
    warm = next((r for r in rows if r.row == "warm" and r.what.endswith("p50")), None)
    if cold is None or warm is None:
        return []
    gb = MEMORY_MB / 1024

    def per_million(cold_ms: float, warm_ms: float, api_price: float) -> tuple[float, dict[str, Any]]:
        billed_ms = COLD_FRACTION * cold_ms * SLOWDOWN + (1 - COLD_FRACTION) * warm_ms * SLOWDOWN
        parts = {
            "lambda_duration": 1e6 * billed_ms / 1000 * gb * LAMBDA_ARM64_GB_S,
            "lambda_requests": 1e6 * LAMBDA_REQUEST,
            "api_requests": 1e6 * api_price,
            # one read per cold container; warm containers of a busy function also re-read every SECRET_CACHE_S
            "secrets_manager": 1e6 * COLD_FRACTION * SECRETS_MANAGER_CALL,
        }
        return sum(parts.values()), {k: round(v, 4) for k, v in parts.items()} | {"billed_ms_avg": billed_ms}

    ours, ours_parts = per_million(cold.value, warm.value, HTTP_API_REQUEST)
    node_cold = NODE_COLD_X_IMPORT_FLOOR * cold.floor
    node_warm = NODE_WARM_X_RAW_MINT * warm.floor
    node, node_parts = per_million(node_cold, node_warm, REST_API_REQUEST)
    assumptions = {
        "memory_mb": MEMORY_MB,
        "slowdown": round(SLOWDOWN, 2),
        "cold_fraction": COLD_FRACTION,
        "prices": PRICES_DATE,
        "ours": ours_parts,
        "node_rest_assumed": node_parts | {"cold_ms_here": node_cold, "warm_ms_here": node_warm},
    }
    return [
        Row(
            "cost",
            "USD per 1M tokens: HTTP API + Python (measured)",
            ours,
            "REST API + Node (assumed)",
            node,
            "USD",
            assumptions,
        )
    ]


def _num(value: float) -> str:
    """Four significant figures at most, never scientific: 0.5731, 17.03, 499.4, 1234."""
    return f"{value:.4f}" if value < 1 else f"{value:.{max(0, 3 - len(str(int(value))))}f}"


def format_table(rows: list[Row]) -> str:
    lines = [f"{'row':9} {'measured':58} {'value':>10}  {'floor':38} {'floor':>10} {'ratio':>7}"]
    for r in rows:
        lines.append(
            f"{r.row:9} {r.what:58} {_num(r.value):>10}  {r.floor_name:38} {_num(r.floor):>10} "
            f"{r.ratio:6.2f}x  {r.unit}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts: a smoke run (about a minute)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {','.join(ROWS)}")
    parser.add_argument("--runs", type=int, help="fresh processes per cold-start figure (default 10, --quick 4)")
    parser.add_argument("--json", metavar="PATH", help="where to write the JSON (default bench/results/<time>.json)")
    args = parser.parse_args()
    rows = {name.strip() for name in args.rows.split(",") if name.strip()}
    unknown = rows - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))} (known: {', '.join(ROWS)})")
    if "cost" in rows:
        rows |= {"cold", "warm"}
    runs = args.runs or (4 if args.quick else 10)
    started = time.perf_counter()
    table: list[Row] = []
    failures: list[str] = []

    def attempt(name: str, fn: Callable[[], list[Row]]) -> None:
        step = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            table.extend(fn())
        except Exception as exc:  # one broken row must not hide the others
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"bench: {name} done in {time.perf_counter() - step:.1f} s", file=sys.stderr, flush=True)

    if rows & {"cold", "authcold", "warm", "limiter"}:
        with backends() as env:
            if rows & {"cold", "authcold"}:
                attempt("cold starts (dev venv)", lambda: cold_rows(env, runs, rows))
                attempt("cold starts (Lambda-like)", lambda: faithful_cold_rows(env, runs, rows))
            if "warm" in rows:
                attempt("warm handler", lambda: warm_rows(env, 300 if args.quick else 2000))
            if "limiter" in rows:
                attempt("limiter", lambda: limiter_rows(env, 200 if args.quick else 1000))
    if "topics" in rows:
        attempt("topics", lambda: topic_rows(args.quick))
    if rows & {"api", "page"}:
        requests = 200 if args.quick else 1500
        attempt("stack", lambda: asyncio.run(stack_rows(rows, requests, args.quick)))
    if "cost" in rows:
        table.extend(cost_rows(table))
    total = time.perf_counter() - started

    print()
    print(
        f"make bench: 127.0.0.1 only, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"cold starts median of {runs}; ratio = value / floor (req/s, deliv/s: below 1 is slower)"
    )
    print(format_table(table))
    cost = next((r for r in table if r.row == "cost"), None)
    if cost is not None:
        print(
            f"cost: {MEMORY_MB} MB arm64, durations x{SLOWDOWN:.2f} (1769 MB = 1 vCPU), cold fraction "
            f"{COLD_FRACTION} (assumed), prices {PRICES_DATE}; Node durations assumed, not measured here"
        )
    for failure in failures:
        print(f"! {failure}")
    print(f"total {total:.1f} s")
    document = {
        "benchmark": "make bench",
        "utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "cold_runs": runs,
        "total_s": round(total, 1),
        "rows": [asdict(r) | {"ratio": r.ratio} for r in table],
        "failures": failures,
    }
    path = Path(args.json) if args.json else ROOT / "bench/results" / f"bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    print(f"JSON: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
