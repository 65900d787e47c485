"""Image data routes: PUT and GET /v2/images/{id}/file."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, request

from services.api import socket_body
from services.api.errors import ApiError
from services.api.ranges import parse_range
from services.api.runtime import caller, no_content, runtime
from shared.handlers import downloads, uploads
from shared.stores.base import ImageData

bp = Blueprint("image_data", __name__)

SEND_BLOCK = 1024 * 1024


@bp.put("/v2/images/<image_id>/file")
def upload(image_id: str) -> Response:
    """PUT /v2/images/{id}/file: stage the body and queue the upload job; 204.

    The image is ``saving`` when this returns and becomes ``active`` once a
    worker has moved the data into its store.
    """
    data = socket_body.image_data()
    declared = request.headers.get("x-openstack-image-size")
    if declared is not None:
        try:
            declared_size: int | None = int(declared)
        except ValueError:
            raise ApiError(400, "Invalid or missing image size in request headers.") from None
    else:
        declared_size = request.content_length
    rt = runtime()
    uploads.upload_image_data(
        rt.services,
        caller(),
        image_id,
        data,
        declared_size=declared_size,
        store_name=request.headers.get("X-Image-Meta-Store"),
        heartbeat=rt.heartbeat,
    )
    return no_content()


@bp.get("/v2/images/<image_id>/file")
def download(image_id: str) -> Response:
    """GET /v2/images/{id}/file: 200 with the data, 206 for one range, 204 when there is none."""
    byte_range = parse_range(request.headers.get("Range"), request.headers.get("Content-Range"))
    found = downloads.open_download(runtime().services, caller(), image_id, byte_range)
    data = found.data
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(data.length)}
    if found.checksum:
        headers["Content-MD5"] = found.checksum
    if found.partial:
        headers["Content-Range"] = f"bytes {data.offset}-{data.offset + data.length - 1}/{found.size}"
    svc, context = runtime().services, caller()

    def finished(bytes_sent: int) -> None:
        data.close()
        downloads.record_send(svc, context, found, bytes_sent)

    file_wrapper = request.environ.get("wsgi.file_wrapper")
    if data.file is not None and file_wrapper is not None and _clamps_to_length(request.environ, found.partial):
        body = _tracked_file(file_wrapper, data, finished)  # the server sends it with sendfile(2)
    else:
        body = _tracked_chunks(data.chunks, finished)
    return Response(body, status=206 if found.partial else 200, headers=headers, direct_passthrough=True)


def _tracked_chunks(chunks: Iterator[bytes], finished: Callable[[int], None]) -> Iterator[bytes]:
    """The chunks, counting those the server came back for; ``finished`` runs when the server closes it."""
    sent = 0
    try:
        for chunk in chunks:
            yield chunk
            sent += len(chunk)
    finally:
        finished(sent)


def _tracked_file(file_wrapper: type, data: ImageData, finished: Callable[[int], None]) -> Any:
    """The server's own file wrapper (so it still uses sendfile), calling ``finished`` when closed.

    gunicorn closes the wrapper in a ``finally``: an exception in flight at that moment means the
    transfer broke off, and how far it got is unknown (reported as 0 bytes, so ``image.send`` is ERROR).
    """

    class Tracked(file_wrapper):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(data.file, SEND_BLOCK)
            self.close = self._close  # gunicorn's wrapper sets ``close`` on the instance

        def _close(self) -> None:
            broke_off = sys.exc_info()[0] is not None
            finished(0 if broke_off else data.length)

    return Tracked()


def _clamps_to_length(environ: dict, partial: bool) -> bool:
    """A file wrapper sends to end of file; for a range only gunicorn's stops at Content-Length."""
    return not partial or str(environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn")
