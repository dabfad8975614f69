"""Warm latency of the vending handler against a raw SDK mint, and each function's fresh-process import time.

Not a test: it prints figures and ratios, and never fails on a number. Everything runs on 127.0.0.1: the Momento
emulator in a thread, moto's Secrets Manager in a thread, the handler in this process (as a warm Lambda container).

- floor: `AuthClient.generate_disposable_token` with the same scope, the same client configuration, same emulator;
- handler: `app.handler(event)` for `GET /token` (policy decision, Powertools resolver, logging, metrics, the mint).
The ratio handler / floor is the vending function's own overhead. Import times are measured in fresh interpreters
(`python -c "import app"` in the function's folder), beside `python -c pass` as the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from timing import measure, percentile  # noqa: E402  (a sibling module; bench/ is not a package)


def import_time(folder: Path, statement: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=folder, check=True, env=os.environ.copy())
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="timed requests per row (default 300)")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import row (default 7)")
    args = parser.parse_args()

    from momento import AuthClient, CredentialProvider
    from momento.auth.access_control.disposable_token_scope import DisposableTokenProps
    from momento.config.auth_configurations import AuthConfigurations
    from momento.utilities import ExpiresIn
    from moto.server import ThreadedMotoServer

    from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
    from momento_emulator.testing import EmulatorThread

    with EmulatorThread(EmulatorConfig(caches=("default-cache",))) as emulator:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://{host}:{port}",
                "AUTH_MODE": "LambdaAuthorizer",
                "MOMENTO_API_KEY_SECRET": "bench/momento",
                "MOMENTO_ENDPOINT": f"127.0.0.1:{emulator.grpc_port}",
                "CACHE_NAME": "default-cache",
                "POWERTOOLS_SERVICE_NAME": "token-vending",
                "POWERTOOLS_METRICS_NAMESPACE": "Bench",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        import boto3

        boto3.client("secretsmanager").create_secret(Name="bench/momento", SecretString=DEFAULT_API_KEY)
        spec = importlib.util.spec_from_file_location("bench_app", ROOT / "functions/token_vending/app.py")
        assert spec is not None and spec.loader is not None
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        event = json.loads((ROOT / "events/token/get_token_lambda_authorizer.json").read_text())

        class Context:
            function_name, memory_limit_in_mb, aws_request_id = "bench", 256, "bench"
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

        def via_handler() -> None:
            with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics lines
                response = app.handler(event, Context())
            assert response["statusCode"] == 200, response

        from momento_tvm import Identity, TokenRequest
        from momento_tvm.minting import to_sdk_scope

        grant = app.vendor.decide(Identity("alice", ("readwrite",)), TokenRequest())
        scope = to_sdk_scope(grant)
        provider = CredentialProvider(DEFAULT_API_KEY, "127.0.0.1", "127.0.0.1", "127.0.0.1", emulator.grpc_port)
        client = AuthClient(AuthConfigurations.Lambda.latest(), provider)

        def via_sdk() -> None:
            client.generate_disposable_token(scope, ExpiresIn.seconds(3600), DisposableTokenProps(token_id="alice"))

        floor = measure(via_sdk, args.count)
        handler = measure(via_handler, args.count)
        floor2 = measure(via_sdk, args.count)  # again, to show the drift of a noisy machine
        client.close()
        moto.stop()

    rows = [("raw SDK mint (floor)", floor), ("handler GET /token", handler), ("raw SDK mint again", floor2)]
    base = statistics.median(floor)
    print(f"Warm latency, {args.count} requests each, emulator and moto on 127.0.0.1 (ms):")
    print(f"{'row':24} {'p50':>8} {'p99':>8} {'p50 x floor':>12}")
    for name, samples in rows:
        p50 = statistics.median(samples)
        print(f"{name:24} {p50:8.3f} {percentile(samples, 0.99):8.3f} {p50 / base:12.2f}")

    env_folder = {"vending": ROOT / "functions/token_vending", "authorizer": ROOT / "authorizers/credentials"}
    print(f"\nFresh-process import time, median of {args.import_runs} (ms):")
    nothing = import_time(ROOT, "pass", args.import_runs)
    print(f"{'python -c pass (floor)':34} {nothing:8.1f}")
    results = {"pass": nothing}
    for name, folder in env_folder.items():
        if (folder / "app.py").exists():
            ms = import_time(folder, "import app", args.import_runs)
            results[name] = ms
            print(f"{'import app (' + name + ')':34} {ms:8.1f}   (+{ms - nothing:.1f} over the floor)")
    print(
        json.dumps(
            {
                "handler_p50_ms": statistics.median(handler),
                "floor_p50_ms": base,
                "ratio": statistics.median(handler) / base,
                "imports_ms": results,
            }
        )
    )


if __name__ == "__main__":
    main()
