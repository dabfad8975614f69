"""The users secret under load: written compactly, refused before Secrets Manager's 64 KiB limit, and safe when two
administrators edit it at once (`python -m tvm_users add-user|remove-user --secret-arn`).

Secrets Manager has no compare-and-swap on a value; the CLI puts a new version staged AWSPENDING and then moves
AWSCURRENT to it with RemoveFromVersionId = the version it read, which fails if someone else moved AWSCURRENT first.
moto 5.2.5 enforces that (InvalidParameterException "Version stage AWSCURRENT not found in version ..."), so the
races here run against moto with the real boto3: the second administrator's command runs, in full, while the first
one is typing their password (or, for the give-up case, a plain PutSecretValue lands just before each move).
One moto deviation matters: its GetSecretValue without VersionStage keeps answering the version its own
PutSecretValue made current last, not the one UpdateSecretVersionStage moved AWSCURRENT to (AWS answers AWSCURRENT),
so these tests, the CLI and the authorizer ask for AWSCURRENT by name.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

import tvm_users.__main__ as cli_main
from tests.aws_moto import Moto
from tvm_users.__main__ import main
from tvm_users.passwords import ScryptParams, hash_password
from tvm_users.store import UserRecord, UsersStore, authenticate, dumps_store, loads_store

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "authorizers" / "credentials" / "app.py"
EVENTS = ROOT / "events" / "authorizer"
CHEAP = ScryptParams(n=16)
PASSWORD = "s3cret-Passw0rd"
REGION = "us-east-1"
LIMIT = 65_536  # Secrets Manager's SecretString quota, in bytes


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_CLOUDFORMATION",
        "SECRETS_MANAGER_ENDPOINT",
        "USERS_SECRET_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("TVM_SCRYPT_N", str(CHEAP.n))


@pytest.fixture
def aws(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's Secrets Manager (the suite's moto server, emptied), the CLI's through AWS_ENDPOINT_URL, and a client on
    it (the other administrator's, or the AWS console's)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    return boto3.client("secretsmanager", region_name=REGION)


def current(client: Any, arn: str) -> str:
    """The AWSCURRENT value, by name (see the module docstring for why)."""
    return str(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def stages(client: Any, arn: str) -> dict[str, list[str]]:
    return {
        version: sorted(labels)
        for version, labels in client.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
    }


def run(monkeypatch: pytest.MonkeyPatch, capsys: Any, *argv: str, stdin: Any = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin) if isinstance(stdin, str) else stdin)
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


class TypingMeanwhile:
    """Administrator A's stdin: while A is still typing their password, `meanwhile` (B's whole command) runs."""

    def __init__(self, text: str, meanwhile: Callable[[], None]) -> None:
        self.text = io.StringIO(text)
        self.meanwhile: Callable[[], None] | None = meanwhile

    def readline(self) -> str:
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return self.text.readline()


OTHER_PASSWORD = "0ther-Passw0rd"


def other_admin(*argv: str) -> Callable[[], None]:
    """B's command, run in full in this process (its own stdin), as if typed in another terminal."""

    def command() -> None:
        saved = sys.stdin
        sys.stdin = io.StringIO(OTHER_PASSWORD + "\n")
        try:
            assert main(list(argv)) == 0
        finally:
            sys.stdin = saved

    return command


def store_of(count: int, *, password_hash: str, name: str = "user{:04d}") -> UsersStore:
    return UsersStore({name.format(i): UserRecord.create(password_hash, ["readwrite"]) for i in range(count)})


def compact(store: UsersStore) -> str:
    return json.dumps(store.to_json_obj(), separators=(",", ":"), sort_keys=True)


# --- compact, and within the limit ------------------------------------------------------------------------------


def test_the_secret_is_written_compactly_and_files_stay_readable(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Any, tmp_path: Path
) -> None:
    """It used to be the indented form (about 184 bytes a user instead of 141): 356 users fitted, not 464."""
    arn = aws.create_secret(Name="tvm-users", SecretString=dumps_store(UsersStore()))["ARN"]
    argv = ("add-user", "alice", "--group", "readwrite", "--secret-arn", arn, "--password-stdin")
    assert run(monkeypatch, capsys, *argv, stdin=PASSWORD)[0] == 0
    value = current(aws, arn)
    assert value == json.dumps(json.loads(value), separators=(",", ":"), sort_keys=True)
    assert " " not in value and "\n" not in value

    hashed_file = tmp_path / "users.json"  # a hashed store in a file: still indented, for people to read
    assert (
        run(monkeypatch, capsys, "add-user", "alice", "--file", str(hashed_file), "--password-stdin", stdin=PASSWORD)[0]
        == 0
    )
    assert hashed_file.read_text().startswith('{\n  "users": {\n    "alice": {\n')
    demo_file = tmp_path / "demo_users.json"  # the demo file: its own format, one readable line per user
    demo_file.write_text('{"_format": "demo", "users": {}}\n')
    assert (
        run(monkeypatch, capsys, "add-user", "carol", "--file", str(demo_file), "--password-stdin", stdin=PASSWORD)[0]
        == 0
    )
    assert '    "carol": {"password": "s3cret-Passw0rd", "groups": []}' in demo_file.read_text().splitlines()


