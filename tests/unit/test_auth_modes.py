"""An auth mode is one entry per layer, and every layer's registry names the same modes.

The layers (CONTRIBUTING.md, "Adding an auth mode"): the template's AuthenticationMethod AllowedValues, the library's
`identity.AUTH_MODES` (what the vending function accepts as AUTH_MODE), the local stacks' entries
(`local/devstack/modes.py`: make dev, make sam-api, moto's seeding) and the site's sign-in modes. A mode added to one
and not the others fails here, naming the layer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from devstack import AUTH_METHODS
from devstack.modes import DEFAULT_AUTH, MODES, SAM_LOCAL_MODES
from momento_tvm.identity import AUTH_MODES
from tests.openapi_contract import MODES as CONTRACT_MODES
from tests.openapi_contract import contract

ROOT = Path(__file__).resolve().parents[2]
SITE_CONFIG = ROOT / "static_site" / "src" / "config.ts"
# The site's own mode for a host app's session (embedded integrations): no AuthenticationMethod deploys it.
SITE_ONLY = {"Session"}


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short tags (!Ref, !Sub, ...) as nothing: only Parameters matter here."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _template_parameter(name: str) -> dict[str, Any]:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    parameter: dict[str, Any] = template["Parameters"][name]
    return parameter


def _site_modes() -> tuple[set[str], set[str]]:
    """The site's sign-in modes, from its TypeScript source: the `AuthMethod` type's members and AUTH_METHODS."""
    source = SITE_CONFIG.read_text(encoding="utf-8")
    union = re.search(r"export type AuthMethod\s*=\s*([^;]+);", source)
    listed = re.search(r"export const AUTH_METHODS\b[^=]*=\s*\[([^\]]*)\]", source)
    assert union and listed, f"{SITE_CONFIG} no longer declares `type AuthMethod` and `AUTH_METHODS`"
    return set(re.findall(r"'([^']+)'", union[1])), set(re.findall(r"'([^']+)'", listed[1]))


def test_every_registry_holds_the_same_modes() -> None:
    template = _template_parameter("AuthenticationMethod")
    site_type, site_list = _site_modes()
    assert site_type == site_list, "static_site/src/config.ts: the AuthMethod type and AUTH_METHODS differ"
    assert site_list >= SITE_ONLY, "the site's host-only modes are gone: update SITE_ONLY"
    registries = {
        "template.yaml AuthenticationMethod AllowedValues": {str(value) for value in template["AllowedValues"]},
        "momento_tvm.identity.AUTH_MODES": set(AUTH_MODES),
        "local/devstack/modes.py MODES": set(MODES),
        "static_site/src/config.ts AUTH_METHODS, less Session": site_list - SITE_ONLY,
        "docs/openapi.yaml x-auth-modes": set(contract().document["x-auth-modes"]),
        "tests/openapi_contract.py MODES (the replay's)": set(CONTRACT_MODES),
    }
    expected = registries["template.yaml AuthenticationMethod AllowedValues"]
    for where, modes in registries.items():
        assert modes == expected, f"{where}: {sorted(modes)}, not the template's {sorted(expected)}"


def test_each_entry_is_filed_under_its_own_name_and_the_local_lists_follow_it() -> None:
    for name, mode in MODES.items():
        assert mode.name == name
        assert (ROOT / mode.invoke_event).is_file(), f"{name}: no sample event {mode.invoke_event}"
        assert (mode.sam_local_refusal is None) == (name in SAM_LOCAL_MODES)
    assert tuple(MODES) == AUTH_METHODS
    assert DEFAULT_AUTH in SAM_LOCAL_MODES
    assert _template_parameter("AuthenticationMethod")["Default"] == DEFAULT_AUTH
