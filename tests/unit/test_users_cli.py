"""The users store and its CLI (`python -m tvm_users`): local files, a secret by ARN, and a stack's users secret.

Here in-process, with no AWS: the AWS modes (against moto) and `python -m tvm_users` (a subprocess) are
tests/functional/test_users_cli.py, which shares this module's helpers. Hashes use a cheap scrypt cost through the
CLI's test-only TVM_SCRYPT_N override, except in the tests that check the production cost.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from tvm_users.__main__ import main
from tvm_users.demo import demo_store, hashed_store_from_demo_file, load_demo_users
from tvm_users.passwords import DEFAULT_N, ScryptParams, hash_password
from tvm_users.store import (
    UsersStore,
    UsersStoreError,
    authenticate,
    dumps_store,
    load_store,
    loads_store,
    parse_store,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO_USERS = ROOT / "local" / "demo_users.json"
CHEAP = ScryptParams(n=16)
PASSWORD = "s3cret-Passw0rd"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_ENDPOINT_URL_CLOUDFORMATION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("TVM_SCRYPT_N", str(CHEAP.n))


def run(monkeypatch: pytest.MonkeyPatch, capsys: Any, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    """main() in-process with the given stdin; (status, stdout, stderr). argparse usage errors become status 2."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    return tmp_path / "users.json"


# --- store format -----------------------------------------------------------------------------------------------


