"""Work that could be done twice: the same job message delivered twice, and two scrubbers at once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from shared.domain.jobs import JobKind, JobStatus
from shared.messaging.celery_app import make_celery
from shared.messaging.dispatch import CeleryDispatcher
from shared.persistence.tables import images
from tests.e2e.conftest import BACKENDS, api
from tests.e2e.deployment import eventually
from tests.helpers import image_bytes


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_job_message_twice_has_one_effect(deploy, tap_for, backend) -> None:
    deployment = deploy(backend, start=("api", "notifier"), api={"upload_completion_wait": 0},
                        worker={"concurrency": 4})  # fmt: skip
    tap = tap_for(deployment)
    client = api(deployment)
    image_id = client.create()["id"]
    data = image_bytes(300_000)
    assert client.upload(image_id, data).status_code == 204
    (job,) = deployment.jobs_of(image_id)
    app = make_celery(deployment.settings)
    for _ in range(2):  # the message is now in the queue three times
        CeleryDispatcher(app, deployment.settings).dispatch(job)
    deployment.start("worker")
    assert client.wait_for(image_id, "active")["size"] == len(data)
    time.sleep(3)  # the other two deliveries are handled by now
    (done,) = deployment.jobs_of(image_id)
    assert (done.status, done.attempts) == (JobStatus.SUCCEEDED, 1)
    assert len(deployment.store_files()) == 1 and deployment.staging_files() == []
    assert b"".join(client.download(image_id).iter_content(65536)) == data
    tap.wait_until(lambda: any(e["event_type"] == "image.send" for e in tap.events_for(image_id)))
    kinds = [e["event_type"] for e in tap.events_for(image_id)]
    assert kinds.count("image.activate") == 1 and kinds.count("image.upload") == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_scrubbers_purge_each_image_once(deploy, backend) -> None:
    deployment = deploy(backend, start=("api", "worker", "notifier"), delayed_delete=True, scrub_time=0, wakeup_time=1)
    client = api(deployment)
    ids = []
    for n in range(20):
        image_id = client.create(name=f"doomed-{n}")["id"]
        assert client.upload(image_id, image_bytes(1000 + n)).status_code == 204
        assert client.delete(image_id).status_code == 204
        ids.append(image_id)
    assert len(deployment.store_files()) == 20
    deployment.spawn("scrubber", "scrubber")
    deployment.spawn("scrubber-2", "scrubber")

    def statuses() -> set[str]:
        with deployment.db.transaction(write=False) as uow:
            return set(uow.conn.execute(select(images.c.status).where(images.c.id.in_(ids))).scalars())

    eventually(lambda: statuses() == {"deleted"}, 60, "every image purged")
    for image_id in ids:
        deletes = [job for job in deployment.jobs_of(image_id) if job.kind is JobKind.DELETE]
        assert [(job.status, job.attempts) for job in deletes] == [(JobStatus.SUCCEEDED, 1)]
    assert deployment.store_files() == []
