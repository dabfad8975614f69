"""Supervised subprocesses (the Momento emulator, moto): own process group, logged output, bounded stop.

Each child runs in its own process group, so a Ctrl-C in the terminal reaches only the supervisor, which then stops
the children in order; `stop()` signals the whole group, so nothing a child started is left behind. On Linux each
child also gets PR_SET_PDEATHSIG (SIGTERM), so even a supervisor killed with SIGKILL leaves no orphan.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping, Sequence

from .errors import ChildExitedError, StartTimeoutError

__all__ = ["ChildProcess", "moto_line_filter"]

# Runs first in the child: ask the kernel for SIGTERM when the parent dies, make sure it has not died already, then
# become the real program (PR_SET_PDEATHSIG survives execve). Standard library only, no site: about 15 ms.
_PDEATHSIG_SHIM = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WERKZEUG_BANNER = re.compile(r"This is a development server|^\s*\* Running on |Press CTRL\+C to quit")
_ACCESS_LOG_OK = re.compile(r'^\S+ - - \[[^\]]*\] "[^"]*" [23]\d\d ')


def moto_line_filter(line: str) -> str | None:
    """moto's stderr minus Werkzeug's banner (its "Press CTRL+C" would mislead) and successful access-log lines."""
    line = _ANSI.sub("", line)
    if _WERKZEUG_BANNER.search(line) or _ACCESS_LOG_OK.match(line):
        return None
    return line


class ChildProcess:
    """One child process: `start()`, optionally `first_line()`, `wait()`, `stop()`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        label: str | None = None,
        env: Mapping[str, str] | None = None,
        line_filter: Callable[[str], str | None] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.label = label or name
        self.argv = list(argv)
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self._filter = line_filter
        self._log = logger or logging.getLogger(f"devstack.{name}")
        self._logger = logger
        self._process: asyncio.subprocess.Process | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=12)
        self._readers: list[asyncio.Task[None]] = []
        self.stopping = False

    def again(self, argv: Sequence[str] | None = None) -> ChildProcess:
        """A new, unstarted child like this one (same environment, label, output handling): what a restart runs."""
        return ChildProcess(
            self.name,
            self.argv if argv is None else argv,
            label=self.label,
            env=self.env,
            line_filter=self._filter,
            logger=self._logger,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def tail(self) -> str:
        """The child's last stderr lines, for an error message."""
        return " | ".join(line for line in self._tail if line.strip())

    async def start(self) -> None:
        argv = self.argv
        if sys.platform.startswith("linux"):
            argv = [sys.executable, "-S", "-I", "-c", _PDEATHSIG_SHIM, str(os.getpid()), *argv]
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            process_group=0,
            limit=1 << 20,
        )
        assert self._process.stderr is not None
        self._readers.append(asyncio.create_task(self._forward(self._process.stderr), name=f"{self.name}-stderr"))

    def forward_stdout(self) -> None:
        """Log the child's stdout from now on (after its first line was read, if one was expected)."""
        assert self._process is not None and self._process.stdout is not None
        self._readers.append(asyncio.create_task(self._forward(self._process.stdout), name=f"{self.name}-stdout"))

    async def first_line(self, within_seconds: float) -> str:
        """The first line the child writes on stdout; an error with its stderr if it exits or stalls first."""
        assert self._process is not None and self._process.stdout is not None
        try:
            raw = await asyncio.wait_for(self._process.stdout.readline(), within_seconds)
        except TimeoutError:
            raise StartTimeoutError(f"{self.label} did not report its ports within {within_seconds:.0f} s") from None
        if not raw:
            returncode = await self._process.wait()
            await self.drained()
            raise ChildExitedError(self.label, returncode, self.tail())
        self.forward_stdout()
        return raw.decode("utf-8", "replace").strip()

    async def wait(self) -> int:
        assert self._process is not None
        return await self._process.wait()

    async def stop(self, grace_seconds: float) -> int | None:
        """SIGTERM to the child's group, SIGKILL after `grace_seconds`; then whatever is left in the group."""
        self.stopping = True
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            self._signal_group(signal.SIGTERM)
            self._signal_group(signal.SIGCONT)  # a child stopped with SIGSTOP handles its SIGTERM now, not after grace
            try:
                await asyncio.wait_for(process.wait(), grace_seconds)
            except TimeoutError:
                self._log.warning("%s did not stop within %.0f s: killing it", self.label, grace_seconds)
                self._signal_group(signal.SIGKILL)
                await process.wait()
        # Anything the child started in its group and left behind.
        self._signal_group(signal.SIGKILL)
        await self.drained()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the child's group now (a second Ctrl-C)."""
        self.stopping = True
        if self._process is not None:
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    async def _forward(self, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the stream's limit: take it in pieces
                raw = await stream.read(1 << 16)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            self._tail.append(_ANSI.sub("", line))
            shown = self._filter(line) if self._filter is not None else line
            if shown is not None and shown.strip():
                self._log.info("[%s] %s", self.name, shown)

    async def drained(self, grace_seconds: float = 1.0) -> None:
        """Wait (briefly) until the child's output has been read to the end, e.g. after it exited."""
        readers = [task for task in self._readers if not task.done()]
        if readers:
            _, pending = await asyncio.wait(readers, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
