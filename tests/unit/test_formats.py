"""Format inspection of uploads: Glance's verdicts, through oslo.utils' inspector."""

from __future__ import annotations

import struct

import pytest

from shared.domain.errors import UnsupportedMediaType
from shared.formats import FormatCheck
from tests.helpers import BytesReader

GiB = 1024**3


def qcow2(virtual_size: int = GiB, backing_file: bool = False) -> bytes:
    """A version-2 qcow2 header (72 bytes), padded to 64 KiB."""
    header = struct.pack(
        ">4sIQIIQIIQQIIQ",
        b"QFI\xfb", 2, 72 if backing_file else 0, 8 if backing_file else 0, 16, virtual_size,
        0, 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    if backing_file:
        header += b"/etc/pwd"
    return header.ljust(65536, b"\0")


def run(data: bytes, disk_format: str | None, container_format: str | None = "bare") -> int | None:
    check = FormatCheck(BytesReader(data, step=4096), disk_format, container_format)
    while check.read(65536):
        pass
    return check.verdict()


def test_raw_is_raw() -> None:
    assert run(b"x" * 10_000, "raw") == 10_000
    assert run(b"", "raw") is None  # an empty image has no virtual size, as in Glance


def test_qcow2_gets_its_virtual_size() -> None:
    assert run(qcow2(5 * GiB), "qcow2") == 5 * GiB


def test_richer_content_declared_raw_counts_its_bytes() -> None:
    assert run(qcow2(5 * GiB), "raw") == 65536


def test_mismatch_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        run(b"x" * 10_000, "qcow2")
    assert caught.value.detail == "Image disk_format qcow2 does not match stream data raw"
    assert caught.value.message == "The request media type application/octet-stream is not supported by this server."


def test_backing_file_fails_the_safety_checks() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        run(qcow2(backing_file=True), "qcow2")
    assert caught.value.detail == "Image failed safety checks"


def test_uninspectable_formats_and_containers() -> None:
    assert run(b"x" * 100, "ami") is None
    assert run(b"x" * 100, "qcow2", container_format="ovf") is None
    with pytest.raises(UnsupportedMediaType):
        run(qcow2(), "vmdk")


def test_mismatch_allowed_when_matching_is_not_required() -> None:
    check = FormatCheck(BytesReader(b"x" * 100), "qcow2", "bare", require_match=False)
    check.read(1000)
    check.read(1000)
    assert check.verdict() is None


def verdict_through_readinto(data: bytes, disk_format: str, container_format: str = "bare") -> int | str | None:
    """The verdict when the bytes are read into a caller's buffer (the file store's path), or the refusal."""
    check = FormatCheck(BytesReader(data, step=4096), disk_format, container_format)
    buffer = memoryview(bytearray(65536))
    try:
        while check.readinto(buffer):
            buffer[:] = bytes(len(buffer))  # the caller reuses its buffer: the inspectors must have seen it
        return check.verdict()
    except UnsupportedMediaType as refused:
        return f"415 {refused.detail}"


@pytest.mark.parametrize(
    ("data", "disk_format", "container_format", "expected"),
    [
        (b"x" * 10_000, "raw", "bare", 10_000),
        (qcow2(5 * GiB), "qcow2", "bare", 5 * GiB),
        (qcow2(5 * GiB), "raw", "bare", 65536),
        (b"x" * 10_000, "qcow2", "bare", "415 Image disk_format qcow2 does not match stream data raw"),
        (qcow2(backing_file=True), "qcow2", "bare", "415 Image failed safety checks"),
        (qcow2(), "qcow2", "ovf", None),
    ],
)
def test_readinto_gets_the_verdicts_that_read_gets(data: bytes, disk_format: str, container_format: str, expected):
    assert verdict_through_readinto(data, disk_format, container_format) == expected
