"""The Lambda functions' dependencies exist for the platform they deploy to: CPython 3.13 on arm64.

`sam build` itself is NOT run by these tests: aws-sam-cli is not a dev dependency (it is about 340 MB), and it needs
a Python 3.13 interpreter on PATH. Instead they check what `sam build` needs from the package index, for every
`functions/*/requirements.txt` and `authorizers/*/requirements.txt` that lists at least one requirement:

- (here) every requirement is pinned with `==` (no ranges, wildcards, URLs or pip options), one per line;
- (tests/functional/test_function_wheels.py, which asks the package index pip is configured with, PyPI)
  `pip download --only-binary=:all: --platform manylinux2014_aarch64 --python-version 3.13 --implementation cp
  --no-deps -r requirements.txt` succeeds: each pin has an arm64 cp313 (or abi3) wheel, or a pure-Python one;
- (there too) resolving the same file WITH dependencies for that platform brings in nothing the file does not pin, so
  a new release of a transitive dependency cannot change what `sam build` installs.

A requirements file holding only comments (the authorizer uses the standard library) has nothing to download and is
left out of the download checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT_GLOBS = ("functions/*/requirements.txt", "authorizers/*/requirements.txt")


def requirement_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, requirement text) for each requirement, comments and blank lines dropped, continuations joined."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw if raw.lstrip().startswith("#") else raw.split(" #", 1)[0]
        text = "" if text.lstrip().startswith("#") else text.strip()
        if pending:
            number, text = pending[0], f"{pending[1]} {text}".strip()
            pending = None
        if text.endswith("\\"):
            pending = (number, text[:-1].strip())
            continue
        if text:
            lines.append((number, text))
    if pending and pending[1]:
        lines.append(pending)
    return lines


def pin_problems(path: Path) -> list[str]:
    """Why each line of a requirements file is not an exact `name==version` pin (empty when all are)."""
    problems = []
    for number, text in requirement_lines(path):
        where = f"{path.name}:{number}: {text!r}"
        words = [word for word in text.split() if not word.startswith("--hash=")]
        if not words or words[0].startswith("-"):
            problems.append(f"{where}: pip options are not allowed, only name==version")
            continue
        try:
            requirement = Requirement(" ".join(words))
        except InvalidRequirement as error:
            problems.append(f"{where}: not a requirement ({error})")
            continue
        specifiers = list(requirement.specifier)
        if requirement.url:
            problems.append(f"{where}: a URL is not a pin")
        elif len(specifiers) != 1 or specifiers[0].operator != "==" or "*" in specifiers[0].version:
            problems.append(f"{where}: must be pinned with a single exact ==version")
    return problems


def pinned(path: Path) -> dict[str, str]:
    """Canonical project name -> pinned version."""
    pins = {}
    for _, text in requirement_lines(path):
        requirement = Requirement(" ".join(word for word in text.split() if not word.startswith("--hash=")))
        pins[canonicalize_name(requirement.name)] = next(iter(requirement.specifier)).version
    return pins


def unpinned_downloads(wheel_names: list[str], pins: dict[str, str]) -> list[str]:
    """Downloaded distributions that the requirements file does not pin at exactly that version."""
    extra = []
    for wheel in sorted(wheel_names):
        name, version, _, _ = parse_wheel_filename(wheel)
        if pins.get(name) != str(version):
            extra.append(f"{name}=={version}")
    return extra


def _requirement_files(*, listing_requirements: bool) -> list[object]:
    """Every function's requirements file; for the download checks, only those that list something (a file with
    only comments, like the standard-library authorizer's, has nothing to download)."""
    files = sorted(path for pattern in REQUIREMENT_GLOBS for path in ROOT.glob(pattern))
    return [
        pytest.param(path, id=str(path.relative_to(ROOT)))
        for path in files
        if requirement_lines(path) or not listing_requirements
    ]


ALL_FILES = _requirement_files(listing_requirements=False)
REQUIREMENT_FILES = _requirement_files(listing_requirements=True)


def test_the_functions_have_requirements_files() -> None:
    assert any("token_vending" in str(p.values[0]) for p in REQUIREMENT_FILES)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ the functions' own files
@pytest.mark.parametrize("requirements", ALL_FILES)
def test_every_requirement_is_pinned_exactly(requirements: Path) -> None:
    assert pin_problems(requirements) == []


# ---------------------------------------------------------------- the checks themselves, on made-up requirement files
@pytest.mark.parametrize(
    ("content", "problem_count"),
    [
        ("# only a comment\n\n", 0),
        ("aws-lambda-powertools==3.37.0\nPyYAML==6.0.4  # pure C speedups optional\n", 0),
        ("momento==1.29.1 \\\n    --hash=sha256:0123456789abcdef\n", 0),
        ("typing_extensions==4.16.0 ; python_version < '3.14'\n", 0),
        ("grpcio>=1.85\n", 1),
        ("grpcio\n", 1),
        ("grpcio==1.*\n", 1),
        ("grpcio==1.85.3,!=1.85.2\n", 1),
        ("-r other.txt\n", 1),
        ("--index-url https://example.com/simple\n", 1),
        ("momento @ https://example.com/momento-1.29.1-py3-none-any.whl\n", 1),
        ("jmespath==1.1.0\nfastjsonschema~=2.22\n", 1),
    ],
)
def test_pin_check(tmp_path: Path, content: str, problem_count: int) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(content, encoding="utf-8")
    assert len(pin_problems(requirements)) == problem_count, pin_problems(requirements)


def test_closure_check_names_what_is_not_pinned() -> None:
    wheels = [
        "momento-1.29.1-py3-none-any.whl",
        "grpcio-1.85.3-cp313-cp313-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
        "protobuf-7.36.2-cp310-abi3-manylinux2014_aarch64.whl",
    ]
    assert unpinned_downloads(wheels, {"momento": "1.29.1", "grpcio": "1.85.3", "protobuf": "7.36.2"}) == []
    assert unpinned_downloads(wheels, {"momento": "1.29.1", "grpcio": "1.85.2"}) == [
        "grpcio==1.85.3",
        "protobuf==7.36.2",
    ]
