"""The soak's logs phase: capture every line the in-process stack writes, then look in each for every secret.

Where the stack's lines go (so where they are caught):
- Python logging in this process: devstack (and each child's stdout/stderr, which `devstack.children.ChildProcess`
  forwards line by line to `devstack.<name>` loggers: the emulator, moto), local_api (the gateway, its access log),
  aiohttp, asyncio. A handler on the root logger records every record, fully formatted (with any traceback).
- The functions' own output (Powertools JSON lines, the authorizer's decisions, Lambda-style runtime lines): the
  local API's workers relay it to this process's `sys.stderr` (`local_api.workers.Worker._say`). `sys.stderr` is
  replaced by a recorder for the stack's lifetime, so those lines (and anything else written there) are caught.
The momento SDK that the soak itself drives (logger `momentosdk`) is a client, not the stack, and is not checked.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TextIO

__all__ = ["Leak", "LogCapture", "SecretScanner"]

_CLIENT_LOGGERS: Final = ("momentosdk",)
_STACK_LOGGERS: Final = ("devstack", "local_api", "momento_emulator", "tvm")
_SECRET_CHARS: Final = "A-Za-z0-9+/=_.-"  # base64, base64url, JWTs, the demo passwords


class _Recorder(io.TextIOBase):
    """A text stream that keeps each complete line (for `sys.stderr`)."""

    def __init__(self, into: list[tuple[str, str]], source: str) -> None:
        self._into = into
        self._source = source
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        self._into.extend((self._source, line) for line in lines if line.strip())
        return len(text)

    def flush_pending(self) -> None:
        if self._pending.strip():
            self._into.append((self._source, self._pending))
        self._pending = ""


class _Handler(logging.Handler):
    def __init__(self, into: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self._into = into
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_CLIENT_LOGGERS):
            return
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted is still a line the stack tried to write
            text = f"{record.name} {record.levelname} {record.msg!r} {record.args!r}"
        self._into.extend((f"log:{record.name}", line) for line in text.splitlines() if line.strip())


class LogCapture:
    """Install before the stack starts, `close()` after it stopped; `lines` holds (source, line) pairs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._handler = _Handler(self.lines)
        self._recorder = _Recorder(self.lines, "stderr")
        self._saved_stderr: TextIO | None = None
        self._saved_levels: dict[str, int] = {}

    def install(self) -> None:
        root = logging.getLogger()
        self._saved_levels[""] = root.level
        root.setLevel(logging.INFO)  # what `make dev` shows
        for name in _STACK_LOGGERS:  # and everything the stack's own code says, down to DEBUG
            logger = logging.getLogger(name)
            self._saved_levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
        root.addHandler(self._handler)
        self._saved_stderr = sys.stderr
        sys.stderr = self._recorder

    def close(self) -> None:
        if self._saved_stderr is not None:
            sys.stderr = self._saved_stderr
            self._saved_stderr = None
        self._recorder.flush_pending()
        root = logging.getLogger()
        root.removeHandler(self._handler)
        for name, level in self._saved_levels.items():
            logging.getLogger(name or None).setLevel(level)

    def sources(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for source, _ in self.lines:
            group = source.split(".")[0]
            counts[group] = counts.get(group, 0) + 1
        return counts


@dataclass(frozen=True)
class Leak:
    index: int  # the line's position in the capture
    source: str
    what: str  # the secret's label, never its value
    excerpt: str  # the line with every secret in it replaced by <what>


class SecretScanner:
    """Finds any of many secrets (thousands of tokens) in many lines, in one pass over each line.

    Every secret of length >= k made only of base64-like characters is indexed by one k-gram from its middle (the
    tokens share their first characters: the same endpoint); a line's runs of such characters are slid over once
    and each k-gram looked up. The rest (short or odd secrets) are searched for directly. Each line is also checked
    URL-decoded and with JSON's escaped slashes undone, so an encoded copy is found too.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._labels = dict(secrets)
        plain = [s for s in secrets if re.fullmatch(f"[{_SECRET_CHARS}]+", s)]
        self._k = min([16, *(len(s) for s in plain)]) if plain else 16
        self._index: dict[str, list[tuple[str, int]]] = {}
        self._direct: list[str] = []
        for secret in secrets:
            if secret in plain and len(secret) >= self._k:
                offset = (len(secret) - self._k) // 2
                self._index.setdefault(secret[offset : offset + self._k], []).append((secret, offset))
            else:
                self._direct.append(secret)
        self._runs = re.compile(f"[{_SECRET_CHARS}]{{{self._k},}}")

    def _found(self, text: str) -> set[str]:
        found = {secret for secret in self._direct if secret in text}
        k, index = self._k, self._index
        for match in self._runs.finditer(text):
            run = match.group()
            for i in range(len(run) - k + 1):
                candidates = index.get(run[i : i + k])
                if candidates:
                    found.update(s for s, offset in candidates if i >= offset and run.startswith(s, i - offset))
        return found

    def self_check(self) -> list[str]:
        """Plant one secret of each kind in made-up lines (plain, in JSON, URL-encoded): each must be found."""
        missed = []
        for label in sorted(set(self._labels.values())):
            secret = max((s for s, what in self._labels.items() if what == label), key=len)
            for planted in (
                f"x {secret} y",
                f'{{"v":"{secret}"}}',
                f"GET /?q=abc{urllib.parse.quote(secret, safe='')}&z=1",
            ):
                if secret not in self._found(planted) | self._found(urllib.parse.unquote(planted)):
                    missed.append(f"{label} in {planted[:12]!r}...")
        return missed

    def scan(self, lines: Iterable[tuple[str, str]]) -> tuple[int, list[Leak]]:
        """(lines checked, leaks): one Leak per line and kind of secret."""
        checked, leaks = 0, []
        for index, (source, line) in enumerate(lines):
            checked += 1
            found = self._found(line)
            encoded: set[str] = set()
            if "%" in line or "\\" in line:
                encoded = self._found(urllib.parse.unquote(line.replace("\\/", "/"))) - found
            if not found and not encoded:
                continue
            excerpt = line
            for secret in sorted(found, key=len, reverse=True):
                excerpt = excerpt.replace(secret, f"<{self._labels[secret]}>")
            if encoded:  # the raw line holds an encoded copy that the replacement above did not remove
                excerpt = "(an encoded copy of a secret: the line is not shown)"
            found |= encoded
            for what in sorted({self._labels[s] for s in found}):
                leaks.append(Leak(index, source, what, excerpt[:300]))
        return checked, leaks
