"""The credentials authorizer: Basic credentials against a hashed users store in (moto's) Secrets Manager.

The handler is loaded by file path under its own module name, fresh for each test, because the vending function also
has an `app.py`. Each test's warm container is an `Authorizer` over a `UsersCache` it builds (its clock, a fetch that
counts the reads), as the module builds its own at import: nothing in the module is patched. Hash work is checked by
counting `hashlib.scrypt` calls, never by timing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.aws_moto import Moto
from tvm_users.demo import hashed_store_from_demo_file, load_demo_users
from tvm_users.passwords import DEFAULT_N, ScryptParams, hash_password, verify_password
from tvm_users.store import UsersStore, authenticate, dumps_store, loads_store

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "authorizers" / "credentials" / "app.py"
EVENTS = ROOT / "events" / "authorizer"
DEMO_USERS = ROOT / "local" / "demo_users.json"
CHEAP = ScryptParams(n=16, r=8, p=1)  # tests only: production is n=2**14
TTL = 300
DENY = {"isAuthorized": False}
DENY_EVENTS = ["wrong_password", "unknown_user", "malformed_basic", "bearer_scheme", "missing_header"]


class Clock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counter:
    """Wraps a function and records each call's keyword arguments."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.function(*args, **kwargs)

    @property
    def count(self) -> int:
        return len(self.calls)

    def reset(self) -> None:
        self.calls.clear()


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def basic(credentials: str | bytes) -> str:
    raw = credentials.encode() if isinstance(credentials, str) else credentials
    return "Basic " + base64.b64encode(raw).decode()


def event_with(authorization: str | None, header_name: str = "authorization") -> dict[str, Any]:
    """The valid event with another Authorization value, given only as a header (no identitySource)."""
    event = load_event("valid_alice")
    del event["identitySource"]
    event["headers"].pop("authorization")
    if authorization is not None:
        event["headers"][header_name] = authorization
    return event


def load_authorizer() -> ModuleType:
    """A fresh copy of the handler module: a new warm container with empty caches and a new cache key."""
    spec = importlib.util.spec_from_file_location("credentials_authorizer_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no endpoint override: a test that reads a secret names moto's server."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "SECRETS_MANAGER_ENDPOINT",
        "USERS_SECRET_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AUTH_CACHE_TTL_SECONDS", str(TTL))


@pytest.fixture(scope="module")
def demo_store_json() -> str:
    text: str = hashed_store_from_demo_file(DEMO_USERS, params=CHEAP)
    return text


