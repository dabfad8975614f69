"""`python -m momento_tvm check-policy FILE...`: validate tier policy files (run by `make lint`)."""

from __future__ import annotations

import sys

from .policy import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] != ["check-policy"]:
        print("usage: python -m momento_tvm check-policy POLICY.yaml [...]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[1:]))
