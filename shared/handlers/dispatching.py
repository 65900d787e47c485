"""Sending jobs after commit, and what happens when the bus refuses."""

from __future__ import annotations

from datetime import datetime

import structlog

from shared.domain.jobs import Job
from shared.persistence.uow import UnitOfWork
from shared.services import Services

log = structlog.get_logger(__name__)


def dispatch_after_commit(services: Services, uow: UnitOfWork, job: Job, now: datetime) -> None:
    """Stamp ``job`` as sent and send it once this transaction commits.

    The caller then adds or saves the job in the same transaction, so the
    stamp is stored with it.
    """
    job.dispatched_at = now
    job.dispatch_count += 1
    uow.after_commit(lambda: send_job(services, job))


def send_job(services: Services, job: Job) -> bool:
    """Send ``job`` to its queue. On failure, clear ``dispatched_at`` so the reaper re-sends it soon."""
    try:
        services.dispatcher.dispatch(job)
    except Exception as exc:  # the bus is down or refused: the job row is safe, the reaper retries
        log.warning("job_dispatch_failed", job_id=job.id, job=job.kind.value, error=str(exc))
        try:
            with services.db.transaction() as uow:
                uow.jobs.mark_unsent(job.id)
        except Exception:  # the reaper re-sends it after redispatch_after anyway
            log.warning("job_dispatch_mark_failed", job_id=job.id)
        return False
    log.info("job_dispatched", job_id=job.id, job=job.kind.value, image_id=job.image_id, queue=job.queue)
    return True
