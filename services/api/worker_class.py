"""The API's gunicorn worker: gunicorn's threaded worker, keeping a busy kept-alive connection on its thread.

gunicorn's ``gthread`` worker hands a kept-alive connection back to its poller thread after every
response; the next request then travels poller → thread pool again: two thread hand-offs, a pipe
write and two epoll changes per request, each needing the interpreter lock. Measured on the two-core
machine, that was a third of a ``GET /versions``. When the client's next request is already there or
comes within ``NEXT_REQUEST_WAIT_S``, this worker serves it on the same thread; a connection that goes
quiet returns to the poller as before, so an idle client never holds a thread for longer than that.
"""

from __future__ import annotations

import select
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

NEXT_REQUEST_WAIT_S = 0.002  # a client answering its previous response at once sends within a fraction of this


class GlintThreadWorker(ThreadWorker):  # type: ignore[misc]
    """``gthread`` with requests of a busy kept-alive connection served back to back on one thread."""

    def handle(self, conn: Any) -> Any:
        """Serve the connection's request, then its next ones while they come at once (see the module)."""
        keepalive = super().handle(conn)
        while keepalive is True and self.alive and next_request_ready(conn, NEXT_REQUEST_WAIT_S):
            keepalive = super().handle(conn)
        return keepalive  # to gunicorn's poller: keep alive, close, or wait for data


def next_request_ready(conn: Any, wait_s: float) -> bool:
    """Whether an HTTP/1 connection has its next request buffered or readable within ``wait_s``."""
    try:
        if getattr(conn, "is_http2", False):
            return False  # its streams are gunicorn's to multiplex
        if conn.parser.unreader.buf.getvalue():
            return True  # read ahead with the previous request: the socket will not look readable
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(wait_s * 1000))
    except (AttributeError, OSError, ValueError):
        return False  # another gunicorn's connection, or a closed socket: the poller decides
