"""The file store's early writeback: a large object is flushed to disk while it is written."""

from __future__ import annotations

import errno
import io
import os

import pytest

from shared.stores import filesystem
from shared.stores.errors import StoreError
from shared.stores.filesystem import FileStore

MiB = 1024 * 1024


def test_a_large_write_is_flushed_as_it_grows(tmp_path, monkeypatch) -> None:
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


def test_a_failed_flush_fails_the_write(tmp_path, monkeypatch) -> None:
    store = FileStore("fast", tmp_path, chunk_size=MiB)
    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", MiB)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(filesystem.os, "fdatasync", broken)
    with pytest.raises(StoreError, match="Input/output error"):
        store.add("big", io.BytesIO(os.urandom(3 * MiB)))
    assert list(tmp_path.iterdir()) == []  # no object, no partial file


def test_a_large_write_leaves_the_page_cache_once_on_disk(tmp_path, monkeypatch) -> None:
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


def test_a_small_write_keeps_its_pages(tmp_path, monkeypatch) -> None:
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


def test_a_refused_advice_does_not_fail_the_write(tmp_path, monkeypatch) -> None:
    def refused(fd: int, offset: int, length: int, advice: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(filesystem, "WRITEBACK_EVERY", MiB)
    monkeypatch.setattr(filesystem.os, "posix_fadvise", refused)
    data = os.urandom(3 * MiB)
    stored = FileStore("fast", tmp_path).add("big", io.BytesIO(data))
    assert FileStore("fast", tmp_path).get(stored.url).read_all() == data
