"""What both of the CLI's back ends share: the error type, reading a password, and boto3 imported on first use.

A module of its own (not ``__main__``) because ``python -m tvm_users`` runs ``__main__`` under that name: a class
defined there and imported again as ``tvm_users.__main__`` would be two classes, and `except CliError` would miss one.
"""

from __future__ import annotations

import getpass
import importlib
import sys
from typing import Any

__all__ = ["CliError", "aws_errors", "aws_errors_if_loaded", "error_code", "import_boto3", "read_password"]


class CliError(Exception):
    """A failure with a message for the user and an exit status (2: their input, 1: the environment)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def import_boto3() -> Any:
    """boto3, imported on first use: `--file` mode never pays for it (it ships untyped, hence Any)."""
    return importlib.import_module("boto3")


def aws_errors() -> tuple[type[BaseException], ...]:
    """botocore's two error roots (imports botocore)."""
    exceptions = importlib.import_module("botocore.exceptions")
    return (exceptions.BotoCoreError, exceptions.ClientError)


def aws_errors_if_loaded() -> tuple[type[BaseException], ...]:
    """botocore's error classes if boto3 was used (never imports it just to check)."""
    return aws_errors() if "botocore.exceptions" in sys.modules else ()


def error_code(exc: BaseException) -> str:
    """The ``Error.Code`` of a botocore ClientError ("" for anything else)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def read_password(prompt: str, from_stdin: bool, *, min_chars: int, max_chars: int) -> str:
    """A password from stdin's first line or typed twice at a prompt; never from argv (shell history, `ps`).

    NUL is refused everywhere: scrypt treats "pw" and "pw\\0" alike, and a C string would end at it.
    """
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"{prompt}: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise CliError("the passwords do not match")
    if not min_chars <= len(password) <= max_chars:
        raise CliError(f"a password must be {min_chars} to {max_chars} characters")
    if "\0" in password:
        raise CliError("a password cannot contain a NUL character")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise CliError("the password is not valid UTF-8") from None
    return password
