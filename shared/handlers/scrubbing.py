"""The scrubber's periodic work: purge delayed deletes, reap lost jobs, remove orphaned data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.status import ImageStatus
from shared.handlers.dispatching import dispatch_after_commit, send_job
from shared.handlers.import_runs import fail_import
from shared.handlers.job_runs import end_running
from shared.handlers.staging import fail_stage
from shared.handlers.uploads import fail_upload
from shared.services import Services

log = structlog.get_logger(__name__)

BATCH = 500


def scrub_pending_deletes(services: Services, now: datetime) -> int:
    """Queue a delete job for each ``pending_delete`` image older than ``scrub_time`` that has none.

    Safe to run from several scrubbers: the image row is locked while its
    live jobs are checked, so only one of them queues the job.
    """
    cutoff = now - timedelta(seconds=services.settings.scrub_time)
    with services.db.transaction(write=False) as uow:
        candidates = uow.images.ids_pending_delete(deleted_before=cutoff, limit=BATCH)
    queued = 0
    for image_id in candidates:
        with services.db.transaction() as uow:
            image = uow.images.get(image_id, for_update=True)
            if image is None or image.status is not ImageStatus.PENDING_DELETE:
                continue
            if uow.jobs.live_for_image(image_id, JobKind.DELETE):
                continue
            job = Job(kind=JobKind.DELETE, image_id=image_id, status=JobStatus.QUEUED, created_at=now)
            dispatch_after_commit(services, uow, job, now)
            uow.jobs.add(job)
            queued += 1
    if queued:
        log.info("scrub_queued_deletes", count=queued)
    return queued


@dataclass
class ReapReport:
    """What one reaper pass did."""

    failed_receiving: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    failed_running: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)


def reap_jobs(services: Services, now: datetime) -> ReapReport:
    """Find jobs whose holder stopped heart-beating, or that never reached a worker, and act.

    - ``receiving`` (the API process died mid-upload): the upload fails.
    - ``running`` (the worker died): back to ``queued`` and re-sent, or
      failed once ``max_attempts`` is reached.
    - ``queued`` but not started ``redispatch_after`` after it was sent
      (lost by a bus that drops claimed messages): sent again, backing off.
    Each step is a compare-and-set, so several reapers may run at once.
    """
    options = services.settings.jobs
    stale_before = now - timedelta(seconds=options.stale_after)
    report = ReapReport()
    with services.db.transaction(write=False) as uow:
        receiving = uow.jobs.stale(JobStatus.RECEIVING, stale_before, BATCH)
        running = uow.jobs.stale(JobStatus.RUNNING, stale_before, BATCH)
        waiting = uow.jobs.waiting(now - timedelta(seconds=options.redispatch_after), BATCH)

    for job in receiving:
        reason = "interrupted: the API process receiving the data stopped"
        if job.kind is JobKind.STAGE:
            ended = fail_stage(services, job.id, reason)
        else:
            ended = fail_upload(services, job.id, reason, from_status=JobStatus.RECEIVING)
        if ended:
            report.failed_receiving.append(job.id)

    for job in running:
        if job.attempts >= options.max_attempts:
            if _fail(services, job, f"gave up after {job.attempts} attempts: the worker running it stopped"):
                report.failed_running.append(job.id)
        elif _requeue(services, job.id, stale_before, now):
            report.requeued.append(job.id)

    for job in waiting:
        backoff = options.redispatch_after * 2 ** min(max(job.dispatch_count - 1, 0), 4)
        if job.dispatched_at is None or job.dispatched_at <= now - timedelta(seconds=backoff):
            if _resend(services, job.id, now):
                report.resent.append(job.id)

    if any(vars(report).values()):
        log.info("reaped_jobs", **{name: len(ids) for name, ids in vars(report).items()})
    return report


def _requeue(services: Services, job_id: str, stale_before: datetime, now: datetime) -> bool:
    with services.db.transaction() as uow:
        job = uow.jobs.get(job_id)
        if (
            job is None
            or job.status is not JobStatus.RUNNING
            or not job.heartbeat_at
            or job.heartbeat_at >= stale_before
        ):
            return False
        job.set_status(JobStatus.QUEUED, now)
        job.owner = None
        dispatch_after_commit(services, uow, job, now)
        uow.jobs.save(job, expected_status=JobStatus.RUNNING)
    log.warning("job_requeued", job_id=job_id, job=job.kind.value, attempts=job.attempts)
    return True


def _resend(services: Services, job_id: str, now: datetime) -> bool:
    with services.db.transaction() as uow:
        job = uow.jobs.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return False
        job.dispatched_at = now
        job.dispatch_count += 1
        uow.jobs.save(job, expected_status=JobStatus.QUEUED)
    send_job(services, job)
    return True


def _fail(services: Services, job: Job, reason: str) -> bool:
    if job.kind is JobKind.UPLOAD:
        return fail_upload(services, job.id, reason, from_status=JobStatus.RUNNING)
    if job.kind is JobKind.IMPORT:
        return fail_import(services, job.id, reason)
    return end_running(services, job.id, JobStatus.FAILED, reason)  # the next scrub pass queues a new delete


def remove_orphaned_data(services: Services, now: datetime) -> int:
    """Remove data nothing refers to, once it is older than ``staging_grace``.

    That is staged data of no live job, and partial writes (``.part``)
    abandoned in staging or in any store by a process that died mid-write.
    A write in progress keeps its file's modification time fresh.
    """
    grace_before = now.replace(tzinfo=UTC).timestamp() - services.settings.jobs.staging_grace
    staging = services.stores.staging
    with services.db.transaction(write=False) as uow:
        live = uow.jobs.staging_in_use() | uow.images.ids_in_status([ImageStatus.UPLOADING, ImageStatus.IMPORTING])
    removed = 0
    for key, modified in list(staging.list_keys()):
        if key not in live and modified < grace_before:
            staging.delete(staging.url_for(key) or "")
            removed += 1
    for store in [staging, *services.stores.stores.values()]:
        removed += store.remove_stale_parts(grace_before)
    if removed:
        log.info("orphaned_data_removed", count=removed)
    return removed
