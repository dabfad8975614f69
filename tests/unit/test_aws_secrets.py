"""The standard-library Secrets Manager read: its SigV4 signature is botocore's; it reads from a real moto server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "functions" / "token_vending"))

from momento_tvm import aws_secrets  # noqa: E402

FIXED_TIME = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def botocore_authorization(url: str, body: bytes, region: str, token: str | None) -> str:
    """The Authorization header botocore's own SigV4Auth computes for this POST at FIXED_TIME."""
    import datetime
    from unittest import mock

    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": aws_secrets.CONTENT_TYPE, "X-Amz-Target": aws_secrets.TARGET},
    )
    fixed = datetime.datetime.fromtimestamp(FIXED_TIME, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):  # botocore's clock
        SigV4Auth(
            Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), "secretsmanager", region
        ).add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize(
    ("url", "region", "token"),
    [
        ("https://secretsmanager.us-east-1.amazonaws.com", "us-east-1", None),
        ("https://secretsmanager.eu-west-3.amazonaws.com/", "eu-west-3", "IQoJb3JpZ2luX2VjE//session+token=="),
        ("http://127.0.0.1:4566", "ap-southeast-2", "token"),
    ],
)
@pytest.mark.parametrize(
    "secret_id", ["tvm/momento-api-key", "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf", "é ü"]
)
def test_the_signature_is_botocores(url: str, region: str, token: str | None, secret_id: str) -> None:
    import json

    body = json.dumps({"SecretId": secret_id}).encode("utf-8")
    ours = aws_secrets.signed_headers(
        url,
        body,
        {"Content-Type": aws_secrets.CONTENT_TYPE, "X-Amz-Target": aws_secrets.TARGET},
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token=token,
        region_name=region,
        now=FIXED_TIME,
    )
    assert ours["Authorization"] == botocore_authorization(url, body, region, token)
    assert ours["X-Amz-Date"] == "20260528T202640Z"
    assert ("X-Amz-Security-Token" in ours) == (token is not None)


def test_the_endpoint_follows_the_environment() -> None:
    assert aws_secrets.endpoint_url({"AWS_REGION": "eu-west-1"}) == "https://secretsmanager.eu-west-1.amazonaws.com"
    assert aws_secrets.endpoint_url({"AWS_DEFAULT_REGION": "us-west-2"}).endswith("us-west-2.amazonaws.com")
    local = {"AWS_REGION": "eu-west-1", "SECRETS_MANAGER_ENDPOINT": " http://127.0.0.1:5000 "}
    assert aws_secrets.endpoint_url(local | {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://x"}) == "http://127.0.0.1:5000"
    assert aws_secrets.endpoint_url({"AWS_REGION": "eu-west-1", "SECRETS_MANAGER_ENDPOINT": ""}).startswith("https://")
    with pytest.raises(aws_secrets.SecretsManagerError) as raised:
        aws_secrets.endpoint_url({})
    assert raised.value.code == "NoRegion"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def env(url: str) -> dict[str, str]:
    return {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "session",
        "SECRETS_MANAGER_ENDPOINT": url,
    }


def test_a_real_read_from_moto(moto_url: str) -> None:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_secret(Name="tvm/stdlib-read", SecretString="the-key\u00e9")
    assert aws_secrets.get_secret_string("tvm/stdlib-read", timeout=1.0, environ=env(moto_url)) == "the-key\u00e9"


def test_a_missing_secret_is_its_aws_code_only(moto_url: str) -> None:
    with pytest.raises(aws_secrets.SecretsManagerError) as raised:
        aws_secrets.get_secret_string("tvm/none-such", timeout=1.0, environ=env(moto_url))
    assert (raised.value.code, raised.value.from_aws) == ("ResourceNotFoundException", True)
    assert str(raised.value) == "ResourceNotFoundException"
    assert raised.value.__cause__ is None


def test_a_closed_port_is_a_connection_error_without_text() -> None:
    with pytest.raises(aws_secrets.SecretsManagerError) as raised:
        aws_secrets.get_secret_string("x", timeout=1.0, environ=env("http://127.0.0.1:9"))
    assert raised.value.code == "ConnectionError"
    assert raised.value.__suppress_context__


def test_a_hung_endpoint_fails_within_the_deadline() -> None:
    import socket
    import time

    with socket.socket() as listener:  # accepts (the backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(aws_secrets.SecretsManagerError) as raised:
            aws_secrets.get_secret_string("x", timeout=0.3, environ=env(url))
        assert time.monotonic() - started < 1.0
    assert (raised.value.code, raised.value.from_aws) == ("Timeout", False)


def test_no_credentials_is_a_typed_error() -> None:
    with pytest.raises(aws_secrets.SecretsManagerError) as raised:
        aws_secrets.get_secret_string("x", timeout=1.0, environ={"AWS_REGION": "us-east-1"})
    assert raised.value.code == "NoCredentials"


def test_refused_credentials_are_their_aws_code_without_the_message() -> None:
    """moto checks no signature, so AWS's answer to a wrong key is played by a local server: 400 with `__type`
    UnrecognizedClientException and a message, which must not travel with the error."""
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = b'{"__type":"UnrecognizedClientException","message":"The security token is invalid: AKIA-SEEN"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(aws_secrets.SecretsManagerError) as raised:
            aws_secrets.get_secret_string("x", timeout=1.0, environ=env(f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
    assert (raised.value.code, raised.value.from_aws) == ("UnrecognizedClientException", True)
    assert "AKIA-SEEN" not in str(raised.value) and "AKIA-SEEN" not in repr(raised.value)


def test_the_authorizers_copy_is_identical() -> None:
    """One source of truth: SAM packages each function from its own folder, so the authorizer carries a copy."""
    source = ROOT / "functions" / "token_vending" / "momento_tvm" / "aws_secrets.py"
    copy = ROOT / "authorizers" / "credentials" / "tvm_users" / "aws_secrets.py"
    assert copy.read_bytes() == source.read_bytes(), f"cp {source.relative_to(ROOT)} {copy.relative_to(ROOT)}"


def test_snapstart_container_credentials_are_used_when_the_environment_has_none(moto_url: str) -> None:
    """SnapStart functions get AWS_CONTAINER_CREDENTIALS_FULL_URI instead of key variables: a local endpoint here,
    answering as Lambda's does (only with the authorization token)."""
    import http.server
    import json
    import threading

    seen: list[str | None] = []

    class Credentials(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            ok = self.headers.get("Authorization") == "container-token"
            body = json.dumps({"AccessKeyId": "AKID", "SecretAccessKey": "secret", "Token": "session"}).encode()
            self.send_response(200 if ok else 403)
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Credentials)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = boto3.client(
            "secretsmanager",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        client.create_secret(Name="tvm/snapstart", SecretString="k")
        environ = {
            "AWS_REGION": "us-east-1",
            "SECRETS_MANAGER_ENDPOINT": moto_url,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{server.server_port}/2021-04-23/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-token",
        }
        assert aws_secrets.credentials(environ, timeout=1.0) == ("AKID", "secret", "session")
        assert aws_secrets.get_secret_string("tvm/snapstart", timeout=1.0, environ=environ) == "k"
        with pytest.raises(aws_secrets.SecretsManagerError) as raised:
            aws_secrets.credentials(environ | {"AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"}, timeout=1.0)
        assert raised.value.code == "NoCredentials"
    finally:
        server.shutdown()
        server.server_close()
    assert seen[:2] == ["container-token", "container-token"]
