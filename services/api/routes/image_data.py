"""Image data routes: PUT and GET /v2/images/{id}/file."""

from __future__ import annotations

from flask import Blueprint, Response, request

from services.api.errors import ApiError
from services.api.ranges import parse_range
from services.api.runtime import caller, no_content, runtime
from shared.handlers import downloads, uploads

bp = Blueprint("image_data", __name__)

SEND_BLOCK = 1024 * 1024


@bp.put("/v2/images/<image_id>/file")
def upload(image_id: str) -> Response:
    """PUT /v2/images/{id}/file: stage the body and queue the upload job; 204.

    The image is ``saving`` when this returns and becomes ``active`` once a
    worker has moved the data into its store.
    """
    if request.mimetype != "application/octet-stream":
        content_type = request.content_type or ""
        raise ApiError(
            415,
            f"The request media type {content_type} is not supported by this server.",
            f"Invalid content type {content_type}",
        )
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
        request.stream,
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
    file_wrapper = request.environ.get("wsgi.file_wrapper")
    if data.file is not None and file_wrapper is not None and _clamps_to_length(request.environ, found.partial):
        body = file_wrapper(data.file, SEND_BLOCK)  # the server sends it with sendfile(2)
    else:
        body = data.chunks
    response = Response(body, status=206 if found.partial else 200, headers=headers, direct_passthrough=True)
    response.call_on_close(data.close)
    return response


def _clamps_to_length(environ: dict, partial: bool) -> bool:
    """A file wrapper sends to end of file; for a range only gunicorn's stops at Content-Length."""
    return not partial or str(environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn")
