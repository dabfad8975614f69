"""Warm latency of `GET /token` through the local HTTP API against the same handler invoked in-process.

Not a test: it prints figures and ratios, and never fails on a number. Everything runs on 127.0.0.1: the Momento
emulator and moto's Secrets Manager in threads, the local API (`local_api.LocalApi`, LambdaAuthorizer mode, the same
code as `make dev`) on its own event loop in a thread, its two workers as processes.

- floor: `app.handler(event)` in this process for alice's `GET /token` (the event as the gateway would send it after
  the authorizer: policy, Powertools resolver, logging, metrics, the mint);
- local API: the same request over HTTP on one keep-alive connection, as a browser sends it: aiohttp, routing, the
  authorizer cache (a hit after the first request: the authorizer itself is not invoked), the payload-2.0 event, the
  pipe to the worker and back, CORS;
- local API 404: a route that does not exist, answered by the gateway alone (the HTTP floor of the local API).
The difference local API - floor is what the local API adds to every request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import io
import json
import logging
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from timing import load_vending_handler, measure, percentile  # noqa: E402  (a sibling module; bench/ is not a package)

CACHE = "default-cache"
ALICE = "Basic " + base64.b64encode(b"alice:alice-password").decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="timed requests per row (default 200)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines

    import boto3
    from moto.server import ThreadedMotoServer

    from local_api import LocalApi
    from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
    from momento_emulator.testing import EmulatorThread
    from tvm_users.demo import hashed_store_from_demo_file

    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as emulator:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://{host}:{port}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
        secrets = boto3.client("secretsmanager", endpoint_url=aws["AWS_ENDPOINT_URL_SECRETS_MANAGER"], **_creds(aws))
        key_arn = secrets.create_secret(Name="bench/momento", SecretString=DEFAULT_API_KEY)["ARN"]
        users = hashed_store_from_demo_file(ROOT / "local/demo_users.json")
        users_arn = secrets.create_secret(Name="bench/users", SecretString=users)["ARN"]
        endpoint = f"127.0.0.1:{emulator.grpc_port}"

        # ---- the floor: the handler in this process, with the environment the template gives it
        api = LocalApi(
            template=ROOT / "template.yaml",
            auth_method="LambdaAuthorizer",
            parameters={
                "MomentoApiKeySecretArn": key_arn,
                "MomentoEndpoint": endpoint,
                "CacheName": CACHE,
                "LogLevel": "WARNING",
                "AllowedOrigins": "http://127.0.0.1:8000",
            },
            resources={"UsersSecret": users_arn},
            env=aws,
        )
        vending = api.functions["TokenVendingFunction"]
        os.environ.update({**vending.environment, **aws})
        _, via_handler = load_vending_handler(
            vending.code_uri, ROOT / "events/token/get_token_lambda_authorizer.json", "bench_app"
        )

        # ---- the local API, on its own loop (as make dev runs it), requests on one keep-alive connection
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        started = time.perf_counter()
        asyncio.run_coroutine_threadsafe(api.start(), loop).result(60)
        start_ms = (time.perf_counter() - started) * 1000
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        headers = {"Authorization": ALICE, "Origin": "http://127.0.0.1:8000"}

        def get(path: str, expected: int) -> Callable[[], None]:
            def request() -> None:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                assert response.status == expected, (response.status, body)

            return request

        with contextlib.redirect_stderr(io.StringIO()):  # the workers' logs and metrics, relayed
            floor = measure(via_handler, args.count)
            local = measure(get("/token", 200), args.count)
            missing = measure(get("/nope", 404), args.count)
            floor2 = measure(via_handler, args.count)
        authorizer_invocations = api.invocations("CredentialsAuthorizerFunction")
        connection.close()
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        moto.stop()

    rows: list[tuple[str, list[float]]] = [
        ("handler in-process (floor)", floor),
        ("local API GET /token", local),
        ("local API 404 (gateway only)", missing),
        ("handler in-process again", floor2),
    ]
    base = statistics.median(floor)
    print(f"Warm latency, {args.count} requests each, emulator and moto on 127.0.0.1 (ms):")
    print(f"{'row':30} {'p50':>8} {'p99':>8} {'p50 x floor':>12}")
    for name, samples in rows:
        p50 = statistics.median(samples)
        print(f"{name:30} {p50:8.3f} {percentile(samples, 0.99):8.3f} {p50 / base:12.2f}")
    overhead = statistics.median(local) - base
    print(f"\nlocal API overhead per request (p50): {overhead:.3f} ms; start (spawn + imports): {start_ms:.0f} ms")
    print(f"authorizer invocations over {len(local) + max(5, args.count // 10)} requests: {authorizer_invocations}")
    print(
        json.dumps(
            {
                "handler_p50_ms": base,
                "local_api_p50_ms": statistics.median(local),
                "not_found_p50_ms": statistics.median(missing),
                "overhead_p50_ms": overhead,
                "ratio": statistics.median(local) / base,
                "start_ms": start_ms,
                "authorizer_invocations": authorizer_invocations,
            }
        )
    )


def _creds(aws: dict[str, str]) -> dict[str, Any]:
    return {
        "region_name": aws["AWS_DEFAULT_REGION"],
        "aws_access_key_id": aws["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"],
    }


if __name__ == "__main__":
    main()
