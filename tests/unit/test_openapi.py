"""docs/openapi.yaml in this process: the document is valid OpenAPI 3.1, its error codes are the library's, docs/api.md
says the same, and the contract checker (tests/openapi_contract.py, which the replay of
tests/integration/test_openapi_replay.py uses on real answers) accepts what the code answers and refuses a renamed
field. The replay proves the document against the running stack; these tests fail first, and in under a second."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

import momento_tvm
from momento_tvm import errors
from momento_tvm.http import INTERNAL_ERROR, error_answer, json_answer
from tests.openapi_contract import MODES, SPEC_PATH, Answer, ContractError, contract

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(dict(contract().document))
    assert contract().document["openapi"] == "3.1.0"


def error_classes() -> list[type[errors.TvmError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.TvmError) and cls.__module__ == errors.__name__
    ]


def documented_variants() -> dict[str, tuple[int, str]]:
    """Each function error variant the document's responses carry: name -> (status, code)."""
    document = contract()
    found: dict[str, tuple[int, str]] = {}
    for _, _, operation in document.operations():
        for status, response in operation["responses"].items():
            for variant in document.variants(document.resolve(response)):
                code = error_code(variant.schema)
                if code is not None:
                    found[variant.name] = (int(status), code)
    return found


def error_code(schema: dict[str, Any]) -> str | None:
    for part in schema.get("allOf", []):
        code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {}).get("const")
        if code is not None:
            return str(code)
    return None


def test_the_documented_codes_are_the_librarys() -> None:
    """ErrorCode lists every code a TvmError carries, and the function's 404, and nothing else."""
    schemas = contract().document["components"]["schemas"]
    library = {cls.code for cls in error_classes()} | {"not_found"}
    assert set(schemas["ErrorCode"]["enum"]) == library
    variants = {name: error_code(schema) for name, schema in schemas.items() if error_code(schema) is not None}
    assert sorted(variants.values()) == sorted(library)  # one variant per code


def test_every_typed_error_as_the_code_answers_it_matches_the_document() -> None:
    """The response builder (momento_tvm.http.error_answer) for each typed error, status, headers and body."""
    seen = set()
    for cls in error_classes():
        if cls is errors.TvmError:
            answer = json_answer(500, INTERNAL_ERROR)
        else:
            parameters = inspect.signature(cls.__init__).parameters
            arguments: dict[str, Any] = {
                "retry_after": 3,
                "tier": "readwrite",
                "message": "a message",
                "store_code": "ProvisionedThroughputExceededException",
            }
            error = cls(**{name: value for name, value in arguments.items() if name in parameters})
            answer = error_answer(error)
        path = "/token" if answer.status != 401 else "/token/explain"
        documented = {code: name for name, (_, code) in documented_variants().items()}
        name = documented[answer.body["error"]["code"]]
        for mode in MODES:
            checked = Answer("GET", path, answer.status, answer.headers, answer.body_text())
            if mode in contract().document["components"]["schemas"][name].get("x-auth-modes", MODES):
                assert contract().check(checked, mode) == name
                seen.add(name)
            else:
                with pytest.raises(ContractError, match=f"not {mode}"):
                    contract().check(checked, mode)
    assert seen == set(documented_variants())


def api_md_token_example() -> dict[str, Any]:
    text = API_MD.read_text(encoding="utf-8")
    block = text.split("## Responses", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    example: dict[str, Any] = json.loads(block)
    return example


def token_answer(body: dict[str, Any]) -> Answer:
    return Answer("GET", "/token", 200, {"Cache-Control": "no-store"}, json.dumps(body))


def test_api_md_s_token_example_matches_the_document() -> None:
    assert contract().check(token_answer(api_md_token_example()), "LambdaAuthorizer") == "VendedToken"


@pytest.mark.parametrize("field", sorted(api_md_token_example()))
def test_a_renamed_token_field_is_refused(field: str) -> None:
    """The mutant, at the answer: each field of the token answer renamed in turn."""
    body = api_md_token_example()
    body[field + "_renamed"] = body.pop(field)
    with pytest.raises(ContractError, match="VendedToken"):
        contract().check(token_answer(body), "LambdaAuthorizer")


def test_a_renamed_error_field_in_the_response_builder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutant, in the code: TvmError.to_json naming `code` otherwise, as a refactor might."""

    def renamed(self: errors.TvmError) -> dict[str, dict[str, str]]:
        return {"error": {"kind": self.code, "message": self.message}}

    answer = error_answer(errors.ScopeDeniedError("nothing of what was asked"))
    assert contract().check(Answer("GET", "/token", 403, answer.headers, answer.body_text()), "Open")
    monkeypatch.setattr(errors.TvmError, "to_json", renamed)
    answer = error_answer(errors.ScopeDeniedError("nothing of what was asked"))
    with pytest.raises(ContractError, match="matches 0 of the documented variants"):
        contract().check(Answer("GET", "/token", 403, answer.headers, answer.body_text()), "Open")


def test_a_missing_retry_after_is_refused() -> None:
    answer = error_answer(errors.RateLimitedError(3, "readwrite"))
    headers = {name: value for name, value in answer.headers.items() if name != "Retry-After"}
    with pytest.raises(ContractError, match="Retry-After"):
        contract().check(Answer("GET", "/token", 429, headers, answer.body_text()), "Open")


def test_api_md_s_error_table_is_the_documents() -> None:
    """docs/api.md keeps the table people read; it lists exactly the document's (status, code) pairs."""
    text = API_MD.read_text(encoding="utf-8").split("## Errors", 1)[1].split("\n\n", 3)[2]
    rows = set(re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", text, flags=re.M))
    documented = set(documented_variants().values()) | {(404, "not_found")}
    assert {(int(status), code) for status, code in rows} == documented


def test_api_md_links_the_document() -> None:
    assert "(openapi.yaml)" in API_MD.read_text(encoding="utf-8")
    assert SPEC_PATH.is_file()


def test_the_readme_links_the_document_and_names_the_token_fields_it_lists() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "[docs/openapi.yaml](docs/openapi.yaml)" in readme
    listed = readme.split("A token response is `{", 1)[1].split("}`", 1)[0]
    fields = re.findall(r'"([A-Za-z]+)"', listed)
    assert fields == list(contract().document["components"]["schemas"]["VendedToken"]["properties"])


def test_the_documents_version_is_the_librarys() -> None:
    """The contract is versioned with the code that answers it (momento_tvm.__version__, the wheel's version)."""
    assert contract().document["info"]["version"] == momento_tvm.__version__
