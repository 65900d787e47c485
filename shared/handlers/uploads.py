"""Uploading image data (PUT /file): staged by the API, moved into a store by an ``uploads`` worker.

API side, one call (``upload_image_data``): queued -> saving with an
``upload`` job in ``receiving``; the body is streamed into staging while
size, md5 and the multihash are computed; the job becomes ``queued`` and is
sent. Worker side (``run_upload``): the staged data is moved into the target
store (a rename on the same filesystem), checked, and the image becomes
``active`` with its location, in one transaction. Any failure puts the image
back to ``queued``, removes the data and sends an ERROR ``image.upload``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from shared.crashpoints import crash_point
from shared.domain.context import RequestContext
from shared.domain.errors import Conflict, DomainError, Gone, Invalid, TooLarge, Unavailable
from shared.domain.events import image_activated, image_prepared, image_updated, image_upload_failed, image_uploaded
from shared.domain.image import Location
from shared.domain.jobs import Job, JobKind, JobStatus
from shared.domain.status import ImageStatus
from shared.formats import FormatCheck
from shared.handlers.access import authorize, load_visible
from shared.handlers.dispatching import dispatch_after_commit
from shared.handlers.heartbeat import Heartbeat, HeldJob
from shared.handlers.job_runs import claim, end_running, retry_transient
from shared.services import Services
from shared.stores.base import Readable, Store, StoredObject
from shared.stores.errors import DataNotFound, StorageFull, StoreError
from shared.stores.streams import ChunkReader, HashingReader

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UploadTicket:
    """An upload the API has started: the image is ``saving`` and the job ``receiving``."""

    job_id: str
    image_id: str
    store: str
    hash_algo: str
    disk_format: str | None
    container_format: str | None


@dataclass(frozen=True)
class StagedData:
    url: str
    size: int
    checksum: str
    hash_value: str
    virtual_size: int | None


# -- API side -----------------------------------------------------------------------------------
def upload_image_data(
    services: Services,
    context: RequestContext,
    image_id: str,
    body: Readable,
    *,
    declared_size: int | None,
    store_name: str | None,
    heartbeat: Heartbeat,
) -> Job:
    """Stage the request body, queue the ``upload`` job and wait for a worker to end it.

    The wait (``[api] upload_completion_wait``) makes PUT answer once the
    image is ``active``, as Glance's synchronous upload does; past it, the
    job is returned still running. Raises NotFound, Forbidden (policy),
    Conflict (not ``queued``), Invalid (missing formats, unknown store, size
    mismatch), TooLarge (size cap, store full), Gone (deleted during the
    upload) and Unavailable (the store failed). On any failure after the
    image entered ``saving``, it is back in ``queued`` and its data removed.
    """
    cap = services.settings.image_size_cap
    if declared_size is not None and declared_size > cap:
        raise TooLarge(f"Image exceeds the storage quota: {declared_size} bytes is over the size cap of {cap}.")
    ticket = start_upload(services, context, image_id, store_name=store_name, owner=heartbeat.owner)
    log.info("upload_started", image_id=image_id, job_id=ticket.job_id, store=ticket.store)
    try:
        with heartbeat.hold(ticket.job_id, declared_size) as held:
            staged = _receive(services, ticket, body, declared_size, held)
        job = _finish_staging(services, ticket, staged)
    except BaseException as exc:
        reason = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        fail_upload(services, ticket.job_id, reason, from_status=JobStatus.RECEIVING)
        raise
    return _outcome(wait_for_job(services, job.id, services.settings.api.upload_completion_wait))


JOB_POLL_S = 0.005  # how often a waiting PUT looks at its job at first: a file-store upload ends ~10 ms after staging
JOB_POLL_BACKOFF_AFTER_S = 0.5  # then less and less often, up to every 0.25 s (a copy into S3 takes a while)


def wait_for_job(services: Services, job_id: str, timeout: float) -> Job:
    """The job once it has ended, or as it is when ``timeout`` seconds have passed."""
    started = time.monotonic()
    deadline = started + timeout
    delay = JOB_POLL_S
    while True:
        with services.db.transaction(write=False) as uow:
            job = uow.jobs.get(job_id)
        assert job is not None
        if job.is_terminal or time.monotonic() >= deadline:
            return job
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        if time.monotonic() - started > JOB_POLL_BACKOFF_AFTER_S:
            delay = min(delay * 1.5, 0.25)


def _outcome(job: Job) -> Job:
    """Raise what Glance would have answered for a failed upload; return the job otherwise."""
    if job.status is JobStatus.CANCELLED:
        raise Gone(
            f"Image {job.image_id} could not be found after upload. The image may have been deleted during the upload."
        )
    if job.status is JobStatus.FAILED:
        error = FAILURES.get(job.payload.get("failure", ""), Unavailable)
        raise error(job.error or "The upload failed.")
    return job


def start_upload(
    services: Services, context: RequestContext, image_id: str, *, store_name: str | None, owner: str
) -> UploadTicket:
    """queued -> saving, and the ``upload`` job in ``receiving``, in one transaction."""
    store_name = store_name or services.stores.default_name
    if store_name not in services.stores:
        raise Invalid(f"Store for identifier {store_name} not found")
    with services.db.transaction(request_id=context.request_id) as uow:
        image = load_visible(uow, context, services.policy, image_id, for_update=True)
        authorize(services.policy, "upload_image", context, image)
        if image.status is not ImageStatus.QUEUED:
            raise Conflict(f"Image status transition from {image.status.value} to saving is not allowed")
        now = services.clock()
        image.set_status(ImageStatus.SAVING, now)
        image.record(image_updated(image, now))
        image.record(image_prepared(image, now, backend=store_name))
        uow.images.save(image)
        job = Job(
            kind=JobKind.UPLOAD,
            image_id=image_id,
            status=JobStatus.RECEIVING,
            created_at=now,
            owner=owner,
            heartbeat_at=now,
            request_id=context.request_id,
            payload={"store": store_name, "hash_algo": services.settings.hashing_algorithm},
        )
        uow.jobs.add(job)
    return UploadTicket(
        job.id, image_id, store_name, services.settings.hashing_algorithm, image.disk_format, image.container_format
    )


def _receive(
    services: Services, ticket: UploadTicket, body: Readable, declared_size: int | None, held: HeldJob
) -> StagedData:
    reader = HashingReader(body, hash_algo=ticket.hash_algo, cap=services.settings.image_size_cap, on_read=held.advance)
    options = services.settings.image_format
    check = FormatCheck(
        reader,
        ticket.disk_format,
        ticket.container_format,
        require_match=options.require_image_format_match,
        gpt_nonfatal=options.gpt_safety_checks_nonfatal,
    )
    stored = services.stores.staging.add(ticket.job_id, check)
    try:
        if declared_size is not None and declared_size != stored.size:
            raise Invalid(f"Size mismatch: expected {declared_size} bytes, got {stored.size} bytes")
        virtual_size = check.verdict()
    except DomainError:
        services.stores.staging.delete(stored.url)
        raise
    return StagedData(stored.url, stored.size, reader.checksum, reader.hash_value, virtual_size)


def _finish_staging(services: Services, ticket: UploadTicket, staged: StagedData) -> Job:
    with services.db.transaction() as uow:
        job = uow.jobs.get(ticket.job_id)
        image = uow.images.get(ticket.image_id, for_update=True)
        if job is None or job.status is not JobStatus.RECEIVING:
            raise Gone(f"The upload of image {ticket.image_id} was abandoned")
        if image is None or image.status is not ImageStatus.SAVING:
            raise Gone(
                f"Image {ticket.image_id} could not be found after upload. "
                "The image may have been deleted during the upload."
            )
        now = services.clock()
        job.payload.update(
            staging_url=staged.url,
            size=staged.size,
            checksum=staged.checksum,
            hash_value=staged.hash_value,
            virtual_size=staged.virtual_size,
        )
        job.bytes_total = staged.size
        job.owner = None
        job.set_status(JobStatus.QUEUED, now)
        dispatch_after_commit(services, uow, job, now)
        uow.jobs.save(job, expected_status=JobStatus.RECEIVING)
    return job


# -- worker side ---------------------------------------------------------------------------------
def run_upload(services: Services, job_id: str, heartbeat: Heartbeat) -> str:
    """Move staged data into the target store and activate the image. Idempotent.

    Returns ``skipped`` (not claimable: done, running elsewhere, or gone),
    ``cancelled`` (the image left ``saving``), ``succeeded`` or ``failed``.
    Transient store errors are retried here; other failures fail the job,
    which puts the image back to ``queued`` and removes the data.
    """
    claimed = claim(services, job_id, heartbeat)
    if claimed is None:
        return "skipped"
    job, image = claimed
    if image is None or image.status is not ImageStatus.SAVING:
        if end_running(services, job.id, JobStatus.CANCELLED, "the image left saving before its data was stored"):
            _remove_upload_data(services, job)
        return "cancelled"
    store = services.stores.get(job.payload["store"])
    try:
        with heartbeat.hold(job.id, job.bytes_total) as held:
            stored = retry_transient(lambda: _store_staged(services, job, store, held))
    except (StoreError, DomainError) as exc:
        fail_upload(services, job.id, str(exc), from_status=JobStatus.RUNNING, failure=_failure_of(exc))
        return "failed"
    crash_point("upload.stored")
    return _activate(services, job, store, stored, heartbeat.owner)


def _store_staged(services: Services, job: Job, store: Store, held: HeldJob) -> StoredObject:
    """Put the staged bytes under this job's key in ``store``: by rename when possible, else a checked copy."""
    staging = services.stores.staging
    key = object_key(job)
    expected = job.payload["size"]
    try:
        stored = store.adopt(key, staging, job.payload["staging_url"])
        if stored is None:
            stored = _copy_checked(staging, store, key, job, held)
        else:
            held.advance(stored.size)
    except DataNotFound:
        # An earlier attempt of this job moved the data and died before recording it.
        existing = store.url_for(key)
        if existing is not None and _size_or_none(store, existing) == expected:
            return StoredObject(existing, expected, {"store": store.name})
        raise StoreError("the staged data of this upload is gone") from None
    if stored.size != expected:
        store.delete(stored.url)
        raise Invalid(f"Size mismatch: expected {expected} bytes, stored {stored.size} bytes")
    return stored