def test_the_store_round_trips_and_validates() -> None:
    store = UsersStore().with_user("alice", hash_password("pw", params=CHEAP), ["readwrite"])
    text = dumps_store(store)
    assert json.loads(text) == {
        "users": {"alice": {"password_hash": store.users["alice"].password_hash, "groups": ["readwrite"]}}
    }
    assert loads_store(text) == store
    assert loads_store('{"_comment": "x", "users": {}}') == UsersStore()
    assert "scrypt$" not in repr(store) and "scrypt$" not in repr(store.users["alice"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({}, "'users' must be an object"),
        ({"users": {}, "admins": {}}, "unknown top-level key"),
        ({"users": {"guest:x": {"password_hash": "h", "groups": []}}}, "invalid username"),
        ({"users": {"a" * 65: {"password_hash": "h", "groups": []}}}, "invalid username"),
        ({"users": {"alice": {"password": "plain", "groups": []}}}, "exactly the keys"),
        ({"users": {"alice": {"password_hash": "plain", "groups": []}}}, "invalid password_hash"),
        (
            {"users": {"alice": {"password_hash": "scrypt$3$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44, "groups": []}}},
            "power of two",
        ),
        (
            {
                "users": {
                    "alice": {"password_hash": "scrypt$1048576$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44, "groups": []}
                }
            },
            "power of two",
        ),
        ({"users": {"alice": {"password_hash": "GOOD", "groups": "readwrite"}}}, "a list"),
        ({"users": {"alice": {"password_hash": "GOOD", "groups": ["read,write"]}}}, "invalid group"),
        ({"users": {"alice": {"password_hash": "GOOD", "groups": ["a", "a"]}}}, "unique"),
    ],
)
def test_an_invalid_store_is_a_clear_error(data: Any, message: str) -> None:
    good = hash_password("pw", params=CHEAP)
    text = json.dumps(data).replace('"GOOD"', json.dumps(good))
    with pytest.raises(UsersStoreError, match=message) as info:
        loads_store(text)
    assert good not in str(info.value)


def test_invalid_json_is_a_clear_error() -> None:
    with pytest.raises(UsersStoreError, match="not valid JSON"):
        loads_store('{"users": ')


def test_the_dummy_hash_costs_what_most_users_cost() -> None:
    cheap, dear = hash_password("pw", params=CHEAP), hash_password("pw", params=ScryptParams(n=32))
    store = UsersStore().with_user("a", cheap, []).with_user("b", cheap, []).with_user("c", dear, [])
    assert store.dummy.params == CHEAP
    assert UsersStore().dummy.params == ScryptParams()  # empty store: the production cost
    assert parse_store({"users": {}}).dummy.params.n == DEFAULT_N


# --- demo users -------------------------------------------------------------------------------------------------


def test_the_demo_file_is_marked_as_demo_data_and_has_the_documented_users() -> None:
    data = json.loads(DEMO_USERS.read_text())
    assert "never deployed" in data["_comment"]
    assert {name: groups for name, (_, groups) in load_demo_users(DEMO_USERS).items()} == {
        "alice": ("readwrite",),
        "bob": ("readwrite",),
        "viewer": ("readonly",),
    }


def test_the_demo_file_becomes_a_hashed_store() -> None:
    text = hashed_store_from_demo_file(DEMO_USERS, params=CHEAP)
    store = loads_store(text)
    for name, (password, groups) in load_demo_users(DEMO_USERS).items():
        assert password not in text
        assert authenticate(store, name, password) == (name, groups)
    assert authenticate(store, "alice", "bob-password") is None


def test_the_demo_store_uses_the_production_cost_by_default() -> None:
    store = demo_store(DEMO_USERS)
    assert {record.decoded.params for record in store.users.values()} == {ScryptParams()}


# --- CLI: local file --------------------------------------------------------------------------------------------


def test_add_list_remove_in_a_file(monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path) -> None:
    status, out, err = run(
        monkeypatch,
        capsys,
        "add-user",
        "alice",
        "--group",
        "readwrite",
        "--file",
        str(users_file),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert status == 0, err
    assert "added user alice (groups: readwrite)" in out
    assert "TVM_SCRYPT_N=16 is weaker than production" in err
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    assert PASSWORD not in users_file.read_text()
    assert authenticate(load_store(users_file), "alice", PASSWORD) == ("alice", ("readwrite",))

    stdin = "viewer-passw0rd\r\n"
    assert (
        run(
            monkeypatch,
            capsys,
            "add-user",
            "viewer",
            "--group",
            "readonly",
            "--group",
            "extra",
            "--file",
            str(users_file),
            "--password-stdin",
            stdin=stdin,
        )[0]
        == 0
    )
    assert authenticate(load_store(users_file), "viewer", "viewer-passw0rd") == ("viewer", ("readonly", "extra"))

    status, out, _ = run(monkeypatch, capsys, "list-users", "--file", str(users_file))
    assert (status, out.splitlines()) == (0, ["alice   readwrite", "viewer  readonly,extra"])
    assert "scrypt" not in out

    status, out, _ = run(monkeypatch, capsys, "remove-user", "alice", "--file", str(users_file))
    assert (status, out.strip()) == (0, f"removed user alice from {users_file}")
    assert list(load_store(users_file).users) == ["viewer"]


def test_add_user_prompts_twice_when_not_reading_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path
) -> None:
    answers = iter([PASSWORD, PASSWORD])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert run(monkeypatch, capsys, "add-user", "bob", "--file", str(users_file))[0] == 0
    assert prompts == ["Password for bob: ", "Repeat the password: "]
    assert authenticate(load_store(users_file), "bob", PASSWORD) == ("bob", ())


def test_mismatched_prompts_are_an_error(monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    status, _, err = run(monkeypatch, capsys, "add-user", "bob", "--file", str(users_file))
    assert (status, err.splitlines()[-1]) == (2, "error: the passwords do not match")
    assert not users_file.exists()


def test_an_existing_user_needs_replace(monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path) -> None:
    add = ("add-user", "alice", "--group", "readwrite", "--file", str(users_file), "--password-stdin")
    assert run(monkeypatch, capsys, *add, stdin=PASSWORD)[0] == 0
    status, _, err = run(monkeypatch, capsys, *add, stdin="another-password")
    assert status == 2 and "already exists" in err and "--replace" in err
    status, out, _ = run(monkeypatch, capsys, *add, "--replace", stdin="another-password")
    assert status == 0 and out.startswith("replaced user alice")
    assert authenticate(load_store(users_file), "alice", "another-password") is not None


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["add-user", "guest:x", "--password-stdin"], PASSWORD, "invalid username 'guest:x'"),
        (["add-user", "a" * 65, "--password-stdin"], PASSWORD, "invalid username"),
        (["add-user", "alice", "--group", "read,write", "--password-stdin"], PASSWORD, "invalid group"),
        (["add-user", "alice", "--password-stdin"], "short", "a password must be 8 to 1024 characters"),
        (["add-user", "alice", "--password-stdin"], "", "a password must be"),
        (["remove-user", "nobody"], "", "no user 'nobody'"),
        (["remove-user", "bad name"], "", "invalid username"),
    ],
)
def test_input_errors_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path, argv: list[str], stdin: str, message: str
) -> None:
    users_file.write_text(dumps_store(UsersStore()))
    status, out, err = run(monkeypatch, capsys, *argv, "--file", str(users_file), stdin=stdin)
    assert status == 2 and message in err and out == ""
    assert PASSWORD not in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ["add-user", "alice"],
        ["list-users"],
        ["remove-user", "alice"],
        ["list-users", "--file", "a.json", "--secret-arn", "arn"],
        ["add-user", "--file", "a.json"],
        ["add-user", "alice", "--password", PASSWORD, "--file", "a.json"],
        [],
    ],
)
def test_usage_errors_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: Any, argv: list[str]) -> None:
    status, _, err = run(monkeypatch, capsys, *argv)
    assert status == 2 and "usage:" in err


