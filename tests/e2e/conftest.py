"""Shared by the browser tests: how Debian's chromium is launched here (Playwright cannot download its own)."""

from __future__ import annotations

import shutil

# Without the background-networking flags, chromium keeps trying hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed: apt-get install -y chromium (make test does it as root)"
    return executable
