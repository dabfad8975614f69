"""Watch the files `make dev` reads at start (the users, the policy) and hand each settled change to the stack.

Polling, not inotify: two files, looked at every half second (a stat each; the bytes only when the stat moved), which
works the same on every file system and editor, including those that replace a file instead of writing it. A change
is handed over once the file has stopped changing (two looks 0.1 s apart agree), so a file caught half-written by
an editor is not reported as broken; a save that leaves the bytes as they were is no change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final

from .local_files import Fingerprint, fingerprint

__all__ = ["FileWatcher"]

log = logging.getLogger("devstack")

_SETTLE_SECONDS: Final = 0.1


class FileWatcher:
    """Calls `on_change(paths)` with the files whose content changed since the fingerprints it was given."""

    def __init__(
        self,
        fingerprints: Mapping[Path, Fingerprint],
        on_change: Callable[[set[Path]], Awaitable[None]],
        interval_seconds: float,
    ) -> None:
        self._prints = dict(fingerprints)
        self._on_change = on_change
        self._interval = interval_seconds

    async def run(self) -> None:
        """Until cancelled; a failure of `on_change` is logged and watching goes on."""
        while True:
            await asyncio.sleep(self._interval)
            changed = await self._changed()
            if not changed:
                continue
            try:
                await self._on_change(changed)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug or an outage while applying: say so, keep watching
                log.error("devstack: could not apply the change to %s: %s", ", ".join(map(str, changed)), error)

    async def _changed(self) -> set[Path]:
        changed: set[Path] = set()
        for path, before in list(self._prints.items()):
            now = fingerprint(path, before)  # a stat; the bytes (a few KB) only when it moved
            if now.digest == before.digest:
                self._prints[path] = now
                continue
            while True:  # settled: the same bytes twice in a row
                await asyncio.sleep(_SETTLE_SECONDS)
                again = fingerprint(path)
                if again.digest == now.digest:
                    break
                now = again
            self._prints[path] = now
            if now.digest != before.digest:
                changed.add(path)
        return changed
