"""Import: the API checks, the worker's run, failures and reverts, the lock, and tasks, on fakes."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest

from shared.domain.errors import Conflict, Forbidden, Invalid, NotFound
from shared.domain.jobs import JobKind, JobStatus
from shared.domain.status import ImageStatus
from shared.domain.tasks import TaskStatus
from shared.handlers import images, imports, staging, tasks
from shared.handlers.heartbeat import Heartbeat
from shared.handlers.scrubbing import reap_jobs
from shared.stores.errors import StoreError
from tests.conftest import admin, member, reader
from tests.helpers import BytesReader, image_row, outbox_events, run_imports, task_of

DATA = os.urandom(200_000)


@pytest.fixture
def heartbeat(services):
    return Heartbeat(services.db, "test:worker", interval=60)


def staged_image(services, heartbeat, **body):
    image = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare", **body})
    staging.stage_image_data(services, member(), image.id, BytesReader(DATA), declared_size=len(DATA),
                             heartbeat=heartbeat)  # fmt: skip
    return image


def request(services, body, header=None):
    return imports.parse_import(services, body, header)


def start(services, context, image_id, method, **extra):
    """POST /import as ``context``: ``method`` plus any other body keys."""
    return imports.start_import(services, context, image_id, request(services, {"method": {"name": method}, **extra}))


def test_glance_direct_to_two_stores(services, heartbeat) -> None:
    image = staged_image(services, heartbeat)
    assert image_row(services, image.id).status is ImageStatus.UPLOADING
    task = start(services, member(), image.id, "glance-direct", stores=["fast", "cheap"])
    assert task.status is TaskStatus.PENDING and image_row(services, image.id).properties["os_glance_import_task"]
    assert run_imports(services, heartbeat) == ["succeeded"]
    done = image_row(services, image.id)
    assert (done.status, sorted(done.stores), done.size) == (ImageStatus.ACTIVE, ["cheap", "fast"], len(DATA))
    assert done.virtual_size == len(DATA) and "os_glance_import_task" not in done.properties
    assert (done.properties["os_glance_importing_to_stores"], done.properties["os_glance_failed_import"]) == ("", "")
    for location in done.active_locations:
        assert services.stores.get(location.store).get(location.url).read_all() == DATA
    assert list(services.stores.staging.list_keys()) == []
    finished = task_of(services, image.id)
    assert (finished.status, finished.result) == (TaskStatus.SUCCESS, {"image_id": image.id})
    assert finished.expires_at == finished.updated_at + timedelta(hours=48)
    kinds = [event for event, _, _ in outbox_events(services)]
    flow = kinds[kinds.index("task.create") :]
    assert flow[:3] == ["task.create", "task.processing", "image.update"]  # as Glance: then importing
    assert flow[-3:] == ["image.update", "task.success", "task.run"]  # the lock dropped, then the task ends
    stores_part = flow[3:-3]  # the two stores were written at once: their events interleave
    assert sorted(stores_part) == sorted(["image.prepare", "image.prepare", "image.upload", "image.upload",
                                          "image.update", "image.update", "image.activate"])  # fmt: skip
    assert stores_part.index("image.activate") > max(i for i, kind in enumerate(stores_part) if kind == "image.upload")
    assert run_imports(services, heartbeat) == []  # nothing left; a repeated message would be "skipped"


def test_import_checks(services, heartbeat) -> None:
    queued = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare"})
    with pytest.raises(Invalid, match="requires a 'method'"):
        request(services, {})
    with pytest.raises(Invalid, match="Unknown import method name 'glance-download'"):
        request(services, {"method": {"name": "glance-download"}})
    with pytest.raises(Invalid, match="can't be used with x-image-meta-store"):
        request(services, {"method": {"name": "copy-image"}, "all_stores": True}, "fast")
    with pytest.raises(Conflict, match="needs to be staged"):
        start(services, member(), queued.id, "glance-direct")
    with pytest.raises(Conflict, match="Only images with status active"):
        start(services, admin(), queued.id, "copy-image")
    with pytest.raises(Invalid, match="does not pass filtering"):
        imports.start_import(
            services,
            member(),
            queued.id,
            request(services, {"method": {"name": "web-download", "uri": "http://169.254.169.254/latest/meta-data"}}),
        )
    with pytest.raises(Conflict, match="Store for identifier nope not found"):
        start(services, member(), staged_image(services, heartbeat).id, "glance-direct", stores=["nope"])
    with pytest.raises(Forbidden, match="modify_image"):
        start(services, reader(), staged_image(services, heartbeat).id, "glance-direct")
    with pytest.raises(NotFound):
        start(services, member("p2"), queued.id, "glance-direct")
    assert services.dispatcher.drain("imports") == []


def test_the_lock_and_its_takeover(services, heartbeat) -> None:
    image = staged_image(services, heartbeat)
    first = start(services, member(), image.id, "glance-direct")
    with pytest.raises(Conflict, match="Image has active task"):
        start(services, member(), image.id, "glance-direct")
    services.dispatcher.drain("imports")  # the first job is lost
    later = services.clock() + timedelta(minutes=121)
    services.clock = lambda: later
    second = start(services, member(), image.id, "glance-direct")
    with services.db.transaction(write=False) as uow:
        old = uow.tasks.get(first.id, later)
    assert (old.status, old.message) == (TaskStatus.FAILURE, "Expired lock preempted")
    assert image_row(services, image.id).properties["os_glance_import_task"] == second.id
    assert run_imports(services, heartbeat) == ["succeeded"]


def test_copy_image_reads_once_and_keeps_the_image_active(services, heartbeat) -> None:
    image = staged_image(services, heartbeat)
    start(services, member(), image.id, "glance-direct")
    run_imports(services, heartbeat)
    source = services.stores.get("fast")
    reads = []
    original_get = source.get
    source.get = lambda url, *args, **kw: reads.append(url) or original_get(url, *args, **kw)  # type: ignore[method-assign]
    with pytest.raises(Forbidden, match="copy_image"):
        start(services, member(), image.id, "copy-image", stores=["cheap"])
    start(services, admin(), image.id, "copy-image", all_stores=True)
    assert run_imports(services, heartbeat) == ["succeeded"]
    assert len(reads) == 1
    copied = image_row(services, image.id)
    assert (copied.status, sorted(copied.stores)) == (ImageStatus.ACTIVE, ["cheap", "fast"])
    assert start(services, admin(), image.id, "copy-image", all_stores=True) is None  # fmt: skip
    with pytest.raises(Invalid, match="already present at store 'cheap'"):
        start(services, admin(), image.id, "copy-image", stores=["cheap"])


def test_a_failing_store_reverts_the_whole_import(services, heartbeat) -> None:
    image = staged_image(services, heartbeat)
    services.stores.get("cheap").fail_next = [StoreError("cheap is broken")]
    start(services, member(), image.id, "glance-direct", stores=["fast", "cheap"])
    assert run_imports(services, heartbeat) == ["failed"]
    reverted = image_row(services, image.id)
    assert (reverted.status, reverted.active_locations, reverted.checksum) == (ImageStatus.QUEUED, [], None)
    assert "os_glance_import_task" not in reverted.properties
    assert sorted(reverted.store_list_property("os_glance_failed_import")) == ["cheap", "fast"]
    assert list(services.stores.get("fast").list_keys()) == [] and list(services.stores.staging.list_keys()) == []
    failed = task_of(services, image.id)
    assert failed.status is TaskStatus.FAILURE and "cheap is broken" in failed.message
    assert [e for e, _, _ in outbox_events(services)][-2:] == ["task.failure", "task.run"]


def test_a_failing_store_is_recorded_when_failures_are_allowed(services, heartbeat) -> None:
    image = staged_image(services, heartbeat)
    services.stores.get("cheap").fail_next = [StoreError("cheap is broken")]
    start(services, member(), image.id, "glance-direct", stores=["fast", "cheap"], all_stores_must_succeed=False)
    assert run_imports(services, heartbeat) == ["succeeded"]
    done = image_row(services, image.id)
    assert (done.status, done.stores) == (ImageStatus.ACTIVE, ["fast"])
    assert done.properties["os_glance_failed_import"] == "cheap"
    assert task_of(services, image.id).status is TaskStatus.SUCCESS


def test_a_worker_that_dies_is_replaced_then_the_import_fails_after_max_attempts(make_settings, services, heartbeat):
    services.settings = make_settings(api={"upload_completion_wait": 0}, jobs={"max_attempts": 2})
    image = staged_image(services, heartbeat)
    start(services, member(), image.id, "glance-direct")
    [job_id] = services.dispatcher.drain("imports")
    now = services.clock()
    with services.db.transaction() as uow:
        uow.jobs.claim(job_id, "worker:dead", now - timedelta(minutes=5))
    assert reap_jobs(services, now).requeued == [job_id]
    [again] = services.dispatcher.drain("imports")
    with services.db.transaction() as uow:
        uow.jobs.claim(again, "worker:dead-too", now - timedelta(minutes=5))
    assert reap_jobs(services, now).failed_running == [job_id]
    assert image_row(services, image.id).status is ImageStatus.QUEUED
    assert task_of(services, image.id).status is TaskStatus.FAILURE
    assert list(services.stores.staging.list_keys()) == []


def test_an_interrupted_stage_is_reaped(services) -> None:
    image = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare"})
    dying = Heartbeat(services.db, "api:dead", interval=60)

    class Dies(BytesReader):
        def read(self, size=-1, /):
            raise KeyboardInterrupt  # not caught by the handler's own failure path in a real crash

    with pytest.raises(KeyboardInterrupt):
        staging.stage_image_data(services, member(), image.id, Dies(DATA), declared_size=None, heartbeat=dying)
    assert image_row(services, image.id).status is ImageStatus.QUEUED  # the handler cleaned up
    with services.db.transaction() as uow:  # now simulate a stage whose process vanished
        image_now = uow.images.get(image.id, for_update=True)
        image_now.set_status(ImageStatus.UPLOADING, services.clock())
        uow.images.save(image_now)
        from shared.domain.jobs import Job

        uow.jobs.add(Job(kind=JobKind.STAGE, image_id=image.id, status=JobStatus.RECEIVING,
                         created_at=services.clock(), owner="api:dead", heartbeat_at=services.clock()))  # fmt: skip
    assert len(reap_jobs(services, services.clock() + timedelta(minutes=5)).failed_receiving) == 1
    assert image_row(services, image.id).status is ImageStatus.QUEUED


def test_tasks_api_rules(services, heartbeat) -> None:
    from shared.persistence.tasks import TaskQuery

    image = staged_image(services, heartbeat)
    start(services, member(), image.id, "glance-direct")
    with pytest.raises(Forbidden, match="tasks_api_access"):
        tasks.list_tasks(services, member(), TaskQuery(owner=None, limit=10))
    rows, full = tasks.list_tasks(services, admin(), TaskQuery(owner=None, limit=10))
    assert [task.image_id for task in rows] == [image.id] and not full
    with pytest.raises(NotFound, match="Could not find task"):
        tasks.get_task(services, admin(), "00000000-0000-0000-0000-000000000000")
    assert [task.image_id for task in tasks.image_tasks(services, member(), image.id)] == [image.id]
    with pytest.raises(NotFound):
        tasks.image_tasks(services, member("p2"), image.id)
    other = tasks.create_task(services, admin(), {"type": "api_image_import", "input": {}})
    assert other.status is TaskStatus.FAILURE  # never left pending
    with pytest.raises(Invalid, match="does not match schema 'task'"):
        tasks.create_task(services, admin(), {"type": "nope", "input": {}})


def test_staged_data_is_kept_while_its_import_job_lives(services, heartbeat) -> None:
    """A worker that died after activating the image (before finishing) needs the staged data on its retry."""
    from shared.handlers.scrubbing import remove_orphaned_data

    image = staged_image(services, heartbeat)
    start(services, member(), image.id, "glance-direct")
    with services.db.transaction() as uow:  # as the first attempt left it: active, its job still live
        row = uow.images.get(image.id, for_update=True)
        row.set_status(ImageStatus.IMPORTING, services.clock())
        row.set_status(ImageStatus.ACTIVE, services.clock())
        uow.images.save(row)
    later = services.clock() + timedelta(seconds=services.settings.jobs.staging_grace + 60)
    assert remove_orphaned_data(services, later) == 0
    assert [key for key, _ in services.stores.staging.list_keys()] == [image.id]
    assert run_imports(services, heartbeat) == ["succeeded"]
    assert remove_orphaned_data(services, later) == 0 and list(services.stores.staging.list_keys()) == []


def _rewrite_stage_record(services, image_id, **changes) -> None:
    with services.db.transaction() as uow:
        stage = uow.jobs.last_of(image_id, JobKind.STAGE, JobStatus.SUCCEEDED)
        stage.payload = {**stage.payload, **changes}
        uow.jobs.save(stage, expected_status=JobStatus.SUCCEEDED)


def test_glance_direct_takes_the_digests_computed_while_staging(services, heartbeat) -> None:
    image = staged_image(services, heartbeat)
    with services.db.transaction(write=False) as uow:
        recorded = uow.jobs.last_of(image.id, JobKind.STAGE, JobStatus.SUCCEEDED).payload
    assert (recorded["checksum"], recorded["hash_algo"]) == (hashlib.md5(DATA).hexdigest(), "sha512")
    assert recorded["hash_value"] == hashlib.sha512(DATA).hexdigest()
    _rewrite_stage_record(services, image.id, checksum="0" * 32)  # marks what the import uses: not re-hashed
    start(services, member(), image.id, "glance-direct")
    assert run_imports(services, heartbeat) == ["succeeded"]
    assert image_row(services, image.id).checksum == "0" * 32


@pytest.mark.parametrize("record", [{"size": len(DATA) + 1}, {"hash_algo": "sha256"}, {"staging_url": "file:///x"}])
def test_glance_direct_hashes_again_when_the_stage_record_does_not_fit(services, heartbeat, record) -> None:
    image = staged_image(services, heartbeat)
    _rewrite_stage_record(services, image.id, checksum="0" * 32, **record)
    start(services, member(), image.id, "glance-direct")
    assert run_imports(services, heartbeat) == ["succeeded"]
    done = image_row(services, image.id)
    assert (done.checksum, done.os_hash_value) == (hashlib.md5(DATA).hexdigest(), hashlib.sha512(DATA).hexdigest())
