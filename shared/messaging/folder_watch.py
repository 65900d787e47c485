"""Waiting for a file to land in a folder: inotify on Linux, a plain sleep elsewhere.

The embedded bus is a folder of message files. A consumer that found it
empty used to sleep its polling interval (50 ms) before looking again, so
every job waited 25 ms on average before a worker saw it, and an upload's
``PUT`` answered that much later. With a watch, the consumer wakes as soon
as a message is renamed into the folder, and looks again only on a timeout
otherwise.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import time

IN_MOVED_TO = 0x00000080  # <sys/inotify.h>: a file was renamed into the folder (how messages arrive)
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if os.name == "posix" else None


class FolderWatch:
    """Files renamed into one folder since the watch was made; :meth:`wait` returns early when one arrives.

    Files that land between a look at the folder and the next :meth:`wait`
    are not missed: the kernel queues their events until they are read.
    Where inotify is missing (not Linux, or the limit of watches reached),
    :meth:`wait` sleeps for its timeout, as polling did.
    """

    def __init__(self, folder: str) -> None:
        self._fd = _inotify_on(folder)

    @property
    def watching(self) -> bool:
        """True when the kernel reports arrivals (inotify); False when :meth:`wait` only sleeps."""
        return self._fd is not None

    def wait(self, timeout: float) -> bool:
        """Block until a file lands in the folder (True) or ``timeout`` seconds pass (False)."""
        if self._fd is None:
            time.sleep(timeout)
            return False
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return False
        try:
            while os.read(self._fd, 65536):  # drain: one wake covers every file that landed so far
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    __del__ = close


def _inotify_on(folder: str) -> int | None:
    """A non-blocking inotify descriptor watching ``folder`` for arrivals, or None where that is not possible."""
    init = getattr(_libc, "inotify_init1", None)
    if init is None:
        return None
    fd = init(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        return None
    if _libc.inotify_add_watch(fd, os.fsencode(folder), IN_MOVED_TO) < 0:
        os.close(fd)
        return None
    return fd
