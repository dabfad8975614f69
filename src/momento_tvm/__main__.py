"""`python -m momento_tvm COMMAND`: the library's command line; its one command, check-policy, is run by `make lint`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .policy import main as check_policy

USAGE = "usage: python -m momento_tvm check-policy POLICY.yaml [POLICY.yaml ...]"
HELP = f"""{USAGE}

The momento_tvm library's command line.

commands:
  check-policy   validate tier policy files (python -m momento_tvm check-policy --help)
"""


def run(argv: Sequence[str]) -> int:
    """Dispatch to the command; usage errors are one line on stderr and exit status 2, as argparse's are here."""
    command = argv[0] if argv else None
    if command == "check-policy":
        return check_policy(argv[1:])
    if command in ("-h", "--help"):
        print(HELP, end="")
        return 0
    problem = "a command is required" if command is None else f"unknown command {command!r}"
    print(
        f"python -m momento_tvm: {problem}; the command is check-policy (see python -m momento_tvm --help)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
