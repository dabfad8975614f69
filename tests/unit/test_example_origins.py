"""The example apps' own origins (examples/fastapi_chat/origins.py, the APP_ORIGINS setting): taken from the
configuration in the form browsers send them, and the Host and Origin checks made with them. The apps' 403s are
tested over HTTP in tests/integration/test_example_sign_in_defenses.py."""

from __future__ import annotations

import pytest

from examples.fastapi_chat.origins import DEFAULT_ORIGINS, SiteOrigins, parse_origins
from examples.fastapi_chat.settings import settings_from_env


def test_origins_are_read_as_browsers_send_them() -> None:
    raw = " HTTPS://Chat.Example.com/ , http://127.0.0.1:3100,https://chat.example.com:443,http://[::1]:3100"
    assert parse_origins(raw) == ("https://chat.example.com", "http://127.0.0.1:3100", "http://[::1]:3100")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        " , ",
        "*",
        "https://*.example.com",
        "chat.example.com",
        "ftp://chat.example.com",
        "https://chat.example.com/app",
        "https://chat.example.com?x=1",
        "https://user@chat.example.com",
        "http://127.0.0.1:99999",
        "https://",
    ],
)
def test_anything_but_an_origin_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="APP_ORIGINS"):
        parse_origins(bad)


def test_app_origins_comes_from_the_environment_else_the_readmes_port() -> None:
    assert settings_from_env({})["origins"] == DEFAULT_ORIGINS
    assert settings_from_env({"APP_ORIGINS": "https://chat.example.com"})["origins"] == ("https://chat.example.com",)
    with pytest.raises(ValueError, match="APP_ORIGINS"):
        settings_from_env({"APP_ORIGINS": "https://chat.example.com/chat"})


def test_only_the_configured_names_are_served() -> None:
    origins = SiteOrigins(["https://chat.example.com", "http://127.0.0.1:3100"])
    for host in ("chat.example.com", "Chat.Example.com", "chat.example.com:443", "127.0.0.1:3100"):
        assert origins.serves_host(host), host
    assert not origins.serves_host(None)  # no Host at all (HTTP/1.0)
    for other in ("", "evil.example", "chat.example.com:8443", "127.0.0.1", "localhost:3100", "127.0.0.1:3101"):
        assert not origins.serves_host(other), other


def test_a_state_change_must_come_from_a_configured_origin() -> None:
    origins = SiteOrigins("http://127.0.0.1:3100,http://localhost:3100")
    assert origins.same_origin("same-origin", "http://localhost:3100")
    assert origins.same_origin(None, "http://127.0.0.1:3100")
    assert origins.same_origin(None, None)  # no browser page: curl
    assert origins.same_origin("same-origin", "null")  # a no-referrer page of ours (its Host is checked apart)
    assert not origins.same_origin("same-origin", "http://rebind.evil.example:3100")  # the browser thinks it same
    assert not origins.same_origin(None, "http://127.0.0.1:3101")
    assert not origins.same_origin("cross-site", None)
    assert not origins.same_origin(None, "null")
