"""Jobs through a real Celery worker on each bus: upload to active, delete to deleted."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker

from services.worker.app import create_worker_app
from shared.bootstrap import bootstrap
from shared.domain.status import ImageStatus
from shared.handlers import images, uploads
from shared.handlers.heartbeat import Heartbeat
from shared.messaging.celery_app import queue_name
from shared.persistence.database import Database
from shared.services import Services
from tests.conftest import member
from tests.helpers import BytesReader

DATA = os.urandom(2 * 1024 * 1024 + 5)


@pytest.fixture(params=["embedded+sqlite", "redis+postgres", "rabbitmq+postgres"])
def running_worker(request, servers, make_settings, sqlite_db) -> Iterator[Services]:
    bus, database = request.param.split("+")
    db = sqlite_db if database == "sqlite" else request.getfixturevalue("postgres_db")
    settings = make_settings(
        transport_url="" if bus == "embedded" else servers.need(bus),
        database={"connection": db.url},
        jobs={"queue_prefix": f"t{uuid.uuid4().hex[:8]}-", "heartbeat_interval": 1, "stale_after": 3},
    )
    services = bootstrap(settings, db=Database(db.url))
    app = create_worker_app(settings)
    queues = ",".join(queue_name(settings, q) for q in ("uploads", "deletes"))
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, queues=queues,
                      loglevel="WARNING", shutdown_timeout=20):  # fmt: skip
        yield services
    services.db.dispose()


def wait_for_status(services: Services, image_id: str, status: ImageStatus, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with services.db.transaction(write=False) as uow:
            current = uow.images.get(image_id).status
        if current is status:
            return
        time.sleep(0.1)
    pytest.fail(f"image {image_id} is {current}, not {status}, after {timeout}s")


def test_upload_and_delete_through_the_worker(running_worker: Services) -> None:
    services = running_worker
    caller = member()
    image = images.create_image(services, caller, {"disk_format": "raw", "container_format": "bare"})
    uploads.upload_image_data(services, caller, image.id, BytesReader(DATA, step=65536), declared_size=len(DATA),
                              store_name="cheap", heartbeat=Heartbeat(services.db, "api:test", 1))  # fmt: skip
    wait_for_status(services, image.id, ImageStatus.ACTIVE)
    active = images.get_image(services, caller, image.id)
    [location] = active.active_locations
    store = services.stores.get("cheap")
    assert store.get(location.url).read_all() == DATA
    assert list(services.stores.staging.list_keys()) == []

    images.delete_image(services, caller, image.id)
    wait_for_status(services, image.id, ImageStatus.DELETED)
    assert list(store.list_keys()) == []
