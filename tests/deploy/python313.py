"""Print the Python 3.13 interpreter that `make install-ministack` makes MiniStack's venv with, found as
local/sam_local finds it (pyenv's newest 3.13.x, the one `sam build` uses); without one, one line and exit status 1.

    .venv/bin/python tests/deploy/python313.py
"""

from __future__ import annotations

import sys

from sam_local.errors import SamLocalError
from sam_local.image import find_python313


def main() -> int:
    try:
        print(find_python313() / "bin" / "python3.13")
    except SamLocalError as error:
        print(
            f"MiniStack needs Python 3.13 (it runs the functions' cp313 wheels on its own interpreter): {error}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
