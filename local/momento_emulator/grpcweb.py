"""grpc-web framing (the "text" and binary content types), as pure functions.

Written by hand because the only grpc-web server library on PyPI (sonora 0.2.3, last released 2023) is unmaintained
and answers CORS with a wildcard, and the framing is small: a frame is one flag byte (0x00 data, 0x80 trailers,
bit 0x01 = compressed), a 4-byte big-endian length and the payload; the "text" form is base64 of the frames, where
each chunk of a stream may be its own padded base64 unit.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import urllib.parse
from collections.abc import Mapping

from .errors import InvalidArgumentError, Status, UnimplementedError

__all__ = [
    "TEXT_CONTENT_TYPE",
    "decode_body",
    "encode_data",
    "encode_trailer",
    "encoding_of",
    "parse_request_frames",
]

TEXT_CONTENT_TYPE = "application/grpc-web-text"
BINARY_CONTENT_TYPE = "application/grpc-web"
_DATA = 0x00
_TRAILER = 0x80
_COMPRESSED = 0x01
_HEADER = struct.Struct(">BI")
# Base64 units end at padding; a body may hold several units back to back.
_UNIT = re.compile(rb"[^=]*={0,2}")
# Everything printable in ASCII except '%' passes unescaped in grpc-message (as the gRPC spec says).
_MESSAGE_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def encoding_of(content_type: str) -> str | None:
    """'text', 'binary', or None when the content type is not grpc-web (with or without +proto)."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in (TEXT_CONTENT_TYPE, TEXT_CONTENT_TYPE + "+proto"):
        return "text"
    if base in (BINARY_CONTENT_TYPE, BINARY_CONTENT_TYPE + "+proto"):
        return "binary"
    return None


def decode_body(body: bytes, encoding: str) -> bytes:
    """The frames in a request body. Text bodies are base64, possibly several padded units concatenated."""
    if encoding == "binary":
        return body
    compact = b"".join(body.split())
    out = bytearray()
    try:
        for unit in _UNIT.findall(compact):
            if unit:
                out += base64.b64decode(unit, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgumentError("the grpc-web-text body is not valid base64") from None
    return bytes(out)


def parse_request_frames(frames: bytes) -> bytes:
    """The one request message in a grpc-web request (unary and server-streaming calls send exactly one)."""
    messages: list[bytes] = []
    offset = 0
    while offset < len(frames):
        if len(frames) - offset < _HEADER.size:
            raise InvalidArgumentError("truncated grpc-web frame header")
        flag, length = _HEADER.unpack_from(frames, offset)
        offset += _HEADER.size
        if length > len(frames) - offset:
            raise InvalidArgumentError("truncated grpc-web frame")
        payload = frames[offset : offset + length]
        offset += length
        if flag & _TRAILER:
            continue  # clients send no trailers; tolerate and ignore them
        if flag & _COMPRESSED:
            raise UnimplementedError("compressed grpc-web frames are not supported")
        if flag != _DATA:
            raise InvalidArgumentError(f"unknown grpc-web frame flag 0x{flag:02x}")
        messages.append(payload)
    if len(messages) != 1:
        raise InvalidArgumentError(f"expected one request message, got {len(messages)}")
    return messages[0]


def _frame(flag: int, payload: bytes) -> bytes:
    return _HEADER.pack(flag, len(payload)) + payload


def _wrap(frame: bytes, encoding: str) -> bytes:
    return base64.b64encode(frame) if encoding == "text" else frame


def encode_data(message: bytes, encoding: str) -> bytes:
    """One data frame, ready to write (its own base64 unit in text mode)."""
    return _wrap(_frame(_DATA, message), encoding)


def encode_trailer(status: Status, message: str, encoding: str, trailers: Mapping[str, str] | None = None) -> bytes:
    """The trailer frame ending a call; the message is percent-encoded (the client decodeURIComponent's it).
    `trailers`: more trailing metadata (Momento's `err`), lowercase names and printable ASCII values."""
    text = f"grpc-status:{int(status)}\r\ngrpc-message:{urllib.parse.quote(message, safe=_MESSAGE_SAFE)}\r\n"
    for name, value in (trailers or {}).items():
        text += f"{name}:{value}\r\n"
    return _wrap(_frame(_TRAILER, text.encode("ascii")), encoding)
