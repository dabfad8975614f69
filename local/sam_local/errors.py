"""Why `make sam-api` or its set-up could not go on. Each message is a complete sentence saying what to do."""

from __future__ import annotations

__all__ = ["SamLocalError", "UnsupportedModeError"]


class SamLocalError(Exception):
    exit_code = 1


class UnsupportedModeError(SamLocalError):
    """A mode SAM CLI cannot run locally (AmazonCognito: it has no JWT authorizer)."""

    exit_code = 2
