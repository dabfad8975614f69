"""The test suite's one moto: a moto server on 127.0.0.1 (a free port), started once per session by tests/conftest.py
and emptied before each test that asks for the `moto` fixture.

moto keeps its state per process, not per server: every moto server a test process starts, and `mock_aws`, share one
set of backends. So one server serves every test, and isolation is a reset (moto's `/moto-api/reset`), before each
test that takes `moto`; a module-scoped fixture that keeps resources for its whole module takes `moto_server` and uses
unique names (or resets once, at its start). Over HTTP rather than in-process, because the functions' own standard
library client (`momento_tvm.aws_json`) must be answered by a real server at the endpoint it is given.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


@dataclass(frozen=True)
class Moto:
    """A running moto server: its endpoint URL, and a way to empty it."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Empty every moto backend of this process (every service, every region)."""
        reset = f"{self.url}/moto-api/reset"  # built here, on 127.0.0.1
        urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=10).close()  # noqa: S310

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client of `service` on this server, with moto's dummy credentials."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@contextmanager
def moto_server() -> Iterator[Moto]:
    """A moto server on a free port of 127.0.0.1, for as long as the block runs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield Moto(host, port)
    finally:
        server.stop()


def create_issuance_table(dynamodb: Any, name: str) -> None:
    """The issuance table with the template's keys (pk, sk) and TTL attribute (expires_at), through `dynamodb` (a
    boto3 client of moto, in any region); tests/unit/test_template.py holds the template to these."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
