"""Waiting for a file to land in a folder: inotify on Linux, a plain sleep elsewhere.

The embedded bus is a folder of message files. A consumer that found it
empty used to sleep its polling interval (50 ms) before looking again, so
every job waited 25 ms on average before a worker saw it, and an upload's
``PUT`` answered that much later. With a watch, the consumer wakes as soon
as a message is renamed into the folder, and looks again only on a timeout
otherwise. Another thread can end a wait too (:meth:`FolderWatch.wake`):
the bus does when a consumer acks a message and may take the next.
"""

from __future__ import annotations

import ctypes
import os
import select

IN_MOVED_TO = 0x00000080  # <sys/inotify.h>: a file was renamed into the folder (how messages arrive)


class FolderWatch:
    """Files renamed into one folder since the watch was made; :meth:`wait` returns early when one arrives,
    or when another thread calls :meth:`wake`.

    Files that land between a look at the folder and the next :meth:`wait`
    are not missed: the kernel queues their events until they are read.
    Where inotify is missing (not Linux, or the limit of watches reached),
    :meth:`wait` sleeps for its timeout, as polling did, unless woken.
    """

    def __init__(self, folder: str) -> None:
        self._fd = _inotify_on(folder)
        self._wake_in, self._wake_out = os.pipe()
        for end in (self._wake_in, self._wake_out):
            os.set_blocking(end, False)

    @property
    def watching(self) -> bool:
        """True when the kernel reports arrivals (inotify); False when :meth:`wait` only sleeps."""
        return self._fd is not None

    def wait(self, timeout: float) -> bool:
        """Block until a file lands in the folder or :meth:`wake` is called (True), or ``timeout`` seconds
        pass (False)."""
        watched = [self._wake_in] if self._fd is None else [self._fd, self._wake_in]
        ready, _, _ = select.select(watched, [], [], timeout)
        for fd in ready:
            _drain(fd)  # one wake covers every file that landed, and every call of wake, so far
        return bool(ready)

    def wake(self) -> None:
        """End a :meth:`wait` in progress, or the next one (safe from any thread)."""
        try:
            os.write(self._wake_out, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (a wake is pending anyway) or closed

    def close(self) -> None:
        for name in ("_fd", "_wake_in", "_wake_out"):
            fd = getattr(self, name, None)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    __del__ = close


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except BlockingIOError:
        pass


def _inotify_on(folder: str) -> int | None:
    """A non-blocking inotify descriptor watching ``folder`` for arrivals, or None where that is not possible."""
    libc = ctypes.CDLL(None, use_errno=True)  # the C library already loaded into this process
    init = getattr(libc, "inotify_init1", None)
    if init is None:
        return None
    fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(folder), IN_MOVED_TO) < 0:
        os.close(fd)
        return None
    return fd
