"""What every job run shares: claiming the job, ending it, retrying transient store errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import structlog

from shared.domain.image import Image
from shared.domain.jobs import Job, JobStatus
from shared.handlers.heartbeat import Heartbeat
from shared.services import Services
from shared.stores.errors import TransientStoreError

log = structlog.get_logger(__name__)

T = TypeVar("T")
TRANSIENT_RETRIES = 3


def claim(services: Services, job_id: str, heartbeat: Heartbeat) -> tuple[Job, Image | None] | None:
    """Claim a queued job for this process (queued -> running) and read its image.

    None when the job is not queued: already done, held by a live worker,
    or unknown (a message from another deployment). Binds the job's image
    and request ids to the log context.
    """
    with services.db.transaction() as uow:
        job = uow.jobs.claim(job_id, heartbeat.owner, services.clock())
        image = uow.images.get(job.image_id) if job else None
    if job is None:
        return None
    structlog.contextvars.bind_contextvars(image_id=job.image_id, request_id=job.request_id)
    return job, image


def end_running(services: Services, job_id: str, status: JobStatus, reason: str) -> bool:
    """End a ``running`` job as ``status``; False when it is not running (someone else moved it on)."""
    with services.db.transaction() as uow:
        job = uow.jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return False
        job.set_status(status, services.clock(), error=reason)
        uow.jobs.save(job, expected_status=JobStatus.RUNNING)
    return True


def retry_transient(operation: Callable[[], T], retries: int = TRANSIENT_RETRIES, delay: float = 0.5) -> T:
    """Run ``operation``, retrying TransientStoreError with exponential backoff; other errors pass through."""
    for attempt in range(retries + 1):
        try:
            return operation()
        except TransientStoreError as exc:
            if attempt == retries:
                raise
            log.warning("store_retry", attempt=attempt + 1, error=str(exc))
            time.sleep(delay * 2**attempt)
    raise AssertionError("unreachable")
