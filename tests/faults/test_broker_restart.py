"""The job broker killed and started again while 200 uploads are queued and running: none lost, none
applied twice.

A broker of the test's own, so the machine's shared servers are not touched: a Redis without persistence
(what was queued in it is gone after the restart) and a RabbitMQ node (durable queues; what it had not
written to disk is gone). The job table still holds every job, and the scrubber's reaper sends the lost
ones again; a message delivered twice is one effect.
"""

from __future__ import annotations

from collections import Counter

import pytest

from shared.domain.jobs import JobKind, JobStatus
from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.faults.consistency import assert_consistent
from tests.helpers import image_bytes

JOBS = 200


@pytest.mark.parametrize("bus", ["redis", "rabbitmq"])
def test_broker_restart_with_200_jobs(deploy, private_broker, bus: str) -> None:
    broker = private_broker
    deployment = deploy(f"postgres+{bus}", transport_url=broker.url,
                        api={"upload_completion_wait": 0}, jobs={"redispatch_after": 3})  # fmt: skip
    client = api(deployment)
    ids, codes = [], Counter()
    for n in range(JOBS):
        image_id = client.create(name=f"job-{n}")["id"]
        codes[client.upload(image_id, image_bytes(8192 + n)).status_code] += 1
        ids.append(image_id)
        if n == 60:
            broker.kill()  # the workers' connections go with it, and on Redis every queued message
        if n == 100:
            broker.start()
    print(f"upload answers around a broker restart: {dict(codes)}")
    assert set(codes) == {204}  # the job is recorded before it is sent; a failed send is the reaper's
    eventually(lambda: all(client.show(i).json()["status"] == "active" for i in ids), 120, "every upload")
    for image_id in ids:
        uploads = [job for job in deployment.jobs_of(image_id) if job.kind is JobKind.UPLOAD]
        assert [job.status for job in uploads] == [JobStatus.SUCCEEDED]
    assert len(deployment.store_files()) == JOBS  # one object per image: nothing applied twice
    assert_consistent(deployment)
