"""Writing a file past the page cache (``O_DIRECT``): for image data, written once and seldom read back soon.

A buffered write copies every byte into the page cache, which the kernel
then writes back and the file store drops again; on the two-core machine
that bookkeeping was about a sixth of a 1 GiB upload's CPU besides hashing.
With ``O_DIRECT`` the disk reads the bytes straight from a few aligned
buffers, filled and written in turn over and over; a reader with
``readinto`` (the request body) fills them in place.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
from concurrent.futures import Future, ThreadPoolExecutor

ALIGN = 4096  # offsets and lengths of direct writes: a multiple of any disk's logical block size
O_DIRECT = getattr(os, "O_DIRECT", 0)  # Linux and some BSDs; not macOS


def all_zeros(data: bytes | memoryview) -> bool:
    """True when every byte of ``data`` is zero (a block a thin-provisioned file leaves as a hole)."""
    if any(bytes(data[:64])):
        return False  # most data blocks: decided on their first bytes
    whole = bytes(data)
    return whole == bytes(len(whole))


def open_direct(path: str) -> int | None:
    """A new file at ``path``, open for direct writes; None where the filesystem has no direct I/O.

    Like ``open(path, "xb")``, fails when ``path`` exists.
    """
    if not O_DIRECT:
        return None
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | O_DIRECT, 0o666)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        os.unlink(path)  # Linux creates the file before it finds the filesystem cannot do direct I/O
        return None


def direct_writes_work(folder: str) -> bool:
    """True when a file in ``folder`` can be written with direct I/O: opened, and one aligned block written.

    Some filesystems accept ``O_DIRECT`` at open and refuse the writes (EINVAL); a store asks once, with a
    probe file it removes, and writes through the page cache where the answer is no.
    """
    probe = os.path.join(folder, f".direct-io-probe.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        fd = open_direct(probe)
    except OSError:
        return False
    if fd is None:
        return False
    try:
        with mmap.mmap(-1, ALIGN) as block:
            os.write(fd, block)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(probe)


class DirectWriter:
    """Writes to a file opened by :func:`open_direct`, through ``buffers`` aligned buffers of ``block_size``.

    Bytes are gathered into a buffer: copied by :meth:`write`, or read in
    place into :meth:`space` and counted by :meth:`filled`. A full buffer is
    written on a thread of the writer's own while the caller fills the next
    one, so the caller (reading a socket, say) never waits for the disk
    unless the disk falls behind. Blocks reach the file in order.
    :meth:`finish` writes what is left, the last partial block through the
    page cache (a direct write must be a whole number of blocks). A direct
    write returns once the disk has the data: only the file's metadata is
    left for the fsync that ends it. An error of a write on the thread is
    raised by the next :meth:`write` or :meth:`space` that needs its buffer,
    or by :meth:`finish`. ``sparse``: blocks of zeros are skipped, left as
    holes in the file (thin provisioning).
    """

    def __init__(self, fd: int, block_size: int, buffers: int = 2, *, sparse: bool = False) -> None:
        self._fd = fd
        self._sparse = sparse
        self.size = 0  # bytes taken so far: the file's length at the end
        buffer_size = max(ALIGN, block_size // ALIGN * ALIGN)
        self._buffers = [mmap.mmap(-1, buffer_size) for _ in range(buffers)]  # page-aligned memory
        self._views = [memoryview(buffer) for buffer in self._buffers]
        self._writes: list[Future[None] | None] = [None] * buffers  # the write in progress from each buffer
        self._index = 0  # the buffer being filled
        self._filled = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="direct-write")

    def write(self, data: bytes) -> None:
        """Take ``data``; whenever a buffer is full, start writing it out."""
        incoming = memoryview(data).cast("B")
        while incoming:
            space = self.space()
            taken = min(len(incoming), len(space))
            space[:taken] = incoming[:taken]
            incoming = incoming[taken:]
            self.filled(taken)

    def space(self) -> memoryview:
        """The free end of the buffer being filled, for a reader to fill in place (then :meth:`filled`)."""
        return self._free_buffer()[self._filled :]

    def filled(self, count: int) -> None:
        """``count`` bytes were put at the start of :meth:`space`; a buffer now full starts being written."""
        view = self._views[self._index]
        self.size += count
        self._filled += count
        if self._filled == len(view):
            if self._sparse and all_zeros(view):
                self._writes[self._index] = self._writer.submit(self._skip, len(view))
            else:
                self._writes[self._index] = self._writer.submit(self._write_out, view, len(view))
            self._index = (self._index + 1) % len(self._views)
            self._filled = 0

    def finish(self) -> None:
        """Write everything still buffered and wait for it; the writer is closed afterwards."""
        try:
            view = self._free_buffer()
            for index in range(len(self._writes)):
                self._wait(index)
            if not (self._sparse and all_zeros(view[: self._filled])):
                whole = self._filled // ALIGN * ALIGN
                self._write_out(view, whole)
                if self._filled > whole:  # the tail: not a whole block, so not direct
                    fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~O_DIRECT)
                    self._write_out(view, self._filled, start=whole)
            if self._sparse:
                os.ftruncate(self._fd, self.size)  # a file that ends in holes still has its length
            self._filled = 0
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread and let go of the buffers (the file stays open: it is the caller's)."""
        self._writer.shutdown(wait=True)  # a write still running uses a buffer
        for view, buffer in zip(self._views, self._buffers, strict=True):
            if not buffer.closed:
                view.release()
                try:
                    buffer.close()
                except BufferError:
                    pass  # a reader still holds part of it (hashing on a thread): unmapped once that ends

    def _free_buffer(self) -> memoryview:
        """The buffer being filled, once its last write is done."""
        self._wait(self._index)
        return self._views[self._index]

    def _wait(self, index: int) -> None:
        write, self._writes[index] = self._writes[index], None
        if write is not None:
            write.result()

    def _skip(self, size: int) -> None:
        os.lseek(self._fd, size, os.SEEK_CUR)

    def _write_out(self, view: memoryview, end: int, start: int = 0) -> None:
        while start < end:
            with view[start:end] as block:  # released even when the write fails: the buffer can close
                start += os.write(self._fd, block)
