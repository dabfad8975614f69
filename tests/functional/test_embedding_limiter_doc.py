"""docs/embedding.md's DynamoDB limiter snippet, run as written in the dev venv (it needs boto3, which the wheel's
fresh venvs do not have) against moto: the machine it builds counts a caller's tokens in the table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from momento_tvm import verified_identity
from momento_tvm.errors import RateLimitedError
from momento_tvm.minting import MintedToken
from tests.aws_moto import Moto
from tests.functional.test_dynamodb_limiter import create_table

ROOT = Path(__file__).resolve().parents[2]
EMBEDDING = ROOT / "docs" / "embedding.md"
POLICY = """version: 1
groups:
  - {group: members, tier: member}
tiers:
  member:
    topics: {role: publish_subscribe, names: ["room-*"]}
    ttl_seconds: 900
    max_ttl_seconds: 3600
    limits: {burst: 2, refill_seconds: 60}
"""


def snippet() -> str:
    section = EMBEDDING.read_text(encoding="utf-8").split("## Issuance limits", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def test_the_documented_dynamodb_limiter_counts_in_the_table(
    moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table(moto, "my-tvm-issuance")
    (tmp_path / "policy.yaml").write_text(POLICY)
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "AWS_ENDPOINT_URL_DYNAMODB": moto.url,  # boto3's own variable: the snippet's client is unchanged
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MOMENTO_API_KEY": "unused-here",
        "MOMENTO_ENDPOINT": "127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, object] = {}
    exec(compile(snippet(), str(EMBEDDING), "exec"), namespace)  # noqa: S102 - the documentation's own code
    machine = namespace["machine"]

    class Minter:
        def mint(self, grant: object) -> MintedToken:
            return MintedToken("t", 1_900_000_000, "127.0.0.1:1")

    machine._minter = Minter  # type: ignore[attr-defined]  # no Momento here: the limit is what is tried
    alice = verified_identity("alice", ["members"])
    assert [machine.vend(alice).allowance.remaining for _ in range(2)] == [1, 0]  # type: ignore[attr-defined]
    with pytest.raises(RateLimitedError):
        machine.vend(alice)  # type: ignore[attr-defined]
    item = moto.client("dynamodb").get_item(
        TableName="my-tvm-issuance", Key={"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}}
    )
    assert "tat" in item["Item"]
