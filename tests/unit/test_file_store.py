"""The file store's two ways of writing: past the page cache (direct I/O) by default; through it, flushed
early and then dropped from it, where the filesystem has no direct I/O or the data is read back soon."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
import threading

import pytest

from shared.config import load_settings
from shared.stores import direct_write, filesystem
from shared.stores.errors import StoreError
from shared.stores.filesystem import FileStore
from shared.stores.registry import build_stores
from shared.stores.streams import HashingReader
from tests.helpers import SlowDigest

MiB = 1024 * 1024
needs_direct_io = pytest.mark.skipif(not direct_write.O_DIRECT, reason="this platform has no O_DIRECT")


@pytest.fixture
def no_direct_io(monkeypatch) -> None:
    """The file store on a filesystem without direct I/O (tmpfs before Linux 6.6, macOS)."""
    monkeypatch.setattr(filesystem, "open_direct", lambda path: None)


def test_a_large_write_is_flushed_as_it_grows(tmp_path, monkeypatch, no_direct_io) -> None:
    flushed_at: list[int] = []
    store = FileStore("fast", tmp_path, chunk_size=MiB)
    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", 4 * MiB)
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        flushed_at.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(filesystem.os, "fdatasync", fdatasync)
    data = os.urandom(10 * MiB)
    stored = store.add("big", io.BytesIO(data))
    assert store.get(stored.url).read_all() == data
    assert flushed_at and min(flushed_at) >= 4 * MiB  # started before the end, not per chunk
    assert len(flushed_at) <= 2


def test_a_failed_flush_fails_the_write(tmp_path, monkeypatch, no_direct_io) -> None:
    store = FileStore("fast", tmp_path, chunk_size=MiB)
    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", MiB)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(filesystem.os, "fdatasync", broken)
    with pytest.raises(StoreError, match="Input/output error"):
        store.add("big", io.BytesIO(os.urandom(3 * MiB)))
    assert list(tmp_path.iterdir()) == []  # no object, no partial file


def test_a_large_write_leaves_the_page_cache_once_on_disk(tmp_path, monkeypatch, no_direct_io) -> None:
    events: list[tuple[str, int, int]] = []
    store = FileStore("fast", tmp_path, chunk_size=MiB)
    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", 2 * MiB)
    real_sync, real_advise = os.fdatasync, os.posix_fadvise

    def fdatasync(fd: int) -> None:
        real_sync(fd)
        events.append(("synced", os.fstat(fd).st_size, 0))

    def posix_fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        assert advice == os.POSIX_FADV_DONTNEED
        real_advise(fd, offset, length, advice)
        events.append(("dropped", offset, length))

    monkeypatch.setattr(filesystem.os, "fdatasync", fdatasync)
    monkeypatch.setattr(filesystem.os, "posix_fadvise", posix_fadvise)
    data = os.urandom(9 * MiB)
    stored = store.add("big", io.BytesIO(data))
    drops = [(offset, length) for kind, offset, length in events if kind == "dropped"]
    assert drops[-1] == (0, 0)  # the whole file, after the final fsync
    for index, (kind, offset, length) in enumerate(events):
        if kind == "dropped" and length:  # an early drop: only bytes a flush before it had put on disk
            assert any(k == "synced" and size >= offset + length for k, size, _ in events[:index])
    assert store.get(stored.url).read_all() == data  # dropping from the cache loses nothing


def test_a_small_write_keeps_its_pages(tmp_path, monkeypatch, no_direct_io) -> None:
    dropped: list[int] = []
    monkeypatch.setattr(filesystem.os, "posix_fadvise", lambda fd, offset, length, advice: dropped.append(offset))
    FileStore("fast", tmp_path).add("small", io.BytesIO(os.urandom(MiB)))
    assert dropped == []


def test_a_write_to_be_read_back_keeps_its_pages(tmp_path, monkeypatch) -> None:
    dropped: list[int] = []
    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", MiB)
    monkeypatch.setattr(filesystem.os, "posix_fadvise", lambda fd, offset, length, advice: dropped.append(offset))
    data = os.urandom(5 * MiB)
    stored = FileStore("staging", tmp_path).add("staged", io.BytesIO(data), read_back=True)
    assert dropped == []
    assert FileStore("staging", tmp_path).get(stored.url).read_all() == data


def test_a_refused_advice_does_not_fail_the_write(tmp_path, monkeypatch, no_direct_io) -> None:
    def refused(fd: int, offset: int, length: int, advice: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", MiB)
    monkeypatch.setattr(filesystem.os, "posix_fadvise", refused)
    data = os.urandom(3 * MiB)
    stored = FileStore("fast", tmp_path).add("big", io.BytesIO(data))
    assert FileStore("fast", tmp_path).get(stored.url).read_all() == data


@needs_direct_io
def test_by_default_data_is_written_past_the_page_cache(tmp_path, monkeypatch) -> None:
    flags_seen: list[int] = []
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        flags_seen.append(fcntl.fcntl(fd, fcntl.F_GETFL))
        return real_write(fd, data)

    store = FileStore("fast", tmp_path, chunk_size=MiB)
    store.add("first", io.BytesIO(b"x"))  # the first add probes the folder for direct I/O
    monkeypatch.setattr(direct_write.os, "write", write)
    monkeypatch.setattr(filesystem.os, "fdatasync", lambda fd: pytest.fail("a direct write needs no early flush"))
    data = os.urandom(3 * MiB + 100)
    stored = store.add("big", io.BytesIO(data))
    assert FileStore("fast", tmp_path).get(stored.url).read_all() == data
    assert [bool(flags & direct_write.O_DIRECT) for flags in flags_seen] == [True, True, True, False]  # the tail


@needs_direct_io
def test_data_read_back_soon_goes_through_the_page_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(filesystem, "open_direct", lambda path: pytest.fail("staged data is read back: no direct I/O"))
    data = os.urandom(2 * MiB)
    stored = FileStore("staging", tmp_path).add("staged", io.BytesIO(data), read_back=True)
    assert FileStore("staging", tmp_path).get(stored.url).read_all() == data


class Uneven:
    """Reads of another size than the store asks for, as an HTTP body gives them; ``readinto`` when asked."""

    def __init__(self, data: bytes, read_size: int, readinto: bool) -> None:
        self.data, self.read_size = io.BytesIO(data), read_size
        if readinto:
            self.readinto = lambda view: self.data.readinto(view[: self.read_size])

    def read(self, n: int = -1) -> bytes:
        return self.data.read(self.read_size)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 3 * MiB + 4096])
@pytest.mark.parametrize("read_size", [1000, 64 * 1024, MiB])
@pytest.mark.parametrize("readinto", [True, False])
def test_direct_and_buffered_writes_store_the_same_bytes(tmp_path, monkeypatch, size, read_size, readinto) -> None:
    data = os.urandom(size)
    direct = FileStore("direct", tmp_path / "direct", chunk_size=MiB).add("x", Uneven(data, read_size, readinto))
    monkeypatch.setattr(filesystem, "open_direct", lambda path: None)
    buffered = FileStore("buffered", tmp_path / "buffered", chunk_size=MiB).add("x", Uneven(data, read_size, readinto))
    assert direct.size == buffered.size == size
    assert (tmp_path / "direct" / "x").read_bytes() == (tmp_path / "buffered" / "x").read_bytes() == data
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["buffered", "direct", "x", "x"]  # no parts left


@needs_direct_io
def test_a_filesystem_refusing_direct_io_leaves_no_file_and_the_write_goes_buffered(tmp_path, monkeypatch) -> None:
    real_open = os.open

    def refusing(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & direct_write.O_DIRECT:
            os.close(real_open(path, flags & ~direct_write.O_DIRECT, mode))  # created, then refused, as Linux does
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(direct_write.os, "open", refusing)
    assert direct_write.open_direct(str(tmp_path / "probe")) is None
    assert not (tmp_path / "probe").exists()
    data = os.urandom(MiB + 3)
    stored = FileStore("fast", tmp_path / "store").add("x", io.BytesIO(data))
    assert FileStore("fast", tmp_path / "store").get(stored.url).read_all() == data


@needs_direct_io
def test_a_failed_direct_write_fails_the_add_and_leaves_nothing(tmp_path, monkeypatch) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    store = FileStore("fast", tmp_path, chunk_size=MiB)
    store.add("first", io.BytesIO(b"x"))  # the first add probes the folder for direct I/O
    monkeypatch.setattr(direct_write.os, "write", full)
    with pytest.raises(StoreError, match="full"):
        store.add("x", io.BytesIO(os.urandom(2 * MiB)))
    assert [path.name for path in tmp_path.iterdir()] == ["first"]


@needs_direct_io
def test_a_filesystem_that_opens_for_direct_io_but_refuses_the_writes_gets_buffered_ones(tmp_path, monkeypatch):
    real_write = os.write

    def refusing(fd: int, data: bytes) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & direct_write.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(direct_write.os, "write", refusing)
    assert direct_write.direct_writes_work(str(tmp_path)) is False
    assert list(tmp_path.iterdir()) == []  # the probe removed its file
    data = os.urandom(2 * MiB + 1)
    store = FileStore("fast", tmp_path, chunk_size=MiB)
    stored = store.add("x", io.BytesIO(data))
    assert store.get(stored.url).read_all() == data
    assert [path.name for path in tmp_path.iterdir()] == ["x"]


@needs_direct_io
def test_a_full_buffer_is_written_while_the_caller_fills_the_next(tmp_path, monkeypatch) -> None:
    first_write_may_end = threading.Event()
    real_write = os.write
    calls: list[int] = []

    def slow_first_write(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            assert first_write_may_end.wait(30), "the caller never got past the first write"
        return real_write(fd, data)

    monkeypatch.setattr(direct_write.os, "write", slow_first_write)
    fd = direct_write.open_direct(str(tmp_path / "x"))
    assert fd is not None
    writer = direct_write.DirectWriter(fd, MiB, buffers=2)
    data = os.urandom(2 * MiB + 10)
    writer.write(data[:MiB])  # fills the first buffer: its write starts, and blocks (a synchronous writer: here)
    writer.write(data[MiB : 2 * MiB])  # the second buffer fills meanwhile
    first_write_may_end.set()
    writer.write(data[2 * MiB :])  # needs the first buffer again: waits for its write
    writer.finish()
    os.close(fd)
    assert calls == [MiB, MiB, 10]
    assert (tmp_path / "x").read_bytes() == data


@needs_direct_io
def test_a_hashed_body_fills_the_direct_buffers_in_place_and_keeps_its_digests(tmp_path) -> None:
    data = os.urandom(5 * MiB + 123)
    reader = HashingReader(Uneven(data, MiB, readinto=True))
    reader._md5 = SlowDigest(reader._md5)  # type: ignore[assignment]  # the buffers stay held a while
    progress: list[int] = []
    stored = FileStore("fast", tmp_path, chunk_size=MiB).add("x", reader, progress=progress.append)
    assert stored.size == len(data) == sum(progress) and (tmp_path / "x").read_bytes() == data
    assert reader.checksum == hashlib.md5(data).hexdigest()
    assert reader.hash_value == hashlib.sha512(data).hexdigest()


@needs_direct_io
def test_a_body_failing_midway_fails_the_add_with_its_own_error_and_leaves_nothing(tmp_path) -> None:
    class GoneAfter(Uneven):
        def __init__(self, data: bytes) -> None:
            super().__init__(data, MiB, readinto=True)
            self.readinto = self.gone_after_3_mib

        def gone_after_3_mib(self, view: memoryview) -> int:
            if self.data.tell() >= 3 * MiB:
                raise ConnectionResetError("the client went away")
            return self.data.readinto(view)

    reader = HashingReader(GoneAfter(os.urandom(6 * MiB)))
    reader._md5 = SlowDigest(reader._md5)  # type: ignore[assignment]
    store = FileStore("fast", tmp_path, chunk_size=MiB)
    with pytest.raises(ConnectionResetError):
        store.add("x", reader)
    assert list(tmp_path.iterdir()) == []


def allocated(path) -> int:  # type: ignore[no-untyped-def]
    return os.stat(path).st_blocks * 512


@pytest.mark.parametrize("path", ["direct", "buffered"])
@pytest.mark.parametrize("thin", [True, False])
def test_thin_provisioning_leaves_chunks_of_zeros_as_holes(tmp_path, monkeypatch, path: str, thin: bool) -> None:
    if path == "buffered":
        monkeypatch.setattr(filesystem, "open_direct", lambda p: None)
    elif not direct_write.O_DIRECT:
        pytest.skip("this platform has no O_DIRECT")
    zeros = bytes(3 * MiB)
    data = os.urandom(MiB) + zeros + b"\x01" + bytes(MiB - 1) + os.urandom(10) + zeros  # ends in holes
    store = FileStore("fast", tmp_path, chunk_size=MiB, thin_provisioning=thin)
    stored = store.add("image", io.BytesIO(data))
    file = tmp_path / "image"
    assert stored.size == len(data) and file.stat().st_size == len(data)
    assert store.get(stored.url).read_all() == data
    if thin:  # chunks 1-3, 6 and 7 (and the tail) are holes; chunk 4 starts with a 1 and 5 with data: written
        assert allocated(file) <= 3 * MiB + 64 * 1024
    else:
        assert allocated(file) >= len(data) - 64 * 1024


@pytest.mark.parametrize("size", [0, 100, MiB, 3 * MiB + 5])
def test_a_thin_image_of_nothing_but_zeros_keeps_its_size(tmp_path, size: int) -> None:
    store = FileStore("fast", tmp_path, chunk_size=MiB, thin_provisioning=True)
    stored = store.add("zeros", io.BytesIO(bytes(size)))
    assert (tmp_path / "zeros").stat().st_size == stored.size == size
    assert store.get(stored.url).read_all() == bytes(size)


@pytest.mark.parametrize("data", [b"", b"\0", b"\0" * 64, b"\0" * 65, bytes(MiB)])
def test_all_zeros_finds_blocks_of_zeros(data: bytes) -> None:
    assert direct_write.all_zeros(data)
    assert direct_write.all_zeros(memoryview(data))
    if data:
        assert not direct_write.all_zeros(data[:-1] + b"\x01")
        assert not direct_write.all_zeros(b"\x02" + data[1:])


def test_thin_provisioning_is_read_from_the_store_s_section(tmp_path) -> None:
    config = tmp_path / "glint.toml"
    config.write_text(
        f"""
        data_dir = "{tmp_path / "data"}"
        [enabled_backends.fast]
        filesystem_thin_provisioning = true
        [enabled_backends.cheap]
        type = "file"
        [glance_store]
        default_backend = "fast"
        """
    )
    stores = build_stores(load_settings(config, {}))
    assert stores.get("fast").thin_provisioning is True
    assert stores.get("cheap").thin_provisioning is False


def test_a_thin_store_copies_rather_than_adopts_a_file_that_is_not_sparse(tmp_path) -> None:
    staging = FileStore("staging", tmp_path / "staging")
    thin = FileStore("fast", tmp_path / "fast", thin_provisioning=True)
    plain = FileStore("cheap", tmp_path / "cheap")
    staged = staging.add("staged", io.BytesIO(bytes(MiB)))
    assert thin.adopt("image", staging, staged.url) is None  # the caller streams it through add: holes
    assert plain.adopt("image", staging, staged.url) is not None
    from_thin = thin.add("sparse", io.BytesIO(bytes(MiB)))
    assert FileStore("fast2", tmp_path / "fast2", thin_provisioning=True).adopt("x", thin, from_thin.url) is not None
