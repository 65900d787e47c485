"""Small helpers shared by the test tiers."""

from __future__ import annotations

import os
import time

from shared.domain.image import Image
from shared.domain.tasks import Task
from shared.services import Services


def image_bytes(size: int) -> bytes:
    """``size`` random bytes that no format inspector takes for a disk image: the first sector is zeros.
    (Plain random bytes carry the MBR signature at offset 510 once in 65,536 images; the GPT inspector then
    finds them, its safety check fails, and the upload is refused with 415, as Glance refuses it.)"""
    return bytes(min(size, 512)) + os.urandom(max(size - 512, 0))


def outbox_events(services: Services, image_id: str | None = None) -> list[tuple[str, str, object]]:
    """(event_type, priority, payload status or text) of unsent outbox rows, oldest first."""
    with services.db.transaction(write=False) as uow:
        rows = uow.outbox.unpublished(10_000)
    return [
        (row.event_type, row.priority, row.payload["status"] if isinstance(row.payload, dict) else row.payload)
        for row in rows
        if image_id is None or row.image_id == image_id
    ]


def event_types(services: Services, image_id: str | None = None) -> list[str]:
    return [event_type for event_type, _, _ in outbox_events(services, image_id)]


def image_row(services: Services, image_id: str) -> Image | None:
    """The image as stored now."""
    with services.db.transaction(write=False) as uow:
        return uow.images.get(image_id)


def task_of(services: Services, image_id: str) -> Task:
    """The image's only task."""
    with services.db.transaction(write=False) as uow:
        [task] = uow.tasks.for_image(image_id, services.clock())
    return task


def run_imports(services: Services, heartbeat) -> list[str]:  # type: ignore[no-untyped-def]
    """Run every import job sent so far, as a worker would; returns their outcomes."""
    from shared.handlers.import_runs import run_import

    return [run_import(services, job_id, heartbeat) for job_id in services.dispatcher.drain("imports")]


class BytesReader:
    """A Readable over bytes that hands out at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int = 7000) -> None:
        self.data = data
        self.pos = 0
        self.step = step

    def read(self, size: int = -1, /) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk


class SlowDigest:
    """A digest whose updates start late, on the hash threads: what they read is what the memory holds then."""

    def __init__(self, digest) -> None:  # type: ignore[no-untyped-def]
        self.digest = digest

    def update(self, data) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        self.digest.update(data)

    def hexdigest(self) -> str:
        return str(self.digest.hexdigest())
