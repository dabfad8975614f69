"""`python -m devstack token USER` when it cannot sign in: one line that names the URL it tried (MOTO_PORT, else
5000), so a user whose make dev runs moto on another port sees at once where the helper looked.

It used to say only "sign-in failed (EndpointConnectionError); is make dev AUTH=AmazonCognito running?".
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3

from tests.aws_moto import Moto

ROOT = Path(__file__).resolve().parents[2]


def token(username: str, moto_port: int, stdin: str = "") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "devstack", "token", username, *(["--password-stdin"] if stdin else [])]
    env = {**os.environ, "MOTO_PORT": str(moto_port)}
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_names_the_url_and_moto_port() -> None:
    port = free_port()
    done = token("alice", port)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f"devstack token: sign-in at http://127.0.0.1:{port} failed (EndpointConnectionError): is make dev "
        f"AUTH=AmazonCognito running, with its moto there? (MOTO_PORT={port}; make dev's ready block shows moto's URL)"
    ]


def test_a_wrong_password_or_an_unknown_user_names_the_url_too(moto: Moto) -> None:
    port = moto.port  # the suite's moto server, emptied
    cognito = boto3.client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    pool = cognito.create_user_pool(PoolName="local-users")["UserPool"]["Id"]
    cognito.create_user_pool_client(UserPoolId=pool, ClientName="site", ExplicitAuthFlows=["USER_PASSWORD_AUTH"])
    cognito.admin_create_user(UserPoolId=pool, Username="bob", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="bob", Password="Bob-Passw0rd!", Permanent=True)

    wrong = token("bob", port, stdin="not-bobs\n")
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr.splitlines() == [
        f"devstack token: sign-in of bob at http://127.0.0.1:{port} failed (NotAuthorizedException): check the "
        "username and the password"
    ]
    unknown = token("alice", port)  # a demo user this pool does not have
    assert unknown.returncode == 1 and f"sign-in of alice at http://127.0.0.1:{port} failed (" in unknown.stderr
    assert len(unknown.stderr.splitlines()) == 1
    right = token("bob", port, stdin="Bob-Passw0rd!\n")
    assert right.returncode == 0 and right.stdout.count(".") == 2, right.stderr  # a JWT


def test_a_moto_without_the_pool_names_its_url(moto: Moto) -> None:
    port = moto.port  # the suite's moto server, emptied: no pool
    done = token("alice", port)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"devstack token: the moto at http://127.0.0.1:{port} holds 0 user pool(s) and 0 app client(s), not one of "
        "each: is `make dev AUTH=AmazonCognito` running there (MOTO_PORT)?"
    ]
