"""devstack's free port for children that cannot report their own (moto): never one a later `bind(0)` can get."""

from __future__ import annotations

from devstack.ports import _ephemeral_low, free_port, port_is_free


def test_a_free_port_is_below_the_ephemeral_range_and_free() -> None:
    """The race seen in CI: the site server, bound to port 0 just after moto's port was chosen, got that very port
    and answered in moto's place. A port below the range is one no `bind(0)` is given."""
    for _ in range(20):
        port = free_port()
        assert 1024 <= port < _ephemeral_low()
        assert port_is_free(port)


def test_an_unreadable_port_range_falls_back_to_linuxs_default() -> None:
    assert _ephemeral_low("/nonexistent/ip_local_port_range") == 32768
