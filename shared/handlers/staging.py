"""PUT /v2/images/{id}/stage: the first half of a glance-direct import.

The API streams the body into the staging store under the image's id
(queued -> uploading); ``POST /import`` with glance-direct then stores it.
The stage is a job in ``receiving`` while it streams, so that a stage
interrupted by the death of its API process is reaped (the image goes
back to ``queued``) like an interrupted upload.
"""

from __future__ import annotations

import structlog

from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, DomainError, Gone, Invalid, NotFound, TooLarge
from shared.domain.events import image_updated
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.status import ImageStatus
from shared.handlers.access import authorize, load_visible
from shared.handlers.heartbeat import Heartbeat
from shared.services import Services
from shared.stores.base import Readable
from shared.stores.streams import HashingReader

log = structlog.get_logger(__name__)


def stage_image_data(
    services: Services,
    context: RequestContext,
    image_id: str,
    body: Readable,
    *,
    declared_size: int | None,
    heartbeat: Heartbeat,
) -> None:
    """Stage the request body for a glance-direct import. Not inspected here (Glance inspects at import).

    Raises NotFound (also when glance-direct is not enabled), Forbidden,
    Conflict (not ``queued``), TooLarge, Invalid (size mismatch), Gone.
    On any failure the image is back in ``queued`` and the staged data removed.
    """
    settings = services.settings
    if "glance-direct" not in settings.enabled_import_methods:
        raise NotFound()
    if declared_size is not None and declared_size > settings.image_size_cap:
        raise TooLarge(f"Image exceeds the storage quota: {declared_size} bytes is over the size cap.")
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        authorize(services.policy, "modify_image", context, image)
        if image.status is not ImageStatus.QUEUED:
            raise Conflict(f"Image status transition from {image.status.value} to uploading is not allowed")
        now = services.clock()
        image.set_status(ImageStatus.UPLOADING, now)
        image.record(image_updated(image, now))
        uow.images.save(image)
        job = Job(kind=JobKind.STAGE, image_id=image_id, status=JobStatus.RECEIVING, created_at=now,
                  owner=heartbeat.owner, heartbeat_at=now, request_id=context.request_id)  # fmt: skip
        uow.jobs.add(job)
    staging = services.stores.staging
    try:
        with heartbeat.hold(job.id, declared_size) as held:
            reader = HashingReader(body, hash_algo=settings.hashing_algorithm, cap=settings.image_size_cap,
                                   on_read=held.advance)  # fmt: skip
            stored = staging.add(image_id, reader, read_back=True)  # the import inspects it
        if declared_size is not None and declared_size != stored.size:
            raise Invalid(f"Size mismatch: expected {declared_size} bytes, got {stored.size} bytes")
        _finish(services, job, stored.url, stored.size, reader.digests)
    except BaseException as exc:
        reason = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        fail_stage(services, job.id, reason)
        raise


def _finish(services: Services, job: Job, staged_url: str, size: int, digests: dict[str, str]) -> None:
    with services.db.transaction(request_id=job.request_id) as uow:
        current = uow.jobs.get(job.id)
        image = uow.images.get(job.image_id, for_update=True)
        if current is None or current.status is not JobStatus.RECEIVING:
            raise Gone(f"The staging of image {job.image_id} was abandoned")
        if image is None or image.status is not ImageStatus.UPLOADING:
            raise Gone(f"Image {job.image_id} was deleted while its data was staged.")
        now = services.clock()
        image.size = size
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)
        current.payload.update(staging_url=staged_url, size=size, **digests)  # the import takes the digests
        current.bytes_done = current.bytes_total = size
        current.set_status(JobStatus.SUCCEEDED, now)
        uow.jobs.save(current, expected_status=JobStatus.RECEIVING)
    log.info("image_staged", image_id=job.image_id, size=size)


def fail_stage(services: Services, job_id: str, reason: str) -> bool:
    """End a stage that did not finish: uploading -> queued, staged data removed. Idempotent."""
    with services.db.transaction() as uow:
        job = uow.jobs.get(job_id)
        if job is None or job.status is not JobStatus.RECEIVING:
            return False
        now = services.clock()
        job.set_status(JobStatus.FAILED, now, error=reason)
        uow.jobs.save(job, expected_status=JobStatus.RECEIVING)
        image = uow.images.get(job.image_id, for_update=True)
        if image is not None and image.status is ImageStatus.UPLOADING:
            image.set_status(ImageStatus.QUEUED, now)
            image.record(image_updated(image, now))
            uow.images.save(image)
    services.stores.staging.delete(services.stores.staging.url_for(job.image_id) or "")
    log.warning("stage_failed", image_id=job.image_id, reason=reason)
    return True
