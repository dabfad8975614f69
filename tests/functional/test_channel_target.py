"""A mint the channel rule refuses (tests/unit/test_channel_target.py) dials nothing: a 127.0.0.1 listener on the
endpoint it names is never reached."""

from __future__ import annotations

import socket

import pytest

from momento_tvm import UpstreamUnavailableError
from momento_tvm.minting import MomentoMinter
from tests.unit.test_channel_target import GRANT, KEY


def test_a_mismatch_is_refused_at_mint_before_any_connection() -> None:
    """The vending Lambda builds its minter on the first mint: the refusal is a 503 whose reason (logged) says
    what is wrong, and nothing is dialled, in plaintext or otherwise."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    with listener:
        minter = MomentoMinter(KEY, f"127.0.0.1:{port}", emulator_endpoint=f"127.0.0.1:{port + 1}")
        with pytest.raises(UpstreamUnavailableError, match="configuration error") as refused:
            minter.mint(GRANT)
        assert refused.value.status == 503
        assert KEY not in refused.value.message
        with pytest.raises(TimeoutError):
            listener.accept()
        minter.close()
