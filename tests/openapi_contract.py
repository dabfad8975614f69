"""The API's contract, docs/openapi.yaml, as a checker of real answers: `Contract.check` takes one answer (the
method and path asked, the status, the headers, the body as sent) and the auth mode it came from, and raises
`ContractError` unless the document lists that status for that route, the body validates against its schema (with
openapi-schema-validator's OpenAPI 3.1 validator, the document as the `$ref` registry), the headers the document
requires are there with valid values, and the body variant it matched may occur in that mode (`x-auth-modes`).

It returns the body variant's name (a component schema: `VendedToken`, `ErrorRateLimited`, `GatewayForbidden`...), so
a replay can record what it saw and compare it with `Contract.expected(mode)`, what the document says can occur in
that mode (minus the variants marked `x-replayed: false`, the one answer no local stack gives).

Standard library, PyYAML, jsonschema's `referencing` and openapi-schema-validator only: the unit tier imports it too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["MODES", "SPEC_PATH", "Answer", "Contract", "ContractError", "contract"]

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:momento-tvm:openapi"
MODES = ("LambdaAuthorizer", "Open", "AmazonCognito")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractError(AssertionError):
    """A real answer the document does not describe."""


@dataclass(frozen=True)
class Answer:
    """One answer as a client saw it. `headers`: names in any case (looked up without case)."""

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def describe(self) -> str:
        """For a failure's message: the token itself left out (a credential, even the emulator's)."""
        body = re.sub(r'("authToken"\s*:\s*")[^"]*"', r'\1<redacted>"', self.body)
        return f"{self.method} {self.path} -> {self.status} {body[:300]}"


@dataclass(frozen=True)
class Variant:
    """One body a response may carry: the component schema's name and its extensions."""

    name: str
    schema: Mapping[str, Any]

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.schema.get("x-auth-modes", MODES))

    @property
    def replayed(self) -> bool:
        return bool(self.schema.get("x-replayed", True))

    @property
    def required_headers(self) -> tuple[str, ...]:
        return tuple(self.schema.get("x-required-headers", ()))


@dataclass
class Contract:
    document: Mapping[str, Any]
    registry: Registry[Any] = field(init=False)

    def __post_init__(self) -> None:
        resource: Resource[Any] = DRAFT202012.create_resource(dict(self.document))
        self.registry = Registry().with_resource(SPEC_URI, resource)

    # ------------------------------------------------------------------------------------------------ reading
    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """A `$ref` to this document (`#/a/b`), followed; anything else as it is."""
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ContractError(f"only local references are used: {ref}")
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def operations(self) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """(method, path, operation) of every route."""
        for path, item in self.document["paths"].items():
            for method in METHODS:
                if method in item:
                    yield method.upper(), path, item[method]

    def responses(self, method: str, path: str) -> Mapping[str, Any]:
        """The responses the document lists for a request: the route's, or those of no route (x-unrouted-responses)."""
        item = self.document["paths"].get(path)
        if item is not None and method.lower() in item:
            responses: Mapping[str, Any] = item[method.lower()]["responses"]
            return responses
        unrouted: Mapping[str, Any] = self.document["x-unrouted-responses"]
        return unrouted

    def variants(self, response: Mapping[str, Any]) -> list[Variant]:
        """The bodies a response may carry, each a named component schema."""
        schema = response["content"]["application/json"]["schema"]
        refs = schema.get("oneOf", [schema])
        found = []
        for ref in refs:
            name = ref["$ref"].removeprefix("#/components/schemas/")
            found.append(Variant(name, self.document["components"]["schemas"][name]))
        return found

    def expected(self, mode: str) -> set[tuple[int, str]]:
        """Every (status, variant) the document says can occur in `mode`, on any route, that a local stack can give
        (all but `x-replayed: false`)."""
        expected: set[tuple[int, str]] = set()
        every = [response for _, _, op in self.operations() for response in op["responses"].items()]
        every += list(self.document["x-unrouted-responses"].items())
        for status, response in every:
            for variant in self.variants(self.resolve(response)):
                if mode in variant.modes and variant.replayed:
                    expected.add((int(status), variant.name))
        return expected

    def not_replayed(self) -> set[tuple[int, str]]:
        """What the document lists but marks `x-replayed: false` (its source given in `x-source`)."""
        every = [response for _, _, op in self.operations() for response in op["responses"].items()]
        return {
            (int(status), variant.name)
            for status, response in every
            for variant in self.variants(self.resolve(response))
            if not variant.replayed
        }

    # ----------------------------------------------------------------------------------------------- checking
    def _validator(self, schema: Mapping[str, Any]) -> OAS31Validator:
        return OAS31Validator(schema, registry=self.registry)

    def _ref(self, name: str) -> dict[str, str]:
        return {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}

    def check(self, answer: Answer, mode: str) -> str:
        """The name of the body variant `answer` is, in `mode`; ContractError if the document does not describe it."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        listed = self.responses(answer.method, answer.path.split("?", 1)[0])
        response = listed.get(str(answer.status))
        if response is None:
            raise ContractError(f"status {answer.status} is not documented for this request: {answer.describe()}")
        response = self.resolve(response)
        try:
            body = json.loads(answer.body)
        except ValueError:
            raise ContractError(f"the body is not JSON: {answer.describe()}") from None
        matched = [v for v in self.variants(response) if self._validator(self._ref(v.name)).is_valid(body)]
        if len(matched) != 1:
            errors = []
            for variant in self.variants(response):
                error = best_match(self._validator(self._ref(variant.name)).iter_errors(body))
                errors.append(f"{variant.name}: {error.message if error else 'matches'}")
            raise ContractError(
                f"the body matches {len(matched)} of the documented variants ({'; '.join(errors)}): {answer.describe()}"
            )
        variant = matched[0]
        if mode not in variant.modes:
            raise ContractError(f"{variant.name} is documented for {variant.modes}, not {mode}: {answer.describe()}")
        headers = {name: self.resolve(header) for name, header in response.get("headers", {}).items()}
        for name in variant.required_headers:
            headers[name] = {**headers.get(name, {"schema": {}}), "required": True}
        for name, header in headers.items():
            value = answer.header(name)
            if value is None:
                if header.get("required", False):
                    raise ContractError(f"header {name} is required on {variant.name}: {answer.describe()}")
                continue
            error = best_match(self._validator(header.get("schema", {})).iter_errors(value))
            if error is not None:
                raise ContractError(f"header {name}: {value!r}: {error.message}: {answer.describe()}")
        return variant.name


@cache
def contract(path: Path = SPEC_PATH) -> Contract:
    """The document as it is in the checkout, read once."""
    return Contract(yaml.safe_load(path.read_text(encoding="utf-8")))