def test_a_missing_file_is_an_error_except_for_the_first_add(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path
) -> None:
    status, _, err = run(monkeypatch, capsys, "list-users", "--file", str(users_file))
    assert status == 2 and "no such users file" in err


def test_a_corrupt_file_is_reported_not_overwritten(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path
) -> None:
    users_file.write_text('{"users": {"alice": {"passwd": "plain", "groups": []}}}')
    status, _, err = run(
        monkeypatch, capsys, "add-user", "bob", "--file", str(users_file), "--password-stdin", stdin=PASSWORD
    )
    assert status == 1 and "exactly the keys" in err
    assert "plain" in users_file.read_text()


def test_a_bad_scrypt_override_is_an_error(monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path) -> None:
    monkeypatch.setenv("TVM_SCRYPT_N", "1000")
    status, _, err = run(
        monkeypatch, capsys, "add-user", "bob", "--file", str(users_file), "--password-stdin", stdin=PASSWORD
    )
    assert status == 2 and "TVM_SCRYPT_N must be a power of two" in err


def test_the_cli_hashes_at_the_production_cost_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path
) -> None:
    monkeypatch.delenv("TVM_SCRYPT_N")
    status, _, err = run(
        monkeypatch, capsys, "add-user", "alice", "--file", str(users_file), "--password-stdin", stdin=PASSWORD
    )
    assert (status, err) == (0, "")
    assert load_store(users_file).users["alice"].password_hash.startswith(f"scrypt${DEFAULT_N}$8$1$")


def test_a_password_with_a_nul_is_refused_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path
) -> None:
    """scrypt would take "pw" and "pw\\0" for the same password; the CLI says so instead of crashing."""
    argv = ("add-user", "alice", "--file", str(users_file), "--password-stdin")
    status, _, err = run(monkeypatch, capsys, *argv, stdin=PASSWORD + "\0\n")
    assert status != 0
    assert "NUL" in err and "Traceback" not in err and PASSWORD not in err


# --- CLI: the demo file make dev reads ----------------------------------------------------------------------------


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    target = tmp_path / "demo_users.json"
    target.write_bytes(DEMO_USERS.read_bytes())
    target.chmod(0o644)
    return target


def test_the_demo_file_is_edited_in_its_own_format(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, demo_file: Path
) -> None:
    """`add-user --file local/demo_users.json` used to refuse the file ("expected exactly the keys ..."): it now keeps
    the demo format (plain-text passwords, comments, order, mode), so make dev reads what the CLI wrote."""
    original = demo_file.read_text()
    add = ("add-user", "carol", "--group", "readonly", "--file", str(demo_file), "--password-stdin")
    status, out, err = run(monkeypatch, capsys, *add, stdin="carol-password\n")
    assert status == 0, err
    assert out == f"added user carol (groups: readonly) in {demo_file} (the plain-text demo file)\n"
    assert "plain-text demo file make dev reads" in err and "stored as typed" in err
    assert "carol-password" not in out + err
    assert "TVM_SCRYPT_N" not in err  # nothing is hashed
    assert list(load_demo_users(demo_file).items())[-1] == ("carol", ("carol-password", ("readonly",)))
    assert list(load_demo_users(demo_file)) == ["alice", "bob", "viewer", "carol"]
    assert json.loads(demo_file.read_text())["_comment"] == json.loads(original)["_comment"]
    assert stat.S_IMODE(os.stat(demo_file).st_mode) == 0o644
    assert '    "carol": {"password": "carol-password", "groups": ["readonly"]}\n' in demo_file.read_text()

    assert run(monkeypatch, capsys, "list-users", "--file", str(demo_file))[:2] == (
        0,
        "alice   readwrite\nbob     readwrite\nviewer  readonly\ncarol   readonly\n",
    )
    status, _, err = run(monkeypatch, capsys, *add, stdin="other-password")
    assert status == 2 and "--replace" in err
    assert run(monkeypatch, capsys, *add, "--replace", stdin="other-password")[0] == 0
    assert load_demo_users(demo_file)["carol"] == ("other-password", ("readonly",))

    status, out, _ = run(monkeypatch, capsys, "remove-user", "carol", "--file", str(demo_file))
    assert status == 0 and out.startswith("removed user carol")
    assert demo_file.read_text() == original  # byte for byte: the checked-in file is the CLI's own format


