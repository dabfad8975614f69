"""The committed policy validator is exactly what fastjsonschema generates from today's SCHEMA."""

from __future__ import annotations

import fastjsonschema
import pytest

import schema_codegen
from momento_tvm import policy


def test_regenerating_the_validator_gives_the_committed_module() -> None:
    assert schema_codegen.TARGET.read_text(encoding="utf-8") == schema_codegen.generate(), (
        "SCHEMA changed: run `.venv/bin/python -m schema_codegen` and commit the result"
    )


def test_the_policy_uses_the_precompiled_validator_and_its_errors() -> None:
    from momento_tvm import _policy_validator

    assert policy._validate is _policy_validator.validate
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as raised:
        policy._validate({"tiers": 3})
    assert raised.value.path[0] == "data"


def test_the_policy_is_parsed_by_libyaml_when_pyyaml_has_it() -> None:
    import yaml

    assert issubclass(policy._Loader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if yaml.__with_libyaml__:  # libyaml parses; Python's composer (which refuses anchors) composes
        mro = policy._Loader.__mro__
        from yaml._yaml import CParser

        assert mro.index(yaml.composer.Composer) < mro.index(CParser)
