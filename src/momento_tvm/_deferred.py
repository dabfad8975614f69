"""Third-party packages whose `__init__.py` imports far more than the cold path uses, registered with it not run yet.

Why (issue 28): importing any submodule runs its package's `__init__.py` first. `momento_wire_types/__init__.py`
imports every generated module and its gRPC stubs (grpc, and protobuf's descriptor_pb2 for the pubsub extensions):
about a quarter of a second of a cold start without bytecode, for a mint that needs token_pb2 and
permissionmessages_pb2. `fastjsonschema/__init__.py` imports its schema compiler (about 35 ms) for a precompiled
validator that needs its exception classes only.

`defer_init(name)` puts the package in `sys.modules` with its `__path__` and no names: its submodules import as usual
(`from momento_wire_types.generated import token_pb2` runs only `generated/__init__.py` and `token_pb2.py`), and the
first lookup of any other name on the package runs its real `__init__.py` then, so
`momento_wire_types.cacheclient_pb2` or `fastjsonschema.compile` still work for anyone else in the process. Nothing
is done if the package is already imported (the test suite, the emulator, the SDK) or cannot be found.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

__all__ = ["defer_init"]

_LOCK = threading.Lock()


def defer_init(name: str) -> None:
    """Register package `name` with its `__init__.py` deferred to the first lookup of a name it defines."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def __getattr__(attribute: str) -> Any:
        if attribute.startswith("__") and attribute != "__all__":  # probes (copy, typing): not worth the __init__
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        with _LOCK:
            if module.__dict__.get("__getattr__") is __getattr__:
                del module.__dict__["__getattr__"]
                loader.exec_module(module)  # the real __init__.py, once
        return getattr(module, attribute)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
