"""Downloading image data (GET /file), whole or one byte range, failing over across locations."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from shared.domain.context import RequestContext
from shared.domain.errors import Forbidden, NoData, RangeNotSatisfiable, Unavailable
from shared.domain.events import image_sent
from shared.domain.status import ImageStatus
from shared.handlers.access import authorize, load_visible
from shared.services import Services
from shared.stores.base import ImageData
from shared.stores.errors import StoreError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ByteRange:
    """One requested range: ``first``-``last`` inclusive (``last`` may be open), or the last ``suffix`` bytes."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> tuple[int, int]:
        """(offset, length) within an object of ``size`` bytes; RangeNotSatisfiable when it starts beyond it."""
        if self.suffix is not None:  # bytes=-0 means all of it, as Glance (webob) reads it
            length = size if self.suffix == 0 else min(self.suffix, size)
            return size - length, length
        first = self.first or 0
        if first >= size:
            raise RangeNotSatisfiable(
                "The Range requested is not available.",
                "Invalid start position in Range header. "
                f"Start position MUST be in the inclusive range [0, {size - 1}].",
            )
        last = size - 1 if self.last is None else min(self.last, size - 1)
        return first, last - first + 1


@dataclass
class Download:
    """An open read of the image's data, with what the response headers and ``image.send`` need."""

    data: ImageData
    size: int
    checksum: str | None
    partial: bool
    image_id: str
    owner: str | None


def record_send(services: Services, context: RequestContext, download: Download, bytes_sent: int) -> None:
    """Write ``image.send`` for a download that ended (fully sent or cut short); never raises."""
    event = image_sent(download.image_id, download.owner, (context.project_id, context.user_id), bytes_sent,
                       download.data.length, services.clock())  # fmt: skip
    try:
        with services.db.transaction() as uow:
            uow.record(event)
    except Exception as exc:  # the data went out; a lost notification must not fail the response
        log.warning("image_send_not_recorded", image_id=download.image_id, error=str(exc))


def open_download(
    services: Services, context: RequestContext, image_id: str, byte_range: ByteRange | None = None
) -> Download:
    """Open the image's data for reading.

    Raises NotFound, Forbidden (policy; a deactivated image for non-admins),
    NoData (no data yet: the API answers 204), RangeNotSatisfiable and
    Unavailable (every location failed).
    """
    with services.db.transaction(write=False) as uow:
        image = load_visible(uow, context, services.policy, image_id)
    authorize(services.policy, "download_image", context, image)
    if image.status is ImageStatus.DEACTIVATED and not context.is_admin:
        raise Forbidden("The requested image has been deactivated. Image data download is forbidden.")
    locations = image.active_locations
    if not locations or image.status not in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED) or image.size is None:
        raise NoData()
    offset, length = byte_range.resolve(image.size) if byte_range else (0, image.size)
    failure: StoreError | None = None
    for location in locations:
        try:
            store = services.stores.for_url(location.url, hint=location.store)
            data = store.get(location.url, offset, length)
        except StoreError as exc:
            log.warning("location_unreadable", image_id=image_id, store=location.store, error=str(exc))
            failure = exc
            continue
        return Download(data=data, size=image.size, checksum=image.checksum, partial=byte_range is not None,
                        image_id=image.id, owner=image.owner)  # fmt: skip
    raise Unavailable(f"Image data is unavailable: {failure}")
