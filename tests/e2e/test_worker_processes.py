"""Worker processes scaled out on one host: each queue's workers run side by side on a shared broker."""

from __future__ import annotations

import time

import kombu
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
    workers = [deployment.processes[name] for name in ("worker", "worker-2")]
    deployment.stop()
    assert [worker.returncode for worker in workers] == [0, 0]  # a stop (SIGTERM) is not a failure


def test_a_worker_that_cannot_recover_exits_with_a_failure_code(deploy, servers) -> None:
    """systemd's ``Restart=on-failure`` (deploy/systemd) restarts only a worker that says it failed."""
    deployment = deploy("postgres+rabbitmq", start=())
    uploads = f"{deployment.settings.jobs.queue_prefix}uploads"
    # the queue left behind by another setup with other arguments: RabbitMQ refuses the worker's declaration
    with kombu.Connection(servers.need("rabbitmq")) as connection:
        kombu.Queue(uploads, durable=False, channel=connection.default_channel).declare()
        try:
            deployment.spawn("worker", "worker")
            code = deployment.wait_exit("worker", timeout=60)
        finally:
            kombu.Queue(uploads, channel=connection.channel()).delete()
    assert "inequivalent arg 'durable'" in deployment.log("worker")
    assert code != 0, deployment.log("worker")[-2000:]
