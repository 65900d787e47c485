"""Uploads: the API's staging half and the worker's storing half, including every failure path."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest

from shared.domain.errors import Conflict, Gone, Invalid, MissingFormats, NotFound, TooLarge
from shared.domain.jobs import JobStatus
from shared.domain.status import ImageStatus
from shared.handlers import images, uploads
from shared.handlers.heartbeat import Heartbeat
from shared.handlers.scrubbing import reap_jobs
from shared.stores.errors import StoreError, TransientStoreError
from tests.conftest import member, reader
from tests.helpers import BytesReader, image_row, outbox_events

DATA = os.urandom(300_000)


@pytest.fixture
def api_heartbeat(services):
    return Heartbeat(services.db, "api:test", interval=60)


@pytest.fixture
def worker_heartbeat(services):
    return Heartbeat(services.db, "worker:test", interval=60)


def new_image(services, **body):
    return images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare", **body})


def stage(services, heartbeat, image_id, data=DATA, declared=None, store=None):
    return uploads.upload_image_data(
        services, member(), image_id, BytesReader(data),
        declared_size=len(data) if declared is None else declared, store_name=store, heartbeat=heartbeat,
    )  # fmt: skip


def job_row(services, job_id):
    with services.db.transaction(write=False) as uow:
        return uow.jobs.get(job_id)


def test_upload_end_to_end(services, dispatcher, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    assert image_row(services, image.id).status is ImageStatus.SAVING
    assert dispatcher.drain("uploads") == [job.id]
    assert job_row(services, job.id).status is JobStatus.QUEUED

    assert uploads.run_upload(services, job.id, worker_heartbeat) == "succeeded"
    stored = image_row(services, image.id)
    assert stored.status is ImageStatus.ACTIVE
    assert stored.size == len(DATA)
    assert stored.checksum == hashlib.md5(DATA).hexdigest()
    assert (stored.os_hash_algo, stored.os_hash_value) == ("sha512", hashlib.sha512(DATA).hexdigest())
    [location] = stored.active_locations
    assert location.store == "fast"
    assert services.stores.get("fast").get(location.url).read_all() == DATA
    assert list(services.stores.staging.list_keys()) == []
    assert [(e, p) for e, p, _ in outbox_events(services, image.id)] == [
        ("image.create", "INFO"), ("image.update", "INFO"), ("image.prepare", "INFO"),
        ("image.upload", "INFO"), ("image.activate", "INFO"), ("image.update", "INFO"),
    ]  # fmt: skip
    assert [s for _, _, s in outbox_events(services, image.id)] == [
        "queued",
        "saving",
        "saving",
        "active",
        "active",
        "active",
    ]
    assert job_row(services, job.id).status is JobStatus.SUCCEEDED
    assert job_row(services, job.id).bytes_done == len(DATA)


def test_duplicate_message_is_a_no_op(services, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "succeeded"
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "skipped"
    assert len(image_row(services, image.id).active_locations) == 1


def test_upload_to_a_named_store(services, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id, store="cheap")
    uploads.run_upload(services, job.id, worker_heartbeat)
    assert image_row(services, image.id).stores == ["cheap"]
    with pytest.raises(Invalid, match="Store for identifier nope not found"):
        stage(services, api_heartbeat, new_image(services).id, store="nope")


def assert_back_to_queued_without_data(services, image_id) -> None:
    stored = image_row(services, image_id)
    assert stored.status is ImageStatus.QUEUED
    assert (stored.size, stored.checksum, stored.active_locations) == (None, None, [])
    assert list(services.stores.staging.list_keys()) == []
    assert list(services.stores.get("fast").list_keys()) == []
    events = outbox_events(services, image_id)
    assert events[-2][:2] == ("image.upload", "ERROR") and isinstance(events[-2][2], str)
    assert events[-1] == ("image.update", "INFO", "queued")


def test_size_mismatch(services, dispatcher, api_heartbeat) -> None:
    image = new_image(services)
    with pytest.raises(Invalid, match=f"Size mismatch: expected 99 bytes, got {len(DATA)} bytes"):
        stage(services, api_heartbeat, image.id, declared=99)
    assert_back_to_queued_without_data(services, image.id)
    assert dispatcher.sent == []


def test_size_cap(make_settings, services, api_heartbeat) -> None:
    services.settings = make_settings(image_size_cap=1000)
    image = new_image(services)
    with pytest.raises(TooLarge):
        stage(services, api_heartbeat, image.id, declared=500)  # the client lies; the stream is checked
    assert_back_to_queued_without_data(services, image.id)
    with pytest.raises(TooLarge):
        stage(services, api_heartbeat, image.id)  # declared over the cap: refused before anything changes
    assert image_row(services, image.id).status is ImageStatus.QUEUED


def test_refusals_before_any_change(services, api_heartbeat) -> None:
    image = new_image(services)
    with pytest.raises(NotFound):
        uploads.upload_image_data(services, member("p2"), image.id, BytesReader(DATA), declared_size=None,
                                  store_name=None, heartbeat=api_heartbeat)  # fmt: skip
    from shared.domain.errors import Forbidden

    with pytest.raises(Forbidden, match="upload_image"):
        uploads.upload_image_data(services, reader(), image.id, BytesReader(DATA), declared_size=None,
                                  store_name=None, heartbeat=api_heartbeat)  # fmt: skip
    no_formats = images.create_image(services, member(), {})
    with pytest.raises(MissingFormats):
        stage(services, api_heartbeat, no_formats.id)
    stage(services, api_heartbeat, image.id)
    with pytest.raises(Conflict):
        stage(services, api_heartbeat, image.id)
    assert outbox_events(services, no_formats.id) == [("image.create", "INFO", "queued")]


def test_deleted_while_receiving(services, api_heartbeat) -> None:
    image = new_image(services)

    class DeletingReader(BytesReader):
        def read(self, size=-1, /):
            if self.pos == 0:
                images.delete_image(services, member(), image.id)
            return super().read(size)

    with pytest.raises(Gone):
        uploads.upload_image_data(services, member(), image.id, DeletingReader(DATA), declared_size=len(DATA),
                                  store_name=None, heartbeat=api_heartbeat)  # fmt: skip
    assert image_row(services, image.id).status is ImageStatus.DELETED
    assert list(services.stores.staging.list_keys()) == []


def test_deleted_before_the_worker_stores_it(services, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    images.delete_image(services, member(), image.id)
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "cancelled"
    assert list(services.stores.get("fast").list_keys()) == []
    assert list(services.stores.staging.list_keys()) == []
    assert job_row(services, job.id).status is JobStatus.CANCELLED


def test_store_failure_in_worker(services, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    services.stores.get("fast").fail_next = [StoreError("disk on fire")]
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "failed"
    assert_back_to_queued_without_data(services, image.id)
    assert "disk on fire" in job_row(services, job.id).error
    # the image can be uploaded again
    retry = stage(services, api_heartbeat, image.id)
    assert uploads.run_upload(services, retry.id, worker_heartbeat) == "succeeded"


def test_transient_store_error_is_retried(services, api_heartbeat, worker_heartbeat, monkeypatch) -> None:
    monkeypatch.setattr("shared.handlers.job_runs.time.sleep", lambda seconds: None)
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    services.stores.get("fast").fail_next = [TransientStoreError("timeout"), TransientStoreError("timeout")]
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "succeeded"


def test_worker_presumed_dead_is_requeued_then_completed(services, dispatcher, api_heartbeat, worker_heartbeat):
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    dispatcher.drain("uploads")
    now = services.clock()
    with services.db.transaction() as uow:  # a worker claims it and dies
        assert uow.jobs.claim(job.id, "worker:dead", now - timedelta(minutes=5)) is not None
    report = reap_jobs(services, now)
    assert report.requeued == [job.id]
    assert dispatcher.drain("uploads") == [job.id]
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "succeeded"
    assert job_row(services, job.id).attempts == 2


def test_worker_that_moved_the_data_then_died(services, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    staging, store = services.stores.staging, services.stores.get("fast")
    staged_url = job_row(services, job.id).payload["staging_url"]
    store.add(uploads.object_key(job), BytesReader(staging.get(staged_url).read_all()))
    staging.delete(staged_url)  # as if it had been renamed into the store
    assert uploads.run_upload(services, job.id, worker_heartbeat) == "succeeded"
    assert image_row(services, image.id).size == len(DATA)


def test_gives_up_after_max_attempts(make_settings, services, api_heartbeat) -> None:
    services.settings = make_settings(jobs={"max_attempts": 1})
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    now = services.clock()
    with services.db.transaction() as uow:
        uow.jobs.claim(job.id, "worker:dead", now - timedelta(minutes=5))
    assert reap_jobs(services, now).failed_running == [job.id]
    assert_back_to_queued_without_data(services, image.id)


def test_api_process_died_while_receiving(services) -> None:
    image = new_image(services)
    ticket = uploads.start_upload(services, member(), image.id, store_name=None, owner="api:dead")
    services.stores.staging.add(ticket.job_id, BytesReader(b"partial"))
    later = services.clock() + timedelta(minutes=5)
    assert reap_jobs(services, later).failed_receiving == [ticket.job_id]
    assert_back_to_queued_without_data(services, image.id)


def test_lost_message_is_resent_with_backoff(make_settings, services, dispatcher, api_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    dispatcher.drain("uploads")  # the bus lost it
    now = services.clock()
    assert reap_jobs(services, now).resent == []  # not yet: it may still be on its way
    later = now + timedelta(seconds=services.settings.jobs.redispatch_after + 1)
    assert reap_jobs(services, later).resent == [job.id]
    assert dispatcher.drain("uploads") == [job.id]
    assert reap_jobs(services, later + timedelta(seconds=services.settings.jobs.redispatch_after + 1)).resent == []


def test_dispatch_failure_leaves_the_job_for_the_reaper(services, dispatcher, api_heartbeat) -> None:
    dispatcher.fail = True
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)  # the upload itself still succeeds
    assert job_row(services, job.id).dispatched_at is None
    dispatcher.fail = False
    assert reap_jobs(services, services.clock()).resent == [job.id]


class InlineWorker:
    """A dispatcher that runs each job in a thread, as a worker would."""

    def __init__(self, services, heartbeat) -> None:
        self.services, self.heartbeat = services, heartbeat

    def dispatch(self, job) -> None:
        import threading

        threading.Thread(target=uploads.run_upload, args=(self.services, job.id, self.heartbeat)).start()


def test_put_answers_once_the_worker_is_done(make_settings, services, api_heartbeat, worker_heartbeat) -> None:
    services.settings = make_settings(api={"upload_completion_wait": 30})
    services.dispatcher = InlineWorker(services, worker_heartbeat)
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    assert job.status is JobStatus.SUCCEEDED
    assert image_row(services, image.id).status is ImageStatus.ACTIVE


def test_put_answers_with_the_worker_failure(make_settings, services, api_heartbeat, worker_heartbeat) -> None:
    from shared.domain.errors import Unavailable
    from shared.stores.errors import StorageFull

    services.settings = make_settings(api={"upload_completion_wait": 30})
    services.dispatcher = InlineWorker(services, worker_heartbeat)
    image = new_image(services)
    services.stores.get("fast").fail_next = [StorageFull("Image storage media is full: no space")]
    with pytest.raises(TooLarge, match="storage media is full"):
        stage(services, api_heartbeat, image.id)
    assert_back_to_queued_without_data(services, image.id)
    services.stores.get("fast").fail_next = [StoreError("the disk is gone")]
    with pytest.raises(Unavailable, match="the disk is gone"):
        stage(services, api_heartbeat, image.id)


def test_content_that_is_not_its_disk_format_is_refused(services, api_heartbeat) -> None:
    from shared.domain.errors import UnsupportedMediaType

    image = new_image(services, disk_format="qcow2")
    with pytest.raises(UnsupportedMediaType) as caught:
        stage(services, api_heartbeat, image.id)
    assert caught.value.detail == "Image disk_format qcow2 does not match stream data raw"
    assert_back_to_queued_without_data(services, image.id)


def test_raw_upload_records_its_virtual_size(services, api_heartbeat, worker_heartbeat) -> None:
    image = new_image(services)
    job = stage(services, api_heartbeat, image.id)
    uploads.run_upload(services, job.id, worker_heartbeat)
    assert image_row(services, image.id).virtual_size == len(DATA)
