"""The emulator plays Momento's auth quota when asked (`--auth-quota N`, `EmulatorConfig.auth_quota`): over N token
calls per second for the account, GenerateDisposableToken is RESOURCE_EXHAUSTED with Momento's `err` trailer
`operations_rate_limit_exceeded`, so the real `momento` SDK says LIMIT_EXCEEDED_ERROR, "Request rate limit exceeded
for this account", and the TVM's minter answers 429 `quota_exceeded` with a jittered Retry-After. Off by default.

The counting is a token bucket (local/momento_emulator/quota.py says why): from rest N calls pass at once, then N
per second.
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from momento import AuthClient, CredentialProvider
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.config.auth_configurations import AuthConfigurations
from momento.errors import MomentoErrorCode
from momento.responses import GenerateDisposableToken, GenerateDisposableTokenResponse
from momento.utilities import ExpiresIn
from momento_wire_types.generated import permissionmessages_pb2, token_pb2

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
from momento_emulator.__main__ import parse_args
from momento_emulator.quota import RateQuota
from momento_emulator.testing import EmulatorThread
from momento_tvm import Grant, TopicGrant
from momento_tvm.errors import QuotaExceededError
from momento_tvm.minting import MintedToken, MomentoMinter

CACHE = "chat"
RATE_LIMIT_WORDING = "Request rate limit exceeded for this account"  # the SDK's wording for the `err` trailer


def vend(client: AuthClient) -> GenerateDisposableTokenResponse:
    return client.generate_disposable_token(
        DisposableTokenScopes.topic_publish_subscribe(CACHE, "room"), ExpiresIn.seconds(60)
    )


def outcome(response: GenerateDisposableTokenResponse) -> str:
    """`ok`, or the SDK's error code and wording: what an application sees."""
    if isinstance(response, GenerateDisposableToken.Success):
        return "ok"
    assert isinstance(response, GenerateDisposableToken.Error), response
    return f"{response.error_code.name}: {response.inner_exception.message_wrapper}"


LIMITED = f"LIMIT_EXCEEDED_ERROR: {RATE_LIMIT_WORDING}"


@pytest.fixture
def quota_of_two() -> Iterator[EmulatorThread]:
    with EmulatorThread(EmulatorConfig(caches=(CACHE,), auth_quota=2)) as thread:
        yield thread


def auth_client(thread: EmulatorThread) -> AuthClient:
    provider = CredentialProvider(DEFAULT_API_KEY, thread.host, thread.host, thread.host, thread.grpc_port)
    return AuthClient(AuthConfigurations.Laptop.latest(), provider)


def test_the_sdk_gets_limit_exceeded_over_the_quota_and_tokens_again_after_a_second(
    quota_of_two: EmulatorThread,
) -> None:
    with auth_client(quota_of_two) as client:
        started = time.monotonic()
        burst = [vend(client) for _ in range(4)]
        took = time.monotonic() - started
        # The bucket refills one call every 0.5 s: the four calls must take less for the third and fourth to be over.
        assert took < 0.5, f"the burst took {took:.2f} s"
        assert [outcome(r) for r in burst] == ["ok", "ok", LIMITED, LIMITED]
        refused = burst[2]
        assert isinstance(refused, GenerateDisposableToken.Error)
        assert refused.inner_exception.error_code == MomentoErrorCode.LIMIT_EXCEEDED_ERROR
        details = refused.inner_exception.transport_details
        assert details is not None and details.grpc.metadata is not None
        assert details.grpc.metadata.get("err") == "operations_rate_limit_exceeded"  # Momento's trailer
        assert "operations" in details.grpc.details  # the word the SDKs fall back on when a proxy drops the trailer

        time.sleep(1.05)  # a second later the bucket is full again: two calls at once, not three
        assert [outcome(vend(client)) for _ in range(3)] == ["ok", "ok", LIMITED]


def test_calls_under_the_quota_all_succeed(quota_of_two: EmulatorThread) -> None:
    with auth_client(quota_of_two) as client:
        outcomes = []
        for _ in range(5):  # 5 calls at 1.67 per second, under 2 per second
            outcomes.append(outcome(vend(client)))
            time.sleep(0.6)
    assert outcomes == ["ok"] * 5


def test_every_authenticated_token_call_counts_whatever_its_outcome_and_no_unauthenticated_one(
    quota_of_two: EmulatorThread,
) -> None:
    """The quota is the account's: a call with an unknown key has no account; a malformed one of the account counts."""
    malformed = token_pb2._GenerateDisposableTokenRequest(auth_token=DEFAULT_API_KEY).SerializeToString()  # no expiry
    with grpc.insecure_channel(f"127.0.0.1:{quota_of_two.grpc_port}") as channel:
        call = channel.unary_unary(
            "/token.Token/GenerateDisposableToken", request_serializer=None, response_deserializer=None
        )
        codes = []
        for key in ("not-a-key", "not-a-key", "not-a-key", DEFAULT_API_KEY, DEFAULT_API_KEY):
            with pytest.raises(grpc.RpcError) as failed:
                call(malformed, timeout=5, metadata=(("authorization", key),))
            codes.append(failed.value.code())
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 3 + [grpc.StatusCode.INVALID_ARGUMENT] * 2
    with auth_client(quota_of_two) as client:
        assert outcome(vend(client)) == LIMITED  # the two malformed calls spent this second's quota


