"""The worker half of an import (the ``imports`` queue): acquire the data, write every store, finish.

1. Begin: task pending -> processing; the image -> importing (not for
   copy-image), ``os_glance_importing_to_stores`` extended and those stores
   dropped from ``os_glance_failed_import``.
2. Acquire the data into staging, hashing and inspecting it: the staged
   file (glance-direct), a filtered download (web-download), a copy of an
   existing location (copy-image) or the image of another region
   (glance-download); in shared/handlers/import_sources.py.
3. Write the target stores, several at once (``max_parallel_stores``),
   each ending in its own transaction (location, events, activation).
4. Finish: task success, lock dropped, staging removed. Any failure reverts:
   the import's locations and data are removed, the image goes back to
   ``queued`` (not for copy-image), the task fails.

Every step re-reads state and is safe to run again after a crash.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog

from shared.crashpoints import crash_point
from shared.domain.errors import DomainError
from shared.domain.events import (
    FAILED_IMPORT,
    IMPORTING_TO_STORES,
    TaskFailed,
    TaskProcessing,
    TaskRan,
    TaskSucceeded,
    image_activated,
    image_prepared,
    image_updated,
    image_uploaded,
    task_event,
)
from shared.domain.image import Image, Location, LocationStatus
from shared.domain.jobs import Job, JobStatus
from shared.domain.status import ImageStatus
from shared.domain.tasks import TaskStatus
from shared.fetch import FetchFailed
from shared.handlers.heartbeat import Heartbeat, HeldJob
from shared.handlers.import_sources import ImportFailed, MiB, Staged, acquire
from shared.handlers.imports import IMPORT_TASK
from shared.handlers.job_runs import claim, retry_transient
from shared.handlers.location_imports import LOCATION_METHOD
from shared.handlers.location_runs import LocationFailed, register_location
from shared.services import Services
from shared.stores.base import Store, StoredObject
from shared.stores.errors import StoreError
from shared.stores.registry import STAGING_STORE
from shared.stores.streams import ChunkReader

log = structlog.get_logger(__name__)


def run_import(services: Services, job_id: str, heartbeat: Heartbeat) -> str:
    """Run an import job to its end. Returns ``skipped``, ``cancelled``, ``succeeded`` or ``failed``. Idempotent."""
    claimed = claim(services, job_id, heartbeat)
    if claimed is None:
        return "skipped"
    job, _ = claimed
    payload = job.payload
    try:
        if not _begin(services, job):
            return "cancelled"
        crash_point("import.begun")
        with heartbeat.hold(job.id, task_id=payload["task_id"]) as held:
            if payload["method"] == LOCATION_METHOD:
                staged, failed = None, []
                register_location(services, job, held)
            else:
                with held.working_on(STAGING_STORE):
                    staged = retry_transient(lambda: acquire(services, job, held))
                crash_point("import.staged")
                failed = _write_stores(services, job, staged, held)
        crash_point("import.recorded")
        _finish(services, job, staged, failed)
    except (DomainError, StoreError, FetchFailed, ImportFailed, LocationFailed) as exc:
        reason = exc.message if isinstance(exc, DomainError) and exc.message else str(exc)
        fail_import(services, job.id, reason)
        return "failed"
    return "succeeded"


# -- 1. begin --------------------------------------------------------------------------------------
def _begin(services: Services, job: Job) -> bool:
    payload = job.payload
    with services.db.transaction(request_id=job.request_id) as uow:
        now = services.clock()
        task = uow.tasks.get(payload["task_id"], now, for_update=True)
        image = uow.images.get(job.image_id, for_update=True)
        if (
            task is None or task.is_terminal or image is None or image.is_gone
            or image.properties.get(IMPORT_TASK) != task.id
        ):  # fmt: skip
            reason = "the image or its import lock changed before the import ran"
            if task is not None and not task.is_terminal:
                task.fail(reason, now, _ttl(services))
                uow.tasks.save(task)
                uow.record(task_event(TaskFailed, task, now))
            current = uow.jobs.get(job.id)
            if current is not None and current.status is JobStatus.RUNNING:
                current.set_status(JobStatus.CANCELLED, now, error=reason)
                uow.jobs.save(current, expected_status=JobStatus.RUNNING)
            return False
        if task.status is TaskStatus.PENDING:
            task.set_status(TaskStatus.PROCESSING, now)
            uow.tasks.save(task)
            uow.record(task_event(TaskProcessing, task, now))
        if payload["method"] == LOCATION_METHOD:
            return True  # the image changes when the location is attached
        if payload["method"] != "copy-image" and image.status in (ImageStatus.QUEUED, ImageStatus.UPLOADING):
            if image.disk_format and image.container_format:  # glance-download learns them from the remote image
                image.set_status(ImageStatus.IMPORTING, now)
        stores = payload["stores"]
        _set_list(image, IMPORTING_TO_STORES, image.store_list_property(IMPORTING_TO_STORES) + stores)
        _set_list(image, FAILED_IMPORT, [s for s in image.store_list_property(FAILED_IMPORT) if s not in stores])
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)
    return True


# -- 3. write the stores -----------------------------------------------------------------------------
def _write_stores(services: Services, job: Job, staged: Staged, held: HeldJob) -> list[str]:
    """Write every target store, several at once. Returns the stores that failed (when failures are allowed)."""
    stores: list[str] = job.payload["stores"]
    must_succeed = job.payload["all_stores_must_succeed"]
    held.bytes_total = (held.bytes_total or 0) + staged.size * len(stores)
    with ThreadPoolExecutor(max_workers=min(services.settings.max_parallel_stores, len(stores))) as pool:
        outcomes = list(pool.map(lambda name: _write_one(services, job, staged, name, held), stores))
    failures = [(name, error) for name, error in zip(stores, outcomes, strict=True) if error is not None]
    if failures and (must_succeed or len(failures) == len(stores)):
        raise ImportFailed("; ".join(f"store {name}: {error}" for name, error in failures))
    return [name for name, _ in failures]


def _write_one(services: Services, job: Job, staged: Staged, name: str, held: HeldJob) -> str | None:
    """Copy the staged data into one store and record it; the error text when it fails."""
    _record_prepare(services, job, name)
    store = services.stores.get(name)
    key = f"{job.image_id}.{job.id}"
    try:
        with held.working_on(name):
            stored = retry_transient(lambda: _copy_into(services, store, key, staged, held))
        if stored.size != staged.size:
            store.delete(stored.url)
            raise StoreError(f"stored {stored.size} bytes instead of {staged.size}")
    except (StoreError, DomainError) as exc:
        log.warning("import_store_failed", store=name, error=str(exc))
        if not job.payload["all_stores_must_succeed"]:
            _record_store_failure(services, job, name)
        return str(exc)
    crash_point("import.stored")
    _record_store_success(services, job, staged, name, stored)
    return None


def _copy_into(services: Services, store: Store, key: str, staged: Staged, held: HeldJob) -> StoredObject:
    """Link (or server-side copy) the staged object when the store can, else stream it. The staged data stays
    until the import finishes, so a worker that dies here leaves it for the next attempt."""
    staging = services.stores.staging
    if (adopted := store.adopt(key, staging, staged.url, keep_source=True)) is not None:
        held.advance(adopted.size)
        return adopted
    data = staging.get(staged.url)
    try:
        return store.add(key, ChunkReader(data.chunks), progress=held.advance)
    finally:
        data.close()


def _record_prepare(services: Services, job: Job, name: str) -> None:
    with services.db.transaction(request_id=job.request_id) as uow:
        image = uow.images.get(job.image_id)
        if image is not None:
            uow.record(image_prepared(image, services.clock(), backend=name))


def _record_store_success(services: Services, job: Job, staged: Staged, name: str, stored: StoredObject) -> None:
    copy = job.payload["method"] == "copy-image"
    with services.db.transaction(request_id=job.request_id) as uow:
        image = uow.images.get(job.image_id, for_update=True)
        if image is None or image.is_gone:
            services.stores.get(name).delete(stored.url)
            raise ImportFailed("the image was deleted during the import")
        now = services.clock()
        if not any(loc.url == stored.url for loc in image.locations):
            image.locations.append(Location(url=stored.url, store=name, metadata=dict(stored.metadata)))
        if not copy:
            image.size, image.checksum = staged.size, staged.checksum
            image.os_hash_algo, image.os_hash_value = staged.hash_algo, staged.hash_value
            image.virtual_size = staged.virtual_size
        remaining = [s for s in image.store_list_property(IMPORTING_TO_STORES) if s != name]
        _set_list(image, IMPORTING_TO_STORES, remaining)
        pending_here = [s for s in remaining if s in job.payload["stores"]]
        activate = (
            not copy
            and image.status is ImageStatus.IMPORTING
            and (not job.payload["all_stores_must_succeed"] or not pending_here)
        )
        image.updated_at = now
        if activate:
            image.set_status(ImageStatus.ACTIVE, now)
        image.record(image_uploaded(image, now))
        if activate:
            image.record(image_activated(image, now))
        image.record(image_updated(image, now))
        uow.images.save(image)


def _record_store_failure(services: Services, job: Job, name: str) -> None:
    with services.db.transaction(request_id=job.request_id) as uow:
        image = uow.images.get(job.image_id, for_update=True)
        if image is None:
            return
        now = services.clock()
        _set_list(image, IMPORTING_TO_STORES, [s for s in image.store_list_property(IMPORTING_TO_STORES) if s != name])
        _set_list(image, FAILED_IMPORT, [*image.store_list_property(FAILED_IMPORT), name])
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)


# -- 4. finish ------------------------------------------------------------------------------------------
def _finish(services: Services, job: Job, staged: Staged | None, failed: list[str]) -> None:
    with services.db.transaction(request_id=job.request_id) as uow:
        now = services.clock()
        task = uow.tasks.get(job.payload["task_id"], now, for_update=True)
        image = uow.images.get(job.image_id, for_update=True)
        current = uow.jobs.get(job.id)
        if current is None or current.status is not JobStatus.RUNNING:
            return
        if image is None or image.is_gone:
            raise ImportFailed("the image was deleted during the import")
        if job.payload["method"] != "copy-image" and image.status is not ImageStatus.ACTIVE:
            raise ImportFailed("None of the uploads finished!")
        if image.properties.get(IMPORT_TASK) == job.payload["task_id"]:
            del image.properties[IMPORT_TASK]
        image.updated_at = now
        image.record(image_updated(image, now))
        uow.images.save(image)
        if task is not None and not task.is_terminal:
            task.succeed({"image_id": job.image_id}, now, _ttl(services))
            if staged is not None:
                task.message = f"Copied {staged.size // MiB} MiB"
            uow.tasks.save(task)
            uow.record(task_event(TaskSucceeded, task, now))
            uow.record(task_event(TaskRan, task, now, status=TaskStatus.PENDING.value))
        current.set_status(JobStatus.SUCCEEDED, now)
        current.payload["failed_stores"] = failed
        uow.jobs.save(current, expected_status=JobStatus.RUNNING)
    _remove_staged(services, job, staged.url if staged else None)
    log.info("import_succeeded", image_id=job.image_id, stores=job.payload["stores"], failed=failed)


# -- failure, shared with the reaper ---------------------------------------------------------------------
def fail_import(services: Services, job_id: str, reason: str) -> bool:
    """End an import as failed and undo it: its locations and data removed, the image back to ``queued``
    (copy-image leaves the image as it was), the lock dropped, the task failed. Idempotent."""
    removed: list[tuple[str, str]] = []
    with services.db.transaction() as uow:
        job = uow.jobs.get(job_id)
        if job is None or job.is_terminal:
            return False
        now = services.clock()
        previous = job.status
        job.set_status(JobStatus.FAILED, now, error=reason)
        uow.jobs.save(job, expected_status=previous)
        payload = job.payload
        image = uow.images.get(job.image_id, for_update=True)
        if image is not None and not image.is_gone:
            if payload["method"] == LOCATION_METHOD:
                _detach_location(image, payload["url"])
            key = f"{job.image_id}.{job.id}"
            for location in image.locations:
                if location.url.endswith(key) and location.status is LocationStatus.ACTIVE:
                    location.status = LocationStatus.DELETED
                    removed.append((location.store, location.url))
            if payload["method"] != "copy-image" and image.status in (ImageStatus.IMPORTING, ImageStatus.UPLOADING):
                image.set_status(ImageStatus.QUEUED, now)
            if not image.active_locations:
                image.checksum = image.os_hash_algo = image.os_hash_value = None
            stores = payload["stores"]
            _set_list(image, IMPORTING_TO_STORES, [s for s in image.store_list_property(IMPORTING_TO_STORES)
                                                   if s not in stores])  # fmt: skip
            holding = set(image.stores)
            _set_list(image, FAILED_IMPORT, [*image.store_list_property(FAILED_IMPORT),
                                             *(s for s in stores if s not in holding)])  # fmt: skip
            if image.properties.get(IMPORT_TASK) == payload["task_id"]:
                del image.properties[IMPORT_TASK]
            image.updated_at = now
            image.record(image_updated(image, now))
            uow.images.save(image)
        task = uow.tasks.get(payload["task_id"], now, for_update=True)
        if task is not None and not task.is_terminal:
            task.fail(reason, now, _ttl(services))
            uow.tasks.save(task)
            uow.record(task_event(TaskFailed, task, now))
            uow.record(task_event(TaskRan, task, now, status=TaskStatus.PENDING.value))
    for store_name, url in removed:
        try:
            services.stores.get(store_name).delete(url)
        except StoreError as exc:  # the orphan sweep and purge jobs do not know this copy: log it loudly
            log.error("import_revert_delete_failed", store=store_name, url=url, error=str(exc))
    _remove_staged(services, job, None)
    log.warning("import_failed", job_id=job_id, image_id=job.image_id, reason=reason)
    return True


def _detach_location(image: Image, url: str) -> None:
    """Undo a failed registration: drop the location (its data is not glint's to delete) unless already active."""
    if image.status is ImageStatus.ACTIVE:
        return  # activated before its hash was computed (Glance's order): the registration stands
    for location in image.active_locations:
        if location.url == url:
            location.status = LocationStatus.DELETED
    if not image.active_locations:
        image.size = None


def _remove_staged(services: Services, job: Job, url: str | None) -> None:
    if job.payload["method"] == LOCATION_METHOD:
        return
    staging = services.stores.staging
    for key in (job.id, job.image_id if job.payload["method"] == "glance-direct" else None):
        if key is not None:
            staging.delete(staging.url_for(key) or "")
    if url and services.stores.staging.handles(url):
        staging.delete(url)


def _set_list(image: Image, name: str, stores: list[str]) -> None:
    image.properties[name] = ",".join(dict.fromkeys(s for s in stores if s))


def _ttl(services: Services) -> timedelta:
    return timedelta(hours=services.settings.task.task_time_to_live)