def _copy_checked(staging: Store, store: Store, key: str, job: Job, held: HeldJob) -> StoredObject:
    """Stream the staged data into ``store``, checking it against the checksums taken at upload."""
    data = staging.get(job.payload["staging_url"])
    reader = HashingReader(ChunkReader(data.chunks), hash_algo=job.payload["hash_algo"])
    try:
        stored = store.add(key, reader, progress=held.advance)
    finally:
        data.close()
    if (reader.checksum, reader.hash_value) != (job.payload["checksum"], job.payload["hash_value"]):
        store.delete(stored.url)
        raise StoreError("the copied data does not match the uploaded data's checksums")
    return stored


def _size_or_none(store: Store, url: str) -> int | None:
    try:
        return store.get_size(url)
    except DataNotFound:
        return None


def _activate(services: Services, job: Job, store: Store, stored: StoredObject, owner: str) -> str:
    with services.db.transaction(request_id=job.request_id) as uow:
        image = uow.images.get(job.image_id, for_update=True)
        current = uow.jobs.get(job.id)
        if current is None or current.status is not JobStatus.RUNNING or current.owner != owner:
            log.warning("upload_superseded", job_id=job.id)  # the reaper gave it to another worker
            return "skipped"
        now = services.clock()
        if image is None or image.status is not ImageStatus.SAVING:
            current.set_status(JobStatus.CANCELLED, now, error="the image was deleted during the upload")
            uow.jobs.save(current, expected_status=JobStatus.RUNNING)
            uow.after_commit(lambda: store.delete(stored.url))
            return "cancelled"
        image.size = stored.size
        image.virtual_size = job.payload.get("virtual_size")
        image.checksum = job.payload["checksum"]
        image.os_hash_algo = job.payload["hash_algo"]
        image.os_hash_value = job.payload["hash_value"]
        image.locations.append(Location(url=stored.url, store=store.name, metadata=dict(stored.metadata)))
        image.set_status(ImageStatus.ACTIVE, now)
        image.record(image_uploaded(image, now))
        image.record(image_activated(image, now))
        image.record(image_updated(image, now))
        uow.images.save(image)
        current.set_status(JobStatus.SUCCEEDED, now)
        current.bytes_done = stored.size
        uow.jobs.save(current, expected_status=JobStatus.RUNNING)
    services.stores.staging.delete(job.payload["staging_url"])
    log.info("upload_succeeded", job_id=job.id, image_id=job.image_id, size=stored.size, store=store.name)
    return "succeeded"