@pytest.fixture
def secretsmanager(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A clean moto Secrets Manager (a real server: the authorizer's own SigV4 client talks HTTP, which the in-process
    mock would not see), the one SECRETS_MANAGER_ENDPOINT names (as under sam local)."""
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", moto.url)
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto.url)


@pytest.fixture
def users_secret(secretsmanager: Any, demo_store_json: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo users (alice, bob, viewer), cheaply hashed, in a real (moto) secret named by USERS_SECRET_ARN."""
    arn: str = secretsmanager.create_secret(Name="tvm-users", SecretString=demo_store_json)["ARN"]
    monkeypatch.setenv("USERS_SECRET_ARN", arn)
    return arn


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def module() -> Iterator[ModuleType]:
    """The authorizer's module, freshly loaded."""
    loaded = load_authorizer()
    yield loaded
    sys.modules.pop("credentials_authorizer_app", None)


@pytest.fixture
def fetches(module: ModuleType) -> Counter:
    """Counts reads of the users secret (the module's own fetch, wrapped)."""
    return Counter(module.fetch_users_store)


@pytest.fixture
def authorizer(module: ModuleType, fetches: Counter, clock: Clock) -> Any:
    """A fresh warm container: the module's Authorizer over a users cache on the test's clock, reads counted."""
    return module.Authorizer(module.UsersCache(fetches, clock=clock))


def unavailable_error(authorizer: Any) -> Any:
    """AuthorizerUnavailableError of the authorizer's own module copy (a module, or an Authorizer built from one)."""
    return authorizer.handler.__globals__["AuthorizerUnavailableError"]


@pytest.fixture
def scrypt(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts the slow hash: every call to hashlib.scrypt, with its parameters."""
    counter = Counter(hashlib.scrypt)
    monkeypatch.setattr(hashlib, "scrypt", counter)
    return counter


# --- decisions --------------------------------------------------------------------------------------------------


def test_good_credentials_are_allowed_with_username_and_groups(authorizer: Any, users_secret: str) -> None:
    response = authorizer.handler(load_event("valid_alice"), None)
    assert response == {"isAuthorized": True, "context": {"username": "alice", "groups": "readwrite"}}
    assert all(isinstance(value, str) for value in response["context"].values())


def test_the_valid_event_carries_the_demo_password() -> None:
    """One source of truth for demo credentials: the event is built from local/demo_users.json."""
    password, groups = load_demo_users(DEMO_USERS)["alice"]
    assert load_event("valid_alice")["identitySource"] == [basic(f"alice:{password}")]
    assert groups == ("readwrite",)


@pytest.mark.parametrize("name", DENY_EVENTS)
def test_bad_or_missing_credentials_are_denied(authorizer: Any, users_secret: str, name: str) -> None:
    assert authorizer.handler(load_event(name), None) == DENY


@pytest.mark.parametrize(
    ("user", "password", "groups"),
    [("bob", "bob-password", "readwrite"), ("viewer", "viewer-password", "readonly")],
)
def test_every_demo_user_gets_their_groups(
    authorizer: Any, users_secret: str, user: str, password: str, groups: str
) -> None:
    response = authorizer.handler(event_with(basic(f"{user}:{password}")), None)
    assert response == {"isAuthorized": True, "context": {"username": user, "groups": groups}}


@pytest.mark.parametrize("header_name", ["authorization", "Authorization", "AUTHORIZATION"])
def test_the_header_is_found_in_any_case_without_identity_source(
    authorizer: Any, users_secret: str, header_name: str
) -> None:
    response = authorizer.handler(event_with(basic("alice:alice-password"), header_name), None)
    assert response["isAuthorized"] is True


@pytest.mark.parametrize("value", ["basic {}", "BASIC {}", "Basic   {}  ", "  Basic {}"])
def test_the_scheme_is_case_insensitive_and_spaces_are_tolerated(
    authorizer: Any, users_secret: str, value: str
) -> None:
    token = base64.b64encode(b"alice:alice-password").decode()
    assert authorizer.handler(event_with(value.format(token)), None)["isAuthorized"] is True


def test_a_password_may_contain_colons_and_unicode(
    authorizer: Any, secretsmanager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "pa:ss wörd:☃"
    store = UsersStore().with_user("carol", hash_password(password, params=CHEAP), ["readwrite", "editors"])
    arn = secretsmanager.create_secret(Name="users", SecretString=dumps_store(store))["ARN"]
    monkeypatch.setenv("USERS_SECRET_ARN", arn)
    response = authorizer.handler(event_with(basic(f"carol:{password}".encode())), None)
    assert response == {"isAuthorized": True, "context": {"username": "carol", "groups": "readwrite,editors"}}


def test_a_user_in_no_group_gets_an_empty_groups_string(
    authorizer: Any, secretsmanager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = UsersStore().with_user("dave", hash_password("dave-password", params=CHEAP), [])
    monkeypatch.setenv(
        "USERS_SECRET_ARN", secretsmanager.create_secret(Name="u", SecretString=dumps_store(store))["ARN"]
    )
    response = authorizer.handler(event_with(basic("dave:dave-password")), None)
    assert response == {"isAuthorized": True, "context": {"username": "dave", "groups": ""}}


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("", id="empty"),
        pytest.param("Basic", id="scheme-only"),
        pytest.param("Basic ", id="scheme-and-space"),
        pytest.param("Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ", id="missing-padding"),
        pytest.param("Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=,Basic Ym9iOmJvYi1wYXNzd29yZA==", id="two-headers-joined"),
        pytest.param("Basic\tYWxpY2U6YWxpY2UtcGFzc3dvcmQ=", id="tab-separated"),
        pytest.param("Basicc YWxpY2U6YWxpY2UtcGFzc3dvcmQ=", id="wrong-scheme"),
        pytest.param("Digest username=alice", id="digest"),
        pytest.param("Bearer YWxpY2U6YWxpY2UtcGFzc3dvcmQ=", id="bearer-with-basic-token"),
        pytest.param("Basic ÿÿÿÿ", id="non-ascii-token"),
        pytest.param(basic(b"alice"), id="no-colon"),
        pytest.param(basic(b"alice:"), id="empty-password"),
        pytest.param(basic(b":alice-password"), id="empty-username"),
        pytest.param(basic(b"al\xffice:alice-password"), id="non-utf8"),
        pytest.param(basic(b"alice\n:alice-password"), id="newline-in-username"),
        pytest.param(basic(b"al ice:alice-password"), id="space-in-username"),
        pytest.param(basic("a" * 65 + ":alice-password"), id="65-char-username"),
        pytest.param(basic("alice:" + "x" * 1025), id="over-long-password"),
        pytest.param("Basic " + "A" * 5000, id="over-long-header"),
    ],
)
def test_malformed_credentials_are_denied_without_hash_work(
    authorizer: Any, users_secret: str, scrypt: Counter, authorization: str
) -> None:
    assert authorizer.handler(event_with(authorization), None) == DENY
    assert scrypt.count == 0


def test_a_nul_padded_password_is_denied_after_the_same_hash_work(
    authorizer: Any, users_secret: str, scrypt: Counter
) -> None:
    """The reproduction: `alice:alice-password\\0` was allowed as alice (scrypt's HMAC zero-pads the key)."""
    assert authorizer.handler(load_event("wrong_password"), None) == DENY
    wrong = [(call["n"], call["r"], call["p"], call["dklen"]) for call in scrypt.calls]
    scrypt.reset()
    assert authorizer.handler(load_event("nul_padded_password"), None) == DENY
    assert [(call["n"], call["r"], call["p"], call["dklen"]) for call in scrypt.calls] == wrong
    for padding in ("\0\0", "\0" * 43):
        assert authorizer.handler(event_with(basic(f"alice:alice-password{padding}")), None) == DENY


def test_no_guest_identity_can_be_forged(authorizer: Any, module: ModuleType, users_secret: str) -> None:
    """Usernames never contain ':', so `guest:x` can be neither a stored user nor a parsed one."""
    with pytest.raises(ValueError, match="invalid username"):
        UsersStore().with_user("guest:x", hash_password("pw", params=CHEAP), [])
    assert module._parse_basic(basic("guest:x:pw")) == ("guest", "x:pw")
    assert authorizer.handler(event_with(basic("guest:x:alice-password")), None) == DENY


@pytest.mark.parametrize(
    "event",
    [None, [], "Basic x", {"identitySource": "Basic x"}, {"identitySource": [None]}, {"headers": ["authorization"]}],
)
def test_events_of_the_wrong_shape_are_denied(authorizer: Any, users_secret: str, event: object) -> None:
    assert authorizer.handler(event, None) == DENY


def test_identity_source_wins_over_the_header(authorizer: Any, users_secret: str) -> None:
    """The gateway caches on the identity source, so that is the value verified."""
    event = load_event("valid_alice")
    event["headers"]["authorization"] = basic("alice:wrong")
    assert authorizer.handler(event, None)["isAuthorized"] is True


# --- equal hash work --------------------------------------------------------------------------------------------


def test_unknown_users_cost_exactly_the_hash_work_of_a_wrong_password(
    authorizer: Any, users_secret: str, scrypt: Counter
) -> None:
    assert authorizer.handler(load_event("wrong_password"), None) == DENY
    wrong_password = list(scrypt.calls)
    scrypt.reset()
    assert authorizer.handler(load_event("unknown_user"), None) == DENY
    unknown_user = list(scrypt.calls)
    scrypt.reset()
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True
    good = list(scrypt.calls)
    assert len(wrong_password) == len(unknown_user) == len(good) == 1
    strip = [{key: value for key, value in call.items() if key != "salt"} for call in (*wrong_password, *unknown_user)]
    assert strip[0] == strip[1]  # same n, r, p, maxmem and output length


def test_equal_hash_work_with_the_production_parameters(
    authorizer: Any, secretsmanager: Any, monkeypatch: pytest.MonkeyPatch, scrypt: Counter
) -> None:
    store = UsersStore().with_user("alice", hash_password("alice-password"), ["readwrite"])
    scrypt.reset()
    monkeypatch.setenv(
        "USERS_SECRET_ARN", secretsmanager.create_secret(Name="u", SecretString=dumps_store(store))["ARN"]
    )
    assert authorizer.handler(load_event("unknown_user"), None) == DENY
    assert authorizer.handler(load_event("wrong_password"), None) == DENY
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True
    assert [(call["n"], call["r"], call["p"], call["dklen"]) for call in scrypt.calls] == [(DEFAULT_N, 8, 1, 32)] * 3


def test_authenticate_checks_unknown_users_against_a_dummy_of_the_same_cost(scrypt: Counter) -> None:
    store = UsersStore().with_user("alice", hash_password("alice-password", params=CHEAP), ["readwrite"])
    scrypt.reset()
    assert authenticate(store, "alice", "alice-password") == ("alice", ("readwrite",))
    assert authenticate(store, "alice", "nope") is None
    assert authenticate(store, "nobody", "alice-password") is None
    assert authenticate(store, "nobody", "x" * 5000) is None  # an over-long password still costs the same
    assert [call["n"] for call in scrypt.calls] == [CHEAP.n] * 4
    assert store.dummy.params == CHEAP


# --- the warm cache ---------------------------------------------------------------------------------------------


def test_a_repeated_request_is_not_verified_again(
    authorizer: Any, users_secret: str, scrypt: Counter, fetches: Counter, clock: Clock
) -> None:
    event = load_event("valid_alice")
    assert authorizer.handler(event, None)["isAuthorized"] is True
    assert (scrypt.count, fetches.count) == (1, 1)
    clock.now += TTL - 1
    assert authorizer.handler(event, None)["context"] == {"username": "alice", "groups": "readwrite"}
    assert (scrypt.count, fetches.count) == (1, 1)


def test_the_cache_expires_after_the_gateway_cache_time(
    authorizer: Any, users_secret: str, scrypt: Counter, fetches: Counter, clock: Clock
) -> None:
    event = load_event("valid_alice")
    authorizer.handler(event, None)
    clock.now += TTL
    assert authorizer.handler(event, None)["isAuthorized"] is True
    assert (scrypt.count, fetches.count) == (2, 2)


@pytest.mark.parametrize(("ttl", "lifetime"), [(60, 60), (300, 300), (3600, 300)])
def test_cached_results_never_outlive_the_ttl_or_the_store_snapshot(
    authorizer: Any,
    users_secret: str,
    scrypt: Counter,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    ttl: int,
    lifetime: int,
) -> None:
    monkeypatch.setenv("AUTH_CACHE_TTL_SECONDS", str(ttl))
    event = load_event("valid_alice")
    authorizer.handler(event, None)
    clock.now += lifetime - 0.5
    authorizer.handler(event, None)
    assert scrypt.count == 1
    clock.now += 0.5
    authorizer.handler(event, None)
    assert scrypt.count == 2


@pytest.mark.parametrize("ttl", ["0", "", "not-a-number", "-5"])
def test_no_caching_when_the_gateway_does_not_cache(
    authorizer: Any,
    users_secret: str,
    scrypt: Counter,
    fetches: Counter,
    monkeypatch: pytest.MonkeyPatch,
    ttl: str,
) -> None:
    monkeypatch.setenv("AUTH_CACHE_TTL_SECONDS", ttl)
    event = load_event("valid_alice")
    assert authorizer.handler(event, None)["isAuthorized"] is True
    assert authorizer.handler(event, None)["isAuthorized"] is True
    assert (scrypt.count, fetches.count) == (2, 2)


def test_the_cache_is_keyed_by_the_whole_header(
    authorizer: Any, users_secret: str, scrypt: Counter, fetches: Counter
) -> None:
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True
    assert authorizer.handler(load_event("wrong_password"), None) == DENY
    assert authorizer.handler(event_with(basic("bob:bob-password")), None)["context"]["username"] == "bob"
    assert (scrypt.count, fetches.count) == (3, 1)


def test_the_cache_holds_keyed_digests_not_headers(authorizer: Any, users_secret: str) -> None:
    header = load_event("valid_alice")["identitySource"][0]
    authorizer.handler(load_event("valid_alice"), None)
    keys = list(authorizer.users.snapshot.results)
    assert len(keys) == 1 and len(keys[0]) == 32
    assert keys[0] != hashlib.sha256(header.encode()).digest()  # keyed, so not a plain hash of the header either
    assert header.encode() not in keys[0] and b"alice-password" not in repr(authorizer.users.snapshot).encode()
    other = load_authorizer()  # another container has another key
    assert other.authorizer.users.key != authorizer.users.key


def test_denials_are_not_cached(authorizer: Any, users_secret: str, scrypt: Counter) -> None:
    for _ in range(3):
        assert authorizer.handler(load_event("wrong_password"), None) == DENY
    assert scrypt.count == 3
    assert authorizer.users.snapshot.results == {}


def test_a_removed_user_is_denied_once_the_store_snapshot_expires(
    authorizer: Any, users_secret: str, secretsmanager: Any, clock: Clock
) -> None:
    event = load_event("valid_alice")
    assert authorizer.handler(event, None)["isAuthorized"] is True
    store = loads_store(secretsmanager.get_secret_value(SecretId=users_secret)["SecretString"])
    secretsmanager.put_secret_value(SecretId=users_secret, SecretString=dumps_store(store.without_user("alice")))
    assert authorizer.handler(event, None)["isAuthorized"] is True  # still within the cache time
    clock.now += TTL
    assert authorizer.handler(event, None) == DENY


def test_the_result_cache_is_bounded(module: ModuleType, fetches: Counter, clock: Clock, users_secret: str) -> None:
    authorizer = module.Authorizer(module.UsersCache(fetches, clock=clock, max_results=2))
    for user, password in [("alice", "alice-password"), ("bob", "bob-password"), ("viewer", "viewer-password")]:
        assert authorizer.handler(event_with(basic(f"{user}:{password}")), None)["isAuthorized"] is True
    assert [hit.username for hit in authorizer.users.snapshot.results.values()] == ["bob", "viewer"]


# --- Secrets Manager and configuration failures: the authorizer fails (a 500, never cached), it does not deny ---


def decision_lines(caplog: Any) -> list[dict[str, Any]]:
    return [
        line
        for line in (json.loads(record.getMessage()) for record in caplog.records if record.name == "tvm.authorizer")
        if line["message"] == "authorizer decision"
    ]


def fails(authorizer: Any, event: object) -> BaseException:
    """Call the handler, expecting the function error that makes API Gateway answer 500 and cache nothing."""
    with pytest.raises(unavailable_error(authorizer)) as raised:
        authorizer.handler(event, None)
    error = raised.value
    assert str(error) == "the authorizer cannot check credentials now; its log line says why"
    assert error.__cause__ is None and error.__context__ is None  # no AWS error (or its message) rides along
    return error


def test_a_missing_secret_fails_and_is_retried(
    authorizer: Any, secretsmanager: Any, demo_store_json: str, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm-users-AbCdEf"
    monkeypatch.setenv("USERS_SECRET_ARN", arn)
    fails(authorizer, load_event("valid_alice"))
    assert decision_lines(caplog) == [
        {
            "message": "authorizer decision",
            "decision": "error",
            "reason": "users_store_unavailable",
            "error": "ResourceNotFoundException",  # a modeled ClientError subclass
            "error_code": "ResourceNotFoundException",
        }
    ]
    assert authorizer.users.snapshot is None  # nothing was cached: not the failure, not an empty store
    real = secretsmanager.create_secret(Name="tvm-users", SecretString=demo_store_json)["ARN"]
    monkeypatch.setenv("USERS_SECRET_ARN", real)
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True  # failures are not cached


@pytest.mark.parametrize("name", ["valid_alice", "wrong_password", "unknown_user"])
def test_without_the_store_no_credentials_are_denied(
    authorizer: Any, monkeypatch: pytest.MonkeyPatch, secretsmanager: Any, name: str
) -> None:
    """Right or wrong, credentials cannot be checked without the store: a deny would be cached as a wrong password."""
    monkeypatch.setenv("USERS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf")
    fails(authorizer, load_event(name))


@pytest.mark.parametrize("name", ["malformed_basic", "bearer_scheme", "missing_header"])
def test_bad_input_is_still_denied_without_the_store(
    authorizer: Any, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Credentials that can never be right need no store: they are denied (never a 5xx for bad input)."""
    monkeypatch.setenv("USERS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf")
    assert authorizer.handler(load_event(name), None) == DENY


def test_an_unreachable_secrets_manager_fails(authorizer: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    """No moto here: a real connection to a closed local port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("USERS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm-users-AbCdEf")
    caplog.set_level(logging.INFO)
    fails(authorizer, load_event("valid_alice"))
    [line] = decision_lines(caplog)
    assert (line["decision"], line["reason"], line["error"]) == (
        "error",
        "users_store_unavailable",
        "ConnectionError",
    )


def test_a_hung_secrets_manager_fails_within_the_deadline(
    authorizer: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """A port that accepts connections and never answers (what a stopped Secrets Manager looks like): the read's
    own deadline (1 s, one attempt) ends it well inside the function's 10 s timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshakes; nobody ever reads or writes
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("USERS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm-AbCdEf")
        caplog.set_level(logging.INFO)
        started = time.monotonic()
        fails(authorizer, load_event("valid_alice"))
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"the secret read took {elapsed:.1f} s to fail"
    [line] = decision_lines(caplog)
    assert (line["reason"], line["error"]) == ("users_store_unavailable", "Timeout")


def test_the_secret_read_has_an_explicit_deadline_and_one_attempt(
    authorizer: Any, module: ModuleType, users_secret: str
) -> None:
    assert (module.SECRETS_CONNECT_TIMEOUT_SECONDS, module.SECRETS_READ_TIMEOUT_SECONDS) == (1.0, 1.0)
    assert module.SECRETS_MAX_ATTEMPTS == 1
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_secrets_manager_endpoint_leaves_boto3s_default(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """Deployed, SECRETS_MANAGER_ENDPOINT is "": the client is exactly the one boto3 makes for the region."""
    if value is None:
        monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    else:
        monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", value)
    endpoint = module.secrets_manager_url()
    assert (
        endpoint == boto3.client("secretsmanager").meta.endpoint_url == "https://secretsmanager.us-east-1.amazonaws.com"
    )


def test_a_set_secrets_manager_endpoint_is_the_one_the_store_is_read_from(
    authorizer: Any, module: ModuleType, moto: Moto, demo_store_json: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `sam local` the template's SecretsManagerEndpoint is moto's URL: the users store is read there, whatever
    botocore's own variables say (here they name a closed port). A real moto server, not the in-process mock, which
    would answer whatever the endpoint."""
    store = boto3.client("secretsmanager", endpoint_url=moto.url)
    arn = store.create_secret(Name="tvm-users-endpoint", SecretString=demo_store_json)["ARN"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", moto.url)
    monkeypatch.setenv("USERS_SECRET_ARN", arn)
    assert module.secrets_manager_url() == moto.url
    decision = authorizer.handler(load_event("valid_alice"), None)
    assert decision["isAuthorized"] is True
    assert decision["context"]["username"] == "alice"


def test_an_invalid_store_fails(
    authorizer: Any, secretsmanager: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    caplog.set_level(logging.INFO)
    bad = json.dumps({"users": {"alice": {"password_hash": "plain-text!", "groups": ["readwrite"]}}})
    monkeypatch.setenv("USERS_SECRET_ARN", secretsmanager.create_secret(Name="u", SecretString=bad)["ARN"])
    fails(authorizer, load_event("valid_alice"))
    assert decision_lines(caplog)[-1]["reason"] == "users_store_invalid"
    assert "plain-text!" not in caplog.text


def test_no_secret_configured_fails(authorizer: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    fails(authorizer, load_event("valid_alice"))
    assert decision_lines(caplog)[-1]["reason"] == "not_configured"


def test_an_unexpected_error_fails_without_leaking(module: ModuleType, caplog: Any) -> None:
    """A bug is not a decision: nothing may be cached, and neither the log nor the error carries its message."""

    def explode() -> Any:
        raise RuntimeError("boom with alice-password inside")

    authorizer = module.Authorizer(module.UsersCache(explode))  # a bug in reading the store
    caplog.set_level(logging.INFO)
    error = fails(authorizer, load_event("valid_alice"))
    assert decision_lines(caplog)[-1] == {
        "message": "authorizer decision",
        "decision": "error",
        "reason": "internal_error",
        "error": "RuntimeError",
    }
    assert "alice-password" not in caplog.text and "alice-password" not in repr(error)


# --- a refresh that fails: the last good store allows for a bounded grace, and never denies --------------------


@pytest.fixture
def store_outage(
    authorizer: Any, users_secret: str, monkeypatch: pytest.MonkeyPatch, fetches: Counter, clock: Clock
) -> Callable[[], None]:
    """Warm the container with the store, then make every later read fail as Secrets Manager would."""
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True

    def break_reads() -> None:
        monkeypatch.setenv("USERS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")

    return break_reads


def test_a_failed_refresh_keeps_allowing_with_the_last_good_store(
    authorizer: Any,
    store_outage: Callable[[], None],
    fetches: Counter,
    scrypt: Counter,
    clock: Clock,
    caplog: Any,
) -> None:
    caplog.set_level(logging.INFO)
    store_outage()
    clock.now += TTL  # the store has aged out
    bob = event_with(basic("bob:bob-password"))
    assert authorizer.handler(bob, None)["context"]["username"] == "bob"
    assert fetches.count == 2  # the refresh was tried, and failed
    assert [line.get("store") for line in decision_lines(caplog)][-1] == "stale"
    refresh = [json.loads(r.getMessage()) for r in caplog.records if "refresh failed" in r.getMessage()]
    assert refresh == [
        {
            "message": "users store refresh failed: using the last good one",
            "reason": "users_store_unavailable",
            "error": "ResourceNotFoundException",
            "error_code": "ResourceNotFoundException",
        }
    ]
    # Within RETRY_AFTER_FAILURE_SECONDS no request pays for another failing read; results are not cached.
    scrypt.reset()
    assert authorizer.handler(bob, None)["isAuthorized"] is True
    assert (fetches.count, scrypt.count) == (2, 1)
    clock.now += authorizer.users.retry_after
    assert authorizer.handler(bob, None)["isAuthorized"] is True
    assert fetches.count == 3


@pytest.mark.parametrize("name", ["wrong_password", "unknown_user"])
def test_a_stale_store_never_denies(
    authorizer: Any, store_outage: Callable[[], None], clock: Clock, name: str, caplog: Any
) -> None:
    """The store that could not be read may hold a new user or a changed password: fail rather than deny."""
    caplog.set_level(logging.INFO)
    store_outage()
    clock.now += TTL
    fails(authorizer, load_event(name))
    assert decision_lines(caplog)[-1]["reason"] == "users_store_stale"


def test_the_last_good_store_is_dropped_after_its_grace(
    authorizer: Any, store_outage: Callable[[], None], clock: Clock
) -> None:
    store_outage()
    clock.now += TTL + authorizer.users.stale_for - 1
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True
    clock.now += 1
    fails(authorizer, load_event("valid_alice"))
    assert authorizer.users.snapshot is None


def test_a_store_that_comes_back_is_used_at_once(
    authorizer: Any,
    users_secret: str,
    store_outage: Callable[[], None],
    clock: Clock,
    fetches: Counter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_outage()
    clock.now += TTL
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True  # stale
    monkeypatch.setenv("USERS_SECRET_ARN", users_secret)
    clock.now += authorizer.users.retry_after
    assert authorizer.handler(load_event("wrong_password"), None) == DENY  # a fresh store denies again
    assert fetches.count == 3


def test_no_store_is_kept_when_the_gateway_does_not_cache(
    authorizer: Any, users_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With AUTH_CACHE_TTL_SECONDS=0 every request reads the store, so there is no last good one to fall back on."""
    monkeypatch.setenv("AUTH_CACHE_TTL_SECONDS", "0")
    assert authorizer.handler(load_event("valid_alice"), None)["isAuthorized"] is True
    monkeypatch.setenv("USERS_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")
    fails(authorizer, load_event("valid_alice"))


# --- logs -------------------------------------------------------------------------------------------------------


def test_logs_hold_decisions_and_never_credentials(
    authorizer: Any,
    users_secret: str,
    secretsmanager: Any,
    demo_store_json: str,
    clock: Clock,
    caplog: Any,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything the authorizer (which has no botocore now) could log
    for tooling in ("botocore", "boto3", "urllib3", "werkzeug"):  # this test's own client and moto log bodies
        monkeypatch.setattr(logging.getLogger(tooling), "level", logging.WARNING)
    events = [load_event(name) for name in ["valid_alice", "valid_alice", *DENY_EVENTS]]
    events += [event_with(basic(b"al ice:alice-password")), event_with(basic(b"\xff:x"))]
    for event in events:
        authorizer.handler(event, None)
    clock.now += TTL
    secretsmanager.put_secret_value(SecretId=users_secret, SecretString="not json")
    authorizer.handler(load_event("valid_alice"), None)

    captured = capsys.readouterr()
    text = caplog.text + captured.out + captured.err
    forbidden = {"alice-password", "not-alices-password", "mallory", "mallory-password", "not json"}
    for event in events:
        value = event.get("identitySource", [None])[0] or event["headers"].get("authorization")
        if value:
            token = value.split()[-1]
            forbidden |= {value, token}
            with contextlib.suppress(ValueError):
                forbidden.add(base64.b64decode(token, validate=True).decode("latin-1"))
    for user in json.loads(demo_store_json)["users"].values():
        _, _, _, _, salt, digest = user["password_hash"].split("$")
        forbidden |= {user["password_hash"], salt, digest}
    leaked = sorted(secret for secret in forbidden if secret and secret in text)
    assert leaked == []

    decisions = decision_lines(caplog)
    assert [(line["decision"], line["reason"], line.get("username")) for line in decisions] == [
        ("allow", "verified", "alice"),
        ("allow", "cached", "alice"),
        ("deny", "wrong_password", "alice"),
        ("deny", "unknown_user", None),
        ("deny", "malformed_credentials", None),
        ("deny", "unsupported_scheme", None),
        ("deny", "missing_credentials", None),
        ("deny", "invalid_username", None),
        ("deny", "malformed_credentials", None),
        ("allow", "verified", "alice"),  # the refresh found an invalid store: the last good one still allows
    ]
    assert decisions[-1]["store"] == "stale"


# --- robustness -------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
headers = st.one_of(
    st.text(max_size=200),
    st.builds(lambda s: "Basic " + s, st.text(max_size=100)),
    st.builds(lambda raw: "Basic " + base64.b64encode(raw).decode(), st.binary(max_size=120)),
    st.builds(lambda u, p: basic(f"{u}:{p}".encode("utf-8", "surrogatepass")), st.text(max_size=70), st.text()),
    st.sampled_from([basic("alice:alice-password"), basic("bob:wrong"), "Basic " + "=" * 4096]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=headers, as_identity_source=st.booleans())
def test_any_header_gives_a_simple_response(
    authorizer: Any, users_secret: str, header: str, as_identity_source: bool
) -> None:
    event = event_with(None)
    if as_identity_source:
        event["identitySource"] = [header]
    else:
        event["headers"]["authorization"] = header
    response = authorizer.handler(event, None)
    assert isinstance(response, dict) and isinstance(response["isAuthorized"], bool)
    if response["isAuthorized"]:
        assert header.split()[-1] in (basic("alice:alice-password").split()[-1],)
        assert set(response["context"]) == {"username", "groups"}
    else:
        assert response == DENY


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=json_values)
def test_any_event_gives_a_simple_response(authorizer: Any, users_secret: str, event: object) -> None:
    assert authorizer.handler(event, None) == DENY


# --- passwords and events ---------------------------------------------------------------------------------------


def test_production_hashes_are_self_describing_and_salted() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith(f"scrypt${DEFAULT_N}$8$1$") and first != second
    assert len(base64.b64decode(first.split("$")[4])) == 16
    assert verify_password("correct horse", first) and not verify_password("correct horsE", first)


@pytest.mark.parametrize("name", ["valid_alice", "nul_padded_password", *DENY_EVENTS])
def test_events_are_payload_2_0_authorizer_requests(name: str) -> None:
    event = load_event(name)
    assert (event["version"], event["type"], event["routeKey"], event["rawPath"]) == (
        "2.0",
        "REQUEST",
        "GET /token",
        "/token",
    )
    assert event["routeArn"].endswith("/$default/GET/token")
    context = event["requestContext"]
    assert {"accountId", "apiId", "domainName", "requestId", "routeKey", "stage", "time", "timeEpoch"} <= set(context)
    assert {"method", "path", "sourceIp", "userAgent"} <= set(context["http"])
    assert all(header == header.lower() for header in event["headers"])
    assert event.get("identitySource", [None])[0] == event["headers"].get("authorization")
    assert ("identitySource" in event) == (name != "missing_header")
