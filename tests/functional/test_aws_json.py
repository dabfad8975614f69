"""The AWS JSON client: its SigV4 signature is botocore's; the standard-library client and the boto3-backed one answer
the same calls against the same moto server in the same way (one suite, both clients); the environment is checked
before anything is sent."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from momento_tvm import aws_json
from momento_tvm.aws_json import SECRETS_MANAGER, AwsConfigError, AwsError, StdlibAwsClient
from tests.aws_moto import Moto

ENDPOINT_VARIABLES = ("SECRETS_MANAGER_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL")
FIXED_TIME = 1_780_000_000.0  # 2026-05-28T20:26:40Z


def botocore_authorization(
    url: str, body: bytes, region: str, token: str | None, service: aws_json.Service = SECRETS_MANAGER
) -> str:
    """The Authorization header botocore's own SigV4Auth computes for this POST at FIXED_TIME."""
    import datetime
    from unittest import mock

    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": service.content_type, "X-Amz-Target": service.target("GetSecretValue")},
    )
    fixed = datetime.datetime.fromtimestamp(FIXED_TIME, datetime.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):  # botocore's clock
        SigV4Auth(
            Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), service.name, region
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
@pytest.mark.parametrize("service", [aws_json.SECRETS_MANAGER, aws_json.DYNAMODB], ids=lambda s: s.name)
def test_the_signature_is_botocores(
    url: str, region: str, token: str | None, secret_id: str, service: aws_json.Service
) -> None:
    import json

    body = json.dumps({"SecretId": secret_id}).encode("utf-8")
    ours = aws_json.signed_headers(
        url,
        body,
        {"Content-Type": service.content_type, "X-Amz-Target": service.target("GetSecretValue")},
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token=token,
        region_name=region,
        now=FIXED_TIME,
        service=service.name,
    )
    assert ours["Authorization"] == botocore_authorization(url, body, region, token, service)
    assert ours["X-Amz-Date"] == "20260528T202640Z"
    assert ("X-Amz-Security-Token" in ours) == (token is not None)


def endpoint_url(environ: dict[str, str], service: aws_json.Service = SECRETS_MANAGER) -> str:
    return StdlibAwsClient(service, timeout=1.0, environ=environ).endpoint_url


