"""Errors the emulator raises, each carrying the gRPC status the real Momento service would send.

The core raises these; the transports turn them into a native gRPC status or a grpc-web trailer. The SDKs map the
status to their own error codes (PERMISSION_DENIED -> PERMISSION_ERROR, and so on), so the status is the contract.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AlreadyExistsError",
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
    """A request the emulator refuses. `message` reaches the client: it must never contain a key or token."""

    status: Status = Status.UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class UnimplementedError(EmulatorError):
    status = Status.UNIMPLEMENTED


class InternalError(EmulatorError):
    status = Status.INTERNAL


class UnavailableError(EmulatorError):
    status = Status.UNAVAILABLE


class UnauthenticatedError(EmulatorError):
    status = Status.UNAUTHENTICATED
