"""The ``file`` store: one file per object in a directory, written atomically and fsynced."""

from __future__ import annotations

import errno
import os
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from shared.stores.base import ImageData, Progress, Readable, Store, StoredObject, holds, read_into
from shared.stores.direct_write import DirectWriter, all_zeros, direct_writes_work, open_direct
from shared.stores.errors import DataNotFound, StorageFull, StorageWriteDenied, StoreError, UnknownLocation

_KEY = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\Z")
_PART_SUFFIX = ".part"
WRITEBACK_EVERY = 8 * 1024 * 1024  # measured: 64 MiB flushed too late to overlap a 64 MiB import or a 1 GiB upload
_FADVISE = hasattr(os, "posix_fadvise")  # not on macOS: pages then stay cached, as any write's do


class _EarlyWriteback:
    """Flushes a file being written to disk as it grows, one ``fdatasync`` at a time on a thread of its own,
    so that the fsync that ends the write has only the last bytes left (a 1 GiB write otherwise waits for
    all of it there). An error a flush meets is kept and raised by :meth:`finish`.

    Flushed bytes are then dropped from the page cache (``POSIX_FADV_DONTNEED``, as ``dd oflag=nocache``
    does): an image is written once and seldom read back at once, so a large upload recycles the same
    pages instead of pushing everything else out of memory. Measured on the two-core machine: a 1 GiB
    write that keeps its pages cost 3.9-4.2 s of system time where pages were new to the machine, and
    0.4 s recycling them. A file about to be read back (``drop=False``) keeps its pages.
    """

    def __init__(self, fd: int, *, drop: bool = True) -> None:
        self._fd = fd
        self._drop_flushed = drop and _FADVISE
        self._every = WRITEBACK_EVERY
        self._written = 0
        self._unflushed = 0
        self._dropped = 0  # bytes from the start of the file known to be on disk and out of the page cache
        self._thread: threading.Thread | None = None
        self._error: OSError | None = None

    def wrote(self, size: int) -> None:
        self._written += size
        self._unflushed += size
        if self._unflushed >= self._every and (self._thread is None or not self._thread.is_alive()):
            self._unflushed = 0
            self._thread = threading.Thread(target=self._flush, args=(self._written,), name="writeback",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def _flush(self, written: int) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._error = exc
            return
        self._drop(written)

    def _drop(self, upto: int) -> None:
        """Drop ``[dropped, upto)``, already on disk, from the page cache."""
        if self._drop_flushed and upto > self._dropped:
            _uncache(self._fd, self._dropped, upto - self._dropped)
            self._dropped = upto

    def wait(self) -> None:
        """Wait for the flush in progress; before the file is closed, whatever ends the write."""
        if self._thread is not None:
            self._thread.join()

    def finish(self) -> None:
        """Wait, then raise the error a flush met (the kernel reports a write error to one fsync only)."""
        self.wait()
        if self._error is not None:
            raise self._error

    def synced(self) -> None:
        """The whole file is on disk (its final fsync): drop all of a large file from the page cache (from 0:
        bytes still in the writer's buffer at a flush reached the kernel only later)."""
        if self._dropped:
            _uncache(self._fd, 0, 0)


def _uncache(fd: int, offset: int, length: int) -> None:
    """Advise the kernel to drop ``length`` bytes (0: to the end) from ``offset`` from the page cache; only
    advice, so a refusal changes nothing that was written."""
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass


class FileStore(Store):
    """Objects are files named by their key under ``datadir``; URLs are ``file://`` paths."""

    def __init__(
        self, name: str, datadir: Path, chunk_size: int = 1024 * 1024, *, thin_provisioning: bool = False
    ) -> None:
        super().__init__(name)
        self.datadir = Path(datadir).resolve()
        self.chunk_size = chunk_size
        self.thin_provisioning = thin_provisioning  # chunks of zeros are left as holes (sparse files)
        self._direct: bool | None = None  # whether direct writes work in datadir: probed at the first add
        self.datadir.mkdir(parents=True, exist_ok=True)

    # -- addressing ---------------------------------------------------------------
    def url_for(self, key: str) -> str:
        return (self.datadir / _checked(key)).as_uri()

    def handles(self, url: str) -> bool:
        try:
            self._path(url)
        except UnknownLocation:
            return False
        return True

    def _path(self, url: str) -> Path:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            raise UnknownLocation(f"{url} is not a file URL")
        path = Path(unquote(parsed.path))
        if path.parent != self.datadir or not _KEY.match(path.name):
            raise UnknownLocation(f"{url} is not in store {self.name}")
        return path

    # -- the interface --------------------------------------------------------------
    def add(
        self, key: str, source: Readable, *, progress: Progress | None = None, read_back: bool = False
    ) -> StoredObject:
        """Written past the page cache where the filesystem allows (:mod:`shared.stores.direct_write`),
        except data to be read back soon; else through it, flushed as it grows and then dropped from it."""
        final = self.datadir / _checked(key)
        temp = self.datadir / f".{key}.{uuid.uuid4().hex}{_PART_SUFFIX}"
        try:
            with _storage_errors(self.name):
                direct = None if read_back or not self._direct_writes() else open_direct(str(temp))
            if direct is not None:
                size = self._write_direct(direct, source, progress)
            else:
                size = self._write_buffered(temp, source, progress, read_back)
            with _storage_errors(self.name):
                os.replace(temp, final)
                _fsync_dir(self.datadir)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredObject(url=final.as_uri(), size=size, metadata={"store": self.name})

    def _direct_writes(self) -> bool:
        if self._direct is None:
            self._direct = direct_writes_work(str(self.datadir))
        return self._direct

    def _write_direct(self, fd: int, source: Readable, progress: Progress | None) -> int:
        writer = DirectWriter(fd, self.chunk_size, buffers=max(2, holds(source) + 1), sparse=self.thin_provisioning)
        try:
            while count := self._take(source, writer):
                if progress:
                    progress(count)
            with _storage_errors(self.name):
                writer.finish()
                os.fsync(fd)
        finally:
            writer.close()
            os.close(fd)
        return writer.size

    def _take(self, source: Readable, writer: DirectWriter) -> int:
        """One read of ``source`` into ``writer``: the bytes taken, 0 at the end. A source with ``readinto``
        (a request body through its hashing) fills the aligned buffers in place: one copy fewer, and no new
        ``bytes`` per chunk; the writer has more buffers than the reads such a source may still hold."""
        if not hasattr(source, "readinto"):
            chunk = source.read(self.chunk_size)  # a failing source raises its own error
            with _storage_errors(self.name):
                writer.write(chunk)
            return len(chunk)
        with _storage_errors(self.name):
            space = writer.space()
        count = read_into(source, space)
        with _storage_errors(self.name):
            writer.filled(count)
        return count

    def _write_buffered(self, temp: Path, source: Readable, progress: Progress | None, read_back: bool) -> int:
        size = 0
        with _storage_errors(self.name):
            out = open(temp, "xb")
        with out:
            writeback = _EarlyWriteback(out.fileno(), drop=not read_back)
            try:
                while chunk := source.read(self.chunk_size):  # a failing source raises its own error
                    with _storage_errors(self.name):
                        if self.thin_provisioning and all_zeros(chunk):
                            out.seek(len(chunk), os.SEEK_CUR)  # a hole
                        else:
                            out.write(chunk)
                    size += len(chunk)
                    writeback.wrote(len(chunk))
                    if progress:
                        progress(len(chunk))
            except BaseException:
                writeback.wait()
                raise
            with _storage_errors(self.name):
                writeback.finish()
                out.flush()
                if self.thin_provisioning:
                    out.truncate(size)  # a file that ends in holes still has its length
                os.fsync(out.fileno())
                writeback.synced()
        return size

    def adopt(self, key: str, source: Store, source_url: str, *, keep_source: bool = False) -> StoredObject | None:
        """Rename (or, keeping the source, hard-link) a file of another file store into this one when both
        share a filesystem. A thin-provisioned store does not take a file from one that is not: the file
        would keep its zeros written out; the caller's copy through :meth:`add` leaves them as holes."""
        if not isinstance(source, FileStore) or (self.thin_provisioning and not source.thin_provisioning):
            return None
        src = source._path(source_url)
        final = self.datadir / _checked(key)
        try:
            if src.stat().st_dev != self.datadir.stat().st_dev:
                return None
            size = src.stat().st_size
            if keep_source:  # link under a partial name first: a crash leaves a part the scrubber removes
                linked = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}{_PART_SUFFIX}")
                os.utime(src)  # one inode: a fresh time keeps the scrubber off the part until it is renamed
                os.link(src, linked)
                os.replace(linked, final)
            else:
                os.replace(src, final)
        except FileNotFoundError:
            raise DataNotFound(f"{source_url} does not exist") from None
        except OSError as exc:
            raise StoreError(f"cannot move {source_url} into store {self.name}: {exc}") from exc
        _fsync_dir(self.datadir)
        return StoredObject(url=final.as_uri(), size=size, metadata={"store": self.name})

    def get(self, url: str, offset: int = 0, length: int | None = None) -> ImageData:
        path = self._path(url)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise DataNotFound(f"{url} does not exist") from None
        except OSError as exc:
            raise StoreError(f"cannot read {url}: {exc}") from exc
        size = os.fstat(handle.fileno()).st_size
        offset = min(offset, size)
        length = size - offset if length is None else max(0, min(length, size - offset))
        handle.seek(offset)
        return ImageData(
            chunks=_read_chunks(handle, length, self.chunk_size),
            size=size,
            offset=offset,
            length=length,
            file=handle,
            close=handle.close,
        )

    def get_size(self, url: str) -> int:
        try:
            return self._path(url).stat().st_size
        except FileNotFoundError:
            raise DataNotFound(f"{url} does not exist") from None

    def delete(self, url: str) -> None:
        try:
            self._path(url).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot delete {url}: {exc}") from exc

    def list_keys(self) -> Iterator[tuple[str, float]]:
        with os.scandir(self.datadir) as entries:
            for entry in entries:
                if entry.is_file() and not entry.name.startswith("."):
                    yield entry.name, entry.stat().st_mtime

    def remove_stale_parts(self, older_than: float) -> int:
        """Remove ``.part`` files left by writers that died, older than ``older_than`` (Unix time)."""
        removed = 0
        with os.scandir(self.datadir) as entries:
            for entry in entries:
                if entry.name.endswith(_PART_SUFFIX) and entry.stat().st_mtime < older_than:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise StoreError(f"invalid object key {key!r}")
    return key


def _read_chunks(handle, remaining: int, chunk_size: int) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
    try:
        while remaining > 0:
            chunk = handle.read(min(chunk_size, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _storage_errors:
    """Translate OS errors of a write into the store error hierarchy."""

    def __init__(self, store: str) -> None:
        self.store = store

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        if exc is None or not isinstance(exc, OSError):
            return False
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"Image storage media is full: {exc}") from exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StorageWriteDenied(f"Insufficient permissions on image storage media: {exc}") from exc
        raise StoreError(f"write to store {self.store} failed: {exc}") from exc
