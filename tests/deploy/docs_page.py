"""docs/deploy.md's commands and answers, read the way tests/integration/test_readme.py reads the README, so the page
stays the source of what the deploy test runs.

Every fenced shell block on the page carries a marker on the line just above its fence: `<!-- deploy-test: NAME -->`
(the deploy test runs it, by that name) or `<!-- deploy-test: skip (REASON) -->`. The sample answers are JSON blocks
marked the same way. The output table of section 5 and the answers table of section 8 are read too.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

SHELL_LANGUAGES: Final = {"sh", "bash", "shell", "console"}
MARKER: Final = re.compile(r"<!-- deploy-test: ?(.*?) -->")
FENCE: Final = re.compile(r"```(\S*)")
DOCS_STACK: Final = "my-tvm"  # the stack name the page's commands use


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    marker: str | None
    code: str

    @property
    def commands(self) -> list[str]:
        """Its commands: continuation lines joined, blank lines and comment lines left out."""
        joined = self.code.replace("\\\n", " ")
        return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]

    def argv(self, index: int = 0) -> list[str]:
        """One command as its words (a trailing comment dropped)."""
        return shlex.split(self.commands[index], comments=True)

    def json(self) -> Any:
        return json.loads(self.code)

    def __str__(self) -> str:
        return f"docs/deploy.md:{self.line} ({self.marker})"


class DeployPage:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.blocks = _blocks(self.text)

    def block(self, name: str) -> Block:
        found = [block for block in self.blocks if block.marker == name]
        assert len(found) == 1, f"docs/deploy.md has {len(found)} blocks marked <!-- deploy-test: {name} -->"
        return found[0]

    def outputs(self) -> dict[str, str | None]:
        """Section 5's table: each output it documents, and the one mode it exists in (None: every mode)."""
        section = self.text.split("## 5.", 1)[1].split("\n## ", 1)[0]
        documented: dict[str, str | None] = {}
        for row in re.findall(r"^\| (`[^|]*`) \| ([^|]*) \|$", section, re.MULTILINE):
            names, meaning = row
            only = re.match(r"`(\w+)` only", meaning.strip())
            for name in re.findall(r"`(\w+)`", names):
                documented[name] = only.group(1) if only else None
        return documented

    def gateway_answers(self) -> dict[int, list[Any]]:
        """Section 8's table of answers the gateway gives itself: status -> the JSON bodies shown for it."""
        section = self.text.split("## 8.", 1)[1].split("\n## ", 1)[0]
        found: dict[int, list[Any]] = {}
        for status, body in re.findall(r"^\| `(\d{3}) (\{[^`]*\})` \|", section, re.MULTILINE):
            with contextlib.suppress(ValueError):  # the function's own errors are shown shortened ("...")
                found.setdefault(int(status), []).append(json.loads(body))
        return found


def _blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.fullmatch(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i] == "```")
        above = MARKER.fullmatch(lines[index - 1]) if index else None
        blocks.append(
            Block(index + 1, opening[1], above[1] if above else None, "\n".join(lines[index + 1 : end]) + "\n")
        )
        index = end + 1
    return blocks


def same_fields(sample: Any, actual: Any, where: str = "") -> list[str]:
    """Where an answer's fields differ from a sample answer's (the keys, recursively; not the values)."""
    if isinstance(sample, dict) and isinstance(actual, dict):
        problems = [f"{where}.{key}: in the sample, not in the answer" for key in sample.keys() - actual.keys()]
        problems += [f"{where}.{key}: in the answer, not in the sample" for key in actual.keys() - sample.keys()]
        for key in sample.keys() & actual.keys():
            if sample[key] is not None and actual[key] is not None:
                problems += same_fields(sample[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(sample, dict) != isinstance(actual, dict) or isinstance(sample, list) != isinstance(actual, list):
        return [f"{where}: {type(sample).__name__} in the sample, {type(actual).__name__} in the answer"]
    return []
