"""Errors the emulator raises, each carrying the gRPC status the real Momento service would send.

The core raises these; the transports turn them into a native gRPC status or a grpc-web trailer. The SDKs map the
status to their own error codes (PERMISSION_DENIED -> PERMISSION_ERROR, and so on), so the status is the contract.
Some carry trailing metadata too, as Momento sends it: an `err` trailer naming the cause, which the SDKs read to pick
their wording (for RESOURCE_EXHAUSTED: which limit the account met).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

__all__ = [
    "AlreadyExistsError",
    "AuthQuotaExceededError",
    "EmulatorError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Status",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
]


class Status(IntEnum):
    """gRPC status codes (the numbers are fixed by the gRPC specification)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class EmulatorError(Exception):
    """A request the emulator refuses. `message` and `trailers` reach the client: never a key or a token in them."""

    status: Status = Status.UNKNOWN

    def __init__(self, message: str, trailers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.trailers: dict[str, str] = dict(trailers or {})


class InvalidArgumentError(EmulatorError):
    status = Status.INVALID_ARGUMENT


class NotFoundError(EmulatorError):
    status = Status.NOT_FOUND


class AlreadyExistsError(EmulatorError):
    status = Status.ALREADY_EXISTS


class PermissionDeniedError(EmulatorError):
    status = Status.PERMISSION_DENIED


class ResourceExhaustedError(EmulatorError):
    status = Status.RESOURCE_EXHAUSTED


class AuthQuotaExceededError(ResourceExhaustedError):
    """The account is over its auth quota (`--auth-quota`): RESOURCE_EXHAUSTED with the `err` trailer
    `operations_rate_limit_exceeded`, which every Momento SDK maps to LIMIT_EXCEEDED_ERROR, "Request rate limit
    exceeded for this account" (momento.errors.exceptions.LIMIT_EXCEEDED_ERROR_TO_MESSAGE_WRAPPER in the Python SDK,
    LimitExceededError in @gomomento/sdk-core). Momento's own detail text is not published: this one says what
    happened, with "operations" in it, the word the SDKs look for when a proxy drops the trailer."""

    def __init__(self, per_second: float) -> None:
        super().__init__(
            f"auth operations rate limit exceeded for this account ({per_second:g} operations per second)",
            {"err": "operations_rate_limit_exceeded"},
        )


class UnimplementedError(EmulatorError):
    status = Status.UNIMPLEMENTED


class InternalError(EmulatorError):
    status = Status.INTERNAL


class UnavailableError(EmulatorError):
    status = Status.UNAVAILABLE


class UnauthenticatedError(EmulatorError):
    status = Status.UNAUTHENTICATED
