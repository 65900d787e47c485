"""Deleting: pending_delete, the purge job, delayed delete through the scrubber, restore, orphans."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from shared.domain.errors import Conflict, NotFound
from shared.domain.image import LocationStatus
from shared.domain.jobs import JobStatus
from shared.domain.status import ImageStatus
from shared.handlers import images, uploads
from shared.handlers.deletes import restore_image, run_delete
from shared.handlers.heartbeat import Heartbeat
from shared.handlers.scrubbing import remove_orphaned_data, scrub_pending_deletes
from shared.stores.errors import StoreError
from tests.conftest import admin, member
from tests.helpers import BytesReader, event_types

DATA = os.urandom(50_000)


@pytest.fixture
def heartbeat(services):
    return Heartbeat(services.db, "worker:test", interval=60)


def active_image(services, heartbeat):
    image = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare"})
    job = uploads.upload_image_data(services, member(), image.id, BytesReader(DATA), declared_size=len(DATA),
                                    store_name=None, heartbeat=heartbeat)  # fmt: skip
    assert uploads.run_upload(services, job.id, heartbeat) == "succeeded"
    services.dispatcher.sent.clear()
    return image


def row(services, image_id):
    with services.db.transaction(write=False) as uow:
        return uow.images.get(image_id)


def test_delete_purges_at_once_without_delayed_delete(services, dispatcher, heartbeat) -> None:
    image = active_image(services, heartbeat)
    url = row(services, image.id).active_locations[0].url
    images.delete_image(services, member(), image.id)
    pending = row(services, image.id)
    assert pending.status is ImageStatus.PENDING_DELETE and pending.deleted
    with pytest.raises(NotFound):
        images.get_image(services, member(), image.id)
    [job_id] = dispatcher.drain("deletes")
    assert run_delete(services, job_id, heartbeat) == "succeeded"
    assert row(services, image.id).status is ImageStatus.DELETED
    with pytest.raises(StoreError):
        services.stores.get("fast").get(url)
    assert event_types(services, image.id)[-1] == "image.delete"  # the purge itself sends nothing
    assert run_delete(services, job_id, heartbeat) == "skipped"


def test_delayed_delete_waits_for_the_scrubber(make_settings, services, dispatcher, heartbeat) -> None:
    services.settings = make_settings(delayed_delete=True, scrub_time=3600)
    image = active_image(services, heartbeat)
    images.delete_image(services, member(), image.id)
    assert dispatcher.drain("deletes") == []
    now = services.clock()
    assert scrub_pending_deletes(services, now) == 0  # scrub_time not over
    assert scrub_pending_deletes(services, now + timedelta(hours=2)) == 1
    assert scrub_pending_deletes(services, now + timedelta(hours=2)) == 0  # a live job exists already
    [job_id] = dispatcher.drain("deletes")
    with pytest.raises(Conflict, match="being deleted"):
        restore_image(services, image.id)
    assert run_delete(services, job_id, heartbeat) == "succeeded"
    assert list(services.stores.get("fast").list_keys()) == []


def test_restore_before_the_purge(make_settings, services, heartbeat) -> None:
    services.settings = make_settings(delayed_delete=True)
    image = active_image(services, heartbeat)
    images.delete_image(services, member(), image.id)
    restore_image(services, image.id)
    restored = images.get_image(services, member(), image.id)
    assert restored.status is ImageStatus.ACTIVE
    assert [loc.status for loc in restored.locations] == [LocationStatus.ACTIVE]
    with pytest.raises(Conflict, match="not pending_delete"):
        restore_image(services, image.id)
    with pytest.raises(NotFound):
        restore_image(services, "00000000-0000-0000-0000-000000000000")


def test_deleting_a_deactivated_image(services, dispatcher, heartbeat) -> None:
    image = active_image(services, heartbeat)
    images.deactivate_image(services, member(), image.id)
    images.delete_image(services, admin(), image.id)  # Glance answers 400 to an admin here; glint deletes
    [job_id] = dispatcher.drain("deletes")
    assert run_delete(services, job_id, heartbeat) == "succeeded"


def test_failed_purge_is_retried_by_the_next_scrub(services, dispatcher, heartbeat, monkeypatch) -> None:
    image = active_image(services, heartbeat)
    images.delete_image(services, member(), image.id)
    [job_id] = dispatcher.drain("deletes")
    store = services.stores.get("fast")
    monkeypatch.setattr(store, "delete", lambda url: (_ for _ in ()).throw(StoreError("read-only")))
    assert run_delete(services, job_id, heartbeat) == "failed"
    monkeypatch.undo()
    assert scrub_pending_deletes(services, services.clock()) == 1
    [retry] = dispatcher.drain("deletes")
    assert run_delete(services, retry, heartbeat) == "succeeded"


def test_orphaned_staging_data_is_removed(services, heartbeat) -> None:
    staging = services.stores.staging
    staging.add("orphan-job", BytesReader(b"left behind"))
    image = images.create_image(services, member(), {"disk_format": "raw", "container_format": "bare"})
    live = uploads.upload_image_data(services, member(), image.id, BytesReader(DATA), declared_size=None,
                                     store_name=None, heartbeat=heartbeat)  # fmt: skip
    assert remove_orphaned_data(services, services.clock()) == 0  # within the grace period
    later = services.clock() + timedelta(seconds=services.settings.jobs.staging_grace + 60)
    assert remove_orphaned_data(services, later) == 1
    assert [key for key, _ in staging.list_keys()] == [live.id]
    with services.db.transaction(write=False) as uow:
        assert uow.jobs.get(live.id).status is JobStatus.QUEUED