def test_reset_fills_the_quota_again(quota_of_two: EmulatorThread) -> None:
    with auth_client(quota_of_two) as client:
        assert [outcome(vend(client)) for _ in range(3)] == ["ok", "ok", LIMITED]
        quota_of_two.reset()
        assert [outcome(vend(client)) for _ in range(3)] == ["ok", "ok", LIMITED]


def test_the_quota_is_off_by_default() -> None:
    assert EmulatorConfig().auth_quota is None
    assert parse_args([]).auth_quota is None
    with EmulatorThread(EmulatorConfig(caches=(CACHE,))) as thread, auth_client(thread) as client:
        assert [outcome(vend(client)) for _ in range(20)] == ["ok"] * 20


def test_a_fractional_quota_is_a_rate() -> None:
    """0.5 per second: one call, then one every 2 s (a one-second window could not say it)."""
    now = [100.0]
    quota = RateQuota(0.5, clock=lambda: now[0])
    assert [quota.take(), quota.take()] == [True, False]
    now[0] += 1.9
    assert quota.take() is False
    now[0] += 0.1
    assert [quota.take(), quota.take()] == [True, False]
    now[0] += 60  # a long rest fills the bucket to one call, never more
    assert [quota.take(), quota.take()] == [True, False]


def test_the_flag_is_checked() -> None:
    for bad in ("0", "-1", "inf", "five"):
        run = subprocess.run(
            [sys.executable, "-m", "momento_emulator", "--auth-quota", bad],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert run.returncode == 2, (bad, run.stderr)
        assert "--auth-quota" in run.stderr


@pytest.fixture
def emulator_with_flag() -> Iterator[dict[str, object]]:
    """`python -m momento_emulator --auth-quota 1`, as `make dev` starts it (with 5), on free ports."""
    command = [sys.executable, "-m", "momento_emulator", "--grpc-port", "0", "--web-port", "0", "--cache", CACHE]
    command += ["--auth-quota", "1", "--log-level", "WARNING"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        ready: dict[str, object] = json.loads(process.stdout.readline())
        yield ready
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_the_tvm_minter_answers_quota_exceeded_with_a_jittered_retry_after(
    emulator_with_flag: dict[str, object],
) -> None:
    assert emulator_with_flag["auth_quota"] == 1
    minter = MomentoMinter(DEFAULT_API_KEY, f"127.0.0.1:{emulator_with_flag['grpc_port']}")
    grant = Grant("alice", "readwrite", "r", CACHE, 300, TopicGrant("publish_subscribe", CACHE, names=("room",)), None)
    try:
        assert isinstance(minter.mint(grant), MintedToken)
        waits: list[int] = []
        for _ in range(5):  # all within the second the first mint emptied
            with pytest.raises(QuotaExceededError) as refused:
                minter.mint(grant)
            assert refused.value.retry_after is not None
            waits.append(refused.value.retry_after)
            assert (refused.value.status, refused.value.code) == (429, "quota_exceeded")
            assert refused.value.to_json()["error"]["code"] == "quota_exceeded"
        assert all(1 <= wait <= 3 for wait in waits), waits
        time.sleep(1.05)
        assert isinstance(minter.mint(grant), MintedToken)  # the quota is per second: it passes again
    finally:
        minter.close()


def test_the_grpc_web_port_sends_the_same_status_and_err_trailer(emulator_with_flag: dict[str, object]) -> None:
    """What @gomomento/sdk-web reads (`metadata['err']` of the trailers) on the browser's port."""
    request = token_pb2._GenerateDisposableTokenRequest(
        auth_token=DEFAULT_API_KEY,
        expires=token_pb2._GenerateDisposableTokenRequest.Expires(valid_for_seconds=60),
        permissions=permissionmessages_pb2.Permissions(
            explicit=permissionmessages_pb2.ExplicitPermissions(
                permissions=[
                    permissionmessages_pb2.PermissionsType(
                        topic_permissions=permissionmessages_pb2.PermissionsType.TopicPermissions(
                            role=permissionmessages_pb2.TopicReadOnly,
                            cache_selector=permissionmessages_pb2.PermissionsType.CacheSelector(cache_name=CACHE),
                            all_topics=permissionmessages_pb2.PermissionsType.All(),
                        )
                    )
                ]
            )
        ),
    ).SerializeToString()
    body = base64.b64encode(struct.pack(">BI", 0, len(request)) + request)
    url = f"{emulator_with_flag['web_url']}/token.Token/GenerateDisposableToken"
    headers = {"Content-Type": "application/grpc-web-text", "authorization": DEFAULT_API_KEY, "X-Grpc-Web": "1"}

    def trailer() -> str:
        call = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (a local URL the test built)
        with urllib.request.urlopen(call, timeout=10) as response:  # noqa: S310
            raw = b"".join(base64.b64decode(unit + b"=" * (-len(unit) % 4)) for unit in response.read().split(b"="))
        offset = 0
        while offset < len(raw):
            flag, length = struct.unpack_from(">BI", raw, offset)
            if flag & 0x80:
                return raw[offset + 5 : offset + 5 + length].decode("ascii")
            offset += 5 + length
        raise AssertionError("no trailer frame")

    assert "grpc-status:0\r\n" in trailer()
    over = trailer()
    assert "grpc-status:8\r\n" in over  # RESOURCE_EXHAUSTED
    assert "err:operations_rate_limit_exceeded\r\n" in over
