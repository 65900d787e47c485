"""Downloads: whole and ranged reads, the cases without data, and falling over across locations, on fakes."""

from __future__ import annotations

import os

import pytest

from shared.domain.errors import Forbidden, NoData, RangeNotSatisfiable, Unavailable
from shared.domain.image import Location
from shared.domain.status import ImageStatus
from shared.handlers import images
from shared.handlers.downloads import ByteRange, open_download
from tests.conftest import admin, member, reader
from tests.helpers import BytesReader

DATA = os.urandom(150_000)


def active_image(services, *stores: str) -> str:
    """An active image with one copy of DATA in each of ``stores``, in that order."""
    image = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare"})
    with services.db.transaction() as uow:
        row = uow.images.get(image.id, for_update=True)
        for name in stores:
            stored = services.stores.get(name).add(f"{image.id}.{name}", BytesReader(DATA))
            row.locations.append(Location(url=stored.url, store=name))
        row.size, row.checksum = len(DATA), "c"
        row.set_status(ImageStatus.ACTIVE, services.clock())
        uow.images.save(row)
    return image.id


def read(download) -> bytes:
    return download.data.read_all()


def test_whole_and_ranged_reads(services) -> None:
    image_id = active_image(services, "fast")
    whole = open_download(services, member(), image_id)
    assert (read(whole), whole.size, whole.partial) == (DATA, len(DATA), False)
    assert read(open_download(services, member(), image_id, ByteRange(first=10, last=19))) == DATA[10:20]
    assert read(open_download(services, member(), image_id, ByteRange(suffix=7))) == DATA[-7:]
    assert read(open_download(services, member(), image_id, ByteRange(first=len(DATA) - 3))) == DATA[-3:]
    with pytest.raises(RangeNotSatisfiable):
        open_download(services, member(), image_id, ByteRange(first=len(DATA)))


def test_a_failed_store_falls_over_to_the_next_location(services) -> None:
    image_id = active_image(services, "fast", "cheap")
    fast = services.stores.get("fast")
    fast.objects.clear()  # the first copy is gone
    assert read(open_download(services, member(), image_id)) == DATA
    services.stores.get("cheap").objects.clear()
    with pytest.raises(Unavailable, match="Image data is unavailable"):
        open_download(services, member(), image_id)


def test_no_data_and_who_may_read(services) -> None:
    queued = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare"})
    with pytest.raises(NoData):
        open_download(services, member(), queued.id)
    image_id = active_image(services, "fast")
    with pytest.raises(Forbidden, match="download_image"):
        open_download(services, reader(), image_id)  # readers cannot download, as in Glance
    images.deactivate_image(services, member(), image_id)
    with pytest.raises(Forbidden, match="deactivated"):
        open_download(services, member(), image_id)
    assert read(open_download(services, admin(), image_id)) == DATA