def test_the_endpoint_follows_the_environment() -> None:
    assert endpoint_url({"AWS_REGION": "eu-west-1"}) == "https://secretsmanager.eu-west-1.amazonaws.com"
    assert endpoint_url({"AWS_DEFAULT_REGION": "us-west-2"}).endswith("us-west-2.amazonaws.com")
    local = {"AWS_REGION": "eu-west-1", "SECRETS_MANAGER_ENDPOINT": " http://127.0.0.1:5000 "}
    assert endpoint_url(local | {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://x"}) == "http://127.0.0.1:5000"
    assert endpoint_url({"AWS_REGION": "eu-west-1", "SECRETS_MANAGER_ENDPOINT": ""}).startswith("https://")
    with pytest.raises(AwsError) as raised:
        endpoint_url({})
    assert raised.value.code == "NoRegion"
    assert endpoint_url({"AWS_REGION": "eu-west-1"}, aws_json.DYNAMODB) == "https://dynamodb.eu-west-1.amazonaws.com"
    ddb = {"AWS_REGION": "eu-west-1", "SECRETS_MANAGER_ENDPOINT": "http://127.0.0.1:1"}  # Secrets Manager's alone
    assert endpoint_url(ddb, aws_json.DYNAMODB) == "https://dynamodb.eu-west-1.amazonaws.com"
    assert endpoint_url(ddb | {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:2"}, aws_json.DYNAMODB).endswith(":2")


def read(secret_id: str, *, timeout: float, environ: dict[str, str]) -> str:
    """The secret, read as the functions read it: the standard-library client, one attempt within `timeout`."""
    return aws_json.get_secret_string(StdlibAwsClient(SECRETS_MANAGER, timeout=timeout, environ=environ), secret_id)


def env(url: str) -> dict[str, str]:
    return {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "session",
        "SECRETS_MANAGER_ENDPOINT": url,
    }


def test_a_real_read_from_moto(moto: Moto) -> None:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_secret(Name="tvm/stdlib-read", SecretString="the-key\u00e9")
    assert read("tvm/stdlib-read", timeout=1.0, environ=env(moto.url)) == "the-key\u00e9"


def test_a_missing_secret_is_its_aws_code_only(moto: Moto) -> None:
    with pytest.raises(AwsError) as raised:
        read("tvm/none-such", timeout=1.0, environ=env(moto.url))
    assert (raised.value.code, raised.value.from_aws) == ("ResourceNotFoundException", True)
    assert str(raised.value) == "ResourceNotFoundException"
    assert raised.value.__cause__ is None


def test_a_closed_port_is_a_connection_error_without_text() -> None:
    with pytest.raises(AwsError) as raised:
        read("x", timeout=1.0, environ=env("http://127.0.0.1:9"))
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
        with pytest.raises(AwsError) as raised:
            read("x", timeout=0.3, environ=env(url))
        assert time.monotonic() - started < 1.0
    assert (raised.value.code, raised.value.from_aws) == ("Timeout", False)


def test_no_credentials_is_a_typed_error() -> None:
    with pytest.raises(AwsError) as raised:
        read("x", timeout=1.0, environ={"AWS_REGION": "us-east-1"})
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
        with pytest.raises(AwsError) as raised:
            read("x", timeout=1.0, environ=env(f"http://127.0.0.1:{server.server_port}"))
    finally:
        server.shutdown()
        server.server_close()
    assert (raised.value.code, raised.value.from_aws) == ("UnrecognizedClientException", True)
    assert "AKIA-SEEN" not in str(raised.value) and "AKIA-SEEN" not in repr(raised.value)


def test_snapstart_container_credentials_are_used_when_the_environment_has_none(moto: Moto) -> None:
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
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        )
        client.create_secret(Name="tvm/snapstart", SecretString="k")
        environ = {
            "AWS_REGION": "us-east-1",
            "SECRETS_MANAGER_ENDPOINT": moto.url,
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{server.server_port}/2021-04-23/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-token",
        }
        assert aws_json.credentials(environ, timeout=1.0) == ("AKID", "secret", "session")
        assert read("tvm/snapstart", timeout=1.0, environ=environ) == "k"
        with pytest.raises(AwsError) as raised:
            aws_json.credentials(environ | {"AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"}, timeout=1.0)
        assert raised.value.code == "NoCredentials"
    finally:
        server.shutdown()
        server.server_close()
    assert seen[:2] == ["container-token", "container-token"]


# ---------------------------------------------------------------- what the environment may name (issue 18)
# The region becomes part of the endpoint's host name: `AWS_REGION='x@127.0.0.1:35091/#'` sent the signed
# GetSecretValue to 127.0.0.1:35091. Every setting is checked before any connection; the proof is a 127.0.0.1
# listener that no connection reaches (a connect completes into its backlog, accept()ed or not).


@contextlib.contextmanager
def listening() -> Iterator[tuple[int, Callable[[], int]]]:
    """(a free 127.0.0.1 port, how many connections have reached it so far)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)

        def reached() -> int:
            count = 0
            while True:
                try:
                    connection, _ = listener.accept()
                except BlockingIOError:
                    return count
                connection.close()
                count += 1

        yield listener.getsockname()[1], reached


def keys_only(**extra: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", **extra}


def refused(environ: dict[str, str], reached: Callable[[], int]) -> AwsConfigError:
    """The read is refused with a setting to fix, and nothing reached the listener."""
    with pytest.raises(AwsError) as raised:
        read("tvm/key", timeout=0.5, environ=environ)
    assert reached() == 0, "a connection was made"
    error = raised.value
    assert isinstance(error, AwsConfigError), (type(error), error.code)
    assert error.__cause__ is None
    assert "\n" not in str(error) and str(error) == f"{error.code}: {error.fix}"
    return error


ATTACKER_REGIONS = [
    "x@127.0.0.1:{port}/#",  # the report's: userinfo, then a fragment swallowing ".amazonaws.com"
    "x:y@127.0.0.1:{port}/#",  # a password too
    "x@127.0.0.1:{port}/",  # a path instead
    "x@127.0.0.1:{port}?",  # a query instead
    "x@127.0.0.1:{port}#",  # a fragment, no path
    "127.0.0.1:{port}/#",
    "us-east-1.127.0.0.1.nip.io:{port}/#",
    "us-east\n-1",  # a line break inside (one at either end is whitespace, stripped as before)
    "us-east-1\r\nX-Injected: 1",
    "us_east_1",
    "-us-east-1",
    "us-east-1-",
    "123",  # botocore refuses an all-digit name
    "a" * 64,
    "us-eäst-1",
]


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
@pytest.mark.parametrize("template", ATTACKER_REGIONS)
def test_a_region_that_is_not_a_region_name_is_refused_and_nothing_is_sent(template: str, variable: str) -> None:
    with listening() as (port, reached):
        value = template.format(port=port)
        error = refused(keys_only(**{variable: value}), reached)
    assert error.code == "InvalidRegion"
    assert error.fix.startswith(f"{variable} is not a region name: set it to one such as us-east-1")
    assert str(port) not in str(error) and value.strip() not in repr(error)


ENDPOINT_TEMPLATES = [
    ("http://x@127.0.0.1:{port}", "user name or password"),
    ("http://user:pass@127.0.0.1:{port}/", "user name or password"),
    ("http://127.0.0.1:{port}/path", "path or a query"),
    ("http://127.0.0.1:{port}/?Action=x", "path or a query"),
    ("http://127.0.0.1:{port}?", "path or a query"),
    ("http://127.0.0.1:{port}/#x", "fragment"),
    ("http://127.0.0.1:{port}#", "fragment"),
    ("ftp://127.0.0.1:{port}", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("127.0.0.1:{port}", "http:// or https://"),
    ("//127.0.0.1:{port}", "http:// or https://"),
    ("http://:{port}", "host or port"),
    ("http://127.0.0.1:{port}:1", "host or port"),
    ("http://127.0.0.1:99999", "host or port"),
    ("http://127.0.0.1:{port}/\r\nX-Injected: 1", "line break"),
    ("http://127.0.0.1\n:{port}", "line break"),
    ("http://127.0.0.\u0661:{port}", "non-ASCII"),  # an Arabic-Indic digit one, which IDNA would map to "1"
    ("http://[::1:{port}", "host or port"),
]


@pytest.mark.parametrize("variable", ENDPOINT_VARIABLES)
@pytest.mark.parametrize(("template", "says"), ENDPOINT_TEMPLATES)
def test_an_endpoint_override_is_host_and_port_only(template: str, says: str, variable: str) -> None:
    with listening() as (port, reached):
        value = template.format(port=port)
        error = refused(keys_only(AWS_REGION="us-east-1", **{variable: value}), reached)
    assert error.code == "InvalidEndpoint"
    assert error.fix.startswith(f"{variable} is not a valid endpoint: ") and says in error.fix, error.fix
    assert str(port) not in str(error)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_SESSION_TOKEN", "IQoJ-SEEN-TOKEN\r\nX-Injected: 1"),
        ("AWS_SESSION_TOKEN", "IQoJ-SEEN-TOKEN\n"),
        ("AWS_SESSION_TOKEN", "IQoJ SEEN-TOKEN"),
        ("AWS_SESSION_TOKEN", "IQoJ-SEEN-TØKEN"),  # latin-1, so http.client would have sent it
        ("AWS_ACCESS_KEY_ID", "AKID-SEEN\nX-Injected: 1"),
        ("AWS_SECRET_ACCESS_KEY", "SEEN-secret\n"),  # never a header, but never a key AWS gives either
    ],
)
def test_a_credential_with_a_line_break_is_refused_without_its_value(variable: str, value: str) -> None:
    """http.client refuses such a header with `ValueError('Invalid header value ...')`, the value in its message: it
    escaped the client (and callers catching only AwsError) with the session token in it."""
    with listening() as (port, reached):
        environ = keys_only(AWS_REGION="us-east-1", SECRETS_MANAGER_ENDPOINT=f"http://127.0.0.1:{port}")
        error = refused(environ | {variable: value}, reached)
    assert error.code == "InvalidCredentials"
    assert error.fix.startswith(f"{variable} holds a space, a line break or a non-ASCII character")
    assert "SEEN" not in str(error) and "SEEN" not in repr(error)


@given(token=st.text(max_size=24), key=st.text(min_size=1, max_size=24))
@settings(max_examples=150, deadline=None)
def test_any_credential_text_gives_a_typed_error_that_does_not_quote_it(token: str, key: str) -> None:
    """Whatever the variables hold, the read ends in an AwsError (here: nothing listens on port 9), and
    no error text carries them."""
    environ = keys_only(AWS_REGION="us-east-1", SECRETS_MANAGER_ENDPOINT="http://127.0.0.1:9")
    environ |= {"AWS_ACCESS_KEY_ID": f"AKID{key}", "AWS_SESSION_TOKEN": f"T0KEN{token}"}
    with pytest.raises(AwsError) as raised:
        read("x", timeout=0.5, environ=environ)
    assert raised.value.code in ("ConnectionError", "InvalidCredentials")
    assert "T0KEN" not in repr(raised.value) and "AKID" not in repr(raised.value)


def test_the_container_credentials_token_and_uri_are_checked_before_connecting(tmp_path: Path) -> None:
    with listening() as (port, reached):
        uri = f"http://127.0.0.1:{port}/2021-04-23/credentials"
        base = {"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": uri}
        error = refused(base | {"AWS_CONTAINER_AUTHORIZATION_TOKEN": "SEEN-token\r\nX-Injected: 1"}, reached)
        assert error.code == "InvalidCredentials" and "SEEN" not in repr(error)
        assert error.fix.startswith("AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break")
        token_file = tmp_path / "token"
        token_file.write_text("SEEN-a\nSEEN-b\n")
        error = refused(base | {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file)}, reached)
        assert error.code == "InvalidCredentials" and "SEEN" not in repr(error)
        for bad in (f"http://u:p@127.0.0.1:{port}/creds", f"http://127.0.0.1:{port}/creds#x", "ftp://127.0.0.1/"):
            error = refused(base | {"AWS_CONTAINER_CREDENTIALS_FULL_URI": bad}, reached)
            assert error.code == "InvalidEndpoint"
            assert error.fix.startswith("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid endpoint")
    # Plain http only to a loopback address or the container hosts (botocore's rule): no token in clear elsewhere.
    error = refused(base | {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.0.0.1/creds"}, lambda: 0)
    assert error.code == "InvalidEndpoint" and "use https" in error.fix
    for allowed in ("http://169.254.170.2/v2/credentials/x?a=1", "http://[fd00:ec2::23]/c", "https://creds.example/c"):
        assert aws_json.parse_endpoint(allowed, "X", target=True).scheme in ("http", "https")


@pytest.mark.parametrize(
    ("value", "expected", "host_header"),
    [
        ("http://127.0.0.1:5000", ("http", "127.0.0.1", 5000), "127.0.0.1:5000"),
        ("HTTP://LocalHost:5000/", ("http", "LocalHost", 5000), "LocalHost:5000"),
        ("http://moto:5000", ("http", "moto", 5000), "moto:5000"),
        ("http://sam_moto_1:4566", ("http", "sam_moto_1", 4566), "sam_moto_1:4566"),
        (
            "http://host.docker.internal:80",
            ("http", "host.docker.internal", 80),
            "host.docker.internal",
        ),
        (
            "https://secretsmanager.eu-west-3.amazonaws.com/",
            ("https", "secretsmanager.eu-west-3.amazonaws.com", None),
            "secretsmanager.eu-west-3.amazonaws.com",
        ),
        ("http://[::1]:5000", ("http", "::1", 5000), "[::1]:5000"),
    ],
)
def test_a_plain_endpoint_is_accepted(value: str, expected: tuple[str, str, int | None], host_header: str) -> None:
    parsed = aws_json.parse_endpoint(value, "SECRETS_MANAGER_ENDPOINT")
    assert ((parsed.scheme, parsed.host, parsed.port), parsed.host_header) == (expected, host_header)


@pytest.mark.parametrize(
    "name", ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "il-central-1", "local", "a"]
)
def test_a_region_name_is_accepted_and_is_the_endpoints_host(name: str) -> None:
    assert endpoint_url({"AWS_REGION": f" {name}\n"}) == f"https://secretsmanager.{name}.amazonaws.com"


REGION_PIECES = st.sampled_from([*"aZ09-._@:/#?% \n\r\t\x00é", "us", "east", "-1"])


@given(value=st.lists(REGION_PIECES, max_size=10).map("".join) | st.text(max_size=12))
@settings(max_examples=300, deadline=None)
def test_a_region_is_accepted_exactly_when_botocore_accepts_it_and_then_only_names_aws(value: str) -> None:
    """Botocore's own check (utils.validate_region_name) agrees, but where its `$` lets a final line break through;
    and an accepted region always gives AWS's host, no user, no port, no path."""
    from botocore.exceptions import InvalidRegionError
    from botocore.utils import validate_region_name

    code: str | None = None
    try:
        url = endpoint_url({"AWS_REGION": value})
    except AwsConfigError as error:
        code = error.code
        ours = False
    else:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port, parts.path) == (
            "https",
            f"secretsmanager.{value.strip().lower()}.amazonaws.com",
            None,
            "",
        )
        assert parts.username is None and not parts.query and not parts.fragment
        ours = True
    assert code in (None, "InvalidRegion", "NoRegion")
    stripped = value.strip()
    if stripped and not stripped.endswith("\n"):
        try:
            validate_region_name(stripped)
        except InvalidRegionError:
            theirs = False
        else:
            theirs = True
        assert ours == theirs, stripped


@pytest.mark.parametrize("variable", ENDPOINT_VARIABLES)
@pytest.mark.parametrize("spelling", ["{url}", "{url}/", " {url} ", "HTTP://localhost:{port}"])
def test_a_valid_region_and_each_endpoint_override_read_from_moto(moto: Moto, variable: str, spelling: str) -> None:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto.url,
        region_name="eu-west-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"tvm/override-{ENDPOINT_VARIABLES.index(variable)}"
    if not client.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]:
        client.create_secret(Name=name, SecretString="the-key")
    port = str(urlsplit(moto.url).port)
    environ = keys_only(AWS_DEFAULT_REGION="eu-west-3", **{variable: spelling.format(url=moto.url, port=port)})
    assert read(name, timeout=1.0, environ=environ) == "the-key"


# ---------------------------------------------------------------- one interface, two clients (issue 21)
# The library's AWS-backed code takes an `AwsJsonClient`: the Lambda passes the standard-library one, an embedded app
# a boto3-backed one. The same calls against the same moto server must answer the same way through both.

CLIENT_KINDS = ["stdlib", "boto3"]


def json_client(kind: str, service: aws_json.Service, url: str) -> aws_json.AwsJsonClient:
    if kind == "stdlib":
        variable = service.endpoint_variables[-2]  # AWS_ENDPOINT_URL_<SERVICE>, botocore's own name for it
        environ = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        return StdlibAwsClient(service, timeout=5.0, environ=environ | {variable: url})
    from botocore.config import Config

    from momento_tvm.aws_boto3 import Boto3JsonClient

    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=5)
    return Boto3JsonClient(
        boto3.client(
            service.name,
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
    )


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_both_clients_read_a_secret_and_name_a_missing_one_alike(kind: str, moto: Moto) -> None:
    client = json_client(kind, SECRETS_MANAGER, moto.url)
    client.call("CreateSecret", {"Name": "tvm/both", "SecretString": "the-key\u00e9"})
    assert aws_json.get_secret_string(client, "tvm/both") == "the-key\u00e9"
    answer = client.call("GetSecretValue", {"SecretId": "tvm/both"})
    assert isinstance(answer["CreatedDate"], int | float) and "ResponseMetadata" not in answer  # epoch seconds
    with pytest.raises(AwsError) as raised:
        aws_json.get_secret_string(client, "tvm/none-such")
    assert (raised.value.code, raised.value.from_aws) == ("ResourceNotFoundException", True)
    assert str(raised.value) == "ResourceNotFoundException"
    error = raised.value  # no chained botocore or http.client exception, which could carry the message, either
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_both_clients_speak_dynamodb_alike(kind: str, moto: Moto) -> None:
    """What the issuance and revocation stores will do: a table, a conditional update, a read back."""
    client = json_client(kind, aws_json.DYNAMODB, moto.url)
    client.call(
        "CreateTable",
        {
            "TableName": "tvm-both",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    update = {
        "TableName": "tvm-both",
        "Key": {"pk": {"S": "alice"}},
        "UpdateExpression": "ADD vends :one",
        "ConditionExpression": "attribute_not_exists(vends) OR vends < :limit",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":limit": {"N": "2"}},
        "ReturnValues": "ALL_NEW",
    }
    assert client.call("UpdateItem", update)["Attributes"] == {"pk": {"S": "alice"}, "vends": {"N": "1"}}
    assert client.call("UpdateItem", update)["Attributes"]["vends"] == {"N": "2"}
    with pytest.raises(AwsError) as raised:
        client.call("UpdateItem", update)
    assert (raised.value.code, raised.value.from_aws) == ("ConditionalCheckFailedException", True)
    item = client.call("GetItem", {"TableName": "tvm-both", "Key": {"pk": {"S": "alice"}}, "ConsistentRead": True})
    assert item == {"Item": {"pk": {"S": "alice"}, "vends": {"N": "2"}}}
    assert client.call("GetItem", {"TableName": "tvm-both", "Key": {"pk": {"S": "bob"}}}) == {}


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_both_clients_fail_without_text_when_nothing_answers(kind: str) -> None:
    with listening() as (port, _reached):
        pass  # closed again: nothing listens on the port now
    client = json_client(kind, SECRETS_MANAGER, f"http://127.0.0.1:{port}")
    with pytest.raises(AwsError) as raised:
        client.call("GetSecretValue", {"SecretId": "x"})
    assert (raised.value.code, raised.value.from_aws) == ("ConnectionError", False)
    assert str(raised.value) == "ConnectionError" and raised.value.__cause__ is None


@pytest.mark.parametrize("kind", CLIENT_KINDS)
def test_both_clients_refuse_an_unknown_operation_before_sending(kind: str) -> None:
    client = json_client(kind, SECRETS_MANAGER, "http://127.0.0.1:9")
    with pytest.raises(ValueError, match="operation"):
        client.call("get_secret_value" if kind == "stdlib" else "NoSuchOperation", {})
