"""grpc-web framing: what the browser SDK sends and reads."""

from __future__ import annotations

import base64
import struct

import pytest

from momento_emulator import grpcweb
from momento_emulator.errors import InvalidArgumentError, Status, UnimplementedError


def frame(flag: int, payload: bytes) -> bytes:
    return struct.pack(">BI", flag, len(payload)) + payload


def test_a_text_request_decodes_to_its_one_message() -> None:
    body = base64.b64encode(frame(0, b"hello"))
    assert grpcweb.parse_request_frames(grpcweb.decode_body(body, "text")) == b"hello"


def test_concatenated_padded_base64_units_decode_as_one_stream() -> None:
    raw = frame(0, b"hello")
    body = base64.b64encode(raw[:4]) + base64.b64encode(raw[4:])
    assert b"=" in body[:-2]
    assert grpcweb.parse_request_frames(grpcweb.decode_body(body, "text")) == b"hello"


def test_an_empty_message_is_a_valid_request() -> None:
    assert grpcweb.parse_request_frames(frame(0, b"")) == b""


@pytest.mark.parametrize(
    "frames",
    [b"", b"\x00\x00", frame(0, b"abc")[:-1], frame(0, b"a") + frame(0, b"b"), frame(0x02, b"x")],
    ids=["empty", "short-header", "short-payload", "two-messages", "unknown-flag"],
)
def test_malformed_frames_are_invalid_argument(frames: bytes) -> None:
    with pytest.raises(InvalidArgumentError):
        grpcweb.parse_request_frames(frames)


def test_compressed_frames_are_unimplemented() -> None:
    with pytest.raises(UnimplementedError):
        grpcweb.parse_request_frames(frame(0x01, b"x"))


@pytest.mark.parametrize("body", [b"!!!!", b"abc", b"A===", b"QQ==QQ"])
def test_bad_base64_is_invalid_argument(body: bytes) -> None:
    with pytest.raises(InvalidArgumentError):
        grpcweb.decode_body(body, "text")


def test_trailer_percent_encodes_the_message() -> None:
    raw = base64.b64decode(grpcweb.encode_trailer(Status.PERMISSION_DENIED, "no: 100% ünïcode\r\n", "text"))
    assert raw[0] == 0x80
    assert raw[5:].decode("ascii") == "grpc-status:7\r\ngrpc-message:no: 100%25 %C3%BCn%C3%AFcode%0D%0A\r\n"


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [
        ("application/grpc-web-text", "text"),
        ("application/grpc-web-text+proto; charset=x", "text"),
        ("Application/GRPC-Web", "binary"),
        ("application/json", None),
        ("", None),
    ],
)
def test_content_types(content_type: str, encoding: str | None) -> None:
    assert grpcweb.encoding_of(content_type) == encoding
