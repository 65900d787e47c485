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
