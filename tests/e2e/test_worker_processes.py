"""Worker processes scaled out on one host: each queue's workers run side by side on a shared broker."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import api
from tests.e2e.deployment import eventually
from tests.helpers import image_bytes


@pytest.mark.parametrize("backend", ["postgres+redis", "postgres+rabbitmq"])
def test_two_workers_of_the_same_queues_on_one_host_both_run(deploy, backend) -> None:
    deployment = deploy(backend)
    deployment.spawn("worker-2", "worker")
    eventually(lambda: "Connected to" in deployment.log("worker-2"), 30, "the second worker to connect")
    client = api(deployment)
    for _ in range(4):
        image_id = client.create(disk_format="raw", container_format="bare")["id"]
        assert client.upload(image_id, image_bytes(10_000)).status_code == 204
        assert client.show(image_id).json()["status"] == "active"
    time.sleep(2)  # a worker refused by the broker exits within a second of connecting
    for name in ("worker", "worker-2"):
        assert deployment.processes[name].poll() is None, deployment.log(name)[-2000:]
