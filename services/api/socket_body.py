"""Image data read straight from the client's socket: one copy, from the kernel into the store's buffers.

Through the WSGI stack (gunicorn's body reader, then werkzeug's stream) every byte of
an upload was copied five or six times in Python buffers; profiled on the two-core
machine, that was a tenth of a 1 GiB upload's CPU time. Where gunicorn serves a body
of known length on a plain socket, :func:`image_data` reads the socket itself, with
``MSG_WAITALL`` so that each read fills a whole chunk: ``readinto`` into the buffer the
file store writes from (``recv_into``), ``read`` into a new ``bytes``. A chunked body
(python-glanceclient sends 64 KiB chunks) is decoded by gunicorn's own chunk parser, and
each piece it yields copied once into the store's buffer, a whole buffer per read: through
the stack, a 1 GiB chunked upload ran at 58-64% of the hash limit against 71-74% for the
same bytes sent with a length, and a malformed chunk was a 500. Anywhere else (another
server, TLS with a length) it is the request's own stream.
"""

from __future__ import annotations

import io
import socket
from typing import Any

from flask import request
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import ClientDisconnected

from services.api.errors import ApiError
from shared.stores.base import Readable

CHUNK = 1024 * 1024  # what a read with no size returns at most at a time


def image_data() -> Readable:
    """The request body to stream into a store (see the module's docstring).

    Raises a 415 unless the body is sent as ``application/octet-stream``, as Glance requires of image data.
    """
    if request.mimetype != "application/octet-stream":
        content_type = request.content_type or ""
        raise ApiError(415, f"The request media type {content_type} is not supported by this server.",
                       f"Invalid content type {content_type}")  # fmt: skip
    return SocketBody.of(request.environ) or ChunkedBody.of(request.environ) or request.stream


class SocketBody:
    """The rest of a gunicorn request body of known length, read from its socket.

    gunicorn's reader is kept told how much is left (its ``length``), so that after
    the request it drains only what the handler did not read, as it does for its own
    reads, and the connection stays usable for the next request.
    """

    def __init__(self, sock: socket.socket, body: Any, length_reader: Any, held: bytes) -> None:
        self._sock = sock
        self._body = body
        self._reader = length_reader
        self._held = held

    @classmethod
    def of(cls, environ: dict[str, Any]) -> SocketBody | None:
        """The body of the request in ``environ`` when gunicorn serves it on a plain socket with a length."""
        sock, body = environ.get("gunicorn.socket"), environ.get("wsgi.input")
        reader = getattr(body, "reader", None)
        unreader = getattr(reader, "unreader", None)
        if (
            type(sock) is not socket.socket  # TLS: recv flags are not allowed
            or not isinstance(body, Body)
            or not isinstance(reader, LengthReader)  # chunked: gunicorn decodes it
            or not isinstance(getattr(body, "buf", None), io.BytesIO)
            or not isinstance(getattr(unreader, "buf", None), io.BytesIO)
        ):
            return None
        held = body.buf.getvalue()  # already counted off the length by gunicorn
        body.buf = io.BytesIO()
        ahead = unreader.buf.getvalue()  # read with the headers, not yet counted
        unreader.buf = io.BytesIO()
        taken = ahead[: reader.length]
        if len(ahead) > len(taken):
            unreader.buf.write(ahead[len(taken) :])  # a pipelined next request: gunicorn's again
        reader.length -= len(taken)
        return cls(sock, body, reader, held + taken)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        if self._held:
            data, self._held = self._held[:size], self._held[size:]
            return data
        wanted = min(size, self._reader.length)
        if wanted <= 0:
            return b""
        return self._receive(self._sock.recv, wanted)

    def readinto(self, view: memoryview, /) -> int:
        """Read up to ``len(view)`` bytes straight into ``view`` (no ``bytes`` made); 0 at the end."""
        if self._held:
            taken = min(len(view), len(self._held))
            view[:taken], self._held = self._held[:taken], self._held[taken:]
            return taken
        wanted = min(len(view), self._reader.length)
        if wanted <= 0:
            return 0
        return self._receive(self._sock.recv_into, view, wanted)

    def _receive(self, receive: Any, *args: Any) -> Any:
        """``receive(*args, MSG_WAITALL)`` on the socket (``recv`` or ``recv_into``), counted off the length.
        A failure or a closed socket leaves the connection unusable."""
        try:
            got = receive(*args, socket.MSG_WAITALL)
        except OSError:
            self._body.failed = True  # where the next request starts is unknown: gunicorn closes
            raise
        if not got:
            self._body.failed = True
            raise ClientDisconnected()
        self._reader.length -= got if isinstance(got, int) else len(got)
        return got


class ChunkedBody:
    """A chunked request body as gunicorn's chunk parser decodes it, gathered into whole buffers.

    A read returns as much as was asked unless the body ends first, as a
    socket read with ``MSG_WAITALL`` does, so that the hashing and the
    direct writes behind it see large pieces whatever size the client's
    chunks are. The chunk framing is gunicorn's to check: a malformed chunk
    size, extension, terminator or trailer is a 400, a client gone before
    the last chunk a disconnect, and either way the connection is closed.
    """

    def __init__(self, body: Body, reader: ChunkedReader) -> None:
        self._body = body
        self._reader = reader
        self._piece = memoryview(b"")  # what is left of the last piece the parser yielded

    @classmethod
    def of(cls, environ: dict[str, Any]) -> ChunkedBody | None:
        """The body of the request in ``environ`` when gunicorn reads it with its chunk parser, untouched so far."""
        body = environ.get("wsgi.input")
        reader = getattr(body, "reader", None)
        if (
            not isinstance(body, Body)
            or not isinstance(reader, ChunkedReader)
            or reader.parser is None
            or not isinstance(getattr(body, "buf", None), io.BytesIO)
            or body.buf.tell()
            or not isinstance(getattr(reader, "buf", None), io.BytesIO)
            or reader.buf.tell()
        ):
            return None
        return cls(body, reader)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        pieces, wanted = [], size
        while wanted and (piece := self._next(wanted)):
            pieces.append(piece)
            wanted -= len(piece)
        return b"".join(pieces)

    def readinto(self, view: memoryview, /) -> int:
        """Fill ``view`` with the next bytes of the body; fewer only at its end (0 once it has ended)."""
        filled = 0
        while filled < len(view) and (piece := self._next(len(view) - filled)):
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
        return filled

    def _next(self, wanted: int) -> memoryview:
        """Up to ``wanted`` bytes of the current piece, the parser's next one once it is used up; empty at the end."""
        while not self._piece:
            parser = self._reader.parser
            if parser is None:
                return self._piece
            try:
                self._piece = memoryview(next(parser))
            except StopIteration:
                self._reader.parser = None  # ended, trailers and all: gunicorn has nothing left to drain
            except NoMoreData:
                self._body.failed = True
                raise ClientDisconnected() from None
            except ParseException as exc:
                self._body.failed = True  # where the next request would start is unknown: gunicorn closes
                raise ApiError(400, f"Malformed chunked request body: {exc}") from None
            except OSError:
                self._body.failed = True
                raise
        piece, self._piece = self._piece[:wanted], self._piece[wanted:]
        return piece