def test_the_documented_number_of_users_fits_with_production_hashes() -> None:
    """docs/deploy.md's figures, with a real production scrypt hash (n=2**14; every such hash has the same length):
    464 users of 8-character names in one group fit in the compact form; the indented form held 356."""
    from tvm_users.store import SECRET_STRING_LIMIT, UsersStoreTooLarge, secret_string

    assert SECRET_STRING_LIMIT == LIMIT
    production = hash_password("correct horse battery")
    assert len(production) == 86
    assert len(secret_string(store_of(464, password_hash=production))) <= SECRET_STRING_LIMIT
    with pytest.raises(UsersStoreTooLarge) as too_many:
        secret_string(store_of(465, password_hash=production))
    assert too_many.value.fit == 464
    assert len(dumps_store(store_of(356, password_hash=production)).encode()) <= LIMIT
    assert len(dumps_store(store_of(357, password_hash=production)).encode()) > LIMIT


def test_a_user_past_the_limit_is_refused_in_one_line_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Any
) -> None:
    """It used to write whatever it had (AWS then refuses the call; moto takes it), with no word of the limit."""
    cheap = hash_password("password", params=CHEAP)
    full = 1
    while len(compact(store_of(full + 1, password_hash=cheap))) <= LIMIT:
        full += 1
    text = compact(store_of(full, password_hash=cheap))
    arn = aws.create_secret(Name="tvm-users", SecretString=text)["ARN"]
    before = stages(aws, arn)
    new_name = f"user{full:04d}"  # the same length as the others: exactly `full` users of this size fit
    argv = ("add-user", new_name, "--group", "readwrite", "--secret-arn", arn, "--password-stdin")
    status, out, err = run(monkeypatch, capsys, *argv, stdin=PASSWORD)
    size = len(text) + len(text) // full  # one more record of the same size (and its comma)
    assert (status, out) == (2, "")
    [error] = [line for line in err.splitlines() if not line.startswith("warning: TVM_SCRYPT_N")]  # one line
    assert error.startswith(f"error: {arn}: the users store would be {size:,} bytes")
    assert f"({full + 1} users), over the 65,536-byte limit of a Secrets Manager secret" in error
    assert f"about {full} users of this size fit" in error and "AmazonCognito" in error
    assert error.endswith("; nothing was written")
    assert stages(aws, arn) == before and current(aws, arn) == text
    assert run(monkeypatch, capsys, "remove-user", "user0000", "--secret-arn", arn)[0] == 0  # removing still works


# --- two administrators at once --------------------------------------------------------------------------------


@pytest.mark.parametrize("initial", ['{"users": {}}', None], ids=["a store", "no value yet"])
def test_two_admins_adding_at_once_both_keep_their_user(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Any, initial: str | None
) -> None:
    """It used to be read, then rewrite: bob, added while alice's admin typed her password, was silently lost."""
    arn = aws.create_secret(Name="tvm-users", **({"SecretString": initial} if initial else {}))["ARN"]
    bob = other_admin("add-user", "bob", "--group", "readonly", "--secret-arn", arn, "--password-stdin")
    argv = ("add-user", "alice", "--group", "readwrite", "--secret-arn", arn, "--password-stdin")
    status, out, err = run(monkeypatch, capsys, *argv, stdin=TypingMeanwhile(PASSWORD + "\n", bob))
    assert status == 0, err
    assert out.splitlines()[-1] == f"added user alice (groups: readwrite) in {arn}"
    store = loads_store(current(aws, arn))
    assert authenticate(store, "alice", PASSWORD) == ("alice", ("readwrite",))
    assert authenticate(store, "bob", OTHER_PASSWORD) == ("bob", ("readonly",))
    assert "note: the users secret changed while you edited it (another change came first); applying yours" in err
    labels = sorted(label for version in stages(aws, arn).values() for label in version)
    assert labels.count("AWSCURRENT") == 1 and "AWSPENDING" not in labels  # no rotation left looking under way


def test_a_removal_and_an_addition_at_once_both_apply(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Any) -> None:
    cheap = hash_password("password", params=CHEAP)
    arn = aws.create_secret(Name="tvm-users", SecretString=dumps_store(store_of(2, password_hash=cheap)))["ARN"]
    dave = other_admin("add-user", "dave", "--secret-arn", arn, "--password-stdin")
    stdin = TypingMeanwhile("", dave)  # remove-user reads no password: B's command runs at A's first stdin read...
    monkeypatch.setattr(cli_main, "_target", _reading_stdin_after(cli_main._target, stdin))  # ...after A's read
    status, _, err = run(monkeypatch, capsys, "remove-user", "user0000", "--secret-arn", arn, stdin=stdin)
    assert status == 0, err
    assert sorted(loads_store(current(aws, arn)).users) == ["dave", "user0001"]


