"""`make sam-api`: the template served by SAM CLI's own `sam local start-api`, offline, in Docker containers.

`make dev` (devstack) is the project's own local API; this package runs the ecosystem's: a dockerd (started if none
runs), a Lambda Python 3.13 x86_64 image built on this machine (nothing can be pulled), `sam build` for x86_64, the
Momento emulator and moto on 127.0.0.1 (seeded as `make dev` seeds them) reachable from the containers over the
Docker bridge, and `sam local start-api --skip-pull-image --language-extensions` with the mode's parameters.
"""

from __future__ import annotations

from .engine import DockerDaemon, bridge_gateway, ensure_docker_installed
from .errors import SamLocalError, UnsupportedModeError
from .image import IMAGE, build_image, ensure_image, find_python313

__all__ = [
    "IMAGE",
    "DockerDaemon",
    "SamLocalError",
    "UnsupportedModeError",
    "bridge_gateway",
    "build_image",
    "ensure_docker_installed",
    "ensure_image",
    "find_python313",
]