def test_an_emptied_demo_file_stays_a_demo_file(monkeypatch: pytest.MonkeyPatch, capsys: Any, demo_file: Path) -> None:
    for name in ("alice", "bob", "viewer"):
        assert run(monkeypatch, capsys, "remove-user", name, "--file", str(demo_file))[0] == 0
    assert load_demo_users(demo_file) == {}
    add = ("add-user", "dave", "--file", str(demo_file), "--password-stdin")
    assert run(monkeypatch, capsys, *add, stdin="dave-password")[0] == 0
    assert load_demo_users(demo_file) == {"dave": ("dave-password", ())}


@pytest.mark.parametrize(
    ("users", "message"),
    [
        (
            {"a": {"password": "alice-password", "groups": []}, "b": {"password_hash": "x", "groups": []}},
            "password_hash",
        ),
        ({"alice": {"password": "short", "groups": []}}, "a password must be 8 to 1024 characters"),
        ({"a:b": {"password": "alice-password", "groups": []}}, "invalid username 'a:b'"),
        ({"alice": {"password": "alice-password", "groups": ["a,b"]}}, "groups must be unique names"),
    ],
)
def test_a_bad_demo_file_is_reported_not_overwritten(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, demo_file: Path, users: dict[str, Any], message: str
) -> None:
    demo_file.write_text(json.dumps({"users": users}))
    before = demo_file.read_text()
    add = ("add-user", "carol", "--file", str(demo_file), "--password-stdin")
    status, _, err = run(monkeypatch, capsys, *add, stdin="carol-password")
    assert status == 1 and message in err and "Traceback" not in err, err
    assert demo_file.read_text() == before


# --- CLI: AWS settings missing or wrong: one line, never a traceback -----------------------------------------------


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region and no credentials anywhere: not in the environment, not in a config or credentials file, and not
    in boto3's default session, which caches the credentials an earlier test in this process resolved."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_without_a_region_the_cli_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, no_aws_config: None
) -> None:
    """It used to be "error: AWS call failed: You must specify a region." (boto3's words), status 1."""
    for argv in (("list-users", "--stack", "tvm"), ("remove-user", "alice", "--stack", "tvm")):
        status, out, err = run(monkeypatch, capsys, *argv)
        assert (status, out) == (2, "")
        assert (
            err == "error: no AWS region: pass --region REGION, or set AWS_REGION (or a region in your AWS profile)\n"
        )


@pytest.mark.parametrize("name", ["guest", "Guest", "GUEST"])
def test_the_reserved_username_guest_is_refused_for_a_new_user(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path, name: str
) -> None:
    """The TVM refuses `guest` in any case (identity.RESERVED_USERNAMES): the CLI does not make a user it would
    refuse. Nothing is written."""
    status, _, err = run(
        monkeypatch, capsys, "add-user", name, "--file", str(users_file), "--password-stdin", stdin=PASSWORD
    )
    assert (status, err.splitlines()[-1]) == (
        2,
        f"error: the username {name!r} is reserved (Open-mode guests are 'guest:<name>'): choose another",
    )
    assert not users_file.exists()
    assert (
        run(monkeypatch, capsys, "add-user", "guests", "--file", str(users_file), "--password-stdin", stdin=PASSWORD)[0]
        == 0
    )


def test_a_store_that_already_holds_guest_still_loads_and_the_user_can_be_removed(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, users_file: Path
) -> None:
    """Reserving the name must not turn an existing store into an error for every user."""
    assert (
        run(monkeypatch, capsys, "add-user", "alice", "--file", str(users_file), "--password-stdin", stdin=PASSWORD)[0]
        == 0
    )
    document = json.loads(users_file.read_text())
    document["users"]["guest"] = document["users"]["alice"]
    users_file.write_text(json.dumps(document))
    assert sorted(load_store(users_file).users) == ["alice", "guest"]
    assert run(monkeypatch, capsys, "remove-user", "guest", "--file", str(users_file))[0] == 0
    assert list(load_store(users_file).users) == ["alice"]


def test_the_demo_file_refuses_the_reserved_username_guest() -> None:
    """make dev reads local/demo_users.json: a `guest` there would be a user the TVM refuses, so it is refused first."""
    from tvm_users.demo import parse_demo_users

    with pytest.raises(UsersStoreError, match=r"the username 'Guest' is reserved"):
        parse_demo_users({"users": {"Guest": {"password": "a-long-password", "groups": []}}})
