"""docs/api.md's claims about errors and explain, held to the code: every row of its error table is an error the
library raises with that status and code (and every such error has a row), and its `limits` example is what explain
answers for a fresh readwrite user under the deployed policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

from momento_tvm import VendingMachine, errors, verified_identity
from momento_tvm.limits import DEFAULT_LIMIT, InMemoryLimiter, RateLimit
from momento_tvm.minting import MintedToken

ROOT = Path(__file__).resolve().parents[2]
API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


def documented_errors() -> set[tuple[int, str]]:
    section = API_DOC.split("## Errors", 1)[1].split("\n\n", 2)[2]
    return {(int(status), code) for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", section, re.M)}


def raised_errors() -> set[tuple[int, str]]:
    found = set()
    stack = [errors.TvmError]
    while stack:
        kind = stack.pop()
        stack += kind.__subclasses__()
        if kind is not errors.TvmError:
            found.add((kind.status, kind.code))
    return found


def test_the_error_table_is_every_error_the_library_answers() -> None:
    # 404 not_found is the routes' own answer to an unknown path (no error class); 500 internal_error is TvmError's own
    # (a bug: momento_tvm.http.INTERNAL_ERROR).
    assert documented_errors() == raised_errors() | {(404, "not_found"), (500, "internal_error")}


def test_the_explain_limits_example_is_what_explain_answers() -> None:
    example = re.search(r"e\.g\. (`\{\"burst\".*?\}`)", API_DOC, re.S)
    assert example is not None
    documented = json.loads(" ".join(example.group(1).strip("`").split()))

    class Minter:
        def mint(self, grant: object) -> MintedToken:
            return MintedToken("t", 1_900_000_000, "127.0.0.1:1")

    vendor = VendingMachine(
        ROOT / "functions" / "token_vending" / "policy.yaml", Minter, cache_name="c", limiter=InMemoryLimiter()
    )
    alice = verified_identity("alice", ["readwrite"])
    vendor.vend(alice)
    assert vendor.explain(alice).to_json()["limits"] == documented


def test_the_default_limit_is_the_one_the_docs_give() -> None:
    assert "A tier without `limits` gets 5 at once, then one every\n12 s" in API_DOC
    assert RateLimit(5, 12.0) == DEFAULT_LIMIT


def test_the_readmes_error_list_is_every_error_the_library_answers() -> None:
    """The README's one-paragraph list of the function's error codes, each with its status, is the library's."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    paragraph = readme.split('The function\'s errors are `{"error": {"code", "message"}}`:', 1)[1].split(". ", 1)[0]
    listed = {(int(status), code) for code, status in re.findall(r"`([a-z_]+)` \((\d{3})", paragraph)}
    assert listed == raised_errors()
    for status, code in listed:
        if status in (429, 503):
            assert f"`{code}` ({status}, with `Retry-After`)" in paragraph