# -- failure, shared by the API, the worker and the reaper --------------------------------------
def fail_upload(
    services: Services,
    job_id: str,
    reason: str,
    *,
    from_status: JobStatus | None = None,
    failure: str = "unavailable",
) -> bool:
    """End an upload job as failed: the image goes back to ``queued`` and every copy of its data is removed.

    ``from_status`` guards against failing a job someone else has moved on;
    ``failure`` (a key of FAILURES) tells a waiting API what to answer.
    Returns False when the job was already ended (nothing done). Idempotent.
    """
    with services.db.transaction() as uow:
        job = uow.jobs.get(job_id)
        if job is None or job.is_terminal or (from_status is not None and job.status is not from_status):
            return False
        now = services.clock()
        previous = job.status
        job.set_status(JobStatus.FAILED, now, error=reason)
        job.payload["failure"] = failure
        uow.jobs.save(job, expected_status=previous)
        image = uow.images.get(job.image_id, for_update=True)
        if image is not None and image.status is ImageStatus.SAVING:
            image.set_status(ImageStatus.QUEUED, now)
            image.record(image_upload_failed(image.id, now, reason))
            image.record(image_updated(image, now))
            uow.images.save(image)
    _remove_upload_data(services, job)
    log.warning("upload_failed", job_id=job.id, image_id=job.image_id, reason=reason)
    return True


def _remove_upload_data(services: Services, job: Job) -> None:
    """Remove the staged copy and this job's copy in the target store (both keyed by the job)."""
    services.stores.staging.delete(services.stores.staging.url_for(job.id) or "")
    store_name = job.payload.get("store")
    if store_name in services.stores:
        store = services.stores.get(store_name)
        url = store.url_for(object_key(job))
        if url:
            store.delete(url)


# How a failed upload is answered: Glance's codes for the same failures.
FAILURES: dict[str, type[DomainError]] = {"invalid": Invalid, "too_large": TooLarge, "unavailable": Unavailable}


def _failure_of(exc: Exception) -> str:
    if isinstance(exc, StorageFull | TooLarge):
        return "too_large"
    if isinstance(exc, Invalid):
        return "invalid"
    return "unavailable"


def object_key(job: Job) -> str:
    """The key of an upload's data in its store: unique per job, so attempts never collide."""
    return f"{job.image_id}.{job.id}"