def _reading_stdin_after(target: Callable[[Any], Any], stdin: TypingMeanwhile) -> Callable[[Any], Any]:
    """`_target` whose `read` lets B's command run right after A has read the secret."""

    def wrapped(args: Any) -> Any:
        found = target(args)
        read = found.read

        def read_then_wait(*, missing_ok: bool) -> Any:
            store = read(missing_ok=missing_ok)
            stdin.readline()
            return store

        found.read = read_then_wait
        return found

    return wrapped


def test_a_secret_that_keeps_changing_is_a_one_line_error_after_five_attempts(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Any
) -> None:
    """Each time alice's edit is about to become current, another writer (the console, an old CLI: a plain
    PutSecretValue) gets there first; the CLI re-reads and re-applies 5 times, then gives up, its change not made."""
    arn = aws.create_secret(Name="tvm-users", SecretString='{"users": {}}')["ARN"]
    console = boto3.client("secretsmanager", region_name=REGION)
    cheap = hash_password("password", params=CHEAP)
    interruptions: list[int] = []

    def another_writer_first(params: dict[str, Any], **_: Any) -> None:
        if params.get("VersionStage") == "AWSCURRENT":
            interruptions.append(1)
            store = store_of(len(interruptions), password_hash=cheap, name="other{}")
            console.put_secret_value(SecretId=arn, SecretString=dumps_store(store))

    def client(service: str, region: str) -> Any:
        made = real_client(service, region)
        made.meta.events.register(
            "before-parameter-build.secrets-manager.UpdateSecretVersionStage", another_writer_first
        )
        return made

    real_client = cli_main._aws_client
    monkeypatch.setattr(cli_main, "_aws_client", client)
    argv = ("add-user", "alice", "--secret-arn", arn, "--password-stdin")
    status, out, err = run(monkeypatch, capsys, *argv, stdin=PASSWORD)
    assert (status, out) == (1, "")
    assert err.splitlines()[-1] == (
        "error: the users secret changed while you edited it, 5 times in a row; your change was not made: "
        "run the command again"
    )
    assert len(interruptions) == 5 and err.count("note: the users secret changed") == 4
    assert sorted(loads_store(current(aws, arn)).users) == [f"other{i}" for i in range(5)]
    labels = sorted(label for version in stages(aws, arn).values() for label in version)
    assert labels.count("AWSCURRENT") == 1 and "AWSPENDING" not in labels


# --- the authorizer reads what the CLI wrote --------------------------------------------------------------------


def load_authorizer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("credentials_authorizer_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def basic_event(username: str, password: str) -> dict[str, Any]:
    import base64

    event: dict[str, Any] = json.loads((EVENTS / "valid_alice.json").read_text())
    value = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    event["identitySource"] = [value]
    event["headers"]["authorization"] = value
    return event


def test_the_authorizer_lets_in_both_users_of_a_concurrent_edit(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, moto: Moto
) -> None:
    """End to end over HTTP: two CLI edits at once into a moto server's secret, then the authorizer (its own
    standard-library SigV4 client, reading AWSCURRENT) admits both users with their groups."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)  # the CLI (boto3)
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", moto.url)  # the authorizer
    client = boto3.client("secretsmanager", region_name=REGION)
    arn = client.create_secret(Name="tvm-users", SecretString=dumps_store(UsersStore()))["ARN"]
    bob = other_admin("add-user", "bob", "--group", "readonly", "--secret-arn", arn, "--password-stdin")
    argv = ("add-user", "alice", "--group", "readwrite", "--secret-arn", arn, "--password-stdin")
    assert run(monkeypatch, capsys, *argv, stdin=TypingMeanwhile(PASSWORD + "\n", bob))[0] == 0
    monkeypatch.setenv("USERS_SECRET_ARN", arn)
    authorizer = load_authorizer()
    try:
        for username, password, groups in (("alice", PASSWORD, "readwrite"), ("bob", OTHER_PASSWORD, "readonly")):
            response = authorizer.handler(basic_event(username, password), None)
            assert response == {"isAuthorized": True, "context": {"username": username, "groups": groups}}
    finally:
        sys.modules.pop("credentials_authorizer_app", None)


def test_a_local_secrets_manager_needs_no_aws_credentials(moto: Moto, tmp_path: Path) -> None:
    """With AWS_ENDPOINT_URL on this machine (a moto) and no AWS configuration at all, the users commands sign with
    dummy credentials, as `tvm_users cognito --endpoint-url` does; it used to stop at "no AWS credentials"."""
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto.url)
    arn = client.create_secret(Name="tvm-users", SecretString=dumps_store(UsersStore()))["ARN"]
    home = tmp_path / "home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env |= {"HOME": str(home), "AWS_ENDPOINT_URL": moto.url, "TVM_SCRYPT_N": str(CHEAP.n)}
    done = subprocess.run(
        [sys.executable, "-m", "tvm_users", "add-user", "alice", "--secret-arn", arn, "--password-stdin"],
        input=PASSWORD,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(loads_store(current(client, arn)).users) == ["alice"]
