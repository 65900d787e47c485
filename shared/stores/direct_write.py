"""Writing a file past the page cache (``O_DIRECT``): for image data, written once and seldom read back soon.

A buffered write copies every byte into the page cache, which the kernel
then writes back and the file store drops again; on the two-core machine
that bookkeeping was about a sixth of a 1 GiB upload's CPU besides hashing.
With ``O_DIRECT`` the disk reads the bytes straight from one aligned buffer
that is filled and written over and over.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os

ALIGN = 4096  # offsets and lengths of direct writes: a multiple of any disk's logical block size
O_DIRECT = getattr(os, "O_DIRECT", 0)  # Linux and some BSDs; not macOS


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


class DirectWriter:
    """Writes to a file opened by :func:`open_direct`, through one aligned buffer of ``block_size``.

    Bytes are gathered into the buffer and written a full buffer at a time;
    :meth:`finish` writes what is left, the last partial block through the
    page cache (a direct write must be a whole number of blocks). Each
    write returns once the disk has the data: only the file's metadata is
    left for the fsync that ends the file.
    """

    def __init__(self, fd: int, block_size: int) -> None:
        self._fd = fd
        self._buffer = mmap.mmap(-1, max(ALIGN, block_size // ALIGN * ALIGN))  # page-aligned memory
        self._view = memoryview(self._buffer)
        self._filled = 0

    def write(self, data: bytes) -> None:
        """Take ``data``; whenever the buffer is full, write it out."""
        incoming = memoryview(data).cast("B")
        while incoming:
            taken = min(len(incoming), len(self._view) - self._filled)
            self._view[self._filled : self._filled + taken] = incoming[:taken]
            self._filled += taken
            incoming = incoming[taken:]
            if self._filled == len(self._view):
                self._write_out(self._filled)
                self._filled = 0

    def finish(self) -> None:
        """Write everything still in the buffer; the writer is closed afterwards."""
        try:
            whole = self._filled // ALIGN * ALIGN
            self._write_out(whole)
            if self._filled > whole:  # the tail: not a whole block, so not direct
                fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~O_DIRECT)
                self._write_out(self._filled, start=whole)
            self._filled = 0
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the buffer (the file stays open: it is the caller's)."""
        if not self._buffer.closed:
            self._view.release()
            self._buffer.close()

    def _write_out(self, end: int, start: int = 0) -> None:
        while start < end:
            with self._view[start:end] as block:  # released even when the write fails: the buffer can close
                start += os.write(self._fd, block)
