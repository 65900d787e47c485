"""The job broker restarted while 200 uploads are queued and running: none lost, none applied twice.

A Redis of the test's own (no persistence: its queued messages die with it), so the machine's shared
server is not touched. What was queued in it is gone after the restart; the job table still holds every
job, and the scrubber's reaper sends the lost ones again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter

import redis

from shared.domain.jobs import JobKind, JobStatus
from tests.e2e.conftest import api
from tests.e2e.deployment import eventually, free_port
from tests.servers import unavailable

JOBS = 200


class PrivateRedis:
    def __init__(self, port: int) -> None:
        self.port, self.process = port, None

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL)  # fmt: skip
        eventually(lambda: self._answers(), 10, "the private Redis to answer")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()

    def _answers(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.RedisError:
            return False


def test_broker_restart_with_200_jobs(deploy) -> None:
    if shutil.which("redis-server") is None:
        unavailable("no redis-server binary to run a private broker")
    broker = PrivateRedis(free_port())
    broker.start()
    try:
        deployment = deploy("postgres+redis", transport_url=f"redis://127.0.0.1:{broker.port}/0",
                            api={"upload_completion_wait": 0}, jobs={"redispatch_after": 3})  # fmt: skip
        client = api(deployment)
        ids, codes = [], Counter()
        for n in range(JOBS):
            image_id = client.create(name=f"job-{n}")["id"]
            codes[client.upload(image_id, os.urandom(8192 + n)).status_code] += 1
            ids.append(image_id)
            if n == 60:
                broker.stop()  # queued messages and the workers' connections go with it
            if n == 100:
                broker.start()
        print(f"upload answers around a broker restart: {dict(codes)}")
        assert set(codes) == {204}  # the job is recorded before it is sent; a failed send is the reaper's
        eventually(lambda: all(client.show(i).json()["status"] == "active" for i in ids), 120, "every upload")
    finally:
        broker.stop()
    for image_id in ids:
        uploads = [job for job in deployment.jobs_of(image_id) if job.kind is JobKind.UPLOAD]
        assert [job.status for job in uploads] == [JobStatus.SUCCEEDED]
    assert len(deployment.store_files()) == JOBS  # one object per image: nothing applied twice
    assert deployment.staging_files() == []
