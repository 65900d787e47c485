"""Purging an image's data (the ``deletes`` queue) and restoring a ``pending_delete`` image."""

from __future__ import annotations

import structlog

from shared.crashpoints import crash_point
from shared.domain.errors import Conflict, NotFound
from shared.domain.image import LocationStatus
from shared.domain.jobs import JobKind, JobStatus
from shared.domain.status import ImageStatus
from shared.handlers.heartbeat import Heartbeat
from shared.handlers.job_runs import claim, end_running, retry_transient
from shared.services import Services
from shared.stores.errors import StoreError

log = structlog.get_logger(__name__)


def run_delete(services: Services, job_id: str, heartbeat: Heartbeat) -> str:
    """Purge data: every ``pending_delete`` location of a ``pending_delete`` image (then -> deleted), or only
    the locations the job names (one store's copy, DELETE /v2/stores/...). Idempotent.

    Data already gone counts as deleted. Returns ``skipped``, ``cancelled``
    (the image was restored), ``succeeded`` or ``failed`` (a store refused;
    the scrubber queues a new job on its next pass).
    """
    claimed = claim(services, job_id, heartbeat)
    if claimed is None:
        return "skipped"
    job, image = claimed
    targeted: list[int] | None = job.payload.get("location_ids")
    if image is None or (targeted is None and image.status is not ImageStatus.PENDING_DELETE):
        end_running(services, job.id, JobStatus.CANCELLED, "the image is not pending_delete")
        return "cancelled"
    doomed = [loc for loc in image.locations if loc.status is LocationStatus.PENDING_DELETE
              and (targeted is None or loc.id in targeted)]  # fmt: skip
    with heartbeat.hold(job.id):
        try:
            for location in doomed:
                store = services.stores.for_url(location.url, hint=location.store)
                retry_transient(lambda store=store, url=location.url: store.delete(url))
                crash_point("delete.purged_one")
        except StoreError as exc:
            end_running(services, job.id, JobStatus.FAILED, str(exc))
            log.warning("purge_failed", job_id=job.id, error=str(exc))
            return "failed"
    crash_point("delete.purged")
    with services.db.transaction(request_id=job.request_id) as uow:
        current = uow.jobs.get(job.id)
        image = uow.images.get(job.image_id, for_update=True)
        if current is None or current.status is not JobStatus.RUNNING or current.owner != heartbeat.owner:
            return "skipped"
        now = services.clock()
        purged = {location.id for location in doomed}
        if image is None or (targeted is None and image.status is not ImageStatus.PENDING_DELETE):
            current.set_status(JobStatus.CANCELLED, now, error="the image left pending_delete")
        else:
            for location in image.locations:
                if location.id in purged:
                    location.status = LocationStatus.DELETED
            if targeted is None:
                image.set_status(ImageStatus.DELETED, now)  # Glance's scrubber sends no notification here
            uow.images.save(image)
            current.set_status(JobStatus.SUCCEEDED, now)
        uow.jobs.save(current, expected_status=JobStatus.RUNNING)
    log.info("image_data_purged", job_id=job.id, image_id=job.image_id, locations=len(doomed))
    return "succeeded" if current.status is JobStatus.SUCCEEDED else "cancelled"


def restore_image(services: Services, image_id: str) -> None:
    """pending_delete -> active, with its locations, as ``glance-scrubber --restore`` does.

    Raises NotFound, and Conflict when the image is not ``pending_delete`` or
    a delete job is already purging its data.
    """
    with services.db.transaction() as uow:
        image = uow.images.get(image_id, for_update=True)
        if image is None:
            raise NotFound(f"No image found with ID {image_id}")
        if image.status is not ImageStatus.PENDING_DELETE:
            raise Conflict(f"Image {image_id} is {image.status.value}, not pending_delete: it cannot be restored")
        if uow.jobs.live_for_image(image_id, JobKind.DELETE):
            raise Conflict(f"Image {image_id} cannot be restored: its data is being deleted")
        for location in image.locations:
            if location.status is LocationStatus.PENDING_DELETE:
                location.status = LocationStatus.ACTIVE
        image.set_status(ImageStatus.ACTIVE, services.clock())
        image.deleted = False
        image.deleted_at = None
        uow.images.save(image)
    log.info("image_restored", image_id=image_id)
