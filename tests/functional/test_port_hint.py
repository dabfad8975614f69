"""A taken port's hint (`make dev` exits 2 with "e.g. `API_PORT=... make dev`") offers a port that is free and that none
of the stack's other port variables names: it used to offer the taken port + 1 whatever that was, so with API_PORT
taken and SITE_PORT=API_PORT+1 it sent the user into the next clash. The ready block's "To change one" example too.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from devstack import PortInUseError, ResolvedPort, StackConfig, StackInfo, ready_block
from devstack.ports import check_ports, port_is_free

HOST = "127.0.0.1"
HINT = re.compile(r"`API_PORT=(\d+) make dev`")


def free_run(length: int) -> int:
    """The first of `length` consecutive ports that are all free now (below the ephemeral range: nothing races us)."""
    for first in range(20000, 30000, length + 7):
        if all(port_is_free(port) for port in range(first, first + length)):
            return first
    raise AssertionError("no run of free ports")


@contextmanager
def listening(*ports: int) -> Iterator[None]:
    """Another program on each port."""
    with ExitStack() as stack:
        for port in ports:
            sock = stack.enter_context(socket.socket())
            sock.bind((HOST, port))
            sock.listen(1)
        yield


def config(api: int, site: int, grpc: int = 0, web: int = 0, moto: int = 0) -> StackConfig:
    return StackConfig(api_port=api, site_port=site, momento_grpc_port=grpc, momento_web_port=web, moto_port=moto)


def offered(error: PortInUseError) -> int:
    match = HINT.search(str(error))
    assert match, str(error)
    return int(match[1])


def test_the_hint_skips_a_port_another_variable_names() -> None:
    """API_PORT taken, SITE_PORT = API_PORT + 1 (and the emulator's two after it): none of those is offered."""
    first = free_run(6)
    settings = config(api=first, site=first + 1, grpc=first + 2, web=first + 3)
    with listening(first), pytest.raises(PortInUseError) as raised:
        check_ports(settings.ports())
    port = offered(raised.value)
    assert port not in {first, first + 1, first + 2, first + 3}, str(raised.value)
    assert port_is_free(port)
    assert port == first + 4  # the nearest that fits
    assert str(raised.value).startswith(f"port {first} (API_PORT, the local HTTP API) is already in use")


def test_the_hint_skips_a_port_another_program_holds() -> None:
    first = free_run(4)
    with listening(first, first + 1), pytest.raises(PortInUseError) as raised:
        check_ports(config(api=first, site=0).ports())
    assert offered(raised.value) == first + 2


def test_with_no_port_near_it_free_the_hint_is_a_free_port() -> None:
    """65535 taken: nothing above it, so the hint is 0 (a free port chosen at start), never an out-of-range number."""
    error = PortInUseError(65535, "API_PORT", "the local HTTP API")
    assert "`API_PORT=0 make dev`" in str(error)
    assert "65536" not in str(error)


def info(api: int, site: int) -> StackInfo:
    ports = (
        ResolvedPort("SITE_PORT", site, site, "environment", "the static site"),
        ResolvedPort("API_PORT", api, api, "environment", "the local HTTP API"),
        ResolvedPort("MOMENTO_GRPC_PORT", 0, 41001, "environment", "the Momento emulator (gRPC)"),
        ResolvedPort("MOMENTO_WEB_PORT", 0, 41002, "environment", "the Momento emulator (grpc-web)"),
        ResolvedPort("MOTO_PORT", 0, 41003, "environment", "moto (AWS)"),
    )
    return StackInfo(
        auth_method="Open",
        site_url=f"http://{HOST}:{site}/",
        site_origins=(f"http://{HOST}:{site}",),
        site_content="built site",
        api_url=f"http://{HOST}:{api}",
        routes=("GET /token",),
        momento_endpoint=f"{HOST}:41001",
        momento_grpc_port=41001,
        momento_web_url=f"http://{HOST}:41002",
        momento_web_port=41002,
        cache_name="default-cache",
        moto_url=f"http://{HOST}:41003",
        users=(),
        guest_tier="guest",
        ports=ports,
        startup_seconds=0.5,
        watched_files=("functions/token_vending/policy.yaml",),
    )


def test_the_ready_blocks_example_is_no_port_of_the_stack() -> None:
    first = free_run(4)
    block = ready_block(info(api=first, site=first + 1))
    match = re.search(r"To change one: e\.g\. `API_PORT=(\d+) make dev`", block)
    assert match, block
    assert int(match[1]) == first + 2, block


def test_open_modes_one_watched_file_applies() -> None:
    """Open mode watches the policy only: one file, so "applies" (it said "apply")."""
    block = ready_block(info(api=free_run(2), site=0))
    assert "   Edits    functions/token_vending/policy.yaml applies while this runs (no restart)" in block, block


def test_make_embedded_offers_a_port_none_of_its_variables_names() -> None:
    """`make embedded` had the same hint (taken + 1): MOMENTO_GRPC_PORT taken, MOMENTO_WEB_PORT the next one."""
    from devstack.embedded import ConfigError, EmbeddedConfig
    from devstack.embedded import check_ports as check_embedded_ports

    first = free_run(5)
    ports = {"EMBEDDED_PORT": 0, "MOMENTO_GRPC_PORT": first, "MOMENTO_WEB_PORT": first + 1}
    settings = EmbeddedConfig(ports, dict.fromkeys(ports, "environment"), None)
    with listening(first), pytest.raises(ConfigError) as raised:
        check_embedded_ports(settings)
    match = re.search(r"`MOMENTO_GRPC_PORT=(\d+) make embedded`", str(raised.value))
    assert match, str(raised.value)
    assert int(match[1]) == first + 2, str(raised.value)
