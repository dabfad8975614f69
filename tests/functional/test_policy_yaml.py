"""The policy loader's refusals (tests/unit/test_policy_yaml.py) hold without libyaml too: PyYAML's pure-Python
loader, in a fresh interpreter, refuses the same documents with the same lines."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.unit.test_policy_yaml import BILLION_LAUGHS


def test_the_pure_python_loader_refuses_the_same() -> None:
    """Without libyaml (a PyYAML built without it), PyYAML's own parser feeds the same composer and constructor."""
    cases = {
        "laughs": BILLION_LAUGHS,
        "dup": "version: 1\nversion: 1\n",
        "merge": "<<: {version: 1}\n",
        "deep": "a: " + "[" * 200 + "]" * 200 + "\n",
    }
    script = textwrap.dedent(
        """\
        import json, sys
        import yaml
        del yaml.CSafeLoader
        from momento_tvm import PolicyError, parse_policy
        from momento_tvm import policy
        assert yaml.SafeLoader in policy._Loader.__mro__
        out = {}
        for name, text in json.load(sys.stdin).items():
            try:
                parse_policy(text, name)
            except PolicyError as error:
                out[name] = str(error)
        print(json.dumps(out))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(cases), capture_output=True, text=True, check=True, timeout=60
    )
    out = json.loads(result.stdout)
    assert out["laughs"] == "laughs:2: a YAML anchor (&a) is not allowed in a policy: write the value out"
    assert out["dup"].startswith("dup:2: duplicate key 'version' (first at line 1)")
    assert out["merge"].startswith("merge:1: a YAML merge key (<<)")
    assert out["deep"].startswith("deep:1: nested more than 32 levels deep")
